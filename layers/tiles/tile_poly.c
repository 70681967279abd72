/*
 * tile_poly.c: what one polygon becomes in a tile (see tile.c for the
 * rules). Owns taking its rings at the zoom's tolerance, clipping those that
 * cross the buffered tile (tile_clip.c), snapping, splitting rings that
 * snapping made touch themselves into simple loops, orientation, and the
 * fall-back to a point. Entry points: situ__tile_polygon_feature and
 * situ__tile_write_polygon (for a small polygon whose cell did not cluster).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tile_enc.h"

/* Ring r's points kept at e's tolerance: the source's own list when it
 * keeps one for it (tile_prep.c's build_lod), else filtered into scratch;
 * *out_k of them. NULL when out of memory (s->oom set). */
static const uint32_t *ring_kept(enc *e, uint32_t r, size_t *out_k)
{
    const situ_ring *ring = &e->c->rings[r];
    if (e->lod) {
        *out_k = e->lod->off[r + 1] - e->lod->off[r];
        return e->lod->idx + e->lod->off[r];
    }
    if (situ__tile_grow((void **)&e->s->kidx, &e->s->kcap, ring->n, sizeof *e->s->kidx)) {
        e->s->oom = 1;
        return NULL;
    }
    *out_k = situ__ring_keep(e->src->imp + ring->off, ring->n, e->tol2, e->s->kidx);
    return e->s->kidx;
}

/* Adds ring r, filtered and in tile units, to s->in (reversed: exteriors
 * with positive area). Returns 1 when added, and sets *crosses when the ring
 * is not wholly inside the buffered tile. */
static int take_ring(enc *e, uint32_t r, uint32_t parent, int *crosses)
{
    const situ_ring *ring = &e->c->rings[r];
    const double *rb = e->src->rbox + 4 * (size_t)r;
    const tile_tf *tf = &e->tf;
    tile_rings *in = &e->s->in;
    double x0 = rb[0] * tf->scale - tf->ox, x1 = rb[2] * tf->scale - tf->ox;
    double y0 = rb[1] * tf->scale - tf->oy, y1 = rb[3] * tf->scale - tf->oy;
    if (x1 < tf->lo || x0 > tf->hi || y1 < tf->lo || y0 > tf->hi)
        return 0;
    size_t k;
    const uint32_t *idx = ring_kept(e, r, &k);
    if (!idx || situ__rings_room(in, k, 1)) {
        e->s->oom = 1;
        return 0;
    }
    situ__ring_take(e->c->xy + 2 * (size_t)ring->off, idx, k, tf, in->xy + 2 * in->n);
    if (k < 3)
        return 0;
    in->n += k;
    situ__rings_end(in, parent);
    *crosses |= x0 < tf->lo || x1 > tf->hi || y0 < tf->lo || y1 > tf->hi;
    return 1;
}

/* Room for n more points in the loop set. */
static int loops_room(scratch *s, size_t n)
{
    if (s->nlxy + n > s->lcap) {
        size_t cap = s->lcap ? s->lcap : 1024;
        while (cap < s->nlxy + n)
            cap *= 2;
        int32_t *p = realloc(s->lxy, 2 * cap * sizeof *p);
        if (!p)
            return -1;
        s->lxy = p, s->lcap = cap;
    }
    if (s->nloops + n + 2 > s->loopcap) {
        size_t cap = s->loopcap ? s->loopcap : 64;
        while (cap < s->nloops + n + 2)
            cap *= 2;
        uint32_t *off = realloc(s->loff, (cap + 1) * sizeof *off);
        int64_t *area = off ? realloc(s->larea, cap * sizeof *area) : NULL;
        if (off)
            s->loff = off;
        if (!area)
            return -1;
        s->larea = area, s->loopcap = cap;
    }
    return 0;
}

/* Cleans pts[0..n) (moved to the loop set's end) and keeps it as a loop when
 * its area is at least one square unit. */
static void add_loop(scratch *s, const int32_t *pts, size_t n)
{
    int32_t *dst = s->lxy + 2 * s->nlxy;
    memmove(dst, pts, 2 * n * sizeof *pts);
    n = situ__ring_clean(dst, n);
    int64_t a2 = n >= 3 ? situ__ring_area2(dst, n) : 0;
    if (a2 < 2 && a2 > -2)
        return;
    s->larea[s->nloops] = a2;
    s->nlxy += n;
    s->loff[++s->nloops] = (uint32_t)s->nlxy;
}

static uint32_t hash_pt(const int32_t *p)
{
    uint64_t k = ((uint64_t)(uint32_t)p[0] << 32 | (uint32_t)p[1]) * 0x9E3779B97F4A7C15ULL;
    return (uint32_t)(k >> 32);
}

/* Sizes the point hash for k points and starts a new stamp; 0 or -1. */
static int hash_begin(scratch *s, size_t k, uint32_t *out_mask)
{
    size_t hsize = 16;
    while (hsize < 2 * k)
        hsize <<= 1;
    if (situ__tile_grow((void **)&s->hstamp, &s->hcap, hsize, sizeof *s->hstamp))
        return -1;
    if (s->hidxcap < s->hcap) {
        uint32_t *idx = realloc(s->hidx, s->hcap * sizeof *idx);
        if (!idx)
            return -1;
        s->hidx = idx, s->hidxcap = s->hcap;
    }
    if (++s->hst == 0)
        memset(s->hstamp, 0, s->hcap * sizeof *s->hstamp), s->hst = 1;
    *out_mask = (uint32_t)hsize - 1;
    return 0;
}

/* 1 when some point of ring pts[0..k) occurs twice (snapping made the ring
 * touch itself); -1 when out of memory. */
static int has_repeat(scratch *s, const int32_t *pts, size_t k)
{
    uint32_t mask;
    if (k < 4)
        return 0;
    if (hash_begin(s, k, &mask))
        return -1;
    for (size_t i = 0; i < k; i++) {
        const int32_t *p = pts + 2 * i;
        uint32_t h = hash_pt(p) & mask;
        for (; s->hstamp[h] == s->hst; h = (h + 1) & mask)
            if (pts[2 * s->hidx[h]] == p[0] && pts[2 * s->hidx[h] + 1] == p[1])
                return 1;
        s->hstamp[h] = s->hst, s->hidx[h] = (uint32_t)i;
    }
    return 0;
}

/* Splits the ring in s->ia[0..k) at every repeated point into simple loops,
 * appended to the loop set: a walk keeps a path; reaching a point already
 * on it closes a loop. */
static int split_loops(scratch *s, size_t k)
{
    uint32_t hmask;
    if (loops_room(s, 2 * k) || hash_begin(s, k, &hmask))
        return -1;
    int32_t *path = s->lxy + 2 * (s->nlxy + k); /* past the room add_loop may use */
    size_t top = 0;
    for (size_t i = 0; i < k; i++) {
        const int32_t *p = s->ia + 2 * i;
        uint32_t h = hash_pt(p) & hmask;
        for (; s->hstamp[h] == s->hst; h = (h + 1) & hmask) {
            uint32_t j = s->hidx[h];
            if (path[2 * j] == p[0] && path[2 * j + 1] == p[1])
                break;
        }
        uint32_t j = s->hstamp[h] == s->hst ? s->hidx[h] : UINT32_MAX;
        if (j < top && path[2 * j] == p[0] && path[2 * j + 1] == p[1]) {
            add_loop(s, path + 2 * j, top - j);
            top = j + 1;
            continue;
        }
        s->hstamp[h] = s->hst, s->hidx[h] = (uint32_t)top;
        path[2 * top] = p[0], path[2 * top + 1] = p[1];
        top++;
    }
    add_loop(s, path, top);
    return 0;
}

/* The usual case: a simple ring is its own only loop (its buffer is swapped
 * in, not copied). */
static void single_loop(scratch *s, size_t k)
{
    int64_t a2 = situ__ring_area2(s->ia, k);
    if (a2 < 2 && a2 > -2)
        return;
    int32_t *p = s->lxy;
    size_t cap = s->lcap;
    s->lxy = s->ia, s->lcap = s->iacap;
    s->ia = p, s->iacap = cap;
    s->larea[0] = a2;
    s->nlxy = k;
    s->loff[1] = (uint32_t)k;
    s->nloops = 1;
}

/* Splits the cleaned ring s->ia[0..k) into simple loops in s's loop set,
 * oriented so that the loops of an exterior have positive total area.
 * Returns the number of loops. */
static size_t finish_ring(enc *e, size_t k, int exterior)
{
    scratch *s = e->s;
    s->nlxy = s->nloops = 0;
    if (k < 3)
        return 0;
    if (!s->loff && loops_room(s, 0)) {
        s->oom = 1;
        return 0;
    }
    s->loff[0] = 0;
    int rep = has_repeat(s, s->ia, k);
    if (rep < 0 || (rep ? split_loops(s, k) : (single_loop(s, k), 0))) {
        s->oom = 1;
        return 0;
    }
    int64_t total = 0;
    for (size_t l = 0; l < s->nloops; l++)
        total += s->larea[l];
    if ((total > 0) != exterior)
        for (size_t l = 0; l < s->nloops; l++) {
            situ__ring_reverse(s->lxy + 2 * (size_t)s->loff[l], s->loff[l + 1] - s->loff[l]);
            s->larea[l] = -s->larea[l];
        }
    return s->nloops;
}

int situ__tile_ia_room(scratch *s, size_t n)
{
    if (n <= s->iacap)
        return 0;
    int32_t *ia = realloc(s->ia, 2 * n * sizeof *ia);
    if (!ia)
        return -1;
    s->ia = ia, s->iacap = n;
    return 0;
}

/* Ring i of a ring set: snapped, cleaned, split into loops (finish_ring).
 * A set is either rings already taken and clipped (rs), or the rings of a
 * polygon wholly inside the buffered tile (poly), taken here in one pass. */
typedef struct ringset {
    const tile_rings *rs;
    const situ_poly *poly;
    const uint32_t *hhead, *hnext; /* rs: each exterior's holes, a list (UINT32_MAX ends it) */
} ringset;

/* The first hole of exterior x, or UINT32_MAX. */
static uint32_t set_first_hole(const ringset *set, size_t x)
{
    return set->rs ? set->hhead[x] : set->poly->nrings > 1 ? 1 : UINT32_MAX;
}

static uint32_t set_next_hole(const ringset *set, uint32_t h)
{
    return set->rs ? set->hnext[h] : h + 1 < set->poly->nrings ? h + 1 : UINT32_MAX;
}

static size_t snap_ring(enc *e, const ringset *set, size_t i, int exterior)
{
    scratch *s = e->s;
    size_t k;
    if (set->rs) {
        size_t n = set->rs->off[i + 1] - set->rs->off[i];
        if (situ__tile_ia_room(s, n)) {
            s->oom = 1;
            return 0;
        }
        k = situ__ring_snap(set->rs->xy + 2 * (size_t)set->rs->off[i], n, e->tf.lo, e->tf.hi,
                            s->ia);
        k = situ__ring_clean(s->ia, k);
    } else {
        uint32_t r = set->poly->ring0 + (uint32_t)i;
        const uint32_t *idx = ring_kept(e, r, &k);
        if (!idx || situ__tile_ia_room(s, k)) {
            s->oom = 1;
            return 0;
        }
        k = situ__ring_take_snap(e->c->xy + 2 * (size_t)e->c->rings[r].off, idx, k, &e->tf,
                                 s->ia);
        if (!e->has_witness && k) {
            e->witness[0] = s->ia[0], e->witness[1] = s->ia[1];
            e->has_witness = 1;
        }
    }
    return finish_ring(e, k, exterior);
}

/* Writes loop l of the loop set as a ring. */
static void write_loop(enc *e, size_t l)
{
    scratch *s = e->s;
    size_t n = s->loff[l + 1] - s->loff[l];
    situ_mvt_geom_ring(&s->geom, s->lxy + 2 * (size_t)s->loff[l], n);
    e->st.vertices += n;
}

/* Writes exterior x of a ring set with its holes; returns the exteriors
 * written. Loops split off the exterior go first as parts of their own,
 * then the largest loop with the inverted loops (holes touching it at a
 * point), then the holes' own (hole-oriented) loops. */
static int write_part(enc *e, const ringset *set, size_t x)
{
    scratch *s = e->s;
    size_t nl = snap_ring(e, set, x, 1), main = SIZE_MAX;
    int parts = 0;
    for (size_t l = 0; l < nl; l++)
        if (s->larea[l] > 0 && (main == SIZE_MAX || s->larea[l] > s->larea[main]))
            main = l;
    if (main == SIZE_MAX)
        return 0;
    for (size_t l = 0; l < nl; l++)
        if (l != main && s->larea[l] > 0)
            write_loop(e, l), parts++;
    write_loop(e, main), parts++;
    for (size_t l = 0; l < nl; l++)
        if (s->larea[l] < 0)
            write_loop(e, l);
    for (uint32_t h = set_first_hole(set, x); h != UINT32_MAX; h = set_next_hole(set, h)) {
        nl = snap_ring(e, set, h, 0);
        for (size_t l = 0; l < nl; l++)
            if (s->larea[l] < 0)
                write_loop(e, l);
    }
    return parts;
}

/* Writes the exteriors of rs, each followed by its holes, to s->geom.
 * Returns the number of exteriors written. */
static int write_rings(enc *e, const tile_rings *rs)
{
    uint32_t *head = malloc((2 * rs->nrings + 1) * sizeof *head), *next = head + rs->nrings;
    if (!head) {
        e->s->oom = 1;
        return 0;
    }
    for (size_t x = 0; x < rs->nrings; x++)
        head[x] = UINT32_MAX;
    for (size_t h = rs->nrings; h-- > 0;) /* lists in ring order, built in one pass */
        if (rs->parent[h] != h)
            next[h] = head[rs->parent[h]], head[rs->parent[h]] = (uint32_t)h;
    ringset set = {rs, NULL, head, next};
    int parts = 0;
    for (size_t x = 0; x < rs->nrings; x++)
        if (rs->parent[x] == x)
            parts += write_part(e, &set, x);
    free(head);
    return parts;
}

/* Appends polygon part p (its exteriors, each followed by its holes) to
 * s->geom; returns the number of exteriors written. */
static int polygon_part(enc *e, const situ_poly *p)
{
    scratch *s = e->s;
    const double *rb = e->src->rbox + 4 * (size_t)p->ring0;
    const tile_tf *tf = &e->tf;
    double x0 = rb[0] * tf->scale - tf->ox, x1 = rb[2] * tf->scale - tf->ox;
    double y0 = rb[1] * tf->scale - tf->oy, y1 = rb[3] * tf->scale - tf->oy;
    if (x1 < tf->lo || x0 > tf->hi || y1 < tf->lo || y0 > tf->hi)
        return 0;
    if (x0 >= tf->lo && x1 <= tf->hi && y0 >= tf->lo && y1 <= tf->hi) {
        ringset set = {NULL, p, NULL, NULL}; /* wholly inside: no clipping */
        return write_part(e, &set, 0);
    }
    int crosses = 0;
    situ__rings_reset(&s->in);
    if (!take_ring(e, p->ring0, 0, &crosses))
        return 0;
    for (uint32_t r = p->ring0 + 1; r < p->ring0 + p->nrings; r++)
        take_ring(e, r, 0, &crosses);
    const tile_rings *rs = &s->in;
    if (crosses) {
        situ__rings_reset(&s->out);
        if (situ__poly_clip(&s->in, e->tf.lo, e->tf.hi, &s->out, &s->runs)) {
            s->oom = 1;
            return 0;
        }
        rs = &s->out;
    }
    if (!e->has_witness && rs->nrings) {
        e->witness[0] = tile_round(rs->xy[0]), e->witness[1] = tile_round(rs->xy[1]);
        e->has_witness = 1;
    }
    return write_rings(e, rs);
}

/* Writes polygon fi as a point: at its interior point when that lies in the
 * buffered tile, else at the witness (a point of its clipped rings, when the
 * rings reached the tile before collapsing). */
static void emit_collapsed(enc *e, uint32_t fi)
{
    double x = e->src->fpt[2 * fi] * e->tf.scale - e->tf.ox;
    double y = e->src->fpt[2 * fi + 1] * e->tf.scale - e->tf.oy;
    int32_t xy[2] = {tile_round(x), tile_round(y)};
    if (x < e->tf.lo || x > e->tf.hi || y < e->tf.lo || y > e->tf.hi) {
        if (!e->has_witness)
            return;
        xy[0] = e->witness[0], xy[1] = e->witness[1];
    }
    situ_mvt_geom_reset(&e->s->geom);
    situ_mvt_geom_points(&e->s->geom, xy, 1);
    situ__tile_emit_feature(e, fi, SITU_MVT_POINT);
    e->st.collapsed++;
}

/* Writes feature fi as a polygon; a polygon all of whose rings collapse
 * becomes a point (queued for clustering, or written at once when `now`). */
void situ__tile_write_polygon(enc *e, uint32_t fi, int now)
{
    const situ_feature *f = &e->c->feats[fi];
    situ_mvt_geom_reset(&e->s->geom);
    e->has_witness = 0;
    int parts = 0;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++)
        parts += polygon_part(e, &e->c->polys[p]);
    if (parts) {
        situ__tile_emit_feature(e, fi, SITU_MVT_POLYGON);
        e->st.polygons++;
    } else if (now || !situ__tile_add_candidate(e, fi, CAND_COLLAPSED)) {
        emit_collapsed(e, fi);
    } else {
        e->st.collapsed++;
    }
}

/* A polygon under opts.tiny units is a point at once; at clustering zooms
 * one under opts.cluster_polygon units waits for its cell's decision. */
void situ__tile_polygon_feature(enc *e, uint32_t fi)
{
    const double *fb = e->src->fbox + 4 * (size_t)fi;
    double w = (fb[2] - fb[0]) * e->tf.scale, h = (fb[3] - fb[1]) * e->tf.scale;
    if (w < e->o->tiny && h < e->o->tiny) {
        if (situ__tile_add_candidate(e, fi, CAND_COLLAPSED))
            e->st.collapsed++;
        return;
    }
    if (e->clustering && w < e->o->cluster_polygon && h < e->o->cluster_polygon &&
        situ__tile_add_candidate(e, fi, CAND_POLYGON))
        return;
    situ__tile_write_polygon(e, fi, 0);
}

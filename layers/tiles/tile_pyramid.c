/*
 * tile_pyramid.c: the per-zoom aggregates of a point collection (see
 * tile.c's rules: below aggregate_below every feature folds into its cell,
 * but the urgent ones). Owns building them once per version of a collection
 * (situ__tile_pyramid_new, from the features, every zoom directly so that
 * each feature's rounding is the one a scan gives), keeping them in the
 * prepared collection (situ__tile_pyramid_get) and writing an aggregate
 * tile from them (situ__tile_pyramid_encode): a cold tile then costs the
 * unit squares of its box, not every feature in it.
 *
 * The world grid of zoom z is cut in squares of `unit` tile units (the gcd
 * of the cell and the buffer, 64 by default): a tile's cells are whole
 * squares inside it and its buffer (half cells at its edges) whole squares
 * too, so a tile sums squares and gets what a scan of its features gets.
 */
#include <stdlib.h>
#include <string.h>

#include "tile_enc.h"

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b, b = t;
    }
    return a;
}

int situ__tile_pyramid_fits(const tile_pyramid *p, const situ_tile_opts *o, int z)
{
    return p && !o->scan_aggregates && z >= 0 && z < p->below && z < o->aggregate_below &&
           p->extent == o->extent && p->buffer == o->buffer && p->cell == o->aggregate_cell &&
           p->urgent_from == o->urgent_from && p->today == o->today;
}

static int64_t square_key(int64_t row, int64_t col)
{
    return (int64_t)((uint64_t)row << 32 | (uint64_t)col);
}

/* ---- building -------------------------------------------------------------- */

typedef struct zoom_build {
    const situ_tilesrc *src;
    const tile_pyramid *p;
    tile_pzoom *pz;
    uint32_t *slots; /* open addressing: cell index + 1 */
    size_t nslots;
} zoom_build;

/* The index of the cell of key, added when new. */
static size_t cell_of(zoom_build *b, int64_t key)
{
    tile_pzoom *pz = b->pz;
    size_t h = (size_t)situ__tile_hash(&key, sizeof key) & (b->nslots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->nslots - 1))
        if (pz->cells[b->slots[h] - 1].key == key)
            return b->slots[h] - 1;
    size_t i = pz->n++;
    pz->cells[i] = (tile_pcell){.key = key};
    b->slots[h] = (uint32_t)i + 1;
    return i;
}

static int by_key(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int urgent_order(const void *a, const void *b)
{
    const tile_purgent *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->fi < y->fi ? -1 : x->fi > y->fi;
}

/* Sorts the cells by key, their aggregate rows with them. 0 or -1. */
static int sort_cells(tile_pzoom *pz, size_t na)
{
    int64_t(*order)[2] = malloc((pz->n + 1) * sizeof *order);
    tile_pcell *cells = malloc((pz->n + 1) * sizeof *cells);
    double *acc = malloc((pz->n * na + 1) * sizeof *acc);
    uint8_t *any = malloc(pz->n * na + 1);
    if (!order || !cells || !acc || !any) {
        free(order), free(cells), free(acc), free(any);
        return -1;
    }
    for (size_t i = 0; i < pz->n; i++)
        order[i][0] = pz->cells[i].key, order[i][1] = (int64_t)i;
    qsort(order, pz->n, sizeof *order, by_key);
    for (size_t i = 0; i < pz->n; i++) {
        size_t j = (size_t)order[i][1];
        cells[i] = pz->cells[j];
        memcpy(acc + i * na, pz->acc + j * na, na * sizeof *acc);
        memcpy(any + i * na, pz->any + j * na, na);
    }
    free(order), free(pz->cells), free(pz->acc), free(pz->any);
    pz->cells = cells, pz->acc = acc, pz->any = any;
    return 0;
}

/* 1 when feature fi stays itself among zoom z's aggregates (tile.c's urgent). */
static int is_urgent(const situ_tilesrc *src, const tile_pyramid *p, int z, size_t fi)
{
    if (src->due_slot < 0 || z < p->urgent_from)
        return 0;
    double due = src->aggv[fi * (size_t)src->nagg + (size_t)src->due_slot];
    return due == due && due < p->today;
}

/* Folds every feature of src into its square of zoom z. 0 or -1. */
static int build_zoom(const situ_tilesrc *src, const tile_pyramid *p, int z, tile_pzoom *pz)
{
    const situ_coll *c = src->coll;
    size_t na = (size_t)src->nagg, nslots = 64;
    while (nslots < 2 * c->n + 2)
        nslots *= 2;
    zoom_build b = {src, p, pz, calloc(nslots, sizeof *b.slots), nslots};
    pz->cells = malloc((c->n + 1) * sizeof *pz->cells);
    pz->acc = calloc(c->n * na + 1, sizeof *pz->acc);
    pz->any = calloc(c->n * na + 1, 1);
    pz->urgent = malloc((c->n + 1) * sizeof *pz->urgent);
    if (!b.slots || !pz->cells || !pz->acc || !pz->any || !pz->urgent) {
        free(b.slots);
        return -1;
    }
    double scale = (double)(1u << z) * p->extent;
    for (size_t fi = 0; fi < c->n; fi++) {
        if (src->fminz[fi] > z)
            continue;
        int64_t x = situ__tile_round_up(src->fpt[2 * fi] * scale);
        int64_t y = situ__tile_round_up(src->fpt[2 * fi + 1] * scale);
        int64_t key = square_key(situ__floor_div(y, p->unit), situ__floor_div(x, p->unit));
        if (is_urgent(src, p, z, fi)) {
            pz->urgent[pz->nurgent++] = (tile_purgent){key, (uint32_t)fi};
            continue;
        }
        size_t i = cell_of(&b, key);
        tile_pcell *cell = &pz->cells[i];
        cell->n++, cell->sx += x, cell->sy += y;
        situ__tile_fold_row(src, p->today, src->aggv + fi * na, pz->acc + i * na, pz->any + i * na);
    }
    free(b.slots);
    qsort(pz->urgent, pz->nurgent, sizeof *pz->urgent, urgent_order);
    tile_purgent *u = realloc(pz->urgent, (pz->nurgent + 1) * sizeof *u); /* few are */
    if (u)
        pz->urgent = u;
    return sort_cells(pz, na);
}

tile_pyramid *situ__tile_pyramid_new(const situ_tilesrc *src, const situ_tile_opts *o)
{
    uint32_t unit = o->buffer ? gcd(o->aggregate_cell, o->buffer) : o->aggregate_cell;
    if (!o->aggregate_cell || !o->extent || o->extent % o->aggregate_cell ||
        o->aggregate_cell > o->extent + o->buffer)
        return NULL;
    tile_pyramid *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    *p = (tile_pyramid){.urgent_from = o->urgent_from,
                        .today = o->today,
                        .extent = o->extent,
                        .buffer = o->buffer,
                        .cell = o->aggregate_cell,
                        .unit = unit};
    int below = o->aggregate_below < SITU_TILE_AGGREGATE_BELOW ? o->aggregate_below
                                                               : SITU_TILE_AGGREGATE_BELOW;
    size_t na = (size_t)src->nagg;
    for (int z = 0; z < below; z++) {
        p->below = z + 1;
        if (build_zoom(src, p, z, &p->z[z])) {
            situ__tile_pyramid_free(p);
            return NULL;
        }
        tile_pzoom *pz = &p->z[z];
        p->bytes += pz->n * (sizeof *pz->cells + na * (sizeof *pz->acc + 1)) +
                    pz->nurgent * sizeof *pz->urgent;
    }
    return p;
}

void situ__tile_pyramid_free(tile_pyramid *p)
{
    while (p) {
        tile_pyramid *next = p->retired;
        for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++)
            free(p->z[z].cells), free(p->z[z].acc), free(p->z[z].any), free(p->z[z].urgent);
        free(p);
        p = next;
    }
}

/* The most pyramids one prepared collection builds for options other than
 * the ones before (a new day, a test's): beyond, tiles scan. */
#define PYRAMIDS_MAX 8

const tile_pyramid *situ__tile_pyramid_get(const situ_tilesrc *src, const situ_tile_opts *o, int z)
{
    situ_tilesrc *s = (situ_tilesrc *)src; /* its pyramid is a cache */
    if (o->scan_aggregates || z >= SITU_TILE_AGGREGATE_BELOW)
        return NULL;
    pthread_mutex_lock(&s->pyr_mu);
    tile_pyramid *p = s->pyr;
    if (!situ__tile_pyramid_fits(p, o, z)) {
        int n = 0;
        for (const tile_pyramid *q = p; q; q = q->retired)
            n++;
        tile_pyramid *q = n < PYRAMIDS_MAX ? situ__tile_pyramid_new(src, o) : NULL;
        if (q) {
            q->retired = p;
            s->pyr = p = q;
        }
    }
    pthread_mutex_unlock(&s->pyr_mu);
    return situ__tile_pyramid_fits(p, o, z) ? p : NULL;
}

/* ---- one tile -------------------------------------------------------------- */

/* The first index of sorted keys (stride bytes apart) not below key. */
static size_t lower_bound(const void *base, size_t n, size_t stride, int64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*(const int64_t *)((const char *)base + mid * stride) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int by_feature(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The tile's unit squares: rows r0..r1, columns c0..c1 (inclusive). */
typedef struct square_range {
    int64_t r0, r1, c0, c1;
} square_range;

/* Writes the urgent features of the squares in q, in feature order. */
static void write_urgent(enc *e, const tile_pzoom *pz, square_range q)
{
    size_t n = 0, cap = 0;
    uint32_t *fis = NULL;
    for (int64_t r = q.r0; r <= q.r1 && !e->s->oom; r++) {
        size_t i = lower_bound(pz->urgent, pz->nurgent, sizeof *pz->urgent, square_key(r, q.c0));
        for (; i < pz->nurgent && pz->urgent[i].key <= square_key(r, q.c1); i++) {
            if (situ__tile_grow((void **)&fis, &cap, n + 1, sizeof *fis)) {
                e->s->oom = 1;
                break;
            }
            fis[n++] = pz->urgent[i].fi;
        }
    }
    if (n)
        qsort(fis, n, sizeof *fis, by_feature);
    for (size_t i = 0; i < n && !e->s->oom; i++)
        situ__tile_emit_urgent(e, fis[i]);
    free(fis);
}

/* The tile's cells as tile_cluster.c numbers them, summed from squares. */
typedef struct tile_cells {
    int64_t unit, c0, ncol;
    uint32_t *n;
    int64_t *sx, *sy;
    double *acc;
    uint8_t *any;
} tile_cells;

static void add_square(enc *e, const tile_pzoom *pz, size_t i, tile_cells *tc)
{
    const tile_pcell *sq = &pz->cells[i];
    size_t na = (size_t)e->src->nagg;
    int64_t cs = e->o->aggregate_cell, row = sq->key >> 32, col = sq->key & 0xFFFFFFFF;
    int64_t ly = situ__floor_div(row * tc->unit - (int64_t)e->tf.oy, cs) - tc->c0;
    int64_t lx = situ__floor_div(col * tc->unit - (int64_t)e->tf.ox, cs) - tc->c0;
    size_t k = (size_t)(ly * tc->ncol + lx);
    tc->n[k] += sq->n, tc->sx[k] += sq->sx, tc->sy[k] += sq->sy;
    situ__tile_fold_merge(e->src, tc->acc + k * na, tc->any + k * na, pz->acc + i * na,
                          pz->any + i * na);
}

/* Sums the squares of q into their cells and writes each occupied cell, in
 * cell order, as a scan would cluster it. */
static void write_cells(enc *e, const tile_pyramid *p, const tile_pzoom *pz, square_range q)
{
    int64_t cs = e->o->aggregate_cell;
    tile_cells tc = {.unit = p->unit, .c0 = situ__floor_div((int64_t)e->tf.lo, cs)};
    tc.ncol = situ__floor_div((int64_t)e->tf.hi, cs) - tc.c0 + 1;
    size_t ncells = (size_t)(tc.ncol * tc.ncol), na = (size_t)e->src->nagg;
    tc.n = calloc(ncells, sizeof *tc.n);
    tc.sx = calloc(ncells, sizeof *tc.sx), tc.sy = calloc(ncells, sizeof *tc.sy);
    tc.acc = calloc(ncells * na + 1, sizeof *tc.acc), tc.any = calloc(ncells * na + 1, 1);
    if (!tc.n || !tc.sx || !tc.sy || !tc.acc || !tc.any) {
        e->s->oom = 1;
        goto done;
    }
    for (int64_t r = q.r0; r <= q.r1; r++) {
        size_t i = lower_bound(pz->cells, pz->n, sizeof *pz->cells, square_key(r, q.c0));
        for (; i < pz->n && pz->cells[i].key <= square_key(r, q.c1); i++)
            add_square(e, pz, i, &tc);
    }
    for (size_t k = 0; k < ncells && !e->s->oom; k++) {
        if (!tc.n[k])
            continue;
        double n = (double)tc.n[k];
        int32_t xy[2] = {tile_round((double)(tc.sx[k] - (int64_t)tc.n[k] * (int64_t)e->tf.ox) / n),
                         tile_round((double)(tc.sy[k] - (int64_t)tc.n[k] * (int64_t)e->tf.oy) / n)};
        situ__tile_emit_cluster(e, xy, tc.n[k], tc.acc + k * na, tc.any + k * na, NULL);
    }
done:
    free(tc.n), free(tc.sx), free(tc.sy), free(tc.acc), free(tc.any);
}

void situ__tile_pyramid_encode(enc *e, const tile_pyramid *p)
{
    const tile_pzoom *pz = &p->z[e->t.z];
    int64_t u = p->unit, ox = (int64_t)e->tf.ox, oy = (int64_t)e->tf.oy;
    int64_t lo = (int64_t)e->tf.lo, hi = (int64_t)e->tf.hi;
    square_range q = {situ__floor_div(oy + lo, u), situ__floor_div(oy + hi, u) - 1,
                      situ__floor_div(ox + lo, u), situ__floor_div(ox + hi, u) - 1};
    q.r0 = q.r0 < 0 ? 0 : q.r0, q.c0 = q.c0 < 0 ? 0 : q.c0; /* no feature is north or west of 0 */
    write_urgent(e, pz, q);
    write_cells(e, p, pz, q);
}

/*
 * tile_clip.c: clipping one polygon (an exterior ring and its holes, in tile
 * units) to the buffered tile, a square. Weiler-Atherton specialised to a
 * rectangle, as GEOS's RectangleIntersection does: each ring crossing the
 * square is cut into runs inside it (Liang-Barsky per segment); a run's exit
 * is joined to the next entry clockwise along the square's boundary, so a
 * concave polygon yields separate parts instead of Sutherland-Hodgman's
 * zero-width bridges, and a hole cut by the boundary becomes a notch of its
 * exterior. Valid in, valid out (before snapping).
 *
 * Convention: the polygon's inside lies to the right of every ring (y down):
 * exteriors have positive area, holes negative. Entry: situ__poly_clip.
 * Lines (situ__line_clip) keep only the runs: a line that leaves the square
 * and comes back becomes several parts, nothing joins them.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tile_private.h"

int situ__rings_room(tile_rings *r, size_t more_pts, size_t more_rings)
{
    if (r->n + more_pts > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        while (cap < r->n + more_pts)
            cap *= 2;
        double *p = realloc(r->xy, 2 * cap * sizeof *p);
        if (!p)
            return -1;
        r->xy = p, r->cap = cap;
    }
    if (!r->off || r->nrings + more_rings > r->ringcap) {
        size_t cap = r->ringcap ? r->ringcap : 64;
        while (cap < r->nrings + more_rings)
            cap *= 2;
        uint32_t *off = realloc(r->off, (cap + 1) * sizeof *off);
        if (off)
            r->off = off;
        uint32_t *parent = realloc(r->parent, cap * sizeof *parent);
        if (parent)
            r->parent = parent;
        if (!off || !parent)
            return -1;
        if (!r->ringcap)
            off[0] = 0;
        r->ringcap = cap;
    }
    return 0;
}

void situ__rings_reset(tile_rings *r)
{
    r->n = r->nrings = 0;
    if (r->off)
        r->off[0] = 0;
}

void situ__rings_dispose(tile_rings *r)
{
    free(r->xy), free(r->off), free(r->parent);
    memset(r, 0, sizeof *r);
}

void situ__rings_end(tile_rings *r, uint32_t parent)
{
    r->parent[r->nrings] = parent;
    r->off[++r->nrings] = (uint32_t)r->n;
}

/* Appends a point to the ring being built (room checked by the caller). */
static void put(tile_rings *r, double x, double y)
{
    r->xy[2 * r->n] = x, r->xy[2 * r->n + 1] = y;
    r->n++;
}

static int inside_pt(const double *p, double lo, double hi)
{
    return p[0] >= lo && p[0] <= hi && p[1] >= lo && p[1] <= hi;
}

/* 1 when (x, y) is inside ring pts[0..n) (even-odd). */
static int in_ring(const double *pts, size_t n, double x, double y)
{
    int in = 0;
    for (size_t i = 0, j = n - 1; i < n; j = i++) {
        const double *a = pts + 2 * i, *b = pts + 2 * j;
        if ((a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0])
            in = !in;
    }
    return in;
}

/* ---- runs ------------------------------------------------------------------- */

enum { E_LEFT, E_RIGHT, E_TOP, E_BOTTOM };

typedef struct clipper {
    double lo, hi;
    tile_rings *runs;   /* each ring of runs is one run: entry .. exit */
    double *tin, *tout; /* boundary positions of each run's entry and exit */
    uint8_t *used;
    size_t cap;
} clipper;

/* Liang-Barsky: the visible part [*t0, *t1] of p + t (q - p), with the
 * boundaries that limit it. 0 when nothing is visible. */
static int lb_clip(const clipper *c, const double *p, const double *q, double *t0, double *t1,
                   int *e0, int *e1)
{
    double dx = q[0] - p[0], dy = q[1] - p[1];
    double pp[4] = {-dx, dx, -dy, dy};
    double qq[4] = {p[0] - c->lo, c->hi - p[0], p[1] - c->lo, c->hi - p[1]};
    *t0 = 0, *t1 = 1, *e0 = *e1 = -1;
    for (int k = 0; k < 4; k++) {
        if (pp[k] == 0) {
            if (qq[k] < 0)
                return 0;
            continue;
        }
        double r = qq[k] / pp[k];
        if (pp[k] < 0 && r > *t0)
            *t0 = r, *e0 = k;
        else if (pp[k] > 0 && r < *t1)
            *t1 = r, *e1 = k;
    }
    return *t0 <= *t1;
}

/* The point p + t (q - p), put exactly on boundary e. */
static void at(const clipper *c, const double *p, const double *q, double t, int e, double *out)
{
    out[0] = p[0] + t * (q[0] - p[0]);
    out[1] = p[1] + t * (q[1] - p[1]);
    out[0] = fmin(fmax(out[0], c->lo), c->hi);
    out[1] = fmin(fmax(out[1], c->lo), c->hi);
    if (e == E_LEFT || e == E_RIGHT)
        out[0] = e == E_LEFT ? c->lo : c->hi;
    else if (e >= 0)
        out[1] = e == E_TOP ? c->lo : c->hi;
}

/* Position of a boundary point on the perimeter, clockwise (y down) from the
 * top-left corner: top [0, 1), right [1, 2), bottom [2, 3), left [3, 4). */
static double perimeter_t(const clipper *c, const double *p)
{
    double w = c->hi - c->lo;
    if (p[1] == c->lo && p[0] < c->hi)
        return (p[0] - c->lo) / w;
    if (p[0] == c->hi && p[1] < c->hi)
        return 1 + (p[1] - c->lo) / w;
    if (p[1] == c->hi && p[0] > c->lo)
        return 2 + (c->hi - p[0]) / w;
    return 3 + (c->hi - p[1]) / w;
}

static int runs_room(clipper *c)
{
    size_t need = c->runs->nrings + 1;
    if (need <= c->cap)
        return 0;
    size_t cap = c->cap ? 2 * c->cap : 64;
    double *a = realloc(c->tin, cap * sizeof *a), *b = a ? realloc(c->tout, cap * sizeof *b) : NULL;
    if (a)
        c->tin = a;
    if (b)
        c->tout = b;
    uint8_t *u = b ? realloc(c->used, cap) : NULL;
    if (!u)
        return -1;
    c->used = u;
    c->cap = cap;
    return 0;
}

/* Ends the current run; drops it when all its points coincide. */
static int end_run(clipper *c)
{
    tile_rings *r = c->runs;
    size_t first = r->off[r->nrings];
    int moved = 0;
    for (size_t i = first + 1; i < r->n && !moved; i++)
        moved = r->xy[2 * i] != r->xy[2 * first] || r->xy[2 * i + 1] != r->xy[2 * first + 1];
    if (!moved || runs_room(c)) {
        r->n = first;
        return moved ? -1 : 0;
    }
    c->tin[r->nrings] = perimeter_t(c, r->xy + 2 * first);
    c->tout[r->nrings] = perimeter_t(c, r->xy + 2 * (r->n - 1));
    c->used[r->nrings] = 0;
    situ__rings_end(r, (uint32_t)r->nrings);
    return 0;
}

/* Cuts ring pts[0..n), which has a point at index s outside the square, into
 * runs. Returns the number of runs made, or -1 when out of memory. */
static int cut_ring(clipper *c, const double *pts, size_t n, size_t s)
{
    tile_rings *r = c->runs;
    size_t before = r->nrings;
    int in_run = 0;
    if (situ__rings_room(r, 2 * n + 2, n))
        return -1;
    for (size_t k = 0, i = s; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
        const double *p = pts + 2 * i, *q = pts + 2 * (i + 1 < n ? i + 1 : 0);
        if (in_run && inside_pt(q, c->lo, c->hi)) { /* the usual case: still inside */
            put(r, q[0], q[1]);
            continue;
        }
        if (!in_run && ((p[0] < c->lo && q[0] < c->lo) || (p[0] > c->hi && q[0] > c->hi) ||
                        (p[1] < c->lo && q[1] < c->lo) || (p[1] > c->hi && q[1] > c->hi)))
            continue; /* both beyond the same edge */
        double t0, t1, pt[2];
        int e0, e1;
        if (!lb_clip(c, p, q, &t0, &t1, &e0, &e1))
            continue;
        if (!in_run) {
            at(c, p, q, t0, e0, pt);
            put(r, pt[0], pt[1]);
            in_run = 1;
        }
        if (t1 < 1) {
            at(c, p, q, t1, e1, pt);
            put(r, pt[0], pt[1]);
            in_run = 0;
            if (end_run(c))
                return -1;
        } else {
            put(r, q[0], q[1]);
        }
    }
    return (int)(r->nrings - before);
}

/* ---- stitching -------------------------------------------------------------- */

/* The runs in clockwise order of their entries (ties: by index), and which
 * are still unused: skip[r] leads to the first unused rank >= r (union-find
 * with path halving; rank n: none), so finding the next entry is O(log n)
 * and stitching n runs O(n log n), where a scan per run was quadratic in a
 * sawtooth crossing the tile edge. */
typedef struct entries {
    struct entry {
        double t;
        uint32_t run;
    } * by_t;
    uint32_t *rank, *skip;
    size_t n;
} entries;

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return x->t < y->t ? -1 : x->t > y->t ? 1 : (x->run > y->run) - (x->run < y->run);
}

static int entries_init(entries *e, const clipper *c)
{
    size_t n = c->runs->nrings;
    e->n = n;
    e->by_t = malloc((n + 1) * sizeof *e->by_t);
    e->rank = malloc((n + 1) * sizeof *e->rank);
    e->skip = malloc((n + 1) * sizeof *e->skip);
    if (!e->by_t || !e->rank || !e->skip)
        return -1;
    for (size_t i = 0; i < n; i++)
        e->by_t[i] = (struct entry){c->tin[i], (uint32_t)i};
    qsort(e->by_t, n, sizeof *e->by_t, cmp_entry);
    for (size_t r = 0; r <= n; r++) {
        e->skip[r] = (uint32_t)r;
        if (r < n)
            e->rank[e->by_t[r].run] = (uint32_t)r;
    }
    return 0;
}

static void entries_dispose(entries *e)
{
    free(e->by_t), free(e->rank), free(e->skip);
}

static uint32_t first_unused(entries *e, uint32_t r)
{
    while (e->skip[r] != r)
        r = e->skip[r] = e->skip[e->skip[r]];
    return r;
}

static void entries_use(entries *e, size_t run)
{
    e->skip[e->rank[run]] = e->rank[run] + 1;
}

/* The unused run (or run `first`) whose entry comes next clockwise after t. */
static size_t next_entry(const clipper *c, entries *e, double t, size_t first)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) { /* the first entry at or after t */
        size_t mid = (lo + hi) / 2;
        if (e->by_t[mid].t < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t r = first_unused(e, (uint32_t)lo);
    if (r == e->n)
        r = first_unused(e, 0);
    if (r == e->n)
        return first;
    size_t best = e->by_t[r].run;
    double d = fmod(c->tin[best] - t + 8, 4), dfirst = fmod(c->tin[first] - t + 8, 4);
    return dfirst <= d ? first : best;
}

/* Appends the square's corners passed going clockwise from t to t + d. */
static void corners(const clipper *c, tile_rings *out, double t, double d)
{
    static const double cx[4] = {0, 1, 1, 0}, cy[4] = {0, 0, 1, 1};
    double w = c->hi - c->lo;
    for (int k = 1; k <= 4; k++) {
        double ct = floor(t) + k;
        if (ct - t >= d)
            break;
        int i = (int)fmod(ct, 4);
        put(out, c->lo + cx[i] * w, c->lo + cy[i] * w);
    }
}

/* Joins the runs into exterior rings appended to out. */
static int stitch(clipper *c, tile_rings *out)
{
    const tile_rings *r = c->runs;
    entries e;
    int rc = entries_init(&e, c);
    for (size_t r0 = 0; !rc && r0 < r->nrings; r0++) {
        if (c->used[r0])
            continue;
        if ((rc = situ__rings_room(out, r->n + 4 * r->nrings + 4, 1)))
            break;
        size_t k = r0;
        for (size_t guard = 0; guard <= r->nrings; guard++) {
            c->used[k] = 1;
            entries_use(&e, k);
            for (uint32_t i = r->off[k]; i < r->off[k + 1]; i++)
                put(out, r->xy[2 * i], r->xy[2 * i + 1]);
            size_t next = next_entry(c, &e, c->tout[k], r0);
            corners(c, out, c->tout[k], fmod(c->tin[next] - c->tout[k] + 8, 4));
            if (next == r0)
                break;
            k = next;
        }
        situ__rings_end(out, (uint32_t)out->nrings);
    }
    entries_dispose(&e);
    return rc;
}

/* The boxes of out's rings ext0 .. out->nrings (4 doubles each), malloc'd. */
static double *ring_boxes(const tile_rings *out, size_t ext0)
{
    double *b = malloc((4 * (out->nrings - ext0) + 1) * sizeof *b);
    for (size_t e = ext0; b && e < out->nrings; e++) {
        double *eb = b + 4 * (e - ext0);
        eb[0] = eb[1] = INFINITY, eb[2] = eb[3] = -INFINITY;
        for (uint32_t i = out->off[e]; i < out->off[e + 1]; i++) {
            eb[0] = fmin(eb[0], out->xy[2 * i]), eb[2] = fmax(eb[2], out->xy[2 * i]);
            eb[1] = fmin(eb[1], out->xy[2 * i + 1]), eb[3] = fmax(eb[3], out->xy[2 * i + 1]);
        }
    }
    return b;
}

/* Appends the holes lying wholly inside the square, each linked to the
 * exterior (of those from ext0 on) that contains its first point; an
 * exterior's box is looked at before its points. */
static int place_holes(const tile_rings *in, const uint8_t *whole, tile_rings *out, size_t ext0)
{
    size_t next = out->nrings;
    double *box = next - ext0 > 1 ? ring_boxes(out, ext0) : NULL;
    if (next - ext0 > 1 && !box)
        return -1;
    int rc = 0;
    for (size_t h = 1; !rc && h < in->nrings; h++) {
        const double *hp = in->xy + 2 * (size_t)in->off[h];
        size_t hn = in->off[h + 1] - in->off[h], e = ext0;
        if (!whole[h])
            continue;
        for (; box && e < next; e++) {
            const double *eb = box + 4 * (e - ext0);
            if (hp[0] >= eb[0] && hp[0] <= eb[2] && hp[1] >= eb[1] && hp[1] <= eb[3] &&
                in_ring(out->xy + 2 * (size_t)out->off[e], out->off[e + 1] - out->off[e], hp[0],
                        hp[1]))
                break;
        }
        if (e == next)
            continue; /* in no exterior: only where rounding misplaced it */
        if ((rc = situ__rings_room(out, hn, 1)))
            break;
        memcpy(out->xy + 2 * out->n, hp, 2 * hn * sizeof *hp);
        out->n += hn;
        situ__rings_end(out, (uint32_t)e);
    }
    free(box);
    return rc;
}

int situ__poly_clip(const tile_rings *in, double lo, double hi, tile_rings *out, tile_rings *runs)
{
    clipper c = {lo, hi, runs, NULL, NULL, NULL, 0};
    uint8_t whole_small[64], *whole = in->nrings <= 64 ? whole_small : malloc(in->nrings);
    size_t ext0 = out->nrings;
    int rc = -1, nruns = 0, surround = 0;
    if (!whole)
        return -1;
    situ__rings_reset(runs);
    for (size_t k = 0; k < in->nrings; k++) {
        const double *pts = in->xy + 2 * (size_t)in->off[k];
        size_t n = in->off[k + 1] - in->off[k], s = n;
        for (size_t i = 0; i < n && s == n; i++)
            if (!inside_pt(pts + 2 * i, lo, hi))
                s = i;
        whole[k] = s == n;
        if (whole[k])
            continue;
        int m = cut_ring(&c, pts, n, s);
        if (m < 0)
            goto done;
        if (m == 0 && in_ring(pts, n, (lo + hi) / 2, (lo + hi) / 2))
            surround = !surround;
        nruns += m;
    }
    if (nruns) {
        if (stitch(&c, out))
            goto done;
    } else if (whole[0] || surround) {
        if (situ__rings_room(out, whole[0] ? in->off[1] : 4, 1))
            goto done;
        if (whole[0]) {
            memcpy(out->xy + 2 * out->n, in->xy, 2 * (size_t)in->off[1] * sizeof *in->xy);
            out->n += in->off[1];
        } else {
            put(out, lo, lo), put(out, hi, lo), put(out, hi, hi), put(out, lo, hi);
        }
        situ__rings_end(out, (uint32_t)out->nrings);
    }
    rc = out->nrings > ext0 ? place_holes(in, whole, out, ext0) : 0;
done:
    free(c.tin), free(c.tout), free(c.used);
    if (whole != whole_small)
        free(whole);
    return rc;
}

/* ---- lines ------------------------------------------------------------------ */

int situ__line_clip(const double *in, size_t n, double lo, double hi, tile_rings *out)
{
    clipper c = {.lo = lo, .hi = hi};
    int open = 0; /* a run is being built */
    if (situ__rings_room(out, 2 * n, n))
        return -1;
    for (size_t i = 0; i + 1 < n; i++) {
        const double *p = in + 2 * i, *q = p + 2;
        double t0, t1, a[2], b[2];
        int e0, e1;
        if (!lb_clip(&c, p, q, &t0, &t1, &e0, &e1)) {
            if (open)
                situ__rings_end(out, (uint32_t)out->nrings), open = 0;
            continue;
        }
        at(&c, p, q, t1, e1, b);
        if (!open || t0 > 0) { /* entering: a new run from the entry point */
            if (open)
                situ__rings_end(out, (uint32_t)out->nrings);
            at(&c, p, q, t0, e0, a);
            put(out, a[0], a[1]);
            open = 1;
        }
        if (out->xy[2 * out->n - 2] != b[0] || out->xy[2 * out->n - 1] != b[1])
            put(out, b[0], b[1]); /* not again where a run leaves at a vertex */
        if (t1 < 1)               /* leaving */
            situ__rings_end(out, (uint32_t)out->nrings), open = 0;
    }
    if (open)
        situ__rings_end(out, (uint32_t)out->nrings);
    return 0;
}

/*
 * tile_geom.c: the steps one polygon ring goes through on its way into a
 * tile, as pure functions on arrays (see tile_private.h): bottom-up
 * importance (once per collection; O(n log n) whatever the shape), then per tile: filter by
 * the zoom's tolerance and transform to tile units, (clipping: tile_clip.c), snap to integers,
 * remove repeated points, spikes and collinear points, measure the area. Orientation and the
 * decisions (drop, collapse to a point) are tile.c's. Nothing here allocates.
 *
 * The order differs from PostGIS's ST_AsMVTGeom (clip, snap, simplify) on
 * purpose: simplifying the whole ring once, before clipping, makes a shared
 * edge simplify the same way in every tile and every zoom a filter.
 */
#include <math.h>
#include <string.h>

#include "tile_private.h"

/* Index of the point farthest from point 0 among 1 .. n - 2. */
static size_t farthest_from_first(const double *xy, size_t n)
{
    size_t far = n / 2;
    double best = -1;
    for (size_t i = 1; i + 1 < n; i++) {
        double dx = xy[2 * i] - xy[0], dy = xy[2 * i + 1] - xy[1];
        if (dx * dx + dy * dy > best)
            best = dx * dx + dy * dy, far = i;
    }
    return far;
}

/* Bottom-up (Visvalingam-Whyatt) state: the points not yet removed as a
 * doubly linked list, and a binary min-heap of them keyed by (importance,
 * index). */
typedef struct vw {
    const double *xy;
    float *imp;
    uint32_t *prev, *next, *heap, *pos; /* pos[i]: i's slot in heap */
    size_t nheap;
} vw;

/* Squared distance from p to segment a-b. */
static double seg_dist2(const double *p, const double *a, const double *b)
{
    double dx = b[0] - a[0], dy = b[1] - a[1];
    double x = a[0], y = a[1];
    if (dx != 0 || dy != 0) {
        double t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy);
        if (t > 1)
            x = b[0], y = b[1];
        else if (t > 0)
            x += dx * t, y += dy * t;
    }
    dx = p[0] - x, dy = p[1] - y;
    return dx * dx + dy * dy;
}

/* How far a point strays from the segment joining its neighbours, squared:
 * what removing it moves the line by. */
static double displacement2(const vw *v, uint32_t i)
{
    return seg_dist2(v->xy + 2 * (size_t)i, v->xy + 2 * (size_t)v->prev[i],
                     v->xy + 2 * (size_t)v->next[i]);
}

static int vw_less(const vw *v, uint32_t i, uint32_t j)
{
    return v->imp[i] < v->imp[j] || (v->imp[i] == v->imp[j] && i < j);
}

static void vw_place(vw *v, size_t slot, uint32_t i)
{
    v->heap[slot] = i;
    v->pos[i] = (uint32_t)slot;
}

static void vw_up(vw *v, size_t slot)
{
    uint32_t i = v->heap[slot];
    while (slot && vw_less(v, i, v->heap[(slot - 1) / 2])) {
        vw_place(v, slot, v->heap[(slot - 1) / 2]);
        slot = (slot - 1) / 2;
    }
    vw_place(v, slot, i);
}

static void vw_down(vw *v, size_t slot)
{
    uint32_t i = v->heap[slot];
    for (;;) {
        size_t c = 2 * slot + 1;
        if (c >= v->nheap)
            break;
        if (c + 1 < v->nheap && vw_less(v, v->heap[c + 1], v->heap[c]))
            c++;
        if (!vw_less(v, v->heap[c], i))
            break;
        vw_place(v, slot, v->heap[c]);
        slot = c;
    }
    vw_place(v, slot, i);
}

/* Removes the least important point; its neighbours' displacements are
 * recomputed but never fall below its own (so importance grows in removal
 * order and a tolerance's filter is the removal run up to it). */
static void vw_pop(vw *v)
{
    uint32_t i = v->heap[0];
    float floor_imp = v->imp[i];
    vw_place(v, 0, v->heap[--v->nheap]);
    if (v->nheap)
        vw_down(v, 0);
    uint32_t p = v->prev[i], q = v->next[i];
    v->next[p] = q, v->prev[q] = p;
    const uint32_t nb[2] = {p, q};
    for (int k = 0; k < 2; k++) {
        uint32_t j = nb[k];
        if (v->imp[j] == INFINITY)
            continue; /* an anchor */
        float old = v->imp[j];
        v->imp[j] = fmaxf((float)displacement2(v, j), floor_imp);
        if (v->imp[j] < old)
            vw_up(v, v->pos[j]);
        else
            vw_down(v, v->pos[j]);
    }
}

void situ__ring_importance(const double *xy, size_t n, float *imp, uint32_t *work)
{
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        imp[i] = 0;
    imp[0] = imp[n - 1] = INFINITY;
    if (n < 3)
        return;
    imp[farthest_from_first(xy, n)] = INFINITY;
    vw v = {xy, imp, work, work + n, work + 2 * n, work + 3 * n, 0};
    for (size_t i = 0; i < n; i++)
        v.prev[i] = (uint32_t)(i ? i - 1 : 0), v.next[i] = (uint32_t)(i + 1 < n ? i + 1 : i);
    for (size_t i = 1; i + 1 < n; i++)
        if (imp[i] != INFINITY) {
            imp[i] = (float)displacement2(&v, (uint32_t)i);
            vw_place(&v, v.nheap++, (uint32_t)i);
        }
    for (size_t s = v.nheap / 2; s-- > 0;)
        vw_down(&v, s);
    while (v.nheap)
        vw_pop(&v);
}

void situ__ymemo_init(tile_ymemo *m)
{
    for (size_t i = 0; i < (1u << TILE_YMEMO_BITS); i++)
        m->key[i] = TILE_YMEMO_EMPTY;
}

size_t situ__ring_keep(const float *imp, size_t n, float tol2, uint32_t *idx)
{
    /* branch-free: at low zooms most points go, at random */
    size_t k = 0;
    for (size_t i = n - 1; i-- > 0;) {
        idx[k] = (uint32_t)i;
        k += imp[i] > tol2;
    }
    return k;
}

size_t situ__ring_take(const double *ll, const uint32_t *idx, size_t k, const tile_tf *tf,
                       double *out)
{
    for (size_t j = 0; j < k; j++) {
        double mx, my;
        tile_project_memo(tf->ymemo, ll[2 * idx[j]], ll[2 * idx[j] + 1], &mx, &my);
        out[2 * j] = mx * tf->scale - tf->ox;
        out[2 * j + 1] = my * tf->scale - tf->oy;
    }
    return k;
}

/* Cross product of (b - a) and (c - b): 0 when a, b, c are collinear. */
static int64_t cross3(const int32_t *a, const int32_t *b, const int32_t *c)
{
    return (int64_t)(b[0] - a[0]) * (c[1] - b[1]) - (int64_t)(b[1] - a[1]) * (c[0] - b[0]);
}

/* Rounds v; a value not exactly on the square's edge stays strictly inside
 * it, so that snapping never lays a vertex onto a clipped edge. */
static inline int32_t snap1(double v, double lo, double hi)
{
    int32_t r = tile_round(v);
    if (v == lo || v == hi)
        return r;
    return r <= lo ? (int32_t)lo + 1 : r >= hi ? (int32_t)hi - 1 : r;
}

size_t situ__ring_snap(const double *in, size_t n, double lo, double hi, int32_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x = snap1(in[2 * i], lo, hi), y = snap1(in[2 * i + 1], lo, hi);
        if (k && out[2 * k - 2] == x && out[2 * k - 1] == y)
            continue;
        out[2 * k] = x, out[2 * k + 1] = y;
        k++;
    }
    while (k > 1 && out[0] == out[2 * k - 2] && out[1] == out[2 * k - 1])
        k--;
    return k;
}

/* Pushes p onto the path xy[0..*m), first popping points that p makes
 * collinear (spikes included) and skipping p when it repeats the last. */
static inline void push_clean(int32_t *xy, size_t *m, const int32_t p[2])
{
    while (*m >= 2 && cross3(xy + 2 * (*m - 2), xy + 2 * (*m - 1), p) == 0)
        (*m)--;
    if (*m >= 1 && xy[2 * *m - 2] == p[0] && xy[2 * *m - 1] == p[1])
        return;
    xy[2 * *m] = p[0], xy[2 * *m + 1] = p[1];
    (*m)++;
}

/* The seam of a cleaned path: drops the last point while it lies between
 * its neighbours, then the first; returns the count left (0 under 3). */
static size_t clean_seam(int32_t *xy, size_t m)
{
    size_t s = 0;
    for (int changed = 1; changed && m - s >= 3;) {
        changed = 0;
        while (m - s >= 3 && cross3(xy + 2 * (m - 2), xy + 2 * (m - 1), xy + 2 * s) == 0)
            m--, changed = 1;
        while (m - s >= 3 && cross3(xy + 2 * (m - 1), xy + 2 * s, xy + 2 * (s + 1)) == 0)
            s++, changed = 1;
    }
    if (m - s < 3)
        return 0;
    if (s)
        memmove(xy, xy + 2 * s, 2 * (m - s) * sizeof *xy);
    return m - s;
}

size_t situ__ring_clean(int32_t *xy, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t p[2] = {xy[2 * i], xy[2 * i + 1]};
        push_clean(xy, &m, p);
    }
    return clean_seam(xy, m);
}

size_t situ__ring_take_snap(const double *ll, const uint32_t *idx, size_t k, const tile_tf *tf,
                            int32_t *out)
{
    size_t m = 0;
    for (size_t j = 0; j < k; j++) {
        double q[2];
        tile_project_memo(tf->ymemo, ll[2 * idx[j]], ll[2 * idx[j] + 1], &q[0], &q[1]);
        const int32_t p[2] = {snap1(q[0] * tf->scale - tf->ox, tf->lo, tf->hi),
                              snap1(q[1] * tf->scale - tf->oy, tf->lo, tf->hi)};
        push_clean(out, &m, p);
    }
    while (m > 1 && out[0] == out[2 * m - 2] && out[1] == out[2 * m - 1])
        m--;
    return clean_seam(out, m);
}

int64_t situ__ring_area2(const int32_t *xy, size_t n)
{
    int64_t a = 0;
    for (size_t i = 0, j = n - 1; i < n; j = i++)
        a += (int64_t)xy[2 * j] * xy[2 * i + 1] - (int64_t)xy[2 * i] * xy[2 * j + 1];
    return a;
}

void situ__ring_reverse(int32_t *xy, size_t n)
{
    for (size_t i = 0, j = n - 1; n && i < j; i++, j--) {
        int32_t tx = xy[2 * i], ty = xy[2 * i + 1];
        xy[2 * i] = xy[2 * j], xy[2 * i + 1] = xy[2 * j + 1];
        xy[2 * j] = tx, xy[2 * j + 1] = ty;
    }
}

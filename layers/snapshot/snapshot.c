/*
 * snapshot.c: building and sharing the immutable in-memory collections (see
 * situ/snapshot.h for the model and its life cycle). Owns reading the store
 * into flat arrays, ring orientation, the id index, the R-tree and
 * point-in-polygon; does not own any encoding (geojson.c, tile.c) or search
 * beyond boxes and townships (nearest.c).
 */
#include "situ/snapshot.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "snapshot_build.h"

situ_coll *situ_coll_retain(situ_coll *c)
{
    if (c)
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void situ_coll_release(situ_coll *c)
{
    if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    situ__coll_free(c);
}

long situ_coll_find(const situ_coll *c, const char *id)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = strcmp(c->feats[c->by_id[mid]].id, id);
        if (k == 0)
            return (long)c->by_id[mid];
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* First feature index whose township code is >= code (or > code when upper). */
static size_t township_bound(const situ_coll *c, const char *code, int upper)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int k = strcmp(c->feats[mid].township_code, code);
        if (k < 0 || (upper && k == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void situ_coll_township_range(const situ_coll *c, const char *code, size_t *out_first,
                              size_t *out_end)
{
    *out_first = township_bound(c, code, 0);
    *out_end = township_bound(c, code, 1);
}

double situ_coll_held(const situ_coll *c, const situ_feature *f, int item)
{
    size_t lo = f->held0, hi = (size_t)f->held0 + f->nheld;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->held[mid].item == item)
            return c->held[mid].quantity;
        if (c->held[mid].item < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* 1 when (x, y) lies on segment a-b. */
static int on_segment(const double *a, const double *b, double x, double y)
{
    double cross = (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0]);
    if (cross != 0)
        return 0;
    return x >= fmin(a[0], b[0]) && x <= fmax(a[0], b[0]) && y >= fmin(a[1], b[1]) &&
           y <= fmax(a[1], b[1]);
}

/* Even-odd crossing test of one ring: 1 inside, 0 outside, 2 on the boundary. */
static int ring_test(const double *xy, uint32_t n, double x, double y)
{
    int inside = 0;
    for (uint32_t i = 0, j = n - 1; i < n; j = i++) {
        const double *a = xy + 2 * i, *b = xy + 2 * j;
        if (on_segment(a, b, x, y))
            return 2;
        if ((a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0])
            inside = !inside;
    }
    return inside;
}

int situ_coll_contains(const situ_coll *c, const situ_feature *f, double x, double y)
{
    if (c->c->gtype == SITU_GT_MULTILINESTRING) /* a line encloses nothing */
        return 0;
    if (x < f->bbox[0] || x > f->bbox[2] || y < f->bbox[1] || y > f->bbox[3])
        return 0;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_poly *poly = &c->polys[p];
        int in = 0;
        for (uint32_t r = poly->ring0; r < poly->ring0 + poly->nrings; r++) {
            const situ_ring *ring = &c->rings[r];
            int t = ring_test(c->xy + 2 * (size_t)ring->off, ring->n, x, y);
            if (t == 2)
                return 1;
            if (r == poly->ring0)
                in = t;
            else if (t)
                in = 0; /* inside a hole */
        }
        if (in)
            return 1;
    }
    return 0;
}

typedef struct locate_ctx {
    const situ_coll *c;
    double x, y;
    long best;
} locate_ctx;

static int locate_visit(void *ctx, uint32_t i)
{
    locate_ctx *l = ctx;
    const situ_feature *f = &l->c->feats[i];
    if (l->best >= 0 && strcmp(f->id, l->c->feats[l->best].id) >= 0)
        return 0;
    if (situ_coll_contains(l->c, f, l->x, l->y))
        l->best = (long)i;
    return 0;
}

long situ_snapshot_locate(const situ_snapshot *s, double lon, double lat)
{
    const situ_coll *c = s->colls[SITU_C_TOWNSHIPS];
    locate_ctx l = {c, lon, lat, -1};
    if (c && c->index)
        situ_rtree_search(c->index, lon, lat, lon, lat, locate_visit, &l);
    return l.best;
}

const situ_feature *situ_snapshot_township(const situ_snapshot *s, const char *code)
{
    const situ_coll *c = s->colls[SITU_C_TOWNSHIPS];
    long i = c && code ? situ_coll_find(c, code) : -1;
    return i >= 0 ? &c->feats[i] : NULL;
}

const char *situ_snapshot_township_name(const situ_snapshot *s, const char *code)
{
    const situ_feature *t = situ_snapshot_township(s, code);
    int i = situ_schema_field_index(situ_schema_collection(SITU_C_TOWNSHIPS), "name");
    return t && i >= 0 && t->values[i].type == SITU_FT_TEXT ? t->values[i].u.s : NULL;
}

static double now_seconds(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int situ_snapshot_load(situ_store *s, situ_snapshot **out_snap, situ_err *err)
{
    situ_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    snap->refs = 1;
    snap->version = 1;
    snap->built_at = now_seconds();
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        int rc = situ_coll_load(s, (situ_coll_id)i, &snap->colls[i], err);
        if (rc) {
            situ_snapshot_release(snap);
            return rc;
        }
    }
    *out_snap = snap;
    return 0;
}

situ_snapshot *situ_snapshot_with(const situ_snapshot *old, situ_coll *coll)
{
    situ_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap)
        return NULL;
    snap->refs = 1;
    snap->version = old->version + 1;
    snap->built_at = now_seconds();
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        snap->colls[i] = situ_coll_retain(i == (int)coll->c->cid ? coll : old->colls[i]);
    return snap;
}

situ_snapshot *situ_snapshot_retain(situ_snapshot *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void situ_snapshot_release(situ_snapshot *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_coll_release(s->colls[i]);
    free(s);
}

/* Twice the signed area of closed ring xy[0..n): positive counter-clockwise. */
static double ring_area2(const double *xy, size_t n)
{
    double a = 0;
    for (size_t i = 0; i + 1 < n; i++)
        a += xy[2 * i] * xy[2 * i + 3] - xy[2 * i + 2] * xy[2 * i + 1];
    return a;
}

void situ_ring_orient(double *xy, size_t n, int ccw)
{
    double a = ring_area2(xy, n);
    if ((ccw && a >= 0) || (!ccw && a <= 0))
        return;
    for (size_t i = 0, j = n - 1; i < j; i++, j--) {
        double tx = xy[2 * i], ty = xy[2 * i + 1];
        xy[2 * i] = xy[2 * j], xy[2 * i + 1] = xy[2 * j + 1];
        xy[2 * j] = tx, xy[2 * j + 1] = ty;
    }
}

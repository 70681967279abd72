/*
 * roads_closures.c: which edges are closed, and the slot that publishes the
 * current set to the searches. Owns the closure bitset (one bit per edge),
 * its edits (by road id, by radius, by polygon) and situ_roads_live; not
 * what a closure means to a search (roads_search.c skips closed edges).
 *
 * A set changes only while one writer holds it privately; once published it
 * is immutable. The live slot:
 *
 *     writer: c = clone(get(live)) -> set_roads/set_radius/set_polygon(c)
 *             -> publish(live, c)         (old set released by the slot)
 *     reader: c = get(live) (retained) -> searches -> release(c)
 *
 * get and publish swap and retain the pointer under a mutex held for a few
 * instructions, so a reader sees the old set or the new one, never a mix,
 * and a set is freed only after its last reader released it. A closure
 * costs a copy of the bitset (nedges / 8 bytes) plus the edges it touches.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

static int closures_alloc(size_t nedges, situ_roads_closures **out_c, situ_err *err)
{
    situ_roads_closures *c = malloc(sizeof *c);
    uint64_t *bits = calloc((nedges + 63) / 64 + 1, sizeof *bits);
    if (!c || !bits) {
        free(c);
        free(bits);
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    }
    atomic_init(&c->refs, 1);
    c->nedges = nedges;
    c->bits = bits;
    *out_c = c;
    return 0;
}

/* The base set of g: the edges of its closed lines. The caller owns it. */
int situ_roads_closures_new(const situ_roads_graph *g, situ_roads_closures **out_c, situ_err *err)
{
    situ_roads_closures *c = NULL;
    int rc = closures_alloc(g->nedges, &c, err);
    if (rc < 0)
        return rc;
    for (size_t r = 0; r < g->nroads; r++)
        if (g->roads[r].status == SITU_ROADS_CLOSED)
            for (uint32_t e = g->roads[r].edge0; e < g->roads[r + 1].edge0; e++)
                c->bits[e >> 6] |= 1ull << (e & 63);
    *out_c = c;
    return 0;
}

int situ_roads_closures_clone(const situ_roads_closures *c, situ_roads_closures **out_c,
                              situ_err *err)
{
    situ_roads_closures *n = NULL;
    int rc = closures_alloc(c->nedges, &n, err);
    if (rc < 0)
        return rc;
    memcpy(n->bits, c->bits, (c->nedges + 63) / 64 * sizeof *n->bits);
    *out_c = n;
    return 0;
}

situ_roads_closures *situ_roads_closures_retain(situ_roads_closures *c)
{
    if (c)
        atomic_fetch_add(&c->refs, 1);
    return c;
}

void situ_roads_closures_release(situ_roads_closures *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) {
        free(c->bits);
        free(c);
    }
}

int situ_roads_closures_is_closed(const situ_roads_closures *c, uint32_t e)
{
    return e < c->nedges && situ__closed(c, e);
}

size_t situ_roads_closures_count(const situ_roads_closures *c)
{
    size_t n = 0;
    for (size_t i = 0; i < (c->nedges + 63) / 64; i++)
        n += (size_t)__builtin_popcountll(c->bits[i]);
    return n;
}

/* Sets edge e's bit to closed; returns 1 when it changed. */
static int set_bit(situ_roads_closures *c, uint32_t e, int closed)
{
    uint64_t m = 1ull << (e & 63), *w = &c->bits[e >> 6];
    int was = (*w & m) != 0;
    *w = closed ? *w | m : *w & ~m;
    return was != (closed != 0);
}

size_t situ_roads_closures_set_roads(situ_roads_closures *c, const situ_roads_graph *g,
                                     const uint32_t *ids, size_t n, int closed)
{
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = g->nroads;
        while (lo < hi) { /* the first road whose id >= ids[i] */
            size_t mid = (lo + hi) / 2;
            if (g->roads[g->by_id[mid]].id < ids[i])
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < g->nroads && g->roads[g->by_id[lo]].id == ids[i]; lo++) {
            const situ__road *r = &g->roads[g->by_id[lo]];
            for (uint32_t e = r->edge0; e < r[1].edge0; e++)
                changed += (size_t)set_bit(c, e, closed);
        }
    }
    return changed;
}

/* What the edits below do to each edge an R-tree search finds. */
typedef struct edit {
    const situ_roads_graph *g;
    situ_roads_closures *c;
    int closed;
    long changed;
    /* radius */
    double lon, lat, radius_m;
    /* polygon */
    GEOSContextHandle_t h;
    const GEOSPreparedGeometry *prep;
    int failed;
} edit;

static int radius_run(void *ctx, uint32_t run)
{
    edit *ed = ctx;
    const situ_roads_graph *g = ed->g;
    for (uint32_t e = g->run0[run]; e < g->run0[run + 1]; e++) {
        double f;
        if (situ__edge_nearest(g, e, ed->lon, ed->lat, &f) <= ed->radius_m)
            ed->changed += set_bit(ed->c, e, ed->closed);
    }
    return 0;
}

long situ_roads_closures_set_radius(situ_roads_closures *c, const situ_roads_graph *g, double lon,
                                    double lat, double radius_m, int closed, situ_err *err)
{
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
        return situ_err_set(err, SITU_EINVAL, "closure: the point is not lon/lat");
    if (!(radius_m >= 0 && radius_m <= 1e6))
        return situ_err_set(err, SITU_EINVAL, "radius_m: must be between 0 and 1000000");
    edit ed = {.g = g, .c = c, .closed = closed, .lon = lon, .lat = lat, .radius_m = radius_m};
    double box[4];
    situ__radius_box(lon, lat, radius_m, box);
    situ_rtree_search(g->runs, box[0], box[1], box[2], box[3], radius_run, &ed);
    return ed.changed;
}

static int polygon_run(void *ctx, uint32_t run)
{
    edit *ed = ctx;
    const situ_roads_graph *g = ed->g;
    for (uint32_t e = g->run0[run]; e < g->run0[run + 1] && !ed->failed; e++) {
        GEOSCoordSequence *cs = GEOSCoordSeq_create_r(ed->h, 2, 2);
        double x, y;
        for (unsigned i = 0; cs && i < 2; i++) {
            situ__node_xy(g, i ? g->edges[e].b : g->edges[e].a, &x, &y);
            GEOSCoordSeq_setXY_r(ed->h, cs, i, x, y);
        }
        GEOSGeometry *seg = cs ? GEOSGeom_createLineString_r(ed->h, cs) : NULL;
        char hit = seg ? GEOSPreparedIntersects_r(ed->h, ed->prep, seg) : 2;
        GEOSGeom_destroy_r(ed->h, seg);
        if (hit == 2)
            ed->failed = 1;
        else if (hit)
            ed->changed += set_bit(ed->c, e, ed->closed);
    }
    return ed->failed;
}

long situ_roads_closures_set_polygon(situ_roads_closures *c, const situ_roads_graph *g,
                                     GEOSContextHandle_t h, const GEOSGeometry *polygon, int closed,
                                     situ_err *err)
{
    int type = polygon ? GEOSGeomTypeId_r(h, polygon) : -1;
    if (type != GEOS_POLYGON && type != GEOS_MULTIPOLYGON)
        return situ_err_set(err, SITU_EINVAL, "geometry: a closure needs a Polygon");
    double box[4];
    if (!GEOSGeom_getXMin_r(h, polygon, &box[0]) || !GEOSGeom_getYMin_r(h, polygon, &box[1]) ||
        !GEOSGeom_getXMax_r(h, polygon, &box[2]) || !GEOSGeom_getYMax_r(h, polygon, &box[3]))
        return situ_err_set(err, SITU_EINVAL, "geometry: an empty Polygon");
    edit ed = {.g = g, .c = c, .closed = closed, .h = h};
    ed.prep = GEOSPrepare_r(h, polygon);
    if (!ed.prep)
        return situ_err_set(err, SITU_EGEOM, "geometry: GEOS could not prepare the polygon");
    situ_rtree_search(g->runs, box[0], box[1], box[2], box[3], polygon_run, &ed);
    GEOSPreparedGeom_destroy_r(h, ed.prep);
    if (ed.failed)
        return situ_err_set(err, SITU_EGEOM, "geometry: GEOS failed on the polygon");
    return ed.changed;
}

/* ---- the live slot ---------------------------------------------------------- */

struct situ_roads_live {
    pthread_mutex_t mu;
    situ_roads_closures *cur;
};

situ_roads_live *situ_roads_live_new(situ_roads_closures *initial)
{
    situ_roads_live *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->cur = initial;
    return l;
}

void situ_roads_live_free(situ_roads_live *l)
{
    if (!l)
        return;
    situ_roads_closures_release(l->cur);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

situ_roads_closures *situ_roads_live_get(situ_roads_live *l)
{
    pthread_mutex_lock(&l->mu);
    situ_roads_closures *c = situ_roads_closures_retain(l->cur);
    pthread_mutex_unlock(&l->mu);
    return c;
}

void situ_roads_live_publish(situ_roads_live *l, situ_roads_closures *c)
{
    pthread_mutex_lock(&l->mu);
    situ_roads_closures *old = l->cur;
    l->cur = c;
    pthread_mutex_unlock(&l->mu);
    situ_roads_closures_release(old);
}

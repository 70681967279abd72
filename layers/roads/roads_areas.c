/*
 * roads_areas.c: laying the areas departments closed (closure feed events:
 * a polygon, or a point and radius) on a closure set, and telling per area
 * how many road segments and roads it closed (the wall's /closures). Not
 * where the areas come from (the store's road_closures, read by situd) nor
 * when they are laid (situd, each time the set in force is recomputed).
 *
 * Each area is laid alone on a zeroed scratch set, so its own count holds
 * whatever else closed the same edges, then OR-ed into the caller's set:
 * per area one pass over nedges / 64 words besides the edges it touches.
 */
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The distinct caller ids of the roads of the edges set in s; -1 when out
 * of memory. Edges of one road are consecutive, so a road is noted once
 * per run of its edges, then the ids (parts of one feature share theirs)
 * made unique. */
static long count_roads(const situ_roads_graph *g, const situ_roads_closures *s)
{
    uint32_t *ids = NULL, last = SITU__NONE;
    size_t n = 0, cap = 0;
    for (size_t w = 0; w < (s->nedges + 63) / 64; w++)
        for (uint64_t bits = s->bits[w]; bits; bits &= bits - 1) {
            uint32_t e = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(bits));
            uint32_t r = g->edges[e].rf >> 2;
            if (r == last)
                continue;
            last = r;
            if (n == cap) {
                uint32_t *p = realloc(ids, (cap = cap ? 2 * cap : 64) * sizeof *p);
                if (!p) {
                    free(ids);
                    return -1;
                }
                ids = p;
            }
            ids[n++] = g->roads[r].id;
        }
    if (n)
        qsort(ids, n, sizeof *ids, cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += i == 0 || ids[i] != ids[i - 1];
    free(ids);
    return (long)k;
}

/* Lays area a alone on the zeroed scratch set s: the edges it touches, or
 * a SITU_E code. */
static long lay_one(situ_roads_closures *s, const situ_roads_graph *g, GEOSContextHandle_t h,
                    const situ_roads_area *a, situ_err *err)
{
    if (!a->wkb)
        return situ_roads_closures_set_radius(s, g, a->lon, a->lat, a->radius_m, 1, err);
    GEOSGeometry *poly = GEOSGeomFromWKB_buf_r(h, a->wkb, a->nwkb);
    if (!poly)
        return situ_err_set(err, SITU_EINVAL, "geometry: not WKB");
    long k = situ_roads_closures_set_polygon(s, g, h, poly, 1, err);
    GEOSGeom_destroy_r(h, poly);
    return k;
}

long situ_roads_closures_set_areas(situ_roads_closures *c, const situ_roads_graph *g,
                                   GEOSContextHandle_t h, const situ_roads_area *areas, size_t n,
                                   situ_roads_area_hit *hits, situ_err *err)
{
    situ_roads_closures *s = NULL;
    if (n == 0)
        return 0;
    if (situ_roads_closures_clone(c, &s, err) < 0)
        return SITU_ENOMEM;
    size_t nwords = (c->nedges + 63) / 64;
    long changed = 0;
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        memset(s->bits, 0, nwords * sizeof *s->bits);
        situ_err e = {0};
        long k = lay_one(s, g, h, &areas[i], &e), roads = 0;
        if (k >= 0 && (roads = count_roads(g, s)) < 0) {
            situ_roads_closures_release(s);
            return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
        }
        if (hits)
            hits[i] = (situ_roads_area_hit){k, k >= 0 ? (size_t)roads : 0};
        if (k < 0) {
            if (!refused++)
                situ_err_set(err, (int)k, "area %zu: %s", i, e.msg);
            continue;
        }
        for (size_t w = 0; w < nwords; w++) {
            changed += __builtin_popcountll(s->bits[w] & ~c->bits[w]);
            c->bits[w] |= s->bits[w];
        }
    }
    situ_roads_closures_release(s);
    return changed;
}

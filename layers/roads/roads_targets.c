/*
 * roads_targets.c: the points a search looks for (depots, teams), attached
 * to the road network and indexed by the nodes they are reached through.
 * Owns situ_roads_targets; not the search (roads_search.c).
 *
 * A target on edge a-b at fraction f is reached, in a TO_POINT search (it
 * drives to the point; the search runs on the reverse graph), through b at
 * (1 - f) of the edge's time when a->b is drivable and through a at f when
 * b->a is; in a FROM_POINT search (driven to) through a at f when a->b is
 * drivable and through b at (1 - f) when b->a is. Each such way in is an
 * attachment of the node: the search adds dist(node) + part * time + the
 * off-road time once it settles the node.
 *
 * situ_roads_targets_update carries targets from one closure set to the
 * next, snapping again only the points the change can move (see there).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

/* The attachments of place p (target i) in direction dir: up to 2, as
 * (node, part) pairs. Returns how many. */
static int attachments(const situ_roads_graph *g, const situ_roads_place *p, situ_roads_dir dir,
                       uint32_t out_v[2], double out_part[2])
{
    const situ__edge *e = &g->edges[p->edge];
    int fwd = (e->rf & SITU__EDGE_FWD) != 0, bwd = (e->rf & SITU__EDGE_BWD) != 0, n = 0;
    int via_b = dir == SITU_ROADS_TO_POINT ? fwd : bwd; /* leaving to b / arriving from b */
    int via_a = dir == SITU_ROADS_TO_POINT ? bwd : fwd;
    if (via_a)
        out_v[n] = e->a, out_part[n++] = p->frac;
    if (via_b)
        out_v[n] = e->b, out_part[n++] = 1 - p->frac;
    return n;
}

static int build_dir(situ_roads_targets *t, const situ_roads_graph *g, situ_roads_dir dir)
{
    uint32_t *off = calloc(g->nnodes + 2, sizeof *off);
    situ__attach *att = malloc((2 * t->n + 1) * sizeof *att);
    if (!off || !att) {
        free(off);
        free(att);
        return SITU_ENOMEM;
    }
    uint32_t v[2];
    double part[2];
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->n; i++) {
            if (t->places[i].edge == SITU__NONE)
                continue;
            int n = attachments(g, &t->places[i], dir, v, part);
            for (int j = 0; j < n; j++) {
                if (pass == 0)
                    off[v[j] + 2]++;
                else
                    att[off[v[j] + 1]++] = (situ__attach){(uint32_t)i, part[j]};
            }
        }
        if (pass == 0) /* off[v + 1] becomes the fill cursor of v, off[v] its start */
            for (size_t k = 0; k < g->nnodes; k++)
                off[k + 2] += off[k + 1];
    }
    t->off[dir] = off;
    t->att[dir] = att;
    return 0;
}

/* t->by_edge: the reachable targets by edge, then index. */
static int sort_by_edge(situ_roads_targets *t)
{
    uint64_t *keys = malloc((t->nby_edge + 1) * sizeof *keys);
    if (!keys)
        return SITU_ENOMEM;
    for (size_t i = 0; i < t->nby_edge; i++)
        keys[i] = (uint64_t)t->places[t->by_edge[i]].edge << 32 | t->by_edge[i];
    qsort(keys, t->nby_edge, sizeof *keys, situ__cmp_u64);
    for (size_t i = 0; i < t->nby_edge; i++)
        t->by_edge[i] = (uint32_t)keys[i];
    free(keys);
    return 0;
}

/* Indexes places[0..n) (copied) as targets of g; see roads.h. */
int situ_roads_targets_from_places(const situ_roads_graph *g, const situ_roads_place *places,
                                   size_t n, situ_roads_targets **out_t, situ_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (places[i].edge != SITU__NONE && places[i].edge >= g->nedges)
            return situ_err_set(err, SITU_EINVAL, "target %zu: no such edge", i);
    situ_roads_targets *t = calloc(1, sizeof *t);
    if (!t || n >= UINT32_MAX)
        goto fail;
    t->n = n;
    t->nnodes = g->nnodes;
    t->places = malloc((n + 1) * sizeof *t->places);
    t->by_edge = malloc((n + 1) * sizeof *t->by_edge);
    if (!t->places || !t->by_edge)
        goto fail;
    memcpy(t->places, places, n * sizeof *places);
    for (size_t i = 0; i < n; i++)
        if (places[i].edge != SITU__NONE)
            t->by_edge[t->nby_edge++] = (uint32_t)i;
    if (sort_by_edge(t) < 0 || build_dir(t, g, SITU_ROADS_TO_POINT) < 0 ||
        build_dir(t, g, SITU_ROADS_FROM_POINT) < 0)
        goto fail;
    *out_t = t;
    return 0;
fail:
    situ_roads_targets_free(t);
    return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
}

/* Attaches point (lon, lat) under c into *p: its place, or an unreachable
 * one (edge SITU__NONE, snap_m INFINITY) beyond max_snap_m. Returns 0 or
 * situ_roads_snap's SITU_EINVAL. */
static int snap_point(const situ_roads_graph *g, const situ_roads_closures *c, double lon,
                      double lat, double max_snap_m, situ_roads_place *p, situ_err *err)
{
    int rc = situ_roads_snap(g, c, lon, lat, max_snap_m, p, err);
    if (rc == SITU_ENOTFOUND) {
        *p = (situ_roads_place){SITU__NONE, 0, lon, lat, INFINITY};
        rc = 0;
    }
    return rc;
}

/* Indexes places[0..n) of the points lonlat[0..2n) snapped with max_snap_m,
 * keeping a copy of the points for situ_roads_targets_update. */
static int targets_of_points(const situ_roads_graph *g, const situ_roads_place *places,
                             const double *lonlat, size_t n, double max_snap_m,
                             situ_roads_targets **out_t, situ_err *err)
{
    double *copy = malloc((2 * n + 1) * sizeof *copy);
    situ_roads_targets *t = NULL;
    if (!copy)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    int rc = situ_roads_targets_from_places(g, places, n, &t, err);
    if (rc) {
        free(copy);
        return rc;
    }
    memcpy(copy, lonlat, 2 * n * sizeof *copy);
    t->lonlat = copy;
    t->max_snap_m = max_snap_m;
    *out_t = t;
    return 0;
}

/* Snapping a nation's points (157,266 resources at scale 200) reads most
 * of a mapped graph file, scattered: its pages are handed back every so
 * many points, and once more after the points are indexed
 * (situ_roads_graph_drop_pages; nothing for a graph built in memory), so
 * that the snaps never hold the file resident (up to 264 MB of DB.roads at
 * scale 200 before). */
#define SNAPS_BETWEEN_DROPS 2048

/* Snaps lonlat[0..2n) under c and indexes them; a point beyond max_snap_m
 * becomes an unreachable target. */
int situ_roads_targets_new(const situ_roads_graph *g, const situ_roads_closures *c,
                           const double *lonlat, size_t n, double max_snap_m,
                           situ_roads_targets **out_t, situ_err *err)
{
    situ_roads_place *places = malloc((n + 1) * sizeof *places);
    int rc = 0;
    if (!places)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = snap_point(g, c, lonlat[2 * i], lonlat[2 * i + 1], max_snap_m, &places[i], err);
        if (i % SNAPS_BETWEEN_DROPS == SNAPS_BETWEEN_DROPS - 1)
            situ_roads_graph_drop_pages(g);
    }
    if (rc == 0) /* else err names the bad point's coordinates */
        rc = targets_of_points(g, places, lonlat, n, max_snap_m, out_t, err);
    if (n >= SNAPS_BETWEEN_DROPS) /* the index's passes read them again */
        situ_roads_graph_drop_pages(g);
    free(places);
    return rc;
}

/* The lon/lat boxes of the edges open under c but closed under prev_c
 * (malloc'd, 4 doubles each; an edge across the antimeridian spans every
 * longitude) into *out_boxes, their number into *out_n. */
static int reopened_boxes(const situ_roads_graph *g, const situ_roads_closures *prev_c,
                          const situ_roads_closures *c, double **out_boxes, size_t *out_n)
{
    size_t nw = (g->nedges + 63) / 64, n = 0, k = 0;
    for (size_t w = 0; w < nw; w++)
        n += (size_t)__builtin_popcountll(prev_c->bits[w] & ~c->bits[w]);
    double *boxes = malloc((4 * n + 4) * sizeof *boxes);
    if (!boxes)
        return SITU_ENOMEM;
    for (size_t w = 0; w < nw; w++)
        for (uint64_t bits = prev_c->bits[w] & ~c->bits[w]; bits; bits &= bits - 1) {
            const situ__edge *e = &g->edges[w * 64 + (size_t)__builtin_ctzll(bits)];
            double ax, ay, bx, by, *b = &boxes[4 * k++];
            situ__node_xy(g, e->a, &ax, &ay);
            situ__node_xy(g, e->b, &bx, &by);
            int wraps = fabs(bx - ax) > 180;
            b[0] = wraps ? -180 : fmin(ax, bx), b[1] = fmin(ay, by);
            b[2] = wraps ? 180 : fmax(ax, bx), b[3] = fmax(ay, by);
        }
    *out_boxes = boxes;
    *out_n = n;
    return 0;
}

static int found(void *ctx, uint32_t item)
{
    (void)item;
    *(int *)ctx = 1;
    return 1;
}

/* Whether a reopened edge (a box of rt, NULL: none) may lie within r metres
 * of (lon, lat), so that it may be nearer than the point's place. */
static int near_reopened(const situ_rtree *rt, double lon, double lat, double r)
{
    double box[4];
    int hit = 0;
    if (!rt)
        return 0;
    situ__radius_box(lon, lat, r, box);
    if (box[0] < -180 || box[2] > 180) /* the box wraps: snap again to be sure */
        return 1;
    situ_rtree_search(rt, box[0], box[1], box[2], box[3], found, &hit);
    return hit;
}

/*
 * prev's points under c (see roads.h). The snap is the nearest open edge
 * (ties: the lower index). An edge c closes can only lose: a place on
 * another edge stays the nearest. An edge c reopens can only win where it
 * lies within the place's snap distance (within max_snap_m of an
 * unreachable point). Every other place is prev's, unchanged.
 */
int situ_roads_targets_update(const situ_roads_graph *g, const situ_roads_targets *prev,
                              const situ_roads_closures *prev_c, const situ_roads_closures *c,
                              situ_roads_targets **out_t, situ_err *err)
{
    if (!prev->lonlat)
        return situ_err_set(err, SITU_EINVAL, "targets: not snapped from points");
    prev_c = prev_c ? prev_c : g->base;
    c = c ? c : g->base;
    double *boxes = NULL;
    size_t nre = 0;
    situ_rtree *rt = NULL;
    situ_roads_place *places = malloc((prev->n + 1) * sizeof *places);
    int rc = places ? reopened_boxes(g, prev_c, c, &boxes, &nre) : SITU_ENOMEM;
    if (rc == 0 && nre && !(rt = situ_rtree_new(boxes, nre)))
        rc = SITU_ENOMEM;
    if (rc)
        goto done;
    memcpy(places, prev->places, prev->n * sizeof *places);
    for (size_t i = 0; i < prev->n && rc == 0; i++) {
        situ_roads_place *p = &places[i];
        double lon = prev->lonlat[2 * i], lat = prev->lonlat[2 * i + 1];
        int reachable = p->edge != SITU__NONE;
        if ((reachable && situ__closed(c, p->edge)) ||
            near_reopened(rt, lon, lat, reachable ? p->snap_m : prev->max_snap_m))
            rc = snap_point(g, c, lon, lat, prev->max_snap_m, p, err);
    }
    if (rc == 0)
        rc = targets_of_points(g, places, prev->lonlat, prev->n, prev->max_snap_m, out_t, err);
done:
    situ_rtree_free(rt);
    free(boxes);
    free(places);
    return rc == SITU_ENOMEM ? situ_err_set(err, rc, "roads: out of memory") : rc;
}

void situ_roads_targets_free(situ_roads_targets *t)
{
    if (!t)
        return;
    for (int d = 0; d < 2; d++) {
        free(t->off[d]);
        free(t->att[d]);
    }
    free(t->places);
    free(t->by_edge);
    free(t->lonlat);
    free(t);
}

size_t situ_roads_targets_count(const situ_roads_targets *t)
{
    return t->n;
}

int situ_roads_targets_place(const situ_roads_targets *t, size_t i, situ_roads_place *out_place)
{
    if (i >= t->n || t->places[i].edge == SITU__NONE)
        return SITU_ENOTFOUND;
    *out_place = t->places[i];
    return 0;
}

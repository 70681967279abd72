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
        rc = situ_roads_snap(g, c, lonlat[2 * i], lonlat[2 * i + 1], max_snap_m, &places[i], err);
        if (rc == SITU_ENOTFOUND) {
            places[i] =
                (situ_roads_place){SITU__NONE, 0, lonlat[2 * i], lonlat[2 * i + 1], INFINITY};
            rc = 0;
        }
    }
    if (rc == 0) /* else err names the bad point's coordinates */
        rc = situ_roads_targets_from_places(g, places, n, out_t, err);
    free(places);
    return rc;
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

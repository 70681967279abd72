/*
 * roads_priv.h: private to layers/roads/roads*.c. The layout of a
 * situ_roads_graph (edges, nodes, the incidence lists, the snapping index),
 * the closure bitset, the targets and the search workspace, and the
 * geodesic helpers the graph, snapping and closures share.
 */
#ifndef SITU_ROADS_PRIV_H
#define SITU_ROADS_PRIV_H

#include <geodesic.h>
#include <stdatomic.h>
#include <stdint.h>

#include "situ/heap.h"
#include "situ/index.h"
#include "situ/roads.h"

#define SITU__QUANT 1e7   /* coordinates are kept as 1e-7 degree integers */
#define SITU__RUN 16      /* edges per box of the snapping index */
#define SITU__EDGE_FWD 1u /* in situ__edge.rf: a->b drivable */
#define SITU__EDGE_BWD 2u /* b->a drivable */
#define SITU__NONE UINT32_MAX

/* One edge: a segment between consecutive vertices of a line (16 bytes). */
typedef struct situ__edge {
    uint32_t a, b; /* nodes */
    float t;       /* seconds to drive it */
    uint32_t rf;   /* road index << 2 | SITU__EDGE_FWD | SITU__EDGE_BWD */
} situ__edge;

/* One input line (roads are in Morton order of their first vertex, not in
 * input order); its edges are [edge0, next road's edge0). */
typedef struct situ__road {
    uint32_t id;
    uint32_t edge0;
    uint8_t cls, status, oneway;
} situ__road;

struct situ_roads_graph {
    size_t nedges, nnodes, nroads, nruns;
    situ__edge *edges;
    int32_t *nxy;      /* per node: lon, lat in 1e-7 degrees */
    uint32_t *inc_off; /* nnodes + 1: node v's edges are inc[inc_off[v] .. inc_off[v+1]) */
    uint32_t *inc;     /* edge indexes, each edge at both its nodes */
    situ__road *roads; /* nroads + 1 (a sentinel with edge0 = nedges) */
    uint32_t *run0;    /* nruns + 1: run r holds edges [run0[r], run0[r+1]) */
    situ_rtree *runs;  /* over the runs' lon/lat boxes */
    uint32_t *by_id;   /* road indexes sorted by caller id */
    situ_roads_closures *base;
    struct geod_geodesic geod;
    void *map; /* mapped from a graph file (roads_file.c): the arrays are in it */
    size_t map_len;
};

struct situ_roads_closures {
    atomic_int refs;
    size_t nedges;
    uint64_t *bits;
};

/* Targets attached per node, per direction: a target reached through node v
 * costs dist(v) + cost (the partial edge and the off-road stretch in it at
 * the default speed are added at search time: see roads_search.c). */
typedef struct situ__attach {
    uint32_t target;
    double part; /* fraction of the edge time between v and the target */
} situ__attach;

struct situ_roads_targets {
    size_t n;
    situ_roads_place *places; /* edge SITU__NONE: unreachable */
    /* [SITU_ROADS_TO_POINT]: targets leaving through v (driving to the point);
     * [SITU_ROADS_FROM_POINT]: targets arrived at from v */
    uint32_t *off[2];
    situ__attach *att[2];
    uint32_t *by_edge; /* target indexes sorted by edge (reachable ones) */
    size_t nby_edge;
    size_t nnodes;
    double *lonlat;    /* the points snapped (situ_roads_targets_new), else NULL */
    double max_snap_m; /* what they were snapped with */
};

struct situ_roads_ws {
    size_t nnodes, nedges;
    double *dist;
    uint32_t *parent; /* the edge a node was reached by, SITU__NONE from the origin */
    uint32_t *stamp;  /* dist/parent valid when stamp == epoch */
    uint32_t epoch;
    situ_heap heap; /* lazy: a node may be in it more than once */
    uint32_t *touched;
    size_t ntouched;
    /* targets: best cost and the node it came through */
    double *tbest;
    uint32_t *tvia, *tstamp, *tlist;
    size_t tcap, ntlist;
    uint32_t *estamp; /* per edge: the reach pieces made under mark emark */
    uint32_t emark;
    /* the last search, for routes */
    situ_roads_place origin;
    situ_roads_dir dir;
};

/* Node v's coordinates in degrees. */
static inline void situ__node_xy(const situ_roads_graph *g, uint32_t v, double *x, double *y)
{
    *x = g->nxy[2 * (size_t)v] / SITU__QUANT;
    *y = g->nxy[2 * (size_t)v + 1] / SITU__QUANT;
}

static inline int situ__closed(const situ_roads_closures *c, uint32_t e)
{
    return (int)((c->bits[e >> 6] >> (e & 63)) & 1u);
}

/* The nearest point of edge e to (lon, lat): its fraction along e and the
 * geodesic distance to it (roads_snap.c). */
double situ__edge_nearest(const situ_roads_graph *g, uint32_t e, double lon, double lat,
                          double *out_frac);
/* A lon/lat box holding every point within r metres of (lon, lat). */
void situ__radius_box(double lon, double lat, double r, double out_box[4]);

/* qsort's order of uint64_t. */
int situ__cmp_u64(const void *pa, const void *pb);

/* The search's heap (roads_search.c); ws_reset starts a new search. */
void situ__ws_reset(situ_roads_ws *ws);
int situ__ws_relax(situ_roads_ws *ws, uint32_t v, double d, uint32_t parent);
int situ__ws_pop(situ_roads_ws *ws, uint32_t *out_v, double *out_d);
double situ__ws_top(const situ_roads_ws *ws);
/* Seeds the search with origin's ends in direction dir (offroad_s added). */
int situ__ws_seed(situ_roads_ws *ws, const situ_roads_graph *g, const situ_roads_closures *c,
                  const situ_roads_place *origin, situ_roads_dir dir, double offroad_s);
/* Relaxes the edges of v settled at d in direction dir. */
int situ__ws_expand(situ_roads_ws *ws, const situ_roads_graph *g, const situ_roads_closures *c,
                    uint32_t v, double d, situ_roads_dir dir);
static inline int situ__ws_has(const situ_roads_ws *ws, uint32_t v)
{
    return ws->stamp[v] == ws->epoch;
}

#endif

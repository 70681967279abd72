/*
 * roads_graph.c: the routing graph of a road network and its speed table.
 * Owns the build (junctions by vertex hashing, edge times, the incidence
 * lists, the snapping index) and the read accessors; not the closures
 * (roads_closures.c), snapping (roads_snap.c) or searches (roads_search.c).
 *
 * Why an edge per segment and not per chain between junctions: a point then
 * attaches to one edge at one fraction, partial times are a fraction of one
 * edge's time, a closure polygon closes exactly the segments it touches and a
 * reach area ends mid-segment, all without a segment list per edge to walk.
 * The cost is the degree-2 nodes, kept small: 16 bytes per edge, one
 * incidence list per node serving both directions (an edge's fwd/bwd bits
 * say which way it may be driven), 1e-7 degree integer coordinates, and an
 * R-tree over runs of 16 consecutive edges, the lines being added in Morton
 * order of their first vertex so that a run stays local: about 42 bytes
 * per edge in all (roads_inproc reports it).
 *
 * Entry points: situ_roads_graph_new, _free, _stats, _edge, _node.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "roads_priv.h"

static const char *const class_names[SITU_ROADS_NCLASSES] = {"expressway", "national", "provincial",
                                                             "county",     "township", "village",
                                                             "urban",      "service",  "ferry"};
static const double class_kmh[SITU_ROADS_NCLASSES] = {100, 70, 60, 45, 35, 25, 30, 15, 5};

void situ_roads_config_init(situ_roads_config *cfg)
{
    memcpy(cfg->class_kmh, class_kmh, sizeof class_kmh);
    cfg->tagged_factor = SITU_ROADS_TAGGED_FACTOR;
}

const char *situ_roads_class_name(situ_roads_class cls)
{
    return (unsigned)cls < SITU_ROADS_NCLASSES ? class_names[cls] : NULL;
}

int situ_roads_class_of(const char *name)
{
    for (int i = 0; i < SITU_ROADS_NCLASSES; i++)
        if (!strcmp(name, class_names[i]))
            return i;
    return -1;
}

/* ---- junctions: an open-addressing hash of quantized vertices ------------- */

typedef struct vhash {
    uint64_t *keys; /* (qx, qy) packed, 0 = empty slot (+1 offset) */
    uint32_t *node;
    size_t mask;
} vhash;

static uint64_t vkey(int32_t qx, int32_t qy)
{
    return ((uint64_t)(uint32_t)qx << 32 | (uint32_t)qy) + 1;
}

static size_t vslot(uint64_t k, size_t mask)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & mask;
}

/* The node of (qx, qy), a new one (numbered *nnodes++, its coordinates
 * written to nxy) when first seen. */
static uint32_t vhash_node(vhash *h, int32_t qx, int32_t qy, int32_t *nxy, size_t *nnodes)
{
    uint64_t k = vkey(qx, qy);
    size_t s = vslot(k, h->mask);
    while (h->keys[s] && h->keys[s] != k)
        s = (s + 1) & h->mask;
    if (!h->keys[s]) {
        h->keys[s] = k;
        h->node[s] = (uint32_t)*nnodes;
        nxy[2 * *nnodes] = qx, nxy[2 * *nnodes + 1] = qy;
        (*nnodes)++;
    }
    return h->node[s];
}

/* ---- the build ------------------------------------------------------------ */

static int check_line(const situ_roads_line *l, size_t i, situ_err *err)
{
    if (!l->xy && l->n)
        return situ_err_set(err, SITU_EINVAL, "line %zu: no coordinates", i);
    if ((unsigned)l->cls >= SITU_ROADS_NCLASSES || (unsigned)l->oneway > SITU_ROADS_REVERSE ||
        (unsigned)l->status > SITU_ROADS_RESTRICTED)
        return situ_err_set(err, SITU_EINVAL, "line %zu: bad class, oneway or status", i);
    if (!(l->speed_kmh >= 0 && l->speed_kmh <= 400) ||
        !(l->duration_s >= 0 && isfinite(l->duration_s)))
        return situ_err_set(err, SITU_EINVAL, "line %zu: speed_kmh or duration_s out of range", i);
    for (uint32_t j = 0; j < l->n; j++) {
        double x = l->xy[2 * j], y = l->xy[2 * j + 1];
        if (!(x >= -180 && x <= 180 && y >= -90 && y <= 90))
            return situ_err_set(err, SITU_EINVAL, "line %zu: vertex %u is not lon/lat", i, j);
    }
    return 0;
}

static double line_speed_ms(const situ_roads_line *l, const situ_roads_config *cfg)
{
    double kmh = l->speed_kmh > 0 ? l->speed_kmh * (l->speed_tagged ? cfg->tagged_factor : 1.0)
                                  : cfg->class_kmh[l->cls];
    return kmh / 3.6;
}

static double seg_m(const situ_roads_graph *g, uint32_t a, uint32_t b)
{
    double ax, ay, bx, by, s;
    situ__node_xy(g, a, &ax, &ay);
    situ__node_xy(g, b, &bx, &by);
    geod_inverse(&g->geod, ay, ax, by, bx, &s, NULL, NULL);
    return s;
}

/* Adds line l's edges (road r) to g, its vertices' nodes through h. */
static void add_line(situ_roads_graph *g, vhash *h, const situ_roads_line *l, uint32_t r,
                     const situ_roads_config *cfg)
{
    uint32_t dir = l->oneway == SITU_ROADS_ONEWAY    ? SITU__EDGE_FWD
                   : l->oneway == SITU_ROADS_REVERSE ? SITU__EDGE_BWD
                                                     : SITU__EDGE_FWD | SITU__EDGE_BWD;
    size_t e0 = g->nedges;
    uint32_t prev = SITU__NONE;
    double total_m = 0;
    g->roads[r] =
        (situ__road){l->id, (uint32_t)e0, (uint8_t)l->cls, (uint8_t)l->status, (uint8_t)l->oneway};
    for (uint32_t j = 0; j < l->n; j++) {
        int32_t qx = (int32_t)llround(l->xy[2 * j] * SITU__QUANT);
        int32_t qy = (int32_t)llround(l->xy[2 * j + 1] * SITU__QUANT);
        uint32_t v = vhash_node(h, qx, qy, g->nxy, &g->nnodes);
        if (prev != SITU__NONE && v != prev) {
            double m = seg_m(g, prev, v);
            g->edges[g->nedges++] = (situ__edge){prev, v, (float)m, r << 2 | dir};
            total_m += m;
        }
        prev = v;
    }
    /* t held metres so far; now seconds */
    int by_duration = l->cls == SITU_ROADS_FERRY && l->duration_s > 0 && total_m > 0;
    double speed = line_speed_ms(l, cfg);
    for (size_t e = e0; e < g->nedges; e++)
        g->edges[e].t =
            (float)(by_duration ? l->duration_s * g->edges[e].t / total_m : g->edges[e].t / speed);
}

static int build_incidence(situ_roads_graph *g)
{
    g->inc_off = calloc(g->nnodes + 1, sizeof *g->inc_off);
    g->inc = malloc((2 * g->nedges + 1) * sizeof *g->inc);
    if (!g->inc_off || !g->inc)
        return SITU_ENOMEM;
    for (size_t e = 0; e < g->nedges; e++)
        g->inc_off[g->edges[e].a + 1]++, g->inc_off[g->edges[e].b + 1]++;
    for (size_t v = 0; v < g->nnodes; v++)
        g->inc_off[v + 1] += g->inc_off[v];
    uint32_t *fill = malloc((g->nnodes + 1) * sizeof *fill);
    if (!fill)
        return SITU_ENOMEM;
    memcpy(fill, g->inc_off, g->nnodes * sizeof *fill);
    for (size_t e = 0; e < g->nedges; e++) {
        g->inc[fill[g->edges[e].a]++] = (uint32_t)e;
        g->inc[fill[g->edges[e].b]++] = (uint32_t)e;
    }
    free(fill);
    return 0;
}

/* Runs of SITU__RUN consecutive edges (roads are in space-filling-curve
 * order, so a run stays local), boxed into an R-tree. */
static int build_runs(situ_roads_graph *g)
{
    size_t cap = g->nedges / SITU__RUN + 1;
    double *boxes = malloc(4 * cap * sizeof *boxes);
    g->run0 = malloc((cap + 1) * sizeof *g->run0);
    if (!boxes || !g->run0) {
        free(boxes);
        return SITU_ENOMEM;
    }
    for (size_t e = 0; e < g->nedges; e += SITU__RUN) {
        size_t end = e + SITU__RUN < g->nedges ? e + SITU__RUN : g->nedges;
        double *bx = boxes + 4 * g->nruns;
        bx[0] = bx[1] = INFINITY, bx[2] = bx[3] = -INFINITY;
        for (size_t i = e; i < end; i++)
            for (int s = 0; s < 2; s++) {
                double x, y;
                situ__node_xy(g, s ? g->edges[i].b : g->edges[i].a, &x, &y);
                bx[0] = fmin(bx[0], x), bx[1] = fmin(bx[1], y);
                bx[2] = fmax(bx[2], x), bx[3] = fmax(bx[3], y);
            }
        g->run0[g->nruns++] = (uint32_t)e;
    }
    g->run0[g->nruns] = (uint32_t)g->nedges;
    g->runs = situ_rtree_new(boxes, g->nruns);
    free(boxes);
    return g->runs ? 0 : SITU_ENOMEM;
}

/* 16 bits of x and of y interleaved (a Morton code). */
static uint32_t morton(uint32_t x, uint32_t y)
{
    uint64_t v = 0;
    for (int b = 0; b < 16; b++)
        v |= (uint64_t)((x >> b) & 1u) << (2 * b) | (uint64_t)((y >> b) & 1u) << (2 * b + 1);
    return (uint32_t)v;
}

/* The order to add lines in: by the Morton code of their first vertex (ties
 * by input order), so consecutive edges lie close together. */
static uint32_t *line_order(const situ_roads_line *lines, size_t n)
{
    uint64_t *keys = malloc((n + 1) * sizeof *keys);
    uint32_t *order = malloc((n + 1) * sizeof *order);
    if (!keys || !order) {
        free(keys);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        double x = lines[i].n ? lines[i].xy[0] : 0, y = lines[i].n ? lines[i].xy[1] : 0;
        uint32_t qx = (uint32_t)((x + 180) / 360 * 65535), qy = (uint32_t)((y + 90) / 180 * 65535);
        keys[i] = (uint64_t)morton(qx, qy) << 32 | i;
    }
    qsort(keys, n, sizeof *keys, situ__cmp_u64);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)keys[i];
    free(keys);
    return order;
}

int situ__cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* g->by_id: road indexes by caller id (then index). */
static int build_by_id(situ_roads_graph *g)
{
    uint64_t *keys = malloc((g->nroads + 1) * sizeof *keys);
    if (!keys)
        return SITU_ENOMEM;
    for (size_t i = 0; i < g->nroads; i++)
        keys[i] = (uint64_t)g->roads[i].id << 32 | i;
    qsort(keys, g->nroads, sizeof *keys, situ__cmp_u64);
    for (size_t i = 0; i < g->nroads; i++)
        g->by_id[i] = (uint32_t)keys[i];
    free(keys);
    return 0;
}

/*
 * Builds the graph of lines[0..n) (see roads.h). The caller owns lines; the
 * graph copies what it keeps and is freed with situ_roads_graph_free.
 */
int situ_roads_graph_new(const situ_roads_line *lines, size_t n, const situ_roads_config *cfg,
                         situ_roads_graph **out_g, situ_err *err)
{
    situ_roads_config defaults;
    vhash h = {0};
    uint32_t *order = NULL;
    size_t nverts = 0;
    int rc = SITU_ENOMEM;
    if (!cfg)
        situ_roads_config_init(&defaults), cfg = &defaults;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_line(&lines[i], i, err)) < 0)
            return rc;
        nverts += lines[i].n;
    }
    if (nverts >= UINT32_MAX / 2 || n >= (1u << 30))
        return situ_err_set(err, SITU_ELIMIT, "roads: %zu vertices, too many", nverts);
    situ_roads_graph *g = calloc(1, sizeof *g);
    if (!g)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    geod_init(&g->geod, 6378137.0, 1 / 298.257223563);
    size_t cap = 16;
    while (cap < 2 * nverts)
        cap *= 2;
    h.mask = cap - 1;
    h.keys = calloc(cap, sizeof *h.keys);
    h.node = malloc(cap * sizeof *h.node);
    g->nxy = malloc((2 * nverts + 2) * sizeof *g->nxy);
    g->edges = malloc((nverts + 1) * sizeof *g->edges);
    g->roads = malloc((n + 1) * sizeof *g->roads);
    g->by_id = malloc((n + 1) * sizeof *g->by_id);
    order = line_order(lines, n);
    if (!h.keys || !h.node || !g->nxy || !g->edges || !g->roads || !g->by_id || !order)
        goto fail;
    for (size_t i = 0; i < n; i++)
        add_line(g, &h, &lines[order[i]], (uint32_t)i, cfg);
    g->nroads = n;
    g->roads[n] = (situ__road){0, (uint32_t)g->nedges, 0, 0, 0};
    /* give back what dropped vertices left unused */
    situ__edge *edges = realloc(g->edges, (g->nedges + 1) * sizeof *g->edges);
    int32_t *nxy = realloc(g->nxy, (2 * g->nnodes + 2) * sizeof *g->nxy);
    if (edges)
        g->edges = edges;
    if (nxy)
        g->nxy = nxy;
    if (build_by_id(g) < 0 || build_incidence(g) < 0 || build_runs(g) < 0)
        goto fail;
    if ((rc = situ_roads_closures_new(g, &g->base, err)) < 0)
        goto fail;
    free(h.keys);
    free(h.node);
    free(order);
    *out_g = g;
    return 0;
fail:
    free(h.keys);
    free(h.node);
    free(order);
    situ_roads_graph_free(g);
    return rc == SITU_ENOMEM ? situ_err_set(err, SITU_ENOMEM, "roads: out of memory") : rc;
}

void situ_roads_graph_free(situ_roads_graph *g)
{
    if (!g)
        return;
    situ_roads_closures_release(g->base);
    if (g->map) { /* the arrays are the file's (roads_file.c) */
        free(g->runs);
        munmap(g->map, g->map_len);
        free(g);
        return;
    }
    situ_rtree_free(g->runs);
    free(g->edges);
    free(g->nxy);
    free(g->inc_off);
    free(g->inc);
    free(g->roads);
    free(g->run0);
    free(g->by_id);
    free(g);
}

void situ_roads_graph_stats(const situ_roads_graph *g, situ_roads_stats *out)
{
    size_t b = sizeof *g + g->nedges * sizeof *g->edges + 2 * g->nnodes * sizeof *g->nxy +
               (g->nnodes + 1) * sizeof *g->inc_off + 2 * g->nedges * sizeof *g->inc +
               (g->nroads + 1) * (sizeof *g->roads + sizeof *g->by_id) +
               (g->nruns + 1) * sizeof *g->run0 + (g->nedges + 63) / 64 * 8;
    if (g->runs)
        b += sizeof *g->runs + g->runs->nslots * (4 * sizeof(double) + sizeof(uint32_t));
    out->nodes = g->nnodes;
    out->edges = g->nedges;
    out->roads = g->nroads;
    out->bytes = b;
    out->bytes_per_edge = g->nedges ? (double)b / (double)g->nedges : 0;
}

void situ_roads_graph_edge(const situ_roads_graph *g, uint32_t e, situ_roads_edge *out)
{
    const situ__edge *ed = &g->edges[e];
    out->a = ed->a;
    out->b = ed->b;
    out->time_s = ed->t;
    out->fwd = (ed->rf & SITU__EDGE_FWD) != 0;
    out->bwd = (ed->rf & SITU__EDGE_BWD) != 0;
    out->road = g->roads[ed->rf >> 2].id;
    out->cls = (situ_roads_class)g->roads[ed->rf >> 2].cls;
}

void situ_roads_graph_node(const situ_roads_graph *g, uint32_t v, double out_xy[2])
{
    situ__node_xy(g, v, &out_xy[0], &out_xy[1]);
}

double situ_roads_edge_m(const situ_roads_graph *g, uint32_t e)
{
    return seg_m(g, g->edges[e].a, g->edges[e].b);
}

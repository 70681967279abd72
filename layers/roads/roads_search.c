/*
 * roads_search.c: the k nearest targets by travel time, everything within a
 * time, and the routes to them. Owns the search workspace (a binary heap
 * and per-node distances, stamped so a search clears nothing), Dijkstra from
 * a place in either direction, and route reconstruction; not snapping
 * (roads_snap.c) or reach areas (roads_reach.c), which reuse the heap.
 *
 * FROM_POINT runs Dijkstra forward from the origin; TO_POINT runs it on the
 * reverse graph (each edge driven against its allowed direction), so dist(v)
 * is the time from v to the origin. A target costs, through a node v settled
 * at d, d + (part * edge time + its off-road time) (see roads_targets.c), or
 * the direct stretch along the origin's own edge. The search stops once the
 * next node's distance exceeds both the k-th best target's cost and max_s:
 * no later node can give a target a cost as low (ties: by target index, so
 * equal costs keep the search going). The graph, closures and targets are
 * only read; the workspace is the query's own.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

#define TOPK_MAX 256 /* beyond, only max_s stops the search early */

situ_roads_ws *situ_roads_ws_new(const situ_roads_graph *g)
{
    situ_roads_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->nnodes = g->nnodes;
    ws->nedges = g->nedges;
    ws->dist = malloc((g->nnodes + 1) * sizeof *ws->dist);
    ws->parent = malloc((g->nnodes + 1) * sizeof *ws->parent);
    ws->stamp = calloc(g->nnodes + 1, sizeof *ws->stamp);
    ws->touched = malloc((g->nnodes + 1) * sizeof *ws->touched);
    ws->estamp = calloc(g->nedges + 1, sizeof *ws->estamp);
    if (!ws->dist || !ws->parent || !ws->stamp || !ws->touched || !ws->estamp) {
        situ_roads_ws_free(ws);
        return NULL;
    }
    return ws;
}

void situ_roads_ws_free(situ_roads_ws *ws)
{
    if (!ws)
        return;
    free(ws->dist);
    free(ws->parent);
    free(ws->stamp);
    free(ws->touched);
    free(ws->estamp);
    situ_heap_dispose(&ws->heap);
    free(ws->tbest);
    free(ws->tvia);
    free(ws->tstamp);
    free(ws->tlist);
    free(ws);
}

/* ---- the heap (lazy: a node may be in it more than once; stale entries are
 * skipped when popped) ------------------------------------------------------- */

void situ__ws_reset(situ_roads_ws *ws)
{
    if (++ws->epoch == 0) { /* wrapped: clear the stamps once every 2^32 searches */
        memset(ws->stamp, 0, ws->nnodes * sizeof *ws->stamp);
        if (ws->tstamp)
            memset(ws->tstamp, 0, ws->tcap * sizeof *ws->tstamp);
        ws->epoch = 1;
    }
    ws->heap.n = 0;
    ws->ntouched = 0;
    ws->ntlist = 0;
}

/* Lowers v's distance to d (reached by edge parent); 1 when it did. */
int situ__ws_relax(situ_roads_ws *ws, uint32_t v, double d, uint32_t parent)
{
    if (ws->stamp[v] == ws->epoch && ws->dist[v] <= d)
        return 0;
    if (ws->stamp[v] != ws->epoch) {
        ws->stamp[v] = ws->epoch;
        ws->touched[ws->ntouched++] = v;
    }
    ws->dist[v] = d;
    ws->parent[v] = parent;
    return situ_heap_push(&ws->heap, d, v) < 0 ? SITU_ENOMEM : 1;
}

/* The least key in the heap (INFINITY when empty); stale keys may stand
 * below the true least distance, never above it. */
double situ__ws_top(const situ_roads_ws *ws)
{
    return ws->heap.n ? ws->heap.v[0].key : INFINITY;
}

/* Pops the next node to settle; 0 when the heap is empty. */
int situ__ws_pop(situ_roads_ws *ws, uint32_t *out_v, double *out_d)
{
    while (ws->heap.n) {
        situ_heap_ent e = situ_heap_pop(&ws->heap);
        if (e.key == ws->dist[e.id]) { /* else stale: v was lowered since */
            *out_v = e.id;
            *out_d = e.key;
            return 1;
        }
    }
    return 0;
}

int situ__ws_seed(situ_roads_ws *ws, const situ_roads_graph *g, const situ_roads_closures *c,
                  const situ_roads_place *origin, situ_roads_dir dir, double offroad_s)
{
    const situ__edge *e = &g->edges[origin->edge];
    int fwd = (e->rf & SITU__EDGE_FWD) != 0, bwd = (e->rf & SITU__EDGE_BWD) != 0;
    /* FROM: drive to b if a->b, to a if b->a. TO: come from a if a->b, from b if b->a. */
    int to_b = dir == SITU_ROADS_FROM_POINT ? fwd : bwd;
    int to_a = dir == SITU_ROADS_FROM_POINT ? bwd : fwd;
    int rc = 0;
    if (situ__closed(c, origin->edge))
        return 0;
    if (to_a)
        rc = situ__ws_relax(ws, e->a, offroad_s + origin->frac * (double)e->t, SITU__NONE);
    if (rc >= 0 && to_b)
        rc = situ__ws_relax(ws, e->b, offroad_s + (1 - origin->frac) * (double)e->t, SITU__NONE);
    return rc < 0 ? rc : 0;
}

int situ__ws_expand(situ_roads_ws *ws, const situ_roads_graph *g, const situ_roads_closures *c,
                    uint32_t v, double d, situ_roads_dir dir)
{
    /* forward: leave v along a->b (v = a, fwd) or b->a (v = b, bwd);
     * reverse: the same with the bits swapped */
    uint32_t from_a = dir == SITU_ROADS_FROM_POINT ? SITU__EDGE_FWD : SITU__EDGE_BWD;
    uint32_t from_b = dir == SITU_ROADS_FROM_POINT ? SITU__EDGE_BWD : SITU__EDGE_FWD;
    for (uint32_t i = g->inc_off[v]; i < g->inc_off[v + 1]; i++) {
        uint32_t ei = g->inc[i];
        const situ__edge *e = &g->edges[ei];
        uint32_t w = e->a == v ? e->b : e->a;
        if (!(e->rf & (e->a == v ? from_a : from_b)) || situ__closed(c, ei))
            continue;
        if (situ__ws_relax(ws, w, d + (double)e->t, ei) < 0)
            return SITU_ENOMEM;
    }
    return 0;
}

/* ---- targets ------------------------------------------------------------------ */

typedef struct kbest {
    int k;
    int n;
    situ_roads_hit top[TOPK_MAX]; /* the k best so far, by cost then target */
} kbest;

static int hit_before(double ca, uint32_t ta, double cb, uint32_t tb)
{
    return ca < cb || (ca == cb && ta < tb);
}

/* Target t now costs cost: moves or enters it in the k best. */
static void kbest_offer(kbest *kb, uint32_t t, double cost)
{
    int i = 0;
    while (i < kb->n && kb->top[i].target != t)
        i++;
    if (i == kb->n) {
        if (kb->n < kb->k)
            kb->n++;
        else if (!hit_before(cost, t, kb->top[kb->n - 1].travel_s, kb->top[kb->n - 1].target))
            return;
        i = kb->n - 1;
    }
    while (i > 0 && hit_before(cost, t, kb->top[i - 1].travel_s, kb->top[i - 1].target)) {
        kb->top[i] = kb->top[i - 1];
        i--;
    }
    kb->top[i].target = t;
    kb->top[i].travel_s = cost;
}

static double kbest_bound(const kbest *kb)
{
    return kb->k > 0 && kb->n == kb->k ? kb->top[kb->n - 1].travel_s : INFINITY;
}

static int ws_targets(situ_roads_ws *ws, size_t n)
{
    if (ws->tcap >= n && ws->tbest)
        return 0;
    free(ws->tbest), free(ws->tvia), free(ws->tstamp), free(ws->tlist);
    ws->tbest = malloc((n + 1) * sizeof *ws->tbest);
    ws->tvia = malloc((n + 1) * sizeof *ws->tvia);
    ws->tstamp = calloc(n + 1, sizeof *ws->tstamp);
    ws->tlist = malloc((n + 1) * sizeof *ws->tlist);
    ws->tcap = n;
    return ws->tbest && ws->tvia && ws->tstamp && ws->tlist ? 0 : SITU_ENOMEM;
}

typedef struct search {
    const situ_roads_graph *g;
    const situ_roads_closures *c;
    const situ_roads_targets *t;
    const situ_roads_query *q;
    situ_roads_ws *ws;
    double offroad_ms;
    kbest kb;
} search;

/* Target i costs cost through node via (SITU__NONE: along the origin's edge). */
static void offer(search *s, uint32_t i, double cost, uint32_t via)
{
    situ_roads_ws *ws = s->ws;
    if (ws->tstamp[i] != ws->epoch) {
        ws->tstamp[i] = ws->epoch;
        int ok = !situ__closed(s->c, s->t->places[i].edge) &&
                 (!s->q->keep || s->q->keep(s->q->keep_ctx, i));
        ws->tbest[i] = ok ? INFINITY : NAN; /* NAN: filtered out for this search */
        if (ok)
            ws->tlist[ws->ntlist++] = i;
    }
    if (!(cost < ws->tbest[i])) /* also false for NAN */
        return;
    ws->tbest[i] = cost;
    ws->tvia[i] = via;
    if (s->kb.k)
        kbest_offer(&s->kb, i, cost);
}

static double offroad_s(const search *s, uint32_t target)
{
    return s->t->places[target].snap_m / s->offroad_ms;
}

/* The targets on the origin's own edge, driven along it without a node. */
static void offer_direct(search *s, const situ_roads_place *o, double origin_off)
{
    const situ_roads_targets *t = s->t;
    const situ__edge *e = &s->g->edges[o->edge];
    size_t lo = 0, hi = t->nby_edge;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->places[t->by_edge[mid]].edge < o->edge)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < t->nby_edge && t->places[t->by_edge[lo]].edge == o->edge; lo++) {
        uint32_t i = t->by_edge[lo];
        double ft = t->places[i].frac;
        /* the mover goes from x to y along the edge */
        double x = s->q->dir == SITU_ROADS_TO_POINT ? ft : o->frac;
        double y = s->q->dir == SITU_ROADS_TO_POINT ? o->frac : ft;
        if ((y >= x && (e->rf & SITU__EDGE_FWD)) || (y <= x && (e->rf & SITU__EDGE_BWD)))
            offer(s, i, origin_off + (fabs(y - x) * (double)e->t + offroad_s(s, i)), SITU__NONE);
    }
}

static void settle_targets(search *s, uint32_t v, double d)
{
    const situ_roads_targets *t = s->t;
    int dir = s->q->dir;
    for (uint32_t j = t->off[dir][v]; j < t->off[dir][v + 1]; j++) {
        const situ__attach *a = &t->att[dir][j];
        double te = (double)s->g->edges[t->places[a->target].edge].t;
        offer(s, a->target, d + (a->part * te + offroad_s(s, a->target)), v);
    }
}

static int cmp_hit(const void *pa, const void *pb)
{
    const situ_roads_hit *a = pa, *b = pb;
    return hit_before(a->travel_s, a->target, b->travel_s, b->target)   ? -1
           : hit_before(b->travel_s, b->target, a->travel_s, a->target) ? 1
                                                                        : 0;
}

/* Sorts the offered targets within max_s into hits (up to k). */
static int collect(search *s, situ_roads_hit *hits, int *out_n, double origin_off)
{
    situ_roads_ws *ws = s->ws;
    situ_roads_hit *all = malloc((ws->ntlist + 1) * sizeof *all);
    size_t n = 0;
    if (!all)
        return SITU_ENOMEM;
    for (size_t j = 0; j < ws->ntlist; j++) {
        uint32_t i = ws->tlist[j];
        if (ws->tbest[i] < INFINITY && ws->tbest[i] <= s->q->max_s)
            all[n++] = (situ_roads_hit){i, ws->tbest[i],
                                        ws->tbest[i] - origin_off - offroad_s(s, i), ws->tvia[i]};
    }
    qsort(all, n, sizeof *all, cmp_hit);
    int k = n < (size_t)s->q->k ? (int)n : s->q->k;
    memcpy(hits, all, (size_t)k * sizeof *hits);
    free(all);
    *out_n = k;
    return 0;
}

void situ_roads_query_init(situ_roads_query *q)
{
    memset(q, 0, sizeof *q);
    q->dir = SITU_ROADS_TO_POINT;
    q->k = 5;
    q->max_s = INFINITY;
    q->offroad_kmh = SITU_ROADS_OFFROAD_KMH;
}

/* See roads.h. Dijkstra from origin until no unsettled node can improve the
 * answer; hits sorted by travel_s then target. */
int situ_roads_search(const situ_roads_graph *g, const situ_roads_closures *c,
                      const situ_roads_targets *t, const situ_roads_place *origin,
                      const situ_roads_query *q, situ_roads_ws *ws, situ_roads_hit *hits,
                      int *out_n, situ_err *err)
{
    if (q->k < 1 || !(q->offroad_kmh > 0) || !(q->max_s >= 0) || origin->edge >= g->nedges ||
        ws->nnodes != g->nnodes || t->nnodes != g->nnodes)
        return situ_err_set(err, SITU_EINVAL, "roads: bad query (k, offroad_kmh, max_s, origin)");
    if (ws_targets(ws, t->n) < 0)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    search s = {g, c ? c : g->base, t, q, ws, q->offroad_kmh / 3.6, {0}};
    s.kb.k = q->k <= TOPK_MAX ? q->k : 0;
    double origin_off = origin->snap_m / s.offroad_ms;
    situ__ws_reset(ws);
    ws->origin = *origin;
    ws->dir = q->dir;
    if (situ__closed(s.c, origin->edge))
        return situ_err_set(err, SITU_EINVAL, "roads: the origin is on a closed road");
    if (situ__ws_seed(ws, g, s.c, origin, q->dir, origin_off) < 0)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    offer_direct(&s, origin, origin_off);
    uint32_t v;
    double d;
    /* max_s, lowered to the k-th best cost once k targets are found */
    double bound = kbest_bound(&s.kb) < q->max_s ? kbest_bound(&s.kb) : q->max_s;
    while (situ__ws_top(ws) <= bound && situ__ws_pop(ws, &v, &d)) {
        settle_targets(&s, v, d);
        if (situ__ws_expand(ws, g, s.c, v, d, q->dir) < 0)
            return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
        if (kbest_bound(&s.kb) < bound)
            bound = kbest_bound(&s.kb);
    }
    if (collect(&s, hits, out_n, origin_off) < 0)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    return 0;
}

/* ---- routes --------------------------------------------------------------------- */

typedef struct legs {
    situ_roads_leg *v;
    size_t cap, n;
} legs;

/* Appends the stretch of e from one fraction to another (none when empty). */
static void leg_add(legs *l, const situ_roads_graph *g, uint32_t e, double from, double to)
{
    if (from == to)
        return;
    if (l->n < l->cap) {
        double m = situ_roads_edge_m(g, e), f = fabs(to - from);
        l->v[l->n] = (situ_roads_leg){e,     g->roads[g->edges[e].rf >> 2].id, from, to,
                                      f * m, f * (double)g->edges[e].t};
    }
    l->n++;
}

/* The fraction of node v on edge e (0 at a, 1 at b). */
static double node_frac(const situ_roads_graph *g, uint32_t e, uint32_t v)
{
    return g->edges[e].a == v ? 0.0 : 1.0;
}

/* The node the search started v's path from (an end of the origin's edge). */
static uint32_t seed_of(const situ_roads_graph *g, const situ_roads_ws *ws, uint32_t v)
{
    while (ws->parent[v] != SITU__NONE) {
        const situ__edge *e = &g->edges[ws->parent[v]];
        v = e->a == v ? e->b : e->a;
    }
    return v;
}

/* The chain of edges between the seed and v as legs in driving order
 * (parents point back to the origin: reversed for FROM_POINT). Returns the
 * seed node. */
static uint32_t path_legs(legs *l, const situ_roads_graph *g, const situ_roads_ws *ws, uint32_t v)
{
    size_t first = l->n;
    while (ws->parent[v] != SITU__NONE) {
        uint32_t e = ws->parent[v];
        uint32_t u = g->edges[e].a == v ? g->edges[e].b : g->edges[e].a;
        /* TO_POINT: parent chain is driving order v -> u; FROM: u -> v */
        if (ws->dir == SITU_ROADS_TO_POINT)
            leg_add(l, g, e, node_frac(g, e, v), node_frac(g, e, u));
        else
            leg_add(l, g, e, node_frac(g, e, u), node_frac(g, e, v));
        v = u;
    }
    if (ws->dir == SITU_ROADS_FROM_POINT) /* reverse what was written */
        for (size_t i = first, j = (l->n < l->cap ? l->n : l->cap); i + 1 < j; i++, j--) {
            situ_roads_leg tmp = l->v[i];
            l->v[i] = l->v[j - 1];
            l->v[j - 1] = tmp;
        }
    return v;
}

/* See roads.h. Only reads ws (its last search). */
int situ_roads_route(const situ_roads_graph *g, const situ_roads_targets *t,
                     const situ_roads_ws *ws, const situ_roads_hit *h, situ_roads_leg *legs_out,
                     size_t cap, size_t *out_n, situ_err *err)
{
    if (h->target >= t->n || t->places[h->target].edge == SITU__NONE)
        return situ_err_set(err, SITU_EINVAL, "route: no such target");
    const situ_roads_place *o = &ws->origin, *tp = &t->places[h->target];
    legs l = {legs_out, cap, 0};
    int to = ws->dir == SITU_ROADS_TO_POINT;
    if (h->via == SITU__NONE) {
        leg_add(&l, g, o->edge, to ? tp->frac : o->frac, to ? o->frac : tp->frac);
    } else if (to) { /* target -> via -> ... -> seed -> origin */
        leg_add(&l, g, tp->edge, tp->frac, node_frac(g, tp->edge, h->via));
        uint32_t seed = path_legs(&l, g, ws, h->via);
        leg_add(&l, g, o->edge, node_frac(g, o->edge, seed), o->frac);
    } else { /* origin -> seed -> ... -> via -> target */
        leg_add(&l, g, o->edge, o->frac, node_frac(g, o->edge, seed_of(g, ws, h->via)));
        path_legs(&l, g, ws, h->via);
        leg_add(&l, g, tp->edge, node_frac(g, tp->edge, h->via), tp->frac);
    }
    *out_n = l.n;
    if (l.n > cap)
        return situ_err_set(err, SITU_ELIMIT, "route: %zu legs, room for %zu", l.n, cap);
    return 0;
}

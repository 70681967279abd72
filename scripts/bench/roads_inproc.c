/*
 * roads_inproc.c: the in-process road benchmark (issue 15). On the Helsinki
 * OSM extract and on a synthetic grid of >= 100,000 edges: graph build time,
 * bytes per edge, k=5 nearest by road (both directions, unfiltered and with
 * a 10 % filter) p50/p99, a 30-minute reach (edges, then polygons of 10, 20
 * and 30 minutes) p50/p99, the 30-minute area alone (edges and its polygon,
 * wall and thread CPU time),
 * and the time a closure takes to apply (clone + radius close + publish +
 * targets re-snapped). Plain Dijkstra with early stop, one thread. Wall
 * times: on a shared machine the p99 holds the scheduler's time slices;
 * run it under /usr/bin/time -v to see the CPU time it took.
 *
 *   roads_inproc [HELSINKI_PBF [OSMCONF]]   (defaults: beside the source tree)
 *   DEMO=situ.sqlite roads_inproc            (a loaded demo's roads, its resources
 *                                             as the targets, instead)
 *   QUERIES=N (default 2000), TARGETS=N (default 1000), GRID=N (default 130)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "situ/roads.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "bench.h"

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n ? v[(int)fmin(n - 1, floor(p * n))] : NAN;
}

static unsigned rng = 42;
static double urand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (double)(rng >> 8) / 16777216.0;
}

static int keep_tenth(void *ctx, uint32_t t)
{
    (void)ctx;
    return t % 10 == 0;
}

static int keep_one(void *ctx, uint32_t t)
{
    return t == *(const uint32_t *)ctx;
}

static void bbox_of(const situ_roads_osm *o, double bb[4])
{
    bb[0] = bb[1] = INFINITY, bb[2] = bb[3] = -INFINITY;
    for (size_t i = 0; i < o->n; i++)
        for (uint32_t j = 0; j < o->lines[i].n; j++) {
            bb[0] = fmin(bb[0], o->lines[i].xy[2 * j]),
            bb[1] = fmin(bb[1], o->lines[i].xy[2 * j + 1]);
            bb[2] = fmax(bb[2], o->lines[i].xy[2 * j]),
            bb[3] = fmax(bb[3], o->lines[i].xy[2 * j + 1]);
        }
}

static void random_point(const double bb[4], double *x, double *y)
{
    *x = bb[0] + urand() * (bb[2] - bb[0]);
    *y = bb[1] + urand() * (bb[3] - bb[1]);
}

/* nq searches for one target each, as /route makes them (k 1, a filter
 * keeping that target only: Dijkstra stops once it is reached), times into
 * ms. Not inlined, for callgrind --toggle-collect=route_run. */
static __attribute__((noinline)) void route_run(const situ_roads_graph *g,
                                                const situ_roads_targets *t,
                                                const situ_roads_place *origins, int nq,
                                                int ntargets, situ_roads_ws *ws, double *ms)
{
    situ_roads_query q;
    situ_roads_query_init(&q);
    q.k = 1;
    q.keep = keep_one;
    situ_roads_hit hit;
    situ_err err;
    int n;
    uint32_t one;
    q.keep_ctx = &one;
    for (int i = 0; i < nq; i++) {
        one = (uint32_t)((unsigned)i * 7919u % (unsigned)ntargets);
        double t0 = now_ms();
        situ_roads_search(g, NULL, t, &origins[i], &q, ws, &hit, &n, &err);
        ms[i] = now_ms() - t0;
    }
}

/* tpts (NULL: ntargets random points) are the targets' lon/lat pairs. */
static void bench(const char *name, const situ_roads_osm *o, int nq, int ntargets,
                  const double *tpts)
{
    situ_err err;
    situ_roads_graph *g = NULL;
    double t0, build[5];
    for (int i = 0; i < 5; i++) {
        situ_roads_graph_free(g);
        t0 = now_ms();
        if (situ_roads_graph_new(o->lines, o->n, NULL, &g, &err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            exit(1);
        }
        build[i] = now_ms() - t0;
    }
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    printf("%s build_ms=%.1f edges=%zu nodes=%zu bytes_per_edge=%.1f\n", name, pct(build, 5, 0.5),
           st.edges, st.nodes, st.bytes_per_edge);

    double bb[4];
    bbox_of(o, bb);
    double *pts = malloc(2 * (size_t)ntargets * sizeof *pts);
    for (int i = 0; i < ntargets; i++)
        if (tpts)
            pts[2 * i] = tpts[2 * i], pts[2 * i + 1] = tpts[2 * i + 1];
        else
            random_point(bb, &pts[2 * i], &pts[2 * i + 1]);
    situ_roads_targets *t;
    t0 = now_ms();
    situ_roads_targets_new(g, NULL, pts, (size_t)ntargets, SITU_ROADS_MAX_SNAP_M, &t, &err);
    double targets_ms = now_ms() - t0;

    situ_roads_ws *ws = situ_roads_ws_new(g);
    double *ms = malloc((size_t)nq * sizeof *ms);
    situ_roads_place *origins = malloc((size_t)nq * sizeof *origins);
    for (int i = 0; i < nq; i++) {
        double x, y;
        do
            random_point(bb, &x, &y);
        while (situ_roads_snap(g, NULL, x, y, SITU_ROADS_MAX_SNAP_M, &origins[i], &err) != 0);
    }
    for (int variant = 0; variant < 4; variant++) {
        situ_roads_query q;
        situ_roads_query_init(&q);
        q.dir = variant % 2 ? SITU_ROADS_FROM_POINT : SITU_ROADS_TO_POINT;
        q.keep = variant >= 2 ? keep_tenth : NULL;
        situ_roads_hit hits[5];
        int n;
        for (int i = 0; i < nq; i++) {
            t0 = now_ms(); /* snapping the query point is part of it */
            situ_roads_place p;
            situ_roads_snap(g, NULL, origins[i].lon, origins[i].lat, 1000, &p, &err);
            situ_roads_search(g, NULL, t, &p, &q, ws, hits, &n, &err);
            ms[i] = now_ms() - t0;
        }
        double p50 = pct(ms, nq, 0.5), p99 = pct(ms, nq, 0.99);
        printf("%s knn5_%s%s p50_ms=%.3f p99_ms=%.3f\n", name, variant % 2 ? "from" : "to",
               variant >= 2 ? "_filter10" : "", p50, p99);
    }
    /* one target sought, often far (/route) */
    route_run(g, t, origins, nq, ntargets, ws, ms);
    printf("%s route p50_ms=%.3f p99_ms=%.3f\n", name, pct(ms, nq, 0.5), pct(ms, nq, 0.99));
    if (getenv("ROUTE_ONLY")) /* e.g. under callgrind --toggle-collect=route_run */
        goto done;
    /* 30-minute reach: edges, then polygons of 10/20/30 minutes */
    int nr = nq / 10 < 50 ? 50 : nq / 10;
    double *pms = malloc((size_t)nr * sizeof *pms), budgets[3] = {600, 1200, 1800};
    double *ams = malloc((size_t)nr * sizeof *ams), *acpu = malloc((size_t)nr * sizeof *acpu);
    size_t pieces = 0;
    GEOSContextHandle_t h = GEOS_init_r();
    for (int i = 0; i < nr; i++) {
        situ_roads_reach_result rr;
        /* the 30-minute area alone (issue 15's target): its edges and polygon */
        double c0 = cpu_ms();
        t0 = now_ms();
        situ_roads_reach(g, NULL, &origins[i], SITU_ROADS_TO_POINT, SITU_ROADS_OFFROAD_KMH,
                         &budgets[2], 1, ws, &rr, &err);
        GEOSGeometry *poly;
        if (rr.npieces[0] &&
            situ_roads_reach_polygon(g, h, rr.pieces[0], rr.npieces[0], 100, &poly, &err) == 0)
            GEOSGeom_destroy_r(h, poly);
        ams[i] = now_ms() - t0;
        acpu[i] = cpu_ms() - c0;
        situ_roads_reach_dispose(&rr);
        t0 = now_ms();
        situ_roads_reach(g, NULL, &origins[i], SITU_ROADS_TO_POINT, SITU_ROADS_OFFROAD_KMH, budgets,
                         3, ws, &rr, &err);
        ms[i] = now_ms() - t0;
        pieces += rr.npieces[2];
        t0 = now_ms();
        for (int b = 0; b < 3; b++) {
            if (rr.npieces[b] &&
                situ_roads_reach_polygon(g, h, rr.pieces[b], rr.npieces[b], 100, &poly, &err) == 0)
                GEOSGeom_destroy_r(h, poly);
        }
        pms[i] = now_ms() - t0;
        situ_roads_reach_dispose(&rr);
    }
    GEOS_finish_r(h);
    printf("%s reach30_edges p50_ms=%.2f p99_ms=%.2f pieces=%.0f\n", name, pct(ms, nr, 0.5),
           pct(ms, nr, 0.99), (double)pieces / nr);
    printf("%s reach_polygons_10_20_30 p50_ms=%.1f p99_ms=%.1f\n", name, pct(pms, nr, 0.5),
           pct(pms, nr, 0.99));
    printf("%s reach30_area p50_ms=%.2f p99_ms=%.2f cpu_p50_ms=%.2f cpu_p99_ms=%.2f\n", name,
           pct(ams, nr, 0.5), pct(ams, nr, 0.99), pct(acpu, nr, 0.5), pct(acpu, nr, 0.99));
    free(ams), free(acpu);
    /* a closure: clone the live set, close 300 m around a point, publish,
     * re-snap the targets under it (all, or the update from the last set) */
    situ_roads_closures *base;
    situ_roads_closures_new(g, &base, &err);
    situ_roads_live *live = situ_roads_live_new(base);
    double *ums = malloc(20 * sizeof *ums);
    situ_roads_targets *tprev = t;
    situ_roads_closures *cprev = NULL;
    for (int i = 0; i < 20; i++) {
        double x, y;
        random_point(bb, &x, &y);
        t0 = now_ms();
        situ_roads_closures *cur = situ_roads_live_get(live), *next;
        situ_roads_closures_clone(cur, &next, &err);
        situ_roads_closures_set_radius(next, g, x, y, 300, 1, &err);
        situ_roads_live_publish(live, next);
        situ_roads_closures_release(cur);
        ms[i] = now_ms() - t0;
        situ_roads_targets *t2, *t3;
        situ_roads_closures *c = situ_roads_live_get(live);
        double t1 = now_ms();
        situ_roads_targets_new(g, c, pts, (size_t)ntargets, SITU_ROADS_MAX_SNAP_M, &t2, &err);
        pms[i] = now_ms() - t0;
        double t2u = now_ms();
        situ_roads_targets_update(g, tprev, cprev, c, &t3, &err);
        ums[i] = now_ms() - t2u + (t1 - t0);
        situ_roads_targets_free(t2);
        if (tprev != t)
            situ_roads_targets_free(tprev);
        situ_roads_closures_release(cprev);
        tprev = t3, cprev = c;
    }
    printf("%s closure_apply p50_ms=%.3f p99_ms=%.3f with_targets_resnapped p50_ms=%.2f "
           "p99_ms=%.2f with_targets_updated p50_ms=%.2f p99_ms=%.2f (targets %d, first snap "
           "%.1f ms)\n",
           name, pct(ms, 20, 0.5), pct(ms, 20, 0.99), pct(pms, 20, 0.5), pct(pms, 20, 0.99),
           pct(ums, 20, 0.5), pct(ums, 20, 0.99), ntargets, targets_ms);
    situ_roads_live_free(live);
    situ_roads_targets_free(tprev);
    situ_roads_closures_release(cprev);
    free(ums), free(pms);
done:
    situ_roads_targets_free(t);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    free(pts), free(ms), free(origins);
}

/* The demo's roads and resources from a loaded SpatiaLite file (DEMO=path):
 * the lines as the daemon makes them (situ_roads_lines_of), the resources'
 * points as the targets. */
static int bench_demo(const char *db, int nq)
{
    situ_store *s;
    situ_coll *roads = NULL, *res = NULL;
    situ_err err;
    situ_roads_osm o = {0};
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err) ||
        situ_coll_load(s, SITU_C_ROADS, &roads, &err) ||
        situ_coll_load(s, SITU_C_RESOURCES, &res, &err) ||
        situ_roads_lines_of(roads, &o.lines, &o.n, &err)) {
        fprintf(stderr, "%s: %s\n", db, err.msg);
        return 1;
    }
    double *pts = malloc(2 * (res->n + 1) * sizeof *pts);
    for (size_t i = 0; i < res->n; i++)
        pts[2 * i] = res->feats[i].x, pts[2 * i + 1] = res->feats[i].y;
    bench("demo", &o, nq, (int)res->n, pts);
    free(pts);
    free(o.lines);
    situ_coll_release(res);
    situ_coll_release(roads);
    situ_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *pbf = argc > 1 ? argv[1] : SITU_SOURCE_DIR "/../shared/data/osm/helsinki.osm.pbf";
    const char *conf = argc > 2 ? argv[2] : SITU_SOURCE_DIR "/geodata/osmconf.ini";
    setvbuf(stdout, NULL, _IOLBF, 0);
    int nq = getenv("QUERIES") ? atoi(getenv("QUERIES")) : 2000;
    int nt = getenv("TARGETS") ? atoi(getenv("TARGETS")) : 1000;
    int grid = getenv("GRID") ? atoi(getenv("GRID")) : 130;
    if (getenv("DEMO"))
        return bench_demo(getenv("DEMO"), nq);
    situ_err err;
    situ_roads_osm o;
    if (access(pbf, R_OK) != 0)
        pbf = SITU_SOURCE_DIR "/../../shared/data/osm/helsinki.osm.pbf"; /* a worktree */
    if (situ_roads_osm_read(pbf, conf, &o, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    bench("helsinki", &o, nq, nt / 10 > 50 ? nt / 10 : 50, NULL);
    situ_roads_osm_dispose(&o);
    if (situ_roads_grid(grid, grid, 150, 12, 8, 1, &o, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    bench("grid", &o, nq, nt, NULL);
    situ_roads_osm_dispose(&o);
    return 0;
}

/*
 * roads_test.c: layers/roads/. Junctions and edge times on hand-made lines,
 * snapping to partial edges, the searches against a textbook Dijkstra
 * written here (every target's time from a full run, no early stop) on a
 * synthetic grid with rivers and on the real Helsinki OSM extract
 * (../shared/data/osm/helsinki.osm.pbf, ODbL, read through geodata/osmconf.ini),
 * one-way streets, a real bridge over a road without a junction, the
 * connected share, closures (by id, radius, polygon, live slot), routes and
 * reach areas.
 */
#include <geodesic.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "situ/roads.h"
#include "testlib.h"

#define OSMCONF SITU_SOURCE_DIR "/geodata/osmconf.ini"

/* ---- helpers ---------------------------------------------------------------- */

static situ_roads_graph *graph_of(const situ_roads_line *lines, size_t n)
{
    situ_roads_graph *g = NULL;
    situ_err err;
    if (situ_roads_graph_new(lines, n, NULL, &g, &err) != 0)
        fail_msg("graph: %s", err.msg);
    return g;
}

static void load_helsinki(situ_roads_osm *o, situ_roads_graph **g)
{
    situ_err err;
    const char *path = situ_test_shared_osm("helsinki.osm.pbf");
    if (situ_roads_osm_read(path, OSMCONF, o, &err) != 0)
        fail_msg("%s", err.msg);
    *g = graph_of(o->lines, o->n);
}

/* The first edge of the line whose caller id is road. */
static uint32_t edge_of(const situ_roads_graph *g, uint32_t road)
{
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    for (uint32_t e = 0; e < st.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        if (ed.road == road)
            return e;
    }
    fail_msg("no edge of road %u", road);
    return 0;
}

static double geod_m(double lon0, double lat0, double lon1, double lat1)
{
    struct geod_geodesic gd;
    double s;
    geod_init(&gd, 6378137.0, 1 / 298.257223563);
    geod_inverse(&gd, lat0, lon0, lat1, lon1, &s, NULL, NULL);
    return s;
}

static unsigned rng = 12345;
static double urand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (double)(rng >> 8) / 16777216.0;
}

/* ---- the reference: a textbook Dijkstra ------------------------------------- */

typedef struct arc {
    uint32_t to, edge;
} arc;

typedef struct ref {
    size_t nn, ne;
    situ_roads_edge *e;
    uint32_t *off[2]; /* [0] forward arcs, [1] reverse arcs, per node */
    arc *arcs[2];
} ref;

static void ref_init(ref *r, const situ_roads_graph *g)
{
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    r->nn = st.nodes, r->ne = st.edges;
    r->e = malloc(r->ne * sizeof *r->e);
    for (uint32_t i = 0; i < r->ne; i++)
        situ_roads_graph_edge(g, i, &r->e[i]);
    for (int d = 0; d < 2; d++) {
        r->off[d] = calloc(r->nn + 1, sizeof *r->off[d]);
        r->arcs[d] = malloc((2 * r->ne + 1) * sizeof *r->arcs[d]);
        /* count, then fill: arc u->w drivable; d = 0 stores it at u, d = 1 at w */
        uint32_t *cnt = calloc(r->nn + 1, sizeof *cnt);
        for (uint32_t i = 0; i < r->ne; i++) {
            if (r->e[i].fwd)
                cnt[d ? r->e[i].b : r->e[i].a]++;
            if (r->e[i].bwd)
                cnt[d ? r->e[i].a : r->e[i].b]++;
        }
        for (size_t v = 0; v < r->nn; v++)
            r->off[d][v + 1] = r->off[d][v] + cnt[v], cnt[v] = r->off[d][v];
        for (uint32_t i = 0; i < r->ne; i++) {
            uint32_t a = r->e[i].a, b = r->e[i].b;
            if (r->e[i].fwd)
                r->arcs[d][cnt[d ? b : a]++] = (arc){d ? a : b, i};
            if (r->e[i].bwd)
                r->arcs[d][cnt[d ? a : b]++] = (arc){d ? b : a, i};
        }
        free(cnt);
    }
}

static void ref_dispose(ref *r)
{
    free(r->e);
    for (int d = 0; d < 2; d++)
        free(r->off[d]), free(r->arcs[d]);
}

typedef struct hent {
    double d;
    uint32_t v;
} hent;

static void hpush(hent *h, size_t *n, hent x)
{
    size_t i = (*n)++;
    while (i && h[(i - 1) / 2].d > x.d)
        h[i] = h[(i - 1) / 2], i = (i - 1) / 2;
    h[i] = x;
}

static hent hpop(hent *h, size_t *n)
{
    hent top = h[0], x = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1].d < h[c].d)
            c++;
        if (h[c].d >= x.d)
            break;
        h[i] = h[c], i = c;
    }
    h[i] = x;
    return top;
}

/* dist[v]: time from the origin to v (FROM_POINT) or from v to it (TO_POINT),
 * over every open edge, run to the end. */
static void ref_dijkstra(const ref *r, const situ_roads_closures *c, const situ_roads_place *o,
                         situ_roads_dir dir, double off, double *dist)
{
    hent *h = malloc((4 * r->ne + 4) * sizeof *h);
    size_t nh = 0;
    int rev = dir == SITU_ROADS_TO_POINT;
    for (size_t v = 0; v < r->nn; v++)
        dist[v] = INFINITY;
    const situ_roads_edge *e = &r->e[o->edge];
    /* FROM: the origin drives to b (fwd) or a (bwd); TO: comes from a (fwd) or b (bwd) */
    uint32_t via_fwd = rev ? e->a : e->b, via_bwd = rev ? e->b : e->a;
    double part_fwd = rev ? o->frac : 1 - o->frac, part_bwd = rev ? 1 - o->frac : o->frac;
    if (e->fwd && off + part_fwd * e->time_s < dist[via_fwd])
        dist[via_fwd] = off + part_fwd * e->time_s, hpush(h, &nh, (hent){dist[via_fwd], via_fwd});
    if (e->bwd && off + part_bwd * e->time_s < dist[via_bwd])
        dist[via_bwd] = off + part_bwd * e->time_s, hpush(h, &nh, (hent){dist[via_bwd], via_bwd});
    while (nh) {
        hent x = hpop(h, &nh);
        if (x.d > dist[x.v])
            continue;
        for (uint32_t j = r->off[rev][x.v]; j < r->off[rev][x.v + 1]; j++) {
            arc a = r->arcs[rev][j];
            if (situ_roads_closures_is_closed(c, a.edge))
                continue;
            double nd = x.d + r->e[a.edge].time_s;
            if (nd < dist[a.to])
                dist[a.to] = nd, hpush(h, &nh, (hent){nd, a.to});
        }
    }
    free(h);
}

typedef struct refhit {
    uint32_t id;
    double t;
} refhit;

static int cmp_refhit(const void *pa, const void *pb)
{
    const refhit *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Every target's time by the reference, sorted; returns how many reachable
 * within max_s (all of them in out, the caller takes k). */
static size_t ref_answer(const ref *r, const situ_roads_closures *c, const situ_roads_targets *t,
                         const situ_roads_place *o, const situ_roads_query *q, const double *dist,
                         refhit *out)
{
    double ms = q->offroad_kmh / 3.6, off = o->snap_m / ms;
    size_t n = 0;
    for (size_t i = 0; i < situ_roads_targets_count(t); i++) {
        situ_roads_place p;
        if (situ_roads_targets_place(t, i, &p) != 0 || situ_roads_closures_is_closed(c, p.edge))
            continue;
        if (q->keep && !q->keep(q->keep_ctx, (uint32_t)i))
            continue;
        const situ_roads_edge *e = &r->e[p.edge];
        double offt = p.snap_m / ms, best = INFINITY;
        int to = q->dir == SITU_ROADS_TO_POINT;
        /* TO: the target leaves to b (fwd) or a (bwd); FROM: arrived at from a (fwd) or b (bwd) */
        if (e->fwd) {
            uint32_t v = to ? e->b : e->a;
            best = fmin(best, dist[v] + ((to ? 1 - p.frac : p.frac) * e->time_s + offt));
        }
        if (e->bwd) {
            uint32_t v = to ? e->a : e->b;
            best = fmin(best, dist[v] + ((to ? p.frac : 1 - p.frac) * e->time_s + offt));
        }
        if (p.edge == o->edge) {
            double x = to ? p.frac : o->frac, y = to ? o->frac : p.frac;
            if ((y >= x && e->fwd) || (y <= x && e->bwd))
                best = fmin(best, off + (fabs(y - x) * e->time_s + offt));
        }
        if (isfinite(best) && best <= q->max_s)
            out[n++] = (refhit){(uint32_t)i, best};
    }
    qsort(out, n, sizeof *out, cmp_refhit);
    return n;
}

static int keep_odd(void *ctx, uint32_t target)
{
    (void)ctx;
    return target % 2 == 1;
}

static int keep_mask(void *ctx, uint32_t target)
{
    return ((const unsigned char *)ctx)[target];
}

/* nq random queries on g in every combination of direction, filter,
 * closures and k / within, each checked against the reference. */
static void exactness(situ_roads_graph *g, const double bbox[4], int nq, int ntargets,
                      const uint32_t *close_ids, size_t nclose)
{
    ref r;
    ref_init(&r, g);
    situ_err err;
    situ_roads_closures *base, *closed;
    assert_int_equal(situ_roads_closures_new(g, &base, &err), 0);
    assert_int_equal(situ_roads_closures_clone(base, &closed, &err), 0);
    situ_roads_closures_set_roads(closed, g, close_ids, nclose, 1);
    double cx = (bbox[0] + bbox[2]) / 2, cy = (bbox[1] + bbox[3]) / 2;
    assert_true(situ_roads_closures_set_radius(closed, g, cx, cy, 250, 1, &err) > 0);
    double *pts = malloc(2 * (size_t)ntargets * sizeof *pts);
    for (int i = 0; i < ntargets; i++) {
        pts[2 * i] = bbox[0] + urand() * (bbox[2] - bbox[0]);
        pts[2 * i + 1] = bbox[1] + urand() * (bbox[3] - bbox[1]);
    }
    situ_roads_targets *topen, *tclosed, *tstale;
    assert_int_equal(situ_roads_targets_new(g, base, pts, (size_t)ntargets, 300, &topen, &err), 0);
    assert_int_equal(situ_roads_targets_new(g, closed, pts, (size_t)ntargets, 300, &tclosed, &err),
                     0);
    tstale = topen; /* built before the closures: targets on closed edges are skipped */
    unsigned char *mask = malloc((size_t)ntargets);
    for (int i = 0; i < ntargets; i++)
        mask[i] = urand() < 0.3;
    situ_roads_ws *ws = situ_roads_ws_new(g);
    double *dist = malloc(r.nn * sizeof *dist);
    refhit *want = malloc((size_t)ntargets * sizeof *want);
    situ_roads_hit hits[64];
    int checked = 0, nonempty = 0;
    for (int qi = 0; qi < nq; qi++) {
        int combo = qi % 12;
        situ_roads_query q;
        situ_roads_query_init(&q);
        q.dir = combo % 2 ? SITU_ROADS_FROM_POINT : SITU_ROADS_TO_POINT;
        int filt = (combo / 2) % 3; /* none, callback, mask */
        q.keep = filt == 1 ? keep_odd : filt == 2 ? keep_mask : NULL;
        q.keep_ctx = mask;
        int with_closures = (combo / 6) % 2;
        const situ_roads_closures *c = with_closures ? closed : base;
        const situ_roads_targets *t = with_closures ? (qi % 4 == 1 ? tstale : tclosed) : topen;
        q.k = 1 + (int)(urand() * 10);
        if (qi % 5 == 4) /* within a time */
            q.k = 64, q.max_s = 60 + urand() * 400;
        situ_roads_place o;
        double lon = bbox[0] + urand() * (bbox[2] - bbox[0]);
        double lat = bbox[1] + urand() * (bbox[3] - bbox[1]);
        if (situ_roads_snap(g, c, lon, lat, 500, &o, &err) != 0)
            continue;
        int n = -1;
        assert_int_equal(situ_roads_search(g, c, t, &o, &q, ws, hits, &n, &err), 0);
        ref_dijkstra(&r, c, &o, q.dir, o.snap_m / (q.offroad_kmh / 3.6), dist);
        size_t nw = ref_answer(&r, c, t, &o, &q, dist, want);
        size_t k = nw < (size_t)q.k ? nw : (size_t)q.k;
        if ((size_t)n != k)
            fail_msg(
                "query %d: %d hits, the reference has %zu (dir %d keep %d k %d max %f edge %u)", qi,
                n, k, q.dir, filt, q.k, q.max_s, o.edge);
        for (int i = 0; i < n; i++) {
            if (hits[i].target != want[i].id || fabs(hits[i].travel_s - want[i].t) > 0.01)
                fail_msg("query %d (dir %d, filter %d, closures %d, k %d) hit %d: target %u "
                         "%.4f s, the reference %u %.4f s",
                         qi, (int)q.dir, filt, with_closures, q.k, i, hits[i].target,
                         hits[i].travel_s, want[i].id, want[i].t);
        }
        checked++;
        nonempty += n > 0;
    }
    print_message("exactness: %d queries checked, %d with hits\n", checked, nonempty);
    assert_true(checked >= nq * 9 / 10);
    assert_true(nonempty >= checked * 8 / 10);
    free(dist), free(want), free(mask), free(pts);
    situ_roads_ws_free(ws);
    situ_roads_targets_free(topen);
    situ_roads_targets_free(tclosed);
    situ_roads_closures_release(base);
    situ_roads_closures_release(closed);
    ref_dispose(&r);
}

/* ---- tests ---------------------------------------------------------------------- */

/* Lines that share a vertex join; lines that cross between vertices do not. */
static void test_junctions(void **state)
{
    (void)state;
    double h[] = {0.0, 0.0, 0.01, 0.0};          /* west-east */
    double v[] = {0.005, -0.005, 0.005, 0.005};  /* crosses h at (0.005, 0) */
    double w[] = {0.01, 0.0, 0.01 + 4e-8, 0.01}; /* starts at h's end (within 1e-7) */
    situ_roads_line lines[] = {
        {h, 2, 10, SITU_ROADS_URBAN, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {v, 2, 11, SITU_ROADS_URBAN, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {w, 2, 12, SITU_ROADS_URBAN, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
    };
    situ_roads_graph *g = graph_of(lines, 3);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    assert_int_equal(st.edges, 3);
    assert_int_equal(st.nodes, 5); /* h's 2 + v's 2 + w's far end */
    situ_roads_edge e0, e2;
    situ_roads_graph_edge(g, edge_of(g, 10), &e0);
    situ_roads_graph_edge(g, edge_of(g, 12), &e2);
    assert_int_equal(e0.b, e2.a);
    /* v is reachable from h only if they joined: they must not */
    situ_roads_place o = {edge_of(g, 10), 0.25, 0.0025, 0, 0};
    situ_roads_place tv = {edge_of(g, 11), 0.9, 0.005, 0.004, 0};
    situ_roads_targets *t;
    situ_err err;
    assert_int_equal(situ_roads_targets_from_places(g, &tv, 1, &t, &err), 0);
    situ_roads_ws *ws = situ_roads_ws_new(g);
    situ_roads_query q;
    situ_roads_query_init(&q);
    situ_roads_hit hit;
    int n = -1;
    assert_int_equal(situ_roads_search(g, NULL, t, &o, &q, ws, &hit, &n, &err), 0);
    assert_int_equal(n, 0);
    situ_roads_targets_free(t);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
}

/* Edge time = geodesic length / speed: class table, a plain speed, a tagged
 * maxspeed at 80 %, a ferry's duration spread by length. */
static void test_edge_times(void **state)
{
    (void)state;
    double a[] = {111.6, 26.4, 111.61, 26.4, 111.61, 26.41};
    situ_roads_line lines[] = {
        {a, 3, 1, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {a, 3, 2, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 50, 0, 0},
        {a, 3, 3, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 50, 1, 0},
        {a, 3, 4, SITU_ROADS_FERRY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 600},
    };
    situ_roads_graph *g = graph_of(lines, 4);
    double l0 = geod_m(111.6, 26.4, 111.61, 26.4), l1 = geod_m(111.61, 26.4, 111.61, 26.41);
    double want[8] = {l0 / (45 / 3.6), l1 / (45 / 3.6), l0 / (50 / 3.6),      l1 / (50 / 3.6),
                      l0 / (40 / 3.6), l1 / (40 / 3.6), 600 * l0 / (l0 + l1), 600 * l1 / (l0 + l1)};
    for (uint32_t e = 0; e < 8; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        situ_assert_near(ed.time_s, want[e], 1e-3);
        situ_assert_near(situ_roads_edge_m(g, e), e % 2 ? l1 : l0, 1e-6);
    }
    situ_roads_graph_free(g);
    situ_err err;
    double bad[] = {200, 0, 0, 0};
    situ_roads_line badl = {bad, 2, 0, SITU_ROADS_URBAN, 0, 0, 0, 0, 0};
    assert_int_equal(situ_roads_graph_new(&badl, 1, NULL, &g, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "line 0"));
}

/* A point beside the middle of a long segment attaches to the middle with
 * the partial times to both ends, not to a vertex. */
static void test_snap_partial(void **state)
{
    (void)state;
    double a[] = {111.60, 26.40, 111.62, 26.40};
    double b[] = {111.60, 26.45, 111.62, 26.45}; /* far away: a target road */
    situ_roads_line lines[] = {
        {a, 2, 7, SITU_ROADS_URBAN, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 36, 0, 0},
        {b, 2, 8, SITU_ROADS_URBAN, SITU_ROADS_ONEWAY, SITU_ROADS_OPEN, 36, 0, 0},
    };
    situ_roads_graph *g = graph_of(lines, 2);
    situ_err err;
    situ_roads_place o, p2;
    assert_int_equal(situ_roads_snap(g, NULL, 111.605, 26.401, 1000, &o, &err), 0);
    assert_int_equal(o.edge, edge_of(g, 7));
    situ_assert_near(o.frac, 0.25, 1e-4);
    situ_assert_near(o.lat, 26.40, 1e-9);
    situ_assert_near(o.snap_m, geod_m(111.605, 26.401, 111.605, 26.40), 0.01);
    assert_int_equal(situ_roads_snap(g, NULL, 111.615, 26.40, 1000, &p2, &err), 0);
    situ_assert_near(p2.frac, 0.75, 1e-6);
    /* 2 km at 10 m/s = 200 s for the whole edge; half of it between them */
    situ_roads_targets *t;
    assert_int_equal(situ_roads_targets_from_places(g, &p2, 1, &t, &err), 0);
    situ_roads_ws *ws = situ_roads_ws_new(g);
    situ_roads_query q;
    situ_roads_query_init(&q);
    situ_roads_hit hit;
    int n = 0;
    double len = situ_roads_edge_m(g, o.edge), tt = len / 10;
    for (int d = 0; d < 2; d++) {
        q.dir = (situ_roads_dir)d;
        assert_int_equal(situ_roads_search(g, NULL, t, &o, &q, ws, &hit, &n, &err), 0);
        assert_int_equal(n, 1);
        situ_assert_near(hit.road_s, 0.5 * tt, 1e-3);
        situ_assert_near(hit.travel_s, 0.5 * tt + o.snap_m / (15 / 3.6), 1e-3);
        situ_roads_leg legs[4];
        size_t nl;
        assert_int_equal(situ_roads_route(g, t, ws, &hit, legs, 4, &nl, &err), 0);
        assert_int_equal(nl, 1);
        situ_assert_near(legs[0].m, 0.5 * len, 1e-3);
        assert_int_equal(legs[0].road, 7);
    }
    /* farther than max_snap_m: unreachable; a closed road is not snapped to */
    assert_int_equal(situ_roads_snap(g, NULL, 111.605, 26.42, 1000, &o, &err), SITU_ENOTFOUND);
    situ_roads_closures *c;
    assert_int_equal(situ_roads_closures_new(g, &c, &err), 0);
    uint32_t id = 7;
    assert_int_equal(situ_roads_closures_set_roads(c, g, &id, 1, 1), 1);
    assert_int_equal(situ_roads_snap(g, c, 111.605, 26.401, 1000, &o, &err), SITU_ENOTFOUND);
    assert_int_equal(situ_roads_snap(g, c, 111.605, 26.44, 10000, &o, &err), 0);
    assert_int_equal(o.edge, edge_of(g, 8));
    situ_roads_closures_release(c);
    situ_roads_targets_free(t);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
}

static void grid_bbox(const situ_roads_osm *o, double bbox[4])
{
    bbox[0] = bbox[1] = INFINITY, bbox[2] = bbox[3] = -INFINITY;
    for (size_t i = 0; i < o->n; i++)
        for (uint32_t j = 0; j < o->lines[i].n; j++) {
            bbox[0] = fmin(bbox[0], o->lines[i].xy[2 * j]);
            bbox[1] = fmin(bbox[1], o->lines[i].xy[2 * j + 1]);
            bbox[2] = fmax(bbox[2], o->lines[i].xy[2 * j]);
            bbox[3] = fmax(bbox[3], o->lines[i].xy[2 * j + 1]);
        }
}

/* 1,200 queries on o's graph g, closing its first max_bridges bridges. */
static void exactness_on(const situ_roads_osm *o, situ_roads_graph *g, int ntargets,
                         size_t max_bridges)
{
    double bbox[4];
    grid_bbox(o, bbox);
    uint32_t ids[16];
    size_t nids = 0;
    for (size_t i = 0; i < o->n && nids < max_bridges && nids < 16; i++)
        if (o->bridge[i])
            ids[nids++] = o->lines[i].id;
    exactness(g, bbox, 1200, ntargets, ids, nids);
}

/* 1,200 random queries on a grid cut by rivers vs the reference. */
static void test_exact_grid(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_err err;
    assert_int_equal(situ_roads_grid(40, 40, 150, 12, 8, 7, &o, &err), 0);
    situ_roads_graph *g = graph_of(o.lines, o.n);
    exactness_on(&o, g, 400, 4);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* 1,200 random queries on Helsinki vs the reference. */
static void test_exact_helsinki(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_roads_graph *g;
    load_helsinki(&o, &g);
    exactness_on(&o, g, 300, 8);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* Targets updated from one closure set to the next equal targets snapped
 * afresh under it, place for place, over a walk of random closings and
 * reopenings (circles; some points beyond max_snap_m of every road). */
static void test_targets_update(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_err err;
    assert_int_equal(situ_roads_grid(30, 30, 150, 10, 6, 11, &o, &err), 0);
    situ_roads_graph *g = graph_of(o.lines, o.n);
    double bbox[4], pad = 0.006; /* ~600 m beyond the grid: some points unreachable */
    grid_bbox(&o, bbox);
    enum { NPTS = 600, STEPS = 60 };
    double *pts = malloc(2 * NPTS * sizeof *pts);
    for (int i = 0; i < NPTS; i++) {
        pts[2 * i] = bbox[0] - pad + urand() * (bbox[2] - bbox[0] + 2 * pad);
        pts[2 * i + 1] = bbox[1] - pad + urand() * (bbox[3] - bbox[1] + 2 * pad);
    }
    situ_roads_closures *prev_c, *c;
    situ_roads_targets *prev, *upd, *fresh;
    assert_int_equal(situ_roads_closures_new(g, &prev_c, &err), 0);
    assert_int_equal(situ_roads_targets_new(g, prev_c, pts, NPTS, 300, &prev, &err), 0);
    int moved_closing = 0, moved_reopening = 0, unreachable = 0;
    for (int step = 0; step < STEPS; step++) {
        assert_int_equal(situ_roads_closures_clone(prev_c, &c, &err), 0);
        int reopen = step % 3 == 2;
        for (int k = 0; k < 1 + step % 4; k++) {
            double lon = bbox[0] + urand() * (bbox[2] - bbox[0]);
            double lat = bbox[1] + urand() * (bbox[3] - bbox[1]);
            double r = reopen ? 300 + urand() * 900 : 30 + urand() * 400;
            assert_true(situ_roads_closures_set_radius(c, g, lon, lat, r, !reopen, &err) >= 0);
        }
        assert_int_equal(situ_roads_targets_update(g, prev, prev_c, c, &upd, &err), 0);
        assert_int_equal(situ_roads_targets_new(g, c, pts, NPTS, 300, &fresh, &err), 0);
        for (size_t i = 0; i < NPTS; i++) {
            situ_roads_place pu, pf, pp;
            int ru = situ_roads_targets_place(upd, i, &pu);
            int rf = situ_roads_targets_place(fresh, i, &pf);
            int rp = situ_roads_targets_place(prev, i, &pp);
            assert_int_equal(ru, rf);
            if (rf == 0) {
                assert_int_equal(pu.edge, pf.edge);
                assert_true(pu.frac == pf.frac && pu.snap_m == pf.snap_m);
                assert_true(pu.lon == pf.lon && pu.lat == pf.lat);
            }
            unreachable += rf != 0;
            if (rp != rf || (rf == 0 && (pp.edge != pf.edge || pp.frac != pf.frac)))
                *(reopen ? &moved_reopening : &moved_closing) += 1;
        }
        situ_roads_targets_free(fresh);
        situ_roads_targets_free(prev);
        situ_roads_closures_release(prev_c);
        prev = upd, prev_c = c;
    }
    /* the walk moved places both ways, and left some points off the roads */
    assert_true(moved_closing > 20 && moved_reopening > 20 && unreachable > 0);
    situ_roads_targets *plain;
    situ_roads_place one = {0, 0.5, 0, 0, 0};
    assert_int_equal(situ_roads_targets_from_places(g, &one, 1, &plain, &err), 0);
    assert_int_equal(situ_roads_targets_update(g, plain, NULL, prev_c, &upd, &err), SITU_EINVAL);
    situ_roads_targets_free(plain);
    situ_roads_targets_free(prev);
    situ_roads_closures_release(prev_c);
    free(pts);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* Helsinki's one-way streets are one way: their edges drive one way only,
 * and from the middle of one a point just behind costs a detour. */
static void test_helsinki_oneway(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_roads_graph *g;
    load_helsinki(&o, &g);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    size_t noneway = 0, detours = 0;
    situ_roads_ws *ws = situ_roads_ws_new(g);
    situ_err err;
    for (uint32_t e = 0; e < st.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        const situ_roads_line *l = &o.lines[ed.road];
        assert_int_equal(ed.fwd, l->oneway != SITU_ROADS_REVERSE);
        assert_int_equal(ed.bwd, l->oneway != SITU_ROADS_ONEWAY);
        if (l->oneway != SITU_ROADS_ONEWAY || situ_roads_edge_m(g, e) < 20)
            continue;
        noneway++;
        /* origin at 0.6, target at 0.4: forward only by going round */
        situ_roads_place po = {e, 0.6, 0, 0, 0}, pt = {e, 0.4, 0, 0, 0};
        situ_roads_targets *t;
        assert_int_equal(situ_roads_targets_from_places(g, &pt, 1, &t, &err), 0);
        situ_roads_query q;
        situ_roads_query_init(&q);
        q.dir = SITU_ROADS_FROM_POINT;
        situ_roads_hit hit;
        int n;
        assert_int_equal(situ_roads_search(g, NULL, t, &po, &q, ws, &hit, &n, &err), 0);
        if (n == 0 || hit.travel_s > 0.2 * ed.time_s + 1e-6)
            detours++;
        /* backwards in TO_POINT: the target at 0.4 drives to 0.6 directly */
        q.dir = SITU_ROADS_TO_POINT;
        assert_int_equal(situ_roads_search(g, NULL, t, &po, &q, ws, &hit, &n, &err), 0);
        assert_int_equal(n, 1);
        situ_assert_near(hit.travel_s, 0.2 * ed.time_s, 1e-6);
        situ_roads_targets_free(t);
    }
    print_message("helsinki: %zu lines, %zu edges on one-way streets, %zu detours\n", o.n, noneway,
                  detours);
    assert_true(noneway > 50);
    assert_int_equal(detours, noneway);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* 1 and the crossing's fractions when segments p0-p1 and q0-q1 cross
 * strictly inside both. */
static int seg_cross(const double *p0, const double *p1, const double *q0, const double *q1,
                     double *out_s, double *out_t)
{
    double rx = p1[0] - p0[0], ry = p1[1] - p0[1], sx = q1[0] - q0[0], sy = q1[1] - q0[1];
    double den = rx * sy - ry * sx;
    if (fabs(den) < 1e-18)
        return 0;
    double s = ((q0[0] - p0[0]) * sy - (q0[1] - p0[1]) * sx) / den;
    double t = ((q0[0] - p0[0]) * ry - (q0[1] - p0[1]) * rx) / den;
    *out_s = s, *out_t = t;
    return s > 0.05 && s < 0.95 && t > 0.05 && t < 0.95;
}

/* A real grade separation makes no junction where two roads cross. The
 * extract's two drivable bridges cross no drivable road, but its drivable
 * tunnels do (the service tunnel under Kaisaniemenkatu, ...): found here as
 * a bridge or tunnel way whose segment crosses another road's between
 * vertices. From the crossing on one to the crossing on the other is a
 * drive, not 0 s. */
static void test_helsinki_grade_separation(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_roads_graph *g;
    load_helsinki(&o, &g);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    situ_err err;
    situ_roads_ws *ws = situ_roads_ws_new(g);
    int found = 0;
    for (uint32_t e = 0; e < st.edges && found < 3; e++) {
        situ_roads_edge be;
        situ_roads_graph_edge(g, e, &be);
        if (!o.bridge[be.road] && !o.tunnel[be.road])
            continue;
        double p0[2], p1[2];
        situ_roads_graph_node(g, be.a, p0);
        situ_roads_graph_node(g, be.b, p1);
        for (uint32_t f = 0; f < st.edges && found < 3; f++) {
            situ_roads_edge re;
            situ_roads_graph_edge(g, f, &re);
            double q0[2], q1[2], s, t;
            if (o.bridge[re.road] || o.tunnel[re.road])
                continue;
            situ_roads_graph_node(g, re.a, q0);
            situ_roads_graph_node(g, re.b, q1);
            if (!seg_cross(p0, p1, q0, q1, &s, &t))
                continue;
            found++;
            print_message("%s: OSM way %lld (%s) crosses way %lld (%s)\n",
                          o.bridge[be.road] ? "bridge" : "tunnel", (long long)o.osm_ids[be.road],
                          o.names[be.road] ? o.names[be.road] : "-", (long long)o.osm_ids[re.road],
                          o.names[re.road] ? o.names[re.road] : "-");
            assert_true(be.a != re.a && be.a != re.b && be.b != re.a && be.b != re.b);
            situ_roads_place on_bridge = {e, s, 0, 0, 0}, below = {f, t, 0, 0, 0};
            situ_roads_targets *tg;
            assert_int_equal(situ_roads_targets_from_places(g, &below, 1, &tg, &err), 0);
            situ_roads_query q;
            situ_roads_query_init(&q);
            q.dir = SITU_ROADS_FROM_POINT;
            situ_roads_hit hit;
            int n;
            assert_int_equal(situ_roads_search(g, NULL, tg, &on_bridge, &q, ws, &hit, &n, &err), 0);
            assert_true(n == 0 || hit.travel_s > 10.0);
            situ_roads_targets_free(tg);
        }
    }
    assert_true(found);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* ---- connected parts ---- */

/* The strongly connected component of every node (iterative Tarjan). */
static uint32_t *scc(const ref *r, size_t *out_ncomp)
{
    size_t nn = r->nn;
    uint32_t *comp = malloc(nn * sizeof *comp), *idx = malloc(nn * sizeof *idx);
    uint32_t *low = malloc(nn * sizeof *low), *stack = malloc(nn * sizeof *stack);
    uint32_t *cs = malloc(nn * sizeof *cs), *ci = malloc(nn * sizeof *ci);
    unsigned char *on = calloc(nn, 1);
    uint32_t next = 0, ns = 0, ncomp = 0;
    for (size_t v = 0; v < nn; v++)
        idx[v] = UINT32_MAX;
    for (uint32_t root = 0; root < nn; root++) {
        if (idx[root] != UINT32_MAX)
            continue;
        size_t depth = 0;
        cs[0] = root, ci[0] = r->off[0][root];
        idx[root] = low[root] = next++, stack[ns++] = root, on[root] = 1;
        while (1) {
            uint32_t v = cs[depth];
            if (ci[depth] < r->off[0][v + 1]) {
                uint32_t w = r->arcs[0][ci[depth]++].to;
                if (idx[w] == UINT32_MAX) {
                    idx[w] = low[w] = next++, stack[ns++] = w, on[w] = 1;
                    cs[++depth] = w, ci[depth] = r->off[0][w];
                } else if (on[w] && idx[w] < low[v])
                    low[v] = idx[w];
                continue;
            }
            if (low[v] == idx[v]) {
                uint32_t w;
                do {
                    w = stack[--ns];
                    on[w] = 0;
                    comp[w] = ncomp;
                } while (w != v);
                ncomp++;
            }
            if (depth == 0)
                break;
            uint32_t u = cs[--depth];
            if (low[v] < low[u])
                low[u] = low[v];
        }
    }
    free(idx), free(low), free(stack), free(cs), free(ci), free(on);
    *out_ncomp = ncomp;
    return comp;
}

/* Nearly every edge lies in the largest weakly and strongly connected part. */
static void test_helsinki_connected(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_roads_graph *g;
    load_helsinki(&o, &g);
    ref r;
    ref_init(&r, g);
    uint32_t *p = malloc(r.nn * sizeof *p);
    for (uint32_t v = 0; v < r.nn; v++)
        p[v] = v;
    for (size_t e = 0; e < r.ne; e++)
        p[situ_test_uf_find(p, r.e[e].a)] = situ_test_uf_find(p, r.e[e].b);
    size_t ncomp;
    uint32_t *comp = scc(&r, &ncomp);
    size_t *wsz = calloc(r.nn, sizeof *wsz), *ssz = calloc(ncomp, sizeof *ssz), wbest = 0,
           sbest = 0;
    for (size_t e = 0; e < r.ne; e++) {
        size_t w = ++wsz[situ_test_uf_find(p, r.e[e].a)];
        wbest = w > wbest ? w : wbest;
        if (comp[r.e[e].a] == comp[r.e[e].b]) {
            size_t s = ++ssz[comp[r.e[e].a]];
            sbest = s > sbest ? s : sbest;
        }
    }
    double wshare = (double)wbest / (double)r.ne, sshare = (double)sbest / (double)r.ne;
    print_message("helsinki: %zu nodes, %zu edges; largest weakly connected part %.1f %% of the "
                  "edges, strongly %.1f %%\n",
                  r.nn, r.ne, 100 * wshare, 100 * sshare);
    assert_true(wshare > 0.95);
    assert_true(sshare > 0.85);
    free(p), free(comp), free(wsz), free(ssz);
    ref_dispose(&r);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* ---- closures ---- */

/* Two banks 1 km apart joined by a bridge at 5 km and one at 0 km. From the
 * west end of the middle bridge the depot across it is nearest; closing the
 * bridge (by id, by radius, by polygon) makes the depot on the near bank
 * nearest; reopening restores it. Published through the live slot. */
static void test_closure_bridge(void **state)
{
    (void)state;
    double west[42], east[42];
    for (int i = 0; i <= 20; i++) {
        west[2 * i] = 111.60, west[2 * i + 1] = 26.40 + i * 0.0045;
        east[2 * i] = 111.61, east[2 * i + 1] = 26.40 + i * 0.0045;
    }
    double bridge1[] = {111.60, 26.445, 111.605, 26.445, 111.61, 26.445};
    double bridge2[] = {111.60, 26.40, 111.61, 26.40};
    situ_roads_line lines[] = {
        {west, 21, 100, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {east, 21, 101, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {bridge1, 3, 102, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {bridge2, 2, 103, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
    };
    situ_roads_graph *g = graph_of(lines, 4);
    situ_err err;
    double depots[] = {111.6102, 26.4452, /* 0: across the bridge */
                       111.5998, 26.4630 /* 1: 2 km up the near bank */};
    situ_roads_closures *c0;
    assert_int_equal(situ_roads_closures_new(g, &c0, &err), 0);
    situ_roads_live *live = situ_roads_live_new(c0);
    situ_roads_ws *ws = situ_roads_ws_new(g);
    situ_roads_query q;
    situ_roads_query_init(&q);
    q.k = 2;
    GEOSContextHandle_t h = GEOS_init_r();
    for (int how = 0; how < 3; how++) {
        situ_roads_closures *cur = situ_roads_live_get(live), *next;
        situ_roads_targets *t;
        situ_roads_place o;
        situ_roads_hit hits[2];
        int n;
        assert_int_equal(situ_roads_snap(g, cur, 111.5999, 26.4449, 1000, &o, &err), 0);
        assert_int_equal(situ_roads_targets_new(g, cur, depots, 2, 1000, &t, &err), 0);
        assert_int_equal(situ_roads_search(g, cur, t, &o, &q, ws, hits, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(hits[0].target, 0);
        double across = hits[0].travel_s;
        situ_roads_targets_free(t);
        /* close the bridge */
        assert_int_equal(situ_roads_closures_clone(cur, &next, &err), 0);
        if (how == 0) {
            uint32_t id = 102;
            assert_int_equal(situ_roads_closures_set_roads(next, g, &id, 1, 1), 2);
        } else if (how == 1) {
            assert_int_equal(situ_roads_closures_set_radius(next, g, 111.605, 26.4453, 60, 1, &err),
                             2);
        } else {
            GEOSWKTReader *rd = GEOSWKTReader_create_r(h);
            GEOSGeometry *poly =
                GEOSWKTReader_read_r(h, rd,
                                     "POLYGON((111.604 26.444,111.606 26.444,111.606 "
                                     "26.446,111.604 26.446,111.604 26.444))");
            assert_int_equal(situ_roads_closures_set_polygon(next, g, h, poly, 1, &err), 2);
            GEOSGeom_destroy_r(h, poly);
            GEOSWKTReader_destroy_r(h, rd);
        }
        situ_roads_live_publish(live, next);
        situ_roads_closures *now = situ_roads_live_get(live);
        assert_ptr_equal(now, next);
        /* the reader of the old set still sees it */
        assert_false(situ_roads_closures_is_closed(cur, 0) || situ_roads_closures_count(cur));
        assert_int_equal(situ_roads_targets_new(g, now, depots, 2, 1000, &t, &err), 0);
        assert_int_equal(situ_roads_search(g, now, t, &o, &q, ws, hits, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(hits[0].target, 1);
        assert_true(hits[1].travel_s > across + 300);
        situ_roads_targets_free(t);
        /* reopen for the next round */
        situ_roads_closures *reopened;
        assert_int_equal(situ_roads_closures_new(g, &reopened, &err), 0);
        situ_roads_live_publish(live, reopened);
        situ_roads_closures_release(now);
        situ_roads_closures_release(cur);
    }
    GEOS_finish_r(h);
    situ_roads_ws_free(ws);
    situ_roads_live_free(live);
    situ_roads_graph_free(g);
}

/* On Helsinki, closing a real bridge lengthens the drive across it. */
static void test_helsinki_closure(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_roads_graph *g;
    load_helsinki(&o, &g);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    situ_err err;
    situ_roads_ws *ws = situ_roads_ws_new(g);
    int tried = 0, changed = 0;
    uint32_t last_road = UINT32_MAX;
    for (uint32_t e = 0; e < st.edges && tried < 20; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        const situ_roads_line *l = &o.lines[ed.road];
        if (!o.bridge[ed.road] || ed.road == last_road)
            continue; /* once per bridge */
        last_road = ed.road;
        /* the first and last vertex of the bridge, both banks, as driven */
        int rev = l->oneway == SITU_ROADS_REVERSE;
        const double *first = l->xy, *last = l->xy + 2 * (l->n - 1);
        double from[2] = {(rev ? last : first)[0], (rev ? last : first)[1]};
        double to[2] = {(rev ? first : last)[0], (rev ? first : last)[1]};
        if (geod_m(from[0], from[1], to[0], to[1]) < 30)
            continue;
        tried++;
        situ_roads_closures *c;
        assert_int_equal(situ_roads_closures_new(g, &c, &err), 0);
        double t_open = INFINITY, t_closed = INFINITY;
        for (int pass = 0; pass < 2; pass++) {
            situ_roads_place po;
            situ_roads_targets *t;
            situ_roads_hit hit;
            int n = 0;
            if (pass == 1) {
                uint32_t id = ed.road;
                situ_roads_closures_set_roads(c, g, &id, 1, 1);
            }
            if (situ_roads_snap(g, c, from[0], from[1], 1000, &po, &err) != 0 ||
                situ_roads_targets_new(g, c, to, 1, 1000, &t, &err) != 0)
                break;
            situ_roads_query q;
            situ_roads_query_init(&q);
            q.dir = SITU_ROADS_FROM_POINT;
            assert_int_equal(situ_roads_search(g, c, t, &po, &q, ws, &hit, &n, &err), 0);
            (pass ? &t_closed : &t_open)[0] = n ? hit.travel_s : INFINITY;
            situ_roads_targets_free(t);
        }
        changed += t_closed > t_open + 1.0;
        situ_roads_closures_release(c);
    }
    print_message("helsinki: %d bridges closed, %d changed the answer\n", tried, changed);
    assert_true(tried > 0);
    assert_true(changed >= tried / 2);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* ---- routes and reach ---- */

static void leg_ends(const situ_roads_graph *g, const situ_roads_leg *l, double a[2], double b[2])
{
    situ_roads_edge e;
    double p[2], q[2];
    situ_roads_graph_edge(g, l->edge, &e);
    situ_roads_graph_node(g, e.a, p);
    situ_roads_graph_node(g, e.b, q);
    for (int i = 0; i < 2; i++) {
        a[i] = p[i] + l->from_frac * (q[i] - p[i]);
        b[i] = p[i] + l->to_frac * (q[i] - p[i]);
    }
}

/* Routes join end to end from the mover's start to its end, only over
 * drivable edges in their direction, and add up to the hit's road time. */
static void test_routes(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_err err;
    assert_int_equal(situ_roads_grid(30, 30, 150, 10, 6, 3, &o, &err), 0);
    situ_roads_graph *g = graph_of(o.lines, o.n);
    double bbox[4];
    grid_bbox(&o, bbox);
    double pts[2 * 50];
    for (int i = 0; i < 50; i++) {
        pts[2 * i] = bbox[0] + urand() * (bbox[2] - bbox[0]);
        pts[2 * i + 1] = bbox[1] + urand() * (bbox[3] - bbox[1]);
    }
    situ_roads_targets *t;
    assert_int_equal(situ_roads_targets_new(g, NULL, pts, 50, 1000, &t, &err), 0);
    situ_roads_ws *ws = situ_roads_ws_new(g);
    situ_roads_leg legs[2048];
    int nroutes = 0;
    for (int qi = 0; qi < 100; qi++) {
        situ_roads_place op, tp;
        situ_roads_query q;
        situ_roads_query_init(&q);
        q.dir = (situ_roads_dir)(qi % 2);
        assert_int_equal(situ_roads_snap(g, NULL, bbox[0] + urand() * (bbox[2] - bbox[0]),
                                         bbox[1] + urand() * (bbox[3] - bbox[1]), 1000, &op, &err),
                         0);
        situ_roads_hit hits[5];
        int n;
        assert_int_equal(situ_roads_search(g, NULL, t, &op, &q, ws, hits, &n, &err), 0);
        for (int i = 0; i < n; i++) {
            size_t nl;
            assert_int_equal(situ_roads_route(g, t, ws, &hits[i], legs, 2048, &nl, &err), 0);
            assert_int_equal(situ_roads_route(g, t, ws, &hits[i], legs, 0, &nl, &err), SITU_ELIMIT);
            assert_int_equal(situ_roads_route(g, t, ws, &hits[i], legs, 2048, &nl, &err), 0);
            assert_int_equal(situ_roads_targets_place(t, hits[i].target, &tp), 0);
            const situ_roads_place *start = q.dir == SITU_ROADS_TO_POINT ? &tp : &op;
            const situ_roads_place *end = q.dir == SITU_ROADS_TO_POINT ? &op : &tp;
            double sum = 0, a[2], b[2], prev[2] = {start->lon, start->lat};
            for (size_t j = 0; j < nl; j++) {
                situ_roads_edge e;
                situ_roads_graph_edge(g, legs[j].edge, &e);
                if (!(legs[j].to_frac >= legs[j].from_frac ? e.fwd : e.bwd))
                    fail_msg("dir %d leg %zu/%zu edge %u %f->%f fwd %d bwd %d via %u", (int)q.dir,
                             j, nl, legs[j].edge, legs[j].from_frac, legs[j].to_frac, e.fwd, e.bwd,
                             hits[i].via);
                leg_ends(g, &legs[j], a, b);
                situ_assert_near(a[0], prev[0], 1e-9);
                situ_assert_near(a[1], prev[1], 1e-9);
                prev[0] = b[0], prev[1] = b[1];
                sum += legs[j].s;
                assert_int_equal(legs[j].road, e.road);
            }
            situ_assert_near(prev[0], end->lon, 1e-9);
            situ_assert_near(prev[1], end->lat, 1e-9);
            situ_assert_near(sum, hits[i].road_s, 1e-6);
            nroutes++;
        }
    }
    assert_true(nroutes > 300);
    situ_roads_targets_free(t);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* Reach: the edges with pieces within each budget are those the reference
 * reaches; a piece's end times stay within the budget, and a piece ending
 * inside an edge ends at the budget; the polygons grow with the budget and
 * hold the origin. */
static void test_reach(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_err err;
    assert_int_equal(situ_roads_grid(30, 30, 150, 10, 6, 5, &o, &err), 0);
    situ_roads_graph *g = graph_of(o.lines, o.n);
    ref r;
    ref_init(&r, g);
    double bbox[4];
    grid_bbox(&o, bbox);
    situ_roads_ws *ws = situ_roads_ws_new(g);
    double *dist = malloc(r.nn * sizeof *dist);
    unsigned char *has = malloc(r.ne);
    GEOSContextHandle_t h = GEOS_init_r();
    const double budgets[3] = {300, 60, 150};
    situ_roads_closures *base;
    assert_int_equal(situ_roads_closures_new(g, &base, &err), 0);
    for (int qi = 0; qi < 40; qi++) {
        situ_roads_place op;
        situ_roads_dir dir = (situ_roads_dir)(qi % 2);
        assert_int_equal(situ_roads_snap(g, NULL, bbox[0] + urand() * (bbox[2] - bbox[0]),
                                         bbox[1] + urand() * (bbox[3] - bbox[1]), 1000, &op, &err),
                         0);
        situ_roads_reach_result rr;
        assert_int_equal(situ_roads_reach(g, NULL, &op, dir, 15, budgets, 3, ws, &rr, &err), 0);
        double off = op.snap_m / (15 / 3.6);
        ref_dijkstra(&r, base, &op, dir, off, dist);
        double area[3];
        for (int b = 0; b < 3; b++) {
            double B = budgets[b];
            memset(has, 0, r.ne);
            for (size_t i = 0; i < rr.npieces[b]; i++) {
                const situ_roads_piece *p = &rr.pieces[b][i];
                has[p->edge] = 1;
                assert_true(p->t0 <= B + 1e-3 && p->t1 <= B + 1e-3);
                assert_true(p->f0 <= p->f1);
                if (p->f1 < 0.999 && p->f1 > p->f0 + 1e-3 && p->edge != op.edge)
                    situ_assert_near(p->t1, B, 0.05);
            }
            for (uint32_t e = 0; e < r.ne; e++) {
                const situ_roads_edge *ed = &r.e[e];
                int from_a = dir == SITU_ROADS_FROM_POINT ? ed->fwd : ed->bwd;
                int from_b = dir == SITU_ROADS_FROM_POINT ? ed->bwd : ed->fwd;
                int want = (from_a && dist[ed->a] <= B) || (from_b && dist[ed->b] <= B) ||
                           (e == op.edge && off <= B);
                if (want != has[e])
                    fail_msg("reach %d budget %.0f: edge %u reached %d, the reference %d", qi, B, e,
                             has[e], want);
            }
            GEOSGeometry *poly = NULL;
            if (rr.npieces[b] == 0) {
                area[b] = 0;
                continue;
            }
            assert_int_equal(
                situ_roads_reach_polygon(g, h, rr.pieces[b], rr.npieces[b], 50, &poly, &err), 0);
            assert_int_equal(GEOSisValid_r(h, poly), 1);
            GEOSArea_r(h, poly, &area[b]);
            GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, op.lon, op.lat);
            assert_int_equal(GEOSIntersects_r(h, poly, pt), 1);
            GEOSGeom_destroy_r(h, pt);
            GEOSGeom_destroy_r(h, poly);
        }
        assert_true(area[1] <= area[2] && area[2] <= area[0]);
        situ_roads_reach_dispose(&rr);
    }
    GEOS_finish_r(h);
    situ_roads_closures_release(base);
    free(dist), free(has);
    ref_dispose(&r);
    situ_roads_ws_free(ws);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

/* Metres from (x, y) to the segment (ax, ay)-(bx, by), all in metres. */
static double seg_m(double x, double y, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
    double u = l2 > 0 ? ((x - ax) * dx + (y - ay) * dy) / l2 : 0;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return hypot(x - ax - u * dx, y - ay - u * dy);
}

static int poly_has(GEOSContextHandle_t h, const GEOSPreparedGeometry *pg, double lon, double lat)
{
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, lon, lat);
    int in = GEOSPreparedIntersects_r(h, pg, pt);
    GEOSGeom_destroy_r(h, pt);
    return in;
}

/* Reach polygons of random pieces (sparse to dense, short to whole edges,
 * cells from a seventh of the blocks to twice them: holes, parts touching
 * at a corner, pockets): each is valid, holds every point within 0.9
 * buffer_m of a piece, and none beyond the bound the header gives, 2 sqrt 2
 * buffer_m (5 % slack for the local frame's scale). */
static void test_reach_polygon(void **state)
{
    (void)state;
    situ_roads_osm o;
    situ_err err;
    assert_int_equal(situ_roads_grid(30, 30, 150, 10, 6, 7, &o, &err), 0);
    situ_roads_graph *g = graph_of(o.lines, o.n);
    ref r;
    ref_init(&r, g);
    double bb[4];
    grid_bbox(&o, bb);
    double clat = (bb[1] + bb[3]) / 2, kx = geod_m(bb[0], clat, bb[0] + 0.01, clat) / 0.01,
           ky = geod_m(bb[0], clat, bb[0], clat + 0.01) / 0.01;
    GEOSContextHandle_t h = GEOS_init_r();
    situ_roads_piece *pieces = malloc(r.ne * sizeof *pieces);
    double *seg = malloc(4 * r.ne * sizeof *seg);
    const double share[3] = {0.02, 0.1, 0.4}, buffers[4] = {20, 60, 150, 300};
    int nholes = 0, nparts = 0;
    for (int c = 0; c < 12; c++) {
        double buffer = buffers[c % 4];
        size_t n = 0;
        for (uint32_t e = 0; e < r.ne; e++) {
            if (urand() >= share[c / 4])
                continue;
            double u = urand(), v = urand(), whole = urand() < 0.5;
            situ_roads_piece pc = {e, whole ? 0.f : (float)fmin(u, v),
                                   whole ? 1.f : (float)fmax(u, v), 0, 0};
            double a[2], b[2];
            situ_roads_graph_node(g, r.e[e].a, a);
            situ_roads_graph_node(g, r.e[e].b, b);
            double *sg = &seg[4 * n];
            sg[0] = (a[0] + pc.f0 * (b[0] - a[0]) - bb[0]) * kx;
            sg[1] = (a[1] + pc.f0 * (b[1] - a[1]) - bb[1]) * ky;
            sg[2] = (a[0] + pc.f1 * (b[0] - a[0]) - bb[0]) * kx;
            sg[3] = (a[1] + pc.f1 * (b[1] - a[1]) - bb[1]) * ky;
            pieces[n++] = pc;
        }
        GEOSGeometry *poly = NULL;
        assert_int_equal(situ_roads_reach_polygon(g, h, pieces, n, buffer, &poly, &err), 0);
        if (GEOSisValid_r(h, poly) != 1)
            fail_msg("case %d: %s", c, GEOSisValidReason_r(h, poly));
        for (int i = 0; i < GEOSGetNumGeometries_r(h, poly); i++) {
            nholes += GEOSGetNumInteriorRings_r(h, GEOSGetGeometryN_r(h, poly, i));
            nparts++;
        }
        const GEOSPreparedGeometry *pg = GEOSPrepare_r(h, poly);
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k <= 8; k++) {
                const double *sg = &seg[4 * i];
                double th = 2 * M_PI * urand(), rr = k % 2 ? 0.9 * buffer : 0;
                double x = sg[0] + k / 8.0 * (sg[2] - sg[0]) + rr * cos(th);
                double y = sg[1] + k / 8.0 * (sg[3] - sg[1]) + rr * sin(th);
                if (!poly_has(h, pg, bb[0] + x / kx, bb[1] + y / ky))
                    fail_msg("case %d: a point %.0f m from piece %zu is outside", c, rr, i);
            }
        double far = 2 * M_SQRT2 * buffer * 1.05;
        for (int k = 0; k < 3000; k++) {
            double x = -far + urand() * ((bb[2] - bb[0]) * kx + 2 * far);
            double y = -far + urand() * ((bb[3] - bb[1]) * ky + 2 * far);
            double d = INFINITY;
            for (size_t i = 0; i < n && d > far; i++)
                d = fmin(d,
                         seg_m(x, y, seg[4 * i], seg[4 * i + 1], seg[4 * i + 2], seg[4 * i + 3]));
            if (d > far && poly_has(h, pg, bb[0] + x / kx, bb[1] + y / ky))
                fail_msg("case %d: a point %.0f m from every piece is inside", c, d);
        }
        GEOSPreparedGeom_destroy_r(h, pg);
        GEOSGeom_destroy_r(h, poly);
    }
    /* the cases drew what they are meant to */
    assert_true(nholes > 10);
    assert_true(nparts > 24);
    GEOS_finish_r(h);
    free(pieces), free(seg);
    ref_dispose(&r);
    situ_roads_graph_free(g);
    situ_roads_osm_dispose(&o);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_junctions),
    cmocka_unit_test(test_edge_times),
    cmocka_unit_test(test_snap_partial),
    cmocka_unit_test(test_exact_grid),
    cmocka_unit_test(test_exact_helsinki),
    cmocka_unit_test(test_targets_update),
    cmocka_unit_test(test_helsinki_oneway),
    cmocka_unit_test(test_helsinki_grade_separation),
    cmocka_unit_test(test_helsinki_connected),
    cmocka_unit_test(test_closure_bridge),
    cmocka_unit_test(test_helsinki_closure),
    cmocka_unit_test(test_routes),
    cmocka_unit_test(test_reach),
    cmocka_unit_test(test_reach_polygon),
};

SITU_TEST_MAIN("roads", tests)

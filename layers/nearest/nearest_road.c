/*
 * nearest_road.c: proximity by road. The k nearest features and everything
 * within a time by travel time over the roads open now (/nearest?by=road,
 * /within?by=road), the route between a point and one feature (/route) and
 * the areas reached within times (/reach), over a situ_nearest_roads the
 * caller holds (the daemon's current network, or one the CLI builds). The
 * searches are roads.h's; this file owns the keep filter (the query's
 * filters, as situ_nearest_search applies them), the routes' geometry and
 * steps, and the reach areas as GeoJSON. Features are written by
 * nearest_json.c, so by-road answers carry every property the straight-line
 * ones do. Entry points: situ_nearest_matches, situ_nearest_road_answer.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/gcj02.h"
#include "situ/roads.h"
#include "nearest_priv.h"

#define REACH_CELL_M 100.0 /* the reach areas' cell: 100 to 200 m around the roads */

int situ_nearest_matches(const situ_coll *c, const situ_nearest_query *q, uint32_t feat)
{
    const situ_feature *f = &c->feats[feat];
    for (int i = 0; i < q->nfilters; i++) {
        char buf[128];
        const situ_value *v = &f->values[q->filters[i].field];
        situ__canon_value(v, buf, sizeof buf);
        if (!v->type || strcmp(buf, q->filters[i].value) != 0)
            return 0;
    }
    if (q->item >= 0) {
        double h = situ_coll_held(c, f, q->item);
        if (!(h > 0 && h >= q->min_qty))
            return 0;
    }
    return 1;
}

/* What a search of one query needs besides the network. */
typedef struct road_ctx {
    const situ_snapshot *s;
    const situ_nearest_roads *r;
    const situ_nearest_query *q;
    const situ_coll *c; /* the targets' collection */
    situ_roads_place origin;
    situ_roads_dir dir;
    long only; /* ROUTE: the one target kept, else -1 */
    situ_roads_leg *legs;
    size_t caplegs;
} road_ctx;

static int keep(void *ctx, uint32_t target)
{
    const road_ctx *x = ctx;
    if (x->only >= 0)
        return target == (uint32_t)x->only;
    return situ_nearest_matches(x->c, x->q, x->c->by_id[target]);
}

static int snap_origin(road_ctx *x, situ_err *err)
{
    const situ_nearest_query *q = x->q;
    const char *lon = q->mode == SITU_NEAREST_ROUTE ? "from_lon" : "lon";
    int rc = situ_roads_snap(x->r->g, x->r->closures, q->lon, q->lat, SITU_ROADS_MAX_SNAP_M,
                             &x->origin, err);
    if (rc == SITU_ENOTFOUND)
        return situ_err_set(err, SITU_EINVAL,
                            "%s: the point is more than %.0f m from every open road: unreachable "
                            "by road",
                            lon, SITU_ROADS_MAX_SNAP_M);
    return rc;
}

/* ---- writing ---------------------------------------------------------------- */

static void add_xy(situ_buf *b, const situ_nearest_query *q, double lon, double lat)
{
    if (q->crs == SITU_CRS_GCJ02)
        situ_gcj02_from_wgs84(lon, lat, &lon, &lat);
    situ_buf_addc(b, '[');
    situ_buf_add_num(b, lon, 7);
    situ_buf_addc(b, ',');
    situ_buf_add_num(b, lat, 7);
    situ_buf_addc(b, ']');
}

/* The point at fraction f along edge e. */
static void edge_point(const situ_roads_graph *g, uint32_t e, double f, double out[2])
{
    situ_roads_edge ed;
    double a[2], b[2];
    situ_roads_graph_edge(g, e, &ed);
    situ_roads_graph_node(g, ed.a, a);
    situ_roads_graph_node(g, ed.b, b);
    out[0] = a[0] + f * (b[0] - a[0]);
    out[1] = a[1] + f * (b[1] - a[1]);
}

typedef struct line_w {
    situ_buf *b;
    const situ_nearest_query *q;
    int n;
    double last[2];
} line_w;

static void line_point(line_w *w, const double p[2])
{
    if (w->n && p[0] == w->last[0] && p[1] == w->last[1])
        return;
    if (w->n++)
        situ_buf_addc(w->b, ',');
    add_xy(w->b, w->q, p[0], p[1]);
    w->last[0] = p[0], w->last[1] = p[1];
}

/* A route's LineString: from, its place, the legs, the other place, to. */
static void add_route_line(situ_buf *b, const road_ctx *x, const situ_roads_leg *legs, size_t n,
                           const double from[2], const situ_roads_place *pf,
                           const situ_roads_place *pt, const double to[2])
{
    line_w w = {b, x->q, 0, {0, 0}};
    situ_buf_adds(b, "{\"type\":\"LineString\",\"coordinates\":[");
    line_point(&w, from);
    line_point(&w, (double[2]){pf->lon, pf->lat});
    for (size_t i = 0; i < n; i++) {
        double p[2];
        edge_point(x->r->g, legs[i].edge, legs[i].from_frac, p);
        line_point(&w, p);
        edge_point(x->r->g, legs[i].edge, legs[i].to_frac, p);
        line_point(&w, p);
    }
    line_point(&w, (double[2]){pt->lon, pt->lat});
    line_point(&w, to);
    if (w.n == 1) { /* all at one point: a LineString has two at least */
        situ_buf_addc(b, ',');
        add_xy(b, x->q, to[0], to[1]);
    }
    situ_buf_adds(b, "]}");
}

static const char *road_text(const situ_coll *roads, uint32_t feat, const char *field)
{
    int fi = situ_schema_field_index(roads->c, field);
    const situ_value *v = fi >= 0 && feat < roads->n ? &roads->feats[feat].values[fi] : NULL;
    return v && v->type == SITU_FT_TEXT ? v->u.s : NULL;
}

static int same_text(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* Legs i and j drive the same road: one feature, or one name and class. */
static int same_road(const situ_coll *roads, const situ_roads_leg *a, const situ_roads_leg *b)
{
    return a->road == b->road ||
           (same_text(road_text(roads, a->road, "name"), road_text(roads, b->road, "name")) &&
            same_text(road_text(roads, a->road, "class"), road_text(roads, b->road, "class")));
}

static void add_text_or_null(situ_buf *b, const char *s)
{
    if (s)
        situ_buf_add_json_str(b, s);
    else
        situ_buf_adds(b, "null");
}

/* The names of the roads along legs, consecutive repeats once. */
static void add_route_names(situ_buf *b, const situ_coll *roads, const situ_roads_leg *legs,
                            size_t n)
{
    situ_buf_addc(b, '[');
    for (size_t i = 0, k = 0; i < n; i++) {
        if (i && same_road(roads, &legs[i - 1], &legs[i]))
            continue;
        if (k++)
            situ_buf_addc(b, ',');
        add_text_or_null(b, road_text(roads, legs[i].road, "name"));
    }
    situ_buf_addc(b, ']');
}

/* The steps of a route: consecutive legs of one road merged. */
static void add_steps(situ_buf *b, const situ_coll *roads, const situ_roads_leg *legs, size_t n)
{
    situ_buf_addc(b, '[');
    for (size_t i = 0, k = 0; i < n;) {
        size_t j = i;
        double m = 0, s = 0;
        for (; j < n && same_road(roads, &legs[i], &legs[j]); j++)
            m += legs[j].m, s += legs[j].s;
        if (k++)
            situ_buf_addc(b, ',');
        situ_buf_adds(b, "{\"road\":");
        add_text_or_null(b, road_text(roads, legs[i].road, "name"));
        situ_buf_adds(b, ",\"ref\":");
        add_text_or_null(b, road_text(roads, legs[i].road, "ref"));
        situ_buf_adds(b, ",\"class\":");
        add_text_or_null(b, road_text(roads, legs[i].road, "class"));
        situ_buf_adds(b, ",\"road_id\":");
        add_text_or_null(b, legs[i].road < roads->n ? roads->feats[legs[i].road].id : NULL);
        situ_buf_adds(b, ",\"m\":");
        situ_buf_add_num(b, m, 1);
        situ_buf_adds(b, ",\"s\":");
        situ_buf_add_num(b, s, 2);
        situ_buf_addc(b, '}');
        i = j;
    }
    situ_buf_addc(b, ']');
}

/* ---- one hit's route ------------------------------------------------------------ */

/* The legs of hit h into x->legs (grown as needed); *out_n of them. */
static int route_legs(road_ctx *x, const situ_roads_hit *h, size_t *out_n, situ_err *err)
{
    for (;;) {
        int rc =
            situ_roads_route(x->r->g, x->r->targets, x->r->ws, h, x->legs, x->caplegs, out_n, err);
        if (rc != SITU_ELIMIT)
            return rc;
        situ_roads_leg *p = realloc(x->legs, (*out_n + 64) * sizeof *p);
        if (!p)
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        x->legs = p, x->caplegs = *out_n + 64;
    }
}

static double legs_m(const situ_roads_leg *legs, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m += legs[i].m;
    return m;
}

/* The route of hit h as a LineString in driving order (appended to b). */
static void add_hit_route(situ_buf *b, const road_ctx *x, const situ_roads_hit *h, size_t nlegs)
{
    const situ_feature *f = &x->c->feats[x->c->by_id[h->target]];
    situ_roads_place tp;
    situ_roads_targets_place(x->r->targets, h->target, &tp);
    double pt[2] = {x->q->lon, x->q->lat}, ft[2] = {f->x, f->y};
    if (x->dir == SITU_ROADS_TO_POINT)
        add_route_line(b, x, x->legs, nlegs, ft, &tp, &x->origin, pt);
    else
        add_route_line(b, x, x->legs, nlegs, pt, &x->origin, &tp, ft);
}

/* ---- nearest and within -------------------------------------------------------- */

static int search(road_ctx *x, int k, double max_s, situ_roads_hit *hits, int *out_n, situ_err *err)
{
    situ_roads_query rq;
    situ_roads_query_init(&rq);
    rq.dir = x->dir;
    rq.k = k;
    rq.max_s = max_s;
    if (x->only >= 0 || x->q->nfilters || x->q->item >= 0)
        rq.keep = keep, rq.keep_ctx = x;
    return situ_roads_search(x->r->g, x->r->closures, x->r->targets, &x->origin, &rq, x->r->ws,
                             hits, out_n, err);
}

/* The matching features of x's collection (for the unreachable count). */
static size_t count_matching(const road_ctx *x)
{
    size_t m = 0;
    for (uint32_t i = 0; i < x->c->n; i++)
        m += (size_t)situ_nearest_matches(x->c, x->q, i);
    return m;
}

/* The by-road members of hit h (its route text appended to routes). */
static int road_members(road_ctx *x, const situ_roads_hit *h, situ__road_hit *out, situ_buf *routes,
                        size_t *out_route_at, situ_err *err)
{
    size_t nlegs = 0;
    int rc = route_legs(x, h, &nlegs, err);
    if (rc)
        return rc;
    situ_roads_place tp;
    situ_roads_targets_place(x->r->targets, h->target, &tp);
    *out = (situ__road_hit){h->travel_s, legs_m(x->legs, nlegs), tp.snap_m, NULL};
    *out_route_at = (size_t)-1;
    if (x->q->route) {
        *out_route_at = routes->n;
        situ_buf_adds(routes, ",\"route\":");
        add_hit_route(routes, x, h, nlegs);
        situ_buf_adds(routes, ",\"route_roads\":");
        add_route_names(routes, x->r->roads, x->legs, nlegs);
        situ_buf_addc(routes, '\0');
    }
    return 0;
}

static void hit_distance(const road_ctx *x, uint32_t feat, situ_nearest_hit *out)
{
    const situ_feature *f = &x->c->feats[feat];
    struct geod_geodesic g;
    double d, az1, az2;
    geod_init(&g, SITU__WGS84_A, SITU__WGS84_F);
    geod_inverse(&g, x->q->lat, x->q->lon, f->y, f->x, &d, &az1, &az2);
    out->feat = feat;
    out->distance_m = d;
    out->bearing_deg = d > 0 ? fmod(az1 + 360.0, 360.0) : NAN;
}

static int write_hits(road_ctx *x, const situ_roads_hit *hits, int n, int truncated,
                      const char *echo, situ_buf *out, situ_err *err)
{
    situ_nearest_hit *nh = malloc(((size_t)n + 1) * sizeof *nh);
    situ__road_hit *rh = malloc(((size_t)n + 1) * sizeof *rh);
    size_t *at = malloc(((size_t)n + 1) * sizeof *at);
    situ_buf routes;
    situ_buf_init(&routes);
    int rc = nh && rh && at ? 0 : situ_err_set(err, SITU_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++) {
        hit_distance(x, x->c->by_id[hits[i].target], &nh[i]);
        rc = road_members(x, &hits[i], &rh[i], &routes, &at[i], err);
    }
    if (rc == 0 && routes.oom)
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++)
        rh[i].route = at[i] == (size_t)-1 ? NULL : routes.p + at[i];
    if (rc == 0) {
        situ_nearest_result r = {.hits = nh, .cap = n, .n = n, .truncated = truncated};
        situ__nearest_write(out, x->s, x->q, &r, rh, echo);
    }
    situ_buf_dispose(&routes);
    free(nh);
    free(rh);
    free(at);
    return rc;
}

static int answer_nearest(road_ctx *x, situ_buf *out, situ_err *err)
{
    const situ_nearest_query *q = x->q;
    int within = q->mode == SITU_NEAREST_WITHIN, n = 0;
    int k = within ? q->k + 1 : q->k; /* within: one more tells truncation */
    situ_roads_hit *hits = malloc((size_t)k * sizeof *hits);
    if (!hits)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = search(x, k, q->max_s, hits, &n, err);
    int truncated = within && n > q->k;
    if (truncated)
        n = q->k;
    char echo[160];
    int len = snprintf(echo, sizeof echo, ",\"snap_m\":%.1f", x->origin.snap_m);
    if (rc == 0 && !within && n < q->k)
        snprintf(echo + len, sizeof echo - (size_t)len, ",\"unreachable\":%zu",
                 count_matching(x) - (size_t)n);
    if (rc == 0)
        rc = write_hits(x, hits, n, truncated, echo, out, err);
    free(hits);
    return rc;
}

/* ---- route ---------------------------------------------------------------------- */

static long target_of(const situ_coll *c, long feat)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->by_id[i] == (uint32_t)feat)
            return (long)i;
    return -1;
}

static void add_route_feature(situ_buf *b, road_ctx *x, const situ_roads_hit *h, size_t nlegs)
{
    const situ_feature *f = &x->c->feats[x->c->by_id[h->target]];
    situ_roads_place tp;
    situ_roads_targets_place(x->r->targets, h->target, &tp);
    situ_buf_adds(b, "{\"type\":\"Feature\",\"geometry\":");
    add_hit_route(b, x, h, nlegs);
    situ_buf_adds(b, ",\"properties\":{\"from\":");
    add_xy(b, x->q, x->q->lon, x->q->lat);
    situ_buf_adds(b, ",\"to\":");
    situ_buf_add_json_str(b, f->id);
    situ_buf_adds(b, ",\"collection\":");
    situ_buf_add_json_str(b, x->c->c->id);
    situ_buf_adds(b, x->dir == SITU_ROADS_FROM_POINT ? ",\"direction\":\"from_point\""
                                                     : ",\"direction\":\"to_point\"");
    situ_buf_adds(b, ",\"crs\":");
    situ_buf_adds(b, x->q->crs == SITU_CRS_GCJ02 ? "\"gcj02\"" : "\"wgs84\"");
    situ_buf_adds(b, ",\"travel_s\":");
    situ_buf_add_num(b, h->travel_s, 2);
    situ_buf_adds(b, ",\"road_s\":");
    situ_buf_add_num(b, h->road_s, 2);
    situ_buf_adds(b, ",\"road_m\":");
    situ_buf_add_num(b, legs_m(x->legs, nlegs), 1);
    situ_buf_adds(b, ",\"from_snap_m\":");
    situ_buf_add_num(b, x->origin.snap_m, 1);
    situ_buf_adds(b, ",\"to_snap_m\":");
    situ_buf_add_num(b, tp.snap_m, 1);
    situ_buf_adds(b, ",\"steps\":");
    add_steps(b, x->r->roads, x->legs, nlegs);
    situ_buf_adds(b, "}}\n");
}

static int answer_route(road_ctx *x, situ_buf *out, situ_err *err)
{
    long feat = situ_coll_find(x->c, x->q->to);
    if (feat < 0)
        return situ_err_set(err, SITU_EINVAL, "to: no feature of %s has this id", x->c->c->id);
    x->only = target_of(x->c, feat);
    situ_roads_place tp;
    if (situ_roads_targets_place(x->r->targets, (size_t)x->only, &tp))
        return situ_err_set(err, SITU_EINVAL,
                            "to: the feature is more than %.0f m from every open road: "
                            "unreachable by road",
                            SITU_ROADS_MAX_SNAP_M);
    situ_roads_hit h;
    int n = 0, rc = search(x, 1, INFINITY, &h, &n, err);
    if (rc == 0 && n == 0)
        return situ_err_set(err, SITU_EINVAL, "to: no open road joins the point and the feature");
    size_t nlegs = 0;
    if (rc == 0 && (rc = route_legs(x, &h, &nlegs, err)) == 0)
        add_route_feature(out, x, &h, nlegs);
    return rc;
}

/* ---- reach ---------------------------------------------------------------------- */

static void add_ring(situ_buf *b, GEOSContextHandle_t h, const GEOSGeometry *ring,
                     const situ_nearest_query *q)
{
    const GEOSCoordSequence *cs = GEOSGeom_getCoordSeq_r(h, ring);
    unsigned n = 0;
    GEOSCoordSeq_getSize_r(h, cs, &n);
    situ_buf_addc(b, '[');
    for (unsigned i = 0; i < n; i++) {
        double lon = 0, lat = 0;
        GEOSCoordSeq_getXY_r(h, cs, i, &lon, &lat);
        if (i)
            situ_buf_addc(b, ',');
        add_xy(b, q, lon, lat);
    }
    situ_buf_addc(b, ']');
}

static void add_polygon(situ_buf *b, GEOSContextHandle_t h, const GEOSGeometry *p,
                        const situ_nearest_query *q)
{
    situ_buf_addc(b, '[');
    add_ring(b, h, GEOSGetExteriorRing_r(h, p), q);
    int nh = GEOSGetNumInteriorRings_r(h, p);
    for (int i = 0; i < nh; i++) {
        situ_buf_addc(b, ',');
        add_ring(b, h, GEOSGetInteriorRingN_r(h, p, i), q);
    }
    situ_buf_addc(b, ']');
}

/* A GEOS Polygon or MultiPolygon as GeoJSON (exterior rings counter-clockwise). */
static void add_area(situ_buf *b, GEOSContextHandle_t h, GEOSGeometry *g,
                     const situ_nearest_query *q)
{
    GEOSNormalize_r(h, g); /* exterior rings clockwise, holes counter-clockwise */
    GEOSGeometry *r = GEOSReverse_r(h, g);
    const GEOSGeometry *a = r ? r : g;
    if (GEOSGeomTypeId_r(h, a) == GEOS_POLYGON) {
        situ_buf_adds(b, "{\"type\":\"Polygon\",\"coordinates\":");
        add_polygon(b, h, a, q);
    } else {
        situ_buf_adds(b, "{\"type\":\"MultiPolygon\",\"coordinates\":[");
        int n = GEOSGetNumGeometries_r(h, a);
        for (int i = 0; i < n; i++) {
            if (i)
                situ_buf_addc(b, ',');
            add_polygon(b, h, GEOSGetGeometryN_r(h, a, i), q);
        }
        situ_buf_addc(b, ']');
    }
    situ_buf_addc(b, '}');
    if (r)
        GEOSGeom_destroy_r(h, r);
}

static int add_reach_area(situ_buf *b, road_ctx *x, GEOSContextHandle_t h,
                          const situ_roads_reach_result *res, int i, situ_err *err)
{
    situ_buf_adds(b, "{\"type\":\"Feature\",\"geometry\":");
    if (res->npieces[i]) {
        GEOSGeometry *poly = NULL;
        int rc = situ_roads_reach_polygon(x->r->g, h, res->pieces[i], res->npieces[i], REACH_CELL_M,
                                          &poly, err);
        if (rc)
            return rc;
        add_area(b, h, poly, x->q);
        GEOSGeom_destroy_r(h, poly);
    } else {
        situ_buf_adds(b, "null");
    }
    situ_buf_adds(b, ",\"properties\":{\"kind\":\"area\",\"minutes\":");
    situ_buf_add_num(b, res->budgets[i] / 60, 6);
    situ_buf_printf(b, ",\"pieces\":%zu}}", res->npieces[i]);
    return 0;
}

/* The pieces of the largest budget, each with its times and road. */
static void add_reach_lines(situ_buf *b, road_ctx *x, const situ_roads_reach_result *res)
{
    int big = 0;
    for (int i = 1; i < res->nbudgets; i++)
        if (res->budgets[i] > res->budgets[big])
            big = i;
    for (size_t k = 0; k < res->npieces[big]; k++) {
        const situ_roads_piece *p = &res->pieces[big][k];
        double a[2], c[2];
        situ_roads_edge ed;
        situ_roads_graph_edge(x->r->g, p->edge, &ed);
        edge_point(x->r->g, p->edge, p->f0, a);
        edge_point(x->r->g, p->edge, p->f1, c);
        situ_buf_adds(b, ",{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\","
                         "\"coordinates\":[");
        add_xy(b, x->q, a[0], a[1]);
        situ_buf_addc(b, ',');
        add_xy(b, x->q, c[0], c[1]);
        situ_buf_adds(b, "]},\"properties\":{\"kind\":\"road\",\"road\":");
        add_text_or_null(b, road_text(x->r->roads, ed.road, "name"));
        situ_buf_adds(b, ",\"t0_s\":");
        situ_buf_add_num(b, p->t0, 1);
        situ_buf_adds(b, ",\"t1_s\":");
        situ_buf_add_num(b, p->t1, 1);
        situ_buf_adds(b, "}}");
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int answer_reach(road_ctx *x, situ_buf *out, situ_err *err)
{
    const situ_nearest_query *q = x->q;
    double budgets[16];
    for (int i = 0; i < q->nminutes; i++)
        budgets[i] = q->minutes[i] * 60;
    qsort(budgets, (size_t)q->nminutes, sizeof *budgets, cmp_double);
    situ_roads_reach_result res;
    int rc = situ_roads_reach(x->r->g, x->r->closures, &x->origin, x->dir, SITU_ROADS_OFFROAD_KMH,
                              budgets, q->nminutes, x->r->ws, &res, err);
    if (rc)
        return rc;
    GEOSContextHandle_t h = GEOS_init_r();
    situ_buf_adds(out, "{\"type\":\"FeatureCollection\",\"query\":{\"type\":\"reach\",\"lon\":");
    situ_buf_add_num(out, q->in_lon, 7);
    situ_buf_adds(out, ",\"lat\":");
    situ_buf_add_num(out, q->in_lat, 7);
    situ_buf_printf(out, ",\"crs\":\"%s\",\"direction\":\"%s\",\"snap_m\":",
                    q->crs == SITU_CRS_GCJ02 ? "gcj02" : "wgs84",
                    x->dir == SITU_ROADS_FROM_POINT ? "from_point" : "to_point");
    situ_buf_add_num(out, x->origin.snap_m, 1);
    situ_buf_adds(out, "},\"features\":[");
    for (int i = 0; rc == 0 && i < res.nbudgets; i++) {
        if (i)
            situ_buf_addc(out, ',');
        rc = add_reach_area(out, x, h, &res, i, err);
    }
    if (rc == 0 && q->lines)
        add_reach_lines(out, x, &res);
    situ_buf_adds(out, "]}\n");
    GEOS_finish_r(h);
    situ_roads_reach_dispose(&res);
    return rc;
}

/* ---- the entry point --------------------------------------------------------------- */

int situ_nearest_road_answer(const situ_snapshot *s, const situ_nearest_roads *r,
                             const situ_nearest_query *q, situ_buf *out, situ_err *err)
{
    road_ctx x = {.s = s, .r = r, .q = q, .only = -1};
    x.dir = q->from_point ? SITU_ROADS_FROM_POINT : SITU_ROADS_TO_POINT;
    x.c = q->mode == SITU_NEAREST_REACH ? NULL : s->colls[q->cid];
    if (!x.c && q->mode != SITU_NEAREST_REACH)
        return situ_err_set(err, SITU_ENOTFOUND, "collection: not loaded");
    if (x.c && !r->targets)
        return situ_err_set(err, SITU_EINVAL, "collection: no targets");
    int rc = snap_origin(&x, err);
    if (rc == 0) {
        if (q->mode == SITU_NEAREST_ROUTE)
            rc = answer_route(&x, out, err);
        else if (q->mode == SITU_NEAREST_REACH)
            rc = answer_reach(&x, out, err);
        else
            rc = answer_nearest(&x, out, err);
    }
    free(x.legs);
    if (rc == 0 && out->oom)
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    return rc;
}

/* Lays the closure areas on cl (a refused one skipped); 0 or SITU_ENOMEM. */
static int lay_areas(situ_roads_closures *cl, const situ_roads_graph *g,
                     const situ_roads_area *areas, size_t n, situ_err *err)
{
    GEOSContextHandle_t h = n ? GEOS_init_r() : NULL;
    situ_err refused = {0};
    long rc = !n  ? 0
              : h ? situ_roads_closures_set_areas(cl, g, h, areas, n, NULL, &refused)
                  : SITU_ENOMEM;
    if (h)
        GEOS_finish_r(h);
    return rc < 0 ? situ_err_set(err, (int)rc, "closure areas: out of memory") : 0;
}

int situ_nearest_road_answer_once(const situ_snapshot *s, const situ_nearest_query *q,
                                  const situ_roads_area *areas, size_t nareas, situ_buf *out,
                                  situ_err *err)
{
    const situ_coll *roads = s->colls[SITU_C_ROADS];
    const situ_coll *c = q->mode == SITU_NEAREST_REACH ? NULL : s->colls[q->cid];
    situ_nearest_roads r = {.roads = roads};
    situ_roads_graph *g = NULL;
    situ_roads_closures *cl = NULL;
    situ_roads_targets *t = NULL;
    if (!roads || !roads->n)
        return situ_err_set(err, SITU_EINVAL,
                            "%s: no road network loaded (the roads collection "
                            "is empty)",
                            q->mode <= SITU_NEAREST_WITHIN ? "by" : "roads");
    int rc = situ_roads_graph_of(roads, NULL, &g, err);
    if (rc == 0)
        rc = situ_roads_closures_of(g, roads, &cl, err);
    if (rc == 0)
        rc = lay_areas(cl, g, areas, nareas, err);
    if (rc == 0 && c)
        rc = situ_roads_targets_of(g, cl, c, SITU_ROADS_MAX_SNAP_M, &t, err);
    if (rc == 0 && !(r.ws = situ_roads_ws_new(g)))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (rc == 0) {
        r.g = g, r.closures = cl, r.targets = t;
        rc = situ_nearest_road_answer(s, &r, q, out, err);
    }
    situ_roads_ws_free(r.ws);
    situ_roads_targets_free(t);
    situ_roads_closures_release(cl);
    situ_roads_graph_free(g);
    return rc;
}

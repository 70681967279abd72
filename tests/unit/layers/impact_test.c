/* impact_test.c: tests layers/impact.c on a real SpatiaLite file against
 * GEOS: an L-shaped alert over a grid of stations and resources, hazard
 * sources around it with various impact radii and roads in and out of it;
 * what the impact lists equals what GEOS computes (intersects for points
 * and roads, distance on a local plane for hazard sources). */
#include "testlib.h"

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"
#include "situ/impact.h"
#include "situ/snapshot.h"

static char *dir;
static situ_store *store;

#define NOW "2026-12-06T00:00:00Z"
static const double L_SHAPE[] = {0.2, 0.2, 1.5, 0.2, 1.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.2, 0.9};
static const char *const L_WKT =
    "POLYGON((0.2 0.2,1.5 0.2,1.5 0.5,0.5 0.5,0.5 0.9,0.2 0.9,0.2 0.2))";

/* WKB: a Polygon of one ring of n points (closed here), a Point, a
 * MultiLineString of one part. */
static void wkb_head(situ_buf *b, uint32_t type)
{
    situ_buf_addc(b, 1);
    situ_buf_add(b, &type, 4);
}

static void ring_wkb(situ_buf *b, const double *xy, size_t n)
{
    uint32_t one = 1, np = (uint32_t)n + 1;
    wkb_head(b, 3);
    situ_buf_add(b, &one, 4);
    situ_buf_add(b, &np, 4);
    situ_buf_add(b, xy, 2 * n * sizeof *xy);
    situ_buf_add(b, xy, 2 * sizeof *xy);
}

static void point_wkb(situ_buf *b, double x, double y)
{
    wkb_head(b, 1);
    situ_buf_add(b, &x, 8);
    situ_buf_add(b, &y, 8);
}

static void line_wkb(situ_buf *b, double x0, double y0, double x1, double y1)
{
    uint32_t one = 1, two = 2;
    const double xy[] = {x0, y0, x1, y1};
    wkb_head(b, 5);
    situ_buf_add(b, &one, 4);
    wkb_head(b, 2);
    situ_buf_add(b, &two, 4);
    situ_buf_add(b, xy, sizeof xy);
}

/* Stores feature id of coll with geometry g; fields "x"/1 but for the
 * pairs in set (name, text, ..., NULL) and the real `real` of `rname`. */
static void put(const char *coll, const char *id, const situ_buf *g, const char *const *set,
                const char *rname, double real)
{
    const situ_collection *c = situ_schema_find(coll);
    situ_value v[32] = {0};
    for (int i = 0; i < c->nfields; i++) {
        const situ_field *fd = &c->fields[i];
        if (rname && !strcmp(fd->name, rname))
            v[i] = (situ_value){SITU_FT_REAL, {.d = real}};
        else if (fd->type == SITU_FT_TEXT)
            v[i] = (situ_value){SITU_FT_TEXT, {.s = "x"}};
        else if (fd->flags & SITU_FF_REQUIRED)
            v[i] = (situ_value){fd->type, {.i = 1}};
        for (int k = 0; set && set[k]; k += 2)
            if (!strcmp(fd->name, set[k]))
                v[i] = (situ_value){SITU_FT_TEXT, {.s = set[k + 1]}};
    }
    situ_feature_in f = {.id = id,
                         .township_code = "",
                         .wkb = (const unsigned char *)g->p,
                         .nwkb = g->n,
                         .values = v};
    situ_err err = {0};
    int rc = situ_store_upsert(store, c, &f, NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void put_rect(const char *coll, const char *id, double x0, double y0, double x1, double y1,
                     const char *const *set)
{
    const double r[] = {x0, y0, x1, y0, x1, y1, x0, y1};
    situ_buf g;
    situ_buf_init(&g);
    ring_wkb(&g, r, 4);
    put(coll, id, &g, set, NULL, 0);
    situ_buf_dispose(&g);
}

static void put_point(const char *coll, const char *id, double x, double y, const char *const *set,
                      const char *rname, double real)
{
    situ_buf g;
    situ_buf_init(&g);
    point_wkb(&g, x, y);
    put(coll, id, &g, set, rname, real);
    situ_buf_dispose(&g);
}

static const char *const STATUS[] = {"alarm", "warning", "normal"};
enum { GRID_X = 21, GRID_Y = 11, NSOURCES = 40, NROADS = 30 };

/* The features' places, shared by setup and the GEOS side of the test. */
static double grid_x(int i)
{
    return i / 10.0;
}
static double grid_y(int j)
{
    return j / 10.0;
}
static void source_at(int i, double *x, double *y, double *r)
{
    *x = 0.1 + 0.04 * i, *y = i % 2 ? 0.7 : 0.15, *r = 2000 + 700.0 * (i % 13);
}
static void road_at(int i, double *xy)
{
    double x = 0.05 * i;
    const double a[] = {x, -0.1, x, 0.1 + 0.01 * (i % 20)}, n[] = {0.6, 0.55, 0.6 + x, 0.85};
    memcpy(xy, i % 3 ? a : n, sizeof a);
}

static int setup(void **state)
{
    (void)state;
    dir = situ_test_tmpdir("impact");
    char path[4096], id[64];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &store, &err), 0);
    assert_int_equal(situ_store_begin(store, &err), 0);
    put_rect("townships", "431102001", 0, 0, 1, 1, NULL);
    put_rect("townships", "431102002", 1, 0, 2, 1, NULL);
    put_rect("townships", "431102003", 5, 5, 6, 6, NULL);
    const char *const alert_set[] = {
        "onset", "2000-01-01T00:00:00Z", "expires", "2999-01-01T00:00:00Z", "status", "active",
        NULL};
    situ_buf g;
    situ_buf_init(&g);
    ring_wkb(&g, L_SHAPE, 6);
    put("alerts", "meteorology:L", &g, alert_set, NULL, 0);
    situ_buf_dispose(&g);
    for (int i = 0; i < GRID_X; i++)
        for (int j = 0; j < GRID_Y; j++) {
            const char *const st[] = {"status", STATUS[(i + j) % 3], "metric", "rain_1h_mm", NULL};
            snprintf(id, sizeof id, "st-%d-%d", i, j);
            put_point("stations", id, grid_x(i), grid_y(j), st, "value", 62);
            snprintf(id, sizeof id, "rs-%d-%d", i, j);
            put_point("resources", id, grid_x(i) + 0.05, grid_y(j) + 0.05, NULL, NULL, 0);
        }
    for (int i = 0; i < NSOURCES; i++) {
        double x, y, r;
        source_at(i, &x, &y, &r);
        snprintf(id, sizeof id, "hs-%d", i);
        put_point("hazard_sources", id, x, y, NULL, "impact_radius_m", r);
    }
    for (int i = 0; i < NROADS; i++) {
        double xy[4];
        road_at(i, xy);
        situ_buf_init(&g);
        line_wkb(&g, xy[0], xy[1], xy[2], xy[3]);
        snprintf(id, sizeof id, "rd-%d", i);
        const char *const rd[] = {"class", "county", "status", "open", "oneway", "no", NULL};
        put("roads", id, &g, rd, NULL, 0);
        situ_buf_dispose(&g);
    }
    assert_int_equal(situ_store_commit(store, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_store_close(store);
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

/* The part of the impact text between "name":[ and the next "],". */
static char *part(const char *json, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\"%s\":[", name);
    const char *p = strstr(json, key);
    assert_non_null(p);
    const char *e = strstr(p, "]");
    assert_non_null(e);
    char *s = strndup(p, (size_t)(e - p + 1));
    return s;
}

static int lists(const char *partext, const char *key, const char *id)
{
    char want[96];
    snprintf(want, sizeof want, "\"%s\":\"%s\"", key, id);
    return strstr(partext, want) != NULL;
}

static GEOSGeometry *wkt(GEOSContextHandle_t h, const char *text)
{
    GEOSWKTReader *r = GEOSWKTReader_create_r(h);
    GEOSGeometry *g = GEOSWKTReader_read_r(h, r, text);
    GEOSWKTReader_destroy_r(h, r);
    assert_non_null(g);
    return g;
}

/* 1 when GEOS says the WKT geometry meets the L. */
static int geos_meets(GEOSContextHandle_t h, const GEOSGeometry *l, const char *text)
{
    GEOSGeometry *g = wkt(h, text);
    int r = GEOSIntersects_r(h, l, g);
    GEOSGeom_destroy_r(h, g);
    return r == 1;
}

/* Metres from (x, y) to the L, by GEOS on the plane tangent at (x, y). */
static double geos_distance_m(GEOSContextHandle_t h, double x, double y)
{
    double k = cos(y * M_PI / 180) * 6371008.8 * M_PI / 180, m = 6371008.8 * M_PI / 180;
    char text[512];
    int n = snprintf(text, sizeof text, "POLYGON((");
    for (int v = 0; v <= 6; v++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%.9f %.9f", v ? "," : "",
                      (L_SHAPE[2 * (v % 6)] - x) * k, (L_SHAPE[2 * (v % 6) + 1] - y) * m);
    snprintf(text + n, sizeof text - (size_t)n, "))");
    GEOSGeometry *poly = wkt(h, text), *pt = wkt(h, "POINT(0 0)");
    double d;
    assert_int_equal(GEOSDistance_r(h, poly, pt, &d), 1);
    GEOSGeom_destroy_r(h, poly);
    GEOSGeom_destroy_r(h, pt);
    return d;
}

static void impact_equals_geos(void **state)
{
    (void)state;
    situ_snapshot *s;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(store, &s, &err), 0);
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_impact_alert(s, "meteorology:L", NOW, &b), 0);
    situ_buf_addc(&b, 0);
    char *towns = part(b.p, "townships"), *st = part(b.p, "stations"), *rs = part(b.p, "resources"),
         *hs = part(b.p, "hazard_sources"), *rd = part(b.p, "roads");
    assert_true(lists(towns, "code", "431102001") && lists(towns, "code", "431102002"));
    assert_false(lists(towns, "code", "431102003"));
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSGeometry *l = wkt(h, L_WKT);
    char id[64], text[160];
    int nst = 0, nrs = 0, nhs = 0, nrd = 0;
    for (int i = 0; i < GRID_X; i++)
        for (int j = 0; j < GRID_Y; j++) {
            snprintf(text, sizeof text, "POINT(%.17g %.17g)", grid_x(i), grid_y(j));
            int in = geos_meets(h, l, text), hot = (i + j) % 3 < 2;
            snprintf(id, sizeof id, "st-%d-%d", i, j);
            assert_int_equal(lists(st, "id", id), in && hot);
            nst += in && hot;
            snprintf(text, sizeof text, "POINT(%.17g %.17g)", grid_x(i) + 0.05, grid_y(j) + 0.05);
            in = geos_meets(h, l, text);
            snprintf(id, sizeof id, "rs-%d-%d", i, j);
            assert_int_equal(lists(rs, "id", id), in);
            nrs += in;
        }
    for (int i = 0; i < NSOURCES; i++) {
        double x, y, r;
        source_at(i, &x, &y, &r);
        double d = geos_distance_m(h, x, y);
        snprintf(id, sizeof id, "hs-%d", i);
        if (fabs(d - r) > 1)
            assert_int_equal(lists(hs, "id", id), d <= r);
        nhs += d <= r;
    }
    for (int i = 0; i < NROADS; i++) {
        double xy[4];
        road_at(i, xy);
        snprintf(text, sizeof text, "LINESTRING(%.17g %.17g,%.17g %.17g)", xy[0], xy[1], xy[2],
                 xy[3]);
        snprintf(id, sizeof id, "rd-%d", i);
        int in = geos_meets(h, l, text);
        assert_int_equal(lists(rd, "id", id), in);
        nrd += in;
    }
    /* every kind both listed and left out somewhere */
    assert_true(nst > 5 && nrs > 5 && nhs > 2 && nhs < NSOURCES && nrd > 2 && nrd < NROADS);
    assert_non_null(strstr(st, "\"value\":62"));
    assert_non_null(strstr(st, "\"unit\":\"mm\""));
    GEOSGeom_destroy_r(h, l);
    GEOS_finish_r(h);
    free(towns), free(st), free(rs), free(hs), free(rd);
    situ_buf_dispose(&b);
    situ_snapshot_release(s);
}

static void an_unknown_alert_is_not_found(void **state)
{
    (void)state;
    situ_snapshot *s;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(store, &s, &err), 0);
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_impact_alert(s, "meteorology:none", NOW, &b), SITU_ENOTFOUND);
    assert_int_equal(b.n, 0);
    situ_buf_dispose(&b);
    situ_snapshot_release(s);
}

static void metric_units_come_from_the_name(void **state)
{
    (void)state;
    assert_string_equal(situ_impact_metric_unit("rain_1h_mm"), "mm");
    assert_string_equal(situ_impact_metric_unit("water_level_m"), "m");
    assert_string_equal(situ_impact_metric_unit("wind_speed_ms"), "m/s");
    assert_string_equal(situ_impact_metric_unit("traffic_flow_veh_h"), "veh/h");
    assert_string_equal(situ_impact_metric_unit("aqi"), "");
    assert_string_equal(situ_impact_metric_unit(NULL), "");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(impact_equals_geos, setup, teardown),
    cmocka_unit_test_setup_teardown(an_unknown_alert_is_not_found, setup, teardown),
    cmocka_unit_test(metric_units_come_from_the_name),
};

SITU_TEST_MAIN("impact", tests)

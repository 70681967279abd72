/* summary_test.c: tests layers/summary.c on a real SpatiaLite file: which
 * alerts meet a township (exactly, and for a 200,000-vertex outline without
 * testing every vertex against every edge) and the township summary. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"
#include "situ/snapshot.h"
#include "situ/summary.h"

static char *dir;
static situ_store *store;

/* A WKB Polygon of one ring of n points (closed here). */
static void ring_wkb(situ_buf *b, const double *xy, size_t n)
{
    uint32_t u = 3, one = 1, np = (uint32_t)n + 1;
    situ_buf_addc(b, 1);
    situ_buf_add(b, &u, 4);
    situ_buf_add(b, &one, 4);
    situ_buf_add(b, &np, 4);
    situ_buf_add(b, xy, 2 * n * sizeof *xy);
    situ_buf_add(b, xy, 2 * sizeof *xy);
}

static void put(const char *coll, const char *id, const char *town, const double *xy, size_t n)
{
    const situ_collection *c = situ_schema_find(coll);
    situ_value v[32] = {0};
    for (int i = 0; i < c->nfields; i++) {
        const char *name = c->fields[i].name;
        const char *text = !strcmp(name, "onset")     ? "2000-01-01T00:00:00Z"
                           : !strcmp(name, "expires") ? "2999-01-01T00:00:00Z"
                           : !strcmp(name, "status")  ? "active"
                                                      : "x";
        if (c->fields[i].type == SITU_FT_TEXT)
            v[i] = (situ_value){SITU_FT_TEXT, {.s = text}};
        else if (c->fields[i].flags & SITU_FF_REQUIRED)
            v[i] = (situ_value){c->fields[i].type, {.i = 1}};
    }
    situ_buf b;
    situ_buf_init(&b);
    ring_wkb(&b, xy, n);
    situ_feature_in f = {.id = id,
                         .township_code = town,
                         .wkb = (const unsigned char *)b.p,
                         .nwkb = b.n,
                         .values = v};
    situ_err err = {0};
    int rc = situ_store_upsert(store, c, &f, NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    situ_buf_dispose(&b);
}

static void rect(double *xy, double x0, double y0, double x1, double y1)
{
    const double r[] = {x0, y0, x1, y0, x1, y1, x0, y1};
    memcpy(xy, r, sizeof r);
}

enum { SAW = 200000, TOWN = 4000 };

/* A township of TOWN + 6 vertices: x 0..10, y 0..10 (its south edge
 * wavy) with a notch x 3..7, y 2..10 open to the north. */
static double *township_outline(void)
{
    double *xy = malloc(2 * (TOWN + 6) * sizeof *xy);
    for (int i = 0; i < TOWN; i++)
        xy[2 * i] = 10.0 * i / (TOWN - 1), xy[2 * i + 1] = 0.001 * (i % 2);
    const double rest[] = {10, 10, 7, 10, 7, 2, 3, 2, 3, 10, 0, 10};
    memcpy(xy + 2 * TOWN, rest, sizeof rest);
    return xy;
}

/* A sawtooth band of SAW vertices along y0 .. y0 + 0.5 across x0 .. x1. */
static double *sawtooth(double x0, double x1, double y0)
{
    double *xy = malloc(2 * (SAW + 2) * sizeof *xy);
    for (int i = 0; i < SAW; i++)
        xy[2 * i] = x0 + (x1 - x0) * i / (SAW - 1), xy[2 * i + 1] = y0 + (i % 2 ? 0.1 : 0);
    xy[2 * SAW] = x1, xy[2 * SAW + 1] = y0 + 0.5;
    xy[2 * SAW + 2] = x0, xy[2 * SAW + 3] = y0 + 0.5;
    return xy;
}

static situ_snapshot *load(void)
{
    situ_snapshot *s;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(store, &s, &err), 0);
    return s;
}

static int setup(void **state)
{
    (void)state;
    dir = situ_test_tmpdir("summary");
    char path[4096];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &store, &err), 0);
    assert_int_equal(situ_store_begin(store, &err), 0);
    double *t = township_outline(), *in = sawtooth(1, 9, 0.5), *out = sawtooth(3.5, 6.5, 5), xy[8];
    put("townships", "431102001", "431102001", t, TOWN + 6);
    put("alerts", "meteorology:saw_in", "", in, SAW + 2);
    put("alerts", "meteorology:saw_out", "", out, SAW + 2); /* in the notch */
    /* a plus sign: no vertex of either inside the other */
    rect(xy, 20, 4, 30, 6);
    put("townships", "431102002", "431102002", xy, 4);
    rect(xy, 24, 0, 26, 10);
    put("alerts", "water_resources:plus", "", xy, 4);
    assert_int_equal(situ_store_commit(store, &err), 0);
    free(t), free(in), free(out);
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

static int meets(const situ_snapshot *s, const char *alert, const char *town)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS], *t = s->colls[SITU_C_TOWNSHIPS];
    long ai = situ_coll_find(a, alert), ti = situ_coll_find(t, town);
    assert_true(ai >= 0 && ti >= 0);
    return situ_polygons_meet(a, &a->feats[ai], t, &t->feats[ti]);
}

static void polygons_crossing_without_a_vertex_inside_meet(void **state)
{
    (void)state;
    situ_snapshot *s = load();
    assert_true(meets(s, "water_resources:plus", "431102002"));
    assert_false(meets(s, "water_resources:plus", "431102001"));
    situ_snapshot_release(s);
}

/* 200,000 vertices against 4,000, every vertex of each inside the other's
 * box: answered exactly, both ways round, without testing each vertex
 * against every edge of the other (4 * 10^8 tests per pair). */
static void a_200k_vertex_outline_against_a_township(void **state)
{
    (void)state;
    situ_snapshot *s = load();
    assert_true(meets(s, "meteorology:saw_in", "431102001"));
    assert_false(meets(s, "meteorology:saw_out", "431102001"));
    const situ_coll *a = s->colls[SITU_C_ALERTS], *t = s->colls[SITU_C_TOWNSHIPS];
    long ai = situ_coll_find(a, "meteorology:saw_in"), ti = situ_coll_find(t, "431102001");
    assert_true(situ_polygons_meet(t, &t->feats[ti], a, &a->feats[ai]));
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_summary_township(s, "431102001", "2026-12-06T00:00:00Z", &b), 0);
    situ_buf_addc(&b, 0);
    assert_non_null(strstr(b.p, "\"id\":\"meteorology:saw_in\""));
    assert_null(strstr(b.p, "saw_out"));
    assert_null(strstr(b.p, "plus"));
    situ_buf_dispose(&b);
    situ_snapshot_release(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(polygons_crossing_without_a_vertex_inside_meet, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_200k_vertex_outline_against_a_township, setup, teardown),
};

SITU_TEST_MAIN("summary", tests)

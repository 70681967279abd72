/* admin_test.c: tests layers/admin.c on the demo's 182 real townships
 * (geodata/demo/townships.geojson in a real SpatiaLite file): each county
 * and province outline covers its members without gaps (its area against
 * GEOS's unary union of the members, and their summed areas), every
 * township's interior point lies in its own county and no other, the unary
 * method agrees, a second run given the first copies every area, and a
 * result restored from its copy (a snapshot file's) equals it and is reused
 * as the original would be. */
#include "testlib.h"

#include <geos_c.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../../layers/summary_private.h"
#include "situ/admin.h"
#include "situ/load.h"
#include "situ/snapshot.h"

#define TOWNSHIPS SITU_SOURCE_DIR "/geodata/demo/townships.geojson"

static char *dir;
static situ_store *store;
static situ_coll *towns;
static GEOSContextHandle_t gh;

static int setup(void **state)
{
    (void)state;
    char path[4096];
    situ_err err = {0};
    dir = situ_test_tmpdir("admin");
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    situ_load_opts o = {.collection = "townships"};
    situ_load_stats st;
    if (situ_store_open(path, SITU_STORE_CREATE, &store, &err) ||
        situ_load_file(store, TOWNSHIPS, &o, &st, &err) ||
        situ_coll_load(store, SITU_C_TOWNSHIPS, &towns, &err))
        return fprintf(stderr, "%s\n", err.msg), -1;
    gh = situ__geos_quiet_init();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_coll_release(towns);
    situ_store_close(store);
    GEOS_finish_r(gh);
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

static double feature_area(const situ_coll *c, const situ_feature *f)
{
    GEOSGeometry *g = situ__feature_geos(gh, c, f);
    double a = -1;
    assert_non_null(g);
    assert_int_equal(GEOSArea_r(gh, g, &a), 1);
    GEOSGeom_destroy_r(gh, g);
    return a;
}

/* Area of GEOS's unary union of the members of c whose code starts with
 * code, and the sum of their own areas. */
static void members_area(const situ_coll *c, const char *code, double *out_union, double *out_sum)
{
    size_t n = 0, plen = strlen(code);
    GEOSGeometry **g = malloc(c->n * sizeof *g);
    *out_sum = 0;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        if (strncmp(f->township_code[0] ? f->township_code : f->id, code, plen))
            continue;
        g[n++] = situ__feature_geos(gh, c, f);
        *out_sum += feature_area(c, f);
    }
    assert_true(n > 0);
    GEOSGeometry *all = GEOSGeom_createCollection_r(gh, GEOS_GEOMETRYCOLLECTION, g, (unsigned)n);
    GEOSGeometry *u = GEOSUnaryUnion_r(gh, all);
    assert_non_null(u);
    assert_int_equal(GEOSArea_r(gh, u, out_union), 1);
    GEOSGeom_destroy_r(gh, u);
    GEOSGeom_destroy_r(gh, all);
    free(g);
}

/* Every area of `areas` covers exactly the union of its members in parts. */
static void check_cover(const situ_coll *areas, const situ_coll *parts)
{
    for (size_t i = 0; i < areas->n; i++) {
        const situ_feature *f = &areas->feats[i];
        double a = feature_area(areas, f), u, sum;
        members_area(parts, f->id, &u, &sum);
        assert_true(fabs(a - u) <= 1e-9 * u);
        assert_true(fabs(a - sum) <= 1e-6 * sum); /* the members do not overlap */
    }
}

static void test_counties_cover_townships(void **state)
{
    (void)state;
    situ_coll *counties = NULL;
    situ_admin_stats st;
    situ_err err = {0};
    assert_int_equal(situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, NULL, SITU_ADMIN_COVERAGE,
                                         &counties, &st, &err),
                     0);
    assert_int_equal(counties->n, 13); /* Yongzhou's 13 county-level areas */
    assert_int_equal(st.areas, 13);
    assert_int_equal(st.coverage + st.unary, 13);
    assert_string_equal(counties->c->id, "counties");
    assert_string_equal(counties->feats[0].id, "431102");
    assert_string_equal(counties->feats[0].values[0].u.s, "零陵区");
    check_cover(counties, towns);
    for (size_t i = 0; i < towns->n; i++) { /* each township in its county, in no other */
        const situ_feature *t = &towns->feats[i];
        for (size_t k = 0; k < counties->n; k++) {
            const situ_feature *c = &counties->feats[k];
            int own = !strncmp(t->township_code, c->id, 6);
            assert_int_equal(situ_coll_contains(counties, c, t->x, t->y), own);
        }
    }
    situ_coll_release(counties);
}

static void test_provinces_cover_counties(void **state)
{
    (void)state;
    situ_coll *counties = NULL, *provinces = NULL;
    situ_err err = {0};
    assert_int_equal(situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, NULL, SITU_ADMIN_COVERAGE,
                                         &counties, NULL, &err),
                     0);
    assert_int_equal(situ_admin_dissolve(counties, SITU_ADMIN_PROVINCE, NULL, SITU_ADMIN_COVERAGE,
                                         &provinces, NULL, &err),
                     0);
    assert_int_equal(provinces->n, 1);
    assert_string_equal(provinces->feats[0].id, "43");
    assert_string_equal(provinces->feats[0].values[0].u.s, "湖南省");
    check_cover(provinces, counties);
    double u, sum;
    members_area(towns, "43", &u, &sum);
    assert_true(fabs(feature_area(provinces, &provinces->feats[0]) - u) <= 1e-9 * u);
    /* the wrong parts for a level are refused */
    assert_int_equal(situ_admin_dissolve(towns, SITU_ADMIN_PROVINCE, NULL, SITU_ADMIN_COVERAGE,
                                         &provinces, NULL, &err),
                     SITU_EINVAL);
    situ_coll_release(provinces);
    situ_coll_release(counties);
}

static void test_unary_agrees_and_prev_is_reused(void **state)
{
    (void)state;
    situ_coll *a = NULL, *b = NULL, *c = NULL;
    situ_admin_stats st;
    situ_err err = {0};
    assert_int_equal(
        situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, NULL, SITU_ADMIN_UNARY, &a, &st, &err), 0);
    assert_int_equal(st.unary, 13);
    check_cover(a, towns);
    assert_int_equal(
        situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, a, SITU_ADMIN_COVERAGE, &b, &st, &err), 0);
    assert_int_equal(st.reused, 13);
    assert_int_equal(st.coverage + st.unary, 0);
    situ_test_same_coll(a, b);
    /* a previous result of other townships is not reused */
    assert_int_equal(
        situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, NULL, SITU_ADMIN_COVERAGE, &c, &st, &err), 0);
    assert_int_equal(st.reused, 0);
    situ_coll_release(a), situ_coll_release(b), situ_coll_release(c);
}

static void test_restored_result_equals_and_is_reused(void **state)
{
    (void)state;
    situ_coll *a = NULL, *p = NULL, *ra = NULL, *rp = NULL, *b = NULL, *q = NULL;
    situ_admin_stats st;
    situ_err err = {0};
    assert_int_equal(
        situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, NULL, SITU_ADMIN_COVERAGE, &a, NULL, &err),
        0);
    assert_int_equal(
        situ_admin_dissolve(a, SITU_ADMIN_PROVINCE, NULL, SITU_ADMIN_COVERAGE, &p, NULL, &err), 0);
    assert_null(situ_admin_signatures(towns));
    assert_int_equal(situ_admin_restore(a, SITU_ADMIN_COUNTY, situ_admin_signatures(a), &ra, &err),
                     0);
    assert_int_equal(
        situ_admin_restore(p, SITU_ADMIN_PROVINCE, situ_admin_signatures(p), &rp, &err), 0);
    situ_test_same_coll(a, ra);
    situ_test_same_coll(p, rp);
    assert_memory_equal(situ_admin_signatures(a), situ_admin_signatures(ra),
                        a->n * sizeof(uint64_t));
    /* the restored results serve as prev: every area copied, the same outcome */
    assert_int_equal(
        situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, ra, SITU_ADMIN_COVERAGE, &b, &st, &err), 0);
    assert_int_equal(st.reused, 13);
    situ_test_same_coll(a, b);
    assert_int_equal(
        situ_admin_dissolve(b, SITU_ADMIN_PROVINCE, rp, SITU_ADMIN_COVERAGE, &q, &st, &err), 0);
    assert_int_equal(st.reused, 1);
    situ_test_same_coll(p, q);
    /* a result of another level is refused */
    assert_int_equal(situ_admin_restore(a, SITU_ADMIN_PROVINCE, situ_admin_signatures(a), &q, &err),
                     SITU_EINVAL);
    situ_coll_release(a), situ_coll_release(p), situ_coll_release(ra);
    situ_coll_release(rp), situ_coll_release(b), situ_coll_release(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counties_cover_townships),
        cmocka_unit_test(test_provinces_cover_counties),
        cmocka_unit_test(test_unary_agrees_and_prev_is_reused),
        cmocka_unit_test(test_restored_result_equals_and_is_reused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

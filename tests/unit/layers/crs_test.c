/* crs_test.c: tests layers/crs.c, the CRSs situ answers in, by PROJ. */
#include "testlib.h"

#include <math.h>
#include <string.h>

#include "situ/crs.h"

enum { EPSG4326 = 1, EPSG4546 = 4 };

static void names_uris_codes_and_curies(void **state)
{
    (void)state;
    situ_err err = {0};
    assert_int_equal(situ_crs_find("http://www.opengis.net/def/crs/EPSG/0/4546", "crs", &err),
                     EPSG4546);
    assert_int_equal(situ_crs_find("EPSG:4546", "crs", &err), EPSG4546);
    assert_int_equal(situ_crs_find("[EPSG:4546]", "crs", &err), EPSG4546);
    assert_int_equal(situ_crs_find("CRS84", "crs", &err), SITU_CRS_CRS84);
    assert_int_equal(situ_crs_find(situ_crs_uri(SITU_CRS_CRS84), "crs", &err), SITU_CRS_CRS84);
    assert_int_equal(situ_crs_find("EPSG:3857", "bbox-crs", &err), -1);
    assert_non_null(strstr(err.msg, "bbox-crs"));
    assert_int_equal(situ_crs_decimals(EPSG4546), 3);
}

/* cs2cs -f %.4f OGC:CRS84 EPSG:4546 <<< "111.5 26.2" (PROJ 9.1.1):
 * 2899088.7515 549974.1787, northing first as EPSG orders the axes. */
static void gauss_krueger_zone_is_northing_easting(void **state)
{
    (void)state;
    situ_err err = {0};
    situ_crs_xform *x;
    assert_int_equal(situ_crs_xform_new(EPSG4546, &x, &err), 0);
    double a = 111.5, b = 26.2;
    situ_crs_xform_point(x, &a, &b);
    assert_true(fabs(a - 2899088.7515) < 0.001);
    assert_true(fabs(b - 549974.1787) < 0.001);
    /* a box around it comes back to a CRS84 box holding the point */
    double box[4] = {a - 100, b - 100, a + 100, b + 100}, out[4];
    assert_int_equal(situ_crs_xform_bbox(x, box, out, &err), 0);
    assert_true(out[0] < 111.5 && 111.5 < out[2] && out[1] < 26.2 && 26.2 < out[3]);
    assert_true(out[2] - out[0] < 0.01 && out[3] - out[1] < 0.01);
    situ_crs_xform_free(x);
}

static void epsg_4326_is_lat_lon(void **state)
{
    (void)state;
    situ_err err = {0};
    situ_crs_xform *x;
    assert_int_equal(situ_crs_xform_new(EPSG4326, &x, &err), 0);
    double a = 111.5, b = 26.2;
    situ_crs_xform_point(x, &a, &b);
    assert_true(fabs(a - 26.2) < 1e-12 && fabs(b - 111.5) < 1e-12);
    situ_crs_xform_free(x);
}

/* A freed transformation is the next one handed out for its CRS. */
static void freed_transformations_are_pooled(void **state)
{
    (void)state;
    situ_err err = {0};
    situ_crs_xform *x, *y, *z;
    assert_int_equal(situ_crs_xform_new(EPSG4546, &x, &err), 0);
    assert_int_equal(situ_crs_xform_new(EPSG4546, &y, &err), 0);
    assert_ptr_not_equal(x, y);
    int before = situ_crs_pooled(EPSG4546);
    situ_crs_xform_free(x);
    assert_int_equal(situ_crs_pooled(EPSG4546), before + 1);
    assert_int_equal(situ_crs_xform_new(EPSG4546, &z, &err), 0);
    assert_int_equal(situ_crs_pooled(EPSG4546), before);
    assert_ptr_equal(z, x);
    situ_crs_xform_free(y);
    situ_crs_xform_free(z);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(names_uris_codes_and_curies),
    cmocka_unit_test(gauss_krueger_zone_is_northing_easting),
    cmocka_unit_test(epsg_4326_is_lat_lon),
    cmocka_unit_test(freed_transformations_are_pooled),
};

SITU_TEST_MAIN("crs", tests)

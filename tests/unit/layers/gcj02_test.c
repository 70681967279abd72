/* gcj02_test.c: tests layers/gcj02.c, WGS84 <-> GCJ-02. */
#include "testlib.h"

#include <geodesic.h>
#include <math.h>

#include "situ/gcj02.h"

static double metres(double lon1, double lat1, double lon2, double lat2)
{
    struct geod_geodesic g;
    double s;
    geod_init(&g, 6378137, 1 / 298.257223563);
    geod_inverse(&g, lat1, lon1, lat2, lon2, &s, NULL, NULL);
    return s;
}

/* The published reference values of the public formula (coordtransform). */
static void forward_matches_reference(void **state)
{
    (void)state;
    double lon, lat;
    situ_gcj02_from_wgs84(116.404, 39.915, &lon, &lat);
    assert_true(fabs(lon - 116.41024449916938) < 1e-11);
    assert_true(fabs(lat - 39.91640428150164) < 1e-11);
}

/* Over Yongzhou and around it the round trip is far below 0.5 m, and the
 * offset itself is the few hundred metres consumer maps show. */
static void round_trip_over_the_city(void **state)
{
    (void)state;
    double worst = 0;
    for (double lat = 24.3; lat <= 27.2; lat += 0.01)
        for (double lon = 110.7; lon <= 112.9; lon += 0.01) {
            double glon, glat, wlon, wlat;
            situ_gcj02_from_wgs84(lon, lat, &glon, &glat);
            double off = metres(lon, lat, glon, glat);
            assert_true(off > 100 && off < 1000);
            situ_gcj02_to_wgs84(glon, glat, &wlon, &wlat);
            worst = fmax(worst, metres(lon, lat, wlon, wlat));
        }
    assert_true(worst < 0.01); /* the issue asks < 0.5 m; the iteration gives < 1 cm */
}

static void no_offset_outside_china(void **state)
{
    (void)state;
    static const double pts[][2] = {{2.35, 48.85}, {-74.0, 40.7}, {139.7, 35.7}, {151.2, -33.9}};
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double lon, lat;
        assert_false(situ_gcj02_applies(pts[i][0], pts[i][1]));
        situ_gcj02_from_wgs84(pts[i][0], pts[i][1], &lon, &lat);
        assert_true(lon == pts[i][0] && lat == pts[i][1]);
        situ_gcj02_to_wgs84(pts[i][0], pts[i][1], &lon, &lat);
        assert_true(lon == pts[i][0] && lat == pts[i][1]);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(forward_matches_reference),
    cmocka_unit_test(round_trip_over_the_city),
    cmocka_unit_test(no_offset_outside_china),
};

SITU_TEST_MAIN("gcj02", tests)

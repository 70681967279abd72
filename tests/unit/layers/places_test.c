/* places_test.c: tests layers/places.c, the base map's named places: reading
 * them (any OGR source, in any CRS), refusing a bad file naming the feature,
 * and the search by name part, kind and box with its ranking. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/places.h"

static char *dir;

static const char *write_file(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(situ_test_write(path, text), 0);
    return path;
}

#define PLACE(name, kind, twp, lon, lat)                                                                  \
    "{\"type\":\"Feature\",\"properties\":{\"name\":\"" name "\",\"kind\":\"" kind                        \
    "\",\"township_code\":\"" twp "\",\"township_name\":\"伊塘镇\",\"county_name\":\"冷水滩区\"}," \
    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[" #lon "," #lat "]}}"

/* clang-format off */
static const char good[] = "{\"type\":\"FeatureCollection\",\"features\":["
    PLACE("上石坪村", "village", "431103100", 111.62, 26.42) ","
    PLACE("石坪村", "village", "431103100", 111.61, 26.41) ","
    PLACE("伊塘镇", "township_seat", "431103100", 111.6, 26.4) ","
    PLACE("冷水滩区", "county_seat", "431103001", 111.59, 26.43) ","
    PLACE("石坪", "township_seat", "431103101", 112.0, 26.0) "]}";
/* clang-format on */

/* The names of the answer's features, in order, joined by spaces. */
static void names_of(const situ_places *p, const situ_places_query *q, char *out, size_t n,
                     size_t *out_matched)
{
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_places_find(p, q, &b), 0);
    situ_buf_addc(&b, '\0');
    const char *m = strstr(b.p, "\"numberMatched\":");
    assert_non_null(m);
    *out_matched = strtoul(m + 16, NULL, 10);
    out[0] = '\0';
    for (const char *s = b.p; (s = strstr(s, "\"name\":\"")) != NULL;) {
        s += 8;
        const char *e = strchr(s, '"');
        snprintf(out + strlen(out), n - strlen(out), "%s%.*s", out[0] ? " " : "", (int)(e - s), s);
    }
    situ_buf_dispose(&b);
}

static void search_ranks_exact_then_prefix_then_part(void **state)
{
    (void)state;
    situ_places *p = NULL;
    situ_err err = {0};
    assert_int_equal(situ_places_open(write_file("good.geojson", good), &p, &err), 0);
    assert_int_equal(situ_places_count(p), 5);
    char names[512];
    size_t matched;
    /* 石坪 itself (a township seat) first, then 石坪村 (prefix), then 上石坪村
     * (which the file has before 石坪村) */
    names_of(p, &(situ_places_query){.q = "石坪", .limit = 10}, names, sizeof names, &matched);
    assert_string_equal(names, "石坪 石坪村 上石坪村");
    assert_int_equal(matched, 3);
    /* villages only, limited: numberMatched still counts them all */
    names_of(p, &(situ_places_query){.q = "石坪", .kinds = SITU_PLACE_VILLAGE, .limit = 1}, names,
             sizeof names, &matched);
    assert_string_equal(names, "石坪村");
    assert_int_equal(matched, 2);
    /* no q: seats before villages, county seats first; bbox cuts */
    double box[4] = {111.58, 26.39, 111.615, 26.44};
    names_of(p, &(situ_places_query){.bbox = box, .limit = 10}, names, sizeof names, &matched);
    assert_string_equal(names, "冷水滩区 伊塘镇 石坪村");
    names_of(p, &(situ_places_query){.q = "无此村", .limit = 10}, names, sizeof names, &matched);
    assert_string_equal(names, "");
    assert_int_equal(matched, 0);
    /* no places at all: an empty collection */
    names_of(NULL, &(situ_places_query){.q = "石坪", .limit = 10}, names, sizeof names, &matched);
    assert_int_equal(matched, 0);
    situ_places_free(p);
}

static void another_crs_is_brought_to_lon_lat(void **state)
{
    (void)state;
    /* 111.6, 26.4 in CGCS2000 / 3-degree Gauss-Kruger CM 111E (EPSG:4546), as cs2cs gives it */
    const char *gk =
        "{\"type\":\"FeatureCollection\",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":"
        "\"urn:ogc:def:crs:EPSG::4546\"}},\"features\":[{\"type\":\"Feature\",\"properties\":"
        "{\"name\":\"石坪村\",\"kind\":\"village\"},\"geometry\":{\"type\":\"Point\","
        "\"coordinates\":[559866.40,2921290.38]}}]}";
    situ_places *p = NULL;
    situ_err err = {0};
    assert_int_equal(situ_places_open(write_file("gk.geojson", gk), &p, &err), 0);
    double box[4] = {111.5999, 26.3999, 111.6001, 26.4001};
    char names[128];
    size_t matched;
    names_of(p, &(situ_places_query){.bbox = box, .limit = 10}, names, sizeof names, &matched);
    assert_int_equal(matched, 1);
    situ_places_free(p);
}

static void a_bad_file_is_refused_naming_what(void **state)
{
    (void)state;
    situ_places *p = NULL;
    situ_err err = {0};
    const char *nokind = "{\"type\":\"FeatureCollection\",\"features\":[" PLACE(
        "石坪村", "hamlet", "1", 111.6, 26.4) "]}";
    assert_int_equal(situ_places_open(write_file("kind.geojson", nokind), &p, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "kind is not"));
    const char *line =
        "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"properties\":"
        "{\"name\":\"石坪村\",\"kind\":\"village\"},\"geometry\":{\"type\":\"LineString\","
        "\"coordinates\":[[111.6,26.4],[111.7,26.5]]}}]}";
    assert_int_equal(situ_places_open(write_file("line.geojson", line), &p, &err), SITU_EGEOM);
    assert_non_null(strstr(err.msg, "石坪村 is not a point"));
    assert_int_equal(
        situ_places_open(
            write_file("empty.geojson", "{\"type\":\"FeatureCollection\",\"features\":[]}"), &p,
            &err),
        SITU_EFORMAT);
    assert_int_equal(situ_places_open("/nonexistent/places.geojson", &p, &err), SITU_ENOTFOUND);
    assert_null(p);
}

static int setup(void **state)
{
    (void)state;
    dir = situ_test_tmpdir("places");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(search_ranks_exact_then_prefix_then_part, setup, teardown),
    cmocka_unit_test_setup_teardown(another_crs_is_brought_to_lon_lat, setup, teardown),
    cmocka_unit_test_setup_teardown(a_bad_file_is_refused_naming_what, setup, teardown),
};

SITU_TEST_MAIN("places", tests)

/* tilejson_test.c: tests layers/tiles/tilejson.c: TileJSON 3.0.0 for `all` and for
 * one collection, parsed back with jansson. */
#include "testlib.h"

#include <jansson.h>
#include <string.h>

#include "situ/tilejson.h"
#include "tile_fixture.h"

static json_t *tilejson(const situ_snapshot *snap, const char *set, const char *base)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    assert_int_equal(situ_tilejson_write(&b, snap, set, base, NULL, &err), 0);
    json_error_t je;
    json_t *j = json_loadb(b.p, b.n, 0, &je);
    if (!j)
        fail_msg("not JSON (%s): %s", je.text, b.p);
    situ_buf_dispose(&b);
    return j;
}

static json_t *layer(json_t *j, const char *id)
{
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(j, "vector_layers"), i,
                       l) if (!strcmp(json_string_value(json_object_get(l, "id")), id)) return l;
    return NULL;
}

static const char *field(json_t *l, const char *name)
{
    return json_string_value(json_object_get(json_object_get(l, "fields"), name));
}

static void all_set(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    json_t *j = tilejson(fx.snap, "all", "http://127.0.0.1:8080");
    assert_string_equal(json_string_value(json_object_get(j, "tilejson")), "3.0.0");
    json_t *tiles = json_object_get(j, "tiles");
    assert_int_equal(json_array_size(tiles), 1);
    assert_string_equal(json_string_value(json_array_get(tiles, 0)),
                        "http://127.0.0.1:8080/tiles/all/{z}/{x}/{y}.mvt");
    assert_int_equal(json_integer_value(json_object_get(j, "minzoom")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "maxzoom")), 22);
    json_t *bounds = json_object_get(j, "bounds"), *center = json_object_get(j, "center");
    assert_true(json_real_value(json_array_get(bounds, 0)) >= FX_LON0 - 0.1);
    assert_true(json_number_value(json_array_get(bounds, 2)) <= FX_LON0 + FX_SPAN + 0.1);
    assert_true(json_number_value(json_array_get(bounds, 1)) <
                json_number_value(json_array_get(bounds, 3)));
    assert_int_equal(json_array_size(center), 3);
    int cz = (int)json_integer_value(json_array_get(center, 2));
    assert_true(cz >= 9 && cz <= 12);
    json_t *layers = json_object_get(j, "vector_layers");
    /* the provinces and counties stand for the townships at low zooms */
    assert_int_equal(json_array_size(layers), SITU_NCOLLECTIONS + 2);
    const char *low[] = {"provinces", "counties"};
    int lz[][2] = {{0, SITU_TILE_PROVINCE_BELOW - 1},
                   {SITU_TILE_PROVINCE_BELOW, SITU_TILE_COUNTY_BELOW - 1}};
    for (size_t i = 0; i < 2; i++) {
        json_t *l = json_array_get(layers, i);
        assert_string_equal(json_string_value(json_object_get(l, "id")), low[i]);
        assert_int_equal(json_integer_value(json_object_get(l, "minzoom")), lz[i][0]);
        assert_int_equal(json_integer_value(json_object_get(l, "maxzoom")), lz[i][1]);
        assert_string_equal(field(l, "name"), "String");
    }
    assert_int_equal(json_integer_value(json_object_get(layer(j, "townships"), "minzoom")),
                     SITU_TILE_COUNTY_BELOW);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(layers, (size_t)i + 2), "id")),
            situ_schema_collection((situ_coll_id)i)->id);
    json_t *hz = layer(j, "hazards"), *st = layer(j, "stations"), *rs = layer(j, "resources");
    assert_string_equal(field(hz, "id"), "String");
    assert_string_equal(field(hz, "township_code"), "String");
    assert_string_equal(field(hz, "level"), "String");
    assert_string_equal(field(hz, "cluster"), "Boolean");
    assert_string_equal(field(hz, "point_count"), "Number");
    assert_string_equal(field(st, "online"), "Boolean");
    assert_string_equal(field(st, "value"), "Number");
    assert_string_equal(field(rs, "item_sandbag"), "Number");
    assert_string_equal(field(rs, "personnel_sum"), "Number");
    /* the four maps are carried from z0, as aggregates below SITU_TILE_AGGREGATE_BELOW */
    assert_int_equal(json_integer_value(json_object_get(layer(j, "risk_zones"), "minzoom")), 0);
    assert_int_equal(json_integer_value(json_object_get(hz, "minzoom")), 0);
    json_t *cl = json_object_get(hz, "clustering");
    assert_int_equal(json_integer_value(json_object_get(cl, "maxzoom")), 11);
    assert_int_equal(json_integer_value(json_object_get(cl, "more_than")), 4);
    assert_non_null(json_object_get(json_object_get(cl, "fields"), "ids"));
    assert_non_null(json_object_get(json_object_get(cl, "fields"), "overdue"));
    assert_non_null(json_object_get(json_object_get(cl, "fields"), "level_major"));
    assert_non_null(json_object_get(json_object_get(cl, "fields"), "status_open"));
    assert_int_equal(json_integer_value(json_object_get(cl, "aggregate_below")),
                     SITU_TILE_AGGREGATE_BELOW);
    cl = json_object_get(layer(j, "hazard_sources"), "clustering");
    assert_int_equal(json_integer_value(json_object_get(cl, "maxzoom")), 7);
    assert_true(json_is_null(json_object_get(layer(j, "townships"), "clustering")));
    assert_null(field(layer(j, "townships"), "cluster"));
    assert_non_null(strstr(json_string_value(json_object_get(hz, "description")), "cluster"));
    /* roads: lines, the road properties only, never clustered, minor classes later */
    json_t *rd = layer(j, "roads");
    assert_string_equal(json_string_value(json_object_get(rd, "geometry_type")), "line");
    assert_int_equal(json_integer_value(json_object_get(rd, "minzoom")), 6);
    assert_string_equal(field(rd, "class"), "String");
    assert_string_equal(field(rd, "bridge"), "Boolean");
    assert_string_equal(field(rd, "closed_until"), "String");
    assert_null(field(rd, "speed_kmh"));
    assert_null(field(rd, "township_code"));
    assert_null(field(rd, "cluster"));
    assert_true(json_is_null(json_object_get(rd, "clustering")));
    const char *rdd = json_string_value(json_object_get(rd, "description"));
    assert_non_null(strstr(rdd, "from zoom 9: class=county, township, ferry"));
    assert_non_null(strstr(rdd, "from zoom 11: class=village, urban, service"));
    json_decref(j);
    fixture_close(&fx);
}

static void one_collection_and_unknown(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    json_t *j = tilejson(fx.snap, "hazard_sources", "https://wall.example/\"x");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "tiles"), 0)),
                        "https://wall.example/\"x/tiles/hazard_sources/{z}/{x}/{y}.mvt");
    assert_int_equal(json_array_size(json_object_get(j, "vector_layers")), 1);
    assert_non_null(layer(j, "hazard_sources"));
    assert_string_equal(field(layer(j, "hazard_sources"), "grade"), "Number");
    json_decref(j);
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    assert_int_equal(situ_tilejson_write(&b, fx.snap, "nope", "", NULL, &err), SITU_ENOTFOUND);
    situ_buf_dispose(&b);
    fixture_close(&fx);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(all_set),
    cmocka_unit_test(one_collection_and_unknown),
};

SITU_TEST_MAIN("tilejson", tests)

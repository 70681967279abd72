/* store_test.c: tests layers/store.c against a real SpatiaLite file. */
#include "testlib.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/store.h"

/* WKB of POINT(lon lat), little-endian. */
static size_t point_wkb(unsigned char out[21], double lon, double lat)
{
    unsigned int type = 1;
    out[0] = 1;
    memcpy(out + 1, &type, 4);
    memcpy(out + 5, &lon, 8);
    memcpy(out + 13, &lat, 8);
    return 21;
}

static situ_store *open_new(char **dir)
{
    *dir = situ_test_tmpdir("store");
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", *dir);
    situ_store *s = NULL;
    situ_err err = {0};
    int rc = situ_store_open(path, SITU_STORE_CREATE, &s, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return s;
}

static void creates_schema_with_wal_and_version(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    assert_int_equal(situ_store_version(s), SITU_SCHEMA_VERSION);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), "PRAGMA journal_mode", -1, &st, NULL),
                     0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* every collection is registered with SpatiaLite in EPSG:4326 */
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s),
                                        "SELECT count(*) FROM geometry_columns WHERE srid = 4326 "
                                        "AND spatial_index_enabled = 1",
                                        -1, &st, NULL),
                     0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), SITU_NCOLLECTIONS);
    sqlite3_finalize(st);
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

static void upsert_inserts_then_updates_and_replaces_items(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    const situ_collection *c = situ_schema_find("resources");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "name")] = (situ_value){SITU_FT_TEXT, {.s = "零陵区物资库"}};
    v[situ_schema_field_index(c, "category")] = (situ_value){SITU_FT_TEXT, {.s = "depot"}};
    unsigned char wkb[21];
    situ_item_qty items[2] = {{"sandbag", 2000, NULL}, {"life_jacket", 300, "piece"}};
    situ_feature_in f = {.id = "R1", .township_code = "431102001", .wkb = wkb,
                         .nwkb = point_wkb(wkb, 111.6, 26.2), .values = v, .items = items,
                         .nitems = 2};
    int inserted = -1;
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(s, c, &f, &inserted, &err), 0);
    assert_int_equal(inserted, 1);
    f.nitems = 1;
    items[0].quantity = 500;
    assert_int_equal(situ_store_upsert(s, c, &f, &inserted, &err), 0);
    assert_int_equal(inserted, 0);
    long long n = 0;
    assert_int_equal(situ_store_count(s, c, &n, &err), 0);
    assert_int_equal(n, 1);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(situ_store_db(s),
                       "SELECT count(*), sum(quantity), min(unit) FROM resource_items", -1, &st,
                       NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1);
    assert_int_equal(sqlite3_column_int(st, 1), 500);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "bag");
    sqlite3_finalize(st);
    /* an unknown item violates the vocabulary's foreign key */
    items[0].item = "unicorn";
    assert_int_not_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "unicorn"));
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

static void refuses_newer_schema_and_foreign_files(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("store");
    char path[4096];
    snprintf(path, sizeof path, "%s/plain.sqlite", dir);
    assert_int_equal(situ_test_sh(NULL, "sqlite3 '%s' 'PRAGMA user_version=99; CREATE TABLE x(a)'",
                                  path),
                     0);
    situ_store *s = NULL;
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &s, &err), SITU_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer"));
    situ_test_rmtree(dir);
    free(dir);
}

/* A freshly loaded demo file opens in GDAL (as in QGIS): every collection a
 * layer with its geometry type, EPSG:4326 and the loaded feature count. */
static void loaded_file_opens_in_ogrinfo(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("ogrinfo");
    char *out = NULL;
    assert_int_equal(situ_test_sh(NULL, "'%s' load --db '%s/d.sqlite' --all '%s' >/dev/null 2>&1",
                                  situ_test_bin(), dir, SITU_SOURCE_DIR "/geodata/demo"),
                     0);
    assert_int_equal(situ_test_sh(&out, "ogrinfo -ro -so -al '%s/d.sqlite' 2>&1", dir), 0);
    static const struct {
        const char *layer, *geom;
        int min_count;
    } want[] = {{"townships", "Multi Polygon", 182}, {"risk_zones", "Multi Polygon", 100},
                {"hazards", "Point", 100},           {"hazard_sources", "Point", 50},
                {"resources", "Point", 182},         {"stations", "Point", 22},
                {"alerts", "Multi Polygon", 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char head[128];
        snprintf(head, sizeof head, "Layer name: %s\nGeometry: %s\nFeature Count: ", want[i].layer,
                 want[i].geom);
        const char *at = strstr(out, head);
        if (!at)
            fprintf(stderr, "missing '%s' in:\n%s\n", head, out);
        assert_non_null(at);
        assert_true(atoi(at + strlen(head)) >= want[i].min_count);
        const char *next = strstr(at + 1, "Layer name:");
        const char *srs = strstr(at, "ID[\"EPSG\",4326]");
        assert_true(srs && (!next || srs < next));
    }
    free(out);
    situ_test_rmtree(dir);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(loaded_file_opens_in_ogrinfo),
    cmocka_unit_test(creates_schema_with_wal_and_version),
    cmocka_unit_test(upsert_inserts_then_updates_and_replaces_items),
    cmocka_unit_test(refuses_newer_schema_and_foreign_files),
};

SITU_TEST_MAIN("store", tests)

/* store_test.c: tests layers/store/store.c against a real SpatiaLite file,
 * and store_pg.c against a real PostgreSQL + PostGIS (the _pg cases; they
 * say SKIPPED without PostgreSQL). */
#include "testlib.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/db.h"
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
    situ_store *s = situ_test_store_new("store", dir);
    assert_non_null(s);
    return s;
}

static void creates_schema_with_wal_and_version(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    assert_int_equal(situ_store_version(s), SITU_SCHEMA_VERSION);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), "PRAGMA journal_mode", -1, &st, NULL), 0);
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

/* The upsert on store s (either engine). */
static void upsert_on(situ_store *s)
{
    const situ_collection *c = situ_schema_find("resources");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "name")] = (situ_value){SITU_FT_TEXT, {.s = "零陵区物资库"}};
    v[situ_schema_field_index(c, "category")] = (situ_value){SITU_FT_TEXT, {.s = "depot"}};
    unsigned char wkb[21];
    situ_item_qty items[2] = {{"sandbag", 2000, NULL}, {"life_jacket", 300, "piece"}};
    situ_feature_in f = {.id = "R1",
                         .township_code = "431102001",
                         .wkb = wkb,
                         .nwkb = point_wkb(wkb, 111.6, 26.2),
                         .values = v,
                         .items = items,
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
    situ_assert_query(s, "SELECT count(*) FROM resource_items", "1");
    situ_assert_query(s, "SELECT CAST(sum(quantity) AS INTEGER) FROM resource_items", "500");
    situ_assert_query(s, "SELECT min(unit) FROM resource_items", "bag");
    /* an unknown item violates the vocabulary's foreign key */
    items[0].item = "unicorn";
    assert_int_not_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "unicorn"));
}

static void upsert_inserts_then_updates_and_replaces_items(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    upsert_on(s);
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
    assert_int_equal(
        situ_test_sh(NULL, "sqlite3 '%s' 'PRAGMA user_version=99; CREATE TABLE x(a)'", path), 0);
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
                {"alerts", "Multi Polygon", 0},      {"roads", "Multi Line String", 0}};
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

static void put_depot(situ_store *s, const char *id)
{
    const situ_collection *c = situ_schema_find("resources");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "name")] = (situ_value){SITU_FT_TEXT, {.s = id}};
    unsigned char wkb[21];
    situ_feature_in f = {.id = id,
                         .township_code = "431102001",
                         .wkb = wkb,
                         .nwkb = point_wkb(wkb, 111.6, 26.2),
                         .values = v};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
}

/* Upserts road id with geometry wkt; returns situ_store_upsert's code. */
static int put_road(situ_store *s, const char *id, const char *wkt, situ_err *err)
{
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "class")] = (situ_value){SITU_FT_TEXT, {.s = "county"}};
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    assert_non_null(wkb);
    situ_feature_in f = {.id = id, .township_code = "", .wkb = wkb, .nwkb = n, .values = v};
    int rc = situ_store_upsert(s, c, &f, NULL, err);
    free(wkb);
    return rc;
}

/* The text of a one-value query on the store. */
static void query_text(situ_store *s, const char *sql, char *out, size_t nout)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), sql, -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, nout, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* roads is a MULTILINESTRING column: a LineString is promoted, vertex order
 * kept and not closed; a polygon or a point is refused. */
static void roads_store_lines_promoted(void **state)
{
    (void)state;
    char *dir, text[512];
    situ_store *s = open_new(&dir);
    situ_err err = {0};
    assert_int_equal(put_road(s, "r1", "LINESTRING(111.6 26.2,111.5 26.3,111.7 26.4)", &err), 0);
    assert_int_equal(
        put_road(s, "r2", "MULTILINESTRING((111 26,111.1 26),(111.2 26,111.3 26.1))", &err), 0);
    query_text(s,
               "SELECT group_concat(AsText(geom), ';') FROM (SELECT geom FROM roads ORDER BY id)",
               text, sizeof text);
    assert_string_equal(text, "MULTILINESTRING((111.6 26.2, 111.5 26.3, 111.7 26.4));"
                              "MULTILINESTRING((111 26, 111.1 26), (111.2 26, 111.3 26.1))");
    query_text(s, "SELECT geometry_type FROM geometry_columns WHERE f_table_name = 'roads'", text,
               sizeof text);
    assert_string_equal(text, "5"); /* MULTILINESTRING */
    assert_int_not_equal(put_road(s, "r3", "POLYGON((111 26,111.1 26,111.1 26.1,111 26))", &err),
                         0);
    assert_int_not_equal(put_road(s, "r4", "POINT(111 26)", &err), 0);
    query_text(s, "SELECT count(*) FROM roads", text, sizeof text);
    assert_string_equal(text, "2");
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* Writes roads r0..r(n-1) (lines whose bounds sit just below, on and above
 * float32 values: the R-tree rounds them outwards), at a fixed time; every
 * step rows (0: never) indexes them so far (situ_store_bulk_step). */
static void put_bulk_roads(situ_store *s, int n, int step)
{
    static const char *const wkt[] = {
        "LINESTRING(111.49999999999999 26.2,111.5 26.300000000000001)",
        "LINESTRING(-0.1 -0.2,111.123456789012345 26.987654321098765)",
        "MULTILINESTRING((111 26,111.1 26),(111.2 26,111.3 26.1))"};
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "class")] = (situ_value){SITU_FT_TEXT, {.s = "county"}};
    situ_err err = {0};
    for (int i = 0; i < n; i++) {
        char id[16];
        size_t nwkb;
        unsigned char *wkb = situ_test_wkb(wkt[i % 3], &nwkb);
        snprintf(id, sizeof id, "r%d", i);
        situ_feature_in f = {
            .id = id, .wkb = wkb, .nwkb = nwkb, .values = v, .updated_at = "2026-01-01T00:00:00Z"};
        assert_int_equal(situ_store_upsert(s, situ_schema_find("roads"), &f, NULL, &err), 0);
        free(wkb);
        if (step && (i + 1) % step == 0)
            assert_int_equal(situ_store_bulk_step(s, c, &err), 0);
    }
}

/* Every trigger's and index's name and SQL, and the rows of roads and its
 * R-tree. */
static unsigned long long roads_digest(situ_store *s)
{
    static const char *const tables[] = {"roads", "idx_roads_geom", NULL};
    char text[64];
    unsigned long long h = situ_test_store_digest(s, tables);
    query_text(s, "SELECT count(*) FROM idx_roads_geom", text, sizeof text);
    assert_string_equal(text, "300");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s),
                                        "SELECT name, sql FROM sqlite_master WHERE type IN "
                                        "('trigger', 'index') ORDER BY name",
                                        -1, &st, NULL),
                     0);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (const unsigned char *p = sqlite3_column_text(st, 1); p && *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
    sqlite3_finalize(st);
    return h;
}

/* A bulk write into an empty collection gives the rows, the R-tree and the
 * triggers that writing row by row gives; while it is open the per-row
 * triggers are gone and a commit is refused; a rollback restores them; a
 * collection holding rows keeps its triggers. */
static void bulk_write_is_the_row_by_row_write(void **state)
{
    (void)state;
    char *da, *db, text[64];
    situ_store *a = open_new(&da), *b = open_new(&db);
    const situ_collection *roads = situ_schema_find("roads");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(a, &err), 0);
    put_bulk_roads(a, 300, 0);
    assert_int_equal(situ_store_commit(a, &err), 0);

    assert_int_equal(situ_store_begin(b, &err), 0);
    assert_int_equal(situ_store_bulk_begin(b, roads, &err), 0);
    query_text(b,
               "SELECT count(*) FROM sqlite_master WHERE name IN ('gii_roads_geom', "
               "'ggi_roads_geom', 'roads_township')",
               text, sizeof text);
    assert_string_equal(text, "0");
    put_bulk_roads(b, 300, 0);
    assert_int_not_equal(situ_store_commit(b, &err), 0); /* not ended */
    assert_int_equal(situ_store_bulk_end(b, roads, &err), 0);
    assert_int_equal(situ_store_commit(b, &err), 0);
    assert_true(roads_digest(a) == roads_digest(b));

    /* roads holds rows now: a bulk write keeps the triggers */
    assert_int_equal(situ_store_begin(b, &err), 0);
    assert_int_equal(situ_store_bulk_begin(b, roads, &err), 0);
    query_text(b, "SELECT count(*) FROM sqlite_master WHERE name = 'gii_roads_geom'", text,
               sizeof text);
    assert_string_equal(text, "1");
    assert_int_equal(situ_store_bulk_end(b, roads, &err), 0);
    situ_store_rollback(b);

    /* a rollback in the middle puts the triggers and indexes back */
    const situ_collection *st = situ_schema_find("stations");
    static const char *const aside =
        "SELECT count(*) FROM sqlite_master WHERE name IN ('gii_stations_geom', "
        "'giu_stations_geom', 'tmi_stations_geom', 'tmu_stations_geom', 'ggi_stations_geom', "
        "'stations_township', 'stations_dept')";
    assert_int_equal(situ_store_begin(a, &err), 0);
    assert_int_equal(situ_store_bulk_begin(a, st, &err), 0);
    query_text(a, aside, text, sizeof text);
    assert_string_equal(text, "0");
    situ_store_rollback(a);
    query_text(a, aside, text, sizeof text);
    assert_string_equal(text, "7");
    situ_store_close(a), situ_store_close(b);
    situ_test_rmtree(da), situ_test_rmtree(db);
    free(da), free(db);
}

/* Writes roads t0..t(n-1), road i in township 43110200(i % 3), as a bulk
 * write of an empty roads collection. */
static void put_township_roads(situ_store *s, int n)
{
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    situ_err err = {0};
    size_t nwkb;
    unsigned char *wkb = situ_test_wkb("LINESTRING(111.6 26.2,111.7 26.3)", &nwkb);
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, c, &err), 0);
    for (int i = 0; i < n; i++) {
        char id[16], code[16];
        snprintf(id, sizeof id, "t%d", i);
        snprintf(code, sizeof code, "43110200%d", i % 3);
        situ_feature_in f = {
            .id = id, .township_code = code, .wkb = wkb, .nwkb = nwkb, .values = v};
        assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    }
    free(wkb);
    assert_int_equal(situ_store_bulk_end(s, c, &err), 0);
    assert_int_equal(situ_store_commit(s, &err), 0);
}

/* After a bulk write the secondary index it set aside is there again, holds
 * every row (integrity_check compares it with the table) and is what a query
 * by township searches. */
static void bulk_index_is_back_and_used(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    put_township_roads(s, 3000);
    situ_assert_query(s, "SELECT count(*) FROM sqlite_master WHERE name = 'roads_township'", "1");
    situ_assert_query(s, "PRAGMA integrity_check", "ok");
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s),
                                        "EXPLAIN QUERY PLAN SELECT count(*) FROM roads WHERE "
                                        "township_code = '431102001'",
                                        -1, &st, NULL),
                     0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "roads_township"));
    sqlite3_finalize(st);
    situ_assert_query(s, "SELECT count(*) FROM roads WHERE township_code = '431102001'", "1000");
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* Resources R1, R2, then R1 again with other values and items, into store s
 * (in a bulk write when bulk); the inserted flags in out_new. */
static void put_resources_twice(situ_store *s, int bulk, int out_new[3])
{
    const situ_collection *c = situ_schema_find("resources");
    situ_value v[16] = {0};
    int name = situ_schema_field_index(c, "name");
    situ_item_qty items[2] = {{"sandbag", 2000, NULL}, {"life_jacket", 300, "piece"}};
    unsigned char wkb[21];
    situ_feature_in f = {.township_code = "431102001",
                         .wkb = wkb,
                         .nwkb = point_wkb(wkb, 111.6, 26.2),
                         .values = v,
                         .items = items,
                         .nitems = 2,
                         .updated_at = "2026-01-01T00:00:00Z"};
    situ_err err = {0};
    assert_int_equal(situ_store_begin(s, &err), 0);
    if (bulk) { /* resource_items' index is set aside with the resources' */
        assert_int_equal(situ_store_bulk_begin(s, c, &err), 0);
        situ_assert_query(
            s, "SELECT count(*) FROM sqlite_master WHERE name = 'resource_items_item'", "0");
    }
    static const char *const ids[3] = {"R1", "R2", "R1"};
    for (int i = 0; i < 3; i++) {
        f.id = ids[i];
        v[name] = (situ_value){SITU_FT_TEXT, {.s = i == 2 ? "second" : "first"}};
        f.nitems = i == 2 ? 1 : 2;
        assert_int_equal(situ_store_upsert(s, c, &f, &out_new[i], &err), 0);
    }
    if (bulk)
        assert_int_equal(situ_store_bulk_end(s, c, &err), 0);
    assert_int_equal(situ_store_commit(s, &err), 0);
}

/* An id written twice in a bulk write (the loader rejects a source's
 * duplicates, but the store's contract is the upsert's) is updated, its
 * items replaced and counted as not new, as without a bulk write; the
 * index of resource_items set aside is back, whole. */
static void bulk_duplicate_id_is_upserted(void **state)
{
    (void)state;
    static const char *const tables[] = {"resources", "resource_items", NULL};
    char *da, *db;
    situ_store *a = open_new(&da), *b = open_new(&db);
    int new_a[3], new_b[3];
    put_resources_twice(a, 0, new_a);
    put_resources_twice(b, 1, new_b);
    assert_memory_equal(new_a, ((int[3]){1, 1, 0}), sizeof new_a);
    assert_memory_equal(new_b, new_a, sizeof new_a);
    situ_assert_query(b, "SELECT name FROM resources WHERE id = 'R1'", "second");
    situ_assert_query(b, "SELECT count(*) FROM resource_items", "3");
    situ_assert_query(b, "SELECT count(*) FROM sqlite_master WHERE name = 'resource_items_item'",
                      "1");
    situ_assert_query(b, "PRAGMA integrity_check", "ok"); /* the indexes hold every row */
    assert_true(situ_test_store_digest(a, tables) == situ_test_store_digest(b, tables));
    situ_store_close(a), situ_store_close(b);
    situ_test_rmtree(da), situ_test_rmtree(db);
    free(da), free(db);
}

/* Every row of resource_items with its rowid, in rowid order. */
static unsigned long long items_digest(situ_store *s)
{
    sqlite3_stmt *st;
    unsigned long long h = 1469598103934665603ULL;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s),
                                        "SELECT rowid || '|' || resource_id || '|' || item || "
                                        "'|' || quantity || '|' || unit || '|' || updated_at "
                                        "FROM resource_items ORDER BY rowid",
                                        -1, &st, NULL),
                     0);
    while (sqlite3_step(st) == SQLITE_ROW)
        for (const unsigned char *p = sqlite3_column_text(st, 0); *p; p++)
            h = (h ^ *p) * 1099511628211ULL;
    sqlite3_finalize(st);
    return h;
}

/* Writes resources RS0..RS(n-1) into s, resource i with i % 13 items of
 * the vocabulary, every third with its own unit, the others the
 * vocabulary's; item bad (a code, or NULL) replaces the 3rd item of
 * resource n / 2. In a bulk write every step resources when step. Returns
 * the first failure (its message in err). */
static int put_resources_with_items(situ_store *s, int n, int step, const char *bad, situ_err *err)
{
    const situ_collection *c = situ_schema_find("resources");
    situ_value v[16] = {0};
    situ_item_qty items[13];
    unsigned char wkb[21];
    int rc = 0;
    v[situ_schema_field_index(c, "name")] = (situ_value){SITU_FT_TEXT, {.s = "depot"}};
    for (int i = 0; i < n && !rc; i++) {
        char id[16];
        snprintf(id, sizeof id, "RS%d", i);
        for (int k = 0; k < i % 13; k++)
            items[k] = (situ_item_qty){situ_schema_item((i + k) % situ_schema_nitems())->code,
                                       (double)(i * 13 + k), k % 3 ? NULL : "box"};
        if (bad && i == n / 2)
            items[2].item = bad;
        situ_feature_in f = {.id = id,
                             .township_code = "431102001",
                             .wkb = wkb,
                             .nwkb = point_wkb(wkb, 111.6, 26.2),
                             .values = v,
                             .items = items,
                             .nitems = i % 13,
                             .updated_at = "2026-01-01T00:00:00Z"};
        rc = situ_store_upsert(s, c, &f, NULL, err);
        if (!rc && step && (i + 1) % step == 0)
            rc = situ_store_bulk_step(s, c, err);
    }
    return rc;
}

/* A bulk write keeps its new resources' items and writes them at each step
 * many rows per INSERT: resource_items holds what writing them row by row
 * gives, to the rowids and the vocabulary's units; a step outside a bulk
 * write writes nothing. */
static void bulk_items_are_the_row_by_row_items(void **state)
{
    (void)state;
    static const char *const tables[] = {"resources", "resource_items", NULL};
    char *da, *db;
    situ_store *a = open_new(&da), *b = open_new(&db);
    const situ_collection *c = situ_schema_find("resources");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(a, &err), 0);
    assert_int_equal(put_resources_with_items(a, 200, 0, NULL, &err), 0);
    assert_int_equal(situ_store_commit(a, &err), 0);
    assert_int_equal(situ_store_begin(b, &err), 0);
    assert_int_equal(situ_store_bulk_begin(b, c, &err), 0);
    assert_int_equal(put_resources_with_items(b, 200, 23, NULL, &err), 0); /* ~140 items a step */
    assert_int_equal(situ_store_bulk_end(b, c, &err), 0);
    assert_int_equal(situ_store_commit(b, &err), 0);
    situ_assert_query(b, "SELECT count(*) FROM resource_items", "1180");
    situ_assert_query(b, "SELECT count(DISTINCT unit) > 2 FROM resource_items", "1");
    assert_true(items_digest(a) == items_digest(b));
    assert_true(situ_test_store_digest(a, tables) == situ_test_store_digest(b, tables));
    situ_store_close(a), situ_store_close(b);
    situ_test_rmtree(da), situ_test_rmtree(db);
    free(da), free(db);
}

/* An item refused in the middle of a bulk write's INSERT of many rows fails
 * its step with the error writing it alone gives (naming the resource and
 * the item); the rollback takes the resources and their items back. */
static void bulk_refused_item_is_named_and_rolled_back(void **state)
{
    (void)state;
    char *da, *db, want[sizeof(situ_err){0}.msg];
    situ_store *a = open_new(&da), *b = open_new(&db);
    const situ_collection *c = situ_schema_find("resources");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(a, &err), 0);
    assert_int_equal(put_resources_with_items(a, 60, 0, "no_such_item", &err), SITU_EINVAL);
    snprintf(want, sizeof want, "%s", err.msg);
    assert_string_equal(want, "resource RS30 item no_such_item: NOT NULL constraint failed: "
                              "resource_items.unit");
    situ_store_rollback(a);

    assert_int_equal(situ_store_begin(b, &err), 0);
    assert_int_equal(situ_store_bulk_begin(b, c, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(put_resources_with_items(b, 60, 40, "no_such_item", &err), SITU_EINVAL);
    assert_string_equal(err.msg, want);
    situ_store_rollback(b);
    situ_assert_query(b, "SELECT count(*) FROM resources", "0");
    situ_assert_query(b, "SELECT count(*) FROM resource_items", "0");
    situ_assert_query(b, "SELECT count(*) FROM sqlite_master WHERE name = 'resource_items_item'",
                      "1");
    /* the next bulk write starts with nothing kept */
    assert_int_equal(situ_store_begin(b, &err), 0);
    assert_int_equal(situ_store_bulk_begin(b, c, &err), 0);
    assert_int_equal(put_resources_with_items(b, 10, 0, NULL, &err), 0);
    assert_int_equal(situ_store_bulk_end(b, c, &err), 0);
    assert_int_equal(situ_store_commit(b, &err), 0);
    situ_assert_query(b, "SELECT count(*) FROM resource_items WHERE resource_id = 'RS30'", "0");
    situ_assert_query(b, "SELECT count(*) FROM resource_items", "45");
    situ_store_close(a), situ_store_close(b);
    situ_test_rmtree(da), situ_test_rmtree(db);
    free(da), free(db);
}

/* SQLite's progress handler: interrupts any statement that runs long. */
static int interrupt_long(void *ctx)
{
    (void)ctx;
    return 1;
}

/* A bulk write's INSERT of many items that fails for no row's sake (here
 * interrupted: a statement of 64 rows runs past the progress handler's
 * limit, one of a row does not) fails its step with that error, naming
 * where the rows start, and writes none of them on their own. */
static void bulk_items_failing_for_no_row_say_so(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    const situ_collection *c = situ_schema_find("resources");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, c, &err), 0);
    assert_int_equal(put_resources_with_items(s, 30, 0, NULL, &err), 0); /* 174 items kept */
    sqlite3_progress_handler(situ_store_db(s), 400, interrupt_long, NULL);
    assert_int_equal(situ_store_bulk_step(s, c, &err), SITU_EDB);
    sqlite3_progress_handler(situ_store_db(s), 0, NULL, NULL);
    assert_string_equal(err.msg, "resource_items: 64 items from resource RS1's on not written "
                                 "(none is refused alone): interrupted");
    situ_store_rollback(s);
    situ_assert_query(s, "SELECT count(*) FROM resources", "0");
    situ_assert_query(s, "SELECT count(*) FROM resource_items", "0");
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* WKB of the LineString Z (111 26 5, 112 27 6), ISO little-endian: the
 * roads column is XY, its geometry constraint refuses it. */
static size_t line_z_wkb(unsigned char out[57])
{
    unsigned int type = 1002, n = 2;
    const double xyz[6] = {111, 26, 5, 112, 27, 6};
    out[0] = 1;
    memcpy(out + 1, &type, 4);
    memcpy(out + 5, &n, 4);
    memcpy(out + 9, xyz, sizeof xyz);
    return 57;
}

/* A geometry the constraint trigger refuses row by row is refused by a bulk
 * write's end, in the trigger's words with the feature's id; the rollback
 * leaves the collection empty, its triggers and indexes back. */
static void bulk_end_refuses_what_the_constraint_refuses(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    unsigned char wkb[57];
    situ_feature_in f = {.id = "z1", .wkb = wkb, .nwkb = line_z_wkb(wkb), .values = v};
    situ_err err = {0};
    assert_int_equal(put_road(s, "r1", "LINESTRING(111 26,112 27)", &err), 0);
    assert_int_not_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "roads.geom violates Geometry constraint"));
    assert_int_equal(situ_store_exec(s, "DELETE FROM roads", &err), 0);

    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, c, &err), 0);
    assert_int_equal(put_road(s, "r1", "LINESTRING(111 26,112 27)", &err), 0);
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(situ_store_bulk_end(s, c, &err), SITU_EINVAL);
    assert_string_equal(err.msg,
                        "roads z1: roads.geom violates Geometry constraint [geom-type or SRID not "
                        "allowed]");
    situ_store_rollback(s);
    situ_assert_query(s, "SELECT count(*) FROM roads", "0");
    situ_assert_query(s,
                      "SELECT count(*) FROM sqlite_master WHERE name IN ('ggi_roads_geom', "
                      "'gii_roads_geom', 'roads_township')",
                      "3");
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* The R-tree's rows and its nodes (their layout follows the order of
 * insertion), and the rows of roads. */
static unsigned long long rtree_digest(situ_store *s)
{
    static const char *const tables[] = {"roads",
                                         "idx_roads_geom",
                                         "idx_roads_geom_node",
                                         "idx_roads_geom_parent",
                                         "idx_roads_geom_rowid",
                                         NULL};
    return situ_test_store_digest(s, tables);
}

/* A bulk write gathering its rows' boxes batch by batch as the loader's
 * writer does (situ_store_bulk_step after each) gives the R-tree, to its
 * nodes, that gathering them all at the end gives; a step outside a bulk
 * write does nothing. */
static void bulk_steps_give_the_same_index(void **state)
{
    (void)state;
    char *da, *db, text[64];
    situ_store *a = open_new(&da), *b = open_new(&db);
    const situ_collection *roads = situ_schema_find("roads");
    situ_err err = {0};
    assert_int_equal(situ_store_bulk_step(a, roads, &err), 0); /* no bulk write: nothing */
    for (int k = 0; k < 2; k++) {
        situ_store *s = k ? b : a;
        assert_int_equal(situ_store_begin(s, &err), 0);
        assert_int_equal(situ_store_bulk_begin(s, roads, &err), 0);
        put_bulk_roads(s, 300, k ? 47 : 0);
        assert_int_equal(situ_store_bulk_end(s, roads, &err), 0);
        assert_int_equal(situ_store_commit(s, &err), 0);
    }
    query_text(b, "SELECT count(*) || ' ' || count(DISTINCT pkid) FROM idx_roads_geom", text,
               sizeof text);
    assert_string_equal(text, "300 300");
    query_text(b, "SELECT count(*) FROM idx_roads_geom_node", text, sizeof text);
    assert_true(atoi(text) > 1); /* more than a root: the packing is tested on two levels */
    assert_true(rtree_digest(a) == rtree_digest(b));
    situ_store_close(a), situ_store_close(b);
    situ_test_rmtree(da), situ_test_rmtree(db);
    free(da), free(db);
}

/* Upserts roads g<first>.. g<first + n - 1>: lines between points on a grid
 * of thousandths of a degree (query edges at odd half-thousandths are then
 * far from every bound and its float32 rounding). */
static void put_grid_roads(situ_store *s, int first, int n, unsigned seed)
{
    situ_err err = {0};
    for (int i = first; i < first + n; i++) {
        char id[16], wkt[128];
        int x = rand_r(&seed) % 2000, y = rand_r(&seed) % 1000;
        int dx = rand_r(&seed) % 40, dy = rand_r(&seed) % 40 - 20;
        snprintf(id, sizeof id, "g%d", i);
        snprintf(wkt, sizeof wkt, "LINESTRING(%.3f %.3f,%.3f %.3f)", 110 + x * 0.001,
                 25 + y * 0.001, 110 + (x + dx) * 0.001, 25 + (y + dy) * 0.001);
        if (put_road(s, id, wkt, &err))
            fail_msg("%s: %s", id, err.msg);
    }
}

/* The fids (ascending, comma separated) of roads whose box meets
 * [x0, x1] x [y0, y1]: how names the way, "rtree" (the R-tree searched),
 * "spatialite" (SpatiaLite's SpatialIndex, which searches it too) or "scan"
 * (every row's MBR compared). */
static void roads_meeting(situ_store *s, const char *how, double x0, double x1, double y0,
                          double y1, char *out, size_t nout)
{
    char sql[512];
    if (!strcmp(how, "rtree"))
        snprintf(
            sql, sizeof sql,
            "SELECT pkid AS i FROM idx_roads_geom WHERE xmin <= %.4f AND xmax >= %.4f AND ymin <= "
            "%.4f AND ymax >= %.4f",
            x1, x0, y1, y0);
    else if (!strcmp(how, "spatialite"))
        snprintf(
            sql, sizeof sql,
            "SELECT ROWID AS i FROM SpatialIndex WHERE f_table_name = 'roads' AND search_frame = "
            "BuildMbr(%.4f, %.4f, %.4f, %.4f)",
            x0, y0, x1, y1);
    else
        snprintf(
            sql, sizeof sql,
            "SELECT fid AS i FROM roads WHERE MbrMinX(geom) <= %.4f AND MbrMaxX(geom) >= %.4f AND "
            "MbrMinY(geom) <= %.4f AND MbrMaxY(geom) >= %.4f",
            x1, x0, y1, y0);
    char *all = sqlite3_mprintf("SELECT coalesce(group_concat(i), '') FROM (SELECT i FROM (%s) "
                                "ORDER BY i)",
                                sql);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), all, -1, &st, NULL), 0);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, nout, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_free(all);
}

/* roads' R-tree passes SQLite's rtreecheck and SpatiaLite's
 * CheckSpatialIndex, holds a box per row, and box queries through it (and
 * through SpatiaLite's SpatialIndex) give the rows a scan gives. */
static void assert_roads_index_right(situ_store *s)
{
    char text[64], *a = malloc(1 << 16), *b = malloc(1 << 16), *c = malloc(1 << 16);
    query_text(s, "SELECT rtreecheck('idx_roads_geom')", text, sizeof text);
    assert_string_equal(text, "ok");
    query_text(s, "SELECT CheckSpatialIndex('roads', 'geom')", text, sizeof text);
    assert_string_equal(text, "1");
    query_text(s,
               "SELECT (SELECT count(*) FROM idx_roads_geom) = (SELECT count(*) FROM roads) AND "
               "NOT EXISTS (SELECT 1 FROM roads WHERE fid NOT IN (SELECT pkid FROM "
               "idx_roads_geom))",
               text, sizeof text);
    assert_string_equal(text, "1");
    unsigned seed = 99;
    int nonempty = 0;
    for (int q = 0; q < 40; q++) {
        double x0 = 110 + (rand_r(&seed) % 2000) * 0.001 + 0.0005;
        double y0 = 25 + (rand_r(&seed) % 1000) * 0.001 + 0.0005;
        double w = (rand_r(&seed) % (q % 4 ? 60 : 600)) * 0.001;
        roads_meeting(s, "rtree", x0, x0 + w, y0, y0 + w, a, 1 << 16);
        roads_meeting(s, "spatialite", x0, x0 + w, y0, y0 + w, b, 1 << 16);
        roads_meeting(s, "scan", x0, x0 + w, y0, y0 + w, c, 1 << 16);
        assert_string_equal(a, c);
        assert_string_equal(b, c);
        nonempty += *c != 0;
    }
    assert_true(nonempty > 10);
    free(a), free(b), free(c);
}

/* A bulk write's packed R-tree (three levels) is valid for SQLite and
 * SpatiaLite and answers box queries as a scan does; the triggers written
 * back keep it so through later inserts, updates and deletes row by row. */
static void bulk_index_answers_as_a_scan(void **state)
{
    (void)state;
    char *dir, text[64];
    situ_store *s = open_new(&dir);
    const situ_collection *roads = situ_schema_find("roads");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, roads, &err), 0);
    put_grid_roads(s, 0, 3000, 1);
    assert_int_equal(situ_store_bulk_step(s, roads, &err), 0);
    put_grid_roads(s, 3000, 1000, 2);
    assert_int_equal(situ_store_bulk_end(s, roads, &err), 0);
    assert_roads_index_right(s); /* inside the transaction */
    assert_int_equal(situ_store_commit(s, &err), 0);
    query_text(s, "SELECT rtreedepth(data) FROM idx_roads_geom_node WHERE nodeno = 1", text,
               sizeof text);
    assert_string_equal(text, "2");
    assert_roads_index_right(s);

    put_grid_roads(s, 4000, 800, 3); /* new rows */
    put_grid_roads(s, 0, 1500, 4);   /* moved: the same ids, new lines */
    assert_int_equal(situ_store_exec(s, "DELETE FROM roads WHERE fid % 3 = 0 OR fid > 4500", &err),
                     0);
    query_text(s, "SELECT count(*) FROM roads", text, sizeof text);
    assert_string_equal(text, "3000");
    assert_roads_index_right(s);
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* The shadow tables of roads' R-tree: rows of _rowid, _parent, _node. */
static void assert_roads_rtree_empty(situ_store *s)
{
    char text[64];
    query_text(s,
               "SELECT (SELECT count(*) FROM idx_roads_geom_rowid) || ' ' || (SELECT count(*) FROM "
               "idx_roads_geom_parent) || ' ' || (SELECT count(*) FROM idx_roads_geom_node) || ' ' "
               "|| rtreecheck('idx_roads_geom') || ' ' || (SELECT count(*) FROM roads)",
               text, sizeof text);
    assert_string_equal(text, "0 0 1 ok 0");
    query_text(s,
               "SELECT count(*) FROM sqlite_master WHERE name IN ('gii_roads_geom', "
               "'giu_roads_geom')",
               text, sizeof text);
    assert_string_equal(text, "2");
}

/* A load that fails after its bulk write ended, or in the middle of it,
 * rolls back to an empty R-tree and the per-row triggers. */
static void failed_bulk_write_leaves_no_index(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    const situ_collection *roads = situ_schema_find("roads");
    situ_err err = {0};
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, roads, &err), 0);
    put_grid_roads(s, 0, 2000, 5);
    assert_int_equal(situ_store_bulk_end(s, roads, &err), 0);
    situ_store_rollback(s); /* a later collection failed */
    assert_roads_rtree_empty(s);

    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(situ_store_bulk_begin(s, roads, &err), 0);
    put_grid_roads(s, 0, 700, 6);
    assert_int_equal(situ_store_bulk_step(s, roads, &err), 0);
    assert_int_not_equal(put_road(s, "bad", "POINT(111 26)", &err), 0);
    situ_store_rollback(s);
    assert_roads_rtree_empty(s);
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* A file of schema version 3 (before roads and road closures) gains the
 * roads collection and road_closures when opened, its other data kept. */
static void version_3_file_gains_roads(void **state)
{
    (void)state;
    char *dir, path[4096], text[64];
    situ_store *s = open_new(&dir);
    situ_err err = {0};
    put_depot(s, "R1");
    assert_int_equal(
        situ_store_exec(s,
                        "SELECT DropTable(NULL, 'roads'); SELECT DropTable(NULL, 'road_closures'); "
                        "PRAGMA user_version = 3",
                        &err),
        0);
    query_text(s, "SELECT count(*) FROM sqlite_master WHERE name = 'roads'", text, sizeof text);
    assert_string_equal(text, "0");
    situ_store_close(s);
    snprintf(path, sizeof path, "%s/t.sqlite", dir);
    assert_int_equal(situ_store_open(path, 0, &s, &err), 0);
    assert_int_equal(situ_store_version(s), SITU_SCHEMA_VERSION);
    query_text(s, "SELECT count(*) FROM resources", text, sizeof text);
    assert_string_equal(text, "1");
    query_text(s, "SELECT count(*) FROM road_closures", text, sizeof text);
    assert_string_equal(text, "0");
    assert_int_equal(put_road(s, "r1", "LINESTRING(111.6 26.2,111.5 26.3)", &err), 0);
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* Resources in the file at path, read with plain SQLite; -1 if unreadable. */
static int count_resources(const char *path, char journal_mode[16])
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM resources", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
        if (sqlite3_step(st) == SQLITE_ROW)
            snprintf(journal_mode, 16, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void backup_copies_one_committed_state_while_written(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    char src[4096], dst[4096], mode[16] = "";
    snprintf(src, sizeof src, "%s/t.sqlite", dir);
    snprintf(dst, sizeof dst, "%s/backup.sqlite", dir);
    put_depot(s, "R1");
    situ_err err = {0};
    /* a writer in the middle of a transaction neither blocks the copy nor
     * shows in it */
    assert_int_equal(situ_store_begin(s, &err), 0);
    put_depot(s, "R2");
    situ_backup_stats st = {0};
    assert_int_equal(situ_store_backup(src, dst, &st, &err), 0);
    assert_true(st.pages > 10 && st.bytes >= st.pages * 1024);
    assert_int_equal(count_resources(dst, mode), 1);
    assert_string_equal(mode, "delete"); /* one self-contained file */
    assert_int_equal(situ_store_commit(s, &err), 0);
    /* a second backup replaces the first */
    assert_int_equal(situ_store_backup(src, dst, NULL, &err), 0);
    assert_int_equal(count_resources(dst, mode), 2);
    /* the copy is a situ file situ_store_open takes */
    situ_store *b;
    assert_int_equal(situ_store_open(dst, SITU_STORE_READONLY, &b, &err), 0);
    situ_store_close(b);
    /* never over the database itself; nothing left behind on failure */
    assert_int_equal(situ_store_backup(src, src, NULL, &err), SITU_EINVAL);
    char nowhere[4200];
    snprintf(nowhere, sizeof nowhere, "%s/missing/backup.sqlite", dir);
    assert_int_not_equal(situ_store_backup(src, nowhere, NULL, &err), 0);
    char *ls = NULL;
    assert_int_equal(situ_test_sh(&ls, "ls %s | grep -c part", dir), 1);
    assert_string_equal(ls, "0\n");
    free(ls);
    situ_store_close(s);
    assert_int_equal(count_resources(src, mode), 2);
    situ_test_rmtree(dir);
    free(dir);
}

/* The root page of a table or index, and the page size. */
static long long root_page(sqlite3 *db, const char *name, long long *page_size)
{
    sqlite3_stmt *st;
    long long root = -1;
    sqlite3_prepare_v2(db,
                       "SELECT rootpage, (SELECT page_size FROM pragma_page_size) "
                       "FROM sqlite_master WHERE name = ?",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        root = sqlite3_column_int64(st, 0), *page_size = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return root;
}

static void check_finds_a_damaged_page(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    situ_err err = {0};
    assert_int_equal(situ_store_check(s, 1, &err), 0);
    for (int i = 0; i < 50; i++) {
        char id[16];
        snprintf(id, sizeof id, "R%d", i);
        put_depot(s, id);
    }
    long long page_size = 0, root = root_page(situ_store_db(s), "resource_items_item", &page_size);
    if (root < 0) /* any index will do */
        root = root_page(situ_store_db(s), "sqlite_autoindex_resources_1", &page_size);
    assert_true(root > 1);
    situ_store_close(s);
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", dir);
    assert_int_equal(situ_test_sh(NULL,
                                  "sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null"
                                  " && printf '\\377%%.0s' $(seq %lld) | dd of=%s bs=%lld "
                                  "seek=%lld conv=notrunc status=none",
                                  path, page_size, path, page_size, root - 1),
                     0);
    assert_int_equal(situ_store_open(path, SITU_STORE_READONLY, &s, &err), 0);
    assert_int_equal(situ_store_check(s, 1, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "damaged"));
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* ---- PostgreSQL ------------------------------------------------------------------ */

/* A new store in a database of its own, in *url; NULL (the case skips) without PostgreSQL. */
static situ_store *open_pg(char *url, size_t n, unsigned flags)
{
    if (situ_test_pg_db(url, n))
        skip();
    situ_store *s = NULL;
    situ_err err = {0};
    int rc = situ_store_open(url, flags, &s, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    return s;
}

/* Runs sql as the superuser on url's database. */
static void as_superuser(const char *url, const char *sql)
{
    char su[1024];
    situ_test_pg_superuser(url, su, sizeof su);
    situ_db *db = NULL;
    situ_err err = {0};
    assert_int_equal(situ_db_connect(su, &db, &err), 0);
    if (situ_db_exec(db, sql, &err))
        fprintf(stderr, "%s\n", err.msg);
    situ_db_free(db);
}

/* Every collection a typed PostGIS column in EPSG:4326 with a GiST index,
 * the side tables seeded, the version in meta; reopening changes nothing;
 * situ check passes, then finds an index made invalid. */
static void pg_creates_schema_with_gist_and_version(void **state)
{
    (void)state;
    char url[512];
    situ_store *s = open_pg(url, sizeof url, SITU_STORE_CREATE);
    assert_int_equal(situ_store_version(s), SITU_SCHEMA_VERSION);
    assert_null(situ_store_db(s));
    char want[16];
    snprintf(want, sizeof want, "%d", SITU_NCOLLECTIONS);
    situ_assert_query(s,
                      "SELECT count(*) FROM geometry_columns WHERE srid = 4326 AND type IN "
                      "('POINT', 'MULTIPOLYGON', 'MULTILINESTRING')",
                      want);
    situ_assert_query(s, "SELECT type FROM geometry_columns WHERE f_table_name = 'roads'",
                      "MULTILINESTRING");
    snprintf(want, sizeof want, "%d", SITU_NCOLLECTIONS + 1); /* + road_closures */
    situ_assert_query(
        s, "SELECT count(*) FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'", want);
    situ_assert_query(s, "SELECT count(*) FROM departments", "19");
    situ_assert_query(s, "SELECT value FROM meta WHERE key = 'schema_version'", "5");
    upsert_on(s);
    situ_store_close(s);
    situ_err err = {0};
    assert_int_equal(situ_store_open(url, SITU_STORE_CREATE, &s, &err), 0);
    situ_assert_query(s, "SELECT count(*) FROM resources", "1");
    assert_int_equal(situ_store_check(s, 1, &err), 0);
    as_superuser(url, "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                      "'hazards_township'::regclass");
    assert_int_equal(situ_store_check(s, 0, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "hazards_township"));
    situ_store_close(s);
    situ_test_pg_drop(url);
}

/* roads takes a LineString as a one-part MultiLineString; a Point or a
 * Polygon is refused and the store keeps what it had. */
static void pg_roads_promoted_and_wrong_kinds_refused(void **state)
{
    (void)state;
    char url[512];
    situ_store *s = open_pg(url, sizeof url, SITU_STORE_CREATE);
    situ_err err = {0};
    assert_int_equal(put_road(s, "r1", "LINESTRING(111.6 26.2,111.5 26.3,111.7 26.4)", &err), 0);
    situ_assert_query(s, "SELECT ST_AsText(geom) FROM roads",
                      "MULTILINESTRING((111.6 26.2,111.5 26.3,111.7 26.4))");
    assert_int_not_equal(put_road(s, "r4", "POINT(111 26)", &err), 0);
    situ_assert_query(s, "SELECT count(*) FROM roads", "1");
    situ_store_close(s);
    situ_test_pg_drop(url);
}

/* n roads r<first>.. as one situ_store_upsert_many; road bad (if >= 0) is a
 * Point, which the MultiLineString column refuses. */
static int put_roads_many(situ_store *s, int first, int n, int bad, long long *inserted,
                          situ_err *err)
{
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "class")] = (situ_value){SITU_FT_TEXT, {.s = "county"}};
    size_t nline, npt;
    unsigned char *line = situ_test_wkb("LINESTRING(111.6 26.2,111.7 26.3)", &nline);
    unsigned char *pt = situ_test_wkb("POINT(111 26)", &npt);
    situ_feature_in *f = calloc((size_t)n, sizeof *f);
    char(*ids)[16] = calloc((size_t)n, sizeof *ids);
    assert_true(line && pt && f && ids);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "r%d", first + i);
        f[i] = (situ_feature_in){.id = ids[i],
                                 .township_code = "",
                                 .wkb = i == bad ? pt : line,
                                 .nwkb = i == bad ? npt : nline,
                                 .values = v};
    }
    int rc = situ_store_upsert_many(s, c, f, n, inserted, err);
    free(f), free(ids), free(line), free(pt);
    return rc;
}

/* Many rows per statement: 1234 roads (several statements and a shorter
 * last one) of which 34 exist count 1200 new; a batch with one bad road
 * fails naming it, and its rollback leaves the store as it was. */
static void pg_upsert_many_counts_and_names_a_bad_feature(void **state)
{
    (void)state;
    char url[512];
    situ_store *s = open_pg(url, sizeof url, SITU_STORE_CREATE);
    situ_err err = {0};
    long long inserted = -1;
    assert_int_equal(put_roads_many(s, 0, 34, -1, &inserted, &err), 0);
    assert_int_equal(inserted, 34);
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_equal(put_roads_many(s, 0, 1234, -1, &inserted, &err), 0);
    assert_int_equal(situ_store_commit(s, &err), 0);
    assert_int_equal(inserted, 1200);
    situ_assert_query(s, "SELECT count(*) FROM roads", "1234");
    situ_assert_query(s, "SELECT count(*) FROM roads WHERE class = 'county'", "1234");
    assert_int_equal(situ_store_begin(s, &err), 0);
    assert_int_not_equal(put_roads_many(s, 2000, 1000, 700, &inserted, &err), 0);
    situ_store_rollback(s);
    assert_non_null(strstr(err.msg, "roads r2700"));
    situ_assert_query(s, "SELECT count(*) FROM roads", "1234");
    situ_store_close(s);
    situ_test_pg_drop(url);
}

/* A database of a newer schema, one without PostGIS, one holding other
 * tables: each refused with a message saying so, nothing changed;
 * SITU_STORE_FORCE creates beside other tables. */
static void pg_refuses_newer_schema_missing_postgis_and_foreign_tables(void **state)
{
    (void)state;
    char url[512];
    situ_store *s = open_pg(url, sizeof url, SITU_STORE_CREATE);
    situ_store_exec(s, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", NULL);
    situ_store_close(s);
    situ_err err = {0};
    s = NULL;
    assert_int_equal(situ_store_open(url, SITU_STORE_CREATE, &s, &err), SITU_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer"));
    situ_test_pg_drop(url);

    assert_int_equal(situ_test_pg_db(url, sizeof url), 0);
    as_superuser(url, "DROP EXTENSION postgis CASCADE");
    assert_int_equal(situ_store_open(url, SITU_STORE_CREATE, &s, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "PostGIS is not installed"));
    situ_test_pg_drop(url);

    assert_int_equal(situ_test_pg_db(url, sizeof url), 0);
    as_superuser(url, "CREATE TABLE mine (a int); GRANT ALL ON mine TO situ");
    assert_int_equal(situ_store_open(url, SITU_STORE_CREATE, &s, &err), SITU_ECONFLICT);
    assert_non_null(strstr(err.msg, "no situ schema"));
    assert_int_equal(situ_store_open(url, SITU_STORE_CREATE | SITU_STORE_FORCE, &s, &err), 0);
    situ_assert_query(s, "SELECT count(*) FROM mine", "0");
    assert_int_equal(situ_store_version(s), SITU_SCHEMA_VERSION);
    situ_store_close(s);
    situ_test_pg_drop(url);
}

/* situ backup copies a SpatiaLite file: a URL is refused, and not echoed
 * (it may hold a password). */
static void backup_refuses_a_url_without_echoing_it(void **state)
{
    (void)state;
    situ_err err = {0};
    assert_int_equal(
        situ_store_backup("postgresql://situ:S3CRET@127.0.0.1:1/situ", "/tmp/x.sqlite", NULL, &err),
        SITU_EINVAL);
    assert_null(strstr(err.msg, "S3CRET"));
    assert_non_null(strstr(err.msg, "PostgreSQL"));
}

/* Deadlines are local dates: the day at a UTC time is the day in TZ. */
/* Restores TZ and TZDIR as they were (days_in_sets_the_zone). */
static void zone_restore(const char *name, const char *keep, int had)
{
    if (had)
        setenv(name, keep, 1);
    else
        unsetenv(name);
}

static void day_is_the_local_day(void **state)
{
    (void)state;
    char day[11];
    const char *was = getenv("TZ");
    char keep[64];
    snprintf(keep, sizeof keep, "%s", was ? was : "");
    assert_int_equal(situ_store_days_in("Asia/Shanghai"), 0);
    situ_store_day("2026-12-07T15:59:59Z", day);
    assert_string_equal(day, "2026-12-07");
    situ_store_day("2026-12-07T16:00:00Z", day); /* midnight in Yongzhou */
    assert_string_equal(day, "2026-12-08");
    situ_store_day("2026-12-31T23:30:00Z", day);
    assert_string_equal(day, "2027-01-01");
    assert_int_equal(situ_store_days_in("America/Los_Angeles"), 0);
    situ_store_day("2026-12-07T07:59:59Z", day);
    assert_string_equal(day, "2026-12-06");
    assert_int_equal(situ_store_days_in("UTC"), 0);
    situ_store_day("2026-12-07T16:00:00Z", day);
    assert_string_equal(day, "2026-12-07");
    situ_store_day("2026-12-07", day); /* not a time: its date as it is */
    assert_string_equal(day, "2026-12-07");
    zone_restore("TZ", keep, was != NULL);
    tzset();
}

/* No zone named: $TZ, else situd's default; a zone is looked for under
 * $TZDIR when set, and a missing one is said (-1). */
static void days_in_names_the_zone_and_its_file(void **state)
{
    (void)state;
    const char *was = getenv("TZ"), *dir_was = getenv("TZDIR");
    char keep[64], dir_keep[256];
    snprintf(keep, sizeof keep, "%s", was ? was : "");
    snprintf(dir_keep, sizeof dir_keep, "%s", dir_was ? dir_was : "");
    unsetenv("TZDIR");
    unsetenv("TZ");
    assert_int_equal(situ_store_days_in(NULL), 0);
    assert_string_equal(getenv("TZ"), SITU_DEFAULT_TIMEZONE);
    setenv("TZ", "America/Los_Angeles", 1);
    assert_int_equal(situ_store_days_in(""), 0);
    assert_string_equal(getenv("TZ"), "America/Los_Angeles");
    assert_int_equal(situ_store_days_in("Nowhere/Atlantis"), -1);
    setenv("TZDIR", "/nonexistent-zoneinfo", 1);
    assert_int_equal(situ_store_days_in("Asia/Shanghai"), -1);
    setenv("TZDIR", "/usr/share/zoneinfo", 1);
    assert_int_equal(situ_store_days_in(":Asia/Shanghai"), 0);
    zone_restore("TZDIR", dir_keep, dir_was != NULL);
    zone_restore("TZ", keep, was != NULL);
    tzset();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(day_is_the_local_day),
    cmocka_unit_test(days_in_names_the_zone_and_its_file),
    cmocka_unit_test(check_finds_a_damaged_page),
    cmocka_unit_test(backup_copies_one_committed_state_while_written),
    cmocka_unit_test(loaded_file_opens_in_ogrinfo),
    cmocka_unit_test(creates_schema_with_wal_and_version),
    cmocka_unit_test(upsert_inserts_then_updates_and_replaces_items),
    cmocka_unit_test(roads_store_lines_promoted),
    cmocka_unit_test(bulk_write_is_the_row_by_row_write),
    cmocka_unit_test(bulk_steps_give_the_same_index),
    cmocka_unit_test(bulk_index_answers_as_a_scan),
    cmocka_unit_test(failed_bulk_write_leaves_no_index),
    cmocka_unit_test(bulk_index_is_back_and_used),
    cmocka_unit_test(bulk_duplicate_id_is_upserted),
    cmocka_unit_test(bulk_items_are_the_row_by_row_items),
    cmocka_unit_test(bulk_refused_item_is_named_and_rolled_back),
    cmocka_unit_test(bulk_items_failing_for_no_row_say_so),
    cmocka_unit_test(bulk_end_refuses_what_the_constraint_refuses),
    cmocka_unit_test(version_3_file_gains_roads),
    cmocka_unit_test(refuses_newer_schema_and_foreign_files),
    cmocka_unit_test(backup_refuses_a_url_without_echoing_it),
    cmocka_unit_test(pg_creates_schema_with_gist_and_version),
    cmocka_unit_test(pg_roads_promoted_and_wrong_kinds_refused),
    cmocka_unit_test(pg_upsert_many_counts_and_names_a_bad_feature),
    cmocka_unit_test(pg_refuses_newer_schema_missing_postgis_and_foreign_tables),
};

SITU_TEST_MAIN("store", tests)

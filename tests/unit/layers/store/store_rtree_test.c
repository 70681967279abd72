/* store_rtree_test.c: tests layers/store/store_rtree.c, the packed R-tree,
 * against SQLite's own rtree module on a plain SQLite database: the bounds
 * it rounds are those SQLite stores for RTreeAlign's text, the tree it
 * writes passes rtreecheck() and answers box queries as a scan does, before
 * and after SQLite's own inserts, updates and deletes in it. (The bulk write
 * through the store, with SpatiaLite, is in store_test.c.) */
#include "testlib.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../../layers/store/store_private.h"

static sqlite3 *open_memory(void)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE VIRTUAL TABLE rt USING rtree(pkid, xmin, xmax, ymin, "
                                  "ymax); CREATE TABLE flat(pkid INTEGER PRIMARY KEY, xmin, "
                                  "xmax, ymin, ymax)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

static void query_text(sqlite3 *db, const char *sql, char *out, size_t nout)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, nout, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* A value near which rounding is delicate, or an ordinary one: exact
 * floats, a double step either side of one, half-way points between floats
 * and a hair either side, values of 12 decimals, random doubles. */
static double delicate(unsigned *seed, int i)
{
    double x = (rand_r(seed) / (double)RAND_MAX) * 360.0 - 180.0;
    float f = (float)x;
    switch (i % 8) {
    case 0:
        return f;
    case 1:
        return nextafter(f, INFINITY);
    case 2:
        return nextafter(f, -INFINITY);
    case 3:
        return ((double)f + nextafterf(f, INFINITY)) / 2;
    case 4:
        return ((double)f + nextafterf(f, INFINITY)) / 2 + 1e-13;
    case 5:
        return round(x * 1e12) / 1e12;
    case 6:
        return round(x * 10) / 10; /* 111.5, 26.2, 0 ... */
    default:
        return x;
    }
}

/* Every bound situ__rtree_add rounds is the float32 SQLite's R-tree stores
 * for RTreeAlign's "%1.12f" text of it, low bounds down and high bounds up;
 * ordinary values take the fast path. */
static void bounds_round_as_sqlite_stores_them(void **state)
{
    (void)state;
    sqlite3 *db = open_memory();
    sqlite3_stmt *ins, *get;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO rt VALUES (?1, CAST(printf('%1.12f', ?2) AS "
                                        "REAL), CAST(printf('%1.12f', ?3) AS REAL), "
                                        "CAST(printf('%1.12f', ?4) AS REAL), CAST(printf('%1.12f', "
                                        "?5) AS REAL))",
                                        -1, &ins, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT xmin, xmax, ymin, ymax FROM rt WHERE pkid = ?1",
                                        -1, &get, NULL),
                     SQLITE_OK);
    situ__rtree_rows r = {0};
    unsigned seed = 7;
    const int n = 40000;
    for (int i = 0; i < n; i++) {
        double a = delicate(&seed, i), b = delicate(&seed, i / 8), mbr[4];
        /* a point (min = max) half the time: both roundings of one value */
        mbr[0] = fmin(a, b), mbr[2] = i % 2 ? fmax(a, b) : mbr[0];
        mbr[1] = -mbr[0] / 3, mbr[3] = i % 2 ? mbr[1] + fabs(b) / 7 : mbr[1];
        assert_int_equal(situ__rtree_add(&r, db, i + 1, mbr), SQLITE_OK);
        sqlite3_bind_int64(ins, 1, i + 1);
        sqlite3_bind_double(ins, 2, mbr[0]);
        sqlite3_bind_double(ins, 3, mbr[2]);
        sqlite3_bind_double(ins, 4, mbr[1]);
        sqlite3_bind_double(ins, 5, mbr[3]);
        assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
        sqlite3_reset(ins);
        sqlite3_bind_int64(get, 1, i + 1);
        assert_int_equal(sqlite3_step(get), SQLITE_ROW);
        for (int k = 0; k < 4; k++)
            if (sqlite3_column_double(get, k) != (double)r.v[i].b[k])
                fail_msg("row %d bound %d of %.17g: SQLite %.9g, packed %.9g", i, k,
                         mbr[(k & 1) * 2 + k / 2], sqlite3_column_double(get, k),
                         (double)r.v[i].b[k]);
        sqlite3_reset(get);
    }
    assert_int_equal((int)r.n, n);
    /* only the delicate values (and not every one) went to SQLite */
    assert_true(r.nslow > 0 && r.nslow < (long long)n * 4 * 6 / 8);
    situ__rtree_rows_dispose(&r);
    sqlite3_finalize(ins);
    sqlite3_finalize(get);
    sqlite3_close(db);
}

/* n random boxes (points one in four) in r and in table flat, ids 1, 1 +
 * stride, 1 + 2 stride ... */
static void random_boxes(sqlite3 *db, situ__rtree_rows *r, int n, long long stride, unsigned seed)
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO flat VALUES (?1, ?2, ?3, ?4, ?5)", -1, &st, NULL),
        SQLITE_OK);
    for (int i = 0; i < n; i++) {
        double x = 100 + 20.0 * rand_r(&seed) / RAND_MAX, y = 20 + 10.0 * rand_r(&seed) / RAND_MAX;
        double w = i % 4 ? 0.05 * rand_r(&seed) / RAND_MAX : 0;
        double mbr[4] = {x, y, x + w, y + w * 0.7};
        assert_int_equal(situ__rtree_add(r, db, 1 + i * stride, mbr), SQLITE_OK);
        sqlite3_bind_int64(st, 1, 1 + i * stride);
        for (int k = 0; k < 4; k++)
            sqlite3_bind_double(st, k + 2, r->v[i].b[k]);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* The ids (comma separated, ascending) whose box meets [x0, x1] x [y0, y1]
 * in table t: "rt" searches the tree, "flat" scans. */
static char *ids_meeting(sqlite3 *db, const char *t, double x0, double x1, double y0, double y1)
{
    char sql[256], text[1 << 16] = "";
    snprintf(sql, sizeof sql,
             "SELECT coalesce(group_concat(pkid), '') FROM (SELECT pkid FROM %s WHERE xmin <= "
             "%.17g AND xmax >= %.17g AND ymin <= %.17g AND ymax >= %.17g ORDER BY pkid)",
             t, x1, x0, y1, y0);
    query_text(db, sql, text, sizeof text);
    return strdup(text);
}

/* Box queries over the whole extent, small and large: the tree answers as
 * the scan of flat does; in a tree of many boxes most answers hold some. */
static void answers_like_a_scan(sqlite3 *db, unsigned seed)
{
    int nonempty = 0;
    for (int q = 0; q < 60; q++) {
        double x = 99 + 22.0 * rand_r(&seed) / RAND_MAX, y = 19 + 12.0 * rand_r(&seed) / RAND_MAX;
        double w = q % 3 ? 0.3 * rand_r(&seed) / RAND_MAX : 4.0 * rand_r(&seed) / RAND_MAX;
        char *a = ids_meeting(db, "rt", x, x + w, y, y + w),
             *b = ids_meeting(db, "flat", x, x + w, y, y + w);
        assert_string_equal(a, b);
        nonempty += *a != 0;
        free(a), free(b);
    }
    char text[32];
    query_text(db, "SELECT count(*) > 1000 FROM flat", text, sizeof text);
    assert_true(nonempty > 15 || !strcmp(text, "0"));
}

static void assert_rtree_ok(sqlite3 *db)
{
    char text[4096];
    query_text(db, "SELECT rtreecheck('rt')", text, sizeof text);
    assert_string_equal(text, "ok");
    query_text(db, "SELECT (SELECT count(*) FROM rt) = (SELECT count(*) FROM flat)", text,
               sizeof text);
    assert_string_equal(text, "1");
}

/* SQLite's own writes after the packed build: new rows, moved rows, deleted
 * rows (a third, emptying whole nodes), mirrored into flat. */
static void write_row_by_row(sqlite3 *db)
{
    exec(db, "INSERT INTO rt SELECT pkid + 1000000000, xmin + 0.5, xmax + 0.5, ymin, ymax FROM "
             "flat WHERE pkid % 7 = 0; INSERT INTO flat SELECT * FROM rt WHERE pkid > 1000000000; "
             "UPDATE rt SET xmin = xmin - 1, xmax = xmax - 0.9 WHERE pkid % 5 = 0; "
             "UPDATE flat SET xmin = (SELECT xmin FROM rt WHERE rt.pkid = flat.pkid), "
             "xmax = (SELECT xmax FROM rt WHERE rt.pkid = flat.pkid) WHERE pkid % 5 = 0; "
             "DELETE FROM rt WHERE pkid % 3 = 0 OR xmin < 103; "
             "DELETE FROM flat WHERE pkid % 3 = 0 OR xmin < 103");
}

/* Each node blob as long as the root's; the tree's depth. */
static int node_sizes_and_depth(sqlite3 *db)
{
    char text[64];
    query_text(db, "SELECT count(DISTINCT length(data)) || ' ' || min(length(data)) FROM rt_node",
               text, sizeof text);
    assert_string_equal(text, "1 1228"); /* 51 cells of 24 bytes, page 4096 */
    query_text(db, "SELECT rtreedepth(data) FROM rt_node WHERE nodeno = 1", text, sizeof text);
    return atoi(text);
}

/* Packed trees of 0, 1, one full node, one more, two levels (rowids far
 * apart) and three levels pass rtreecheck, hold every box once and answer
 * as a scan, inside the write transaction and after it, and stay so through
 * SQLite's own inserts, updates and deletes. */
static void packed_tree_is_sqlite_rtree(void **state)
{
    (void)state;
    static const int sizes[] = {0, 1, 51, 52, 3000, 140000};
    static const int depths[] = {0, 0, 0, 1, 2, 3};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        sqlite3 *db = open_memory();
        situ__rtree_rows r = {0};
        situ_err err = {0};
        exec(db, "BEGIN");
        random_boxes(db, &r, sizes[k], sizes[k] == 3000 ? 7919 : 1, 11 + (unsigned)k);
        assert_int_equal(situ__rtree_write(&r, db, "rt", &err), 0);
        situ__rtree_rows_dispose(&r);
        assert_rtree_ok(db);
        answers_like_a_scan(db, 5);
        exec(db, "COMMIT");
        assert_int_equal(node_sizes_and_depth(db), depths[k]);
        assert_rtree_ok(db);
        answers_like_a_scan(db, 6);
        write_row_by_row(db);
        assert_rtree_ok(db);
        answers_like_a_scan(db, 7);
        sqlite3_close(db);
    }
}

/* A packed write replaces what the tree held, also when SQLite's R-tree
 * wrote (and may keep nodes of) it earlier in the same transaction; a
 * rollback puts the old tree back. */
static void packed_write_replaces_and_rolls_back(void **state)
{
    (void)state;
    sqlite3 *db = open_memory();
    situ__rtree_rows r = {0};
    situ_err err = {0};
    char text[64];
    exec(db, "INSERT INTO rt VALUES (900001, 1, 2, 1, 2)");
    exec(db, "BEGIN");
    exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400) "
             "INSERT INTO rt SELECT i + 1000000, i, i + 1, i, i + 1 FROM n");
    exec(db, "DELETE FROM rt WHERE pkid > 1000100");
    random_boxes(db, &r, 2000, 1, 3);
    assert_int_equal(situ__rtree_write(&r, db, "rt", &err), 0);
    assert_rtree_ok(db);
    answers_like_a_scan(db, 8);
    exec(db, "INSERT INTO rt VALUES (2000001, 110, 110.5, 25, 25.5); "
             "INSERT INTO flat VALUES (2000001, 110, 110.5, 25, 25.5)");
    assert_rtree_ok(db);
    answers_like_a_scan(db, 9);
    exec(db, "ROLLBACK");
    query_text(db, "SELECT group_concat(pkid) || ' ' || rtreecheck('rt') FROM rt", text,
               sizeof text);
    assert_string_equal(text, "900001 ok");
    situ__rtree_rows_dispose(&r);
    sqlite3_close(db);
}

/* A table that is not an R-tree is an error, not a crash. */
static void refuses_a_missing_rtree(void **state)
{
    (void)state;
    sqlite3 *db = open_memory();
    situ__rtree_rows r = {0};
    situ_err err = {0};
    double mbr[4] = {1, 2, 3, 4};
    assert_int_equal(situ__rtree_add(&r, db, 1, mbr), SQLITE_OK);
    assert_int_equal(situ__rtree_write(&r, db, "nothere", &err), SITU_EDB);
    assert_non_null(strstr(err.msg, "nothere"));
    situ__rtree_rows_dispose(&r);
    sqlite3_close(db);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(bounds_round_as_sqlite_stores_them),
    cmocka_unit_test(packed_tree_is_sqlite_rtree),
    cmocka_unit_test(packed_write_replaces_and_rolls_back),
    cmocka_unit_test(refuses_a_missing_rtree),
};

SITU_TEST_MAIN("store_rtree", tests)

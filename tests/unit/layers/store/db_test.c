/* db_test.c: tests layers/store/db.c, situ_db, against a real SpatiaLite
 * store: binding and reading every type, portable geometry SQL, and the
 * error codes a caller branches on. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/db.h"
#include "situ/store.h"

typedef struct fixture {
    char *dir;
    situ_store *store;
    situ_db *db;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = situ_test_tmpdir("db");
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", f->dir);
    situ_err err = {0};
    if (situ_store_open(path, SITU_STORE_CREATE, &f->store, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    f->db = situ_store_sql(f->store);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    situ_store_close(f->store);
    situ_test_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static situ_db_stmt *prepare(situ_db *db, const char *sql)
{
    situ_db_stmt *st = NULL;
    situ_err err = {0};
    if (situ_db_prepare(db, sql, &st, &err))
        fprintf(stderr, "%s\n", err.msg);
    assert_non_null(st);
    return st;
}

static void binds_and_reads_every_type(void **state)
{
    fixture *f = *state;
    assert_int_equal(situ_db_engine_of(f->db), SITU_DB_SQLITE);
    assert_int_equal(
        situ_db_exec(f->db, "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB)", NULL), 0);
    situ_db_stmt *ins = prepare(f->db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)");
    const unsigned char blob[] = {0, 1, 2, 255};
    situ_db_bind_int64(ins, 1, 9007199254740993LL);
    situ_db_bind_double(ins, 2, -0.125);
    situ_db_bind_text(ins, 3, "零陵区 x", -1);
    situ_db_bind_blob(ins, 4, blob, sizeof blob);
    assert_int_equal(situ_db_step(ins), SITU_DB_DONE);
    assert_int_equal(situ_db_changes(f->db), 1);
    situ_db_reset(ins);
    situ_db_clear_bindings(ins);
    assert_int_equal(situ_db_step(ins), SITU_DB_DONE); /* a row of NULLs */
    situ_db_finalize(ins);

    situ_db_stmt *q = prepare(f->db, "SELECT i, r, s, b FROM t ORDER BY i IS NULL");
    assert_int_equal(situ_db_step(q), SITU_DB_ROW);
    assert_int_equal(situ_db_column_type(q, 0), SITU_DB_INTEGER);
    assert_true(situ_db_column_int64(q, 0) == 9007199254740993LL);
    assert_int_equal(situ_db_column_type(q, 1), SITU_DB_FLOAT);
    assert_true(situ_db_column_double(q, 1) == -0.125);
    assert_int_equal(situ_db_column_type(q, 2), SITU_DB_TEXT);
    assert_string_equal(situ_db_column_text(q, 2), "零陵区 x");
    assert_int_equal(situ_db_column_type(q, 3), SITU_DB_BLOB);
    assert_int_equal(situ_db_column_bytes(q, 3), 4);
    assert_memory_equal(situ_db_column_blob(q, 3), blob, 4);
    assert_int_equal(situ_db_step(q), SITU_DB_ROW);
    for (int i = 0; i < 4; i++)
        assert_int_equal(situ_db_column_type(q, i), SITU_DB_NULL);
    assert_null(situ_db_column_text(q, 2));
    assert_int_equal(situ_db_step(q), SITU_DB_DONE);
    assert_ptr_equal(situ_db_of(q), f->db);
    situ_db_finalize(q);
    situ_db_finalize(NULL);
}

static void portable_geometry_sql_round_trips_wkb(void **state)
{
    fixture *f = *state;
    const unsigned char pt[21] = {1,    1,    0, 0, 0, 0, 0, 0, 0,    0,   0,
                                  0x5c, 0x40, 0, 0, 0, 0, 0, 0, 0x3a, 0x40}; /* POINT(112 26) */
    situ_db_stmt *q = prepare(f->db, "SELECT ST_AsBinary(ST_GeomFromWKB(?, 4326)), "
                                     "ST_X(ST_GeomFromWKB(?1, 4326)), "
                                     "ST_MinY(ST_GeomFromWKB(?1, 4326))");
    situ_db_bind_blob(q, 1, pt, sizeof pt);
    assert_int_equal(situ_db_step(q), SITU_DB_ROW);
    assert_int_equal(situ_db_column_bytes(q, 0), 21);
    assert_memory_equal(situ_db_column_blob(q, 0), pt, 21);
    assert_true(situ_db_column_double(q, 1) == 112.0);
    assert_true(situ_db_column_double(q, 2) == 26.0);
    situ_db_finalize(q);
}

static void constraint_violation_is_a_conflict(void **state)
{
    fixture *f = *state;
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE u (k TEXT PRIMARY KEY)", NULL), 0);
    situ_db_stmt *ins = prepare(f->db, "INSERT INTO u VALUES (?)");
    situ_db_bind_text(ins, 1, "a", -1);
    assert_int_equal(situ_db_step(ins), SITU_DB_DONE);
    situ_db_reset(ins);
    assert_int_equal(situ_db_step(ins), SITU_ECONFLICT);
    assert_non_null(strstr(situ_db_errmsg(f->db), "UNIQUE"));
    situ_db_reset(ins);
    situ_db_finalize(ins);
    situ_db_stmt *up = prepare(f->db, "INSERT INTO u VALUES (?) ON CONFLICT (k) DO NOTHING");
    situ_db_bind_text(up, 1, "a", -1);
    assert_int_equal(situ_db_step(up), SITU_DB_DONE);
    assert_int_equal(situ_db_changes(f->db), 0);
    situ_db_finalize(up);
}

static void bad_sql_names_the_statement(void **state)
{
    fixture *f = *state;
    situ_db_stmt *st = NULL;
    situ_err err = {0};
    assert_int_equal(situ_db_prepare(f->db, "SELECT nope FROM nowhere", &st, &err), SITU_EDB);
    assert_null(st);
    assert_non_null(strstr(err.msg, "nowhere"));
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE", &err), SITU_EDB);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(binds_and_reads_every_type, setup, teardown),
    cmocka_unit_test_setup_teardown(portable_geometry_sql_round_trips_wkb, setup, teardown),
    cmocka_unit_test_setup_teardown(constraint_violation_is_a_conflict, setup, teardown),
    cmocka_unit_test_setup_teardown(bad_sql_names_the_statement, setup, teardown),
};

SITU_TEST_MAIN("db", tests)

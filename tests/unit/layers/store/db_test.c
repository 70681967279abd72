/* db_test.c: tests layers/store/db.c and db_pg.c, situ_db, against a real
 * SpatiaLite store and a real PostgreSQL + PostGIS one (each case runs on
 * both: the _lite and _pg fixtures): binding and reading every type,
 * portable geometry SQL, the error codes a caller branches on, the rewrite
 * of portable SQL, streaming scans, and messages without passwords. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/db.h"
#include "situ/store.h"

typedef struct fixture {
    char *dir;
    char url[512]; /* PostgreSQL: the test's database */
    situ_store *store;
    situ_db *db;
} fixture;

static int open_store(fixture *f, const char *path)
{
    situ_err err = {0};
    if (situ_store_open(path, SITU_STORE_CREATE, &f->store, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    f->db = situ_store_sql(f->store);
    return 0;
}

static int setup_lite(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = situ_test_tmpdir("db");
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", f->dir);
    *state = f;
    return open_store(f, path);
}

/* A store in a database of its own; no store (the case skips) without PostgreSQL. */
static int setup_pg(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (situ_test_pg_db(f->url, sizeof f->url))
        return 0;
    return open_store(f, f->url);
}

static int teardown(void **state)
{
    fixture *f = *state;
    situ_store_close(f->store);
    if (f->dir)
        situ_test_rmtree(f->dir);
    if (f->url[0])
        situ_test_pg_drop(f->url);
    free(f->dir);
    free(f);
    return 0;
}

/* The case's fixture; skips the case when its engine is not installed. */
static fixture *fx(void **state)
{
    fixture *f = *state;
    if (!f->store)
        skip();
    return f;
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
    fixture *f = fx(state);
    int pg = situ_db_engine_of(f->db) == SITU_DB_POSTGRES;
    assert_int_equal(situ_db_engine_of(f->db), f->url[0] ? SITU_DB_POSTGRES : SITU_DB_SQLITE);
    assert_int_equal(situ_db_exec(f->db,
                                  pg ? "CREATE TABLE t (i bigint, r float8, s text, b bytea)"
                                     : "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB)",
                                  NULL),
                     0);
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
    fixture *f = fx(state);
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
    fixture *f = fx(state);
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE u (k TEXT PRIMARY KEY)", NULL), 0);
    const char *unique = situ_db_engine_of(f->db) == SITU_DB_POSTGRES ? "unique" : "UNIQUE";
    situ_db_stmt *ins = prepare(f->db, "INSERT INTO u VALUES (?)");
    situ_db_bind_text(ins, 1, "a", -1);
    assert_int_equal(situ_db_step(ins), SITU_DB_DONE);
    situ_db_reset(ins);
    assert_int_equal(situ_db_step(ins), SITU_ECONFLICT);
    assert_non_null(strstr(situ_db_errmsg(f->db), unique));
    situ_db_reset(ins);
    situ_db_finalize(ins);
    situ_db_stmt *up = prepare(f->db, "INSERT INTO u VALUES (?) ON CONFLICT (k) DO NOTHING");
    situ_db_bind_text(up, 1, "a", -1);
    assert_int_equal(situ_db_step(up), SITU_DB_DONE);
    assert_int_equal(situ_db_changes(f->db), 0);
    situ_db_finalize(up);
}

/* situ_db_errcode: the code of the last call, 0 after a success; a value of
 * the wrong type is a conflict (what feed_apply.c rejects an event for). */
static void errcode_is_the_last_calls(void **state)
{
    fixture *f = fx(state);
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE m (k INTEGER PRIMARY KEY)", NULL), 0);
    assert_int_equal(situ_db_errcode(f->db), 0);
    situ_db_stmt *ins = prepare(f->db, "INSERT INTO m VALUES (?)");
    situ_db_bind_text(ins, 1, "not a number", -1);
    assert_int_equal(situ_db_step(ins), SITU_ECONFLICT);
    assert_int_equal(situ_db_errcode(f->db), SITU_ECONFLICT);
    situ_db_reset(ins);
    situ_db_bind_int64(ins, 1, 7);
    assert_int_equal(situ_db_step(ins), SITU_DB_DONE);
    assert_int_equal(situ_db_errcode(f->db), 0);
    situ_db_reset(ins);
    assert_int_equal(situ_db_step(ins), SITU_ECONFLICT);
    assert_int_equal(situ_db_errcode(f->db), SITU_ECONFLICT);
    situ_db_finalize(ins);
    situ_db_stmt *st = NULL;
    assert_int_equal(situ_db_prepare(f->db, "SELECT nope FROM nowhere", &st, NULL), SITU_EDB);
    assert_int_equal(situ_db_errcode(f->db), SITU_EDB);
}

static void bad_sql_names_the_statement(void **state)
{
    fixture *f = fx(state);
    situ_db_stmt *st = NULL;
    situ_err err = {0};
    assert_int_equal(situ_db_prepare(f->db, "SELECT nope FROM nowhere", &st, &err), SITU_EDB);
    assert_null(st);
    assert_non_null(strstr(err.msg, "nowhere"));
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE", &err), SITU_EDB);
}

/* ? inside a literal or a comment is not a parameter; ?N and ? number as SQLite does. */
static void parameters_outside_quotes_only(void **state)
{
    fixture *f = fx(state);
    situ_db_stmt *q = prepare(f->db, "SELECT '?''?', ?2, ? -- ?\n , \"k?\".v FROM (SELECT 7 AS "
                                     "v) AS \"k?\" WHERE ?1 = 'a'");
    situ_db_bind_text(q, 1, "a", -1);
    situ_db_bind_int64(q, 2, 42);
    situ_db_bind_double(q, 3, 2.5);
    assert_int_equal(situ_db_step(q), SITU_DB_ROW);
    assert_string_equal(situ_db_column_text(q, 0), "?'?");
    assert_true(situ_db_column_int64(q, 1) == 42);
    assert_true(situ_db_column_double(q, 2) == 2.5);
    assert_true(situ_db_column_int64(q, 3) == 7);
    assert_string_equal(situ_db_column_text(q, 3), "7");
    assert_int_equal(situ_db_step(q), SITU_DB_DONE);
    situ_db_finalize(q);
}

/* Aggregates come back as numbers (PostgreSQL: count is int8, sum of int8 numeric). */
static void aggregates_read_as_numbers(void **state)
{
    fixture *f = fx(state);
    assert_int_equal(
        situ_db_exec(f->db,
                     "CREATE TABLE n (i BIGINT, r DOUBLE PRECISION); INSERT INTO n VALUES "
                     "(3000000000, 0.5), (2, 1.25), (-1, NULL)",
                     NULL),
        0);
    assert_int_equal(situ_db_changes(f->db), 3);
    situ_db_stmt *q = prepare(f->db, "SELECT count(*), sum(i), sum(r), min(i) < 0 FROM n");
    assert_int_equal(situ_db_step(q), SITU_DB_ROW);
    assert_int_equal(situ_db_column_type(q, 0), SITU_DB_INTEGER);
    assert_true(situ_db_column_int64(q, 0) == 3);
    assert_int_equal(situ_db_column_type(q, 1), SITU_DB_INTEGER);
    assert_true(situ_db_column_int64(q, 1) == 3000000001LL);
    assert_true(situ_db_column_double(q, 2) == 1.75);
    assert_true(situ_db_column_int64(q, 3) == 1);
    situ_db_finalize(q);
}

/* A scan goes on while another statement writes on the same connection,
 * as SQLite allows; every row comes once, in order. */
static void scan_interleaved_with_writes(void **state)
{
    fixture *f = fx(state);
    assert_int_equal(situ_db_exec(f->db,
                                  "CREATE TABLE src (k INTEGER PRIMARY KEY, v TEXT);"
                                  "CREATE TABLE dst (k INTEGER PRIMARY KEY, v TEXT)",
                                  NULL),
                     0);
    situ_db_stmt *ins = prepare(f->db, "INSERT INTO src VALUES (?, ?)");
    assert_int_equal(situ_db_exec(f->db, "BEGIN", NULL), 0);
    for (int i = 0; i < 5000; i++) {
        char v[32];
        snprintf(v, sizeof v, "v%d", i);
        situ_db_bind_int64(ins, 1, i);
        situ_db_bind_text(ins, 2, v, -1);
        assert_int_equal(situ_db_step(ins), SITU_DB_DONE);
        situ_db_reset(ins);
    }
    assert_int_equal(situ_db_exec(f->db, "COMMIT", NULL), 0);
    situ_db_finalize(ins);
    situ_db_stmt *scan = prepare(f->db, "SELECT k, v FROM src ORDER BY k");
    situ_db_stmt *copy = prepare(f->db, "INSERT INTO dst VALUES (?, ?)");
    int n = 0;
    while (situ_db_step(scan) == SITU_DB_ROW) {
        assert_true(situ_db_column_int64(scan, 0) == n);
        if (n % 100 == 0) {
            situ_db_bind_int64(copy, 1, situ_db_column_int64(scan, 0));
            situ_db_bind_text(copy, 2, situ_db_column_text(scan, 1), -1);
            assert_int_equal(situ_db_step(copy), SITU_DB_DONE);
            situ_db_reset(copy);
        }
        n++;
    }
    assert_int_equal(n, 5000);
    situ_db_finalize(scan);
    situ_db_finalize(copy);
    situ_assert_query(f->store, "SELECT count(*) || ' ' || max(k) FROM dst", "50 4900");
    /* reset mid-scan, then again from the start */
    scan = prepare(f->db, "SELECT k FROM src ORDER BY k");
    assert_int_equal(situ_db_step(scan), SITU_DB_ROW);
    situ_db_reset(scan);
    assert_int_equal(situ_db_step(scan), SITU_DB_ROW);
    assert_true(situ_db_column_int64(scan, 0) == 0);
    situ_db_finalize(scan);
}

/* ---- PostgreSQL only --------------------------------------------------------------- */

static situ_db *second_connection(fixture *f)
{
    situ_db *db = NULL;
    situ_err err = {0};
    if (situ_db_connect(f->url, &db, &err))
        fprintf(stderr, "%s\n", err.msg);
    assert_non_null(db);
    return db;
}

static void lock_timeout_is_busy(void **state)
{
    fixture *f = fx(state);
    assert_int_equal(situ_db_exec(f->db, "CREATE TABLE l (k text)", NULL), 0);
    assert_int_equal(situ_db_exec(f->db, "BEGIN; LOCK TABLE l", NULL), 0);
    situ_db *other = second_connection(f);
    assert_int_equal(situ_db_exec(other, "SET lock_timeout = '100ms'", NULL), 0);
    situ_db_stmt *q = NULL;
    int rc = situ_db_prepare(other, "SELECT count(*) FROM l", &q, NULL);
    if (!rc)
        rc = situ_db_step(q);
    assert_int_equal(rc, SITU_EBUSY);
    situ_db_finalize(q);
    situ_db_exec(f->db, "ROLLBACK", NULL);
    situ_db_free(other);
}

static void lost_connection_is_io_and_names_the_server(void **state)
{
    fixture *f = fx(state);
    situ_db *other = second_connection(f);
    situ_db_stmt *pid = prepare(other, "SELECT pg_backend_pid()");
    assert_int_equal(situ_db_step(pid), SITU_DB_ROW);
    long long victim = situ_db_column_int64(pid, 0);
    situ_db_finalize(pid);
    situ_db_stmt *kill = prepare(f->db, "SELECT pg_terminate_backend(?)");
    situ_db_bind_int64(kill, 1, victim);
    assert_int_equal(situ_db_step(kill), SITU_DB_ROW);
    situ_db_finalize(kill);
    situ_db_stmt *q = NULL;
    situ_err err = {0};
    int rc = situ_db_prepare(other, "SELECT 1", &q, &err);
    if (!rc)
        rc = situ_db_step(q);
    assert_int_equal(rc, SITU_EIO);
    assert_non_null(strstr(situ_db_errmsg(other), "host=127.0.0.1 port="));
    situ_db_finalize(q);
    situ_db_free(other);
}

/* No message ever shows the password, whether the server is unreachable or
 * refuses it; each names the host and port. */
static void messages_never_show_the_password(void **state)
{
    fixture *f = fx(state);
    const char *pw = strchr(strstr(f->url, "//") + 2, ':') + 1; /* situ:PASSWORD@ */
    char secret[128];
    snprintf(secret, sizeof secret, "%.*s", (int)(strchr(pw, '@') - pw), pw);
    const char *urls[] = {"postgresql://situ:%s@127.0.0.1:1/situ",
                          "postgresql://situ:x%sx@127.0.0.1:%s/situ",
                          "host=127.0.0.1,127.0.0.1 port=1,2 user=situ password=%s dbname=situ"};
    const char *port = strrchr(f->url, ':') + 1;
    char portnum[16];
    snprintf(portnum, sizeof portnum, "%.*s", (int)strcspn(port, "/"), port);
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char url[512];
        snprintf(url, sizeof url, urls[i], secret, portnum);
        situ_db *db = NULL;
        situ_err err = {0};
        assert_int_equal(situ_db_connect(url, &db, &err), SITU_EIO);
        assert_null(db);
        assert_null(strstr(err.msg, secret));
        assert_non_null(strstr(err.msg, "127.0.0.1"));
        assert_non_null(strstr(err.msg, i == 1 ? portnum : "port=1"));
        situ_store *s = NULL;
        assert_int_not_equal(situ_store_open(url, 0, &s, &err), 0);
        assert_null(strstr(err.msg, secret));
    }
}

/* What opens PostgreSQL and what stays a file: an SQLite URI holds a '=' too
 * (situd opens a read-only folder's store as file:...?immutable=1). */
static void connection_strings_and_file_names_told_apart(void **state)
{
    (void)state;
    assert_true(situ_db_is_url("postgresql://situ@db1,db2/situ?target_session_attrs=read-write"));
    assert_true(situ_db_is_url("postgres://situ@db1/situ"));
    assert_true(situ_db_is_url("host=db1 port=5432 dbname=situ"));
    assert_true(situ_db_is_url(" dbname = situ"));
    assert_false(situ_db_is_url("file:/var/lib/situ/situ.sqlite?immutable=1"));
    assert_false(situ_db_is_url("/var/lib/situ/a=b.sqlite"));
    assert_false(situ_db_is_url("var/situ.sqlite"));
    assert_false(situ_db_is_url("=x"));
}

#define CASE(t, engine)                                                                            \
    {                                                                                              \
#t "_" #engine, t, setup_##engine, teardown, NULL                                          \
    }
#define BOTH(t) CASE(t, lite), CASE(t, pg)

static const struct CMUnitTest tests[] = {
    BOTH(binds_and_reads_every_type),
    BOTH(portable_geometry_sql_round_trips_wkb),
    BOTH(constraint_violation_is_a_conflict),
    BOTH(errcode_is_the_last_calls),
    BOTH(bad_sql_names_the_statement),
    BOTH(parameters_outside_quotes_only),
    BOTH(aggregates_read_as_numbers),
    BOTH(scan_interleaved_with_writes),
    CASE(lock_timeout_is_busy, pg),
    CASE(lost_connection_is_io_and_names_the_server, pg),
    CASE(messages_never_show_the_password, pg),
    cmocka_unit_test(connection_strings_and_file_names_told_apart),
};

SITU_TEST_MAIN("db", tests)

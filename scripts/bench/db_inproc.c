/*
 * db_inproc.c: rows/s written and read through situ_db (db.h) on one store,
 * SpatiaLite or PostgreSQL, and the time to open it (situ_store_open of an
 * existing store). Usage: db_inproc STORE [ROWS]; STORE a file or a libpq
 * URL (its database is written: use a throwaway one, e.g. tests/pg/pgtemp.sh).
 * Rows are (int64, float8, text, 21-byte blob), written in one transaction
 * by one prepared INSERT, read back by one streamed SELECT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/db.h"
#include "situ/store.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what, situ_err *err)
{
    fprintf(stderr, "db_inproc: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return fprintf(stderr, "usage: db_inproc STORE [ROWS]\n"), 2;
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    situ_err err = {0};
    situ_store *s;
    if (situ_store_open(argv[1], SITU_STORE_CREATE, &s, &err))
        return die("open", &err);
    situ_store_close(s);
    double t0 = now_s();
    if (situ_store_open(argv[1], SITU_STORE_CREATE, &s, &err))
        return die("open", &err);
    double t_open = now_s() - t0;
    situ_db *db = situ_store_sql(s);
    situ_db_exec(db, "DROP TABLE IF EXISTS bench", NULL);
    if (situ_db_exec(db, "CREATE TABLE bench (i BIGINT, r DOUBLE PRECISION, t TEXT, b BYTEA)",
                     &err) &&
        situ_db_exec(db, "CREATE TABLE bench (i BIGINT, r DOUBLE PRECISION, t TEXT, b BLOB)", &err))
        return die("create", &err);
    situ_db_stmt *ins;
    if (situ_db_prepare(db, "INSERT INTO bench VALUES (?, ?, ?, ?)", &ins, &err))
        return die("prepare", &err);
    unsigned char blob[21] = {1, 1};
    char text[32];
    t0 = now_s();
    if (situ_store_begin(s, &err))
        return die("begin", &err);
    for (long i = 0; i < n; i++) {
        snprintf(text, sizeof text, "feature-%ld", i);
        situ_db_bind_int64(ins, 1, i);
        situ_db_bind_double(ins, 2, (double)i * 0.5);
        situ_db_bind_text(ins, 3, text, -1);
        situ_db_bind_blob(ins, 4, blob, sizeof blob);
        if (situ_db_step(ins) != SITU_DB_DONE)
            return fprintf(stderr, "insert: %s\n", situ_db_errmsg(db)), 1;
        situ_db_reset(ins);
    }
    if (situ_store_commit(s, &err))
        return die("commit", &err);
    double t_write = now_s() - t0;
    situ_db_finalize(ins);
    situ_db_stmt *q;
    if (situ_db_prepare(db, "SELECT i, r, t, b FROM bench", &q, &err))
        return die("prepare", &err);
    t0 = now_s();
    long rows = 0;
    long long sum = 0;
    while (situ_db_step(q) == SITU_DB_ROW) {
        sum += situ_db_column_int64(q, 0) + (long long)situ_db_column_double(q, 1) +
               (long long)strlen(situ_db_column_text(q, 2)) + situ_db_column_bytes(q, 3);
        rows++;
    }
    double t_read = now_s() - t0;
    situ_db_finalize(q);
    situ_db_exec(db, "DROP TABLE bench", NULL);
    printf("%s: open %.1f ms; write %ld rows %.2f s = %.0f rows/s; read %ld rows %.2f s = %.0f "
           "rows/s (checksum %lld)\n",
           situ_db_engine_of(db) == SITU_DB_POSTGRES ? "postgresql" : "spatialite", t_open * 1e3, n,
           t_write, (double)n / t_write, rows, t_read, (double)rows / t_read, sum);
    situ_store_close(s);
    return 0;
}

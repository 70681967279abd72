/*
 * db.c: situ_db's public functions. Over SQLite (SpatiaLite) each call
 * forwards to the SQLite C API, mapping its result codes to situ's; over
 * PostgreSQL each forwards to db_pg.c (db_private.h). Which one is the
 * connection's engine, decided once when it is opened.
 */
#include "situ/db.h"

#include "db_private.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct situ_db {
    situ_db_engine engine;
    sqlite3 *lite; /* borrowed from the store */
    situ__pg *pg;  /* owned */
};

struct situ_db_stmt {
    situ_db *db;
    sqlite3_stmt *lite;
    situ__pg_stmt *pg;
};

/* 1 when s opens with a libpq keyword=value pair ("host=db1 dbname=situ"):
 * a keyword of letters and underscores, then '=' (spaces allowed around it). */
static int is_conninfo(const char *s)
{
    while (*s == ' ')
        s++;
    const char *k = s;
    while ((*s >= 'a' && *s <= 'z') || *s == '_')
        s++;
    if (s == k)
        return 0;
    while (*s == ' ')
        s++;
    return *s == '=';
}

int situ_db_is_url(const char *path)
{
    return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0 ||
           is_conninfo(path);
}

int situ_db_connect(const char *conninfo, situ_db **out, situ_err *err)
{
    situ_db *db = calloc(1, sizeof *db);
    if (!db)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = situ__pg_connect(conninfo, &db->pg, err);
    if (rc) {
        free(db);
        return rc;
    }
    db->engine = SITU_DB_POSTGRES;
    *out = db;
    return 0;
}

const char *situ_db_where(situ_db *db)
{
    return db->pg ? situ__pg_where(db->pg) : sqlite3_db_filename(db->lite, "main");
}

int situ_db_wrap_sqlite(sqlite3 *lite, situ_db **out, situ_err *err)
{
    situ_db *db = calloc(1, sizeof *db);
    if (!db)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    db->engine = SITU_DB_SQLITE;
    db->lite = lite;
    *out = db;
    return 0;
}

void situ_db_free(situ_db *db)
{
    if (db)
        situ__pg_free(db->pg);
    free(db);
}

situ_db_engine situ_db_engine_of(const situ_db *db)
{
    return db->engine;
}

sqlite3 *situ_db_sqlite(situ_db *db)
{
    return db->lite;
}

/* situ's code for a failed SQLite call. */
static int code_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
        return SITU_ECONFLICT;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return SITU_EBUSY;
    case SQLITE_NOMEM:
        return SITU_ENOMEM;
    default:
        return SITU_EDB;
    }
}

int situ_db_prepare(situ_db *db, const char *sql, situ_db_stmt **out, situ_err *err)
{
    situ_db_stmt *st = calloc(1, sizeof *st);
    if (!st)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    st->db = db;
    if (db->pg) {
        int rc = situ__pg_prepare(db->pg, sql, &st->pg, err);
        if (rc)
            free(st);
        else
            *out = st;
        return rc;
    }
    int rc = sqlite3_prepare_v2(db->lite, sql, -1, &st->lite, NULL);
    if (rc != SQLITE_OK) {
        free(st);
        return situ_err_set(err, code_of(rc), "%s (in: %.120s)", sqlite3_errmsg(db->lite), sql);
    }
    *out = st;
    return 0;
}

int situ_db_exec(situ_db *db, const char *sql, situ_err *err)
{
    if (db->pg)
        return situ__pg_exec(db->pg, sql, err);
    char *msg = NULL;
    int rc = sqlite3_exec(db->lite, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK)
        return 0;
    situ_err_set(err, code_of(rc), "%s (in: %.120s)", msg ? msg : sqlite3_errstr(rc), sql);
    sqlite3_free(msg);
    return code_of(rc);
}

long long situ_db_changes(situ_db *db)
{
    return db->pg ? situ__pg_changes(db->pg) : sqlite3_changes64(db->lite);
}

const char *situ_db_errmsg(situ_db *db)
{
    return db->pg ? situ__pg_errmsg(db->pg) : sqlite3_errmsg(db->lite);
}

int situ_db_break_if_stalled(situ_db *db, double seconds)
{
    return db && db->pg ? situ__pg_break_if_stalled(db->pg, seconds) : 0;
}

int situ_db_errcode(situ_db *db)
{
    if (db->pg)
        return situ__pg_errcode(db->pg);
    int rc = sqlite3_extended_errcode(db->lite);
    return rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : code_of(rc);
}

void situ_db_bind_null(situ_db_stmt *st, int k)
{
    if (st->pg)
        situ__pg_bind(st->pg, k, SITU_DB_NULL, 0, 0, NULL, 0);
    else
        sqlite3_bind_null(st->lite, k);
}

void situ_db_bind_int64(situ_db_stmt *st, int k, long long v)
{
    if (st->pg)
        situ__pg_bind(st->pg, k, SITU_DB_INTEGER, v, 0, NULL, 0);
    else
        sqlite3_bind_int64(st->lite, k, v);
}

void situ_db_bind_double(situ_db_stmt *st, int k, double v)
{
    if (st->pg)
        situ__pg_bind(st->pg, k, SITU_DB_FLOAT, 0, v, NULL, 0);
    else
        sqlite3_bind_double(st->lite, k, v);
}

void situ_db_bind_text(situ_db_stmt *st, int k, const char *s, int n)
{
    if (st->pg)
        situ__pg_bind(st->pg, k, SITU_DB_TEXT, 0, 0, s, n);
    else
        sqlite3_bind_text(st->lite, k, s, n, SQLITE_STATIC);
}

void situ_db_bind_blob(situ_db_stmt *st, int k, const void *p, int n)
{
    if (st->pg)
        situ__pg_bind(st->pg, k, SITU_DB_BLOB, 0, 0, p, n);
    else
        sqlite3_bind_blob(st->lite, k, p, n, SQLITE_STATIC);
}

int situ_db_step(situ_db_stmt *st)
{
    if (st->pg)
        return situ__pg_step(st->pg);
    int rc = sqlite3_step(st->lite);
    if (rc == SQLITE_ROW)
        return SITU_DB_ROW;
    if (rc == SQLITE_DONE)
        return SITU_DB_DONE;
    return code_of(rc);
}

situ_db_type situ_db_column_type(situ_db_stmt *st, int i)
{
    if (st->pg)
        return situ__pg_column_type(st->pg, i);
    switch (sqlite3_column_type(st->lite, i)) {
    case SQLITE_INTEGER:
        return SITU_DB_INTEGER;
    case SQLITE_FLOAT:
        return SITU_DB_FLOAT;
    case SQLITE_TEXT:
        return SITU_DB_TEXT;
    case SQLITE_BLOB:
        return SITU_DB_BLOB;
    default:
        return SITU_DB_NULL;
    }
}

long long situ_db_column_int64(situ_db_stmt *st, int i)
{
    return st->pg ? situ__pg_column_int64(st->pg, i) : sqlite3_column_int64(st->lite, i);
}

double situ_db_column_double(situ_db_stmt *st, int i)
{
    return st->pg ? situ__pg_column_double(st->pg, i) : sqlite3_column_double(st->lite, i);
}

const char *situ_db_column_text(situ_db_stmt *st, int i)
{
    return st->pg ? situ__pg_column_text(st->pg, i)
                  : (const char *)sqlite3_column_text(st->lite, i);
}

const void *situ_db_column_blob(situ_db_stmt *st, int i)
{
    return st->pg ? situ__pg_column_blob(st->pg, i) : sqlite3_column_blob(st->lite, i);
}

int situ_db_column_bytes(situ_db_stmt *st, int i)
{
    return st->pg ? situ__pg_column_bytes(st->pg, i) : sqlite3_column_bytes(st->lite, i);
}

void situ_db_reset(situ_db_stmt *st)
{
    if (st->pg)
        situ__pg_reset(st->pg);
    else
        sqlite3_reset(st->lite);
}

void situ_db_clear_bindings(situ_db_stmt *st)
{
    if (st->pg)
        situ__pg_clear_bindings(st->pg);
    else
        sqlite3_clear_bindings(st->lite);
}

void situ_db_finalize(situ_db_stmt *st)
{
    if (!st)
        return;
    situ__pg_finalize(st->pg);
    sqlite3_finalize(st->lite);
    free(st);
}

situ_db *situ_db_of(situ_db_stmt *st)
{
    return st->db;
}

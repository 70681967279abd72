/*
 * situ/db.h: one SQL interface over the two engines a situ store lives in,
 * SpatiaLite (a file, the default) and PostgreSQL with PostGIS (a libpq URL).
 *
 * It mirrors the part of SQLite's C API situ uses (prepare, bind, step,
 * column, reset, finalize), so each module writes its SQL once and it runs
 * on both. The store (store.h) opens the connection; modules get it with
 * situ_store_sql().
 *
 * Portable SQL, as every statement outside the store's own schema code is
 * written:
 *   - parameters are ? or ?N;
 *   - geometry through ST_GeomFromWKB(?, 4326), ST_AsBinary, ST_Multi,
 *     ST_Intersects, ST_X, ST_Y, and bounding boxes through ST_MinX, ST_MinY,
 *     ST_MaxX, ST_MaxY (SpatiaLite's names; rewritten for PostGIS);
 *   - upserts with INSERT ... ON CONFLICT, RETURNING instead of rowids;
 *   - times as RFC 3339 UTC text computed in C, JSON as text parsed in C.
 */
#ifndef SITU_DB_H
#define SITU_DB_H

#include "situ/err.h"

typedef struct sqlite3 sqlite3;
typedef struct situ_db situ_db;
typedef struct situ_db_stmt situ_db_stmt;

typedef enum situ_db_engine {
    SITU_DB_SQLITE = 1,   /* SpatiaLite */
    SITU_DB_POSTGRES = 2, /* PostgreSQL + PostGIS */
} situ_db_engine;

/* What situ_db_step answers besides a negative SITU_E... code:
 * SITU_ECONFLICT for a constraint violated or a value of the wrong type or
 * too big (SQLite's MISMATCH, TOOBIG; PostgreSQL's SQLSTATE class 22),
 * SITU_EBUSY for a lock not granted in time (PostgreSQL: also a
 * serialization failure or deadlock: retry the transaction), SITU_EIO for a
 * lost PostgreSQL connection or a server that takes no more writes on it
 * (read-only after a failover, shutting down; and situ_db_exec of a COMMIT
 * whose wait for the synchronous standby was cancelled: its durability is
 * unknown), SITU_EDB for anything else (situ_db_errmsg says why).
 *
 * PostgreSQL differs in one way callers must know: a failed statement inside
 * a transaction aborts the whole transaction (SQLite undoes the statement
 * only); roll back and retry or give up.
 * A SELECT streams its rows (one row in memory at a time); stepping another
 * statement while one is mid-scan reads the rest of the first into memory. */
enum { SITU_DB_DONE = 0, SITU_DB_ROW = 1 };

/* The type of a result column's value in the current row. */
typedef enum situ_db_type {
    SITU_DB_NULL = 0,
    SITU_DB_INTEGER,
    SITU_DB_FLOAT,
    SITU_DB_TEXT,
    SITU_DB_BLOB,
} situ_db_type;

/* Wraps an open SQLite connection (the store keeps owning it). */
int situ_db_wrap_sqlite(sqlite3 *lite, situ_db **out, situ_err *err);
/* Connects to PostgreSQL: conninfo is any libpq connection string, a
 * postgresql:// URL (several hosts allowed) or key=value pairs. A failure
 * names the server (host, port, database, user) and libpq's reason, never
 * the password. *out owns the connection. */
int situ_db_connect(const char *conninfo, situ_db **out, situ_err *err);
/* 1 when path is a libpq connection string (postgresql://, postgres://, or
 * one opening with keyword=value) rather than a file name or an SQLite URI
 * ("file:...?immutable=1", which holds a '=' too). */
int situ_db_is_url(const char *path);
/* What the connection is to, for messages: the file, or the PostgreSQL
 * server as "host=... port=... dbname=... user=..." (no password). */
const char *situ_db_where(situ_db *db);
/* Frees the wrapper and a PostgreSQL connection (a wrapped SQLite
 * connection stays its owner's); NULL is a no-op. */
void situ_db_free(situ_db *db);

situ_db_engine situ_db_engine_of(const situ_db *db);
/* The SQLite connection, for what only SQLite does (online backup, PRAGMAs);
 * NULL on PostgreSQL. */
sqlite3 *situ_db_sqlite(situ_db *db);

/* Prepares one statement of portable SQL. */
int situ_db_prepare(situ_db *db, const char *sql, situ_db_stmt **out, situ_err *err);
/* Runs SQL that returns no rows (several statements allowed). */
int situ_db_exec(situ_db *db, const char *sql, situ_err *err);
/* Rows changed by the last INSERT, UPDATE or DELETE run on db. */
long long situ_db_changes(situ_db *db);
/* The engine's message for the last failure on db. */
const char *situ_db_errmsg(situ_db *db);
/* situ's code for the last call on db (prepare, step, exec): 0 when it
 * succeeded, else as situ_db_step answers; SITU_ECONFLICT also covers a
 * value of the wrong type or too big (SQLite's MISMATCH and TOOBIG,
 * PostgreSQL's data exceptions, SQLSTATE class 22). */
int situ_db_errcode(situ_db *db);
/* PostgreSQL, from another thread: breaks the connection (shutdown of its
 * socket) when one call on it has waited on the server for more than
 * seconds, as for a server stopped but not dead, whose kernel still
 * acknowledges (TCP sees nothing wrong); the call then fails with
 * SITU_EIO. 1 when it broke it. SQLite: 0, nothing done. The caller keeps
 * db from being freed meanwhile. */
int situ_db_break_if_stalled(situ_db *db, double seconds);

/* Binds parameter k (1-based). Text and blobs are borrowed: they must stay
 * valid until the statement is stepped to its end, reset or finalized.
 * n < 0 for text means up to its NUL. */
void situ_db_bind_null(situ_db_stmt *st, int k);
void situ_db_bind_int64(situ_db_stmt *st, int k, long long v);
void situ_db_bind_double(situ_db_stmt *st, int k, double v);
void situ_db_bind_text(situ_db_stmt *st, int k, const char *s, int n);
void situ_db_bind_blob(situ_db_stmt *st, int k, const void *p, int n);

/* Runs the statement or moves to its next row: SITU_DB_ROW, SITU_DB_DONE or
 * a negative SITU_E... code. */
int situ_db_step(situ_db_stmt *st);

/* Column i (0-based) of the current row. Text and blobs stay valid until the
 * next step, reset or finalize; text is NULL for SQL NULL. */
situ_db_type situ_db_column_type(situ_db_stmt *st, int i);
long long situ_db_column_int64(situ_db_stmt *st, int i);
double situ_db_column_double(situ_db_stmt *st, int i);
const char *situ_db_column_text(situ_db_stmt *st, int i);
const void *situ_db_column_blob(situ_db_stmt *st, int i);
int situ_db_column_bytes(situ_db_stmt *st, int i);

/* Makes the statement ready to run again; bindings are kept. */
void situ_db_reset(situ_db_stmt *st);
void situ_db_clear_bindings(situ_db_stmt *st);
/* Frees the statement; NULL is a no-op. */
void situ_db_finalize(situ_db_stmt *st);
/* The connection the statement was prepared on. */
situ_db *situ_db_of(situ_db_stmt *st);

#endif

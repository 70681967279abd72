/*
 * situ/store.h: situ's system of record, a SpatiaLite file (the default) or
 * a PostgreSQL 15 + PostGIS 3 database (a libpq URL).
 *
 * Owns opening it (SpatiaLite: WAL, foreign keys; PostgreSQL: PostGIS
 * checked), the schema and its forward migrations (SQLite: PRAGMA
 * user_version; PostgreSQL: table meta), transactions, and writing one
 * feature of any collection. It does not read source formats (load.h) or
 * build in-memory snapshots (snapshot.h).
 */
#ifndef SITU_STORE_H
#define SITU_STORE_H

#include <stddef.h>

#include "situ/err.h"
#include "situ/schema.h"

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef struct situ_store situ_store;
typedef struct situ_db situ_db;
typedef struct situ_db_stmt situ_db_stmt;

#define SITU_SCHEMA_VERSION 5

enum {
    SITU_STORE_READONLY = 1 << 0, /* open for reading; no schema changes */
    SITU_STORE_CREATE = 1 << 1,   /* create the file and schema if missing */
    SITU_STORE_FORCE = 1 << 2,    /* PostgreSQL: create the schema beside other tables */
};

/* A typed value of one field; type 0 is NULL. Strings are borrowed. */
typedef struct situ_value {
    situ_ftype type;
    union {
        long long i;
        double d;
        const char *s;
    } u;
} situ_value;

/* One item held by a resource (child table resource_items). */
typedef struct situ_item_qty {
    const char *item; /* a code of the item vocabulary */
    double quantity;
    const char *unit; /* NULL: the vocabulary's unit */
} situ_item_qty;

/* One feature to write. Everything is borrowed for the call. */
typedef struct situ_feature_in {
    const char *id;
    const char *township_code; /* NULL or "" when outside every township */
    const unsigned char *wkb;  /* geometry in EPSG:4326, lon/lat order */
    size_t nwkb;
    const situ_value *values;   /* collection->nfields values, in table order */
    const char *extra_json;     /* NULL or a JSON object of unnamed fields */
    const situ_item_qty *items; /* resources only; replaces the stored list */
    int nitems;
    const char *updated_at; /* NULL: now */
} situ_feature_in;

/* Opens (and with SITU_STORE_CREATE creates and migrates) the store at path:
 * a SpatiaLite file, or PostgreSQL when path is a libpq connection string
 * (postgresql://..., postgres://..., or key=value; several hosts allowed).
 * Refused: a schema newer than this build, a PostgreSQL without PostGIS 3,
 * and (to create, without SITU_STORE_FORCE) a PostgreSQL database holding
 * other tables; a refusal changes nothing. Messages never show a password.
 * On success *out_store owns the connection; close it with situ_store_close. */
int situ_store_open(const char *path, unsigned flags, situ_store **out_store, situ_err *err);
/* Closes the store; NULL is a no-op. */
void situ_store_close(situ_store *s);
/* The SQLite connection, for what only SQLite does (backup, PRAGMAs); NULL
 * on PostgreSQL. Query through situ_store_sql. */
sqlite3 *situ_store_db(situ_store *s);
/* The store's connection through situ_db (db.h): how libsitu modules query
 * it, on SpatiaLite and PostgreSQL alike. */
situ_db *situ_store_sql(situ_store *s);
/* The schema version of the open file. */
int situ_store_version(situ_store *s);

int situ_store_begin(situ_store *s, situ_err *err);
int situ_store_commit(situ_store *s, situ_err *err);
/* Rolls back the open transaction, if any; never fails. */
void situ_store_rollback(situ_store *s);

/* Inserts or updates (by id) one feature of collection c. *out_inserted, if
 * given, is 1 for a new id, 0 for an update. */
int situ_store_upsert(situ_store *s, const situ_collection *c, const situ_feature_in *f,
                      int *out_inserted, situ_err *err);

/* Features a bulk writer hands to situ_store_upsert_many at a time. */
enum { SITU_STORE_BATCH_ROWS = 500 };

/* Upserts f[0..n) of collection c, as many situ_store_upsert calls would
 * (ids must be distinct); *out_inserted, if given, gets how many were new.
 * On PostgreSQL up to SITU_STORE_BATCH_ROWS rows go in one INSERT ... VALUES
 * (...), (...) statement (one round trip, not two per feature); a statement
 * that fails is replayed row by row so that the error names the feature.
 * Inside an open transaction a failure may leave some rows written: roll it
 * back. Outside one the call is its own transaction and a failure changes
 * nothing. */
int situ_store_upsert_many(situ_store *s, const situ_collection *c, const situ_feature_in *f, int n,
                           long long *out_inserted, situ_err *err);

/* A bulk write of collection c inside the open transaction (a load): when c
 * holds no rows (SpatiaLite), its per-row spatial index, time stamp and
 * geometry constraint triggers and its secondary indexes are set aside until
 * situ_store_bulk_end, which writes the spatial index as a packed R-tree of
 * every row's box (the bounds the triggers would have stored; its nodes are
 * packed, not those of a row by row build), checks every row's geometry as
 * the constraint trigger would have (an error naming the first refused: roll
 * back) and creates the indexes and triggers again as they were. A rollback
 * restores them too; a commit in between is refused. Upserts between the two
 * insert without a conflict test; an id written twice is updated as outside
 * a bulk write, but the spatial index may keep its first box: ids must be
 * distinct. The items of a new resource reach resource_items at the next
 * step or end (all rows of resource_items in the order written, as row by
 * row). A no-op on PostgreSQL and when c has rows. */
int situ_store_bulk_begin(situ_store *s, const situ_collection *c, situ_err *err);
/* Writes the items of the resources written since situ_store_bulk_begin or
 * the last step (an error names the first refused) and gathers the boxes of
 * the rows of c written since, as situ_store_bulk_end would: a writer calls
 * it after each batch, so that work is done while the next batch is read;
 * the index is the same. A no-op outside a bulk write. */
int situ_store_bulk_step(situ_store *s, const situ_collection *c, situ_err *err);
int situ_store_bulk_end(situ_store *s, const situ_collection *c, situ_err *err);

/* Number of features in collection c. */
int situ_store_count(situ_store *s, const situ_collection *c, long long *out_n, situ_err *err);

/* Binds value v (NULL or untyped: SQL NULL) to parameter k of st; text is
 * bound without a copy, so it must outlive the statement's next step. */
void situ_store_bind_value(situ_db_stmt *st, int k, const situ_value *v);

/* Runs one SQL statement that returns no rows (for migrations and tools). */
int situ_store_exec(situ_store *s, const char *sql, situ_err *err);

/* Checks the store's structure. SpatiaLite: PRAGMA integrity_check (every
 * page, every index against its table) when thorough, else quick_check.
 * PostgreSQL: the schema version, PostGIS 3, no invalid index
 * (pg_index.indisvalid), every collection's table. 0, or SITU_EFORMAT with
 * the first problem found. */
int situ_store_check(situ_store *s, int thorough, situ_err *err);

/* What situ_store_backup copied. */
typedef struct situ_backup_stats {
    long long pages;
    long long bytes;
    double seconds;
} situ_backup_stats;

/* Copies the situ file src, live (other processes may be writing it: the
 * copy is the state of one committed moment), to dst with SQLite's online
 * backup. The copy is a self-contained file (rollback journal, no -wal),
 * checked with PRAGMA quick_check, written under a temporary name beside dst
 * and renamed over it only when complete and synced. stats may be NULL. */
int situ_store_backup(const char *src, const char *dst, situ_backup_stats *stats, situ_err *err);

/* What situ_store_migrate copied: rows per table, in copy order. */
enum { SITU_MIGRATE_MAX_TABLES = 32 };
typedef struct situ_migrate_stats {
    int ntables;
    struct {
        char name[64];
        long long rows;
    } table[SITU_MIGRATE_MAX_TABLES];
} situ_migrate_stats;

/* Copies the whole store src into dst, either engine to either: the items
 * and departments vocabularies, every collection, resource_items,
 * event_log, tokens and road_closures, keys included (PostgreSQL's identity
 * sequences are moved past them). src is read in one consistent snapshot,
 * dst written in one transaction; each table's rows are counted on both
 * sides before the commit. A dst holding rows (its vocabularies aside) is
 * refused with SITU_ECONFLICT unless force, which replaces its content.
 * On failure dst is unchanged. st may be NULL. */
int situ_store_migrate(situ_store *src, situ_store *dst, int force, situ_migrate_stats *st,
                       situ_err *err);

/* Makes the folder that holds path, one level (an existing one is fine), as
 * `situ init` and the retention archive need. */
void situ_store_make_parent(const char *path);

/* ---- road closures (table road_closures; the feeds write it) -------------- */

/* One closure as stored. */
typedef struct situ_closure {
    char id[256];       /* "dept:closure" */
    char dept[32];      /* a department code */
    char *reason;       /* malloc'd */
    char until[32];     /* RFC 3339 UTC; "" when it lasts until a closure_end */
    unsigned char *wkb; /* malloc'd: the area (MultiPolygon) or, with radius_m, its centre */
    size_t nwkb;
    double radius_m; /* > 0: a circle around the Point wkb */
    double lon, lat; /* the centre of a circle */
    double bbox[4];  /* of the geometry (the centre's for a circle) */
    char created_at[32], updated_at[32];
} situ_closure;

typedef struct situ_closure_list {
    situ_closure *v;
    size_t n;
    char next_until[32]; /* the earliest until among them ("" when none has one) */
} situ_closure_list;

/* The closures active at now (RFC 3339 UTC; NULL: the clock): not ended
 * and until after now, by id. Fills *out (the caller disposes it with
 * situ_closure_list_dispose) on success. */
int situ_store_closures_active(situ_store *s, const char *now, situ_closure_list *out,
                               situ_err *err);
void situ_closure_list_dispose(situ_closure_list *l);

/* Writes now as RFC 3339 UTC ("2026-11-29T18:00:00Z") into buf[21]: the
 * system clock's, or the clock given to situ_store_now_from. */
void situ_store_now(char buf[32]);
/* Seconds since the epoch, for situ_store_now. */
typedef long long (*situ_store_clock)(void);
/* Makes clock (NULL: the system clock again) what situ_store_now reads in
 * this process: a drill's process judges alerts, closures, retention and
 * summaries at the drill's scenario time. clock must not take a lock held
 * by a caller of situ_store_now. */
void situ_store_now_from(situ_store_clock clock);
/* Writes epoch (seconds) as situ_store_now does: a drill's scenario time. */
void situ_store_time(long long epoch, char buf[32]);
/* The calendar day of now (as situ_store_now writes it) in the process's
 * time zone (TZ; situd sets its [web] timezone) as "YYYY-MM-DD" into
 * day[11]: the day a hidden danger's deadline is judged at, the same day
 * the wall's page judges it at. A deadline is a local date: in Yongzhou
 * 2026-12-07 has passed at 2026-12-07T16:00:00Z. */
void situ_store_day(const char *now, char day[11]);
/* The zone days are judged in unless told otherwise: situd's default [web]
 * timezone, and situ's when TZ is not set. */
#define SITU_DEFAULT_TIMEZONE "Asia/Shanghai"
/* Today in the process's time zone as YYYYMMDD (the tiles' overdue day). */
int situ_store_today_ymd(void);
/* Makes zone (a tz database name; NULL or "": $TZ when set, else
 * SITU_DEFAULT_TIMEZONE) the process's time zone, the one days are judged
 * in (setenv TZ, tzset). Call before any thread starts. 0, or -1 when zone
 * names no file under $TZDIR (else /usr/share/zoneinfo, package tzdata):
 * the C library then judges on UTC. */
int situ_store_days_in(const char *zone);

#endif

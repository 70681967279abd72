/*
 * store_sqlite.c: the SpatiaLite file, the store's default engine. Owns what
 * only SQLite does: opening the file (SpatiaLite initialised on the
 * connection, WAL, synchronous=FULL, foreign keys), the schema's forward
 * migrations by PRAGMA user_version, and integrity_check. store.c does the
 * rest through situ_db.
 *
 * Migrations run in one transaction when a writable file is opened:
 * user_version 0 (new file) -> 1 (the first seven collections, items,
 * departments) -> 2 (the feeds' append-only event_log and the department
 * tokens) -> 3 (indexes for retention and per-department stations: retain.c,
 * feed_apply.c) -> 4 (the roads collection, issue 15) -> 5 (road_closures,
 * the closures the feeds lay on the road network: feed_apply.c writes them,
 * store_closures.c reads them). The fixed tables' DDL is store_tables.c's,
 * shared with store_pg.c.
 */
#include "store_private.h"

#include <sqlite3.h>

#include <pthread.h>
#include <spatialite.h> /* after sqlite3.h, which it needs */
#include <stdio.h>
#include <string.h>

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* Turns SQLite's memory statistics off, before SQLite initialises: situ
 * reads none of them (no sqlite3_memory_used, sqlite3_status nor soft heap
 * limit), and keeping them takes a process-wide mutex around every malloc
 * and free of SQLite's, of which a load's writer makes several per row. A
 * no-op when something initialised SQLite first (PROJ opening proj.db). */
static void config_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int db_error(situ_store *s, situ_err *err, const char *what)
{
    return situ_err_set(err, SITU_EDB, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Runs a SpatiaLite function that answers 1 on success and 0 on failure. */
static int spatial_call(situ_store *s, const char *sql, situ_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return db_error(s, err, sql);
    int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    return ok ? 0 : situ_err_set(err, SITU_EDB, "SpatiaLite refused: %s", sql);
}

/* Creates the fixed tables schema version version brought (store_tables.c)
 * and their geometry column. */
static int create_fixed(situ_store *s, int version, situ_err *err)
{
    situ_buf sql;
    situ_buf_init(&sql);
    const situ__fixed_geom *g = situ__store_fixed_sql(version, SITU_DB_SQLITE, &sql);
    int rc =
        sql.oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : situ_store_exec(s, sql.p, err);
    situ_buf_dispose(&sql);
    if (rc || !g)
        return rc;
    char call[256];
    snprintf(call, sizeof call, "SELECT AddGeometryColumn('%s', 'geom', 4326, '%s', 'XY', 1)",
             g->table, g->type);
    return spatial_call(s, call, err);
}

/* Creates one collection's table, geometry column, spatial and township indexes. */
static int create_collection(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[4096];
    int n = snprintf(sql, sizeof sql,
                     "CREATE TABLE \"%s\" (fid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
                     "township_code TEXT",
                     c->id);
    for (int i = 0; i < c->nfields; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", \"%s\" %s", c->fields[i].name,
                      situ__store_type(SITU_DB_SQLITE, c->fields[i].type));
    snprintf(sql + n, sizeof sql - (size_t)n, ", extra TEXT, updated_at TEXT NOT NULL)");
    if (situ_store_exec(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "SELECT AddGeometryColumn('%s', 'geom', 4326, '%s', 'XY', 1)", c->id,
             situ__store_geometry_type(c));
    if (spatial_call(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "SELECT CreateSpatialIndex('%s', 'geom')", c->id);
    if (spatial_call(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "CREATE INDEX \"%s_township\" ON \"%s\"(township_code)", c->id,
             c->id);
    return situ_store_exec(s, sql, err);
}

/* Version 0 -> 1: spatial metadata, the collections of version 1 (those
 * before roads; later ones come with their own migration) and their side
 * tables. */
static int migrate_to_1(situ_store *s, situ_err *err)
{
    if (spatial_call(s, "SELECT InitSpatialMetadata(0)", err))
        return SITU_EDB;
    for (int i = 0; i < SITU_C_ROADS; i++)
        if (create_collection(s, situ_schema_collection((situ_coll_id)i), err))
            return SITU_EDB;
    if (create_fixed(s, 1, err))
        return SITU_EDB;
    return situ__store_seed(s, err);
}

/* Version 1 -> 2: the feeds' event_log and tokens. */
static int migrate_to_2(situ_store *s, situ_err *err)
{
    return create_fixed(s, 2, err);
}

/* Version 2 -> 3: indexes for per-department stations and retention. */
static int migrate_to_3(situ_store *s, situ_err *err)
{
    return create_fixed(s, 3, err);
}

/* Version 3 -> 4: the roads collection (MULTILINESTRING), new files and
 * files of an older build alike. */
static int migrate_to_4(situ_store *s, situ_err *err)
{
    return create_collection(s, situ_schema_collection(SITU_C_ROADS), err);
}

/* Version 4 -> 5: road closures, with their geometry. */
static int migrate_to_5(situ_store *s, situ_err *err)
{
    return create_fixed(s, 5, err);
}

typedef int (*migration_fn)(situ_store *, situ_err *);
static const migration_fn migrations[SITU_SCHEMA_VERSION] = {
    migrate_to_1, migrate_to_2, migrate_to_3, migrate_to_4, migrate_to_5};

int situ__store_version_sqlite(situ_store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

static int migrate(situ_store *s, situ_err *err)
{
    int v = situ__store_version_sqlite(s);
    if (v > SITU_SCHEMA_VERSION)
        return situ_err_set(err, SITU_EFORMAT,
                            "file schema version %d is newer than this build (%d)", v,
                            SITU_SCHEMA_VERSION);
    if (v == SITU_SCHEMA_VERSION)
        return 0;
    if (situ_store_exec(s, "BEGIN IMMEDIATE", err))
        return SITU_EDB;
    for (; v < SITU_SCHEMA_VERSION; v++) {
        if (migrations[v](s, err))
            goto fail;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (situ_store_exec(s, sql, err))
            goto fail;
    }
    return situ_store_exec(s, "COMMIT", err);
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return err ? err->code : SITU_EDB;
}

int situ__store_open_sqlite(situ_store *s, const char *path, unsigned flags, situ_err *err)
{
    int oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!s->readonly && (flags & SITU_STORE_CREATE))
        oflags |= SQLITE_OPEN_CREATE;
    oflags |= SQLITE_OPEN_NOMUTEX;
    pthread_once(&config_once, config_sqlite);
    if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK)
        return situ_err_set(err, SITU_EIO, "cannot open %s: %s", path,
                            s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_busy_timeout(s->db, 10000);
    if (situ_db_wrap_sqlite(s->db, &s->sql, err))
        return SITU_ENOMEM;
    s->spatialite_cache = spatialite_alloc_connection();
    spatialite_init_ex(s->db, s->spatialite_cache, 0);
    if (!s->readonly &&
        situ_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err))
        return SITU_EDB;
    if (situ_store_exec(s, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY", err))
        return SITU_EDB;
    if (!s->readonly && migrate(s, err))
        return err ? err->code : SITU_EDB;
    int v = situ__store_version_sqlite(s);
    if (v != SITU_SCHEMA_VERSION)
        return situ_err_set(err, SITU_EFORMAT, "%s is not a situ database (schema version %d)",
                            path, v);
    return 0;
}

int situ__store_check_sqlite(situ_store *s, int thorough, situ_err *err)
{
    sqlite3_stmt *st;
    const char *sql = thorough ? "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return situ_err_set(err, SITU_EDB, "%s: %s", sql, sqlite3_errmsg(s->db));
    int rc = sqlite3_step(st);
    const char *row = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (!row)
        rc = situ_err_set(err, SITU_EDB, "%s: %s", sql, sqlite3_errmsg(s->db));
    else if (strcmp(row, "ok") != 0)
        rc = situ_err_set(err, SITU_EFORMAT, "the file is damaged: %s", row);
    else
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

void situ__store_close_sqlite(situ_store *s)
{
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->spatialite_cache)
        spatialite_cleanup_ex(s->spatialite_cache);
}

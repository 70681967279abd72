/*
 * store.c: the SpatiaLite file. Owns the connection and its settings, the
 * schema (generated from the collection table in schema.c) and its forward
 * migrations, transactions and the one write path for features
 * (situ_store_upsert). Reading features into memory is snapshot.c's job.
 *
 * Migrations run in one transaction when a writable file is opened:
 * user_version 0 (new file) -> 1 (the first seven collections, items,
 * departments) -> 2 (the feeds' append-only event_log and the department
 * tokens) -> 3 (indexes for retention and per-department stations: retain.c,
 * feed_apply.c) -> 4 (the roads collection, issue 15) -> 5 (road_closures,
 * the closures the feeds lay on the road network: feed_apply.c writes them,
 * store_closures.c reads them).
 */
#include "situ/store.h"

#include "situ/db.h"

#include <sqlite3.h>
#include <spatialite.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct situ_store {
    sqlite3 *db;
    situ_db *sql; /* the same connection through situ_db (db.h) */
    void *spatialite_cache;
    int readonly;
    int in_tx;
    sqlite3_stmt *upsert[SITU_NCOLLECTIONS];
    sqlite3_stmt *exists[SITU_NCOLLECTIONS];
    sqlite3_stmt *items_clear;
    sqlite3_stmt *items_insert;
};

static int db_error(situ_store *s, situ_err *err, const char *what)
{
    return situ_err_set(err, SITU_EDB, "%s: %s", what, sqlite3_errmsg(s->db));
}

int situ_store_exec(situ_store *s, const char *sql, situ_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        situ_err_set(err, SITU_EDB, "%s (in: %.120s)", msg ? msg : "sqlite error", sql);
        sqlite3_free(msg);
        return SITU_EDB;
    }
    return 0;
}

static const char *sql_type(situ_ftype t)
{
    switch (t) {
    case SITU_FT_INT:
    case SITU_FT_BOOL:
        return "INTEGER";
    case SITU_FT_REAL:
        return "REAL";
    default:
        return "TEXT";
    }
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

/* The SpatiaLite geometry type of collection c's geom column. */
static const char *geometry_type(const situ_collection *c)
{
    switch (c->gtype) {
    case SITU_GT_POINT:
        return "POINT";
    case SITU_GT_MULTILINESTRING:
        return "MULTILINESTRING";
    default:
        return "MULTIPOLYGON";
    }
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
                      sql_type(c->fields[i].type));
    snprintf(sql + n, sizeof sql - (size_t)n, ", extra TEXT, updated_at TEXT NOT NULL)");
    if (situ_store_exec(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "SELECT AddGeometryColumn('%s', 'geom', 4326, '%s', 'XY', 1)", c->id,
             geometry_type(c));
    if (spatial_call(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "SELECT CreateSpatialIndex('%s', 'geom')", c->id);
    if (spatial_call(s, sql, err))
        return SITU_EDB;
    snprintf(sql, sizeof sql, "CREATE INDEX \"%s_township\" ON \"%s\"(township_code)", c->id,
             c->id);
    return situ_store_exec(s, sql, err);
}

static int seed_vocabularies(situ_store *s, situ_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO items VALUES (?,?,?,?)", -1, &st, NULL))
        return db_error(s, err, "prepare items");
    for (int i = 0; i < situ_schema_nitems() && !rc; i++) {
        const situ_item *it = situ_schema_item(i);
        sqlite3_bind_text(st, 1, it->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, it->name_zh, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, it->name_en, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, it->unit, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_error(s, err, "seed items");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO departments VALUES (?,?,?,?)", -1, &st, NULL))
        return db_error(s, err, "prepare departments");
    for (int i = 0; i < situ_schema_ndepts() && !rc; i++) {
        const situ_dept *d = situ_schema_dept(i);
        sqlite3_bind_text(st, 1, d->code, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, d->name_zh, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d->name_en, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, d->interval_s);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_error(s, err, "seed departments");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
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
    static const char side_tables[] =
        "CREATE TABLE items (code TEXT PRIMARY KEY, name_zh TEXT NOT NULL, "
        "  name_en TEXT NOT NULL, unit TEXT NOT NULL);"
        "CREATE TABLE departments (code TEXT PRIMARY KEY, name_zh TEXT NOT NULL, "
        "  name_en TEXT NOT NULL, interval_s INTEGER NOT NULL);"
        "CREATE TABLE resource_items ("
        "  resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE "
        "    ON UPDATE CASCADE,"
        "  item TEXT NOT NULL REFERENCES items(code),"
        "  quantity REAL NOT NULL CHECK (quantity >= 0),"
        "  unit TEXT NOT NULL, updated_at TEXT NOT NULL,"
        "  PRIMARY KEY (resource_id, item));"
        "CREATE INDEX resource_items_item ON resource_items(item, quantity);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);";
    if (situ_store_exec(s, side_tables, err))
        return SITU_EDB;
    return seed_vocabularies(s, err);
}

/* Version 1 -> 2: the feeds (layers/feeds/feed*.c, token.c). event_log keeps every
 * accepted event, in commit order (seq), with what it changed; (dept,
 * event_id) makes a resent event a duplicate. tokens holds only hashes. */
static int migrate_to_2(situ_store *s, situ_err *err)
{
    static const char sql[] = "CREATE TABLE event_log ("
                              "  seq INTEGER PRIMARY KEY,"
                              "  dept TEXT NOT NULL REFERENCES departments(code),"
                              "  event_id TEXT NOT NULL,"
                              "  type TEXT NOT NULL,"
                              "  received_at TEXT NOT NULL,"
                              "  body TEXT NOT NULL,"
                              "  changes TEXT,"
                              "  UNIQUE (dept, event_id));"
                              "CREATE INDEX event_log_dept_time ON event_log(dept, received_at);"
                              "CREATE TABLE tokens ("
                              "  id INTEGER PRIMARY KEY,"
                              "  dept TEXT NOT NULL REFERENCES departments(code),"
                              "  hash TEXT NOT NULL UNIQUE,"
                              "  label TEXT,"
                              "  created_at TEXT NOT NULL,"
                              "  revoked_at TEXT);";
    return situ_store_exec(s, sql, err);
}

/* Version 2 -> 3: a station is its department's (feed_apply.c finds dept D's
 * station S as "D:S", or as a loaded S whose dept is D; the stations of
 * existing files already carry their dept), so stations are indexed by
 * dept for that lookup and the per-department quota; retention (retain.c)
 * finds expired alerts and old log rows by index. */
static int migrate_to_3(situ_store *s, situ_err *err)
{
    static const char sql[] = "CREATE INDEX stations_dept ON stations(dept, id);"
                              "CREATE INDEX alerts_expires ON alerts(expires);"
                              "CREATE INDEX event_log_received ON event_log(received_at);";
    return situ_store_exec(s, sql, err);
}

/* Version 3 -> 4: the roads collection (MULTILINESTRING), new files and
 * files of an older build alike. */
static int migrate_to_4(situ_store *s, situ_err *err)
{
    return create_collection(s, situ_schema_collection(SITU_C_ROADS), err);
}

/* Version 4 -> 5: road closures (a department's `closure` feed events).
 * id is "dept:closure"; geom the area as sent (a MultiPolygon) or the
 * centre of a circle of radius_m; until NULL: until a closure_end; ended_at
 * set by closure_end. A closure is active at t when ended_at IS NULL and
 * (until IS NULL OR until > t). fid is the key retention walks (retain.c). */
static int migrate_to_5(situ_store *s, situ_err *err)
{
    static const char sql[] = "CREATE TABLE road_closures ("
                              "  fid INTEGER PRIMARY KEY,"
                              "  id TEXT NOT NULL UNIQUE,"
                              "  dept TEXT NOT NULL REFERENCES departments(code),"
                              "  reason TEXT NOT NULL,"
                              "  until TEXT,"
                              "  radius_m REAL CHECK (radius_m IS NULL OR radius_m > 0),"
                              "  created_at TEXT NOT NULL,"
                              "  updated_at TEXT NOT NULL,"
                              "  ended_at TEXT);"
                              "CREATE INDEX road_closures_open ON road_closures(ended_at, until);";
    if (situ_store_exec(s, sql, err))
        return SITU_EDB;
    return spatial_call(s,
                        "SELECT AddGeometryColumn('road_closures', 'geom', 4326, 'GEOMETRY', "
                        "'XY', 1)",
                        err);
}

typedef int (*migration_fn)(situ_store *, situ_err *);
static const migration_fn migrations[SITU_SCHEMA_VERSION] = {
    migrate_to_1, migrate_to_2, migrate_to_3, migrate_to_4, migrate_to_5};

int situ_store_version(situ_store *s)
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
    int v = situ_store_version(s);
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

int situ_store_open(const char *path, unsigned flags, situ_store **out_store, situ_err *err)
{
    situ_store *s = calloc(1, sizeof *s);
    if (!s)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    s->readonly = (flags & SITU_STORE_READONLY) != 0;
    int oflags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (!s->readonly && (flags & SITU_STORE_CREATE))
        oflags |= SQLITE_OPEN_CREATE;
    oflags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, oflags, NULL) != SQLITE_OK) {
        situ_err_set(err, SITU_EIO, "cannot open %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (situ_db_wrap_sqlite(s->db, &s->sql, err))
        goto fail;
    s->spatialite_cache = spatialite_alloc_connection();
    spatialite_init_ex(s->db, s->spatialite_cache, 0);
    if (!s->readonly &&
        situ_store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err))
        goto fail;
    if (situ_store_exec(s, "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY", err))
        goto fail;
    if (!s->readonly && migrate(s, err))
        goto fail;
    if (situ_store_version(s) != SITU_SCHEMA_VERSION) {
        situ_err_set(err, SITU_EFORMAT, "%s is not a situ database (schema version %d)", path,
                     situ_store_version(s));
        goto fail;
    }
    *out_store = s;
    return 0;
fail:
    situ_store_close(s);
    return err ? err->code : SITU_EIO;
}

int situ_store_check(situ_store *s, int thorough, situ_err *err)
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

void situ_store_close(situ_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        sqlite3_finalize(s->upsert[i]);
        sqlite3_finalize(s->exists[i]);
    }
    sqlite3_finalize(s->items_clear);
    sqlite3_finalize(s->items_insert);
    situ_db_free(s->sql);
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->spatialite_cache)
        spatialite_cleanup_ex(s->spatialite_cache);
    free(s);
}

sqlite3 *situ_store_db(situ_store *s)
{
    return s->db;
}

situ_db *situ_store_sql(situ_store *s)
{
    return s->sql;
}

int situ_store_begin(situ_store *s, situ_err *err)
{
    if (situ_store_exec(s, "BEGIN IMMEDIATE", err))
        return SITU_EDB;
    s->in_tx = 1;
    return 0;
}

int situ_store_commit(situ_store *s, situ_err *err)
{
    if (situ_store_exec(s, "COMMIT", err))
        return SITU_EDB;
    s->in_tx = 0;
    return 0;
}

void situ_store_rollback(situ_store *s)
{
    if (s->in_tx || !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
}

void situ_store_make_parent(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}

void situ_store_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Builds the INSERT ... ON CONFLICT(id) DO UPDATE statement of collection c. */
static int prepare_upsert(situ_store *s, const situ_collection *c, situ_err *err)
{
    char cols[2048], vals[1024], sets[4096];
    int nc = snprintf(cols, sizeof cols, "id, township_code");
    int nv = snprintf(vals, sizeof vals, "?1, ?2");
    int ns = snprintf(sets, sizeof sets, "township_code = excluded.township_code");
    for (int i = 0; i < c->nfields; i++) {
        const char *f = c->fields[i].name;
        nc += snprintf(cols + nc, sizeof cols - (size_t)nc, ", \"%s\"", f);
        nv += snprintf(vals + nv, sizeof vals - (size_t)nv, ", ?%d", i + 3);
        ns += snprintf(sets + ns, sizeof sets - (size_t)ns, ", \"%s\" = excluded.\"%s\"", f, f);
    }
    int k = c->nfields + 3;
    /* a Polygon becomes a one-part MultiPolygon, a LineString a one-part
     * MultiLineString; a wrong kind casts to NULL and the NOT NULL column
     * refuses it */
    const char *geom = c->gtype == SITU_GT_POINT ? "GeomFromWKB(?%d, 4326)"
                       : c->gtype == SITU_GT_MULTILINESTRING
                           ? "CastToMultiLinestring(GeomFromWKB(?%d, 4326))"
                           : "CastToMultiPolygon(GeomFromWKB(?%d, 4326))";
    char geom_sql[64];
    snprintf(geom_sql, sizeof geom_sql, geom, k + 2);
    char sql[8192];
    snprintf(sql, sizeof sql,
             "INSERT INTO \"%s\" (%s, extra, updated_at, geom) VALUES (%s, ?%d, ?%d, %s) "
             "ON CONFLICT(id) DO UPDATE SET %s, extra = excluded.extra, "
             "updated_at = excluded.updated_at, geom = excluded.geom",
             c->id, cols, vals, k, k + 1, geom_sql, sets);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->upsert[c->cid], NULL))
        return db_error(s, err, "prepare upsert");
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE id = ?", c->id);
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->exists[c->cid], NULL))
        return db_error(s, err, "prepare exists");
    return 0;
}

void situ_store_bind_value(situ_db_stmt *st, int k, const situ_value *v)
{
    switch (v ? v->type : 0) {
    case SITU_FT_TEXT:
        if (v->u.s)
            situ_db_bind_text(st, k, v->u.s, -1);
        else
            situ_db_bind_null(st, k);
        break;
    case SITU_FT_INT:
    case SITU_FT_BOOL:
        situ_db_bind_int64(st, k, v->u.i);
        break;
    case SITU_FT_REAL:
        situ_db_bind_double(st, k, v->u.d);
        break;
    default:
        situ_db_bind_null(st, k);
    }
}

/* situ_store_bind_value for the store's own upsert, still a raw SQLite
 * statement until the store's statements move to situ_db (#17). */
static void bind_value_sqlite(sqlite3_stmt *st, int k, const situ_value *v)
{
    switch (v ? v->type : 0) {
    case SITU_FT_TEXT:
        if (v->u.s)
            sqlite3_bind_text(st, k, v->u.s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, k);
        break;
    case SITU_FT_INT:
    case SITU_FT_BOOL:
        sqlite3_bind_int64(st, k, v->u.i);
        break;
    case SITU_FT_REAL:
        sqlite3_bind_double(st, k, v->u.d);
        break;
    default:
        sqlite3_bind_null(st, k);
    }
}

static int write_items(situ_store *s, const situ_feature_in *f, const char *now, situ_err *err)
{
    if (!s->items_clear &&
        (sqlite3_prepare_v3(s->db, "DELETE FROM resource_items WHERE resource_id = ?", -1,
                            SQLITE_PREPARE_PERSISTENT, &s->items_clear, NULL) ||
         sqlite3_prepare_v3(s->db,
                            "INSERT INTO resource_items (resource_id, item, quantity, unit, "
                            "updated_at) VALUES (?, ?, ?, COALESCE(?, (SELECT unit FROM items "
                            "WHERE code = ?2)), ?)",
                            -1, SQLITE_PREPARE_PERSISTENT, &s->items_insert, NULL)))
        return db_error(s, err, "prepare resource_items");
    sqlite3_bind_text(s->items_clear, 1, f->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s->items_clear);
    sqlite3_reset(s->items_clear);
    if (rc != SQLITE_DONE)
        return db_error(s, err, "clear resource_items");
    for (int i = 0; i < f->nitems; i++) {
        const situ_item_qty *q = &f->items[i];
        sqlite3_stmt *st = s->items_insert;
        sqlite3_bind_text(st, 1, f->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, q->item, -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 3, q->quantity);
        if (q->unit && *q->unit)
            sqlite3_bind_text(st, 4, q->unit, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return situ_err_set(err, SITU_EINVAL, "resource %s item %s: %s", f->id, q->item,
                                sqlite3_errmsg(s->db));
    }
    return 0;
}

int situ_store_upsert(situ_store *s, const situ_collection *c, const situ_feature_in *f,
                      int *out_inserted, situ_err *err)
{
    if (s->readonly)
        return situ_err_set(err, SITU_EINVAL, "store opened read-only");
    if (!f->id || !*f->id)
        return situ_err_set(err, SITU_EINVAL, "feature without id");
    if (!s->upsert[c->cid] && prepare_upsert(s, c, err))
        return SITU_EDB;
    char now[32];
    if (f->updated_at)
        snprintf(now, sizeof now, "%s", f->updated_at);
    else
        situ_store_now(now);

    sqlite3_stmt *ex = s->exists[c->cid];
    sqlite3_bind_text(ex, 1, f->id, -1, SQLITE_STATIC);
    int existed = sqlite3_step(ex) == SQLITE_ROW;
    sqlite3_reset(ex);

    sqlite3_stmt *st = s->upsert[c->cid];
    sqlite3_bind_text(st, 1, f->id, -1, SQLITE_STATIC);
    if (f->township_code && *f->township_code)
        sqlite3_bind_text(st, 2, f->township_code, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 2);
    for (int i = 0; i < c->nfields; i++)
        bind_value_sqlite(st, i + 3, f->values ? &f->values[i] : NULL);
    int k = c->nfields + 3;
    if (f->extra_json)
        sqlite3_bind_text(st, k, f->extra_json, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, k);
    sqlite3_bind_text(st, k + 1, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, k + 2, f->wkb, (int)f->nwkb, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return situ_err_set(err, SITU_EINVAL, "%s %s: %s", c->id, f->id, sqlite3_errmsg(s->db));
    if (c->cid == SITU_C_RESOURCES && write_items(s, f, now, err))
        return err ? err->code : SITU_EDB;
    if (out_inserted)
        *out_inserted = !existed;
    return 0;
}

int situ_store_count(situ_store *s, const situ_collection *c, long long *out_n, situ_err *err)
{
    char sql[128];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", c->id);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL))
        return db_error(s, err, "count");
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : db_error(s, err, "count");
    if (!rc)
        *out_n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

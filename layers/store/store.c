/*
 * store.c: the store, over either engine: a SpatiaLite file (store_sqlite.c)
 * or PostgreSQL + PostGIS (store_pg.c), chosen by situ_store_open's path (a
 * libpq URL or conninfo is PostgreSQL). What both do alike lives here, in
 * portable SQL through situ_db: transactions, the one write path for
 * features (situ_store_upsert), counts, the vocabularies a new store is
 * seeded with. Reading features into memory is snapshot.c's job.
 */
#include "store_private.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int situ_store_exec(situ_store *s, const char *sql, situ_err *err)
{
    int rc = situ_db_exec(s->sql, sql, err);
    return rc ? (rc == SITU_EIO || rc == SITU_EBUSY ? rc : SITU_EDB) : 0;
}

/* Runs one prepared insert per vocabulary row; bind fills row i. */
static int seed_table(situ_store *s, const char *sql, int n, void (*bind)(situ_db_stmt *, int),
                      situ_err *err)
{
    situ_db_stmt *st = NULL;
    if (situ_db_prepare(s->sql, sql, &st, err))
        return SITU_EDB;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        bind(st, i);
        if (situ_db_step(st) != SITU_DB_DONE)
            rc = situ_err_set(err, SITU_EDB, "seed: %s", situ_db_errmsg(s->sql));
        situ_db_reset(st);
    }
    situ_db_finalize(st);
    return rc;
}

static void bind_item(situ_db_stmt *st, int i)
{
    const situ_item *it = situ_schema_item(i);
    situ_db_bind_text(st, 1, it->code, -1);
    situ_db_bind_text(st, 2, it->name_zh, -1);
    situ_db_bind_text(st, 3, it->name_en, -1);
    situ_db_bind_text(st, 4, it->unit, -1);
}

static void bind_dept(situ_db_stmt *st, int i)
{
    const situ_dept *d = situ_schema_dept(i);
    situ_db_bind_text(st, 1, d->code, -1);
    situ_db_bind_text(st, 2, d->name_zh, -1);
    situ_db_bind_text(st, 3, d->name_en, -1);
    situ_db_bind_int64(st, 4, d->interval_s);
}

int situ__store_seed(situ_store *s, situ_err *err)
{
    if (seed_table(s, "INSERT INTO items VALUES (?, ?, ?, ?)", situ_schema_nitems(), bind_item,
                   err))
        return SITU_EDB;
    return seed_table(s, "INSERT INTO departments VALUES (?, ?, ?, ?)", situ_schema_ndepts(),
                      bind_dept, err);
}

const char *situ__store_geometry_type(const situ_collection *c)
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

static int is_pg(const situ_store *s)
{
    return s->db == NULL;
}

int situ_store_version(situ_store *s)
{
    return is_pg(s) ? situ__store_version_pg(s) : situ__store_version_sqlite(s);
}

int situ_store_open(const char *path, unsigned flags, situ_store **out_store, situ_err *err)
{
    situ_store *s = calloc(1, sizeof *s);
    if (!s)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    s->readonly = (flags & SITU_STORE_READONLY) != 0;
    int rc = situ_db_is_url(path) ? situ__store_open_pg(s, path, flags, err)
                                  : situ__store_open_sqlite(s, path, flags, err);
    if (rc) {
        situ_store_close(s);
        return rc;
    }
    *out_store = s;
    return 0;
}

int situ_store_check(situ_store *s, int thorough, situ_err *err)
{
    return is_pg(s) ? situ__store_check_pg(s, thorough, err)
                    : situ__store_check_sqlite(s, thorough, err);
}

void situ_store_close(situ_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_db_finalize(s->upsert[i]);
        situ_db_finalize(s->insert[i]);
        situ_db_finalize(s->exists[i]);
        situ_db_finalize(s->upsert_batch[i]);
    }
    situ_db_finalize(s->items_clear);
    situ_db_finalize(s->items_insert);
    situ_db_finalize(s->items_insert_many);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        sqlite3_finalize(s->geom_convert[i]);
    situ_buf_dispose(&s->geom);
    situ__store_bulk_forget(s);
    free(s->items_pending.v);
    situ_buf_dispose(&s->items_pending.text);
    situ_db_free(s->sql);
    situ__store_close_sqlite(s);
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
    int rc = situ_store_exec(s, is_pg(s) ? "BEGIN" : "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    s->in_tx = 1;
    return 0;
}

int situ_store_commit(situ_store *s, situ_err *err)
{
    if (situ__store_bulk_open(s))
        return situ_err_set(err, SITU_EINVAL, "commit refused: a bulk write is not ended");
    int rc = situ_store_exec(s, "COMMIT", err);
    if (rc)
        return rc;
    s->in_tx = 0;
    return 0;
}

void situ_store_rollback(situ_store *s)
{
    /* on PostgreSQL a ROLLBACK outside a transaction only warns */
    if (s->in_tx || is_pg(s) || !sqlite3_get_autocommit(s->db))
        situ_db_exec(s->sql, "ROLLBACK", NULL);
    s->in_tx = 0;
    situ__store_bulk_forget(s);
}

void situ_store_make_parent(const char *path)
{
    if (situ_db_is_url(path))
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
}

static _Atomic(situ_store_clock) store_clock;

void situ_store_now_from(situ_store_clock clock)
{
    atomic_store(&store_clock, clock);
}

void situ_store_now(char buf[32])
{
    situ_store_clock clock = atomic_load(&store_clock);
    situ_store_time(clock ? clock() : (long long)time(NULL), buf);
}

void situ_store_time(long long epoch, char buf[32])
{
    time_t t = (time_t)epoch;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void situ_store_day(const char *now, char day[11])
{
    struct tm tm = {0};
    time_t t;
    if (sscanf(now, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6) { /* not a time: its date part as it is */
        snprintf(day, 11, "%.10s", now);
        return;
    }
    tm.tm_year -= 1900, tm.tm_mon -= 1;
    t = timegm(&tm);
    if (!localtime_r(&t, &tm) || !strftime(day, 11, "%Y-%m-%d", &tm))
        snprintf(day, 11, "%.10s", now);
}

int situ_store_today_ymd(void)
{
    time_t now = time(NULL);
    struct tm tm;
    return localtime_r(&now, &tm) ? (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday
                                  : 0;
}

int situ_store_days_in(const char *zone)
{
    const char *env = getenv("TZ");
    if (!zone || !*zone)
        zone = env && *env ? env : SITU_DEFAULT_TIMEZONE;
    if (!env || strcmp(env, zone))
        setenv("TZ", zone, 1);
    tzset();
    const char *dir = getenv("TZDIR");
    char file[512];
    snprintf(file, sizeof file, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo",
             zone + (*zone == ':'));
    return access(file, R_OK) ? -1 : 0;
}

enum { SQL_INSERT, SQL_UPSERT, SQL_UPSERT_RETURNING };

/* The upsert of collection c for nrows rows: INSERT ... VALUES (...), ...
 * ON CONFLICT(id) DO UPDATE, row r's parameters numbered from r * (nfields
 * + 5) + 1; with SQL_UPSERT_RETURNING, one row per feature: 1 when it was
 * new (a row PostgreSQL inserted has xmax 0); SQL_INSERT: the plain INSERT,
 * without the conflict clause. Malloc'd; NULL when out of memory. */
static char *upsert_sql(situ_store *s, const situ_collection *c, int nrows, int kind)
{
    char cols[2048], sets[4096];
    int nc = snprintf(cols, sizeof cols, "id, township_code");
    int ns = snprintf(sets, sizeof sets, "township_code = excluded.township_code");
    for (int i = 0; i < c->nfields; i++) {
        const char *f = c->fields[i].name;
        nc += snprintf(cols + nc, sizeof cols - (size_t)nc, ", \"%s\"", f);
        ns += snprintf(sets + ns, sizeof sets - (size_t)ns, ", \"%s\" = excluded.\"%s\"", f, f);
    }
    /* a Polygon becomes a one-part MultiPolygon, a LineString a one-part
     * MultiLineString (the typed column refuses a wrong kind); SpatiaLite's
     * blob is bound ready-made (sqlite_geom) */
    const char *geom = !is_pg(s)                   ? "?%d"
                       : c->gtype == SITU_GT_POINT ? "ST_GeomFromWKB(?%d, 4326)"
                                                   : "ST_Multi(ST_GeomFromWKB(?%d, 4326))";
    int np = c->nfields + 5;
    size_t cap = sizeof cols + sizeof sets + 256 + (size_t)nrows * ((size_t)np * 8 + 64);
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)snprintf(
        sql, cap, "INSERT INTO \"%s\" (%s, extra, updated_at, geom) VALUES ", c->id, cols);
    for (int r = 0; r < nrows; r++) {
        int b = r * np;
        n += (size_t)snprintf(sql + n, cap - n, "%s(?%d, ?%d", r ? ", " : "", b + 1, b + 2);
        for (int k = 3; k <= np - 1; k++) /* fields, extra, updated_at */
            n += (size_t)snprintf(sql + n, cap - n, ", ?%d", b + k);
        n += (size_t)snprintf(sql + n, cap - n, ", ");
        n += (size_t)snprintf(sql + n, cap - n, geom, b + np);
        n += (size_t)snprintf(sql + n, cap - n, ")");
    }
    if (kind != SQL_INSERT)
        snprintf(sql + n, cap - n,
                 " ON CONFLICT(id) DO UPDATE SET %s, extra = excluded.extra, "
                 "updated_at = excluded.updated_at, geom = excluded.geom%s",
                 sets, kind == SQL_UPSERT_RETURNING ? " RETURNING (xmax = 0)::int" : "");
    return sql;
}

/* Prepares the one-row statement of kind SQL_INSERT or SQL_UPSERT of
 * collection c into *out. */
static int prepare_one(situ_store *s, const situ_collection *c, int kind, situ_db_stmt **out,
                       situ_err *err)
{
    char *sql = upsert_sql(s, c, 1, kind);
    if (!sql)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = situ_db_prepare(s->sql, sql, out, err);
    free(sql);
    return rc ? SITU_EDB : 0;
}

/* Builds the one-row upsert and the existence test of collection c. */
static int prepare_upsert(situ_store *s, const situ_collection *c, situ_err *err)
{
    if (prepare_one(s, c, SQL_UPSERT, &s->upsert[c->cid], err))
        return SITU_EDB;
    char ex[128];
    snprintf(ex, sizeof ex, "SELECT 1 FROM \"%s\" WHERE id = ?", c->id);
    return situ_db_prepare(s->sql, ex, &s->exists[c->cid], err) ? SITU_EDB : 0;
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

/* The row of resource_items that parameters base + 1 .. base + 5 make. */
#define ITEM_ROW "(?%d, ?%d, ?%d, COALESCE(?%d, (SELECT unit FROM items WHERE code = ?%d)), ?%d)"

/* Rows of resource_items per INSERT when a bulk write's items are written:
 * a statement's start, statement journal and end once per that many rows,
 * not per row. */
#define ITEMS_PER_STATEMENT 64

/* Prepares the INSERT of nrows rows of resource_items into *out. */
static int prepare_items_insert(situ_store *s, int nrows, situ_db_stmt **out, situ_err *err)
{
    situ_buf sql;
    situ_buf_init(&sql);
    situ_buf_adds(&sql, "INSERT INTO resource_items (resource_id, item, quantity, unit, "
                        "updated_at) VALUES ");
    for (int r = 0, b = 0; r < nrows; r++, b += 5)
        situ_buf_printf(&sql, "%s" ITEM_ROW, r ? ", " : "", b + 1, b + 2, b + 3, b + 4, b + 2,
                        b + 5);
    situ_buf_addc(&sql, '\0');
    int rc = sql.oom ? situ_err_set(err, SITU_ENOMEM, "out of memory")
             : situ_db_prepare(s->sql, sql.p, out, err) ? SITU_EDB
                                                        : 0;
    situ_buf_dispose(&sql);
    return rc;
}

static int prepare_items(situ_store *s, situ_err *err)
{
    if (s->items_clear)
        return 0;
    if (situ_db_prepare(s->sql, "DELETE FROM resource_items WHERE resource_id = ?", &s->items_clear,
                        err) ||
        prepare_items_insert(s, 1, &s->items_insert, err)) {
        situ_db_finalize(s->items_clear);
        s->items_clear = NULL;
        return SITU_EDB;
    }
    return 0;
}

/* Binds one item row to st's parameters base + 1 .. base + 5. */
static void bind_item_row(situ_db_stmt *st, int base, const char *id, const situ_item_qty *q,
                          const char *now)
{
    situ_db_bind_text(st, base + 1, id, -1);
    situ_db_bind_text(st, base + 2, q->item, -1);
    situ_db_bind_double(st, base + 3, q->quantity);
    if (q->unit && *q->unit)
        situ_db_bind_text(st, base + 4, q->unit, -1);
    else
        situ_db_bind_null(st, base + 4);
    situ_db_bind_text(st, base + 5, now, -1);
}

/* Writes f's items into resource_items, its old ones cleared first. */
static int write_items(situ_store *s, const situ_feature_in *f, const char *now, situ_err *err)
{
    if (prepare_items(s, err))
        return SITU_EDB;
    situ_db_bind_text(s->items_clear, 1, f->id, -1);
    int rc = situ_db_step(s->items_clear);
    situ_db_reset(s->items_clear);
    if (rc != SITU_DB_DONE)
        return situ_err_set(err, SITU_EDB, "clear resource_items: %s", situ_db_errmsg(s->sql));
    for (int i = 0; i < f->nitems; i++) {
        const situ_item_qty *q = &f->items[i];
        bind_item_row(s->items_insert, 0, f->id, q, now);
        rc = situ_db_step(s->items_insert);
        situ_db_reset(s->items_insert);
        if (rc != SITU_DB_DONE)
            return situ_err_set(err, SITU_EINVAL, "resource %s item %s: %s", f->id, q->item,
                                situ_db_errmsg(s->sql));
    }
    return 0;
}

/* ---- a bulk write's items, many rows per statement ---------------------- */

/* Appends s and its NUL to p's text; its offset. */
static size_t keep_text(situ__items_pending *p, const char *s)
{
    size_t at = p->text.n;
    situ_buf_add(&p->text, s, strlen(s) + 1);
    return at;
}

/* Keeps f's items, written at now, for situ__store_items_flush (f is a new
 * resource of a bulk write: it has no old items to clear). */
static int keep_items(situ_store *s, const situ_feature_in *f, const char *now, situ_err *err)
{
    situ__items_pending *p = &s->items_pending;
    if (p->n + (size_t)f->nitems > p->cap) {
        size_t cap = 2 * (p->n + (size_t)f->nitems) + 256;
        situ__item_row *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        p->v = v, p->cap = cap;
    }
    size_t id = f->nitems ? keep_text(p, f->id) : 0, at = f->nitems ? keep_text(p, now) : 0;
    for (int i = 0; i < f->nitems; i++) {
        const situ_item_qty *q = &f->items[i];
        p->v[p->n++] =
            (situ__item_row){.id = id,
                             .item = keep_text(p, q->item),
                             .unit = q->unit && *q->unit ? keep_text(p, q->unit) : SIZE_MAX,
                             .now = at,
                             .quantity = q->quantity};
    }
    return p->text.oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0;
}

/* Binds kept row i to st's parameters base + 1 .. base + 5; its id and item
 * in *id, *item. */
static void bind_kept(situ_store *s, situ_db_stmt *st, int base, size_t i, const char **id,
                      const char **item)
{
    const situ__items_pending *p = &s->items_pending;
    const situ__item_row *r = &p->v[i];
    situ_item_qty q = {.item = p->text.p + r->item,
                       .quantity = r->quantity,
                       .unit = r->unit == SIZE_MAX ? NULL : p->text.p + r->unit};
    bind_item_row(st, base, p->text.p + r->id, &q, p->text.p + r->now);
    *id = p->text.p + r->id, *item = q.item;
}

/* Writes kept rows [i, i + n) with st (an INSERT of n rows, or of one when
 * n is 1); a refused statement is written again row by row, which names the
 * first refused row. When every row passes alone, the statement failed for
 * no row's sake (out of memory, disk full, I/O, interrupted): the write
 * fails with the statement's own error, as it does at once when SQLite
 * rolled the whole transaction back with it (nothing to write row by row
 * into: each row would commit on its own). */
static int write_kept(situ_store *s, situ_db_stmt *st, size_t i, int n, situ_err *err)
{
    const char *id = NULL, *item = NULL;
    for (int r = 0; r < n; r++)
        bind_kept(s, st, 5 * r, i + (size_t)r, &id, &item);
    int rc = situ_db_step(st);
    situ_db_reset(st);
    if (rc == SITU_DB_DONE)
        return 0;
    if (n == 1)
        return situ_err_set(err, SITU_EINVAL, "resource %s item %s: %s", id, item,
                            situ_db_errmsg(s->sql));
    char msg[256];
    snprintf(msg, sizeof msg, "%s", situ_db_errmsg(s->sql));
    for (int r = 0; r < n && !sqlite3_get_autocommit(s->db); r++) /* it changed nothing */
        if ((rc = write_kept(s, s->items_insert, i + (size_t)r, 1, err)))
            return rc;
    const situ__items_pending *p = &s->items_pending;
    return situ_err_set(err, SITU_EDB,
                        "resource_items: %d items from resource %s's on not written (none is "
                        "refused alone): %s",
                        n, p->text.p + p->v[i].id, msg);
}

void situ__store_items_forget(situ_store *s)
{
    s->items_pending.n = 0;
    s->items_pending.text.n = 0;
    s->items_pending.text.oom = 0;
}

int situ__store_items_flush(situ_store *s, situ_err *err)
{
    situ__items_pending *p = &s->items_pending;
    size_t i = 0;
    int rc = 0;
    if (!p->n)
        return 0;
    if (prepare_items(s, err) ||
        (!s->items_insert_many &&
         prepare_items_insert(s, ITEMS_PER_STATEMENT, &s->items_insert_many, err)))
        rc = SITU_EDB;
    for (; !rc && p->n - i >= ITEMS_PER_STATEMENT; i += ITEMS_PER_STATEMENT)
        rc = write_kept(s, s->items_insert_many, i, ITEMS_PER_STATEMENT, err);
    for (; !rc && i < p->n; i++)
        rc = write_kept(s, s->items_insert, i, 1, err);
    situ__store_items_forget(s);
    return rc;
}

/* The write time of f: its own, else now. */
static void feature_time(const situ_feature_in *f, char now[32])
{
    if (f->updated_at)
        snprintf(now, 32, "%s", f->updated_at);
    else
        situ_store_now(now);
}

/* SpatiaLite's conversion of WKB parameter ?1 for collection c, as its
 * writes made it in SQL before store_blob.c: a Polygon becomes a one-part
 * MultiPolygon, a LineString a one-part MultiLineString; a wrong kind casts
 * to NULL and the NOT NULL column refuses it. */
static const char *spatialite_convert_sql(const situ_collection *c)
{
    if (c->gtype == SITU_GT_POINT)
        return "SELECT GeomFromWKB(?1, 4326)";
    if (c->gtype == SITU_GT_MULTILINESTRING)
        return "SELECT CastToMultiLinestring(GeomFromWKB(?1, 4326))";
    return "SELECT CastToMultiPolygon(GeomFromWKB(?1, 4326))";
}

/* The blob SpatiaLite makes of f's WKB for c, through spatialite_convert_sql,
 * into s->geom (empty: NULL). Returns an SQLite code. */
static int spatialite_convert(situ_store *s, const situ_collection *c, const situ_feature_in *f)
{
    sqlite3_stmt **st = &s->geom_convert[c->cid];
    int rc = *st ? SQLITE_OK : sqlite3_prepare_v2(s->db, spatialite_convert_sql(c), -1, st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_blob(*st, 1, f->wkb, (int)f->nwkb, SQLITE_STATIC);
    rc = sqlite3_step(*st);
    s->geom.n = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(*st, 0) == SQLITE_BLOB)
        situ_buf_add(&s->geom, sqlite3_column_blob(*st, 0), (size_t)sqlite3_column_bytes(*st, 0));
    int failed = sqlite3_reset(*st); /* the step's error, if any */
    sqlite3_clear_bindings(*st);
    return s->geom.oom ? SQLITE_NOMEM : rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : failed;
}

/* f's geometry as SpatiaLite stores it for c, into s->geom (empty: NULL):
 * written straight from the WKB (store_blob.c), or by SpatiaLite when that
 * declines it. Returns an SQLite code. */
static int sqlite_geom(situ_store *s, const situ_collection *c, const situ_feature_in *f)
{
    int rc = situ__spatialite_blob(f->wkb, f->nwkb, c->gtype, 4326, &s->geom);
    return rc < 0 ? SQLITE_NOMEM : rc ? spatialite_convert(s, c, f) : SQLITE_OK;
}

/* Binds feature f of c to st's parameters base + 1 .. base + nfields + 5
 * (upsert_sql's order): its geometry as WKB, or the SpatiaLite blob geom
 * when not NULL (empty: NULL); now and geom must outlive the step. */
static void bind_feature(situ_db_stmt *st, int base, const situ_collection *c,
                         const situ_feature_in *f, const char *now, const situ_buf *geom)
{
    situ_db_bind_text(st, base + 1, f->id, -1);
    if (f->township_code && *f->township_code)
        situ_db_bind_text(st, base + 2, f->township_code, -1);
    else
        situ_db_bind_null(st, base + 2);
    for (int i = 0; i < c->nfields; i++)
        situ_store_bind_value(st, base + i + 3, f->values ? &f->values[i] : NULL);
    int k = base + c->nfields + 3;
    if (f->extra_json)
        situ_db_bind_text(st, k, f->extra_json, -1);
    else
        situ_db_bind_null(st, k);
    situ_db_bind_text(st, k + 1, now, -1);
    if (!geom)
        situ_db_bind_blob(st, k + 2, f->wkb, (int)f->nwkb);
    else if (geom->n)
        situ_db_bind_blob(st, k + 2, geom->p, (int)geom->n);
    else
        situ_db_bind_null(st, k + 2);
}

/* Binds f to st, steps it once and resets it: situ_db_step's code. */
static int step_once(situ_store *s, situ_db_stmt *st, const situ_collection *c,
                     const situ_feature_in *f, const char *now)
{
    if (!is_pg(s) && sqlite_geom(s, c, f) != SQLITE_OK)
        return SITU_EDB; /* the caller reports the connection's error */
    bind_feature(st, 0, c, f, now, is_pg(s) ? NULL : &s->geom);
    int rc = situ_db_step(st);
    situ_db_reset(st);
    situ_db_clear_bindings(st);
    return rc;
}

/* Writes f into c's table during a bulk write (the table was empty at its
 * begin) with the prepared plain INSERT, which needs no existence test nor
 * conflict path. An id the bulk write already wrote (never from the loader,
 * which rejects a source's duplicates) goes through the upsert as it would
 * outside a bulk write: *existed 1. Returns situ_db_step's code. */
static int bulk_insert(situ_store *s, const situ_collection *c, const situ_feature_in *f,
                       const char *now, int *existed)
{
    int rc = step_once(s, s->insert[c->cid], c, f, now);
    if (rc == SITU_DB_DONE || sqlite3_extended_errcode(s->db) != SQLITE_CONSTRAINT_UNIQUE)
        return rc;
    *existed = 1;
    return step_once(s, s->upsert[c->cid], c, f, now);
}

/* Writes the items of resource f: a new one of a bulk write (fresh: no old
 * items to clear) keeps them for its next step; any other writes those
 * kept first (a rewritten resource clears its old items, kept ones too),
 * then its own. */
static int store_items(situ_store *s, const situ_feature_in *f, const char *now, int fresh,
                       situ_err *err)
{
    if (fresh)
        return keep_items(s, f, now, err);
    int rc = situ__store_items_flush(s, err);
    return rc ? rc : write_items(s, f, now, err);
}

static int writable(situ_store *s, const situ_feature_in *f, situ_err *err)
{
    if (s->readonly)
        return situ_err_set(err, SITU_EINVAL, "store opened read-only");
    if (!f->id || !*f->id)
        return situ_err_set(err, SITU_EINVAL, "feature without id");
    return 0;
}

int situ_store_upsert(situ_store *s, const situ_collection *c, const situ_feature_in *f,
                      int *out_inserted, situ_err *err)
{
    int rc = writable(s, f, err);
    if (rc)
        return rc;
    if (!s->upsert[c->cid] && prepare_upsert(s, c, err))
        return SITU_EDB;
    if (s->bulk[c->cid] && !s->insert[c->cid] &&
        prepare_one(s, c, SQL_INSERT, &s->insert[c->cid], err))
        return SITU_EDB;
    char now[32];
    feature_time(f, now);

    int existed = 0;
    if (s->bulk[c->cid]) { /* its table was empty: no existence test, no conflict clause */
        rc = bulk_insert(s, c, f, now, &existed);
    } else {
        situ_db_stmt *ex = s->exists[c->cid];
        situ_db_bind_text(ex, 1, f->id, -1);
        existed = situ_db_step(ex) == SITU_DB_ROW;
        situ_db_reset(ex);
        rc = step_once(s, s->upsert[c->cid], c, f, now);
    }
    if (rc != SITU_DB_DONE) {
        situ_err_set(err, SITU_EINVAL, "%s %s: %s", c->id, f->id, situ_db_errmsg(s->sql));
        /* the items kept before were written before: their error comes first */
        return (rc = situ__store_items_flush(s, err)) ? rc : SITU_EINVAL;
    }
    if (c->cid == SITU_C_RESOURCES &&
        (rc = store_items(s, f, now, s->bulk[c->cid] && !existed, err)))
        return rc;
    if (out_inserted)
        *out_inserted = !existed;
    return 0;
}

/* ---- many rows per statement (PostgreSQL) ------------------------------- */

/* Rows per multi-row upsert: each statement is one round trip and one plan.
 * libpq 15 takes a server message of over 30000 bytes that it does not
 * expect long for a lost synchronization, and describing a statement sends
 * 4 bytes per parameter: 7000 parameters at most. */
static int rows_per_statement(const situ_collection *c)
{
    int np = c->nfields + 5;
    return SITU_STORE_BATCH_ROWS < 7000 / np ? SITU_STORE_BATCH_ROWS : 7000 / np;
}

/* Finds which of f[0..n) the failed statement choked on, by writing them one
 * by one after the savepoint was rolled back to: that one's error names it. */
static int upsert_blame(situ_store *s, const situ_collection *c, const situ_feature_in *f, int n,
                        const char *batch_msg, situ_err *err)
{
    for (int i = 0; i < n; i++) {
        int rc = situ_store_upsert(s, c, &f[i], NULL, err);
        if (rc)
            return rc;
    }
    return situ_err_set(err, SITU_EDB, "%s: %s", c->id, batch_msg);
}

/* One multi-row upsert of f[0..n), n <= rows_per_statement(c), inside a
 * savepoint; *inserted += the new ones. */
static int upsert_chunk(situ_store *s, const situ_collection *c, const situ_feature_in *f, int n,
                        long long *inserted, situ_err *err)
{
    situ_db_stmt *st = n == rows_per_statement(c) ? s->upsert_batch[c->cid] : NULL, *own = NULL;
    if (!st) {
        char *sql = upsert_sql(s, c, n, SQL_UPSERT_RETURNING);
        if (!sql)
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        int rc = situ_db_prepare(s->sql, sql, &own, err);
        free(sql);
        if (rc)
            return SITU_EDB;
        st = own;
        if (n == rows_per_statement(c))
            s->upsert_batch[c->cid] = st, own = NULL;
    }
    char(*now)[32] = malloc((size_t)n * sizeof *now);
    if (!now) {
        situ_db_finalize(own);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    int np = c->nfields + 5, rc, step = SITU_DB_DONE;
    for (int i = 0; i < n; i++) {
        feature_time(&f[i], now[i]);
        bind_feature(st, i * np, c, &f[i], now[i], NULL);
    }
    rc = situ_db_exec(s->sql, "SAVEPOINT situ_upsert", err) ? SITU_EDB : 0;
    while (!rc && (step = situ_db_step(st)) == SITU_DB_ROW)
        *inserted += situ_db_column_int64(st, 0);
    if (!rc && step != SITU_DB_DONE) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", situ_db_errmsg(s->sql));
        situ_db_reset(st);
        rc = situ_db_exec(s->sql, "ROLLBACK TO SAVEPOINT situ_upsert", err)
                 ? SITU_EDB
                 : upsert_blame(s, c, f, n, msg, err);
    } else if (!rc) {
        rc = situ_db_exec(s->sql, "RELEASE SAVEPOINT situ_upsert", err) ? SITU_EDB : 0;
    }
    situ_db_reset(st);
    situ_db_clear_bindings(st);
    situ_db_finalize(own);
    for (int i = 0; !rc && c->cid == SITU_C_RESOURCES && i < n; i++)
        if (write_items(s, &f[i], now[i], err))
            rc = err ? err->code : SITU_EDB;
    free(now);
    return rc;
}

int situ_store_upsert_many(situ_store *s, const situ_collection *c, const situ_feature_in *f, int n,
                           long long *out_inserted, situ_err *err)
{
    long long inserted = 0;
    int rc = 0;
    for (int i = 0; !rc && i < n; i++)
        rc = writable(s, &f[i], err);
    int own_tx = !rc && !s->in_tx; /* PostgreSQL's savepoints need one */
    if (own_tx)
        rc = situ_store_begin(s, err);
    for (int i = 0; !rc && i < n && !is_pg(s); i++) {
        int one = 0;
        rc = situ_store_upsert(s, c, &f[i], &one, err);
        inserted += one;
    }
    for (int i = 0, per = rows_per_statement(c); !rc && i < n && is_pg(s); i += per)
        rc = upsert_chunk(s, c, f + i, n - i < per ? n - i : per, &inserted, err);
    if (own_tx && !rc)
        rc = situ_store_commit(s, err);
    else if (own_tx)
        situ_store_rollback(s);
    if (!rc && out_inserted)
        *out_inserted = inserted;
    return rc;
}

int situ_store_count(situ_store *s, const situ_collection *c, long long *out_n, situ_err *err)
{
    char sql[128];
    situ_db_stmt *st;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", c->id);
    if (situ_db_prepare(s->sql, sql, &st, err))
        return SITU_EDB;
    int rc = situ_db_step(st);
    if (rc == SITU_DB_ROW) {
        *out_n = situ_db_column_int64(st, 0);
        rc = 0;
    } else {
        rc = situ_err_set(err, rc < 0 ? rc : SITU_EDB, "count %s: %s", c->id,
                          situ_db_errmsg(s->sql));
    }
    situ_db_finalize(st);
    return rc;
}

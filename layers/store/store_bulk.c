/*
 * store_bulk.c: a bulk write of one collection into an empty SpatiaLite
 * table, inside the caller's transaction (situ load of a new store). Each
 * row otherwise fires SpatiaLite's triggers: the spatial index's (a DELETE
 * plus RTreeAlign, which formats an INSERT and parses it, per row) and the
 * geometry_columns_time stamps'. situ_store_bulk_begin drops those triggers
 * (keeping their SQL); situ_store_bulk_end fills the R-tree in one INSERT
 * ... SELECT with exactly the values RTreeAlign would have written (its
 * "%1.12f" text of each bound, read back as SQLite reads a literal), stamps
 * last_insert once and creates the triggers again as they were. DDL is
 * transactional in SQLite: a rollback anywhere puts the triggers back too.
 * The geometry constraint triggers (ggi, ggu) stay: every row is checked.
 */
#include "store_private.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The per-row triggers set aside, by the prefix SpatiaLite names them with. */
static const char *const bulk_prefixes[SITU_STORE_BULK_TRIGGERS] = {"gii", "giu", "tmi", "tmu"};

static void forget(situ_store *s, situ_coll_id cid)
{
    for (int i = 0; i < SITU_STORE_BULK_TRIGGERS; i++) {
        sqlite3_free(s->bulk_sql[cid][i]);
        s->bulk_sql[cid][i] = NULL;
    }
    s->bulk[cid] = 0;
    s->bulk_indexed[cid] = 0;
}

void situ__store_bulk_forget(situ_store *s)
{
    for (int c = 0; c < SITU_NCOLLECTIONS; c++)
        forget(s, (situ_coll_id)c);
}

int situ__store_bulk_open(const situ_store *s)
{
    for (int c = 0; c < SITU_NCOLLECTIONS; c++)
        if (s->bulk[c])
            return 1;
    return 0;
}

/* The first column of sql's first row as an sqlite3_malloc'd string in
 * *out (NULL when no row); SQLite's return code. */
static int query_text(sqlite3 *db, const char *sql, char **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int fail(situ_store *s, situ_err *err, const char *what, const situ_collection *c)
{
    return situ_err_set(err, SITU_EDB, "bulk write of %s: %s: %s", c->id, what,
                        sqlite3_errmsg(s->db));
}

int situ_store_bulk_begin(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[256], *any;
    if (!s->db || s->readonly || s->bulk[c->cid])
        return 0;
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" LIMIT 1", c->id);
    if (query_text(s->db, sql, &any) != SQLITE_OK)
        return fail(s, err, "cannot count its rows", c);
    if (any) { /* rows already stored: the triggers keep the index per row */
        sqlite3_free(any);
        return 0;
    }
    for (int i = 0; i < SITU_STORE_BULK_TRIGGERS; i++) {
        char name[96], drop[160];
        snprintf(name, sizeof name, "%s_%s_geom", bulk_prefixes[i], c->id);
        snprintf(sql, sizeof sql,
                 "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND "
                 "name = '%s'",
                 name);
        snprintf(drop, sizeof drop, "DROP TRIGGER \"%s\"", name);
        if (query_text(s->db, sql, &s->bulk_sql[c->cid][i]) != SQLITE_OK ||
            (s->bulk_sql[c->cid][i] && sqlite3_exec(s->db, drop, NULL, NULL, NULL) != SQLITE_OK)) {
            int rc = fail(s, err, "cannot set its triggers aside", c);
            forget(s, c->cid); /* the caller rolls back, which restores any dropped */
            return rc;
        }
    }
    s->bulk[c->cid] = 1;
    return 0;
}

/* Adds the rows of c past the last one indexed to its R-tree as RTreeAlign
 * would, one row at a time in fid order (the order they were written). */
static int index_new_rows(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[640], *last;
    snprintf(sql, sizeof sql,
             "INSERT INTO \"idx_%s_geom\" (pkid, xmin, ymin, xmax, ymax) SELECT fid, "
             "CAST(printf('%%1.12f', MbrMinX(geom)) AS REAL), "
             "CAST(printf('%%1.12f', MbrMinY(geom)) AS REAL), "
             "CAST(printf('%%1.12f', MbrMaxX(geom)) AS REAL), "
             "CAST(printf('%%1.12f', MbrMaxY(geom)) AS REAL) FROM \"%s\" "
             "WHERE fid > %lld AND geom IS NOT NULL ORDER BY fid",
             c->id, c->id, s->bulk_indexed[c->cid]);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, "cannot fill its spatial index", c);
    snprintf(sql, sizeof sql, "SELECT max(fid) FROM \"%s\"", c->id);
    if (query_text(s->db, sql, &last) != SQLITE_OK)
        return fail(s, err, "cannot find its last row", c);
    if (last)
        s->bulk_indexed[c->cid] = atoll(last);
    sqlite3_free(last);
    return 0;
}

int situ_store_bulk_step(situ_store *s, const situ_collection *c, situ_err *err)
{
    return s->db && s->bulk[c->cid] ? index_new_rows(s, c, err) : 0;
}

/* Indexes the rows not indexed yet and stamps c's last insert. */
static int fill_rtree(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[640];
    int rc = index_new_rows(s, c, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql,
             "UPDATE geometry_columns_time SET last_insert = strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ', "
             "'now') WHERE Lower(f_table_name) = Lower('%s') AND Lower(f_geometry_column) = "
             "'geom' AND EXISTS (SELECT 1 FROM \"%s\")",
             c->id, c->id);
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, "cannot stamp its last insert", c);
    return 0;
}

int situ_store_bulk_end(situ_store *s, const situ_collection *c, situ_err *err)
{
    if (!s->db || !s->bulk[c->cid])
        return 0;
    int rc = fill_rtree(s, c, err);
    for (int i = 0; !rc && i < SITU_STORE_BULK_TRIGGERS; i++)
        if (s->bulk_sql[c->cid][i] &&
            sqlite3_exec(s->db, s->bulk_sql[c->cid][i], NULL, NULL, NULL) != SQLITE_OK)
            rc = fail(s, err, "cannot create its triggers again", c);
    forget(s, c->cid);
    return rc;
}

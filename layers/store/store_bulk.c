/*
 * store_bulk.c: a bulk write of one collection into an empty SpatiaLite
 * table, inside the caller's transaction (situ load of a new store). Each
 * row otherwise fires SpatiaLite's triggers: the spatial index's (a DELETE
 * plus RTreeAlign, which formats an INSERT and parses it, and SQLite's R*
 * insertion, per row) and the geometry_columns_time stamps'.
 * situ_store_bulk_begin drops those triggers (keeping their SQL);
 * situ_store_bulk_step, after each batch, gathers the boxes of the rows
 * written since, rounded as the R-tree would store RTreeAlign's values;
 * situ_store_bulk_end gathers the rest, writes them as a packed R-tree into
 * the index's shadow tables (store_rtree.c), stamps last_insert once and
 * creates the triggers again as they were. DDL is transactional in SQLite:
 * a rollback anywhere puts the triggers and the empty R-tree back too. The
 * geometry constraint triggers (ggi, ggu) stay: every row is checked.
 *
 * Per collection:  idle --begin, no rows--> open --step...--> open --end--> idle
 *                  open --rollback (situ__store_bulk_forget)--> idle
 */
#include "store_private.h"

#include <sqlite3.h>
#include <stdio.h>
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
    sqlite3_finalize(s->bulk_read[cid]);
    s->bulk_read[cid] = NULL;
    situ__rtree_rows_dispose(&s->bulk_rows[cid]);
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

/* Gathers the boxes of c's rows past the last one gathered, in fid order
 * (the order they were written). A row whose geometry SpatiaLite cannot
 * bound is left out, as RTreeAlign leaves it out. */
static int gather_new_rows(situ_store *s, const situ_collection *c, situ_err *err)
{
    sqlite3_stmt **st = &s->bulk_read[c->cid];
    if (!*st) {
        char sql[320];
        snprintf(sql, sizeof sql,
                 "SELECT fid, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) FROM "
                 "\"%s\" WHERE fid > ?1 AND geom IS NOT NULL ORDER BY fid",
                 c->id);
        if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
            return fail(s, err, "cannot read its bounds", c);
    }
    sqlite3_bind_int64(*st, 1, s->bulk_indexed[c->cid]);
    int rc;
    while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
        double mbr[4];
        long long fid = sqlite3_column_int64(*st, 0);
        s->bulk_indexed[c->cid] = fid;
        if (sqlite3_column_type(*st, 1) == SQLITE_NULL)
            continue;
        for (int i = 0; i < 4; i++)
            mbr[i] = sqlite3_column_double(*st, i + 1);
        if ((rc = situ__rtree_add(&s->bulk_rows[c->cid], s->db, fid, mbr)) != SQLITE_OK)
            break;
    }
    sqlite3_reset(*st);
    if (rc == SQLITE_NOMEM)
        return situ_err_set(err, SITU_ENOMEM, "bulk write of %s: out of memory", c->id);
    return rc == SQLITE_DONE ? 0 : fail(s, err, "cannot read its bounds", c);
}

int situ_store_bulk_step(situ_store *s, const situ_collection *c, situ_err *err)
{
    return s->db && s->bulk[c->cid] ? gather_new_rows(s, c, err) : 0;
}

/* Writes c's spatial index from the boxes gathered and stamps its last
 * insert. */
static int fill_rtree(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[640];
    int rc = gather_new_rows(s, c, err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql, "idx_%s_geom", c->id);
    if ((rc = situ__rtree_write(&s->bulk_rows[c->cid], s->db, sql, err)))
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

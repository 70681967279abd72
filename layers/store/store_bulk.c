/*
 * store_bulk.c: a bulk write of one collection into an empty SpatiaLite
 * table, inside the caller's transaction (situ load of a new store). Each
 * row otherwise fires SpatiaLite's triggers: the spatial index's (a DELETE
 * plus RTreeAlign, which formats an INSERT and parses it, and SQLite's R*
 * insertion, per row), the geometry_columns_time stamps' and the geometry
 * constraint's (ggi: a query of geometry_columns and GeometryConstraints),
 * and inserts into each secondary index (a B-tree insert per row; a
 * resource's items go into resource_items' too).
 * situ_store_bulk_begin drops those triggers and indexes (and those of an
 * empty resource_items with resources), keeping their SQL, and store.c
 * writes the rows with a plain INSERT and keeps a new resource's items;
 * situ_store_bulk_step, after each batch, writes the items kept, many rows
 * per INSERT (store.c), and gathers the boxes of the rows written since, rounded as the R-tree
 * would store RTreeAlign's values, and checks their geometry as ggi would have (the first refused
 * fails the bulk write; the caller rolls back); situ_store_bulk_end gathers the rest, writes them
 * as a packed R-tree into the index's shadow tables (store_rtree.c), stamps last_insert once and
 * creates the indexes (one sort each) and triggers again as they were. DDL is transactional in
 * SQLite: a rollback anywhere puts the triggers, indexes and the empty
 * R-tree back too. The update triggers of the geometry constraint (ggu)
 * stay.
 *
 * Per collection:  idle --begin, no rows--> open --step...--> open --end--> idle
 *                  open --rollback (situ__store_bulk_forget)--> idle
 */
#include "store_private.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

/* The per-row triggers set aside, by the prefix SpatiaLite names them with:
 * the spatial index's, the time stamps' and the geometry constraint's on
 * insert (ggi; bulk_end checks every row at once instead). */
static const char *const bulk_prefixes[] = {"gii", "giu", "tmi", "tmu", "ggi"};

static void forget(situ_store *s, situ_coll_id cid)
{
    sqlite3_free(s->bulk_restore[cid]);
    s->bulk_restore[cid] = NULL;
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
    situ__store_items_forget(s);
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

/* The table written with c's rows (store.c's write_items: a resource's
 * items), whose indexes a bulk write sets aside too when it is empty; NULL. */
static const char *side_table(situ_store *s, const situ_collection *c)
{
    char *any = NULL;
    if (c->cid != SITU_C_RESOURCES ||
        query_text(s->db, "SELECT 1 FROM resource_items LIMIT 1", &any) != SQLITE_OK || any) {
        sqlite3_free(any);
        return NULL;
    }
    return "resource_items";
}

/* The SQL creating again what set_aside drops from c's table (and its side
 * table's): their secondary indexes (CREATE INDEX sorts once, cheaper than
 * a B-tree insert per row), then the triggers of bulk_prefixes; names in
 * drops. */
static void aside_sql(situ_store *s, const situ_collection *c, sqlite3_str *restore,
                      sqlite3_str *drops, int *rc)
{
    sqlite3_stmt *st;
    const char *side = side_table(s, c);
    *rc = sqlite3_prepare_v2(s->db,
                             "SELECT type, name, sql FROM sqlite_master WHERE (tbl_name = ?1 OR "
                             "tbl_name = ?3) AND sql IS NOT NULL AND (type = 'index' OR (type = "
                             "'trigger' AND name = ?2 || '_' || ?1 || '_geom')) ORDER BY type, "
                             "rowid",
                             -1, &st, NULL);
    if (*rc == SQLITE_OK && side)
        sqlite3_bind_text(st, 3, side, -1, SQLITE_STATIC);
    /* i 0 names no trigger: the indexes; i > 0 the triggers of prefix i - 1 */
    for (size_t i = 0; *rc == SQLITE_OK && i <= sizeof bulk_prefixes / sizeof *bulk_prefixes; i++) {
        sqlite3_bind_text(st, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, i ? bulk_prefixes[i - 1] : "", -1, SQLITE_STATIC);
        while ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *type = (const char *)sqlite3_column_text(st, 0);
            if (i && strcmp(type, "index") == 0)
                continue; /* the indexes come once, with i 0 */
            sqlite3_str_appendf(restore, "%s;\n", (const char *)sqlite3_column_text(st, 2));
            sqlite3_str_appendf(drops, "DROP %s \"%w\";", type,
                                (const char *)sqlite3_column_text(st, 1));
        }
        *rc = sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* Drops c's secondary indexes and per-row triggers, keeping the SQL that
 * creates them again in s->bulk_restore[c]. */
static int set_aside(situ_store *s, const situ_collection *c, situ_err *err)
{
    sqlite3_str *restore = sqlite3_str_new(s->db), *drops = sqlite3_str_new(s->db);
    int rc;
    aside_sql(s, c, restore, drops, &rc);
    char *zdrops = sqlite3_str_finish(drops);
    s->bulk_restore[c->cid] = sqlite3_str_finish(restore);
    if (rc == SQLITE_OK && (!zdrops || !s->bulk_restore[c->cid]))
        rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, zdrops, NULL, NULL, NULL);
    sqlite3_free(zdrops);
    if (rc == SQLITE_OK)
        return 0;
    rc = rc == SQLITE_NOMEM
             ? situ_err_set(err, SITU_ENOMEM, "bulk write of %s: out of memory", c->id)
             : fail(s, err, "cannot set its indexes and triggers aside", c);
    forget(s, c->cid); /* the caller rolls back, which restores any dropped */
    return rc;
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
    int rc = set_aside(s, c, err);
    if (!rc)
        s->bulk[c->cid] = 1;
    return rc;
}

/* The error of row fid of c, refused as the geometry constraint trigger
 * (ggi) words it, with the row's id. */
static int refused(situ_store *s, const situ_collection *c, long long fid, situ_err *err)
{
    char sql[160], *id;
    snprintf(sql, sizeof sql, "SELECT id FROM \"%s\" WHERE fid = %lld", c->id, fid);
    if (query_text(s->db, sql, &id) != SQLITE_OK)
        return fail(s, err, "cannot read a refused row", c);
    situ_err_set(err, SITU_EINVAL,
                 "%s %s: %s.geom violates Geometry constraint [geom-type or SRID not allowed]",
                 c->id, id ? id : "?", c->id);
    sqlite3_free(id);
    return SITU_EINVAL;
}

/* Prepares the read of c's rows past a fid: their boxes and whether their
 * geometry passes the constraint ggi checked, GeometryConstraints against
 * the column's type and SRID in geometry_columns (none: every row fails, as
 * the trigger's subquery would find no row). */
static int prepare_read(situ_store *s, const situ_collection *c, sqlite3_stmt **st)
{
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT fid, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom), "
             "GeometryConstraints(geom, (SELECT geometry_type FROM geometry_columns WHERE "
             "Lower(f_table_name) = Lower('%s') AND Lower(f_geometry_column) = 'geom'), "
             "(SELECT srid FROM geometry_columns WHERE Lower(f_table_name) = Lower('%s') AND "
             "Lower(f_geometry_column) = 'geom')) IS 1 FROM \"%s\" WHERE fid > ?1 AND geom IS "
             "NOT NULL ORDER BY fid",
             c->id, c->id, c->id);
    return sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
}

/* Gathers the boxes of c's rows past the last one gathered, in fid order
 * (the order they were written), and checks their geometry as ggi would
 * have: the first refused fails the bulk write. A row whose geometry
 * SpatiaLite cannot bound is left out, as RTreeAlign leaves it out. */
static int gather_new_rows(situ_store *s, const situ_collection *c, situ_err *err)
{
    sqlite3_stmt **st = &s->bulk_read[c->cid];
    if (!*st && prepare_read(s, c, st) != SQLITE_OK)
        return fail(s, err, "cannot read its bounds", c);
    sqlite3_bind_int64(*st, 1, s->bulk_indexed[c->cid]);
    int rc;
    long long bad = 0;
    while ((rc = sqlite3_step(*st)) == SQLITE_ROW) {
        double mbr[4];
        long long fid = sqlite3_column_int64(*st, 0);
        s->bulk_indexed[c->cid] = fid;
        if (!sqlite3_column_int(*st, 5)) {
            bad = fid;
            break;
        }
        if (sqlite3_column_type(*st, 1) == SQLITE_NULL)
            continue;
        for (int i = 0; i < 4; i++)
            mbr[i] = sqlite3_column_double(*st, i + 1);
        if ((rc = situ__rtree_add(&s->bulk_rows[c->cid], s->db, fid, mbr)) != SQLITE_OK)
            break;
    }
    sqlite3_reset(*st);
    if (bad)
        return refused(s, c, bad, err);
    if (rc == SQLITE_NOMEM)
        return situ_err_set(err, SITU_ENOMEM, "bulk write of %s: out of memory", c->id);
    return rc == SQLITE_DONE ? 0 : fail(s, err, "cannot read its bounds", c);
}

/* Writes the items kept of the resources written since (store.c), then
 * gathers the rows' boxes. */
static int step(situ_store *s, const situ_collection *c, situ_err *err)
{
    int rc = situ__store_items_flush(s, err);
    return rc ? rc : gather_new_rows(s, c, err);
}

int situ_store_bulk_step(situ_store *s, const situ_collection *c, situ_err *err)
{
    return s->db && s->bulk[c->cid] ? step(s, c, err) : 0;
}

/* Writes c's spatial index from the boxes gathered and stamps its last
 * insert. */
static int fill_rtree(situ_store *s, const situ_collection *c, situ_err *err)
{
    char sql[640];
    int rc = step(s, c, err);
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
    if (!rc && sqlite3_exec(s->db, s->bulk_restore[c->cid], NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(s, err, "cannot create its indexes and triggers again", c);
    forget(s, c->cid);
    return rc;
}

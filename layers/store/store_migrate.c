/*
 * store_migrate.c: copies a whole store to another, either engine to either
 * (`situ migrate`): the vocabularies, every collection, resource_items,
 * event_log, tokens and road_closures, keys (fid, seq, id) included, so that
 * a store moved to PostgreSQL and back reads as it did. The source is read
 * in one consistent transaction, the destination written in one: a failure
 * or a count that disagrees afterwards leaves the destination unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/schema.h"
#include "store_private.h"

/* One table to copy: its name, its columns (geom: a geometry column, read
 * as WKB) and the identity column PostgreSQL must move past (or NULL). */
typedef struct table {
    char name[64];
    char cols[2048]; /* comma-separated, quoted; "geom" last when has_geom */
    int has_geom;
    const char *identity;
} table;

/* The side tables, in an order that satisfies their foreign keys. */
static const table side_before[] = {
    {"items", "code, name_zh, name_en, unit", 0, NULL},
    {"departments", "code, name_zh, name_en, interval_s", 0, NULL},
};
static const table side_after[] = {
    {"resource_items", "resource_id, item, quantity, unit, updated_at", 0, NULL},
    {"event_log", "seq, dept, event_id, type, received_at, body, changes", 0, "seq"},
    {"tokens", "id, dept, hash, label, created_at, revoked_at", 0, "id"},
    {"road_closures",
     "fid, id, dept, reason, until, radius_m, created_at, updated_at, ended_at, geom", 1, "fid"},
};

/* Collection c as a table to copy. */
static table collection_table(const situ_collection *c)
{
    table t = {.has_geom = 1, .identity = "fid"};
    snprintf(t.name, sizeof t.name, "%s", c->id);
    int n = snprintf(t.cols, sizeof t.cols, "fid, id, township_code");
    for (int i = 0; i < c->nfields; i++)
        n += snprintf(t.cols + n, sizeof t.cols - (size_t)n, ", \"%s\"", c->fields[i].name);
    snprintf(t.cols + n, sizeof t.cols - (size_t)n, ", extra, updated_at, geom");
    return t;
}

/* Every table, in copy order; returns how many. */
static int all_tables(table *out)
{
    int n = 0;
    for (size_t i = 0; i < sizeof side_before / sizeof side_before[0]; i++)
        out[n++] = side_before[i];
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        out[n++] = collection_table(situ_schema_collection((situ_coll_id)i));
    for (size_t i = 0; i < sizeof side_after / sizeof side_after[0]; i++)
        out[n++] = side_after[i];
    return n;
}

static int db_fail(situ_db *db, situ_err *err, const char *what, const char *name)
{
    return situ_err_set(err, SITU_EDB, "%s %s: %s", what, name, situ_db_errmsg(db));
}

/* count(*) of table t on db. */
static int count_rows(situ_db *db, const char *t, long long *out, situ_err *err)
{
    char sql[128];
    situ_db_stmt *st;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", t);
    if (situ_db_prepare(db, sql, &st, err))
        return SITU_EDB;
    int rc = situ_db_step(st) == SITU_DB_ROW ? 0 : db_fail(db, err, "count", t);
    *out = rc ? 0 : situ_db_column_int64(st, 0);
    situ_db_finalize(st);
    return rc;
}

/* The columns of t as a SELECT list (geom as WKB) and as INSERT values. */
static void copy_sql(const table *t, char *sel, size_t nsel, char *ins, size_t nins, int *ncols)
{
    size_t len = strlen(t->cols);
    int n = 1;
    for (const char *p = t->cols; *p; p++)
        n += *p == ',';
    *ncols = n;
    int keep = t->has_geom ? (int)(len - strlen(", geom")) : (int)len;
    snprintf(sel, nsel, "SELECT %.*s%s FROM \"%s\"", keep, t->cols,
             t->has_geom ? ", ST_AsBinary(geom)" : "", t->name);
    int k = snprintf(ins, nins, "INSERT INTO \"%s\" (%s) VALUES (", t->name, t->cols);
    for (int i = 1; i <= n; i++)
        k += snprintf(ins + k, nins - (size_t)k, "%s%s", i > 1 ? ", " : "",
                      t->has_geom && i == n ? "ST_GeomFromWKB(?, 4326)" : "?");
    snprintf(ins + k, nins - (size_t)k, ")");
}

/* Binds column i of the source row to parameter i + 1 of ins; text and
 * blobs are copied into *own (freed by the caller after the step). */
static int bind_column(situ_db_stmt *row, situ_db_stmt *ins, int i, void **own)
{
    int n = situ_db_column_bytes(row, i);
    switch (situ_db_column_type(row, i)) {
    case SITU_DB_INTEGER:
        situ_db_bind_int64(ins, i + 1, situ_db_column_int64(row, i));
        return 0;
    case SITU_DB_FLOAT:
        situ_db_bind_double(ins, i + 1, situ_db_column_double(row, i));
        return 0;
    case SITU_DB_TEXT:
    case SITU_DB_BLOB: {
        int text = situ_db_column_type(row, i) == SITU_DB_TEXT;
        const void *p =
            text ? (const void *)situ_db_column_text(row, i) : situ_db_column_blob(row, i);
        if (!(*own = malloc((size_t)n + 1)))
            return SITU_ENOMEM;
        memcpy(*own, p, (size_t)n);
        ((char *)*own)[n] = '\0';
        if (text)
            situ_db_bind_text(ins, i + 1, *own, n);
        else
            situ_db_bind_blob(ins, i + 1, *own, n);
        return 0;
    }
    default:
        situ_db_bind_null(ins, i + 1);
        return 0;
    }
}

/* Inserts the current row of sel through ins. */
static int copy_row(situ_db_stmt *sel, situ_db_stmt *ins, int ncols, const table *t, situ_err *err)
{
    void *own[64] = {0};
    int rc = 0;
    for (int i = 0; i < ncols && !rc; i++)
        rc = bind_column(sel, ins, i, &own[i]);
    if (rc)
        rc = situ_err_set(err, rc, "out of memory");
    else if (situ_db_step(ins) != SITU_DB_DONE)
        rc = db_fail(situ_db_of(ins), err, "copy into", t->name);
    situ_db_reset(ins);
    for (int i = 0; i < ncols; i++)
        free(own[i]);
    return rc;
}

/* Copies every row of t from src to dst; *rows gets how many. */
static int copy_table(situ_db *src, situ_db *dst, const table *t, long long *rows, situ_err *err)
{
    char sel[2300], ins[2600];
    int ncols;
    copy_sql(t, sel, sizeof sel, ins, sizeof ins, &ncols);
    situ_db_stmt *s = NULL, *i = NULL;
    if (situ_db_prepare(src, sel, &s, err) || situ_db_prepare(dst, ins, &i, err)) {
        situ_db_finalize(s);
        return SITU_EDB;
    }
    int rc = 0, step;
    *rows = 0;
    while (!rc && (step = situ_db_step(s)) == SITU_DB_ROW) {
        rc = copy_row(s, i, ncols, t, err);
        *rows += !rc;
    }
    if (!rc && step != SITU_DB_DONE)
        rc = db_fail(src, err, "read", t->name);
    situ_db_finalize(s);
    situ_db_finalize(i);
    return rc;
}

/* PostgreSQL: t's identity sequence past the largest copied key, so that
 * the next row (a new token, a logged event) gets a fresh one. */
static int advance_identity(situ_db *dst, const table *t, situ_err *err)
{
    if (!t->identity || situ_db_engine_of(dst) != SITU_DB_POSTGRES)
        return 0;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT setval(pg_get_serial_sequence('\"%s\"', '%s'), coalesce(max(%s), 0) + 1, "
             "false) FROM \"%s\"",
             t->name, t->identity, t->identity, t->name);
    situ_db_stmt *st;
    if (situ_db_prepare(dst, sql, &st, err))
        return SITU_EDB;
    int rc =
        situ_db_step(st) == SITU_DB_ROW ? 0 : db_fail(dst, err, "advance the keys of", t->name);
    situ_db_finalize(st);
    return rc;
}

/* 0 when dst holds no rows of its own (the vocabularies aside), else
 * SITU_ECONFLICT naming the first table that does. */
static int check_empty(situ_db *dst, const table *t, int n, situ_err *err)
{
    for (int k = 0; k < n; k++) {
        long long rows;
        if (!strcmp(t[k].name, "items") || !strcmp(t[k].name, "departments"))
            continue;
        if (count_rows(dst, t[k].name, &rows, err))
            return SITU_EDB;
        if (rows)
            return situ_err_set(err, SITU_ECONFLICT,
                                "the destination is not empty (%s holds %lld rows): give --force "
                                "to replace its content",
                                t[k].name, rows);
    }
    return 0;
}

/* Empties every table of dst, children first. */
static int clear_all(situ_db *dst, const table *t, int n, situ_err *err)
{
    char sql[128];
    for (int k = n - 1; k >= 0; k--) {
        snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", t[k].name);
        if (situ_db_exec(dst, sql, err))
            return SITU_EDB;
    }
    return 0;
}

/* Copies table k and checks that dst now holds as many rows as src. */
static int copy_checked(situ_db *src, situ_db *dst, const table *t, situ_migrate_stats *st,
                        situ_err *err)
{
    long long copied, in_src, in_dst;
    if (copy_table(src, dst, t, &copied, err) || count_rows(src, t->name, &in_src, err) ||
        count_rows(dst, t->name, &in_dst, err) || advance_identity(dst, t, err))
        return SITU_EDB;
    if (copied != in_src || in_dst != in_src)
        return situ_err_set(err, SITU_EDB,
                            "%s: %lld rows in the source, %lld copied, %lld in "
                            "the destination",
                            t->name, in_src, copied, in_dst);
    if (st && st->ntables < SITU_MIGRATE_MAX_TABLES) {
        snprintf(st->table[st->ntables].name, sizeof st->table[0].name, "%s", t->name);
        st->table[st->ntables++].rows = copied;
    }
    return 0;
}

/* The source's consistent read: one snapshot for every table. */
static int begin_read(situ_db *src, situ_err *err)
{
    return situ_db_exec(src,
                        situ_db_engine_of(src) == SITU_DB_POSTGRES
                            ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                            : "BEGIN",
                        err);
}

int situ_store_migrate(situ_store *src, situ_store *dst, int force, situ_migrate_stats *st,
                       situ_err *err)
{
    table t[SITU_MIGRATE_MAX_TABLES];
    int n = all_tables(t);
    if (st)
        memset(st, 0, sizeof *st);
    if (begin_read(src->sql, err))
        return SITU_EDB;
    int rc = situ_store_begin(dst, err);
    if (!rc)
        rc = force ? clear_all(dst->sql, t, n, err) : check_empty(dst->sql, t, n, err);
    if (!rc && !force) /* the vocabularies as the source has them */
        rc = clear_all(dst->sql, t, 2, err);
    for (int k = 0; !rc && k < n; k++)
        rc = copy_checked(src->sql, dst->sql, &t[k], st, err);
    if (!rc)
        rc = situ_store_commit(dst, err);
    if (rc)
        situ_store_rollback(dst);
    situ_db_exec(src->sql, "COMMIT", NULL);
    return rc;
}

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

/* The columns of t as a SELECT list (geom as WKB); *ncols gets how many. */
static void select_sql(const table *t, char *sel, size_t nsel, int *ncols)
{
    size_t len = strlen(t->cols);
    int n = 1;
    for (const char *p = t->cols; *p; p++)
        n += *p == ',';
    *ncols = n;
    int keep = t->has_geom ? (int)(len - strlen(", geom")) : (int)len;
    snprintf(sel, nsel, "SELECT %.*s%s FROM \"%s\"", keep, t->cols,
             t->has_geom ? ", ST_AsBinary(geom)" : "", t->name);
}

/* INSERT INTO t VALUES (...), ... for nrows rows of ncols; malloc'd. */
static char *insert_sql(const table *t, int ncols, int nrows)
{
    size_t cap = strlen(t->cols) + 128 + (size_t)nrows * (size_t)ncols * 32;
    char *ins = malloc(cap);
    if (!ins)
        return NULL;
    size_t k = (size_t)snprintf(ins, cap, "INSERT INTO \"%s\" (%s) VALUES ", t->name, t->cols);
    for (int r = 0; r < nrows; r++)
        for (int i = 1; i <= ncols; i++)
            k += (size_t)snprintf(ins + k, cap - k, "%s%s%s",
                                  i > 1 ? ", "
                                  : r   ? ", ("
                                        : "(",
                                  t->has_geom && i == ncols ? "ST_GeomFromWKB(?, 4326)" : "?",
                                  i == ncols ? ")" : "");
    return ins;
}

/* One value read from the source, kept until its row is inserted. */
typedef struct cell {
    situ_db_type type;
    long long i;
    double d;
    void *p; /* text or blob, owned */
    int n;
} cell;

/* Keeps column i of the source row in *c (text and blobs copied). */
static int keep_column(situ_db_stmt *row, int i, cell *c)
{
    *c = (cell){.type = situ_db_column_type(row, i)};
    switch (c->type) {
    case SITU_DB_INTEGER:
        c->i = situ_db_column_int64(row, i);
        return 0;
    case SITU_DB_FLOAT:
        c->d = situ_db_column_double(row, i);
        return 0;
    case SITU_DB_TEXT:
    case SITU_DB_BLOB: {
        int text = c->type == SITU_DB_TEXT;
        const void *p =
            text ? (const void *)situ_db_column_text(row, i) : situ_db_column_blob(row, i);
        c->n = situ_db_column_bytes(row, i);
        if (!(c->p = malloc((size_t)c->n + 1)))
            return SITU_ENOMEM;
        memcpy(c->p, p, (size_t)c->n);
        ((char *)c->p)[c->n] = '\0';
        return 0;
    }
    default:
        c->type = SITU_DB_NULL;
        return 0;
    }
}

static void bind_cell(situ_db_stmt *ins, int k, const cell *c)
{
    switch (c->type) {
    case SITU_DB_INTEGER:
        situ_db_bind_int64(ins, k, c->i);
        break;
    case SITU_DB_FLOAT:
        situ_db_bind_double(ins, k, c->d);
        break;
    case SITU_DB_TEXT:
        situ_db_bind_text(ins, k, c->p, c->n);
        break;
    case SITU_DB_BLOB:
        situ_db_bind_blob(ins, k, c->p, c->n);
        break;
    default:
        situ_db_bind_null(ins, k);
    }
}

/* Rows per INSERT: one row on SQLite (a local call), on PostgreSQL as many
 * as make one round trip carry 7000 parameters at most (libpq 15 takes a
 * longer statement description for a lost synchronization). */
static int rows_per_insert(situ_db *dst, int ncols)
{
    if (situ_db_engine_of(dst) != SITU_DB_POSTGRES)
        return 1;
    return 7000 / ncols < 500 ? 7000 / ncols : 500;
}

/* A table's copy in progress: rows kept until a statement's worth. */
typedef struct copier {
    situ_db *dst;
    const table *t;
    int ncols, per, n;  /* columns, rows per statement, rows kept */
    cell *cells;        /* per * ncols */
    situ_db_stmt *full; /* the statement of per rows */
} copier;

/* Frees the kept rows' text and blobs. */
static void forget_rows(copier *c)
{
    for (int k = 0; k < c->n * c->ncols; k++) {
        free(c->cells[k].p);
        c->cells[k].p = NULL;
    }
    c->n = 0;
}

/* Inserts the n kept rows and forgets them. */
static int flush_rows(copier *c, situ_err *err)
{
    situ_db_stmt *st = c->n == c->per ? c->full : NULL;
    int rc = 0;
    if (!st && c->n) {
        char *sql = insert_sql(c->t, c->ncols, c->n);
        rc = !sql ? situ_err_set(err, SITU_ENOMEM, "out of memory")
             : situ_db_prepare(c->dst, sql, &st, err) ? SITU_EDB
                                                      : 0;
        free(sql);
    }
    for (int k = 0; !rc && k < c->n * c->ncols; k++)
        bind_cell(st, k + 1, &c->cells[k]);
    if (!rc && c->n && situ_db_step(st) != SITU_DB_DONE)
        rc = db_fail(c->dst, err, "copy into", c->t->name);
    if (st)
        situ_db_reset(st);
    if (st && st != c->full)
        situ_db_finalize(st);
    forget_rows(c);
    return rc;
}

/* Copies every row of t from src to dst; *rows gets how many. */
static int copy_table(situ_db *src, situ_db *dst, const table *t, long long *rows, situ_err *err)
{
    char sel[2300];
    copier c = {.dst = dst, .t = t};
    select_sql(t, sel, sizeof sel, &c.ncols);
    c.per = rows_per_insert(dst, c.ncols);
    char *ins = insert_sql(t, c.ncols, c.per);
    c.cells = calloc((size_t)c.per * (size_t)c.ncols, sizeof *c.cells);
    situ_db_stmt *s = NULL;
    int rc = !ins || !c.cells ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0, step;
    if (!rc && (situ_db_prepare(src, sel, &s, err) || situ_db_prepare(dst, ins, &c.full, err)))
        rc = SITU_EDB;
    free(ins);
    *rows = 0;
    while (!rc && (step = situ_db_step(s)) == SITU_DB_ROW) {
        for (int i = 0; !rc && i < c.ncols; i++)
            if (keep_column(s, i, &c.cells[c.n * c.ncols + i]))
                rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
        c.n++, *rows += !rc;
        if (!rc && c.n == c.per)
            rc = flush_rows(&c, err);
    }
    if (!rc && step != SITU_DB_DONE)
        rc = db_fail(src, err, "read", t->name);
    if (!rc)
        rc = flush_rows(&c, err);
    if (c.cells)
        forget_rows(&c);
    situ_db_finalize(s);
    situ_db_finalize(c.full);
    free(c.cells);
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

/*
 * retain.c: retention. Expired alerts and old event_log rows (but each
 * department's last) move to an archive (a situ file of the same schema)
 * and leave the store; and the sizes `situ check` reports. No scheduling, no publishing: situd's
 * writer and `situ retain` call situ_retain_run, and publish what it says it removed.
 *
 * One batch of one table, so that a kill anywhere loses nothing:
 *   SELECT due rows (key > last) from the store
 *   -> archive: BEGIN; INSERT OR IGNORE each; COMMIT (synchronous=FULL, synced)
 *   -> store:   BEGIN; DELETE the batch's rows the archive holds; COMMIT
 *   -> last = the batch's highest key; again until no row is due.
 * Killed before the store's COMMIT, the rows are in both files; the next run
 * archives them again (ignored: already there) and deletes them.
 */
#include "situ/retain.h"

#include <sqlite3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/buf.h"
#include "situ/clock.h"

#define ARC "situ_arc" /* the archive, attached to the store's connection */

/* A table retention moves: its key (ascending, unique), when a row is due
 * (?1 = the cutoff), and how the archive's copy x matches the store's row t;
 * is_alerts: the archive numbers the rows itself (fid) and the removed rows
 * are reported; own_key: the archive numbers them, unreported. */
typedef struct retain_table {
    const char *name, *key, *due, *same;
    int is_alerts, own_key;
    size_t counter; /* offset of the situ_retain_stats count of its rows */
} retain_table;

static const retain_table retained[] = {
    {"alerts", "fid", "expires IS NOT NULL AND expires < ?1",
     "x.id = t.id AND x.updated_at IS t.updated_at", 1, 1, offsetof(situ_retain_stats, alerts)},
    /* each department's last event stays: GET /feeds tells "stale" from "silent" by it */
    {"event_log", "seq",
     "received_at < ?1 AND seq NOT IN (SELECT max(seq) FROM main.event_log GROUP BY dept)",
     "x.seq = t.seq", 0, 0, offsetof(situ_retain_stats, events)},
    /* closures that ended (closure_end, or their until) before the cutoff */
    {"road_closures", "fid", "min(coalesce(ended_at, until), coalesce(until, ended_at)) < ?1",
     "x.id = t.id AND x.updated_at IS t.updated_at", 0, 1, offsetof(situ_retain_stats, closures)},
};

/* ---- times and names --------------------------------------------------------- */

/* now (RFC 3339 UTC or NULL for the clock) minus days, as RFC 3339 UTC. */
static int cutoff_of(const char *now, int days, char out[32], int *out_year)
{
    struct tm tm = {0};
    time_t t = time(NULL);
    if (now) {
        if (sscanf(now, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
            return -1;
        tm.tm_year -= 1900, tm.tm_mon -= 1;
        t = timegm(&tm);
    }
    gmtime_r(&t, &tm);
    *out_year = tm.tm_year + 1900;
    t -= (time_t)days * 86400;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return 0;
}

void situ_retain_default_archive(const char *db, const char *now, char *out, size_t n)
{
    char cut[32];
    int year = 1970;
    if (cutoff_of(now, 0, cut, &year))
        cutoff_of(NULL, 0, cut, &year);
    const char *slash = db ? strrchr(db, '/') : NULL;
    int dir = slash ? (int)(slash - db) : 1;
    snprintf(out, n, "%.*s/archive/situ-archive-%04d.sqlite", dir, slash ? db : ".", year);
}

/* ---- one table ------------------------------------------------------------------ */

typedef struct retain_run {
    situ_store *s, *arc;
    sqlite3 *db, *adb;
    const situ_retain_opts *o;
    situ_retain_stats *st;
    char cutoff[32];
    int batch;
    double deadline; /* situ_clock_s(); 0: none */
    situ_err *err;
} retain_run;

static int fail_db(sqlite3 *db, situ_err *err, const char *what)
{
    return situ_err_set(err, SITU_EDB, "retain: %s: %s", what, sqlite3_errmsg(db));
}

/* The columns of table t, quoted and comma-separated, without the key
 * when the archive assigns its own (alerts' fid). */
static int column_list(sqlite3 *db, const retain_table *t, situ_buf *out, int *out_n)
{
    char sql[128];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "PRAGMA main.table_info(\"%s\")", t->name);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return SITU_EDB;
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 1);
        if (!c || (t->own_key && !strcmp(c, t->key)))
            continue;
        situ_buf_printf(out, "%s\"%s\"", n++ ? ", " : "", c);
    }
    sqlite3_finalize(st);
    *out_n = n;
    return out->oom || !n ? SITU_EDB : 0;
}

/* Copies the next batch of due rows (key > last) into the archive in one
 * commit; *out_hi gets the batch's highest key, *out_n its rows. */
static int archive_batch(retain_run *r, const retain_table *t, long long last, long long *out_hi,
                         int *out_n)
{
    situ_buf cols, q;
    situ_buf_init(&cols), situ_buf_init(&q);
    sqlite3_stmt *sel = NULL, *ins = NULL;
    int ncols = 0, n = 0, rc = column_list(r->db, t, &cols, &ncols);
    if (rc) {
        rc = fail_db(r->db, r->err, "columns");
        goto done;
    }
    situ_buf_printf(&q, "SELECT %s, %s FROM main.\"%s\" WHERE %s AND %s > ?2 ORDER BY %s LIMIT ?3",
                    t->key, cols.p, t->name, t->due, t->key, t->key);
    if (q.oom || sqlite3_prepare_v2(r->db, q.p, -1, &sel, NULL)) {
        rc = fail_db(r->db, r->err, "select");
        goto done;
    }
    q.n = 0;
    situ_buf_printf(&q, "INSERT OR IGNORE INTO \"%s\" (%s) VALUES (?", t->name, cols.p);
    for (int i = 1; i < ncols; i++)
        situ_buf_adds(&q, ", ?");
    situ_buf_adds(&q, ")");
    if (q.oom || sqlite3_prepare_v2(r->adb, q.p, -1, &ins, NULL)) {
        rc = fail_db(r->adb, r->err, "archive insert");
        goto done;
    }
    sqlite3_bind_text(sel, 1, r->cutoff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(sel, 2, last);
    sqlite3_bind_int(sel, 3, r->batch);
    if ((rc = situ_store_begin(r->arc, r->err)))
        goto done;
    while (!rc && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        *out_hi = sqlite3_column_int64(sel, 0);
        for (int i = 0; i < ncols; i++)
            sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i + 1));
        rc = sqlite3_step(ins) == SQLITE_DONE ? 0 : fail_db(r->adb, r->err, "archive insert");
        sqlite3_reset(ins);
        n++;
    }
    if (rc == SQLITE_DONE)
        rc = 0;
    else if (rc > 0)
        rc = fail_db(r->db, r->err, "select");
    if (!rc)
        rc = situ_store_commit(r->arc, r->err);
    if (rc)
        situ_store_rollback(r->arc);
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    situ_buf_dispose(&cols), situ_buf_dispose(&q);
    *out_n = n;
    return rc;
}

typedef struct removed_alert {
    char id[256];
    double bbox[4];
} removed_alert;

/* Reads the alerts the delete will remove (id and box), to report them. */
static int read_removed(retain_run *r, sqlite3_stmt *st, removed_alert **out, int *out_n)
{
    int n = 0, cap = 0, rc;
    removed_alert *a = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            removed_alert *p = realloc(a, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *p);
            if (!p) {
                free(a);
                return situ_err_set(r->err, SITU_ENOMEM, "out of memory");
            }
            a = p;
        }
        snprintf(a[n].id, sizeof a[n].id, "%s", (const char *)sqlite3_column_text(st, 0));
        for (int i = 0; i < 4; i++)
            a[n].bbox[i] = sqlite3_column_double(st, i + 1);
        n++;
    }
    *out = a, *out_n = n;
    return rc == SQLITE_DONE ? 0 : fail_db(r->db, r->err, "removed alerts");
}

/* Deletes from the store the rows of batch (last, hi] that the archive
 * holds, in one commit; reports removed alerts after it. */
static int delete_batch(retain_run *r, const retain_table *t, long long last, long long hi,
                        int nbatch)
{
    char where[512], sql[768];
    snprintf(where, sizeof where,
             "WHERE %s AND t.%s > ?2 AND t.%s <= ?3 AND EXISTS (SELECT 1 FROM " ARC
             ".\"%s\" x WHERE %s)",
             t->due, t->key, t->key, t->name, t->same);
    sqlite3_stmt *sel = NULL, *del = NULL;
    removed_alert *gone = NULL;
    int ngone = 0, rc = situ_store_begin(r->s, r->err);
    if (rc)
        return rc;
    snprintf(sql, sizeof sql,
             "SELECT id, MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), MbrMaxY(geom) "
             "FROM main.\"%s\" AS t %s",
             t->name, where);
    if (t->is_alerts && sqlite3_prepare_v2(r->db, sql, -1, &sel, NULL))
        rc = fail_db(r->db, r->err, "select removed");
    snprintf(sql, sizeof sql, "DELETE FROM main.\"%s\" AS t %s", t->name, where);
    if (!rc && sqlite3_prepare_v2(r->db, sql, -1, &del, NULL))
        rc = fail_db(r->db, r->err, "delete");
    for (int k = 0; !rc && k < 2; k++) {
        sqlite3_stmt *st = k ? del : sel;
        if (!st)
            continue;
        sqlite3_bind_text(st, 1, r->cutoff, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, last);
        sqlite3_bind_int64(st, 3, hi);
        if (st == sel)
            rc = read_removed(r, sel, &gone, &ngone);
        else if (sqlite3_step(del) != SQLITE_DONE)
            rc = fail_db(r->db, r->err, "delete");
    }
    int removed = rc ? 0 : sqlite3_changes(r->db);
    sqlite3_finalize(sel);
    sqlite3_finalize(del);
    if (!rc)
        rc = situ_store_commit(r->s, r->err);
    if (rc) {
        situ_store_rollback(r->s);
        free(gone);
        return rc;
    }
    *(long long *)((char *)r->st + t->counter) += removed;
    r->st->unmoved += nbatch - removed;
    for (int i = 0; r->o->removed && i < ngone; i++)
        r->o->removed(r->o->ctx, gone[i].id, gone[i].bbox);
    free(gone);
    return 0;
}

/* Archives and deletes every due row of t, batch by batch. 1 when the
 * after_archive hook or the deadline stopped the run. */
static int retain_table_rows(retain_run *r, const retain_table *t)
{
    long long last = 0, hi = 0;
    for (;;) {
        int n = 0, rc = archive_batch(r, t, last, &hi, &n);
        if (rc || n == 0)
            return rc;
        if (r->o->after_archive && r->o->after_archive(r->o->ctx))
            return 1;
        if ((rc = delete_batch(r, t, last, hi, n)))
            return rc;
        last = hi;
        if (r->deadline > 0 && situ_clock_s() > r->deadline)
            return r->st->more = 1;
    }
}

/* ---- the run ---------------------------------------------------------------------- */

/* Opens (creating) the archive: a situ file, rollback journal so that it is
 * one self-contained file between runs, every commit synced. */
static int open_archive(retain_run *r, const char *path)
{
    situ_store_make_parent(path);
    if (situ_store_open(path, SITU_STORE_CREATE, &r->arc, r->err))
        return r->err ? r->err->code : SITU_EIO;
    r->adb = situ_store_db(r->arc);
    return situ_store_exec(r->arc, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL", r->err);
}

static int attach_archive(retain_run *r, const char *path)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "ATTACH DATABASE ?1 AS " ARC, -1, &st, NULL))
        return fail_db(r->db, r->err, "attach");
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail_db(r->db, r->err, "attach");
    sqlite3_finalize(st);
    return rc;
}

/* 1 when a row of some retained table is due, 0 when none, < 0 failed. */
static int anything_due(retain_run *r)
{
    for (size_t i = 0; i < sizeof retained / sizeof retained[0]; i++) {
        char sql[256];
        sqlite3_stmt *st;
        snprintf(sql, sizeof sql, "SELECT 1 FROM main.\"%s\" WHERE %s LIMIT 1", retained[i].name,
                 retained[i].due);
        if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL))
            return fail_db(r->db, r->err, "due");
        sqlite3_bind_text(st, 1, r->cutoff, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return fail_db(r->db, r->err, "due");
        if (rc == SQLITE_ROW)
            return 1;
    }
    return 0;
}

int situ_retain_run(situ_store *s, const situ_retain_opts *o, situ_retain_stats *stats,
                    situ_err *err)
{
    situ_retain_stats local;
    situ_retain_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    retain_run r = {.s = s, .db = situ_store_db(s), .o = o, .st = st, .err = err};
    int year, days = o->days > 0 ? o->days : SITU_RETAIN_DAYS;
    r.batch = o->batch > 0 ? o->batch : SITU_RETAIN_BATCH;
    r.deadline = o->max_ms > 0 ? situ_clock_s() + o->max_ms / 1e3 : 0;
    if (cutoff_of(o->now, days, r.cutoff, &year))
        return situ_err_set(err, SITU_EINVAL, "retain: now '%s' is not RFC 3339 UTC", o->now);
    memcpy(st->cutoff, r.cutoff, sizeof st->cutoff);
    if (o->archive && *o->archive)
        snprintf(st->archive, sizeof st->archive, "%s", o->archive);
    else
        situ_retain_default_archive(sqlite3_db_filename(r.db, "main"), o->now, st->archive,
                                    sizeof st->archive);
    int rc = anything_due(&r);
    if (rc <= 0) /* nothing due: no archive made, the writer not held */
        return rc;
    rc = open_archive(&r, st->archive);
    int attached = !rc && !(rc = attach_archive(&r, st->archive));
    for (size_t i = 0; !rc && i < sizeof retained / sizeof retained[0]; i++)
        rc = retain_table_rows(&r, &retained[i]);
    if (attached)
        sqlite3_exec(r.db, "DETACH DATABASE " ARC, NULL, NULL, NULL);
    situ_store_close(r.arc);
    return rc > 0 ? 0 : rc;
}

/* ---- sizes ------------------------------------------------------------------------- */

static long long scalar(sqlite3 *db, const char *sql, const char *arg, int *ok)
{
    sqlite3_stmt *st;
    long long v = 0;
    *ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    if (!*ok)
        return 0;
    if (arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *ok = rc == SQLITE_ROW || rc == SQLITE_DONE;
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Bytes of table name with its indexes and its spatial index's shadow
 * tables, from dbstat; -1 when this SQLite has no dbstat. */
static long long table_bytes(sqlite3 *db, const char *name)
{
    int ok;
    long long b = scalar(db,
                         "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                         "(SELECT name FROM sqlite_master WHERE tbl_name = ?1 "
                         "OR tbl_name LIKE 'idx_' || ?1 || '_geom%')",
                         name, &ok);
    return ok ? b : -1;
}

static void log_time(sqlite3 *db, const char *sql, char out[32], long long *out_seq)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    *out_seq = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        snprintf(out, 32, "%s", (const char *)sqlite3_column_text(st, 0));
        *out_seq = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
}

int situ_retain_sizes(situ_store *s, situ_store_sizes *out, situ_err *err)
{
    sqlite3 *db = situ_store_db(s);
    static const char *const side[] = {"resource_items", "event_log", "tokens"};
    memset(out, 0, sizeof *out);
    for (int i = 0; i < SITU_NCOLLECTIONS + 3; i++) {
        situ_table_size *t = &out->tables[out->n++];
        snprintf(t->name, sizeof t->name, "%s",
                 i < SITU_NCOLLECTIONS ? situ_schema_collection((situ_coll_id)i)->id
                                       : side[i - SITU_NCOLLECTIONS]);
        char sql[128];
        int ok;
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", t->name);
        t->rows = scalar(db, sql, NULL, &ok);
        if (!ok)
            return situ_err_set(err, SITU_EDB, "count %s: %s", t->name, sqlite3_errmsg(db));
        t->bytes = table_bytes(db, t->name);
    }
    int ok;
    out->file_bytes = scalar(db,
                             "SELECT page_count * page_size FROM pragma_page_count(), "
                             "pragma_page_size()",
                             NULL, &ok);
    log_time(db, "SELECT received_at, seq FROM event_log ORDER BY seq LIMIT 1", out->log_first,
             &out->log_first_seq);
    log_time(db, "SELECT received_at, seq FROM event_log ORDER BY seq DESC LIMIT 1", out->log_last,
             &out->log_last_seq);
    return 0;
}

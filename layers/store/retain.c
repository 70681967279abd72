/*
 * retain.c: retention. Expired alerts and old event_log rows (but each
 * department's last) move to an archive (a situ SpatiaLite file of the same
 * schema) and leave the store; and the sizes `situ check` reports. No
 * scheduling, no publishing: situd's writer and `situ retain` call
 * situ_retain_run, and publish what it says it removed. The store may be
 * SpatiaLite or PostgreSQL (situ_db); the archive is always a SpatiaLite file.
 *
 * One batch of one table, so that a kill anywhere loses nothing:
 *   SELECT due rows (key > last) from the store, keeping each row's identity
 *   -> archive: BEGIN; INSERT ... ON CONFLICT DO NOTHING each; COMMIT (synced)
 *   -> store:   BEGIN; DELETE each row of the batch the archive holds as it
 *               is in the store (same id and updated_at; event_log: seq); COMMIT
 *   -> last = the batch's highest key; again until no row is due.
 * Killed before the store's COMMIT, the rows are in both files; the next run
 * archives them again (ignored: already there) and deletes them. A row
 * changed since it was found due (another updated_at) is not deleted: the
 * archive does not hold that version.
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
#include "situ/db.h"
#include "situ/feed.h"

/* A table retention moves: its key (ascending, unique), when a row is due
 * (?1 = the cutoff), and how the archive's copy of a row is found (same);
 * own_key: the archive numbers the rows itself (its key is not copied) and
 * a row is found by id and updated_at, else by its key; is_alerts: the
 * removed rows are reported. */
typedef struct retain_table {
    const char *name, *key, *due, *same;
    int is_alerts, own_key;
    size_t counter; /* offset of the situ_retain_stats count of its rows */
} retain_table;

#define SAME_VERSION "id = ?1 AND updated_at = ?2"

static const retain_table retained[] = {
    {"alerts", "fid", "expires IS NOT NULL AND expires < ?1", SAME_VERSION, 1, 1,
     offsetof(situ_retain_stats, alerts)},
    /* each department's last event stays: GET /feeds tells "stale" from "silent" by it
     * (retention's own rows are no department's event) */
    {"event_log", "seq",
     "received_at < ?1 AND seq NOT IN (SELECT max(seq) FROM event_log WHERE type <> "
     "'" SITU_RETAIN_LOG_TYPE "' GROUP BY dept)",
     "seq = ?1", 0, 0, offsetof(situ_retain_stats, events)},
    /* closures that ended (closure_end, or their until) before the cutoff */
    {"road_closures", "fid", "(ended_at < ?1 OR until < ?1)", SAME_VERSION, 0, 1,
     offsetof(situ_retain_stats, closures)},
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

/* A row of a batch as the store had it when it was found due. */
typedef struct batch_row {
    long long key;
    char *id, *updated_at; /* own_key tables: how the archive's copy is found */
    double bbox[4];        /* alerts: reported when removed */
} batch_row;

typedef struct batch {
    batch_row *v;
    int n, cap;
} batch;

static void batch_clear(batch *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->v[i].id), free(b->v[i].updated_at);
    b->n = 0;
}

typedef struct retain_run {
    situ_store *s, *arc;
    situ_db *db, *adb;
    const situ_retain_opts *o;
    situ_retain_stats *st;
    char cutoff[32];
    int batch;
    double deadline; /* situ_clock_s(); 0: none */
    batch rows;      /* the batch being moved */
    situ_err *err;
} retain_run;

static int fail_db(situ_db *db, situ_err *err, const char *what)
{
    return situ_err_set(err, SITU_EDB, "retain: %s: %s", what, situ_db_errmsg(db));
}

/* The columns of a table in the store, in their order. */
static const char *const columns_sql[] = {
    [SITU_DB_SQLITE] = "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
    [SITU_DB_POSTGRES] = "SELECT column_name FROM information_schema.columns WHERE "
                         "table_schema = current_schema() AND table_name = ?1 "
                         "ORDER BY ordinal_position",
};

/* The columns of table t in the store, without the key when the archive
 * assigns its own (alerts' fid): into sel as read (the geometry as WKB),
 * names quoted, vals as the INSERT's parameters (the WKB made geometry). */
static int column_lists(retain_run *r, const retain_table *t, situ_buf *sel, situ_buf *names,
                        situ_buf *vals)
{
    situ_db_stmt *st;
    int n = 0, rc = situ_db_prepare(r->db, columns_sql[situ_db_engine_of(r->db)], &st, r->err);
    if (rc)
        return rc;
    situ_db_bind_text(st, 1, t->name, -1);
    while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
        const char *c = situ_db_column_text(st, 0);
        if (!c || (t->own_key && !strcmp(c, t->key)))
            continue;
        int geom = !strcmp(c, "geom");
        situ_buf_printf(sel, geom ? ", ST_AsBinary(\"%s\")" : ", \"%s\"", c);
        situ_buf_printf(names, "%s\"%s\"", n ? ", " : "", c);
        situ_buf_printf(vals, "%s%s", n++ ? ", " : "", geom ? "ST_GeomFromWKB(?, 4326)" : "?");
    }
    rc = rc < 0 ? fail_db(r->db, r->err, "columns") : 0;
    situ_db_finalize(st);
    if (!rc && (sel->oom || names->oom || vals->oom || !n))
        rc = situ_err_set(r->err, SITU_EDB, "retain: no columns of %s", t->name);
    return rc;
}

/* Binds value i of sel's current row to parameter k of ins, as it is. */
static void copy_value(situ_db_stmt *ins, int k, situ_db_stmt *sel, int i)
{
    switch (situ_db_column_type(sel, i)) {
    case SITU_DB_INTEGER:
        situ_db_bind_int64(ins, k, situ_db_column_int64(sel, i));
        break;
    case SITU_DB_FLOAT:
        situ_db_bind_double(ins, k, situ_db_column_double(sel, i));
        break;
    case SITU_DB_TEXT: {
        const char *s = situ_db_column_text(sel, i); /* before its length, as SQLite asks */
        situ_db_bind_text(ins, k, s, situ_db_column_bytes(sel, i));
        break;
    }
    case SITU_DB_BLOB: {
        const void *p = situ_db_column_blob(sel, i);
        situ_db_bind_blob(ins, k, p, situ_db_column_bytes(sel, i));
        break;
    }
    default:
        situ_db_bind_null(ins, k);
    }
}

/* Keeps the identity of sel's current row (key, id, updated_at, box) in
 * the batch. */
static int keep_row(retain_run *r, situ_db_stmt *sel)
{
    batch *b = &r->rows;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        batch_row *v = realloc(b->v, (size_t)cap * sizeof *v);
        if (!v)
            return situ_err_set(r->err, SITU_ENOMEM, "out of memory");
        b->v = v, b->cap = cap;
    }
    batch_row *w = &b->v[b->n];
    const char *id = situ_db_column_text(sel, 1), *at = situ_db_column_text(sel, 2);
    w->key = situ_db_column_int64(sel, 0);
    w->id = id ? strdup(id) : NULL;
    w->updated_at = at ? strdup(at) : NULL;
    for (int i = 0; i < 4; i++)
        w->bbox[i] = situ_db_column_double(sel, 3 + i);
    b->n++;
    if ((id && !w->id) || (at && !w->updated_at))
        return situ_err_set(r->err, SITU_ENOMEM, "out of memory");
    return 0;
}

#define HEAD 7 /* key, id, updated_at, box: the columns before those copied */

/* Prepares the SELECT of the next batch of due rows (key > ?2, ?3 of them)
 * from the store and the archive's INSERT of them; *out_n: columns copied. */
static int prepare_copy(retain_run *r, const retain_table *t, situ_db_stmt **sel,
                        situ_db_stmt **ins, int *out_n)
{
    situ_buf cols, names, vals, q;
    situ_buf_init(&cols), situ_buf_init(&names), situ_buf_init(&vals), situ_buf_init(&q);
    int rc = column_lists(r, t, &cols, &names, &vals);
    situ_buf_printf(&q, "SELECT %s, %s, %s%s FROM \"%s\" WHERE %s AND %s > ?2 ORDER BY %s LIMIT ?3",
                    t->key, t->own_key ? "id, updated_at" : "NULL, NULL",
                    t->is_alerts ? "ST_MinX(geom), ST_MinY(geom), ST_MaxX(geom), ST_MaxY(geom)"
                                 : "NULL, NULL, NULL, NULL",
                    cols.p, t->name, t->due, t->key, t->key);
    if (!rc && !q.oom)
        rc = situ_db_prepare(r->db, q.p, sel, r->err);
    q.n = 0;
    situ_buf_printf(&q, "INSERT INTO \"%s\" (%s) VALUES (%s) ON CONFLICT DO NOTHING", t->name,
                    names.p, vals.p);
    if (!rc && !q.oom)
        rc = situ_db_prepare(r->adb, q.p, ins, r->err);
    if (!rc && q.oom)
        rc = situ_err_set(r->err, SITU_ENOMEM, "out of memory");
    *out_n = 0;
    for (size_t i = 0; !rc && i < vals.n; i++)
        *out_n += vals.p[i] == '?';
    situ_buf_dispose(&cols), situ_buf_dispose(&names), situ_buf_dispose(&vals);
    situ_buf_dispose(&q);
    return rc;
}

/* Copies the next batch of due rows (key > last) into the archive in one
 * commit, keeping each row's identity in r->rows. */
static int archive_batch(retain_run *r, const retain_table *t, long long last)
{
    situ_db_stmt *sel = NULL, *ins = NULL;
    int ncols = 0, step = SITU_DB_DONE, rc = prepare_copy(r, t, &sel, &ins, &ncols);
    batch_clear(&r->rows);
    if (rc)
        goto done;
    situ_db_bind_text(sel, 1, r->cutoff, -1);
    situ_db_bind_int64(sel, 2, last);
    situ_db_bind_int64(sel, 3, r->batch);
    if ((rc = situ_store_begin(r->arc, r->err)))
        goto done;
    while (!rc && (step = situ_db_step(sel)) == SITU_DB_ROW) {
        if ((rc = keep_row(r, sel)))
            break;
        for (int i = 0; i < ncols; i++)
            copy_value(ins, i + 1, sel, HEAD + i);
        if (situ_db_step(ins) != SITU_DB_DONE)
            rc = fail_db(r->adb, r->err, "archive insert");
        situ_db_reset(ins);
    }
    if (!rc && step < 0)
        rc = fail_db(r->db, r->err, "select");
    if (!rc)
        rc = situ_store_commit(r->arc, r->err);
    if (rc)
        situ_store_rollback(r->arc);
done:
    situ_db_finalize(sel);
    situ_db_finalize(ins);
    return rc;
}

/* Binds how row w of table t is found (t->same) to st. */
static void bind_same(situ_db_stmt *st, const retain_table *t, const batch_row *w)
{
    if (!t->own_key) {
        situ_db_bind_int64(st, 1, w->key);
        return;
    }
    situ_db_bind_text(st, 1, w->id, -1);
    if (w->updated_at)
        situ_db_bind_text(st, 2, w->updated_at, -1);
    else
        situ_db_bind_null(st, 2);
}

/* 1 when the archive holds row w as the store had it, 0 when not, < 0. */
static int archive_holds(retain_run *r, situ_db_stmt *held, const retain_table *t,
                         const batch_row *w)
{
    situ_db_reset(held);
    bind_same(held, t, w);
    int rc = situ_db_step(held);
    return rc >= 0 ? rc == SITU_DB_ROW : fail_db(r->adb, r->err, "archive lookup");
}

static long long scalar(situ_db *db, const char *sql, const char *arg, int *ok);

/* The department a retention log row is filed under: the first removed
 * alert's (fed alerts' ids are dept:id), else the first department. */
static const char *removal_dept(const retain_run *r, const char *gone)
{
    for (int i = 0; i < r->rows.n; i++) {
        if (!gone[i])
            continue;
        const char *id = r->rows.v[i].id;
        char dept[64];
        snprintf(dept, sizeof dept, "%.*s", (int)strcspn(id, ":"), id);
        int d = id[strcspn(id, ":")] ? situ_schema_dept_index(dept) : -1;
        if (d >= 0)
            return situ_schema_dept(d)->code;
    }
    return situ_schema_dept(0)->code;
}

/* Logs the alerts of the batch marked in gone as one event_log row of type
 * SITU_RETAIN_LOG_TYPE (its changes: each alert "removed"), in the delete's
 * transaction and, on PostgreSQL, under the seq lock like a feed batch: so
 * the removal has a seq, and every situd following the log drops the same
 * alerts at the same point of the one order. The event id holds the cutoff
 * and the seq, so a retry (a later cutoff) never meets an id taken before. */
static int log_removals(retain_run *r, const char *gone, long long *out_seq)
{
    situ_db_stmt *st = NULL;
    situ_buf ch;
    situ_buf_init(&ch);
    situ_buf_addc(&ch, '[');
    for (int i = 0, k = 0; i < r->rows.n; i++) {
        if (!gone[i])
            continue;
        situ_feed_change c = {.cid = SITU_C_ALERTS, .kind = SITU_CHANGE_REMOVED};
        snprintf(c.id, sizeof c.id, "%s", r->rows.v[i].id);
        memcpy(c.bbox, r->rows.v[i].bbox, sizeof c.bbox);
        if (k++)
            situ_buf_addc(&ch, ',');
        situ_feed_change_json(&c, &ch);
    }
    situ_buf_addc(&ch, ']');
    int pg = situ_db_engine_of(r->db) == SITU_DB_POSTGRES, ok = 1;
    int rc = ch.oom ? situ_err_set(r->err, SITU_ENOMEM, "out of memory") : 0;
    if (!rc && pg && situ_store_exec(r->s, SITU_SEQ_LOCK_SQL, r->err))
        rc = SITU_EDB;
    long long seq = rc ? 0 : scalar(r->db, "SELECT max(seq) FROM event_log", NULL, &ok) + 1;
    if (!rc && !ok)
        rc = fail_db(r->db, r->err, "event_log");
    if (!rc)
        rc = situ_db_prepare(r->db,
                             "INSERT INTO event_log (seq, dept, event_id, type, received_at, body, "
                             "changes) VALUES (?1, ?2, ?3, '" SITU_RETAIN_LOG_TYPE "', ?4, ?5, ?6)",
                             &st, r->err);
    if (!rc) {
        char now[32], id[96], body[96];
        if (r->o->now) /* a drill's or a test's time */
            snprintf(now, sizeof now, "%s", r->o->now);
        else
            situ_store_now(now);
        snprintf(id, sizeof id, "retention %s seq %lld", r->cutoff, seq);
        snprintf(body, sizeof body, "{\"cutoff\":\"%s\"}", r->cutoff);
        situ_db_bind_int64(st, 1, seq);
        situ_db_bind_text(st, 2, removal_dept(r, gone), -1);
        situ_db_bind_text(st, 3, id, -1);
        situ_db_bind_text(st, 4, now, -1);
        situ_db_bind_text(st, 5, body, -1);
        situ_db_bind_text(st, 6, ch.p, (int)ch.n);
        rc = situ_db_step(st) == SITU_DB_DONE ? 0 : fail_db(r->db, r->err, "log the removal");
        *out_seq = seq;
    }
    situ_db_finalize(st);
    situ_buf_dispose(&ch);
    return rc;
}

/* Deletes from the store each row of the batch the archive holds, in one
 * commit with the log row of the alerts removed; marks them (gone[]) and
 * reports removed alerts after the commit. */
static int delete_batch(retain_run *r, const retain_table *t)
{
    char sql[256];
    situ_db_stmt *held = NULL, *del = NULL;
    char *gone = calloc((size_t)r->rows.n + 1, 1);
    long long seq = 0;
    int removed = 0, rc = gone ? 0 : situ_err_set(r->err, SITU_ENOMEM, "out of memory");
    snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE %s", t->name, t->same);
    if (!rc)
        rc = situ_db_prepare(r->adb, sql, &held, r->err);
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\" WHERE %s", t->name, t->same);
    if (!rc)
        rc = situ_db_prepare(r->db, sql, &del, r->err);
    if (!rc)
        rc = situ_store_begin(r->s, r->err);
    int began = !rc;
    for (int i = 0; !rc && i < r->rows.n; i++) {
        const batch_row *w = &r->rows.v[i];
        if ((rc = archive_holds(r, held, t, w)) != 1)
            continue;
        situ_db_reset(del);
        bind_same(del, t, w);
        rc = situ_db_step(del) == SITU_DB_DONE ? 0 : fail_db(r->db, r->err, "delete");
        if (!rc && situ_db_changes(r->db) > 0)
            gone[i] = 1, removed++;
    }
    situ_db_finalize(held);
    situ_db_finalize(del);
    if (!rc && t->is_alerts && removed)
        rc = log_removals(r, gone, &seq);
    if (!rc)
        rc = situ_store_commit(r->s, r->err);
    if (rc && began)
        situ_store_rollback(r->s);
    if (!rc) {
        *(long long *)((char *)r->st + t->counter) += removed;
        r->st->unmoved += r->rows.n - removed;
        for (int i = 0; t->is_alerts && r->o->removed && i < r->rows.n; i++)
            if (gone[i])
                r->o->removed(r->o->ctx, r->rows.v[i].id, r->rows.v[i].bbox, seq);
    }
    free(gone);
    return rc;
}

/* Archives and deletes every due row of t, batch by batch. 1 when the
 * after_archive hook or the deadline stopped the run. */
static int retain_table_rows(retain_run *r, const retain_table *t)
{
    long long last = 0;
    for (;;) {
        int rc = archive_batch(r, t, last);
        if (rc || r->rows.n == 0)
            return rc;
        if (r->o->after_archive && r->o->after_archive(r->o->ctx))
            return 1;
        if ((rc = delete_batch(r, t)))
            return rc;
        last = r->rows.v[r->rows.n - 1].key;
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
    r->adb = situ_store_sql(r->arc);
    return situ_store_exec(r->arc, "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL", r->err);
}

/* 1 when a row of some retained table is due, 0 when none, < 0 failed. */
static int anything_due(retain_run *r)
{
    for (size_t i = 0; i < sizeof retained / sizeof retained[0]; i++) {
        char sql[256];
        situ_db_stmt *st;
        snprintf(sql, sizeof sql, "SELECT 1 FROM \"%s\" WHERE %s LIMIT 1", retained[i].name,
                 retained[i].due);
        int rc = situ_db_prepare(r->db, sql, &st, r->err);
        if (rc)
            return rc;
        situ_db_bind_text(st, 1, r->cutoff, -1);
        rc = situ_db_step(st);
        if (rc < 0)
            fail_db(r->db, r->err, "due");
        situ_db_finalize(st);
        if (rc != SITU_DB_DONE)
            return rc;
    }
    return 0;
}

/* The store's file, for the default archive beside it; NULL on PostgreSQL
 * (the archive then defaults to ./archive/). */
static const char *store_file(situ_db *db)
{
    sqlite3 *lite = situ_db_sqlite(db);
    return lite ? sqlite3_db_filename(lite, "main") : NULL;
}

int situ_retain_run(situ_store *s, const situ_retain_opts *o, situ_retain_stats *stats,
                    situ_err *err)
{
    situ_retain_stats local;
    situ_retain_stats *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    retain_run r = {.s = s, .db = situ_store_sql(s), .o = o, .st = st, .err = err};
    int year, days = o->days > 0 ? o->days : SITU_RETAIN_DAYS;
    r.batch = o->batch > 0 ? o->batch : SITU_RETAIN_BATCH;
    r.deadline = o->max_ms > 0 ? situ_clock_s() + o->max_ms / 1e3 : 0;
    if (cutoff_of(o->now, days, r.cutoff, &year))
        return situ_err_set(err, SITU_EINVAL, "retain: now '%s' is not RFC 3339 UTC", o->now);
    memcpy(st->cutoff, r.cutoff, sizeof st->cutoff);
    if (o->archive && *o->archive)
        snprintf(st->archive, sizeof st->archive, "%s", o->archive);
    else
        situ_retain_default_archive(store_file(r.db), o->now, st->archive, sizeof st->archive);
    int rc = anything_due(&r);
    if (rc <= 0) /* nothing due: no archive made, the writer not held */
        return rc;
    rc = open_archive(&r, st->archive);
    for (size_t i = 0; !rc && i < sizeof retained / sizeof retained[0]; i++)
        rc = retain_table_rows(&r, &retained[i]);
    batch_clear(&r.rows);
    free(r.rows.v);
    situ_store_close(r.arc);
    return rc > 0 ? 0 : rc;
}

/* ---- sizes ------------------------------------------------------------------------- */

static long long scalar(situ_db *db, const char *sql, const char *arg, int *ok)
{
    situ_db_stmt *st;
    long long v = 0;
    *ok = situ_db_prepare(db, sql, &st, NULL) == 0;
    if (!*ok)
        return 0;
    if (arg)
        situ_db_bind_text(st, 1, arg, -1);
    int rc = situ_db_step(st);
    *ok = rc >= 0;
    if (rc == SITU_DB_ROW)
        v = situ_db_column_int64(st, 0);
    situ_db_finalize(st);
    return v;
}

/* Bytes of a table (?1) with its indexes: on SQLite from dbstat, with the
 * spatial index's shadow tables; on PostgreSQL with its TOAST and GiST. */
static const char *const table_bytes_sql[] = {
    [SITU_DB_SQLITE] = "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                       "(SELECT name FROM sqlite_master WHERE tbl_name = ?1 "
                       "OR tbl_name LIKE 'idx_' || ?1 || '_geom%')",
    [SITU_DB_POSTGRES] = "SELECT coalesce(pg_total_relation_size(to_regclass(?1)), 0)",
};

/* Bytes of the whole store: the file, or the PostgreSQL database. */
static const char *const store_bytes_sql[] = {
    [SITU_DB_SQLITE] = "SELECT page_count * page_size FROM pragma_page_count(), "
                       "pragma_page_size()",
    [SITU_DB_POSTGRES] = "SELECT pg_database_size(current_database())",
};

/* Bytes of table name; -1 when this SQLite has no dbstat. */
static long long table_bytes(situ_db *db, const char *name)
{
    int ok;
    long long b = scalar(db, table_bytes_sql[situ_db_engine_of(db)], name, &ok);
    return ok ? b : -1;
}

static void log_time(situ_db *db, const char *sql, char out[32], long long *out_seq)
{
    situ_db_stmt *st;
    out[0] = '\0';
    *out_seq = 0;
    if (situ_db_prepare(db, sql, &st, NULL))
        return;
    if (situ_db_step(st) == SITU_DB_ROW && situ_db_column_type(st, 0) != SITU_DB_NULL) {
        snprintf(out, 32, "%s", situ_db_column_text(st, 0));
        *out_seq = situ_db_column_int64(st, 1);
    }
    situ_db_finalize(st);
}

int situ_retain_sizes(situ_store *s, situ_store_sizes *out, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
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
            return situ_err_set(err, SITU_EDB, "count %s: %s", t->name, situ_db_errmsg(db));
        t->bytes = table_bytes(db, t->name);
    }
    int ok;
    out->file_bytes = scalar(db, store_bytes_sql[situ_db_engine_of(db)], NULL, &ok);
    log_time(db, "SELECT received_at, seq FROM event_log ORDER BY seq LIMIT 1", out->log_first,
             &out->log_first_seq);
    log_time(db, "SELECT received_at, seq FROM event_log ORDER BY seq DESC LIMIT 1", out->log_last,
             &out->log_last_seq);
    return 0;
}

/*
 * feed_log.c: reading the event log back (for SSE replay with Last-Event-ID)
 * and the per-department counts behind GET /feeds: the last accepted event
 * and a ring of per-minute counts over the last day, filled from the log at
 * start and kept by the writer after each commit. No writes to the store.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/db.h"
#include "situ/feed.h"
#include "situ/retain.h"

/* ---- replay ------------------------------------------------------------------- */

static situ_change_kind kind_of(const char *s)
{
    for (int k = SITU_CHANGE_CREATED; s && k <= SITU_CHANGE_REMOVED; k++)
        if (!strcmp(situ_feed_change_kind_name((situ_change_kind)k), s))
            return (situ_change_kind)k;
    return 0;
}

static void read_box(json_t *a, double out[4])
{
    for (int i = 0; i < 4; i++)
        out[i] = json_number_value(json_array_get(a, (size_t)i));
}

/* Calls fn for each change in one log row's JSON; returns fn's stop value. */
static int row_changes(situ_db_stmt *st, situ_feed_log_fn fn, void *ctx)
{
    int d = situ_schema_dept_index(situ_db_column_text(st, 1));
    json_t *arr = json_loads(situ_db_column_text(st, 3), 0, NULL);
    int stop = 0;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        situ_feed_change c = {0};
        c.cid = situ_feed_change_target_of(json_string_value(json_object_get(o, "collection")));
        c.kind = kind_of(json_string_value(json_object_get(o, "kind")));
        if ((int)c.cid < 0 || !c.kind || !json_is_string(json_object_get(o, "id")))
            continue;
        snprintf(c.id, sizeof c.id, "%s", json_string_value(json_object_get(o, "id")));
        read_box(json_object_get(o, "bbox"), c.bbox);
        if ((c.has_old = json_is_array(json_object_get(o, "old_bbox"))))
            read_box(json_object_get(o, "old_bbox"), c.old_bbox);
        c.seq = situ_db_column_int64(st, 0);
        c.dept = d >= 0 ? situ_schema_dept(d)->code : NULL;
        snprintf(c.at, sizeof c.at, "%s", situ_db_column_text(st, 2));
        if ((stop = fn(ctx, &c)))
            break;
    }
    json_decref(arr);
    return stop;
}

int situ_feed_log_read(situ_store *s, long long after, long long upto, int max_events,
                       situ_feed_log_fn fn, void *ctx, long long *out_last, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st;
    if (situ_db_prepare(db,
                        "SELECT seq, dept, received_at, changes FROM event_log "
                        "WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
                        &st, NULL))
        return situ_err_set(err, SITU_EDB, "event_log: %s", situ_db_errmsg(db));
    situ_db_bind_int64(st, 1, after);
    situ_db_bind_int64(st, 2, upto);
    situ_db_bind_int64(st, 3, max_events);
    long long last = after;
    int rc;
    while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
        last = situ_db_column_int64(st, 0);
        if (situ_db_column_type(st, 3) == SITU_DB_TEXT && row_changes(st, fn, ctx))
            break;
    }
    int failed = rc != SITU_DB_ROW && rc != SITU_DB_DONE;
    if (failed)
        situ_err_set(err, SITU_EDB, "event_log: %s", situ_db_errmsg(db));
    situ_db_finalize(st);
    if (failed)
        return SITU_EDB;
    *out_last = last;
    return 0;
}

/* The one value sql answers, 0 when none. */
static long long log_seq(situ_store *s, const char *sql)
{
    situ_db_stmt *st;
    long long seq = 0;
    if (situ_db_prepare(situ_store_sql(s), sql, &st, NULL))
        return 0;
    if (situ_db_step(st) == SITU_DB_ROW)
        seq = situ_db_column_int64(st, 0);
    situ_db_finalize(st);
    return seq;
}

long long situ_feed_log_last(situ_store *s)
{
    return log_seq(s, "SELECT max(seq) FROM event_log");
}

long long situ_feed_log_first(situ_store *s)
{
    return log_seq(s, "SELECT min(seq) FROM event_log");
}

/* ---- counts --------------------------------------------------------------------- */

#define MINUTES 1440

typedef struct dept_stats {
    long long last; /* seconds; 0: never */
    long long minute[MINUTES];
    int count[MINUTES];
} dept_stats;

struct situ_feed_stats {
    int n;
    dept_stats *d;
};

situ_feed_stats *situ_feed_stats_new(void)
{
    situ_feed_stats *st = calloc(1, sizeof *st);
    if (st && !(st->d = calloc((size_t)situ_schema_ndepts(), sizeof *st->d))) {
        free(st);
        return NULL;
    }
    if (st)
        st->n = situ_schema_ndepts();
    return st;
}

void situ_feed_stats_free(situ_feed_stats *st)
{
    if (st)
        free(st->d);
    free(st);
}

void situ_feed_stats_add(situ_feed_stats *st, int dept, long long t, int n)
{
    if (!st || dept < 0 || dept >= st->n || n <= 0)
        return;
    dept_stats *d = &st->d[dept];
    long long m = t / 60;
    int k = (int)(m % MINUTES);
    if (d->minute[k] != m) {
        d->minute[k] = m;
        d->count[k] = 0;
    }
    d->count[k] += n;
    if (t > d->last)
        d->last = t;
}

long long situ_feed_stats_last(const situ_feed_stats *st, int dept)
{
    return st && dept >= 0 && dept < st->n ? st->d[dept].last : 0;
}

static long long sum_since(const dept_stats *d, long long now, int minutes)
{
    long long m = now / 60, n = 0;
    for (int i = 0; i < minutes; i++) {
        long long want = m - i;
        int k = (int)(((want % MINUTES) + MINUTES) % MINUTES);
        if (d->minute[k] == want)
            n += d->count[k];
    }
    return n;
}

static int load_dept(situ_feed_stats *st, situ_db *db, int i, const char *since, situ_err *err)
{
    situ_db_stmt *q;
    const char *code = situ_schema_dept(i)->code;
    if (situ_db_prepare(db,
                        "SELECT substr(received_at, 1, 16) || ':00Z', count(*) FROM event_log "
                        "WHERE dept = ?1 AND received_at >= ?2 AND type <> '" SITU_RETAIN_LOG_TYPE
                        "' GROUP BY 1",
                        &q, NULL))
        return situ_err_set(err, SITU_EDB, "event_log: %s", situ_db_errmsg(db));
    situ_db_bind_text(q, 1, code, -1);
    situ_db_bind_text(q, 2, since, -1);
    char norm[32];
    long long t;
    while (situ_db_step(q) == SITU_DB_ROW)
        if (!situ_feed_time(situ_db_column_text(q, 0), norm, &t))
            situ_feed_stats_add(st, i, t, (int)situ_db_column_int64(q, 1));
    situ_db_finalize(q);
    if (situ_db_prepare(db,
                        "SELECT max(received_at) FROM event_log WHERE dept = ?1 AND type <> "
                        "'" SITU_RETAIN_LOG_TYPE "'",
                        &q, NULL))
        return situ_err_set(err, SITU_EDB, "event_log: %s", situ_db_errmsg(db));
    situ_db_bind_text(q, 1, code, -1);
    if (situ_db_step(q) == SITU_DB_ROW && situ_db_column_type(q, 0) == SITU_DB_TEXT &&
        !situ_feed_time(situ_db_column_text(q, 0), norm, &t) && t > st->d[i].last)
        st->d[i].last = t;
    situ_db_finalize(q);
    return 0;
}

int situ_feed_stats_load(situ_feed_stats *st, situ_store *s, long long now, situ_err *err)
{
    char since[32];
    time_t t = (time_t)(now - 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (int i = 0; i < st->n; i++)
        if (load_dept(st, situ_store_sql(s), i, since, err))
            return SITU_EDB;
    return 0;
}

static void iso(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void cameras_json(const situ_snapshot *snap, situ_buf *out)
{
    const situ_coll *c = snap ? snap->colls[SITU_C_STATIONS] : NULL;
    int kind = c ? situ_schema_field_index(c->c, "kind") : -1;
    int online = c ? situ_schema_field_index(c->c, "online") : -1;
    long total = 0, on = 0;
    for (size_t i = 0; c && kind >= 0 && i < c->n; i++) {
        const situ_value *v = c->feats[i].values;
        if (v[kind].type != SITU_FT_TEXT || strcmp(v[kind].u.s, "camera"))
            continue;
        total++;
        on += online >= 0 && v[online].type && v[online].u.i != 0;
    }
    situ_buf_printf(out, "\"cameras\":{\"total\":%ld,\"online\":%ld,\"offline\":%ld}", total, on,
                    total - on);
}

void situ_feed_stats_json(const situ_feed_stats *st, const situ_snapshot *snap, long long now,
                          situ_buf *out)
{
    situ_buf_adds(out, "\"departments\":[");
    for (int i = 0; i < st->n; i++) {
        const situ_dept *dp = situ_schema_dept(i);
        const dept_stats *d = &st->d[i];
        const char *state = !d->last                               ? "silent"
                            : now - d->last > 2LL * dp->interval_s ? "stale"
                                                                   : "ok";
        situ_buf_printf(out, "%s{\"code\":\"%s\",\"name_zh\":", i ? "," : "", dp->code);
        situ_buf_add_json_str(out, dp->name_zh);
        situ_buf_adds(out, ",\"name_en\":");
        situ_buf_add_json_str(out, dp->name_en);
        situ_buf_printf(out, ",\"interval_s\":%d,\"last_event\":", dp->interval_s);
        if (d->last) {
            char t[32];
            iso(d->last, t);
            situ_buf_printf(out, "\"%s\",\"age_s\":%lld", t, now - d->last);
        } else {
            situ_buf_adds(out, "null,\"age_s\":null");
        }
        situ_buf_printf(out, ",\"events_1h\":%lld,\"events_24h\":%lld,\"state\":\"%s\"}",
                        sum_since(d, now, 60), sum_since(d, now, MINUTES), state);
    }
    situ_buf_adds(out, "],");
    cameras_json(snap, out);
}

/*
 * feedwriter.c: the one thread that writes feeds to the SpatiaLite file.
 * POST handlers validate in their own threads and queue a job; the writer
 * takes every queued job at once (group commit: one BEGIN IMMEDIATE ...
 * COMMIT with synchronous=FULL, so one fsync for many clients), applies
 * them, commits, and only then answers; then hands the changes to the
 * publisher (feedpub.c). Readers never wait: they serve snapshots.
 *
 *   job:    submit -> QUEUED -> (writer takes a group) -> APPLYING
 *           -> COMMIT ok: FINISHED, answer 200 | COMMIT failed: FINISHED, 503
 *           FINISHED -> the handler, resumed, takes and answers it
 *   writer: IDLE -(jobs)-> COMMITTING -> FINISHING -> IDLE;
 *           IDLE or between groups -(retention due, hourly)-> RETAINING -> IDLE
 *           stop: refuse new jobs -> drain the queue -> EXIT
 * Retention (layers/store/retain.c) runs on this thread and its connection,
 * so the file keeps one writer; the alerts it removes go to the publisher
 * as changes, as a feed's do.
 *
 * On PostgreSQL many situd write to one database: situ_feed_apply takes the
 * seq lock in each group's transaction, and the session's COMMIT waits for
 * a synchronous standby (remote_apply), so a 200 means the events survive
 * the primary's loss. A group that failed in any way (connection lost,
 * server read-only or shutting down, COMMIT's outcome unknown) is answered
 * 503 with Retry-After, and the connection is dropped:
 *   CONNECTED -(group failed)-> LOST -(each group, or each second idle,
 *   after a backoff of 0.2 s doubling to 2 s)-> reconnect (the same
 *   conninfo: multi-host with target_session_attrs=read-write finds the
 *   new primary) -> CONNECTED | LOST (groups answered 503 at once).
 * A call the server leaves unanswered for 10 s (a primary stopped, not
 * dead) counts as a lost connection: a watchdog thread breaks it.
 * /healthz says "writes":"failing" while LOST; reads go on from memory.
 */
#include "feedwriter.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "events.h"
#include "follow.h"
#include "server.h"
#include "situ/clock.h"
#include "situ/db.h"
#include "situ/retain.h"
#include "situ/token.h"

#define GROUP_MAX_EVENTS 20000  /* events in one commit */
#define QUEUE_MAX_EVENTS 200000 /* queued before POSTs get 503 */
#define FINISHED_TTL_S 60.0     /* a finished job nobody took is dropped */
#define RETAIN_SLICE_MS 100     /* retention holds the writer this long at most (+1 batch) */
#define RECONNECT_MIN_S 0.2     /* PostgreSQL: first wait before reconnecting... */
#define RECONNECT_MAX_S 2.0     /* ... doubling up to this */
#define STALL_S 10.0            /* PostgreSQL: a call unanswered this long breaks the connection */

struct situd_feedjob {
    situ_feed_batch *b;
    char msg[256]; /* "" unless the commit failed */
    int done;
    struct MHD_Connection *conn; /* suspended while queued */
    const void *key;
    double key_t0, done_at;
    situd_feedjob *next;
};

static struct {
    const situd_config *cfg;
    int pg;            /* the store is PostgreSQL: reconnect after a failed group */
    situ_store *store; /* writer thread only (and the watchdog, under store_lock); NULL: LOST */
    pthread_mutex_t store_lock; /* store's assignments, against the watchdog's reads */
    pthread_t watchdog;
    int watching;
    double reconnect_at, reconnect_delay; /* LOST: the next try, and the wait after it */
    situ_feed_applier *applier;
    situ_db_stmt *data_version; /* SQLite only: NULL on PostgreSQL */
    int data_version_seen;
    pthread_t thread;
    int running;

    pthread_mutex_t lock; /* the queue, finished, accepting */
    pthread_cond_t work, done;
    situd_feedjob *head, *tail, *finished;
    long queued_events;
    int accepting;

    pthread_mutex_t aux_lock; /* tokens, counts */
    situ_tokens *tokens;
    int tokens_stale; /* the last reload failed */
    long long token_reload_failures;
    situ_feed_stats *stats;
    long long commits, committed_events, failed_commits;
    double last_commit_ms;
    int failing;       /* the last commit failed: writes are failing until one succeeds */
    char why_not[256]; /* why feeds are not written, or "": see situd_feedwriter_health */
} W = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .store_lock = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER,
       .aux_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- retention ------------------------------------------------------------------ */

static struct {
    int days, interval_s;
    char archive[1024];
    double next; /* situ_clock_s() of the next run */
} R;

static void retention_setup(const situd_config *cfg)
{
    R.days = cfg->retain_days;
    R.interval_s = cfg->retain_interval_s;
    snprintf(R.archive, sizeof R.archive, "%s", cfg->retain_archive);
    R.next = situ_clock_s() + (R.interval_s < 60 ? R.interval_s : 60); /* soon after start */
}

/* An alert retention removed, published as a feed change would be. On
 * PostgreSQL retention logged the removal (retain.c): the follower
 * publishes it from the log at its seq, as every situd does. */
static void retention_removed(void *ctx, const char *id, const double bbox[4], long long seq)
{
    (void)ctx;
    if (situd_follow_running()) {
        situd_follow_wake();
        return;
    }
    situ_feed_change c = {.cid = SITU_C_ALERTS, .kind = SITU_CHANGE_REMOVED, .seq = seq};
    snprintf(c.id, sizeof c.id, "%s", id);
    memcpy(c.bbox, bbox, sizeof c.bbox);
    char dept[64];
    snprintf(dept, sizeof dept, "%.*s", (int)strcspn(id, ":"), id); /* alert ids are dept:id */
    int d = situ_schema_dept_index(dept);
    c.dept = d >= 0 ? situ_schema_dept(d)->code : NULL;
    situ_store_now(c.at);
    situd__feedpub_add(&c, 1);
}

/* Runs retention when due, a slice at a time so that feeds wait at most
 * about RETAIN_SLICE_MS behind it. Writer thread only, between groups. */
static void retention_tick(void)
{
    if (!W.store || R.interval_s <= 0 || situ_clock_s() < R.next)
        return;
    R.next = situ_clock_s() + R.interval_s;
    situ_retain_opts o = {.days = R.days,
                          .archive = R.archive,
                          .max_ms = RETAIN_SLICE_MS,
                          .removed = retention_removed};
    situ_retain_stats st;
    situ_err err = {0};
    if (situ_retain_run(W.store, &o, &st, &err))
        fprintf(stderr, "situd: retention: %s (retried in %d s)\n", err.msg, R.interval_s);
    if (st.more) /* a backlog: the next slice after the next group, or within a second */
        R.next = situ_clock_s();
    if (st.alerts || st.events || st.closures || st.unmoved)
        fprintf(stderr,
                "situd: retention: %lld alerts expired before %s, %lld ended road closures and "
                "%lld log rows moved to %s; %lld due rows kept\n",
                st.alerts, st.cutoff, st.closures, st.events, st.archive, st.unmoved);
}

/* ---- tokens ------------------------------------------------------------------- */

/* Reloads the token set when another connection (situ token ...) changed
 * the file; one PRAGMA when nothing did, at most once a second unless
 * forced. PostgreSQL has no data_version: there the set is reloaded at
 * every call (at most once a second; the tokens table is small). A reload
 * that failed is tried again at every call until it succeeds (a revocation
 * must not wait for an unrelated change), and counted. Writer thread only. */
static void refresh_tokens(int force)
{
    static double last;
    if (!W.store || (!force && situ_clock_s() < last + 1.0))
        return;
    last = situ_clock_s();
    int v = -1;
    if (W.data_version && situ_db_step(W.data_version) == SITU_DB_ROW)
        v = (int)situ_db_column_int64(W.data_version, 0);
    if (W.data_version)
        situ_db_reset(W.data_version);
    if (!force && !W.tokens_stale && W.data_version && v == W.data_version_seen)
        return;
    situ_tokens *t;
    situ_err err = {0};
    if (situ_tokens_load(W.store, &t, &err)) {
        fprintf(stderr, "situd: feeds: cannot reload tokens (trying again in a second): %s\n",
                err.msg);
        pthread_mutex_lock(&W.aux_lock);
        W.tokens_stale = 1;
        W.token_reload_failures++;
        pthread_mutex_unlock(&W.aux_lock);
        return;
    }
    if (W.tokens_stale)
        fprintf(stderr, "situd: feeds: tokens reloaded\n");
    W.data_version_seen = v;
    pthread_mutex_lock(&W.aux_lock);
    situ_tokens *old = W.tokens;
    W.tokens = t;
    W.tokens_stale = 0;
    pthread_mutex_unlock(&W.aux_lock);
    situ_tokens_free(old);
}

int situd_feedwriter_auth(const char *dept, const char *token)
{
    pthread_mutex_lock(&W.aux_lock); /* no tokens: stopped (or never started) */
    int rc = W.tokens ? situ_tokens_check(W.tokens, dept, token) : SITU_EBUSY;
    pthread_mutex_unlock(&W.aux_lock);
    return rc;
}

/* ---- open / start / stop --------------------------------------------------------- */

/* Opens the writer's connection (the store, migrated by situ_store_open)
 * and statements; on failure the caller calls close_store. PRAGMA
 * data_version (SQLite only) tells when another connection changed the
 * file, so tokens are reloaded only then; PostgreSQL has none, and
 * refresh_tokens reloads without it. On PostgreSQL the session's COMMIT
 * returns only once a synchronous standby has applied it (remote_apply;
 * with no synchronous standby configured, once the primary has it). */
static int open_store(situ_err *err)
{
    situ_store *s;
    if (situ_store_open(W.cfg->db, 0, &s, err))
        return -1;
    pthread_mutex_lock(&W.store_lock);
    W.store = s;
    pthread_mutex_unlock(&W.store_lock);
    if (situ_feed_applier_new(W.store, &W.applier, err))
        return -1;
    situ_feed_applier_set_station_quota(W.applier, W.cfg->station_quota);
    situ_db *db = situ_store_sql(W.store);
    if (situ_db_sqlite(db))
        return situ_db_prepare(db, "PRAGMA data_version", &W.data_version, err);
    return situ_store_exec(W.store, "SET synchronous_commit = remote_apply", err);
}

static void close_store(void)
{
    pthread_mutex_lock(&W.store_lock);
    situ_store *s = W.store;
    W.store = NULL;
    pthread_mutex_unlock(&W.store_lock);
    situ_db_finalize(W.data_version);
    situ_feed_applier_free(W.applier);
    situ_store_close(s);
    W.data_version = NULL, W.applier = NULL;
}

/* PostgreSQL: a primary stopped but not dead (SIGSTOP, a hung machine whose
 * kernel still acknowledges) answers nothing and TCP sees nothing wrong, so
 * a call would wait forever and every POST with it. Four times a second
 * this thread breaks the writer's connection when one call has waited
 * STALL_S; the call fails, the group is answered 503 and the writer
 * reconnects (each connect bounded by connect_timeout, db_pg.c). */
static void *watchdog_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&W.lock);
        int on = W.watching;
        pthread_mutex_unlock(&W.lock);
        if (!on)
            return NULL;
        pthread_mutex_lock(&W.store_lock);
        if (W.store && situ_db_break_if_stalled(situ_store_sql(W.store), STALL_S))
            fprintf(stderr,
                    "situd: feeds: PostgreSQL has not answered for %.0f s: "
                    "connection dropped\n",
                    STALL_S);
        pthread_mutex_unlock(&W.store_lock);
        nanosleep(&(struct timespec){0, 250000000}, NULL);
    }
}

static void set_failing(const char *why)
{
    pthread_mutex_lock(&W.aux_lock);
    W.failing = 1;
    snprintf(W.why_not, sizeof W.why_not, "%.255s", why);
    pthread_mutex_unlock(&W.aux_lock);
}

/* LOST: drops the connection after a failed group; the next group (or
 * the idle tick) reconnects. */
static void lose_store(const char *why)
{
    close_store();
    W.reconnect_delay = RECONNECT_MIN_S;
    W.reconnect_at = situ_clock_s() + W.reconnect_delay;
    char m[256];
    snprintf(m, sizeof m, "PostgreSQL lost, reconnecting: %.200s", why);
    set_failing(m);
    fprintf(stderr, "situd: feeds: %s\n", m);
}

/* 1 when the writer has its connection, after reconnecting if it was LOST
 * and the backoff has passed; 0 while LOST. Writer thread only. */
static int have_store(void)
{
    if (W.store)
        return 1;
    if (situ_clock_s() < W.reconnect_at)
        return 0;
    situ_err err = {0};
    if (open_store(&err)) {
        close_store();
        char m[256];
        snprintf(m, sizeof m, "PostgreSQL unreachable (retrying in %.1f s): %.200s",
                 W.reconnect_delay, err.msg);
        if (W.reconnect_delay < RECONNECT_MAX_S) /* the first tries; then quietly */
            fprintf(stderr, "situd: feeds: %s\n", m);
        set_failing(m);
        W.reconnect_at = situ_clock_s() + W.reconnect_delay;
        W.reconnect_delay = situ_backoff_next(W.reconnect_delay, RECONNECT_MAX_S);
        return 0;
    }
    fprintf(stderr, "situd: feeds: reconnected to %s\n", situ_db_where(situ_store_sql(W.store)));
    pthread_mutex_lock(&W.aux_lock);
    W.failing = 0;
    W.why_not[0] = '\0';
    pthread_mutex_unlock(&W.aux_lock);
    refresh_tokens(1);
    return 1;
}

int situd_feedwriter_open(const situd_config *cfg, char *msg, size_t nmsg)
{
    situ_err err = {0};
    W.cfg = cfg;
    W.pg = situ_db_is_url(cfg->db);
    if (open_store(&err))
        goto fail;
    if (!(W.stats = situ_feed_stats_new())) {
        situ_err_set(&err, SITU_ENOMEM, "out of memory");
        goto fail;
    }
    if (situ_feed_stats_load(W.stats, W.store, (long long)time(NULL), &err))
        goto fail;
    refresh_tokens(1);
    retention_setup(cfg);
    return 0;
fail:
    snprintf(msg, nmsg, "%s", err.msg);
    situd_feedwriter_disable(msg);
    close_store();
    situ_feed_stats_free(W.stats);
    W.stats = NULL;
    return -1;
}

static void *writer_main(void *arg);

int situd_publisher_start(const situd_config *cfg, char *msg, size_t nmsg)
{
    double heartbeat = cfg->connection_timeout > 2 ? cfg->connection_timeout / 2.0 : 1;
    long long last = W.store ? situ_feed_log_last(W.store) : situd_follow_loaded_seq();
    if (situd_events_start(cfg->db, last, heartbeat > 15 ? 15 : heartbeat))
        return snprintf(msg, nmsg, "cannot start /events"), -1;
    if (situd__feedpub_start(cfg->db, msg, nmsg)) {
        situd_events_stop();
        return -1;
    }
    return 0;
}

int situd_feedwriter_start(const situd_config *cfg, char *msg, size_t nmsg)
{
    (void)cfg;
    if (!W.store)
        return snprintf(msg, nmsg, "the feeds store is not open"), -1;
    W.accepting = 1;
    if (pthread_create(&W.thread, NULL, writer_main, NULL)) {
        W.accepting = 0;
        return snprintf(msg, nmsg, "cannot start the feeds writer"), -1;
    }
    W.running = 1;
    if (W.pg) {
        W.watching = 1;
        if (pthread_create(&W.watchdog, NULL, watchdog_main, NULL))
            W.watching = 0;
    }
    return 0;
}

static void free_finished(double older_than)
{
    for (situd_feedjob **p = &W.finished; *p;) {
        situd_feedjob *j = *p;
        if (j->done_at < older_than) {
            *p = j->next;
            situd_feedjob_free(j);
        } else {
            p = &j->next;
        }
    }
}

void situd_feedwriter_stop(void)
{
    situd_events_stop();
    pthread_mutex_lock(&W.lock);
    W.accepting = 0;
    pthread_cond_broadcast(&W.work);
    pthread_mutex_unlock(&W.lock);
    if (W.running)
        pthread_join(W.thread, NULL); /* the watchdog guards its last groups too */
    W.running = 0;
    pthread_mutex_lock(&W.lock);
    int watching = W.watching;
    W.watching = 0;
    pthread_mutex_unlock(&W.lock);
    if (watching)
        pthread_join(W.watchdog, NULL);
    situd__feedpub_stop();
    /* resumed handlers take their answers within milliseconds; give them 2 s */
    pthread_mutex_lock(&W.lock);
    for (int i = 0; i < 200 && W.finished; i++) {
        pthread_mutex_unlock(&W.lock);
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        pthread_mutex_lock(&W.lock);
    }
    free_finished(1e300);
    pthread_mutex_unlock(&W.lock);
    close_store();
    /* HTTP still serves /metrics, /feeds and token checks until it stops */
    pthread_mutex_lock(&W.aux_lock);
    situ_tokens *tokens = W.tokens;
    situ_feed_stats *stats = W.stats;
    W.tokens = NULL, W.stats = NULL;
    pthread_mutex_unlock(&W.aux_lock);
    situ_tokens_free(tokens);
    situ_feed_stats_free(stats);
}

/* ---- jobs ---------------------------------------------------------------------- */

int situd_feedwriter_submit(situ_feed_batch *b, struct MHD_Connection *conn, const void *key,
                            double t0, situd_feedjob **out_job)
{
    situd_feedjob *j = calloc(1, sizeof *j);
    if (!j) {
        situ_feed_batch_free(b);
        return SITU_ENOMEM;
    }
    *j = (situd_feedjob){.b = b, .conn = conn, .key = key, .key_t0 = t0};
    pthread_mutex_lock(&W.lock);
    int rc = !W.accepting ? SITU_EINVAL : W.queued_events > QUEUE_MAX_EVENTS ? SITU_EBUSY : 0;
    if (rc) {
        pthread_mutex_unlock(&W.lock);
        situd_feedjob_free(j);
        return rc;
    }
    if (W.tail)
        W.tail->next = j;
    else
        W.head = j;
    W.tail = j;
    W.queued_events += b->n;
    if (conn)
        MHD_suspend_connection(conn); /* resumed by finish_group, under this lock */
    pthread_cond_signal(&W.work);
    while (!conn && !j->done)
        pthread_cond_wait(&W.done, &W.lock);
    pthread_mutex_unlock(&W.lock);
    if (!conn)
        *out_job = situd_feedwriter_take(key, t0);
    return 0;
}

situd_feedjob *situd_feedwriter_take(const void *key, double t0)
{
    pthread_mutex_lock(&W.lock);
    situd_feedjob *j = NULL;
    for (situd_feedjob **p = &W.finished; *p; p = &(*p)->next)
        if ((*p)->key == key && (*p)->key_t0 == t0) {
            j = *p;
            *p = j->next;
            j->next = NULL;
            break;
        }
    pthread_mutex_unlock(&W.lock);
    return j;
}

situ_feed_batch *situd_feedjob_batch(situd_feedjob *j, const char **out_msg)
{
    *out_msg = j->msg;
    return j->msg[0] ? NULL : j->b;
}

situd_feedjob *situd_feedjob_of(situ_feed_batch *b)
{
    situd_feedjob *j = calloc(1, sizeof *j);
    if (!j)
        situ_feed_batch_free(b);
    else
        j->b = b, j->done = 1;
    return j;
}

void situd_feedjob_free(situd_feedjob *j)
{
    if (!j)
        return;
    situ_feed_batch_free(j->b);
    free(j);
}

/* ---- the writer thread ------------------------------------------------------------ */

/* Takes queued jobs up to GROUP_MAX_EVENTS (at least one); NULL when
 * stopping with nothing queued. Wakes each second to look for new tokens. */
static situd_feedjob *take_group(void)
{
    pthread_mutex_lock(&W.lock);
    while (!W.head && W.accepting) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        if (pthread_cond_timedwait(&W.work, &W.lock, &ts)) {
            pthread_mutex_unlock(&W.lock);
            have_store(); /* LOST: reconnect while idle too, so health recovers */
            refresh_tokens(0);
            retention_tick();
            pthread_mutex_lock(&W.lock);
        }
    }
    situd_feedjob *group = W.head, *last = NULL;
    long n = 0;
    for (situd_feedjob *j = W.head; j && (!last || n + j->b->n <= GROUP_MAX_EVENTS); j = j->next)
        n += j->b->n, last = j;
    if (last) {
        W.head = last->next;
        if (!W.head)
            W.tail = NULL;
        last->next = NULL;
        W.queued_events -= n;
    }
    pthread_mutex_unlock(&W.lock);
    return group;
}

static void count_group(situd_feedjob *group, double ms)
{
    long long now = (long long)time(NULL), n = 0;
    pthread_mutex_lock(&W.aux_lock);
    for (situd_feedjob *j = group; j; j = j->next) {
        int acc = 0;
        for (int i = 0; i < j->b->n; i++)
            acc += j->b->ev[i].status == SITU_FEED_ACCEPTED;
        situ_feed_stats_add(W.stats, situ_schema_dept_index(j->b->dept), now, acc);
        n += acc;
    }
    W.commits++;
    W.committed_events += n;
    W.last_commit_ms = ms;
    W.failing = 0;
    W.why_not[0] = '\0';
    pthread_mutex_unlock(&W.aux_lock);
}

static void publish_group(situd_feedjob *group)
{
    if (situd_follow_running()) { /* PostgreSQL: published from event_log, as every situd does */
        situd_follow_wake();
        return;
    }
    for (situd_feedjob *j = group; j; j = j->next)
        for (int i = 0; i < j->b->n; i++) {
            const situ_feed_event *ev = &j->b->ev[i];
            if (ev->status == SITU_FEED_ACCEPTED && ev->nchanges)
                situd__feedpub_add(ev->changes, (size_t)ev->nchanges);
        }
}

/* Every job of the group is answered 503 (with Retry-After) with why. */
static void fail_group(situd_feedjob *group, const char *why)
{
    /* on PostgreSQL a COMMIT cut off may have been applied all the same */
    const char *fmt = W.pg ? "the events were not acknowledged (%.150s); send them again (any "
                             "stored after all comes back \"duplicate\")"
                           : "the events could not be stored (%.150s); nothing "
                             "was applied, send them again";
    for (situd_feedjob *j = group; j; j = j->next)
        snprintf(j->msg, sizeof j->msg, fmt, why);
    pthread_mutex_lock(&W.aux_lock);
    W.failed_commits++;
    W.failing = 1;
    if (!W.pg || !W.why_not[0])
        snprintf(W.why_not, sizeof W.why_not, "the last commit failed: %.200s", why);
    pthread_mutex_unlock(&W.aux_lock);
}

/* One transaction for the whole group; on any failure nothing of it stays
 * and every job is answered 503. On PostgreSQL a failure may leave the
 * COMMIT's outcome unknown (the connection lost after it was sent): the
 * 503 tells the client to send again, and a resent event found logged is
 * a duplicate, answered only once its COMMIT waited for the standby (see
 * SEQ_LOCK_SQL in feed_apply.c). */
static void commit_group(situd_feedjob *group)
{
    double t0 = situ_clock_s();
    char why[256];
    if (!have_store()) {
        situd_feedwriter_health(why, sizeof why);
        fail_group(group, why);
        return;
    }
    situ_snapshot *snap = situd_snapshot_acquire();
    situ_err err = {0};
    int rc = situ_store_begin(W.store, &err);
    for (situd_feedjob *j = group; j && !rc; j = j->next)
        rc = situ_feed_apply(W.applier, j->b, snap, &err);
    if (!rc)
        rc = situ_store_commit(W.store, &err);
    situ_snapshot_release(snap);
    if (rc) {
        situ_store_rollback(W.store);
        fprintf(stderr, "situd: feeds: commit failed, %s\n", err.msg);
        if (W.pg)
            lose_store(err.msg);
        fail_group(group, err.msg);
        return;
    }
    count_group(group, (situ_clock_s() - t0) * 1e3);
    publish_group(group);
}

static void finish_group(situd_feedjob *group)
{
    double now = situ_clock_s();
    pthread_mutex_lock(&W.lock);
    free_finished(now - FINISHED_TTL_S);
    for (situd_feedjob *j = group, *next; j; j = next) {
        next = j->next;
        j->done = 1;
        j->done_at = now;
        j->next = W.finished;
        W.finished = j;
        if (j->conn)
            MHD_resume_connection(j->conn);
    }
    pthread_cond_broadcast(&W.done);
    pthread_mutex_unlock(&W.lock);
}

static void *writer_main(void *arg)
{
    (void)arg;
    situd_feedjob *group;
    while ((group = take_group())) {
        commit_group(group);
        finish_group(group);
        refresh_tokens(0); /* a revocation holds within a second, even under load */
        retention_tick();
    }
    return NULL;
}

/* ---- health ------------------------------------------------------------------------ */

void situd_feedwriter_disable(const char *why)
{
    pthread_mutex_lock(&W.aux_lock);
    snprintf(W.why_not, sizeof W.why_not, "%.255s", why);
    pthread_mutex_unlock(&W.aux_lock);
}

int situd_feedwriter_health(char *why, size_t nwhy)
{
    pthread_mutex_lock(&W.aux_lock);
    int state = W.failing ? SITUD_WRITES_FAILING : W.why_not[0] ? SITUD_WRITES_DISABLED : 0;
    snprintf(why, nwhy, "%s", W.why_not);
    pthread_mutex_unlock(&W.aux_lock);
    return state;
}

/* ---- status ------------------------------------------------------------------------ */

/* The writer's and the publisher's counters, read under their locks. */
typedef struct writer_counts {
    int accepting, tokens, listeners, failing;
    long queued;
    long long commits, committed_events, failed_commits, rebuilds, changes, last_seq;
    long long token_reload_failures, lag_replays, resume_replays;
    double last_commit_ms, rebuild_ms;
} writer_counts;

static writer_counts read_counts(void)
{
    writer_counts n;
    situd__feedpub_counts(&n.rebuilds, &n.changes, &n.rebuild_ms);
    pthread_mutex_lock(&W.lock);
    n.queued = W.queued_events;
    n.accepting = W.accepting;
    pthread_mutex_unlock(&W.lock);
    pthread_mutex_lock(&W.aux_lock);
    n.commits = W.commits;
    n.committed_events = W.committed_events;
    n.failed_commits = W.failed_commits;
    n.last_commit_ms = W.last_commit_ms;
    n.failing = W.failing;
    n.tokens = W.tokens ? situ_tokens_count(W.tokens) : 0;
    n.token_reload_failures = W.token_reload_failures;
    pthread_mutex_unlock(&W.aux_lock);
    n.last_seq = situd_events_published();
    n.listeners = situd_events_listeners();
    situd_events_replays(&n.lag_replays, &n.resume_replays);
    return n;
}

void situd_feedwriter_status(const situ_snapshot *snap, situ_buf *b)
{
    writer_counts n = read_counts();
    pthread_mutex_lock(&W.aux_lock);
    if (W.stats)
        situ_feed_stats_json(W.stats, snap, (long long)time(NULL), b);
    else
        situ_buf_adds(b, "\"departments\":[],\"cameras\":null");
    pthread_mutex_unlock(&W.aux_lock);
    situ_buf_printf(b,
                    ",\"writer\":{\"running\":%s,\"queued_events\":%ld,\"commits\":%lld,"
                    "\"events_committed\":%lld,\"failed_commits\":%lld,\"last_commit_ms\":%.2f,"
                    "\"tokens\":%d,\"snapshot_rebuilds\":%lld,\"changes_pushed\":%lld,"
                    "\"last_rebuild_ms\":%.2f,\"last_seq\":%lld,\"listeners\":%d}",
                    n.accepting ? "true" : "false", n.queued, n.commits, n.committed_events,
                    n.failed_commits, n.last_commit_ms, n.tokens, n.rebuilds, n.changes,
                    n.rebuild_ms, n.last_seq, n.listeners);
}

/* Per department: its expected interval and the time of its last accepted
 * event (0: none yet), so an alert can tell a department silent past its
 * interval (GET /feeds's "stale"). */
static void write_department_metrics(situ_buf *b)
{
    int n = situ_schema_ndepts();
    situ_buf_adds(b, "# HELP situd_feed_department_interval_seconds The interval a department "
                     "is expected to report within.\n"
                     "# TYPE situd_feed_department_interval_seconds gauge\n");
    for (int i = 0; i < n; i++)
        situ_buf_printf(b, "situd_feed_department_interval_seconds{dept=\"%s\"} %d\n",
                        situ_schema_dept(i)->code, situ_schema_dept(i)->interval_s);
    situ_buf_adds(b, "# HELP situd_feed_department_last_event_timestamp_seconds Unix time of "
                     "a department's last accepted event (0: none yet).\n"
                     "# TYPE situd_feed_department_last_event_timestamp_seconds gauge\n");
    pthread_mutex_lock(&W.aux_lock);
    for (int i = 0; i < n; i++)
        situ_buf_printf(b, "situd_feed_department_last_event_timestamp_seconds{dept=\"%s\"} %lld\n",
                        situ_schema_dept(i)->code, situ_feed_stats_last(W.stats, i));
    pthread_mutex_unlock(&W.aux_lock);
}

void situd_feedwriter_metrics(situ_buf *b)
{
    writer_counts n = read_counts();
    situ_buf_printf(
        b,
        "# HELP situd_feed_writer_running 1 while the feeds writer takes batches.\n"
        "# TYPE situd_feed_writer_running gauge\nsitud_feed_writer_running %d\n"
        "# HELP situd_feed_queued_events Events waiting for the writer.\n"
        "# TYPE situd_feed_queued_events gauge\nsitud_feed_queued_events %ld\n"
        "# HELP situd_feed_commits_total Durable commits of the feeds writer.\n"
        "# TYPE situd_feed_commits_total counter\nsitud_feed_commits_total %lld\n"
        "# HELP situd_feed_failed_commits_total Commits that failed (answered 503).\n"
        "# TYPE situd_feed_failed_commits_total counter\nsitud_feed_failed_commits_total %lld\n"
        "# HELP situd_feed_events_committed_total Events accepted and committed.\n"
        "# TYPE situd_feed_events_committed_total counter\n"
        "situd_feed_events_committed_total %lld\n"
        "# HELP situd_feed_last_commit_seconds Duration of the last commit.\n"
        "# TYPE situd_feed_last_commit_seconds gauge\nsitud_feed_last_commit_seconds %.6f\n"
        "# HELP situd_snapshot_rebuilds_total Snapshots rebuilt after feed commits.\n"
        "# TYPE situd_snapshot_rebuilds_total counter\nsitud_snapshot_rebuilds_total %lld\n"
        "# HELP situd_events_pushed_total Changes pushed on /events.\n"
        "# TYPE situd_events_pushed_total counter\nsitud_events_pushed_total %lld\n"
        "# HELP situd_events_listeners Open /events streams.\n"
        "# TYPE situd_events_listeners gauge\nsitud_events_listeners %d\n"
        "# HELP situd_events_lag_replays_total /events listeners that fell a whole ring "
        "behind and were served from the event log.\n"
        "# TYPE situd_events_lag_replays_total counter\nsitud_events_lag_replays_total %lld\n"
        "# HELP situd_events_resume_replays_total /events streams resumed from the event log "
        "(Last-Event-ID or since).\n"
        "# TYPE situd_events_resume_replays_total counter\n"
        "situd_events_resume_replays_total %lld\n"
        "# HELP situd_feed_tokens Department tokens in force.\n"
        "# TYPE situd_feed_tokens gauge\nsitud_feed_tokens %d\n"
        "# HELP situd_feed_token_reload_failures_total Token reloads that failed (each is "
        "tried again a second later).\n"
        "# TYPE situd_feed_token_reload_failures_total counter\n"
        "situd_feed_token_reload_failures_total %lld\n"
        "# HELP situd_feed_writes_failing 1 while the last commit failed (disk full, I/O).\n"
        "# TYPE situd_feed_writes_failing gauge\nsitud_feed_writes_failing %d\n",
        n.accepting, n.queued, n.commits, n.failed_commits, n.committed_events,
        n.last_commit_ms / 1e3, n.rebuilds, n.changes, n.listeners, n.lag_replays, n.resume_replays,
        n.tokens, n.token_reload_failures, n.failing);
    situd__feedpub_digest_metrics(b);
    write_department_metrics(b);
}

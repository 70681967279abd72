/*
 * follow.c: on PostgreSQL, the event log followed by seq. The first
 * snapshot is read in one REPEATABLE READ transaction together with the
 * highest seq, so it holds exactly the events up to that seq; from there a
 * thread polls event_log (seq > last ORDER BY seq, in pages) every 100 ms,
 * at once when woken (the local writer committed), and hands each page's
 * changes with its last seq to the publisher, which publishes them in that
 * order: every situd on the store publishes the same changes in the same
 * order, whichever situd committed them. A second thread LISTENs on
 * situ_events, which the writer NOTIFYs in each batch's transaction, and
 * wakes the follower at once: a hint only, the polls go on. The store
 * lost: the snapshot in memory goes on serving, the lag grows, and the
 * follower opens the store again with backoff (0.2 s doubling to 5 s) and
 * catches up from its seq.
 *
 *   LOADED(seq) -> POLL: max(seq), then rows (last, max] in pages -> hand
 *                  -> WAIT 100 ms or woken -> POLL
 *   POLL failed -> DISCONNECTED -(backoff)-> open -> POLL
 *   stop -> EXIT (the publisher then drains what it was handed)
 *
 * lag_s: each poll that finds the store ahead notes (its max, the time);
 * the lag is the age of the oldest noted max the publisher has not yet
 * published, or, while polls fail, the time since the last one that did.
 */
#include "follow.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feedwriter.h"
#include "server.h"
#include "situ/clock.h"
#include "situ/db.h"
#include "situ/db_listen.h"
#include "situ/feed.h"

#define POLL_S 0.1        /* between polls */
#define PAGE_ROWS 500     /* log rows handed at once */
#define BACKOFF_MIN_S 0.2 /* first retry after a failed poll */
#define BACKOFF_MAX_S 5.0
#define NOTED 64 /* unapplied maxima kept for lag_s */

static struct {
    pthread_mutex_t lock; /* everything below but ro and the thread's own */
    pthread_cond_t cv;
    pthread_t thread, listener;
    int running, listening, stopping, woken;
    char db[1024];
    situ_store *ro;  /* follower thread only */
    long long last;  /* follower thread: the last seq handed to the publisher */
    long long store; /* max(seq) at the last successful poll */
    struct {
        long long seq;
        double t;
    } noted[NOTED]; /* store maxima not yet published, oldest first */
    int nnoted;
    int connected;
    double last_ok; /* situ_clock_s() of the last successful poll */
    long long reconnects, poll_failures;
    char why[256];
} F = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static long long loaded_seq;

/* ---- the first snapshot ------------------------------------------------------- */

static long long max_seq(situ_db *db, int *failed)
{
    situ_db_stmt *st = NULL;
    long long seq = 0;
    *failed = 1;
    if (situ_db_prepare(db, "SELECT max(seq) FROM event_log", &st, NULL))
        return 0;
    if (situ_db_step(st) == SITU_DB_ROW) {
        seq = situ_db_column_int64(st, 0);
        *failed = 0;
    }
    situ_db_finalize(st);
    return seq;
}

int situd_follow_load(situ_store *s, const char *db_name, situ_snapshot **out_snap, char *note,
                      size_t nnote, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    int pg = situ_db_engine_of(db) == SITU_DB_POSTGRES;
    if (situ_db_exec(db, pg ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN", err))
        return SITU_EDB;
    int failed;
    long long seq = max_seq(db, &failed);
    int rc = failed ? situ_err_set(err, SITU_EDB, "event_log: %s", situ_db_errmsg(db))
                    : situ_snapshot_open(s, db_name, out_snap, note, nnote, err);
    situ_db_exec(db, "COMMIT", NULL); /* read only: nothing to keep or lose */
    if (rc)
        return rc;
    loaded_seq = seq;
    situd_snapshot_seq_advance(seq);
    return 0;
}

long long situd_follow_loaded_seq(void)
{
    return loaded_seq;
}

/* ---- polling ------------------------------------------------------------------ */

typedef struct page {
    situ_feed_change *c;
    size_t n, cap;
    int oom;
} page;

static int collect(void *ctx, const situ_feed_change *c)
{
    page *p = ctx;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        situ_feed_change *m = realloc(p->c, cap * sizeof *m);
        if (!m)
            return p->oom = 1;
        p->c = m, p->cap = cap;
    }
    p->c[p->n++] = *c;
    return 0;
}

/* Under F.lock: notes that the store holds events up to seq from now on. */
static void note_store(long long seq, double now)
{
    F.store = seq;
    if (F.nnoted && F.noted[F.nnoted - 1].seq >= seq)
        return;
    if (F.nnoted == NOTED) /* the newest note stands for the last two */
        F.nnoted--;
    F.noted[F.nnoted].seq = seq;
    F.noted[F.nnoted].t = now;
    F.nnoted++;
}

/* Reads the store's max(seq) and hands every log row up to it to the
 * publisher, a page at a time; 0, or -1 with F.why set. */
static int poll_once(void)
{
    situ_db *db = situ_store_sql(F.ro);
    int failed;
    long long top = max_seq(db, &failed);
    double now = situ_clock_s();
    if (failed) {
        snprintf(F.why, sizeof F.why, "event_log: %.200s", situ_db_errmsg(db));
        return -1;
    }
    if (top < F.last) { /* never with synchronous commit: said, not served silently */
        snprintf(F.why, sizeof F.why,
                 "the store's event log ends at seq %lld, before seq %lld which this situd "
                 "published: the store lost acknowledged events; restart situd to read it again",
                 top, F.last);
        return -1;
    }
    pthread_mutex_lock(&F.lock);
    note_store(top, now);
    pthread_mutex_unlock(&F.lock);
    while (F.last < top) {
        page p = {0};
        long long last = F.last;
        situ_err err = {0};
        int rc = situ_feed_log_read(F.ro, F.last, top, PAGE_ROWS, collect, &p, &last, &err);
        if (!rc && p.oom)
            rc = situ_err_set(&err, SITU_ENOMEM, "out of memory reading the event log");
        if (!rc && last > F.last)
            situd__feedpub_follow(p.c, p.n, last);
        free(p.c);
        if (rc) {
            snprintf(F.why, sizeof F.why, "%.250s", err.msg);
            return -1;
        }
        if (last == F.last) /* rows retention archived meanwhile */
            break;
        F.last = last;
    }
    return 0;
}

/* Opens the store when it is not open; 0 when open. */
static int connect_store(void)
{
    if (F.ro)
        return 0;
    situ_err err = {0};
    if (situ_store_open(F.db, SITU_STORE_READONLY, &F.ro, &err)) {
        snprintf(F.why, sizeof F.why, "%.250s", err.msg);
        return -1;
    }
    return 0;
}

static void poll_result(int ok)
{
    pthread_mutex_lock(&F.lock);
    if (ok && !F.connected && F.poll_failures)
        fprintf(stderr, "situd: follow: the store answers again; caught up to seq %lld\n", F.last);
    if (!ok && F.connected)
        fprintf(stderr,
                "situd: follow: cannot read the store (serving seq %lld from memory, "
                "retrying): %s\n",
                F.last, F.why);
    if (ok) {
        F.reconnects += !F.connected && F.poll_failures;
        F.last_ok = situ_clock_s();
        F.why[0] = '\0';
    } else {
        F.poll_failures++;
    }
    F.connected = ok;
    pthread_mutex_unlock(&F.lock);
}

/* Under F.lock: waits up to s seconds, or until woken or stopping. */
static void wait_s(double s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = ts.tv_nsec + (long long)(s * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!F.woken && !F.stopping)
        if (pthread_cond_timedwait(&F.cv, &F.lock, &ts))
            break;
    F.woken = 0;
}

static void *follow_main(void *arg)
{
    (void)arg;
    double backoff = BACKOFF_MIN_S;
    pthread_mutex_lock(&F.lock);
    while (!F.stopping) {
        pthread_mutex_unlock(&F.lock);
        int ok = !connect_store() && !poll_once();
        if (!ok) { /* opened again at the next try: a new session, a new server perhaps */
            situ_store_close(F.ro);
            F.ro = NULL;
        }
        poll_result(ok);
        pthread_mutex_lock(&F.lock);
        wait_s(ok ? POLL_S : backoff);
        backoff = ok ? BACKOFF_MIN_S : situ_backoff_next(backoff, BACKOFF_MAX_S);
    }
    pthread_mutex_unlock(&F.lock);
    return NULL;
}

static int stopping(void)
{
    pthread_mutex_lock(&F.lock);
    int s = F.stopping;
    pthread_mutex_unlock(&F.lock);
    return s;
}

/* LISTEN situ_events (the writer NOTIFYs it in each batch's transaction):
 * a notification wakes the follower at once. Only a hint: the follower
 * polls anyway, so a lost connection costs latency, never an event. */
static void *listen_main(void *arg)
{
    (void)arg;
    situ_db_listener *l = NULL;
    double backoff = BACKOFF_MIN_S;
    while (!stopping()) {
        if (!l && situ_db_listen(F.db, "situ_events", &l, NULL)) {
            l = NULL;
            for (double t = 0; t < backoff && !stopping(); t += 0.1)
                nanosleep(&(struct timespec){0, 100000000}, NULL);
            backoff = situ_backoff_next(backoff, BACKOFF_MAX_S);
            continue;
        }
        backoff = BACKOFF_MIN_S;
        int rc = situ_db_listen_wait(l, 200); /* stop is seen within 0.2 s */
        if (rc > 0)
            situd_follow_wake();
        if (rc < 0) {
            situ_db_listen_close(l);
            l = NULL;
        }
    }
    situ_db_listen_close(l);
    return NULL;
}

int situd_follow_start(const char *db, char *msg, size_t nmsg)
{
    snprintf(F.db, sizeof F.db, "%s", db);
    F.last = loaded_seq;
    F.store = loaded_seq;
    F.nnoted = 0;
    F.connected = 1;
    F.last_ok = situ_clock_s();
    F.stopping = F.woken = 0;
    if (pthread_create(&F.thread, NULL, follow_main, NULL))
        return snprintf(msg, nmsg, "cannot start the event log follower"), -1;
    F.running = 1;
    F.listening = !pthread_create(&F.listener, NULL, listen_main, NULL); /* a hint: optional */
    return 0;
}

int situd_follow_running(void)
{
    return F.running;
}

void situd_follow_wake(void)
{
    pthread_mutex_lock(&F.lock);
    F.woken = 1;
    pthread_cond_signal(&F.cv);
    pthread_mutex_unlock(&F.lock);
}

void situd_follow_stop(void)
{
    if (!F.running)
        return;
    pthread_mutex_lock(&F.lock);
    F.stopping = 1;
    pthread_cond_signal(&F.cv);
    pthread_mutex_unlock(&F.lock);
    pthread_join(F.thread, NULL);
    if (F.listening)
        pthread_join(F.listener, NULL);
    F.running = F.listening = 0;
    situ_store_close(F.ro);
    F.ro = NULL;
}

/* ---- lag ---------------------------------------------------------------------- */

void situd_follow_lag_get(situd_follow_lag *out)
{
    long long seq = situd_snapshot_seq();
    double now = situ_clock_s();
    memset(out, 0, sizeof *out);
    out->seq = out->store = seq;
    pthread_mutex_lock(&F.lock);
    if (F.running) {
        int k = 0;
        while (k < F.nnoted && F.noted[k].seq <= seq)
            k++;
        memmove(F.noted, F.noted + k, (size_t)(F.nnoted - k) * sizeof F.noted[0]);
        F.nnoted -= k;
        out->following = 1;
        out->connected = F.connected;
        out->store = F.store > seq ? F.store : seq;
        out->lag_s = F.nnoted ? now - F.noted[0].t : 0;
        if (!F.connected && now - F.last_ok > out->lag_s)
            out->lag_s = now - F.last_ok;
        out->reconnects = F.reconnects;
        out->poll_failures = F.poll_failures;
        snprintf(out->why, sizeof out->why, "%s", F.why);
    }
    pthread_mutex_unlock(&F.lock);
}

void situd_follow_metrics(situ_buf *b)
{
    situd_follow_lag l;
    situd_follow_lag_get(&l);
    situ_buf_printf(
        b,
        "# HELP situd_follow_seq The newest event log seq the served snapshot holds.\n"
        "# TYPE situd_follow_seq gauge\nsitud_follow_seq %lld\n"
        "# HELP situd_follow_lag_events Events the store holds that this situd has not "
        "published yet.\n"
        "# TYPE situd_follow_lag_events gauge\nsitud_follow_lag_events %lld\n"
        "# HELP situd_follow_lag_seconds Age of the oldest event not yet published, or time "
        "since the last successful poll while the store cannot be read.\n"
        "# TYPE situd_follow_lag_seconds gauge\nsitud_follow_lag_seconds %.3f\n"
        "# HELP situd_follow_store_up 1 while the event log can be read (always 1 on SQLite).\n"
        "# TYPE situd_follow_store_up gauge\nsitud_follow_store_up %d\n"
        "# HELP situd_follow_poll_failures_total Polls of the event log that failed.\n"
        "# TYPE situd_follow_poll_failures_total counter\n"
        "situd_follow_poll_failures_total %lld\n"
        "# HELP situd_follow_reconnects_total Times the follower read the store again after "
        "losing it.\n"
        "# TYPE situd_follow_reconnects_total counter\nsitud_follow_reconnects_total %lld\n",
        l.seq, l.store - l.seq, l.lag_s, !l.following || l.connected, l.poll_failures,
        l.reconnects);
}

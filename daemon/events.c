/*
 * events.c: GET /events, Server-Sent Events of every applied change. The
 * publisher formats each change once into a ring of recent messages; each
 * listener is an MHD response from callback that copies from the ring at
 * its own pace and suspends its connection when there is nothing to send,
 * so a push costs one resume per waiting listener and never waits on one.
 * A listener that falls a whole ring behind, or that reconnects with
 * Last-Event-ID, is served from the event log instead (read-only).
 *
 *   CONNECT -> REPLAY (log rows after Last-Event-ID, 256 per call) -> LIVE
 *   LIVE -(ring has news)-> send -> LIVE
 *   LIVE -(nothing)-> SUSPENDED -(push | heartbeat due | stop)-> LIVE
 *   LIVE -(a ring behind)-> REPLAY from the last seq sent -> LIVE
 *   stop -> END (EventSource reconnects with Last-Event-ID)
 *
 * SSE ids are event_log seqs; an event's last message carries its id.
 */
#include "events.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/buf.h"

#define RING 4096       /* messages kept for listeners */
#define OUT_CHUNK 32768 /* bytes copied out of the ring per call */
#define REPLAY_ROWS 256 /* log rows read per call */
#define MAX_LISTENERS 1000

typedef struct sse_msg {
    long long seq; /* 0: not an event's last message */
    char *text;
    size_t n;
} sse_msg;

typedef struct listener {
    struct MHD_Connection *conn;
    uint64_t pos;           /* next ring message to send */
    long long last_seq;     /* every event up to this one was sent or is in replay */
    long long replay_after; /* replay log rows in (replay_after, replay_upto] */
    long long replay_upto;
    situ_store *db; /* open while replaying */
    situ_buf out;
    size_t off;
    long long last_write_ms; /* atomic: the ticker reads it */
    int suspended;
    struct listener *prev, *next;
} listener;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t tick_cv;
    pthread_t ticker;
    sse_msg ring[RING];
    uint64_t head; /* messages [head - RING, head) are in the ring */
    long long published;
    listener *all;
    int n, running, stopping;
    long long heartbeat_ms;
    char db[1024];
} E = {.lock = PTHREAD_MUTEX_INITIALIZER, .tick_cv = PTHREAD_COND_INITIALIZER};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long idle_ms(const listener *l)
{
    return mono_ms() - __atomic_load_n(&l->last_write_ms, __ATOMIC_RELAXED);
}

int situd_can_suspend(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON) : NULL;
    const union MHD_DaemonInfo *di =
        ci ? MHD_get_daemon_info(ci->daemon, MHD_DAEMON_INFO_FLAGS) : NULL;
    return di && (di->flags & MHD_ALLOW_SUSPEND_RESUME) == MHD_ALLOW_SUSPEND_RESUME;
}

static void format_msg(situ_buf *b, const situ_feed_change *c, int with_id)
{
    if (with_id && c->seq)
        situ_buf_printf(b, "id: %lld\n", c->seq);
    situ_buf_adds(b, "data: ");
    situ_feed_change_json(c, b);
    situ_buf_adds(b, "\n\n");
}

/* Under E.lock: resumes the suspended listeners (with due_only, those
 * whose heartbeat is due). */
static void wake(int due_only)
{
    for (listener *l = E.all; l; l = l->next)
        if (l->suspended && (!due_only || idle_ms(l) >= E.heartbeat_ms)) {
            l->suspended = 0;
            MHD_resume_connection(l->conn);
        }
}

void situd_events_push(const situ_feed_change *c, size_t n)
{
    sse_msg *m = calloc(n ? n : 1, sizeof *m);
    for (size_t i = 0; m && i < n; i++) {
        situ_buf b;
        situ_buf_init(&b);
        int last = i + 1 == n || c[i + 1].seq != c[i].seq;
        format_msg(&b, &c[i], last);
        m[i].seq = last ? c[i].seq : 0;
        m[i].text = situ_buf_steal(&b, &m[i].n);
    }
    pthread_mutex_lock(&E.lock);
    for (size_t i = 0; m && E.running && i < n; i++) {
        sse_msg *slot = &E.ring[E.head % RING];
        free(slot->text);
        *slot = m[i];
        m[i].text = NULL;
        E.head++;
        if (slot->seq)
            E.published = slot->seq;
    }
    wake(0);
    pthread_mutex_unlock(&E.lock);
    for (size_t i = 0; m && i < n; i++)
        free(m[i].text);
    free(m);
}

long long situd_events_published(void)
{
    pthread_mutex_lock(&E.lock);
    long long p = E.published;
    pthread_mutex_unlock(&E.lock);
    return p;
}

int situd_events_listeners(void)
{
    pthread_mutex_lock(&E.lock);
    int n = E.n;
    pthread_mutex_unlock(&E.lock);
    return n;
}

/* ---- one listener ------------------------------------------------------------- */

typedef struct replay_ctx {
    listener *l;
    situ_feed_change prev;
    int has_prev;
} replay_ctx;

/* Messages of one event go out together; its last one carries the id. */
static int replay_one(void *ctx, const situ_feed_change *c)
{
    replay_ctx *r = ctx;
    if (r->has_prev)
        format_msg(&r->l->out, &r->prev, r->prev.seq != c->seq);
    r->prev = *c;
    r->has_prev = 1;
    return 0;
}

/* A resume point older than the oldest kept log row (retention archived
 * the rows between): an "archived" event says so, then the replay goes on
 * from the oldest kept. */
static void note_archived(listener *l)
{
    long long first = situ_feed_log_first(l->db);
    if (!first)
        first = l->replay_upto + 1;
    if (first > l->replay_after + 1)
        situ_buf_printf(&l->out,
                        "event: archived\ndata: {\"after\":%lld,\"oldest_kept\":%lld,"
                        "\"detail\":\"events %lld to %lld were archived by retention; the "
                        "replay starts at the oldest kept\"}\n\n",
                        l->replay_after, first, l->replay_after + 1, first - 1);
}

/* Reads the next log rows into the listener's buffer; -1 on failure. */
static int replay_chunk(listener *l)
{
    situ_err err = {0};
    if (!l->db) {
        if (situ_store_open(E.db, SITU_STORE_READONLY, &l->db, &err)) {
            fprintf(stderr, "situd: /events replay: %s\n", err.msg);
            return -1;
        }
        note_archived(l); /* once per replay */
    }
    replay_ctx r = {.l = l};
    long long last;
    if (situ_feed_log_read(l->db, l->replay_after, l->replay_upto, REPLAY_ROWS, replay_one, &r,
                           &last, &err)) {
        fprintf(stderr, "situd: /events replay: %s\n", err.msg);
        return -1;
    }
    if (r.has_prev)
        format_msg(&l->out, &r.prev, 1);
    l->replay_after = last == l->replay_after ? l->replay_upto : last;
    if (l->replay_after >= l->replay_upto) {
        situ_store_close(l->db);
        l->db = NULL;
    }
    return l->out.oom ? -1 : 0;
}

/* Under E.lock: copies ring messages into out; a listener a whole ring
 * behind goes back to the log from the last event it was sent. */
static void take_from_ring(listener *l)
{
    if (E.head - l->pos > RING) {
        if (l->replay_after >= l->replay_upto)
            l->replay_after = l->last_seq;
        l->replay_upto = E.published;
        l->pos = E.head;
        return;
    }
    for (; l->pos < E.head && l->out.n < OUT_CHUNK; l->pos++) {
        const sse_msg *m = &E.ring[l->pos % RING];
        situ_buf_add(&l->out, m->text, m->n);
        if (m->seq)
            l->last_seq = m->seq;
    }
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    listener *l = cls;
    (void)pos;
    for (;;) {
        if (l->off < l->out.n) {
            size_t k = l->out.n - l->off < max ? l->out.n - l->off : max;
            memcpy(buf, l->out.p + l->off, k);
            l->off += k;
            if (l->off == l->out.n)
                l->out.n = l->off = 0;
            __atomic_store_n(&l->last_write_ms, mono_ms(), __ATOMIC_RELAXED);
            return (ssize_t)k;
        }
        if (l->out.oom)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (l->replay_after < l->replay_upto) {
            if (replay_chunk(l))
                return MHD_CONTENT_READER_END_WITH_ERROR;
            continue;
        }
        pthread_mutex_lock(&E.lock);
        if (E.stopping) {
            pthread_mutex_unlock(&E.lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (l->pos < E.head) {
            take_from_ring(l);
        } else if (idle_ms(l) >= E.heartbeat_ms) {
            situ_buf_adds(&l->out, ": keep-alive\n\n");
        } else {
            l->suspended = 1;
            MHD_suspend_connection(l->conn);
            pthread_mutex_unlock(&E.lock);
            return 0;
        }
        pthread_mutex_unlock(&E.lock);
    }
}

static void sse_free(void *cls)
{
    listener *l = cls;
    pthread_mutex_lock(&E.lock);
    if (l->prev)
        l->prev->next = l->next;
    else
        E.all = l->next;
    if (l->next)
        l->next->prev = l->prev;
    E.n--;
    pthread_mutex_unlock(&E.lock);
    situ_store_close(l->db);
    situ_buf_dispose(&l->out);
    free(l);
}

struct MHD_Response *situd_events_response(struct MHD_Connection *conn, long long after, char *msg,
                                           size_t nmsg)
{
    if (!situd_can_suspend(conn))
        return snprintf(msg, nmsg, "/events needs MHD_ALLOW_SUSPEND_RESUME in situd's server"),
               NULL;
    listener *l = calloc(1, sizeof *l);
    if (!l)
        return snprintf(msg, nmsg, "out of memory"), NULL;
    situ_buf_init(&l->out);
    situ_buf_adds(&l->out, "retry: 2000\n: situd /events\n\n");
    l->conn = conn;
    l->last_write_ms = mono_ms();
    pthread_mutex_lock(&E.lock);
    const char *refused = !E.running || E.stopping ? "situd is stopping"
                          : E.n >= MAX_LISTENERS   ? "too many /events listeners"
                                                   : NULL;
    if (!refused) {
        l->pos = E.head;
        l->last_seq = E.published;
        if (after >= 0 && after < E.published)
            l->replay_after = after, l->replay_upto = E.published;
        l->next = E.all;
        if (E.all)
            E.all->prev = l;
        E.all = l;
        E.n++;
    }
    pthread_mutex_unlock(&E.lock);
    if (refused) {
        snprintf(msg, nmsg, "%s", refused);
        situ_buf_dispose(&l->out);
        free(l);
        return NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, l, sse_free);
    if (!resp) {
        sse_free(l);
        return snprintf(msg, nmsg, "out of memory"), NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return resp;
}

/* ---- start, heartbeats, stop ------------------------------------------------------- */

static void *ticker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&E.lock);
    while (!E.stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&E.tick_cv, &E.lock, &ts);
        wake(1);
    }
    pthread_mutex_unlock(&E.lock);
    return NULL;
}

int situd_events_start(const char *db, long long last_seq, double heartbeat_s)
{
    snprintf(E.db, sizeof E.db, "%s", db);
    E.published = last_seq;
    E.heartbeat_ms = (long long)((heartbeat_s > 0 ? heartbeat_s : 15) * 1000);
    E.stopping = 0;
    if (pthread_create(&E.ticker, NULL, ticker_main, NULL))
        return -1;
    E.running = 1;
    return 0;
}

void situd_events_stop(void)
{
    pthread_mutex_lock(&E.lock);
    int was = E.running;
    E.stopping = 1;
    wake(0);
    pthread_cond_signal(&E.tick_cv);
    pthread_mutex_unlock(&E.lock);
    if (was)
        pthread_join(E.ticker, NULL);
    pthread_mutex_lock(&E.lock);
    E.running = 0;
    for (int i = 0; i < RING; i++) {
        free(E.ring[i].text);
        E.ring[i].text = NULL;
    }
    pthread_mutex_unlock(&E.lock);
}

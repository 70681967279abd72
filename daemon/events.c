/*
 * events.c: GET /events, Server-Sent Events of every applied change. The
 * publisher formats each change once into a ring of recent messages; each
 * listener is an MHD response from callback that copies from the ring at
 * its own pace and suspends its connection when there is nothing to send,
 * so a push costs one resume per waiting listener and never waits on one.
 * A listener that falls a whole ring behind, or that reconnects with
 * Last-Event-ID, is served from the event log instead: one read-only
 * connection shared by every replaying listener, under its lock, with the
 * last page read kept, so that a crowd replaying from the same point costs
 * one read. Slots are bounded in all (max_listeners) and per client address
 * (max_listeners_per_address; an IPv6 /64 is one address), so that a flood
 * from one address cannot take the wall's.
 *
 *   CONNECT -> REPLAY (log rows after Last-Event-ID, 256 per call) -> LIVE
 *   LIVE -(ring has news)-> send -> LIVE
 *   LIVE -(nothing)-> SUSPENDED -(push | heartbeat due | stop)-> LIVE
 *   LIVE -(a ring behind)-> REPLAY from the last seq sent -> LIVE
 *   stop -> END (EventSource reconnects with Last-Event-ID)
 *
 * SSE ids are event_log seqs; an event's last message carries its id. On
 * PostgreSQL every situd publishes the same events in seq order (follow.c),
 * so an id from one situd resumes on another: one behind replays the log
 * up to what it published, one ahead skips the events the listener saw.
 */
#include "events.h"

#include <netinet/in.h>
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

typedef struct sse_msg {
    long long seq; /* 0: not an event's last message */
    long long ev;  /* the seq of the event it is of (0: an expiry) */
    char *text;
    size_t n;
} sse_msg;

typedef struct listener {
    struct MHD_Connection *conn;
    uint64_t pos;           /* next ring message to send */
    long long last_seq;     /* every event up to this one was sent or is in replay */
    long long floor;        /* it saw events up to this one elsewhere: skip them */
    long long replay_after; /* replay log rows in (replay_after, replay_upto] */
    long long replay_upto;
    int replay_noted;       /* the archived note of this replay is written */
    unsigned char addr[16]; /* the client's address (an IPv6 /64), for its limit */
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
    long long lag_replays;    /* listeners a whole ring behind, sent to the log */
    long long resume_replays; /* new listeners replaying from a resume point */
    long long heartbeat_ms;
    char db[1024];
} E = {.lock = PTHREAD_MUTEX_INITIALIZER, .tick_cv = PTHREAD_COND_INITIALIZER};

/* The replay reader every listener shares, and the last page it read. */
static struct {
    pthread_mutex_t lock;
    situ_store *db; /* opened at the first replay, closed at stop */
    int closed;
    int valid; /* page holds the rows (after, upto], up to `last` */
    long long after, upto, last;
    situ_buf page;
} R = {.lock = PTHREAD_MUTEX_INITIALIZER};

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
        m[i].ev = c[i].seq;
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

void situd_events_replays(long long *lag, long long *resume)
{
    pthread_mutex_lock(&E.lock);
    *lag = E.lag_replays;
    *resume = E.resume_replays;
    pthread_mutex_unlock(&E.lock);
}

/* ---- one listener ------------------------------------------------------------- */

typedef struct replay_ctx {
    situ_buf *out;
    situ_feed_change prev;
    int has_prev;
} replay_ctx;

/* Messages of one event go out together; its last one carries the id. */
static int replay_one(void *ctx, const situ_feed_change *c)
{
    replay_ctx *r = ctx;
    if (r->has_prev)
        format_msg(r->out, &r->prev, r->prev.seq != c->seq);
    r->prev = *c;
    r->has_prev = 1;
    return 0;
}

/* Under R.lock: reads the page of log rows after `after` up to `upto` into
 * R.page, unless it holds it already; -1 on failure. */
static int read_page(long long after, long long upto)
{
    if (R.valid && R.after == after && R.upto == upto)
        return 0;
    situ_err err = {0};
    if (R.closed)
        return -1;
    if (!R.db && situ_store_open(E.db, SITU_STORE_READONLY, &R.db, &err))
        goto fail;
    R.valid = 0;
    R.page.n = 0;
    replay_ctx r = {.out = &R.page};
    if (situ_feed_log_read(R.db, after, upto, REPLAY_ROWS, replay_one, &r, &R.last, &err))
        goto fail;
    if (r.has_prev)
        format_msg(&R.page, &r.prev, 1);
    if (R.page.oom) {
        situ_buf_dispose(&R.page); /* clears oom for the next read */
        return -1;
    }
    R.after = after, R.upto = upto, R.valid = 1;
    return 0;
fail:
    fprintf(stderr, "situd: /events replay: %s\n", err.msg);
    situ_store_close(R.db); /* opened again by the next replay */
    R.db = NULL;
    return -1;
}

/* A resume point older than the oldest kept log row (retention archived
 * the rows between, `first` being the oldest kept, 0 for none): an
 * "archived" event says so, then the replay goes on from the oldest kept. */
static void note_archived(listener *l, long long first)
{
    if (!first)
        first = l->replay_upto + 1;
    if (first > l->replay_after + 1)
        situ_buf_printf(&l->out,
                        "event: archived\ndata: {\"after\":%lld,\"oldest_kept\":%lld,"
                        "\"detail\":\"events %lld to %lld were archived by retention; the "
                        "replay starts at the oldest kept\"}\n\n",
                        l->replay_after, first, l->replay_after + 1, first - 1);
}

/* Appends the next log rows to the listener's buffer (after the archived
 * note, once per replay); -1 on failure. */
static int replay_chunk(listener *l)
{
    pthread_mutex_lock(&R.lock);
    int rc = read_page(l->replay_after, l->replay_upto);
    long long last = R.last;
    if (!rc && !l->replay_noted) {
        note_archived(l, situ_feed_log_first(R.db));
        l->replay_noted = 1;
    }
    if (!rc)
        situ_buf_add(&l->out, R.page.p, R.page.n);
    pthread_mutex_unlock(&R.lock);
    if (rc)
        return -1;
    l->replay_after = last == l->replay_after ? l->replay_upto : last;
    if (l->replay_after >= l->replay_upto)
        l->replay_noted = 0; /* the next replay (after a lag) notes again */
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
        E.lag_replays++;
        return;
    }
    for (; l->pos < E.head && l->out.n < OUT_CHUNK; l->pos++) {
        const sse_msg *m = &E.ring[l->pos % RING];
        if (m->ev && m->ev <= l->floor)
            continue;
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
    situ_buf_dispose(&l->out);
    free(l);
}

/* conn's client address as a key: IPv4 (also mapped into IPv6) whole, IPv6
 * by its /64, the network one host is usually given. */
static void address_key(struct MHD_Connection *conn, unsigned char out[16])
{
    memset(out, 0, 16);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else if (sa && sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            memcpy(out + 12, a6->s6_addr + 12, 4);
        else
            memcpy(out, a6->s6_addr, 8), out[15] = 6;
    }
}

/* Under E.lock: why a new listener from addr is refused, or NULL. */
static const char *refusal(const unsigned char addr[16], int max, int per_address)
{
    if (!E.running || E.stopping)
        return "situd is stopping";
    if (E.n >= max)
        return "too many /events listeners";
    int same = 0;
    for (const listener *l = E.all; l && same < per_address; l = l->next)
        same += !memcmp(l->addr, addr, 16);
    return same >= per_address ? "too many /events listeners from this address" : NULL;
}

struct MHD_Response *situd_events_response(struct MHD_Connection *conn, long long after,
                                           int max_listeners, int per_address, char *msg,
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
    address_key(conn, l->addr);
    pthread_mutex_lock(&E.lock);
    const char *refused = refusal(l->addr, max_listeners, per_address);
    if (!refused) {
        l->pos = E.head;
        l->last_seq = E.published;
        if (after > E.published) /* resumed from a situd further along the log */
            l->floor = l->last_seq = after;
        if (after >= 0 && after < E.published) {
            l->replay_after = after, l->replay_upto = E.published;
            E.resume_replays++;
        }
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
    pthread_mutex_lock(&R.lock);
    R.closed = 0;
    pthread_mutex_unlock(&R.lock);
    if (pthread_create(&E.ticker, NULL, ticker_main, NULL))
        return -1;
    E.running = 1;
    return 0;
}

void situd_events_rewind(long long last_seq)
{
    pthread_mutex_lock(&E.lock);
    E.published = last_seq;
    pthread_mutex_unlock(&E.lock);
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
    pthread_mutex_lock(&R.lock);
    R.closed = 1;
    R.valid = 0;
    situ_store_close(R.db);
    R.db = NULL;
    situ_buf_dispose(&R.page);
    pthread_mutex_unlock(&R.lock);
    pthread_mutex_lock(&E.lock);
    E.running = 0;
    for (int i = 0; i < RING; i++) {
        free(E.ring[i].text);
        E.ring[i].text = NULL;
    }
    pthread_mutex_unlock(&E.lock);
}

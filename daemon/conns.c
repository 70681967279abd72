/*
 * conns.c: admission of HTTP connections, so that situd stays up and
 * answers under overload. A connection's life (conn_ctx, MHD's socket
 * context):
 *   accepted -> admitted (one of `capacity`, i.e. max_connections) or past
 *     capacity (its first request gets the shared 503, Retry-After,
 *     Connection: close; no body read, no work)
 *   -> WAITING for a request head, on a deadline: header_timeout from the
 *      accept, connection_timeout + header_timeout after a kept-alive answer
 *   -> head in: off the clock while served -> answered: WAITING again
 *   -> closed by MHD (idle, client gone) or by the reaper thread, which
 *      shuts down a WAITING connection past its deadline: a client that
 *      trickles its head (slowloris) resets MHD's idle timer but not this one.
 * Each HTTP/1.1 connection has at most one request in progress, so capacity
 * bounds the work queued as well.
 *
 * Stopping (situd_conns_drain): every request head from then on is answered
 * 503 "stopping" with Connection: close, and the reaper shuts down every
 * WAITING connection (idle keep-alives) at once; the requests being served
 * finish. situd then stops MHD. libmicrohttpd's own MHD_quiesce_daemon is
 * not used: with epoll and a thread pool it races its workers over the
 * listen socket's epoll entry and aborts the process ("Failed to remove
 * listen FD from epoll set"; seen in http.test_attacks' SIGTERM rounds).
 */
#include "conns.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "situ/clock.h"

/* Off the clock (a request is being served, or the connection is closing). */
#define NOT_WAITING (-1)
enum { FIRST_HEAD, NEXT_HEAD }; /* the two waiting lists */

typedef struct conn_ctx {
    struct conn_ctx *prev, *next; /* in C.head[list] while waiting */
    double deadline;              /* monotonic seconds */
    int fd;
    int list;     /* FIRST_HEAD, NEXT_HEAD or NOT_WAITING */
    int admitted; /* one of the `capacity`; set at accept, read by its worker */
} conn_ctx;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t tick;
    /* each list is in deadline order: one timeout per list, appended at now */
    conn_ctx *head[2], *tail[2];
    double timeout[2];
    unsigned open, admitted, capacity, limit;
    unsigned long long overload, late_heads;
    int stopping, reaping, draining;
    pthread_t reaper;
    struct MHD_Response *busy;          /* the one 503, shared by every refused request */
    struct MHD_Response *stopping_resp; /* the 503 of a request head while draining */
} C = {.lock = PTHREAD_MUTEX_INITIALIZER, .tick = PTHREAD_COND_INITIALIZER};

/* Under C.lock: puts c on the clock for its next request head. */
static void wait_head(conn_ctx *c, int list)
{
    c->list = list;
    c->deadline = situ_clock_s() + C.timeout[list];
    c->next = NULL;
    c->prev = C.tail[list];
    if (c->prev)
        c->prev->next = c;
    else
        C.head[list] = c;
    C.tail[list] = c;
}

/* Under C.lock: takes c off the clock, if it is on it. */
static void unwait(conn_ctx *c)
{
    if (c->list == NOT_WAITING)
        return;
    int l = c->list;
    if (c->prev)
        c->prev->next = c->next;
    else
        C.head[l] = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        C.tail[l] = c->prev;
    c->prev = c->next = NULL;
    c->list = NOT_WAITING;
}

static conn_ctx *conn_ctx_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* MHD's connection notice, on the worker that owns conn. STARTED: admits the
 * connection while fewer than `capacity` are, and starts the clock on its
 * first head. CLOSED (always before MHD closes the fd): forgets it, so the
 * reaper never touches an fd that may have been reused. */
void situd_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    conn_ctx *c = *socket_ctx;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (!c) /* served, but neither counted nor timed */
            return;
        c->fd = ci ? ci->connect_fd : -1;
        c->list = NOT_WAITING;
        pthread_mutex_lock(&C.lock);
        C.open++;
        c->admitted = C.admitted < C.capacity;
        C.admitted += (unsigned)c->admitted;
        wait_head(c, FIRST_HEAD);
        pthread_mutex_unlock(&C.lock);
        *socket_ctx = c;
        return;
    }
    if (!c)
        return;
    pthread_mutex_lock(&C.lock);
    unwait(c);
    C.open--;
    C.admitted -= (unsigned)c->admitted;
    pthread_mutex_unlock(&C.lock);
    free(c);
    *socket_ctx = NULL;
}

/* A connection's request head is in: off the clock while it is served. */
static void head_received(conn_ctx *c)
{
    pthread_mutex_lock(&C.lock);
    unwait(c);
    pthread_mutex_unlock(&C.lock);
}

/* The reaper: four times a second, shuts down (both ways) the connections
 * whose head is overdue. It cannot close them (MHD owns the fd); MHD then
 * reads the end of the stream and closes the connection itself. */
static void *reaper_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&C.lock);
    while (!C.stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250000000L;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&C.tick, &C.lock, &ts);
        double now = situ_clock_s();
        for (int l = FIRST_HEAD; l <= NEXT_HEAD; l++)
            while (C.head[l] && (C.draining || C.head[l]->deadline <= now)) {
                conn_ctx *c = C.head[l];
                unwait(c);
                if (c->fd >= 0)
                    shutdown(c->fd, SHUT_RDWR);
                C.late_heads += !C.draining;
            }
    }
    pthread_mutex_unlock(&C.lock);
    return NULL;
}

/* The answer to a request on a connection past capacity: made once, without
 * the request's path, so that refusing costs no allocation. */
static const char busy_body[] =
    "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
    "\"detail\":\"situd is serving as many connections as it can; retry in a second\"}\n";

static const char stopping_body[] =
    "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,"
    "\"detail\":\"situd is stopping; retry in a second\"}\n";

/* A shared 503 of body (persistent): Retry-After 1, Connection: close. */
static struct MHD_Response *refusal(const situd_config *cfg, const char *body, size_t n)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (cfg->cors_origin[0])
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", cfg->cors_origin);
    return resp;
}

void situd_conns_stats(situ_buf *b)
{
    pthread_mutex_lock(&C.lock);
    unsigned open = C.open, capacity = C.capacity;
    unsigned long long late = C.late_heads;
    pthread_mutex_unlock(&C.lock);
    unsigned long long overload = __atomic_load_n(&C.overload, __ATOMIC_RELAXED);
    situ_buf_printf(b,
                    "# HELP situd_connections Open HTTP connections.\n"
                    "# TYPE situd_connections gauge\n"
                    "situd_connections %u\n"
                    "# HELP situd_connections_capacity Connections served at once; a request on "
                    "one more is answered 503.\n"
                    "# TYPE situd_connections_capacity gauge\n"
                    "situd_connections_capacity %u\n"
                    "# HELP situd_rejected_total Requests answered 503 past capacity "
                    "(overload) and connections closed for a late request head "
                    "(header_timeout).\n"
                    "# TYPE situd_rejected_total counter\n"
                    "situd_rejected_total{reason=\"overload\"} %llu\n"
                    "situd_rejected_total{reason=\"header_timeout\"} %llu\n",
                    open, capacity, overload, late);
}

void situd_conns_stop(void)
{
    pthread_mutex_lock(&C.lock);
    C.stopping = 1;
    pthread_cond_signal(&C.tick);
    pthread_mutex_unlock(&C.lock);
    if (C.reaping)
        pthread_join(C.reaper, NULL);
    C.reaping = 0;
    if (C.busy)
        MHD_destroy_response(C.busy);
    if (C.stopping_resp)
        MHD_destroy_response(C.stopping_resp);
    C.busy = C.stopping_resp = NULL;
}

int situd_conns_drain(double max_s)
{
    pthread_mutex_lock(&C.lock);
    __atomic_store_n(&C.draining, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&C.tick);
    pthread_mutex_unlock(&C.lock);
    for (double end = situ_clock_s() + max_s; situ_clock_s() < end;) {
        pthread_mutex_lock(&C.lock);
        unsigned open = C.open;
        pthread_mutex_unlock(&C.lock);
        if (!open)
            return 0;
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return -1;
}

/* Files a connection cannot have: the store, exports, epoll and its wake-ups,
 * logs. */
#define SITUD_FD_RESERVE 128

/* Raises the soft limit on open files to the hard one (CI starts us at
 * 1024); returns the soft limit in force afterwards. */
static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        /* Linux refuses an infinite limit on files; 2^20 is its default ceiling */
        struct rlimit up = {rl.rlim_max == RLIM_INFINITY ? (rlim_t)1 << 20 : rl.rlim_max,
                            rl.rlim_max};
        if (!setrlimit(RLIMIT_NOFILE, &up))
            rl.rlim_cur = up.rlim_cur;
    }
    return rl.rlim_cur;
}

/* C.capacity is the connections served; C.limit, the connections MHD
 * holds: capacity plus a band whose requests are answered 503 at once, so
 * that a flood meets a fast refusal and not a full accept queue. */
unsigned situd_conns_size(const situd_config *cfg, unsigned threads)
{
    rlim_t nofile = raise_nofile();
    rlim_t reserve = SITUD_FD_RESERVE + 2 * (rlim_t)threads;
    rlim_t budget = nofile > 2 * reserve ? nofile - reserve : nofile / 2;
    unsigned capacity = (unsigned)cfg->max_connections;
    unsigned band = capacity / 4 + 64;
    if ((rlim_t)capacity + band > budget) {
        capacity = (unsigned)(budget - budget / 5);
        band = (unsigned)(budget / 5);
    }
    C.capacity = capacity;
    C.limit = capacity + band > threads ? capacity + band : threads;
    C.timeout[FIRST_HEAD] = cfg->header_timeout;
    C.timeout[NEXT_HEAD] = cfg->connection_timeout + cfg->header_timeout;
    fprintf(stderr,
            "situd: open files limit %llu: serving %u connections at once%s, answering 503 "
            "on %u more; request heads due within %d s\n",
            (unsigned long long)nofile, capacity,
            capacity < (unsigned)cfg->max_connections ? " (max_connections lowered to fit)" : "",
            C.limit - capacity, cfg->header_timeout);
    return C.limit;
}

int situd_conns_start(const situd_config *cfg)
{
    C.busy = refusal(cfg, busy_body, sizeof busy_body - 1);
    C.stopping_resp = refusal(cfg, stopping_body, sizeof stopping_body - 1);
    C.stopping = C.draining = 0;
    C.reaping = C.busy && C.stopping_resp && !pthread_create(&C.reaper, NULL, reaper_main, NULL);
    if (!C.reaping)
        situd_conns_stop();
    return C.reaping ? 0 : -1;
}

int situd_conns_head(struct MHD_Connection *conn)
{
    conn_ctx *c = conn_ctx_of(conn);
    if (!c)
        return 1;
    head_received(c);
    return c->admitted && !__atomic_load_n(&C.draining, __ATOMIC_RELAXED);
}

situd_result situd_conns_refuse(struct MHD_Connection *conn, size_t *out_bytes)
{
    if (__atomic_load_n(&C.draining, __ATOMIC_RELAXED)) {
        *out_bytes = sizeof stopping_body - 1;
        return MHD_queue_response(conn, 503, C.stopping_resp);
    }
    __atomic_add_fetch(&C.overload, 1, __ATOMIC_RELAXED);
    *out_bytes = sizeof busy_body - 1;
    return MHD_queue_response(conn, 503, C.busy);
}

void situd_conns_answered(struct MHD_Connection *conn)
{
    conn_ctx *c = conn_ctx_of(conn);
    if (!c)
        return;
    pthread_mutex_lock(&C.lock);
    if (c->list == NOT_WAITING)
        wait_head(c, NEXT_HEAD);
    pthread_mutex_unlock(&C.lock);
}

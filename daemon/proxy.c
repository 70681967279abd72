/*
 * proxy.c: a request passed on to a drill's own situd on 127.0.0.1 (drills.h)
 * and its answer streamed back, /events too, without tying up a server
 * thread: the socket to the drill is non-blocking, and while it has nothing
 * to read the client's connection is suspended; one pump thread watches
 * every such socket (epoll, one shot) and resumes its connection when the
 * drill has written. The request goes as HTTP/1.0, so the drill answers
 * unchunked and ends its answer by closing.
 *
 *   request: connect -> send head and body -> HEAD (read until the blank
 *            line; suspended while nothing comes) -> BODY (the response's
 *            callback reads on; suspended while nothing comes) -> EOF: end
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drills.h"
#include "events.h"
#include "routes.h"

#define SLOTS 1024          /* proxied answers in flight at once */
#define HEAD_MAX (64 << 10) /* a drill's answer head */
#define SEND_TIMEOUT_S 10

typedef struct pstream {
    int fd, slot;
    struct MHD_Connection *conn;
    situd_req *r; /* while the head is awaited; NULL once the response owns this */
    situ_buf in;  /* the head, then what of the body came with it */
    size_t off;   /* of in: body bytes not yet handed on */
    int suspended;
} pstream;

static struct {
    pthread_mutex_t lock; /* slots, gens, suspended flags, stopping */
    pthread_once_t once;
    int ep;
    pthread_t pump;
    pstream *slots[SLOTS];
    unsigned gens[SLOTS];
    int stopping;
} X = {.lock = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT, .ep = -1};

static void *pump_main(void *arg)
{
    (void)arg;
    struct epoll_event ev[64];
    for (;;) {
        int n = epoll_wait(X.ep, ev, 64, -1);
        pthread_mutex_lock(&X.lock);
        for (int i = 0; i < n; i++) {
            unsigned slot = (unsigned)(ev[i].data.u64 & 0xffffffffu);
            unsigned gen = (unsigned)(ev[i].data.u64 >> 32);
            pstream *p = slot < SLOTS && X.gens[slot] == gen ? X.slots[slot] : NULL;
            if (p && p->suspended) {
                p->suspended = 0;
                MHD_resume_connection(p->conn);
            }
        }
        pthread_mutex_unlock(&X.lock);
    }
    return NULL;
}

static void pump_init(void)
{
    X.ep = epoll_create1(EPOLL_CLOEXEC);
    if (X.ep >= 0 && pthread_create(&X.pump, NULL, pump_main, NULL)) {
        close(X.ep);
        X.ep = -1;
    }
    if (X.ep >= 0)
        pthread_detach(X.pump);
}

/* Under X.lock: suspends p's connection until its socket is readable. */
static void wait_readable(pstream *p)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT,
                             .data.u64 = ((uint64_t)X.gens[p->slot] << 32) | (unsigned)p->slot};
    p->suspended = 1;
    MHD_suspend_connection(p->conn);
    if (epoll_ctl(X.ep, EPOLL_CTL_MOD, p->fd, &ev) && errno == ENOENT)
        epoll_ctl(X.ep, EPOLL_CTL_ADD, p->fd, &ev);
}

static void pstream_free(void *cls)
{
    pstream *p = cls;
    if (!p)
        return;
    pthread_mutex_lock(&X.lock);
    if (p->slot >= 0) {
        X.slots[p->slot] = NULL;
        X.gens[p->slot]++;
        epoll_ctl(X.ep, EPOLL_CTL_DEL, p->fd, NULL);
    }
    pthread_mutex_unlock(&X.lock);
    if (p->fd >= 0)
        close(p->fd);
    situ_buf_dispose(&p->in);
    free(p);
}

/* A new stream on a free slot, or NULL when all are taken. */
static pstream *pstream_new(situd_req *r, int fd)
{
    pthread_once(&X.once, pump_init);
    pstream *p = calloc(1, sizeof *p);
    if (!p || X.ep < 0) {
        free(p);
        return NULL;
    }
    *p = (pstream){.fd = fd, .slot = -1, .conn = r->conn, .r = r};
    situ_buf_init(&p->in);
    pthread_mutex_lock(&X.lock);
    for (int i = 0; i < SLOTS && p->slot < 0; i++)
        if (!X.slots[i])
            X.slots[i] = p, p->slot = i;
    pthread_mutex_unlock(&X.lock);
    if (p->slot < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* ---- the request ------------------------------------------------------------------ */

/* Appends s percent-encoded for a path: '/' kept. */
static void add_path(situ_buf *b, const char *s)
{
    for (const char *seg = s;; seg++) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        char part[1024];
        snprintf(part, sizeof part, "%.*s", (int)(n < sizeof part ? n : sizeof part - 1), seg);
        situd_url_encode(b, part);
        if (!slash)
            return;
        situ_buf_addc(b, '/');
        seg = slash;
    }
}

typedef struct query_ctx {
    situ_buf *b;
    int n;
} query_ctx;

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    query_ctx *q = cls;
    (void)kind;
    situ_buf_addc(q->b, q->n++ ? '&' : '?');
    situd_url_encode(q->b, key);
    if (value) {
        situ_buf_addc(q->b, '=');
        situd_url_encode(q->b, value);
    }
    return MHD_YES;
}

/* The HTTP/1.0 request for path, with r's query, headers and body. */
static void request_text(situd_req *r, const char *path, situ_buf *b)
{
    static const char *const pass[] = {
        "Authorization", "Content-Type",  "Accept", "Accept-Encoding",
        "If-None-Match", "Last-Event-ID", "Host",   NULL};
    situ_buf_printf(b, "%s ", r->method);
    add_path(b, path);
    query_ctx q = {b, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_query, &q);
    situ_buf_adds(b, " HTTP/1.0\r\nConnection: close\r\n");
    for (const char *const *h = pass; *h; h++) {
        const char *v = situd_header(r, *h);
        if (v && !strpbrk(v, "\r\n"))
            situ_buf_printf(b, "%s: %s\r\n", *h, v);
    }
    if (r->body)
        situ_buf_printf(b, "Content-Length: %zu\r\n", r->nbody);
    situ_buf_adds(b, "\r\n");
    if (r->body)
        situ_buf_add(b, r->body, r->nbody);
}

/* A socket connected to 127.0.0.1:port (blocking, with send and receive
 * timeouts of timeout_s), or -1. */
static int connect_local(int port, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {timeout_s, 0};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0 && errno != EINTR)
            return -1;
        if (k > 0)
            p += k, n -= (size_t)k;
    }
    return 0;
}

/* ---- the answer ------------------------------------------------------------------- */

static ssize_t body_read(void *cls, uint64_t pos, char *out, size_t max)
{
    pstream *p = cls;
    (void)pos;
    if (p->off < p->in.n) {
        size_t k = p->in.n - p->off < max ? p->in.n - p->off : max;
        memcpy(out, p->in.p + p->off, k);
        p->off += k;
        return (ssize_t)k;
    }
    ssize_t k = recv(p->fd, out, max, MSG_DONTWAIT);
    if (k > 0)
        return k;
    if (k == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    pthread_mutex_lock(&X.lock);
    int stop = X.stopping;
    if (!stop)
        wait_readable(p);
    pthread_mutex_unlock(&X.lock);
    return stop ? MHD_CONTENT_READER_END_OF_STREAM : 0;
}

static int skipped_header(const char *name, size_t n)
{
    static const char *const skip[] = {"Connection",
                                       "Content-Length",
                                       "Transfer-Encoding",
                                       "Keep-Alive",
                                       "Date",
                                       "Access-Control-Allow-Origin",
                                       "Access-Control-Expose-Headers",
                                       NULL};
    for (const char *const *s = skip; *s; s++)
        if (strlen(*s) == n && !strncasecmp(name, *s, n))
            return 1;
    return 0;
}

/* Answers r from the complete head at p->in[0..end) (the body follows). */
static situd_result answer(situd_req *r, pstream *p, size_t end)
{
    unsigned status = 0;
    long long length = -1;
    char *head = strndup(p->in.p, end);
    if (!head || sscanf(head, "HTTP/%*d.%*d %u", &status) != 1 || status < 100 || status > 599) {
        free(head);
        return situd_problem(r, 502, NULL, "the drill's process answered malformed HTTP");
    }
    int bodyless = !strcmp(r->method, "HEAD") || status == 204 || status == 304;
    char *save, *line = strtok_r(head, "\r\n", &save);
    struct MHD_Response *resp = NULL;
    p->off = end;
    char *hdrs[128];
    int nh = 0;
    while ((line = strtok_r(NULL, "\r\n", &save)) && nh < 128)
        hdrs[nh++] = line;
    for (int i = 0; i < nh; i++)
        if (!strncasecmp(hdrs[i], "Content-Length:", 15))
            length = atoll(hdrs[i] + 15);
    if (bodyless)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_callback(length >= 0 ? (uint64_t)length : MHD_SIZE_UNKNOWN,
                                                 32 * 1024, body_read, p, pstream_free);
    for (int i = 0; resp && i < nh; i++) {
        char *colon = strchr(hdrs[i], ':');
        if (!colon || skipped_header(hdrs[i], (size_t)(colon - hdrs[i])))
            continue;
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        MHD_add_response_header(resp, hdrs[i], v);
    }
    free(head);
    if (resp && !bodyless)
        r->job = NULL; /* the response owns p now */
    return situd_reply_response(r, status, resp);
}

/* Reads what the drill sent; the head's end when it has all come (0: not
 * yet, -1: the drill closed or sent too much). */
static long head_read(pstream *p)
{
    char buf[16384];
    for (;;) {
        ssize_t k = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (k > 0)
            situ_buf_add(&p->in, buf, (size_t)k);
        if (p->in.n >= 4 && p->in.p) {
            situ_buf_addc(&p->in, '\0');
            p->in.n--;
            char *e = strstr(p->in.p, "\r\n\r\n");
            if (e)
                return (long)(e + 4 - p->in.p);
        }
        if (p->in.n > HEAD_MAX || p->in.oom || k == 0)
            return -1;
        if (k < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
}

situd_result situd_proxy(situd_req *r, int port, const char *path)
{
    pstream *p = r->job;
    if (!p) {
        int fd = connect_local(port, SEND_TIMEOUT_S);
        if (fd < 0)
            return situd_problem(r, 502, "id", "the drill's process does not answer");
        if (!(p = pstream_new(r, fd))) {
            close(fd);
            return situd_busy(r, "too many answers of drills in flight");
        }
        r->job = p, r->job_free = pstream_free;
        situ_buf req;
        situ_buf_init(&req);
        request_text(r, path, &req);
        int failed = req.oom || send_all(fd, req.p, req.n);
        situ_buf_dispose(&req);
        if (failed)
            return situd_problem(r, 502, "id", "the drill's process does not take the request");
    }
    long end = head_read(p);
    if (end < 0)
        return situd_problem(r, 502, "id", "the drill's process closed without an answer");
    if (end > 0)
        return answer(r, p, (size_t)end);
    if (!situd_can_suspend(r->conn))
        return situd_busy(r, "cannot wait for the drill here");
    pthread_mutex_lock(&X.lock);
    wait_readable(p);
    pthread_mutex_unlock(&X.lock);
    return MHD_YES;
}

void situd_proxy_stop(void)
{
    pthread_mutex_lock(&X.lock);
    X.stopping = 1;
    for (int i = 0; i < SLOTS; i++)
        if (X.slots[i] && X.slots[i]->suspended) {
            X.slots[i]->suspended = 0;
            MHD_resume_connection(X.slots[i]->conn);
        }
    pthread_mutex_unlock(&X.lock);
}

int situd_proxy_get(int port, const char *path, const char *host, int timeout_ms, situ_buf *out)
{
    int fd = connect_local(port, timeout_ms / 1000 + 1);
    if (fd < 0)
        return 0;
    situ_buf req;
    situ_buf_init(&req);
    situ_buf_printf(&req, "GET %s HTTP/1.0\r\nAccept: application/json\r\n", path);
    if (host && !strpbrk(host, "\r\n"))
        situ_buf_printf(&req, "Host: %s\r\n", host);
    situ_buf_adds(&req, "\r\n");
    int failed = req.oom || send_all(fd, req.p, req.n);
    situ_buf_dispose(&req);
    situ_buf all;
    situ_buf_init(&all);
    char buf[16384];
    ssize_t k;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (!failed && poll(&pf, 1, timeout_ms) == 1 && (k = recv(fd, buf, sizeof buf, 0)) > 0)
        situ_buf_add(&all, buf, (size_t)k);
    close(fd);
    unsigned status = 0;
    situ_buf_addc(&all, '\0');
    char *body = all.p && !all.oom ? strstr(all.p, "\r\n\r\n") : NULL;
    if (body && sscanf(all.p, "HTTP/%*d.%*d %u", &status) == 1)
        situ_buf_adds(out, body + 4);
    situ_buf_dispose(&all);
    return (int)status;
}

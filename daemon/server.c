/*
 * server.c: situd's libmicrohttpd glue. Owns the MHD daemon (epoll, a thread
 * pool, connection and memory limits), turning a connection into a
 * situd_req, reading bodies, dispatching through the route table, the reply
 * helpers every route uses, one log line per request and the snapshot holder.
 *
 * A request's life: first call, from the head alone -> situd_req allocated,
 * admitted (conns.c), routed: the handler answers now, or (a route that
 * takes a body, once the head passed its checks) asks for the body within
 * max_body_bytes and the global max_bodies_bytes -> body chunks -> the
 * handler, called again, queues one response -> completed callback logs,
 * records metrics, releases the snapshot, frees the body and situd_req.
 * Nobody's body is read before the route has accepted its head.
 * Admission under overload (capacity, the 503, head deadlines): conns.c.
 *
 * Compression is decided here, once for every route: a JSON answer (any
 * media type naming json, and Prometheus text) says Vary: Accept-Encoding,
 * and goes gzip when the client takes it and the body is 1 KiB or more:
 * in one call by libdeflate (situ/gzip.h: at level 6, mostly smaller than
 * zlib's for 30-52 % fewer instructions). A streamed one goes through zlib's streaming deflate, so
 * its memory stays flat and it stays one gzip member: libdeflate has no
 * streams, and a member per piece is not read whole by Chromium (it keeps
 * the first member and drops the rest) nor by curl (error 23).
 * Routes with their own gzip copies (tiles, the wall's files) set their
 * headers themselves.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "conns.h"
#include "follow.h"
#include "roads.h"
#include "situ/clock.h"
#include "situ/gzip.h"

#define GZIP_MIN 1024 /* smaller answers go as they are */
#define GZIP_LEVEL 6

static struct MHD_Daemon *mhd;
static const situd_config *config;
static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;
static situ_snapshot *current;
static long long current_seq; /* the newest event_log seq current holds */

situ_snapshot *situd_snapshot_acquire(void)
{
    pthread_mutex_lock(&snap_lock);
    situ_snapshot *s = situ_snapshot_retain(current);
    pthread_mutex_unlock(&snap_lock);
    return s;
}

situ_snapshot *situd_snapshot_acquire_seq(long long *out_seq)
{
    pthread_mutex_lock(&snap_lock);
    situ_snapshot *s = situ_snapshot_retain(current);
    *out_seq = current_seq;
    pthread_mutex_unlock(&snap_lock);
    return s;
}

long long situd_snapshot_seq(void)
{
    pthread_mutex_lock(&snap_lock);
    long long seq = current_seq;
    pthread_mutex_unlock(&snap_lock);
    return seq;
}

void situd_snapshot_seq_advance(long long seq)
{
    pthread_mutex_lock(&snap_lock);
    if (seq > current_seq)
        current_seq = seq;
    pthread_mutex_unlock(&snap_lock);
}

void situd_snapshot_publish(situ_snapshot *snap)
{
    if (snap) { /* before any reader can see snap */
        situd_nearest_prepare(snap);
        situd_roads_prepare(snap);
    }
    pthread_mutex_lock(&snap_lock);
    situ_snapshot *old = current;
    current = snap;
    pthread_mutex_unlock(&snap_lock);
    situ_snapshot_release(old);
}

/* ---- request helpers ------------------------------------------------------ */

const char *situd_arg(situd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *situd_header(situd_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

typedef struct arg_check {
    const char *const *allowed;
    const char *bad;
} arg_check;

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    arg_check *a = cls;
    (void)kind, (void)value;
    for (const char *const *p = a->allowed; *p; p++)
        if (!strcmp(*p, key))
            return MHD_YES;
    a->bad = key;
    return MHD_NO;
}

int situd_reject_unknown_args(situd_req *r, const char *const *allowed, situd_result *out)
{
    arg_check a = {allowed, NULL};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &a);
    if (!a.bad)
        return 0;
    char name[64];
    snprintf(name, sizeof name, "%s", a.bad);
    *out = situd_problem(r, 400, name, "unknown query parameter '%s'", name);
    return 1;
}

int situd_reject_bad_f(situd_req *r, situd_result *out)
{
    const char *f = situd_arg(r, "f");
    if (!f || !strcmp(f, "json") || !strcmp(f, "geojson"))
        return 0;
    *out = situd_problem(r, 400, "f", "f: only json is offered");
    return 1;
}

int situd_reject_args_but_f(situd_req *r, situd_result *out)
{
    static const char *const only_f[] = {"f", NULL};
    return situd_reject_unknown_args(r, only_f, out) || situd_reject_bad_f(r, out);
}

void situd_base_url(situd_req *r, char *out, size_t n)
{
    const char *host = situd_header(r, MHD_HTTP_HEADER_HOST);
    char fallback[300];
    if (!host || !*host || strpbrk(host, " \"<>\\/")) {
        snprintf(fallback, sizeof fallback, "%s:%d", config->host, situd_server_port());
        host = fallback;
    }
    if (config->drill_id[0]) /* reached through situd's /drills/{id}/ */
        snprintf(out, n, "http://%s/drills/%s", host, config->drill_id);
    else
        snprintf(out, n, "http://%s", host);
}

int situd_wants_json(situd_req *r)
{
    const char *f = situd_arg(r, "f");
    if (f)
        return !strcmp(f, "json");
    const char *accept = situd_header(r, MHD_HTTP_HEADER_ACCEPT);
    return accept && (strstr(accept, "application/json") || strstr(accept, "geo+json")) &&
           !strstr(accept, "text/html");
}

/* ---- compression ------------------------------------------------------------ */

int situd_accepts_gzip(situd_req *r)
{
    const char *ae = situd_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING);
    const char *g = ae ? strstr(ae, "gzip") : NULL;
    if (!g)
        return 0;
    const char *q = strstr(g, "q=");
    const char *comma = strchr(g, ',');
    return !(q && (!comma || q < comma) && strtod(q + 2, NULL) <= 0);
}

/* 1 when answers of this media type are worth compressing: JSON of any
 * kind (GeoJSON, problem+json, TileJSON, OpenAPI) and Prometheus text. */
static int compressible(const char *ctype)
{
    return ctype && (strstr(ctype, "json") || !strncmp(ctype, "text/plain", 10));
}

/* ---- replies ---------------------------------------------------------------- */

/* X-Situ-Seq: the newest event_log seq the answer's snapshot holds (the
 * current one for an answer given before a snapshot was taken); past
 * --max-lag behind the store, X-Situ-Stale: the lag in seconds. */
static void add_seq_headers(situd_req *r, struct MHD_Response *resp)
{
    char v[64];
    snprintf(v, sizeof v, "%lld", r->snap ? r->seq : situd_snapshot_seq());
    MHD_add_response_header(resp, "X-Situ-Seq", v);
    situd_follow_lag lag;
    situd_follow_lag_get(&lag);
    if (lag.lag_s > config->max_lag_s) {
        snprintf(v, sizeof v, "%.1f", lag.lag_s);
        MHD_add_response_header(resp, "X-Situ-Stale", v);
    }
}

situd_result situd_reply_response(situd_req *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    if (config->cors_origin[0])
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", config->cors_origin);
    int crs_header = r->content_crs && status < 300;
    if (crs_header) {
        char crs[128];
        snprintf(crs, sizeof crs, "<%s>", r->content_crs);
        MHD_add_response_header(resp, "Content-Crs", crs);
    }
    if (!MHD_get_response_header(resp, "X-Situ-Seq")) /* a drill's answer carries its own */
        add_seq_headers(r, resp);
    if (config->drill_id[0]) /* this situd serves a drill: every answer says so */
        MHD_add_response_header(resp, "X-Situ-Drill", config->drill_id);
    if (config->cors_origin[0]) /* else a page of another origin cannot read them */
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                crs_header ? "Content-Crs, X-Situ-Seq, X-Situ-Stale, X-Situ-Drill"
                                           : "X-Situ-Seq, X-Situ-Stale, X-Situ-Drill");
    r->status = (int)status;
    enum MHD_Result rc = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* 1 when an answer of n bytes of ctype goes gzip'd to this client. */
static int goes_gzip(situd_req *r, const char *ctype, size_t n)
{
    return compressible(ctype) && n >= GZIP_MIN && situd_accepts_gzip(r);
}

/* ETag: "tag" (or "tag-gz" for the gzip'd bytes: another representation)
 * and Cache-Control: no-cache (the client asks again every time). */
static void add_validator(struct MHD_Response *resp, const char *tag, int gz)
{
    char quoted[48];
    snprintf(quoted, sizeof quoted, "\"%s%s\"", tag, gz ? "-gz" : "");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, quoted);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
}

/* Answers n bytes at p: gzip'd when ctype is compressible, the client takes
 * it and n >= GZIP_MIN. own: p is malloc'd and taken, else it outlives the
 * response. tag: the bytes' ETag (unquoted), or NULL for none. */
static situd_result reply_bytes(situd_req *r, unsigned status, const char *ctype, char *p, size_t n,
                                int own, const char *tag)
{
    int zip = compressible(ctype), gz = 0;
    if (goes_gzip(r, ctype, n)) {
        size_t nz;
        char *z = situ_gzip(p, n, GZIP_LEVEL, &nz);
        if (z) { /* else: answered as it is */
            if (own)
                free(p);
            p = z, n = nz, own = 1, gz = 1;
        }
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, p, own ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (own)
            free(p);
        return MHD_NO;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (zip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (tag)
        add_validator(resp, tag, gz);
    r->bytes = n;
    return situd_reply_response(r, status, resp);
}

situd_result situd_reply_buf_tagged(situd_req *r, unsigned status, const char *ctype, situ_buf *b,
                                    const char *tag)
{
    if (b->oom) {
        situ_buf_dispose(b);
        return situd_problem(r, 503, NULL, "out of memory building the answer");
    }
    size_t n;
    char *p = situ_buf_steal(b, &n);
    return p ? reply_bytes(r, status, ctype, p, n, 1, tag)
             : reply_bytes(r, status, ctype, (char *)"", 0, 0, tag);
}

situd_result situd_reply_buf(situd_req *r, unsigned status, const char *ctype, situ_buf *b)
{
    return situd_reply_buf_tagged(r, status, ctype, b, NULL);
}

situd_result situd_reply_not_modified(situd_req *r, const char *ctype, size_t n, const char *tag)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    if (compressible(ctype))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    add_validator(resp, tag, goes_gzip(r, ctype, n));
    return situd_reply_response(r, MHD_HTTP_NOT_MODIFIED, resp);
}

situd_result situd_reply_static(situd_req *r, unsigned status, const char *ctype, const void *p,
                                size_t n)
{
    return reply_bytes(r, status, ctype, (char *)p, n, 0, NULL);
}

static const char *status_title(unsigned status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* The problem+json body of an answer; the caller queues it. */
static struct MHD_Response *problem_response(situd_req *r, unsigned status, const char *param,
                                             const char *detail)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_printf(&b, "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u,\"detail\":",
                    status_title(status), status);
    situ_buf_add_json_str(&b, detail);
    if (param) {
        situ_buf_adds(&b, ",\"parameter\":");
        situ_buf_add_json_str(&b, param);
    }
    situ_buf_adds(&b, ",\"instance\":");
    situ_buf_add_json_str(&b, r->path);
    situ_buf_adds(&b, "}\n");
    size_t n;
    char *p = b.oom ? NULL : situ_buf_steal(&b, &n);
    situ_buf_dispose(&b);
    struct MHD_Response *resp =
        p ? MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(p);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
    r->bytes = n;
    return resp;
}

situd_result situd_problem(situd_req *r, unsigned status, const char *param, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return situd_reply_response(r, status, problem_response(r, status, param, detail));
}

/* 503 problem+json with Retry-After: 1 naming param (may be NULL). */
static situd_result retry_later(situd_req *r, const char *param, const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    struct MHD_Response *resp = problem_response(r, 503, param, detail);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return situd_reply_response(r, 503, resp);
}

situd_result situd_busy(situd_req *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    situd_result res = retry_later(r, NULL, fmt, ap);
    return va_end(ap), res;
}

situd_result situd_not_yet(situd_req *r, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    situd_result res = retry_later(r, param, fmt, ap);
    return va_end(ap), res;
}

/* ---- request bodies --------------------------------------------------------- */

#define CHUNKED_FIRST (64u << 10) /* budget a chunked body holds before its first byte */

static size_t bodies_held; /* atomic: bytes of max_bodies_bytes held by requests */

/* Takes n more bytes of the global budget for r: 1, or 0 when they do not fit. */
static int body_hold(situd_req *r, size_t n)
{
    size_t cur = __atomic_load_n(&bodies_held, __ATOMIC_RELAXED);
    do {
        if (cur > config->max_bodies_bytes || n > config->max_bodies_bytes - cur)
            return 0;
    } while (!__atomic_compare_exchange_n(&bodies_held, &cur, cur + n, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    r->body_cap += n;
    return 1;
}

/* Frees r's body and gives its budget back. */
static void body_drop(situd_req *r)
{
    __atomic_sub_fetch(&bodies_held, r->body_cap, __ATOMIC_RELAXED);
    r->body_cap = 0;
    free(r->body);
    r->body = NULL;
    r->nbody = 0;
}

void situd_bodies_stats(situ_buf *b)
{
    situ_buf_printf(b,
                    "# HELP situd_request_bodies_bytes Bytes of max_bodies_bytes held by request "
                    "bodies being read.\n"
                    "# TYPE situd_request_bodies_bytes gauge\n"
                    "situd_request_bodies_bytes %zu\n"
                    "# HELP situd_request_bodies_capacity_bytes max_bodies_bytes: past it a new "
                    "upload is answered 503.\n"
                    "# TYPE situd_request_bodies_capacity_bytes gauge\n"
                    "situd_request_bodies_capacity_bytes %zu\n",
                    __atomic_load_n(&bodies_held, __ATOMIC_RELAXED), config->max_bodies_bytes);
}

/* The request's Content-Length: 1 with *out_n, or 0 when none was sent. */
static int content_length(situd_req *r, size_t *out_n)
{
    const char *v = situd_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v)
        return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10); /* MHD refused a malformed one */
    *out_n = *end || n > SIZE_MAX - 1 ? SIZE_MAX - 1 : (size_t)n;
    return 1;
}

/* 1 when the request says a body follows. */
static int has_body(situd_req *r)
{
    size_t n;
    return situd_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) || (content_length(r, &n) && n > 0);
}

int situd_body_read(const situd_req *r)
{
    return r->body_state == SITUD_BODY_DONE;
}

situd_result situd_body_expect(situd_req *r)
{
    size_t n;
    int known = content_length(r, &n);
    if (known && n > config->max_body_bytes) {
        const char *expect = situd_header(r, MHD_HTTP_HEADER_EXPECT);
        if ((expect && !strcasecmp(expect, "100-continue")) || n / 2 > config->max_body_bytes)
            return situd_problem(r, 413, "body", "request body over %zu bytes",
                                 config->max_body_bytes);
        /* a little over, from a client that sends it anyway and could not
         * read an early answer: let it go by unkept, then answer */
        r->body_state = SITUD_BODY_DISCARD;
        return MHD_YES;
    }
    size_t want = known ? n + 1 : CHUNKED_FIRST;
    if (!body_hold(r, want < config->max_body_bytes + 1 ? want : config->max_body_bytes + 1))
        return situd_busy(r, "situd is reading as many request bodies as it can hold; "
                             "send again in a second");
    r->body_state = SITUD_BODY_READING;
    return MHD_YES;
}

/* Appends a body chunk: MHD_YES, or MHD_NO (the connection is closed) when
 * the body passes max_body_bytes or the global budget; its memory is then
 * freed at once. */
static situd_result body_add(situd_req *r, const char *p, size_t n)
{
    if (r->body_state != SITUD_BODY_READING) /* answered, or over the limit: unkept */
        return MHD_YES;
    size_t need = r->nbody + n + 1, limit = config->max_body_bytes + 1;
    int over = n > config->max_body_bytes - r->nbody, grow = !r->body;
    if (!over && need > r->body_cap) { /* chunked: hold twice as much, up to the limit */
        size_t want = 2 * r->body_cap > need ? 2 * r->body_cap : need;
        grow = body_hold(r, (want < limit ? want : limit) - r->body_cap);
        over = !grow;
    }
    if (over) {
        fprintf(stderr, "situd: %s %s: body over %s, connection closed\n", r->method, r->path,
                need > limit ? "max_body_bytes" : "max_bodies_bytes");
        body_drop(r);
        r->body_state = SITUD_BODY_NONE;
        r->status = 413; /* for the log: nothing can be answered mid-body */
        return MHD_NO;
    }
    if (grow) {
        char *p2 = realloc(r->body, r->body_cap);
        if (!p2)
            return MHD_NO;
        r->body = p2;
    }
    memcpy(r->body + r->nbody, p, n);
    r->nbody += n;
    r->body[r->nbody] = '\0';
    return MHD_YES;
}

/* A streamed answer: next() fills b piece by piece; with gz, each piece
 * goes through z (one deflate state, ~256 KiB) and only its output is sent.
 *
 *     piece in b --copied out (or deflated)--> b empty --next()--> piece in b
 *     next() returns 0 --> finished --(gz: Z_FINISH drained)--> end of stream */
typedef struct stream {
    situd_stream_next next;
    void (*done)(void *);
    void *ctx;
    situ_buf b;
    size_t pos;
    int finished, gz, flushed;
    z_stream z;
    situd_req *r;
} stream;

/* Makes sure s->b holds unread bytes, unless the stream has finished:
 * 0, or -1 when next() failed. */
static int stream_fill(stream *s)
{
    while (s->pos == s->b.n && !s->finished) {
        s->b.n = 0, s->pos = 0;
        int rc = s->next(s->ctx, &s->b);
        if (rc < 0 || s->b.oom)
            return -1;
        s->finished = rc == 0;
    }
    return 0;
}

/* Deflates what next() gives into out (up to max bytes); returns how many
 * were written, 0 once the gzip trailer has gone, -1 on error. */
static ssize_t stream_deflate(stream *s, char *out, size_t max)
{
    s->z.next_out = (Bytef *)out, s->z.avail_out = (uInt)max;
    while (s->z.avail_out && !s->flushed) {
        if (stream_fill(s))
            return -1;
        s->z.next_in = s->b.p ? (Bytef *)s->b.p + s->pos : NULL;
        s->z.avail_in = (uInt)(s->b.n - s->pos);
        int end = s->finished && s->pos == s->b.n;
        int rc = deflate(&s->z, end ? Z_FINISH : Z_NO_FLUSH);
        s->pos = s->b.n - s->z.avail_in;
        if (rc == Z_STREAM_END)
            s->flushed = 1;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
    }
    return (ssize_t)(max - s->z.avail_out);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    stream *s = cls;
    (void)pos;
    ssize_t n;
    if (s->gz) {
        n = stream_deflate(s, out, max);
    } else {
        if (stream_fill(s))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        n = (ssize_t)(s->b.n - s->pos < max ? s->b.n - s->pos : max);
        if (n)
            memcpy(out, s->b.p + s->pos, (size_t)n);
        s->pos += (size_t)n;
    }
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    s->r->bytes += (size_t)n;
    return n;
}

static void stream_free(void *cls)
{
    stream *s = cls;
    if (s->done)
        s->done(s->ctx);
    if (s->gz)
        deflateEnd(&s->z);
    situ_buf_dispose(&s->b);
    free(s);
}

situd_result situd_reply_stream(situd_req *r, unsigned status, const char *ctype,
                                const char *disposition, situd_stream_next next,
                                void (*done)(void *ctx), void *ctx)
{
    stream *s = calloc(1, sizeof *s);
    if (!s) {
        if (done)
            done(ctx);
        return situd_problem(r, 503, NULL, "out of memory");
    }
    *s = (stream){.next = next, .done = done, .ctx = ctx, .r = r};
    situ_buf_init(&s->b);
    int zip = compressible(ctype);
    if (zip && situd_accepts_gzip(r))
        s->gz = deflateInit2(&s->z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, s, stream_free);
    if (!resp) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (zip)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (s->gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    return situd_reply_response(r, status, resp);
}

/* ---- dispatch --------------------------------------------------------------- */

static int route_matches(const situd_route *rt, const char *path)
{
    size_t n = strlen(rt->path);
    if (rt->path[n - 1] == '/' && n > 1)
        return strncmp(path, rt->path, n) == 0;
    return strcmp(path, rt->path) == 0;
}

static situd_result dispatch(situd_req *r)
{
    int path_known = 0;
    char allow[64] = "";
    for (int i = 0; i < situd_nroutes; i++) {
        const situd_route *rt = &situd_routes[i];
        if (!route_matches(rt, r->path))
            continue;
        path_known = 1;
        int same = !strcmp(rt->method, r->method) ||
                   (!strcmp(r->method, "HEAD") && !strcmp(rt->method, "GET"));
        if (!same) {
            size_t k = strlen(allow);
            snprintf(allow + k, sizeof allow - k, "%s%s", k ? ", " : "", rt->method);
            continue;
        }
        r->route = rt->name;
        r->rest = r->path + strlen(rt->path);
        if (!strcmp(rt->method, "GET") && has_body(r))
            return situd_problem(r, 400, "body", "a %s request takes no body", r->method);
        return rt->handler(r);
    }
    if (!path_known) {
        r->route = "unknown";
        return situd_problem(r, 404, NULL, "no such resource: %s", r->path);
    }
    r->route = "method";
    char detail[128];
    snprintf(detail, sizeof detail, "%s is not allowed here; use %s", r->method, allow);
    struct MHD_Response *resp = problem_response(r, 405, NULL, detail);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    return situd_reply_response(r, 405, resp);
}

static int route_index(const char *name)
{
    for (int i = 0; name && i < situd_nroutes; i++)
        if (situd_routes[i].name == name)
            return i;
    return -1;
}

/* The first call, from the request head alone: admission and Host; then,
 * when a body follows, the route, which refuses it now or asks for it
 * (situd_body_expect). A request without a body is routed at the next call:
 * libmicrohttpd closes the connection after an answer queued from the head. */
static situd_result on_head(situd_req *r, const char *version)
{
    if (!situd_conns_head(r->conn)) { /* answered now, before any body or work */
        r->status = 503;
        return situd_conns_refuse(r->conn, &r->bytes);
    }
    if (!strcmp(version, MHD_HTTP_VERSION_1_1) && !situd_header(r, MHD_HTTP_HEADER_HOST)) {
        r->route = "unknown"; /* RFC 9112 3.2: a 1.1 request without Host is a 400 */
        return situd_problem(r, 400, "Host", "an HTTP/1.1 request needs a Host header");
    }
    if (!has_body(r))
        return MHD_YES;
    situd_result rc = dispatch(r); /* a slow body pins no snapshot: none is taken yet */
    if (!r->status && r->body_state == SITUD_BODY_NONE) {
        r->route = "unknown"; /* a route that took the head but not the body */
        return situd_problem(r, 400, "body", "this request takes no body");
    }
    return rc;
}

static situd_result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)cls;
    situd_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *r = (situd_req){
            .conn = conn, .cfg = config, .method = method, .path = url, .t0 = situ_clock_s()};
        *con_cls = r;
        return on_head(r, version);
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        return body_add(r, upload, n);
    }
    if (r->status) /* answered from the head */
        return MHD_YES;
    if (r->body_state == SITUD_BODY_DISCARD)
        return situd_problem(r, 413, "body", "request body over %zu bytes", config->max_body_bytes);
    r->body_state = SITUD_BODY_DONE; /* all of it, or none was sent */
    if (!r->snap)                    /* a resumed request keeps what it had */
        r->snap = situd_snapshot_acquire_seq(&r->seq);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    situd_req *r = *con_cls;
    if (!r)
        return;
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) /* kept alive: the next head */
        situd_conns_answered(conn);
    double dt = situ_clock_s() - r->t0;
    if (r->route)
        situd_metrics_record(route_index(r->route), (unsigned)r->status, dt);
    if (!config->quiet) {
        char ts[32];
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03dZ %s %s %d %zu %.0fus%s\n", ts, (int)(tv.tv_usec / 1000), r->method,
                r->path, r->status, r->bytes, dt * 1e6,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted");
    }
    if (r->job && r->job_free)
        r->job_free(r->job);
    situ_snapshot_release(r->snap);
    body_drop(r);
    free(r);
    *con_cls = NULL;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s in place like libmicrohttpd's default, except that %00
 * stays literal: a NUL must never cut a path or a value short. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (*r == '%' && (hi = hex_digit(r[1])) >= 0 && (lo = hex_digit(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

static int resolve(const situd_config *cfg, struct sockaddr_storage *out, socklen_t *out_len,
                   char *msg, size_t nmsg)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &ai);
    if (rc) {
        snprintf(msg, nmsg, "cannot resolve %s: %s", cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(out, ai->ai_addr, ai->ai_addrlen);
    *out_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

/* Binds the listening socket ourselves, so that "address in use" is a clear
 * error at once and port 0 can be asked for. */
static int listen_socket(const situd_config *cfg, char *msg, size_t nmsg)
{
    struct sockaddr_storage sa;
    socklen_t len;
    if (resolve(cfg, &sa, &len, msg, nmsg))
        return -1;
    int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 1024)) {
        snprintf(msg, nmsg, "cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int bound_fd = -1; /* from situd_server_listen, until the start */

int situd_server_listen(const situd_config *cfg, char *msg, size_t nmsg)
{
    bound_fd = listen_socket(cfg, msg, nmsg);
    return bound_fd < 0 ? -1 : 0;
}

int situd_server_start(const situd_config *cfg, char *msg, size_t nmsg)
{
    config = cfg;
    int fd = bound_fd >= 0 ? bound_fd : listen_socket(cfg, msg, nmsg);
    bound_fd = -1;
    if (fd < 0)
        return -1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads =
        cfg->threads > 0 ? (unsigned)cfg->threads : (unsigned)(cores > 0 ? cores : 2);
    unsigned limit = situd_conns_size(cfg, threads);
    if (situd_conns_start(cfg) == 0)
        mhd = MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
            on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)cfg->connection_timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->conn_memory,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
            situd_conns_notify, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
            MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_END);
    if (!mhd) {
        close(fd);
        situd_conns_stop();
        snprintf(msg, nmsg, "cannot start the HTTP server on %s:%d", cfg->host, cfg->port);
        return -1;
    }
    return 0;
}

int situd_server_port(void)
{
    const union MHD_DaemonInfo *info =
        mhd ? MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    return info ? info->port : config->port;
}

void situd_server_stop(void)
{
    if (!mhd)
        return;
    situd_conns_drain(10.0); /* requests in flight finish, for at most 10 s */
    MHD_stop_daemon(mhd);
    mhd = NULL;
    situd_conns_stop();
}

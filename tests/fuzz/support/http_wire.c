/*
 * http_wire.c: the strict HTTP/1.1 client (see http_wire.h). Every read goes
 * through one buffer and waits with poll() for at most timeout_ms, so a
 * server that stops answering is reported instead of hanging the fuzzer.
 * A connection that ends before the first byte of an answer is "gone" (the
 * caller may reconnect); anywhere later it is a malformed answer.
 */
#define _GNU_SOURCE /* strcasestr */
#include "http_wire.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define LINE_BYTES 8192
#define BODY_MAX ((size_t)256 << 20)

enum { WIRE_OK = 0, WIRE_BAD = -1, WIRE_GONE = -2 };

void http_conn_init(http_conn *c, int port, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->port = port;
    c->timeout_ms = timeout_ms;
}

void http_conn_close(http_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->pos = c->end = 0;
}

void http_response_dispose(http_response *r)
{
    situ_buf_dispose(&r->body);
    memset(r, 0, sizeof *r);
}

static int conn_open(http_conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
        close(fd);
        return -1;
    }
    c->fd = fd;
    c->pos = c->end = 0;
    return 0;
}

static int send_all(http_conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads what has arrived into the buffer. Returns the bytes read, 0 at the
 * end of the stream, -1 on an error (a reset), -2 when nothing came in time. */
static ssize_t fill(http_conn *c)
{
    if (c->pos == c->end) {
        c->pos = c->end = 0;
    } else if (c->end == sizeof c->in) {
        memmove(c->in, c->in + c->pos, c->end - c->pos);
        c->end -= c->pos;
        c->pos = 0;
    }
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int rc;
    while ((rc = poll(&p, 1, c->timeout_ms)) < 0 && errno == EINTR)
        ;
    if (rc == 0)
        return -2;
    ssize_t k;
    while ((k = recv(c->fd, c->in + c->end, sizeof c->in - c->end, 0)) < 0 && errno == EINTR)
        ;
    if (k > 0)
        c->end += (size_t)k;
    return k < 0 ? -1 : k;
}

/* More bytes; first says none of the answer has come yet. */
static int more(http_conn *c, int first, const char **why)
{
    ssize_t k = fill(c);
    if (k > 0)
        return WIRE_OK;
    if (k == -2)
        return *why = "no answer within the timeout", WIRE_BAD;
    if (first)
        return *why = "the connection was closed without an answer", WIRE_GONE;
    return *why = "the connection was closed mid-answer", WIRE_BAD;
}

/* The next CRLF-ended line into line (cap bytes, NUL-terminated, no CRLF). */
static int read_line(http_conn *c, char *line, size_t cap, const char **why)
{
    for (;;) {
        const unsigned char *s = c->in + c->pos;
        size_t avail = c->end - c->pos;
        const unsigned char *lf = memchr(s, '\n', avail);
        if (lf) {
            size_t n = (size_t)(lf - s);
            if (n == 0 || s[n - 1] != '\r')
                return *why = "a line ends in LF without CR", WIRE_BAD;
            if (n > cap)
                return *why = "a head line is too long", WIRE_BAD;
            if (memchr(s, '\0', n - 1))
                return *why = "a NUL byte in the head", WIRE_BAD;
            memcpy(line, s, n - 1);
            line[n - 1] = '\0';
            c->pos += n + 1;
            return WIRE_OK;
        }
        if (avail > cap)
            return *why = "a head line is too long", WIRE_BAD;
        if (more(c, 0, why))
            return WIRE_BAD;
    }
}

/* "HTTP/1.1 200 OK" */
static int parse_status(const char *line, http_response *out, const char **why)
{
    if (strncmp(line, "HTTP/1.1 ", 9) || !isdigit((unsigned char)line[9]) ||
        !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) ||
        (line[12] != ' ' && line[12] != '\0'))
        return *why = "a malformed status line", WIRE_BAD;
    out->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (out->status < 200 || out->status > 599)
        return *why = "a status outside 200..599", WIRE_BAD;
    return WIRE_OK;
}

static int is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int name_is(const char *line, size_t n, const char *name)
{
    return n == strlen(name) && !strncasecmp(line, name, n);
}

static void copy_value(char *out, size_t cap, const char *v)
{
    size_t n = strlen(v);
    n = n < cap ? n : cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* Content-Length: digits only, and the same when sent twice. */
static int read_length(const char *v, long long *length, const char **why)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)*v) || *end || errno || (*length >= 0 && *length != n))
        return *why = "a bad Content-Length", WIRE_BAD;
    *length = n;
    return WIRE_OK;
}

/* One "Name: value" line: checked, and kept when fuzz_http reads it. */
static int read_header(const char *line, http_response *out, long long *length, int *chunked,
                       const char **why)
{
    const char *colon = strchr(line, ':'), *v;
    if (!colon || colon == line)
        return *why = "a header line without a name", WIRE_BAD;
    for (const char *p = line; p < colon; p++)
        if (!is_tchar((unsigned char)*p))
            return *why = "a header name with a byte outside token", WIRE_BAD;
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return *why = "a control byte in a header value", WIRE_BAD;
    size_t n = (size_t)(colon - line);
    if (name_is(line, n, "Content-Length"))
        return read_length(v, length, why);
    if (name_is(line, n, "Transfer-Encoding")) {
        if (strcasecmp(v, "chunked"))
            return *why = "a transfer coding other than chunked", WIRE_BAD;
        *chunked = 1;
    } else if (name_is(line, n, "Connection")) {
        out->close = out->close || strcasestr(v, "close") != NULL;
    } else if (name_is(line, n, "Content-Type")) {
        copy_value(out->ctype, sizeof out->ctype, v);
    } else if (name_is(line, n, "ETag")) {
        copy_value(out->etag, sizeof out->etag, v);
    } else if (name_is(line, n, "Content-Encoding")) {
        copy_value(out->encoding, sizeof out->encoding, v);
    }
    return WIRE_OK;
}

static int read_exact(http_conn *c, size_t n, situ_buf *out, const char **why)
{
    if (out->n + n > BODY_MAX)
        return *why = "a body over 256 MB", WIRE_BAD;
    while (n) {
        if (c->pos == c->end && more(c, 0, why))
            return WIRE_BAD;
        size_t k = c->end - c->pos < n ? c->end - c->pos : n;
        situ_buf_add(out, c->in + c->pos, k);
        c->pos += k;
        n -= k;
    }
    return out->oom ? (*why = "out of memory reading the body", WIRE_BAD) : WIRE_OK;
}

static int read_chunked(http_conn *c, situ_buf *body, const char **why)
{
    char line[256];
    for (;;) {
        if (read_line(c, line, sizeof line, why))
            return WIRE_BAD;
        char *end;
        errno = 0;
        unsigned long long n = strtoull(line, &end, 16);
        if (!isxdigit((unsigned char)line[0]) || (*end && *end != ';') || errno)
            return *why = "a bad chunk size", WIRE_BAD;
        if (n == 0)
            break;
        if (n > BODY_MAX || read_exact(c, (size_t)n, body, why) ||
            read_line(c, line, sizeof line, why))
            return *why = n > BODY_MAX ? "a chunk over 256 MB" : *why, WIRE_BAD;
        if (line[0])
            return *why = "a chunk longer than its size", WIRE_BAD;
    }
    do { /* trailers, up to the empty line */
        if (read_line(c, line, sizeof line, why))
            return WIRE_BAD;
    } while (line[0]);
    return WIRE_OK;
}

static int read_to_close(http_conn *c, situ_buf *body, const char **why)
{
    for (;;) {
        situ_buf_add(body, c->in + c->pos, c->end - c->pos);
        c->pos = c->end;
        if (body->n > BODY_MAX || body->oom)
            return *why = "a body over 256 MB", WIRE_BAD;
        ssize_t k = fill(c);
        if (k == 0)
            return WIRE_OK;
        if (k < 0)
            return *why = k == -2 ? "no end of the body within the timeout"
                                  : "the connection was reset mid-body",
                   WIRE_BAD;
    }
}

static int read_body(http_conn *c, long long length, int chunked, http_response *out,
                     const char **why)
{
    if (chunked && length >= 0)
        return *why = "both Content-Length and chunked", WIRE_BAD;
    if (out->status == 204 || out->status == 304)
        return WIRE_OK;
    if (chunked)
        return read_chunked(c, &out->body, why);
    if (length >= 0)
        return read_exact(c, (size_t)length, &out->body, why);
    if (!out->close)
        return *why = "a kept-alive answer without Content-Length or chunked", WIRE_BAD;
    return read_to_close(c, &out->body, why);
}

/* The status line and the headers. */
static int read_head(http_conn *c, http_response *out, long long *length, int *chunked,
                     const char **why)
{
    char line[LINE_BYTES];
    int rc;
    if (c->pos == c->end && (rc = more(c, 1, why)))
        return rc;
    if (read_line(c, line, sizeof line, why) || parse_status(line, out, why))
        return WIRE_BAD;
    for (;;) {
        if (read_line(c, line, sizeof line, why))
            return WIRE_BAD;
        if (!line[0])
            return WIRE_OK;
        if (read_header(line, out, length, chunked, why))
            return WIRE_BAD;
    }
}

/* One answer; with streams, a 200 of type text/event-stream is read up to
 * its headers and marked to close. */
static int read_response(http_conn *c, http_response *out, int streams, const char **why)
{
    long long length = -1;
    int chunked = 0, rc = read_head(c, out, &length, &chunked, why);
    if (rc)
        return rc;
    if (streams && out->status == 200 && !strncmp(out->ctype, "text/event-stream", 17))
        return out->close = 1, WIRE_OK;
    if (read_body(c, length, chunked, out, why))
        return WIRE_BAD;
    if (!out->close && c->pos != c->end)
        return *why = "bytes after the answer", WIRE_BAD;
    return WIRE_OK;
}

static int exchange(http_conn *c, const char *req, size_t n, http_response *out, int streams,
                    const char **why)
{
    memset(out, 0, sizeof *out);
    for (int tries = 0; tries < 2; tries++) {
        int fresh = c->fd < 0;
        if (fresh && conn_open(c))
            return *why = "cannot connect", -1;
        int rc = send_all(c, req, n)
                     ? (*why = "the connection was closed before the request", WIRE_GONE)
                     : read_response(c, out, streams, why);
        if (rc == WIRE_OK) {
            if (out->close)
                http_conn_close(c);
            return 0;
        }
        http_conn_close(c);
        if (rc == WIRE_BAD || fresh)
            return -1;
        http_response_dispose(out); /* the server closed an idle connection: again */
    }
    return -1;
}

int http_exchange(http_conn *c, const char *req, size_t n, http_response *out, const char **why)
{
    return exchange(c, req, n, out, 0, why);
}

int http_exchange_stream(http_conn *c, const char *req, size_t n, http_response *out,
                         const char **why)
{
    return exchange(c, req, n, out, 1, why);
}

/*
 * http.h: private to daemon/. The request every route handler receives and
 * the ways to answer it. A handler parses and validates, calls libsitu, and
 * ends with exactly one situd_reply_* / situd_problem call, whose return
 * value it returns.
 */
#ifndef SITUD_HTTP_H
#define SITUD_HTTP_H

#include <microhttpd.h>
#include <stddef.h>

#include "config.h"
#include "situ/buf.h"
#include "situ/snapshot.h"

typedef struct situd_req {
    struct MHD_Connection *conn;
    const situd_config *cfg;
    const char *method;
    const char *path;  /* decoded path, without the query */
    const char *rest;  /* what follows the matched route prefix */
    const char *route; /* the route's name, for logs and metrics */
    situ_snapshot *snap;
    long long seq; /* the newest event_log seq snap holds (X-Situ-Seq) */
    char *body;    /* the request body once read (NUL-ended), or NULL */
    size_t nbody;
    size_t body_cap; /* bytes of the global body budget this request holds */
    int body_state;  /* SITUD_BODY_*: server.c's, read with situd_body_read */
    int status;
    size_t bytes;
    double t0;
    const char *content_crs;  /* static URI: a Content-Crs header on the reply, or NULL */
    void *job;                /* a suspended route's work (route_export.c), or NULL */
    void (*job_free)(void *); /* frees job when the request ends without taking it */
} situd_req;

typedef enum MHD_Result situd_result;
typedef situd_result (*situd_handler)(situd_req *r);

enum { SITUD_BODY_NONE, SITUD_BODY_READING, SITUD_BODY_DISCARD, SITUD_BODY_DONE };

/* A query argument, or NULL. */
const char *situd_arg(situd_req *r, const char *name);
/* A request header, or NULL. */
const char *situd_header(situd_req *r, const char *name);
/* Answers 400 naming the first query argument not in `allowed` (NULL-ended);
 * returns 1 when it did (the handler then returns *out), 0 when all are known. */
int situd_reject_unknown_args(situd_req *r, const char *const *allowed, situd_result *out);
/* Answers 400 when `f` (the output format) is given and is not json; 1 when
 * it did, 0 otherwise. */
int situd_reject_bad_f(situd_req *r, situd_result *out);
/* The same as situd_reject_unknown_args with `f` as the only argument
 * allowed, and f checked by situd_reject_bad_f. */
int situd_reject_args_but_f(situd_req *r, situd_result *out);
/* "http://host:port" of this request, for links. */
void situd_base_url(situd_req *r, char *out, size_t n);
/* 1 when the client prefers JSON (Accept or f=json). */
int situd_wants_json(situd_req *r);

/* 1 when the client takes gzip (Accept-Encoding names it, not with q=0). */
int situd_accepts_gzip(situd_req *r);

/* The reply helpers below compress by themselves: a JSON answer (or
 * Prometheus text) says Vary: Accept-Encoding and goes gzip when the client
 * takes it and it is 1 KiB or more (streams: always, through a streaming
 * deflate); other media types go as they are. */
/* Answers with the buffer's bytes (taken; b is left empty). */
situd_result situd_reply_buf(situd_req *r, unsigned status, const char *ctype, situ_buf *b);
/* situd_reply_buf with a strong validator: ETag "tag" ("tag-gz" when the
 * bytes go gzip'd) and Cache-Control: no-cache. */
situd_result situd_reply_buf_tagged(situd_req *r, unsigned status, const char *ctype, situ_buf *b,
                                    const char *tag);
/* 304 Not Modified, no body, for the answer of n bytes of ctype that
 * situd_reply_buf_tagged would give with tag (the same ETag). */
situd_result situd_reply_not_modified(situd_req *r, const char *ctype, size_t n, const char *tag);
/* Answers with static or caller-kept bytes that outlive the response. */
situd_result situd_reply_static(situd_req *r, unsigned status, const char *ctype, const void *p,
                                size_t n);
/* Queues a response built by the caller, adding the common headers. */
situd_result situd_reply_response(situd_req *r, unsigned status, struct MHD_Response *resp);
/* RFC 9457 problem+json; param (may be NULL) names the bad parameter. */
situd_result situd_problem(situd_req *r, unsigned status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 503 problem+json with Retry-After: 1, for a bounded resource that is
 * all in use (request bodies, listeners, exports). */
situd_result situd_busy(situd_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 503 problem+json with Retry-After: 1 naming param (may be NULL), for
 * what situd is still building (the road graph at start). */
situd_result situd_not_yet(situd_req *r, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Request bodies. A handler is first called from the request head alone,
 * before any body byte is read: a route that takes a body checks what the
 * head tells (route, token, media type), then returns situd_body_expect(r),
 * which answers 503 when the global budget (max_bodies_bytes) cannot hold
 * it, refuses a Content-Length over max_body_bytes (413: at once after
 * "Expect: 100-continue" or when over twice the limit, else once the unkept
 * body has gone by, as a client that already sends it could not read an
 * early answer), and
 * otherwise lets the body be read; the handler is called again once it is
 * (situd_body_read is then 1 and r->body holds it). A chunked body that
 * grows past either bound has its memory freed and its connection closed
 * at once. */
situd_result situd_body_expect(situd_req *r);
/* 1 once the request body has been read in full. */
int situd_body_read(const situd_req *r);
/* Appends the body budget's gauges (held and configured bytes) to /metrics. */
void situd_bodies_stats(situ_buf *b);

/* Streams a body of unknown length: next() appends to b and returns 1 while
 * more follows, 0 at the end, -1 on error; done() frees ctx. */
typedef int (*situd_stream_next)(void *ctx, situ_buf *b);
situd_result situd_reply_stream(situd_req *r, unsigned status, const char *ctype,
                                const char *disposition, situd_stream_next next,
                                void (*done)(void *ctx), void *ctx);

#endif

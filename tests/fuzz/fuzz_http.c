/*
 * fuzz_http.c: libFuzzer target for situd's URL handling and feeds, end to
 * end: a real situd in this process on the demo, its feeds writer running
 * (support/situd_fixture.c), each input sent over one kept-alive loopback
 * connection (support/http_wire.c). The first byte picks a route from the
 * table below (by its letter, else by its value). For a GET route the rest
 * is the path tail and query as they are: %XX, %00 and high bytes go out
 * raw, and only the bytes that would end the request line (controls, space,
 * DEL) are sent %-encoded; a target answered 200 is asked for again with
 * gzip and Accept: application/json, then with If-None-Match; an event
 * stream (GET /events) is judged by its head. For a POST route ('P' a feed
 * batch, 'C' a CAP alert) the rest is the body, sent with the fixture's
 * meteorology token: what is accepted is committed and pushed.
 *
 * It aborts, so libFuzzer keeps the input, when an answer is not well-formed
 * HTTP/1.1, is a 5xx other than 503, is a 4xx that is not problem+json with
 * its status, has a JSON type and a body that does not parse, is a tile that
 * does not decode, or does not come. Seeds: corpus/http/ (the URLs the
 * suites in tests/http request); dictionary: fuzz_http.dict. With
 * SITU_FUZZ_TRACE set, each exchange is one line on stderr.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "http_wire.h"
#include "situ/mvt.h"
#include "situd_fixture.h"

#define ANSWER_TIMEOUT_MS 60000

static const struct {
    char key;
    const char *prefix;
    const char *post; /* the Content-Type of a POST route's body; NULL: GET */
} routes[] = {
    {'r', "/", NULL},
    {'c', "/collections/", NULL},
    {'i', "/collections/hazards/items", NULL},
    {'h', "/collections/hazard_sources/items", NULL},
    {'s', "/collections/resources/items", NULL},
    {'z', "/collections/risk_zones/items", NULL},
    {'a', "/collections/alerts/items", NULL},
    {'t', "/tiles/", NULL},
    {'n', "/nearest", NULL},
    {'w', "/within", NULL},
    {'l', "/locate", NULL},
    {'o', "/townships/", NULL},
    {'e', "/export/", NULL},
    {'d', "/export/drill.geojson", NULL},
    {'x', "/web/", NULL},
    {'f', "/feeds", NULL},
    {'v', "/events", NULL},
    {'Z', "/closures", NULL},
    {'m', "/metrics", NULL},
    {'p', "/api", NULL},
    {'k', "/healthz", NULL},
    {'q', "/conformance", NULL},
    {'M', "/tileMatrixSets", NULL},
    {'Y', "/styles/", NULL},
    {'R', "/route", NULL},
    {'A', "/reach", NULL},
    {'P', "/feeds/meteorology/events", "application/json"},
    {'C', "/feeds/meteorology/cap", "application/cap+xml"},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static http_conn conn;
static int trace; /* $SITU_FUZZ_TRACE set: one line per exchange on stderr */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    char msg[512];
    int port = situd_fixture_start(msg, sizeof msg);
    if (port < 0) {
        fprintf(stderr, "fuzz_http: cannot start situd: %s\n", msg);
        exit(1);
    }
    http_conn_init(&conn, port, ANSWER_TIMEOUT_MS);
    trace = getenv("SITU_FUZZ_TRACE") != NULL;
    return 0;
}

static size_t route_of(uint8_t b)
{
    for (size_t i = 0; i < NROUTES; i++)
        if ((uint8_t)routes[i].key == b)
            return i;
    return b % NROUTES;
}

/* The request target: the route prefix, then the tail with what would end
 * the request line %-encoded. */
static void request_target(const uint8_t *data, size_t size, situ_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    situ_buf_adds(out, size ? routes[route_of(data[0])].prefix : "/");
    for (size_t i = 1; i < size; i++) {
        uint8_t b = data[i];
        if (b <= 0x20 || b == 0x7f) {
            char e[3] = {'%', hex[b >> 4], hex[b & 15]};
            situ_buf_add(out, e, 3);
        } else {
            situ_buf_addc(out, (char)b);
        }
    }
}

/* The three ways an answered target is asked for. */
typedef enum ask { ASK_PLAIN, ASK_GZIP_JSON, ASK_IF_NONE_MATCH } ask;
static const char *const ask_names[] = {"", " (gzip, json)", " (If-None-Match)"};

/* The whole GET; etag is the one to revalidate with ASK_IF_NONE_MATCH. */
static void request(const char *target, ask how, const char *etag, situ_buf *out)
{
    situ_buf_printf(out, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", target);
    if (how != ASK_PLAIN)
        situ_buf_adds(out, "Accept-Encoding: gzip\r\nAccept: application/json\r\n");
    if (how == ASK_IF_NONE_MATCH)
        situ_buf_printf(out, "If-None-Match: %s\r\n", etag);
    situ_buf_adds(out, "\r\n");
}

static void finding(const char *target, const http_response *r, const char *what)
{
    fprintf(stderr, "\nfuzz_http: %s\n  GET %s -> %d %s\n  %.300s\n", what, target, r->status,
            r->ctype, r->body.p ? r->body.p : "");
    abort();
}

/* The body, inflated when it came gzipped (a 304 may name gzip and have no
 * body); 0, or -1 when it does not inflate. */
static int plain_body(const http_response *r, situ_buf *out)
{
    if (strcasecmp(r->encoding, "gzip") || r->body.n == 0) {
        situ_buf_add(out, r->body.p ? r->body.p : "", r->body.n);
        return 0;
    }
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    unsigned char chunk[65536];
    int rc;
    z.next_in = (Bytef *)r->body.p, z.avail_in = (uInt)r->body.n;
    do {
        z.next_out = chunk, z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        situ_buf_add(out, chunk, sizeof chunk - z.avail_out);
    } while (rc == Z_OK);
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

/* The body as JSON, numbers read as doubles: a valid integer literal
 * beyond 64 bits (an echoed 1e308 is 309 digits) is no error. */
static json_t *json_of(const situ_buf *body)
{
    return json_loadb(body->p ? body->p : "", body->n, JSON_DECODE_INT_AS_REAL, NULL);
}

/* A problem+json object that states this status, a title and a detail. */
static int is_problem(const http_response *r, const situ_buf *body)
{
    if (strncmp(r->ctype, "application/problem+json", 24))
        return 0;
    json_t *doc = json_of(body);
    int ok = json_is_object(doc) &&
             json_number_value(json_object_get(doc, "status")) == (double)r->status &&
             json_is_string(json_object_get(doc, "title")) &&
             json_is_string(json_object_get(doc, "detail"));
    json_decref(doc);
    return ok;
}

static int json_parses(const situ_buf *body)
{
    json_t *doc = json_of(body);
    json_decref(doc);
    return doc != NULL;
}

static int tile_decodes(const situ_buf *body)
{
    situ_mvt_tile *t = NULL;
    situ_err err = {0};
    if (situ_mvt_decode((const uint8_t *)body->p, body->n, &t, &err))
        return 0;
    situ_mvt_tile_free(t);
    return 1;
}

/* Aborts on any answer situd must never give. */
static void judge(const char *target, const http_response *r)
{
    situ_buf body;
    situ_buf_init(&body);
    if (plain_body(r, &body))
        finding(target, r, "a gzip body that does not inflate");
    if (r->status >= 500 && r->status != 503)
        finding(target, r, "a server error");
    if (r->status >= 400 && r->status < 500 && !is_problem(r, &body))
        finding(target, r, "a 4xx that is not problem+json with its status, title and detail");
    if (strstr(r->ctype, "json") && body.n && !json_parses(&body))
        finding(target, r, "a JSON body that does not parse");
    if (r->status == 200 && !strcmp(r->ctype, "application/vnd.mapbox-vector-tile") &&
        !tile_decodes(&body))
        finding(target, r, "a tile that does not decode");
    situ_buf_dispose(&body);
}

/* Sends the whole request req, judges the answer; returns its status, and
 * its ETag in etag_out (n bytes). */
static int exchange(const char *target, const situ_buf *req, const char *how, char *etag_out,
                    size_t n)
{
    http_response r;
    const char *why = "";
    if (http_exchange_stream(&conn, req->p, req->n, &r, &why))
        finding(target, &r, why);
    if (trace)
        fprintf(stderr, "%.4s %s%s -> %d %s %zu bytes\n", req->p, target, how, r.status, r.ctype,
                r.body.n);
    judge(target, &r);
    int status = r.status;
    snprintf(etag_out, n, "%s", r.etag);
    http_response_dispose(&r);
    return status;
}

static int get(const char *target, ask how, const char *etag, char *etag_out, size_t n)
{
    situ_buf req;
    situ_buf_init(&req);
    request(target, how, etag, &req);
    int status = exchange(target, &req, ask_names[how], etag_out, n);
    situ_buf_dispose(&req);
    return status;
}

/* POST of body (n bytes) to a feed route with the fixture's token. */
static void post(size_t route, const uint8_t *body, size_t n)
{
    situ_buf req;
    situ_buf_init(&req);
    situ_buf_printf(&req,
                    "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                    "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                    routes[route].prefix, situd_fixture_token(), routes[route].post, n);
    situ_buf_add(&req, body, n);
    char etag[80];
    if (!req.oom)
        exchange(routes[route].prefix, &req, "", etag, sizeof etag);
    situ_buf_dispose(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size && routes[route_of(data[0])].post) {
        post(route_of(data[0]), data + 1, size - 1);
        return 0;
    }
    situ_buf target;
    situ_buf_init(&target);
    request_target(data, size, &target);
    char etag[80] = "";
    if (!target.oom && get(target.p, ASK_PLAIN, "", etag, sizeof etag) == 200 &&
        get(target.p, ASK_GZIP_JSON, "", etag, sizeof etag) == 200 && etag[0])
        get(target.p, ASK_IF_NONE_MATCH, etag, etag, sizeof etag);
    situ_buf_dispose(&target);
    return 0;
}

/*
 * http_wire.h: private to tests/fuzz. A strict HTTP/1.1 client over one
 * kept-alive loopback connection, for fuzz_http to judge situd's answers:
 * sends a request and reads exactly one response (status line, headers, a
 * body by Content-Length, chunked, or up to the close), saying what is not
 * well formed about it (of an event stream, only its head). It knows
 * nothing of situd's routes or bodies.
 */
#ifndef SITU_FUZZ_HTTP_WIRE_H
#define SITU_FUZZ_HTTP_WIRE_H

#include <stddef.h>

#include "situ/buf.h"

typedef struct http_conn {
    int fd; /* -1 while closed */
    int port;
    int timeout_ms; /* the longest wait for each read */
    unsigned char in[16384];
    size_t pos, end; /* unread bytes of `in` */
} http_conn;

typedef struct http_response {
    int status;
    char ctype[128];   /* Content-Type, "" when absent */
    char etag[80];     /* ETag, "" when absent */
    char encoding[32]; /* Content-Encoding, "" when absent */
    int close;         /* the server closes after this answer */
    situ_buf body;     /* as sent, still gzipped when encoding says so */
} http_response;

/* A closed connection to 127.0.0.1:port; the first exchange opens it. */
void http_conn_init(http_conn *c, int port, int timeout_ms);
void http_conn_close(http_conn *c);

/* Sends the n bytes of req (a whole request) and reads the response
 * into *out, which the caller disposes of in every case. A kept-alive
 * connection that the server closed while idle is opened again once.
 * Returns 0, or -1 with *why: no connection, no answer within the timeout,
 * closed before or while answering, or malformed. */
int http_exchange(http_conn *c, const char *req, size_t n, http_response *out, const char **why);
void http_response_dispose(http_response *r);

/* As http_exchange, but a 200 of type text/event-stream (GET /events, an
 * answer that does not end) is read up to its headers, and the connection
 * closed. */
int http_exchange_stream(http_conn *c, const char *req, size_t n, http_response *out,
                         const char **why);

#endif

/*
 * conns.h: private to daemon/. Admission of HTTP connections under
 * overload: how many are served at once (capacity), one shared, instant 503
 * for requests on connections past it, and a deadline on every request
 * head against clients that trickle it (slowloris). server.c wires these
 * into libmicrohttpd.
 */
#ifndef SITUD_CONNS_H
#define SITUD_CONNS_H

#include <stddef.h>

#include "config.h"
#include "http.h"
#include "situ/buf.h"

/* Raises the soft open-files limit to the hard one, sizes capacity (from
 * max_connections) and the 503 band beyond it to what that limit allows,
 * logs it, and returns the connection limit to give MHD. */
unsigned situd_conns_size(const situd_config *cfg, unsigned threads);
/* Builds the shared 503 and starts the reaper thread: 0, or -1. */
int situd_conns_start(const situd_config *cfg);
/* Stops the reaper and frees the 503; after MHD has stopped. */
void situd_conns_stop(void);
/* Stopping: every request head from now on is answered 503 (Connection:
 * close), idle connections are shut down, and this waits for the requests
 * being served to finish, at most max_s seconds: 0 when every connection
 * closed, -1 when some were still open. */
int situd_conns_drain(double max_s);

/* MHD_OPTION_NOTIFY_CONNECTION: admits or not, starts and ends the clock. */
void situd_conns_notify(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                        enum MHD_ConnectionNotificationCode code);
/* A request head arrived on conn: takes it off the clock. 1 when the
 * connection is admitted, 0 when it is past capacity (answer with
 * situd_conns_refuse). */
int situd_conns_head(struct MHD_Connection *conn);
/* Queues the shared 503 on conn; *out_bytes gets its body's size. */
situd_result situd_conns_refuse(struct MHD_Connection *conn, size_t *out_bytes);
/* A request on conn was answered in full and the connection kept alive:
 * starts the clock for its next head. */
void situd_conns_answered(struct MHD_Connection *conn);

/* Appends the connection gauges and refusal counters in Prometheus text. */
void situd_conns_stats(situ_buf *b);

#endif

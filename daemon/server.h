/*
 * server.h: private to daemon/. The libmicrohttpd daemon, the route table,
 * the current snapshot and the metrics, wired together.
 */
#ifndef SITUD_SERVER_H
#define SITUD_SERVER_H

#include "config.h"
#include "http.h"
#include "situ/snapshot.h"
#include "situ/store.h"

typedef struct situd_route {
    const char *method;
    const char *path; /* exact, or a prefix when it ends with '/' */
    const char *name; /* label in logs and metrics */
    situd_handler handler;
} situd_route;

/* The route table (routes.c). */
extern const situd_route situd_routes[];
extern const int situd_nroutes;

/* The current snapshot, retained for the caller (release it). */
situ_snapshot *situd_snapshot_acquire(void);
/* Publishes snap as the current snapshot (takes the caller's reference). */
void situd_snapshot_publish(situ_snapshot *snap);

/* Drops the cached tiles of collection cid that meet bbox (lon/lat), at
 * every zoom (route_tiles.c); the feeds writer calls it after a commit. */
void situd_tiles_invalidate(int cid, const double bbox[4]);

/* Metrics (metrics.c). */
void situd_metrics_record(int route, unsigned status, double seconds);
void situd_metrics_write(situ_buf *b);

/* Starts serving; returns 0, or -1 with a message in msg. */
int situd_server_start(const situd_config *cfg, char *msg, size_t nmsg);
/* The port actually bound (when 0 was asked). */
int situd_server_port(void);
/* Stops accepting, lets requests in flight finish, and frees the daemon. */
void situd_server_stop(void);

#endif

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
/* The current snapshot and, in *out_seq, the newest event_log seq it holds
 * (X-Situ-Seq), read together. */
situ_snapshot *situd_snapshot_acquire_seq(long long *out_seq);
/* The newest event_log seq the current snapshot holds. */
long long situd_snapshot_seq(void);
/* Raises that seq to seq once what it holds is published (never lowers it). */
void situd_snapshot_seq_advance(long long seq);

/* The tile cache (route_tiles.c): made at start, warmed from snap by a
 * thread behind the port (joined by situd_tiles_free). */
int situd_tiles_init(const situd_config *cfg, const situ_snapshot *snap, char *msg, size_t n);
void situd_tiles_free(void);
/* Before publishing snap, in which only collection cid changed within the
 * lon/lat boxes (old and new bounding boxes, 4 doubles each; NULL: all of
 * it): drops exactly the cached tiles those boxes touch. */
int situd_tiles_advance(const situ_snapshot *snap, int cid, const double *boxes, size_t nboxes);
/* Drops the cached tiles of collection cid that meet bbox, at every zoom. */
void situd_tiles_invalidate(int cid, const double bbox[4]);
/* Appends the tile cache's counters in Prometheus text. */
void situd_tiles_stats(situ_buf *b);

/* The proximity index cache (route_nearest.c): made at start, snap's
 * indexes prepared behind the port (a query first builds its own), and
 * prepared for every snapshot published after it. */
int situd_nearest_init(const situ_snapshot *snap, char *msg, size_t n);
void situd_nearest_prepare(const situ_snapshot *snap);
void situd_nearest_free(void);

/* The base map's named places (route_places.c): read at start from
 * cfg->places when set; 0, or -1 with the reason in msg. */
int situd_places_init(const situd_config *cfg, char *msg, size_t n);
void situd_places_free(void);

/* Metrics (metrics.c). */
void situd_metrics_record(int route, unsigned status, double seconds);
void situd_metrics_write(situ_buf *b);

/* Binds the listening socket (before dropping root's rights); returns 0,
 * or -1 with a message in msg. */
int situd_server_listen(const situd_config *cfg, char *msg, size_t nmsg);
/* Starts serving on the socket bound by situd_server_listen (binding one
 * now if it was not called); returns 0, or -1 with a message in msg. */
int situd_server_start(const situd_config *cfg, char *msg, size_t nmsg);
/* The port actually bound (when 0 was asked). */
int situd_server_port(void);
/* Stops accepting, lets requests in flight finish, and frees the daemon. */
void situd_server_stop(void);

#endif

/*
 * roads.h: private to daemon/. The daemon's road network: the routing graph
 * of the current snapshot's roads collection, the closure set in force (the
 * roads' own statuses plus whatever closure areas the feeds have laid on
 * them), the targets of the point collections snapped under it, and one
 * search workspace per HTTP thread.
 *
 *   situd_snapshot_publish -> situd_roads_prepare(snap):
 *       roads unchanged                      -> the graph and set stay
 *       only statuses (same situ_roads_graph_key) -> status set again, same graph
 *       otherwise                            -> a new graph (and slot, targets)
 *     then the set in force = status set + areas, published in the slot;
 *     last, the resources snapped under it (unless cached already)
 *   closure areas changed -> situd_roads_closures_changed() -> same last step
 *   request: situd_roads_acquire -> search (situd_roads_targets, _ws)
 *            -> situd_roads_release
 */
#ifndef SITUD_ROADS_H
#define SITUD_ROADS_H

#include "situ/buf.h"
#include "situ/roads.h"
#include "situ/snapshot.h"

/* ---- publishing (server.c, main.c) --------------------------------------- */

/* Brings the road network up to date with snap before readers see it (the
 * graph rebuilt only when the network changed, see above). Logs a failure
 * and keeps the previous network. */
void situd_roads_prepare(const situ_snapshot *snap);
/* From now on the first network with roads is built behind the port: by a
 * loader thread that situd_roads_prepare starts, which then also prepares
 * the snapshots published and lays the closure areas changed while it ran
 * (the publisher never waits for it). Until it is done the state is
 * loading and by-road answers are 503. Call before the first publish. */
void situd_roads_load_behind(void);
/* The road graph file (DB.roads beside a SpatiaLite store; NULL: none).
 * The first network's graph is mapped from it when it is sound and was
 * written for the same roads, else built and written to it for the next
 * start; the log says which and why. Call before the first publish. */
void situd_roads_graph_file(const char *path);
typedef enum { SITUD_ROADS_NONE, SITUD_ROADS_LOADING, SITUD_ROADS_READY } situd_roads_state;
/* none (no roads), loading (the loader runs) or ready. */
situd_roads_state situd_roads_state_now(void);
/* Drops everything (at exit), after waiting for the loader. */
void situd_roads_free(void);

/* ---- closure areas (the closure/closure_end feed events) ----------------- */

/* Lays the active closure areas on c, a private copy of the status set of
 * graph g (close edges with situ_roads_closures_set_radius / _set_polygon);
 * returns 0, or a SITU_E code with err set (then the status set alone is
 * published and the error logged). Called with the roads writer lock held:
 * it must not call back into situd_roads_*. */
typedef int (*situd_roads_area_applier)(void *ctx, const situ_roads_graph *g,
                                        situ_roads_closures *c, situ_err *err);
/* Installs the applier (NULL: none); call situd_roads_closures_changed after. */
void situd_roads_set_area_applier(situd_roads_area_applier fn, void *ctx);
/* The closure areas changed: recomputes the set in force (status set + the
 * applier's areas) and publishes it, then snaps the resources under it
 * (so the first request pays nothing); every search that starts after this
 * returns avoids the new closures. Safe from any thread. */
void situd_roads_closures_changed(void);

/* ---- searching (the routes) ----------------------------------------------- */

typedef struct situd_roads_net situd_roads_net;

/* What a request searches: the network, retained until situd_roads_release. */
typedef struct situd_roads_view {
    situd_roads_net *net;
    const situ_coll *roads; /* the version the names and statuses come from */
    const situ_roads_graph *g;
    situ_roads_closures *closures; /* the set in force */
} situd_roads_view;

/* 0, or -1 when no road network is loaded (an empty roads collection). */
int situd_roads_acquire(situd_roads_view *v);
void situd_roads_release(situd_roads_view *v);
/* The targets of point collection points under v's closures (built on the
 * first request, from the latest cached ones of points under another set
 * when there are some, then cached), held in *out until
 * situd_roads_targets_done. */
typedef struct situd_roads_tref {
    const situ_roads_targets *t;
    void *priv;
} situd_roads_tref;
int situd_roads_targets(const situd_roads_view *v, situ_coll *points, situd_roads_tref *out,
                        situ_err *err);
void situd_roads_targets_done(situd_roads_tref *ref);
/* The calling thread's workspace for v's graph (freed when the thread ends). */
situ_roads_ws *situd_roads_ws(const situd_roads_view *v);
/* Appends the road network's metrics (builds, status-only changes, closure
 * sets published, edges, closed edges) in Prometheus text. */
void situd_roads_metrics(situ_buf *b);

#endif

/*
 * closures.h: private to daemon/. The road closures the departments' feeds
 * laid (closure / closure_end events, kept in the store's road_closures):
 * the list active now, laid on the road network's closure set through
 * roads.h's area applier, re-read when a closure event is published and
 * when the earliest `until` passes, and GET /closures's GeoJSON.
 *
 *   start: read the active list from the store, install the applier
 *   publisher: closure changes committed -> reload -> roads recompute -> SSE
 *   publisher tick (each second): earliest until passed -> reload -> recompute
 *       -> "expired" changes on /events
 */
#ifndef SITUD_CLOSURES_H
#define SITUD_CLOSURES_H

#include "situ/buf.h"
#include "situ/feed.h"
#include "situ/store.h"

/* Reads the active closures from db (read-only) and installs the road
 * network's area applier; call before the first snapshot is published.
 * 0, or -1 with msg (situd then serves without closure areas). */
int situd_closures_start(const char *db, char *msg, size_t nmsg);
/* Re-reads the active list from s (the publisher's read-only store) and
 * republishes the road network's closure set; the closures that left the
 * list without an event (their until passed) are appended to *expired
 * (malloc'd, *nexpired of them; the caller frees) when expired is given.
 * 0, or -1 when the store could not be read (the list is kept). */
int situd_closures_reload(situ_store *s, situ_feed_change **expired, size_t *nexpired);
/* 1 when the earliest until of the active list has passed (a reload is due). */
int situd_closures_due(void);
/* Appends GET /closures: a FeatureCollection of the active closures, each
 * with its area as sent (a Polygon or MultiPolygon; a Point with radius_m),
 * id, dept, reason, until, created_at, updated_at and the road segments
 * (segments_closed) and roads (roads_closed) it closes on the network now. */
void situd_closures_geojson(situ_buf *b);
/* Drops the list and uninstalls the applier. */
void situd_closures_free(void);

#endif

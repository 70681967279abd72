/*
 * feed_int.h: private to layers/feeds/feed*.c and cap.c. What a validated
 * event holds for the applier (feed_item, hung on situ_feed_event.priv), the
 * batch's string arena, and the MultiPolygon builder that JSON alerts, CAP
 * areas and township geocodes share.
 */
#ifndef SITU_FEED_INT_H
#define SITU_FEED_INT_H

#include <stdarg.h>
#include <stdint.h>

#include "situ/feed.h"

typedef enum feed_msg {
    FEED_MSG_ALERT = 0,
    FEED_MSG_UPDATE, /* supersedes the referenced alerts */
    FEED_MSG_CANCEL, /* cancels the referenced alerts */
} feed_msg;

/* observation and camera: the station's latest reading or online state */
typedef struct feed_station {
    const char *station, *name, *kind, *metric;
    char observed_at[32];
    double value, lon, lat;
    int has_value, has_loc;
    int online;       /* -1: not said (observation), 0 offline, 1 online */
    int registration; /* a "station" event: no reading, past the quota */
} feed_station;

typedef struct feed_set {
    int field; /* index into the collection's fields */
    situ_value v;
} feed_set;

typedef struct feed_update {
    const situ_collection *c;
    const char *feature_id;
    feed_set *sets;
    int nsets;
    situ_item_qty *items; /* quantity < 0: remove the item */
    int nitems;
} feed_update;

typedef struct feed_alert {
    const char *feature_id; /* "dept:id" */
    const char *event, *severity, *headline, *description, *source, *cap_identifier;
    char onset[32], expires[32];
    feed_msg msg;
    const char **refs; /* referenced alert feature ids */
    int nrefs;
    const unsigned char *wkb;
    size_t nwkb;
    double bbox[4];
} feed_alert;

/* closure and closure_end: road closure "dept:closure" */
typedef struct feed_closure {
    const char *closure_id; /* "dept:id" */
    const char *reason;
    char until[32];          /* "": until a closure_end */
    const unsigned char *wkb; /* the MultiPolygon; NULL for a circle */
    size_t nwkb;
    double lon, lat, radius_m; /* a circle: radius_m > 0 */
    double bbox[4];
} feed_closure;

typedef struct feed_item {
    const char *body; /* what the log keeps */
    union {
        feed_station st;
        feed_update upd;
        feed_alert alert;
        feed_closure closure;
    } u;
} feed_item;

/* ---- batch memory (feed.c) ---------------------------------------------- */

/* A new empty batch of n events for dept (a schema code), received at now
 * (seconds since the epoch: the wall clock, or a drill's scenario time). */
situ_feed_batch *situ__feed_batch_new(const char *dept, int n, long long now);
/* n bytes that live as long as the batch; NULL when out of memory. */
void *situ__feed_alloc(situ_feed_batch *b, size_t n);
/* A copy of s (NULL stays NULL) or of p[0..n) NUL-terminated. */
const char *situ__feed_strdup(situ_feed_batch *b, const char *s);
const char *situ__feed_memdup(situ_feed_batch *b, const void *p, size_t n);
/* Marks ev REJECTED with field and reason; returns -1. */
int situ__feed_reject(situ_feed_event *ev, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps "red", "Red", "红色", ... to blue|yellow|orange|red; NULL if none. */
const char *situ__feed_severity(const char *s);

/* ---- MultiPolygon builder (feed_geom.c) ----------------------------------- */

#define SITU_FEED_MAX_POINTS 200000 /* vertices of one alert area */

typedef struct situ__mpoly {
    double *xy;
    size_t nxy, capxy; /* points */
    uint32_t *ring_n;  /* points of each ring */
    size_t nrings, caprings;
    uint32_t *poly_rings; /* rings of each polygon */
    size_t npolys, cappolys;
    double bbox[4];
    int oom;
} situ__mpoly;

void situ__mpoly_init(situ__mpoly *m);
void situ__mpoly_dispose(situ__mpoly *m);
/* Starts a polygon; the rings added next belong to it (the first is its
 * exterior). */
int situ__mpoly_begin(situ__mpoly *m);
/* Adds a ring of n lon/lat points, closing it when open. Returns 0, or -1
 * with *why set (fewer than 3 distinct points, coordinates out of range,
 * too many points, out of memory). */
int situ__mpoly_ring(situ__mpoly *m, const double *xy, size_t n, const char **why);
/* Adds a geodesic circle (64 sides) as a polygon of its own. */
int situ__mpoly_circle(situ__mpoly *m, double lon, double lat, double radius_m, const char **why);
/* Adds the polygons of a snapshot feature as they are. */
int situ__mpoly_feature(situ__mpoly *m, const situ_coll *c, const situ_feature *f);
/* The MultiPolygon as little-endian WKB, copied into batch memory. */
int situ__mpoly_wkb(situ__mpoly *m, situ_feed_batch *b, const unsigned char **out_wkb,
                    size_t *out_n);

#endif

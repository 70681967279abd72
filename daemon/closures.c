/*
 * closures.c: the active road closures of the feeds (see closures.h). One
 * list, swapped whole under a mutex by the publisher thread (or at start);
 * the road network's writer lays it through the applier below, under its
 * own lock, and notes per closure what it closed for GET /closures. Never
 * calls into roads.h while holding the list's lock (roads.c calls the
 * applier with its writer lock held).
 */
#include "closures.h"

#include <geos_c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roads.h"

static struct {
    pthread_mutex_t lock;
    situ_closure_list list;    /* active at the last reload */
    situ_roads_area_hit *hits; /* per closure of list when laid on the network; else NULL */
} C = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* The applier (roads.h): lays the active list on c, the status set of g. A
 * closure the graph refuses is logged and skipped; the others are laid. */
static int lay(void *ctx, const situ_roads_graph *g, situ_roads_closures *c, situ_err *err)
{
    (void)ctx;
    pthread_mutex_lock(&C.lock);
    size_t n = C.list.n;
    situ_roads_area *areas = calloc(n ? n : 1, sizeof *areas);
    situ_roads_area_hit *hits = calloc(n ? n : 1, sizeof *hits);
    long rc = areas && hits ? 0 : SITU_ENOMEM;
    for (size_t i = 0; !rc && i < n; i++) {
        const situ_closure *k = &C.list.v[i];
        areas[i] = k->radius_m > 0 ? (situ_roads_area){NULL, 0, k->lon, k->lat, k->radius_m}
                                   : (situ_roads_area){k->wkb, k->nwkb, 0, 0, 0};
    }
    situ_err e = {0};
    if (!rc && n) {
        GEOSContextHandle_t h = GEOS_init_r();
        rc = h ? situ_roads_closures_set_areas(c, g, h, areas, n, hits, &e) : SITU_ENOMEM;
        if (h)
            GEOS_finish_r(h);
    }
    if (rc >= 0) {
        free(C.hits);
        C.hits = hits;
        hits = NULL;
        if (e.msg[0])
            fprintf(stderr, "situd: closures: a closure closes nothing: %s\n", e.msg);
    }
    pthread_mutex_unlock(&C.lock);
    free(areas);
    free(hits);
    return rc < 0 ? situ_err_set(err, (int)rc, "closures: %s", e.msg[0] ? e.msg : "out of memory")
                  : 0;
}

int situd_closures_start(const char *db, char *msg, size_t nmsg)
{
    situ_store *s;
    situ_err err = {0};
    situd_roads_set_area_applier(lay, NULL);
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err))
        return snprintf(msg, nmsg, "%s", err.msg), -1;
    int rc = situd_closures_reload(s, NULL, NULL);
    situ_store_close(s);
    if (rc)
        snprintf(msg, nmsg, "cannot read the road closures");
    return rc;
}

/* The change telling that closure k left the list at now by its until. */
static situ_feed_change expiry_of(const situ_closure *k, const char *now)
{
    situ_feed_change c = {.cid = SITU_FEED_CLOSURES, .kind = SITU_CHANGE_EXPIRED};
    snprintf(c.id, sizeof c.id, "%s", k->id);
    double r = k->radius_m / 111132.0; /* degrees: enough for a box */
    c.bbox[0] = k->bbox[0] - r, c.bbox[1] = k->bbox[1] - r;
    c.bbox[2] = k->bbox[2] + r, c.bbox[3] = k->bbox[3] + r;
    int d = situ_schema_dept_index(k->dept);
    c.dept = d >= 0 ? situ_schema_dept(d)->code : NULL;
    snprintf(c.at, sizeof c.at, "%s", now);
    return c;
}

/* Appends to *out the closures of old (by id, as new) that are not in new
 * and whose until is not after now. */
static void collect_expired(const situ_closure_list *old, const situ_closure_list *new,
                            const char *now, situ_feed_change **out, size_t *out_n)
{
    size_t j = 0;
    for (size_t i = 0; i < old->n; i++) {
        const situ_closure *k = &old->v[i];
        while (j < new->n && strcmp(new->v[j].id, k->id) < 0)
            j++;
        if ((j < new->n && !strcmp(new->v[j].id, k->id)) || !k->until[0] ||
            strcmp(k->until, now) > 0)
            continue;
        situ_feed_change *p = realloc(*out, (*out_n + 1) * sizeof *p);
        if (!p)
            return;
        *out = p;
        p[(*out_n)++] = expiry_of(k, now);
    }
}

int situd_closures_reload(situ_store *s, situ_feed_change **expired, size_t *nexpired)
{
    situ_closure_list l;
    situ_err err = {0};
    char now[32];
    situ_store_now(now);
    if (situ_store_closures_active(s, now, &l, &err)) {
        fprintf(stderr, "situd: closures: %s\n", err.msg);
        return -1;
    }
    pthread_mutex_lock(&C.lock);
    situ_closure_list old = C.list;
    C.list = l;
    free(C.hits);
    C.hits = NULL;
    pthread_mutex_unlock(&C.lock);
    if (expired)
        collect_expired(&old, &l, now, expired, nexpired);
    situ_closure_list_dispose(&old);
    situd_roads_closures_changed();
    return 0;
}

int situd_closures_due(void)
{
    char now[32];
    situ_store_now(now);
    pthread_mutex_lock(&C.lock);
    int due = C.list.next_until[0] && strcmp(C.list.next_until, now) <= 0;
    pthread_mutex_unlock(&C.lock);
    return due;
}

/* Appends closure k's geometry as sent: a MultiPolygon of one part as the
 * Polygon it came as; null when GEOS cannot read it. */
static void add_geometry(situ_buf *b, GEOSContextHandle_t h, GEOSWKBReader *rd,
                         GEOSGeoJSONWriter *w, const situ_closure *k)
{
    GEOSGeometry *g = GEOSWKBReader_read_r(h, rd, k->wkb, k->nwkb);
    const GEOSGeometry *one = g;
    if (g && GEOSGeomTypeId_r(h, g) == GEOS_MULTIPOLYGON && GEOSGetNumGeometries_r(h, g) == 1)
        one = GEOSGetGeometryN_r(h, g, 0);
    char *js = one ? GEOSGeoJSONWriter_writeGeometry_r(h, w, one, -1) : NULL;
    situ_buf_adds(b, js ? js : "null");
    if (js)
        GEOSFree_r(h, js);
    if (g)
        GEOSGeom_destroy_r(h, g);
}

static void add_str_member(situ_buf *b, const char *name, const char *v)
{
    situ_buf_printf(b, ",\"%s\":", name);
    if (v && *v)
        situ_buf_add_json_str(b, v);
    else
        situ_buf_adds(b, "null");
}

static void add_feature(situ_buf *b, GEOSContextHandle_t h, GEOSWKBReader *rd, GEOSGeoJSONWriter *w,
                        const situ_closure *k, const situ_roads_area_hit *hit)
{
    situ_buf_adds(b, "{\"type\":\"Feature\",\"id\":");
    situ_buf_add_json_str(b, k->id);
    situ_buf_adds(b, ",\"geometry\":");
    add_geometry(b, h, rd, w, k);
    situ_buf_adds(b, ",\"properties\":{\"id\":");
    situ_buf_add_json_str(b, k->id);
    add_str_member(b, "dept", k->dept);
    add_str_member(b, "reason", k->reason);
    add_str_member(b, "until", k->until);
    if (k->radius_m > 0) {
        situ_buf_adds(b, ",\"radius_m\":");
        situ_buf_add_num(b, k->radius_m, 2);
    }
    add_str_member(b, "created_at", k->created_at);
    add_str_member(b, "updated_at", k->updated_at);
    if (hit && hit->edges >= 0)
        situ_buf_printf(b, ",\"segments_closed\":%ld,\"roads_closed\":%zu}}", hit->edges,
                        hit->roads);
    else /* no road network, or not laid yet */
        situ_buf_adds(b, ",\"segments_closed\":null,\"roads_closed\":null}}");
}

void situd_closures_geojson(situ_buf *b)
{
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSWKBReader *rd = h ? GEOSWKBReader_create_r(h) : NULL;
    GEOSGeoJSONWriter *w = h ? GEOSGeoJSONWriter_create_r(h) : NULL;
    pthread_mutex_lock(&C.lock);
    situ_buf_adds(b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (size_t i = 0; rd && w && i < C.list.n; i++) {
        if (i)
            situ_buf_addc(b, ',');
        add_feature(b, h, rd, w, &C.list.v[i], C.hits ? &C.hits[i] : NULL);
    }
    situ_buf_printf(b, "],\"numberReturned\":%zu", rd && w ? C.list.n : 0);
    pthread_mutex_unlock(&C.lock);
    situ_buf_adds(b, "}\n");
    if (w)
        GEOSGeoJSONWriter_destroy_r(h, w);
    if (rd)
        GEOSWKBReader_destroy_r(h, rd);
    if (h)
        GEOS_finish_r(h);
}

void situd_closures_free(void)
{
    situd_roads_set_area_applier(NULL, NULL);
    pthread_mutex_lock(&C.lock);
    situ_closure_list_dispose(&C.list);
    free(C.hits);
    C.hits = NULL;
    pthread_mutex_unlock(&C.lock);
}

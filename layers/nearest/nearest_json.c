/*
 * nearest_json.c: the answers of /nearest, /within and /locate as GeoJSON
 * FeatureCollections (RFC 7946, so QGIS and GDAL read them as they are), and
 * the hazard-source array /locate embeds. Features are written by geojson.c;
 * this file adds the "query" echo, the proximity properties (rank,
 * distance_m, bearing_deg, matched item) and GCJ-02 output. Entry points:
 * situ_nearest_answer and situ_nearest_hazards_json.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "situ/gcj02.h"
#include "situ/geojson.h"
#include "situ/summary.h"
#include "nearest_priv.h"

#define LOCATE_MAX 1000 /* hazard sources listed by /locate */

static const char *const mode_names[] = {"nearest", "within", "locate", "route", "reach"};

static void to_gcj02(void *ctx, double *lon, double *lat)
{
    (void)ctx;
    situ_gcj02_from_wgs84(*lon, *lat, lon, lat);
}

static situ_geojson_opts json_opts(const situ_snapshot *s, situ_crs crs)
{
    situ_geojson_opts o = {.decimals = 7, .snap = s};
    if (crs == SITU_CRS_GCJ02)
        o.xform = to_gcj02;
    return o;
}

static void add_key(situ_buf *b, const char *key)
{
    situ_buf_addc(b, ',');
    situ_buf_add_json_str(b, key);
    situ_buf_addc(b, ':');
}

static void add_str_or_null(situ_buf *b, const char *s)
{
    if (s)
        situ_buf_add_json_str(b, s);
    else
        situ_buf_adds(b, "null");
}

/* ---- the query echo ------------------------------------------------------ */

static void echo_township(situ_buf *b, const situ_snapshot *s, double lon, double lat)
{
    long ti = situ_snapshot_locate(s, lon, lat);
    const situ_coll *t = s->colls[SITU_C_TOWNSHIPS];
    const situ_feature *f = ti >= 0 ? &t->feats[ti] : NULL;
    add_key(b, "township_code");
    add_str_or_null(b, f ? f->id : NULL);
    add_key(b, "township_name");
    add_str_or_null(b, f ? situ_snapshot_township_name(s, f->id) : NULL);
    static const char *const more[] = {"county_code", "county_name"};
    for (int k = 0; k < 2; k++) {
        int fi = situ_schema_field_index(t->c, more[k]);
        add_key(b, more[k]);
        if (f && fi >= 0)
            situ_geojson_value(b, &t->c->fields[fi], &f->values[fi]);
        else
            situ_buf_adds(b, "null");
    }
}

static void echo_search(situ_buf *b, const situ_nearest_query *q)
{
    const situ_collection *c = situ_schema_collection(q->cid);
    add_key(b, "collection");
    situ_buf_add_json_str(b, c->id);
    add_key(b, q->mode == SITU_NEAREST_WITHIN ? "limit" : "k");
    situ_buf_printf(b, "%d", q->k);
    if (q->by_road) {
        situ_buf_adds(b, ",\"by\":\"road\",\"direction\":");
        situ_buf_adds(b, q->from_point ? "\"from_point\"" : "\"to_point\"");
        if (isfinite(q->max_s)) {
            add_key(b, "minutes");
            situ_buf_add_num(b, q->max_s / 60, 6);
        }
    } else if (q->mode == SITU_NEAREST_WITHIN) {
        add_key(b, "radius_m");
        situ_buf_add_num(b, q->radius_m, 3);
    } else if (isfinite(q->max_m)) {
        add_key(b, "max_km");
        situ_buf_add_num(b, q->max_m / 1000, 6);
    }
    if (q->item >= 0) {
        add_key(b, "item");
        situ_buf_add_json_str(b, situ_schema_item(q->item)->code);
        add_key(b, "min_qty");
        situ_buf_add_num(b, q->min_qty, 6);
    }
    for (int i = 0; i < q->nfilters; i++) {
        add_key(b, c->fields[q->filters[i].field].name);
        situ_buf_add_json_str(b, q->filters[i].value);
    }
}

static void echo_query(situ_buf *b, const situ_snapshot *s, const situ_nearest_query *q,
                       const char *more)
{
    situ_buf_adds(b, "\"query\":{\"type\":");
    situ_buf_add_json_str(b, mode_names[q->mode]);
    add_key(b, "lon");
    situ_buf_add_num(b, q->in_lon, 7);
    add_key(b, "lat");
    situ_buf_add_num(b, q->in_lat, 7);
    add_key(b, "crs");
    situ_buf_adds(b, q->crs == SITU_CRS_GCJ02 ? "\"gcj02\"" : "\"wgs84\"");
    if (q->crs == SITU_CRS_GCJ02) {
        situ_buf_adds(b, ",\"wgs84\":[");
        situ_buf_add_num(b, q->lon, 7);
        situ_buf_addc(b, ',');
        situ_buf_add_num(b, q->lat, 7);
        situ_buf_addc(b, ']');
    }
    echo_township(b, s, q->lon, q->lat);
    if (q->mode != SITU_NEAREST_LOCATE)
        echo_search(b, q);
    if (more)
        situ_buf_adds(b, more);
    situ_buf_addc(b, '}');
}

/* ---- features ------------------------------------------------------------ */

/* One hit as a Feature: proximity properties first, then the feature's own. */
static void add_hit(situ_buf *b, const situ_snapshot *s, const situ_coll *c,
                    const situ_nearest_hit *h, int rank, const situ_nearest_query *q,
                    const situ__road_hit *rh)
{
    const situ_feature *f = &c->feats[h->feat];
    situ_geojson_opts o = json_opts(s, q->crs);
    situ_buf_adds(b, "{\"type\":\"Feature\",\"id\":");
    situ_buf_add_json_str(b, f->id);
    situ_buf_adds(b, ",\"geometry\":");
    situ_geojson_geometry(b, c, f, &o);
    situ_buf_adds(b, ",\"properties\":{\"id\":");
    situ_buf_add_json_str(b, f->id);
    add_key(b, "collection");
    situ_buf_add_json_str(b, c->c->id);
    situ_buf_printf(b, ",\"rank\":%d,\"distance_m\":", rank);
    situ_buf_add_num(b, h->distance_m, 3);
    add_key(b, "bearing_deg");
    situ_buf_add_num(b, h->bearing_deg, 4);
    if (rh) {
        add_key(b, "travel_s");
        situ_buf_add_num(b, rh->travel_s, 2);
        add_key(b, "road_m");
        situ_buf_add_num(b, rh->road_m, 1);
        add_key(b, "snap_m");
        situ_buf_add_num(b, rh->snap_m, 1);
        if (rh->route)
            situ_buf_adds(b, rh->route);
    }
    if (q->item >= 0 && c->c->cid == SITU_C_RESOURCES) {
        add_key(b, "matched_item");
        situ_buf_add_json_str(b, situ_schema_item(q->item)->code);
        add_key(b, "matched_qty");
        situ_buf_add_num(b, situ_coll_held(c, f, q->item), 3);
    }
    situ_buf_addc(b, ',');
    situ_geojson_properties_members(b, c, f, &o);
    situ_buf_adds(b, "}}");
}

static void add_hits(situ_buf *b, const situ_snapshot *s, const situ_coll *c,
                     const situ_nearest_result *r, int *nwritten, const situ_nearest_query *q,
                     const situ__road_hit *road)
{
    for (int i = 0; i < r->n; i++) {
        if ((*nwritten)++)
            situ_buf_addc(b, ',');
        add_hit(b, s, c, &r->hits[i], *nwritten, q, road ? &road[i] : NULL);
    }
}

/* ---- answers ------------------------------------------------------------- */

/* Runs a KNN/WITHIN query, or the hazard sources reaching q's point. */
static int run_query(situ_nearest_cache *cache, const situ_snapshot *s, const situ_nearest_query *q,
                     situ_nearest_result *r, situ_err *err)
{
    situ_coll_id cid = q->mode == SITU_NEAREST_LOCATE ? SITU_C_HAZARD_SOURCES : q->cid;
    situ_nearest_index *ix;
    if (!s->colls[cid])
        return situ_err_set(err, SITU_ENOTFOUND, "collection: not loaded");
    int rc = situ_nearest_cache_get(cache, s->colls[cid], &ix, err);
    if (rc)
        return rc;
    if (q->mode == SITU_NEAREST_LOCATE)
        rc = situ_nearest_hazards_reaching(ix, q->lon, q->lat, NULL, r, err);
    else
        rc = situ_nearest_search(ix, q, NULL, r, err);
    situ_nearest_index_release(ix);
    return rc;
}

/* The active alerts containing the point, as hits at 0 m, in id order. */
static void add_alerts(situ_buf *b, const situ_snapshot *s, const situ_nearest_query *q,
                       int *nwritten)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS];
    char now[32];
    situ_store_now(now);
    for (size_t k = 0; a && k < a->n; k++) {
        uint32_t i = a->by_id[k];
        const situ_feature *f = &a->feats[i];
        if (!situ_alert_active(a, f, now) || !situ_coll_contains(a, f, q->lon, q->lat))
            continue;
        situ_nearest_hit h = {i, 0, NAN};
        if ((*nwritten)++)
            situ_buf_addc(b, ',');
        add_hit(b, s, a, &h, *nwritten, q, NULL);
    }
}

void situ__nearest_write(situ_buf *out, const situ_snapshot *s, const situ_nearest_query *q,
                         const situ_nearest_result *r, const situ__road_hit *road,
                         const char *echo_more)
{
    int n = 0;
    situ_buf_adds(out, "{\"type\":\"FeatureCollection\",");
    echo_query(out, s, q, echo_more);
    situ_buf_adds(out, ",\"features\":[");
    if (q->mode == SITU_NEAREST_LOCATE)
        add_alerts(out, s, q, &n);
    add_hits(out, s, s->colls[q->mode == SITU_NEAREST_LOCATE ? SITU_C_HAZARD_SOURCES : q->cid], r,
             &n, q, road);
    situ_buf_printf(out, "],\"numberReturned\":%d", n);
    if (q->mode != SITU_NEAREST_KNN)
        situ_buf_printf(out, ",\"truncated\":%s", r->truncated ? "true" : "false");
    situ_buf_adds(out, "}\n");
}

int situ_nearest_answer(situ_nearest_cache *cache, const situ_snapshot *s,
                        const situ_nearest_query *q, situ_buf *out, situ_err *err)
{
    if (q->by_road || q->mode > SITU_NEAREST_LOCATE)
        return situ_err_set(err, SITU_EINVAL, "by: by road needs the road network");
    int cap = q->mode == SITU_NEAREST_LOCATE ? LOCATE_MAX : q->k;
    situ_nearest_result r = {.hits = malloc(((size_t)cap + 1) * sizeof *r.hits), .cap = cap};
    if (!r.hits)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = run_query(cache, s, q, &r, err);
    if (rc == 0) {
        situ__nearest_write(out, s, q, &r, NULL, NULL);
        if (out->oom)
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    free(r.hits);
    return rc;
}

int situ_nearest_hazards_json(situ_nearest_cache *cache, const situ_snapshot *s, double lon,
                              double lat, situ_crs crs, situ_buf *out, situ_err *err)
{
    situ_nearest_query q;
    situ_nearest_query_init(&q, SITU_NEAREST_LOCATE);
    q.lon = lon, q.lat = lat, q.crs = crs;
    situ_nearest_result r = {.hits = malloc(LOCATE_MAX * sizeof *r.hits), .cap = LOCATE_MAX};
    if (!r.hits)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = run_query(cache, s, &q, &r, err), n = 0;
    if (rc == 0) {
        situ_buf_addc(out, '[');
        add_hits(out, s, s->colls[SITU_C_HAZARD_SOURCES], &r, &n, &q, NULL);
        situ_buf_addc(out, ']');
    }
    free(r.hits);
    return rc;
}

/*
 * impact.c: the impact of an alert (see situ/impact.h): what of the four
 * maps, the stations and the roads lies in its area. One pass over each
 * collection, each feature's box first against the alert's; points are
 * tested against the alert's own rings (situ_coll_contains), townships as
 * a township summary lists the alert (summary.c's test), roads with GEOS
 * against the prepared outline, hazard sources by their distance on the
 * ground. Not here: the HTTP route (daemon/route_impact.c).
 */
#include "situ/impact.h"

#include <math.h>
#include <string.h>

#include "situ/geojson.h"
#include "situ/summary.h"
#include "summary_private.h"

#define EARTH_R 6371008.8
#define DEG (M_PI / 180)

/* The alert being written: its collection and feature, its box. */
typedef struct impact {
    const situ_snapshot *s;
    const situ_coll *ac;
    const situ_feature *a;
    const char *now;
} impact;

static int boxes_meet(const double *p, const double *q)
{
    return !(p[2] < q[0] || q[2] < p[0] || p[3] < q[1] || q[3] < p[1]);
}

static const situ_value *val(const situ_coll *c, const situ_feature *f, const char *name)
{
    int i = situ_schema_field_index(c->c, name);
    return i >= 0 ? &f->values[i] : NULL;
}

static const char *text(const situ_coll *c, const situ_feature *f, const char *name)
{
    const situ_value *v = val(c, f, name);
    return v && v->type == SITU_FT_TEXT && v->u.s ? v->u.s : "";
}

/* Appends ,"name":value for each named field of f, as GeoJSON writes it. */
static void members(situ_buf *b, const situ_coll *c, const situ_feature *f,
                    const char *const *names)
{
    for (int k = 0; names[k]; k++) {
        int i = situ_schema_field_index(c->c, names[k]);
        situ_buf_printf(b, ",\"%s\":", names[k]);
        if (i < 0)
            situ_buf_adds(b, "null");
        else
            situ_geojson_value(b, &c->c->fields[i], &f->values[i]);
    }
}

/* Opens {"id":..., then the named fields; the caller closes it. */
static void open_object(situ_buf *b, int first, const situ_coll *c, const situ_feature *f,
                        const char *const *names)
{
    situ_buf_adds(b, first ? "{\"id\":" : ",{\"id\":");
    situ_buf_add_json_str(b, f->id);
    members(b, c, f, names);
}

static void lonlat(situ_buf *b, const situ_feature *f)
{
    situ_buf_adds(b, ",\"lon\":");
    situ_buf_add_num(b, f->x, 7);
    situ_buf_adds(b, ",\"lat\":");
    situ_buf_add_num(b, f->y, 7);
}

/* 1 when point feature f lies in the alert (on its outline included). */
static int point_inside(const impact *im, const situ_feature *f)
{
    const double p[4] = {f->x, f->y, f->x, f->y};
    return boxes_meet(im->a->bbox, p) && situ_coll_contains(im->ac, im->a, f->x, f->y);
}

static void townships_part(situ_buf *b, const impact *im)
{
    const situ_coll *t = im->s->colls[SITU_C_TOWNSHIPS], *h = im->s->colls[SITU_C_HAZARDS];
    static const char *const names[] = {"name", "county_name", "population", NULL};
    situ_buf_adds(b, ",\"townships\":[");
    int first = 1;
    for (size_t i = 0; i < t->n; i++) {
        const situ_feature *town = &t->feats[i];
        if (strcmp(im->a->township_code, town->id) && !situ_polygons_meet(im->ac, im->a, t, town))
            continue;
        situ_buf_adds(b, first ? "{\"code\":" : ",{\"code\":");
        first = 0;
        situ_buf_add_json_str(b, town->id);
        members(b, t, town, names);
        size_t hf, he, open = 0, overdue = 0;
        situ_coll_township_range(h, town->id, &hf, &he);
        situ__hazards_open_overdue(h, hf, he, im->now, &open, &overdue);
        situ_buf_printf(b, ",\"hazards_open\":%zu,\"hazards_overdue\":%zu}", open, overdue);
    }
    situ_buf_addc(b, ']');
}

const char *situ_impact_metric_unit(const char *metric)
{
    static const char *const units[][2] = {{"_veh_h", "veh/h"}, {"_mm", "mm"}, {"_ms", "m/s"},
                                           {"_mw", "MW"},       {"_m", "m"},   {NULL, NULL}};
    size_t n = metric ? strlen(metric) : 0;
    for (int i = 0; units[i][0]; i++) {
        size_t k = strlen(units[i][0]);
        if (n > k && !strcmp(metric + n - k, units[i][0]))
            return units[i][1];
    }
    return "";
}

static void stations_part(situ_buf *b, const impact *im)
{
    const situ_coll *c = im->s->colls[SITU_C_STATIONS];
    static const char *const names[] = {"name",  "kind",      "dept",        "status", "metric",
                                        "value", "threshold", "observed_at", NULL};
    situ_buf_adds(b, ",\"stations\":[");
    int first = 1;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        const char *st = text(c, f, "status");
        if ((strcmp(st, "warning") && strcmp(st, "alarm")) || !point_inside(im, f))
            continue;
        open_object(b, first, c, f, names);
        first = 0;
        situ_buf_adds(b, ",\"unit\":");
        situ_buf_add_json_str(b, situ_impact_metric_unit(text(c, f, "metric")));
        lonlat(b, f);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
}

static void resources_part(situ_buf *b, const impact *im)
{
    const situ_coll *c = im->s->colls[SITU_C_RESOURCES];
    static const char *const names[] = {"name",      "category", "team_type", "status",
                                        "personnel", "phone",    NULL};
    situ_buf_adds(b, ",\"resources\":[");
    int first = 1;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        if (!point_inside(im, f))
            continue;
        open_object(b, first, c, f, names);
        first = 0;
        lonlat(b, f);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
}

/* Metres on the ground from (x0, y0) to segment (x1, y1)-(x2, y2), on a
 * plane tangent at (x0, y0): within a few metres of the geodesic at the
 * kilometres an impact radius spans. */
static double segment_m(double x0, double y0, double x1, double y1, double x2, double y2)
{
    double k = cos(y0 * DEG) * EARTH_R * DEG, m = EARTH_R * DEG;
    double ax = (x1 - x0) * k, ay = (y1 - y0) * m, bx = (x2 - x0) * k, by = (y2 - y0) * m;
    double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    double t = len2 > 0 ? -(ax * dx + ay * dy) / len2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return hypot(ax + t * dx, ay + t * dy);
}

/* Metres from (x, y) to the alert's area: 0 inside, else to its outline. */
static double distance_to_alert(const impact *im, double x, double y)
{
    const situ_coll *c = im->ac;
    if (situ_coll_contains(c, im->a, x, y))
        return 0;
    double best = INFINITY;
    for (uint32_t p = 0; p < im->a->npolys; p++) {
        const situ_poly *poly = &c->polys[im->a->poly0 + p];
        for (uint32_t r = 0; r < poly->nrings; r++) {
            const situ_ring *ring = &c->rings[poly->ring0 + r];
            const double *xy = c->xy + 2 * (size_t)ring->off;
            for (uint32_t v = 0; v + 1 < ring->n; v++) {
                double d = segment_m(x, y, xy[2 * v], xy[2 * v + 1], xy[2 * v + 2], xy[2 * v + 3]);
                best = d < best ? d : best;
            }
        }
    }
    return best;
}

static void hazard_sources_part(situ_buf *b, const impact *im)
{
    const situ_coll *c = im->s->colls[SITU_C_HAZARD_SOURCES];
    static const char *const names[] = {"name", "enterprise", "grade", "impact_radius_m", NULL};
    situ_buf_adds(b, ",\"hazard_sources\":[");
    int first = 1;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        const situ_value *rv = val(c, f, "impact_radius_m");
        double r = rv && rv->type == SITU_FT_REAL ? rv->u.d : rv && rv->type ? (double)rv->u.i : 0;
        double dlat = r / (EARTH_R * DEG), dlon = dlat / fmax(cos(f->y * DEG), 1e-6);
        const double box[4] = {f->x - dlon, f->y - dlat, f->x + dlon, f->y + dlat};
        if (!boxes_meet(im->a->bbox, box))
            continue;
        double d = distance_to_alert(im, f->x, f->y);
        if (d > r)
            continue;
        open_object(b, first, c, f, names);
        first = 0;
        situ_buf_adds(b, ",\"distance_m\":");
        situ_buf_add_num(b, d, 1);
        lonlat(b, f);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
}

/* 1 when a part of road f crosses or touches the prepared alert pg. */
static int road_meets(GEOSContextHandle_t h, const GEOSPreparedGeometry *pg, const situ_coll *c,
                      const situ_feature *f)
{
    int meet = 0;
    for (uint32_t p = 0; !meet && p < f->npolys; p++) {
        const situ_ring *ring = &c->rings[c->polys[f->poly0 + p].ring0];
        GEOSCoordSequence *cs =
            GEOSCoordSeq_copyFromBuffer_r(h, c->xy + 2 * (size_t)ring->off, ring->n, 0, 0);
        GEOSGeometry *g = cs ? GEOSGeom_createLineString_r(h, cs) : NULL;
        meet = g && GEOSPreparedIntersects_r(h, pg, g) == 1;
        GEOSGeom_destroy_r(h, g);
    }
    return meet;
}

static void roads_part(situ_buf *b, const impact *im, GEOSContextHandle_t h,
                       const GEOSPreparedGeometry *pg)
{
    const situ_coll *c = im->s->colls[SITU_C_ROADS];
    static const char *const names[] = {"name", "ref", "class", "status", NULL};
    situ_buf_adds(b, ",\"roads\":[");
    int first = 1;
    for (size_t i = 0; c && i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        if (!boxes_meet(im->a->bbox, f->bbox) || !road_meets(h, pg, c, f))
            continue;
        open_object(b, first, c, f, names);
        first = 0;
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
}

static void alert_part(situ_buf *b, const impact *im)
{
    static const char *const names[] = {"dept",  "event",   "severity", "headline",
                                        "onset", "expires", "status",   NULL};
    situ_buf_adds(b, "{\"alert\":");
    open_object(b, 1, im->ac, im->a, names);
    situ_buf_printf(b, ",\"active\":%s,\"bbox\":[",
                    situ_alert_active(im->ac, im->a, im->now) ? "true" : "false");
    for (int k = 0; k < 4; k++) {
        if (k)
            situ_buf_addc(b, ',');
        situ_buf_add_num(b, im->a->bbox[k], 7);
    }
    situ_buf_adds(b, "]}");
}

int situ_impact_alert(const situ_snapshot *s, const char *id, const char *now, situ_buf *b)
{
    const situ_coll *ac = s->colls[SITU_C_ALERTS];
    long ai = situ_coll_find(ac, id);
    if (ai < 0)
        return SITU_ENOTFOUND;
    impact im = {s, ac, &ac->feats[ai], now};
    GEOSContextHandle_t h = situ__geos_quiet_init();
    GEOSGeometry *g = h ? situ__feature_geos(h, ac, im.a) : NULL;
    const GEOSPreparedGeometry *pg = g ? GEOSPrepare_r(h, g) : NULL;
    int rc = pg ? 0 : SITU_EGEOM;
    if (!rc) {
        alert_part(b, &im);
        townships_part(b, &im);
        stations_part(b, &im);
        resources_part(b, &im);
        hazard_sources_part(b, &im);
        roads_part(b, &im, h, pg);
        situ_buf_adds(b, ",\"updated_at\":");
        situ_buf_add_json_str(b, now);
        situ_buf_adds(b, "}\n");
    }
    if (h) {
        GEOSPreparedGeom_destroy_r(h, pg);
        GEOSGeom_destroy_r(h, g);
        GEOS_finish_r(h);
    }
    return rc;
}

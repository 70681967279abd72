/*
 * roads_net.c: the routing graph of a snapshot's roads collection, and the
 * targets of a point collection. Owns the mapping of a feature's fields to
 * a situ_roads_line (one line per LineString part, id = feature index), the
 * graph key that tells a status-only change from a new network, and the
 * closure set of the features' statuses; not the graph itself
 * (roads_graph.c). Entry points: situ_roads_lines_of, situ_roads_graph_of,
 * situ_roads_graph_key, situ_roads_closures_of, situ_roads_targets_of.
 */
#include <stdlib.h>
#include <string.h>

#include "situ/snapshot.h"
#include "roads_priv.h"

typedef struct road_fields {
    int cls, oneway, status, speed, duration;
} road_fields;

static road_fields fields_of(const situ_coll *c)
{
    road_fields f = {
        situ_schema_field_index(c->c, "class"), situ_schema_field_index(c->c, "oneway"),
        situ_schema_field_index(c->c, "status"), situ_schema_field_index(c->c, "speed_kmh"),
        situ_schema_field_index(c->c, "duration_s")};
    return f;
}

static const char *text_of(const situ_feature *f, int fi)
{
    return fi >= 0 && f->values[fi].type == SITU_FT_TEXT ? f->values[fi].u.s : NULL;
}

static double num_of(const situ_feature *f, int fi)
{
    if (fi < 0)
        return 0;
    const situ_value *v = &f->values[fi];
    return v->type == SITU_FT_REAL ? v->u.d : v->type == SITU_FT_INT ? (double)v->u.i : 0;
}

static int eq(const char *a, const char *b)
{
    return a && !strcmp(a, b);
}

static situ_roads_status status_of(const situ_feature *f, const road_fields *rf)
{
    const char *s = text_of(f, rf->status);
    return eq(s, "closed")       ? SITU_ROADS_CLOSED
           : eq(s, "restricted") ? SITU_ROADS_RESTRICTED
                                 : SITU_ROADS_OPEN;
}

/* The attributes of feature i as a line (xy and n left to the caller). */
static int line_of(const situ_coll *c, size_t i, const road_fields *rf, situ_roads_line *out,
                   situ_err *err)
{
    const situ_feature *f = &c->feats[i];
    const char *cls = text_of(f, rf->cls), *ow = text_of(f, rf->oneway);
    int k = cls ? situ_roads_class_of(cls) : -1;
    if (k < 0)
        return situ_err_set(err, SITU_EINVAL, "roads: feature %s: class %s unknown", f->id,
                            cls ? cls : "missing");
    memset(out, 0, sizeof *out);
    out->id = (uint32_t)i;
    out->cls = (situ_roads_class)k;
    out->oneway = eq(ow, "yes")       ? SITU_ROADS_ONEWAY
                  : eq(ow, "reverse") ? SITU_ROADS_REVERSE
                                      : SITU_ROADS_TWOWAY;
    out->status = status_of(f, rf);
    out->speed_kmh = num_of(f, rf->speed);
    out->speed_tagged = out->speed_kmh > 0;
    out->duration_s = num_of(f, rf->duration);
    return 0;
}

int situ_roads_lines_of(const situ_coll *c, situ_roads_line **out_lines, size_t *out_n,
                        situ_err *err)
{
    size_t nparts = 0;
    for (size_t i = 0; i < c->n; i++)
        nparts += c->feats[i].npolys;
    situ_roads_line *lines = malloc((nparts ? nparts : 1) * sizeof *lines);
    if (!lines)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    road_fields rf = fields_of(c);
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        situ_roads_line proto;
        if (f->npolys && line_of(c, i, &rf, &proto, err)) {
            free(lines);
            return SITU_EINVAL;
        }
        for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
            const situ_ring *r = &c->rings[c->polys[p].ring0];
            lines[n] = proto;
            lines[n].xy = c->xy + 2 * (size_t)r->off;
            lines[n++].n = r->n;
        }
    }
    *out_lines = lines;
    *out_n = n;
    return 0;
}

int situ_roads_graph_of(const situ_coll *c, const situ_roads_config *cfg, situ_roads_graph **out_g,
                        situ_err *err)
{
    situ_roads_line *lines;
    size_t n;
    int rc = situ_roads_lines_of(c, &lines, &n, err);
    if (rc)
        return rc;
    rc = situ_roads_graph_new(lines, n, cfg, out_g, err);
    free(lines);
    return rc;
}

/* ---- the graph key ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull; /* FNV-1a */
    return h;
}

static uint64_t mix_text(uint64_t h, const char *s)
{
    return s ? mix(h, s, strlen(s) + 1) : mix(h, "", 1);
}

uint64_t situ_roads_graph_key(const situ_coll *c)
{
    road_fields rf = fields_of(c);
    uint64_t h = mix(0xcbf29ce484222325ull, &c->n, sizeof c->n);
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        double num[2] = {num_of(f, rf.speed), num_of(f, rf.duration)};
        h = mix_text(mix_text(h, text_of(f, rf.cls)), text_of(f, rf.oneway));
        h = mix(mix(h, num, sizeof num), &f->npolys, sizeof f->npolys);
        for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
            const situ_ring *r = &c->rings[c->polys[p].ring0];
            h = mix(mix(h, &r->n, sizeof r->n), c->xy + 2 * (size_t)r->off,
                    2 * (size_t)r->n * sizeof *c->xy);
        }
        situ_coll_drop_pages_every(c, i);
    }
    if (c->n) /* a pass over a nation's roads reads most of the file */
        situ_coll_drop_pages(c);
    return h;
}

/* ---- closures and targets ------------------------------------------------------- */

int situ_roads_closures_of(const situ_roads_graph *g, const situ_coll *c,
                           situ_roads_closures **out_c, situ_err *err)
{
    uint32_t *ids = malloc((c->n ? c->n : 1) * sizeof *ids);
    if (!ids)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    situ_roads_closures *cl = NULL;
    int rc = situ_roads_closures_new(g, &cl, err);
    if (rc) {
        free(ids);
        return rc;
    }
    road_fields rf = fields_of(c);
    for (int closed = 0; closed <= 1; closed++) {
        size_t n = 0;
        for (size_t i = 0; i < c->n; i++) {
            if ((status_of(&c->feats[i], &rf) == SITU_ROADS_CLOSED) == closed)
                ids[n++] = (uint32_t)i;
            situ_coll_drop_pages_every(c, i);
        }
        if (c->n)
            situ_coll_drop_pages(c);
        situ_roads_closures_set_roads(cl, g, ids, n, closed);
    }
    free(ids);
    *out_c = cl;
    return 0;
}

int situ_roads_targets_of(const situ_roads_graph *g, const situ_roads_closures *cl,
                          const situ_coll *points, double max_snap_m, situ_roads_targets **out_t,
                          situ_err *err)
{
    double *lonlat = malloc(2 * (points->n ? points->n : 1) * sizeof *lonlat);
    if (!lonlat)
        return situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
    for (size_t i = 0; i < points->n; i++) {
        const situ_feature *f = &points->feats[points->by_id[i]];
        lonlat[2 * i] = f->x, lonlat[2 * i + 1] = f->y;
    }
    int rc = situ_roads_targets_new(g, cl, lonlat, points->n, max_snap_m, out_t, err);
    free(lonlat);
    return rc;
}

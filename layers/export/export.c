/*
 * export.c: streamed GeoJSON exports (see situ/export.h). An export is a
 * cursor over (collection, feature index) pairs: for a collection, its
 * matching features; for a drill bundle, per township its polygon, then each
 * of the four maps' township range, then the active alerts that meet it.
 *
 *   HEAD (collection header) -> FEATURES (cursor advances) -> TAIL -> DONE
 */
#include "situ/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/geojson.h"
#include "situ/summary.h"

#include "export_gdal.h"

#define PIECE_BYTES (64 * 1024)
#define MAX_DRILL 256

enum { HEAD, FEATURES, TAIL, DONE };

static const int drill_order[] = {SITU_C_TOWNSHIPS,      SITU_C_RISK_ZONES, SITU_C_HAZARDS,
                                  SITU_C_HAZARD_SOURCES, SITU_C_RESOURCES,  SITU_C_ALERTS};
#define NDRILL (int)(sizeof drill_order / sizeof drill_order[0])

struct situ_export {
    situ_snapshot *snap;
    situ_query q;
    int drill;
    char codes[MAX_DRILL][16];
    int ncodes;
    char now[32];
    int state;
    int town;     /* drill: current township */
    int coll;     /* current collection */
    size_t pos;   /* next feature index to look at */
    size_t end;   /* end of the current range */
    size_t count; /* features written */
    int items_as_columns;
    const char *layers[NDRILL + 1]; /* drill: its collections' ids, NULL-ended */
};

const char *const *situ__export_drill_layers(const situ_export *e)
{
    return e->drill ? e->layers : NULL;
}

int situ_export_collection_new(situ_snapshot *snap, const situ_query *q, situ_export **out,
                               situ_err *err)
{
    situ_export *e = calloc(1, sizeof *e);
    if (!e)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    e->snap = situ_snapshot_retain(snap);
    e->q = *q;
    e->coll = (int)q->c->cid;
    e->end = snap->colls[e->coll]->n;
    for (int i = 0; i < q->nfilters; i++) /* filter values point into q itself */
        if (q->filters[i].v.type == SITU_FT_TEXT)
            e->q.filters[i].v.u.s = e->q.filters[i].text;
    *out = e;
    return 0;
}

int situ_export_drill_new(situ_snapshot *snap, const char *const *codes, int n, const char *now,
                          situ_export **out, situ_err *err)
{
    if (n < 1 || n > MAX_DRILL)
        return situ_err_set(err, SITU_EINVAL, "townships: give 1 to %d codes", MAX_DRILL);
    for (int i = 0; i < n; i++)
        if (strlen(codes[i]) >= 16 || !situ_snapshot_township(snap, codes[i]))
            return situ_err_set(err, SITU_ENOTFOUND, "townships: no township '%.40s'", codes[i]);
    situ_export *e = calloc(1, sizeof *e);
    if (!e)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    e->snap = situ_snapshot_retain(snap);
    e->drill = 1;
    for (int k = 0; k < NDRILL; k++)
        e->layers[k] = situ_schema_collection(drill_order[k])->id;
    e->ncodes = n;
    for (int i = 0; i < n; i++)
        snprintf(e->codes[i], sizeof e->codes[i], "%s", codes[i]);
    snprintf(e->now, sizeof e->now, "%s", now);
    e->coll = -1; /* advance() opens the first range */
    *out = e;
    return 0;
}

void situ_export_free(situ_export *e)
{
    if (!e)
        return;
    situ_snapshot_release(e->snap);
    free(e);
}

void situ_export_items_as_columns(situ_export *e)
{
    e->items_as_columns = 1;
}

size_t situ_export_count(const situ_export *e)
{
    return e->count;
}

static const char *data_updated_at(const situ_snapshot *s)
{
    const char *best = "";
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (strcmp(s->colls[i]->updated_max, best) > 0)
            best = s->colls[i]->updated_max;
    return best;
}

static void write_head(situ_export *e, situ_buf *b)
{
    char now[32];
    situ_store_now(now);
    situ_buf_adds(b, "{\"type\":\"FeatureCollection\",\"name\":");
    situ_buf_add_json_str(b, e->drill ? "drill" : e->q.c->id);
    situ_buf_printf(b, ",\"generated_at\":\"%s\",\"data_updated_at\":", now);
    situ_buf_add_json_str(b, data_updated_at(e->snap));
    if (e->drill) {
        situ_buf_adds(b, ",\"townships\":[");
        for (int i = 0; i < e->ncodes; i++) {
            if (i)
                situ_buf_addc(b, ',');
            situ_buf_add_json_str(b, e->codes[i]);
        }
        situ_buf_addc(b, ']');
    }
    situ_buf_adds(b, ",\"features\":[\n");
}

/* Drill: moves to the next non-exhausted (township, collection) range;
 * returns 0 when every township is done. */
static int drill_advance(situ_export *e)
{
    while (e->pos >= e->end) {
        int k = 0;
        while (k < NDRILL && drill_order[k] != e->coll)
            k++;
        if (e->coll < 0 || k + 1 >= NDRILL) {
            if (e->coll >= 0)
                e->town++;
            if (e->town >= e->ncodes)
                return 0;
            k = -1;
        }
        e->coll = drill_order[k + 1];
        const situ_coll *c = e->snap->colls[e->coll];
        if (e->coll == SITU_C_TOWNSHIPS) {
            long i = situ_coll_find(c, e->codes[e->town]);
            e->pos = (size_t)i, e->end = (size_t)i + 1;
        } else if (e->coll == SITU_C_ALERTS) {
            e->pos = 0, e->end = c->n;
        } else {
            situ_coll_township_range(c, e->codes[e->town], &e->pos, &e->end);
        }
    }
    return 1;
}

static int drill_wants(situ_export *e, const situ_coll *c, const situ_feature *f)
{
    if (e->coll != SITU_C_ALERTS)
        return 1;
    const situ_coll *t = e->snap->colls[SITU_C_TOWNSHIPS];
    const situ_feature *town = situ_snapshot_township(e->snap, e->codes[e->town]);
    return situ_alert_active(c, f, e->now) &&
           (!strcmp(f->township_code, town->id) || situ_polygons_meet(c, f, t, town));
}

static int wants(situ_export *e, const situ_coll *c, const situ_feature *f)
{
    return e->drill ? drill_wants(e, c, f) : situ_query_match(&e->q, c, f);
}

static void write_features(situ_export *e, situ_buf *b)
{
    situ_geojson_opts o = {.decimals = 7,
                           .with_collection = e->drill,
                           .snap = e->snap,
                           .items_as_columns = e->items_as_columns};
    size_t start = b->n;
    while (b->n - start < PIECE_BYTES) {
        if (e->drill ? !drill_advance(e) : e->pos >= e->end) {
            e->state = TAIL;
            return;
        }
        const situ_coll *c = e->snap->colls[e->coll];
        const situ_feature *f = &c->feats[e->pos++];
        if (!wants(e, c, f))
            continue;
        if (e->count++)
            situ_buf_adds(b, ",\n");
        situ_geojson_feature(b, c, f, &o);
    }
}

int situ_export_next(situ_export *e, situ_buf *b)
{
    switch (e->state) {
    case HEAD:
        write_head(e, b);
        e->state = FEATURES;
        return 1;
    case FEATURES:
        write_features(e, b);
        return 1;
    case TAIL:
        situ_buf_printf(b, "\n],\"numberMatched\":%zu}\n", e->count);
        e->state = DONE;
        return 0;
    default:
        return 0;
    }
}

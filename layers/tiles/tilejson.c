/*
 * tilejson.c: TileJSON 3.0.0 documents (see situ/tilejson.h). Owns naming
 * the layers' fields and types (from tile.c's key table, so the document and
 * the tiles cannot disagree), bounds and centre, and the plain-language and
 * machine-readable description of the low-zoom rules (tiny polygons as
 * points, clustering). Entry point: situ_tilejson_write.
 */
#include "situ/tilejson.h"

#include <math.h>
#include <string.h>

#include "situ/admin.h"
#include "tile_private.h"

typedef struct fields_ctx {
    situ_buf *b;
    int n;
    int cluster_only; /* 1: list the cluster-only keys, 0: the others */
} fields_ctx;

static void add_field(void *ctx, const char *key, const char *type, int cluster_only)
{
    fields_ctx *f = ctx;
    if (cluster_only != f->cluster_only)
        return;
    situ_buf_adds(f->b, f->n++ ? "," : "");
    situ_buf_add_json_str(f->b, key);
    situ_buf_addc(f->b, ':');
    situ_buf_add_json_str(f->b, type);
}

/* The clustering member of a layer (null when its points never cluster). */
static void write_clustering(situ_buf *b, const situ_collection *c, const situ_tile_opts *o)
{
    int maxz = o->cluster_maxzoom[c->cid];
    situ_buf_adds(b, ",\"clustering\":");
    if (maxz < 0 || !o->cluster_cell) {
        situ_buf_adds(b, "null");
        return;
    }
    int poly = c->gtype == SITU_GT_MULTIPOLYGON;
    situ_buf_printf(b, "{\"maxzoom\":%d,\"cell\":%u,\"more_than\":%u", maxz, o->cluster_cell,
                    poly ? o->cluster_polygon_more_than : o->cluster_more_than);
    if (o->aggregate_below > 0)
        situ_buf_printf(b, ",\"aggregate_below\":%d,\"aggregate_cell\":%u", o->aggregate_below,
                        o->aggregate_cell);
    if (o->aggregate_below > 0 && c->cid == SITU_C_HAZARDS)
        situ_buf_printf(b, ",\"urgent_from\":%d,\"urgent_mark_cell\":%u", o->urgent_from,
                        o->urgent_mark_cell);
    if (poly) {
        situ_buf_adds(b, ",\"polygons_under\":");
        situ_buf_add_num(b, o->cluster_polygon, 3);
    }
    situ_buf_adds(b, ",\"fields\":{");
    fields_ctx f = {b, 0, 1};
    situ_tile_fields(c, add_field, &f);
    situ_buf_adds(b, "}}");
}

/* The hazards' low-zoom rule for the overdue hidden dangers (tile.c,
 * tile_urgent.c). */
static void write_urgent_rule(situ_buf *b, const situ_tile_opts *o)
{
    situ_buf_printf(b,
                    ", except from zoom %d a hidden danger past its deadline and not "
                    "rectified, which stays itself with id, level, status and deadline",
                    o->urgent_from);
    if (!o->urgent_mark_cell || o->extent % o->urgent_mark_cell) {
        situ_buf_printf(b, " (below zoom %d the aggregates' overdue counts them)", o->urgent_from);
        return;
    }
    situ_buf_printf(b,
                    ". Below zoom %d the aggregates count them (overdue) and each is also in "
                    "one urgent mark drawn on top: those whose points fall in one %ux%u-unit "
                    "square are one Point without cluster, with urgent=n (how many it stands "
                    "for) at their mean; a mark of one also has its id (a property: marks "
                    "have no feature id). Each is in exactly one mark, in one tile (a "
                    "neighbour's buffer may repeat it)",
                    o->urgent_from, o->urgent_mark_cell, o->urgent_mark_cell);
}

void situ_tilejson_layer_description(situ_buf *b, const situ_collection *c, const situ_tile_opts *o)
{
    situ_tile_opts def;
    if (!o)
        situ_tile_opts_default(&def), o = &def;
    int maxz = o->cluster_maxzoom[c->cid];
    situ_buf printed;
    situ_buf_init(&printed);
    situ_buf_adds(&printed, c->description);
    if (c->gtype == SITU_GT_MULTIPOLYGON) {
        situ_buf_printf(&printed, ". A polygon under ");
        situ_buf_add_num(&printed, o->tiny, 2);
        situ_buf_printf(&printed, " tile units across, or whose rings all collapse at a zoom, "
                                  "is written as a Point at its interior point");
    }
    if (c->gtype == SITU_GT_MULTILINESTRING) {
        situ_buf_adds(&printed, ". Lines are clipped to the tile and its buffer (a line that "
                                "leaves and comes back is several parts) and simplified per zoom");
        situ__tile_minzoom_text(c, &printed);
    }
    if (maxz >= 0 && o->cluster_cell && c->gtype == SITU_GT_MULTIPOLYGON) {
        situ_buf_printf(&printed,
                        ". Up to zoom %d, polygons under %.0f units across whose %ux%u-unit cell "
                        "holds more than %u of them become one Point",
                        maxz, o->cluster_polygon, o->cluster_cell, o->cluster_cell,
                        o->cluster_polygon_more_than);
    } else if (maxz >= 0 && o->cluster_cell) {
        situ_buf_printf(&printed,
                        ". Up to zoom %d, a %ux%u-unit cell holding more than %u points becomes "
                        "one Point",
                        maxz, o->cluster_cell, o->cluster_cell, o->cluster_more_than);
    }
    if (maxz >= 0 && o->cluster_cell)
        situ_buf_adds(&printed, " with cluster=true, point_count, ids (the first 8 ids) and the "
                                "aggregates listed in clustering.fields; every other feature is "
                                "itself and nothing is dropped");
    if (maxz >= 0 && o->aggregate_below > 0)
        situ_buf_printf(&printed,
                        ". Below zoom %d every feature folds into the aggregate of its %ux%u-unit "
                        "cell (the same fields, no ids)",
                        o->aggregate_below, o->aggregate_cell, o->aggregate_cell);
    if (maxz >= 0 && o->aggregate_below > 0 && c->cid == SITU_C_HAZARDS)
        write_urgent_rule(&printed, o);
    situ_buf_add_json_str(b, printed.p ? printed.p : "");
    situ_buf_dispose(&printed);
}

/* Layer c, carried from zoom minz to maxz. */
static void write_layer(situ_buf *b, const situ_collection *c, const situ_tile_opts *o, int minz,
                        int maxz)
{
    situ_buf_adds(b, "{\"id\":");
    situ_buf_add_json_str(b, c->id);
    situ_buf_adds(b, ",\"description\":");
    situ_tilejson_layer_description(b, c, o);
    situ_buf_printf(b, ",\"minzoom\":%d,\"maxzoom\":%d,\"geometry_type\":\"%s\",\"fields\":{", minz,
                    maxz,
                    c->gtype == SITU_GT_POINT             ? "point"
                    : c->gtype == SITU_GT_MULTILINESTRING ? "line"
                                                          : "polygon");
    fields_ctx f = {b, 0, 0};
    situ_tile_fields(c, add_field, &f);
    f.cluster_only = 1;
    if (o->cluster_maxzoom[c->cid] >= 0)
        situ_tile_fields(c, add_field, &f);
    situ_buf_addc(b, '}');
    write_clustering(b, c, o);
    situ_buf_addc(b, '}');
}

/* The provinces' and counties' layers, which stand for the townships below
 * o->county_below (tile.h); *minz becomes the townships' own lowest zoom. */
static void write_admin_layers(situ_buf *b, const situ_tile_opts *o, int *minz)
{
    int from = *minz, to[2] = {o->county_below - 1, o->province_below - 1};
    for (int level = SITU_ADMIN_NLEVELS - 1; level >= 0; level--) {
        int lo = level == SITU_ADMIN_PROVINCE
                     ? from
                     : (o->province_below > from ? o->province_below : from);
        if (to[level] < lo)
            continue;
        write_layer(b, situ_admin_collection((situ_admin_level)level), o, lo, to[level]);
        situ_buf_addc(b, ',');
    }
    *minz = o->county_below > from ? o->county_below : from;
}

int situ_tileset_bounds(const situ_snapshot *snap, int set, double out[4])
{
    int any = 0;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        const situ_coll *c = snap->colls[i];
        if ((set != SITU_TILESET_ALL && set != i) || !c || !c->n)
            continue;
        if (!any)
            memcpy(out, c->extent, 4 * sizeof *out);
        out[0] = fmin(out[0], c->extent[0]), out[1] = fmin(out[1], c->extent[1]);
        out[2] = fmax(out[2], c->extent[2]), out[3] = fmax(out[3], c->extent[3]);
        any = 1;
    }
    return any;
}

static void write_extent(situ_buf *b, const situ_snapshot *snap, int set)
{
    double e[4] = {-180, -85.051129, 180, 85.051129};
    int any = situ_tileset_bounds(snap, set, e), zoom = 0;
    if (any) {
        double w = fmax(e[2] - e[0], e[3] - e[1]);
        zoom = w > 0 ? (int)floor(log2(360.0 / w)) + 1 : SITU_TILE_MAXZOOM;
        zoom = zoom < 0 ? 0 : zoom > SITU_TILE_MAXZOOM ? SITU_TILE_MAXZOOM : zoom;
    }
    situ_buf_adds(b, ",\"bounds\":[");
    for (int i = 0; i < 4; i++) {
        situ_buf_adds(b, i ? "," : "");
        situ_buf_add_num(b, e[i], 6);
    }
    situ_buf_adds(b, "],\"center\":[");
    situ_buf_add_num(b, any ? (e[0] + e[2]) / 2 : 0, 6);
    situ_buf_addc(b, ',');
    situ_buf_add_num(b, any ? (e[1] + e[3]) / 2 : 0, 6);
    situ_buf_printf(b, ",%d]", zoom);
}

int situ_tilejson_write(situ_buf *out, const situ_snapshot *snap, const char *set_name,
                        const char *base_url, const situ_tile_opts *o, situ_err *err)
{
    situ_tile_opts def;
    int set, rc;
    if ((rc = situ_tile_set_parse(set_name, &set, err)))
        return rc;
    if (!o)
        situ_tile_opts_default(&def), o = &def;
    const situ_collection *one =
        set == SITU_TILESET_ALL ? NULL : situ_schema_collection((situ_coll_id)set);
    int minz = SITU_TILE_MAXZOOM;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (set == SITU_TILESET_ALL || set == i)
            minz = o->minzoom[i] < minz ? (o->minzoom[i] > 0 ? o->minzoom[i] : 0) : minz;
    situ_buf_adds(out, "{\"tilejson\":\"3.0.0\",\"name\":");
    situ_buf_add_json_str(out, one ? one->title_en : "situ: all collections");
    situ_buf_adds(out, ",\"description\":");
    situ_buf_add_json_str(out, one ? one->title_zh
                                   : "一网四图: one layer per collection, named by its id");
    situ_buf url;
    situ_buf_init(&url);
    situ_buf_printf(&url, "%s/tiles/%s/{z}/{x}/{y}.mvt", base_url ? base_url : "",
                    one ? one->id : "all");
    situ_buf_adds(out, ",\"version\":\"1.0.0\",\"scheme\":\"xyz\",\"tiles\":[");
    situ_buf_add_json_str(out, url.p ? url.p : "");
    situ_buf_dispose(&url);
    situ_buf_printf(out, "],\"minzoom\":%d,\"maxzoom\":%d", minz, SITU_TILE_MAXZOOM);
    write_extent(out, snap, set);
    situ_buf_printf(out, ",\"extent\":%u,\"buffer\":%u,\"vector_layers\":[", o->extent, o->buffer);
    for (int i = 0, n = 0; i < SITU_NCOLLECTIONS; i++) {
        if (set != SITU_TILESET_ALL && set != i)
            continue;
        situ_buf_adds(out, n++ ? "," : "");
        int from = o->minzoom[i] > 0 ? o->minzoom[i] : 0;
        if (i == SITU_C_TOWNSHIPS)
            write_admin_layers(out, o, &from);
        write_layer(out, situ_schema_collection((situ_coll_id)i), o, from, SITU_TILE_MAXZOOM);
    }
    situ_buf_adds(out, "]}");
    return out->oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0;
}

/*
 * geojson.c: GeoJSON text for snapshot features (see situ/geojson.h). The
 * snapshot already holds rings closed and oriented for RFC 7946, so writing
 * is one pass over the flat coordinate arrays.
 */
#include "situ/geojson.h"

#include <string.h>

static int decimals_of(const situ_geojson_opts *o)
{
    return o && o->decimals > 0 ? o->decimals : 7;
}

static void add_position(situ_buf *b, double x, double y, const situ_geojson_opts *o)
{
    if (o && o->xform)
        o->xform(o->xform_ctx, &x, &y);
    situ_buf_addc(b, '[');
    situ_buf_add_num(b, x, decimals_of(o));
    situ_buf_addc(b, ',');
    situ_buf_add_num(b, y, decimals_of(o));
    situ_buf_addc(b, ']');
}

static void add_ring(situ_buf *b, const situ_coll *c, const situ_ring *ring,
                     const situ_geojson_opts *o)
{
    const double *xy = c->xy + 2 * (size_t)ring->off;
    situ_buf_addc(b, '[');
    for (uint32_t i = 0; i < ring->n; i++) {
        if (i)
            situ_buf_addc(b, ',');
        add_position(b, xy[2 * i], xy[2 * i + 1], o);
    }
    situ_buf_addc(b, ']');
}

static void add_polygon(situ_buf *b, const situ_coll *c, const situ_poly *p,
                        const situ_geojson_opts *o)
{
    situ_buf_addc(b, '[');
    for (uint32_t r = p->ring0; r < p->ring0 + p->nrings; r++) {
        if (r > p->ring0)
            situ_buf_addc(b, ',');
        add_ring(b, c, &c->rings[r], o);
    }
    situ_buf_addc(b, ']');
}

/* A line collection is always a MultiLineString (one part or many), as a
 * polygon collection is always a MultiPolygon: one schema per collection. */
void situ_geojson_geometry(situ_buf *b, const situ_coll *c, const situ_feature *f,
                           const situ_geojson_opts *o)
{
    int lines = c->c->gtype == SITU_GT_MULTILINESTRING;
    if (c->c->gtype == SITU_GT_POINT) {
        situ_buf_adds(b, "{\"type\":\"Point\",\"coordinates\":");
        add_position(b, f->x, f->y, o);
        situ_buf_addc(b, '}');
        return;
    }
    situ_buf_adds(b, lines ? "{\"type\":\"MultiLineString\",\"coordinates\":["
                           : "{\"type\":\"MultiPolygon\",\"coordinates\":[");
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        if (p > f->poly0)
            situ_buf_addc(b, ',');
        if (lines) /* a part is a poly of one ring, the open line */
            add_ring(b, c, &c->rings[c->polys[p].ring0], o);
        else
            add_polygon(b, c, &c->polys[p], o);
    }
    situ_buf_adds(b, "]}");
}

void situ_geojson_value(situ_buf *b, const situ_field *fd, const situ_value *v)
{
    switch (v->type) {
    case SITU_FT_TEXT:
        situ_buf_add_json_str(b, v->u.s);
        break;
    case SITU_FT_INT:
        situ_buf_printf(b, "%lld", v->u.i);
        break;
    case SITU_FT_BOOL:
        situ_buf_adds(b, v->u.i ? "true" : "false");
        break;
    case SITU_FT_REAL:
        situ_buf_add_num(b, v->u.d, 6);
        break;
    default:
        situ_buf_adds(b, "null");
    }
    (void)fd;
}

static void add_items(situ_buf *b, const situ_coll *c, const situ_feature *f)
{
    situ_buf_adds(b, ",\"items\":[");
    for (uint32_t i = 0; i < f->nheld; i++) {
        const situ_held *h = &c->held[f->held0 + i];
        const situ_item *it = situ_schema_item(h->item);
        if (i)
            situ_buf_addc(b, ',');
        situ_buf_adds(b, "{\"item\":");
        situ_buf_add_json_str(b, it->code);
        situ_buf_adds(b, ",\"name\":");
        situ_buf_add_json_str(b, it->name_zh);
        situ_buf_adds(b, ",\"qty\":");
        situ_buf_add_num(b, h->quantity, 3);
        situ_buf_adds(b, ",\"unit\":");
        situ_buf_add_json_str(b, h->unit ? h->unit : it->unit);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
}

/* Appends one "<item name>": quantity member per item held. */
static void add_item_columns(situ_buf *b, const situ_coll *c, const situ_feature *f)
{
    for (uint32_t i = 0; i < f->nheld; i++) {
        const situ_held *h = &c->held[f->held0 + i];
        situ_buf_addc(b, ',');
        situ_buf_add_json_str(b, situ_schema_item(h->item)->name_zh);
        situ_buf_addc(b, ':');
        situ_buf_add_num(b, h->quantity, 3);
    }
}

/* Appends the members of the extra JSON object (already valid JSON text). */
static void add_extra(situ_buf *b, const char *extra)
{
    const char *open = strchr(extra, '{'), *close = strrchr(extra, '}');
    if (!open || !close || close <= open)
        return;
    const char *p = open + 1;
    while (p < close && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
        p++;
    if (p == close)
        return;
    situ_buf_addc(b, ',');
    situ_buf_add(b, p, (size_t)(close - p));
}

void situ_geojson_properties_members(situ_buf *b, const situ_coll *c, const situ_feature *f,
                                     const situ_geojson_opts *o)
{
    situ_buf_adds(b, "\"township_code\":");
    situ_buf_add_json_str(b, f->township_code);
    if (o && o->snap) {
        const char *name = situ_snapshot_township_name(o->snap, f->township_code);
        situ_buf_adds(b, ",\"township_name\":");
        if (name)
            situ_buf_add_json_str(b, name);
        else
            situ_buf_adds(b, "null");
    }
    if (o && o->with_collection) {
        situ_buf_adds(b, ",\"collection\":");
        situ_buf_add_json_str(b, c->c->id);
    }
    for (int i = 0; i < c->c->nfields; i++) {
        if (!f->values[i].type)
            continue;
        situ_buf_addc(b, ',');
        situ_buf_add_json_str(b, c->c->fields[i].name);
        situ_buf_addc(b, ':');
        situ_geojson_value(b, &c->c->fields[i], &f->values[i]);
    }
    if (c->c->cid == SITU_C_RESOURCES && o && o->items_as_columns)
        add_item_columns(b, c, f);
    else if (c->c->cid == SITU_C_RESOURCES)
        add_items(b, c, f);
    if (f->extra)
        add_extra(b, f->extra);
    if (f->updated_at) {
        situ_buf_adds(b, ",\"updated_at\":");
        situ_buf_add_json_str(b, f->updated_at);
    }
}

void situ_geojson_feature(situ_buf *b, const situ_coll *c, const situ_feature *f,
                          const situ_geojson_opts *o)
{
    situ_buf_adds(b, "{\"type\":\"Feature\",\"id\":");
    situ_buf_add_json_str(b, f->id);
    situ_buf_adds(b, ",\"geometry\":");
    situ_geojson_geometry(b, c, f, o);
    situ_buf_adds(b, ",\"properties\":{");
    situ_geojson_properties_members(b, c, f, o);
    situ_buf_adds(b, "}}");
}

/*
 * demo_gen.c: what every demo generator shares. Owns the feature record
 * (values set by schema field name, text kept in the record's buffer), ids
 * and township codes per copy, moving a copy's geometry to its place on the
 * grid, the {token} templates of names, and the townships collection. The
 * four maps and the stations are in demo_maps.c and demo_assets.c.
 */
#include "demo_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the record ------------------------------------------------------------ */

void situ__demo_feat_reset(situ__demo_feat *f, const situ_collection *coll)
{
    if (f->geom)
        OGR_G_DestroyGeometry(f->geom);
    f->coll = coll;
    f->id[0] = f->township_code[0] = '\0';
    memset(f->v, 0, sizeof f->v);
    f->items_json = NULL;
    f->geom = NULL;
    f->bad_field = NULL;
    f->nbuf = 0;
}

const char *situ__demo_feat_printf(situ__demo_feat *f, const char *fmt, ...)
{
    char *p = f->buf + f->nbuf;
    size_t room = sizeof f->buf - f->nbuf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        f->bad_field = "(text longer than the record buffer)";
        n = room > 0 ? (int)room - 1 : 0;
    }
    f->nbuf += (size_t)n + (room > 0);
    return p;
}

static int field_index(situ__demo_feat *f, const char *field)
{
    int i = situ_schema_field_index(f->coll, field);
    if (i < 0 || i >= SITU_DEMO_MAX_FIELDS)
        f->bad_field = field;
    return i < SITU_DEMO_MAX_FIELDS ? i : -1;
}

void situ__demo_feat_text(situ__demo_feat *f, const char *field, const char *s)
{
    int i = field_index(f, field);
    if (i >= 0 && s)
        f->v[i] = (situ_value){SITU_FT_TEXT, {.s = situ__demo_feat_printf(f, "%s", s)}};
}

void situ__demo_feat_int(situ__demo_feat *f, const char *field, long long v)
{
    int i = field_index(f, field);
    if (i >= 0)
        f->v[i] = (situ_value){SITU_FT_INT, {.i = v}};
}

void situ__demo_feat_real(situ__demo_feat *f, const char *field, double d, int decimals)
{
    int i = field_index(f, field);
    double k = pow(10, decimals);
    if (i >= 0)
        f->v[i] = (situ_value){SITU_FT_REAL, {.d = nearbyint(d * k) / k}};
}

void situ__demo_feat_bool(situ__demo_feat *f, const char *field, int b)
{
    int i = field_index(f, field);
    if (i >= 0)
        f->v[i] = (situ_value){SITU_FT_BOOL, {.i = b != 0}};
}

/* ---- ids, geometry, emit ------------------------------------------------------ */

void situ__demo_gen_begin(situ__demo_gen *g, situ_coll_id cid)
{
    situ__demo_rng_init(&g->rng, g->seed, 100 + (uint64_t)cid, (uint64_t)g->copy);
    g->seq = 0;
    g->river = -1;
    if (cid == SITU_C_RESOURCES)
        g->npts = 0;
    situ__demo_feat_reset(&g->feat, situ_schema_collection(cid));
}

void situ__demo_gen_new(situ__demo_gen *g, const char *prefix, int t)
{
    situ__demo_feat *f = &g->feat;
    situ__demo_feat_reset(f, f->coll);
    g->seq++;
    if (g->copy == 0)
        snprintf(f->id, sizeof f->id, "%s-%06lld", prefix, g->seq);
    else
        snprintf(f->id, sizeof f->id, "%s-%03d-%06lld", prefix, g->copy, g->seq);
    if (t >= 0)
        snprintf(f->township_code, sizeof f->township_code, "%s", g->tcode[t]);
}

void situ__demo_gen_point(situ__demo_gen *g, double lon, double lat)
{
    g->feat.geom = OGR_G_CreateGeometry(wkbPoint);
    OGR_G_SetPoint_2D(g->feat.geom, 0, lon, lat);
}

void situ__demo_gen_polygon(situ__demo_gen *g, const double *lon, const double *lat, int n)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    for (int i = 0; i < n; i++)
        OGR_G_AddPoint_2D(ring, lon[i], lat[i]);
    OGR_G_AddPoint_2D(ring, lon[0], lat[0]);
    OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(poly, ring);
    g->feat.geom = OGR_G_CreateGeometry(wkbMultiPolygon);
    OGR_G_AddGeometryDirectly(g->feat.geom, poly);
}

void situ__demo_gen_line(situ__demo_gen *g, const double *lon, const double *lat, int n)
{
    OGRGeometryH line = OGR_G_CreateGeometry(wkbLineString);
    OGR_G_SetPointCount(line, n);
    for (int i = 0; i < n; i++)
        OGR_G_SetPoint_2D(line, i, lon[i], lat[i]);
    g->feat.geom = OGR_G_CreateGeometry(wkbMultiLineString);
    OGR_G_AddGeometryDirectly(g->feat.geom, line);
}

/* Keeps a resource's point (base frame) for the roads of the copy. */
static int keep_point(situ__demo_gen *g, OGRGeometryH geom)
{
    if (g->npts == g->cappts) {
        int cap = g->cappts ? 2 * g->cappts : 256;
        double *p = realloc(g->pts, (size_t)cap * 2 * sizeof *p);
        if (!p)
            return SITU_ENOMEM;
        g->pts = p, g->cappts = cap;
    }
    g->pts[2 * g->npts] = OGR_G_GetX(geom, 0);
    g->pts[2 * g->npts++ + 1] = OGR_G_GetY(geom, 0);
    return 0;
}

/* Moves every vertex by (dx, dy), back onto the 1e-7 grid. */
static void shift(OGRGeometryH geom, double dx, double dy)
{
    int parts = OGR_G_GetGeometryCount(geom);
    for (int i = 0; i < parts; i++)
        shift(OGR_G_GetGeometryRef(geom, i), dx, dy);
    if (parts > 0)
        return;
    for (int i = 0; i < OGR_G_GetPointCount(geom); i++)
        OGR_G_SetPoint_2D(geom, i, situ__demo_snap(OGR_G_GetX(geom, i) + dx),
                          situ__demo_snap(OGR_G_GetY(geom, i) + dy));
}

int situ__demo_gen_emit(situ__demo_gen *g, situ_err *err)
{
    situ__demo_feat *f = &g->feat;
    if (f->bad_field)
        return situ_err_set(err, SITU_EINVAL, "demo: %s %s: no field %s in the schema", f->coll->id,
                            f->id, f->bad_field);
    if (f->coll->cid == SITU_C_RESOURCES && f->geom && keep_point(g, f->geom))
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (g->copy && f->geom)
        shift(f->geom, g->dx, g->dy);
    int rc = situ__demo_out_write(g->out, f, err);
    if (!rc)
        g->count[f->coll->cid]++;
    return rc;
}

/* ---- templates ------------------------------------------------------------------- */

/* The words a template's {tokens} stand for, for township t. */
typedef void (*token_fn)(situ__demo_gen *g, int t, char *out, size_t n);

static const situ__demo_county *county_of(situ__demo_gen *g, int t)
{
    return &g->city->counties[g->city->townships[t].county];
}
static void tok_county(situ__demo_gen *g, int t, char *out, size_t n)
{
    snprintf(out, n, "%s", county_of(g, t)->name);
}
static void tok_short(situ__demo_gen *g, int t, char *out, size_t n)
{
    snprintf(out, n, "%s", county_of(g, t)->short_name);
}
static void tok_town(situ__demo_gen *g, int t, char *out, size_t n)
{
    snprintf(out, n, "%s", g->city->townships[t].name);
}
static void tok_river(situ__demo_gen *g, int t, char *out, size_t n)
{
    (void)t;
    snprintf(out, n, "%s", g->river >= 0 ? g->city->rivers[g->river].name : "");
}
static void tok_village(situ__demo_gen *g, int t, char *out, size_t n)
{
    (void)t;
    situ__demo_village(&g->rng, out, n);
}
static void tok_brand(situ__demo_gen *g, int t, char *out, size_t n)
{
    (void)t;
    situ__demo_brand(&g->rng, out, n);
}
static void tok_road(situ__demo_gen *g, int t, char *out, size_t n)
{
    (void)t;
    situ__demo_road(&g->rng, out, n);
}
static void tok_number(situ__demo_gen *g, int t, char *out, size_t n) /* a house number */
{
    (void)t;
    snprintf(out, n, "%d", situ__demo_rng_int(&g->rng, 1, 199));
}
static void tok_ordinal(situ__demo_gen *g, int t, char *out, size_t n) /* 第k中学 */
{
    (void)t;
    snprintf(out, n, "%d", situ__demo_rng_int(&g->rng, 1, 9));
}

static const struct {
    const char *name;
    token_fn fn;
} tokens[] = {
    {"county", tok_county}, {"short", tok_short},     {"town", tok_town},
    {"river", tok_river},   {"village", tok_village}, {"brand", tok_brand},
    {"road", tok_road},     {"n", tok_number},        {"k", tok_ordinal},
};

static void token(situ__demo_gen *g, const char *name, size_t len, int t, char *out, size_t n)
{
    out[0] = '\0';
    for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
        if (strlen(tokens[i].name) == len && strncmp(tokens[i].name, name, len) == 0) {
            tokens[i].fn(g, t, out, n);
            return;
        }
}

/* One of the "|"-separated alternatives of tmpl, at random: [*out, end). */
static const char *alternative(situ__demo_gen *g, const char *tmpl, const char **end)
{
    int n = 1;
    for (const char *p = tmpl; *p; p++)
        n += *p == '|';
    int k = situ__demo_rng_int(&g->rng, 0, n - 1);
    while (k-- > 0)
        tmpl = strchr(tmpl, '|') + 1;
    *end = strchr(tmpl, '|');
    if (!*end)
        *end = tmpl + strlen(tmpl);
    return tmpl;
}

const char *situ__demo_gen_expand(situ__demo_gen *g, const char *tmpl, int t)
{
    char buf[1024], word[128];
    size_t n = 0;
    const char *end;
    tmpl = alternative(g, tmpl, &end);
    for (const char *p = tmpl; p < end && n + 1 < sizeof buf;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close || close > end) {
            buf[n++] = *p++;
            continue;
        }
        token(g, p + 1, (size_t)(close - p - 1), t, word, sizeof word);
        size_t w = strlen(word);
        if (n + w >= sizeof buf)
            break;
        memcpy(buf + n, word, w);
        n += w;
        p = close + 1;
    }
    buf[n] = '\0';
    return situ__demo_feat_printf(&g->feat, "%s", buf);
}

/* ---- townships ---------------------------------------------------------------------- */

static OGRGeometryH to_ogr(GEOSContextHandle_t gh, const GEOSGeometry *geom)
{
    GEOSWKBWriter *w = GEOSWKBWriter_create_r(gh);
    size_t n = 0;
    unsigned char *wkb = w ? GEOSWKBWriter_write_r(gh, w, geom, &n) : NULL;
    OGRGeometryH og = NULL;
    if (wkb && OGR_G_CreateFromWkbEx(wkb, NULL, &og, n) != OGRERR_NONE)
        og = NULL;
    GEOSFree_r(gh, wkb);
    GEOSWKBWriter_destroy_r(gh, w);
    return og;
}

int situ__demo_gen_townships(situ__demo_gen *g, situ_err *err)
{
    const situ__demo_city *c = g->city;
    situ__demo_feat *f = &g->feat;
    situ__demo_gen_begin(g, SITU_C_TOWNSHIPS);
    for (int i = 0; i < c->ntownships; i++) {
        const situ__demo_township *t = &c->townships[i];
        situ__demo_feat_reset(f, f->coll);
        g->seq++;
        snprintf(f->id, sizeof f->id, "%s", g->tcode[i]);
        snprintf(f->township_code, sizeof f->township_code, "%s", g->tcode[i]);
        situ__demo_feat_text(f, "name", t->name);
        situ__demo_feat_text(f, "county_code", g->ccode[t->county]);
        situ__demo_feat_text(f, "county_name", g->cname[t->county]);
        situ__demo_feat_text(f, "kind", t->kind_name);
        situ__demo_feat_real(f, "area_km2", situ__demo_area_km2(c->gh, t->geom, g->dy), 2);
        situ__demo_feat_int(f, "population", t->population);
        if (!(f->geom = to_ogr(c->gh, t->geom)))
            return situ_err_set(err, SITU_EGEOM, "township %s: no geometry", t->code);
        int rc = situ__demo_gen_emit(g, err);
        if (rc)
            return rc;
    }
    return 0;
}

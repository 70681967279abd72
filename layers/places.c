/*
 * places.c: the base map's named places (situ/places.h). Owns reading them
 * through OGR into one array (texts in one arena), and the search: a linear
 * scan by name part, kind and box, ranked exact > prefix > substring. A
 * scan is enough: the demo has about 3,300 places per city copy, and a
 * query reads each name once (about 8 ms at scale 200's 680,000).
 * Entry points: situ_places_open, situ_places_find, situ_places_free.
 */
#include "situ/places.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

typedef struct place {
    double lon, lat;
    unsigned kind;
    size_t name, township_code, township_name, county_name; /* offsets into text */
} place;

struct situ_places {
    place *v;
    size_t n, cap;
    situ_buf text;
};

static const char *const kind_names[] = {"county_seat", "township_seat", "village"};

unsigned situ_places_kind(const char *name, size_t n)
{
    for (unsigned i = 0; i < 3; i++)
        if (strlen(kind_names[i]) == n && !strncmp(kind_names[i], name, n))
            return 1u << i;
    return 0;
}

static const char *kind_name(unsigned kind)
{
    return kind == SITU_PLACE_COUNTY_SEAT     ? kind_names[0]
           : kind == SITU_PLACE_TOWNSHIP_SEAT ? kind_names[1]
                                              : kind_names[2];
}

size_t situ_places_count(const situ_places *p)
{
    return p ? p->n : 0;
}

void situ_places_free(situ_places *p)
{
    if (!p)
        return;
    free(p->v);
    situ_buf_dispose(&p->text);
    free(p);
}

/* ---- reading ------------------------------------------------------------------ */

static size_t keep_text(situ_places *p, OGRFeatureH f, const char *field)
{
    int i = OGR_F_GetFieldIndex(f, field);
    const char *s = i >= 0 && OGR_F_IsFieldSetAndNotNull(f, i) ? OGR_F_GetFieldAsString(f, i) : "";
    size_t at = p->text.n;
    situ_buf_add(&p->text, s, strlen(s) + 1);
    return at;
}

/* Where the layer's points go: NULL when they are WGS84 lon/lat already. */
static OGRCoordinateTransformationH to_wgs84(OGRLayerH layer)
{
    OGRSpatialReferenceH src = OGR_L_GetSpatialRef(layer), dst = OSRNewSpatialReference(NULL);
    OGRCoordinateTransformationH ct = NULL;
    if (src && dst && OSRImportFromEPSG(dst, 4326) == OGRERR_NONE) {
        OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
        OGRSpatialReferenceH s = OSRClone(src);
        OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
        if (!OSRIsSame(s, dst))
            ct = OCTNewCoordinateTransformation(s, dst);
        OSRRelease(s);
    }
    OSRRelease(dst);
    return ct;
}

static int read_place(situ_places *p, OGRFeatureH f, OGRCoordinateTransformationH ct,
                      const char *path, situ_err *err)
{
    place pl = {0};
    int ki = OGR_F_GetFieldIndex(f, "kind"), ni = OGR_F_GetFieldIndex(f, "name");
    const char *kind = ki >= 0 ? OGR_F_GetFieldAsString(f, ki) : "";
    const char *name = ni >= 0 ? OGR_F_GetFieldAsString(f, ni) : "";
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    pl.kind = situ_places_kind(kind, strlen(kind));
    if (!*name || !situ_utf8_valid(name) || !pl.kind)
        return situ_err_set(
            err, SITU_EFORMAT, "%s: feature %lld: %s", path, (long long)OGR_F_GetFID(f),
            *name ? "kind is not county_seat, township_seat or village" : "no name (or not UTF-8)");
    if (!g || wkbFlatten(OGR_G_GetGeometryType(g)) != wkbPoint || OGR_G_IsEmpty(g) ||
        (ct && OGR_G_Transform(g, ct) != OGRERR_NONE))
        return situ_err_set(err, SITU_EGEOM, "%s: place %s is not a point", path, name);
    pl.lon = OGR_G_GetX(g, 0), pl.lat = OGR_G_GetY(g, 0);
    if (!(pl.lon >= -180 && pl.lon <= 180 && pl.lat >= -90 && pl.lat <= 90))
        return situ_err_set(err, SITU_EGEOM, "%s: place %s is not on the earth", path, name);
    pl.name = keep_text(p, f, "name");
    pl.township_code = keep_text(p, f, "township_code");
    pl.township_name = keep_text(p, f, "township_name");
    pl.county_name = keep_text(p, f, "county_name");
    if (situ_array_grow((void **)&p->v, &p->cap, p->n, 1, sizeof *p->v) || p->text.oom)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    p->v[p->n++] = pl;
    return 0;
}

/* See situ/places.h. GDAL's messages are kept quiet; the last goes to err. */
int situ_places_open(const char *path, situ_places **out_p, situ_err *err)
{
    situ_places *p = calloc(1, sizeof *p);
    if (!p)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    GDALAllRegister();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    OGRLayerH layer = ds ? GDALDatasetGetLayer(ds, 0) : NULL;
    OGRCoordinateTransformationH ct = layer ? to_wgs84(layer) : NULL;
    int rc = layer ? 0
                   : situ_err_set(err, SITU_ENOTFOUND, "cannot read places from %s: %s", path,
                                  CPLGetLastErrorMsg());
    OGRFeatureH f;
    while (!rc && (f = OGR_L_GetNextFeature(layer))) {
        rc = read_place(p, f, ct, path, err);
        OGR_F_Destroy(f);
    }
    if (!rc && !p->n)
        rc = situ_err_set(err, SITU_EFORMAT, "%s: no places", path);
    if (ct)
        OCTDestroyCoordinateTransformation(ct);
    if (ds)
        GDALClose(ds);
    CPLPopErrorHandler();
    if (rc)
        situ_places_free(p);
    else
        *out_p = p;
    return rc;
}

/* ---- searching ---------------------------------------------------------------- */

typedef struct hit {
    size_t i;
    int rank;
} hit;

static int kind_rank(unsigned kind)
{
    return kind == SITU_PLACE_COUNTY_SEAT ? 0 : kind == SITU_PLACE_TOWNSHIP_SEAT ? 1 : 2;
}

static int hit_cmp(const void *a, const void *b)
{
    const hit *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank - y->rank;
    return (x->i > y->i) - (x->i < y->i);
}

/* The rank of place pl under q (lower first), or -1 when it does not match. */
static int rank_of(const situ_places *p, const place *pl, const situ_places_query *q)
{
    if (q->kinds && !(q->kinds & pl->kind))
        return -1;
    const double *b = q->bbox;
    if (b && (pl->lon < b[0] || pl->lat < b[1] || pl->lon > b[2] || pl->lat > b[3]))
        return -1;
    int how = 0;
    if (q->q && *q->q) {
        const char *name = p->text.p + pl->name, *at = strstr(name, q->q);
        if (!at)
            return -1;
        how = !strcmp(name, q->q) ? 0 : at == name ? 1 : 2;
    }
    return how * 3 + kind_rank(pl->kind);
}

static void write_place(const situ_places *p, const place *pl, situ_buf *out)
{
    const char *t = p->text.p;
    situ_buf_adds(out, "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[");
    situ_buf_add_num(out, pl->lon, 7);
    situ_buf_addc(out, ',');
    situ_buf_add_num(out, pl->lat, 7);
    situ_buf_adds(out, "]},\"properties\":{\"name\":");
    situ_buf_add_json_str(out, t + pl->name);
    situ_buf_printf(out, ",\"kind\":\"%s\",\"township_code\":", kind_name(pl->kind));
    situ_buf_add_json_str(out, t + pl->township_code);
    situ_buf_adds(out, ",\"township_name\":");
    situ_buf_add_json_str(out, t + pl->township_name);
    situ_buf_adds(out, ",\"county_name\":");
    situ_buf_add_json_str(out, t + pl->county_name);
    situ_buf_adds(out, "}}");
}

int situ_places_find(const situ_places *p, const situ_places_query *q, situ_buf *out)
{
    hit *h = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; p && i < p->n; i++) {
        int r = rank_of(p, &p->v[i], q);
        if (r < 0)
            continue;
        if (situ_array_grow((void **)&h, &cap, n, 1, sizeof *h)) {
            free(h);
            return SITU_ENOMEM;
        }
        h[n++] = (hit){i, r};
    }
    if (n)
        qsort(h, n, sizeof *h, hit_cmp);
    size_t k = n < q->limit ? n : q->limit;
    situ_buf_printf(out,
                    "{\"type\":\"FeatureCollection\",\"numberMatched\":%zu,"
                    "\"numberReturned\":%zu,\"features\":[",
                    n, k);
    for (size_t i = 0; i < k; i++) {
        if (i)
            situ_buf_addc(out, ',');
        write_place(p, &p->v[h[i].i], out);
    }
    situ_buf_adds(out, "]}");
    free(h);
    return out->oom ? SITU_ENOMEM : 0;
}

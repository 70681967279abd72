/*
 * load_source.c: one OGR source into one collection, inside a transaction
 * the caller (load.c) opened. Owns opening the file with the right open
 * options (CSV lon/lat columns, the Shapefile ENCODING), picking the layer,
 * the transformation to EPSG:4326 in lon/lat order, and the feature loop:
 * fields (load_fields.c), duplicate ids, geometry checks, repair and township
 * assignment (load_geos.c), the upsert, the stats and progress.
 * Entry point: situ__load_source.
 */
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ogr_srs_api.h>

#include "load_int.h"

/* ---- ids seen in this source -------------------------------------------- */

typedef struct idset {
    const char **slot; /* open addressing; strings in arena */
    size_t cap, n;
    situ__arena arena;
} idset;

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static int idset_grow(idset *s)
{
    size_t cap = s->cap ? 2 * s->cap : 4096;
    const char **slot = calloc(cap, sizeof *slot);
    if (!slot)
        return SITU_ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slot[i])
            continue;
        size_t j = hash_id(s->slot[i]) & (cap - 1);
        while (slot[j])
            j = (j + 1) & (cap - 1);
        slot[j] = s->slot[i];
    }
    free(s->slot);
    s->slot = slot, s->cap = cap;
    return 0;
}

/* Returns 1 when id is new (and remembers it), 0 when seen, < 0 on OOM. */
static int idset_add(idset *s, const char *id)
{
    if (2 * (s->n + 1) > s->cap && idset_grow(s))
        return SITU_ENOMEM;
    size_t j = hash_id(id) & (s->cap - 1);
    for (; s->slot[j]; j = (j + 1) & (s->cap - 1))
        if (!strcmp(s->slot[j], id))
            return 0;
    if (!(s->slot[j] = situ__arena_strndup(&s->arena, id, strlen(id))))
        return SITU_ENOMEM;
    s->n++;
    return 1;
}

static void idset_dispose(idset *s)
{
    free(s->slot);
    situ__arena_dispose(&s->arena);
}

/* ---- the source --------------------------------------------------------- */

typedef struct source {
    situ__loader *L;
    const situ__source_opts *so;
    const situ_collection *c;
    const char *path;
    const char *shp_encoding; /* Shapefile ENCODING open option, or NULL */
    const char *recode;       /* CSV text encoding when not UTF-8, or NULL */
    int recode_skips;         /* recode is a Shapefile's, recoded as GDAL would */
    int is_csv, is_kml, is_geojson, is_osm;
    GDALDatasetH ds;
    OGRLayerH lyr;
    OGRCoordinateTransformationH ct; /* NULL: the source is in EPSG:4326 already */
    situ__roads_src *roads;          /* roads: what the features are made before the field map */
    situ__fieldmap *map;
    situ__row *row;
    situ__batch *batch; /* features on their way (PostgreSQL, or to L->pipe), else NULL */
    idset ids;
    unsigned char *wkb;
    size_t capwkb;
    situ_load_stats st;
    long long total;
    long long stored; /* features handed to the store (the writer may still write them) */
    char **nuls;      /* GeoJSON: per feature (file order) the field holding a NUL, or NULL */
    situ__repair_limits limits;
    long long max_vertices;
    long long nnuls;
    struct timespec t0, last;
    int reported;
} source;

/* The iconv name of an encoding the user gave; the GBK family is CP936. */
static const char *encoding_name(const char *e)
{
    static const char *const cp936[] = {"GBK", "GB2312", "CP936", "936", "EUC-CN", "MS936"};
    for (size_t i = 0; i < sizeof cp936 / sizeof cp936[0]; i++)
        if (!strcasecmp(e, cp936[i]))
            return "CP936";
    if (!strcasecmp(e, "GB18030"))
        return "GB18030";
    if (!strcasecmp(e, "UTF8") || !strcasecmp(e, "UTF-8"))
        return "UTF-8";
    return e;
}

static int is_dir(const char *path)
{
    struct stat sb;
    return !stat(path, &sb) && S_ISDIR(sb.st_mode);
}

static int has_cpg(const char *path)
{
    char p[4096];
    struct stat sb;
    const char *dot = strrchr(path, '.');
    int n = dot ? (int)(dot - path) : (int)strlen(path);
    snprintf(p, sizeof p, "%.*s.cpg", n, path);
    if (!stat(p, &sb))
        return 1;
    snprintf(p, sizeof p, "%.*s.CPG", n, path);
    return !stat(p, &sb);
}

/* A Shapefile's text in encoding e: GDAL's driver recodes it with
 * CPLRecode, which opens iconv for each string (half the CPU of reading the
 * demo's hazards). Where that is iconv's work (not GDAL's own shortcuts for
 * UTF-8, ASCII, ISO-8859-1 and CP437, nor its byte order fixes for UCS-2
 * and UTF-16), the file is read raw (ENCODING "") and the field map recodes
 * it the same way with one iconv for the source. */
static void recode_shapefile(source *S, const char *e)
{
    static const char *const gdal_own[] = {"UTF-8", "ASCII", "ISO-8859-1",
                                           "CP437", "UCS-2", "UTF-16"};
    S->shp_encoding = e;
    for (size_t i = 0; i < sizeof gdal_own / sizeof gdal_own[0]; i++)
        if (!strcasecmp(e, gdal_own[i]))
            return;
    S->recode = e;
    S->recode_skips = 1;
}

/* Decides how text is decoded: the Shapefile driver's ENCODING option (the
 * manifest's only when there is no .cpg), or our own recoding as it would
 * (recode_shapefile); our own recoding for CSV (GDAL passes its bytes
 * through); other formats are UTF-8 by definition. */
static int choose_encoding(source *S, const char *driver, situ_err *err)
{
    const situ__source_opts *so = S->so;
    static const char *const own[] = {"GeoJSON",    "GeoJSONSeq", "GPKG", "KML",    "LIBKML",
                                      "FlatGeobuf", "GML",        "GPX",  "SQLite", "OSM"};
    if (!so->encoding || !*so->encoding)
        return 0;
    for (size_t i = 0; so->encoding_what && i < sizeof own / sizeof own[0]; i++)
        if (!strcmp(driver, own[i]))
            return situ_err_set(err, SITU_EINVAL,
                                "%s: a %s file carries its own text encoding (UTF-8); %s is "
                                "for Shapefiles and CSV only",
                                S->path, driver, so->encoding_what);
    const char *e = encoding_name(so->encoding);
    iconv_t cd = iconv_open("UTF-8", e);
    if (cd == (iconv_t)-1)
        return situ_err_set(err, SITU_EINVAL, "unknown encoding %s (try GBK or UTF-8)",
                            so->encoding);
    iconv_close(cd);
    if (!strcmp(driver, "ESRI Shapefile") && !(so->encoding_fallback && has_cpg(S->path)))
        recode_shapefile(S, e);
    else if (!strcmp(driver, "CSV") && strcmp(e, "UTF-8"))
        S->recode = e;
    return 0;
}

/* Why path cannot be a source, before GDAL is asked: missing, unreadable,
 * empty. Returns 0 when it may be one. */
static int check_readable(const char *path, situ_err *err)
{
    struct stat sb;
    if (!strncmp(path, "/vsi", 4))
        return 0;
    if (stat(path, &sb))
        return situ_err_set(err, SITU_ENOTFOUND, "cannot read %s: %s", path, strerror(errno));
    int fd = open(path, O_RDONLY | O_CLOEXEC | (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0)
        return situ_err_set(err, SITU_EIO, "cannot read %s: %s", path, strerror(errno));
    close(fd);
    if (S_ISREG(sb.st_mode) && sb.st_size == 0)
        return situ_err_set(err, SITU_EFORMAT, "%s is empty (0 bytes)", path);
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A Shapefile cut short (a copy that stopped half way) reads as half its
 * features plus "no geometry": its .shp header and its .shx index say how
 * long it is. Returns 0 when whole. */
static int check_shapefile(const char *path, situ_err *err)
{
    char shx[4096];
    unsigned char h[100], last[8];
    struct stat sb, xb;
    const char *dot = strrchr(path, '.');
    int n = dot ? (int)(dot - path) : (int)strlen(path), rc = 0;
    snprintf(shx, sizeof shx, "%.*s.%s", n, path, dot && !strcmp(dot, ".SHP") ? "SHX" : "shx");
    FILE *f = fopen(path, "rb"), *x = fopen(shx, "rb");
    if (!f || stat(path, &sb) || fread(h, 1, sizeof h, f) != sizeof h) {
        rc = situ_err_set(err, SITU_EFORMAT, "%s is truncated: shorter than a Shapefile header",
                          path);
        goto done;
    }
    long long want = 2LL * be32(h + 24), have = (long long)sb.st_size;
    if (have < want) {
        rc = situ_err_set(err, SITU_EFORMAT,
                          "%s is truncated: %lld of the %lld bytes its header announces", path,
                          have, want);
        goto done;
    }
    if (x && !fstat(fileno(x), &xb) && xb.st_size >= 108 && !fseek(x, xb.st_size - 8, SEEK_SET) &&
        fread(last, 1, 8, x) == 8) {
        long long end = 2LL * be32(last) + 8 + 2LL * be32(last + 4);
        if (have < end)
            rc = situ_err_set(err, SITU_EFORMAT,
                              "%s is truncated: %lld bytes, but its .shx indexes records up to "
                              "byte %lld",
                              path, have, end);
    }
done:
    if (f)
        fclose(f);
    if (x)
        fclose(x);
    return rc;
}

static int open_source(source *S, situ_err *err)
{
    situ__loader *L = S->L;
    int rc = check_readable(S->path, err);
    if (rc)
        return rc;
    GDALDriverH drv = GDALIdentifyDriverEx(S->path, GDAL_OF_VECTOR, NULL, NULL);
    if (!drv)
        return situ_err_set(err, SITU_EFORMAT, "%s: not a vector format GDAL reads%s", S->path,
                            is_dir(S->path) ? " (a folder: --all DIR loads the collection "
                                              "files in it)"
                                            : "");
    const char *dn = GDALGetDriverShortName(drv);
    const char *drivers[] = {dn, NULL}, *oo[5] = {NULL};
    char enc[64];
    if ((rc = choose_encoding(S, dn, err)))
        return rc;
    if ((S->is_osm = !strcmp(dn, "OSM")))
        return S->c->cid != SITU_C_ROADS
                   ? situ_err_set(err, SITU_EINVAL, "%s: an OpenStreetMap file loads into roads",
                                  S->path)
                   : situ__roads_osm_open(S->path, &S->ds, &S->lyr, err);
    if (!strcmp(dn, "ESRI Shapefile") && !is_dir(S->path) && strncmp(S->path, "/vsi", 4) &&
        (rc = check_shapefile(S->path, err)))
        return rc;
    S->is_csv = !strcmp(dn, "CSV");
    S->is_kml = !strcmp(dn, "LIBKML") || !strcmp(dn, "KML");
    if (S->is_csv) { /* every value as text: GDAL's type sniffing eats leading zeros */
        oo[0] = "X_POSSIBLE_NAMES=lon,longitude,lng,x";
        oo[1] = "Y_POSSIBLE_NAMES=lat,latitude,y";
        oo[2] = "KEEP_GEOM_COLUMNS=NO";
    } else if (S->shp_encoding) {
        snprintf(enc, sizeof enc, "ENCODING=%s", S->recode_skips ? "" : S->shp_encoding);
        oo[0] = enc;
    } else if (!strcmp(dn, "GeoJSON")) {
        oo[0] = SITU_LOAD_GEOJSON_OO;
        S->is_geojson = 1;
    }
    L->gdal_msg[0] = '\0';
    if (S->is_geojson && (S->ds = situ__ahead_take(L, S->path)))
        return 0;
    S->ds = GDALOpenEx(S->path, SITU__OPEN_FLAGS, drivers, oo, NULL);
    if (!S->ds)
        return situ_err_set(err, SITU_EIO, "cannot read %s: %s", S->path,
                            L->gdal_msg[0] ? L->gdal_msg : "GDAL cannot open it");
    return 0;
}

/* The layers of ds as "a, b, c" in out. */
static void layer_names(GDALDatasetH ds, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < GDALDatasetGetLayerCount(ds) && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? ", " : "",
                              OGR_L_GetName(GDALDatasetGetLayer(ds, i)));
}

/* The named layer; else the one named like the collection; else the only
 * one. Several layers and none named like the collection need --layer. */
static int pick_layer(source *S, situ_err *err)
{
    GDALDatasetH ds = S->ds;
    char names[256];
    if (S->is_osm) /* its lines layer, opened so */
        return 0;
    if (S->so->layer)
        S->lyr = GDALDatasetGetLayerByName(ds, S->so->layer);
    else if (GDALDatasetGetLayerCount(ds) > 1 &&
             !(S->lyr = GDALDatasetGetLayerByName(ds, S->c->id))) {
        layer_names(ds, names, sizeof names);
        return situ_err_set(err, SITU_EINVAL,
                            "%s has several layers (%s) and none is named %s: say which with "
                            "--layer",
                            S->path, names, S->c->id);
    }
    if (!S->lyr && !S->so->layer)
        S->lyr = GDALDatasetGetLayer(ds, 0);
    if (!S->lyr && S->so->layer)
        return situ_err_set(err, SITU_ENOTFOUND, "%s has no layer %s", S->path, S->so->layer);
    if (!S->lyr)
        return situ_err_set(err, SITU_EFORMAT, "%s has no layers", S->path);
    if (OGR_FD_GetGeomFieldCount(OGR_L_GetLayerDefn(S->lyr)) == 0)
        return situ_err_set(err, SITU_EFORMAT,
                            "%s has no geometry (a CSV needs lon/lat or x/y columns)", S->path);
    return 0;
}

/* The source CRS: --s_srs when it overrides (or the file has none), else the
 * file's own; lon/lat (traditional GIS) order on both sides. */
static int make_transform(source *S, situ_err *err)
{
    const situ__source_opts *so = S->so;
    OGRSpatialReferenceH own = OGR_L_GetSpatialRef(S->lyr), src = NULL, dst = NULL;
    const char *user = so->s_srs && *so->s_srs && (!so->s_srs_fallback || !own) ? so->s_srs : NULL;
    static const char *const same[] = {"IGNORE_DATA_AXIS_TO_SRS_AXIS_MAPPING=YES",
                                       "CRITERION=EQUIVALENT_EXCEPT_AXIS_ORDER_GEOGCRS", NULL};
    int rc = 0;
    if (!user && !own) {
        rc = situ_err_set(err, SITU_EINVAL, "%s has no CRS; give --s_srs, e.g. EPSG:4490%s",
                          S->path, so->where ? so->where : "");
        goto done;
    }
    src = user ? OSRNewSpatialReference(NULL) : OSRClone(own);
    dst = OSRNewSpatialReference(NULL);
    if (!src || !dst || OSRImportFromEPSG(dst, 4326) != OGRERR_NONE) {
        rc = situ_err_set(err, SITU_EGEOM, "cannot set up EPSG:4326 (is proj.db installed?)");
        goto done;
    }
    if (user && OSRSetFromUserInput(src, user) != OGRERR_NONE) {
        rc = situ_err_set(err, SITU_EINVAL, "--s_srs %s: not a CRS PROJ knows", user);
        goto done;
    }
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    S->L->gdal_msg[0] = '\0';
    if (!OSRIsSameEx(src, dst, same) && !(S->ct = OCTNewCoordinateTransformation(src, dst)))
        rc = situ_err_set(err, SITU_EGEOM, "cannot reproject %s to EPSG:4326: %s", S->path,
                          S->L->gdal_msg);
done:
    if (src)
        OSRRelease(src);
    if (dst)
        OSRRelease(dst);
    return rc;
}

/* ---- geometry ----------------------------------------------------------- */

static int reject_geom(char reason[128], const char *what, OGRwkbGeometryType t)
{
    if (t)
        snprintf(reason, 128, "wrong geometry type: %s for a %s collection",
                 OGRGeometryTypeToName(t), what);
    else
        snprintf(reason, 128, "%s", what);
    return 1;
}

static int lonlat_ok(double lon, double lat)
{
    return fabs(lon) <= 180 && fabs(lat) <= 90; /* false for NaN too */
}

/* The feature's point in EPSG:4326. Returns 0, or 1 with a reason. */
static int point_geom(source *S, OGRFeatureH f, double *lon, double *lat, char reason[128])
{
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    if (!g)
        return reject_geom(reason, "no geometry", 0);
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbMultiPoint && OGR_G_GetGeometryCount(g) == 1)
        g = OGR_G_GetGeometryRef(g, 0), t = wkbPoint;
    if (t != wkbPoint)
        return reject_geom(reason, "point", t);
    if (OGR_G_IsEmpty(g))
        return reject_geom(reason, "empty geometry", 0);
    double x = OGR_G_GetX(g, 0), y = OGR_G_GetY(g, 0);
    if (!isfinite(x) || !isfinite(y))
        return reject_geom(reason, "non-finite coordinate", 0);
    if (S->ct && !OCTTransform(S->ct, 1, &x, &y, NULL))
        return reject_geom(reason, "cannot reproject to EPSG:4326", 0);
    if (!lonlat_ok(x, y))
        return reject_geom(reason, "coordinate out of range (|lon| > 180 or |lat| > 90)", 0);
    *lon = x, *lat = y;
    return 0;
}

static int coords_finite(OGRGeometryH g)
{
    int n = OGR_G_GetGeometryCount(g);
    for (int i = 0; i < n; i++)
        if (!coords_finite(OGR_G_GetGeometryRef(g, i)))
            return 0;
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t != wkbLineString && t != wkbLinearRing && t != wkbPoint)
        return 1;
    for (int i = 0; i < OGR_G_GetPointCount(g); i++)
        if (!isfinite(OGR_G_GetX(g, i)) || !isfinite(OGR_G_GetY(g, i)))
            return 0;
    return 1;
}

/* Polygons and multipolygons as they are; curved polygons, multisurfaces and
 * collections of polygons made a MultiPolygon; anything else NULL (rejected).
 * Consumes g. */
static OGRGeometryH polygonal(OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbPolygon || t == wkbMultiPolygon)
        return g;
    if (t == wkbCurvePolygon || t == wkbMultiSurface || t == wkbGeometryCollection)
        g = OGR_G_ForceTo(g, wkbMultiPolygon, NULL);
    if (g && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiPolygon)
        return g;
    OGR_G_DestroyGeometry(g);
    return NULL;
}

/* Checks polygonal or lineal g (not empty, finite) and brings it to
 * EPSG:4326 in place, 2D. Returns 0 or 1 with a reason. */
static int check_to_4326(source *S, OGRGeometryH g, char reason[128])
{
    OGREnvelope e;
    OGR_G_FlattenTo2D(g);
    if (OGR_G_IsEmpty(g))
        return reject_geom(reason, "empty geometry", 0);
    if (!coords_finite(g))
        return reject_geom(reason, "non-finite coordinate", 0);
    if (S->ct && OGR_G_Transform(g, S->ct) != OGRERR_NONE)
        return reject_geom(reason, "cannot reproject to EPSG:4326", 0);
    OGR_G_GetEnvelope(g, &e);
    if (!lonlat_ok(e.MinX, e.MinY) || !lonlat_ok(e.MaxX, e.MaxY))
        return reject_geom(reason, "coordinate out of range (|lon| > 180 or |lat| > 90)", 0);
    return 0;
}

/* Checks polygon p and brings it to EPSG:4326 in place, its rings closed.
 * Returns 0 or 1 with a reason. */
static int check_polygon(source *S, OGRGeometryH p, char reason[128])
{
    if (check_to_4326(S, p, reason))
        return 1;
    OGR_G_CloseRings(p);
    return 0;
}

static long long count_vertices(OGRGeometryH g)
{
    long long n = OGR_G_GetPointCount(g);
    for (int i = 0; i < OGR_G_GetGeometryCount(g); i++)
        n += count_vertices(OGR_G_GetGeometryRef(g, i));
    return n;
}

/* A geometry past the vertex limit is rejected before GEOS sees it: the
 * repair of a self-intersecting ring grows faster than its vertices. */
static int check_vertices(source *S, OGRGeometryH p, char reason[128])
{
    long long n = count_vertices(p);
    if (n <= S->max_vertices)
        return 0;
    snprintf(reason, 128, "too many vertices: %lld (more than %lld; --max-vertices)", n,
             S->max_vertices);
    return 1;
}

/* Writes p as little-endian WKB into S->wkb. */
static int export_wkb(source *S, OGRGeometryH p, size_t *out_nwkb)
{
    size_t n = (size_t)OGR_G_WkbSize(p);
    if (n > S->capwkb) {
        unsigned char *w = realloc(S->wkb, n);
        if (!w)
            return SITU_ENOMEM;
        S->wkb = w, S->capwkb = n;
    }
    OGR_G_ExportToWkb(p, wkbNDR, S->wkb);
    *out_nwkb = n;
    return 0;
}

/* The feature's polygon, checked, in EPSG:4326, as WKB in S->wkb (*out_nwkb
 * bytes) and as GEOS, repaired when invalid, in *out. Takes the geometry
 * from f. Returns 0, 1 with a reason, or < 0. */
static int polygon_geom(source *S, OGRFeatureH f, situ__poly *out, size_t *out_nwkb,
                        char reason[128])
{
    OGRGeometryH g = OGR_F_StealGeometry(f), p;
    int rc;
    if (!g)
        return reject_geom(reason, "no geometry", 0);
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (!(p = polygonal(g))) /* consumed g */
        return reject_geom(reason, "polygon", t);
    if ((rc = check_polygon(S, p, reason)) || (rc = check_vertices(S, p, reason)) ||
        (rc = export_wkb(S, p, out_nwkb)))
        goto done;
    rc = situ__geos_polygon(S->L->geos, S->wkb, *out_nwkb, &S->limits, out, reason);
    if (out->seconds > S->st.worst_repair_s)
        S->st.worst_repair_s = out->seconds;
done:
    OGR_G_DestroyGeometry(p);
    return rc;
}

/* Lines and multilines as a MultiLineString (a LineString promoted); curves,
 * multicurves and collections of lines made one; anything else NULL
 * (rejected). Consumes g. */
static OGRGeometryH lineal(OGRGeometryH g)
{
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (t == wkbLineString || t == wkbMultiLineString)
        return OGR_G_ForceToMultiLineString(g);
    if (t == wkbCircularString || t == wkbCompoundCurve || t == wkbMultiCurve ||
        t == wkbGeometryCollection)
        g = OGR_G_ForceTo(g, wkbMultiLineString, NULL);
    if (g && wkbFlatten(OGR_G_GetGeometryType(g)) == wkbMultiLineString)
        return g;
    OGR_G_DestroyGeometry(g);
    return NULL;
}

/* Checks multiline m, brings it to EPSG:4326 in place and puts the middle
 * vertex of its first part in *lon, *lat (the feature's point, as the
 * snapshot takes it). Returns 0 or 1 with a reason. */
static int check_lines(source *S, OGRGeometryH m, double *lon, double *lat, char reason[128])
{
    if (check_to_4326(S, m, reason))
        return 1;
    for (int i = 0; i < OGR_G_GetGeometryCount(m); i++)
        if (OGR_G_GetPointCount(OGR_G_GetGeometryRef(m, i)) < 2)
            return reject_geom(reason, "a line part with fewer than 2 points", 0);
    OGRGeometryH first = OGR_G_GetGeometryRef(m, 0);
    int mid = OGR_G_GetPointCount(first) / 2;
    *lon = OGR_G_GetX(first, mid), *lat = OGR_G_GetY(first, mid);
    return 0;
}

/* The feature's lines, checked, in EPSG:4326, as MultiLineString WKB in
 * S->wkb (*out_nwkb bytes), and its point in *lon, *lat. Takes the geometry
 * from f. Returns 0, 1 with a reason, or < 0. */
static int line_geom(source *S, OGRFeatureH f, double *lon, double *lat, size_t *out_nwkb,
                     char reason[128])
{
    OGRGeometryH g = OGR_F_StealGeometry(f), m;
    int rc;
    if (!g)
        return reject_geom(reason, "no geometry", 0);
    OGRwkbGeometryType t = wkbFlatten(OGR_G_GetGeometryType(g));
    if (!(m = lineal(g))) /* consumed g */
        return reject_geom(reason, "line", t);
    if (!(rc = check_lines(S, m, lon, lat, reason)) && !(rc = check_vertices(S, m, reason)))
        rc = export_wkb(S, m, out_nwkb);
    OGR_G_DestroyGeometry(m);
    return rc;
}

/* WKB of POINT(lon lat) in this machine's byte order. */
static size_t point_wkb(unsigned char out[21], double lon, double lat)
{
    const uint32_t type = 1, one = 1;
    out[0] = *(const unsigned char *)&one;
    memcpy(out + 1, &type, 4);
    memcpy(out + 5, &lon, 8);
    memcpy(out + 13, &lat, 8);
    return 21;
}

/* ---- stats and progress ------------------------------------------------- */

/* Tells the caller about one feature (rejected, outside, disagreeing...). */
static void tell(source *S, const char *id, OGRFeatureH f, const char *what, const char *reason)
{
    const situ_load_opts *o = S->L->o;
    char fid[64];
    if (!o || !o->on_feature)
        return;
    if (!id)
        snprintf(fid, sizeof fid, "feature #%lld", (long long)OGR_F_GetFID(f)), id = fid;
    o->on_feature(o->on_feature_ctx, S->c->id, id, what, reason);
}

/* Every repair is reported with its change of area; past the limit, flagged. */
static void tell_repair(source *S, OGRFeatureH f, const char *id, const situ__poly *p)
{
    char why[96];
    snprintf(why, sizeof why, "repaired (GEOS MakeValid); the area changed by %.2f%%",
             100 * p->area_change);
    tell(S, id, f, p->flagged ? "flagged" : "repaired", why);
}

/* Counts one rejected feature under its reason; past the 15th distinct
 * reason they share "other reasons". */
static void note_reject(source *S, const char *reason, const char *id, OGRFeatureH f)
{
    situ_load_stats *st = &S->st;
    char fid[64];
    int i;
    st->rejected++;
    tell(S, id, f, "rejected", reason);
    if (!id)
        snprintf(fid, sizeof fid, "feature #%lld", (long long)OGR_F_GetFID(f)), id = fid;
    for (i = 0; i < st->nreasons; i++)
        if (!strcmp(st->reasons[i].reason, reason))
            break;
    if (i == st->nreasons && i >= SITU_LOAD_MAX_REASONS - 1)
        reason = "other reasons";
    for (i = 0; i < st->nreasons; i++)
        if (!strcmp(st->reasons[i].reason, reason))
            break;
    if (i == st->nreasons) {
        st->nreasons++;
        snprintf(st->reasons[i].reason, sizeof st->reasons[i].reason, "%s", reason);
        snprintf(st->reasons[i].example_id, sizeof st->reasons[i].example_id, "%s", id);
    }
    st->reasons[i].n++;
}

static double seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Reports progress at most twice a second once a load has run a second;
 * final reports the end of a load that reported before. */
static void progress(source *S, int final)
{
    struct timespec now;
    if (!S->L->progress)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (final ? !S->reported : seconds(&S->t0, &now) < 1.0 || seconds(&S->last, &now) < 0.5)
        return;
    S->L->progress(S->L->progress_ctx, S->c->id, S->st.read, S->total);
    S->reported = 1, S->last = now;
}

/* ---- the feature loop --------------------------------------------------- */

/* The township is the geometry's: the file's code stands when its township
 * covers the point (or meets the polygon), else the township of the
 * geometry replaces it and the feature is reported; a code that names no
 * township is rejected. Returns 0, 1 with a reason, or < 0. */
static int assign_township(source *S, OGRFeatureH f, situ_feature_in *fin, double lon, double lat,
                           const situ__poly *poly, char reason[128], situ_err *err)
{
    situ__loader *L = S->L;
    const char *file = fin->township_code && *fin->township_code ? fin->township_code : NULL;
    char why[160];
    if (S->c->cid == SITU_C_TOWNSHIPS)
        return 0;
    if (!L->townships && situ__townships_new(L->geos, situ_store_sql(L->s), &L->townships, err))
        return err ? err->code : SITU_EDB;
    if (file && situ__townships_count(L->townships) == 0)
        return 0; /* nothing to check it against */
    if (file && !situ__townships_has(L->townships, file)) {
        S->st.bad_code++;
        snprintf(reason, 128, "township_code %.40s names no township of the store", file);
        return 1;
    }
    if (file && situ__townships_agree(L->townships, file, lon, lat, poly->geom))
        return 0;
    fin->township_code = poly->geom ? situ__townships_for(L->townships, poly->geom)
                                    : situ__townships_at(L->townships, lon, lat);
    if (!fin->township_code) {
        S->st.outside++;
        if (situ__townships_count(L->townships) == 0)
            return 0; /* a store without townships yet: nothing to report */
        snprintf(why, sizeof why, "outside every township%s%.40s", file ? "; the file says " : "",
                 file ? file : "");
        tell(S, fin->id, f, "outside", why);
    } else if (file && strcmp(file, fin->township_code)) {
        S->st.disagree++;
        snprintf(why, sizeof why, "township_code %.40s in the file, but the geometry lies in %s",
                 file, fin->township_code);
        tell(S, fin->id, f, "township", why);
    }
    return 0;
}

/* Writes the batch's features into the store and counts them. */
static int flush_batch(source *S, situ_err *err)
{
    long long inserted, n;
    if (S->L->pipe) /* the writer counts them */
        return situ__pipe_send(S->L->pipe, &S->batch, err);
    int rc = situ__batch_flush(S->batch, S->L->s, &inserted, &n, err);
    if (!rc)
        S->st.inserted += inserted, S->st.updated += n - inserted;
    return rc;
}

/* Adds fin to the batch, flushing it when full. */
static int batch_feature(source *S, const situ_feature_in *fin, situ_err *err)
{
    int rc = situ__batch_add(S->batch, fin);
    if (rc < 0)
        return situ_err_set(err, SITU_ENOMEM, "out of memory loading %s", S->path);
    return rc ? flush_batch(S, err) : 0;
}

/* Reads, checks and writes one feature. A rejection is counted, not returned. */
static int load_feature(source *S, OGRFeatureH f, situ_err *err)
{
    situ_feature_in fin;
    situ__poly poly = {0};
    unsigned char pt[21];
    char reason[128];
    double lon = 0, lat = 0;
    size_t nwkb = 0;
    long long k = S->st.read++;
    int inserted = 0, rc = situ__row_read(S->row, f, &fin, reason);
    if (rc >= 0 && k < S->nnuls && S->nuls[k])
        rc = 1, fin.id = NULL,
        snprintf(reason, sizeof reason, "NUL character in %.60s (the text would be cut there)",
                 S->nuls[k]);
    if (rc >= 0 && fin.id) {
        int added = idset_add(&S->ids, fin.id);
        if (added == 0)
            rc = 1, snprintf(reason, sizeof reason, "duplicate id in source");
        rc = added < 0 ? added : rc;
    }
    if (rc == 0 && S->c->gtype == SITU_GT_MULTILINESTRING)
        rc = line_geom(S, f, &lon, &lat, &nwkb, reason); /* its township: at its point */
    else if (rc == 0)
        rc = S->c->gtype == SITU_GT_POINT ? point_geom(S, f, &lon, &lat, reason)
                                          : polygon_geom(S, f, &poly, &nwkb, reason);
    if (rc == 0)
        rc = assign_township(S, f, &fin, lon, lat, &poly, reason, err);
    if (rc == 1) {
        note_reject(S, reason, fin.id, f);
        rc = 0;
        goto done;
    }
    if (rc < 0) {
        if (!err || !err->msg[0])
            situ_err_set(err, SITU_ENOMEM, "out of memory loading %s", S->path);
        goto done;
    }
    fin.wkb = poly.wkb ? poly.wkb : poly.geom || nwkb ? S->wkb : pt;
    fin.nwkb = poly.wkb ? poly.nwkb : poly.geom || nwkb ? nwkb : point_wkb(pt, lon, lat);
    if (S->batch)
        rc = batch_feature(S, &fin, err);
    else if (!(rc = situ_store_upsert(S->L->s, S->c, &fin, &inserted, err)))
        S->st.inserted += inserted, S->st.updated += !inserted;
    if (rc)
        goto done;
    S->stored++;
    S->st.repaired += poly.repaired;
    S->st.flagged += poly.flagged;
    if (poly.repaired)
        tell_repair(S, f, fin.id, &poly);
    S->st.gbk += situ__row_was_gbk(S->row);
done:
    situ__poly_dispose(S->L->geos, &poly);
    return rc;
}

static int read_all(source *S, situ_err *err)
{
    situ__loader *L = S->L;
    OGRFeatureH f, g;
    int rc = 0;
    OGR_L_ResetReading(S->lyr);
    for (L->gdal_failed = 0; !rc && (f = OGR_L_GetNextFeature(S->lyr)); L->gdal_failed = 0) {
        rc = S->roads ? situ__roads_src_feature(S->roads, f, &g) : (g = f, 0);
        if (rc == 0)
            rc = load_feature(S, g, err);
        else if (rc == 1)
            S->st.skipped++, rc = 0;
        OGR_F_Destroy(f);
        progress(S, 0); /* a clock read: one slow feature must not hide the progress */
    }
    if (!rc && L->gdal_failed) /* the NULL that ended the loop was an error, not the end */
        rc = situ_err_set(err, SITU_EIO, "error reading %s: %s", S->path, L->gdal_msg);
    if (!rc && S->batch && !L->pipe) /* the pipe takes the last batch with its end */
        rc = flush_batch(S, err);
    if (!rc)
        progress(S, 1);
    return rc;
}

/* ---- NULs in GeoJSON text ---------------------------------------------- */

/* 1 when the file at path holds the JSON escape of a NUL ("\u0000"). */
static int has_nul_escape(const char *path)
{
    char buf[65536 + 8];
    size_t keep = 0, n;
    int found = 0;
    FILE *f = fopen(path, "rb");
    while (f && !found && (n = fread(buf + keep, 1, sizeof buf - 1 - keep, f)) > 0) {
        n += keep;
        buf[n] = '\0';
        for (size_t i = 0; i + 6 <= n && !found; i++)
            found = buf[i] == '\\' && !memcmp(buf + i + 1, "u0000", 5);
        keep = n < 6 ? n : 6; /* an escape may straddle two reads */
        memmove(buf, buf + n - keep, keep);
    }
    if (f)
        fclose(f);
    return found;
}

/* The first top-level string of feature j (its id or a property) that holds
 * a NUL, or NULL. */
static const char *nul_member(json_t *j)
{
    const char *key;
    json_t *v = json_object_get(j, "id");
    if (json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v))
        return "id";
    json_object_foreach(json_object_get(j, "properties"), key,
                        v) if (json_is_string(v) &&
                               strlen(json_string_value(v)) != json_string_length(v)) return key;
    return NULL;
}

/* GDAL hands text over as C strings, so "RS-000001\u0000evil" would arrive
 * as "RS-000001" and overwrite that feature. A GeoJSON file that holds the
 * escape of a NUL is read once more, here, keeping NULs, to name per feature
 * (in file order, as GDAL reads it) the field that holds one. */
static int find_nuls(source *S, situ_err *err)
{
    if (!S->is_geojson || !strncmp(S->path, "/vsi", 4) || !has_nul_escape(S->path))
        return 0;
    json_error_t je;
    json_t *root = json_load_file(S->path, JSON_ALLOW_NUL, &je), *fs;
    fs = json_object_get(root, "features");
    size_t n = json_array_size(fs);
    int rc = 0;
    if (!json_is_array(fs) || (long long)n != S->total) { /* features cannot be told apart */
        json_decref(root);
        return situ_err_set(err, SITU_EFORMAT,
                            "%s holds a NUL character (\\u0000) in its text, which GDAL would "
                            "cut there, and its features cannot be told apart to reject only "
                            "those (%s)",
                            S->path, root ? "features differ from GDAL's" : je.text);
    }
    if (n && !(S->nuls = calloc(n, sizeof *S->nuls)))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        const char *k = nul_member(json_array_get(fs, i));
        if (k && !(S->nuls[i] = strdup(k)))
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    S->nnuls = S->nuls ? (long long)n : 0;
    json_decref(root);
    return rc;
}

/* Is the source's text raw bytes of no declared encoding? A Shapefile with
 * neither .cpg, LDID nor ENCODING, or a CSV without --encoding: then text
 * that is not UTF-8 is tried as GBK (and the report says so). */
static int undeclared_text(source *S)
{
    const char *dn = GDALGetDriverShortName(GDALGetDatasetDriver(S->ds));
    if (!strcmp(dn, "CSV"))
        return !S->so->encoding || !*S->so->encoding;
    if (strcmp(dn, "ESRI Shapefile"))
        return 0;
    const char *e = GDALGetMetadataItem((GDALMajorObjectH)S->lyr, "SOURCE_ENCODING", "SHAPEFILE");
    return !S->shp_encoding && (!e || !*e);
}

/* The middle of a generated id: a hash of the file's base name and layer. */
static void id_prefix(source *S, char out[16])
{
    const char *slash = strrchr(S->path, '/'), *base = slash ? slash + 1 : S->path;
    const char *layer = OGR_L_GetName(S->lyr);
    uint64_t h = hash_id(base);
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (const char *p = layer; p && *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, 16, "%08llx", (unsigned long long)(h >> 32));
}

static int prepare(source *S, situ_err *err)
{
    int rc;
    char prefix[16];
    if ((rc = open_source(S, err)))
        return rc;
    situ__ahead_start(S->L, S->L->next_path); /* GDAL reads it while this one is read */
    if ((rc = pick_layer(S, err)) || (rc = make_transform(S, err)))
        return rc;
    /* KML styling that LIBKML exposes as fields is not the feature's data */
    static const char *const kml_styling[] = {"tessellate", "extrude", "visibility",
                                              "drawOrder",  "icon",    "altitudeMode",
                                              "snippet",    NULL};
    situ__fieldmap_opts fo = {.map = S->so->map,
                              .nmap = S->so->nmap,
                              .map_what = S->so->map_what,
                              .recode = S->recode,
                              .recode_skips = S->recode_skips,
                              .strings_only = S->is_csv,
                              .ignore = S->is_kml ? kml_styling : NULL,
                              .id_field = S->so->id_field,
                              .generate_ids = S->so->generate_ids,
                              .gen_prefix = prefix,
                              .detect_gbk = undeclared_text(S),
                              .path = S->path};
    id_prefix(S, prefix);
    OGRFeatureDefnH defn = OGR_L_GetLayerDefn(S->lyr);
    if (S->c->cid == SITU_C_ROADS) {
        if ((rc = situ__roads_src_new(S->path, S->lyr, S->is_osm, fo.map, fo.nmap, fo.map_what,
                                      &S->roads, err)))
            return rc;
        fo.map = situ__roads_src_map(S->roads, &fo.nmap);
        defn = situ__roads_src_defn(S->roads);
    }
    if ((rc = situ__fieldmap_new(S->c, defn, &fo, &S->map, err)))
        return rc;
    if (situ__row_new(S->map, &S->row))
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    S->total = OGR_L_GetFeatureCount(S->lyr, 0);
    return find_nuls(S, err);
}

/* The load as a whole: something stored, not too much rejected, and not
 * most of it in the wrong place (a wrong CRS moves everything). */
static int judge(source *S, situ_err *err)
{
    const situ_load_opts *o = S->L->o;
    const situ_load_stats *st = &S->st;
    long long stored = S->stored, placed = stored + st->bad_code;
    long long wrong = st->outside + st->disagree + st->bad_code;
    double max_rej = o && o->max_rejected_share > 0 ? o->max_rejected_share : 0.5;
    double max_out = o && o->max_outside_share > 0 ? o->max_outside_share : 0.5;
    if (st->read == 0 && st->skipped)
        return situ_err_set(err, SITU_EFORMAT,
                            "%s: none of its %lld ways is a road a car may drive", S->path,
                            st->skipped);
    if (st->read == 0)
        return situ_err_set(err, SITU_EFORMAT, "%s has no features", S->path);
    if (stored == 0)
        return situ_err_set(err, SITU_EINVAL, "%s: all %lld features were rejected", S->path,
                            st->read);
    if ((double)st->rejected > max_rej * (double)st->read)
        return situ_err_set(err, SITU_EINVAL,
                            "%s: %lld of %lld features were rejected (more than %g%%; see "
                            "--max-rejected)",
                            S->path, st->rejected, st->read, 100 * max_rej);
    if ((o && o->accept_outside) || placed == 0 || (double)wrong <= max_out * (double)placed ||
        !S->L->townships || situ__townships_count(S->L->townships) == 0)
        return 0; /* without townships in the store there is nothing to judge by */
    return situ_err_set(err, SITU_EINVAL,
                        "%s: %lld of %lld features are in no township or not in their own "
                        "(%lld outside every township, %lld in another than their township_code, "
                        "%lld with a code that names none). Likely a wrong CRS (--s_srs, the "
                        ".prj), swapped axes (lat/lon) or a wrong encoding of the code field; "
                        "--accept-outside loads them anyway",
                        S->path, wrong, placed, st->outside, st->disagree, st->bad_code);
}

/* How the features reach the store: on PostgreSQL in batches (one
 * statement each), on SpatiaLite through the load's writer thread. The
 * township index is read first, while the writer is idle (it may still be
 * writing the townships). */
static int start_writing(source *S, situ_err *err)
{
    situ__loader *L = S->L;
    int rc;
    if (situ_db_engine_of(situ_store_sql(L->s)) == SITU_DB_POSTGRES) {
        if (situ__batch_new(S->c, &S->batch))
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        return situ_store_bulk_begin(L->s, S->c, err);
    }
    if (!L->pipe && (rc = situ__pipe_start(L->s, &L->pipe, err)))
        return rc;
    if (S->c->cid != SITU_C_TOWNSHIPS && !L->townships &&
        ((rc = situ__pipe_sync(L->pipe, err)) ||
         situ__townships_new(L->geos, situ_store_sql(L->s), &L->townships, err)))
        return rc ? rc : err ? err->code : SITU_EDB;
    return situ__pipe_begin(L->pipe, S->c, &S->batch, err);
}

/* Ends the source's writing after reading (rc: its outcome): on PostgreSQL
 * the bulk write ends here; on SpatiaLite the writer thread ends it while
 * this thread goes on, and counts what it wrote (L->inserted, L->written). */
static int finish_writing(source *S, int rc, situ_err *err)
{
    situ__loader *L = S->L;
    if (!L->pipe)
        return rc ? rc : situ_store_bulk_end(L->s, S->c, err);
    if (!rc && S->batch)
        rc = situ__pipe_end(L->pipe, &S->batch, err);
    S->batch = NULL; /* the pipe's, freed with it */
    return rc;
}

int situ__load_source(situ__loader *L, const char *path, const situ__source_opts *so,
                      situ_load_stats *out_stats, situ_err *err)
{
    const situ_load_opts *o = L->o;
    source S = {.L = L, .so = so, .c = so->c, .path = path};
    S.max_vertices = o && o->max_vertices > 0 ? o->max_vertices : 200000;
    S.limits = (situ__repair_limits){.seconds = o && o->repair_seconds > 0 ? o->repair_seconds : 10,
                                     .max_area_change =
                                         o && o->max_area_change > 0 ? o->max_area_change : 0.01,
                                     .flag = o && o->flag_repairs};
    snprintf(S.st.collection, sizeof S.st.collection, "%s", so->c->id);
    clock_gettime(CLOCK_MONOTONIC, &S.t0);
    int rc = prepare(&S, err);
    if (!rc) /* an empty collection's spatial index is filled once, at the end */
        rc = start_writing(&S, err);
    if (!rc)
        rc = read_all(&S, err);
    rc = finish_writing(&S, rc, err);
    if (!rc)
        rc = judge(&S, err);
    if (!rc)
        *out_stats = S.st;
    situ__row_free(S.row);
    situ__batch_free(S.batch);
    situ__fieldmap_free(S.map);
    situ__roads_src_free(S.roads);
    idset_dispose(&S.ids);
    for (long long i = 0; i < S.nnuls; i++)
        free(S.nuls[i]);
    free(S.nuls);
    free(S.wkb);
    if (S.ct)
        OCTDestroyCoordinateTransformation(S.ct);
    if (S.ds)
        GDALClose(S.ds);
    if (so->c->cid == SITU_C_TOWNSHIPS) { /* the township index is stale now */
        situ__townships_free(L->townships);
        L->townships = NULL;
    }
    return rc;
}

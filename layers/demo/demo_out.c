/*
 * demo_out.c: the files `situ demo` writes. Owns how each collection is
 * written (one row of `formats`: driver, CRS, encoding, short DBF names),
 * the OGR layers and their fields (the schema table's, plus id,
 * township_code and a resource's items), the fixes that make the output
 * repeatable byte for byte (the DBF header's date, no .cpg), departments.csv
 * and manifest.ini, which tells the loader what a file cannot say itself.
 * Knows nothing of what the features mean.
 */
#include "demo_int.h"
#include "situ/load.h"

#include <errno.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <ogr_srs_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cpl_error.h>
#include <cpl_string.h>

typedef struct demo_format {
    situ_coll_id cid;
    const char *driver, *ext;
    int epsg;             /* CRS of the written coordinates */
    int lonlat;           /* CSV: lon and lat columns, no geometry, no CRS */
    const char *encoding; /* manifest: the DBF's encoding; no .cpg is left */
    const char *s_srs;    /* manifest: the CRS of a file that cannot say it */
    int decimals;         /* coordinates rounded to as GeoJSON's COORDINATE_PRECISION, or 0 */
} demo_format;

static const demo_format formats[] = {
    {SITU_C_TOWNSHIPS, "GeoJSON", "geojson", 4326, 0, NULL, NULL, 7},
    {SITU_C_RISK_ZONES, "GeoJSON", "geojson", 4326, 0, NULL, NULL, 7},
    {SITU_C_HAZARDS, "ESRI Shapefile", "shp", 4546, 0, "GBK", NULL, 0},
    {SITU_C_HAZARD_SOURCES, "CSV", "csv", 4490, 1, NULL, "EPSG:4490", 0},
    {SITU_C_RESOURCES, "GeoJSON", "geojson", 4326, 0, NULL, NULL, 7},
    {SITU_C_STATIONS, "GeoJSON", "geojson", 4326, 0, NULL, NULL, 7},
    /* the largest by far (1 GB of GeoJSON at scale 200): GDAL reads GeoJSON
     * twice (its schema, then its features) and parses every number as
     * text; FlatGeobuf is read once, binary. Unindexed: in writing order. */
    {SITU_C_ROADS, "FlatGeobuf", "fgb", 4326, 0, NULL, NULL, 7},
};
#define NFORMATS ((int)(sizeof formats / sizeof formats[0]))

/* From this scale on (a bench's demo, not one to read by eye) the GeoJSON
 * collections end up as FlatGeobuf too, for the reason roads do: at scale
 * 200 GDAL spent more of `situ load --all` parsing their 500 MB of GeoJSON,
 * twice, than on anything else. Each is written as GeoJSON, then translated
 * by GDAL as the loader reads it (geojson_to_fgb), so that it loads as its
 * GeoJSON would: coordinates rounded, rings turned as RFC 7946 wants, field
 * types as read. The scales the tests and geodata/demo use stay GeoJSON. */
#define FGB_FROM_SCALE 10

/* A DBF field name holds 10 bytes: these properties get short names in a
 * Shapefile, and the manifest maps them back. */
static const struct {
    const char *prop, *dbf;
} dbf_names[] = {
    {"township_code", "twp_code"},     {"rectified_on", "rectified"},
    {"responsible_unit", "resp_unit"}, {"responsible_person", "resp_pers"},
    {"description", "descr"},
};

/* DBF text widths in GBK bytes (a Chinese character takes 2), the longest
 * the generators can make. A DBF record is fixed-width, and GDAL's RESIZE
 * rewrites the whole file once per field, so the widths are set up front;
 * a longer value is an error, never a silent cut. */
static const struct {
    const char *prop;
    int width;
} dbf_widths[] = {
    {"id", 13},
    {"township_code", 9},
    {"name", 84},
    {"category", 19},
    {"level", 7},
    {"status", 10},
    {"found_on", 10},
    {"deadline", 10},
    {"rectified_on", 10},
    {"responsible_unit", 56},
    {"responsible_person", 8},
    {"phone", 12},
    {"description", 80},
};
#define DBF_DEFAULT_WIDTH 80

static const char *const shp_parts[] = {".shp", ".shx", ".dbf", ".prj", ".cpg"};

typedef struct demo_layer {
    const demo_format *fmt;
    int to_fgb; /* a GeoJSON file made FlatGeobuf once written (FGB_FROM_SCALE) */
    GDALDatasetH ds;
    OGRLayerH layer;
    OGRCoordinateTransformationH ct;
    int fid[SITU_DEMO_MAX_FIELDS];
    int f_id, f_township, f_items, f_lon, f_lat;
} demo_layer;

struct situ__demo_out {
    char dir[4096];
    demo_layer layers[SITU_NCOLLECTIONS];
};

static int is_shapefile(const demo_format *fmt)
{
    return strcmp(fmt->driver, "ESRI Shapefile") == 0;
}

static const char *out_name(const demo_format *fmt, const char *prop)
{
    for (size_t i = 0; is_shapefile(fmt) && i < sizeof dbf_names / sizeof dbf_names[0]; i++)
        if (strcmp(dbf_names[i].prop, prop) == 0)
            return dbf_names[i].dbf;
    return prop;
}

static int gdal_error(situ_err *err, int code, const char *what, const char *path)
{
    const char *msg = CPLGetLastErrorMsg();
    return situ_err_set(err, code, "%s %s: %s", what, path, msg && *msg ? msg : "GDAL error");
}

/* ---- layers and fields -------------------------------------------------------- */

static int dbf_width(const char *prop)
{
    for (size_t i = 0; i < sizeof dbf_widths / sizeof dbf_widths[0]; i++)
        if (strcmp(dbf_widths[i].prop, prop) == 0)
            return dbf_widths[i].width;
    return DBF_DEFAULT_WIDTH;
}

/* Bytes of UTF-8 text s in GBK: ASCII 1, every other character 2. */
static int gbk_len(const char *s)
{
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        n += *p < 0x80 ? 1 : (*p & 0xC0) == 0xC0 ? 2 : 0;
    return n;
}

static int add_field(demo_layer *l, const char *name, OGRFieldType type, OGRFieldSubType sub)
{
    OGRFieldDefnH fd = OGR_Fld_Create(out_name(l->fmt, name), type);
    OGR_Fld_SetSubType(fd, sub);
    if (type == OFTString && is_shapefile(l->fmt))
        OGR_Fld_SetWidth(fd, dbf_width(name));
    int rc = OGR_L_CreateField(l->layer, fd, 1);
    OGR_Fld_Destroy(fd);
    return rc == OGRERR_NONE ? OGR_FD_GetFieldCount(OGR_L_GetLayerDefn(l->layer)) - 1 : -1;
}

static int add_fields(demo_layer *l)
{
    const situ_collection *c = situ_schema_collection(l->fmt->cid);
    int bad = (l->f_id = add_field(l, "id", OFTString, OFSTNone)) < 0;
    bad |= (l->f_township = add_field(l, "township_code", OFTString, OFSTNone)) < 0;
    for (int i = 0; i < c->nfields && i < SITU_DEMO_MAX_FIELDS; i++) {
        const situ_field *f = &c->fields[i];
        OGRFieldType type = f->type == SITU_FT_REAL   ? OFTReal
                            : f->type == SITU_FT_TEXT ? OFTString
                                                      : OFTInteger;
        OGRFieldSubType sub = f->type == SITU_FT_BOOL ? OFSTBoolean : OFSTNone;
        bad |= (l->fid[i] = add_field(l, f->name, type, sub)) < 0;
    }
    l->f_items = l->f_lon = l->f_lat = -1;
    if (l->fmt->cid == SITU_C_RESOURCES)
        bad |= (l->f_items = add_field(l, "items", OFTString, OFSTJSON)) < 0;
    if (l->fmt->lonlat) {
        bad |= (l->f_lon = add_field(l, "lon", OFTReal, OFSTNone)) < 0;
        bad |= (l->f_lat = add_field(l, "lat", OFTReal, OFSTNone)) < 0;
    }
    return bad ? -1 : 0;
}

/* Unix lines; quotes only where a value needs them (GDAL's default also
 * quotes every number). */
static char **csv_options(void)
{
    char **lco = CSLSetNameValue(NULL, "LINEFORMAT", "LF");
    return CSLSetNameValue(lco, "STRING_QUOTING", "IF_NEEDED");
}

static char **layer_options(const demo_format *fmt)
{
    char **lco = NULL;
    if (strcmp(fmt->driver, "GeoJSON") == 0) {
        lco = CSLSetNameValue(lco, "RFC7946", "YES");
        lco = CSLSetNameValue(lco, "COORDINATE_PRECISION", CPLSPrintf("%d", fmt->decimals));
        /* GDAL < 3.10 turns a one-part MultiPolygon into a Polygon when it
         * wraps the date line; nothing here comes near it. */
        lco = CSLSetNameValue(lco, "WRAPDATELINE", "NO");
    } else if (is_shapefile(fmt)) {
        lco = CSLSetNameValue(lco, "ENCODING", "CP936");
    } else if (strcmp(fmt->driver, "FlatGeobuf") == 0) {
        lco = CSLSetNameValue(lco, "SPATIAL_INDEX", "NO"); /* an index reorders the features */
    } else {
        lco = csv_options();
    }
    return lco;
}

static OGRSpatialReferenceH srs_new(int epsg)
{
    OGRSpatialReferenceH s = OSRNewSpatialReference(NULL);
    if (s && OSRImportFromEPSG(s, epsg) != OGRERR_NONE) {
        OSRDestroySpatialReference(s);
        return NULL;
    }
    if (s)
        OSRSetAxisMappingStrategy(s, OAMS_TRADITIONAL_GIS_ORDER);
    return s;
}

static int make_layer(demo_layer *l, const char *path, OGRSpatialReferenceH srs)
{
    const situ_collection *c = situ_schema_collection(l->fmt->cid);
    OGRwkbGeometryType gt = l->fmt->lonlat                        ? wkbNone
                            : c->gtype == SITU_GT_POINT           ? wkbPoint
                            : c->gtype == SITU_GT_MULTILINESTRING ? wkbMultiLineString
                                                                  : wkbMultiPolygon;
    char **lco = layer_options(l->fmt);
    l->layer = GDALDatasetCreateLayer(l->ds, c->id, l->fmt->lonlat ? NULL : srs, gt, lco);
    CSLDestroy(lco);
    if (!l->layer || add_fields(l))
        return -1;
    if (l->fmt->epsg != 4326 && !l->fmt->lonlat) {
        OGRSpatialReferenceH wgs84 = srs_new(4326);
        l->ct = wgs84 ? OCTNewCoordinateTransformation(wgs84, srs) : NULL;
        OSRDestroySpatialReference(wgs84);
        if (!l->ct)
            return -1;
    }
    return 0;
}

static void remove_old(const char *dir, const demo_format *fmt)
{
    char path[4200];
    const char *id = situ_schema_collection(fmt->cid)->id;
    if (!is_shapefile(fmt)) { /* .fgb: --all refuses two files for one collection */
        snprintf(path, sizeof path, "%s/%s.%s", dir, id, fmt->ext);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s.fgb", dir, id);
        unlink(path);
        return;
    }
    for (size_t i = 0; i < sizeof shp_parts / sizeof shp_parts[0]; i++) {
        snprintf(path, sizeof path, "%s/%s%s", dir, id, shp_parts[i]);
        unlink(path);
    }
}

static int open_layer(situ__demo_out *o, const demo_format *fmt, int scale, situ_err *err)
{
    demo_layer *l = &o->layers[fmt->cid];
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.%s", o->dir, situ_schema_collection(fmt->cid)->id, fmt->ext);
    l->fmt = fmt;
    l->to_fgb = scale >= FGB_FROM_SCALE && strcmp(fmt->driver, "GeoJSON") == 0;
    remove_old(o->dir, fmt);
    GDALDriverH drv = GDALGetDriverByName(fmt->driver);
    l->ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (!l->ds)
        return gdal_error(err, SITU_EIO, "cannot create", path);
    OGRSpatialReferenceH srs = srs_new(fmt->epsg);
    int bad = !srs || make_layer(l, path, srs);
    OSRDestroySpatialReference(srs);
    return bad ? gdal_error(err, SITU_EIO, "cannot set up", path) : 0;
}

int situ__demo_out_open(const char *dir, int scale, situ__demo_out **out, situ_err *err)
{
    situ__demo_out *o = calloc(1, sizeof *o);
    if (!o)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    snprintf(o->dir, sizeof o->dir, "%s", dir);
    int rc = 0;
    for (int i = 0; i < NFORMATS && !rc; i++)
        rc = open_layer(o, &formats[i], scale, err);
    if (rc) {
        situ__demo_out_close(o, 0, NULL);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- features ---------------------------------------------------------------------- */

static void set_value(OGRFeatureH ft, int i, const situ_value *v)
{
    switch (v->type) {
    case SITU_FT_TEXT:
        OGR_F_SetFieldString(ft, i, v->u.s);
        break;
    case SITU_FT_INT:
    case SITU_FT_BOOL:
        OGR_F_SetFieldInteger64(ft, i, v->u.i);
        break;
    case SITU_FT_REAL:
        OGR_F_SetFieldDouble(ft, i, v->u.d);
        break;
    default:
        OGR_F_SetFieldNull(ft, i);
    }
}

/* g as a GeoJSON file of fmt->decimals would carry it: GDAL's own writing
 * of its coordinates (rounded, and its trailing 0000x and 9999x
 * trimmed) read back, so that a collection written in another format loads
 * exactly as its GeoJSON did. Consumes g; NULL on failure. */
static OGRGeometryH as_geojson_would(OGRGeometryH g, int decimals)
{
    char opt[40];
    char *opts[] = {opt, NULL};
    snprintf(opt, sizeof opt, "COORDINATE_PRECISION=%d", decimals);
    char *json = OGR_G_ExportToJsonEx(g, opts);
    OGRGeometryH r = json ? OGR_G_CreateGeometryFromJson(json) : NULL;
    CPLFree(json);
    OGR_G_DestroyGeometry(g);
    return r;
}

static int set_geometry(const demo_layer *l, OGRFeatureH ft, OGRGeometryH geom)
{
    if (l->fmt->lonlat) {
        OGR_F_SetFieldDouble(ft, l->f_lon, OGR_G_GetX(geom, 0));
        OGR_F_SetFieldDouble(ft, l->f_lat, OGR_G_GetY(geom, 0));
        return 0;
    }
    OGRGeometryH g = OGR_G_Clone(geom);
    if (!g || (l->ct && OGR_G_Transform(g, l->ct) != OGRERR_NONE)) {
        OGR_G_DestroyGeometry(g);
        return -1;
    }
    if (l->fmt->decimals && strcmp(l->fmt->driver, "GeoJSON") != 0 &&
        !(g = as_geojson_would(g, l->fmt->decimals)))
        return -1;
    return OGR_F_SetGeometryDirectly(ft, g) == OGRERR_NONE ? 0 : -1;
}

/* A text value too long for its DBF field, or NULL. */
static const char *too_long(const situ__demo_feat *f)
{
    if (gbk_len(f->id) > dbf_width("id"))
        return "id";
    for (int i = 0; i < f->coll->nfields && i < SITU_DEMO_MAX_FIELDS; i++) {
        const char *name = f->coll->fields[i].name;
        if (f->v[i].type == SITU_FT_TEXT && gbk_len(f->v[i].u.s) > dbf_width(name))
            return name;
    }
    return NULL;
}

int situ__demo_out_write(situ__demo_out *o, const situ__demo_feat *f, situ_err *err)
{
    const demo_layer *l = &o->layers[f->coll->cid];
    if (!l->layer)
        return situ_err_set(err, SITU_EINVAL, "demo: no file for %s", f->coll->id);
    const char *longer = is_shapefile(l->fmt) ? too_long(f) : NULL;
    if (longer)
        return situ_err_set(err, SITU_ELIMIT, "demo: %s %s: %s is longer than its DBF field",
                            f->coll->id, f->id, longer);
    OGRFeatureH ft = OGR_F_Create(OGR_L_GetLayerDefn(l->layer));
    OGR_F_SetFieldString(ft, l->f_id, f->id);
    if (f->township_code[0])
        OGR_F_SetFieldString(ft, l->f_township, f->township_code);
    else
        OGR_F_SetFieldNull(ft, l->f_township);
    for (int i = 0; i < f->coll->nfields && i < SITU_DEMO_MAX_FIELDS; i++)
        set_value(ft, l->fid[i], &f->v[i]);
    if (l->f_items >= 0)
        OGR_F_SetFieldString(ft, l->f_items, f->items_json ? f->items_json : "[]");
    int rc = f->geom ? set_geometry(l, ft, f->geom) : -1;
    if (!rc && OGR_L_CreateFeature(l->layer, ft) != OGRERR_NONE)
        rc = -1;
    OGR_F_Destroy(ft);
    if (rc)
        return situ_err_set(err, SITU_EIO, "demo: writing %s %s: %s", f->coll->id, f->id,
                            CPLGetLastErrorMsg());
    return 0;
}

/* ---- closing --------------------------------------------------------------------- */

/* The DBF header holds the date of its last update (bytes 1-3, YY-1900 MM
 * DD); GDAL writes today's, the demo writes its as-of date. */
static int fix_dbf_date(const char *path, situ_err *err)
{
    unsigned char date[3] = {SITU_DEMO_AS_OF_Y - 1900, SITU_DEMO_AS_OF_M, SITU_DEMO_AS_OF_D};
    FILE *f = fopen(path, "r+b");
    if (!f)
        return situ_err_set(err, SITU_EIO, "cannot open %s: %s", path, strerror(errno));
    int bad = fseek(f, 1, SEEK_SET) != 0 || fwrite(date, 1, 3, f) != 3;
    bad |= fclose(f) != 0;
    return bad ? situ_err_set(err, SITU_EIO, "cannot write %s", path) : 0;
}

static int finish_shapefile(const char *dir, const demo_format *fmt, situ_err *err)
{
    char path[4200];
    const char *id = situ_schema_collection(fmt->cid)->id;
    snprintf(path, sizeof path, "%s/%s.cpg", dir, id);
    if (unlink(path) != 0 && errno != ENOENT)
        return situ_err_set(err, SITU_EIO, "cannot remove %s: %s", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%s.dbf", dir, id);
    return fix_dbf_date(path, err);
}

/* Translates collection id's GeoJSON in dir into FlatGeobuf (in file
 * order, no spatial index), opened with the loader's own options, and
 * removes the GeoJSON. */
static int geojson_to_fgb(const char *dir, const char *id, situ_err *err)
{
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/%s.geojson", dir, id);
    snprintf(dst, sizeof dst, "%s/%s.fgb", dir, id);
    const char *drivers[] = {"GeoJSON", NULL}, *oo[] = {SITU_LOAD_GEOJSON_OO, NULL};
    char *argv[] = {"-f", "FlatGeobuf", "-lco", "SPATIAL_INDEX=NO", NULL};
    CPLErrorReset();
    GDALDatasetH in = GDALOpenEx(src, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, oo, NULL);
    GDALVectorTranslateOptions *vo = GDALVectorTranslateOptionsNew(argv, NULL);
    GDALDatasetH out = in && vo ? GDALVectorTranslate(dst, NULL, 1, &in, vo, NULL) : NULL;
    if (out)
        GDALClose(out); /* a failure to write shows as GDAL's last error */
    int bad = !out || CPLGetLastErrorType() >= CE_Failure;
    GDALVectorTranslateOptionsFree(vo);
    if (in)
        GDALClose(in);
    if (bad)
        return gdal_error(err, SITU_EIO, "cannot translate to FlatGeobuf", src);
    return unlink(src) ? situ_err_set(err, SITU_EIO, "cannot remove %s: %s", src, strerror(errno))
                       : 0;
}

int situ__demo_out_close(situ__demo_out *o, int ok, situ_err *err)
{
    if (!o)
        return 0;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        demo_layer *l = &o->layers[i];
        if (l->ct)
            OCTDestroyCoordinateTransformation(l->ct);
        if (l->ds)
            GDALClose(l->ds);
    }
    int rc = 0;
    for (int i = 0; ok && !rc && i < NFORMATS; i++)
        if (is_shapefile(&formats[i]))
            rc = finish_shapefile(o->dir, &formats[i], err);
        else if (o->layers[formats[i].cid].to_fgb)
            rc = geojson_to_fgb(o->dir, situ_schema_collection(formats[i].cid)->id, err);
    free(o);
    return rc;
}

/* ---- departments.csv and manifest.ini ------------------------------------------------ */

static int write_departments(GDALDatasetH ds)
{
    char **lco = csv_options();
    OGRLayerH l = GDALDatasetCreateLayer(ds, "departments", NULL, wkbNone, lco);
    CSLDestroy(lco);
    static const char *const names[] = {"code", "name_zh", "name_en", "interval_s"};
    for (int i = 0; l && i < 4; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(names[i], i == 3 ? OFTInteger : OFTString);
        OGR_L_CreateField(l, fd, 1);
        OGR_Fld_Destroy(fd);
    }
    int bad = !l;
    for (int i = 0; !bad && i < situ_schema_ndepts(); i++) {
        const situ_dept *d = situ_schema_dept(i);
        OGRFeatureH ft = OGR_F_Create(OGR_L_GetLayerDefn(l));
        OGR_F_SetFieldString(ft, 0, d->code);
        OGR_F_SetFieldString(ft, 1, d->name_zh);
        OGR_F_SetFieldString(ft, 2, d->name_en);
        OGR_F_SetFieldInteger(ft, 3, d->interval_s);
        bad = OGR_L_CreateFeature(l, ft) != OGRERR_NONE;
        OGR_F_Destroy(ft);
    }
    return bad ? -1 : 0;
}

int situ__demo_out_departments(const char *dir, situ_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/departments.csv", dir);
    unlink(path);
    GDALDriverH drv = GDALGetDriverByName("CSV");
    GDALDatasetH ds = drv ? GDALCreate(drv, path, 0, 0, 0, GDT_Unknown, NULL) : NULL;
    if (!ds)
        return gdal_error(err, SITU_EIO, "cannot create", path);
    int bad = write_departments(ds);
    GDALClose(ds);
    return bad ? gdal_error(err, SITU_EIO, "cannot write", path) : 0;
}

static void manifest_section(FILE *f, const demo_format *fmt)
{
    const situ_collection *c = situ_schema_collection(fmt->cid);
    fprintf(f, "\n[%s]\nfile = %s.%s\n", c->id, c->id, fmt->ext);
    if (fmt->s_srs)
        fprintf(f, "s_srs = %s\n", fmt->s_srs);
    if (fmt->encoding)
        fprintf(f, "encoding = %s\n", fmt->encoding);
    if (!is_shapefile(fmt))
        return;
    fprintf(f, "map = ");
    for (size_t i = 0; i < sizeof dbf_names / sizeof dbf_names[0]; i++)
        fprintf(f, "%s%s=%s", i ? "," : "", dbf_names[i].dbf, dbf_names[i].prop);
    fprintf(f, "\n");
}

int situ__demo_out_manifest(const char *dir, const situ_demo_opts *opts, situ_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.ini", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return situ_err_set(err, SITU_EIO, "cannot create %s: %s", path, strerror(errno));
    fprintf(f,
            "; Written by `situ demo --seed %llu --scale %d`. Each file named by a\n"
            "; collection id is one collection; the sections say what a file cannot\n"
            "; say itself: its CRS (s_srs), its text encoding, field names to map.\n",
            opts->seed, opts->scale);
    for (int i = 0; i < NFORMATS; i++)
        if (formats[i].s_srs || formats[i].encoding || is_shapefile(&formats[i]) ||
            formats[i].cid == SITU_C_ROADS)
            manifest_section(f, &formats[i]);
    return fclose(f) ? situ_err_set(err, SITU_EIO, "cannot write %s", path) : 0;
}

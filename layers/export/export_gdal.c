/*
 * export_gdal.c: turns a GeoJSON file into any vector format GDAL writes,
 * with GDALVectorTranslate (ogr2ogr's library face). Private to export_file.c.
 * Any GDAL failure fails the whole translation, even when GDAL went on and
 * returned a dataset (a GPX asked to hold polygons writes a partial file).
 */
#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_vsi.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "situ/export.h"

#include "export_gdal.h"

static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;
static void gdal_init(void)
{
    GDALAllRegister();
}

typedef struct err_sink {
    char msg[256];
} err_sink;

static void CPL_STDCALL capture(CPLErr cls, CPLErrorNum no, const char *msg)
{
    err_sink *s = CPLGetErrorHandlerUserData();
    (void)no;
    if (cls >= CE_Failure && s && !s->msg[0])
        snprintf(s->msg, sizeof s->msg, "%.*s", (int)strcspn(msg, "\n"), msg);
}

/* GDAL's message with every mention of the temporary dst_path as shown. */
static void name_target(char *msg, size_t cap, const char *dst_path, const char *shown)
{
    char out[512], *at;
    size_t n = strlen(dst_path);
    if (!n || !(at = strstr(msg, dst_path)))
        return;
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - msg), msg, shown, at + n);
    snprintf(msg, cap, "%.*s", (int)cap - 1, out);
}

/* 1 when GDAL opens what it wrote at path (some drivers, XLSX's, fail at
 * close without a word). */
static int reads_back(const char *path, err_sink *sink)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    if (ds)
        GDALClose(ds);
    else if (!sink->msg[0])
        snprintf(sink->msg, sizeof sink->msg, "what it wrote does not open");
    return ds != NULL;
}

/* 1 when t_srs is CRS84 (or not given): files then stay RFC 7946. */
static int is_crs84(const char *t_srs)
{
    return !t_srs || !strcmp(t_srs, "OGC:CRS84");
}

static char **add_option(char **argv, const char *flag, const char *value)
{
    return CSLAddString(CSLAddString(argv, flag), value);
}

/* ogr2ogr's arguments for o, writing the layer `layer` of the features
 * whose collection is `only` (NULL: all). */
static char **translate_args(const situ_export_file_opts *o, const char *layer, const char *only)
{
    char where[96];
    char **argv = add_option(NULL, "-f", o->format);
    argv = add_option(argv, "-nln", layer);
    if (only) {
        snprintf(where, sizeof where, "collection = '%s'", only);
        argv = add_option(argv, "-where", where);
    }
    if (!is_crs84(o->t_srs))
        argv = add_option(argv, "-t_srs", o->t_srs);
    if (!strcmp(o->format, "ESRI Shapefile"))
        argv = add_option(argv, "-lco",
                          o->encoding && !strcmp(o->encoding, "GBK") ? "ENCODING=GBK"
                                                                     : "ENCODING=UTF-8");
    if (!strcmp(o->format, "GeoJSON") && is_crs84(o->t_srs))
        argv = add_option(argv, "-lco", "RFC7946=YES");
    if (!strcmp(o->format, "CSV"))
        argv = add_option(argv, "-lco", "GEOMETRY=AS_WKT");
    if (!strcmp(o->format, "KML"))
        argv = add_option(argv, "-dsco", "NameField=name");
    return argv;
}

/* Translates src into dst_path (or into *dst once open): one layer, or one
 * per collection in split (NULL-ended). */
static GDALDatasetH translate_layers(GDALDatasetH src, const char *dst_path,
                                     const situ_export_file_opts *o, const char *const *split)
{
    GDALDatasetH dst = NULL;
    for (int i = 0; !i || (split && split[i]); i++) {
        char **argv = translate_args(o, split ? split[i] : o->layer, split ? split[i] : NULL);
        GDALVectorTranslateOptions *opts = GDALVectorTranslateOptionsNew(argv, NULL);
        int usage_error = 0;
        GDALDatasetH out =
            opts ? GDALVectorTranslate(dst ? NULL : dst_path, dst, 1, &src, opts, &usage_error)
                 : NULL;
        GDALVectorTranslateOptionsFree(opts);
        CSLDestroy(argv);
        if (!out) {
            if (dst)
                GDALClose(dst);
            return NULL;
        }
        dst = out;
    }
    return dst;
}

/* Zips the files of folder dir (one Shapefile per layer) into zip_path and
 * removes them and dir. */
static int zip_folder(const char *dir, const char *zip_path, err_sink *sink)
{
    char **names = VSIReadDir(dir);
    void *zip = CPLCreateZip(zip_path, NULL);
    int ok = zip != NULL;
    for (int i = 0; names && names[i]; i++) {
        const char *p = CPLFormFilename(dir, names[i], NULL);
        vsi_l_offset n = 0;
        GByte *bytes = NULL;
        if (names[i][0] == '.')
            continue;
        if (ok && VSIIngestFile(NULL, p, &bytes, &n, -1))
            ok = CPLCreateFileInZip(zip, names[i], NULL) == CE_None &&
                 CPLWriteFileInZip(zip, bytes, (int)n) == CE_None &&
                 CPLCloseFileInZip(zip) == CE_None;
        else
            ok = 0;
        VSIFree(bytes);
        VSIUnlink(p);
    }
    if (zip && CPLCloseZip(zip) != CE_None)
        ok = 0;
    CSLDestroy(names);
    VSIRmdir(dir);
    if (!ok && !sink->msg[0])
        snprintf(sink->msg, sizeof sink->msg, "cannot zip the Shapefiles");
    return ok;
}

int situ__export_translate(const char *src_path, const char *dst_path, const char *shown,
                           const situ_export_file_opts *o, const char *const *split, situ_err *err)
{
    const char *format = o->format;
    pthread_once(&gdal_once, gdal_init);
    if (!GDALGetDriverByName(format))
        return situ_err_set(err, SITU_EINVAL, "unknown GDAL format '%s'", format);
    /* several Shapefiles go into a folder, zipped after */
    int shp_folder = split && !strcmp(format, "ESRI Shapefile");
    char folder[4096];
    snprintf(folder, sizeof folder, "%s.layers", dst_path);
    err_sink sink = {""};
    CPLPushErrorHandlerEx(capture, &sink);
    GDALDatasetH src = GDALOpenEx(src_path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    GDALDatasetH dst = src ? translate_layers(src, shp_folder ? folder : dst_path, o, split) : NULL;
    int rc = dst && !sink.msg[0] ? 0 : SITU_EIO;
    if (dst)
        GDALClose(dst);
    if (src)
        GDALClose(src);
    if (!rc && shp_folder && !zip_folder(folder, dst_path, &sink))
        rc = SITU_EIO;
    if (!rc && !reads_back(dst_path, &sink))
        rc = SITU_EIO;
    CPLPopErrorHandler();
    name_target(sink.msg, sizeof sink.msg, dst_path, shown);
    if (rc)
        return situ_err_set(err, rc, "GDAL could not write %s as %s: %s", shown, format,
                            sink.msg[0] ? sink.msg : "unknown error");
    return 0;
}

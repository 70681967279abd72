/*
 * export_gdal.c: turns a GeoJSON file into any vector format GDAL writes,
 * with GDALVectorTranslate (ogr2ogr's library face). Private to export_file.c.
 * Any GDAL failure fails the whole translation, even when GDAL went on and
 * returned a dataset (a GPX asked to hold polygons writes a partial file).
 */
#include <cpl_error.h>
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

int situ__export_translate(const char *src_path, const char *dst_path, const char *shown,
                           const char *format, const char *layer, situ_err *err)
{
    pthread_once(&gdal_once, gdal_init);
    if (!GDALGetDriverByName(format))
        return situ_err_set(err, SITU_EINVAL, "unknown GDAL format '%s'", format);
    err_sink sink = {""};
    CPLPushErrorHandlerEx(capture, &sink);
    GDALDatasetH src = GDALOpenEx(src_path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    char **argv = NULL;
    argv = CSLAddString(argv, "-f");
    argv = CSLAddString(argv, format);
    argv = CSLAddString(argv, "-nln");
    argv = CSLAddString(argv, layer);
    if (!strcmp(format, "ESRI Shapefile")) {
        argv = CSLAddString(argv, "-lco");
        argv = CSLAddString(argv, "ENCODING=UTF-8");
    }
    if (!strcmp(format, "GeoJSON")) {
        argv = CSLAddString(argv, "-lco");
        argv = CSLAddString(argv, "RFC7946=YES");
    }
    GDALVectorTranslateOptions *opts = GDALVectorTranslateOptionsNew(argv, NULL);
    int usage_error = 0;
    GDALDatasetH dst =
        src && opts ? GDALVectorTranslate(dst_path, NULL, 1, &src, opts, &usage_error) : NULL;
    int rc = dst && !sink.msg[0] ? 0 : SITU_EIO;
    if (dst)
        GDALClose(dst);
    if (src)
        GDALClose(src);
    GDALVectorTranslateOptionsFree(opts);
    CSLDestroy(argv);
    CPLPopErrorHandler();
    name_target(sink.msg, sizeof sink.msg, dst_path, shown);
    if (rc)
        return situ_err_set(err, rc, "GDAL could not write %s as %s: %s", shown, format,
                            sink.msg[0] ? sink.msg : "unknown error");
    return 0;
}

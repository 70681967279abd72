/*
 * export_gdal.c: turns a GeoJSON file into any vector format GDAL writes,
 * with GDALVectorTranslate (ogr2ogr's library face). Private to export.c.
 */
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
        snprintf(s->msg, sizeof s->msg, "%s", msg);
}

int situ__export_translate(const char *src_path, const char *dst_path, const char *format,
                           const char *layer, situ_err *err)
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
    unlink(dst_path);
    GDALDatasetH dst = src && opts ? GDALVectorTranslate(dst_path, NULL, 1, &src, opts, &usage_error)
                                   : NULL;
    int rc = dst ? 0 : SITU_EIO;
    if (dst)
        GDALClose(dst);
    if (src)
        GDALClose(src);
    GDALVectorTranslateOptionsFree(opts);
    CSLDestroy(argv);
    CPLPopErrorHandler();
    if (rc)
        return situ_err_set(err, rc, "GDAL could not write %s as %s: %s", dst_path, format,
                            sink.msg[0] ? sink.msg : "unknown error");
    return 0;
}

/* export_gdal.h: private to layers/export/export*.c. GDAL format conversion. */
#ifndef SITU_EXPORT_GDAL_H
#define SITU_EXPORT_GDAL_H

#include "situ/err.h"

/* Converts the GeoJSON file src_path to dst_path in GDAL format `format`,
 * naming the layer `layer`; dst_path must not exist yet. Messages call
 * dst_path `shown` (the file the operator asked for). */
int situ__export_translate(const char *src_path, const char *dst_path, const char *shown,
                           const char *format, const char *layer, situ_err *err);

#endif

/* export_gdal.h: private to layers/export/export*.c. GDAL format conversion. */
#ifndef SITU_EXPORT_GDAL_H
#define SITU_EXPORT_GDAL_H

#include "situ/err.h"
#include "situ/export.h"

/* Converts the GeoJSON file src_path to dst_path as o says (format, layer,
 * t_srs, encoding); dst_path must not exist yet. split (NULL-ended, or
 * NULL): one layer per collection named there, of the features whose
 * "collection" is its name (several Shapefiles are zipped into dst_path).
 * Messages call dst_path `shown` (the file the operator asked for). */
int situ__export_translate(const char *src_path, const char *dst_path, const char *shown,
                           const situ_export_file_opts *o, const char *const *split, situ_err *err);

/* A drill bundle's collections in its order, NULL-ended; NULL for an
 * export of one collection. */
const char *const *situ__export_drill_layers(const situ_export *e);

#endif

/*
 * situ/export.h: whole RFC 7946 FeatureCollections streamed from a snapshot
 * in pieces, so memory stays flat whatever the size: one collection
 * (optionally filtered), or the drill bundle of some townships (their
 * polygons, their four maps and the active alerts over them, every feature
 * tagged with its collection). situ_export_to_file turns the stream into any
 * vector format GDAL writes.
 */
#ifndef SITU_EXPORT_H
#define SITU_EXPORT_H

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/query.h"
#include "situ/snapshot.h"

typedef struct situ_export situ_export;

/* A stream of the features of q->c matching q (offset and limit ignored).
 * The export retains snap until situ_export_free. */
int situ_export_collection_new(situ_snapshot *snap, const situ_query *q, situ_export **out,
                               situ_err *err);
/* A stream of the drill bundle of n township codes (each must exist). */
int situ_export_drill_new(situ_snapshot *snap, const char *const *codes, int n, const char *now,
                          situ_export **out, situ_err *err);
/* Appends the next piece (about 64 KiB) to b; returns 1 while more follows,
 * 0 after the last piece. */
int situ_export_next(situ_export *e, situ_buf *b);
/* Number of features written so far. */
size_t situ_export_count(const situ_export *e);
void situ_export_free(situ_export *e);

/* Writes the whole stream to path in GDAL format `format` ("GeoJSON", "GPKG",
 * "ESRI Shapefile" (UTF-8 with a .cpg), "KML", ...), layer named `layer`. */
int situ_export_to_file(situ_export *e, const char *path, const char *format, const char *layer,
                        situ_err *err);

#endif

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
/* From now on a resource's items go as one property per item (its Chinese
 * name: its quantity), the columns of a sheet, instead of an array. */
void situ_export_items_as_columns(situ_export *e);
/* Number of features written so far. */
size_t situ_export_count(const situ_export *e);
void situ_export_free(situ_export *e);

/* Which CRSs a format's files can be written in. */
typedef enum situ_export_crs_rule {
    SITU_EXPORT_ANY_CRS = 0, /* every CRS of situ/crs.h */
    SITU_EXPORT_CRS84_ONLY,  /* KML: always WGS84 lon/lat */
    SITU_EXPORT_NO_COORDS,   /* XLSX: a sheet holds no geometry */
} situ_export_crs_rule;

/* The formats an export is offered in by name. */
typedef struct situ_export_format {
    const char *ext;          /* "geojson", "gpkg", "shp.zip", "csv", "xlsx", "kml" */
    const char *gdal;         /* GDAL's short name */
    const char *mime;         /* its media type */
    int items_as_columns;     /* a sheet: see situ_export_items_as_columns */
    situ_export_crs_rule crs; /* the CRSs it can be written in */
} situ_export_format;

/* The format whose ext or GDAL short name is name, or NULL. */
const situ_export_format *situ_export_format_find(const char *name);
/* 0 when f can be written in crs (situ/crs.h), else SITU_EINVAL with err
 * naming param and why (KML is CRS84 only; an XLSX sheet has no coordinates
 * to transform, so only CRS84, the default, is taken). f NULL (a GDAL
 * format not in the table) takes any crs. */
int situ_export_format_check_crs(const situ_export_format *f, int crs, const char *param,
                                 situ_err *err);

/* How situ_export_to_file writes. */
typedef struct situ_export_file_opts {
    const char *format;   /* GDAL short name: "GeoJSON", "GPKG", "ESRI Shapefile", "KML", ... */
    const char *layer;    /* the layer's name */
    const char *protect;  /* the store's path: it, its -wal, -shm and -journal are never
                             written over (compared by device and inode), or NULL */
    int force;            /* 1: an existing regular file may be replaced */
    const char *t_srs;    /* the CRS to write in, as PROJ names it ("EPSG:4546"; files keep
                             x = easting/longitude), or NULL for CRS84 */
    const char *encoding; /* a Shapefile's .dbf and .cpg: NULL or "UTF-8", or "GBK" */
    size_t max_bytes;     /* 0, or the most the GeoJSON source and the result may each
                             take on disk: past it, SITU_ELIMIT */
} situ_export_file_opts;

/* Writes the whole stream to path in GDAL format o->format (a Shapefile in
 * UTF-8 with a .cpg). Everything is written into a temporary folder beside
 * path (within o->max_bytes) and renamed into place only when GDAL succeeded, so a failure leaves
 * what was there untouched. Refuses (SITU_EINVAL or SITU_ECONFLICT) a path
 * that is not a regular file, the store itself, and an existing file unless
 * o->force; failures name the path and errno's reason. */
int situ_export_to_file(situ_export *e, const char *path, const situ_export_file_opts *o,
                        situ_err *err);

#endif

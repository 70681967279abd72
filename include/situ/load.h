/*
 * situ/load.h: reading any OGR source into the store.
 *
 * Owns: opening a source with GDAL (GeoJSON, GeoPackage, Shapefile, CSV with
 * lon/lat columns, KML, ...), reprojection to EPSG:4326 with PROJ (traditional
 * GIS axis order), text encodings (GBK DBFs with or without .cpg), field
 * mapping onto the collection's schema, GEOS validation and repair, township
 * assignment by point-in-polygon, and the per-feature rejection reasons.
 * Does not own: the file's schema or the write itself (store.h).
 *
 * Entry points: situ_load_file (one source, one collection) and situ_load_dir
 * (every collection file in a folder plus its manifest.ini), each in one
 * transaction: a load that fails leaves the file exactly as it was.
 */
#ifndef SITU_LOAD_H
#define SITU_LOAD_H

#include "situ/err.h"
#include "situ/schema.h"
#include "situ/store.h"

#define SITU_LOAD_MAX_REASONS 16

typedef struct situ_load_opts {
    const char *collection; /* collection id; required for situ_load_file */
    const char *layer;      /* NULL: the source's first layer */
    const char *s_srs;      /* NULL: the source's own CRS (required when it has none) */
    const char *encoding;   /* NULL: the .cpg, else GDAL's default; e.g. "GBK" */
    const char *const *map; /* "src_field=prop" pairs */
    int nmap;
    /* Called now and then on long loads; may be NULL. */
    void (*progress)(void *ctx, const char *collection, long long done, long long total);
    void *progress_ctx;
} situ_load_opts;

typedef struct situ_load_reason {
    char reason[128];
    long long n;
    char example_id[64];
} situ_load_reason;

typedef struct situ_load_stats {
    char collection[32];
    long long read, inserted, updated, repaired, rejected, outside;
    situ_load_reason reasons[SITU_LOAD_MAX_REASONS]; /* grouped rejection reasons */
    int nreasons;
} situ_load_stats;

/* Loads one source into o->collection in one transaction. out_stats is
 * written on success. */
int situ_load_file(situ_store *s, const char *path, const situ_load_opts *o,
                   situ_load_stats *out_stats, situ_err *err);

/* Loads every file in dir whose base name is a collection id, townships
 * first, using dir/manifest.ini for what a file cannot say for itself; one
 * transaction for all. out_stats[cid] is written for each collection found;
 * *out_nfiles counts the files loaded. */
int situ_load_dir(situ_store *s, const char *dir, const situ_load_opts *o,
                  situ_load_stats out_stats[SITU_NCOLLECTIONS], int *out_nfiles, situ_err *err);

#endif

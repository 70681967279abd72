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
/* The GDAL open option a GeoJSON source is read with: dates stay the text
 * they are (also what the demo translates its FlatGeobuf files with, so
 * that they load alike). */
#define SITU_LOAD_GEOJSON_OO "DATE_AS_STRING=YES"

typedef struct situ_load_opts {
    const char *collection; /* collection id; required for situ_load_file */
    const char *layer;      /* NULL: the layer named like the collection, else the first */
    /* A CRS PROJ knows ("EPSG:4546"). situ_load_file: overrides the file's
     * own. situ_load_dir: only for files without one, after manifest s_srs. */
    const char *s_srs;
    /* Text encoding of a Shapefile's DBF (or a CSV): GBK, GB2312, CP936,
     * GB18030, UTF-8 or any iconv name. situ_load_file: overrides the .cpg.
     * situ_load_dir: only for files without .cpg, after manifest encoding. */
    const char *encoding;
    /* "src_field=prop" pairs; prop is a schema field, id or township_code.
     * situ_load_file only: with situ_load_dir put them in manifest.ini. */
    const char *const *map;
    int nmap;
    /* A file without an id field (id, fid or code) is refused unless id_field
     * names its id field or generate_ids asks for ids made of the collection,
     * a hash of the file's base name and layer, and the FID (so two files
     * cannot overwrite each other's features). situ_load_file only. */
    const char *id_field;
    int generate_ids;
    /* The share (0..1) of placed features that may lie outside every
     * township, disagree with their file's township_code or name a township
     * that does not exist before the load fails (default 0 means 0.5);
     * accept_outside: never fail for that. */
    double max_outside_share;
    int accept_outside;
    /* The load fails (changing nothing) when nothing was stored, or when
     * more than this share of the features read was rejected (0: 0.5). */
    double max_rejected_share;
    /* Work per feature: vertices of one polygonal geometry (0: 200,000) and
     * seconds GEOS may spend repairing one (0: 10 s); past either the
     * feature is rejected as too complex. */
    long long max_vertices;
    double repair_seconds;
    /* A repair that changes a polygon's area by more than max_area_change
     * (a share, 0: 0.01) is rejected, or with flag_repairs stored and listed
     * as flagged for review. */
    double max_area_change;
    int flag_repairs;
    /* Called for every rejected or flagged feature (id or "feature #FID",
     * the field or "", the reason); may be NULL. */
    void (*on_feature)(void *ctx, const char *collection, const char *id, const char *what,
                       const char *reason);
    void *on_feature_ctx;
    /* Called at most twice a second on loads longer than a second, and once
     * at the end of those; total is -1 when the source cannot tell. May be NULL. */
    void (*progress)(void *ctx, const char *collection, long long done, long long total);
    void *progress_ctx;
} situ_load_opts;

typedef struct situ_load_reason {
    char reason[128]; /* names the field: "risk_level outside 1..4" */
    long long n;
    char example_id[64]; /* the first feature rejected so ("feature #FID" without id) */
} situ_load_reason;

typedef struct situ_load_stats {
    char collection[32];
    long long read;        /* features read from the source */
    long long inserted;    /* new ids */
    long long updated;     /* ids already stored (a re-load updates, never duplicates) */
    long long repaired;    /* invalid polygons stored after GEOS MakeValid */
    long long rejected;    /* not stored; see reasons */
    long long skipped;     /* not for the collection: OSM ways no car may drive */
    long long outside;     /* stored without township_code: outside every township */
    long long disagree;    /* stored in the township of its geometry, not the file's code */
    long long bad_code;    /* rejected: their township_code names no township */
    long long gbk;         /* features whose undeclared text was read as GBK/GB18030 */
    long long flagged;     /* repairs that changed the area past the limit, kept for review */
    double worst_repair_s; /* the longest a repair took */
    situ_load_reason reasons[SITU_LOAD_MAX_REASONS]; /* grouped; the last may be "other reasons" */
    int nreasons;
} situ_load_stats;

/* Loads one source into o->collection in one transaction: a failure (file
 * unreadable, no CRS, bad --map, database error) changes nothing; rejected
 * features are counted, not failures. out_stats is written on success. */
int situ_load_file(situ_store *s, const char *path, const situ_load_opts *o,
                   situ_load_stats *out_stats, situ_err *err);

/* Loads every file in dir whose base name is a collection id (townships
 * first, then in schema order), using dir/manifest.ini for what a file cannot
 * say for itself (file, encoding, s_srs, layer, map per [collection]); one
 * transaction for all. out_stats[cid] is written for each collection loaded
 * (the others are zeroed); *out_nfiles counts the files loaded. */
int situ_load_dir(situ_store *s, const char *dir, const situ_load_opts *o,
                  situ_load_stats out_stats[SITU_NCOLLECTIONS], int *out_nfiles, situ_err *err);

#endif

/*
 * situ/tile.h: one collection's features as one Mapbox Vector Tile layer,
 * named by the collection id. Owns tile addressing (parsing z/x/y, bounds in
 * Web Mercator and lon/lat), the per-zoom generalisation (simplify, clip,
 * snap, clean, orient; tiny polygons as points; point clustering) and the
 * feature properties. Does not own the wire format (mvt.h), caching and
 * compression (tilecache.h) or HTTP (the daemon's route).
 *
 * A situ_tilesrc is a collection prepared for tiling once per situ_coll:
 * Web Mercator coordinates, each vertex's simplification importance (so a
 * zoom's simplification is a filter, not a recomputation), feature boxes and
 * areas, and the properties pre-encoded as deduplicated MVT values. It is
 * immutable and reference counted; any number of threads encode from it.
 *
 *     coll --situ_tilesrc_new--> src --situ_tile_encode_coll(z, x, y)--> layer bytes
 */
#ifndef SITU_TILE_H
#define SITU_TILE_H

#include <stddef.h>
#include <stdint.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/schema.h"
#include "situ/snapshot.h"

#define SITU_TILE_MAXZOOM 22
/* Where the townships give way to their counties, and those to their
 * provinces (situ_tile_opts; chosen from measurement, see tile.c). */
#define SITU_TILE_COUNTY_BELOW 6
#define SITU_TILE_PROVINCE_BELOW 3
/* Below this zoom the point maps are per-cell aggregates (see tile.c). */
#define SITU_TILE_AGGREGATE_BELOW 8
#define SITU_TILE_URGENT_FROM 6
/* Below urgent_from, urgent features in one square of this many tile units
 * (2 pixels of a 512-pixel tile) merge into one mark (see tile_urgent.c). */
#define SITU_TILE_URGENT_MARK_CELL 16
/* The tile set that holds every collection, one layer each. */
#define SITU_TILESET_ALL ((int)SITU_NCOLLECTIONS)

typedef struct situ_tile_xyz {
    int z;
    uint32_t x, y;
} situ_tile_xyz;

typedef struct situ_tile_opts {
    uint32_t extent;                    /* tile units per side (4096) */
    uint32_t buffer;                    /* units kept beyond each edge (64) */
    double simplify;                    /* tolerance in tile units (1): a vertex goes when
                                          the line moves by less without it */
    double tiny;                        /* a polygon whose box is under this many units on both
                                           sides is written as a point (2) */
    uint32_t cluster_cell;              /* cluster grid cell side, in tile units (64) */
    uint32_t cluster_more_than;         /* a cell clusters when it holds more points (4) */
    double cluster_polygon;             /* polygons under this many units on both sides
                                           cluster like points (128) ... */
    uint32_t cluster_polygon_more_than; /* ... when a cell holds more of them (1) */
    /* Per collection: the lowest zoom that carries it (the collection table's
     * minzoom by default) and the highest zoom at which its points cluster
     * (-1: never). */
    int minzoom[SITU_NCOLLECTIONS];
    int cluster_maxzoom[SITU_NCOLLECTIONS];
    /* Low zooms (situ/admin.h): below county_below the townships layer
     * gives way to the "counties" layer (townships dissolved by their
     * 6-digit county prefix), below province_below to "provinces". */
    int county_below;
    int province_below;
    /* Below aggregate_below the point collections (hazards, hazard sources,
     * resources, stations) are written as aggregates: every feature in a
     * cell of aggregate_cell units folds into one Point with cluster=true,
     * point_count, its counts by level and status and the sums of its
     * fields and items (no ids), except the urgent ones: a hidden danger
     * not rectified whose deadline is before `today` stays itself (id,
     * level, status, deadline only) from urgent_from up. Below urgent_from
     * the aggregates count them too, and each is also in one urgent mark on
     * top: those whose points fall in one square of urgent_mark_cell units
     * are one Point with urgent=n (and, when n is 1, its id); 0, or a cell that does not divide
     * extent: no marks. Every collection is carried below aggregate_below from zoom 0. */
    int aggregate_below;
    uint32_t aggregate_cell;
    int urgent_from;
    uint32_t urgent_mark_cell;
    int today; /* YYYYMMDD at which deadlines are judged (situ_store_today_ymd); 0: none is overdue
                */
    /* 1: an aggregate tile scans its features instead of reading the
     * collection's prepared per-zoom aggregates (the same answer, slower;
     * for tests and benchmarks) */
    int scan_aggregates;
} situ_tile_opts;

/* Fills o with the defaults above and the per-collection table in tile.c;
 * today is the current day in the process's time zone (situ_store_today_ymd). */
void situ_tile_opts_default(situ_tile_opts *o);

/* Validates the three path parts of a tile address: digits only (no sign, no
 * leading zeros, at most 7 digits), z <= 22, x and y < 2^z. Returns 0 and
 * writes *out, or SITU_EINVAL with a message naming the bad part. */
int situ_tile_parse(const char *zz, const char *zx, const char *zy, situ_tile_xyz *out,
                    situ_err *err);
/* The same for "z/x/y" followed by ext (e.g. ".mvt", or "" for none). */
int situ_tile_parse_path(const char *path, const char *ext, situ_tile_xyz *out, situ_err *err);
/* A tile set name: "all" gives SITU_TILESET_ALL, a collection id its
 * situ_coll_id; anything else SITU_ENOTFOUND. */
int situ_tile_set_parse(const char *name, int *out_set, situ_err *err);

/* The tile's bounds in EPSG:3857 metres: minx, miny, maxx, maxy. */
void situ_tile_bounds_3857(situ_tile_xyz t, double out[4]);
/* The tile's bounds in lon/lat, grown by `buffer` units of `extent` on each
 * side (0 for the tile itself): minlon, minlat, maxlon, maxlat. */
void situ_tile_bounds_lonlat(situ_tile_xyz t, uint32_t extent, uint32_t buffer, double out[4]);

/* Web Mercator normalised to [0, 1] (x east, y south), the space tiles are cut in. */
void situ_tile_project(double lon, double lat, double *out_x, double *out_y);

typedef struct situ_tilesrc situ_tilesrc;

/* Prepares collection c for tiling (retains c). *out_src has refs = 1. The
 * townships also get their counties and provinces (situ_admin_dissolve,
 * GEOS) prepared with them, for the low zooms. */
int situ_tilesrc_new(situ_coll *c, situ_tilesrc **out_src, situ_err *err);
/* The same, for the next version of a collection: when situ_coll_update
 * made c from prev's collection (c's lineage), every feature it copied gets
 * all prev prepared for it copied (geometry, encoded properties, aggregate
 * row) and only the features the changes named are prepared again; else
 * each feature that prev (NULL: none) holds with the same id and the same
 * coordinates gets its prepared geometry copied. So a change costs the
 * features and vertices it touched plus a copy of the arrays (for the
 * townships: the county and province of the townships that changed; for
 * the point maps: the squares of the aggregate pyramid those features
 * leave or enter, at every zoom below SITU_TILE_AGGREGATE_BELOW). The
 * result's tiles equal situ_tilesrc_new's byte for byte. */
int situ_tilesrc_new_from(situ_coll *c, const situ_tilesrc *prev, situ_tilesrc **out_src,
                          situ_err *err);
situ_tilesrc *situ_tilesrc_retain(situ_tilesrc *s);
/* Drops a reference; frees (and releases the collection) at zero. NULL is a no-op. */
void situ_tilesrc_release(situ_tilesrc *s);
const situ_coll *situ_tilesrc_coll(const situ_tilesrc *s);
/* The townships' counties (level 0) or provinces (1) prepared for tiling,
 * or NULL for another collection. Borrowed from s. */
const situ_tilesrc *situ_tilesrc_admin(const situ_tilesrc *s, int level);
/* Memory held beyond the collection itself, for metrics. */
size_t situ_tilesrc_bytes(const situ_tilesrc *s);

typedef struct situ_tile_stats {
    size_t features;  /* features written (clusters count once) */
    size_t polygons;  /* of which polygons */
    size_t lines;     /* of which lines */
    size_t collapsed; /* polygons written as points (tiny at this zoom) */
    size_t clusters;  /* cluster features */
    size_t clustered; /* points inside clusters */
    size_t vertices;  /* polygon and line vertices written */
    size_t marks;     /* urgent marks (below urgent_from) */
} situ_tile_stats;

/* Appends the MVT layer of src's collection for tile t to out (nothing when
 * the tile holds none of its features, or t.z is below its minzoom). For the
 * townships below o->county_below the layer is their counties' or
 * provinces' outlines instead (see situ_tilesrc_new). The
 * bytes are one Tile.layers entry, so layers concatenate into a tile.
 * o NULL means the defaults. *out_stats, if given, is written on success.
 * Thread-safe; per-thread scratch memory is kept between calls. */
int situ_tile_encode_coll(const situ_tilesrc *src, situ_tile_xyz t, const situ_tile_opts *o,
                          situ_buf *out, situ_tile_stats *out_stats, situ_err *err);

/* The MVT feature id of a situ feature id: 53 bits of FNV-1a (safe in a
 * JavaScript number), never 0. The string id is also the property `id`. */
uint64_t situ_tile_feature_id(const char *id);

/* The property keys a layer of collection c may carry, with their TileJSON
 * types ("String", "Number", "Boolean"), cluster properties included; for
 * TileJSON. Calls fn once per key in layer key order. */
void situ_tile_fields(const situ_collection *c,
                      void (*fn)(void *ctx, const char *key, const char *type, int cluster_only),
                      void *ctx);

#endif

/*
 * situ/tilejson.h: TileJSON 3.0.0 for a tile set (a collection id or
 * "all"): the tile URL template, zoom range, bounds and centre from the
 * snapshot, and vector_layers with each layer's fields and their types,
 * minzoom, and how its points (and small polygons) cluster at low zooms.
 * Does not own tile cutting (tile.h) or HTTP.
 */
#ifndef SITU_TILEJSON_H
#define SITU_TILEJSON_H

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/snapshot.h"
#include "situ/tile.h"

/* Appends the TileJSON of tile set `set` ("all" or a collection id) to out.
 * base_url is the daemon's public root without a trailing slash (e.g.
 * "http://127.0.0.1:8080"); o NULL means the default tile options. Returns
 * SITU_ENOTFOUND for an unknown set. */
int situ_tilejson_write(situ_buf *out, const situ_snapshot *snap, const char *set,
                        const char *base_url, const situ_tile_opts *o, situ_err *err);

/* Appends to out, as a JSON string, the plain-language description of
 * collection c's layer under options o (NULL: the defaults): what it holds
 * and what each zoom carries (tiny polygons as points, clusters, the
 * aggregates, the urgent features and marks). TileJSON's vector_layers and
 * the OGC tilesets' layers say the same. */
void situ_tilejson_layer_description(situ_buf *out, const situ_collection *c,
                                     const situ_tile_opts *o);

/* The union of the lon/lat extents of the set's collections (minlon, minlat,
 * maxlon, maxlat) in out; returns 0 when they are all empty. */
int situ_tileset_bounds(const situ_snapshot *snap, int set, double out[4]);

#endif

/*
 * situ/places.h: the base map's named places (county seats, township seats,
 * villages), read once from a file (any OGR point source; `situ demo` writes
 * places.geojson) and kept in memory, read-only: the wall's labels and the
 * phone's search by name. Not a collection: no store table, no tiles, no
 * township counts, so the four maps stay as they are.
 *
 * A place: name (required), kind (county_seat | township_seat | village,
 * required), township_code, township_name, county_name; a Point, in any CRS
 * OGR can turn into WGS84 lon/lat.
 */
#ifndef SITU_PLACES_H
#define SITU_PLACES_H

#include <stddef.h>

#include "situ/buf.h"
#include "situ/err.h"

typedef struct situ_places situ_places;

/* Reads every point of path into a new set (*out_p, freed with
 * situ_places_free). A feature without a name, with an unknown kind or
 * without a point geometry is an error naming it; so is an empty file. */
int situ_places_open(const char *path, situ_places **out_p, situ_err *err);
void situ_places_free(situ_places *p);
size_t situ_places_count(const situ_places *p);

enum {
    SITU_PLACE_COUNTY_SEAT = 1 << 0,
    SITU_PLACE_TOWNSHIP_SEAT = 1 << 1,
    SITU_PLACE_VILLAGE = 1 << 2,
    SITU_PLACE_ALL = 7,
};
/* The kind bit of a kind name, or 0. */
unsigned situ_places_kind(const char *name, size_t n);

typedef struct situ_places_query {
    const char *q;      /* part of the name (UTF-8), or NULL: every name */
    const double *bbox; /* minlon, minlat, maxlon, maxlat, or NULL */
    unsigned kinds;     /* SITU_PLACE_* bits; 0 = all */
    size_t limit;       /* at most this many features (>= 1) */
} situ_places_query;

/* Appends to out the GeoJSON FeatureCollection of the places matching q,
 * with numberMatched and numberReturned: names equal to q first, then
 * those starting with it, then those containing it; within each, county
 * seats, township seats, villages, then file order. p may be NULL (no
 * places: an empty collection). Returns 0 or SITU_ENOMEM. */
int situ_places_find(const situ_places *p, const situ_places_query *q, situ_buf *out);

#endif

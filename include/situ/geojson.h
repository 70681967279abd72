/*
 * situ/geojson.h: RFC 7946 GeoJSON writing of snapshot features. lon/lat
 * order, exterior rings counter-clockwise (the snapshot's orientation), no
 * crs member, at most `decimals` decimals. Writes into a situ_buf; reading
 * GeoJSON is the loader's (GDAL's) job.
 */
#ifndef SITU_GEOJSON_H
#define SITU_GEOJSON_H

#include "situ/buf.h"
#include "situ/snapshot.h"

typedef struct situ_geojson_opts {
    int decimals;              /* 0 means 7 */
    int with_collection;       /* add "collection": id to the properties */
    const situ_snapshot *snap; /* when set, add "township_name" from it */
    int items_as_columns;      /* a resource's items as "<item name>": quantity
                                  members, not an "items" array (for sheets) */
    /* Optional coordinate transform applied on output (e.g. to GCJ-02 or
     * another CRS), called with xform_ctx. */
    void (*xform)(void *ctx, double *lon, double *lat);
    void *xform_ctx;
} situ_geojson_opts;

/* Appends {"type":...,"coordinates":...} of feature f. */
void situ_geojson_geometry(situ_buf *b, const situ_coll *c, const situ_feature *f,
                           const situ_geojson_opts *o);
/* Appends the members of f's properties, comma-separated, without braces:
 * township_code, the schema fields (nulls omitted), resource items (an array,
 * or one member per item with o->items_as_columns), the extra
 * fields and updated_at. */
void situ_geojson_properties_members(situ_buf *b, const situ_coll *c, const situ_feature *f,
                                     const situ_geojson_opts *o);
/* Appends a whole Feature object. */
void situ_geojson_feature(situ_buf *b, const situ_coll *c, const situ_feature *f,
                          const situ_geojson_opts *o);
/* Appends the value of field i of f as JSON (null when unset). */
void situ_geojson_value(situ_buf *b, const situ_field *fd, const situ_value *v);

#endif

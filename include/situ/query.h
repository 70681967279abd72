/*
 * situ/query.h: selecting features of one snapshot collection by bbox and
 * simple property equality, with offset/limit paging in a stable order
 * (township_code, id). The items route, the export and the CLI share it;
 * parameters arrive as key/value text and are validated here, so every face
 * rejects the same bad input with the same message naming the parameter.
 */
#ifndef SITU_QUERY_H
#define SITU_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "situ/err.h"
#include "situ/snapshot.h"

#define SITU_QUERY_MAX_FILTERS 16
#define SITU_QUERY_FIELD_TOWNSHIP (-1)

typedef struct situ_query_filter {
    int field; /* schema field index, or SITU_QUERY_FIELD_TOWNSHIP */
    situ_value v;
    char text[128];
} situ_query_filter;

typedef struct situ_query {
    const situ_collection *c;
    int has_bbox;
    double bbox[4];
    situ_query_filter filters[SITU_QUERY_MAX_FILTERS];
    int nfilters;
    size_t offset;
    size_t limit; /* 0: no limit */
} situ_query;

/* A query over collection c with no filters and no limit. */
void situ_query_init(situ_query *q, const situ_collection *c);

/* Sets one parameter from text: "bbox" (minlon,minlat,maxlon,maxlat),
 * "township_code", "township" (same), or a filterable field of the
 * collection. Returns 0, SITU_ENOTFOUND when key is not a known parameter
 * (the caller decides whether that is an error), or SITU_EINVAL with a
 * message naming the parameter. */
int situ_query_set(situ_query *q, const char *key, const char *value, situ_err *err);

/* Parses a bbox "minx,miny,maxx,maxy" (or 6 numbers with heights, ignored). */
int situ_query_parse_bbox(const char *text, double out_bbox[4], situ_err *err);
/* The same four numbers in any CRS: min <= max checked, no range. */
int situ_query_parse_box(const char *text, double out_box[4], situ_err *err);

/* 1 when feature f of c meets every condition of q. */
int situ_query_match(const situ_query *q, const situ_coll *c, const situ_feature *f);

/* Runs q over c: *out_matched counts all matches; the page (offset, limit)
 * of matching feature indices, in collection order, goes to *out_idx
 * (malloc'd; caller frees) and *out_n. */
int situ_query_run(const situ_query *q, const situ_coll *c, uint32_t **out_idx, size_t *out_n,
                   size_t *out_matched, situ_err *err);

/* 1 when feature f's geometry intersects the box (edges included). */
int situ_feature_meets_box(const situ_coll *c, const situ_feature *f, const double box[4]);

#endif

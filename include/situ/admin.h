/*
 * situ/admin.h: the townships dissolved into counties and provinces, the
 * outlines that low-zoom tiles draw where a township is a few pixels. A
 * county is the townships whose code shares its first 6 digits, a province
 * those sharing the first 2 (GB/T 2260). Computed with GEOS from the
 * in-memory snapshot (a coverage union, falling back to a unary union when
 * the townships are not a clean coverage); never read from the store.
 *
 * The result is a situ_coll like the snapshot's (features sorted by id, an
 * R-tree, rings closed, exteriors counter-clockwise) whose situ_collection
 * is situ_admin_collection(level): layer "counties" or "provinces", one
 * field, name. Its features' id is the code; township_code is "".
 *
 *     townships --situ_admin_dissolve(COUNTY)--> counties
 *     counties  --situ_admin_dissolve(PROVINCE)--> provinces
 *
 * Given the previous result (prev), an area whose members are the same, with
 * the same coordinates, is copied instead of recomputed: a township change
 * costs its county and its province.
 */
#ifndef SITU_ADMIN_H
#define SITU_ADMIN_H

#include <stddef.h>
#include <stdint.h>

#include "situ/err.h"
#include "situ/snapshot.h"

typedef enum situ_admin_level {
    SITU_ADMIN_COUNTY = 0, /* from the townships: 6-digit prefix */
    SITU_ADMIN_PROVINCE,   /* from the counties: 2-digit prefix */
    SITU_ADMIN_NLEVELS
} situ_admin_level;

typedef enum situ_admin_method {
    SITU_ADMIN_COVERAGE = 0, /* GEOSCoverageUnion, GEOSUnaryUnion where it fails */
    SITU_ADMIN_UNARY,        /* GEOSUnaryUnion only (for comparison) */
} situ_admin_method;

typedef struct situ_admin_stats {
    size_t areas;    /* features written */
    size_t coverage; /* of which by coverage union */
    size_t unary;    /* of which by unary union (fallback, or asked for) */
    size_t reused;   /* of which copied from prev */
    size_t vertices; /* points written */
} situ_admin_stats;

/* The collection table row of level's layer (not in situ_schema). */
const situ_collection *situ_admin_collection(situ_admin_level level);
/* The code prefix length of level: 6 or 2. */
int situ_admin_prefix(situ_admin_level level);

/* Dissolves parts (the snapshot's townships for SITU_ADMIN_COUNTY, a
 * counties result for SITU_ADMIN_PROVINCE) into a new collection (refs = 1,
 * released with situ_coll_release). prev, if not NULL, is an earlier result
 * of the same level whose unchanged areas are copied. parts is not changed.
 * *out_stats, if given, is written on success. */
int situ_admin_dissolve(const situ_coll *parts, situ_admin_level level, const situ_coll *prev,
                        situ_admin_method method, situ_coll **out_coll, situ_admin_stats *out_stats,
                        situ_err *err);

/* The member signatures of a dissolve result (one per area, what a later
 * dissolve compares to reuse an area), or NULL for another collection. */
const uint64_t *situ_admin_signatures(const situ_coll *areas);
/* A level result equal to areas (a collection of level's layer read back
 * from a snapshot file, sig its situ_admin_signatures), laid out as
 * situ_admin_dissolve lays out its own, so that it serves as prev of a later
 * dissolve. No GEOS runs; areas is not changed. */
int situ_admin_restore(const situ_coll *areas, situ_admin_level level, const uint64_t *sig,
                       situ_coll **out_coll, situ_err *err);

#endif

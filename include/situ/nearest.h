/*
 * situ/nearest.h: proximity over a snapshot. The k nearest features of a
 * collection to a point (/nearest), every feature within a geodesic radius
 * (/within), and what reaches a point (/locate: hazard sources whose impact
 * radius covers it, active alerts that contain it), each answered as a GeoJSON
 * FeatureCollection, nearest first. HTTP and `situ nearest` share all of it:
 * the parser, the search and the writer.
 *
 * Distances are geodesics on the WGS84 ellipsoid and the answers are exact:
 * the same ids in the same order as a brute-force geod_inverse scan of every
 * feature, ties broken by id, each distance within 0.5 mm of geod_inverse's
 * (proven; 2e-6 m measured). Nearby points are ranked with certified chord
 * intervals and PROJ's geod_inverse settles every doubt (layers/nearest/nearest_geo.c
 * has the proofs).
 *
 * A situ_nearest_index adds to one collection of a snapshot what the search
 * needs (3-D boxes for provable lower bounds, filter masks and per-item
 * maxima per R-tree node); it is immutable, so any number of threads search
 * it at once. A situ_nearest_cache keeps the indexes of the current
 * collections (the daemon holds one):
 *
 *     snapshot swap --situ_nearest_cache_prepare--> indexes built
 *     request: parse -> situ_nearest_answer(cache, snap, q, buf) -> 200 JSON
 *                    \-> SITU_EINVAL "param: why"            -> 400 problem
 */
#ifndef SITU_NEAREST_H
#define SITU_NEAREST_H

#include <stdint.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/snapshot.h"

#define SITU_NEAREST_K_MAX 100         /* nearest: k is 1..100 */
#define SITU_NEAREST_LIMIT_MAX 10000   /* within: limit is 1..10000 */
#define SITU_NEAREST_RADIUS_MAX 200000 /* within: radius_m up to 200 km */
#define SITU_NEAREST_MAX_FILTERS 8

typedef enum situ_nearest_mode {
    SITU_NEAREST_KNN = 0, /* the k nearest, optionally within max_m */
    SITU_NEAREST_WITHIN,  /* all within radius_m, up to limit */
    SITU_NEAREST_LOCATE,  /* township, reaching hazard sources, covering alerts */
} situ_nearest_mode;

typedef enum situ_crs { SITU_CRS_WGS84 = 0, SITU_CRS_GCJ02 } situ_crs;

/* Equality on one SITU_FF_FILTER field; value is canonical text ("2", "true"). */
typedef struct situ_nearest_filter {
    int field; /* index into the collection's fields */
    char value[128];
} situ_nearest_filter;

/* A parsed, validated query. Build it with situ_nearest_query_parse (or by
 * hand: situ_nearest_query_init, then set what differs). */
typedef struct situ_nearest_query {
    situ_nearest_mode mode;
    situ_coll_id cid;
    situ_crs crs;
    double lon, lat;       /* WGS84, what the search uses */
    double in_lon, in_lat; /* as given, in crs */
    int k;                 /* KNN: how many; WITHIN: the limit */
    double max_m;          /* KNN: ignore features farther (INFINITY: none) */
    double radius_m;       /* WITHIN */
    int item;              /* resources: index into the item vocabulary, or -1 */
    double min_qty;        /* with item: hold at least this much (and more than 0) */
    int nfilters;
    situ_nearest_filter filters[SITU_NEAREST_MAX_FILTERS];
} situ_nearest_query;

/* One feature of an answer. */
typedef struct situ_nearest_hit {
    uint32_t feat;      /* index into the collection's feats */
    double distance_m;  /* geodesic, 0 inside a polygon */
    double bearing_deg; /* initial bearing from the query point, [0, 360); NAN at 0 m */
} situ_nearest_hit;

/* Hits of a search, in storage the caller provides (cap >= q->k). */
typedef struct situ_nearest_result {
    situ_nearest_hit *hits;
    int cap;
    int n;         /* written: hits found, nearest first (ties by id) */
    int truncated; /* written: WITHIN only, more features lie within the radius */
} situ_nearest_result;

typedef struct situ_nearest_index situ_nearest_index;
typedef struct situ_nearest_cache situ_nearest_cache;
typedef struct situ_nearest_scratch situ_nearest_scratch;

/* ---- queries ------------------------------------------------------------ */

/* Defaults for mode: collection resources (hazard_sources for LOCATE), k 5
 * (limit 1000 for WITHIN), no bound, no filters, WGS84. */
void situ_nearest_query_init(situ_nearest_query *q, situ_nearest_mode mode);

/* Parses the n key/value pairs of a request (the HTTP query string's, or the
 * CLI's --key value) for mode into *out_q. Keys: lon, lat (required), crs
 * (wgs84|gcj02), collection, k, max_km (KNN); radius_m (required), limit
 * (WITHIN); item, min_qty (resources); and any SITU_FF_FILTER field of the
 * collection by name (category, team_type, status, ...). LOCATE takes lon,
 * lat and crs only. On bad input returns SITU_EINVAL with err->msg naming the
 * parameter first ("lat: must be a number between -90 and 90"); *out_q is
 * written only on success. */
int situ_nearest_query_parse(situ_nearest_mode mode, const char *const *keys,
                             const char *const *values, int n, situ_nearest_query *out_q,
                             situ_err *err);

/* ---- indexes ------------------------------------------------------------ */

/* Builds the search index of collection c; *out_ix retains c until the index
 * is released. About 1 s and 100 bytes per feature for 600,000 resources. */
int situ_nearest_index_new(situ_coll *c, situ_nearest_index **out_ix, situ_err *err);
situ_nearest_index *situ_nearest_index_retain(situ_nearest_index *ix);
/* Drops a reference; frees at zero (releasing the collection). NULL: no-op. */
void situ_nearest_index_release(situ_nearest_index *ix);
const situ_coll *situ_nearest_index_coll(const situ_nearest_index *ix);

/* A thread-safe cache of the indexes of the latest collections (two per
 * collection id, so readers of the previous snapshot during a swap do not
 * evict the new one). */
situ_nearest_cache *situ_nearest_cache_new(void);
void situ_nearest_cache_free(situ_nearest_cache *cache);
/* The index of c, built on first use. *out_ix is retained: release it. */
int situ_nearest_cache_get(situ_nearest_cache *cache, situ_coll *c, situ_nearest_index **out_ix,
                           situ_err *err);
/* Builds the indexes of every collection of s but the line ones (roads,
 * which nearest refuses), so no request pays for it; call it when
 * publishing a new snapshot. */
int situ_nearest_cache_prepare(situ_nearest_cache *cache, const situ_snapshot *s, situ_err *err);

/* ---- searching ---------------------------------------------------------- */

/* Reusable search memory (one per thread); searches allocate nothing else. */
situ_nearest_scratch *situ_nearest_scratch_new(void);
void situ_nearest_scratch_free(situ_nearest_scratch *scratch);

/* Runs a KNN or WITHIN query q over ix (whose collection must be q->cid).
 * scratch may be NULL (then the search may allocate). res->hits must hold
 * q->k hits. Reads ix only. Returns 0, SITU_EINVAL, SITU_ENOMEM. */
int situ_nearest_search(const situ_nearest_index *ix, const situ_nearest_query *q,
                        situ_nearest_scratch *scratch, situ_nearest_result *res, situ_err *err);

/* The hazard sources (ix over hazard_sources) whose impact_radius_m is at
 * least their geodesic distance to (lon, lat) WGS84, nearest first, up to
 * res->cap (res->truncated set when more). */
int situ_nearest_hazards_reaching(const situ_nearest_index *ix, double lon, double lat,
                                  situ_nearest_scratch *scratch, situ_nearest_result *res,
                                  situ_err *err);

/* ---- answers ------------------------------------------------------------ */

/* Runs q against snapshot s and appends the answer to out: a GeoJSON
 * FeatureCollection whose "query" member echoes the point (in q->crs) and
 * its township; features nearest first, coordinates in q->crs with at most 7
 * decimals, properties id, collection, rank, distance_m, bearing_deg,
 * township_code, township_name, the schema fields (name, contact, phone, ...),
 * and for resources items [{item, name, quantity, unit, matched}]. For LOCATE
 * the features are the reaching hazard sources (with impact_radius_m) and
 * the active alerts containing the point. Returns 0 or a SITU_E code. */
int situ_nearest_answer(situ_nearest_cache *cache, const situ_snapshot *s,
                        const situ_nearest_query *q, situ_buf *out, situ_err *err);

/* Appends the JSON array of the hazard-source Features (as in the answer
 * above) whose impact radius reaches (lon, lat) WGS84, nearest first, with
 * coordinates in crs: the hazard part of /locate. */
int situ_nearest_hazards_json(situ_nearest_cache *cache, const situ_snapshot *s, double lon,
                              double lat, situ_crs crs, situ_buf *out, situ_err *err);

#endif

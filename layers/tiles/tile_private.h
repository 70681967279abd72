/*
 * tile_private.h: private to layers/tiles/tile*.c (and their unit tests). The
 * layout of a prepared collection (situ_tilesrc), the property key table,
 * and the ring pipeline steps of tile_geom.c.
 */
#ifndef SITU_TILE_PRIVATE_H
#define SITU_TILE_PRIVATE_H

#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "situ/tile.h"

/* How a cluster aggregates one key over its members. */
typedef enum tile_agg {
    TILE_AGG_NONE = 0, /* not a cluster property */
    TILE_AGG_MIN,      /* the smallest value of an integer field (the most severe level) */
    TILE_AGG_SUM,      /* the sum of an integer field */
    TILE_AGG_ITEM,     /* the sum of one item's quantity (resources) */
    TILE_AGG_CLUSTER,  /* `cluster`: true */
    TILE_AGG_COUNT,    /* `point_count` */
    TILE_AGG_IDS,      /* `ids`: the first member ids */
    TILE_AGG_VCOUNT,   /* `<field>_<value>`: members whose field has that value */
    TILE_AGG_OVERDUE,  /* `overdue`: hidden dangers not rectified, deadline before today */
    TILE_AGG_URGENT,   /* `urgent`: on an urgent mark only, the features it stands for */
} tile_agg;

/* One property key of a collection's layers. */
typedef struct tile_key {
    int skip; /* not carried in this collection's tiles (see tile_prep.c) */
    char name[48];
    size_t len;
    const char *type; /* TileJSON type: "String", "Number", "Boolean" */
    tile_agg agg;
    int arg;           /* the field (MIN, SUM, VCOUNT, OVERDUE: status) or item (ITEM) */
    const char *value; /* VCOUNT: the value counted */
    int slot; /* MIN, SUM, ITEM, VCOUNT, OVERDUE: its column in the aggregate rows, else -1 */
    int slim; /* kept on an urgent feature written among aggregates */
} tile_key;

/* Keys in layer order: id, township_code, the schema fields, item_<code>
 * (resources), then the cluster keys. Returns the count (at most max). */
int situ__tile_keys(const situ_collection *c, tile_key *keys, int max);
#define SITU_TILE_MAXKEYS 96

/* The lowest zoom at which feature f of collection c is drawn by its own
 * values (roads: the minor classes come later, see tile_prep.c), or 0 when
 * only the collection's minzoom applies. */
int situ__tile_feature_minzoom(const situ_coll *c, const situ_feature *f);
/* Appends to b the plain-language rule of situ__tile_feature_minzoom for
 * collection c (nothing when it has none), for TileJSON. */
void situ__tile_minzoom_text(const situ_collection *c, situ_buf *b);

uint64_t situ__tile_hash(const void *p, size_t n);

/* What changed from one version of a collection (prev) to the next (src):
 * prev's features that changed or went (gone, their indices in prev), src's
 * that changed or came (came), and where each other feature of prev is in
 * src (remap; TILE_NO_FEATURE for those in gone). A feature in neither
 * list is the same in both, so all that was prepared for it carries over. */
typedef struct tile_diff {
    uint32_t *gone, *came, *remap;
    size_t ngone, ncame;
} tile_diff;
#define TILE_NO_FEATURE UINT32_MAX

/* Room in d for the features of prev (nprev) and src (nsrc), both lists
 * empty. 0, or -1 (out of memory; d holds nothing). */
int situ__tile_diff_alloc(tile_diff *d, size_t nprev, size_t nsrc);
/* Frees d's arrays (not d). */
void situ__tile_diff_dispose(tile_diff *d);

/* ---- the aggregate pyramid (tile_pyramid.c) ------------------------------ */

/* One occupied unit square of a zoom's world grid (units of `unit` tile
 * units, a divisor of the aggregate cell and of the buffer): what every
 * feature of the square folds to, as the cells of tile_cluster.c fold it. */
typedef struct tile_pcell {
    int64_t key;    /* row << 32 | column, in units */
    int64_t sx, sy; /* the members' rounded positions summed, in world tile units */
    uint32_t n;     /* members */
} tile_pcell;

/* An urgent feature (tile.c), written as itself, and its unit square. */
typedef struct tile_purgent {
    int64_t key;
    uint32_t fi;
} tile_purgent;

/* The urgent marks of one zoom below urgent_from over the whole world
 * (tile_urgent.c's, for the default mark cell), made on the first tile of
 * that zoom that needs them: a tile reads the marks of its box instead of
 * gathering and sorting every member (a nation's zoom 0 tile has a hundred
 * thousand). */
typedef struct tile_pmark {
    int64_t key;    /* row << 32 | column, in mark cells of the world grid */
    int64_t sx, sy; /* the members' rounded points summed, in world tile units */
    uint32_t n, fi; /* members; the first of them (a mark of one names it) */
} tile_pmark;

typedef struct tile_pmarks {
    size_t n;
    tile_pmark m[]; /* sorted by key */
} tile_pmarks;

typedef struct tile_pzoom {
    tile_pcell *cells; /* sorted by key */
    size_t n;
    double *acc;          /* n rows of nagg: the fold of the members' aggregate rows */
    uint8_t *any;         /* n rows of nagg: some member had a value */
    uint32_t *cnt;        /* n rows of nagg: members with a value; MIN: those at the minimum
                             (so that a member can be taken out again) */
    tile_purgent *urgent; /* sorted by key, then feature */
    size_t nurgent;
} tile_pzoom;

/* The per-zoom aggregates of one collection for one set of options, built
 * once (and again when the day changes) and then kept up to date from one
 * version of the collection to the next: an aggregate tile reads the
 * squares of its buffered box instead of every feature in it. */
typedef struct tile_pyramid {
    int below, urgent_from, today;
    uint32_t extent, buffer, cell, unit;
    tile_pzoom z[SITU_TILE_AGGREGATE_BELOW];
    tile_pmarks *marks[SITU_TILE_URGENT_FROM]; /* NULL until first needed, then set once */
    size_t inexact; /* features with a summed value that is not a small integer: their
                       sums depend on the order of addition, so no update, a rebuild */
    int updates;    /* versions of the collection it followed since it was built */
    size_t bytes;
    struct tile_pyramid *retired; /* an earlier one still being read */
} tile_pyramid;

/* Builds the pyramid of src for the options o (zooms below
 * min(o->aggregate_below, SITU_TILE_AGGREGATE_BELOW)); NULL when out of
 * memory or when o's grid cannot be cut into units (see tile_pyramid.c). */
tile_pyramid *situ__tile_pyramid_new(const situ_tilesrc *src, const situ_tile_opts *o);
/* The pyramid of src made from was, prev's (the collection's previous
 * version) for the same options: only the squares and urgent features of
 * the features that changed, came or went between prev and src (their old
 * and new positions and values) are updated, at every zoom. d says which
 * those are (NULL: found by comparing every feature of prev and src).
 * Equal to situ__tile_pyramid_new(src, ...) byte for byte; NULL when out
 * of memory or when it cannot be exact (see inexact): then build it new. */
tile_pyramid *situ__tile_pyramid_update(const tile_pyramid *was, const situ_tilesrc *prev,
                                        const situ_tilesrc *src, const tile_diff *d);
void situ__tile_pyramid_free(tile_pyramid *p);
/* 1 when p answers the aggregate tiles of zoom z under options o. */
int situ__tile_pyramid_fits(const tile_pyramid *p, const situ_tile_opts *o, int z);
/* The pyramid of src for o, built when src has none that fits (kept in
 * src, thread-safe); NULL when none can serve (then scan the features). */
const tile_pyramid *situ__tile_pyramid_get(const situ_tilesrc *src, const situ_tile_opts *o, int z);

/* Folds aggregate row `row` (nagg values, NaN: none) into acc and any, as a
 * cluster does (tile_cluster.c); merging two folds is folding acc2/any2. */
void situ__tile_fold_row(const situ_tilesrc *src, int today, const double *row, double *acc,
                         uint8_t *any);
void situ__tile_fold_merge(const situ_tilesrc *src, double *acc, uint8_t *any, const double *acc2,
                           const uint8_t *any2);

/* One zoom's simplification of every ring of a collection, kept so that a
 * tile of that zoom reads the points it keeps instead of filtering all of
 * them (a county's outline has tens of thousands of points, a zoom 3 tile
 * keeps a few of each): ring r's are idx[off[r] .. off[r + 1]), as
 * situ__ring_keep gives them at tolerance tol2. */
typedef struct tile_lod {
    float tol2;
    uint32_t *off, *idx; /* NULL: none for this zoom */
} tile_lod;

/* Zoom z's kept points of src at tolerance tol2, or NULL when src keeps
 * none for them (then filter). */
const tile_lod *situ__tile_lod(const situ_tilesrc *src, int z, float tol2);

/* What every id of a collection is like: at least min_len and at most
 * max_len bytes, the first plen of them prefix[0..plen). suspects: the
 * texts of its features (not ids) like that. */
typedef struct tile_id_shape {
    char prefix[16];
    size_t plen, min_len, max_len, suspects;
} tile_id_shape;

/* A text key of few values (the township code or a text field with at most
 * TILE_CODES_MAX distinct values in the collection, every one of them text
 * or NULL): each feature's value as a one-byte code, and the values' bytes
 * and hashes here, so that a tile writes the key without reading the
 * collection's bytes (tile.c's put_coded_tag). tile_prep.c's build_texts
 * makes them; the next version copies them and codes the features that
 * came, or codes the key again from every feature past TILE_CODES_MAX. */
#define TILE_CODES_MAX 255
typedef struct tile_codes {
    /* per feature: 0 when it has none, else its value's code (NULL: no
     * feature has one) */
    uint8_t *code;
    uint32_t nvals; /* codes 1 .. nvals */
    uint32_t row;   /* this key's row in a tile's memory of coded values */
    /* value v: its bytes bytes[off[v - 1] .. off[v]) (off[0] is 0), its
     * hash in a tile's table of values hash[v] (situ__tile_string_hash) */
    uint32_t off[TILE_CODES_MAX + 1];
    uint64_t hash[TILE_CODES_MAX + 1];
    uint8_t table[2 * (TILE_CODES_MAX + 1)]; /* a value's hash -> its code; 0: empty */
    char *bytes;
    size_t cap;
} tile_codes;

/* Feature fi's code in t: 0 when it has no value. */
static inline uint32_t tile_code(const tile_codes *t, uint32_t fi)
{
    return t->code ? t->code[fi] : 0;
}

/* The hash a tile's table of values gives the string of n bytes at p. */
uint64_t situ__tile_string_hash(const char *p, size_t n);

struct situ_tilesrc {
    situ_coll *coll;
    int refs;
    /* geometry, Web Mercator in [0, 1]: the points themselves are the
     * collection's (coll->xy, lon/lat), projected as a tile takes them
     * (tile_project), so that a collection read back from a snapshot file
     * is not copied a second time */
    float *imp;   /* per point: squared importance (INFINITY: anchor) */
    double *rbox; /* per ring: minx, miny, maxx, maxy */
    size_t nrings;
    /* the counties and provinces only: each ring's points kept at the
     * zooms they are drawn at (tile_prep.c's build_lod) */
    tile_lod lod[SITU_TILE_COUNTY_BELOW];
    double *fbox;   /* per feature */
    double *fpt;    /* per feature: the point, or a point inside the polygon */
    uint8_t *fminz; /* per feature: the lowest zoom that carries it (by its class) */
    uint64_t *fid;
    /* properties */
    tile_key keys[SITU_TILE_MAXKEYS];
    int nkeys, key_cluster0; /* cluster-only keys start at key_cluster0 */
    int item_key0;           /* the first item_<code> (resources), or -1 */
    /* 1 when no feature's id equals another's, nor any text a feature
     * carries (township code, text fields): a tile then writes each id
     * without looking it up (tile_prep.c's ids_apart). id_shape is what
     * every id is like, for the next version to check only its changes */
    int ids_apart;
    tile_id_shape id_shape;
    /* per key: its codes when it is a text key of few values, else NULL */
    tile_codes *codes[SITU_TILE_MAXKEYS];
    uint32_t ncoded; /* keys with codes (their rows) */
    /* per feature (NULL: none), bit apart_bit[k] - 1 set when its text of
     * key k (a text key not coded) equals no other text of the collection:
     * no other feature's of any key, no id, no coded value; a tile then
     * writes it without looking it up (tile_prep.c's build_apart). Built
     * with the collection in full only: a next version has none */
    uint8_t *apart;
    uint8_t apart_bit[SITU_TILE_MAXKEYS]; /* 0: the key has no bit */
    /* the values themselves are the collection's (a tile encodes the ones
     * it writes), so that they are not held a second time; but for codes */
    /* per feature, one row of nagg doubles (NaN: no value) that clusters fold:
     * the MIN and SUM fields, the item quantities, 1 or 0 for a VCOUNT, and
     * for OVERDUE the deadline as YYYYMMDD when not rectified, in slot order */
    double *aggv;
    int nagg;
    tile_agg aggop[SITU_TILE_MAXKEYS];
    int due_slot;    /* the OVERDUE slot, or -1 */
    size_t ncarried; /* features whose preparation was copied from the previous version */
    size_t bytes;
    /* the townships only: their counties and provinces (situ/admin.h) */
    situ_tilesrc *admin[2];
    /* the point collections: the aggregate pyramid (built with the
     * collection for the default options, again for other ones on demand) */
    tile_pyramid *pyr;
    pthread_mutex_t pyr_mu;
};

/* lat clamped to Web Mercator's. */
static inline double tile_clamp_lat(double lat)
{
    const double max_lat = 85.0511287798066;
    return lat > max_lat ? max_lat : lat < -max_lat ? -max_lat : lat;
}

/* Web Mercator y in [0, 1] of a clamped latitude. */
static inline double tile_merc_y(double lat)
{
    double s = sin(lat * M_PI / 180);
    return 0.5 - log((1 + s) / (1 - s)) / (4 * M_PI);
}

/* lon/lat to Web Mercator in [0, 1] (situ_tile_project, inline: a tile
 * projects every point it takes). */
static inline void tile_project(double lon, double lat, double *out_x, double *out_y)
{
    lat = tile_clamp_lat(lat);
    *out_x = (lon + 180) / 360;
    *out_y = tile_merc_y(lat);
}

/* The latitudes a thread projected last, by their bits, and their Web
 * Mercator y (tile_merc_y's, the same double): a point two rings share (a
 * border between townships, a county's outline) or that a tile next to
 * the last one takes again costs no sin and log. Direct-mapped. */
#define TILE_YMEMO_BITS 12
#define TILE_YMEMO_EMPTY 0x7FF8000000000001ULL /* a NaN's bits: no key (NaNs are not kept) */
typedef struct tile_ymemo {
    uint64_t key[1u << TILE_YMEMO_BITS];
    double y[1u << TILE_YMEMO_BITS];
} tile_ymemo;

void situ__ymemo_init(tile_ymemo *m);

/* tile_project, remembering y in m. */
static inline void tile_project_memo(tile_ymemo *m, double lon, double lat, double *out_x,
                                     double *out_y)
{
    lat = tile_clamp_lat(lat);
    *out_x = (lon + 180) / 360;
    uint64_t b;
    memcpy(&b, &lat, sizeof b);
    size_t i = (size_t)((b * 0x9E3779B97F4A7C15ULL) >> (64 - TILE_YMEMO_BITS));
    if (lat == lat && m->key[i] == b) {
        *out_y = m->y[i];
        return;
    }
    *out_y = tile_merc_y(lat);
    if (lat == lat)
        m->key[i] = b, m->y[i] = *out_y;
}

/* Rounds to the nearest integer, halves away from zero; inline (lrint is a
 * libm call). For values well inside int32. */
static inline int32_t tile_round(double v)
{
    return (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
}

/* ---- the ring pipeline (tile_geom.c) ------------------------------------- */

/* Bottom-up simplification importance of each point of a closed ring of n
 * points (xy[2n], last == first): Visvalingam-Whyatt's removal order with
 * Douglas-Peucker's measure, the squared distance from the point to the
 * segment joining its neighbours when it is removed, never below that of a
 * point removed before it; so keeping the points above tol2 equals running
 * the simplification to tolerance sqrt(tol2). The first, last and farthest-
 * from-first points are anchors (INFINITY). O(n log n) whatever the shape
 * (Douglas-Peucker's split search was quadratic on a sawtooth). work holds
 * 4n ints. */
void situ__ring_importance(const double *xy, size_t n, float *imp, uint32_t *work);

/* Tile transform: tile units = mercator * scale - origin. */
typedef struct tile_tf {
    double scale, ox, oy;
    double lo, hi;     /* the buffered tile: [lo, hi] on both axes */
    tile_ymemo *ymemo; /* the thread's (tile_project_memo) */
} tile_tf;

/* The indices of the points of a closed ring of n points with importance
 * above tol2, as an open ring (the closing point dropped) in reverse order:
 * the snapshot's counter-clockwise exteriors (y up) come out with positive
 * area (y down). idx holds n ints. Returns the count. */
size_t situ__ring_keep(const float *imp, size_t n, float tol2, uint32_t *idx);
/* Points idx[0..k) (situ__ring_keep's) of the lon/lat ring ll, projected, in tile units into out
 * (2k doubles). Returns k. */
size_t situ__ring_take(const double *ll, const uint32_t *idx, size_t k, const tile_tf *tf,
                       double *out);
/* The tolerance (squared, Web Mercator units) of zoom z for a simplify
 * tolerance in tile units of `extent`: what a tile's points are kept at. */
float situ__tile_tol2(double simplify, int z, uint32_t extent);

/* A set of open rings in tile units (tile_clip.c). Ring i is points
 * off[i] .. off[i + 1]; parent[i] == i for an exterior, else its exterior. */
typedef struct tile_rings {
    double *xy;
    size_t n, cap; /* points */
    uint32_t *off, *parent;
    size_t nrings, ringcap;
} tile_rings;

int situ__rings_room(tile_rings *r, size_t more_pts, size_t more_rings);
void situ__rings_reset(tile_rings *r);
void situ__rings_dispose(tile_rings *r);
/* Ends the ring made of the points added since the last one. */
void situ__rings_end(tile_rings *r, uint32_t parent);

/* Clips polygon `in` (ring 0 its exterior with positive area, the others its
 * holes with negative area) to [lo, hi]^2, appending the result to out: one
 * or more exteriors, each hole linked to its exterior by parent. runs is
 * scratch. Returns 0 or -1 (out of memory). */
int situ__poly_clip(const tile_rings *in, double lo, double hi, tile_rings *out, tile_rings *runs);

/* Clips the line in[0..n) (tile units, n >= 2) to [lo, hi]^2, appending
 * each run inside the square, in the line's order, to out as one ring
 * (open; parent is the run itself): a line that leaves the square and
 * re-enters makes several runs. Entry and exit points lie exactly on the
 * square's edge. Returns 0 or -1 (out of memory). */
int situ__line_clip(const double *in, size_t n, double lo, double hi, tile_rings *out);

/* Rounds an open ring in the square [lo, hi]^2 (integers) to integers,
 * dropping repeated points (the closing one included); points not exactly
 * on the square's edge stay strictly inside it. out holds 2n ints. Returns
 * the count. */
size_t situ__ring_snap(const double *in, size_t n, double lo, double hi, int32_t *out);
/* situ__ring_take, situ__ring_snap and situ__ring_clean in one pass, for a
 * ring wholly inside the buffered tile: straight to integers in out (2k). */
size_t situ__ring_take_snap(const double *ll, const uint32_t *idx, size_t k, const tile_tf *tf,
                            int32_t *out);
/* Removes collinear points and spikes (A B A) cyclically, in place. Returns
 * the count left; under 3 means the ring collapsed. */
size_t situ__ring_clean(int32_t *xy, size_t n);
/* Twice the signed area of an open ring; positive is an exterior ring in
 * MVT (clockwise on screen, y down). */
int64_t situ__ring_area2(const int32_t *xy, size_t n);
void situ__ring_reverse(int32_t *xy, size_t n);

#endif

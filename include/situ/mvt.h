/*
 * situ/mvt.h: the Mapbox Vector Tile 2.1 wire format, written by hand:
 * protobuf varints, zigzag, geometry command integers, and one layer at a time
 * with its key and value tables. Owns bytes only; projection, clipping,
 * collections and deduplication policy live in tile.h.
 *
 * A tile is a sequence of Tile.layers entries (field 3), so layers written
 * separately concatenate into one valid tile: an `all` tile is the
 * concatenation of per-collection tiles.
 *
 * Writing: situ_mvt_layer_init, then per feature situ_mvt_geom_* and
 * situ_mvt_layer_feature, then situ_mvt_layer_finish (appends to a situ_buf).
 * Reading (tests and tools): situ_mvt_decode into a situ_mvt_tile.
 */
#ifndef SITU_MVT_H
#define SITU_MVT_H

#include <stddef.h>
#include <stdint.h>

#include "situ/buf.h"
#include "situ/err.h"

typedef enum situ_mvt_gtype {
    SITU_MVT_UNKNOWN = 0,
    SITU_MVT_POINT = 1,
    SITU_MVT_LINESTRING = 2,
    SITU_MVT_POLYGON = 3,
} situ_mvt_gtype;

enum { SITU_MVT_MOVETO = 1, SITU_MVT_LINETO = 2, SITU_MVT_CLOSEPATH = 7 };

/* The command integer for `count` repetitions of command id. */
static inline uint32_t situ_mvt_cmd(uint32_t id, uint32_t count)
{
    return (id & 7) | (count << 3);
}

static inline uint32_t situ_mvt_zigzag(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}

static inline int32_t situ_mvt_unzigzag(uint32_t v)
{
    return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

/* Writes v as a protobuf varint at p (room for 10 bytes); returns its length. */
static inline size_t situ_mvt_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline size_t situ_mvt_varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

void situ_mvt_add_varint(situ_buf *b, uint64_t v);

/* A geometry being written, straight into the bytes of Feature.geometry
 * (packed varints), with the cursor its commands imply. */
typedef struct situ_mvt_geom {
    uint8_t *p;
    size_t n, cap;  /* bytes */
    size_t nints;   /* command and parameter integers written */
    int32_t cx, cy; /* the cursor after the last command */
    int oom;
} situ_mvt_geom;

void situ_mvt_geom_init(situ_mvt_geom *g);
void situ_mvt_geom_dispose(situ_mvt_geom *g);
/* Empties g and puts the cursor back at (0, 0), as at the start of a
 * feature. (Restoring n, nints, cx and cy rolls g back to an earlier state.) */
void situ_mvt_geom_reset(situ_mvt_geom *g);
/* One MoveTo of npts points (a Point or MultiPoint); xy holds 2 * npts values. */
void situ_mvt_geom_points(situ_mvt_geom *g, const int32_t *xy, size_t npts);
/* One polygon ring of npts >= 3 distinct points, not closed (the last point
 * is not the first): MoveTo(1) LineTo(npts - 1) ClosePath(1). The caller
 * orients it: exterior rings have positive area in tile coordinates. */
void situ_mvt_geom_ring(situ_mvt_geom *g, const int32_t *xy, size_t npts);
/* One linestring of npts >= 2 points: MoveTo(1) LineTo(npts - 1). */
void situ_mvt_geom_line(situ_mvt_geom *g, const int32_t *xy, size_t npts);

/* Encoded Value messages (the bytes of one Layer.values entry, without its
 * tag), appended to b. Integers >= 0 use int_value, negative ones sint_value. */
void situ_mvt_value_string(situ_buf *b, const char *s, size_t n);
void situ_mvt_value_int(situ_buf *b, int64_t v);
void situ_mvt_value_double(situ_buf *b, double v);
void situ_mvt_value_bool(situ_buf *b, int v);

/* One layer being written. The caller owns the memory (init/dispose) and the
 * deduplication: keys and values are appended as given and referred to by
 * their index in feature tags. */
typedef struct situ_mvt_layer {
    situ_buf feats; /* Layer.features entries, tags included */
    situ_buf keys;  /* Layer.keys entries */
    situ_buf vals;  /* Layer.values entries */
    uint32_t nkeys, nvals, nfeats;
} situ_mvt_layer;

void situ_mvt_layer_init(situ_mvt_layer *l);
void situ_mvt_layer_dispose(situ_mvt_layer *l);
/* Empties the layer, keeping its memory. */
void situ_mvt_layer_reset(situ_mvt_layer *l);
/* Appends a key; returns its index. */
uint32_t situ_mvt_layer_key(situ_mvt_layer *l, const char *key, size_t n);
/* Appends an encoded Value message (see situ_mvt_value_*); returns its index. */
uint32_t situ_mvt_layer_value(situ_mvt_layer *l, const void *value, size_t n);
/* Appends the string Value of the n bytes at s (what situ_mvt_value_string
 * encodes, written in place); returns its index. */
uint32_t situ_mvt_layer_value_string(situ_mvt_layer *l, const char *s, size_t n);
/* Appends a feature. has_id 0 leaves the id out; tags are ntags (key, value)
 * index pairs (2 * ntags integers). */
void situ_mvt_layer_feature(situ_mvt_layer *l, int has_id, uint64_t id, situ_mvt_gtype type,
                            const uint32_t *tags, size_t ntags, const situ_mvt_geom *g);
/* Appends the layer as one Tile.layers entry (version 2, name, extent) to
 * out. A layer without features appends nothing. Returns 0 or SITU_ENOMEM
 * (when any earlier append ran out of memory). */
int situ_mvt_layer_finish(situ_mvt_layer *l, const char *name, uint32_t extent, situ_buf *out);

/* ---- reading ------------------------------------------------------------- */

typedef struct situ_mvt_value {
    enum {
        SITU_MVT_V_STRING = 1,
        SITU_MVT_V_FLOAT,
        SITU_MVT_V_DOUBLE,
        SITU_MVT_V_INT,
        SITU_MVT_V_UINT,
        SITU_MVT_V_SINT,
        SITU_MVT_V_BOOL
    } type;
    const char *s; /* string values: not NUL-terminated, n bytes, into the tile */
    size_t n;
    double d;  /* float and double */
    int64_t i; /* int, uint (as stored), sint (decoded) and bool */
} situ_mvt_value;

typedef struct situ_mvt_feature {
    int has_id;
    uint64_t id;
    situ_mvt_gtype type;
    uint32_t *tags; /* 2 * ntags */
    size_t ntags;
    uint32_t *geom; /* the raw command integers */
    size_t ngeom;
} situ_mvt_feature;

typedef struct situ_mvt_rlayer {
    char *name;
    uint32_t version, extent;
    situ_mvt_feature *feats;
    size_t nfeats;
    char **keys;
    size_t nkeys;
    situ_mvt_value *vals;
    size_t nvals;
} situ_mvt_rlayer;

typedef struct situ_mvt_tile {
    situ_mvt_rlayer *layers;
    size_t nlayers;
} situ_mvt_tile;

/* Decodes a whole tile (the bytes must outlive the result: string values
 * point into them). Checks the wire format and that tags index the tables;
 * does not check geometry. */
int situ_mvt_decode(const void *p, size_t n, situ_mvt_tile **out_tile, situ_err *err);
void situ_mvt_tile_free(situ_mvt_tile *t);

/* Decodes a feature's commands into absolute points. Each part (a MoveTo
 * run for points, a ring or a line) is a run of points; out_xy gets 2 values
 * per point, out_parts the point count of each part (rings without their
 * closing point). Both malloc'd. Returns 0, or SITU_EFORMAT on bad commands. */
int situ_mvt_geom_decode(const situ_mvt_feature *f, int32_t **out_xy, size_t *out_npts,
                         uint32_t **out_parts, size_t *out_nparts, situ_err *err);

#endif

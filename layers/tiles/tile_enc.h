/*
 * tile_enc.h: private to layers/tiles/tile.c, tile_poly.c, tile_line.c and tile_cluster.c. The
 * state of cutting one tile (enc) and the per-thread scratch memory it
 * reuses, and the functions the three files share. tile.c owns the entry
 * point and the properties, tile_poly.c the polygons, tile_cluster.c the
 * points and their clusters.
 */
#ifndef SITU_TILE_ENC_H
#define SITU_TILE_ENC_H

#include <math.h>

#include "situ/mvt.h"
#include "tile_private.h"

#define CLUSTER_IDS 8
/* enc.slim: an urgent mark of one keeps only its id */
#define TILE_SLIM_ID 2
/* scratch.vlen: the value is a string, its bytes the string's own */
#define TILE_VSTR 0x80000000u
#define TILE_SMALL_INTS 1024 /* the integers a tile remembers the index of */

/* A feature waiting for the clustering decision: a point, a polygon already
 * collapsed to its interior point, or a small polygon that stays a polygon
 * unless its cell clusters. */
enum { CAND_POINT, CAND_COLLAPSED, CAND_POLYGON };

/* The widest cell number a cand holds: a 4096 extent at a 1-unit cell has
 * fewer than 2^25 cells. */
#define CAND_CELL_MAX 0x3FFFFFFFu

typedef struct cand {
    int32_t x, y;
    uint32_t fi;
    uint32_t cell : 30, kind : 2;
} cand;

typedef struct scratch {
    situ_mvt_layer layer;
    situ_mvt_geom geom;
    uint64_t *bits;
    size_t nwords;
    tile_rings in, out, runs; /* a polygon's rings: taken, clipped, scratch */
    uint32_t *kidx;           /* the points of one ring kept at this zoom */
    size_t kcap;
    int32_t *ia; /* one ring snapped */
    size_t iacap;
    int32_t *lxy; /* the ring split into simple loops */
    size_t nlxy, lcap;
    uint32_t *loff;
    int64_t *larea;
    size_t nloops, loopcap;
    uint32_t *hstamp, *hidx, hst; /* point -> path index, while splitting */
    size_t hcap, hidxcap;
    uint32_t *tags;
    size_t tagcap;  /* pairs */
    uint32_t stamp; /* this layer's, for the keys' and values' tables */
    uint32_t kstamp[SITU_TILE_MAXKEYS], klocal[SITU_TILE_MAXKEYS];
    cand *cands, *sorted;
    size_t ncands, candcap;
    uint64_t *marks; /* urgent marks' members: cell << 32 | feature (tile_urgent.c) */
    size_t nmarks, markcap;
    uint32_t *mcount;  /* per mark cell: a counting sort's starts */
    uint64_t *msorted; /* the members sorted by cell, then swapped with marks */
    size_t mcountcap, msortedcap;
    situ_buf val; /* one encoded value */
    /* the values this layer used (features' and aggregates'), each written
     * once: value i is the vlen[i] & ~TILE_VSTR bytes at voff[i] in
     * layer.vals (a string's own bytes when vlen[i] has TILE_VSTR, else the
     * encoded Value), its index in the layer vlocal[i]; vslots hashes them
     * (tile.c's vslot_used). A feature's id when its source's ids_apart is
     * not among them (nothing else can equal it) */
    uint32_t *voff, *vlen, *vlocal;
    uint64_t *vslots;
    size_t nv, voffcap, vslotcap;
    /* per coded key's row (tile_codes.row) and code: this layer's stamp << 32 |
     * the value's index in the layer, once used */
    uint64_t *coded;
    size_t codedcap;
    /* per integer value 0 .. TILE_SMALL_INTS - 1 of a feature (a field's,
     * an item's quantity): this layer's stamp << 32 | its index in the
     * layer, once used */
    uint64_t small_int[TILE_SMALL_INTS];
    tile_ymemo ymemo;
    int oom;
} scratch;

typedef struct enc {
    const situ_tilesrc *src;
    const situ_coll *c;
    const situ_tile_opts *o;
    situ_tile_xyz t;
    tile_tf tf;
    float tol2;
    const tile_lod *lod; /* the source's points kept at tol2, or NULL: filter */
    int clustering;      /* points (and small polygons) cluster at this zoom */
    int aggregating; /* below aggregate_below: every feature folds into its cell but the urgent */
    int marking;     /* below urgent_from: overdue hidden dangers are also urgent marks */
    int slim;        /* the feature being written keeps only its slim keys (1), its id (2) */
    int has_witness; /* a point of the current polygon's clipped rings */
    int32_t witness[2];
    scratch *s;
    situ_tile_stats st;
} enc;

/* Grows *p (elem bytes each) to hold n; new memory is zeroed. 0 or -1. */
int situ__tile_grow(void **p, size_t *cap, size_t n, size_t elem);
/* Room for npairs tags in s->tags; 0 or -1. */
int situ__tile_tag_room(scratch *s, size_t npairs);
/* This tile's index of key k, added on first use. */
uint32_t situ__tile_local_key(enc *e, int k);
/* This tile's index of the value encoded in s->val, added on first use
 * (values are compared by their bytes). */
uint32_t situ__tile_value(enc *e);
/* Encodes a number into b as MVT writes it: an integer when it is one. */
void situ__tile_number_value(situ_buf *b, double v);
/* Puts feature fi's properties (its slim ones when e->slim, its id alone
 * when TILE_SLIM_ID) in s->tags,
 * with room for `more` pairs after them; the pairs written, or -1 (s->oom). */
int situ__tile_feature_tags(enc *e, uint32_t fi, size_t more);
/* Writes the geometry in s->geom as feature fi, with fi's properties. */
void situ__tile_emit_feature(enc *e, uint32_t fi, situ_mvt_gtype type);
/* Queues feature fi's point (or interior point) as a candidate of `kind`
 * when it lies in the buffered tile; returns 0 when it does not. */
int situ__tile_add_candidate(enc *e, uint32_t fi, int kind);
/* 1 when feature fi is a hidden danger past its deadline (o->today) and
 * not rectified. */
int situ__tile_overdue(const enc *e, uint32_t fi);
/* Writes urgent feature fi's point with its slim keys, when it lies in the
 * buffered tile. */
void situ__tile_emit_urgent(enc *e, uint32_t fi);

/* tile_poly.c */
/* Room for n points in s->ia; 0 or -1. */
int situ__tile_ia_room(scratch *s, size_t n);
void situ__tile_polygon_feature(enc *e, uint32_t fi);
void situ__tile_write_polygon(enc *e, uint32_t fi, int now);

/* tile_line.c: writes line feature fi (its parts clipped to the buffered
 * tile, simplified, snapped), or nothing when no part reaches the tile. */
void situ__tile_line_feature(enc *e, uint32_t fi);

/* tile_cluster.c */
void situ__tile_emit_point(enc *e, const cand *c);
void situ__tile_cluster_points(enc *e);
/* Writes one cluster of n members at xy (tile units) with the folded
 * aggregates acc/any; m (the members, for `ids`) may be NULL when the tile
 * aggregates. */
void situ__tile_emit_cluster(enc *e, const int32_t xy[2], size_t n, const double *acc,
                             const uint8_t *any, const cand *m);

/* tile_urgent.c: the urgent marks below urgent_from. situ__tile_mark_add
 * queues overdue feature fi when its rounded point lies in the buffered
 * tile; situ__tile_marks_write writes the queue as marks, in cell order,
 * and empties it. */
void situ__tile_mark_add(enc *e, uint32_t fi);
void situ__tile_marks_write(enc *e);
/* Writes one mark of n members whose rounded points in e's tile units sum
 * to sx, sy; fi is its member when n is 1. */
void situ__tile_mark_write(enc *e, size_t n, int64_t sx, int64_t sy, uint32_t fi);

/* tile_pyramid.c: writes the aggregate layer of e's tile from pyramid p
 * (the urgent features, then the cells), as scanning would. */
void situ__tile_pyramid_encode(enc *e, const tile_pyramid *p);
/* 1 when p can give the urgent marks below its urgent_from (it keeps the
 * urgent features of zoom urgent_from); else such tiles scan. */
int situ__tile_pyramid_marks(const tile_pyramid *p);

/* a / b rounded down (b > 0). */
static inline int64_t situ__floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
/* A point's position in tile units rounded, halves up: the same integer
 * whichever tile it is cut in (v - origin rounds as v does). */
static inline int64_t situ__tile_round_up(double v)
{
    return (int64_t)floor(v + 0.5);
}

#endif

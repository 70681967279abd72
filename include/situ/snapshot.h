/*
 * situ/snapshot.h: the immutable in-memory copy of the collections that every
 * read path (items, tiles, nearest, locate, export) serves from.
 *
 * A situ_coll is one collection: its features sorted by (township_code, id),
 * their geometries in flat arrays, typed property values, resource items, an
 * id index and a packed R-tree. A situ_snapshot is one situ_coll per
 * collection plus a version. Both are reference counted and never change once
 * built, so readers need no locks; a writer builds a new situ_coll for what it
 * touched and publishes a new snapshot sharing the others:
 *
 *     store --situ_coll_load--> coll --situ_snapshot_with--> snapshot'
 *     readers: situ_snapshot_retain ... read ... situ_snapshot_release
 *
 * Geometry conventions: lon/lat WGS84; polygon exterior rings counter-
 * clockwise, holes clockwise (RFC 7946), every ring closed (first == last).
 * A line collection (roads, SITU_GT_MULTILINESTRING) keeps each LineString
 * part as a situ_poly of one ring, that ring the open line with its vertices
 * in their order (not closed, not reoriented); f->x/y is its middle vertex.
 */
#ifndef SITU_SNAPSHOT_H
#define SITU_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "situ/err.h"
#include "situ/index.h"
#include "situ/schema.h"
#include "situ/store.h"

typedef struct situ_ring {
    uint32_t off; /* first point, index into xy in points (xy[2*off]) */
    uint32_t n;   /* points, closing point included */
} situ_ring;

typedef struct situ_poly {
    uint32_t ring0; /* first ring (the exterior), index into rings */
    uint32_t nrings;
} situ_poly;

typedef struct situ_held {
    int item; /* index into the item vocabulary (situ_schema_item) */
    double quantity;
    const char *unit;
    const char *updated_at;
} situ_held;

typedef struct situ_feature {
    const char *id;
    const char *township_code; /* "" when outside every township */
    const char *updated_at;
    const char *extra;        /* JSON object text, or NULL */
    double bbox[4];           /* minx, miny, maxx, maxy */
    double x, y;              /* the point; for polygons a point inside the first polygon; for
                                 lines the middle vertex of the first part */
    uint32_t poly0, npolys;   /* polygon collections; line collections: the parts */
    uint32_t held0, nheld;    /* resources: items, sorted by item index */
    const situ_value *values; /* collection->nfields values */
} situ_feature;

/* An order-independent digest of a collection's content: the sum, lane by
 * lane (mod 2^64), of a 128-bit XXH3 hash of every feature's content (its
 * collection, id, township, time, extra, values, point, rings, items; in the
 * host's byte order). Adding a feature adds its hash, removing it subtracts
 * it, so a collection's next version costs the hashes of what changed. */
typedef struct situ_digest {
    uint64_t lo, hi;
} situ_digest;

typedef struct situ_coll {
    const situ_collection *c;
    size_t n;
    const situ_feature *feats; /* sorted by (township_code, id) */
    const situ_poly *polys;
    const situ_ring *rings;
    const double *xy;
    const situ_held *held;
    const uint32_t *by_id; /* feature indices sorted by id */
    situ_rtree *index;     /* refs are feature indices */
    char updated_max[32];  /* latest updated_at, "" when empty */
    double extent[4];      /* of all features; zeros when empty */
    size_t bytes;          /* memory held, for metrics */
    situ_digest digest;    /* of its features, kept as it changes (situ_coll_digest_check) */
    int refs;
    void *priv;
    /* the townships only, when known (read back from a snapshot file): the
     * counties and provinces situ_admin_dissolve makes of exactly these
     * features, so tiles need not dissolve them again; else NULL */
    struct situ_coll *outlines[2];
    /* lineage, so that what is prepared from a version (tiles) can carry
     * over what did not change: uid is unique in the process (never 0);
     * when situ_coll_update made this version from the version whose uid
     * is base_uid, base_of[i] is the index there of the feature copied as
     * feature i, as it was, or SITU_COLL_NEW when feature i was read from
     * the store again (named by a change: new or maybe changed); otherwise
     * base_uid is 0 and base_of NULL */
    uint64_t uid, base_uid;
    const uint32_t *base_of;
} situ_coll;

#define SITU_COLL_NEW UINT32_MAX

typedef struct situ_snapshot {
    situ_coll *colls[SITU_NCOLLECTIONS];
    int64_t version;
    double built_at; /* seconds since the epoch */
    int refs;
} situ_snapshot;

/* Reads collection cid from the store into a new situ_coll (refs = 1). */
int situ_coll_load(situ_store *s, situ_coll_id cid, situ_coll **out_coll, situ_err *err);
/* The next version of collection prev (refs = 1): the features whose ids
 * are in ids[0..nids) read again from the store (added when new, gone when
 * no longer there), every other copied from prev as it is. Equal to what
 * situ_coll_load reads when only those features changed since prev; costs
 * a copy of prev's feature records and geometry arrays plus reading the
 * changed rows: the strings and values of the others are prev's own (kept
 * alive by the new version, prev may be released first). Its base_uid is
 * prev's uid and base_of says which features were copied. */
int situ_coll_update(situ_store *s, const situ_coll *prev, const char *const *ids, size_t nids,
                     situ_coll **out_coll, situ_err *err);
situ_coll *situ_coll_retain(situ_coll *c);
/* Drops a reference; frees at zero. NULL is a no-op. */
void situ_coll_release(situ_coll *c);
/* For a collection read back from a snapshot file mapped read-only (or
 * updated from one): hands the pages of its own section of the mapping
 * back to the kernel (MADV_DONTNEED; updated: the section of the version
 * its strings and values are still shared from), never another
 * collection's, which a pass on another thread may be reading. They are
 * the file's, clean, so they leave the process's resident set and are read
 * again from the page cache when next used; for a pass that went through
 * all of it (preparing tiles). Nothing for a collection built in memory,
 * or NULL. */
void situ_coll_drop_pages(const situ_coll *c);
/* In a pass over c's features in order, at feature i: every 65,536
 * features, situ_coll_drop_pages(c), so that a pass over a nation's
 * collection read back from a snapshot file never holds all of it. */
void situ_coll_drop_pages_every(const situ_coll *c, size_t i);
/* The bytes of the read-only snapshot file mapping c was read back from
 * (situ_coll_drop_pages hands back c's section of it); 0 for a collection
 * built in memory, a moved mapping, or NULL. */
size_t situ_coll_file_bytes(const situ_coll *c);

/* The digest of c's features computed from scratch (one pass over every
 * feature and vertex), what c->digest must equal. */
situ_digest situ_coll_digest(const situ_coll *c);
/* 0 when c->digest, kept as c was built, equals situ_coll_digest(c); -1
 * when not. The recomputed digest into *out_recomputed when not NULL. */
int situ_coll_digest_check(const situ_coll *c, situ_digest *out_recomputed);

/* Index of the feature with this id, or -1. */
long situ_coll_find(const situ_coll *c, const char *id);
/* The features of one township: indices [*out_first, *out_end). */
void situ_coll_township_range(const situ_coll *c, const char *code, size_t *out_first,
                              size_t *out_end);
/* The quantity of item `item` a resource holds, or 0. */
double situ_coll_held(const situ_coll *c, const situ_feature *f, int item);

/* Reads every collection into a new snapshot (refs = 1, version 1). */
int situ_snapshot_load(situ_store *s, situ_snapshot **out_snap, situ_err *err);
/* Reads every collection as situ_snapshot_load does, with the townships'
 * counties and provinces dissolved (situ_coll.outlines), from the snapshot
 * file db.snap when it is sound and was written at the store's present
 * state; otherwise from the store s (opened on db), then writes db.snap for
 * the next start (a temporary file synced and renamed). A PostgreSQL store
 * (db a URL) is always read from the store and no file is written. note
 * (nnote bytes) says which it was and why, for the log; a file that cannot
 * be written is noted, not an error. */
int situ_snapshot_open(situ_store *s, const char *db, situ_snapshot **out_snap, char *note,
                       size_t nnote, situ_err *err);
/* At a clean stop: writes snap, which holds every event of the store db to
 * seq, to db.snap keyed to the store's state at rest (its WAL checkpointed,
 * every connection to it closed), so that the next start reads it back
 * unless the store changed since. Nothing is written (note says why) for a
 * PostgreSQL store, a snapshot without townships, or when the store's
 * event log holds events past seq; or when db.snap already has this key.
 * 0, or an error when the store cannot be opened or the file written. */
int situ_snapshot_save(const char *db, const situ_snapshot *snap, long long seq, char *note,
                       size_t nnote, situ_err *err);
/* A new snapshot equal to old but with collection coll (retained) in its
 * place and version old->version + 1. NULL when out of memory. */
situ_snapshot *situ_snapshot_with(const situ_snapshot *old, situ_coll *coll);
situ_snapshot *situ_snapshot_retain(situ_snapshot *s);
/* The snapshot's digest, as /healthz reports it: 32 hex digits of a 128-bit
 * XXH3 hash of every collection's id, count and kept digest; O(collections).
 * Equal content gives equal digests, whatever store it was read from and
 * however the snapshot was built (whole, by updates, from a snapshot file). */
#define SITU_DIGEST_HEX 33
void situ_snapshot_digest(const situ_snapshot *s, char out[SITU_DIGEST_HEX]);
void situ_snapshot_release(situ_snapshot *s);

/* The township feature (in colls[SITU_C_TOWNSHIPS]) containing lon/lat, or
 * -1. A point on a shared border goes to the smallest code. */
long situ_snapshot_locate(const situ_snapshot *s, double lon, double lat);
/* The township feature with this code, or NULL. */
const situ_feature *situ_snapshot_township(const situ_snapshot *s, const char *code);

/* The name of the township with this code, or NULL. */
const char *situ_snapshot_township_name(const situ_snapshot *s, const char *code);

/* 1 when (x, y) lies inside or on the boundary of feature f's polygons;
 * 0 for a line collection (a line encloses nothing). */
int situ_coll_contains(const situ_coll *c, const situ_feature *f, double x, double y);

/* Orients closed ring xy[0..n) (x, y pairs; first point repeated last)
 * counter-clockwise when ccw, clockwise otherwise, as situ_coll keeps its
 * exteriors and holes. */
void situ_ring_orient(double *xy, size_t n, int ccw);

#endif

/*
 * situ/tilecache.h: the vector-tile cache in front of tile.h. Owns the
 * per-collection tile sources (situ_tilesrc, prepared lazily per situ_coll),
 * cutting on a miss, compressing once (libdeflate) and only when a gzip
 * answer first needs it (a piece answered alone keeps its own gzip; an
 * answer of several pieces, e.g. `all`, keeps the gzip of the whole, made
 * again only when one of its pieces changed; a client that never asks for
 * gzip never pays for it), strong ETags,
 * a memory bound in bytes (sharded LRU) and exact invalidation. Does not own
 * HTTP: the route turns a situ_tile_reply into 200/204/304 and headers.
 *
 * Keys are (collection, z, x, y). Entries stay valid across snapshots: a
 * writer tells the cache which collection changed and the lon/lat boxes
 * (old and new) of the features that changed (situ_tilecache_advance); only
 * the tiles whose buffered bounds meet a box are dropped. An `all` tile is
 * the concatenation of the per-collection entries, so a change in one
 * collection recomputes that collection's layer only.
 *
 * Thread-safe: any number of readers (situ_tilecache_get) and one writer
 * (advance, invalidate). No lock is held while a tile is cut or compressed.
 */
#ifndef SITU_TILECACHE_H
#define SITU_TILECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/snapshot.h"
#include "situ/tile.h"

typedef struct situ_tilecache situ_tilecache;
typedef struct situ_tile_entry situ_tile_entry;

typedef struct situ_tilecache_opts {
    size_t max_bytes;           /* bound on cached bytes, entries included (256 MiB) */
    int gzip_level;             /* libdeflate level 1..12 (1: fast; MVT varints gain little more) */
    const situ_tile_opts *tile; /* NULL: situ_tile_opts_default */
    unsigned drop_every;        /* cuts between looks at the process's resident memory;
                                   0: SITU_TILECACHE_DROP_EVERY */
    size_t resident_budget;     /* the process's resident bytes past which the snapshot
                                   file is handed back; 0: SITU_TILECACHE_RESIDENT_BUDGET */
} situ_tilecache_opts;

/* When a collection was read back from a snapshot file, every drop_every
 * cuts (misses cut, cached or not) the cache looks at the process's
 * resident memory, anonymous and file pages together (/proc/self/statm,
 * one pread: what VmHWM, the peak, counts); past resident_budget, the
 * file's pages are handed back (situ_coll_drop_pages). Cutting reads the
 * file's pages into the resident set, and a sweep of a nation's low zooms
 * would otherwise hold the whole file. A process whose resident memory
 * plus the whole file is within the budget (a city, a province) is looked
 * at only every 64th cut and never hands its file back, so its cold tiles
 * never read pages in again. The default fits a nation (scale 200: about
 * 670-700 MB of the process's own at its first tile) under 1 GB at its
 * peak, which is the budget plus what one cut reads (up to ~150 MB at z3-z6). */
#define SITU_TILECACHE_DROP_EVERY 1u
#define SITU_TILECACHE_RESIDENT_BUDGET ((size_t)768 << 20)

/* One answer: the pieces (per-collection entries, retained) that make the
 * body, in collection order. n_raw == 0 means an empty tile (answer 204). */
typedef struct situ_tile_reply {
    size_t n_raw;     /* uncompressed body bytes */
    size_t n_gz;      /* gzip body bytes, once situ_tile_reply_body made one */
    char etag[24];    /* "\"<16 hex>\"", the identity body's strong ETag */
    char etag_gz[28]; /* "\"<16 hex>-gz\"", the gzip body's */
    int npieces;
    situ_tile_entry *pieces[SITU_NCOLLECTIONS];
    uint32_t crc;       /* CRC-32 of the raw body */
    uint64_t hash;      /* of the pieces' contents: the ETags' */
    situ_tilecache *tc; /* the cache the pieces came from */
} situ_tile_reply;

typedef struct situ_tilecache_stats {
    uint64_t hits, misses, empty_fast;         /* empty_fast: empty without lookup */
    uint64_t evictions, invalidated, uncached; /* uncached: cut but not kept */
    uint64_t handbacks;                        /* the snapshot file handed back */
    size_t entries, bytes, max_bytes;
    size_t src_bytes; /* memory of the prepared collections */
} situ_tilecache_stats;

/* o NULL means the defaults. */
int situ_tilecache_new(const situ_tilecache_opts *o, situ_tilecache **out_tc, situ_err *err);
/* Frees the cache; readers must be done. NULL is a no-op. */
void situ_tilecache_free(situ_tilecache *tc);

/* The tile (set = a situ_coll_id or SITU_TILESET_ALL) from snapshot snap:
 * from the cache, or cut, compressed and cached. *out is filled on success
 * and must be disposed with situ_tile_reply_dispose. A snapshot older than
 * the cache's view of a collection is answered correctly but not cached. */
int situ_tilecache_get(situ_tilecache *tc, const situ_snapshot *snap, int set, situ_tile_xyz t,
                       situ_tile_reply *out, situ_err *err);
/* Appends the body to out: gzip (one member) when gzip, else the raw MVT.
 * A gzip body no answer made before is compressed now and kept in the
 * cache (counted against max_bytes); it sets r->n_gz. */
int situ_tile_reply_body(situ_tile_reply *r, int gzip, situ_buf *out);
/* 1 when an If-None-Match header value (a list, W/ and * allowed) matches
 * either ETag of r. */
int situ_tile_reply_matches(const situ_tile_reply *r, const char *if_none_match);
void situ_tile_reply_dispose(situ_tile_reply *r);

/* Prepares every collection of snap that is not prepared yet (optional: the
 * first request does it otherwise). */
int situ_tilecache_prepare(situ_tilecache *tc, const situ_snapshot *snap, situ_err *err);

/* The writer's call after building snapshot snap, in which collection cid
 * changed and nothing else: only the features within the nboxes lon/lat
 * boxes (4 doubles each: their old and new bounding boxes) differ. Tiles of
 * cid meeting a box, at every zoom, are dropped; the rest stay valid for the
 * new collection. The townships' tiles below the tile options'
 * county_below (their counties' and provinces' outlines, dissolved again
 * for the changed ones) are all dropped. boxes NULL drops every tile of cid. Call it before readers
 * can see snap, so that no reader mistakes the change for an unknown one
 * (which drops every tile of cid). */
int situ_tilecache_advance(situ_tilecache *tc, const situ_snapshot *snap, situ_coll_id cid,
                           const double *boxes, size_t nboxes, situ_err *err);
/* Drops the cached tiles of cid whose buffered bounds meet the lon/lat box
 * (minlon, minlat, maxlon, maxlat), at every zoom; returns how many. */
size_t situ_tilecache_invalidate(situ_tilecache *tc, situ_coll_id cid, const double bbox[4]);

void situ_tilecache_stats_get(situ_tilecache *tc, situ_tilecache_stats *out);

#endif

/*
 * situ/gzip.h: one gzip member of a buffer in one call, by libdeflate (a
 * compressor kept per thread and level), for the tile cache's pieces and
 * situd's answers: at level 6 on the demo's JSON answers libdeflate's
 * output is 1.5-6 % smaller than zlib's (/api: 1 % larger) for 30-52 %
 * fewer instructions (scripts/bench/gzip_json.c; the tiles: gzip_tiles.c). libdeflate has no streaming API: an answer made piece by
 * piece is situd's, through zlib (one member; see daemon/server.c).
 */
#ifndef SITU_GZIP_H
#define SITU_GZIP_H

#include <stddef.h>

/* Bytes enough for the gzip member of n bytes at any level. */
size_t situ_gzip_bound(size_t n);

/* Writes one gzip member of p[0..n) at `level` (1..12) into out (cap bytes;
 * situ_gzip_bound(n) always suffices). Returns its length, or 0 when out of
 * memory or cap is short. */
size_t situ_gzip_into(const void *p, size_t n, int level, void *out, size_t cap);

/* One gzip member of p[0..n) at `level`, malloc'd (the caller frees it),
 * *out_n its length; NULL when out of memory. */
char *situ_gzip(const void *p, size_t n, int level, size_t *out_n);

#endif

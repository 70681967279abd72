/*
 * gzip_tiles.c: what compressing the tile cache's pieces costs. Cuts every
 * tile of a tile list (z/x/y per line, the peer harness's tiles.txt) into
 * its per-collection pieces (as the cache keeps them), then compresses them
 * with each way the cache could, pooled over --passes passes (the best pass
 * is kept, for a shared machine):
 *
 *   zlib_sync L      each piece raw deflate ending in a sync flush (what
 *                    tilecache.c does: pieces concatenate into one member)
 *   libdeflate_piece L  each piece on its own (final block: not concatenable)
 *   libdeflate_whole L  the assembled tile (all pieces) as one gzip member
 *
 * for L in 1..6. One line each: "gzip_tiles NAME L bytes=... ratio=...
 * us_per_tile=... cpu_us_per_tile=...". With --only NAME --level L just that
 * one runs (for callgrind: --toggle-collect=compress_all).
 * Usage: gzip_tiles --db FILE --tiles FILE [--passes N] [--only NAME --level L]
 */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/tile.h"
#include "bench.h"

#define MAXTILES 100000

typedef struct piece {
    unsigned char *p;
    size_t n;
} piece;

typedef struct tiles {
    size_t n;                           /* tiles */
    piece (*pieces)[SITU_NCOLLECTIONS]; /* per tile, per collection */
    piece *whole;                       /* per tile, the assembled tile */
    size_t raw;                         /* bytes of all tiles */
    size_t maxn;                        /* the largest tile */
} tiles;

typedef size_t (*compressor)(const tiles *t, int level, unsigned char *out, size_t cap);

static size_t zlib_sync(const tiles *t, int level, unsigned char *out, size_t cap)
{
    z_stream z = {0};
    size_t total = 0;
    if (deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        for (int c = 0; c < SITU_NCOLLECTIONS; c++) {
            const piece *p = &t->pieces[i][c];
            if (!p->n)
                continue;
            deflateReset(&z);
            z.next_in = p->p, z.avail_in = (uInt)p->n;
            z.next_out = out, z.avail_out = (uInt)cap;
            if (deflate(&z, Z_SYNC_FLUSH) != Z_OK || z.avail_in)
                return deflateEnd(&z), 0;
            total += cap - z.avail_out;
        }
    deflateEnd(&z);
    return total;
}

static size_t libdeflate_piece(const tiles *t, int level, unsigned char *out, size_t cap)
{
    struct libdeflate_compressor *d = libdeflate_alloc_compressor(level);
    size_t total = 0;
    for (size_t i = 0; d && i < t->n; i++)
        for (int c = 0; c < SITU_NCOLLECTIONS; c++)
            if (t->pieces[i][c].n)
                total +=
                    libdeflate_deflate_compress(d, t->pieces[i][c].p, t->pieces[i][c].n, out, cap);
    libdeflate_free_compressor(d);
    return total;
}

static size_t libdeflate_whole(const tiles *t, int level, unsigned char *out, size_t cap)
{
    struct libdeflate_compressor *d = libdeflate_alloc_compressor(level);
    size_t total = 0;
    for (size_t i = 0; d && i < t->n; i++)
        if (t->whole[i].n)
            total += libdeflate_gzip_compress(d, t->whole[i].p, t->whole[i].n, out, cap);
    libdeflate_free_compressor(d);
    return total;
}

static const struct {
    const char *name;
    compressor f;
} ways[] = {{"zlib_sync", zlib_sync},
            {"libdeflate_piece", libdeflate_piece},
            {"libdeflate_whole", libdeflate_whole}};

/* The pass callgrind counts (--toggle-collect=compress_all). */
__attribute__((noinline)) size_t compress_all(compressor f, const tiles *t, int level,
                                              unsigned char *out, size_t cap)
{
    return f(t, level, out, cap);
}

static void measure(const tiles *t, int way, int level, int passes, unsigned char *out, size_t cap)
{
    double best = 1e300, best_cpu = 1e300;
    size_t bytes = 0;
    for (int p = 0; p < passes; p++) {
        double a = now_ms(), c = cpu_ms();
        bytes = compress_all(ways[way].f, t, level, out, cap);
        double w = now_ms() - a, u = cpu_ms() - c;
        best = w < best ? w : best;
        best_cpu = u < best_cpu ? u : best_cpu;
    }
    printf("gzip_tiles %-16s %d bytes=%zu ratio=%.3f us_per_tile=%.1f cpu_us_per_tile=%.1f\n",
           ways[way].name, level, bytes, (double)bytes / (double)t->raw, best * 1e3 / (double)t->n,
           best_cpu * 1e3 / (double)t->n);
    fflush(stdout);
}

static int read_list(const char *path, situ_tile_xyz *list, size_t *n)
{
    FILE *f = fopen(path, "r");
    char line[256];
    if (!f)
        return -1;
    while (*n < MAXTILES && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        situ_err err = {0};
        if (line[0] && line[0] != '#' && !situ_tile_parse_path(line, "", &list[*n], &err))
            (*n)++;
    }
    fclose(f);
    return *n ? 0 : -1;
}

static piece keep(const situ_buf *b)
{
    piece p = {malloc(b->n ? b->n : 1), b->n};
    if (b->n)
        memcpy(p.p, b->p, b->n);
    return p;
}

/* Cuts each tile's pieces with the default options. */
static int cut_all(const situ_snapshot *snap, const situ_tile_xyz *list, tiles *t)
{
    situ_tilesrc *src[SITU_NCOLLECTIONS] = {0};
    situ_tile_opts o;
    situ_err err = {0};
    situ_buf b, whole;
    situ_tile_opts_default(&o);
    situ_buf_init(&b);
    situ_buf_init(&whole);
    t->pieces = calloc(t->n, sizeof *t->pieces);
    t->whole = calloc(t->n, sizeof *t->whole);
    for (int c = 0; c < SITU_NCOLLECTIONS; c++)
        if (snap->colls[c] && snap->colls[c]->n && situ_tilesrc_new(snap->colls[c], &src[c], &err))
            return fprintf(stderr, "gzip_tiles: %s\n", err.msg), -1;
    for (size_t i = 0; i < t->n; i++) {
        whole.n = 0;
        for (int c = 0; c < SITU_NCOLLECTIONS; c++) {
            b.n = 0;
            if (src[c] && situ_tile_encode_coll(src[c], list[i], &o, &b, NULL, &err))
                return fprintf(stderr, "gzip_tiles: %s\n", err.msg), -1;
            t->pieces[i][c] = keep(&b);
            situ_buf_add(&whole, b.p, b.n);
        }
        t->whole[i] = keep(&whole);
        t->raw += whole.n;
        t->maxn = whole.n > t->maxn ? whole.n : t->maxn;
    }
    for (int c = 0; c < SITU_NCOLLECTIONS; c++)
        situ_tilesrc_release(src[c]);
    situ_buf_dispose(&b);
    situ_buf_dispose(&whole);
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *list_path = NULL, *only = NULL;
    int passes = 3, level = 0;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!strcmp(argv[i], "--tiles"))
            list_path = argv[i + 1];
        else if (!strcmp(argv[i], "--passes"))
            passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1];
        else if (!strcmp(argv[i], "--level"))
            level = atoi(argv[i + 1]);
    situ_tile_xyz *list = malloc(MAXTILES * sizeof *list);
    tiles t = {0};
    if (!db || !list_path || passes < 1 || read_list(list_path, list, &t.n)) {
        fprintf(stderr, "usage: gzip_tiles --db FILE --tiles FILE [--passes N] "
                        "[--only zlib_sync|libdeflate_piece|libdeflate_whole --level L]\n");
        return 2;
    }
    situ_store *s = NULL;
    situ_snapshot *snap = NULL;
    situ_err err = {0};
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err) || situ_snapshot_load(s, &snap, &err))
        return fprintf(stderr, "gzip_tiles: %s\n", err.msg), 1;
    if (cut_all(snap, list, &t))
        return 1;
    printf("# tiles=%zu raw_bytes=%zu mean=%.0f max=%zu\n", t.n, t.raw, (double)t.raw / (double)t.n,
           t.maxn);
    size_t cap = compressBound(t.maxn) + 4096;
    unsigned char *out = malloc(cap);
    for (int w = 0; w < (int)(sizeof ways / sizeof *ways); w++)
        for (int l = 1; l <= 6; l++)
            if (!only || (!strcmp(only, ways[w].name) && (!level || level == l)))
                measure(&t, w, l, passes, out, cap);
    free(out);
    situ_snapshot_release(snap);
    situ_store_close(s);
    return 0;
}

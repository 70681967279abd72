/*
 * gzip_json.c: what gzipping situd's JSON answers costs, each way situd
 * could. Reads answer bodies (files saved with curl: /townships, an export,
 * /collections/X/items with a big limit) and compresses each, pooled over
 * --passes passes (the best pass kept, for a shared machine):
 *
 *   zlib L               one gzip member in one call (situd_gzip before)
 *   zlib_stream L        deflate fed 64 KiB at a time, out in 64 KiB
 *                        (situd's streamed answers: one member)
 *   libdeflate L         one gzip member in one call
 *   libdeflate_pieces L  each 64 KiB piece its own gzip member (what
 *                        streaming with libdeflate would send: multi-member)
 *
 * One line each: "gzip_json FILE NAME L bytes=... ratio=... cpu_ms=...
 * mb_per_s=...". With --only NAME --level L just that one runs (for
 * callgrind: --toggle-collect=compress_one).
 * Usage: gzip_json [--passes N] [--only NAME --level L] FILE...
 */
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bench.h"

#define PIECE (64 * 1024)

typedef size_t (*compressor)(const unsigned char *p, size_t n, int level, unsigned char *out,
                             size_t cap);

static size_t zlib_once(const unsigned char *p, size_t n, int level, unsigned char *out, size_t cap)
{
    z_stream z = {0};
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    z.next_in = (Bytef *)p, z.avail_in = (uInt)n;
    z.next_out = out, z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return rc == Z_STREAM_END ? got : 0;
}

static size_t zlib_stream(const unsigned char *p, size_t n, int level, unsigned char *out,
                          size_t cap)
{
    z_stream z = {0};
    size_t got = 0, pos = 0;
    int rc = Z_OK;
    if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    while (rc != Z_STREAM_END && got < cap) {
        size_t in = n - pos < PIECE ? n - pos : PIECE;
        z.next_in = (Bytef *)p + pos, z.avail_in = (uInt)in;
        int end = pos + in == n;
        do {
            size_t room = cap - got < PIECE ? cap - got : PIECE;
            z.next_out = out + got, z.avail_out = (uInt)room;
            rc = deflate(&z, end ? Z_FINISH : Z_NO_FLUSH);
            got += room - z.avail_out;
        } while (z.avail_out == 0 && rc != Z_STREAM_END);
        pos += in - z.avail_in;
    }
    deflateEnd(&z);
    return rc == Z_STREAM_END ? got : 0;
}

static size_t ld_once(const unsigned char *p, size_t n, int level, unsigned char *out, size_t cap)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t got = c ? libdeflate_gzip_compress(c, p, n, out, cap) : 0;
    libdeflate_free_compressor(c);
    return got;
}

static size_t ld_pieces(const unsigned char *p, size_t n, int level, unsigned char *out, size_t cap)
{
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
    size_t got = 0;
    for (size_t pos = 0; c && pos < n; pos += PIECE) {
        size_t in = n - pos < PIECE ? n - pos : PIECE;
        size_t one = libdeflate_gzip_compress(c, p + pos, in, out + got, cap - got);
        if (!one) {
            got = 0;
            break;
        }
        got += one;
    }
    libdeflate_free_compressor(c);
    return got;
}

static const struct {
    const char *name;
    compressor fn;
    int maxlevel;
} ways[] = {{"zlib", zlib_once, 9},
            {"zlib_stream", zlib_stream, 9},
            {"libdeflate", ld_once, 12},
            {"libdeflate_pieces", ld_pieces, 12}};

/* Kept apart for callgrind's --toggle-collect. */
__attribute__((noinline)) size_t compress_one(compressor fn, const unsigned char *p, size_t n,
                                              int level, unsigned char *out, size_t cap)
{
    return fn(p, n, level, out, cap);
}

static unsigned char *read_all(const char *path, size_t *out_n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *p = n > 0 ? malloc((size_t)n) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        *out_n = (size_t)n;
    return p;
}

static void run(const char *path, const unsigned char *p, size_t n, int w, int level, int passes)
{
    size_t cap = n + n / 8 + (n / PIECE + 1) * 64 + 1024, got = 0;
    unsigned char *out = malloc(cap);
    double best = 1e30;
    for (int i = 0; out && i < passes; i++) {
        double t0 = cpu_ms();
        got = compress_one(ways[w].fn, p, n, level, out, cap);
        double t = cpu_ms() - t0;
        best = t < best ? t : best;
    }
    printf("gzip_json %s %s %d bytes=%zu ratio=%.4f cpu_ms=%.2f mb_per_s=%.1f\n", path,
           ways[w].name, level, got, n ? (double)got / (double)n : 0, best,
           best > 0 ? (double)n / 1e6 / (best / 1e3) : 0);
    free(out);
}

int main(int argc, char **argv)
{
    int passes = 3, only_level = 0;
    const char *only = NULL;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (i + 1 >= argc)
            break;
        if (!strcmp(argv[i], "--passes"))
            passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1];
        else if (!strcmp(argv[i], "--level"))
            only_level = atoi(argv[i + 1]);
    }
    if (i >= argc || passes < 1) {
        fprintf(stderr, "usage: gzip_json [--passes N] [--only NAME --level L] FILE...\n");
        return 2;
    }
    for (; i < argc; i++) {
        size_t n = 0;
        unsigned char *p = read_all(argv[i], &n);
        if (!p) {
            fprintf(stderr, "gzip_json: cannot read %s\n", argv[i]);
            return 1;
        }
        for (int w = 0; w < (int)(sizeof ways / sizeof ways[0]); w++) {
            if (only && strcmp(only, ways[w].name))
                continue;
            for (int level = 1; level <= ways[w].maxlevel; level++)
                if (!only_level || level == only_level)
                    run(argv[i], p, n, w, level, passes);
        }
        free(p);
    }
    return 0;
}

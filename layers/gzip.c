/*
 * gzip.c: one gzip member of a buffer in one call (see situ/gzip.h). Owns
 * the per-thread libdeflate compressors, one per level the thread used
 * (allocated on first use, freed when the thread ends: 200 KB at level 1,
 * 650 KB at 2..9, 8.6 MB at 10..12), so that a thread serving tiles at
 * level 1 and JSON at 6 does not allocate one per answer. Streams are not
 * here (libdeflate has none).
 */
#include "situ/gzip.h"

#include <libdeflate.h>
#include <pthread.h>
#include <stdlib.h>

#define MAX_LEVEL 12

typedef struct compressors {
    struct libdeflate_compressor *c[MAX_LEVEL + 1];
} compressors;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void compressors_free(void *p)
{
    compressors *z = p;
    for (int i = 0; z && i <= MAX_LEVEL; i++)
        libdeflate_free_compressor(z->c[i]);
    free(z);
}

static void key_init(void)
{
    pthread_key_create(&key, compressors_free);
}

/* The calling thread's compressor at `level`; NULL when out of memory or
 * level is out of 1..12. */
static struct libdeflate_compressor *compressor(int level)
{
    if (level < 1 || level > MAX_LEVEL)
        return NULL;
    pthread_once(&once, key_init);
    compressors *z = pthread_getspecific(key);
    if (!z) {
        if (!(z = calloc(1, sizeof *z)) || pthread_setspecific(key, z)) {
            free(z);
            return NULL;
        }
    }
    if (!z->c[level])
        z->c[level] = libdeflate_alloc_compressor(level);
    return z->c[level];
}

size_t situ_gzip_bound(size_t n)
{
    return libdeflate_gzip_compress_bound(NULL, n);
}

size_t situ_gzip_into(const void *p, size_t n, int level, void *out, size_t cap)
{
    struct libdeflate_compressor *c = compressor(level);
    return c ? libdeflate_gzip_compress(c, p, n, out, cap) : 0;
}

char *situ_gzip(const void *p, size_t n, int level, size_t *out_n)
{
    size_t cap = situ_gzip_bound(n);
    char *out = malloc(cap), *fit;
    size_t got = out ? situ_gzip_into(p, n, level, out, cap) : 0;
    if (!got) {
        free(out);
        return NULL;
    }
    fit = realloc(out, got);
    *out_n = got;
    return fit ? fit : out;
}

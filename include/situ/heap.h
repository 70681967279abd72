/*
 * heap.h: a binary min-heap of (key, id) pairs, for the searches that pop
 * one in their inner loop (the roads' Dijkstra, the nearest search's
 * best-first walk of an R-tree). Header-only so that they inline it. The
 * caller owns the situ_heap (zeroed: empty); situ_heap_dispose frees its
 * array. Ties pop in no set order. Not thread-safe: one per search.
 */
#ifndef SITU_HEAP_H
#define SITU_HEAP_H

#include <stdint.h>
#include <stdlib.h>

#include "situ/err.h"

typedef struct situ_heap_ent {
    double key;
    uint32_t id;
} situ_heap_ent;

typedef struct situ_heap {
    situ_heap_ent *v;
    size_t n, cap;
} situ_heap;

/* Adds (key, id); 0, or SITU_ENOMEM leaving the heap as it was. */
static inline int situ_heap_push(situ_heap *h, double key, uint32_t id)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 256;
        situ_heap_ent *v = realloc(h->v, cap * sizeof *v);
        if (!v)
            return SITU_ENOMEM;
        h->v = v, h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && h->v[(i - 1) / 2].key > key) {
        h->v[i] = h->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->v[i] = (situ_heap_ent){key, id};
    return 0;
}

/* Removes and returns an entry of least key; the heap must not be empty. */
static inline situ_heap_ent situ_heap_pop(situ_heap *h)
{
    situ_heap_ent top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->v[c + 1].key < h->v[c].key)
            c++;
        if (h->v[c].key >= last.key)
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n)
        h->v[i] = last;
    return top;
}

static inline void situ_heap_dispose(situ_heap *h)
{
    free(h->v);
    *h = (situ_heap){0};
}

#endif

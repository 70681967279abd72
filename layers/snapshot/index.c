/*
 * index.c: the packed Hilbert R-tree (see situ/index.h). Building sorts the
 * items by the Hilbert value of their box centres on a 2^16 grid, then packs
 * SITU_RTREE_NODE slots per node, level by level, up to one root. Searching
 * is an explicit-stack descent; nothing is allocated per query.
 */
#include "situ/index.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

/* Hilbert index of (x, y) on a 2^16 x 2^16 grid (Warren, Hacker's Delight). */
static uint32_t hilbert(uint32_t x, uint32_t y)
{
    uint32_t a = x ^ y, b = 0xFFFF ^ a, c = 0xFFFF ^ (x | y), d = x & (y ^ 0xFFFF);
    uint32_t A = a | (b >> 1), B = (a >> 1) ^ a;
    uint32_t C = ((c >> 1) ^ (b & (d >> 1))) ^ c, D = ((a & (c >> 1)) ^ (d >> 1)) ^ d;
    a = A, b = B, c = C, d = D;
    A = (a & (a >> 2)) ^ (b & (b >> 2));
    B = (a & (b >> 2)) ^ (b & ((a ^ b) >> 2));
    C ^= (a & (c >> 2)) ^ (b & (d >> 2));
    D ^= (b & (c >> 2)) ^ ((a ^ b) & (d >> 2));
    a = A, b = B, c = C, d = D;
    A = (a & (a >> 4)) ^ (b & (b >> 4));
    B = (a & (b >> 4)) ^ (b & ((a ^ b) >> 4));
    C ^= (a & (c >> 4)) ^ (b & (d >> 4));
    D ^= (b & (c >> 4)) ^ ((a ^ b) & (d >> 4));
    a = A, b = B, c = C, d = D;
    C ^= (a & (c >> 8)) ^ (b & (d >> 8));
    D ^= (b & (c >> 8)) ^ ((a ^ b) & (d >> 8));
    a = C ^ (C >> 1);
    b = D ^ (D >> 1);
    uint32_t i0 = x ^ y, i1 = b | (0xFFFF ^ (i0 | a));
    i0 = (i0 | (i0 << 8)) & 0x00FF00FF;
    i0 = (i0 | (i0 << 4)) & 0x0F0F0F0F;
    i0 = (i0 | (i0 << 2)) & 0x33333333;
    i0 = (i0 | (i0 << 1)) & 0x55555555;
    i1 = (i1 | (i1 << 8)) & 0x00FF00FF;
    i1 = (i1 | (i1 << 4)) & 0x0F0F0F0F;
    i1 = (i1 | (i1 << 2)) & 0x33333333;
    i1 = (i1 | (i1 << 1)) & 0x55555555;
    return (i1 << 1) | i0;
}

typedef struct keyed {
    uint32_t key;
    uint32_t item;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

static size_t count_slots(size_t n, size_t *level_end, int *out_levels)
{
    size_t total = n, m = n;
    int k = 0;
    level_end[k++] = n;
    do {
        m = (m + SITU_RTREE_NODE - 1) / SITU_RTREE_NODE;
        total += m;
        level_end[k++] = total;
    } while (m > 1);
    *out_levels = k;
    return total;
}

/* Sorts the leaves by Hilbert value into t->boxes / t->refs. */
static int place_leaves(situ_rtree *t, const double *boxes, size_t n, const double ext[4])
{
    keyed *ks = malloc(n * sizeof *ks);
    if (!ks)
        return -1;
    double w = ext[2] - ext[0], h = ext[3] - ext[1];
    for (size_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * i;
        double cx = w > 0 ? ((b[0] + b[2]) / 2 - ext[0]) / w : 0;
        double cy = h > 0 ? ((b[1] + b[3]) / 2 - ext[1]) / h : 0;
        ks[i].key = hilbert((uint32_t)(cx * 65535.0), (uint32_t)(cy * 65535.0));
        ks[i].item = (uint32_t)i;
    }
    qsort(ks, n, sizeof *ks, cmp_keyed);
    for (size_t i = 0; i < n; i++) {
        memcpy(t->boxes + 4 * i, boxes + 4 * (size_t)ks[i].item, 4 * sizeof(double));
        t->refs[i] = ks[i].item;
    }
    free(ks);
    return 0;
}

/* Packs each level's slots into nodes of the next level. */
static void pack_levels(situ_rtree *t)
{
    size_t pos = 0, out = t->n;
    for (int k = 0; k + 1 < t->nlevels; k++) {
        size_t end = t->level_end[k];
        while (pos < end) {
            double *nb = t->boxes + 4 * out;
            nb[0] = nb[1] = DBL_MAX;
            nb[2] = nb[3] = -DBL_MAX;
            t->refs[out] = (uint32_t)pos;
            for (size_t j = 0; j < SITU_RTREE_NODE && pos < end; j++, pos++) {
                const double *b = t->boxes + 4 * pos;
                if (b[0] < nb[0]) nb[0] = b[0];
                if (b[1] < nb[1]) nb[1] = b[1];
                if (b[2] > nb[2]) nb[2] = b[2];
                if (b[3] > nb[3]) nb[3] = b[3];
            }
            out++;
        }
    }
}

situ_rtree *situ_rtree_new(const double *boxes, size_t n)
{
    situ_rtree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n = n;
    if (n == 0)
        return t;
    t->nslots = count_slots(n, t->level_end, &t->nlevels);
    t->boxes = malloc(4 * t->nslots * sizeof(double));
    t->refs = malloc(t->nslots * sizeof(uint32_t));
    if (!t->boxes || !t->refs)
        goto fail;
    double ext[4] = {DBL_MAX, DBL_MAX, -DBL_MAX, -DBL_MAX};
    for (size_t i = 0; i < n; i++) {
        const double *b = boxes + 4 * i;
        if (b[0] < ext[0]) ext[0] = b[0];
        if (b[1] < ext[1]) ext[1] = b[1];
        if (b[2] > ext[2]) ext[2] = b[2];
        if (b[3] > ext[3]) ext[3] = b[3];
    }
    if (place_leaves(t, boxes, n, ext))
        goto fail;
    pack_levels(t);
    return t;
fail:
    situ_rtree_free(t);
    return NULL;
}

void situ_rtree_free(situ_rtree *t)
{
    if (!t)
        return;
    free(t->boxes);
    free(t->refs);
    free(t);
}

situ_rtree *situ_rtree_view(size_t n, size_t nslots, const uint64_t *level_end, int nlevels,
                            double *boxes, uint32_t *refs)
{
    if (nlevels < 0 || nlevels > 32 || nslots < n || (nslots && (!boxes || !refs)))
        return NULL;
    for (int k = 0; k < nlevels; k++) /* the levels end in order, at nslots */
        if (level_end[k] > nslots || (k && level_end[k] <= level_end[k - 1]))
            return NULL;
    if ((nlevels ? level_end[nlevels - 1] : 0) != nslots)
        return NULL;
    for (size_t s = 0; s < nslots; s++)
        if (refs[s] >= (s < n ? n : nslots))
            return NULL;
    situ_rtree *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n = n, t->nslots = nslots, t->nlevels = nlevels;
    t->boxes = boxes, t->refs = refs;
    for (int k = 0; k < nlevels; k++)
        t->level_end[k] = (size_t)level_end[k];
    return t;
}

size_t situ_rtree_root(const situ_rtree *t)
{
    return t->nslots ? t->nslots - 1 : SIZE_MAX;
}

void situ_rtree_children(const situ_rtree *t, size_t s, size_t *out_first, size_t *out_end)
{
    size_t first = t->refs[s];
    size_t level_end = t->n;
    for (int k = 0; k < t->nlevels; k++)
        if (first < t->level_end[k]) {
            level_end = t->level_end[k];
            break;
        }
    size_t end = first + SITU_RTREE_NODE;
    *out_first = first;
    *out_end = end < level_end ? end : level_end;
}

size_t situ_rtree_search(const situ_rtree *t, double minx, double miny, double maxx,
                         double maxy, int (*fn)(void *ctx, uint32_t item), void *ctx)
{
    if (!t->nslots)
        return 0;
    size_t stack[32 * SITU_RTREE_NODE], top = 0, visited = 0;
    stack[top++] = t->nslots - 1;
    while (top) {
        size_t s = stack[--top];
        const double *b = t->boxes + 4 * s;
        if (b[2] < minx || b[3] < miny || b[0] > maxx || b[1] > maxy)
            continue;
        if (s < t->n) {
            visited++;
            if (fn(ctx, t->refs[s]))
                return visited;
            continue;
        }
        size_t first, end;
        situ_rtree_children(t, s, &first, &end);
        for (size_t c = first; c < end; c++)
            stack[top++] = c;
    }
    return visited;
}

/*
 * index.c: the packed Hilbert R-tree (see situ/index.h). Building sorts the
 * items by the Hilbert value of their box centres on a 2^16 grid, then packs
 * SITU_RTREE_NODE slots per node, level by level, up to one root. The next
 * version of a collection (situ_rtree_new_from) takes its kept items' keys
 * and order from the previous tree's leaves, sorts only the new ones and
 * merges them in (ties by item index, as the full sort breaks them), then
 * packs: a linear pass instead of a sort, and the same tree. Searching is
 * an explicit-stack descent; nothing is allocated per query.
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

/* Grows box acc to take in box b (a NaN in b is passed over). The same
 * comparisons as branches would make, without the branches. */
static inline void box_grow(double *acc, const double *b)
{
    acc[0] = b[0] < acc[0] ? b[0] : acc[0];
    acc[1] = b[1] < acc[1] ? b[1] : acc[1];
    acc[2] = b[2] > acc[2] ? b[2] : acc[2];
    acc[3] = b[3] > acc[3] ? b[3] : acc[3];
}

/* The min/max of n boxes: the grid their keys are on; the numbers of the
 * root box of a tree over them (the same comparisons in another order: a
 * zero's sign may differ, which no key sees). */
static void boxes_extent(const double *boxes, size_t n, double ext[4])
{
    ext[0] = ext[1] = DBL_MAX;
    ext[2] = ext[3] = -DBL_MAX;
    for (size_t i = 0; i < n; i++)
        box_grow(ext, boxes + 4 * i);
}

/* The Hilbert key of box b's centre on the 2^16 grid over extent ext. */
static uint32_t box_key(const double *b, const double ext[4])
{
    double w = ext[2] - ext[0], h = ext[3] - ext[1];
    double cx = w > 0 ? ((b[0] + b[2]) / 2 - ext[0]) / w : 0;
    double cy = h > 0 ? ((b[1] + b[3]) / 2 - ext[1]) / h : 0;
    return hilbert((uint32_t)(cx * 65535.0), (uint32_t)(cy * 65535.0));
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

/* A tree of n items with its arrays allocated, nothing in them; NULL when
 * out of memory. */
static situ_rtree *tree_alloc(size_t n)
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
    t->keys = malloc(n * sizeof(uint32_t));
    if (!t->boxes || !t->refs || !t->keys) {
        situ_rtree_free(t);
        return NULL;
    }
    return t;
}

/* Writes t's leaves in the order of ks (t->n of them, sorted by cmp_keyed):
 * each item's box, index and key. */
static void place_leaves(situ_rtree *t, const double *boxes, const keyed *ks)
{
    for (size_t i = 0; i < t->n; i++) {
        memcpy(t->boxes + 4 * i, boxes + 4 * (size_t)ks[i].item, 4 * sizeof(double));
        t->refs[i] = ks[i].item;
        t->keys[i] = ks[i].key;
    }
}

/* Packs each level's slots into nodes of the next level. */
static void pack_levels(situ_rtree *t)
{
    size_t pos = 0, out = t->n;
    for (int k = 0; k + 1 < t->nlevels; k++) {
        size_t end = t->level_end[k];
        while (pos < end) {
            double nb[4] = {DBL_MAX, DBL_MAX, -DBL_MAX, -DBL_MAX}; /* not aliased: in registers */
            t->refs[out] = (uint32_t)pos;
            for (size_t j = 0; j < SITU_RTREE_NODE && pos < end; j++, pos++)
                box_grow(nb, t->boxes + 4 * pos);
            memcpy(t->boxes + 4 * out++, nb, sizeof nb);
        }
    }
}

situ_rtree *situ_rtree_new(const double *boxes, size_t n)
{
    situ_rtree *t = tree_alloc(n);
    if (!t || n == 0)
        return t;
    keyed *ks = malloc(n * sizeof *ks);
    if (!ks) {
        situ_rtree_free(t);
        return NULL;
    }
    double ext[4];
    boxes_extent(boxes, n, ext);
    for (size_t i = 0; i < n; i++)
        ks[i] = (keyed){box_key(boxes + 4 * i, ext), (uint32_t)i};
    qsort(ks, n, sizeof *ks, cmp_keyed);
    place_leaves(t, boxes, ks);
    free(ks);
    pack_levels(t);
    return t;
}

/* ---- the next version's tree from the previous one ------------------------- */

/* Whether boxes a and b are the same bits (-0.0 is not 0.0 here: a box
 * that differs only so is taken as changed, which costs only its key). */
static int same_box(const double *a, const double *b)
{
    return memcmp(a, b, 4 * sizeof(double)) == 0;
}

/* Into ks[0 .. *out_m), in prev's leaf order, the items that kept their
 * base's box, keyed with prev's keys (or, in a tree read back without
 * them, keys computed again on ext): what a full build's sort gives them.
 * kept[i] is set for each. Returns 0; 1 when that order is not the sort's
 * (base_of not in prev's order where keys tie, or a tree read back whose
 * leaves are not in key order): the caller builds in full; -1 when out of
 * memory. */
static int kept_in_order(const situ_rtree *prev, const double *boxes, size_t n,
                         const uint32_t *base_of, const double ext[4], keyed *ks,
                         unsigned char *kept, size_t *out_m)
{
    uint32_t *new_of = malloc(prev->n * sizeof *new_of);
    if (!new_of)
        return -1;
    memset(new_of, 0xFF, prev->n * sizeof *new_of);
    for (size_t i = 0; i < n; i++)
        if (base_of[i] < prev->n && new_of[base_of[i]] == UINT32_MAX)
            new_of[base_of[i]] = (uint32_t)i;
    size_t m = 0;
    int rc = 0;
    for (size_t s = 0; s < prev->n && !rc; s++) {
        uint32_t i = new_of[prev->refs[s]];
        if (i == UINT32_MAX || kept[i] || !same_box(boxes + 4 * (size_t)i, prev->boxes + 4 * s))
            continue; /* gone, or changed: keyed again with the new */
        keyed k = {prev->keys ? prev->keys[s] : box_key(prev->boxes + 4 * s, ext), i};
        if (m && cmp_keyed(&ks[m - 1], &k) >= 0)
            rc = 1;
        ks[m++] = k;
        kept[i] = 1;
    }
    free(new_of);
    *out_m = m;
    return rc;
}

/* Merges the sorted fresh[0 .. nfresh) into ks, whose first m entries are
 * sorted and which has room for m + nfresh: from the back, in place. */
static void merge_keyed(keyed *ks, size_t m, const keyed *fresh, size_t nfresh)
{
    size_t out = m + nfresh;
    while (nfresh) {
        if (m && cmp_keyed(&ks[m - 1], &fresh[nfresh - 1]) > 0)
            ks[--out] = ks[--m];
        else
            ks[--out] = fresh[--nfresh];
    }
}

/* Fills ks[0 .. n) with the items in the order a full build sorts them
 * into if their extent is prev's (see situ_rtree_new_from); *out_sorted:
 * how many were keyed and sorted. Returns 0; 1 when the caller must build
 * in full (kept_in_order's 1); -1 when out of memory. */
static int order_from(const situ_rtree *prev, const double *boxes, size_t n,
                      const uint32_t *base_of, keyed *ks, size_t *out_sorted)
{
    const double *ext = prev->boxes + 4 * (prev->nslots - 1); /* its keys' grid */
    unsigned char *kept = calloc(n, 1);
    keyed *fresh = NULL;
    size_t m = 0, nfresh = 0;
    int rc = kept ? kept_in_order(prev, boxes, n, base_of, ext, ks, kept, &m) : -1;
    if (!rc && !(fresh = malloc((n - m + 1) * sizeof *fresh)))
        rc = -1;
    if (!rc) {
        for (size_t i = 0; i < n; i++)
            if (!kept[i])
                fresh[nfresh++] = (keyed){box_key(boxes + 4 * i, ext), (uint32_t)i};
        qsort(fresh, nfresh, sizeof *fresh, cmp_keyed);
        merge_keyed(ks, m, fresh, nfresh);
        *out_sorted = nfresh;
    }
    free(kept);
    free(fresh);
    return rc;
}

/* Whether boxes a and b hold the same numbers (0 and -0 alike). */
static int same_numbers(const double *a, const double *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

situ_rtree *situ_rtree_new_from(const situ_rtree *prev, const double *boxes, size_t n,
                                const uint32_t *base_of, size_t *out_sorted)
{
    if (!prev || !prev->n || !n) {
        situ_rtree *t = situ_rtree_new(boxes, n);
        if (t && out_sorted)
            *out_sorted = n;
        return t;
    }
    size_t sorted = 0;
    keyed *ks = malloc(n * sizeof *ks);
    situ_rtree *t = tree_alloc(n);
    int rc = t && ks ? order_from(prev, boxes, n, base_of, ks, &sorted) : -1;
    if (!rc) {
        place_leaves(t, boxes, ks);
        pack_levels(t);
        /* keyed on prev's extent: right if it is still the extent, the
         * root box's numbers (in full otherwise: every key moved) */
        rc = same_numbers(t->boxes + 4 * (t->nslots - 1), prev->boxes + 4 * (prev->nslots - 1)) ? 0
                                                                                                : 1;
    }
    free(ks);
    if (!rc) {
        if (out_sorted)
            *out_sorted = sorted;
        return t;
    }
    situ_rtree_free(t);
    return rc < 0 ? NULL : situ_rtree_new_from(NULL, boxes, n, NULL, out_sorted);
}

void situ_rtree_free(situ_rtree *t)
{
    if (!t)
        return;
    free(t->boxes);
    free(t->refs);
    free(t->keys);
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

size_t situ_rtree_search(const situ_rtree *t, double minx, double miny, double maxx, double maxy,
                         int (*fn)(void *ctx, uint32_t item), void *ctx)
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

/*
 * situ/index.h: a static packed Hilbert R-tree over bounding boxes (the
 * flatbush layout): items sorted by the Hilbert value of their box centre,
 * packed bottom-up into nodes of SITU_RTREE_NODE children. Immutable once
 * built, so any number of threads read it without locks.
 *
 * The node layout is public so that searches other than boxes (geodesic
 * k-nearest, in nearest.c) walk the same tree:
 *   boxes[4*i .. 4*i+3]  minx, miny, maxx, maxy of slot i
 *   refs[i]              for a leaf slot (i < n): the item index;
 *                        for a node slot: the slot of its first child
 *   slot nroot_slot-1 .. is the root; level_end[k] ends level k (0 = leaves)
 *   keys[i]              for a leaf slot: its item's Hilbert key, which
 *                        situ_rtree_new_from reuses (NULL in a view)
 */
#ifndef SITU_INDEX_H
#define SITU_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define SITU_RTREE_NODE 16

typedef struct situ_rtree {
    size_t n;      /* items */
    size_t nslots; /* items + nodes */
    double *boxes; /* 4 * nslots */
    uint32_t *refs;
    uint32_t *keys; /* n */
    size_t level_end[32];
    int nlevels;
} situ_rtree;

/* Builds a tree over n boxes (4 doubles each: minx, miny, maxx, maxy).
 * Returns NULL when out of memory. n may be 0. */
situ_rtree *situ_rtree_new(const double *boxes, size_t n);
/* The tree situ_rtree_new(boxes, n) builds, byte for byte, made from prev
 * (the tree of an earlier version of the items) for a pass over the items
 * and a sort of only the new and changed ones. base_of[i] is item i's index
 * among prev's items, or any value not below prev->n (UINT32_MAX) when it
 * is new; kept items keep their order (base_of increases with i, as in
 * situ_coll_update's versions). base_of is a hint: an item whose box is
 * not its base's, or whose base another item took, is keyed as new; items
 * out of prev's order where keys tie, an extent that moved (every key
 * moves with it) or a prev whose leaves are not in key order make a full
 * build. A prev without keys (a view, read back from a file) has them
 * computed from its leaves, without a sort; the tree made has its own.
 * prev may be NULL (a full build). *out_sorted, if out_sorted is not NULL:
 * how many items were keyed and sorted (n for a full build). Returns NULL
 * when out of memory. */
situ_rtree *situ_rtree_new_from(const situ_rtree *prev, const double *boxes, size_t n,
                                const uint32_t *base_of, size_t *out_sorted);
void situ_rtree_free(situ_rtree *t);
/* A tree over boxes and refs held elsewhere (a file read back), checked
 * first: its levels end in order at nslots and every ref is in range (a
 * leaf's below n, a node's a slot). The header is the caller's to free()
 * (not situ_rtree_free: boxes and refs are not its own). NULL when the
 * parts are inconsistent or out of memory. */
situ_rtree *situ_rtree_view(size_t n, size_t nslots, const uint64_t *level_end, int nlevels,
                            double *boxes, uint32_t *refs);

/* Calls fn(ctx, item) for each item whose box intersects the query box (edges
 * included), in no particular order; stops early when fn returns non-zero.
 * Returns the number of items visited. */
size_t situ_rtree_search(const situ_rtree *t, double minx, double miny, double maxx, double maxy,
                         int (*fn)(void *ctx, uint32_t item), void *ctx);

/* The slot of the root (nslots - 1), or SIZE_MAX for an empty tree. */
size_t situ_rtree_root(const situ_rtree *t);
/* The child slot range [*out_first, *out_end) of node slot s (s >= n). */
void situ_rtree_children(const situ_rtree *t, size_t s, size_t *out_first, size_t *out_end);

#endif

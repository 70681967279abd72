/* index_test.c: tests layers/snapshot/index.c: the tree situ_rtree_new_from
 * makes from the previous version's is the bytes situ_rtree_new builds over
 * the same boxes (keys that tie included), and it sorts only what changed
 * when the extent stays. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/index.h"

#define NONE UINT32_MAX

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)((rng >> 33) % n);
}

/* One version of a collection's boxes, in its index order, and per item its
 * index in the version before (NONE: new or changed). */
typedef struct version {
    double *boxes;
    uint32_t *base_of;
    size_t n, cap;
} version;

static void version_push(version *v, const double *box, uint32_t base)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 64;
        v->boxes = realloc(v->boxes, 4 * v->cap * sizeof(double));
        v->base_of = realloc(v->base_of, v->cap * sizeof(uint32_t));
        assert_non_null(v->boxes);
        assert_non_null(v->base_of);
    }
    memcpy(v->boxes + 4 * v->n, box, 4 * sizeof(double));
    v->base_of[v->n++] = base;
}

static void version_dispose(version *v)
{
    free(v->boxes), free(v->base_of);
    *v = (version){0};
}

/* A box on the grid 1 .. 8: a point or a cell wide, so that many centres,
 * so many keys, tie. */
static void grid_box(double *b)
{
    b[0] = 1 + rnd(7), b[1] = 1 + rnd(7);
    b[2] = b[0] + (rnd(3) == 0), b[3] = b[1] + (rnd(3) == 0);
}

/* situ_rtree_new_from(prev, v), checked equal to situ_rtree_new over v's
 * boxes; *out_sorted how many it sorted. */
static situ_rtree *next_equals_full(const situ_rtree *prev, const version *v, size_t *out_sorted)
{
    situ_rtree *next = situ_rtree_new_from(prev, v->boxes, v->n, v->base_of, out_sorted);
    situ_rtree *full = situ_rtree_new(v->boxes, v->n);
    assert_non_null(next);
    assert_non_null(full);
    situ_test_same_rtree(next, full);
    assert_true(!next->n || next->keys);
    situ_rtree_free(full);
    return next;
}

static const double lo[4] = {0, 0, 0, 0}, hi[4] = {9, 9, 9, 9}, outer[4] = {10, 10, 10, 10};

/* The version after v, as situ_coll_update makes it: each item removed (1
 * in 40), moved (1 in 40: read again, so new) or kept, in its order, with
 * new items put in between (1 in 40 per place). The corner items lo and hi
 * stay; the outer item is removed, or when there is none, added, if
 * toggle is set (the extent moves), kept otherwise. *out_fresh: the items
 * new or moved. */
static version next_version(const version *v, int toggle, size_t *out_fresh)
{
    version w = {0};
    size_t fresh = 0;
    int had_outer = 0;
    double box[4];
    for (size_t i = 0; i <= v->n; i++) {
        if (rnd(40) == 0) {
            grid_box(box);
            version_push(&w, box, NONE), fresh++;
        }
        if (i == v->n)
            break;
        const double *b = v->boxes + 4 * i;
        uint32_t r = rnd(40);
        if (b[0] == outer[0])
            had_outer = 1, r = toggle ? 0 : 2;
        else if (b[0] == lo[0] || b[0] == hi[0])
            r = 2;
        if (r == 0) /* removed */
            continue;
        if (r == 1) { /* moved */
            grid_box(box);
            version_push(&w, box, NONE), fresh++;
            continue;
        }
        version_push(&w, b, (uint32_t)i);
    }
    if (toggle && !had_outer)
        version_push(&w, outer, NONE), fresh++;
    *out_fresh = fresh;
    return w;
}

/* 300 boxes on a grid between two corner items (0 0 and 9 9) that hold the
 * extent, then 300 feed batches of random removals, moves and inserts: each
 * tree made from the one before equals a full build, and sorted only the new
 * and moved items; every 10th batch adds or removes an item outside (the
 * extent moves, every key with it: a full build, also equal). */
static void updates_equal_a_full_build(void **state)
{
    (void)state;
    rng = 7;
    version v = {0};
    double box[4];
    version_push(&v, lo, NONE);
    for (int i = 0; i < 300; i++) {
        grid_box(box);
        version_push(&v, box, NONE);
    }
    version_push(&v, hi, NONE);
    situ_rtree *prev = situ_rtree_new(v.boxes, v.n);
    assert_non_null(prev);
    size_t merged = 0, sorted_all = 0;
    for (int round = 0; round < 300; round++) {
        size_t fresh, sorted;
        int toggle = round % 10 == 9;
        version w = next_version(&v, toggle, &fresh);
        situ_rtree *next = next_equals_full(prev, &w, &sorted);
        assert_int_equal(sorted, toggle ? w.n : fresh);
        merged += w.n - fresh, sorted_all += sorted;
        situ_rtree_free(prev);
        prev = next;
        version_dispose(&v);
        v = w;
    }
    assert_true(merged > 200 * 270);
    assert_true(sorted_all < 300 * 30 + 30 * 400);
    size_t ties = 0;
    for (size_t s = 1; s < prev->n; s++)
        ties += prev->keys[s - 1] == prev->keys[s];
    assert_true(ties > prev->n / 4);
    situ_rtree_free(prev);
    version_dispose(&v);
}

/* n items at one point (every key ties but the corners'), in a version
 * with the corners lo and hi. */
static version one_point(size_t n)
{
    version v = {0};
    double p[4] = {5, 5, 5, 5};
    version_push(&v, lo, NONE);
    for (size_t i = 0; i < n; i++)
        version_push(&v, p, NONE);
    version_push(&v, hi, NONE);
    return v;
}

/* Fails unless t's leaves are in key order, ties by item index. */
static void assert_leaves_sorted(const situ_rtree *t)
{
    for (size_t s = 1; s < t->n; s++)
        assert_true(t->keys[s - 1] < t->keys[s] ||
                    (t->keys[s - 1] == t->keys[s] && t->refs[s - 1] < t->refs[s]));
}

/* 200 items at one point (their keys all tie): new ones put in among them
 * and some removed, the tree made from the one before orders the ties by
 * their new item index, as the full build's sort does: the same tree. */
static void ties_break_by_item_index(void **state)
{
    (void)state;
    rng = 11;
    version v = one_point(200);
    situ_rtree *prev = situ_rtree_new(v.boxes, v.n);
    for (int round = 0; round < 20; round++) {
        version w = {0};
        size_t fresh = 0, sorted;
        for (size_t i = 0; i < v.n; i++) {
            if (i > 0 && rnd(20) == 0) /* new, among the ties */
                version_push(&w, v.boxes + 4 * i, NONE), fresh++;
            if (i == 0 || i == v.n - 1 || rnd(20)) /* the corners stay */
                version_push(&w, v.boxes + 4 * i, (uint32_t)i);
        }
        situ_rtree *next = next_equals_full(prev, &w, &sorted);
        assert_int_equal(sorted, fresh);
        assert_leaves_sorted(next);
        situ_rtree_free(prev);
        prev = next;
        version_dispose(&v);
        v = w;
    }
    situ_rtree_free(prev);
    version_dispose(&v);
}

/* A version of v's items ks[0 .. n) (indices into v), each kept. */
static version pick(const version *v, const uint32_t *ks, size_t n)
{
    version w = {0};
    for (size_t i = 0; i < n; i++)
        version_push(&w, v->boxes + 4 * ks[i], ks[i]);
    return w;
}

/* Empty, single and all-removed versions: each the full build's tree; an
 * empty prev or none builds in full. */
static void empty_single_and_all_removed(void **state)
{
    (void)state;
    version v = one_point(3), w;
    v.boxes[4 * 2] = 4; /* a tie less */
    situ_rtree *prev = situ_rtree_new(v.boxes, v.n), *next, *one, *none;
    size_t sorted;
    w = pick(&v, NULL, 0); /* all removed */
    none = next_equals_full(prev, &w, &sorted);
    assert_int_equal(sorted, 0);
    assert_int_equal(none->nslots, 0);
    assert_int_equal(situ_rtree_root(none), SIZE_MAX);
    next = next_equals_full(none, &v, &sorted); /* from an empty tree: in full */
    assert_int_equal(sorted, v.n);
    situ_rtree_free(next);
    next = next_equals_full(NULL, &v, &sorted);
    assert_int_equal(sorted, v.n);
    situ_rtree_free(next);
    version_dispose(&w);
    uint32_t k2 = 2;
    w = pick(&v, &k2, 1); /* one left: its own extent, so in full */
    one = next_equals_full(prev, &w, &sorted);
    assert_int_equal(sorted, 1);
    w.base_of[0] = 0;
    next = next_equals_full(one, &w, &sorted); /* one kept from one */
    assert_int_equal(sorted, 0);
    situ_rtree_free(next);
    w.base_of[0] = NONE; /* one read again */
    next = next_equals_full(one, &w, &sorted);
    assert_int_equal(sorted, 1);
    situ_rtree_free(next);
    version_dispose(&w);
    situ_rtree_free(one), situ_rtree_free(none), situ_rtree_free(prev);
    version_dispose(&v);
}

/* base_of is a hint, checked: an item whose box is not its base's, two
 * items naming one base, a base out of range, and kept items in another
 * order than prev's (where keys tie: a full build) all give the full
 * build's tree. */
static void base_of_is_a_checked_hint(void **state)
{
    (void)state;
    rng = 5;
    version v = one_point(100);
    for (size_t i = 1; i < 60; i++)
        grid_box(v.boxes + 4 * i);
    situ_rtree *prev = situ_rtree_new(v.boxes, v.n), *next;
    size_t sorted;
    version w = pick(&v, NULL, 0);
    for (size_t i = 0; i < v.n; i++)
        version_push(&w, v.boxes + 4 * i, (uint32_t)i);
    w.boxes[4 * 5] += 0.5, w.boxes[4 * 5 + 2] += 0.5; /* moved, base_of not told */
    w.base_of[8] = 9;                                 /* 8 and 9 the same box, both naming 9 */
    memcpy(w.boxes + 4 * 8, w.boxes + 4 * 9, 4 * sizeof(double));
    w.base_of[20] = 123456;
    next = next_equals_full(prev, &w, &sorted);
    assert_int_equal(sorted, 3);
    situ_rtree_free(next);
    version_dispose(&w);
    uint32_t *rev = malloc(v.n * sizeof *rev);
    for (size_t i = 0; i < v.n; i++) /* the same items, the order reversed */
        rev[i] = (uint32_t)(v.n - 1 - i);
    w = pick(&v, rev, v.n);
    next = next_equals_full(prev, &w, &sorted);
    assert_int_equal(sorted, w.n);
    situ_rtree_free(next);
    free(rev);
    version_dispose(&w);
    situ_rtree_free(prev);
    version_dispose(&v);
}

/* A tree read back from a file (situ_rtree_view: no keys) has its keys
 * computed from its leaves: the next tree is the full build's, sorting only
 * what changed, and has keys. A view whose leaves are not in key order (two
 * swapped) is built in full, also equal. */
static void from_a_view_without_keys(void **state)
{
    (void)state;
    rng = 9;
    version v = one_point(0);
    double box[4];
    for (int i = 0; i < 500; i++) {
        grid_box(box);
        version_push(&v, box, NONE);
    }
    situ_rtree *t = situ_rtree_new(v.boxes, v.n), *next;
    uint64_t level_end[32];
    for (int k = 0; k < t->nlevels; k++)
        level_end[k] = t->level_end[k];
    double *boxes = malloc(4 * t->nslots * sizeof(double));
    uint32_t *refs = malloc(t->nslots * sizeof *refs);
    memcpy(boxes, t->boxes, 4 * t->nslots * sizeof(double));
    memcpy(refs, t->refs, t->nslots * sizeof *refs);
    situ_rtree *view = situ_rtree_view(t->n, t->nslots, level_end, t->nlevels, boxes, refs);
    assert_non_null(view);
    assert_null(view->keys);
    size_t fresh, sorted;
    version w = next_version(&v, 0, &fresh);
    next = next_equals_full(view, &w, &sorted);
    assert_int_equal(sorted, fresh);
    assert_true(fresh < w.n / 5);
    situ_rtree_free(next);
    size_t a = 10, b = 11; /* two leaves swapped: out of key order */
    while (t->keys[a] == t->keys[b])
        b++;
    double tb[4];
    memcpy(tb, boxes + 4 * a, sizeof tb);
    memcpy(boxes + 4 * a, boxes + 4 * b, sizeof tb);
    memcpy(boxes + 4 * b, tb, sizeof tb);
    refs[a] = t->refs[b], refs[b] = t->refs[a];
    version_dispose(&w);
    uint32_t *all = malloc(v.n * sizeof *all);
    for (size_t i = 0; i < v.n; i++)
        all[i] = (uint32_t)i;
    w = pick(&v, all, v.n);
    free(all);
    next = next_equals_full(view, &w, &sorted);
    assert_int_equal(sorted, w.n);
    situ_rtree_free(next);
    free(view), free(boxes), free(refs);
    situ_rtree_free(t);
    version_dispose(&w);
    version_dispose(&v);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(updates_equal_a_full_build),   cmocka_unit_test(ties_break_by_item_index),
    cmocka_unit_test(empty_single_and_all_removed), cmocka_unit_test(base_of_is_a_checked_hint),
    cmocka_unit_test(from_a_view_without_keys),
};

SITU_TEST_MAIN("index", tests)

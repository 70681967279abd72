/*
 * nearest_hits.c: the answer being built by a proximity search. A bounded
 * max-heap of candidates ordered by (distance, id), each carrying a certified
 * interval of its true distance, and at the end the certification: sort, and
 * wherever two neighbours' intervals overlap (or one overlaps the last hit),
 * or a hit's interval is too wide to report, replace the estimates with
 * geod_inverse's and sort again. Ranks are then
 * those of geod_inverse's distances, ties broken by id, exactly as a brute
 * force scan would give them. Does not walk the tree (nearest.c).
 */
#include <stdlib.h>
#include <string.h>

#include "nearest_priv.h"

int situ__hits_init(situ__hits *h, situ_nearest_scratch *scratch, const situ_coll *c, int cap,
                    int estimates)
{
    size_t need = (size_t)cap + SITU__RUNNERS;
    if (scratch->capcands < need) {
        situ__cand *v = realloc(scratch->cands, need * sizeof *v);
        if (!v)
            return SITU_ENOMEM;
        scratch->cands = v, scratch->capcands = need;
    }
    *h = (situ__hits){c, scratch->cands, 0, cap, scratch->cands + cap, 0, 0, 0, estimates, 0};
    return 0;
}

/* 1 when a ranks before b: nearer, or as near with a smaller id. */
static int before(const situ__hits *h, const situ__cand *a, const situ__cand *b)
{
    if (a->est != b->est)
        return a->est < b->est;
    return strcmp(h->c->feats[a->feat].id, h->c->feats[b->feat].id) < 0;
}

static void sift_down(const situ__hits *h, situ__cand *v, int n, int i)
{
    situ__cand x = v[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(h, &v[c], &v[c + 1]))
            c++;
        if (!before(h, &x, &v[c]))
            break;
        v[i] = v[c];
        i = c;
    }
    v[i] = x;
}

static void keep_runner(situ__hits *h, const situ__cand *cand)
{
    if (!h->estimates || cand->lo > h->heap[0].est + h->slack)
        return; /* certainly behind every hit */
    if (h->nrun == SITU__RUNNERS)
        h->overflow = 1;
    else
        h->runners[h->nrun++] = *cand;
}

void situ__hits_offer(situ__hits *h, const situ__cand *cand)
{
    situ__cand *v = h->heap;
    if (cand->hi - cand->est > h->slack)
        h->slack = cand->hi - cand->est;
    if (h->n < h->cap) {
        int i = h->n++;
        while (i > 0 && before(h, &v[(i - 1) / 2], cand)) {
            v[i] = v[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        v[i] = *cand;
        return;
    }
    h->truncated = 1;
    if (!before(h, cand, &v[0])) {
        keep_runner(h, cand);
        return;
    }
    situ__cand out = v[0];
    v[0] = *cand;
    sift_down(h, v, h->n, 0);
    keep_runner(h, &out);
}

double situ__hits_bound(const situ__hits *h, double limit)
{
    if (h->n < h->cap)
        return limit;
    double b = h->heap[0].est + h->slack;
    return b < limit ? b : limit;
}

/* Heap sort of v[0..n) into nearest-first order. */
static void sort_cands(const situ__hits *h, situ__cand *v, int n)
{
    for (int i = n / 2 - 1; i >= 0; i--)
        sift_down(h, v, n, i);
    for (int m = n; m > 1; m--) {
        situ__cand top = v[0];
        v[0] = v[m - 1];
        sift_down(h, v, m - 1, 0);
        v[m - 1] = top;
    }
}

/* 1 when a (ranked first) is certainly not after b in geod_inverse's order. */
static int certain(const situ__cand *a, const situ__cand *b)
{
    return (a->exact && b->exact) || a->hi < b->lo;
}

/* Makes a exact when its interval is too wide to report; 1 when it did. */
static int sharpen(situ__cand *a, void (*exact)(void *, situ__cand *), void *ctx)
{
    if (a->exact || a->hi - a->lo <= SITU__FAST_WIDTH)
        return 0;
    exact(ctx, a);
    return 1;
}

/* Makes a and b exact when their order is in doubt; 1 when it did. */
static int settle(situ__cand *a, situ__cand *b, void (*exact)(void *, situ__cand *), void *ctx)
{
    if (certain(a, b))
        return 0;
    if (!a->exact)
        exact(ctx, a);
    if (!b->exact)
        exact(ctx, b);
    return 1;
}

int situ__hits_finish(situ__hits *h, void (*exact)(void *ctx, situ__cand *cand),
                      double (*bearing)(void *ctx, const situ__cand *cand), void *ctx,
                      situ_nearest_hit *out)
{
    situ__cand *v = h->heap;
    int n = h->n + h->nrun, m = h->n, changed = 1;
    memmove(v + h->n, h->runners, (size_t)h->nrun * sizeof *v);
    while (changed) {
        sort_cands(h, v, n);
        changed = 0;
        for (int i = 0; i + 1 < n && i < m; i++)
            changed |= settle(&v[i], &v[i + 1], exact, ctx);
        for (int j = m + 1; j < n && m > 0; j++)
            changed |= settle(&v[m - 1], &v[j], exact, ctx);
        for (int i = 0; i < m; i++)
            changed |= sharpen(&v[i], exact, ctx);
    }
    for (int i = 0; i < m; i++)
        out[i] = (situ_nearest_hit){v[i].feat, v[i].est,
                                    v[i].exact ? v[i].bearing : bearing(ctx, &v[i])};
    return m;
}

/*
 * nearest.c: the exact geodesic search over a situ_nearest_index. Best-first
 * over the collection's packed R-tree: a min-heap of slots keyed by a provable
 * lower bound of their geodesic distance (nearest_geo.c); a subtree whose
 * masks or maxima show that nothing under it passes the filters is never
 * pushed. A popped feature gets its distance: for points, a certified interval
 * around an estimate (nearest_geo.c); else geod_inverse's. It is offered to the
 * bounded heap of hits (nearest_hits.c), which at the end asks geod_inverse
 * wherever an interval leaves a rank in doubt or is wider than 0.5 mm. The
 * search ends when the smallest lower bound left exceeds the k-th hit's
 * distance (or the radius), so nothing nearer is ever skipped and ties go to
 * the smaller id. Searches read the index only; memory is the caller's scratch.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nearest_priv.h"

situ_nearest_scratch *situ_nearest_scratch_new(void)
{
    return calloc(1, sizeof(situ_nearest_scratch));
}

void situ_nearest_scratch_free(situ_nearest_scratch *scratch)
{
    if (scratch) {
        situ_heap_dispose(&scratch->pq);
        free(scratch->cands);
        free(scratch);
    }
}

typedef struct search {
    const situ_nearest_index *ix;
    situ__qpoint qp;
    int reach;    /* hazards reaching: each feature's own radius bounds it */
    int within;   /* report truncation */
    int fast;     /* certified chord intervals stand in for geod_inverse */
    double limit; /* max_m or radius_m */
    int item;     /* -1 none */
    double min_qty;
    int nf;
    const situ__ffield *ff[SITU_NEAREST_MAX_FILTERS];
    int code[SITU_NEAREST_MAX_FILTERS]; /* -1: no feature has the value */
    const char *val[SITU_NEAREST_MAX_FILTERS];
    situ__hits hits;
    int cap;         /* hits wanted: min(res->cap, k) */
    int use_ub, nub; /* KNN over points: a max-heap of the cap smallest upper bounds */
    double ub[SITU_NEAREST_K_MAX];
    situ_nearest_scratch *scratch;
} search;

/* ---- filters ------------------------------------------------------------- */

static int node_passes(const search *s, size_t node)
{
    const situ_nearest_index *ix = s->ix;
    for (int i = 0; i < s->nf; i++) {
        if (s->code[i] < 0)
            return 0;
        if (s->ff[i]->mask &&
            !(s->ff[i]->mask[node] & (1ull << (s->code[i] < 63 ? s->code[i] : 63))))
            return 0;
    }
    if (s->item >= 0) {
        float m = ix->item_max[(size_t)s->item * ix->nnodes + node];
        if (m <= 0 || m < s->min_qty)
            return 0;
    }
    return 1;
}

/* The quantity of the wanted item that leaf `slot` holds (0 when none). */
static double leaf_qty(const search *s, size_t slot)
{
    const situ_nearest_index *ix = s->ix;
    if (s->item < 64 && !(ix->leaf_items[slot] >> s->item & 1))
        return 0;
    const situ__span sp = ix->leaf_held[slot];
    for (uint32_t h = sp.first; h < sp.first + sp.n; h++)
        if (ix->lheld[h].item == s->item)
            return ix->lheld[h].quantity;
    return 0;
}

/* The item test first: its bit rejects most features before any scan. */
static int feature_passes(const search *s, size_t slot)
{
    const situ_coll *c = s->ix->c;
    if (s->item >= 0) {
        double q = leaf_qty(s, slot);
        if (!(q > 0 && q >= s->min_qty))
            return 0;
    }
    for (int i = 0; i < s->nf; i++) {
        const situ__ffield *ff = s->ff[i];
        if (ff->code) {
            if (ff->code[slot] != (uint16_t)s->code[i])
                return 0;
            continue;
        }
        char buf[128];
        const situ_value *v = &c->feats[s->ix->t->refs[slot]].values[ff->field];
        situ__canon_value(v, buf, sizeof buf);
        if (!v->type || strcmp(buf, s->val[i]) != 0)
            return 0;
    }
    return 1;
}

static double feature_reach(const search *s, uint32_t fi)
{
    const situ_value *v = &s->ix->c->feats[fi].values[s->ix->reach_field];
    return v->type == SITU_FT_REAL ? v->u.d : v->type == SITU_FT_INT ? (double)v->u.i : 0;
}

/* ---- the walk ------------------------------------------------------------ */

/* Notes an upper bound of one qualifying feature's distance: the cap-th
 * smallest such bound caps every answer before any feature is evaluated. */
static void ub_note(search *s, double ub)
{
    double *h = s->ub;
    if (s->nub < s->cap) {
        int i = s->nub++;
        for (; i > 0 && h[(i - 1) / 2] < ub; i = (i - 1) / 2)
            h[i] = h[(i - 1) / 2];
        h[i] = ub;
        return;
    }
    if (ub >= h[0])
        return;
    int i = 0, n = s->nub;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h[c + 1] > h[c])
            c++;
        if (h[c] <= ub)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = ub;
}

static double ub_bound(const search *s)
{
    return s->use_ub && s->nub == s->cap ? s->ub[0] : INFINITY;
}

/* Lower bounds of the points in leaf slots [first, end) that may lie within
 * b, into lbs/slots; returns how many. The chords come first, in one tight
 * loop, so most points are dropped before any square root. */
static int point_bounds(const search *s, size_t first, size_t end, double b, double *lbs,
                        uint32_t *slots)
{
    const double *xyz = s->ix->leaf + 3 * first, *p = s->qp.p;
    double c2[SITU_RTREE_NODE], reach = b + SITU__LB_MARGIN, r2 = reach * reach;
    int m = (int)(end - first), n = 0, item = s->item;
    const uint64_t *held = item >= 0 && item < 64 ? s->ix->leaf_items + first : NULL;
    for (int i = 0; i < m; i++) {
        double dx = xyz[3 * i] - p[0], dy = xyz[3 * i + 1] - p[1], dz = xyz[3 * i + 2] - p[2];
        c2[i] = dx * dx + dy * dy + dz * dz;
    }
    for (int i = 0; i < m; i++) {
        size_t ch = first + (size_t)i;
        if (c2[i] > r2 || (held && !(held[i] >> item & 1)) ||
            ((s->nf || item >= 0) && !feature_passes(s, ch)))
            continue; /* the chord alone is beyond b, or the filters say no */
        double lb = situ__lb_point(&s->qp, xyz + 3 * i);
        if (lb > b || (s->reach && lb > feature_reach(s, s->ix->t->refs[ch])))
            continue;
        lbs[n] = lb, slots[n++] = (uint32_t)ch;
    }
    return n;
}

/* Pushes the features of a lowest-level node that pass the filters and may
 * be within b (and within the bound that their own chords give). */
static int expand_leaves(search *s, size_t first, size_t end, double b)
{
    const situ_nearest_index *ix = s->ix;
    double lbs[SITU_RTREE_NODE];
    uint32_t slots[SITU_RTREE_NODE];
    int n = 0;
    if (ix->points) {
        n = point_bounds(s, first, end, b, lbs, slots);
    } else {
        for (size_t ch = first; ch < end; ch++) {
            if ((s->nf || s->item >= 0) && !feature_passes(s, ch))
                continue;
            double lb = situ__lb_box(&s->qp, ix->leaf + 6 * ch);
            if (lb > b || (s->reach && lb > feature_reach(s, ix->t->refs[ch])))
                continue;
            lbs[n] = lb, slots[n++] = (uint32_t)ch;
        }
    }
    for (int i = 0; s->use_ub && i < n; i++)
        if (lbs[i] < ub_bound(s))
            ub_note(s, situ__ub_point(lbs[i]));
    b = fmin(b, ub_bound(s));
    for (int i = 0; i < n; i++)
        if (lbs[i] <= b && situ_heap_push(&s->scratch->pq, lbs[i], slots[i]))
            return SITU_ENOMEM;
    return 0;
}

/* The child nodes of node slot `slot` that may hold a hit within b: the
 * nearest returned, the others appended to pend. SIZE_MAX when none. */
static size_t child_nodes(const search *s, size_t slot, double b, situ_heap_ent *pend, int *npend)
{
    const situ_nearest_index *ix = s->ix;
    size_t first, end, best = SIZE_MAX;
    double best_lb = INFINITY, reach = b + SITU__LB_MARGIN, r2 = reach * reach;
    situ_rtree_children(ix->t, slot, &first, &end);
    for (size_t ch = first; ch < end; ch++) {
        size_t node = ch - ix->t->n;
        const double *box = ix->node + 6 * node, *p = s->qp.p;
        double dx = situ__gap(p[0], box[0], box[3]), dy = situ__gap(p[1], box[1], box[4]);
        double dz = situ__gap(p[2], box[2], box[5]);
        if (dx * dx + dy * dy + dz * dz > r2 || !node_passes(s, node))
            continue; /* the chord alone is beyond b, or the filters say no */
        double lb = situ__lb_box(&s->qp, box);
        if (lb > b || (s->reach && lb > ix->reach_max[node]))
            continue;
        if (lb < best_lb) {
            if (best != SIZE_MAX)
                pend[(*npend)++] = (situ_heap_ent){best_lb, (uint32_t)best};
            best = ch, best_lb = lb;
        } else {
            pend[(*npend)++] = (situ_heap_ent){lb, (uint32_t)ch};
        }
    }
    return best;
}

/*
 * Expands node slot `slot`: dives through its nearest child, and that
 * child's, down to the features, and only then pushes the siblings met on
 * the way, so that the features' chords (ub_bound) prune most of them first.
 */
static int expand(search *s, size_t slot, double b)
{
    const situ_rtree *t = s->ix->t;
    situ_heap_ent pend[32 * SITU_RTREE_NODE];
    int npend = 0;
    while (slot != SIZE_MAX) {
        size_t first, end;
        situ_rtree_children(t, slot, &first, &end);
        if (first < t->n) { /* the chords noted so far bound these too */
            if (expand_leaves(s, first, end, fmin(b, ub_bound(s))))
                return SITU_ENOMEM;
            break;
        }
        slot = child_nodes(s, slot, fmin(b, ub_bound(s)), pend, &npend);
    }
    b = fmin(b, ub_bound(s));
    for (int i = 0; i < npend; i++)
        if (pend[i].key <= b && situ_heap_push(&s->scratch->pq, pend[i].key, pend[i].id))
            return SITU_ENOMEM;
    return 0;
}

/* The exact distance of a feature, as geod_inverse gives it. */
static void make_exact(void *ctx, situ__cand *cand)
{
    search *s = ctx;
    cand->est =
        situ__feature_dist(s->ix, &s->ix->c->feats[cand->feat], &s->qp, INFINITY, &cand->bearing);
    cand->lo = cand->hi = cand->est;
    cand->exact = 1;
}

static double chord_bearing(void *ctx, const situ__cand *cand)
{
    search *s = ctx;
    return situ__chord_bearing(&s->qp, s->ix->leaf + 3 * (size_t)cand->slot);
}

/* Evaluates the feature in leaf `slot`: a certified chord interval when it
 * is clear of the limit (hits_finish sharpens it if it ranks and is wide),
 * else geod_inverse (polygons: the nearest edge point). Returns 1 and fills
 * *out when the feature is within its limit, else 0. */
static int evaluate(search *s, size_t slot, double b, situ__cand *out)
{
    uint32_t fi = s->ix->t->refs[slot];
    double lim = s->reach ? feature_reach(s, fi) : s->limit;
    *out = (situ__cand){fi, (uint32_t)slot, 0, 0, 0, 0, NAN};
    if (s->fast &&
        situ__chord_interval(&s->qp, s->ix->leaf + 3 * slot, &out->est, &out->lo, &out->hi)) {
        if (out->lo > lim)
            return 0;
        if (out->hi <= lim)
            return 1;
    }
    out->est = situ__feature_dist(s->ix, &s->ix->c->feats[fi], &s->qp, fmin(b, lim), &out->bearing);
    out->lo = out->hi = out->est;
    out->exact = 1;
    return out->est <= lim;
}

/* A full WITHIN search asks whether one more feature qualifies. */
static void probe_one_more(search *s, const situ_heap_ent *e)
{
    situ__cand cand;
    if (e->id < s->ix->t->n && evaluate(s, e->id, s->limit, &cand))
        s->hits.truncated = 1;
}

/*
 * Pops slots nearest-bound first. While hits are missing the bound is the
 * limit; once there are enough, the worst hit's distance (plus the slack of
 * estimated ones). A WITHIN search that fills up keeps its pushes bounded by
 * the limit, so that after the stop it can look for one more hit and say
 * truly whether the answer was truncated.
 */
static int walk(search *s)
{
    size_t root = situ_rtree_root(s->ix->t);
    if (root == SIZE_MAX)
        return 0;
    if (situ_heap_push(&s->scratch->pq, 0, (uint32_t)root))
        return SITU_ENOMEM;
    while (s->scratch->pq.n) {
        situ_heap_ent e = situ_heap_pop(&s->scratch->pq);
        double b = situ__hits_bound(&s->hits, s->limit);
        if (e.key > b) {
            if (!s->within || s->hits.truncated || e.key > s->limit)
                break;
            if (e.id < s->ix->t->n) {
                probe_one_more(s, &e);
                continue;
            }
            b = s->limit;
        }
        situ__cand cand;
        if (e.id >= s->ix->t->n) {
            if (expand(s, e.id, s->within ? s->limit : b))
                return SITU_ENOMEM;
        } else if (evaluate(s, e.id, b, &cand)) {
            situ__hits_offer(&s->hits, &cand);
        }
    }
    return 0;
}

static int run_once(search *s)
{
    s->scratch->pq.n = 0;
    s->nub = 0;
    if (situ__hits_init(&s->hits, s->scratch, s->ix->c, s->cap, s->fast))
        return SITU_ENOMEM;
    return s->cap > 0 ? walk(s) : 0;
}

static int run(search *s, situ_nearest_result *res, situ_err *err)
{
    situ_nearest_scratch local = {0};
    if (!s->scratch)
        s->scratch = &local;
    int rc = run_once(s);
    if (rc == 0 && s->hits.overflow) { /* too many near-ties to certify: all exact */
        s->fast = 0;
        rc = run_once(s);
    }
    if (rc == 0) {
        res->n = situ__hits_finish(&s->hits, make_exact, chord_bearing, s, res->hits);
        res->truncated = s->hits.truncated && s->within;
    }
    situ_heap_dispose(&local.pq);
    free(local.cands);
    return rc ? situ_err_set(err, rc, "nearest: out of memory") : 0;
}

static int set_filters(search *s, const situ_nearest_query *q, situ_err *err)
{
    for (int i = 0; i < q->nfilters; i++) {
        const situ__ffield *ff = situ__ffield_of(s->ix, q->filters[i].field);
        if (!ff)
            return situ_err_set(err, SITU_EINVAL, "nearest: field %d is not a filter",
                                q->filters[i].field);
        s->ff[s->nf] = ff;
        s->val[s->nf] = q->filters[i].value;
        s->code[s->nf++] = ff->dict ? situ__ffield_code(ff, q->filters[i].value) : 0;
    }
    return 0;
}

int situ_nearest_search(const situ_nearest_index *ix, const situ_nearest_query *q,
                        situ_nearest_scratch *scratch, situ_nearest_result *res, situ_err *err)
{
    if (q->cid != ix->c->c->cid || q->mode == SITU_NEAREST_LOCATE)
        return situ_err_set(err, SITU_EINVAL, "nearest: query does not fit the index");
    if (q->item >= 0 && !ix->item_max)
        return situ_err_set(err, SITU_EINVAL, "item: only resources hold items");
    search s = {.ix = ix, .item = q->item, .min_qty = q->min_qty, .scratch = scratch};
    s.within = q->mode == SITU_NEAREST_WITHIN;
    s.fast = s.use_ub = !s.within && ix->points;
    s.limit = s.within ? q->radius_m : q->max_m;
    s.cap = res->cap < q->k ? res->cap : q->k;
    situ__qpoint_init(&s.qp, q->lon, q->lat);
    int rc = set_filters(&s, q, err);
    return rc ? rc : run(&s, res, err);
}

int situ_nearest_hazards_reaching(const situ_nearest_index *ix, double lon, double lat,
                                  situ_nearest_scratch *scratch, situ_nearest_result *res,
                                  situ_err *err)
{
    if (ix->reach_field < 0)
        return situ_err_set(err, SITU_EINVAL, "nearest: %s has no impact radius", ix->c->c->id);
    search s = {.ix = ix, .item = -1, .scratch = scratch};
    s.reach = s.within = 1;
    s.limit = INFINITY;
    s.cap = res->cap;
    situ__qpoint_init(&s.qp, lon, lat);
    return run(&s, res, err);
}

/*
 * nearest_index.c: what the proximity search adds to one immutable collection,
 * built once per collection: 3-D boxes of every R-tree slot (for the lower
 * bounds in nearest_geo.c), per-node masks of filter values, per-node maxima
 * of item quantities and impact radii (so filtered searches skip whole
 * subtrees instead of scanning), and the cache that keeps the indexes of the
 * current collections for the daemon. Does not search (nearest.c).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nearest_priv.h"

#define MAX_CODES 65000 /* beyond this a filter field is checked by value only */

/* ---- canonical values ----------------------------------------------------- */

void situ__canon_value(const situ_value *v, char *buf, size_t n)
{
    switch (v->type) {
    case SITU_FT_TEXT:
        snprintf(buf, n, "%s", v->u.s ? v->u.s : "");
        break;
    case SITU_FT_INT:
        snprintf(buf, n, "%lld", v->u.i);
        break;
    case SITU_FT_BOOL:
        snprintf(buf, n, "%s", v->u.i ? "true" : "false");
        break;
    case SITU_FT_REAL:
        snprintf(buf, n, "%.17g", v->u.d);
        break;
    default:
        buf[0] = '\0';
    }
}

int situ__ffield_code(const situ__ffield *ff, const char *s)
{
    int lo = 0, hi = ff->ncodes;
    while (lo < hi) {
        int mid = (lo + hi) / 2, k = strcmp(ff->dict[mid], s);
        if (k == 0)
            return mid;
        if (k < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

const situ__ffield *situ__ffield_of(const situ_nearest_index *ix, int field)
{
    for (int i = 0; i < ix->nff; i++)
        if (ix->ff[i].field == field)
            return &ix->ff[i];
    return NULL;
}

/* ---- building ------------------------------------------------------------- */

/* Per node, the codes found below it (bit min(code, 63)). */
static void build_masks(situ_nearest_index *ix, situ__ffield *ff)
{
    const situ_rtree *t = ix->t;
    for (size_t s = t->n; s < t->nslots; s++) {
        size_t first, end;
        uint64_t m = 0;
        situ_rtree_children(t, s, &first, &end);
        for (size_t ch = first; ch < end; ch++) {
            if (ch >= t->n) {
                m |= ff->mask[ch - t->n];
                continue;
            }
            uint16_t k = ff->code[ch];
            if (k != SITU__NOCODE)
                m |= 1ull << (k < 63 ? k : 63);
        }
        ff->mask[s - t->n] = m;
    }
}

/* A set of strings (borrowed), each given the next id when first seen. */
typedef struct strset {
    const char **keys;
    uint32_t *ids;
    size_t cap, n;
} strset;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int set_grow(strset *h)
{
    strset g = {calloc(h->cap * 2, sizeof *g.keys), malloc(h->cap * 2 * sizeof *g.ids), h->cap * 2,
                h->n};
    if (!g.keys || !g.ids) {
        free(g.keys), free(g.ids);
        return -1;
    }
    for (size_t i = 0; i < h->cap; i++) {
        if (!h->keys[i])
            continue;
        size_t j = str_hash(h->keys[i]) & (g.cap - 1);
        while (g.keys[j])
            j = (j + 1) & (g.cap - 1);
        g.keys[j] = h->keys[i], g.ids[j] = h->ids[i];
    }
    free(h->keys), free(h->ids);
    *h = g;
    return 0;
}

/* The id of s, added when new; -1 when out of memory. */
static long set_intern(strset *h, const char *s)
{
    if (2 * (h->n + 1) > h->cap && set_grow(h))
        return -1;
    size_t j = str_hash(s) & (h->cap - 1);
    for (; h->keys[j]; j = (j + 1) & (h->cap - 1))
        if (strcmp(h->keys[j], s) == 0)
            return h->ids[j];
    h->keys[j] = s, h->ids[j] = (uint32_t)h->n;
    return (long)h->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted dictionary of the distinct values (by first-seen id) into ff,
 * and in remap each first-seen id's code. */
static int sort_dict(situ__ffield *ff, const strset *set, uint32_t *remap)
{
    const char **vals = malloc((set->n + 1) * sizeof *vals);
    ff->dict = calloc(set->n + 1, sizeof *ff->dict);
    if (!vals || !ff->dict) {
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < set->cap; i++)
        if (set->keys[i])
            vals[set->ids[i]] = set->keys[i];
    const char **sorted = malloc((set->n + 1) * sizeof *sorted);
    if (sorted) {
        memcpy(sorted, vals, set->n * sizeof *vals);
        qsort(sorted, set->n, sizeof *sorted, cmp_str);
        for (size_t i = 0; i < set->n && (ff->dict[i] = strdup(sorted[i])); i++)
            ff->ncodes = (int)i + 1;
        for (size_t i = 0; i < set->n; i++) /* few values: a search each is cheap */
            remap[i] = (uint32_t)situ__ffield_code(ff, vals[i]);
    }
    free(sorted);
    free(vals);
    return sorted && ff->ncodes == (int)set->n ? 0 : -1;
}

/* Codes per leaf slot and masks per node of one filter field, from each
 * feature's canonical value (NULL when unset). 1 when there are too many
 * distinct values to code (the field is then checked by value only). */
static int build_codes(situ_nearest_index *ix, situ__ffield *ff, char **canon)
{
    const situ_rtree *t = ix->t;
    strset set = {calloc(64, sizeof(char *)), malloc(64 * sizeof(uint32_t)), 64, 0};
    uint32_t *id = malloc((t->n + 1) * sizeof *id), *remap = NULL;
    int rc = -1;
    if (!set.keys || !set.ids || !id)
        goto done;
    for (size_t i = 0; i < t->n; i++) {
        long k = canon[i] ? set_intern(&set, canon[i]) : (long)UINT32_MAX;
        if (k < 0)
            goto done;
        id[i] = (uint32_t)k;
    }
    if (set.n > MAX_CODES) {
        rc = 1;
        goto done;
    }
    remap = malloc((set.n + 1) * sizeof *remap);
    ff->code = malloc((t->n + 1) * sizeof *ff->code);
    ff->mask = calloc(ix->nnodes + 1, sizeof *ff->mask);
    if (!remap || !ff->code || !ff->mask || sort_dict(ff, &set, remap))
        goto done;
    for (size_t slot = 0; slot < t->n; slot++) {
        uint32_t k = id[t->refs[slot]];
        ff->code[slot] = k == UINT32_MAX ? SITU__NOCODE : (uint16_t)remap[k];
    }
    build_masks(ix, ff);
    rc = 0;
done:
    free(set.keys), free(set.ids), free(id), free(remap);
    return rc;
}

static int build_filter(situ_nearest_index *ix, int field)
{
    situ__ffield *ff = &ix->ff[ix->nff++];
    size_t n = ix->c->n;
    ff->field = field;
    char **canon = calloc(n + 1, sizeof *canon);
    char *block = malloc((n + 1) * 64);
    int rc = -1;
    if (!canon || !block)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const situ_value *v = &ix->c->feats[i].values[field];
        if (!v->type)
            continue;
        canon[i] = v->type == SITU_FT_TEXT ? (char *)v->u.s : block + 64 * i;
        if (v->type != SITU_FT_TEXT)
            situ__canon_value(v, canon[i], 64);
    }
    rc = build_codes(ix, ff, canon);
    if (rc == 1) { /* too many values: no codes, no masks */
        free(ff->code), free(ff->mask);
        ff->code = NULL, ff->mask = NULL;
        rc = 0;
    }
done:
    free(canon);
    free(block);
    return rc;
}

static float round_up(double v)
{
    float f = (float)v;
    return (double)f < v ? nextafterf(f, INFINITY) : f;
}

/* Per leaf slot, in slot order so that neighbours share cache lines: the
 * items held in a quantity above 0 (a bit each) and where they are. */
static int build_leaf_items(situ_nearest_index *ix)
{
    const situ_rtree *t = ix->t;
    size_t nheld = 0;
    for (size_t i = 0; i < ix->c->n; i++)
        nheld += ix->c->feats[i].nheld;
    ix->leaf_items = calloc(t->n + 1, sizeof *ix->leaf_items);
    ix->leaf_held = malloc((t->n + 1) * sizeof *ix->leaf_held);
    ix->lheld = malloc((nheld + 1) * sizeof *ix->lheld);
    if (!ix->leaf_items || !ix->leaf_held || !ix->lheld)
        return -1;
    nheld = 0;
    for (size_t slot = 0; slot < t->n; slot++) {
        const situ_feature *f = &ix->c->feats[t->refs[slot]];
        ix->leaf_held[slot] = (situ__span){(uint32_t)nheld, f->nheld};
        for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++) {
            const situ_held *hd = &ix->c->held[h];
            ix->lheld[nheld++] = (situ__lheld){hd->item, hd->quantity};
            if (hd->quantity > 0 && hd->item < 64)
                ix->leaf_items[slot] |= 1ull << hd->item;
        }
    }
    return 0;
}

/* Largest quantity (> 0) of each item under each node; -1 where none. */
static int build_items(situ_nearest_index *ix)
{
    const situ_rtree *t = ix->t;
    size_t nn = ix->nnodes;
    ix->nitems = situ_schema_nitems();
    ix->item_max = malloc(((size_t)ix->nitems * nn + 1) * sizeof *ix->item_max);
    if (!ix->item_max || build_leaf_items(ix))
        return -1;
    for (size_t i = 0; i < (size_t)ix->nitems * nn; i++)
        ix->item_max[i] = -1;
    for (size_t s = t->n; s < t->nslots; s++) {
        size_t first, end, node = s - t->n;
        situ_rtree_children(t, s, &first, &end);
        for (size_t ch = first; ch < end; ch++) {
            float *mx = ix->item_max;
            if (ch >= t->n) {
                for (size_t it = 0; it < (size_t)ix->nitems; it++)
                    mx[it * nn + node] = fmaxf(mx[it * nn + node], mx[it * nn + ch - t->n]);
                continue;
            }
            const situ_feature *f = &ix->c->feats[t->refs[ch]];
            for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++) {
                const situ_held *hd = &ix->c->held[h];
                if (hd->quantity > 0)
                    mx[(size_t)hd->item * nn + node] =
                        fmaxf(mx[(size_t)hd->item * nn + node], round_up(hd->quantity));
            }
        }
    }
    return 0;
}

/* The impact radius of feature i (0 when NULL). */
static double reach_of(const situ_nearest_index *ix, size_t i)
{
    const situ_value *v = &ix->c->feats[i].values[ix->reach_field];
    return v->type == SITU_FT_REAL ? v->u.d : v->type == SITU_FT_INT ? (double)v->u.i : 0;
}

static int build_reach(situ_nearest_index *ix)
{
    const situ_rtree *t = ix->t;
    ix->reach_max = calloc(ix->nnodes + 1, sizeof *ix->reach_max);
    if (!ix->reach_max)
        return -1;
    for (size_t s = t->n; s < t->nslots; s++) {
        size_t first, end;
        float m = 0;
        situ_rtree_children(t, s, &first, &end);
        for (size_t ch = first; ch < end; ch++)
            m = fmaxf(m,
                      ch >= t->n ? ix->reach_max[ch - t->n] : round_up(reach_of(ix, t->refs[ch])));
        ix->reach_max[s - t->n] = m;
    }
    return 0;
}

/* 3-D boxes: leaves from their features, nodes as the union of children. */
static int build_boxes(situ_nearest_index *ix)
{
    const situ_rtree *t = ix->t;
    size_t per = ix->points ? 3 : 6;
    ix->leaf = malloc((t->n * per + 1) * sizeof(double));
    ix->node = malloc((ix->nnodes * 6 + 1) * sizeof(double));
    if (!ix->leaf || !ix->node)
        return -1;
    for (size_t s = 0; s < t->n; s++) {
        const situ_feature *f = &ix->c->feats[t->refs[s]];
        if (ix->points)
            situ__ecef(f->x, f->y, ix->leaf + 3 * s);
        else
            situ__patch_box(f->bbox, ix->leaf + 6 * s);
    }
    for (size_t s = t->n; s < t->nslots; s++) {
        double *nb = ix->node + 6 * (s - t->n);
        size_t first, end;
        situ_rtree_children(t, s, &first, &end);
        for (int i = 0; i < 3; i++)
            nb[i] = INFINITY, nb[i + 3] = -INFINITY;
        for (size_t ch = first; ch < end; ch++) {
            const double *lo, *hi;
            if (ch >= t->n)
                lo = ix->node + 6 * (ch - t->n), hi = lo + 3;
            else
                lo = ix->leaf + per * ch, hi = ix->points ? lo : lo + 3;
            for (int i = 0; i < 3; i++)
                nb[i] = fmin(nb[i], lo[i]), nb[i + 3] = fmax(nb[i + 3], hi[i]);
        }
    }
    return 0;
}

/* Each pass reads a collection's records in R-tree order, which touches
 * every page of them: after each, the pages of the snapshot file the
 * collection was read back from are handed back (situ_coll_drop_pages), so
 * that the passes over a nation's collections do not hold the file. */
static int build_all(situ_nearest_index *ix)
{
    const situ_collection *cc = ix->c->c;
    int rc = build_boxes(ix);
    situ_coll_drop_pages(ix->c);
    for (int i = 0; !rc && i < cc->nfields && ix->nff < 16; i++)
        if (cc->fields[i].flags & SITU_FF_FILTER) {
            rc = build_filter(ix, i);
            situ_coll_drop_pages(ix->c);
        }
    if (!rc && cc->cid == SITU_C_RESOURCES)
        rc = build_items(ix);
    ix->reach_field = situ_schema_field_index(cc, "impact_radius_m");
    if (!rc && ix->reach_field >= 0)
        rc = build_reach(ix);
    situ_coll_drop_pages(ix->c);
    return rc ? -1 : 0;
}

static void index_free(situ_nearest_index *ix)
{
    for (int i = 0; i < ix->nff; i++) {
        for (int k = 0; ix->ff[i].dict && k < ix->ff[i].ncodes; k++)
            free(ix->ff[i].dict[k]);
        free(ix->ff[i].dict);
        free(ix->ff[i].code);
        free(ix->ff[i].mask);
    }
    free(ix->leaf);
    free(ix->node);
    free(ix->item_max);
    free(ix->leaf_items);
    free(ix->leaf_held);
    free(ix->lheld);
    free(ix->reach_max);
    situ_coll_release(ix->c);
    free(ix);
}

int situ_nearest_index_new(situ_coll *c, situ_nearest_index **out_ix, situ_err *err)
{
    if (!c || !c->index)
        return situ_err_set(err, SITU_EINVAL, "nearest: collection without an index");
    situ_nearest_index *ix = calloc(1, sizeof *ix);
    if (!ix)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    ix->c = situ_coll_retain(c);
    ix->t = c->index;
    ix->refs = 1;
    ix->points = c->c->gtype == SITU_GT_POINT;
    ix->reach_field = -1;
    ix->nnodes = ix->t->nslots > ix->t->n ? ix->t->nslots - ix->t->n : 0;
    geod_init(&ix->g, SITU__WGS84_A, SITU__WGS84_F);
    if (build_all(ix)) {
        index_free(ix);
        return situ_err_set(err, SITU_ENOMEM, "nearest index of %s: out of memory", c->c->id);
    }
    *out_ix = ix;
    return 0;
}

situ_nearest_index *situ_nearest_index_retain(situ_nearest_index *ix)
{
    if (ix)
        __atomic_add_fetch(&ix->refs, 1, __ATOMIC_RELAXED);
    return ix;
}

void situ_nearest_index_release(situ_nearest_index *ix)
{
    if (ix && __atomic_sub_fetch(&ix->refs, 1, __ATOMIC_ACQ_REL) == 0)
        index_free(ix);
}

const situ_coll *situ_nearest_index_coll(const situ_nearest_index *ix)
{
    return ix->c;
}

/* ---- the cache ------------------------------------------------------------ */

#define CACHE_WAYS 2

typedef struct cache_entry {
    situ_nearest_index *ix; /* retains its coll, so the key cannot be reused */
    unsigned long long used;
} cache_entry;

struct situ_nearest_cache {
    pthread_mutex_t mu;
    cache_entry e[SITU_NCOLLECTIONS][CACHE_WAYS];
    unsigned long long clock;
};

situ_nearest_cache *situ_nearest_cache_new(void)
{
    situ_nearest_cache *cache = calloc(1, sizeof *cache);
    if (cache && pthread_mutex_init(&cache->mu, NULL)) {
        free(cache);
        return NULL;
    }
    return cache;
}

void situ_nearest_cache_free(situ_nearest_cache *cache)
{
    if (!cache)
        return;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        for (int w = 0; w < CACHE_WAYS; w++)
            situ_nearest_index_release(cache->e[i][w].ix);
    pthread_mutex_destroy(&cache->mu);
    free(cache);
}

/* The entry of c, retained, or NULL. Called with the lock held. */
static situ_nearest_index *cache_find(situ_nearest_cache *cache, const situ_coll *c)
{
    cache_entry *row = cache->e[c->c->cid];
    for (int w = 0; w < CACHE_WAYS; w++)
        if (row[w].ix && row[w].ix->c == c) {
            row[w].used = ++cache->clock;
            return situ_nearest_index_retain(row[w].ix);
        }
    return NULL;
}

int situ_nearest_cache_get(situ_nearest_cache *cache, situ_coll *c, situ_nearest_index **out_ix,
                           situ_err *err)
{
    pthread_mutex_lock(&cache->mu);
    situ_nearest_index *ix = cache_find(cache, c), *built = NULL, *evicted = NULL;
    pthread_mutex_unlock(&cache->mu);
    if (ix) {
        *out_ix = ix;
        return 0;
    }
    int rc = situ_nearest_index_new(c, &built, err); /* outside the lock: may take a while */
    if (rc)
        return rc;
    pthread_mutex_lock(&cache->mu);
    if (!(ix = cache_find(cache, c))) { /* nobody built it meanwhile */
        cache_entry *row = cache->e[c->c->cid], *lru = &row[0];
        for (int w = 1; w < CACHE_WAYS; w++)
            if (row[w].used < lru->used)
                lru = &row[w];
        evicted = lru->ix;
        lru->ix = situ_nearest_index_retain(built);
        lru->used = ++cache->clock;
        ix = situ_nearest_index_retain(built);
    }
    pthread_mutex_unlock(&cache->mu);
    situ_nearest_index_release(evicted);
    situ_nearest_index_release(built);
    *out_ix = ix;
    return 0;
}

int situ_nearest_cache_prepare(situ_nearest_cache *cache, const situ_snapshot *s, situ_err *err)
{
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_nearest_index *ix;
        if (!s->colls[i] || s->colls[i]->c->gtype == SITU_GT_MULTILINESTRING)
            continue; /* roads: nearest refuses them (routing has its own graph) */
        int rc = situ_nearest_cache_get(cache, s->colls[i], &ix, err);
        if (rc)
            return rc;
        situ_nearest_index_release(ix);
    }
    return 0;
}

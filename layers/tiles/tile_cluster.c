/*
 * tile_cluster.c: points at low zooms (see tile.c for the rule). Owns
 * binning the candidates (points, collapsed polygons, small polygons) into
 * cells, writing a dense cell as one cluster with its aggregates, and every
 * other candidate as itself. Entry points: situ__tile_cluster_points and
 * situ__tile_emit_point.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tile_enc.h"

/* Writes candidate c as itself: a point, or (a small polygon whose cell did
 * not cluster) its polygon. */
void situ__tile_emit_point(enc *e, const cand *c)
{
    if (c->kind == CAND_POLYGON) {
        situ__tile_write_polygon(e, c->fi, 1);
        return;
    }
    situ_mvt_geom_reset(&e->s->geom);
    situ_mvt_geom_points(&e->s->geom, &c->x, 1);
    situ__tile_emit_feature(e, c->fi, SITU_MVT_POINT);
}

/* The local index of the value encoded in s->val, which no other feature
 * shares (a cluster's ids): appended without a lookup. */
static uint32_t new_value(enc *e)
{
    return situ_mvt_layer_value(&e->s->layer, e->s->val.p, e->s->val.n);
}

/* The cluster ids summary: the first CLUSTER_IDS member ids, comma-separated. */
static void cluster_ids(enc *e, const cand *m, size_t n, situ_buf *b)
{
    char ids[1024];
    size_t len = 0;
    for (size_t i = 0; i < n && i < CLUSTER_IDS; i++) {
        const char *id = e->c->feats[m[i].fi].id;
        size_t l = strlen(id);
        if (len + l + 1 > sizeof ids)
            break;
        if (i)
            ids[len++] = ',';
        memcpy(ids + len, id, l);
        len += l;
    }
    situ_mvt_value_string(b, ids, len);
}

void situ__tile_fold_row(const situ_tilesrc *src, int today, const double *row, double *acc,
                         uint8_t *any)
{
    for (int j = 0; j < src->nagg; j++) {
        double v = row[j];
        if (v != v) /* NaN: no value */
            continue;
        if (src->aggop[j] == TILE_AGG_OVERDUE)
            acc[j] += v < today;
        else if (src->aggop[j] == TILE_AGG_MIN)
            acc[j] = any[j] && acc[j] < v ? acc[j] : v;
        else
            acc[j] += v;
        any[j] = 1;
    }
}

void situ__tile_fold_merge(const situ_tilesrc *src, double *acc, uint8_t *any, const double *acc2,
                           const uint8_t *any2)
{
    for (int j = 0; j < src->nagg; j++) {
        if (!any2[j])
            continue;
        if (src->aggop[j] == TILE_AGG_MIN)
            acc[j] = any[j] && acc[j] < acc2[j] ? acc[j] : acc2[j];
        else
            acc[j] += acc2[j];
        any[j] = 1;
    }
}

/* Folds the members' aggregate rows (tile_prep.c) into acc: minimum or sum
 * per slot; any[j] tells whether some member had a value. */
static void fold_rows(enc *e, const cand *m, size_t n, double *acc, uint8_t *any)
{
    const situ_tilesrc *src = e->src;
    size_t na = (size_t)src->nagg;
    for (size_t j = 0; j < na; j++)
        acc[j] = 0, any[j] = 0;
    for (size_t i = 0; i < n; i++)
        situ__tile_fold_row(src, e->o->today, src->aggv + m[i].fi * na, acc, any);
}

/* Encodes key k's value for a cluster of n members into s->val; 0 when it
 * has none (no member has the field, or an item sums to 0). */
static int aggregate(enc *e, const tile_key *k, const cand *m, size_t n, const double *acc,
                     const uint8_t *any)
{
    situ_buf *b = &e->s->val;
    b->n = 0;
    switch (k->agg) {
    case TILE_AGG_CLUSTER:
        situ_mvt_value_bool(b, 1);
        return 1;
    case TILE_AGG_COUNT:
        situ_mvt_value_int(b, (int64_t)n);
        return 1;
    case TILE_AGG_IDS:
        if (e->aggregating) /* the members are many and not clickable at this zoom */
            return 0;
        cluster_ids(e, m, n, b);
        return 1;
    case TILE_AGG_MIN:
    case TILE_AGG_SUM:
    case TILE_AGG_ITEM:
    case TILE_AGG_VCOUNT:
    case TILE_AGG_OVERDUE: {
        int counted = k->agg != TILE_AGG_MIN && k->agg != TILE_AGG_SUM; /* 0: left out */
        if (!any[k->slot] || (counted && acc[k->slot] == 0))
            return 0;
        situ__tile_number_value(b, acc[k->slot]);
        return 1;
    }
    default:
        return 0;
    }
}

void situ__tile_emit_cluster(enc *e, const int32_t xy[2], size_t n, const double *acc,
                             const uint8_t *any, const cand *m)
{
    scratch *s = e->s;
    if (situ__tile_tag_room(s, (size_t)e->src->nkeys)) {
        s->oom = 1;
        return;
    }
    size_t nt = 0;
    for (int k = 0; k < e->src->nkeys; k++) {
        const tile_key *key = &e->src->keys[k];
        if (key->agg == TILE_AGG_NONE || !aggregate(e, key, m, n, acc, any))
            continue;
        s->tags[2 * nt] = situ__tile_local_key(e, k);
        s->tags[2 * nt + 1] = key->agg == TILE_AGG_IDS ? new_value(e) : situ__tile_value(e);
        nt++;
    }
    situ_mvt_geom_reset(&s->geom);
    situ_mvt_geom_points(&s->geom, xy, 1);
    situ_mvt_layer_feature(&s->layer, 0, 0, SITU_MVT_POINT, s->tags, nt, &s->geom);
    e->st.features++;
    e->st.clusters++;
    e->st.clustered += n;
}

static void emit_cluster(enc *e, const cand *m, size_t n)
{
    int64_t sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++)
        sx += m[i].x, sy += m[i].y;
    int32_t xy[2] = {tile_round((double)sx / (double)n), tile_round((double)sy / (double)n)};
    double acc[SITU_TILE_MAXKEYS];
    uint8_t any[SITU_TILE_MAXKEYS];
    fold_rows(e, m, n, acc, any);
    situ__tile_emit_cluster(e, xy, n, acc, any, m);
}

/* s->cands sorted by cell, stable (in feature order within a cell), into
 * s->sorted: a radix sort of the cell numbers (below ncells), a byte a
 * pass, so that a tile of few points does not walk every cell. The
 * buffers may trade places (s->cands is left in no order). */
static void sort_by_cell(scratch *s, size_t ncells)
{
    cand *from = s->cands, *to = s->sorted;
    for (unsigned shift = 0; shift == 0 || (ncells - 1) >> shift; shift += 8) {
        uint32_t pos[257] = {0};
        for (size_t i = 0; i < s->ncands; i++)
            pos[(from[i].cell >> shift & 0xFF) + 1]++;
        for (int d = 0; d < 256; d++)
            pos[d + 1] += pos[d];
        for (size_t i = 0; i < s->ncands; i++)
            to[pos[from[i].cell >> shift & 0xFF]++] = from[i];
        cand *t = from;
        from = to, to = t;
    }
    if (from != s->sorted) /* an even number of passes: the result is in cands */
        s->cands = s->sorted, s->sorted = from;
}

/* Bins the candidates into cells (sort_by_cell) and writes each cell as
 * one cluster or as its points. */
void situ__tile_cluster_points(enc *e)
{
    scratch *s = e->s;
    int32_t cs = (int32_t)(e->aggregating ? e->o->aggregate_cell : e->o->cluster_cell);
    int32_t lo = (int32_t)e->tf.lo, hi = (int32_t)e->tf.hi;
    int32_t c0 = (int32_t)situ__floor_div(lo, cs), ncol = (int32_t)situ__floor_div(hi, cs) - c0 + 1;
    size_t ncells = (size_t)ncol * (size_t)ncol;
    for (size_t i = 0; i < s->ncands; i++) {
        cand *c = &s->cands[i];
        c->cell =
            (uint32_t)((situ__floor_div(c->y, cs) - c0) * ncol + (situ__floor_div(c->x, cs) - c0)) &
            CAND_CELL_MAX;
    }
    sort_by_cell(s, ncells > CAND_CELL_MAX ? (size_t)CAND_CELL_MAX + 1 : ncells);
    for (size_t i = 0, j; i < s->ncands; i = j) {
        for (j = i + 1; j < s->ncands && s->sorted[j].cell == s->sorted[i].cell; j++)
            ;
        uint32_t more = e->aggregating                           ? 0
                        : e->c->c->gtype == SITU_GT_MULTIPOLYGON ? e->o->cluster_polygon_more_than
                                                                 : e->o->cluster_more_than;
        if (j - i > more) {
            emit_cluster(e, s->sorted + i, j - i);
            continue;
        }
        for (size_t k = i; k < j; k++)
            situ__tile_emit_point(e, &s->sorted[k]);
    }
}

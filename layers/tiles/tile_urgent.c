/*
 * tile_urgent.c: the urgent marks of an aggregate tile (#20). Below
 * urgent_from one feature per overdue hidden danger would not fit a tile
 * (a nation has a hundred thousand of them under one tile at zoom 3), yet
 * none may hide inside an aggregate: so each is also in one mark drawn on
 * top. The overdue hidden dangers whose rounded points fall in one square
 * of urgent_mark_cell units (2 pixels of a 512-pixel tile: what the screen
 * can tell apart) are one Point at their mean with urgent=n; a mark of one
 * is that feature's point with its id property and urgent=1: no more (no
 * MVT feature id either: 53 random bits each), as a nation at zoom 4 has
 * 20,000 of them in one tile. The squares are aligned on the
 * world grid and the cell divides the extent, so a mark lies in exactly one tile (or in the others'
 * buffers, the same there). The aggregates still count the members.
 * The members come from a scan (tile.c) or from the pyramid (tile_pyramid.c);
 * both queue them here and get the same bytes. Entry points:
 * situ__tile_mark_add, situ__tile_marks_write.
 */
#include <stdlib.h>
#include <string.h>

#include "tile_enc.h"

/* Feature fi's rounded point in e's tile units; 0 when it is outside the
 * buffered tile [lo, hi). */
static int mark_point(const enc *e, uint32_t fi, int64_t *out_x, int64_t *out_y)
{
    int64_t x = situ__tile_round_up(e->src->fpt[2 * fi] * e->tf.scale - e->tf.ox);
    int64_t y = situ__tile_round_up(e->src->fpt[2 * fi + 1] * e->tf.scale - e->tf.oy);
    if (x < (int64_t)e->tf.lo || x >= (int64_t)e->tf.hi || y < (int64_t)e->tf.lo ||
        y >= (int64_t)e->tf.hi)
        return 0;
    *out_x = x, *out_y = y;
    return 1;
}

/* Columns of mark cells across the buffered tile, and the first one's number. */
static int64_t first_cell(const enc *e)
{
    return situ__floor_div((int64_t)e->tf.lo, e->o->urgent_mark_cell);
}

static int64_t cell_cols(const enc *e)
{
    return situ__floor_div((int64_t)e->tf.hi - 1, e->o->urgent_mark_cell) - first_cell(e) + 1;
}

void situ__tile_mark_add(enc *e, uint32_t fi)
{
    scratch *s = e->s;
    int64_t x, y, cs = e->o->urgent_mark_cell, c0 = first_cell(e);
    if (e->src->fminz[fi] > e->t.z || !mark_point(e, fi, &x, &y))
        return;
    if (situ__tile_grow((void **)&s->marks, &s->markcap, s->nmarks + 1, sizeof *s->marks)) {
        s->oom = 1;
        return;
    }
    uint64_t cell =
        (uint64_t)((situ__floor_div(y, cs) - c0) * cell_cols(e) + (situ__floor_div(x, cs) - c0));
    s->marks[s->nmarks++] = cell << 32 | fi;
}

/* Orders s->marks by cell with a counting sort (a nation's zoom 3 tile has
 * a hundred thousand members; a comparison sort was most of its marks'
 * time). The members of a cell stay in the order they came: a mark's sums
 * do not depend on it, and a mark of one has one. 0 or -1 (out of memory). */
static int sort_by_cell(enc *e)
{
    scratch *s = e->s;
    int64_t cols = cell_cols(e);
    size_t ncells = (size_t)(cols * cols);
    if (situ__tile_grow((void **)&s->mcount, &s->mcountcap, ncells + 1, sizeof *s->mcount) ||
        situ__tile_grow((void **)&s->msorted, &s->msortedcap, s->nmarks, sizeof *s->msorted))
        return -1;
    memset(s->mcount, 0, (ncells + 1) * sizeof *s->mcount);
    for (size_t i = 0; i < s->nmarks; i++)
        s->mcount[(s->marks[i] >> 32) + 1]++;
    for (size_t c = 0; c < ncells; c++)
        s->mcount[c + 1] += s->mcount[c];
    for (size_t i = 0; i < s->nmarks; i++)
        s->msorted[s->mcount[s->marks[i] >> 32]++] = s->marks[i];
    uint64_t *m = s->marks;
    size_t cap = s->markcap;
    s->marks = s->msorted, s->markcap = s->msortedcap;
    s->msorted = m, s->msortedcap = cap;
    return 0;
}

/* The index of the `urgent` key in e's key table, or -1. */
static int urgent_key(const enc *e)
{
    for (int k = 0; k < e->src->nkeys; k++)
        if (e->src->keys[k].agg == TILE_AGG_URGENT)
            return k;
    return -1;
}

/* Writes one mark of members m[0..n) (in any order: only a mark of one names its member). */
static void write_mark(enc *e, const uint64_t *m, size_t n)
{
    int64_t sx = 0, sy = 0, x = 0, y = 0;
    for (size_t i = 0; i < n; i++) {
        mark_point(e, (uint32_t)m[i], &x, &y);
        sx += x, sy += y;
    }
    situ__tile_mark_write(e, n, sx, sy, (uint32_t)m[0]);
}

void situ__tile_mark_write(enc *e, size_t n, int64_t sx, int64_t sy, uint32_t fi)
{
    scratch *s = e->s;
    int key = urgent_key(e);
    if (key < 0)
        return;
    e->slim = TILE_SLIM_ID;
    int nt = n == 1 ? situ__tile_feature_tags(e, fi, 1) : 0;
    e->slim = 0;
    if (nt < 0 || situ__tile_tag_room(s, (size_t)nt + 1)) {
        s->oom = 1;
        return;
    }
    s->val.n = 0;
    situ_mvt_value_int(&s->val, (int64_t)n);
    s->tags[2 * nt] = situ__tile_local_key(e, key);
    s->tags[2 * nt + 1] = situ__tile_value(e);
    int32_t xy[2] = {tile_round((double)sx / (double)n), tile_round((double)sy / (double)n)};
    situ_mvt_geom_reset(&s->geom);
    situ_mvt_geom_points(&s->geom, xy, 1);
    situ_mvt_layer_feature(&s->layer, 0, 0, SITU_MVT_POINT, s->tags, (size_t)nt + 1, &s->geom);
    e->st.features++;
    e->st.marks++;
}

void situ__tile_marks_write(enc *e)
{
    scratch *s = e->s;
    int key = urgent_key(e);
    if (!s->nmarks || key < 0 || s->oom) {
        s->nmarks = 0;
        return;
    }
    if (sort_by_cell(e)) {
        s->oom = 1;
        s->nmarks = 0;
        return;
    }
    for (size_t i = 0, j; i < s->nmarks && !s->oom; i = j) {
        for (j = i + 1; j < s->nmarks && s->marks[j] >> 32 == s->marks[i] >> 32; j++)
            ;
        write_mark(e, s->marks + i, j - i);
    }
    s->nmarks = 0;
}

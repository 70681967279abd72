/*
 * tile_pyramid.c: the per-zoom aggregates of a point collection (see
 * tile.c's rules: below aggregate_below every feature folds into its cell,
 * but the urgent ones). Owns building them once per version of a collection
 * (situ__tile_pyramid_new, from the features, every zoom directly so that
 * each feature's rounding is the one a scan gives), keeping them in the
 * prepared collection (situ__tile_pyramid_get) and writing an aggregate
 * tile from them (situ__tile_pyramid_encode): a cold tile then costs the
 * unit squares of its box, not every feature in it. The next version of the
 * collection gets its pyramid from the previous one (situ__tile_pyramid_
 * update): the features that changed are taken out of their old squares
 * and put in their new ones, at every zoom, so a feed batch costs the
 * squares it touched, not the collection.
 *
 * The world grid of zoom z is cut in squares of `unit` tile units (the gcd
 * of the cell and the buffer, 64 by default): a tile's cells are whole
 * squares inside it and its buffer (half cells at its edges) whole squares
 * too, so a tile sums squares and gets what a scan of its features gets.
 */
#include <stdlib.h>
#include <string.h>

#include "situ/index.h"
#include "tile_enc.h"

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b, b = t;
    }
    return a;
}

int situ__tile_pyramid_fits(const tile_pyramid *p, const situ_tile_opts *o, int z)
{
    return p && !o->scan_aggregates && z >= 0 && z < p->below && z < o->aggregate_below &&
           p->extent == o->extent && p->buffer == o->buffer && p->cell == o->aggregate_cell &&
           p->urgent_from == o->urgent_from && p->today == o->today;
}

static int64_t square_key(int64_t row, int64_t col)
{
    return (int64_t)((uint64_t)row << 32 | (uint64_t)col);
}

/* The first index of sorted keys (stride bytes apart) not below key. */
static size_t lower_bound(const void *base, size_t n, size_t stride, int64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (*(const int64_t *)((const char *)base + mid * stride) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- building -------------------------------------------------------------- */

typedef struct zoom_build {
    const situ_tilesrc *src;
    const tile_pyramid *p;
    tile_pzoom *pz;
    uint32_t *slots; /* open addressing: cell index + 1 */
    size_t nslots;
} zoom_build;

/* The index of the cell of key, added when new. */
static size_t cell_of(zoom_build *b, int64_t key)
{
    tile_pzoom *pz = b->pz;
    size_t h = (size_t)situ__tile_hash(&key, sizeof key) & (b->nslots - 1);
    for (; b->slots[h]; h = (h + 1) & (b->nslots - 1))
        if (pz->cells[b->slots[h] - 1].key == key)
            return b->slots[h] - 1;
    size_t i = pz->n++;
    pz->cells[i] = (tile_pcell){.key = key};
    b->slots[h] = (uint32_t)i + 1;
    return i;
}

static int by_key(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int urgent_order(const void *a, const void *b)
{
    const tile_purgent *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->fi < y->fi ? -1 : x->fi > y->fi;
}

/* Sorts the cells by key, their aggregate rows with them. 0 or -1. */
static int sort_cells(tile_pzoom *pz, size_t na)
{
    int64_t(*order)[2] = malloc((pz->n + 1) * sizeof *order);
    tile_pcell *cells = malloc((pz->n + 1) * sizeof *cells);
    double *acc = malloc((pz->n * na + 1) * sizeof *acc);
    uint8_t *any = malloc(pz->n * na + 1);
    uint32_t *cnt = malloc((pz->n * na + 1) * sizeof *cnt);
    if (!order || !cells || !acc || !any || !cnt) {
        free(order), free(cells), free(acc), free(any), free(cnt);
        return -1;
    }
    for (size_t i = 0; i < pz->n; i++)
        order[i][0] = pz->cells[i].key, order[i][1] = (int64_t)i;
    qsort(order, pz->n, sizeof *order, by_key);
    for (size_t i = 0; i < pz->n; i++) {
        size_t j = (size_t)order[i][1];
        cells[i] = pz->cells[j];
        memcpy(acc + i * na, pz->acc + j * na, na * sizeof *acc);
        memcpy(any + i * na, pz->any + j * na, na);
        memcpy(cnt + i * na, pz->cnt + j * na, na * sizeof *cnt);
    }
    free(order), free(pz->cells), free(pz->acc), free(pz->any), free(pz->cnt);
    pz->cells = cells, pz->acc = acc, pz->any = any, pz->cnt = cnt;
    return 0;
}

/* Folds aggregate row `row` into a square's acc and any as
 * situ__tile_fold_row does, counting in cnt the members with a value (for
 * MIN: those at the minimum). */
static void fold_in(const situ_tilesrc *src, int today, const double *row, double *acc,
                    uint8_t *any, uint32_t *cnt)
{
    for (int j = 0; j < src->nagg; j++) {
        double v = row[j];
        if (v != v) /* NaN: no value */
            continue;
        if (src->aggop[j] == TILE_AGG_MIN) {
            if (!any[j] || v < acc[j])
                acc[j] = v, cnt[j] = 0;
            cnt[j] += v == acc[j];
        } else {
            acc[j] += src->aggop[j] == TILE_AGG_OVERDUE ? v < today : v;
            cnt[j]++;
        }
        any[j] = 1;
    }
}

/* Takes row out of a square's fold (fold_in's inverse). Returns 0, 1 when
 * a MIN lost its last member at the minimum (the square must be folded
 * again from its members), -1 when row was not in it. */
static int fold_out(const situ_tilesrc *src, int today, const double *row, double *acc,
                    uint8_t *any, uint32_t *cnt)
{
    int again = 0;
    for (int j = 0; j < src->nagg; j++) {
        double v = row[j];
        if (v != v)
            continue;
        if (!any[j] || !cnt[j] || (src->aggop[j] == TILE_AGG_MIN && v < acc[j]))
            return -1;
        if (src->aggop[j] == TILE_AGG_MIN) {
            again |= v == acc[j] && --cnt[j] == 0;
            continue;
        }
        acc[j] -= src->aggop[j] == TILE_AGG_OVERDUE ? v < today : v;
        if (--cnt[j] == 0)
            acc[j] = 0, any[j] = 0;
    }
    return again;
}

/* 1 when feature fi's row has a summed value whose sums would depend on
 * the order of addition (not an integer, or too large to stay exact). */
static int inexact_row(const situ_tilesrc *src, size_t fi)
{
    const double *row = src->aggv + fi * (size_t)src->nagg;
    for (int j = 0; j < src->nagg; j++)
        if ((src->aggop[j] == TILE_AGG_SUM || src->aggop[j] == TILE_AGG_ITEM) && row[j] == row[j] &&
            (row[j] != floor(row[j]) || fabs(row[j]) > 2147483647.0))
            return 1;
    return 0;
}

/* 1 when feature fi stays itself among zoom z's aggregates (tile.c's urgent). */
static int is_urgent(const situ_tilesrc *src, const tile_pyramid *p, int z, size_t fi)
{
    if (src->due_slot < 0 || z < p->urgent_from)
        return 0;
    double due = src->aggv[fi * (size_t)src->nagg + (size_t)src->due_slot];
    return due == due && due < p->today;
}

/* Feature fi's square at zoom z, and its rounded position there. */
static int64_t square_of(const situ_tilesrc *src, const tile_pyramid *p, int z, size_t fi,
                         int64_t *out_x, int64_t *out_y)
{
    double scale = (double)(1u << z) * p->extent;
    *out_x = situ__tile_round_up(src->fpt[2 * fi] * scale);
    *out_y = situ__tile_round_up(src->fpt[2 * fi + 1] * scale);
    return square_key(situ__floor_div(*out_y, p->unit), situ__floor_div(*out_x, p->unit));
}

/* Folds every feature of src into its square of zoom z. 0 or -1. */
static int build_zoom(const situ_tilesrc *src, const tile_pyramid *p, int z, tile_pzoom *pz)
{
    const situ_coll *c = src->coll;
    size_t na = (size_t)src->nagg, nslots = 64;
    while (nslots < 2 * c->n + 2)
        nslots *= 2;
    zoom_build b = {src, p, pz, calloc(nslots, sizeof *b.slots), nslots};
    pz->cells = malloc((c->n + 1) * sizeof *pz->cells);
    pz->acc = calloc(c->n * na + 1, sizeof *pz->acc);
    pz->any = calloc(c->n * na + 1, 1);
    pz->cnt = calloc(c->n * na + 1, sizeof *pz->cnt);
    pz->urgent = malloc((c->n + 1) * sizeof *pz->urgent);
    if (!b.slots || !pz->cells || !pz->acc || !pz->any || !pz->cnt || !pz->urgent) {
        free(b.slots);
        return -1;
    }
    for (size_t fi = 0; fi < c->n; fi++) {
        if (src->fminz[fi] > z)
            continue;
        int64_t x, y, key = square_of(src, p, z, fi, &x, &y);
        if (is_urgent(src, p, z, fi)) {
            pz->urgent[pz->nurgent++] = (tile_purgent){key, (uint32_t)fi};
            continue;
        }
        size_t i = cell_of(&b, key);
        tile_pcell *cell = &pz->cells[i];
        cell->n++, cell->sx += x, cell->sy += y;
        fold_in(src, p->today, src->aggv + fi * na, pz->acc + i * na, pz->any + i * na,
                pz->cnt + i * na);
    }
    free(b.slots);
    qsort(pz->urgent, pz->nurgent, sizeof *pz->urgent, urgent_order);
    tile_purgent *u = realloc(pz->urgent, (pz->nurgent + 1) * sizeof *u); /* few are */
    if (u)
        pz->urgent = u;
    return sort_cells(pz, na);
}

static void count_bytes(tile_pyramid *p, const situ_tilesrc *src)
{
    size_t na = (size_t)src->nagg;
    p->bytes = 0;
    for (int z = 0; z < p->below; z++) {
        const tile_pzoom *pz = &p->z[z];
        p->bytes += pz->n * (sizeof *pz->cells + na * (sizeof *pz->acc + 1 + sizeof *pz->cnt)) +
                    pz->nurgent * sizeof *pz->urgent;
    }
}

tile_pyramid *situ__tile_pyramid_new(const situ_tilesrc *src, const situ_tile_opts *o)
{
    uint32_t unit = o->buffer ? gcd(o->aggregate_cell, o->buffer) : o->aggregate_cell;
    if (!o->aggregate_cell || !o->extent || o->extent % o->aggregate_cell ||
        o->aggregate_cell > o->extent + o->buffer)
        return NULL;
    tile_pyramid *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    *p = (tile_pyramid){.urgent_from = o->urgent_from,
                        .today = o->today,
                        .extent = o->extent,
                        .buffer = o->buffer,
                        .cell = o->aggregate_cell,
                        .unit = unit};
    int below = o->aggregate_below < SITU_TILE_AGGREGATE_BELOW ? o->aggregate_below
                                                               : SITU_TILE_AGGREGATE_BELOW;
    for (int z = 0; z < below; z++) {
        p->below = z + 1;
        if (build_zoom(src, p, z, &p->z[z])) {
            situ__tile_pyramid_free(p);
            return NULL;
        }
    }
    for (size_t fi = 0; fi < src->coll->n; fi++)
        p->inexact += (size_t)inexact_row(src, fi);
    count_bytes(p, src);
    return p;
}

void situ__tile_pyramid_free(tile_pyramid *p)
{
    while (p) {
        tile_pyramid *next = p->retired;
        for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++)
            free(p->z[z].cells), free(p->z[z].acc), free(p->z[z].any), free(p->z[z].cnt),
                free(p->z[z].urgent);
        for (int z = 0; z < SITU_TILE_URGENT_FROM; z++)
            free(p->marks[z]);
        free(p);
        p = next;
    }
}

/* ---- keeping it up to date ------------------------------------------------- */

int situ__tile_diff_alloc(tile_diff *d, size_t nprev, size_t nsrc)
{
    *d = (tile_diff){malloc((nprev + 1) * sizeof *d->gone), malloc((nsrc + 1) * sizeof *d->came),
                     malloc((nprev + 1) * sizeof *d->remap), 0, 0};
    if (d->gone && d->came && d->remap)
        return 0;
    situ__tile_diff_dispose(d);
    return -1;
}

void situ__tile_diff_dispose(tile_diff *d)
{
    free(d->gone), free(d->came), free(d->remap);
    d->gone = d->came = d->remap = NULL;
}

/* The (township_code, id) order the features of a situ_coll are in. */
static int cmp_place(const situ_feature *a, const situ_feature *b)
{
    int k = strcmp(a->township_code, b->township_code);
    return k ? k : strcmp(a->id, b->id);
}

/* 1 when feature i of a and j of b fold the same at every zoom. */
static int same_fold(const situ_tilesrc *a, size_t i, const situ_tilesrc *b, size_t j)
{
    size_t na = (size_t)a->nagg;
    return a->fminz[i] == b->fminz[j] &&
           !memcmp(a->fpt + 2 * i, b->fpt + 2 * j, 2 * sizeof(double)) &&
           !memcmp(a->aggv + i * na, b->aggv + j * na, na * sizeof(double));
}

/* Walks prev's and src's features side by side (both in place order). 0 or -1. */
static int diff(const situ_tilesrc *prev, const situ_tilesrc *src, tile_diff *d)
{
    const situ_coll *a = prev->coll, *b = src->coll;
    if (situ__tile_diff_alloc(d, a->n, b->n))
        return -1;
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int k = i == a->n ? 1 : j == b->n ? -1 : cmp_place(&a->feats[i], &b->feats[j]);
        if (k == 0 && same_fold(prev, i, src, j)) {
            d->remap[i++] = (uint32_t)j++;
            continue;
        }
        if (k <= 0)
            d->remap[i] = TILE_NO_FEATURE, d->gone[d->ngone++] = (uint32_t)i++;
        if (k >= 0)
            d->came[d->ncame++] = (uint32_t)j++;
    }
    return 0;
}

/* One feature going into (+1) or out of (-1) a square of one zoom. */
typedef struct pmove {
    int64_t key, x, y;
    const double *row;
    int sign;
} pmove;

static int by_move_key(const void *a, const void *b)
{
    int64_t x = ((const pmove *)a)->key, y = ((const pmove *)b)->key;
    return x < y ? -1 : x > y;
}

/* The work of one zoom: the moves of its squares, the urgent features that came. */
typedef struct pzoom_work {
    pmove *moves;
    size_t nmoves;
    tile_purgent *came;
    size_t ncame;
} pzoom_work;

/* Sorts feature fi of s (a feature of prev when sign is -1) into w. */
static void add_move(pzoom_work *w, const situ_tilesrc *s, const tile_pyramid *p, int z, size_t fi,
                     int sign)
{
    if (s->fminz[fi] > z)
        return;
    int64_t x, y, key = square_of(s, p, z, fi, &x, &y);
    if (is_urgent(s, p, z, fi)) {
        if (sign > 0)
            w->came[w->ncame++] = (tile_purgent){key, (uint32_t)fi};
        return;
    }
    w->moves[w->nmoves++] = (pmove){key, x, y, s->aggv + fi * (size_t)s->nagg, sign};
}

/* Room for n more squares in pz (capacity *cap). 0 or -1. */
static int cells_room(tile_pzoom *pz, size_t *cap, size_t n, size_t na)
{
    if (pz->n + n <= *cap)
        return 0;
    size_t c = (*cap ? *cap : 64) * 2;
    while (c < pz->n + n)
        c *= 2;
    tile_pcell *cells = realloc(pz->cells, c * sizeof *cells);
    if (cells)
        pz->cells = cells;
    double *acc = realloc(pz->acc, c * na * sizeof *acc + 1);
    if (acc)
        pz->acc = acc;
    uint8_t *any = realloc(pz->any, c * na + 1);
    if (any)
        pz->any = any;
    uint32_t *cnt = realloc(pz->cnt, c * na * sizeof *cnt + 1);
    if (cnt)
        pz->cnt = cnt;
    if (!cells || !acc || !any || !cnt)
        return -1;
    *cap = c;
    return 0;
}

/* Appends squares [i, j) of old to pz. */
static void copy_squares(tile_pzoom *pz, const tile_pzoom *old, size_t i, size_t j, size_t na)
{
    memcpy(pz->cells + pz->n, old->cells + i, (j - i) * sizeof *pz->cells);
    memcpy(pz->acc + pz->n * na, old->acc + i * na, (j - i) * na * sizeof *pz->acc);
    memcpy(pz->any + pz->n * na, old->any + i * na, (j - i) * na);
    memcpy(pz->cnt + pz->n * na, old->cnt + i * na, (j - i) * na * sizeof *pz->cnt);
    pz->n += j - i;
}

/* A square to fold again from its members (rescan). */
typedef struct refold {
    const situ_tilesrc *src;
    const tile_pyramid *p;
    int z;
    tile_pzoom *pz;
    size_t i; /* the square */
} refold;

static int refold_member(void *ctx, uint32_t fi)
{
    refold *r = ctx;
    tile_pzoom *pz = r->pz;
    size_t na = (size_t)r->src->nagg;
    int64_t x, y;
    if (r->src->fminz[fi] > r->z ||
        square_of(r->src, r->p, r->z, fi, &x, &y) != pz->cells[r->i].key ||
        is_urgent(r->src, r->p, r->z, fi))
        return 0;
    tile_pcell *cell = &pz->cells[r->i];
    cell->n++, cell->sx += x, cell->sy += y;
    fold_in(r->src, r->p->today, r->src->aggv + fi * na, pz->acc + r->i * na, pz->any + r->i * na,
            pz->cnt + r->i * na);
    return 0;
}

/* Web Mercator y (0 north, 1 south) in degrees of latitude. */
static double mercator_lat(double my)
{
    return atan(sinh(M_PI * (1 - 2 * my))) * 180 / M_PI;
}

/* Folds square i of pz again from src's features in it (found with the
 * collection's index around the square, a unit more on each side). 0 or -1. */
static int refold_square(const situ_tilesrc *src, const tile_pyramid *p, int z, tile_pzoom *pz,
                         size_t i)
{
    const situ_rtree *ix = src->coll->index;
    size_t na = (size_t)src->nagg;
    if (!ix)
        return -1;
    int64_t key = pz->cells[i].key, row = key >> 32, col = key & 0xFFFFFFFF;
    pz->cells[i] = (tile_pcell){.key = key};
    memset(pz->acc + i * na, 0, na * sizeof *pz->acc);
    memset(pz->any + i * na, 0, na);
    memset(pz->cnt + i * na, 0, na * sizeof *pz->cnt);
    double scale = (double)(1u << z) * p->extent, u = p->unit;
    double x0 = ((double)col * u - 1) / scale, x1 = ((double)(col + 1) * u + 1) / scale;
    double y0 = ((double)row * u - 1) / scale, y1 = ((double)(row + 1) * u + 1) / scale;
    refold r = {src, p, z, pz, i};
    situ_rtree_search(ix, x0 * 360 - 180, mercator_lat(y1), x1 * 360 - 180, mercator_lat(y0),
                      refold_member, &r);
    return 0;
}

/* The squares of zoom z: old's with w's moves applied, in key order;
 * squares left empty go. 0 or -1. */
static int update_cells(const situ_tilesrc *src, const tile_pyramid *p, int z,
                        const tile_pzoom *old, pzoom_work *w, tile_pzoom *pz)
{
    size_t na = (size_t)src->nagg, cap = 0, nagain = 0,
           *again = malloc((w->nmoves + 1) * sizeof *again);
    /* room at once for every square (a move adds at most one): no copy to grow */
    int rc = again && !cells_room(pz, &cap, old->n + w->nmoves, na) ? 0 : -1;
    qsort(w->moves, w->nmoves, sizeof *w->moves, by_move_key);
    size_t i = 0;
    for (size_t k = 0; !rc && k < w->nmoves;) {
        int64_t key = w->moves[k].key;
        size_t j = i + lower_bound(old->cells + i, old->n - i, sizeof *old->cells, key);
        int had = j < old->n && old->cells[j].key == key;
        if ((rc = cells_room(pz, &cap, j - i + 1, na)))
            break;
        copy_squares(pz, old, i, j + (size_t)had, na);
        i = j + (size_t)had;
        if (!had) { /* a new square */
            pz->cells[pz->n] = (tile_pcell){.key = key};
            memset(pz->acc + pz->n * na, 0, na * sizeof *pz->acc);
            memset(pz->any + pz->n * na, 0, na);
            memset(pz->cnt + pz->n * na, 0, na * sizeof *pz->cnt);
            pz->n++;
        }
        size_t at = pz->n - 1;
        tile_pcell *cell = &pz->cells[at];
        int refold_it = 0;
        for (; k < w->nmoves && w->moves[k].key == key; k++) {
            const pmove *m = &w->moves[k];
            double *acc = pz->acc + at * na;
            uint8_t *any = pz->any + at * na;
            uint32_t *cnt = pz->cnt + at * na;
            if (m->sign > 0) {
                cell->n++, cell->sx += m->x, cell->sy += m->y;
                fold_in(src, p->today, m->row, acc, any, cnt);
                continue;
            }
            int out = cell->n ? fold_out(src, p->today, m->row, acc, any, cnt) : -1;
            cell->n--, cell->sx -= m->x, cell->sy -= m->y;
            rc = out < 0 ? -1 : rc;
            refold_it |= out > 0;
        }
        if (!rc && !cell->n)
            pz->n--; /* empty: it goes */
        else if (refold_it)
            again[nagain++] = at;
    }
    if (!rc && !(rc = cells_room(pz, &cap, old->n - i, na)))
        copy_squares(pz, old, i, old->n, na);
    for (size_t k = 0; !rc && k < nagain; k++)
        rc = refold_square(src, p, z, pz, again[k]);
    free(again);
    return rc;
}

/* The urgent features of zoom z: old's that did not change (at their
 * index in src) and those that came, in (key, feature) order. 0 or -1. */
static int update_urgent(const tile_pzoom *old, const tile_diff *d, pzoom_work *w, tile_pzoom *pz)
{
    qsort(w->came, w->ncame, sizeof *w->came, urgent_order);
    pz->urgent = malloc((old->nurgent + w->ncame + 1) * sizeof *pz->urgent);
    if (!pz->urgent)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < old->nurgent; i++) {
        uint32_t fi = d->remap[old->urgent[i].fi];
        if (fi == TILE_NO_FEATURE)
            continue;
        tile_purgent u = {old->urgent[i].key, fi};
        for (; k < w->ncame && urgent_order(&w->came[k], &u) < 0; k++)
            pz->urgent[pz->nurgent++] = w->came[k];
        pz->urgent[pz->nurgent++] = u;
    }
    for (; k < w->ncame; k++)
        pz->urgent[pz->nurgent++] = w->came[k];
    return 0;
}

static int update_zoom(const tile_pyramid *was, const situ_tilesrc *prev, const situ_tilesrc *src,
                       const tile_diff *d, tile_pyramid *p, int z)
{
    pzoom_work w = {malloc((d->ngone + d->ncame + 1) * sizeof *w.moves), 0,
                    malloc((d->ncame + 1) * sizeof *w.came), 0};
    int rc = w.moves && w.came ? 0 : -1;
    for (size_t i = 0; !rc && i < d->ngone; i++)
        add_move(&w, prev, p, z, d->gone[i], -1);
    for (size_t i = 0; !rc && i < d->ncame; i++)
        add_move(&w, src, p, z, d->came[i], +1);
    if (!rc)
        rc = update_cells(src, p, z, &was->z[z], &w, &p->z[z]);
    if (!rc)
        rc = update_urgent(&was->z[z], d, &w, &p->z[z]);
    free(w.moves), free(w.came);
    return rc;
}

tile_pyramid *situ__tile_pyramid_update(const tile_pyramid *was, const situ_tilesrc *prev,
                                        const situ_tilesrc *src, const tile_diff *known)
{
    if (was->inexact || prev->nagg != src->nagg)
        return NULL;
    tile_diff found = {0};
    tile_pyramid *p = calloc(1, sizeof *p);
    int rc = !p ? -1 : known ? 0 : diff(prev, src, &found);
    const tile_diff *d = known ? known : &found;
    if (!rc) {
        *p = (tile_pyramid){.below = was->below,
                            .urgent_from = was->urgent_from,
                            .today = was->today,
                            .extent = was->extent,
                            .buffer = was->buffer,
                            .cell = was->cell,
                            .unit = was->unit,
                            .updates = was->updates + 1};
        for (size_t i = 0; i < d->ncame; i++)
            p->inexact += (size_t)inexact_row(src, d->came[i]);
        rc = p->inexact ? -1 : 0;
    }
    for (int z = 0; !rc && z < p->below; z++)
        rc = update_zoom(was, prev, src, d, p, z);
    situ__tile_diff_dispose(&found);
    if (rc) {
        situ__tile_pyramid_free(p);
        return NULL;
    }
    count_bytes(p, src);
    return p;
}

/* The most pyramids one prepared collection builds for options other than
 * the ones before (a new day, a test's): beyond, tiles scan. */
#define PYRAMIDS_MAX 8

const tile_pyramid *situ__tile_pyramid_get(const situ_tilesrc *src, const situ_tile_opts *o, int z)
{
    situ_tilesrc *s = (situ_tilesrc *)src; /* its pyramid is a cache */
    if (o->scan_aggregates || z >= SITU_TILE_AGGREGATE_BELOW)
        return NULL;
    pthread_mutex_lock(&s->pyr_mu);
    tile_pyramid *p = s->pyr;
    if (!situ__tile_pyramid_fits(p, o, z)) {
        int n = 0;
        for (const tile_pyramid *q = p; q; q = q->retired)
            n++;
        tile_pyramid *q = n < PYRAMIDS_MAX ? situ__tile_pyramid_new(src, o) : NULL;
        if (q) {
            q->retired = p;
            s->pyr = p = q;
        }
    }
    pthread_mutex_unlock(&s->pyr_mu);
    return situ__tile_pyramid_fits(p, o, z) ? p : NULL;
}

/* ---- one tile -------------------------------------------------------------- */

static int by_feature(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The tile's unit squares: rows r0..r1, columns c0..c1 (inclusive). */
typedef struct square_range {
    int64_t r0, r1, c0, c1;
} square_range;

/* Writes the urgent features of the squares in q, in feature order. */
static void write_urgent(enc *e, const tile_pzoom *pz, square_range q)
{
    size_t n = 0, cap = 0;
    uint32_t *fis = NULL;
    for (int64_t r = q.r0; r <= q.r1 && !e->s->oom; r++) {
        size_t i = lower_bound(pz->urgent, pz->nurgent, sizeof *pz->urgent, square_key(r, q.c0));
        for (; i < pz->nurgent && pz->urgent[i].key <= square_key(r, q.c1); i++) {
            if (situ__tile_grow((void **)&fis, &cap, n + 1, sizeof *fis)) {
                e->s->oom = 1;
                break;
            }
            fis[n++] = pz->urgent[i].fi;
        }
    }
    if (n)
        qsort(fis, n, sizeof *fis, by_feature);
    for (size_t i = 0; i < n && !e->s->oom; i++)
        situ__tile_emit_urgent(e, fis[i]);
    free(fis);
}

/* The tile's cells as tile_cluster.c numbers them, summed from squares. */
typedef struct tile_cells {
    int64_t unit, c0, ncol;
    uint32_t *n;
    int64_t *sx, *sy;
    double *acc;
    uint8_t *any;
} tile_cells;

static void add_square(enc *e, const tile_pzoom *pz, size_t i, tile_cells *tc)
{
    const tile_pcell *sq = &pz->cells[i];
    size_t na = (size_t)e->src->nagg;
    int64_t cs = e->o->aggregate_cell, row = sq->key >> 32, col = sq->key & 0xFFFFFFFF;
    int64_t ly = situ__floor_div(row * tc->unit - (int64_t)e->tf.oy, cs) - tc->c0;
    int64_t lx = situ__floor_div(col * tc->unit - (int64_t)e->tf.ox, cs) - tc->c0;
    size_t k = (size_t)(ly * tc->ncol + lx);
    tc->n[k] += sq->n, tc->sx[k] += sq->sx, tc->sy[k] += sq->sy;
    situ__tile_fold_merge(e->src, tc->acc + k * na, tc->any + k * na, pz->acc + i * na,
                          pz->any + i * na);
}

/* Sums the squares of q into their cells and writes each occupied cell, in
 * cell order, as a scan would cluster it. */
static void write_cells(enc *e, const tile_pyramid *p, const tile_pzoom *pz, square_range q)
{
    int64_t cs = e->o->aggregate_cell;
    tile_cells tc = {.unit = p->unit, .c0 = situ__floor_div((int64_t)e->tf.lo, cs)};
    tc.ncol = situ__floor_div((int64_t)e->tf.hi, cs) - tc.c0 + 1;
    size_t ncells = (size_t)(tc.ncol * tc.ncol), na = (size_t)e->src->nagg;
    tc.n = calloc(ncells, sizeof *tc.n);
    tc.sx = calloc(ncells, sizeof *tc.sx), tc.sy = calloc(ncells, sizeof *tc.sy);
    tc.acc = calloc(ncells * na + 1, sizeof *tc.acc), tc.any = calloc(ncells * na + 1, 1);
    if (!tc.n || !tc.sx || !tc.sy || !tc.acc || !tc.any) {
        e->s->oom = 1;
        goto done;
    }
    for (int64_t r = q.r0; r <= q.r1; r++) {
        size_t i = lower_bound(pz->cells, pz->n, sizeof *pz->cells, square_key(r, q.c0));
        for (; i < pz->n && pz->cells[i].key <= square_key(r, q.c1); i++)
            add_square(e, pz, i, &tc);
    }
    for (size_t k = 0; k < ncells && !e->s->oom; k++) {
        if (!tc.n[k])
            continue;
        double n = (double)tc.n[k];
        int32_t xy[2] = {tile_round((double)(tc.sx[k] - (int64_t)tc.n[k] * (int64_t)e->tf.ox) / n),
                         tile_round((double)(tc.sy[k] - (int64_t)tc.n[k] * (int64_t)e->tf.oy) / n)};
        situ__tile_emit_cluster(e, xy, tc.n[k], tc.acc + k * na, tc.any + k * na, NULL);
    }
done:
    free(tc.n), free(tc.sx), free(tc.sy), free(tc.acc), free(tc.any);
}

static int by_mark_key(const void *a, const void *b)
{
    const tile_pmark *x = a, *y = b;
    return x->key != y->key ? (x->key > y->key) - (x->key < y->key)
                            : (x->fi > y->fi) - (x->fi < y->fi);
}

/* The marks of zoom z in world units, from the urgent features of zoom
 * urgent_from (each point rounded at zoom z as a tile rounds it: v - origin
 * rounds as v does); NULL when out of memory. */
static tile_pmarks *marks_build(const situ_tilesrc *src, const tile_pyramid *p, int z)
{
    const tile_pzoom *pu = &p->z[p->urgent_from];
    tile_pmarks *m = malloc(sizeof *m + (pu->nurgent + 1) * sizeof *m->m);
    if (!m)
        return NULL;
    double scale = (double)(1u << z) * p->extent;
    int64_t cs = SITU_TILE_URGENT_MARK_CELL;
    size_t n = 0, k = 0;
    for (size_t i = 0; i < pu->nurgent; i++) {
        uint32_t fi = pu->urgent[i].fi;
        if (src->fminz[fi] > z)
            continue;
        int64_t x = situ__tile_round_up(src->fpt[2 * fi] * scale);
        int64_t y = situ__tile_round_up(src->fpt[2 * fi + 1] * scale);
        m->m[n++] =
            (tile_pmark){square_key(situ__floor_div(y, cs), situ__floor_div(x, cs)), x, y, 1, fi};
    }
    qsort(m->m, n, sizeof *m->m, by_mark_key);
    for (size_t i = 0; i < n; i++) {
        if (k && m->m[k - 1].key == m->m[i].key) {
            m->m[k - 1].sx += m->m[i].sx, m->m[k - 1].sy += m->m[i].sy, m->m[k - 1].n++;
            continue;
        }
        m->m[k++] = m->m[i];
    }
    m->n = k;
    return m;
}

/* Zoom z's marks of p, made once (thread-safe: the first made is kept);
 * NULL when out of memory. */
static const tile_pmarks *marks_get(const situ_tilesrc *src, const tile_pyramid *p, int z)
{
    tile_pmarks **slot = &((tile_pyramid *)p)->marks[z], *m;
    if ((m = __atomic_load_n(slot, __ATOMIC_ACQUIRE)))
        return m;
    tile_pmarks *made = marks_build(src, p, z), *none = NULL;
    if (made &&
        !__atomic_compare_exchange_n(slot, &none, made, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        free(made);
        return none;
    }
    return made;
}

/* Writes the marks of e's tile from zoom z's world marks: the mark cells
 * divide the buffer and the extent, so a cell is wholly in the buffered
 * tile or out of it, and world row order is the tile's cell order. */
static void marks_write_from(enc *e, const tile_pmarks *m)
{
    int64_t cs = SITU_TILE_URGENT_MARK_CELL, ox = (int64_t)e->tf.ox, oy = (int64_t)e->tf.oy;
    int64_t lo = (int64_t)e->tf.lo, hi = (int64_t)e->tf.hi;
    int64_t r0 = situ__floor_div(oy + lo, cs), r1 = situ__floor_div(oy + hi, cs) - 1;
    int64_t c0 = situ__floor_div(ox + lo, cs), c1 = situ__floor_div(ox + hi, cs) - 1;
    r0 = r0 < 0 ? 0 : r0, c0 = c0 < 0 ? 0 : c0;
    for (int64_t r = r0; r <= r1 && !e->s->oom; r++) {
        size_t i = lower_bound(m->m, m->n, sizeof *m->m, square_key(r, c0));
        for (; i < m->n && m->m[i].key <= square_key(r, c1) && !e->s->oom; i++) {
            const tile_pmark *k = &m->m[i];
            situ__tile_mark_write(e, k->n, k->sx - (int64_t)k->n * ox, k->sy - (int64_t)k->n * oy,
                                  k->fi);
        }
    }
}

/* 1 when e's marks can be read from the world marks: the default mark
 * cell, dividing the buffer and the extent. */
static int marks_precomputed(const enc *e)
{
    uint32_t cs = e->o->urgent_mark_cell;
    return cs == SITU_TILE_URGENT_MARK_CELL && e->o->buffer % cs == 0 && e->o->extent % cs == 0 &&
           e->t.z < SITU_TILE_URGENT_FROM;
}

/* Queues the urgent marks of e's tile (below urgent_from) from the urgent
 * features of zoom urgent_from: those of its squares under the tile's
 * buffered box, a little wider (a point rounds differently at each zoom);
 * situ__tile_mark_add keeps the ones in the tile. */
static void mark_urgent(enc *e, const tile_pyramid *p)
{
    const tile_pzoom *pu = &p->z[p->urgent_from];
    int64_t f = (int64_t)1 << (p->urgent_from - e->t.z), u = p->unit;
    int64_t ox = (int64_t)e->tf.ox, oy = (int64_t)e->tf.oy;
    int64_t lo = (int64_t)e->tf.lo - 1, hi = (int64_t)e->tf.hi;
    square_range q = {situ__floor_div((oy + lo) * f, u), situ__floor_div((oy + hi) * f, u),
                      situ__floor_div((ox + lo) * f, u), situ__floor_div((ox + hi) * f, u)};
    q.r0 = q.r0 < 0 ? 0 : q.r0, q.c0 = q.c0 < 0 ? 0 : q.c0;
    for (int64_t r = q.r0; r <= q.r1 && !e->s->oom; r++) {
        size_t i = lower_bound(pu->urgent, pu->nurgent, sizeof *pu->urgent, square_key(r, q.c0));
        for (; i < pu->nurgent && pu->urgent[i].key <= square_key(r, q.c1); i++)
            situ__tile_mark_add(e, pu->urgent[i].fi);
    }
}

int situ__tile_pyramid_marks(const tile_pyramid *p)
{
    return p->urgent_from < p->below;
}

void situ__tile_pyramid_encode(enc *e, const tile_pyramid *p)
{
    const tile_pzoom *pz = &p->z[e->t.z];
    int64_t u = p->unit, ox = (int64_t)e->tf.ox, oy = (int64_t)e->tf.oy;
    int64_t lo = (int64_t)e->tf.lo, hi = (int64_t)e->tf.hi;
    square_range q = {situ__floor_div(oy + lo, u), situ__floor_div(oy + hi, u) - 1,
                      situ__floor_div(ox + lo, u), situ__floor_div(ox + hi, u) - 1};
    q.r0 = q.r0 < 0 ? 0 : q.r0, q.c0 = q.c0 < 0 ? 0 : q.c0; /* no feature is north or west of 0 */
    write_urgent(e, pz, q);
    const tile_pmarks *m = e->marking && marks_precomputed(e) ? marks_get(e->src, p, e->t.z) : NULL;
    if (m) { /* on top of the aggregates: first */
        marks_write_from(e, m);
    } else if (e->marking) {
        mark_urgent(e, p);
        situ__tile_marks_write(e);
    }
    write_cells(e, p, pz, q);
}

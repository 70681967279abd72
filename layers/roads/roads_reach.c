/*
 * roads_reach.c: reach areas. Owns the edges (whole or in part) reached from
 * or to a point within each of a few budgets, and their polygons (a GEOS
 * buffer of the reached pieces); not the search itself (roads_search.c's
 * heap is reused). Entry points: situ_roads_reach, situ_roads_reach_dispose,
 * situ_roads_reach_polygon.
 *
 * One Dijkstra runs to the largest budget; every edge touching a node
 * within a budget then yields the part of it reachable in time: from its a
 * end, its b end, and along the origin's own edge from the origin, each
 * only in the directions it may be driven (reversed for TO_POINT), merged
 * into pieces, each with the times at its two ends.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

#define DEG (M_PI / 180.0)

/* A stretch [lo, hi] of an edge reached from one point f0 of it at time0,
 * the time growing with the distance from f0 (times the edge's time). */
typedef struct reach_src {
    double lo, hi, f0, time0;
} reach_src;

typedef struct pieces {
    situ_roads_piece *v;
    size_t n, cap;
} piece_list;

static int piece_add(piece_list *p, situ_roads_piece pc)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 256;
        situ_roads_piece *v = realloc(p->v, cap * sizeof *v);
        if (!v)
            return SITU_ENOMEM;
        p->v = v, p->cap = cap;
    }
    p->v[p->n++] = pc;
    return 0;
}

/* fmin and fmax without NaN handling (and without a libm call). */
static inline double min2(double a, double b)
{
    return a < b ? a : b;
}

static inline double max2(double a, double b)
{
    return a > b ? a : b;
}

/* The least time at f over the sources covering it. */
static double time_at(const reach_src *src, int ns, double f, double t)
{
    double best = INFINITY;
    for (int i = 0; i < ns; i++)
        if (f >= src[i].lo && f <= src[i].hi)
            best = min2(best, src[i].time0 + fabs(f - src[i].f0) * t);
    return best;
}

/* Pieces of edge e within budget b, from the reached distances of its ends
 * and, on the origin's edge, the origin itself. */
static int edge_pieces(const situ_roads_graph *g, const situ_roads_ws *ws, uint32_t e,
                       const situ_roads_place *o, double origin_off, situ_roads_dir dir, double b,
                       piece_list *out)
{
    const situ__edge *ed = &g->edges[e];
    double t = (double)ed->t;
    int fwd = (ed->rf & SITU__EDGE_FWD) != 0, bwd = (ed->rf & SITU__EDGE_BWD) != 0;
    /* leaving a towards b: fwd for FROM_POINT; for TO_POINT a point on the
     * edge drives towards a, so bwd */
    int from_a = dir == SITU_ROADS_FROM_POINT ? fwd : bwd;
    int from_b = dir == SITU_ROADS_FROM_POINT ? bwd : fwd;
    reach_src src[4];
    int ns = 0;
    if (from_a && situ__ws_has(ws, ed->a) && ws->dist[ed->a] <= b)
        src[ns++] =
            (reach_src){0, t > 0 ? min2(1, (b - ws->dist[ed->a]) / t) : 1, 0, ws->dist[ed->a]};
    if (from_b && situ__ws_has(ws, ed->b) && ws->dist[ed->b] <= b)
        src[ns++] =
            (reach_src){t > 0 ? max2(0, 1 - (b - ws->dist[ed->b]) / t) : 0, 1, 1, ws->dist[ed->b]};
    if (e == o->edge && origin_off <= b) {
        double span = t > 0 ? (b - origin_off) / t : 1;
        /* towards b: FROM drives a->b (fwd); TO: points past the origin drive back (bwd) */
        if (dir == SITU_ROADS_FROM_POINT ? fwd : bwd)
            src[ns++] = (reach_src){o->frac, min2(1, o->frac + span), o->frac, origin_off};
        if (dir == SITU_ROADS_FROM_POINT ? bwd : fwd)
            src[ns++] = (reach_src){max2(0, o->frac - span), o->frac, o->frac, origin_off};
    }
    /* merge the sources' stretches, sorted by lo */
    for (int i = 1; i < ns; i++)
        for (int j = i; j > 0 && src[j].lo < src[j - 1].lo; j--) {
            reach_src tmp = src[j];
            src[j] = src[j - 1], src[j - 1] = tmp;
        }
    for (int i = 0; i < ns;) {
        double lo = src[i].lo, hi = src[i].hi;
        int j = i + 1;
        while (j < ns && src[j].lo <= hi)
            hi = max2(hi, src[j++].hi);
        situ_roads_piece pc = {e, (float)lo, (float)hi, (float)time_at(src, ns, lo, t),
                               (float)time_at(src, ns, hi, t)};
        if (piece_add(out, pc) < 0)
            return SITU_ENOMEM;
        i = j;
    }
    return 0;
}

/* The pieces of every edge touching a node within the largest budget, for
 * each of the nb budgets: one pass over the reached nodes (ws->estamp marks
 * each edge done), lists[i] getting budget i's pieces. */
static int all_pieces(const situ_roads_graph *g, const situ_roads_closures *c, situ_roads_ws *ws,
                      const situ_roads_place *o, double origin_off, situ_roads_dir dir,
                      const double *budgets, int nb, double bmax, piece_list *lists)
{
    if (++ws->emark == 0) {
        memset(ws->estamp, 0, ws->nedges * sizeof *ws->estamp);
        ws->emark = 1;
    }
    ws->estamp[o->edge] = ws->emark;
    for (int i = 0; i < nb; i++)
        if (edge_pieces(g, ws, o->edge, o, origin_off, dir, budgets[i], &lists[i]) < 0)
            return SITU_ENOMEM;
    for (size_t k = 0; k < ws->ntouched; k++) {
        uint32_t v = ws->touched[k];
        if (ws->dist[v] > bmax)
            continue;
        for (uint32_t j = g->inc_off[v]; j < g->inc_off[v + 1]; j++) {
            uint32_t e = g->inc[j];
            if (ws->estamp[e] == ws->emark || situ__closed(c, e))
                continue;
            ws->estamp[e] = ws->emark;
            for (int i = 0; i < nb; i++)
                if (edge_pieces(g, ws, e, o, origin_off, dir, budgets[i], &lists[i]) < 0)
                    return SITU_ENOMEM;
        }
    }
    return 0;
}

void situ_roads_reach_dispose(situ_roads_reach_result *r)
{
    for (int i = 0; i < r->nbudgets; i++)
        free(r->pieces[i]);
    memset(r, 0, sizeof *r);
}

/* See roads.h. Uses ws; reads g and c. On failure *out is left empty. */
int situ_roads_reach(const situ_roads_graph *g, const situ_roads_closures *c,
                     const situ_roads_place *origin, situ_roads_dir dir, double offroad_kmh,
                     const double *budgets, int nb, situ_roads_ws *ws, situ_roads_reach_result *out,
                     situ_err *err)
{
    situ_roads_reach_result r = {0};
    double bmax = 0;
    if (nb < 1 || nb > 16 || !(offroad_kmh > 0) || origin->edge >= g->nedges ||
        ws->nnodes != g->nnodes)
        return situ_err_set(err, SITU_EINVAL, "reach: 1 to 16 budgets, a speed, an origin");
    for (int i = 0; i < nb; i++) {
        if (!(budgets[i] >= 0 && budgets[i] <= 86400))
            return situ_err_set(err, SITU_EINVAL, "minutes: budget %d out of range", i);
        bmax = fmax(bmax, budgets[i]);
    }
    c = c ? c : g->base;
    if (situ__closed(c, origin->edge))
        return situ_err_set(err, SITU_EINVAL, "reach: the origin is on a closed road");
    double off = origin->snap_m / (offroad_kmh / 3.6);
    uint32_t v;
    double d;
    situ__ws_reset(ws);
    ws->origin = *origin;
    ws->dir = dir;
    if (situ__ws_seed(ws, g, c, origin, dir, off) < 0)
        goto nomem;
    while (situ__ws_top(ws) <= bmax && situ__ws_pop(ws, &v, &d))
        if (situ__ws_expand(ws, g, c, v, d, dir) < 0)
            goto nomem;
    piece_list lists[16] = {{0}};
    int rc = all_pieces(g, c, ws, origin, off, dir, budgets, nb, bmax, lists);
    r.nbudgets = nb;
    for (int i = 0; i < nb; i++) {
        r.budgets[i] = budgets[i];
        r.pieces[i] = lists[i].v;
        r.npieces[i] = lists[i].n;
    }
    if (rc < 0)
        goto nomem;
    *out = r;
    return 0;
nomem:
    situ_roads_reach_dispose(&r);
    return situ_err_set(err, SITU_ENOMEM, "reach: out of memory");
}

/* ---- polygons --------------------------------------------------------------------- */

/*
 * A reach area is drawn on a grid of cells of side cell_m in a local metric
 * frame (east and north metres from the first piece, scaled at its
 * latitude): every cell a reached piece passes through, and its 8
 * neighbours, joined by GEOS's coverage union (the cells share their edges
 * exactly, so the union only drops inner edges) and mapped back to lon/lat.
 * GEOS's buffer of the pieces themselves would be the textbook drawing, but
 * noding tens of thousands of overlapping segment buffers takes minutes;
 * the grid costs one pass over the pieces and the cells.
 */
#define MAX_CELLS (1u << 24)

typedef struct frame {
    double lon0, lat0, kx, ky, cell;
    long ix0, iy0; /* the grid's first cell */
    size_t w, h;
} frame;

static int to_lonlat(double *x, double *y, void *ctx)
{
    const frame *f = ctx;
    *x = f->lon0 + *x / f->kx;
    *y = f->lat0 + *y / f->ky;
    return 1;
}

/* The piece's ends in the frame's metres. */
static void piece_xy(const situ_roads_graph *g, const frame *f, const situ_roads_piece *p,
                     double out[4])
{
    double ax, ay, bx, by;
    const situ__edge *e = &g->edges[p->edge];
    situ__node_xy(g, e->a, &ax, &ay);
    situ__node_xy(g, e->b, &bx, &by);
    out[0] = (ax + p->f0 * (bx - ax) - f->lon0) * f->kx;
    out[1] = (ay + p->f0 * (by - ay) - f->lat0) * f->ky;
    out[2] = (ax + p->f1 * (bx - ax) - f->lon0) * f->kx;
    out[3] = (ay + p->f1 * (by - ay) - f->lat0) * f->ky;
}

/* Sets up f around the pieces (a margin of 2 cells); SITU_ELIMIT when the
 * grid would be too large. */
static int frame_init(frame *f, const situ_roads_graph *g, const situ_roads_piece *pieces, size_t n,
                      double cell_m)
{
    situ__node_xy(g, g->edges[pieces[0].edge].a, &f->lon0, &f->lat0);
    double s = sin(f->lat0 * DEG), w = 1 - 0.0066943799901413165 * s * s;
    f->kx = 6378137.0 / sqrt(w) * cos(f->lat0 * DEG) * DEG;
    f->ky = 6378137.0 * (1 - 0.0066943799901413165) / (w * sqrt(w)) * DEG;
    f->cell = cell_m;
    double bb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY}, xy[4];
    for (size_t i = 0; i < n; i++) {
        piece_xy(g, f, &pieces[i], xy);
        bb[0] = fmin(bb[0], fmin(xy[0], xy[2])), bb[1] = fmin(bb[1], fmin(xy[1], xy[3]));
        bb[2] = fmax(bb[2], fmax(xy[0], xy[2])), bb[3] = fmax(bb[3], fmax(xy[1], xy[3]));
    }
    f->ix0 = (long)floor(bb[0] / cell_m) - 2, f->iy0 = (long)floor(bb[1] / cell_m) - 2;
    double w_cells = floor(bb[2] / cell_m) + 3 - (double)f->ix0;
    double h_cells = floor(bb[3] / cell_m) + 3 - (double)f->iy0;
    if (!(w_cells * h_cells <= MAX_CELLS))
        return SITU_ELIMIT;
    f->w = (size_t)w_cells, f->h = (size_t)h_cells;
    return 0;
}

/* Marks the cells within one cell of every piece. */
static void mark_cells(const situ_roads_graph *g, const frame *f, const situ_roads_piece *pieces,
                       size_t n, unsigned char *cells)
{
    double xy[4];
    for (size_t i = 0; i < n; i++) {
        piece_xy(g, f, &pieces[i], xy);
        double len = hypot(xy[2] - xy[0], xy[3] - xy[1]);
        int steps = (int)ceil(2 * len / f->cell) + 1;
        for (int k = 0; k <= steps; k++) {
            double t = (double)k / steps;
            long cx = (long)floor((xy[0] + t * (xy[2] - xy[0])) / f->cell) - f->ix0;
            long cy = (long)floor((xy[1] + t * (xy[3] - xy[1])) / f->cell) - f->iy0;
            for (long dy = -1; dy <= 1; dy++)
                for (long dx = -1; dx <= 1; dx++)
                    cells[(size_t)(cy + dy) * f->w + (size_t)(cx + dx)] = 1;
        }
    }
}

static GEOSGeometry *cell_box(GEOSContextHandle_t h, const frame *f, size_t cx, size_t cy)
{
    double x0 = (double)(f->ix0 + (long)cx) * f->cell, y0 = (double)(f->iy0 + (long)cy) * f->cell;
    double x1 = x0 + f->cell, y1 = y0 + f->cell;
    GEOSCoordSequence *cs = GEOSCoordSeq_create_r(h, 5, 2);
    if (!cs)
        return NULL;
    double ring[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
    for (unsigned i = 0; i < 5; i++)
        GEOSCoordSeq_setXY_r(h, cs, i, ring[2 * i], ring[2 * i + 1]);
    GEOSGeometry *shell = GEOSGeom_createLinearRing_r(h, cs);
    return shell ? GEOSGeom_createPolygon_r(h, shell, NULL, 0) : NULL;
}

/* See roads.h: the pieces' cells of side buffer_m, dilated by one cell. */
int situ_roads_reach_polygon(const situ_roads_graph *g, GEOSContextHandle_t h,
                             const situ_roads_piece *pieces, size_t n, double buffer_m,
                             GEOSGeometry **out_poly, situ_err *err)
{
    GEOSGeometry **boxes = NULL, *coll = NULL, *uni = NULL, *poly = NULL;
    unsigned char *cells = NULL;
    size_t nb = 0;
    frame f;
    if (!(buffer_m >= 1) || n == 0)
        return situ_err_set(err, SITU_EINVAL, "reach: buffer_m >= 1 and some pieces needed");
    if (frame_init(&f, g, pieces, n, buffer_m) < 0)
        return situ_err_set(err, SITU_ELIMIT, "reach: the area is too large for %.0f m cells",
                            buffer_m);
    cells = calloc(f.w * f.h, 1);
    if (!cells)
        goto fail;
    mark_cells(g, &f, pieces, n, cells);
    size_t nmarked = 0;
    for (size_t i = 0; i < f.w * f.h; i++)
        nmarked += cells[i];
    boxes = malloc((nmarked + 1) * sizeof *boxes);
    if (!boxes)
        goto fail;
    for (size_t cy = 0; cy < f.h; cy++)
        for (size_t cx = 0; cx < f.w; cx++)
            if (cells[cy * f.w + cx] && !(boxes[nb++] = cell_box(h, &f, cx, cy))) {
                nb--;
                goto fail;
            }
    coll = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, boxes, (unsigned)nb);
    if (!coll)
        goto fail;
    nb = 0; /* the collection owns them now */
    if (!(uni = GEOSCoverageUnion_r(h, coll)) ||
        !(poly = GEOSGeom_transformXY_r(h, uni, to_lonlat, &f)))
        goto fail;
    GEOSGeom_destroy_r(h, coll);
    GEOSGeom_destroy_r(h, uni);
    free(boxes);
    free(cells);
    *out_poly = poly;
    return 0;
fail:
    for (size_t i = 0; i < nb; i++)
        GEOSGeom_destroy_r(h, boxes[i]);
    free(boxes);
    free(cells);
    GEOSGeom_destroy_r(h, coll);
    GEOSGeom_destroy_r(h, uni);
    return situ_err_set(err, SITU_EGEOM, "reach: GEOS could not join the reached cells");
}

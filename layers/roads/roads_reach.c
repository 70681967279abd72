/*
 * roads_reach.c: reach areas. Owns the edges (whole or in part) reached from
 * or to a point within each of a few budgets, and their polygons (the
 * outline of the grid cells around the pieces); not the search itself (roads_search.c's
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
#include "situ/buf.h"

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
    if (p->n == p->cap && situ_array_grow((void **)&p->v, &p->cap, p->n, 1, sizeof *p->v) < 0)
        return SITU_ENOMEM;
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

/* Pieces of edge e, not the origin's, within each of the nb budgets (lists[i]
 * getting budget i's): what edge_pieces makes of the stretches reached from
 * its two ends (one piece where they meet), the ends' times read once. */
static int end_pieces(const situ_roads_graph *g, const situ_roads_ws *ws, uint32_t e,
                      situ_roads_dir dir, const double *budgets, int nb, piece_list *lists)
{
    const situ__edge *ed = &g->edges[e];
    double t = (double)ed->t;
    int fwd = (ed->rf & SITU__EDGE_FWD) != 0, bwd = (ed->rf & SITU__EDGE_BWD) != 0;
    int from_a = dir == SITU_ROADS_FROM_POINT ? fwd : bwd;
    int from_b = dir == SITU_ROADS_FROM_POINT ? bwd : fwd;
    double da = from_a && situ__ws_has(ws, ed->a) ? ws->dist[ed->a] : INFINITY;
    double db = from_b && situ__ws_has(ws, ed->b) ? ws->dist[ed->b] : INFINITY;
    for (int i = 0; i < nb; i++) {
        double b = budgets[i];
        int ha = da <= b, hb = db <= b, rc = 0;
        double ahi = ha && t > 0 ? min2(1, (b - da) / t) : 1;
        double blo = hb && t > 0 ? max2(0, 1 - (b - db) / t) : 0;
        if (ha && hb && blo <= ahi) { /* the two stretches meet: the whole edge */
            double t0 = blo <= 0 ? min2(da, db + t) : da, t1 = ahi >= 1 ? min2(da + t, db) : db;
            rc = piece_add(&lists[i], (situ_roads_piece){e, 0, 1, (float)t0, (float)t1});
        } else {
            if (ha)
                rc = piece_add(&lists[i], (situ_roads_piece){e, 0, (float)ahi, (float)da,
                                                             (float)(da + ahi * t)});
            if (hb && rc == 0)
                rc = piece_add(
                    &lists[i],
                    (situ_roads_piece){e, (float)blo, 1, (float)(db + (1 - blo) * t), (float)db});
        }
        if (rc < 0)
            return SITU_ENOMEM;
    }
    return 0;
}

/* Sizes each budget's list for about its pieces (at most two per edge at a
 * node within the budget, and the origin's edge), so that they rarely grow. */
static int lists_reserve(const situ_roads_graph *g, const situ_roads_ws *ws, const double *budgets,
                         int nb, double bmax, piece_list *lists)
{
    size_t cap[16];
    for (int i = 0; i < nb; i++)
        cap[i] = 8;
    for (size_t k = 0; k < ws->ntouched; k++) {
        uint32_t v = ws->touched[k];
        double d = ws->dist[v];
        if (d > bmax)
            continue;
        for (int i = 0; i < nb; i++)
            cap[i] += d <= budgets[i] ? g->inc_off[v + 1] - g->inc_off[v] : 0;
    }
    for (int i = 0; i < nb; i++)
        if (!(lists[i].v = malloc(cap[i] * sizeof *lists[i].v)))
            return SITU_ENOMEM;
        else
            lists[i].cap = cap[i];
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
    if (lists_reserve(g, ws, budgets, nb, bmax, lists) < 0)
        return SITU_ENOMEM;
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
            if (end_pieces(g, ws, e, dir, budgets, nb, lists) < 0)
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
 * latitude): every cell a reached piece passes through (walked cell by
 * cell), and its 8 neighbours. The outline of that set of cells is traced
 * straight into rings, in one pass over the cells: each side between a cell
 * of the set and one outside is an edge, walked with the set on its left
 * (shells anticlockwise, holes clockwise), turning left first where two
 * cells of the set meet only at a corner, so that such cells stay apart.
 * The area's polygons are then the set's 4-connected parts (polygons of a
 * MultiPolygon may touch at a point). A ring that comes back to such a
 * corner is cut there in two: a shell and a hole that touches it at that
 * point, as OGC's validity wants. Each part gets its one shell and its
 * holes; the rings' areas must add up to the cells' (checked).
 *
 * GEOS's buffer of the pieces themselves would be the textbook drawing, but
 * noding tens of thousands of overlapping segment buffers takes minutes,
 * and GEOS's coverage union of the cells' squares cost ten times this
 * trace's instructions (and most of a 30-minute reach's time at scale 1).
 */
#define MAX_CELLS (1u << 24)
#define C_IN 1u                         /* the cell is in the set */
#define C_WALKED(d) (2u << (d))         /* its side walked in direction d is in a ring */
static const int DX[4] = {1, 0, -1, 0}; /* directions: east, north, west, south */
static const int DY[4] = {0, 1, 0, -1};
static const int CX[4] = {0, 1, 1, 0}; /* the corner a cell's side walked in d starts at */
static const int CY[4] = {0, 0, 1, 1};

typedef struct frame {
    double lon0, lat0, kx, ky, cell;
    long ix0, iy0; /* the grid's first cell */
    size_t w, h;
} frame;

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

/* Sets up f's origin and scale at the first piece. */
static void frame_init(frame *f, const situ_roads_graph *g, const situ_roads_piece *pieces,
                       double cell_m)
{
    situ__node_xy(g, g->edges[pieces[0].edge].a, &f->lon0, &f->lat0);
    double s = sin(f->lat0 * DEG), w = 1 - 0.0066943799901413165 * s * s;
    f->kx = 6378137.0 / sqrt(w) * cos(f->lat0 * DEG) * DEG;
    f->ky = 6378137.0 * (1 - 0.0066943799901413165) / (w * sqrt(w)) * DEG;
    f->cell = cell_m;
}

/* Sets up f's grid around the n segments xy (4 metres each), with a margin
 * of 2 cells so that the set never touches the grid's border; SITU_ELIMIT
 * when the grid would be too large. */
static int frame_grid(frame *f, const double *xy, size_t n)
{
    double bb[4] = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (size_t i = 0; i < 4 * n; i += 2) {
        bb[0] = min2(bb[0], xy[i]), bb[1] = min2(bb[1], xy[i + 1]);
        bb[2] = max2(bb[2], xy[i]), bb[3] = max2(bb[3], xy[i + 1]);
    }
    f->ix0 = (long)floor(bb[0] / f->cell) - 2, f->iy0 = (long)floor(bb[1] / f->cell) - 2;
    double w_cells = floor(bb[2] / f->cell) + 3 - (double)f->ix0;
    double h_cells = floor(bb[3] / f->cell) + 3 - (double)f->iy0;
    if (!(w_cells * h_cells <= MAX_CELLS))
        return SITU_ELIMIT;
    f->w = (size_t)w_cells, f->h = (size_t)h_cells;
    return 0;
}

static void mark_around(const frame *f, unsigned char *cells, long cx, long cy)
{
    unsigned char *c = cells + (size_t)(cy - 1) * f->w + (size_t)(cx - 1);
    for (int dy = 0; dy < 3; dy++, c += f->w)
        c[0] = c[1] = c[2] = C_IN;
}

/* Puts in the set every cell the segment (x0, y0)-(x1, y1) (metres) passes
 * through, and their neighbours: a grid walk (Amanatides and Woo), which
 * takes both cells where it passes a corner exactly. */
static void mark_segment(const frame *f, unsigned char *cells, double x0, double y0, double x1,
                         double y1)
{
    double gx = x0 / f->cell - (double)f->ix0, gy = y0 / f->cell - (double)f->iy0;
    double dx = x1 / f->cell - (double)f->ix0 - gx, dy = y1 / f->cell - (double)f->iy0 - gy;
    long cx = (long)floor(gx), cy = (long)floor(gy);
    long ex = (long)floor(gx + dx), ey = (long)floor(gy + dy);
    long sx = ex > cx ? 1 : -1, sy = ey > cy ? 1 : -1;
    double tdx = dx != 0 ? fabs(1 / dx) : INFINITY, tdy = dy != 0 ? fabs(1 / dy) : INFINITY;
    double tx = dx > 0 ? ((double)cx + 1 - gx) * tdx : dx < 0 ? (gx - (double)cx) * tdx : INFINITY;
    double ty = dy > 0 ? ((double)cy + 1 - gy) * tdy : dy < 0 ? (gy - (double)cy) * tdy : INFINITY;
    mark_around(f, cells, cx, cy);
    while (cx != ex || cy != ey) { /* each step moves one axis towards the end cell */
        if (cy == ey || (cx != ex && tx < ty))
            cx += sx, tx += tdx;
        else
            cy += sy, ty += tdy;
        mark_around(f, cells, cx, cy);
    }
}

/* One ring of the outline: vertices [v0, v0 + n) of the trace's list (grid
 * corners, not closed), twice its signed area in cells, its part. */
typedef struct ring {
    size_t v0, n;
    int64_t area2;
    uint32_t part;
} ring;

/* A corner where two cells of the set meet diagonally, passed at path[at]. */
typedef struct saddle {
    long x, y;
    size_t at;
} saddle;

typedef struct trace {
    const frame *f;
    unsigned char *cells;
    uint32_t *part; /* per cell of the set: its part */
    uint32_t nparts;
    int32_t *path;         /* the ring being walked: x, y pairs */
    size_t npath, cappath; /* in pairs */
    saddle *sad;           /* the saddles it passed once */
    size_t nsad, capsad;
    int32_t *xy;       /* the rings' vertices: x, y pairs */
    size_t nxy, capxy; /* in pairs */
    ring *rings;
    size_t nrings, caprings;
} trace;

/* Labels the set's 4-connected parts (t->part, t->nparts); returns 0 or
 * SITU_ENOMEM. */
static int label_parts(trace *t)
{
    size_t w = t->f->w, ncells = w * t->f->h, *stack = NULL, nstack = 0, capstack = 0;
    const long step[4] = {1, (long)w, -1, -(long)w};
    for (size_t c = 0; c < ncells; c++) {
        if (!(t->cells[c] & C_IN) || t->part[c] != UINT32_MAX)
            continue;
        uint32_t p = t->nparts++;
        t->part[c] = p;
        if (situ_array_grow((void **)&stack, &capstack, nstack, 1, sizeof *stack) < 0)
            goto nomem;
        stack[nstack++] = c;
        while (nstack) {
            size_t u = stack[--nstack];
            for (int d = 0; d < 4; d++) {
                size_t v = (size_t)((long)u + step[d]); /* the set is off the border */
                if (!(t->cells[v] & C_IN) || t->part[v] != UINT32_MAX)
                    continue;
                t->part[v] = p;
                if (situ_array_grow((void **)&stack, &capstack, nstack, 1, sizeof *stack) < 0)
                    goto nomem;
                stack[nstack++] = v;
            }
        }
    }
    free(stack);
    return 0;
nomem:
    free(stack);
    return SITU_ENOMEM;
}

static int path_push(trace *t, long x, long y)
{
    if (situ_array_grow((void **)&t->path, &t->cappath, t->npath, 1, 2 * sizeof *t->path) < 0)
        return SITU_ENOMEM;
    t->path[2 * t->npath] = (int32_t)x, t->path[2 * t->npath + 1] = (int32_t)y;
    t->npath++;
    return 0;
}

/* Moves path[from, npath) into a new ring of part p (the path keeps
 * [0, from)). */
static int ring_emit(trace *t, size_t from, uint32_t p)
{
    size_t n = t->npath - from;
    if (situ_array_grow((void **)&t->xy, &t->capxy, t->nxy, n, 2 * sizeof *t->xy) < 0 ||
        situ_array_grow((void **)&t->rings, &t->caprings, t->nrings, 1, sizeof *t->rings) < 0)
        return SITU_ENOMEM;
    const int32_t *v = t->path + 2 * from;
    int64_t a2 = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = i + 1 < n ? i + 1 : 0;
        a2 += (int64_t)v[2 * i] * v[2 * j + 1] - (int64_t)v[2 * j] * v[2 * i + 1];
    }
    memcpy(t->xy + 2 * t->nxy, v, n * 2 * sizeof *v);
    t->rings[t->nrings++] = (ring){t->nxy, n, a2, p};
    t->nxy += n;
    t->npath = from;
    return 0;
}

/* At saddle (x, y), passed now at path[npath - 1]: the second time, the
 * loop since the first is cut off into a ring of its own. */
static int saddle_pass(trace *t, long x, long y, uint32_t p)
{
    for (size_t i = 0; i < t->nsad; i++)
        if (t->sad[i].x == x && t->sad[i].y == y) {
            size_t at = t->sad[i].at;
            t->sad[i] = t->sad[--t->nsad];
            /* the loop is path[at, npath - 1), back at (x, y); the path
             * keeps path[at], (x, y), as the corner it turns now */
            t->npath--;
            int rc = ring_emit(t, at, p);
            t->npath++;
            return rc;
        }
    if (situ_array_grow((void **)&t->sad, &t->capsad, t->nsad, 1, sizeof *t->sad) < 0)
        return SITU_ENOMEM;
    t->sad[t->nsad++] = (saddle){x, y, t->npath - 1};
    return 0;
}

/* Walks the ring through side d0 of cell (cx0, cy0) (a side not walked yet
 * between the set and a cell outside it), the set on its left, keeping only
 * the corners where it turns; returns 0 or SITU_ENOMEM. */
static int walk_ring(trace *t, long cx0, long cy0, int d0)
{
    const long w = (long)t->f->w;
    unsigned char *cells = t->cells;
    uint32_t p = t->part[cy0 * w + cx0];
    long cx = cx0, cy = cy0;
    int d = d0;
    t->npath = t->nsad = 0;
    if (path_push(t, cx + CX[d], cy + CY[d]) < 0)
        return SITU_ENOMEM;
    cells[cy * w + cx] |= (unsigned char)C_WALKED(d);
    for (;;) {
        /* at the side's end: turn left if the cell ahead on the left is
         * out, go on if only the one ahead on the right is, else turn right */
        long vx = cx + CX[(d + 1) & 3], vy = cy + CY[(d + 1) & 3];
        long alx = cx + DX[d], aly = cy + DY[d];
        int r = (d + 3) & 3, nd, diag = 0;
        if (!(cells[aly * w + alx] & C_IN)) {
            nd = (d + 1) & 3;
            diag = cells[(aly + DY[r]) * w + alx + DX[r]] & C_IN;
        } else if (!(cells[(aly + DY[r]) * w + alx + DX[r]] & C_IN)) {
            nd = d, cx = alx, cy = aly;
        } else {
            nd = r, cx = alx + DX[r], cy = aly + DY[r];
        }
        if (cx == cx0 && cy == cy0 && nd == d0)
            break;
        if (nd != d && path_push(t, vx, vy) < 0)
            return SITU_ENOMEM;
        if (diag && saddle_pass(t, vx, vy, p) < 0)
            return SITU_ENOMEM;
        cells[cy * w + cx] |= (unsigned char)C_WALKED(nd);
        d = nd;
    }
    /* back at the start corner path[0]: it may have been a saddle passed
     * once on the way (a loop to cut), and it is a corner only if the ring
     * turns there */
    long x0 = t->path[0], y0 = t->path[1];
    for (size_t i = 0; i < t->nsad; i++)
        if (t->sad[i].x == x0 && t->sad[i].y == y0 && ring_emit(t, t->sad[i].at, p) < 0)
            return SITU_ENOMEM;
    size_t from = d == d0 && t->npath > 1 ? 1 : 0;
    return ring_emit(t, from, p);
}

/* Traces every ring of the set's outline. */
static int trace_rings(trace *t)
{
    const long w = (long)t->f->w, h = (long)t->f->h;
    static const long nb[4][2] = {{0, -1}, {1, 0}, {0, 1}, {-1, 0}}; /* across side d */
    for (long cy = 1; cy < h - 1; cy++)
        for (long cx = 1; cx < w - 1; cx++) {
            unsigned char c = t->cells[cy * w + cx];
            if (!(c & C_IN))
                continue;
            for (int d = 0; d < 4; d++)
                if (!(c & C_WALKED(d)) && !(t->cells[(cy + nb[d][1]) * w + cx + nb[d][0]] & C_IN)) {
                    if (walk_ring(t, cx, cy, d) < 0)
                        return SITU_ENOMEM;
                    c = t->cells[cy * w + cx];
                }
        }
    return 0;
}

static GEOSGeometry *ring_geom(GEOSContextHandle_t h, const trace *t, const ring *r, double *buf)
{
    const frame *f = t->f;
    for (size_t i = 0; i <= r->n; i++) {
        const int32_t *v = t->xy + 2 * (r->v0 + (i < r->n ? i : 0));
        buf[2 * i] = f->lon0 + (double)(f->ix0 + v[0]) * f->cell / f->kx;
        buf[2 * i + 1] = f->lat0 + (double)(f->iy0 + v[1]) * f->cell / f->ky;
    }
    GEOSCoordSequence *cs = GEOSCoordSeq_copyFromBuffer_r(h, buf, (unsigned)r->n + 1, 0, 0);
    return cs ? GEOSGeom_createLinearRing_r(h, cs) : NULL;
}

/* Rings by part, the shell (anticlockwise) first. */
static int ring_order(const void *pa, const void *pb)
{
    const ring *a = pa, *b = pb;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    return (b->area2 > 0) - (a->area2 > 0);
}

/* The parts' polygons, from rings sorted by ring_order (one shell per part,
 * checked): a Polygon when there is one part, else a MultiPolygon. NULL when
 * GEOS fails or the rings are not one shell per part. */
static GEOSGeometry *assemble(GEOSContextHandle_t h, trace *t)
{
    size_t maxn = 0;
    for (size_t i = 0; i < t->nrings; i++)
        maxn = t->rings[i].n > maxn ? t->rings[i].n : maxn;
    double *buf = malloc(2 * (maxn + 1) * sizeof *buf);
    GEOSGeometry **polys = calloc(t->nparts, sizeof *polys), **holes = NULL;
    size_t npolys = 0, i = 0;
    if (!buf || !polys)
        goto fail;
    while (i < t->nrings) {
        size_t j = i + 1;
        while (j < t->nrings && t->rings[j].part == t->rings[i].part)
            j++;
        if (t->rings[i].area2 <= 0 || (j > i + 1 && t->rings[i + 1].area2 > 0) ||
            npolys == t->nparts)
            goto fail; /* not one shell */
        GEOSGeometry *shell = ring_geom(h, t, &t->rings[i], buf);
        holes = malloc((j - i) * sizeof *holes);
        size_t nh = 0;
        if (!shell || !holes) {
            GEOSGeom_destroy_r(h, shell);
            goto fail;
        }
        for (size_t k = i + 1; k < j; k++, nh++)
            if (!(holes[nh] = ring_geom(h, t, &t->rings[k], buf))) {
                GEOSGeom_destroy_r(h, shell);
                while (nh)
                    GEOSGeom_destroy_r(h, holes[--nh]);
                goto fail;
            }
        if (!(polys[npolys] = GEOSGeom_createPolygon_r(h, shell, holes, (unsigned)nh)))
            goto fail; /* GEOS destroyed shell and holes */
        npolys++;
        free(holes);
        holes = NULL;
        i = j;
    }
    GEOSGeometry *out =
        npolys == 1 ? polys[0]
                    : GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, (unsigned)npolys);
    if (!out)
        goto fail;
    free(polys);
    free(buf);
    return out;
fail:
    while (polys && npolys)
        GEOSGeom_destroy_r(h, polys[--npolys]);
    free(polys);
    free(holes);
    free(buf);
    return NULL;
}

static void trace_dispose(trace *t)
{
    free(t->cells);
    free(t->part);
    free(t->path);
    free(t->sad);
    free(t->xy);
    free(t->rings);
}

/* See roads.h: the pieces' cells of side buffer_m, dilated by one cell. */
int situ_roads_reach_polygon(const situ_roads_graph *g, GEOSContextHandle_t h,
                             const situ_roads_piece *pieces, size_t n, double buffer_m,
                             GEOSGeometry **out_poly, situ_err *err)
{
    frame f;
    trace t = {.f = &f};
    double *xy = NULL;
    if (!(buffer_m >= 1) || n == 0)
        return situ_err_set(err, SITU_EINVAL, "reach: buffer_m >= 1 and some pieces needed");
    frame_init(&f, g, pieces, buffer_m);
    if (!(xy = malloc(4 * n * sizeof *xy)))
        return situ_err_set(err, SITU_ENOMEM, "reach: out of memory");
    for (size_t i = 0; i < n; i++)
        piece_xy(g, &f, &pieces[i], xy + 4 * i);
    if (frame_grid(&f, xy, n) < 0) {
        free(xy);
        return situ_err_set(err, SITU_ELIMIT, "reach: the area is too large for %.0f m cells",
                            buffer_m);
    }
    size_t ncells = f.w * f.h, nin = 0;
    t.cells = calloc(ncells, 1);
    t.part = malloc(ncells * sizeof *t.part);
    if (!t.cells || !t.part)
        goto nomem;
    memset(t.part, 0xff, ncells * sizeof *t.part);
    for (size_t i = 0; i < 4 * n; i += 4)
        mark_segment(&f, t.cells, xy[i], xy[i + 1], xy[i + 2], xy[i + 3]);
    free(xy);
    xy = NULL;
    if (label_parts(&t) < 0 || trace_rings(&t) < 0)
        goto nomem;
    int64_t a2 = 0;
    for (size_t i = 0; i < ncells; i++)
        nin += t.cells[i] & C_IN;
    for (size_t i = 0; i < t.nrings; i++)
        a2 += t.rings[i].area2;
    qsort(t.rings, t.nrings, sizeof *t.rings, ring_order);
    GEOSGeometry *poly = a2 == 2 * (int64_t)nin ? assemble(h, &t) : NULL;
    trace_dispose(&t);
    if (!poly)
        return situ_err_set(err, SITU_EGEOM, "reach: the outline of the reached cells failed");
    *out_poly = poly;
    return 0;
nomem:
    free(xy);
    trace_dispose(&t);
    return situ_err_set(err, SITU_ENOMEM, "reach: out of memory");
}

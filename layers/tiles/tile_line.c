/*
 * tile_line.c: what one line feature (a road) becomes in a tile. Owns
 * taking each part's vertices at the zoom's tolerance (their order kept),
 * clipping a part that crosses the buffered tile into the runs inside it
 * (tile_clip.c: a line leaving and re-entering makes several parts),
 * snapping to integers and dropping repeated points and parts that snapped
 * to a single point. Whether the feature is drawn at this zoom at all (its
 * class) is tile.c's. Entry point: situ__tile_line_feature.
 */
#include <math.h>
#include <string.h>

#include "tile_enc.h"

/* The points of line part ll[0..n) (lon/lat, projected here) with
 * importance above tol2, in tile units and in their order, into out (2n).
 * The first and last points are anchors (INFINITY), so they always stay.
 * Returns the count. */
static size_t take_line(const double *ll, const float *imp, size_t n, float tol2, const tile_tf *tf,
                        double *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(imp[i] > tol2))
            continue;
        double mx, my;
        tile_project_memo(tf->ymemo, ll[2 * i], ll[2 * i + 1], &mx, &my);
        out[2 * k] = mx * tf->scale - tf->ox;
        out[2 * k + 1] = my * tf->scale - tf->oy;
        k++;
    }
    return k;
}

/* Snaps run xy[0..n) to integers, drops repeated points, and writes it as
 * one linestring of the feature when at least two points are left. Returns
 * 1 when written. */
static int write_run(enc *e, const double *xy, size_t n)
{
    scratch *s = e->s;
    if (situ__tile_ia_room(s, n)) {
        s->oom = 1;
        return 0;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x = tile_round(xy[2 * i]), y = tile_round(xy[2 * i + 1]);
        if (m && s->ia[2 * m - 2] == x && s->ia[2 * m - 1] == y)
            continue;
        s->ia[2 * m] = x, s->ia[2 * m + 1] = y;
        m++;
    }
    if (m < 2)
        return 0; /* degenerate at this zoom */
    situ_mvt_geom_line(&s->geom, s->ia, m);
    e->st.vertices += m;
    return 1;
}

/* Writes part r (a ring of the snapshot: the open line) of the current
 * feature; returns the linestrings written. */
static int line_part(enc *e, uint32_t r)
{
    scratch *s = e->s;
    const situ_ring *ring = &e->c->rings[r];
    const double *rb = e->src->rbox + 4 * (size_t)r;
    const tile_tf *tf = &e->tf;
    double x0 = rb[0] * tf->scale - tf->ox, x1 = rb[2] * tf->scale - tf->ox;
    double y0 = rb[1] * tf->scale - tf->oy, y1 = rb[3] * tf->scale - tf->oy;
    if (x1 < tf->lo || x0 > tf->hi || y1 < tf->lo || y0 > tf->hi)
        return 0;
    situ__rings_reset(&s->in);
    if (situ__rings_room(&s->in, ring->n, 1)) {
        s->oom = 1;
        return 0;
    }
    size_t k = take_line(e->c->xy + 2 * (size_t)ring->off, e->src->imp + ring->off, ring->n,
                         e->tol2, tf, s->in.xy);
    if (x0 >= tf->lo && x1 <= tf->hi && y0 >= tf->lo && y1 <= tf->hi)
        return write_run(e, s->in.xy, k); /* wholly inside: no clipping */
    situ__rings_reset(&s->out);
    if (situ__line_clip(s->in.xy, k, tf->lo, tf->hi, &s->out)) {
        s->oom = 1;
        return 0;
    }
    int n = 0;
    for (size_t i = 0; i < s->out.nrings; i++)
        n += write_run(e, s->out.xy + 2 * (size_t)s->out.off[i], s->out.off[i + 1] - s->out.off[i]);
    return n;
}

void situ__tile_line_feature(enc *e, uint32_t fi)
{
    const situ_feature *f = &e->c->feats[fi];
    situ_mvt_geom_reset(&e->s->geom);
    int parts = 0;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys && !e->s->oom; p++)
        parts += line_part(e, e->c->polys[p].ring0);
    if (parts) {
        situ__tile_emit_feature(e, fi, SITU_MVT_LINESTRING);
        e->st.lines++;
    }
}

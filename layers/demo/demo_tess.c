/*
 * demo_tess.c: the synthetic township polygons of the demo. Counties are
 * power-diagram regions around their centres, calibrated to their real
 * areas; each county's seat township sits at the seat, its sub-districts
 * ring it and its towns and townships spread over the region; Lloyd
 * relaxation evens the rural ones out. A fine Voronoi diagram, each cell
 * given to the nearest seed, then makes jagged borders that still tile the
 * outline exactly, because neighbours share the edges of one diagram.
 * Works in the km frame of demo_int.h. Entry point: situ__demo_tess_build.
 */
#include "demo_int.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLE_KM 1.5 /* spacing of the samples that measure county regions */
#define FINE_KM 1.5   /* spacing of the fine diagram in the country */
#define URBAN_KM 0.55 /* ... and within URBAN_R_KM of a seat or sub-district */
#define URBAN_R_KM 4.0
#define LLOYD_STEPS 3

typedef struct tess {
    situ__demo_city *c;
    GEOSContextHandle_t gh;
    situ__demo_rng rng;
    GEOSGeometry *outline; /* km frame */
    const GEOSPreparedGeometry *prep;
    double minx, miny, maxx, maxy;
    int ns; /* samples inside the outline, sorted by county */
    double *sx, *sy;
    int *first, *count; /* each county's run of samples */
    double *cx, *cy, *cw, *target;
    double *tx, *ty; /* township seeds */
    int *placed, nplaced;
    unsigned char *fixed;
} tess;

static int to_km_cb(double *x, double *y, void *ud)
{
    (void)ud;
    *x = (*x - SITU_DEMO_LON0) * SITU_DEMO_KM_PER_DEG_LON;
    *y = (*y - SITU_DEMO_LAT0) * SITU_DEMO_KM_PER_DEG_LAT;
    return 1;
}

static int to_ll_cb(double *x, double *y, void *ud)
{
    (void)ud;
    *x = SITU_DEMO_LON0 + *x / SITU_DEMO_KM_PER_DEG_LON;
    *y = SITU_DEMO_LAT0 + *y / SITU_DEMO_KM_PER_DEG_LAT;
    return 1;
}

static int inside(const tess *t, double x, double y)
{
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(t->gh, x, y);
    int in = pt && GEOSPreparedContains_r(t->gh, t->prep, pt) == 1;
    GEOSGeom_destroy_r(t->gh, pt);
    return in;
}

static int county_of(const tess *t, double x, double y)
{
    int best = 0;
    double bd = HUGE_VAL;
    for (int k = 0; k < t->c->ncounties; k++) {
        double d = (x - t->cx[k]) * (x - t->cx[k]) + (y - t->cy[k]) * (y - t->cy[k]) - t->cw[k];
        if (d < bd)
            bd = d, best = k;
    }
    return best;
}

/* ---- county regions ------------------------------------------------------ */

static int make_samples(tess *t)
{
    int nx = (int)((t->maxx - t->minx) / SAMPLE_KM) + 1;
    int ny = (int)((t->maxy - t->miny) / SAMPLE_KM) + 1;
    t->sx = malloc((size_t)nx * (size_t)ny * sizeof(double));
    t->sy = malloc((size_t)nx * (size_t)ny * sizeof(double));
    if (!t->sx || !t->sy)
        return SITU_ENOMEM;
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            double x = t->minx + (i + 0.5) * SAMPLE_KM, y = t->miny + (j + 0.5) * SAMPLE_KM;
            if (inside(t, x, y))
                t->sx[t->ns] = x, t->sy[t->ns++] = y;
        }
    return t->ns > 0 ? 0 : SITU_EGEOM;
}

/* Counts the samples of each county's region into t->count. */
static void count_samples(tess *t)
{
    memset(t->count, 0, (size_t)t->c->ncounties * sizeof(int));
    for (int s = 0; s < t->ns; s++)
        t->count[county_of(t, t->sx[s], t->sy[s])]++;
}

/* Moves the power weights until each county's region holds its share of
 * the outline. */
static void calibrate(tess *t)
{
    int nk = t->c->ncounties;
    double sum = 0, total = 0;
    GEOSArea_r(t->gh, t->outline, &total);
    for (int k = 0; k < nk; k++)
        sum += t->c->counties[k].area_km2;
    for (int k = 0; k < nk; k++) {
        t->target[k] = t->c->counties[k].area_km2 * total / sum;
        t->cw[k] = t->target[k] / M_PI;
    }
    for (int it = 0; it < 120; it++) {
        count_samples(t);
        for (int k = 0; k < nk; k++)
            t->cw[k] += 0.5 * (t->target[k] - t->count[k] * SAMPLE_KM * SAMPLE_KM);
    }
}

/* Sorts the samples by county: county k's are first[k] .. + count[k]. */
static int sort_samples(tess *t)
{
    int nk = t->c->ncounties, rc = SITU_ENOMEM;
    double *x = malloc((size_t)t->ns * sizeof *x), *y = malloc((size_t)t->ns * sizeof *y);
    int *fill = calloc((size_t)nk, sizeof *fill);
    if (x && y && fill) {
        count_samples(t);
        for (int k = 0, at = 0; k < nk; at += t->count[k++])
            t->first[k] = at;
        for (int s = 0; s < t->ns; s++) {
            int k = county_of(t, t->sx[s], t->sy[s]), at = t->first[k] + fill[k]++;
            x[at] = t->sx[s], y[at] = t->sy[s];
        }
        double *ox = t->sx, *oy = t->sy;
        t->sx = x, t->sy = y;
        x = ox, y = oy;
        rc = 0;
    }
    free(x), free(y), free(fill);
    return rc;
}

/* ---- seeds ------------------------------------------------------------------ */

static int try_seed(tess *t, int i, double x, double y, double dmin)
{
    if (!inside(t, x, y))
        return 0;
    for (int j = 0; j < t->nplaced; j++) {
        int p = t->placed[j];
        if ((t->tx[p] - x) * (t->tx[p] - x) + (t->ty[p] - y) * (t->ty[p] - y) < dmin * dmin)
            return 0;
    }
    t->tx[i] = x, t->ty[i] = y;
    t->placed[t->nplaced++] = i;
    return 1;
}

/* Sub-districts ring the seat, 1.5 km or more from each other. */
static void seed_subdistrict(tess *t, int i, double sx, double sy, int nsub)
{
    double dmin = 1.5, rmax = 2.2 + 0.9 * sqrt(nsub);
    for (int a = 0; a < 600; a++, dmin *= 0.99) {
        double rho = situ__demo_rng_range(&t->rng, 1.4, rmax),
               th = situ__demo_rng_range(&t->rng, 0, 2 * M_PI);
        if (try_seed(t, i, sx + rho * cos(th), sy + rho * sin(th), dmin))
            return;
    }
    try_seed(t, i, sx + 0.5, sy + 0.5, 0);
}

/* Towns and townships spread over the county's region. */
static void seed_rural(tess *t, int i, int k, double dmin)
{
    for (int a = 0; t->count[k] > 0 && a < 600; a++, dmin *= 0.98) {
        int s = t->first[k] + situ__demo_rng_int(&t->rng, 0, t->count[k] - 1);
        double x = t->sx[s] + situ__demo_rng_range(&t->rng, -0.5, 0.5) * SAMPLE_KM;
        double y = t->sy[s] + situ__demo_rng_range(&t->rng, -0.5, 0.5) * SAMPLE_KM;
        if (try_seed(t, i, x, y, dmin))
            return;
    }
    try_seed(t, i, t->cx[k], t->cy[k], 0);
}

static int seed_county(tess *t, int k)
{
    const situ__demo_county *cty = &t->c->counties[k];
    double sx = cty->seat_lon, sy = cty->seat_lat;
    to_km_cb(&sx, &sy, NULL);
    if (!try_seed(t, cty->seat_township, sx, sy, 0))
        return SITU_EFORMAT; /* the seat is outside the outline */
    t->fixed[cty->seat_township] = 1;
    int nsub = 0, n = 0;
    for (int i = 0; i < t->c->ntownships; i++)
        if (t->c->townships[i].county == k) {
            n++;
            nsub += t->c->townships[i].kind == SITU_DEMO_SUBDISTRICT;
        }
    double dmin = 0.6 * sqrt(t->target[k] / n);
    for (int i = 0; i < t->c->ntownships; i++) {
        const situ__demo_township *tw = &t->c->townships[i];
        if (tw->county != k || i == cty->seat_township)
            continue;
        if (tw->kind == SITU_DEMO_SUBDISTRICT) {
            seed_subdistrict(t, i, sx, sy, nsub);
            t->fixed[i] = 1;
        } else {
            seed_rural(t, i, k, dmin);
        }
    }
    return 0;
}

/* ---- Voronoi helpers -------------------------------------------------------- */

static GEOSGeometry *multipoint(GEOSContextHandle_t gh, const double *x, const double *y, int n)
{
    GEOSGeometry **pts = malloc((size_t)n * sizeof *pts);
    if (!pts)
        return NULL;
    for (int i = 0; i < n; i++)
        pts[i] = GEOSGeom_createPointFromXY_r(gh, x[i], y[i]);
    GEOSGeometry *mp = GEOSGeom_createCollection_r(gh, GEOS_MULTIPOINT, pts, (unsigned)n);
    free(pts);
    return mp;
}

static GEOSGeometry *voronoi(const tess *t, const double *x, const double *y, int n)
{
    GEOSGeometry *mp = multipoint(t->gh, x, y, n);
    GEOSGeometry *env =
        GEOSGeom_createRectangle_r(t->gh, t->minx - 20, t->miny - 20, t->maxx + 20, t->maxy + 20);
    GEOSGeometry *vor = mp && env ? GEOSVoronoiDiagram_r(t->gh, mp, env, 0, 0) : NULL;
    GEOSGeom_destroy_r(t->gh, mp);
    GEOSGeom_destroy_r(t->gh, env);
    return vor;
}

static int nearest_seed(const tess *t, double x, double y)
{
    int best = 0;
    double bd = HUGE_VAL;
    for (int i = 0; i < t->c->ntownships; i++) {
        double d = (t->tx[i] - x) * (t->tx[i] - x) + (t->ty[i] - y) * (t->ty[i] - y);
        if (d < bd)
            bd = d, best = i;
    }
    return best;
}

/* Centroid of g, or a point on its surface when the centroid is outside. */
static int interior_xy(const tess *t, const GEOSGeometry *g, double *x, double *y)
{
    GEOSGeometry *p = GEOSGetCentroid_r(t->gh, g);
    int ok = p && GEOSGeomGetX_r(t->gh, p, x) && GEOSGeomGetY_r(t->gh, p, y);
    GEOSGeom_destroy_r(t->gh, p);
    if (ok && inside(t, *x, *y))
        return 1;
    p = GEOSPointOnSurface_r(t->gh, g);
    ok = p && GEOSGeomGetX_r(t->gh, p, x) && GEOSGeomGetY_r(t->gh, p, y);
    GEOSGeom_destroy_r(t->gh, p);
    return ok;
}

/* One Lloyd step: every movable seed goes to the centroid of its cell. A
 * Voronoi cell is convex, so its centroid's nearest seed is its own. */
static int lloyd_step(tess *t)
{
    int n = t->c->ntownships;
    GEOSGeometry *vor = voronoi(t, t->tx, t->ty, n);
    if (!vor)
        return SITU_EGEOM;
    double *nx = malloc((size_t)n * sizeof *nx), *ny = malloc((size_t)n * sizeof *ny);
    for (int i = 0; nx && ny && i < n; i++)
        nx[i] = t->tx[i], ny[i] = t->ty[i];
    for (int j = 0; nx && ny && j < GEOSGetNumGeometries_r(t->gh, vor); j++) {
        const GEOSGeometry *cell = GEOSGetGeometryN_r(t->gh, vor, j);
        double x, y;
        if (!interior_xy(t, cell, &x, &y))
            continue;
        int i = nearest_seed(t, x, y);
        GEOSGeometry *clip = t->fixed[i] ? NULL : GEOSIntersection_r(t->gh, cell, t->outline);
        if (clip && !GEOSisEmpty_r(t->gh, clip) && interior_xy(t, clip, &x, &y) && inside(t, x, y))
            nx[i] = x, ny[i] = y;
        GEOSGeom_destroy_r(t->gh, clip);
    }
    GEOSGeom_destroy_r(t->gh, vor);
    int rc = nx && ny ? 0 : SITU_ENOMEM;
    for (int i = 0; !rc && i < n; i++)
        t->tx[i] = nx[i], t->ty[i] = ny[i];
    free(nx), free(ny);
    return rc;
}

/* ---- the fine diagram -------------------------------------------------------- */

typedef struct pts {
    double *x, *y;
    int n, cap;
} pts;

static int pts_add(pts *p, double x, double y)
{
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 4096;
        double *nx = realloc(p->x, (size_t)cap * sizeof *nx);
        if (nx)
            p->x = nx;
        double *ny = realloc(p->y, (size_t)cap * sizeof *ny);
        if (ny)
            p->y = ny;
        if (!nx || !ny)
            return SITU_ENOMEM;
        p->cap = cap;
    }
    p->x[p->n] = x, p->y[p->n++] = y;
    return 0;
}

/* A jittered grid of spacing d over [x0, x1] x [y0, y1], kept within r of
 * (ox, oy) when r > 0. */
static int jittered(tess *t, pts *p, double x0, double y0, double x1, double y1, double d,
                    double ox, double oy, double r)
{
    int rc = 0;
    for (double y = y0; y < y1 && !rc; y += d)
        for (double x = x0; x < x1 && !rc; x += d) {
            double px = x + situ__demo_rng_range(&t->rng, -0.3, 0.3) * d;
            double py = y + situ__demo_rng_range(&t->rng, -0.3, 0.3) * d;
            if (r <= 0 || hypot(px - ox, py - oy) < r)
                rc = pts_add(p, px, py);
        }
    return rc;
}

static int fine_points(tess *t, pts *p)
{
    int rc = jittered(t, p, t->minx - 4, t->miny - 4, t->maxx + 4, t->maxy + 4, FINE_KM, 0, 0, 0);
    for (int i = 0; !rc && i < t->c->ntownships; i++) {
        const situ__demo_township *tw = &t->c->townships[i];
        int core =
            tw->kind == SITU_DEMO_SUBDISTRICT || t->c->counties[tw->county].seat_township == i;
        double r = URBAN_R_KM;
        if (core)
            rc = jittered(t, p, t->tx[i] - r, t->ty[i] - r, t->tx[i] + r, t->ty[i] + r, URBAN_KM,
                          t->tx[i], t->ty[i], r);
    }
    for (int i = 0; !rc && i < t->c->ntownships; i++)
        rc = pts_add(p, t->tx[i], t->ty[i]);
    return rc;
}

/* Keeps the polygons of g (consumed) as one MultiPolygon. */
static GEOSGeometry *polygons_only(GEOSContextHandle_t gh, GEOSGeometry *g)
{
    if (!g)
        return NULL;
    int type = GEOSGeomTypeId_r(gh, g), n = GEOSGetNumGeometries_r(gh, g), k = 0;
    if (type == GEOS_MULTIPOLYGON)
        return g;
    GEOSGeometry **parts = malloc((size_t)(n > 0 ? n : 1) * sizeof *parts);
    for (int i = 0; parts && i < n; i++) {
        const GEOSGeometry *p = type == GEOS_POLYGON ? g : GEOSGetGeometryN_r(gh, g, i);
        if (GEOSGeomTypeId_r(gh, p) == GEOS_POLYGON && !GEOSisEmpty_r(gh, p))
            parts[k++] = GEOSGeom_clone_r(gh, p);
    }
    GEOSGeometry *mp =
        parts ? GEOSGeom_createCollection_r(gh, GEOS_MULTIPOLYGON, parts, (unsigned)k) : NULL;
    free(parts);
    GEOSGeom_destroy_r(gh, g);
    return mp;
}

/* Township i = the fine cells given to it, in lon/lat, clipped to the
 * outline and snapped to the 1e-7 degree grid the files are written on. */
static GEOSGeometry *township_shape(tess *t, int i, const GEOSGeometry *vor, const int *own)
{
    GEOSContextHandle_t gh = t->gh;
    int ncell = GEOSGetNumGeometries_r(gh, vor), k = 0;
    GEOSGeometry **parts = malloc((size_t)ncell * sizeof *parts);
    for (int j = 0; parts && j < ncell; j++)
        if (own[j] == i)
            parts[k++] = GEOSGeom_clone_r(gh, GEOSGetGeometryN_r(gh, vor, j));
    GEOSGeometry *cells =
        parts ? GEOSGeom_createCollection_r(gh, GEOS_MULTIPOLYGON, parts, (unsigned)k) : NULL;
    free(parts);
    GEOSGeometry *u = cells ? GEOSCoverageUnion_r(gh, cells) : NULL;
    GEOSGeom_destroy_r(gh, cells);
    GEOSGeometry *ll = u ? GEOSGeom_transformXY_r(gh, u, to_ll_cb, NULL) : NULL;
    GEOSGeom_destroy_r(gh, u);
    GEOSGeometry *clip = ll ? GEOSIntersection_r(gh, ll, t->c->outline) : NULL;
    GEOSGeom_destroy_r(gh, ll);
    GEOSGeometry *snap = clip ? GEOSGeom_setPrecision_r(gh, clip, 1e-7, 0) : NULL;
    GEOSGeom_destroy_r(gh, clip);
    return polygons_only(gh, snap);
}

/* The seat is the seed when the polygon holds it, else a point inside. */
static int set_seat(tess *t, situ__demo_township *tw, int i)
{
    double x = t->tx[i], y = t->ty[i];
    to_ll_cb(&x, &y, NULL);
    x = situ__demo_snap(x), y = situ__demo_snap(y);
    for (int attempt = 0; attempt < 2; attempt++) {
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(t->gh, x, y);
        int in = pt && GEOSPreparedContains_r(t->gh, tw->prep, pt) == 1;
        GEOSGeom_destroy_r(t->gh, pt);
        if (in) {
            tw->seat_lon = x, tw->seat_lat = y;
            return 0;
        }
        pt = GEOSPointOnSurface_r(t->gh, tw->geom);
        if (!pt || !GEOSGeomGetX_r(t->gh, pt, &x) || !GEOSGeomGetY_r(t->gh, pt, &y))
            x = tw->minx, y = tw->miny;
        GEOSGeom_destroy_r(t->gh, pt);
        x = situ__demo_snap(x), y = situ__demo_snap(y);
    }
    return SITU_EGEOM;
}

static int finish_township(tess *t, int i, GEOSGeometry *g)
{
    situ__demo_township *tw = &t->c->townships[i];
    tw->geom = g;
    if (!g || GEOSisEmpty_r(t->gh, g) || GEOSisValid_r(t->gh, g) != 1)
        return SITU_EGEOM;
    tw->prep = GEOSPrepare_r(t->gh, g);
    GEOSGeom_getExtent_r(t->gh, g, &tw->minx, &tw->miny, &tw->maxx, &tw->maxy);
    tw->area_km2 = situ__demo_area_km2(t->gh, g, 0);
    return tw->prep ? set_seat(t, tw, i) : SITU_EGEOM;
}

static int build_shapes(tess *t)
{
    pts p = {0};
    int rc = fine_points(t, &p);
    GEOSGeometry *vor = rc ? NULL : voronoi(t, p.x, p.y, p.n);
    free(p.x), free(p.y);
    if (!vor)
        return rc ? rc : SITU_EGEOM;
    int ncell = GEOSGetNumGeometries_r(t->gh, vor);
    int *own = malloc((size_t)ncell * sizeof *own);
    for (int j = 0; own && j < ncell; j++) {
        double x = 0, y = 0;
        GEOSGeometry *cen = GEOSGetCentroid_r(t->gh, GEOSGetGeometryN_r(t->gh, vor, j));
        if (cen)
            GEOSGeomGetX_r(t->gh, cen, &x), GEOSGeomGetY_r(t->gh, cen, &y);
        GEOSGeom_destroy_r(t->gh, cen);
        own[j] = nearest_seed(t, x, y);
    }
    rc = own ? 0 : SITU_ENOMEM;
    for (int i = 0; !rc && i < t->c->ntownships; i++)
        rc = finish_township(t, i, township_shape(t, i, vor, own));
    free(own);
    GEOSGeom_destroy_r(t->gh, vor);
    return rc;
}

/* ---- entry ------------------------------------------------------------------ */

static int tess_alloc(tess *t)
{
    int nk = t->c->ncounties, nt = t->c->ntownships;
    t->first = calloc((size_t)nk, sizeof(int));
    t->count = calloc((size_t)nk, sizeof(int));
    t->cx = calloc((size_t)nk, sizeof(double));
    t->cy = calloc((size_t)nk, sizeof(double));
    t->cw = calloc((size_t)nk, sizeof(double));
    t->target = calloc((size_t)nk, sizeof(double));
    t->tx = calloc((size_t)nt, sizeof(double));
    t->ty = calloc((size_t)nt, sizeof(double));
    t->placed = calloc((size_t)nt, sizeof(int));
    t->fixed = calloc((size_t)nt, 1);
    if (!t->first || !t->count || !t->cx || !t->cy || !t->cw || !t->target || !t->tx || !t->ty ||
        !t->placed || !t->fixed)
        return SITU_ENOMEM;
    for (int k = 0; k < nk; k++) {
        t->cx[k] = t->c->counties[k].center_lon, t->cy[k] = t->c->counties[k].center_lat;
        to_km_cb(&t->cx[k], &t->cy[k], NULL);
    }
    t->outline = GEOSGeom_transformXY_r(t->gh, t->c->outline, to_km_cb, NULL);
    t->prep = t->outline ? GEOSPrepare_r(t->gh, t->outline) : NULL;
    if (!t->prep)
        return SITU_EGEOM;
    GEOSGeom_getExtent_r(t->gh, t->outline, &t->minx, &t->miny, &t->maxx, &t->maxy);
    return 0;
}

static void tess_free(tess *t)
{
    free(t->first), free(t->count), free(t->cx), free(t->cy), free(t->cw), free(t->target);
    free(t->tx), free(t->ty), free(t->placed), free(t->fixed), free(t->sx), free(t->sy);
    GEOSPreparedGeom_destroy_r(t->gh, t->prep);
    GEOSGeom_destroy_r(t->gh, t->outline);
}

int situ__demo_tess_build(situ__demo_city *c, uint64_t seed, situ_err *err)
{
    tess t = {.c = c, .gh = c->gh};
    situ__demo_rng_init(&t.rng, seed, 0x74657373, 0);
    int rc = tess_alloc(&t);
    if (!rc)
        rc = make_samples(&t);
    if (!rc) {
        calibrate(&t);
        rc = sort_samples(&t);
    }
    for (int k = 0; !rc && k < c->ncounties; k++)
        if ((rc = seed_county(&t, k)) == SITU_EFORMAT)
            situ_err_set(err, rc, "the seat of %s is outside yongzhou_outline.wkt",
                         c->counties[k].name);
    for (int s = 0; !rc && s < LLOYD_STEPS; s++)
        rc = lloyd_step(&t);
    if (!rc)
        rc = build_shapes(&t);
    tess_free(&t);
    if (rc == SITU_ENOMEM)
        return situ_err_set(err, rc, "out of memory");
    if (rc == SITU_EGEOM)
        return situ_err_set(err, rc, "township polygons: %s",
                            c->geos_msg[0] ? c->geos_msg : "empty or invalid");
    return rc;
}

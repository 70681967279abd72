/*
 * roads_snap.c: attaching a point to the road network. Owns the nearest
 * point of an edge to a point and the exact nearest open edge (an R-tree
 * search over runs of segments in growing boxes); not the targets' indexes
 * (roads_targets.c). Entry points: situ_roads_snap, situ__edge_nearest,
 * situ__radius_box.
 *
 * The nearest point of a segment is found in the tangent plane at the query
 * point (the foot of the perpendicular, clamped to the segment), then its
 * distance is PROJ's geod_inverse: within 1 km the plane's foot is within a
 * millimetre of the true one, and the distance reported is the geodesic.
 */
#include <math.h>

#include "roads_priv.h"

#define DEG (M_PI / 180.0)
#define WGS84_A 6378137.0
#define WGS84_E2 (0.0066943799901413165)

/* Metres per degree of longitude (kx) and latitude (ky) at lat. */
static void metres_per_deg(double lat, double *kx, double *ky)
{
    double s = sin(lat * DEG), w = 1 - WGS84_E2 * s * s;
    *kx = WGS84_A / sqrt(w) * cos(lat * DEG) * DEG;
    *ky = WGS84_A * (1 - WGS84_E2) / (w * sqrt(w)) * DEG;
}

static double wrap_deg(double d)
{
    return d > 180 ? d - 360 : d < -180 ? d + 360 : d;
}

/* The foot of (lon, lat) on edge e in the tangent plane: its fraction, and
 * the planar distance in metres. */
static double edge_foot(const situ_roads_graph *g, uint32_t e, double lon, double lat, double kx,
                        double ky, double *out_frac)
{
    double ax, ay, bx, by;
    situ__node_xy(g, g->edges[e].a, &ax, &ay);
    situ__node_xy(g, g->edges[e].b, &bx, &by);
    double px = wrap_deg(ax - lon) * kx, py = (ay - lat) * ky;
    double dx = wrap_deg(bx - ax) * kx, dy = (by - ay) * ky;
    double l2 = dx * dx + dy * dy, t = l2 > 0 ? -(px * dx + py * dy) / l2 : 0;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    *out_frac = t;
    return hypot(px + t * dx, py + t * dy);
}

/* The lon/lat of the point at frac along edge e. */
static void edge_point(const situ_roads_graph *g, uint32_t e, double frac, double *x, double *y)
{
    double ax, ay, bx, by;
    situ__node_xy(g, g->edges[e].a, &ax, &ay);
    situ__node_xy(g, g->edges[e].b, &bx, &by);
    *x = ax + frac * wrap_deg(bx - ax);
    *y = ay + frac * (by - ay);
}

/* The geodesic distance from (lon, lat) to edge e's nearest point, whose
 * fraction along e goes to *out_frac. */
double situ__edge_nearest(const situ_roads_graph *g, uint32_t e, double lon, double lat,
                          double *out_frac)
{
    double kx, ky, x, y, s;
    metres_per_deg(lat, &kx, &ky);
    edge_foot(g, e, lon, lat, kx, ky, out_frac);
    edge_point(g, e, *out_frac, &x, &y);
    geod_inverse(&g->geod, lat, lon, y, x, &s, NULL, NULL);
    return s;
}

void situ__radius_box(double lon, double lat, double r, double out_box[4])
{
    /* a degree of latitude is at least 110,574 m, of longitude at least
     * 111,320 cos(lat) m at the box's widest latitude; 1 % spare */
    double dlat = r / 110574.0 * 1.01, top = fmin(fabs(lat) + dlat, 89.9);
    double dlon = fmin(r / (111320.0 * cos(top * DEG)) * 1.01, 180.0);
    out_box[0] = lon - dlon, out_box[1] = lat - dlat;
    out_box[2] = lon + dlon, out_box[3] = lat + dlat;
}

typedef struct snap {
    const situ_roads_graph *g;
    const situ_roads_closures *c;
    double lon, lat, kx, ky;
    double best_m, best_frac; /* geodesic */
    uint32_t best;
} snap;

static int snap_run(void *ctx, uint32_t run)
{
    snap *sn = ctx;
    const situ_roads_graph *g = sn->g;
    for (uint32_t e = g->run0[run]; e < g->run0[run + 1]; e++) {
        double f, x, y, s;
        if (situ__closed(sn->c, e))
            continue;
        /* the plane is within 0.1 % of the geodesic here: skip what cannot win */
        if (edge_foot(g, e, sn->lon, sn->lat, sn->kx, sn->ky, &f) * 0.999 - 0.01 > sn->best_m)
            continue;
        edge_point(g, e, f, &x, &y);
        geod_inverse(&g->geod, sn->lat, sn->lon, y, x, &s, NULL, NULL);
        if (s < sn->best_m || (s == sn->best_m && e < sn->best))
            sn->best_m = s, sn->best_frac = f, sn->best = e;
    }
    return 0;
}

/*
 * Attaches (lon, lat) to the nearest point of the nearest edge open under c
 * (ties: the lower edge index). Searches boxes of 64 m, 128 m, ... up to
 * max_snap_m: once the best edge lies within the box's radius, no edge
 * outside the box can be nearer. Writes *out_place only on success.
 */
int situ_roads_snap(const situ_roads_graph *g, const situ_roads_closures *c, double lon, double lat,
                    double max_snap_m, situ_roads_place *out_place, situ_err *err)
{
    if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
        return situ_err_set(err, SITU_EINVAL, "lon, lat: not a WGS84 point");
    if (!(max_snap_m >= 0 && max_snap_m <= 1e5))
        return situ_err_set(err, SITU_EINVAL, "max_snap_m: must be between 0 and 100000");
    snap sn = {g, c ? c : g->base, lon, lat, 0, 0, INFINITY, 0, SITU__NONE};
    metres_per_deg(lat, &sn.kx, &sn.ky);
    for (double r = fmin(64.0, max_snap_m);; r = fmin(2 * r, max_snap_m)) {
        double box[4];
        situ__radius_box(lon, lat, r, box);
        situ_rtree_search(g->runs, box[0], box[1], box[2], box[3], snap_run, &sn);
        if (sn.best_m <= r || r >= max_snap_m)
            break;
    }
    if (!(sn.best_m <= max_snap_m))
        return situ_err_set(err, SITU_ENOTFOUND, "no open road within %.0f m", max_snap_m);
    situ_roads_place p = {sn.best, sn.best_frac, 0, 0, sn.best_m};
    edge_point(g, sn.best, sn.best_frac, &p.lon, &p.lat);
    *out_place = p;
    return 0;
}

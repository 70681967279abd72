/*
 * nearest_priv.h: private to layers/nearest/nearest*.c. The layout of a
 * situ_nearest_index, the geodesic helpers (ECEF, lower bounds, distance to a
 * polygon) and the canonical text of filter values, shared by the index
 * builder (nearest_index.c), the search (nearest.c), the parser
 * (nearest_query.c) and the writer (nearest_json.c).
 */
#ifndef SITU_NEAREST_PRIV_H
#define SITU_NEAREST_PRIV_H

#include <geodesic.h>
#include <math.h>
#include <stdint.h>

#include "situ/heap.h"
#include "situ/nearest.h"

#define SITU__WGS84_A 6378137.0
#define SITU__WGS84_F (1 / 298.257223563)
#define SITU__NOCODE 0xFFFFu /* a feature whose filter field is NULL */

/* The dictionary of one SITU_FF_FILTER field: its distinct canonical values,
 * sorted; each feature's code; per R-tree node a mask of the codes below it
 * (bit min(code, 63)). */
typedef struct situ__span {
    uint32_t first, n;
} situ__span;

typedef struct situ__lheld {
    int item;
    double quantity;
} situ__lheld;

typedef struct situ__ffield {
    int field;
    int ncodes;
    char **dict;    /* ncodes canonical strings, sorted (strcmp) */
    uint16_t *code; /* per leaf slot, SITU__NOCODE when NULL */
    uint64_t *mask; /* per node */
} situ__ffield;

struct situ_nearest_index {
    situ_coll *c;
    const situ_rtree *t; /* c->index */
    int refs;
    int points; /* 1 for point collections */
    struct geod_geodesic g;
    double *leaf; /* per leaf slot: points xyz (3), polygons 3-D box (6) */
    double *node; /* per node (slot - n): 3-D box min xyz, max xyz */
    int nff;
    situ__ffield ff[16];
    int nitems;            /* resources: the vocabulary size, else 0 */
    float *item_max;       /* [item * nnodes + node]: largest quantity, rounded up */
    uint64_t *leaf_items;  /* per leaf slot: bit i when item i (< 64) is held above 0 */
    situ__span *leaf_held; /* per leaf slot: its entries in lheld */
    situ__lheld *lheld;    /* the items held, in leaf slot order */
    int reach_field;       /* impact_radius_m, or -1 */
    float *reach_max;      /* per node: largest impact radius, rounded up */
    size_t nnodes;
};

/* What lower bounds subtract for rounding (metres); see nearest_geo.c. */
#define SITU__LB_MARGIN 1e-4
/* Widest certified interval whose estimate may stand in for geod_inverse's
 * distance in an answer (metres); wider ones serve ranking only. */
#define SITU__FAST_WIDTH 5e-4

/* The query point, ready for lower bounds and chord intervals. */
typedef struct situ__qpoint {
    double lon, lat;
    double p[3];    /* ECEF, metres */
    double u[3];    /* on the unit "reduced-latitude" sphere: (x/a, y/a, z/b) */
    double east[3]; /* local unit vectors at p */
    double north[3];
    double up[3];        /* the ellipsoid's normal at p */
    double inv_m, inv_n; /* 1 / meridional and prime-vertical radii at p */
} situ__qpoint;

/* ECEF (metres) of a point on the WGS84 ellipsoid. */
void situ__ecef(double lon, double lat, double out[3]);
void situ__qpoint_init(situ__qpoint *q, double lon, double lat);
/* A 3-D box holding the whole ellipsoid patch over a lon/lat box
 * (minx, miny, maxx, maxy in degrees): out = min xyz, max xyz. */
void situ__patch_box(const double bbox[4], double out[6]);
/* Bound (2) of nearest_geo.c: b times the angle on the reduced sphere. */
double situ__sphere_bound(const situ__qpoint *q, const double box[6]);
#define SITU__SPHERE_FROM 1.5e6 /* bound (2) is the tighter only beyond ~1800 km */

static inline double situ__gap(double v, double lo, double hi)
{
    return v < lo ? lo - v : v > hi ? v - hi : 0.0;
}

/* Lower bounds of the geodesic distance (metres) from q to any point of the
 * ellipsoid inside a 3-D box, or to the ellipsoid point xyz (inline: the
 * search calls them for every child it looks at). */
static inline double situ__lb_box(const situ__qpoint *q, const double box[6])
{
    double dx = situ__gap(q->p[0], box[0], box[3]);
    double dy = situ__gap(q->p[1], box[1], box[4]);
    double dz = situ__gap(q->p[2], box[2], box[5]);
    double lb = sqrt(dx * dx + dy * dy + dz * dz);
    if (lb > SITU__SPHERE_FROM) {
        double sb = situ__sphere_bound(q, box);
        lb = sb > lb ? sb : lb;
    }
    return lb - SITU__LB_MARGIN;
}

static inline double situ__lb_point(const situ__qpoint *q, const double xyz[3])
{
    double dx = q->p[0] - xyz[0], dy = q->p[1] - xyz[1], dz = q->p[2] - xyz[2];
    double lb = sqrt(dx * dx + dy * dy + dz * dz);
    if (lb > SITU__SPHERE_FROM) {
        double box[6] = {xyz[0], xyz[1], xyz[2], xyz[0], xyz[1], xyz[2]};
        double sb = situ__sphere_bound(q, box);
        lb = sb > lb ? sb : lb;
    }
    return lb - SITU__LB_MARGIN;
}
/* An upper bound of the geodesic distance to an ellipsoid point whose lower
 * bound (situ__lb_point) is lb; INFINITY beyond 1000 km. */
double situ__ub_point(double lb);
/* A certified interval [lo, hi] of the geodesic distance from q to the
 * ellipsoid point xyz (chord up to 1000 km), and an estimate in it (within
 * 1e-7 m of geod_inverse up to 20 km, where the interval is narrower than
 * SITU__FAST_WIDTH). Returns 1, or 0 beyond 1000 km (outputs unset). */
int situ__chord_interval(const situ__qpoint *q, const double xyz[3], double *out_est,
                         double *out_lo, double *out_hi);
/* The initial bearing (degrees, [0, 360)) of the normal section from q to
 * xyz: the geodesic's own to within 1e-5 degrees when they are < 10 km
 * apart (NAN when they coincide). */
double situ__chord_bearing(const situ__qpoint *q, const double xyz[3]);

/* Geodesic distance from q to the feature (0 inside a polygon) and the
 * initial bearing toward its nearest point (NAN at 0 m). Polygons skip edges
 * that cannot come nearer than `bound`, so the answer is exact only when it
 * is <= bound (otherwise it is some value > bound). */
double situ__feature_dist(const situ_nearest_index *ix, const situ_feature *f,
                          const situ__qpoint *q, double bound, double *out_bearing);

/* ---- hits (nearest_hits.c) ------------------------------------------------ */

#define SITU__RUNNERS 64 /* dropped candidates kept for the final certification */

/* One evaluated feature: a certified interval [lo, hi] of its distance and
 * the estimate reported; exact once geod_inverse gave it (lo == hi == est). */
typedef struct situ__cand {
    uint32_t feat; /* feature index */
    uint32_t slot; /* its leaf slot in the R-tree */
    int exact;
    double est, lo, hi;
    double bearing; /* set when exact */
} situ__cand;

struct situ_nearest_scratch {
    situ_heap pq;      /* the search's min-heap of slots (id: the slot) */
    situ__cand *cands; /* the hits' heap, then SITU__RUNNERS runners */
    size_t capcands;
};

/* The best `cap` candidates so far: a max-heap by (est, id), worst on top,
 * plus the dropped ones whose interval may still reach into them. */
typedef struct situ__hits {
    const situ_coll *c;
    situ__cand *heap;
    int n, cap;
    situ__cand *runners;
    int nrun;
    int overflow;  /* more runners than room: the caller searches again, exactly */
    int truncated; /* a qualifying candidate was dropped */
    int estimates; /* candidates may carry intervals, not only exact distances */
    double slack;  /* the widest hi - est offered so far */
} situ__hits;

/* Room for cap hits in scratch; 0 or SITU_ENOMEM. */
int situ__hits_init(situ__hits *h, situ_nearest_scratch *scratch, const situ_coll *c, int cap,
                    int estimates);
void situ__hits_offer(situ__hits *h, const situ__cand *cand);
/* Distance beyond which nothing can enter: limit, or once there are cap
 * hits the worst one's estimate plus the slack (so at least every hit's hi:
 * cap features lie within it). */
double situ__hits_bound(const situ__hits *h, double limit);
/* Sorts the hits nearest first, asking exact(ctx, cand) for every candidate
 * whose interval leaves its rank in doubt (so the order is geod_inverse's)
 * or is wider than SITU__FAST_WIDTH (so every distance is within that of
 * geod_inverse's); then writes them to out (bearing(ctx, cand) for the
 * estimated ones). Returns the number written. */
int situ__hits_finish(situ__hits *h, void (*exact)(void *ctx, situ__cand *cand),
                      double (*bearing)(void *ctx, const situ__cand *cand), void *ctx,
                      situ_nearest_hit *out);

/* Canonical text of a value of field type t ("" for NULL). */
void situ__canon_value(const situ_value *v, char *buf, size_t n);
/* Code of canonical value s in filter field ff, or -1 when no feature has it. */
int situ__ffield_code(const situ__ffield *ff, const char *s);
/* The dictionary of field `field` in ix, or NULL when it is not a filter. */
const situ__ffield *situ__ffield_of(const situ_nearest_index *ix, int field);

/* ---- writing (nearest_json.c) --------------------------------------------- */

/* One hit's by-road members (nearest_road.c). */
typedef struct situ__road_hit {
    double travel_s, road_m, snap_m;
    const char *route; /* members to append to the properties (",\"route\":..."), or NULL */
} situ__road_hit;

/* Appends the FeatureCollection answer of q with hits r (road: per hit, or
 * NULL), echo_more appended to the query echo when not NULL. */
void situ__nearest_write(situ_buf *out, const situ_snapshot *s, const situ_nearest_query *q,
                         const situ_nearest_result *r, const situ__road_hit *road,
                         const char *echo_more);

#endif

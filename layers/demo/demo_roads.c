/*
 * demo_roads.c: the road network of the demo (issue 15). Owns the roads of
 * one copy, built in the base frame and written as features of `roads`:
 * expressways and national roads through the county seats, provincial roads
 * between them, a street grid in the two city districts, county roads (X)
 * from each county seat to every township seat, township roads (Y) between
 * neighbouring seats, winding village roads (C) to the villages, service
 * roads to the teams and depots the road misses, one ferry over the Xiang.
 *
 * Rules the network keeps, by construction:
 *  - roads meet only at shared vertices: a new road starts on an existing
 *    vertex of the network (copied, so equal to the last bit);
 *  - a river is crossed only on a bridge: the crossing of a segment is cut
 *    out as a bridge piece (bridge, layer 1) sharing its ends with the
 *    approaches; the Xiang and the Xiao (rank 1) only where a planned road
 *    (trunk, the grid's bridge streets) crosses, elsewhere a road keeps to
 *    its bank (a village road attaches to a vertex on its own bank, a grid
 *    street stops at the bank);
 *  - nothing attaches inside a bridge or a tunnel, or along an expressway.
 * Entry point: situ__demo_gen_roads (after resources, whose points it reads).
 */
#include "demo_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"
#include "situ/roads.h"

/* ---- the network under construction ---------------------------------------- */

enum { SEG_PLAIN = 0, SEG_TUNNEL = -1 }; /* > 0: a bridge over river (flag - 1) */
enum { CUT_TRUNCATE = 0, CUT_SPLIT };    /* a road meeting a river it may not cross */

typedef struct rd_spec {
    situ_roads_class cls;
    const char *name, *ref;
    situ_roads_oneway oneway;
    double speed_kmh; /* posted; 0 unset */
    double step_km;   /* vertex spacing */
    double amp;       /* winding, as a share of the length */
    int cross_ok;     /* may cross the main rivers (a planned bridge) */
    int cut;          /* CUT_TRUNCATE or CUT_SPLIT */
    int attach;       /* other roads may start on its vertices */
    int dead_end;     /* nothing meets its last vertex: a bridge there is left out */
    double tunnel_p;  /* chance of one tunnel on the road */
    const char *status, *reason;
    double duration_s; /* ferries */
} rd_spec;

typedef struct rd_road {
    situ_roads_class cls;
    situ_roads_oneway oneway;
    int v0, n;
    int name, ref; /* offsets into the text pool */
    double speed_kmh, duration_s;
    const char *status, *reason;
} rd_road;

/* A grid over the city in degrees: cell -> items (a CSR for rivers, linked
 * lists for the vertices roads may start on). */
#define RD_MINX 110.6
#define RD_MINY 24.3
#define RD_MAXX 112.8
#define RD_MAXY 27.2
#define RD_VCELL 0.005 /* about 0.5 km */
#define RD_RCELL 0.02

typedef struct rd {
    situ__demo_gen *g;
    const situ__demo_city *c;
    double step_mul; /* vertex spacing, relative to copy 0 */
    double *lon, *lat;
    signed char *seg;   /* seg[v]: the segment v -> v + 1 of its road */
    unsigned char *att; /* att[v]: roads may start on v */
    int nv, capv;
    rd_road *roads;
    int nr;
    size_t capr;
    char *text;
    size_t ntext, captext;
    int vcols, vrows, *vhead, *vnext;  /* attachable vertices */
    int rcols, rrows, *rstart, *ritem; /* river segments: river << 16 | i */
    double *tlon, *tlat;               /* a road being made */
    int tn, tcap;
    int *cand;
    double *cand_d;
    int ncand, capcand;
    int nx, ny, nc; /* counters of X, Y, C refs */
    int *bridge_no; /* main-river bridges so far per river and township + 1 */
    double *seat;   /* township seats as the roads meet them (seat_point) */
} rd;

/* Room for need vertices in the network's arrays (all of one capacity). */
static int reserve(rd *x, int need)
{
    size_t n = (size_t)need, c[5];
    for (int i = 0; i < 5; i++)
        c[i] = (size_t)x->capv;
    if (situ_array_grow((void **)&x->lon, &c[0], 0, n, sizeof *x->lon) ||
        situ_array_grow((void **)&x->lat, &c[1], 0, n, sizeof *x->lat) ||
        situ_array_grow((void **)&x->seg, &c[2], 0, n, sizeof *x->seg) ||
        situ_array_grow((void **)&x->vnext, &c[3], 0, n, sizeof *x->vnext) ||
        situ_array_grow((void **)&x->att, &c[4], 0, n, sizeof *x->att))
        return SITU_ENOMEM;
    x->capv = (int)c[0];
    return 0;
}

static int text_add(rd *x, const char *s)
{
    size_t len = strlen(s) + 1;
    if (situ_array_grow((void **)&x->text, &x->captext, x->ntext, len, 1))
        return -1;
    memcpy(x->text + x->ntext, s, len);
    x->ntext += len;
    return (int)(x->ntext - len);
}

static double km(double lon1, double lat1, double lon2, double lat2)
{
    return hypot((lon2 - lon1) * SITU_DEMO_KM_PER_DEG_LON,
                 (lat2 - lat1) * SITU_DEMO_KM_PER_DEG_LAT);
}

/* ---- rivers ------------------------------------------------------------------ */

static int rcell(const rd *x, double lon, double lat, int *cx, int *cy)
{
    *cx = (int)floor((lon - RD_MINX) / RD_RCELL);
    *cy = (int)floor((lat - RD_MINY) / RD_RCELL);
    if (*cx < 0)
        *cx = 0;
    if (*cy < 0)
        *cy = 0;
    if (*cx >= x->rcols)
        *cx = x->rcols - 1;
    if (*cy >= x->rrows)
        *cy = x->rrows - 1;
    return 0;
}

/* The river cells the box of segment a-b covers. */
static void river_cells(const rd *x, double ax, double ay, double bx, double by, int *x0, int *y0,
                        int *x1, int *y1)
{
    rcell(x, fmin(ax, bx), fmin(ay, by), x0, y0);
    rcell(x, fmax(ax, bx), fmax(ay, by), x1, y1);
}

static int index_rivers(rd *x)
{
    const situ__demo_city *c = x->c;
    x->rcols = (int)ceil((RD_MAXX - RD_MINX) / RD_RCELL);
    x->rrows = (int)ceil((RD_MAXY - RD_MINY) / RD_RCELL);
    int ncell = x->rcols * x->rrows, total = 0;
    x->rstart = calloc((size_t)ncell + 1, sizeof *x->rstart);
    if (!x->rstart)
        return SITU_ENOMEM;
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < c->nrivers; r++)
            for (int i = 0; i + 1 < c->rivers[r].n; i++) {
                const situ__demo_river *rv = &c->rivers[r];
                int x0, y0, x1, y1;
                river_cells(x, rv->lon[i], rv->lat[i], rv->lon[i + 1], rv->lat[i + 1], &x0, &y0,
                            &x1, &y1);
                for (int cy = y0; cy <= y1; cy++)
                    for (int cx = x0; cx <= x1; cx++) {
                        int k = cy * x->rcols + cx;
                        if (pass == 0)
                            x->rstart[k + 1]++, total++;
                        else
                            x->ritem[x->rstart[k]++] = r << 16 | i;
                    }
            }
        if (pass == 0) {
            for (int k = 0; k < ncell; k++)
                x->rstart[k + 1] += x->rstart[k];
            if (!(x->ritem = malloc((size_t)(total ? total : 1) * sizeof *x->ritem)))
                return SITU_ENOMEM;
        } else {
            memmove(x->rstart + 1, x->rstart, (size_t)ncell * sizeof *x->rstart);
            x->rstart[0] = 0;
        }
    }
    return 0;
}

/* Where segment p1-p2 meets q1-q2: 1 and *t along p (0..1), touching
 * included, as GEOS's intersects counts it; parallel segments never. */
static int seg_cross(double p1x, double p1y, double p2x, double p2y, double q1x, double q1y,
                     double q2x, double q2y, double *t)
{
    double rx = p2x - p1x, ry = p2y - p1y, sx = q2x - q1x, sy = q2y - q1y;
    double d = rx * sy - ry * sx;
    if (d == 0)
        return 0;
    double qpx = q1x - p1x, qpy = q1y - p1y;
    double tt = (qpx * sy - qpy * sx) / d, u = (qpx * ry - qpy * rx) / d;
    const double eps = 1e-9; /* rounding must not hide a touch GEOS sees */
    if (tt < -eps || tt > 1 + eps || u < -eps || u > 1 + eps)
        return 0;
    *t = fmin(1, fmax(0, tt));
    return 1;
}

typedef struct rd_hit {
    double t;
    int river;
} rd_hit;

/* The crossings of segment a-b with rivers of rank <= max_rank (at most
 * cap), sorted along it; returns their number. */
static int crossings(const rd *x, double ax, double ay, double bx, double by, int max_rank,
                     rd_hit *hits, int cap)
{
    int x0, y0, x1, y1, n = 0;
    river_cells(x, ax, ay, bx, by, &x0, &y0, &x1, &y1);
    for (int cy = y0; cy <= y1; cy++)
        for (int cx = x0; cx <= x1; cx++) {
            int k = cy * x->rcols + cx;
            for (int j = x->rstart[k]; j < x->rstart[k + 1]; j++) {
                int r = x->ritem[j] >> 16, i = x->ritem[j] & 0xffff;
                const situ__demo_river *rv = &x->c->rivers[r];
                double t;
                if (rv->rank > max_rank || !seg_cross(ax, ay, bx, by, rv->lon[i], rv->lat[i],
                                                      rv->lon[i + 1], rv->lat[i + 1], &t))
                    continue;
                int dup = 0; /* a segment in two cells is met twice */
                for (int h = 0; h < n; h++)
                    dup |= hits[h].t == t && hits[h].river == r;
                if (!dup && n < cap)
                    hits[n++] = (rd_hit){t, r};
            }
        }
    for (int i = 1; i < n; i++) /* insertion sort: n is tiny */
        for (int j = i; j > 0 && hits[j].t < hits[j - 1].t; j--) {
            rd_hit h = hits[j];
            hits[j] = hits[j - 1], hits[j - 1] = h;
        }
    return n;
}

static int crosses_main(const rd *x, double ax, double ay, double bx, double by)
{
    rd_hit h[4];
    return crossings(x, ax, ay, bx, by, 1, h, 4) > 0;
}

/* A seat as the roads meet it: moved 250 m off a river it stands on (a
 * junction is never on a river), else itself; on the 1e-7 grid. */
static void seat_point(const rd *x, double lon, double lat, double *out_lon, double *out_lat)
{
    *out_lon = situ__demo_snap(lon), *out_lat = situ__demo_snap(lat);
    if (situ__demo_city_river_km(x->c, lon, lat, 2) >= 0.1)
        return;
    for (int i = 0; i < 16; i++) {
        double a = i * M_PI / 8;
        double plon = situ__demo_snap(lon + 0.25 * cos(a) / SITU_DEMO_KM_PER_DEG_LON);
        double plat = situ__demo_snap(lat + 0.25 * sin(a) / SITU_DEMO_KM_PER_DEG_LAT);
        if (situ__demo_city_river_km(x->c, plon, plat, 2) >= 0.15) {
            *out_lon = plon, *out_lat = plat;
            return;
        }
    }
}

/* ---- vertices roads may start on -------------------------------------------------- */

static int vcell(const rd *x, double lon, double lat)
{
    int cx = (int)floor((lon - RD_MINX) / RD_VCELL), cy = (int)floor((lat - RD_MINY) / RD_VCELL);
    if (cx < 0 || cy < 0 || cx >= x->vcols || cy >= x->vrows)
        return -1;
    return cy * x->vcols + cx;
}

static void index_vertex(rd *x, int v)
{
    int k = vcell(x, x->lon[v], x->lat[v]);
    if (k < 0)
        return;
    x->vnext[v] = x->vhead[k];
    x->vhead[k] = v;
}

static int sort_cand(rd *x)
{
    int n = x->ncand;
    for (int gap = n / 2; gap > 0; gap /= 2) /* Shell sort, deterministic */
        for (int i = gap; i < n; i++)
            for (int j = i; j >= gap &&
                            (x->cand_d[j - gap] > x->cand_d[j] ||
                             (x->cand_d[j - gap] == x->cand_d[j] && x->cand[j - gap] > x->cand[j]));
                 j -= gap) {
                double d = x->cand_d[j];
                int v = x->cand[j];
                x->cand_d[j] = x->cand_d[j - gap], x->cand[j] = x->cand[j - gap];
                x->cand_d[j - gap] = d, x->cand[j - gap] = v;
            }
    return 0;
}

/* Collects the attachable vertices within r cells of (lon, lat). */
static int gather(rd *x, double lon, double lat, int r)
{
    int cx = (int)floor((lon - RD_MINX) / RD_VCELL), cy = (int)floor((lat - RD_MINY) / RD_VCELL);
    x->ncand = 0;
    for (int y = cy - r; y <= cy + r; y++)
        for (int xx = cx - r; xx <= cx + r; xx++) {
            if (xx < 0 || y < 0 || xx >= x->vcols || y >= x->vrows)
                continue;
            for (int v = x->vhead[y * x->vcols + xx]; v >= 0; v = x->vnext[v]) {
                if (x->ncand == x->capcand) {
                    int cap = x->capcand ? 2 * x->capcand : 1024;
                    int *cv = realloc(x->cand, (size_t)cap * sizeof *cv);
                    if (cv)
                        x->cand = cv;
                    double *d = cv ? realloc(x->cand_d, (size_t)cap * sizeof *d) : NULL;
                    if (!d)
                        return SITU_ENOMEM;
                    x->cand_d = d, x->capcand = cap;
                }
                x->cand[x->ncand] = v;
                x->cand_d[x->ncand++] = km(lon, lat, x->lon[v], x->lat[v]);
            }
        }
    return sort_cand(x);
}

/* The nearest attachable vertex on the same bank of the main rivers as
 * (lon, lat) (the straight line to it crosses none), within max_km;
 * -1 when there is none. */
static int nearest_attach(rd *x, double lon, double lat, double max_km)
{
    for (int r = 2; r <= 256; r *= 3) {
        if (gather(x, lon, lat, r))
            return -1;
        double reach = r * RD_VCELL * SITU_DEMO_KM_PER_DEG_LON;
        for (int i = 0, tests = 0; i < x->ncand && tests < 400; i++) {
            int v = x->cand[i];
            if (x->cand_d[i] > max_km || x->cand_d[i] > reach)
                break;
            if (i > 0 && x->lon[v] == x->lon[x->cand[i - 1]] && x->lat[v] == x->lat[x->cand[i - 1]])
                continue;
            tests++;
            if (!crosses_main(x, x->lon[v], x->lat[v], lon, lat))
                return v;
        }
        if (reach > max_km)
            break;
    }
    return -1;
}

/* ---- making a road: winding, rivers, bridges ---------------------------------------- */

/* Appends a vertex to the road being made (a repeat of the last is
 * dropped). */
static int tpush(rd *x, double lon, double lat)
{
    if (x->tn > 0 && x->tlon[x->tn - 1] == lon && x->tlat[x->tn - 1] == lat)
        return 0;
    if (x->tn + 1 > x->tcap) {
        int n = x->tcap ? 2 * x->tcap : 1024;
        double *a = realloc(x->tlon, (size_t)n * sizeof *a);
        if (a)
            x->tlon = a;
        double *b = a ? realloc(x->tlat, (size_t)n * sizeof *b) : NULL;
        if (!b)
            return SITU_ENOMEM;
        x->tlat = b, x->tcap = n;
    }
    x->tlon[x->tn] = lon, x->tlat[x->tn] = lat;
    x->tn++;
    return 0;
}

/* The winding polyline from a to b into the road buffer: harmonics across
 * the line that vanish at both ends, a little noise, a vertex every step. */
static int wind(rd *x, const rd_spec *s, double alon, double alat, double blon, double blat,
                double amp)
{
    situ__demo_rng *r = &x->g->rng;
    double L = km(alon, alat, blon, blat);
    double step = s->step_km * x->step_mul;
    int n = (int)ceil(L / step);
    n = n < 1 ? 1 : n;
    double a[4], ph[4];
    for (int h = 0; h < 4; h++)
        a[h] = amp * L * situ__demo_rng_range(r, -1, 1) / (1 + h), ph[h] = h + 1;
    double ux = (blon - alon) * SITU_DEMO_KM_PER_DEG_LON / (L > 0 ? L : 1);
    double uy = (blat - alat) * SITU_DEMO_KM_PER_DEG_LAT / (L > 0 ? L : 1);
    double walk = 0;
    x->tn = 0;
    int rc = tpush(x, alon, alat);
    for (int i = 1; !rc && i < n; i++) {
        double t = (double)i / n, env = sin(M_PI * t), off = 0;
        for (int h = 0; h < 4; h++)
            off += a[h] * sin(ph[h] * M_PI * t);
        walk = 0.7 * walk + situ__demo_rng_normal(r) * step * 0.25 * (amp > 0);
        off = off * env + walk * env;
        double px = t * L * ux - off * uy, py = t * L * uy + off * ux;
        rc = tpush(x, situ__demo_snap(alon + px / SITU_DEMO_KM_PER_DEG_LON),
                   situ__demo_snap(alat + py / SITU_DEMO_KM_PER_DEG_LAT));
    }
    return rc ? rc : tpush(x, blon, blat);
}

/* How many of the buffer's segments cross a main river. */
static int main_crossings(const rd *x)
{
    int n = 0;
    for (int i = 0; i + 1 < x->tn; i++)
        n += crosses_main(x, x->tlon[i], x->tlat[i], x->tlon[i + 1], x->tlat[i + 1]);
    return n;
}

/* The first segment of the buffer crossing a main river, or -1. */
static int first_forbidden(const rd *x, int from)
{
    for (int i = from; i + 1 < x->tn; i++)
        if (crosses_main(x, x->tlon[i], x->tlat[i], x->tlon[i + 1], x->tlat[i + 1]))
            return i;
    return -1;
}

#define RD_MAX_HITS 16

/* Appends segment a-b to the network's vertex arrays with its crossings of
 * the rivers it may cross cut out as bridges (the half-length of a bridge:
 * 150 m over a main river, 30 m over a tributary). b itself is not added. */
static int put_segment(rd *x, double ax, double ay, double bx, double by, int max_rank,
                       int no_bridges)
{
    rd_hit h[RD_MAX_HITS];
    int n = no_bridges ? 0 : crossings(x, ax, ay, bx, by, max_rank, h, RD_MAX_HITS);
    double L = km(ax, ay, bx, by), t0[RD_MAX_HITS], t1[RD_MAX_HITS];
    int riv[RD_MAX_HITS], m = 0;
    for (int i = 0; i < n; i++) { /* merged intervals along the segment */
        double half = (x->c->rivers[h[i].river].rank == 1 ? 0.15 : 0.03) / (L > 0 ? L : 1);
        double lo = fmax(0, h[i].t - half), hi = fmin(1, h[i].t + half);
        if (m > 0 && lo <= t1[m - 1])
            t1[m - 1] = fmax(t1[m - 1], hi);
        else
            t0[m] = lo, t1[m] = hi, riv[m++] = h[i].river;
    }
    if (reserve(x, x->nv + 2 * m + 2))
        return SITU_ENOMEM;
    int v = x->nv;
    x->lon[v] = ax, x->lat[v] = ay, x->seg[v] = SEG_PLAIN;
    for (int i = 0; i < m; i++) {
        double ts[2] = {t0[i], t1[i]};
        if (ts[0] == 0)
            x->seg[v] = (signed char)(riv[i] + 1);
        for (int e = 0; e < 2; e++) {
            if (ts[e] <= 0 || ts[e] >= 1)
                continue;
            double px = situ__demo_snap(ax + ts[e] * (bx - ax)),
                   py = situ__demo_snap(ay + ts[e] * (by - ay));
            if ((px == x->lon[v] && py == x->lat[v]) || (px == bx && py == by)) {
                if (e == 0) /* the bridge starts at v: the crossing stays on it */
                    x->seg[v] = (signed char)(riv[i] + 1);
                continue;
            }
            v++;
            x->lon[v] = px, x->lat[v] = py;
            x->seg[v] = e == 0 ? (signed char)(riv[i] + 1) : SEG_PLAIN;
        }
    }
    x->nv = v + 1;
    return 0;
}

/* Marks one run of plain segments of road r as a tunnel, about 1.5 km. */
static void tunnel(rd *x, const rd_road *r)
{
    situ__demo_rng *rng = &x->g->rng;
    int len = 4 + situ__demo_rng_int(rng, 0, 6);
    if (r->n < len + 8)
        return;
    int a = r->v0 + situ__demo_rng_int(rng, 4, r->n - len - 4);
    for (int v = a; v < a + len; v++)
        if (x->seg[v] != SEG_PLAIN)
            return;
    for (int v = a; v < a + len; v++)
        x->seg[v] = SEG_TUNNEL;
}

/* Adds the buffer's vertices [i0, i1] as one road of spec s. */
static int put_road(rd *x, const rd_spec *s, int i0, int i1, int split)
{
    if (i1 <= i0)
        return 0;
    int rc = situ_array_grow((void **)&x->roads, &x->capr, (size_t)x->nr, 1, sizeof *x->roads)
                 ? SITU_ENOMEM
                 : 0;
    if (rc)
        return rc;
    rd_road *r = &x->roads[x->nr];
    r->v0 = x->nv;
    for (int i = i0; !rc && i < i1; i++)
        rc = put_segment(x, x->tlon[i], x->tlat[i], x->tlon[i + 1], x->tlat[i + 1], 2,
                         s->cls == SITU_ROADS_FERRY);
    if (rc || (rc = reserve(x, x->nv + 1)))
        return rc;
    if (s->dead_end && x->seg[x->nv - 1] > 0) {
        /* no bridge into nowhere: the road ends at the bank */
        while (x->nv - 2 >= r->v0 && x->seg[x->nv - 2] > 0)
            x->nv--;
        x->seg[x->nv - 1] = SEG_PLAIN;
    } else {
        x->lon[x->nv] = x->tlon[i1], x->lat[x->nv] = x->tlat[i1], x->seg[x->nv] = SEG_PLAIN;
        x->nv++;
    }
    r->n = x->nv - r->v0;
    if (r->n < 2) {
        x->nv = r->v0;
        return 0;
    }
    r->cls = s->cls;
    r->oneway = split ? SITU_ROADS_TWOWAY : s->oneway;
    r->name = text_add(x, s->name), r->ref = s->ref ? text_add(x, s->ref) : -1;
    r->speed_kmh = s->speed_kmh, r->duration_s = s->duration_s;
    r->status = s->status, r->reason = s->reason;
    if (r->name < 0 || (s->ref && r->ref < 0))
        return SITU_ENOMEM;
    x->nr++;
    if (s->tunnel_p > 0 && situ__demo_rng_chance(&x->g->rng, s->tunnel_p))
        tunnel(x, r);
    for (int v = r->v0; v < r->v0 + r->n; v++) {
        int before = v > r->v0 ? x->seg[v - 1] : SEG_PLAIN, after = x->seg[v];
        int ends = v == r->v0 || v == r->v0 + r->n - 1;
        x->vnext[v] = -1;
        x->att[v] = (s->attach && before == SEG_PLAIN && after == SEG_PLAIN) ||
                    (ends && s->cls != SITU_ROADS_FERRY);
        if (x->att[v])
            index_vertex(x, v);
    }
    return 0;
}

/* Adds the road in the buffer: where it crosses a main river it may not
 * cross, it stops at the bank (CUT_TRUNCATE) or leaves the crossing out
 * (CUT_SPLIT). */
static int put_line(rd *x, const rd_spec *s)
{
    if (x->tn < 2)
        return 0;
    if (s->cross_ok)
        return put_road(x, s, 0, x->tn - 1, 0);
    int from = 0, rc = 0, split = 0;
    for (;;) {
        int bad = first_forbidden(x, from);
        if (bad < 0)
            return put_road(x, s, from, x->tn - 1, split);
        rc = put_road(x, s, from, bad, 1);
        if (rc || s->cut == CUT_TRUNCATE)
            return rc;
        from = bad + 1, split = 1;
    }
}

/* A winding road from vertex-exact a to b: less winding when the winding
 * would cross a main river the road may not cross, straight at last. */
static int add_road(rd *x, const rd_spec *s, double alon, double alat, double blon, double blat)
{
    double amp = s->amp, best_amp = amp;
    int best = INT32_MAX, rc = 0;
    for (int attempt = 0; attempt < 4; attempt++, amp /= 2) {
        double a = attempt == 3 ? 0 : amp;
        if ((rc = wind(x, s, alon, alat, blon, blat, a)))
            return rc;
        int n = main_crossings(x);
        if (n < best)
            best = n, best_amp = a;
        if (n == 0 || (s->cross_ok && n == 1))
            return put_line(x, s);
    }
    if (best_amp != 0 && (rc = wind(x, s, alon, alat, blon, blat, best_amp)))
        return rc;
    return put_line(x, s);
}

/* ---- the trunk roads ---------------------------------------------------------------- */

/* Waypoints: a county index (0..12 in yongzhou_counties.csv order) or, as
 * -1, the next lon/lat pair (where the road leaves the city). */
typedef struct rd_trunk {
    situ_roads_class cls;
    const char *ref, *name;
    double speed_kmh;
    int stops[8];
    double out[4];
} rd_trunk;

#define OUT -1
#define END -2
/* clang-format off */
static const rd_trunk trunks[] = {
    {SITU_ROADS_EXPRESSWAY, "G55", "G55二广高速", 120, {OUT, 1, 10, 0, 3, 4, 9, OUT}, {111.47, 26.95, 111.72, 24.55}},
    {SITU_ROADS_EXPRESSWAY, "G72", "G72泉南高速", 120, {OUT, 12, 1, 2, OUT, END}, {112.25, 26.85, 110.95, 26.25}},
    {SITU_ROADS_EXPRESSWAY, "G76", "G76厦蓉高速", 100, {OUT, 6, 4, 5, OUT, END}, {112.55, 25.55, 110.95, 25.20}},
    {SITU_ROADS_NATIONAL, "G207", "G207国道", 0, {OUT, 1, 0, 3, 4, 9, OUT, END}, {111.40, 26.95, 111.78, 24.55}},
    {SITU_ROADS_NATIONAL, "G322", "G322国道", 0, {OUT, 12, 1, 2, OUT, END}, {112.30, 26.80, 110.95, 26.32}},
    {SITU_ROADS_NATIONAL, "G234", "G234国道", 0, {OUT, 8, 6, 7, OUT, END}, {112.45, 26.10, 112.35, 24.95}},
    {SITU_ROADS_PROVINCIAL, "S216", "S216省道", 0, {4, 11, 5, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S325", "S325省道", 0, {6, 7, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S322", "S322省道", 0, {12, 8, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S217", "S217省道", 0, {3, 6, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S345", "S345省道", 0, {9, 7, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S219", "S219省道", 0, {2, 0, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S351", "S351省道", 0, {5, 9, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S318", "S318省道", 0, {12, 10, 0, END}, {0}},
    {SITU_ROADS_PROVINCIAL, "S323", "S323省道", 0, {6, 8, END}, {0}},
};
/* clang-format on */

static int inside(const rd *x, double lon, double lat)
{
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(x->c->gh, lon, lat);
    int in = pt && GEOSPreparedContains_r(x->c->gh, x->c->outline_prep, pt) == 1;
    GEOSGeom_destroy_r(x->c->gh, pt);
    return in;
}

/* Where a trunk road leaves the city: from (lon, lat) outside towards the
 * seat (slon, slat), 1 km inside the outline (the city's data ends there). */
static void exit_point(const rd *x, double slon, double slat, double *lon, double *lat)
{
    double L = km(*lon, *lat, slon, slat);
    for (double d = 0; d < L; d += 0.1) {
        double f = (d + 1) / L;
        if (inside(x, *lon + (slon - *lon) * d / L, *lat + (slat - *lat) * d / L) && f < 1) {
            *lon = situ__demo_snap(*lon + (slon - *lon) * f);
            *lat = situ__demo_snap(*lat + (slat - *lat) * f);
            return;
        }
    }
}

static void stop_point(const rd *x, const rd_trunk *t, int i, int *nout, double *lon, double *lat)
{
    if (t->stops[i] == OUT) {
        int near = t->stops[i == 0 ? 1 : i - 1];
        double slon, slat;
        *lon = t->out[2 * *nout], *lat = t->out[2 * *nout + 1];
        ++*nout;
        seat_point(x, x->c->counties[near].seat_lon, x->c->counties[near].seat_lat, &slon, &slat);
        exit_point(x, slon, slat, lon, lat);
        return;
    }
    const situ__demo_county *k = &x->c->counties[t->stops[i]];
    seat_point(x, k->seat_lon, k->seat_lat, lon, lat);
}

/* The main-river crossings of the straight segment a-b. */
static int main_hits(const rd *x, double alon, double alat, double blon, double blat)
{
    rd_hit h[RD_MAX_HITS];
    return crossings(x, alon, alat, blon, blat, 1, h, RD_MAX_HITS);
}

/* A trunk road from seat a to seat b through a point beside their middle,
 * the one of the fewest main-river crossings: a road along a meandering
 * river keeps to one bank rather than cross it at every bend. */
static int trunk_leg(rd *x, const rd_spec *s, double alon, double alat, double blon, double blat)
{
    static const double off_km[] = {0, 3, -3, 6, -6, 10, -10};
    double L = km(alon, alat, blon, blat), mlon = (alon + blon) / 2, mlat = (alat + blat) / 2;
    double nx = -(blat - alat) * SITU_DEMO_KM_PER_DEG_LAT / L;
    double ny = (blon - alon) * SITU_DEMO_KM_PER_DEG_LON / L;
    double vlon = mlon, vlat = mlat;
    int best = INT32_MAX, at = 0;
    for (int i = 0; L > 0 && i < (int)(sizeof off_km / sizeof off_km[0]); i++) {
        double plon = situ__demo_snap(mlon + off_km[i] * nx / SITU_DEMO_KM_PER_DEG_LON);
        double plat = situ__demo_snap(mlat + off_km[i] * ny / SITU_DEMO_KM_PER_DEG_LAT);
        int n = main_hits(x, alon, alat, plon, plat) + main_hits(x, plon, plat, blon, blat);
        if (n < best)
            best = n, at = i, vlon = plon, vlat = plat;
    }
    if (at == 0)
        return add_road(x, s, alon, alat, blon, blat);
    int rc = add_road(x, s, alon, alat, vlon, vlat);
    return rc ? rc : add_road(x, s, vlon, vlat, blon, blat);
}

static int add_trunk(rd *x, const rd_trunk *t)
{
    int motorway = t->cls == SITU_ROADS_EXPRESSWAY;
    rd_spec s = {.cls = t->cls,
                 .name = t->name,
                 .ref = t->ref,
                 .speed_kmh = t->speed_kmh,
                 .step_km = motorway ? 0.3 : 0.2,
                 .amp = motorway ? 0.02 : 0.05,
                 .cross_ok = 1,
                 .attach = !motorway,
                 .tunnel_p = motorway ? 0.35 : 0.1,
                 .status = "open"};
    int nout = 0, rc = 0;
    double alon, alat, blon, blat;
    int n = 0;
    while (n < 8 && t->stops[n] != END)
        n++;
    stop_point(x, t, 0, &nout, &alon, &alat);
    for (int i = 1; !rc && i < n; i++) {
        stop_point(x, t, i, &nout, &blon, &blat);
        rc = trunk_leg(x, &s, alon, alat, blon, blat);
        alon = blon, alat = blat;
    }
    return rc;
}

/* ---- the street grid of the city districts ---------------------------------------------- */

#define GRID_HALF 9 /* nodes each side of the centre */

static void grid_node(const rd *x, double clon, double clat, double ang, double sp, int i, int j,
                      situ__demo_rng *r, double *lon, double *lat)
{
    double gx = i * sp + (i || j ? situ__demo_rng_range(r, -0.03, 0.03) : 0);
    double gy = j * sp + (i || j ? situ__demo_rng_range(r, -0.03, 0.03) : 0);
    double px = gx * cos(ang) - gy * sin(ang), py = gx * sin(ang) + gy * cos(ang);
    (void)x;
    *lon = situ__demo_snap(clon + px / SITU_DEMO_KM_PER_DEG_LON);
    *lat = situ__demo_snap(clat + py / SITU_DEMO_KM_PER_DEG_LAT);
}

/* One street along row j (dir 0) or column j (dir 1) of the grid: its runs
 * of nodes inside the district, three vertices a block. */
static int grid_street(rd *x, const double *nlon, const double *nlat, const unsigned char *in,
                       int dir, int j, const situ__demo_county *k)
{
    const int W = 2 * GRID_HALF + 1;
    char name[128], road[64];
    situ__demo_road(&x->g->rng, road, sizeof road);
    snprintf(name, sizeof name, "%s%s", k->name, road);
    int inner = j > 1 - GRID_HALF && j < GRID_HALF - 1;
    rd_spec s = {.cls = SITU_ROADS_URBAN,
                 .name = name,
                 .step_km = 1,
                 .cross_ok = (j + GRID_HALF) % 6 == 3,
                 .cut = CUT_SPLIT,
                 .attach = 1,
                 .status = "open"};
    if (inner && (j + GRID_HALF) % 2 == 1) /* one-way pairs */
        s.oneway = (j + GRID_HALF) % 4 == 1 ? SITU_ROADS_ONEWAY : SITU_ROADS_REVERSE;
    if (j == 0)
        s.speed_kmh = 50;
    int rc = 0;
    x->tn = 0;
    for (int i = -GRID_HALF; !rc && i <= GRID_HALF + 1; i++) {
        int idx = dir == 0 ? (j + GRID_HALF) * W + (i + GRID_HALF)
                           : (i + GRID_HALF) * W + (j + GRID_HALF);
        if (i > GRID_HALF || !in[idx]) {
            rc = put_line(x, &s);
            x->tn = 0;
            continue;
        }
        if (x->tn > 0) { /* two vertices between nodes */
            double plon = x->tlon[x->tn - 1], plat = x->tlat[x->tn - 1];
            for (int m = 1; !rc && m < 3; m++)
                rc = tpush(x, situ__demo_snap(plon + (nlon[idx] - plon) * m / 3),
                           situ__demo_snap(plat + (nlat[idx] - plat) * m / 3));
        }
        if (!rc)
            rc = tpush(x, nlon[idx], nlat[idx]);
    }
    return rc;
}

static int add_grid(rd *x, const situ__demo_county *k)
{
    const int W = 2 * GRID_HALF + 1;
    double *nlon = malloc((size_t)W * (size_t)W * sizeof *nlon),
           *nlat = malloc((size_t)W * (size_t)W * sizeof *nlat);
    unsigned char *in = malloc((size_t)W * (size_t)W);
    int rc = nlon && nlat && in ? 0 : SITU_ENOMEM;
    situ__demo_rng *r = &x->g->rng;
    double ang = situ__demo_rng_range(r, -0.3, 0.3), sp = 0.32;
    double clon, clat;
    seat_point(x, k->seat_lon, k->seat_lat, &clon, &clat);
    for (int j = -GRID_HALF; !rc && j <= GRID_HALF; j++)
        for (int i = -GRID_HALF; i <= GRID_HALF; i++) {
            int idx = (j + GRID_HALF) * W + (i + GRID_HALF);
            grid_node(x, clon, clat, ang, sp, i, j, r, &nlon[idx], &nlat[idx]);
            double rr = hypot(i, j * 1.2) + situ__demo_rng_range(r, -0.8, 0.8);
            in[idx] = rr <= GRID_HALF;
        }
    for (int dir = 0; !rc && dir < 2; dir++)
        for (int j = -GRID_HALF; !rc && j <= GRID_HALF; j++)
            rc = grid_street(x, nlon, nlat, in, dir, j, k);
    free(nlon), free(nlat), free(in);
    return rc;
}

/* ---- one network ------------------------------------------------------------------------ */

typedef struct rd_key {
    double lon, lat;
    int v;
} rd_key;

static int key_cmp(const void *a, const void *b)
{
    const rd_key *p = a, *q = b;
    if (p->lon != q->lon)
        return (p->lon > q->lon) - (p->lon < q->lon);
    if (p->lat != q->lat)
        return (p->lat > q->lat) - (p->lat < q->lat);
    return p->v - q->v;
}

static int uf_find(int *p, int v)
{
    while (p[v] != v)
        v = p[v] = p[p[v]];
    return v;
}

/* Drops the roads outside the largest connected part (a grid street cut off
 * by the river) and re-indexes the vertices roads may start on, so that
 * nothing later attaches to an island. */
static int prune(rd *x)
{
    rd_key *k = malloc((size_t)x->nv * sizeof *k);
    int *p = malloc((size_t)x->nv * sizeof *p), *size = calloc((size_t)x->nv, sizeof *size);
    if (!k || !p || !size) {
        free(k), free(p), free(size);
        return SITU_ENOMEM;
    }
    for (int v = 0; v < x->nv; v++)
        k[v] = (rd_key){x->lon[v], x->lat[v], v}, p[v] = v;
    qsort(k, (size_t)x->nv, sizeof *k, key_cmp);
    for (int i = 1; i < x->nv; i++)
        if (k[i].lon == k[i - 1].lon && k[i].lat == k[i - 1].lat)
            p[uf_find(p, k[i].v)] = uf_find(p, k[i - 1].v);
    for (int i = 0; i < x->nr; i++)
        for (int v = x->roads[i].v0; v + 1 < x->roads[i].v0 + x->roads[i].n; v++)
            p[uf_find(p, v + 1)] = uf_find(p, v);
    int big = 0;
    for (int v = 0; v < x->nv; v++) {
        int r = uf_find(p, v);
        big = ++size[r] > size[big] ? r : big;
    }
    memset(x->vhead, 0xff, (size_t)x->vcols * (size_t)x->vrows * sizeof *x->vhead);
    for (int i = 0; i < x->nr; i++) {
        rd_road *r = &x->roads[i];
        if (r->n > 0 && uf_find(p, r->v0) != big)
            r->n = 0;
        for (int v = r->v0; v < r->v0 + r->n; v++)
            if (x->att[v])
                index_vertex(x, v);
    }
    free(k), free(p), free(size);
    return 0;
}

/* ---- county, township, village and service roads ------------------------------------------ */

static double hills_amp(const rd *x, int t)
{
    return 0.04 + 0.03 * x->c->counties[x->c->townships[t].county].hilly;
}

/* A county road (X001县道, ...) or township road (Y001乡道, ...) of spec s
 * from a to b, numbered by *counter. */
static int add_numbered(rd *x, rd_spec *s, int *counter, double alon, double alat, double blon,
                        double blat)
{
    int county = s->cls == SITU_ROADS_COUNTY;
    char ref[16], name[32];
    snprintf(ref, sizeof ref, "%c%03d", county ? 'X' : 'Y', ++*counter);
    snprintf(name, sizeof name, "%s%s", ref, county ? "县道" : "乡道");
    s->name = name, s->ref = ref, s->attach = 1, s->status = "open";
    return add_road(x, s, alon, alat, blon, blat);
}

/* Where township t's county road leaves the network: a vertex on its bank
 * between the seat and t, near t (the roads branch as a tree from the
 * seat instead of running side by side); the seat when nothing is better,
 * -1 when the seat is across a main river and nothing is on t's bank. */
static int county_parent(rd *x, int t, double slon, double slat, int *out_v)
{
    double tlon = x->seat[2 * t], tlat = x->seat[2 * t + 1], D = km(tlon, tlat, slon, slat);
    int r = (int)ceil(D / (RD_VCELL * SITU_DEMO_KM_PER_DEG_LON)) + 1;
    int rc = gather(x, tlon, tlat, r > 16 ? 16 : r); /* 8 km: a nearer branch wins */
    if (rc)
        return rc;
    for (int i = 0; i < x->ncand; i++) {
        double ds = km(x->lon[x->cand[i]], x->lat[x->cand[i]], slon, slat);
        x->cand_d[i] = ds < D ? x->cand_d[i] + 0.4 * ds : HUGE_VAL;
    }
    sort_cand(x);
    *out_v = -1;
    for (int i = 0, tests = 0; i < x->ncand && tests < 200 && x->cand_d[i] < HUGE_VAL; i++) {
        int v = x->cand[i];
        tests++;
        if (!crosses_main(x, x->lon[v], x->lat[v], tlon, tlat)) {
            *out_v = v;
            return 0;
        }
    }
    if (crosses_main(x, slon, slat, tlon, tlat))
        *out_v = nearest_attach(x, tlon, tlat, 60);
    else
        *out_v = -2; /* the seat */
    return 0;
}

typedef struct rd_order {
    double key;
    int i;
} rd_order;

static int order_cmp(const void *a, const void *b)
{
    const rd_order *p = a, *q = b;
    return p->key != q->key ? (p->key > q->key) - (p->key < q->key) : p->i - q->i;
}

/* County roads: each township seat, by county and nearest its county seat
 * first, joined to its county seat's network. */
static int add_county_roads(rd *x)
{
    const situ__demo_city *c = x->c;
    rd_order *o = malloc((size_t)c->ntownships * sizeof *o);
    if (!o)
        return SITU_ENOMEM;
    for (int t = 0; t < c->ntownships; t++) {
        const situ__demo_county *k = &c->counties[c->townships[t].county];
        o[t].i = t;
        o[t].key = c->townships[t].county * 1e4 +
                   km(k->seat_lon, k->seat_lat, x->seat[2 * t], x->seat[2 * t + 1]);
    }
    qsort(o, (size_t)c->ntownships, sizeof *o, order_cmp);
    int rc = 0;
    for (int i = 0; !rc && i < c->ntownships; i++) {
        int t = o[i].i, v;
        const situ__demo_county *k = &c->counties[c->townships[t].county];
        double alon, alat;
        seat_point(x, k->seat_lon, k->seat_lat, &alon, &alat);
        if ((rc = county_parent(x, t, alon, alat, &v)) || v == -1)
            continue;
        if (v >= 0)
            alon = x->lon[v], alat = x->lat[v];
        if (alon == x->seat[2 * t] && alat == x->seat[2 * t + 1])
            continue;
        rd_spec s = {.cls = SITU_ROADS_COUNTY,
                     .step_km = 0.12,
                     .amp = hills_amp(x, t),
                     .tunnel_p = k->hilly >= 2 ? 0.08 : 0};
        rc = add_numbered(x, &s, &x->nx, alon, alat, x->seat[2 * t], x->seat[2 * t + 1]);
    }
    free(o);
    return rc;
}

/* The two nearest seats to township t's within 16 km (-1: none). */
static void nearest_seats(const rd *x, int t, int best[2])
{
    double bd[2] = {HUGE_VAL, HUGE_VAL};
    best[0] = best[1] = -1;
    for (int u = 0; u < x->c->ntownships; u++) {
        double d = km(x->seat[2 * t], x->seat[2 * t + 1], x->seat[2 * u], x->seat[2 * u + 1]);
        if (u == t || d > 16 || d >= bd[1])
            continue;
        if (d < bd[0])
            bd[1] = bd[0], best[1] = best[0], bd[0] = d, best[0] = u;
        else
            bd[1] = d, best[1] = u;
    }
}

/* Township roads: each seat to its two nearest seats on its bank, once a
 * pair. */
static int add_township_links(rd *x)
{
    int n = x->c->ntownships, rc = 0;
    int *best = malloc((size_t)n * 2 * sizeof *best);
    if (!best)
        return SITU_ENOMEM;
    for (int t = 0; t < n; t++)
        nearest_seats(x, t, best + 2 * t);
    for (int t = 0; !rc && t < n; t++)
        for (int i = 0; !rc && i < 2; i++) {
            int u = best[2 * t + i];
            if (u < 0 || (u < t && (best[2 * u] == t || best[2 * u + 1] == t)))
                continue;
            double alon = x->seat[2 * t], alat = x->seat[2 * t + 1];
            double blon = x->seat[2 * u], blat = x->seat[2 * u + 1];
            if (crosses_main(x, alon, alat, blon, blat))
                continue;
            rd_spec s = {.cls = SITU_ROADS_TOWNSHIP, .step_km = 0.1, .amp = hills_amp(x, t)};
            rc = add_numbered(x, &s, &x->ny, alon, alat, blon, blat);
        }
    free(best);
    return rc;
}

/* A uniform point of township t (rejection in its box); 0 or -1. */
static int point_in(const rd *x, int t, double *lon, double *lat)
{
    const situ__demo_township *tw = &x->c->townships[t];
    situ__demo_rng *r = &x->g->rng;
    for (int i = 0; i < 32; i++) {
        double px = situ__demo_snap(situ__demo_rng_range(r, tw->minx, tw->maxx));
        double py = situ__demo_snap(situ__demo_rng_range(r, tw->miny, tw->maxy));
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(x->c->gh, px, py);
        int in = pt && GEOSPreparedContains_r(x->c->gh, tw->prep, pt) == 1;
        GEOSGeom_destroy_r(x->c->gh, pt);
        if (in) {
            *lon = px, *lat = py;
            return 0;
        }
    }
    return -1;
}

/* A road of spec s from the nearest vertex on the same bank to (lon, lat). */
static int connect(rd *x, rd_spec *s, double lon, double lat, double max_km)
{
    int v = nearest_attach(x, lon, lat, max_km);
    if (v < 0)
        return 0;
    if (x->lon[v] == lon && x->lat[v] == lat)
        return 0;
    s->dead_end = 1;
    return add_road(x, s, x->lon[v], x->lat[v], lon, lat);
}

typedef struct rd_village {
    double lon, lat, d;
} rd_village;

static int village_cmp(const void *a, const void *b)
{
    double da = ((const rd_village *)a)->d, db = ((const rd_village *)b)->d;
    return (da > db) - (da < db);
}

/* Villages of township t, nearest to the seat first, each on a village road. */
static int add_villages(rd *x, int t)
{
    const situ__demo_township *tw = &x->c->townships[t];
    double per_km2 = tw->kind == SITU_DEMO_SUBDISTRICT ? 1 / 6.0 : 1 / 3.0;
    int n = (int)ceil(tw->area_km2 * per_km2);
    rd_village *vs = calloc((size_t)(n ? n : 1), sizeof *vs);
    if (!vs)
        return SITU_ENOMEM;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (point_in(x, t, &vs[m].lon, &vs[m].lat) == 0) {
            vs[m].d = km(vs[m].lon, vs[m].lat, tw->seat_lon, tw->seat_lat);
            m++;
        }
    qsort(vs, (size_t)m, sizeof *vs, village_cmp);
    int rc = 0;
    for (int i = 0; !rc && i < m; i++) {
        char village[64], name[96], ref[16];
        situ__demo_village(&x->g->rng, village, sizeof village);
        snprintf(name, sizeof name, "%s村道", village);
        snprintf(ref, sizeof ref, "C%04d", ++x->nc);
        rd_spec s = {.cls = SITU_ROADS_VILLAGE,
                     .name = name,
                     .ref = ref,
                     .step_km = 0.07,
                     .amp = hills_amp(x, t) * 1.5,
                     .attach = 1,
                     .status = "open"};
        if (situ__demo_rng_chance(&x->g->rng, 0.001))
            s.status = "restricted", s.reason = "路面塌陷，半幅通行";
        rc = connect(x, &s, vs[i].lon, vs[i].lat, 25);
    }
    free(vs);
    return rc;
}

/* One ferry over the Xiang at 70 % of its length, with village roads to it. */
static int add_ferry(rd *x)
{
    const situ__demo_river *rv = NULL;
    for (int r = 0; r < x->c->nrivers && !rv; r++)
        if (x->c->rivers[r].rank == 1)
            rv = &x->c->rivers[r];
    if (!rv || rv->n < 4)
        return 0;
    int i = rv->n * 7 / 10;
    double dx = (rv->lon[i + 1] - rv->lon[i]) * SITU_DEMO_KM_PER_DEG_LON;
    double dy = (rv->lat[i + 1] - rv->lat[i]) * SITU_DEMO_KM_PER_DEG_LAT, L = hypot(dx, dy);
    double mlon = (rv->lon[i] + rv->lon[i + 1]) / 2, mlat = (rv->lat[i] + rv->lat[i + 1]) / 2;
    double nx = -dy / L * 0.35, ny = dx / L * 0.35;
    double lon[2], lat[2];
    for (int e = 0; e < 2; e++) {
        lon[e] = situ__demo_snap(mlon + (e ? nx : -nx) / SITU_DEMO_KM_PER_DEG_LON);
        lat[e] = situ__demo_snap(mlat + (e ? ny : -ny) / SITU_DEMO_KM_PER_DEG_LAT);
    }
    rd_spec f = {.cls = SITU_ROADS_FERRY,
                 .name = "湘江渡口",
                 .cross_ok = 1,
                 .duration_s = 900,
                 .status = "open"};
    x->tn = 0;
    int rc = tpush(x, lon[0], lat[0]);
    if (!rc)
        rc = tpush(x, lon[1], lat[1]);
    if (!rc)
        rc = put_line(x, &f);
    rd_spec s = {.cls = SITU_ROADS_VILLAGE,
                 .name = "渡口村道",
                 .step_km = 0.07,
                 .amp = 0.05,
                 .attach = 1,
                 .status = "open"};
    for (int e = 0; !rc && e < 2; e++)
        rc = connect(x, &s, lon[e], lat[e], 20);
    return rc;
}

/* Service roads to the teams and depots further than 200 m from a road. */
static int add_service(rd *x)
{
    int rc = 0;
    for (int i = 0; !rc && i < x->g->npts; i++) {
        double lon = x->g->pts[2 * i], lat = x->g->pts[2 * i + 1];
        int v = nearest_attach(x, lon, lat, 0.2);
        if (v >= 0)
            continue;
        rd_spec s = {.cls = SITU_ROADS_SERVICE,
                     .name = "应急救援专用道",
                     .step_km = 0.07,
                     .amp = 0.05,
                     .attach = 1,
                     .status = "open"};
        rc = connect(x, &s, lon, lat, 25);
    }
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The township of the piece [a, b] as the loader places it, or -1. */
static int township_of(const rd *x, int a, int b)
{
    int mid = a + (b - a + 1) / 2; /* the loader's point of a line: its middle vertex */
    return situ__demo_city_locate(x->c, x->lon[mid], x->lat[mid]);
}

/* "湘江梅湾街道大桥", the next one there "湘江梅湾街道二桥", ... */
static const char *bridge_name(rd *x, int river, int t)
{
    static const char *const nth[] = {"大", "二", "三", "四", "五", "六", "七", "八", "九", "十"};
    int *no = &x->bridge_no[river * (x->c->ntownships + 1) + t + 1];
    const char *k = nth[*no < 10 ? *no : 9];
    ++*no;
    return situ__demo_feat_printf(&x->g->feat, "%s%s%s桥", x->c->rivers[river].name,
                                  t >= 0 ? x->c->townships[t].name : "", k);
}

/* Writes vertices [a, b] of road r, all of its segments of kind flag. */
static int emit_piece(rd *x, const rd_road *r, int a, int b, int flag, situ_err *err)
{
    situ__demo_gen *g = x->g;
    situ__demo_feat *f = &g->feat;
    int t = township_of(x, a, b);
    situ__demo_gen_new(g, "RD", t);
    const char *name = x->text + r->name;
    if (flag > 0 && x->c->rivers[flag - 1].rank == 1)
        name = bridge_name(x, flag - 1, t);
    situ__demo_feat_text(f, "name", name);
    if (r->ref >= 0)
        situ__demo_feat_text(f, "ref", x->text + r->ref);
    situ__demo_feat_text(f, "class", situ_roads_class_name(r->cls));
    static const char *const oneway[] = {"no", "yes", "reverse"};
    situ__demo_feat_text(f, "oneway", oneway[r->oneway]);
    double speed = flag == SEG_TUNNEL && r->speed_kmh > 80 ? 80 : r->speed_kmh;
    if (speed > 0)
        situ__demo_feat_real(f, "speed_kmh", speed, 0);
    if (r->duration_s > 0)
        situ__demo_feat_real(f, "duration_s", r->duration_s, 0);
    situ__demo_feat_bool(f, "bridge", flag > 0);
    situ__demo_feat_bool(f, "tunnel", flag == SEG_TUNNEL);
    situ__demo_feat_int(f, "layer", flag > 0 ? 1 : flag == SEG_TUNNEL ? -1 : 0);
    situ__demo_feat_text(f, "status", r->status);
    if (r->reason) {
        situ__demo_feat_text(f, "closed_reason", r->reason);
        situ__demo_feat_text(f, "closed_by", "transport");
    }
    situ__demo_gen_line(g, x->lon + a, x->lat + a, b - a + 1);
    return situ__demo_gen_emit(g, err);
}

static int emit_road(rd *x, const rd_road *r, situ_err *err)
{
    int end = r->v0 + r->n - 1, rc = 0;
    for (int a = r->v0; !rc && a < end;) {
        int b = a + 1;
        while (b < end && x->seg[b] == x->seg[a])
            b++;
        rc = emit_piece(x, r, a, b, x->seg[a], err);
        a = b;
    }
    return rc;
}

/* ---- the run ---------------------------------------------------------------------------- */

static void rd_dispose(rd *x)
{
    free(x->lon), free(x->lat), free(x->seg), free(x->att), free(x->roads), free(x->text);
    free(x->vhead), free(x->vnext), free(x->rstart), free(x->ritem);
    free(x->tlon), free(x->tlat), free(x->cand), free(x->cand_d);
    free(x->bridge_no), free(x->seat);
}

static int rd_init(rd *x, situ__demo_gen *g)
{
    memset(x, 0, sizeof *x);
    x->g = g, x->c = g->city;
    x->step_mul = g->copy < SITU_DEMO_ROADS_FULL_COPIES ? 1 : SITU_DEMO_ROADS_THIN_STEP;
    x->vcols = (int)ceil((RD_MAXX - RD_MINX) / RD_VCELL);
    x->vrows = (int)ceil((RD_MAXY - RD_MINY) / RD_VCELL);
    x->vhead = malloc((size_t)x->vcols * (size_t)x->vrows * sizeof *x->vhead);
    x->bridge_no = calloc((size_t)x->c->nrivers * (size_t)(x->c->ntownships + 1), sizeof(int));
    x->seat = malloc((size_t)x->c->ntownships * 2 * sizeof *x->seat);
    if (!x->vhead || !x->bridge_no || !x->seat)
        return SITU_ENOMEM;
    for (int t = 0; t < x->c->ntownships; t++)
        seat_point(x, x->c->townships[t].seat_lon, x->c->townships[t].seat_lat, &x->seat[2 * t],
                   &x->seat[2 * t + 1]);
    memset(x->vhead, 0xff, (size_t)x->vcols * (size_t)x->vrows * sizeof *x->vhead);
    return index_rivers(x);
}

static int build(rd *x)
{
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof trunks / sizeof trunks[0]; i++)
        rc = add_trunk(x, &trunks[i]);
    for (int k = 0; !rc && k < x->c->ncounties; k++)
        if (x->c->counties[k].city_seat)
            rc = add_grid(x, &x->c->counties[k]);
    if (!rc)
        rc = prune(x);
    if (!rc)
        rc = add_county_roads(x);
    if (!rc)
        rc = add_township_links(x);
    for (int t = 0; !rc && t < x->c->ntownships; t++)
        rc = add_villages(x, t);
    if (!rc)
        rc = add_ferry(x);
    if (!rc)
        rc = add_service(x);
    return rc;
}

int situ__demo_gen_roads(situ__demo_gen *g, situ_err *err)
{
    rd x;
    situ__demo_gen_begin(g, SITU_C_ROADS);
    int rc = rd_init(&x, g);
    if (!rc)
        rc = build(&x);
    if (rc) {
        rd_dispose(&x);
        return situ_err_set(err, rc, "demo: roads: out of memory");
    }
    for (int i = 0; !rc && i < x.nr; i++)
        rc = emit_road(&x, &x.roads[i], err);
    rd_dispose(&x);
    return rc;
}

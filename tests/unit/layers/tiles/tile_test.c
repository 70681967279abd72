/* tile_test.c: tests layers/tiles/tile.c, tile_geom.c, tile_clip.c,
 * tile_prep.c and tile_pyramid.c: tile address parsing, bounds, the ring
 * pipeline steps, the clipper, exact commands for known geometry, the
 * low-zoom rules, the aggregate pyramid (against a scan, and kept up to
 * date against a cold build), and the independent check: a few hundred
 * tiles decoded by GDAL's MVT driver. */
#include "testlib.h"

#include <gdal.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>
#include <proj.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../../../layers/tiles/tile_private.h"
#include "situ/feed.h"
#include "situ/mvt.h"
#include "situ/nearest.h"
#include "situ/tile.h"
#include "tile_fixture.h"

/* ---- addressing ------------------------------------------------------------- */

static void expect_bad(const char *z, const char *x, const char *y, const char *part)
{
    situ_tile_xyz t = {-7, 7, 7};
    situ_err err = {0};
    assert_int_equal(situ_tile_parse(z, x, y, &t, &err), SITU_EINVAL);
    assert_int_equal(t.z, -7); /* out-parameter untouched */
    char want[8];
    snprintf(want, sizeof want, "%s:", part);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("'%s/%s/%s': message '%s' does not name %s", z ? z : "(null)", x, y, err.msg,
                 part);
}

static void parse_validates_each_part(void **state)
{
    (void)state;
    situ_tile_xyz t;
    situ_err err = {0};
    assert_int_equal(situ_tile_parse("0", "0", "0", &t, &err), 0);
    assert_int_equal(t.z, 0);
    assert_int_equal(situ_tile_parse("22", "4194303", "4194303", &t, &err), 0);
    assert_int_equal(t.x, 4194303u);
    assert_int_equal(situ_tile_parse("12", "3317", "1733", &t, &err), 0);
    assert_int_equal(t.y, 1733u);
    expect_bad("23", "0", "0", "z");
    expect_bad("12", "4096", "0", "x");
    expect_bad("12", "0", "4096", "y");
    expect_bad("0", "1", "0", "x");
    expect_bad("-1", "0", "0", "z");
    expect_bad("5", "abc", "0", "x");
    expect_bad("5", "0", "99999999999999999999", "y");
    expect_bad("5", "0", "4294967296", "y");
    expect_bad("5", "", "0", "x");
    expect_bad(NULL, "0", "0", "z");
    expect_bad("05", "0", "0", "z");
    expect_bad("1.5", "0", "0", "z");
    expect_bad("1", " 1", "0", "x");
    expect_bad("1", "1", "0x", "y");
    expect_bad("1", "+1", "0", "x");
}

static void parse_path_and_set(void **state)
{
    (void)state;
    situ_tile_xyz t;
    situ_err err = {0};
    assert_int_equal(situ_tile_parse_path("12/3370/1720.mvt", ".mvt", &t, &err), 0);
    assert_true(t.z == 12 && t.x == 3370 && t.y == 1720);
    assert_int_equal(situ_tile_parse_path("0/0/0", "", &t, &err), 0);
    assert_int_equal(situ_tile_parse_path("12/3370/1720", ".mvt", &t, &err), SITU_EINVAL);
    assert_int_equal(situ_tile_parse_path("12/3370.mvt", ".mvt", &t, &err), SITU_EINVAL);
    assert_int_equal(situ_tile_parse_path("12/3370/17/20.mvt", ".mvt", &t, &err), SITU_EINVAL);
    assert_int_equal(
        situ_tile_parse_path("12/99999999999999999999999999999999999/1.mvt", ".mvt", &t, &err),
        SITU_EINVAL);
    assert_non_null(strstr(err.msg, "x:"));
    int set = -1;
    assert_int_equal(situ_tile_set_parse("all", &set, &err), 0);
    assert_int_equal(set, SITU_TILESET_ALL);
    assert_int_equal(situ_tile_set_parse("hazard_sources", &set, &err), 0);
    assert_int_equal(set, SITU_C_HAZARD_SOURCES);
    assert_int_equal(situ_tile_set_parse("nope", &set, &err), SITU_ENOTFOUND);
    assert_int_equal(situ_tile_set_parse(NULL, &set, &err), SITU_ENOTFOUND);
}

static void bounds_and_projection(void **state)
{
    (void)state;
    double b[4];
    const double half = 20037508.342789244;
    situ_tile_bounds_3857((situ_tile_xyz){0, 0, 0}, b);
    situ_assert_near(b[0], -half, 1e-6);
    situ_assert_near(b[3], half, 1e-6);
    situ_tile_bounds_3857((situ_tile_xyz){1, 1, 0}, b);
    situ_assert_near(b[0], 0, 1e-6);
    situ_assert_near(b[1], 0, 1e-6);
    situ_tile_bounds_lonlat((situ_tile_xyz){0, 0, 0}, 4096, 0, b);
    situ_assert_near(b[0], -180, 1e-9);
    situ_assert_near(b[2], 180, 1e-9);
    situ_assert_near(b[3], 85.0511287798, 1e-7);
    situ_tile_bounds_lonlat((situ_tile_xyz){1, 0, 0}, 4096, 64, b);
    situ_assert_near(b[0], -180 - 180.0 * 64 / 4096, 1e-9);
    situ_assert_near(b[1], -180.0 / M_PI * atan(sinh(M_PI * 64 / 4096)), 1e-9);
    double x, y;
    situ_tile_project(0, 0, &x, &y);
    situ_assert_near(x, 0.5, 1e-15);
    situ_assert_near(y, 0.5, 1e-15);
    situ_tile_project(180, 89, &x, &y);
    situ_assert_near(x, 1, 1e-15);
    situ_assert_near(y, 0, 1e-12);
}

/* PROJ's EPSG:4326 -> EPSG:3857 in lon/lat order, the oracle for the
 * projection away from the equator and the clamp. */
static PJ *proj_to_3857(void)
{
    PJ *crs = proj_create_crs_to_crs(PJ_DEFAULT_CTX, "EPSG:4326", "EPSG:3857", NULL);
    assert_non_null(crs);
    PJ *norm = proj_normalize_for_visualization(PJ_DEFAULT_CTX, crs);
    proj_destroy(crs);
    assert_non_null(norm);
    return norm;
}

/* The thread's memory of projected latitudes (tile_project_memo) gives
 * the very doubles tile_project does, on a miss and on a hit, whichever
 * latitudes share a slot; clamped ones and -0 included, NaN not kept. */
static void projection_memo_equals_projection(void **state)
{
    (void)state;
    static tile_ymemo m;
    situ__ymemo_init(&m);
    const double more[] = {0.0, -0.0, 85.0511287798066, 89.9, -90, 1e-300, 26.4001};
    for (int pass = 0; pass < 3; pass++)
        for (int i = 0; i < 40000 + 7; i++) {
            double lat = i < 40000 ? -90 + i * 0.0045 + pass * 1e-9 : more[i - 40000];
            double lon = 111 + i * 1e-5, x, y, mx, my;
            tile_project(lon, lat, &x, &y);
            tile_project_memo(&m, lon, lat, &mx, &my);
            assert_memory_equal(&x, &mx, sizeof x);
            assert_memory_equal(&y, &my, sizeof y);
            tile_project_memo(&m, lon, lat, &mx, &my); /* a hit */
            assert_memory_equal(&y, &my, sizeof y);
            double next = nextafter(lat, 100); /* a key a bit apart */
            tile_project(lon, next, &x, &y);
            tile_project_memo(&m, lon, next, &mx, &my);
            assert_memory_equal(&y, &my, sizeof y);
        }
    situ__ymemo_init(&m); /* a NaN, even of an empty slot's bits, is projected */
    double x, y, nan_empty;
    memcpy(&nan_empty, &(uint64_t){TILE_YMEMO_EMPTY}, sizeof nan_empty);
    tile_project_memo(&m, 111, nan_empty, &x, &y);
    assert_true(y != y);
    tile_project_memo(&m, 111, NAN, &x, &y);
    assert_true(y != y);
}

static void projection_matches_proj_at_mid_latitudes(void **state)
{
    (void)state;
    const double half = 20037508.342789244;
    const double lats[] = {-75.3, -60, -45.5, -23.44, 12.3, 25.6, 26.05, 33.3, 45, 60.2, 80.1};
    const double lons[] = {-150.7, -45, 0.3, 111.6, 179.9};
    PJ *pj = proj_to_3857();
    for (size_t i = 0; i < sizeof lats / sizeof *lats; i++)
        for (size_t j = 0; j < sizeof lons / sizeof *lons; j++) {
            PJ_COORD want = proj_trans(pj, PJ_FWD, proj_coord(lons[j], lats[i], 0, 0));
            double x, y;
            situ_tile_project(lons[j], lats[i], &x, &y);
            situ_assert_near(x * 2 * half - half, want.xy.x, 1e-5);
            situ_assert_near(half - y * 2 * half, want.xy.y, 1e-5);
        }
    /* a z12 tile over Yongzhou and one at 60 N: corners back through PROJ */
    const situ_tile_xyz tiles[] = {{12, 3318, 1719}, {12, 2100, 1200}};
    for (size_t i = 0; i < sizeof tiles / sizeof *tiles; i++) {
        double m[4], ll[4];
        situ_tile_bounds_3857(tiles[i], m);
        situ_tile_bounds_lonlat(tiles[i], 4096, 0, ll);
        PJ_COORD lo = proj_trans(pj, PJ_INV, proj_coord(m[0], m[1], 0, 0));
        PJ_COORD hi = proj_trans(pj, PJ_INV, proj_coord(m[2], m[3], 0, 0));
        situ_assert_near(ll[0], lo.lp.lam, 1e-9);
        situ_assert_near(ll[1], lo.lp.phi, 1e-9);
        situ_assert_near(ll[2], hi.lp.lam, 1e-9);
        situ_assert_near(ll[3], hi.lp.phi, 1e-9);
    }
    proj_destroy(pj);
}

/* ---- the ring pipeline ------------------------------------------------------ */

/* Squared distance from point i to the segment joining its kept neighbours. */
static float ref_displacement(const double *xy, const char *keep, size_t i)
{
    size_t p = i - 1, q = i + 1;
    while (!keep[p])
        p--;
    while (!keep[q])
        q++;
    const double *a = xy + 2 * p, *b = xy + 2 * q, *m = xy + 2 * i;
    double dx = b[0] - a[0], dy = b[1] - a[1], t = 0;
    if (dx != 0 || dy != 0)
        t = ((m[0] - a[0]) * dx + (m[1] - a[1]) * dy) / (dx * dx + dy * dy);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double ex = m[0] - (a[0] + t * dx), ey = m[1] - (a[1] + t * dy);
    return (float)(ex * ex + ey * ey);
}

/* Bottom-up simplification the plain quadratic way: removes the point of
 * least key (then least index) while that key is at most tol2; a removal
 * gives each neighbour its new displacement, but never less than its own. */
static void vw_reference(const double *xy, size_t n, const char *anchor, float tol2, char *keep)
{
    float key[512];
    for (size_t i = 0; i < n; i++)
        keep[i] = 1;
    for (size_t i = 1; i + 1 < n; i++)
        key[i] = anchor[i] ? INFINITY : ref_displacement(xy, keep, i);
    for (;;) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (keep[i] && !anchor[i] && (!best || key[i] < key[best]))
                best = i;
        if (!best || key[best] > tol2)
            return;
        keep[best] = 0;
        size_t p = best - 1, q = best + 1;
        while (!keep[p])
            p--;
        while (!keep[q])
            q++;
        if (!anchor[p])
            key[p] = fmaxf(ref_displacement(xy, keep, p), key[best]);
        if (!anchor[q])
            key[q] = fmaxf(ref_displacement(xy, keep, q), key[best]);
    }
}

static void importance_filter_equals_bottom_up(void **state)
{
    (void)state;
    tile_fixture f = {.rng = 7};
    enum { N = 201 };
    double xy[2 * N];
    float imp[N];
    uint32_t work[4 * N];
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < N - 1; i++) {
            double a = 2 * M_PI * i / (N - 1), r = 100 * (1 - 0.4 * fx_rand(&f));
            xy[2 * i] = r * cos(a), xy[2 * i + 1] = r * sin(a);
        }
        xy[2 * (N - 1)] = xy[0], xy[2 * (N - 1) + 1] = xy[1];
        situ__ring_importance(xy, N, imp, work);
        char anchor[N] = {0};
        for (size_t i = 0; i < N; i++)
            anchor[i] = imp[i] == INFINITY;
        assert_true(anchor[0] && anchor[N - 1]);
        for (double tol = 0.25; tol < 60; tol *= 2) {
            char keep[N];
            vw_reference(xy, N, anchor, (float)(tol * tol), keep);
            for (int i = 0; i < N; i++)
                assert_int_equal(keep[i], imp[i] > (float)(tol * tol));
        }
    }
}

static void snap_clean_area(void **state)
{
    (void)state;
    const double in[] = {0.4, 0.4, 0.6, 0.4, 10.2, 0.1, 10.2, 9.9, 0.3, 0.2};
    int32_t out[10];
    /* (0,0) (1,0) (10,0) (10,10) (0,0): the closing repeat goes */
    assert_int_equal(situ__ring_snap(in, 5, -64, 4160, out), 4);
    const int32_t want[] = {0, 0, 1, 0, 10, 0, 10, 10};
    assert_memory_equal(out, want, sizeof want);
    /* a point within half a unit of the buffered edge stays inside it */
    const double edge[] = {4159.7, 5, 4160, 6, 4159.2, 7.4, -63.6, 8};
    int32_t e[8];
    assert_int_equal(situ__ring_snap(edge, 4, -64, 4160, e), 4);
    assert_int_equal(e[0], 4159);
    assert_int_equal(e[2], 4160);
    assert_int_equal(e[4], 4159);
    assert_int_equal(e[6], -63);
    /* a spike and a collinear point go; the square stays */
    int32_t sq[] = {0, 0, 5, 0, 10, 0, 10, 5, 15, 5, 10, 5, 10, 10, 0, 10};
    size_t k = situ__ring_clean(sq, 8);
    assert_int_equal(k, 4);
    const int32_t square[] = {0, 0, 10, 0, 10, 10, 0, 10};
    assert_memory_equal(sq, square, sizeof square);
    assert_int_equal(situ__ring_area2(sq, 4), 200); /* exterior: positive, clockwise on screen */
    situ__ring_reverse(sq, 4);
    assert_int_equal(situ__ring_area2(sq, 4), -200);
    int32_t line[] = {0, 0, 5, 0, 10, 0, 5, 0};
    assert_int_equal(situ__ring_clean(line, 4), 0);
    int32_t seam[] = {5, 0, 10, 0, 10, 10, 0, 10, 0, 0}; /* collinear across the seam */
    assert_int_equal(situ__ring_clean(seam, 5), 4);
}

/* Fills a one-polygon ring set from integer points (exterior first). */
static void rings_of(tile_rings *r, const double *const *rings, const size_t *n, size_t nrings)
{
    situ__rings_reset(r);
    for (size_t i = 0; i < nrings; i++) {
        assert_int_equal(situ__rings_room(r, n[i], 1), 0);
        memcpy(r->xy + 2 * r->n, rings[i], 2 * n[i] * sizeof(double));
        r->n += n[i];
        situ__rings_end(r, 0);
    }
}

static double ring_area(const tile_rings *r, size_t i)
{
    double a = 0;
    const double *p = r->xy + 2 * (size_t)r->off[i];
    size_t n = r->off[i + 1] - r->off[i];
    for (size_t k = 0, j = n - 1; k < n; j = k++)
        a += p[2 * j] * p[2 * k + 1] - p[2 * k] * p[2 * j + 1];
    return a / 2;
}

static void clipper_makes_parts_not_bridges(void **state)
{
    (void)state;
    tile_rings in = {0}, out = {0}, runs = {0};
    /* an upside-down U whose bar lies outside: two separate legs */
    const double u[] = {10, -50, 90, -50, 90, 60, 70, 60, 70, -20, 30, -20, 30, 60, 10, 60};
    const double *r1[] = {u};
    size_t n1[] = {8};
    rings_of(&in, r1, n1, 1);
    assert_true(ring_area(&in, 0) > 0);
    assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
    assert_int_equal(out.nrings, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(out.parent[i], i);
        situ_assert_near(ring_area(&out, i), 20 * 60, 1e-9);
    }
    /* a hole cut by the edge becomes a notch of the exterior */
    const double big[] = {-50, -50, 150, -50, 150, 150, -50, 150};
    const double notch[] = {80, 40, 80, 60, 120, 60, 120, 40};
    const double *r2[] = {big, notch};
    size_t n2[] = {4, 4};
    rings_of(&in, r2, n2, 2);
    assert_true(ring_area(&in, 1) < 0);
    situ__rings_reset(&out);
    assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
    assert_int_equal(out.nrings, 1);
    situ_assert_near(ring_area(&out, 0), 100 * 100 - 20 * 20, 1e-9);
    /* the tile inside a hole: nothing */
    const double hole[] = {-20, -20, -20, 120, 120, 120, 120, -20};
    const double *r3[] = {big, hole};
    rings_of(&in, r3, n2, 2);
    situ__rings_reset(&out);
    assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
    assert_int_equal(out.nrings, 0);
    /* an exterior around the tile: the tile's square */
    const double *r4[] = {big};
    size_t n4[] = {4};
    rings_of(&in, r4, n4, 1);
    situ__rings_reset(&out);
    assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
    assert_int_equal(out.nrings, 1);
    assert_int_equal(out.off[1], 4);
    situ_assert_near(ring_area(&out, 0), 100 * 100, 1e-9);
    /* a hole wholly inside stays a hole of the clipped exterior */
    const double left[] = {-50, -50, 50, -50, 50, 150, -50, 150};
    const double inner[] = {10, 10, 10, 20, 20, 20, 20, 10};
    const double *r5[] = {left, inner};
    rings_of(&in, r5, n2, 2);
    situ__rings_reset(&out);
    assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
    assert_int_equal(out.nrings, 2);
    assert_int_equal(out.parent[0], 0);
    assert_int_equal(out.parent[1], 0);
    situ_assert_near(ring_area(&out, 0), 50 * 100, 1e-9);
    situ_assert_near(ring_area(&out, 1), -100, 1e-9);
    situ__rings_dispose(&in), situ__rings_dispose(&out), situ__rings_dispose(&runs);
}

/* A comb of 50,000 teeth hanging from a bar beyond the square's top edge:
 * 50,000 runs to join, each tooth a part of its own (joining them scanned
 * every run per run: quadratic); then the bar inside, the teeth beyond. */
static void clipper_joins_a_comb_of_50000_teeth(void **state)
{
    (void)state;
    enum { T = 50000 };
    tile_rings in = {0}, out = {0}, runs = {0};
    double *comb = malloc((4 * T + 4) * 2 * sizeof *comb);
    size_t n = 0;
#define PUT(x, y) (comb[2 * n] = (x), comb[2 * n + 1] = (y), n++)
    PUT(0, -50), PUT(2 * T - 1, -50);
    for (int k = T - 1; k >= 0; k--) {
        PUT(2 * k + 1, 60), PUT(2 * k, 60);
        if (k > 0)
            PUT(2 * k, -20), PUT(2 * k - 1, -20);
    }
#undef PUT
    const double *r[] = {comb};
    rings_of(&in, r, &n, 1);
    assert_true(ring_area(&in, 0) > 0);
    assert_int_equal(situ__poly_clip(&in, -10, 2 * T + 10, &out, &runs), 0);
    assert_int_equal(out.nrings, T);
    for (size_t i = 0; i < T; i++) {
        assert_int_equal(out.parent[i], i);
        situ_assert_near(ring_area(&out, i), 1 * 70, 1e-9);
        assert_int_equal(out.off[i + 1] - out.off[i], 4);
    }
    /* the bar inside, the teeth cut by the bottom edge: each run joins the
     * next tooth's, into one ring */
    for (size_t i = 0; i < n; i++)
        comb[2 * i + 1] = comb[2 * i + 1] == -50 ? 0 : comb[2 * i + 1] == -20 ? 30 : 2 * T + 50;
    rings_of(&in, r, &n, 1);
    situ__rings_reset(&out);
    assert_int_equal(situ__poly_clip(&in, -10, 2 * T + 10, &out, &runs), 0);
    assert_int_equal(out.nrings, 1);
    situ_assert_near(ring_area(&out, 0), (2.0 * T - 1) * 30 + T * (2.0 * T + 10 - 30), 1e-3);
    free(comb);
    situ__rings_dispose(&in), situ__rings_dispose(&out), situ__rings_dispose(&runs);
}

/* ---- encoding --------------------------------------------------------------- */

typedef struct srcs {
    situ_tilesrc *s[SITU_NCOLLECTIONS];
} srcs;

static void srcs_open(srcs *p, const situ_snapshot *snap)
{
    situ_err err = {0};
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        assert_int_equal(situ_tilesrc_new(snap->colls[i], &p->s[i], &err), 0);
}

static void srcs_close(srcs *p)
{
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_tilesrc_release(p->s[i]);
}

/* The tile at zoom z holding lon/lat. */
static situ_tile_xyz tile_at(int z, double lon, double lat)
{
    double x, y;
    situ_tile_project(lon, lat, &x, &y);
    return (situ_tile_xyz){z, (uint32_t)(x * (1 << z)), (uint32_t)(y * (1 << z))};
}

/* lon/lat to tile units of t. */
static void to_tile(situ_tile_xyz t, double lon, double lat, double *px, double *py)
{
    double x, y;
    situ_tile_project(lon, lat, &x, &y);
    *px = x * (1 << t.z) * 4096 - t.x * 4096.0;
    *py = y * (1 << t.z) * 4096 - t.y * 4096.0;
}

static situ_mvt_tile *encode_one(const situ_tilesrc *src, situ_tile_xyz t, const situ_tile_opts *o,
                                 situ_buf *buf, situ_tile_stats *st)
{
    situ_err err = {0};
    buf->n = 0;
    assert_int_equal(situ_tile_encode_coll(src, t, o, buf, st, &err), 0);
    situ_mvt_tile *mt = NULL;
    assert_int_equal(situ_mvt_decode(buf->p, buf->n, &mt, &err), 0);
    return mt;
}

/* A township rectangle with a square hole, wholly inside one z13 tile:
 * exactly its snapped corners, exterior clockwise on screen first. */
static void known_polygon_exact_commands(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    const situ_coll *c = fx.snap->colls[SITU_C_TOWNSHIPS];
    long fi = situ_coll_find(c, "431102005"); /* the township with a hole */
    assert_true(fi >= 0);
    const situ_feature *f = &c->feats[fi];
    situ_tile_xyz t = tile_at(11, (f->bbox[0] + f->bbox[2]) / 2, (f->bbox[1] + f->bbox[3]) / 2);
    situ_tilesrc *src;
    situ_err err = {0};
    assert_int_equal(situ_tilesrc_new(fx.snap->colls[SITU_C_TOWNSHIPS], &src, &err), 0);
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    o.simplify = 0; /* every corner stays */
    situ_buf buf;
    situ_buf_init(&buf);
    situ_mvt_tile *mt = encode_one(src, t, &o, &buf, NULL);
    assert_int_equal(mt->nlayers, 1);
    const situ_mvt_rlayer *l = &mt->layers[0];
    const situ_mvt_feature *ft = NULL;
    for (size_t i = 0; i < l->nfeats; i++)
        if (l->feats[i].id == situ_tile_feature_id("431102005"))
            ft = &l->feats[i];
    assert_non_null(ft);
    assert_int_equal(ft->type, SITU_MVT_POLYGON);
    /* the corners, snapped, from the source box */
    double x0, y0, x1, y1;
    to_tile(t, f->bbox[0], f->bbox[3], &x0, &y0); /* north-west: top-left */
    to_tile(t, f->bbox[2], f->bbox[1], &x1, &y1);
    assert_true(x0 > 0 && x1 < 4096 && y0 > 0 && y1 < 4096); /* wholly inside */
    int32_t X0 = (int32_t)lrint(x0), Y0 = (int32_t)lrint(y0), X1 = (int32_t)lrint(x1),
            Y1 = (int32_t)lrint(y1);
    /* the hole: a sixth of the box each side of the centre */
    double cx = (f->bbox[0] + f->bbox[2]) / 2, cy = (f->bbox[1] + f->bbox[3]) / 2;
    double w = (f->bbox[2] - f->bbox[0]) / 6, h = (f->bbox[3] - f->bbox[1]) / 6, hx0, hy0, hx1, hy1;
    to_tile(t, cx - w, cy + h, &hx0, &hy0);
    to_tile(t, cx + w, cy - h, &hx1, &hy1);
    int32_t H0 = (int32_t)lrint(hx0), V0 = (int32_t)lrint(hy0), H1 = (int32_t)lrint(hx1),
            V1 = (int32_t)lrint(hy1);
    /* rings are taken backwards from their last point: the exterior (stored
     * counter-clockwise from the south-west corner) comes out top-left,
     * top-right, bottom-right, bottom-left (clockwise on screen); the hole
     * (stored clockwise) bottom-right, top-right, top-left, bottom-left */
    uint32_t want[] = {
        9,
        situ_mvt_zigzag(X0),
        situ_mvt_zigzag(Y0),
        26,
        situ_mvt_zigzag(X1 - X0),
        0,
        0,
        situ_mvt_zigzag(Y1 - Y0),
        situ_mvt_zigzag(X0 - X1),
        0,
        15,
        9,
        situ_mvt_zigzag(H1 - X0),
        situ_mvt_zigzag(V1 - Y1),
        26,
        0,
        situ_mvt_zigzag(V0 - V1),
        situ_mvt_zigzag(H0 - H1),
        0,
        0,
        situ_mvt_zigzag(V1 - V0),
        15,
    };
    if (ft->ngeom != sizeof want / sizeof want[0] || memcmp(ft->geom, want, sizeof want)) {
        for (size_t i = 0; i < ft->ngeom; i++)
            fprintf(stderr, "%u%s", ft->geom[i], i + 1 < ft->ngeom ? " " : "\n");
        fail_msg("commands differ from the snapped corners");
    }
    int32_t *xy;
    uint32_t *parts;
    size_t npts, nparts;
    assert_int_equal(situ_mvt_geom_decode(ft, &xy, &npts, &parts, &nparts, &err), 0);
    assert_int_equal(nparts, 2);
    assert_true(situ__ring_area2(xy, parts[0]) > 0);
    assert_true(situ__ring_area2(xy + 2 * parts[0], parts[1]) < 0);
    free(xy), free(parts);
    situ_mvt_tile_free(mt);
    situ_buf_dispose(&buf);
    situ_tilesrc_release(src);
    fixture_close(&fx);
}

/* Looks up a property of feature ft in layer l; NULL when absent. */
static const situ_mvt_value *prop(const situ_mvt_rlayer *l, const situ_mvt_feature *ft,
                                  const char *key)
{
    for (size_t t = 0; t < ft->ntags; t++)
        if (!strcmp(l->keys[ft->tags[2 * t]], key))
            return &l->vals[ft->tags[2 * t + 1]];
    return NULL;
}

/* 1 when tiles of collection c carry property key `name` (TileJSON's list). */
typedef struct carried_ctx {
    const char *name;
    int found;
} carried_ctx;

static void carried_fn(void *ctx, const char *key, const char *type, int cluster_only)
{
    carried_ctx *k = ctx;
    (void)type, (void)cluster_only;
    k->found |= !strcmp(key, k->name);
}

static int carried(const situ_collection *c, const char *name)
{
    carried_ctx k = {name, 0};
    situ_tile_fields(c, carried_fn, &k);
    return k.found;
}

/* The default options with every collection's points written as
 * themselves (no clustering). */
static void opts_unclustered(situ_tile_opts *o)
{
    situ_tile_opts_default(o);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        o->cluster_maxzoom[i] = -1;
}

static void properties_keep_their_types(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    srcs p;
    srcs_open(&p, fx.snap);
    situ_tile_opts o;
    opts_unclustered(&o);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_tile_xyz t = tile_at(9, 111.6, 26.4);
    size_t checked = 0;
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        const situ_coll *c = fx.snap->colls[cid];
        situ_mvt_tile *mt = encode_one(p.s[cid], t, &o, &buf, NULL);
        assert_int_equal(mt->nlayers, 1);
        const situ_mvt_rlayer *l = &mt->layers[0];
        assert_string_equal(l->name, c->c->id);
        for (size_t i = 0; i < l->nfeats; i++) {
            const situ_mvt_value *id = prop(l, &l->feats[i], "id");
            assert_non_null(id);
            char sid[64];
            snprintf(sid, sizeof sid, "%.*s", (int)id->n, id->s);
            long fi = situ_coll_find(c, sid);
            assert_true(fi >= 0);
            assert_int_equal(l->feats[i].id, situ_tile_feature_id(sid));
            const situ_feature *f = &c->feats[fi];
            for (int k = 0; k < c->c->nfields; k++) {
                const situ_value *v = &f->values[k];
                const situ_mvt_value *mv = prop(l, &l->feats[i], c->c->fields[k].name);
                if (!v->type || !carried(c->c, c->c->fields[k].name)) {
                    assert_null(mv);
                    continue;
                }
                assert_non_null(mv);
                if (v->type == SITU_FT_TEXT) {
                    assert_int_equal(mv->type, SITU_MVT_V_STRING);
                    assert_int_equal(mv->n, strlen(v->u.s));
                    assert_memory_equal(mv->s, v->u.s, mv->n);
                } else if (v->type == SITU_FT_INT) {
                    assert_true(mv->type == SITU_MVT_V_INT || mv->type == SITU_MVT_V_SINT);
                    assert_int_equal(mv->i, v->u.i);
                } else if (v->type == SITU_FT_REAL) {
                    assert_int_equal(mv->type, SITU_MVT_V_DOUBLE);
                    assert_true(mv->d == v->u.d);
                } else {
                    assert_int_equal(mv->type, SITU_MVT_V_BOOL);
                    assert_int_equal(mv->i, v->u.i != 0);
                }
                checked++;
            }
            for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++) {
                char key[64];
                snprintf(key, sizeof key, "item_%s", situ_schema_item(c->held[h].item)->code);
                const situ_mvt_value *mv = prop(l, &l->feats[i], key);
                assert_non_null(mv);
                double q = mv->type == SITU_MVT_V_DOUBLE ? mv->d : (double)mv->i;
                assert_true(q == c->held[h].quantity);
                checked++;
            }
        }
        /* keys and values are shared: no duplicates in the tables */
        for (size_t a = 0; a < l->nkeys; a++)
            for (size_t b = a + 1; b < l->nkeys; b++)
                assert_string_not_equal(l->keys[a], l->keys[b]);
        for (size_t a = 0; a < l->nvals; a++)
            for (size_t b = a + 1; b < l->nvals; b++)
                assert_false(l->vals[a].type == l->vals[b].type && l->vals[a].n == l->vals[b].n &&
                             l->vals[a].i == l->vals[b].i && l->vals[a].d == l->vals[b].d &&
                             (!l->vals[a].n || !memcmp(l->vals[a].s, l->vals[b].s, l->vals[a].n)));
        situ_mvt_tile_free(mt);
    }
    assert_true(checked > 500);
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

/* Clusters list their first ids, aggregates (below aggregate_below) do not. */
static int expect_ids = 1;

/* Counts features of a layer: individual ones and the points clusters hold. */
static void count_layer(const situ_mvt_rlayer *l, size_t *individual, size_t *in_clusters,
                        size_t *clusters, size_t *points)
{
    *individual = *in_clusters = *clusters = *points = 0;
    for (size_t i = 0; i < l->nfeats; i++) {
        const situ_mvt_value *n = prop(l, &l->feats[i], "point_count");
        const situ_mvt_value *cl = prop(l, &l->feats[i], "cluster");
        if (n) {
            assert_non_null(cl);
            assert_false(l->feats[i].has_id);
            assert_true(!prop(l, &l->feats[i], "ids") == !expect_ids);
            (*clusters)++;
            *in_clusters += (size_t)n->i;
        } else {
            assert_non_null(prop(l, &l->feats[i], "id"));
            (*individual)++;
        }
        *points += l->feats[i].type == SITU_MVT_POINT;
    }
}

static size_t points_in_buffered(const situ_coll *c, situ_tile_xyz t)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++) {
        double x, y;
        to_tile(t, c->feats[i].x, c->feats[i].y, &x, &y);
        n += x >= -64 && x <= 4160 && y >= -64 && y <= 4160;
    }
    return n;
}

static void low_zoom_rules(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    srcs p;
    srcs_open(&p, fx.snap);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_tile_stats st;
    size_t ind, inc, ncl, npt;
    /* hazards at z9: hot spots cluster, nothing is lost */
    situ_tile_xyz t = tile_at(9, 111.6, 26.4);
    const situ_coll *hz = fx.snap->colls[SITU_C_HAZARDS];
    situ_mvt_tile *mt = encode_one(p.s[SITU_C_HAZARDS], t, NULL, &buf, &st);
    count_layer(&mt->layers[0], &ind, &inc, &ncl, &npt);
    assert_true(ncl > 0);
    assert_int_equal(ind + inc, points_in_buffered(hz, t));
    assert_int_equal(st.clusters, ncl);
    situ_mvt_tile_free(mt);
    /* hazard sources from z8 up never cluster: every one is itself */
    t = tile_at(8, 111.6, 26.4);
    mt = encode_one(p.s[SITU_C_HAZARD_SOURCES], t, NULL, &buf, &st);
    count_layer(&mt->layers[0], &ind, &inc, &ncl, &npt);
    assert_int_equal(ncl, 0);
    assert_int_equal(ind, points_in_buffered(fx.snap->colls[SITU_C_HAZARD_SOURCES], t));
    situ_mvt_tile_free(mt);
    /* risk zones at z5: aggregates only, one per cell, every zone counted once */
    t = tile_at(5, 111.6, 26.4);
    mt = encode_one(p.s[SITU_C_RISK_ZONES], t, NULL, &buf, &st);
    expect_ids = 0;
    count_layer(&mt->layers[0], &ind, &inc, &ncl, &npt);
    expect_ids = 1;
    assert_int_equal(ind, 0);
    assert_true(ncl > 0);
    assert_int_equal(st.clustered, fx.snap->colls[SITU_C_RISK_ZONES]->n);
    situ_mvt_tile_free(mt);
    /* without aggregates: absent below their minzoom, unless the options say so */
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    o.aggregate_below = 0;
    o.minzoom[SITU_C_RISK_ZONES] = 6;
    buf.n = 0;
    situ_err err = {0};
    assert_int_equal(situ_tile_encode_coll(p.s[SITU_C_RISK_ZONES], t, &o, &buf, &st, &err), 0);
    assert_int_equal(buf.n, 0);
    o.minzoom[SITU_C_RISK_ZONES] = 0;
    o.cluster_maxzoom[SITU_C_RISK_ZONES] = -1;
    mt = encode_one(p.s[SITU_C_RISK_ZONES], t, &o, &buf, &st);
    count_layer(&mt->layers[0], &ind, &inc, &ncl, &npt);
    /* at z5 the zones are tiny: points at their interior point, each one there */
    assert_int_equal(ind, fx.snap->colls[SITU_C_RISK_ZONES]->n);
    assert_true(npt > 0);
    assert_int_equal(st.collapsed, npt);
    situ_mvt_tile_free(mt);
    /* with clustering, small zones in dense cells cluster and the rest stay */
    o.cluster_maxzoom[SITU_C_RISK_ZONES] = 9;
    mt = encode_one(p.s[SITU_C_RISK_ZONES], t, &o, &buf, &st);
    count_layer(&mt->layers[0], &ind, &inc, &ncl, &npt);
    assert_true(ncl > 0);
    assert_int_equal(ind + inc, fx.snap->colls[SITU_C_RISK_ZONES]->n);
    situ_mvt_tile_free(mt);
    /* an empty place: no bytes */
    buf.n = 0;
    assert_int_equal(
        situ_tile_encode_coll(p.s[SITU_C_HAZARDS], (situ_tile_xyz){3, 0, 0}, NULL, &buf, &st, &err),
        0);
    assert_int_equal(buf.n, 0);
    assert_int_equal(
        situ_tile_encode_coll(p.s[SITU_C_HAZARDS], (situ_tile_xyz){3, 8, 0}, NULL, &buf, &st, &err),
        SITU_EINVAL);
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

/* Tiles of zooms z0..z1 from the town's west edge to `east` and its north
 * edge to `north` (and 0.01 past the other edges), at most `per_zoom` a
 * zoom taken evenly. Returns the count. */
static size_t sample_tiles(situ_tile_xyz *out, size_t max, int z0, int z1, double east,
                           double north, size_t per_zoom)
{
    size_t n = 0;
    for (int z = z0; z <= z1; z++) {
        situ_tile_xyz a = tile_at(z, FX_LON0 - 0.01, FX_LAT0 + FX_SPAN + north);
        situ_tile_xyz b = tile_at(z, FX_LON0 + FX_SPAN + east, FX_LAT0 - 0.01);
        size_t w = b.x - a.x + 1, h = b.y - a.y + 1, all = w * h;
        size_t step = (all + per_zoom - 1) / per_zoom;
        for (size_t i = 0; i < all && n < max; i += step)
            out[n++] = (situ_tile_xyz){z, a.x + (uint32_t)(i % w), a.y + (uint32_t)(i / w)};
    }
    return n;
}

/* The tiles of the test: per zoom 5..17, the tiles over the town (at most
 * 60 a zoom, taken evenly). Returns the count. */
static size_t test_tiles(situ_tile_xyz *out, size_t max)
{
    return sample_tiles(out, max, 5, 17, 0.01, 0.01, 60);
}

/* Every polygon of many tiles, by our own decoder: rings of 3+ distinct
 * points, no point twice in a ring, exterior first with positive area,
 * holes negative. */
static void rings_are_clean_and_oriented(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    srcs p;
    srcs_open(&p, fx.snap);
    situ_tile_xyz tiles[600];
    size_t nt = test_tiles(tiles, 600), polys = 0;
    situ_buf buf;
    situ_buf_init(&buf);
    situ_err err = {0};
    for (size_t i = 0; i < nt; i++)
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
            if (fx.snap->colls[cid]->c->gtype != SITU_GT_MULTIPOLYGON)
                continue;
            situ_mvt_tile *mt = encode_one(p.s[cid], tiles[i], NULL, &buf, NULL);
            for (size_t k = 0; mt->nlayers && k < mt->layers[0].nfeats; k++) {
                const situ_mvt_feature *ft = &mt->layers[0].feats[k];
                if (ft->type != SITU_MVT_POLYGON)
                    continue;
                int32_t *xy;
                uint32_t *parts;
                size_t npts, nparts;
                assert_int_equal(situ_mvt_geom_decode(ft, &xy, &npts, &parts, &nparts, &err), 0);
                assert_true(nparts >= 1);
                const int32_t *r = xy;
                for (size_t q = 0; q < nparts; r += 2 * parts[q], q++) {
                    assert_true(parts[q] >= 3);
                    int64_t a2 = situ__ring_area2(r, parts[q]);
                    assert_true(q > 0 || a2 > 0);
                    assert_true(a2 != 0);
                    for (uint32_t u = 0; u < parts[q]; u++)
                        for (uint32_t v = u + 1; v < parts[q]; v++)
                            assert_false(r[2 * u] == r[2 * v] && r[2 * u + 1] == r[2 * v + 1]);
                    for (uint32_t u = 0; u < parts[q]; u++)
                        assert_true(r[2 * u] >= -64 && r[2 * u] <= 4160 && r[2 * u + 1] >= -64 &&
                                    r[2 * u + 1] <= 4160);
                }
                polys++;
                free(xy), free(parts);
            }
            situ_mvt_tile_free(mt);
        }
    assert_true(polys > 1000);
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

/* ---- a hostile outline -------------------------------------------------------- */

enum { SAW_N = 200000 };
#define SAW_X0 111.55
#define SAW_X1 111.65
#define SAW_Y0 26.40
#define SAW_H 1e-5 /* tooth depth in degrees: ~130 units at z20, half a unit at z12 */

/* A 200,000-vertex alert whose south edge is a sawtooth of equal teeth:
 * the shape that made Douglas-Peucker's split search quadratic. */
static void put_sawtooth_alert(tile_fixture *fx, double depth)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_addc(&b, 1);
    fx_u32(&b, 3);
    fx_u32(&b, 1);
    fx_u32(&b, SAW_N + 3);
    for (int i = 0; i < SAW_N; i++) {
        fx_f64(&b, SAW_X0 + (SAW_X1 - SAW_X0) * i / (SAW_N - 1));
        fx_f64(&b, SAW_Y0 - (i % 2 ? depth : 0));
    }
    fx_f64(&b, SAW_X1), fx_f64(&b, SAW_Y0 + 0.02);
    fx_f64(&b, SAW_X0), fx_f64(&b, SAW_Y0 + 0.02);
    fx_f64(&b, SAW_X0), fx_f64(&b, SAW_Y0);
    situ_err err = {0};
    assert_int_equal(situ_store_begin(fx->store, &err), 0);
    fx_put(fx, situ_schema_collection(SITU_C_ALERTS), 99, &b, (SAW_X0 + SAW_X1) / 2, SAW_Y0);
    assert_int_equal(situ_store_commit(fx->store, &err), 0);
    situ_buf_dispose(&b);
}

/* The points of the feature with this id in a one-layer tile, checked to be
 * one or more non-degenerate rings inside the buffered tile. */
static size_t sawtooth_points_in(const situ_mvt_tile *mt, uint64_t id)
{
    situ_err err = {0};
    assert_int_equal(mt->nlayers, 1);
    for (size_t k = 0; k < mt->layers[0].nfeats; k++) {
        const situ_mvt_feature *ft = &mt->layers[0].feats[k];
        if (!ft->has_id || ft->id != id)
            continue;
        assert_int_equal(ft->type, SITU_MVT_POLYGON);
        int32_t *xy;
        uint32_t *parts;
        size_t npts, nparts;
        assert_int_equal(situ_mvt_geom_decode(ft, &xy, &npts, &parts, &nparts, &err), 0);
        const int32_t *r = xy;
        for (size_t q = 0; q < nparts; r += 2 * parts[q], q++) {
            assert_true(parts[q] >= 3);
            assert_true(situ__ring_area2(r, parts[q]) > 0);
        }
        for (size_t u = 0; u < npts; u++)
            assert_true(xy[2 * u] >= -64 && xy[2 * u] <= 4160 && xy[2 * u + 1] >= -64 &&
                        xy[2 * u + 1] <= 4160);
        free(xy), free(parts);
        return npts;
    }
    fail_msg("the sawtooth alert is missing from the tile");
    return 0;
}

static void sawtooth_200k_vertices(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    put_sawtooth_alert(&fx, SAW_H);
    situ_err err = {0};
    situ_coll *c;
    situ_tilesrc *src;
    assert_int_equal(situ_coll_load(fx.store, SITU_C_ALERTS, &c, &err), 0);
    assert_int_equal(situ_tilesrc_new(c, &src, &err), 0);
    long fi = situ_coll_find(c, "A0099");
    assert_true(fi >= 0);
    const situ_ring *ring = &c->rings[c->polys[c->feats[fi].poly0].ring0];
    assert_int_equal(ring->n, SAW_N + 3);
    const float *imp = src->imp + ring->off;
    size_t anchors = 0;
    for (uint32_t i = 0; i < ring->n; i++) {
        assert_true(imp[i] == imp[i]); /* not NaN */
        assert_true(imp[i] >= 0);
        anchors += (size_t)(imp[i] == INFINITY);
    }
    assert_true(imp[0] == INFINITY && imp[ring->n - 1] == INFINITY && anchors == 3);
    situ_buf buf;
    situ_buf_init(&buf);
    uint64_t id = situ_tile_feature_id("A0099");
    /* z20: the teeth are ~6 units apart and ~130 deep: every one stays */
    situ_mvt_tile *mt = encode_one(src, tile_at(20, 111.6, SAW_Y0), NULL, &buf, NULL);
    size_t near = sawtooth_points_in(mt, id);
    assert_true(near > 600);
    situ_mvt_tile_free(mt);
    /* z12: under a unit deep, the teeth go and the edge is a few points */
    mt = encode_one(src, tile_at(12, 111.6, SAW_Y0), NULL, &buf, NULL);
    size_t far = sawtooth_points_in(mt, id);
    assert_true(far >= 3 && far < 64);
    situ_mvt_tile_free(mt);
    situ_buf_dispose(&buf);
    situ_tilesrc_release(src);
    situ_coll_release(c);
    fixture_close(&fx);
}

/* ---- the next version of a collection ------------------------------------------ */

/* A snapshot built change by change, as the daemon's publisher does. */
typedef struct incremental {
    situ_snapshot *snap;
    situ_tilesrc *src[SITU_NCOLLECTIONS];
} incremental;

/* inc at snap, every collection prepared for tiles. */
static void inc_open(incremental *inc, situ_snapshot *snap)
{
    situ_err err = {0};
    inc->snap = situ_snapshot_retain(snap);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        assert_int_equal(situ_tilesrc_new(inc->snap->colls[cid], &inc->src[cid], &err), 0);
}

static void inc_close(incremental *inc)
{
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        situ_tilesrc_release(inc->src[cid]);
    situ_snapshot_release(inc->snap);
}

/* Moves inc to the store's state, given the feature ids each change named:
 * situ_coll_update and situ_tilesrc_new_from per touched collection. */
static void inc_advance(incremental *inc, situ_store *store, const situ_feed_change *c, size_t n)
{
    situ_err err = {0};
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        const char *ids[64];
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if ((int)c[i].cid == cid && k < 64)
                ids[k++] = c[i].id;
        if (!k)
            continue;
        situ_coll *next;
        situ_tilesrc *src;
        assert_int_equal(situ_coll_update(store, inc->snap->colls[cid], ids, k, &next, &err), 0);
        assert_int_equal(situ_tilesrc_new_from(next, inc->src[cid], &src, &err), 0);
        situ_snapshot *s = situ_snapshot_with(inc->snap, next);
        assert_non_null(s);
        situ_coll_release(next);
        situ_snapshot_release(inc->snap);
        situ_tilesrc_release(inc->src[cid]);
        inc->snap = s, inc->src[cid] = src;
    }
}

/* Applies one feed batch in its own transaction; returns its accepted
 * changes (malloc'd) in *out_c. */
static size_t apply_batch(tile_fixture *fx, situ_feed_applier *a, const char *dept,
                          const char *json, situ_feed_change **out_c)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    assert_int_equal(situ_feed_parse(dept, json, strlen(json), &b, &err), 0);
    assert_int_equal(situ_store_begin(fx->store, &err), 0);
    assert_int_equal(situ_feed_apply(a, b, fx->snap, &err), 0);
    assert_int_equal(situ_store_commit(fx->store, &err), 0);
    size_t n = 0;
    situ_feed_change *c = malloc(64 * sizeof *c);
    for (int i = 0; i < b->n; i++) {
        if (b->ev[i].status != SITU_FEED_ACCEPTED)
            fail_msg("event %d of %s: %s %s", i, dept, b->ev[i].field, b->ev[i].reason);
        for (int k = 0; k < b->ev[i].nchanges && n < 64; k++)
            c[n++] = b->ev[i].changes[k];
    }
    situ_feed_batch_free(b);
    *out_c = c;
    return n;
}

/* tiles[0..nt) of every collection, and of them all (the layers one after
 * the other, as the cache makes an `all` tile), byte for byte. */
static void assert_same_tiles_at(situ_tilesrc *const *a, situ_tilesrc *const *b,
                                 const situ_tile_xyz *tiles, size_t nt)
{
    situ_buf ba, bb, alla, allb;
    situ_buf_init(&ba), situ_buf_init(&bb), situ_buf_init(&alla), situ_buf_init(&allb);
    situ_err err = {0};
    for (size_t i = 0; i < nt; i++) {
        alla.n = allb.n = 0;
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
            ba.n = bb.n = 0;
            assert_int_equal(situ_tile_encode_coll(a[cid], tiles[i], NULL, &ba, NULL, &err), 0);
            assert_int_equal(situ_tile_encode_coll(b[cid], tiles[i], NULL, &bb, NULL, &err), 0);
            assert_int_equal(ba.n, bb.n);
            assert_memory_equal(ba.p, bb.p, ba.n);
            situ_buf_add(&alla, ba.p, ba.n), situ_buf_add(&allb, bb.p, bb.n);
        }
        assert_int_equal(alla.n, allb.n);
        assert_memory_equal(alla.p, allb.p, alla.n);
    }
    situ_buf_dispose(&ba), situ_buf_dispose(&bb), situ_buf_dispose(&alla), situ_buf_dispose(&allb);
}

/* The test's tiles and one z20 tile on the sawtooth, byte for byte. */
static void assert_same_tiles(situ_tilesrc *const *a, situ_tilesrc *const *b)
{
    situ_tile_xyz tiles[600];
    size_t nt = test_tiles(tiles, 600);
    tiles[nt++] = tile_at(20, 111.6, SAW_Y0);
    assert_same_tiles_at(a, b, tiles, nt);
}

/* Nearest resources and stations and /locate answers, byte for byte. */
static void assert_same_nearest(const situ_snapshot *a, const situ_snapshot *b)
{
    situ_nearest_cache *ca = situ_nearest_cache_new(), *cb = situ_nearest_cache_new();
    const char *colls[] = {"resources", "stations", "hazards"};
    situ_buf ba, bb;
    situ_buf_init(&ba), situ_buf_init(&bb);
    situ_err err = {0};
    for (int i = 0; i < 12; i++) {
        char lon[32], lat[32];
        snprintf(lon, sizeof lon, "%.4f", FX_LON0 + 0.017 * i);
        snprintf(lat, sizeof lat, "%.4f", FX_LAT0 + 0.013 * i);
        const char *keys[] = {"lon", "lat", "collection", "k"};
        const char *vals[] = {lon, lat, colls[i % 3], "7"};
        situ_nearest_mode mode = i % 4 == 3 ? SITU_NEAREST_LOCATE : SITU_NEAREST_KNN;
        situ_nearest_query q;
        assert_int_equal(
            situ_nearest_query_parse(mode, keys, vals, mode == SITU_NEAREST_KNN ? 4 : 2, &q, &err),
            0);
        ba.n = bb.n = 0;
        assert_int_equal(situ_nearest_answer(ca, a, &q, &ba, &err), 0);
        assert_int_equal(situ_nearest_answer(cb, b, &q, &bb, &err), 0);
        assert_int_equal(ba.n, bb.n);
        assert_memory_equal(ba.p, bb.p, ba.n);
    }
    situ_buf_dispose(&ba), situ_buf_dispose(&bb);
    situ_nearest_cache_free(ca), situ_nearest_cache_free(cb);
}

/* The store, built again from nothing, against inc. */
static void assert_equals_cold(tile_fixture *fx, const incremental *inc)
{
    situ_snapshot *cold;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(fx->store, &cold, &err), 0);
    situ_tilesrc *src[SITU_NCOLLECTIONS];
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        situ_test_same_coll(inc->snap->colls[cid], cold->colls[cid]);
        assert_int_equal(situ_tilesrc_new(cold->colls[cid], &src[cid], &err), 0);
    }
    assert_same_tiles(inc->src, src);
    assert_same_nearest(inc->snap, cold);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        situ_tilesrc_release(src[cid]);
    situ_snapshot_release(cold);
}

static const struct {
    const char *dept, *json;
} changes[] = {
    {"meteorology",
     "{\"events\":[{\"id\":\"a1\",\"type\":\"alert\",\"event\":\"rainstorm\",\"severity\":\"red\","
     "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[111.52,26.32],[111.58,26.32],[111.58,"
     "26.37],[111.52,26.37],[111.52,26.32]]]}},"
     "{\"id\":\"o1\",\"type\":\"observation\",\"station\":\"NEW1\",\"observed_at\":\"2026-11-29T19:"
     "00:00Z\",\"metric\":\"rain_1h_mm\",\"value\":42.5,\"lon\":111.61,\"lat\":26.41}]}"},
    {"reserves", "{\"events\":[{\"id\":\"u1\",\"type\":\"feature_update\",\"collection\":"
                 "\"resources\",\"feature_id\":\"R0007\",\"set\":{\"status\":\"deployed\","
                 "\"items\":{\"sandbag\":1500,\"life_jacket\":30}}}]}"},
    {"meteorology",
     "{\"events\":[{\"id\":\"a2\",\"type\":\"alert\",\"msg_type\":\"update\",\"references\":["
     "\"a1\"],\"event\":\"rainstorm\",\"severity\":\"orange\",\"geometry\":{\"type\":\"Polygon\","
     "\"coordinates\":[[[111.60,26.42],[111.66,26.42],[111.66,26.46],[111.60,26.46],[111.60,26.42]]"
     "]}},{\"id\":\"o2\",\"type\":\"observation\",\"station\":\"NEW1\",\"observed_at\":\"2026-11-"
     "29T19:10:00Z\",\"metric\":\"rain_1h_mm\",\"value\":50,\"lon\":111.51,\"lat\":26.31}]}"},
};

/* A sequence of feed batches, a new 200,000-vertex alert and a deleted
 * hazard, each published incrementally, equals a cold build each time. */
static void incremental_versions_equal_a_cold_build(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    situ_err err = {0};
    incremental inc;
    inc_open(&inc, fx.snap);
    situ_feed_applier *a;
    assert_int_equal(situ_feed_applier_new(fx.store, &a, &err), 0);
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        situ_feed_change *c;
        size_t n = apply_batch(&fx, a, changes[i].dept, changes[i].json, &c);
        assert_true(n > 0);
        inc_advance(&inc, fx.store, c, n);
        free(c);
        assert_equals_cold(&fx, &inc);
    }
    situ_feed_applier_free(a);
    situ_feed_change saw = {.cid = SITU_C_ALERTS, .id = "A0099"};
    put_sawtooth_alert(&fx, SAW_H);
    inc_advance(&inc, fx.store, &saw, 1);
    put_sawtooth_alert(&fx, 2 * SAW_H); /* the same id, deeper teeth */
    inc_advance(&inc, fx.store, &saw, 1);
    assert_int_equal(sqlite3_exec(situ_store_db(fx.store), "DELETE FROM hazards WHERE id = 'H0005'",
                                  NULL, NULL, NULL),
                     0);
    situ_feed_change gone = {.cid = SITU_C_HAZARDS, .id = "H0005"};
    inc_advance(&inc, fx.store, &gone, 1);
    assert_int_equal(situ_coll_find(inc.snap->colls[SITU_C_HAZARDS], "H0005"), -1);
    assert_equals_cold(&fx, &inc);
    inc_close(&inc);
    fixture_close(&fx);
}

/* ---- the aggregate pyramid -------------------------------------------------- */

/* A point of collection cid at lon/lat with the fixture's values of seed
 * 11, then the fields of kv (name, value, ..., NULL) set: text, or an
 * integer for an integer field. */
static void put_point(tile_fixture *fx, situ_coll_id cid, const char *id, double lon, double lat,
                      const char *const *kv)
{
    const situ_collection *c = situ_schema_collection(cid);
    situ_value v[32];
    char text[32][48], tc[16];
    fx_values(c, 11, v, text);
    for (; kv && kv[0]; kv += 2) {
        int k = situ_schema_field_index(c, kv[0]);
        v[k] = c->fields[k].type == SITU_FT_INT
                   ? (situ_value){SITU_FT_INT, {.i = strtoll(kv[1], NULL, 10)}}
                   : (situ_value){SITU_FT_TEXT, {.s = kv[1]}};
    }
    situ_buf b;
    situ_buf_init(&b);
    fx_point(&b, lon, lat);
    situ_feature_in in = {.id = id,
                          .township_code = fx_township(lon, lat, tc),
                          .wkb = (const unsigned char *)b.p,
                          .nwkb = b.n,
                          .values = v,
                          .updated_at = "2026-11-29T18:00:00Z"};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(fx->store, c, &in, NULL, &err), 0);
    situ_buf_dispose(&b);
}

/* A hidden danger at lon/lat: open, with deadline `deadline`. */
static void put_hazard(tile_fixture *fx, const char *id, double lon, double lat,
                       const char *deadline)
{
    put_point(fx, SITU_C_HAZARDS, id, lon, lat,
              (const char *[]){"status", "open", "deadline", deadline, NULL});
}

/* ---- ids apart (tile_prep.c): an id written without a lookup ------------------ */

/* 1 when decoded values a and b are the same value. */
static int same_value(const situ_mvt_value *a, const situ_mvt_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SITU_MVT_V_STRING)
        return a->n == b->n && !memcmp(a->s, b->s, a->n);
    return a->type == SITU_MVT_V_DOUBLE || a->type == SITU_MVT_V_FLOAT ? a->d == b->d
                                                                       : a->i == b->i;
}

/* Every layer of a sample of tiles z0-z14 of every collection, clustered
 * and aggregated as by default (counts, levels, quantities and personnel
 * meet in a layer): no value twice in its table, whichever way a tile
 * wrote it first (a small integer's index is remembered per layer). */
static void every_layer_holds_each_value_once(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    srcs p;
    srcs_open(&p, fx.snap);
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_tile_xyz tiles[600];
    size_t nt = sample_tiles(tiles, 600, 0, 14, 0.01, 0.08, 30), nvals = 0;
    for (size_t i = 0; i < nt; i++)
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
            situ_mvt_tile *mt = encode_one(p.s[cid], tiles[i], &o, &buf, NULL);
            for (size_t j = 0; j < mt->nlayers; j++) {
                const situ_mvt_rlayer *l = &mt->layers[j];
                for (size_t a = 0; a < l->nvals; a++)
                    for (size_t b = a + 1; b < l->nvals; b++)
                        if (same_value(&l->vals[a], &l->vals[b]))
                            fail_msg("%s %d/%u/%u: values %zu and %zu are the same", l->name,
                                     tiles[i].z, tiles[i].x, tiles[i].y, a, b);
                nvals += l->nvals;
            }
            situ_mvt_tile_free(mt);
        }
    assert_true(nvals > 1000);
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

/* The hazards' layer of the z14 tile at 111.6/26.4 from src: no value twice
 * in its table, and every feature with its own id and name (of c). Returns
 * the features. */
static size_t assert_hazards_tile(const situ_tilesrc *src, const situ_coll *c)
{
    situ_tile_opts o;
    opts_unclustered(&o);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_mvt_tile *mt = encode_one(src, tile_at(14, 111.6001, 26.4001), &o, &buf, NULL);
    assert_int_equal(mt->nlayers, 1);
    const situ_mvt_rlayer *l = &mt->layers[0];
    for (size_t i = 0; i < l->nvals; i++)
        for (size_t j = i + 1; j < l->nvals; j++)
            if (same_value(&l->vals[i], &l->vals[j]))
                fail_msg("values %zu and %zu of %zu are the same ('%.*s')", i, j, l->nvals,
                         (int)l->vals[i].n, l->vals[i].s ? l->vals[i].s : "");
    int name = situ_schema_field_index(c->c, "name");
    for (size_t i = 0; i < l->nfeats; i++) {
        const situ_mvt_value *id = prop(l, &l->feats[i], "id"), *nm = prop(l, &l->feats[i], "name");
        assert_non_null(id);
        assert_non_null(nm);
        char sid[64];
        snprintf(sid, sizeof sid, "%.*s", (int)id->n, id->s);
        long fi = situ_coll_find(c, sid);
        assert_true(fi >= 0);
        const char *want = c->feats[fi].values[name].u.s;
        assert_int_equal(nm->n, strlen(want));
        assert_memory_equal(nm->s, want, nm->n);
    }
    size_t n = l->nfeats;
    situ_mvt_tile_free(mt);
    situ_buf_dispose(&buf);
    return n;
}

/* The hazards of inc and of a cold build from the store: ids apart as
 * `apart` says, and their tile right (assert_hazards_tile). */
static void assert_hazards_apart(tile_fixture *fx, const incremental *inc, int apart)
{
    situ_snapshot *cold;
    situ_tilesrc *src;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(fx->store, &cold, &err), 0);
    assert_int_equal(situ_tilesrc_new(cold->colls[SITU_C_HAZARDS], &src, &err), 0);
    assert_int_equal(inc->src[SITU_C_HAZARDS]->ids_apart, apart);
    assert_int_equal(src->ids_apart, apart);
    assert_true(assert_hazards_tile(inc->src[SITU_C_HAZARDS], inc->snap->colls[SITU_C_HAZARDS]) >=
                3);
    assert_hazards_tile(src, cold->colls[SITU_C_HAZARDS]);
    situ_tilesrc_release(src);
    situ_snapshot_release(cold);
}

/* A hidden danger's id equal to another's name, or a name equal to an id:
 * the layer still holds each value once and every feature its own (the id
 * is written without a lookup only when no text of the collection equals
 * an id), cold and from one version to the next. */
static void ids_equal_to_other_values_are_looked_up(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    put_point(&fx, SITU_C_HAZARDS, "H9000", 111.6002, 26.4002, NULL);
    put_point(&fx, SITU_C_HAZARDS, "H9009", 111.6003, 26.4004, NULL);
    situ_feed_change ch[2] = {{.cid = SITU_C_HAZARDS, .id = "H9000"},
                              {.cid = SITU_C_HAZARDS, .id = "H9009"}};
    inc_advance(&inc, fx.store, ch, 2);
    assert_hazards_apart(&fx, &inc, 1); /* the fast path is taken */
    /* an id of another shape, equal to other hazards' names */
    const situ_coll *hz = inc.snap->colls[SITU_C_HAZARDS];
    int name = situ_schema_field_index(hz->c, "name");
    char odd[64];
    snprintf(odd, sizeof odd, "%s", hz->feats[situ_coll_find(hz, "H9000")].values[name].u.s);
    put_point(&fx, SITU_C_HAZARDS, odd, 111.6004, 26.4003, NULL);
    situ_feed_change odd_ch = {.cid = SITU_C_HAZARDS};
    snprintf(odd_ch.id, sizeof odd_ch.id, "%s", odd);
    inc_advance(&inc, fx.store, &odd_ch, 1);
    assert_hazards_apart(&fx, &inc, 0);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM hazards WHERE id = '%s'", odd);
    assert_int_equal(sqlite3_exec(situ_store_db(fx.store), sql, NULL, NULL, NULL), 0);
    inc_advance(&inc, fx.store, &odd_ch, 1);
    assert_hazards_apart(&fx, &inc, 1);
    /* ids of the same shape: one's name is the other's id, and its own */
    put_point(&fx, SITU_C_HAZARDS, "H9000", 111.6002, 26.4002,
              (const char *[]){"name", "H9009", NULL});
    put_point(&fx, SITU_C_HAZARDS, "H9009", 111.6003, 26.4004,
              (const char *[]){"name", "H9009", NULL});
    inc_advance(&inc, fx.store, ch, 2);
    assert_hazards_apart(&fx, &inc, 0);
    inc_close(&inc);
    fixture_close(&fx);
}

/* Options judging deadlines on 2026-06-01, read from the pyramid (scan 0)
 * or by scanning the features (scan 1). */
static situ_tile_opts pyramid_opts(int scan)
{
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    o.today = 20260601;
    o.scan_aggregates = scan;
    return o;
}

static void from_tile(situ_tile_xyz t, double u, double v, double *lon, double *lat);

/* The hidden dangers whose rounded point lies in the buffered tile t
 * ([-64, 4160) units), and how many of them are overdue on 2026-06-01. */
static void hazards_in_buffered(const situ_coll *c, situ_tile_xyz t, size_t *out_n,
                                size_t *out_overdue)
{
    int dl = situ_schema_field_index(c->c, "deadline"),
        st = situ_schema_field_index(c->c, "status");
    *out_n = *out_overdue = 0;
    for (size_t i = 0; i < c->n; i++) {
        double x, y;
        to_tile(t, c->feats[i].x, c->feats[i].y, &x, &y);
        x = floor(x + 0.5), y = floor(y + 0.5);
        if (x < -64 || x >= 4160 || y < -64 || y >= 4160)
            continue;
        const situ_value *d = &c->feats[i].values[dl], *s = &c->feats[i].values[st];
        (*out_n)++;
        *out_overdue += d->type == SITU_FT_TEXT && s->type == SITU_FT_TEXT &&
                        strcmp(s->u.s, "rectified") && strcmp(d->u.s, "2026-06-01") < 0 &&
                        d->u.s[0] == '2';
    }
}

/* The corner of four z7 tiles east of the town (a corner from z4 up in x). */
static void seam_corner(double *lon, double *lat)
{
    situ_tile_xyz t = tile_at(7, FX_LON0 + FX_SPAN, FX_LAT0 + FX_SPAN / 2);
    from_tile(t, 4096, 4096, lon, lat);
}

/* Every aggregate tile z0..z7 over the town, the seam corner and around
 * them: the pyramid's bytes equal a scan's, for every point collection. */
static void assert_pyramid_equals_scan(situ_tilesrc *const *src, const situ_tile_opts *o)
{
    double clon, clat;
    seam_corner(&clon, &clat);
    situ_tile_opts scan = *o;
    scan.scan_aggregates = 1;
    situ_buf ba, bb;
    situ_buf_init(&ba), situ_buf_init(&bb);
    situ_err err = {0};
    size_t clusters = 0;
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        situ_tile_xyz a = tile_at(z, FX_LON0 - 0.3, FX_LAT0 + FX_SPAN + 0.3);
        situ_tile_xyz b = tile_at(z, clon + 0.3, clat - 0.3);
        for (uint32_t x = a.x; x <= b.x; x++)
            for (uint32_t y = a.y; y <= b.y; y++)
                for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
                    situ_tile_xyz t = {z, x, y};
                    situ_tile_stats sa, sb;
                    ba.n = bb.n = 0;
                    assert_int_equal(situ_tile_encode_coll(src[cid], t, o, &ba, &sa, &err), 0);
                    assert_int_equal(situ_tile_encode_coll(src[cid], t, &scan, &bb, &sb, &err), 0);
                    if (ba.n != bb.n)
                        assert_int_equal(ba.n, bb.n);
                    assert_memory_equal(ba.p, bb.p, ba.n);
                    assert_int_equal(sa.clustered, sb.clustered);
                    clusters += sa.clusters;
                }
    }
    assert_true(clusters > 0);
    situ_buf_dispose(&ba), situ_buf_dispose(&bb);
}

/* Per tile of zoom z over lon/lat: the hidden dangers the aggregates count
 * (point_count), the individual ones (not the urgent marks below z6), and
 * whether `id` is one of them or a mark of one. */
static void hazard_counts(const situ_tilesrc *src, situ_tile_xyz t, const situ_tile_opts *o,
                          const char *id, size_t *out_counted, size_t *out_overdue,
                          size_t *out_individual, int *out_has_id)
{
    situ_buf buf;
    situ_buf_init(&buf);
    situ_mvt_tile *mt = encode_one(src, t, o, &buf, NULL);
    *out_counted = *out_overdue = *out_individual = 0;
    *out_has_id = 0;
    for (size_t l = 0; l < mt->nlayers; l++)
        for (size_t i = 0; i < mt->layers[l].nfeats; i++) {
            const situ_mvt_rlayer *ly = &mt->layers[l];
            const situ_mvt_value *n = prop(ly, &ly->feats[i], "point_count");
            const situ_mvt_value *od = prop(ly, &ly->feats[i], "overdue");
            const situ_mvt_value *fid = prop(ly, &ly->feats[i], "id");
            *out_has_id |= fid && fid->n == strlen(id) && !memcmp(fid->s, id, fid->n);
            if (prop(ly, &ly->feats[i], "urgent")) /* a mark: the aggregates count it too */
                continue;
            *out_counted += n ? (size_t)n->i : 0;
            *out_overdue += od ? (size_t)od->i : 0;
            *out_individual += !n;
        }
    situ_mvt_tile_free(mt);
    situ_buf_dispose(&buf);
}

/* The pyramid answers as a scan of the features does, at every low zoom,
 * with the default grid and with one whose buffer is not half a cell. */
static void pyramid_equals_a_scan(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    for (int i = 0; i < 40; i++) { /* overdue ones, individual from z6 */
        char id[16];
        snprintf(id, sizeof id, "HOD%02d", i);
        put_hazard(&fx, id, FX_LON0 + 0.005 * i, FX_LAT0 + 0.004 * i, "2026-01-15");
    }
    double clon, clat;
    seam_corner(&clon, &clat);
    for (int i = 0; i < 24 * 24; i++) { /* over the seams and the buffers of four tiles */
        char id[16];
        snprintf(id, sizeof id, "HSEAM%03d", i);
        put_hazard(&fx, id, clon + 0.0047 * (i % 24 - 11.5), clat + 0.0043 * (i / 24 - 11.5),
                   i % 5 ? "2027-01-01" : "2026-02-01");
    }
    situ_snapshot *snap;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(fx.store, &snap, &err), 0);
    srcs p;
    srcs_open(&p, snap);
    situ_tile_opts o = pyramid_opts(0);
    assert_pyramid_equals_scan(p.s, &o);
    o.buffer = 24, o.aggregate_cell = 64; /* squares of 8 units, a grid per tile of 8x8 cells */
    assert_pyramid_equals_scan(p.s, &o);
    o.aggregate_cell = 16, o.buffer = 16;
    assert_pyramid_equals_scan(p.s, &o);
    /* every hidden danger of the town counted once at z7, the 40 overdue individual */
    o = pyramid_opts(0);
    situ_tile_xyz t = tile_at(7, FX_LON0 + FX_SPAN / 2, FX_LAT0 + FX_SPAN / 2);
    size_t counted, overdue, individual;
    int has;
    hazard_counts(p.s[SITU_C_HAZARDS], t, &o, "HOD07", &counted, &overdue, &individual, &has);
    size_t in_tile, urgent;
    hazards_in_buffered(snap->colls[SITU_C_HAZARDS], t, &in_tile, &urgent);
    assert_int_equal(counted + individual, in_tile);
    assert_int_equal(individual, urgent);
    assert_true(urgent >= 40);
    assert_int_equal(overdue, 0);
    assert_true(has);
    srcs_close(&p);
    situ_snapshot_release(snap);
    fixture_close(&fx);
}

/* A hidden danger added, moved and made overdue by the publisher's path
 * (situ_coll_update, situ_tilesrc_new_from) changes the low-zoom counts
 * exactly, and every version's pyramid equals a scan and a cold build. */
static void pyramid_follows_feature_changes(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    situ_tile_opts o = pyramid_opts(0);
    const double far_lon = FX_LON0 + 1.5, far_lat = FX_LAT0 - 1.2; /* another tile from z5 */
    situ_tile_xyz near[SITU_TILE_AGGREGATE_BELOW], far[SITU_TILE_AGGREGATE_BELOW];
    size_t base[SITU_TILE_AGGREGATE_BELOW], n, od, ind;
    int has;
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        near[z] = tile_at(z, FX_LON0 + 0.1, FX_LAT0 + 0.1);
        far[z] = tile_at(z, far_lon, far_lat);
        hazard_counts(inc.src[SITU_C_HAZARDS], near[z], &o, "HNEW", &base[z], &od, &ind, &has);
        assert_int_equal(base[z] + ind, inc.snap->colls[SITU_C_HAZARDS]->n);
    }
    situ_feed_change c = {.cid = SITU_C_HAZARDS, .id = "HNEW"};
    put_hazard(&fx, "HNEW", FX_LON0 + 0.1, FX_LAT0 + 0.1, "2027-01-01"); /* added */
    inc_advance(&inc, fx.store, &c, 1);
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        hazard_counts(inc.src[SITU_C_HAZARDS], near[z], &o, "HNEW", &n, &od, &ind, &has);
        assert_int_equal(n, base[z] + 1);
        assert_int_equal(ind, 0);
    }
    assert_pyramid_equals_scan(inc.src, &o);
    assert_equals_cold(&fx, &inc);
    put_hazard(&fx, "HNEW", far_lon, far_lat, "2027-01-01"); /* moved */
    inc_advance(&inc, fx.store, &c, 1);
    int apart = 0;
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        int same = near[z].x == far[z].x && near[z].y == far[z].y;
        apart += !same;
        hazard_counts(inc.src[SITU_C_HAZARDS], near[z], &o, "HNEW", &n, &od, &ind, &has);
        assert_int_equal(n, base[z] + (size_t)same);
        hazard_counts(inc.src[SITU_C_HAZARDS], far[z], &o, "HNEW", &n, &od, &ind, &has);
        assert_int_equal(n + ind, same ? base[z] + 1 : 1);
        assert_int_equal(od, 0);
    }
    assert_true(apart >= 3);
    put_hazard(&fx, "HNEW", far_lon, far_lat, "2026-05-31"); /* overdue */
    inc_advance(&inc, fx.store, &c, 1);
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        if (near[z].x == far[z].x && near[z].y == far[z].y)
            continue;
        hazard_counts(inc.src[SITU_C_HAZARDS], far[z], &o, "HNEW", &n, &od, &ind, &has);
        assert_int_equal(n + ind, 1);
        assert_true(has); /* itself from z6; below, counted and a mark of one */
        assert_int_equal(od, z < SITU_TILE_URGENT_FROM);
    }
    assert_pyramid_equals_scan(inc.src, &o);
    assert_equals_cold(&fx, &inc);
    inc_close(&inc);
    fixture_close(&fx);
}

/* The pyramids a (kept up to date) and b (built cold) hold the same
 * squares and urgent features, byte for byte. */
static void assert_same_pyramid(const tile_pyramid *a, const tile_pyramid *b, size_t na)
{
    assert_non_null(a), assert_non_null(b);
    assert_int_equal(a->below, b->below);
    assert_int_equal(a->inexact, b->inexact);
    assert_int_equal(a->bytes, b->bytes);
    for (int z = 0; z < a->below; z++) {
        const tile_pzoom *x = &a->z[z], *y = &b->z[z];
        assert_int_equal(x->n, y->n);
        for (size_t i = 0; i < x->n; i++) { /* not their padding */
            assert_int_equal(x->cells[i].key, y->cells[i].key);
            assert_int_equal(x->cells[i].sx, y->cells[i].sx);
            assert_int_equal(x->cells[i].sy, y->cells[i].sy);
            assert_int_equal(x->cells[i].n, y->cells[i].n);
        }
        assert_memory_equal(x->acc, y->acc, x->n * na * sizeof *x->acc);
        assert_memory_equal(x->any, y->any, x->n * na);
        assert_memory_equal(x->cnt, y->cnt, x->n * na * sizeof *x->cnt);
        assert_int_equal(x->nurgent, y->nurgent);
        for (size_t i = 0; i < x->nurgent; i++) { /* not their padding */
            assert_int_equal(x->urgent[i].key, y->urgent[i].key);
            assert_int_equal(x->urgent[i].fi, y->urgent[i].fi);
        }
    }
}

/* Every tile z0..z7 over the town and the far corner (the default
 * options: the pyramid kept up to date), byte for byte. */
static void assert_same_low_tiles(const situ_tilesrc *a, const situ_tilesrc *b, double far_lon,
                                  double far_lat)
{
    situ_buf ba, bb;
    situ_buf_init(&ba), situ_buf_init(&bb);
    situ_err err = {0};
    for (int z = 0; z < SITU_TILE_AGGREGATE_BELOW; z++) {
        situ_tile_xyz lo = tile_at(z, FX_LON0 - 0.01, FX_LAT0 + FX_SPAN + 0.01);
        situ_tile_xyz hi = tile_at(z, far_lon + 0.01, far_lat - 0.01);
        for (uint32_t x = lo.x; x <= hi.x; x++)
            for (uint32_t y = lo.y; y <= hi.y; y++) {
                situ_tile_xyz t = {z, x, y};
                ba.n = bb.n = 0;
                assert_int_equal(situ_tile_encode_coll(a, t, NULL, &ba, NULL, &err), 0);
                assert_int_equal(situ_tile_encode_coll(b, t, NULL, &bb, NULL, &err), 0);
                assert_int_equal(ba.n, bb.n);
                assert_memory_equal(ba.p, bb.p, ba.n);
            }
    }
    situ_buf_dispose(&ba), situ_buf_dispose(&bb);
}

/* Runs sql on the fixture's store. */
static void sqlite_run(tile_fixture *fx, const char *sql)
{
    assert_int_equal(sqlite3_exec(situ_store_db(fx->store), sql, NULL, NULL, NULL), 0);
}

static void sqlite_delete(tile_fixture *fx, const char *table, const char *id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = '%s'", table, id);
    sqlite_run(fx, sql);
}

#define PAST "2020-01-01"   /* overdue whatever the day */
#define FUTURE "2099-12-31" /* not overdue */

/* One step of feed-like changes to the point maps. */
static void pyramid_step(tile_fixture *fx, int step, situ_feed_change *c, size_t *n, double far_lon,
                         double far_lat)
{
    char id[16];
    *n = 0;
#define CHANGED(cid_, ...)                                                                         \
    do {                                                                                           \
        c[*n] = (situ_feed_change){.cid = (cid_)};                                                 \
        snprintf(c[*n].id, sizeof c[*n].id, __VA_ARGS__);                                          \
        (*n)++;                                                                                    \
    } while (0)
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "HK%02d", i);
        double lon = FX_LON0 + 0.009 * i, lat = FX_LAT0 + 0.007 * i;
        if (step == 0) /* inserted, every third overdue */
            put_point(fx, SITU_C_HAZARDS, id, lon, lat,
                      (const char *[]){"status", "open", "deadline", i % 3 ? FUTURE : PAST, NULL});
        else if (step == 1 && i < 10) /* moved, half of them far (another tile from z5) */
            put_point(fx, SITU_C_HAZARDS, id, i % 2 ? far_lon + 0.001 * i : lon + 0.02, lat,
                      (const char *[]){"status", "open", "deadline", i % 3 ? FUTURE : PAST, NULL});
        else if (step == 2 && i >= 10 && i < 15) /* deleted */
            sqlite_delete(fx, "hazards", id);
        else if (step == 3 && i >= 15) /* rectified: no longer overdue; or overdue now */
            put_point(fx, SITU_C_HAZARDS, id, lon, lat,
                      (const char *[]){"status", i % 2 ? "rectified" : "rectifying", "deadline",
                                       PAST, NULL});
        else
            continue;
        CHANGED(SITU_C_HAZARDS, "%s", id);
    }
    if (step == 2) { /* two of the fixture's go too */
        sqlite_delete(fx, "hazards", "H0005");
        sqlite_delete(fx, "hazards", "H0010");
        CHANGED(SITU_C_HAZARDS, "H0005");
        CHANGED(SITU_C_HAZARDS, "H0010");
    }
    /* hazard sources far away: a grade 1 and a grade 3 in one square; the
     * grade 1 then becomes a 4 (the square's minimum is folded again) */
    const char *grade = step == 0 ? "1" : step == 4 ? "4" : NULL;
    if (grade) {
        put_point(fx, SITU_C_HAZARD_SOURCES, "SK1", far_lon, far_lat,
                  (const char *[]){"grade", grade, NULL});
        CHANGED(SITU_C_HAZARD_SOURCES, "SK1");
    }
    if (step == 0) {
        put_point(fx, SITU_C_HAZARD_SOURCES, "SK3", far_lon + 1e-5, far_lat,
                  (const char *[]){"grade", "3", NULL});
        CHANGED(SITU_C_HAZARD_SOURCES, "SK3");
    }
#undef CHANGED
}

/* Inserts, moves, deletes and status changes that make hidden dangers
 * overdue or not, published step by step: each version's pyramid is the
 * previous one updated (not built again), and equals a cold build of the
 * same snapshot byte for byte, squares, urgent lists and z0-z7 tiles. */
static void pyramid_kept_up_to_date_equals_a_cold_build(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    const double far_lon = FX_LON0 + 1.5, far_lat = FX_LAT0 - 1.2;
    const situ_coll_id cids[] = {SITU_C_HAZARDS, SITU_C_HAZARD_SOURCES};
    int versions[SITU_NCOLLECTIONS] = {0};
    for (int step = 0; step < 5; step++) {
        situ_feed_change c[64];
        size_t n;
        pyramid_step(&fx, step, c, &n, far_lon, far_lat);
        inc_advance(&inc, fx.store, c, n);
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
            for (size_t i = 0; i < n; i++)
                if ((int)c[i].cid == cid) {
                    versions[cid]++;
                    break;
                }
        situ_err err = {0};
        for (size_t k = 0; k < sizeof cids / sizeof cids[0]; k++) {
            const situ_tilesrc *kept = inc.src[cids[k]];
            situ_tilesrc *cold;
            assert_int_equal(situ_tilesrc_new(inc.snap->colls[cids[k]], &cold, &err), 0);
            assert_int_equal(kept->pyr->updates, versions[cids[k]]); /* none built again */
            assert_same_pyramid(kept->pyr, cold->pyr, (size_t)cold->nagg);
            assert_same_low_tiles(kept, cold, far_lon, far_lat);
            situ_tilesrc_release(cold);
        }
    }
    /* the overdue ones are themselves from z6, each once */
    const tile_pzoom *z6 = &inc.src[SITU_C_HAZARDS]->pyr->z[SITU_TILE_URGENT_FROM];
    assert_true(z6->nurgent >= 5);
    inc_close(&inc);
    fixture_close(&fx);
}

/* ---- carrying the preparation over ------------------------------------------ */

/* One step of changes to several collections: inserts, moves, deletes,
 * property and status changes, and string values that one feature alone
 * held shared by a second and given back. */
static void carry_step(tile_fixture *fx, int step, situ_feed_change *c, size_t *n)
{
    *n = 0;
#define CHANGED(cid_, ...)                                                                         \
    do {                                                                                           \
        c[*n] = (situ_feed_change){.cid = (cid_)};                                                 \
        snprintf(c[*n].id, sizeof c[*n].id, __VA_ARGS__);                                          \
        (*n)++;                                                                                    \
    } while (0)
    char id[16], name[32];
    for (int i = 0; i < 12; i++) {
        snprintf(id, sizeof id, "HC%02d", i);
        snprintf(name, sizeof name, "solo %d", i % 6 == 1 && step >= 2 && step < 4 ? 0 : i);
        double lon = FX_LON0 + 0.013 * i + 0.004 * (step == 1 && i % 3 == 0),
               lat = FX_LAT0 + 0.011 * i + (step == 3 && i == 5 ? 0.07 : 0);
        const char *status = step >= 3 && i % 2 ? "rectified" : "open";
        if (step == 4 && i >= 9) { /* deleted */
            sqlite_delete(fx, "hazards", id);
        } else if (step == 0 || (step == 1 && i % 3 == 0) ||
                   ((step == 2 || step == 4) && i % 6 == 1) ||
                   (step == 3 && (i % 2 || i == 5 || i % 6 == 1))) {
            put_point(fx, SITU_C_HAZARDS, id, lon, lat,
                      (const char *[]){"name", name, "status", status, "deadline",
                                       i % 4 == 0 ? "2020-01-01" : "2099-12-31", NULL});
        } else {
            continue;
        }
        CHANGED(SITU_C_HAZARDS, "%s", id);
    }
    if (step == 1) { /* a fixture hazard and a resource change their properties */
        sqlite_run(fx, "UPDATE hazards SET name = 'renamed', level = 'major' WHERE id = 'H0017'");
        sqlite_run(fx, "UPDATE resources SET status = 'deployed' WHERE id = 'R0011'");
        CHANGED(SITU_C_HAZARDS, "H0017");
        CHANGED(SITU_C_RESOURCES, "R0011");
    }
    if (step == 2) { /* a risk zone renamed, one deleted; a road closed */
        sqlite_run(fx, "UPDATE risk_zones SET name = 'solo 3', risk_level = 1 WHERE id = 'R0004'");
        sqlite_run(fx, "DELETE FROM risk_zones WHERE id = 'R0007'");
        sqlite_run(fx, "UPDATE roads SET status = 'closed' WHERE id = 'L0002'");
        CHANGED(SITU_C_RISK_ZONES, "R0004");
        CHANGED(SITU_C_RISK_ZONES, "R0007");
        CHANGED(SITU_C_ROADS, "L0002");
    }
    if (step == 3) { /* named by a change, but not changed */
        CHANGED(SITU_C_STATIONS, "S0003");
        CHANGED(SITU_C_HAZARDS, "H0001");
    }
#undef CHANGED
}

/* The tiles z0-z14 over the town and the far corner, a sample of each zoom. */
static size_t carry_tiles(situ_tile_xyz *out, size_t max)
{
    return sample_tiles(out, max, 0, 14, 0.01, 0.08, 30);
}

/* Every sample tile of every collection and `all`, byte for byte. */
static void assert_same_sample_tiles(situ_tilesrc *const *a, situ_tilesrc *const *b)
{
    situ_tile_xyz tiles[600];
    size_t nt = carry_tiles(tiles, 600);
    assert_same_tiles_at(a, b, tiles, nt);
}

/* Five steps of changes published as the daemon does (situ_coll_update,
 * situ_tilesrc_new_from): each version carries over what its features that
 * did not change had prepared, prepares the others, and equals a cold
 * build of the same snapshot: the pyramid, and a sample of tiles z0-z14 of
 * every collection and `all`. */
static void carried_over_preparation_equals_a_cold_build(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    situ_err err = {0};
    for (int step = 0; step < 5; step++) {
        situ_feed_change c[64];
        size_t n;
        carry_step(&fx, step, c, &n);
        inc_advance(&inc, fx.store, c, n);
        situ_snapshot *cold;
        assert_int_equal(situ_snapshot_load(fx.store, &cold, &err), 0);
        situ_tilesrc *src[SITU_NCOLLECTIONS];
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
            const situ_tilesrc *kept = inc.src[cid];
            const situ_coll *kc = kept->coll;
            situ_test_same_coll(kc, cold->colls[cid]);
            assert_int_equal(situ_tilesrc_new(cold->colls[cid], &src[cid], &err), 0);
            assert_int_equal(src[cid]->ncarried, 0);
            size_t named = 0, touched = 0; /* the features named: the only ones re-encoded */
            for (size_t i = 0; i < n; i++) {
                touched += (int)c[i].cid == cid;
                named += (int)c[i].cid == cid && situ_coll_find(kc, c[i].id) >= 0;
            }
            if (touched)
                assert_int_equal(kept->ncarried, kc->n - named);
            if (kept->pyr)
                assert_same_pyramid(kept->pyr, src[cid]->pyr, (size_t)src[cid]->nagg);
        }
        assert_true(inc.src[SITU_C_HAZARDS]->ncarried > 300);
        assert_same_sample_tiles(inc.src, src);
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
            situ_tilesrc_release(src[cid]);
        situ_snapshot_release(cold);
    }
    inc_close(&inc);
    fixture_close(&fx);
}

/* ---- few-valued texts (tile_prep.c's codes) ---------------------------------- */

/* src's codes of field `field` (NULL: the key is not coded). */
static const tile_codes *field_codes(const situ_tilesrc *src, const char *field)
{
    return src->codes[2 + situ_schema_field_index(src->coll->c, field)];
}

/* Takes src's codes and apart marks away: its tiles then read every text
 * from the collection and look every one up. */
static void drop_codes(situ_tilesrc *src)
{
    free(src->apart);
    src->apart = NULL;
    memset(src->apart_bit, 0, sizeof src->apart_bit);
    for (int k = 0; k < SITU_TILE_MAXKEYS; k++)
        if (src->codes[k]) {
            free(src->codes[k]->code), free(src->codes[k]->bytes), free(src->codes[k]);
            src->codes[k] = NULL;
        }
}

/* Sets `field` of hazards H<from> .. H<to - 1> to "<prefix><i>" in the
 * store and moves inc on, a version for each 60 of them. */
static void set_hazards(tile_fixture *fx, incremental *inc, const char *field, const char *prefix,
                        int from, int to)
{
    for (int i0 = from; i0 < to; i0 += 60) {
        situ_feed_change c[60];
        size_t n = 0;
        for (int i = i0; i < to && i < i0 + 60; i++, n++) {
            char sql[160];
            snprintf(sql, sizeof sql, "UPDATE hazards SET %s = '%s%d' WHERE id = 'H%04d'", field,
                     prefix, i, i);
            sqlite_run(fx, sql);
            c[n] = (situ_feed_change){.cid = SITU_C_HAZARDS};
            snprintf(c[n].id, sizeof c[n].id, "H%04d", i);
        }
        inc_advance(inc, fx->store, c, n);
    }
}

/* inc's tiles and a cold build's from the store equal, byte for byte, those
 * of a cold build without codes (every text read from the collection); 1
 * when the cold build codes the hazards' `field`. */
static int assert_like_a_cold_build(tile_fixture *fx, const incremental *inc, const char *field)
{
    situ_snapshot *cold;
    situ_tilesrc *src[SITU_NCOLLECTIONS], *plain[SITU_NCOLLECTIONS];
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(fx->store, &cold, &err), 0);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        assert_int_equal(situ_tilesrc_new(cold->colls[cid], &src[cid], &err), 0);
        assert_int_equal(situ_tilesrc_new(cold->colls[cid], &plain[cid], &err), 0);
        drop_codes(plain[cid]);
    }
    assert_same_sample_tiles(inc->src, plain);
    assert_same_sample_tiles(src, plain);
    int coded = field_codes(src[SITU_C_HAZARDS], field) != NULL;
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        situ_tilesrc_release(src[cid]), situ_tilesrc_release(plain[cid]);
    situ_snapshot_release(cold);
    return coded;
}

/* A text key of at most 255 values is coded (a byte per feature, the
 * values kept by the source) and its tiles are those written from the
 * collection's texts; from one version to the next a new value is coded
 * after the others, a key that outgrows 255 values falls back to the
 * collection's texts, and values no feature holds any more go when the
 * codes are counted again; every version's tiles equal a cold build's. */
static void few_valued_texts_are_coded_and_fall_back(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    situ_tilesrc *plain[SITU_NCOLLECTIONS];
    situ_err err = {0};
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        assert_int_equal(situ_tilesrc_new(fx.snap->colls[cid], &plain[cid], &err), 0);
        drop_codes(plain[cid]);
    }
    const situ_tilesrc *hz = inc.src[SITU_C_HAZARDS];
    assert_non_null(hz->codes[1]); /* the township code */
    assert_int_equal(field_codes(hz, "status")->nvals, 3);
    assert_int_equal(field_codes(hz, "name")->nvals, 13);
    assert_null(field_codes(inc.src[SITU_C_ROADS], "closed_by")); /* not in the tiles */
    assert_same_sample_tiles(inc.src, plain);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        situ_tilesrc_release(plain[cid]);

    set_hazards(&fx, &inc, "responsible_unit", "unit ", 7, 8); /* a new value */
    hz = inc.src[SITU_C_HAZARDS];
    const tile_codes *t = field_codes(hz, "responsible_unit");
    assert_int_equal(t->nvals, 14);
    assert_int_equal(t->code[situ_coll_find(hz->coll, "H0007")], 14);
    assert_int_equal(t->off[14] - t->off[13], strlen("unit 7"));
    assert_memory_equal(t->bytes + t->off[13], "unit 7", strlen("unit 7"));
    assert_true(assert_like_a_cold_build(&fx, &inc, "responsible_unit"));

    /* names of their own for H0000 .. H0241: with the 13 of the others, 255 */
    set_hazards(&fx, &inc, "name", "name ", 0, 242);
    assert_int_equal(field_codes(inc.src[SITU_C_HAZARDS], "name")->nvals, 255);
    assert_true(assert_like_a_cold_build(&fx, &inc, "name"));
    set_hazards(&fx, &inc, "name", "name ", 242, 243); /* 256: not coded */
    assert_null(field_codes(inc.src[SITU_C_HAZARDS], "name"));
    assert_false(assert_like_a_cold_build(&fx, &inc, "name"));
    set_hazards(&fx, &inc, "name", "name ", 243, 300); /* nor later */
    assert_null(field_codes(inc.src[SITU_C_HAZARDS], "name"));
    assert_false(assert_like_a_cold_build(&fx, &inc, "name"));

    for (int i = 0; i < 250; i++) { /* a phone number changed 250 times */
        char prefix[32];
        snprintf(prefix, sizeof prefix, "tel %d-", i);
        set_hazards(&fx, &inc, "phone", prefix, 1, 2);
    }
    t = field_codes(inc.src[SITU_C_HAZARDS], "phone");
    assert_non_null(t);
    assert_true(t->nvals < 40); /* counted again at 255: 13 values, then the new ones */
    assert_true(assert_like_a_cold_build(&fx, &inc, "phone"));
    inc_close(&inc);
    fixture_close(&fx);
}

/* 1 when a cold build from fx's store marks hazard id's name apart. */
static int name_apart(tile_fixture *fx, const char *id)
{
    situ_snapshot *cold;
    situ_tilesrc *src;
    situ_err err = {0};
    assert_int_equal(situ_snapshot_load(fx->store, &cold, &err), 0);
    assert_int_equal(situ_tilesrc_new(cold->colls[SITU_C_HAZARDS], &src, &err), 0);
    int k = 2 + situ_schema_field_index(src->coll->c, "name"), bit = src->apart_bit[k];
    long i = situ_coll_find(src->coll, id);
    assert_true(i >= 0);
    int apart = bit && src->apart && src->apart[i] >> (bit - 1) & 1;
    situ_tilesrc_release(src);
    situ_snapshot_release(cold);
    return apart;
}

/* Two new hazards side by side named name_a and name_b, moving inc on. */
static void put_twins(tile_fixture *fx, incremental *inc, const char *name_a, const char *name_b)
{
    put_point(fx, SITU_C_HAZARDS, "H9000", 111.6002, 26.4002,
              (const char *[]){"name", name_a, NULL});
    put_point(fx, SITU_C_HAZARDS, "H9001", 111.6003, 26.4004,
              (const char *[]){"name", name_b, NULL});
    situ_feed_change ch[2] = {{.cid = SITU_C_HAZARDS, .id = "H9000"},
                              {.cid = SITU_C_HAZARDS, .id = "H9001"}};
    inc_advance(inc, fx->store, ch, 2);
}

/* A text of a key of many values that no other text of the collection
 * equals is marked apart and written without a lookup; when an update
 * makes two texts equal (or a text equal to an id) neither is apart any
 * more, and the layer still holds each value once: every version's tiles,
 * cold or carried over, equal a build that looks every text up. */
static void unique_texts_are_written_apart_until_two_are_equal(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    incremental inc;
    inc_open(&inc, fx.snap);
    set_hazards(&fx, &inc, "name", "name ", 0, 300); /* names of their own: not coded */
    put_twins(&fx, &inc, "twin A", "twin B");
    assert_true(name_apart(&fx, "H0007") && name_apart(&fx, "H9000") && name_apart(&fx, "H9001"));
    assert_false(assert_like_a_cold_build(&fx, &inc, "name"));
    assert_true(assert_hazards_tile(inc.src[SITU_C_HAZARDS], inc.snap->colls[SITU_C_HAZARDS]) >= 3);

    put_twins(&fx, &inc, "twin A", "twin A"); /* two equal names */
    assert_false(name_apart(&fx, "H9000") || name_apart(&fx, "H9001"));
    assert_true(name_apart(&fx, "H0007"));
    assert_false(assert_like_a_cold_build(&fx, &inc, "name"));
    assert_true(assert_hazards_tile(inc.src[SITU_C_HAZARDS], inc.snap->colls[SITU_C_HAZARDS]) >= 3);

    put_twins(&fx, &inc, "twin A", "H0007"); /* a name equal to an id */
    assert_true(name_apart(&fx, "H9000"));
    assert_false(name_apart(&fx, "H9001"));
    assert_false(assert_like_a_cold_build(&fx, &inc, "name"));
    inc_close(&inc);
    fixture_close(&fx);
}

/* Tiles from the snapshot read back from its file (snapshot_file.c),
 * mapped at the address it was written for and, while that is taken,
 * elsewhere with its pointers moved, equal those of the snapshot built from
 * the store, byte for byte: a tile encodes the values from the mapped
 * records (the sources hold no copy of them), and the pages the preparation
 * handed back (situ_coll_drop_pages) read again as they were. */
static void tiles_from_the_snapshot_file_equal_a_cold_build(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    char path[4096], note[512];
    snprintf(path, sizeof path, "%s/town.sqlite", fx.dir);
    situ_err err = {0};
    situ_snapshot *snap[3]; /* cold, mapped, moved */
    for (int k = 0; k < 3; k++) {
        assert_int_equal(situ_snapshot_open(fx.store, path, &snap[k], note, sizeof note, &err), 0);
        assert_non_null(strstr(note, k ? "read back" : "then written"));
    }
    situ_tilesrc *src[3][SITU_NCOLLECTIONS];
    situ_tile_xyz tiles[600];
    size_t nt = carry_tiles(tiles, 600);
    for (int k = 0; k < 3; k++) {
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
            assert_int_equal(situ_tilesrc_new(snap[k]->colls[cid], &src[k][cid], &err), 0);
        if (k)
            assert_same_tiles_at(src[0], src[k], tiles, nt);
        if (k == 1) /* its mapping goes: the moved one must not point into it */
            for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
                situ_tilesrc_release(src[1][cid]);
        if (k == 1)
            situ_snapshot_release(snap[1]);
    }
    for (int k = 0; k < 3; k += 2) {
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
            situ_tilesrc_release(src[k][cid]);
        situ_snapshot_release(snap[k]);
    }
    fixture_close(&fx);
}

/* ---- lines ------------------------------------------------------------------ */

/* lon/lat of the point (u, v) in tile units of t. */
static void from_tile(situ_tile_xyz t, double u, double v, double *lon, double *lat)
{
    double n = (double)(1u << t.z);
    *lon = (t.x + u / 4096) / n * 360 - 180;
    *lat = atan(sinh(M_PI * (1 - 2 * (t.y + v / 4096) / n))) * 180 / M_PI;
}

/* Appends "x y" of tile point (u, v) of t to a WKT text. */
static void wkt_pt(char *w, size_t nw, situ_tile_xyz t, double u, double v, const char *sep)
{
    double lon, lat;
    from_tile(t, u, v, &lon, &lat);
    size_t n = strlen(w);
    snprintf(w + n, nw - n, "%.12f %.12f%s", lon, lat, sep);
}

/* A store holding only roads; its snapshot's roads prepared for tiles. */
typedef struct road_town {
    char *dir;
    situ_store *store;
    situ_snapshot *snap;
    situ_tilesrc *src;
} road_town;

static void road_put(road_town *r, const char *id, const char *cls, const char *wkt)
{
    const situ_collection *c = situ_schema_collection(SITU_C_ROADS);
    situ_value v[32] = {0};
    v[situ_schema_field_index(c, "class")] = (situ_value){SITU_FT_TEXT, {.s = cls}};
    v[situ_schema_field_index(c, "speed_kmh")] = (situ_value){SITU_FT_REAL, {.d = 80}};
    v[situ_schema_field_index(c, "status")] = (situ_value){SITU_FT_TEXT, {.s = "closed"}};
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    assert_non_null(wkb);
    situ_feature_in in = {
        .id = id, .township_code = "431102001", .wkb = wkb, .nwkb = n, .values = v};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(r->store, c, &in, NULL, &err), 0);
    free(wkb);
}

/* Roads around tile t (z12): L1 an expressway that leaves the buffered
 * tile eastwards and comes back (a U in tile units (1000,1000) (3000,1000)
 * (5000,2000) (3000,3000) (1000,3000)), with a second part far away and a
 * third that snaps to one point; L2 a county road, L3 a village road, both
 * straight across the tile. */
static void road_town_open(road_town *r, situ_tile_xyz t)
{
    char path[4096], w[2048];
    situ_err err = {0};
    memset(r, 0, sizeof *r);
    r->dir = situ_test_tmpdir("roadtile");
    snprintf(path, sizeof path, "%s/r.sqlite", r->dir);
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &r->store, &err), 0);
    snprintf(w, sizeof w, "MULTILINESTRING((");
    wkt_pt(w, sizeof w, t, 1000, 1000, ",");
    wkt_pt(w, sizeof w, t, 3000, 1000, ",");
    wkt_pt(w, sizeof w, t, 5000, 2000, ",");
    wkt_pt(w, sizeof w, t, 3000, 3000, ",");
    wkt_pt(w, sizeof w, t, 1000, 3000, "),(");
    wkt_pt(w, sizeof w, t, 20000, 20000, ",");
    wkt_pt(w, sizeof w, t, 21000, 20000, "),(");
    wkt_pt(w, sizeof w, t, 2000, 2000, ",");
    wkt_pt(w, sizeof w, t, 2000.2, 2000.1, "))");
    road_put(r, "L1", "expressway", w);
    const char *const cls[] = {"county", "village"};
    for (int i = 0; i < 2; i++) {
        snprintf(w, sizeof w, "LINESTRING(");
        wkt_pt(w, sizeof w, t, 500 + 1000 * i, -200, ",");
        wkt_pt(w, sizeof w, t, 500 + 1000 * i, 4300, ")");
        road_put(r, i ? "L3" : "L2", cls[i], w);
    }
    assert_int_equal(situ_snapshot_load(r->store, &r->snap, &err), 0);
    assert_int_equal(situ_tilesrc_new(r->snap->colls[SITU_C_ROADS], &r->src, &err), 0);
}

static void road_town_close(road_town *r)
{
    situ_tilesrc_release(r->src);
    situ_snapshot_release(r->snap);
    situ_store_close(r->store);
    situ_test_rmtree(r->dir);
    free(r->dir);
}

/* The layer's feature with property id, or NULL. */
static const situ_mvt_feature *feature_of(const situ_mvt_rlayer *l, const char *id)
{
    for (size_t i = 0; i < l->nfeats; i++) {
        const situ_mvt_value *v = prop(l, &l->feats[i], "id");
        if (v && v->n == strlen(id) && !memcmp(v->s, id, v->n))
            return &l->feats[i];
    }
    return NULL;
}

/* A line crossing out of the buffered tile and back is two LineString parts
 * (MVT type 2, MoveTo/LineTo, no ClosePath), cut exactly at the buffer's
 * edge, vertex order kept; a part elsewhere and a part that snaps to one
 * point are left out. Properties: the road list, not speed or township. */
static void line_crossing_a_tile_is_clipped_into_parts(void **state)
{
    (void)state;
    situ_tile_xyz t = tile_at(12, 111.6, 26.4);
    road_town r;
    road_town_open(&r, t);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_tile_stats st;
    situ_mvt_tile *mt = encode_one(r.src, t, NULL, &buf, &st);
    assert_int_equal(mt->nlayers, 1);
    const situ_mvt_rlayer *l = &mt->layers[0];
    assert_string_equal(l->name, "roads");
    assert_int_equal(l->nfeats, 3);
    assert_int_equal(st.lines, 3);
    const situ_mvt_feature *f = feature_of(l, "L1");
    assert_non_null(f);
    assert_int_equal(f->type, SITU_MVT_LINESTRING);
    /* per part MoveTo(1) LineTo(2) and nothing else: no ClosePath */
    assert_int_equal(f->ngeom, 2 * (1 + 2 + 1 + 4));
    for (int part = 0; part < 2; part++) {
        assert_int_equal(f->geom[8 * part], situ_mvt_cmd(SITU_MVT_MOVETO, 1));
        assert_int_equal(f->geom[8 * part + 3], situ_mvt_cmd(SITU_MVT_LINETO, 2));
    }
    int32_t *xy;
    uint32_t *parts;
    size_t npts, nparts;
    situ_err err = {0};
    assert_int_equal(situ_mvt_geom_decode(f, &xy, &npts, &parts, &nparts, &err), 0);
    assert_int_equal(nparts, 2);
    assert_int_equal(parts[0], 3);
    assert_int_equal(parts[1], 3);
    static const int32_t want[] = {1000, 1000, 3000, 1000, 4160, 1580,
                                   4160, 2420, 3000, 3000, 1000, 3000};
    assert_memory_equal(xy, want, sizeof want);
    free(xy), free(parts);
    assert_non_null(prop(l, f, "class"));
    assert_non_null(prop(l, f, "status"));
    assert_null(prop(l, f, "speed_kmh"));
    assert_null(prop(l, f, "township_code"));
    situ_mvt_tile_free(mt);
    situ_buf_dispose(&buf);
    road_town_close(&r);
}

/* The roads layer at low zoom carries the trunk only: an expressway from
 * z6, a county road from z9, a village road from z11. */
static void minor_roads_come_later(void **state)
{
    (void)state;
    situ_tile_xyz t = tile_at(12, 111.6, 26.4);
    road_town r;
    road_town_open(&r, t);
    situ_buf buf;
    situ_buf_init(&buf);
    static const struct {
        int z;
        int l1, l2, l3;
    } want[] = {{5, 0, 0, 0},  {6, 1, 0, 0},  {8, 1, 0, 0}, {9, 1, 1, 0},
                {10, 1, 1, 0}, {11, 1, 1, 1}, {12, 1, 1, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        situ_tile_xyz tz = tile_at(want[i].z, 111.6, 26.4);
        situ_err err = {0};
        buf.n = 0;
        assert_int_equal(situ_tile_encode_coll(r.src, tz, NULL, &buf, NULL, &err), 0);
        situ_mvt_tile *mt = NULL;
        assert_int_equal(situ_mvt_decode(buf.p, buf.n, &mt, &err), 0);
        const situ_mvt_rlayer *l = mt->nlayers ? &mt->layers[0] : NULL;
        assert_int_equal(l && feature_of(l, "L1"), want[i].l1);
        assert_int_equal(l && feature_of(l, "L2"), want[i].l2);
        assert_int_equal(l && feature_of(l, "L3"), want[i].l3);
        situ_mvt_tile_free(mt);
    }
    situ_buf_dispose(&buf);
    road_town_close(&r);
}

static void line_clip_runs(void **state)
{
    (void)state;
    /* in and out, back in along the left and bottom edges (the edge is
     * inside) and out at a corner, then a segment wholly outside and one
     * that only touches the square at (0, 0): three runs, in order */
    const double in[] = {10,  10,  200, 10,  200, 50,  10,  50,  0,  50, 0,
                         100, 100, 100, 100, 300, -50, 300, -50, 50, 50, -50};
    tile_rings out = {0};
    assert_int_equal(situ__line_clip(in, 11, 0, 100, &out), 0);
    assert_int_equal(out.nrings, 3);
    const double r0[] = {10, 10, 100, 10};
    const double r1[] = {100, 50, 10, 50, 0, 50, 0, 100, 100, 100};
    const double r2[] = {0, 0};
    assert_int_equal(out.off[1], 2);
    assert_memory_equal(out.xy, r0, sizeof r0);
    assert_int_equal(out.off[2] - out.off[1], 5);
    assert_memory_equal(out.xy + 2 * out.off[1], r1, sizeof r1);
    /* a run of one point (a touch): write_run drops it after snapping */
    assert_int_equal(out.off[3] - out.off[2], 1);
    assert_memory_equal(out.xy + 2 * out.off[2], r2, sizeof r2);
    situ__rings_dispose(&out);
}

/* ---- the independent decoder: GDAL ------------------------------------------ */

typedef struct gcheck {
    const situ_snapshot *snap;
    situ_tile_xyz t;
    double b[4]; /* the tile, EPSG:3857 */
    double unit; /* metres per tile unit */
    size_t feats, polygons, points, lines, vertices;
    double worst; /* worst vertex distance, in units (L-infinity) */
} gcheck;

static OGRGeometryH rect_3857(double x0, double y0, double x1, double y1)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    OGR_G_AddPoint_2D(ring, x0, y0);
    OGR_G_AddPoint_2D(ring, x1, y0);
    OGR_G_AddPoint_2D(ring, x1, y1);
    OGR_G_AddPoint_2D(ring, x0, y1);
    OGR_G_AddPoint_2D(ring, x0, y0);
    OGRGeometryH p = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddGeometryDirectly(p, ring);
    return p;
}

static void merc(double lon, double lat, double *x, double *y)
{
    const double half = 20037508.342789244;
    situ_tile_project(lon, lat, x, y);
    *x = *x * 2 * half - half;
    *y = half - *y * 2 * half;
}

/* Feature fi of c in EPSG:3857, as OGR: a point, a multipolygon or a
 * multilinestring. */
static OGRGeometryH source_geom(const situ_coll *c, size_t fi)
{
    const situ_feature *f = &c->feats[fi];
    double x, y;
    if (!f->npolys) {
        OGRGeometryH p = OGR_G_CreateGeometry(wkbPoint);
        merc(f->x, f->y, &x, &y);
        OGR_G_AddPoint_2D(p, x, y);
        return p;
    }
    if (c->c->gtype == SITU_GT_MULTILINESTRING) {
        OGRGeometryH m = OGR_G_CreateGeometry(wkbMultiLineString);
        for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
            const situ_ring *ring = &c->rings[c->polys[p].ring0];
            OGRGeometryH g = OGR_G_CreateGeometry(wkbLineString);
            for (uint32_t k = 0; k < ring->n; k++) {
                merc(c->xy[2 * (ring->off + k)], c->xy[2 * (ring->off + k) + 1], &x, &y);
                OGR_G_AddPoint_2D(g, x, y);
            }
            OGR_G_AddGeometryDirectly(m, g);
        }
        return m;
    }
    OGRGeometryH m = OGR_G_CreateGeometry(wkbMultiPolygon);
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        OGRGeometryH poly = OGR_G_CreateGeometry(wkbPolygon);
        for (uint32_t r = 0; r < c->polys[p].nrings; r++) {
            const situ_ring *ring = &c->rings[c->polys[p].ring0 + r];
            OGRGeometryH g = OGR_G_CreateGeometry(wkbLinearRing);
            for (uint32_t k = 0; k < ring->n; k++) {
                merc(c->xy[2 * (ring->off + k)], c->xy[2 * (ring->off + k) + 1], &x, &y);
                OGR_G_AddPoint_2D(g, x, y);
            }
            OGR_G_AddGeometryDirectly(poly, g);
        }
        OGR_G_AddGeometryDirectly(m, poly);
    }
    return m;
}

/* 1 when target lies within d units (L-infinity) of (x, y). */
static int near(const gcheck *g, OGRGeometryH target, double x, double y, double d)
{
    OGRGeometryH sq = rect_3857(x - d * g->unit, y - d * g->unit, x + d * g->unit, y + d * g->unit);
    int hit = OGR_G_Intersects(sq, target);
    OGR_G_DestroyGeometry(sq);
    return hit;
}

/* Every vertex of a decoded line lies within 1.5 units of the source line
 * (rounding, and a clipped end on the simplified line); each part has at
 * least two distinct points. */
static void check_line(gcheck *g, OGRGeometryH src, OGRGeometryH got)
{
    OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(got));
    assert_true(type == wkbLineString || type == wkbMultiLineString);
    int np = type == wkbLineString ? 1 : OGR_G_GetGeometryCount(got);
    for (int p = 0; p < np; p++) {
        OGRGeometryH line = type == wkbLineString ? got : OGR_G_GetGeometryRef(got, p);
        assert_true(OGR_G_GetPointCount(line) >= 2);
        assert_true(OGR_G_Length(line) > 0);
        for (int k = 0; k < OGR_G_GetPointCount(line); k++) {
            double x = OGR_G_GetX(line, k), y = OGR_G_GetY(line, k);
            if (!near(g, src, x, y, 1.5))
                fail_msg("tile %d/%u/%u: line vertex (%.1f, %.1f) units is off the source", g->t.z,
                         g->t.x, g->t.y, (x - g->b[0]) / g->unit, (g->b[3] - y) / g->unit);
            g->vertices++;
        }
    }
    g->lines++;
}

/* Every vertex of a decoded polygon lies within one unit of the source
 * clipped to the buffered tile (its boundary, or the square's corners). */
static void check_geometry(gcheck *g, OGRGeometryH src, OGRGeometryH got, int polygon_source)
{
    double bu = 64 * g->unit;
    OGRGeometryH buffered = rect_3857(g->b[0] - bu, g->b[1] - bu, g->b[2] + bu, g->b[3] + bu);
    OGRGeometryH clipped = polygon_source ? OGR_G_Intersection(src, buffered) : NULL;
    OGRGeometryH edge = clipped ? OGR_G_Boundary(clipped) : NULL;
    OGRwkbGeometryType type = wkbFlatten(OGR_G_GetGeometryType(got));
    if (type == wkbPoint || type == wkbMultiPoint) {
        /* a point, or a polygon written as a point: on or near the source */
        int n = OGR_G_GetPointCount(got) ? 1 : OGR_G_GetGeometryCount(got);
        for (int i = 0; i < n; i++) {
            OGRGeometryH pt = type == wkbPoint ? got : OGR_G_GetGeometryRef(got, i);
            assert_true(
                near(g, src, OGR_G_GetX(pt, 0), OGR_G_GetY(pt, 0), polygon_source ? 1.0 : 0.5));
        }
        g->points++;
    } else {
        assert_true(polygon_source);
        assert_true(OGR_G_IsValid(got));
        int np = type == wkbPolygon ? 1 : OGR_G_GetGeometryCount(got);
        for (int p = 0; p < np; p++) {
            OGRGeometryH poly = type == wkbPolygon ? got : OGR_G_GetGeometryRef(got, p);
            for (int r = 0; r < OGR_G_GetGeometryCount(poly); r++) {
                OGRGeometryH ring = OGR_G_GetGeometryRef(poly, r);
                for (int k = 0; k < OGR_G_GetPointCount(ring); k++) {
                    double x = OGR_G_GetX(ring, k), y = OGR_G_GetY(ring, k);
                    if (!near(g, edge, x, y, 1.0)) {
                        for (double d = 1; d < 64 && !near(g, edge, x, y, d); d *= 1.25)
                            g->worst = d > g->worst ? d : g->worst;
                        fail_msg("tile %d/%u/%u: vertex (%.1f, %.1f) units is %.1f+ units off "
                                 "the source",
                                 g->t.z, g->t.x, g->t.y, (x - g->b[0]) / g->unit,
                                 (g->b[3] - y) / g->unit, g->worst);
                    }
                    g->vertices++;
                }
            }
        }
        g->polygons++;
    }
    OGR_G_DestroyGeometry(edge);
    OGR_G_DestroyGeometry(clipped);
    OGR_G_DestroyGeometry(buffered);
}

static void check_properties(const situ_coll *c, const situ_feature *f, OGRFeatureH of)
{
    OGRFeatureDefnH defn = OGR_F_GetDefnRef(of);
    int k = OGR_F_GetFieldIndex(of, "mvt_id");
    assert_true(k >= 0);
    assert_true((uint64_t)OGR_F_GetFieldAsInteger64(of, k) == situ_tile_feature_id(f->id));
    k = OGR_F_GetFieldIndex(of, "township_code");
    if (f->township_code[0] && carried(c->c, "township_code"))
        assert_string_equal(OGR_F_GetFieldAsString(of, k), f->township_code);
    else if (f->township_code[0])
        assert_true(k < 0 || !OGR_F_IsFieldSetAndNotNull(of, k));
    for (int i = 0; i < c->c->nfields; i++) {
        const situ_value *v = &f->values[i];
        k = OGR_F_GetFieldIndex(of, c->c->fields[i].name);
        if (!v->type || !carried(c->c, c->c->fields[i].name)) {
            assert_true(k < 0 || !OGR_F_IsFieldSetAndNotNull(of, k));
            continue;
        }
        assert_true(k >= 0 && OGR_F_IsFieldSetAndNotNull(of, k));
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(defn, k);
        OGRFieldType ft = OGR_Fld_GetType(fd);
        if (v->type == SITU_FT_TEXT) {
            assert_int_equal(ft, OFTString);
            assert_string_equal(OGR_F_GetFieldAsString(of, k), v->u.s);
        } else if (v->type == SITU_FT_INT) {
            assert_true(ft == OFTInteger || ft == OFTInteger64);
            assert_int_equal(OGR_F_GetFieldAsInteger64(of, k), v->u.i);
        } else if (v->type == SITU_FT_REAL) {
            assert_int_equal(ft, OFTReal);
            assert_true(OGR_F_GetFieldAsDouble(of, k) == v->u.d);
        } else {
            assert_int_equal(ft, OFTInteger);
            assert_int_equal(OGR_Fld_GetSubType(fd), OFSTBoolean);
            assert_int_equal(OGR_F_GetFieldAsInteger(of, k), v->u.i != 0);
        }
    }
    for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++) {
        char key[64];
        snprintf(key, sizeof key, "item_%s", situ_schema_item(c->held[h].item)->code);
        k = OGR_F_GetFieldIndex(of, key);
        assert_true(k >= 0);
        assert_true(OGR_F_GetFieldAsDouble(of, k) == c->held[h].quantity);
    }
}

/* Features of c that must be in the tile: points inside it, polygons whose
 * part inside it has at least 4 square units, lines (of a class drawn at
 * this zoom) whose part inside it is at least 4 units long. */
static int must_be_there(const gcheck *g, OGRGeometryH src, situ_gtype gtype)
{
    OGRGeometryH tile = rect_3857(g->b[0], g->b[1], g->b[2], g->b[3]);
    int must, polygon = gtype == SITU_GT_MULTIPOLYGON;
    if (gtype == SITU_GT_MULTILINESTRING) {
        OGRGeometryH in = OGR_G_Intersection(src, tile);
        must = in && OGR_G_Length(in) >= 4 * g->unit;
        OGR_G_DestroyGeometry(in);
    } else if (!polygon) {
        must = OGR_G_Within(src, tile);
    } else {
        OGRGeometryH in = OGR_G_Intersection(src, tile);
        must = in && OGR_G_Area(in) >= 4 * g->unit * g->unit;
        OGR_G_DestroyGeometry(in);
    }
    OGR_G_DestroyGeometry(tile);
    return must;
}

/* Decodes one written tile with GDAL and checks it against the snapshot. */
static void gdal_check_tile(gcheck *g, const char *path, size_t nbytes, OGRGeometryH **geoms,
                            const situ_tile_opts *o)
{
    char *seen[SITU_NCOLLECTIONS] = {0};
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        seen[cid] = calloc(g->snap->colls[cid]->n + 1, 1);
    const char *const drivers[] = {"MVT", NULL}, *const oo[] = {"CLIP=NO", NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, oo, NULL);
    if (!ds && nbytes) /* an empty tile is no file GDAL opens; any other must be */
        fail_msg("tile %d/%u/%u (%zu bytes): GDAL cannot open it", g->t.z, g->t.x, g->t.y, nbytes);
    double bu = 64 * g->unit + g->unit;
    OGRGeometryH buffered = rect_3857(g->b[0] - bu, g->b[1] - bu, g->b[2] + bu, g->b[3] + bu);
    for (int li = 0; ds && li < GDALDatasetGetLayerCount(ds); li++) {
        OGRLayerH layer = GDALDatasetGetLayer(ds, li);
        const situ_collection *sc = situ_schema_find(OGR_L_GetName(layer));
        assert_non_null(sc);
        const situ_coll *c = g->snap->colls[sc->cid];
        OGRFeatureH of;
        OGR_L_ResetReading(layer);
        while ((of = OGR_L_GetNextFeature(layer))) {
            long fi = situ_coll_find(c, OGR_F_GetFieldAsString(of, OGR_F_GetFieldIndex(of, "id")));
            assert_true(fi >= 0);
            seen[sc->cid][fi] = 1;
            /* nothing that does not meet the buffered tile */
            assert_true(OGR_G_Intersects(geoms[sc->cid][fi], buffered));
            if (sc->gtype == SITU_GT_MULTILINESTRING)
                check_line(g, geoms[sc->cid][fi], OGR_F_GetGeometryRef(of));
            else
                check_geometry(g, geoms[sc->cid][fi], OGR_F_GetGeometryRef(of),
                               sc->gtype == SITU_GT_MULTIPOLYGON);
            check_properties(c, &c->feats[fi], of);
            g->feats++;
            OGR_F_Destroy(of);
        }
    }
    if (ds)
        GDALClose(ds);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        const situ_coll *c = g->snap->colls[cid];
        for (size_t fi = 0; g->t.z >= o->minzoom[cid] && fi < c->n; fi++)
            if (!seen[cid][fi] && g->t.z >= situ__tile_feature_minzoom(c, &c->feats[fi]) &&
                must_be_there(g, geoms[cid][fi], c->c->gtype))
                fail_msg("tile %d/%u/%u: %s %s meets the tile but is missing", g->t.z, g->t.x,
                         g->t.y, c->c->id, c->feats[fi].id);
        free(seen[cid]);
    }
    OGR_G_DestroyGeometry(buffered);
}

/* A ring of tile_rings as an OGR polygon ring. */
static OGRGeometryH ogr_ring(const tile_rings *r, size_t i)
{
    OGRGeometryH ring = OGR_G_CreateGeometry(wkbLinearRing);
    for (uint32_t k = r->off[i]; k < r->off[i + 1]; k++)
        OGR_G_AddPoint_2D(ring, r->xy[2 * k], r->xy[2 * k + 1]);
    OGR_G_AddPoint_2D(ring, r->xy[2 * r->off[i]], r->xy[2 * r->off[i] + 1]);
    return ring;
}

/* Spiky stars with a hole, around points inside the square or near its
 * top edge (no vertex exactly on an edge: a spike touching the edge at a
 * vertex gives a self-touching part, snapping's business): the parts' area
 * equals GEOS's intersection, and every part is valid. */
static void clipper_agrees_with_geos(void **state)
{
    (void)state;
    tile_fixture f = {.rng = 11};
    tile_rings in = {0}, out = {0}, runs = {0};
    enum { N = 400 };
    double star[2 * N], hole[2 * 8];
    for (int trial = 0; trial < 200; trial++) {
        double cx = 100 * fx_rand(&f), cy = fx_rand(&f) < 0.5 ? 100 * fx_rand(&f) : 0.37;
        for (int i = 0; i < N; i++) {
            double a = 2 * M_PI * i / N, r = i % 2 ? 60 : 10 + 40 * fx_rand(&f);
            star[2 * i] = cx + r * cos(a), star[2 * i + 1] = cy + r * sin(a);
        }
        for (int i = 0; i < 8; i++) {
            double a = -2 * M_PI * i / 8;
            hole[2 * i] = cx + 4 * cos(a), hole[2 * i + 1] = cy + 4 * sin(a);
        }
        const double *r[] = {star, hole};
        size_t n[] = {N, 8};
        rings_of(&in, r, n, 2);
        assert_true(ring_area(&in, 0) > 0 && ring_area(&in, 1) < 0);
        situ__rings_reset(&out);
        assert_int_equal(situ__poly_clip(&in, 0, 100, &out, &runs), 0);
        double area = 0;
        for (size_t i = 0; i < out.nrings; i++)
            area += ring_area(&out, i);
        OGRGeometryH src = OGR_G_CreateGeometry(wkbPolygon);
        OGR_G_AddGeometryDirectly(src, ogr_ring(&in, 0));
        OGR_G_AddGeometryDirectly(src, ogr_ring(&in, 1));
        OGRGeometryH sq = rect_3857(0, 0, 100, 100), want = OGR_G_Intersection(src, sq);
        situ_assert_near(area, want ? OGR_G_Area(want) : 0, 1e-6);
        for (size_t i = 0; i < out.nrings; i++) {
            if (out.parent[i] != i)
                continue;
            OGRGeometryH part = OGR_G_CreateGeometry(wkbPolygon);
            OGR_G_AddGeometryDirectly(part, ogr_ring(&out, i));
            for (size_t h = 0; h < out.nrings; h++)
                if (h != i && out.parent[h] == i)
                    OGR_G_AddGeometryDirectly(part, ogr_ring(&out, h));
            assert_true(OGR_G_IsValid(part));
            OGR_G_DestroyGeometry(part);
        }
        OGR_G_DestroyGeometry(src), OGR_G_DestroyGeometry(sq), OGR_G_DestroyGeometry(want);
    }
    situ__rings_dispose(&in), situ__rings_dispose(&out), situ__rings_dispose(&runs);
}

static void gdal_decodes_every_feature_within_a_pixel(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    GDALAllRegister();
    srcs p;
    srcs_open(&p, fx.snap);
    OGRGeometryH *geoms[SITU_NCOLLECTIONS];
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        const situ_coll *c = fx.snap->colls[cid];
        geoms[cid] = calloc(c->n + 1, sizeof *geoms[cid]);
        for (size_t i = 0; i < c->n; i++)
            geoms[cid][i] = source_geom(c, i);
    }
    situ_tile_opts o; /* every feature itself: no clustering, aggregates or counties */
    opts_unclustered(&o);
    o.aggregate_below = o.county_below = o.province_below = 0;
    situ_tile_xyz tiles[600];
    size_t nt = test_tiles(tiles, 600);
    assert_true(nt >= 200);
    situ_buf buf;
    situ_buf_init(&buf);
    gcheck g = {.snap = fx.snap};
    situ_err err = {0};
    for (size_t i = 0; i < nt; i++) {
        g.t = tiles[i];
        situ_tile_bounds_3857(g.t, g.b);
        g.unit = (g.b[2] - g.b[0]) / 4096;
        buf.n = 0;
        for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
            assert_int_equal(situ_tile_encode_coll(p.s[cid], g.t, &o, &buf, NULL, &err), 0);
        char path[4096];
        snprintf(path, sizeof path, "%s/%d-%u-%u.pbf", fx.dir, g.t.z, g.t.x, g.t.y);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf.p, 1, buf.n, f), buf.n);
        fclose(f);
        gdal_check_tile(&g, path, buf.n, geoms, &o);
    }
    fprintf(stderr,
            "  %zu tiles z5-17: %zu features (%zu polygons, %zu points, %zu lines), %zu vertices "
            "checked\n",
            nt, g.feats, g.polygons, g.points, g.lines, g.vertices);
    assert_true(g.polygons > 1000 && g.points > 1000 && g.lines > 300);
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        for (size_t i = 0; i < fx.snap->colls[cid]->n; i++)
            OGR_G_DestroyGeometry(geoms[cid][i]);
        free(geoms[cid]);
    }
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

static void all_eight_layers_at_z12_in_the_centre(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    GDALAllRegister();
    srcs p;
    srcs_open(&p, fx.snap);
    situ_tile_xyz t = tile_at(12, FX_LON0 + FX_SPAN / 2, FX_LAT0 + FX_SPAN / 2);
    situ_buf buf;
    situ_buf_init(&buf);
    situ_err err = {0};
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++)
        assert_int_equal(situ_tile_encode_coll(p.s[cid], t, NULL, &buf, NULL, &err), 0);
    char path[4096];
    snprintf(path, sizeof path, "%s/centre-z12.mvt", fx.dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(buf.p, 1, buf.n, f);
    fclose(f);
    char xo[32], yo[32];
    snprintf(xo, sizeof xo, "X=%u", t.x);
    snprintf(yo, sizeof yo, "Y=%u", t.y);
    const char *const drivers[] = {"MVT", NULL}, *const oo[] = {xo, yo, "Z=12", NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, oo, NULL);
    assert_non_null(ds);
    assert_int_equal(GDALDatasetGetLayerCount(ds), SITU_NCOLLECTIONS);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        OGRLayerH l = GDALDatasetGetLayer(ds, i);
        assert_string_equal(OGR_L_GetName(l), situ_schema_collection((situ_coll_id)i)->id);
        assert_true(OGR_L_GetFeatureCount(l, 1) > 0);
    }
    GDALClose(ds);
    situ_buf_dispose(&buf);
    srcs_close(&p);
    fixture_close(&fx);
}

/* The counties' and provinces' points kept per zoom (tile_prep.c's
 * build_lod) are what the filter keeps at each zoom they are drawn at, ring
 * by ring; another tolerance finds none (the tile filters then). */
static void outlines_kept_per_zoom_equal_the_filter(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    srcs p;
    srcs_open(&p, fx.snap);
    for (int level = 0; level < 2; level++) {
        const situ_tilesrc *a = situ_tilesrc_admin(p.s[SITU_C_TOWNSHIPS], level);
        assert_non_null(a);
        assert_true(a->nrings > 0);
        int z0 = level ? 0 : SITU_TILE_PROVINCE_BELOW;
        int z1 = level ? SITU_TILE_PROVINCE_BELOW : SITU_TILE_COUNTY_BELOW;
        for (int z = z0; z < z1; z++) {
            float tol2 = situ__tile_tol2(1.0, z, 4096);
            const tile_lod *l = situ__tile_lod(a, z, tol2);
            assert_non_null(l);
            assert_null(situ__tile_lod(a, z, tol2 * 2));
            size_t kept = 0;
            for (size_t r = 0; r < a->nrings; r++) {
                const situ_ring *ring = &a->coll->rings[r];
                uint32_t *idx = malloc(ring->n * sizeof *idx);
                size_t k = situ__ring_keep(a->imp + ring->off, ring->n, tol2, idx);
                assert_int_equal(l->off[r + 1] - l->off[r], k);
                assert_memory_equal(l->idx + l->off[r], idx, k * sizeof *idx);
                kept += k;
                free(idx);
            }
            assert_true(kept >= 3 * a->coll->n);
        }
        assert_null(situ__tile_lod(a, level ? SITU_TILE_PROVINCE_BELOW : 0,
                                   situ__tile_tol2(1.0, level ? 3 : 0, 4096)));
    }
    srcs_close(&p);
    fixture_close(&fx);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(parse_validates_each_part),
    cmocka_unit_test(parse_path_and_set),
    cmocka_unit_test(bounds_and_projection),
    cmocka_unit_test(projection_matches_proj_at_mid_latitudes),
    cmocka_unit_test(projection_memo_equals_projection),
    cmocka_unit_test(importance_filter_equals_bottom_up),
    cmocka_unit_test(snap_clean_area),
    cmocka_unit_test(clipper_makes_parts_not_bridges),
    cmocka_unit_test(clipper_joins_a_comb_of_50000_teeth),
    cmocka_unit_test(known_polygon_exact_commands),
    cmocka_unit_test(line_clip_runs),
    cmocka_unit_test(line_crossing_a_tile_is_clipped_into_parts),
    cmocka_unit_test(minor_roads_come_later),
    cmocka_unit_test(properties_keep_their_types),
    cmocka_unit_test(low_zoom_rules),
    cmocka_unit_test(outlines_kept_per_zoom_equal_the_filter),
    cmocka_unit_test(rings_are_clean_and_oriented),
    cmocka_unit_test(sawtooth_200k_vertices),
    cmocka_unit_test(incremental_versions_equal_a_cold_build),
    cmocka_unit_test(ids_equal_to_other_values_are_looked_up),
    cmocka_unit_test(pyramid_equals_a_scan),
    cmocka_unit_test(pyramid_follows_feature_changes),
    cmocka_unit_test(pyramid_kept_up_to_date_equals_a_cold_build),
    cmocka_unit_test(carried_over_preparation_equals_a_cold_build),
    cmocka_unit_test(few_valued_texts_are_coded_and_fall_back),
    cmocka_unit_test(every_layer_holds_each_value_once),
    cmocka_unit_test(unique_texts_are_written_apart_until_two_are_equal),
    cmocka_unit_test(tiles_from_the_snapshot_file_equal_a_cold_build),
    cmocka_unit_test(clipper_agrees_with_geos),
    cmocka_unit_test(gdal_decodes_every_feature_within_a_pixel),
    cmocka_unit_test(all_eight_layers_at_z12_in_the_centre),
};

SITU_TEST_MAIN("tile", tests)

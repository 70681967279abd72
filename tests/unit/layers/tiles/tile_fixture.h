/*
 * tile_fixture.h: private to the tile tests (tile_test.c, tilecache_test.c,
 * tilejson_test.c). A real SpatiaLite store in a temp folder, filled with a
 * deterministic synthetic town (lon 111.50..111.70, lat 26.30..26.50) that
 * has every collection, every field type, NULLs, polygons with holes,
 * multipolygons, dense point clusters, resources with items and roads
 * (straight trunk roads through the centre, winding multi-part minor ones
 * of every class); and its snapshot.
 */
#ifndef SITU_TILE_FIXTURE_H
#define SITU_TILE_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "testlib.h"

#define FX_LON0 111.50
#define FX_LAT0 26.30
#define FX_SPAN 0.20

typedef struct tile_fixture {
    char *dir;
    situ_store *store;
    situ_snapshot *snap;
    uint64_t rng;
} tile_fixture;

static double fx_rand(tile_fixture *f)
{
    f->rng = f->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(f->rng >> 11) / 9007199254740992.0;
}

/* ---- WKB -------------------------------------------------------------------- */

static void fx_u32(situ_buf *b, uint32_t v)
{
    situ_buf_add(b, &v, 4);
}

static void fx_f64(situ_buf *b, double v)
{
    situ_buf_add(b, &v, 8);
}

static void fx_point(situ_buf *b, double lon, double lat)
{
    situ_buf_addc(b, 1);
    fx_u32(b, 1);
    fx_f64(b, lon);
    fx_f64(b, lat);
}

/* A ring of n points (closed here) around (cx, cy): a star when jag > 0. */
static void fx_ring(situ_buf *b, double cx, double cy, double r, int n, double jag, int cw,
                    tile_fixture *f)
{
    fx_u32(b, (uint32_t)n + 1);
    double x0 = 0, y0 = 0;
    for (int i = 0; i < n; i++) {
        double a = 2 * M_PI * i / n * (cw ? -1 : 1);
        double rr = r * (1 - jag * fx_rand(f));
        double x = cx + rr * cos(a) / cos(cy * M_PI / 180), y = cy + rr * sin(a);
        if (i == 0)
            x0 = x, y0 = y;
        fx_f64(b, x);
        fx_f64(b, y);
    }
    fx_f64(b, x0);
    fx_f64(b, y0);
}

/* A polygon: exterior counter-clockwise, optional hole. */
static void fx_polygon(situ_buf *b, double cx, double cy, double r, int n, double jag, int hole,
                       tile_fixture *f)
{
    situ_buf_addc(b, 1);
    fx_u32(b, 3);
    fx_u32(b, hole ? 2 : 1);
    fx_ring(b, cx, cy, r, n, jag, 0, f);
    if (hole)
        fx_ring(b, cx, cy, r * 0.35, n / 2 + 3, 0, 1, f);
}

static void fx_multi_header(situ_buf *b, int nparts)
{
    situ_buf_addc(b, 1);
    fx_u32(b, 6);
    fx_u32(b, (uint32_t)nparts);
}

/* An axis-aligned rectangle with `per_side` points a side, optional hole. */
static void fx_rect(situ_buf *b, double x0, double y0, double x1, double y1, int per_side, int hole)
{
    situ_buf_addc(b, 1);
    fx_u32(b, 3);
    fx_u32(b, hole ? 2 : 1);
    fx_u32(b, 4 * (uint32_t)per_side + 1);
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < per_side; i++) {
            double t = (double)i / per_side;
            double x = s == 0 ? x0 + t * (x1 - x0) : s == 1 ? x1 : s == 2 ? x1 - t * (x1 - x0) : x0;
            double y = s == 0 ? y0 : s == 1 ? y0 + t * (y1 - y0) : s == 2 ? y1 : y1 - t * (y1 - y0);
            fx_f64(b, x);
            fx_f64(b, y);
        }
    fx_f64(b, x0);
    fx_f64(b, y0);
    if (hole) {
        double mx = (x0 + x1) / 2, my = (y0 + y1) / 2, w = (x1 - x0) / 6, h = (y1 - y0) / 6;
        fx_u32(b, 5);
        double hx[5] = {mx - w, mx - w, mx + w, mx + w, mx - w};
        double hy[5] = {my - h, my + h, my + h, my - h, my - h};
        for (int i = 0; i < 5; i++)
            fx_f64(b, hx[i]), fx_f64(b, hy[i]);
    }
}

/* ---- features --------------------------------------------------------------- */

/* Fills every field of c for feature i; every 7th feature leaves the
 * optional ones NULL. */
static void fx_values(const situ_collection *c, int i, situ_value *v, char (*text)[48])
{
    for (int k = 0; k < c->nfields; k++) {
        const situ_field *fd = &c->fields[k];
        v[k].type = 0;
        if (i % 7 == 3 && !(fd->flags & SITU_FF_REQUIRED))
            continue;
        v[k].type = fd->type;
        if (fd->type == SITU_FT_TEXT) {
            if (fd->domain && !strstr(fd->domain, "..")) {
                int nopt = 1;
                for (const char *p = fd->domain; *p; p++)
                    nopt += *p == '|';
                const char *p = fd->domain;
                for (int skip = i % nopt; skip > 0; skip--)
                    p = strchr(p, '|') + 1;
                size_t n = strcspn(p, "|");
                snprintf(text[k], 48, "%.*s", (int)n, p);
            } else {
                snprintf(text[k], 48, "%s-%d 名", fd->name, i % 13);
            }
            v[k].u.s = text[k];
        } else if (fd->type == SITU_FT_INT) {
            v[k].u.i = fd->domain ? 1 + i % 4 : (long long)i * 37 - 100;
        } else if (fd->type == SITU_FT_REAL) {
            v[k].u.d = i * 1.25 + 0.125;
        } else {
            v[k].u.i = i % 2;
        }
    }
}

static const char *fx_township(double lon, double lat, char out[16])
{
    int cx = (int)floor((lon - FX_LON0) / (FX_SPAN / 4)),
        cy = (int)floor((lat - FX_LAT0) / (FX_SPAN / 4));
    if (cx < 0 || cy < 0 || cx > 3 || cy > 3)
        return "";
    snprintf(out, 16, "4311020%02d", cy * 4 + cx);
    return out;
}

static void fx_put(tile_fixture *f, const situ_collection *c, int i, const situ_buf *wkb,
                   double lon, double lat)
{
    situ_value v[32];
    char text[32][48], id[32], tc[16];
    fx_values(c, i, v, text);
    snprintf(id, sizeof id, "%c%04d",
             c->cid == SITU_C_ROADS               ? 'L'
             : c->id[0] == 'h' && c->id[6] == '_' ? 'S'
                                                  : c->id[0] - 32,
             i);
    situ_item_qty items[4];
    int nitems = 0;
    if (c->cid == SITU_C_RESOURCES)
        for (int k = 0; k < 1 + i % 4; k++)
            items[nitems++] =
                (situ_item_qty){situ_schema_item((i + 5 * k) % situ_schema_nitems())->code,
                                k == 1 ? 12.5 * (i + 1) : 100.0 * (i + 1 + k), NULL};
    situ_feature_in in = {.id = id,
                          .township_code = fx_township(lon, lat, tc),
                          .wkb = (const unsigned char *)wkb->p,
                          .nwkb = wkb->n,
                          .values = v,
                          .items = nitems ? items : NULL,
                          .nitems = nitems,
                          .updated_at = "2026-11-29T18:00:00Z"};
    situ_err err = {0};
    int rc = situ_store_upsert(f->store, c, &in, NULL, &err);
    if (rc)
        fprintf(stderr, "fixture %s %s: %s\n", c->id, id, err.msg);
    assert_int_equal(rc, 0);
}

static void fx_townships(tile_fixture *f)
{
    const situ_collection *c = situ_schema_collection(SITU_C_TOWNSHIPS);
    double d = FX_SPAN / 4;
    for (int i = 0; i < 16; i++) {
        situ_buf b;
        situ_buf_init(&b);
        double x0 = FX_LON0 + (i % 4) * d, y0 = FX_LAT0 + (i / 4) * d;
        if (i == 10) { /* a township in two parts */
            fx_multi_header(&b, 2);
            fx_rect(&b, x0, y0, x0 + d, y0 + d / 2, 12, 0);
            fx_rect(&b, x0, y0 + d / 2 + 0.001, x0 + d, y0 + d, 12, 0);
        } else {
            fx_rect(&b, x0, y0, x0 + d, y0 + d, 20, i == 5);
        }
        char code[16];
        snprintf(code, sizeof code, "4311020%02d", i);
        situ_value v[16];
        char text[16][48];
        fx_values(c, i, v, text);
        situ_feature_in in = {.id = code,
                              .township_code = code,
                              .wkb = (const unsigned char *)b.p,
                              .nwkb = b.n,
                              .values = v};
        situ_err err = {0};
        assert_int_equal(situ_store_upsert(f->store, c, &in, NULL, &err), 0);
        situ_buf_dispose(&b);
    }
}

static void fx_polygons(tile_fixture *f, situ_coll_id cid, int n, double rmin, double rmax)
{
    const situ_collection *c = situ_schema_collection(cid);
    for (int i = 0; i < n; i++) {
        situ_buf b;
        situ_buf_init(&b);
        double cx = FX_LON0 + 0.02 + (FX_SPAN - 0.04) * fx_rand(f);
        double cy = FX_LAT0 + 0.02 + (FX_SPAN - 0.04) * fx_rand(f);
        double r = rmin + (rmax - rmin) * fx_rand(f);
        int nv = 12 + (int)(60 * fx_rand(f));
        if (i == 0) /* one of each at the town centre */
            cx = FX_LON0 + FX_SPAN / 2, cy = FX_LAT0 + FX_SPAN / 2;
        if (i % 7 == 6) {
            fx_multi_header(&b, 2);
            fx_polygon(&b, cx, cy, r, nv, 0.3, 0, f);
            fx_polygon(&b, cx + 3 * r, cy + r, r / 2, nv / 2 + 3, 0.3, 0, f);
        } else {
            fx_polygon(&b, cx, cy, r, nv, 0.3, i % 5 == 4, f);
        }
        fx_put(f, c, i, &b, cx, cy);
        situ_buf_dispose(&b);
    }
}

/* Points: half spread, half around a few hot spots (clusters at low zoom). */
static void fx_points(tile_fixture *f, situ_coll_id cid, int n)
{
    const situ_collection *c = situ_schema_collection(cid);
    for (int i = 0; i < n; i++) {
        double lon, lat;
        if (i % 2) {
            int h = i % 3;
            lon = FX_LON0 + 0.05 + 0.05 * h + 0.004 * (fx_rand(f) - 0.5);
            lat = FX_LAT0 + 0.07 + 0.04 * h + 0.004 * (fx_rand(f) - 0.5);
        } else {
            lon = FX_LON0 + FX_SPAN * fx_rand(f);
            lat = FX_LAT0 + FX_SPAN * fx_rand(f);
        }
        situ_buf b;
        situ_buf_init(&b);
        fx_point(&b, lon, lat);
        fx_put(f, c, i, &b, lon, lat);
        situ_buf_dispose(&b);
    }
}

/* One LineString of n points from (x, y), each step (dx, dy) plus a
 * wiggle of up to `wiggle` degrees. */
static void fx_line(situ_buf *b, double x, double y, double dx, double dy, int n, double wiggle,
                    tile_fixture *f)
{
    situ_buf_addc(b, 1);
    fx_u32(b, 2);
    fx_u32(b, (uint32_t)n);
    for (int k = 0; k < n; k++) {
        fx_f64(b, x + k * dx + wiggle * (fx_rand(f) - 0.5));
        fx_f64(b, y + k * dy + wiggle * (fx_rand(f) - 0.5));
    }
}

/* Roads: 0 and 1 straight across the whole town through its centre (an
 * expressway west-east, a national road south-north), the others winding,
 * every 7th in two parts; classes cycle through the domain (fx_values). */
static void fx_roads(tile_fixture *f, int n)
{
    const situ_collection *c = situ_schema_collection(SITU_C_ROADS);
    double mid_x = FX_LON0 + FX_SPAN / 2, mid_y = FX_LAT0 + FX_SPAN / 2;
    for (int i = 0; i < n; i++) {
        situ_buf b;
        situ_buf_init(&b);
        double x = FX_LON0 + FX_SPAN * fx_rand(f), y = FX_LAT0 + FX_SPAN * fx_rand(f);
        double a = 2 * M_PI * fx_rand(f), step = 0.0008 + 0.0015 * fx_rand(f);
        int nv = 5 + (int)(25 * fx_rand(f)); /* at most ~0.07 degrees out of town */
        if (i == 0) {
            fx_line(&b, FX_LON0 - 0.01, mid_y, (FX_SPAN + 0.02) / 79, 0.0003, 80, 0.0004, f);
        } else if (i == 1) {
            fx_line(&b, mid_x, FX_LAT0 - 0.01, 0, (FX_SPAN + 0.02) / 59, 60, 0.0004, f);
        } else if (i % 7 == 6) {
            situ_buf_addc(&b, 1);
            fx_u32(&b, 5);
            fx_u32(&b, 2);
            fx_line(&b, x, y, step * cos(a), step * sin(a), nv, step, f);
            fx_line(&b, x + 0.01, y - 0.01, -step * sin(a), step * cos(a), nv / 2 + 2, step, f);
        } else {
            fx_line(&b, x, y, step * cos(a), step * sin(a), nv, step, f);
        }
        fx_put(f, c, i, &b, i < 2 ? mid_x : x, i < 2 ? mid_y : y);
        situ_buf_dispose(&b);
    }
}

/* Opens a new store with the synthetic town and loads its snapshot. */
static void fixture_open(tile_fixture *f)
{
    memset(f, 0, sizeof *f);
    f->rng = 20261129;
    f->dir = situ_test_tmpdir("tile");
    assert_non_null(f->dir);
    char path[4096];
    snprintf(path, sizeof path, "%s/town.sqlite", f->dir);
    situ_err err = {0};
    int rc = situ_store_open(path, SITU_STORE_CREATE, &f->store, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(situ_store_begin(f->store, &err), 0);
    fx_townships(f);
    fx_polygons(f, SITU_C_RISK_ZONES, 90, 0.0015, 0.012);
    fx_polygons(f, SITU_C_ALERTS, 4, 0.02, 0.05);
    fx_points(f, SITU_C_HAZARDS, 400);
    fx_points(f, SITU_C_HAZARD_SOURCES, 60);
    fx_points(f, SITU_C_RESOURCES, 90);
    fx_points(f, SITU_C_STATIONS, 50);
    fx_roads(f, 80);
    assert_int_equal(situ_store_commit(f->store, &err), 0);
    rc = situ_snapshot_load(f->store, &f->snap, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void fixture_close(tile_fixture *f)
{
    situ_snapshot_release(f->snap);
    situ_store_close(f->store);
    situ_test_rmtree(f->dir);
    free(f->dir);
}

#endif

/*
 * nearest_test.c: tests layers/nearest/nearest*.c against a real SpatiaLite file of a
 * synthetic city (182 townships, 3,000 resources with items and duplicated
 * positions, hazard sources, risk zones, alerts) and a brute-force
 * geod_inverse scan over every feature: same ids, same order, distances
 * within 1 mm, for 10,000 points in and around the city.
 */
#include "testlib.h"

#include <geodesic.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/gcj02.h"
#include "situ/nearest.h"
#include "situ/snapshot.h"
#include "situ/store.h"

#define NRES 3000
#define NSRC 400
#define NZONES 60
#define NPOINTS 10000
#define BATCH 500
#define LON0 111.0
#define LON1 112.6
#define LAT0 24.6
#define LAT1 26.9
#define COLS 13
#define ROWS 14

/* ---- a deterministic synthetic city ------------------------------------- */

static uint64_t rng_state = 20250607;

static double rnd(void) /* splitmix64 -> [0, 1) */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static double uni(double a, double b)
{
    return a + (b - a) * rnd();
}

static double gauss(double sigma)
{
    double u = fmax(rnd(), 1e-12), v = rnd();
    return sigma * sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

typedef struct wkb {
    unsigned char b[4096];
    size_t n;
} wkb;

static void put(wkb *w, const void *p, size_t n)
{
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_u32(wkb *w, uint32_t v)
{
    put(w, &v, 4);
}

static void put_xy(wkb *w, double x, double y)
{
    put(w, &x, 8);
    put(w, &y, 8);
}

static void point_wkb(wkb *w, double lon, double lat)
{
    w->n = 0;
    w->b[w->n++] = 1;
    put_u32(w, 1);
    put_xy(w, lon, lat);
}

/* A MultiPolygon of one ring of n points (closed here). */
static void ring_wkb(wkb *w, const double *xy, int n)
{
    w->n = 0;
    w->b[w->n++] = 1;
    put_u32(w, 6);
    put_u32(w, 1);
    w->b[w->n++] = 1;
    put_u32(w, 3);
    put_u32(w, 1);
    put_u32(w, (uint32_t)n + 1);
    for (int i = 0; i <= n; i++)
        put_xy(w, xy[2 * (i % n)], xy[2 * (i % n) + 1]);
}

static void township_of(double lon, double lat, char code[32])
{
    int c = (int)((lon - LON0) / (LON1 - LON0) * COLS),
        r = (int)((lat - LAT0) / (LAT1 - LAT0) * ROWS);
    if (c < 0 || c >= COLS || r < 0 || r >= ROWS) {
        code[0] = '\0';
        return;
    }
    snprintf(code, 32, "4311%02d%03d", c + 1, r + 1);
}

static void set_text(const situ_collection *c, situ_value *v, const char *name, const char *s)
{
    v[situ_schema_field_index(c, name)] = (situ_value){SITU_FT_TEXT, {.s = s}};
}

static void set_int(const situ_collection *c, situ_value *v, const char *name, long long i)
{
    v[situ_schema_field_index(c, name)] = (situ_value){SITU_FT_INT, {.i = i}};
}

static void set_real(const situ_collection *c, situ_value *v, const char *name, double d)
{
    v[situ_schema_field_index(c, name)] = (situ_value){SITU_FT_REAL, {.d = d}};
}

static void upsert(situ_store *s, const situ_collection *c, situ_feature_in *f)
{
    situ_err err = {0};
    int rc = situ_store_upsert(s, c, f, NULL, &err);
    if (rc)
        fprintf(stderr, "upsert %s: %s\n", f->id, err.msg);
    assert_int_equal(rc, 0);
}

static void add_townships(situ_store *s)
{
    const situ_collection *c = situ_schema_find("townships");
    double dx = (LON1 - LON0) / COLS, dy = (LAT1 - LAT0) / ROWS;
    for (int i = 0; i < COLS; i++)
        for (int j = 0; j < ROWS; j++) {
            char code[32], name[32], county[16], cname[32];
            snprintf(code, sizeof code, "4311%02d%03d", i + 1, j + 1);
            snprintf(name, sizeof name, "乡镇%d-%d", i + 1, j + 1);
            snprintf(county, sizeof county, "4311%02d", i + 1);
            snprintf(cname, sizeof cname, "县%d", i + 1);
            double xy[8] = {LON0 + i * dx, LAT0 + j * dy,       LON0 + (i + 1) * dx,
                            LAT0 + j * dy, LON0 + (i + 1) * dx, LAT0 + (j + 1) * dy,
                            LON0 + i * dx, LAT0 + (j + 1) * dy};
            situ_value v[16] = {0};
            set_text(c, v, "name", name);
            set_text(c, v, "county_code", county);
            set_text(c, v, "county_name", cname);
            wkb w;
            ring_wkb(&w, xy, 4);
            situ_feature_in f = {
                .id = code, .township_code = code, .wkb = w.b, .nwkb = w.n, .values = v};
            upsert(s, c, &f);
        }
}

static double hot[40][2];

static void pick(double *lon, double *lat, double p_cluster, double sigma)
{
    if (rnd() < p_cluster) {
        int h = (int)(rnd() * 40);
        *lon = fmin(LON1, fmax(LON0, hot[h][0] + gauss(sigma)));
        *lat = fmin(LAT1, fmax(LAT0, hot[h][1] + gauss(sigma)));
    } else {
        *lon = uni(LON0, LON1), *lat = uni(LAT0, LAT1);
    }
}

static const char *const team_types[] = {"water_rescue", "fire_rescue", "medical", "geological"};
static const char *const statuses[] = {"available", "deployed", "standby"};
static double res_xy[NRES][2];

static void add_resource(situ_store *s, int i)
{
    const situ_collection *c = situ_schema_find("resources");
    char id[16], name[32], code[32];
    /* ids in an order unrelated to position, so ties by id mean something */
    snprintf(id, sizeof id, "R%05d", (int)((i * 7919L) % NRES));
    snprintf(name, sizeof name, "物资点%d", i);
    if (i > 100 && rnd() < 0.05) { /* the same place as an earlier one: ties */
        int j = (int)(rnd() * i);
        res_xy[i][0] = res_xy[j][0], res_xy[i][1] = res_xy[j][1];
    } else {
        pick(&res_xy[i][0], &res_xy[i][1], 0.75, 0.04);
    }
    int team = rnd() < 0.3;
    situ_value v[16] = {0};
    set_text(c, v, "name", name);
    set_text(c, v, "category", team ? "team" : "depot");
    if (team)
        set_text(c, v, "team_type", team_types[(int)(rnd() * 4)]);
    set_text(c, v, "status", statuses[(int)(rnd() * 3)]);
    set_text(c, v, "contact", "张三");
    set_text(c, v, "phone", "0746-1234567");
    situ_item_qty items[12];
    int nitems = 0;
    for (int k = 0; k < 12; k++)
        if (rnd() < (team ? 0.15 : 0.45))
            items[nitems++] = (situ_item_qty){situ_schema_item(k)->code,
                                              round(exp(uni(log(1), log(5000)))), NULL};
    township_of(res_xy[i][0], res_xy[i][1], code);
    wkb w;
    point_wkb(&w, res_xy[i][0], res_xy[i][1]);
    situ_feature_in f = {.id = id,
                         .township_code = code,
                         .wkb = w.b,
                         .nwkb = w.n,
                         .values = v,
                         .items = items,
                         .nitems = nitems};
    upsert(s, c, &f);
}

static void add_sources(situ_store *s)
{
    const situ_collection *c = situ_schema_find("hazard_sources");
    for (int i = 0; i < NSRC; i++) {
        char id[16], code[32];
        double lon, lat;
        snprintf(id, sizeof id, "HS%04d", i);
        pick(&lon, &lat, 0.8, 0.06);
        situ_value v[16] = {0};
        set_text(c, v, "name", "危险源");
        set_text(c, v, "enterprise", "化工厂");
        set_int(c, v, "grade", 1 + (int)(rnd() * 4));
        set_real(c, v, "impact_radius_m", round(exp(uni(log(100), log(8000)))));
        township_of(lon, lat, code);
        wkb w;
        point_wkb(&w, lon, lat);
        situ_feature_in f = {.id = id, .township_code = code, .wkb = w.b, .nwkb = w.n, .values = v};
        upsert(s, c, &f);
    }
}

static void add_zones(situ_store *s)
{
    const situ_collection *c = situ_schema_find("risk_zones");
    for (int i = 0; i < NZONES; i++) {
        char id[16];
        double cx, cy, r0 = uni(0.005, 0.03), xy[2 * 64];
        int n = 8 + (int)(rnd() * 56);
        snprintf(id, sizeof id, "RZ%03d", i);
        pick(&cx, &cy, 0.6, 0.08);
        for (int k = 0; k < n; k++) { /* star-shaped, counter-clockwise */
            double th = 2 * M_PI * k / n, rr = r0 * uni(0.6, 1.0);
            xy[2 * k] = cx + rr * cos(th) / cos(cy * M_PI / 180), xy[2 * k + 1] = cy + rr * sin(th);
        }
        situ_value v[16] = {0};
        set_text(c, v, "name", "风险区");
        set_text(c, v, "hazard_type", "flood");
        set_int(c, v, "risk_level", 1 + (int)(rnd() * 4));
        wkb w;
        ring_wkb(&w, xy, n);
        situ_feature_in f = {.id = id, .wkb = w.b, .nwkb = w.n, .values = v};
        upsert(s, c, &f);
    }
}

static void add_alerts(situ_store *s)
{
    const situ_collection *c = situ_schema_find("alerts");
    static const char *const status[] = {"active", "cancelled"};
    for (int i = 0; i < 2; i++) {
        double xy[8] = {111.5, 25.5, 112.0, 25.5, 112.0, 26.0, 111.5, 26.0};
        char id[16];
        snprintf(id, sizeof id, "AL%d", i);
        situ_value v[16] = {0};
        set_text(c, v, "event", "rainstorm");
        set_text(c, v, "severity", "red");
        set_text(c, v, "status", status[i]);
        set_text(c, v, "expires", "2999-01-01T00:00:00Z");
        wkb w;
        ring_wkb(&w, xy, 4);
        situ_feature_in f = {.id = id, .wkb = w.b, .nwkb = w.n, .values = v};
        upsert(s, c, &f);
    }
}

typedef struct fixture {
    char *dir;
    char path[4096];
    situ_snapshot *snap;
    situ_nearest_cache *cache;
    situ_nearest_index *res, *src, *zones;
} fixture;

static fixture fx;

static void build_city(void)
{
    situ_store *s = NULL;
    situ_err err = {0};
    assert_int_equal(situ_store_open(fx.path, SITU_STORE_CREATE, &s, &err), 0);
    assert_int_equal(situ_store_begin(s, &err), 0);
    for (int h = 0; h < 40; h++)
        hot[h][0] = uni(LON0 + 0.05, LON1 - 0.05), hot[h][1] = uni(LAT0 + 0.05, LAT1 - 0.05);
    add_townships(s);
    for (int i = 0; i < NRES; i++)
        add_resource(s, i);
    add_sources(s);
    add_zones(s);
    add_alerts(s);
    assert_int_equal(situ_store_commit(s, &err), 0);
    int rc = situ_snapshot_load(s, &fx.snap, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    situ_store_close(s);
}

static void drop_fixture(void)
{
    situ_nearest_index_release(fx.res);
    situ_nearest_index_release(fx.src);
    situ_nearest_index_release(fx.zones);
    situ_nearest_cache_free(fx.cache);
    situ_snapshot_release(fx.snap);
    situ_test_rmtree(fx.dir);
    free(fx.dir);
}

static fixture *city(void)
{
    if (fx.snap)
        return &fx;
    fx.dir = situ_test_tmpdir("nearest");
    snprintf(fx.path, sizeof fx.path, "%s/city.sqlite", fx.dir);
    build_city();
    situ_err err = {0};
    fx.cache = situ_nearest_cache_new();
    assert_int_equal(situ_nearest_cache_prepare(fx.cache, fx.snap, &err), 0);
    assert_int_equal(
        situ_nearest_cache_get(fx.cache, fx.snap->colls[SITU_C_RESOURCES], &fx.res, &err), 0);
    assert_int_equal(
        situ_nearest_cache_get(fx.cache, fx.snap->colls[SITU_C_HAZARD_SOURCES], &fx.src, &err), 0);
    assert_int_equal(
        situ_nearest_cache_get(fx.cache, fx.snap->colls[SITU_C_RISK_ZONES], &fx.zones, &err), 0);
    atexit(drop_fixture);
    return &fx;
}

/* ---- brute force ---------------------------------------------------------- */

typedef struct bf_job {
    const situ_coll *c;
    const double (*pts)[2];
    int first, end;
    double *d; /* [query - first][feature] */
} bf_job;

static void *bf_run(void *arg)
{
    bf_job *j = arg;
    struct geod_geodesic g;
    geod_init(&g, 6378137, 1 / 298.257223563);
    for (int q = j->first; q < j->end; q++)
        for (size_t i = 0; i < j->c->n; i++)
            geod_inverse(&g, j->pts[q][1], j->pts[q][0], j->c->feats[i].y, j->c->feats[i].x,
                         &j->d[(size_t)(q - j->first) * j->c->n + i], NULL, NULL);
    return NULL;
}

/* Distances from points [first, end) to every feature of c, on two threads. */
static void brute_distances(const situ_coll *c, const double (*pts)[2], int first, int end,
                            double *d)
{
    int mid = (first + end) / 2;
    bf_job a = {c, pts, first, mid, d}, b = {c, pts, mid, end, d + (size_t)(mid - first) * c->n};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, bf_run, &b), 0);
    bf_run(&a);
    pthread_join(t, NULL);
}

typedef struct want {
    int k;
    double limit;
    int item;
    double min_qty;
    int field; /* a filter field or -1 */
    const char *value;
} want;

static int bf_passes(const situ_coll *c, uint32_t i, const want *w)
{
    const situ_feature *f = &c->feats[i];
    if (w->item >= 0) {
        double q = situ_coll_held(c, f, w->item);
        if (!(q > 0 && q >= w->min_qty))
            return 0;
    }
    if (w->field >= 0)
        return f->values[w->field].type == SITU_FT_TEXT &&
               strcmp(f->values[w->field].u.s, w->value) == 0;
    return 1;
}

static int bf_before(const situ_coll *c, const double *d, uint32_t a, uint32_t b)
{
    return d[a] != d[b] ? d[a] < d[b] : strcmp(c->feats[a].id, c->feats[b].id) < 0;
}

/* The brute-force answer: the k best (distance, id) among those passing. */
static int brute_top(const situ_coll *c, const double *d, const want *w, uint32_t *top)
{
    int n = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(d[i] <= w->limit) || !bf_passes(c, i, w))
            continue;
        if (n == w->k && !bf_before(c, d, i, top[n - 1]))
            continue;
        int j = n < w->k ? n++ : n - 1;
        while (j > 0 && bf_before(c, d, i, top[j - 1])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    return n;
}

static void check_against(const situ_nearest_index *ix, situ_nearest_query *q, const want *w,
                          const double *d, situ_nearest_scratch *scratch, long *nchecked)
{
    const situ_coll *c = situ_nearest_index_coll(ix);
    situ_nearest_hit hits[SITU_NEAREST_K_MAX];
    uint32_t top[SITU_NEAREST_K_MAX];
    situ_nearest_result r = {.hits = hits, .cap = SITU_NEAREST_K_MAX};
    situ_err err = {0};
    assert_int_equal(situ_nearest_search(ix, q, scratch, &r, &err), 0);
    int n = brute_top(c, d, w, top);
    if (r.n != n)
        fprintf(stderr, "at %.7f,%.7f k=%d item=%d: %d hits, brute force %d\n", q->lon, q->lat,
                q->k, q->item, r.n, n);
    assert_int_equal(r.n, n);
    for (int i = 0; i < n; i++) {
        if (hits[i].feat != top[i])
            fprintf(stderr, "at %.7f,%.7f rank %d: %s (%.6f) vs brute force %s (%.6f)\n", q->lon,
                    q->lat, i, c->feats[hits[i].feat].id, hits[i].distance_m, c->feats[top[i]].id,
                    d[top[i]]);
        assert_int_equal(hits[i].feat, top[i]);
        assert_true(fabs(hits[i].distance_m - d[top[i]]) <= 1e-3);
    }
    (*nchecked)++;
}

/* 80 % around the city, 15 % near its hotspots, 5 % anywhere on earth. */
static void random_point(double *lon, double *lat)
{
    double u = rnd();
    if (u < 0.8)
        *lon = uni(LON0 - 0.5, LON1 + 0.5), *lat = uni(LAT0 - 0.5, LAT1 + 0.5);
    else if (u < 0.95)
        pick(lon, lat, 1.0, 0.02);
    else
        *lon = uni(-180, 180), *lat = uni(-89, 89);
}

static void query_at(situ_nearest_query *q, situ_nearest_mode mode, double lon, double lat)
{
    situ_nearest_query_init(q, mode);
    q->lon = q->in_lon = lon, q->lat = q->in_lat = lat;
}

/* Every variant the issue names, for one point, against the brute force. */
static void check_point(const situ_nearest_index *ix, double lon, double lat, const double *d,
                        situ_nearest_scratch *scratch, long *nchecked)
{
    const situ_collection *cc = situ_schema_find("resources");
    static const int ks[] = {1, 5, 100};
    situ_nearest_query q;
    for (int i = 0; i < 3; i++) { /* unfiltered, k = 1, 5, 100 */
        query_at(&q, SITU_NEAREST_KNN, lon, lat);
        q.k = ks[i];
        want w = {ks[i], INFINITY, -1, 0, -1, NULL};
        check_against(ix, &q, &w, d, scratch, nchecked);
    }
    query_at(&q, SITU_NEAREST_KNN, lon, lat); /* an item with a minimum */
    q.item = (int)(rnd() * 12);
    q.min_qty = rnd() < 0.3 ? 0 : round(exp(uni(0, log(3000))));
    q.k = rnd() < 0.5 ? 5 : 20;
    want wi = {q.k, INFINITY, q.item, q.min_qty, -1, NULL};
    check_against(ix, &q, &wi, d, scratch, nchecked);
    query_at(&q, SITU_NEAREST_KNN, lon, lat); /* max_km */
    q.max_m = uni(500, 20000);
    want wm = {5, q.max_m, -1, 0, -1, NULL};
    check_against(ix, &q, &wm, d, scratch, nchecked);
    query_at(&q, SITU_NEAREST_KNN, lon, lat); /* a generic filter: team_type */
    q.nfilters = 1;
    q.filters[0].field = situ_schema_field_index(cc, "team_type");
    snprintf(q.filters[0].value, sizeof q.filters[0].value, "%s", team_types[(int)(rnd() * 4)]);
    want wf = {5, INFINITY, -1, 0, q.filters[0].field, q.filters[0].value};
    check_against(ix, &q, &wf, d, scratch, nchecked);
}

static void knn_is_exact_against_brute_force(void **state)
{
    (void)state;
    fixture *f = city();
    const situ_coll *c = situ_nearest_index_coll(f->res);
    static double pts[NPOINTS][2];
    for (int i = 0; i < NPOINTS; i++)
        random_point(&pts[i][0], &pts[i][1]);
    double *d = malloc((size_t)BATCH * c->n * sizeof *d);
    situ_nearest_scratch *scratch = situ_nearest_scratch_new();
    long nchecked = 0;
    for (int b = 0; b < NPOINTS; b += BATCH) {
        brute_distances(c, (const double(*)[2])pts, b, b + BATCH, d);
        for (int i = b; i < b + BATCH; i++)
            check_point(f->res, pts[i][0], pts[i][1], d + (size_t)(i - b) * c->n, scratch,
                        &nchecked);
    }
    assert_int_equal(nchecked, 6L * NPOINTS);
    situ_nearest_scratch_free(scratch);
    free(d);
}

/* WITHIN: the same set and order as brute force, and honest truncation. */
static void within_is_exact_and_truncates(void **state)
{
    (void)state;
    fixture *f = city();
    const situ_coll *c = situ_nearest_index_coll(f->res);
    double pts[200][2], *d = malloc(200 * c->n * sizeof *d);
    for (int i = 0; i < 200; i++)
        random_point(&pts[i][0], &pts[i][1]);
    brute_distances(c, (const double(*)[2])pts, 0, 200, d);
    situ_nearest_hit *hits = malloc(SITU_NEAREST_LIMIT_MAX * sizeof *hits);
    uint32_t *top = malloc(SITU_NEAREST_LIMIT_MAX * sizeof *top);
    for (int i = 0; i < 200; i++) {
        situ_nearest_query q;
        query_at(&q, SITU_NEAREST_WITHIN, pts[i][0], pts[i][1]);
        q.radius_m = uni(500, 30000);
        q.k = i % 2 ? SITU_NEAREST_LIMIT_MAX : 10;
        situ_nearest_result r = {.hits = hits, .cap = SITU_NEAREST_LIMIT_MAX};
        situ_err err = {0};
        assert_int_equal(situ_nearest_search(f->res, &q, NULL, &r, &err), 0);
        want all = {SITU_NEAREST_LIMIT_MAX, q.radius_m, -1, 0, -1, NULL};
        int n = brute_top(c, d + (size_t)i * c->n, &all, top);
        assert_int_equal(r.n, n < q.k ? n : q.k);
        assert_int_equal(r.truncated, n > q.k);
        for (int k = 0; k < r.n; k++)
            assert_int_equal(hits[k].feat, top[k]);
    }
    free(hits);
    free(top);
    free(d);
}

/* Features at one place come back in id order, whatever the tree order. */
static void ties_are_broken_by_id(void **state)
{
    (void)state;
    fixture *f = city();
    const situ_coll *c = situ_nearest_index_coll(f->res);
    int tested = 0;
    for (int i = 101; i < NRES && tested < 20; i++)
        for (int j = 0; j < i; j++) {
            if (res_xy[i][0] != res_xy[j][0] || res_xy[i][1] != res_xy[j][1])
                continue;
            situ_nearest_query q;
            query_at(&q, SITU_NEAREST_KNN, res_xy[i][0], res_xy[i][1]);
            q.k = 2;
            situ_nearest_hit hits[2];
            situ_nearest_result r = {.hits = hits, .cap = 2};
            assert_int_equal(situ_nearest_search(f->res, &q, NULL, &r, NULL), 0);
            assert_int_equal(r.n, 2);
            assert_true(hits[0].distance_m == 0 && hits[1].distance_m == 0);
            assert_true(strcmp(c->feats[hits[0].feat].id, c->feats[hits[1].feat].id) < 0);
            tested++;
            break;
        }
    assert_true(tested >= 5);
}

/* More ties than the certification keeps (120 resources at one spot): the
 * search falls back to exact distances and still answers by id. */
static void many_ties_at_one_spot(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("nearest-ties"), path[4096];
    snprintf(path, sizeof path, "%s/ties.sqlite", dir);
    situ_store *st = NULL;
    situ_snapshot *snap = NULL;
    situ_nearest_index *ix = NULL;
    situ_err err = {0};
    const situ_collection *c = situ_schema_find("resources");
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &st, &err), 0);
    for (int i = 0; i < 150; i++) {
        char id[16];
        snprintf(id, sizeof id, "T%03d", i < 120 ? (i * 37) % 120 : i);
        situ_value v[16] = {0};
        set_text(c, v, "name", "点");
        set_text(c, v, "category", "depot");
        wkb w;
        point_wkb(&w, i < 120 ? 111.5 : 111.5 + i * 1e-3, 26.0);
        situ_feature_in f = {.id = id, .wkb = w.b, .nwkb = w.n, .values = v};
        upsert(st, c, &f);
    }
    assert_int_equal(situ_snapshot_load(st, &snap, &err), 0);
    situ_store_close(st);
    assert_int_equal(situ_nearest_index_new(snap->colls[SITU_C_RESOURCES], &ix, &err), 0);
    static const double from[][2] = {{111.52, 26.01}, {111.5, 26.0}, {100.0, 30.0}};
    for (int p = 0; p < 3; p++) {
        situ_nearest_query q;
        query_at(&q, SITU_NEAREST_KNN, from[p][0], from[p][1]);
        q.k = 5;
        situ_nearest_hit hits[5];
        situ_nearest_result r = {.hits = hits, .cap = 5};
        assert_int_equal(situ_nearest_search(ix, &q, NULL, &r, &err), 0);
        assert_int_equal(r.n, 5);
        for (int k = 0; k < 5; k++) { /* the spot's five smallest ids: T000..T004 */
            char id[16];
            snprintf(id, sizeof id, "T%03d", k);
            assert_string_equal(snap->colls[SITU_C_RESOURCES]->feats[hits[k].feat].id, id);
            assert_true(hits[k].distance_m == hits[0].distance_m);
        }
    }
    situ_nearest_index_release(ix);
    situ_snapshot_release(snap);
    situ_test_rmtree(dir);
    free(dir);
}

/* Far away: answers still come (from the city), and max_km bounds them. */
static void points_outside_the_city(void **state)
{
    (void)state;
    fixture *f = city();
    situ_nearest_query q;
    situ_nearest_hit hits[5];
    situ_nearest_result r = {.hits = hits, .cap = 5};
    query_at(&q, SITU_NEAREST_KNN, -70.0, -30.0); /* near the antipode */
    assert_int_equal(situ_nearest_search(f->res, &q, NULL, &r, NULL), 0);
    assert_int_equal(r.n, 5);
    assert_true(hits[0].distance_m > 1.9e7 && hits[0].distance_m <= hits[4].distance_m);
    query_at(&q, SITU_NEAREST_KNN, 113.5, 26.0);
    q.max_m = 50000;
    assert_int_equal(situ_nearest_search(f->res, &q, NULL, &r, NULL), 0);
    assert_int_equal(r.n, 0);
    q.max_m = 150000;
    assert_int_equal(situ_nearest_search(f->res, &q, NULL, &r, NULL), 0);
    assert_int_equal(r.n, 5);
    assert_true(hits[4].distance_m <= 150000);
}

/* The hazard sources whose impact radius reaches a point, as brute force. */
static void hazards_reaching_a_point(void **state)
{
    (void)state;
    fixture *f = city();
    const situ_coll *c = situ_nearest_index_coll(f->src);
    int ri = situ_schema_field_index(c->c, "impact_radius_m"), seen = 0;
    struct geod_geodesic g;
    geod_init(&g, 6378137, 1 / 298.257223563);
    situ_nearest_hit hits[NSRC];
    for (int p = 0; p < 2000; p++) {
        double lon, lat, d[NSRC];
        pick(&lon, &lat, 0.9, 0.03);
        situ_nearest_result r = {.hits = hits, .cap = NSRC};
        assert_int_equal(situ_nearest_hazards_reaching(f->src, lon, lat, NULL, &r, NULL), 0);
        int n = 0;
        for (size_t i = 0; i < c->n; i++) {
            geod_inverse(&g, lat, lon, c->feats[i].y, c->feats[i].x, &d[i], NULL, NULL);
            n += d[i] <= c->feats[i].values[ri].u.d;
        }
        assert_int_equal(r.n, n);
        for (int k = 0; k < r.n; k++) {
            assert_true(hits[k].distance_m <= c->feats[hits[k].feat].values[ri].u.d);
            assert_true(fabs(hits[k].distance_m - d[hits[k].feat]) < 1e-3);
            assert_true(k == 0 || hits[k - 1].distance_m <= hits[k].distance_m);
        }
        seen += n;
    }
    assert_true(seen > 100);
}

/* Polygons: 0 inside; outside, no sample of any edge is nearer than the
 * answer, and the answer is within the sampling step of the samples'. */
static void polygon_distance_is_the_nearest_edge_point(void **state)
{
    (void)state;
    fixture *f = city();
    const situ_coll *c = situ_nearest_index_coll(f->zones);
    struct geod_geodesic g;
    geod_init(&g, 6378137, 1 / 298.257223563);
    for (int p = 0; p < 60; p++) {
        const situ_feature *z = &c->feats[(size_t)p % c->n];
        double lon = p % 3 ? z->x + uni(-0.05, 0.05) : z->x,
               lat = p % 3 ? z->y + uni(-0.05, 0.05) : z->y;
        situ_nearest_query q;
        query_at(&q, SITU_NEAREST_KNN, lon, lat);
        q.cid = SITU_C_RISK_ZONES;
        q.k = (int)c->n;
        situ_nearest_hit hits[NZONES];
        situ_nearest_result r = {.hits = hits, .cap = NZONES};
        assert_int_equal(situ_nearest_search(f->zones, &q, NULL, &r, NULL), 0);
        assert_int_equal(r.n, (int)c->n);
        for (int k = 0; k < 3; k++) {
            const situ_feature *h = &c->feats[hits[k].feat];
            if (situ_coll_contains(c, h, lon, lat)) {
                assert_true(hits[k].distance_m == 0);
                continue;
            }
            const situ_ring *ring = &c->rings[c->polys[h->poly0].ring0];
            double best = INFINITY;
            for (uint32_t e = 0; e + 1 < ring->n; e++)
                for (int s = 0; s <= 400; s++) {
                    const double *a = c->xy + 2 * (ring->off + e), t = s / 400.0, *b = a + 2;
                    double dd;
                    geod_inverse(&g, lat, lon, a[1] + t * (b[1] - a[1]), a[0] + t * (b[0] - a[0]),
                                 &dd, NULL, NULL);
                    best = fmin(best, dd);
                }
            assert_true(hits[k].distance_m <= best + 1e-6);
            assert_true(hits[k].distance_m >= best - 5.0);
        }
        /* the k=3 search gives the first three of the full order */
        situ_nearest_hit three[3];
        situ_nearest_result r3 = {.hits = three, .cap = 3};
        q.k = 3;
        assert_int_equal(situ_nearest_search(f->zones, &q, NULL, &r3, NULL), 0);
        for (int k = 0; k < 3; k++)
            assert_int_equal(three[k].feat, hits[k].feat);
    }
}

/* ---- parsing -------------------------------------------------------------- */

typedef struct bad_case {
    situ_nearest_mode mode;
    const char *kv; /* "k=v&k=v" */
    const char *param;
} bad_case;

static int parse_kv(situ_nearest_mode mode, const char *kv, situ_nearest_query *q, situ_err *err)
{
    static char buf[512];
    const char *keys[16], *vals[16];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", kv);
    for (char *save = NULL, *t = strtok_r(buf, "&", &save); t; t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        *eq = '\0';
        keys[n] = t, vals[n++] = eq + 1;
    }
    return situ_nearest_query_parse(mode, keys, vals, n, q, err);
}

static void bad_input_names_the_parameter(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {SITU_NEAREST_KNN, "lat=26", "lon"},
        {SITU_NEAREST_KNN, "lon=111.5", "lat"},
        {SITU_NEAREST_KNN, "lon=abc&lat=26", "lon"},
        {SITU_NEAREST_KNN, "lon=111.5&lat=", "lat"},
        {SITU_NEAREST_KNN, "lon=111.5&lat=90.5", "lat"},
        {SITU_NEAREST_KNN, "lon=-180.1&lat=26", "lon"},
        {SITU_NEAREST_KNN, "lon=nan&lat=26", "lon"},
        {SITU_NEAREST_KNN, "lon=111&lat=inf", "lat"},
        {SITU_NEAREST_KNN, "lon=111&lat=1e999", "lat"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&k=0", "k"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&k=101", "k"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&k=2.5", "k"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&collection=roads", "collection"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&item=unicorn", "item"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&collection=hazards&item=sandbag", "item"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&item=sandbag&min_qty=-1", "min_qty"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&min_qty=5", "min_qty"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&max_km=0", "max_km"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&max_km=x", "max_km"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&status=lost", "status"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&category=ship", "category"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&team_type=pirates", "team_type"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&color=red", "color"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&name=x", "name"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&crs=bd09", "crs"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&lat=25", "lat"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&collection=hazard_sources&grade=9", "grade"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&collection=stations&online=maybe", "online"},
        {SITU_NEAREST_KNN, "lon=111&lat=26&radius_m=50", "radius_m"},
        {SITU_NEAREST_WITHIN, "lon=111&lat=26", "radius_m"},
        {SITU_NEAREST_WITHIN, "lon=111&lat=26&radius_m=0", "radius_m"},
        {SITU_NEAREST_WITHIN, "lon=111&lat=26&radius_m=500&limit=0", "limit"},
        {SITU_NEAREST_WITHIN, "lon=111&lat=26&radius_m=500&k=5", "k"},
        {SITU_NEAREST_LOCATE, "lon=111&lat=26&collection=resources", "collection"},
        {SITU_NEAREST_LOCATE, "lon=111&lat=26&k=5", "k"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        situ_nearest_query q;
        situ_err err = {0};
        q.k = -7;
        int rc = parse_kv(cases[i].mode, cases[i].kv, &q, &err);
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: ", cases[i].param);
        if (rc != SITU_EINVAL || strncmp(err.msg, prefix, strlen(prefix)) != 0)
            fprintf(stderr, "%s -> %d '%s', want '%s...'\n", cases[i].kv, rc, err.msg, prefix);
        assert_int_equal(rc, SITU_EINVAL);
        assert_true(strncmp(err.msg, prefix, strlen(prefix)) == 0);
        assert_int_equal(q.k, -7); /* not written on failure */
    }
}

static void good_input_parses(void **state)
{
    (void)state;
    situ_nearest_query q;
    situ_err err = {0};
    assert_int_equal(parse_kv(SITU_NEAREST_KNN,
                              "lon=111.6&lat=26.2&collection=resources&k=7&item=sandbag&min_qty="
                              "2000&category=depot&status=available&max_km=30",
                              &q, &err),
                     0);
    assert_int_equal(q.k, 7);
    assert_int_equal(q.item, situ_schema_item_index("sandbag"));
    assert_true(q.min_qty == 2000 && q.max_m == 30000 && q.nfilters == 2);
    assert_int_equal(parse_kv(SITU_NEAREST_KNN,
                              "lon=111.6&lat=26.2&collection=hazard_sources&grade=2", &q, &err),
                     0);
    assert_string_equal(q.filters[0].value, "2");
    assert_int_equal(parse_kv(SITU_NEAREST_WITHIN, "lon=111.6&lat=26.2&radius_m=800", &q, &err), 0);
    assert_true(q.radius_m == 800 && q.k == 1000);
}

/* ---- GCJ-02 and the answer text ------------------------------------------ */

static char *answer(const char *kv, situ_nearest_mode mode)
{
    situ_nearest_query q;
    situ_err err = {0};
    assert_int_equal(parse_kv(mode, kv, &q, &err), 0);
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_nearest_answer(city()->cache, city()->snap, &q, &b, &err), 0);
    return situ_buf_steal(&b, NULL);
}

static void gcj02_point_gives_the_same_answer(void **state)
{
    (void)state;
    fixture *f = city();
    for (int i = 0; i < 500; i++) {
        double lon, lat, glon, glat;
        pick(&lon, &lat, 0.8, 0.03);
        situ_gcj02_from_wgs84(lon, lat, &glon, &glat);
        char kv[160];
        situ_nearest_query qw, qg;
        snprintf(kv, sizeof kv, "lon=%.12f&lat=%.12f&k=10&item=sandbag", lon, lat);
        assert_int_equal(parse_kv(SITU_NEAREST_KNN, kv, &qw, NULL), 0);
        snprintf(kv, sizeof kv, "lon=%.12f&lat=%.12f&k=10&item=sandbag&crs=gcj02", glon, glat);
        assert_int_equal(parse_kv(SITU_NEAREST_KNN, kv, &qg, NULL), 0);
        situ_nearest_hit hw[10], hg[10];
        situ_nearest_result rw = {.hits = hw, .cap = 10}, rg = {.hits = hg, .cap = 10};
        assert_int_equal(situ_nearest_search(f->res, &qw, NULL, &rw, NULL), 0);
        assert_int_equal(situ_nearest_search(f->res, &qg, NULL, &rg, NULL), 0);
        assert_int_equal(rw.n, rg.n);
        for (int k = 0; k < rw.n; k++) {
            assert_int_equal(hw[k].feat, hg[k].feat);
            assert_true(fabs(hw[k].distance_m - hg[k].distance_m) < 1e-3);
        }
    }
}

/* Decimal places of a JSON number's text. */
static int decimals(double v)
{
    char s[64];
    snprintf(s, sizeof s, "%.12f", v);
    int n = (int)strlen(s);
    while (n > 0 && s[n - 1] == '0')
        n--;
    const char *dot = strchr(s, '.');
    return n - (int)(dot - s) - 1;
}

static void answer_is_a_feature_collection(void **state)
{
    (void)state;
    char *text = answer("lon=111.61&lat=26.22&k=5&item=sandbag&min_qty=100", SITU_NEAREST_KNN);
    json_error_t je;
    json_t *fc = json_loads(text, 0, &je), *feats = json_object_get(fc, "features");
    assert_non_null(fc);
    assert_string_equal(json_string_value(json_object_get(fc, "type")), "FeatureCollection");
    json_t *q = json_object_get(fc, "query");
    char code[32];
    township_of(111.61, 26.22, code);
    assert_string_equal(json_string_value(json_object_get(q, "township_code")), code);
    assert_non_null(json_string_value(json_object_get(q, "township_name")));
    assert_int_equal(json_array_size(feats), 5);
    double last = -1;
    for (size_t i = 0; i < 5; i++) {
        json_t *ft = json_array_get(feats, i), *p = json_object_get(ft, "properties");
        json_t *xy = json_object_get(json_object_get(ft, "geometry"), "coordinates");
        assert_true(decimals(json_number_value(json_array_get(xy, 0))) <= 7);
        double dm = json_number_value(json_object_get(p, "distance_m"));
        assert_true(dm >= last);
        last = dm;
        assert_string_equal(json_string_value(json_object_get(p, "collection")), "resources");
        assert_string_equal(json_string_value(json_object_get(p, "matched_item")), "sandbag");
        assert_true(json_number_value(json_object_get(p, "matched_qty")) >= 100);
        assert_non_null(json_object_get(p, "bearing_deg"));
        assert_non_null(json_string_value(json_object_get(p, "township_name")));
        assert_non_null(json_string_value(json_object_get(p, "phone")));
        assert_true(json_array_size(json_object_get(p, "items")) >= 1);
    }
    json_decref(fc);
    free(text);
}

static void answer_in_gcj02_gives_gcj02_coordinates(void **state)
{
    (void)state;
    double glon, glat;
    situ_gcj02_from_wgs84(111.61, 26.22, &glon, &glat);
    char kv[128];
    snprintf(kv, sizeof kv, "lon=%.9f&lat=%.9f&k=1&crs=gcj02", glon, glat);
    char *g = answer(kv, SITU_NEAREST_KNN),
         *w = answer("lon=111.61&lat=26.22&k=1", SITU_NEAREST_KNN);
    json_t *jg = json_loads(g, 0, NULL), *jw = json_loads(w, 0, NULL);
    json_t *fg = json_array_get(json_object_get(jg, "features"), 0);
    json_t *fw = json_array_get(json_object_get(jw, "features"), 0);
    assert_string_equal(json_string_value(json_object_get(fg, "id")),
                        json_string_value(json_object_get(fw, "id")));
    json_t *cg = json_object_get(json_object_get(fg, "geometry"), "coordinates");
    json_t *cw = json_object_get(json_object_get(fw, "geometry"), "coordinates");
    double elon, elat;
    situ_gcj02_from_wgs84(json_number_value(json_array_get(cw, 0)),
                          json_number_value(json_array_get(cw, 1)), &elon, &elat);
    assert_true(fabs(json_number_value(json_array_get(cg, 0)) - elon) < 2e-7);
    assert_true(fabs(json_number_value(json_array_get(cg, 1)) - elat) < 2e-7);
    json_t *q = json_object_get(jg, "query");
    assert_string_equal(json_string_value(json_object_get(q, "crs")), "gcj02");
    assert_true(fabs(json_number_value(json_object_get(q, "lon")) - glon) < 1e-7);
    json_decref(jg);
    json_decref(jw);
    free(g);
    free(w);
}

static void locate_lists_sources_and_active_alerts(void **state)
{
    (void)state;
    char *text = answer("lon=111.7&lat=25.7", SITU_NEAREST_LOCATE);
    json_t *fc = json_loads(text, 0, NULL), *feats = json_object_get(fc, "features");
    assert_non_null(fc);
    json_t *first = json_object_get(json_array_get(feats, 0), "properties");
    assert_string_equal(json_string_value(json_object_get(first, "collection")), "alerts");
    assert_string_equal(json_string_value(json_object_get(first, "id")), "AL0");
    for (size_t i = 1; i < json_array_size(feats); i++) {
        json_t *p = json_object_get(json_array_get(feats, i), "properties");
        assert_string_equal(json_string_value(json_object_get(p, "collection")), "hazard_sources");
        assert_true(json_number_value(json_object_get(p, "distance_m")) <=
                    json_number_value(json_object_get(p, "impact_radius_m")));
    }
    /* the array /locate embeds holds the same hazard sources */
    situ_buf b;
    situ_buf_init(&b);
    assert_int_equal(situ_nearest_hazards_json(city()->cache, city()->snap, 111.7, 25.7,
                                               SITU_CRS_WGS84, &b, NULL),
                     0);
    json_t *arr = json_loads(b.p, 0, NULL);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr) + 1, json_array_size(feats));
    json_decref(arr);
    situ_buf_dispose(&b);
    json_decref(fc);
    free(text);
}

/* `situ nearest` prints exactly what the library (and so HTTP) answers. */
static void cli_prints_the_same_answer(void **state)
{
    (void)state;
    fixture *f = city();
    char *lib = answer("lon=111.61&lat=26.22&k=3&item=life_jacket&min_qty=10", SITU_NEAREST_KNN);
    char *out = NULL;
    int rc = situ_test_sh(&out,
                          "'%s' nearest --db '%s' --lon 111.61 --lat 26.22 --k 3 --item "
                          "life_jacket --min_qty=10",
                          situ_test_bin(), f->path);
    assert_int_equal(rc, 0);
    assert_string_equal(out, lib);
    free(out);
    rc = situ_test_sh(&out, "'%s' nearest --db '%s' --lon 111.61 --lat 95 2>&1", situ_test_bin(),
                      f->path);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "lat: must be a number between -90 and 90"));
    free(out);
    free(lib);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(knn_is_exact_against_brute_force),
    cmocka_unit_test(within_is_exact_and_truncates),
    cmocka_unit_test(ties_are_broken_by_id),
    cmocka_unit_test(many_ties_at_one_spot),
    cmocka_unit_test(points_outside_the_city),
    cmocka_unit_test(hazards_reaching_a_point),
    cmocka_unit_test(polygon_distance_is_the_nearest_edge_point),
    cmocka_unit_test(bad_input_names_the_parameter),
    cmocka_unit_test(good_input_parses),
    cmocka_unit_test(gcj02_point_gives_the_same_answer),
    cmocka_unit_test(answer_is_a_feature_collection),
    cmocka_unit_test(answer_in_gcj02_gives_gcj02_coordinates),
    cmocka_unit_test(locate_lists_sources_and_active_alerts),
    cmocka_unit_test(cli_prints_the_same_answer),
};

SITU_TEST_MAIN("nearest", tests)

/* demo_roads_test.c: tests layers/demo/demo_roads.c by generating the demo at
 * scale 1 and reading roads.fgb back with GDAL, as the loader would:
 * FlatGeobuf with the vertices its GeoJSON carried, its size, the graph layers/roads builds of it
 * (one connected network), bridges wherever a road crosses a river (GEOS), and every team, depot
 * and township seat within reach of a road (situ_roads_snap). */
#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>
#include <geos_c.h>
#include <ogr_api.h>

#include "situ/demo.h"
#include "situ/roads.h"
#include "situ/schema.h"

#define GEODATA SITU_SOURCE_DIR "/geodata"
#define SEED 20231231ULL

/* ---- the scale-1 demo, read once ----------------------------------------- */

typedef struct road {
    situ_roads_class cls;
    situ_roads_oneway oneway;
    situ_roads_status status;
    int bridge, tunnel, layer;
    double speed_kmh, duration_s;
    size_t xy0; /* vertex index into net.xy */
    uint32_t n;
} road;

typedef struct net {
    char *dir;
    road *roads;
    size_t nroads;
    double *xy;
    size_t nxy, capxy;
} net;

static net N;

static void net_free(void)
{
    situ_test_rmtree(N.dir);
    free(N.dir), free(N.roads), free(N.xy);
}

static int parse_of(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static void add_vertex(double x, double y)
{
    if (N.nxy == N.capxy) {
        N.capxy = N.capxy ? 2 * N.capxy : 1 << 16;
        N.xy = realloc(N.xy, N.capxy * 2 * sizeof *N.xy);
        assert_non_null(N.xy);
    }
    N.xy[2 * N.nxy] = x, N.xy[2 * N.nxy + 1] = y;
    N.nxy++;
}

static void read_road(OGRFeatureH f, road *r)
{
    static const char *const oneway[] = {"no", "yes", "reverse"};
    static const char *const status[] = {"open", "closed", "restricted"};
#define FIELD(name) OGR_F_GetFieldIndex(f, name)
    int cls = situ_roads_class_of(OGR_F_GetFieldAsString(f, FIELD("class")));
    int ow = parse_of(OGR_F_GetFieldAsString(f, FIELD("oneway")), oneway, 3);
    int st = parse_of(OGR_F_GetFieldAsString(f, FIELD("status")), status, 3);
    assert_true(cls >= 0 && ow >= 0 && st >= 0);
    assert_true(OGR_F_GetFieldAsString(f, FIELD("name"))[0] != '\0');
    r->cls = (situ_roads_class)cls, r->oneway = (situ_roads_oneway)ow;
    r->status = (situ_roads_status)st;
    r->bridge = OGR_F_GetFieldAsInteger(f, FIELD("bridge"));
    r->tunnel = OGR_F_GetFieldAsInteger(f, FIELD("tunnel"));
    r->layer = OGR_F_GetFieldAsInteger(f, FIELD("layer"));
    r->speed_kmh = OGR_F_GetFieldAsDouble(f, FIELD("speed_kmh"));
    r->duration_s = OGR_F_GetFieldAsDouble(f, FIELD("duration_s"));
#undef FIELD
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    assert_int_equal(wkbFlatten(OGR_G_GetGeometryType(g)), wkbMultiLineString);
    assert_int_equal(OGR_G_GetGeometryCount(g), 1);
    OGRGeometryH line = OGR_G_GetGeometryRef(g, 0);
    r->xy0 = N.nxy;
    r->n = (uint32_t)OGR_G_GetPointCount(line);
    assert_true(r->n >= 2);
    for (uint32_t i = 0; i < r->n; i++)
        add_vertex(OGR_G_GetX(line, (int)i), OGR_G_GetY(line, (int)i));
}

static const net *demo(void)
{
    if (N.dir)
        return &N;
    N.dir = situ_test_tmpdir("demo-roads");
    situ_demo_opts o = {.out_dir = N.dir, .geodata_dir = GEODATA, .scale = 1, .seed = SEED};
    situ_demo_stats st;
    situ_err err = {0};
    int rc = situ_demo_write(&o, &st, &err);
    if (rc)
        fprintf(stderr, "situ_demo_write: %s\n", err.msg);
    assert_int_equal(rc, 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/roads.fgb", N.dir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    assert_string_equal(GDALGetDriverShortName(GDALGetDatasetDriver(ds)), "FlatGeobuf");
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    size_t cap = (size_t)OGR_L_GetFeatureCount(l, 1);
    assert_int_equal((long long)cap, st.count[SITU_C_ROADS]);
    N.roads = calloc(cap, sizeof *N.roads);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        assert_true(N.nroads < cap);
        read_road(f, &N.roads[N.nroads++]);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    atexit(net_free);
    return &N;
}

/* The lines of the network for layers/roads: caller id = road index. */
static situ_roads_line *lines_of(const net *n)
{
    situ_roads_line *lines = calloc(n->nroads, sizeof *lines);
    assert_non_null(lines);
    for (size_t i = 0; i < n->nroads; i++) {
        const road *r = &n->roads[i];
        lines[i] = (situ_roads_line){.xy = n->xy + 2 * r->xy0,
                                     .n = r->n,
                                     .id = (uint32_t)i,
                                     .cls = r->cls,
                                     .oneway = r->oneway,
                                     .status = r->status,
                                     .speed_kmh = r->speed_kmh,
                                     .speed_tagged = r->speed_kmh > 0,
                                     .duration_s = r->duration_s};
    }
    return lines;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static situ_roads_graph *graph_of(const net *n)
{
    situ_roads_line *lines = lines_of(n);
    situ_roads_graph *g = NULL;
    situ_err err = {0};
    double t0 = now_s();
    int rc = situ_roads_graph_new(lines, n->nroads, NULL, &g, &err);
    double t1 = now_s();
    if (rc)
        fprintf(stderr, "situ_roads_graph_new: %s\n", err.msg);
    assert_int_equal(rc, 0);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    printf("# graph of the scale-1 demo: %zu nodes, %zu edges, built in %.0f ms, %.1f bytes/edge\n",
           st.nodes, st.edges, (t1 - t0) * 1e3, st.bytes_per_edge);
    free(lines);
    return g;
}

/* ---- size and attributes ------------------------------------------------------ */

/* The roads are FlatGeobuf, but their vertices are what the GeoJSON the
 * demo wrote before carried (7 decimals, and GDAL's trimming of 0000x and
 * 9999x: 111.6000007 is written 111.6), so the same store loads: GDAL's
 * GeoJSON writing of them changes not one vertex. */
static void vertices_are_as_geojson_carried_them(void **state)
{
    (void)state;
    const net *n = demo();
    char path[4200];
    snprintf(path, sizeof path, "%s/roads-check.geojson", n->dir);
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f GeoJSON -lco RFC7946=YES -lco COORDINATE_PRECISION=7 "
                                  "-lco WRAPDATELINE=NO '%s' '%s/roads.fgb'",
                                  path, n->dir),
                     0);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    OGRFeatureH f;
    size_t k = 0, other = 0;
    while ((f = OGR_L_GetNextFeature(GDALDatasetGetLayer(ds, 0))) != NULL) {
        OGRGeometryH line = OGR_G_GetGeometryRef(OGR_F_GetGeometryRef(f), 0);
        for (int i = 0; i < OGR_G_GetPointCount(line) && k < n->nxy; i++, k++)
            other += OGR_G_GetX(line, i) != n->xy[2 * k] || OGR_G_GetY(line, i) != n->xy[2 * k + 1];
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    unlink(path);
    assert_int_equal(k, n->nxy);
    assert_int_equal(other, 0);
}

static void scale_one_has_100k_edges_of_every_class(void **state)
{
    (void)state;
    const net *n = demo();
    size_t edges = 0, per_class[SITU_ROADS_NCLASSES] = {0};
    size_t bridges = 0, tunnels = 0, oneway = 0, reverse = 0, posted = 0;
    for (size_t i = 0; i < n->nroads; i++) {
        const road *r = &n->roads[i];
        edges += r->n - 1;
        per_class[r->cls]++;
        bridges += r->bridge != 0, tunnels += r->tunnel != 0;
        oneway += r->oneway == SITU_ROADS_ONEWAY, reverse += r->oneway == SITU_ROADS_REVERSE;
        posted += r->speed_kmh > 0;
        assert_int_equal(r->layer, r->bridge ? 1 : r->tunnel ? -1 : 0);
        assert_true(r->cls != SITU_ROADS_FERRY || r->duration_s > 0);
    }
    printf("# %zu roads, %zu edges, %zu bridges, %zu tunnels, %zu + %zu one-way, %zu posted\n",
           n->nroads, edges, bridges, tunnels, oneway, reverse, posted);
    assert_true(edges >= 100000);
    for (int c = 0; c < SITU_ROADS_NCLASSES; c++)
        assert_true(per_class[c] > 0);
    assert_true(bridges > 0 && tunnels > 0 && oneway > 0 && reverse > 0);
    /* the speed table drives most roads: only a few carry a posted limit */
    assert_true(posted > 0 && posted < n->nroads / 20);
}

/* ---- one network ------------------------------------------------------------------ */

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
    while (p[x] != x)
        x = p[x] = p[p[x]];
    return x;
}

static void graph_is_one_connected_network(void **state)
{
    (void)state;
    situ_roads_graph *g = graph_of(demo());
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    uint32_t *p = malloc(st.nodes * sizeof *p), *size = calloc(st.nodes, sizeof *size);
    assert_true(p && size);
    for (uint32_t v = 0; v < st.nodes; v++)
        p[v] = v;
    for (uint32_t e = 0; e < st.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        p[uf_find(p, ed.a)] = uf_find(p, ed.b);
    }
    uint32_t largest = 0;
    for (uint32_t v = 0; v < st.nodes; v++) {
        uint32_t s = ++size[uf_find(p, v)];
        largest = s > largest ? s : largest;
    }
    printf("# largest connected part: %u of %zu nodes\n", largest, st.nodes);
    assert_true(st.edges >= 100000);
    assert_true((double)largest >= 0.99 * (double)st.nodes);
    free(p), free(size);
    situ_roads_graph_free(g);
}

/* ---- rivers are crossed on bridges ----------------------------------------------------- */

static GEOSGeometry *read_rivers(GEOSContextHandle_t h, int *out_main)
{
    GDALDatasetH ds =
        GDALOpenEx(GEODATA "/yongzhou_rivers.geojson", GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    GEOSGeometry *parts[64];
    unsigned n = 0;
    OGRFeatureH f;
    *out_main = 0;
    while ((f = OGR_L_GetNextFeature(l)) != NULL && n < 64) {
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        int np = OGR_G_GetPointCount(g);
        GEOSCoordSequence *s = GEOSCoordSeq_create_r(h, (unsigned)np, 2);
        for (int i = 0; i < np; i++)
            GEOSCoordSeq_setXY_r(h, s, (unsigned)i, OGR_G_GetX(g, i), OGR_G_GetY(g, i));
        parts[n++] = GEOSGeom_createLineString_r(h, s);
        *out_main += OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "rank")) == 1;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    return GEOSGeom_createCollection_r(h, GEOS_MULTILINESTRING, parts, n);
}

/* 1 when segment i of road r meets a river. */
static int meets(GEOSContextHandle_t h, const GEOSPreparedGeometry *rivers, const net *n,
                 const road *r, uint32_t i)
{
    const double *xy = n->xy + 2 * (r->xy0 + i);
    GEOSCoordSequence *s = GEOSCoordSeq_create_r(h, 2, 2);
    GEOSCoordSeq_setXY_r(h, s, 0, xy[0], xy[1]);
    GEOSCoordSeq_setXY_r(h, s, 1, xy[2], xy[3]);
    GEOSGeometry *seg = GEOSGeom_createLineString_r(h, s);
    int hit = GEOSPreparedIntersects_r(h, rivers, seg);
    GEOSGeom_destroy_r(h, seg);
    assert_true(hit == 0 || hit == 1);
    return hit;
}

static int cmp_xy(const void *a, const void *b)
{
    const double *p = a, *q = b;
    return p[0] != q[0] ? (p[0] > q[0]) - (p[0] < q[0]) : (p[1] > q[1]) - (p[1] < q[1]);
}

/* How many road vertices (any road) equal (x, y): sorted is n->nxy pairs. */
static size_t vertex_uses(const double *sorted, size_t n, double x, double y)
{
    double key[2] = {x, y};
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_xy(sorted + 2 * mid, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = 0;
    while (lo + k < n && cmp_xy(sorted + 2 * (lo + k), key) == 0)
        k++;
    return k;
}

static void every_river_crossing_is_a_bridge(void **state)
{
    (void)state;
    const net *n = demo();
    GEOSContextHandle_t h = GEOS_init_r();
    int nmain = 0;
    GEOSGeometry *rivers = read_rivers(h, &nmain);
    const GEOSPreparedGeometry *prep = GEOSPrepare_r(h, rivers);
    assert_true(nmain >= 2); /* the Xiang and the Xiao */
    double *sorted = malloc(n->nxy * 2 * sizeof *sorted);
    memcpy(sorted, n->xy, n->nxy * 2 * sizeof *sorted);
    qsort(sorted, n->nxy, 2 * sizeof *sorted, cmp_xy);
    size_t crossing = 0, bridges = 0;
    for (size_t i = 0; i < n->nroads; i++) {
        const road *r = &n->roads[i];
        if (r->cls == SITU_ROADS_FERRY)
            continue;
        for (uint32_t s = 0; s + 1 < r->n; s++) {
            int hit = meets(h, prep, n, r, s);
            crossing += hit != 0;
            if (hit && !r->bridge)
                fail_msg("road %zu segment %u crosses a river and is no bridge", i, s);
        }
        if (!r->bridge)
            continue;
        bridges++;
        /* a bridge's ends are shared with its approaches */
        const double *a = n->xy + 2 * r->xy0, *b = n->xy + 2 * (r->xy0 + r->n - 1);
        assert_true(vertex_uses(sorted, n->nxy, a[0], a[1]) >= 2);
        assert_true(vertex_uses(sorted, n->nxy, b[0], b[1]) >= 2);
    }
    printf("# %zu segments cross a river, on %zu bridges\n", crossing, bridges);
    assert_true(crossing > 0 && bridges > 0);
    free(sorted);
    GEOSPreparedGeom_destroy_r(h, prep);
    GEOSGeom_destroy_r(h, rivers);
    GEOS_finish_r(h);
}

/* ---- teams, depots and township seats are on the network --------------------------------- */

static void resources_and_township_seats_are_near_a_road(void **state)
{
    (void)state;
    const net *n = demo();
    situ_roads_graph *g = graph_of(n);
    char path[4200];
    snprintf(path, sizeof path, "%s/resources.geojson", n->dir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(ds);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int count = 0, seats = 0;
    double worst = 0;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        OGRGeometryH pt = OGR_F_GetGeometryRef(f);
        situ_roads_place place;
        situ_err err = {0};
        int rc = situ_roads_snap(g, NULL, OGR_G_GetX(pt, 0), OGR_G_GetY(pt, 0),
                                 SITU_ROADS_MAX_SNAP_M, &place, &err);
        if (rc)
            fail_msg("%s is not within 1,000 m of a road", OGR_F_GetFieldAsString(f, 0));
        worst = fmax(worst, place.snap_m);
        /* a township's depot stands at its seat */
        const char *level = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "level"));
        const char *cat = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "category"));
        seats += strcmp(level, "township") == 0 && strcmp(cat, "depot") == 0;
        count++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    printf("# %d teams and depots snap to a road, the furthest %.0f m away\n", count, worst);
    assert_int_equal(seats, 182);
    assert_true(worst <= 500);
    situ_roads_graph_free(g);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return 0;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(scale_one_has_100k_edges_of_every_class, setup),
    cmocka_unit_test_setup(vertices_are_as_geojson_carried_them, setup),
    cmocka_unit_test_setup(graph_is_one_connected_network, setup),
    cmocka_unit_test_setup(every_river_crossing_is_a_bridge, setup),
    cmocka_unit_test_setup(resources_and_township_seats_are_near_a_road, setup),
};

SITU_TEST_MAIN("demo_roads", tests)

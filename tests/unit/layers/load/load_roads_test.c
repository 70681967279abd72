/*
 * load_roads_test.c: tests layers/load/load_roads.c (situ load of roads).
 * The real Helsinki extract (../shared/data/osm/helsinki.osm.pbf, ODbL)
 * through GDAL's OSM driver and geodata/osmconf.ini into a real SpatiaLite
 * store, then the routing graph built from the stored lines: the ways a car
 * may drive and none other, a known one-way street, no junction where a
 * bridge or tunnel crosses a road, the largest connected part. A transport
 * department's Shapefile in CGCS2000 with GBK text, made here with ogr2ogr:
 * classes from route codes and technical grades, overrides, names, the
 * reprojection against PROJ's cs2cs.
 */
#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ogr_api.h>
#include <sqlite3.h>

#include "situ/load.h"
#include "situ/roads.h"
#include "situ/store.h"

typedef situ_test_store_fx fixture;

static const char *helsinki(void)
{
    return situ_test_shared_osm("helsinki.osm.pbf");
}

static void must_load(fixture *fx, const char *path, situ_load_opts *o, situ_load_stats *st)
{
    situ_err err = {0};
    o->collection = "roads";
    int rc = situ_load_file(fx->s, path, o, st, &err);
    if (rc)
        fail_msg("load %s: %s", path, err.msg);
}

static long long q_int(fixture *fx, const char *sql)
{
    char *t = situ_test_query(fx->s, sql);
    long long v = atoll(t);
    free(t);
    return v;
}

/* ---- the stored lines as the routing graph's input ------------------------ */

typedef struct stored {
    situ_roads_line *lines;
    char **ids;
    unsigned char *grade_sep; /* bridge or tunnel */
    size_t n;
    double *xy;
} stored;

static void stored_read(fixture *fx, stored *out)
{
    sqlite3_stmt *st;
    size_t cap = 0, nxy = 0, capxy = 0;
    memset(out, 0, sizeof *out);
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(fx->s),
                                        "SELECT id, class, oneway, speed_kmh, bridge OR tunnel, "
                                        "AsBinary(geom) FROM roads ORDER BY fid",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        OGRGeometryH g = NULL;
        assert_int_equal(
            OGR_G_CreateFromWkb(sqlite3_column_blob(st, 5), NULL, &g, sqlite3_column_bytes(st, 5)),
            OGRERR_NONE);
        for (int p = 0; p < OGR_G_GetGeometryCount(g); p++) {
            OGRGeometryH part = OGR_G_GetGeometryRef(g, p);
            int np = OGR_G_GetPointCount(part);
            if (out->n == cap) {
                cap = cap ? 2 * cap : 1024;
                out->lines = realloc(out->lines, cap * sizeof *out->lines);
                out->ids = realloc(out->ids, cap * sizeof *out->ids);
                out->grade_sep = realloc(out->grade_sep, cap);
            }
            while (nxy + 2 * (size_t)np > capxy) {
                capxy = capxy ? 2 * capxy : 65536;
                out->xy = realloc(out->xy, capxy * sizeof *out->xy);
            }
            situ_roads_line *l = &out->lines[out->n];
            const char *ow = (const char *)sqlite3_column_text(st, 2);
            memset(l, 0, sizeof *l);
            l->xy = (const double *)(uintptr_t)nxy;
            l->n = (uint32_t)np;
            l->id = (uint32_t)out->n;
            l->cls =
                (situ_roads_class)situ_roads_class_of((const char *)sqlite3_column_text(st, 1));
            l->oneway = !ow || !strcmp(ow, "no") ? SITU_ROADS_TWOWAY
                        : !strcmp(ow, "yes")     ? SITU_ROADS_ONEWAY
                                                 : SITU_ROADS_REVERSE;
            l->speed_kmh = sqlite3_column_double(st, 3);
            l->speed_tagged = l->speed_kmh > 0;
            for (int i = 0; i < np; i++) {
                out->xy[nxy++] = OGR_G_GetX(part, i);
                out->xy[nxy++] = OGR_G_GetY(part, i);
            }
            out->ids[out->n] = strdup((const char *)sqlite3_column_text(st, 0));
            out->grade_sep[out->n] = (unsigned char)sqlite3_column_int(st, 4);
            out->n++;
        }
        OGR_G_DestroyGeometry(g);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < out->n; i++)
        out->lines[i].xy = out->xy + (uintptr_t)out->lines[i].xy;
}

static void stored_dispose(stored *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->ids[i]);
    free(s->ids), free(s->lines), free(s->grade_sep), free(s->xy);
}

static size_t line_of(const stored *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id))
            return i;
    fail_msg("no stored line %s", id);
    return 0;
}

/* Loads Helsinki into fx, reads the stored lines into *s and builds their
 * graph. */
static situ_roads_graph *helsinki_graph(fixture *fx, stored *s)
{
    situ_roads_graph *g = NULL;
    situ_load_opts o = {0};
    situ_load_stats st;
    situ_err err = {0};
    must_load(fx, helsinki(), &o, &st);
    stored_read(fx, s);
    if (situ_roads_graph_new(s->lines, s->n, NULL, &g, &err))
        fail_msg("graph: %s", err.msg);
    return g;
}

/* ---- OSM -------------------------------------------------------------------- */

/* Every way a car may drive is stored, as many as the routing reader reads
 * with the same rules, and no footway, cycleway or private road. */
static void osm_loads_the_drivable_ways(void **state)
{
    fixture *fx = *state;
    situ_load_opts o = {0};
    situ_load_stats st;
    situ_roads_osm ref;
    situ_err err = {0};
    must_load(fx, helsinki(), &o, &st);
    assert_int_equal(situ_roads_osm_read(helsinki(), situ_roads_osm_config(), &ref, &err), 0);
    print_message("helsinki: %lld roads stored, %lld ways skipped, %lld rejected; the reader "
                  "reads %zu\n",
                  st.inserted, st.skipped, st.rejected, ref.n);
    assert_true(st.inserted > 800);
    assert_int_equal(st.inserted, (long long)ref.n);
    assert_int_equal(st.rejected, 0);
    assert_true(st.skipped > 1000); /* 1,058 footways alone */
    assert_int_equal(q_int(fx, "SELECT COUNT(*) FROM roads"), st.inserted);
    situ_roads_osm_dispose(&ref);
    /* a footway, a cycleway, a private service road */
    situ_assert_query(fx->s,
                      "SELECT COUNT(*) FROM roads WHERE id IN ('osm-w8035183', 'osm-w23259342', "
                      "'osm-w27327788')",
                      "0");
    /* Vilhonkatu: secondary, oneway=yes, maxspeed=40 */
    situ_assert_query(fx->s,
                      "SELECT name || '|' || class || '|' || oneway || '|' || speed_kmh || '|' || "
                      "status || '|' || json_extract(extra, '$.osm_id') FROM roads WHERE id = "
                      "'osm-w4247501'",
                      "Vilhonkatu|county|yes|40.0|open|4247501");
    /* Pitkäsilta, the bridge over the Siltavuori strait: layer 1 */
    situ_assert_query(fx->s,
                      "SELECT name || '|' || bridge || '|' || tunnel || '|' || layer FROM roads "
                      "WHERE id = 'osm-w23952344'",
                      "Pitkäsilta|1|0|1");
    situ_assert_query(fx->s,
                      "SELECT COUNT(*) FROM roads WHERE class NOT IN ('county', "
                      "'provincial', 'township', 'village', 'urban', 'service', "
                      "'national', 'expressway', 'ferry')",
                      "0");
}

/* Vilhonkatu is driven one way: along it from its first vertex to its last
 * is a few seconds, back the other way a detour round the block. */
static void osm_oneway_street_is_one_way(void **state)
{
    fixture *fx = *state;
    stored s;
    situ_err err = {0};
    situ_roads_graph *g = helsinki_graph(fx, &s);
    const situ_roads_line *l = &s.lines[line_of(&s, "osm-w4247501")];
    situ_roads_place a, b;
    assert_int_equal(situ_roads_snap(g, NULL, l->xy[0], l->xy[1], 5, &a, &err), 0);
    assert_int_equal(
        situ_roads_snap(g, NULL, l->xy[2 * l->n - 2], l->xy[2 * l->n - 1], 5, &b, &err), 0);
    double t[2];
    for (int dir = 0; dir < 2; dir++) { /* 0: first -> last, 1: last -> first */
        situ_roads_targets *tg;
        situ_roads_ws *ws = situ_roads_ws_new(g);
        situ_roads_query q;
        situ_roads_hit hit;
        int n = 0;
        situ_roads_query_init(&q);
        q.dir = SITU_ROADS_FROM_POINT;
        assert_int_equal(situ_roads_targets_from_places(g, dir ? &a : &b, 1, &tg, &err), 0);
        assert_int_equal(situ_roads_search(g, NULL, tg, dir ? &b : &a, &q, ws, &hit, &n, &err), 0);
        t[dir] = n ? hit.road_s : INFINITY;
        situ_roads_targets_free(tg);
        situ_roads_ws_free(ws);
    }
    print_message("Vilhonkatu: %.1f s along it, %.1f s against it\n", t[0], t[1]);
    assert_true(t[0] < 30);
    assert_true(t[1] > 2 * t[0]);
    situ_roads_graph_free(g);
    stored_dispose(&s);
}

/* The edge of road (a line index) from vertex p to q, or UINT32_MAX. */
static uint32_t edge_at(const situ_roads_graph *g, uint32_t road, const double *p, const double *q)
{
    situ_roads_stats gs;
    situ_roads_graph_stats(g, &gs);
    for (uint32_t e = 0; e < gs.edges; e++) {
        situ_roads_edge ed;
        double a[2], b[2];
        situ_roads_graph_edge(g, e, &ed);
        if (ed.road != road)
            continue;
        situ_roads_graph_node(g, ed.a, a);
        situ_roads_graph_node(g, ed.b, b);
        if (fabs(a[0] - p[0]) < 1e-7 && fabs(a[1] - p[1]) < 1e-7 && fabs(b[0] - q[0]) < 1e-7 &&
            fabs(b[1] - q[1]) < 1e-7)
            return e;
    }
    return UINT32_MAX;
}

/* Where segment u of line i (a bridge or tunnel) crosses segment v of line
 * j: at fractions fu, fv. Calls visit for each crossing; returns how many. */
typedef void (*on_crossing)(void *ctx, size_t i, uint32_t u, double fu, size_t j, uint32_t v,
                            double fv);
static int crossings(const situ_roads_line *l, size_t n, const unsigned char *sep,
                     on_crossing visit, void *ctx)
{
    int found = 0;
    for (size_t i = 0; i < n; i++)
        for (uint32_t u = 0; sep[i] && u + 1 < l[i].n; u++)
            for (size_t j = 0; j < n; j++)
                for (uint32_t v = 0; !sep[j] && v + 1 < l[j].n; v++) {
                    const double *p0 = l[i].xy + 2 * u, *p1 = p0 + 2, *q0 = l[j].xy + 2 * v,
                                 *q1 = q0 + 2;
                    double rx = p1[0] - p0[0], ry = p1[1] - p0[1], sx = q1[0] - q0[0],
                           sy = q1[1] - q0[1], den = rx * sy - ry * sx;
                    if (fabs(den) < 1e-18)
                        continue;
                    double fu = ((q0[0] - p0[0]) * sy - (q0[1] - p0[1]) * sx) / den;
                    double fv = ((q0[0] - p0[0]) * ry - (q0[1] - p0[1]) * rx) / den;
                    if (fu > 0.01 && fu < 0.99 && fv > 0.01 && fv < 0.99) {
                        found++;
                        if (visit)
                            visit(ctx, i, u, fu, j, v, fv);
                    }
                }
    return found;
}

typedef struct crossing_ctx {
    const stored *s;
    const situ_roads_graph *g;
    situ_roads_ws *ws;
} crossing_ctx;

/* From the crossing on the bridge or tunnel to the crossing on the road
 * below or above is a drive (or no way at all), never 0 s. */
static void drive_across(void *ctx, size_t i, uint32_t u, double fu, size_t j, uint32_t v,
                         double fv)
{
    crossing_ctx *c = ctx;
    const situ_roads_line *a = &c->s->lines[i], *b = &c->s->lines[j];
    uint32_t ea = edge_at(c->g, (uint32_t)i, a->xy + 2 * u, a->xy + 2 * u + 2);
    uint32_t eb = edge_at(c->g, (uint32_t)j, b->xy + 2 * v, b->xy + 2 * v + 2);
    assert_true(ea != UINT32_MAX && eb != UINT32_MAX);
    situ_roads_place on = {ea, fu, 0, 0, 0}, off = {eb, fv, 0, 0, 0};
    situ_roads_targets *tg;
    situ_roads_query q;
    situ_roads_hit hit;
    situ_err err = {0};
    int n = 0;
    situ_roads_query_init(&q);
    q.dir = SITU_ROADS_FROM_POINT;
    assert_int_equal(situ_roads_targets_from_places(c->g, &off, 1, &tg, &err), 0);
    assert_int_equal(situ_roads_search(c->g, NULL, tg, &on, &q, c->ws, &hit, &n, &err), 0);
    print_message("%s crosses %s: %s\n", c->s->ids[i], c->s->ids[j],
                  n ? "a drive away" : "no way from one to the other");
    assert_true(n == 0 || hit.road_s > 10.0);
    situ_roads_targets_free(tg);
}

/* Where a bridge or tunnel crosses another road between vertices, the load
 * makes no junction: the stored lines cross there as often as the ways of
 * the file do (nothing noded or snapped), and from one to the other is a
 * drive. */
static void osm_grade_separation_makes_no_junction(void **state)
{
    fixture *fx = *state;
    situ_roads_osm ref;
    situ_err err = {0};
    stored s;
    situ_roads_graph *g = helsinki_graph(fx, &s);
    crossing_ctx c = {&s, g, situ_roads_ws_new(g)};
    int found = crossings(s.lines, s.n, s.grade_sep, drive_across, &c);
    assert_int_equal(situ_roads_osm_read(helsinki(), situ_roads_osm_config(), &ref, &err), 0);
    unsigned char *sep = malloc(ref.n);
    for (size_t i = 0; i < ref.n; i++)
        sep[i] = ref.bridge[i] || ref.tunnel[i];
    int in_file = crossings(ref.lines, ref.n, sep, NULL, NULL);
    print_message("%d crossings of a bridge or tunnel with a road between vertices (the file: "
                  "%d)\n",
                  found, in_file);
    assert_true(found >= 5);
    assert_int_equal(found, in_file);
    free(sep);
    situ_roads_osm_dispose(&ref);
    situ_roads_ws_free(c.ws);
    situ_roads_graph_free(g);
    stored_dispose(&s);
}

/* The largest (weakly) connected part of the graph holds nearly every node. */
static void osm_graph_is_connected(void **state)
{
    fixture *fx = *state;
    stored s;
    situ_roads_graph *g = helsinki_graph(fx, &s);
    situ_roads_stats gs;
    situ_roads_graph_stats(g, &gs);
    uint32_t *p = malloc(gs.nodes * sizeof *p), best = 0;
    uint32_t *size = calloc(gs.nodes, sizeof *size);
    for (uint32_t v = 0; v < gs.nodes; v++)
        p[v] = v;
    for (uint32_t e = 0; e < gs.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        p[situ_test_uf_find(p, ed.a)] = situ_test_uf_find(p, ed.b);
    }
    for (uint32_t v = 0; v < gs.nodes; v++) {
        uint32_t k = ++size[situ_test_uf_find(p, v)];
        best = k > best ? k : best;
    }
    double share = (double)best / (double)gs.nodes;
    print_message("helsinki from the store: %zu roads, %zu nodes, %zu edges; the largest "
                  "connected part holds %u nodes (%.1f %%)\n",
                  gs.roads, gs.nodes, gs.edges, best, 100 * share);
    assert_true(gs.nodes > 1500);
    assert_true(share >= 0.95);
    free(p), free(size);
    situ_roads_graph_free(g);
    stored_dispose(&s);
}

/* --all: roads.osm.pbf in the folder, or the manifest's file = naming it. */
static void osm_loads_from_a_folder_and_its_manifest(void **state)
{
    fixture *fx = *state;
    char dir[4096], path[4200];
    situ_load_stats st[SITU_NCOLLECTIONS];
    situ_err err = {0};
    int nfiles = 0;
    snprintf(dir, sizeof dir, "%s/all", fx->dir);
    assert_int_equal(
        situ_test_sh(NULL, "mkdir -p '%s' && ln -s '%s' '%s/roads.osm.pbf'", dir, helsinki(), dir),
        0);
    assert_int_equal(situ_load_dir(fx->s, dir, NULL, st, &nfiles, &err), 0);
    assert_int_equal(nfiles, 1);
    assert_true(st[SITU_C_ROADS].inserted > 800);
    snprintf(dir, sizeof dir, "%s/man", fx->dir);
    snprintf(path, sizeof path, "%s/manifest.ini", dir);
    assert_int_equal(situ_test_sh(NULL, "mkdir -p '%s'", dir), 0);
    char ini[4400];
    snprintf(ini, sizeof ini, "[roads]\nfile = %s\n", helsinki());
    assert_int_equal(situ_test_write(path, ini), 0);
    assert_int_equal(situ_load_dir(fx->s, dir, NULL, st, &nfiles, &err), 0);
    assert_int_equal(st[SITU_C_ROADS].updated, st[SITU_C_ROADS].read);
}

/* Tags Helsinki lacks, in a small OSM XML file: a car ferry with its
 * duration, maxspeed in mph and as a zone, oneway implied on a motorway and
 * a roundabout, oneway=-1, a way for foot only. */
static void osm_tags_become_fields(void **state)
{
    fixture *fx = *state;
    char path[4096];
    situ_load_opts o = {0};
    situ_load_stats st;
    snprintf(path, sizeof path, "%s/tags.osm", fx->dir);
    assert_int_equal(
        situ_test_write(
            path, "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
                  "<node id='1' lat='26.40' lon='111.60'/><node id='2' lat='26.41' lon='111.61'/>\n"
                  "<node id='3' lat='26.42' lon='111.60'/>\n"
                  "<way id='11'><nd ref='1'/><nd ref='2'/><tag k='route' v='ferry'/>"
                  "<tag k='motor_vehicle' v='yes'/><tag k='duration' v='00:45'/>"
                  "<tag k='name' v='潇水渡口'/></way>\n"
                  "<way id='12'><nd ref='2'/><nd ref='3'/><tag k='highway' v='motorway'/>"
                  "<tag k='ref' v='G55'/><tag k='maxspeed' v='70 mph'/></way>\n"
                  "<way id='13'><nd ref='1'/><nd ref='3'/><tag k='highway' v='primary'/>"
                  "<tag k='junction' v='roundabout'/><tag k='maxspeed' v='CN:urban'/></way>\n"
                  "<way id='14'><nd ref='3'/><nd ref='1'/><tag k='highway' v='residential'/>"
                  "<tag k='oneway' v='-1'/><tag k='tunnel' v='yes'/><tag k='layer' v='-2'/></way>\n"
                  "<way id='15'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way>\n"
                  "<way id='16'><nd ref='2'/><nd ref='1'/><tag k='route' v='ferry'/></way>\n"
                  "</osm>\n"),
        0);
    must_load(fx, path, &o, &st);
    assert_int_equal(st.inserted, 4);
    assert_int_equal(st.skipped, 2); /* the footway and the ferry for foot passengers */
    situ_assert_query(fx->s,
                      "SELECT group_concat(id || ':' || class || ':' || oneway || ':' || "
                      "ifnull(speed_kmh, '-') || ':' || ifnull(duration_s, '-') || ':' || "
                      "ifnull(ref, '-') || ':' || tunnel || ':' || ifnull(layer, '-'), ' ') "
                      "FROM (SELECT * FROM roads ORDER BY id)",
                      "osm-w11:ferry:no:-:2700.0:-:0:- "
                      "osm-w12:expressway:yes:112.65408:-:G55:0:- "
                      "osm-w13:provincial:yes:-:-:-:0:- "
                      "osm-w14:urban:reverse:-:-:-:1:-2");
    situ_assert_query(fx->s, "SELECT name FROM roads WHERE id = 'osm-w11'", "潇水渡口");
}

/* ---- a transport department's Shapefile ------------------------------------ */

/* The department's roads: its own field names, route codes, grades. */
static const char *const transport[][4] = {
    {"R1", "G4", "高速", "京港澳高速"},
    {"R2", "G207", "一级", "国道二零七线"},
    {"R3", "S216", "二级公路", "省道"},
    {"R4", "X047", "三级", "冷水滩县道"},
    {"R5", "Y012", "四级", "乡道"},
    {"R6", "C001", "等外", "村道"},
    {"R7", "Z001", "四级", "林区专用道"},
    {"R8", "", "二级", "无编码路"},
    {"R9", "S20", "", "永州绕城"},
    {"R10", "G1501", "", "环线"},
    {"R11", "", "", "无等级"},
    {"R12", "S216431100", "二级", "省道一段"},
};

/* Writes the department's file at path (.shp): lines in CGCS2000
 * (EPSG:4490), text in GBK, with a .cpg when cpg, else (as real ones often
 * come) without. */
static void make_transport_shapefile(fixture *fx, const char *path, int cpg)
{
    char src[4096], gj[8192];
    size_t n = 0;
    n += (size_t)snprintf(gj + n, sizeof gj - n, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (size_t i = 0; i < sizeof transport / sizeof transport[0]; i++)
        n += (size_t)snprintf(gj + n, sizeof gj - n,
                              "%s{\"type\":\"Feature\",\"properties\":{\"BSM\":\"%s\","
                              "\"路线编码\":\"%s\",\"技术等级\":\"%s\",\"路线名称\":\"%s\"},"
                              "\"geometry\":{\"type\":\"LineString\",\"coordinates\":"
                              "[[111.6001234,26.4201234],[111.61,26.43]]}}",
                              i ? "," : "", transport[i][0], transport[i][1], transport[i][2],
                              transport[i][3]);
    snprintf(gj + n, sizeof gj - n, "]}");
    snprintf(src, sizeof src, "%s/transport.geojson", fx->dir);
    assert_int_equal(situ_test_write(src, gj), 0);
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f 'ESRI Shapefile' -lco ENCODING=CP936 -a_srs "
                                  "EPSG:4490 '%s' '%s'",
                                  path, src),
                     0);
    if (!cpg) /* no .cpg, and no code page byte in the DBF header either */
        assert_int_equal(situ_test_sh(NULL,
                                      "rm '%.*s.cpg' && printf '\\000' | dd of='%.*s.dbf' bs=1 "
                                      "seek=29 conv=notrunc 2>/dev/null",
                                      (int)strlen(path) - 4, path, (int)strlen(path) - 4, path),
                         0);
}

/* Writes the department's file as DIR/name.shp (in shp) and loads it with
 * o (its id field BSM); all but the road without a class (11 of 12) are
 * stored. */
static void load_transport(fixture *fx, const char *name, int cpg, situ_load_opts *o,
                           situ_load_stats *st, char shp[4096])
{
    snprintf(shp, 4096, "%s/%s.shp", fx->dir, name);
    make_transport_shapefile(fx, shp, cpg);
    o->id_field = "BSM", o->max_rejected_share = 1;
    must_load(fx, shp, o, st);
    assert_int_equal(st->inserted, 11);
}

static void class_of_id(fixture *fx, const char *id, const char *want)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT class FROM roads WHERE id = '%s'", id);
    situ_assert_query(fx->s, sql, want);
}

/* Classes from the route codes and grades, names in Chinese, the route
 * code as ref, a road with neither rejected with its reason. */
static void transport_classes_from_codes_and_grades(void **state)
{
    fixture *fx = *state;
    char shp[4096];
    situ_load_opts o = {0};
    situ_load_stats st;
    load_transport(fx, "transport", 1, &o, &st, shp);
    assert_int_equal(st.rejected, 1);
    assert_string_equal(st.reasons[0].reason, "missing required field class");
    assert_string_equal(st.reasons[0].example_id, "R11");
    static const char *const want[][2] = {
        {"R1", "expressway"}, {"R2", "national"},    {"R3", "provincial"}, {"R4", "county"},
        {"R5", "township"},   {"R6", "village"},     {"R7", "service"},    {"R8", "provincial"},
        {"R9", "expressway"}, {"R10", "expressway"}, {"R12", "provincial"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        class_of_id(fx, want[i][0], want[i][1]);
    situ_assert_query(fx->s,
                      "SELECT name || '|' || ref || '|' || json_extract(extra, '$.技术等级') FROM "
                      "roads WHERE id = 'R4'",
                      "冷水滩县道|X047|三级");
    /* the manifest says what --map says: the id field, an override */
    char dir[4096], ini[8400];
    situ_load_stats all[SITU_NCOLLECTIONS];
    situ_err err = {0};
    int nfiles;
    situ_load_opts lenient = {.max_rejected_share = 1};
    snprintf(dir, sizeof dir, "%s/man", fx->dir);
    assert_int_equal(situ_test_sh(NULL, "mkdir -p '%s'", dir), 0);
    snprintf(ini, sizeof ini, "[roads]\nfile = %s\nmap = BSM=id, class:Z=county\n", shp);
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/manifest.ini");
    assert_int_equal(situ_test_write(dir, ini), 0);
    *strrchr(dir, '/') = '\0';
    assert_int_equal(situ_load_dir(fx->s, dir, &lenient, all, &nfiles, &err), 0);
    assert_int_equal(all[SITU_C_ROADS].updated, 11);
    class_of_id(fx, "R7", "county");
    class_of_id(fx, "R2", "national");
}

/* Without a .cpg, --encoding GBK reads the text; class:KEY=CLASS pairs
 * override the table (a letter and a grade); coordinates come from EPSG:4490
 * as PROJ's cs2cs puts them. */
static void transport_overrides_encoding_and_crs(void **state)
{
    fixture *fx = *state;
    char shp[4096], *out = NULL;
    const char *map[] = {"class:Z=county", "class:二级=township"};
    situ_load_opts o = {.encoding = "GBK", .map = map, .nmap = 2};
    situ_load_stats st;
    load_transport(fx, "nocpg", 0, &o, &st, shp);
    class_of_id(fx, "R7", "county");     /* Z001, by the letter */
    class_of_id(fx, "R8", "township");   /* no code, 二级 */
    class_of_id(fx, "R3", "provincial"); /* S216: the code's letter before the grade */
    situ_assert_query(fx->s, "SELECT name FROM roads WHERE id = 'R2'", "国道二零七线");
    assert_int_equal(situ_test_sh(&out, "echo '26.4201234 111.6001234' | cs2cs -f %%.9f EPSG:4490 "
                                        "EPSG:4326"),
                     0);
    double lat, lon;
    assert_int_equal(sscanf(out, "%lf %lf", &lat, &lon), 2);
    free(out);
    char *x = situ_test_query(fx->s, "SELECT ST_X(ST_StartPoint(ST_GeometryN(geom, 1))) FROM "
                                     "roads WHERE id = 'R1'");
    char *y = situ_test_query(fx->s, "SELECT ST_Y(ST_StartPoint(ST_GeometryN(geom, 1))) FROM "
                                     "roads WHERE id = 'R1'");
    situ_assert_near(atof(x), lon, 1e-7);
    situ_assert_near(atof(y), lat, 1e-7);
    free(x), free(y);
    /* a bad override is refused, naming the pair */
    const char *bad[] = {"class:Z=motorway"};
    situ_err err = {0};
    o.map = bad, o.nmap = 1, o.collection = "roads";
    assert_int_equal(situ_load_file(fx->s, shp, &o, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "class:Z=motorway"));
    /* nothing to derive a class from: refused before a feature is read */
    char gj[4096];
    snprintf(gj, sizeof gj, "%s/plain.geojson", fx->dir);
    assert_int_equal(situ_test_write(gj, "{\"type\":\"FeatureCollection\",\"features\":[{"
                                         "\"type\":\"Feature\",\"properties\":{\"id\":\"P1\","
                                         "\"name\":\"路\"},\"geometry\":{\"type\":"
                                         "\"LineString\",\"coordinates\":[[111.6,26.4],[111.7,"
                                         "26.5]]}}]}"),
                     0);
    o = (situ_load_opts){.collection = "roads"};
    assert_int_equal(situ_load_file(fx->s, gj, &o, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "plain.geojson has no class field, nor a route code"));
}

/* Neither .cpg nor --encoding: the GBK field names and text are found and
 * read as GBK, as for the other collections, and counted so. */
static void transport_undeclared_gbk(void **state)
{
    fixture *fx = *state;
    char shp[4096];
    situ_load_opts o = {0};
    situ_load_stats st;
    load_transport(fx, "undeclared", 0, &o, &st, shp);
    assert_int_equal(st.gbk, 11); /* the one rejected is not counted */
    class_of_id(fx, "R8", "provincial");
    situ_assert_query(fx->s, "SELECT name || '|' || ref FROM roads WHERE id = 'R4'",
                      "冷水滩县道|X047");
}

#define WITH_STORE(f)                                                                              \
    cmocka_unit_test_setup_teardown(f, situ_test_store_setup, situ_test_store_teardown)

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        WITH_STORE(osm_loads_the_drivable_ways),
        WITH_STORE(osm_oneway_street_is_one_way),
        WITH_STORE(osm_grade_separation_makes_no_junction),
        WITH_STORE(osm_graph_is_connected),
        WITH_STORE(osm_tags_become_fields),
        WITH_STORE(osm_loads_from_a_folder_and_its_manifest),
        WITH_STORE(transport_classes_from_codes_and_grades),
        WITH_STORE(transport_overrides_encoding_and_crs),
        WITH_STORE(transport_undeclared_gbk),
    };
    return situ_test_run("load_roads", tests, sizeof tests / sizeof tests[0], argc, argv);
}

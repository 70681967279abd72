/*
 * roads_net_test.c: layers/roads/roads_net.c. A roads collection built by
 * hand as the snapshot holds it (each LineString part an open ring) becomes
 * the graph it should: one line per part with the feature's index as id,
 * oneway reverse driven against the vertices, closed features in the base
 * set, a tagged speed driven at 0.8 of it, ferries by their duration; the
 * graph key ignores statuses only; the status set follows a new version;
 * targets come in id order.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "situ/roads.h"
#include "situ/snapshot.h"
#include "testlib.h"

#define MAXF 8
#define NF 13 /* the roads fields */

/* A roads collection of up to MAXF features, held in one struct. */
typedef struct hand {
    situ_coll c;
    situ_feature f[MAXF];
    situ_value v[MAXF][NF];
    situ_poly polys[16];
    situ_ring rings[16];
    double xy[256];
    uint32_t by_id[MAXF];
    char ids[MAXF][8];
    size_t npolys, nxy;
} hand;

static void hand_init(hand *h)
{
    memset(h, 0, sizeof *h);
    h->c.c = situ_schema_collection(SITU_C_ROADS);
    assert_int_equal(h->c.c->nfields, NF);
    h->c.feats = h->f, h->c.polys = h->polys, h->c.rings = h->rings, h->c.xy = h->xy;
    h->c.by_id = h->by_id;
}

static void set_text(hand *h, size_t i, const char *field, const char *v)
{
    int fi = situ_schema_field_index(h->c.c, field);
    assert_true(fi >= 0);
    h->v[i][fi] = (situ_value){.type = SITU_FT_TEXT, .u.s = v};
}

static void set_real(hand *h, size_t i, const char *field, double d)
{
    int fi = situ_schema_field_index(h->c.c, field);
    assert_true(fi >= 0);
    h->v[i][fi] = (situ_value){.type = SITU_FT_REAL, .u.d = d};
}

/* Adds a feature of class cls with parts given as lon/lat lists (nverts[p]
 * vertices each, concatenated in xy). */
static size_t add_road(hand *h, const char *cls, int nparts, const int *nverts, const double *xy)
{
    size_t i = h->c.n++;
    situ_feature *f = &h->f[i];
    snprintf(h->ids[i], sizeof h->ids[i], "r%zu", i);
    f->id = h->ids[i];
    f->township_code = "";
    f->values = h->v[i];
    f->poly0 = (uint32_t)h->npolys;
    f->npolys = (uint32_t)nparts;
    for (int p = 0; p < nparts; p++) {
        h->rings[h->npolys] = (situ_ring){(uint32_t)(h->nxy / 2), (uint32_t)nverts[p]};
        h->polys[h->npolys] = (situ_poly){(uint32_t)h->npolys, 1};
        h->npolys++;
        memcpy(h->xy + h->nxy, xy, 2 * (size_t)nverts[p] * sizeof *xy);
        xy += 2 * nverts[p];
        h->nxy += 2 * (size_t)nverts[p];
    }
    f->x = h->xy[2 * h->rings[f->poly0].off], f->y = h->xy[2 * h->rings[f->poly0].off + 1];
    set_text(h, i, "class", cls);
    h->by_id[i] = (uint32_t)i; /* ids r0 < r1 < ... */
    return i;
}

/* Three roads: r0 two parts (a street broken in two), r1 oneway reverse,
 * r2 closed with a tagged 50 km/h. */
static void three_roads(hand *h)
{
    hand_init(h);
    static const double p0[] = {111.60, 26.40,  111.61, 26.40,  111.612,
                                26.40,  111.62, 26.40,  111.62, 26.41};
    add_road(h, "county", 2, (int[]){2, 3}, p0);
    static const double p1[] = {111.60, 26.40, 111.60, 26.41};
    size_t r1 = add_road(h, "urban", 1, (int[]){2}, p1);
    set_text(h, r1, "oneway", "reverse");
    static const double p2[] = {111.60, 26.41, 111.62, 26.41};
    size_t r2 = add_road(h, "village", 1, (int[]){2}, p2);
    set_text(h, r2, "status", "closed");
    set_real(h, r2, "speed_kmh", 50);
}

static situ_roads_graph *graph_of(const hand *h)
{
    situ_roads_graph *g = NULL;
    situ_err err = {0};
    if (situ_roads_graph_of(&h->c, NULL, &g, &err))
        fail_msg("graph: %s", err.msg);
    return g;
}

/* The first edge of feature road (edges are per segment, in any order). */
static uint32_t edge_of(const situ_roads_graph *g, uint32_t road, size_t nth)
{
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    for (uint32_t e = 0; e < st.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        if (ed.road == road && nth-- == 0)
            return e;
    }
    fail_msg("road %u has no edge %zu", road, nth);
    return 0;
}

static void test_lines_per_part(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    situ_roads_line *lines;
    size_t n;
    situ_err err = {0};
    assert_int_equal(situ_roads_lines_of(&h.c, &lines, &n, &err), 0);
    assert_int_equal(n, 4); /* r0's two parts, r1, r2 */
    assert_int_equal(lines[0].id, 0);
    assert_int_equal(lines[1].id, 0);
    assert_int_equal(lines[1].n, 3);
    assert_int_equal(lines[0].cls, SITU_ROADS_COUNTY);
    assert_int_equal(lines[2].oneway, SITU_ROADS_REVERSE);
    assert_int_equal(lines[3].status, SITU_ROADS_CLOSED);
    assert_int_equal(lines[3].speed_tagged, 1);
    free(lines);
    situ_roads_graph *g = graph_of(&h);
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    assert_int_equal(st.edges, 1 + 2 + 1 + 1);
    assert_int_equal(st.nodes, 6); /* the two parts of r0 share no vertex */
    situ_roads_graph_free(g);
}

static void test_oneway_reverse(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    situ_roads_graph *g = graph_of(&h);
    situ_roads_edge ed;
    situ_roads_graph_edge(g, edge_of(g, 1, 0), &ed);
    assert_int_equal(ed.fwd, 0);
    assert_int_equal(ed.bwd, 1);
    situ_roads_graph_edge(g, edge_of(g, 0, 0), &ed);
    assert_true(ed.fwd && ed.bwd);
    situ_roads_graph_free(g);
}

static void test_tagged_speed_and_ferry(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    static const double pf[] = {111.63, 26.40, 111.64, 26.40};
    size_t rf = add_road(&h, "ferry", 1, (int[]){2}, pf);
    set_real(&h, rf, "duration_s", 600);
    situ_roads_graph *g = graph_of(&h);
    situ_roads_edge ed;
    uint32_t e = edge_of(g, 2, 0);
    situ_roads_graph_edge(g, e, &ed);
    situ_assert_near(ed.time_s, situ_roads_edge_m(g, e) / (50 * SITU_ROADS_TAGGED_FACTOR / 3.6),
                     0.01);
    situ_roads_graph_edge(g, edge_of(g, (uint32_t)rf, 0), &ed);
    situ_assert_near(ed.time_s, 600, 0.01);
    situ_roads_config cfg;
    situ_roads_config_init(&cfg);
    e = edge_of(g, 1, 0); /* urban, untagged: the class table */
    situ_roads_graph_edge(g, e, &ed);
    situ_assert_near(ed.time_s, situ_roads_edge_m(g, e) / (cfg.class_kmh[SITU_ROADS_URBAN] / 3.6),
                     0.01);
    situ_roads_graph_free(g);
}

static void test_closed_status(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    situ_roads_graph *g = graph_of(&h);
    situ_roads_closures *base = NULL, *of = NULL;
    situ_err err = {0};
    assert_int_equal(situ_roads_closures_new(g, &base, &err), 0);
    assert_int_equal(situ_roads_closures_count(base), 1);
    assert_true(situ_roads_closures_is_closed(base, edge_of(g, 2, 0)));
    uint64_t key = situ_roads_graph_key(&h.c);
    /* a new version: r2 open again, r0 closed (both parts): same graph */
    set_text(&h, 2, "status", "open");
    set_text(&h, 0, "status", "closed");
    assert_true(situ_roads_graph_key(&h.c) == key);
    assert_int_equal(situ_roads_closures_of(g, &h.c, &of, &err), 0);
    assert_int_equal(situ_roads_closures_count(of), 3);
    assert_false(situ_roads_closures_is_closed(of, edge_of(g, 2, 0)));
    assert_true(situ_roads_closures_is_closed(of, edge_of(g, 0, 2)));
    situ_roads_closures_release(of);
    situ_roads_closures_release(base);
    /* what the graph is built from changes the key */
    set_text(&h, 1, "oneway", "yes");
    assert_true(situ_roads_graph_key(&h.c) != key);
    set_text(&h, 1, "oneway", "reverse");
    assert_true(situ_roads_graph_key(&h.c) == key);
    h.xy[3] += 1e-6;
    assert_true(situ_roads_graph_key(&h.c) != key);
    situ_roads_graph_free(g);
}

static void test_targets_in_id_order(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    situ_roads_graph *g = graph_of(&h);
    /* points: two features; the one with the smaller id stored second */
    hand p;
    hand_init(&p);
    static const double a[] = {111.605, 26.4001, 111.605, 26.4001};
    static const double b[] = {111.619, 26.4001, 111.619, 26.4001};
    add_road(&p, "county", 1, (int[]){2}, a);
    add_road(&p, "county", 1, (int[]){2}, b);
    p.by_id[0] = 1, p.by_id[1] = 0;
    situ_roads_targets *t = NULL;
    situ_err err = {0};
    assert_int_equal(situ_roads_targets_of(g, NULL, &p.c, 1000, &t, &err), 0);
    situ_roads_place pl;
    assert_int_equal(situ_roads_targets_place(t, 0, &pl), 0);
    situ_assert_near(pl.lon, 111.619, 1e-6); /* target 0 = feature by_id[0] = 1 */
    situ_roads_targets_free(t);
    situ_roads_graph_free(g);
}

static void test_unknown_class(void **state)
{
    (void)state;
    hand h;
    three_roads(&h);
    set_text(&h, 1, "class", "motorway");
    situ_roads_graph *g = NULL;
    situ_err err = {0};
    assert_int_equal(situ_roads_graph_of(&h.c, NULL, &g, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "r1"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_lines_per_part),         cmocka_unit_test(test_oneway_reverse),
    cmocka_unit_test(test_tagged_speed_and_ferry), cmocka_unit_test(test_closed_status),
    cmocka_unit_test(test_targets_in_id_order),    cmocka_unit_test(test_unknown_class),
};

SITU_TEST_MAIN("roads_net", tests)

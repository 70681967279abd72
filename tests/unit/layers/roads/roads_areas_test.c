/*
 * roads_areas_test.c: layers/roads/roads_areas.c. Closure areas (polygons
 * and circles) laid on a closure set over a small hand-made network: two
 * bank roads and a bridge, one road in two parts, one closed by its
 * status. Per area the edges and roads it touches, whatever else closed
 * them; the edges changed; refused areas skipped and named.
 */
#include <string.h>

#include "situ/roads.h"
#include "testlib.h"

static const double west[] = {111.600, 26.440, 111.600, 26.445, 111.600, 26.450};
static const double east[] = {111.610, 26.440, 111.610, 26.445, 111.610, 26.450};
static const double bridge[] = {111.600, 26.445, 111.605, 26.445, 111.610, 26.445};
static const double east2[] = {111.610, 26.450, 111.615, 26.450}; /* road 11's second part */
static const double shut[] = {111.620, 26.440, 111.620, 26.450};  /* closed by its status */

static situ_roads_graph *network(void)
{
    const situ_roads_line lines[] = {
        {west, 3, 10, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {east, 3, 11, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {bridge, 3, 12, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {east2, 2, 11, SITU_ROADS_COUNTY, SITU_ROADS_TWOWAY, SITU_ROADS_OPEN, 0, 0, 0},
        {shut, 2, 13, SITU_ROADS_VILLAGE, SITU_ROADS_TWOWAY, SITU_ROADS_CLOSED, 0, 0, 0},
    };
    situ_roads_graph *g = NULL;
    situ_err err;
    if (situ_roads_graph_new(lines, sizeof lines / sizeof lines[0], NULL, &g, &err))
        fail_msg("graph: %s", err.msg);
    return g;
}

/* Edges of road id closed in c. */
static int closed_edges_of(const situ_roads_graph *g, const situ_roads_closures *c, uint32_t id)
{
    situ_roads_stats st;
    situ_roads_graph_stats(g, &st);
    int n = 0;
    for (uint32_t e = 0; e < st.edges; e++) {
        situ_roads_edge ed;
        situ_roads_graph_edge(g, e, &ed);
        n += ed.road == id && situ_roads_closures_is_closed(c, e);
    }
    return n;
}

static void areas_close_what_they_touch_and_say_so(void **state)
{
    (void)state;
    situ_roads_graph *g = network();
    size_t nbox, nbad;
    unsigned char *box = situ_test_wkb("MULTIPOLYGON(((111.604 26.444,111.606 26.444,111.606 "
                                       "26.446,111.604 26.446,111.604 26.444)))",
                                       &nbox);
    unsigned char *line = situ_test_wkb("LINESTRING(111.6 26.44,111.61 26.45)", &nbad);
    const situ_roads_area areas[] = {
        {box, nbox, 0, 0, 0},           /* 0: the bridge's two edges */
        {NULL, 0, 111.610, 26.450, 50}, /* 1: road 11's two parts meet here */
        {box, nbox, 0, 0, 0},           /* 2: the bridge again */
        {line, nbad, 0, 0, 0},          /* 3: not a polygon */
        {NULL, 0, 111.610, 26.450, -1}, /* 4: no radius */
        {NULL, 0, 111.620, 26.445, 30}, /* 5: the closed road's edge */
        {NULL, 0, 111.700, 26.445, 30}, /* 6: nowhere near a road */
    };
    situ_roads_area_hit hits[7];
    situ_roads_closures *c;
    situ_err err = {0};
    assert_int_equal(situ_roads_closures_new(g, &c, &err), 0);
    assert_int_equal(situ_roads_closures_count(c), 1);
    GEOSContextHandle_t h = GEOS_init_r();
    assert_int_equal(situ_roads_closures_set_areas(c, g, h, areas, 7, hits, &err), 4);
    GEOS_finish_r(h);
    assert_int_equal(hits[0].edges, 2);
    assert_int_equal(hits[0].roads, 1);
    assert_int_equal(hits[1].edges, 2);
    assert_int_equal(hits[1].roads, 1); /* two parts, one road */
    assert_int_equal(hits[2].edges, 2); /* counted though area 0 closed them */
    assert_true(hits[3].edges < 0);
    assert_true(hits[4].edges < 0);
    assert_int_equal(hits[5].edges, 1); /* counted though its status closed it */
    assert_int_equal(hits[6].edges, 0);
    assert_int_equal(hits[6].roads, 0);
    assert_non_null(strstr(err.msg, "area 3"));
    assert_int_equal(situ_roads_closures_count(c), 5);
    assert_int_equal(closed_edges_of(g, c, 12), 2);
    assert_int_equal(closed_edges_of(g, c, 11), 2);
    assert_int_equal(closed_edges_of(g, c, 10), 0);
    /* nothing to lay changes nothing */
    assert_int_equal(situ_roads_closures_set_areas(c, g, NULL, NULL, 0, NULL, &err), 0);
    situ_roads_closures_release(c);
    situ_roads_graph_free(g);
    free(box);
    free(line);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(areas_close_what_they_touch_and_say_so),
};

SITU_TEST_MAIN("roads_areas", tests)

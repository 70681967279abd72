/* snapshot_test.c: tests layers/snapshot/snapshot*.c (and through it query.c,
 * geojson.c, index.c) on a real SpatiaLite file with hand-made features. */
#include "testlib.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "situ/geojson.h"
#include "situ/query.h"
#include "situ/snapshot.h"

static char *dir;
static situ_snapshot *snap;

static void put(situ_store *s, const char *coll, const char *id, const char *town, const char *wkt,
                const char *name, const char *kind)
{
    const situ_collection *c = situ_schema_find(coll);
    situ_value v[16] = {0};
    for (int i = 0; i < c->nfields; i++)
        if (c->fields[i].flags & SITU_FF_REQUIRED)
            v[i] = (situ_value){SITU_FT_TEXT, {.s = name}};
    int k = situ_schema_field_index(c, "kind");
    if (k >= 0 && kind)
        v[k] = (situ_value){SITU_FT_TEXT, {.s = kind}};
    int g = situ_schema_field_index(c, "grade");
    if (g >= 0)
        v[g] = (situ_value){SITU_FT_INT, {.i = 2}};
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    assert_non_null(wkb);
    situ_feature_in f = {.id = id, .township_code = town, .wkb = wkb, .nwkb = n, .values = v};
    situ_err err = {0};
    int rc = situ_store_upsert(s, c, &f, NULL, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    free(wkb);
}

static int setup(void **state)
{
    (void)state;
    dir = situ_test_tmpdir("snap");
    char path[4096];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    situ_store *s;
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &s, &err), 0);
    /* two townships sharing the border x = 1; the second has a hole */
    put(s, "townships", "B", "B",
        "POLYGON((1 0,2 0,2 1,1 1,1 0),(1.4 0.4,1.6 0.4,1.6 0.6,1.4 0.6,1.4 0.4))", "乙镇", "town");
    put(s, "townships", "A", "A", "POLYGON((0 0,0 1,1 1,1 0,0 0))", "甲镇", "town"); /* CW input */
    for (int i = 0; i < 300; i++) {
        char id[16], wkt[64];
        snprintf(id, sizeof id, "H%03d", i);
        snprintf(wkt, sizeof wkt, "POINT(%g %g)", (i % 20) * 0.1, (i / 20) * 0.07);
        put(s, "hazard_sources", id, i % 2 ? "A" : "B", wkt, "源", NULL);
    }
    /* roads: a LineString (promoted by the store) and a MultiLineString whose
     * second part is a clockwise loop, which must stay as it was given */
    put(s, "roads", "L1", "A", "LINESTRING(0.9 0.5,0.1 0.5,0.1 0.9)", "national", NULL);
    put(s, "roads", "L2", "B",
        "MULTILINESTRING((1.2 0.2,1.8 0.2),(1.2 0.8,1.8 0.8,1.8 0.3,1.2 0.8))", "county", NULL);
    situ_store_close(s);
    assert_int_equal(situ_store_open(path, SITU_STORE_READONLY, &s, &err), 0);
    assert_int_equal(situ_snapshot_load(s, &snap, &err), 0);
    situ_store_close(s);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_snapshot_release(snap);
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

static void rings_are_closed_and_oriented(void **state)
{
    (void)state;
    const situ_coll *t = snap->colls[SITU_C_TOWNSHIPS];
    assert_int_equal(t->n, 2);
    for (size_t i = 0; i < t->n; i++) {
        const situ_feature *f = &t->feats[i];
        for (uint32_t r = 0; r < t->polys[f->poly0].nrings; r++) {
            const situ_ring *ring = &t->rings[t->polys[f->poly0].ring0 + r];
            const double *xy = t->xy + 2 * (size_t)ring->off;
            double a = 0;
            for (uint32_t k = 0; k + 1 < ring->n; k++)
                a += xy[2 * k] * xy[2 * k + 3] - xy[2 * k + 2] * xy[2 * k + 1];
            assert_true(r == 0 ? a > 0 : a < 0);
            assert_true(xy[0] == xy[2 * ring->n - 2] && xy[1] == xy[2 * ring->n - 1]);
        }
    }
}

static void find_and_township_ranges(void **state)
{
    (void)state;
    const situ_coll *h = snap->colls[SITU_C_HAZARD_SOURCES];
    assert_int_equal(h->n, 300);
    long i = situ_coll_find(h, "H123");
    assert_true(i >= 0);
    assert_string_equal(h->feats[i].id, "H123");
    assert_int_equal(situ_coll_find(h, "H999"), -1);
    size_t first, end;
    situ_coll_township_range(h, "A", &first, &end);
    assert_int_equal(end - first, 150);
    for (size_t k = first; k < end; k++)
        assert_string_equal(h->feats[k].township_code, "A");
    situ_coll_township_range(h, "Z", &first, &end);
    assert_int_equal(end - first, 0);
}

static void locate_respects_holes_and_borders(void **state)
{
    (void)state;
    const situ_coll *t = snap->colls[SITU_C_TOWNSHIPS];
    assert_string_equal(t->feats[situ_snapshot_locate(snap, 0.5, 0.5)].id, "A");
    assert_string_equal(t->feats[situ_snapshot_locate(snap, 1.2, 0.5)].id, "B");
    assert_int_equal(situ_snapshot_locate(snap, 1.5, 0.5), -1); /* in B's hole */
    assert_int_equal(situ_snapshot_locate(snap, 5, 5), -1);
    /* the shared border goes to the smaller code, whichever is found first */
    assert_string_equal(t->feats[situ_snapshot_locate(snap, 1.0, 0.5)].id, "A");
    assert_string_equal(situ_snapshot_township_name(snap, "B"), "乙镇");
}

static void query_bbox_matches_brute_force(void **state)
{
    (void)state;
    const situ_coll *h = snap->colls[SITU_C_HAZARD_SOURCES];
    double boxes[][4] = {{0.25, 0.1, 0.75, 0.5}, {0, 0, 2, 2}, {1.95, 1.0, 3, 3}, {5, 5, 6, 6}};
    for (size_t b = 0; b < sizeof boxes / sizeof boxes[0]; b++) {
        situ_query q;
        situ_query_init(&q, h->c);
        char text[128];
        snprintf(text, sizeof text, "%g,%g,%g,%g", boxes[b][0], boxes[b][1], boxes[b][2],
                 boxes[b][3]);
        assert_int_equal(situ_query_set(&q, "bbox", text, NULL), 0);
        uint32_t *idx;
        size_t n, matched, want = 0;
        assert_int_equal(situ_query_run(&q, h, &idx, &n, &matched, NULL), 0);
        for (size_t i = 0; i < h->n; i++)
            want += h->feats[i].x >= boxes[b][0] && h->feats[i].x <= boxes[b][2] &&
                    h->feats[i].y >= boxes[b][1] && h->feats[i].y <= boxes[b][3];
        assert_int_equal(matched, want);
        assert_int_equal(n, want);
        for (size_t i = 1; i < n; i++)
            assert_true(idx[i - 1] < idx[i]); /* collection order, for stable paging */
        free(idx);
    }
}

static void query_paging_and_filters(void **state)
{
    (void)state;
    const situ_coll *h = snap->colls[SITU_C_HAZARD_SOURCES];
    situ_query q;
    situ_query_init(&q, h->c);
    assert_int_equal(situ_query_set(&q, "township_code", "B", NULL), 0);
    assert_int_equal(situ_query_set(&q, "grade", "2", NULL), 0);
    q.offset = 140, q.limit = 100;
    uint32_t *idx;
    size_t n, matched;
    assert_int_equal(situ_query_run(&q, h, &idx, &n, &matched, NULL), 0);
    assert_int_equal(matched, 150);
    assert_int_equal(n, 10);
    free(idx);
    situ_err err = {0};
    assert_int_equal(situ_query_set(&q, "grade", "two", &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "grade"));
    assert_int_equal(situ_query_set(&q, "industry", "unicorns", &err), SITU_EINVAL);
    assert_int_equal(situ_query_set(&q, "name", "x", &err), SITU_ENOTFOUND); /* not filterable */
    assert_int_equal(situ_query_set(&q, "bbox", "1,1,0,0", &err), SITU_EINVAL);
}

static void polygon_meets_box_exactly(void **state)
{
    (void)state;
    const situ_coll *t = snap->colls[SITU_C_TOWNSHIPS];
    const situ_feature *b = &t->feats[situ_coll_find(t, "B")];
    double inside_hole[4] = {1.45, 0.45, 1.55, 0.55};
    double crossing[4] = {1.5, 0.5, 3, 0.55};
    double around[4] = {-1, -1, 3, 3};
    double outside_near[4] = {2.1, 0, 3, 1};
    assert_false(situ_feature_meets_box(t, b, inside_hole));
    assert_true(situ_feature_meets_box(t, b, crossing));
    assert_true(situ_feature_meets_box(t, b, around));
    assert_false(situ_feature_meets_box(t, b, outside_near));
}

static void geojson_golden(void **state)
{
    (void)state;
    const situ_coll *t = snap->colls[SITU_C_TOWNSHIPS];
    situ_buf b;
    situ_buf_init(&b);
    situ_geojson_geometry(&b, t, &t->feats[situ_coll_find(t, "A")], NULL);
    assert_string_equal(b.p, "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[0,0],[1,0],[1,1],"
                             "[0,1],[0,0]]]]}");
    b.n = 0;
    const situ_coll *h = snap->colls[SITU_C_HAZARD_SOURCES];
    situ_geojson_feature(&b, h, &h->feats[situ_coll_find(h, "H021")], NULL);
    assert_non_null(strstr(b.p, "\"coordinates\":[0.1,0.07]"));
    assert_non_null(strstr(b.p, "\"grade\":2"));
    assert_non_null(strstr(b.p, "\"id\":\"H021\""));
    situ_buf_dispose(&b);
}

/* The test's store, opened for writing. */
static situ_store *open_rw(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    situ_store *s;
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, 0, &s, &err), 0);
    return s;
}

/* Asserts that part `part` of road f holds exactly the n points of want. */
static void assert_line(const situ_coll *c, const situ_feature *f, uint32_t part,
                        const double *want, uint32_t n)
{
    const situ_poly *p = &c->polys[f->poly0 + part];
    assert_int_equal(p->nrings, 1);
    assert_int_equal(c->rings[p->ring0].n, n);
    assert_memory_equal(c->xy + 2 * (size_t)c->rings[p->ring0].off, want, 2 * n * sizeof(double));
}

static void lines_keep_parts_order_and_openness(void **state)
{
    (void)state;
    const situ_coll *r = snap->colls[SITU_C_ROADS];
    assert_int_equal(r->n, 2);
    const situ_feature *l1 = &r->feats[situ_coll_find(r, "L1")];
    const situ_feature *l2 = &r->feats[situ_coll_find(r, "L2")];
    static const double one[] = {0.9, 0.5, 0.1, 0.5, 0.1, 0.9};
    static const double two_a[] = {1.2, 0.2, 1.8, 0.2};
    static const double two_b[] = {1.2, 0.8, 1.8, 0.8, 1.8, 0.3, 1.2, 0.8};
    assert_int_equal(l1->npolys, 1);
    assert_line(r, l1, 0, one, 3);
    assert_int_equal(l2->npolys, 2);
    assert_line(r, l2, 0, two_a, 2);
    assert_line(r, l2, 1, two_b, 4);
    /* the point is the middle vertex of the first part, the box the lines' */
    assert_true(l1->x == 0.1 && l1->y == 0.5);
    assert_true(l2->x == 1.8 && l2->y == 0.2);
    double box2[4] = {1.2, 0.2, 1.8, 0.8};
    assert_memory_equal(l2->bbox, box2, sizeof box2);
    /* a line encloses nothing; a box meets it only where its segments pass */
    assert_false(situ_coll_contains(r, l1, 0.5, 0.5));
    assert_false(situ_coll_contains(r, l2, 1.5, 0.6));
    double on_segment[4] = {0.4, 0.45, 0.6, 0.55}, beside[4] = {0.3, 0.6, 0.5, 0.8};
    assert_true(situ_feature_meets_box(r, l1, on_segment));
    assert_false(situ_feature_meets_box(r, l1, beside));
    situ_query q;
    situ_query_init(&q, r->c);
    assert_int_equal(situ_query_set(&q, "bbox", "1.3,0.5,1.4,0.9", NULL), 0);
    uint32_t *idx;
    size_t n, matched;
    assert_int_equal(situ_query_run(&q, r, &idx, &n, &matched, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(r->feats[idx[0]].id, "L2");
    free(idx);
    situ_buf b;
    situ_buf_init(&b);
    situ_geojson_geometry(&b, r, l2, NULL);
    assert_string_equal(b.p, "{\"type\":\"MultiLineString\",\"coordinates\":[[[1.2,0.2],[1.8,"
                             "0.2]],[[1.2,0.8],[1.8,0.8],[1.8,0.3],[1.2,0.8]]]}");
    b.n = 0;
    situ_geojson_geometry(&b, r, l1, NULL); /* one part: still a MultiLineString */
    assert_string_equal(b.p, "{\"type\":\"MultiLineString\",\"coordinates\":[[[0.9,0.5],[0.1,"
                             "0.5],[0.1,0.9]]]}");
    situ_buf_dispose(&b);
}

/* A changed road read again by situ_coll_update, the other copied: equal to
 * a whole load, parts and order kept. */
static void line_updates_equal_a_whole_load(void **state)
{
    (void)state;
    situ_store *s = open_rw();
    situ_err err = {0};
    put(s, "roads", "L1", "A", "MULTILINESTRING((0.2 0.2,0.3 0.3,0.4 0.2),(0.5 0.5,0.6 0.6))",
        "township", NULL);
    const char *ids[] = {"L1"};
    situ_coll *next, *cold;
    assert_int_equal(situ_coll_update(s, snap->colls[SITU_C_ROADS], ids, 1, &next, &err), 0);
    assert_int_equal(situ_coll_load(s, SITU_C_ROADS, &cold, &err), 0);
    situ_test_same_coll(next, cold);
    static const double moved[] = {0.2, 0.2, 0.3, 0.3, 0.4, 0.2};
    static const double loop[] = {1.2, 0.8, 1.8, 0.8, 1.8, 0.3, 1.2, 0.8};
    assert_line(next, &next->feats[situ_coll_find(next, "L1")], 0, moved, 3);
    assert_line(next, &next->feats[situ_coll_find(next, "L2")], 1, loop, 4);
    situ_coll_release(cold);
    situ_coll_release(next);
    put(s, "roads", "L1", "A", "LINESTRING(0.9 0.5,0.1 0.5,0.1 0.9)", "national", NULL);
    situ_store_close(s);
}

/* Random upserts (new ids, moves between townships, polygons with holes)
 * and deletions, 40 rounds of 6: each next version made by
 * situ_coll_update from the last equals a whole situ_coll_load. */
static void updates_equal_a_whole_load(void **state)
{
    (void)state;
    situ_store *s = open_rw();
    situ_err err = {0};
    static const char *const colls[] = {"hazard_sources", "risk_zones"};
    static const char *const towns[] = {"A", "B", "", "AB"};
    uint64_t rng = 42;
#define RAND(n) (((rng = rng * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % (n))
    situ_coll *prev[2];
    for (int c = 0; c < 2; c++)
        assert_int_equal(situ_coll_load(s, situ_schema_find(colls[c])->cid, &prev[c], &err), 0);
    for (int round = 0; round < 40; round++) {
        char ids[2][6][16];
        const char *idp[2][6];
        for (int k = 0; k < 6; k++) {
            int c = (int)RAND(2);
            char *id = ids[c][k];
            snprintf(id, 16, "%c%03d", c ? 'Z' : 'H', (int)RAND(320));
            idp[c][k] = id;
            idp[!c][k] = "none";
            if (RAND(4) == 0) {
                char sql[128];
                snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = '%s'", colls[c], id);
                assert_int_equal(situ_store_exec(s, sql, &err), 0);
                continue;
            }
            double x = (double)RAND(200) / 100, y = (double)RAND(100) / 100;
            char wkt[256];
            if (c)
                snprintf(wkt, sizeof wkt,
                         "POLYGON((%g %g,%g %g,%g %g,%g %g,%g %g),(%g %g,%g %g,%g %g,%g %g))", x, y,
                         x + 0.1, y, x + 0.1, y + 0.1, x, y + 0.1, x, y, x + 0.04, y + 0.04,
                         x + 0.04, y + 0.06, x + 0.06, y + 0.06, x + 0.04, y + 0.04);
            else
                snprintf(wkt, sizeof wkt, "POINT(%g %g)", x, y);
            put(s, colls[c], id, towns[RAND(4)], wkt, round % 2 ? "甲" : "乙", NULL);
        }
        for (int c = 0; c < 2; c++) {
            situ_coll *next, *cold;
            assert_int_equal(situ_coll_update(s, prev[c], idp[c], 6, &next, &err), 0);
            assert_int_equal(situ_coll_load(s, prev[c]->c->cid, &cold, &err), 0);
            situ_test_same_coll(next, cold);
            assert_int_equal(situ_coll_digest_check(next, NULL), 0);
            situ_coll_release(cold);
            situ_coll_release(prev[c]);
            prev[c] = next;
        }
    }
#undef RAND
    situ_coll_release(prev[0]), situ_coll_release(prev[1]);
    situ_store_close(s);
}

/* A depot with items (code, quantity) of the vocabulary, as put() writes
 * other features. */
static void put_depot(situ_store *s, const char *id, const char *wkt, const char *name,
                      const situ_item_qty *items, int nitems)
{
    const situ_collection *c = situ_schema_collection(SITU_C_RESOURCES);
    situ_value v[16] = {0};
    for (int i = 0; i < c->nfields; i++)
        if (c->fields[i].flags & SITU_FF_REQUIRED)
            v[i] = (situ_value){SITU_FT_TEXT, {.s = name}};
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    situ_feature_in f = {.id = id,
                         .township_code = "A",
                         .wkb = wkb,
                         .nwkb = n,
                         .values = v,
                         .items = items,
                         .nitems = nitems};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    free(wkb);
}

/* The digest an update keeps (the previous one less the hashes of the
 * features read again, plus theirs) equals the digest recomputed from
 * scratch and a whole load's, through 30 rounds of random inserts, updates
 * (names, places, items) and deletions of depots and risk zones; each round
 * changes it, and the snapshot's digest follows. */
static void kept_digest_equals_recomputed(void **state)
{
    (void)state;
    situ_store *s = open_rw();
    situ_err err = {0};
    static const situ_coll_id cids[] = {SITU_C_RESOURCES, SITU_C_RISK_ZONES};
    uint64_t rng = 7;
#define RAND(n) (((rng = rng * 6364136223846793005ULL + 1442695040888963407ULL) >> 33) % (n))
    situ_snapshot *base, *cold;
    assert_int_equal(situ_snapshot_load(s, &base, &err), 0);
    situ_coll *prev[2] = {situ_coll_retain(base->colls[cids[0]]),
                          situ_coll_retain(base->colls[cids[1]])};
    for (int round = 0; round < 30; round++) {
        char ids[5][16], name[32], wkt[256];
        const char *idp[5];
        int c = round % 2;
        snprintf(name, sizeof name, "round %d", round);
        for (int k = 0; k < 5; k++) {
            snprintf(ids[k], 16, "%c%02d", c ? 'Z' : 'D', (int)RAND(12));
            idp[k] = ids[k];
            double x = (double)RAND(200) / 100, y = (double)RAND(100) / 100;
            if (k == 4 && RAND(2)) { /* a deletion (of a feature that may not be there) */
                char sql[128];
                snprintf(sql, sizeof sql, "DELETE FROM %s WHERE id = '%s'",
                         situ_schema_collection(cids[c])->id, ids[k]);
                assert_int_equal(situ_store_exec(s, sql, &err), 0);
            } else if (c) {
                snprintf(wkt, sizeof wkt, "POLYGON((%g %g,%g %g,%g %g,%g %g))", x, y, x + 0.1, y,
                         x + 0.1, y + 0.1, x, y);
                put(s, "risk_zones", ids[k], RAND(2) ? "A" : "B", wkt, name, NULL);
            } else {
                situ_item_qty items[] = {{situ_schema_item(0)->code, (double)RAND(500), NULL},
                                         {situ_schema_item(1)->code, (double)round, NULL}};
                snprintf(wkt, sizeof wkt, "POINT(%g %g)", x, y);
                put_depot(s, ids[k], wkt, name, items, 1 + (int)RAND(2));
            }
        }
        situ_coll *next, *whole;
        situ_digest recomputed;
        assert_int_equal(situ_coll_update(s, prev[c], idp, 5, &next, &err), 0);
        assert_int_equal(situ_coll_digest_check(next, &recomputed), 0);
        assert_true(next->digest.lo == recomputed.lo && next->digest.hi == recomputed.hi);
        assert_false(next->digest.lo == prev[c]->digest.lo &&
                     next->digest.hi == prev[c]->digest.hi);
        assert_int_equal(situ_coll_load(s, cids[c], &whole, &err), 0);
        assert_memory_equal(&next->digest, &whole->digest, sizeof next->digest);
        situ_coll_release(whole);
        situ_coll_release(prev[c]);
        prev[c] = next;
    }
#undef RAND
    situ_snapshot *inc = situ_snapshot_with(base, prev[0]);
    situ_snapshot *both = situ_snapshot_with(inc, prev[1]);
    assert_int_equal(situ_snapshot_load(s, &cold, &err), 0);
    char a[SITU_DIGEST_HEX], b[SITU_DIGEST_HEX], old[SITU_DIGEST_HEX];
    situ_snapshot_digest(both, a), situ_snapshot_digest(cold, b), situ_snapshot_digest(base, old);
    assert_int_equal(strlen(a), 32);
    assert_string_equal(a, b);
    assert_string_not_equal(a, old);
    situ_snapshot_release(cold), situ_snapshot_release(both), situ_snapshot_release(inc);
    situ_snapshot_release(base);
    situ_coll_release(prev[0]), situ_coll_release(prev[1]);
    assert_int_equal(situ_store_exec(s, "DELETE FROM risk_zones WHERE id LIKE 'Z__'", &err), 0);
    assert_int_equal(situ_store_exec(s, "DELETE FROM resources WHERE id LIKE 'D__'", &err), 0);
    situ_store_close(s);
}

/* 200 feed updates of one feature each in a collection of 300: the features
 * not named keep pointing at the strings and values of the version before
 * (all of them, or, when that version's strings hold more left over than
 * used, none: copied afresh), which stay readable after that version is
 * released (ASan), and the memory a version holds stays within about twice
 * a whole load's while equal to a whole load at the end. */
static void updates_share_unchanged_strings(void **state)
{
    (void)state;
    situ_store *s = open_rw();
    situ_err err = {0};
    char id[16], name[32];
    assert_int_equal(situ_store_begin(s, &err), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "S%03d", i);
        put(s, "hazard_sources", id, i % 3 ? "A" : "B", "POINT(0.5 0.5)", "起点", NULL);
    }
    assert_int_equal(situ_store_commit(s, &err), 0);
    situ_coll *prev, *whole;
    assert_int_equal(situ_coll_load(s, SITU_C_HAZARD_SOURCES, &prev, &err), 0);
    size_t bound = 2 * prev->bytes + 256 * 1024, shared = 0, copied = 0;
    uint64_t rng = 3;
    for (int round = 0; round < 200; round++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        snprintf(id, sizeof id, "S%03d", (int)((rng >> 33) % 300));
        snprintf(name, sizeof name, "round %d", round);
        put(s, "hazard_sources", id, round % 2 ? "A" : "B", "POINT(0.6 0.4)", name, NULL);
        const char *ids[] = {id};
        situ_coll *next;
        assert_int_equal(situ_coll_update(s, prev, ids, 1, &next, &err), 0);
        size_t same = 0, copies = 0;
        for (size_t i = 0; i < next->n; i++) {
            if (next->base_of[i] == SITU_COLL_NEW)
                continue;
            const situ_feature *f = &next->feats[i], *o = &prev->feats[next->base_of[i]];
            int one = f->id == o->id && f->values == o->values && f->extra == o->extra;
            same += (size_t)one, copies += (size_t)!one;
            assert_string_equal(f->id, o->id);
        }
        assert_true(same == 0 || copies == 0);
        shared += same > 0, copied += copies > 0;
        assert_true(next->bytes < bound);
        situ_coll_release(prev);
        prev = next;
    }
    assert_true(shared >= 150);
    assert_true(copied >= 1);
    assert_int_equal(situ_coll_load(s, SITU_C_HAZARD_SOURCES, &whole, &err), 0);
    situ_test_same_coll(prev, whole);
    assert_int_equal(situ_coll_digest_check(prev, NULL), 0);
    situ_coll_release(whole), situ_coll_release(prev);
    assert_int_equal(situ_store_exec(s, "DELETE FROM hazard_sources WHERE id LIKE 'S___'", &err),
                     0);
    situ_store_close(s);
}

/* Features are in (township_code, id) order as strcmp has it (bytes: " " <
 * "B" < "_" < "a"), whatever order the store returns rows in: an ORDER BY
 * would follow the engine's collation, on PostgreSQL the database's locale. */
static void features_are_in_strcmp_order(void **state)
{
    (void)state;
    situ_store *s = open_rw();
    situ_err err = {0};
    static const char *const ids[] = {"q_b", "qa", "qB", "Q-a", "q b"};
    for (int i = 0; i < 5; i++)
        put(s, "hazard_sources", ids[i], i % 2 ? "A" : "", "POINT(0.5 0.5)", "源", NULL);
    situ_coll *c;
    assert_int_equal(situ_coll_load(s, SITU_C_HAZARD_SOURCES, &c, &err), 0);
    /* among township "": "q b" < "qB" < "q_b", whatever else is there */
    long at[3] = {situ_coll_find(c, "q b"), situ_coll_find(c, "qB"), situ_coll_find(c, "q_b")};
    assert_true(at[0] >= 0 && at[0] < at[1] && at[1] < at[2]);
    for (size_t i = 1; i < c->n; i++) {
        const situ_feature *a = &c->feats[i - 1], *b = &c->feats[i];
        int k = strcmp(a->township_code, b->township_code);
        assert_true(k < 0 || (k == 0 && strcmp(a->id, b->id) < 0));
    }
    situ_coll_release(c);
    assert_int_equal(situ_store_exec(s, "DELETE FROM hazard_sources WHERE id NOT LIKE 'H%'", &err),
                     0);
    situ_store_close(s);
}

/* The snapshot file (snapshot_file.c) through situ_snapshot_open three
 * times on one store: built and written; read back, mapped at the address
 * it was written for (nothing moved); read back again while that one still
 * holds the address, so mapped elsewhere with every pointer moved, and used
 * after the first is gone. Each time the collections the store builds; and
 * the file written again from the same store is the same bytes. */
static void file_read_back_mapped_or_moved(void **state)
{
    (void)state;
    char path[4096], file[4200], note[512];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    snprintf(file, sizeof file, "%s.snap", path);
    situ_store *s;
    situ_err err = {0};
    situ_snapshot *cold, *mapped, *moved, *again;
    assert_int_equal(situ_store_open(path, 0, &s, &err), 0);
    assert_int_equal(situ_snapshot_open(s, path, &cold, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "then written"));
    size_t n1, n2;
    char *bytes1 = situ_test_slurp(file, &n1);
    assert_non_null(bytes1);
    assert_int_equal(situ_snapshot_open(s, path, &mapped, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "read back"));
    assert_int_equal(situ_snapshot_open(s, path, &moved, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "read back"));
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_test_same_coll(cold->colls[i], mapped->colls[i]);
    situ_snapshot_release(mapped); /* its mapping goes: moved must not point into it */
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_test_same_coll(cold->colls[i], moved->colls[i]);
        assert_int_equal(situ_coll_digest_check(moved->colls[i], NULL), 0);
    }
    assert_int_equal(unlink(file), 0);
    assert_int_equal(situ_snapshot_open(s, path, &again, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "then written"));
    char *bytes2 = situ_test_slurp(file, &n2);
    assert_non_null(bytes2);
    assert_int_equal(n1, n2);
    assert_memory_equal(bytes1, bytes2, n1);
    free(bytes1), free(bytes2);
    situ_snapshot_release(cold), situ_snapshot_release(moved), situ_snapshot_release(again);
    situ_store_close(s);
}

/* A point strictly inside c's extent, at fractions fx, fy of it. */
static void inside_wkt(const situ_coll *c, double fx, double fy, char *wkt, size_t n)
{
    snprintf(wkt, n, "POINT(%.17g %.17g)", c->extent[0] + fx * (c->extent[2] - c->extent[0]),
             c->extent[1] + fy * (c->extent[3] - c->extent[1]));
}

/* A collection read back from the snapshot file has an R-tree without
 * Hilbert keys: situ_coll_update from it (two points put in, inside the
 * extent) computes them from its leaves and equals a whole load, R-tree
 * bytes and keys included; the next update (one of them gone, the other
 * moved) merges into the keys that version has, and equals a whole load. */
static void updates_from_a_read_back_file_equal_a_whole_load(void **state)
{
    (void)state;
    char path[4096], file[4200], note[512], wkt[2][96];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    snprintf(file, sizeof file, "%s.snap", path);
    situ_store *s = open_rw();
    situ_err err = {0};
    situ_snapshot *written, *mapped;
    assert_int_equal(situ_snapshot_open(s, path, &written, note, sizeof note, &err), 0);
    assert_int_equal(situ_snapshot_open(s, path, &mapped, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "read back"));
    const situ_coll *prev = mapped->colls[SITU_C_HAZARD_SOURCES];
    assert_null(prev->index->keys);
    inside_wkt(prev, 0.37, 0.61, wkt[0], sizeof wkt[0]);
    inside_wkt(prev, 0.52, 0.29, wkt[1], sizeof wkt[1]);
    put(s, "hazard_sources", "R1", "A", wkt[0], "源", NULL);
    put(s, "hazard_sources", "R2", "B", wkt[1], "源", NULL);
    const char *ids[] = {"R1", "R2"};
    situ_coll *next, *again, *cold;
    assert_int_equal(situ_coll_update(s, prev, ids, 2, &next, &err), 0);
    assert_int_equal(situ_coll_load(s, SITU_C_HAZARD_SOURCES, &cold, &err), 0);
    assert_non_null(next->index->keys);
    situ_test_same_coll(next, cold);
    situ_coll_release(cold);
    assert_int_equal(situ_store_exec(s, "DELETE FROM hazard_sources WHERE id = 'R1'", &err), 0);
    put(s, "hazard_sources", "R2", "B", wkt[0], "源", NULL);
    assert_int_equal(situ_coll_update(s, next, ids, 2, &again, &err), 0);
    assert_int_equal(situ_coll_load(s, SITU_C_HAZARD_SOURCES, &cold, &err), 0);
    situ_test_same_coll(again, cold);
    situ_coll_release(cold), situ_coll_release(again), situ_coll_release(next);
    situ_snapshot_release(mapped), situ_snapshot_release(written);
    assert_int_equal(situ_store_exec(s, "DELETE FROM hazard_sources WHERE id = 'R2'", &err), 0);
    assert_int_equal(unlink(file), 0);
    situ_store_close(s);
}

/* snapshot_file.c's SNAP_BASE: the address the file's pointers are written for. */
#define FILE_BASE 0x3a5000000000ULL

/* Writes the n bytes b as file path. */
static void put_file(const char *path, const char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* situ_snapshot_open on s at path: the note has `want`; the snapshot is
 * cold's collection by collection. */
static void open_says(situ_store *s, const char *path, const char *want, const situ_snapshot *cold)
{
    char note[512];
    situ_err err = {0};
    situ_snapshot *got;
    assert_int_equal(situ_snapshot_open(s, path, &got, note, sizeof note, &err), 0);
    if (!strstr(note, want))
        fail_msg("'%s' does not say '%s'", note, want);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_test_same_coll(cold->colls[i], got->colls[i]);
    situ_snapshot_release(got);
}

/* The snapshot file is checked in one pass (each section hashed, then its
 * pointers checked in place, its pages handed back): a byte changed in the
 * first section, in the middle or in the last word is refused as a checksum
 * mismatch, though every section before it was checked and let go; the
 * snapshot is built from the store and the file rewritten sound. A string
 * pointer put out of range with the checksum made to match is refused by
 * the check in place. */
static void file_corrupt_section_refused_in_one_pass(void **state)
{
    (void)state;
    char path[4096], file[4200], note[512];
    snprintf(path, sizeof path, "%s/s.sqlite", dir);
    snprintf(file, sizeof file, "%s.snap", path);
    situ_store *s;
    situ_err err = {0};
    situ_snapshot *cold;
    assert_int_equal(situ_store_open(path, 0, &s, &err), 0);
    unlink(file);
    assert_int_equal(situ_snapshot_open(s, path, &cold, note, sizeof note, &err), 0);
    size_t n;
    char *sound = situ_test_slurp(file, &n), *b = malloc(n);
    assert_non_null(sound);
    assert_non_null(b);
    /* the header's payload size and checksum: the word that is n less the
     * header's size, followed by the XXH3 of the bytes after the header */
    size_t hd = 0, at_sum = 0;
    for (size_t o = 0; o + 16 < n && o < 4096 && !hd; o += 8) {
        uint64_t v, sum;
        memcpy(&v, sound + o, 8), memcpy(&sum, sound + o + 8, 8);
        if (v < n && n - v > o + 16 && n - v < 4096 && sum == XXH3_64bits(sound + n - v, v))
            hd = n - v, at_sum = o + 8;
    }
    assert_true(hd > 0);
    size_t at[] = {hd + 8, hd + (n - hd) / 2, n - 3};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        memcpy(b, sound, n);
        b[at[k]] ^= 0x10;
        put_file(file, b, n);
        open_says(s, path, "checksum mismatch), then written", cold);
        open_says(s, path, "read back", cold);
    }
    /* the first feature's id: the first word of the payload that points
     * into the file mapped at FILE_BASE */
    memcpy(b, sound, n);
    size_t ptr = 0;
    for (size_t o = hd; o + 8 <= n && !ptr; o += 8) {
        uint64_t v;
        memcpy(&v, b + o, 8);
        if (v >= FILE_BASE && v < FILE_BASE + n)
            ptr = o;
    }
    assert_true(ptr > 0);
    uint64_t out = FILE_BASE + n + 64, sum;
    memcpy(b + ptr, &out, 8);
    sum = XXH3_64bits(b + hd, n - hd);
    memcpy(b + at_sum, &sum, 8);
    put_file(file, b, n);
    open_says(s, path, "an index out of range), then written", cold);
    open_says(s, path, "read back", cold);
    free(sound), free(b);
    situ_snapshot_release(cold);
    situ_store_close(s);
}

/* The end of c's coordinates: past the last point of its last ring. */
static const double *xy_end(const situ_coll *c)
{
    size_t end = 0;
    for (size_t i = 0; i < c->n; i++)
        for (uint32_t p = c->feats[i].poly0; p < c->feats[i].poly0 + c->feats[i].npolys; p++)
            for (uint32_t r = c->polys[p].ring0; r < c->polys[p].ring0 + c->polys[p].nrings; r++)
                if (c->rings[r].off + (size_t)c->rings[r].n > end)
                    end = c->rings[r].off + (size_t)c->rings[r].n;
    return c->xy + 2 * end;
}

/* Reads every byte of [p, p + n), so that its pages are resident. */
static void touch(const void *p, size_t n)
{
    volatile unsigned char sum = 0;
    for (size_t i = 0; i < n; i++)
        sum ^= ((const unsigned char *)p)[i];
    (void)sum;
}

/* Collection A's hand-back (situ_coll_drop_pages) leaves the pages of B,
 * read back from the same snapshot file mapping, resident: a pass over A
 * on one thread does not make another thread's pass over B read its pages
 * again. A's own pages go; so do those of the section a version updated
 * from A still shares its strings and values with, and no more. */
static void dropping_one_collections_pages_keeps_anothers(void **state)
{
    (void)state;
    char path[4096], id[16], wkt[256], note[512];
    snprintf(path, sizeof path, "%s/pages.sqlite", dir);
    situ_store *s;
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &s, &err), 0);
    assert_int_equal(situ_store_exec(s, "BEGIN", &err), 0);
    put(s, "townships", "A", "A", "POLYGON((0 0,0 3,3 3,3 0,0 0))", "甲镇", "town");
    for (int i = 0; i < 300; i++) {
        double x = (i % 20) * 0.1, y = (i / 20) * 0.07;
        snprintf(id, sizeof id, "P%03d", i);
        snprintf(wkt, sizeof wkt, "POINT(%g %g)", x, y);
        put(s, "hazard_sources", id, "A", wkt, "源", NULL);
        snprintf(wkt, sizeof wkt, "LINESTRING(%g %g,%g %g,%g %g,%g %g,%g %g,%g %g,%g %g,%g %g)", x,
                 y, x + .01, y, x + .02, y + .01, x + .03, y, x + .04, y + .02, x + .05, y, x + .06,
                 y + .01, x + .07, y);
        put(s, "roads", id, "A", wkt, "county", NULL);
    }
    assert_int_equal(situ_store_exec(s, "COMMIT", &err), 0);
    situ_snapshot *written, *mapped;
    assert_int_equal(situ_snapshot_open(s, path, &written, note, sizeof note, &err), 0);
    assert_int_equal(situ_snapshot_open(s, path, &mapped, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "read back"));
    const situ_coll *a = mapped->colls[SITU_C_HAZARD_SOURCES], *b = mapped->colls[SITU_C_ROADS];
    assert_true(situ_coll_file_bytes(a) > 0 && situ_coll_file_bytes(b) > 0); /* not moved */
    const void *a_end = a->feats + a->n, *b_end = xy_end(b);
    size_t na, nb, pa, pb;
    touch(a->feats, (size_t)((const char *)a_end - (const char *)a->feats));
    touch(b->xy, (size_t)((const char *)b_end - (const char *)b->xy));
    na = situ_test_resident_pages(a->feats, a_end, &pa);
    nb = situ_test_resident_pages(b->xy, b_end, &pb);
    assert_true(na >= 2 && nb >= 2);
    assert_int_equal(pa, na), assert_int_equal(pb, nb);
    situ_coll_drop_pages(a);
    situ_test_resident_pages(a->feats, a_end, &pa), situ_test_resident_pages(b->xy, b_end, &pb);
    assert_int_equal(pa, 0);  /* A's went */
    assert_int_equal(pb, nb); /* B's stayed */
    const char *ids[] = {"P007"};
    situ_coll *next;
    assert_int_equal(situ_coll_update(s, a, ids, 1, &next, &err), 0);
    assert_int_equal(situ_coll_file_bytes(next), situ_coll_file_bytes(a)); /* A's file */
    touch(a->feats, (size_t)((const char *)a_end - (const char *)a->feats));
    situ_coll_drop_pages(next);
    situ_test_resident_pages(a->feats, a_end, &pa), situ_test_resident_pages(b->xy, b_end, &pb);
    assert_int_equal(pa, 0), assert_int_equal(pb, nb);
    situ_coll_drop_pages(b);
    situ_test_resident_pages(b->xy, b_end, &pb);
    assert_int_equal(pb, 0);
    situ_coll_release(next);
    situ_snapshot_release(mapped), situ_snapshot_release(written);
    situ_store_close(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(rings_are_closed_and_oriented),
    cmocka_unit_test(find_and_township_ranges),
    cmocka_unit_test(locate_respects_holes_and_borders),
    cmocka_unit_test(query_bbox_matches_brute_force),
    cmocka_unit_test(query_paging_and_filters),
    cmocka_unit_test(polygon_meets_box_exactly),
    cmocka_unit_test(geojson_golden),
    cmocka_unit_test(updates_equal_a_whole_load),
    cmocka_unit_test(lines_keep_parts_order_and_openness),
    cmocka_unit_test(line_updates_equal_a_whole_load),
    cmocka_unit_test(features_are_in_strcmp_order),
    cmocka_unit_test(kept_digest_equals_recomputed),
    cmocka_unit_test(file_read_back_mapped_or_moved),
    cmocka_unit_test(updates_from_a_read_back_file_equal_a_whole_load),
    cmocka_unit_test(file_corrupt_section_refused_in_one_pass),
    cmocka_unit_test(updates_share_unchanged_strings),
    cmocka_unit_test(dropping_one_collections_pages_keeps_anothers),
};

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "-t"))
            cmocka_set_test_filter(argv[i + 1]);
    return _cmocka_run_group_tests("snapshot", tests, sizeof tests / sizeof tests[0], setup,
                                   teardown);
}

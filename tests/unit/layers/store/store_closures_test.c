/* store_closures_test.c: tests layers/store/store_closures.c on a real
 * SpatiaLite file: closures written by the feeds (layers/feeds/feed_apply.c,
 * in the feed's own transaction) read back as the list active at a time,
 * with their area, circle, reason, until and the earliest until; ended and
 * expired ones left out; a rolled-back transaction leaves none. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/feed.h"
#include "situ/store.h"

typedef struct env {
    char *dir;
    situ_store *s;
    situ_feed_applier *a;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    e->dir = situ_test_tmpdir("closures");
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", e->dir);
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &e->s, &err), 0);
    assert_int_equal(situ_feed_applier_new(e->s, &e->a, &err), 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    situ_feed_applier_free(e->a);
    situ_store_close(e->s);
    situ_test_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

/* Applies one batch of department dept; commit 0 rolls it back instead. */
static void apply(env *e, const char *dept, const char *json, int commit)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    assert_int_equal(situ_feed_parse(dept, json, strlen(json), &b, &err), 0);
    assert_int_equal(situ_store_begin(e->s, &err), 0);
    assert_int_equal(situ_feed_apply(e->a, b, NULL, &err), 0);
    for (int i = 0; i < b->n; i++)
        if (b->ev[i].status != SITU_FEED_ACCEPTED)
            fail_msg("event %d: %s %s", i, b->ev[i].field, b->ev[i].reason);
    if (commit)
        assert_int_equal(situ_store_commit(e->s, &err), 0);
    else
        situ_store_rollback(e->s);
    situ_feed_batch_free(b);
}

#define SQ "[[[111.0,26.0],[111.1,26.0],[111.1,26.1],[111.0,26.0]]]"

static void active_closures_read_back_as_written(void **state)
{
    env *e = *state;
    apply(e, "transport",
          "{\"events\":["
          "{\"id\":\"bridge\",\"type\":\"closure\",\"reason\":\"桥面漫水\","
          "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":" SQ "}},"
          "{\"id\":\"slide\",\"type\":\"closure\",\"reason\":\"landslide\",\"until\":"
          "\"2999-06-01T08:00:00+08:00\",\"radius_m\":250.5,\"geometry\":{\"type\":\"Point\","
          "\"coordinates\":[111.5,26.25]}},"
          "{\"id\":\"soon\",\"type\":\"closure\",\"reason\":\"works\",\"until\":"
          "\"2999-01-01T00:00:00Z\",\"radius_m\":10,\"geometry\":{\"type\":\"Point\","
          "\"coordinates\":[111.6,26.3]}}]}",
          1);
    apply(e, "public_security",
          "{\"events\":[{\"id\":\"gone\",\"type\":\"closure\",\"reason\":\"crash\","
          "\"radius_m\":50,\"geometry\":{\"type\":\"Point\",\"coordinates\":[111.7,26.4]}},"
          "{\"id\":\"gone-end\",\"type\":\"closure_end\",\"closure\":\"gone\"}]}",
          1);
    situ_closure_list l;
    situ_err err = {0};
    assert_int_equal(situ_store_closures_active(e->s, "2026-01-01T00:00:00Z", &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.next_until, "2999-01-01T00:00:00Z");
    const situ_closure *c = &l.v[0];
    assert_string_equal(c->id, "transport:bridge");
    assert_string_equal(c->dept, "transport");
    assert_string_equal(c->reason, "桥面漫水");
    assert_string_equal(c->until, "");
    assert_true(c->radius_m == 0);
    assert_int_equal(c->wkb[1], 6); /* a MultiPolygon (little-endian WKB) */
    situ_assert_near(c->bbox[0], 111.0, 1e-9);
    situ_assert_near(c->bbox[3], 26.1, 1e-9);
    c = &l.v[1];
    assert_string_equal(c->id, "transport:slide");
    assert_string_equal(c->until, "2999-06-01T00:00:00Z");
    assert_int_equal(c->wkb[1], 1); /* its centre, a Point */
    situ_assert_near(c->radius_m, 250.5, 1e-9);
    situ_assert_near(c->lon, 111.5, 1e-9);
    situ_assert_near(c->lat, 26.25, 1e-9);
    assert_string_equal(l.v[2].id, "transport:soon");
    situ_closure_list_dispose(&l);
    /* at 2999-01-01 "soon" has expired (until is not after now) */
    assert_int_equal(situ_store_closures_active(e->s, "2999-01-01T00:00:00Z", &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.next_until, "2999-06-01T00:00:00Z");
    situ_closure_list_dispose(&l);
    /* the end of "bridge" rolled back: it stays active; then committed: it goes */
    apply(e, "transport",
          "{\"events\":[{\"id\":\"e\",\"type\":\"closure_end\",\"closure\":\"bridge\"}]}", 0);
    assert_int_equal(situ_store_closures_active(e->s, NULL, &l, &err), 0);
    assert_int_equal(l.n, 3);
    situ_closure_list_dispose(&l);
    apply(e, "transport",
          "{\"events\":[{\"id\":\"e\",\"type\":\"closure_end\",\"closure\":\"bridge\"}]}", 1);
    assert_int_equal(situ_store_closures_active(e->s, NULL, &l, &err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].id, "transport:slide");
    situ_closure_list_dispose(&l);
}

static void no_closures_is_an_empty_list(void **state)
{
    env *e = *state;
    situ_closure_list l;
    situ_err err = {0};
    assert_int_equal(situ_store_closures_active(e->s, NULL, &l, &err), 0);
    assert_int_equal(l.n, 0);
    assert_string_equal(l.next_until, "");
    situ_closure_list_dispose(&l);
}

/* The list is by id as strcmp orders it (situd's expiry walk merges two
 * lists by strcmp), not in the order rows were written nor by a locale. */
static void closures_are_listed_by_strcmp_of_id(void **state)
{
    env *e = *state;
    static const char pt[] = "\"radius_m\":10,\"geometry\":{\"type\":\"Point\","
                             "\"coordinates\":[111.5,26.25]}}";
    char json[1024];
    snprintf(json, sizeof json,
             "{\"events\":[{\"id\":\"zeta\",\"type\":\"closure\",\"reason\":\"r\",%s,"
             "{\"id\":\"a_b\",\"type\":\"closure\",\"reason\":\"r\",%s,"
             "{\"id\":\"Zulu\",\"type\":\"closure\",\"reason\":\"r\",%s,"
             "{\"id\":\"aB\",\"type\":\"closure\",\"reason\":\"r\",%s]}",
             pt, pt, pt, pt);
    apply(e, "transport", json, 1);
    situ_closure_list l;
    situ_err err = {0};
    assert_int_equal(situ_store_closures_active(e->s, NULL, &l, &err), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.v[0].id, "transport:Zulu");
    assert_string_equal(l.v[1].id, "transport:aB");
    assert_string_equal(l.v[2].id, "transport:a_b");
    assert_string_equal(l.v[3].id, "transport:zeta");
    situ_closure_list_dispose(&l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(active_closures_read_back_as_written, setup, teardown),
    cmocka_unit_test_setup_teardown(no_closures_is_an_empty_list, setup, teardown),
    cmocka_unit_test_setup_teardown(closures_are_listed_by_strcmp_of_id, setup, teardown),
};

SITU_TEST_MAIN("store_closures", tests)

/* drill_play_test.c: tests layers/drill/drill_play.c, drill_store.c and
 * drill_record.c on the demo store (loaded once by the real `situ load`)
 * and the flood scenario of geodata/drills: the drill store is a tagged
 * copy and the live file is byte-for-byte unchanged; the flood played at 1x
 * and 10x on a virtual clock and flat-out ends in the same store (digest of
 * every collection, the log and the closures); an inject whose feature was
 * deleted meanwhile is recorded as rejected and the drill goes on; controls
 * and a controller's posts are recorded (an Actual CAP refused, naming the
 * status); the GeoJSON and CSV record; a replay ends in the same store;
 * the caller is told of every record row. */
#include "testlib.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"
#include "situ/feed.h"

#define FLOOD SITU_SOURCE_DIR "/geodata/drills/xiang_flood.json"
#define START_S 1781733600LL /* 2026-06-17T22:00:00Z, 06:00 in Yongzhou */

static char *dir, live[4096];
static situ_drill_scenario *flood;
static int ndrills;

static int setup(void **state)
{
    (void)state;
    situ_err err = {0};
    dir = situ_test_tmpdir("drill_play");
    snprintf(live, sizeof live, "%s/live.sqlite", dir);
    if (situ_test_sh(NULL, "'%s' load --db '%s' --all '%s/geodata/demo' >/dev/null 2>&1",
                     situ_test_bin(), live, SITU_SOURCE_DIR) ||
        situ_drill_load(FLOOD, NULL, &flood, NULL, &err) || situ_drill_check(flood, NULL, &err))
        return fprintf(stderr, "setup: %s\n", err.msg), -1;
    return flood->nfaults ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_drill_free(flood);
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct vclock {
    long long now;
} vclock;

static long long v_now(void *ctx)
{
    return ((vclock *)ctx)->now;
}

static void v_sleep(void *ctx, long long wall_ms)
{
    ((vclock *)ctx)->now = wall_ms;
}

/* A new drill store of the flood, open. */
static situ_store *new_drill(char path[4096])
{
    situ_err err = {0};
    situ_store *st = NULL;
    snprintf(path, 4096, "%s/drill%d.sqlite", dir, ndrills++);
    if (situ_drill_store_create(live, path, flood, 0, &err) || situ_store_open(path, 0, &st, &err))
        fail_msg("%s", err.msg);
    return st;
}

/* What opts.recorded was told: how many rows, the last seq. */
static long long nrecorded, last_recorded;

static void recorded(void *ctx, long long seq)
{
    (void)ctx;
    nrecorded++;
    last_recorded = seq;
}

static situ_drill_play *open_player(situ_store *st, int speed, long long wall_ms)
{
    situ_drill_play_opts o = {.speed = speed, .start_s = START_S, .recorded = recorded};
    nrecorded = 0;
    situ_drill_play *p = NULL;
    situ_err err = {0};
    if (situ_drill_play_open(st, flood, &o, wall_ms, &p, &err))
        fail_msg("open: %s", err.msg);
    return p;
}

/* Plays the flood into a new drill store at speed on a virtual clock;
 * returns the store, open; *out_ms the virtual time it took. */
static situ_store *played(int speed, long long *out_ms)
{
    char path[4096];
    situ_store *st = new_drill(path);
    vclock vc = {1000000};
    situ_drill_clock c = {v_now, v_sleep, &vc};
    situ_drill_play *p = open_player(st, speed, vc.now);
    situ_err err = {0};
    assert_int_equal(situ_drill_play_run(p, &c, &err), 0);
    assert_true(situ_drill_play_finished(p));
    situ_drill_play_free(p);
    if (out_ms)
        *out_ms = vc.now - 1000000;
    return st;
}

static const char *const tables[] = {
    "townships", "risk_zones", "hazards",        "hazard_sources", "resources", "stations",
    "alerts",    "roads",      "resource_items", "road_closures",  "event_log", NULL};

static void same_stores(situ_store *a, situ_store *b)
{
    for (int t = 0; tables[t]; t++) {
        const char *one[] = {tables[t], NULL};
        unsigned long long da = situ_test_store_digest(a, one), db = situ_test_store_digest(b, one);
        if (da != db)
            fail_msg("table %s differs: %llx against %llx", tables[t], da, db);
    }
}

static long long count(situ_store *st, const char *sql)
{
    char *v = situ_test_query(st, sql);
    long long n = atoll(v);
    free(v);
    return n;
}

/* ---- the store ---------------------------------------------------------------------- */

static void the_drill_store_is_a_tagged_copy_and_live_is_untouched(void **state)
{
    (void)state;
    size_t n0, n1;
    char *before = situ_test_slurp(live, &n0), path[4096];
    situ_store *st = played(SITU_DRILL_SPEED_MAX, NULL);
    char *after = situ_test_slurp(live, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    char id[SITU_FEED_ID_MAX + 1];
    situ_err err = {0};
    assert_int_equal(situ_drill_store_exercise(st, id, &err), 0);
    assert_string_equal(id, "YZ-2026-XJ-FLOOD");
    assert_true(count(st, "SELECT count(*) FROM event_log") >= 24);
    situ_assert_query(st, "SELECT value FROM drill_meta WHERE key = 'start'",
                      "2026-06-17T22:00:00Z");
    assert_int_equal(nrecorded, count(st, "SELECT count(*) FROM drill_record"));
    assert_int_equal(last_recorded, count(st, "SELECT max(seq) FROM drill_record"));
    situ_store_close(st);
    /* an existing drill store is refused and left alone, no part file left */
    snprintf(path, sizeof path, "%s/drill0.sqlite", dir);
    assert_int_equal(situ_drill_store_create(live, path, flood, 0, &err), SITU_ECONFLICT);
    assert_non_null(strstr(err.msg, "exists"));
    assert_int_equal(situ_test_sh(NULL, "ls '%s' | grep -q part", dir), 1);
    free(before);
    free(after);
}

/* ---- determinism -------------------------------------------------------------------- */

static void the_flood_ends_the_same_at_1x_10x_and_max(void **state)
{
    (void)state;
    long long ms1, ms10, msmax;
    situ_store *a = played(1, &ms1), *b = played(10, &ms10),
               *c = played(SITU_DRILL_SPEED_MAX, &msmax);
    assert_int_equal(ms1, 4 * 3600000 + 1800000); /* the last inject at PT4H30M */
    assert_int_equal(ms10, (4 * 3600000 + 1800000) / 10);
    assert_int_equal(msmax, 0);
    same_stores(a, b);
    same_stores(a, c);
    /* scenario times, not the wall's: the last event (XJ-25) at start + 4h */
    situ_assert_query(a, "SELECT max(received_at) FROM event_log", "2026-06-18T02:00:00Z");
    situ_assert_query(c, "SELECT count(*) FROM drill_record WHERE action = 'inject'", "27");
    situ_assert_query(a, "SELECT count(*) FROM drill_record WHERE delay_ms <> 0", "0");
    situ_store_close(a);
    situ_store_close(b);
    situ_store_close(c);
}

/* ---- failures, controls, posts --------------------------------------------------------- */

static int inject_index(const char *kind)
{
    for (int i = 0; i < flood->n; i++)
        if (!strcmp(flood->injects[i].event_type, kind))
            return i;
    fail_msg("no %s inject", kind);
    return -1;
}

static void an_inject_that_fails_is_recorded_and_the_drill_goes_on(void **state)
{
    (void)state;
    char path[4096], sql[512];
    situ_store *st = new_drill(path);
    const situ_drill_inject *in = &flood->injects[inject_index("feature_update")];
    json_t *pl = json_loads(in->payload, 0, NULL);
    const char *fid = json_string_value(json_object_get(pl, "feature_id"));
    situ_err err = {0};
    snprintf(sql, sizeof sql, "DELETE FROM resources WHERE id = '%s'", fid);
    assert_int_equal(situ_store_exec(st, sql, &err), 0); /* a controller deleted it */
    vclock vc = {0};
    situ_drill_clock c = {v_now, v_sleep, &vc};
    situ_drill_play *p = open_player(st, 60, vc.now);
    assert_int_equal(situ_drill_play_run(p, &c, &err), 0);
    snprintf(sql, sizeof sql,
             "SELECT result || ' ' || field || ' ' || reason FROM drill_record WHERE "
             "inject_id = '%s'",
             in->id);
    char want[256];
    snprintf(want, sizeof want, "rejected feature_id no resources feature '%s'", fid);
    situ_assert_query(st, sql, want);
    situ_assert_query(st, "SELECT count(*) FROM drill_record WHERE result = 'accepted'", "23");
    situ_assert_query(st, "SELECT action FROM drill_record ORDER BY seq DESC LIMIT 1", "finish");
    json_decref(pl);
    situ_drill_play_free(p);
    situ_store_close(st);
}

/* A valid Exercise CAP of the flood's, sent at t, and the same as Actual. */
static void cap_bodies(long long t, situ_buf *exercise, situ_buf *actual)
{
    situ_err err = {0};
    assert_int_equal(
        situ_drill_inject_body(&flood->injects[inject_index("cap")], t, exercise, &err), 0);
    situ_buf_addc(exercise, '\0');
    const char *s = strstr(exercise->p, "<status>Exercise</status>");
    assert_non_null(s);
    situ_buf_add(actual, exercise->p, (size_t)(s - exercise->p));
    situ_buf_adds(actual, "<status>Actual</status>");
    situ_buf_adds(actual, s + strlen("<status>Exercise</status>"));
    exercise->n--;
}

/* Pauses, asks for a later inject now, posts an Exercise CAP (an Actual
 * one refused) and an event, resumes, skips dropping, stops. */
static situ_store *controlled(char path[4096])
{
    situ_store *st = new_drill(path);
    situ_err err = {0};
    situ_feed_batch *b = NULL;
    long long w = 0;
    situ_drill_play *p = open_player(st, 10, w);
    assert_int_equal(situ_drill_play_step(p, w += 360000, NULL, &err), 0); /* scenario PT1H */
    assert_int_equal(situ_drill_play_pause(p, "duty officer", w, &err), 0);
    assert_int_equal(situ_drill_play_inject_now(p, "duty officer", "XJ-22", w, &err), 0);
    assert_int_equal(situ_drill_play_step(p, w += 1000, NULL, &err), 0);
    situ_buf ex, act;
    situ_buf_init(&ex), situ_buf_init(&act);
    cap_bodies(START_S + 3600, &ex, &act);
    assert_int_equal(situ_drill_play_post(p, "desk 3", "meteorology", 1, act.p, act.n, w, &b, &err),
                     SITU_EINVAL);
    assert_non_null(strstr(err.msg, "<status> is Actual"));
    assert_null(b);
    const char *ev = "{\"events\":[{\"id\":\"hand-1\",\"type\":\"feature_update\","
                     "\"collection\":\"resources\",\"feature_id\":\"RS-000015\","
                     "\"set\":{\"items\":{\"sandbag\":1234}}}]}";
    assert_int_equal(
        situ_drill_play_post(p, "desk 3", "emergency_management", 0, ev, strlen(ev), w, &b, &err),
        0);
    assert_int_equal(b->ev[0].status, SITU_FEED_ACCEPTED);
    situ_feed_batch_free(b), b = NULL;
    assert_int_equal(situ_drill_play_post(p, "desk 3", "meteorology", 1, ex.p, ex.n, w, &b, &err),
                     0);
    assert_int_equal(b->ev[0].status, SITU_FEED_DUPLICATE); /* the scenario sent it already */
    situ_feed_batch_free(b);
    assert_int_equal(situ_drill_play_resume(p, "duty officer", w, &err), 0);
    assert_int_equal(situ_drill_play_speed(p, "duty officer", 61, w, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "1 to 60"));
    assert_int_equal(situ_drill_play_speed(p, "duty officer", 20, w, &err), 0);
    assert_int_equal(
        situ_drill_play_skip(p, "duty officer", 3 * 3600000LL, SITU_DRILL_SKIP_DROP, w, &err), 0);
    assert_int_equal(situ_drill_play_step(p, w += 60000, NULL, &err), 0); /* to PT3H20M */
    assert_int_equal(situ_drill_play_stop(p, "duty officer", w, &err), 0);
    assert_int_equal(situ_drill_play_pause(p, "duty officer", w, &err), SITU_ECONFLICT);
    assert_int_equal(
        situ_drill_play_post(p, "x", "emergency_management", 0, ev, strlen(ev), w, &b, &err),
        SITU_ECONFLICT);
    situ_buf_dispose(&ex), situ_buf_dispose(&act);
    situ_drill_play_free(p);
    return st;
}

static void controls_and_posts_are_recorded(void **state)
{
    (void)state;
    char path[4096];
    situ_store *st = controlled(path);
    situ_assert_query(st,
                      "SELECT group_concat(action || ':' || actor, ' ') FROM (SELECT * FROM "
                      "drill_record WHERE action NOT IN ('inject') ORDER BY seq)",
                      "start:player pause:duty officer inject_now:duty officer post:desk 3 "
                      "post:desk 3 resume:duty officer speed:duty officer skip:duty officer "
                      "stop:duty officer");
    situ_assert_query(st,
                      "SELECT actor || ' ' || result || ' ' || delay_ms FROM drill_record WHERE "
                      "inject_id = 'XJ-22'",
                      "controller accepted -7200000");
    situ_assert_query(st,
                      "SELECT quantity FROM resource_items WHERE resource_id = 'RS-000015' "
                      "AND item = 'sandbag'",
                      "1234.0");
    situ_assert_query(st,
                      "SELECT count(*) FROM drill_record WHERE action = 'inject' AND "
                      "due_ms > 3600000 AND due_ms < 10800000 AND inject_id <> 'XJ-22'",
                      "0");
    situ_store_close(st);
}

static void the_record_reads_as_geojson_and_csv(void **state)
{
    (void)state;
    char path[4096];
    situ_store *st = controlled(path);
    situ_buf g, c;
    situ_buf_init(&g), situ_buf_init(&c);
    situ_err err = {0};
    assert_int_equal(situ_drill_record_geojson(st, &g, &err), 0);
    json_error_t je;
    json_t *fc = json_loadb(g.p, g.n, 0, &je);
    assert_non_null(fc);
    long long rows = count(st, "SELECT count(*) FROM drill_record");
    assert_int_equal(json_array_size(json_object_get(fc, "features")), rows);
    json_t *f = json_array_get(json_object_get(fc, "features"), 1); /* XJ-00, the note */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(f, "properties"), "result")), "noted");
    assert_int_equal(situ_drill_record_csv(st, &c, &err), 0);
    situ_buf_addc(&c, '\0');
    int lines = 0;
    for (const char *p = c.p; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    assert_int_equal(lines, flood->n + 1);
    assert_non_null(strstr(c.p, ",not played,"));
    assert_non_null(strstr(c.p, "\r\nXJ-22,PT3H,"));
    assert_non_null(strstr(c.p, ",controller,-7200.000\r\n"));
    json_decref(fc);
    situ_buf_dispose(&g), situ_buf_dispose(&c);
    situ_store_close(st);
}

static void a_replay_ends_in_the_same_store(void **state)
{
    (void)state;
    char path[4096], again[4096];
    situ_store *st = controlled(path), *re = NULL;
    situ_err err = {0};
    snprintf(again, sizeof again, "%s/replayed.sqlite", dir);
    assert_int_equal(situ_drill_store_create(live, again, flood, 0, &err), 0);
    assert_int_equal(situ_store_open(again, 0, &re, &err), 0);
    int n = 0;
    assert_int_equal(situ_drill_replay(st, re, &n, &err), 0);
    assert_int_equal(n, count(st, "SELECT count(*) FROM drill_record WHERE body IS NOT NULL"));
    same_stores(st, re);
    situ_store_close(re);
    situ_store_close(st);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(the_drill_store_is_a_tagged_copy_and_live_is_untouched),
    cmocka_unit_test(the_flood_ends_the_same_at_1x_10x_and_max),
    cmocka_unit_test(an_inject_that_fails_is_recorded_and_the_drill_goes_on),
    cmocka_unit_test(controls_and_posts_are_recorded),
    cmocka_unit_test(the_record_reads_as_geojson_and_csv),
    cmocka_unit_test(a_replay_ends_in_the_same_store),
};

int main(int argc, char **argv)
{
    if (setup(NULL))
        return 1;
    int rc = situ_test_run("drill_play", tests, sizeof tests / sizeof tests[0], argc, argv);
    teardown(NULL);
    return rc;
}

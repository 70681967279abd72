/* drill_sched_test.c: tests layers/drill/drill_sched.c, the drill's clock:
 * due injects at 1x, 60x and max in (offset, id) order; pause and resume;
 * a speed change mid-run; skip forward (applying or dropping what it
 * passes) and not back; inject now, also while paused; the next wake-up;
 * finishing; and the same order whatever the speed and polling. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"

#define NOTE(id, off)                                                                              \
    "{\"id\":\"" id "\",\"offset\":\"" off "\",\"dept\":\"emergency_management\",\"kind\":"        \
    "\"note\",\"payload\":\"x\"}"

/* a PT0S, b PT1M, c PT10M, d PT10M (after c by id), e PT1H */
static const char scenario[] =
    "{\"exercise_id\":\"S\",\"title\":\"s\",\"area\":[\"431103007\"],\"injects\":[" NOTE(
        "e", "PT1H") "," NOTE("d",
                              "PT10M") "," NOTE("c",
                                                "PT10M") "," NOTE("b",
                                                                  "PT1M") "," NOTE("a",
                                                                                   "PT0S") "]}";

static int setup(void **state)
{
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    assert_int_equal(situ_drill_parse(scenario, strlen(scenario), NULL, &s, &err), 0);
    assert_int_equal(s->nfaults, 0);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    situ_drill_free(*state);
    return 0;
}

#define MIN 60000LL
#define T0 1000000LL /* an arbitrary monotonic start */

/* The ids due at wall, concatenated ("ab"). */
static const char *due(const situ_drill_scenario *s, situ_drill_sched *c, long long wall)
{
    static char out[64];
    int idx[16], n = situ_drill_sched_due(c, wall, idx, 16);
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(out, s->injects[idx[i]].id);
    return out;
}

static situ_drill_sched *start(const situ_drill_scenario *s, int speed)
{
    situ_drill_sched *c = NULL;
    situ_err err = {0};
    assert_int_equal(situ_drill_sched_new(s, speed, T0, &c, &err), 0);
    return c;
}

static void real_time_in_order(void **state)
{
    situ_drill_scenario *s = *state;
    situ_drill_sched *c = start(s, 1);
    assert_string_equal(due(s, c, T0), "a");
    assert_string_equal(due(s, c, T0), ""); /* issued once */
    assert_string_equal(due(s, c, T0 + MIN - 1), "");
    assert_string_equal(due(s, c, T0 + MIN), "b");
    assert_int_equal(situ_drill_sched_time(c, T0 + 5 * MIN), 5 * MIN);
    assert_string_equal(due(s, c, T0 + 10 * MIN), "cd"); /* same offset: by id */
    assert_false(situ_drill_sched_finished(c));
    assert_string_equal(due(s, c, T0 + 59 * MIN), "");
    assert_string_equal(due(s, c, T0 + 60 * MIN), "e");
    assert_true(situ_drill_sched_finished(c));
    situ_err err = {0};
    assert_int_equal(situ_drill_sched_pause(c, T0 + 61 * MIN, &err), SITU_ECONFLICT);
    assert_non_null(strstr(err.msg, "finished"));
    situ_drill_sched_free(c);
}

static void sixty_times_and_max(void **state)
{
    situ_drill_scenario *s = *state;
    situ_drill_sched *c = start(s, 60);
    assert_string_equal(due(s, c, T0 + 999), "a");
    assert_string_equal(due(s, c, T0 + 1000), "b"); /* PT1M at 60x: one second */
    assert_int_equal(situ_drill_sched_next_wall(c, T0 + 1000), T0 + 10000);
    assert_string_equal(due(s, c, T0 + 9999), "");
    assert_string_equal(due(s, c, T0 + 10000), "cd");
    assert_string_equal(due(s, c, T0 + 60000), "e");
    situ_drill_sched_free(c);

    c = start(s, SITU_DRILL_SPEED_MAX);
    situ_err perr = {0};
    assert_int_equal(situ_drill_sched_pause(c, T0, &perr), 0);
    assert_string_equal(due(s, c, T0 + 1), ""); /* paused at max: nothing */
    assert_int_equal(situ_drill_sched_resume(c, T0 + 2, &perr), 0);
    int idx[2];
    assert_int_equal(situ_drill_sched_due(c, T0, idx, 2), 2); /* in chunks of max */
    assert_string_equal(s->injects[idx[0]].id, "a");
    assert_string_equal(s->injects[idx[1]].id, "b");
    assert_int_equal(situ_drill_sched_time(c, T0), MIN);
    assert_string_equal(due(s, c, T0), "cde");
    assert_int_equal(situ_drill_sched_time(c, T0 + 1), 60 * MIN);
    assert_int_equal(situ_drill_sched_next_wall(c, T0), -1);
    situ_drill_sched_free(c);
    situ_err err = {0};
    assert_int_equal(situ_drill_sched_new(s, 61, T0, &c, &err), SITU_EINVAL);
    assert_int_equal(situ_drill_sched_new(s, -1, T0, &c, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "1 to 60"));
}

static void pause_resume_and_speed_change(void **state)
{
    situ_drill_scenario *s = *state;
    situ_drill_sched *c = start(s, 10);
    situ_err err = {0};
    assert_string_equal(due(s, c, T0 + 6000), "ab");                  /* one minute */
    assert_int_equal(situ_drill_sched_pause(c, T0 + 30000, &err), 0); /* at PT5M */
    assert_true(situ_drill_sched_paused(c));
    assert_int_equal(situ_drill_sched_pause(c, T0 + 30001, &err), SITU_ECONFLICT);
    assert_int_equal(situ_drill_sched_time(c, T0 + 10 * 3600000), 5 * MIN);
    assert_string_equal(due(s, c, T0 + 10 * 3600000), ""); /* nothing while paused */
    assert_int_equal(situ_drill_sched_next_wall(c, T0 + 40000), -1);
    long long back = T0 + 100000;
    assert_int_equal(situ_drill_sched_resume(c, back, &err), 0);
    assert_int_equal(situ_drill_sched_resume(c, back, &err), SITU_ECONFLICT);
    assert_non_null(strstr(err.msg, "not paused"));
    assert_string_equal(due(s, c, back + 29999), "");
    assert_string_equal(due(s, c, back + 30000), "cd"); /* PT10M: 5 more minutes at 10x */
    assert_int_equal(situ_drill_sched_set_speed(c, 60, back + 30000, &err), 0);
    assert_int_equal(situ_drill_sched_next_wall(c, back + 30000), back + 30000 + 50000);
    assert_string_equal(due(s, c, back + 79999), "");
    assert_string_equal(due(s, c, back + 80000), "e");
    situ_drill_sched_free(c);
    c = start(s, 1);
    assert_int_equal(situ_drill_sched_set_speed(c, 0 - 5, T0, &err), SITU_EINVAL);
    situ_drill_sched_free(c);
}

static void skip_applies_or_drops_and_never_goes_back(void **state)
{
    situ_drill_scenario *s = *state;
    situ_drill_sched *c = start(s, 1);
    situ_err err = {0};
    assert_string_equal(due(s, c, T0), "a");
    assert_int_equal(situ_drill_sched_skip(c, 10 * MIN, SITU_DRILL_SKIP_APPLY, T0 + 1, &err), 0);
    assert_string_equal(due(s, c, T0 + 1), "bcd"); /* passed ones due at once, in order */
    assert_int_equal(situ_drill_sched_time(c, T0 + 1 + MIN), 11 * MIN);
    assert_int_equal(situ_drill_sched_skip(c, 5 * MIN, SITU_DRILL_SKIP_APPLY, T0 + 2, &err),
                     SITU_EINVAL);
    assert_non_null(strstr(err.msg, "forward only"));
    situ_drill_sched_free(c);

    c = start(s, 1);
    assert_int_equal(situ_drill_sched_skip(c, 10 * MIN, SITU_DRILL_SKIP_DROP, T0, &err), 0);
    assert_string_equal(due(s, c, T0), "cd"); /* at the offset: due, before it: dropped */
    assert_int_equal(situ_drill_sched_state(c, 0), SITU_DRILL_SKIPPED);
    assert_int_equal(situ_drill_sched_state(c, 1), SITU_DRILL_SKIPPED);
    assert_int_equal(situ_drill_sched_state(c, 2), SITU_DRILL_ISSUED);
    assert_int_equal(situ_drill_sched_state(c, 4), SITU_DRILL_PENDING);
    assert_int_equal(situ_drill_sched_skip(c, 2 * 60 * MIN, SITU_DRILL_SKIP_DROP, T0, &err), 0);
    assert_true(situ_drill_sched_finished(c));
    assert_string_equal(due(s, c, T0 + 120 * MIN), "");
    situ_drill_sched_free(c);
}

static void inject_now_goes_first_once(void **state)
{
    situ_drill_scenario *s = *state;
    situ_drill_sched *c = start(s, 1);
    situ_err err = {0};
    assert_int_equal(situ_drill_sched_pause(c, T0, &err), 0);
    assert_int_equal(situ_drill_sched_inject_now(c, "e", &err), 0);
    assert_int_equal(situ_drill_sched_inject_now(c, "e", &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "queued already"));
    assert_int_equal(situ_drill_sched_inject_now(c, "c", &err), 0);
    assert_int_equal(situ_drill_sched_next_wall(c, T0 + 5), T0 + 5);
    assert_string_equal(due(s, c, T0 + 5), "ec"); /* as asked, even paused */
    assert_int_equal(situ_drill_sched_inject_now(c, "e", &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "issued already"));
    assert_int_equal(situ_drill_sched_inject_now(c, "zz", &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "no inject 'zz'"));
    assert_int_equal(situ_drill_sched_resume(c, T0 + 10, &err), 0);
    assert_string_equal(due(s, c, T0 + 10 + 60 * MIN), "abd"); /* c and e not again */
    assert_true(situ_drill_sched_finished(c));
    situ_drill_sched_free(c);
}

/* The order of issue, polling every `step` ms of wall time. */
static void run_to_end(const situ_drill_scenario *s, int speed, long long step, char *out)
{
    situ_drill_sched *c = start(s, speed);
    out[0] = '\0';
    for (long long w = T0; !situ_drill_sched_finished(c); w += step)
        strcat(out, due(s, c, w));
    situ_drill_sched_free(c);
}

static void same_order_at_any_speed(void **state)
{
    situ_drill_scenario *s = *state;
    char a[64], b[64], m[64], q[64];
    run_to_end(s, 1, 7 * MIN, a);
    run_to_end(s, 10, 1000, b);
    run_to_end(s, SITU_DRILL_SPEED_MAX, 1, m);
    run_to_end(s, 60, 137, q);
    assert_string_equal(a, "abcde");
    assert_string_equal(b, a);
    assert_string_equal(m, a);
    assert_string_equal(q, a);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(real_time_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(sixty_times_and_max, setup, teardown),
    cmocka_unit_test_setup_teardown(pause_resume_and_speed_change, setup, teardown),
    cmocka_unit_test_setup_teardown(skip_applies_or_drops_and_never_goes_back, setup, teardown),
    cmocka_unit_test_setup_teardown(inject_now_goes_first_once, setup, teardown),
    cmocka_unit_test_setup_teardown(same_order_at_any_speed, setup, teardown),
};

SITU_TEST_MAIN("drill_sched", tests)

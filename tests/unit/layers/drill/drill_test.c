/* drill_test.c: tests layers/drill/drill.c: ISO 8601 durations (valid,
 * garbage, limits, the shortest form back), speeds, the JSON scenario with
 * its (offset, id) order, each model fault naming inject and field, payload
 * files inside the scenario's folder only, and JSON written back. */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"

static long long dur(const char *s, int signed_ok)
{
    long long ms = -777;
    situ_err err = {0};
    int rc = situ_drill_duration(s, signed_ok, &ms, &err);
    if (rc) {
        assert_int_equal(rc, SITU_EFORMAT);
        assert_non_null(strstr(err.msg, "duration") ? err.msg : NULL);
        return -777;
    }
    return ms;
}

static void durations_parse(void **state)
{
    (void)state;
    assert_int_equal(dur("PT0S", 0), 0);
    assert_int_equal(dur("PT30M", 0), 30 * 60000);
    assert_int_equal(dur("PT1H30M", 0), 90 * 60000);
    assert_int_equal(dur("P1DT2H", 0), 26 * 3600000LL);
    assert_int_equal(dur("P1D", 0), 86400000LL);
    assert_int_equal(dur("P2W", 0), 14 * 86400000LL);
    assert_int_equal(dur("PT0.5S", 0), 500);
    assert_int_equal(dur("PT1,25S", 0), 1250);
    assert_int_equal(dur("PT1.2345S", 0), 1235);   /* to the nearest millisecond */
    assert_int_equal(dur("PT90M", 0), 90 * 60000); /* not carried over, still fine */
    assert_int_equal(dur("P1DT1H1M1.001S", 0), 86400000LL + 3600000 + 60000 + 1001);
    assert_int_equal(dur("pt5m", 0), 5 * 60000);
    assert_int_equal(dur("-PT10M", 1), -10 * 60000);
    assert_int_equal(dur("+PT10M", 1), 10 * 60000);
}

static void duration_garbage_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "P",
        "PT",
        "T1H",
        "1H",
        "PT1H5",
        "P1H",
        "PT5S3M",
        "PT1H1H",
        "PT1.5H",
        "PT.5S",
        "PT1.S",
        "P1W2D",
        "P1DT",
        "PTS",
        "P-1D",
        "PT1HX",
        "PT 1H",
        "P1D2",
        "PTM",
        "-PT10M",
        "P367D",
        "PT99999999999S",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long long ms = -777;
        situ_err err = {0};
        if (situ_drill_duration(bad[i], 0, &ms, &err) != SITU_EFORMAT)
            fail_msg("'%s' was taken as %lld ms", bad[i], ms);
        assert_int_equal(ms, -777); /* out-parameter untouched */
    }
    situ_err err = {0};
    long long ms;
    assert_int_equal(situ_drill_duration("P1Y", 0, &ms, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "years and months"));
    assert_int_equal(situ_drill_duration("P2M", 0, &ms, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "years and months"));
    assert_int_equal(situ_drill_duration("PT1H5", 0, &ms, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "'PT1H5' is not an ISO 8601 duration"));
    assert_int_equal(situ_drill_duration("P400D", 0, &ms, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "366 days"));
}

static void durations_format_shortest_and_back(void **state)
{
    (void)state;
    char s[48];
    situ_drill_duration_format(0, s);
    assert_string_equal(s, "PT0S");
    situ_drill_duration_format(90 * 60000, s);
    assert_string_equal(s, "PT1H30M");
    situ_drill_duration_format(86400000LL, s);
    assert_string_equal(s, "P1D");
    situ_drill_duration_format(86400000LL + 500, s);
    assert_string_equal(s, "P1DT0.500S");
    situ_drill_duration_format(-600000, s);
    assert_string_equal(s, "-PT10M");
    static const long long v[] = {1, 999, 1000, 59999, 3600000, 3601001, 86399999, 30 * 86400000LL};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        situ_drill_duration_format(v[i], s);
        assert_int_equal(dur(s, 0), v[i]);
    }
}

static void speeds(void **state)
{
    (void)state;
    int sp = -1;
    situ_err err = {0};
    assert_int_equal(situ_drill_speed_parse("1", &sp, &err), 0);
    assert_int_equal(sp, 1);
    assert_int_equal(situ_drill_speed_parse("60", &sp, &err), 0);
    assert_int_equal(sp, 60);
    assert_int_equal(situ_drill_speed_parse("max", &sp, &err), 0);
    assert_int_equal(sp, SITU_DRILL_SPEED_MAX);
    static const char *const bad[] = {"0", "61", "-1", "1.5", "", "10x", "MAX", " 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sp = 99;
        assert_int_equal(situ_drill_speed_parse(bad[i], &sp, &err), SITU_EINVAL);
        assert_int_equal(sp, 99);
        assert_non_null(strstr(err.msg, "1 to 60, or max"));
    }
}

#define HEAD                                                                                       \
    "{\"exercise_id\":\"T-1\",\"title\":\"测试演练\",\"area\":[\"431103007\"],\"injects\":["
#define OBS(id, off)                                                                               \
    "{\"id\":\"" id "\",\"offset\":\"" off "\",\"dept\":\"water_resources\",\"kind\":"             \
    "\"observation\",\"payload\":{\"station\":\"ST-000080\",\"metric\":\"water_level_m\","         \
    "\"value\":75}}"

static situ_drill_scenario *parse(const char *text, const char *dir)
{
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    if (situ_drill_parse(text, strlen(text), dir, &s, &err))
        fail_msg("parse: %s", err.msg);
    return s;
}

/* The first fault on field of inject `index`, or NULL. */
static const situ_drill_fault *fault_on(const situ_drill_scenario *s, int index, const char *field)
{
    for (int i = 0; i < s->nfaults; i++)
        if (s->faults[i].index == index && !strcmp(s->faults[i].field, field))
            return &s->faults[i];
    return NULL;
}

static void scenario_is_read_in_offset_then_id_order(void **state)
{
    (void)state;
    situ_drill_scenario *s = parse(
        HEAD OBS("b", "PT1H") "," OBS("z", "PT10M") "," OBS(
            "a",
            "PT1H") ","
                    "{\"id\":\"n\",\"offset\":\"PT0S\",\"dept\":\"应急管理局\",\"kind\":\"note\","
                    "\"payload\":\"演练开始\",\"expected_action\":\"宣布开始\"}]}",
        NULL);
    assert_int_equal(s->nfaults, 0);
    assert_string_equal(s->exercise_id, "T-1");
    assert_string_equal(s->title, "测试演练");
    assert_int_equal(s->narea, 1);
    assert_int_equal(s->n, 4);
    static const char *const order[] = {"n", "z", "a", "b"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(s->injects[i].id, order[i]);
    assert_int_equal(s->injects[0].index, 3); /* its place in the file */
    assert_int_equal(s->injects[0].kind, SITU_DRILL_NOTE);
    assert_string_equal(s->injects[0].dept, "emergency_management"); /* by Chinese name */
    assert_string_equal(s->injects[0].payload, "演练开始");
    assert_string_equal(s->injects[0].expected, "宣布开始");
    assert_int_equal(s->injects[2].offset_ms, 3600000);
    assert_int_equal(s->injects[2].kind, SITU_DRILL_EVENT);
    assert_string_equal(s->injects[2].event_type, "observation");
    assert_non_null(strstr(s->injects[2].payload, "\"station\":\"ST-000080\""));
    situ_drill_free(s);
}

static void each_fault_names_inject_and_field(void **state)
{
    (void)state;
    situ_drill_scenario *s = parse(
        "{\"exercise_id\":\"T\",\"title\":\"t\",\"area\":[\"4311\",\"431103007\"],\"extra\":1,"
        "\"injects\":[" OBS(
            "a",
            "PT1H5") ","
                     "{\"id\":\"b\",\"offset\":\"PT1M\",\"dept\":\"weather_bureau\",\"kind\":"
                     "\"observation\","
                     "\"payload\":{}},"
                     "{\"id\":\"c\",\"offset\":\"PT1M\",\"dept\":\"meteorology\",\"kind\":"
                     "\"rumour\","
                     "\"payload\":\"x\"},"
                     "{\"id\":\"d\",\"offset\":\"PT2M\",\"dept\":\"meteorology\",\"kind\":\"cap\","
                     "\"payload\":\"<alert/>\",\"payload_file\":\"x.xml\"},"
                     "{\"id\":\"e\",\"offset\":\"PT2M\",\"dept\":\"meteorology\",\"kind\":\"note\","
                     "\"payload\":\"x\",\"expeted_action\":\"typo\"},"
                     "{\"id\":\"a\",\"offset\":\"PT3M\",\"dept\":\"meteorology\",\"kind\":\"note\","
                     "\"payload\":\"x\"},"
                     "{\"offset\":\"PT3M\",\"dept\":\"meteorology\",\"kind\":\"note\",\"payload\":"
                     "\"x\"},"
                     "{\"id\":\"f\",\"offset\":\"PT4M\",\"dept\":\"meteorology\",\"kind\":"
                     "\"alert\","
                     "\"payload\":\"{\\\"event\\\": \"},"
                     "{\"id\":\"g\",\"offset\":\"PT4M\",\"dept\":\"meteorology\",\"kind\":\"note\"}"
                     "]}",
        NULL);
    assert_non_null(fault_on(s, -1, "extra"));
    assert_non_null(strstr(fault_on(s, -1, "area[0]")->reason, "9-digit"));
    assert_null(fault_on(s, -1, "area[1]"));
    assert_string_equal(fault_on(s, 0, "offset")->inject, "a");
    assert_non_null(strstr(fault_on(s, 1, "dept")->reason, "weather_bureau"));
    assert_non_null(fault_on(s, 2, "kind"));
    assert_non_null(strstr(fault_on(s, 3, "payload")->reason, "not both"));
    assert_non_null(fault_on(s, 4, "expeted_action"));
    assert_non_null(strstr(fault_on(s, 5, "id")->reason, "inject 0 too"));
    assert_non_null(strstr(fault_on(s, 6, "id")->reason, "required"));
    assert_non_null(strstr(fault_on(s, 7, "payload")->reason, "malformed JSON"));
    assert_non_null(strstr(fault_on(s, 8, "payload")->reason, "required"));
    assert_int_equal(s->nfaults, 11);
    situ_drill_free(s);
}

static void not_json_and_too_many_are_errors(void **state)
{
    (void)state;
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    assert_int_equal(situ_drill_parse("{\"a\":\n[1,}", 11, NULL, &s, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "line 2"));
    assert_int_equal(situ_drill_parse("[1]", 3, NULL, &s, &err), SITU_EFORMAT);
    assert_null(s);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"injects\":[");
    for (int i = 0; i <= SITU_DRILL_MAX_INJECTS; i++)
        situ_buf_adds(&b, i ? ",{}" : "{}");
    situ_buf_adds(&b, "]}");
    assert_int_equal(situ_drill_parse(b.p, b.n, NULL, &s, &err), SITU_ELIMIT);
    situ_buf_dispose(&b);
}

static void payload_files_stay_in_the_scenario_folder(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("drill"), path[4096];
    snprintf(path, sizeof path, "%s/ev.json", dir);
    situ_test_write(path, "{\"station\":\"S1\",\"metric\":\"rain_1h_mm\",\"value\":3}");
    snprintf(path, sizeof path, "%s/note.txt", dir);
    situ_test_write(path, "现场报告\n第二行");
    situ_drill_scenario *s = parse(
        HEAD "{\"id\":\"a\",\"offset\":\"PT0S\",\"dept\":\"meteorology\",\"kind\":\"observation\","
             "\"payload_file\":\"ev.json\"},"
             "{\"id\":\"b\",\"offset\":\"PT1S\",\"dept\":\"meteorology\",\"kind\":\"note\","
             "\"payload_file\":\"note.txt\"},"
             "{\"id\":\"c\",\"offset\":\"PT2S\",\"dept\":\"meteorology\",\"kind\":\"note\","
             "\"payload_file\":\"../note.txt\"},"
             "{\"id\":\"d\",\"offset\":\"PT3S\",\"dept\":\"meteorology\",\"kind\":\"note\","
             "\"payload_file\":\"/etc/passwd\"},"
             "{\"id\":\"e\",\"offset\":\"PT4S\",\"dept\":\"meteorology\",\"kind\":\"note\","
             "\"payload_file\":\"missing.txt\"}]}",
        dir);
    assert_string_equal(s->injects[0].payload,
                        "{\"station\":\"S1\",\"metric\":\"rain_1h_mm\",\"value\":3}");
    assert_string_equal(s->injects[0].payload_file, "ev.json");
    assert_string_equal(s->injects[1].payload, "现场报告\n第二行");
    assert_non_null(strstr(fault_on(s, 2, "payload_file")->reason, "inside the scenario"));
    assert_non_null(strstr(fault_on(s, 3, "payload_file")->reason, "inside the scenario"));
    assert_non_null(strstr(fault_on(s, 4, "payload_file")->reason, "missing.txt"));
    assert_int_equal(s->nfaults, 3);
    situ_drill_free(s);
    s = parse(HEAD "{\"id\":\"a\",\"offset\":\"PT0S\",\"dept\":\"meteorology\",\"kind\":\"note\","
                   "\"payload_file\":\"note.txt\"}]}",
              NULL); /* no folder: no files */
    assert_non_null(fault_on(s, 0, "payload_file"));
    situ_drill_free(s);
    situ_test_rmtree(dir);
    free(dir);
}

static void json_written_back_reads_the_same(void **state)
{
    (void)state;
    situ_drill_scenario *a = parse(
        "{\"exercise_id\":\"T-2\",\"title\":\"回读\",\"objectives\":[\"检验\"],\"area\":"
        "[\"431103007\",\"431102005\"],\"injects\":[" OBS(
            "o", "PT1H30M") ","
                            "{\"id\":\"n\",\"offset\":\"P1DT0.5S\",\"dept\":\"meteorology\","
                            "\"kind\":\"note\","
                            "\"payload\":\"注意\\n\\\"引号\\\"\",\"expected_action\":\"确认\"}]}",
        NULL);
    situ_buf b;
    situ_buf_init(&b);
    situ_drill_json(a, &b);
    situ_drill_scenario *c = parse(b.p, NULL);
    assert_int_equal(c->nfaults, 0);
    assert_string_equal(c->exercise_id, a->exercise_id);
    assert_string_equal(c->title, a->title);
    assert_int_equal(c->nobjectives, 1);
    assert_int_equal(c->narea, 2);
    assert_string_equal(c->area[1], "431102005");
    assert_int_equal(c->n, 2);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(c->injects[i].id, a->injects[i].id);
        assert_int_equal(c->injects[i].offset_ms, a->injects[i].offset_ms);
        assert_string_equal(c->injects[i].dept, a->injects[i].dept);
        assert_string_equal(c->injects[i].payload, a->injects[i].payload);
        assert_int_equal(c->injects[i].kind, a->injects[i].kind);
    }
    assert_non_null(strstr(b.p, "\"offset\": \"P1DT0.500S\""));
    situ_buf_dispose(&b);
    situ_drill_free(a);
    situ_drill_free(c);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(durations_parse),
    cmocka_unit_test(duration_garbage_is_refused),
    cmocka_unit_test(durations_format_shortest_and_back),
    cmocka_unit_test(speeds),
    cmocka_unit_test(scenario_is_read_in_offset_then_id_order),
    cmocka_unit_test(each_fault_names_inject_and_field),
    cmocka_unit_test(not_json_and_too_many_are_errors),
    cmocka_unit_test(payload_files_stay_in_the_scenario_folder),
    cmocka_unit_test(json_written_back_reads_the_same),
};

SITU_TEST_MAIN("drill", tests)

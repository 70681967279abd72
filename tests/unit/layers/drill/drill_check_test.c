/* drill_check_test.c: tests layers/drill/drill_check.c: an inject's feed
 * body at its time (id and type filled, observed_at the inject's time,
 * durations resolved, a CAP sent at the inject's time), and the check of a
 * scenario through the feeds' own parsers: every fault names inject and
 * field (a bad value, an absolute time, an Actual CAP, a duplicate event
 * id of one department), and a valid scenario has none. */
#include "testlib.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"

#define CAP_DOC(status)                                                                            \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>C1</identifier>"            \
    "<sender>yzqx</sender><sent>2024-06-01T08:00:00+08:00</sent><status>" status "</status>"       \
    "<msgType>Alert</msgType><scope>Public</scope><info><category>Met</category>"                  \
    "<event>暴雨</event><urgency>Immediate</urgency><severity>Severe</severity>"                 \
    "<certainty>Likely</certainty><expires>2024-06-01T20:00:00+08:00</expires>"                    \
    "<area><areaDesc>零陵区</areaDesc>"                                                         \
    "<polygon>26.0,111.0 26.0,111.1 26.1,111.1 26.0,111.0</polygon></area></info></alert>\n"

typedef struct env {
    char *dir;
} env;

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    char path[4096];
    e->dir = situ_test_tmpdir("drill_check");
    snprintf(path, sizeof path, "%s/exercise.xml", e->dir);
    situ_test_write(path, CAP_DOC("Exercise"));
    snprintf(path, sizeof path, "%s/actual.xml", e->dir);
    situ_test_write(path, CAP_DOC("Actual"));
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    situ_test_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

#define HEAD "{\"exercise_id\":\"T\",\"title\":\"t\",\"area\":[\"431103007\"],\"injects\":["
#define INJ(id, off, dept, kind, payload)                                                          \
    "{\"id\":\"" id "\",\"offset\":\"" off "\",\"dept\":\"" dept "\",\"kind\":\"" kind             \
    "\",\"payload\":" payload "}"
#define OBS "{\"station\":\"ST-000080\",\"metric\":\"water_level_m\",\"value\":75.2}"

static situ_drill_scenario *checked(const env *e, const char *text)
{
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    if (situ_drill_parse(text, strlen(text), e->dir, &s, &err))
        fail_msg("parse: %s", err.msg);
    assert_int_equal(situ_drill_check(s, NULL, &err), 0);
    return s;
}

static const situ_drill_fault *fault_on(const situ_drill_scenario *s, const char *inject,
                                        const char *field)
{
    for (int i = 0; i < s->nfaults; i++)
        if (!strcmp(s->faults[i].inject, inject) && !strcmp(s->faults[i].field, field))
            return &s->faults[i];
    return NULL;
}

static json_t *body_event(const situ_drill_inject *in, long long at)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    if (situ_drill_inject_body(in, at, &b, &err))
        fail_msg("body: %s", err.msg);
    json_t *root = json_loadb(b.p, b.n, 0, NULL);
    situ_buf_dispose(&b);
    json_t *ev = json_incref(json_array_get(json_object_get(root, "events"), 0));
    json_decref(root);
    assert_non_null(ev);
    return ev;
}

static void body_fills_id_type_and_times(void **state)
{
    env *e = *state;
    situ_drill_scenario *s = checked(
        e, HEAD INJ("o1", "PT0S", "water_resources", "observation", OBS) "," INJ(
               "a1", "PT1M", "water_resources", "alert",
               "{\"id\":\"own\",\"event\":\"洪水\",\"severity\":\"red\",\"onset\":\"-PT10M\","
               "\"expires\":\"PT6H30M\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
               "[[[111.6,26.4],[111.7,26.4],[111.7,26.5],[111.6,26.4]]]}}") "]}");
    assert_int_equal(s->nfaults, 0);
    long long at = 1781740800; /* 2026-06-18T00:00:00Z */
    json_t *ev = body_event(&s->injects[0], at);
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "o1");
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "observation");
    assert_string_equal(json_string_value(json_object_get(ev, "observed_at")),
                        "2026-06-18T00:00:00Z");
    json_decref(ev);
    ev = body_event(&s->injects[1], at);
    assert_string_equal(json_string_value(json_object_get(ev, "id")), "own");
    assert_string_equal(json_string_value(json_object_get(ev, "onset")), "2026-06-17T23:50:00Z");
    assert_string_equal(json_string_value(json_object_get(ev, "expires")), "2026-06-18T06:30:00Z");
    json_decref(ev);
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    situ_drill_inject note = {.id = "n", .kind = SITU_DRILL_NOTE, .payload = "x", .dept = "health"};
    assert_int_equal(situ_drill_inject_body(&note, at, &b, &err), SITU_EINVAL);
    situ_buf_dispose(&b);
    situ_drill_free(s);
}

static void cap_is_sent_at_the_inject_time(void **state)
{
    env *e = *state;
    situ_drill_scenario *s =
        checked(e, HEAD "{\"id\":\"c\",\"offset\":\"PT5M\",\"dept\":\"meteorology\",\"kind\":"
                        "\"cap\",\"payload_file\":\"exercise.xml\"}]}");
    assert_int_equal(s->nfaults, 0);
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    assert_int_equal(situ_drill_inject_body(&s->injects[0], 1781740800, &b, &err), 0);
    situ_buf_addc(&b, '\0');
    assert_non_null(strstr(b.p, "<sent>2026-06-18T08:00:00+08:00</sent>"));
    assert_non_null(strstr(b.p, "<expires>2026-06-18T20:00:00+08:00</expires>"));
    situ_buf_dispose(&b);
    situ_feed_batch *batch = NULL;
    assert_int_equal(situ_drill_inject_batch(&s->injects[0], 1781740800, NULL, &batch, &err), 0);
    assert_int_equal(batch->n, 1);
    assert_int_equal(batch->ev[0].type, SITU_FEED_CAP);
    assert_string_equal(batch->dept, "meteorology");
    situ_feed_batch_free(batch);
    situ_drill_free(s);
}

static void faults_name_inject_and_field(void **state)
{
    env *e = *state;
    situ_drill_scenario *s =
        checked(
            e, HEAD INJ("bad-value", "PT0S", "water_resources", "observation",
                        "{\"station\":\"S\",\"metric\":\"water_level_m\",\"value\":\"high\"}") "," INJ("absolute",
                                                                                                       "PT1M",
                                                                                                       "water_resources",
                                                                                                       "observation",
                                                                                                       "{\"station\":\"S\",\"metric\":\"m\",\"value\":1,"
                                                                                                       "\"observed_at\":\"2026-06-18T08:00:00+08:00\"}") "," INJ("bad-dur",
                                                                                                                                                                 "PT2M", "water_resources", "alert", "{\"event\":\"e\",\"severity\":\"red\",\"expires\":\"PT6\",\"geometry\":{}}") "," INJ("wrong-type", "PT3M", "water_resources", "camera", "{\"type\":\"observation\",\"station\":\"S\",\"status\":\"offline\"}") "," INJ("bad-status",
                                                                                                                                                                                                                                                                                                                                                                                                                             "PT3M",
                                                                                                                                                                                                                                                                                                                                                                                                                             "emergency_management", "camera", "{\"station\":\"S\",\"status\":\"broken\"}") ","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "{\"id\":\"actual\",\"offset\":\"PT4M\",\"dept\":\"meteorology\",\"kind\":\"cap\","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "\"payload_file\":\"actual.xml\"}," INJ(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                "inline-actual", "PT4M",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                "meteorology", "cap", "\"<alert/>\"") "," INJ("dup1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "PT5M",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "water_resources",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                              "observation", "{\"id\":\"r1\",\"station\":\"S\",\"metric\":\"m\",\"value\":1}") "," INJ("dup2",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "PT6M",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "water_resources", "observation", "{\"id\":\"r1\",\"station\":\"S\",\"metric\":\"m\",\"value\":2}") "," INJ("other-dept",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   "PT6M",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   "meteorology",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   "observation",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                   "{\"id\":\"r1\",\"station\":\"S\",\"metric\":\"m\",\"value\":2}") "," INJ("unknown-member", "PT7M", "transport", "closure_end", "{\"closure\":\"c1\",\"colour\":\"red\"}") "]}");
    assert_non_null(strstr(fault_on(s, "bad-value", "payload.value")->reason, "number"));
    assert_non_null(strstr(fault_on(s, "absolute", "payload.observed_at")->reason, "duration"));
    assert_non_null(strstr(fault_on(s, "bad-dur", "payload.expires")->reason, "'PT6'"));
    assert_non_null(strstr(fault_on(s, "wrong-type", "payload.type")->reason, "camera"));
    assert_non_null(strstr(fault_on(s, "bad-status", "payload.status")->reason, "offline"));
    const situ_drill_fault *f = fault_on(s, "actual", "payload.status");
    assert_non_null(strstr(f->reason, "in actual.xml: <status> is Actual"));
    assert_non_null(fault_on(s, "inline-actual", "payload"));
    assert_null(fault_on(s, "dup1", "payload.id"));
    assert_non_null(strstr(fault_on(s, "dup2", "payload.id")->reason, "'r1'"));
    assert_null(fault_on(s, "other-dept", "payload.id"));
    assert_non_null(fault_on(s, "unknown-member", "payload.colour"));
    assert_int_equal(s->nfaults, 9);
    for (int i = 0; i < s->nfaults; i++) /* the index is the inject's place in the file */
        for (int k = 0; k < s->n; k++)
            if (!strcmp(s->injects[k].id, s->faults[i].inject))
                assert_int_equal(s->faults[i].index, s->injects[k].index);
    assert_int_equal(fault_on(s, "unknown-member", "payload.colour")->index, 10);
    situ_drill_free(s);
}

static void a_valid_scenario_has_no_fault(void **state)
{
    env *e = *state;
    situ_drill_scenario *s = checked(
        e,
        HEAD INJ(
            "o", "PT0S", "water_resources", "observation",
            OBS) ","
                 "{\"id\":\"c\",\"offset\":\"PT5M\",\"dept\":\"meteorology\",\"kind\":\"cap\","
                 "\"payload_file\":\"exercise.xml\"}," INJ(
                     "r", "PT6M", "emergency_management", "feature_update",
                     "{\"collection\":\"resources\",\"feature_id\":\"RS-000015\",\"set\":{"
                     "\"items\":"
                     "{\"sandbag\":25000}}}") "," INJ("k", "PT7M", "transport", "closure",
                                                      "{\"reason\":\"漫水\",\"radius_m\":600,"
                                                      "\"until\":\"PT8H\",\"geometry\":"
                                                      "{\"type\":\"Point\",\"coordinates\":[111.62,"
                                                      "26.45]}}") "," INJ("n", "PT8M",
                                                                          "emergency_management",
                                                                          "note",
                                                                          "\"演练结束\"") "]}");
    for (int i = 0; i < s->nfaults; i++)
        fail_msg("%s %s: %s", s->faults[i].inject, s->faults[i].field, s->faults[i].reason);
    situ_drill_free(s);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(body_fills_id_type_and_times, setup, teardown),
    cmocka_unit_test_setup_teardown(cap_is_sent_at_the_inject_time, setup, teardown),
    cmocka_unit_test_setup_teardown(faults_name_inject_and_field, setup, teardown),
    cmocka_unit_test_setup_teardown(a_valid_scenario_has_no_fault, setup, teardown),
};

SITU_TEST_MAIN("drill_check", tests)

/* cap_test.c: tests layers/feeds/cap.c: CAP 1.2 polygons (lat,lon swapped),
 * circles, township geocodes, severity colours, Update and Cancel applied
 * through the feed applier, and every refusal: bad XML, not CAP, a DOCTYPE
 * (a nested billion laughs), UTF-16, missing elements, non-Actual alerts; a
 * drill's Exercise-only parse and its times moved to the inject's. */
#include "testlib.h"

#include <iconv.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/cap.h"
#include "situ/feed.h"

typedef struct env {
    char *dir;
    situ_store *s;
    situ_feed_applier *a;
    situ_coll *towns;
} env;

static size_t square_wkb(unsigned char *out, double x0, double y0, double x1, double y1)
{
    unsigned char *p = out;
    unsigned int u;
    double ring[10] = {x0, y0, x1, y0, x1, y1, x0, y1, x0, y0};
    *p++ = 1, u = 6, memcpy(p, &u, 4), p += 4, u = 1, memcpy(p, &u, 4), p += 4;
    *p++ = 1, u = 3, memcpy(p, &u, 4), p += 4, u = 1, memcpy(p, &u, 4), p += 4;
    u = 5, memcpy(p, &u, 4), p += 4;
    memcpy(p, ring, sizeof ring);
    return (size_t)(p - out) + sizeof ring;
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    e->dir = situ_test_tmpdir("cap");
    char path[4096];
    snprintf(path, sizeof path, "%s/t.sqlite", e->dir);
    situ_err err = {0};
    assert_int_equal(situ_store_open(path, SITU_STORE_CREATE, &e->s, &err), 0);
    const situ_collection *c = situ_schema_find("townships");
    situ_value v[16] = {{0}};
    v[situ_schema_field_index(c, "name")] = (situ_value){SITU_FT_TEXT, {.s = "南津渡街道"}};
    v[situ_schema_field_index(c, "county_code")] = (situ_value){SITU_FT_TEXT, {.s = "431102"}};
    unsigned char w[256];
    situ_feature_in f = {
        .id = "431102002", .wkb = w, .nwkb = square_wkb(w, 111.1, 26.0, 111.2, 26.1), .values = v};
    assert_int_equal(situ_store_upsert(e->s, c, &f, NULL, &err), 0);
    assert_int_equal(situ_coll_load(e->s, SITU_C_TOWNSHIPS, &e->towns, &err), 0);
    assert_int_equal(situ_feed_applier_new(e->s, &e->a, &err), 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    situ_feed_applier_free(e->a);
    situ_coll_release(e->towns);
    situ_store_close(e->s);
    situ_test_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

#define HEAD(id, type)                                                                             \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                 \
    "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n"                                     \
    "  <identifier>" id "</identifier><sender>yzqx@hunan.gov.cn</sender>\n"                        \
    "  <sent>2024-06-01T08:00:00+08:00</sent><status>Actual</status>\n"                            \
    "  <msgType>" type "</msgType><scope>Public</scope>\n"
#define INFO(severity, extra, area)                                                                \
    "  <info><language>zh-CN</language><category>Met</category><event>暴雨</event>\n"            \
    "    <urgency>Immediate</urgency><severity>" severity "</severity>"                            \
    "<certainty>Likely</certainty>\n"                                                              \
    "    " extra "\n"                                                                              \
    "    <headline>永州市气象台发布暴雨预警</headline>\n"                              \
    "    <area><areaDesc>零陵区</areaDesc>" area "</area>\n"                                       \
    "  </info>\n"
#define TAIL "</alert>\n"
#define POLY "<polygon>26.0,111.0 26.0,111.1 26.1,111.1 26.0,111.0</polygon>"
#define TIMES "<onset>2024-06-01T09:00:00+08:00</onset><expires>2024-06-02T08:00:00+08:00</expires>"

static int parse(env *e, const char *xml, situ_feed_batch **out, situ_err *err)
{
    return situ_cap_parse("meteorology", xml, strlen(xml), e->towns, out, err);
}

/* Parses and applies one CAP document; returns the event's status. */
static int apply(env *e, const char *xml)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    int rc = parse(e, xml, &b, &err);
    if (rc)
        fail_msg("cap: %s", err.msg);
    assert_int_equal(situ_store_begin(e->s, &err), 0);
    assert_int_equal(situ_feed_apply(e->a, b, NULL, &err), 0);
    assert_int_equal(situ_store_commit(e->s, &err), 0);
    int status = (int)b->ev[0].status;
    situ_feed_batch_free(b);
    return status;
}

/* Refused with code; the message holds `part`. */
static void refused(env *e, const char *xml, int code, const char *part)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    int rc = parse(e, xml, &b, &err);
    if (rc != code || !strstr(err.msg, part))
        fail_msg("want %d '%s', got %d '%s'", code, part, rc, err.msg);
    assert_null(b);
}

static void polygon_is_lat_lon_and_severe_is_orange(void **state)
{
    env *e = *state;
    assert_int_equal(apply(e, HEAD("YZ-1", "Alert") INFO("Severe", TIMES, POLY) TAIL),
                     SITU_FEED_ACCEPTED);
    situ_assert_query(
        e->s,
        "SELECT id || ' ' || event || ' ' || severity || ' ' || onset || ' ' || expires "
        "|| ' ' || source || ' ' || cap_identifier || ' ' || status FROM alerts",
        "meteorology:YZ-1 暴雨 orange 2024-06-01T01:00:00Z 2024-06-02T00:00:00Z cap YZ-1 "
        "active");
    situ_assert_query(e->s,
                      "SELECT printf('%.1f %.1f %.1f %.1f', MbrMinX(geom), MbrMinY(geom), "
                      "MbrMaxX(geom), MbrMaxY(geom)) FROM alerts",
                      "111.0 26.0 111.1 26.1");
    situ_assert_query(
        e->s, "SELECT type || ' ' || event_id || ' ' || (body LIKE '<?xml%') FROM event_log",
        "cap YZ-1 1");
    /* the same identifier again is a duplicate */
    assert_int_equal(apply(e, HEAD("YZ-1", "Alert") INFO("Severe", TIMES, POLY) TAIL),
                     SITU_FEED_DUPLICATE);
}

static void severities_map_to_colours(void **state)
{
    env *e = *state;
    static const char *const docs[] = {
        HEAD("S1", "Alert") INFO("Extreme", "", POLY) TAIL,
        HEAD("S2", "Alert") INFO("Moderate", "", POLY) TAIL,
        HEAD("S3", "Alert") INFO("Minor", "", POLY) TAIL,
        HEAD("S4", "Alert") INFO("Unknown",
                                 "<parameter><valueName>预警级别</valueName>"
                                 "<value>红色</value></parameter>",
                                 POLY) TAIL,
        HEAD("S5", "Alert") INFO("Minor",
                                 "<parameter><valueName>warning_level</valueName>"
                                 "<value>II</value></parameter>",
                                 POLY) TAIL,
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        assert_int_equal(apply(e, docs[i]), SITU_FEED_ACCEPTED);
    situ_assert_query(e->s,
                      "SELECT group_concat(severity, ',') FROM (SELECT * FROM alerts ORDER BY id)",
                      "red,yellow,blue,red,orange");
    refused(e, HEAD("S6", "Alert") INFO("Unknown", "", POLY) TAIL, SITU_EFORMAT, "Unknown");
}

static void circle_becomes_a_polygon_around_its_centre(void **state)
{
    env *e = *state;
    assert_int_equal(
        apply(e, HEAD("C1", "Alert") INFO("Severe", "", "<circle>26.05,111.05 5</circle>") TAIL),
        SITU_FEED_ACCEPTED);
    char *s =
        situ_test_query(e->s, "SELECT printf('%.4f %.4f %.4f %.4f', MbrMinX(geom), MbrMinY(geom), "
                              "MbrMaxX(geom), MbrMaxY(geom)) FROM alerts");
    double x0, y0, x1, y1;
    assert_int_equal(sscanf(s, "%lf %lf %lf %lf", &x0, &y0, &x1, &y1), 4);
    free(s);
    /* 5 km is 0.045 degrees of latitude, 0.050 of longitude at 26 N */
    assert_true(fabs((y1 - y0) / 2 - 0.04497) < 0.0005);
    assert_true(fabs((x1 - x0) / 2 - 0.05002) < 0.0008);
    assert_true(fabs((x0 + x1) / 2 - 111.05) < 1e-3 && fabs((y0 + y1) / 2 - 26.05) < 1e-3);
    refused(e, HEAD("C2", "Alert") INFO("Severe", "", "<circle>26.05 111.05 5</circle>") TAIL,
            SITU_EFORMAT, "lat,lon radius_km");
    refused(e, HEAD("C3", "Alert") INFO("Severe", "", "<circle>26.05,111.05 0</circle>") TAIL,
            SITU_EFORMAT, "radius");
}

static void township_geocodes_add_their_polygons(void **state)
{
    env *e = *state;
    assert_int_equal(apply(e, HEAD("G1", "Alert") INFO("Severe", "",
                                                       "<geocode><valueName>township</valueName>"
                                                       "<value>431102002000</value></geocode>"
                                                       "<geocode><valueName>SAME</valueName>"
                                                       "<value>006113</value></geocode>") TAIL),
                     SITU_FEED_ACCEPTED);
    situ_assert_query(e->s,
                      "SELECT printf('%.1f %.1f %.1f %.1f', MbrMinX(geom), MbrMinY(geom), "
                      "MbrMaxX(geom), MbrMaxY(geom)) FROM alerts",
                      "111.1 26.0 111.2 26.1");
    refused(e,
            HEAD("G2", "Alert") INFO("Severe", "",
                                     "<geocode><valueName>乡镇代码</valueName>"
                                     "<value>431102999</value></geocode>") TAIL,
            SITU_EFORMAT, "431102999");
    refused(e,
            HEAD("G3", "Alert") INFO("Severe", "",
                                     "<geocode><valueName>SAME</valueName>"
                                     "<value>006113</value></geocode>") TAIL,
            SITU_EFORMAT, "no <polygon>, <circle> or township");
}

static void update_and_cancel_act_on_references(void **state)
{
    env *e = *state;
    assert_int_equal(apply(e, HEAD("U1", "Alert") INFO("Moderate", "", POLY) TAIL),
                     SITU_FEED_ACCEPTED);
    assert_int_equal(apply(e, HEAD("U2", "Update") "<references>yzqx@hunan.gov.cn,U1,"
                                                   "2024-06-01T08:00:00+08:00</references>" INFO(
                                                       "Extreme", "", POLY) TAIL),
                     SITU_FEED_ACCEPTED);
    situ_assert_query(e->s,
                      "SELECT group_concat(id || '=' || status || '/' || severity, ',') FROM "
                      "(SELECT * FROM alerts ORDER BY id)",
                      "meteorology:U1=cancelled/yellow,meteorology:U2=active/red");
    assert_int_equal(apply(e, HEAD("U3", "Cancel") "<references>yzqx@hunan.gov.cn,U2,"
                                                   "2024-06-01T08:00:00+08:00</references>" TAIL),
                     SITU_FEED_ACCEPTED);
    situ_assert_query(e->s, "SELECT status FROM alerts WHERE id = 'meteorology:U2'", "cancelled");
    /* a cancel of an alert never sent is rejected, and leaves no log row */
    assert_int_equal(apply(e, HEAD("U4", "Cancel") "<references>x,NOPE,"
                                                   "2024-06-01T08:00:00+08:00</references>" TAIL),
                     SITU_FEED_REJECTED);
    situ_assert_query(e->s, "SELECT count(*) FROM event_log WHERE event_id = 'U4'", "0");
    refused(e, HEAD("U5", "Cancel") TAIL, SITU_EFORMAT, "<references> is missing");
    refused(e, HEAD("U6", "Cancel") "<references>U1</references>" TAIL, SITU_EFORMAT, "triplets");
}

static void bad_documents_are_refused_with_a_reason(void **state)
{
    env *e = *state;
    refused(e, "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">\n<identifier>x</alert>",
            SITU_EFORMAT, "line 2");
    refused(e, "not xml at all", SITU_EFORMAT, "not well-formed");
    refused(e, "", SITU_EFORMAT, "empty");
    refused(e, "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>", SITU_EFORMAT, "not a CAP 1.2");
    refused(e, "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"/>", SITU_EFORMAT, "cap:1.1");
    refused(e,
            "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><sender>a</sender>"
            "<sent>2024-06-01T08:00:00+08:00</sent><status>Actual</status><msgType>Alert"
            "</msgType></alert>",
            SITU_EFORMAT, "<identifier> is missing");
    refused(e, HEAD("B1", "Alert") TAIL, SITU_EFORMAT, "<info> is missing");
    refused(e, HEAD("B 2", "Alert") INFO("Severe", "", POLY) TAIL, SITU_EFORMAT, "spaces");
    refused(e, HEAD("B3", "Alert") INFO("Severe", "", "") TAIL, SITU_EFORMAT, "no <polygon>");
    refused(e,
            HEAD("B4", "Alert") INFO("Severe", "", "<polygon>111.0,26.0 111.1,26.0</polygon>") TAIL,
            SITU_EFORMAT, "at least 4");
    refused(e,
            HEAD("B5", "Alert") INFO("Severe", "",
                                     "<polygon>126.0,111.0 26.0,111.1 "
                                     "26.1,111.1 126.0,111.0</polygon>") TAIL,
            SITU_EFORMAT, "out of range");
    refused(e,
            HEAD("B6", "Alert") INFO("Severe",
                                     "<onset>2024-06-02T00:00:00Z</onset>"
                                     "<expires>2024-06-01T00:00:00Z</expires>",
                                     POLY) TAIL,
            SITU_EFORMAT, "<expires>");
    refused(e, HEAD("B7", "Alert") INFO("Severe", "<expires>tomorrow</expires>", POLY) TAIL,
            SITU_EFORMAT, "date-time");
}

static void only_actual_alerts_reach_the_map(void **state)
{
    env *e = *state;
    char doc[4096];
    snprintf(doc, sizeof doc, "%s", HEAD("T1", "Alert") INFO("Severe", "", POLY) TAIL);
    char *p = strstr(doc, "Actual");
    memcpy(p, "Test  ", 6); /* trimmed: a valid status, but not one for the map */
    refused(e, doc, SITU_EINVAL, "<status> is Test");
    memcpy(p, "Real  ", 6);
    refused(e, doc, SITU_EFORMAT, "not a CAP 1.2 value");
    snprintf(doc, sizeof doc, "%s",
             "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>T2</identifier>"
             "<sender>a</sender><sent>2024-06-01T08:00:00+08:00</sent><status>Exercise</status>"
             "<msgType>Alert</msgType></alert>");
    refused(e, doc, SITU_EINVAL, "only Actual");
    refused(e, HEAD("T3", "Ack") TAIL, SITU_EINVAL, "Ack");
}

static void billion_laughs_is_refused_before_parsing(void **state)
{
    env *e = *state;
    situ_buf x;
    situ_buf_init(&x);
    /* lol9 expands to 10^9 "lol": 3 GB if anything expanded it */
    situ_buf_adds(&x, "<?xml version=\"1.0\"?>\n<!DOCTYPE alert [\n<!ENTITY lol0 \"lol\">\n");
    for (int i = 1; i < 10; i++) {
        situ_buf_printf(&x, "<!ENTITY lol%d \"", i);
        for (int k = 0; k < 10; k++)
            situ_buf_printf(&x, "&lol%d;", i - 1);
        situ_buf_adds(&x, "\">\n");
    }
    const char *alert = HEAD("&lol9;", "Alert") INFO("Severe", TIMES, POLY) TAIL;
    situ_buf_adds(&x, "]>\n");
    situ_buf_adds(&x, strchr(alert, '\n') + 1); /* after its own XML declaration */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    refused(e, x.p, SITU_EFORMAT, "DOCTYPE");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 2);
    situ_buf_dispose(&x);
}

/* xml in UTF-16LE with a byte order mark, by iconv; *n its bytes. */
static char *utf16le(const char *xml, size_t *n)
{
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t in_left = strlen(xml), cap = 2 * in_left + 2, out_left = cap - 2;
    char *out = malloc(cap), *in = (char *)xml, *o = out + 2;
    out[0] = (char)0xff, out[1] = (char)0xfe;
    assert_true(iconv(cd, &in, &in_left, &o, &out_left) != (size_t)-1);
    iconv_close(cd);
    *n = (size_t)(o - out);
    return out;
}

/* CAP is UTF-8: a whole, valid alert in UTF-16 is refused for its encoding
 * (not as garbage), and a DOCTYPE in UTF-16 cannot slip past the check. */
static void utf16_is_refused_for_its_encoding(void **state)
{
    env *e = *state;
    const char *alert = HEAD("YZ-16", "Alert") INFO("Severe", TIMES, POLY) TAIL;
    const char *laugh = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE alert ["
                        "<!ENTITY a \"aaaa\">]><alert>&a;</alert>";
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    assert_int_equal(parse(e, alert, &b, &err), 0); /* the same alert in UTF-8 is read */
    situ_feed_batch_free(b);
    const char *docs[] = {alert, laugh};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        char *wide = utf16le(docs[i], &n);
        b = NULL;
        assert_int_equal(situ_cap_parse("meteorology", wide, n, e->towns, &b, &err), SITU_EFORMAT);
        assert_null(b);
        if (!strstr(err.msg, "UTF-8"))
            fail_msg("UTF-16 refused for another reason: %s", err.msg);
        free(wide);
    }
}

/* Replaces the first "Actual" of doc (static) with status. */
static char *with_status(const char *doc, const char *status)
{
    static char out[4096];
    const char *p = strstr(doc, "Actual");
    snprintf(out, sizeof out, "%.*s%s%s", (int)(p - doc), doc, status, p + 6);
    return out;
}

static void a_drill_takes_only_exercise_alerts(void **state)
{
    env *e = *state;
    const char *actual = HEAD("D1", "Alert") INFO("Severe", TIMES, POLY) TAIL;
    const char *exercise = with_status(actual, "Exercise");
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    refused(e, exercise, SITU_EINVAL, "<status> is Exercise: only Actual alerts reach the map");
    assert_int_equal(
        situ_cap_parse_exercise("meteorology", exercise, strlen(exercise), e->towns, &b, &err), 0);
    assert_int_equal(b->ev[0].status, SITU_FEED_PENDING);
    assert_string_equal(b->ev[0].id, "D1");
    situ_feed_batch_free(b);
    b = NULL;
    assert_int_equal(
        situ_cap_parse_exercise("meteorology", actual, strlen(actual), e->towns, &b, &err),
        SITU_EINVAL);
    assert_non_null(strstr(err.msg, "<status> is Actual: a drill takes only Exercise alerts"));
    assert_null(b);
}

static void shifted_times_keep_their_intervals_and_offsets(void **state)
{
    (void)state;
    const char *doc = HEAD("S1", "Alert") INFO("Severe", TIMES, POLY) TAIL;
    situ_buf out;
    situ_buf_init(&out);
    situ_err err = {0};
    long long t;
    char norm[32];
    assert_int_equal(situ_feed_time("2026-06-18T00:30:00Z", norm, &t), 0);
    assert_int_equal(situ_cap_shift_times(doc, strlen(doc), t, &out, &err), 0);
    situ_buf_addc(&out, '\0');
    assert_non_null(strstr(out.p, "<sent>2026-06-18T08:30:00+08:00</sent>"));
    assert_non_null(strstr(out.p, "<onset>2026-06-18T09:30:00+08:00</onset>"));
    assert_non_null(strstr(out.p, "<expires>2026-06-19T08:30:00+08:00</expires>"));
    assert_non_null(strstr(out.p, "<identifier>S1</identifier>"));
    assert_non_null(strstr(out.p, "永州市气象台发布暴雨预警"));
    situ_buf_dispose(&out);
    situ_buf_init(&out);
    static const char *const bad[] = {
        "<!DOCTYPE alert [<!ENTITY a \"b\">]><alert/>", "<alert", "",
        HEAD("S2", "Alert") "<info><onset>soon</onset></info>" TAIL,
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</identifier></alert>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(situ_cap_shift_times(bad[i], strlen(bad[i]), t, &out, &err), 0);
        assert_int_equal(out.n, 0); /* nothing written */
    }
    situ_buf_dispose(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(polygon_is_lat_lon_and_severe_is_orange, setup, teardown),
    cmocka_unit_test_setup_teardown(severities_map_to_colours, setup, teardown),
    cmocka_unit_test_setup_teardown(circle_becomes_a_polygon_around_its_centre, setup, teardown),
    cmocka_unit_test_setup_teardown(township_geocodes_add_their_polygons, setup, teardown),
    cmocka_unit_test_setup_teardown(update_and_cancel_act_on_references, setup, teardown),
    cmocka_unit_test_setup_teardown(bad_documents_are_refused_with_a_reason, setup, teardown),
    cmocka_unit_test_setup_teardown(only_actual_alerts_reach_the_map, setup, teardown),
    cmocka_unit_test_setup_teardown(billion_laughs_is_refused_before_parsing, setup, teardown),
    cmocka_unit_test_setup_teardown(utf16_is_refused_for_its_encoding, setup, teardown),
    cmocka_unit_test_setup_teardown(a_drill_takes_only_exercise_alerts, setup, teardown),
    cmocka_unit_test_setup_teardown(shifted_times_keep_their_intervals_and_offsets, setup,
                                    teardown),
};

SITU_TEST_MAIN("cap", tests)

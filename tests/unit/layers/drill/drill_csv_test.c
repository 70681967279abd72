/* drill_csv_test.c: tests layers/drill/drill_csv.c: the planners' CSV with
 * Chinese headers, H:MM offsets, departments and kinds by Chinese name,
 * quoted cells (a JSON payload with "" escapes, a note over two lines),
 * payload files; the same scenario from UTF-8, UTF-8 with BOM and GBK; and
 * a bad header, an open quote and undecodable bytes refused. */
#include "testlib.h"

#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/drill.h"

static const char plan[] =
    "编号,时间,发送部门,类型,内容,预期行动\r\n"
    "I1,0:00,应急管理局,导调,\"演练开始，\r\n请各单位就位\",宣布开始\r\n"
    ",00:30:00,water_resources,观测,\"{\"\"station\"\":\"\"ST-000080\"\",\"\"metric\"\":"
    "\"\"water_level_m\"\",\"\"value\"\":75.9}\",核对水位\r\n"
    "\r\n"
    "I3,PT10M,气象局,CAP,cap.xml,确认预警范围\r\n";

static const situ_drill_csv_opts opts = {.exercise_id = "CSV-1",
                                         .title = "表格导入",
                                         .area = (const char *const[]){"431103007"},
                                         .narea = 1};

static situ_drill_scenario *import(const char *text, size_t n, const char *dir, int *gbk)
{
    situ_drill_scenario *s = NULL;
    situ_err err = {0};
    if (situ_drill_import_csv(text, n, dir, &opts, &s, gbk, &err))
        fail_msg("import: %s", err.msg);
    return s;
}

static void check_plan(const situ_drill_scenario *s)
{
    for (int i = 0; i < s->nfaults; i++)
        fail_msg("%s %s: %s", s->faults[i].inject, s->faults[i].field, s->faults[i].reason);
    assert_string_equal(s->exercise_id, "CSV-1");
    assert_int_equal(s->n, 3);
    assert_string_equal(s->injects[0].id, "I1");
    assert_int_equal(s->injects[0].kind, SITU_DRILL_NOTE);
    assert_string_equal(s->injects[0].dept, "emergency_management");
    assert_string_equal(s->injects[0].payload, "演练开始，\r\n请各单位就位");
    assert_string_equal(s->injects[0].expected, "宣布开始");
    assert_string_equal(s->injects[1].id, "I3"); /* PT10M before 00:30:00 */
    assert_int_equal(s->injects[1].kind, SITU_DRILL_CAP);
    assert_string_equal(s->injects[1].dept, "meteorology");
    assert_string_equal(s->injects[1].payload_file, "cap.xml");
    assert_non_null(strstr(s->injects[1].payload, "<status>Exercise</status>"));
    assert_string_equal(s->injects[2].id, "row-4"); /* its line, after a two-line cell */
    assert_int_equal(s->injects[2].offset_ms, 30 * 60000);
    assert_string_equal(s->injects[2].event_type, "observation");
    assert_string_equal(s->injects[2].payload,
                        "{\"station\":\"ST-000080\",\"metric\":\"water_level_m\",\"value\":75.9}");
}

static char *to_gbk(const char *s, size_t *out_n)
{
    iconv_t cd = iconv_open("GBK", "UTF-8");
    size_t n = strlen(s), left = 2 * n;
    char *out = malloc(left), *in = (char *)s, *o = out;
    assert_int_not_equal(iconv(cd, &in, &n, &o, &left), (size_t)-1);
    iconv_close(cd);
    *out_n = (size_t)(o - out);
    return out;
}

static void utf8_bom_and_gbk_read_the_same(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("drill_csv"), path[4096];
    snprintf(path, sizeof path, "%s/cap.xml", dir);
    situ_test_write(path, "<alert><status>Exercise</status></alert>");
    int gbk = -1;
    situ_drill_scenario *s = import(plan, strlen(plan), dir, &gbk);
    check_plan(s);
    assert_int_equal(gbk, 0);
    situ_drill_free(s);

    char bom[sizeof plan + 3] = "\xEF\xBB\xBF";
    memcpy(bom + 3, plan, sizeof plan);
    s = import(bom, strlen(bom), dir, &gbk);
    check_plan(s);
    assert_int_equal(gbk, 0);
    situ_drill_free(s);

    size_t n;
    char *g = to_gbk(plan, &n);
    s = import(g, n, dir, &gbk);
    check_plan(s);
    assert_int_equal(gbk, 1);
    situ_drill_free(s);
    free(g);
    situ_test_rmtree(dir);
    free(dir);
}

static void english_headers_tabs_and_faults_by_row(void **state)
{
    (void)state;
    static const char tsv[] =
        "Time Offset\tSender Department\tInject Kind\tPayload\tExpected Action\n"
        "1:5\tmeteorology\tnote\thello\t\n"
        "T+01:00\tnowhere\tnote\thello\t\n"
        "PT2H\tmeteorology\tgossip\thello\t\n";
    situ_drill_scenario *s = import(tsv, strlen(tsv), NULL, NULL);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->nfaults, 3);
    int seen = 0;
    for (int i = 0; i < s->nfaults; i++) {
        const situ_drill_fault *f = &s->faults[i];
        seen |= (!strcmp(f->inject, "row-2") && !strcmp(f->field, "offset")) << 0;
        seen |= (!strcmp(f->inject, "row-3") && !strcmp(f->field, "dept")) << 1;
        seen |= (!strcmp(f->inject, "row-4") && !strcmp(f->field, "kind")) << 2;
    }
    assert_int_equal(seen, 7);
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->injects[i].id, "row-3"))
            assert_int_equal(s->injects[i].offset_ms, 3600000); /* T+01:00 */
    situ_drill_free(s);
}

static void bad_files_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"时间,部门,类型,内容,颜色\n0:00,meteorology,note,x,red\n", "'颜色'"},
        {"部门,类型,内容\nmeteorology,note,x\n", "no offset column"},
        {"时间,部门,类型\n0:00,meteorology,note\n", "no payload column"},
        {"时间,部门,类型,内容,时间\n", "both offset"},
        {"时间,部门,类型,内容\n0:00,meteorology,note,\"open\n", "never closed"},
        {"", "no header"},
        {"\xEF\xBB\xBF\xff\xfe,x\n", "BOM"},
        {"\x80\x80\x80\xff,a\n", "neither UTF-8 nor GBK"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        situ_drill_scenario *s = NULL;
        situ_err err = {0};
        int rc =
            situ_drill_import_csv(bad[i].text, strlen(bad[i].text), NULL, &opts, &s, NULL, &err);
        if (rc != SITU_EFORMAT || !strstr(err.msg, bad[i].want))
            fail_msg("case %zu: want '%s', got %d '%s'", i, bad[i].want, rc, err.msg);
        assert_null(s);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(utf8_bom_and_gbk_read_the_same),
    cmocka_unit_test(english_headers_tabs_and_faults_by_row),
    cmocka_unit_test(bad_files_are_refused),
};

SITU_TEST_MAIN("drill_csv", tests)

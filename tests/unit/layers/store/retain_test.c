/* retain_test.c: tests layers/store/retain.c against real SpatiaLite files:
 * what is due moves to the archive and leaves the store, the rest stays; a
 * run stopped between the archive's commit and the delete loses nothing and
 * a re-run completes without copying twice; a row the archive will not take
 * stays, and each department's last event; batches; the sizes `situ check` prints; the version 2 ->
 * 3 migration (store.c) that retention and per-department stations need. */
#include "testlib.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/retain.h"
#include "situ/store.h"

#define NOW "2026-06-01T00:00:00Z" /* with 90 days: due before 2026-03-03 */

typedef struct env {
    char *dir;
    char path[4096], archive[4096];
    situ_store *s;
} env;

static void put_alert(situ_store *s, const char *id, const char *expires, const char *updated,
                      double x)
{
    const situ_collection *c = situ_schema_find("alerts");
    situ_value v[32] = {{0}};
    v[situ_schema_field_index(c, "dept")] = (situ_value){SITU_FT_TEXT, {.s = "meteorology"}};
    v[situ_schema_field_index(c, "event")] = (situ_value){SITU_FT_TEXT, {.s = "rainstorm"}};
    v[situ_schema_field_index(c, "severity")] = (situ_value){SITU_FT_TEXT, {.s = "red"}};
    v[situ_schema_field_index(c, "expires")] =
        (situ_value){expires ? SITU_FT_TEXT : 0, {.s = expires}};
    char wkt[160];
    snprintf(wkt, sizeof wkt, "MULTIPOLYGON(((%g 26,%g 26,%g 26.1,%g 26)))", x, x + 0.1, x + 0.1,
             x);
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    situ_feature_in f = {.id = id, .wkb = wkb, .nwkb = n, .values = v, .updated_at = updated};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    free(wkb);
}

static void put_log(situ_store *s, const char *event_id, const char *at)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO event_log (dept, event_id, type, received_at, body, changes) VALUES "
             "('%s', '%s', 'alert', '%s', '{}', '[]')",
             event_id[0] == 'f' ? "forestry" : "meteorology", event_id, at);
    situ_err err = {0};
    assert_int_equal(situ_store_exec(s, sql, &err), 0);
}

static int setup(void **state)
{
    env *e = calloc(1, sizeof *e);
    e->dir = situ_test_tmpdir("retain");
    snprintf(e->path, sizeof e->path, "%s/situ.sqlite", e->dir);
    snprintf(e->archive, sizeof e->archive, "%s/archive/situ-archive-2026.sqlite", e->dir);
    situ_err err = {0};
    assert_int_equal(situ_store_open(e->path, SITU_STORE_CREATE, &e->s, &err), 0);
    put_alert(e->s, "meteorology:old1", "2025-01-01T00:00:00Z", "2024-12-31T00:00:00Z", 111.0);
    put_alert(e->s, "meteorology:old2", "2026-03-01T00:00:00Z", "2026-02-28T00:00:00Z", 111.2);
    put_alert(e->s, "meteorology:recent", "2026-05-01T00:00:00Z", "2026-04-30T00:00:00Z", 111.4);
    put_alert(e->s, "meteorology:open", NULL, "2020-01-01T00:00:00Z", 111.6);
    put_log(e->s, "e1", "2025-01-01T00:00:00Z");
    put_log(e->s, "e2", "2026-03-02T23:59:59Z");
    put_log(e->s, "e3", "2026-03-03T00:00:01Z");
    put_log(e->s, "f1", "2024-06-01T00:00:00Z"); /* forestry's last: stays */
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env *e = *state;
    situ_store_close(e->s);
    situ_test_rmtree(e->dir);
    free(e->dir);
    free(e);
    return 0;
}

typedef struct seen {
    char ids[512];
    double first_bbox[4];
    int n, stops;
    long long seq; /* the log row of the last removal reported */
} seen;

static void on_removed(void *ctx, const char *id, const double bbox[4], long long seq)
{
    seen *w = ctx;
    w->seq = seq;
    if (!w->n++)
        memcpy(w->first_bbox, bbox, sizeof w->first_bbox);
    strcat(w->ids, id), strcat(w->ids, " ");
}

static int stop_once(void *ctx)
{
    seen *w = ctx;
    return w->stops++ == 0;
}

static void run(env *e, seen *w, int batch, int (*hook)(void *), situ_retain_stats *st)
{
    situ_retain_opts o = {
        .now = NOW, .batch = batch, .removed = on_removed, .ctx = w, .after_archive = hook};
    situ_err err = {0};
    int rc = situ_retain_run(e->s, &o, st, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Opens the archive and answers sql's first value. */
static char *in_archive(env *e, const char *sql)
{
    situ_store *a;
    situ_err err = {0};
    assert_int_equal(situ_store_open(e->archive, SITU_STORE_READONLY, &a, &err), 0);
    char *v = situ_test_query(a, sql);
    situ_store_close(a);
    return v;
}

#define assert_archive(e, sql, want)                                                               \
    do {                                                                                           \
        char *got_ = in_archive(e, sql);                                                           \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void due_rows_move_to_the_archive_and_the_rest_stays(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    run(e, &w, 0, NULL, &st);
    assert_string_equal(st.cutoff, "2026-03-03T00:00:00Z");
    assert_string_equal(st.archive, e->archive);
    assert_int_equal(st.alerts, 2);
    assert_int_equal(st.events, 2);
    assert_int_equal(st.unmoved, 0);
    assert_string_equal(w.ids, "meteorology:old1 meteorology:old2 ");
    assert_int_equal(w.seq, 5); /* the retention row below */
    situ_assert_near(w.first_bbox[0], 111.0, 1e-9);
    situ_assert_near(w.first_bbox[3], 26.1, 1e-9);
    situ_assert_query(e->s, "SELECT group_concat(id, ' ') FROM (SELECT id FROM alerts ORDER BY id)",
                      "meteorology:open meteorology:recent");
    situ_assert_query(
        e->s,
        "SELECT group_concat(event_id, ' ') FROM (SELECT event_id FROM event_log ORDER BY seq)",
        "e3 f1 retention 2026-03-03T00:00:00Z seq 5");
    /* the removal is logged, after the events, for readers following the log */
    situ_assert_query(
        e->s, "SELECT dept || ' ' || type || ' ' || changes FROM event_log WHERE seq = 5",
        "meteorology retention [{\"collection\":\"alerts\",\"id\":\"meteorology:old1\","
        "\"kind\":\"removed\",\"bbox\":[111,26,111.1,26.1]},{\"collection\":\"alerts\","
        "\"id\":\"meteorology:old2\",\"kind\":\"removed\",\"bbox\":[111.2,26,111.3,26.1]}]");
    assert_archive(e, "SELECT group_concat(id || ' ' || expires, ', ') FROM alerts",
                   "meteorology:old1 2025-01-01T00:00:00Z, meteorology:old2 2026-03-01T00:00:00Z");
    assert_archive(e, "SELECT group_concat(seq || ' ' || event_id, ', ') FROM event_log",
                   "1 e1, 2 e2");
    /* geometry and its spatial index, as ogrinfo and QGIS read them */
    assert_archive(e, "SELECT ST_AsText(geom) FROM alerts WHERE id = 'meteorology:old1'",
                   "MULTIPOLYGON(((111 26, 111.1 26, 111.1 26.1, 111 26)))");
    assert_archive(e,
                   "SELECT count(*) FROM alerts WHERE ROWID IN (SELECT pkid FROM idx_alerts_geom "
                   "WHERE xmin <= 111.05 AND xmax >= 111.05)",
                   "1");
    char *out = NULL;
    assert_int_equal(situ_test_sh(&out, "ogrinfo -ro -q '%s' alerts", e->archive), 0);
    assert_non_null(strstr(out, "meteorology:old2"));
    free(out);
    /* the store's own spatial index forgot them */
    situ_assert_query(e->s, "SELECT count(*) FROM idx_alerts_geom", "2");
}

static void a_stop_between_archive_and_delete_loses_nothing(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    run(e, &w, 0, stop_once, &st);
    assert_int_equal(st.alerts + st.events, 0);
    situ_assert_query(e->s, "SELECT count(*) FROM alerts", "4");
    assert_archive(e, "SELECT count(*) FROM alerts", "2");
    run(e, &w, 0, stop_once, &st); /* completes: archives again (ignored), deletes */
    assert_int_equal(st.alerts, 2);
    assert_int_equal(st.events, 2);
    situ_assert_query(e->s, "SELECT count(*) FROM alerts", "2");
    assert_archive(e, "SELECT count(*) || ' ' || count(DISTINCT id) FROM alerts", "2 2");
    run(e, &w, 0, NULL, &st); /* nothing left to do */
    assert_int_equal(st.alerts + st.events + st.unmoved, 0);
    assert_int_equal(st.more, 0);
    assert_archive(e, "SELECT count(*) FROM event_log", "2");
}

/* The archive already holds another version of old1 (same id, another
 * updated_at): it keeps it, so the store keeps its own. */
static void a_row_the_archive_will_not_take_stays(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    run(e, &w, 0, NULL, &st);
    put_alert(e->s, "meteorology:old1", "2025-06-01T00:00:00Z", "2025-05-31T00:00:00Z", 111.0);
    run(e, &w, 0, NULL, &st);
    assert_int_equal(st.alerts, 0);
    assert_int_equal(st.unmoved, 1);
    situ_assert_query(e->s, "SELECT expires FROM alerts WHERE id = 'meteorology:old1'",
                      "2025-06-01T00:00:00Z");
}

/* An alert updated between the archive's commit and the delete (situd
 * writes while `situ retain` runs) is another version than the archive's:
 * it stays in the store, and only the unchanged one leaves. */
static env *hook_env;

static int update_old1(void *ctx)
{
    (void)ctx;
    put_alert(hook_env->s, "meteorology:old1", "2025-01-01T00:00:00Z", "2026-05-31T00:00:00Z",
              111.0);
    return 0;
}

static void a_row_changed_after_its_archive_stays(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    hook_env = e;
    run(e, &w, 0, update_old1, &st);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.unmoved, 1);
    assert_string_equal(w.ids, "meteorology:old2 ");
    situ_assert_query(e->s, "SELECT updated_at FROM alerts WHERE id = 'meteorology:old1'",
                      "2026-05-31T00:00:00Z");
    assert_archive(e, "SELECT updated_at FROM alerts WHERE id = 'meteorology:old1'",
                   "2024-12-31T00:00:00Z");
}

/* Nothing due: no archive is made (situd's hourly run costs one query). */
static void nothing_due_makes_no_archive(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    situ_retain_opts o = {.now = "2025-01-01T00:00:00Z", .removed = on_removed, .ctx = &w};
    situ_err err = {0};
    assert_int_equal(situ_retain_run(e->s, &o, &st, &err), 0);
    assert_int_equal(st.alerts + st.events, 0);
    char *slurp = situ_test_slurp(st.archive, NULL);
    assert_null(slurp);
    situ_assert_query(e->s, "SELECT count(*) FROM alerts", "4");
}

static void batches_of_one_move_everything(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_stats st;
    run(e, &w, 1, NULL, &st);
    assert_int_equal(st.alerts, 2);
    assert_int_equal(st.events, 2);
    assert_int_equal(w.n, 2);
}

/* With a time budget a run stops after the batch that passes it and says
 * more; runs again finish the work. */
static void a_time_budget_ends_a_run_after_one_batch(void **state)
{
    env *e = *state;
    seen w = {0};
    situ_retain_opts o = {.now = NOW, .batch = 1, .max_ms = 1, .removed = on_removed, .ctx = &w};
    situ_retain_stats st;
    situ_err err = {0};
    assert_int_equal(situ_retain_run(e->s, &o, &st, &err), 0);
    assert_int_equal(st.more, 1);
    assert_int_equal(st.alerts + st.events, 1); /* creating the archive took > 1 ms */
    long long moved = 1;
    for (int i = 0; i < 10 && st.more; i++) {
        assert_int_equal(situ_retain_run(e->s, &o, &st, &err), 0);
        moved += st.alerts + st.events;
    }
    assert_int_equal(st.more, 0);
    assert_int_equal(moved, 4);
    situ_assert_query(e->s, "SELECT count(*) FROM alerts", "2");
}

static void sizes_count_rows_bytes_and_the_log_span(void **state)
{
    env *e = *state;
    situ_store_sizes z;
    situ_err err = {0};
    assert_int_equal(situ_retain_sizes(e->s, &z, &err), 0);
    assert_int_equal(z.n, SITU_NCOLLECTIONS + 3);
    const situ_table_size *alerts = &z.tables[SITU_C_ALERTS];
    assert_string_equal(alerts->name, "alerts");
    assert_int_equal(alerts->rows, 4);
    assert_true(alerts->bytes >= 4096);
    assert_string_equal(z.tables[SITU_NCOLLECTIONS + 1].name, "event_log");
    assert_int_equal(z.tables[SITU_NCOLLECTIONS + 1].rows, 4);
    assert_true(z.file_bytes > alerts->bytes);
    assert_string_equal(z.log_first, "2025-01-01T00:00:00Z");
    assert_string_equal(z.log_last, "2024-06-01T00:00:00Z");
    assert_int_equal(z.log_first_seq, 1);
    assert_int_equal(z.log_last_seq, 4);
}

/* A version 2 file (before retention, roads and road closures) migrates forward
 * to the current version and keeps its rows. */
static void a_version_2_file_migrates_to_3(void **state)
{
    env *e = *state;
    situ_err err = {0};
    assert_int_equal(situ_store_exec(e->s,
                                     "SELECT DropTable(NULL, 'roads'); "
                                     "SELECT DropTable(NULL, 'road_closures'); "
                                     "DROP INDEX stations_dept; DROP INDEX alerts_expires; "
                                     "DROP INDEX event_log_received; PRAGMA user_version = 2",
                                     &err),
                     0);
    situ_store_close(e->s);
    e->s = NULL;
    assert_int_not_equal(situ_store_open(e->path, SITU_STORE_READONLY, &e->s, &err), 0);
    assert_int_equal(situ_store_open(e->path, 0, &e->s, &err), 0);
    assert_int_equal(situ_store_version(e->s), SITU_SCHEMA_VERSION);
    situ_assert_query(e->s,
                      "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                      "('stations_dept', 'alerts_expires', 'event_log_received', "
                      "'road_closures_open')",
                      "4");
    situ_assert_query(e->s,
                      "SELECT geometry_type FROM geometry_columns WHERE f_table_name = "
                      "'road_closures'",
                      "0");
    situ_assert_query(e->s, "SELECT count(*) FROM alerts", "4");
}

/* Road closures that ended (closure_end or until, whichever came first)
 * before the cutoff move; open ones, recent ones and ones that never end
 * stay. */
static void ended_road_closures_move_to_the_archive(void **state)
{
    env *e = *state;
    situ_err err = {0};
    assert_int_equal(
        situ_store_exec(e->s,
                        "INSERT INTO road_closures (id, dept, reason, until, ended_at, created_at, "
                        "updated_at, geom) SELECT 'transport:' || v.column1, 'transport', 'flood', "
                        "v.column2, v.column3, '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z', "
                        "MakePoint(111, 26, 4326) FROM (VALUES "
                        "('ended_old', NULL, '2025-06-01T00:00:00Z'), "
                        "('expired_old', '2025-06-01T00:00:00Z', NULL), "
                        "('ended_before_until', '2027-01-01T00:00:00Z', '2025-06-01T00:00:00Z'), "
                        "('ended_after_until', '2025-06-01T00:00:00Z', '2026-05-01T00:00:00Z'), "
                        "('ended_recent', NULL, '2026-05-01T00:00:00Z'), "
                        "('expires_later', '2026-09-01T00:00:00Z', NULL), "
                        "('open', NULL, NULL)) AS v",
                        &err),
        0);
    situ_retain_opts o = {.now = NOW, .archive = e->archive};
    situ_retain_stats st;
    assert_int_equal(situ_retain_run(e->s, &o, &st, &err), 0);
    assert_int_equal(st.closures, 4);
    situ_assert_query(
        e->s, "SELECT group_concat(id, ',') FROM (SELECT id FROM road_closures ORDER BY id)",
        "transport:ended_recent,transport:expires_later,transport:open");
    situ_store *arc;
    assert_int_equal(situ_store_open(e->archive, SITU_STORE_READONLY, &arc, &err), 0);
    situ_assert_query(arc,
                      "SELECT group_concat(id || ' ' || AsText(geom), ',') FROM (SELECT * FROM "
                      "road_closures ORDER BY id)",
                      "transport:ended_after_until POINT(111 26),transport:ended_before_until "
                      "POINT(111 26),transport:ended_old POINT(111 26),transport:expired_old "
                      "POINT(111 26)");
    situ_store_close(arc);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(ended_road_closures_move_to_the_archive, setup, teardown),
    cmocka_unit_test_setup_teardown(due_rows_move_to_the_archive_and_the_rest_stays, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_stop_between_archive_and_delete_loses_nothing, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(a_row_the_archive_will_not_take_stays, setup, teardown),
    cmocka_unit_test_setup_teardown(a_row_changed_after_its_archive_stays, setup, teardown),
    cmocka_unit_test_setup_teardown(nothing_due_makes_no_archive, setup, teardown),
    cmocka_unit_test_setup_teardown(batches_of_one_move_everything, setup, teardown),
    cmocka_unit_test_setup_teardown(a_time_budget_ends_a_run_after_one_batch, setup, teardown),
    cmocka_unit_test_setup_teardown(sizes_count_rows_bytes_and_the_log_span, setup, teardown),
    cmocka_unit_test_setup_teardown(a_version_2_file_migrates_to_3, setup, teardown),
};

SITU_TEST_MAIN("retain", tests)

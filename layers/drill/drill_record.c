/*
 * drill_record.c: a drill's record read back (table drill_record, written by
 * drill_play.c): as a GeoJSON timeline, as the after-action CSV (each
 * inject's expected action against what happened, and its delay), and as
 * a replay into a fresh drill store. Reads only the drill store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drill_int.h"

static const char row_cols[] =
    "SELECT seq, scenario_ms, scenario_at, wall_at, actor, action, inject_id, dept, kind, "
    "due_ms, delay_ms, result, field, reason, features, minx, miny, maxx, maxy, expected, "
    "detail, cap, body FROM drill_record";
enum {
    C_SEQ,
    C_MS,
    C_AT,
    C_WALL,
    C_ACTOR,
    C_ACTION,
    C_INJECT,
    C_DEPT,
    C_KIND,
    C_DUE,
    C_DELAY,
    C_RESULT,
    C_FIELD,
    C_REASON,
    C_FEATURES,
    C_MINX,
    C_MINY,
    C_MAXX,
    C_MAXY,
    C_EXPECTED,
    C_DETAIL,
    C_CAP,
    C_BODY
};

static int db_fail(situ_db *db, situ_err *err)
{
    return situ_err_set(err, SITU_EDB, "drill_record: %s", situ_db_errmsg(db));
}

/* ---- GeoJSON ------------------------------------------------------------------------ */

static void add_geometry(situ_buf *o, situ_db_stmt *q)
{
    if (situ_db_column_type(q, C_MINX) == SITU_DB_NULL) {
        situ_buf_adds(o, "null");
        return;
    }
    double b[4];
    for (int k = 0; k < 4; k++)
        b[k] = situ_db_column_double(q, C_MINX + k);
    if (b[0] == b[2] && b[1] == b[3]) {
        situ_buf_adds(o, "{\"type\":\"Point\",\"coordinates\":[");
        situ_buf_add_num(o, b[0], 7), situ_buf_addc(o, ','), situ_buf_add_num(o, b[1], 7);
        situ_buf_adds(o, "]}");
        return;
    }
    const int corner[5][2] = {{0, 1}, {2, 1}, {2, 3}, {0, 3}, {0, 1}};
    situ_buf_adds(o, "{\"type\":\"Polygon\",\"coordinates\":[[");
    for (int k = 0; k < 5; k++) {
        situ_buf_adds(o, k ? ",[" : "[");
        situ_buf_add_num(o, b[corner[k][0]], 7), situ_buf_addc(o, ',');
        situ_buf_add_num(o, b[corner[k][1]], 7), situ_buf_addc(o, ']');
    }
    situ_buf_adds(o, "]]}");
}

static void add_text_prop(situ_buf *o, const char *name, situ_db_stmt *q, int col)
{
    const char *v = situ_db_column_text(q, col);
    situ_buf_printf(o, ",\"%s\":", name);
    if (v)
        situ_buf_add_json_str(o, v);
    else
        situ_buf_adds(o, "null");
}

static void add_offset_prop(situ_buf *o, const char *name, situ_db_stmt *q, int col)
{
    char d[48];
    situ_drill_duration_format(situ_db_column_int64(q, col), d);
    situ_buf_printf(o, ",\"%s\":", name);
    if (situ_db_column_type(q, col) == SITU_DB_NULL)
        situ_buf_adds(o, "null");
    else
        situ_buf_printf(o, "\"%s\"", d);
}

static void add_feature(situ_buf *o, situ_db_stmt *q, int first)
{
    static const struct {
        const char *name;
        int col;
    } texts[] = {{"scenario_at", C_AT}, {"wall_at", C_WALL},      {"actor", C_ACTOR},
                 {"action", C_ACTION},  {"inject_id", C_INJECT},  {"dept", C_DEPT},
                 {"kind", C_KIND},      {"result", C_RESULT},     {"field", C_FIELD},
                 {"reason", C_REASON},  {"expected", C_EXPECTED}, {"detail", C_DETAIL}};
    long long seq = situ_db_column_int64(q, C_SEQ);
    situ_buf_printf(o, "%s{\"type\":\"Feature\",\"id\":%lld,\"geometry\":", first ? "" : ",\n",
                    seq);
    add_geometry(o, q);
    situ_buf_printf(o, ",\"properties\":{\"seq\":%lld", seq);
    add_offset_prop(o, "scenario_offset", q, C_MS);
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
        add_text_prop(o, texts[k].name, q, texts[k].col);
    add_offset_prop(o, "due", q, C_DUE);
    if (situ_db_column_type(q, C_DELAY) == SITU_DB_NULL)
        situ_buf_adds(o, ",\"delay_s\":null");
    else
        situ_buf_printf(o, ",\"delay_s\":%.3f", (double)situ_db_column_int64(q, C_DELAY) / 1000.0);
    const char *f = situ_db_column_text(q, C_FEATURES);
    situ_buf_printf(o, ",\"features\":%s}}", f ? f : "[]");
}

int situ_drill_record_geojson(situ_store *st, situ_buf *out, situ_err *err)
{
    situ_db *db = situ_store_sql(st);
    char id[SITU_FEED_ID_MAX + 1], sql[512];
    if (situ_drill_store_exercise(st, id, err))
        return err ? err->code : SITU_EINVAL;
    situ_db_stmt *q = NULL;
    snprintf(sql, sizeof sql, "%s ORDER BY seq", row_cols);
    if (situ_db_prepare(db, sql, &q, err))
        return SITU_EDB;
    char *start = situ__drill_meta_get(db, "start");
    situ_buf_adds(out, "{\"type\":\"FeatureCollection\",\"exercise_id\":");
    situ_buf_add_json_str(out, id);
    situ_buf_adds(out, ",\"start\":");
    situ_buf_add_json_str(out, start ? start : "");
    situ_buf_adds(out, ",\"features\":[\n");
    int rc, n = 0;
    while ((rc = situ_db_step(q)) == SITU_DB_ROW)
        add_feature(out, q, n++ == 0);
    situ_buf_adds(out, "\n]}\n");
    rc = rc == SITU_DB_DONE ? 0 : db_fail(db, err);
    situ_db_finalize(q);
    free(start);
    return rc ? rc : out->oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0;
}

/* ---- CSV ------------------------------------------------------------------------------ */

/* One RFC 4180 cell: quoted when it holds a comma, quote or line break. */
static void csv_cell(situ_buf *o, const char *v, int last)
{
    v = v ? v : "";
    if (strpbrk(v, ",\"\r\n")) {
        situ_buf_addc(o, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                situ_buf_addc(o, '"');
            situ_buf_addc(o, *p);
        }
        situ_buf_addc(o, '"');
    } else {
        situ_buf_adds(o, v);
    }
    situ_buf_adds(o, last ? "\r\n" : ",");
}

/* What the inject did: the features it touched, its reason, or its note. */
static void what_happened(situ_db_stmt *q, situ_buf *w)
{
    const char *reason = situ_db_column_text(q, C_REASON), *f = situ_db_column_text(q, C_FEATURES);
    json_t *a = f ? json_loads(f, 0, NULL) : NULL;
    size_t i;
    json_t *c;
    json_array_foreach(a, i, c)
    {
        situ_buf_printf(w, "%s%s %s %s", i ? "; " : "",
                        json_string_value(json_object_get(c, "collection")),
                        json_string_value(json_object_get(c, "id")),
                        json_string_value(json_object_get(c, "kind")));
    }
    json_decref(a);
    if (reason)
        situ_buf_printf(w, "%s%s: %s", w->n ? "; " : "",
                        situ_db_column_text(q, C_FIELD) ? situ_db_column_text(q, C_FIELD) : "",
                        reason);
    else if (!w->n && situ_db_column_text(q, C_DETAIL))
        situ_buf_adds(w, situ_db_column_text(q, C_DETAIL));
}

static void csv_line(situ_buf *o, const situ_drill_inject *in, situ_db_stmt *q, int played)
{
    char off[48], delay[32] = "";
    situ_buf w;
    situ_buf_init(&w);
    situ_drill_duration_format(in->offset_ms, off);
    if (played) {
        what_happened(q, &w);
        snprintf(delay, sizeof delay, "%.3f", (double)situ_db_column_int64(q, C_DELAY) / 1000.0);
    }
    situ_buf_addc(&w, '\0');
    csv_cell(o, in->id, 0), csv_cell(o, off, 0), csv_cell(o, in->dept, 0);
    csv_cell(o, in->event_type, 0), csv_cell(o, in->expected, 0);
    csv_cell(o, played ? situ_db_column_text(q, C_RESULT) : "not played", 0);
    csv_cell(o, w.p, 0), csv_cell(o, played ? situ_db_column_text(q, C_AT) : "", 0);
    csv_cell(o, played ? situ_db_column_text(q, C_ACTOR) : "", 0), csv_cell(o, delay, 1);
    situ_buf_dispose(&w);
}

int situ_drill_record_csv(situ_store *st, situ_buf *out, situ_err *err)
{
    situ_db *db = situ_store_sql(st);
    situ_drill_scenario *s = NULL;
    situ_db_stmt *q = NULL;
    char sql[512];
    snprintf(sql, sizeof sql, "%s WHERE action = 'inject' AND inject_id = ?1 ORDER BY seq LIMIT 1",
             row_cols);
    if (situ_drill_store_scenario(st, &s, err) || situ_db_prepare(db, sql, &q, err)) {
        situ_drill_free(s);
        return err ? err->code : SITU_EINVAL;
    }
    situ_buf_adds(out, "inject_id,offset,dept,kind,expected_action,result,what_happened,"
                       "applied_at,by,delay_s\r\n");
    int rc = 0;
    for (int i = 0; !rc && i < s->n; i++) {
        situ_db_bind_text(q, 1, s->injects[i].id, -1);
        int step = situ_db_step(q);
        if (step == SITU_DB_ROW || step == SITU_DB_DONE)
            csv_line(out, &s->injects[i], q, step == SITU_DB_ROW);
        else
            rc = db_fail(db, err);
        situ_db_reset(q);
    }
    situ_db_finalize(q);
    situ_drill_free(s);
    return rc ? rc : out->oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0;
}

/* ---- replay ----------------------------------------------------------------------------- */

/* The record row q as a row to write again. */
static void row_of(situ_db_stmt *q, situ__drill_row *r)
{
    situ__drill_row_init(r, situ_db_column_text(q, C_ACTOR), situ_db_column_text(q, C_ACTION));
    r->scen_ms = situ_db_column_int64(q, C_MS);
    snprintf(r->scen_at, sizeof r->scen_at, "%s", situ_db_column_text(q, C_AT));
    r->inject_id = situ_db_column_text(q, C_INJECT), r->dept = situ_db_column_text(q, C_DEPT);
    r->kind = situ_db_column_text(q, C_KIND), r->result = situ_db_column_text(q, C_RESULT);
    r->field = situ_db_column_text(q, C_FIELD), r->reason = situ_db_column_text(q, C_REASON);
    r->expected = situ_db_column_text(q, C_EXPECTED), r->detail = situ_db_column_text(q, C_DETAIL);
    r->has_due = situ_db_column_type(q, C_DUE) != SITU_DB_NULL;
    r->due_ms = situ_db_column_int64(q, C_DUE), r->delay_ms = situ_db_column_int64(q, C_DELAY);
    r->cap = (int)situ_db_column_int64(q, C_CAP);
}

/* Row q of the source again in dst: applied anew when it holds a body,
 * else recorded as it was. */
static int replay_row(situ_drill_play *p, situ_db_stmt *q, long long wall_ms, situ_err *err)
{
    situ__drill_row r;
    row_of(q, &r);
    r.wall_ms = wall_ms;
    const char *body = situ_db_column_text(q, C_BODY);
    long long at_s;
    if (!body)
        return situ__drill_play_record(p, &r, err);
    if (situ_feed_time(r.scen_at, r.scen_at, &at_s)) {
        situ_buf_dispose(&r.features);
        return situ_err_set(err, SITU_EFORMAT, "record row %lld: bad scenario_at",
                            situ_db_column_int64(q, C_SEQ));
    }
    r.scen_at[0] = '\0';
    return situ__drill_play_body(p, &r, body, (size_t)situ_db_column_bytes(q, C_BODY), at_s, NULL,
                                 err);
}

static int replay_rows(situ_db *db, situ_drill_play *p, int *out_n, situ_err *err)
{
    situ_db_stmt *q = NULL;
    char sql[512];
    snprintf(sql, sizeof sql, "%s WHERE action <> 'start' ORDER BY seq", row_cols);
    if (situ_db_prepare(db, sql, &q, err))
        return SITU_EDB;
    const situ_drill_clock *clk = situ_drill_clock_real();
    int rc = 0, step, n = 0;
    while (!rc && (step = situ_db_step(q)) == SITU_DB_ROW) {
        rc = replay_row(p, q, clk->now_ms(clk->ctx), err);
        n += !rc && situ_db_column_text(q, C_BODY);
    }
    if (!rc && step != SITU_DB_DONE)
        rc = db_fail(db, err);
    situ_db_finalize(q);
    if (!rc && out_n)
        *out_n = n;
    return rc;
}

int situ_drill_replay(situ_store *src, situ_store *dst, int *out_n, situ_err *err)
{
    situ_db *db = situ_store_sql(src);
    situ_drill_scenario *s = NULL;
    char *start = situ__drill_meta_get(db, "start"), detail[600];
    long long start_s = 0;
    int rc = situ_drill_store_scenario(src, &s, err);
    if (!rc && (!start || situ_feed_time(start, detail, &start_s)))
        rc = situ_err_set(err, SITU_EINVAL, "the drill was never started (no start in drill_meta)");
    situ_drill_play *p = NULL;
    situ_drill_play_opts o = {.speed = SITU_DRILL_SPEED_MAX, .start_s = start_s};
    snprintf(detail, sizeof detail, "replay of the record of %.500s", s ? s->exercise_id : "");
    const situ_drill_clock *clk = situ_drill_clock_real();
    if (!rc)
        rc = situ__drill_play_open(dst, s, &o, clk->now_ms(clk->ctx), detail, &p, err);
    if (!rc)
        rc = replay_rows(db, p, out_n, err);
    situ_drill_play_free(p);
    situ_drill_free(s);
    free(start);
    return rc;
}

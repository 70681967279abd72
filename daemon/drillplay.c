/*
 * drillplay.c: the drill a situd started with --drill ID plays (issue 19).
 * Owns the player (situ_drill_play_*) on a thread of its own with its own
 * read-write connection to the drill's store, the drill's status, its
 * controls, its record and controllers' posts. Every inject and post is
 * applied by libsitu's player (the feeds' parser at scenario time, the
 * feeds' writer, its record row in the same transaction); its changes go
 * to the publisher as a feed commit's do, so the drill's snapshot, tiles
 * and /events follow. One lock keeps the player: the thread, the controls
 * and the posts take it in turn.
 *
 *   thread: step (apply what is due) -> wait until the next inject is due
 *           or a control signals -> step ... until situd stops
 *   state:  running <-pause/resume-> paused; every inject issued ->
 *           finished (posts still taken); stop -> stopped (read-only
 *           drill: its record and API stay served until situd stops)
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drills.h"
#include "feedwriter.h"
#include "routes.h"
#include "situ/db.h"
#include "situ/drill.h"

static struct {
    const situd_config *cfg;
    pthread_mutex_t lock; /* everything below but cfg */
    pthread_cond_t cv;    /* a control, or stop: the thread looks again */
    pthread_t thread;
    int running, quit;
    situ_store *st;
    situ_drill_scenario *s;
    situ_drill_play *p;
    situ_snapshot *snap; /* townships for CAP geocodes, kept for the player's life */
    int speed;
    long long start_s;
    char started_at[40]; /* wall time of the start, RFC 3339 */
    char failed[512];    /* the store's error that stopped the drill, or "" */
} D = {.lock = PTHREAD_MUTEX_INITIALIZER};

int situd_drill_child(const situd_config *cfg)
{
    return cfg->drill_id[0] != '\0';
}

static long long now_ms(void)
{
    const situ_drill_clock *c = situ_drill_clock_real();
    return c->now_ms(c->ctx);
}

/* The drill's scenario time as situ_store_now reads it in this process, so
 * that alerts begin and end, closures apply, retention and summaries judge
 * at the drill's clock, as its page does (GET /drills/{id}: scenario_ms).
 * Where the clock stood at a wall time and how fast it runs, marked under
 * D.lock after the player's start, each step and each control; a lock of
 * its own, since situ_store_now is called under D.lock (the feed writer's
 * time stamps while a step applies). */
static struct {
    pthread_mutex_t lock;
    long long wall_ms, scen_ms, per_s; /* scenario ms per wall second */
} C = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Under D.lock: the scenario clock as the player's schedule has it now. */
static void clock_mark(long long wall)
{
    long long at = situ_drill_play_time(D.p, wall);
    long long per_s = situ_drill_play_time(D.p, wall + 1000) - at;
    pthread_mutex_lock(&C.lock);
    C.wall_ms = wall;
    C.scen_ms = at;
    C.per_s = per_s;
    pthread_mutex_unlock(&C.lock);
}

static long long scenario_clock(void)
{
    long long wall = now_ms();
    pthread_mutex_lock(&C.lock);
    long long scen = C.scen_ms + (wall - C.wall_ms) * C.per_s / 1000;
    pthread_mutex_unlock(&C.lock);
    return D.start_s + scen / 1000;
}

/* Each accepted event's changes to the publisher, as the writer's are,
 * with its log seq: one that changed nothing (a reading older than the
 * station's) still moves X-Situ-Seq, so the drill's seq reaches its store's. */
static void applied(void *ctx, const situ_feed_batch *b)
{
    (void)ctx;
    for (int i = 0; i < b->n; i++)
        if (b->ev[i].status == SITU_FEED_ACCEPTED)
            situd__feedpub_follow(b->ev[i].changes, (size_t)b->ev[i].nchanges, b->ev[i].seq);
}

/* Under D.lock: waits until wall ms `until` (-1: until signalled). */
static void wait_until(long long until)
{
    if (until < 0) {
        pthread_cond_wait(&D.cv, &D.lock);
        return;
    }
    long long ms = until - now_ms();
    if (ms <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000)
        ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&D.cv, &D.lock, &ts);
}

/* Under D.lock: the store failed under the player (err): the drill stops. */
static void drill_failed(const situ_err *err)
{
    situ_err e2 = {0};
    snprintf(D.failed, sizeof D.failed, "%s", err->msg);
    fprintf(stderr, "situd: drill %s stopped: %s\n", D.cfg->drill_id, err->msg);
    situ_drill_play_stop(D.p, "player", now_ms(), &e2);
}

static void *play_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&D.lock);
    while (!D.quit) {
        long long now = now_ms();
        situ_err err = {0};
        if (!D.failed[0] && situ_drill_play_step(D.p, now, NULL, &err))
            drill_failed(&err);
        clock_mark(now);
        wait_until(D.failed[0] ? -1 : situ_drill_play_next_wall(D.p, now));
    }
    pthread_mutex_unlock(&D.lock);
    return NULL;
}

static int open_player(const situd_config *cfg, situ_err *err)
{
    int rc = situ_drill_speed_parse(cfg->drill_speed, &D.speed, err);
    char norm[32];
    D.start_s = (long long)time(NULL);
    if (!rc && cfg->drill_start[0] && situ_feed_time(cfg->drill_start, norm, &D.start_s))
        rc = situ_err_set(err, SITU_EINVAL, "--drill-start: not an RFC 3339 time");
    if (!rc)
        rc = situ_store_open(cfg->db, 0, &D.st, err);
    if (!rc)
        rc = situ_drill_store_scenario(D.st, &D.s, err);
    if (rc)
        return rc;
    D.snap = situd_snapshot_acquire();
    situ_drill_play_opts o = {
        .speed = D.speed, .start_s = D.start_s, .snap = D.snap, .applied = applied};
    long long wall = now_ms();
    situ_store_time(wall / 1000, D.started_at);
    return situ_drill_play_open(D.st, D.s, &o, wall, &D.p, err);
}

int situd_drillplay_start(const situd_config *cfg, char *msg, size_t nmsg)
{
    situ_err err = {0};
    D.cfg = cfg;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&D.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (open_player(cfg, &err)) {
        snprintf(msg, nmsg, "drill %s: %s", cfg->drill_id, err.msg);
        situd_drillplay_stop();
        return -1;
    }
    clock_mark(now_ms());
    situ_store_now_from(scenario_clock);
    if (pthread_create(&D.thread, NULL, play_main, NULL)) {
        snprintf(msg, nmsg, "drill %s: cannot start the player", cfg->drill_id);
        situd_drillplay_stop();
        return -1;
    }
    D.running = 1;
    return 0;
}

void situd_drillplay_stop(void)
{
    situ_store_now_from(NULL);
    if (D.running) {
        pthread_mutex_lock(&D.lock);
        D.quit = 1;
        pthread_cond_signal(&D.cv);
        pthread_mutex_unlock(&D.lock);
        pthread_join(D.thread, NULL);
        D.running = 0;
    }
    situ_drill_play_free(D.p);
    D.p = NULL;
    situ_drill_free(D.s);
    D.s = NULL;
    situ_store_close(D.st);
    D.st = NULL;
    situ_snapshot_release(D.snap);
    D.snap = NULL;
}

/* ---- status ------------------------------------------------------------------ */

static const char *state_name(void)
{
    if (situ_drill_play_stopped(D.p))
        return "stopped";
    if (situ_drill_play_finished(D.p))
        return "finished";
    return situ_drill_play_paused(D.p) ? "paused" : "running";
}

/* Under D.lock: how many injects were applied and how many the feeds refused. */
static void inject_counts(long long *applied_n, long long *failed_n)
{
    situ_db_stmt *q = NULL;
    *applied_n = *failed_n = 0;
    if (situ_db_prepare(situ_store_sql(D.st),
                        "SELECT result = 'rejected', count(*) FROM drill_record "
                        "WHERE action = 'inject' GROUP BY 1",
                        &q, NULL))
        return;
    while (situ_db_step(q) == SITU_DB_ROW)
        *(situ_db_column_int64(q, 0) ? failed_n : applied_n) = situ_db_column_int64(q, 1);
    situ_db_finalize(q);
}

/* Under D.lock: the drill's status as JSON. */
static void status_json(situd_req *r, situ_buf *b)
{
    long long scen = situ_drill_play_time(D.p, now_ms()), ok, bad;
    char dur[48], start[32], base[300], href[400];
    situ_drill_duration_format(scen, dur);
    situ_store_time(D.start_s, start);
    inject_counts(&ok, &bad);
    situ_buf_adds(b, "{\"id\":");
    situ_buf_add_json_str(b, D.cfg->drill_id);
    situ_buf_adds(b, ",\"exercise_id\":");
    situ_buf_add_json_str(b, D.s->exercise_id);
    situ_buf_adds(b, ",\"title\":");
    situ_buf_add_json_str(b, D.s->title);
    situ_buf_printf(b, ",\"state\":\"%s\",\"speed\":", state_name());
    if (D.speed == SITU_DRILL_SPEED_MAX)
        situ_buf_adds(b, "\"max\"");
    else
        situ_buf_printf(b, "%d", D.speed);
    situ_buf_printf(b,
                    ",\"scenario_time\":\"%s\",\"scenario_ms\":%lld,\"scenario_start\":\"%s\","
                    "\"started_at\":\"%s\",\"injects\":{\"total\":%d,\"applied\":%lld,"
                    "\"failed\":%lld,\"pending\":%d}",
                    dur, scen, start, D.started_at, D.s->n, ok, bad, situ_drill_play_pending(D.p));
    if (D.failed[0]) {
        situ_buf_adds(b, ",\"error\":");
        situ_buf_add_json_str(b, D.failed);
    }
    situd_base_url(r, base, sizeof base); /* http://HOST/drills/ID */
    situ_buf_adds(b, ",\"links\":[");
    situd_add_link(b, 1, base, "self", "application/json", NULL);
    snprintf(href, sizeof href, "%s/", base);
    situd_add_link(b, 0, href, "drill", "text/html", "the drill's wall and API");
    snprintf(href, sizeof href, "%s/record.geojson", base);
    situd_add_link(b, 0, href, "record", "application/geo+json", NULL);
    snprintf(href, sizeof href, "%s/events", base);
    situd_add_link(b, 0, href, "events", "text/event-stream", NULL);
    situ_buf_adds(b, "]}\n");
}

static situd_result reply_status(situd_req *r, unsigned status)
{
    situ_buf b;
    situ_buf_init(&b);
    status_json(r, &b);
    return situd_reply_buf(r, status, "application/json", &b);
}

void situd_drillplay_health(situ_buf *b)
{
    pthread_mutex_lock(&D.lock);
    situ_buf_adds(b, "\"drill\":{\"id\":");
    situ_buf_add_json_str(b, D.cfg ? D.cfg->drill_id : "");
    situ_buf_adds(b, ",\"exercise_id\":");
    situ_buf_add_json_str(b, D.s ? D.s->exercise_id : "");
    situ_buf_printf(b, ",\"state\":\"%s\"},", D.p ? state_name() : "starting");
    pthread_mutex_unlock(&D.lock);
}

/* ---- controls ------------------------------------------------------------------ */

/* Under D.lock: applies control `action` of body o; rc as situ_drill_play_*,
 * with *param naming the member at fault. */
static int apply_control(json_t *o, const char *action, const char **param, situ_err *err)
{
    long long wall = now_ms(), ms = 0;
    const char *actor = "controller";
    *param = "action";
    if (!strcmp(action, "pause"))
        return situ_drill_play_pause(D.p, actor, wall, err);
    if (!strcmp(action, "resume"))
        return situ_drill_play_resume(D.p, actor, wall, err);
    if (!strcmp(action, "stop"))
        return situ_drill_play_stop(D.p, actor, wall, err);
    if (!strcmp(action, "skip")) {
        const char *to = json_string_value(json_object_get(o, "to"));
        const char *mode = json_string_value(json_object_get(o, "mode"));
        *param = "to";
        if (!to || situ_drill_duration(to, 0, &ms, err))
            return situ_err_set(err, SITU_EINVAL, "to: an ISO 8601 duration such as PT30M");
        if (mode && strcmp(mode, "apply") && strcmp(mode, "drop"))
            return *param = "mode", situ_err_set(err, SITU_EINVAL, "mode: apply or drop");
        return situ_drill_play_skip(D.p, actor, ms,
                                    mode && !strcmp(mode, "drop") ? SITU_DRILL_SKIP_DROP
                                                                  : SITU_DRILL_SKIP_APPLY,
                                    wall, err);
    }
    if (!strcmp(action, "inject")) {
        const char *id = json_string_value(json_object_get(o, "inject"));
        *param = "inject";
        if (!id)
            return situ_err_set(err, SITU_EINVAL, "inject: the id of an inject of the scenario");
        return situ_drill_play_inject_now(D.p, actor, id, wall, err);
    }
    if (!strcmp(action, "speed")) {
        json_t *v = json_object_get(o, "speed");
        char text[24];
        int speed;
        *param = "speed";
        snprintf(text, sizeof text, "%s",
                 json_is_string(v)    ? json_string_value(v)
                 : json_is_integer(v) ? ""
                                      : "?");
        if (json_is_integer(v))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        if (situ_drill_speed_parse(text, &speed, err))
            return SITU_EINVAL;
        int rc = situ_drill_play_speed(D.p, actor, speed, wall, err);
        if (!rc)
            D.speed = speed;
        return rc;
    }
    return situ_err_set(err, SITU_EINVAL,
                        "action: one of pause, resume, stop, skip, inject, speed");
}

static situd_result control(situd_req *r)
{
    json_error_t je;
    json_t *o = json_loadb(r->body, r->nbody, 0, &je);
    const char *action = json_string_value(json_object_get(o, "action"));
    if (!json_is_object(o) || !action) {
        json_decref(o);
        return situd_problem(r, 400, "action",
                             "the body must be a JSON object with \"action\": pause, resume, "
                             "stop, skip (with \"to\"), inject (with \"inject\") or speed");
    }
    const char *param;
    situ_err err = {0};
    pthread_mutex_lock(&D.lock);
    int rc = apply_control(o, action, &param, &err);
    situ_err step_err = {0}; /* what the control made due (a skip, an inject now) goes now */
    long long now = now_ms();
    if (!rc && !D.failed[0] && situ_drill_play_step(D.p, now, NULL, &step_err))
        drill_failed(&step_err);
    clock_mark(now);
    situd_result res;
    if (rc == SITU_ECONFLICT)
        res = situd_problem(r, 409, "action", "%s: %s", action, err.msg);
    else if (rc == SITU_EINVAL)
        res = situd_problem(r, 400, param, "%s", err.msg);
    else if (rc)
        res = situd_problem(r, 503, NULL, "%s", err.msg);
    else
        res = reply_status(r, 200);
    pthread_cond_signal(&D.cv);
    pthread_mutex_unlock(&D.lock);
    json_decref(o);
    return res;
}

/* ---- routes ---------------------------------------------------------------------- */

static situd_result record(situd_req *r, int csv)
{
    situ_buf b;
    situ_err err = {0};
    situ_buf_init(&b);
    pthread_mutex_lock(&D.lock);
    int rc =
        csv ? situ_drill_record_csv(D.st, &b, &err) : situ_drill_record_geojson(D.st, &b, &err);
    pthread_mutex_unlock(&D.lock);
    if (rc) {
        situ_buf_dispose(&b);
        return situd_problem(r, 503, NULL, "the drill's record: %s", err.msg);
    }
    return situd_reply_buf(r, 200, csv ? "text/csv; charset=utf-8" : "application/geo+json", &b);
}

situd_result situd_drillplay_route(situd_req *r, const char *id, const char *rest)
{
    int post = !strcmp(r->method, "POST");
    if (strcmp(id, r->cfg->drill_id) || !D.p)
        return situd_problem(r, 404, "id", "no drill '%s' here", id);
    if (!strcmp(rest, "control") && post) {
        situd_result res;
        if (situd_check_token(r, "emergency_management", &res))
            return res;
        return situd_body_read(r) ? control(r) : situd_body_expect(r);
    }
    if (post)
        return situd_problem(r, 405, NULL, "POST is taken by /drills/{id}/control only");
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    if (!*rest) {
        pthread_mutex_lock(&D.lock);
        res = reply_status(r, 200);
        pthread_mutex_unlock(&D.lock);
        return res;
    }
    if (!strcmp(rest, "record.geojson") || !strcmp(rest, "record.csv"))
        return record(r, !strcmp(rest, "record.csv"));
    return situd_problem(r, 404, NULL, "no such resource of drill %s: %s", id, rest);
}

situd_result situd_drillplay_post(situd_req *r, const char *dept, int cap)
{
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    char actor[96];
    snprintf(actor, sizeof actor, "controller (%s)", dept);
    pthread_mutex_lock(&D.lock);
    int rc =
        D.p ? situ_drill_play_post(D.p, actor, dept, cap, r->body, r->nbody, now_ms(), &b, &err)
            : situ_err_set(&err, SITU_EINVAL, "the drill is not playing");
    pthread_mutex_unlock(&D.lock);
    if (rc == SITU_ECONFLICT)
        return situd_problem(r, 409, "id", "drill %s: %s", r->cfg->drill_id, err.msg);
    if (rc == SITU_EDB || rc == SITU_EIO)
        return situd_busy(r, "%s", err.msg);
    if (rc)
        return situd_feed_read_error(r, &err, cap);
    situd_result res = situd_feed_answer(r, b);
    situ_feed_batch_free(b);
    return res;
}

/*
 * drill_play.c: the player (state diagram in situ/drill.h). Owns applying
 * what the scheduling clock (drill_sched.c) says is due, through the feeds'
 * own parser at scenario time (situ_feed_parse_at, situ_cap_parse_exercise_at)
 * and writer (situ_feed_apply), one transaction per inject or post holding
 * its record row; the controls, each recorded; the real clock and the
 * headless loop. The store copy is drill_store.c; reading the record back is
 * drill_record.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/cap.h"
#include "situ/clock.h"

#include "drill_int.h"

struct situ_drill_play {
    situ_store *st;
    situ_db *db;
    const situ_drill_scenario *s;
    situ_drill_play_opts o;
    situ_drill_sched *sched;
    situ_feed_applier *applier;
    situ_snapshot *own_snap;
    const situ_snapshot *snap;
    situ_db_stmt *ins;
    unsigned char *asked; /* per inject: asked for with inject_now */
    int speed;            /* the clock's: at max an inject is never late */
    int stopped, finish_recorded;
    long long seq; /* the record's last row */
};

/* ---- record rows ------------------------------------------------------------------ */

void situ__drill_row_init(situ__drill_row *r, const char *actor, const char *action)
{
    memset(r, 0, sizeof *r);
    r->actor = actor && *actor ? actor : "controller";
    r->action = action;
    r->result = "ok";
    situ_buf_init(&r->features);
}

/* Grows r's box to hold box b (minx, miny, maxx, maxy). */
static void grow_box(situ__drill_row *r, const double b[4])
{
    if (!r->has_box)
        memcpy(r->box, b, sizeof r->box);
    r->box[0] = fmin(r->box[0], b[0]), r->box[1] = fmin(r->box[1], b[1]);
    r->box[2] = fmax(r->box[2], b[2]), r->box[3] = fmax(r->box[3], b[3]);
    r->has_box = 1;
}

/* Sums up batch b into r: its result, the features it touched and their
 * box, the first rejection. */
static void row_from_batch(situ__drill_row *r, const situ_feed_batch *b)
{
    static const char *const names[] = {"pending", "accepted", "duplicate", "rejected"};
    r->features.n = 0;
    situ_buf_addc(&r->features, '[');
    for (int i = 0; i < b->n; i++) {
        const situ_feed_event *ev = &b->ev[i];
        r->result = i && strcmp(r->result, names[ev->status]) ? "partial" : names[ev->status];
        if (ev->status == SITU_FEED_REJECTED && !r->reason)
            r->field = ev->field, r->reason = ev->reason;
        for (int k = 0; k < ev->nchanges; k++) {
            const situ_feed_change *c = &ev->changes[k];
            if (r->features.n > 1)
                situ_buf_addc(&r->features, ',');
            situ_feed_change_json(c, &r->features);
            grow_box(r, c->bbox);
        }
    }
    situ_buf_addc(&r->features, ']');
}

static void bind_opt_text(situ_db_stmt *q, int k, const char *s)
{
    if (s)
        situ_db_bind_text(q, k, s, -1);
    else
        situ_db_bind_null(q, k);
}

int situ__drill_row_write(situ_db_stmt *q, situ_db *db, const situ__drill_row *r, long long start_s,
                          situ_err *err)
{
    char scen[32], wall[40];
    situ_store_time(start_s + r->scen_ms / 1000, scen);
    situ__drill_rfc3339(r->wall_ms, wall);
    situ_db_bind_int64(q, 1, r->scen_ms);
    situ_db_bind_text(q, 2, r->scen_at[0] ? r->scen_at : scen, -1);
    situ_db_bind_text(q, 3, wall, -1);
    const char *text[] = {r->actor, r->action, r->inject_id, r->dept,
                          r->kind,  r->result, r->field,     r->reason};
    for (int k = 0; k < 8; k++)
        bind_opt_text(q, k + 4, text[k]);
    if (r->has_due) {
        situ_db_bind_int64(q, 12, r->due_ms);
        situ_db_bind_int64(q, 13, r->delay_ms);
    }
    situ_db_bind_text(q, 14, r->features.n ? r->features.p : "[]", -1);
    for (int k = 0; r->has_box && k < 4; k++)
        situ_db_bind_double(q, 15 + k, r->box[k]);
    bind_opt_text(q, 19, r->expected);
    bind_opt_text(q, 20, r->detail);
    situ_db_bind_int64(q, 21, r->cap);
    bind_opt_text(q, 22, r->body);
    int rc = situ_db_step(q);
    situ_db_reset(q);
    situ_db_clear_bindings(q);
    if (r->features.oom)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    return rc == SITU_DB_DONE ? 0
                              : situ_err_set(err, SITU_EDB, "drill_record: %s", situ_db_errmsg(db));
}

const char situ__drill_row_sql[] =
    "INSERT INTO drill_record (scenario_ms, scenario_at, wall_at, actor, action, inject_id, "
    "dept, kind, result, field, reason, due_ms, delay_ms, features, minx, miny, maxx, maxy, "
    "expected, detail, cap, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
    "?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)";

/* ---- applying --------------------------------------------------------------------- */

/* Parses body as dept's at scenario second at_s; SITU_E... with e set when
 * the feeds would refuse the whole body. */
static int parse_at(situ_drill_play *p, const char *dept, int cap, const char *body, size_t n,
                    long long at_s, situ_feed_batch **out, situ_err *e)
{
    const situ_coll *towns = p->snap ? p->snap->colls[SITU_C_TOWNSHIPS] : NULL;
    return cap ? situ_cap_parse_exercise_at(dept, body, n, towns, at_s, out, e)
               : situ_feed_parse_at(dept, body, n, at_s, out, e);
}

/* Writes record row r, after applying batch b when given, in one
 * transaction; then tells the caller of b (opts.applied). r->features is
 * disposed. */
static int commit_row(situ_drill_play *p, situ_feed_batch *b, situ__drill_row *r, situ_err *err)
{
    int rc = situ_store_begin(p->st, err);
    if (!rc && b && !(rc = situ_feed_apply(p->applier, b, p->snap, err))) {
        row_from_batch(r, b);
        snprintf(r->scen_at, sizeof r->scen_at, "%s", b->received_at);
    }
    if (!rc)
        rc = situ__drill_row_write(p->ins, p->db, r, p->o.start_s, err);
    if (!rc)
        rc = situ_store_commit(p->st, err);
    if (rc)
        situ_store_rollback(p->st);
    situ_buf_dispose(&r->features);
    if (!rc && b && p->o.applied)
        p->o.applied(p->o.ctx, b);
    if (!rc && p->o.recorded)
        p->o.recorded(p->o.ctx, ++p->seq);
    return rc;
}

int situ__drill_play_record(situ_drill_play *p, situ__drill_row *r, situ_err *err)
{
    return commit_row(p, NULL, r, err);
}

int situ__drill_play_body(situ_drill_play *p, situ__drill_row *r, const char *body, size_t n,
                          long long at_s, situ_feed_batch **out_batch, situ_err *err)
{
    situ_feed_batch *b = NULL;
    situ_err e = {0};
    int rc = parse_at(p, r->dept, r->cap, body, n, at_s, &b, &e);
    if (rc) {
        situ_buf_dispose(&r->features);
        return situ_err_set(err, rc, "%s", e.msg);
    }
    r->body = body;
    rc = commit_row(p, b, r, err);
    if (!rc && out_batch)
        *out_batch = b;
    else
        situ_feed_batch_free(b);
    return rc;
}

/* The record row of inject i applied at scenario ms scen while the clock
 * showed clock_ms. */
static void inject_row(const situ_drill_play *p, int i, long long scen, long long clock_ms,
                       long long wall_ms, situ__drill_row *r)
{
    const situ_drill_inject *in = &p->s->injects[i];
    situ__drill_row_init(r, p->asked[i] ? "controller" : "player", "inject");
    r->scen_ms = scen, r->wall_ms = wall_ms, r->inject_id = in->id, r->dept = in->dept;
    r->kind = in->event_type, r->expected = in->expected, r->due_ms = in->offset_ms;
    r->has_due = 1, r->delay_ms = clock_ms - in->offset_ms, r->cap = in->kind == SITU_DRILL_CAP;
}

/* Inject i at scenario ms scen (its offset on schedule; the clock's when
 * asked for). One the feeds refuse is recorded as rejected; only the
 * store's failure is returned. */
static int play_inject(situ_drill_play *p, int i, long long scen, long long clock_ms,
                       long long wall_ms, situ_err *err)
{
    const situ_drill_inject *in = &p->s->injects[i];
    situ__drill_row r;
    inject_row(p, i, scen, clock_ms, wall_ms, &r);
    if (in->kind == SITU_DRILL_NOTE) {
        r.result = "noted", r.detail = in->payload;
        return situ__drill_play_record(p, &r, err);
    }
    situ_buf body;
    situ_buf_init(&body);
    situ_err e = {0};
    long long at_s = p->o.start_s + scen / 1000;
    int rc = situ_drill_inject_body(in, at_s, &body, &e);
    if (!rc && body.oom)
        rc = situ_err_set(&e, SITU_ENOMEM, "out of memory");
    if (!rc)
        rc = situ__drill_play_body(p, &r, body.p, body.n, at_s, NULL, &e);
    if (rc == SITU_EDB || rc == SITU_ENOMEM || rc == SITU_EIO) {
        situ_err_set(err, rc, "%s", e.msg);
    } else if (rc) {
        inject_row(p, i, scen, clock_ms, wall_ms, &r);
        r.result = "rejected", r.field = "payload", r.reason = e.msg;
        rc = situ__drill_play_record(p, &r, err);
    }
    situ_buf_dispose(&body);
    return rc;
}

int situ_drill_play_step(situ_drill_play *p, long long wall_ms, int *out_n, situ_err *err)
{
    int due[64], n, total = 0, rc = 0;
    if (p->stopped)
        return out_n ? (*out_n = 0) : 0;
    while (!rc && (n = situ_drill_sched_due(p->sched, wall_ms, due, 64)) > 0) {
        long long clock = situ_drill_sched_time(p->sched, wall_ms);
        for (int k = 0; !rc && k < n; k++) {
            const situ_drill_inject *in = &p->s->injects[due[k]];
            long long scen = p->asked[due[k]] ? clock : in->offset_ms;
            long long seen = p->speed == SITU_DRILL_SPEED_MAX && !p->asked[due[k]] ? scen : clock;
            rc = play_inject(p, due[k], scen, seen, wall_ms, err);
            total += !rc;
        }
        if (n < 64)
            break;
    }
    if (!rc && situ_drill_sched_finished(p->sched) && !p->finish_recorded) {
        situ__drill_row r;
        situ__drill_row_init(&r, "player", "finish");
        r.scen_ms = situ_drill_sched_time(p->sched, wall_ms), r.wall_ms = wall_ms;
        r.detail = "every inject issued or skipped";
        if (!(rc = situ__drill_play_record(p, &r, err)))
            p->finish_recorded = 1;
    }
    if (out_n)
        *out_n = total;
    return rc;
}

/* ---- open and close ---------------------------------------------------------------- */

static void speed_name(int speed, char out[8])
{
    if (speed == SITU_DRILL_SPEED_MAX)
        snprintf(out, 8, "max");
    else
        snprintf(out, 8, "%d", speed);
}

static int check_store(situ_drill_play *p, situ_err *err)
{
    char id[SITU_FEED_ID_MAX + 1];
    int rc = situ_drill_store_exercise(p->st, id, err);
    if (!rc && strcmp(id, p->s->exercise_id))
        rc = situ_err_set(err, SITU_EINVAL, "the store is exercise %s's drill, not %s's", id,
                          p->s->exercise_id);
    return rc;
}

/* Reads the record's last seq: rows are numbered by this player alone. */
static int last_seq(situ_drill_play *p, situ_err *err)
{
    situ_db_stmt *q = NULL;
    int rc = situ_db_prepare(p->db, "SELECT coalesce(max(seq), 0) FROM drill_record", &q, err);
    if (!rc && situ_db_step(q) != SITU_DB_ROW)
        rc = situ_err_set(err, SITU_EDB, "drill_record: %s", situ_db_errmsg(p->db));
    if (!rc)
        p->seq = situ_db_column_int64(q, 0);
    situ_db_finalize(q);
    return rc;
}

static int prepare_player(situ_drill_play *p, long long wall_ms, situ_err *err)
{
    int rc = check_store(p, err);
    if (!rc)
        rc = situ_drill_sched_new(p->s, p->o.speed, wall_ms, &p->sched, err);
    if (!rc)
        rc = situ_feed_applier_new(p->st, &p->applier, err);
    if (!rc)
        rc = situ_db_prepare(p->db, situ__drill_row_sql, &p->ins, err);
    if (!rc)
        rc = last_seq(p, err);
    if (!rc && !p->snap && !(rc = situ_snapshot_load(p->st, &p->own_snap, err)))
        p->snap = p->own_snap;
    if (!rc && !(p->asked = calloc((size_t)p->s->n + 1, 1)))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    return rc;
}

int situ__drill_play_open(situ_store *st, const situ_drill_scenario *s,
                          const situ_drill_play_opts *o, long long wall_ms, const char *detail,
                          situ_drill_play **out, situ_err *err)
{
    if (s->nfaults)
        return situ_err_set(err, SITU_EINVAL, "the scenario has %d fault%s: situ drill check",
                            s->nfaults, s->nfaults == 1 ? "" : "s");
    situ_drill_play *p = calloc(1, sizeof *p);
    if (!p)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    *p = (situ_drill_play){
        .st = st, .db = situ_store_sql(st), .s = s, .o = *o, .snap = o->snap, .speed = o->speed};
    char start[32], speed[8], text[160];
    situ_store_time(o->start_s, start);
    speed_name(o->speed, speed);
    int rc = prepare_player(p, wall_ms, err);
    if (!rc && !(rc = situ__drill_meta_put(p->db, "start", start, err)))
        rc = situ__drill_meta_put(p->db, "speed", speed, err);
    situ__drill_row r;
    situ__drill_row_init(&r, "player", "start");
    r.wall_ms = wall_ms;
    snprintf(text, sizeof text, "%s at speed %s", detail ? detail : "scenario", speed);
    r.detail = text;
    if (!rc)
        rc = situ__drill_play_record(p, &r, err);
    if (rc) {
        situ_buf_dispose(&r.features);
        situ_drill_play_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int situ_drill_play_open(situ_store *st, const situ_drill_scenario *s,
                         const situ_drill_play_opts *o, long long wall_ms, situ_drill_play **out,
                         situ_err *err)
{
    return situ__drill_play_open(st, s, o, wall_ms, NULL, out, err);
}

void situ_drill_play_free(situ_drill_play *p)
{
    if (!p)
        return;
    situ_db_finalize(p->ins);
    situ_feed_applier_free(p->applier);
    situ_drill_sched_free(p->sched);
    situ_snapshot_release(p->own_snap);
    free(p->asked);
    free(p);
}

long long situ_drill_play_next_wall(const situ_drill_play *p, long long wall_ms)
{
    return p->stopped ? -1 : situ_drill_sched_next_wall(p->sched, wall_ms);
}

long long situ_drill_play_time(const situ_drill_play *p, long long wall_ms)
{
    return situ_drill_sched_time(p->sched, wall_ms);
}

int situ_drill_play_finished(const situ_drill_play *p)
{
    return situ_drill_sched_finished(p->sched);
}

int situ_drill_play_stopped(const situ_drill_play *p)
{
    return p->stopped;
}

int situ_drill_play_paused(const situ_drill_play *p)
{
    return situ_drill_sched_paused(p->sched);
}

int situ_drill_play_pending(const situ_drill_play *p)
{
    int n = 0;
    for (int i = 0; i < p->s->n; i++)
        n += situ_drill_sched_state(p->sched, i) == SITU_DRILL_PENDING;
    return n;
}

/* ---- controls ---------------------------------------------------------------------- */

/* Records a control that the clock took (rc 0); returns rc otherwise. */
static int control(situ_drill_play *p, int rc, const char *actor, const char *action,
                   const char *detail, long long wall_ms, situ_err *err)
{
    if (rc)
        return rc;
    situ__drill_row r;
    situ__drill_row_init(&r, actor, action);
    r.scen_ms = situ_drill_sched_time(p->sched, wall_ms), r.wall_ms = wall_ms;
    r.detail = detail;
    return situ__drill_play_record(p, &r, err);
}

static int stopped(const situ_drill_play *p, situ_err *err)
{
    return p->stopped ? situ_err_set(err, SITU_ECONFLICT, "the drill has been stopped") : 0;
}

int situ_drill_play_pause(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err)
{
    int rc = stopped(p, err);
    if (!rc)
        rc = situ_drill_sched_pause(p->sched, wall_ms, err);
    return control(p, rc, actor, "pause", NULL, wall_ms, err);
}

int situ_drill_play_resume(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err)
{
    int rc = stopped(p, err);
    if (!rc)
        rc = situ_drill_sched_resume(p->sched, wall_ms, err);
    return control(p, rc, actor, "resume", NULL, wall_ms, err);
}

int situ_drill_play_speed(situ_drill_play *p, const char *actor, int speed, long long wall_ms,
                          situ_err *err)
{
    char detail[16];
    speed_name(speed, detail);
    int rc = stopped(p, err);
    if (!rc)
        rc = situ_drill_sched_set_speed(p->sched, speed, wall_ms, err);
    if (!rc)
        p->speed = speed;
    return control(p, rc, actor, "speed", detail, wall_ms, err);
}

int situ_drill_play_skip(situ_drill_play *p, const char *actor, long long offset_ms,
                         situ_drill_skip_mode mode, long long wall_ms, situ_err *err)
{
    char to[48], detail[96];
    situ_drill_duration_format(offset_ms, to);
    snprintf(detail, sizeof detail, "to %s, %s the injects passed", to,
             mode == SITU_DRILL_SKIP_DROP ? "dropping" : "applying");
    int rc = stopped(p, err);
    if (!rc)
        rc = situ_drill_sched_skip(p->sched, offset_ms, mode, wall_ms, err);
    return control(p, rc, actor, "skip", detail, wall_ms, err);
}

int situ_drill_play_inject_now(situ_drill_play *p, const char *actor, const char *id,
                               long long wall_ms, situ_err *err)
{
    int rc = stopped(p, err);
    if (!rc)
        rc = situ_drill_sched_inject_now(p->sched, id, err);
    for (int i = 0; !rc && i < p->s->n; i++)
        if (!strcmp(p->s->injects[i].id, id))
            p->asked[i] = 1;
    return control(p, rc, actor, "inject_now", id, wall_ms, err);
}

int situ_drill_play_stop(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err)
{
    int rc = control(p, stopped(p, err), actor, "stop", NULL, wall_ms, err);
    if (!rc)
        p->stopped = 1;
    return rc;
}

int situ_drill_play_post(situ_drill_play *p, const char *actor, const char *dept, int cap,
                         const char *body, size_t n, long long wall_ms, situ_feed_batch **out_batch,
                         situ_err *err)
{
    if (stopped(p, err))
        return SITU_ECONFLICT;
    situ__drill_row r;
    situ__drill_row_init(&r, actor, "post");
    r.scen_ms = situ_drill_sched_time(p->sched, wall_ms), r.wall_ms = wall_ms;
    r.dept = situ_schema_dept_index(dept) >= 0
                 ? situ_schema_dept(situ_schema_dept_index(dept))->code
                 : dept;
    r.kind = cap ? "cap" : "events", r.cap = cap;
    return situ__drill_play_body(p, &r, body, n, p->o.start_s + r.scen_ms / 1000, out_batch, err);
}

/* ---- clocks and the headless loop ---------------------------------------------------- */

static long long epoch0_ms;
static double mono0_s;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void real_init(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    epoch0_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    mono0_s = situ_clock_s();
}

static long long real_now(void *ctx)
{
    (void)ctx;
    pthread_once(&real_once, real_init);
    return epoch0_ms + (long long)((situ_clock_s() - mono0_s) * 1000.0);
}

static void real_sleep(void *ctx, long long wall_ms)
{
    long long ms;
    while ((ms = wall_ms - real_now(ctx)) > 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
}

const situ_drill_clock *situ_drill_clock_real(void)
{
    static const situ_drill_clock real = {real_now, real_sleep, NULL};
    return &real;
}

int situ_drill_play_run(situ_drill_play *p, const situ_drill_clock *c, situ_err *err)
{
    while (!p->stopped) {
        long long now = c->now_ms(c->ctx);
        int rc = situ_drill_play_step(p, now, NULL, err);
        if (rc)
            return rc;
        long long next = situ_drill_play_next_wall(p, now);
        if (next < 0)
            return 0;
        if (next > now)
            c->sleep_until(c->ctx, next);
    }
    return 0;
}

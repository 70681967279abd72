/*
 * situ/drill.h: exercise scenarios (应急演练), without HTTP.
 *
 * Owns the scenario model read from JSON (or imported from the CSV planners
 * write): exercise id, title, objectives, area (township codes) and a
 * timeline of injects, each at an ISO 8601 offset from the drill's start,
 * sent as a department: a feed event of any type, a CAP 1.2 document
 * (status Exercise) or a note to the controllers. Validates every inject
 * with the feeds' own parsers (feed.h, cap.h), naming the inject and the
 * field of each fault; turns an inject into the exact feed body to apply at
 * a given scenario time; and schedules injects (the pure clock below).
 * Plays a scenario into a drill's own store (a copy of the live store,
 * situ_drill_store_create) through the feeds' parser and writer at
 * scenario time, and keeps the drill's record in that store (situ_drill_play_*,
 * situ_drill_record_*, situ_drill_replay). Does not own HTTP or threads (the
 * daemon's: it drives the player with its own clock).
 *
 * Entry points: situ_drill_load / situ_drill_parse / situ_drill_import_csv
 * -> situ_drill_check -> situ_drill_inject_body (or _batch); situ_drill_json;
 * situ_drill_sched_*; situ_drill_store_create -> situ_drill_play_open ->
 * situ_drill_play_run (or _step and the controls) -> situ_drill_record_*.
 */
#ifndef SITU_DRILL_H
#define SITU_DRILL_H

#include <stddef.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/feed.h"
#include "situ/snapshot.h"
#include "situ/store.h"

#define SITU_DRILL_MAX_INJECTS 10000
#define SITU_DRILL_MAX_FILE (8u << 20) /* bytes of a scenario or payload file */
#define SITU_DRILL_MAX_OFFSET_MS (366LL * 86400 * 1000)
#define SITU_DRILL_SPEED_MAX 0 /* "max": as fast as possible */

typedef enum situ_drill_kind {
    SITU_DRILL_EVENT = 1, /* a feed event; event_type says which */
    SITU_DRILL_CAP,       /* a CAP 1.2 alert, status Exercise */
    SITU_DRILL_NOTE,      /* a note to the controllers: applies nothing */
} situ_drill_kind;

typedef struct situ_drill_inject {
    const char *id;           /* unique in the scenario */
    int index;                /* its place in the file (0-based), for messages */
    long long offset_ms;      /* from the drill's start */
    const char *dept;         /* static (schema) department code */
    situ_drill_kind kind;     /* 0 when the inject had no valid kind */
    const char *event_type;   /* "observation", ... for SITU_DRILL_EVENT; "cap"; "note" */
    const char *payload;      /* EVENT: the event object (compact JSON); CAP: XML; NOTE: text */
    const char *payload_file; /* as written in the scenario, or NULL */
    const char *expected;     /* the expected action, or NULL */
} situ_drill_inject;

/* One fault of a scenario: the inject (index -1 for the scenario itself)
 * and the member ("offset", "payload.observed_at", "area[2]"). */
typedef struct situ_drill_fault {
    int index;
    char inject[129]; /* the inject's id, "" when it has none */
    char field[96];
    char reason[320];
} situ_drill_fault;

typedef struct situ_drill_scenario {
    const char *exercise_id, *title;
    const char **objectives;
    int nobjectives;
    const char **area; /* 9-digit township codes */
    int narea;
    situ_drill_inject *injects; /* sorted by (offset_ms, id) */
    int n;
    situ_drill_fault *faults; /* of the model; situ_drill_check adds the payloads' */
    int nfaults;
    void *priv;
} situ_drill_scenario;

/* Parses an ISO 8601 duration "PnDTnHnMnS" (weeks "PnW" too; fractional
 * seconds to the millisecond; a leading '-' when `signed_ok`) into
 * milliseconds. Years and months are refused (their length varies).
 * Returns 0, or SITU_EFORMAT with err saying what is wrong. */
int situ_drill_duration(const char *s, int signed_ok, long long *out_ms, situ_err *err);
/* ms as the shortest ISO 8601 duration ("PT1H30M", "P1DT0.5S", "PT0S"). */
void situ_drill_duration_format(long long ms, char out[48]);
/* "1".."60" or "max" (SITU_DRILL_SPEED_MAX); 0 or SITU_EINVAL. */
int situ_drill_speed_parse(const char *s, int *out_speed, situ_err *err);

/* Reads a JSON scenario. base_dir resolves payload_file members (a
 * relative path inside it; NULL: payload files are refused). Returns 0
 * with *out (faults of the model listed in it), SITU_EFORMAT when text is
 * not a JSON object (err gives line and column), SITU_ELIMIT past
 * SITU_DRILL_MAX_INJECTS. */
int situ_drill_parse(const char *text, size_t n, const char *base_dir, situ_drill_scenario **out,
                     situ_err *err);

/* The CSV planners write: a header row naming the columns (English or
 * Chinese: offset/时间, dept/发送部门, kind/类型, payload/内容,
 * payload_file/载荷文件, expected_action/预期行动, id/编号), then one inject
 * per row. UTF-8 with or without BOM, or GBK (GB18030) as `situ load`
 * reads undeclared text; offsets as ISO 8601 or H:MM[:SS]; departments
 * by code or Chinese name; a payload cell that is only a relative path to
 * a .json, .xml or .txt file is a payload file. */
typedef struct situ_drill_csv_opts {
    const char *exercise_id, *title; /* NULL: "" (a fault) */
    const char *const *objectives;
    int nobjectives;
    const char *const *area;
    int narea;
} situ_drill_csv_opts;
/* Reads the CSV text into a scenario as situ_drill_parse does; *out_gbk
 * (may be NULL) is set when the text was read as GBK. */
int situ_drill_import_csv(const char *text, size_t n, const char *base_dir,
                          const situ_drill_csv_opts *o, situ_drill_scenario **out, int *out_gbk,
                          situ_err *err);
/* Reads a scenario file: CSV when it ends in .csv (o may be NULL), else
 * JSON; payload files relative to its folder. */
int situ_drill_load(const char *path, const situ_drill_csv_opts *o, situ_drill_scenario **out,
                    int *out_gbk, situ_err *err);
void situ_drill_free(situ_drill_scenario *s);

/* Appends the scenario as a JSON scenario document (payloads inline, in
 * (offset, id) order), which situ_drill_parse reads back to the same. */
void situ_drill_json(const situ_drill_scenario *s, situ_buf *out);

/* Validates every inject as its feed would at its time: its body
 * (situ_drill_inject_body) through situ_feed_parse, a CAP through
 * situ_cap_parse_exercise; unique event ids per department. With snap
 * (may be NULL) also what the store must hold: the area's townships, the
 * features updated, the stations reported on, CAP geocodes. Appends the
 * faults to s->faults; returns 0 (see s->nfaults), or a negative code
 * when out of memory. */
int situ_drill_check(situ_drill_scenario *s, const situ_snapshot *snap, situ_err *err);

/* The feed body of inject in at scenario time `at` (seconds since the
 * epoch): for an event {"events": [payload]} with "id" (the inject's id
 * when the payload has none) and "type", observed_at the inject's time
 * when absent, and each time member given as a duration ("PT6H", "-PT10M")
 * resolved from `at`; for a CAP its XML with <sent> at `at` and the other
 * times moved as much. Returns 0, SITU_EINVAL for a note (nothing to
 * apply), or SITU_EFORMAT naming the field (err). */
int situ_drill_inject_body(const situ_drill_inject *in, long long at, situ_buf *out, situ_err *err);
/* The body parsed by the feeds' parser at scenario time at (its received_at, and
 * what "future" means) into a batch of one event, as a
 * department's post would be (townships resolves CAP geocodes, may be
 * NULL). The event may be REJECTED: see its field and reason. */
int situ_drill_inject_batch(const situ_drill_inject *in, long long at, const situ_coll *townships,
                            situ_feed_batch **out_batch, situ_err *err);

/* ---- the scheduling clock ----------------------------------------------------
 *
 * Pure and deterministic: the caller passes wall times (milliseconds of a
 * monotonic clock) and gets which injects are due, in (offset, id) order,
 * inject-now requests first. Scenario time = scen0 + (wall - wall0) * speed
 * while running; at speed max every pending inject is due at once.
 *
 *     running --pause--> paused --resume--> running
 *        |  set_speed / skip (forward only) / inject_now, either state
 *        +--- every inject issued or skipped ---> finished
 *
 * Each inject is issued once: PENDING -> ISSUED (due) or SKIPPED (passed by
 * a skip that drops). Not thread-safe: the caller locks. */
typedef enum situ_drill_state {
    SITU_DRILL_PENDING = 0,
    SITU_DRILL_ISSUED,
    SITU_DRILL_SKIPPED,
} situ_drill_state;

typedef enum situ_drill_skip_mode {
    SITU_DRILL_SKIP_APPLY = 0, /* the passed injects fall due at once, in order */
    SITU_DRILL_SKIP_DROP,      /* the passed injects are skipped, never applied */
} situ_drill_skip_mode;

typedef struct situ_drill_sched situ_drill_sched;
/* A clock over s (which must outlive it) started at wall_ms, running.
 * Returns 0, SITU_EINVAL for a speed outside 1..60 and not max, or
 * SITU_ENOMEM. */
int situ_drill_sched_new(const situ_drill_scenario *s, int speed, long long wall_ms,
                         situ_drill_sched **out, situ_err *err);
void situ_drill_sched_free(situ_drill_sched *c);
/* Scenario milliseconds since the start at wall_ms (never backwards; at
 * speed max the offset of the last inject issued). */
long long situ_drill_sched_time(const situ_drill_sched *c, long long wall_ms);
/* Control; each returns 0, or SITU_ECONFLICT when it does not apply now
 * (pause when paused, resume when running, anything once finished) and
 * SITU_EINVAL for a bad argument (a speed, a skip backwards, an unknown or
 * already issued inject), with err saying which. */
int situ_drill_sched_pause(situ_drill_sched *c, long long wall_ms, situ_err *err);
int situ_drill_sched_resume(situ_drill_sched *c, long long wall_ms, situ_err *err);
int situ_drill_sched_set_speed(situ_drill_sched *c, int speed, long long wall_ms, situ_err *err);
int situ_drill_sched_skip(situ_drill_sched *c, long long offset_ms, situ_drill_skip_mode mode,
                          long long wall_ms, situ_err *err);
int situ_drill_sched_inject_now(situ_drill_sched *c, const char *id, situ_err *err);
/* Writes into out[0..max) the indices (into s->injects) of the injects due
 * at wall_ms, in order, and marks them ISSUED; returns how many. Call
 * again while it returns max. */
int situ_drill_sched_due(situ_drill_sched *c, long long wall_ms, int *out, int max);
/* The wall time at which the next inject falls due (<= wall_ms: now), or -1
 * when paused or none is pending: for the caller's timer. */
long long situ_drill_sched_next_wall(const situ_drill_sched *c, long long wall_ms);
situ_drill_state situ_drill_sched_state(const situ_drill_sched *c, int i);
int situ_drill_sched_paused(const situ_drill_sched *c);
/* 1 once no inject is pending. */
int situ_drill_sched_finished(const situ_drill_sched *c);

/* ---- the drill's store -------------------------------------------------------
 *
 * A drill plays into a store of its own: a copy of the live store taken at
 * one committed moment, tagged with the exercise (table drill_meta) and
 * holding the drill's record (table drill_record). The live store is only
 * read. A SpatiaLite live store is copied with SQLite's online backup
 * (situ_store_backup); a PostgreSQL one into a new SpatiaLite file with
 * situ_store_migrate (one consistent read), so a drill never writes to the
 * cluster either. */

/* Creates the drill store dst from the live store live (a file or a libpq
 * URL) for scenario s (whose exercise id and scenario it keeps): written
 * under a temporary name beside dst and renamed over it only when complete.
 * dst must not exist unless force. Returns 0, SITU_ECONFLICT when dst
 * exists, SITU_EINVAL for a scenario with faults, or the copy's error. */
int situ_drill_store_create(const char *live, const char *dst, const situ_drill_scenario *s,
                            int force, situ_err *err);
/* Reads the exercise id the drill store s holds into out (empty when the
 * store is not a drill's). Returns 0, or SITU_EINVAL when it is not one. */
int situ_drill_store_exercise(situ_store *s, char out[SITU_FEED_ID_MAX + 1], situ_err *err);
/* The scenario the drill store s keeps (free it with situ_drill_free).
 * Returns 0, or SITU_EINVAL when s is not a drill's. */
int situ_drill_store_scenario(situ_store *s, situ_drill_scenario **out, situ_err *err);

/* ---- the player ----------------------------------------------------------------
 *
 * Applies the scenario's injects to the drill store as they fall due on the
 * scheduling clock above, each parsed by the feeds' parser at its scenario
 * time (situ_feed_parse_at: received_at, updated_at and the log are
 * scenario times) and written by situ_feed_apply in a transaction of its
 * own, with its record row in the same transaction. An inject falling due
 * on schedule (or passed by a skip that applies) is applied at its own
 * scenario time (start + offset), so the
 * same scenario played at any speed ends in the same store; one asked for
 * with inject_now at the scenario time it was asked at. An inject the feed
 * rejects then (a feature deleted meanwhile, a conflict) is recorded with
 * its field and reason, and the drill goes on.
 *
 *     open --> running <--pause/resume--> paused
 *                 |  skip, speed, inject_now, post: either state
 *                 +-- every inject issued --> finished (posts still taken)
 *     any --stop--> stopped (nothing more is taken)
 *
 * Every function takes wall_ms, the caller's clock (ms since the epoch):
 * the daemon's real clock, or a test's virtual one. Not thread-safe: the
 * caller locks. */
typedef struct situ_drill_play situ_drill_play;

typedef struct situ_drill_play_opts {
    int speed;         /* 1..60 or SITU_DRILL_SPEED_MAX */
    long long start_s; /* the scenario time of offset 0 (seconds since the epoch) */
    /* townships (CAP geocodes) and township codes of new stations; NULL:
     * loaded from the drill store at open. Borrowed for the player's life. */
    const situ_snapshot *snap;
    /* Called after each commit with the batch applied (its changes), for
     * the daemon to rebuild and push; may be NULL. */
    void (*applied)(void *ctx, const situ_feed_batch *b);
    /* Called after each row of the record is committed with its seq (in
     * drill_record), for a timeline or progress; may be NULL. */
    void (*recorded)(void *ctx, long long seq);
    void *ctx;
} situ_drill_play_opts;

/* A player of scenario s (which must outlive it; checked: no faults) into
 * the drill store st (borrowed), started at wall_ms. Records the start.
 * Returns 0, SITU_EINVAL (a speed, a faulty scenario, a store that is not
 * this exercise's drill store), or the store's error. */
int situ_drill_play_open(situ_store *st, const situ_drill_scenario *s,
                         const situ_drill_play_opts *o, long long wall_ms, situ_drill_play **out,
                         situ_err *err);
/* Closes the player (not the store); NULL is a no-op. */
void situ_drill_play_free(situ_drill_play *p);
/* Applies every inject due at wall_ms, in order; *out_n (may be NULL) gets
 * how many. Returns 0, or the store's error (the inject then is not
 * applied, and stays issued: the caller stops the drill). */
int situ_drill_play_step(situ_drill_play *p, long long wall_ms, int *out_n, situ_err *err);
/* The wall time of the next due inject (situ_drill_sched_next_wall), -1
 * when none will fall due without a control (paused, finished, stopped). */
long long situ_drill_play_next_wall(const situ_drill_play *p, long long wall_ms);
/* Scenario ms since the start at wall_ms. */
long long situ_drill_play_time(const situ_drill_play *p, long long wall_ms);
int situ_drill_play_finished(const situ_drill_play *p);
int situ_drill_play_stopped(const situ_drill_play *p);
int situ_drill_play_paused(const situ_drill_play *p);
/* Injects neither issued nor skipped yet. */
int situ_drill_play_pending(const situ_drill_play *p);

/* The controls, recorded with who asked (actor: "controller", a token's
 * label, ...). 0, or as situ_drill_sched_*: SITU_ECONFLICT when it does not
 * apply now (a stopped drill), SITU_EINVAL for a bad argument. */
int situ_drill_play_pause(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err);
int situ_drill_play_resume(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err);
int situ_drill_play_speed(situ_drill_play *p, const char *actor, int speed, long long wall_ms,
                          situ_err *err);
int situ_drill_play_skip(situ_drill_play *p, const char *actor, long long offset_ms,
                         situ_drill_skip_mode mode, long long wall_ms, situ_err *err);
int situ_drill_play_inject_now(situ_drill_play *p, const char *actor, const char *id,
                               long long wall_ms, situ_err *err);
int situ_drill_play_stop(situ_drill_play *p, const char *actor, long long wall_ms, situ_err *err);

/* A controller's post into the drill, applied at the scenario time of
 * wall_ms as department dept's: a feed batch ({"events": [...]}) or, when
 * cap, one CAP 1.2 alert, which must have <status>Exercise</status> (an
 * Actual one is refused, SITU_EINVAL naming the status). On success
 * *out_batch (to free) holds each event's result; the post is recorded.
 * Returns SITU_EFORMAT / SITU_ELIMIT / SITU_ENOTFOUND as the feeds do,
 * SITU_ECONFLICT once stopped, or the store's error. */
int situ_drill_play_post(situ_drill_play *p, const char *actor, const char *dept, int cap,
                         const char *body, size_t n, long long wall_ms, situ_feed_batch **out_batch,
                         situ_err *err);

/* A clock for situ_drill_play_run: now_ms (ms since the epoch) and a sleep
 * until a wall time. */
typedef struct situ_drill_clock {
    long long (*now_ms)(void *ctx);
    void (*sleep_until)(void *ctx, long long wall_ms);
    void *ctx;
} situ_drill_clock;
/* The real clock: the epoch read once, then CLOCK_MONOTONIC (a step of the
 * system clock does not move a drill). */
const situ_drill_clock *situ_drill_clock_real(void);
/* Plays to the end on clock c: steps, sleeps until the next inject, again,
 * until finished, stopped or paused. 0, or the store's error. */
int situ_drill_play_run(situ_drill_play *p, const situ_drill_clock *c, situ_err *err);

/* ---- the record ------------------------------------------------------------------
 *
 * Table drill_record of the drill store: one row per inject and per action
 * of the player or a controller, in order, with its scenario time, wall
 * time, department, the features it touched and its result. */

/* The record as a GeoJSON FeatureCollection (a timeline): one Feature per
 * row, in order, its geometry the box of the features it touched (null
 * when none), its properties the row. */
int situ_drill_record_geojson(situ_store *st, situ_buf *out, situ_err *err);
/* The record as CSV, one line per inject: its id, offset, department,
 * kind, the expected action, what happened (result, the features touched
 * or the reason), when it was applied and its delay (scenario seconds
 * after its offset; negative when asked for early). */
int situ_drill_record_csv(situ_store *st, situ_buf *out, situ_err *err);
/* Replays the drill whose record src holds into the drill store dst (made
 * from the same live store, situ_drill_store_create): every inject and post
 * that was applied, with the body and at the scenario time it was applied
 * at, in record order, flat-out. *out_n (may be NULL) gets how many. */
int situ_drill_replay(situ_store *src, situ_store *dst, int *out_n, situ_err *err);

#endif

/*
 * feed_apply.c: applying validated events to the store, inside the caller's
 * transaction. Per batch: the seq lock and the log's last seq, one
 * duplicate check of every event id against event_log (duplicates within
 * the batch are found in memory), a savepoint around the whole batch; per
 * event the change itself (a table of appliers by event type); then the
 * batch's log rows, many per INSERT. An event that is rejected before it
 * wrote anything (an unknown feature, a station past the department's
 * quota, an alert that was never sent: the appliers check these first)
 * needs nothing undone. One that the store refused, or that was rejected
 * after a write, rolls the batch's savepoint back and the batch is applied
 * again the careful way, a savepoint per event, as it was before: same
 * answers, same rows, only slower. A failure of the store itself is
 * returned for the caller to roll everything back.
 *
 * Station ids are per department, as alert ids are: department D's station
 * S is the feature "D:S" (what D's readings and registrations create), or a
 * station S loaded from a file whose dept is D. Another department's
 * stations are out of D's reach; D's readings create at most station_quota
 * stations, its "station" registrations any number.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/db.h"

#include "feed_int.h"

/* Ids per duplicate check and log rows per INSERT: statements of 1, 2, 4
 * ... CHUNK_MAX, prepared when first needed. A duplicate check pads its
 * list with the last id; the log rows of a batch go out in chunks of the
 * sizes that add up to their count. 7 parameters a row: under libpq's 7000
 * (store.c's rows_per_statement). */
#define CHUNKS 8
#define CHUNK_MAX (1 << (CHUNKS - 1))

struct situ_feed_applier {
    situ_store *s;
    situ_db *db;
    situ_db_stmt *log_last, *sp_begin, *sp_release, *sp_rollback;
    situ_db_stmt *batch_begin, *batch_release, *batch_rollback;
    situ_db_stmt *dup_check[CHUNKS], *log_insert[CHUNKS];
    situ_db_stmt *st_read, *st_reading, *st_online, *st_move;
    situ_db_stmt *alert_read, *alert_cancel, *item_set, *item_del;
    situ_db_stmt *st_count, *st_rename;
    situ_db_stmt *closure_read, *closure_put, *closure_end;
    situ_db_stmt *seq_lock, *notify; /* PostgreSQL only: NULL on SQLite */
    int station_quota;
    long long seq;    /* the log's last seq, read at each situ_feed_apply */
    long long writes; /* write statements tried: was an event rejected after one? */
    situ_db_stmt *bbox[SITU_NCOLLECTIONS];
};

#define STEP_REFUSED 1 /* the store refused this event (a constraint) */
/* Rejects ev for what the store holds; 0: the store itself did not fail. */
#define REFUSE(ev, field, ...) (situ__feed_reject((ev), (field), __VA_ARGS__), 0)

/* ---- statements -------------------------------------------------------------- */

/* The seq lock, and a WAL record of the transaction's own. Why the record:
 * PostgreSQL shows a commit to other sessions as soon as it is in the
 * primary's WAL, while its own session still waits for the synchronous
 * standby, or was cut off waiting (its client then got an error, not an
 * ack). A retry that finds every event already logged writes nothing, and
 * a COMMIT that wrote no WAL (an xid alone is not enough: xact.c's
 * RecordTransactionCommit waits only "if this backend assigned an xid and
 * wrote WAL") returns at once without waiting for any standby: the retry
 * would be acknowledged while the original may still be missing there, and
 * lost in a failover. A transactional logical message (allowed to any role,
 * at wal_level replica too) gives the transaction an xid and WAL, so its
 * COMMIT writes a commit record after the original's and waits
 * (remote_apply) until the standby has applied it, and so the original. */
#define SEQ_LOCK_SQL SITU_SEQ_LOCK_SQL

static int prepare(situ_feed_applier *a, situ_db_stmt **st, const char *sql, situ_err *err)
{
    situ_err e = {0};
    if (situ_db_prepare(a->db, sql, st, &e) == 0)
        return 0;
    return situ_err_set(err, SITU_EDB, "feeds: %s", e.msg);
}

int situ_feed_applier_new(situ_store *s, situ_feed_applier **out, situ_err *err)
{
    situ_feed_applier *a = calloc(1, sizeof *a);
    if (!a)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    a->s = s;
    a->db = situ_store_sql(s);
    a->station_quota = SITU_FEED_STATION_QUOTA;
    const struct {
        situ_db_stmt **st;
        const char *sql;
    } sql[] = {
        {&a->log_last, "SELECT max(seq) FROM event_log"},
        {&a->sp_begin, "SAVEPOINT feed_event"},
        {&a->sp_release, "RELEASE SAVEPOINT feed_event"},
        {&a->sp_rollback, "ROLLBACK TO SAVEPOINT feed_event"},
        {&a->batch_begin, "SAVEPOINT feed_batch"},
        {&a->batch_release, "RELEASE SAVEPOINT feed_batch"},
        {&a->batch_rollback, "ROLLBACK TO SAVEPOINT feed_batch"},
        /* a station "D:S" or a loaded S of D's: two lookups by key in one
         * statement (an IN list made SQLite scan the department's index) */
        {&a->st_read, "SELECT id, kind, observed_at, threshold, ST_X(geom), ST_Y(geom) "
                      "FROM stations WHERE id = ?1 AND dept = ?2 UNION ALL "
                      "SELECT id, kind, observed_at, threshold, ST_X(geom), ST_Y(geom) "
                      "FROM stations WHERE id = ?3 AND dept = ?2"},
        {&a->st_count, "SELECT count(*) FROM stations WHERE dept = ?1"},
        {&a->st_rename, "UPDATE stations SET name = ?2, kind = ?3, updated_at = ?4 WHERE id = ?1"},
        {&a->st_reading, "UPDATE stations SET metric = ?2, value = ?3, observed_at = ?4, "
                         "status = ?5, online = 1, updated_at = ?6 WHERE id = ?1"},
        {&a->st_online, "UPDATE stations SET online = ?2, status = ?3, observed_at = ?4, "
                        "updated_at = ?5 WHERE id = ?1"},
        {&a->st_move, "UPDATE stations SET geom = ST_GeomFromWKB(?2, 4326), township_code = ?3, "
                      "updated_at = ?4 WHERE id = ?1"},
        {&a->alert_read, "SELECT dept, ST_MinX(geom), ST_MinY(geom), ST_MaxX(geom), "
                         "ST_MaxY(geom) FROM alerts WHERE id = ?1"},
        {&a->alert_cancel, "UPDATE alerts SET status = 'cancelled', updated_at = ?2 WHERE id = ?1"},
        {&a->item_set, "INSERT INTO resource_items (resource_id, item, quantity, unit, updated_at) "
                       "VALUES (?1, ?2, ?3, (SELECT unit FROM items WHERE code = ?2), ?4) "
                       "ON CONFLICT(resource_id, item) DO UPDATE SET quantity = "
                       "excluded.quantity, updated_at = excluded.updated_at"},
        {&a->item_del, "DELETE FROM resource_items WHERE resource_id = ?1 AND item = ?2"},
        {&a->closure_read, "SELECT ended_at, ST_MinX(geom), ST_MinY(geom), ST_MaxX(geom), "
                           "ST_MaxY(geom), radius_m FROM road_closures WHERE id = ?1"},
        /* geom: an area's WKB is a MultiPolygon already (feed_geom.c), a
         * circle's its centre Point */
        {&a->closure_put,
         "INSERT INTO road_closures (id, dept, reason, until, radius_m, geom, created_at, "
         "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ST_GeomFromWKB(?6, 4326), ?7, ?7) "
         "ON CONFLICT(id) DO UPDATE SET reason = excluded.reason, until = excluded.until, "
         "radius_m = excluded.radius_m, geom = excluded.geom, updated_at = excluded.updated_at, "
         "ended_at = NULL"},
        {&a->closure_end, "UPDATE road_closures SET ended_at = ?2, updated_at = ?2 WHERE id = ?1"},
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
        if (prepare(a, sql[i].st, sql[i].sql, err))
            goto fail;
    if (situ_db_engine_of(a->db) == SITU_DB_POSTGRES &&
        (prepare(a, &a->seq_lock, SEQ_LOCK_SQL, err) ||
         prepare(a, &a->notify, "SELECT pg_notify('" SITU_SEQ_CHANNEL "', ?1)", err)))
        goto fail;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        char q[256];
        snprintf(q, sizeof q,
                 "SELECT ST_MinX(geom), ST_MinY(geom), ST_MaxX(geom), ST_MaxY(geom) FROM \"%s\" "
                 "WHERE id = ?1",
                 situ_schema_collection((situ_coll_id)i)->id);
        if (prepare(a, &a->bbox[i], q, err))
            goto fail;
    }
    *out = a;
    return 0;
fail:
    situ_feed_applier_free(a);
    return SITU_EDB;
}

void situ_feed_applier_free(situ_feed_applier *a)
{
    if (!a)
        return;
    situ_db_stmt **all[] = {
        &a->log_last,      &a->sp_begin,       &a->sp_release,   &a->sp_rollback, &a->batch_begin,
        &a->batch_release, &a->batch_rollback, &a->st_read,      &a->st_reading,  &a->st_online,
        &a->st_move,       &a->alert_read,     &a->alert_cancel, &a->item_set,    &a->item_del,
        &a->st_count,      &a->st_rename,      &a->closure_read, &a->closure_put, &a->closure_end,
        &a->seq_lock,      &a->notify};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        situ_db_finalize(*all[i]);
    for (int i = 0; i < CHUNKS; i++) {
        situ_db_finalize(a->dup_check[i]);
        situ_db_finalize(a->log_insert[i]);
    }
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_db_finalize(a->bbox[i]);
    free(a);
}

/* Whether the store's last failure refused this event (a constraint, a
 * value of the wrong type or size: SITU_ECONFLICT; or a feature the store
 * turned down before any SQL, the connection's last call having succeeded)
 * rather than the store failing (busy, connection lost: SITU_EDB, 503). */
static int refused(situ_feed_applier *a)
{
    int code = situ_db_errcode(a->db);
    return code == SITU_ECONFLICT || code == 0;
}

/* Steps a write and resets it: 0 done, STEP_REFUSED (ev rejected) when a
 * constraint refused this event, SITU_EDB when the store failed. */
static int write_step(situ_feed_applier *a, situ_db_stmt *st, situ_feed_event *ev)
{
    a->writes++;
    int rc = situ_db_step(st);
    int refuse = rc < 0 && refused(a);
    if (refuse)
        situ__feed_reject(ev, "", "the store refused it: %s", situ_db_errmsg(a->db));
    situ_db_reset(st);
    situ_db_clear_bindings(st);
    if (rc == SITU_DB_DONE || rc == SITU_DB_ROW)
        return 0;
    return refuse ? STEP_REFUSED : SITU_EDB;
}

static int exec_stmt(situ_db_stmt *st)
{
    int rc = situ_db_step(st);
    situ_db_reset(st);
    return rc == SITU_DB_DONE ? 0 : SITU_EDB;
}

/* Reads the box of feature id of collection cid: 1 found, 0 not, < 0 failed. */
static int read_bbox(situ_feed_applier *a, situ_coll_id cid, const char *id, double out[4])
{
    situ_db_stmt *st = a->bbox[cid];
    situ_db_bind_text(st, 1, id, -1);
    int rc = situ_db_step(st);
    if (rc == SITU_DB_ROW)
        for (int i = 0; i < 4; i++)
            out[i] = situ_db_column_double(st, i);
    situ_db_reset(st);
    return rc == SITU_DB_ROW ? 1 : rc == SITU_DB_DONE ? 0 : SITU_EDB;
}

static int add_change(situ_feed_event *ev, situ_coll_id cid, situ_change_kind kind, const char *id,
                      const double bbox[4], const double *old_bbox)
{
    situ_feed_change *p = realloc(ev->changes, (size_t)(ev->nchanges + 1) * sizeof *p);
    if (!p)
        return SITU_ENOMEM;
    ev->changes = p;
    situ_feed_change *c = &p[ev->nchanges++];
    memset(c, 0, sizeof *c);
    c->cid = cid;
    c->kind = kind;
    snprintf(c->id, sizeof c->id, "%s", id);
    memcpy(c->bbox, bbox, sizeof c->bbox);
    if (old_bbox) {
        memcpy(c->old_bbox, old_bbox, sizeof c->old_bbox);
        c->has_old = 1;
    }
    return 0;
}

static void set_value(situ_value *v, const situ_collection *c, const char *name, situ_value x)
{
    int i = situ_schema_field_index(c, name);
    if (i >= 0)
        v[i] = x;
}

static situ_value text_value(const char *text)
{
    situ_value v = {text ? SITU_FT_TEXT : 0, {.s = text}};
    return v;
}
#define TEXT(x) text_value(x)
#define REAL(x) ((situ_value){SITU_FT_REAL, {.d = (x)}})

/* Inserts or replaces a whole feature; 0, STEP_REFUSED or SITU_EDB. */
static int upsert(situ_feed_applier *a, situ_feed_event *ev, const situ_collection *c,
                  const situ_feature_in *f, int *out_inserted)
{
    situ_err e = {0};
    a->writes++;
    int rc = situ_store_upsert(a->s, c, f, out_inserted, &e);
    if (rc == 0)
        return 0;
    if (refused(a)) {
        situ__feed_reject(ev, "", "the store refused it: %s", e.msg);
        return STEP_REFUSED;
    }
    return SITU_EDB;
}

void situ_feed_applier_set_station_quota(situ_feed_applier *a, int quota)
{
    a->station_quota = quota > 0 ? quota : SITU_FEED_STATION_QUOTA;
}

/* ---- stations: observation, camera and registration ------------------------------ */

typedef struct station_row {
    char id[2 * SITU_FEED_ID_MAX], kind[32], observed_at[32];
    double threshold, x, y;
    int has_threshold;
} station_row;

static void read_station_columns(situ_db_stmt *st, station_row *row)
{
    const char *t;
    snprintf(row->id, sizeof row->id, "%s", (t = situ_db_column_text(st, 0)) ? t : "");
    snprintf(row->kind, sizeof row->kind, "%s", (t = situ_db_column_text(st, 1)) ? t : "");
    snprintf(row->observed_at, sizeof row->observed_at, "%s",
             (t = situ_db_column_text(st, 2)) ? t : "");
    row->has_threshold = situ_db_column_type(st, 3) != SITU_DB_NULL;
    row->threshold = situ_db_column_double(st, 3);
    row->x = situ_db_column_double(st, 4);
    row->y = situ_db_column_double(st, 5);
}

/* Reads department dept's station id ("dept:id", else a loaded id of
 * dept's): 1 found (row->id is its feature id), 0 not, < 0 failed. One
 * statement for both keys (at most two rows, the order chosen here rather
 * than by a sort in SQL). */
static int read_station(situ_feed_applier *a, const char *dept, const char *id, station_row *row)
{
    char mine[2 * SITU_FEED_ID_MAX];
    snprintf(mine, sizeof mine, "%s:%s", dept, id);
    situ_db_stmt *st = a->st_read;
    situ_db_bind_text(st, 1, mine, -1);
    situ_db_bind_text(st, 2, dept, -1);
    situ_db_bind_text(st, 3, id, -1);
    int rc, found = 0;
    while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
        const char *t = situ_db_column_text(st, 0);
        int is_mine = t && !strcmp(t, mine);
        if (!found || is_mine)
            read_station_columns(st, row);
        found = 1;
    }
    situ_db_reset(st);
    return rc != SITU_DB_DONE ? SITU_EDB : found;
}

/* normal / warning (80 % of the threshold) / alarm (at or over it) */
static const char *reading_status(double value, const station_row *row)
{
    if (!row || !row->has_threshold || row->threshold <= 0)
        return "normal";
    return value >= row->threshold ? "alarm" : value >= 0.8 * row->threshold ? "warning" : "normal";
}

/* The station kind a new station gets from its metric's leading word. */
static const char *kind_of_metric(const char *metric)
{
    static const char *const map[][2] = {
        {"rain", "rain_gauge"},   {"precip", "rain_gauge"},   {"water_level", "water_level"},
        {"stage", "water_level"}, {"reservoir", "reservoir"}, {"displacement", "geological"},
        {"crack", "geological"},  {"tilt", "geological"},     {"aqi", "air_quality"},
        {"pm", "air_quality"},    {"fire", "forest_fire"},    {"traffic", "traffic"},
        {"load", "power"},        {"voltage", "power"}};
    for (size_t i = 0; metric && i < sizeof map / sizeof map[0]; i++)
        if (!strncmp(metric, map[i][0], strlen(map[i][0])))
            return map[i][1];
    return "weather";
}

static const char *township_at(const situ_snapshot *snap, double lon, double lat)
{
    long t = snap ? situ_snapshot_locate(snap, lon, lat) : -1;
    return t >= 0 ? snap->colls[SITU_C_TOWNSHIPS]->feats[t].id : NULL;
}

static size_t point_wkb(unsigned char out[21], double lon, double lat)
{
    unsigned int type = 1;
    out[0] = 1;
    memcpy(out + 1, &type, 4);
    memcpy(out + 5, &lon, 8);
    memcpy(out + 13, &lat, 8);
    return 21;
}

/* 1 when dept's readings may create no more stations, 0 when they may,
 * < 0 when the store failed. */
static int over_quota(situ_feed_applier *a, const char *dept)
{
    situ_db_bind_text(a->st_count, 1, dept, -1);
    int rc = situ_db_step(a->st_count);
    long long n = rc == SITU_DB_ROW ? situ_db_column_int64(a->st_count, 0) : 0;
    situ_db_reset(a->st_count);
    return rc != SITU_DB_ROW ? SITU_EDB : n >= a->station_quota;
}

static int create_station(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                          const feed_station *st, const situ_snapshot *snap)
{
    if (!st->has_loc)
        return REFUSE(ev, "station", "unknown station; give lon and lat to create it");
    int full = st->registration ? 0 : over_quota(a, b->dept);
    if (full)
        return full < 0 ? full
                        : REFUSE(ev, "station",
                                 "%s has its quota of %d stations; register a new one with a "
                                 "\"station\" event",
                                 b->dept, a->station_quota);
    char id[2 * SITU_FEED_ID_MAX];
    snprintf(id, sizeof id, "%s:%s", b->dept, st->station);
    const situ_collection *c = situ_schema_collection(SITU_C_STATIONS);
    situ_value v[32] = {{0}};
    set_value(v, c, "name", TEXT(st->name ? st->name : st->station));
    set_value(v, c, "dept", TEXT(b->dept));
    set_value(v, c, "kind", TEXT(st->kind ? st->kind : kind_of_metric(st->metric)));
    set_value(v, c, "observed_at", TEXT(st->observed_at));
    set_value(v, c, "online", ((situ_value){SITU_FT_BOOL, {.i = st->online != 0}}));
    set_value(v, c, "status", TEXT(st->online == 0 ? "offline" : "normal"));
    if (st->registration) /* no reading yet */
        set_value(v, c, "online", (situ_value){0});
    if (st->has_value) {
        set_value(v, c, "metric", TEXT(st->metric));
        set_value(v, c, "value", REAL(st->value));
    }
    unsigned char wkb[21];
    situ_feature_in f = {.id = id,
                         .township_code = township_at(snap, st->lon, st->lat),
                         .wkb = wkb,
                         .nwkb = point_wkb(wkb, st->lon, st->lat),
                         .values = v,
                         .updated_at = b->received_at};
    int rc = upsert(a, ev, c, &f, NULL);
    double box[4] = {st->lon, st->lat, st->lon, st->lat};
    if (rc == 0 && add_change(ev, SITU_C_STATIONS, SITU_CHANGE_CREATED, id, box, NULL))
        return SITU_ENOMEM;
    return rc;
}

static int move_station(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                        const feed_station *st, const station_row *row, const situ_snapshot *snap)
{
    situ_db_stmt *q = a->st_move;
    const char *town = township_at(snap, st->lon, st->lat);
    unsigned char wkb[21];
    situ_db_bind_text(q, 1, row->id, -1);
    situ_db_bind_blob(q, 2, wkb, (int)point_wkb(wkb, st->lon, st->lat));
    if (town)
        situ_db_bind_text(q, 3, town, -1);
    situ_db_bind_text(q, 4, b->received_at, -1);
    return write_step(a, q, ev);
}

static int write_reading(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                         const feed_station *st, const station_row *row)
{
    situ_db_stmt *q = st->online >= 0 ? a->st_online : a->st_reading;
    situ_db_bind_text(q, 1, row->id, -1);
    if (st->online >= 0) {
        situ_db_bind_int64(q, 2, st->online);
        situ_db_bind_text(q, 3, st->online ? "normal" : "offline", -1);
        situ_db_bind_text(q, 4, st->observed_at, -1);
        situ_db_bind_text(q, 5, b->received_at, -1);
    } else {
        situ_db_bind_text(q, 2, st->metric, -1);
        situ_db_bind_double(q, 3, st->value);
        situ_db_bind_text(q, 4, st->observed_at, -1);
        situ_db_bind_text(q, 5, reading_status(st->value, row), -1);
        situ_db_bind_text(q, 6, b->received_at, -1);
    }
    return write_step(a, q, ev);
}

/* A registration's new name and kind. */
static int rename_station(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                          const feed_station *st, const station_row *row)
{
    situ_db_stmt *q = a->st_rename;
    situ_db_bind_text(q, 1, row->id, -1);
    situ_db_bind_text(q, 2, st->name, -1);
    situ_db_bind_text(q, 3, st->kind, -1);
    situ_db_bind_text(q, 4, b->received_at, -1);
    return write_step(a, q, ev);
}

/* A reading older than the one held is logged but does not replace it. */
static int apply_station(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                         const situ_snapshot *snap)
{
    const feed_station *st = &((feed_item *)ev->priv)->u.st;
    station_row row;
    int rc = read_station(a, b->dept, st->station, &row);
    if (rc <= 0)
        return rc < 0 ? rc : create_station(a, b, ev, st, snap);
    if (st->online >= 0 && strcmp(row.kind, "camera"))
        return REFUSE(ev, "station", "is a %s, not a camera", row.kind);
    int newer = !st->registration && strcmp(st->observed_at, row.observed_at) >= 0;
    int moved = st->has_loc && (st->lon != row.x || st->lat != row.y);
    if (st->registration && (rc = rename_station(a, b, ev, st, &row)))
        return rc;
    if (moved && (rc = move_station(a, b, ev, st, &row, snap)))
        return rc;
    if (newer && (rc = write_reading(a, b, ev, st, &row)))
        return rc;
    double old[4] = {row.x, row.y, row.x, row.y};
    double now[4] = {moved ? st->lon : row.x, moved ? st->lat : row.y, moved ? st->lon : row.x,
                     moved ? st->lat : row.y};
    if ((moved || newer || st->registration) &&
        add_change(ev, SITU_C_STATIONS, SITU_CHANGE_UPDATED, row.id, now, moved ? old : NULL))
        return SITU_ENOMEM;
    return 0;
}

/* ---- feature_update ----------------------------------------------------------------- */

/* UPDATE of the named properties (and updated_at) of one feature. */
static int update_props(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                        const feed_update *u)
{
    situ_buf q;
    situ_buf_init(&q);
    situ_buf_printf(&q, "UPDATE \"%s\" SET ", u->c->id);
    for (int i = 0; i < u->nsets; i++)
        situ_buf_printf(&q, "\"%s\" = ?%d, ", u->c->fields[u->sets[i].field].name, i + 1);
    situ_buf_printf(&q, "updated_at = ?%d WHERE id = ?%d", u->nsets + 1, u->nsets + 2);
    situ_db_stmt *st = NULL;
    int rc = q.oom || situ_db_prepare(a->db, q.p, &st, NULL) ? SITU_EDB : 0;
    situ_buf_dispose(&q);
    if (rc)
        return rc;
    for (int i = 0; i < u->nsets; i++)
        situ_store_bind_value(st, i + 1, &u->sets[i].v);
    situ_db_bind_text(st, u->nsets + 1, b->received_at, -1);
    situ_db_bind_text(st, u->nsets + 2, u->feature_id, -1);
    rc = write_step(a, st, ev);
    situ_db_finalize(st);
    return rc;
}

static int update_items(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                        const feed_update *u)
{
    for (int i = 0; i < u->nitems; i++) {
        const situ_item_qty *q = &u->items[i];
        situ_db_stmt *st = q->quantity < 0 ? a->item_del : a->item_set;
        situ_db_bind_text(st, 1, u->feature_id, -1);
        situ_db_bind_text(st, 2, q->item, -1);
        if (q->quantity >= 0) {
            situ_db_bind_double(st, 3, q->quantity);
            situ_db_bind_text(st, 4, b->received_at, -1);
        }
        int rc = write_step(a, st, ev);
        if (rc)
            return rc;
    }
    return 0;
}

static int apply_update(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                        const situ_snapshot *snap)
{
    (void)snap;
    const feed_update *u = &((feed_item *)ev->priv)->u.upd;
    double box[4];
    int rc = read_bbox(a, u->c->cid, u->feature_id, box);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return REFUSE(ev, "feature_id", "no %s feature '%s'", u->c->id, u->feature_id);
    if ((rc = update_props(a, b, ev, u)) || (rc = update_items(a, b, ev, u)))
        return rc;
    if (add_change(ev, u->c->cid, SITU_CHANGE_UPDATED, u->feature_id, box, NULL))
        return SITU_ENOMEM;
    return 0;
}

/* ---- alerts (JSON and CAP) ------------------------------------------------------ */

/* Reads referenced alert id: 1 when it is dept's (its box in out), 0 when
 * not, < 0 when the store failed. */
static int read_alert_of(situ_feed_applier *a, const char *id, const char *dept, double out[4])
{
    situ_db_stmt *st = a->alert_read;
    situ_db_bind_text(st, 1, id, -1);
    int rc = situ_db_step(st), mine = 0;
    if (rc == SITU_DB_ROW) {
        const char *d = situ_db_column_text(st, 0);
        mine = d && !strcmp(d, dept);
        for (int i = 0; i < 4; i++)
            out[i] = situ_db_column_double(st, i + 1);
    }
    situ_db_reset(st);
    return rc == SITU_DB_ROW ? mine : rc == SITU_DB_DONE ? 0 : SITU_EDB;
}

static int write_alert(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                       const feed_alert *al)
{
    const situ_collection *c = situ_schema_collection(SITU_C_ALERTS);
    situ_value v[32] = {{0}};
    set_value(v, c, "dept", TEXT(b->dept));
    set_value(v, c, "event", TEXT(al->event));
    set_value(v, c, "severity", TEXT(al->severity));
    set_value(v, c, "headline", TEXT(al->headline));
    set_value(v, c, "description", TEXT(al->description));
    set_value(v, c, "onset", TEXT(al->onset[0] ? al->onset : NULL));
    set_value(v, c, "expires", TEXT(al->expires[0] ? al->expires : NULL));
    set_value(v, c, "status", TEXT("active"));
    set_value(v, c, "source", TEXT(al->source));
    set_value(v, c, "cap_identifier", TEXT(al->cap_identifier));
    double old[4];
    int existed = read_bbox(a, SITU_C_ALERTS, al->feature_id, old);
    if (existed < 0)
        return existed;
    situ_feature_in f = {.id = al->feature_id,
                         .wkb = al->wkb,
                         .nwkb = al->nwkb,
                         .values = v,
                         .updated_at = b->received_at};
    int rc = upsert(a, ev, c, &f, NULL);
    if (rc)
        return rc;
    if (add_change(ev, SITU_C_ALERTS, existed ? SITU_CHANGE_UPDATED : SITU_CHANGE_CREATED,
                   al->feature_id, al->bbox, existed ? old : NULL))
        return SITU_ENOMEM;
    return 0;
}

/* alert: a new alert; update: a new alert that cancels the ones it names;
 * cancel: cancels the ones it names. Only the department's own alerts. */
static int apply_alert(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                       const situ_snapshot *snap)
{
    (void)snap;
    const feed_alert *al = &((feed_item *)ev->priv)->u.alert;
    double *boxes = al->nrefs ? malloc((size_t)al->nrefs * 4 * sizeof *boxes) : NULL;
    int rc = al->nrefs && !boxes ? SITU_ENOMEM : 0;
    for (int i = 0; !rc && i < al->nrefs; i++) {
        rc = read_alert_of(a, al->refs[i], b->dept, boxes + 4 * i);
        if (rc == 0) {
            situ__feed_reject(ev, "references", "no alert '%s' from %s",
                              strchr(al->refs[i], ':') + 1, b->dept);
            goto done;
        }
        rc = rc < 0 ? rc : 0;
    }
    if (!rc && al->msg != FEED_MSG_CANCEL)
        rc = write_alert(a, b, ev, al);
    for (int i = 0; !rc && i < al->nrefs; i++) {
        situ_db_bind_text(a->alert_cancel, 1, al->refs[i], -1);
        situ_db_bind_text(a->alert_cancel, 2, b->received_at, -1);
        if (!(rc = write_step(a, a->alert_cancel, ev)) &&
            add_change(ev, SITU_C_ALERTS, SITU_CHANGE_CANCELLED, al->refs[i], boxes + 4 * i, NULL))
            rc = SITU_ENOMEM;
    }
done:
    free(boxes);
    return rc;
}

/* ---- road closures ------------------------------------------------------------- */

/* Reads closure id: 1 found (its box in out, grown by its radius; *out_ended
 * whether it has ended), 0 not, < 0 failed. */
static int read_closure(situ_feed_applier *a, const char *id, double out[4], int *out_ended)
{
    situ_db_stmt *st = a->closure_read;
    situ_db_bind_text(st, 1, id, -1);
    int rc = situ_db_step(st);
    if (rc == SITU_DB_ROW) {
        *out_ended = situ_db_column_type(st, 0) != SITU_DB_NULL;
        for (int i = 0; i < 4; i++)
            out[i] = situ_db_column_double(st, i + 1);
        double r = situ_db_column_double(st, 5) / 111132.0; /* degrees, enough for a box */
        out[0] -= r, out[1] -= r, out[2] += r, out[3] += r;
    }
    situ_db_reset(st);
    return rc == SITU_DB_ROW ? 1 : rc == SITU_DB_DONE ? 0 : SITU_EDB;
}

/* closure: creates closure "dept:id", or replaces it (an ended one starts
 * again). */
static int apply_closure(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                         const situ_snapshot *snap)
{
    (void)snap;
    const feed_closure *c = &((feed_item *)ev->priv)->u.closure;
    double old[4];
    int ended, existed = read_closure(a, c->closure_id, old, &ended);
    if (existed < 0)
        return existed;
    unsigned char pt[21];
    situ_db_stmt *st = a->closure_put;
    situ_db_bind_text(st, 1, c->closure_id, -1);
    situ_db_bind_text(st, 2, b->dept, -1);
    situ_db_bind_text(st, 3, c->reason, -1);
    if (c->until[0])
        situ_db_bind_text(st, 4, c->until, -1);
    if (c->wkb) {
        situ_db_bind_blob(st, 6, c->wkb, (int)c->nwkb);
    } else {
        situ_db_bind_double(st, 5, c->radius_m);
        situ_db_bind_blob(st, 6, pt, (int)point_wkb(pt, c->lon, c->lat));
    }
    situ_db_bind_text(st, 7, b->received_at, -1);
    int rc = write_step(a, st, ev);
    if (rc)
        return rc;
    if (add_change(ev, SITU_FEED_CLOSURES, existed ? SITU_CHANGE_UPDATED : SITU_CHANGE_CREATED,
                   c->closure_id, c->bbox, existed ? old : NULL))
        return SITU_ENOMEM;
    return 0;
}

/* closure_end: ends the department's closure; one that has ended already
 * stays as it is (a resent end changes nothing). */
static int apply_closure_end(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                             const situ_snapshot *snap)
{
    (void)snap;
    const feed_closure *c = &((feed_item *)ev->priv)->u.closure;
    double box[4];
    int ended, rc = read_closure(a, c->closure_id, box, &ended);
    if (rc <= 0)
        return rc < 0 ? rc
                      : REFUSE(ev, "closure", "no closure '%s' from %s",
                               strchr(c->closure_id, ':') + 1, b->dept);
    if (ended)
        return 0;
    situ_db_bind_text(a->closure_end, 1, c->closure_id, -1);
    situ_db_bind_text(a->closure_end, 2, b->received_at, -1);
    if ((rc = write_step(a, a->closure_end, ev)))
        return rc;
    if (add_change(ev, SITU_FEED_CLOSURES, SITU_CHANGE_CANCELLED, c->closure_id, box, NULL))
        return SITU_ENOMEM;
    return 0;
}

/* ---- the log and the loop ------------------------------------------------------ */

typedef int (*apply_fn)(situ_feed_applier *, situ_feed_batch *, situ_feed_event *,
                        const situ_snapshot *);

static const struct {
    const char *log_type;
    apply_fn apply;
} appliers[] = {
    [SITU_FEED_OBSERVATION] = {"observation", apply_station},
    [SITU_FEED_CAMERA] = {"camera", apply_station},
    [SITU_FEED_FEATURE_UPDATE] = {"feature_update", apply_update},
    [SITU_FEED_ALERT] = {"alert", apply_alert},
    [SITU_FEED_CAP] = {"cap", apply_alert},
    [SITU_FEED_STATION] = {"station", apply_station},
    [SITU_FEED_CLOSURE] = {"closure", apply_closure},
    [SITU_FEED_CLOSURE_END] = {"closure_end", apply_closure_end},
};

/* The batch's event ids, sorted, so that an id is found by bisection and
 * repeats share one slot: in_store (logged before the batch) and taken
 * (accepted earlier in it). */
typedef struct batch_ids {
    int n;             /* distinct ids */
    const char **id;   /* [n], sorted */
    int *slot;         /* per event of the batch: its id's index, -1 if not pending */
    char *in_store;    /* [n] */
    char *taken;       /* [n] */
    char *was_pending; /* per event */
} batch_ids;

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int find_id(const batch_ids *ids, const char *id)
{
    const char **p = bsearch(&id, ids->id, (size_t)ids->n, sizeof *ids->id, cmp_str);
    return p ? (int)(p - ids->id) : -1;
}

static void batch_ids_free(batch_ids *ids)
{
    free(ids->id), free(ids->slot), free(ids->in_store), free(ids->taken), free(ids->was_pending);
}

static int batch_ids_make(const situ_feed_batch *b, batch_ids *ids)
{
    size_t n = (size_t)b->n + 1;
    ids->id = malloc(n * sizeof *ids->id);
    ids->slot = malloc(n * sizeof *ids->slot);
    ids->in_store = calloc(n, 1), ids->taken = calloc(n, 1), ids->was_pending = calloc(n, 1);
    if (!ids->id || !ids->slot || !ids->in_store || !ids->taken || !ids->was_pending)
        return SITU_ENOMEM;
    ids->n = 0;
    for (int i = 0; i < b->n; i++)
        if ((ids->was_pending[i] = b->ev[i].status == SITU_FEED_PENDING && b->ev[i].id))
            ids->id[ids->n++] = b->ev[i].id;
    qsort(ids->id, (size_t)ids->n, sizeof *ids->id, cmp_str);
    int k = 0;
    for (int i = 0; i < ids->n; i++)
        if (!k || strcmp(ids->id[k - 1], ids->id[i]))
            ids->id[k++] = ids->id[i];
    ids->n = k;
    for (int i = 0; i < b->n; i++)
        ids->slot[i] = ids->was_pending[i] ? find_id(ids, b->ev[i].id) : -1;
    return 0;
}

/* The statement of chunk size 1 << k: the sql make writes, prepared once. */
static situ_db_stmt *chunk_stmt(situ_feed_applier *a, situ_db_stmt **cache, int k,
                                void (*make)(situ_buf *, int))
{
    if (cache[k])
        return cache[k];
    situ_buf q;
    situ_buf_init(&q);
    make(&q, 1 << k);
    if (!q.oom)
        situ_db_prepare(a->db, q.p, &cache[k], NULL);
    situ_buf_dispose(&q);
    return cache[k];
}

static void dup_check_sql(situ_buf *q, int n)
{
    situ_buf_adds(q, "SELECT event_id FROM event_log WHERE dept = ?1 AND event_id IN (");
    for (int i = 0; i < n; i++)
        situ_buf_printf(q, "%s?%d", i ? ", " : "", i + 2);
    situ_buf_addc(q, ')');
}

static void log_insert_sql(situ_buf *q, int n)
{
    situ_buf_adds(q, "INSERT INTO event_log (dept, event_id, type, received_at, body, changes, "
                     "seq) VALUES ");
    for (int i = 0, p = 1; i < n; i++, p += 7)
        situ_buf_printf(q, "%s(?%d, ?%d, ?%d, ?%d, ?%d, ?%d, ?%d)", i ? ", " : "", p, p + 1, p + 2,
                        p + 3, p + 4, p + 5, p + 6);
}

/* The smallest chunk size 1 << k holding n, capped at CHUNK_MAX. */
static int chunk_for(int n)
{
    int k = 0;
    while (k < CHUNKS - 1 && (1 << k) < n)
        k++;
    return k;
}

/* Marks ids->in_store for the ids dept logged before: one statement per
 * CHUNK_MAX ids. 0, or SITU_EDB. */
static int check_duplicates(situ_feed_applier *a, const situ_feed_batch *b, batch_ids *ids)
{
    for (int at = 0; at < ids->n; at += CHUNK_MAX) {
        int n = ids->n - at < CHUNK_MAX ? ids->n - at : CHUNK_MAX, k = chunk_for(n);
        situ_db_stmt *st = chunk_stmt(a, a->dup_check, k, dup_check_sql);
        if (!st)
            return SITU_EDB;
        situ_db_bind_text(st, 1, b->dept, -1);
        for (int i = 0; i < 1 << k; i++)
            situ_db_bind_text(st, i + 2, ids->id[at + (i < n ? i : n - 1)], -1);
        int rc;
        while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
            int j = find_id(ids, situ_db_column_text(st, 0));
            if (j >= 0)
                ids->in_store[j] = 1;
        }
        situ_db_reset(st);
        if (rc != SITU_DB_DONE)
            return SITU_EDB;
    }
    return 0;
}

/* The JSON array of ev's changes into ch; 0 or SITU_ENOMEM. */
static int changes_json(const situ_feed_event *ev, situ_buf *ch)
{
    situ_buf_init(ch);
    situ_buf_addc(ch, '[');
    for (int i = 0; i < ev->nchanges; i++) {
        if (i)
            situ_buf_addc(ch, ',');
        situ_feed_change_json(&ev->changes[i], ch);
    }
    situ_buf_addc(ch, ']');
    return ch->oom ? SITU_ENOMEM : 0;
}

/* Gives an accepted event the log's next seq (stamped on its changes). */
static void take_seq(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev)
{
    ev->status = SITU_FEED_ACCEPTED;
    ev->seq = ++a->seq;
    for (int i = 0; i < ev->nchanges; i++) {
        situ_feed_change *c = &ev->changes[i];
        c->seq = ev->seq;
        c->dept = b->dept;
        snprintf(c->at, sizeof c->at, "%s", b->received_at);
    }
}

/* Writes the log rows of the n accepted events ev[0..n) (n a chunk size) in
 * one INSERT: 0, STEP_REFUSED (ev[0] rejected for it) or SITU_EDB. */
static int log_chunk(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event **ev, int k)
{
    int n = 1 << k, rc = 0;
    situ_db_stmt *st = chunk_stmt(a, a->log_insert, k, log_insert_sql);
    situ_buf *ch = calloc((size_t)n, sizeof *ch);
    if (!st || !ch) {
        free(ch);
        return !st ? SITU_EDB : SITU_ENOMEM;
    }
    for (int i = 0; i < n && !rc; i++) {
        int p = 7 * i;
        rc = changes_json(ev[i], &ch[i]);
        situ_db_bind_text(st, p + 1, b->dept, -1);
        situ_db_bind_text(st, p + 2, ev[i]->id, -1);
        situ_db_bind_text(st, p + 3, appliers[ev[i]->type].log_type, -1);
        situ_db_bind_text(st, p + 4, b->received_at, -1);
        situ_db_bind_text(st, p + 5, ((feed_item *)ev[i]->priv)->body, -1);
        situ_db_bind_text(st, p + 6, ch[i].p, (int)ch[i].n);
        situ_db_bind_int64(st, p + 7, ev[i]->seq);
    }
    if (!rc)
        rc = write_step(a, st, ev[0]);
    else
        situ_db_clear_bindings(st);
    for (int i = 0; i < n; i++)
        situ_buf_dispose(&ch[i]);
    free(ch);
    return rc;
}

/* The log rows of the batch's accepted events, in chunks. */
static int log_events(situ_feed_applier *a, situ_feed_batch *b)
{
    situ_feed_event *chunk[CHUNK_MAX];
    int n = 0, rc = 0;
    for (int i = 0; i <= b->n && !rc; i++) {
        if (i < b->n && b->ev[i].status == SITU_FEED_ACCEPTED)
            chunk[n++] = &b->ev[i];
        int last = i == b->n;
        while (n && !rc && (n == CHUNK_MAX || last)) {
            int k = chunk_for(n);
            if (1 << k > n)
                k--;
            rc = log_chunk(a, b, chunk, k);
            memmove(chunk, chunk + (1 << k), (size_t)(n - (1 << k)) * sizeof *chunk);
            n -= 1 << k;
        }
    }
    return rc;
}

/* Runs ev's applier: 0 (ev accepted, or rejected before it tried a
 * write), 1 when it was rejected after trying one, refused by the store or
 * not (the batch is to be applied again the careful way: on PostgreSQL a
 * refused statement aborts the transaction), < 0 when the store failed. */
static int apply_fast(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                      const situ_snapshot *snap)
{
    long long writes = a->writes;
    int rc = appliers[ev->type].apply(a, b, ev, snap);
    if (rc < 0)
        return rc;
    if (ev->status == SITU_FEED_REJECTED)
        return a->writes != writes;
    take_seq(a, b, ev);
    return 0;
}

/* As before the batch statements: a savepoint around the event, its log
 * row alone, rolled back when it was rejected. */
static int apply_careful(situ_feed_applier *a, situ_feed_batch *b, situ_feed_event *ev,
                         const situ_snapshot *snap)
{
    if (exec_stmt(a->sp_begin))
        return SITU_EDB;
    int rc = appliers[ev->type].apply(a, b, ev, snap);
    if (rc >= 0 && ev->status != SITU_FEED_REJECTED) {
        take_seq(a, b, ev);
        if ((rc = log_chunk(a, b, &ev, 0)) == STEP_REFUSED)
            --a->seq, ev->seq = 0, rc = 0;
    }
    if (rc < 0)
        return rc;
    if (ev->status == SITU_FEED_REJECTED && exec_stmt(a->sp_rollback))
        return SITU_EDB;
    return exec_stmt(a->sp_release);
}

static void drop_changes(situ_feed_event *ev)
{
    free(ev->changes);
    ev->changes = NULL, ev->nchanges = 0;
}

/* One pass over the batch's pending events, fast or careful: 0 done, 1
 * (fast only) the batch must be applied again carefully, < 0 failed. */
static int apply_pass(situ_feed_applier *a, situ_feed_batch *b, batch_ids *ids,
                      const situ_snapshot *snap, int careful)
{
    for (int i = 0; i < b->n; i++) {
        situ_feed_event *ev = &b->ev[i];
        int k = ids->slot[i];
        if (k < 0)
            continue;
        if (ids->in_store[k] || ids->taken[k]) {
            ev->status = SITU_FEED_DUPLICATE;
            continue;
        }
        int rc = careful ? apply_careful(a, b, ev, snap) : apply_fast(a, b, ev, snap);
        if (rc)
            return rc;
        if (ev->status == SITU_FEED_REJECTED)
            drop_changes(ev);
        else
            ids->taken[k] = 1;
    }
    if (careful)
        return 0;
    int rc = log_events(a, b);
    return rc == STEP_REFUSED ? 1 : rc;
}

/* Back to the batch as it came: its pending events pending again, the seq
 * where it was. The store is rolled back to the batch's savepoint. */
static void undo_pass(situ_feed_applier *a, situ_feed_batch *b, batch_ids *ids, long long seq)
{
    a->seq = seq;
    memset(ids->taken, 0, (size_t)ids->n);
    for (int i = 0; i < b->n; i++) {
        if (!ids->was_pending[i])
            continue;
        situ_feed_event *ev = &b->ev[i];
        drop_changes(ev);
        ev->status = SITU_FEED_PENDING;
        ev->seq = 0;
        ev->field[0] = ev->reason[0] = '\0';
    }
}

/* The batch's events applied and logged: fast, or (when an event was
 * rejected after having written, or by the store) again the careful way
 * from the batch's savepoint. */
static int apply_batch(situ_feed_applier *a, situ_feed_batch *b, batch_ids *ids,
                       const situ_snapshot *snap)
{
    long long seq = a->seq;
    int rc = exec_stmt(a->batch_begin);
    if (!rc && (rc = apply_pass(a, b, ids, snap, 0)) == 1) {
        undo_pass(a, b, ids, seq);
        rc = exec_stmt(a->batch_rollback);
        if (!rc)
            rc = apply_pass(a, b, ids, snap, 1);
    }
    return rc ? rc : exec_stmt(a->batch_release);
}
/* Reads the log's last seq into a->seq, on PostgreSQL under the seq lock
 * (see SEQ_LOCK_SQL): 0, or SITU_EDB. */
static int read_last_seq(situ_feed_applier *a)
{
    int rc = a->seq_lock ? situ_db_step(a->seq_lock) : SITU_DB_ROW;
    if (a->seq_lock)
        situ_db_reset(a->seq_lock);
    if (rc != SITU_DB_ROW)
        return SITU_EDB;
    rc = situ_db_step(a->log_last);
    a->seq = rc == SITU_DB_ROW ? situ_db_column_int64(a->log_last, 0) : 0;
    situ_db_reset(a->log_last);
    return rc == SITU_DB_ROW ? 0 : SITU_EDB;
}

/* NOTIFY of the log's last seq, when events were logged since first. */
static int notify_seq(situ_feed_applier *a, long long first)
{
    if (!a->notify || a->seq == first)
        return 0;
    char seq[32];
    snprintf(seq, sizeof seq, "%lld", a->seq);
    situ_db_bind_text(a->notify, 1, seq, -1);
    int rc = situ_db_step(a->notify);
    situ_db_reset(a->notify);
    return rc == SITU_DB_ROW ? 0 : SITU_EDB;
}

/* Each accepted event's seq is the log's last + 1, the value SQLite gave
 * its INTEGER PRIMARY KEY before, assigned here so that it is the same on
 * PostgreSQL. The caller's transaction holds the log's one write lock
 * (BEGIN IMMEDIATE on SQLite; on PostgreSQL the seq lock read_last_seq
 * takes) so that no other writer comes between the read and the inserts. */
int situ_feed_apply(situ_feed_applier *a, situ_feed_batch *b, const situ_snapshot *snap,
                    situ_err *err)
{
    if (read_last_seq(a))
        return situ_err_set(err, situ_db_errcode(a->db) ? situ_db_errcode(a->db) : SITU_EDB, "%s",
                            situ_db_errmsg(a->db));
    long long first = a->seq;
    batch_ids ids = {0};
    int rc = batch_ids_make(b, &ids);
    if (!rc)
        rc = check_duplicates(a, b, &ids);
    if (!rc)
        rc = apply_batch(a, b, &ids, snap);
    if (!rc)
        rc = notify_seq(a, first);
    batch_ids_free(&ids);
    if (rc)
        return situ_err_set(err, rc, "%s",
                            rc == SITU_ENOMEM ? "out of memory" : situ_db_errmsg(a->db));
    return 0;
}

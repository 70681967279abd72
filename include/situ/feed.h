/*
 * situ/feed.h: the one network's department feeds, without HTTP.
 *
 * Owns reading a batch ({"events": [...]}, or one CAP alert via cap.h) and
 * validating each event on its own; applying the valid ones to the store
 * inside the caller's transaction (duplicates by department and event id,
 * the append-only event_log, stations, cameras, feature updates, alerts,
 * road closures);
 * what each applied event changed (collection, feature id, kind, boxes) for
 * the daemon to rebuild, invalidate and push; reading the log back; per-
 * department counts for the status page. Does not own the transaction's
 * scheduling, snapshots or tiles (the daemon's writer does).
 *
 * Entry points: situ_feed_parse / situ_feed_from_cap -> situ_feed_apply ->
 * situ_feed_batch_json; situ_feed_log_read; situ_feed_stats_*.
 */
#ifndef SITU_FEED_H
#define SITU_FEED_H

#include <stddef.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/schema.h"
#include "situ/snapshot.h"
#include "situ/store.h"

#define SITU_FEED_MAX_EVENTS 10000  /* events in one batch */
#define SITU_FEED_ID_MAX 128        /* bytes of an event, station or feature id */
#define SITU_FEED_STATION_QUOTA 500 /* default: stations a department's readings create */

typedef enum situ_feed_type {
    SITU_FEED_OBSERVATION = 1,
    SITU_FEED_CAMERA,
    SITU_FEED_FEATURE_UPDATE,
    SITU_FEED_ALERT,
    SITU_FEED_CAP,         /* an alert that came as CAP 1.2 XML */
    SITU_FEED_STATION,     /* registers or moves one of the department's stations */
    SITU_FEED_CLOSURE,     /* closes the roads in an area (a polygon, or a point and radius) */
    SITU_FEED_CLOSURE_END, /* reopens them */
} situ_feed_type;

/* The target of a change that is not a collection: the road closures
 * (store table road_closures), named "closures" on /events and in the log. */
#define SITU_FEED_CLOSURES ((situ_coll_id)SITU_NCOLLECTIONS)
#define SITU_FEED_CLOSURE_RADIUS_MAX 50000.0 /* radius_m of a point closure, metres */

typedef enum situ_feed_status {
    SITU_FEED_PENDING = 0, /* valid, not yet applied */
    SITU_FEED_ACCEPTED,    /* logged and applied (durable once committed) */
    SITU_FEED_DUPLICATE,   /* same department and id logged before */
    SITU_FEED_REJECTED,    /* invalid: field and reason say why */
} situ_feed_status;

typedef enum situ_change_kind {
    SITU_CHANGE_CREATED = 1,
    SITU_CHANGE_UPDATED,
    SITU_CHANGE_CANCELLED, /* an alert cancelled or superseded, a closure ended */
    SITU_CHANGE_EXPIRED,   /* an alert's expires or a closure's until passed (no event, no seq) */
    SITU_CHANGE_REMOVED,   /* retention archived and deleted it (no event, no seq) */
} situ_change_kind;

/* One feature an applied event changed. */
typedef struct situ_feed_change {
    situ_coll_id cid; /* or SITU_FEED_CLOSURES */
    situ_change_kind kind;
    char id[2 * SITU_FEED_ID_MAX]; /* feature id */
    double bbox[4];                /* after the change (lon/lat) */
    double old_bbox[4];            /* before it, when has_old */
    int has_old;
    long long seq;    /* the event's log sequence; 0 for expiries */
    const char *dept; /* static (schema) department code; NULL for expiries */
    char at[32];      /* received time, RFC 3339 UTC */
} situ_feed_change;

typedef struct situ_feed_event {
    situ_feed_type type; /* 0 when the event had no valid type */
    const char *id;      /* NULL when the event had no valid id */
    situ_feed_status status;
    char field[64];            /* rejected: the offending member ("set.status") */
    char reason[192];          /* rejected: why */
    long long seq;             /* accepted: event_log.seq */
    situ_feed_change *changes; /* accepted: what it changed */
    int nchanges;
    void *priv;
} situ_feed_event;

typedef struct situ_feed_batch {
    const char *dept;     /* static (schema) department code */
    char received_at[32]; /* RFC 3339 UTC, set when the batch is read */
    int n;
    situ_feed_event *ev;
    void *priv;
} situ_feed_batch;

/* Reads body as {"events": [...]} from department dept and validates every
 * event (PENDING or REJECTED). Returns 0 with *out_batch; SITU_EFORMAT when
 * the body is not JSON or not that shape (err gives line, column and byte
 * offset of a syntax error); SITU_ELIMIT over SITU_FEED_MAX_EVENTS events;
 * SITU_ENOTFOUND for an unknown department. */
int situ_feed_parse(const char *dept, const char *body, size_t n, situ_feed_batch **out_batch,
                    situ_err *err);
/* As situ_feed_parse with the clock given: now (seconds since the epoch)
 * is the batch's received_at and what "in the future" and "has passed" are
 * judged by. A drill parses its injects at scenario time; real feeds use
 * situ_feed_parse (the wall clock). */
int situ_feed_parse_at(const char *dept, const char *body, size_t n, long long now,
                       situ_feed_batch **out_batch, situ_err *err);
/* Frees a batch and everything it owns; NULL is a no-op. */
void situ_feed_batch_free(situ_feed_batch *b);

/* Appends the answer to a batch: counts and one result per event, in order. */
void situ_feed_batch_json(const situ_feed_batch *b, situ_buf *out);

/* Applies the batch's PENDING events inside the caller's open transaction:
 * each becomes ACCEPTED (logged with its changes), DUPLICATE (logged
 * before, or accepted earlier in the batch) or REJECTED, and a rejected
 * one leaves nothing behind (feed_apply.c: one savepoint for the batch,
 * one per event only when an event was refused after a write). snap
 * gives township codes to new stations (may be NULL). Returns 0, or a
 * negative code when the store failed: the caller must roll back the whole
 * transaction, and the statuses then mean nothing. */
typedef struct situ_feed_applier situ_feed_applier;
int situ_feed_applier_new(situ_store *s, situ_feed_applier **out, situ_err *err);
void situ_feed_applier_free(situ_feed_applier *a);
/* Stations a department's readings may create (quota <= 0: the default
 * SITU_FEED_STATION_QUOTA); past it a new station id is rejected (field
 * "station") unless a "station" event registers it. */
void situ_feed_applier_set_station_quota(situ_feed_applier *a, int quota);
/* On PostgreSQL situ_feed_apply first takes the cluster's seq lock
 * (pg_advisory_xact_lock(SITU_SEQ_LOCK), held to the end of the caller's
 * transaction) and writes a WAL record (a logical message) in it, then
 * reads max(seq): so that seqs are gapless and in commit order across every
 * situd writing to one database, and the COMMIT waits for the synchronous
 * standby even when every event was a duplicate. When it logged events it NOTIFYs channel
 * SITU_SEQ_CHANNEL with the last seq (as text), delivered at COMMIT: a hint
 * for readers, which follow event_log by seq. */
#define SITU_SEQ_LOCK 7474
/* The statement that takes it (and writes the WAL record): every writer of
 * event_log on PostgreSQL runs it first in its transaction. */
#define SITU_SEQ_LOCK_SQL                                                                          \
    "SELECT pg_advisory_xact_lock(7474), pg_logical_emit_message(true, 'situ_seq', '')"
#define SITU_SEQ_CHANNEL "situ_events"
int situ_feed_apply(situ_feed_applier *a, situ_feed_batch *b, const situ_snapshot *snap,
                    situ_err *err);
/* Normalises an RFC 3339 time ("2024-06-01T08:00:00+08:00", fractions
 * allowed) to UTC "2024-06-01T00:00:00Z" in out; 0, or -1 when malformed.
 * out_epoch (may be NULL) gets seconds since the epoch. */
int situ_feed_time(const char *in, char out[32], long long *out_epoch);

/* The JSON object of one change (no trailing newline). */
void situ_feed_change_json(const situ_feed_change *c, situ_buf *out);
const char *situ_feed_change_kind_name(situ_change_kind k);
/* The name of a change's target: a collection id or "closures"; and back
 * (-1 for a name that is neither). */
const char *situ_feed_change_target(situ_coll_id cid);
situ_coll_id situ_feed_change_target_of(const char *name);

/* Calls fn for every change of the logged events with after < seq <= upto,
 * oldest first, at most max_events events; *out_last gets the last seq read
 * (after when none). fn returning non-zero stops early. */
typedef int (*situ_feed_log_fn)(void *ctx, const situ_feed_change *c);
int situ_feed_log_read(situ_store *s, long long after, long long upto, int max_events,
                       situ_feed_log_fn fn, void *ctx, long long *out_last, situ_err *err);
/* The last sequence in the log, 0 when empty. */
long long situ_feed_log_last(situ_store *s);
/* The oldest sequence the log keeps, 0 when empty. Seqs are gapless but for
 * retention (situ/retain.h), which archives the log's oldest rows: a resume
 * point below first - 1 asks for archived events. */
long long situ_feed_log_first(situ_store *s);

/* Per-department counts of accepted events: the last one, and per minute
 * over the last day. Not thread-safe: the caller locks. */
typedef struct situ_feed_stats situ_feed_stats;
situ_feed_stats *situ_feed_stats_new(void);
void situ_feed_stats_free(situ_feed_stats *st);
/* Records n events of department index dept at time t (seconds). */
void situ_feed_stats_add(situ_feed_stats *st, int dept, long long t, int n);
/* The time (seconds) of department index dept's last accepted event; 0 when
 * it has sent none (or dept is out of range). */
long long situ_feed_stats_last(const situ_feed_stats *st, int dept);
/* Fills the counts from the log (last event ever, the last day by minute). */
int situ_feed_stats_load(situ_feed_stats *st, situ_store *s, long long now, situ_err *err);
/* Appends {"departments": [...], "cameras": {...}} as GET /feeds shows it:
 * per department last event, events in the last hour and day, expected
 * interval, state ok / stale (over 2 intervals) / silent (never). */
void situ_feed_stats_json(const situ_feed_stats *st, const situ_snapshot *snap, long long now,
                          situ_buf *out);

#endif

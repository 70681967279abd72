/*
 * events.h: private to daemon/. GET /events, the Server-Sent Events stream
 * of applied changes: a ring of recent messages every listener reads from,
 * the event log for Last-Event-ID replay, heartbeats.
 */
#ifndef SITUD_EVENTS_H
#define SITUD_EVENTS_H

#include <microhttpd.h>
#include <stddef.h>

#include "situ/feed.h"

/* Starts the broadcaster. db is read for replay; last_seq is the newest
 * event the first snapshot already holds. heartbeat_s: seconds between
 * comment lines on an idle stream. */
int situd_events_start(const char *db, long long last_seq, double heartbeat_s);
/* Before the first push: the newest event the first snapshot holds is
 * last_seq after all (PostgreSQL: the snapshot's consistent read). */
void situd_events_rewind(long long last_seq);
/* Ends every stream and refuses new ones. */
void situd_events_stop(void);
/* Sends changes to every listener, in order; never waits on a listener. */
void situd_events_push(const situ_feed_change *c, size_t n);
/* The seq of the newest change pushed. */
long long situd_events_published(void);
/* Listeners connected now. */
int situd_events_listeners(void);
/* Replays from the event log since start: of listeners that fell a whole
 * ring behind (lag), and of new listeners resuming from Last-Event-ID or
 * ?since (resume). */
void situd_events_replays(long long *lag, long long *resume);

/* 1 when conn's daemon can suspend connections (MHD_ALLOW_SUSPEND_RESUME). */
int situd_can_suspend(struct MHD_Connection *conn);
/* A stream for a new listener that has seen every event up to `after`
 * (0: none, so the whole log is replayed; -1: only what comes next); NULL
 * with msg when refused: situd is stopping, max_listeners stream already,
 * or per_address do from conn's client address. */
struct MHD_Response *situd_events_response(struct MHD_Connection *conn, long long after,
                                           int max_listeners, int per_address, char *msg,
                                           size_t nmsg);

#endif

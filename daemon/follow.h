/*
 * follow.h: private to daemon/. On PostgreSQL every situd is a reader of the
 * shared store: its first snapshot is one consistent read (REPEATABLE READ,
 * with the highest seq read in the same transaction), then a follower thread
 * reads event_log rows seq > last, in seq order, and hands their changes to
 * the publisher (feedpub.c), so that every situd (the writer's too) publishes
 * the same changes in the same order. Also the lag behind the store that
 * /healthz reports beside the snapshot digest (situ_snapshot_digest). On
 * SQLite nothing follows: the writer hands its commits to the publisher
 * itself.
 */
#ifndef SITUD_FOLLOW_H
#define SITUD_FOLLOW_H

#include <stddef.h>

#include "situ/buf.h"
#include "situ/snapshot.h"
#include "situ/store.h"

/* Reads every collection of s (opened on db_name) into *out_snap from one
 * consistent read (REPEATABLE READ on PostgreSQL, one read transaction on
 * SQLite), through situ_snapshot_open (DB.snap when current; note says
 * which), and records the highest event_log seq of that read as the
 * snapshot's seq. */
int situd_follow_load(situ_store *s, const char *db_name, situ_snapshot **out_snap, char *note,
                      size_t nnote, situ_err *err);
/* The seq recorded by situd_follow_load. */
long long situd_follow_loaded_seq(void);

/* Starts following db's event_log after situd_follow_load's seq; 0 or -1. */
int situd_follow_start(const char *db, char *msg, size_t nmsg);
/* 1 while the follower runs (PostgreSQL). */
int situd_follow_running(void);
/* Polls now rather than at the next tick (a local commit, a NOTIFY). */
void situd_follow_wake(void);
/* Joins the follower; nothing is handed to the publisher after it returns. */
void situd_follow_stop(void);

typedef struct situd_follow_lag {
    int following;   /* 1 on PostgreSQL */
    int connected;   /* the last poll succeeded */
    long long seq;   /* applied: the newest seq the published snapshot holds */
    long long store; /* the store's max(seq) at the last successful poll */
    double lag_s;    /* age of the oldest unapplied event, or the time since the last
                        successful poll while the store cannot be read */
    long long reconnects, poll_failures;
    char why[256]; /* why the last poll failed, "" when it did not */
} situd_follow_lag;
void situd_follow_lag_get(situd_follow_lag *out);
/* Appends the same in Prometheus text (situd_follow_*). */
void situd_follow_metrics(situ_buf *b);

#endif

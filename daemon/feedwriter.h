/*
 * feedwriter.h: private to daemon/. The feeds' single writer thread (group
 * commit of the batches the POST routes queue, on its own read-write store),
 * the publisher behind it (coalesced snapshot rebuilds, tile invalidation,
 * SSE pushes) and the token set the routes check.
 */
#ifndef SITUD_FEEDWRITER_H
#define SITUD_FEEDWRITER_H

#include <microhttpd.h>

#include "config.h"
#include "situ/buf.h"
#include "situ/feed.h"
#include "situ/snapshot.h"

typedef struct situd_feedjob situd_feedjob;

/* Opens the file read-write (which migrates it), loads the tokens and the
 * per-department counts. Call before the first snapshot. 0, or -1 with msg
 * (the daemon then serves without feeds). */
int situd_feedwriter_open(const situd_config *cfg, char *msg, size_t nmsg);
/* Starts /events and the publisher (on PostgreSQL with it the follower of
 * the event log); after the first snapshot, with or without the writer: a
 * read-only situd on PostgreSQL follows the log all the same. */
int situd_publisher_start(const situd_config *cfg, char *msg, size_t nmsg);
/* Starts the writer; after situd_publisher_start. */
int situd_feedwriter_start(const situd_config *cfg, char *msg, size_t nmsg);
/* Ends /events streams, refuses new batches, commits and answers every
 * queued one, publishes what is pending, joins the threads, closes. */
void situd_feedwriter_stop(void);

/* Checks a bearer token for dept: 0, SITU_EAUTH or SITU_EPERM; SITU_EBUSY
 * when no tokens are held (the writer stopped): no verdict, answer 503. */
int situd_feedwriter_auth(const char *dept, const char *token);

/* Queues batch b (taken, freed on failure) for the writer. With conn, the
 * connection is suspended until the answer is durable and then resumed,
 * and the handler, called again, takes the job back with
 * situd_feedwriter_take(key, t0); without conn this call waits and
 * *out_job is the finished job. Returns 0, SITU_EBUSY when the queue is
 * full, or SITU_EINVAL when the writer is not running. */
int situd_feedwriter_submit(situ_feed_batch *b, struct MHD_Connection *conn, const void *key,
                            double t0, situd_feedjob **out_job);
/* The finished job of request (key, t0), now the caller's; NULL if none. */
situd_feedjob *situd_feedwriter_take(const void *key, double t0);
/* The job's batch with every event's result, or NULL when the commit
 * failed (*out_msg says why: answer 503). */
situ_feed_batch *situd_feedjob_batch(situd_feedjob *j, const char **out_msg);
void situd_feedjob_free(situd_feedjob *j);
/* A finished job holding batch b (taken) that never went to the writer;
 * NULL when out of memory (b is freed). */
situd_feedjob *situd_feedjob_of(situ_feed_batch *b);

/* Appends GET /feeds's members: departments, cameras, writer. */
void situd_feedwriter_status(const situ_snapshot *snap, situ_buf *b);

/* Feeds will not be written, for why (a read-only store); /healthz and the
 * feed routes say so. */
void situd_feedwriter_disable(const char *why);
enum { SITUD_WRITES_FAILING = 1, SITUD_WRITES_DISABLED = 2 };
/* 0 while writes work; SITUD_WRITES_FAILING while the last commit failed
 * (a full disk: until a commit succeeds), SITUD_WRITES_DISABLED when feeds
 * are not written at all; why says why. */
int situd_feedwriter_health(char *why, size_t nwhy);

/* Appends the feeds' counters and gauges in Prometheus text. */
void situd_feedwriter_metrics(situ_buf *b);

/* ---- the publisher (feedpub.c) --------------------------------------------- */

/* Starts the publisher with its own read-only connection to db; on
 * PostgreSQL also the event log's follower (follow.h), which then feeds it. */
int situd__feedpub_start(const char *db, char *msg, size_t nmsg);
/* Hands committed changes to the publisher (copied); never blocks long. */
void situd__feedpub_add(const situ_feed_change *c, size_t n);
/* The same from the follower: the changes of the log rows up to seq upto
 * (n may be 0: rows without changes still move X-Situ-Seq to upto). */
void situd__feedpub_follow(const situ_feed_change *c, size_t n, long long upto);
/* Stops the follower, publishes what is pending, then joins the publisher. */
void situd__feedpub_stop(void);
/* Rebuilds done and changes pushed so far, for the status page. */
void situd__feedpub_counts(long long *out_rebuilds, long long *out_changes,
                           double *out_last_rebuild_ms);
/* Appends situd_digest_checks_total and situd_digest_mismatches_total. */
void situd__feedpub_digest_metrics(situ_buf *b);

#endif

/*
 * situ/retain.h: retention of the store, so it does not grow without bound.
 *
 * Owns moving expired alerts (expires more than N days ago), road closures
 * that ended more than N days ago and event_log rows older than N days into
 * an archive file (a situ SpatiaLite file of
 * the same schema, readable by ogrinfo, QGIS and `situ export`) and then
 * removing them from the store; and measuring the store (rows and bytes per
 * table, the event log's span). Does not schedule itself (situd's writer
 * and `situ retain` do) nor publish what it removed (the caller does).
 */
#ifndef SITU_RETAIN_H
#define SITU_RETAIN_H

#include "situ/err.h"
#include "situ/store.h"

#define SITU_RETAIN_DAYS 90   /* default: keep 90 days */
#define SITU_RETAIN_BATCH 500 /* rows per archive + delete pair of commits */
/* event_log.type of retention's own rows: each delete of expired alerts is
 * logged (a seq, its changes "removed") so that readers following the log
 * drop them too; no department's event (GET /feeds does not count it). */
#define SITU_RETAIN_LOG_TYPE "retention"

/* Called for each alert removed from the store, after its delete committed;
 * seq: the event_log row that logged the removal. */
typedef void (*situ_retain_removed_fn)(void *ctx, const char *id, const double bbox[4],
                                       long long seq);

typedef struct situ_retain_opts {
    int days;            /* keep rows younger than this; <= 0: SITU_RETAIN_DAYS */
    const char *archive; /* NULL or "": situ_retain_default_archive() */
    const char *now;     /* NULL: now; else RFC 3339 UTC (tests, drills) */
    int batch;           /* rows per transaction; <= 0: SITU_RETAIN_BATCH */
    int max_ms;          /* stop after the batch that passes this many ms (more says
                            so); <= 0: run until nothing is due */
    situ_retain_removed_fn removed;
    void *ctx;
    /* Test hook: called after each archive commit, before the delete; a
     * non-zero answer stops there, as a kill would. NULL: none. */
    int (*after_archive)(void *ctx);
} situ_retain_opts;

typedef struct situ_retain_stats {
    long long alerts;   /* expired alerts archived and removed */
    long long events;   /* event_log rows archived and removed */
    long long closures; /* road closures ended before the cutoff, archived and removed */
    long long unmoved;  /* due rows the archive would not take (left in place) */
    int more;           /* max_ms ended the run with rows still due */
    char archive[1024]; /* the archive written */
    char cutoff[32];    /* rows older than this were due */
} situ_retain_stats;

/* The archive beside the store's file db for the year of now (RFC 3339, NULL:
 * now): DIR/archive/situ-archive-YYYY.sqlite, into out[n]. */
void situ_retain_default_archive(const char *db, const char *now, char *out, size_t n);

/* Archives and removes what is due (when nothing is, it neither makes nor
 * opens the archive), in batches: each batch is committed and
 * synced to the archive first and only then deleted from s in a second
 * commit, which deletes only rows the archive holds. A run killed between
 * the two loses nothing, and running again completes it (idempotent). s
 * must be writable and not in a transaction; in situd it is the writer's
 * own connection (the single writer). 0, or a negative code with err; stats
 * (may be NULL) counts what was done even then. */
int situ_retain_run(situ_store *s, const situ_retain_opts *o, situ_retain_stats *stats,
                    situ_err *err);

/* Rows and bytes of one table (with its indexes and spatial index). */
typedef struct situ_table_size {
    char name[64];
    long long rows;
    long long bytes; /* -1 when SQLite lacks the dbstat table */
} situ_table_size;

/* What the store holds: rows and bytes of every collection, then
 * resource_items, event_log and tokens, in that order; the file's bytes;
 * the event log's first and last row (received_at "" when empty). */
typedef struct situ_store_sizes {
    situ_table_size tables[16];
    int n;
    long long file_bytes;
    char log_first[32], log_last[32];
    long long log_first_seq, log_last_seq;
} situ_store_sizes;

int situ_retain_sizes(situ_store *s, situ_store_sizes *out, situ_err *err);

#endif

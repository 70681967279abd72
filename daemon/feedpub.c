/*
 * feedpub.c: what happens after a feed commit, on its own thread so that a
 * rebuild never delays the next commit. Changes pile up; rebuilds start at
 * most every 100 ms: the touched features are read again from a read-only
 * connection (WAL: it sees every commit) into new versions of their
 * collections (the untouched features copied from the current one, their
 * tile preparation too), in a new snapshot sharing the rest; before it is
 * published the tile cache drops exactly the tiles the changed features
 * touch (old and new box) and the proximity indexes are built; then the
 * changes go out on /events, in commit order. A change costs the rows it
 * touched, not their collection: one outline of 200,000 vertices does not
 * make every later alert pay for it again.
 *
 *   IDLE -(changes)-> WAIT until 100 ms after the last rebuild began -> REBUILD
 *        (closure changes alone do not wait: they rebuild no snapshot)
 *   REBUILD: update colls (their digests kept; SITUD_VERIFY_DIGEST=1 checks
 *            them from scratch) -> advance tiles -> prepare nearest -> publish
 *            -> push SSE -> IDLE
 *   each second: alerts whose onset or expires passed -> invalidate, push
 *   closure changes (closures.c): after the collections, the active closures
 *   are read again and laid on the road network, then pushed; when the
 *   earliest until passes, the same, pushing an "expired" change each
 *   stop: REBUILD what is pending -> EXIT
 *
 * Where changes come from: on SQLite the writer hands its commits over; on
 * PostgreSQL the follower (follow.c) hands the event log's rows seq > last,
 * whoever committed them, each page with its last seq (X-Situ-Seq moves to
 * it once the snapshot holds the page). There a REBUILD that could not read
 * the store is not published: the connection is opened again and the same
 * changes are tried again 0.5 s later, so neither X-Situ-Seq nor /events
 * runs ahead of the snapshot.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "closures.h"
#include "events.h"
#include "feedwriter.h"
#include "follow.h"
#include "server.h"
#include "situ/clock.h"
#include "situ/db.h"

#define MIN_GAP_S 0.1 /* at most ten rebuilds a second */
#define RETRY_S 0.5   /* PostgreSQL: a publication that could not read the store, again */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    pthread_t thread;
    int running, stopping;
    situ_feed_change *pending;
    size_t n, cap;
    long long upto; /* the newest seq handed, published with the pending changes */
    size_t ncoll;   /* of the pending changes, those of a collection (the others: closures) */
    situ_store *ro; /* publisher thread only */
    double last_rebuild, last_expiry_look;
    double retry_at;      /* a failed publication is tried again from then */
    char db[1024];        /* for opening ro again */
    char alerts_seen[32]; /* expiries up to here were announced */
    long long rebuilds, changes;
    double last_rebuild_ms;
    unsigned stale;    /* publisher thread only: collections a rebuild missed (bit per cid) */
    int verify_digest; /* SITUD_VERIFY_DIGEST=1 */
    long long digests_checked, digests_bad; /* under lock */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void situd__feedpub_follow(const situ_feed_change *c, size_t n, long long upto)
{
    pthread_mutex_lock(&P.lock);
    if (upto > P.upto)
        P.upto = upto;
    if (P.n + n > P.cap) {
        size_t cap = P.cap ? P.cap : 256;
        while (cap < P.n + n)
            cap *= 2;
        situ_feed_change *p = realloc(P.pending, cap * sizeof *p);
        if (!p) { /* the snapshot still catches up on the next change */
            pthread_mutex_unlock(&P.lock);
            fprintf(stderr, "situd: feeds: out of memory queueing changes\n");
            return;
        }
        P.pending = p, P.cap = cap;
    }
    if (n) /* c may be NULL with n 0: a log row that changed nothing */
        memcpy(P.pending + P.n, c, n * sizeof *c);
    P.n += n;
    for (size_t i = 0; i < n; i++)
        P.ncoll += c[i].cid < SITU_NCOLLECTIONS;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.lock);
}

void situd__feedpub_add(const situ_feed_change *c, size_t n)
{
    long long upto = 0;
    for (size_t i = 0; i < n; i++)
        upto = c[i].seq > upto ? c[i].seq : upto;
    situd__feedpub_follow(c, n, upto);
}

void situd__feedpub_counts(long long *out_rebuilds, long long *out_changes,
                           double *out_last_rebuild_ms)
{
    pthread_mutex_lock(&P.lock);
    *out_rebuilds = P.rebuilds;
    *out_changes = P.changes;
    *out_last_rebuild_ms = P.last_rebuild_ms;
    pthread_mutex_unlock(&P.lock);
}

/* The old and new boxes of the changes of collection cid (4 doubles each),
 * malloc'd; NULL when out of memory (then every tile of cid goes). */
static double *boxes_of(const situ_feed_change *c, size_t n, int cid, size_t *out_n)
{
    double *b = malloc(2 * (n ? n : 1) * 4 * sizeof *b);
    size_t k = 0;
    for (size_t i = 0; b && i < n; i++) {
        if ((int)c[i].cid != cid)
            continue;
        memcpy(b + 4 * k++, c[i].bbox, sizeof c[i].bbox);
        if (c[i].has_old)
            memcpy(b + 4 * k++, c[i].old_bbox, sizeof c[i].old_bbox);
    }
    *out_n = k;
    return b;
}

/* The next version of collection cid: prev with the features the changes
 * name read again (the others copied, nothing recomputed); the whole
 * collection when there is no prev, a change names no feature or an
 * earlier rebuild of cid failed (its changes were not applied). */
static int load_changed(const situ_coll *prev, const situ_feed_change *c, size_t n, int cid,
                        situ_coll **out_coll, situ_err *err)
{
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    size_t k = 0;
    for (size_t i = 0; ids && i < n; i++)
        if ((int)c[i].cid == cid)
            ids[k++] = c[i].id;
    int whole = !ids || !prev || (P.stale & (1u << cid));
    for (size_t i = 0; !whole && i < k; i++)
        whole = !ids[i][0];
    int rc = whole ? situ_coll_load(P.ro, (situ_coll_id)cid, out_coll, err)
                   : situ_coll_update(P.ro, prev, ids, k, out_coll, err);
    free(ids);
    return rc;
}

/* With SITUD_VERIFY_DIGEST=1 (a debug aid; the tests run with it): the
 * digest coll kept through its update is hashed again from scratch (the
 * whole collection: O(its vertices) per rebuild); one that differs is
 * logged, counted and replaced by the recomputed one. */
static void verify_digest(situ_coll *coll)
{
    situ_digest d;
    int bad = situ_coll_digest_check(coll, &d) != 0;
    if (bad) {
        fprintf(stderr, "situd: feeds: the digest kept for %s is not its content's: recomputed\n",
                coll->c->id);
        coll->digest = d;
    }
    pthread_mutex_lock(&P.lock);
    P.digests_checked++;
    P.digests_bad += bad;
    pthread_mutex_unlock(&P.lock);
}

void situd__feedpub_digest_metrics(situ_buf *b)
{
    pthread_mutex_lock(&P.lock);
    long long checked = P.digests_checked, bad = P.digests_bad;
    pthread_mutex_unlock(&P.lock);
    situ_buf_printf(b,
                    "# HELP situd_digest_checks_total Rebuilt collections whose kept digest was "
                    "hashed again from scratch (SITUD_VERIFY_DIGEST=1).\n"
                    "# TYPE situd_digest_checks_total counter\nsitud_digest_checks_total %lld\n"
                    "# HELP situd_digest_mismatches_total Of those, kept digests that were wrong.\n"
                    "# TYPE situd_digest_mismatches_total counter\n"
                    "situd_digest_mismatches_total %lld\n",
                    checked, bad);
}

/* Builds the next version of every collection the changes touch (only
 * the features they name are read again) into a new snapshot; before
 * readers can see it, the tile cache learns exactly which boxes changed
 * (one step per collection) and the proximity indexes are built. A load
 * that fails is logged and skipped: the next change of that collection
 * reads it whole. -1 when one failed. */
static int rebuild(const situ_feed_change *c, size_t n)
{
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++)
        mask |= c[i].cid < SITU_NCOLLECTIONS ? 1u << c[i].cid : 0; /* closures: no collection */
    if (!mask)
        return 0;
    situ_snapshot *snap = situd_snapshot_acquire();
    for (int cid = 0; snap && cid < SITU_NCOLLECTIONS; cid++) {
        situ_coll *coll = NULL;
        situ_err err = {0};
        if (!(mask & (1u << cid)))
            continue;
        if (load_changed(snap->colls[cid], c, n, cid, &coll, &err))
            fprintf(stderr, "situd: feeds: cannot rebuild %s: %s\n",
                    situ_schema_collection((situ_coll_id)cid)->id, err.msg);
        if (coll && P.verify_digest)
            verify_digest(coll);
        situ_snapshot *next = coll ? situ_snapshot_with(snap, coll) : NULL;
        situ_coll_release(coll);
        P.stale = next ? P.stale & ~(1u << cid) : P.stale | 1u << cid;
        if (!next)
            continue;
        size_t nboxes;
        double *boxes = boxes_of(c, n, cid, &nboxes);
        situd_tiles_advance(next, cid, boxes, boxes ? nboxes : 0);
        free(boxes);
        situ_snapshot_release(snap);
        snap = next;
    }
    if (!snap)
        return 0; /* stopping */
    situd_nearest_prepare(snap);
    situd_snapshot_publish(snap);
    return P.stale & mask ? -1 : 0;
}

/* Reads the active closures again and lays them on the road network, then
 * pushes the closures whose until passed; when changed is 0, only when the
 * earliest until has passed. */
static int reload_closures(int changed)
{
    if (!P.ro || (!changed && !situd_closures_due()))
        return P.ro ? 0 : -1;
    situ_feed_change *expired = NULL;
    size_t n = 0;
    int rc = situd_closures_reload(P.ro, &expired, &n);
    if (n)
        situd_events_push(expired, n);
    free(expired);
    return rc;
}

/* The publisher's connection, opened again (PostgreSQL: the server was
 * lost or restarted). 0 when open. */
static int reopen(void)
{
    situ_err err = {0};
    situ_store_close(P.ro);
    P.ro = NULL;
    if (situ_store_open(P.db, SITU_STORE_READONLY, &P.ro, &err)) {
        fprintf(stderr, "situd: feeds: cannot open the store again (retrying): %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* Publishes the changes of the events up to seq upto: snapshot, closures,
 * then X-Situ-Seq, then /events (a listener told of an event finds it).
 * On PostgreSQL a publication that could not read the store is not made:
 * -1, and the caller tries it again on a new connection, so that X-Situ-Seq
 * and /events never run ahead of what the snapshot holds. */
static int publish(situ_feed_change *c, size_t n, long long upto)
{
    double t0 = situ_clock_s();
    int failed = !P.ro && reopen();
    failed = failed || rebuild(c, n);
    int closures = 0;
    for (size_t i = 0; i < n && !closures; i++)
        closures = c[i].cid == SITU_FEED_CLOSURES;
    if (!failed && closures) /* in the answers before the event is on /events */
        failed = reload_closures(1) != 0;
    if (failed && situd_follow_running()) {
        reopen();
        return -1;
    }
    situd_snapshot_seq_advance(upto);
    if (n)
        situd_events_push(c, n);
    pthread_mutex_lock(&P.lock);
    P.rebuilds++;
    P.changes += (long long)n;
    P.last_rebuild_ms = (situ_clock_s() - t0) * 1e3;
    pthread_mutex_unlock(&P.lock);
    return 0;
}

/* Under P.lock: puts changes c (n of them, up to seq upto) back before
 * the pending ones, to be published again at P.retry_at. Takes c. */
static void requeue(situ_feed_change *c, size_t n, long long upto)
{
    situ_feed_change *all = realloc(c, (n + P.n ? n + P.n : 1) * sizeof *all);
    if (!all) { /* the pending ones alone: the next change reads its collection whole */
        free(c);
        fprintf(stderr, "situd: feeds: out of memory keeping changes to publish again\n");
        return;
    }
    if (P.n)
        memcpy(all + n, P.pending, P.n * sizeof *all);
    free(P.pending);
    P.pending = all;
    P.n += n;
    P.cap = P.n;
    P.ncoll = 0;
    for (size_t i = 0; i < P.n; i++)
        P.ncoll += all[i].cid < SITU_NCOLLECTIONS;
    if (upto > P.upto)
        P.upto = upto;
    P.retry_at = situ_clock_s() + RETRY_S;
}

/* 1 when time value v lies in (P.alerts_seen, now]. */
static int passed(const situ_value *v, const char *now)
{
    return v->type == SITU_FT_TEXT && strcmp(v->u.s, P.alerts_seen) > 0 && strcmp(v->u.s, now) <= 0;
}

static void announce_expiries(void)
{
    if (situ_clock_s() < P.last_expiry_look + 1.0)
        return;
    P.last_expiry_look = situ_clock_s();
    char now[32];
    situ_store_now(now);
    if (!strcmp(now, P.alerts_seen))
        return;
    situ_snapshot *snap = situd_snapshot_acquire();
    const situ_coll *a = snap ? snap->colls[SITU_C_ALERTS] : NULL;
    int fe = a ? situ_schema_field_index(a->c, "expires") : -1;
    int fo = a ? situ_schema_field_index(a->c, "onset") : -1;
    int fd = a ? situ_schema_field_index(a->c, "dept") : -1;
    for (size_t i = 0; a && fe >= 0 && fo >= 0 && i < a->n; i++) {
        const situ_feature *f = &a->feats[i];
        const situ_value *d = &f->values[fd];
        int ended = passed(&f->values[fe], now), began = passed(&f->values[fo], now);
        if (!ended && !began)
            continue;
        situ_feed_change c = {.cid = SITU_C_ALERTS,
                              .kind = ended ? SITU_CHANGE_EXPIRED : SITU_CHANGE_UPDATED};
        snprintf(c.id, sizeof c.id, "%s", f->id);
        memcpy(c.bbox, f->bbox, sizeof c.bbox);
        int di = d->type == SITU_FT_TEXT ? situ_schema_dept_index(d->u.s) : -1;
        c.dept = di >= 0 ? situ_schema_dept(di)->code : NULL;
        snprintf(c.at, sizeof c.at, "%s", now);
        situd_tiles_invalidate((int)c.cid, c.bbox); /* same snapshot, another time */
        situd_events_push(&c, 1);
    }
    situ_snapshot_release(snap);
    memcpy(P.alerts_seen, now, sizeof now);
}

static void *pub_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&P.lock);
    for (;;) {
        double now = situ_clock_s();
        /* closures alone rebuild no snapshot: they need not wait for the gap */
        int due = (P.n || P.upto) && (P.stopping || now >= P.retry_at);
        if (due && (P.stopping || !P.ncoll || now >= P.last_rebuild + MIN_GAP_S)) {
            situ_feed_change *c = P.pending;
            size_t n = P.n;
            long long upto = P.upto;
            P.pending = NULL, P.n = P.cap = P.ncoll = 0;
            P.upto = 0;
            if (n) /* rebuilds start 100 ms apart: a long one adds no wait */
                P.last_rebuild = now;
            pthread_mutex_unlock(&P.lock);
            int failed = publish(c, n, upto);
            if (!failed)
                free(c);
            announce_expiries();
            reload_closures(0);
            pthread_mutex_lock(&P.lock);
            if (failed && !P.stopping)
                requeue(c, n, upto);
            else if (failed)
                free(c); /* stopping with the store lost: the next start reads it */
            continue;
        }
        if (P.stopping)
            break;
        double wait = due             ? P.last_rebuild + MIN_GAP_S - now
                      : P.n || P.upto ? P.retry_at - now
                                      : 1.0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long long ns = ts.tv_nsec + (long long)(wait * 1e9);
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        if (pthread_cond_timedwait(&P.cv, &P.lock, &ts) && !P.n && !P.upto) {
            pthread_mutex_unlock(&P.lock);
            announce_expiries();
            reload_closures(0);
            pthread_mutex_lock(&P.lock);
        }
    }
    pthread_mutex_unlock(&P.lock);
    return NULL;
}

int situd__feedpub_start(const char *db, char *msg, size_t nmsg)
{
    situ_err err = {0};
    snprintf(P.db, sizeof P.db, "%s", db);
    P.retry_at = 0;
    if (situ_store_open(db, SITU_STORE_READONLY, &P.ro, &err))
        return snprintf(msg, nmsg, "%s", err.msg), -1;
    situ_store_now(P.alerts_seen);
    P.stopping = 0;
    const char *verify = getenv("SITUD_VERIFY_DIGEST");
    P.verify_digest = verify && !strcmp(verify, "1");
    if (P.verify_digest)
        fprintf(stderr, "situd: feeds: SITUD_VERIFY_DIGEST=1: every rebuilt collection's digest "
                        "is checked from scratch\n");
    if (pthread_create(&P.thread, NULL, pub_main, NULL)) {
        situ_store_close(P.ro);
        P.ro = NULL;
        return snprintf(msg, nmsg, "cannot start the feeds publisher"), -1;
    }
    P.running = 1;
    if (!situ_db_is_url(db)) /* SQLite: the writer hands its commits itself */
        return 0;
    situd_events_rewind(situd_follow_loaded_seq()); /* what the follower starts after */
    if (situd_follow_start(db, msg, nmsg)) {
        situd__feedpub_stop();
        return -1;
    }
    return 0;
}

void situd__feedpub_stop(void)
{
    if (!P.running)
        return;
    situd_follow_stop(); /* nothing more is handed */
    pthread_mutex_lock(&P.lock);
    P.stopping = 1;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.lock);
    pthread_join(P.thread, NULL);
    P.running = 0;
    situ_store_close(P.ro);
    P.ro = NULL;
    free(P.pending);
    P.pending = NULL, P.n = P.cap = P.ncoll = 0;
    P.upto = 0;
}

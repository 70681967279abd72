/*
 * feed_store.c: the demo store that fuzz_cap and fuzz_feed apply to (see
 * feed_store.h). The temporary folder goes when the process exits.
 */
#include "feed_store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_db.h"
#include "situ/store.h"

static struct {
    char dir[PATH_MAX];
    situ_store *s;
    situ_feed_applier *a;
    situ_snapshot *snap;
} F;

static void close_store(void)
{
    situ_snapshot_release(F.snap);
    situ_feed_applier_free(F.a);
    situ_store_close(F.s);
    demo_db_remove(F.dir);
}

static void open_store(void)
{
    char db[PATH_MAX], msg[512];
    situ_err err = {0};
    if (demo_db_make(F.dir, sizeof F.dir, db, sizeof db, msg, sizeof msg)) {
        fprintf(stderr, "feed_store: %s\n", msg);
        exit(1);
    }
    atexit(close_store);
    if (situ_store_open(db, 0, &F.s, &err) || situ_snapshot_load(F.s, &F.snap, &err) ||
        situ_feed_applier_new(F.s, &F.a, &err)) {
        fprintf(stderr, "feed_store: %s: %s\n", db, err.msg);
        exit(1);
    }
}

const situ_snapshot *feed_store_snapshot(void)
{
    if (!F.s)
        open_store();
    return F.snap;
}

void feed_store_apply(situ_feed_batch *b)
{
    situ_err err = {0};
    feed_store_snapshot();
    if (situ_store_begin(F.s, &err) || situ_feed_apply(F.a, b, F.snap, &err)) {
        fprintf(stderr, "\nfeed_store: applying failed: %s\n", err.msg);
        abort();
    }
    situ_store_rollback(F.s);
}

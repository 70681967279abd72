/*
 * feed_store.h: private to tests/fuzz. The demo in a real SpatiaLite store
 * with a feed applier and the snapshot it reads townships from, for
 * fuzz_cap and fuzz_feed to apply what they parse (situ_feed_apply): each
 * batch in a transaction that is rolled back, so every input meets the same
 * store and a run stays fast.
 */
#ifndef SITU_FUZZ_FEED_STORE_H
#define SITU_FUZZ_FEED_STORE_H

#include "situ/feed.h"
#include "situ/snapshot.h"

/* The snapshot of the store, made on the first call (the process exits
 * with a message when it cannot be). */
const situ_snapshot *feed_store_snapshot(void);

/* Applies b and rolls it back; aborts (a finding) when the applier fails
 * rather than judging the events. */
void feed_store_apply(situ_feed_batch *b);

#endif

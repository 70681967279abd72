/*
 * situd_fixture.h: private to tests/fuzz. A real situd inside the fuzzing
 * process, for fuzz_http: the demo loaded into a temporary SpatiaLite file
 * (support/demo_db.c), a meteorology token added to it, then the feeds
 * writer, the snapshot, tile cache and proximity index made as daemon/main.c
 * makes them, and the server on 127.0.0.1 at an ephemeral port with one
 * thread. POST /feeds/... commit to that file and GET /events streams.
 */
#ifndef SITU_FUZZ_SITUD_FIXTURE_H
#define SITU_FUZZ_SITUD_FIXTURE_H

#include <stddef.h>

/* Starts the server once per process; returns its port, or -1 with a
 * message in msg. The temporary folder goes when the process exits. */
int situd_fixture_start(char *msg, size_t nmsg);

/* The meteorology token in force ("" before situd_fixture_start). */
const char *situd_fixture_token(void);

#endif

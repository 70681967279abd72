/*
 * situd_fixture.h: private to tests/fuzz. A real situd inside the fuzzing
 * process, for fuzz_http: the demo loaded into a temporary SpatiaLite file,
 * then the snapshot, tile cache and proximity index made as daemon/main.c
 * makes them, and the server on 127.0.0.1 at an ephemeral port with one
 * thread. The feeds writer is not started: POST /feeds/... and /events
 * answer 503, as they do while situd cannot write the file.
 */
#ifndef SITU_FUZZ_SITUD_FIXTURE_H
#define SITU_FUZZ_SITUD_FIXTURE_H

#include <stddef.h>

/* Starts the server once per process; returns its port, or -1 with a
 * message in msg. The demo comes from $SITU_GEODATA, else the source
 * tree's geodata/demo, else is generated; the temporary file is removed
 * once the snapshot is in memory. */
int situd_fixture_start(char *msg, size_t nmsg);

#endif

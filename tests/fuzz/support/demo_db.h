/*
 * demo_db.h: private to tests/fuzz. The demo loaded with libsitu (as `situ
 * load --all` does) into situ.sqlite under a fresh temporary folder, for the
 * targets that need a real store: fuzz_http's situd, and fuzz_cap and
 * fuzz_feed, which apply what they parse.
 */
#ifndef SITU_FUZZ_DEMO_DB_H
#define SITU_FUZZ_DEMO_DB_H

#include <stddef.h>

/* Makes the folder (its path in dir) and the file (its path in db). The
 * demo comes from $SITU_GEODATA, else the source tree's geodata/demo, else
 * is generated. Returns 0, or -1 with a message in msg (and no folder). */
int demo_db_make(char *dir, size_t ndir, char *db, size_t ndb, char *msg, size_t nmsg);

/* Removes the folder and all in it. */
void demo_db_remove(const char *dir);

#endif

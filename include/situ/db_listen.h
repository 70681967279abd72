/*
 * situ/db_listen.h: LISTEN on a PostgreSQL channel, on a connection of its
 * own. A notification is a hint that something was committed, never a
 * substitute for reading it: notifications are lost with the connection.
 *
 *   situ_db_listen -> situ_db_listen_wait ... (-1: lost) -> situ_db_listen_close
 */
#ifndef SITU_DB_LISTEN_H
#define SITU_DB_LISTEN_H

#include "situ/err.h"

typedef struct situ_db_listener situ_db_listener;

/* Connects to conninfo (a libpq URL or key=value string) and LISTENs on
 * channel. 0, or SITU_EDB with err (naming no password). */
int situ_db_listen(const char *conninfo, const char *channel, situ_db_listener **out,
                   situ_err *err);
/* Waits up to timeout_ms for notifications and consumes every one pending:
 * 1 when there was one, 0 when none came, -1 when the connection is lost
 * (close it and listen again). */
int situ_db_listen_wait(situ_db_listener *l, int timeout_ms);
/* Closes the connection; NULL is a no-op. */
void situ_db_listen_close(situ_db_listener *l);

#endif

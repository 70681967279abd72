/*
 * db_listen.c: LISTEN on a PostgreSQL channel over libpq, on a connection
 * of its own that does nothing else: it waits on the socket (poll) and
 * drains the notifications that arrived.
 */
#include "situ/db_listen.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct situ_db_listener {
    PGconn *conn;
};

/* libpq's message on one line (it ends with a newline). */
static int fail(situ_db_listener *l, situ_err *err, const char *what)
{
    const char *msg = l->conn ? PQerrorMessage(l->conn) : "out of memory";
    situ_err_set(err, SITU_EDB, "LISTEN: %s: %.*s", what, (int)strcspn(msg, "\n"), msg);
    situ_db_listen_close(l);
    return SITU_EDB;
}

int situ_db_listen(const char *conninfo, const char *channel, situ_db_listener **out, situ_err *err)
{
    situ_db_listener *l = calloc(1, sizeof *l);
    if (!l)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    l->conn = PQconnectdb(conninfo);
    if (!l->conn || PQstatus(l->conn) != CONNECTION_OK)
        return fail(l, err, "cannot connect");
    char *ident = PQescapeIdentifier(l->conn, channel, strlen(channel));
    if (!ident)
        return fail(l, err, "bad channel name");
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", ident);
    PQfreemem(ident);
    PGresult *r = PQexec(l->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return fail(l, err, "refused");
    *out = l;
    return 0;
}

int situ_db_listen_wait(situ_db_listener *l, int timeout_ms)
{
    struct pollfd p = {.fd = PQsocket(l->conn), .events = POLLIN};
    if (p.fd < 0)
        return -1;
    int ready = poll(&p, 1, timeout_ms);
    if (ready < 0)
        return 0; /* EINTR: as a timeout */
    if (ready && (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK))
        return -1;
    int got = 0;
    PGnotify *n;
    while ((n = PQnotifies(l->conn))) {
        got = 1;
        PQfreemem(n);
    }
    return got;
}

void situ_db_listen_close(situ_db_listener *l)
{
    if (!l)
        return;
    if (l->conn)
        PQfinish(l->conn);
    free(l);
}

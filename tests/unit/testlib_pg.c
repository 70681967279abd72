/* testlib_pg.c: PostgreSQL for the cmocka runners (see testlib.h): one
 * throwaway server per process from tests/pg/pgtemp.sh (as `postgres` when
 * run as root), a database of its own per test. */
#include "testlib.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char server_url[512];
static char server_dir[512];
static int ndbs;

static void stop_server(void)
{
    if (server_dir[0])
        situ_test_sh(NULL, "bash '%s/tests/pg/pgtemp.sh' stop '%s'", SITU_SOURCE_DIR, server_dir);
}

const char *situ_test_pg_server(void)
{
    return server_url[0] ? server_url : NULL;
}

/* Starts the server once; 1 when PostgreSQL is not installed. */
static int start_server(void)
{
    if (server_url[0])
        return 0;
    if (access("/usr/lib/postgresql/15/bin/initdb", X_OK) != 0) {
        fprintf(stderr, "SKIPPED PostgreSQL cases: /usr/lib/postgresql/15/bin/initdb is not "
                        "installed (scripts/setup.sh installs postgresql-15)\n");
        return 1;
    }
    char *out = NULL;
    int rc = situ_test_sh(&out, "bash '%s/tests/pg/pgtemp.sh' start", SITU_SOURCE_DIR);
    if (rc != 0 || !out || sscanf(out, "%511s %511s", server_url, server_dir) != 2) {
        fprintf(stderr, "pgtemp.sh start failed (%d): %s\n", rc, out ? out : "");
        free(out);
        fail();
    }
    free(out);
    atexit(stop_server);
    return 0;
}

/* Runs one statement on the server's admin database; fails the test on error. */
static void admin(const char *sql)
{
    PGconn *c = PQconnectdb(server_url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        fail();
    }
    PQclear(r);
    PQfinish(c);
}

int situ_test_pg_db(char *url, size_t n)
{
    if (start_server())
        return 1;
    char name[64], sql[128];
    snprintf(name, sizeof name, "t%d_%d", (int)getpid(), ++ndbs);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    admin(sql);
    /* the server's URL ends in /situ: the same server, this database */
    size_t base = strlen(server_url) - strlen("situ");
    snprintf(url, n, "%.*s%s", (int)base, server_url, name);
    return 0;
}

void situ_test_pg_drop(const char *url)
{
    const char *name = strrchr(url, '/');
    if (!name || !server_url[0])
        return;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
    admin(sql);
}

void situ_test_pg_superuser(const char *url, char *out, size_t n)
{
    const char *name = strrchr(url, '/');
    char port[16] = "";
    FILE *f;
    char path[600];
    snprintf(path, sizeof path, "%s/port", server_dir);
    if ((f = fopen(path, "r"))) {
        if (!fgets(port, sizeof port, f))
            port[0] = '\0';
        fclose(f);
    }
    port[strcspn(port, "\n")] = '\0';
    snprintf(out, n, "host=%s port=%s user=postgres dbname=%s", server_dir, port,
             name ? name + 1 : "situ");
}

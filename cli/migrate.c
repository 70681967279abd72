/*
 * migrate.c: `situ migrate` -- copies a whole store from one engine to the
 * other (a SpatiaLite file to PostgreSQL and back), event log included
 * (situ_store_migrate, store.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"

static const char usage[] = "--from FILE|URL --to FILE|URL [--force]";

int situ_cli_migrate(int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    int force = 0, c;
    static const struct option opts[] = {{"from", required_argument, 0, 'f'},
                                         {"to", required_argument, 0, 't'},
                                         {"force", no_argument, 0, 'F'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'f')
            from = optarg;
        else if (c == 't')
            to = optarg;
        else if (c == 'F')
            force = 1;
        else if (c == 'h')
            return printf("usage: situ migrate %s\nCopies the whole store FROM (a SpatiaLite "
                          "file or a postgresql:// URL) into TO, in one transaction.\nA "
                          "destination holding data is left unchanged unless --force, which "
                          "replaces it.\n",
                          usage),
                   0;
        else
            return fprintf(stderr, "usage: situ migrate %s\n", usage), 2;
    }
    if (!from || !to || optind != argc)
        return fprintf(stderr, "usage: situ migrate %s\n", usage), 2;
    situ_store *src, *dst;
    if (situ_cli_open(from, SITU_STORE_READONLY, &src))
        return 1;
    if (situ_cli_open(to, SITU_STORE_CREATE, &dst))
        return situ_store_close(src), 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    situ_migrate_stats st;
    situ_err err = {0};
    int rc = situ_store_migrate(src, dst, force, &st, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc)
        fprintf(stderr, "situ migrate: %s (nothing was changed)\n", err.msg);
    for (int i = 0; !rc && i < st.ntables; i++)
        printf("%-16s %lld rows\n", st.table[i].name, st.table[i].rows);
    if (!rc)
        printf("migrated %s to %s in %.2f s\n", situ_cli_db_name(from, src),
               situ_cli_db_name(to, dst),
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    situ_store_close(src);
    situ_store_close(dst);
    return rc != 0;
}

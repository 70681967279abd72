/*
 * backup.c: `situ backup` -- a consistent copy of the SpatiaLite file while
 * situd runs and writes it (SQLite's online backup; see store_backup.c).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"

int situ_cli_backup(int argc, char **argv)
{
    static const char usage[] = "[--db FILE] --out FILE";
    const char *db = situ_cli_default_db(), *out = NULL;
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'o')
            out = optarg;
        else if (c == 'h')
            return printf("usage: situ backup %s\n"
                          "Copies the file, consistent at one moment, while situd may be "
                          "writing it.\nThe copy is checked and appears under FILE only when "
                          "complete.\n",
                          usage),
                   0;
        else
            break;
    }
    if (!out || optind != argc || c == '?')
        return fprintf(stderr, "usage: situ backup %s\n", usage), 2;
    if (!situ_cli_db_is_file(db))
        return fprintf(stderr, "situ backup: copies a SpatiaLite file; back a PostgreSQL store "
                               "up with pg_basebackup or pg_dump\n"),
               1;
    situ_backup_stats st;
    situ_err err = {0};
    if (situ_store_backup(db, out, &st, &err)) {
        fprintf(stderr, "situ backup: %s\n", err.msg);
        return 1;
    }
    printf("backed up %s to %s: %lld pages, %.1f MB in %.2f s\n", db, out, st.pages,
           (double)st.bytes / 1e6, st.seconds);
    return 0;
}

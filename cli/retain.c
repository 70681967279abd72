/*
 * retain.c: `situ retain` (archive and remove expired alerts and old event
 * log rows, layers/store/retain.c) and the sizes `situ check` prints.
 * While situd runs it does the same hourly on its writer; running this
 * command beside it is safe (SQLite's locks), but situd only sees removed
 * alerts leave its snapshot at its next feed change or restart.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "situ/retain.h"
#include "cli.h"

/* SITU_RETAIN_KILL_AFTER_ARCHIVE=1 (tests only): SIGKILL itself after the
 * first archive commit, before the delete, as a power cut would. */
static int kill_after_archive(void *ctx)
{
    (void)ctx;
    raise(SIGKILL);
    return 1;
}

int situ_cli_retain(int argc, char **argv)
{
    static const char usage[] = "[--db FILE] [--days N] [--archive FILE] [--now RFC3339]";
    const char *db = situ_cli_default_db();
    situ_retain_opts o = {.days = SITU_RETAIN_DAYS};
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},      {"days", required_argument, 0, 'n'},
        {"archive", required_argument, 0, 'a'}, {"now", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'n' && ((o.days = (int)strtol(optarg, &end, 10)) < 1 || *end))
            return fprintf(stderr, "situ retain: --days must be a whole number of days >= 1\n"), 2;
        else if (c == 'a')
            o.archive = optarg;
        else if (c == 't')
            o.now = optarg;
        else if (c == 'h')
            return printf("usage: situ retain %s\nMoves alerts that expired more than N days "
                          "(default %d) ago and event log rows older than N days into the "
                          "archive (default: DIR/archive/situ-archive-YEAR.sqlite beside the "
                          "file), then removes them from the file.\n",
                          usage, SITU_RETAIN_DAYS),
                   0;
        else if (c != 'n')
            return fprintf(stderr, "usage: situ retain %s\n", usage), 2;
    }
    const char *k = getenv("SITU_RETAIN_KILL_AFTER_ARCHIVE");
    if (k && *k == '1')
        o.after_archive = kill_after_archive;
    situ_store *s;
    if (situ_cli_open(db, 0, &s))
        return 1;
    situ_retain_stats st;
    situ_err err = {0};
    int rc = situ_retain_run(s, &o, &st, &err);
    situ_store_close(s);
    printf("retain: before %s: %lld expired alerts and %lld event log rows archived to %s and "
           "removed",
           st.cutoff, st.alerts, st.events, st.archive);
    if (st.closures)
        printf(", with %lld ended road closures", st.closures);
    if (st.unmoved)
        printf("; %lld due rows the archive would not take were kept", st.unmoved);
    printf("\n");
    if (rc)
        fprintf(stderr, "situ retain: %s\n", err.msg);
    return rc ? 1 : 0;
}

static void print_bytes(long long b)
{
    if (b < 0)
        printf("%12s", "?");
    else
        printf("%12lld", b);
}

int situ_cli_print_sizes(situ_store *s, const char *db)
{
    situ_store_sizes z;
    situ_err err = {0};
    if (situ_retain_sizes(s, &z, &err))
        return fprintf(stderr, "situ check: %s\n", err.msg), 1;
    printf("%-15s %10s %12s\n", "table", "rows", "bytes");
    for (int i = 0; i < z.n; i++) {
        printf("%-15s %10lld ", z.tables[i].name, z.tables[i].rows);
        print_bytes(z.tables[i].bytes);
        printf("\n");
    }
    printf("file bytes      %lld\n", z.file_bytes);
    if (z.log_first[0])
        printf("event_log span  %s (seq %lld) .. %s (seq %lld)\n", z.log_first, z.log_first_seq,
               z.log_last, z.log_last_seq);
    else
        printf("event_log span  empty\n");
    char arc[1024];
    struct stat sb;
    situ_retain_default_archive(situ_cli_db_is_file(db) ? db : NULL, NULL, arc, sizeof arc);
    if (stat(arc, &sb) == 0)
        printf("archive         %s %lld bytes\n", arc, (long long)sb.st_size);
    else
        printf("archive         %s (none yet)\n", arc);
    return 0;
}

/*
 * snapfile_inproc.c: situ_snapshot_open timed in process on a SpatiaLite
 * store: cold (DB.snap removed: the store read, the counties and provinces
 * dissolved, the file written) against read back from DB.snap, wall and CPU
 * milliseconds, best of --passes (3), and the file's size. Writes DB.snap
 * beside the store, as situd does.
 * Usage: snapfile_inproc --db FILE [--passes N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/snapshot.h"
#include "situ/store.h"
#include "bench.h"

/* One situ_snapshot_open on db: its wall and CPU ms into *wall, *cpu (kept
 * when smaller), its note printed. Returns 0 or -1. */
static int open_once(const char *db, double *wall, double *cpu)
{
    situ_store *s;
    situ_snapshot *snap = NULL;
    situ_err err = {0};
    char note[9000];
    double w0 = now_ms(), c0 = cpu_ms();
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err))
        return fprintf(stderr, "%s\n", err.msg), -1;
    int rc = situ_snapshot_open(s, db, &snap, note, sizeof note, &err);
    situ_store_close(s);
    double w = now_ms() - w0, c = cpu_ms() - c0;
    if (rc)
        return fprintf(stderr, "%s\n", err.msg), -1;
    situ_snapshot_release(snap);
    printf("  %8.1f ms wall %8.1f ms CPU  %s\n", w, c, note);
    *wall = w < *wall ? w : *wall, *cpu = c < *cpu ? c : *cpu;
    return 0;
}

int main(int argc, char **argv)
{
    const char *db;
    int passes;
    if (bench_db_args(argc, argv, &db, &passes))
        return fprintf(stderr, "usage: snapfile_inproc --db FILE [--passes N]\n"), 2;
    char path[4200];
    snprintf(path, sizeof path, "%s.snap", db);
    double cw = 1e300, cc = 1e300, fw = 1e300, fc = 1e300;
    for (int p = 0; p < passes; p++) {
        unlink(path);
        if (open_once(db, &cw, &cc) || open_once(db, &fw, &fc))
            return 1;
    }
    struct stat st;
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    printf("cold      %8.1f ms wall %8.1f ms CPU (best of %d)\n", cw, cc, passes);
    printf("from file %8.1f ms wall %8.1f ms CPU; %s %.1f MB\n", fw, fc, path, (double)size / 1e6);
    return 0;
}

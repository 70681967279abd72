/*
 * feed_apply_inproc.c: the in-process benchmark of the feeds' write path
 * (situ_feed_apply, what the writer thread runs per group commit). In a
 * temporary SpatiaLite store it registers 50 stations of one department,
 * then applies --batches batches of 1,000 observations each (20 newer
 * readings per station), one transaction per batch, and prints
 * `feed_apply events=1000 apply_cpu_ms=.. commit_cpu_ms=..` (thread CPU
 * time, median over the batches).
 * For instruction counts run it under callgrind with
 *   --toggle-collect=situ_feed_apply
 * so that only the apply is counted (not the store's creation or commits).
 * Usage: feed_apply_inproc [--batches N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "situ/buf.h"
#include "situ/feed.h"
#include "situ/store.h"
#include "bench.h"

#define STATIONS 50
#define EVENTS 1000

static void die(const char *what, const situ_err *err)
{
    fprintf(stderr, "feed_apply_inproc: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* Batch k's JSON: EVENTS observations, readings of minute k of the day. */
static void batch_json(situ_buf *b, int k)
{
    situ_buf_adds(b, "{\"events\":[");
    for (int i = 0; i < EVENTS; i++)
        situ_buf_printf(b,
                        "%s{\"id\":\"b%d-e%d\",\"type\":\"observation\",\"station\":\"RG%02d\","
                        "\"observed_at\":\"2026-12-06T%02d:%02d:%02dZ\",\"metric\":\"rain_1h_mm\","
                        "\"value\":%.1f,\"lon\":%.4f,\"lat\":26.05}",
                        i ? "," : "", k, i, i % STATIONS, k / 60 % 24, k % 60, i / STATIONS,
                        (i % 97) * 0.5, 111.0 + 0.001 * (i % STATIONS));
    situ_buf_adds(b, "]}");
}

/* Applies batch k in one transaction; adds its CPU times in ms. */
static void apply_batch(situ_store *s, situ_feed_applier *a, int k, double *apply_ms,
                        double *commit_ms)
{
    situ_buf body;
    situ_buf_init(&body);
    batch_json(&body, k);
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    if (body.oom || situ_feed_parse("meteorology", body.p, body.n, &b, &err))
        die("parse", &err);
    double t0 = cpu_ms();
    if (situ_store_begin(s, &err) || situ_feed_apply(a, b, NULL, &err))
        die("apply", &err);
    double t1 = cpu_ms();
    if (situ_store_commit(s, &err))
        die("commit", &err);
    *apply_ms = t1 - t0;
    *commit_ms = cpu_ms() - t1;
    for (int i = 0; i < b->n; i++)
        if (b->ev[i].status != SITU_FEED_ACCEPTED)
            die("an event was not accepted", NULL);
    situ_feed_batch_free(b);
    situ_buf_dispose(&body);
}

int main(int argc, char **argv)
{
    int batches = 5;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--batches"))
            batches = atoi(argv[i + 1]);
    if (batches < 1 || batches > 1000)
        die("--batches must be 1..1000", NULL);
    char dir[] = "/tmp/feed_apply_inproc.XXXXXX", path[64];
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    situ_store *s = NULL;
    situ_feed_applier *a = NULL;
    situ_err err = {0};
    if (situ_store_open(path, SITU_STORE_CREATE, &s, &err) || situ_feed_applier_new(s, &a, &err))
        die("open", &err);
    double apply[1001], commit[1001];
    for (int k = 0; k <= batches; k++) /* batch 0 creates the stations, untimed */
        apply_batch(s, a, k, &apply[k], &commit[k]);
    qsort(apply + 1, (size_t)batches, sizeof apply[0], cmp_double);
    qsort(commit + 1, (size_t)batches, sizeof commit[0], cmp_double);
    printf("feed_apply events=%d apply_cpu_ms=%.2f commit_cpu_ms=%.2f\n", EVENTS,
           apply[1 + batches / 2], commit[1 + batches / 2]);
    situ_feed_applier_free(a);
    situ_store_close(s);
    char f[96];
    static const char *const tails[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++)
        snprintf(f, sizeof f, "%s%s", path, tails[i]), unlink(f);
    rmdir(dir);
    return 0;
}

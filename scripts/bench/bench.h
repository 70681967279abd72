/*
 * bench.h: the helpers every in-process benchmark here times and sorts
 * with (a monotonic clock in ms, the thread's CPU clock in ms for a shared
 * machine, qsort's comparison of doubles for percentiles), so that each
 * bench does not keep its own copy.
 */
#ifndef SITU_BENCH_H
#define SITU_BENCH_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The calling thread's CPU time: what a query cost, without the time
 * slices other processes took from it. */
static inline double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Reads --db FILE and --passes N (default 3) from argv; 0, or -1 when --db
 * is missing or passes is below 1. */
static inline int bench_db_args(int argc, char **argv, const char **out_db, int *out_passes)
{
    *out_db = NULL, *out_passes = 3;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--db"))
            *out_db = argv[i + 1];
        else if (!strcmp(argv[i], "--passes"))
            *out_passes = atoi(argv[i + 1]);
    return *out_db && *out_passes >= 1 ? 0 : -1;
}

#endif

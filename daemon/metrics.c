/*
 * metrics.c: Prometheus text metrics. Counters per route and status and a
 * latency histogram per route, updated with relaxed atomics from every
 * worker thread; features per collection and snapshot age are read from the
 * current snapshot when /metrics is asked.
 */
#include <stdint.h>
#include <time.h>
#include <sys/time.h>

#include "conns.h"
#include "server.h"

#define MAX_ROUTES 64
#define NSTATUS 600
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (int)(sizeof bounds / sizeof bounds[0])

static uint64_t requests[MAX_ROUTES][NSTATUS];
static uint64_t buckets[MAX_ROUTES][NBUCKETS + 1];
static uint64_t sum_us[MAX_ROUTES];

void situd_metrics_record(int route, unsigned status, double seconds)
{
    if (route < 0 || route >= MAX_ROUTES)
        return;
    __atomic_add_fetch(&requests[route][status < NSTATUS ? status : 0], 1, __ATOMIC_RELAXED);
    int b = 0;
    while (b < NBUCKETS && seconds > bounds[b])
        b++;
    __atomic_add_fetch(&buckets[route][b], 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&sum_us[route], (uint64_t)(seconds * 1e6), __ATOMIC_RELAXED);
}

static void write_requests(situ_buf *b)
{
    situ_buf_adds(b, "# HELP situd_requests_total HTTP requests by route and status.\n"
                     "# TYPE situd_requests_total counter\n");
    for (int r = 0; r < situd_nroutes && r < MAX_ROUTES; r++)
        for (int s = 0; s < NSTATUS; s++) {
            uint64_t n = __atomic_load_n(&requests[r][s], __ATOMIC_RELAXED);
            if (n)
                situ_buf_printf(b, "situd_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                                situd_routes[r].name, s, (unsigned long long)n);
        }
}

static void write_latency(situ_buf *b)
{
    situ_buf_adds(b, "# HELP situd_request_seconds Request latency by route.\n"
                     "# TYPE situd_request_seconds histogram\n");
    for (int r = 0; r < situd_nroutes && r < MAX_ROUTES; r++) {
        uint64_t cum = 0;
        for (int k = 0; k <= NBUCKETS; k++)
            cum += __atomic_load_n(&buckets[r][k], __ATOMIC_RELAXED);
        if (!cum)
            continue;
        uint64_t run = 0;
        for (int k = 0; k <= NBUCKETS; k++) {
            run += __atomic_load_n(&buckets[r][k], __ATOMIC_RELAXED);
            if (k < NBUCKETS)
                situ_buf_printf(b, "situd_request_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                                situd_routes[r].name, bounds[k], (unsigned long long)run);
            else
                situ_buf_printf(b, "situd_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                                situd_routes[r].name, (unsigned long long)run);
        }
        situ_buf_printf(b, "situd_request_seconds_sum{route=\"%s\"} %.6f\n", situd_routes[r].name,
                        (double)__atomic_load_n(&sum_us[r], __ATOMIC_RELAXED) / 1e6);
        situ_buf_printf(b, "situd_request_seconds_count{route=\"%s\"} %llu\n",
                        situd_routes[r].name, (unsigned long long)cum);
    }
}

static void write_snapshot(situ_buf *b)
{
    situ_snapshot *s = situd_snapshot_acquire();
    if (!s)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    situ_buf_adds(b, "# HELP situd_features Features per collection in the served snapshot.\n"
                     "# TYPE situd_features gauge\n");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_buf_printf(b, "situd_features{collection=\"%s\"} %zu\n", s->colls[i]->c->id,
                        s->colls[i]->n);
    situ_buf_adds(b, "# HELP situd_snapshot_bytes Memory held by each collection's snapshot.\n"
                     "# TYPE situd_snapshot_bytes gauge\n");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_buf_printf(b, "situd_snapshot_bytes{collection=\"%s\"} %zu\n", s->colls[i]->c->id,
                        s->colls[i]->bytes);
    situ_buf_printf(b,
                    "# HELP situd_snapshot_age_seconds Seconds since the snapshot was built.\n"
                    "# TYPE situd_snapshot_age_seconds gauge\n"
                    "situd_snapshot_age_seconds %.3f\n"
                    "# HELP situd_snapshot_version Version of the served snapshot.\n"
                    "# TYPE situd_snapshot_version gauge\n"
                    "situd_snapshot_version %lld\n",
                    (double)tv.tv_sec + (double)tv.tv_usec / 1e6 - s->built_at, (long long)s->version);
    situ_snapshot_release(s);
}

void situd_metrics_write(situ_buf *b)
{
    write_requests(b);
    write_latency(b);
    write_snapshot(b);
    situd_tiles_stats(b);
    situd_conns_stats(b);
    situd_bodies_stats(b);
}

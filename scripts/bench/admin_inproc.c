/*
 * admin_inproc.c: the township dissolve (situ/admin.h) timed in process on a
 * SpatiaLite store: counties from the townships and provinces from the
 * counties, by GEOSCoverageUnion (falling back to GEOSUnaryUnion) against
 * GEOSUnaryUnion alone, then the same again given the first result (nothing
 * changed: every area copied), and the whole preparation of the townships
 * for tiling (situ_tilesrc_new, which dissolves both levels). Wall and CPU
 * milliseconds, best of --passes (3).
 * Usage: admin_inproc --db FILE [--passes N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/admin.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/tile.h"
#include "bench.h"

typedef struct run {
    double wall, cpu;
    situ_admin_stats st[2];
} run;

/* Both levels by method m, from prev (NULL or a counties result). */
static int dissolve(const situ_coll *towns, situ_admin_method m, situ_coll *prev[2],
                    situ_coll *out[2], run *r)
{
    situ_err err = {0};
    double w = now_ms(), c = cpu_ms();
    int rc = situ_admin_dissolve(towns, SITU_ADMIN_COUNTY, prev ? prev[0] : NULL, m, &out[0],
                                 &r->st[0], &err);
    if (!rc)
        rc = situ_admin_dissolve(out[0], SITU_ADMIN_PROVINCE, prev ? prev[1] : NULL, m, &out[1],
                                 &r->st[1], &err);
    r->wall = now_ms() - w, r->cpu = cpu_ms() - c;
    if (rc)
        fprintf(stderr, "admin_inproc: %s\n", err.msg);
    return rc;
}

static void report(const char *name, const run *r)
{
    printf("%-22s wall_ms=%.1f cpu_ms=%.1f counties=%zu (coverage %zu, unary %zu, reused %zu, "
           "%zu vertices) provinces=%zu (coverage %zu, unary %zu, reused %zu, %zu vertices)\n",
           name, r->wall, r->cpu, r->st[0].areas, r->st[0].coverage, r->st[0].unary,
           r->st[0].reused, r->st[0].vertices, r->st[1].areas, r->st[1].coverage, r->st[1].unary,
           r->st[1].reused, r->st[1].vertices);
}

static void best(run *b, const run *r, int first)
{
    if (first || r->wall < b->wall)
        *b = *r;
}

int main(int argc, char **argv)
{
    const char *db;
    int passes;
    if (bench_db_args(argc, argv, &db, &passes))
        return fprintf(stderr, "usage: admin_inproc --db FILE [--passes N]\n"), 2;
    situ_err err = {0};
    situ_store *s = NULL;
    situ_coll *towns = NULL;
    if (situ_store_open(db, 0, &s, &err) || situ_coll_load(s, SITU_C_TOWNSHIPS, &towns, &err))
        return fprintf(stderr, "admin_inproc: %s\n", err.msg), 1;
    printf("# %zu townships\n", towns->n);
    run b[4], r;
    for (int p = 0; p < passes; p++) {
        situ_coll *cov[2], *un[2], *again[2];
        if (dissolve(towns, SITU_ADMIN_COVERAGE, NULL, cov, &r))
            return 1;
        best(&b[0], &r, !p);
        if (dissolve(towns, SITU_ADMIN_UNARY, NULL, un, &r))
            return 1;
        best(&b[1], &r, !p);
        if (dissolve(towns, SITU_ADMIN_COVERAGE, cov, again, &r))
            return 1;
        best(&b[2], &r, !p);
        situ_tilesrc *src = NULL;
        double w = now_ms(), c = cpu_ms();
        if (situ_tilesrc_new(towns, &src, &err))
            return fprintf(stderr, "admin_inproc: %s\n", err.msg), 1;
        r = (run){now_ms() - w, cpu_ms() - c, {{0}, {0}}};
        best(&b[3], &r, !p);
        situ_tilesrc_release(src);
        for (int k = 0; k < 2; k++)
            situ_coll_release(cov[k]), situ_coll_release(un[k]), situ_coll_release(again[k]);
    }
    report("coverage_union", &b[0]);
    report("unary_union", &b[1]);
    report("unchanged_again", &b[2]);
    printf("%-22s wall_ms=%.1f cpu_ms=%.1f (townships prepared for tiles, both levels included)\n",
           "tilesrc_townships", b[3].wall, b[3].cpu);
    situ_coll_release(towns);
    situ_store_close(s);
    return 0;
}

/*
 * publish_inproc.c: the in-process benchmark of the feeds publisher's
 * rebuild of the alerts collection (issue 13). In a temporary SpatiaLite
 * store holding 200 small alerts, for a sawtooth alert outline of each size
 * (10k, 20k, 40k, 200k vertices by default) it times what one change costs
 * the publisher thread:
 *
 *   publish_cold  the collection read whole and prepared whole (tiles:
 *                 projection and simplification importance; the proximity
 *                 index), as situd did on every change before issue 13
 *   publish_inc   situ_coll_update + situ_tilesrc_new_from from the previous
 *                 version (what feedpub.c does now) + the proximity index
 *   small_after   a 5-vertex alert posted after the big one: cold, and
 *                 incremental (the big one copied, not prepared again)
 *
 * Prints one line per size: `publish_inproc vertices=N cold_ms=.. inc_ms=..
 * small_cold_ms=.. small_inc_ms=..` (wall time, median of --passes).
 * Built with -DSITU_BENCH_COLD_ONLY it uses only the API older trees have
 * (situ_coll_load, situ_tilesrc_new), to measure them for the "before".
 *
 * With --db FILE (a loaded store, e.g. the demo at scale 10; it is
 * changed) it times a feed batch of the hidden dangers instead: per batch
 * size (--batch 1,100) and pass, that many hazards spread over the
 * collection are changed in one transaction (every other one moved 200 m,
 * every other one's status toggled between open and rectified, every
 * fourth given a past deadline: the overdue set and the aggregates'
 * cells change), then the publisher's step is timed: situ_coll_update
 * (update_ms) and situ_tilesrc_new_from, the aggregate pyramid included
 * (tiles_ms). Prints `publish_batch n=N update_ms=.. update_cpu_ms=..
 * tiles_ms=.. tiles_cpu_ms=..` (wall, and the thread's CPU time for a
 * shared machine; medians). For instruction counts run it under callgrind
 * with --toggle-collect=batch_update --toggle-collect=batch_tiles (or one of
 * them) and --batch N --passes 1: one batch of N changes is counted. Callgrind
 * counts every byte a `rep movsb` copies as an instruction (glibc's memcpy
 * of a few KB or more); GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=
 * 1000000000 makes memcpy copy with vector moves, to count copies as the
 * CPU costs them (issue 20 gives both).
 * Usage: publish_inproc [--passes N] [--sizes 10000,20000,40000,200000]
 *        [--once] (one cold rebuild per size only: for quadratic trees)
 *        publish_inproc --db FILE [--batch 1,100] [--passes N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "situ/buf.h"
#include "situ/nearest.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/tile.h"
#include "bench.h"

static void die(const char *what, const situ_err *err)
{
    fprintf(stderr, "publish_inproc: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

/* A WKB Polygon: a sawtooth of n vertices along the south edge of a box
 * 0.1 x 0.02 degrees at (lon, lat), teeth 1e-5 degrees deep. */
static void sawtooth_wkb(situ_buf *b, int n, double lon, double lat)
{
    uint32_t u = 3, one = 1, np = (uint32_t)n + 3;
    situ_buf_addc(b, 1);
    situ_buf_add(b, &u, 4), situ_buf_add(b, &one, 4), situ_buf_add(b, &np, 4);
    for (int i = 0; i < n; i++) {
        double xy[2] = {lon + 0.1 * i / (n - 1), lat - (i % 2 ? 1e-5 : 0)};
        situ_buf_add(b, xy, sizeof xy);
    }
    double tail[6] = {lon + 0.1, lat + 0.02, lon, lat + 0.02, lon, lat};
    situ_buf_add(b, tail, sizeof tail);
}

static void put_alert(situ_store *s, const char *id, int n, double lon, double lat)
{
    const situ_collection *c = situ_schema_collection(SITU_C_ALERTS);
    situ_value v[32] = {0};
    for (int i = 0; i < c->nfields; i++)
        if (c->fields[i].type == SITU_FT_TEXT)
            v[i] = (situ_value){SITU_FT_TEXT,
                                {.s = !strcmp(c->fields[i].name, "status")     ? "active"
                                      : !strcmp(c->fields[i].name, "severity") ? "red"
                                                                               : "bench"}};
    situ_buf b;
    situ_buf_init(&b);
    sawtooth_wkb(&b, n, lon, lat);
    situ_feature_in f = {.id = id,
                         .wkb = (const unsigned char *)b.p,
                         .nwkb = b.n,
                         .values = v,
                         .updated_at = "2026-12-06T00:00:00Z"};
    situ_err err = {0};
    if (situ_store_begin(s, &err) || situ_store_upsert(s, c, &f, NULL, &err) ||
        situ_store_commit(s, &err))
        die("write an alert", &err);
    situ_buf_dispose(&b);
}

static void drop_alert(situ_store *s, const char *id)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM alerts WHERE id = '%s'", id);
    situ_err err = {0};
    if (situ_store_exec(s, sql, &err))
        die("delete an alert", &err);
}

/* The tile and proximity preparation of coll: what the publisher does
 * after reading a collection. prev (may be NULL) is the previous src. */
static situ_tilesrc *prepare(situ_coll *coll, situ_tilesrc *prev)
{
    situ_err err = {0};
    situ_tilesrc *src;
    situ_nearest_index *ix;
#ifdef SITU_BENCH_COLD_ONLY
    (void)prev;
    if (situ_tilesrc_new(coll, &src, &err))
#else
    if (situ_tilesrc_new_from(coll, prev, &src, &err))
#endif
        die("prepare tiles", &err);
    if (situ_nearest_index_new(coll, &ix, &err))
        die("proximity index", &err);
    situ_nearest_index_release(ix);
    return src;
}

typedef struct version {
    situ_coll *coll;
    situ_tilesrc *src;
} version;

static void version_set(version *v, situ_coll *coll, situ_tilesrc *src)
{
    situ_tilesrc_release(v->src);
    situ_coll_release(v->coll);
    v->coll = coll, v->src = src;
}

/* One change, the whole collection read and prepared: ms. */
static double cold(situ_store *s, version *v)
{
    double t0 = now_ms();
    situ_coll *coll;
    situ_err err = {0};
    if (situ_coll_load(s, SITU_C_ALERTS, &coll, &err))
        die("load alerts", &err);
    situ_tilesrc *src = prepare(coll, NULL);
    double ms = now_ms() - t0;
    version_set(v, coll, src);
    return ms;
}

/* One change naming id, from v's version: ms. */
static double incremental(situ_store *s, version *v, const char *id)
{
#ifdef SITU_BENCH_COLD_ONLY
    (void)id;
    return cold(s, v);
#else
    double t0 = now_ms();
    situ_coll *coll;
    situ_err err = {0};
    const char *ids[] = {id};
    if (situ_coll_update(s, v->coll, ids, 1, &coll, &err))
        die("update alerts", &err);
    situ_tilesrc *src = prepare(coll, v->src);
    double ms = now_ms() - t0;
    version_set(v, coll, src);
    return ms;
#endif
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return x[n / 2];
}

/* ---- a feed batch of hidden dangers in a loaded store (--db) -------------- */

/* Changes the hazards ids[0..n) in one transaction (see the file top). */
static void change_hazards(situ_store *s, const char *const *ids, size_t n, int pass)
{
    situ_err err = {0};
    if (situ_store_begin(s, &err))
        die("begin", &err);
    double d = pass % 2 ? -0.002 : 0.002;
    for (size_t i = 0; i < n; i++) {
        char set[160], sql[512];
        if (i % 2)
            snprintf(set, sizeof set,
                     "status = CASE status WHEN 'rectified' THEN 'open' "
                     "ELSE 'rectified' END");
        else
            snprintf(set, sizeof set, "geom = MakePoint(X(geom) + %.4f, Y(geom) + %.4f, 4326)", d,
                     d / 2);
        snprintf(sql, sizeof sql, "UPDATE hazards SET %s%s WHERE id = '%s'", set,
                 i % 4 == 3 ? ", deadline = '2020-01-01'" : "", ids[i]);
        if (situ_store_exec(s, sql, &err))
            die("change a hazard", &err);
    }
    if (situ_store_commit(s, &err))
        die("commit", &err);
}

/* The next version of the hazards after a batch changed ids[0..n) (its own
 * function, for callgrind's --toggle-collect=batch_update). */
__attribute__((noinline)) static situ_coll *batch_update(situ_store *s, const situ_coll *prev,
                                                         const char *const *ids, size_t n)
{
    situ_coll *coll;
    situ_err err = {0};
    if (situ_coll_update(s, prev, ids, n, &coll, &err))
        die("update hazards", &err);
    return coll;
}

/* The tile preparation of a batch's new version of the hazards (its own
 * function, for callgrind's --toggle-collect=batch_tiles). */
__attribute__((noinline)) static situ_tilesrc *batch_tiles(situ_coll *coll, situ_tilesrc *prev)
{
    situ_tilesrc *src;
    situ_err err = {0};
    if (situ_tilesrc_new_from(coll, prev, &src, &err))
        die("prepare hazards", &err);
    return src;
}

static int feed_batches(const char *db, const char *batches, int passes)
{
    situ_store *s;
    situ_err err = {0};
    version v = {0};
    if (situ_store_open(db, 0, &s, &err))
        die(db, &err);
    situ_coll *coll;
    situ_tilesrc *src;
    if (situ_coll_load(s, SITU_C_HAZARDS, &coll, &err) || situ_tilesrc_new(coll, &src, &err))
        die("load hazards", &err);
    version_set(&v, coll, src);
    printf("# hazards=%zu\n", coll->n);
    for (const char *p = batches; *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p)) {
        size_t n = (size_t)atoi(p);
        n = n < 1 ? 1 : n > v.coll->n ? v.coll->n : n;
        const char **ids = malloc(n * sizeof *ids);
        double up[64], uc[64], tl[64], tc[64];
        for (int k = 0; k < passes; k++) {
            for (size_t i = 0; i < n; i++) /* ids of this version, spread over it */
                ids[i] = v.coll->feats[(i * v.coll->n / n + (size_t)k) % v.coll->n].id;
            change_hazards(s, ids, n, k);
            double t0 = now_ms(), c0 = cpu_ms();
            coll = batch_update(s, v.coll, ids, n);
            double t1 = now_ms(), c1 = cpu_ms();
            src = batch_tiles(coll, v.src);
            tc[k] = cpu_ms() - c1, tl[k] = now_ms() - t1, up[k] = t1 - t0, uc[k] = c1 - c0;
            version_set(&v, coll, src);
        }
        printf("publish_batch n=%zu update_ms=%.2f update_cpu_ms=%.2f tiles_ms=%.2f "
               "tiles_cpu_ms=%.2f\n",
               n, median(up, passes), median(uc, passes), median(tl, passes), median(tc, passes));
        fflush(stdout);
        free(ids);
    }
    version_set(&v, NULL, NULL);
    situ_store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    int passes = 3, once = 0;
    const char *sizes = "10000,20000,40000,200000", *db = NULL, *batches = "1,100";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else if (!strcmp(argv[i], "--passes") && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sizes") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batches = argv[++i];
    passes = passes < 1 ? 1 : passes > 64 ? 64 : passes;
    if (db)
        return feed_batches(db, batches, passes);
    char dir[] = "/tmp/situ-publish-XXXXXX", path[64];
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    snprintf(path, sizeof path, "%s/bench.sqlite", dir);
    situ_store *s;
    situ_err err = {0};
    if (situ_store_open(path, SITU_STORE_CREATE, &s, &err))
        die(path, &err);
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "bench:small%03d", i);
        put_alert(s, id, 5, 111.2 + 0.004 * (i % 20), 25.6 + 0.01 * (i / 20));
    }
    version v = {0};
    cold(s, &v);
    for (const char *p = sizes; *p;) {
        int n = atoi(p);
        double c[64], inc[64], sc[64], si[64];
        if (once) { /* one cold rebuild with the big outline: slow trees */
            put_alert(s, "bench:saw", n, 111.5, 26.4);
            printf("publish_inproc vertices=%d cold_ms=%.1f\n", n, cold(s, &v));
            drop_alert(s, "bench:saw");
            cold(s, &v);
            p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
            continue;
        }
        for (int k = 0; k < passes; k++) {
            put_alert(s, "bench:saw", n, 111.5, 26.4);
            c[k] = cold(s, &v);
            drop_alert(s, "bench:saw");
            cold(s, &v);
            put_alert(s, "bench:saw", n, 111.5, 26.4);
            inc[k] = incremental(s, &v, "bench:saw");
            put_alert(s, "bench:after", 5, 111.52, 26.41);
            si[k] = incremental(s, &v, "bench:after");
            sc[k] = cold(s, &v);
            drop_alert(s, "bench:saw"), drop_alert(s, "bench:after");
            cold(s, &v);
        }
        printf("publish_inproc vertices=%d cold_ms=%.1f inc_ms=%.1f small_cold_ms=%.1f "
               "small_inc_ms=%.1f\n",
               n, median(c, passes), median(inc, passes), median(sc, passes), median(si, passes));
        fflush(stdout);
        p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p);
    }
    version_set(&v, NULL, NULL);
    situ_store_close(s);
    unlink(path);
    char wal[80];
    snprintf(wal, sizeof wal, "%s-wal", path), unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", path), unlink(wal);
    rmdir(dir);
    return 0;
}

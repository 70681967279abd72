/*
 * nearest_inproc.c: the in-process proximity benchmark. Loads the resources
 * of a situ SpatiaLite file, builds the nearest index and answers the k=5
 * nearest for every point of the peers' knn_points.csv (id,lon,lat,item,
 * min_qty), unfiltered and with the item filter, as run_peers.sh's
 * PROJECT_INPROC_CMD expects: one line per variant,
 *     name per_s=... median_ms=... p99_ms=...
 * on stdout (notes on stderr). Each query computes the exact geodesic
 * distances and bearings of its answer, as geokdbush's run computes its
 * distances; the GeoJSON writing is timed separately (stderr).
 *
 *   nearest_inproc DB [KNN_CSV]    (KNN_CSV defaults to $KNN_CSV)
 *   PASSES=N (default 3 timed passes after one warm-up), K=5,
 *   KNN_EXPECTED, KNN_EXPECTED_FILTERED: PostGIS's answers (qid,id1 .. id5,
 *   d1 .. d5) to compare ids with; default: knn_expected*.csv beside KNN_CSV.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/nearest.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "bench.h"

typedef struct qpoint {
    char id[32];
    double lon, lat;
    int item; /* -1 when the item is not in situ's vocabulary */
    double min_qty;
} qpoint;

/* The peers' synthetic items that situ's vocabulary names differently. */
static int item_of(const char *code)
{
    static const char *const alias[][2] = {{"first_aid_kit", "medical_kit"},
                                           {"instant_noodles", "instant_food"}};
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(code, alias[i][0]))
            code = alias[i][1];
    return situ_schema_item_index(code);
}

static qpoint *read_points(const char *path, int *out_n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[512], item[64];
    int n = 0, cap = 16384;
    qpoint *pts = malloc((size_t)cap * sizeof *pts);
    if (!fgets(line, sizeof line, f)) /* header */
        n = -1;
    while (n >= 0 && fgets(line, sizeof line, f)) {
        qpoint *p = &pts[n];
        if (n == cap)
            pts = realloc(pts, (size_t)(cap *= 2) * sizeof *pts), p = &pts[n];
        if (sscanf(line, "%31[^,],%lf,%lf,%63[^,],%lf", p->id, &p->lon, &p->lat, item,
                   &p->min_qty) != 5)
            continue;
        p->item = item_of(item);
        n++;
    }
    fclose(f);
    *out_n = n;
    return pts;
}

typedef struct bench {
    const situ_nearest_index *ix;
    const qpoint *pts;
    int npts, k, filtered;
    situ_nearest_scratch *scratch;
    situ_nearest_hit *answers; /* npts * k, the last pass's */
    int *nanswers;
} bench;

/* One pass over all points; per-query times into lat (when not NULL). */
static double run_pass(bench *b, double *lat)
{
    situ_nearest_query q;
    situ_nearest_query_init(&q, SITU_NEAREST_KNN);
    q.k = b->k;
    double t0 = now_ms();
    for (int i = 0; i < b->npts; i++) {
        const qpoint *p = &b->pts[i];
        double a = lat ? now_ms() : 0;
        q.lon = q.in_lon = p->lon, q.lat = q.in_lat = p->lat;
        q.item = b->filtered ? p->item : -1;
        q.min_qty = b->filtered ? p->min_qty : 0;
        situ_nearest_result r = {.hits = b->answers + (size_t)i * (size_t)b->k, .cap = b->k};
        if (situ_nearest_search(b->ix, &q, b->scratch, &r, NULL) == 0)
            b->nanswers[i] = r.n;
        if (lat)
            lat[i] = now_ms() - a;
    }
    return now_ms() - t0;
}

static void report(bench *b, const char *name, int passes)
{
    double *lat = malloc((size_t)b->npts * (size_t)passes * sizeof *lat), total = 0;
    run_pass(b, NULL); /* warm-up */
    for (int p = 0; p < passes; p++)
        total += run_pass(b, lat + (size_t)p * (size_t)b->npts);
    size_t n = (size_t)b->npts * (size_t)passes;
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("%s per_s=%.1f median_ms=%.4f p99_ms=%.4f\n", name, (double)n / (total / 1e3), lat[n / 2],
           lat[(size_t)(0.99 * (double)(n - 1))]);
    fflush(stdout);
    free(lat);
}

/* Compares the last pass's ids with PostGIS's (qid,id1 .. idk,d1 .. dk). */
static void cross_check(const bench *b, const situ_coll *c, const char *path, const char *name)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return;
    char line[1024];
    int same = 0, total = 0;
    while (fgets(line, sizeof line, f) && total < b->npts) {
        char *ids = strchr(line, ',');
        if (!ids || strncmp(line, b->pts[total].id, (size_t)(ids - line)) != 0)
            continue; /* header, or a point we do not have */
        char *end = strchr(ids + 1, ','), want[512] = "", got[512] = "";
        snprintf(want, sizeof want, "%.*s", end ? (int)(end - ids - 1) : 0, ids + 1);
        for (int k = 0, m = 0; k < b->nanswers[total]; k++)
            m += snprintf(got + m, sizeof got - (size_t)m, "%s%s", k ? " " : "",
                          c->feats[b->answers[(size_t)total * (size_t)b->k + (size_t)k].feat].id);
        same += strcmp(want, got) == 0;
        total++;
    }
    fclose(f);
    fprintf(stderr,
            "%s: same ids in the same order as %s for %d of %d points (PostGIS orders by "
            "sphere distance, situ by the ellipsoid's)\n",
            name, path, same, total);
}

/* $var, else the file `name` in the folder of csv when it exists, else NULL. */
static const char *expected_path(const char *var, const char *csv, const char *name, char *buf,
                                 size_t n)
{
    const char *v = getenv(var), *slash = strrchr(csv, '/');
    if (v && *v)
        return v;
    snprintf(buf, n, "%.*s%s", slash ? (int)(slash - csv + 1) : 0, csv, name);
    FILE *f = fopen(buf, "r");
    if (f)
        fclose(f);
    return f ? buf : NULL;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static int load(const char *db, situ_coll **out_c, situ_nearest_index **out_ix)
{
    situ_store *s;
    situ_err err = {0};
    double t0 = now_ms();
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err) ||
        situ_coll_load(s, SITU_C_RESOURCES, out_c, &err)) {
        fprintf(stderr, "nearest_inproc: %s\n", err.msg);
        return 1;
    }
    situ_store_close(s);
    double t1 = now_ms();
    if (situ_nearest_index_new(*out_c, out_ix, &err)) {
        fprintf(stderr, "nearest_inproc: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "resources %zu: snapshot %.1f ms, nearest index %.1f ms\n", (*out_c)->n,
            t1 - t0, now_ms() - t1);
    return 0;
}

int main(int argc, char **argv)
{
    const char *csv = argc > 2 ? argv[2] : getenv("KNN_CSV");
    if (argc < 2 || !csv) {
        fprintf(stderr, "usage: nearest_inproc DB [KNN_CSV]\n");
        return 2;
    }
    situ_coll *c;
    situ_nearest_index *ix;
    int npts, passes = atoi(env_or("PASSES", "3")), k = atoi(env_or("K", "5"));
    qpoint *pts = read_points(csv, &npts);
    if (!pts || npts <= 0 || k < 1 || k > SITU_NEAREST_K_MAX || load(argv[1], &c, &ix))
        return fprintf(stderr, "nearest_inproc: cannot read %s\n", csv), 1;
    bench b = {ix,
               pts,
               npts,
               k,
               0,
               situ_nearest_scratch_new(),
               malloc((size_t)npts * (size_t)k * sizeof(situ_nearest_hit)),
               calloc((size_t)npts, sizeof(int))};
    char path[4096];
    report(&b, "situ_nearest_knn", passes);
    cross_check(&b, c, expected_path("KNN_EXPECTED", csv, "knn_expected.csv", path, sizeof path),
                "situ_nearest_knn");
    b.filtered = 1;
    report(&b, "situ_nearest_knn_filtered", passes);
    cross_check(
        &b, c,
        expected_path("KNN_EXPECTED_FILTERED", csv, "knn_expected_filtered.csv", path, sizeof path),
        "situ_nearest_knn_filtered");
    situ_nearest_scratch_free(b.scratch);
    free(b.answers);
    free(b.nanswers);
    free(pts);
    situ_nearest_index_release(ix);
    situ_coll_release(c);
    return 0;
}

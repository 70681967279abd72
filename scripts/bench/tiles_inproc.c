/*
 * tiles_inproc.c: the in-process vector-tile benchmark. Cuts every tile of a
 * tile list (z/x/y per line, the peer harness's tiles.txt) as an `all` tile
 * (every collection, one layer each) from a SpatiaLite store, with no tile
 * cache: cold generation, as situd does on a cache miss. One warm-up pass,
 * then timed passes pooled. Prints the peer harness's lines:
 *
 *   tiles_inproc_cold per_s=... median_ms=... p99_ms=... zmean_ms=6:.../7:...
 *   tiles_inproc_miss ...  situ_tilecache_get on a cache with no room: cut,
 *                          deflate, gzip body (a cold HTTP tile, minus HTTP)
 *   tiles_inproc_miss_raw ... the same, identity body (a client without gzip:
 *                          nothing is compressed)
 *   tiles_inproc_hit ...   the same tiles from a warm cache, gzip body
 *
 * plus '#' lines: the one-off preparation per collection, CPU time (the
 * figures above are wall time), sizes and features per tile.
 * With --lowzoom 1 the tile list is every tile z0..z8 over the townships'
 * extent (at most 48 a zoom, taken evenly) instead of a file, and each run
 * adds its p99 and largest body per zoom. --scan 1 cuts aggregate tiles by
 * scanning their features instead of reading the per-zoom aggregates
 * (tile_pyramid.c), the way before them; '# pyramid' lines give the time
 * (CPU) to build each collection's aggregates again (as at a new day).
 * With --cover 1 (#20's cold budget at scale 200) the list is every tile
 * z0..z6 over the townships' extent plus, at z7..z14, the tile holding
 * each of 48 townships taken evenly (where the data is dense); each tile
 * is cut once per pass, cold and then through a cache that keeps nothing
 * (cut + gzip), and each run prints per zoom p50/p99/max CPU ms and the
 * ten slowest tiles (CPU ms, features, bytes).
 * Usage: tiles_inproc --db FILE [--tiles FILE | --lowzoom 1 | --cover 1]
 *        [--passes N] [--set all|ID] [--simplify U] [--gzip 0] [--scan 1]; $SITU_DB and
 *        $TILES_TXT stand in for the options. Without a database, $DATA_DIR (the peer harness's) is
 * loaded into a temporary one with situ_load_dir.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "situ/load.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/tile.h"
#include "situ/tilecache.h"
#include "bench.h"

#define MAXTILES 100000

typedef struct bench {
    const char *db, *tiles, *setname;
    int passes, gzip, lowzoom, cover;
    double simplify;
    situ_tile_xyz *list;
    size_t n;
    situ_tilesrc *src[SITU_NCOLLECTIONS];
    situ_tile_opts opts;
    int set;
    situ_snapshot *snap;
    situ_tilecache *tc;                                     /* miss and hit runs */
    double zcoll[SITU_TILE_MAXZOOM + 1][SITU_NCOLLECTIONS]; /* cold cuts: CPU ms per layer */
    int timed;                                              /* not the warm-up pass */
    uint64_t digest; /* FNV-1a of every body of a run's first pass: same bytes, same digest */
} bench;

static int read_tiles(bench *b)
{
    FILE *f = fopen(b->tiles, "r");
    if (!f)
        return fprintf(stderr, "tiles_inproc: cannot open %s\n", b->tiles), -1;
    b->list = malloc(MAXTILES * sizeof *b->list);
    char line[256];
    while (b->n < MAXTILES && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        situ_err err = {0};
        if (!line[0] || line[0] == '#')
            continue;
        if (situ_tile_parse_path(line, "", &b->list[b->n], &err)) {
            fprintf(stderr, "tiles_inproc: %s: %s\n", line, err.msg);
            fclose(f);
            return -1;
        }
        b->n++;
    }
    fclose(f);
    return b->n ? 0 : -1;
}

/* Appends every tile of zoom z over the lon/lat box x (at most `most`,
 * taken evenly). */
static void tiles_over(bench *b, const double *x, int z, size_t most)
{
    double x0, y0, x1, y1, n = (double)(1u << z);
    situ_tile_project(x[0], x[3], &x0, &y0);
    situ_tile_project(x[2], x[1], &x1, &y1);
    uint32_t a = (uint32_t)(x0 * n), c = (uint32_t)(y0 * n), w = (uint32_t)(x1 * n) - a + 1,
             h = (uint32_t)(y1 * n) - c + 1;
    size_t all = (size_t)w * h, step = (all + most - 1) / most;
    for (size_t i = 0; i < all && b->n < MAXTILES; i += step)
        b->list[b->n++] = (situ_tile_xyz){z, a + (uint32_t)(i % w), c + (uint32_t)(i / w)};
}

/* The tiles z0..z8 over the townships' extent, at most 48 a zoom. */
static int lowzoom_tiles(bench *b)
{
    b->list = malloc(MAXTILES * sizeof *b->list);
    for (int z = 0; z <= 8; z++)
        tiles_over(b, b->snap->colls[SITU_C_TOWNSHIPS]->extent, z, 48);
    return 0;
}

/* --cover: every tile z0..z6 over the townships, then at z7..z14 the tile
 * under each of 48 townships taken evenly (their boxes' centres). */
static int cover_tiles(bench *b)
{
    const situ_coll *t = b->snap->colls[SITU_C_TOWNSHIPS];
    if (!t->n)
        return -1;
    b->list = malloc(MAXTILES * sizeof *b->list);
    for (int z = 0; z <= 6; z++)
        tiles_over(b, t->extent, z, MAXTILES);
    size_t step = t->n > 48 ? t->n / 48 : 1;
    for (int z = 7; z <= 14; z++) {
        size_t z0 = b->n;
        for (size_t i = 0; i < t->n && b->n < MAXTILES; i += step) {
            const double *fb = t->feats[i].bbox;
            double mx, my, n = (double)(1u << z);
            situ_tile_project((fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2, &mx, &my);
            situ_tile_xyz xyz = {z, (uint32_t)(mx * n), (uint32_t)(my * n)};
            size_t j = z0;
            while (j < b->n && (b->list[j].x != xyz.x || b->list[j].y != xyz.y))
                j++;
            if (j == b->n) /* each tile once */
                b->list[b->n++] = xyz;
        }
    }
    return 0;
}

/* Encodes one tile of every collection in the set into out. */
static int cut(bench *b, situ_tile_xyz t, situ_buf *out, size_t *nfeat)
{
    situ_err err = {0};
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_tile_stats st;
        if (!b->src[i])
            continue;
        double c0 = cpu_ms();
        if (situ_tile_encode_coll(b->src[i], t, &b->opts, out, &st, &err)) {
            fprintf(stderr, "tiles_inproc: %s\n", err.msg);
            return -1;
        }
        if (b->timed)
            b->zcoll[t.z][i] += cpu_ms() - c0;
        *nfeat += st.features;
    }
    return 0;
}

/* Gets tile t through the cache and builds its body (gzip or raw). */
static int via_cache(bench *b, situ_tile_xyz t, int gzip, situ_buf *out, size_t *nz)
{
    situ_tile_reply r;
    situ_err err = {0};
    if (situ_tilecache_get(b->tc, b->snap, b->set, t, &r, &err))
        return fprintf(stderr, "tiles_inproc: %s\n", err.msg), -1;
    out->n = 0;
    int rc = situ_tile_reply_body(&r, gzip, out);
    *nz = gzip ? r.n_gz : r.n_raw;
    situ_tile_reply_dispose(&r);
    return rc;
}

/* The peer harness's line: throughput from wall time, percentiles per tile. */
static void report(const char *name, const bench *b, double *ms, size_t nms, double wall)
{
    double zsum[SITU_TILE_MAXZOOM + 1] = {0};
    int zn[SITU_TILE_MAXZOOM + 1] = {0};
    for (size_t i = 0; i < nms; i++) {
        zsum[b->list[i % b->n].z] += ms[i];
        zn[b->list[i % b->n].z]++;
    }
    qsort(ms, nms, sizeof *ms, cmp_double);
    size_t p99 = (size_t)(0.99 * (double)nms + 0.5);
    printf("%s per_s=%.1f median_ms=%.3f p99_ms=%.3f zmean_ms=", name, (double)nms / (wall / 1e3),
           ms[nms / 2], ms[p99 >= nms ? nms - 1 : p99]);
    const char *sep = "";
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++)
        if (zn[z]) {
            printf("%s%d:%.3f", sep, z, zsum[z] / zn[z]);
            sep = "/";
        }
    printf("\n");
}

/* Per zoom: p99 of the times in ms (run order) and the largest body. */
static void report_zooms(const char *name, const bench *b, const double *ms, size_t nms,
                         const size_t *zbytes, int gzip)
{
    double *one = malloc(nms * sizeof *one);
    printf("# %s by zoom (p99 ms, largest %s body bytes):", name, gzip ? "gzip" : "raw");
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++) {
        size_t n = 0;
        for (size_t i = 0; i < nms; i++)
            if (b->list[i % b->n].z == z)
                one[n++] = ms[i];
        if (!n)
            continue;
        qsort(one, n, sizeof *one, cmp_double);
        size_t p99 = (size_t)(0.99 * (double)n + 0.5);
        printf(" %d:%.2f/%zu", z, one[p99 >= n ? n - 1 : p99], zbytes[z]);
    }
    printf("\n");
    free(one);
}

static const double *cover_cpu; /* for qsort of indices by CPU time */

static int cmp_slower(const void *a, const void *b)
{
    double x = cover_cpu[*(const size_t *)a], y = cover_cpu[*(const size_t *)b];
    return (x < y) - (x > y);
}

/* --cover: per zoom the tiles, p50/p99/max CPU ms (every pass pooled) and
 * the largest body; then the ten slowest cuts (CPU ms, features, bytes). */
static void report_cover(const char *name, const bench *b, const double *cpu, size_t nms,
                         const size_t *tbytes, const size_t *tfeat)
{
    double *one = malloc(nms * sizeof *one);
    size_t *ix = malloc(nms * sizeof *ix);
    printf("# %s cpu by zoom: z tiles p50_ms p99_ms max_ms max_bytes\n", name);
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++) {
        size_t n = 0, big = 0;
        for (size_t i = 0; i < nms; i++)
            if (b->list[i % b->n].z == z) {
                one[n++] = cpu[i];
                if (tbytes[i % b->n] > big)
                    big = tbytes[i % b->n];
            }
        if (!n)
            continue;
        qsort(one, n, sizeof *one, cmp_double);
        size_t p99 = (size_t)(0.99 * (double)n + 0.5);
        printf("%s_z %d %zu %.2f %.2f %.2f %zu\n", name, z, n / (size_t)b->passes, one[n / 2],
               one[p99 >= n ? n - 1 : p99], one[n - 1], big);
    }
    for (size_t i = 0; i < nms; i++)
        ix[i] = i;
    cover_cpu = cpu;
    qsort(ix, nms, sizeof *ix, cmp_slower);
    printf("# %s slowest (cpu ms, features, bytes):", name);
    for (size_t i = 0; i < nms && i < 10; i++) {
        const situ_tile_xyz *t = &b->list[ix[i] % b->n];
        printf(" %d/%u/%u=%.1f/%zu/%zu", t->z, t->x, t->y, cpu[ix[i]], tfeat[ix[i] % b->n],
               tbytes[ix[i] % b->n]);
    }
    printf("\n");
    free(one), free(ix);
}

/* --cover: per zoom, each layer's share of the cold cuts' CPU time (ms per tile). */
static void report_layers(const bench *b)
{
    size_t zn[SITU_TILE_MAXZOOM + 1] = {0};
    for (size_t i = 0; i < b->n; i++)
        zn[b->list[i].z]++;
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++) {
        if (!zn[z])
            continue;
        printf("# cold cpu ms per tile by layer, z%d:", z);
        for (int i = 0; i < SITU_NCOLLECTIONS; i++)
            if (b->src[i])
                printf(" %s=%.2f", b->snap->colls[i]->c->id,
                       b->zcoll[z][i] / (double)(zn[z] * (size_t)b->passes));
        printf("\n");
    }
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ULL;
    return h;
}

/* One warm-up pass and b->passes timed passes. mode 0: cut every layer;
 * 1: through the cache (b->tc), gzip body; 2: the same, raw body. */
static int run(bench *b, const char *name, int mode)
{
    size_t nms = (size_t)b->passes * b->n, bytes = 0, feats = 0;
    double *ms = malloc(nms * sizeof *ms), *zmax = calloc(SITU_TILE_MAXZOOM + 1, sizeof *zmax);
    double *cpu = malloc(nms * sizeof *cpu), cpu_total = 0;
    size_t zbytes[SITU_TILE_MAXZOOM + 1] = {0};
    size_t *tbytes = calloc(b->n, sizeof *tbytes), *tfeat = calloc(b->n, sizeof *tfeat);
    situ_buf out;
    situ_buf_init(&out);
    double wall = 0;
    b->digest = 1469598103934665603ULL;
    for (int pass = -1; pass < b->passes; pass++) {
        double t0 = now_ms();
        b->timed = pass >= 0;
        for (size_t i = 0; i < b->n; i++) {
            double a = now_ms(), ca = cpu_ms();
            size_t nf = 0, nz = 0;
            out.n = 0;
            if (mode ? via_cache(b, b->list[i], mode == 1, &out, &nz)
                     : cut(b, b->list[i], &out, &nf))
                return -1;
            double d = now_ms() - a, cd = cpu_ms() - ca;
            if (pass >= 0) {
                ms[(size_t)pass * b->n + i] = d;
                cpu[(size_t)pass * b->n + i] = cd;
                cpu_total += cd;
                if (d > zmax[b->list[i].z])
                    zmax[b->list[i].z] = d;
            }
            if (pass == 0)
                b->digest = fnv(b->digest, out.p, out.n);
            if (pass == 0)
                bytes += out.n, feats += nf, tbytes[i] = mode == 1 ? nz : out.n, tfeat[i] = nf;
            if (pass == 0 && out.n > zbytes[b->list[i].z])
                zbytes[b->list[i].z] = out.n;
        }
        if (pass >= 0)
            wall += now_ms() - t0;
    }
    if (b->lowzoom) /* before report() sorts ms */
        report_zooms(name, b, ms, nms, zbytes, mode == 1);
    if (b->cover) {
        report_cover(name, b, cpu, nms, tbytes, tfeat);
        printf("# %s digest %016llx\n", name, (unsigned long long)b->digest);
    }
    report(name, b, ms, nms, wall);
    printf("# %s cpu: %.1f tiles per cpu-second; ", name, (double)nms / (cpu_total / 1e3));
    report("cpu", b, cpu, nms, cpu_total);
    printf("# %s: %zu tiles x %d passes, avg %.0f bytes%s, %.0f features; max ms by zoom:", name,
           b->n, b->passes, (double)bytes / (double)b->n, mode == 1 ? " gzip" : " raw",
           (double)feats / (double)b->n);
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++)
        if (zmax[z] > 0)
            printf(" %d:%.2f", z, zmax[z]);
    printf("\n");
    free(ms), free(zmax), free(cpu), free(tbytes), free(tfeat);
    situ_buf_dispose(&out);
    return 0;
}

/* The time to build each point collection's per-zoom aggregates again: a
 * tile cut for the next day builds them, a second one reads them. */
static void print_pyramid_builds(bench *b)
{
    situ_tile_opts o = b->opts;
    o.today = b->opts.today + 1;
    situ_buf out;
    situ_buf_init(&out);
    situ_err err = {0};
    printf("# pyramid (cpu):");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        if (!b->src[i] || o.cluster_maxzoom[i] < 0 || b->opts.scan_aggregates)
            continue;
        double a = cpu_ms();
        situ_tile_encode_coll(b->src[i], (situ_tile_xyz){0, 0, 0}, &o, &out, NULL, &err);
        double c = cpu_ms();
        situ_tile_encode_coll(b->src[i], (situ_tile_xyz){0, 0, 0}, &o, &out, NULL, &err);
        printf(" %s=%.1fms", b->snap->colls[i]->c->id, (c - a) - (cpu_ms() - c));
    }
    printf("\n");
    situ_buf_dispose(&out);
}

static int prepare(bench *b, situ_snapshot *snap)
{
    int set = SITU_TILESET_ALL;
    situ_err err = {0};
    if (situ_tile_set_parse(b->setname, &set, &err))
        return fprintf(stderr, "tiles_inproc: %s\n", err.msg), -1;
    b->set = set;
    double t0 = now_ms(), c0 = cpu_ms();
    printf("# prepare:");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        if (set != SITU_TILESET_ALL && set != i)
            continue;
        double a = now_ms();
        if (situ_tilesrc_new(snap->colls[i], &b->src[i], &err))
            return fprintf(stderr, "tiles_inproc: %s\n", err.msg), -1;
        printf(" %s=%zu/%.1fms", snap->colls[i]->c->id, snap->colls[i]->n, now_ms() - a);
    }
    printf(" total=%.1fms cpu=%.1fms\n", now_ms() - t0, cpu_ms() - c0);
    size_t src_bytes = 0; /* situd_tile_cache{what="src_bytes"} */
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        src_bytes += b->src[i] ? situ_tilesrc_bytes(b->src[i]) : 0;
    printf("# src_bytes=%zu\n", src_bytes);
    print_pyramid_builds(b);
    return 0;
}

static int parse_args(bench *b, int argc, char **argv)
{
    b->db = getenv("SITU_DB");
    b->tiles = getenv("TILES_TXT");
    b->setname = "all";
    b->passes = 3;
    b->simplify = -1;
    b->gzip = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--db"))
            b->db = argv[i + 1];
        else if (!strcmp(argv[i], "--tiles"))
            b->tiles = argv[i + 1];
        else if (!strcmp(argv[i], "--passes"))
            b->passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--set"))
            b->setname = argv[i + 1];
        else if (!strcmp(argv[i], "--gzip"))
            b->gzip = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--simplify"))
            b->simplify = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--lowzoom"))
            b->lowzoom = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--cover"))
            b->cover = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--scan"))
            b->opts.scan_aggregates = atoi(argv[i + 1]);
        else
            return -1;
    }
    return (b->db || getenv("DATA_DIR")) && (b->tiles || b->lowzoom || b->cover) && b->passes > 0
               ? 0
               : -1;
}

/* Loads $DATA_DIR into a temporary store; returns its path (malloc'd). */
static char *load_data_dir(void)
{
    char tmpl[] = "/tmp/tiles_inproc-XXXXXX";
    if (!mkdtemp(tmpl))
        return NULL;
    size_t n = strlen(tmpl) + 16;
    char *path = malloc(n);
    snprintf(path, n, "%s/bench.sqlite", tmpl);
    situ_store *s = NULL;
    situ_err err = {0};
    situ_load_opts o = {0};
    situ_load_stats st[SITU_NCOLLECTIONS];
    int nfiles = 0;
    if (situ_store_open(path, SITU_STORE_CREATE, &s, &err) ||
        situ_load_dir(s, getenv("DATA_DIR"), &o, st, &nfiles, &err)) {
        fprintf(stderr, "tiles_inproc: loading $DATA_DIR: %s\n", err.msg);
        situ_store_close(s);
        free(path);
        return NULL;
    }
    situ_store_close(s);
    return path;
}

static int run_all(bench *b)
{
    situ_err err = {0};
    situ_tilecache_opts co = {.max_bytes = 1, .tile = &b->opts}; /* keeps nothing */
    if (run(b, "tiles_inproc_cold", 0))
        return -1;
    if (b->cover)
        report_layers(b);
    if (!b->gzip)
        return 0;
    if (situ_tilecache_new(&co, &b->tc, &err) || situ_tilecache_prepare(b->tc, b->snap, &err) ||
        run(b, "tiles_inproc_miss", 1) || (!b->cover && run(b, "tiles_inproc_miss_raw", 2)))
        return fprintf(stderr, "tiles_inproc: %s\n", err.msg), -1;
    situ_tilecache_free(b->tc);
    if (b->cover) /* the cold budget only */
        return 0;
    co.max_bytes = (size_t)1 << 30;
    if (situ_tilecache_new(&co, &b->tc, &err) || run(b, "tiles_inproc_hit", 1))
        return fprintf(stderr, "tiles_inproc: %s\n", err.msg), -1;
    situ_tilecache_free(b->tc);
    return 0;
}

int main(int argc, char **argv)
{
    bench b = {0};
    situ_tile_opts_default(&b.opts);
    if (parse_args(&b, argc, argv)) {
        fprintf(stderr,
                "usage: tiles_inproc --db FILE --tiles FILE|--lowzoom 1|--cover 1 [--passes N] "
                "[--set all|ID] [--simplify UNITS] [--gzip 0] [--scan 1]\n");
        return 2;
    }
    if (b.simplify >= 0)
        b.opts.simplify = b.simplify;
    situ_store *s = NULL;
    situ_err err = {0};
    double t0 = now_ms();
    char *loaded = b.db ? NULL : load_data_dir();
    if (!b.db && !(b.db = loaded))
        return 1;
    if ((!b.lowzoom && !b.cover && read_tiles(&b)) ||
        situ_store_open(b.db, SITU_STORE_READONLY, &s, &err) ||
        situ_snapshot_load(s, &b.snap, &err) || (b.lowzoom && lowzoom_tiles(&b)) ||
        (b.cover && cover_tiles(&b))) {
        fprintf(stderr, "tiles_inproc: %s\n", err.msg[0] ? err.msg : "bad tile list");
        return 1;
    }
    printf("# snapshot_load=%.1fms%s\n", now_ms() - t0, loaded ? " (after loading $DATA_DIR)" : "");
    if (prepare(&b, b.snap) || run_all(&b))
        return 1;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        situ_tilesrc_release(b.src[i]);
    situ_snapshot_release(b.snap);
    situ_store_close(s);
    free(b.list);
    free(loaded);
    return 0;
}

/*
 * roads_file.c: the road graph file beside a SpatiaLite store (DB.roads),
 * so that a restart maps the graph back instead of building it again (the
 * build is most of a large network's start). Owns the file's layout,
 * writing it (temp file, fsync, rename) and mapping it back; not the build
 * (roads_graph.c) nor where the file lives (the daemon).
 *
 *   start: file sound, written by this build for these roads --> map it
 *          else (why)                                       --> build, write
 *
 * "These roads": the caller's situ_roads_graph_key of the roads collection
 * (every line's vertices, class, oneway, speed and duration) and the speed
 * table, both in the header. Statuses are not in the key: the daemon
 * derives its closure set from the roads' statuses on every network, as it
 * does when it keeps a graph across a status change. Then the payload is
 * checked against its checksum (read through a buffer, not the mapping) and
 * every index against its array before any of it is used, each piece's
 * pages handed back once checked (MADV_DONTNEED), so that a start does not
 * hold the whole file resident: the searches read again what they use. The
 * mapping is private and read-only; a file replaced later (renamed over)
 * does not change it.
 *
 * Layout (native byte order, each array padded to 8 bytes): the header,
 * then edges, nxy, inc_off, inc, roads, run0, by_id, run boxes, run refs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/fs.h"
#include "roads_priv.h"

#define ROADS_MAGIC "SITUROAD"
#define ROADS_FORMAT 2 /* 2: situ_fs_build */

typedef struct roads_hdr {
    situ_fs_build build; /* sizes: of the structs laid out, one byte each */
    uint64_t key;
    double class_kmh[SITU_ROADS_NCLASSES], tagged_factor;
    uint64_t nedges, nnodes, nroads, nruns;
    uint64_t rt_n, rt_nslots, rt_nlevels, rt_level_end[32];
    uint64_t payload, checksum;
} roads_hdr;

/* The header of this build for key and cfg, counts and payload left zero. */
static void hdr_build(roads_hdr *h, uint64_t key, const situ_roads_config *cfg)
{
    situ_roads_config defaults;
    if (!cfg)
        situ_roads_config_init(&defaults), cfg = &defaults;
    memset(h, 0, sizeof *h);
    situ_fs_build_init(&h->build, ROADS_MAGIC, ROADS_FORMAT,
                       (uint32_t)sizeof(situ__edge) | (uint32_t)sizeof(situ__road) << 8 |
                           (uint32_t)sizeof(roads_hdr) << 16,
                       NULL);
    h->key = key;
    memcpy(h->class_kmh, cfg->class_kmh, sizeof h->class_kmh);
    h->tagged_factor = cfg->tagged_factor;
}

/* Why header a (the file's) is not for b (now), or NULL. */
static const char *hdr_differs(const roads_hdr *a, const roads_hdr *b)
{
    const char *why = situ_fs_build_differs(&a->build, &b->build, "not a situ road graph file");
    if (why)
        return why;
    if (a->key != b->key)
        return "the roads changed";
    if (memcmp(a->class_kmh, b->class_kmh, sizeof a->class_kmh) ||
        a->tagged_factor != b->tagged_factor)
        return "another speed table";
    return NULL;
}

/* The arrays of a graph in file order: where each is and its bytes. */
typedef struct part {
    void **p;
    uint64_t n;
} part;

#define NPARTS 9

static void parts_of(situ_roads_graph *g, double **boxes, uint32_t **refs, const roads_hdr *h,
                     part out[NPARTS])
{
    part p[NPARTS] = {
        {(void **)&g->edges, h->nedges * sizeof(situ__edge)},
        {(void **)&g->nxy, 2 * h->nnodes * sizeof(int32_t)},
        {(void **)&g->inc_off, (h->nnodes + 1) * sizeof(uint32_t)},
        {(void **)&g->inc, 2 * h->nedges * sizeof(uint32_t)},
        {(void **)&g->roads, (h->nroads + 1) * sizeof(situ__road)},
        {(void **)&g->run0, (h->nruns + 1) * sizeof(uint32_t)},
        {(void **)&g->by_id, h->nroads * sizeof(uint32_t)},
        {(void **)boxes, 4 * h->rt_nslots * sizeof(double)},
        {(void **)refs, h->rt_nslots * sizeof(uint32_t)},
    };
    memcpy(out, p, sizeof p);
}

static uint64_t padded(uint64_t n)
{
    return n + (8 - n % 8) % 8;
}

/* ---- writing --------------------------------------------------------------- */

int situ_roads_graph_save(const situ_roads_graph *g, uint64_t key, const situ_roads_config *cfg,
                          const char *path, situ_err *err)
{
    roads_hdr h;
    hdr_build(&h, key, cfg);
    h.nedges = g->nedges, h.nnodes = g->nnodes, h.nroads = g->nroads, h.nruns = g->nruns;
    h.rt_n = g->runs->n, h.rt_nslots = g->runs->nslots, h.rt_nlevels = (uint64_t)g->runs->nlevels;
    for (int k = 0; k < g->runs->nlevels; k++)
        h.rt_level_end[k] = g->runs->level_end[k];
    situ_roads_graph view = *g;
    double *boxes = g->runs->boxes;
    uint32_t *refs = g->runs->refs;
    part p[NPARTS];
    parts_of(&view, &boxes, &refs, &h, p);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return situ_err_set(err, SITU_EIO, "cannot write %s: %s", tmp, strerror(errno));
    static const char zeros[8];
    uint64_t sum = SITU_FS_CHECKSUM_SEED;
    int bad = fwrite(&h, sizeof h, 1, f) != 1;
    for (int i = 0; i < NPARTS && !bad; i++) { /* every array's size is a multiple of 4 */
        uint64_t pad = padded(p[i].n) - p[i].n;
        bad = (p[i].n && fwrite(*p[i].p, 1, p[i].n, f) != p[i].n) ||
              (pad && fwrite(zeros, 1, pad, f) != pad);
        sum = situ_fs_checksum(sum, *p[i].p, p[i].n - p[i].n % 8);
        if (pad) {
            uint64_t last = 0;
            memcpy(&last, (const char *)*p[i].p + p[i].n - p[i].n % 8, p[i].n % 8);
            sum = situ_fs_checksum(sum, &last, 8);
        }
        h.payload += padded(p[i].n);
    }
    h.checksum = sum;
    bad = bad || fseek(f, 0, SEEK_SET) || fwrite(&h, sizeof h, 1, f) != 1;
    if (bad) {
        fclose(f);
        unlink(tmp);
        return situ_err_set(err, SITU_EIO, "cannot write %s", tmp);
    }
    if (situ_fs_commit(f, tmp, path))
        return situ_err_set(err, SITU_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- mapping back -------------------------------------------------------- */

/* The bytes of each piece the checks go through before handing its pages back. */
#define CHECK_PIECE ((size_t)16 << 20)

void situ_roads_graph_drop_pages(const situ_roads_graph *g)
{
    if (g && g->map) /* read-only and private; the file is renamed over, never written */
        situ_fs_drop_mapping(g->map, g->map_len);
}

/* Checks of elements [i, end) of one array of g: 1 when sound. */
typedef int (*range_sound)(const situ_roads_graph *g, size_t i, size_t end);

/* Runs check over array a (n elements of elem bytes) a piece at a time,
 * each piece's pages handed back once checked, so that the check never
 * holds the whole file resident. 1 when every piece is sound. */
static int sound_in_pieces(const situ_roads_graph *g, range_sound check, const void *a, size_t elem,
                           size_t n)
{
    size_t per = CHECK_PIECE / elem;
    for (size_t i = 0; i < n; i += per) {
        size_t end = n - i < per ? n : i + per;
        if (!check(g, i, end))
            return 0;
        situ_fs_drop_pages((const char *)a + i * elem, (const char *)a + end * elem);
    }
    return 1;
}

static int edges_sound(const situ_roads_graph *g, size_t i, size_t end)
{
    for (size_t e = i; e < end; e++) {
        const situ__edge *ed = &g->edges[e];
        if (ed->a >= g->nnodes || ed->b >= g->nnodes || (ed->rf >> 2) >= g->nroads ||
            !(ed->t >= 0) || !isfinite(ed->t))
            return 0;
    }
    return 1;
}

static int inc_off_sound(const situ_roads_graph *g, size_t i, size_t end)
{
    for (size_t v = i; v < end; v++)
        if (g->inc_off[v + 1] < g->inc_off[v])
            return 0;
    return 1;
}

static int inc_sound(const situ_roads_graph *g, size_t i, size_t end)
{
    for (size_t k = i; k < end; k++)
        if (g->inc[k] >= g->nedges)
            return 0;
    return 1;
}

/* The roads and by_id (read together; by_id's pages go with the rest). */
static int roads_sound(const situ_roads_graph *g, size_t i, size_t end)
{
    for (size_t r = i; r < end; r++) {
        const situ__road *rd = &g->roads[r];
        if (rd->edge0 > g->roads[r + 1].edge0 || rd->cls >= SITU_ROADS_NCLASSES ||
            rd->status > SITU_ROADS_RESTRICTED || rd->oneway > SITU_ROADS_REVERSE ||
            g->by_id[r] >= g->nroads)
            return 0;
    }
    return 1;
}

static int run0_sound(const situ_roads_graph *g, size_t i, size_t end)
{
    for (size_t r = i; r < end; r++)
        if (g->run0[r + 1] <= g->run0[r])
            return 0;
    return 1;
}

/* 1 when every index of g is inside its array and the lists are in order.
 * Each array's pages are handed back as it is checked, and the whole
 * mapping at the end (what the search then needs is read again when
 * used): a large network's file is not all resident after its start. */
static int graph_sound(const situ_roads_graph *g)
{
    if (g->inc_off[0] != 0 || g->inc_off[g->nnodes] != 2 * g->nedges || g->run0[0] != 0 ||
        g->run0[g->nruns] != g->nedges || g->roads[0].edge0 != 0 ||
        g->roads[g->nroads].edge0 != g->nedges ||
        g->nruns != (g->nedges + SITU__RUN - 1) / SITU__RUN)
        return 0;
    int ok = sound_in_pieces(g, edges_sound, g->edges, sizeof *g->edges, g->nedges) &&
             sound_in_pieces(g, inc_off_sound, g->inc_off, sizeof *g->inc_off, g->nnodes) &&
             sound_in_pieces(g, inc_sound, g->inc, sizeof *g->inc, 2 * g->nedges) &&
             sound_in_pieces(g, roads_sound, g->roads, sizeof *g->roads, g->nroads) &&
             sound_in_pieces(g, run0_sound, g->run0, sizeof *g->run0, g->nruns);
    situ_roads_graph_drop_pages(g);
    return ok;
}

/* Maps payload (bytes at off of fd) into g's arrays; the reason, or NULL. */
static const char *map_parts(situ_roads_graph *g, const roads_hdr *h, int fd)
{
    void *m = mmap(NULL, h->payload + sizeof *h, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED)
        return "cannot be mapped";
    g->map = m, g->map_len = h->payload + sizeof *h;
    double *boxes;
    uint32_t *refs;
    part p[NPARTS];
    parts_of(g, &boxes, &refs, h, p);
    char *at = (char *)m + sizeof *h;
    for (int i = 0; i < NPARTS; i++) {
        *p[i].p = at;
        at += padded(p[i].n);
    }
    if (h->rt_nlevels > 32 ||
        !(g->runs = situ_rtree_view(h->rt_n, h->rt_nslots, h->rt_level_end, (int)h->rt_nlevels,
                                    boxes, refs)) ||
        h->rt_n != h->nruns || !graph_sound(g))
        return "an index out of range";
    return NULL;
}

int situ_roads_graph_map(const char *path, uint64_t key, const situ_roads_config *cfg,
                         situ_roads_graph **out_g, const char **out_why)
{
    roads_hdr want, h;
    hdr_build(&want, key, cfg);
    const char *why = NULL;
    situ_roads_graph *g = NULL;
    struct stat st;
    uint64_t sum;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *out_why = errno == ENOENT ? "none yet" : "unreadable";
        return SITU_ENOTFOUND;
    }
    situ_fs_cache_single_pages(fd); /* read through fd by the checksum, then mapped */
    if (fstat(fd, &st) || pread(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)
        why = "truncated";
    else if (!(why = hdr_differs(&h, &want))) {
        /* the counts bound the sizes before any is multiplied */
        uint64_t cap = (uint64_t)st.st_size;
        uint64_t need = 0;
        situ_roads_graph probe = {0};
        double *bx;
        uint32_t *rf;
        part p[NPARTS];
        parts_of(&probe, &bx, &rf, &h, p);
        int big = h.nedges > cap || h.nnodes > cap || h.nroads > cap || h.nruns > cap ||
                  h.rt_nslots > cap || h.nedges >= UINT32_MAX / 2 || h.nnodes >= UINT32_MAX;
        for (int i = 0; i < NPARTS && !big; i++)
            need += padded(p[i].n);
        if (big || need != h.payload || cap != sizeof h + h.payload)
            why = "truncated or grown";
        else if (situ_fs_checksum_fd(fd, (off_t)sizeof h, h.payload, &sum))
            why = "unreadable";
        else if (sum != h.checksum)
            why = "checksum mismatch";
    }
    if (!why && !(g = calloc(1, sizeof *g)))
        why = "out of memory";
    if (!why) {
        g->nedges = h.nedges, g->nnodes = h.nnodes, g->nroads = h.nroads, g->nruns = h.nruns;
        geod_init(&g->geod, 6378137.0, 1 / 298.257223563);
        situ_err e = {0};
        if (!(why = map_parts(g, &h, fd)) && situ_roads_closures_new(g, &g->base, &e))
            why = "out of memory";
    }
    close(fd);
    if (why) {
        situ_roads_graph_free(g);
        *out_why = why;
        return SITU_ENOTFOUND;
    }
    *out_g = g;
    return 0;
}

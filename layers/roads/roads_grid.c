/*
 * roads_grid.c: a synthetic road network for tests and benchmarks: a
 * jittered street grid around Yongzhou (26.4 N), cut by rivers that only a
 * few bridges cross, with one-way blocks and mixed classes. Deterministic
 * for a seed. Owns nothing else; entry point situ_roads_grid.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "roads_priv.h"

#define LON0 111.50
#define LAT0 26.30
#define PER_BLOCK 3 /* segments per block line: degree-2 nodes, as real roads have */

static double rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (double)((*s >> 8) & 0xFFFFFF) / 16777216.0;
}

/* A block line from grid node p to q, with jittered interior vertices. */
static void block(situ_roads_osm *o, const double *p, const double *q, double jit, unsigned *s,
                  situ_roads_class cls, situ_roads_oneway ow, int bridge)
{
    situ_roads_line *l = &o->lines[o->n];
    double *xy = o->xy + 2 * (PER_BLOCK + 1) * o->n;
    for (int i = 0; i <= PER_BLOCK; i++) {
        double t = (double)i / PER_BLOCK, j = i == 0 || i == PER_BLOCK ? 0 : jit;
        xy[2 * i] = p[0] + t * (q[0] - p[0]) + j * (rnd(s) - 0.5);
        xy[2 * i + 1] = p[1] + t * (q[1] - p[1]) + j * (rnd(s) - 0.5);
    }
    memset(l, 0, sizeof *l);
    l->xy = xy;
    l->n = PER_BLOCK + 1;
    l->id = (uint32_t)o->n;
    l->cls = cls;
    l->oneway = ow;
    o->bridge[o->n] = (unsigned char)bridge;
    o->osm_ids[o->n] = (int64_t)o->n;
    o->n++;
}

int situ_roads_grid(int nx, int ny, double spacing_m, int river_every, int bridge_every,
                    unsigned seed, situ_roads_osm *out, situ_err *err)
{
    if (nx < 2 || ny < 2 || nx > 4000 || ny > 4000 || !(spacing_m > 0) || river_every < 2 ||
        bridge_every < 1)
        return situ_err_set(err, SITU_EINVAL, "grid: bad size, spacing or rivers");
    situ_roads_osm o = {0};
    size_t nlines = 2 * (size_t)nx * (size_t)ny;
    double dy = spacing_m / 110800.0, dx = spacing_m / (111320.0 * cos(LAT0 * M_PI / 180));
    double *node = malloc(2 * (size_t)nx * (size_t)ny * sizeof *node);
    o.lines = malloc(nlines * sizeof *o.lines);
    o.xy = malloc(nlines * 2 * (PER_BLOCK + 1) * sizeof *o.xy);
    o.osm_ids = malloc(nlines * sizeof *o.osm_ids);
    o.bridge = malloc(nlines);
    o.tunnel = calloc(nlines, 1);
    if (!node || !o.lines || !o.xy || !o.osm_ids || !o.bridge || !o.tunnel) {
        free(node);
        situ_roads_osm_dispose(&o);
        return situ_err_set(err, SITU_ENOMEM, "grid: out of memory");
    }
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            double *p = node + 2 * ((size_t)j * (size_t)nx + (size_t)i);
            p[0] = LON0 + i * dx + 0.3 * dx * (rnd(&seed) - 0.5);
            p[1] = LAT0 + j * dy + 0.3 * dy * (rnd(&seed) - 0.5);
        }
    for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++) {
            const double *p = node + 2 * ((size_t)j * (size_t)nx + (size_t)i);
            size_t b = o.n;
            situ_roads_oneway ow = b % 7 == 3   ? SITU_ROADS_ONEWAY
                                   : b % 7 == 5 ? SITU_ROADS_REVERSE
                                                : SITU_ROADS_TWOWAY;
            int river = i % river_every == river_every / 2, bridge = j % bridge_every == 0;
            if (i + 1 < nx && (!river || bridge))
                block(&o, p, p + 2, 0.2 * dy, &seed,
                      river         ? SITU_ROADS_NATIONAL
                      : j % 10 == 0 ? SITU_ROADS_PROVINCIAL
                                    : SITU_ROADS_URBAN,
                      river ? SITU_ROADS_TWOWAY : ow, river);
            if (j + 1 < ny)
                block(&o, p, p + 2 * nx, 0.2 * dx, &seed,
                      i % 10 == 0 ? SITU_ROADS_COUNTY : SITU_ROADS_VILLAGE, ow, 0);
        }
    free(node);
    *out = o;
    return 0;
}

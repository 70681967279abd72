/*
 * feed_geom.c: the warning-area builder (see feed_int.h). JSON alerts
 * (GeoJSON Polygon / MultiPolygon), CAP polygons, CAP circles and township
 * geocodes all become rings of one MultiPolygon, written as WKB for the
 * store. Checks what the store cannot: coordinates in range, rings with
 * three distinct points, a bound on vertices. Orientation is left to the
 * snapshot, which orients every ring it reads.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"

#include "feed_int.h"

void situ__mpoly_init(situ__mpoly *m)
{
    memset(m, 0, sizeof *m);
    m->bbox[0] = m->bbox[1] = INFINITY;
    m->bbox[2] = m->bbox[3] = -INFINITY;
}

void situ__mpoly_dispose(situ__mpoly *m)
{
    free(m->xy);
    free(m->ring_n);
    free(m->poly_rings);
    situ__mpoly_init(m);
}

int situ__mpoly_begin(situ__mpoly *m)
{
    if (situ_array_grow((void **)&m->poly_rings, &m->cappolys, m->npolys, 1, sizeof(uint32_t)))
        return m->oom = 1, -1;
    m->poly_rings[m->npolys++] = 0;
    return 0;
}

static size_t distinct_points(const double *xy, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 3; i++) {
        size_t j = 0;
        while (j < i && (xy[2 * j] != xy[2 * i] || xy[2 * j + 1] != xy[2 * i + 1]))
            j++;
        k += j == i;
    }
    return k;
}

int situ__mpoly_ring(situ__mpoly *m, const double *xy, size_t n, const char **why)
{
    if (!m->npolys)
        return *why = "ring outside a polygon", -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(xy[2 * i]) || !isfinite(xy[2 * i + 1]) || fabs(xy[2 * i]) > 180 ||
            fabs(xy[2 * i + 1]) > 90)
            return *why = "a coordinate is out of range (lon -180..180, lat -90..90)", -1;
    if (distinct_points(xy, n) < 3)
        return *why = "a ring needs at least 3 distinct points", -1;
    int open = xy[0] != xy[2 * n - 2] || xy[1] != xy[2 * n - 1];
    size_t total = n + (size_t)open;
    if (m->nxy + total > SITU_FEED_MAX_POINTS)
        return *why = "the area has too many points", -1;
    if (situ_array_grow((void **)&m->xy, &m->capxy, m->nxy, total, 2 * sizeof(double)) ||
        situ_array_grow((void **)&m->ring_n, &m->caprings, m->nrings, 1, sizeof(uint32_t))) {
        m->oom = 1;
        return *why = "out of memory", -1;
    }
    memcpy(m->xy + 2 * m->nxy, xy, 2 * n * sizeof(double));
    if (open)
        memcpy(m->xy + 2 * (m->nxy + n), xy, 2 * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        m->bbox[0] = fmin(m->bbox[0], xy[2 * i]), m->bbox[1] = fmin(m->bbox[1], xy[2 * i + 1]);
        m->bbox[2] = fmax(m->bbox[2], xy[2 * i]), m->bbox[3] = fmax(m->bbox[3], xy[2 * i + 1]);
    }
    m->nxy += total;
    m->ring_n[m->nrings++] = (uint32_t)total;
    m->poly_rings[m->npolys - 1]++;
    return 0;
}

/* Spherical destination point (mean Earth radius): close enough to the
 * ellipsoid for a warning circle of a few kilometres. */
int situ__mpoly_circle(situ__mpoly *m, double lon, double lat, double radius_m, const char **why)
{
    enum { SIDES = 64 };
    if (!isfinite(radius_m) || radius_m <= 0 || radius_m > 2000e3)
        return *why = "the radius must be above 0 and at most 2000 km", -1;
    if (!isfinite(lon) || !isfinite(lat) || fabs(lon) > 180 || fabs(lat) >= 90)
        return *why = "the centre is out of range", -1;
    const double R = 6371008.8, d = radius_m / R, rad = M_PI / 180;
    double xy[2 * (SIDES + 1)], p1 = lat * rad, l1 = lon * rad;
    for (int i = 0; i < SIDES; i++) {
        double th = 2 * M_PI * i / SIDES;
        double p2 = asin(sin(p1) * cos(d) + cos(p1) * sin(d) * cos(th));
        double l2 = l1 + atan2(sin(th) * sin(d) * cos(p1), cos(d) - sin(p1) * sin(p2));
        double x = l2 / rad;
        x = x > 180 ? x - 360 : x < -180 ? x + 360 : x;
        xy[2 * i] = x, xy[2 * i + 1] = fmax(-90, fmin(90, p2 / rad));
    }
    xy[2 * SIDES] = xy[0], xy[2 * SIDES + 1] = xy[1];
    if (situ__mpoly_begin(m))
        return *why = "out of memory", -1;
    return situ__mpoly_ring(m, xy, SIDES + 1, why);
}

int situ__mpoly_feature(situ__mpoly *m, const situ_coll *c, const situ_feature *f)
{
    const char *why;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        if (situ__mpoly_begin(m))
            return -1;
        const situ_poly *poly = &c->polys[p];
        for (uint32_t r = poly->ring0; r < poly->ring0 + poly->nrings; r++)
            if (situ__mpoly_ring(m, c->xy + 2 * (size_t)c->rings[r].off, c->rings[r].n, &why))
                return -1;
    }
    return 0;
}

static void put_u32(unsigned char **p, uint32_t v)
{
    memcpy(*p, &v, 4); /* little-endian hosts only, as the WKB header says */
    *p += 4;
}

int situ__mpoly_wkb(situ__mpoly *m, situ_feed_batch *b, const unsigned char **out_wkb,
                    size_t *out_n)
{
    if (m->oom || !m->npolys)
        return -1;
    size_t n = 9 + m->npolys * 9 + m->nrings * 4 + m->nxy * 16;
    unsigned char *wkb = situ__feed_alloc(b, n), *p = wkb;
    if (!wkb)
        return -1;
    *p++ = 1;
    put_u32(&p, 6);
    put_u32(&p, (uint32_t)m->npolys);
    size_t r = 0, pt = 0;
    for (size_t i = 0; i < m->npolys; i++) {
        *p++ = 1;
        put_u32(&p, 3);
        put_u32(&p, m->poly_rings[i]);
        for (uint32_t k = 0; k < m->poly_rings[i]; k++, r++) {
            put_u32(&p, m->ring_n[r]);
            memcpy(p, m->xy + 2 * pt, (size_t)m->ring_n[r] * 16);
            p += (size_t)m->ring_n[r] * 16;
            pt += m->ring_n[r];
        }
    }
    *out_wkb = wkb;
    *out_n = n;
    return 0;
}

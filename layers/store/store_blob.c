/*
 * store_blob.c: a feature's geometry as SpatiaLite stores it, written
 * straight from the WKB the store is given, without SpatiaLite's round trip
 * (GeomFromWKB parses the WKB into a gaia geometry and writes its blob;
 * CastToMultiPolygon and CastToMultiLinestring parse that blob and write
 * another). SpatiaLite's BLOB-geometry, little-endian as it writes it on
 * this machine (docs: "BLOB-Geometry internal format"):
 *   0x00, 0x01 (little-endian), int32 SRID, double MinX, MinY, MaxX, MaxY,
 *   0x7C, int32 class, the body, 0xFE
 * A point's body is x, y; a multi-geometry's an int32 count, then each part
 * as 0x69, int32 class and the part's WKB body (a polygon's int32 ring
 * count, each ring an int32 point count and its x, y; a linestring's point
 * count and points). The MBR is the one SpatiaLite computes: every point of
 * a line, only the exterior ring of a polygon.
 * Only plain XY little-endian WKB of the collection's kind is written here;
 * anything else (big-endian, Z or M, EWKB, a collection, an empty part, a
 * ring not closed or shorter than 4 points, a line of fewer than 2, a
 * coordinate not finite, bytes short or left over) is declined and the
 * caller asks SpatiaLite, so what is stored never changes.
 */
#include "store_private.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum {
    WKB_POINT = 1,
    WKB_LINESTRING = 2,
    WKB_POLYGON = 3,
    WKB_MULTILINESTRING = 5,
    WKB_MULTIPOLYGON = 6
};

#define BLOB_HEADER 43 /* 0x00, endian, SRID, MBR, 0x7C, class */

/* The WKB read so far: p up to end. */
typedef struct wkb_reader {
    const unsigned char *p, *end;
} wkb_reader;

typedef struct mbr {
    double min_x, min_y, max_x, max_y;
} mbr;

static int read_u32(wkb_reader *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    memcpy(v, r->p, 4);
    r->p += 4;
    return 0;
}

/* A part's header: little-endian byte order and type want. */
static int read_header(wkb_reader *r, uint32_t want)
{
    uint32_t type;
    if (r->p == r->end || *r->p != 0x01)
        return -1;
    r->p++;
    return read_u32(r, &type) || type != want ? -1 : 0;
}

static void add_u32(situ_buf *b, uint32_t v)
{
    situ_buf_add(b, &v, 4);
}

/* Copies n points (x, y) from r into b, growing m (when not NULL) by each. */
static int copy_points(wkb_reader *r, uint32_t n, mbr *m, situ_buf *b)
{
    if ((size_t)(r->end - r->p) / 16 < n)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        double xy[2];
        memcpy(xy, r->p + 16 * (size_t)i, 16);
        if (!isfinite(xy[0]) || !isfinite(xy[1]))
            return -1;
        if (m) {
            m->min_x = xy[0] < m->min_x ? xy[0] : m->min_x;
            m->min_y = xy[1] < m->min_y ? xy[1] : m->min_y;
            m->max_x = xy[0] > m->max_x ? xy[0] : m->max_x;
            m->max_y = xy[1] > m->max_y ? xy[1] : m->max_y;
        }
    }
    situ_buf_add(b, r->p, 16 * (size_t)n);
    r->p += 16 * (size_t)n;
    return 0;
}

/* A linestring's body (its point count and points) as one part of a
 * MULTILINESTRING. */
static int copy_line(wkb_reader *r, mbr *m, situ_buf *b)
{
    uint32_t n;
    if (read_u32(r, &n) || n < 2)
        return -1;
    situ_buf_addc(b, 0x69);
    add_u32(b, WKB_LINESTRING);
    add_u32(b, n);
    return copy_points(r, n, m, b);
}

/* A polygon's body (its rings) as one part of a MULTIPOLYGON; only the
 * exterior ring bounds it. */
static int copy_polygon(wkb_reader *r, mbr *m, situ_buf *b)
{
    uint32_t nrings, n;
    if (read_u32(r, &nrings) || nrings == 0)
        return -1;
    situ_buf_addc(b, 0x69);
    add_u32(b, WKB_POLYGON);
    add_u32(b, nrings);
    for (uint32_t i = 0; i < nrings; i++) {
        if (read_u32(r, &n) || n < 4 || (size_t)(r->end - r->p) / 16 < n ||
            memcmp(r->p, r->p + 16 * ((size_t)n - 1), 16))
            return -1;
        add_u32(b, n);
        if (copy_points(r, n, i ? NULL : m, b))
            return -1;
    }
    return 0;
}

/* The parts of a multi-geometry of single type single (copy_line or
 * copy_polygon) or that single geometry alone (type single), as the body
 * of a multi-geometry. */
static int copy_multi(wkb_reader *r, uint32_t type, uint32_t single, mbr *m, situ_buf *b)
{
    int (*copy)(wkb_reader *, mbr *, situ_buf *) = single == WKB_POLYGON ? copy_polygon : copy_line;
    uint32_t n = 1;
    if (type == single) {
        add_u32(b, 1);
        return copy(r, m, b);
    }
    if (read_u32(r, &n) || n == 0)
        return -1;
    add_u32(b, n);
    for (uint32_t i = 0; i < n; i++)
        if (read_header(r, single) || copy(r, m, b))
            return -1;
    return 0;
}

/* The body of the blob of gtype from r (its header read: type), bounded
 * by m; its class in *cls. */
static int copy_body(wkb_reader *r, uint32_t type, situ_gtype gtype, mbr *m, uint32_t *cls,
                     situ_buf *b)
{
    switch (gtype) {
    case SITU_GT_POINT:
        *cls = WKB_POINT;
        return type == WKB_POINT ? copy_points(r, 1, m, b) : -1;
    case SITU_GT_MULTIPOLYGON:
        *cls = WKB_MULTIPOLYGON;
        return type == WKB_POLYGON || type == WKB_MULTIPOLYGON
                   ? copy_multi(r, type, WKB_POLYGON, m, b)
                   : -1;
    case SITU_GT_MULTILINESTRING:
        *cls = WKB_MULTILINESTRING;
        return type == WKB_LINESTRING || type == WKB_MULTILINESTRING
                   ? copy_multi(r, type, WKB_LINESTRING, m, b)
                   : -1;
    }
    return -1;
}

int situ__spatialite_blob(const unsigned char *wkb, size_t n, situ_gtype gtype, int srid,
                          situ_buf *out)
{
    wkb_reader r = {wkb, wkb + n};
    mbr m = {DBL_MAX, DBL_MAX, -DBL_MAX, -DBL_MAX};
    uint32_t type = 0, cls = 0;
    out->n = 0;
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__ || !wkb || n < 5 || wkb[0] != 0x01)
        return 1; /* (a big-endian machine: SpatiaLite writes big-endian blobs) */
    r.p++;
    read_u32(&r, &type);
    if (situ_buf_reserve(out, BLOB_HEADER + n + 64))
        return -1;
    out->n = BLOB_HEADER;
    if (copy_body(&r, type, gtype, &m, &cls, out) || r.p != r.end)
        return 1;
    situ_buf_addc(out, (char)0xFE);
    if (out->oom)
        return -1;
    unsigned char *h = (unsigned char *)out->p;
    int32_t id = srid;
    h[0] = 0x00, h[1] = 0x01;
    memcpy(h + 2, &id, 4);
    memcpy(h + 6, &m, 32);
    h[38] = 0x7C;
    memcpy(h + 39, &cls, 4);
    return 0;
}

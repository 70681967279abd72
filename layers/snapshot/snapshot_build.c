/*
 * snapshot_build.c: reads one collection from the store into a situ_coll.
 * Owns the build-time state: a string arena (chunks that never move), growable
 * arrays for features, polygons, rings and coordinates, the WKB reader, ring
 * orientation, interior points, the id index and the R-tree. After
 * situ_coll_load returns, nothing here runs again for that collection.
 */
#define _GNU_SOURCE /* qsort_r */
#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"

#include "snapshot_build.h"

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct build {
    situ_coll *c;
    chunk *arena;
    situ_feature *feats;
    size_t nfeats, capfeats;
    situ_poly *polys;
    size_t npolys, cappolys;
    situ_ring *rings;
    size_t nrings, caprings;
    double *xy;
    size_t nxy, capxy; /* in points */
    situ_held *held;
    size_t nheld, capheld;
    size_t bytes;
} build;

typedef struct coll_priv {
    chunk *arena;
    situ_feature *feats;
    situ_poly *polys;
    situ_ring *rings;
    double *xy;
    situ_held *held;
    uint32_t *by_id;
    situ_value *values;
} coll_priv;

static void *arena_alloc(build *b, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!b->arena || b->arena->used + n > b->arena->cap) {
        size_t cap = n > 65536 ? n : 65536;
        chunk *k = malloc(sizeof *k + cap);
        if (!k)
            return NULL;
        k->next = b->arena;
        k->used = 0;
        k->cap = cap;
        b->arena = k;
        b->bytes += cap;
    }
    void *p = b->arena->data + b->arena->used;
    b->arena->used += n;
    return p;
}

static const char *arena_str(build *b, const unsigned char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen((const char *)s) + 1;
    char *p = arena_alloc(b, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- WKB ------------------------------------------------------------------ */

typedef struct wkb_reader {
    const unsigned char *p, *end;
    int swap;
} wkb_reader;

static int rd_u32(wkb_reader *r, uint32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    memcpy(v, r->p, 4);
    if (r->swap)
        *v = __builtin_bswap32(*v);
    r->p += 4;
    return 0;
}

static int rd_f64(wkb_reader *r, double *v)
{
    if (r->end - r->p < 8)
        return -1;
    uint64_t u;
    memcpy(&u, r->p, 8);
    if (r->swap)
        u = __builtin_bswap64(u);
    memcpy(v, &u, 8);
    r->p += 8;
    return 0;
}

static int rd_header(wkb_reader *r, uint32_t *type)
{
    if (r->p >= r->end)
        return -1;
    r->swap = *r->p++ == 0;
    if (rd_u32(r, type))
        return -1;
    *type %= 1000; /* ISO Z/M variants would carry more ordinates; the store is XY */
    return 0;
}

static double ring_area2(const double *xy, uint32_t n)
{
    double a = 0;
    for (uint32_t i = 0; i + 1 < n; i++)
        a += xy[2 * i] * xy[2 * i + 3] - xy[2 * i + 2] * xy[2 * i + 1];
    return a;
}

static void reverse_ring(double *xy, uint32_t n)
{
    for (uint32_t i = 0, j = n - 1; i < j; i++, j--) {
        double tx = xy[2 * i], ty = xy[2 * i + 1];
        xy[2 * i] = xy[2 * j], xy[2 * i + 1] = xy[2 * j + 1];
        xy[2 * j] = tx, xy[2 * j + 1] = ty;
    }
}

/* Reads one ring, closes it, orients it (exterior CCW, holes CW). */
static int read_ring(build *b, wkb_reader *r, int exterior, situ_feature *f)
{
    uint32_t n;
    if (rd_u32(r, &n) || n > (uint32_t)((r->end - r->p) / 16) || n < 3)
        return -1;
    if (situ_array_grow((void **)&b->xy, &b->capxy, b->nxy, n + 1, 2 * sizeof(double)) ||
        situ_array_grow((void **)&b->rings, &b->caprings, b->nrings, 1, sizeof(situ_ring)))
        return -1;
    double *xy = b->xy + 2 * b->nxy;
    for (uint32_t i = 0; i < n; i++) {
        if (rd_f64(r, &xy[2 * i]) || rd_f64(r, &xy[2 * i + 1]))
            return -1;
        f->bbox[0] = fmin(f->bbox[0], xy[2 * i]);
        f->bbox[1] = fmin(f->bbox[1], xy[2 * i + 1]);
        f->bbox[2] = fmax(f->bbox[2], xy[2 * i]);
        f->bbox[3] = fmax(f->bbox[3], xy[2 * i + 1]);
    }
    if (xy[0] != xy[2 * n - 2] || xy[1] != xy[2 * n - 1]) {
        xy[2 * n] = xy[0], xy[2 * n + 1] = xy[1];
        n++;
    }
    double a = ring_area2(xy, n);
    if ((exterior && a < 0) || (!exterior && a > 0))
        reverse_ring(xy, n);
    b->rings[b->nrings++] = (situ_ring){(uint32_t)b->nxy, n};
    b->nxy += n;
    return 0;
}

static int read_polygon(build *b, wkb_reader *r, situ_feature *f)
{
    uint32_t nr;
    if (rd_u32(r, &nr) || nr == 0 ||
        situ_array_grow((void **)&b->polys, &b->cappolys, b->npolys, 1, sizeof(situ_poly)))
        return -1;
    situ_poly *p = &b->polys[b->npolys];
    p->ring0 = (uint32_t)b->nrings;
    p->nrings = nr;
    b->npolys++;
    for (uint32_t i = 0; i < nr; i++)
        if (read_ring(b, r, i == 0, f))
            return -1;
    f->npolys++;
    return 0;
}

/* Reads a WKB Point, Polygon or MultiPolygon into feature f. */
static int read_geometry(build *b, const unsigned char *wkb, int n, situ_feature *f)
{
    wkb_reader r = {wkb, wkb + n, 0};
    uint32_t type;
    f->bbox[0] = f->bbox[1] = DBL_MAX;
    f->bbox[2] = f->bbox[3] = -DBL_MAX;
    f->poly0 = (uint32_t)b->npolys;
    if (!wkb || rd_header(&r, &type))
        return -1;
    if (type == 1) {
        if (rd_f64(&r, &f->x) || rd_f64(&r, &f->y))
            return -1;
        f->bbox[0] = f->bbox[2] = f->x;
        f->bbox[1] = f->bbox[3] = f->y;
        return 0;
    }
    if (type == 3)
        return read_polygon(b, &r, f);
    uint32_t np;
    if (type != 6 || rd_u32(&r, &np))
        return -1;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t t;
        if (rd_header(&r, &t) || t != 3 || read_polygon(b, &r, f))
            return -1;
    }
    return np ? 0 : -1;
}

/* An interior point of the first polygon: the middle of the widest span of
 * the horizontal line through its box centre (or the box centre itself). */
static void interior_point(build *b, situ_feature *f)
{
    const situ_poly *p = &b->polys[f->poly0];
    const situ_ring *ring = &b->rings[p->ring0];
    const double *xy = b->xy + 2 * (size_t)ring->off;
    double minx = DBL_MAX, maxx = -DBL_MAX, miny = DBL_MAX, maxy = -DBL_MAX;
    for (uint32_t i = 0; i < ring->n; i++) {
        minx = fmin(minx, xy[2 * i]), maxx = fmax(maxx, xy[2 * i]);
        miny = fmin(miny, xy[2 * i + 1]), maxy = fmax(maxy, xy[2 * i + 1]);
    }
    double y = (miny + maxy) / 2, xs[256];
    int nx = 0;
    for (uint32_t i = 0; i + 1 < ring->n && nx < 256; i++) {
        const double *a = xy + 2 * i, *c = a + 2;
        if ((a[1] > y) != (c[1] > y))
            xs[nx++] = a[0] + (y - a[1]) * (c[0] - a[0]) / (c[1] - a[1]);
    }
    f->x = (minx + maxx) / 2, f->y = y;
    for (int i = 1; i < nx; i++) /* insertion sort: few crossings */
        for (int j = i; j > 0 && xs[j - 1] > xs[j]; j--) {
            double t = xs[j];
            xs[j] = xs[j - 1], xs[j - 1] = t;
        }
    double best = -1;
    for (int i = 0; i + 1 < nx; i += 2)
        if (xs[i + 1] - xs[i] > best) {
            best = xs[i + 1] - xs[i];
            f->x = (xs[i] + xs[i + 1]) / 2;
        }
}

/* ---- reading rows --------------------------------------------------------- */

static int read_values(build *b, sqlite3_stmt *st, int col0, situ_feature *f)
{
    const situ_collection *c = b->c->c;
    situ_value *v = arena_alloc(b, (size_t)c->nfields * sizeof *v + 1);
    if (!v)
        return -1;
    for (int i = 0; i < c->nfields; i++) {
        int k = col0 + i;
        v[i].type = 0;
        if (sqlite3_column_type(st, k) == SQLITE_NULL)
            continue;
        v[i].type = c->fields[i].type;
        switch (c->fields[i].type) {
        case SITU_FT_INT:
        case SITU_FT_BOOL:
            v[i].u.i = sqlite3_column_int64(st, k);
            break;
        case SITU_FT_REAL:
            v[i].u.d = sqlite3_column_double(st, k);
            break;
        default:
            if (!(v[i].u.s = arena_str(b, sqlite3_column_text(st, k))))
                return -1;
        }
    }
    f->values = v;
    return 0;
}

static int read_row(build *b, sqlite3_stmt *st)
{
    if (situ_array_grow((void **)&b->feats, &b->capfeats, b->nfeats, 1, sizeof(situ_feature)))
        return SITU_ENOMEM;
    situ_feature *f = &b->feats[b->nfeats];
    memset(f, 0, sizeof *f);
    const unsigned char *tc = sqlite3_column_text(st, 1);
    f->id = arena_str(b, sqlite3_column_text(st, 0));
    f->township_code = arena_str(b, tc ? tc : (const unsigned char *)"");
    f->updated_at = arena_str(b, sqlite3_column_text(st, 2));
    f->extra = arena_str(b, sqlite3_column_text(st, 3));
    if (!f->id || !f->township_code || read_values(b, st, 5, f))
        return SITU_ENOMEM;
    if (f->updated_at && strcmp(f->updated_at, b->c->updated_max) > 0)
        snprintf(b->c->updated_max, sizeof b->c->updated_max, "%s", f->updated_at);
    if (read_geometry(b, sqlite3_column_blob(st, 4), sqlite3_column_bytes(st, 4), f))
        return SITU_EGEOM;
    if (f->npolys)
        interior_point(b, f);
    b->nfeats++;
    return 0;
}

static int read_rows(build *b, sqlite3 *db, situ_err *err)
{
    const situ_collection *c = b->c->c;
    char sql[4096];
    int n = snprintf(sql, sizeof sql,
                     "SELECT id, township_code, updated_at, extra, AsBinary(geom)");
    for (int i = 0; i < c->nfields; i++)
        n += snprintf(sql + n, sizeof sql - (size_t)n, ", \"%s\"", c->fields[i].name);
    snprintf(sql + n, sizeof sql - (size_t)n,
             " FROM \"%s\" ORDER BY COALESCE(township_code, ''), id", c->id);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL))
        return situ_err_set(err, SITU_EDB, "read %s: %s", c->id, sqlite3_errmsg(db));
    int rc, step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if ((rc = read_row(b, st))) {
            situ_err_set(err, rc, "%s %s: %s", c->id, sqlite3_column_text(st, 0),
                         rc == SITU_EGEOM ? "unreadable geometry" : "out of memory");
            sqlite3_finalize(st);
            return rc;
        }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return situ_err_set(err, SITU_EDB, "read %s: %s", c->id, sqlite3_errmsg(db));
    return 0;
}

static int cmp_by_id(const void *a, const void *b, void *feats)
{
    const situ_feature *f = feats;
    return strcmp(f[*(const uint32_t *)a].id, f[*(const uint32_t *)b].id);
}

static int cmp_held(const void *a, const void *b)
{
    const situ_held *x = a, *y = b;
    return (x->item > y->item) - (x->item < y->item);
}

/* Reads resource_items and attaches them, sorted by item, to their features. */
static int read_items(build *b, sqlite3 *db, uint32_t *by_id, situ_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT resource_id, item, quantity, unit, updated_at "
                           "FROM resource_items ORDER BY resource_id, item",
                           -1, &st, NULL))
        return situ_err_set(err, SITU_EDB, "read items: %s", sqlite3_errmsg(db));
    b->c->feats = b->feats, b->c->n = b->nfeats, b->c->by_id = by_id;
    long cur = -1;
    const char *cur_id = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *rid = (const char *)sqlite3_column_text(st, 0);
        int item = situ_schema_item_index((const char *)sqlite3_column_text(st, 1));
        if (!cur_id || strcmp(cur_id, rid) != 0) {
            cur = situ_coll_find(b->c, rid);
            cur_id = cur >= 0 ? b->feats[cur].id : NULL;
            if (cur >= 0)
                b->feats[cur].held0 = (uint32_t)b->nheld;
        }
        if (cur < 0 || item < 0)
            continue;
        if (situ_array_grow((void **)&b->held, &b->capheld, b->nheld, 1, sizeof(situ_held)))
            break;
        b->held[b->nheld++] = (situ_held){item, sqlite3_column_double(st, 2),
                                          arena_str(b, sqlite3_column_text(st, 3)),
                                          arena_str(b, sqlite3_column_text(st, 4))};
        b->feats[cur].nheld++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < b->nfeats; i++)
        if (b->feats[i].nheld > 1)
            qsort(b->held + b->feats[i].held0, b->feats[i].nheld, sizeof(situ_held), cmp_held);
    return 0;
}

static int index_features(build *b, uint32_t **out_by_id)
{
    uint32_t *by_id = malloc((b->nfeats + 1) * sizeof *by_id);
    double *boxes = malloc((b->nfeats + 1) * 4 * sizeof(double));
    if (!by_id || !boxes)
        goto fail;
    for (size_t i = 0; i < b->nfeats; i++) {
        by_id[i] = (uint32_t)i;
        memcpy(boxes + 4 * i, b->feats[i].bbox, 4 * sizeof(double));
    }
    qsort_r(by_id, b->nfeats, sizeof *by_id, cmp_by_id, b->feats);
    b->c->index = situ_rtree_new(boxes, b->nfeats);
    free(boxes);
    if (!b->c->index)
        goto fail;
    *out_by_id = by_id;
    return 0;
fail:
    free(by_id);
    free(boxes);
    return -1;
}

static void set_extent(situ_coll *c)
{
    if (!c->index || !c->index->nslots)
        return;
    memcpy(c->extent, c->index->boxes + 4 * (c->index->nslots - 1), sizeof c->extent);
}

int situ_coll_load(situ_store *s, situ_coll_id cid, situ_coll **out_coll, situ_err *err)
{
    build b = {0};
    coll_priv *pv = calloc(1, sizeof *pv);
    b.c = calloc(1, sizeof *b.c);
    if (!b.c || !pv) {
        free(b.c), free(pv);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    b.c->c = situ_schema_collection(cid);
    b.c->refs = 1;
    b.c->priv = pv;
    uint32_t *by_id = NULL;
    int rc = read_rows(&b, situ_store_db(s), err);
    if (!rc && index_features(&b, &by_id))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc && cid == SITU_C_RESOURCES)
        rc = read_items(&b, situ_store_db(s), by_id, err);
    *pv = (coll_priv){b.arena, b.feats, b.polys, b.rings, b.xy, b.held, by_id, NULL};
    situ_coll *c = b.c;
    c->feats = b.feats, c->n = b.nfeats, c->polys = b.polys, c->rings = b.rings;
    c->xy = b.xy, c->held = b.held, c->by_id = by_id;
    c->bytes = b.bytes + b.capfeats * sizeof(situ_feature) + b.cappolys * sizeof(situ_poly) +
               b.caprings * sizeof(situ_ring) + b.capxy * 2 * sizeof(double) +
               b.capheld * sizeof(situ_held) + b.nfeats * (4 + 64);
    if (rc) {
        situ__coll_free(c);
        return rc;
    }
    set_extent(c);
    *out_coll = c;
    return 0;
}

void situ__coll_free(situ_coll *c)
{
    if (!c)
        return;
    coll_priv *pv = c->priv;
    if (pv) {
        for (chunk *k = pv->arena, *next; k; k = next) {
            next = k->next;
            free(k);
        }
        free(pv->feats), free(pv->polys), free(pv->rings), free(pv->xy), free(pv->held);
        free(pv->by_id);
        free(pv);
    }
    situ_rtree_free(c->index);
    free(c);
}

/*
 * snapshot_build.c: reads one collection from the store into a situ_coll.
 * Owns the build-time state: a string arena (chunks that never move), growable
 * arrays for features, polygons, rings and coordinates, the WKB reader, ring
 * orientation, interior points, the id index and the R-tree. After
 * situ_coll_load returns, nothing here runs again for that collection.
 * situ_coll_update builds the next version of a collection from the
 * previous one: it reads only the features that changed and copies the
 * others' records (their coordinates by memcpy, nothing recomputed); their
 * strings and values are not copied but shared: the new version holds a
 * reference to the previous one's arenas (coll_strings, a chain that the
 * versions share; freed with the last version pointing into it) until what
 * those hold for features changed or gone outgrows what is used, when one
 * update copies them afresh. Its id index is merged from the previous one
 * (no string sort); its R-tree merges the changed features' Hilbert keys into
 * the previous tree's order (no sort of the whole) and packs it. Its digest (digest.c) is the
 * previous one less the hashes of the features read again or gone, plus those read: the cost of
 * what changed, where a whole load hashes every feature.
 */
#define _GNU_SOURCE /* qsort_r */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/buf.h"
#include "situ/db.h"

#include "snapshot_build.h"

typedef struct build {
    situ_coll *c;
    chunk *arena;                  /* its own strings and values (strings.arena once built) */
    coll_strings *share;           /* situ_coll_update: the strings of prev it points into */
    situ__snapfile_mem *share_mem; /* or prev's snapshot file memory */
    snap_section share_section;    /* and prev's section of it */
    size_t shared, live;           /* bytes: of share (or share_mem), used (coll_priv.live) */
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
    uint32_t *base_of; /* situ_coll_update: per feature, its index in prev */
    size_t bytes;
} build;

static void *arena_alloc(build *b, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!b->arena || b->arena->used + n > b->arena->cap) {
        size_t cap = b->bytes < 65536 ? 4096 : 65536; /* small for a feed batch's few rows */
        cap = n > cap ? n : cap;
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
    b->live += n;
    return p;
}

/* A copy of s in b's arena; NULL for NULL or when out of memory. */
static const char *arena_str(build *b, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
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

/* Reads n points into xy, growing f's box. */
static int read_points(wkb_reader *r, uint32_t n, double *xy, situ_feature *f)
{
    for (uint32_t i = 0; i < n; i++) {
        if (rd_f64(r, &xy[2 * i]) || rd_f64(r, &xy[2 * i + 1]))
            return -1;
        f->bbox[0] = fmin(f->bbox[0], xy[2 * i]);
        f->bbox[1] = fmin(f->bbox[1], xy[2 * i + 1]);
        f->bbox[2] = fmax(f->bbox[2], xy[2 * i]);
        f->bbox[3] = fmax(f->bbox[3], xy[2 * i + 1]);
    }
    return 0;
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
    if (read_points(r, n, xy, f))
        return -1;
    if (xy[0] != xy[2 * n - 2] || xy[1] != xy[2 * n - 1]) {
        xy[2 * n] = xy[0], xy[2 * n + 1] = xy[1];
        n++;
    }
    situ_ring_orient(xy, n, exterior);
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

/* Reads one LineString part as a situ_poly of one ring: the open line, its
 * vertices in their order (not closed, not reoriented). */
static int read_line(build *b, wkb_reader *r, situ_feature *f)
{
    uint32_t n;
    if (rd_u32(r, &n) || n > (uint32_t)((r->end - r->p) / 16) || n < 2 ||
        situ_array_grow((void **)&b->xy, &b->capxy, b->nxy, n, 2 * sizeof(double)) ||
        situ_array_grow((void **)&b->rings, &b->caprings, b->nrings, 1, sizeof(situ_ring)) ||
        situ_array_grow((void **)&b->polys, &b->cappolys, b->npolys, 1, sizeof(situ_poly)))
        return -1;
    double *xy = b->xy + 2 * b->nxy;
    if (read_points(r, n, xy, f))
        return -1;
    b->polys[b->npolys++] = (situ_poly){(uint32_t)b->nrings, 1};
    b->rings[b->nrings++] = (situ_ring){(uint32_t)b->nxy, n};
    b->nxy += n;
    f->npolys++;
    return 0;
}

/* Reads a WKB LineString or MultiLineString (a line collection) into f. */
static int read_lines(build *b, wkb_reader *r, uint32_t type, situ_feature *f)
{
    if (type == 2)
        return read_line(b, r, f);
    uint32_t np;
    if (type != 5 || rd_u32(r, &np))
        return -1;
    for (uint32_t i = 0; i < np; i++) {
        uint32_t t;
        if (rd_header(r, &t) || t != 2 || read_line(b, r, f))
            return -1;
    }
    return np ? 0 : -1;
}

/* Reads a WKB Point, Polygon or MultiPolygon into feature f, or for a line
 * collection a LineString or MultiLineString. */
static int read_geometry(build *b, const unsigned char *wkb, int n, situ_feature *f)
{
    wkb_reader r = {wkb, wkb + n, 0};
    uint32_t type;
    f->bbox[0] = f->bbox[1] = DBL_MAX;
    f->bbox[2] = f->bbox[3] = -DBL_MAX;
    f->poly0 = (uint32_t)b->npolys;
    if (!wkb || rd_header(&r, &type))
        return -1;
    if (b->c->c->gtype == SITU_GT_MULTILINESTRING)
        return read_lines(b, &r, type, f);
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

/* A point on a line feature: the middle vertex of its first part. */
static void line_point(build *b, situ_feature *f)
{
    const situ_ring *line = &b->rings[b->polys[f->poly0].ring0];
    const double *xy = b->xy + 2 * ((size_t)line->off + line->n / 2);
    f->x = xy[0], f->y = xy[1];
}

/* ---- reading rows --------------------------------------------------------- */

static int read_values(build *b, situ_db_stmt *st, int col0, situ_feature *f)
{
    const situ_collection *c = b->c->c;
    situ_value *v = arena_alloc(b, (size_t)c->nfields * sizeof *v + 1);
    if (!v)
        return -1;
    for (int i = 0; i < c->nfields; i++) {
        int k = col0 + i;
        v[i].type = 0;
        if (situ_db_column_type(st, k) == SITU_DB_NULL)
            continue;
        v[i].type = c->fields[i].type;
        switch (c->fields[i].type) {
        case SITU_FT_INT:
        case SITU_FT_BOOL:
            v[i].u.i = situ_db_column_int64(st, k);
            break;
        case SITU_FT_REAL:
            v[i].u.d = situ_db_column_double(st, k);
            break;
        default:
            if (!(v[i].u.s = arena_str(b, situ_db_column_text(st, k))))
                return -1;
        }
    }
    f->values = v;
    return 0;
}

static int read_row(build *b, situ_db_stmt *st)
{
    if (situ_array_grow((void **)&b->feats, &b->capfeats, b->nfeats, 1, sizeof(situ_feature)))
        return SITU_ENOMEM;
    situ_feature *f = &b->feats[b->nfeats];
    memset(f, 0, sizeof *f);
    const char *tc = situ_db_column_text(st, 1);
    f->id = arena_str(b, situ_db_column_text(st, 0));
    f->township_code = arena_str(b, tc ? tc : "");
    f->updated_at = arena_str(b, situ_db_column_text(st, 2));
    f->extra = arena_str(b, situ_db_column_text(st, 3));
    if (!f->id || !f->township_code || read_values(b, st, 5, f))
        return SITU_ENOMEM;
    if (f->updated_at && strcmp(f->updated_at, b->c->updated_max) > 0)
        snprintf(b->c->updated_max, sizeof b->c->updated_max, "%s", f->updated_at);
    if (read_geometry(b, situ_db_column_blob(st, 4), situ_db_column_bytes(st, 4), f))
        return SITU_EGEOM;
    if (f->npolys && b->c->c->gtype == SITU_GT_MULTILINESTRING)
        line_point(b, f);
    else if (f->npolys)
        interior_point(b, f);
    b->nfeats++;
    return 0;
}

/* The SELECT of every column read_row reads, then tail, into sql. */
static void select_sql(const situ_collection *c, const char *tail, char *sql, size_t nsql)
{
    int n = snprintf(sql, nsql, "SELECT id, township_code, updated_at, extra, ST_AsBinary(geom)");
    for (int i = 0; i < c->nfields; i++)
        n += snprintf(sql + n, nsql - (size_t)n, ", \"%s\"", c->fields[i].name);
    snprintf(sql + n, nsql - (size_t)n, " FROM \"%s\" %s", c->id, tail);
}

/* Steps st to its end, reading each row into b. */
static int step_rows(build *b, situ_db_stmt *st, situ_err *err)
{
    int rc, step;
    while ((step = situ_db_step(st)) == SITU_DB_ROW)
        if ((rc = read_row(b, st)))
            return situ_err_set(err, rc, "%s %s: %s", b->c->c->id, situ_db_column_text(st, 0),
                                rc == SITU_EGEOM ? "unreadable geometry" : "out of memory");
    if (step != SITU_DB_DONE)
        return situ_err_set(err, SITU_EDB, "read %s: %s", b->c->c->id,
                            situ_db_errmsg(situ_db_of(st)));
    return 0;
}

/* The (township_code, id) order of a situ_coll, as strcmp orders them. */
static int cmp_place(const situ_feature *a, const situ_feature *b)
{
    int k = strcmp(a->township_code, b->township_code);
    return k ? k : strcmp(a->id, b->id);
}

static int cmp_place_idx(const void *a, const void *b, void *feats)
{
    const situ_feature *f = feats;
    return cmp_place(&f[*(const uint32_t *)a], &f[*(const uint32_t *)b]);
}

/* Puts b's features in (township_code, id) order. The sort is C's, not an
 * ORDER BY: an engine's collation (PostgreSQL's locale) may order text
 * otherwise, and township ranges and updates rely on strcmp's order. */
static int sort_by_place(build *b)
{
    size_t i = 1;
    while (i < b->nfeats && cmp_place(&b->feats[i - 1], &b->feats[i]) < 0)
        i++;
    if (i >= b->nfeats)
        return 0; /* already in order: as loaded */
    uint32_t *order = malloc(b->nfeats * sizeof *order);
    situ_feature *sorted = malloc(b->nfeats * sizeof *sorted);
    if (!order || !sorted) {
        free(order), free(sorted);
        return -1;
    }
    for (i = 0; i < b->nfeats; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, b->nfeats, sizeof *order, cmp_place_idx, b->feats);
    for (i = 0; i < b->nfeats; i++)
        sorted[i] = b->feats[order[i]];
    free(order);
    free(b->feats);
    b->feats = sorted, b->capfeats = b->nfeats;
    return 0;
}

static int read_rows(build *b, situ_db *db, situ_err *err)
{
    char sql[4096];
    select_sql(b->c->c, "", sql, sizeof sql);
    situ_db_stmt *st;
    int rc = situ_db_prepare(db, sql, &st, err);
    if (rc)
        return rc;
    rc = step_rows(b, st, err);
    situ_db_finalize(st);
    if (!rc && sort_by_place(b))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    return rc;
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
static int read_items(build *b, situ_db *db, uint32_t *by_id, situ_err *err)
{
    situ_db_stmt *st;
    int rc = situ_db_prepare(db,
                             "SELECT resource_id, item, quantity, unit, updated_at "
                             "FROM resource_items ORDER BY resource_id, item",
                             &st, err);
    if (rc)
        return rc;
    b->c->feats = b->feats, b->c->n = b->nfeats, b->c->by_id = by_id;
    long cur = -1;
    const char *cur_id = NULL;
    while (situ_db_step(st) == SITU_DB_ROW) {
        const char *rid = situ_db_column_text(st, 0);
        int item = situ_schema_item_index(situ_db_column_text(st, 1));
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
        b->held[b->nheld++] = (situ_held){item, situ_db_column_double(st, 2),
                                          arena_str(b, situ_db_column_text(st, 3)),
                                          arena_str(b, situ_db_column_text(st, 4))};
        b->feats[cur].nheld++;
    }
    situ_db_finalize(st);
    for (size_t i = 0; i < b->nfeats; i++)
        if (b->feats[i].nheld > 1)
            qsort(b->held + b->feats[i].held0, b->feats[i].nheld, sizeof(situ_held), cmp_held);
    return 0;
}

/* The position in prev->by_id of the first of prev's ids not below id. */
static size_t by_id_bound(const situ_coll *prev, const char *id)
{
    size_t lo = 0, hi = prev->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(prev->feats[prev->by_id[mid]].id, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* by_id (b->nfeats entries) of what merge built from prev: prev's order of
 * the features it kept, their new indices, with the new ones put in by
 * binary search; the cost of a pass over integers plus the new ones'
 * searches, where a sort compares O(n log n) ids. */
static int merge_by_id(build *b, const situ_coll *prev, uint32_t *by_id)
{
    uint32_t *new_of = malloc((prev->n + 1) * sizeof *new_of);
    uint32_t *fresh = malloc((b->nfeats + 1) * sizeof *fresh);
    if (!new_of || !fresh) {
        free(new_of), free(fresh);
        return -1;
    }
    size_t nfresh = 0, m = 0, j = 0;
    for (size_t i = 0; i < prev->n; i++)
        new_of[i] = SITU_COLL_NEW;
    for (size_t i = 0; i < b->nfeats; i++)
        if (b->base_of[i] == SITU_COLL_NEW)
            fresh[nfresh++] = (uint32_t)i;
        else
            new_of[b->base_of[i]] = (uint32_t)i;
    qsort_r(fresh, nfresh, sizeof *fresh, cmp_by_id, b->feats);
    for (size_t k = 0; k <= nfresh; k++) {
        size_t end = k < nfresh ? by_id_bound(prev, b->feats[fresh[k]].id) : prev->n;
        for (; j < end; j++)
            if (new_of[prev->by_id[j]] != SITU_COLL_NEW)
                by_id[m++] = new_of[prev->by_id[j]];
        if (k < nfresh)
            by_id[m++] = fresh[k];
    }
    free(new_of), free(fresh);
    return m == b->nfeats ? 0 : -1;
}

/* The id index (sorted, or merged from prev's when prev is not NULL: b is
 * then its next version, b->base_of set) and the R-tree of b's features
 * (from prev's, its kept features' keys and order reused). */
static int index_features(build *b, const situ_coll *prev, uint32_t **out_by_id)
{
    uint32_t *by_id = malloc((b->nfeats + 1) * sizeof *by_id);
    double *boxes = malloc((b->nfeats + 1) * 4 * sizeof(double));
    if (!by_id || !boxes)
        goto fail;
    for (size_t i = 0; i < b->nfeats; i++) {
        by_id[i] = (uint32_t)i;
        memcpy(boxes + 4 * i, b->feats[i].bbox, 4 * sizeof(double));
    }
    if (!prev)
        qsort_r(by_id, b->nfeats, sizeof *by_id, cmp_by_id, b->feats);
    else if (merge_by_id(b, prev, by_id))
        goto fail;
    b->c->index =
        situ_rtree_new_from(prev ? prev->index : NULL, boxes, b->nfeats, b->base_of, NULL);
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

/* Starts building collection cid: b->c and its private part. */
static int build_begin(build *b, situ_coll_id cid, situ_err *err)
{
    memset(b, 0, sizeof *b);
    coll_priv *pv = calloc(1, sizeof *pv);
    b->c = calloc(1, sizeof *b->c);
    coll_strings *str = calloc(1, sizeof *str);
    if (!b->c || !pv || !str) {
        free(b->c), free(pv), free(str);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    pv->strings = str;
    b->c->c = situ_schema_collection(cid);
    b->c->refs = 1;
    b->c->priv = pv;
    return 0;
}

static void chunks_free(chunk *k)
{
    for (chunk *next; k; k = next) {
        next = k->next;
        free(k);
    }
}

/* Drops a reference to s; frees it at zero, then drops its parent's. */
static void strings_release(coll_strings *s)
{
    while (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        coll_strings *parent = s->parent;
        chunks_free(s->arena);
        situ__snapfile_mem_release(s->mem);
        free(s);
        s = parent;
    }
}

/* Moves b's arena and what it shares into its strings (b's references to
 * them pass to it). */
static void build_strings(build *b, coll_strings *s)
{
    *s = (coll_strings){.refs = 1,
                        .arena = b->arena,
                        .mem = b->share_mem,
                        .section = b->share_section,
                        .parent = b->share};
    for (chunk *k = b->arena; k; k = k->next)
        s->bytes += k->cap;
    s->bytes += b->shared;
    b->arena = NULL, b->share_mem = NULL, b->share = NULL;
}

/* Hands what b built to its situ_coll, in *out_coll when rc is 0; frees it
 * all otherwise. Returns rc. */
static int build_end(build *b, uint32_t *by_id, int rc, situ_coll **out_coll)
{
    coll_priv *pv = b->c->priv;
    coll_strings *str = pv->strings;
    build_strings(b, str);
    *pv = (coll_priv){.strings = str,
                      .live = b->live,
                      .feats = b->feats,
                      .polys = b->polys,
                      .rings = b->rings,
                      .xy = b->xy,
                      .held = b->held,
                      .by_id = by_id,
                      .base_of = b->base_of};
    situ_coll *c = b->c;
    c->feats = b->feats, c->n = b->nfeats, c->polys = b->polys, c->rings = b->rings;
    c->xy = b->xy, c->held = b->held, c->by_id = by_id, c->base_of = b->base_of;
    c->uid = situ__coll_next_uid();
    c->bytes = b->bytes + b->shared + b->capfeats * sizeof(situ_feature) +
               b->cappolys * sizeof(situ_poly) + b->caprings * sizeof(situ_ring) +
               b->capxy * 2 * sizeof(double) + b->capheld * sizeof(situ_held) +
               b->nfeats * (4 + 64);
    if (rc) {
        situ__coll_free(c);
        return rc;
    }
    set_extent(c);
    *out_coll = c;
    return 0;
}

int situ_coll_load(situ_store *s, situ_coll_id cid, situ_coll **out_coll, situ_err *err)
{
    build b;
    if (build_begin(&b, cid, err))
        return SITU_ENOMEM;
    uint32_t *by_id = NULL;
    int rc = read_rows(&b, situ_store_sql(s), err);
    if (!rc && index_features(&b, NULL, &by_id))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc && cid == SITU_C_RESOURCES)
        rc = read_items(&b, situ_store_sql(s), by_id, err);
    if ((rc = build_end(&b, by_id, rc, out_coll)))
        return rc;
    (*out_coll)->digest = situ_coll_digest(*out_coll);
    return 0;
}

/* ---- the next version of a collection --------------------------------------- */

/* Bytes of an arena that feature f of c takes (its strings and values, as
 * arena_alloc rounds them); what it leaves unused in its version's strings
 * when it changes or goes. */
static size_t arena_bytes(const situ_coll *c, const situ_feature *f)
{
#define STR_BYTES(z) ((z) ? (strlen(z) + 8) & ~(size_t)7 : 0)
    size_t n = STR_BYTES(f->id) + STR_BYTES(f->township_code) + STR_BYTES(f->updated_at) +
               STR_BYTES(f->extra) +
               (((size_t)c->c->nfields * sizeof(situ_value) + 8) & ~(size_t)7);
    for (int i = 0; i < c->c->nfields; i++)
        if (f->values[i].type == SITU_FT_TEXT)
            n += STR_BYTES(f->values[i].u.s);
    for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++)
        n += STR_BYTES(c->held[h].unit) + STR_BYTES(c->held[h].updated_at);
    return n;
#undef STR_BYTES
}

/* Copies g's strings and values (those of a feature of a collection of nf
 * fields) into b's arena and points g at the copies. */
static int copy_strings(build *b, int nf, situ_feature *g)
{
    situ_value *v = arena_alloc(b, (size_t)nf * sizeof *v + 1);
    if (!v)
        return -1;
    memcpy(v, g->values, (size_t)nf * sizeof *v);
    g->values = v;
    g->id = arena_str(b, g->id), g->township_code = arena_str(b, g->township_code);
    g->updated_at = arena_str(b, g->updated_at), g->extra = arena_str(b, g->extra);
    if (!g->id || !g->township_code)
        return -1;
    for (int i = 0; i < nf; i++)
        if (v[i].type == SITU_FT_TEXT && !(v[i].u.s = arena_str(b, v[i].u.s)))
            return -1;
    return 0;
}

/* Appends feature f of src to b: its polygons, rings, coordinates and items
 * copied with b's offsets; its strings and values copied into b's arena
 * when b has no share in them (b->share, b->share_mem), else the same. */
static int copy_feature(build *b, const situ_coll *src, const situ_feature *f)
{
    int deep = !b->share && !b->share_mem;
    if (situ_array_grow((void **)&b->feats, &b->capfeats, b->nfeats, 1, sizeof(situ_feature)))
        return -1;
    situ_feature *g = &b->feats[b->nfeats];
    *g = *f;
    if (deep && copy_strings(b, src->c->nfields, g))
        return -1;
    g->poly0 = (uint32_t)b->npolys;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_poly *sp = &src->polys[p];
        if (situ_array_grow((void **)&b->polys, &b->cappolys, b->npolys, 1, sizeof(situ_poly)))
            return -1;
        b->polys[b->npolys++] = (situ_poly){(uint32_t)b->nrings, sp->nrings};
        for (uint32_t r = sp->ring0; r < sp->ring0 + sp->nrings; r++) {
            uint32_t n = src->rings[r].n;
            if (situ_array_grow((void **)&b->xy, &b->capxy, b->nxy, n, 2 * sizeof(double)) ||
                situ_array_grow((void **)&b->rings, &b->caprings, b->nrings, 1, sizeof(situ_ring)))
                return -1;
            memcpy(b->xy + 2 * b->nxy, src->xy + 2 * (size_t)src->rings[r].off,
                   2 * (size_t)n * sizeof(double));
            b->rings[b->nrings++] = (situ_ring){(uint32_t)b->nxy, n};
            b->nxy += n;
        }
    }
    g->held0 = f->nheld ? (uint32_t)b->nheld : 0;
    for (uint32_t h = f->held0; h < f->held0 + f->nheld; h++) {
        const situ_held *sh = &src->held[h];
        if (situ_array_grow((void **)&b->held, &b->capheld, b->nheld, 1, sizeof(situ_held)))
            return -1;
        b->held[b->nheld++] = *sh;
        if (deep) {
            situ_held *dh = &b->held[b->nheld - 1];
            dh->unit = arena_str(b, sh->unit), dh->updated_at = arena_str(b, sh->updated_at);
        }
    }
    if (g->updated_at && strcmp(g->updated_at, b->c->updated_max) > 0)
        snprintf(b->c->updated_max, sizeof b->c->updated_max, "%s", g->updated_at);
    b->nfeats++;
    return 0;
}

/* Reads the items of the last feature read into b (a resource). */
static int read_items_of_last(build *b, situ_db_stmt *st)
{
    situ_feature *f = &b->feats[b->nfeats - 1];
    situ_db_reset(st);
    situ_db_bind_text(st, 1, f->id, -1);
    f->held0 = (uint32_t)b->nheld, f->nheld = 0;
    while (situ_db_step(st) == SITU_DB_ROW) {
        int item = situ_schema_item_index(situ_db_column_text(st, 0));
        if (item < 0)
            continue;
        if (situ_array_grow((void **)&b->held, &b->capheld, b->nheld, 1, sizeof(situ_held)))
            return -1;
        b->held[b->nheld++] = (situ_held){item, situ_db_column_double(st, 1),
                                          arena_str(b, situ_db_column_text(st, 2)),
                                          arena_str(b, situ_db_column_text(st, 3))};
        f->nheld++;
    }
    if (!f->nheld)
        f->held0 = 0;
    else if (f->nheld > 1)
        qsort(b->held + f->held0, f->nheld, sizeof(situ_held), cmp_held);
    return 0;
}

/* Reads the rows (and, for resources, the items) of the sorted ids[0..n)
 * that are still in the store into b, in the order of ids. */
static int read_ids(build *b, situ_db *db, const char *const *ids, size_t n, situ_err *err)
{
    char sql[4096];
    select_sql(b->c->c, "WHERE id = ?1", sql, sizeof sql);
    situ_db_stmt *st = NULL, *items = NULL;
    int rc = situ_db_prepare(db, sql, &st, err);
    if (!rc && b->c->c->cid == SITU_C_RESOURCES)
        rc = situ_db_prepare(db,
                             "SELECT item, quantity, unit, updated_at FROM resource_items "
                             "WHERE resource_id = ?1 ORDER BY item",
                             &items, err);
    for (size_t i = 0; !rc && i < n; i++) {
        size_t had = b->nfeats;
        situ_db_reset(st);
        situ_db_bind_text(st, 1, ids[i], -1);
        rc = step_rows(b, st, err);
        if (!rc && items && b->nfeats > had && read_items_of_last(b, items))
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    situ_db_finalize(st);
    situ_db_finalize(items);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends to b, in (township_code, id) order, prev's features not marked
 * in gone (changed or deleted: named by the batch) and every feature of
 * fresh; b->base_of says which is which (situ_coll.base_of); b's digest is
 * prev's less the hashes of the features left out, plus those of fresh. */
static int merge(build *b, const situ_coll *prev, const unsigned char *gone, const situ_coll *fresh)
{
    situ_digest d = prev->digest;
    uint32_t *order = malloc((fresh->n + 1) * sizeof *order);
    b->base_of = malloc((prev->n + fresh->n + 1) * sizeof *b->base_of);
    if (!order || !b->base_of) {
        free(order);
        return -1;
    }
    for (size_t i = 0; i < fresh->n; i++)
        order[i] = (uint32_t)i;
    qsort_r(order, fresh->n, sizeof *order, cmp_place_idx, (void *)fresh->feats);
    size_t i = 0, k = 0;
    int rc = 0;
    while (!rc && (i < prev->n || k < fresh->n)) {
        const situ_feature *p = i < prev->n ? &prev->feats[i] : NULL;
        if (p && gone[i]) {
            situ__digest_sub(&d, situ__feature_digest(prev, p));
            i++; /* changed or gone: fresh holds what is left of it */
            continue;
        }
        const situ_feature *q = k < fresh->n ? &fresh->feats[order[k]] : NULL;
        int old = p && (!q || cmp_place(p, q) < 0);
        b->base_of[b->nfeats] = old ? (uint32_t)i : SITU_COLL_NEW;
        if (old) {
            rc = copy_feature(b, prev, p), i++;
        } else {
            situ__digest_add(&d, situ__feature_digest(fresh, q));
            rc = copy_feature(b, fresh, q), k++;
        }
    }
    free(order);
    if (!rc)
        b->c->base_uid = prev->uid;
    b->bytes += (prev->n + fresh->n + 1) * sizeof *b->base_of;
    b->c->digest = d;
    return rc;
}

/* Lets b point into the strings of prev's features (and take over those of
 * fresh's) instead of copying them, unless what prev's strings hold beyond
 * what b's features use (left by features changed or gone, gone_bytes of
 * them by ids) would outgrow what they use: then b copies them (nothing
 * shared), so that a version holds at most about twice what it uses and
 * the copies cost, over the updates, about what changed. */
static void share_strings(build *b, const situ_coll *prev, const situ_coll *fresh,
                          size_t gone_bytes)
{
    const coll_priv *pp = prev->priv;
    coll_priv *fp = fresh->priv;
    size_t total = pp->strings ? pp->strings->bytes : prev->bytes;
    size_t live = pp->strings ? pp->live : prev->bytes;
    live = (live > gone_bytes ? live - gone_bytes : 0) + fp->live;
    if (total + fp->strings->bytes - live > live + 65536)
        return;
    if (pp->strings)
        b->share = pp->strings, __atomic_add_fetch(&pp->strings->refs, 1, __ATOMIC_RELAXED);
    else
        b->share_mem = situ__snapfile_mem_retain(pp->mem), b->share_section = pp->section;
    b->shared = total;
    b->arena = fp->strings->arena, fp->strings->arena = NULL;
    b->bytes += fp->strings->bytes;
    b->live = live;
}

int situ_coll_update(situ_store *s, const situ_coll *prev, const char *const *ids, size_t nids,
                     situ_coll **out_coll, situ_err *err)
{
    const char **sorted = malloc((nids + 1) * sizeof *sorted);
    situ_coll *fresh = NULL;
    build b, f;
    if (!sorted)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    memcpy(sorted, ids, nids * sizeof *ids);
    qsort(sorted, nids, sizeof *sorted, cmp_str);
    size_t n = 0;
    for (size_t i = 0; i < nids; i++)
        if (!n || strcmp(sorted[n - 1], sorted[i]))
            sorted[n++] = sorted[i];
    int rc = build_begin(&f, prev->c->cid, err);
    if (!rc)
        rc = build_end(&f, NULL, read_ids(&f, situ_store_sql(s), sorted, n, err), &fresh);
    if (!rc && !(rc = build_begin(&b, prev->c->cid, err))) {
        uint32_t *by_id = NULL;
        size_t gone_bytes = 0;
        unsigned char *gone = calloc(prev->n + 1, 1); /* per feature of prev: named */
        for (size_t i = 0; gone && i < n; i++) {
            long k = situ_coll_find(prev, sorted[i]);
            if (k >= 0)
                gone[k] = 1, gone_bytes += arena_bytes(prev, &prev->feats[k]);
        }
        if (gone)
            share_strings(&b, prev, fresh, gone_bytes);
        if (!gone || merge(&b, prev, gone, fresh) || index_features(&b, prev, &by_id))
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
        free(gone);
        rc = build_end(&b, by_id, rc, out_coll);
    }
    situ__coll_free(fresh);
    free(sorted);
    return rc;
}

uint64_t situ__coll_next_uid(void)
{
    static uint64_t last;
    return __atomic_add_fetch(&last, 1, __ATOMIC_RELAXED);
}

void situ__coll_free(situ_coll *c)
{
    if (!c)
        return;
    coll_priv *pv = c->priv;
    if (pv && pv->mem) { /* read back from a snapshot file: its arrays are in mem */
        free(c->index);
        c->index = NULL;
        situ__snapfile_mem_release(pv->mem);
        free(pv);
    } else if (pv) {
        strings_release(pv->strings);
        free(pv->feats), free(pv->polys), free(pv->rings), free(pv->xy), free(pv->held);
        free(pv->by_id), free(pv->base_of);
        free(pv);
    }
    situ_coll_release(c->outlines[0]), situ_coll_release(c->outlines[1]);
    situ_rtree_free(c->index);
    free(c);
}

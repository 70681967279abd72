/*
 * admin.c: townships dissolved into counties, counties into provinces (see
 * situ/admin.h). Owns grouping features by code prefix, the GEOS union of a
 * group (coverage union first, unary union where GEOS refuses it or returns
 * an invalid outline), copying an unchanged group from the previous result,
 * and laying the outlines out as a situ_coll. Does not tile (tile_prep.c
 * prepares the result like any collection) or read the store.
 *
 * Memory: the collection header, its features, polygons, rings, points,
 * values, id index, member signatures and strings are one allocation with
 * the situ_coll first and priv NULL, so situ_coll_release frees it (and its
 * R-tree) like a snapshot collection.
 */
#include "situ/admin.h"

#include <geos_c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/index.h"
#include "summary_private.h"

static const situ_field admin_fields[] = {
    {"name", SITU_FT_TEXT, SITU_FF_REQUIRED, NULL, "名称"},
};

/* cid: townships, so that tile options (minzoom 0, never clustered) follow
 * the layer these outlines stand in for. */
static const situ_collection admin_colls[SITU_ADMIN_NLEVELS] = {
    {SITU_C_TOWNSHIPS, "counties", "区县", "Counties",
     "Townships dissolved into counties (the first 6 digits of the township code)",
     SITU_GT_MULTIPOLYGON, admin_fields, 1, 0},
    {SITU_C_TOWNSHIPS, "provinces", "省级", "Provinces",
     "Counties dissolved into provinces (the first 2 digits of the code, GB/T 2260)",
     SITU_GT_MULTIPOLYGON, admin_fields, 1, 0},
};

/* GB/T 2260 province-level codes; a prefix not listed is named by itself. */
static const struct {
    const char *code, *name;
} province_names[] = {
    {"11", "北京市"},           {"12", "天津市"},         {"13", "河北省"},
    {"14", "山西省"},           {"15", "内蒙古自治区"},   {"21", "辽宁省"},
    {"22", "吉林省"},           {"23", "黑龙江省"},       {"31", "上海市"},
    {"32", "江苏省"},           {"33", "浙江省"},         {"34", "安徽省"},
    {"35", "福建省"},           {"36", "江西省"},         {"37", "山东省"},
    {"41", "河南省"},           {"42", "湖北省"},         {"43", "湖南省"},
    {"44", "广东省"},           {"45", "广西壮族自治区"}, {"46", "海南省"},
    {"50", "重庆市"},           {"51", "四川省"},         {"52", "贵州省"},
    {"53", "云南省"},           {"54", "西藏自治区"},     {"61", "陕西省"},
    {"62", "甘肃省"},           {"63", "青海省"},         {"64", "宁夏回族自治区"},
    {"65", "新疆维吾尔自治区"}, {"71", "台湾省"},         {"81", "香港特别行政区"},
    {"82", "澳门特别行政区"},
};

const situ_collection *situ_admin_collection(situ_admin_level level)
{
    return (unsigned)level < SITU_ADMIN_NLEVELS ? &admin_colls[level] : NULL;
}

int situ_admin_prefix(situ_admin_level level)
{
    return level == SITU_ADMIN_PROVINCE ? 2 : 6;
}

typedef struct admin_coll {
    situ_coll c; /* first: freed as a situ_coll */
    uint64_t *sig;
} admin_coll;

/* One area being built: its members parts[first, end). */
typedef struct group {
    size_t first, end;
    char code[16];
    const char *name;
    uint64_t sig;
    long reuse;      /* feature of prev to copy, or -1 */
    GEOSGeometry *u; /* the union, when not reused */
    size_t npolys, nrings, npts;
} group;

static const char *code_of(const situ_feature *f)
{
    return f->township_code[0] ? f->township_code : f->id;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* A signature of feature f: its code, and its coordinates or (an area of an
 * earlier level) its own signature. */
static uint64_t member_sig(const situ_coll *c, size_t i, uint64_t h)
{
    const situ_feature *f = &c->feats[i];
    h = fnv(h, f->id, strlen(f->id) + 1);
    if (c->c == &admin_colls[SITU_ADMIN_COUNTY])
        return fnv(h, &((const admin_coll *)c)->sig[i], sizeof(uint64_t));
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++)
        for (uint32_t r = c->polys[p].ring0; r < c->polys[p].ring0 + c->polys[p].nrings; r++)
            h = fnv(h, c->xy + 2 * (size_t)c->rings[r].off, 2 * c->rings[r].n * sizeof(double));
    return h;
}

static const char *area_name(const situ_coll *parts, const group *g, situ_admin_level level)
{
    if (level == SITU_ADMIN_PROVINCE) {
        for (size_t i = 0; i < sizeof province_names / sizeof province_names[0]; i++)
            if (!strcmp(province_names[i].code, g->code))
                return province_names[i].name;
        return NULL; /* the code */
    }
    int k = situ_schema_field_index(parts->c, "county_name");
    const situ_value *v = k >= 0 ? &parts->feats[g->first].values[k] : NULL;
    return v && v->type == SITU_FT_TEXT && v->u.s[0] ? v->u.s : NULL;
}

/* Splits parts into groups by code prefix (features are sorted by code, so
 * a group is a run; a feature without a long enough code is left out). */
static group *find_groups(const situ_coll *parts, situ_admin_level level, size_t *out_n)
{
    size_t plen = (size_t)situ_admin_prefix(level), n = 0;
    group *g = calloc(parts->n + 1, sizeof *g);
    for (size_t i = 0; g && i < parts->n;) {
        const char *code = code_of(&parts->feats[i]);
        size_t j = i + 1;
        if (strlen(code) < plen) {
            i = j;
            continue;
        }
        while (j < parts->n && !strncmp(code_of(&parts->feats[j]), code, plen))
            j++;
        group *a = &g[n++];
        a->first = i, a->end = j, a->reuse = -1;
        memcpy(a->code, code, plen);
        a->code[plen] = '\0';
        a->sig = 1469598103934665603ULL;
        for (size_t k = i; k < j; k++)
            a->sig = member_sig(parts, k, a->sig);
        a->name = area_name(parts, a, level);
        i = j;
    }
    *out_n = n;
    return g;
}

/* The union of group a's members, or NULL when GEOS fails. Counts the
 * method used in st. */
static GEOSGeometry *group_union(GEOSContextHandle_t h, const situ_coll *parts, const group *a,
                                 situ_admin_method method, situ_admin_stats *st)
{
    size_t n = a->end - a->first, np = 0;
    GEOSGeometry **polys = NULL, *all = NULL, *u = NULL;
    for (size_t i = a->first; i < a->end; i++)
        np += parts->feats[i].npolys;
    if (!(polys = malloc((np + 1) * sizeof *polys)))
        return NULL;
    np = 0;
    for (size_t i = 0; i < n; i++) {
        GEOSGeometry *m = situ__feature_geos(h, parts, &parts->feats[a->first + i]);
        int k = m ? GEOSGetNumGeometries_r(h, m) : 0;
        for (int j = 0; j < k; j++) /* move the polygons out of the MultiPolygon */
            polys[np++] = GEOSGeom_clone_r(h, GEOSGetGeometryN_r(h, m, j));
        if (m)
            GEOSGeom_destroy_r(h, m);
    }
    all = GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, polys, (unsigned)np);
    if (!all) {
        for (size_t j = 0; j < np; j++)
            GEOSGeom_destroy_r(h, polys[j]);
    }
    free(polys);
    if (!all)
        return NULL;
    if (method == SITU_ADMIN_COVERAGE && (u = GEOSCoverageUnion_r(h, all)) &&
        GEOSisValid_r(h, u) != 1) {
        GEOSGeom_destroy_r(h, u);
        u = NULL;
    }
    if (u) {
        st->coverage++;
    } else if ((u = GEOSUnaryUnion_r(h, all))) {
        st->unary++;
    }
    GEOSGeom_destroy_r(h, all);
    return u;
}

/* Visits the polygons of a union (a Polygon, or a collection of them). */
static int poly_count(GEOSContextHandle_t h, const GEOSGeometry *u)
{
    return GEOSGeomTypeId_r(h, u) == GEOS_POLYGON ? 1 : GEOSGetNumGeometries_r(h, u);
}

static const GEOSGeometry *poly_at(GEOSContextHandle_t h, const GEOSGeometry *u, int i)
{
    const GEOSGeometry *p =
        GEOSGeomTypeId_r(h, u) == GEOS_POLYGON ? u : GEOSGetGeometryN_r(h, u, i);
    return p && GEOSGeomTypeId_r(h, p) == GEOS_POLYGON && !GEOSisEmpty_r(h, p) ? p : NULL;
}

static const GEOSGeometry *ring_at(GEOSContextHandle_t h, const GEOSGeometry *p, int r)
{
    return r == 0 ? GEOSGetExteriorRing_r(h, p) : GEOSGetInteriorRingN_r(h, p, r - 1);
}

static unsigned ring_size(GEOSContextHandle_t h, const GEOSGeometry *ring)
{
    unsigned n = 0;
    const GEOSCoordSequence *cs = GEOSGeom_getCoordSeq_r(h, ring);
    return cs && GEOSCoordSeq_getSize_r(h, cs, &n) ? n : 0;
}

static void measure(GEOSContextHandle_t h, group *a, const situ_coll *prev)
{
    if (a->reuse >= 0) {
        const situ_feature *f = &prev->feats[a->reuse];
        a->npolys = f->npolys;
        for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
            a->nrings += prev->polys[p].nrings;
            for (uint32_t r = 0; r < prev->polys[p].nrings; r++)
                a->npts += prev->rings[prev->polys[p].ring0 + r].n;
        }
        return;
    }
    for (int i = 0; i < poly_count(h, a->u); i++) {
        const GEOSGeometry *p = poly_at(h, a->u, i);
        if (!p)
            continue;
        int nr = 1 + GEOSGetNumInteriorRings_r(h, p);
        a->npolys++;
        a->nrings += (size_t)nr;
        for (int r = 0; r < nr; r++)
            a->npts += ring_size(h, ring_at(h, p, r));
    }
}

/* ---- laying out the collection ------------------------------------------------ */

typedef struct layout {
    admin_coll *ac;
    situ_feature *feats;
    situ_poly *polys;
    situ_ring *rings;
    double *xy;
    situ_value *values;
    uint32_t *by_id;
    char *str;
    size_t npolys, nrings, npts;
} layout;

static char *put_str(layout *L, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = memcpy(L->str, s, n);
    L->str += n;
    return p;
}

/* Appends GEOS ring `ring` as the next ring: closed, counter-clockwise when
 * exterior, clockwise when a hole. */
static void put_ring(GEOSContextHandle_t h, layout *L, const GEOSGeometry *ring, int exterior)
{
    unsigned n = ring_size(h, ring);
    double *xy = L->xy + 2 * L->npts;
    GEOSCoordSeq_copyToBuffer_r(h, GEOSGeom_getCoordSeq_r(h, ring), xy, 0, 0);
    situ_ring_orient(xy, n, exterior);
    L->rings[L->nrings++] = (situ_ring){(uint32_t)L->npts, n};
    L->npts += n;
}

static void put_union(GEOSContextHandle_t h, layout *L, const group *a)
{
    for (int i = 0; i < poly_count(h, a->u); i++) {
        const GEOSGeometry *p = poly_at(h, a->u, i);
        if (!p)
            continue;
        int nr = 1 + GEOSGetNumInteriorRings_r(h, p);
        L->polys[L->npolys++] = (situ_poly){(uint32_t)L->nrings, (uint32_t)nr};
        for (int r = 0; r < nr; r++)
            put_ring(h, L, ring_at(h, p, r), r == 0);
    }
}

static void put_copy(layout *L, const situ_coll *prev, const situ_feature *f)
{
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_poly *pp = &prev->polys[p];
        L->polys[L->npolys++] = (situ_poly){(uint32_t)L->nrings, pp->nrings};
        for (uint32_t r = pp->ring0; r < pp->ring0 + pp->nrings; r++) {
            const situ_ring *pr = &prev->rings[r];
            memcpy(L->xy + 2 * L->npts, prev->xy + 2 * (size_t)pr->off, 2 * pr->n * sizeof(double));
            L->rings[L->nrings++] = (situ_ring){(uint32_t)L->npts, pr->n};
            L->npts += pr->n;
        }
    }
}

/* The box of feature f's exterior rings, and a point inside it. */
static void put_place(GEOSContextHandle_t h, layout *L, situ_feature *f, const group *a,
                      const situ_coll *prev)
{
    f->bbox[0] = f->bbox[1] = 1e300, f->bbox[2] = f->bbox[3] = -1e300;
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_ring *r = &L->rings[L->polys[p].ring0];
        for (uint32_t k = 0; k < r->n; k++) {
            const double *q = L->xy + 2 * ((size_t)r->off + k);
            f->bbox[0] = q[0] < f->bbox[0] ? q[0] : f->bbox[0];
            f->bbox[2] = q[0] > f->bbox[2] ? q[0] : f->bbox[2];
            f->bbox[1] = q[1] < f->bbox[1] ? q[1] : f->bbox[1];
            f->bbox[3] = q[1] > f->bbox[3] ? q[1] : f->bbox[3];
        }
    }
    if (a->reuse >= 0) {
        f->x = prev->feats[a->reuse].x, f->y = prev->feats[a->reuse].y;
        return;
    }
    GEOSGeometry *pt = GEOSPointOnSurface_r(h, a->u);
    f->x = (f->bbox[0] + f->bbox[2]) / 2, f->y = (f->bbox[1] + f->bbox[3]) / 2;
    if (pt && !GEOSisEmpty_r(h, pt)) {
        GEOSGeomGetX_r(h, pt, &f->x);
        GEOSGeomGetY_r(h, pt, &f->y);
    }
    if (pt)
        GEOSGeom_destroy_r(h, pt);
}

static admin_coll *lay_out(GEOSContextHandle_t h, situ_admin_level level, group *g, size_t n,
                           const situ_coll *prev)
{
    size_t np = 0, nr = 0, npts = 0, nstr = 1;
    for (size_t i = 0; i < n; i++) {
        np += g[i].npolys, nr += g[i].nrings, npts += g[i].npts;
        nstr += strlen(g[i].code) + 1 + strlen(g[i].name ? g[i].name : g[i].code) + 1;
    }
    size_t bytes =
        sizeof(admin_coll) +
        n * (sizeof(situ_feature) + sizeof(situ_value) + sizeof(uint32_t) + sizeof(uint64_t)) +
        np * sizeof(situ_poly) + nr * sizeof(situ_ring) + 2 * npts * sizeof(double) + nstr + 64;
    char *block = calloc(1, bytes), *p = block + sizeof(admin_coll);
    if (!block)
        return NULL;
#define TAKE(ptr, count)                                                                           \
    (p = (char *)(((uintptr_t)p + 7) & ~(uintptr_t)7), ptr = (void *)p, p += (count) * sizeof *ptr)
    layout L = {.ac = (admin_coll *)block};
    TAKE(L.feats, n), TAKE(L.values, n), TAKE(L.by_id, n), TAKE(L.ac->sig, n);
    TAKE(L.polys, np), TAKE(L.rings, nr), TAKE(L.xy, 2 * npts);
    L.str = p;
#undef TAKE
    const char *empty = put_str(&L, "");
    for (size_t i = 0; i < n; i++) {
        situ_feature *f = &L.feats[i];
        f->id = put_str(&L, g[i].code);
        f->township_code = f->updated_at = empty;
        f->poly0 = (uint32_t)L.npolys;
        if (g[i].reuse >= 0)
            put_copy(&L, prev, &prev->feats[g[i].reuse]);
        else
            put_union(h, &L, &g[i]);
        f->npolys = (uint32_t)L.npolys - f->poly0;
        put_place(h, &L, f, &g[i], prev);
        L.values[i] = (situ_value){.type = SITU_FT_TEXT};
        L.values[i].u.s = put_str(&L, g[i].name ? g[i].name : g[i].code);
        f->values = &L.values[i];
        L.ac->sig[i] = g[i].sig;
        L.by_id[i] = (uint32_t)i; /* groups come in code order: ids are sorted */
    }
    situ_coll *c = &L.ac->c;
    *c = (situ_coll){.c = &admin_colls[level],
                     .n = n,
                     .feats = L.feats,
                     .polys = L.polys,
                     .rings = L.rings,
                     .xy = L.xy,
                     .by_id = L.by_id,
                     .bytes = bytes,
                     .refs = 1};
    return L.ac;
}

/* The R-tree over the features' boxes and the extent; 0 or -1. */
static int index_areas(situ_coll *c)
{
    double *boxes = malloc((4 * c->n + 1) * sizeof *boxes);
    if (!boxes)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        memcpy(boxes + 4 * i, c->feats[i].bbox, sizeof c->feats[i].bbox);
        for (int k = 0; k < 4; k++)
            c->extent[k] =
                i == 0  ? c->feats[i].bbox[k]
                : k < 2 ? (c->extent[k] < c->feats[i].bbox[k] ? c->extent[k] : c->feats[i].bbox[k])
                        : (c->extent[k] > c->feats[i].bbox[k] ? c->extent[k] : c->feats[i].bbox[k]);
    }
    c->index = situ_rtree_new(boxes, c->n);
    free(boxes);
    return c->index ? 0 : -1;
}

/* The feature of prev standing for group a unchanged, or -1. */
static long reusable(const situ_coll *prev, situ_admin_level level, const group *a)
{
    if (!prev || prev->c != &admin_colls[level])
        return -1;
    long j = situ_coll_find(prev, a->code);
    return j >= 0 && ((const admin_coll *)prev)->sig[j] == a->sig ? j : -1;
}

int situ_admin_dissolve(const situ_coll *parts, situ_admin_level level, const situ_coll *prev,
                        situ_admin_method method, situ_coll **out_coll, situ_admin_stats *out_stats,
                        situ_err *err)
{
    if ((unsigned)level >= SITU_ADMIN_NLEVELS || !parts ||
        parts->c->gtype != SITU_GT_MULTIPOLYGON ||
        (level == SITU_ADMIN_PROVINCE) != (parts->c == &admin_colls[SITU_ADMIN_COUNTY]))
        return situ_err_set(err, SITU_EINVAL, "admin: level %d cannot be made from %s", (int)level,
                            parts ? parts->c->id : "nothing");
    situ_admin_stats st = {0};
    size_t n = 0;
    group *g = find_groups(parts, level, &n);
    GEOSContextHandle_t h = situ__geos_quiet_init();
    admin_coll *ac = NULL;
    int rc = g && h ? 0 : situ_err_set(err, SITU_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        if ((g[i].reuse = reusable(prev, level, &g[i])) >= 0)
            st.reused++;
        else if (!(g[i].u = group_union(h, parts, &g[i], method, &st)))
            rc = situ_err_set(err, SITU_EGEOM, "admin: GEOS could not dissolve %s %s",
                              admin_colls[level].id, g[i].code);
        if (!rc)
            measure(h, &g[i], prev);
    }
    if (!rc && (!(ac = lay_out(h, level, g, n, prev)) || index_areas(&ac->c)))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    for (size_t i = 0; g && i < n; i++)
        if (g[i].u)
            GEOSGeom_destroy_r(h, g[i].u);
    free(g);
    if (h)
        GEOS_finish_r(h);
    if (rc) {
        if (ac)
            situ_coll_release(&ac->c);
        return rc;
    }
    st.areas = n;
    for (size_t i = 0; i < ac->c.n; i++)
        for (uint32_t p = ac->c.feats[i].poly0; p < ac->c.feats[i].poly0 + ac->c.feats[i].npolys;
             p++)
            for (uint32_t r = 0; r < ac->c.polys[p].nrings; r++)
                st.vertices += ac->c.rings[ac->c.polys[p].ring0 + r].n;
    *out_coll = &ac->c;
    if (out_stats)
        *out_stats = st;
    return 0;
}

const uint64_t *situ_admin_signatures(const situ_coll *areas)
{
    if (!areas || (areas->c != &admin_colls[SITU_ADMIN_COUNTY] &&
                   areas->c != &admin_colls[SITU_ADMIN_PROVINCE]))
        return NULL;
    return ((const admin_coll *)areas)->sig;
}

int situ_admin_restore(const situ_coll *areas, situ_admin_level level, const uint64_t *sig,
                       situ_coll **out_coll, situ_err *err)
{
    if ((unsigned)level >= SITU_ADMIN_NLEVELS || !areas || areas->c != &admin_colls[level])
        return situ_err_set(err, SITU_EINVAL, "admin: not a %s result",
                            (unsigned)level < SITU_ADMIN_NLEVELS ? admin_colls[level].id : "?");
    group *g = calloc(areas->n + 1, sizeof *g);
    admin_coll *ac = NULL;
    for (size_t i = 0; g && i < areas->n; i++) { /* every area copied as it is */
        const situ_feature *f = &areas->feats[i];
        snprintf(g[i].code, sizeof g[i].code, "%s", f->id);
        g[i].name = f->values[0].type == SITU_FT_TEXT ? f->values[0].u.s : NULL;
        g[i].sig = sig[i];
        g[i].reuse = (long)i;
        measure(NULL, &g[i], areas);
    }
    if (!g || !(ac = lay_out(NULL, level, g, areas->n, areas)) || index_areas(&ac->c)) {
        free(g);
        if (ac)
            situ_coll_release(&ac->c);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    free(g);
    *out_coll = &ac->c;
    return 0;
}

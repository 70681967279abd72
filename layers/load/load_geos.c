/*
 * load_geos.c: the loader's GEOS work. Owns one reentrant GEOS context per
 * load (its notices dropped, its errors kept for situ_err), the validation
 * and repair of polygons (GEOSMakeValid, keeping the polygonal part), and the
 * township index: every township of the store in an STRtree of prepared
 * geometries, answering "which township" for a point (smallest covering code,
 * so shared borders are deterministic) or a polygon (largest area share).
 * It does not read source files or write the store; see load_int.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/clock.h"

#include "load_int.h"

/* ---- a time budget for GEOS ---------------------------------------------
 * GEOS checks for interruption inside its long loops (noding, overlay,
 * MakeValid) and calls a registered callback before each check. Ours asks
 * for the interruption once this thread's deadline has passed; the
 * interrupted call returns NULL. GEOS's request flag is global to the
 * process, so a deadline is only armed around one call and cancelled after. */

static __thread double geos_deadline; /* situ_clock_s() value, or 0: none */
static GEOSInterruptCallback *geos_chained;
static pthread_once_t geos_once = PTHREAD_ONCE_INIT;

static void geos_check_deadline(void)
{
    if (geos_deadline > 0 && situ_clock_s() > geos_deadline)
        GEOS_interruptRequest();
    if (geos_chained)
        geos_chained();
}

static void geos_register(void)
{
    geos_chained = GEOS_interruptRegisterCallback(geos_check_deadline);
}

static void arm(double seconds)
{
    pthread_once(&geos_once, geos_register);
    geos_deadline = situ_clock_s() + seconds;
}

/* Disarms; returns 1 when the deadline had passed (the call was cut). */
static int disarm(void)
{
    int passed = geos_deadline > 0 && situ_clock_s() > geos_deadline;
    geos_deadline = 0;
    GEOS_interruptCancel();
    return passed;
}

struct situ__geos {
    GEOSContextHandle_t h;
    GEOSWKBReader *rd;
    GEOSWKBWriter *wr;
    char msg[256]; /* the last GEOS error */
};

static void geos_notice(const char *msg, void *ud)
{
    (void)msg, (void)ud;
}

static void geos_error(const char *msg, void *ud)
{
    situ__geos *g = ud;
    snprintf(g->msg, sizeof g->msg, "%s", msg);
}

int situ__geos_new(situ__geos **out_geos, situ_err *err)
{
    situ__geos *g = calloc(1, sizeof *g);
    if (!g || !(g->h = GEOS_init_r()))
        goto fail;
    GEOSContext_setNoticeMessageHandler_r(g->h, geos_notice, g);
    GEOSContext_setErrorMessageHandler_r(g->h, geos_error, g);
    g->rd = GEOSWKBReader_create_r(g->h);
    g->wr = GEOSWKBWriter_create_r(g->h);
    if (!g->rd || !g->wr)
        goto fail;
    GEOSWKBWriter_setOutputDimension_r(g->h, g->wr, 2);
    GEOSWKBWriter_setByteOrder_r(g->h, g->wr, GEOS_WKB_NDR);
    *out_geos = g;
    return 0;
fail:
    situ__geos_free(g);
    return situ_err_set(err, SITU_ENOMEM, "cannot start GEOS");
}

void situ__geos_free(situ__geos *g)
{
    if (!g)
        return;
    if (g->h) {
        if (g->rd)
            GEOSWKBReader_destroy_r(g->h, g->rd);
        if (g->wr)
            GEOSWKBWriter_destroy_r(g->h, g->wr);
        GEOS_finish_r(g->h);
    }
    free(g);
}

/* Number of polygons in geom (a Polygon, MultiPolygon or a collection of them). */
static int count_polygons(GEOSContextHandle_t h, const GEOSGeometry *geom)
{
    int t = GEOSGeomTypeId_r(h, geom), n = 0;
    if (t == GEOS_POLYGON)
        return 1;
    if (t != GEOS_MULTIPOLYGON && t != GEOS_GEOMETRYCOLLECTION)
        return 0;
    for (int i = 0; i < GEOSGetNumGeometries_r(h, geom); i++)
        n += count_polygons(h, GEOSGetGeometryN_r(h, geom, i));
    return n;
}

/* Appends clones of the polygons in geom to parts. */
static void clone_polygons(GEOSContextHandle_t h, const GEOSGeometry *geom, GEOSGeometry **parts,
                           int *k)
{
    int t = GEOSGeomTypeId_r(h, geom);
    if (t == GEOS_POLYGON)
        parts[(*k)++] = GEOSGeom_clone_r(h, geom);
    else if (t == GEOS_MULTIPOLYGON || t == GEOS_GEOMETRYCOLLECTION)
        for (int i = 0; i < GEOSGetNumGeometries_r(h, geom); i++)
            clone_polygons(h, GEOSGetGeometryN_r(h, geom, i), parts, k);
}

/* The polygons of a MakeValid result as one geometry, or NULL when it has
 * none (lines and points are dropped). Consumes fixed. */
static GEOSGeometry *polygonal_part(GEOSContextHandle_t h, GEOSGeometry *fixed)
{
    int t = GEOSGeomTypeId_r(h, fixed);
    if (t == GEOS_POLYGON || t == GEOS_MULTIPOLYGON)
        return fixed;
    GEOSGeometry *out = NULL, **parts = NULL;
    int n = count_polygons(h, fixed), k = 0;
    if (n == 0 || !(parts = malloc((size_t)n * sizeof *parts)))
        goto done;
    clone_polygons(h, fixed, parts, &k);
    int cloned = 1;
    for (int i = 0; i < k; i++)
        cloned &= parts[i] != NULL;
    if (cloned) {
        out = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, parts, (unsigned)k);
        goto done;
    }
    for (int i = 0; i < k; i++)
        if (parts[i])
            GEOSGeom_destroy_r(h, parts[i]);
done:
    free(parts);
    GEOSGeom_destroy_r(h, fixed);
    return out;
}

/* The share by which a repair changed the area: |after - before| over the
 * larger of the two (a hole outside its shell filled in, overlapping parts
 * merged, a bow-tie's lobes that cancelled each other out). */
static double area_change(GEOSContextHandle_t h, const GEOSGeometry *before,
                          const GEOSGeometry *after)
{
    double a = 0, b = 0;
    if (GEOSArea_r(h, before, &a) != 1 || GEOSArea_r(h, after, &b) != 1)
        return 1;
    double big = a > b ? a : b;
    return big > 0 ? (a > b ? a - b : b - a) / big : 0;
}

/* MakeValid of geom within the armed deadline, its polygonal part; NULL
 * when nothing polygonal is left, or when cut (*out_cut set). */
static GEOSGeometry *repair(GEOSContextHandle_t h, const GEOSGeometry *geom, double seconds,
                            int *out_cut)
{
    arm(seconds);
    GEOSGeometry *fixed = GEOSMakeValid_r(h, geom);
    *out_cut = disarm();
    if (*out_cut && fixed) {
        GEOSGeom_destroy_r(h, fixed);
        fixed = NULL;
    }
    return fixed ? polygonal_part(h, fixed) : NULL;
}

int situ__geos_polygon(situ__geos *g, const unsigned char *wkb, size_t nwkb,
                       const situ__repair_limits *lim, situ__poly *out, char reason[128])
{
    GEOSContextHandle_t h = g->h;
    GEOSGeometry *geom = GEOSWKBReader_read_r(h, g->rd, wkb, nwkb), *fixed = NULL;
    situ__poly p = {0};
    double t0 = situ_clock_s();
    int cut = 0;
    if (!geom) {
        snprintf(reason, 128, "unreadable polygon (a ring with too few points?)");
        return 1;
    }
    arm(lim->seconds);
    char valid = GEOSisValid_r(h, geom);
    cut = disarm();
    if (valid == 1 && !cut) {
        p.geom = geom;
        p.seconds = situ_clock_s() - t0;
        *out = p;
        return 0;
    }
    if (!cut)
        fixed = repair(h, geom, lim->seconds - (situ_clock_s() - t0), &cut);
    p.seconds = situ_clock_s() - t0;
    if (cut) {
        GEOSGeom_destroy_r(h, geom);
        snprintf(reason, 128, "polygon too complex to repair within %g s (--repair-seconds)",
                 lim->seconds);
        return 1;
    }
    if (fixed && GEOSisEmpty_r(h, fixed) == 0)
        p.area_change = area_change(h, geom, fixed);
    GEOSGeom_destroy_r(h, geom);
    if (!fixed || GEOSisEmpty_r(h, fixed) != 0)
        goto reject;
    if (p.area_change > lim->max_area_change && !lim->flag) {
        GEOSGeom_destroy_r(h, fixed);
        snprintf(reason, 128,
                 "repair would change the area by %.1f%% (more than %g%%; "
                 "--max-area-change, --repair-policy flag)",
                 100 * p.area_change, 100 * lim->max_area_change);
        return 1;
    }
    p.flagged = p.area_change > lim->max_area_change;
    p.wkb = GEOSWKBWriter_write_r(h, g->wr, fixed, &p.nwkb);
    if (!p.wkb)
        goto reject;
    p.geom = fixed;
    p.repaired = 1;
    *out = p;
    return 0;
reject:
    if (fixed)
        GEOSGeom_destroy_r(h, fixed);
    snprintf(reason, 128, "invalid polygon that cannot be repaired");
    return 1;
}

void situ__poly_dispose(situ__geos *g, situ__poly *p)
{
    if (p->geom)
        GEOSGeom_destroy_r(g->h, p->geom);
    if (p->wkb)
        GEOSFree_r(g->h, p->wkb);
    memset(p, 0, sizeof *p);
}

/* ---- townships ---------------------------------------------------------- */

typedef struct township {
    char *code;
    GEOSGeometry *geom;
    const GEOSPreparedGeometry *prep;
} township;

struct situ__townships {
    situ__geos *g;
    township *v; /* sorted by code: a smaller index is a smaller code */
    int n, cap;
    GEOSSTRtree *tree;
    int *cand; /* STRtree query results, indexes into v */
    int ncand, capcand;
};

void situ__townships_free(situ__townships *t)
{
    if (!t)
        return;
    GEOSContextHandle_t h = t->g->h;
    if (t->tree)
        GEOSSTRtree_destroy_r(h, t->tree);
    for (int i = 0; i < t->n; i++) {
        GEOSPreparedGeom_destroy_r(h, t->v[i].prep);
        GEOSGeom_destroy_r(h, t->v[i].geom);
        free(t->v[i].code);
    }
    free(t->v);
    free(t->cand);
    free(t);
}

/* Appends one township read from the store; a row without a readable
 * geometry is skipped (it can cover nothing). */
static int add_township(situ__townships *t, const char *code, const void *wkb, int nwkb)
{
    GEOSContextHandle_t h = t->g->h;
    GEOSGeometry *geom = wkb ? GEOSWKBReader_read_r(h, t->g->rd, wkb, (size_t)nwkb) : NULL;
    if (!geom)
        return 0;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        township *v = realloc(t->v, (size_t)cap * sizeof *v);
        if (!v)
            goto fail;
        t->v = v, t->cap = cap;
    }
    township *w = &t->v[t->n];
    w->geom = geom;
    w->code = strdup(code);
    w->prep = GEOSPrepare_r(h, geom);
    if (!w->code || !w->prep) {
        free(w->code);
        goto fail;
    }
    t->n++;
    return 0;
fail:
    GEOSGeom_destroy_r(h, geom);
    return SITU_ENOMEM;
}

static int township_by_code(const void *a, const void *b)
{
    return strcmp(((const township *)a)->code, ((const township *)b)->code);
}

int situ__townships_new(situ__geos *g, situ_db *db, situ__townships **out_t, situ_err *err)
{
    situ_db_stmt *st = NULL;
    situ__townships *t = calloc(1, sizeof *t);
    int rc = SITU_ENOMEM, step;
    if (!t)
        goto fail;
    t->g = g;
    if ((rc = situ_db_prepare(db, "SELECT id, ST_AsBinary(geom) FROM townships", &st, err)))
        goto fail;
    rc = SITU_ENOMEM;
    while ((step = situ_db_step(st)) == SITU_DB_ROW)
        if (add_township(t, situ_db_column_text(st, 0), situ_db_column_blob(st, 1),
                         situ_db_column_bytes(st, 1)))
            goto fail;
    if (step != SITU_DB_DONE) {
        rc = situ_err_set(err, SITU_EDB, "reading townships: %s", situ_db_errmsg(db));
        goto fail;
    }
    /* by code as strcmp orders it (bsearch, ties): the engine's collation may differ */
    if (t->n > 1)
        qsort(t->v, (size_t)t->n, sizeof *t->v, township_by_code);
    if (t->n > 0 && !(t->tree = GEOSSTRtree_create_r(g->h, 10)))
        goto fail;
    for (int i = 0; i < t->n; i++)
        GEOSSTRtree_insert_r(g->h, t->tree, t->v[i].geom, &t->v[i]);
    situ_db_finalize(st);
    *out_t = t;
    return 0;
fail:
    situ_db_finalize(st);
    situ__townships_free(t);
    if (rc == SITU_ENOMEM)
        situ_err_set(err, rc, "out of memory reading townships");
    return rc;
}

static void collect(void *item, void *ud)
{
    situ__townships *t = ud;
    if (t->ncand == t->capcand) {
        int cap = t->capcand ? 2 * t->capcand : 16;
        int *c = realloc(t->cand, (size_t)cap * sizeof *c);
        if (!c)
            return; /* a candidate lost to OOM reads as "not covering" */
        t->cand = c, t->capcand = cap;
    }
    t->cand[t->ncand++] = (int)((township *)item - t->v);
}

static int by_index(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Fills t->cand with the townships whose envelope meets geom's, in code order. */
static void query(situ__townships *t, const GEOSGeometry *geom)
{
    t->ncand = 0;
    if (!t->tree)
        return;
    GEOSSTRtree_query_r(t->g->h, t->tree, geom, collect, t);
    if (t->ncand > 1) /* cand is NULL while nothing was ever found */
        qsort(t->cand, (size_t)t->ncand, sizeof *t->cand, by_index);
}

int situ__townships_count(const situ__townships *t)
{
    return t->n;
}

static int by_code(const void *key, const void *elem)
{
    return strcmp(key, ((const township *)elem)->code);
}

int situ__townships_has(const situ__townships *t, const char *code)
{
    return t->n > 0 && bsearch(code, t->v, (size_t)t->n, sizeof *t->v, by_code) != NULL;
}

int situ__townships_agree(situ__townships *t, const char *code, double lon, double lat,
                          const GEOSGeometry *poly)
{
    GEOSContextHandle_t h = t->g->h;
    const township *w = t->n > 0 ? bsearch(code, t->v, (size_t)t->n, sizeof *t->v, by_code) : NULL;
    if (!w)
        return 0;
    if (poly)
        return GEOSPreparedIntersects_r(h, w->prep, poly) == 1;
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, lon, lat);
    int yes = pt && GEOSPreparedCovers_r(h, w->prep, pt) == 1;
    if (pt)
        GEOSGeom_destroy_r(h, pt);
    return yes;
}

const char *situ__townships_at(situ__townships *t, double lon, double lat)
{
    GEOSContextHandle_t h = t->g->h;
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, lon, lat);
    const char *code = NULL;
    if (!pt)
        return NULL;
    query(t, pt);
    for (int i = 0; i < t->ncand && !code; i++)
        if (GEOSPreparedCovers_r(h, t->v[t->cand[i]].prep, pt) == 1)
            code = t->v[t->cand[i]].code;
    GEOSGeom_destroy_r(h, pt);
    return code;
}

/* Area of poly inside township w. */
static double share(GEOSContextHandle_t h, const township *w, const GEOSGeometry *poly, double area)
{
    if (GEOSPreparedContains_r(h, w->prep, poly) == 1)
        return area;
    if (GEOSPreparedIntersects_r(h, w->prep, poly) != 1)
        return 0;
    GEOSGeometry *x = GEOSIntersection_r(h, w->geom, poly);
    double a = 0;
    if (x && GEOSArea_r(h, x, &a) != 1)
        a = 0;
    if (x)
        GEOSGeom_destroy_r(h, x);
    return a;
}

const char *situ__townships_for(situ__townships *t, const GEOSGeometry *poly)
{
    GEOSContextHandle_t h = t->g->h;
    double area = 0, best_area = 0;
    const char *code = NULL;
    if (GEOSArea_r(h, poly, &area) != 1)
        return NULL;
    query(t, poly);
    for (int i = 0; i < t->ncand; i++) {
        double a = share(h, &t->v[t->cand[i]], poly, area);
        if (a > best_area) /* strictly: on a tie the smaller code, seen first, stays */
            best_area = a, code = t->v[t->cand[i]].code;
    }
    return code;
}

/*
 * crs.c: the CRSs of situ/crs.h, by PROJ. Each transformation is created
 * from OGC:CRS84 to the EPSG code without normalising axes, so its output is
 * already in the order EPSG defines (lat/lon, northing/easting). Creating
 * one costs PROJ a search of its database (100-250 ms of CPU for a
 * Gauss-Krueger zone), so a freed transformation is kept in a pool per CRS
 * (at most POOL_MAX) for the next request to take.
 */
#include "situ/crs.h"

#include <proj.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OGC_CRS "http://www.opengis.net/def/crs/"
#define POOL_MAX 64

static const struct {
    const char *uri, *code;
    int projected;
} crs[SITU_NCRS] = {
    {OGC_CRS "OGC/1.3/CRS84", "OGC:CRS84", 0}, {OGC_CRS "EPSG/0/4326", "EPSG:4326", 0},
    {OGC_CRS "EPSG/0/4490", "EPSG:4490", 0},   {OGC_CRS "EPSG/0/4545", "EPSG:4545", 1},
    {OGC_CRS "EPSG/0/4546", "EPSG:4546", 1},   {OGC_CRS "EPSG/0/4547", "EPSG:4547", 1},
};

struct situ_crs_xform {
    PJ_CONTEXT *ctx;
    PJ *pj;
    int crs;
    situ_crs_xform *next; /* in the pool */
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static situ_crs_xform *pool[SITU_NCRS];
static int pooled[SITU_NCRS];

/* A pooled transformation for crs i, or NULL. */
static situ_crs_xform *pool_take(int i)
{
    pthread_mutex_lock(&pool_mu);
    situ_crs_xform *x = pool[i];
    if (x) {
        pool[i] = x->next;
        pooled[i]--;
    }
    pthread_mutex_unlock(&pool_mu);
    return x;
}

/* 1 when x went into the pool, 0 when the pool is full. */
static int pool_give(situ_crs_xform *x)
{
    pthread_mutex_lock(&pool_mu);
    int ok = pooled[x->crs] < POOL_MAX;
    if (ok) {
        x->next = pool[x->crs];
        pool[x->crs] = x;
        pooled[x->crs]++;
    }
    pthread_mutex_unlock(&pool_mu);
    return ok;
}

int situ_crs_pooled(int i)
{
    pthread_mutex_lock(&pool_mu);
    int n = pooled[i];
    pthread_mutex_unlock(&pool_mu);
    return n;
}

static void destroy(situ_crs_xform *x)
{
    if (x->pj)
        proj_destroy(x->pj);
    if (x->ctx)
        proj_context_destroy(x->ctx);
    free(x);
}

const char *situ_crs_uri(int i)
{
    return crs[i].uri;
}

const char *situ_crs_code(int i)
{
    return crs[i].code;
}

int situ_crs_projected(int i)
{
    return crs[i].projected;
}

int situ_crs_decimals(int i)
{
    return crs[i].projected ? 3 : 8;
}

/* 1 when text names crs i by URI, code or safe CURIE. */
static int names(const char *text, int i)
{
    char curie[32];
    snprintf(curie, sizeof curie, "[%s]", crs[i].code);
    return !strcmp(text, crs[i].uri) || !strcmp(text, crs[i].code) || !strcmp(text, curie) ||
           (i == SITU_CRS_CRS84 && !strcmp(text, "CRS84"));
}

int situ_crs_find(const char *text, const char *param, situ_err *err)
{
    for (int i = 0; text && i < SITU_NCRS; i++)
        if (names(text, i))
            return i;
    situ_err_set(err, SITU_EINVAL,
                 "%s: unsupported CRS '%.80s'; give one of CRS84, EPSG:4326, EPSG:4490, "
                 "EPSG:4545, EPSG:4546, EPSG:4547 (or their " OGC_CRS "... URIs)",
                 param, text ? text : "");
    return -1;
}

int situ_crs_xform_new(int i, situ_crs_xform **out, situ_err *err)
{
    if ((*out = pool_take(i)))
        return 0;
    situ_crs_xform *x = calloc(1, sizeof *x);
    if (!x)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    x->crs = i;
    x->ctx = proj_context_create();
    x->pj = x->ctx ? proj_create_crs_to_crs(x->ctx, "OGC:CRS84", crs[i].code, NULL) : NULL;
    if (!x->pj) {
        situ_err_set(err, SITU_EGEOM, "PROJ cannot transform CRS84 to %s: %s", crs[i].code,
                     x->ctx ? proj_context_errno_string(x->ctx, proj_context_errno(x->ctx))
                            : "no context");
        destroy(x);
        return SITU_EGEOM;
    }
    *out = x;
    return 0;
}

void situ_crs_xform_point(void *ctx, double *x, double *y)
{
    situ_crs_xform *t = ctx;
    PJ_COORD c = proj_trans(t->pj, PJ_FWD, proj_coord(*x, *y, 0, 0));
    *x = c.v[0];
    *y = c.v[1];
}

int situ_crs_xform_bbox(situ_crs_xform *x, const double in[4], double out[4], situ_err *err)
{
    if (!proj_trans_bounds(x->ctx, x->pj, PJ_INV, in[0], in[1], in[2], in[3], &out[0], &out[1],
                           &out[2], &out[3], 21))
        return situ_err_set(err, SITU_EINVAL, "bbox: cannot be transformed to CRS84: %s",
                            proj_context_errno_string(x->ctx, proj_context_errno(x->ctx)));
    return 0;
}

void situ_crs_xform_free(situ_crs_xform *x)
{
    if (x && !pool_give(x))
        destroy(x);
}

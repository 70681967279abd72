/*
 * nearest_query.c: the one parser of proximity requests, shared by the HTTP
 * routes and `situ nearest`. Takes key/value strings, checks every value
 * against the collection table (schema.c) and returns a situ_nearest_query,
 * or SITU_EINVAL with a message that starts with the offending parameter so a
 * route can answer 400 problem+json naming it. Does not search.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "situ/gcj02.h"
#include "nearest_priv.h"

#define DEFAULT_K 5
#define DEFAULT_LIMIT 1000

void situ_nearest_query_init(situ_nearest_query *q, situ_nearest_mode mode)
{
    memset(q, 0, sizeof *q);
    q->mode = mode;
    q->cid = mode == SITU_NEAREST_LOCATE ? SITU_C_HAZARD_SOURCES : SITU_C_RESOURCES;
    q->crs = SITU_CRS_WGS84;
    q->lon = q->lat = q->in_lon = q->in_lat = NAN;
    q->k = mode == SITU_NEAREST_WITHIN ? DEFAULT_LIMIT : DEFAULT_K;
    q->max_m = INFINITY;
    q->item = -1;
}

/* A finite decimal number, all of s; 0 or -1. */
static int parse_number(const char *s, double *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !strchr("+-.eE", *p))
            return -1;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* A decimal integer in [lo, hi], all of s; 0 or -1. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = *s == '-' || *s == '+' ? s + 1 : s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int bad(situ_err *err, const char *key, const char *why)
{
    return situ_err_set(err, SITU_EINVAL, "%s: %s", key, why);
}

/* ---- filter values ------------------------------------------------------- */

static int parse_bool(const char *v, char *out, size_t n)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        snprintf(out, n, "true");
    else if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        snprintf(out, n, "false");
    else
        return -1;
    return 0;
}

/* Parses v for field f into its canonical text (see situ__canon_value). */
static int parse_filter_value(const situ_field *f, const char *key, const char *v, char *out,
                              size_t n, situ_err *err)
{
    char why[400];
    long long lo = -(1LL << 62), hi = 1LL << 62, iv;
    double dv;
    switch (f->type) {
    case SITU_FT_INT:
        if (f->domain && strstr(f->domain, ".."))
            sscanf(f->domain, "%lld..%lld", &lo, &hi);
        if (parse_int(v, lo, hi, &iv)) {
            snprintf(why, sizeof why, "must be an integer from %lld to %lld", lo, hi);
            return bad(err, key, why);
        }
        snprintf(out, n, "%lld", iv);
        return 0;
    case SITU_FT_BOOL:
        return parse_bool(v, out, n) ? bad(err, key, "must be true or false") : 0;
    case SITU_FT_REAL:
        if (parse_number(v, &dv))
            return bad(err, key, "must be a number");
        snprintf(out, n, "%.17g", dv);
        return 0;
    default:
        if (!*v || strlen(v) >= n)
            return bad(err, key, "must be a non-empty text of at most 127 bytes");
        if (!situ_schema_domain_ok(f, v)) {
            snprintf(why, sizeof why, "must be one of %s", f->domain);
            return bad(err, key, why);
        }
        snprintf(out, n, "%s", v);
        return 0;
    }
}

static int parse_filter(situ_nearest_query *q, const char *key, const char *v, situ_err *err)
{
    const situ_collection *c = situ_schema_collection(q->cid);
    int fi = situ_schema_field_index(c, key);
    char why[160];
    if (fi < 0)
        return bad(err, key, "unknown parameter");
    if (!(c->fields[fi].flags & SITU_FF_FILTER)) {
        snprintf(why, sizeof why, "not a filter of %s", c->id);
        return bad(err, key, why);
    }
    if (q->nfilters == SITU_NEAREST_MAX_FILTERS)
        return bad(err, key, "too many filters");
    situ_nearest_filter *f = &q->filters[q->nfilters];
    f->field = fi;
    if (parse_filter_value(&c->fields[fi], key, v, f->value, sizeof f->value, err))
        return SITU_EINVAL;
    q->nfilters++;
    return 0;
}

/* ---- the parameters ------------------------------------------------------ */

static int parse_collection(situ_nearest_query *q, const char *v, situ_err *err)
{
    const situ_collection *c = situ_schema_find(v);
    if (!c) {
        char why[256];
        int n = snprintf(why, sizeof why, "unknown collection (one of");
        for (int i = 0; i < SITU_NCOLLECTIONS; i++)
            n += snprintf(why + n, sizeof why - (size_t)n, "%s%s", i ? "|" : " ",
                          situ_schema_collection((situ_coll_id)i)->id);
        snprintf(why + n, sizeof why - (size_t)n, ")");
        return bad(err, "collection", why);
    }
    if (c->gtype == SITU_GT_MULTILINESTRING) /* the network the answers travel on */
        return bad(err, "collection",
                   "roads is a line collection: nearest and within rank the features of point "
                   "and polygon collections");
    q->cid = c->cid;
    return 0;
}

static int parse_item(situ_nearest_query *q, const char *v, situ_err *err)
{
    if (q->cid != SITU_C_RESOURCES)
        return bad(err, "item", "only the resources collection holds items");
    if ((q->item = situ_schema_item_index(v)) < 0)
        return bad(err, "item", "unknown item (see the item vocabulary, e.g. sandbag)");
    return 0;
}

static int parse_crs(situ_nearest_query *q, const char *v, situ_err *err)
{
    if (!strcasecmp(v, "wgs84") || !strcasecmp(v, "crs84") || !strcasecmp(v, "epsg:4326"))
        q->crs = SITU_CRS_WGS84;
    else if (!strcasecmp(v, "gcj02") || !strcasecmp(v, "gcj-02"))
        q->crs = SITU_CRS_GCJ02;
    else
        return bad(err, "crs", "must be wgs84 or gcj02");
    return 0;
}

/* The parameters every mode takes: lon, lat, crs. 1 when key is not one. */
static int parse_point_param(situ_nearest_query *q, const char *key, const char *v, situ_err *err)
{
    if (!strcmp(key, "lon")) {
        if (parse_number(v, &q->in_lon) || fabs(q->in_lon) > 180)
            return bad(err, "lon", "must be a number between -180 and 180");
    } else if (!strcmp(key, "lat")) {
        if (parse_number(v, &q->in_lat) || fabs(q->in_lat) > 90)
            return bad(err, "lat", "must be a number between -90 and 90");
    } else if (!strcmp(key, "crs")) {
        return parse_crs(q, v, err);
    } else {
        return 1;
    }
    return 0;
}

static int parse_search_param(situ_nearest_query *q, const char *key, const char *v, situ_err *err)
{
    long long iv;
    double dv;
    int knn = q->mode == SITU_NEAREST_KNN;
    if (knn && !strcmp(key, "k")) {
        if (parse_int(v, 1, SITU_NEAREST_K_MAX, &iv))
            return bad(err, "k", "must be an integer from 1 to 100");
        q->k = (int)iv;
    } else if (!knn && !strcmp(key, "limit")) {
        if (parse_int(v, 1, SITU_NEAREST_LIMIT_MAX, &iv))
            return bad(err, "limit", "must be an integer from 1 to 10000");
        q->k = (int)iv;
    } else if (knn && !strcmp(key, "max_km")) {
        if (parse_number(v, &dv) || !(dv > 0) || dv > 40100)
            return bad(err, "max_km", "must be a number greater than 0 (and at most 40100)");
        q->max_m = dv * 1000;
    } else if (!knn && !strcmp(key, "radius_m")) {
        if (parse_number(v, &dv) || !(dv > 0) || dv > SITU_NEAREST_RADIUS_MAX)
            return bad(err, "radius_m", "must be a number greater than 0 and at most 200000");
        q->radius_m = dv;
    } else if (!strcmp(key, "item")) {
        return parse_item(q, v, err);
    } else if (!strcmp(key, "min_qty")) {
        if (parse_number(v, &dv) || dv < 0)
            return bad(err, "min_qty", "must be a number of at least 0");
        q->min_qty = dv;
    } else {
        return parse_filter(q, key, v, err);
    }
    return 0;
}

/* Rejects repeated keys, and finds the collection the filters belong to. */
static int first_pass(situ_nearest_query *q, const char *const *keys, const char *const *values,
                      int n, situ_err *err)
{
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !values[i])
            return situ_err_set(err, SITU_EINVAL, "%s: missing value", keys[i] ? keys[i] : "?");
        for (int j = 0; j < i; j++)
            if (!strcmp(keys[i], keys[j]))
                return bad(err, keys[i], "given more than once");
        if (!strcmp(keys[i], "collection")) {
            if (q->mode == SITU_NEAREST_LOCATE)
                return bad(err, "collection", "unknown parameter");
            if (parse_collection(q, values[i], err))
                return SITU_EINVAL;
        }
    }
    return 0;
}

static int finish(situ_nearest_query *q, const char *const *keys, int n, situ_err *err)
{
    if (isnan(q->in_lon))
        return bad(err, "lon", "required (a number between -180 and 180)");
    if (isnan(q->in_lat))
        return bad(err, "lat", "required (a number between -90 and 90)");
    if (q->mode == SITU_NEAREST_WITHIN && !(q->radius_m > 0))
        return bad(err, "radius_m", "required (a number greater than 0 and at most 200000)");
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i], "min_qty") && q->item < 0)
            return bad(err, "min_qty", "needs item");
    q->lon = q->in_lon, q->lat = q->in_lat;
    if (q->crs == SITU_CRS_GCJ02)
        situ_gcj02_to_wgs84(q->in_lon, q->in_lat, &q->lon, &q->lat);
    return 0;
}

int situ_nearest_query_parse(situ_nearest_mode mode, const char *const *keys,
                             const char *const *values, int n, situ_nearest_query *out_q,
                             situ_err *err)
{
    situ_nearest_query q;
    situ_nearest_query_init(&q, mode);
    if (first_pass(&q, keys, values, n, err))
        return SITU_EINVAL;
    for (int i = 0; i < n; i++) {
        if (!strcmp(keys[i], "collection"))
            continue;
        int rc = parse_point_param(&q, keys[i], values[i], err);
        if (rc == 1)
            rc = mode == SITU_NEAREST_LOCATE ? bad(err, keys[i], "unknown parameter")
                                             : parse_search_param(&q, keys[i], values[i], err);
        if (rc)
            return SITU_EINVAL;
    }
    if (finish(&q, keys, n, err))
        return SITU_EINVAL;
    *out_q = q;
    return 0;
}

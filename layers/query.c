/*
 * query.c: bbox and property selection over one snapshot collection (see
 * situ/query.h). The candidate set comes from the cheapest index that
 * applies (a township range, else the R-tree, else everything), then every
 * condition is checked exactly; polygons meet a bbox only when their rings
 * really do, not just their bounding boxes.
 */
#include "situ/query.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void situ_query_init(situ_query *q, const situ_collection *c)
{
    memset(q, 0, sizeof *q);
    q->c = c;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int situ_query_parse_box(const char *text, double out_box[4], situ_err *err)
{
    double v[6];
    int n = 0;
    char tmp[256];
    if (strlen(text) >= sizeof tmp)
        return situ_err_set(err, SITU_EINVAL, "bbox: too long");
    snprintf(tmp, sizeof tmp, "%s", text);
    for (char *save = NULL, *tok = strtok_r(tmp, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == 6 || parse_double(tok, &v[n]))
            return situ_err_set(err, SITU_EINVAL,
                                "bbox: expected 4 numbers minlon,minlat,maxlon,maxlat");
        n++;
    }
    if (n != 4 && n != 6)
        return situ_err_set(err, SITU_EINVAL,
                            "bbox: expected 4 numbers minlon,minlat,maxlon,maxlat");
    double b[4] = {v[0], v[1], v[n / 2], v[n / 2 + 1]};
    if (b[0] > b[2] || b[1] > b[3])
        return situ_err_set(err, SITU_EINVAL,
                            "bbox: min greater than max (crossing the antimeridian is not "
                            "supported)");
    memcpy(out_box, b, sizeof b);
    return 0;
}

int situ_query_parse_bbox(const char *text, double out_bbox[4], situ_err *err)
{
    double b[4];
    int rc = situ_query_parse_box(text, b, err);
    if (rc)
        return rc;
    if (b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90)
        return situ_err_set(err, SITU_EINVAL, "bbox: outside -180..180, -90..90");
    memcpy(out_bbox, b, sizeof b);
    return 0;
}

static int parse_filter_value(const situ_field *fd, const char *key, const char *value,
                              situ_value *out, situ_err *err)
{
    char *end;
    switch (fd->type) {
    case SITU_FT_INT:
        errno = 0;
        out->u.i = strtoll(value, &end, 10);
        if (end == value || *end || errno)
            return situ_err_set(err, SITU_EINVAL, "%s: must be an integer", key);
        break;
    case SITU_FT_REAL:
        if (parse_double(value, &out->u.d))
            return situ_err_set(err, SITU_EINVAL, "%s: must be a number", key);
        break;
    case SITU_FT_BOOL:
        if (strcmp(value, "true") && strcmp(value, "false"))
            return situ_err_set(err, SITU_EINVAL, "%s: must be true or false", key);
        out->u.i = value[0] == 't';
        break;
    default:
        if (!situ_schema_domain_ok(fd, value))
            return situ_err_set(err, SITU_EINVAL, "%s: must be one of %s", key, fd->domain);
        out->u.s = value;
    }
    out->type = fd->type;
    return 0;
}

int situ_query_set(situ_query *q, const char *key, const char *value, situ_err *err)
{
    if (!strcmp(key, "bbox")) {
        q->has_bbox = 1;
        return situ_query_parse_bbox(value, q->bbox, err);
    }
    int fi = SITU_QUERY_FIELD_TOWNSHIP;
    if (strcmp(key, "township_code") && strcmp(key, "township")) {
        fi = situ_schema_field_index(q->c, key);
        if (fi < 0 || !(q->c->fields[fi].flags & SITU_FF_FILTER))
            return SITU_ENOTFOUND;
    }
    if (q->nfilters == SITU_QUERY_MAX_FILTERS)
        return situ_err_set(err, SITU_EINVAL, "%s: too many filters", key);
    if (strlen(value) >= sizeof q->filters[0].text)
        return situ_err_set(err, SITU_EINVAL, "%s: value too long", key);
    situ_query_filter *f = &q->filters[q->nfilters];
    snprintf(f->text, sizeof f->text, "%s", value);
    f->field = fi;
    f->v = (situ_value){SITU_FT_TEXT, {.s = f->text}};
    if (fi >= 0 && parse_filter_value(&q->c->fields[fi], key, f->text, &f->v, err))
        return SITU_EINVAL;
    q->nfilters++;
    return 0;
}

static int value_equal(const situ_value *a, const situ_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SITU_FT_TEXT:
        return strcmp(a->u.s, b->u.s) == 0;
    case SITU_FT_REAL:
        return a->u.d == b->u.d;
    default:
        return a->u.i == b->u.i;
    }
}

/* 1 when segment p-q meets the box. Liang–Barsky on the segment. */
static int segment_meets_box(const double *p, const double *q, const double *box)
{
    double t0 = 0, t1 = 1, dx = q[0] - p[0], dy = q[1] - p[1];
    double pk[4] = {-dx, dx, -dy, dy};
    double qk[4] = {p[0] - box[0], box[2] - p[0], p[1] - box[1], box[3] - p[1]};
    for (int i = 0; i < 4; i++) {
        if (pk[i] == 0) {
            if (qk[i] < 0)
                return 0;
            continue;
        }
        double t = qk[i] / pk[i];
        if (pk[i] < 0) {
            if (t > t1)
                return 0;
            if (t > t0)
                t0 = t;
        } else {
            if (t < t0)
                return 0;
            if (t < t1)
                t1 = t;
        }
    }
    return 1;
}

int situ_feature_meets_box(const situ_coll *c, const situ_feature *f, const double box[4])
{
    if (f->bbox[2] < box[0] || f->bbox[0] > box[2] || f->bbox[3] < box[1] || f->bbox[1] > box[3])
        return 0;
    if (c->c->gtype == SITU_GT_POINT)
        return 1;
    if (f->bbox[0] >= box[0] && f->bbox[2] <= box[2] && f->bbox[1] >= box[1] &&
        f->bbox[3] <= box[3])
        return 1; /* wholly inside */
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_poly *poly = &c->polys[p];
        for (uint32_t r = poly->ring0; r < poly->ring0 + poly->nrings; r++) {
            const double *xy = c->xy + 2 * (size_t)c->rings[r].off;
            for (uint32_t i = 0; i + 1 < c->rings[r].n; i++)
                if (segment_meets_box(xy + 2 * i, xy + 2 * i + 2, box))
                    return 1;
        }
    }
    /* no edge meets the box: the box is inside the polygon or outside it */
    return situ_coll_contains(c, f, box[0], box[1]);
}

int situ_query_match(const situ_query *q, const situ_coll *c, const situ_feature *f)
{
    for (int i = 0; i < q->nfilters; i++) {
        const situ_query_filter *flt = &q->filters[i];
        if (flt->field == SITU_QUERY_FIELD_TOWNSHIP) {
            if (strcmp(f->township_code, flt->text))
                return 0;
        } else if (!value_equal(&f->values[flt->field], &flt->v)) {
            return 0;
        }
    }
    return !q->has_bbox || situ_feature_meets_box(c, f, q->bbox);
}

typedef struct collect {
    uint32_t *idx;
    size_t n, cap;
    int oom;
} collect;

static int collect_visit(void *ctx, uint32_t i)
{
    collect *k = ctx;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 256;
        uint32_t *p = realloc(k->idx, cap * sizeof *p);
        if (!p)
            return k->oom = 1;
        k->idx = p, k->cap = cap;
    }
    k->idx[k->n++] = i;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static const char *township_filter(const situ_query *q)
{
    for (int i = 0; i < q->nfilters; i++)
        if (q->filters[i].field == SITU_QUERY_FIELD_TOWNSHIP)
            return q->filters[i].text;
    return NULL;
}

int situ_query_run(const situ_query *q, const situ_coll *c, uint32_t **out_idx, size_t *out_n,
                   size_t *out_matched, situ_err *err)
{
    size_t first = 0, end = c->n;
    collect cand = {0};
    const char *tc = township_filter(q);
    if (tc) {
        situ_coll_township_range(c, tc, &first, &end);
    } else if (q->has_bbox && c->index) {
        situ_rtree_search(c->index, q->bbox[0], q->bbox[1], q->bbox[2], q->bbox[3], collect_visit,
                          &cand);
        if (cand.oom)
            goto oom;
        if (cand.n > 1)
            qsort(cand.idx, cand.n, sizeof *cand.idx, cmp_u32);
    }
    int from_tree = !tc && q->has_bbox;
    size_t ncand = from_tree ? cand.n : end - first, matched = 0, n = 0;
    size_t want = q->limit ? q->limit : ncand;
    uint32_t *page = malloc((want < ncand ? want : ncand) * sizeof *page + 1);
    if (!page)
        goto oom;
    for (size_t k = 0; k < ncand; k++) {
        uint32_t i = from_tree ? cand.idx[k] : (uint32_t)(first + k);
        if (!situ_query_match(q, c, &c->feats[i]))
            continue;
        if (matched >= q->offset && n < want)
            page[n++] = i;
        matched++;
    }
    free(cand.idx);
    *out_idx = page, *out_n = n, *out_matched = matched;
    return 0;
oom:
    free(cand.idx);
    return situ_err_set(err, SITU_ENOMEM, "out of memory");
}

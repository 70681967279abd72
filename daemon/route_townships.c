/*
 * route_townships.c: /townships (pages of the townships with their counts,
 * ?county= for one county's), /townships/{code} (the four-map summary),
 * /counties and /counties/{code} (the same, summed over a county's
 * townships) and /locate (which township holds a point, which hazard
 * sources reach it, which alerts cover it). The lists carry strong ETags
 * (etag.c) keyed on what they read (situ_summary_lists_digest): a client
 * asking again with If-None-Match gets 304 while nothing they count changed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "situ/geojson.h"
#include "situ/summary.h"

/* Ends a page answer: ,"numberMatched","numberReturned","links"} */
static void page_end(situ_buf *b, situd_req *r, const char *path, size_t offset, size_t n,
                     size_t limit, size_t matched)
{
    situ_buf_printf(b, ",\"numberMatched\":%zu,\"numberReturned\":%zu,\"links\":[", matched, n);
    situd_add_page_links(b, 1, r, path, offset, n, limit, matched, "application/json");
    situ_buf_adds(b, "]}\n");
}

/* Reads the arguments of a list (only those in allowed; f, limit, offset);
 * answers 400 itself and returns 1 when one is bad. */
static int read_list_args(situd_req *r, const char *const *allowed, size_t *limit, size_t *offset,
                          situd_result *res)
{
    return situd_reject_unknown_args(r, allowed, res) || situd_reject_bad_f(r, res) ||
           situd_read_paging(r, SITUD_PAGE_DEFAULT, limit, offset, res);
}

situd_result situd_route_townships(situd_req *r)
{
    static const char *const allowed[] = {"limit", "offset", "county", "f", NULL};
    situd_result res;
    size_t limit, offset, matched;
    if (read_list_args(r, allowed, &limit, &offset, &res))
        return res;
    const char *county = situd_arg(r, "county");
    char now[32];
    situ_store_now(now);
    situd_etag e;
    if (situd_etag_fresh(r, situ_summary_lists_digest(r->snap, now), "application/json", &e, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"townships\":");
    size_t n = situ_summary_townships(r->snap, county, now, offset, limit, &b, &matched);
    if (county && !matched) {
        situ_buf_dispose(&b);
        return situd_problem(r, 400, "county", "county: no township has county code '%.40s'",
                             county);
    }
    page_end(&b, r, "/townships", offset, n, limit, matched);
    return situd_etag_reply(r, &e, "application/json", &b);
}

situd_result situd_route_counties(situd_req *r)
{
    static const char *const allowed[] = {"limit", "offset", "f", NULL};
    situd_result res;
    size_t limit, offset, n, matched;
    if (read_list_args(r, allowed, &limit, &offset, &res))
        return res;
    char now[32];
    situ_store_now(now);
    situd_etag e;
    if (situd_etag_fresh(r, situ_summary_lists_digest(r->snap, now), "application/json", &e, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"counties\":");
    if (situ_summary_counties(r->snap, now, offset, limit, &b, &n, &matched)) {
        situ_buf_dispose(&b);
        return situd_problem(r, 503, NULL, "out of memory");
    }
    page_end(&b, r, "/counties", offset, n, limit, matched);
    return situd_etag_reply(r, &e, "application/json", &b);
}

situd_result situd_answer_summary(situd_req *r, situd_summary_fn summarise, const char *code,
                                  const char *what)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    char now[32];
    situ_store_now(now);
    situ_buf b;
    situ_buf_init(&b);
    int rc = summarise(r->snap, code, now, &b);
    if (rc) {
        situ_buf_dispose(&b);
        return rc == SITU_ENOTFOUND
                   ? situd_problem(r, 404, NULL, "no %s with %s '%.100s'", what,
                                   strcmp(what, "alert") ? "code" : "id", code)
                   : situd_problem(r, 503, NULL, "the %s '%.100s' cannot be summarised now", what,
                                   code);
    }
    return situd_reply_buf(r, 200, "application/json", &b);
}

situd_result situd_route_township(situd_req *r)
{
    return situd_answer_summary(r, situ_summary_township, r->rest, "township");
}

situd_result situd_route_county(situd_req *r)
{
    return situd_answer_summary(r, situ_summary_county, r->rest, "county");
}

/* Reads a coordinate parameter in [-limit, limit]; answers 400 itself. */
int situd_read_coord(situd_req *r, const char *name, double limit, double *out, situd_result *res)
{
    const char *s = situd_arg(r, name);
    if (!s || !*s)
        return *res = situd_problem(r, 400, name, "%s: required", name), -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return *res = situd_problem(r, 400, name, "%s: must be a finite number", name), -1;
    if (v < -limit || v > limit)
        return *res = situd_problem(r, 400, name, "%s: must be between %g and %g", name, -limit,
                                    limit),
               -1;
    *out = v;
    return 0;
}

situd_result situd_route_locate(situd_req *r)
{
    static const char *const allowed[] = {"lon", "lat", "f", NULL};
    situd_result res;
    double lon, lat;
    if (situd_reject_unknown_args(r, allowed, &res) || situd_reject_bad_f(r, &res) ||
        situd_read_coord(r, "lon", 180, &lon, &res) || situd_read_coord(r, "lat", 90, &lat, &res))
        return res;
    char now[32];
    situ_store_now(now);
    const situ_coll *t = r->snap->colls[SITU_C_TOWNSHIPS];
    long i = situ_snapshot_locate(r->snap, lon, lat);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"query\":{\"lon\":");
    situ_buf_add_num(&b, lon, 7);
    situ_buf_adds(&b, ",\"lat\":");
    situ_buf_add_num(&b, lat, 7);
    situ_buf_adds(&b, "},\"township\":");
    if (i >= 0) {
        const situ_feature *f = &t->feats[i];
        situ_buf_adds(&b, "{\"code\":");
        situ_buf_add_json_str(&b, f->id);
        for (int k = 0; k < t->c->nfields; k++) {
            situ_buf_printf(&b, ",\"%s\":", t->c->fields[k].name);
            situ_geojson_value(&b, &t->c->fields[k], &f->values[k]);
        }
        situ_buf_addc(&b, '}');
    } else {
        situ_buf_adds(&b, "null");
    }
    situ_buf_adds(&b, ",\"hazard_sources\":");
    situd_locate_hazards(r, lon, lat, &b);
    situ_buf_adds(&b, ",\"alerts\":");
    situ_summary_alerts_at(r->snap, lon, lat, now, &b);
    situ_buf_adds(&b, "}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

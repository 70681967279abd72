/*
 * route_townships.c: /townships (every township with its counts),
 * /townships/{code} (the four-map summary) and /locate (which township holds
 * a point, which hazard sources reach it, which alerts cover it).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "situ/geojson.h"
#include "situ/summary.h"

situd_result situd_route_townships(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situ_summary_townships(r->snap, &b);
    return situd_reply_buf(r, 200, "application/json", &b);
}

situd_result situd_route_township(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    char now[32];
    situ_store_now(now);
    situ_buf b;
    situ_buf_init(&b);
    if (situ_summary_township(r->snap, r->rest, now, &b)) {
        situ_buf_dispose(&b);
        return situd_problem(r, 404, NULL, "no township with code '%.40s'", r->rest);
    }
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* Reads a coordinate parameter in [-limit, limit]; answers 400 itself. */
int situd_read_coord(situd_req *r, const char *name, double limit, double *out,
                     situd_result *res)
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

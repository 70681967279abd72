/*
 * route_basic.c: the root (the map wall page, or the landing page as JSON),
 * liveness and metrics.
 */
#include <stdio.h>
#include <string.h>

#include "feedwriter.h"
#include "routes.h"

situd_result situd_route_root(situd_req *r)
{
    if (situd_wants_json(r))
        return situd_route_landing_json(r);
    const char *f = situd_arg(r, "f");
    if (f && strcmp(f, "html"))
        return situd_problem(r, 400, "f", "f: must be json or html");
    return situd_route_web_index(r);
}

situd_result situd_route_healthz(situd_req *r)
{
    static const char *const no_args[] = {NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, no_args, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_printf(&b, "{\"status\":\"ok\",\"snapshot_version\":%lld}\n",
                    r->snap ? (long long)r->snap->version : 0LL);
    return situd_reply_buf(r, 200, "application/json", &b);
}

situd_result situd_route_metrics(situd_req *r)
{
    static const char *const no_args[] = {NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, no_args, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situd_metrics_write(&b);
    situd_feedwriter_metrics(&b);
    return situd_reply_buf(r, 200, "text/plain; version=0.0.4", &b);
}

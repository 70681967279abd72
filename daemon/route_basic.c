/*
 * route_basic.c: the root (the map wall page, or the landing page as JSON),
 * liveness (503 "degraded" while feed commits fail, e.g. a full disk; 503
 * "stale" while the snapshot is more than max_lag seconds behind the store)
 * and metrics.
 */
#include <stdio.h>
#include <string.h>

#include "drills.h"
#include "feedwriter.h"
#include "follow.h"
#include "roads.h"
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

/* "seq", "following", "store_seq", "lag_seq", "lag_s", "digest" (and while
 * following, "store": "ok" or "unreachable", with "store_reason"). Only a
 * situd that follows the event log (PostgreSQL) knows the store's seq: on
 * SQLite the store's, the lag and its age are null, not a 0 that would
 * say "caught up"; while the store cannot be read store_seq is the last
 * one seen and lag_seq (unknown) null. */
static void follow_json(situd_req *r, const situd_follow_lag *lag, situ_buf *b)
{
    char digest[SITU_DIGEST_HEX];
    situ_snapshot_digest(r->snap, digest);
    situ_buf_printf(b, "\"seq\":%lld,\"following\":%s,", r->seq, lag->following ? "true" : "false");
    if (!lag->following)
        situ_buf_adds(b, "\"store_seq\":null,\"lag_seq\":null,\"lag_s\":null,");
    else if (!lag->connected)
        situ_buf_printf(b, "\"store_seq\":%lld,\"lag_seq\":null,\"lag_s\":%.3f,", lag->store,
                        lag->lag_s);
    else
        situ_buf_printf(b, "\"store_seq\":%lld,\"lag_seq\":%lld,\"lag_s\":%.3f,", lag->store,
                        lag->store > r->seq ? lag->store - r->seq : 0, lag->lag_s);
    situ_buf_printf(b, "\"max_lag_s\":%d,\"digest\":\"%s\",", r->cfg->max_lag_s, digest);
    if (!lag->following)
        return;
    situ_buf_printf(b, "\"store\":\"%s\",", lag->connected ? "ok" : "unreachable");
    if (lag->why[0]) {
        situ_buf_adds(b, "\"store_reason\":");
        situ_buf_add_json_str(b, lag->why);
        situ_buf_addc(b, ',');
    }
}

situd_result situd_route_healthz(situd_req *r)
{
    static const char *const no_args[] = {NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, no_args, &res))
        return res;
    char why[256];
    int writes = situd_feedwriter_health(why, sizeof why);
    situd_follow_lag lag;
    situd_follow_lag_get(&lag);
    int stale = lag.lag_s > r->cfg->max_lag_s;
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_printf(&b, "{\"status\":\"%s\",\"writes\":\"%s\",",
                    stale                            ? "stale"
                    : writes == SITUD_WRITES_FAILING ? "degraded"
                                                     : "ok",
                    writes == SITUD_WRITES_FAILING    ? "failing"
                    : writes == SITUD_WRITES_DISABLED ? "disabled"
                                                      : "ok");
    if (writes) {
        situ_buf_adds(&b, "\"reason\":");
        situ_buf_add_json_str(&b, why);
        situ_buf_addc(&b, ',');
    }
    follow_json(r, &lag, &b);
    if (situd_drill_child(r->cfg))
        situd_drillplay_health(&b);
    static const char *const roads[] = {"none", "loading", "ready"};
    situ_buf_printf(&b, "\"roads\":\"%s\",\"snapshot_version\":%lld}\n",
                    roads[situd_roads_state_now()], r->snap ? (long long)r->snap->version : 0LL);
    /* failing writes and a stale snapshot are not liveness: reads go on,
     * but monitoring (and a load balancer) must see it */
    return situd_reply_buf(r, stale || writes == SITUD_WRITES_FAILING ? 503 : 200,
                           "application/json", &b);
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
    situd_follow_metrics(&b);
    situd_roads_metrics(&b);
    return situd_reply_buf(r, 200, "text/plain; version=0.0.4", &b);
}

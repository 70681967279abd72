/*
 * route_roads.c: proximity by road. /nearest and /within with by=road,
 * /route (one feature's route from or to a point) and /reach (the areas
 * reached within times). The parser and the answers are libsitu's
 * (nearest.h); this file takes the daemon's current road network
 * (roads.h), the targets of the asked collection and the thread's
 * workspace, and answers.
 */
#include "roads.h"
#include "routes.h"
#include "situ/nearest.h"

situd_result situd_roads_reply(situd_req *r, const situ_nearest_query *q)
{
    situd_roads_view v;
    const char *param = q->mode == SITU_NEAREST_KNN || q->mode == SITU_NEAREST_WITHIN ? "by" : NULL;
    if (situd_roads_state_now() == SITUD_ROADS_LOADING)
        return situd_not_yet(r, param, "%s: road graph loading (situd is starting); retry shortly",
                             param ? param : "roads");
    if (situd_roads_acquire(&v))
        return situd_problem(r, 400, param,
                             "%s: no road network loaded (the roads collection is empty)",
                             param ? param : "roads");
    situ_err err = {0};
    situd_roads_tref tref = {0};
    situ_coll *c = q->mode == SITU_NEAREST_REACH ? NULL : r->snap->colls[q->cid];
    int rc = c ? situd_roads_targets(&v, c, &tref, &err) : 0;
    situ_nearest_roads nr = {v.roads, v.g, v.closures, tref.t, situd_roads_ws(&v)};
    situ_buf b;
    situ_buf_init(&b);
    if (rc == 0 && !nr.ws)
        rc = situ_err_set(&err, SITU_ENOMEM, "out of memory");
    if (rc == 0)
        rc = situ_nearest_road_answer(r->snap, &nr, q, &b, &err);
    if (tref.priv)
        situd_roads_targets_done(&tref);
    situd_roads_release(&v);
    if (rc) {
        situ_buf_dispose(&b);
        return situd_nearest_problem(r, &err);
    }
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

static situd_result answer(situd_req *r, situ_nearest_mode mode)
{
    situ_nearest_query q;
    situd_result res;
    if (situd_nearest_parse(r, mode, &q, &res))
        return res;
    return situd_roads_reply(r, &q);
}

situd_result situd_route_route(situd_req *r)
{
    return answer(r, SITU_NEAREST_ROUTE);
}

situd_result situd_route_reach(situd_req *r)
{
    return answer(r, SITU_NEAREST_REACH);
}

/*
 * route_feeds.c: the one network's feeds; placeholder until feeds land.
 */
#include "routes.h"

situd_result situd_route_feed_post(situd_req *r)
{
    return situd_problem(r, 503, NULL, "feeds are not built yet");
}

situd_result situd_route_feeds(situd_req *r)
{
    return situd_problem(r, 503, NULL, "feeds are not built yet");
}

situd_result situd_route_events(situd_req *r)
{
    return situd_problem(r, 503, NULL, "feeds are not built yet");
}

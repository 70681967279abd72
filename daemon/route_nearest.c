/*
 * route_nearest.c: proximity routes; placeholder until the proximity module
 * lands (then /nearest, /within and the hazard-source part of /locate).
 */
#include "routes.h"

situd_result situd_route_nearest(situd_req *r)
{
    return situd_problem(r, 503, NULL, "proximity is not built yet");
}

situd_result situd_route_within(situd_req *r)
{
    return situd_problem(r, 503, NULL, "proximity is not built yet");
}

void situd_locate_hazards(situd_req *r, double lon, double lat, situ_buf *b)
{
    (void)r, (void)lon, (void)lat;
    situ_buf_adds(b, "[]");
}

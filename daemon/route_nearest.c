/*
 * route_nearest.c: proximity routes; until the proximity module lands, only
 * the hazard-source part of /locate, answered empty.
 */
#include "routes.h"

void situd_locate_hazards(situd_req *r, double lon, double lat, situ_buf *b)
{
    (void)r, (void)lon, (void)lat;
    situ_buf_adds(b, "[]");
}

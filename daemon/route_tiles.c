/*
 * route_tiles.c: vector tiles; placeholder until the tile module lands.
 */
#include "routes.h"

situd_result situd_route_tiles(situd_req *r)
{
    return situd_problem(r, 503, NULL, "tiles are not built yet");
}

void situd_tiles_invalidate(int cid, const double bbox[4])
{
    (void)cid, (void)bbox;
}

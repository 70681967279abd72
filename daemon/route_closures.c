/*
 * route_closures.c: GET /closures, the road closures the departments laid
 * and that are active now, as a GeoJSON FeatureCollection for the wall
 * (closures.c keeps the list and what each closes on the road network).
 */
#include "closures.h"
#include "routes.h"

situd_result situd_route_closures(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    situ_buf b;
    situ_buf_init(&b);
    situd_closures_geojson(&b);
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

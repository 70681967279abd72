/*
 * route_impact.c: /alerts/{id}/impact, what lies in an alert's area (the
 * townships, stations in warning or alarm, teams and depots, hazard sources
 * reaching it, roads), as libsitu's impact.h writes it. 404 for an unknown
 * alert or another path under /alerts/.
 */
#include <string.h>

#include "routes.h"
#include "situ/impact.h"

situd_result situd_route_alert(situd_req *r)
{
    char id[256];
    const char *slash = strrchr(r->rest, '/');
    size_t n = slash ? (size_t)(slash - r->rest) : 0;
    if (!slash || strcmp(slash, "/impact") || !n || n >= sizeof id)
        return situd_problem(r, 404, NULL, "no such resource: %.200s", r->path);
    memcpy(id, r->rest, n);
    id[n] = '\0';
    return situd_answer_summary(r, situ_impact_alert, id, "alert");
}

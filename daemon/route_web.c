/*
 * route_web.c: the map wall's static files; placeholder until the page lands.
 */
#include "routes.h"

situd_result situd_route_web(situd_req *r)
{
    return situd_problem(r, 404, NULL, "no such file: %s", r->path);
}

situd_result situd_route_web_index(situd_req *r)
{
    static const char page[] =
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        "<title>situ 一网四图</title></head><body><h1>situ 一网四图</h1><ul>"
        "<li><a href=\"/collections\">collections</a></li>"
        "<li><a href=\"/townships\">townships</a></li>"
        "<li><a href=\"/api\">API</a></li></ul></body></html>\n";
    return situd_reply_static(r, 200, "text/html; charset=utf-8", page, sizeof page - 1);
}

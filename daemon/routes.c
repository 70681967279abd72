/*
 * routes.c: the route table. One row per method and path (a path ending in
 * '/' is a prefix); the server walks it in order, answers 405 with Allow when
 * only the method differs and 404 when no path matches.
 */
#include "routes.h"

const situd_route situd_routes[] = {
    {"GET", "/", "root", situd_route_root},
    {"GET", "/conformance", "conformance", situd_route_conformance},
    {"GET", "/api", "api", situd_route_api},
    {"GET", "/collections", "collections", situd_route_collections},
    {"GET", "/collections/", "collection", situd_route_collection},
    {"GET", "/townships", "townships", situd_route_townships},
    {"GET", "/townships/", "township", situd_route_township},
    {"GET", "/locate", "locate", situd_route_locate},
    {"GET", "/export/", "export", situd_route_export},
    {"GET", "/nearest", "nearest", situd_route_nearest},
    {"GET", "/within", "within", situd_route_within},
    {"GET", "/tiles", "tilesets", situd_route_tilesets_all},
    {"GET", "/tiles/", "tiles", situd_route_tiles},
    {"GET", "/tileMatrixSets", "tilematrixsets", situd_route_tilematrixsets},
    {"GET", "/tileMatrixSets/", "tilematrixsets", situd_route_tilematrixsets},
    {"POST", "/feeds/", "feed_post", situd_route_feed_post},
    {"GET", "/feeds", "feeds", situd_route_feeds},
    {"GET", "/events", "events", situd_route_events},
    {"GET", "/styles", "styles", situd_route_styles},
    {"GET", "/styles/", "styles", situd_route_styles},
    {"GET", "/web/", "web", situd_route_web},
    {"GET", "/healthz", "healthz", situd_route_healthz},
    {"GET", "/metrics", "metrics", situd_route_metrics},
};
const int situd_nroutes = (int)(sizeof situd_routes / sizeof situd_routes[0]);

void situd_url_encode(situ_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == ',') {
            situ_buf_addc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            situ_buf_add(b, e, 3);
        }
    }
}

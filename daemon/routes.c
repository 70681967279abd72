/*
 * routes.c: the route table. One row per method and path (a path ending in
 * '/' is a prefix); the server walks it in order, answers 405 with Allow when
 * only the method differs and 404 when no path matches. Also the helpers
 * routes share: links, paging (limit/offset with self/next/prev links).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drills.h"
#include "routes.h"

const situd_route situd_routes[] = {
    {"GET", "/", "root", situd_route_root},
    {"GET", "/conformance", "conformance", situd_route_conformance},
    {"GET", "/api", "api", situd_route_api},
    {"GET", "/collections", "collections", situd_route_collections},
    {"GET", "/collections/", "collection", situd_route_collection},
    {"GET", "/townships", "townships", situd_route_townships},
    {"GET", "/townships/", "township", situd_route_township},
    {"GET", "/counties", "counties", situd_route_counties},
    {"GET", "/counties/", "county", situd_route_county},
    {"GET", "/locate", "locate", situd_route_locate},
    {"GET", "/alerts/", "alert_impact", situd_route_alert},
    {"GET", "/places", "places", situd_route_places},
    {"GET", "/export/", "export", situd_route_export},
    {"GET", "/nearest", "nearest", situd_route_nearest},
    {"GET", "/within", "within", situd_route_within},
    {"GET", "/route", "route", situd_route_route},
    {"GET", "/reach", "reach", situd_route_reach},
    {"GET", "/tiles", "tilesets", situd_route_tilesets_all},
    {"GET", "/tiles/", "tiles", situd_route_tiles},
    {"GET", "/tileMatrixSets", "tilematrixsets", situd_route_tilematrixsets},
    {"GET", "/tileMatrixSets/", "tilematrixsets", situd_route_tilematrixsets},
    {"POST", "/feeds/", "feed_post", situd_route_feed_post},
    {"GET", "/feeds", "feeds", situd_route_feeds},
    {"GET", "/events", "events", situd_route_events},
    {"GET", "/closures", "closures", situd_route_closures},
    {"GET", "/styles", "styles", situd_route_styles},
    {"GET", "/styles/", "styles", situd_route_styles},
    {"GET", "/web/", "web", situd_route_web},
    {"GET", "/m/", "phone", situd_route_phone},
    {"POST", "/drills", "drills_start", situd_route_drills_start},
    {"GET", "/drills", "drills", situd_route_drills},
    {"GET", "/drills/", "drill", situd_route_drill},
    {"POST", "/drills/", "drill_post", situd_route_drill},
    {"DELETE", "/drills/", "drill_delete", situd_route_drill},
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

void situd_add_link(situ_buf *b, int first, const char *href, const char *rel, const char *type,
                    const char *title)
{
    situ_buf_adds(b, first ? "{\"href\":" : ",{\"href\":");
    situ_buf_add_json_str(b, href);
    situ_buf_printf(b, ",\"rel\":\"%s\",\"type\":\"%s\"", rel, type);
    if (title) {
        situ_buf_adds(b, ",\"title\":");
        situ_buf_add_json_str(b, title);
    }
    situ_buf_addc(b, '}');
}

/* Parses a non-negative integer parameter; -1 when it is not one. */
static long long parse_count(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < 0 || s[0] == '-' || s[0] == '+')
        return -1;
    return v;
}

int situd_read_paging(situd_req *r, size_t def, size_t *out_limit, size_t *out_offset,
                      situd_result *res)
{
    const char *lim = situd_arg(r, "limit"), *off = situd_arg(r, "offset");
    long long l = lim ? parse_count(lim) : (long long)def, o = off ? parse_count(off) : 0;
    if (l < 1)
        return *res = situd_problem(r, 400, "limit", "limit: must be an integer from 1 to %d",
                                    SITUD_LIMIT_MAX),
               1;
    if (o < 0)
        return *res = situd_problem(r, 400, "offset", "offset: must be a non-negative integer"), 1;
    *out_limit = l > SITUD_LIMIT_MAX ? SITUD_LIMIT_MAX : (size_t)l;
    *out_offset = (size_t)o;
    return 0;
}

typedef struct link_args {
    situ_buf *b;
} link_args;

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    link_args *a = cls;
    (void)kind;
    if (!strcmp(key, "offset"))
        return MHD_YES;
    if (a->b->p[a->b->n - 1] != '?')
        situ_buf_addc(a->b, '&');
    situd_url_encode(a->b, key);
    situ_buf_addc(a->b, '=');
    situd_url_encode(a->b, value ? value : "");
    return MHD_YES;
}

/* Appends a link to path with the request's arguments and offset `off`. */
static void add_page_link(situ_buf *b, int first, situd_req *r, const char *path, size_t off,
                          size_t limit, const char *rel, const char *type)
{
    char base[512];
    situd_base_url(r, base, sizeof base);
    situ_buf href;
    situ_buf_init(&href);
    situ_buf_printf(&href, "%s%s?", base, path);
    link_args a = {&href};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, &a);
    if (!situd_arg(r, "limit"))
        situ_buf_printf(&href, "%slimit=%zu", href.p[href.n - 1] == '?' ? "" : "&", limit);
    situ_buf_printf(&href, "&offset=%zu", off);
    situd_add_link(b, first, href.oom ? "" : href.p, rel, type, NULL);
    situ_buf_dispose(&href);
}

void situd_add_page_links(situ_buf *b, int first, situd_req *r, const char *path, size_t offset,
                          size_t n, size_t limit, size_t matched, const char *type)
{
    add_page_link(b, first, r, path, offset, limit, "self", type);
    if (offset + n < matched)
        add_page_link(b, 0, r, path, offset + limit, limit, "next", type);
    if (offset > 0)
        add_page_link(b, 0, r, path, offset > limit ? offset - limit : 0, limit, "prev", type);
}

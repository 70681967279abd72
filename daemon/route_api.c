/*
 * route_api.c: the OpenAPI 3.0 document of the HTTP contract, generated from
 * the collection table so that every filterable field is listed as a query
 * parameter of its collection's items path.
 */
#include <stdio.h>

#include "routes.h"

static const char *schema_type(situ_ftype t)
{
    return t == SITU_FT_INT    ? "integer"
           : t == SITU_FT_REAL ? "number"
           : t == SITU_FT_BOOL ? "boolean"
                               : "string";
}

static void add_param(situ_buf *b, const char *name, const char *in, const char *type,
                      const char *desc, int required)
{
    situ_buf_printf(b,
                    "{\"name\":\"%s\",\"in\":\"%s\",\"required\":%s,\"schema\":{\"type\":\"%s\"},"
                    "\"description\":",
                    name, in, required ? "true" : "false", type);
    situ_buf_add_json_str(b, desc);
    situ_buf_addc(b, '}');
}

static void add_get(situ_buf *b, const char *summary, const char *ctype)
{
    situ_buf_adds(b, "\"get\":{\"summary\":");
    situ_buf_add_json_str(b, summary);
    situ_buf_printf(b,
                    ",\"responses\":{\"200\":{\"description\":\"OK\",\"content\":{\"%s\":{}}},"
                    "\"400\":{\"description\":\"bad request\",\"content\":{"
                    "\"application/problem+json\":{}}}}",
                    ctype);
}

static void add_items_path(situ_buf *b, const situ_collection *c)
{
    situ_buf_printf(b, ",\"/collections/%s/items\":{", c->id);
    add_get(b, c->title_en, "application/geo+json");
    situ_buf_adds(b, ",\"parameters\":[");
    add_param(b, "bbox", "query", "string", "minlon,minlat,maxlon,maxlat (CRS84)", 0);
    situ_buf_addc(b, ',');
    add_param(b, "limit", "query", "integer", "1..10000, default 100", 0);
    situ_buf_addc(b, ',');
    add_param(b, "offset", "query", "integer", "paging offset (see the next link)", 0);
    situ_buf_addc(b, ',');
    add_param(b, "township_code", "query", "string", "9-digit township code", 0);
    for (int i = 0; i < c->nfields; i++)
        if (c->fields[i].flags & SITU_FF_FILTER) {
            situ_buf_addc(b, ',');
            add_param(b, c->fields[i].name, "query", schema_type(c->fields[i].type),
                      c->fields[i].domain ? c->fields[i].domain : c->fields[i].title_zh, 0);
        }
    situ_buf_printf(b, "]}},\"/collections/%s/items/{featureId}\":{", c->id);
    add_get(b, "one feature", "application/geo+json");
    situ_buf_adds(b, ",\"parameters\":[");
    add_param(b, "featureId", "path", "string", "the feature's id", 1);
    situ_buf_adds(b, "]}}");
}

typedef struct api_param {
    const char *name, *in, *type, *desc;
    int required;
} api_param;

static const api_param page_params[] = {
    {"limit", "query", "integer", "1..10000, default 1000", 0},
    {"offset", "query", "integer", "paging offset (see the next link)", 0},
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param townships_params[] = {
    {"limit", "query", "integer", "1..10000, default 1000", 0},
    {"offset", "query", "integer", "paging offset (see the next link)", 0},
    {"county", "query", "string", "only the townships of this county code (6 digits)", 0},
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param township_params[] = {
    {"code", "path", "string", "9-digit township code", 1},
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param alert_params[] = {
    {"id", "path", "string", "the alert's feature id", 1},
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param county_params[] = {
    {"code", "path", "string", "6-digit county code", 1},
    {NULL, NULL, NULL, NULL, 0},
};

#define BY_ROAD_PARAMS                                                                             \
    {"by", "query", "string", "distance (default) or road: by travel time over the open roads",    \
     0},                                                                                           \
        {"direction", "query", "string",                                                           \
         "by road: to_point (default, the feature drives to the point) or from_point", 0},         \
        {"crs", "query", "string", "wgs84 (default) or gcj02, in and out", 0},                     \
        {"collection", "query", "string", "default resources", 0},                                 \
        {"item", "query", "string", "resources: holding this item", 0},                            \
    {                                                                                              \
        "min_qty", "query", "number", "with item: at least this much", 0                           \
    }

static const api_param nearest_params[] = {
    {"lon", "query", "number", "longitude", 1},
    {"lat", "query", "number", "latitude", 1},
    {"k", "query", "integer", "1..100, default 5", 0},
    {"max_km", "query", "number", "straight line only: ignore features farther", 0},
    {"route", "query", "integer", "by road: 1 adds each feature's route (a LineString)", 0},
    {"minutes", "query", "number", "by road: only features within this time (1..240)", 0},
    BY_ROAD_PARAMS,
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param within_params[] = {
    {"lon", "query", "number", "longitude", 1},
    {"lat", "query", "number", "latitude", 1},
    {"radius_m", "query", "number", "straight line: the radius (required)", 0},
    {"minutes", "query", "number", "by road: the time (required, 1..240)", 0},
    {"limit", "query", "integer", "1..10000, default 1000", 0},
    BY_ROAD_PARAMS,
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param route_params[] = {
    {"from_lon", "query", "number", "longitude of the point", 1},
    {"from_lat", "query", "number", "latitude of the point", 1},
    {"to", "query", "string", "the feature's id", 1},
    {"collection", "query", "string", "default resources", 0},
    {"direction", "query", "string", "from_point (default) or to_point", 0},
    {"crs", "query", "string", "wgs84 (default) or gcj02, in and out", 0},
    {NULL, NULL, NULL, NULL, 0},
};
static const api_param reach_params[] = {
    {"lon", "query", "number", "longitude", 1},
    {"lat", "query", "number", "latitude", 1},
    {"minutes", "query", "string", "times, comma-separated (1 to 16, each 1..240)", 1},
    {"direction", "query", "string", "to_point (default) or from_point", 0},
    {"lines", "query", "integer", "1 adds the reached road pieces with their times", 0},
    {"crs", "query", "string", "wgs84 (default) or gcj02, in and out", 0},
    {NULL, NULL, NULL, NULL, 0},
};

situd_result situd_route_api(situd_req *r)
{
    static const struct {
        const char *path, *summary, *ctype;
        const api_param *params;
    } fixed[] = {
        {"/", "landing page", "application/json", NULL},
        {"/conformance", "conformance classes", "application/json", NULL},
        {"/collections", "the collections", "application/json", NULL},
        {"/townships",
         "a page of the townships (of a county) with their four-map counts: numberMatched, "
         "numberReturned, next/prev links",
         "application/json", townships_params},
        {"/townships/{code}", "one township's four-map summary", "application/json",
         township_params},
        {"/counties",
         "a page of the counties (the townships grouped by county_code) with their townships' "
         "summed counts",
         "application/json", page_params},
        {"/counties/{code}",
         "one county's four-map summary: its townships' summaries summed, the alerts over any of "
         "them",
         "application/json", county_params},
        {"/locate", "the township containing lon/lat", "application/json", NULL},
        {"/alerts/{id}/impact",
         "what an alert's area holds: townships (population, overdue hidden dangers), stations in "
         "warning or alarm, teams and depots, hazard sources reaching it, roads",
         "application/json", alert_params},
        {"/nearest", "the k nearest features, by straight line or by road", "application/geo+json",
         nearest_params},
        {"/within", "the features within a radius, or by road within a time",
         "application/geo+json", within_params},
        {"/route", "the route by road between a point and a feature, with its steps",
         "application/geo+json", route_params},
        {"/reach", "the areas reached by road within times (who can get here in 30 minutes)",
         "application/geo+json", reach_params},
        {"/closures",
         "the road closures the departments' feeds laid and that are in force: each area as sent, "
         "its reason, until and the road segments it closes",
         "application/geo+json", NULL},
        {"/export/{collection}.geojson", "a whole collection, streamed", "application/geo+json",
         NULL},
        {"/export/drill.geojson", "the drill bundle of townships", "application/geo+json", NULL},
        {"/healthz", "liveness", "application/json", NULL},
        {"/metrics", "Prometheus metrics", "text/plain", NULL},
    };
    char base[512];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b,
                  "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"situ\",\"version\":\"" SITU_VERSION
                  "\",\"description\":\"one network, four maps\"},\"servers\":[{\"url\":");
    situ_buf_add_json_str(&b, base);
    situ_buf_adds(&b, "}],\"paths\":{");
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        situ_buf_printf(&b, "%s\"%s\":{", i ? "," : "", fixed[i].path);
        add_get(&b, fixed[i].summary, fixed[i].ctype);
        if (fixed[i].params) {
            situ_buf_adds(&b, ",\"parameters\":[");
            for (const api_param *p = fixed[i].params; p->name; p++) {
                if (p != fixed[i].params)
                    situ_buf_addc(&b, ',');
                add_param(&b, p->name, p->in, p->type, p->desc, p->required);
            }
            situ_buf_addc(&b, ']');
        }
        situ_buf_adds(&b, "}}");
    }
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        add_items_path(&b, situ_schema_collection((situ_coll_id)i));
    situ_buf_adds(&b, "}}\n");
    return situd_reply_buf(r, 200, "application/vnd.oai.openapi+json;version=3.0", &b);
}

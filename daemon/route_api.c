/*
 * route_api.c: /api, the OpenAPI 3.0 document of the HTTP contract. Most of
 * it is daemon/openapi.json (compiled in as situd_openapi_json: every route,
 * the feed event schemas with examples, the problem+json answers); this file
 * adds what the schema's tables know: the server's own URL, the collection
 * ids, the departments' codes, the CRSs of crs and bbox-crs, and each
 * collection's items paths with a query parameter per filterable field and a
 * feature id of the data served as the example.
 */
#include <jansson.h>
#include <stdlib.h>

#include "drills.h"
#include "routes.h"
#include "situ/crs.h"

extern const unsigned char situd_openapi_json[];
extern const size_t situd_openapi_json_len;

static const char *schema_type(situ_ftype t)
{
    return t == SITU_FT_INT    ? "integer"
           : t == SITU_FT_REAL ? "number"
           : t == SITU_FT_BOOL ? "boolean"
                               : "string";
}

static json_t *query_param(const char *name, const char *type, const char *desc)
{
    return json_pack("{s:s,s:s,s:b,s:{s:s},s:s}", "name", name, "in", "query", "required", 0,
                     "schema", "type", type, "description", desc);
}

static json_t *ref(const char *kind, const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", p);
}

/* {"200": ok with its Content-Crs, "400", "404", "503": the shared problem
 * answers} */
static json_t *responses(const char *schema, int not_found)
{
    json_t *o = json_pack("{s:{s:s,s:{s:o},s:{s:{s:o}}},s:o,s:o}", "200", "description", "OK",
                          "headers", "Content-Crs", ref("headers", "ContentCrs"), "content",
                          "application/geo+json", "schema", ref("schemas", schema), "400",
                          ref("responses", "BadRequest"), "503", ref("responses", "Unavailable"));
    if (not_found)
        json_object_set_new(o, "404", ref("responses", "NotFound"));
    return o;
}

/* The items and items/{featureId} paths of collection c into paths. */
static void add_items_paths(json_t *paths, const situ_collection *c, const situ_coll *served)
{
    json_t *params = json_pack(
        "[o,o,o,o,o,o,o]",
        query_param("bbox", "string",
                    "minlon,minlat,maxlon,maxlat in CRS84, or the box in bbox-crs's axis order"),
        ref("parameters", "bbox-crs"), ref("parameters", "crs"),
        query_param("limit", "integer", "1..10000, default 100"),
        query_param("offset", "integer", "paging offset (see the next link)"),
        query_param("township_code", "string", "9-digit township code"), ref("parameters", "f"));
    for (int i = 0; i < c->nfields; i++)
        if (c->fields[i].flags & SITU_FF_FILTER)
            json_array_append_new(
                params,
                query_param(c->fields[i].name, schema_type(c->fields[i].type),
                            c->fields[i].domain ? c->fields[i].domain : c->fields[i].title_zh));
    char path[128];
    snprintf(path, sizeof path, "/collections/%s/items", c->id);
    json_object_set_new(paths, path,
                        json_pack("{s:{s:s,s:[s],s:o,s:o}}", "get", "summary", c->title_en, "tags",
                                  "OGC API - Features", "parameters", params, "responses",
                                  responses("FeatureCollection", 0)));
    json_t *fid =
        json_pack("{s:s,s:s,s:b,s:{s:s},s:s}", "name", "featureId", "in", "path", "required", 1,
                  "schema", "type", "string", "description", "the feature's id");
    if (served && served->n)
        json_object_set_new(fid, "example", json_string(served->feats[0].id));
    snprintf(path, sizeof path, "/collections/%s/items/{featureId}", c->id);
    json_object_set_new(paths, path,
                        json_pack("{s:{s:s,s:[s],s:[o,o,o],s:o}}", "get", "summary", "one feature",
                                  "tags", "OGC API - Features", "parameters", fid,
                                  ref("parameters", "crs"), ref("parameters", "f"), "responses",
                                  responses("Feature", 1)));
}

/* The CRS URIs that the parameters crs, bbox-crs and exportCrs take as
 * their schemas' enum. */
static void set_crs_enums(json_t *params)
{
    static const char *const names[] = {"crs", "bbox-crs", "exportCrs"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *uris = json_array();
        for (int c = 0; c < SITU_NCRS; c++)
            json_array_append_new(uris, json_string(situ_crs_uri(c)));
        json_object_set_new(json_object_get(json_object_get(params, names[i]), "schema"), "enum",
                            uris);
    }
}

/* The document for the request's origin; NULL when out of memory. */
static json_t *api_document(situd_req *r)
{
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)situd_openapi_json, situd_openapi_json_len, 0, &jerr);
    json_t *paths = json_object_get(doc, "paths");
    json_t *params = json_object_get(json_object_get(doc, "components"), "parameters");
    json_t *coll = json_object_get(params, "collectionId"), *dept = json_object_get(params, "dept");
    if (!json_is_object(paths) || !json_is_object(coll) || !json_is_object(dept)) {
        json_decref(doc);
        return NULL;
    }
    char base[512];
    situd_base_url(r, base, sizeof base);
    json_object_set_new(json_object_get(doc, "info"), "version", json_string(SITU_VERSION));
    json_object_set_new(doc, "servers", json_pack("[{s:s}]", "url", base));
    json_t *ids = json_array();
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        const situ_collection *c = situ_schema_collection((situ_coll_id)i);
        json_array_append_new(ids, json_string(c->id));
        add_items_paths(paths, c, r->snap ? r->snap->colls[i] : NULL);
    }
    json_object_set_new(json_object_get(coll, "schema"), "enum", ids);
    json_t *depts = json_array();
    for (int i = 0; i < situ_schema_ndepts(); i++)
        json_array_append_new(depts, json_string(situ_schema_dept(i)->code));
    json_object_set_new(json_object_get(dept, "schema"), "enum", depts);
    set_crs_enums(params);
    char drill[48]; /* a running drill's id, the example of {id} under /drills/ */
    if (situd_drills_any(drill))
        json_object_set_new(json_object_get(params, "drillId"), "example", json_string(drill));
    return doc;
}

situd_result situd_route_api(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    json_t *doc = api_document(r);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return situd_problem(r, 503, NULL, "out of memory building the OpenAPI document");
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, text);
    situ_buf_addc(&b, '\n');
    free(text);
    return situd_reply_buf(r, 200, "application/vnd.oai.openapi+json;version=3.0", &b);
}

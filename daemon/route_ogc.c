/*
 * route_ogc.c: OGC API - Features Part 1 Core over the snapshot: the landing
 * page, conformance, the OpenAPI document, collections, items (bbox, limit,
 * offset paging, property filters) and single items, all in GeoJSON; and
 * Part 2 (CRS by reference): `crs` for the answer's coordinates (with a
 * Content-Crs header) and `bbox-crs` for the bbox's.
 * Parsing and selection live in libsitu (query.h, geojson.h); this file
 * reads the request and writes links.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes.h"
#include "situ/crs.h"
#include "situ/geojson.h"
#include "situ/query.h"

#define CRS84 "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#define REL_TILESETS_VECTOR "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
#define LIMIT_DEFAULT 100

situd_result situd_route_landing_json(situd_req *r)
{
    char base[512], href[640];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"title\":\"situ: one network, four maps (一网四图)\","
                      "\"description\":\"Emergency-management GIS: natural-disaster risk zones, "
                      "major accident hidden dangers, major hazard sources, rescue teams and "
                      "depots, townships, monitoring stations and warnings.\",\"links\":[");
    snprintf(href, sizeof href, "%s/?f=json", base);
    situd_add_link(&b, 1, href, "self", "application/json", "this document");
    snprintf(href, sizeof href, "%s/", base);
    situd_add_link(&b, 0, href, "alternate", "text/html", "the map wall");
    snprintf(href, sizeof href, "%s/api", base);
    situd_add_link(&b, 0, href, "service-desc", "application/vnd.oai.openapi+json;version=3.0",
                   "the API definition");
    snprintf(href, sizeof href, "%s/conformance", base);
    situd_add_link(&b, 0, href, "conformance", "application/json", "conformance classes");
    snprintf(href, sizeof href, "%s/collections", base);
    situd_add_link(&b, 0, href, "data", "application/json", "the collections");
    snprintf(href, sizeof href, "%s/tiles", base);
    situd_add_link(&b, 0, href, REL_TILESETS_VECTOR, "application/json",
                   "vector tiles of every collection");
    snprintf(href, sizeof href, "%s/tileMatrixSets", base);
    situd_add_link(&b, 0, href, "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
                   "application/json", "the tiling schemes");
    situ_buf_adds(&b, "]}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

situd_result situd_route_conformance(situd_req *r)
{
    static const char body[] =
        "{\"conformsTo\":["
        "\"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core\","
        "\"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30\","
        "\"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson\","
        "\"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/dataset-tilesets\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets\","
        "\"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt\"]}\n";
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    return situd_reply_static(r, 200, "application/json", body, sizeof body - 1);
}

static void write_collection(situ_buf *b, const char *base, const situ_coll *c)
{
    char href[640];
    situ_buf_adds(b, "{\"id\":");
    situ_buf_add_json_str(b, c->c->id);
    situ_buf_adds(b, ",\"title\":");
    situ_buf_add_json_str(b, c->c->title_zh);
    situ_buf_adds(b, ",\"description\":");
    char desc[512];
    snprintf(desc, sizeof desc, "%s: %s", c->c->title_en, c->c->description);
    situ_buf_add_json_str(b, desc);
    situ_buf_adds(b, ",\"itemType\":\"feature\",\"crs\":[");
    for (int i = 0; i < SITU_NCRS; i++) {
        if (i)
            situ_buf_addc(b, ',');
        situ_buf_add_json_str(b, situ_crs_uri(i));
    }
    situ_buf_adds(b, "],\"storageCrs\":\"" CRS84 "\",\"extent\":{\"spatial\":{\"bbox\":[[");
    for (int i = 0; i < 4; i++) {
        if (i)
            situ_buf_addc(b, ',');
        situ_buf_add_num(b, c->extent[i], 7);
    }
    situ_buf_adds(b, "]],\"crs\":\"" CRS84 "\"}},\"links\":[");
    snprintf(href, sizeof href, "%s/collections/%s", base, c->c->id);
    situd_add_link(b, 1, href, "self", "application/json", c->c->title_en);
    snprintf(href, sizeof href, "%s/collections/%s/items", base, c->c->id);
    situd_add_link(b, 0, href, "items", "application/geo+json", "the features");
    snprintf(href, sizeof href, "%s/tiles/%s.json", base, c->c->id);
    situd_add_link(b, 0, href, "describedby", "application/json", "vector tiles (TileJSON)");
    snprintf(href, sizeof href, "%s/collections/%s/tiles", base, c->c->id);
    situd_add_link(b, 0, href, REL_TILESETS_VECTOR, "application/json",
                   "vector tiles (OGC API - Tiles)");
    snprintf(href, sizeof href, "%s/export/%s.geojson", base, c->c->id);
    situd_add_link(b, 0, href, "enclosure", "application/geo+json", "the whole collection");
    situ_buf_addc(b, ']');
    situ_buf_printf(b, ",\"numberOfFeatures\":%zu}", c->n);
}

situd_result situd_route_collections(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    char base[512], href[640];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"links\":[");
    snprintf(href, sizeof href, "%s/collections", base);
    situd_add_link(&b, 1, href, "self", "application/json", "the collections");
    situ_buf_adds(&b, "],\"collections\":[");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        if (i)
            situ_buf_addc(&b, ',');
        write_collection(&b, base, r->snap->colls[i]);
    }
    situ_buf_adds(&b, "]}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* The answer's CRS: its transformation (NULL for CRS84) and the decimals. */
typedef struct out_crs {
    int crs;
    situ_crs_xform *x;
} out_crs;

static situ_geojson_opts geojson_opts(const out_crs *oc)
{
    return (situ_geojson_opts){.decimals = situ_crs_decimals(oc->crs),
                               .xform = oc->x ? situ_crs_xform_point : NULL,
                               .xform_ctx = oc->x};
}

/* Reads `crs` into oc; answers 400 naming it when unsupported. */
static int read_crs(situd_req *r, out_crs *oc, situd_result *out)
{
    situ_err err = {0};
    const char *v = situd_arg(r, "crs");
    oc->crs = v ? situ_crs_find(v, "crs", &err) : SITU_CRS_CRS84;
    oc->x = NULL;
    if (oc->crs < 0)
        return *out = situd_problem(r, 400, "crs", "%s", err.msg), 1;
    if (oc->crs != SITU_CRS_CRS84 && situ_crs_xform_new(oc->crs, &oc->x, &err))
        return *out = situd_problem(r, 503, NULL, "%s", err.msg), 1;
    r->content_crs = situ_crs_uri(oc->crs);
    return 0;
}

static void write_items(situ_buf *b, situd_req *r, const situ_coll *c, const uint32_t *idx,
                        size_t n, size_t matched, size_t offset, size_t limit, const out_crs *oc)
{
    char base[512], href[640], ts[32];
    situd_base_url(r, base, sizeof base);
    situ_store_now(ts);
    situ_geojson_opts o = geojson_opts(oc);
    situ_buf_adds(b, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            situ_buf_addc(b, ',');
        situ_geojson_feature(b, c, &c->feats[idx[i]], &o);
    }
    situ_buf_printf(b,
                    "],\"numberMatched\":%zu,\"numberReturned\":%zu,\"timeStamp\":\"%s\","
                    "\"links\":[",
                    matched, n, ts);
    snprintf(href, sizeof href, "%s/collections/%s", base, c->c->id);
    situd_add_link(b, 1, href, "collection", "application/json", c->c->title_en);
    snprintf(href, sizeof href, "/collections/%s/items", c->c->id);
    situd_add_page_links(b, 0, r, href, offset, n, limit, matched, "application/geo+json");
    situ_buf_adds(b, "]}\n");
}

typedef struct items_params {
    situ_query q;
    size_t limit, offset;
    out_crs oc;
} items_params;

typedef struct param_walk {
    items_params *p;
    situ_err err;
    char bad[64];
} param_walk;

static enum MHD_Result set_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    param_walk *a = cls;
    (void)kind;
    if (!strcmp(key, "f") || !strcmp(key, "limit") || !strcmp(key, "offset") ||
        !strcmp(key, "crs") || !strcmp(key, "bbox-crs") || !strcmp(key, "bbox"))
        return MHD_YES;
    int rc = situ_query_set(&a->p->q, key, value ? value : "", &a->err);
    if (rc == 0)
        return MHD_YES;
    snprintf(a->bad, sizeof a->bad, "%s", key);
    if (rc == SITU_ENOTFOUND)
        situ_err_set(&a->err, SITU_EINVAL, "unknown query parameter '%s'", key);
    return MHD_NO;
}

/* Reads bbox in bbox-crs (default CRS84) into q as the CRS84 box that holds
 * it; answers 400 naming the parameter at fault. */
static int read_bbox(situd_req *r, situ_query *q, situd_result *out)
{
    situ_err err = {0};
    const char *bbox = situd_arg(r, "bbox"), *bc = situd_arg(r, "bbox-crs");
    int crs = bc ? situ_crs_find(bc, "bbox-crs", &err) : SITU_CRS_CRS84;
    if (crs < 0)
        return *out = situd_problem(r, 400, "bbox-crs", "%s", err.msg), 1;
    if (!bbox)
        return 0;
    if (crs == SITU_CRS_CRS84) {
        if (situ_query_set(q, "bbox", bbox, &err))
            return *out = situd_problem(r, 400, "bbox", "%s", err.msg), 1;
        return 0;
    }
    double box[4];
    situ_crs_xform *x = NULL;
    int rc = situ_query_parse_box(bbox, box, &err);
    if (!rc && !(rc = situ_crs_xform_new(crs, &x, &err)))
        rc = situ_crs_xform_bbox(x, box, q->bbox, &err);
    situ_crs_xform_free(x);
    if (rc)
        return *out = situd_problem(r, 400, "bbox", "%s", err.msg), 1;
    q->has_bbox = 1;
    return 0;
}

/* Reads limit, offset, the filters, bbox and crs; answers 400 itself when
 * one is bad. */
static int read_items_params(situd_req *r, const situ_collection *c, items_params *p,
                             situd_result *out)
{
    param_walk a = {p, {0}, ""};
    situ_query_init(&p->q, c);
    if (situd_reject_bad_f(r, out) ||
        situd_read_paging(r, LIMIT_DEFAULT, &p->limit, &p->offset, out))
        return 1;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, set_param, &a);
    if (a.bad[0])
        return *out = situd_problem(r, 400, a.bad, "%s", a.err.msg), 1;
    if (read_bbox(r, &p->q, out) || read_crs(r, &p->oc, out))
        return 1;
    p->q.offset = p->offset;
    p->q.limit = p->limit;
    return 0;
}

static situd_result items(situd_req *r, const situ_coll *c)
{
    items_params p = {0};
    situd_result res;
    if (read_items_params(r, c->c, &p, &res))
        return res;
    uint32_t *idx;
    size_t n, matched;
    situ_err err = {0};
    if (situ_query_run(&p.q, c, &idx, &n, &matched, &err)) {
        situ_crs_xform_free(p.oc.x);
        return situd_problem(r, 503, NULL, "%s", err.msg);
    }
    situ_buf b;
    situ_buf_init(&b);
    write_items(&b, r, c, idx, n, matched, p.offset, p.limit, &p.oc);
    situ_crs_xform_free(p.oc.x);
    free(idx);
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

static situd_result one_item(situd_req *r, const situ_coll *c, const char *fid)
{
    static const char *const allowed[] = {"f", "crs", NULL};
    situd_result res;
    out_crs oc;
    if (situd_reject_unknown_args(r, allowed, &res) || situd_reject_bad_f(r, &res))
        return res;
    long i = situ_coll_find(c, fid);
    if (i < 0)
        return situd_problem(r, 404, NULL, "no feature '%s' in %s", fid, c->c->id);
    if (read_crs(r, &oc, &res))
        return res;
    char base[512], href[1024];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_geojson_opts o = geojson_opts(&oc);
    situ_geojson_feature(&b, c, &c->feats[i], &o);
    situ_crs_xform_free(oc.x);
    b.n--; /* reopen the feature object to add its links */
    situ_buf_adds(&b, ",\"links\":[");
    situ_buf h;
    situ_buf_init(&h);
    situ_buf_printf(&h, "%s/collections/%s/items/", base, c->c->id);
    situd_url_encode(&h, fid);
    situd_add_link(&b, 1, h.p ? h.p : "", "self", "application/geo+json", NULL);
    situ_buf_dispose(&h);
    snprintf(href, sizeof href, "%s/collections/%s", base, c->c->id);
    situd_add_link(&b, 0, href, "collection", "application/json", c->c->title_en);
    situ_buf_adds(&b, "]}\n");
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

/* /collections/{id}, /collections/{id}/items, /collections/{id}/items/{fid} */
situd_result situd_route_collection(situd_req *r)
{
    char id[64];
    const char *slash = strchr(r->rest, '/');
    size_t n = slash ? (size_t)(slash - r->rest) : strlen(r->rest);
    const situ_collection *sc = NULL;
    if (n < sizeof id) {
        memcpy(id, r->rest, n);
        id[n] = '\0';
        sc = situ_schema_find(id);
    }
    if (!sc)
        return situd_problem(r, 404, NULL, "no such collection: %.*s", (int)(n < 64 ? n : 64),
                             r->rest);
    const situ_coll *c = r->snap->colls[sc->cid];
    if (!slash) {
        situd_result res;
        if (situd_reject_args_but_f(r, &res))
            return res;
        char base[512];
        situd_base_url(r, base, sizeof base);
        situ_buf b;
        situ_buf_init(&b);
        write_collection(&b, base, c);
        situ_buf_addc(&b, '\n');
        return situd_reply_buf(r, 200, "application/json", &b);
    }
    if (!strcmp(slash, "/items"))
        return items(r, c);
    if (!strncmp(slash, "/tiles", 6) && (!slash[6] || slash[6] == '/'))
        return situd_ogc_tiles(r, sc->cid, slash + 6);
    if (!strncmp(slash, "/items/", 7) && slash[7])
        return one_item(r, c, slash + 7);
    return situd_problem(r, 404, NULL, "no such resource: %s", r->path);
}

/*
 * route_ogc_tiles.c: OGC API - Tiles Part 1 (Core, TileSet, TileSetsList,
 * dataset and geodata tilesets, MVT) over the same tile cache as
 * /tiles/{set}/{z}/{x}/{y}.mvt, in the one tiling scheme situ cuts:
 * WebMercatorQuad as the OGC Two Dimensional Tile Matrix Set standard
 * defines it. A tile is /.../tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}:
 * row (y) before column (x), unlike the XYZ route.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "situ/admin.h"
#include "situ/tilejson.h"

#define TMS_ID "WebMercatorQuad"
#define TMS_URI "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
#define EPSG3857 "http://www.opengis.net/def/crs/EPSG/0/3857"
#define CRS84 "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
#define REL_SCHEME "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
#define MVT_TYPE "application/vnd.mapbox-vector-tile"
/* The standard's WebMercatorQuad has tile matrices 0 to 24. */
#define TMS_LAST 24
#define HALF_WORLD 20037508.3427892
/* Metres per cell at zoom 0; the scale divides by the standard 0.28 mm pixel. */
#define CELL0 (2 * HALF_WORLD / 256)

/* The set's path prefix below base: "" for the dataset, "/collections/{id}". */
static void set_prefix(int set, char *out, size_t n)
{
    if (set == SITU_TILESET_ALL)
        out[0] = '\0';
    else
        snprintf(out, n, "/collections/%s", situ_schema_collection((situ_coll_id)set)->id);
}

static const char *set_title(int set)
{
    return set == SITU_TILESET_ALL ? "all collections"
                                   : situ_schema_collection((situ_coll_id)set)->title_en;
}

/* The standard's (2.0) members, and beside them the ones of its 2019 JSON
 * encoding (identifier, supportedCRS, lowerCorner/upperCorner,
 * topLeftCorner) that GDAL before 3.8 reads: one document for both. */
static void write_tms(situ_buf *b)
{
    const double h = HALF_WORLD;
    situ_buf_adds(b, "{\"id\":\"" TMS_ID "\",\"identifier\":\"" TMS_ID "\","
                     "\"title\":\"Google Maps Compatible for the World\",\"uri\":\"" TMS_URI
                     "\",\"crs\":\"" EPSG3857 "\",\"supportedCRS\":\"" EPSG3857 "\","
                     "\"orderedAxes\":[\"X\",\"Y\"],\"wellKnownScaleSet\":"
                     "\"http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible\","
                     "\"boundingBox\":{\"crs\":\"" EPSG3857 "\",");
    situ_buf_printf(b,
                    "\"lowerLeft\":[%.7f,%.7f],\"upperRight\":[%.7f,%.7f],"
                    "\"lowerCorner\":[%.7f,%.7f],\"upperCorner\":[%.7f,%.7f]},\"tileMatrices\":[",
                    -h, -h, h, h, -h, -h, h, h);
    for (int z = 0; z <= TMS_LAST; z++) {
        double cell = CELL0 / (double)(1u << z);
        situ_buf_printf(b,
                        "%s{\"id\":\"%d\",\"identifier\":\"%d\",\"scaleDenominator\":%.15g,"
                        "\"cellSize\":%.15g,\"cornerOfOrigin\":\"topLeft\","
                        "\"pointOfOrigin\":[%.7f,%.7f],\"topLeftCorner\":[%.7f,%.7f],"
                        "\"tileWidth\":256,\"tileHeight\":256,\"matrixWidth\":%u,"
                        "\"matrixHeight\":%u}",
                        z ? "," : "", z, z, cell / 0.00028, cell, -h, h, -h, h, 1u << z, 1u << z);
    }
    situ_buf_adds(b, "]}\n");
}

/* The tile column and row holding lon/lat at zoom z. */
static void tile_of(double lon, double lat, int z, uint32_t *col, uint32_t *row)
{
    double n = (double)(1u << z), rad = fmax(-85.0511287798, fmin(85.0511287798, lat)) * M_PI / 180;
    double x = floor((lon + 180) / 360 * n), y = floor((1 - asinh(tan(rad)) / M_PI) / 2 * n);
    *col = (uint32_t)fmax(0, fmin(n - 1, x));
    *row = (uint32_t)fmax(0, fmin(n - 1, y));
}

/* tileMatrixSetLimits: the tiles that hold the set's data at each zoom
 * the set is cut at; nothing when the set is empty. */
static void write_limits(situ_buf *b, const situ_snapshot *snap, int set)
{
    double e[4];
    if (!situ_tileset_bounds(snap, set, e))
        return;
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    int minz = set == SITU_TILESET_ALL ? 0 : o.minzoom[set];
    situ_buf_adds(b, ",\"tileMatrixSetLimits\":[");
    for (int z = minz < 0 ? 0 : minz, first = 1; z <= SITU_TILE_MAXZOOM; z++, first = 0) {
        uint32_t c0, r0, c1, r1;
        tile_of(e[0], e[3], z, &c0, &r0);
        tile_of(e[2], e[1], z, &c1, &r1);
        situ_buf_printf(b,
                        "%s{\"tileMatrix\":\"%d\",\"minTileRow\":%u,\"maxTileRow\":%u,"
                        "\"minTileCol\":%u,\"maxTileCol\":%u}",
                        first ? "" : ",", z, r0, r1, c0, c1);
    }
    situ_buf_addc(b, ']');
    situ_buf_printf(b,
                    ",\"boundingBox\":{\"crs\":\"" CRS84 "\",\"lowerLeft\":[%.7f,%.7f],"
                    "\"upperRight\":[%.7f,%.7f]}",
                    e[0], e[1], e[2], e[3]);
}

/* One entry of the layers list: layer c from zoom minz to maxz, described
 * as TileJSON describes it. */
static void write_layer(situ_buf *b, const situ_collection *c, const situ_tile_opts *o, int minz,
                        int maxz, int first)
{
    situ_buf_adds(b, first ? "{\"id\":" : ",{\"id\":");
    situ_buf_add_json_str(b, c->id);
    situ_buf_adds(b, ",\"title\":");
    situ_buf_add_json_str(b, c->title_en);
    situ_buf_adds(b, ",\"description\":");
    situ_tilejson_layer_description(b, c, o);
    situ_buf_printf(b,
                    ",\"dataType\":\"vector\",\"geometryDimension\":%d,\"minTileMatrix\":"
                    "\"%d\",\"maxTileMatrix\":\"%d\"}",
                    c->gtype == SITU_GT_POINT             ? 0
                    : c->gtype == SITU_GT_MULTILINESTRING ? 1
                                                          : 2,
                    minz, maxz);
}

/* The layers with the zooms that carry them (the tile options', as
 * TileJSON): below the townships' lowest zoom their provinces and counties. */
static void write_layers(situ_buf *b, int set)
{
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    situ_buf_adds(b, ",\"layers\":[");
    for (int i = 0, first = 1; i < SITU_NCOLLECTIONS; i++) {
        if (set != SITU_TILESET_ALL && set != i)
            continue;
        int minz = o.minzoom[i] > 0 ? o.minzoom[i] : 0;
        if (i == SITU_C_TOWNSHIPS && o.county_below > minz) {
            write_layer(b, situ_admin_collection(SITU_ADMIN_PROVINCE), &o, minz,
                        o.province_below - 1, first);
            write_layer(b, situ_admin_collection(SITU_ADMIN_COUNTY), &o, o.province_below,
                        o.county_below - 1, 0);
            minz = o.county_below, first = 0;
        }
        write_layer(b, situ_schema_collection((situ_coll_id)i), &o, minz, SITU_TILE_MAXZOOM, first);
        first = 0;
    }
    situ_buf_addc(b, ']');
}

/* The tileset's title, data type, scheme and links: shared by the list
 * entry and the tileset document itself. */
static void write_tileset_head(situ_buf *b, const char *base, int set)
{
    char prefix[96], href[768];
    set_prefix(set, prefix, sizeof prefix);
    situ_buf_adds(b, "{\"title\":");
    char title[160];
    snprintf(title, sizeof title, "%s, vector tiles in " TMS_ID, set_title(set));
    situ_buf_add_json_str(b, title);
    situ_buf_adds(b, ",\"dataType\":\"vector\",\"crs\":\"" EPSG3857
                     "\",\"tileMatrixSetURI\":\"" TMS_URI "\",\"links\":[");
    snprintf(href, sizeof href, "%s%s/tiles/" TMS_ID, base, prefix);
    situd_add_link(b, 1, href, "self", "application/json", "this tileset");
    snprintf(href, sizeof href, "%s/tileMatrixSets/" TMS_ID, base);
    situd_add_link(b, 0, href, REL_SCHEME, "application/json", "the tiling scheme");
    snprintf(href, sizeof href, "%s%s/tiles/" TMS_ID "/{tileMatrix}/{tileRow}/{tileCol}", base,
             prefix);
    situd_add_link(b, 0, href, "item", MVT_TYPE, "a tile (Mapbox Vector Tile)");
    b->n--; /* the template link says it is one */
    situ_buf_adds(b, ",\"templated\":true}");
    snprintf(href, sizeof href, "%s/tiles/%s.json", base,
             set == SITU_TILESET_ALL ? "all" : situ_schema_collection((situ_coll_id)set)->id);
    situd_add_link(b, 0, href, "describedby", "application/json", "TileJSON");
    situ_buf_addc(b, ']');
}

static situd_result tileset(situd_req *r, int set)
{
    char base[512];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    write_tileset_head(&b, base, set);
    write_limits(&b, r->snap, set);
    write_layers(&b, set);
    situ_buf_adds(&b, "}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

static situd_result tileset_list(situd_req *r, int set)
{
    char base[512], prefix[96], href[640];
    situd_base_url(r, base, sizeof base);
    set_prefix(set, prefix, sizeof prefix);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"links\":[");
    snprintf(href, sizeof href, "%s%s/tiles", base, prefix);
    situd_add_link(&b, 1, href, "self", "application/json", "the tilesets");
    situ_buf_adds(&b, "],\"tilesets\":[");
    write_tileset_head(&b, base, set);
    situ_buf_adds(&b, "}]}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* Names the path parameter of a libsitu tile error ("z: ...", "x: ...",
 * "y: ...") as OGC does; 400 for what is not a number, 404 for a number
 * outside the tile matrix. */
static situd_result bad_tile(situd_req *r, const char *msg)
{
    const char *param = msg[0] == 'z' ? "tileMatrix" : msg[0] == 'x' ? "tileCol" : "tileRow";
    const char *why = msg[0] && msg[1] == ':' ? msg + 2 : msg;
    int outside = strstr(msg, "outside") || strstr(msg, "above") || strstr(msg, "out of range");
    return situd_problem(r, outside ? 404 : 400, param, "%s:%s", param, why);
}

/* rest is "{tileMatrix}/{tileRow}/{tileCol}" */
static situd_result ogc_tile(situd_req *r, int set, const char *rest)
{
    static const char *const allowed[] = {NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res))
        return res;
    char part[3][32];
    for (int i = 0; i < 3; i++) {
        const char *end = i < 2 ? strchr(rest, '/') : rest + strlen(rest);
        size_t n = end ? (size_t)(end - rest) : sizeof part[i];
        if (n >= sizeof part[i])
            return situd_problem(r, 404, NULL,
                                 "tiles are .../tiles/" TMS_ID "/{tileMatrix}/{tileRow}/{tileCol}");
        memcpy(part[i], rest, n);
        part[i][n] = '\0';
        rest = end + (i < 2);
    }
    situ_tile_xyz t;
    situ_err err = {0};
    if (situ_tile_parse(part[0], part[2], part[1], &t, &err))
        return bad_tile(r, err.msg);
    return situd_tile_reply(r, set, t);
}

situd_result situd_ogc_tiles(situd_req *r, int set, const char *rest)
{
    if (!*rest || !strcmp(rest, "/") || !strcmp(rest, "/" TMS_ID)) {
        situd_result res;
        if (situd_reject_args_but_f(r, &res))
            return res;
        return *rest && rest[1] ? tileset(r, set) : tileset_list(r, set);
    }
    if (!strncmp(rest, "/" TMS_ID "/", sizeof TMS_ID + 1))
        return ogc_tile(r, set, rest + sizeof TMS_ID + 1);
    return situd_problem(r, 404, "tileMatrixSetId", "no tile matrix set '%.40s': only " TMS_ID,
                         rest + 1);
}

situd_result situd_route_tilesets_all(situd_req *r)
{
    return situd_ogc_tiles(r, SITU_TILESET_ALL, "");
}

/* /tileMatrixSets and /tileMatrixSets/{tileMatrixSetId} */
situd_result situd_route_tilematrixsets(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    const char *rest = r->rest ? r->rest : "";
    situ_buf b;
    situ_buf_init(&b);
    if (!strcmp(r->path, "/tileMatrixSets") || !strcmp(r->path, "/tileMatrixSets/")) {
        char base[512], href[640];
        situd_base_url(r, base, sizeof base);
        situ_buf_adds(&b, "{\"tileMatrixSets\":[{\"id\":\"" TMS_ID
                          "\",\"title\":\"Google Maps Compatible for the World\",\"uri\":\"" TMS_URI
                          "\",\"links\":[");
        snprintf(href, sizeof href, "%s/tileMatrixSets/" TMS_ID, base);
        situd_add_link(&b, 1, href, "self", "application/json", TMS_ID);
        situ_buf_adds(&b, "]}]}\n");
    } else if (!strcmp(rest, TMS_ID)) {
        write_tms(&b);
    } else {
        situ_buf_dispose(&b);
        return situd_problem(r, 404, "tileMatrixSetId", "no tile matrix set '%.40s': only " TMS_ID,
                             rest);
    }
    return situd_reply_buf(r, 200, "application/json", &b);
}

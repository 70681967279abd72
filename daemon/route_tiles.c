/*
 * route_tiles.c: /tiles/{set}.json (TileJSON 3.0.0) and
 * /tiles/{set}/{z}/{x}/{y}.mvt (Mapbox Vector Tile 2.1; set = a collection
 * id or "all"). Tiles come from the daemon's one tile cache (libsitu's
 * tilecache.h), which cuts, compresses once and invalidates exactly; this
 * file adds HTTP: 204 for an empty tile, gzip when accepted, ETag and 304,
 * Cache-Control.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"
#include "situ/clock.h"
#include "situ/tilecache.h"
#include "situ/tilejson.h"

static situ_tilecache *cache;
static pthread_t prepare_thread; /* the first snapshot's sources, behind the port */
static int preparing;            /* prepare_thread is to be joined */

static void *prepare_main(void *arg)
{
    situ_snapshot *snap = arg;
    situ_err err = {0};
    double t0 = situ_clock_s();
    if (situ_tilecache_prepare(cache, snap, &err))
        fprintf(stderr, "situd: tile cache: sources not prepared (built per request): %s\n",
                err.msg);
    else
        fprintf(stderr, "situd: tile sources prepared in %.0f ms\n", (situ_clock_s() - t0) * 1e3);
    situ_snapshot_release(snap);
    malloc_trim(0); /* what the preparation freed, not kept in the thread's arena */
    return NULL;
}

int situd_tiles_init(const situd_config *cfg, const situ_snapshot *snap, char *msg, size_t n)
{
    /* cache_mb = 0 keeps no tile (every answer is cut, as on a miss): a
     * bound of one byte, which no tile fits (the cache's 0 means default) */
    situ_tilecache_opts o = {.max_bytes = cfg->tile_cache_bytes ? cfg->tile_cache_bytes : 1,
                             .gzip_level = 1,
                             .resident_budget = cfg->tile_resident_bytes};
    situ_err err = {0};
    if (situ_tilecache_new(&o, &cache, &err)) {
        snprintf(msg, n, "tile cache: %s", err.msg);
        return -1;
    }
    /* a tile asked before its collection's source is ready builds it (or
     * waits for this thread's build of it): the same bytes either way */
    situ_snapshot *held = situ_snapshot_retain((situ_snapshot *)snap);
    preparing = !pthread_create(&prepare_thread, NULL, prepare_main, held);
    if (!preparing)
        prepare_main(held);
    return 0;
}

void situd_tiles_free(void)
{
    if (preparing)
        pthread_join(prepare_thread, NULL);
    preparing = 0;
    situ_tilecache_free(cache);
    cache = NULL;
}

int situd_tiles_advance(const situ_snapshot *snap, int cid, const double *boxes, size_t nboxes)
{
    situ_err err = {0};
    return cache ? situ_tilecache_advance(cache, snap, (situ_coll_id)cid, boxes, nboxes, &err) : 0;
}

void situd_tiles_stats(situ_buf *b)
{
    if (!cache)
        return;
    situ_tilecache_stats st;
    situ_tilecache_stats_get(cache, &st);
    situ_buf_printf(b,
                    "# HELP situd_tile_cache Tile cache counters.\n"
                    "# TYPE situd_tile_cache gauge\n"
                    "situd_tile_cache{what=\"hits\"} %llu\n"
                    "situd_tile_cache{what=\"misses\"} %llu\n"
                    "situd_tile_cache{what=\"empty_fast\"} %llu\n"
                    "situd_tile_cache{what=\"evictions\"} %llu\n"
                    "situd_tile_cache{what=\"invalidated\"} %llu\n"
                    "situd_tile_cache{what=\"entries\"} %zu\n"
                    "situd_tile_cache{what=\"bytes\"} %zu\n"
                    "situd_tile_cache{what=\"max_bytes\"} %zu\n"
                    "situd_tile_cache{what=\"src_bytes\"} %zu\n"
                    "situd_tile_cache{what=\"file_handbacks\"} %llu\n",
                    (unsigned long long)st.hits, (unsigned long long)st.misses,
                    (unsigned long long)st.empty_fast, (unsigned long long)st.evictions,
                    (unsigned long long)st.invalidated, st.entries, st.bytes, st.max_bytes,
                    st.src_bytes, (unsigned long long)st.handbacks);
}

static situd_result tilejson(situd_req *r, const char *set)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    char base[512];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_err err = {0};
    if (situ_tilejson_write(&b, r->snap, set, base, NULL, &err)) {
        situ_buf_dispose(&b);
        return situd_problem(r, 404, "set", "no tile set '%.40s' (a collection id or all)", set);
    }
    return situd_reply_buf(r, 200, "application/json", &b);
}

static situd_result tile_headers(situd_req *r, unsigned status, struct MHD_Response *resp,
                                 const char *etag, int gz)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=10");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (etag)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    return situd_reply_response(r, status, resp);
}

static situd_result tile(situd_req *r, int set, const char *zxy)
{
    static const char *const allowed[] = {NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res))
        return res;
    situ_tile_xyz t;
    situ_err err = {0};
    if (situ_tile_parse_path(zxy, ".mvt", &t, &err)) {
        /* "z: ...", "x: ..." or "y: ..." name a bad number; else the path
         * does not have the shape of a tile at all */
        if (err.msg[0] && strchr("zxy", err.msg[0]) && err.msg[1] == ':') {
            char param[2] = {err.msg[0], '\0'};
            return situd_problem(r, 400, param, "%s", err.msg);
        }
        return situd_problem(r, 404, NULL, "%s: tiles are /tiles/{set}/{z}/{x}/{y}.mvt", err.msg);
    }
    return situd_tile_reply(r, set, t);
}

situd_result situd_tile_reply(situd_req *r, int set, situ_tile_xyz t)
{
    situ_err err = {0};
    situ_tile_reply rep;
    if (situ_tilecache_get(cache, r->snap, set, t, &rep, &err))
        return situd_problem(r, 503, NULL, "tile %d/%u/%u: %s", t.z, t.x, t.y, err.msg);
    int gz = situd_accepts_gzip(r);
    const char *etag = gz ? rep.etag_gz : rep.etag;
    struct MHD_Response *resp;
    unsigned status = 200;
    situ_buf b;
    situ_buf_init(&b);
    if (rep.n_raw == 0) {
        status = 204, gz = 0, etag = NULL;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (situ_tile_reply_matches(&rep, situd_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH))) {
        status = 304, gz = 0;
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else if (situ_tile_reply_body(&rep, gz, &b) || b.oom) {
        situ_tile_reply_dispose(&rep);
        situ_buf_dispose(&b);
        return situd_problem(r, 503, NULL, "out of memory");
    } else {
        size_t n;
        char *p = situ_buf_steal(&b, &n);
        r->bytes = n;
        resp = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/vnd.mapbox-vector-tile");
    }
    situd_result out = tile_headers(r, status, resp, etag, gz);
    situ_tile_reply_dispose(&rep);
    return out;
}

/* rest is "{set}.json", "{set}/{z}/{x}/{y}.mvt" or, for OGC API - Tiles,
 * "WebMercatorQuad[/{tileMatrix}/{tileRow}/{tileCol}]" (no set is named so) */
situd_result situd_route_tiles(situd_req *r)
{
    if (!strncmp(r->rest, "WebMercatorQuad", 15) && (!r->rest[15] || r->rest[15] == '/'))
        return situd_ogc_tiles(r, SITU_TILESET_ALL, r->rest - 1);
    const char *slash = strchr(r->rest, '/');
    size_t n = slash ? (size_t)(slash - r->rest) : strlen(r->rest);
    char name[40];
    if (n == 0 || n >= sizeof name)
        return situd_problem(r, 404, "set", "no such tile set");
    memcpy(name, r->rest, n);
    name[n] = '\0';
    if (!slash) {
        size_t k = strlen(name);
        if (k < 6 || strcmp(name + k - 5, ".json"))
            return situd_problem(r, 404, NULL, "tiles are /tiles/{set}/{z}/{x}/{y}.mvt");
        name[k - 5] = '\0';
        return tilejson(r, name);
    }
    int set;
    situ_err err = {0};
    if (situ_tile_set_parse(name, &set, &err))
        return situd_problem(r, 404, "set", "no tile set '%s' (a collection id or all)", name);
    return tile(r, set, slash + 1);
}

void situd_tiles_invalidate(int cid, const double bbox[4])
{
    if (cache)
        situ_tilecache_invalidate(cache, (situ_coll_id)cid, bbox);
}

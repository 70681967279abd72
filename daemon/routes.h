/*
 * routes.h: private to daemon/. Every route handler, grouped by file, and the
 * small helpers they share.
 */
#ifndef SITUD_ROUTES_H
#define SITUD_ROUTES_H

#include "http.h"
#include "server.h"
#include "situ/feed.h"
#include "situ/tile.h"

/* Appends s percent-encoded for a URL query (RFC 3986 unreserved kept). */
void situd_url_encode(situ_buf *b, const char *s);
/* Appends a link object {href, rel, type[, title]}, after a comma unless
 * first. */
void situd_add_link(situ_buf *b, int first, const char *href, const char *rel, const char *type,
                    const char *title);

/* A strong ETag for an answer computed from the snapshot (etag.c): the
 * hash of its bytes, remembered by a key of what they are a function of. */
typedef struct situd_etag {
    uint64_t key[2];
    int keyed; /* 0: no key (out of memory): nothing remembered */
} situd_etag;
/* Call before computing an answer of ctype whose bytes are a function of
 * digest d (situ_digest {0, 0}: of nothing known) and of the request's
 * path, query arguments and base URL. 1 when the client holds the answer
 * (If-None-Match names the ETag the answer last had for that key): the 304
 * is then queued into *out. 0 otherwise: compute it, answer with
 * situd_etag_reply. */
int situd_etag_fresh(situd_req *r, situ_digest d, const char *ctype, situd_etag *e,
                     situd_result *out);
/* Answers b (taken): 200 with ETag and Cache-Control: no-cache, or 304 when
 * If-None-Match names its ETag; its ETag kept for e's key. */
situd_result situd_etag_reply(situd_req *r, const situd_etag *e, const char *ctype, situ_buf *b);

#define SITUD_LIMIT_MAX 10000   /* a page holds at most this many */
#define SITUD_PAGE_DEFAULT 1000 /* townships and counties per page unless limit says */
/* Reads limit (1.., default def, capped at SITUD_LIMIT_MAX) and offset
 * (0..); answers 400 naming the parameter and returns 1 when one is bad. */
int situd_read_paging(situd_req *r, size_t def, size_t *out_limit, size_t *out_offset,
                      situd_result *res);
/* Appends the self, next (when more than offset + n of matched follow) and
 * prev links of a page of path (e.g. "/townships"), keeping the request's
 * arguments. */
void situd_add_page_links(situ_buf *b, int first, situd_req *r, const char *path, size_t offset,
                          size_t n, size_t limit, size_t matched, const char *type);

/* route_ogc.c */
situd_result situd_route_landing_json(situd_req *r);
situd_result situd_route_conformance(situd_req *r);
situd_result situd_route_collections(situd_req *r);
situd_result situd_route_collection(situd_req *r);
/* route_api.c */
situd_result situd_route_api(situd_req *r);
/* route_basic.c */
situd_result situd_route_root(situd_req *r);
situd_result situd_route_healthz(situd_req *r);
situd_result situd_route_metrics(situd_req *r);
/* route_townships.c */
situd_result situd_route_townships(situd_req *r);
situd_result situd_route_township(situd_req *r);
situd_result situd_route_counties(situd_req *r);
situd_result situd_route_county(situd_req *r);
situd_result situd_route_locate(situd_req *r);
/* A summary of libsitu's (a township's, a county's, an alert's impact) of
 * the feature `code` as the answer: 404 naming `what` when there is none. */
typedef int (*situd_summary_fn)(const situ_snapshot *s, const char *code, const char *now,
                                situ_buf *b);
situd_result situd_answer_summary(situd_req *r, situd_summary_fn summarise, const char *code,
                                  const char *what);
/* route_impact.c: /alerts/{id}/impact */
situd_result situd_route_alert(situd_req *r);
/* Reads a coordinate parameter within [-limit, limit]; answers 400 itself
 * and returns -1 when it is missing or bad. */
int situd_read_coord(situd_req *r, const char *name, double limit, double *out, situd_result *res);
/* Appends the JSON array of hazard sources whose impact radius reaches the
 * point (route_nearest.c). */
void situd_locate_hazards(situd_req *r, double lon, double lat, situ_buf *b);
/* route_places.c: /places, the base map's named places */
situd_result situd_route_places(situd_req *r);
/* route_export.c */
situd_result situd_route_export(situd_req *r);
/* route_nearest.c */
situd_result situd_route_nearest(situd_req *r);
situd_result situd_route_within(situd_req *r);
/* Parses the request's arguments for mode into *out_q; on bad input answers
 * 400 naming the parameter into *res and returns -1. */
struct situ_nearest_query;
int situd_nearest_parse(situd_req *r, int mode, struct situ_nearest_query *out_q,
                        situd_result *res);
/* 400 naming the parameter err->msg starts with (SITU_EINVAL), else 503. */
situd_result situd_nearest_problem(situd_req *r, const situ_err *err);
/* route_roads.c: /route, /reach, and /nearest, /within with by=road */
situd_result situd_route_route(situd_req *r);
situd_result situd_route_reach(situd_req *r);
situd_result situd_roads_reply(situd_req *r, const struct situ_nearest_query *q);
/* route_tiles.c: /tiles/{set}.json and /tiles/{set}/{z}/{x}/{y}.mvt */
situd_result situd_route_tiles(situd_req *r);
/* Answers tile t of set (a collection id or SITU_TILESET_ALL) from the cache. */
situd_result situd_tile_reply(situd_req *r, int set, situ_tile_xyz t);
/* route_ogc_tiles.c: OGC API - Tiles. /tileMatrixSets[/WebMercatorQuad],
 * /tiles, and situd_ogc_tiles for what follows ".../tiles" of a set: "" (the
 * tileset list), "/WebMercatorQuad" (the tileset) or
 * "/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}" (a tile). */
situd_result situd_route_tilematrixsets(situd_req *r);
situd_result situd_route_tilesets_all(situd_req *r);
situd_result situd_ogc_tiles(situd_req *r, int set, const char *rest);
/* route_web.c: the map wall's files under /web/, and its page at / */
situd_result situd_route_web(situd_req *r);
situd_result situd_route_web_index(situd_req *r);
/* route_web.c: the township officer's phone page and its files under /m/ */
situd_result situd_route_phone(situd_req *r);
/* route_styles.c: /styles and /styles/{day,dark}.json, the wall's MapLibre styles */
situd_result situd_route_styles(situd_req *r);
/* route_feeds.c */
situd_result situd_route_feed_post(situd_req *r);
situd_result situd_route_feeds(situd_req *r);
situd_result situd_route_events(situd_req *r);
/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *situd_bearer(situd_req *r);
/* Answers 401 (no or an unknown token) or 403 (another department's) into
 * *out and returns 1, unless the bearer token is dept's (0). */
int situd_check_token(situd_req *r, const char *dept, situd_result *out);
/* Answers a parsed (and, when valid, applied) batch b: 200 with
 * each event's result, or 422 naming the field of a refused CAP alert. */
situd_result situd_feed_answer(situd_req *r, situ_feed_batch *b);
/* The problem of a body the feeds' parser refused whole (err). */
situd_result situd_feed_read_error(situd_req *r, const situ_err *err, int cap);
/* route_closures.c: GET /closures, the active road closures */
situd_result situd_route_closures(situd_req *r);

#endif

/*
 * situ/roads.h: travel time over a road network. A routing graph built from
 * polylines (the roads collection, an OSM extract, a synthetic grid), live
 * closures laid over it, points attached to the nearest open road, the k
 * nearest targets by travel time (either direction), everything within a
 * time, routes, and reach areas. No HTTP, no snapshot: the faces and the
 * snapshot wire it (see the roads folder's file-top comments).
 *
 *   lines --situ_roads_graph_new--> graph (immutable, shared by threads)
 *   graph --situ_roads_closures_new/_clone + close/reopen--> closure set
 *         (immutable once published in a situ_roads_live slot)
 *   points --situ_roads_targets_new(graph, closures)--> targets
 *   query: situ_roads_snap -> situ_roads_search(ws) -> hits -> situ_roads_route
 *          situ_roads_reach(ws) -> pieces per budget -> situ_roads_reach_polygon
 *
 * Times are seconds, lengths metres (WGS84 geodesics), coordinates WGS84
 * lon/lat degrees. Every search is exact: a textbook Dijkstra over the same
 * edges gives the same targets, order (ties by target index) and times.
 */
#ifndef SITU_ROADS_H
#define SITU_ROADS_H

#include <gdal.h>
#include <geos_c.h>
#include <ogr_api.h>
#include <stddef.h>
#include <stdint.h>

#include "situ/err.h"

/* Road classes (rows of the speed table). */
typedef enum situ_roads_class {
    SITU_ROADS_EXPRESSWAY = 0,
    SITU_ROADS_NATIONAL,
    SITU_ROADS_PROVINCIAL,
    SITU_ROADS_COUNTY,
    SITU_ROADS_TOWNSHIP,
    SITU_ROADS_VILLAGE,
    SITU_ROADS_URBAN,
    SITU_ROADS_SERVICE,
    SITU_ROADS_FERRY,
    SITU_ROADS_NCLASSES
} situ_roads_class;

typedef enum situ_roads_oneway {
    SITU_ROADS_TWOWAY = 0, /* no */
    SITU_ROADS_ONEWAY,     /* yes: in the direction of the vertices */
    SITU_ROADS_REVERSE     /* against the vertices (OSM oneway=-1) */
} situ_roads_oneway;

/* restricted roads stay drivable (an emergency vehicle may pass); closed ones
 * are in the graph's base closure set. */
typedef enum situ_roads_status {
    SITU_ROADS_OPEN = 0,
    SITU_ROADS_CLOSED,
    SITU_ROADS_RESTRICTED
} situ_roads_status;

typedef enum situ_roads_dir {
    SITU_ROADS_TO_POINT = 0, /* targets drive to the point (a team reaching it) */
    SITU_ROADS_FROM_POINT    /* from the point to the targets (an officer to a depot) */
} situ_roads_dir;

/* One road of the input: a polyline and its attributes. */
typedef struct situ_roads_line {
    const double *xy; /* n lon/lat pairs */
    uint32_t n;
    uint32_t id; /* the caller's id (a feature index); answers name roads by it */
    situ_roads_class cls;
    situ_roads_oneway oneway;
    situ_roads_status status;
    double speed_kmh;  /* 0: unknown, use the class table */
    int speed_tagged;  /* 1: speed_kmh is a tagged maxspeed, scaled by tagged_factor */
    double duration_s; /* ferries: the crossing's time (0: unknown, class speed) */
} situ_roads_line;

/* Defaults of the speed table (km/h), after OSRM's car profile (motorway 90,
 * trunk 85, primary 65, secondary 55, tertiary 40, residential 25, service
 * 15, ferry 5) adjusted to China's design speeds for the classes:
 * expressway 100, national 70, provincial 60, county 45, township 35,
 * village 25, urban 30, service 15, ferry 5. */
#define SITU_ROADS_TAGGED_FACTOR 0.8 /* OSRM: a tagged maxspeed is driven at 80 % */
#define SITU_ROADS_OFFROAD_KMH 15.0
#define SITU_ROADS_MAX_SNAP_M 1000.0

typedef struct situ_roads_config {
    double class_kmh[SITU_ROADS_NCLASSES];
    double tagged_factor;
} situ_roads_config;

/* Fills cfg with the defaults above. */
void situ_roads_config_init(situ_roads_config *cfg);
/* The class's name ("expressway") or NULL; the class of a name or -1. */
const char *situ_roads_class_name(situ_roads_class cls);
int situ_roads_class_of(const char *name);

typedef struct situ_roads_graph situ_roads_graph;
typedef struct situ_roads_closures situ_roads_closures;
typedef struct situ_roads_live situ_roads_live;
typedef struct situ_roads_targets situ_roads_targets;
typedef struct situ_roads_ws situ_roads_ws;

/* ---- graph ---------------------------------------------------------------- */

/* Builds the graph of n lines (cfg NULL: defaults). A junction joins lines
 * wherever vertices coincide to 1e-7 degrees, never where segments merely
 * cross. Each segment between consecutive vertices is one edge, driven one
 * way or both. Lines of fewer than 2 distinct vertices add nothing. Reads
 * lines only (the graph copies what it keeps). Returns 0, SITU_EINVAL (bad
 * coordinates, speed or class, naming the line), SITU_ELIMIT, SITU_ENOMEM. */
int situ_roads_graph_new(const situ_roads_line *lines, size_t n, const situ_roads_config *cfg,
                         situ_roads_graph **out_g, situ_err *err);
void situ_roads_graph_free(situ_roads_graph *g);

typedef struct situ_roads_stats {
    size_t nodes, edges, roads;
    size_t bytes; /* everything the graph holds, snapping index included */
    double bytes_per_edge;
} situ_roads_stats;
void situ_roads_graph_stats(const situ_roads_graph *g, situ_roads_stats *out);

/* One edge (segment) e < stats.edges, for references and writers. */
typedef struct situ_roads_edge {
    uint32_t a, b; /* nodes, in the direction of the line's vertices */
    double time_s; /* as the search adds it */
    int fwd, bwd;  /* a->b, b->a drivable */
    uint32_t road; /* the line's caller id */
    situ_roads_class cls;
} situ_roads_edge;
void situ_roads_graph_edge(const situ_roads_graph *g, uint32_t e, situ_roads_edge *out);
/* The lon/lat of node v. */
void situ_roads_graph_node(const situ_roads_graph *g, uint32_t v, double out_xy[2]);
/* The geodesic length of edge e in metres. */
double situ_roads_edge_m(const situ_roads_graph *g, uint32_t e);

/* ---- the graph file ---------------------------------------------------------- */

/* Writes g to path (a temporary file synced and renamed over it) for the
 * roads whose situ_roads_graph_key is key, built with cfg (NULL: the
 * defaults). 0, or SITU_EIO naming the file. */
int situ_roads_graph_save(const situ_roads_graph *g, uint64_t key, const situ_roads_config *cfg,
                          const char *path, situ_err *err);
/* The graph in the file at path, mapped read-only, when that file is sound
 * (checksum, every index in range) and was written by this build for key
 * and cfg: 0 and *out_g (free with situ_roads_graph_free; equal to the
 * graph situ_roads_graph_new built then). Else SITU_ENOTFOUND and *out_why,
 * a static string ("none yet", "the roads changed", "checksum mismatch",
 * ...). */
int situ_roads_graph_map(const char *path, uint64_t key, const situ_roads_config *cfg,
                         situ_roads_graph **out_g, const char **out_why);
/* Hands back the pages of g's graph file that searches and snaps read in
 * (MADV_DONTNEED on the read-only mapping: read again from the page cache
 * when next used); nothing for a graph built in memory. g is unchanged and
 * may be searched meanwhile. */
void situ_roads_graph_drop_pages(const situ_roads_graph *g);

/* ---- closures --------------------------------------------------------------- */

/*
 * A closure set is a bitset of closed edges. It is built privately
 * (situ_roads_closures_new / _clone, then close and reopen), then published
 * in a situ_roads_live slot, after which nobody changes it; a search takes a
 * retained set, so it sees one set throughout, the old or the new. NULL as
 * a search's closures means the graph's base set (the lines' status).
 */
/* The base set: every edge of a closed line. */
int situ_roads_closures_new(const situ_roads_graph *g, situ_roads_closures **out_c, situ_err *err);
int situ_roads_closures_clone(const situ_roads_closures *c, situ_roads_closures **out_c,
                              situ_err *err);
situ_roads_closures *situ_roads_closures_retain(situ_roads_closures *c);
/* Drops a reference (thread-safe); frees at zero. NULL: no-op. */
void situ_roads_closures_release(situ_roads_closures *c);
int situ_roads_closures_is_closed(const situ_roads_closures *c, uint32_t e);
size_t situ_roads_closures_count(const situ_roads_closures *c);

/* Closes (closed = 1) or reopens (0) every edge of the lines whose caller id
 * is in ids[0..n). Unknown ids are skipped; returns the edges changed. */
size_t situ_roads_closures_set_roads(situ_roads_closures *c, const situ_roads_graph *g,
                                     const uint32_t *ids, size_t n, int closed);
/* Closes or reopens every edge within radius_m (geodesic) of (lon, lat).
 * Returns the edges changed (>= 0) or SITU_EINVAL. */
long situ_roads_closures_set_radius(situ_roads_closures *c, const situ_roads_graph *g, double lon,
                                    double lat, double radius_m, int closed, situ_err *err);
/* Closes or reopens every edge that touches polygon (a GEOS Polygon or
 * MultiPolygon in lon/lat, made with handle h). Returns the edges changed or
 * a SITU_E code. */
long situ_roads_closures_set_polygon(situ_roads_closures *c, const situ_roads_graph *g,
                                     GEOSContextHandle_t h, const GEOSGeometry *polygon, int closed,
                                     situ_err *err);

/* ---- closure areas (layers/roads/roads_areas.c) ------------------------------- */

/* An area a department closed: a polygon, or a circle. */
typedef struct situ_roads_area {
    const unsigned char *wkb; /* a Polygon or MultiPolygon, WKB in lon/lat; NULL: a circle */
    size_t nwkb;
    double lon, lat, radius_m; /* the circle (geodesic metres) when wkb is NULL */
} situ_roads_area;

/* What one area closed: the edges (road segments) it touches, whether or
 * not a road status or another area had closed them already, and the roads
 * (distinct caller ids) they belong to; edges < 0: the area was refused
 * (a SITU_E code: not a polygon, bad WKB or circle, GEOS failed) and closed
 * nothing. */
typedef struct situ_roads_area_hit {
    long edges;
    size_t roads;
} situ_roads_area_hit;

/* Closes on c every edge that one of the n areas touches (a polygon as
 * situ_roads_closures_set_polygon, a circle as _set_radius), with GEOS
 * handle h. hits (may be NULL) gets one entry per area. An area that is
 * refused is skipped (err names the first by its index) and the others
 * still laid. Returns the edges of c it changed (>= 0), or SITU_ENOMEM
 * (then c may hold part of the areas). */
long situ_roads_closures_set_areas(situ_roads_closures *c, const situ_roads_graph *g,
                                   GEOSContextHandle_t h, const situ_roads_area *areas, size_t n,
                                   situ_roads_area_hit *hits, situ_err *err);

/* A slot holding the current closure set, for readers on any thread. */
situ_roads_live *situ_roads_live_new(situ_roads_closures *initial); /* takes the reference */
void situ_roads_live_free(situ_roads_live *l);
/* The current set, retained: release it after the search. */
situ_roads_closures *situ_roads_live_get(situ_roads_live *l);
/* Publishes c (takes the reference); the previous set is released once its
 * last reader has. */
void situ_roads_live_publish(situ_roads_live *l, situ_roads_closures *c);

/* ---- snapping --------------------------------------------------------------- */

/* Where a point meets the road network. */
typedef struct situ_roads_place {
    uint32_t edge;   /* the edge it attaches to */
    double frac;     /* position along it, 0 at node a, 1 at node b */
    double lon, lat; /* the attachment point */
    double snap_m;   /* geodesic distance from the point to it */
} situ_roads_place;

/* Attaches (lon, lat) to the nearest point of the nearest edge open under c
 * (NULL: the base set) and drivable at least one way. Returns 0, or
 * SITU_ENOTFOUND when no such edge lies within max_snap_m (then the point is
 * unreachable by road), SITU_EINVAL for bad coordinates. */
int situ_roads_snap(const situ_roads_graph *g, const situ_roads_closures *c, double lon, double lat,
                    double max_snap_m, situ_roads_place *out_place, situ_err *err);

/* ---- targets ------------------------------------------------------------------ */

/* The n points lonlat[2 i], lonlat[2 i + 1] snapped under c (as situ_roads_snap)
 * and indexed for searches. A target beyond max_snap_m is unreachable. When
 * closures change, targets on newly closed edges are skipped by searches
 * until the targets are rebuilt under the new set (which re-attaches them). */
int situ_roads_targets_new(const situ_roads_graph *g, const situ_roads_closures *c,
                           const double *lonlat, size_t n, double max_snap_m,
                           situ_roads_targets **out_t, situ_err *err);
/* The targets of prev's points (prev made by situ_roads_targets_new under
 * prev_c) snapped under c instead, equal to what situ_roads_targets_new
 * would make under c, but snapping again only the points whose place can
 * differ: those on an edge c closes, and those within their snap distance
 * (max_snap_m when unreachable) of an edge c reopens. NULL sets are the
 * base set. Reads prev. Returns 0, SITU_EINVAL (prev not made from points)
 * or SITU_ENOMEM. */
int situ_roads_targets_update(const situ_roads_graph *g, const situ_roads_targets *prev,
                              const situ_roads_closures *prev_c, const situ_roads_closures *c,
                              situ_roads_targets **out_t, situ_err *err);
/* The same from places already attached (places[i].edge UINT32_MAX: unreachable). */
int situ_roads_targets_from_places(const situ_roads_graph *g, const situ_roads_place *places,
                                   size_t n, situ_roads_targets **out_t, situ_err *err);
void situ_roads_targets_free(situ_roads_targets *t);
size_t situ_roads_targets_count(const situ_roads_targets *t);
/* Target i's place; SITU_ENOTFOUND when it is unreachable by road. */
int situ_roads_targets_place(const situ_roads_targets *t, size_t i, situ_roads_place *out_place);

/* ---- searches ----------------------------------------------------------------- */

/* Per-thread search memory for graph g (sized to it; reused by every query). */
situ_roads_ws *situ_roads_ws_new(const situ_roads_graph *g);
void situ_roads_ws_free(situ_roads_ws *ws);

typedef struct situ_roads_query {
    situ_roads_dir dir;
    int k;              /* at most this many hits (the caller's hits hold k) */
    double max_s;       /* only targets within this time (INFINITY: no bound) */
    double offroad_kmh; /* the off-road stretches at both ends */
    /* Optional filter: targets for which keep returns 0 are skipped. */
    int (*keep)(void *ctx, uint32_t target);
    void *keep_ctx;
} situ_roads_query;

/* Defaults: TO_POINT, k 5, no bound, SITU_ROADS_OFFROAD_KMH, no filter. */
void situ_roads_query_init(situ_roads_query *q);

typedef struct situ_roads_hit {
    uint32_t target;
    double travel_s; /* off-road at both ends + on the road */
    double road_s;   /* on the road only */
    /* for situ_roads_route: the node the search reached the target through
     * (UINT32_MAX: along the origin's own edge) */
    uint32_t via;
} situ_roads_hit;

/*
 * The targets nearest by travel time to (TO_POINT) or from (FROM_POINT) the
 * place origin, over the edges open under c (NULL: base set): at most q->k,
 * only those within q->max_s, by time then target index. Writes *out_n hits
 * into hits (room for q->k); fewer than k when fewer are reachable. Targets
 * on edges closed under c are skipped. Reads g, c, t; uses ws. Returns 0,
 * SITU_EINVAL (bad query, origin on a closed edge) or SITU_ENOMEM.
 */
int situ_roads_search(const situ_roads_graph *g, const situ_roads_closures *c,
                      const situ_roads_targets *t, const situ_roads_place *origin,
                      const situ_roads_query *q, situ_roads_ws *ws, situ_roads_hit *hits,
                      int *out_n, situ_err *err);

/* One stretch of a route, in driving order. */
typedef struct situ_roads_leg {
    uint32_t edge;
    uint32_t road;             /* the line's caller id */
    double from_frac, to_frac; /* along the edge (from > to when driven b->a) */
    double m, s;
} situ_roads_leg;

/* The route of hit h of the last situ_roads_search on ws (valid until the
 * next search on ws), in driving order (from the target to the origin for
 * TO_POINT), written into legs; *out_n the number of legs the route has.
 * Returns 0, or SITU_ELIMIT when they are more than cap (call again with
 * room for *out_n). Off-road stretches are not legs (the places' snap_m). */
int situ_roads_route(const situ_roads_graph *g, const situ_roads_targets *t,
                     const situ_roads_ws *ws, const situ_roads_hit *h, situ_roads_leg *legs,
                     size_t cap, size_t *out_n, situ_err *err);

/* ---- reach -------------------------------------------------------------------- */

/* A part of an edge reached within a budget: [f0, f1] along it, reached at
 * t0 at f0 and t1 at f1 (seconds from the origin, or to it for TO_POINT). */
typedef struct situ_roads_piece {
    uint32_t edge;
    float f0, f1;
    float t0, t1;
} situ_roads_piece;

typedef struct situ_roads_reach_result {
    int nbudgets;
    double budgets[16];
    situ_roads_piece *pieces[16]; /* per budget, malloc'd */
    size_t npieces[16];
} situ_roads_reach_result;

/* The edges (whole or in part) reached within each of nb (1..16) budgets
 * (seconds, any order) from or to origin, off-road time included. Fills
 * *out (free it with situ_roads_reach_dispose). */
int situ_roads_reach(const situ_roads_graph *g, const situ_roads_closures *c,
                     const situ_roads_place *origin, situ_roads_dir dir, double offroad_kmh,
                     const double *budgets, int nb, situ_roads_ws *ws, situ_roads_reach_result *out,
                     situ_err *err);
void situ_roads_reach_dispose(situ_roads_reach_result *r);

/* The reach area of n (> 0) pieces: a valid GEOS Polygon or MultiPolygon
 * (parts may touch at a corner) in lon/lat drawn around them, the cells of
 * side buffer_m metres (a grid in a local metric frame) they pass through
 * and the cells next to those: every point within buffer_m of a piece is
 * inside, none further than 2 sqrt 2 buffer_m from every piece (a
 * neighbour's far corner). Made with handle h (one per thread; the caller
 * destroys the geometry) in time linear in the pieces and the cells.
 * Returns 0, SITU_EINVAL, SITU_ELIMIT (over 16 M cells), SITU_ENOMEM,
 * SITU_EGEOM. */
int situ_roads_reach_polygon(const situ_roads_graph *g, GEOSContextHandle_t h,
                             const situ_roads_piece *pieces, size_t n, double buffer_m,
                             GEOSGeometry **out_poly, situ_err *err);

/* ---- a roads collection (layers/roads/roads_net.c) ---------------------------- */

struct situ_coll;

/* The lines of a roads collection of a snapshot: one per LineString part
 * (the part's open ring), id = the feature's index in c->feats (so every
 * part of a feature shares it: closures and answers go by feature), class
 * from the class field, oneway no/yes/reverse, status open/closed/restricted,
 * speed_kmh as a tagged limit, duration_s for ferries. *out_lines is
 * malloc'd (free it); their xy point into c. Returns 0, SITU_EINVAL naming
 * the feature (unknown class), SITU_ENOMEM. */
int situ_roads_lines_of(const struct situ_coll *c, situ_roads_line **out_lines, size_t *out_n,
                        situ_err *err);
/* The graph of roads collection c (situ_roads_lines_of, then graph_new). */
int situ_roads_graph_of(const struct situ_coll *c, const situ_roads_config *cfg,
                        situ_roads_graph **out_g, situ_err *err);
/* A hash of everything of c the graph is built from (features in order,
 * parts, vertices, class, oneway, speed, duration), status excepted: two
 * versions with equal keys give the same graph, so a status change needs
 * only situ_roads_closures_of. */
uint64_t situ_roads_graph_key(const struct situ_coll *c);
/* The closure set of c's statuses over g (built from c, or from a version
 * of c with the same graph key): every edge of a closed feature closed, the
 * others open. */
int situ_roads_closures_of(const situ_roads_graph *g, const struct situ_coll *c,
                           situ_roads_closures **out_c, situ_err *err);
/* The features of a point collection (each feature's point f->x, f->y) as
 * targets snapped under cl (NULL: base set), in id order: target i is
 * feature points->by_id[i], so a search's ties by target are ties by id. */
int situ_roads_targets_of(const situ_roads_graph *g, const situ_roads_closures *cl,
                          const struct situ_coll *points, double max_snap_m,
                          situ_roads_targets **out_t, situ_err *err);

/* ---- OSM ---------------------------------------------------------------------- */

/* Lines read from an OSM file (PBF or XML) through GDAL's OSM driver with
 * config_ini as OSM_CONFIG_FILE (situ's geodata/osmconf.ini): the ways a car
 * may drive, classed from highway=* (motorway expressway, trunk national,
 * primary provincial, secondary county, tertiary township, unclassified
 * village, residential and living_street urban, service service, *_link as
 * their road) and route=ferry open to motor vehicles; oneway from oneway=*
 * (implied on motorways and roundabouts); maxspeed tagged. */
/* What situ makes of one way of the OSM driver's lines layer (read through
 * situ's osmconf.ini): the rules above, shared by the reader here and by
 * `situ load` of an OSM file into the roads collection. Strings point into
 * the feature. */
typedef struct situ_roads_osm_way {
    situ_roads_class cls;
    situ_roads_oneway oneway;
    double speed_kmh;   /* maxspeed=* in km/h ("50", "30 mph"); 0: none or a zone ("FI:urban") */
    double duration_s;  /* ferries: duration=* ("HH:MM[:SS]" or minutes); 0: none */
    int bridge, tunnel; /* bridge=*, tunnel=* other than no */
    int layer;          /* layer=* (0 when absent or not an integer) */
    int64_t osm_id;
    const char *name, *ref; /* NULL when absent */
} situ_roads_osm_way;

/* 1 with *out filled when a car may drive way f (an OGRFeatureH of the
 * lines layer), 0 when not (footway, cycleway, access=private, ...). */
int situ_roads_osm_way_of(OGRFeatureH f, situ_roads_osm_way *out);

/* The OSM file at path opened with config_ini as OSM_CONFIG_FILE, reading
 * only its lines layer (*out_lines): a GDALDatasetH the caller closes. */
int situ_roads_osm_open(const char *path, const char *config_ini, GDALDatasetH *out_ds,
                        OGRLayerH *out_lines, situ_err *err);

/* situ's osmconf.ini: the source tree's geodata/ (a build), else the
 * installed copy (the install prefix's share/situ, /usr/share/situ); NULL
 * when none is readable. */
const char *situ_roads_osm_config(void);

typedef struct situ_roads_osm {
    situ_roads_line *lines;
    size_t n;
    double *xy;            /* every line's vertices */
    char **names;          /* per line, may be NULL */
    int64_t *osm_ids;      /* per line */
    unsigned char *bridge; /* per line: bridge=* (not no) */
    unsigned char *tunnel; /* per line: tunnel=* (not no) */
} situ_roads_osm;
int situ_roads_osm_read(const char *path, const char *config_ini, situ_roads_osm *out,
                        situ_err *err);
void situ_roads_osm_dispose(situ_roads_osm *o);

/* ---- synthetic networks (tests, benchmarks) ------------------------------------ */

/* A grid of nx by ny street lines, spacing_m apart, whose vertices are
 * jittered by seed, cut by rivers (every river_every-th column gap of the
 * grid is a river that only every bridge_every-th row crosses, on a bridge);
 * two blocks in seven one-way (either way), classes mixed. Fills *out like
 * the OSM reader. */
int situ_roads_grid(int nx, int ny, double spacing_m, int river_every, int bridge_every,
                    unsigned seed, situ_roads_osm *out, situ_err *err);

#endif

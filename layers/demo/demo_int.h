/*
 * demo_int.h: private to layers/demo/demo*.c, the demo generator's parts.
 *
 * demo_text.c  the PRNG and the Chinese words (names, phones, places, dates)
 * demo_city.c  the inputs in geodata/ and the base city: townships, rivers,
 *              point-in-township lookup, placement of points
 * demo_tess.c  the synthetic township polygons (Voronoi of county-clustered
 *              seeds, Lloyd relaxation, jagged edges from a fine Voronoi)
 * demo_gen.c   the feature record, the township collection, shared helpers
 * demo_maps.c  risk zones, hazards and hazard sources
 * demo_assets.c  resources and stations
 * demo_roads.c   the road network (after resources: it reaches their points)
 * demo_places.c  county seats, township seats and villages: places.geojson,
 *                the base map's names (not a collection)
 * demo_out.c   the OGR writers, departments.csv and manifest.ini
 *
 * Every generator works in the base frame (copy 0, real Yongzhou); a copy
 * only shifts the written geometry and renames codes and ids.
 */
#ifndef SITU_DEMO_INT_H
#define SITU_DEMO_INT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include <geos_c.h>
#include <ogr_api.h>

#include "situ/demo.h"
#include "situ/store.h"

/* ---- the PRNG: xoshiro256** seeded through splitmix64 ---------------- */

typedef struct situ__demo_rng {
    uint64_t s[4];
} situ__demo_rng;

/* Seeds r from (seed, stream, sub): different streams never share a state. */
void situ__demo_rng_init(situ__demo_rng *r, uint64_t seed, uint64_t stream, uint64_t sub);
uint64_t situ__demo_rng_next(situ__demo_rng *r);
double situ__demo_rng_unit(situ__demo_rng *r); /* [0, 1) */
double situ__demo_rng_range(situ__demo_rng *r, double lo, double hi);
int situ__demo_rng_int(situ__demo_rng *r, int lo, int hi); /* lo..hi inclusive */
double situ__demo_rng_normal(situ__demo_rng *r);
int situ__demo_rng_chance(situ__demo_rng *r, double p);
/* Index i with probability w[i] / sum(w); w[i] >= 0, sum > 0. */
int situ__demo_rng_weighted(situ__demo_rng *r, const double *w, int n);
#define SITU_DEMO_PICK(r, arr)                                                                     \
    ((arr)[situ__demo_rng_int((r), 0, (int)(sizeof(arr) / sizeof((arr)[0])) - 1)])

/* ---- words ---------------------------------------------------------- */

/* Each writes a NUL-terminated UTF-8 string into buf[n] and returns buf. */
char *situ__demo_person(situ__demo_rng *r, char *buf, size_t n);
char *situ__demo_mobile(situ__demo_rng *r, char *buf, size_t n);
char *situ__demo_landline(situ__demo_rng *r, char *buf, size_t n);
char *situ__demo_village(situ__demo_rng *r, char *buf, size_t n); /* "石坪" (no 村) */
char *situ__demo_brand(situ__demo_rng *r, char *buf, size_t n);   /* "鑫源" */
char *situ__demo_road(situ__demo_rng *r, char *buf, size_t n);    /* "潇湘路" */
/* Day number (days since 1970-01-01) as YYYY-MM-DD. */
char *situ__demo_date(long day, char *buf, size_t n);
long situ__demo_day(int y, int m, int d);

/* The data set's "today": dates and readings are fixed relative to it. */
#define SITU_DEMO_AS_OF_Y 2026
#define SITU_DEMO_AS_OF_M 11
#define SITU_DEMO_AS_OF_D 28

/* ---- the base city -------------------------------------------------- */

enum { SITU_DEMO_SUBDISTRICT = 0, SITU_DEMO_TOWN, SITU_DEMO_TOWNSHIP };

typedef struct situ__demo_county {
    char code[8], name[64], short_name[32];
    double seat_lon, seat_lat, center_lon, center_lat;
    double area_km2; /* the real area, a target for the tessellation */
    long population;
    int hilly, forest, mining, industry; /* 0..3 */
    int city_seat;                       /* the city's own teams and depots are here */
    int seat_township;                   /* the township at the seat */
} situ__demo_county;

typedef struct situ__demo_township {
    char code[10], name[64], kind_name[16];
    int county, kind;
    double seat_lon, seat_lat; /* inside the polygon, on the 1e-7 grid */
    double area_km2;
    long population;
    double minx, miny, maxx, maxy;
    GEOSGeometry *geom; /* MultiPolygon, lon/lat on the 1e-7 grid */
    const GEOSPreparedGeometry *prep;
} situ__demo_township;

typedef struct situ__demo_river {
    char name[32];
    int rank; /* 1 main stem, 2 tributary */
    int n;
    double *lon, *lat, *cum_km; /* cum_km[i]: length from vertex 0 */
} situ__demo_river;

/* Where a generated thing goes: a row of a generator's table says which. */
typedef enum situ__demo_place {
    SITU_DEMO_AT_RIVER = 0, /* along a river, main stems first */
    SITU_DEMO_URBAN,        /* near a township seat, by population */
    SITU_DEMO_INDUSTRY,     /* near a county seat, by the county's industry */
    SITU_DEMO_HILLS,        /* anywhere in a rural township of a hilly county */
    SITU_DEMO_FOREST,       /* ... of a forest county */
    SITU_DEMO_MINING,       /* ... of a mining county */
    SITU_DEMO_ANYWHERE,     /* anywhere, by area */
    SITU_DEMO_NPLACES
} situ__demo_place;

typedef struct situ__demo_city {
    GEOSContextHandle_t gh;
    char geos_msg[256]; /* the last GEOS error or notice */
    situ__demo_county *counties;
    int ncounties;
    situ__demo_township *townships;
    int ntownships;
    situ__demo_river *rivers;
    int nrivers;
    GEOSGeometry *outline; /* lon/lat */
    const GEOSPreparedGeometry *outline_prep;
    double minx, miny, maxx, maxy;
    GEOSSTRtree *index;                 /* township envelopes -> index + 1 */
    double *place_w[SITU_DEMO_NPLACES]; /* cumulative township weights */
    double *river_w;                    /* cumulative river weights */
    double *industry_w;                 /* cumulative county weights */
} situ__demo_city;

/* Reads geodata_dir and builds the base city (deterministic in seed). */
int situ__demo_city_load(situ__demo_city *c, const char *geodata_dir, uint64_t seed, situ_err *err);
void situ__demo_city_dispose(situ__demo_city *c);
/* The township that contains (lon, lat) strictly, or -1. */
int situ__demo_city_locate(const situ__demo_city *c, double lon, double lat);
/* A point placed by rule p; returns its township (>= 0) or -1 when no
 * placement worked. *out_angle gets the river's direction (radians) at the
 * point for SITU_DEMO_AT_RIVER, else a random angle. */
int situ__demo_city_place(const situ__demo_city *c, situ__demo_rng *r, situ__demo_place p,
                          double *out_lon, double *out_lat, double *out_angle, int *out_river);
/* Distance (km) from (lon, lat) to the nearest river of rank <= rank. */
double situ__demo_city_river_km(const situ__demo_city *c, double lon, double lat, int rank);
/* A point near township t's seat (normal, sigma_km); returns its township. */
int situ__demo_city_near_seat(const situ__demo_city *c, situ__demo_rng *r, int t, double sigma_km,
                              double *out_lon, double *out_lat);
/* Area on the WGS84 ellipsoid (through the cylindrical equal-area
 * projection) of a lon/lat ring moved north by dlat degrees, km2, positive
 * when counter-clockwise. */
double situ__demo_ring_area_km2(const double *lon, const double *lat, int n, double dlat);
/* The same for a (Multi)Polygon: exteriors minus holes. */
double situ__demo_area_km2(GEOSContextHandle_t gh, const GEOSGeometry *g, double dlat);
/* Builds the township polygons; called by situ__demo_city_load. */
int situ__demo_tess_build(situ__demo_city *c, uint64_t seed, situ_err *err);

/* The local equirectangular frame (km) used for shapes and distances. */
#define SITU_DEMO_LON0 111.7
#define SITU_DEMO_LAT0 25.75
#define SITU_DEMO_KM_PER_DEG_LAT 110.574
#define SITU_DEMO_KM_PER_DEG_LON 100.266 /* 111.320 * cos(25.75 deg) */
static inline double situ__demo_snap(double v)
{
    return nearbyint(v * 1e7) / 1e7;
}

/* ---- the feature record and the writers ----------------------------- */

#define SITU_DEMO_MAX_FIELDS 16

typedef struct situ__demo_feat {
    const situ_collection *coll;
    char id[40];
    char township_code[16];
    situ_value v[SITU_DEMO_MAX_FIELDS]; /* one per schema field; type 0 = NULL */
    const char *items_json;             /* resources: a JSON array */
    OGRGeometryH geom;                  /* lon/lat, owned by the record */
    const char *bad_field;              /* a name the schema does not know */
    size_t nbuf;
    char buf[6144]; /* text of this feature */
} situ__demo_feat;

void situ__demo_feat_reset(situ__demo_feat *f, const situ_collection *coll);
/* Copies formatted text into the record's buffer; returns it. */
const char *situ__demo_feat_printf(situ__demo_feat *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void situ__demo_feat_text(situ__demo_feat *f, const char *field, const char *s); /* s copied */
void situ__demo_feat_int(situ__demo_feat *f, const char *field, long long i);
void situ__demo_feat_real(situ__demo_feat *f, const char *field, double d, int decimals);
void situ__demo_feat_bool(situ__demo_feat *f, const char *field, int b);

typedef struct situ__demo_out situ__demo_out;
/* Creates every collection file in dir (removing old ones first), from
 * scale 10 on the GeoJSON ones as FlatGeobuf. */
int situ__demo_out_open(const char *dir, int scale, situ__demo_out **out, situ_err *err);
/* Writes f (geometry in lon/lat) to its collection's file. */
int situ__demo_out_write(situ__demo_out *o, const situ__demo_feat *f, situ_err *err);
/* Closes the files and makes them deterministic (DBF date, no .cpg);
 * with ok == 0 only releases. */
int situ__demo_out_close(situ__demo_out *o, int ok, situ_err *err);
int situ__demo_out_departments(const char *dir, situ_err *err);
int situ__demo_out_manifest(const char *dir, const situ_demo_opts *opts, situ_err *err);

/* ---- the generators ------------------------------------------------- */

typedef struct situ__demo_gen {
    const situ__demo_city *city;
    situ__demo_out *out;
    uint64_t seed;
    int copy; /* 0 = Yongzhou itself */
    double dx, dy;
    char (*tcode)[10]; /* township codes of this copy */
    char (*ccode)[8];  /* county codes of this copy */
    char (*cname)[80]; /* county names of this copy */
    situ__demo_rng rng;
    int river;        /* the {river} of templates, or -1 */
    long long seq;    /* features written in this collection and copy */
    long long *count; /* situ_demo_stats.count */
    double *pts;      /* the resources of this copy, base frame, lon/lat pairs */
    int npts, cappts;
    FILE *places;      /* places.geojson */
    long long nplaces; /* places written, all copies */
    situ__demo_feat feat;
} situ__demo_gen;

/* Starts collection cid of the current copy: its own PRNG stream, seq 0. */
void situ__demo_gen_begin(situ__demo_gen *g, situ_coll_id cid);
/* Starts a new record: its id ("HZ-000123", or "HZ-007-000123" in copy 7)
 * and, for t >= 0, its township_code. */
void situ__demo_gen_new(situ__demo_gen *g, const char *prefix, int t);
/* Makes a point / a one-ring MultiPolygon (ring not closed) geometry in the
 * base frame. */
void situ__demo_gen_point(situ__demo_gen *g, double lon, double lat);
void situ__demo_gen_polygon(situ__demo_gen *g, const double *lon, const double *lat, int n);
/* ... and a one-part MultiLineString through n vertices. */
void situ__demo_gen_line(situ__demo_gen *g, const double *lon, const double *lat, int n);
/* Shifts the record's geometry by the copy offset, writes it, counts it. */
int situ__demo_gen_emit(situ__demo_gen *g, situ_err *err);
/* Expands a template for township t into the record's buffer and returns
 * it: one of its "|"-separated alternatives at random, with {county}
 * {short} {town} {village} {brand} {road} {river} {n} (1..199) {k} (1..9)
 * replaced. */
const char *situ__demo_gen_expand(situ__demo_gen *g, const char *tmpl, int t);

int situ__demo_gen_townships(situ__demo_gen *g, situ_err *err);
int situ__demo_gen_risk_zones(situ__demo_gen *g, situ_err *err);
int situ__demo_gen_hazards(situ__demo_gen *g, situ_err *err);
int situ__demo_gen_hazard_sources(situ__demo_gen *g, situ_err *err);
int situ__demo_gen_resources(situ__demo_gen *g, situ_err *err);
int situ__demo_gen_stations(situ__demo_gen *g, situ_err *err);
/* Copies 0..SITU_DEMO_ROADS_FULL_COPIES-1 get roads with a vertex every
 * 70-300 m; further copies the same network with vertices
 * SITU_DEMO_ROADS_THIN_STEP times as far apart, so that scale 200 stays
 * under ten million edges. */
#define SITU_DEMO_ROADS_FULL_COPIES 10
#define SITU_DEMO_ROADS_THIN_STEP 4
int situ__demo_gen_roads(situ__demo_gen *g, situ_err *err);
/* places.geojson in dir: opened before the copies, each copy's places
 * written by situ__demo_gen_places, closed (completed when ok) after. */
int situ__demo_places_open(situ__demo_gen *g, const char *dir, situ_err *err);
int situ__demo_gen_places(situ__demo_gen *g, situ_err *err);
int situ__demo_places_close(situ__demo_gen *g, int ok, situ_err *err);

#endif

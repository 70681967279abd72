/*
 * load_int.h: private to the loader (layers/load/load*.c); nothing else includes it.
 *
 * The loader is seven files. load.c: the entry points, GDAL set-up and error
 * routing, the transaction, --all and manifest.ini. load_source.c: one OGR
 * source (open, CRS, the feature loop, geometry checks, stats). load_fields.c:
 * source fields onto schema fields (coercion, extra, items). load_geos.c: GEOS
 * polygon repair and township assignment. load_roads.c: an OSM file's ways
 * and a transport department's codes and grades as roads fields.
 * load_batch.c: features copied for one multi-row upsert (PostgreSQL) or
 * for the writer thread. load_pipe.c: on SpatiaLite, the writer thread that
 * upserts batches while the loader's thread reads the next.
 */
#ifndef SITU_LOAD_INT_H
#define SITU_LOAD_INT_H

#define GEOS_USE_ONLY_R_API
#include <gdal.h>
#include <geos_c.h>
#include <ogr_api.h>
#include "situ/db.h"
#include "situ/load.h"

/* ---- arena: strings that live until the next reset ---------------------- */

typedef struct situ__arena_block situ__arena_block;
typedef struct situ__arena {
    situ__arena_block *head;
} situ__arena;

/* A copy of s[0..n) plus NUL, owned by a; NULL when out of memory. */
char *situ__arena_strndup(situ__arena *a, const char *s, size_t n);
/* Forgets every string but keeps the first block for reuse. */
void situ__arena_reset(situ__arena *a);
void situ__arena_dispose(situ__arena *a);

/* ---- GEOS (load_geos.c) ------------------------------------------------- */

typedef struct situ__geos situ__geos;

/* One GEOS context per load, its messages kept instead of printed. */
int situ__geos_new(situ__geos **out_geos, situ_err *err);
void situ__geos_free(situ__geos *g);

/* A polygonal feature after validation. */
typedef struct situ__poly {
    GEOSGeometry *geom; /* owned; valid */
    unsigned char *wkb; /* the repaired WKB (GEOS-owned), or NULL: the input stands */
    size_t nwkb;
    int repaired;
    int flagged;        /* repaired past max_area_change, kept for review */
    double area_change; /* repaired: |after - before| / max(before, after) */
    double seconds;     /* the time validation and repair took */
} situ__poly;

/* What a repair may cost and change. */
typedef struct situ__repair_limits {
    double seconds;         /* GEOS time per feature before it is "too complex" */
    double max_area_change; /* share */
    int flag;               /* 1: past max_area_change keep and flag, 0: reject */
} situ__repair_limits;

/* Reads polygonal WKB and repairs it when invalid (MakeValid, polygonal part
 * kept) within lim. Returns 0 with *out filled, 1 with a rejection in
 * reason (unreadable, too complex, area changed too much), or < 0. */
int situ__geos_polygon(situ__geos *g, const unsigned char *wkb, size_t nwkb,
                       const situ__repair_limits *lim, situ__poly *out, char reason[128]);
/* Frees what situ__geos_polygon put in p; p may be zeroed. */
void situ__poly_dispose(situ__geos *g, situ__poly *p);

typedef struct situ__townships situ__townships;

/* Reads every township of the store (through db, inside the open
 * transaction) into an STRtree of prepared geometries. */
int situ__townships_new(situ__geos *g, situ_db *db, situ__townships **out_t, situ_err *err);
void situ__townships_free(situ__townships *t);
/* Number of townships in t; 1 when code is one of them. */
int situ__townships_count(const situ__townships *t);
int situ__townships_has(const situ__townships *t, const char *code);
/* 1 when the township named code covers (lon, lat), or meets poly when
 * poly is not NULL: the file's code stands. */
int situ__townships_agree(situ__townships *t, const char *code, double lon, double lat,
                          const GEOSGeometry *poly);
/* The code of the township covering (lon, lat); the smallest code when it
 * lies on a shared border; NULL when outside all. The string is t's. */
const char *situ__townships_at(situ__townships *t, double lon, double lat);
/* The code of the township holding the largest share of poly's area (ties:
 * the smallest code); NULL when it overlaps none. */
const char *situ__townships_for(situ__townships *t, const GEOSGeometry *poly);

/* ---- fields (load_fields.c) --------------------------------------------- */

typedef struct situ__fieldmap situ__fieldmap;

/* How a source's fields are read. */
typedef struct situ__fieldmap_opts {
    const char *const *map; /* "src=prop" pairs */
    int nmap;
    const char *map_what;      /* where they come from, for messages: "--map" */
    const char *recode;        /* encoding of a raw-bytes source (CSV), or NULL */
    int recode_skips;          /* recode drops the bytes it cannot read, as GDAL's Shapefile
                                  driver does with its ENCODING (a Shapefile), instead of
                                  rejecting the text (a CSV) */
    int strings_only;          /* every value arrives as text: detect extra numbers */
    const char *const *ignore; /* NULL-terminated source fields to drop, or NULL */
    const char *id_field;      /* the source's id field (--id-field), or NULL */
    int generate_ids;          /* no id field: ids "<collection>-<gen_prefix>-<FID>" */
    const char *gen_prefix;
    int detect_gbk;   /* undeclared raw bytes: text that is not UTF-8 is tried as GB18030 */
    const char *path; /* for messages */
} situ__fieldmap_opts;

/* Maps the fields of layer definition d onto collection c: explicit "src=prop"
 * pairs first, then names case-insensitively; the rest go to extra. */
int situ__fieldmap_new(const situ_collection *c, OGRFeatureDefnH d, const situ__fieldmap_opts *o,
                       situ__fieldmap **out_m, situ_err *err);
void situ__fieldmap_free(situ__fieldmap *m);

typedef struct situ__row situ__row;

int situ__row_new(const situ__fieldmap *m, situ__row **out_r);
void situ__row_free(situ__row *r);
/* Reads feature f into out (id, township_code, values, extra, items; not the
 * geometry). Everything in out is borrowed from r and f until the next call.
 * Every text in out is valid UTF-8 without NULs cut off, an id has no control
 * characters. Returns 0, 1 when the feature is rejected (reason filled;
 * out->id set when the feature has one), or < 0 when out of memory. */
int situ__row_read(situ__row *r, OGRFeatureH f, situ_feature_in *out, char reason[128]);
/* 1 when the last row read had undeclared text that was read as GBK. */
int situ__row_was_gbk(const situ__row *r);

/* ---- roads (load_roads.c) ---------------------------------------------- */

/* Opens an OSM file (.osm.pbf, .osm) with situ's osmconf.ini: *out_ds (the
 * caller closes it) and its lines layer *out_lyr. */
int situ__roads_osm_open(const char *path, GDALDatasetH *out_ds, OGRLayerH *out_lyr, situ_err *err);

/* The features of a roads source as the field map is to read them. */
typedef struct situ__roads_src situ__roads_src;

/* Sets up the translation of lyr's features (osm: an OSM lines layer; path
 * for messages). The pairs of map that are the class rules' (FIELD=class,
 * FIELD=grade, class:KEY=CLASS) are taken here; situ__roads_src_map gives
 * the rest, plus the aliases found (路线编码=ref, 路线名称=name), for the
 * field map. A source with none of class, route code or grade is refused. */
int situ__roads_src_new(const char *path, OGRLayerH lyr, int osm, const char *const *map, int nmap,
                        const char *map_what, situ__roads_src **out_r, situ_err *err);
void situ__roads_src_free(situ__roads_src *r);
/* The definition of the features made (the field map's input). */
OGRFeatureDefnH situ__roads_src_defn(const situ__roads_src *r);
const char *const *situ__roads_src_map(const situ__roads_src *r, int *out_nmap);
/* Source feature f as a roads feature *out (r's until the next call; f's
 * geometry moves into it). Returns 0, 1 when f is no road a car may drive
 * (skipped), or SITU_ENOMEM. */
int situ__roads_src_feature(situ__roads_src *r, OGRFeatureH f, OGRFeatureH *out_f);

/* ---- batches (load_batch.c) --------------------------------------------- */

/* Up to SITU_STORE_BATCH_ROWS features of one collection, copied, for one
 * situ_store_upsert_many. */
typedef struct situ__batch situ__batch;

int situ__batch_new(const situ_collection *c, situ__batch **out_b);
void situ__batch_free(situ__batch *b);
/* Copies fin into b. Returns 1 when b is full now (flush it), 0, or
 * SITU_ENOMEM. */
int situ__batch_add(situ__batch *b, const situ_feature_in *fin);
/* Writes b's features into s and empties b: *out_inserted of *out_n were
 * new ids. On failure the caller rolls back. */
int situ__batch_flush(situ__batch *b, situ_store *s, long long *out_inserted, long long *out_n,
                      situ_err *err);
/* Empties b without writing it. */
void situ__batch_reset(situ__batch *b);
/* Empties b and makes it collection c's (any collection fits any batch). */
void situ__batch_for(situ__batch *b, const situ_collection *c);
const situ_collection *situ__batch_collection(const situ__batch *b);
/* The features in b. */
int situ__batch_size(const situ__batch *b);

/* ---- the writer thread (load_pipe.c) ------------------------------------ */

/* Jobs on their way from the reading thread to the one writer thread of a
 * load, which alone uses the store's connection until situ__pipe_finish
 * (SpatiaLite): per source a bulk write begins, batches, it ends. */
typedef struct situ__pipe situ__pipe;

/* Starts the writer of a load into s. */
int situ__pipe_start(situ_store *s, situ__pipe **out_p, situ_err *err);
/* Queues the start of collection c's bulk write (situ_store_bulk_begin)
 * and puts the first empty batch to fill in *out_b. Returns 0, or the
 * writer's failure so far (its message in err): stop reading. */
int situ__pipe_begin(situ__pipe *p, const situ_collection *c, situ__batch **out_b, situ_err *err);
/* Hands full batch *b to the writer, waiting while the queue is full, and
 * puts an empty batch of the same collection in *b. Returns as above. */
int situ__pipe_send(situ__pipe *p, situ__batch **b, situ_err *err);
/* Hands over the collection's last batch *b (*b becomes NULL) and queues
 * the end of its bulk write (situ_store_bulk_end); does not wait for it.
 * Returns as above. */
int situ__pipe_end(situ__pipe *p, situ__batch **b, situ_err *err);
/* Waits until the writer has done every job queued: until the next send,
 * this thread may use the store's connection. Returns as above. */
int situ__pipe_sync(situ__pipe *p, situ_err *err);
/* Waits until every job queued is done, stops the writer and frees p and
 * its batches (a batch still held is freed too): per collection id,
 * out_inserted of out_n rows written were new ids. Returns the writer's
 * failure, if any (err untouched when NULL). */
int situ__pipe_finish(situ__pipe *p, long long out_inserted[SITU_NCOLLECTIONS],
                      long long out_n[SITU_NCOLLECTIONS], situ_err *err);

/* ---- one source (load_source.c) ----------------------------------------- */

/* What one source is loaded with, once the CLI and the manifest have spoken. */
typedef struct situ__source_opts {
    const situ_collection *c;
    const char *layer;     /* NULL: the layer named like the collection, else the first */
    const char *s_srs;     /* NULL: the file's own CRS */
    int s_srs_fallback;    /* 1: s_srs only when the file has no CRS */
    const char *encoding;  /* NULL: the .cpg or GDAL's default */
    int encoding_fallback; /* 1: encoding only for a Shapefile without .cpg */
    const char *const *map;
    int nmap;
    const char *map_what;      /* for messages: "--map" or "map in [hazards] of DIR/manifest.ini" */
    const char *where;         /* for messages: "" or " (or s_srs = in [hazards] of ...)" */
    const char *encoding_what; /* encoding named for this very file: "--encoding" or
                                  "encoding in [x] of ..."; NULL when only a default */
    const char *id_field;
    int generate_ids;
} situ__source_opts;

/* How a source is opened (load_source.c, and ahead in load.c; a GeoJSON
 * one with SITU_LOAD_GEOJSON_OO). */
#define SITU__OPEN_FLAGS (GDAL_OF_VECTOR | GDAL_OF_READONLY | GDAL_OF_VERBOSE_ERROR)

typedef struct situ__ahead situ__ahead;

/* What the sources of one load (one transaction) share. */
typedef struct situ__loader {
    situ_store *s;
    const situ_load_opts *o; /* limits and callbacks */
    situ__geos *geos;
    situ__townships *townships; /* built on first need, dropped after a townships load */
    situ__pipe *pipe;           /* SpatiaLite: the load's writer thread, from its first source */
    const char *next_path;      /* --all: the file loaded after this one, or NULL */
    situ__ahead *ahead;         /* that file being opened on a thread of its own, or NULL */
    long long inserted[SITU_NCOLLECTIONS], written[SITU_NCOLLECTIONS]; /* the pipe's counts */
    int gdal_failed;    /* set by the GDAL handler on CE_Failure */
    char gdal_msg[256]; /* its last failure message */
    void (*progress)(void *ctx, const char *collection, long long done, long long total);
    void *progress_ctx;
    long long saved_cache_size; /* the connection's settings, put back after */
    int saved_temp_store;
} situ__loader;

/* ---- the next GeoJSON file, opened ahead (load.c) ----------------------- */

/* Opens path on a thread of its own when it is a GeoJSON file (GDAL reads
 * all of it when opening it), while this thread loads the current source;
 * drops what an earlier call opened and nobody took. */
void situ__ahead_start(situ__loader *L, const char *path);
/* The GeoJSON dataset opened ahead for path (the caller closes it), or NULL
 * when there is none or its open failed: then open it here, which reports
 * why. Waits for the thread. */
GDALDatasetH situ__ahead_take(situ__loader *L, const char *path);
/* Waits for the thread and closes what it opened. */
void situ__ahead_drop(situ__loader *L);

/* Loads one source into so->c inside L's open transaction. out_stats is
 * written on success, but for rows the writer thread still writes: their
 * counts are in L->inserted, L->written once the load's pipe is finished
 * (load.c). On failure the caller rolls back. */
int situ__load_source(situ__loader *L, const char *path, const situ__source_opts *so,
                      situ_load_stats *out_stats, situ_err *err);

#endif

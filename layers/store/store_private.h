/*
 * store_private.h: private to layers/store. The store's state, shared by
 * store.c (what both engines do alike: transactions, the feature write path,
 * counts), store_sqlite.c (the SpatiaLite file: PRAGMAs, SpatiaLite's
 * metadata, migrations by user_version, integrity_check) and store_pg.c
 * (PostgreSQL + PostGIS: the schema as DDL, the version in table meta,
 * PostGIS and index checks).
 */
#ifndef SITU_STORE_PRIVATE_H
#define SITU_STORE_PRIVATE_H

#include "situ/buf.h"
#include "situ/db.h"
#include "situ/store.h"

/* store_rtree.c: one cell of an R-tree node, as SQLite's R-tree holds it: a
 * rowid (leaf) or child index, and float32 xmin, xmax, ymin, ymax. */
typedef struct situ__rtree_cell {
    long long id;
    float b[4];
} situ__rtree_cell;
/* The boxes of the rows a bulk write gathered, in the order added. */
typedef struct situ__rtree_rows {
    situ__rtree_cell *v;
    size_t n, cap;
    sqlite3_stmt *align; /* SQLite's own rounding, when x is near a step */
    long long nslow;     /* bounds rounded by align */
} situ__rtree_rows;

/* store.c: the items of the new resources of a bulk write, kept until its
 * next step or end writes them many rows per statement, in the order kept.
 * Strings are offsets into text (each NUL-terminated); unit SIZE_MAX: none. */
typedef struct situ__item_row {
    size_t id, item, unit, now;
    double quantity;
} situ__item_row;
typedef struct situ__items_pending {
    situ__item_row *v;
    size_t n, cap;
    situ_buf text;
} situ__items_pending;

struct situ_store {
    sqlite3 *db;  /* SpatiaLite only; NULL on PostgreSQL */
    situ_db *sql; /* the connection through situ_db (db.h), either engine */
    void *spatialite_cache;
    int readonly;
    int in_tx;
    situ_db_stmt *upsert[SITU_NCOLLECTIONS];
    situ_db_stmt *insert[SITU_NCOLLECTIONS]; /* SpatiaLite bulk writes: no conflict clause */
    situ_db_stmt *exists[SITU_NCOLLECTIONS];
    situ_db_stmt *upsert_batch[SITU_NCOLLECTIONS]; /* PostgreSQL: SITU_STORE_BATCH_ROWS rows */
    situ_db_stmt *items_clear;
    situ_db_stmt *items_insert;
    situ_db_stmt *items_insert_many; /* SITU__ITEMS_PER_STATEMENT rows */
    situ__items_pending items_pending;
    /* store_bulk.c: per collection, 1 while a bulk write has its secondary
     * indexes and per-row triggers set aside, and the SQL (sqlite3_malloc'd)
     * that creates them again */
    int bulk[SITU_NCOLLECTIONS];
    char *bulk_restore[SITU_NCOLLECTIONS];
    long long bulk_indexed[SITU_NCOLLECTIONS];  /* the last fid whose box is gathered */
    sqlite3_stmt *bulk_read[SITU_NCOLLECTIONS]; /* the boxes of the rows past it */
    situ__rtree_rows bulk_rows[SITU_NCOLLECTIONS];
    /* SpatiaLite: the geometry blob of the row being written (store_blob.c),
     * and per collection SpatiaLite's own conversion of a WKB it declines */
    situ_buf geom;
    sqlite3_stmt *geom_convert[SITU_NCOLLECTIONS];
};

/* store_blob.c: the SpatiaLite BLOB-geometry that the store's SQL made of
 * WKB (wkb, n) for a collection of gtype, into out (emptied first):
 * GeomFromWKB(wkb, srid), then CastToMultiPolygon or CastToMultiLinestring
 * for a collection of those. Returns 0; 1 when wkb is not plain XY
 * little-endian WKB of gtype's kind (a Polygon or LineString stands for a
 * one-part multi), which SpatiaLite must convert; -1 when out of memory. */
int situ__spatialite_blob(const unsigned char *wkb, size_t n, situ_gtype gtype, int srid,
                          situ_buf *out);

/* Opens the engine's connection into s and brings its schema to
 * SITU_SCHEMA_VERSION (flags as situ_store_open's). */
int situ__store_open_sqlite(situ_store *s, const char *path, unsigned flags, situ_err *err);
int situ__store_open_pg(situ_store *s, const char *conninfo, unsigned flags, situ_err *err);
int situ__store_version_sqlite(situ_store *s);
int situ__store_version_pg(situ_store *s);
int situ__store_check_sqlite(situ_store *s, int thorough, situ_err *err);
int situ__store_check_pg(situ_store *s, int thorough, situ_err *err);
void situ__store_close_sqlite(situ_store *s);

/* The geometry type of collection c's geom column, as SpatiaLite and PostGIS
 * name it: POINT, MULTIPOLYGON or MULTILINESTRING. */
const char *situ__store_geometry_type(const situ_collection *c);
/* Writes the items kept by the bulk write of resources (in the order kept)
 * into resource_items; on failure the error names the first refused, as
 * writing them one by one would. Forgets them either way. */
int situ__store_items_flush(situ_store *s, situ_err *err);
/* Forgets the items kept without writing them. */
void situ__store_items_forget(situ_store *s);
/* Forgets every bulk write's state (the transaction ended without
 * situ_store_bulk_end: a rollback put the triggers back). */
void situ__store_bulk_forget(situ_store *s);
/* 1 while some collection's bulk write is open. */
int situ__store_bulk_open(const situ_store *s);
/* Adds row id's box (mbr: min x, min y, max x, max y as SpatiaLite gives
 * them) to r, rounded as SQLite's R-tree stores RTreeAlign's values; db
 * rounds the rare bound too near a float step to decide here. Returns an
 * SQLite code. */
int situ__rtree_add(situ__rtree_rows *r, sqlite3 *db, long long id, const double mbr[4]);
/* Replaces the content of R-tree table (SpatiaLite's idx_<c>_geom) by a tree
 * packed from r's boxes, written into its shadow tables inside the open
 * transaction. Reorders r->v. */
int situ__rtree_write(situ__rtree_rows *r, sqlite3 *db, const char *table, situ_err *err);
void situ__rtree_rows_dispose(situ__rtree_rows *r);
/* The column type of a collection field of type t in engine e's SQL. */
const char *situ__store_type(situ_db_engine e, situ_ftype t);
/* A fixed table's geometry column (SRID 4326): its table and type. */
typedef struct situ__fixed_geom {
    const char *table, *type;
} situ__fixed_geom;
/* Appends to out the DDL of the fixed tables and indexes schema version
 * version brought (store_tables.c), in engine e's types; returns the
 * geometry column that version adds to them (the engine adds it), or NULL. */
const situ__fixed_geom *situ__store_fixed_sql(int version, situ_db_engine e, situ_buf *out);
/* Fills the items and departments vocabularies from schema.c (new stores). */
int situ__store_seed(situ_store *s, situ_err *err);

#endif

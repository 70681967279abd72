/*
 * situ/schema.h: the eight collections, their fields, the item vocabulary and
 * the departments, as tables that the store, the loader, the snapshot, the
 * tiles, the items route and the export all read. Adding a field is one edit
 * in layers/schema.c.
 *
 * Every collection also has the common columns id (TEXT, stable), township_code
 * (TEXT), updated_at (TEXT, RFC 3339 UTC) and extra (TEXT, JSON of fields the
 * schema does not name), and one geometry column `geom` in EPSG:4326.
 */
#ifndef SITU_SCHEMA_H
#define SITU_SCHEMA_H

#include <stddef.h>

typedef enum situ_ftype {
    SITU_FT_TEXT = 1,
    SITU_FT_INT,
    SITU_FT_REAL,
    SITU_FT_BOOL,
} situ_ftype;

enum {
    SITU_FF_REQUIRED = 1 << 0, /* a feature without it is rejected */
    SITU_FF_FILTER = 1 << 1,   /* usable as a property filter (?name=value) */
};

typedef struct situ_field {
    const char *name;
    situ_ftype type;
    unsigned flags;
    const char *domain; /* "a|b|c" for enumerated text, "1..4" for ranges, or NULL */
    const char *title_zh;
} situ_field;

typedef enum situ_gtype {
    SITU_GT_POINT = 1,
    SITU_GT_MULTIPOLYGON,
    /* roads: each LineString part is kept in the snapshot as a situ_poly of
     * one ring, that ring being the open line (not closed, not reoriented) */
    SITU_GT_MULTILINESTRING,
} situ_gtype;

typedef enum situ_coll_id {
    SITU_C_TOWNSHIPS = 0,
    SITU_C_RISK_ZONES,
    SITU_C_HAZARDS,
    SITU_C_HAZARD_SOURCES,
    SITU_C_RESOURCES,
    SITU_C_STATIONS,
    SITU_C_ALERTS,
    SITU_C_ROADS,
    SITU_NCOLLECTIONS
} situ_coll_id;

typedef struct situ_collection {
    situ_coll_id cid;
    const char *id; /* also the table name and the MVT layer name */
    const char *title_zh;
    const char *title_en;
    const char *description;
    situ_gtype gtype;
    const situ_field *fields;
    int nfields;
    int minzoom; /* lowest zoom at which tiles carry it */
} situ_collection;

typedef struct situ_item {
    const char *code;
    const char *name_zh;
    const char *name_en;
    const char *unit;
} situ_item;

typedef struct situ_dept {
    const char *code;
    const char *name_zh;
    const char *name_en;
    int interval_s; /* expected reporting interval */
} situ_dept;

/* The collection table, in load order (townships first). */
const situ_collection *situ_schema_collection(situ_coll_id cid);
/* Looks a collection up by id; NULL when unknown. */
const situ_collection *situ_schema_find(const char *id);
/* Index of field `name` in c, or -1. */
int situ_schema_field_index(const situ_collection *c, const char *name);
/* 1 when text value v is allowed by field f's domain (or f has none). */
int situ_schema_domain_ok(const situ_field *f, const char *v);

/* The item vocabulary. */
int situ_schema_nitems(void);
const situ_item *situ_schema_item(int i);
/* Index of an item code, or -1. */
int situ_schema_item_index(const char *code);

/* The 19 departments. */
int situ_schema_ndepts(void);
const situ_dept *situ_schema_dept(int i);
int situ_schema_dept_index(const char *code);

#endif

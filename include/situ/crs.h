/*
 * situ/crs.h: the coordinate reference systems situ answers in besides its
 * storage CRS (OGC CRS84, lon/lat on WGS84): EPSG:4326 (lat/lon), CGCS2000
 * EPSG:4490 (lat/lon) and the CGCS2000 3-degree Gauss-Krueger zones over
 * Hunan, EPSG:4545, 4546 and 4547 (northing/easting, as EPSG defines them).
 * Coordinates go out in each CRS's own axis order (OGC API - Features Part 2:
 * the CRS's axis order applies, CRS84's is lon/lat). PROJ does the maths.
 */
#ifndef SITU_CRS_H
#define SITU_CRS_H

#include "situ/err.h"

enum { SITU_CRS_CRS84 = 0, SITU_NCRS = 6 };

/* The OGC URI of crs i (0 <= i < SITU_NCRS), e.g.
 * "http://www.opengis.net/def/crs/EPSG/0/4546". */
const char *situ_crs_uri(int i);
/* The name PROJ and GDAL take: "OGC:CRS84", "EPSG:4546". */
const char *situ_crs_code(int i);
/* 1 when crs i is projected (metres), 0 when geographic (degrees). */
int situ_crs_projected(int i);
/* Decimals that keep 1 mm: 3 for metres, 8 for degrees. */
int situ_crs_decimals(int i);
/* The crs named by text (its URI, "EPSG:n", "[EPSG:n]", "CRS84",
 * "OGC:CRS84"), or -1 (err says which CRSs are supported, naming `param`). */
int situ_crs_find(const char *text, const char *param, situ_err *err);

/* A transformation between CRS84 and one crs. Not thread-safe: one per
 * thread (each has its own PROJ context). situ_crs_xform_free keeps it in a
 * pool that situ_crs_xform_new takes from (PROJ takes 100 ms or more to
 * make one). */
typedef struct situ_crs_xform situ_crs_xform;
int situ_crs_xform_new(int crs, situ_crs_xform **out, situ_err *err);
/* CRS84 (lon, lat) -> the crs, in its axis order, in place. ctx is the
 * situ_crs_xform (the shape of situ_geojson_opts' xform). */
void situ_crs_xform_point(void *ctx, double *x, double *y);
/* A box given in the crs's axis order (min1,min2,max1,max2) -> the CRS84
 * box (minlon,minlat,maxlon,maxlat) that holds it (edges densified). */
int situ_crs_xform_bbox(situ_crs_xform *x, const double in[4], double out[4], situ_err *err);
void situ_crs_xform_free(situ_crs_xform *x);
/* How many transformations for crs i wait in the pool. */
int situ_crs_pooled(int i);

#endif

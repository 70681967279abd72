/*
 * situ/demo.h: the Yongzhou demo data set, generated deterministically.
 *
 * Owns: synthetic but plausible township polygons for the real 182 township
 * codes and names (geodata/yongzhou_townships.csv), the four maps, stations
 * and the department registry, a road network (roads.fgb), written one file per collection
 * (GeoJSON, a GBK Shapefile in EPSG:4546, a CSV in CGCS2000, FlatGeobuf for the roads, by far
 * the largest, which GDAL reads several times faster than GeoJSON) plus the manifest.ini that
 * situ_load_dir reads. Same seed and scale, same bytes.
 */
#ifndef SITU_DEMO_H
#define SITU_DEMO_H

#include "situ/err.h"
#include "situ/schema.h"

/* Copies beyond 1,000 would need four-digit copy numbers in the codes. */
#define SITU_DEMO_MAX_SCALE 1000

typedef struct situ_demo_opts {
    const char *out_dir;     /* created if missing */
    const char *geodata_dir; /* where yongzhou_townships.csv and the inputs live */
    int scale;               /* 1 = Yongzhou; 10 = a province; 200 = a nation */
    unsigned long long seed;
} situ_demo_opts;

typedef struct situ_demo_stats {
    long long count[SITU_NCOLLECTIONS];
} situ_demo_stats;

/* Writes the demo into o->out_dir: townships.geojson, risk_zones.geojson,
 * hazards.shp (EPSG:4546, GBK, no .cpg), hazard_sources.csv (lon/lat in
 * EPSG:4490), resources.geojson, stations.geojson, roads.fgb (unindexed: in writing order;
 * vertices as 7-decimal GeoJSON carries them), departments.csv and
 * manifest.ini, replacing files of those names. Returns 0 or a negative
 * SITU_E... code; on failure the folder may hold partial files.
 * *out_stats (may be NULL) gets the feature counts on success. */
int situ_demo_write(const situ_demo_opts *o, situ_demo_stats *out_stats, situ_err *err);

#endif

/*
 * situ/demo.h: the Yongzhou demo data set, generated deterministically.
 *
 * Owns: synthetic but plausible township polygons for the real 182 township
 * codes and names (geodata/yongzhou_townships.csv), the four maps, stations
 * and the department registry, written one file per collection (GeoJSON, a
 * GBK Shapefile in EPSG:4546, a CSV in CGCS2000) plus the manifest.ini that
 * situ_load_dir reads. Same seed and scale, same bytes.
 */
#ifndef SITU_DEMO_H
#define SITU_DEMO_H

#include "situ/err.h"
#include "situ/schema.h"

typedef struct situ_demo_opts {
    const char *out_dir;     /* created if missing */
    const char *geodata_dir; /* where yongzhou_townships.csv and the inputs live */
    int scale;               /* 1 = Yongzhou; 10 = a province; 200 = a nation */
    unsigned long long seed;
} situ_demo_opts;

typedef struct situ_demo_stats {
    long long count[SITU_NCOLLECTIONS];
} situ_demo_stats;

int situ_demo_write(const situ_demo_opts *o, situ_demo_stats *out_stats, situ_err *err);

#endif

/*
 * export.c: `situ export`, a collection or a drill bundle written by GDAL in
 * any vector format (geojson, gpkg, shp.zip, csv, xlsx, kml or any GDAL short
 * name: ESRI Shapefile with a .cpg, ...), in any CRS of situ/crs.h.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "situ/crs.h"
#include "situ/export.h"
#include "situ/snapshot.h"

static const char usage[] =
    "[--db FILE] (--collection ID [--township CODE] [--bbox minlon,minlat,maxlon,maxlat] | "
    "--drill CODE,CODE...) [-f FORMAT] [--t_srs CRS] [--encoding UTF-8|GBK] --out FILE [--force]";

static int make_export(situ_snapshot *snap, const char *coll, const char *township,
                       const char *bbox, char *drill, situ_export **out, situ_err *err)
{
    if (drill) {
        const char *codes[256];
        int n = 0;
        for (char *save = NULL, *t = strtok_r(drill, ",", &save); t && n < 256;
             t = strtok_r(NULL, ",", &save))
            codes[n++] = t;
        char now[32];
        situ_store_now(now);
        return situ_export_drill_new(snap, codes, n, now, out, err);
    }
    const situ_collection *c = situ_schema_find(coll);
    if (!c)
        return situ_err_set(err, SITU_EINVAL, "no such collection: %s", coll);
    situ_query q;
    situ_query_init(&q, c);
    if ((township && situ_query_set(&q, "township_code", township, err)) ||
        (bbox && situ_query_set(&q, "bbox", bbox, err)))
        return SITU_EINVAL;
    return situ_export_collection_new(snap, &q, out, err);
}

int situ_cli_export(int argc, char **argv)
{
    const char *db = situ_cli_default_db(), *coll = NULL, *township = NULL, *bbox = NULL;
    const char *format = "GeoJSON", *out = NULL, *t_srs = NULL, *encoding = NULL;
    int force = 0;
    char *drill = NULL;
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},       {"collection", required_argument, 0, 'c'},
        {"township", required_argument, 0, 't'}, {"bbox", required_argument, 0, 'b'},
        {"drill", required_argument, 0, 'D'},    {"format", required_argument, 0, 'f'},
        {"out", required_argument, 0, 'o'},      {"force", no_argument, 0, 'F'},
        {"t_srs", required_argument, 0, 's'},    {"encoding", required_argument, 0, 'e'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "f:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            coll = optarg;
            break;
        case 't':
            township = optarg;
            break;
        case 'b':
            bbox = optarg;
            break;
        case 'D':
            drill = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'F':
            force = 1;
            break;
        case 's':
            t_srs = optarg;
            break;
        case 'e':
            encoding = optarg;
            break;
        case 'h':
            printf("usage: situ export %s\nWrites a collection or a drill bundle in any GDAL "
                   "vector format\n(geojson, gpkg, shp.zip, csv, xlsx, kml or a GDAL short name), "
                   "in CRS84 or --t_srs\n(EPSG:4326, EPSG:4490, EPSG:4545, EPSG:4546, EPSG:4547); "
                   "Shapefiles in UTF-8 or --encoding GBK.\nThe file appears only when complete; "
                   "an existing file is "
                   "replaced only with --force,\nand never the store itself.\n",
                   usage);
            return 0;
        default:
            return fprintf(stderr, "usage: situ export %s\n", usage), 2;
        }
    }
    if (!out || (!coll == !drill) || optind != argc)
        return fprintf(stderr, "usage: situ export %s\n", usage), 2;
    situ_err err = {0};
    int crs = t_srs ? situ_crs_find(t_srs, "--t_srs", &err) : SITU_CRS_CRS84;
    if (crs < 0)
        return fprintf(stderr, "situ export: %s\n", err.msg), 2;
    const situ_export_format *f = situ_export_format_find(format);
    if (situ_export_format_check_crs(f, crs, "--t_srs", &err))
        return fprintf(stderr, "situ export: %s\n", err.msg), 2;
    if (f)
        format = f->gdal;
    situ_store *s;
    if (situ_cli_open(db, SITU_STORE_READONLY, &s))
        return 1;
    situ_snapshot *snap = NULL;
    situ_export *e = NULL;
    int rc = situ_snapshot_load(s, &snap, &err);
    situ_store_close(s);
    if (!rc)
        rc = make_export(snap, coll, township, bbox, drill, &e, &err);
    if (!rc && f && f->items_as_columns)
        situ_export_items_as_columns(e);
    if (!rc)
        rc = situ_export_to_file(e, out,
                                 &(situ_export_file_opts){.format = format,
                                                          .layer = drill ? "drill" : coll,
                                                          .protect = db,
                                                          .force = force,
                                                          .t_srs = crs ? situ_crs_code(crs) : NULL,
                                                          .encoding = encoding},
                                 &err);
    if (!rc)
        printf("%zu features written to %s (%s)\n", situ_export_count(e), out, format);
    else
        fprintf(stderr, "situ export: %s\n", err.msg);
    situ_export_free(e);
    situ_snapshot_release(snap);
    return rc ? 1 : 0;
}

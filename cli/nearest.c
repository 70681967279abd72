/*
 * nearest.c: `situ nearest`, the CLI face of /nearest, /within and /locate,
 * and `situ route`, `situ reach`, the faces of /route and /reach. Every
 * --key value pair (or --key=value; a --key followed by another option or
 * nothing is 1) goes to the same parser the HTTP routes use, and the answer
 * is the same GeoJSON text, printed to stdout. --radius_m (or --by road
 * with --minutes) makes it /within, --locate makes it /locate. By road, the
 * network is the roads collection with its statuses as closures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "situ/nearest.h"
#include "situ/roads.h"
#include "situ/snapshot.h"

#define MAX_ARGS 32

static const char usage[] =
    "[--db FILE] --lon X --lat Y [--collection resources] [--k 5] [--max_km N]\n"
    "       [--item sandbag [--min_qty 2000]] [--category team] [--team_type water_rescue]\n"
    "       [--status available] [--FIELD VALUE ...] [--radius_m N [--limit N]] [--locate]\n"
    "       [--by road [--direction to_point|from_point] [--route] [--minutes M]]\n"
    "       [--crs wgs84|gcj02]\n"
    "   or: situ route [--db FILE] --from_lon X --from_lat Y --to ID [--collection C]\n"
    "       [--direction from_point|to_point] [--crs wgs84|gcj02]\n"
    "   or: situ reach [--db FILE] --lon X --lat Y --minutes 10,20,30\n"
    "       [--direction to_point|from_point] [--lines] [--crs wgs84|gcj02]";

static int print_help(void)
{
    printf("usage: situ nearest %s\n"
           "Prints the nearest features to a point as a GeoJSON FeatureCollection, nearest\n"
           "first, with geodesic distances (WGS84) and bearings: the same answer as GET\n"
           "/nearest. With --radius_m every feature within that radius (GET /within); with\n"
           "--locate the township, the hazard sources whose impact radius reaches the point\n"
           "and the active alerts covering it. Any filter field of the collection is an\n"
           "option (--FIELD VALUE). --by road ranks by travel time over the roads open now\n"
           "(GET /nearest?by=road); situ route and situ reach answer GET /route and /reach.\n",
           usage);
    return 0;
}

/* Splits argv into --key value pairs; db, locate and help are taken out. */
static int split_args(int argc, char **argv, const char **keys, const char **vals, int *n,
                      const char **db, int *locate, int *help)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2] || *n == MAX_ARGS)
            return -1;
        a += 2;
        if (!strcmp(a, "help"))
            *help = 1;
        else if (!strcmp(a, "locate"))
            *locate = 1;
        else {
            const char *eq = strchr(a, '=');
            const char *v = eq                                                   ? eq + 1
                            : i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 ? argv[++i]
                                                                                 : "1";
            static char names[MAX_ARGS][64];
            if (!v || (eq && (size_t)(eq - a) >= sizeof names[0]))
                return -1;
            snprintf(names[*n], sizeof names[0], "%.*s", eq ? (int)(eq - a) : 63, a);
            if (!strcmp(names[*n], "db"))
                *db = v;
            else
                keys[*n] = names[*n], vals[(*n)++] = v;
        }
    }
    return 0;
}

static situ_nearest_mode mode_of(const char *cmd, const char **keys, const char **vals, int n,
                                 int locate)
{
    if (!strcmp(cmd, "route") || !strcmp(cmd, "reach"))
        return cmd[2] == 'u' ? SITU_NEAREST_ROUTE : SITU_NEAREST_REACH;
    if (locate)
        return SITU_NEAREST_LOCATE;
    int by_road = 0, minutes = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(keys[i], "radius_m") || !strcmp(keys[i], "limit"))
            return SITU_NEAREST_WITHIN;
        by_road |= !strcmp(keys[i], "by") && !strcmp(vals[i], "road");
        minutes |= !strcmp(keys[i], "minutes");
    }
    return by_road && minutes ? SITU_NEAREST_WITHIN : SITU_NEAREST_KNN;
}

/* The road closures active now in l as areas (malloc'd), as situd lays them. */
static situ_roads_area *areas_of(const situ_closure_list *l)
{
    situ_roads_area *a = calloc(l->n ? l->n : 1, sizeof *a);
    for (size_t i = 0; a && i < l->n; i++) {
        const situ_closure *k = &l->v[i];
        a[i] = k->radius_m > 0 ? (situ_roads_area){NULL, 0, k->lon, k->lat, k->radius_m}
                               : (situ_roads_area){k->wkb, k->nwkb, 0, 0, 0};
    }
    return a;
}

/* Loads the snapshot of db (and, by road, the road closures active now)
 * and writes the answer of q into out. */
static int answer(const char *db, const situ_nearest_query *q, situ_buf *out, situ_err *err)
{
    situ_store *s;
    if (situ_cli_open(db, SITU_STORE_READONLY, &s))
        return 1;
    situ_snapshot *snap = NULL;
    situ_closure_list closures = {0};
    situ_roads_area *areas = NULL;
    situ_nearest_cache *cache = situ_nearest_cache_new();
    int rc =
        cache ? situ_snapshot_load(s, &snap, err) : situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc && q->by_road && !(rc = situ_store_closures_active(s, NULL, &closures, err)) &&
        !(areas = areas_of(&closures)))
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    situ_store_close(s);
    if (!rc)
        rc = q->by_road ? situ_nearest_road_answer_once(snap, q, areas, closures.n, out, err)
                        : situ_nearest_answer(cache, snap, q, out, err);
    free(areas);
    situ_closure_list_dispose(&closures);
    situ_nearest_cache_free(cache);
    situ_snapshot_release(snap);
    return rc;
}

static int run(const char *cmd, int argc, char **argv)
{
    const char *keys[MAX_ARGS], *vals[MAX_ARGS], *db = situ_cli_default_db();
    int n = 0, locate = 0, help = 0;
    if (split_args(argc, argv, keys, vals, &n, &db, &locate, &help))
        return fprintf(stderr, "usage: situ nearest %s\n", usage), 2;
    if (help)
        return print_help();
    situ_err err = {0};
    situ_nearest_query q;
    if (situ_nearest_query_parse(mode_of(cmd, keys, vals, n, locate), keys, vals, n, &q, &err)) {
        fprintf(stderr, "situ %s: %s\n", cmd, err.msg);
        return 2;
    }
    situ_buf out;
    situ_buf_init(&out);
    int rc = answer(db, &q, &out, &err);
    if (rc == 0)
        fwrite(out.p, 1, out.n, stdout);
    else if (rc < 0)
        fprintf(stderr, "situ %s: %s\n", cmd, err.msg);
    situ_buf_dispose(&out);
    return rc == 0 ? 0 : 1;
}

int situ_cli_nearest(int argc, char **argv)
{
    return run("nearest", argc, argv);
}

int situ_cli_route(int argc, char **argv)
{
    return run("route", argc, argv);
}

int situ_cli_reach(int argc, char **argv)
{
    return run("reach", argc, argv);
}

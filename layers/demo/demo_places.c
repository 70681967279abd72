/*
 * demo_places.c: the demo's named places, the base map's labels: each
 * county's seat, each township's seat and the township's administrative
 * villages (行政村) with plausible names ("石坪村", "蒋家湾村"), unique within
 * their township and placed inside it (at least PLACE_MARGIN_DEG from its
 * border, so a copy's shift cannot move one out). Not a collection: they go
 * to places.geojson beside the collections, which situd serves with
 * --places (situ/places.h), never into the store's four maps.
 * Entry points: situ__demo_places_open, situ__demo_gen_places,
 * situ__demo_places_close.
 */
#include "demo_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PLACE_MARGIN_DEG 0.0005 /* about 50 m */
#define PLACE_TRIES 400         /* points tried per village */
#define NAME_TRIES 30           /* names tried per village before a number is added */
#define VILLAGES_MAX 48

/* Villages of township t: about one per 7 km2 in the country (Yongzhou has
 * some 3,000 for 22,000 km2), a few on a sub-district's fringe. */
static int villages_of(const situ__demo_township *t, situ__demo_rng *r)
{
    if (t->kind == SITU_DEMO_SUBDISTRICT)
        return situ__demo_rng_int(r, 0, 3);
    int n = (int)(t->area_km2 / 7.0) + situ__demo_rng_int(r, 2, 6);
    return n < 6 ? 6 : n > VILLAGES_MAX ? VILLAGES_MAX : n;
}

static int inside(const situ__demo_city *c, const situ__demo_township *t, double lon, double lat)
{
    static const double d[5][2] = {{0, 0},
                                   {PLACE_MARGIN_DEG, 0},
                                   {-PLACE_MARGIN_DEG, 0},
                                   {0, PLACE_MARGIN_DEG},
                                   {0, -PLACE_MARGIN_DEG}};
    for (int i = 0; i < 5; i++) {
        GEOSGeometry *p = GEOSGeom_createPointFromXY_r(c->gh, lon + d[i][0], lat + d[i][1]);
        char in = p ? GEOSPreparedContains_r(c->gh, t->prep, p) : 0;
        GEOSGeom_destroy_r(c->gh, p);
        if (in != 1)
            return 0;
    }
    return 1;
}

/* A point of t, away from its seat and from the villages placed so far
 * (spacing relaxed as tries fail); 0, or -1 when none was found. */
static int place_village(const situ__demo_city *c, const situ__demo_township *t, situ__demo_rng *r,
                         const double *xy, int n, double *out_lon, double *out_lat)
{
    double min_km = 0.3 + 0.6 * sqrt(t->area_km2 / (n + 8.0));
    for (int k = 0; k < PLACE_TRIES; k++) {
        double lon = situ__demo_snap(situ__demo_rng_range(r, t->minx, t->maxx));
        double lat = situ__demo_snap(situ__demo_rng_range(r, t->miny, t->maxy));
        double need = min_km * (1.0 - (double)k / PLACE_TRIES);
        int ok = inside(c, t, lon, lat);
        for (int i = -1; ok && i < n; i++) {
            double x = i < 0 ? t->seat_lon : xy[2 * i], y = i < 0 ? t->seat_lat : xy[2 * i + 1];
            double dx = (lon - x) * SITU_DEMO_KM_PER_DEG_LON,
                   dy = (lat - y) * SITU_DEMO_KM_PER_DEG_LAT;
            ok = dx * dx + dy * dy >= need * need;
        }
        if (ok) {
            *out_lon = lon, *out_lat = lat;
            return 0;
        }
    }
    return -1;
}

/* A village name not yet used in this township (names[0..n)). */
static void village_name(situ__demo_rng *r, char (*names)[48], int n, char *out, size_t size)
{
    char stem[40];
    for (int k = 0; k <= NAME_TRIES; k++) {
        situ__demo_village(r, stem, sizeof stem);
        if (k == NAME_TRIES)
            snprintf(out, size, "%s%s村", stem, k % 2 ? "上" : "下");
        else
            snprintf(out, size, "%s村", stem);
        int used = 0;
        for (int i = 0; i < n && !used; i++)
            used = !strcmp(names[i], out);
        if (!used)
            return;
    }
}

/* ---- the file ----------------------------------------------------------------- */

int situ__demo_places_open(situ__demo_gen *g, const char *dir, situ_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/places.geojson", dir);
    if (!(g->places = fopen(path, "w")))
        return situ_err_set(err, SITU_EIO, "cannot create %s: %s", path, strerror(errno));
    fputs("{\"type\":\"FeatureCollection\",\"name\":\"places\",\"features\":[", g->places);
    g->nplaces = 0;
    return 0;
}

int situ__demo_places_close(situ__demo_gen *g, int ok, situ_err *err)
{
    if (!g->places)
        return 0;
    if (ok)
        fputs("\n]}\n", g->places);
    int bad = ferror(g->places) | (fclose(g->places) != 0);
    g->places = NULL;
    return ok && bad ? situ_err_set(err, SITU_EIO, "cannot write places.geojson") : 0;
}

static void write_place(situ__demo_gen *g, const char *kind, const char *name, int t, double lon,
                        double lat)
{
    const situ__demo_township *tw = &g->city->townships[t];
    char id[40];
    g->nplaces++;
    if (g->copy == 0)
        snprintf(id, sizeof id, "PL-%06lld", g->nplaces);
    else
        snprintf(id, sizeof id, "PL-%03d-%06lld", g->copy, g->nplaces);
    fprintf(g->places,
            "%s\n{\"type\":\"Feature\",\"id\":\"%s\",\"properties\":{\"id\":\"%s\",\"name\":\"%s\","
            "\"kind\":\"%s\",\"township_code\":\"%s\",\"township_name\":\"%s\","
            "\"county_code\":\"%s\",\"county_name\":\"%s\"},"
            "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.7f,%.7f]}}",
            g->nplaces > 1 ? "," : "", id, id, name, kind, g->tcode[t], tw->name,
            g->ccode[tw->county], g->cname[tw->county], situ__demo_snap(lon + g->dx),
            situ__demo_snap(lat + g->dy));
}

/* ---- the generator ------------------------------------------------------------ */

static int township_places(situ__demo_gen *g, int t, situ_err *err)
{
    const situ__demo_township *tw = &g->city->townships[t];
    double xy[2 * VILLAGES_MAX];
    char names[VILLAGES_MAX][48];
    int want = villages_of(tw, &g->rng), n = 0;
    write_place(g, "township_seat", tw->name, t, tw->seat_lon, tw->seat_lat);
    for (int i = 0; i < want; i++) {
        double lon, lat;
        if (place_village(g->city, tw, &g->rng, xy, n, &lon, &lat))
            continue; /* a sliver township: fewer villages */
        village_name(&g->rng, names, n, names[n], sizeof names[n]);
        xy[2 * n] = lon, xy[2 * n + 1] = lat;
        write_place(g, "village", names[n], t, lon, lat);
        n++;
    }
    return ferror(g->places) ? situ_err_set(err, SITU_EIO, "cannot write places.geojson") : 0;
}

int situ__demo_gen_places(situ__demo_gen *g, situ_err *err)
{
    const situ__demo_city *c = g->city;
    situ__demo_rng_init(&g->rng, g->seed, 200, (uint64_t)g->copy);
    for (int i = 0; i < c->ncounties; i++) {
        const situ__demo_county *cty = &c->counties[i];
        if (cty->seat_township >= 0)
            write_place(g, "county_seat", g->cname[i], cty->seat_township, cty->seat_lon,
                        cty->seat_lat);
    }
    int rc = 0;
    for (int t = 0; !rc && t < c->ntownships; t++)
        rc = township_places(g, t, err);
    return rc;
}

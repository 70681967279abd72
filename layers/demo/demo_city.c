/*
 * demo_city.c: the base city of the demo, read from geodata/. Owns reading
 * the inputs (yongzhou_townships.csv with the real codes and names,
 * yongzhou_counties.csv with seats and make-up, yongzhou_outline.wkt,
 * yongzhou_rivers.geojson), township populations, the point-in-township
 * index and the placement rules (situ__demo_place) every generator uses. The
 * polygons themselves come from demo_tess.c. Entry points: situ__demo_city_load,
 * situ__demo_city_locate, situ__demo_city_place, situ__demo_city_river_km,
 * situ__demo_city_dispose.
 */
#include "demo_int.h"

#include <errno.h>
#include <gdal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_error.h>

/* ---- a small CSV reader: plain comma-separated UTF-8, no quoting ------- */

#define CSV_MAX_COLS 24

typedef struct csv {
    FILE *f;
    const char *path;
    int line, ncols;
    char head[1024];
    char *names[CSV_MAX_COLS];
    char row[2048];
    char *cols[CSV_MAX_COLS];
} csv;

static int split(char *s, char **cols)
{
    int n = 0;
    s[strcspn(s, "\r\n")] = '\0';
    for (char *p = s; n < CSV_MAX_COLS; n++) {
        cols[n] = p;
        p = strchr(p, ',');
        if (!p)
            return n + 1;
        *p++ = '\0';
    }
    return n;
}

static int csv_open(csv *c, const char *dir, const char *name, char *path, size_t npath,
                    situ_err *err)
{
    snprintf(path, npath, "%s/%s", dir, name);
    memset(c, 0, sizeof *c);
    c->path = path;
    c->f = fopen(path, "r");
    if (!c->f)
        return situ_err_set(err, SITU_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
    if (!fgets(c->head, sizeof c->head, c->f)) {
        fclose(c->f);
        return situ_err_set(err, SITU_EFORMAT, "%s: empty", path);
    }
    c->ncols = split(c->head, c->names);
    c->line = 1;
    return 0;
}

/* Reads the next non-empty row; 1 on a row, 0 at the end. */
static int csv_next(csv *c)
{
    while (fgets(c->row, sizeof c->row, c->f)) {
        c->line++;
        if (c->row[strspn(c->row, " \r\n")] == '\0')
            continue;
        int n = split(c->row, c->cols);
        for (int i = n; i < CSV_MAX_COLS; i++)
            c->cols[i] = "";
        return 1;
    }
    return 0;
}

static int csv_col(const csv *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    return -1;
}

/* The value of column `name` in the current row ("" if no such column). */
static const char *csv_get(const csv *c, const char *name)
{
    int i = csv_col(c, name);
    return i >= 0 && c->cols[i] ? c->cols[i] : "";
}

static int csv_need(const csv *c, const char *const *names, situ_err *err)
{
    for (; *names; names++)
        if (csv_col(c, *names) < 0)
            return situ_err_set(err, SITU_EFORMAT, "%s: no column %s", c->path, *names);
    return 0;
}

/* ---- counties and townships ------------------------------------------- */

static int parse_county(situ__demo_county *k, const csv *c, situ_err *err)
{
    snprintf(k->code, sizeof k->code, "%s", csv_get(c, "county_code"));
    snprintf(k->name, sizeof k->name, "%s", csv_get(c, "county_name"));
    snprintf(k->short_name, sizeof k->short_name, "%s", csv_get(c, "short_name"));
    k->seat_lon = atof(csv_get(c, "seat_lon"));
    k->seat_lat = atof(csv_get(c, "seat_lat"));
    k->center_lon = atof(csv_get(c, "center_lon"));
    k->center_lat = atof(csv_get(c, "center_lat"));
    k->area_km2 = atof(csv_get(c, "area_km2"));
    k->population = atol(csv_get(c, "population"));
    k->hilly = atoi(csv_get(c, "hilly"));
    k->forest = atoi(csv_get(c, "forest"));
    k->mining = atoi(csv_get(c, "mining"));
    k->industry = atoi(csv_get(c, "industry"));
    k->city_seat = atoi(csv_get(c, "city_seat"));
    k->seat_township = -1;
    if (strlen(k->code) != 6 || k->area_km2 <= 0 || k->population <= 0 || k->seat_lon < 73 ||
        k->seat_lon > 136 || k->seat_lat < 3 || k->seat_lat > 54)
        return situ_err_set(err, SITU_EFORMAT, "%s:%d: bad county row", c->path, c->line);
    return 0;
}

static int read_counties(situ__demo_city *city, const char *dir, situ_err *err)
{
    static const char *const need[] = {"county_code", "county_name", "short_name", "seat_lon",
                                       "seat_lat",    "center_lon",  "center_lat", "area_km2",
                                       "population",  "hilly",       "forest",     "mining",
                                       "industry",    "city_seat",   NULL};
    char path[4096];
    csv c;
    int rc = csv_open(&c, dir, "yongzhou_counties.csv", path, sizeof path, err);
    if (rc)
        return rc;
    rc = csv_need(&c, need, err);
    while (!rc && csv_next(&c)) {
        situ__demo_county *k = realloc(city->counties, (size_t)(city->ncounties + 1) * sizeof *k);
        if (!k) {
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
            break;
        }
        city->counties = k;
        rc = parse_county(&k[city->ncounties], &c, err);
        city->ncounties += !rc;
    }
    fclose(c.f);
    if (!rc && city->ncounties == 0)
        rc = situ_err_set(err, SITU_EFORMAT, "%s: no counties", path);
    return rc;
}

static int county_index(const situ__demo_city *city, const char *code)
{
    for (int i = 0; i < city->ncounties; i++)
        if (strcmp(city->counties[i].code, code) == 0)
            return i;
    return -1;
}

static int parse_kind(const char *s)
{
    static const char *const kinds[] = {"subdistrict", "town", "township"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, kinds[i]) == 0)
            return i;
    return -1;
}

static int parse_township(situ__demo_city *city, situ__demo_township *t, const csv *c,
                          situ_err *err)
{
    memset(t, 0, sizeof *t);
    const char *code = csv_get(c, "township_code");
    snprintf(t->code, sizeof t->code, "%s", code);
    snprintf(t->name, sizeof t->name, "%s", csv_get(c, "township_name"));
    snprintf(t->kind_name, sizeof t->kind_name, "%s", csv_get(c, "kind"));
    t->county = county_index(city, csv_get(c, "county_code"));
    t->kind = parse_kind(t->kind_name);
    if (strlen(code) != 9 || strspn(code, "0123456789") != 9 || t->kind < 0 || !t->name[0])
        return situ_err_set(err, SITU_EFORMAT, "%s:%d: bad township row", c->path, c->line);
    if (t->county < 0)
        return situ_err_set(err, SITU_EFORMAT, "%s:%d: county %s not in yongzhou_counties.csv",
                            c->path, c->line, csv_get(c, "county_code"));
    if (strncmp(code, city->counties[t->county].code, 6) != 0)
        return situ_err_set(err, SITU_EFORMAT, "%s:%d: %s is not in county %s", c->path, c->line,
                            code, city->counties[t->county].code);
    return 0;
}

static int read_townships(situ__demo_city *city, const char *dir, situ_err *err)
{
    static const char *const need[] = {"township_code", "township_name", "county_code",
                                       "county_name",   "kind",          NULL};
    char path[4096];
    csv c;
    int rc = csv_open(&c, dir, "yongzhou_townships.csv", path, sizeof path, err);
    if (rc)
        return rc;
    rc = csv_need(&c, need, err);
    while (!rc && csv_next(&c)) {
        situ__demo_township *t =
            realloc(city->townships, (size_t)(city->ntownships + 1) * sizeof *t);
        if (!t) {
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
            break;
        }
        city->townships = t;
        rc = parse_township(city, &t[city->ntownships], &c, err);
        city->ntownships += !rc;
    }
    fclose(c.f);
    for (int i = 0; !rc && i < city->ntownships; i++) {
        situ__demo_county *k = &city->counties[city->townships[i].county];
        if (k->seat_township < 0) /* the first township of a county is its seat */
            k->seat_township = i;
    }
    for (int i = 0; !rc && i < city->ncounties; i++)
        if (city->counties[i].seat_township < 0)
            rc = situ_err_set(err, SITU_EFORMAT, "%s: county %s has no township", path,
                              city->counties[i].code);
    return rc;
}

/* ---- outline and rivers ------------------------------------------------ */

static int read_outline(situ__demo_city *city, const char *dir, situ_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/yongzhou_outline.wkt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return situ_err_set(err, SITU_ENOTFOUND, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 20;
    char *text = malloc(cap);
    size_t n = text ? fread(text, 1, cap - 1, f) : 0;
    fclose(f);
    if (!text)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    text[n] = '\0';
    GEOSWKTReader *rd = GEOSWKTReader_create_r(city->gh);
    city->outline = rd ? GEOSWKTReader_read_r(city->gh, rd, text) : NULL;
    GEOSWKTReader_destroy_r(city->gh, rd);
    free(text);
    if (!city->outline || GEOSGeomTypeId_r(city->gh, city->outline) != GEOS_POLYGON ||
        GEOSisValid_r(city->gh, city->outline) != 1)
        return situ_err_set(err, SITU_EFORMAT, "%s: not one valid WKT POLYGON (%s)", path,
                            city->geos_msg);
    city->outline_prep = GEOSPrepare_r(city->gh, city->outline);
    GEOSGeom_getExtent_r(city->gh, city->outline, &city->minx, &city->miny, &city->maxx,
                         &city->maxy);
    return city->outline_prep ? 0 : situ_err_set(err, SITU_EGEOM, "%s", city->geos_msg);
}

static void to_km(double lon, double lat, double *x, double *y)
{
    *x = (lon - SITU_DEMO_LON0) * SITU_DEMO_KM_PER_DEG_LON;
    *y = (lat - SITU_DEMO_LAT0) * SITU_DEMO_KM_PER_DEG_LAT;
}

/* Copies one OGR line string into river rv, with cumulative lengths. */
static int take_line(situ__demo_river *rv, OGRGeometryH line)
{
    rv->n = OGR_G_GetPointCount(line);
    rv->lon = calloc((size_t)rv->n + 1, sizeof(double));
    rv->lat = calloc((size_t)rv->n + 1, sizeof(double));
    rv->cum_km = calloc((size_t)rv->n + 1, sizeof(double));
    if (!rv->lon || !rv->lat || !rv->cum_km)
        return SITU_ENOMEM;
    for (int i = 0; i < rv->n; i++) {
        rv->lon[i] = OGR_G_GetX(line, i);
        rv->lat[i] = OGR_G_GetY(line, i);
        if (i > 0) {
            double x0, y0, x1, y1;
            to_km(rv->lon[i - 1], rv->lat[i - 1], &x0, &y0);
            to_km(rv->lon[i], rv->lat[i], &x1, &y1);
            rv->cum_km[i] = rv->cum_km[i - 1] + hypot(x1 - x0, y1 - y0);
        }
    }
    return rv->n >= 2 ? 0 : SITU_EFORMAT;
}

static int read_river(situ__demo_city *city, OGRFeatureH f, const char *path, situ_err *err)
{
    OGRGeometryH g = OGR_F_GetGeometryRef(f);
    int iname = OGR_F_GetFieldIndex(f, "name"), irank = OGR_F_GetFieldIndex(f, "rank");
    if (!g || wkbFlatten(OGR_G_GetGeometryType(g)) != wkbLineString || iname < 0 || irank < 0)
        return situ_err_set(err, SITU_EFORMAT,
                            "%s: features must be LineStrings with name "
                            "and rank",
                            path);
    situ__demo_river *rv = realloc(city->rivers, (size_t)(city->nrivers + 1) * sizeof *rv);
    if (!rv)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    city->rivers = rv;
    rv = &rv[city->nrivers++];
    memset(rv, 0, sizeof *rv);
    snprintf(rv->name, sizeof rv->name, "%s", OGR_F_GetFieldAsString(f, iname));
    rv->rank = OGR_F_GetFieldAsInteger(f, irank);
    int rc = take_line(rv, g);
    if (rc == SITU_ENOMEM)
        return situ_err_set(err, rc, "out of memory");
    return rc ? situ_err_set(err, rc, "%s: river %s has fewer than 2 points", path, rv->name) : 0;
}

static int read_rivers(situ__demo_city *city, const char *dir, situ_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/yongzhou_rivers.geojson", dir);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return situ_err_set(err, SITU_ENOTFOUND, "cannot open %s: %s", path, CPLGetLastErrorMsg());
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int rc = l ? 0 : situ_err_set(err, SITU_EFORMAT, "%s: no layer", path);
    while (!rc && (f = OGR_L_GetNextFeature(l)) != NULL) {
        rc = read_river(city, f, path, err);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    if (!rc && city->nrivers == 0)
        rc = situ_err_set(err, SITU_EFORMAT, "%s: no rivers", path);
    return rc;
}

/* ---- areas, populations, placement weights, the index ----------------- */

/* WGS84 authalic latitude function q(phi) of the cylindrical equal-area
 * projection: y = a * q / 2, x = a * lambda keep areas exactly. */
static double q_of(double lat_deg)
{
    const double e = 0.0818191908426215, e2 = e * e;
    double s = sin(lat_deg * M_PI / 180.0);
    return (1 - e2) * (s / (1 - e2 * s * s) - log((1 - e * s) / (1 + e * s)) / (2 * e));
}

double situ__demo_ring_area_km2(const double *lon, const double *lat, int n, double dlat)
{
    const double a = 6378.137;
    double x0 = a * lon[0] * M_PI / 180.0, y0 = a * q_of(lat[0] + dlat) / 2, sum = 0;
    double px = 0, py = 0;
    for (int i = 1; i < n; i++) {
        double x = a * lon[i] * M_PI / 180.0 - x0, y = a * q_of(lat[i] + dlat) / 2 - y0;
        sum += px * y - x * py;
        px = x, py = y;
    }
    return sum / 2;
}

static double geos_ring_area(GEOSContextHandle_t gh, const GEOSGeometry *ring, double dlat)
{
    const GEOSCoordSequence *s = GEOSGeom_getCoordSeq_r(gh, ring);
    unsigned n = 0;
    GEOSCoordSeq_getSize_r(gh, s, &n);
    double *xy = malloc(2 * (size_t)n * sizeof *xy), area = 0;
    if (xy && n && GEOSCoordSeq_copyToArrays_r(gh, s, xy, xy + n, NULL, NULL))
        area = fabs(situ__demo_ring_area_km2(xy, xy + n, (int)n, dlat));
    free(xy);
    return area;
}

double situ__demo_area_km2(GEOSContextHandle_t gh, const GEOSGeometry *g, double dlat)
{
    double area = 0;
    for (int i = 0; i < GEOSGetNumGeometries_r(gh, g); i++) {
        const GEOSGeometry *p = GEOSGetGeometryN_r(gh, g, i);
        area += geos_ring_area(gh, GEOSGetExteriorRing_r(gh, p), dlat);
        for (int j = 0; j < GEOSGetNumInteriorRings_r(gh, p); j++)
            area -= geos_ring_area(gh, GEOSGetInteriorRingN_r(gh, p, j), dlat);
    }
    return area;
}

/* Shares each county's population among its townships: sub-districts are
 * dense, townships (乡) sparse, and bigger places hold more people. */
static int set_populations(situ__demo_city *c, uint64_t seed, situ_err *err)
{
    static const double kind_w[] = {3.0, 1.0, 0.55};
    double *w = calloc((size_t)c->ntownships, sizeof *w);
    double *sum = calloc((size_t)c->ncounties, sizeof *sum);
    if (!w || !sum) {
        free(w), free(sum);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    situ__demo_rng r;
    situ__demo_rng_init(&r, seed, 0x706f70, 0);
    for (int i = 0; i < c->ntownships; i++) {
        situ__demo_township *t = &c->townships[i];
        w[i] = kind_w[t->kind] * sqrt(t->area_km2 + 1) * situ__demo_rng_range(&r, 0.75, 1.3);
        sum[t->county] += w[i];
    }
    for (int i = 0; i < c->ntownships; i++) {
        situ__demo_township *t = &c->townships[i];
        double share = w[i] / sum[t->county];
        t->population = 10 * (long)nearbyint((double)c->counties[t->county].population * share / 10);
    }
    free(w), free(sum);
    return 0;
}

static double place_weight(const situ__demo_city *c, const situ__demo_township *t,
                           situ__demo_place p)
{
    const situ__demo_county *k = &c->counties[t->county];
    int rural = t->kind != SITU_DEMO_SUBDISTRICT;
    switch (p) {
    case SITU_DEMO_URBAN:
        return (double)t->population * (rural ? 1.0 : 3.0);
    case SITU_DEMO_HILLS:
        return rural * k->hilly * t->area_km2;
    case SITU_DEMO_FOREST:
        return rural * k->forest * t->area_km2;
    case SITU_DEMO_MINING:
        return rural * k->mining * t->area_km2;
    case SITU_DEMO_ANYWHERE:
        return t->area_km2;
    default:
        return 0;
    }
}

/* Cumulative weights; a rule no township qualifies for falls back to area. */
static double *cumulate(const double *w, int n)
{
    double *cum = malloc((size_t)n * sizeof *cum), s = 0;
    for (int i = 0; cum && i < n; i++)
        cum[i] = s += w[i];
    return cum;
}

static int set_weights(situ__demo_city *c, situ_err *err)
{
    int n = c->ntownships;
    double *w = malloc((size_t)(n + c->nrivers + c->ncounties) * sizeof *w);
    if (!w)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    int rc = 0;
    for (int p = SITU_DEMO_URBAN; p < SITU_DEMO_NPLACES && !rc; p++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += w[i] = place_weight(c, &c->townships[i], (situ__demo_place)p);
        for (int i = 0; i < n && s <= 0; i++)
            w[i] = c->townships[i].area_km2;
        rc = (c->place_w[p] = cumulate(w, n)) ? 0 : SITU_ENOMEM;
    }
    for (int i = 0; i < c->nrivers; i++)
        w[i] = c->rivers[i].cum_km[c->rivers[i].n - 1] * (c->rivers[i].rank == 1 ? 3 : 1);
    c->river_w = cumulate(w, c->nrivers);
    for (int i = 0; i < c->ncounties; i++)
        w[i] = (c->counties[i].industry + 0.2) * sqrt((double)c->counties[i].population);
    c->industry_w = cumulate(w, c->ncounties);
    free(w);
    if (rc || !c->river_w || !c->industry_w)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    return 0;
}

static int build_index(situ__demo_city *c, situ_err *err)
{
    c->index = GEOSSTRtree_create_r(c->gh, 10);
    if (!c->index)
        return situ_err_set(err, SITU_EGEOM, "STRtree: %s", c->geos_msg);
    for (int i = 0; i < c->ntownships; i++)
        GEOSSTRtree_insert_r(c->gh, c->index, c->townships[i].geom, (void *)(intptr_t)(i + 1));
    return 0;
}

typedef struct locate_q {
    const situ__demo_city *c;
    GEOSGeometry *pt;
    int found;
} locate_q;

static void locate_cb(void *item, void *ud)
{
    locate_q *q = ud;
    int i = (int)(intptr_t)item - 1;
    if (q->found < 0 && GEOSPreparedContains_r(q->c->gh, q->c->townships[i].prep, q->pt) == 1)
        q->found = i;
}

int situ__demo_city_locate(const situ__demo_city *c, double lon, double lat)
{
    locate_q q = {c, GEOSGeom_createPointFromXY_r(c->gh, lon, lat), -1};
    if (!q.pt)
        return -1;
    GEOSSTRtree_query_r(c->gh, c->index, q.pt, locate_cb, &q);
    GEOSGeom_destroy_r(c->gh, q.pt);
    return q.found;
}

/* ---- placement ----------------------------------------------------------- */

static int pick_cum(situ__demo_rng *r, const double *cum, int n)
{
    double x = situ__demo_rng_unit(r) * cum[n - 1];
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int situ__demo_city_near_seat(const situ__demo_city *c, situ__demo_rng *r, int t, double sigma_km,
                              double *out_lon, double *out_lat)
{
    const situ__demo_township *tw = &c->townships[t];
    double lon = situ__demo_snap(tw->seat_lon +
                                 situ__demo_rng_normal(r) * sigma_km / SITU_DEMO_KM_PER_DEG_LON);
    double lat = situ__demo_snap(tw->seat_lat +
                                 situ__demo_rng_normal(r) * sigma_km / SITU_DEMO_KM_PER_DEG_LAT);
    int at = situ__demo_city_locate(c, lon, lat);
    if (at >= 0)
        *out_lon = lon, *out_lat = lat;
    return at;
}

static int river_point(const situ__demo_city *c, situ__demo_rng *r, double *lon, double *lat,
                       double *angle, int *river)
{
    *river = pick_cum(r, c->river_w, c->nrivers);
    const situ__demo_river *rv = &c->rivers[*river];
    double d = situ__demo_rng_unit(r) * rv->cum_km[rv->n - 1];
    int i = 0;
    while (i + 2 < rv->n && rv->cum_km[i + 1] < d)
        i++;
    double seg = rv->cum_km[i + 1] - rv->cum_km[i];
    double f = seg > 0 ? (d - rv->cum_km[i]) / seg : 0;
    *lon = situ__demo_snap(rv->lon[i] + f * (rv->lon[i + 1] - rv->lon[i]));
    *lat = situ__demo_snap(rv->lat[i] + f * (rv->lat[i + 1] - rv->lat[i]));
    *angle = atan2((rv->lat[i + 1] - rv->lat[i]) * SITU_DEMO_KM_PER_DEG_LAT,
                   (rv->lon[i + 1] - rv->lon[i]) * SITU_DEMO_KM_PER_DEG_LON);
    return situ__demo_city_locate(c, *lon, *lat);
}

static int industry_point(const situ__demo_city *c, situ__demo_rng *r, double *lon, double *lat)
{
    const situ__demo_county *k = &c->counties[pick_cum(r, c->industry_w, c->ncounties)];
    *lon = situ__demo_snap(k->seat_lon + situ__demo_rng_normal(r) * 2.5 / SITU_DEMO_KM_PER_DEG_LON);
    *lat = situ__demo_snap(k->seat_lat + situ__demo_rng_normal(r) * 2.5 / SITU_DEMO_KM_PER_DEG_LAT);
    return situ__demo_city_locate(c, *lon, *lat);
}

/* A uniform point of the township picked by rule p. */
static int area_point(const situ__demo_city *c, situ__demo_rng *r, situ__demo_place p, double *lon,
                      double *lat)
{
    int t = pick_cum(r, c->place_w[p], c->ntownships);
    const situ__demo_township *tw = &c->townships[t];
    for (int i = 0; i < 32; i++) {
        double x = situ__demo_snap(situ__demo_rng_range(r, tw->minx, tw->maxx));
        double y = situ__demo_snap(situ__demo_rng_range(r, tw->miny, tw->maxy));
        GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(c->gh, x, y);
        int in = pt && GEOSPreparedContains_r(c->gh, tw->prep, pt) == 1;
        GEOSGeom_destroy_r(c->gh, pt);
        if (in) {
            *lon = x, *lat = y;
            return t;
        }
    }
    return -1;
}

int situ__demo_city_place(const situ__demo_city *c, situ__demo_rng *r, situ__demo_place p,
                          double *out_lon, double *out_lat, double *out_angle, int *out_river)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        double lon = 0, lat = 0, angle = situ__demo_rng_range(r, 0, 2 * M_PI);
        int river = -1, t;
        if (p == SITU_DEMO_AT_RIVER) {
            t = river_point(c, r, &lon, &lat, &angle, &river);
        } else if (p == SITU_DEMO_INDUSTRY) {
            t = industry_point(c, r, &lon, &lat);
        } else if (p == SITU_DEMO_URBAN) {
            int at = pick_cum(r, c->place_w[p], c->ntownships);
            double sigma = fmin(2.5, fmax(0.4, 0.25 * sqrt(c->townships[at].area_km2)));
            t = situ__demo_city_near_seat(c, r, at, sigma, &lon, &lat);
        } else {
            t = area_point(c, r, p, &lon, &lat);
        }
        if (t >= 0) {
            *out_lon = lon, *out_lat = lat, *out_angle = angle;
            if (out_river)
                *out_river = river;
            return t;
        }
    }
    return -1;
}

double situ__demo_city_river_km(const situ__demo_city *c, double lon, double lat, int rank)
{
    double best = HUGE_VAL;
    for (int r = 0; r < c->nrivers; r++) {
        const situ__demo_river *rv = &c->rivers[r];
        for (int i = 0; rv->rank <= rank && i + 1 < rv->n; i++) {
            double ax = (rv->lon[i] - lon) * SITU_DEMO_KM_PER_DEG_LON;
            double ay = (rv->lat[i] - lat) * SITU_DEMO_KM_PER_DEG_LAT;
            double bx = (rv->lon[i + 1] - lon) * SITU_DEMO_KM_PER_DEG_LON;
            double by = (rv->lat[i + 1] - lat) * SITU_DEMO_KM_PER_DEG_LAT;
            double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
            double t = len2 > 0 ? fmax(0, fmin(1, -(ax * dx + ay * dy) / len2)) : 0;
            best = fmin(best, hypot(ax + t * dx, ay + t * dy));
        }
    }
    return best;
}

/* ---- load and dispose ------------------------------------------------------ */

static void geos_message(const char *msg, void *ud)
{
    situ__demo_city *c = ud;
    snprintf(c->geos_msg, sizeof c->geos_msg, "%s", msg);
}

int situ__demo_city_load(situ__demo_city *c, const char *geodata_dir, uint64_t seed, situ_err *err)
{
    memset(c, 0, sizeof *c);
    c->gh = GEOS_init_r();
    if (!c->gh)
        return situ_err_set(err, SITU_ENOMEM, "GEOS_init_r failed");
    GEOSContext_setNoticeMessageHandler_r(c->gh, geos_message, c);
    GEOSContext_setErrorMessageHandler_r(c->gh, geos_message, c);
    int rc = read_counties(c, geodata_dir, err);
    if (!rc)
        rc = read_townships(c, geodata_dir, err);
    if (!rc)
        rc = read_outline(c, geodata_dir, err);
    if (!rc)
        rc = read_rivers(c, geodata_dir, err);
    if (!rc)
        rc = situ__demo_tess_build(c, seed, err);
    if (!rc)
        rc = set_populations(c, seed, err);
    if (!rc)
        rc = set_weights(c, err);
    if (!rc)
        rc = build_index(c, err);
    if (rc)
        situ__demo_city_dispose(c);
    return rc;
}

void situ__demo_city_dispose(situ__demo_city *c)
{
    if (!c->gh)
        return;
    if (c->index)
        GEOSSTRtree_destroy_r(c->gh, c->index);
    for (int i = 0; i < c->ntownships; i++) {
        GEOSPreparedGeom_destroy_r(c->gh, c->townships[i].prep);
        GEOSGeom_destroy_r(c->gh, c->townships[i].geom);
    }
    for (int i = 0; i < c->nrivers; i++) {
        free(c->rivers[i].lon), free(c->rivers[i].lat), free(c->rivers[i].cum_km);
    }
    for (int p = 0; p < SITU_DEMO_NPLACES; p++)
        free(c->place_w[p]);
    free(c->river_w), free(c->industry_w);
    GEOSPreparedGeom_destroy_r(c->gh, c->outline_prep);
    GEOSGeom_destroy_r(c->gh, c->outline);
    free(c->townships), free(c->counties), free(c->rivers);
    GEOS_finish_r(c->gh);
    memset(c, 0, sizeof *c);
}

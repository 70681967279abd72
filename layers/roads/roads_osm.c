/*
 * roads_osm.c: road lines from an OpenStreetMap file, through GDAL's OSM
 * driver and situ's own osmconf.ini (geodata/osmconf.ini: the tags routing
 * needs kept as fields). Owns which ways a car may drive, their classes,
 * one-way rules and maxspeed parsing; not the graph (roads_graph.c). `situ
 * load` of an OSM file (layers/load/load_roads.c) classes ways with the same
 * function. Entry points: situ_roads_osm_read, situ_roads_osm_dispose,
 * situ_roads_osm_way_of, situ_roads_osm_open, situ_roads_osm_config.
 */
#include <cpl_conv.h>
#include <cpl_error.h>
#include <gdal.h>
#include <ogr_api.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roads_priv.h"

/* highway=* values a car may drive, and their class. */
static const struct {
    const char *highway;
    situ_roads_class cls;
} car_classes[] = {
    {"motorway", SITU_ROADS_EXPRESSWAY},  {"motorway_link", SITU_ROADS_EXPRESSWAY},
    {"trunk", SITU_ROADS_NATIONAL},       {"trunk_link", SITU_ROADS_NATIONAL},
    {"primary", SITU_ROADS_PROVINCIAL},   {"primary_link", SITU_ROADS_PROVINCIAL},
    {"secondary", SITU_ROADS_COUNTY},     {"secondary_link", SITU_ROADS_COUNTY},
    {"tertiary", SITU_ROADS_TOWNSHIP},    {"tertiary_link", SITU_ROADS_TOWNSHIP},
    {"unclassified", SITU_ROADS_VILLAGE}, {"residential", SITU_ROADS_URBAN},
    {"living_street", SITU_ROADS_URBAN},  {"service", SITU_ROADS_SERVICE},
};

static int in_list(const char *v, const char *const *list)
{
    for (; v && *list; list++)
        if (!strcmp(v, *list))
            return 1;
    return 0;
}

static const char *field(OGRFeatureH f, OGRFeatureDefnH defn, const char *name)
{
    int i = OGR_FD_GetFieldIndex(defn, name);
    return i >= 0 && OGR_F_IsFieldSetAndNotNull(f, i) ? OGR_F_GetFieldAsString(f, i) : NULL;
}

/* The class of a way a car may drive, or -1. */
static int way_class(OGRFeatureH f, OGRFeatureDefnH defn)
{
    static const char *const denied[] = {"no", "private", NULL};
    static const char *const motor_ok[] = {"yes", "designated", "permissive", NULL};
    const char *hw = field(f, defn, "highway"), *route = field(f, defn, "route");
    if (in_list(field(f, defn, "access"), denied) ||
        in_list(field(f, defn, "motor_vehicle"), denied) ||
        in_list(field(f, defn, "motorcar"), denied) || in_list(field(f, defn, "area"), motor_ok))
        return -1;
    if (route && !strcmp(route, "ferry"))
        return in_list(field(f, defn, "motor_vehicle"), motor_ok) ||
                       in_list(field(f, defn, "motorcar"), motor_ok)
                   ? SITU_ROADS_FERRY
                   : -1;
    for (size_t i = 0; hw && i < sizeof car_classes / sizeof car_classes[0]; i++)
        if (!strcmp(hw, car_classes[i].highway))
            return (int)car_classes[i].cls;
    return -1;
}

static situ_roads_oneway way_oneway(OGRFeatureH f, OGRFeatureDefnH defn)
{
    static const char *const yes[] = {"yes", "true", "1", NULL};
    static const char *const rev[] = {"-1", "reverse", NULL};
    static const char *const implied_hw[] = {"motorway", "motorway_link", NULL};
    static const char *const implied_jn[] = {"roundabout", "circular", NULL};
    const char *ow = field(f, defn, "oneway");
    if (ow)
        return in_list(ow, yes)   ? SITU_ROADS_ONEWAY
               : in_list(ow, rev) ? SITU_ROADS_REVERSE
                                  : SITU_ROADS_TWOWAY;
    return in_list(field(f, defn, "highway"), implied_hw) ||
                   in_list(field(f, defn, "junction"), implied_jn)
               ? SITU_ROADS_ONEWAY
               : SITU_ROADS_TWOWAY;
}

/* maxspeed=50, "50 km/h", "30 mph", "50;30" (the first); anything else
 * (none, signals, walk, a zone such as FI:urban or CN:urban) is 0: the
 * class table decides. */
static double way_maxspeed(const char *v)
{
    static const char *const kmh[] = {"", "km/h", "kmh", "kph", NULL};
    char *end, unit[8];
    double s = v ? strtod(v, &end) : 0;
    size_t n;
    if (!v || end == v || !(s > 0 && s < 300))
        return 0;
    while (*end == ' ')
        end++;
    n = strcspn(end, ";");
    if (n >= sizeof unit)
        return 0;
    memcpy(unit, end, n);
    unit[n] = '\0';
    return !strcmp(unit, "mph") ? s * 1.609344 : in_list(unit, kmh) ? s : 0;
}

/* duration=HH:MM[:SS] or minutes, in seconds; 0 when absent or not a
 * time of at most a week (a ferry's crossing, not a typo to drive by). */
static double way_duration(const char *v)
{
    char *end;
    double d = 0;
    if (!v)
        return 0;
    long h = strtol(v, &end, 10);
    if (end != v && *end == ':') {
        const char *p = end + 1;
        long m = strtol(p, &end, 10), sec = 0;
        if (end == p || m < 0 || m > 59 || h < 0 || h > 168)
            return 0;
        if (*end == ':' && ((sec = strtol(p = end + 1, &end, 10)) < 0 || sec > 59 || end == p))
            return 0;
        if (*end)
            return 0;
        d = (double)h * 3600 + (double)m * 60 + (double)sec;
    } else {
        d = strtod(v, &end);
        d = end != v && !*end ? d * 60 : 0;
    }
    return d > 0 && d <= 7 * 86400.0 ? d : 0;
}

int situ_roads_osm_way_of(OGRFeatureH f, situ_roads_osm_way *out)
{
    OGRFeatureDefnH defn = OGR_F_GetDefnRef(f);
    int cls = way_class(f, defn);
    if (cls < 0)
        return 0;
    const char *br = field(f, defn, "bridge"), *tu = field(f, defn, "tunnel");
    const char *layer = field(f, defn, "layer"), *id = field(f, defn, "osm_id");
    char *end;
    long lv = layer ? strtol(layer, &end, 10) : 0;
    memset(out, 0, sizeof *out);
    out->cls = (situ_roads_class)cls;
    out->oneway = way_oneway(f, defn);
    out->speed_kmh = way_maxspeed(field(f, defn, "maxspeed"));
    out->duration_s = cls == SITU_ROADS_FERRY ? way_duration(field(f, defn, "duration")) : 0;
    out->bridge = br && strcmp(br, "no") != 0;
    out->tunnel = tu && strcmp(tu, "no") != 0;
    out->layer = layer && !*end && lv >= -5 && lv <= 5 ? (int)lv : 0;
    out->osm_id = id ? strtoll(id, NULL, 10) : 0;
    out->name = field(f, defn, "name");
    out->ref = field(f, defn, "ref");
    return 1;
}

int situ_roads_osm_open(const char *path, const char *config_ini, GDALDatasetH *out_ds,
                        OGRLayerH *out_lines, situ_err *err)
{
    static const char *const drivers[] = {"OSM", NULL};
    GDALAllRegister();
    CPLSetThreadLocalConfigOption("OSM_CONFIG_FILE", config_ini);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR | GDAL_OF_READONLY, drivers, NULL, NULL);
    CPLPopErrorHandler();
    CPLSetThreadLocalConfigOption("OSM_CONFIG_FILE", NULL);
    if (!ds)
        return situ_err_set(err, SITU_ENOTFOUND, "%s: not an OSM file GDAL can open", path);
    OGRLayerH lines = GDALDatasetGetLayerByName(ds, "lines");
    OGRFeatureDefnH d = lines ? OGR_L_GetLayerDefn(lines) : NULL;
    if (!d || OGR_FD_GetFieldIndex(d, "highway") < 0 || OGR_FD_GetFieldIndex(d, "oneway") < 0) {
        GDALClose(ds);
        return situ_err_set(err, SITU_EFORMAT,
                            "%s: no lines layer with highway and oneway fields (is %s situ's "
                            "osmconf.ini?)",
                            path, config_ini ? config_ini : "GDAL's default");
    }
    /* only lines: the driver need not keep the other layers' features */
    GDALDatasetReleaseResultSet(
        ds, GDALDatasetExecuteSQL(ds, "SET interest_layers = lines", NULL, NULL));
    *out_ds = ds, *out_lines = lines;
    return 0;
}

const char *situ_roads_osm_config(void)
{
    /* the tree it was built from (a developer's build), else where `cmake
     * --install` or the Debian package (prefix /usr) put it */
    static const char *const paths[] = {SITU_SOURCE_DIR "/geodata/osmconf.ini",
                                        SITU_INSTALL_DATADIR "/situ/osmconf.ini",
                                        "/usr/share/situ/osmconf.ini", NULL};
    for (const char *const *p = paths; *p; p++)
        if (access(*p, R_OK) == 0)
            return *p;
    return NULL;
}

typedef struct grow {
    situ_roads_osm *o;
    size_t cap, nxy, capxy;
} grow;

static int add_way(grow *gr, const situ_roads_osm_way *w, OGRGeometryH geom)
{
    situ_roads_osm *o = gr->o;
    int np = OGR_G_GetPointCount(geom);
    if (np < 2)
        return 0;
    if (o->n == gr->cap) {
        size_t cap = gr->cap ? 2 * gr->cap : 1024;
        situ_roads_line *l = realloc(o->lines, cap * sizeof *l);
        if (l)
            o->lines = l;
        char **nm = realloc(o->names, cap * sizeof *nm);
        if (nm)
            o->names = nm;
        int64_t *ids = realloc(o->osm_ids, cap * sizeof *ids);
        if (ids)
            o->osm_ids = ids;
        unsigned char *br = realloc(o->bridge, cap), *tu = realloc(o->tunnel, cap);
        if (br)
            o->bridge = br;
        if (tu)
            o->tunnel = tu;
        if (!l || !nm || !ids || !br || !tu)
            return SITU_ENOMEM;
        gr->cap = cap;
    }
    while (gr->nxy + 2 * (size_t)np > gr->capxy) {
        size_t cap = gr->capxy ? 2 * gr->capxy : 65536;
        double *xy = realloc(o->xy, cap * sizeof *xy);
        if (!xy)
            return SITU_ENOMEM;
        o->xy = xy, gr->capxy = cap;
    }
    situ_roads_line *l = &o->lines[o->n];
    memset(l, 0, sizeof *l);
    l->xy = (const double *)(uintptr_t)gr->nxy; /* an offset until the end: xy moves */
    l->n = (uint32_t)np;
    l->id = (uint32_t)o->n;
    l->cls = w->cls;
    l->oneway = w->oneway;
    l->speed_kmh = w->speed_kmh;
    l->speed_tagged = l->speed_kmh > 0;
    l->duration_s = w->duration_s;
    for (int i = 0; i < np; i++) {
        o->xy[gr->nxy++] = OGR_G_GetX(geom, i);
        o->xy[gr->nxy++] = OGR_G_GetY(geom, i);
    }
    o->names[o->n] = w->name ? strdup(w->name) : NULL;
    o->osm_ids[o->n] = w->osm_id;
    o->bridge[o->n] = (unsigned char)w->bridge;
    o->tunnel[o->n] = (unsigned char)w->tunnel;
    o->n++;
    return 0;
}

/* Reads path's drivable ways into *out (see roads.h); the caller disposes
 * it. Returns 0, SITU_ENOTFOUND (no file), SITU_EFORMAT, SITU_ENOMEM. */
int situ_roads_osm_read(const char *path, const char *config_ini, situ_roads_osm *out,
                        situ_err *err)
{
    situ_roads_osm o = {0};
    grow gr = {&o, 0, 0, 0};
    GDALDatasetH ds;
    OGRLayerH lines;
    OGRFeatureH f;
    situ_roads_osm_way w;
    int rc = situ_roads_osm_open(path, config_ini, &ds, &lines, err);
    if (rc)
        return rc;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    while (rc == 0 && (f = OGR_L_GetNextFeature(lines))) {
        OGRGeometryH geom = OGR_F_GetGeometryRef(f);
        if (geom && wkbFlatten(OGR_G_GetGeometryType(geom)) == wkbLineString &&
            situ_roads_osm_way_of(f, &w) && add_way(&gr, &w, geom) < 0)
            rc = situ_err_set(err, SITU_ENOMEM, "roads: out of memory");
        OGR_F_Destroy(f);
    }
    CPLPopErrorHandler();
    for (size_t i = 0; i < o.n; i++) /* offsets become pointers */
        o.lines[i].xy = o.xy + (uintptr_t)o.lines[i].xy;
    GDALClose(ds);
    if (rc < 0)
        situ_roads_osm_dispose(&o);
    else
        *out = o;
    return rc;
}

void situ_roads_osm_dispose(situ_roads_osm *o)
{
    for (size_t i = 0; o->names && i < o->n; i++)
        free(o->names[i]);
    free(o->names);
    free(o->lines);
    free(o->xy);
    free(o->osm_ids);
    free(o->bridge);
    free(o->tunnel);
    memset(o, 0, sizeof *o);
}

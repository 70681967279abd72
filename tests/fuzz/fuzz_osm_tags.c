/*
 * fuzz_osm_tags.c: libFuzzer target for situ_roads_osm_way_of (roads_osm.c),
 * the reading of an OSM way's tags that the routing reader and `situ load`
 * share: access, highway, route=ferry, oneway, maxspeed ("50", "30 mph",
 * "50;30", zones), duration ("HH:MM[:SS]", minutes), bridge, tunnel, layer,
 * osm_id. An input is "key=value" lines, made into a feature of the OSM
 * driver's lines layer (every field text, as osmconf.ini declares them). A
 * drivable way must come out with a class, a one-way rule and numbers a
 * graph accepts. Seeds: corpus/osm_tags/.
 *   scripts/fuzz.sh 60 fuzz_osm_tags, or build-fuzz/fuzz_osm_tags corpus/osm_tags
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ogr_api.h>

#include "situ/roads.h"

static const char *const keys[] = {
    "osm_id", "name",   "highway",  "ref",   "oneway",   "maxspeed",      "bridge",   "tunnel",
    "layer",  "access", "junction", "route", "duration", "motor_vehicle", "motorcar", "area"};
#define NKEYS (sizeof keys / sizeof keys[0])

static OGRFeatureDefnH lines_defn(void)
{
    static OGRFeatureDefnH d;
    if (d)
        return d;
    d = OGR_FD_Create("lines");
    OGR_FD_Reference(d);
    for (size_t i = 0; i < NKEYS; i++) {
        OGRFieldDefnH fd = OGR_Fld_Create(keys[i], OFTString);
        OGR_FD_AddFieldDefn(d, fd);
        OGR_Fld_Destroy(fd);
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    OGRFeatureH f = OGR_F_Create(lines_defn());
    for (char *p = text, *line; (line = strsep(&p, "\n"));) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        int i = OGR_F_GetFieldIndex(f, line);
        if (i >= 0)
            OGR_F_SetFieldString(f, i, eq + 1);
    }
    situ_roads_osm_way w;
    if (situ_roads_osm_way_of(f, &w)) {
        if (!situ_roads_class_name(w.cls) || w.oneway > SITU_ROADS_REVERSE)
            abort();
        if (!(w.speed_kmh == 0 || (w.speed_kmh > 0 && w.speed_kmh < 500)))
            abort();
        if (!(isfinite(w.duration_s) && w.duration_s >= 0))
            abort();
        if (w.layer < -5 || w.layer > 5 || (w.bridge & ~1) || (w.tunnel & ~1))
            abort();
        if (w.duration_s > 0 && w.cls != SITU_ROADS_FERRY)
            abort();
    }
    OGR_F_Destroy(f);
    free(text);
    return 0;
}

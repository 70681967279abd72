/*
 * load_roads.c: what a roads source's features are before the field map
 * reads them. An OpenStreetMap file (.osm.pbf, .osm) is opened through
 * GDAL's OSM driver with situ's osmconf.ini; its ways a car may drive
 * (situ_roads_osm_way_of, the rules the routing reader uses) become roads
 * fields, id "osm-w<id>", the OSM id in extra; the others are skipped. Any
 * other source (a transport department's Shapefile or GeoPackage, GeoJSON)
 * keeps its fields and gains a class derived from its class field, its
 * route code (G/S/X/Y/Z/C) and its technical grade (高速, 一级 … 等外),
 * with "class:KEY=CLASS" pairs of --map or the manifest overriding the
 * default table. Geometry, validation, townships and the store stay with
 * load_source.c. Entry points: situ__roads_osm_open, situ__roads_src_*.
 */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "situ/buf.h"
#include "situ/roads.h"

#include "load_int.h"

#define TABLE_MAX 32

int situ__roads_osm_open(const char *path, GDALDatasetH *out_ds, OGRLayerH *out_lyr, situ_err *err)
{
    const char *conf = situ_roads_osm_config();
    if (!conf)
        return situ_err_set(err, SITU_ENOTFOUND,
                            "%s: situ's osmconf.ini is not installed (share/situ/osmconf.ini); "
                            "without it GDAL's OSM driver hides oneway, maxspeed and access",
                            path);
    return situ_roads_osm_open(path, conf, out_ds, out_lyr, err);
}

/* ---- the class of a transport department's road ------------------------ */

typedef struct class_entry {
    char key[64]; /* a technical grade or class value ("二级"), or a route letter ("Z") */
    int cls;
} class_entry;

struct situ__roads_src {
    int osm;
    OGRFeatureDefnH defn; /* what the field map reads */
    OGRFeatureH out;      /* the last feature made */
    int *copy;            /* source field -> defn field (OGR_F_SetFromWithMap) */
    int class_in;         /* source field of the class (or grade-like) value, or -1 */
    int ref_in, grade_in; /* source fields of the route code and the technical grade, or -1 */
    int class_out;        /* defn field written with the class */
    class_entry table[TABLE_MAX];
    int ntable;
    const char *pairs[64]; /* the pairs left for the field map */
    int npairs;
    char *owned[8]; /* pairs made here (aliases) */
    int nowned;
    iconv_t gbk;
};

/* Technical grades (JTG B01) and the class a road of that grade gets when
 * its route code does not say: the administrative level a road so built
 * usually has. A trailing 公路 is ignored ("二级公路"). */
static const class_entry default_grades[] = {
    {"高速", SITU_ROADS_EXPRESSWAY}, {"一级", SITU_ROADS_NATIONAL}, {"二级", SITU_ROADS_PROVINCIAL},
    {"三级", SITU_ROADS_COUNTY},     {"四级", SITU_ROADS_TOWNSHIP}, {"等外", SITU_ROADS_VILLAGE},
};

/* Route code letters (JTG/T 0214 and the national road network plan). G and
 * S with 1, 2 or 4 digits are expressways (G4, G55, G1501, S20); with 3
 * digits, or a longer code (a section's), national and provincial roads
 * (G207, S216) unless the grade says 高速. */
static const class_entry default_letters[] = {
    {"G", SITU_ROADS_NATIONAL}, {"S", SITU_ROADS_PROVINCIAL}, {"X", SITU_ROADS_COUNTY},
    {"Y", SITU_ROADS_TOWNSHIP}, {"C", SITU_ROADS_VILLAGE},    {"Z", SITU_ROADS_SERVICE},
};

static int lookup(const class_entry *t, int n, const char *key)
{
    for (int i = 0; key && i < n; i++)
        if (!strcmp(t[i].key, key))
            return t[i].cls;
    return -1;
}

/* v trimmed, without a trailing 公路, into buf. */
static const char *grade_key(const char *v, char *buf, size_t cap)
{
    static const char road[] = "公路";
    while (*v == ' ')
        v++;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    if (n > strlen(road) && !memcmp(v + n - strlen(road), road, strlen(road)))
        n -= strlen(road);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

/* The class of route code ref ("G207", "x047"), or -1. */
static int class_of_ref(const situ__roads_src *r, const char *ref)
{
    char letter[2] = {0};
    while (ref && *ref == ' ')
        ref++;
    if (!ref || !*ref)
        return -1;
    letter[0] = (char)(*ref >= 'a' && *ref <= 'z' ? *ref - 32 : *ref);
    size_t digits = strspn(ref + 1, "0123456789");
    int user = lookup(r->table, r->ntable, letter);
    if ((letter[0] == 'G' || letter[0] == 'S') && (digits == 1 || digits == 2 || digits == 4))
        return SITU_ROADS_EXPRESSWAY;
    if (user >= 0)
        return user;
    return lookup(default_letters, sizeof default_letters / sizeof default_letters[0], letter);
}

/*
 * A road's class, in this order: its class value when it is a class name or
 * a key of the override table; an expressway by its grade (高速) or its
 * code (G4, S20, G1501); the code's letter (the table, then G national, S
 * provincial, X county, Y township, C village, Z service); without a code,
 * its grade (the table, then 一级 national ... 等外 village); the class
 * value as a grade. -1: none.
 */
static int class_of(const situ__roads_src *r, const char *cls, const char *ref, const char *grade)
{
    char kc[64], kg[64];
    const int ndg = (int)(sizeof default_grades / sizeof default_grades[0]);
    int c = cls ? situ_roads_class_of(cls) : -1;
    if (grade)
        grade_key(grade, kg, sizeof kg);
    if (c < 0 && cls)
        c = lookup(r->table, r->ntable, grade_key(cls, kc, sizeof kc));
    if (c < 0 && grade && lookup(r->table, r->ntable, kg) < 0 &&
        lookup(default_grades, ndg, kg) == SITU_ROADS_EXPRESSWAY)
        c = SITU_ROADS_EXPRESSWAY;
    if (c < 0)
        c = class_of_ref(r, ref);
    if (c < 0 && grade)
        c = lookup(r->table, r->ntable, kg);
    if (c < 0 && grade)
        c = lookup(default_grades, ndg, kg);
    if (c < 0 && cls)
        c = lookup(default_grades, ndg, kc);
    return c;
}

/* ---- setting up -------------------------------------------------------- */

/* s as UTF-8 into buf: as it is, or read as GB18030 (undeclared GBK bytes,
 * as the field map reads them). */
static const char *utf8_of(situ__roads_src *r, const char *s, char *buf, size_t cap)
{
    if (!s || situ_utf8_valid(s))
        return s;
    char *in = (char *)s, *o = buf;
    size_t nin = strlen(s), left = cap - 1;
    if (r->gbk == (iconv_t)-1)
        return s;
    iconv(r->gbk, NULL, NULL, NULL, NULL);
    if (iconv(r->gbk, &in, &nin, &o, &left) == (size_t)-1)
        return s;
    *o = '\0';
    return buf;
}

/* The source field named name (UTF-8, case-insensitive), or -1. */
static int find_field(situ__roads_src *r, OGRFeatureDefnH d, const char *name, size_t n)
{
    char buf[256];
    for (int i = 0; i < OGR_FD_GetFieldCount(d); i++) {
        const char *f = utf8_of(r, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(d, i)), buf, sizeof buf);
        if (strlen(f) == n && !strncasecmp(f, name, n))
            return i;
    }
    return -1;
}

/* The first of names the source has, or -1. */
static int find_alias(situ__roads_src *r, OGRFeatureDefnH d, const char *const *names)
{
    for (; *names; names++) {
        int i = find_field(r, d, *names, strlen(*names));
        if (i >= 0)
            return i;
    }
    return -1;
}

/* Takes the pairs that are the class rules' (FIELD=class, FIELD=grade,
 * class:KEY=CLASS) out of map; the rest stay for the field map. */
static int take_pairs(situ__roads_src *r, OGRFeatureDefnH d, const char *const *map, int nmap,
                      const char *what, situ_err *err)
{
    for (int j = 0; j < nmap; j++) {
        const char *p = map[j], *eq = strrchr(p, '=');
        size_t n = eq ? (size_t)(eq - p) : 0;
        int *slot = !eq                        ? NULL
                    : !strcmp(eq + 1, "class") ? &r->class_in
                    : !strcmp(eq + 1, "grade") ? &r->grade_in
                    : !strcmp(eq + 1, "ref")   ? &r->ref_in
                                               : NULL;
        if (eq && !strncmp(p, "class:", 6)) {
            int c = situ_roads_class_of(eq + 1);
            if (c < 0 || n == 6 || n - 6 >= sizeof r->table[0].key || r->ntable == TABLE_MAX)
                return situ_err_set(err, SITU_EINVAL,
                                    "%s %s: expected class:GRADE_OR_LETTER=CLASS, CLASS one of "
                                    "expressway|national|provincial|county|township|village|"
                                    "urban|service|ferry",
                                    what, p);
            class_entry *e = &r->table[r->ntable++];
            snprintf(e->key, sizeof e->key, "%.*s", (int)(n - 6), p + 6);
            e->cls = c;
            continue;
        }
        if (slot && (*slot = find_field(r, d, p, n)) < 0)
            return situ_err_set(err, SITU_ENOTFOUND, "%s %s: the source has no field %.*s", what, p,
                                (int)n, p);
        if (slot == &r->ref_in || !slot)
            r->pairs[r->npairs++] = p;
    }
    return 0;
}

/* Adds "FIELD=prop" for the first of names the source has, unless prop is
 * named already (by a pair or a field of its own name). Returns the field. */
static int add_alias(situ__roads_src *r, OGRFeatureDefnH d, const char *prop,
                     const char *const *names)
{
    char buf[256], *pair;
    for (int j = 0; j < r->npairs; j++) {
        const char *eq = strrchr(r->pairs[j], '=');
        if (eq && !strcmp(eq + 1, prop))
            return -1;
    }
    int i = find_field(r, d, prop, strlen(prop));
    if (i >= 0)
        return i;
    if ((i = find_alias(r, d, names)) < 0 || r->nowned == 8 || r->npairs == 64)
        return i;
    const char *name = utf8_of(r, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(d, i)), buf, sizeof buf);
    size_t n = strlen(name) + strlen(prop) + 2;
    if ((pair = malloc(n))) {
        snprintf(pair, n, "%s=%s", name, prop);
        r->owned[r->nowned++] = pair;
        r->pairs[r->npairs++] = pair;
    }
    return i;
}

static OGRFieldDefnH new_field(OGRFeatureDefnH d, const char *name, OGRFieldType t)
{
    OGRFieldDefnH fd = OGR_Fld_Create(name, t);
    OGR_FD_AddFieldDefn(d, fd);
    OGR_Fld_Destroy(fd);
    return OGR_FD_GetFieldDefn(d, OGR_FD_GetFieldCount(d) - 1);
}

/* The roads fields an OSM way is given. */
enum {
    O_ID,
    O_NAME,
    O_REF,
    O_CLASS,
    O_ONEWAY,
    O_SPEED,
    O_DURATION,
    O_BRIDGE,
    O_TUNNEL,
    O_LAYER,
    O_STATUS,
    O_OSM_ID
};

static void osm_defn(situ__roads_src *r)
{
    static const struct {
        const char *name;
        OGRFieldType t;
    } f[] = {{"id", OFTString},       {"name", OFTString},    {"ref", OFTString},
             {"class", OFTString},    {"oneway", OFTString},  {"speed_kmh", OFTReal},
             {"duration_s", OFTReal}, {"bridge", OFTInteger}, {"tunnel", OFTInteger},
             {"layer", OFTInteger},   {"status", OFTString},  {"osm_id", OFTInteger64}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        new_field(r->defn, f[i].name, f[i].t);
}

/* A transport department's fields and, unless one is named class, one more
 * for the derived class. */
static int other_defn(situ__roads_src *r, OGRFeatureDefnH src)
{
    int n = OGR_FD_GetFieldCount(src);
    if (!(r->copy = malloc(((size_t)n + 1) * sizeof *r->copy)))
        return SITU_ENOMEM;
    for (int i = 0; i < n; i++) {
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(src, i);
        OGR_FD_AddFieldDefn(r->defn, fd);
        r->copy[i] = i;
    }
    r->class_out = find_field(r, src, "class", 5);
    if (r->class_out < 0) {
        new_field(r->defn, "class", OFTString);
        r->class_out = n;
    }
    OGR_Fld_SetType(OGR_FD_GetFieldDefn(r->defn, r->class_out), OFTString);
    return 0;
}

int situ__roads_src_new(const char *path, OGRLayerH lyr, int osm, const char *const *map, int nmap,
                        const char *map_what, situ__roads_src **out, situ_err *err)
{
    static const char *const ref_names[] = {"路线编码", "路线编号", "LXBM", "LXBH", "LXDM", NULL};
    static const char *const name_names[] = {"路线名称", "道路名称", "LXMC", "DLMC", NULL};
    static const char *const grade_names[] = {"技术等级", "JSDJ", "grade", NULL};
    OGRFeatureDefnH src = OGR_L_GetLayerDefn(lyr);
    situ__roads_src *r;
    int rc = SITU_ENOMEM;
    if (nmap > 64)
        return situ_err_set(err, SITU_ELIMIT, "%s: more than 64 pairs",
                            map_what ? map_what : "--map");
    if (!(r = calloc(1, sizeof *r)))
        goto fail;
    r->osm = osm, r->class_in = r->ref_in = r->grade_in = -1;
    r->gbk = iconv_open("UTF-8", "GB18030");
    if (!(r->defn = OGR_FD_Create("roads")))
        goto fail;
    OGR_FD_Reference(r->defn);
    OGR_FD_SetGeomType(r->defn, OGR_FD_GetGeomType(src));
    if (osm) {
        osm_defn(r);
        for (int j = 0; j < nmap; j++)
            r->pairs[r->npairs++] = map[j];
        *out = r;
        return 0;
    }
    if ((rc = take_pairs(r, src, map, nmap, map_what ? map_what : "--map", err)))
        goto fail;
    int ref = add_alias(r, src, "ref", ref_names);
    if (r->ref_in < 0)
        r->ref_in = ref;
    add_alias(r, src, "name", name_names);
    if (r->grade_in < 0)
        r->grade_in = find_alias(r, src, grade_names);
    if (r->class_in < 0)
        r->class_in = find_field(r, src, "class", 5);
    if (r->class_in < 0 && r->ref_in < 0 && r->grade_in < 0) {
        rc = situ_err_set(err, SITU_EINVAL,
                          "%s has no class field, nor a route code (ref, 路线编码) or technical "
                          "grade (技术等级) to derive a road's class from; name them with --map "
                          "FIELD=class, FIELD=ref or FIELD=grade",
                          path);
        goto fail;
    }
    if ((rc = other_defn(r, src)))
        goto fail;
    *out = r;
    return 0;
fail:
    situ__roads_src_free(r);
    if (rc == SITU_ENOMEM)
        situ_err_set(err, rc, "out of memory");
    return rc;
}

OGRFeatureDefnH situ__roads_src_defn(const situ__roads_src *r)
{
    return r->defn;
}

const char *const *situ__roads_src_map(const situ__roads_src *r, int *out_nmap)
{
    *out_nmap = r->npairs;
    return r->pairs;
}

void situ__roads_src_free(situ__roads_src *r)
{
    if (!r)
        return;
    if (r->out)
        OGR_F_Destroy(r->out);
    if (r->defn)
        OGR_FD_Release(r->defn);
    for (int i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    if (r->gbk != (iconv_t)-1 && r->gbk) /* NULL: freed before iconv_open */
        iconv_close(r->gbk);
    free(r->copy);
    free(r);
}

/* ---- one feature -------------------------------------------------------- */

static void set_text(OGRFeatureH g, int i, const char *v)
{
    if (v)
        OGR_F_SetFieldString(g, i, v);
}

/* An OSM way as roads fields: 0, or 1 when a car may not drive it. */
static int osm_feature(OGRFeatureH f, OGRFeatureH g)
{
    static const char *const oneway[] = {"no", "yes", "reverse"};
    situ_roads_osm_way w;
    char id[32];
    if (!situ_roads_osm_way_of(f, &w))
        return 1;
    snprintf(id, sizeof id, "osm-w%lld", (long long)w.osm_id);
    set_text(g, O_ID, id);
    set_text(g, O_NAME, w.name);
    set_text(g, O_REF, w.ref);
    set_text(g, O_CLASS, situ_roads_class_name(w.cls));
    set_text(g, O_ONEWAY, oneway[w.oneway]);
    if (w.speed_kmh > 0)
        OGR_F_SetFieldDouble(g, O_SPEED, w.speed_kmh);
    if (w.duration_s > 0)
        OGR_F_SetFieldDouble(g, O_DURATION, w.duration_s);
    OGR_F_SetFieldInteger(g, O_BRIDGE, w.bridge);
    OGR_F_SetFieldInteger(g, O_TUNNEL, w.tunnel);
    if (w.layer)
        OGR_F_SetFieldInteger(g, O_LAYER, w.layer);
    set_text(g, O_STATUS, "open");
    OGR_F_SetFieldInteger64(g, O_OSM_ID, w.osm_id);
    return 0;
}

static const char *text_of(situ__roads_src *r, OGRFeatureH f, int i, char *buf, size_t cap)
{
    if (i < 0 || !OGR_F_IsFieldSetAndNotNull(f, i))
        return NULL;
    const char *s = utf8_of(r, OGR_F_GetFieldAsString(f, i), buf, cap);
    return *s ? s : NULL;
}

/* A transport department's road with its class. When none can be derived
 * the class value stays as it was (the field map rejects the feature,
 * naming it: "class not one of its allowed values", "missing required
 * field class"). */
static void other_feature(situ__roads_src *r, OGRFeatureH f, OGRFeatureH g)
{
    char bc[128], br[128], bg[128];
    const char *cls = text_of(r, f, r->class_in, bc, sizeof bc);
    const char *ref = text_of(r, f, r->ref_in, br, sizeof br);
    const char *grade = text_of(r, f, r->grade_in, bg, sizeof bg);
    OGR_F_SetFromWithMap(g, f, TRUE, r->copy);
    int c = class_of(r, cls, ref, grade);
    if (c >= 0)
        OGR_F_SetFieldString(g, r->class_out, situ_roads_class_name((situ_roads_class)c));
    else if (cls)
        OGR_F_SetFieldString(g, r->class_out, cls);
}

int situ__roads_src_feature(situ__roads_src *r, OGRFeatureH f, OGRFeatureH *out)
{
    if (r->out)
        OGR_F_Destroy(r->out);
    OGRFeatureH g = r->out = OGR_F_Create(r->defn);
    if (!g)
        return SITU_ENOMEM;
    if (r->osm && osm_feature(f, g))
        return 1;
    if (!r->osm)
        other_feature(r, f, g);
    OGR_F_SetFID(g, OGR_F_GetFID(f));
    OGR_F_SetGeometryDirectly(g, OGR_F_StealGeometry(f));
    *out = g;
    return 0;
}

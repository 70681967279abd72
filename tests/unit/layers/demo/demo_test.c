/* demo_test.c: tests layers/demo/demo.c by generating the demo and reading the
 * files back with GDAL, GEOS, jansson and inih, as the loader would. */
#define _GNU_SOURCE /* memmem */
#include "testlib.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <geos_c.h>
#include <ini.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "situ/demo.h"
#include "situ/schema.h"

#define GEODATA SITU_SOURCE_DIR "/geodata"
#define SEED 20231231ULL

/* ---- helpers ------------------------------------------------------------- */

static char *generate(const char *tag, int scale, unsigned long long seed)
{
    char *dir = situ_test_tmpdir(tag);
    situ_demo_opts o = {.out_dir = dir, .geodata_dir = GEODATA, .scale = scale, .seed = seed};
    situ_demo_stats st;
    situ_err err = {0};
    int rc = situ_demo_write(&o, &st, &err);
    if (rc)
        fprintf(stderr, "situ_demo_write: %s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(st.count[SITU_C_TOWNSHIPS], 182LL * scale);
    return dir;
}

/* The scale-1 set most tests read, made once per run. */
static char *shared_dir;

static void remove_shared(void)
{
    situ_test_rmtree(shared_dir);
    free(shared_dir);
}

static const char *shared(void)
{
    if (!shared_dir) {
        shared_dir = generate("demo", 1, SEED);
        atexit(remove_shared);
    }
    return shared_dir;
}

static GDALDatasetH open_vector(const char *dir, const char *file, char **oo)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, (const char *const *)oo, NULL);
    if (!ds)
        fprintf(stderr, "cannot open %s: %s\n", path, CPLGetLastErrorMsg());
    assert_non_null(ds);
    return ds;
}

static int file_exists(const char *dir, const char *file)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return stat(path, &sb) == 0;
}

/* The 182 real codes of geodata/yongzhou_townships.csv, sorted. */
static int read_codes(char codes[][10])
{
    FILE *f = fopen(GEODATA "/yongzhou_townships.csv", "r");
    assert_non_null(f);
    char line[512];
    int n = 0;
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f) && n < 256)
        if (strlen(line) > 9)
            snprintf(codes[n++], 10, "%.9s", line);
    fclose(f);
    qsort(codes, (size_t)n, 10, (int (*)(const void *, const void *))strcmp);
    return n;
}

static int has_code(char codes[][10], int n, const char *code)
{
    return code &&
           bsearch(code, codes, (size_t)n, 10, (int (*)(const void *, const void *))strcmp) != NULL;
}

static GEOSGeometry *to_geos(GEOSContextHandle_t gh, OGRGeometryH g)
{
    size_t n = (size_t)OGR_G_WkbSize(g);
    unsigned char *wkb = malloc(n);
    OGR_G_ExportToWkb(g, wkbNDR, wkb);
    GEOSGeometry *geom = GEOSGeomFromWKB_buf_r(gh, wkb, n);
    free(wkb);
    return geom;
}

/* The townships of dir, as prepared geometries looked up by code. */
#define TOWNSHIPS_MAX 400 /* two copies */

typedef struct townships {
    GEOSContextHandle_t gh;
    int n;
    char code[TOWNSHIPS_MAX][10];
    char kind[TOWNSHIPS_MAX][16];
    GEOSGeometry *geom[TOWNSHIPS_MAX];
    const GEOSPreparedGeometry *prep[TOWNSHIPS_MAX];
} townships;

static void townships_load(townships *t, const char *dir)
{
    memset(t, 0, sizeof *t);
    t->gh = GEOS_init_r();
    GDALDatasetH ds = open_vector(dir, "townships.geojson", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL && t->n < TOWNSHIPS_MAX) {
        snprintf(t->code[t->n], 10, "%s", OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "id")));
        snprintf(t->kind[t->n], 16, "%s",
                 OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "kind")));
        t->geom[t->n] = to_geos(t->gh, OGR_F_GetGeometryRef(f));
        t->prep[t->n] = GEOSPrepare_r(t->gh, t->geom[t->n]);
        t->n++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
}

static int townships_find(const townships *t, const char *code)
{
    for (int i = 0; code && i < t->n; i++)
        if (strcmp(t->code[i], code) == 0)
            return i;
    return -1;
}

static void townships_free(townships *t)
{
    for (int i = 0; i < t->n; i++) {
        GEOSPreparedGeom_destroy_r(t->gh, t->prep[i]);
        GEOSGeom_destroy_r(t->gh, t->geom[i]);
    }
    GEOS_finish_r(t->gh);
}

/* ---- determinism ---------------------------------------------------------- */

static void compare_dirs(const char *a, const char *b, int *out_files, int *out_differ)
{
    DIR *d = opendir(a);
    assert_non_null(d);
    struct dirent *e;
    int files = 0, differ = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char pa[4096], pb[4096];
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        size_t na = 0, nb = 0;
        char *xa = situ_test_slurp(pa, &na), *xb = situ_test_slurp(pb, &nb);
        assert_non_null(xa);
        if (!xb)
            fprintf(stderr, "%s is missing\n", pb);
        assert_non_null(xb);
        differ += na != nb || memcmp(xa, xb, na) != 0;
        files++;
        free(xa), free(xb);
    }
    closedir(d);
    *out_files = files, *out_differ = differ;
}

static void same_seed_and_scale_give_the_same_bytes(void **state)
{
    (void)state;
    char *again = generate("demo-again", 1, SEED);
    int files, differ;
    compare_dirs(shared(), again, &files, &differ);
    assert_int_equal(files,
                     13); /* 6 collections (+ .shx .dbf .prj), places, departments, manifest */
    assert_int_equal(differ, 0);
    compare_dirs(again, shared(), &files, &differ); /* and nothing extra */
    assert_int_equal(differ, 0);
    situ_test_rmtree(again);
    free(again);
}

static void another_seed_gives_other_bytes(void **state)
{
    (void)state;
    char *other = generate("demo-other", 1, SEED + 1);
    int files, differ;
    compare_dirs(shared(), other, &files, &differ);
    /* every collection file differs; departments.csv and the .prj do not */
    assert_true(differ >= 9);
    situ_test_rmtree(other);
    free(other);
}

/* ---- townships ---------------------------------------------------------------- */

static double ring_signed_area(OGRGeometryH ring)
{
    double s = 0;
    int n = OGR_G_GetPointCount(ring);
    for (int i = 0; i + 1 < n; i++)
        s += OGR_G_GetX(ring, i) * OGR_G_GetY(ring, i + 1) -
             OGR_G_GetX(ring, i + 1) * OGR_G_GetY(ring, i);
    return s / 2;
}

static void check_township_fields(OGRFeatureH f)
{
    static const char *const names[] = {"id",          "township_code", "name",     "county_code",
                                        "county_name", "kind",          "area_km2", "population"};
    OGRFeatureDefnH d = OGR_F_GetDefnRef(f);
    assert_int_equal(OGR_FD_GetFieldCount(d), 8);
    for (int i = 0; i < 8; i++)
        assert_string_equal(OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(d, i)), names[i]);
    assert_string_equal(OGR_F_GetFieldAsString(f, 0), OGR_F_GetFieldAsString(f, 1));
    assert_true(OGR_F_GetFieldAsInteger(f, 7) > 1000);
    const char *kind = OGR_F_GetFieldAsString(f, 5);
    const situ_collection *c = situ_schema_find("townships");
    assert_true(situ_schema_domain_ok(&c->fields[situ_schema_field_index(c, "kind")], kind));
}

static void townships_tile_the_city_with_the_real_codes(void **state)
{
    (void)state;
    char codes[256][10];
    int ncodes = read_codes(codes);
    assert_int_equal(ncodes, 182);
    GEOSContextHandle_t gh = GEOS_init_r();
    GDALDatasetH ds = open_vector(shared(), "townships.geojson", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    assert_int_equal(OGR_L_GetFeatureCount(l, 1), 182);
    GEOSGeometry *parts[256];
    char seen[256][10];
    double sum = 0, km2 = 0;
    int n = 0;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        check_township_fields(f);
        snprintf(seen[n], 10, "%s", OGR_F_GetFieldAsString(f, 0));
        km2 += OGR_F_GetFieldAsDouble(f, 6);
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        assert_int_equal(wkbFlatten(OGR_G_GetGeometryType(g)), wkbMultiPolygon);
        for (int p = 0; p < OGR_G_GetGeometryCount(g); p++) /* RFC 7946 winding */
            assert_true(ring_signed_area(OGR_G_GetGeometryRef(OGR_G_GetGeometryRef(g, p), 0)) > 0);
        parts[n] = to_geos(gh, g);
        assert_int_equal(GEOSisValid_r(gh, parts[n]), 1);
        double a = 0;
        GEOSArea_r(gh, parts[n++], &a);
        sum += a;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    qsort(seen, (size_t)n, 10, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++)
        assert_string_equal(seen[i], codes[i]);
    GEOSGeometry *all =
        GEOSGeom_createCollection_r(gh, GEOS_GEOMETRYCOLLECTION, parts, (unsigned)n);
    GEOSGeometry *u = GEOSUnaryUnion_r(gh, all);
    double ua = 0;
    GEOSArea_r(gh, u, &ua);
    assert_true(fabs(sum - ua) / ua < 0.001); /* no overlaps */
    assert_true(km2 > 22400 * 0.95 && km2 < 22400 * 1.05);
    assert_int_equal(GEOSGetNumGeometries_r(gh, u), 1); /* no holes between them */
    GEOSGeom_destroy_r(gh, u);
    GEOSGeom_destroy_r(gh, all);
    GEOS_finish_r(gh);
}

/* ---- the Shapefile, the CSV, the manifest --------------------------------------- */

static void hazards_shapefile_is_gbk_in_epsg_4546_without_cpg(void **state)
{
    (void)state;
    const char *dir = shared();
    assert_true(file_exists(dir, "hazards.shp") && file_exists(dir, "hazards.prj"));
    assert_false(file_exists(dir, "hazards.cpg"));
    char path[4096];
    snprintf(path, sizeof path, "%s/hazards.dbf", dir);
    size_t n = 0;
    unsigned char *dbf = (unsigned char *)situ_test_slurp(path, &n);
    assert_non_null(dbf);
    assert_int_equal(dbf[1], 126), assert_int_equal(dbf[2], 11), assert_int_equal(dbf[3], 28);
    static const unsigned char youxian_gbk[] = {0xD3, 0xD0, 0xCF, 0xDE}; /* 有限 */
    assert_non_null(memmem(dbf, n, youxian_gbk, sizeof youxian_gbk));
    assert_null(memmem(dbf, n, "有限", strlen("有限"))); /* not UTF-8 */
    free(dbf);

    char **oo = CSLSetNameValue(NULL, "ENCODING", "CP936");
    GDALDatasetH ds = open_vector(dir, "hazards.shp", oo);
    CSLDestroy(oo);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    assert_int_equal(OGR_L_GetFeatureCount(l, 1), 3000);
    OGRSpatialReferenceH srs = OGR_L_GetSpatialRef(l);
    assert_non_null(srs);
    assert_string_equal(OSRGetAuthorityName(srs, NULL), "EPSG"); /* found from the .prj */
    assert_string_equal(OSRGetAuthorityCode(srs, NULL), "4546");
    int found = 0, overdue = 0;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        found += strstr(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "resp_unit")),
                        "有限公司") != NULL;
        const char *status = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "status"));
        const char *deadline = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "deadline"));
        overdue += strcmp(status, "open") == 0 && strcmp(deadline, "2026-11-28") < 0;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_true(found > 100);
    assert_true(overdue > 10);
}

static void hazard_sources_csv_has_lonlat_in_yongzhou(void **state)
{
    (void)state;
    assert_false(file_exists(shared(), "hazard_sources.prj"));
    GDALDatasetH ds = open_vector(shared(), "hazard_sources.csv", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int n = 0;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        double lon = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "lon"));
        double lat = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "lat"));
        int grade = OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "grade"));
        double radius = OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "impact_radius_m"));
        assert_true(lon > 111.0 && lon < 112.6 && lat > 24.6 && lat < 26.9);
        assert_true(grade >= 1 && grade <= 4);
        assert_true(radius >= 300 && radius <= 3000);
        n++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_int_equal(n, 300);
}

typedef struct manifest {
    char hazards_file[64], hazards_encoding[32], hazards_map[512];
    char sources_file[64], sources_srs[32];
} manifest;

#define SET(dst, v) snprintf((dst), sizeof(dst), "%s", (v))

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
    manifest *m = user;
    if (!strcmp(section, "hazards") && !strcmp(name, "file"))
        SET(m->hazards_file, value);
    else if (!strcmp(section, "hazards") && !strcmp(name, "encoding"))
        SET(m->hazards_encoding, value);
    else if (!strcmp(section, "hazards") && !strcmp(name, "map"))
        SET(m->hazards_map, value);
    else if (!strcmp(section, "hazard_sources") && !strcmp(name, "file"))
        SET(m->sources_file, value);
    else if (!strcmp(section, "hazard_sources") && !strcmp(name, "s_srs"))
        SET(m->sources_srs, value);
    return 1;
}

/* The property a DBF field becomes under the manifest's map. */
static void mapped(const char *map, const char *src, char *out, size_t n)
{
    char pair[64];
    snprintf(pair, sizeof pair, "%s=", src);
    const char *at = strstr(map, pair);
    if (at && (at == map || at[-1] == ','))
        snprintf(out, n, "%.*s", (int)strcspn(at + strlen(pair), ","), at + strlen(pair));
    else
        snprintf(out, n, "%s", src);
}

static void manifest_maps_every_short_dbf_name(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.ini", shared());
    manifest m;
    memset(&m, 0, sizeof m);
    assert_int_equal(ini_parse(path, on_ini, &m), 0);
    assert_string_equal(m.hazards_file, "hazards.shp");
    assert_string_equal(m.hazards_encoding, "GBK");
    assert_string_equal(m.sources_file, "hazard_sources.csv");
    assert_string_equal(m.sources_srs, "EPSG:4490");
    /* every DBF field is a property once the map is applied */
    const situ_collection *c = situ_schema_find("hazards");
    GDALDatasetH ds = open_vector(shared(), "hazards.shp", NULL);
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(GDALDatasetGetLayer(ds, 0));
    for (int i = 0; i < OGR_FD_GetFieldCount(d); i++) {
        char prop[64];
        mapped(m.hazards_map, OGR_Fld_GetNameRef(OGR_FD_GetFieldDefn(d, i)), prop, sizeof prop);
        assert_true(situ_schema_field_index(c, prop) >= 0 || !strcmp(prop, "id") ||
                    !strcmp(prop, "township_code"));
    }
    GDALClose(ds);
}

/* ---- stations, resources ----------------------------------------------------------- */

static void stations_have_22_cameras_of_registered_departments(void **state)
{
    (void)state;
    GDALDatasetH ds = open_vector(shared(), "stations.geojson", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int cameras = 0, online = 0, n = 0;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        const char *kind = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "kind"));
        const char *dept = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "dept"));
        assert_true(situ_schema_dept_index(dept) >= 0);
        if (!strcmp(kind, "camera")) {
            cameras++;
            online += OGR_F_GetFieldAsInteger(f, OGR_F_GetFieldIndex(f, "online"));
        }
        n++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_int_equal(cameras, 22);
    assert_true(online > 11 && online <= 22);
    assert_true(n >= 150 && n <= 260);
}

static void check_items(json_t *items, const char *level, const char *category)
{
    assert_true(json_is_array(items));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *code = json_string_value(json_object_get(it, "item"));
        int k = situ_schema_item_index(code);
        assert_true(k >= 0);
        assert_string_equal(json_string_value(json_object_get(it, "unit")),
                            situ_schema_item(k)->unit);
        double qty = json_number_value(json_object_get(it, "qty"));
        assert_true(qty > 0);
        if (strcmp(code, "sandbag") || strcmp(category, "depot"))
            continue;
        if (!strcmp(level, "township"))
            assert_true(qty >= 500 && qty <= 3000);
        else if (!strcmp(level, "county"))
            assert_true(qty >= 10000 && qty <= 50000);
        else
            assert_true(qty >= 100000);
    }
}

static void resources_hold_items_of_the_vocabulary(void **state)
{
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s/resources.geojson", shared());
    json_error_t jerr;
    json_t *fc = json_load_file(path, 0, &jerr);
    assert_non_null(fc);
    const situ_collection *c = situ_schema_find("resources");
    json_t *feats = json_object_get(fc, "features"), *feat;
    size_t i;
    int depots[3] = {0, 0, 0}, teams = 0;
    json_array_foreach(feats, i, feat)
    {
        json_t *p = json_object_get(feat, "properties");
        const char *level = json_string_value(json_object_get(p, "level"));
        const char *category = json_string_value(json_object_get(p, "category"));
        check_items(json_object_get(p, "items"), level, category);
        if (!strcmp(category, "team")) {
            teams++;
            const char *type = json_string_value(json_object_get(p, "team_type"));
            assert_true(
                situ_schema_domain_ok(&c->fields[situ_schema_field_index(c, "team_type")], type));
            continue;
        }
        depots[!strcmp(level, "city") ? 0 : !strcmp(level, "county") ? 1 : 2]++;
    }
    json_decref(fc);
    assert_int_equal(depots[0], 2);
    assert_int_equal(depots[1], 13);
    assert_int_equal(depots[2], 182);
    assert_true(teams + 197 > 600 && teams + 197 < 1000);
}

/* ---- every feature in its township --------------------------------------------------- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that each feature of file has a unique id and a township_code of
 * a township that holds its point (polygons: that the township meets it);
 * ct, if given, brings the geometry to lon/lat. Returns the count. */
static int check_located(const townships *t, const char *file, char **oo,
                         OGRCoordinateTransformationH ct, const char *code_field)
{
    GDALDatasetH ds = open_vector(shared(), file, oo);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int n = 0;
    char **ids = NULL;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        const char *code = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, code_field));
        int i = townships_find(t, code);
        assert_true(i >= 0);
        OGRGeometryH g = OGR_F_GetGeometryRef(f);
        GEOSGeometry *geom;
        int ilon = OGR_F_GetFieldIndex(f, "lon");
        if (ilon >= 0)
            geom = GEOSGeom_createPointFromXY_r(
                t->gh, OGR_F_GetFieldAsDouble(f, ilon),
                OGR_F_GetFieldAsDouble(f, OGR_F_GetFieldIndex(f, "lat")));
        else {
            if (ct)
                OGR_G_Transform(g, ct);
            geom = to_geos(t->gh, g);
        }
        if (GEOSGeomTypeId_r(t->gh, geom) == GEOS_POINT)
            assert_int_equal(GEOSPreparedContains_r(t->gh, t->prep[i], geom), 1);
        else
            assert_int_equal(GEOSPreparedIntersects_r(t->gh, t->prep[i], geom), 1);
        GEOSGeom_destroy_r(t->gh, geom);
        ids = CSLAddString(ids, OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "id")));
        n++;
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    qsort(ids, (size_t)n, sizeof *ids, cmp_str_ptr);
    for (int i = 1; i < n; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    CSLDestroy(ids);
    return n;
}

/* 1 when name is a plausible village name: 2 to 4 Chinese characters and 村. */
static int village_like(const char *name)
{
    size_t n = strlen(name);
    if (n < 9 || n > 15 || n % 3 || strcmp(name + n - 3, "村"))
        return 0;
    for (size_t i = 0; i < n; i += 3) /* U+4E00..U+9FFF: E4..E9 then two continuation bytes */
        if ((unsigned char)name[i] < 0xE4 || (unsigned char)name[i] > 0xE9 ||
            ((unsigned char)name[i + 1] & 0xC0) != 0x80 ||
            ((unsigned char)name[i + 2] & 0xC0) != 0x80)
            return 0;
    return 1;
}

/* Checks dir's places.geojson against the townships t of the same dir:
 * each place lies inside the township it names, each township has its seat,
 * each county (13 per copy) its seat, each town and township at least 6
 * villages with plausible names, unique within it. Returns the villages. */
static int check_places(const townships *t, const char *dir)
{
    GDALDatasetH ds = open_vector(dir, "places.geojson", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int villages[TOWNSHIPS_MAX] = {0}, seats[TOWNSHIPS_MAX] = {0}, counties = 0, nv = 0;
    char **names = NULL;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        const char *kind = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "kind"));
        const char *name = OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "name"));
        int i =
            townships_find(t, OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, "township_code")));
        assert_true(i >= 0);
        GEOSGeometry *p = to_geos(t->gh, OGR_F_GetGeometryRef(f));
        assert_int_equal(GEOSPreparedContains_r(t->gh, t->prep[i], p), 1);
        GEOSGeom_destroy_r(t->gh, p);
        if (!strcmp(kind, "village")) {
            if (!village_like(name))
                fail_msg("not a village name: %s", name);
            char key[128];
            snprintf(key, sizeof key, "%s %s", t->code[i], name);
            names = CSLAddString(names, key);
            villages[i]++, nv++;
        } else if (!strcmp(kind, "township_seat")) {
            seats[i]++;
        } else {
            assert_string_equal(kind, "county_seat");
            counties++;
        }
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_int_equal(counties, 13 * (t->n / 182));
    for (int i = 0; i < t->n; i++) {
        assert_int_equal(seats[i], 1);
        if (strcmp(t->kind[i], "subdistrict") && villages[i] < 6)
            fail_msg("township %s has %d villages", t->code[i], villages[i]);
    }
    qsort(names, (size_t)nv, sizeof *names, cmp_str_ptr);
    for (int i = 1; i < nv; i++)
        if (!strcmp(names[i - 1], names[i]))
            fail_msg("two villages of one township share a name: %s", names[i]);
    CSLDestroy(names);
    return nv;
}

static void villages_lie_in_their_townships_with_plausible_names(void **state)
{
    (void)state;
    townships t;
    townships_load(&t, shared());
    int n = check_places(&t, shared());
    assert_true(n > 2500 && n < 4500); /* Yongzhou has some 3,000 administrative villages */
    townships_free(&t);
}

static void every_feature_lies_in_its_township(void **state)
{
    (void)state;
    townships t;
    townships_load(&t, shared());
    assert_int_equal(t.n, 182);
    OGRSpatialReferenceH src = OSRNewSpatialReference(NULL), dst = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(src, 4546), OSRImportFromEPSG(dst, 4326);
    OSRSetAxisMappingStrategy(src, OAMS_TRADITIONAL_GIS_ORDER);
    OSRSetAxisMappingStrategy(dst, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH ct = OCTNewCoordinateTransformation(src, dst);
    char **oo = CSLSetNameValue(NULL, "ENCODING", "CP936");
    assert_int_equal(check_located(&t, "risk_zones.geojson", NULL, NULL, "township_code"), 1500);
    assert_int_equal(check_located(&t, "hazards.shp", oo, ct, "twp_code"), 3000);
    assert_int_equal(check_located(&t, "hazard_sources.csv", NULL, NULL, "township_code"), 300);
    assert_true(check_located(&t, "resources.geojson", NULL, NULL, "township_code") > 600);
    assert_true(check_located(&t, "stations.geojson", NULL, NULL, "township_code") > 150);
    CSLDestroy(oo);
    OCTDestroyCoordinateTransformation(ct);
    OSRDestroySpatialReference(src), OSRDestroySpatialReference(dst);
    townships_free(&t);
}

/* ---- scale and errors ------------------------------------------------------------------ */

static void scale_two_adds_a_copy_with_its_own_codes(void **state)
{
    (void)state;
    char *dir = generate("demo-scale", 2, SEED);
    char codes[256][10];
    int ncodes = read_codes(codes);
    GDALDatasetH ds = open_vector(dir, "townships.geojson", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    char *seen[400];
    int n = 0, real = 0;
    OGRFeatureH f;
    while ((f = OGR_L_GetNextFeature(l)) != NULL && n < 400) {
        const char *code = OGR_F_GetFieldAsString(f, 0);
        assert_int_equal(strlen(code), 9);
        if (has_code(codes, ncodes, code))
            real++;
        else
            assert_memory_equal(code, "9001", 4);
        OGREnvelope e;
        OGR_G_GetEnvelope(OGR_F_GetGeometryRef(f), &e);
        if (!has_code(codes, ncodes, code)) /* the copy is away from Yongzhou */
            assert_true(e.MinX > 112.6 || e.MaxX < 111.0 || e.MinY > 26.9 || e.MaxY < 24.6);
        seen[n++] = strdup(code);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_int_equal(n, 364);
    assert_int_equal(real, 182);
    townships t; /* the copy's villages lie in the copy's townships */
    townships_load(&t, dir);
    assert_int_equal(t.n, 364);
    int nv = check_places(&t, dir);
    assert_true(nv > 5000);
    townships_free(&t);
    qsort(seen, (size_t)n, sizeof *seen, cmp_str_ptr);
    for (int i = 1; i < n; i++)
        assert_true(strcmp(seen[i - 1], seen[i]) != 0);
    for (int i = 0; i < n; i++)
        free(seen[i]);
    situ_test_rmtree(dir);
    free(dir);
}

/* The features of layer a agree with b's first ones, in order: fields by
 * name, with their types, and geometries as WKB (rings turned alike).
 * Returns how many were compared. */
static int same_features(OGRLayerH a, OGRLayerH b)
{
    OGRFeatureDefnH da = OGR_L_GetLayerDefn(a), db = OGR_L_GetLayerDefn(b);
    assert_int_equal(OGR_FD_GetFieldCount(da), OGR_FD_GetFieldCount(db));
    int n = 0;
    OGRFeatureH fa, fb;
    while ((fa = OGR_L_GetNextFeature(a)) != NULL) {
        assert_non_null(fb = OGR_L_GetNextFeature(b));
        for (int i = 0; i < OGR_FD_GetFieldCount(da); i++) {
            OGRFieldDefnH d = OGR_FD_GetFieldDefn(da, i);
            int j = OGR_FD_GetFieldIndex(db, OGR_Fld_GetNameRef(d));
            assert_true(j >= 0);
            assert_int_equal(OGR_Fld_GetType(d), OGR_Fld_GetType(OGR_FD_GetFieldDefn(db, j)));
            assert_int_equal(OGR_F_IsFieldSetAndNotNull(fa, i), OGR_F_IsFieldSetAndNotNull(fb, j));
            assert_string_equal(OGR_F_GetFieldAsString(fa, i), OGR_F_GetFieldAsString(fb, j));
        }
        OGRGeometryH ga = OGR_F_GetGeometryRef(fa), gb = OGR_F_GetGeometryRef(fb);
        size_t na = (size_t)OGR_G_WkbSize(ga), nb = (size_t)OGR_G_WkbSize(gb);
        unsigned char *wa = malloc(na), *wb = malloc(nb);
        OGR_G_ExportToWkb(ga, wkbNDR, wa), OGR_G_ExportToWkb(gb, wkbNDR, wb);
        assert_int_equal(na, nb);
        assert_memory_equal(wa, wb, na);
        free(wa), free(wb);
        OGR_F_Destroy(fa), OGR_F_Destroy(fb);
        n++;
    }
    return n;
}

/* From scale 10 (a bench's demo) the GeoJSON collections are FlatGeobuf
 * (GDAL reads GeoJSON twice, as text), and load as their GeoJSON would:
 * the first copy of the city, feature by feature, as at scale 1 read from
 * GeoJSON with the loader's options (coordinates rounded, RFC 7946 rings,
 * field types as GDAL reads them). */
static void from_scale_ten_geojson_collections_are_flatgeobuf_alike(void **state)
{
    (void)state;
    char *dir = generate("demo-fgb", 10, SEED);
    static const char *const ids[] = {"townships", "risk_zones", "resources", "stations"};
    char *oo[] = {"DATE_AS_STRING=YES", NULL}, file[64];
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        snprintf(file, sizeof file, "%s.geojson", ids[i]);
        assert_false(file_exists(dir, file));
        GDALDatasetH gj = open_vector(shared(), file, oo);
        snprintf(file, sizeof file, "%s.fgb", ids[i]);
        GDALDatasetH fgb = open_vector(dir, file, NULL);
        int n = same_features(GDALDatasetGetLayer(gj, 0), GDALDatasetGetLayer(fgb, 0));
        assert_true(n > 100);
        assert_true(OGR_L_GetFeatureCount(GDALDatasetGetLayer(fgb, 0), 1) >= 10LL * n);
        GDALClose(gj), GDALClose(fgb);
    }
    situ_test_rmtree(dir);
    free(dir);
}

static void bad_options_and_inputs_are_errors(void **state)
{
    (void)state;
    char *dir = situ_test_tmpdir("demo-bad");
    situ_err err = {0};
    situ_demo_opts o = {.out_dir = dir, .geodata_dir = "/nonexistent", .scale = 1, .seed = 1};
    assert_int_equal(situ_demo_write(&o, NULL, &err), SITU_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent"));
    o.geodata_dir = GEODATA;
    o.scale = 0;
    assert_int_equal(situ_demo_write(&o, NULL, &err), SITU_EINVAL);
    o.scale = SITU_DEMO_MAX_SCALE + 1;
    assert_int_equal(situ_demo_write(&o, NULL, &err), SITU_EINVAL);
    situ_test_rmtree(dir);
    free(dir);
}

static void departments_csv_is_the_registry(void **state)
{
    (void)state;
    GDALDatasetH ds = open_vector(shared(), "departments.csv", NULL);
    OGRLayerH l = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f;
    int n = 0;
    while ((f = OGR_L_GetNextFeature(l)) != NULL) {
        const situ_dept *d = situ_schema_dept(n++);
        assert_non_null(d);
        assert_string_equal(OGR_F_GetFieldAsString(f, 0), d->code);
        assert_string_equal(OGR_F_GetFieldAsString(f, 1), d->name_zh);
        assert_int_equal(OGR_F_GetFieldAsInteger(f, 3), d->interval_s);
        OGR_F_Destroy(f);
    }
    GDALClose(ds);
    assert_int_equal(n, situ_schema_ndepts());
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    return 0;
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(same_seed_and_scale_give_the_same_bytes, setup),
    cmocka_unit_test_setup(another_seed_gives_other_bytes, setup),
    cmocka_unit_test_setup(townships_tile_the_city_with_the_real_codes, setup),
    cmocka_unit_test_setup(hazards_shapefile_is_gbk_in_epsg_4546_without_cpg, setup),
    cmocka_unit_test_setup(hazard_sources_csv_has_lonlat_in_yongzhou, setup),
    cmocka_unit_test_setup(manifest_maps_every_short_dbf_name, setup),
    cmocka_unit_test_setup(stations_have_22_cameras_of_registered_departments, setup),
    cmocka_unit_test_setup(resources_hold_items_of_the_vocabulary, setup),
    cmocka_unit_test_setup(every_feature_lies_in_its_township, setup),
    cmocka_unit_test_setup(villages_lie_in_their_townships_with_plausible_names, setup),
    cmocka_unit_test_setup(scale_two_adds_a_copy_with_its_own_codes, setup),
    cmocka_unit_test_setup(from_scale_ten_geojson_collections_are_flatgeobuf_alike, setup),
    cmocka_unit_test_setup(bad_options_and_inputs_are_errors, setup),
    cmocka_unit_test_setup(departments_csv_is_the_registry, setup),
};

SITU_TEST_MAIN("demo", tests)

/* load_test.c: tests layers/load/load*.c (situ load) with real files, GDAL, PROJ's
 * own figures (cs2cs) and a real SpatiaLite store. Fixtures are the tiny
 * files in tests/data/load/ plus a few built here with ogr2ogr. */
#include "testlib.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gdal.h>
#include <ogr_api.h>

#include "situ/clock.h"
#include "situ/load.h"
#include "situ/store.h"

#define DATA SITU_TEST_DATA "/load"

typedef situ_test_store_fx fixture;

static int setup(void **state)
{
    return situ_test_store_setup(state);
}

static int teardown(void **state)
{
    return situ_test_store_teardown(state);
}

/* ---- helpers ------------------------------------------------------------ */

static int load(fixture *fx, const char *coll, const char *path, const char *s_srs, const char *enc,
                situ_load_stats *st, situ_err *err)
{
    situ_load_opts o = {.collection = coll,
                        .s_srs = s_srs,
                        .encoding = enc,
                        .max_rejected_share = 1 /* the tests count rejections */};
    return situ_load_file(fx->s, path, &o, st, err);
}

static void must_load(fixture *fx, const char *coll, const char *path, const char *s_srs,
                      const char *enc, situ_load_stats *st)
{
    situ_err err = {0};
    int rc = load(fx, coll, path, s_srs, enc, st, &err);
    if (rc)
        fprintf(stderr, "load %s: %s\n", path, err.msg);
    assert_int_equal(rc, 0);
}

/* The first column of the first row as a malloc'd string; NULL for SQL NULL. */
static char *q_text(fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    char *out = NULL;
    int rc = sqlite3_prepare_v2(situ_store_db(fx->s), sql, -1, &st, NULL);
    if (rc)
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(situ_store_db(fx->s)));
    assert_int_equal(rc, SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    if (sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static long long q_int(fixture *fx, const char *sql)
{
    char *t = q_text(fx, sql);
    long long v = t ? atoll(t) : -1;
    free(t);
    return v;
}

/* Asserts the first column of sql equals want (NULL: SQL NULL). */
static void assert_q(fixture *fx, const char *sql, const char *want)
{
    char *got = q_text(fx, sql);
    if (!want)
        assert_null(got);
    else
        assert_string_equal(got ? got : "(null)", want);
    free(got);
}

static void stored_point(fixture *fx, const char *table, const char *id, double *x, double *y)
{
    char sql[256];
    sqlite3_stmt *st;
    snprintf(sql, sizeof sql, "SELECT X(geom), Y(geom) FROM %s WHERE id = '%s'", table, id);
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(fx->s), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *x = sqlite3_column_double(st, 0);
    *y = sqlite3_column_double(st, 1);
    sqlite3_finalize(st);
}

/* PROJ's own answer: `echo "a b" | cs2cs -f %.9f from to`, first two numbers. */
static void cs2cs(const char *from, const char *to, double a, double b, double *o1, double *o2)
{
    char *out = NULL;
    assert_int_equal(situ_test_sh(&out, "echo '%.9f %.9f' | cs2cs -f %%.9f %s %s", a, b, from, to),
                     0);
    assert_int_equal(sscanf(out, "%lf %lf", o1, o2), 2);
    free(out);
}

/* A digest of every row of every collection and of resource_items. */
static unsigned long long checksum(fixture *fx)
{
    static const char *const tables[] = {"townships",      "risk_zones",     "hazards",
                                         "hazard_sources", "resources",      "stations",
                                         "alerts",         "resource_items", NULL};
    return situ_test_store_digest(fx->s, tables);
}

static long long total_rows(fixture *fx)
{
    return q_int(fx, "SELECT (SELECT count(*) FROM townships) + (SELECT count(*) FROM hazards) + "
                     "(SELECT count(*) FROM risk_zones) + (SELECT count(*) FROM resources) + "
                     "(SELECT count(*) FROM resource_items)");
}

/* The grouped reason starting with prefix, or NULL. */
static const situ_load_reason *reason(const situ_load_stats *st, const char *prefix)
{
    for (int i = 0; i < st->nreasons; i++)
        if (!strncmp(st->reasons[i].reason, prefix, strlen(prefix)))
            return &st->reasons[i];
    return NULL;
}

static void assert_reason(const situ_load_stats *st, const char *prefix, const char *example)
{
    const situ_load_reason *r = reason(st, prefix);
    if (!r)
        fprintf(stderr, "no reason '%s'\n", prefix);
    assert_non_null(r);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->example_id, example);
}

static void path_in(char out[4096], const fixture *fx, const char *name)
{
    snprintf(out, 4096, "%s/%s", fx->dir, name);
}

/* A GBK Shapefile at path (.shp) as real-world ones come: no .cpg and no
 * code-page byte in the DBF header, so only --encoding can tell. */
static void make_gbk_shapefile(const char *path, const char *geojson, const char *t_srs)
{
    char src[4096], base[4096];
    snprintf(src, sizeof src, "%s.in.geojson", path);
    snprintf(base, sizeof base, "%.*s", (int)(strlen(path) - 4), path);
    assert_int_equal(situ_test_write(src, geojson), 0);
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f 'ESRI Shapefile' -lco ENCODING=CP936 %s%s '%s' "
                                  "'%s' && rm '%s.cpg' '%s' && printf '\\000' | dd of='%s.dbf' "
                                  "bs=1 seek=29 conv=notrunc 2>/dev/null",
                                  t_srs ? "-t_srs " : "", t_srs ? t_srs : "", path, src, base, src,
                                  base),
                     0);
}

/* ---- tests -------------------------------------------------------------- */

static void reprojects_gauss_kruger_and_cgcs2000_like_proj(void **state)
{
    fixture *fx = *state;
    char csv[4096], shp[4096];
    situ_load_stats st;
    static const struct {
        const char *id;
        double e, n;
    } gk[] = {{"GK1", 559823.40, 2921456.70}, {"GK2", 487000.25, 2890000.50}};
    /* a Shapefile whose .prj says EPSG:4546 (CGCS2000 3-degree GK, CM 111E) */
    path_in(csv, fx, "gk.csv");
    path_in(shp, fx, "gk.shp");
    assert_int_equal(situ_test_write(csv, "id,name,category,level,status,x,y\n"
                                          "GK1,甲,gas,major,open,559823.40,2921456.70\n"
                                          "GK2,乙,mining,general,open,487000.25,2890000.50\n"),
                     0);
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f 'ESRI Shapefile' -lco ENCODING=UTF-8 -a_srs "
                                  "EPSG:4546 -oo X_POSSIBLE_NAMES=x -oo Y_POSSIBLE_NAMES=y "
                                  "'%s' '%s'",
                                  shp, csv),
                     0);
    must_load(fx, "hazards", shp, NULL, NULL, &st);
    assert_int_equal(st.inserted, 2);
    for (int i = 0; i < 2; i++) {
        double lat, lon, x, y;
        cs2cs("EPSG:4546", "EPSG:4326", gk[i].n, gk[i].e, &lat, &lon); /* northing first */
        stored_point(fx, "hazards", gk[i].id, &x, &y);
        assert_true(fabs(x - lon) < 1e-7 && fabs(y - lat) < 1e-7);
    }
    /* a CSV in CGCS2000 (EPSG:4490) with no CRS of its own */
    path_in(csv, fx, "cg.csv");
    assert_int_equal(situ_test_write(csv, "id,name,category,level,status,lon,lat\n"
                                          "CG1,丙,gas,major,open,111.612345678,26.421234567\n"),
                     0);
    must_load(fx, "hazards", csv, "EPSG:4490", NULL, &st);
    double lat, lon, x, y;
    cs2cs("EPSG:4490", "EPSG:4326", 26.421234567, 111.612345678, &lat, &lon);
    stored_point(fx, "hazards", "CG1", &x, &y);
    assert_true(fabs(x - lon) < 1e-7 && fabs(y - lat) < 1e-7);
    /* --s_srs overrides the file's own CRS: the GK metres read as EPSG:4546 again */
    must_load(fx, "hazards", shp, "EPSG:4546", NULL, &st);
    assert_int_equal(st.updated, 2);
}

/* on_feature: keeps the last feature told about in ctx (256 bytes). */
static void remember(void *ctx, const char *coll, const char *id, const char *what,
                     const char *reason)
{
    snprintf(ctx, 256, "%s %s %s: %s", coll, id, what, reason);
}

static void reads_gbk_dbf_without_cpg(void **state)
{
    fixture *fx = *state;
    char shp[4096];
    situ_load_stats st;
    path_in(shp, fx, "gbk.shp");
    make_gbk_shapefile(shp,
                       "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
                       "\"properties\":{\"id\":\"G1\",\"name\":\"冷水滩区河东街道隐患\","
                       "\"category\":\"gas\",\"level\":\"major\",\"status\":\"open\","
                       "\"resp_pers\":\"张三\"},\"geometry\":{\"type\":\"Point\","
                       "\"coordinates\":[111.6,26.4]}}]}",
                       NULL);
    /* no .prj either: the CRS comes from --s_srs */
    must_load(fx, "hazards", shp, "EPSG:4490", "GBK", &st);
    assert_q(fx, "SELECT name FROM hazards WHERE id = 'G1'", "冷水滩区河东街道隐患");
    assert_q(fx, "SELECT json_extract(extra, '$.resp_pers') FROM hazards", "张三");
    assert_int_equal(st.gbk, 0);
    /* undeclared, and the bytes are not UTF-8: read as GBK, and said so */
    assert_int_equal(
        sqlite3_exec(situ_store_db(fx->s), "UPDATE hazards SET name = 'x'", NULL, NULL, NULL), 0);
    must_load(fx, "hazards", shp, "EPSG:4490", NULL, &st);
    assert_q(fx, "SELECT name FROM hazards WHERE id = 'G1'", "冷水滩区河东街道隐患");
    assert_int_equal(st.gbk, 1);
    /* declared UTF-8 (a .cpg that lies): rejected with the field named */
    char cpg[4096], said[256] = "";
    path_in(cpg, fx, "gbk.cpg");
    assert_int_equal(situ_test_write(cpg, "UTF-8"), 0);
    situ_load_opts o = {.collection = "hazards",
                        .s_srs = "EPSG:4490",
                        .on_feature = remember,
                        .on_feature_ctx = said};
    situ_err err = {0};
    assert_int_equal(situ_load_file(fx->s, shp, &o, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "all 1 features were rejected"));
    assert_string_equal(said, "hazards G1 rejected: name is not valid UTF-8 (it reads as GBK: "
                              "give --encoding GBK)");
    unlink(cpg);
    must_load(fx, "hazards", shp, "EPSG:4490", "gb18030", &st);
    assert_q(fx, "SELECT name FROM hazards WHERE id = 'G1'", "冷水滩区河东街道隐患");
    assert_int_equal(load(fx, "hazards", shp, "EPSG:4490", "KLINGON", &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "encoding"));
}

/* Field name of feature 0 of the Shapefile at path as GDAL reads it with
 * ENCODING=enc (its own recoding, CPLRecode); malloc'd. */
static char *gdal_text(const char *path, const char *enc, const char *name)
{
    char oo[64];
    snprintf(oo, sizeof oo, "ENCODING=%s", enc);
    const char *const opts[] = {oo, NULL};
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_VECTOR, NULL, opts, NULL);
    assert_non_null(ds);
    OGRLayerH lyr = GDALDatasetGetLayer(ds, 0);
    OGRFeatureH f = OGR_L_GetNextFeature(lyr);
    assert_non_null(f);
    char *out = strdup(OGR_F_GetFieldAsString(f, OGR_F_GetFieldIndex(f, name)));
    OGR_F_Destroy(f);
    GDALClose(ds);
    return out;
}

/* Overwrites the first marker in path's bytes with bytes (as long). */
static void patch_bytes(const char *path, const char *marker, const char *bytes)
{
    FILE *f = fopen(path, "r+b");
    char buf[8192];
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf, f);
    size_t at = 0, m = strlen(marker);
    while (at + m <= n && memcmp(buf + at, marker, m))
        at++;
    assert_true(at + m <= n);
    assert_int_equal(fseek(f, (long)at, SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, strlen(bytes), f), strlen(bytes));
    fclose(f);
}

/* A Shapefile with --encoding GBK is read raw and recoded by the loader,
 * one iconv for the file, exactly as GDAL's own ENCODING would: a byte GBK
 * cannot read is dropped and the rest read on, an incomplete character at
 * the end dropped, field names recoded too. */
static void recodes_a_gbk_shapefile_as_gdal_would(void **state)
{
    fixture *fx = *state;
    char shp[4096], dbf[4096];
    situ_load_stats st;
    path_in(shp, fx, "bad.shp");
    path_in(dbf, fx, "bad.dbf");
    make_gbk_shapefile(shp,
                       "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\","
                       "\"properties\":{\"id\":\"G1\",\"name\":\"冷水滩QQ区河东XX\","
                       "\"category\":\"gas\",\"level\":\"major\",\"status\":\"open\","
                       "\"负责人\":\"张三\"},\"geometry\":{\"type\":\"Point\","
                       "\"coordinates\":[111.6,26.4]}}]}",
                       NULL);
    patch_bytes(dbf, "QQ",
                "\xff"
                "0");                /* no GBK character starts with 0xFF */
    patch_bytes(dbf, "XX", "Y\x81"); /* a lead byte cut short at the end */
    char *want = gdal_text(shp, "CP936", "name"), *want_person = gdal_text(shp, "CP936", "负责人");
    assert_string_equal(want, "冷水滩0区河东Y");
    must_load(fx, "hazards", shp, "EPSG:4490", "GBK", &st);
    assert_int_equal(st.inserted, 1);
    assert_q(fx, "SELECT name FROM hazards WHERE id = 'G1'", want);
    assert_q(fx, "SELECT json_extract(extra, '$.负责人') FROM hazards", want_person);
    free(want);
    free(want_person);
}

static void repairs_bow_tie_and_stores_it_valid(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    situ_err err = {0};
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    /* the lobes of a bow-tie cancel out: its repair changes the area by 100% */
    must_load(fx, "risk_zones", DATA "/risk_zones.geojson", NULL, NULL, &st);
    assert_reason(&st, "repair would change the area by 100.0% (more than 1%", "RZ-bowtie");
    assert_int_equal(st.inserted, 1);
    situ_load_opts o = {.collection = "risk_zones", .flag_repairs = 1, .max_rejected_share = 1};
    assert_int_equal(situ_load_file(fx->s, DATA "/risk_zones.geojson", &o, &st, &err), 0);
    assert_int_equal(st.read, 5);
    assert_int_equal(st.inserted, 1);
    assert_int_equal(st.repaired, 1);
    assert_int_equal(st.flagged, 1);
    assert_q(fx, "SELECT ST_IsValid(geom) FROM risk_zones WHERE id = 'RZ-bowtie'", "1");
    assert_q(fx, "SELECT GeometryType(geom) FROM risk_zones WHERE id = 'RZ-bowtie'",
             "MULTIPOLYGON");
    assert_q(fx, "SELECT NumGeometries(geom) FROM risk_zones WHERE id = 'RZ-bowtie'", "2");
    assert_q(fx, "SELECT round(ST_Area(geom), 6) FROM risk_zones WHERE id = 'RZ-bowtie'", "0.0018");
    assert_q(fx, "SELECT township_code FROM risk_zones WHERE id = 'RZ-bowtie'", "431102001");
}

static void assigns_townships_by_point_and_largest_share(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    assert_int_equal(st.inserted, 3);
    assert_q(fx, "SELECT township_code FROM townships WHERE id = '431102002'", "431102002");
    must_load(fx, "hazards", DATA "/hazards.geojson", NULL, NULL, &st);
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H1'", "431102001");
    /* on the border of 431102001 and 431102002: the smaller code, every time */
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H2'", "431102001");
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H3'", NULL);
    assert_int_equal(st.outside, 1);
    /* a code that names no township is rejected with its reason */
    assert_q(fx, "SELECT count(*) FROM hazards WHERE id = 'H4'", "0");
    assert_reason(&st, "township_code 431102999 names no township of the store", "H4");
    assert_int_equal(st.bad_code, 1);
    must_load(fx, "risk_zones", DATA "/risk_zones.geojson", NULL, NULL, &st);
    /* 20% in 431102001, 80% in 431102002 */
    assert_q(fx, "SELECT township_code FROM risk_zones WHERE id = 'RZ-straddle'", "431102002");
    assert_int_equal(st.outside, 0);
}

/* Townships stored out of code order (rows come back in whatever order
 * the engine likes): the border's tie still goes to the smaller code. */
static void townships_stored_in_any_order_assign_by_code(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    char rev[4096];
    path_in(rev, fx, "townships-reversed.geojson");
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f GeoJSON '%s' %s/townships.geojson -sql "
                                  "'SELECT * FROM townships ORDER BY township_code DESC'",
                                  rev, DATA),
                     0);
    must_load(fx, "townships", rev, NULL, NULL, &st);
    assert_q(fx, "SELECT group_concat(id, ' ') FROM (SELECT id FROM townships ORDER BY fid)",
             "431102100 431102002 431102001");
    must_load(fx, "hazards", DATA "/hazards.geojson", NULL, NULL, &st);
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H2'", "431102001");
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H1'", "431102001");
}

static void rejects_features_with_grouped_reasons(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    must_load(fx, "hazards", DATA "/hazards.geojson", NULL, NULL, &st);
    assert_int_equal(st.read, 9);
    assert_int_equal(st.inserted, 4);
    assert_int_equal(st.rejected, 5);
    assert_reason(&st, "level not one of its allowed values", "H5");
    assert_reason(&st, "missing required field name", "H6");
    assert_reason(&st, "coordinate out of range", "H7");
    assert_reason(&st, "wrong geometry type: Line String for a point collection", "H8");
    assert_reason(&st, "duplicate id in source", "H1");
    /* the first H1 stands */
    assert_q(fx, "SELECT name FROM hazards WHERE id = 'H1'", "化工厂储罐区");

    must_load(fx, "resources", DATA "/resources.csv", "EPSG:4490", NULL, &st);
    assert_int_equal(st.read, 7);
    assert_int_equal(st.inserted, 2);
    assert_reason(&st, "unknown item code in items", "R3");
    assert_reason(&st, "negative quantity in items", "R4");
    assert_reason(&st, "no geometry", "R5"); /* GDAL reads lon "nan" as no point */
    assert_reason(&st, "bad number in personnel", "R6");
    assert_reason(&st, "non-finite coordinate", "R7");

    must_load(fx, "risk_zones", DATA "/risk_zones.geojson", NULL, NULL, &st);
    assert_reason(&st, "risk_level outside 1..4", "RZ-level9");
    assert_reason(&st, "wrong geometry type: Point for a polygon collection", "RZ-point");
    assert_reason(&st, "non-finite coordinate", "RZ-nan"); /* GeoJSON NaN: GDAL reads it */
    assert_int_equal(q_int(fx, "SELECT count(*) FROM risk_zones"), 1); /* + RZ-bowtie: flagged */
}

/* roads takes lines (a LineString promoted, vertices kept in their order),
 * refuses polygons, points and one-point lines, and checks its fields
 * against the schema: class required, class and oneway in their domains.
 * The township is the one at the middle vertex of the first part. */
static void assert_fixture_roads(fixture *fx, const situ_load_stats *stats)
{
    situ_load_stats st = *stats;
    assert_int_equal(st.read, 8);
    assert_int_equal(st.inserted, 2);
    assert_int_equal(st.rejected, 6);
    assert_reason(&st, "wrong geometry type: Polygon for a line collection", "R3");
    assert_reason(&st, "wrong geometry type: Point for a line collection", "R4");
    assert_reason(&st, "missing required field class", "R5");
    assert_reason(&st, "class not one of its allowed values", "R6");
    assert_reason(&st, "oneway not one of its allowed values", "R7");
    assert_reason(&st, "a line part with fewer than 2 points", "R8");
    assert_q(fx, "SELECT AsText(geom) FROM roads WHERE id = 'R1'",
             "MULTILINESTRING((111.02 26.02, 111.05 26.05, 111.15 26.05))");
    assert_q(fx, "SELECT AsText(geom) FROM roads WHERE id = 'R2'",
             "MULTILINESTRING((111.15 26.02, 111.15 26.08, 111.18 26.09), "
             "(111.05 26.15, 111.06 26.16))");
    assert_q(fx, "SELECT township_code FROM roads WHERE id = 'R1'", "431102001");
    assert_q(fx, "SELECT township_code FROM roads WHERE id = 'R2'", "431102002");
    assert_q(fx,
             "SELECT class || ',' || oneway || ',' || bridge || ',' || speed_kmh || ',' || "
             "layer FROM roads WHERE id = 'R2'",
             "county,yes,1,60.0,1");
}

static void loads_roads_as_lines_and_refuses_the_rest(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    must_load(fx, "roads", DATA "/roads.geojson", NULL, NULL, &st);
    assert_fixture_roads(fx, &st);
}

/* `situ demo` writes its roads as FlatGeobuf (read once and binary, where
 * GDAL reads GeoJSON twice as text): --all takes roads.fgb, and the same
 * roads load from it as from their GeoJSON, rejections and all. */
static void load_dir_takes_roads_from_flatgeobuf(void **state)
{
    fixture *fx = *state;
    char dir[4096];
    situ_load_stats st[SITU_NCOLLECTIONS];
    situ_load_opts o = {.max_rejected_share = 1};
    situ_err err = {0};
    int nfiles = 0;
    snprintf(dir, sizeof dir, "%s/fgb", fx->dir);
    assert_int_equal(situ_test_sh(NULL,
                                  "mkdir -p '%s' && cp %s/townships.geojson '%s/' && "
                                  "ogr2ogr -f FlatGeobuf -lco SPATIAL_INDEX=NO '%s/roads.fgb' "
                                  "%s/roads.geojson",
                                  dir, DATA, dir, dir, DATA),
                     0);
    int rc = situ_load_dir(fx->s, dir, &o, st, &nfiles, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(nfiles, 2);
    assert_fixture_roads(fx, &st[SITU_C_ROADS]);
}

/* A repair that changes meaning says by how much: a hole outside its shell
 * filled in (+40% of the area), the overlap of a collection's parts cut out
 * (MakeValid keeps what one part alone covers: -25%), a spike of no area
 * dropped (0%). */
static void repairs_report_their_area_change(void **state)
{
    fixture *fx = *state;
    char gj[4096], said[256] = "";
    situ_load_stats st;
    situ_err err = {0};
    path_in(gj, fx, "rz.geojson");
    assert_int_equal(
        situ_test_write(
            gj, "{\"type\":\"FeatureCollection\",\"features\":["
                "{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-hole\",\"name\":\"a\","
                "\"hazard_type\":\"flood\",\"risk_level\":2},\"geometry\":{\"type\":\"Polygon\","
                "\"coordinates\":[[[111.02,26.02],[111.04,26.02],[111.04,26.04],[111.02,26.04],"
                "[111.02,26.02]],[[111.05,26.05],[111.06,26.05],[111.06,26.06],[111.05,26.06],"
                "[111.05,26.05]]]}},"
                "{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-overlap\",\"name\":\"b\","
                "\"hazard_type\":\"flood\",\"risk_level\":2},\"geometry\":{\"type\":"
                "\"GeometryCollection\",\"geometries\":[{\"type\":\"Polygon\",\"coordinates\":"
                "[[[111.02,26.02],[111.04,26.02],[111.04,26.04],[111.02,26.04],[111.02,26.02]]]},"
                "{\"type\":\"Polygon\",\"coordinates\":[[[111.03,26.03],[111.05,26.03],"
                "[111.05,26.05],[111.03,26.05],[111.03,26.03]]]}]}},"
                "{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-spike\",\"name\":\"c\","
                "\"hazard_type\":\"flood\",\"risk_level\":2},\"geometry\":{\"type\":\"Polygon\","
                "\"coordinates\":[[[111.02,26.02],[111.04,26.02],[111.04,26.04],[111.03,26.04],"
                "[111.03,26.045],[111.03,26.04],[111.02,26.04],[111.02,26.02]]]}}]}"),
        0);
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    situ_load_opts o = {.collection = "risk_zones",
                        .on_feature = remember,
                        .on_feature_ctx = said,
                        .max_rejected_share = 1};
    assert_int_equal(situ_load_file(fx->s, gj, &o, &st, &err), 0);
    assert_int_equal(st.repaired, 1);
    assert_string_equal(said, "risk_zones RZ-spike repaired: repaired (GEOS MakeValid); the area "
                              "changed by 0.00%");
    assert_reason(&st, "repair would change the area by 40.0%", "RZ-hole");
    assert_reason(&st, "repair would change the area by 25.0%", "RZ-overlap");
    o.flag_repairs = 1;
    assert_int_equal(situ_load_file(fx->s, gj, &o, &st, &err), 0);
    assert_int_equal(st.flagged, 2);
    assert_string_equal(said, "risk_zones RZ-spike repaired: repaired (GEOS MakeValid); the area "
                              "changed by 0.00%");
    assert_q(fx, "SELECT round(ST_Area(geom), 6) FROM risk_zones WHERE id = 'RZ-hole'", "0.0005");
    assert_q(fx, "SELECT round(ST_Area(geom), 6) FROM risk_zones WHERE id = 'RZ-overlap'",
             "0.0006");
}

/* A geometry past the vertex limit is rejected before GEOS sees it; one past
 * the time budget is cut and rejected as too complex. */
static void bounds_the_work_per_geometry(void **state)
{
    fixture *fx = *state;
    char gj[4096], said[256] = "";
    situ_load_stats st;
    situ_err err = {0};
    path_in(gj, fx, "hostile.geojson");
    /* a ring of 3,000 pseudo-random vertices: about a million self-intersections */
    assert_int_equal(situ_test_sh(NULL,
                                  "python3 -c 'import json,random; r=random.Random(14); "
                                  "c=[[111.03+r.uniform(-.01,.01),26.03+r.uniform(-.01,.01)] "
                                  "for _ in range(3000)]; c.append(c[0]); "
                                  "json.dump({\"type\":\"FeatureCollection\",\"features\":"
                                  "[{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-x\","
                                  "\"name\":\"x\",\"hazard_type\":\"flood\",\"risk_level\":"
                                  "2},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":"
                                  "[c]}}]}, open(\"%s\",\"w\"))'",
                                  gj),
                     0);
    situ_load_opts o = {.collection = "risk_zones",
                        .max_vertices = 2999,
                        .on_feature = remember,
                        .on_feature_ctx = said};
    assert_int_equal(situ_load_file(fx->s, gj, &o, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "all 1 features were rejected"));
    assert_string_equal(said, "risk_zones RZ-x rejected: too many vertices: 3001 (more than 2999; "
                              "--max-vertices)");
    o.max_vertices = 0, o.repair_seconds = 0.5;
    double t0 = situ_clock_s();
    assert_int_equal(situ_load_file(fx->s, gj, &o, &st, &err), SITU_EINVAL);
    /* a generous liveness bound: unbounded, this repair runs for many minutes */
    assert_true(situ_clock_s() - t0 < 30);
    assert_string_equal(said, "risk_zones RZ-x rejected: polygon too complex to repair within 0.5 "
                              "s (--repair-seconds)");
}

static void reload_is_idempotent(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    must_load(fx, "resources", DATA "/resources.csv", "EPSG:4490", NULL, &st);
    long long rows = total_rows(fx);
    char *before = q_text(fx, "SELECT group_concat(id || township_code || name || "
                              "coalesce(extra, '') || hex(geom)) FROM resources");
    must_load(fx, "resources", DATA "/resources.csv", "EPSG:4490", NULL, &st);
    assert_int_equal(st.inserted, 0);
    assert_int_equal(st.updated, 2);
    assert_int_equal(total_rows(fx), rows);
    assert_q(fx,
             "SELECT group_concat(id || township_code || name || coalesce(extra, '') || "
             "hex(geom)) FROM resources",
             before);
    free(before);
}

static void reads_csv_lon_lat_columns_and_items(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    double x, y;
    must_load(fx, "resources", DATA "/resources.csv", "EPSG:4490", NULL, &st);
    stored_point(fx, "resources", "R1", &x, &y);
    assert_true(fabs(x - 111.05) < 1e-7 && fabs(y - 26.05) < 1e-7);
    /* text stays text: a phone number keeps its leading zero */
    assert_q(fx, "SELECT phone FROM resources WHERE id = 'R1'", "07466221234");
    assert_q(fx, "SELECT personnel FROM resources WHERE id = 'R2'", "35");
    assert_q(fx, "SELECT typeof(personnel) FROM resources WHERE id = 'R2'", "integer");
    assert_q(fx, "SELECT extra FROM resources WHERE id = 'R1'", "{\"note\":\"仓库在二楼\"}");
    assert_q(fx,
             "SELECT group_concat(item || ':' || quantity || ':' || unit, ' ') FROM "
             "(SELECT * FROM resource_items WHERE resource_id = 'R1' ORDER BY item)",
             "life_jacket:300.0:piece sandbag:2000.0:bag");
}

static void missing_crs_fails_naming_s_srs_and_changes_nothing(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    situ_err err = {0};
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    unsigned long long sum = checksum(fx);
    assert_int_equal(load(fx, "resources", DATA "/resources.csv", NULL, NULL, &st, &err),
                     SITU_EINVAL);
    assert_non_null(strstr(err.msg, "resources.csv has no CRS; give --s_srs, e.g. EPSG:4490"));
    assert_int_equal(checksum(fx), sum);
    assert_int_equal(load(fx, "hazards", DATA "/nope.geojson", NULL, NULL, &st, &err),
                     SITU_ENOTFOUND);
    assert_int_equal(load(fx, "unicorns", DATA "/hazards.geojson", NULL, NULL, &st, &err),
                     SITU_ENOTFOUND);
    assert_int_equal(checksum(fx), sum);
}

static void map_renames_source_fields(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    situ_err err = {0};
    const char *map[] = {"resp_unit=responsible_unit", "INSPECTOR=responsible_person"};
    situ_load_opts o = {.collection = "hazards", .map = map, .nmap = 2, .max_rejected_share = 1};
    assert_int_equal(situ_load_file(fx->s, DATA "/hazards.geojson", &o, &st, &err), 0);
    assert_q(fx,
             "SELECT responsible_unit || '/' || responsible_person || '/' || extra FROM "
             "hazards WHERE id = 'H1'",
             "永州化工有限公司/李四/{\"score\":7}");
    const char *bad[] = {"resp_unit=unicorn"};
    o.map = bad, o.nmap = 1;
    assert_int_equal(situ_load_file(fx->s, DATA "/hazards.geojson", &o, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "unicorn"));
}

/* A folder as `situ demo` writes one: GeoJSON townships, a GBK Shapefile in
 * EPSG:4546 without .cpg, a CSV in CGCS2000, a manifest, and files to skip. */
static void make_demo_dir(const fixture *fx, char dir[4096], int with_manifest)
{
    char p[4096];
    double n1, e1, n2, e2;
    snprintf(dir, 4096, "%s/demo", fx->dir);
    assert_int_equal(situ_test_sh(NULL,
                                  "mkdir -p '%s' && cp %s/townships.geojson %s/"
                                  "resources.csv '%s/'",
                                  dir, DATA, DATA, dir),
                     0);
    cs2cs("EPSG:4326", "EPSG:4546", 26.05, 111.05, &n1, &e1);
    cs2cs("EPSG:4326", "EPSG:4546", 26.15, 111.15, &n2, &e2);
    char gj[2048];
    snprintf(gj, sizeof gj,
             "{\"type\":\"FeatureCollection\",\"features\":["
             "{\"type\":\"Feature\",\"properties\":{\"id\":\"S1\",\"name\":\"河东加油站\","
             "\"category\":\"gas\",\"level\":\"major\",\"status\":\"open\",\"resp_unit\":"
             "\"中石化永州分公司\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.4f,%.4f]}},"
             "{\"type\":\"Feature\",\"properties\":{\"id\":\"S2\",\"name\":\"富家桥烟花仓库\","
             "\"category\":\"fireworks\",\"level\":\"general\",\"status\":\"open\"},"
             "\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.4f,%.4f]}}]}",
             e1, n1, e2, n2);
    snprintf(p, sizeof p, "%s/hazards.shp", dir);
    make_gbk_shapefile(p, gj, NULL);
    snprintf(p, sizeof p, "%s/hazards.prj", dir);
    assert_int_equal(situ_test_sh(NULL, "projinfo -o WKT1_ESRI -q EPSG:4546 > '%s'", p), 0);
    snprintf(p, sizeof p, "%s/departments.csv", dir);
    assert_int_equal(situ_test_write(p, "code,name\nforestry,林业局\n"), 0);
    snprintf(p, sizeof p, "%s/manifest.ini", dir);
    assert_int_equal(situ_test_write(p, with_manifest ? "[hazards]\n"
                                                        "file = hazards.shp      ; the DBF is GBK\n"
                                                        "encoding = GBK\n"
                                                        "map = resp_unit=responsible_unit\n"
                                                        "[resources]\n"
                                                        "s_srs = EPSG:4490\n"
                                                      : "[hazards]\nencoding = GBK\n"),
                     0);
}

static void load_dir_follows_manifest_townships_first(void **state)
{
    fixture *fx = *state;
    char dir[4096];
    situ_load_stats st[SITU_NCOLLECTIONS];
    situ_load_opts o = {.max_rejected_share = 1};
    situ_err err = {0};
    int nfiles = 0;
    make_demo_dir(fx, dir, 1);
    int rc = situ_load_dir(fx->s, dir, &o, st, &nfiles, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(nfiles, 3);
    assert_int_equal(st[SITU_C_TOWNSHIPS].inserted, 3);
    assert_int_equal(st[SITU_C_HAZARDS].inserted, 2);
    assert_int_equal(st[SITU_C_RESOURCES].inserted, 2);
    assert_string_equal(st[SITU_C_HAZARDS].collection, "hazards");
    assert_int_equal(st[SITU_C_STATIONS].collection[0], '\0');
    assert_q(fx,
             "SELECT name || '/' || responsible_unit || '/' || township_code FROM hazards "
             "WHERE id = 'S1'",
             "河东加油站/中石化永州分公司/431102001");
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'S2'", "431102100");
    double x, y;
    stored_point(fx, "hazards", "S2", &x, &y);
    assert_true(fabs(x - 111.15) < 1e-6 && fabs(y - 26.15) < 1e-6);
    /* a bad key is an error with its line */
    char p[4200];
    snprintf(p, sizeof p, "%s/manifest.ini", dir);
    situ_test_write(p, "[hazards]\nencodnig = GBK\n");
    assert_int_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "manifest.ini:2"));
    /* so is a section that names no collection: its keys would apply to nothing */
    situ_test_write(p, "[hazard]\nencoding = GBK\n");
    assert_int_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), SITU_EFORMAT);
    assert_non_null(strstr(err.msg, "section [hazard] names no collection"));
}

static void failed_dir_load_leaves_file_unchanged(void **state)
{
    fixture *fx = *state;
    char dir[4096];
    situ_load_stats st[SITU_NCOLLECTIONS], one;
    situ_load_opts o = {.max_rejected_share = 1};
    situ_err err = {0};
    int nfiles = 0;
    must_load(fx, "hazards", DATA "/hazards.geojson", NULL, NULL, &one);
    long long rows = total_rows(fx);
    unsigned long long sum = checksum(fx);
    /* townships and hazards load, then resources.csv has no CRS: all rolled back */
    make_demo_dir(fx, dir, 0);
    assert_int_not_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), 0);
    assert_non_null(strstr(err.msg, "has no CRS; give --s_srs"));
    assert_non_null(strstr(err.msg, "manifest.ini"));
    assert_int_equal(total_rows(fx), rows);
    assert_int_equal(checksum(fx), sum);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM townships"), 0);
    /* the same folder with --s_srs as a default for files without a CRS loads */
    o.s_srs = "EPSG:4490";
    assert_int_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM townships"), 3);
}

/* In --all the next GeoJSON file is opened on a thread of its own while
 * the current one is read (GDAL reads a whole GeoJSON file at open): it
 * loads as on its own, with the loader's options (a date stays the text it
 * is, "2024-05-06 08:00"; a field only later features carry is kept), and
 * a next file GDAL cannot open fails the load with the message of loading
 * it alone. */
static void load_dir_opens_the_next_geojson_ahead_as_alone(void **state)
{
    fixture *fx = *state;
    situ_load_stats st[SITU_NCOLLECTIONS], one;
    situ_load_opts o = {.max_rejected_share = 1};
    situ_err err = {0};
    char dir[4096], p[4200], alone[sizeof err.msg];
    int nfiles = 0;
    snprintf(dir, sizeof dir, "%s/ahead", fx->dir);
    assert_int_equal(
        situ_test_sh(NULL, "mkdir -p '%s' && cp %s/townships.geojson '%s/'", dir, DATA, dir), 0);
    snprintf(p, sizeof p, "%s/risk_zones.geojson", dir);
    assert_int_equal(
        situ_test_write(
            p, "{\"type\":\"FeatureCollection\",\"features\":["
               "{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-1\",\"name\":\"a\","
               "\"hazard_type\":\"flood\",\"risk_level\":2},\"geometry\":{\"type\":\"Polygon\","
               "\"coordinates\":[[[111.02,26.02],[111.04,26.02],[111.04,26.04],[111.02,26.04],"
               "[111.02,26.02]]]}},"
               "{\"type\":\"Feature\",\"properties\":{\"id\":\"RZ-2\",\"name\":\"b\","
               "\"hazard_type\":\"flood\",\"risk_level\":2,\"surveyed\":\"2024-05-06 08:00\"},"
               "\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[111.02,26.02],"
               "[111.03,26.02],[111.03,26.03],[111.02,26.03],[111.02,26.02]]]}}]}"),
        0);
    snprintf(p, sizeof p, "%s/resources.geojson", dir);
    assert_int_equal(situ_test_write(p, "{\"type\":\"FeatureCollection\",\"features\":[{\"ty"), 0);
    assert_int_not_equal(load(fx, "resources", p, NULL, NULL, &one, &err), 0);
    snprintf(alone, sizeof alone, "%s", err.msg);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), 0);
    assert_string_equal(err.msg, alone);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM risk_zones"), 0); /* rolled back */
    unlink(p);
    int rc = situ_load_dir(fx->s, dir, &o, st, &nfiles, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(nfiles, 2);
    assert_int_equal(st[SITU_C_RISK_ZONES].inserted, 2);
    assert_q(fx, "SELECT coalesce(extra, 'none') FROM risk_zones WHERE id = 'RZ-1'", "none");
    assert_q(fx, "SELECT extra FROM risk_zones WHERE id = 'RZ-2'",
             "{\"surveyed\":\"2024-05-06 08:00\"}");
}

/* Writes n hazards P0..P(n-1) as GeoJSON points inside township 431102001. */
static void write_many_hazards(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"type\":\"FeatureCollection\",\"features\":[");
    for (int i = 0; i < n; i++)
        fprintf(f,
                "%s{\"type\":\"Feature\",\"properties\":{\"id\":\"P%d\",\"name\":\"n\","
                "\"category\":\"gas\",\"level\":\"general\",\"status\":\"open\"},\"geometry\":"
                "{\"type\":\"Point\",\"coordinates\":[%.6f,26.05]}}",
                i ? "," : "", i, 111.01 + 0.00001 * i);
    fprintf(f, "]}");
    assert_int_equal(fclose(f), 0);
}

/* The store's writer thread fails many batches into a load (a trigger
 * refuses one row): the load fails naming that feature, and the store is
 * as before, the spatial index's triggers too; without the refusal every
 * feature and its index entry is stored. */
static void failed_write_mid_load_changes_nothing(void **state)
{
    fixture *fx = *state;
    char path[4200];
    situ_load_stats st;
    situ_err err = {0};
    must_load(fx, "townships", DATA "/townships.geojson", NULL, NULL, &st);
    snprintf(path, sizeof path, "%s/many.geojson", fx->dir);
    write_many_hazards(path, 6000);
    unsigned long long sum = checksum(fx);
    assert_int_equal(situ_store_exec(fx->s,
                                     "CREATE TRIGGER refuse BEFORE INSERT ON hazards WHEN "
                                     "NEW.id = 'P5432' BEGIN SELECT RAISE(ABORT, 'refused by "
                                     "the test'); END",
                                     &err),
                     0);
    assert_int_equal(load(fx, "hazards", path, NULL, NULL, &st, &err), SITU_EINVAL);
    assert_non_null(strstr(err.msg, "P5432"));
    assert_non_null(strstr(err.msg, "refused by the test"));
    assert_int_equal(checksum(fx), sum);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM sqlite_master WHERE name IN "
                               "('gii_hazards_geom', 'tmi_hazards_geom')"),
                     2);
    assert_int_equal(situ_store_exec(fx->s, "DROP TRIGGER refuse", &err), 0);
    must_load(fx, "hazards", path, NULL, NULL, &st);
    assert_int_equal(st.inserted, 6000);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM hazards WHERE township_code = '431102001'"),
                     6000);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM idx_hazards_geom"), 6000);
}

/* With --all the writer thread still writes one collection while the next
 * is read: a write refused in the last collection (resources, after
 * townships and hazards were handed over) fails the load naming it, and
 * every collection before it is rolled back too, their spatial index
 * triggers back in place. */
static void failed_write_in_a_later_collection_rolls_back_all(void **state)
{
    fixture *fx = *state;
    char dir[4096];
    situ_load_stats st[SITU_NCOLLECTIONS];
    situ_load_opts o = {.max_rejected_share = 1};
    situ_err err = {0};
    int nfiles = 0;
    make_demo_dir(fx, dir, 1);
    unsigned long long sum = checksum(fx);
    assert_int_equal(situ_store_exec(fx->s,
                                     "CREATE TRIGGER refuse BEFORE INSERT ON resources BEGIN "
                                     "SELECT RAISE(ABORT, 'refused by the test'); END",
                                     &err),
                     0);
    assert_int_not_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), 0);
    assert_non_null(strstr(err.msg, "refused by the test"));
    assert_int_equal(q_int(fx, "SELECT count(*) FROM townships"), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM hazards"), 0);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM sqlite_master WHERE name IN "
                               "('gii_townships_geom', 'gii_hazards_geom', 'gii_resources_geom')"),
                     3);
    assert_int_equal(situ_store_exec(fx->s, "DROP TRIGGER refuse", &err), 0);
    assert_int_equal(checksum(fx), sum);
    assert_int_equal(situ_load_dir(fx->s, dir, &o, st, &nfiles, &err), 0);
    assert_int_equal(st[SITU_C_TOWNSHIPS].inserted, 3);
    assert_int_equal(st[SITU_C_RESOURCES].inserted, 2);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM idx_townships_geom"), 3);
    assert_int_equal(q_int(fx, "SELECT count(*) FROM idx_hazards_geom"), 2);
}

static void reads_geopackage_and_kml(void **state)
{
    fixture *fx = *state;
    char gpkg[4096], kml[4096];
    situ_load_stats st;
    path_in(gpkg, fx, "h.gpkg");
    path_in(kml, fx, "t.kml");
    assert_int_equal(situ_test_sh(NULL,
                                  "ogr2ogr -f GPKG -nln hazards '%s' %s/hazards.geojson && "
                                  "ogr2ogr -f LIBKML '%s' %s/townships.geojson",
                                  gpkg, DATA, kml, DATA),
                     0);
    must_load(fx, "townships", kml, NULL, NULL, &st);
    assert_int_equal(st.inserted, 3);
    /* LIBKML's styling fields (tessellate, extrude, ...) are not data */
    assert_q(fx, "SELECT count(*) FROM townships WHERE extra IS NULL AND county_code = '431102'",
             "3");
    must_load(fx, "hazards", gpkg, NULL, NULL, &st);
    assert_int_equal(st.inserted, 3);
    assert_int_equal(st.rejected, 6); /* H4's township_code names no township */
    assert_q(fx, "SELECT township_code FROM hazards WHERE id = 'H1'", "431102001");
}

static void groups_many_reasons_into_other(void **state)
{
    fixture *fx = *state;
    situ_load_stats st;
    long long n = 0;
    /* 18 rows each rejected for another reason, one good row */
    must_load(fx, "risk_zones", DATA "/risk_zones_bad.csv", "EPSG:4326", NULL, &st);
    assert_int_equal(st.read, 19);
    assert_int_equal(st.inserted, 1);
    assert_int_equal(st.rejected, 18);
    assert_int_equal(st.nreasons, SITU_LOAD_MAX_REASONS);
    for (int i = 0; i < st.nreasons; i++)
        n += st.reasons[i].n;
    assert_int_equal(n, 18);
    assert_string_equal(st.reasons[SITU_LOAD_MAX_REASONS - 1].reason, "other reasons");
    assert_int_equal(st.reasons[SITU_LOAD_MAX_REASONS - 1].n, 3);
    assert_reason(&st, "bad number in population_exposed", "Z1");
    assert_reason(&st, "hazard_type not one of its allowed values", "Z6");
    assert_reason(&st, "missing required field risk_level", "Z9");
    assert_reason(&st, "empty geometry", "Z12");
    assert_string_equal(st.reasons[SITU_LOAD_MAX_REASONS - 1].example_id, "feature #16");
    assert_q(fx, "SELECT households || ' ' || area_km2 FROM risk_zones", "300 0.5");
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(reprojects_gauss_kruger_and_cgcs2000_like_proj, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(reads_gbk_dbf_without_cpg, setup, teardown),
    cmocka_unit_test_setup_teardown(recodes_a_gbk_shapefile_as_gdal_would, setup, teardown),
    cmocka_unit_test_setup_teardown(repairs_bow_tie_and_stores_it_valid, setup, teardown),
    cmocka_unit_test_setup_teardown(repairs_report_their_area_change, setup, teardown),
    cmocka_unit_test_setup_teardown(bounds_the_work_per_geometry, setup, teardown),
    cmocka_unit_test_setup_teardown(assigns_townships_by_point_and_largest_share, setup, teardown),
    cmocka_unit_test_setup_teardown(townships_stored_in_any_order_assign_by_code, setup, teardown),
    cmocka_unit_test_setup_teardown(rejects_features_with_grouped_reasons, setup, teardown),
    cmocka_unit_test_setup_teardown(loads_roads_as_lines_and_refuses_the_rest, setup, teardown),
    cmocka_unit_test_setup_teardown(load_dir_takes_roads_from_flatgeobuf, setup, teardown),
    cmocka_unit_test_setup_teardown(reload_is_idempotent, setup, teardown),
    cmocka_unit_test_setup_teardown(reads_csv_lon_lat_columns_and_items, setup, teardown),
    cmocka_unit_test_setup_teardown(missing_crs_fails_naming_s_srs_and_changes_nothing, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(map_renames_source_fields, setup, teardown),
    cmocka_unit_test_setup_teardown(reads_geopackage_and_kml, setup, teardown),
    cmocka_unit_test_setup_teardown(groups_many_reasons_into_other, setup, teardown),
    cmocka_unit_test_setup_teardown(load_dir_follows_manifest_townships_first, setup, teardown),
    cmocka_unit_test_setup_teardown(load_dir_opens_the_next_geojson_ahead_as_alone, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(failed_dir_load_leaves_file_unchanged, setup, teardown),
    cmocka_unit_test_setup_teardown(failed_write_mid_load_changes_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(failed_write_in_a_later_collection_rolls_back_all, setup,
                                    teardown),
};

SITU_TEST_MAIN("load", tests)

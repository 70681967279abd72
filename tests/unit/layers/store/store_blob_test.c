/* store_blob_test.c: tests layers/store/store_blob.c, the SpatiaLite blob
 * written straight from WKB, against SpatiaLite's own conversion of the same
 * WKB as the store's SQL made it (GeomFromWKB, then CastToMultiPolygon or
 * CastToMultiLinestring): byte for byte for points, polygons with holes,
 * multi-geometries, lines, random shapes; and what it declines (SpatiaLite
 * converts those) through the store too. */
#include "testlib.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../../layers/store/store_private.h"
#include "situ/store.h"

static situ_store *open_new(char **dir)
{
    situ_store *s = situ_test_store_new("blob", dir);
    assert_non_null(s);
    return s;
}

static void close_store(situ_store *s, char *dir)
{
    situ_store_close(s);
    situ_test_rmtree(dir);
    free(dir);
}

/* SpatiaLite's blob of wkb for a collection of gtype, as the store's SQL
 * made it, into out (empty: NULL). */
static void spatialite_blob(situ_store *s, situ_gtype gtype, const unsigned char *wkb, size_t n,
                            situ_buf *out)
{
    const char *sql = gtype == SITU_GT_POINT          ? "SELECT GeomFromWKB(?1, 4326)"
                      : gtype == SITU_GT_MULTIPOLYGON ? "SELECT CastToMultiPolygon(GeomFromWKB(?1, "
                                                        "4326))"
                                                      : "SELECT CastToMultiLinestring(GeomFromWKB("
                                                        "?1, 4326))";
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_blob(st, 1, wkb, (int)n, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    out->n = 0;
    if (sqlite3_column_type(st, 0) == SQLITE_BLOB)
        situ_buf_add(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
}

/* The blob written directly equals SpatiaLite's, byte for byte. */
static void assert_same_blob(situ_store *s, situ_gtype gtype, const unsigned char *wkb, size_t n,
                             const char *what)
{
    situ_buf want, got;
    situ_buf_init(&want), situ_buf_init(&got);
    spatialite_blob(s, gtype, wkb, n, &want);
    if (situ__spatialite_blob(wkb, n, gtype, 4326, &got) != 0)
        fail_msg("%s: declined", what);
    if (!want.n)
        fail_msg("%s: SpatiaLite makes NULL", what);
    if (got.n != want.n || memcmp(got.p, want.p, got.n)) {
        size_t i = 0;
        while (i < got.n && i < want.n && got.p[i] == want.p[i])
            i++;
        fail_msg("%s: %zu bytes, SpatiaLite's %zu, first difference at byte %zu", what, got.n,
                 want.n, i);
    }
    situ_buf_dispose(&want), situ_buf_dispose(&got);
}

static void assert_same_blob_wkt(situ_store *s, situ_gtype gtype, const char *wkt)
{
    size_t n;
    unsigned char *wkb = situ_test_wkb(wkt, &n);
    assert_non_null(wkb);
    assert_same_blob(s, gtype, wkb, n, wkt);
    free(wkb);
}

static void points_polygons_lines_equal_spatialites(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    static const struct {
        situ_gtype gtype;
        const char *wkt;
    } cases[] = {
        {SITU_GT_POINT, "POINT(111.6 26.2)"},
        {SITU_GT_POINT, "POINT(-0 1e-300)"},
        {SITU_GT_POINT, "POINT(-179.99999999999997 -89.5)"},
        {SITU_GT_MULTIPOLYGON, "POLYGON((111 26,111.1 26,111.1 26.1,111 26))"},
        {SITU_GT_MULTIPOLYGON, "POLYGON((111 26,112 26,112 27,111 27,111 26),"
                               "(111.2 26.2,111.4 26.2,111.4 26.4,111.2 26.2),"
                               "(111.6 26.6,111.8 26.6,111.8 26.8,111.6 26.6))"},
        /* a hole reaching out of its exterior: only the exterior bounds it */
        {SITU_GT_MULTIPOLYGON, "POLYGON((111 26,112 26,112 27,111 26),"
                               "(110 25,113 25,113 28,110 25))"},
        {SITU_GT_MULTIPOLYGON, "MULTIPOLYGON(((111 26,111.1 26,111.1 26.1,111 26)))"},
        {SITU_GT_MULTIPOLYGON, "MULTIPOLYGON(((111 26,112 26,112 27,111 27,111 26),"
                               "(111.2 26.2,111.4 26.2,111.4 26.4,111.2 26.2)),"
                               "((-1 -2,-0.5 -2,-0.5 -1,-1 -2)),"
                               "((113 28,114 28,114 29,113 28),(113.1 28.05,113.2 28.05,"
                               "113.2 28.1,113.1 28.05)))"},
        {SITU_GT_MULTILINESTRING, "LINESTRING(111.6 26.2,111.5 26.3)"},
        {SITU_GT_MULTILINESTRING, "LINESTRING(111.6 26.2,111.5 26.3,111.7 26.4,111.6 26.2)"},
        {SITU_GT_MULTILINESTRING, "MULTILINESTRING((111 26,111.1 26))"},
        {SITU_GT_MULTILINESTRING,
         "MULTILINESTRING((111 26,111.1 26),(111.2 26,111.3 26.1,-5 80),(0 0,1e-9 -1e-9))"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_same_blob_wkt(s, cases[i].gtype, cases[i].wkt);
    close_store(s, dir);
}

/* A random coordinate: mostly ordinary, sometimes one of many digits. */
static void add_coord(situ_buf *b, unsigned *seed)
{
    double x = rand_r(seed) / (double)RAND_MAX * 360.0 - 180.0;
    double y = rand_r(seed) / (double)RAND_MAX * 180.0 - 90.0;
    situ_buf_printf(b, "%.17g %.17g", x, y);
}

/* A closed ring of n points, the first random, in WKT. */
static void add_ring(situ_buf *b, unsigned *seed, int n)
{
    size_t first = b->n;
    situ_buf_addc(b, '(');
    add_coord(b, seed);
    size_t end_first = b->n;
    for (int i = 1; i < n - 1; i++) {
        situ_buf_addc(b, ',');
        add_coord(b, seed);
    }
    char again[64]; /* the first point again (b may move as it grows) */
    snprintf(again, sizeof again, ",%.*s)", (int)(end_first - first - 1), b->p + first + 1);
    situ_buf_adds(b, again);
}

static void random_shapes_equal_spatialites(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    unsigned seed = 20;
    for (int k = 0; k < 200; k++) {
        situ_buf wkt;
        situ_buf_init(&wkt);
        int parts = 1 + rand_r(&seed) % 4;
        int polygons = k % 2 == 0;
        situ_buf_adds(&wkt, polygons ? "MULTIPOLYGON(" : "MULTILINESTRING(");
        for (int p = 0; p < parts; p++) {
            situ_buf_adds(&wkt, p ? "," : "");
            if (polygons) {
                int rings = 1 + rand_r(&seed) % 3;
                situ_buf_addc(&wkt, '(');
                for (int r = 0; r < rings; r++) {
                    situ_buf_adds(&wkt, r ? "," : "");
                    add_ring(&wkt, &seed, 4 + rand_r(&seed) % 40);
                }
                situ_buf_addc(&wkt, ')');
            } else {
                int n = 2 + rand_r(&seed) % 60;
                situ_buf_addc(&wkt, '(');
                for (int i = 0; i < n; i++) {
                    situ_buf_adds(&wkt, i ? "," : "");
                    add_coord(&wkt, &seed);
                }
                situ_buf_addc(&wkt, ')');
            }
        }
        situ_buf_adds(&wkt, ")");
        situ_buf_addc(&wkt, '\0');
        assert_false(wkt.oom);
        assert_same_blob_wkt(s, polygons ? SITU_GT_MULTIPOLYGON : SITU_GT_MULTILINESTRING, wkt.p);
        situ_buf_dispose(&wkt);
    }
    close_store(s, dir);
}

/* wkb of wkt, with byte at (at) set to v, or n changed by dn. */
static unsigned char *wkb_changed(const char *wkt, size_t *n, long at, unsigned char v, int dn)
{
    unsigned char *wkb = situ_test_wkb(wkt, n);
    assert_non_null(wkb);
    wkb = realloc(wkb, *n + 8);
    assert_non_null(wkb);
    memset(wkb + *n, 0, 8);
    if (at >= 0)
        wkb[at] = v;
    *n = (size_t)((long)*n + dn);
    return wkb;
}

/* What store_blob.c declines (1), which SpatiaLite converts instead. */
static void declines_what_spatialite_must_convert(void **state)
{
    (void)state;
    static const struct {
        situ_gtype gtype;
        const char *wkt;
        long at;
        unsigned char v;
        int dn;
        const char *why;
    } cases[] = {
        {SITU_GT_POINT, "POINT Z (111 26 5)", -1, 0, 0, "Z"},
        {SITU_GT_POINT, "POINT(111 26)", 0, 0x00, 0, "big-endian"},
        {SITU_GT_POINT, "POINT(111 26)", -1, 0, -1, "short"},
        {SITU_GT_POINT, "POINT(111 26)", -1, 0, 1, "a byte left over"},
        {SITU_GT_POINT, "MULTIPOINT(111 26)", -1, 0, 0, "a multipoint"},
        {SITU_GT_POINT, "POLYGON((111 26,111.1 26,111.1 26.1,111 26))", -1, 0, 0, "a polygon"},
        {SITU_GT_MULTIPOLYGON, "POINT(111 26)", -1, 0, 0, "a point"},
        {SITU_GT_MULTIPOLYGON, "LINESTRING(111 26,112 26)", -1, 0, 0, "a line"},
        {SITU_GT_MULTIPOLYGON, "MULTIPOLYGON EMPTY", -1, 0, 0, "empty"},
        {SITU_GT_MULTIPOLYGON, "POLYGON((111 26,111.1 26,111.1 26.1,111 26.5))", -1, 0, 0,
         "a ring not closed"},
        {SITU_GT_MULTIPOLYGON, "POLYGON((111 26,111.1 26,111 26))", -1, 0, 0, "3 points"},
        {SITU_GT_MULTIPOLYGON, "GEOMETRYCOLLECTION(POLYGON((111 26,111.1 26,111.1 26.1,111 26)))",
         -1, 0, 0, "a collection"},
        /* the second part's byte order */
        {SITU_GT_MULTIPOLYGON,
         "MULTIPOLYGON(((111 26,111.1 26,111.1 26.1,111 26)),((1 2,3 2,3 4,1 2)))", 9 + 13 + 64, 0,
         0, "a big-endian part"},
        {SITU_GT_MULTILINESTRING, "LINESTRING(111 26,112 26)", 24, 0x7f, 0, "not finite"},
        {SITU_GT_MULTILINESTRING, "POLYGON((111 26,111.1 26,111.1 26.1,111 26))", -1, 0, 0,
         "a polygon"},
        {SITU_GT_MULTILINESTRING, "MULTILINESTRING EMPTY", -1, 0, 0, "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        unsigned char *wkb = wkb_changed(cases[i].wkt, &n, cases[i].at, cases[i].v, cases[i].dn);
        if (cases[i].at == 24) /* the first y's exponent all ones: NaN */
            wkb[23] = 0xf8;
        situ_buf b;
        situ_buf_init(&b);
        int rc = situ__spatialite_blob(wkb, n, cases[i].gtype, 4326, &b);
        if (rc != 1)
            fail_msg("%s (%s): %d, not declined", cases[i].wkt, cases[i].why, rc);
        situ_buf_dispose(&b);
        free(wkb);
    }
}

/* Through the store: a big-endian line (declined here) is stored as
 * SpatiaLite converts it, a little-endian one as written here; both the
 * same blob; a point is refused as before. */
static void store_writes_declined_wkb_through_spatialite(void **state)
{
    (void)state;
    char *dir;
    situ_store *s = open_new(&dir);
    const situ_collection *c = situ_schema_find("roads");
    situ_value v[16] = {0};
    v[situ_schema_field_index(c, "class")] = (situ_value){SITU_FT_TEXT, {.s = "county"}};
    /* LINESTRING(111.5 26.25, 111.75 26.5) big-endian */
    unsigned char be[9 + 32];
    const double xy[4] = {111.5, 26.25, 111.75, 26.5};
    be[0] = 0, be[1] = 0, be[2] = 0, be[3] = 0, be[4] = 2;
    be[5] = 0, be[6] = 0, be[7] = 0, be[8] = 2;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 8; k++)
            be[9 + 8 * i + k] = ((const unsigned char *)&xy[i])[7 - k];
    size_t nle, npt;
    unsigned char *le = situ_test_wkb("LINESTRING(111.5 26.25,111.75 26.5)", &nle);
    unsigned char *pt = situ_test_wkb("POINT(111 26)", &npt);
    situ_feature_in f = {
        .id = "be", .township_code = "", .wkb = be, .nwkb = sizeof be, .values = v};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    f.id = "le", f.wkb = le, f.nwkb = nle;
    assert_int_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    situ_assert_query(s, "SELECT count(DISTINCT geom) || ' ' || AsText(geom) FROM roads",
                      "1 MULTILINESTRING((111.5 26.25, 111.75 26.5))");
    f.id = "pt", f.wkb = pt, f.nwkb = npt;
    assert_int_not_equal(situ_store_upsert(s, c, &f, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "NOT NULL constraint failed: roads.geom"));
    free(le), free(pt);
    close_store(s, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(points_polygons_lines_equal_spatialites),
        cmocka_unit_test(random_shapes_equal_spatialites),
        cmocka_unit_test(declines_what_spatialite_must_convert),
        cmocka_unit_test(store_writes_declined_wkb_through_spatialite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

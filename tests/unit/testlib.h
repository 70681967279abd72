/* testlib.h: private to tests/unit. Small helpers shared by the cmocka runners. */
#ifndef SITU_TESTLIB_H
#define SITU_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include "situ/store.h"

/* A fresh empty folder under $TMPDIR (or /tmp); the caller frees the string. */
char *situ_test_tmpdir(const char *tag);
/* Removes a folder and everything in it. */
void situ_test_rmtree(const char *dir);
/* Runs a shell command; returns its exit status (or -1). Output goes to out
 * (malloc'd, NUL-terminated) when out is not NULL. */
int situ_test_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads a whole file; NULL on failure. *out_n gets the size when not NULL. */
char *situ_test_slurp(const char *path, size_t *out_n);
/* Writes text to path; returns 0 on success. */
int situ_test_write(const char *path, const char *text);
/* Path of the situ CLI binary ($SITU_BIN, else build/situ). */
const char *situ_test_bin(void);
/* KiB of file path (its real path) resident in this process now: the sum
 * of Rss over its mappings in /proc/self/smaps; -1 when none is mapped. */
long situ_test_mapped_rss_kb(const char *path);
/* The pages wholly inside [from, to); *out_present gets how many of them
 * this process holds resident now (/proc/self/pagemap, bit 63). A mapped
 * file's page handed back (MADV_DONTNEED) is not present though it stays
 * in the page cache (which mincore would report). */
size_t situ_test_resident_pages(const void *from, const void *to, size_t *out_present);

/* Fails the test unless collections a and b hold the same features in the
 * same order (each one's GeoJSON, box and point), with the same id index
 * and extent and digest: a collection built one way against one built
 * another. */
struct situ_coll;
void situ_test_same_coll(const struct situ_coll *a, const struct situ_coll *b);
/* Fails the test unless R-trees a and b are the same bytes: levels, slots'
 * boxes and refs, and the leaves' keys where both have them (a view has
 * none). */
struct situ_rtree;
void situ_test_same_rtree(const struct situ_rtree *a, const struct situ_rtree *b);

/* FNV-1a over every row of each of tables (NULL-terminated) of the
 * SpatiaLite store s, in key order: equal digests, equal rows. */
unsigned long long situ_test_store_digest(situ_store *s, const char *const *tables);

/* WKB (little-endian, 2D) of a WKT geometry, made by GDAL; caller frees. */
unsigned char *situ_test_wkb(const char *wkt, size_t *out_n);

/* The first column of the first row of sql on the store, as text ("" for
 * NULL, "<no row>" when there is none); the caller frees it. */
char *situ_test_query(situ_store *s, const char *sql);
/* Fails the test unless sql's first value (situ_test_query) is want. */
#define situ_assert_query(s, sql, want)                                                            \
    do {                                                                                           \
        char *got_ = situ_test_query(s, sql);                                                      \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

/* Fails the test unless |a - b| <= eps, in double precision (cmocka's
 * assert_float_equal rounds everything to float). */
void situ_test_near(double a, double b, double eps, const char *file, int line);
#define situ_assert_near(a, b, eps) situ_test_near((a), (b), (eps), __FILE__, __LINE__)

/* A new store (t.sqlite) in a fresh folder named after tag, which *out_dir
 * gets (the caller frees it); NULL, its error printed, when it cannot be
 * created. */
situ_store *situ_test_store_new(const char *tag, char **out_dir);
/* A cmocka fixture: a fresh folder and a new store in it (t.sqlite). */
typedef struct situ_test_store_fx {
    char *dir;
    situ_store *s;
} situ_test_store_fx;
int situ_test_store_setup(void **state);
int situ_test_store_teardown(void **state);
/* PostgreSQL for tests (testlib_pg.c): one server per test process, started
 * with tests/pg/pgtemp.sh on first use and stopped at exit. Writes into url a
 * libpq URL of a new, empty database of its own (PostGIS in it) and returns
 * 0; returns 1, having said so on stderr, when PostgreSQL's binaries are
 * absent (the caller skips); fails the test on any other problem. */
int situ_test_pg_db(char *url, size_t n);
/* A conninfo for the server's superuser (over its Unix socket) on url's database. */
void situ_test_pg_superuser(const char *url, char *out, size_t n);
/* Drops the database situ_test_pg_db made. */
void situ_test_pg_drop(const char *url);
/* The admin URL of the test server (its database `situ`), or NULL before
 * situ_test_pg_db started it. */
const char *situ_test_pg_server(void);

/* The path of ../shared/data/osm/<name> beside the source tree (CI), or one
 * folder further up (a worktree under wt/); fails the test when absent. */
const char *situ_test_shared_osm(const char *name);
/* The root of x in a union-find forest of parents (path halving). */
uint32_t situ_test_uf_find(uint32_t *parent, uint32_t x);
/* Runs the given cmocka tests, or only the one named by `-t NAME` in argv. */
int situ_test_run(const char *group, const struct CMUnitTest *tests, size_t n, int argc,
                  char **argv);
#define SITU_TEST_MAIN(group, tests)                                                               \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return situ_test_run(group, tests, sizeof(tests) / sizeof((tests)[0]), argc, argv);        \
    }

#endif

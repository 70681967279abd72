/* testlib.c: helpers for the cmocka runners; see testlib.h. */
#include "testlib.h"

#include "situ/db.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ogr_api.h>
#include <sqlite3.h>

#include "situ/geojson.h"
#include "situ/snapshot.h"

char *situ_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/situ-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void situ_test_rmtree(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/", 5) == 0)
        situ_test_sh(NULL, "rm -rf '%s'", dir);
}

int situ_test_sh(char **out, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t k;
    while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (cap - n < 2048)
            buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *situ_test_slurp(const char *path, size_t *out_n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    if (out_n)
        *out_n = (size_t)n;
    return buf;
}

long situ_test_mapped_rss_kb(const char *path)
{
    char real[4096], line[4400];
    if (!realpath(path, real))
        return -1;
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    long kb = -1;
    int ours = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int at = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &at) == 2 && at) {
            line[strcspn(line, "\n")] = '\0';
            ours = strcmp(line + at, real) == 0;
        } else if (ours && strncmp(line, "Rss:", 4) == 0) {
            kb = (kb < 0 ? 0 : kb) + strtol(line + 4, NULL, 10);
        }
    }
    fclose(f);
    return kb;
}

size_t situ_test_resident_pages(const void *from, const void *to, size_t *out_present)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)from + page - 1) / page, b = (uintptr_t)to / page;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    size_t present = 0;
    for (uintptr_t p = a; fd >= 0 && p < b; p++) {
        uint64_t e = 0;
        if (pread(fd, &e, sizeof e, (off_t)(p * sizeof e)) == (ssize_t)sizeof e)
            present += (size_t)(e >> 63);
    }
    if (fd >= 0)
        close(fd);
    *out_present = present;
    return b > a ? (size_t)(b - a) : 0;
}

int situ_test_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    return fclose(f) || rc ? -1 : 0;
}

const char *situ_test_bin(void)
{
    const char *b = getenv("SITU_BIN");
    return b && *b ? b : SITU_BUILD_DIR "/situ";
}

int situ_test_run(const char *group, const struct CMUnitTest *tests, size_t n, int argc,
                  char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "-t"))
            cmocka_set_test_filter(argv[i + 1]);
    return _cmocka_run_group_tests(group, tests, n, NULL, NULL);
}

unsigned char *situ_test_wkb(const char *wkt, size_t *out_n)
{
    OGRGeometryH g = NULL;
    char *text = (char *)wkt;
    if (OGR_G_CreateFromWkt(&text, NULL, &g) != OGRERR_NONE)
        return NULL;
    size_t n = (size_t)OGR_G_WkbSize(g);
    unsigned char *p = malloc(n);
    OGR_G_ExportToWkb(g, wkbNDR, p);
    OGR_G_DestroyGeometry(g);
    *out_n = n;
    return p;
}

void situ_test_near(double a, double b, double eps, const char *file, int line)
{
    if (fabs(a - b) <= eps)
        return;
    print_error("%.17g != %.17g (eps %g)\n", a, b, eps);
    _fail(file, line);
}

char *situ_test_query(situ_store *s, const char *sql)
{
    situ_db_stmt *st = NULL;
    situ_err err = {0};
    if (situ_db_prepare(situ_store_sql(s), sql, &st, &err))
        fprintf(stderr, "%s\n", err.msg);
    assert_non_null(st);
    char *out = strdup("<no row>");
    if (situ_db_step(st) == SITU_DB_ROW) {
        free(out);
        const char *t = situ_db_column_text(st, 0);
        out = strdup(t ? t : "");
    }
    situ_db_finalize(st);
    return out;
}

void situ_test_same_coll(const situ_coll *a, const situ_coll *b)
{
    assert_int_equal(a->n, b->n);
    assert_string_equal(a->updated_max, b->updated_max);
    assert_memory_equal(a->extent, b->extent, sizeof a->extent);
    assert_memory_equal(a->by_id, b->by_id, a->n * sizeof *a->by_id);
    assert_memory_equal(&a->digest, &b->digest, sizeof a->digest);
    situ_buf ja, jb;
    situ_buf_init(&ja), situ_buf_init(&jb);
    for (size_t i = 0; i < a->n; i++) {
        ja.n = jb.n = 0;
        situ_geojson_feature(&ja, a, &a->feats[i], NULL);
        situ_geojson_feature(&jb, b, &b->feats[i], NULL);
        situ_buf_addc(&ja, 0), situ_buf_addc(&jb, 0);
        assert_string_equal(ja.p, jb.p);
        assert_memory_equal(a->feats[i].bbox, b->feats[i].bbox, sizeof a->feats[i].bbox);
        assert_true(a->feats[i].x == b->feats[i].x && a->feats[i].y == b->feats[i].y);
    }
    situ_test_same_rtree(a->index, b->index);
    situ_buf_dispose(&ja), situ_buf_dispose(&jb);
}

void situ_test_same_rtree(const situ_rtree *a, const situ_rtree *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->nslots, b->nslots);
    assert_int_equal(a->nlevels, b->nlevels);
    assert_memory_equal(a->level_end, b->level_end, (size_t)a->nlevels * sizeof *a->level_end);
    if (!a->nslots)
        return;
    assert_memory_equal(a->boxes, b->boxes, 4 * a->nslots * sizeof(double));
    assert_memory_equal(a->refs, b->refs, a->nslots * sizeof *a->refs);
    if (a->keys && b->keys)
        assert_memory_equal(a->keys, b->keys, a->n * sizeof *a->keys);
}

unsigned long long situ_test_store_digest(situ_store *s, const char *const *tables)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *tables; tables++) {
        char sql[128];
        sqlite3_stmt *st;
        snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY 1, 2", *tables);
        assert_int_equal(sqlite3_prepare_v2(situ_store_db(s), sql, -1, &st, NULL), 0);
        while (sqlite3_step(st) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const unsigned char *p = sqlite3_column_blob(st, c);
                for (int i = 0, n = sqlite3_column_bytes(st, c); i < n; i++)
                    h = (h ^ p[i]) * 1099511628211ULL;
                h = (h ^ 0xff) * 1099511628211ULL;
            }
        sqlite3_finalize(st);
    }
    return h;
}

uint32_t situ_test_uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

situ_store *situ_test_store_new(const char *tag, char **out_dir)
{
    char db[4096];
    situ_err err = {0};
    situ_store *s = NULL;
    *out_dir = situ_test_tmpdir(tag);
    snprintf(db, sizeof db, "%s/t.sqlite", *out_dir);
    if (situ_store_open(db, SITU_STORE_CREATE, &s, &err))
        fprintf(stderr, "%s\n", err.msg);
    return s;
}

int situ_test_store_setup(void **state)
{
    situ_test_store_fx *fx = calloc(1, sizeof *fx);
    if (!fx || !(fx->s = situ_test_store_new("store", &fx->dir)))
        return -1;
    *state = fx;
    return 0;
}

int situ_test_store_teardown(void **state)
{
    situ_test_store_fx *fx = *state;
    situ_store_close(fx->s);
    situ_test_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

const char *situ_test_shared_osm(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/../shared/data/osm/%s", SITU_SOURCE_DIR, name);
    if (access(path, R_OK) != 0)
        snprintf(path, sizeof path, "%s/../../shared/data/osm/%s", SITU_SOURCE_DIR, name);
    if (access(path, R_OK) != 0)
        fail_msg("the OSM extract is missing: %s/../shared/data/osm/%s (shared/ must sit beside "
                 "the source tree)",
                 SITU_SOURCE_DIR, name);
    return path;
}

/*
 * roads_file_test.c: layers/roads/roads_file.c. A graph written and mapped
 * back is the graph built (every edge, node and road; snaps and searches
 * answer the same); a file written for other roads, another speed table or
 * by another format is refused; a truncated file, a flipped byte and an
 * index out of range under a checksum made to match are refused, never
 * mapped; a large graph mapped back holds few of its pages resident and
 * answers the same.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/fs.h"
#include "situ/roads.h"
#include "testlib.h"

#define KEY 0x5eedf00dcafe1234ull
#define HDR_FORMAT_AT 8 /* after the magic */

static situ_roads_osm grid;
static situ_roads_graph *built;
static char *dir;
static char path[512];

static int setup(void **state)
{
    (void)state;
    situ_err err;
    assert_int_equal(situ_roads_grid(30, 30, 150, 12, 8, 7, &grid, &err), 0);
    assert_int_equal(situ_roads_graph_new(grid.lines, grid.n, NULL, &built, &err), 0);
    dir = situ_test_tmpdir("roads_file");
    snprintf(path, sizeof path, "%s/db.roads", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    situ_roads_graph_free(built);
    situ_roads_osm_dispose(&grid);
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

static void save(void)
{
    situ_err err;
    if (situ_roads_graph_save(built, KEY, NULL, path, &err))
        fail_msg("save: %s", err.msg);
}

/* The reason the file is refused for KEY; fails when it is mapped. */
static const char *refused(uint64_t key, const situ_roads_config *cfg)
{
    situ_roads_graph *g = NULL;
    const char *why = NULL;
    if (situ_roads_graph_map(path, key, cfg, &g, &why) == 0) {
        situ_roads_graph_free(g);
        fail_msg("a spoilt or stale file was mapped");
    }
    assert_null(g);
    assert_non_null(why);
    return why;
}

static void assert_same_graph(const situ_roads_graph *a, const situ_roads_graph *b)
{
    situ_roads_stats sa, sb;
    situ_roads_graph_stats(a, &sa);
    situ_roads_graph_stats(b, &sb);
    assert_int_equal(sa.nodes, sb.nodes);
    assert_int_equal(sa.edges, sb.edges);
    assert_int_equal(sa.roads, sb.roads);
    assert_int_equal(sa.bytes, sb.bytes);
    for (uint32_t e = 0; e < sa.edges; e++) {
        situ_roads_edge ea, eb;
        situ_roads_graph_edge(a, e, &ea);
        situ_roads_graph_edge(b, e, &eb);
        assert_memory_equal(&ea, &eb, sizeof ea);
    }
    for (uint32_t v = 0; v < sa.nodes; v++) {
        double xa[2], xb[2];
        situ_roads_graph_node(a, v, xa);
        situ_roads_graph_node(b, v, xb);
        assert_memory_equal(xa, xb, sizeof xa);
    }
}

/* Snaps and 5-nearest searches from a row of points answer the same on a and b. */
static void assert_same_answers(const situ_roads_graph *a, const situ_roads_graph *b)
{
    double pts[2 * 40];
    for (int i = 0; i < 40; i++) /* inside the grid's box */
        pts[2 * i] = grid.lines[(size_t)i * 7 % grid.n].xy[0] + 0.0003 * i,
                pts[2 * i + 1] = grid.lines[(size_t)i * 7 % grid.n].xy[1] - 0.0002 * i;
    const situ_roads_graph *gs[2] = {a, b};
    situ_roads_hit hits[2][5];
    int nh[2];
    situ_err err;
    situ_roads_targets *t[2];
    situ_roads_ws *ws[2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(situ_roads_targets_new(gs[k], NULL, pts, 40, 1000, &t[k], &err), 0);
        ws[k] = situ_roads_ws_new(gs[k]);
    }
    situ_roads_query q;
    situ_roads_query_init(&q);
    for (int i = 0; i < 40; i += 3) {
        situ_roads_place o[2];
        for (int k = 0; k < 2; k++) {
            assert_int_equal(
                situ_roads_snap(gs[k], NULL, pts[2 * i] + 1e-4, pts[2 * i + 1], 1000, &o[k], &err),
                0);
            assert_int_equal(
                situ_roads_search(gs[k], NULL, t[k], &o[k], &q, ws[k], hits[k], &nh[k], &err), 0);
        }
        assert_int_equal(o[0].edge, o[1].edge);
        assert_true(o[0].frac == o[1].frac && o[0].snap_m == o[1].snap_m);
        assert_int_equal(nh[0], nh[1]);
        assert_true(nh[0] > 0);
        for (int h = 0; h < nh[0]; h++) {
            assert_int_equal(hits[0][h].target, hits[1][h].target);
            assert_int_equal(hits[0][h].via, hits[1][h].via);
            assert_true(hits[0][h].travel_s == hits[1][h].travel_s);
        }
    }
    for (int k = 0; k < 2; k++) {
        situ_roads_targets_free(t[k]);
        situ_roads_ws_free(ws[k]);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    save();
    situ_roads_graph *g = NULL;
    const char *why = "unset";
    assert_int_equal(situ_roads_graph_map(path, KEY, NULL, &g, &why), 0);
    assert_same_graph(built, g);
    assert_same_answers(built, g);
    situ_roads_graph_free(g);
    /* mapping it again leaves it as it was */
    assert_int_equal(situ_roads_graph_map(path, KEY, NULL, &g, &why), 0);
    assert_same_graph(built, g);
    situ_roads_graph_free(g);
}

static void test_stale_is_refused(void **state)
{
    (void)state;
    save();
    assert_string_equal(refused(KEY + 1, NULL), "the roads changed");
    situ_roads_config cfg;
    situ_roads_config_init(&cfg);
    cfg.class_kmh[SITU_ROADS_COUNTY] += 5;
    assert_string_equal(refused(KEY, &cfg), "another speed table");
    unlink(path);
    assert_string_equal(refused(KEY, NULL), "none yet");
}

/* Opens the file for spoiling; its size in *out_n. */
static int spoil_open(off_t *out_n)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    *out_n = st.st_size;
    return fd;
}

static void test_corrupt_is_refused(void **state)
{
    (void)state;
    off_t n;
    save();
    int fd = spoil_open(&n);
    assert_int_equal(ftruncate(fd, n - 4096), 0);
    close(fd);
    assert_string_equal(refused(KEY, NULL), "truncated or grown");
    save();
    fd = spoil_open(&n);
    assert_int_equal(ftruncate(fd, 100), 0);
    close(fd);
    assert_string_equal(refused(KEY, NULL), "truncated");
    save();
    fd = spoil_open(&n);
    unsigned char b;
    assert_int_equal(pread(fd, &b, 1, n / 2), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, n / 2), 1);
    close(fd);
    assert_string_equal(refused(KEY, NULL), "checksum mismatch");
    save();
    fd = spoil_open(&n);
    uint32_t format;
    assert_int_equal(pread(fd, &format, 4, HDR_FORMAT_AT), 4);
    format++;
    assert_int_equal(pwrite(fd, &format, 4, HDR_FORMAT_AT), 4);
    close(fd);
    assert_string_equal(refused(KEY, NULL), "another file format");
}

/* An edge naming a node past the nodes, under a checksum made to match:
 * the header's last two words are the payload's bytes and checksum, found
 * where the payload's bytes end the file. */
static void test_index_out_of_range_is_refused(void **state)
{
    (void)state;
    off_t n;
    save();
    situ_roads_stats st;
    situ_roads_graph_stats(built, &st);
    /* the payload starts with the edges (a, b, t, rf): point the first
     * edge's node a past the nodes, then make the checksum match */
    int fd = spoil_open(&n);
    uint64_t tail[2]; /* payload bytes, checksum */
    off_t hdr = 0;
    for (off_t at = 64; at < 4096 && !hdr; at += 8) { /* the header ends where payload + it = n */
        uint64_t v;
        assert_int_equal(pread(fd, &v, 8, at), 8);
        if ((off_t)v + at + 16 == n)
            hdr = at + 16;
    }
    assert_true(hdr > 0);
    assert_int_equal(pread(fd, tail, 16, hdr - 16), 16);
    uint32_t bad = (uint32_t)st.nodes + 7;
    assert_int_equal(pwrite(fd, &bad, 4, hdr), 4);
    uint64_t sum;
    assert_int_equal(situ_fs_checksum_fd(fd, hdr, tail[0], &sum), 0);
    assert_int_equal(pwrite(fd, &sum, 8, hdr - 8), 8);
    close(fd);
    assert_string_equal(refused(KEY, NULL), "an index out of range");
}

/* A large graph mapped back holds few of its file's pages resident (the
 * check hands each piece back, situ_roads_graph_map), as it does again
 * after situ_roads_graph_drop_pages, and what it answers after, read again
 * from the page cache, is the graph built. */
static void test_mapped_pages_are_handed_back(void **state)
{
    (void)state;
    situ_roads_osm big;
    situ_roads_graph *b = NULL, *g = NULL;
    situ_err err;
    assert_int_equal(situ_roads_grid(240, 240, 150, 12, 8, 11, &big, &err), 0);
    assert_int_equal(situ_roads_graph_new(big.lines, big.n, NULL, &b, &err), 0);
    char bigpath[600];
    snprintf(bigpath, sizeof bigpath, "%s/big.roads", dir);
    assert_int_equal(situ_roads_graph_save(b, KEY, NULL, bigpath, &err), 0);
    struct stat st;
    assert_int_equal(stat(bigpath, &st), 0);
    assert_true(st.st_size > 4 << 20); /* pages enough to tell */
    const char *why = "unset";
    assert_int_equal(situ_roads_graph_map(bigpath, KEY, NULL, &g, &why), 0);
    long kb = situ_test_mapped_rss_kb(bigpath);
    assert_true(kb >= 0);
    /* the closure bitset's pass reads the roads, an eighth of the file */
    assert_true(kb * 1024 < st.st_size / 4);
    assert_same_graph(b, g); /* reads the edges and nodes in again */
    assert_true(situ_test_mapped_rss_kb(bigpath) * 1024 >= st.st_size / 4);
    situ_roads_graph_drop_pages(g);
    assert_true(situ_test_mapped_rss_kb(bigpath) * 1024 < st.st_size / 16);
    assert_same_graph(b, g);
    situ_roads_graph_drop_pages(b); /* a graph built in memory: nothing to do */
    situ_roads_graph_free(g);
    situ_roads_graph_free(b);
    situ_roads_osm_dispose(&big);
    unlink(bigpath);
}

/* Snapping many points to a mapped graph reads its pages scattered over
 * the file: situ_roads_targets_new hands them back every 2,048 points, so
 * that the snaps of a nation's resources never hold the file resident. */
static void test_snapping_hands_the_mapped_pages_back(void **state)
{
    (void)state;
    enum { NPOINTS = 16384 };
    situ_roads_osm big;
    situ_roads_graph *b = NULL, *g = NULL;
    situ_roads_targets *t = NULL;
    situ_err err;
    assert_int_equal(situ_roads_grid(240, 240, 150, 12, 8, 11, &big, &err), 0);
    assert_int_equal(situ_roads_graph_new(big.lines, big.n, NULL, &b, &err), 0);
    char bigpath[600];
    snprintf(bigpath, sizeof bigpath, "%s/snaps.roads", dir);
    assert_int_equal(situ_roads_graph_save(b, KEY, NULL, bigpath, &err), 0);
    struct stat st;
    assert_int_equal(stat(bigpath, &st), 0);
    const char *why = "unset";
    assert_int_equal(situ_roads_graph_map(bigpath, KEY, NULL, &g, &why), 0);
    double *lonlat = malloc(2 * NPOINTS * sizeof *lonlat);
    assert_non_null(lonlat);
    for (size_t i = 0; i < NPOINTS; i++) { /* spread over every line of the grid */
        const situ_roads_line *l = &big.lines[i * 7919 % big.n];
        lonlat[2 * i] = l->xy[0], lonlat[2 * i + 1] = l->xy[1];
    }
    situ_roads_graph_drop_pages(g);
    assert_int_equal(situ_roads_targets_new(g, NULL, lonlat, NPOINTS, 1000, &t, &err), 0);
    assert_true(situ_test_mapped_rss_kb(bigpath) * 1024 < st.st_size / 16);
    situ_roads_targets_free(t);
    free(lonlat);
    situ_roads_graph_free(g);
    situ_roads_graph_free(b);
    situ_roads_osm_dispose(&big);
    unlink(bigpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_stale_is_refused),
        cmocka_unit_test(test_corrupt_is_refused),
        cmocka_unit_test(test_index_out_of_range_is_refused),
        cmocka_unit_test(test_mapped_pages_are_handed_back),
        cmocka_unit_test(test_snapping_hands_the_mapped_pages_back),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * fs_test.c: layers/fs.c, the mapped files' pages. A whole mapping handed
 * back goes to its last page, the one the file ends inside too; a file's
 * pages read again after situ_fs_cache_single_pages are single pages, so
 * that a touch of its mapping maps at most the fault-around's 16 of them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "situ/fs.h"
#include "testlib.h"

#define FILE_MB 64

static char *dir;

static int setup(void **state)
{
    (void)state;
    dir = situ_test_tmpdir("fs");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    situ_test_rmtree(dir);
    free(dir);
    return 0;
}

/* A file of n bytes at path (every byte set), written in pieces of a
 * megabyte and synced, as situ writes DB.snap and DB.roads. */
static void write_file(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    char *piece = malloc(1 << 20);
    assert_non_null(piece);
    memset(piece, 0x5a, 1 << 20);
    for (size_t at = 0; at < n; at += 1 << 20) {
        size_t k = n - at < (1 << 20) ? n - at : 1 << 20;
        assert_int_equal(fwrite(piece, 1, k, f), k);
    }
    free(piece);
    assert_int_equal(fflush(f), 0);
    assert_int_equal(fsync(fileno(f)), 0);
    assert_int_equal(fclose(f), 0);
}

static void touch(const char *p, size_t n)
{
    volatile char sink = 0;
    for (size_t i = 0; i < n; i += 512)
        sink ^= p[i];
    (void)sink;
}

static void a_whole_mapping_goes_to_its_last_page(void **state)
{
    (void)state;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = 3 * page + 100;
    char path[4200];
    snprintf(path, sizeof path, "%s/tail", dir);
    write_file(path, len);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(map != MAP_FAILED);
    close(fd);
    touch(map, len);
    size_t present, pages = situ_test_resident_pages(map, map + 4 * page, &present);
    assert_int_equal(pages, 4);
    assert_int_equal(present, 4);
    situ_fs_drop_mapping(map, len);
    situ_test_resident_pages(map, map + 4 * page, &present);
    assert_int_equal(present, 0); /* the page the file ends inside too */
    munmap(map, len);
}

/* Reads the whole of fd through a buffer, as the checksums do. */
static void read_through(int fd, size_t n)
{
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    for (size_t at = 0; at < n; at += 1 << 20)
        assert_true(pread(fd, buf, 1 << 20, (off_t)at) > 0);
    free(buf);
}

/* The file at path (len bytes) out of the page cache, then read through a
 * mapping from end to end, as a start before checked it: readahead leaves
 * its pages in the page cache as large folios where the kernel makes them. */
static void read_ahead_through_a_mapping(const char *path, size_t len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(map != MAP_FAILED);
    close(fd);
    touch(map, len);
    munmap(map, len);
}

/* A file's pages read ahead may sit in the page cache as large folios,
 * which a touch of a mapping maps whole (Linux 6.18, ext4, readahead 8 MiB:
 * 2 MiB at a touch); read again after situ_fs_cache_single_pages, each is
 * a page, and a touch maps at most the fault-around's 16. */
static void a_touch_maps_few_pages_once_the_file_is_read_as_single_pages(void **state)
{
    (void)state;
    size_t len = (size_t)FILE_MB << 20;
    char path[4200];
    snprintf(path, sizeof path, "%s/big", dir);
    write_file(path, len);
    read_ahead_through_a_mapping(path, len);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    situ_fs_cache_single_pages(fd);
    read_through(fd, len);
    char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(map != MAP_FAILED);
    close(fd);
    size_t present, touches = 0, most = 0;
    for (size_t at = len / 8; at < len; at += len / 4, touches++) {
        size_t before;
        situ_test_resident_pages(map, map + len, &before);
        touch(map + at + 12345, 1);
        situ_test_resident_pages(map, map + len, &present);
        most = present - before > most ? present - before : most;
    }
    assert_int_equal(touches, 4);
    assert_true(most >= 1);
    assert_true(most <= 16);
    munmap(map, len);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(a_whole_mapping_goes_to_its_last_page),
    cmocka_unit_test(a_touch_maps_few_pages_once_the_file_is_read_as_single_pages),
};

int main(void)
{
    return _cmocka_run_group_tests("fs", tests, sizeof tests / sizeof tests[0], setup, teardown);
}

/*
 * fs.c: durable file operations (see situ/fs.h). No policy here: the
 * callers decide what is written where and what a failure means.
 */
#include "situ/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int situ_fs_sync(const char *path, int directory)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0));
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int situ_fs_commit(FILE *f, const char *tmp, const char *path)
{
    int bad = fflush(f) || fsync(fileno(f));
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    size_t n = strlen(path);
    char *dir = malloc(n + 2);
    if (!dir)
        return 0; /* renamed; the folder's sync is best effort */
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    situ_fs_sync(slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".", 1);
    free(dir);
    return 0;
}

uint64_t situ_fs_checksum(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    return h;
}

int situ_fs_read_full(int fd, void *buf, size_t n, off_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int situ_fs_checksum_fd(int fd, off_t off, uint64_t n, uint64_t *out_h)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    uint64_t h = SITU_FS_CHECKSUM_SEED;
    int rc = buf ? 0 : -1;
    for (uint64_t at = 0; !rc && at < n; at += CHUNK) {
        size_t want = n - at < CHUNK ? (size_t)(n - at) : CHUNK;
        if (!(rc = situ_fs_read_full(fd, buf, want, off + (off_t)at)))
            h = situ_fs_checksum(h, buf, want);
    }
    free(buf);
    if (!rc)
        *out_h = h;
    return rc;
}

void situ_fs_drop_pages(const void *from, const void *to)
{
    static long page;
    if (!page)
        page = sysconf(_SC_PAGESIZE);
    uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t a = ((uintptr_t)from + mask) & ~mask, b = (uintptr_t)to & ~mask;
    if (b > a)
        madvise((void *)a, b - a, MADV_DONTNEED);
}

void situ_fs_drop_mapping(const void *map, size_t len)
{
    static long page;
    if (!page)
        page = sysconf(_SC_PAGESIZE);
    size_t mask = (size_t)page - 1;
    if (map && len)
        madvise((void *)map, (len + mask) & ~mask, MADV_DONTNEED);
}

void situ_fs_cache_single_pages(int fd)
{
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
}

void situ_fs_exe_identity(int64_t *out_size, int64_t *out_mtime_ns)
{
    struct stat st;
    *out_size = *out_mtime_ns = 0;
    if (stat("/proc/self/exe", &st) == 0) {
        *out_size = (int64_t)st.st_size;
        *out_mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    }
}

void situ_fs_build_init(situ_fs_build *b, const char magic[8], uint32_t format, uint32_t sizes,
                        const char *lib)
{
    memset(b, 0, sizeof *b);
    memcpy(b->magic, magic, sizeof b->magic);
    b->format = format, b->sizes = sizes;
    snprintf(b->version, sizeof b->version, "%s", SITU_VERSION);
    snprintf(b->lib, sizeof b->lib, "%s", lib ? lib : "");
    situ_fs_exe_identity(&b->exe_size, &b->exe_mtime_ns);
}

const char *situ_fs_build_differs(const situ_fs_build *a, const situ_fs_build *b,
                                  const char *not_ours)
{
    if (memcmp(a->magic, b->magic, sizeof a->magic))
        return not_ours;
    if (a->format != b->format || a->sizes != b->sizes)
        return "another file format";
    if (strncmp(a->version, b->version, sizeof a->version) || a->exe_size != b->exe_size ||
        a->exe_mtime_ns != b->exe_mtime_ns || strncmp(a->lib, b->lib, sizeof a->lib))
        return "written by another build of situ";
    return NULL;
}

/*
 * situ/fs.h: durable file operations shared by the writers of whole files
 * (situ backup, situ export, the snapshot and road graph files): a file or a
 * folder synced to disk, so that a rename into place survives a power cut;
 * the checksum and build identity those files are checked against; and the
 * pages of such a file mapped back handed back to the kernel.
 */
#ifndef SITU_FS_H
#define SITU_FS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* fsync(2) of the file at path (directory: 1 for a folder, after a rename
 * in it). Returns 0, or -1 with errno set. */
int situ_fs_sync(const char *path, int directory);

/* Finishes a file written in full to tmp through f: flushed, synced,
 * closed, renamed to path and its folder synced. f is closed either way;
 * on failure tmp is removed. Returns 0, or -1 with errno set. */
int situ_fs_commit(FILE *f, const char *tmp, const char *path);

#define SITU_FS_CHECKSUM_SEED 1469598103934665603ULL
/* A fast checksum of n bytes (n a multiple of 8), continuing h (start with
 * SITU_FS_CHECKSUM_SEED). */
uint64_t situ_fs_checksum(uint64_t h, const void *p, size_t n);
/* Reads n bytes of fd at off into buf in full (pread, again after a short
 * read); 0, or -1 on an error or the file's end. */
int situ_fs_read_full(int fd, void *buf, size_t n, off_t off);
/* situ_fs_checksum over n bytes of file fd from offset off, read through a small
 * buffer (the bytes are not mapped into the process). 0 and *out_h, or -1
 * when the file ends first or cannot be read. */
int situ_fs_checksum_fd(int fd, off_t off, uint64_t n, uint64_t *out_h);
/* Hands back the pages of a read-only private file mapping wholly inside
 * [from, to) (MADV_DONTNEED): they leave the process's resident set and are
 * read again from the page cache when next used, so the file must never be
 * written in place (situ's files are renamed over). Rounds inward: a page
 * the range shares with its neighbours stays, as they may be in use. */
void situ_fs_drop_pages(const void *from, const void *to);
/* Hands back every page of a whole read-only private file mapping of len
 * bytes at map (page aligned, as mmap returns it), its last page too: the
 * mapping runs to its end. */
void situ_fs_drop_mapping(const void *map, size_t len);
/* Before a file situ wrote for itself is read back through fd and mapped:
 * the pages of it the page cache holds and no process maps are let go
 * (POSIX_FADV_DONTNEED), and fd reads from now on bring in only the pages
 * asked for (POSIX_FADV_RANDOM), as single pages. A mapping of the file
 * then faults in at most 16 pages at a touch (fault-around), not the large
 * folios a writer or readahead leaves in the page cache: on Linux 6.18 with
 * ext4, a touch maps the whole folio around it, up to 2 MiB, so sparse
 * reads (a tile's features, a snap to the road graph) would hold tens of
 * times the pages they use. Read the whole file through fd once (a
 * checksum) before the mapping is used. Best effort: nothing on failure. */
void situ_fs_cache_single_pages(int fd);

/* This executable's size and modification time (ns), which tell one build
 * from another; zeros when /proc/self/exe cannot be read. */
void situ_fs_exe_identity(int64_t *out_size, int64_t *out_mtime_ns);

/* The build identity at the head of a file situ writes for itself to read
 * back (DB.snap, DB.roads): what the file is (magic), its layout (format,
 * the sizes of the structs laid out), and which build wrote it (situ's
 * version, the executable's size and mtime, the version of a library whose
 * output the file holds). The magic comes first and the format at byte 8. */
typedef struct situ_fs_build {
    char magic[8];
    uint32_t format, sizes;
    char version[32], lib[32];
    int64_t exe_size, exe_mtime_ns;
} situ_fs_build;

/* This build's identity into b (every byte set, padding none): magic (8
 * bytes), format, sizes, and lib (e.g. GEOSversion(); NULL: none). */
void situ_fs_build_init(situ_fs_build *b, const char magic[8], uint32_t format, uint32_t sizes,
                        const char *lib);
/* Why file identity a is not this build's b, or NULL when equal:
 * not_ours (a static string naming the kind of file) for another magic,
 * "another file format", "written by another build of situ". */
const char *situ_fs_build_differs(const situ_fs_build *a, const situ_fs_build *b,
                                  const char *not_ours);

#endif

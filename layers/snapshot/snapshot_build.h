/* snapshot_build.h: private to layers/snapshot/snapshot*.c. Building a situ_coll. */
#ifndef SITU_SNAPSHOT_BUILD_H
#define SITU_SNAPSHOT_BUILD_H

#include "situ/snapshot.h"

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

/* A snapshot file's contents in memory, shared by the collections read back
 * from it (snapshot_file.c); freed when the last of them is. */
typedef struct situ__snapfile_mem situ__snapfile_mem;
situ__snapfile_mem *situ__snapfile_mem_retain(situ__snapfile_mem *m);
void situ__snapfile_mem_release(situ__snapfile_mem *m);

/* One collection's bytes in a snapshot file's mapping, [from, to): what
 * situ_coll_drop_pages hands back for it, never its neighbours'. */
typedef struct snap_section {
    const char *from, *to;
} snap_section;

/* The strings and value arrays of a collection's features, shared by its
 * versions: one build's arena (chunks that never move), and through parent
 * the arenas (or a snapshot file's memory, mem) of the versions it was
 * updated from, whose unchanged features it points into. Reference counted
 * (a version holds one reference to its own, each holds its parent); never
 * written once its version is published. bytes: its chunks' and its
 * ancestors', mem counted as the bytes of the version read from it. */
typedef struct coll_strings {
    int refs;
    chunk *arena;
    situ__snapfile_mem *mem;
    snap_section section; /* mem's: the section these strings and values are in */
    struct coll_strings *parent;
    size_t bytes;
} coll_strings;

/* What a situ_coll owns (its priv): its arrays and a reference to the
 * strings its features point into, or, read back from a snapshot file,
 * only mem and its section there (the arrays point into it; the R-tree
 * header is its own, its boxes and refs in mem). live: how many of strings' bytes its features
 * use (an estimate: situ_coll_update copies them all again when the rest,
 * left by features changed or gone, outgrows it). */
typedef struct coll_priv {
    coll_strings *strings;
    size_t live;
    situ_feature *feats;
    situ_poly *polys;
    situ_ring *rings;
    double *xy;
    situ_held *held;
    uint32_t *by_id;
    uint32_t *base_of; /* situ_coll_update's lineage (situ_coll.base_of) */
    situ_value *values;
    situ__snapfile_mem *mem;
    snap_section section; /* mem's: the section read back */
} coll_priv;

/* A new situ_coll.uid: unique in the process, never 0. */
uint64_t situ__coll_next_uid(void);

/* digest.c: the 128-bit hash of feature f of c (its content, not its
 * place in c's arrays); adding it to or subtracting it from a digest. */
situ_digest situ__feature_digest(const situ_coll *c, const situ_feature *f);
void situ__digest_add(situ_digest *d, situ_digest h);
void situ__digest_sub(situ_digest *d, situ_digest h);

/* Frees a situ_coll and everything it owns, whatever its refs. */
void situ__coll_free(situ_coll *c);

#endif

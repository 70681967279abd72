/*
 * snapshot_file.c: the snapshot file beside a SpatiaLite store (DB.snap), so
 * that a restart reads back what situ_snapshot_load and the admin dissolve
 * computed instead of computing it again. Owns the file's layout, writing it
 * (temp file, fsync, rename), the store's state it is checked against and
 * reading it back; does not build collections (snapshot_build.c) or
 * dissolve (admin.c). Entry point: situ_snapshot_open.
 *
 *   start: key of the store now --file sound, key equal--> snapshot from the file
 *                                --else (say why)-------> build from the store
 *                                                         -> write DB.snap
 *
 * The key: the file format, situ's version, the executable's size and mtime,
 * the GEOS version, the store's schema version, event_log max(seq), and the
 * store file's (and a non-empty WAL's) device, inode, size and mtime. Any
 * write to the store changes one of them, so a file written before it is
 * stale. The file is mapped, not read into the heap: read-only at
 * SNAP_BASE, the address its pointers were written for, so that every page
 * stays the file's (shared with the page cache, read when used); when that
 * address is taken, private elsewhere with the pointers moved (those
 * records' pages become the process's). It is then checked in one pass,
 * section by section: the section's bytes added to the payload's checksum
 * (XXH3-64), then every pointer and index in it checked against its array;
 * nothing is used unless every section is sound and the checksum matches.
 * As each piece is checked its pages are handed back (MADV_DONTNEED; the
 * read-only mapping only), so that a start does not hold the whole file
 * resident: only what answers then use is read again (situ_coll_drop_pages
 * does the same for one collection's section after a pass such as the
 * tiles' preparation). A file
 * replaced later (always renamed over, never written in place) does not
 * change the mapping.
 *
 * Layout (native byte order, every part padded to 8 bytes, every padding
 * byte zero, so that the same snapshot makes the same file):
 *   header: key, payload bytes, payload checksum, sections
 *   per collection (the 8 collections, then counties, provinces):
 *     coll_hdr (with the collection's digest), string bytes count, strings,
 *     features, values, items, polygons, rings, points, by_id, R-tree boxes
 *     and refs, [area signatures]
 * Pointers (strings, a feature's values) are stored as the addresses they
 * have when the file is mapped at SNAP_BASE (NULL: 0).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <geos_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "situ/admin.h"
#include "situ/buf.h"
#include "situ/db.h"
#include "situ/fs.h"
#include "situ/snapshot.h"

#include "snapshot_build.h"

#define SNAP_MAGIC "SITUSNAP"
/* 2: each collection's digest; 3: situ_fs_build, zeroed padding; 4: pointers
 * for SNAP_BASE, the strings before the records; 5: the payload's checksum
 * XXH3-64 (checked section by section as the file is read back) */
#define SNAP_FORMAT 5
/* The address the file is written to be mapped at: its pointers are right
 * there as they are, so the mapping is only read and its pages stay the
 * file's. Far from where the kernel puts the heap, stacks and libraries
 * (and above the sanitizers' shadow); when it is taken, the file is mapped
 * elsewhere and its pointers moved (those pages become the process's). */
#define SNAP_BASE 0x3a5000000000ULL
#define NSECTIONS (SITU_NCOLLECTIONS + SITU_ADMIN_NLEVELS)

typedef struct snap_key {
    situ_fs_build build; /* sizes: of the structs laid out, one byte each; lib: GEOS */
    int64_t schema, seq;
    int64_t db_dev, db_ino, db_size, db_mtime_ns, wal_size, wal_mtime_ns;
} snap_key;

typedef struct snap_header {
    snap_key key;
    uint64_t payload, checksum, nsections;
} snap_header;

typedef struct coll_hdr {
    int32_t cid; /* a situ_coll_id, or 100 + a situ_admin_level */
    int32_t nfields;
    uint64_t n, npolys, nrings, nxy, nheld;
    uint64_t rt_n, rt_nslots, rt_nlevels, rt_level_end[32];
    char updated_max[32];
    double extent[4];
    uint64_t bytes;
    uint64_t digest[2]; /* situ_coll.digest: lo, hi */
} coll_hdr;

/* The file mapped private: the pages of the records whose strings are
 * linked (features, values, items) become the process's own as they are
 * written; every other array (coordinates, rings, R-trees, strings) stays
 * the file's, read from the page cache when used and never copied. */
struct situ__snapfile_mem {
    int refs;
    int clean; /* mapped read-only at SNAP_BASE: never written, its pages the file's */
    void *map;
    size_t len;
};

/* The pages of [from, to) in clean mapping m handed back (situ_fs_drop_pages:
 * whole pages inside the range only); nothing when m is not clean. */
static void drop_range(const situ__snapfile_mem *m, const void *from, const void *to)
{
    if (m && m->clean)
        situ_fs_drop_pages(from, to);
}

/* The mapping collection c was read back from (its own, or its strings'
 * parent's: the section of the version they were shared from), or NULL;
 * *out_s (when out_s is not NULL) gets c's section of it. */
static const situ__snapfile_mem *file_of(const situ_coll *c, snap_section *out_s)
{
    const coll_priv *pv = c ? c->priv : NULL;
    if (!pv)
        return NULL;
    const situ__snapfile_mem *m = pv->mem;
    snap_section sec = pv->section;
    for (const coll_strings *t = pv->strings; t && !m; t = t->parent)
        m = t->mem, sec = t->section;
    if (m && out_s)
        *out_s = sec;
    return m;
}

void situ_coll_drop_pages(const situ_coll *c)
{
    snap_section sec;
    const situ__snapfile_mem *m = file_of(c, &sec);
    if (m)
        drop_range(m, sec.from, sec.to);
}

void situ_coll_drop_pages_every(const situ_coll *c, size_t i)
{
    if ((i & 0xFFFF) == 0xFFFF)
        situ_coll_drop_pages(c);
}

size_t situ_coll_file_bytes(const situ_coll *c)
{
    const situ__snapfile_mem *m = file_of(c, NULL);
    return m && m->map && m->clean ? m->len : 0;
}

situ__snapfile_mem *situ__snapfile_mem_retain(situ__snapfile_mem *m)
{
    __atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
    return m;
}

void situ__snapfile_mem_release(situ__snapfile_mem *m)
{
    if (!m || __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    if (m->map)
        munmap(m->map, m->len);
    free(m);
}

/* ---- the key --------------------------------------------------------------- */

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* This build's identity into k, the rest zero. */
static void key_build(snap_key *k)
{
    memset(k, 0, sizeof *k);
    situ_fs_build_init(&k->build, SNAP_MAGIC, SNAP_FORMAT,
                       (uint32_t)sizeof(situ_feature) | (uint32_t)sizeof(situ_value) << 8 |
                           (uint32_t)sizeof(situ_held) << 16 | (uint32_t)sizeof(coll_hdr) << 24,
                       GEOSversion());
}

/* The store file's (and a non-empty WAL's) identity into k; 0 or -1. */
static int key_files(const char *db, snap_key *k, situ_err *err)
{
    struct stat st;
    if (stat(db, &st) != 0)
        return situ_err_set(err, SITU_EIO, "cannot stat %s: %s", db, strerror(errno));
    k->db_dev = (int64_t)st.st_dev, k->db_ino = (int64_t)st.st_ino;
    k->db_size = (int64_t)st.st_size, k->db_mtime_ns = mtime_ns(&st);
    k->wal_size = k->wal_mtime_ns = 0;
    char wal[4200];
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (stat(wal, &st) == 0 && st.st_size > 0) /* frames not yet in the main file */
        k->wal_size = (int64_t)st.st_size, k->wal_mtime_ns = mtime_ns(&st);
    return 0;
}

/* The store's state and this build's identity into k; 0 or -1 (why in err). */
static int key_now(situ_store *s, const char *db, snap_key *k, situ_err *err)
{
    key_build(k);
    if (key_files(db, k, err))
        return -1;
    k->schema = situ_store_version(s);
    situ_db_stmt *q;
    if (situ_db_prepare(situ_store_sql(s), "SELECT max(seq) FROM event_log", &q, err))
        return -1;
    k->seq = situ_db_step(q) == SITU_DB_ROW ? situ_db_column_int64(q, 0) : -1;
    situ_db_finalize(q);
    return 0;
}

/* Why key a (the file's) is not b (now), or NULL when equal. */
static const char *key_differs(const snap_key *a, const snap_key *b)
{
    const char *why = situ_fs_build_differs(&a->build, &b->build, "not a situ snapshot file");
    if (why)
        return why;
    if (a->schema != b->schema)
        return "the store's schema changed";
    if (a->seq != b->seq)
        return "the store's event log moved on";
    if (memcmp(&a->db_dev, &b->db_dev, 6 * sizeof(int64_t)))
        return "the store file changed";
    return NULL;
}

/* ---- writing --------------------------------------------------------------- */

typedef struct writer {
    FILE *f; /* NULL: a dry run, only counting */
    XXH3_state_t *h;
    uint64_t n;
    int failed;
} writer;

/* Writes n bytes and the zeros that pad them to 8. */
static void put(writer *w, const void *p, size_t n)
{
    static const char zeros[8];
    size_t pad = (8 - n % 8) % 8;
    if (!w->f) {
        w->n += n + pad;
        return;
    }
    if (w->failed || (n && fwrite(p, 1, n, w->f) != n) ||
        (pad && fwrite(zeros, 1, pad, w->f) != pad)) {
        w->failed = 1;
        return;
    }
    XXH3_64bits_update(w->h, p, n);
    XXH3_64bits_update(w->h, zeros, pad);
    w->n += n + pad;
}

/* The strings of one section: appended, the last of each kind remembered so
 * that runs of the same township code or time are stored once. base: the
 * address string 0 has when the file is mapped at SNAP_BASE. */
typedef struct strings {
    situ_buf b;
    uint64_t last[4];
    uint64_t base;
} strings;

static const char *str_ref(strings *t, const char *s, int kind)
{
    if (!s)
        return NULL;
    uint64_t at = t->last[kind];
    if (!at || strcmp(t->b.p + at - 1, s)) {
        at = t->b.n + 1;
        situ_buf_add(&t->b, s, strlen(s) + 1);
        t->last[kind] = at;
    }
    return (const char *)(uintptr_t)(t->base + at - 1);
}

static int is_text(situ_ftype t)
{
    return t && t != SITU_FT_INT && t != SITU_FT_REAL && t != SITU_FT_BOOL;
}

/* Features, values and items with their pointers as they are when the
 * file is mapped at SNAP_BASE (values: the values' address there). Each
 * record is built field by field in zeroed memory, so that its padding is
 * written as zeros (a struct copy would carry the heap's bytes into the
 * file). */
static void put_records(writer *w, const situ_coll *c, strings *t, uint64_t values)
{
    int nf = c->c->nfields;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *g = &c->feats[i];
        situ_feature f;
        memset(&f, 0, sizeof f);
        f.id = str_ref(t, g->id, 0), f.township_code = str_ref(t, g->township_code, 1);
        f.updated_at = str_ref(t, g->updated_at, 2), f.extra = str_ref(t, g->extra, 3);
        memcpy(f.bbox, g->bbox, sizeof f.bbox);
        f.x = g->x, f.y = g->y;
        f.poly0 = g->poly0, f.npolys = g->npolys, f.held0 = g->held0, f.nheld = g->nheld;
        f.values = (const situ_value *)(uintptr_t)(values + i * (size_t)nf * sizeof(situ_value));
        put(w, &f, sizeof f);
    }
    for (size_t i = 0; i < c->n; i++)
        for (int k = 0; k < nf; k++) {
            const situ_value *u = &c->feats[i].values[k];
            situ_value v;
            memset(&v, 0, sizeof v);
            v.type = u->type;
            if (is_text(u->type))
                v.u.s = str_ref(t, u->u.s, 3);
            else if (u->type == SITU_FT_REAL)
                v.u.d = u->u.d;
            else if (u->type)
                v.u.i = u->u.i;
            put(w, &v, sizeof v);
        }
    size_t nheld = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->feats[i].nheld && c->feats[i].held0 + c->feats[i].nheld > nheld)
            nheld = c->feats[i].held0 + c->feats[i].nheld;
    for (size_t i = 0; i < nheld; i++) {
        situ_held h;
        memset(&h, 0, sizeof h);
        h.item = c->held[i].item, h.quantity = c->held[i].quantity;
        h.unit = str_ref(t, c->held[i].unit, 3),
        h.updated_at = str_ref(t, c->held[i].updated_at, 2);
        put(w, &h, sizeof h);
    }
}

/* The array sizes of c: polygons, rings, points, items. */
static void coll_sizes(const situ_coll *c, coll_hdr *h)
{
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        if (f->npolys && f->poly0 + f->npolys > h->npolys)
            h->npolys = f->poly0 + f->npolys;
        if (f->nheld && f->held0 + f->nheld > h->nheld)
            h->nheld = f->held0 + f->nheld;
    }
    for (size_t p = 0; p < h->npolys; p++)
        if (c->polys[p].ring0 + c->polys[p].nrings > h->nrings)
            h->nrings = c->polys[p].ring0 + c->polys[p].nrings;
    for (size_t r = 0; r < h->nrings; r++)
        if ((uint64_t)c->rings[r].off + c->rings[r].n > h->nxy)
            h->nxy = (uint64_t)c->rings[r].off + c->rings[r].n;
}

static void put_coll(writer *w, const situ_coll *c, int32_t cid)
{
    coll_hdr h;
    memset(&h, 0, sizeof h);
    h.cid = cid, h.nfields = c->c->nfields, h.n = c->n, h.bytes = c->bytes;
    coll_sizes(c, &h);
    const situ_rtree *rt = c->index;
    if (rt) {
        h.rt_n = rt->n, h.rt_nslots = rt->nslots, h.rt_nlevels = (uint64_t)rt->nlevels;
        for (int k = 0; k < 32; k++)
            h.rt_level_end[k] = rt->level_end[k];
    }
    memcpy(h.updated_max, c->updated_max, sizeof h.updated_max);
    memcpy(h.extent, c->extent, sizeof h.extent);
    h.digest[0] = c->digest.lo, h.digest[1] = c->digest.hi;
    put(w, &h, sizeof h);
    /* the strings first, so that the records can point into them: a dry
     * run of the records collects them */
    strings t = {0};
    situ_buf_init(&t.b);
    writer dry = {0};
    put_records(&dry, c, &t, 0);
    uint64_t nstr = t.b.n + 1; /* and a NUL at the end */
    situ_buf_addc(&t.b, '\0');
    if (t.b.oom)
        w->failed = 1;
    put(w, &nstr, sizeof nstr);
    uint64_t at = SNAP_BASE + sizeof(snap_header) + w->n;
    put(w, t.b.p, t.b.n);
    uint64_t values = at + nstr + (8 - nstr % 8) % 8 + c->n * sizeof(situ_feature);
    situ_buf_dispose(&t.b);
    situ_buf_init(&t.b);
    memset(t.last, 0, sizeof t.last);
    t.base = at;
    put_records(w, c, &t, values);
    if (t.b.oom)
        w->failed = 1;
    situ_buf_dispose(&t.b);
    put(w, c->polys, h.npolys * sizeof *c->polys);
    put(w, c->rings, h.nrings * sizeof *c->rings);
    put(w, c->xy, h.nxy * 2 * sizeof *c->xy);
    put(w, c->by_id, c->n * sizeof *c->by_id);
    if (rt) {
        put(w, rt->boxes, rt->nslots * 4 * sizeof *rt->boxes);
        put(w, rt->refs, rt->nslots * sizeof *rt->refs);
    }
    const uint64_t *sig = situ_admin_signatures(c);
    if (sig)
        put(w, sig, c->n * sizeof *sig);
}

/* Writes snap (and its townships' outlines) with key k to path, through a
 * temporary file synced and renamed into place. */
static int write_file(const char *path, const snap_key *k, const situ_snapshot *snap, situ_err *err)
{
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    XXH3_state_t h;
    XXH3_64bits_reset(&h);
    writer w = {fopen(tmp, "wb"), &h, 0, 0};
    if (!w.f)
        return situ_err_set(err, SITU_EIO, "cannot write %s: %s", tmp, strerror(errno));
    snap_header hd;
    memset(&hd, 0, sizeof hd);
    hd.key = *k, hd.nsections = NSECTIONS;
    const situ_coll *towns = snap->colls[SITU_C_TOWNSHIPS];
    fwrite(&hd, sizeof hd, 1, w.f); /* written again once the payload is known */
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        put_coll(&w, snap->colls[i], i);
    for (int l = 0; l < SITU_ADMIN_NLEVELS; l++)
        put_coll(&w, towns->outlines[l], 100 + l);
    hd.payload = w.n, hd.checksum = XXH3_64bits_digest(&h);
    if (w.failed || fseek(w.f, 0, SEEK_SET) || fwrite(&hd, sizeof hd, 1, w.f) != 1) {
        fclose(w.f);
        unlink(tmp);
        return situ_err_set(err, SITU_EIO, "cannot write %s", tmp);
    }
    if (situ_fs_commit(w.f, tmp, path))
        return situ_err_set(err, SITU_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- reading back ---------------------------------------------------------- */

typedef struct reader {
    char *p, *end;
    int64_t delta; /* the mapping's address less SNAP_BASE: 0, or it is writable */
    const char *why;
    XXH3_state_t *h;               /* the payload's checksum, section by section */
    const char *hashed;            /* up to where */
    const situ__snapfile_mem *mem; /* its pages handed back once checked */
    int fd;                        /* the file, read through by the checksum */
    char *buf;                     /* HASH_PIECE bytes */
} reader;

/* The bytes of each piece the checks go through before handing its pages back. */
#define CHECK_PIECE ((size_t)16 << 20)

/* The bytes the checksum reads through the file at a time. */
#define HASH_PIECE ((size_t)1 << 20)

/* Adds [from, to) of the mapping (a section) to r's checksum, its bytes as
 * in the file (read through r->fd a piece at a time, so whatever pointers
 * the mapping has moved do not count, and the mapping faults none of them
 * in: the pages the reads bring into the page cache are single pages, see
 * situ_fs_cache_single_pages). */
static void hash_range(reader *r, const char *from, const char *to)
{
    off_t at = (off_t)(from - (const char *)r->mem->map);
    r->hashed = to;
    for (size_t left = (size_t)(to - from), n; left; left -= n, at += (off_t)n) {
        n = left < HASH_PIECE ? left : HASH_PIECE;
        if (situ_fs_read_full(r->fd, r->buf, n, at)) {
            r->why = r->why ? r->why : "unreadable";
            return;
        }
        XXH3_64bits_update(r->h, r->buf, n);
    }
}

/* The next n bytes (and their padding), or NULL past the end. */
static void *take(reader *r, uint64_t n)
{
    uint64_t padded = n + (8 - n % 8) % 8;
    if (r->why || padded > (uint64_t)(r->end - r->p)) {
        r->why = r->why ? r->why : "truncated";
        return NULL;
    }
    void *p = r->p;
    r->p += padded;
    return p;
}

/* Checks the pointer *ref (as written: the file mapped at SNAP_BASE; NULL
 * allowed) against the strings written at str_w (nstr bytes), and moves it
 * by delta (the mapping's distance from SNAP_BASE; at 0 nothing is
 * written, so the page stays the file's). *bad set when out of range. */
static void link_str(const char **ref, uint64_t str_w, uint64_t nstr, int64_t delta, int *bad)
{
    uint64_t at = (uint64_t)(uintptr_t)*ref;
    if (!at)
        return;
    if (at - str_w >= nstr)
        *bad = 1;
    else if (delta)
        *ref = (const char *)(uintptr_t)(at + (uint64_t)delta);
}

/* Hands back the pages of array a (elem bytes each) below element i, every
 * CHECK_PIECE bytes as a check walks it (and all of them at i == n). */
static void drop_behind(const reader *r, const void *a, size_t elem, size_t i, size_t n)
{
    size_t per = CHECK_PIECE / elem;
    if (i == n || (i && i % per == 0))
        drop_range(r->mem, (const char *)a + (i > per ? (i - per) * elem : 0),
                   (const char *)a + i * elem);
}

/* Checks every pointer of feature records feats (as written; see link_str)
 * and every index in them, moving the pointers by delta. 0 or -1. */
static int link_feats(const reader *r, situ_coll *c, const coll_hdr *h, situ_feature *feats,
                      situ_value *values, uint64_t str_w, uint64_t nstr)
{
    int bad = 0;
    int64_t delta = r->delta;
    uint64_t values_w = (uint64_t)(uintptr_t)values - (uint64_t)delta;
    for (size_t i = 0; i < h->n && !bad; i++) {
        situ_feature *f = &feats[i];
        bad |= !f->id || !f->township_code;
        link_str(&f->id, str_w, nstr, delta, &bad);
        link_str(&f->township_code, str_w, nstr, delta, &bad);
        link_str(&f->updated_at, str_w, nstr, delta, &bad);
        link_str(&f->extra, str_w, nstr, delta, &bad);
        bad |= (uint64_t)(uintptr_t)f->values != values_w + i * (size_t)h->nfields * sizeof *values;
        if (delta)
            f->values = values + i * (size_t)h->nfields;
        bad |= c->by_id[i] >= h->n;
        bad |= f->npolys && (uint64_t)f->poly0 + f->npolys > h->npolys;
        bad |= f->nheld && (uint64_t)f->held0 + f->nheld > h->nheld;
        drop_behind(r, feats, sizeof *feats, i + 1, h->n);
        drop_behind(r, c->by_id, sizeof *c->by_id, i + 1, h->n);
    }
    return bad ? -1 : 0;
}

/* Checks every pointer of c's records (as written) and every index against
 * its array, moving the pointers by r->delta (see link_str), each array's
 * pages handed back as it is checked. 0, or -1 when one is out of range. */
static int link_records(const reader *r, situ_coll *c, const coll_hdr *h, situ_feature *feats,
                        situ_value *values, situ_held *held, const char *str, uint64_t nstr)
{
    int64_t delta = r->delta;
    int bad = nstr == 0 || str[nstr - 1] != '\0';
    uint64_t str_w = (uint64_t)(uintptr_t)str - (uint64_t)delta;
    bad = bad || link_feats(r, c, h, feats, values, str_w, nstr);
    size_t nv = h->n * (size_t)h->nfields;
    for (size_t i = 0; i < nv && !bad; i++) {
        if (is_text(values[i].type)) {
            bad |= !values[i].u.s;
            link_str(&values[i].u.s, str_w, nstr, delta, &bad);
        }
        drop_behind(r, values, sizeof *values, i + 1, nv);
    }
    for (size_t i = 0; i < h->nheld && !bad; i++) {
        link_str(&held[i].unit, str_w, nstr, delta, &bad);
        link_str(&held[i].updated_at, str_w, nstr, delta, &bad);
    }
    for (size_t p = 0; p < h->npolys && !bad; p++) {
        bad |= (uint64_t)c->polys[p].ring0 + c->polys[p].nrings > h->nrings;
        drop_behind(r, c->polys, sizeof *c->polys, p + 1, h->npolys);
    }
    for (size_t k = 0; k < h->nrings && !bad; k++) {
        bad |= (uint64_t)c->rings[k].off + c->rings[k].n > h->nxy;
        drop_behind(r, c->rings, sizeof *c->rings, k + 1, h->nrings);
    }
    return bad ? -1 : 0;
}

/* Reads one section into a new situ_coll of collection c (refs 1) holding a
 * reference to mem; *out_sig gets the area signatures when c is an admin
 * level's. NULL with r->why set when the section is not sound. */
static situ_coll *read_coll(reader *r, situ__snapfile_mem *mem, int32_t cid,
                            const situ_collection *col, const uint64_t **out_sig)
{
    const char *start = r->p;
    coll_hdr *h = take(r, sizeof *h);
    if (h && (h->cid != cid || h->nfields != col->nfields || h->n > UINT32_MAX))
        r->why = "sections out of order";
    uint64_t left = (uint64_t)(r->end - r->p); /* no count past the bytes (no overflow) */
    if (h && (h->npolys > left || h->nrings > left || h->nxy > left || h->nheld > left ||
              h->rt_nslots > left))
        r->why = "an array longer than the file";
    if (r->why)
        return NULL;
    uint64_t *nstr = take(r, sizeof *nstr);
    const char *str = nstr ? take(r, *nstr) : NULL;
    situ_feature *feats = take(r, h->n * sizeof *feats);
    situ_value *values = take(r, h->n * (uint64_t)h->nfields * sizeof *values);
    situ_held *held = take(r, h->nheld * sizeof *held);
    situ_poly *polys = take(r, h->npolys * sizeof *polys);
    situ_ring *rings = take(r, h->nrings * sizeof *rings);
    double *xy = take(r, h->nxy * 2 * sizeof *xy);
    uint32_t *by_id = take(r, h->n * sizeof *by_id);
    double *boxes = h->rt_nslots ? take(r, h->rt_nslots * 4 * sizeof *boxes) : NULL;
    uint32_t *refs = h->rt_nslots ? take(r, h->rt_nslots * sizeof *refs) : NULL;
    *out_sig = cid >= 100 ? take(r, h->n * sizeof(uint64_t)) : NULL;
    if (r->why)
        return NULL;
    hash_range(r, start, r->p); /* before a pointer is moved */
    situ_coll *c = calloc(1, sizeof *c);
    coll_priv *pv = calloc(1, sizeof *pv);
    if (!c || !pv) {
        free(c), free(pv);
        r->why = "out of memory";
        return NULL;
    }
    *c = (situ_coll){.c = col,
                     .n = h->n,
                     .feats = feats,
                     .polys = polys,
                     .rings = rings,
                     .xy = xy,
                     .held = held,
                     .by_id = by_id,
                     .bytes = h->bytes,
                     .refs = 1,
                     .priv = pv,
                     .uid = situ__coll_next_uid()};
    pv->mem = mem, pv->section = (snap_section){start, r->p};
    __atomic_add_fetch(&mem->refs, 1, __ATOMIC_RELAXED);
    memcpy(c->updated_max, h->updated_max, sizeof c->updated_max);
    c->updated_max[sizeof c->updated_max - 1] = '\0';
    memcpy(c->extent, h->extent, sizeof c->extent);
    c->digest = (situ_digest){h->digest[0], h->digest[1]}; /* under the payload's checksum */
    if (h->rt_n == h->n && h->rt_nlevels <= 32)
        c->index = situ_rtree_view(h->rt_n, h->rt_nslots, h->rt_level_end, (int)h->rt_nlevels,
                                   boxes, refs);
    if (!c->index || link_records(r, c, h, feats, values, held, str, *nstr)) {
        situ__coll_free(c);
        r->why = "an index out of range";
        return NULL;
    }
    return c;
}

/* The townships' outlines of level l from areas (read back) and sig. */
static int adopt_outlines(situ_coll *towns, int l, situ_coll *areas, const uint64_t *sig)
{
    situ_err e = {0};
    situ_coll *a = NULL;
    int rc = situ_admin_restore(areas, (situ_admin_level)l, sig, &a, &e);
    situ_coll_release(areas);
    if (!rc)
        towns->outlines[l] = a;
    return rc;
}

/* Reads the payload in mem into a new snapshot; NULL with r->why set when
 * it is not sound. */
static situ_snapshot *read_payload(reader *r, situ__snapfile_mem *mem, uint64_t checksum)
{
    situ_snapshot *snap = calloc(1, sizeof *snap);
    if (!snap) {
        r->why = "out of memory";
        return NULL;
    }
    snap->refs = 1, snap->version = 1;
    snap->built_at = (double)time(NULL);
    const uint64_t *sig[SITU_ADMIN_NLEVELS] = {0};
    situ_coll *areas[SITU_ADMIN_NLEVELS] = {0};
    for (int i = 0; i < SITU_NCOLLECTIONS && !r->why; i++)
        snap->colls[i] = read_coll(r, mem, i, situ_schema_collection((situ_coll_id)i), &sig[0]);
    for (int l = 0; l < SITU_ADMIN_NLEVELS && !r->why; l++)
        areas[l] = read_coll(r, mem, 100 + l, situ_admin_collection(l), &sig[l]);
    if (!r->why && r->p != r->end)
        r->why = "trailing bytes";
    /* the rest (after a section found unsound) too: a checksum that does
     * not match is the reason given, whatever else is wrong */
    hash_range(r, r->hashed, r->end);
    if (XXH3_64bits_digest(r->h) != checksum)
        r->why = "checksum mismatch";
    for (int l = 0; l < SITU_ADMIN_NLEVELS; l++)
        if (r->why)
            situ_coll_release(areas[l]);
        else if (adopt_outlines(snap->colls[SITU_C_TOWNSHIPS], l, areas[l], sig[l]))
            r->why = "out of memory";
    if (r->why) {
        situ_snapshot_release(snap);
        return NULL;
    }
    return snap;
}

/* Maps fd (mem->len bytes) private into mem: read-only at SNAP_BASE, or,
 * when that is taken, writable wherever the kernel puts it. 0 or -1. */
static int map_file(situ__snapfile_mem *m, int fd)
{
    void *want = (void *)(uintptr_t)SNAP_BASE;
    void *p = mmap(want, m->len, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0);
    if (p != MAP_FAILED && p != want) /* a kernel that took the address as a hint */
        munmap(p, m->len), p = MAP_FAILED;
    if (p == MAP_FAILED)
        p = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
        return -1;
    m->map = p;
    return 0;
}

/* The snapshot in file path when it is sound and its key is k; else NULL
 * with why (a static string) saying what was wrong. */
static situ_snapshot *read_file(const char *path, const snap_key *k, const char **why)
{
    snap_header hd;
    situ_snapshot *snap = NULL;
    situ__snapfile_mem *mem = NULL;
    char *buf = NULL;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = errno == ENOENT ? "none yet" : "unreadable";
        return NULL;
    }
    if (fstat(fd, &st) || pread(fd, &hd, sizeof hd, 0) != (ssize_t)sizeof hd) {
        *why = "truncated";
        goto done;
    }
    if ((*why = key_differs(&hd.key, k)))
        goto done;
    if (hd.nsections != NSECTIONS || (uint64_t)st.st_size != sizeof hd + hd.payload) {
        *why = "truncated or grown";
        goto done;
    }
    if (!(mem = calloc(1, sizeof *mem)) || !(buf = malloc(HASH_PIECE))) {
        *why = "out of memory";
        goto done;
    }
    situ_fs_cache_single_pages(fd); /* read through fd by the checksum, then mapped */
    mem->refs = 1, mem->len = (size_t)st.st_size;
    if (map_file(mem, fd)) {
        *why = "cannot be mapped";
        goto done;
    }
    mem->clean = (uintptr_t)mem->map == SNAP_BASE;
    char *payload = (char *)mem->map + sizeof hd;
    XXH3_state_t h;
    XXH3_64bits_reset(&h);
    reader r = {payload,
                payload + hd.payload,
                (int64_t)((uintptr_t)mem->map - SNAP_BASE),
                NULL,
                &h,
                payload,
                mem,
                fd,
                buf};
    /* one pass: each section hashed, then its pointers and indices checked;
     * nothing of it is used unless the whole payload's checksum matches */
    if (!(snap = read_payload(&r, mem, hd.checksum)))
        *why = r.why;
done:
    close(fd);
    free(buf);
    situ__snapfile_mem_release(mem); /* the collections hold their own references */
    return snap;
}

/* ---- cold -------------------------------------------------------------------- */

/* The townships' counties and provinces dissolved onto snap's townships. */
static int dissolve_outlines(situ_snapshot *snap, situ_err *err)
{
    situ_coll *towns = snap->colls[SITU_C_TOWNSHIPS];
    const situ_coll *parts = towns;
    for (int l = 0; l < SITU_ADMIN_NLEVELS; l++) {
        int rc = situ_admin_dissolve(parts, (situ_admin_level)l, NULL, SITU_ADMIN_COVERAGE,
                                     &towns->outlines[l], NULL, err);
        if (rc)
            return rc;
        parts = towns->outlines[l];
    }
    return 0;
}

int situ_snapshot_open(situ_store *s, const char *db, situ_snapshot **out_snap, char *note,
                       size_t nnote, situ_err *err)
{
    if (situ_db_is_url(db)) {
        snprintf(note, nnote, "built from the store (PostgreSQL: no snapshot file)");
        return situ_snapshot_load(s, out_snap, err);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s.snap", db);
    snap_key k;
    situ_err kerr = {0};
    if (key_now(s, db, &k, &kerr)) {
        snprintf(note, nnote, "built from the store (no snapshot file: %s)", kerr.msg);
        return situ_snapshot_load(s, out_snap, err);
    }
    const char *why = NULL;
    situ_snapshot *snap = read_file(path, &k, &why);
    if (snap) {
        snprintf(note, nnote, "read back from %s", path);
        *out_snap = snap;
        return 0;
    }
    int rc = situ_snapshot_load(s, &snap, err);
    if (!rc && snap->colls[SITU_C_TOWNSHIPS]->n && (rc = dissolve_outlines(snap, err)))
        situ_snapshot_release(snap);
    if (rc)
        return rc;
    situ_err werr = {0};
    if (!snap->colls[SITU_C_TOWNSHIPS]->n)
        snprintf(note, nnote, "built from the store (%s: %s; no townships, not written)", path,
                 why);
    else if (write_file(path, &k, snap, &werr))
        snprintf(note, nnote, "built from the store (%s: %s; not rewritten: %s)", path, why,
                 werr.msg);
    else
        snprintf(note, nnote, "built from the store (%s: %s), then written", path, why);
    *out_snap = snap;
    return 0;
}

/* ---- at a clean stop --------------------------------------------------------- */

/* 1 when the file at path is written under key k (its payload unchecked). */
static int file_has_key(const char *path, const snap_key *k)
{
    snap_header hd;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int same = pread(fd, &hd, sizeof hd, 0) == (ssize_t)sizeof hd && !key_differs(&hd.key, k);
    close(fd);
    return same;
}

/* The store's key with its WAL checkpointed into the main file, read
 * through a connection of its own that is closed before the files' identity
 * is taken (closing the last connection may still touch them). */
static int key_at_rest(const char *db, snap_key *k, situ_err *err)
{
    situ_store *s;
    if (situ_store_open(db, 0, &s, err))
        return -1;
    int rc = situ_db_exec(situ_store_sql(s), "PRAGMA wal_checkpoint(TRUNCATE)", err);
    if (!rc)
        rc = key_now(s, db, k, err);
    situ_store_close(s);
    return rc ? rc : key_files(db, k, err);
}

/* -1 with err set when a collection's kept digest (an update's sum) is
 * not what its features hash to: such a snapshot is not written, so that a
 * restart never reads back a digest its content does not have. */
static int digests_differ(const situ_snapshot *snap, const char *path, situ_err *err)
{
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_digest d;
        if (situ_coll_digest_check(snap->colls[i], &d))
            return situ_err_set(err, SITU_EINVAL,
                                "%s not written: the digest kept for %s (%016llx%016llx) is not "
                                "its content's (%016llx%016llx)",
                                path, snap->colls[i]->c->id,
                                (unsigned long long)snap->colls[i]->digest.hi,
                                (unsigned long long)snap->colls[i]->digest.lo,
                                (unsigned long long)d.hi, (unsigned long long)d.lo);
    }
    return 0;
}

int situ_snapshot_save(const char *db, const situ_snapshot *snap, long long seq, char *note,
                       size_t nnote, situ_err *err)
{
    const situ_coll *towns = snap ? snap->colls[SITU_C_TOWNSHIPS] : NULL;
    if (situ_db_is_url(db)) {
        snprintf(note, nnote, "not written (PostgreSQL: no snapshot file)");
        return 0;
    }
    if (!towns || !towns->n || !towns->outlines[0] || !towns->outlines[1]) {
        snprintf(note, nnote, "not written (no townships or their outlines)");
        return 0;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s.snap", db);
    snap_key k;
    if (key_at_rest(db, &k, err))
        return -1;
    if (k.seq != seq) {
        snprintf(note, nnote,
                 "%s not written: the snapshot holds events to %lld, the store to %lld", path, seq,
                 (long long)k.seq);
        return 0;
    }
    if (file_has_key(path, &k)) {
        snprintf(note, nnote, "%s already current (event %lld)", path, seq);
        return 0;
    }
    if (digests_differ(snap, path, err))
        return -1;
    if (write_file(path, &k, snap, err))
        return -1;
    snprintf(note, nnote, "%s written at event %lld", path, seq);
    return 0;
}

/*
 * tilecache.c: the tile cache (see situ/tilecache.h). Owns entries (raw MVT
 * layer bytes, CRC and content hash in one allocation; their deflate made
 * on the first gzip answer and kept beside them),
 * 16 shards of hash table + LRU bounded in bytes, single-flight misses, the
 * per-collection state (current collection, prepared source, generation,
 * epoch) and the gzip bodies of answers of several pieces (entries of their
 * own, content-addressed). Cutting is tile.c's.
 *
 * An entry's life, under its shard's lock:
 *
 *     (absent) --miss: placeholder--> PENDING --cut--> READY (in LRU)
 *     PENDING --epoch moved while cutting--> (absent; the reply still gets it)
 *     READY --first gzip body of it alone: gzip, attached once (CAS)--> READY + gzip
 *     READY --LRU eviction | invalidate | generation moved--> (absent)
 *     (absent) --last reader's release--> freed
 *
 * A collection's state moves on situ_tilecache_advance (the writer names
 * what changed: matching entries go, the others stay) or when a reader
 * brings a newer collection the cache was not told about (generation moves:
 * every entry of that collection goes). Each move bumps the epoch, so a
 * tile cut before it is never inserted after it.
 */
#include "situ/tilecache.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <libdeflate.h>
#include <zlib.h>

#include "situ/gzip.h"
#include "situ/store.h"

#define NSHARDS 16

enum { E_READY = 0, E_PENDING = 1 };

struct situ_tile_entry {
    struct situ_tile_entry *hnext, *prev, *next;
    uint32_t x, y;
    uint8_t cid, z, state;
    int refs;
    uint64_t gen;
    uint64_t hash; /* content hash: crc32 << 32 | adler32 of the raw bytes */
    uint32_t crc;
    size_t nraw, bytes;
    struct deflated *def; /* NULL until a gzip answer needs it; then set once */
    unsigned char data[]; /* raw */
};

/* A gzip member: a piece's alone (the body of an answer of that piece
 * only), made on the first gzip answer that needs it. */
typedef struct deflated {
    size_t n;
    unsigned char d[];
} deflated;

typedef struct shard {
    pthread_mutex_t mu;
    pthread_cond_t filled; /* a PENDING entry became READY or went */
    situ_tile_entry **buckets;
    size_t nbuckets, count, bytes, max_bytes;
    situ_tile_entry *head, *tail; /* LRU: head most recent */
} shard;

typedef struct coll_state {
    situ_coll *coll;    /* the collection the cache serves (retained) */
    int64_t version;    /* the snapshot version it came with */
    situ_tilesrc *src;  /* coll prepared, or NULL until first needed */
    situ_tilesrc *prev; /* the previous source, for readers of older snapshots */
    uint64_t gen;       /* entries of another generation are gone */
    uint64_t epoch;     /* moves on every change; cuts from before are not kept */
    pthread_mutex_t build_mu;
} coll_state;

struct situ_tilecache {
    situ_tile_opts topts;
    int level;
    int day; /* YYYYMMDD (UTC) the cached hazards' overdue state was judged at */
    shard shards[NSHARDS];
    pthread_mutex_t state_mu;
    coll_state cs[SITU_NCOLLECTIONS];
    uint64_t hits, misses, empty_fast, evictions, invalidated, uncached, handbacks;
    unsigned drop_every;    /* cuts between looks at the resident memory */
    unsigned cuts;          /* cuts made */
    size_t resident_budget; /* resident bytes past which the snapshot file goes back */
    size_t resident_seen;   /* at the last look */
    int statm_fd;           /* /proc/self/statm, -1 */
};

/* ---- entries --------------------------------------------------------------- */

static void entry_release(situ_tile_entry *e)
{
    if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(e->def);
        free(e);
    }
}

static situ_tile_entry *entry_retain(situ_tile_entry *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
    return e;
}

static uint64_t key_hash(int cid, int z, uint32_t x, uint32_t y)
{
    uint64_t k = ((uint64_t)x << 32 | y) ^ ((uint64_t)(cid * 32 + z) << 56);
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

/* One gzip member of p[0..n) (libdeflate, situ/gzip.h: a third of zlib's
 * instructions at level 1 on the demo's tiles, and smaller;
 * scripts/bench/gzip_tiles.c); NULL when out of memory. */
static deflated *gzip_of(const unsigned char *p, size_t n, int level)
{
    size_t cap = situ_gzip_bound(n);
    deflated *d = malloc(sizeof *d + cap);
    if (!d || !(d->n = situ_gzip_into(p, n, level, d->d, cap))) {
        free(d);
        return NULL;
    }
    deflated *fit = realloc(d, sizeof *d + d->n);
    return fit ? fit : d;
}

/* A READY entry made of raw, whose first sizeof(situ_tile_entry) bytes are
 * the room left for it (cut encodes after them, so that the tile is not
 * copied): raw is taken (left empty). Its deflate comes when first asked
 * for. */
static situ_tile_entry *entry_make(const situ_tile_entry *key, situ_buf *raw)
{
    situ_tile_entry *e = realloc(raw->p, raw->n); /* to its size: in place */
    if (!e)
        e = (situ_tile_entry *)raw->p;
    size_t nraw = raw->n - sizeof *e;
    situ_buf_init(raw);
    *e = *key;
    e->hnext = e->prev = e->next = NULL;
    e->state = E_READY;
    e->refs = 1;
    e->nraw = nraw;
    e->def = NULL;
    /* libdeflate's CRC-32 and Adler-32 equal zlib's (ETags do not move) and
     * use the CPU's carry-less multiply and vector units: they were a fifth
     * of a cold miss's instructions with zlib's */
    e->crc = libdeflate_crc32(0, e->data, e->nraw);
    e->hash = (uint64_t)e->crc << 32 | libdeflate_adler32(1, e->data, e->nraw);
    e->bytes = sizeof *e + e->nraw;
    return e;
}

/* ---- shards ---------------------------------------------------------------- */

static shard *shard_of(situ_tilecache *tc, uint64_t h)
{
    return &tc->shards[h >> 60];
}

static situ_tile_entry **slot_of(shard *s, uint64_t h)
{
    return &s->buckets[h & (s->nbuckets - 1)];
}

static void lru_unlink(shard *s, situ_tile_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else if (s->head == e)
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else if (s->tail == e)
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(shard *s, situ_tile_entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

/* Takes e out of the table (and the LRU); READY entries lose the cache's
 * reference. Caller holds s->mu. */
static void shard_remove(shard *s, situ_tile_entry *e, uint64_t h)
{
    for (situ_tile_entry **p = slot_of(s, h); *p; p = &(*p)->hnext)
        if (*p == e) {
            *p = e->hnext;
            break;
        }
    s->count--;
    if (e->state == E_READY) {
        lru_unlink(s, e);
        s->bytes -= e->bytes;
        entry_release(e);
    } else {
        pthread_cond_broadcast(&s->filled);
    }
}

static situ_tile_entry *shard_find(shard *s, uint64_t h, const situ_tile_entry *k)
{
    for (situ_tile_entry *e = *slot_of(s, h); e; e = e->hnext)
        if (e->x == k->x && e->y == k->y && e->z == k->z && e->cid == k->cid)
            return e;
    return NULL;
}

static void shard_grow(shard *s)
{
    size_t nb = s->nbuckets * 2;
    situ_tile_entry **b = calloc(nb, sizeof *b);
    if (!b)
        return; /* chains just get longer */
    for (size_t i = 0; i < s->nbuckets; i++)
        for (situ_tile_entry *e = s->buckets[i], *next; e; e = next) {
            next = e->hnext;
            uint64_t h = key_hash(e->cid, e->z, e->x, e->y);
            e->hnext = b[h & (nb - 1)];
            b[h & (nb - 1)] = e;
        }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
}

static void shard_add(shard *s, situ_tile_entry *e, uint64_t h)
{
    if (s->count >= s->nbuckets)
        shard_grow(s);
    situ_tile_entry **p = slot_of(s, h);
    e->hnext = *p;
    *p = e;
    s->count++;
}

/* ---- collection state ------------------------------------------------------ */

/* Drops the entries of cid that keep(ctx, e) rejects, in every shard;
 * returns how many went. */
static size_t sweep(situ_tilecache *tc, int cid, int (*drop)(void *, const situ_tile_entry *),
                    void *ctx)
{
    size_t n = 0;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &tc->shards[i];
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b < s->nbuckets; b++)
            for (situ_tile_entry *e = s->buckets[b], *next; e; e = next) {
                next = e->hnext;
                if (e->cid == cid && drop(ctx, e)) {
                    shard_remove(s, e, key_hash(e->cid, e->z, e->x, e->y));
                    n++;
                }
            }
        pthread_mutex_unlock(&s->mu);
    }
    __atomic_add_fetch(&tc->invalidated, n, __ATOMIC_RELAXED);
    return n;
}

static int drop_other_gen(void *ctx, const situ_tile_entry *e)
{
    return e->gen != *(const uint64_t *)ctx;
}

/* What a reader may do with collection cid of its snapshot. */
typedef struct view {
    situ_tilesrc *src; /* retained; NULL: must build */
    int cacheable;
    uint64_t gen, epoch;
} view;

/* Makes coll the state's collection (a change the cache was not told of:
 * generation and epoch move). Caller holds state_mu. */
static void adopt(coll_state *cs, situ_coll *coll, int64_t version, int new_gen)
{
    situ_coll_retain(coll);
    situ_coll_release(cs->coll);
    cs->coll = coll;
    cs->version = version;
    situ_tilesrc_release(cs->prev);
    cs->prev = cs->src;
    cs->src = NULL;
    cs->gen += (uint64_t)new_gen;
    __atomic_add_fetch(&cs->epoch, 1, __ATOMIC_RELEASE);
}

static void resolve(situ_tilecache *tc, const situ_snapshot *snap, int cid, view *v)
{
    coll_state *cs = &tc->cs[cid];
    situ_coll *coll = snap->colls[cid];
    int moved = 0;
    pthread_mutex_lock(&tc->state_mu);
    if (coll != cs->coll && (!cs->coll || snap->version >= cs->version)) {
        adopt(cs, coll, snap->version, 1);
        moved = 1;
    }
    if (coll == cs->coll) {
        v->src = situ_tilesrc_retain(cs->src);
        v->cacheable = 1;
    } else { /* an older snapshot than the cache's: answer, do not keep */
        v->src =
            cs->prev && situ_tilesrc_coll(cs->prev) == coll ? situ_tilesrc_retain(cs->prev) : NULL;
        v->cacheable = 0;
    }
    v->gen = cs->gen;
    v->epoch = __atomic_load_n(&cs->epoch, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&tc->state_mu);
    if (moved)
        sweep(tc, cid, drop_other_gen, &v->gen);
}

/* The prepared source of coll, built once (per-collection build lock, not
 * the cache's); the result is retained. */
static int source(situ_tilecache *tc, int cid, situ_coll *coll, situ_tilesrc **out, situ_err *err)
{
    coll_state *cs = &tc->cs[cid];
    situ_tilesrc *src = NULL;
    int rc = 0;
    pthread_mutex_lock(&cs->build_mu);
    pthread_mutex_lock(&tc->state_mu);
    if (cs->coll == coll && cs->src)
        src = situ_tilesrc_retain(cs->src);
    pthread_mutex_unlock(&tc->state_mu);
    if (!src && !(rc = situ_tilesrc_new(coll, &src, err))) {
        pthread_mutex_lock(&tc->state_mu);
        if (cs->coll == coll && !cs->src)
            cs->src = situ_tilesrc_retain(src);
        pthread_mutex_unlock(&tc->state_mu);
    }
    pthread_mutex_unlock(&cs->build_mu);
    if (!rc)
        *out = src;
    return rc;
}

/* ---- get ------------------------------------------------------------------- */

/* 1 when tile t of coll is empty without looking: below the minzoom, or
 * outside the collection's extent. */
static int empty_fast(const situ_tilecache *tc, const situ_coll *coll, situ_tile_xyz t)
{
    if (!coll || coll->n == 0 || t.z < tc->topts.minzoom[coll->c->cid])
        return 1;
    double ll[4];
    situ_tile_bounds_lonlat(t, tc->topts.extent, tc->topts.buffer, ll);
    const double *x = coll->extent;
    return ll[2] < x[0] || ll[0] > x[2] || ll[3] < x[1] || ll[1] > x[3];
}

/* The bytes the process holds resident (statm's second field: anonymous,
 * file and shared pages, what VmRSS counts), read through fd
 * (/proc/self/statm, opened once: a read is one pread); 0 when unknown. */
static size_t resident_bytes(int fd)
{
    char buf[128];
    ssize_t n = fd >= 0 ? pread(fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = buf;
    strtoull(p, &p, 10); /* size */
    return (size_t)strtoull(p, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE);
}

/* Whether this cut is one to look at the resident memory after: every
 * drop_every-th, and of those only every 64th while the memory seen last
 * plus the whole file is within the budget (the file's pages alone cannot
 * take the process past it). */
static int time_to_look(situ_tilecache *tc, size_t file)
{
    unsigned n = __atomic_add_fetch(&tc->cuts, 1, __ATOMIC_RELAXED);
    if (n % tc->drop_every)
        return 0;
    size_t seen = __atomic_load_n(&tc->resident_seen, __ATOMIC_RELAXED);
    return seen + file > tc->resident_budget || n / tc->drop_every % 64 == 1;
}

/* After a cut of src: when the process holds more than resident_budget,
 * the pages of src's collection's section of the snapshot file it was read
 * back from are handed back (situ_coll_drop_pages). Nothing when the
 * collection is not a file's. A cut in another thread meanwhile reads
 * again what it needs. */
static void drop_now_and_then(situ_tilecache *tc, const situ_tilesrc *src)
{
    const situ_coll *c = situ_tilesrc_coll(src);
    size_t file = situ_coll_file_bytes(c);
    if (!file || !time_to_look(tc, file))
        return;
    size_t now = resident_bytes(tc->statm_fd);
    __atomic_store_n(&tc->resident_seen, now, __ATOMIC_RELAXED);
    if (now > tc->resident_budget) {
        situ_coll_drop_pages(c);
        __atomic_add_fetch(&tc->handbacks, 1, __ATOMIC_RELAXED);
    }
}

/* Cuts tile t of cid into a new READY entry like k, judging deadlines at
 * the day the cache is at. */
static int cut(situ_tilecache *tc, situ_tilesrc *src, const situ_tile_entry *k, situ_tile_xyz t,
               situ_tile_entry **out, situ_err *err)
{
    situ_buf raw;
    situ_buf_init(&raw);
    situ_tile_opts o = tc->topts;
    o.today = __atomic_load_n(&tc->day, __ATOMIC_ACQUIRE);
    int rc = situ_buf_reserve(&raw, sizeof(situ_tile_entry))
                 ? situ_err_set(err, SITU_ENOMEM, "out of memory keeping a tile")
                 : 0;
    raw.n = rc ? 0 : sizeof(situ_tile_entry); /* the entry's room, then the tile */
    if (!rc)
        rc = situ_tile_encode_coll(src, t, &o, &raw, NULL, err);
    drop_now_and_then(tc, src);
    situ_tile_entry *e = rc ? NULL : entry_make(k, &raw);
    situ_buf_dispose(&raw);
    *out = e;
    return rc;
}

/* Evicts from the LRU's tail, never `keep`, until s is within its bound.
 * Caller holds s->mu. */
static void shard_trim(situ_tilecache *tc, shard *s, const situ_tile_entry *keep)
{
    while (s->bytes > s->max_bytes && s->tail && s->tail != keep) {
        situ_tile_entry *old = s->tail;
        shard_remove(s, old, key_hash(old->cid, old->z, old->x, old->y));
        __atomic_add_fetch(&tc->evictions, 1, __ATOMIC_RELAXED);
    }
}

/* Puts the cut entry e in place of placeholder ph (if the epoch did not
 * move and ph is still there), evicting to the bound. Caller holds s->mu. */
static void settle(situ_tilecache *tc, shard *s, situ_tile_entry *ph, situ_tile_entry *e,
                   uint64_t h, uint64_t epoch, int cid)
{
    int still = shard_find(s, h, ph) == ph;
    if (still)
        shard_remove(s, ph, h);
    if (!still || __atomic_load_n(&tc->cs[cid].epoch, __ATOMIC_ACQUIRE) != epoch ||
        e->bytes > s->max_bytes) {
        __atomic_add_fetch(&tc->uncached, 1, __ATOMIC_RELAXED);
        return;
    }
    shard_add(s, entry_retain(e), h);
    lru_front(s, e);
    s->bytes += e->bytes;
    shard_trim(tc, s, e);
}

/* Looks tile t of cid up; on a miss cuts it once (others wait for it). */
static int get_cached(situ_tilecache *tc, const view *v, situ_coll *coll, int cid, situ_tile_xyz t,
                      situ_tile_entry **out, situ_err *err)
{
    situ_tile_entry k = {.x = t.x,
                         .y = t.y,
                         .cid = (uint8_t)cid,
                         .z = (uint8_t)t.z,
                         .state = E_PENDING,
                         .gen = v->gen};
    uint64_t h = key_hash(cid, t.z, t.x, t.y);
    shard *s = shard_of(tc, h);
    int keep = 1;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        situ_tile_entry *e = shard_find(s, h, &k);
        if (e && e->gen < v->gen) {
            shard_remove(s, e, h);
            continue;
        }
        if (!e || e->gen > v->gen) { /* newer: the state moved since resolve() */
            keep = !e;
            break;
        }
        if (e->state == E_READY) {
            lru_unlink(s, e);
            lru_front(s, e);
            *out = entry_retain(e);
            pthread_mutex_unlock(&s->mu);
            __atomic_add_fetch(&tc->hits, 1, __ATOMIC_RELAXED);
            return 0;
        }
        pthread_cond_wait(&s->filled, &s->mu);
    }
    situ_tile_entry ph = k; /* the placeholder lives on this stack until settled */
    if (keep)
        shard_add(s, &ph, h);
    pthread_mutex_unlock(&s->mu);
    __atomic_add_fetch(&tc->misses, 1, __ATOMIC_RELAXED);

    situ_tilesrc *src = situ_tilesrc_retain(v->src);
    int rc = src ? 0 : source(tc, cid, coll, &src, err);
    situ_tile_entry *e = NULL;
    if (!rc)
        rc = cut(tc, src, &k, t, &e, err);
    situ_tilesrc_release(src);
    pthread_mutex_lock(&s->mu);
    if (e && keep)
        settle(tc, s, &ph, e, h, v->epoch, cid);
    else if (keep && shard_find(s, h, &ph) == &ph)
        shard_remove(s, &ph, h);
    pthread_cond_broadcast(&s->filled);
    pthread_mutex_unlock(&s->mu);
    *out = e;
    return rc;
}

/* Collection cid's piece of tile t: an entry (retained) or NULL when empty. */
static int get_piece(situ_tilecache *tc, const situ_snapshot *snap, int cid, situ_tile_xyz t,
                     situ_tile_entry **out, situ_err *err)
{
    situ_coll *coll = snap->colls[cid];
    *out = NULL;
    if (empty_fast(tc, coll, t)) {
        __atomic_add_fetch(&tc->empty_fast, 1, __ATOMIC_RELAXED);
        return 0;
    }
    view v;
    resolve(tc, snap, cid, &v);
    int rc;
    if (v.cacheable) {
        rc = get_cached(tc, &v, coll, cid, t, out, err);
    } else {
        situ_tilesrc *src = v.src;
        situ_tile_entry k = {.x = t.x, .y = t.y, .cid = (uint8_t)cid, .z = (uint8_t)t.z};
        rc = src ? 0 : situ_tilesrc_new(coll, &src, err);
        if (!rc)
            rc = cut(tc, src, &k, t, out, err);
        if (src != v.src)
            situ_tilesrc_release(src);
        __atomic_add_fetch(&tc->uncached, 1, __ATOMIC_RELAXED);
    }
    situ_tilesrc_release(v.src);
    return rc;
}

static void reply_finish(situ_tile_reply *r)
{
    uint64_t h = 1469598103934665603ULL;
    r->n_raw = 0, r->crc = 0;
    for (int i = 0; i < r->npieces; i++) {
        const situ_tile_entry *e = r->pieces[i];
        /* zlib's, as libdeflate has no combine: a libdeflate_crc32 pass over
         * the answer instead costs 6.6 us per 64 KiB, this 0.37 us a piece */
        r->crc = (uint32_t)crc32_combine(r->crc, e->crc, (z_off_t)e->nraw);
        r->n_raw += e->nraw;
        h = (h ^ e->cid) * 1099511628211ULL;
        for (int b = 0; b < 64; b += 8)
            h = (h ^ ((e->hash >> b) & 0xFF)) * 1099511628211ULL;
    }
    r->hash = h;
    snprintf(r->etag, sizeof r->etag, "\"%016llx\"", (unsigned long long)h);
    snprintf(r->etag_gz, sizeof r->etag_gz, "\"%016llx-gz\"", (unsigned long long)h);
}

static int drop_below(void *ctx, const situ_tile_entry *e);

/* The current UTC day as YYYYMMDD. */
/* At a new day, hidden dangers whose deadline was today become overdue:
 * the hazards' aggregate tiles (and the urgent ones among them) go. */
static void follow_day(situ_tilecache *tc)
{
    int day = situ_store_today_ymd(), was = __atomic_load_n(&tc->day, __ATOMIC_ACQUIRE);
    if (day == was ||
        !__atomic_compare_exchange_n(&tc->day, &was, day, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    __atomic_add_fetch(&tc->cs[SITU_C_HAZARDS].epoch, 1, __ATOMIC_RELEASE);
    sweep(tc, SITU_C_HAZARDS, drop_below, &tc->topts.aggregate_below);
}

int situ_tilecache_get(situ_tilecache *tc, const situ_snapshot *snap, int set, situ_tile_xyz t,
                       situ_tile_reply *out, situ_err *err)
{
    follow_day(tc);
    situ_tile_reply r = {.tc = tc};
    if (set < 0 || set > SITU_TILESET_ALL)
        return situ_err_set(err, SITU_ENOTFOUND, "no tile set %d", set);
    if (t.z < 0 || t.z > SITU_TILE_MAXZOOM || t.x >> t.z || t.y >> t.z)
        return situ_err_set(err, SITU_EINVAL, "no tile %d/%u/%u", t.z, t.x, t.y);
    int c0 = set == SITU_TILESET_ALL ? 0 : set, c1 = set == SITU_TILESET_ALL ? set : set + 1;
    for (int cid = c0; cid < c1; cid++) {
        situ_tile_entry *e;
        int rc = get_piece(tc, snap, cid, t, &e, err);
        if (rc) {
            situ_tile_reply_dispose(&r);
            return rc;
        }
        if (e && e->nraw)
            r.pieces[r.npieces++] = e;
        else
            entry_release(e);
    }
    reply_finish(&r);
    *out = r;
    return 0;
}

void situ_tile_reply_dispose(situ_tile_reply *r)
{
    for (int i = 0; i < r->npieces; i++)
        entry_release(r->pieces[i]);
    memset(r, 0, sizeof *r);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Counts `more` bytes made for e into its shard while e is still cached,
 * evicting to the bound. */
static void entry_grew(situ_tilecache *tc, situ_tile_entry *e, size_t more)
{
    uint64_t h = key_hash(e->cid, e->z, e->x, e->y);
    shard *s = shard_of(tc, h);
    pthread_mutex_lock(&s->mu);
    if (shard_find(s, h, e) == e) {
        e->bytes += more;
        s->bytes += more;
        shard_trim(tc, s, e);
    }
    pthread_mutex_unlock(&s->mu);
}

/* e's gzip, made now if no answer made it yet, and kept with e (counted in
 * its shard while e is cached); NULL when out of memory. */
static const deflated *entry_deflated(situ_tilecache *tc, situ_tile_entry *e)
{
    deflated *d = __atomic_load_n(&e->def, __ATOMIC_ACQUIRE), *none = NULL;
    if (d)
        return d;
    if (!(d = gzip_of(e->data, e->nraw, tc->level)))
        return NULL;
    if (!__atomic_compare_exchange_n(&e->def, &none, d, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        free(d); /* another answer attached one first */
        return none;
    }
    entry_grew(tc, e, sizeof *d + d->n);
    return d;
}

/* ---- gzip of an answer of several pieces ------------------------------------
 *
 * A gzip member cannot be cut from the pieces' own members, so an answer of
 * several pieces has its own entry, made on its first gzip answer: key
 * (SITU_TILESET_ALL, z, x, y), data the whole gzip body, hash and crc the
 * answer's. It is content-addressed: used only while its hash, CRC and
 * length (the trailer's) are the answer's, replaced otherwise; so a piece
 * changing needs no sweep of it (a stale one waits for the LRU or its next
 * answer). */

static int whole_is(const situ_tile_entry *e, const situ_tile_reply *r)
{
    return e->state == E_READY && e->hash == r->hash && e->crc == r->crc && e->nraw >= 18 &&
           get_le32(e->data + e->nraw - 4) == (uint32_t)r->n_raw;
}

/* The answer's gzip entry if the cache has it (retained), else NULL. */
static situ_tile_entry *whole_find(situ_tilecache *tc, const situ_tile_entry *k,
                                   const situ_tile_reply *r)
{
    uint64_t h = key_hash(k->cid, k->z, k->x, k->y);
    shard *s = shard_of(tc, h);
    pthread_mutex_lock(&s->mu);
    situ_tile_entry *e = shard_find(s, h, k);
    if (e && whole_is(e, r)) {
        lru_unlink(s, e);
        lru_front(s, e);
        entry_retain(e);
    } else {
        e = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* Keeps e (made for r) in place of a stale entry of its key, unless another
 * answer kept one first: then that one is returned (retained) and e freed. */
static situ_tile_entry *whole_keep(situ_tilecache *tc, situ_tile_entry *e, const situ_tile_reply *r)
{
    uint64_t h = key_hash(e->cid, e->z, e->x, e->y);
    shard *s = shard_of(tc, h);
    pthread_mutex_lock(&s->mu);
    situ_tile_entry *old = shard_find(s, h, e);
    if (old && whole_is(old, r)) {
        entry_retain(old);
        pthread_mutex_unlock(&s->mu);
        entry_release(e);
        return old;
    }
    if (old)
        shard_remove(s, old, h);
    if (e->bytes <= s->max_bytes) {
        shard_add(s, entry_retain(e), h);
        lru_front(s, e);
        s->bytes += e->bytes;
        shard_trim(tc, s, e);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

/* The gzip entry of r's answer (several pieces), found or made now
 * (retained); NULL when out of memory. */
static situ_tile_entry *whole_deflated(situ_tilecache *tc, const situ_tile_reply *r)
{
    const situ_tile_entry *p = r->pieces[0];
    situ_tile_entry k = {.x = p->x, .y = p->y, .z = p->z, .cid = SITU_TILESET_ALL};
    situ_tile_entry *e = whole_find(tc, &k, r);
    if (e)
        return e;
    situ_buf raw;
    situ_buf_init(&raw);
    if (situ_buf_reserve(&raw, r->n_raw)) {
        situ_buf_dispose(&raw);
        return NULL;
    }
    for (int i = 0; i < r->npieces; i++)
        situ_buf_add(&raw, r->pieces[i]->data, r->pieces[i]->nraw);
    deflated *d = gzip_of((const unsigned char *)raw.p, raw.n, tc->level);
    situ_buf_dispose(&raw);
    if (d && (e = malloc(sizeof *e + d->n))) {
        *e = k;
        e->state = E_READY, e->refs = 1;
        e->hash = r->hash, e->crc = r->crc;
        e->nraw = d->n;
        e->bytes = sizeof *e + d->n;
        memcpy(e->data, d->d, d->n);
    }
    free(d);
    return e ? whole_keep(tc, e, r) : NULL;
}

int situ_tile_reply_body(situ_tile_reply *r, int gzip, situ_buf *out)
{
    if (!r->n_raw)
        return 0;
    if (!gzip) {
        if (situ_buf_reserve(out, r->n_raw))
            return SITU_ENOMEM;
        for (int i = 0; i < r->npieces; i++)
            situ_buf_add(out, r->pieces[i]->data, r->pieces[i]->nraw);
        return out->oom ? SITU_ENOMEM : 0;
    }
    if (r->npieces == 1) {
        const deflated *d = entry_deflated(r->tc, r->pieces[0]);
        if (!d)
            return SITU_ENOMEM;
        r->n_gz = d->n;
        situ_buf_add(out, d->d, d->n);
        return out->oom ? SITU_ENOMEM : 0;
    }
    situ_tile_entry *e = whole_deflated(r->tc, r);
    if (!e)
        return SITU_ENOMEM;
    r->n_gz = e->nraw;
    situ_buf_add(out, e->data, e->nraw);
    entry_release(e);
    return out->oom ? SITU_ENOMEM : 0;
}

int situ_tile_reply_matches(const situ_tile_reply *r, const char *inm)
{
    for (const char *p = inm; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!strncmp(p, "W/", 2))
            p += 2;
        size_t n = strcspn(p, ", \t");
        if ((n == 1 && *p == '*') || (n == strlen(r->etag) && !strncmp(p, r->etag, n)) ||
            (n == strlen(r->etag_gz) && !strncmp(p, r->etag_gz, n)))
            return 1;
        p += n;
    }
    return 0;
}

/* ---- writer ---------------------------------------------------------------- */

/* Tile ranges per zoom whose buffered bounds meet a lon/lat box. */
typedef struct box_ranges {
    uint32_t x0[SITU_TILE_MAXZOOM + 1], x1[SITU_TILE_MAXZOOM + 1];
    uint32_t y0[SITU_TILE_MAXZOOM + 1], y1[SITU_TILE_MAXZOOM + 1];
    size_t nboxes;
} box_ranges;

static void ranges_of(const situ_tilecache *tc, const double bbox[4], box_ranges *r, size_t i)
{
    double mx0, my0, mx1, my1;
    situ_tile_project(bbox[0], bbox[3], &mx0, &my0);
    situ_tile_project(bbox[2], bbox[1], &mx1, &my1);
    for (int z = 0; z <= SITU_TILE_MAXZOOM; z++) {
        /* below aggregate_below a point counts where its position rounds
         * to: up to half a unit beyond the buffer (a unit, to be safe) */
        double units = tc->topts.buffer + (z < tc->topts.aggregate_below ? 1.0 : 0.0);
        double b = units / tc->topts.extent, n = (double)(1u << z), hi = n - 1;
        uint32_t *v[4] = {&r[i].x0[z], &r[i].x1[z], &r[i].y0[z], &r[i].y1[z]};
        double lim[4] = {ceil(mx0 * n - 1 - b), floor(mx1 * n + b), ceil(my0 * n - 1 - b),
                         floor(my1 * n + b)};
        for (int k = 0; k < 4; k++)
            *v[k] = (uint32_t)fmin(fmax(lim[k], 0), hi);
    }
}

typedef struct drop_boxes {
    const box_ranges *r;
    size_t n;
} drop_boxes;

static int drop_in_boxes(void *ctx, const situ_tile_entry *e)
{
    const drop_boxes *d = ctx;
    for (size_t i = 0; i < d->n; i++) {
        const box_ranges *r = &d->r[i];
        if (e->x >= r->x0[e->z] && e->x <= r->x1[e->z] && e->y >= r->y0[e->z] &&
            e->y <= r->y1[e->z])
            return 1;
    }
    return 0;
}

static int drop_all(void *ctx, const situ_tile_entry *e)
{
    (void)ctx, (void)e;
    return 1;
}

static int drop_below(void *ctx, const situ_tile_entry *e)
{
    return e->z < *(const int *)ctx;
}

/* Drops the entries of cid meeting any of n boxes (all when boxes NULL). */
static size_t drop_boxes_of(situ_tilecache *tc, int cid, const double *boxes, size_t n)
{
    if (!boxes)
        return sweep(tc, cid, drop_all, NULL);
    if (!n)
        return 0;
    box_ranges *r = malloc(n * sizeof *r);
    if (!r)
        return sweep(tc, cid, drop_all, NULL); /* cannot be exact: be safe */
    for (size_t i = 0; i < n; i++)
        ranges_of(tc, boxes + 4 * i, r, i);
    drop_boxes d = {r, n};
    size_t k = sweep(tc, cid, drop_in_boxes, &d);
    free(r);
    return k;
}

size_t situ_tilecache_invalidate(situ_tilecache *tc, situ_coll_id cid, const double bbox[4])
{
    if ((int)cid < 0 || cid >= SITU_NCOLLECTIONS)
        return 0;
    __atomic_add_fetch(&tc->cs[cid].epoch, 1, __ATOMIC_RELEASE);
    return drop_boxes_of(tc, (int)cid, bbox, 1);
}

int situ_tilecache_advance(situ_tilecache *tc, const situ_snapshot *snap, situ_coll_id cid,
                           const double *boxes, size_t nboxes, situ_err *err)
{
    if ((int)cid < 0 || cid >= SITU_NCOLLECTIONS)
        return situ_err_set(err, SITU_EINVAL, "no collection %d", (int)cid);
    situ_coll *coll = snap->colls[cid];
    coll_state *cs = &tc->cs[cid];
    pthread_mutex_lock(&tc->state_mu);
    situ_tilesrc *prev = situ_tilesrc_retain(cs->src), *src = NULL;
    pthread_mutex_unlock(&tc->state_mu);
    /* before any lock, the slow part: only what changed since prev */
    int rc = coll->n ? situ_tilesrc_new_from(coll, prev, &src, err) : 0;
    situ_tilesrc_release(prev);
    if (rc)
        return rc;
    pthread_mutex_lock(&tc->state_mu);
    if (cs->coll != coll)
        adopt(cs, coll, snap->version, !boxes);
    else
        __atomic_add_fetch(&cs->epoch, 1, __ATOMIC_RELEASE);
    if (!cs->src)
        cs->src = situ_tilesrc_retain(src);
    pthread_mutex_unlock(&tc->state_mu);
    situ_tilesrc_release(src);
    drop_boxes_of(tc, (int)cid, boxes, nboxes);
    if (cid == SITU_C_TOWNSHIPS) /* a county's outline is simplified as a whole */
        sweep(tc, (int)cid, drop_below, &tc->topts.county_below);
    return 0;
}

int situ_tilecache_prepare(situ_tilecache *tc, const situ_snapshot *snap, situ_err *err)
{
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        situ_coll *coll = snap->colls[cid];
        if (!coll || !coll->n)
            continue;
        view v;
        resolve(tc, snap, cid, &v);
        situ_tilesrc *src = NULL;
        int rc = v.src || !v.cacheable ? 0 : source(tc, cid, coll, &src, err);
        situ_tilesrc_release(src);
        situ_tilesrc_release(v.src);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- life ------------------------------------------------------------------ */

int situ_tilecache_new(const situ_tilecache_opts *o, situ_tilecache **out_tc, situ_err *err)
{
    situ_tilecache *tc = calloc(1, sizeof *tc);
    if (!tc)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    size_t max = o && o->max_bytes ? o->max_bytes : (size_t)256 << 20;
    tc->level = o && o->gzip_level > 0 && o->gzip_level <= 12 ? o->gzip_level : 1;
    if (o && o->tile)
        tc->topts = *o->tile;
    else
        situ_tile_opts_default(&tc->topts);
    tc->day = tc->topts.today ? tc->topts.today : situ_store_today_ymd();
    tc->drop_every = o && o->drop_every ? o->drop_every : SITU_TILECACHE_DROP_EVERY;
    tc->resident_budget =
        o && o->resident_budget ? o->resident_budget : SITU_TILECACHE_RESIDENT_BUDGET;
    tc->statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    pthread_mutex_init(&tc->state_mu, NULL);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        pthread_mutex_init(&tc->cs[i].build_mu, NULL);
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &tc->shards[i];
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->filled, NULL);
        s->max_bytes = max / NSHARDS;
        s->nbuckets = 256;
        if (!(s->buckets = calloc(s->nbuckets, sizeof *s->buckets))) {
            situ_tilecache_free(tc);
            return situ_err_set(err, SITU_ENOMEM, "out of memory");
        }
    }
    *out_tc = tc;
    return 0;
}

void situ_tilecache_free(situ_tilecache *tc)
{
    if (!tc)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &tc->shards[i];
        for (size_t b = 0; s->buckets && b < s->nbuckets; b++)
            for (situ_tile_entry *e = s->buckets[b], *next; e; e = next) {
                next = e->hnext;
                if (e->state == E_READY)
                    entry_release(e);
            }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->filled);
    }
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        situ_tilesrc_release(tc->cs[i].src);
        situ_tilesrc_release(tc->cs[i].prev);
        situ_coll_release(tc->cs[i].coll);
        pthread_mutex_destroy(&tc->cs[i].build_mu);
    }
    pthread_mutex_destroy(&tc->state_mu);
    if (tc->statm_fd >= 0)
        close(tc->statm_fd);
    free(tc);
}

void situ_tilecache_stats_get(situ_tilecache *tc, situ_tilecache_stats *out)
{
    memset(out, 0, sizeof *out);
    out->hits = __atomic_load_n(&tc->hits, __ATOMIC_RELAXED);
    out->misses = __atomic_load_n(&tc->misses, __ATOMIC_RELAXED);
    out->empty_fast = __atomic_load_n(&tc->empty_fast, __ATOMIC_RELAXED);
    out->evictions = __atomic_load_n(&tc->evictions, __ATOMIC_RELAXED);
    out->invalidated = __atomic_load_n(&tc->invalidated, __ATOMIC_RELAXED);
    out->uncached = __atomic_load_n(&tc->uncached, __ATOMIC_RELAXED);
    out->handbacks = __atomic_load_n(&tc->handbacks, __ATOMIC_RELAXED);
    for (int i = 0; i < NSHARDS; i++) {
        shard *s = &tc->shards[i];
        pthread_mutex_lock(&s->mu);
        out->entries += s->count;
        out->bytes += s->bytes;
        out->max_bytes += s->max_bytes;
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&tc->state_mu);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        out->src_bytes += tc->cs[i].src ? situ_tilesrc_bytes(tc->cs[i].src) : 0;
    pthread_mutex_unlock(&tc->state_mu);
}

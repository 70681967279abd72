/*
 * digest.c: the snapshot digest /healthz reports, by which every situd (and
 * the tests, and a cluster) proves it holds the same content. Owns the
 * canonical bytes of a feature and their 128-bit XXH3 hash, the
 * order-independent sum of those per collection (situ_coll.digest) and the
 * snapshot's digest made of the eight sums; does not decide when a sum is
 * kept (snapshot_build.c: from scratch on a whole load, by subtracting the
 * old and adding the new features' hashes on an update; snapshot_file.c:
 * stored with its collection).
 *
 * A feature's bytes are its content only (strings, typed values, point,
 * polygons, rings and vertices, items), never where it lies in its arrays,
 * so that a copy hashes as the original and equal rows give equal hashes
 * whatever store (SpatiaLite or PostgreSQL) they were read from.
 */
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack: one per feature, no malloc */
#include <xxhash.h>

#include "situ/snapshot.h"

#include "snapshot_build.h"

/* The XXH3 state and a buffer that gathers a feature's small fields, so
 * that they reach XXH3 in a few calls (the hash is that of the bytes in
 * order, however they are split). */
typedef struct hasher {
    XXH3_state_t st;
    size_t n;
    unsigned char buf[512];
} hasher;

static void hasher_init(hasher *h)
{
    XXH3_INITSTATE(&h->st);
    XXH3_128bits_reset(&h->st);
    h->n = 0;
}

static void put_bytes(hasher *h, const void *p, size_t n)
{
    if (h->n + n > sizeof h->buf) {
        XXH3_128bits_update(&h->st, h->buf, h->n);
        h->n = 0;
    }
    if (n > sizeof h->buf) {
        XXH3_128bits_update(&h->st, p, n);
        return;
    }
    memcpy(h->buf + h->n, p, n);
    h->n += n;
}

static XXH128_hash_t hasher_end(hasher *h)
{
    XXH3_128bits_update(&h->st, h->buf, h->n);
    return XXH3_128bits_digest(&h->st);
}

/* A string with its terminator; NULL as one byte 0xff, which no UTF-8 text
 * starts with, so NULL and "" differ. */
static void put_str(hasher *st, const char *s)
{
    static const unsigned char null_mark = 0xff;
    if (s)
        put_bytes(st, s, strlen(s) + 1);
    else
        put_bytes(st, &null_mark, 1);
}

static void put_u32(hasher *st, uint32_t v)
{
    put_bytes(st, &v, sizeof v);
}

static void put_values(hasher *st, const situ_coll *c, const situ_feature *f)
{
    for (int k = 0; k < c->c->nfields; k++) {
        const situ_value *v = &f->values[k];
        unsigned char type = (unsigned char)v->type;
        put_bytes(st, &type, 1);
        if (v->type == SITU_FT_TEXT)
            put_str(st, v->u.s);
        else if (v->type == SITU_FT_REAL)
            put_bytes(st, &v->u.d, sizeof v->u.d);
        else if (v->type)
            put_bytes(st, &v->u.i, sizeof v->u.i);
    }
}

/* Polygons (or line parts), each as its ring count and each ring as its
 * point count and points. */
static void put_shape(hasher *st, const situ_coll *c, const situ_feature *f)
{
    put_bytes(st, &f->x, sizeof f->x);
    put_bytes(st, &f->y, sizeof f->y);
    put_u32(st, f->npolys);
    for (uint32_t p = f->poly0; p < f->poly0 + f->npolys; p++) {
        const situ_poly *poly = &c->polys[p];
        put_u32(st, poly->nrings);
        for (uint32_t r = poly->ring0; r < poly->ring0 + poly->nrings; r++) {
            put_u32(st, c->rings[r].n);
            put_bytes(st, c->xy + 2 * (size_t)c->rings[r].off,
                      2 * (size_t)c->rings[r].n * sizeof(double));
        }
    }
}

static void put_items(hasher *st, const situ_coll *c, const situ_feature *f)
{
    put_u32(st, f->nheld);
    for (uint32_t i = f->held0; i < f->held0 + f->nheld; i++) {
        const situ_held *h = &c->held[i];
        int32_t item = h->item;
        put_bytes(st, &item, sizeof item);
        put_bytes(st, &h->quantity, sizeof h->quantity);
        put_str(st, h->unit);
        put_str(st, h->updated_at);
    }
}

situ_digest situ__feature_digest(const situ_coll *c, const situ_feature *f)
{
    hasher st;
    hasher_init(&st);
    put_str(&st, c->c->id);
    put_str(&st, f->id);
    put_str(&st, f->township_code);
    put_str(&st, f->updated_at);
    put_str(&st, f->extra);
    put_values(&st, c, f);
    put_shape(&st, c, f);
    put_items(&st, c, f);
    XXH128_hash_t h = hasher_end(&st);
    return (situ_digest){h.low64, h.high64};
}

void situ__digest_add(situ_digest *d, situ_digest h)
{
    d->lo += h.lo, d->hi += h.hi;
}

void situ__digest_sub(situ_digest *d, situ_digest h)
{
    d->lo -= h.lo, d->hi -= h.hi;
}

situ_digest situ_coll_digest(const situ_coll *c)
{
    situ_digest d = {0, 0};
    for (size_t i = 0; i < c->n; i++)
        situ__digest_add(&d, situ__feature_digest(c, &c->feats[i]));
    return d;
}

int situ_coll_digest_check(const situ_coll *c, situ_digest *out_recomputed)
{
    situ_digest d = situ_coll_digest(c);
    if (out_recomputed)
        *out_recomputed = d;
    return d.lo == c->digest.lo && d.hi == c->digest.hi ? 0 : -1;
}

void situ_snapshot_digest(const situ_snapshot *s, char out[SITU_DIGEST_HEX])
{
    hasher st;
    hasher_init(&st);
    for (int i = 0; s && i < SITU_NCOLLECTIONS; i++) {
        const situ_coll *c = s->colls[i];
        uint64_t n = c->n;
        put_str(&st, c->c->id);
        put_bytes(&st, &n, sizeof n);
        put_bytes(&st, &c->digest.lo, sizeof c->digest.lo);
        put_bytes(&st, &c->digest.hi, sizeof c->digest.hi);
    }
    XXH128_hash_t h = hasher_end(&st);
    snprintf(out, SITU_DIGEST_HEX, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

/*
 * token.c: department tokens (see situ/token.h). A token is "situ_" plus 32
 * bytes from getrandom() in base64url; the tokens table keeps its SHA-256 in
 * hex, so a copy of the file gives no way in. SHA-256 is written out here
 * (FIPS 180-4) rather than pulling a crypto library into libsitu for 60
 * lines. Checking hashes the presented token and compares it with every
 * live hash without stopping early.
 */
#include "situ/token.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "situ/db.h"
#include "situ/schema.h"

/* ---- SHA-256 ------------------------------------------------------------- */

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + K[i] + w[i];
        uint32_t t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof v[0]);
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
}

void situ_sha256(const void *data, size_t n, unsigned char out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t left = n;
    for (; left >= 64; p += 64, left -= 64)
        sha256_block(h, p);
    unsigned char tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t ntail = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)n * 8;
    for (size_t i = 0; i < 8; i++)
        tail[ntail - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < ntail; off += 64)
        sha256_block(h, tail + off);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}

int situ_token_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

static void to_hex(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- the tokens table ------------------------------------------------------ */

static int random_bytes(unsigned char *p, size_t n)
{
    while (n) {
        ssize_t k = getrandom(p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k, n -= (size_t)k;
    }
    return 0;
}

/* base64url without padding of 32 bytes: 43 characters. */
static void make_token(const unsigned char raw[32], char out[SITU_TOKEN_SIZE])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    memcpy(out, "situ_", 5);
    char *o = out + 5;
    uint32_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 32; i++) {
        acc = acc << 8 | raw[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            *o++ = b64[(acc >> bits) & 63];
        }
    }
    if (bits)
        *o++ = b64[(acc << (6 - bits)) & 63];
    *o = '\0';
}

static void token_hash_hex(const char *token, char out[65])
{
    unsigned char h[32];
    situ_sha256(token, strlen(token), h);
    to_hex(h, 32, out);
}

int situ_token_add(situ_store *s, const char *dept, const char *label,
                   char out_token[SITU_TOKEN_SIZE], long long *out_id, situ_err *err)
{
    if (situ_schema_dept_index(dept) < 0)
        return situ_err_set(err, SITU_ENOTFOUND, "no department '%s'", dept ? dept : "");
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw))
        return situ_err_set(err, SITU_EIO, "getrandom failed: %s", strerror(errno));
    char token[SITU_TOKEN_SIZE], hash[65], now[32];
    make_token(raw, token);
    token_hash_hex(token, hash);
    situ_store_now(now);
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st;
    if (situ_db_prepare(db,
                        "INSERT INTO tokens (dept, hash, label, created_at) VALUES (?,?,?,?) "
                        "RETURNING id",
                        &st, NULL))
        return situ_err_set(err, SITU_EDB, "tokens: %s", situ_db_errmsg(db));
    situ_db_bind_text(st, 1, dept, -1);
    situ_db_bind_text(st, 2, hash, -1);
    if (label && *label)
        situ_db_bind_text(st, 3, label, -1);
    situ_db_bind_text(st, 4, now, -1);
    int rc = situ_db_step(st) == SITU_DB_ROW ? 0 : SITU_EDB;
    long long id = rc ? 0 : situ_db_column_int64(st, 0);
    if (!rc && situ_db_step(st) != SITU_DB_DONE) /* the insert finishes (commits) here */
        rc = SITU_EDB;
    if (rc)
        situ_err_set(err, rc, "tokens: %s", situ_db_errmsg(db));
    situ_db_finalize(st);
    if (rc)
        return rc;
    memcpy(out_token, token, SITU_TOKEN_SIZE);
    if (out_id)
        *out_id = id;
    return 0;
}

static void copy_col(char *dst, size_t n, situ_db_stmt *st, int k)
{
    const char *t = situ_db_column_text(st, k);
    snprintf(dst, n, "%s", t ? t : "");
}

int situ_token_list(situ_store *s, situ_token_info **out_list, int *out_n, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st;
    if (situ_db_prepare(db,
                        "SELECT id, dept, substr(hash, 1, 16), label, created_at, revoked_at "
                        "FROM tokens ORDER BY id",
                        &st, NULL))
        return situ_err_set(err, SITU_EDB, "tokens: %s", situ_db_errmsg(db));
    situ_token_info *list = NULL;
    int n = 0, cap = 0, rc = 0;
    while (situ_db_step(st) == SITU_DB_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            situ_token_info *p = realloc(list, (size_t)cap * sizeof *p);
            if (!p) {
                rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
                goto fail;
            }
            list = p;
        }
        situ_token_info *t = &list[n++];
        t->id = situ_db_column_int64(st, 0);
        copy_col(t->dept, sizeof t->dept, st, 1);
        copy_col(t->fingerprint, sizeof t->fingerprint, st, 2);
        copy_col(t->label, sizeof t->label, st, 3);
        copy_col(t->created_at, sizeof t->created_at, st, 4);
        copy_col(t->revoked_at, sizeof t->revoked_at, st, 5);
    }
    situ_db_finalize(st);
    *out_list = list;
    *out_n = n;
    return 0;
fail:
    situ_db_finalize(st);
    free(list);
    return rc;
}

int situ_token_revoke(situ_store *s, long long id, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st;
    char now[32];
    situ_store_now(now);
    if (situ_db_prepare(db, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                        &st, NULL))
        return situ_err_set(err, SITU_EDB, "tokens: %s", situ_db_errmsg(db));
    situ_db_bind_text(st, 1, now, -1);
    situ_db_bind_int64(st, 2, id);
    int rc = situ_db_step(st) == SITU_DB_DONE ? 0 : SITU_EDB;
    if (rc)
        situ_err_set(err, rc, "tokens: %s", situ_db_errmsg(db));
    else if (situ_db_changes(db) == 0)
        rc = situ_err_set(err, SITU_ENOTFOUND, "no live token with id %lld", id);
    situ_db_finalize(st);
    return rc;
}

/* ---- the in-memory set ------------------------------------------------------ */

typedef struct token_entry {
    unsigned char hash[32];
    int dept; /* index into situ_schema_dept */
} token_entry;

struct situ_tokens {
    token_entry *e;
    int n;
};

static int from_hex(const char *s, unsigned char out[32])
{
    if (!s || strlen(s) != 64)
        return -1;
    for (int i = 0; i < 64; i++) {
        int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return -1;
        out[i / 2] = (unsigned char)(i % 2 ? out[i / 2] | v : v << 4);
    }
    return 0;
}

int situ_tokens_load(situ_store *s, situ_tokens **out_set, situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st = NULL;
    situ_tokens *t = calloc(1, sizeof *t);
    int cap = 0, rc = 0;
    if (!t)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (situ_db_prepare(db, "SELECT dept, hash FROM tokens WHERE revoked_at IS NULL", &st, NULL)) {
        rc = situ_err_set(err, SITU_EDB, "tokens: %s", situ_db_errmsg(db));
        goto fail;
    }
    while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
        if (t->n == cap) {
            cap = cap ? 2 * cap : 32;
            token_entry *p = realloc(t->e, (size_t)cap * sizeof *p);
            if (!p) {
                rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
                goto fail;
            }
            t->e = p;
        }
        token_entry *e = &t->e[t->n];
        e->dept = situ_schema_dept_index(situ_db_column_text(st, 0));
        if (e->dept >= 0 && from_hex(situ_db_column_text(st, 1), e->hash) == 0)
            t->n++;
    }
    if (rc != SITU_DB_DONE) { /* a read cut short is a failure, not fewer tokens */
        rc = situ_err_set(err, SITU_EDB, "tokens: %s", situ_db_errmsg(db));
        goto fail;
    }
    situ_db_finalize(st);
    *out_set = t;
    return 0;
fail:
    situ_db_finalize(st);
    situ_tokens_free(t);
    return rc;
}

void situ_tokens_free(situ_tokens *t)
{
    if (!t)
        return;
    free(t->e);
    free(t);
}

int situ_tokens_count(const situ_tokens *t)
{
    return t ? t->n : 0;
}

int situ_tokens_check(const situ_tokens *t, const char *dept, const char *token)
{
    if (!t || !token || !*token || strlen(token) > 256)
        return SITU_EAUTH;
    unsigned char h[32];
    situ_sha256(token, strlen(token), h);
    int found = -1;
    for (int i = 0; i < t->n; i++) {
        int eq = situ_token_equal(h, t->e[i].hash, 32);
        found = eq ? i : found;
    }
    if (found < 0)
        return SITU_EAUTH;
    const situ_dept *d = situ_schema_dept(t->e[found].dept);
    return d && dept && strcmp(d->code, dept) == 0 ? 0 : SITU_EPERM;
}

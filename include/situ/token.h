/*
 * situ/token.h: the departments' bearer tokens.
 *
 * Owns making a token (32 random bytes from getrandom(), shown once), keeping
 * only its SHA-256 in the tokens table, listing and revoking, and checking a
 * presented token against an in-memory set in constant time. Does not own
 * HTTP (the daemon reads the Authorization header) nor which routes need it.
 * Entry points: situ_token_add, situ_token_list, situ_token_revoke,
 * situ_tokens_load + situ_tokens_check.
 */
#ifndef SITU_TOKEN_H
#define SITU_TOKEN_H

#include <stddef.h>

#include "situ/err.h"
#include "situ/store.h"

/* "situ_" and 43 base64url characters (256 bits), NUL included. */
#define SITU_TOKEN_SIZE 49

typedef struct situ_token_info {
    long long id;
    char dept[64];
    char fingerprint[17]; /* the first 16 hex digits of the hash */
    char label[128];
    char created_at[32];
    char revoked_at[32]; /* "" while live */
} situ_token_info;

/* A set of live tokens held in memory for checking requests. */
typedef struct situ_tokens situ_tokens;

/* SHA-256 of p[0..n). */
void situ_sha256(const void *p, size_t n, unsigned char out[32]);
/* 1 when a and b are equal; the time taken depends on n only. */
int situ_token_equal(const void *a, const void *b, size_t n);

/* Makes a token for department dept (a code of situ_schema_dept) and stores
 * its hash with an optional label. out_token gets the token itself, which is
 * never stored: show it once. */
int situ_token_add(situ_store *s, const char *dept, const char *label,
                   char out_token[SITU_TOKEN_SIZE], long long *out_id, situ_err *err);
/* Every token, live and revoked, by id. *out_list is malloc'd (free it). */
int situ_token_list(situ_store *s, situ_token_info **out_list, int *out_n, situ_err *err);
/* Revokes token id; SITU_ENOTFOUND when there is no live token with it. */
int situ_token_revoke(situ_store *s, long long id, situ_err *err);

/* Reads the live tokens into a new set (free with situ_tokens_free). */
int situ_tokens_load(situ_store *s, situ_tokens **out_set, situ_err *err);
void situ_tokens_free(situ_tokens *t);
/* Number of live tokens in the set. */
int situ_tokens_count(const situ_tokens *t);
/* Checks token (NULL: none given) for department dept: 0 when it is a live
 * token of dept, SITU_EAUTH when missing or unknown, SITU_EPERM when it
 * belongs to another department. Compares against every hash in the set. */
int situ_tokens_check(const situ_tokens *t, const char *dept, const char *token);

#endif

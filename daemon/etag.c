/*
 * etag.c: strong ETags for answers computed from the snapshot (the township
 * and county lists, #20), so that a client asking again with If-None-Match
 * gets 304 and no body, mostly without the answer being computed again.
 *
 * An answer's ETag is a hash of its bytes (XXH3, 64 bits): two pages have
 * the same ETag exactly when they hold the same bytes, so a client re-reads
 * only the pages that changed. An answer is keyed by all its bytes are a
 * function of: a digest of the data it reads (the route's, e.g.
 * situ_summary_lists_digest) with the request's path, query arguments and
 * base URL (its links). A small table maps a key to the ETag and size of
 * its latest answer:
 *
 *     key in the table, If-None-Match names its ETag -> 304, nothing computed
 *     otherwise -> computed; 304 when If-None-Match names its ETag, else 200;
 *                  its ETag kept for its key (replacing what the slot held)
 *
 * Entry points: situd_etag_fresh, situd_etag_reply (routes.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "routes.h"

#define SLOTS 256 /* keys kept: a few pages per list and client host */

typedef struct slot {
    uint64_t key[2]; /* {0, 0}: empty */
    uint64_t hash;   /* the answer's bytes */
    size_t n;        /* and how many (whether they go gzip'd) */
} slot;

static slot table[SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static enum MHD_Result hash_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    XXH3_128bits_update(cls, key, strlen(key) + 1);
    XXH3_128bits_update(cls, value ? value : "\xff", value ? strlen(value) + 1 : 1);
    return MHD_YES;
}

/* e->key: digest d with r's path, base URL and arguments in their order. */
static void key_of(situd_req *r, situ_digest d, situd_etag *e)
{
    XXH3_state_t state, *st = &state;
    char base[512];
    situd_base_url(r, base, sizeof base);
    XXH3_128bits_reset(st);
    XXH3_128bits_update(st, &d, sizeof d);
    XXH3_128bits_update(st, r->path, strlen(r->path) + 1);
    XXH3_128bits_update(st, base, strlen(base) + 1);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, hash_arg, st);
    XXH128_hash_t h = XXH3_128bits_digest(st);
    e->key[0] = h.low64, e->key[1] = h.high64 | 1; /* never the empty slot's */
}

/* 1 when If-None-Match (a list of entity tags, weak ones compared weakly as
 * RFC 9110 says for it, or "*") names "tag" or "tag-gz". */
static int inm_names(situd_req *r, const char *tag)
{
    const char *p = situd_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    size_t nt = strlen(tag);
    while (p && *p) {
        p += strspn(p, " \t,");
        if (*p == '*')
            return 1;
        if (!strncmp(p, "W/", 2))
            p += 2;
        size_t n = strcspn(p, ", \t");
        if (n >= nt + 2 && p[0] == '"' && !strncmp(p + 1, tag, nt) &&
            (n == nt + 2 || (n == nt + 5 && !strncmp(p + 1 + nt, "-gz", 3))) && p[n - 1] == '"')
            return 1;
        p += n;
    }
    return 0;
}

int situd_etag_fresh(situd_req *r, situ_digest d, const char *ctype, situd_etag *e,
                     situd_result *out)
{
    e->keyed = d.lo || d.hi;
    if (e->keyed)
        key_of(r, d, e);
    if (!e->keyed || !situd_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH))
        return 0;
    slot s;
    pthread_mutex_lock(&table_lock);
    s = table[e->key[0] % SLOTS];
    pthread_mutex_unlock(&table_lock);
    if (s.key[0] != e->key[0] || s.key[1] != e->key[1])
        return 0;
    char tag[17];
    snprintf(tag, sizeof tag, "%016llx", (unsigned long long)s.hash);
    if (!inm_names(r, tag))
        return 0;
    *out = situd_reply_not_modified(r, ctype, s.n, tag);
    return 1;
}

situd_result situd_etag_reply(situd_req *r, const situd_etag *e, const char *ctype, situ_buf *b)
{
    if (b->oom)
        return situd_reply_buf(r, 200, ctype, b); /* the 503 */
    slot s = {{e->key[0], e->key[1]}, XXH3_64bits(b->p, b->n), b->n};
    if (e->keyed) {
        pthread_mutex_lock(&table_lock);
        table[e->key[0] % SLOTS] = s;
        pthread_mutex_unlock(&table_lock);
    }
    char tag[17];
    snprintf(tag, sizeof tag, "%016llx", (unsigned long long)s.hash);
    if (inm_names(r, tag)) {
        situ_buf_dispose(b);
        return situd_reply_not_modified(r, ctype, s.n, tag);
    }
    return situd_reply_buf_tagged(r, 200, ctype, b, tag);
}

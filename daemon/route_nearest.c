/*
 * route_nearest.c: /nearest (the k nearest features, with item, quantity and
 * property filters), /within (everything inside a geodesic radius) and the
 * hazard-source part of /locate. libsitu's nearest.h parses, searches and
 * writes the GeoJSON; the daemon keeps one index cache, prepared whenever a
 * snapshot is published (the first one behind the port: a query before its
 * collection's index is ready builds it, the same index). by=road goes to
 * route_roads.c.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "situ/nearest.h"

static situ_nearest_cache *cache;
static pthread_t prepare_thread; /* the first snapshot's indexes, behind the port */
static int preparing;            /* prepare_thread is to be joined */
/* The snapshot prepare_thread is preparing, NULL once it is done: while set,
 * the thread holds a reference, so no other snapshot can have its address. */
static const situ_snapshot *behind;

static void *prepare_main(void *arg)
{
    situ_snapshot *snap = arg;
    situ_err err = {0};
    if (situ_nearest_cache_prepare(cache, snap, &err))
        fprintf(stderr, "situd: proximity index: not prepared (built per request): %s\n", err.msg);
    __atomic_store_n(&behind, NULL, __ATOMIC_RELEASE);
    situ_snapshot_release(snap);
    malloc_trim(0); /* what the preparation freed, not kept in the thread's arena */
    return NULL;
}

int situd_nearest_init(const situ_snapshot *snap, char *msg, size_t n)
{
    cache = situ_nearest_cache_new();
    if (!cache) {
        snprintf(msg, n, "proximity index: out of memory");
        return -1;
    }
    situ_snapshot *held = situ_snapshot_retain((situ_snapshot *)snap);
    __atomic_store_n(&behind, held, __ATOMIC_RELEASE);
    preparing = !pthread_create(&prepare_thread, NULL, prepare_main, held);
    if (!preparing)
        prepare_main(held);
    return 0;
}

/* Not the snapshot prepare_thread is preparing behind the port (the first
 * one's publish): building its indexes here too would hold the port shut
 * until they were built, each twice at once (situ_nearest_cache_get builds
 * outside its lock). */
void situd_nearest_prepare(const situ_snapshot *snap)
{
    situ_err err = {0};
    if (cache && snap != __atomic_load_n(&behind, __ATOMIC_ACQUIRE))
        situ_nearest_cache_prepare(cache, snap, &err);
}

void situd_nearest_free(void)
{
    if (preparing)
        pthread_join(prepare_thread, NULL);
    preparing = 0;
    situ_nearest_cache_free(cache);
    cache = NULL;
}

#define MAX_ARGS 32

typedef struct arg_list {
    const char *keys[MAX_ARGS], *values[MAX_ARGS];
    int n;
    const char *overflow; /* the first argument past MAX_ARGS */
} arg_list;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    arg_list *a = cls;
    (void)kind;
    if (!strcmp(key, "f"))
        return MHD_YES;
    if (a->n == MAX_ARGS) {
        a->overflow = key;
        return MHD_NO;
    }
    a->keys[a->n] = key;
    a->values[a->n++] = value ? value : "";
    return MHD_YES;
}

/* The parameter a libsitu message names first ("lat: must be ..."). */
static void param_of(const char *msg, char *out, size_t n)
{
    size_t k = strcspn(msg, ": ");
    if (k >= n)
        k = n - 1;
    memcpy(out, msg, k);
    out[k] = '\0';
}

int situd_nearest_parse(situd_req *r, int mode, situ_nearest_query *out_q, situd_result *res)
{
    arg_list a = {.n = 0};
    if (situd_reject_bad_f(r, res))
        return -1;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, collect, &a);
    char param[64];
    if (a.overflow) {
        snprintf(param, sizeof param, "%s", a.overflow);
        *res = situd_problem(r, 400, param, "%s: more than %d query parameters", param, MAX_ARGS);
        return -1;
    }
    situ_err err = {0};
    if (situ_nearest_query_parse((situ_nearest_mode)mode, a.keys, a.values, a.n, out_q, &err))
        return *res = situd_nearest_problem(r, &err), -1;
    return 0;
}

situd_result situd_nearest_problem(situd_req *r, const situ_err *err)
{
    char param[64];
    if (err->code == SITU_EINVAL) {
        param_of(err->msg, param, sizeof param);
        return situd_problem(r, 400, param, "%s", err->msg);
    }
    return situd_problem(r, 503, NULL, "%s", err->msg);
}

static situd_result answer(situd_req *r, situ_nearest_mode mode)
{
    situ_nearest_query q;
    situd_result res;
    if (situd_nearest_parse(r, mode, &q, &res))
        return res;
    if (q.by_road)
        return situd_roads_reply(r, &q);
    situ_buf b;
    situ_err err = {0};
    situ_buf_init(&b);
    if (situ_nearest_answer(cache, r->snap, &q, &b, &err)) {
        situ_buf_dispose(&b);
        return situd_nearest_problem(r, &err);
    }
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

situd_result situd_route_nearest(situd_req *r)
{
    return answer(r, SITU_NEAREST_KNN);
}

situd_result situd_route_within(situd_req *r)
{
    return answer(r, SITU_NEAREST_WITHIN);
}

void situd_locate_hazards(situd_req *r, double lon, double lat, situ_buf *b)
{
    situ_err err = {0};
    size_t mark = b->n;
    if (situ_nearest_hazards_json(cache, r->snap, lon, lat, SITU_CRS_WGS84, b, &err)) {
        b->n = mark;
        situ_buf_adds(b, "[]");
    }
}

/*
 * roads.c: the daemon's road network (see roads.h). One writer at a time
 * (the publisher or a feed's closure event, under wlock) builds and swaps;
 * readers take the current network under a mutex held for a pointer copy,
 * then read it without locks: a graph (shared by the versions of roads that
 * differ only in statuses) with its live closure slot and its targets cache,
 * and the roads collection version the answers name.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "roads.h"
#include "server.h"
#include "situ/clock.h"

#define NTARGETS 8 /* cached (point collection, closure set) pairs per graph */

typedef struct tentry {
    atomic_int refs;
    situ_coll *points;       /* retained: the key's pointer stays unique */
    situ_roads_closures *cl; /* retained */
    situ_roads_targets *t;
} tentry;

/* A graph and what hangs on it. */
typedef struct ghold {
    atomic_int refs;
    uint64_t key;    /* situ_roads_graph_key of the roads it was built from */
    double build_ms; /* situ_roads_graph_of's time (or the graph file's read) */
    int mapped;      /* read back from the graph file */
    unsigned gen;    /* workspaces are per generation */
    situ_roads_graph *g;
    situ_roads_live *live; /* the set in force */
    pthread_mutex_t tlock;
    tentry *tcache[NTARGETS];
    unsigned tnext;
} ghold;

struct situd_roads_net {
    atomic_int refs;
    ghold *gh;
    situ_coll *roads;               /* retained */
    situ_roads_closures *status_cl; /* the roads' own statuses */
};

static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER; /* writers */
static pthread_mutex_t cur_lock = PTHREAD_MUTEX_INITIALIZER;
static situd_roads_net *current;
static situd_roads_area_applier applier;
static void *applier_ctx;
static atomic_uint generation;
static atomic_llong n_builds, n_status, n_published; /* changed under wlock */

/* The first network is built by a loader thread (situd_roads_load_behind):
 * while it runs, prepare and closures_changed only note what it must do
 * after (under pend_lock), so the publisher never waits for the build. */
static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;
static int behind;             /* the first network is built by the loader */
static int loading;            /* the loader runs */
static pthread_t loader;       /* joined by situd_roads_free */
static int loader_started;     /* loader is to be joined */
static situ_snapshot *pending; /* retained: the newest snapshot to prepare */
static int pending_closures;   /* the closure areas changed meanwhile */

/* ---- lifetimes ------------------------------------------------------------- */

static void tentry_release(tentry *e)
{
    if (!e || atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    situ_roads_targets_free(e->t);
    situ_roads_closures_release(e->cl);
    situ_coll_release(e->points);
    free(e);
}

static void ghold_release(ghold *gh)
{
    if (!gh || atomic_fetch_sub(&gh->refs, 1) != 1)
        return;
    for (int i = 0; i < NTARGETS; i++)
        tentry_release(gh->tcache[i]);
    situ_roads_live_free(gh->live);
    situ_roads_graph_free(gh->g);
    pthread_mutex_destroy(&gh->tlock);
    free(gh);
}

static void net_release(situd_roads_net *n)
{
    if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
        return;
    situ_roads_closures_release(n->status_cl);
    situ_coll_release(n->roads);
    ghold_release(n->gh);
    free(n);
}

static situd_roads_net *net_current(void)
{
    pthread_mutex_lock(&cur_lock);
    situd_roads_net *n = current;
    if (n)
        atomic_fetch_add(&n->refs, 1);
    pthread_mutex_unlock(&cur_lock);
    return n;
}

static void net_swap(situd_roads_net *n)
{
    pthread_mutex_lock(&cur_lock);
    situd_roads_net *old = current;
    current = n;
    pthread_mutex_unlock(&cur_lock);
    net_release(old);
}

/* ---- writing ------------------------------------------------------------------ */

static char graph_file[4200];      /* DB.roads, "" for none or once used */
static const char *graph_file_why; /* the first graph was built: why not from the file */

void situd_roads_graph_file(const char *path)
{
    pthread_mutex_lock(&wlock);
    snprintf(graph_file, sizeof graph_file, "%s", path ? path : "");
    pthread_mutex_unlock(&wlock);
}

/* The graph of roads (key key): the first one mapped from the graph file
 * when that is sound and for these roads, else built (graph_file_why then
 * says why, and save_graph writes it once the network is ready). */
static int graph_of(situ_coll *roads, uint64_t key, situ_roads_graph **out_g, int *out_mapped,
                    situ_err *err)
{
    if (graph_file[0] && !graph_file_why &&
        situ_roads_graph_map(graph_file, key, NULL, out_g, &graph_file_why) == 0) {
        fprintf(stderr, "situd: roads: graph read back from %s\n", graph_file);
        graph_file[0] = '\0';
        *out_mapped = 1;
        return 0;
    }
    return situ_roads_graph_of(roads, NULL, out_g, err);
}

/* Writes the graph in force, built for want of the file, to the file for
 * the next start; then the file is done with. By the loader once the
 * network is ready, so that by-road answers do not wait for the write. */
static void save_graph(void)
{
    pthread_mutex_lock(&wlock);
    situd_roads_net *n = net_current();
    if (n && graph_file[0] && graph_file_why) {
        situ_err err = {0};
        double t0 = situ_clock_s();
        if (situ_roads_graph_save(n->gh->g, n->gh->key, NULL, graph_file, &err))
            fprintf(stderr, "situd: roads: graph built (%s: %s; not rewritten: %s)\n", graph_file,
                    graph_file_why, err.msg);
        else
            fprintf(stderr, "situd: roads: graph built (%s: %s), then written in %.0f ms\n",
                    graph_file, graph_file_why, (situ_clock_s() - t0) * 1e3);
    }
    graph_file[0] = '\0';
    net_release(n);
    pthread_mutex_unlock(&wlock);
}

static ghold *ghold_new(situ_coll *roads, uint64_t key, situ_err *err)
{
    ghold *gh = calloc(1, sizeof *gh);
    if (!gh)
        return situ_err_set(err, SITU_ENOMEM, "out of memory"), NULL;
    double t0 = situ_clock_s();
    if (graph_of(roads, key, &gh->g, &gh->mapped, err)) {
        free(gh);
        return NULL;
    }
    situ_roads_closures *base = NULL;
    if (situ_roads_closures_new(gh->g, &base, err) || !(gh->live = situ_roads_live_new(base))) {
        situ_roads_closures_release(base);
        situ_roads_graph_free(gh->g);
        free(gh);
        return situ_err_set(err, SITU_ENOMEM, "out of memory"), NULL;
    }
    gh->build_ms = (situ_clock_s() - t0) * 1e3;
    atomic_init(&gh->refs, 1);
    pthread_mutex_init(&gh->tlock, NULL);
    gh->key = key;
    gh->gen = atomic_fetch_add(&generation, 1) + 1;
    n_builds++;
    return gh;
}

/* The set in force of n: its status set plus the applier's areas. */
static void publish_closures(situd_roads_net *n)
{
    situ_err err = {0};
    situ_roads_closures *c = NULL;
    if (situ_roads_closures_clone(n->status_cl, &c, &err)) {
        fprintf(stderr, "situd: roads: closures: %s\n", err.msg);
        return;
    }
    if (applier && applier(applier_ctx, n->gh->g, c, &err)) {
        fprintf(stderr, "situd: roads: closure areas not applied: %s\n", err.msg);
        situ_roads_closures_release(c);
        situ_roads_closures_clone(n->status_cl, &c, &err);
    }
    if (c) {
        situ_roads_live_publish(n->gh->live, c);
        n_published++;
    }
}

/* Snaps points (the resources) under the set in force now, so the first
 * request after a new network or closure does not pay for it. */
static void prewarm(situ_coll *points)
{
    situd_roads_view v;
    situd_roads_tref t;
    situ_err err = {0};
    if (!points || situd_roads_acquire(&v))
        return;
    if (situd_roads_targets(&v, points, &t, &err) == 0)
        situd_roads_targets_done(&t);
    situd_roads_release(&v);
}

/* A network for roads, reusing prev's graph when only statuses changed. */
static situd_roads_net *net_new(situ_coll *roads, const situd_roads_net *prev, situ_err *err)
{
    situd_roads_net *n = calloc(1, sizeof *n);
    if (!n)
        return situ_err_set(err, SITU_ENOMEM, "out of memory"), NULL;
    atomic_init(&n->refs, 1);
    n->roads = situ_coll_retain(roads);
    uint64_t key = situ_roads_graph_key(roads);
    if (prev && prev->gh->key == key) {
        n->gh = prev->gh;
        atomic_fetch_add(&n->gh->refs, 1);
        n_status++;
    } else {
        n->gh = ghold_new(roads, key, err);
    }
    if (!n->gh || situ_roads_closures_of(n->gh->g, roads, &n->status_cl, err)) {
        net_release(n);
        return NULL;
    }
    return n;
}

static void prepare_now(const situ_snapshot *snap)
{
    situ_coll *roads = snap ? snap->colls[SITU_C_ROADS] : NULL;
    pthread_mutex_lock(&wlock);
    situd_roads_net *prev = net_current();
    if (!roads || (prev && prev->roads == roads)) { /* the resources may be new */
        net_release(prev);
        prewarm(snap ? snap->colls[SITU_C_RESOURCES] : NULL);
        pthread_mutex_unlock(&wlock);
        return;
    }
    situ_err err = {0};
    double t0 = situ_clock_s();
    situd_roads_net *n = NULL;
    size_t nparts = 0;
    for (size_t i = 0; i < roads->n; i++)
        nparts += roads->feats[i].npolys;
    situ_coll_drop_pages(roads); /* that read every feature */
    if (nparts && !(n = net_new(roads, prev, &err)))
        fprintf(stderr, "situd: roads: network not rebuilt: %s\n", err.msg);
    if (n || !nparts) {
        if (n && n->gh != (prev ? prev->gh : NULL)) {
            situ_roads_stats st;
            situ_roads_graph_stats(n->gh->g, &st);
            fprintf(stderr,
                    "situd: roads: graph of %zu roads, %zu edges (%.1f bytes each) %s in "
                    "%.0f ms, network ready in %.0f ms\n",
                    roads->n, st.edges, st.bytes_per_edge, n->gh->mapped ? "read back" : "built",
                    n->gh->build_ms, (situ_clock_s() - t0) * 1e3);
        }
        if (n)
            publish_closures(n);
        net_swap(n); /* nparts 0: no road network */
        prewarm(snap->colls[SITU_C_RESOURCES]);
        /* the snaps read most of a mapped graph file: searches read again
         * what they use */
        if (n && n->gh->mapped)
            situ_roads_graph_drop_pages(n->gh->g);
    }
    net_release(prev);
    pthread_mutex_unlock(&wlock);
}

static void closures_changed_now(void)
{
    pthread_mutex_lock(&wlock);
    situd_roads_net *n = net_current();
    if (n)
        publish_closures(n);
    net_release(n);
    situ_snapshot *snap = situd_snapshot_acquire();
    prewarm(snap ? snap->colls[SITU_C_RESOURCES] : NULL);
    situ_snapshot_release(snap);
    pthread_mutex_unlock(&wlock);
}

/* ---- the first network behind the port ------------------------------------- */

/* Test-only: SITUD_TEST_ROADS_DELAY_MS holds the loader back that long
 * after its first network, before it takes what was sent meanwhile, so the
 * tests can see the loading state (and send) whatever the machine's speed. */
static void test_delay(void)
{
    const char *ms = getenv("SITUD_TEST_ROADS_DELAY_MS");
    long v = ms ? atol(ms) : 0;
    if (v > 0)
        nanosleep(&(struct timespec){v / 1000, (v % 1000) * 1000000L}, NULL);
}

/* Prepares the pending snapshots, then lays the closure areas that changed
 * meanwhile, until nothing is pending; then the network is current. */
static void *load_main(void *arg)
{
    (void)arg;
    for (int first = 1;; first = 0) {
        pthread_mutex_lock(&pend_lock);
        situ_snapshot *snap = pending;
        int closures = pending_closures;
        pending = NULL, pending_closures = 0;
        loading = snap || closures;
        pthread_mutex_unlock(&pend_lock);
        if (!snap && !closures) {
            save_graph();
            malloc_trim(0); /* what the build freed, not kept in the thread's arena */
            return NULL;
        }
        if (snap)
            prepare_now(snap); /* lays the closure areas in force too */
        else
            closures_changed_now();
        situ_snapshot_release(snap);
        if (first)
            test_delay();
    }
}

void situd_roads_load_behind(void)
{
    pthread_mutex_lock(&pend_lock);
    behind = 1;
    pthread_mutex_unlock(&pend_lock);
}

/* 1 when the loader takes the work (snap, or changed closures when snap is
 * NULL): it runs, or snap is the first one with roads to load behind. */
static int loader_takes(const situ_snapshot *snap)
{
    pthread_mutex_lock(&pend_lock);
    int takes = loading;
    if (!takes && snap && behind && !loader_started && snap->colls[SITU_C_ROADS] &&
        snap->colls[SITU_C_ROADS]->n) {
        loading = loader_started = takes = 1;
        if (pthread_create(&loader, NULL, load_main, NULL))
            loading = loader_started = takes = 0; /* built here, as before */
    }
    if (takes && snap) {
        situ_snapshot_release(pending);
        pending = situ_snapshot_retain((situ_snapshot *)snap);
    } else if (takes) {
        pending_closures = 1;
    }
    pthread_mutex_unlock(&pend_lock);
    return takes;
}

void situd_roads_prepare(const situ_snapshot *snap)
{
    if (!snap || !loader_takes(snap))
        prepare_now(snap);
}

void situd_roads_closures_changed(void)
{
    if (!loader_takes(NULL))
        closures_changed_now();
}

situd_roads_state situd_roads_state_now(void)
{
    pthread_mutex_lock(&pend_lock);
    int l = loading;
    pthread_mutex_unlock(&pend_lock);
    if (l)
        return SITUD_ROADS_LOADING;
    pthread_mutex_lock(&cur_lock);
    int ready = current != NULL;
    pthread_mutex_unlock(&cur_lock);
    return ready ? SITUD_ROADS_READY : SITUD_ROADS_NONE;
}

void situd_roads_set_area_applier(situd_roads_area_applier fn, void *ctx)
{
    pthread_mutex_lock(&wlock);
    applier = fn;
    applier_ctx = ctx;
    pthread_mutex_unlock(&wlock);
}

void situd_roads_free(void)
{
    pthread_mutex_lock(&pend_lock);
    int join = loader_started;
    loader_started = 0;
    pthread_mutex_unlock(&pend_lock);
    if (join) /* the build cannot be cut short: a stop while loading waits for it */
        pthread_join(loader, NULL);
    pthread_mutex_lock(&wlock);
    net_swap(NULL);
    pthread_mutex_unlock(&wlock);
}

void situd_roads_metrics(situ_buf *b)
{
    long long builds = n_builds, status = n_status, published = n_published;
    situd_roads_view v;
    size_t edges = 0, closed = 0;
    if (situd_roads_acquire(&v) == 0) {
        situ_roads_stats st;
        situ_roads_graph_stats(v.g, &st);
        edges = st.edges;
        closed = situ_roads_closures_count(v.closures);
        situd_roads_release(&v);
    }
    situ_buf_printf(
        b,
        "# HELP situd_roads_graph_builds_total Road graphs built (the network changed).\n"
        "# TYPE situd_roads_graph_builds_total counter\n"
        "situd_roads_graph_builds_total %lld\n"
        "# HELP situd_roads_status_changes_total Roads versions that changed only "
        "statuses (same graph, closure set derived again).\n"
        "# TYPE situd_roads_status_changes_total counter\n"
        "situd_roads_status_changes_total %lld\n"
        "# HELP situd_roads_closure_sets_total Closure sets published.\n"
        "# TYPE situd_roads_closure_sets_total counter\n"
        "situd_roads_closure_sets_total %lld\n"
        "# HELP situd_roads_edges Edges of the road graph.\n"
        "# TYPE situd_roads_edges gauge\n"
        "situd_roads_edges %zu\n"
        "# HELP situd_roads_closed_edges Edges closed in the set in force.\n"
        "# TYPE situd_roads_closed_edges gauge\n"
        "situd_roads_closed_edges %zu\n",
        builds, status, published, edges, closed);
}

/* ---- reading ------------------------------------------------------------------- */

int situd_roads_acquire(situd_roads_view *v)
{
    memset(v, 0, sizeof *v);
    situd_roads_net *n = net_current();
    if (!n)
        return -1;
    v->net = n;
    v->roads = n->roads;
    v->g = n->gh->g;
    v->closures = situ_roads_live_get(n->gh->live);
    return 0;
}

void situd_roads_release(situd_roads_view *v)
{
    situ_roads_closures_release(v->closures);
    net_release(v->net);
    memset(v, 0, sizeof *v);
}

/* The cached entry of (points, cl) in gh, retained, or NULL. tlock held. */
static tentry *tcache_find(ghold *gh, const situ_coll *points, const situ_roads_closures *cl)
{
    for (int i = 0; i < NTARGETS; i++) {
        tentry *e = gh->tcache[i];
        if (e && e->points == points && e->cl == cl) {
            atomic_fetch_add(&e->refs, 1);
            return e;
        }
    }
    return NULL;
}

/* The newest cached entry of points (under another set), or NULL. tlock held. */
static const tentry *tcache_latest(const ghold *gh, const situ_coll *points)
{
    for (unsigned i = 1; i <= NTARGETS; i++) {
        const tentry *e = gh->tcache[(gh->tnext - i) % NTARGETS];
        if (e && e->points == points)
            return e;
    }
    return NULL;
}

/* The targets of points under cl: the latest ones of points under another
 * set updated (snapping again only what the change can move), else all
 * snapped. */
static int targets_build(const ghold *gh, situ_coll *points, const situ_roads_closures *cl,
                         situ_roads_targets **out_t, situ_err *err)
{
    const tentry *prev = tcache_latest(gh, points);
    if (prev)
        return situ_roads_targets_update(gh->g, prev->t, prev->cl, cl, out_t, err);
    return situ_roads_targets_of(gh->g, cl, points, SITU_ROADS_MAX_SNAP_M, out_t, err);
}

int situd_roads_targets(const situd_roads_view *v, situ_coll *points, situd_roads_tref *out,
                        situ_err *err)
{
    ghold *gh = v->net->gh;
    pthread_mutex_lock(&gh->tlock); /* one build per key; others wait for it */
    tentry *e = tcache_find(gh, points, v->closures);
    if (!e && (e = calloc(1, sizeof *e))) {
        if (targets_build(gh, points, v->closures, &e->t, err)) {
            free(e);
            pthread_mutex_unlock(&gh->tlock);
            return err->code;
        }
        atomic_init(&e->refs, 2); /* the cache's and the caller's */
        e->points = situ_coll_retain(points);
        e->cl = situ_roads_closures_retain(v->closures);
        tentry_release(gh->tcache[gh->tnext % NTARGETS]);
        gh->tcache[gh->tnext++ % NTARGETS] = e;
    }
    pthread_mutex_unlock(&gh->tlock);
    if (!e)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    out->t = e->t;
    out->priv = e;
    return 0;
}

void situd_roads_targets_done(situd_roads_tref *ref)
{
    tentry_release(ref->priv);
    ref->priv = NULL, ref->t = NULL;
}

/* ---- workspaces ------------------------------------------------------------------ */

typedef struct tws {
    situ_roads_ws *ws;
    unsigned gen;
} tws;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;

static void tws_free(void *p)
{
    tws *w = p;
    situ_roads_ws_free(w->ws);
    free(w);
}

static void ws_key_init(void)
{
    pthread_key_create(&ws_key, tws_free);
}

situ_roads_ws *situd_roads_ws(const situd_roads_view *v)
{
    pthread_once(&ws_once, ws_key_init);
    tws *w = pthread_getspecific(ws_key);
    if (!w && (w = calloc(1, sizeof *w)))
        pthread_setspecific(ws_key, w);
    if (!w)
        return NULL;
    if (w->gen != v->net->gh->gen || !w->ws) {
        situ_roads_ws_free(w->ws);
        w->ws = situ_roads_ws_new(v->g);
        w->gen = w->ws ? v->net->gh->gen : 0;
    }
    return w->ws;
}

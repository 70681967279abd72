/*
 * situd_fixture.c: a real situd in this process (see situd_fixture.h). The
 * start-up is daemon/main.c's (load_snapshot, then situd_server_start),
 * done with the same functions, since main.c is not linked; the settings
 * are the defaults but for the listen address, one thread, no log lines, a
 * long idle timeout (the fuzzer pauses to merge and reload) and a tile cache
 * small enough for libFuzzer's RSS limit.
 */
#define _GNU_SOURCE /* nftw */
#include "situd_fixture.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"
#include "situ/demo.h"
#include "situ/load.h"
#include "situ/snapshot.h"
#include "situ/store.h"

static situd_config cfg; /* the server keeps a pointer to it */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The folder with the demo's manifest.ini in out: $SITU_GEODATA, the source
 * tree's geodata/demo, or else one written under tmp. */
static int demo_dir(const char *tmp, char *out, size_t n, char *msg, size_t nmsg)
{
    const char *env = getenv("SITU_GEODATA");
    const char *dir = env && *env ? env : SITU_SOURCE_DIR "/geodata/demo";
    char manifest[PATH_MAX];
    snprintf(manifest, sizeof manifest, "%s/manifest.ini", dir);
    if (access(manifest, R_OK) == 0) {
        snprintf(out, n, "%s", dir);
        return 0;
    }
    snprintf(out, n, "%s/demo", tmp);
    situ_demo_opts o = {
        .out_dir = out, .geodata_dir = SITU_SOURCE_DIR "/geodata", .scale = 1, .seed = 20231231ULL};
    situ_err err = {0};
    if (situ_demo_write(&o, NULL, &err))
        return snprintf(msg, nmsg, "demo: %s", err.msg), -1;
    return 0;
}

/* `situ load --db db --all dir`. */
static int load_demo(const char *db, const char *dir, char *msg, size_t nmsg)
{
    situ_store *s;
    situ_err err = {0};
    if (situ_store_open(db, SITU_STORE_CREATE, &s, &err))
        return snprintf(msg, nmsg, "%s", err.msg), -1;
    situ_load_opts o = {0};
    situ_load_stats st[SITU_NCOLLECTIONS];
    int nfiles = 0;
    int rc = situ_load_dir(s, dir, &o, st, &nfiles, &err);
    situ_store_close(s);
    if (rc)
        snprintf(msg, nmsg, "load %s: %s", dir, err.msg);
    return rc ? -1 : 0;
}

/* daemon/main.c's load_snapshot: the snapshot read whole into memory, the
 * tile cache and the proximity index made from it, then published. */
static int publish_snapshot(const char *db, char *msg, size_t nmsg)
{
    situ_store *s;
    situ_snapshot *snap;
    situ_err err = {0};
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err))
        return snprintf(msg, nmsg, "%s", err.msg), -1;
    int rc = situ_snapshot_load(s, &snap, &err);
    situ_store_close(s);
    if (rc)
        return snprintf(msg, nmsg, "%s", err.msg), -1;
    if (situd_tiles_init(&cfg, snap, msg, nmsg) || situd_nearest_init(snap, msg, nmsg)) {
        situ_snapshot_release(snap);
        return -1;
    }
    situd_snapshot_publish(snap);
    return 0;
}

static void configure(void)
{
    situd_config_defaults(&cfg);
    situd_config_set_listen(&cfg, "127.0.0.1:0");
    cfg.threads = 1;
    cfg.quiet = 1;
    cfg.connection_timeout = 3600;
    cfg.tile_cache_bytes = 64u << 20;
    snprintf(cfg.web_dir, sizeof cfg.web_dir, "%s", SITU_SOURCE_DIR "/daemon/web");
}

/* The demo in a SpatiaLite file under a fresh temporary folder, published;
 * the folder is gone when this returns. */
static int serve_demo(char *msg, size_t nmsg)
{
    const char *t = getenv("TMPDIR");
    char tmp[PATH_MAX - 64], dir[PATH_MAX], db[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/situ-fuzz-http-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp))
        return snprintf(msg, nmsg, "mkdtemp %s: %s", tmp, strerror(errno)), -1;
    snprintf(db, sizeof db, "%s/situ.sqlite", tmp);
    int rc = demo_dir(tmp, dir, sizeof dir, msg, nmsg);
    if (rc == 0)
        rc = load_demo(db, dir, msg, nmsg);
    if (rc == 0)
        rc = publish_snapshot(db, msg, nmsg);
    remove_tree(tmp);
    return rc;
}

int situd_fixture_start(char *msg, size_t nmsg)
{
    static int port = -1;
    if (port > 0)
        return port;
    configure();
    signal(SIGPIPE, SIG_IGN); /* a closed connection is an answer to check, not a death */
    if (serve_demo(msg, nmsg) || situd_server_start(&cfg, msg, nmsg))
        return -1;
    port = situd_server_port();
    return port;
}

/*
 * situd_fixture.c: a real situd in this process (see situd_fixture.h). The
 * start-up is daemon/main.c's (the feeds writer opened, load_snapshot, the
 * writer started, then situd_server_start), done with the same functions,
 * since main.c is not linked; the settings are the defaults but for the
 * listen address, one thread, no log lines, a long idle timeout (the fuzzer
 * pauses to merge and reload) and a tile cache small enough for libFuzzer's
 * RSS limit.
 */
#include "situd_fixture.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo_db.h"
#include "feedwriter.h"
#include "server.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/token.h"

static situd_config cfg; /* the server keeps a pointer to it */
static char dir[PATH_MAX], token[SITU_TOKEN_SIZE];

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

/* `situ token add meteorology` on the file. */
static int add_token(const char *db, char *msg, size_t nmsg)
{
    situ_store *s;
    situ_err err = {0};
    long long id;
    int rc = situ_store_open(db, 0, &s, &err) ||
             situ_token_add(s, "meteorology", "fuzz", token, &id, &err);
    situ_store_close(s);
    if (rc)
        snprintf(msg, nmsg, "token: %s", err.msg);
    return rc ? -1 : 0;
}

static void remove_demo(void)
{
    demo_db_remove(dir);
}

/* The demo in a SpatiaLite file, with a token, the feeds writer on it and
 * its snapshot published. */
static int serve_demo(char *msg, size_t nmsg)
{
    if (demo_db_make(dir, sizeof dir, cfg.db, sizeof cfg.db, msg, nmsg))
        return -1;
    atexit(remove_demo);
    if (add_token(cfg.db, msg, nmsg) || situd_feedwriter_open(&cfg, msg, nmsg) ||
        publish_snapshot(cfg.db, msg, nmsg))
        return -1;
    return situd_feedwriter_start(&cfg, msg, nmsg) ? -1 : 0;
}

const char *situd_fixture_token(void)
{
    return token;
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

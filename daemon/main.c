/*
 * main.c: situd's entry point. Parses flags over the config file, binds the
 * port and (as root) becomes --user, opens the
 * SpatiaLite file read-write for the feeds writer (which migrates it), then
 * read-only to build the first snapshot, starts the writer and the server
 * and waits for SIGTERM/SIGINT, then drains the writer, stops accepting,
 * lets requests in flight finish and exits 0. systemd hears READY=1 once
 * it serves and STOPPING=1 when it stops. A store this user cannot write (a
 * read-only file, or a read-only folder where SQLite cannot make its -wal
 * and -shm) is served read-only: the feeds answer 503 with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <sqlite3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "closures.h"
#include "config.h"
#include "drills.h"
#include "feedwriter.h"
#include "follow.h"
#include "roads.h"
#include "server.h"
#include "service.h"
#include "situ/db.h"
#include "situ/snapshot.h"
#include "situ/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: situd --db FILE --listen HOST:PORT [--config FILE] [--places FILE]\n"
               "             [--threads N] [--user NAME] [--max-lag SECONDS] [--read-only]\n"
               "             [--quiet]\n"
               "       situd --help | --version\n"
               "Serves the four maps of a situ SpatiaLite file over HTTP (OGC API - Features,\n"
               "vector tiles, proximity, exports, feeds). Flags win over the config file.\n"
               "As root it needs --user: it binds the port, then serves as that user.\n"
               "--read-only: no feeds (POSTs answer 503); on PostgreSQL it follows the\n"
               "event log the other situd write.\n");
}

/* Flags are read twice: first for --config, then over the file's values. */
static int parse_flags(int argc, char **argv, situd_config *cfg, int pass)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"config", required_argument, 0, 'c'},
                                         {"threads", required_argument, 0, 't'},
                                         {"user", required_argument, 0, 'u'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {"places", required_argument, 0, 'p'},
                                         {"max-lag", required_argument, 0, 'm'},
                                         {"read-only", no_argument, 0, 'r'},
                                         /* internal: a drill's process (drills.c) */
                                         {"drill", required_argument, 0, 'D'},
                                         {"drill-speed", required_argument, 0, 'S'},
                                         {"drill-start", required_argument, 0, 'T'},
                                         {"port-fd", required_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (pass == 0) {
            if (c == 'c')
                snprintf(cfg->config_path, sizeof cfg->config_path, "%s", optarg);
            else if (c == 'h')
                return usage(stdout), 0;
            else if (c == 'V')
                return printf("situd %s\n", SITU_VERSION), 0;
            else if (c == '?')
                return usage(stderr), 2;
            continue;
        }
        switch (c) {
        case 'd':
            snprintf(cfg->db, sizeof cfg->db, "%s", optarg);
            break;
        case 'p':
            snprintf(cfg->places, sizeof cfg->places, "%s", optarg);
            break;
        case 'l':
            if (situd_config_set_listen(cfg, optarg))
                return fprintf(stderr, "situd: --listen wants HOST:PORT, got '%s'\n", optarg), 2;
            break;
        case 't':
            cfg->threads = atoi(optarg);
            break;
        case 'm':
            cfg->max_lag_s = atoi(optarg);
            break;
        case 'u':
            snprintf(cfg->user, sizeof cfg->user, "%s", optarg);
            break;
        case 'q':
            cfg->quiet = 1;
            break;
        case 'r':
            cfg->read_only = 1;
            break;
        case 'D':
            snprintf(cfg->drill_id, sizeof cfg->drill_id, "%s", optarg);
            break;
        case 'S':
            snprintf(cfg->drill_speed, sizeof cfg->drill_speed, "%s", optarg);
            break;
        case 'T':
            snprintf(cfg->drill_start, sizeof cfg->drill_start, "%s", optarg);
            break;
        case 'P':
            cfg->port_fd = atoi(optarg);
            break;
        }
    }
    if (optind != argc)
        return usage(stderr), 2;
    return -1;
}

/* ---- a store this user cannot write ------------------------------------ */

static int folder_read_only; /* SQLite cannot create -wal and -shm beside the store */

/* Why this user cannot write db, in why; 0 when it can. */
static int read_only_reason(const char *db, char *why, size_t nwhy)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", db);
    const char *dir = dirname(copy);
    if (access(db, W_OK) && errno != ENOENT) {
        snprintf(why, nwhy, "%.200s is read-only for this user (uid %d): %s", db, (int)getuid(),
                 strerror(errno));
        return 1;
    }
    if (access(dir, W_OK)) {
        folder_read_only = 1;
        snprintf(why, nwhy,
                 "the folder %.200s is read-only for this user (uid %d), and SQLite must write the "
                 "store's -wal and -shm there: %s",
                 dir, (int)getuid(), strerror(errno));
        return 1;
    }
    return 0;
}

/* The name the snapshot opens db by: itself, or in a read-only folder an
 * immutable URI (no -shm needed; nothing here writes it). A -wal that holds
 * commits cannot be read without its -shm: then NULL and why says so. */
static const char *snapshot_name(const char *db, char *uri, size_t nuri, char *why, size_t nwhy)
{
    char wal[4200];
    struct stat sb;
    if (!folder_read_only)
        return db;
    snprintf(wal, sizeof wal, "%s-wal", db);
    if (!stat(wal, &sb) && sb.st_size > 0) {
        snprintf(
            why, nwhy,
            "%.200s holds commits not yet in %.200s, and its folder is read-only for this user: "
            "make the folder writable (or checkpoint it as its owner)",
            wal, db);
        return NULL;
    }
    size_t n = (size_t)snprintf(uri, nuri, "file:");
    for (const char *p = db; *p && n + 4 < nuri; p++)
        n += (size_t)(strchr("%?#", *p) ? snprintf(uri + n, nuri - n, "%%%02X", *p)
                                        : snprintf(uri + n, nuri - n, "%c", *p));
    snprintf(uri + n, nuri - n, "?immutable=1");
    return uri;
}

static int load_snapshot(const situd_config *cfg)
{
    situ_store *s;
    situ_err err = {0};
    char uri[8300], why[600];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int url = situ_db_is_url(cfg->db);
    if (!url && access(cfg->db, R_OK) != 0) {
        fprintf(stderr, "situd: cannot read %s (load data first: situ load --db %s --all DIR)\n",
                cfg->db, cfg->db);
        return -1;
    }
    const char *name = url ? cfg->db : snapshot_name(cfg->db, uri, sizeof uri, why, sizeof why);
    if (!name) {
        fprintf(stderr, "situd: %s\n", why);
        return -1;
    }
    if (situ_store_open(name, SITU_STORE_READONLY, &s, &err)) {
        fprintf(stderr, "situd: %s\n", err.msg);
        return -1;
    }
    char where[600];
    snprintf(where, sizeof where, "%s", situ_db_where(situ_store_sql(s)));
    situ_snapshot *snap;
    char note[9000];
    /* one consistent read and its seq; from DB.snap when that is current */
    int rc = situd_follow_load(s, cfg->db, &snap, note, sizeof note, &err);
    situ_store_close(s);
    if (rc) {
        fprintf(stderr, "situd: %s\n", err.msg);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "situd: snapshot %s\n", note);
    fprintf(stderr, "situd: loaded %s in %.2f s:", where,
            (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        fprintf(stderr, " %s %zu", snap->colls[i]->c->id, snap->colls[i]->n);
    fprintf(stderr, "\n");
    char msg[512];
    if (situd_tiles_init(cfg, snap, msg, sizeof msg) || situd_nearest_init(snap, msg, sizeof msg)) {
        fprintf(stderr, "situd: %s\n", msg);
        situ_snapshot_release(snap);
        return -1;
    }
    situd_snapshot_publish(snap);
    return 0;
}

/* At a clean stop, DB.snap from what situd last published. */
static void save_snapshot(const char *db, situ_snapshot *snap, long long seq)
{
    char note[9000];
    situ_err err = {0};
    if (situ_snapshot_save(db, snap, seq, note, sizeof note, &err))
        snprintf(note, sizeof note, "not written: %s", err.msg);
    fprintf(stderr, "situd: snapshot file %s\n", note);
    situ_snapshot_release(snap);
}

/* Writes the bound port ("PORT\n") to fd and closes it. */
static void tell_port(int fd)
{
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", situd_server_port());
    if (write(fd, text, (size_t)n) != n)
        fprintf(stderr, "situd: --port-fd %d: %s\n", fd, strerror(errno));
    close(fd);
}

/* Makes zone the process's time zone, before any thread starts and while
 * the zone files can be read: a hidden danger's deadline is a local date,
 * judged on the day the wall shows (situ_store_day). */
int main(int argc, char **argv)
{
    static situd_config cfg;
    situd_config_defaults(&cfg);
    const char *env_db = getenv("SITU_DB");
    if (env_db && *env_db)
        snprintf(cfg.db, sizeof cfg.db, "%s", env_db);
    int rc = parse_flags(argc, argv, &cfg, 0);
    if (rc >= 0)
        return rc;
    char msg[512];
    if (cfg.config_path[0] && situd_config_read(&cfg, cfg.config_path, msg, sizeof msg))
        return fprintf(stderr, "situd: %s\n", msg), 2;
    if ((rc = parse_flags(argc, argv, &cfg, 1)) >= 0)
        return rc;
    if (cfg.max_lag_s < 1)
        return fprintf(stderr, "situd: --max-lag wants seconds >= 1\n"), 2;

    if (situ_store_days_in(cfg.web_timezone)) /* deadlines judged on its days */
        fprintf(stderr,
                "situd: [web] timezone %s: no such zone in $TZDIR or /usr/share/zoneinfo "
                "(package tzdata); deadlines are judged on the UTC day\n",
                cfg.web_timezone);
    if (situd_service_check_user(&cfg, msg, sizeof msg) ||
        situd_server_listen(&cfg, msg, sizeof msg) ||
        situd_service_drop_privileges(&cfg, msg, sizeof msg))
        return fprintf(stderr, "situd: %s\n", msg), 2;

    /* SIGTERM and SIGINT are blocked in every thread and taken by sigwait */
    sigset_t stop_set;
    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGTERM);
    sigaddset(&stop_set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sqlite3_config(SQLITE_CONFIG_URI, 1); /* the immutable name of a read-only folder's store */
    int feeds = 0;
    if (cfg.read_only) {
        fprintf(stderr, "situd: serving read-only (--read-only), feeds answer 503\n");
        situd_feedwriter_disable("situd runs --read-only: send feeds to another situd");
    } else if (!situ_db_is_url(cfg.db) && read_only_reason(cfg.db, msg, sizeof msg)) {
        fprintf(stderr, "situd: serving read-only, feeds answer 503: %s\n", msg);
        situd_feedwriter_disable(msg);
    } else if (!(feeds = situd_feedwriter_open(&cfg, msg, sizeof msg) == 0)) {
        /* PostgreSQL unreachable, or a schema or PostGIS this build cannot
         * use: the snapshot could not be read either; msg names the server
         * and the reason, never the password */
        if (situ_db_is_url(cfg.db))
            return fprintf(stderr, "situd: %s\n", msg), 1;
        fprintf(stderr, "situd: feeds disabled: %s\n", msg);
    }
    situd_roads_load_behind(); /* the port answers while the road graph is built */
    if (!situ_db_is_url(cfg.db)) {
        char graph[sizeof cfg.db + 8];
        snprintf(graph, sizeof graph, "%s.roads", cfg.db);
        situd_roads_graph_file(graph);
    }
    if (situd_closures_start(cfg.db, msg, sizeof msg)) /* laid on the first road network */
        fprintf(stderr, "situd: road closures not applied: %s\n", msg);
    if (load_snapshot(&cfg))
        return 1;
    if (situd_places_init(&cfg, msg, sizeof msg))
        return fprintf(stderr, "situd: %s\n", msg), 1;
    /* on PostgreSQL the snapshot follows the event log, writer or not */
    int follow = situ_db_is_url(cfg.db);
    if ((feeds || follow) && situd_publisher_start(&cfg, msg, sizeof msg)) {
        fprintf(stderr, "situd: feeds disabled, not following the store: %s\n", msg);
        feeds = 0;
    } else if (feeds && situd_feedwriter_start(&cfg, msg, sizeof msg)) {
        fprintf(stderr, "situd: feeds disabled: %s\n", msg);
    }
    if (situd_drill_child(&cfg) && situd_drillplay_start(&cfg, msg, sizeof msg))
        return fprintf(stderr, "situd: %s\n", msg), 1;
    if (situd_server_start(&cfg, msg, sizeof msg)) {
        fprintf(stderr, "situd: %s\n", msg);
        situd_snapshot_publish(NULL);
        return 1;
    }
    fprintf(stderr, "situd: serving http://%s:%d/%s%s\n", cfg.host, situd_server_port(),
            cfg.user[0] ? " as " : "", cfg.user);
    if (cfg.port_fd >= 0) /* a drill's process: the situd that started it waits for this */
        tell_port(cfg.port_fd);
    situd_service_notify("READY=1\nSTATUS=serving");
    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "situd: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    situd_service_notify("STOPPING=1");
    situd_drills_stop();     /* every drill's process ends with this situd */
    situd_drillplay_stop();  /* a drill's process: its player first */
    situd_feedwriter_stop(); /* ends /events, answers every queued batch */
    situd_server_stop();
    long long seq = 0; /* what the published snapshot holds, kept for DB.snap */
    situ_snapshot *last = feeds ? situd_snapshot_acquire_seq(&seq) : NULL;
    situd_snapshot_publish(NULL);
    situd_tiles_free();
    situd_nearest_free();
    situd_closures_free();
    situd_roads_free();
    situd_places_free();
    if (last) /* every connection to the store is closed by now */
        save_snapshot(cfg.db, last, seq);
    fprintf(stderr, "situd: stopped\n");
    return 0;
}

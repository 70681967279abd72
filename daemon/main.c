/*
 * main.c: situd's entry point. Parses flags over the config file, binds the
 * port and (as root) becomes --user, opens the
 * SpatiaLite file read-write for the feeds writer (which migrates it), then
 * read-only to build the first snapshot, starts the writer and the server
 * and waits for SIGTERM/SIGINT, then drains the writer, stops accepting,
 * lets requests in flight finish and exits 0. systemd hears READY=1 once
 * it serves and STOPPING=1 when it stops.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "feedwriter.h"
#include "server.h"
#include "service.h"
#include "situ/snapshot.h"
#include "situ/store.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: situd --db FILE --listen HOST:PORT [--config FILE] [--threads N] "
               "[--user NAME] [--quiet]\n"
               "       situd --help | --version\n"
               "Serves the four maps of a situ SpatiaLite file over HTTP (OGC API - Features,\n"
               "vector tiles, proximity, exports, feeds). Flags win over the config file.\n"
               "As root it needs --user: it binds the port, then serves as that user.\n");
}

/* Flags are read twice: first for --config, then over the file's values. */
static int parse_flags(int argc, char **argv, situd_config *cfg, int pass)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'},      {"listen", required_argument, 0, 'l'},
        {"config", required_argument, 0, 'c'},  {"threads", required_argument, 0, 't'},
        {"user", required_argument, 0, 'u'},    {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, 'V'},
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
        case 'd': snprintf(cfg->db, sizeof cfg->db, "%s", optarg); break;
        case 'l':
            if (situd_config_set_listen(cfg, optarg))
                return fprintf(stderr, "situd: --listen wants HOST:PORT, got '%s'\n", optarg), 2;
            break;
        case 't': cfg->threads = atoi(optarg); break;
        case 'u': snprintf(cfg->user, sizeof cfg->user, "%s", optarg); break;
        case 'q': cfg->quiet = 1; break;
        }
    }
    if (optind != argc)
        return usage(stderr), 2;
    return -1;
}

static int load_snapshot(const situd_config *cfg)
{
    situ_store *s;
    situ_err err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (access(cfg->db, R_OK) != 0) {
        fprintf(stderr, "situd: cannot read %s (load data first: situ load --db %s --all DIR)\n",
                cfg->db, cfg->db);
        return -1;
    }
    if (situ_store_open(cfg->db, SITU_STORE_READONLY, &s, &err)) {
        fprintf(stderr, "situd: %s\n", err.msg);
        return -1;
    }
    situ_snapshot *snap;
    int rc = situ_snapshot_load(s, &snap, &err);
    situ_store_close(s);
    if (rc) {
        fprintf(stderr, "situd: %s\n", err.msg);
        return -1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "situd: loaded %s in %.2f s:", cfg->db,
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
    int feeds = situd_feedwriter_open(&cfg, msg, sizeof msg) == 0;
    if (!feeds)
        fprintf(stderr, "situd: feeds disabled: %s\n", msg);
    if (load_snapshot(&cfg))
        return 1;
    if (feeds && situd_feedwriter_start(&cfg, msg, sizeof msg))
        fprintf(stderr, "situd: feeds disabled: %s\n", msg);
    if (situd_server_start(&cfg, msg, sizeof msg)) {
        fprintf(stderr, "situd: %s\n", msg);
        situd_snapshot_publish(NULL);
        return 1;
    }
    fprintf(stderr, "situd: serving http://%s:%d/%s%s\n", cfg.host, situd_server_port(),
            cfg.user[0] ? " as " : "", cfg.user);
    situd_service_notify("READY=1\nSTATUS=serving");
    int sig = 0;
    sigwait(&stop_set, &sig);
    fprintf(stderr, "situd: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    situd_service_notify("STOPPING=1");
    situd_feedwriter_stop(); /* ends /events, answers every queued batch */
    situd_server_stop();
    situd_snapshot_publish(NULL);
    situd_tiles_free();
    situd_nearest_free();
    fprintf(stderr, "situd: stopped\n");
    return 0;
}

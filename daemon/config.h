/*
 * config.h: private to daemon/. situd's settings: defaults, then the INI
 * file (--config), then the command-line flags, which win.
 */
#ifndef SITUD_CONFIG_H
#define SITUD_CONFIG_H

#include <stddef.h>

typedef struct situd_config {
    char db[1024];
    char places[1024]; /* [data] places: the base map's named places (situ/places.h), "" = none */
    char host[256];
    int port;
    char config_path[1024];
    int threads;                   /* 0: one per core */
    int max_connections;           /* served at once; past them a request is answered 503 */
    int connection_timeout;        /* seconds idle before a connection is closed */
    int header_timeout;            /* seconds a new connection has to send its request head */
    size_t max_body_bytes;         /* largest request body */
    size_t max_bodies_bytes;       /* all request bodies being read, together */
    int max_listeners;             /* /events streams at once */
    int max_listeners_per_address; /* /events streams from one client address */
    int max_exports;               /* /export downloads at once */
    size_t export_max_bytes;       /* [export] max_bytes: a spooled export's cap on disk */
    char export_spool[1024];       /* [export] spool_dir: where GDAL writes exports */
    size_t conn_memory;            /* per-connection buffer memory */
    size_t tile_cache_bytes;       /* bound of the tile cache */
    size_t tile_resident_bytes;    /* [tiles] resident_mb: past it DB.snap is handed back */
    char cors_origin[256];         /* Access-Control-Allow-Origin, "" for none */
    char web_dir[1024];            /* the map wall's files */
    char web_timezone[65];         /* [web] timezone: the wall's IANA zone, unless ?tz= */
    char user[64];                 /* drop to this user after binding */
    int quiet;                     /* no per-request log lines */
    int read_only; /* --read-only: no feeds writer; on PostgreSQL it still follows */
    int max_lag_s; /* [server] max_lag, --max-lag: seconds behind the store before "stale" */
    /* retention and stations (issue 13; config.c's retention_key) */
    int retain_days;           /* [retention] days: keep alerts expired and log rows this long */
    int retain_interval_s;     /* [retention] interval_s: seconds between runs, 0 = never */
    char retain_archive[1024]; /* [retention] archive: "" = DIR/archive/situ-archive-YEAR.sqlite */
    int station_quota;         /* [feeds] station_quota: stations a department's readings create */
    /* drills (issue 19; drills.c, drillplay.c) */
    char drills_dir[1024]; /* [drills] scenarios: the folder POST /drills's scenario_name reads */
    int max_drills;        /* [drills] max: drill processes at once */
    /* internal: set by the situd that starts a drill process (drills.c) */
    char drill_id[65];    /* --drill ID: this situd serves drill ID, played from its store */
    char drill_speed[8];  /* --drill-speed 1..60|max */
    char drill_start[40]; /* --drill-start RFC 3339: the scenario's start ("" now) */
    int port_fd;          /* --port-fd N: the bound port is written there once serving, -1 */
} situd_config;

/* Fills cfg with defaults. */
void situd_config_defaults(situd_config *cfg);
/* Reads an INI file into cfg; returns 0, or -1 with a message in msg. */
int situd_config_read(situd_config *cfg, const char *path, char *msg, size_t nmsg);
/* The same from INI text in memory (NUL-terminated); msg says "config:LINE". */
int situd_config_read_string(situd_config *cfg, const char *text, char *msg, size_t nmsg);
/* Sets "HOST:PORT"; returns 0 or -1. */
int situd_config_set_listen(situd_config *cfg, const char *listen);

#endif

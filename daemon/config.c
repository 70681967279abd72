/*
 * config.c: situd's settings from defaults, an INI file (read with inih) and
 * flags. Keys: [server] listen, threads, max_connections, connection_timeout,
 * header_timeout, max_body_bytes, max_bodies_bytes, connection_memory,
 * cors_origin, user, quiet, max_lag; [data] db; [tiles] cache_mb, resident_mb;
 * [web] dir; [events] max_listeners, max_listeners_per_address; [export]
 * max_exports, max_bytes, spool_dir; [retention] days, interval_s, archive;
 * [feeds] station_quota. Unknown keys are an error, so a typo is seen.
 * situd_config_read reads the file; situd_config_read_string the same text
 * from memory (tests/fuzz/fuzz_config.c).
 */
#include "config.h"

#include <ini.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "situ/feed.h"
#include "situ/retain.h"
#include "situ/store.h"

void situd_config_defaults(situd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->db, sizeof cfg->db, "%s", "var/situ.sqlite");
    snprintf(cfg->host, sizeof cfg->host, "%s", "127.0.0.1");
    cfg->port = 8080;
    cfg->max_connections = 4096;
    cfg->connection_timeout = 30;
    cfg->header_timeout = 10;
    cfg->max_body_bytes = 8u << 20;
    cfg->max_bodies_bytes = 64u << 20;
    cfg->max_listeners = 1000;
    cfg->max_lag_s = 30;
    cfg->max_listeners_per_address = 32;
    cfg->max_exports = 4;
    cfg->export_max_bytes = 512u << 20;
    snprintf(cfg->export_spool, sizeof cfg->export_spool, "%s", "/tmp");
    /* libmicrohttpd mallocs a pool up to 32 KiB but maps a bigger one, and
     * the munmap at every close stops all worker threads for a TLB flush:
     * past 32 KiB, each new connection costs more than its request */
    cfg->conn_memory = 32u << 10;
    cfg->tile_cache_bytes = 256u << 20;
    snprintf(cfg->cors_origin, sizeof cfg->cors_origin, "%s", "*");
    cfg->retain_days = SITU_RETAIN_DAYS;
    cfg->retain_interval_s = 3600;
    cfg->station_quota = SITU_FEED_STATION_QUOTA;
    snprintf(cfg->web_timezone, sizeof cfg->web_timezone, "%s", SITU_DEFAULT_TIMEZONE);
    cfg->max_drills = 4;
    cfg->port_fd = -1;
    snprintf(cfg->drill_speed, sizeof cfg->drill_speed, "max");
    snprintf(cfg->drills_dir, sizeof cfg->drills_dir, "%s",
             access(SITU_SOURCE_DIR "/geodata/drills", R_OK) == 0
                 ? SITU_SOURCE_DIR "/geodata/drills"
                 : SITU_INSTALL_DATADIR "/situ/drills");
#ifdef SITU_WEB_DIR /* the build's web/ folder, set by CMake's map wall block */
    snprintf(cfg->web_dir, sizeof cfg->web_dir, "%s", SITU_WEB_DIR);
#else
    snprintf(cfg->web_dir, sizeof cfg->web_dir, "%s", SITU_SOURCE_DIR "/daemon/web");
#endif
}

int situd_config_set_listen(situd_config *cfg, const char *listen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof cfg->host)
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1)
        return -1;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[' && n >= 2 && h[n - 1] == ']')
        h++, n -= 2;
    memcpy(cfg->host, h, n);
    cfg->host[n] = '\0';
    cfg->port = (int)port;
    return 0;
}

static int set_size(size_t *out, const char *v, size_t unit)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (*end || end == v || x < 0 || (unsigned long long)x > SIZE_MAX / unit)
        return 0;
    *out = (size_t)x * unit;
    return 1;
}

static int set_int(int *out, const char *v, int lo, int hi)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v || x < lo || x > hi)
        return 0;
    *out = (int)x;
    return 1;
}

static int set_str(char *out, size_t n, const char *v)
{
    return (size_t)snprintf(out, n, "%s", v) < n;
}

/* A plausible IANA zone name ("Asia/Kolkata", "Etc/GMT+8"): letters,
 * digits, '/', '_', '-' and '+', 1 to 64 bytes. */
static int set_zone(char *out, size_t n, const char *v)
{
    size_t len = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           "0123456789/_-+");
    return len && !v[len] && len <= 64 && set_str(out, n, v);
}

/* ---- retention and stations (issue 13) ---- */

/* The [retention] and [feeds] keys: 1 set, 0 a bad value, -1 not one of them. */
static int retention_key(situd_config *c, const char *section, const char *name, const char *value)
{
    if (!strcmp(section, "retention") && !strcmp(name, "days"))
        return set_int(&c->retain_days, value, 1, 36500);
    if (!strcmp(section, "retention") && !strcmp(name, "interval_s"))
        return set_int(&c->retain_interval_s, value, 0, 86400 * 30);
    if (!strcmp(section, "retention") && !strcmp(name, "archive"))
        return set_str(c->retain_archive, sizeof c->retain_archive, value);
    if (!strcmp(section, "feeds") && !strcmp(name, "station_quota"))
        return set_int(&c->station_quota, value, 1, 10000000);
    return -1;
}

static int set_key(situd_config *c, const char *section, const char *name, const char *value)
{
    int r = retention_key(c, section, name, value);
    if (r >= 0)
        return r;
#define KEY(s, k) (!strcmp(section, s) && !strcmp(name, k))
    if (KEY("server", "listen"))
        return situd_config_set_listen(c, value) == 0;
    if (KEY("server", "max_lag"))
        return set_int(&c->max_lag_s, value, 1, 86400);
    if (KEY("server", "threads"))
        return set_int(&c->threads, value, 0, 256);
    if (KEY("server", "max_connections"))
        return set_int(&c->max_connections, value, 1, 1000000);
    if (KEY("server", "connection_timeout"))
        return set_int(&c->connection_timeout, value, 1, 86400);
    if (KEY("server", "header_timeout"))
        return set_int(&c->header_timeout, value, 1, 86400);
    if (KEY("server", "max_body_bytes"))
        return set_size(&c->max_body_bytes, value, 1);
    if (KEY("server", "max_bodies_bytes"))
        return set_size(&c->max_bodies_bytes, value, 1);
    if (KEY("events", "max_listeners"))
        return set_int(&c->max_listeners, value, 1, 1000000);
    if (KEY("events", "max_listeners_per_address"))
        return set_int(&c->max_listeners_per_address, value, 1, 1000000);
    if (KEY("export", "max_exports"))
        return set_int(&c->max_exports, value, 1, 100000);
    if (KEY("export", "max_bytes"))
        return set_size(&c->export_max_bytes, value, 1);
    if (KEY("export", "spool_dir"))
        return set_str(c->export_spool, sizeof c->export_spool, value);
    if (KEY("server", "connection_memory"))
        return set_size(&c->conn_memory, value, 1);
    if (KEY("server", "cors_origin"))
        return set_str(c->cors_origin, sizeof c->cors_origin, value);
    if (KEY("server", "user"))
        return set_str(c->user, sizeof c->user, value);
    if (KEY("server", "quiet"))
        return set_int(&c->quiet, value, 0, 1);
    if (KEY("data", "db"))
        return set_str(c->db, sizeof c->db, value);
    if (KEY("data", "places"))
        return set_str(c->places, sizeof c->places, value);
    if (KEY("tiles", "cache_mb"))
        return set_size(&c->tile_cache_bytes, value, 1u << 20);
    if (KEY("tiles", "resident_mb"))
        return set_size(&c->tile_resident_bytes, value, 1u << 20);
    if (KEY("web", "dir"))
        return set_str(c->web_dir, sizeof c->web_dir, value);
    if (KEY("drills", "scenarios"))
        return set_str(c->drills_dir, sizeof c->drills_dir, value);
    if (KEY("drills", "max"))
        return set_int(&c->max_drills, value, 0, 64);
    if (KEY("web", "timezone"))
        return set_zone(c->web_timezone, sizeof c->web_timezone, value);
#undef KEY
    return 0;
}

/* What inih fills: the config, and the first key refused, "[section] name". */
typedef struct ini_ctx {
    situd_config *cfg;
    char bad[160];
} ini_ctx;

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *x = user;
    int ok = set_key(x->cfg, section, name, value);
    if (!ok && !x->bad[0])
        snprintf(x->bad, sizeof x->bad, "[%.64s] %.64s", section, name);
    return ok;
}

/* inih's answer (0, the first bad line, -1 unreadable, -2 out of memory) as
 * 0 or -1 with a message naming `where` and the key refused. */
static int read_result(int line, const ini_ctx *x, const char *where, char *msg, size_t nmsg)
{
    if (line == -1)
        snprintf(msg, nmsg, "cannot open config file %s", where);
    else if (line < 0)
        snprintf(msg, nmsg, "%s: out of memory", where);
    else if (line && x->bad[0])
        snprintf(msg, nmsg, "%s:%d: %s: unknown key or bad value", where, line, x->bad);
    else if (line)
        snprintf(msg, nmsg, "%s:%d: not a [section] or a key = value line", where, line);
    return line ? -1 : 0;
}

int situd_config_read(situd_config *cfg, const char *path, char *msg, size_t nmsg)
{
    ini_ctx x = {.cfg = cfg};
    return read_result(ini_parse(path, on_key, &x), &x, path, msg, nmsg);
}

int situd_config_read_string(situd_config *cfg, const char *text, char *msg, size_t nmsg)
{
    ini_ctx x = {.cfg = cfg};
    return read_result(ini_parse_string(text, on_key, &x), &x, "config", msg, nmsg);
}

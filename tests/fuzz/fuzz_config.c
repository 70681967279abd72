/*
 * fuzz_config.c: libFuzzer target for daemon/config.c, situd's INI file
 * (inih's reading, then every key's parsing and range check), through
 * situd_config_read_string so no file is written per input. A config that
 * reads must hold only values situd can use; one that does not must say
 * which line. Seeds: corpus/config/.
 *   scripts/fuzz.sh 60, or build-fuzz/fuzz_config corpus/config
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* 1 when the NUL of s lies inside its n bytes. */
static int terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* 1 when every value of cfg is one situd can start with. */
static int usable(const situd_config *c)
{
    return terminated(c->db, sizeof c->db) && terminated(c->host, sizeof c->host) &&
           terminated(c->cors_origin, sizeof c->cors_origin) &&
           terminated(c->web_dir, sizeof c->web_dir) && terminated(c->user, sizeof c->user) &&
           c->port >= 0 && c->port <= 65535 && c->threads >= 0 && c->threads <= 256 &&
           c->max_connections >= 1 && c->connection_timeout >= 1 && c->header_timeout >= 1 &&
           (c->quiet == 0 || c->quiet == 1) && c->tile_cache_bytes % (1u << 20) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    situd_config cfg;
    situd_config_defaults(&cfg);
    char msg[512] = "";
    int rc = situd_config_read_string(&cfg, text, msg, sizeof msg);
    free(text);
    if (rc == 0 && !usable(&cfg))
        abort(); /* read a value situd cannot use */
    if (rc != 0 && strncmp(msg, "config", 6) != 0)
        abort(); /* refused without saying where */
    return 0;
}

/*
 * demo_db.c: the demo in a temporary SpatiaLite file (see demo_db.h).
 */
#define _GNU_SOURCE /* nftw */
#include "demo_db.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "situ/demo.h"
#include "situ/load.h"
#include "situ/store.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void demo_db_remove(const char *dir)
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

int demo_db_make(char *dir, size_t ndir, char *db, size_t ndb, char *msg, size_t nmsg)
{
    const char *t = getenv("TMPDIR");
    char src[PATH_MAX];
    snprintf(dir, ndir, "%s/situ-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(dir))
        return snprintf(msg, nmsg, "mkdtemp %s: %s", dir, strerror(errno)), -1;
    snprintf(db, ndb, "%s/situ.sqlite", dir);
    if (demo_dir(dir, src, sizeof src, msg, nmsg) || load_demo(db, src, msg, nmsg)) {
        demo_db_remove(dir);
        return -1;
    }
    return 0;
}

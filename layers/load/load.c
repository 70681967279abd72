/*
 * load.c: `situ load`, the loader's entry points. Owns GDAL's one-time
 * registration, routing GDAL's errors into situ_err for the length of a load,
 * the one transaction around a load, and, for situ_load_dir, which files of a
 * folder are loaded and what DIR/manifest.ini says about them. Reading one
 * source is load_source.c's job (see load_int.h for the whole loader).
 *
 * A load:  loader_open (begin) -> source, source, ... -> loader_close
 *          (commit when all succeeded, else rollback: the file is unchanged)
 */
#include <dirent.h>
#include <ini.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cpl_error.h>
#include <sqlite3.h>

#include "load_int.h"

/* ---- GDAL and the transaction ------------------------------------------- */

static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;

static void gdal_register(void)
{
    CPLPushErrorHandler(CPLQuietErrorHandler);
    GDALAllRegister();
    CPLPopErrorHandler();
}

/* Keeps GDAL's failures for the message of whatever call failed; drops its
 * warnings. The handler is on this thread's stack only while a load runs. */
static void CPL_STDCALL gdal_error(CPLErr cls, CPLErrorNum no, const char *msg)
{
    situ__loader *L = CPLGetErrorHandlerUserData();
    (void)no;
    if (cls < CE_Failure || !L)
        return;
    L->gdal_failed = 1;
    snprintf(L->gdal_msg, sizeof L->gdal_msg, "%s", msg);
}

/* ---- the next GeoJSON file, opened ahead -------------------------------- */

/* GDAL's GeoJSON driver reads a whole file when it opens it (every feature's
 * fields, their count), then again feature by feature. In --all, while one
 * collection's file is read, a thread of its own opens the next one when it
 * is GeoJSON, with the options load_source.c opens it with; that source
 * takes the dataset instead of opening the file. The thread's GDAL errors
 * are dropped: a failed open is left to the source's own, which reports. */
struct situ__ahead {
    pthread_t thread;
    char path[4096];
    GDALDatasetH ds;
};

static void *ahead_main(void *arg)
{
    situ__ahead *A = arg;
    const char *drivers[] = {"GeoJSON", NULL}, *oo[] = {SITU_LOAD_GEOJSON_OO, NULL};
    CPLPushErrorHandler(CPLQuietErrorHandler); /* this thread's handler only */
    GDALDriverH drv = GDALIdentifyDriverEx(A->path, GDAL_OF_VECTOR, drivers, NULL);
    if (drv)
        A->ds = GDALOpenEx(A->path, SITU__OPEN_FLAGS, drivers, oo, NULL);
    CPLPopErrorHandler();
    return NULL;
}

void situ__ahead_start(situ__loader *L, const char *path)
{
    situ__ahead_drop(L);
    if (!path || !strncmp(path, "/vsi", 4) || strlen(path) >= sizeof L->ahead->path)
        return;
    situ__ahead *A = calloc(1, sizeof *A);
    if (!A)
        return; /* the source opens it itself */
    snprintf(A->path, sizeof A->path, "%s", path);
    if (pthread_create(&A->thread, NULL, ahead_main, A)) {
        free(A);
        return;
    }
    L->ahead = A;
}

GDALDatasetH situ__ahead_take(situ__loader *L, const char *path)
{
    situ__ahead *A = L->ahead;
    if (!A)
        return NULL;
    pthread_join(A->thread, NULL);
    GDALDatasetH ds = A->ds;
    if (ds && strcmp(A->path, path)) {
        GDALClose(ds);
        ds = NULL;
    }
    free(A);
    L->ahead = NULL;
    return ds;
}

void situ__ahead_drop(situ__loader *L)
{
    situ__ahead_take(L, ""); /* no file is named "": what was opened is closed */
}

static long long pragma_value(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return v;
}

/* Bulk-load settings on the store's connection for the length of a load:
 * each upsert's statement journal in memory (spilled to a temp file it cost
 * a dozen page writes per row: 22 s -> 17 s for 200k points) and a 64 MiB
 * page cache (-> 15.5 s). restore_settings puts the connection's own back.
 * SQLite only: PostgreSQL has no statement journal to spill, and its cache
 * (shared_buffers) is the server's, not the connection's. */
static void bulk_settings(situ__loader *L)
{
    sqlite3 *db = situ_db_sqlite(situ_store_sql(L->s));
    if (!db)
        return;
    L->saved_cache_size = pragma_value(db, "PRAGMA cache_size");
    L->saved_temp_store = (int)pragma_value(db, "PRAGMA temp_store");
    sqlite3_exec(db, "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536", NULL, NULL, NULL);
}

static void restore_settings(situ__loader *L)
{
    sqlite3 *db = situ_db_sqlite(situ_store_sql(L->s));
    char sql[96];
    if (!db)
        return;
    snprintf(sql, sizeof sql, "PRAGMA temp_store = %d; PRAGMA cache_size = %lld",
             L->saved_temp_store, L->saved_cache_size);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Starts a load: a GEOS context, the transaction, GDAL's errors into L. */
static int loader_open(situ__loader *L, situ_store *s, const situ_load_opts *o, situ_err *err)
{
    memset(L, 0, sizeof *L);
    L->s = s;
    L->o = o;
    L->progress = o->progress;
    L->progress_ctx = o->progress_ctx;
    pthread_once(&gdal_once, gdal_register);
    int rc = situ__geos_new(&L->geos, err);
    if (rc)
        return rc;
    bulk_settings(L);
    if ((rc = situ_store_begin(s, err))) {
        restore_settings(L);
        situ__geos_free(L->geos);
        return rc;
    }
    CPLPushErrorHandlerEx(gdal_error, L);
    CPLSetCurrentErrorHandlerCatchDebug(0);
    return 0;
}

/* Ends a load: waits for its writer thread, commits when rc is 0, else
 * rolls back. Returns the outcome. */
static int loader_close(situ__loader *L, int rc, situ_err *err)
{
    situ__ahead_drop(L);
    CPLPopErrorHandler();
    if (L->pipe) {
        int wrc = situ__pipe_finish(L->pipe, L->inserted, L->written, rc ? NULL : err);
        rc = rc ? rc : wrc;
        L->pipe = NULL;
    }
    situ__townships_free(L->townships);
    situ__geos_free(L->geos);
    if (!rc)
        rc = situ_store_commit(L->s, err);
    if (rc)
        situ_store_rollback(L->s);
    restore_settings(L);
    return rc;
}

static int unknown_collection(const char *id, situ_err *err)
{
    char ids[256];
    int n = 0;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        n += snprintf(ids + n, sizeof ids - (size_t)n, "%s%s", i ? ", " : "",
                      situ_schema_collection((situ_coll_id)i)->id);
    return situ_err_set(err, SITU_ENOTFOUND, "unknown collection %s (one of: %s)", id, ids);
}

/* Adds what the writer thread wrote of st's collection to st. */
static void add_written(const situ__loader *L, situ_load_stats *st)
{
    const situ_collection *c = situ_schema_find(st->collection);
    if (!c)
        return;
    st->inserted += L->inserted[c->cid];
    st->updated += L->written[c->cid] - L->inserted[c->cid];
}

int situ_load_file(situ_store *s, const char *path, const situ_load_opts *o,
                   situ_load_stats *out_stats, situ_err *err)
{
    situ__loader L;
    situ_load_stats st;
    if (!s || !path || !o || !o->collection)
        return situ_err_set(err, SITU_EINVAL, "a load needs a store, a file and a collection");
    const situ_collection *c = situ_schema_find(o->collection);
    if (!c)
        return unknown_collection(o->collection, err);
    situ__source_opts so = {.c = c,
                            .layer = o->layer,
                            .s_srs = o->s_srs,
                            .encoding = o->encoding,
                            .map = o->map,
                            .nmap = o->nmap,
                            .map_what = "--map",
                            .where = "",
                            .encoding_what = o->encoding ? "--encoding" : NULL,
                            .id_field = o->id_field,
                            .generate_ids = o->generate_ids};
    int rc = loader_open(&L, s, o, err);
    if (rc)
        return rc;
    rc = situ__load_source(&L, path, &so, &st, err);
    rc = loader_close(&L, rc, err);
    if (!rc)
        add_written(&L, &st);
    if (!rc && out_stats)
        *out_stats = st;
    return rc;
}

/* ---- manifest.ini ------------------------------------------------------- */

#define MAP_MAX 64

typedef struct section {
    char *file, *encoding, *s_srs, *layer, *map;
    const char *pairs[MAP_MAX]; /* map split at commas, pointing into map */
    int npairs;
} section;

typedef struct dirload {
    section sec[SITU_NCOLLECTIONS];
    char path[SITU_NCOLLECTIONS][4096]; /* the file per collection, or "" */
    char where[SITU_NCOLLECTIONS][160]; /* the manifest hints for messages */
    char map_what[SITU_NCOLLECTIONS][160];
    char encoding_what[SITU_NCOLLECTIONS][160];
    situ_load_stats st[SITU_NCOLLECTIONS];
    char error[200]; /* the first manifest error */
} dirload;

/* inih's handler: one key of one section. A section that names no
 * collection (a typo such as [hazard]) and an unknown key are errors: what
 * they meant to say would silently not apply. */
static int on_ini(void *user, const char *sect, const char *name, const char *value)
{
    dirload *D = user;
    const situ_collection *c = situ_schema_find(sect);
    if (!c) {
        if (!D->error[0])
            snprintf(D->error, sizeof D->error, "section [%s] names no collection", sect);
        return 0;
    }
    section *s = &D->sec[c->cid];
    char **slot = !strcmp(name, "file")       ? &s->file
                  : !strcmp(name, "encoding") ? &s->encoding
                  : !strcmp(name, "s_srs")    ? &s->s_srs
                  : !strcmp(name, "layer")    ? &s->layer
                  : !strcmp(name, "map")      ? &s->map
                                              : NULL;
    if (!slot) {
        if (!D->error[0])
            snprintf(D->error, sizeof D->error,
                     "unknown key %s in [%s] (file, encoding, s_srs, layer, map)", name, sect);
        return 0;
    }
    /* a repeated or continued map line adds pairs; other keys: the last wins */
    const char *prev = slot == &s->map && s->map ? s->map : "";
    size_t n = strlen(prev) + strlen(value) + 2;
    char *v = malloc(n);
    if (v)
        snprintf(v, n, "%s%s%s", prev, *prev ? "," : "", value);
    free(*slot);
    *slot = v;
    return v != NULL;
}

/* Splits a section's map at commas, in place. */
static int split_map(section *s, situ_err *err)
{
    for (char *p = s->map, *tok; p && (tok = strsep(&p, ","));) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = '\0';
        if (!*tok)
            continue;
        if (s->npairs == MAP_MAX)
            return situ_err_set(err, SITU_ELIMIT, "manifest.ini: more than %d map pairs", MAP_MAX);
        s->pairs[s->npairs++] = tok;
    }
    return 0;
}

/* Reads dir/manifest.ini when there is one. */
static int read_manifest(dirload *D, const char *dir, situ_err *err)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/manifest.ini", dir);
    if (stat(path, &sb))
        return 0;
    int line = ini_parse(path, on_ini, D);
    if (line == -1)
        return situ_err_set(err, SITU_EIO, "cannot read %s", path);
    if (line == -2)
        return situ_err_set(err, SITU_ENOMEM, "out of memory reading %s", path);
    if (line > 0)
        return situ_err_set(err, SITU_EFORMAT, "%s:%d: %s", path, line,
                            D->error[0] ? D->error : "not an INI line");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        int rc = split_map(&D->sec[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

static void dirload_free(dirload *D)
{
    for (int i = 0; D && i < SITU_NCOLLECTIONS; i++) {
        section *s = &D->sec[i];
        free(s->file), free(s->encoding), free(s->s_srs), free(s->layer), free(s->map);
    }
    free(D);
}

/* ---- the folder --------------------------------------------------------- */

/* The collection a folder entry is for: its base name is a collection id and
 * its extension a vector format (sidecars such as .prj or .dbf are not);
 * roads.osm.pbf and roads.osm are OpenStreetMap files. */
static int entry_collection(const char *name)
{
    static const char *const exts[] = {"geojson", "json", "gpkg", "shp", "csv",
                                       "kml",     "kmz",  "gml",  "fgb", "sqlite",
                                       "tab",     "mif",  "gpx",  "pbf", "osm"};
    const char *dot = strrchr(name, '.');
    size_t i, n = dot ? (size_t)(dot - name) : 0;
    if (dot && !strcasecmp(dot, ".pbf") && n >= 4 && !strncasecmp(dot - 4, ".osm", 4))
        n -= 4;
    if (n == 0)
        return -1;
    for (i = 0; i < sizeof exts / sizeof exts[0] && strcasecmp(dot + 1, exts[i]); i++)
        ;
    if (i == sizeof exts / sizeof exts[0])
        return -1;
    for (int c = 0; c < SITU_NCOLLECTIONS; c++) {
        const char *id = situ_schema_collection((situ_coll_id)c)->id;
        if (strlen(id) == n && !strncmp(name, id, n))
            return c;
    }
    return -1;
}

/* Decides the file of each collection: the manifest's file= or the one entry
 * named by its id. Two candidates and no file= is an error. */
static int plan_files(dirload *D, const char *dir, int *out_n, situ_err *err)
{
    char first[SITU_NCOLLECTIONS][256] = {{0}}, second[SITU_NCOLLECTIONS][256] = {{0}};
    struct dirent *e;
    struct stat sb;
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return situ_err_set(err, SITU_ENOTFOUND, "cannot open folder %s", dir);
    while ((e = readdir(d))) {
        int c = entry_collection(e->d_name);
        if (c >= 0)
            snprintf(first[c][0] ? second[c] : first[c], 256, "%s", e->d_name);
    }
    closedir(d);
    for (int c = 0; c < SITU_NCOLLECTIONS; c++) {
        const section *s = &D->sec[c];
        const char *id = situ_schema_collection((situ_coll_id)c)->id;
        if (s->file)
            snprintf(D->path[c], sizeof D->path[c], "%s%s%s", s->file[0] == '/' ? "" : dir,
                     s->file[0] == '/' ? "" : "/", s->file);
        else if (second[c][0])
            return situ_err_set(err, SITU_ECONFLICT,
                                "%s has several files for %s (%s, %s); name one with file = "
                                "in [%s] of manifest.ini",
                                dir, id, first[c], second[c], id);
        else if (first[c][0])
            snprintf(D->path[c], sizeof D->path[c], "%s/%s", dir, first[c]);
        if (s->file && strncmp(D->path[c], "/vsi", 4) && stat(D->path[c], &sb))
            return situ_err_set(err, SITU_ENOTFOUND, "manifest.ini [%s] file = %s: no such file",
                                id, s->file);
        n += D->path[c][0] != '\0';
    }
    *out_n = n;
    return 0;
}

/* What collection c's file is loaded with: the manifest's section, the
 * CLI's --s_srs and --encoding as defaults; both only where the file cannot
 * say for itself (no CRS, no .cpg). */
static situ__source_opts source_opts(dirload *D, const char *dir, int c, const situ_load_opts *o)
{
    const section *s = &D->sec[c];
    const situ_collection *coll = situ_schema_collection((situ_coll_id)c);
    snprintf(D->where[c], sizeof D->where[c], " (or s_srs = in [%s] of %s/manifest.ini)", coll->id,
             dir);
    snprintf(D->map_what[c], sizeof D->map_what[c], "map in [%s] of %s/manifest.ini", coll->id,
             dir);
    snprintf(D->encoding_what[c], sizeof D->encoding_what[c], "encoding in [%s] of %s/manifest.ini",
             coll->id, dir);
    return (situ__source_opts){.c = coll,
                               .layer = s->layer,
                               .s_srs = s->s_srs ? s->s_srs : o->s_srs,
                               .s_srs_fallback = 1,
                               .encoding = s->encoding ? s->encoding : o->encoding,
                               .encoding_fallback = 1,
                               .map = s->pairs,
                               .nmap = s->npairs,
                               .map_what = D->map_what[c],
                               .where = D->where[c],
                               .encoding_what = s->encoding ? D->encoding_what[c] : NULL};
}

int situ_load_dir(situ_store *s, const char *dir, const situ_load_opts *o,
                  situ_load_stats out_stats[SITU_NCOLLECTIONS], int *out_nfiles, situ_err *err)
{
    static const situ_load_opts none = {0};
    situ__loader L;
    dirload *D = NULL;
    int rc, nfiles = 0;
    o = o ? o : &none;
    if (!s || !dir)
        return situ_err_set(err, SITU_EINVAL, "a load needs a store and a folder");
    if (o->layer || o->nmap || o->id_field || o->generate_ids)
        return situ_err_set(err, SITU_EINVAL,
                            "--layer, --map, --id-field and --generate-ids name one file's "
                            "layer and fields; with --all put them in DIR/manifest.ini");
    if (!(D = calloc(1, sizeof *D)))
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    if ((rc = read_manifest(D, dir, err)) || (rc = plan_files(D, dir, &nfiles, err)))
        goto done;
    if (nfiles == 0) {
        rc = situ_err_set(err, SITU_ENOTFOUND,
                          "%s has no file named by a collection id (e.g. townships.geojson, "
                          "hazards.shp, resources.csv)",
                          dir);
        goto done;
    }
    if ((rc = loader_open(&L, s, o, err)))
        goto done;
    for (int c = 0; c < SITU_NCOLLECTIONS && !rc; c++) {
        situ__source_opts so = source_opts(D, dir, c, o);
        int next = c + 1;
        while (next < SITU_NCOLLECTIONS && !D->path[next][0])
            next++;
        L.next_path = next < SITU_NCOLLECTIONS ? D->path[next] : NULL;
        if (D->path[c][0])
            rc = situ__load_source(&L, D->path[c], &so, &D->st[c], err);
    }
    if ((rc = loader_close(&L, rc, err)))
        goto done;
    for (int c = 0; c < SITU_NCOLLECTIONS; c++)
        if (D->path[c][0])
            add_written(&L, &D->st[c]);
    if (out_stats)
        memcpy(out_stats, D->st, sizeof D->st);
    if (out_nfiles)
        *out_nfiles = nfiles;
done:
    dirload_free(D);
    return rc;
}

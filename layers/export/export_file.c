/*
 * export_file.c: situ_export_to_file, an export written to disk without ever
 * destroying what it writes over. Owns the checks on the target (a regular
 * file or nothing; never the store, its -wal, -shm or -journal, compared by
 * device and inode; an existing file only when forced) and the write:
 *
 *   check target -> mkdtemp beside it -> GeoJSON stream -> GDAL into the
 *   folder -> check every file GDAL made -> fsync, rename each into place,
 *   fsync the folder -> remove the temporary folder
 *
 * A failure anywhere before the renames leaves the target as it was. GDAL's
 * conversion itself is export_gdal.c's.
 */
#include "situ/export.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/crs.h"
#include "situ/fs.h"

#include "export_gdal.h"

#define SOURCE_NAME ".situ-source.geojson"

static const situ_export_format formats[] = {
    {"geojson", "GeoJSON", "application/geo+json", 0, SITU_EXPORT_ANY_CRS},
    {"gpkg", "GPKG", "application/geopackage+sqlite3", 0, SITU_EXPORT_ANY_CRS},
    {"shp.zip", "ESRI Shapefile", "application/zip", 0, SITU_EXPORT_ANY_CRS},
    {"csv", "CSV", "text/csv; charset=utf-8", 1, SITU_EXPORT_ANY_CRS},
    {"xlsx", "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 1,
     SITU_EXPORT_NO_COORDS},
    {"kml", "KML", "application/vnd.google-earth.kml+xml", 0, SITU_EXPORT_CRS84_ONLY},
};

const situ_export_format *situ_export_format_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(name, formats[i].ext) || !strcmp(name, formats[i].gdal))
            return &formats[i];
    return NULL;
}

int situ_export_format_check_crs(const situ_export_format *f, int crs, const char *param,
                                 situ_err *err)
{
    if (!f || crs == SITU_CRS_CRS84 || f->crs == SITU_EXPORT_ANY_CRS)
        return 0;
    if (f->crs == SITU_EXPORT_CRS84_ONLY)
        return situ_err_set(err, SITU_EINVAL, "%s: KML is always WGS84 lon/lat (CRS84)", param);
    return situ_err_set(err, SITU_EINVAL,
                        "%s: an XLSX sheet holds no coordinates (csv, gpkg or shp.zip do)", param);
}

/* 1 when st is the store at protect or one of its -wal, -shm, -journal. */
static int is_store_file(const struct stat *st, const char *protect)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char p[PATH_MAX + 16];
    struct stat ps;
    for (size_t i = 0; protect && i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", protect, suffix[i]);
        if (!stat(p, &ps) && ps.st_dev == st->st_dev && ps.st_ino == st->st_ino)
            return 1;
    }
    return 0;
}

/* May path be written? Nothing there, or (forced) a regular file that is not
 * the store. */
static int check_target(const char *path, const situ_export_file_opts *o, situ_err *err)
{
    struct stat st;
    if (stat(path, &st)) {
        if (errno == ENOENT)
            return 0;
        return situ_err_set(err, SITU_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    if (is_store_file(&st, o->protect))
        return situ_err_set(err, SITU_EINVAL,
                            "%s is the store itself (or its journal); export "
                            "to another file",
                            path);
    if (!S_ISREG(st.st_mode))
        return situ_err_set(err, SITU_EINVAL,
                            "%s is not a regular file; export writes regular "
                            "files only",
                            path);
    if (!o->force)
        return situ_err_set(err, SITU_ECONFLICT, "%s exists; give --force to replace it", path);
    return 0;
}

/* Removes dir and what GDAL left in it (files, or a folder of files). */
static void remove_tree(const char *dir)
{
    char p[PATH_MAX];
    struct dirent *d;
    DIR *dp = opendir(dir);
    while (dp && (d = readdir(dp))) {
        if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, d->d_name);
        if (d->d_type == DT_DIR)
            remove_tree(p);
        else
            unlink(p);
    }
    if (dp)
        closedir(dp);
    rmdir(dir);
}

static int too_big(const char *path, size_t max_bytes, situ_err *err)
{
    return situ_err_set(err, SITU_ELIMIT, "%s would take more than the %zu bytes an export may",
                        path, max_bytes);
}

/* Bytes of the files GDAL made in tmp (the source left out). */
static size_t made_bytes(const char *tmp)
{
    char p[PATH_MAX + 512];
    struct dirent *d;
    struct stat st;
    size_t n = 0;
    DIR *dp = opendir(tmp);
    while (dp && (d = readdir(dp)))
        if (strcmp(d->d_name, SOURCE_NAME) &&
            snprintf(p, sizeof p, "%s/%s", tmp, d->d_name) < (int)sizeof p && !stat(p, &st) &&
            S_ISREG(st.st_mode))
            n += (size_t)st.st_size;
    if (dp)
        closedir(dp);
    return n;
}

/* Writes the GeoJSON stream of e to src, at most max_bytes (0: no cap). */
static int write_stream(situ_export *e, const char *src, const char *path, size_t max_bytes,
                        situ_err *err)
{
    size_t total = 0;
    FILE *f = fopen(src, "wb");
    if (!f)
        return situ_err_set(err, SITU_EIO, "cannot write beside %s: %s", path, strerror(errno));
    situ_buf b;
    situ_buf_init(&b);
    int more = 1, rc = 0;
    while (more && !rc) {
        b.n = 0;
        more = situ_export_next(e, &b);
        if (b.oom)
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory exporting to %s", path);
        else if (max_bytes && (total += b.n) > max_bytes)
            rc = too_big(path, max_bytes, err);
        else if (fwrite(b.p, 1, b.n, f) != b.n)
            rc = situ_err_set(err, SITU_EIO, "cannot write beside %s: %s", path, strerror(errno));
    }
    situ_buf_dispose(&b);
    if ((fflush(f) || fsync(fileno(f))) && !rc)
        rc = situ_err_set(err, SITU_EIO, "cannot write beside %s: %s", path, strerror(errno));
    if (fclose(f) && !rc)
        rc = situ_err_set(err, SITU_EIO, "cannot write beside %s: %s", path, strerror(errno));
    return rc;
}

/* Checks every file GDAL made in tmp against its name in dir, then syncs and
 * renames each into place, then syncs dir. */
static int move_into_place(const char *tmp, const char *dir, const situ_export_file_opts *o,
                           situ_err *err)
{
    char from[PATH_MAX + 512], to[PATH_MAX + 512];
    struct dirent *d;
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) { /* pass 0 checks all, pass 1 renames */
        DIR *dp = opendir(tmp);
        if (!dp)
            return situ_err_set(err, SITU_EIO, "cannot read %s: %s", tmp, strerror(errno));
        while (!rc && (d = readdir(dp))) {
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
                !strcmp(d->d_name, SOURCE_NAME))
                continue;
            snprintf(from, sizeof from, "%s/%s", tmp, d->d_name);
            snprintf(to, sizeof to, "%s/%s", dir, d->d_name);
            if (pass == 0)
                rc = check_target(to, o, err);
            else if (situ_fs_sync(from, 0) || rename(from, to))
                rc = situ_err_set(err, SITU_EIO, "cannot write %s: %s", to, strerror(errno));
        }
        closedir(dp);
    }
    if (!rc && situ_fs_sync(dir, 1))
        rc = situ_err_set(err, SITU_EIO, "cannot sync the folder %s: %s", dir, strerror(errno));
    return rc;
}

/* A drill bundle goes one layer per collection into the formats that hold
 * one geometry type a layer (Shapefiles, zipped together) or read best so
 * (sheets, GPKG). */
static const char *const *split_layers(const situ_export *e, const situ_export_file_opts *o,
                                       const char *path)
{
    size_t n = strlen(path);
    int zip = n > 4 && !strcmp(path + n - 4, ".zip");
    if (strcmp(o->format, "XLSX") && strcmp(o->format, "GPKG") &&
        (strcmp(o->format, "ESRI Shapefile") || !zip))
        return NULL;
    return situ__export_drill_layers(e);
}

int situ_export_to_file(situ_export *e, const char *path, const situ_export_file_opts *o,
                        situ_err *err)
{
    char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX], src[PATH_MAX + 32], dst[2 * PATH_MAX];
    if (!path || !*path || !o || !o->format || !o->layer)
        return situ_err_set(err, SITU_EINVAL, "an export needs a file, a format and a layer");
    char pd[PATH_MAX], pb[PATH_MAX];
    if (snprintf(pd, sizeof pd, "%s", path) >= (int)sizeof pd)
        return situ_err_set(err, SITU_EINVAL, "path too long: %s", path);
    snprintf(pb, sizeof pb, "%s", path);
    snprintf(dir, sizeof dir, "%s", dirname(pd)); /* both may modify their argument */
    snprintf(base, sizeof base, "%s", basename(pb));
    if (o->encoding && strcmp(o->encoding, "UTF-8") && strcmp(o->encoding, "GBK"))
        return situ_err_set(err, SITU_EINVAL, "encoding: give UTF-8 or GBK, not '%.40s'",
                            o->encoding);
    int rc = check_target(path, o, err);
    if (rc)
        return rc;
    /* no name of base's in the folder's: GDAL's /vsizip/ (XLSX) takes the
     * first ".xlsx" in a path for the archive */
    if (snprintf(tmp, sizeof tmp, "%s/.situ-export-XXXXXX", dir) >= (int)sizeof tmp ||
        !mkdtemp(tmp))
        return situ_err_set(err, SITU_EIO, "cannot write in %s: %s", dir, strerror(errno));
    snprintf(src, sizeof src, "%s/%s", tmp, SOURCE_NAME);
    snprintf(dst, sizeof dst, "%s/%s", tmp, base);
    rc = write_stream(e, src, path, o->max_bytes, err);
    if (!rc)
        rc = situ__export_translate(src, dst, path, o, split_layers(e, o, path), err);
    if (!rc && o->max_bytes && made_bytes(tmp) > o->max_bytes)
        rc = too_big(path, o->max_bytes, err);
    if (!rc)
        rc = move_into_place(tmp, dir, o, err);
    remove_tree(tmp);
    return rc;
}

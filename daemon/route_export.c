/*
 * route_export.c: /export/{collection}.{fmt}[?township=&bbox=&crs=&encoding=]
 * and /export/drill.{fmt}?townships=a,b[&crs=&encoding=], fmt one of
 * geojson, gpkg, shp.zip, csv, xlsx, kml. GeoJSON in CRS84 is streamed piece
 * by piece from libsitu's export cursor; every other answer is written by
 * GDAL into a spool file within [export] max_bytes (507 past it), unlinked
 * at once and streamed from its descriptor. Each download holds a slot until
 * it ends, so that at most max_exports run at once (503 with Retry-After
 * past them): a few slow clients cannot keep many versions of every
 * collection, nor many spool files, alive. A file with coordinates carries
 * Content-Crs (OGC API - Features Part 2) naming the CRS it was written in.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "routes.h"
#include "situ/crs.h"
#include "situ/export.h"

static int running; /* atomic: downloads in progress */

/* Takes one of the max_exports slots: 1, or 0 when all are taken. */
static int slot_take(const situd_req *r)
{
    if (__atomic_add_fetch(&running, 1, __ATOMIC_RELAXED) <= r->cfg->max_exports)
        return 1;
    __atomic_sub_fetch(&running, 1, __ATOMIC_RELAXED);
    return 0;
}

static void slot_give(void)
{
    __atomic_sub_fetch(&running, 1, __ATOMIC_RELAXED);
}

static int next_piece(void *ctx, situ_buf *b)
{
    return situ_export_next(ctx, b);
}

static void free_export(void *ctx)
{
    situ_export_free(ctx);
    slot_give();
}

/* The spool file's next 64 KiB. ctx is its descriptor + 1 (so never NULL). */
static int next_spooled(void *ctx, situ_buf *b)
{
    int fd = (int)(intptr_t)ctx - 1;
    char piece[64 * 1024];
    ssize_t n;
    while ((n = read(fd, piece, sizeof piece)) < 0 && errno == EINTR)
        ;
    if (n < 0)
        return -1;
    situ_buf_add(b, piece, (size_t)n);
    return n > 0;
}

static void free_spooled(void *ctx)
{
    close((int)(intptr_t)ctx - 1);
    slot_give();
}

static situd_result all_taken(situd_req *r)
{
    return situd_busy(r, "%d exports are being downloaded, as many as situd serves at once",
                      r->cfg->max_exports);
}

/* What was asked besides the features: format, CRS, Shapefile encoding. */
typedef struct export_args {
    const situ_export_format *f;
    int crs;
    const char *encoding;
} export_args;

/* Reads crs and encoding; answers 400 naming the one at fault. A file that
 * holds coordinates is answered with a Content-Crs header naming its CRS
 * (its axes in the file's own order: x is easting or longitude). */
static int read_export_args(situd_req *r, export_args *a, situd_result *out)
{
    situ_err err = {0};
    const char *crs = situd_arg(r, "crs");
    a->crs = crs ? situ_crs_find(crs, "crs", &err) : SITU_CRS_CRS84;
    if (a->crs < 0 || situ_export_format_check_crs(a->f, a->crs, "crs", &err))
        return *out = situd_problem(r, 400, "crs", "%s", err.msg), 1;
    if (a->f->crs != SITU_EXPORT_NO_COORDS)
        r->content_crs = situ_crs_uri(a->crs);
    a->encoding = situd_arg(r, "encoding");
    if (a->encoding && strcmp(a->f->ext, "shp.zip"))
        return *out = situd_problem(r, 400, "encoding",
                                    "encoding: only Shapefiles (shp.zip) take one; the other "
                                    "formats are UTF-8"),
               1;
    if (a->encoding && strcmp(a->encoding, "UTF-8") && strcmp(a->encoding, "GBK"))
        return *out = situd_problem(r, 400, "encoding", "encoding: give UTF-8 or GBK"), 1;
    return 0;
}

/* GDAL writes e into a spool folder; the file is opened, unlinked and
 * streamed. Takes e; the slot is given back when the answer ends. */
static situd_result spool(situd_req *r, situ_export *e, const char *name, const export_args *a)
{
    char dir[1100], path[1200], disp[160];
    situ_err err = {0};
    int fd = -1, rc;
    snprintf(dir, sizeof dir, "%s/situ-export-XXXXXX", r->cfg->export_spool);
    if (!mkdtemp(dir)) {
        rc = situ_err_set(&err, SITU_EIO, "cannot spool the export: %s", strerror(errno));
    } else {
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, a->f->ext);
        if (a->f->items_as_columns)
            situ_export_items_as_columns(e);
        situ_export_file_opts o = {.format = a->f->gdal,
                                   .layer = name,
                                   .t_srs = a->crs ? situ_crs_code(a->crs) : NULL,
                                   .encoding = a->encoding,
                                   .max_bytes = r->cfg->export_max_bytes};
        rc = situ_export_to_file(e, path, &o, &err);
        if (!rc && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            rc =
                situ_err_set(&err, SITU_EIO, "cannot read the spooled export: %s", strerror(errno));
        unlink(path);
        rmdir(dir);
    }
    situ_export_free(e);
    if (rc) {
        slot_give();
        return situd_problem(r, rc == SITU_ELIMIT ? 507 : 500, NULL, "%s", err.msg);
    }
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.%s\"", name, a->f->ext);
    return situd_reply_stream(r, 200, a->f->mime, disp, next_spooled, free_spooled,
                              (void *)(intptr_t)(fd + 1));
}

/* Answers e as asked: streamed GeoJSON in CRS84, else spooled by GDAL. */
static situd_result answer(situd_req *r, situ_export *e, const char *name, const export_args *a)
{
    if (strcmp(a->f->ext, "geojson") || a->crs != SITU_CRS_CRS84)
        return spool(r, e, name, a);
    char disp[160];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.geojson\"", name);
    return situd_reply_stream(r, 200, "application/geo+json", disp, next_piece, free_export, e);
}

static situd_result drill(situd_req *r, export_args *a)
{
    static const char *const allowed[] = {"townships", "crs", "encoding", NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res) || read_export_args(r, a, &res))
        return res;
    const char *list = situd_arg(r, "townships");
    if (!list || !*list)
        return situd_problem(r, 400, "townships", "townships: give comma-separated codes");
    char tmp[4096];
    if (strlen(list) >= sizeof tmp)
        return situd_problem(r, 400, "townships", "townships: too long");
    snprintf(tmp, sizeof tmp, "%s", list);
    const char *codes[256];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (n == 256)
            return situd_problem(r, 400, "townships", "townships: at most 256 codes");
        codes[n++] = t;
    }
    char now[32];
    situ_store_now(now);
    situ_export *e;
    situ_err err = {0};
    if (!slot_take(r))
        return all_taken(r);
    if (situ_export_drill_new(r->snap, codes, n, now, &e, &err)) {
        slot_give();
        return situd_problem(r, err.code == SITU_ENOTFOUND ? 404 : 400, "townships", "%s", err.msg);
    }
    return answer(r, e, "drill", a);
}

situd_result situd_route_export(situd_req *r)
{
    static const char hint[] =
        "exports are /export/{collection}.{geojson|gpkg|shp.zip|csv|xlsx|kml}";
    const char *dot = strchr(r->rest, '.');
    export_args a = {0};
    if (!dot || dot == r->rest || dot - r->rest >= 32 ||
        !(a.f = situ_export_format_find(dot + 1)) || strcmp(a.f->ext, dot + 1))
        return situd_problem(r, 404, NULL, "%s", hint);
    char id[32];
    memcpy(id, r->rest, (size_t)(dot - r->rest));
    id[dot - r->rest] = '\0';
    if (!strcmp(id, "drill"))
        return drill(r, &a);
    const situ_collection *c = situ_schema_find(id);
    if (!c)
        return situd_problem(r, 404, NULL, "no such collection: %s", id);
    static const char *const allowed[] = {"township", "township_code", "bbox",
                                          "crs",      "encoding",      NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res) || read_export_args(r, &a, &res))
        return res;
    situ_query q;
    situ_query_init(&q, c);
    situ_err err = {0};
    for (int i = 0; i < 3; i++) { /* the selection: township, township_code, bbox */
        const char *v = situd_arg(r, allowed[i]);
        if (v && situ_query_set(&q, allowed[i], v, &err))
            return situd_problem(r, 400, allowed[i], "%s", err.msg);
    }
    const char *tc =
        situd_arg(r, "township") ? situd_arg(r, "township") : situd_arg(r, "township_code");
    if (tc && !situ_snapshot_township(r->snap, tc))
        return situd_problem(r, 404, "township", "no township with code '%.40s'", tc);
    situ_export *e;
    if (!slot_take(r))
        return all_taken(r);
    if (situ_export_collection_new(r->snap, &q, &e, &err)) {
        slot_give();
        return situd_problem(r, 503, NULL, "%s", err.msg);
    }
    return answer(r, e, id, &a);
}

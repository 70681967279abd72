/*
 * route_export.c: /export/{collection}.geojson[?township=&bbox=] and
 * /export/drill.geojson?townships=a,b — whole FeatureCollections streamed
 * piece by piece from libsitu's export cursor, with a file name. Each
 * download holds its snapshot until it ends, so that at most max_exports
 * run at once (503 with Retry-After past them): a few slow clients cannot
 * keep many versions of every collection alive.
 */
#include <stdio.h>
#include <string.h>

#include "routes.h"
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

static situd_result all_taken(situd_req *r)
{
    return situd_busy(r, "%d exports are being downloaded, as many as situd serves at once",
                      r->cfg->max_exports);
}

static situd_result stream(situd_req *r, situ_export *e, const char *name)
{
    char disp[160];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s.geojson\"", name);
    return situd_reply_stream(r, 200, "application/geo+json", disp, next_piece, free_export, e);
}

static situd_result drill(situd_req *r)
{
    static const char *const allowed[] = {"townships", NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res))
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
    return stream(r, e, "drill");
}

situd_result situd_route_export(situd_req *r)
{
    const char *dot = strrchr(r->rest, '.');
    if (!dot || strcmp(dot, ".geojson") || dot == r->rest || dot - r->rest >= 32)
        return situd_problem(r, 404, NULL, "exports are /export/{collection}.geojson");
    char id[32];
    memcpy(id, r->rest, (size_t)(dot - r->rest));
    id[dot - r->rest] = '\0';
    if (!strcmp(id, "drill"))
        return drill(r);
    const situ_collection *c = situ_schema_find(id);
    if (!c)
        return situd_problem(r, 404, NULL, "no such collection: %s", id);
    static const char *const allowed[] = {"township", "township_code", "bbox", NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res))
        return res;
    situ_query q;
    situ_query_init(&q, c);
    situ_err err = {0};
    for (int i = 0; allowed[i]; i++) {
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
    return stream(r, e, id);
}

/*
 * store_closures.c: reading the road closures back from road_closures (the
 * feeds write them inside their transaction: layers/feeds/feed_apply.c).
 * Owns the notion of "active at t": not ended, and no until or an until
 * after t. Does not lay them on a road graph (layers/roads/roads_areas.c)
 * nor schedule their expiry (situd's publisher re-reads at next_until).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/db.h"
#include "situ/store.h"

void situ_closure_list_dispose(situ_closure_list *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        free(l->v[i].reason);
        free(l->v[i].wkb);
    }
    if (l) {
        free(l->v);
        memset(l, 0, sizeof *l);
    }
}

static void copy_text(char *out, size_t n, situ_db_stmt *st, int col)
{
    const char *t = situ_db_column_text(st, col);
    snprintf(out, n, "%s", t ? t : "");
}

/* Reads the current row of st into c; 0 or SITU_ENOMEM. */
static int read_row(situ_db_stmt *st, situ_closure *c)
{
    memset(c, 0, sizeof *c);
    copy_text(c->id, sizeof c->id, st, 0);
    copy_text(c->dept, sizeof c->dept, st, 1);
    const char *reason = situ_db_column_text(st, 2);
    c->reason = strdup(reason ? reason : "");
    copy_text(c->until, sizeof c->until, st, 3);
    c->radius_m = situ_db_column_double(st, 4);
    copy_text(c->created_at, sizeof c->created_at, st, 5);
    copy_text(c->updated_at, sizeof c->updated_at, st, 6);
    c->nwkb = (size_t)situ_db_column_bytes(st, 7);
    c->wkb = malloc(c->nwkb ? c->nwkb : 1);
    if (c->wkb && c->nwkb)
        memcpy(c->wkb, situ_db_column_blob(st, 7), c->nwkb);
    for (int i = 0; i < 4; i++)
        c->bbox[i] = situ_db_column_double(st, 8 + i);
    c->lon = c->bbox[0], c->lat = c->bbox[1];
    return c->reason && c->wkb ? 0 : SITU_ENOMEM;
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const situ_closure *)a)->id, ((const situ_closure *)b)->id);
}

int situ_store_closures_active(situ_store *s, const char *now, situ_closure_list *out,
                               situ_err *err)
{
    situ_db *db = situ_store_sql(s);
    situ_db_stmt *st;
    char t[32];
    if (now)
        snprintf(t, sizeof t, "%s", now);
    else
        situ_store_now(t);
    int rc = situ_db_prepare(db,
                             "SELECT id, dept, reason, until, radius_m, created_at, updated_at, "
                             "ST_AsBinary(geom), ST_MinX(geom), ST_MinY(geom), ST_MaxX(geom), "
                             "ST_MaxY(geom) FROM road_closures "
                             "WHERE ended_at IS NULL AND (until IS NULL OR until > ?1)",
                             &st, err);
    if (rc)
        return rc;
    situ_db_bind_text(st, 1, t, -1);
    situ_closure_list l = {0};
    size_t cap = 0;
    while ((rc = situ_db_step(st)) == SITU_DB_ROW) {
        if (l.n == cap) {
            situ_closure *p = realloc(l.v, (cap = cap ? 2 * cap : 16) * sizeof *p);
            if (!p)
                break;
            l.v = p;
        }
        situ_closure *c = &l.v[l.n++];
        if (read_row(st, c))
            break;
        if (c->until[0] && (!l.next_until[0] || strcmp(c->until, l.next_until) < 0))
            memcpy(l.next_until, c->until, sizeof l.next_until);
    }
    if (rc != SITU_DB_DONE)
        situ_err_set(err, rc < 0 ? rc : SITU_ENOMEM, "road_closures: %s",
                     rc < 0 ? situ_db_errmsg(db) : "out of memory");
    situ_db_finalize(st);
    if (rc != SITU_DB_DONE) {
        situ_closure_list_dispose(&l);
        return rc < 0 ? rc : SITU_ENOMEM;
    }
    if (l.n > 1) /* by id as strcmp orders it, whatever the engine's collation */
        qsort(l.v, l.n, sizeof *l.v, by_id);
    *out = l;
    return 0;
}

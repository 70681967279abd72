/*
 * store_closures.c: reading the road closures back from road_closures (the
 * feeds write them inside their transaction: layers/feeds/feed_apply.c).
 * Owns the notion of "active at t": not ended, and no until or an until
 * after t. Does not lay them on a road graph (layers/roads/roads_areas.c)
 * nor schedule their expiry (situd's publisher re-reads at next_until).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void copy_text(char *out, size_t n, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* Reads the current row of st into c; 0 or SITU_ENOMEM. */
static int read_row(sqlite3_stmt *st, situ_closure *c)
{
    memset(c, 0, sizeof *c);
    copy_text(c->id, sizeof c->id, st, 0);
    copy_text(c->dept, sizeof c->dept, st, 1);
    const unsigned char *reason = sqlite3_column_text(st, 2);
    c->reason = strdup(reason ? (const char *)reason : "");
    copy_text(c->until, sizeof c->until, st, 3);
    c->radius_m = sqlite3_column_double(st, 4);
    copy_text(c->created_at, sizeof c->created_at, st, 5);
    copy_text(c->updated_at, sizeof c->updated_at, st, 6);
    c->nwkb = (size_t)sqlite3_column_bytes(st, 7);
    c->wkb = malloc(c->nwkb ? c->nwkb : 1);
    if (c->wkb && c->nwkb)
        memcpy(c->wkb, sqlite3_column_blob(st, 7), c->nwkb);
    for (int i = 0; i < 4; i++)
        c->bbox[i] = sqlite3_column_double(st, 8 + i);
    c->lon = c->bbox[0], c->lat = c->bbox[1];
    return c->reason && c->wkb ? 0 : SITU_ENOMEM;
}

int situ_store_closures_active(situ_store *s, const char *now, situ_closure_list *out,
                               situ_err *err)
{
    sqlite3 *db = situ_store_db(s);
    sqlite3_stmt *st;
    char t[32];
    if (now)
        snprintf(t, sizeof t, "%s", now);
    else
        situ_store_now(t);
    if (sqlite3_prepare_v2(db,
                           "SELECT id, dept, reason, until, radius_m, created_at, updated_at, "
                           "AsBinary(geom), MbrMinX(geom), MbrMinY(geom), MbrMaxX(geom), "
                           "MbrMaxY(geom) FROM road_closures "
                           "WHERE ended_at IS NULL AND (until IS NULL OR until > ?1) ORDER BY id",
                           -1, &st, NULL))
        return situ_err_set(err, SITU_EDB, "road_closures: %s", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, t, -1, SQLITE_STATIC);
    situ_closure_list l = {0};
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
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
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        *out = l;
        return 0;
    }
    situ_closure_list_dispose(&l);
    if (rc == SQLITE_ROW)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    return situ_err_set(err, SITU_EDB, "road_closures: %s", sqlite3_errmsg(db));
}

/*
 * drill_store.c: a drill's own store. Owns making it (a consistent copy of
 * the live store: SQLite's online backup for a SpatiaLite file, situ
 * migrate into a new SpatiaLite file for PostgreSQL, so a drill never
 * writes to the cluster), the tables only a drill store has (drill_meta:
 * the exercise id, the scenario, the start; drill_record: the record) and
 * reading its tag back. Playing is drill_play.c; the record's forms are
 * drill_record.c.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/db.h"
#include "situ/fs.h"

#include "drill_int.h"

static const char drill_schema[] =
    "CREATE TABLE IF NOT EXISTS drill_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS drill_record ("
    " seq INTEGER PRIMARY KEY,"
    " scenario_ms INTEGER NOT NULL," /* since the drill's start */
    " scenario_at TEXT NOT NULL,"    /* RFC 3339: the time it was applied at */
    " wall_at TEXT NOT NULL,"        /* RFC 3339 with ms: when it happened */
    " actor TEXT NOT NULL,"          /* player, or who asked */
    " action TEXT NOT NULL,"         /* start, inject, post, pause, ..., stop, finish */
    " inject_id TEXT, dept TEXT, kind TEXT,"
    " due_ms INTEGER,"   /* an inject's offset */
    " delay_ms INTEGER," /* scenario ms after its offset it was applied */
    " result TEXT NOT NULL, field TEXT, reason TEXT,"
    " features TEXT NOT NULL DEFAULT '[]'," /* the changes, as on /events */
    " minx REAL, miny REAL, maxx REAL, maxy REAL,"
    " expected TEXT, detail TEXT,"
    " cap INTEGER NOT NULL DEFAULT 0, body TEXT);"; /* what was applied, for a replay */

int situ__drill_meta_put(situ_db *db, const char *key, const char *value, situ_err *err)
{
    situ_db_stmt *st = NULL;
    int rc = situ_db_prepare(db,
                             "INSERT INTO drill_meta (key, value) VALUES (?1, ?2) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                             &st, err);
    if (rc)
        return rc;
    situ_db_bind_text(st, 1, key, -1);
    situ_db_bind_text(st, 2, value, -1);
    rc = situ_db_step(st) == SITU_DB_DONE
             ? 0
             : situ_err_set(err, SITU_EDB, "drill_meta: %s", situ_db_errmsg(db));
    situ_db_finalize(st);
    return rc;
}

char *situ__drill_meta_get(situ_db *db, const char *key)
{
    situ_db_stmt *st = NULL;
    char *v = NULL;
    if (situ_db_prepare(db, "SELECT value FROM drill_meta WHERE key = ?1", &st, NULL))
        return NULL;
    situ_db_bind_text(st, 1, key, -1);
    if (situ_db_step(st) == SITU_DB_ROW && situ_db_column_text(st, 0))
        v = strdup(situ_db_column_text(st, 0));
    situ_db_finalize(st);
    return v;
}

int situ_drill_store_exercise(situ_store *s, char out[SITU_FEED_ID_MAX + 1], situ_err *err)
{
    char *id = situ__drill_meta_get(situ_store_sql(s), "exercise_id");
    out[0] = '\0';
    if (!id)
        return situ_err_set(err, SITU_EINVAL, "the store is not a drill's (no drill_meta)");
    snprintf(out, SITU_FEED_ID_MAX + 1, "%s", id);
    free(id);
    return 0;
}

int situ_drill_store_scenario(situ_store *s, situ_drill_scenario **out, situ_err *err)
{
    char *json = situ__drill_meta_get(situ_store_sql(s), "scenario");
    int rc = json ? situ_drill_parse(json, strlen(json), NULL, out, err)
                  : situ_err_set(err, SITU_EINVAL, "the store is not a drill's (no scenario kept)");
    free(json);
    return rc;
}

/* The live PostgreSQL store into the new SpatiaLite file tmp. */
static int copy_pg(const char *live, const char *tmp, situ_err *err)
{
    situ_store *src = NULL, *dst = NULL;
    int rc = situ_store_open(live, SITU_STORE_READONLY, &src, err);
    if (!rc)
        rc = situ_store_open(tmp, SITU_STORE_CREATE, &dst, err);
    if (!rc)
        rc = situ_store_migrate(src, dst, 0, NULL, err);
    situ_store_close(dst);
    situ_store_close(src);
    return rc;
}

/* Tags the copy: the drill's tables, its exercise and scenario. */
static int tag_copy(const char *tmp, const situ_drill_scenario *s, const char *live, situ_err *err)
{
    situ_store *st = NULL;
    int rc = situ_store_open(tmp, 0, &st, err);
    if (rc)
        return rc;
    situ_db *db = situ_store_sql(st);
    situ_buf json;
    situ_buf_init(&json);
    situ_drill_json(s, &json);
    char now[32];
    situ_store_now(now);
    rc = situ_store_begin(st, err);
    if (!rc)
        rc = situ_db_exec(db, drill_schema, err);
    if (!rc && json.oom)
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc && !(rc = situ__drill_meta_put(db, "exercise_id", s->exercise_id, err)) &&
        !(rc = situ__drill_meta_put(db, "title", s->title, err)) &&
        !(rc = situ__drill_meta_put(db, "scenario", json.p, err)) &&
        !(rc = situ__drill_meta_put(db, "copied_at", now, err)))
        rc = situ__drill_meta_put(db, "live", situ_db_is_url(live) ? "postgresql" : live, err);
    if (!rc)
        rc = situ_store_commit(st, err);
    if (rc)
        situ_store_rollback(st);
    situ_buf_dispose(&json);
    situ_store_close(st);
    return rc;
}

static void remove_copy(const char *tmp)
{
    static const char *const side[] = {"", "-wal", "-shm", "-journal"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(p, sizeof p, "%s%s", tmp, side[i]);
        unlink(p);
    }
}

/* Renames tmp over dst and syncs the folder. */
static int publish(const char *tmp, const char *dst, situ_err *err)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", dst);
    if (situ_fs_sync(tmp, 0) || rename(tmp, dst))
        return situ_err_set(err, SITU_EIO, "%s: %s", dst, strerror(errno));
    situ_fs_sync(dirname(dir), 1);
    return 0;
}

int situ_drill_store_create(const char *live, const char *dst, const situ_drill_scenario *s,
                            int force, situ_err *err)
{
    struct stat sb;
    char tmp[PATH_MAX];
    if (s->nfaults)
        return situ_err_set(err, SITU_EINVAL, "the scenario has %d fault%s: situ drill check",
                            s->nfaults, s->nfaults == 1 ? "" : "s");
    if (!force && !stat(dst, &sb))
        return situ_err_set(err, SITU_ECONFLICT, "%s exists", dst);
    if (snprintf(tmp, sizeof tmp, "%s.part-%ld", dst, (long)getpid()) >= (int)sizeof tmp)
        return situ_err_set(err, SITU_EINVAL, "path too long");
    remove_copy(tmp);
    int rc =
        situ_db_is_url(live) ? copy_pg(live, tmp, err) : situ_store_backup(live, tmp, NULL, err);
    if (!rc)
        rc = tag_copy(tmp, s, live, err);
    if (!rc)
        rc = publish(tmp, dst, err);
    if (rc)
        remove_copy(tmp);
    return rc;
}

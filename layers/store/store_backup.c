/*
 * store_backup.c: a consistent copy of a live situ file (situ backup).
 *
 * The whole file is copied in one sqlite3_backup_step(-1), i.e. inside one
 * read transaction on the source: in WAL mode that never blocks situd's
 * writer, and the copy is exactly one committed state (a step-by-step copy
 * would restart each time the writer commits). The copy is written to
 * "dst.part-PID", turned into a self-contained rollback-journal file,
 * checked, synced and renamed over dst, so dst is never a partial file.
 */
#include "situ/db.h"
#include "situ/store.h"

#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "situ/clock.h"
#include "situ/fs.h"

/* Syncs the folder holding path, so that a rename in it is durable. */
static int fsync_parent(const char *path)
{
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", path);
    return situ_fs_sync(dirname(copy), 1);
}

static int same_file(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* The copy itself: every page of src's main database into the open dst. */
static int copy_pages(sqlite3 *from, sqlite3 *to, situ_backup_stats *st, situ_err *err)
{
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b)
        return situ_err_set(err, SITU_EDB, "cannot start the backup: %s", sqlite3_errmsg(to));
    int rc;
    while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED)
        sqlite3_sleep(50);
    st->pages = sqlite3_backup_pagecount(b);
    if (sqlite3_backup_finish(b) != SQLITE_OK || rc != SQLITE_DONE)
        return situ_err_set(err, SITU_EDB, "backup failed: %s", sqlite3_errmsg(to));
    return 0;
}

/* Makes the copy one self-contained file (no -wal beside it). */
static int seal_copy(sqlite3 *to, const char *tmp, situ_err *err)
{
    if (sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK)
        return situ_err_set(err, SITU_EDB, "%s: %s", tmp, sqlite3_errmsg(to));
    return 0;
}

/* Opens the finished copy as a situ file and checks it page by page. */
static int check_copy(const char *tmp, situ_err *err)
{
    situ_store *s = NULL;
    int rc = situ_store_open(tmp, SITU_STORE_READONLY, &s, err);
    if (!rc)
        rc = situ_store_check(s, 0, err);
    situ_store_close(s);
    return rc;
}

static int backup_to(const char *src, const char *tmp, situ_backup_stats *st, situ_err *err)
{
    situ_store *s;
    int rc = situ_store_open(src, SITU_STORE_READONLY, &s, err);
    if (rc)
        return rc;
    sqlite3 *to = NULL;
    if (sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        rc = situ_err_set(err, SITU_EIO, "cannot create %s: %s", tmp,
                          to ? sqlite3_errmsg(to) : "out of memory");
    else if (!(rc = copy_pages(situ_store_db(s), to, st, err)))
        rc = seal_copy(to, tmp, err);
    situ_store_close(s);
    if (to && sqlite3_close(to) != SQLITE_OK && !rc)
        rc = situ_err_set(err, SITU_EIO, "cannot close %s", tmp);
    return rc ? rc : check_copy(tmp, err);
}

int situ_store_backup(const char *src, const char *dst, situ_backup_stats *stats, situ_err *err)
{
    situ_backup_stats st = {0};
    /* (never echo a URL: it may hold a password) */
    if (situ_db_is_url(src) || situ_db_is_url(dst))
        return situ_err_set(err, SITU_EINVAL,
                            "backup copies a SpatiaLite file; a PostgreSQL store is backed up "
                            "with PostgreSQL's tools (pg_basebackup, pg_dump)");
    if (access(src, R_OK) != 0)
        return situ_err_set(err, SITU_ENOTFOUND, "cannot read %s", src);
    if (same_file(src, dst))
        return situ_err_set(err, SITU_EINVAL, "the backup %s is the database itself", dst);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.part-%d", dst, (int)getpid()) >= (int)sizeof tmp)
        return situ_err_set(err, SITU_EINVAL, "path too long: %s", dst);
    double t0 = situ_clock_s();
    unlink(tmp);
    int rc = backup_to(src, tmp, &st, err);
    if (!rc && situ_fs_sync(tmp, 0))
        rc = situ_err_set(err, SITU_EIO, "cannot sync %s", tmp);
    if (!rc && rename(tmp, dst))
        rc = situ_err_set(err, SITU_EIO, "cannot rename %s to %s", tmp, dst);
    if (!rc && fsync_parent(dst))
        rc = situ_err_set(err, SITU_EIO, "cannot sync the folder of %s", dst);
    if (rc)
        unlink(tmp);
    char journal[PATH_MAX + 16];
    snprintf(journal, sizeof journal, "%s-journal", tmp);
    unlink(journal);
    struct stat sb;
    if (!rc && stat(dst, &sb) == 0)
        st.bytes = (long long)sb.st_size;
    st.seconds = situ_clock_s() - t0;
    if (stats)
        *stats = st;
    return rc;
}

/*
 * load.c: `situ load`, a thin face over situ_load_file / situ_load_dir.
 * Owns the options, the report (every rejected, flagged, outside or
 * disagreeing feature: on the terminal when they fit a screen, else in a
 * report file), the exit status, and keeping a failed load from leaving a
 * trace: a new store, or a copy of a store in rollback-journal mode (which
 * opening for a load would switch to WAL), is loaded under a temporary name
 * and renamed into place only on success; a WAL store (situd may be serving
 * it) or a PostgreSQL store is loaded in place, in one transaction.
 * A file loaded aside is no one else's until the rename: it is written
 * once, with its rollback journal in memory and no sync per commit (a WAL
 * store writes every page twice, into the log and back), then put in its
 * journal mode, synced, renamed and its folder synced.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "situ/fs.h"
#include "situ/load.h"
#include "situ/schema.h"
#include "situ/store.h"
#include "cli.h"

#define SCREENFUL 20
#define DEFAULT_REPORT "situ-load-report.tsv"

static const char usage[] =
    "[--db FILE] (--collection ID FILE | --all DIR) [--layer NAME] [--s_srs EPSG:n] "
    "[--encoding GBK] [--map src_field=prop ...] [--id-field FIELD | --generate-ids] "
    "[--accept-outside] [--max-outside SHARE] [--max-rejected SHARE] [--max-vertices N] "
    "[--repair-seconds S] [--repair-policy reject|flag] [--max-area-change SHARE] "
    "[--report FILE]";

/* ---- the report --------------------------------------------------------- */

typedef struct report {
    FILE *f; /* a memory stream of "collection\tid\twhat\treason" lines */
    char *text;
    size_t size;
    long long n;
} report;

static void on_feature(void *ctx, const char *coll, const char *id, const char *what,
                       const char *reason)
{
    report *r = ctx;
    if (r->f && fprintf(r->f, "%s\t%s\t%s\t%s\n", coll, id, what, reason) > 0)
        r->n++;
}

/* Shows the report: on stdout when it fits a screen, else in path. */
static void show_report(report *r, const char *path)
{
    fclose(r->f);
    r->f = NULL;
    if (r->n == 0)
        return;
    if (r->n <= SCREENFUL) {
        printf("features (collection, id, what, reason):\n%s", r->text);
        return;
    }
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "collection\tid\twhat\treason\n%s", r->text) < 0 || fclose(f)) {
        fprintf(stderr, "situ load: cannot write the report %s: %s\n", path, strerror(errno));
        return;
    }
    printf("%lld features rejected, flagged or misplaced: listed in %s\n", r->n, path);
}

/* ---- output ------------------------------------------------------------- */

static void print_stats(const situ_load_stats *st)
{
    printf("%-15s read %lld, inserted %lld, updated %lld (already stored), repaired %lld, "
           "rejected %lld, outside every township %lld, township_code corrected %lld\n",
           st->collection, st->read, st->inserted, st->updated, st->repaired, st->rejected,
           st->outside, st->disagree);
    for (int i = 0; i < st->nreasons; i++)
        printf("    rejected %lld: %s (e.g. %s)\n", st->reasons[i].n, st->reasons[i].reason,
               st->reasons[i].example_id);
    if (st->skipped)
        printf("    skipped %lld: OpenStreetMap ways no car may drive (footways, cycleways, "
               "private access, ...)\n",
               st->skipped);
    if (st->flagged)
        printf("    flagged for review %lld: repairs that changed the area past the limit\n",
               st->flagged);
    if (st->gbk)
        printf("    text of %lld features had no declared encoding and was not UTF-8: read as "
               "GBK/GB18030 (give --encoding to say so)\n",
               st->gbk);
}

static int progress_shown;

static void print_progress(void *ctx, const char *coll, long long done, long long total)
{
    (void)ctx;
    if (total > 0)
        fprintf(stderr, "\r\033[K  %s: %lld / %lld features", coll, done, total);
    else
        fprintf(stderr, "\r\033[K  %s: %lld features", coll, done);
    fflush(stderr);
    progress_shown = 1;
}

/* ---- options ------------------------------------------------------------ */

/* A share "0.3" or "30%" into *out (0..1). */
static int parse_share(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == '%' && !end[1])
        v /= 100, end++;
    if (end == s || *end || !(v >= 0 && v <= 1))
        return -1;
    *out = v > 0 ? v : 1e-12; /* 0 means "the default" to libsitu; this is "none" */
    return 0;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0))
        return -1;
    *out = v;
    return 0;
}

typedef struct args {
    const char *db, *all, *file, *report;
    int rollback; /* the existing store is in rollback-journal mode: keep it so */
    int aside;    /* loaded under a temporary name, renamed into place on success */
    situ_load_opts o;
    const char *maps[64];
} args;

static int bad_value(const char *opt, const char *v, const char *what)
{
    fprintf(stderr, "situ load: %s %s: %s\n", opt, v, what);
    return 2;
}

/* Parses argv into a; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"collection", required_argument, 0, 'c'},
                                         {"all", required_argument, 0, 'a'},
                                         {"layer", required_argument, 0, 'l'},
                                         {"s_srs", required_argument, 0, 's'},
                                         {"encoding", required_argument, 0, 'e'},
                                         {"map", required_argument, 0, 'm'},
                                         {"id-field", required_argument, 0, 'i'},
                                         {"generate-ids", no_argument, 0, 'g'},
                                         {"accept-outside", no_argument, 0, 'A'},
                                         {"max-outside", required_argument, 0, 'O'},
                                         {"max-rejected", required_argument, 0, 'R'},
                                         {"max-vertices", required_argument, 0, 'V'},
                                         {"repair-seconds", required_argument, 0, 'T'},
                                         {"repair-policy", required_argument, 0, 'P'},
                                         {"max-area-change", required_argument, 0, 'C'},
                                         {"report", required_argument, 0, 'r'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    situ_load_opts *o = &a->o;
    double v;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'c':
            o->collection = optarg;
            break;
        case 'a':
            a->all = optarg;
            break;
        case 'l':
            o->layer = optarg;
            break;
        case 's':
            o->s_srs = optarg;
            break;
        case 'e':
            o->encoding = optarg;
            break;
        case 'i':
            o->id_field = optarg;
            break;
        case 'g':
            o->generate_ids = 1;
            break;
        case 'A':
            o->accept_outside = 1;
            break;
        case 'r':
            a->report = optarg;
            break;
        case 'm':
            if (o->nmap == 64)
                return bad_value("--map", optarg, "at most 64 pairs");
            a->maps[o->nmap++] = optarg;
            break;
        case 'O':
            if (parse_share(optarg, &o->max_outside_share))
                return bad_value("--max-outside", optarg, "a share 0..1 or 0%..100%");
            break;
        case 'R':
            if (parse_share(optarg, &o->max_rejected_share))
                return bad_value("--max-rejected", optarg, "a share 0..1 or 0%..100%");
            break;
        case 'C':
            if (parse_share(optarg, &o->max_area_change))
                return bad_value("--max-area-change", optarg, "a share 0..1 or 0%..100%");
            break;
        case 'V':
            if (parse_number(optarg, &v) || v > 1e9)
                return bad_value("--max-vertices", optarg, "a number of vertices 1..1e9");
            o->max_vertices = (long long)v;
            break;
        case 'T':
            if (parse_number(optarg, &o->repair_seconds))
                return bad_value("--repair-seconds", optarg, "seconds > 0");
            break;
        case 'P':
            if (strcmp(optarg, "reject") && strcmp(optarg, "flag"))
                return bad_value("--repair-policy", optarg, "reject or flag");
            o->flag_repairs = !strcmp(optarg, "flag");
            break;
        case 'h':
            printf("usage: situ load %s\n"
                   "Loads an OGR source (GeoJSON, GeoPackage, Shapefile, CSV, KML, ...; an "
                   "OpenStreetMap\n.osm.pbf into roads) into a collection, or with --all every "
                   "file of DIR named\nby a collection id "
                   "(townships first),\nreading DIR/manifest.ini for CRS and encodings. One "
                   "transaction: a failed\nload changes nothing. It fails when nothing is "
                   "stored, when more than\n--max-rejected (50%%) is rejected, or when more "
                   "than --max-outside (50%%) lies\noutside every township or in another than "
                   "its township_code.\nEvery rejected or misplaced feature is listed (in "
                   "--report FILE, default\n./%s, past %d).\nCollections:",
                   usage, DEFAULT_REPORT, SCREENFUL);
            for (int i = 0; i < SITU_NCOLLECTIONS; i++)
                printf(" %s", situ_schema_collection((situ_coll_id)i)->id);
            printf("\n");
            return 0;
        default:
            return fprintf(stderr, "usage: situ load %s\n", usage), 2;
        }
    }
    o->map = a->maps;
    if ((a->all != NULL) == (o->collection != NULL) || (a->all && optind != argc) ||
        (!a->all && optind != argc - 1))
        return fprintf(stderr, "usage: situ load %s\n", usage), 2;
    a->file = a->all ? NULL : argv[optind];
    return -1;
}

/* ---- the store ---------------------------------------------------------- */

/* 1 when the file at path is an SQLite file in rollback-journal mode (its
 * header's write version is 1): opening it for a load switches it to WAL. */
static int rollback_mode(const char *path)
{
    unsigned char h[20];
    FILE *f = fopen(path, "rb");
    int yes = f && fread(h, 1, sizeof h, f) == sizeof h && h[18] == 1;
    if (f)
        fclose(f);
    return yes;
}

static void remove_store(const char *path)
{
    static const char *const side[] = {"", "-wal", "-shm", "-journal"};
    char p[4200];
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, side[i]);
        unlink(p);
    }
}

/* Loads into the store at db (created when missing). A failed load rolls
 * back; a store that was in rollback-journal mode is put back in it, a new
 * one in WAL; a file loaded aside is synced once at the end. name gets a->db
 * as messages may name it (never a URL's password). */
static int run(const args *a, const char *db, char *name, size_t name_size, situ_err *err)
{
    situ_store *s;
    int rc = situ_store_open(db, SITU_STORE_CREATE, &s, err);
    if (rc)
        return rc;
    if (a->aside) /* a rollback still works: the journal is kept in memory */
        rc = situ_store_exec(s, "PRAGMA journal_mode=MEMORY; PRAGMA synchronous=OFF", err);
    snprintf(name, name_size, "%s", situ_cli_db_name(a->db, s));
    if (rc) {
    } else if (a->all) {
        situ_load_stats st[SITU_NCOLLECTIONS];
        int nfiles = 0;
        memset(st, 0, sizeof st);
        rc = situ_load_dir(s, a->all, &a->o, st, &nfiles, err);
        for (int i = 0; !rc && i < SITU_NCOLLECTIONS; i++)
            if (st[i].collection[0])
                print_stats(&st[i]);
    } else {
        situ_load_stats st;
        rc = situ_load_file(s, a->file, &a->o, &st, err);
        if (!rc)
            print_stats(&st);
    }
    if (!rc && a->aside)
        rc = situ_store_exec(
            s, a->rollback ? "PRAGMA journal_mode=DELETE" : "PRAGMA journal_mode=WAL", err);
    situ_store_close(s);
    if (!rc && a->aside && situ_fs_sync(db, 0))
        rc = situ_err_set(err, SITU_EIO, "cannot sync %s: %s", db, strerror(errno));
    return rc;
}

int situ_cli_load(int argc, char **argv)
{
    args a = {.db = situ_cli_default_db(), .report = DEFAULT_REPORT};
    int status = parse_args(argc, argv, &a);
    if (status >= 0)
        return status;
    report rep = {0};
    rep.f = open_memstream(&rep.text, &rep.size);
    a.o.progress = print_progress;
    a.o.on_feature = on_feature;
    a.o.on_feature_ctx = &rep;

    struct stat sb;
    char db[4200];
    int file = situ_cli_db_is_file(a.db);
    int fresh = file && stat(a.db, &sb) != 0;
    a.rollback = file && !fresh && rollback_mode(a.db);
    int aside = a.aside = fresh || a.rollback; /* loaded under db, renamed over a.db */
    snprintf(db, sizeof db, aside ? "%s.loading-%d" : "%s", a.db, (int)getpid());
    char dir[4200], name[4200];
    snprintf(dir, sizeof dir, "%s", a.db);
    char *slash = strrchr(dir, '/');
    const char *folder = !slash ? "." : slash == dir ? "/" : (*slash = '\0', dir);
    int made_dir = fresh && folder == dir && mkdir(dir, 0755) == 0;
    situ_err err = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = a.rollback ? situ_store_backup(a.db, db, NULL, &err) : 0;
    if (!rc)
        rc = run(&a, db, name, sizeof name, &err);
    if (a.rollback && !rc) { /* the copy takes the place of the store: keep its owner, mode */
        if (chmod(db, sb.st_mode & 07777) || (chown(db, sb.st_uid, sb.st_gid) && geteuid() == 0))
            rc = situ_err_set(&err, SITU_EIO, "cannot give %s the owner and mode of %s: %s", db,
                              a.db, strerror(errno));
    }
    if (aside && !rc && rename(db, a.db))
        rc = situ_err_set(&err, SITU_EIO, "cannot rename %s to %s: %s", db, a.db, strerror(errno));
    if (aside && !rc) /* the rename itself survives a power cut */
        situ_fs_sync(folder, 1);
    if (aside && rc)
        remove_store(db);
    if (made_dir && rc)
        rmdir(dir);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (progress_shown)
        fprintf(stderr, "\r\033[K");
    show_report(&rep, a.report);
    free(rep.text);
    if (rc) {
        fprintf(stderr, "situ load: %s (nothing was changed)\n", err.msg);
        return 1;
    }
    printf("loaded into %s in %.2f s\n", name,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

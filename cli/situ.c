/*
 * situ: the admin CLI on a situ SpatiaLite file. Each command parses its
 * arguments and calls libsitu; nothing here knows how data is read or stored.
 * Commands are rows of one table (name, handler, one-line help).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/demo.h"
#include "situ/impact.h"
#include "situ/schema.h"
#include "situ/snapshot.h"
#include "situ/db.h"
#include "situ/store.h"
#include "cli.h"

const char *situ_cli_default_db(void)
{
    const char *db = getenv("SITU_DB");
    return db && *db ? db : "var/situ.sqlite";
}

int situ_cli_db_is_file(const char *db)
{
    return !situ_db_is_url(db);
}

int situ_cli_open(const char *db, unsigned flags, situ_store **out)
{
    situ_err err = {0};
    if ((flags & SITU_STORE_CREATE) && situ_cli_db_is_file(db))
        situ_store_make_parent(db);
    if (situ_store_open(db, flags, out, &err)) {
        fprintf(stderr, "situ: %s\n", err.msg);
        return 1;
    }
    return 0;
}

const char *situ_cli_db_name(const char *db, situ_store *s)
{
    return s && situ_db_is_url(db) ? situ_db_where(situ_store_sql(s)) : db;
}

static int usage_error(const char *cmd, const char *usage)
{
    fprintf(stderr, "usage: situ %s %s\n", cmd, usage);
    return 2;
}

/* ---- situ init ---------------------------------------------------------- */

static int cmd_init(int argc, char **argv)
{
    static const char usage[] = "[--db FILE|URL] [--force]";
    const char *db = situ_cli_default_db();
    unsigned flags = SITU_STORE_CREATE;
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"force", no_argument, 0, 'f'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            db = optarg;
        else if (c == 'f')
            flags |= SITU_STORE_FORCE;
        else if (c == 'h')
            return printf("usage: situ init %s\nCreates or migrates the store (a SpatiaLite "
                          "file, or a postgresql:// URL). A PostgreSQL database holding other "
                          "tables is left unchanged unless --force.\n",
                          usage),
                   0;
        else
            return usage_error("init", usage);
    }
    situ_store *s;
    if (situ_cli_open(db, flags, &s))
        return 1;
    /* the store's own description: a URL's password is never printed */
    printf("%s: schema version %d\n", situ_cli_db_name(db, s), situ_store_version(s));
    situ_store_close(s);
    return 0;
}

/* ---- situ demo ---------------------------------------------------------- */

static int cmd_demo(int argc, char **argv)
{
    static const char usage[] = "--out DIR [--scale N] [--seed S] [--geodata DIR]";
    situ_demo_opts o = {.scale = 1, .seed = 20231231ULL};
    const char *gd = getenv("SITU_GEODATA_SRC");
    o.geodata_dir = gd && *gd ? gd : SITU_SOURCE_DIR "/geodata";
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},  {"scale", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'}, {"geodata", required_argument, 0, 'g'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out_dir = optarg;
            break;
        case 'g':
            o.geodata_dir = optarg;
            break;
        case 's':
            o.scale = (int)strtol(optarg, &end, 10);
            if (*end || o.scale < 1 || o.scale > 1000)
                return fprintf(stderr, "situ demo: --scale must be 1..1000\n"), 2;
            break;
        case 'S':
            o.seed = strtoull(optarg, &end, 10);
            if (*end)
                return fprintf(stderr, "situ demo: --seed must be a number\n"), 2;
            break;
        case 'h':
            printf("usage: situ demo %s\nWrites the Yongzhou demo data (one file per "
                   "collection and manifest.ini),\ndeterministically: same seed and scale, "
                   "same bytes.\n",
                   usage);
            return 0;
        default:
            return usage_error("demo", usage);
        }
    }
    if (!o.out_dir || optind != argc)
        return usage_error("demo", usage);
    situ_demo_stats st;
    situ_err err = {0};
    if (situ_demo_write(&o, &st, &err)) {
        fprintf(stderr, "situ demo: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (st.count[i])
            printf("%-15s %lld\n", situ_schema_collection((situ_coll_id)i)->id, st.count[i]);
    printf("written to %s\n", o.out_dir);
    return 0;
}

/* ---- situ check --------------------------------------------------------- */

/* Reads the options of a command that takes only --db (and --help, which
 * prints usage and help): -1 to go on with *db set, else the exit code. */
static int db_option(int argc, char **argv, const char *name, const char *usage, const char *help,
                     const char **db)
{
    static const struct option opts[] = {
        {"db", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    *db = situ_cli_default_db();
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd')
            *db = optarg;
        else if (c == 'h')
            return printf("usage: situ %s %s\n%s\n", name, usage, help), 0;
        else
            return usage_error(name, usage);
    }
    return -1;
}

static int cmd_check(int argc, char **argv)
{
    const char *db;
    int rc = db_option(argc, argv, "check", "[--db FILE]",
                       "Checks the file's integrity and prints rows and bytes per table, the "
                       "event log's span and the archive's size.",
                       &db);
    if (rc >= 0)
        return rc;
    situ_store *s;
    if (situ_cli_open(db, SITU_STORE_READONLY, &s))
        return 1;
    situ_err err = {0};
    int bad = situ_store_check(s, 1, &err) != 0;
    if (bad)
        fprintf(stderr, "situ check: %s\n", err.msg);
    else
        bad = situ_cli_print_sizes(s, db);
    if (!bad)
        printf("%s: ok (schema version %d)\n", situ_cli_db_name(db, s), SITU_SCHEMA_VERSION);
    situ_store_close(s);
    return bad;
}

/* ---- situ impact --------------------------------------------------------- */

static int cmd_impact(int argc, char **argv)
{
    static const char usage[] = "[--db FILE] ALERT_ID";
    const char *db;
    int rc = db_option(argc, argv, "impact", usage,
                       "Prints as JSON what the alert's area holds now, as situd's "
                       "/alerts/{id}/impact answers.",
                       &db);
    if (rc >= 0)
        return rc;
    if (optind + 1 != argc)
        return usage_error("impact", usage);
    situ_store *s;
    if (situ_cli_open(db, SITU_STORE_READONLY, &s))
        return 1;
    situ_snapshot *snap = NULL;
    situ_err err = {0};
    char now[32];
    situ_store_now(now);
    situ_buf b;
    situ_buf_init(&b);
    rc = situ_snapshot_load(s, &snap, &err);
    if (rc)
        fprintf(stderr, "situ impact: %s\n", err.msg);
    else if ((rc = situ_impact_alert(snap, argv[optind], now, &b)))
        fprintf(stderr, "situ impact: %s: %s\n", argv[optind],
                rc == SITU_ENOTFOUND ? "no such alert" : "its outline cannot be read");
    else
        fwrite(b.p, 1, b.n, stdout);
    situ_buf_dispose(&b);
    situ_snapshot_release(snap);
    situ_store_close(s);
    return rc ? 1 : 0;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"init", cmd_init, "create or migrate the SpatiaLite file"},
    {"load", situ_cli_load, "load OGR sources into a collection (or --all DIR)"},
    {"demo", cmd_demo, "write the Yongzhou demo data"},
    {"check", cmd_check, "check the file; rows and bytes per table"},
    {"export", situ_cli_export, "export a collection or a drill bundle with GDAL"},
    {"nearest", situ_cli_nearest, "nearest features to a point (by road with --by road)"},
    {"route", situ_cli_route, "the route by road between a point and a feature"},
    {"reach", situ_cli_reach, "the areas reached by road within times"},
    {"impact", cmd_impact, "what an alert's area holds (townships, stations, resources, roads)"},
    {"token", situ_cli_token, "add, list or revoke department feed tokens"},
    {"backup", situ_cli_backup, "copy the file consistently while situd runs"},
    {"migrate", situ_cli_migrate, "copy a whole store between SpatiaLite and PostgreSQL"},
    {"retain", situ_cli_retain, "archive and remove expired alerts and old event log rows"},
    {"drill", situ_cli_drill, "check a drill scenario, or import one from CSV"},
};

static void print_help(FILE *f)
{
    fprintf(f, "usage: situ COMMAND [options]   (situ COMMAND --help for more)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nEvery command takes --db FILE (default $SITU_DB, else var/situ.sqlite).\n");
    fprintf(f, "Deadlines are judged on the day of $TZ (default %s).\n", SITU_DEFAULT_TIMEZONE);
}

int main(int argc, char **argv)
{
    situ_store_days_in(NULL); /* $TZ, else situd's default zone: its days */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        print_help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version"))
        return printf("situ %s\n", SITU_VERSION), 0;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "situ: unknown command '%s'\n", argv[1]);
    print_help(stderr);
    return 2;
}

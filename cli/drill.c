/*
 * drill.c: `situ drill check FILE` (validates a JSON or CSV scenario with
 * the feeds' own checks and prints its summary, or every fault naming the
 * inject and field), `situ drill import FILE.csv -o FILE.json` (the
 * planners' spreadsheet as a JSON scenario, written only when valid),
 * `situ drill start FILE --db LIVE --out DRILL.sqlite` (a drill played
 * headless into its own copy of the live store), `situ drill record --db
 * DRILL.sqlite` (its record as GeoJSON or CSV) and `situ drill replay
 * DRILL.sqlite --db LIVE --out NEW.sqlite` (a drill again from its record).
 * Exit 0 done, 1 faults, an unreadable file or a failed drill, 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "situ/clock.h"
#include "situ/db.h"
#include "situ/drill.h"
#include "situ/fs.h"
#include "situ/snapshot.h"
#include "cli.h"

static const char usage[] =
    "check FILE [--db FILE] [--area CODE,CODE... for a CSV]\n"
    "       situ drill import FILE.csv -o FILE.json [--exercise-id ID] [--title TEXT]\n"
    "                  [--area CODE,CODE...] [--objective TEXT]... [--db FILE] [--force]\n"
    "       situ drill start FILE --db LIVE --out DRILL.sqlite [--speed 1..60|max (max)]\n"
    "                  [--start RFC3339 (now)] [--force]\n"
    "       situ drill record --db DRILL.sqlite [-o FILE.geojson|FILE.csv]\n"
    "       situ drill replay DRILL.sqlite --db LIVE --out NEW.sqlite [--force]";

typedef struct drill_args {
    const char *verb, *file, *out, *db, *speed, *start;
    situ_drill_csv_opts csv;
    const char *objectives[100];
    const char *area[1000];
    char *area_text;
    int force;
} drill_args;

/* ---- output ------------------------------------------------------------------- */

static int fault_order(const void *pa, const void *pb)
{
    const situ_drill_fault *a = *(const situ_drill_fault *const *)pa;
    const situ_drill_fault *b = *(const situ_drill_fault *const *)pb;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return a < b ? -1 : a > b;
}

static void print_faults(const char *file, const situ_drill_scenario *s)
{
    const situ_drill_fault **v = malloc((size_t)s->nfaults * sizeof *v);
    for (int i = 0; v && i < s->nfaults; i++)
        v[i] = &s->faults[i];
    if (v)
        qsort(v, (size_t)s->nfaults, sizeof *v, fault_order);
    fprintf(stderr, "situ drill: %s: %d fault%s\n", file, s->nfaults, s->nfaults == 1 ? "" : "s");
    for (int i = 0; v && i < s->nfaults; i++) {
        if (v[i]->index < 0)
            fprintf(stderr, "  scenario %s: %s\n", v[i]->field, v[i]->reason);
        else
            fprintf(stderr, "  inject %d (%s) %s: %s\n", v[i]->index,
                    v[i]->inject[0] ? v[i]->inject : "no id", v[i]->field, v[i]->reason);
    }
    free(v);
}

/* "name n, name n" of the distinct values get(i) over the injects, by first use. */
static void print_counts(const char *label, const situ_drill_scenario *s, int by_dept)
{
    const char *names[64];
    int counts[64], n = 0;
    for (int i = 0; i < s->n; i++) {
        const char *v = by_dept ? s->injects[i].dept : s->injects[i].event_type;
        int k = 0;
        while (k < n && strcmp(names[k], v))
            k++;
        if (k == n && n < 64)
            names[n] = v, counts[n++] = 0;
        if (k < n)
            counts[k]++;
    }
    printf("%-12s", label);
    for (int k = 0; k < n; k++)
        printf("%s%s %d", k ? ", " : " ", names[k], counts[k]);
    printf("\n");
}

static void print_summary(const situ_drill_scenario *s, const char *checked)
{
    char first[48], last[48];
    situ_drill_duration_format(s->injects[0].offset_ms, first);
    situ_drill_duration_format(s->injects[s->n - 1].offset_ms, last);
    printf("%s  %s\n", s->exercise_id, s->title);
    printf("%-12s %d over %s .. %s\n", "injects", s->n, first, last);
    print_counts("departments", s, 1);
    print_counts("kinds", s, 0);
    printf("%-12s", "area");
    for (int i = 0; i < s->narea; i++)
        printf(" %s", s->area[i]);
    printf("\n%-12s %s\n", "store", checked);
}

/* ---- the commands ------------------------------------------------------------- */

/* Loads and checks the scenario (against the store with --db); 0 valid,
 * 1 faults or not readable. */
static int load_checked(drill_args *a, situ_drill_scenario **out)
{
    situ_err err = {0};
    situ_store *st = NULL;
    situ_snapshot *snap = NULL;
    int gbk = 0;
    if (situ_drill_load(a->file, &a->csv, out, &gbk, &err)) {
        fprintf(stderr, "situ drill: %s: %s\n", a->file, err.msg);
        return 1;
    }
    if (gbk)
        fprintf(stderr, "situ drill: %s: read as GBK (not UTF-8)\n", a->file);
    if (a->db && situ_cli_open(a->db, SITU_STORE_READONLY, &st))
        return 1;
    if (st && situ_snapshot_load(st, &snap, &err)) {
        fprintf(stderr, "situ drill: %s: %s\n", situ_cli_db_name(a->db, st), err.msg);
        situ_store_close(st);
        return 1;
    }
    int rc = situ_drill_check(*out, snap, &err);
    situ_snapshot_release(snap);
    situ_store_close(st);
    if (rc)
        return fprintf(stderr, "situ drill: %s\n", err.msg), 1;
    if ((*out)->nfaults)
        print_faults(a->file, *out);
    return (*out)->nfaults ? 1 : 0;
}

static int drill_check(drill_args *a)
{
    situ_drill_scenario *s = NULL;
    int rc = load_checked(a, &s);
    if (!rc) {
        char checked[4200];
        snprintf(checked, sizeof checked, "%s%s",
                 a->db ? "references checked against " : "references not checked (give --db FILE)",
                 a->db ? a->db : "");
        print_summary(s, checked);
        printf("ok\n");
    }
    situ_drill_free(s);
    return rc;
}

/* Writes b beside out, synced, then renames it into place. */
static int write_atomic(const situ_buf *b, const char *out)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
    FILE *f = b->oom ? NULL : fopen(tmp, "wb");
    int ok = f && fwrite(b->p, 1, b->n, f) == b->n;
    ok = f && !fclose(f) && ok && !situ_fs_sync(tmp, 0) && !rename(tmp, out);
    if (!ok) {
        perror(out);
        unlink(tmp);
    }
    return ok ? 0 : 1;
}

static int write_json(const situ_drill_scenario *s, const char *out)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_drill_json(s, &b);
    int rc = write_atomic(&b, out);
    situ_buf_dispose(&b);
    return rc;
}

static int drill_import(drill_args *a)
{
    struct stat sb;
    if (!a->out)
        return fprintf(stderr, "usage: situ drill %s\n", usage), 2;
    if (!a->force && !stat(a->out, &sb))
        return fprintf(stderr, "situ drill: %s exists (--force to replace it)\n", a->out), 1;
    situ_drill_scenario *s = NULL;
    int rc = load_checked(a, &s);
    if (!rc && !(rc = write_json(s, a->out)))
        printf("%s: %d injects from %s\n", a->out, s->n, a->file);
    situ_drill_free(s);
    return rc;
}

/* ---- playing ------------------------------------------------------------------- */

/* The scenario start of --start (RFC 3339), or now; 2 when malformed. */
static int start_time(const drill_args *a, long long *out_s)
{
    char norm[32];
    if (!a->start) {
        *out_s = (long long)time(NULL);
        return 0;
    }
    if (!situ_feed_time(a->start, norm, out_s))
        return 0;
    fprintf(stderr,
            "situ drill: --start '%s' must be an RFC 3339 time such as "
            "2026-06-18T06:00:00+08:00\n",
            a->start);
    return 2;
}

static void print_results(situ_store *st, const char *out, double seconds)
{
    situ_db_stmt *q = NULL;
    printf("%s: drill played in %.2f s:", out, seconds);
    if (!situ_db_prepare(situ_store_sql(st),
                         "SELECT result, count(*) FROM drill_record WHERE action = 'inject' "
                         "GROUP BY result ORDER BY result",
                         &q, NULL))
        while (situ_db_step(q) == SITU_DB_ROW)
            printf(" %s %lld", situ_db_column_text(q, 0), situ_db_column_int64(q, 1));
    printf("\n");
    situ_db_finalize(q);
}

/* One line per row of the record as it is written: the progress of a
 * drill that may run for hours. ctx is the statement reading a row. */
static void print_row(void *ctx, long long seq)
{
    situ_db_stmt *q = ctx;
    char off[48];
    situ_db_bind_int64(q, 1, seq);
    if (situ_db_step(q) == SITU_DB_ROW) {
        situ_drill_duration_format(situ_db_column_int64(q, 0), off);
        printf("%-10s %-10s", off, situ_db_column_text(q, 1));
        for (int k = 2; k < 7; k++)
            if (*situ_db_column_text(q, k))
                printf(" %s", situ_db_column_text(q, k));
        printf("\n");
        fflush(stdout);
    }
    situ_db_reset(q);
}

/* Plays scenario s into the drill store a->out, headless on the real clock. */
static int play(const drill_args *a, const situ_drill_scenario *s, int speed, long long start_s)
{
    situ_err err = {0};
    situ_store *st = NULL;
    situ_drill_play *p = NULL;
    situ_db_stmt *q = NULL;
    situ_drill_play_opts o = {.speed = speed, .start_s = start_s, .recorded = print_row};
    const situ_drill_clock *clk = situ_drill_clock_real();
    double t0 = situ_clock_s();
    int rc = situ_store_open(a->out, 0, &st, &err);
    if (!rc)
        rc = situ_db_prepare(situ_store_sql(st),
                             "SELECT scenario_ms, action, coalesce(inject_id, ''), "
                             "coalesce(dept, ''), coalesce(kind, ''), result, "
                             "coalesce(reason, detail, '') FROM drill_record WHERE seq = ?1",
                             &q, &err);
    o.ctx = q;
    if (!rc)
        rc = situ_drill_play_open(st, s, &o, clk->now_ms(clk->ctx), &p, &err);
    if (!rc)
        rc = situ_drill_play_run(p, clk, &err);
    if (rc)
        fprintf(stderr, "situ drill: %s: %s\n", a->out, err.msg);
    else
        print_results(st, a->out, situ_clock_s() - t0);
    situ_drill_play_free(p);
    situ_db_finalize(q);
    situ_store_close(st);
    return rc ? 1 : 0;
}

static int drill_start(drill_args *a)
{
    situ_err err = {0};
    int speed = SITU_DRILL_SPEED_MAX, rc;
    long long start_s;
    if (!a->file || !a->db || !a->out)
        return 2;
    if (a->speed && situ_drill_speed_parse(a->speed, &speed, &err))
        return fprintf(stderr, "situ drill: --speed %s\n", err.msg), 2;
    if ((rc = start_time(a, &start_s)))
        return rc;
    situ_drill_scenario *s = NULL;
    if (!(rc = load_checked(a, &s)) && situ_drill_store_create(a->db, a->out, s, a->force, &err)) {
        fprintf(stderr, "situ drill: %s: %s\n", a->out, err.msg);
        rc = 1;
    }
    if (!rc)
        rc = play(a, s, speed, start_s);
    situ_drill_free(s);
    return rc;
}

static int drill_record(drill_args *a)
{
    situ_err err = {0};
    situ_store *st = NULL;
    if (!a->db || a->file)
        return 2;
    size_t n = a->out ? strlen(a->out) : 0;
    int csv = n >= 4 && !strcasecmp(a->out + n - 4, ".csv"), rc;
    if (situ_cli_open(a->db, SITU_STORE_READONLY, &st))
        return 1;
    situ_buf b;
    situ_buf_init(&b);
    rc = csv ? situ_drill_record_csv(st, &b, &err) : situ_drill_record_geojson(st, &b, &err);
    if (rc)
        fprintf(stderr, "situ drill: %s: %s\n", a->db, err.msg);
    else if (a->out)
        rc = write_atomic(&b, a->out);
    else
        rc = fwrite(b.p, 1, b.n, stdout) != b.n;
    situ_buf_dispose(&b);
    situ_store_close(st);
    return rc ? 1 : 0;
}

static int drill_replay(drill_args *a)
{
    situ_err err = {0};
    situ_store *src = NULL, *dst = NULL;
    situ_drill_scenario *s = NULL;
    int n = 0, rc = 0;
    double t0 = situ_clock_s();
    if (!a->file || !a->db || !a->out)
        return 2;
    if (situ_cli_open(a->file, SITU_STORE_READONLY, &src))
        return 1;
    if (situ_drill_store_scenario(src, &s, &err)) {
        fprintf(stderr, "situ drill: %s: %s\n", a->file, err.msg);
        rc = 1;
    }
    if (!rc && (situ_drill_store_create(a->db, a->out, s, a->force, &err) ||
                situ_store_open(a->out, 0, &dst, &err) || situ_drill_replay(src, dst, &n, &err))) {
        fprintf(stderr, "situ drill: %s: %s\n", a->out, err.msg);
        rc = 1;
    }
    if (!rc)
        printf("%s: %d injects and posts replayed from %s in %.2f s\n", a->out, n, a->file,
               situ_clock_s() - t0);
    situ_store_close(dst);
    situ_store_close(src);
    situ_drill_free(s);
    return rc;
}

/* ---- arguments ---------------------------------------------------------------- */

static int split_area(drill_args *a, const char *text)
{
    free(a->area_text);
    a->area_text = strdup(text);
    a->csv.narea = 0;
    for (char *save, *t = strtok_r(a->area_text, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (a->csv.narea < 1000)
            a->area[a->csv.narea++] = t;
    a->csv.area = a->area;
    return 0;
}

static int parse_args(int argc, char **argv, drill_args *a)
{
    static const struct option opts[] = {{"db", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"exercise-id", required_argument, 0, 'x'},
                                         {"title", required_argument, 0, 't'},
                                         {"area", required_argument, 0, 'a'},
                                         {"objective", required_argument, 0, 'j'},
                                         {"force", no_argument, 0, 'f'},
                                         {"speed", required_argument, 0, 's'},
                                         {"start", required_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'x':
            a->csv.exercise_id = optarg;
            break;
        case 't':
            a->csv.title = optarg;
            break;
        case 'a':
            split_area(a, optarg);
            break;
        case 'f':
            a->force = 1;
            break;
        case 's':
            a->speed = optarg;
            break;
        case 'S':
            a->start = optarg;
            break;
        case 'j':
            if (a->csv.nobjectives < 100)
                a->objectives[a->csv.nobjectives++] = optarg;
            a->csv.objectives = a->objectives;
            break;
        case 'h':
            printf("usage: situ drill %s\n"
                   "check validates a scenario (JSON, or the CSV planners write) as the feeds "
                   "would at each inject's time,\nnaming the inject and the field of every "
                   "fault; with --db also what the store must hold.\nimport writes a CSV "
                   "scenario as JSON (payloads inline), only when it is valid.\nstart copies "
                   "the live store (--db) to --out and plays the scenario into that copy at "
                   "--speed\n(1 to 60 times real time, or max), from --start (now); the live "
                   "store is only read.\nrecord writes the drill's record as GeoJSON (a "
                   "timeline) or CSV (expected against done, by inject).\nreplay plays a "
                   "drill's record again into a new copy of the live store.\n",
                   usage);
            return 0;
        default:
            return 2;
        }
    }
    if (optind + 1 != argc && optind + 2 != argc)
        return 2;
    a->verb = argv[optind], a->file = optind + 1 < argc ? argv[optind + 1] : NULL;
    return -1;
}

int situ_cli_drill(int argc, char **argv)
{
    drill_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0 && !a.file && strcmp(a.verb, "record"))
        rc = 2;
    if (rc < 0) {
        if (!a.csv.exercise_id && a.file) { /* a CSV names no exercise: its file name does */
            const char *base = strrchr(a.file, '/');
            a.csv.exercise_id = base ? base + 1 : a.file;
        }
        a.csv.title = a.csv.title ? a.csv.title : a.csv.exercise_id;
        rc = !strcmp(a.verb, "check")    ? drill_check(&a)
             : !strcmp(a.verb, "import") ? drill_import(&a)
             : !strcmp(a.verb, "start")  ? drill_start(&a)
             : !strcmp(a.verb, "record") ? drill_record(&a)
             : !strcmp(a.verb, "replay") ? drill_replay(&a)
                                         : 2;
    }
    if (rc == 2)
        fprintf(stderr, "usage: situ drill %s\n", usage);
    free(a.area_text);
    return rc;
}

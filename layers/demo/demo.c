/*
 * demo.c: `situ demo`, the Yongzhou demo data set. Owns the order of the
 * work: build the base city once (demo_city.c), then for each copy run the
 * collection generators, which stream their features to the writers
 * (demo_out.c), and its named places (demo_places.c, places.geojson),
 * then departments.csv and manifest.ini. Copy 0 is Yongzhou
 * with its real codes; copy k > 0 sits on a grid across China, nearest
 * first, with codes 9KKKCCTTT (KKK = k, CCTTT = the real code's last five
 * digits). Same seed and scale, same bytes: nothing reads the clock.
 * Entry point: situ_demo_write.
 */
#include "situ/demo.h"

#include "demo_int.h"

#include <errno.h>
#include <gdal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cpl_error.h>

static const struct {
    situ_coll_id cid;
    int (*run)(situ__demo_gen *g, situ_err *err);
} generators[] = {
    {SITU_C_TOWNSHIPS, situ__demo_gen_townships},
    {SITU_C_RISK_ZONES, situ__demo_gen_risk_zones},
    {SITU_C_HAZARDS, situ__demo_gen_hazards},
    {SITU_C_HAZARD_SOURCES, situ__demo_gen_hazard_sources},
    {SITU_C_RESOURCES, situ__demo_gen_resources},
    {SITU_C_STATIONS, situ__demo_gen_stations},
    {SITU_C_ROADS, situ__demo_gen_roads},
};

/* ---- where copies go --------------------------------------------------------- */

/* Slots of 1.7 x 2.4 degrees, aligned so that Yongzhou (lon 111.0, lat 24.6)
 * is slot (22, 2). Rows 0..13 cover China (lon 73.6-134.8, lat 19.8-53.4)
 * and are used first; more copies go to the rows beyond. */
#define SLOT_W 1.7
#define SLOT_H 2.4
#define SLOT_COLS 36
#define SLOT_ROW0 (-8)
#define SLOT_ROWS 34
#define HOME_COL 22
#define HOME_ROW 2
_Static_assert(SITU_DEMO_MAX_SCALE <= SLOT_COLS * SLOT_ROWS, "a slot for every copy");
_Static_assert(SITU_DEMO_MAX_SCALE <= 1000, "copy numbers have three digits");

typedef struct slot {
    int col, row;
    long key;
} slot;

static long slot_key(int col, int row)
{
    long dx = 17L * (col - HOME_COL), dy = 24L * (row - HOME_ROW);
    int outside = row < 0 || row > 13;
    return (long)outside << 40 | (dx * dx + dy * dy) << 12 | (long)(row - SLOT_ROW0) << 6 | col;
}

static int slot_cmp(const void *a, const void *b)
{
    long ka = ((const slot *)a)->key, kb = ((const slot *)b)->key;
    return (ka > kb) - (ka < kb);
}

/* The offsets (degrees) of copies 0..n-1; n <= SLOT_COLS * SLOT_ROWS. */
static int copy_offsets(int n, double *dx, double *dy)
{
    slot *s = malloc(SLOT_COLS * SLOT_ROWS * sizeof *s);
    if (!s)
        return SITU_ENOMEM;
    for (int r = 0; r < SLOT_ROWS; r++)
        for (int c = 0; c < SLOT_COLS; c++)
            s[r * SLOT_COLS + c] = (slot){c, r + SLOT_ROW0, slot_key(c, r + SLOT_ROW0)};
    qsort(s, SLOT_COLS * SLOT_ROWS, sizeof *s, slot_cmp);
    for (int k = 0; k < n; k++) {
        dx[k] = SLOT_W * (s[k].col - HOME_COL);
        dy[k] = SLOT_H * (s[k].row - HOME_ROW);
    }
    free(s);
    return 0;
}

/* ---- codes of a copy ---------------------------------------------------------- */

typedef struct copy_names {
    char (*tcode)[10];
    char (*ccode)[8];
    char (*cname)[80];
} copy_names;

static int names_alloc(copy_names *n, const situ__demo_city *c)
{
    n->tcode = calloc((size_t)c->ntownships, sizeof *n->tcode);
    n->ccode = calloc((size_t)c->ncounties, sizeof *n->ccode);
    n->cname = calloc((size_t)c->ncounties, sizeof *n->cname);
    return n->tcode && n->ccode && n->cname ? 0 : SITU_ENOMEM;
}

static void names_free(copy_names *n)
{
    free(n->tcode), free(n->ccode), free(n->cname);
}

static void names_for_copy(copy_names *n, const situ__demo_city *c, int k)
{
    for (int i = 0; i < c->ntownships; i++) {
        const char *code = c->townships[i].code;
        if (k == 0)
            snprintf(n->tcode[i], sizeof n->tcode[i], "%s", code);
        else
            snprintf(n->tcode[i], sizeof n->tcode[i], "9%03u%.5s", (unsigned)k % 1000u, code + 4);
    }
    for (int i = 0; i < c->ncounties; i++) {
        const situ__demo_county *cty = &c->counties[i];
        if (k == 0) {
            snprintf(n->ccode[i], sizeof n->ccode[i], "%s", cty->code);
            snprintf(n->cname[i], sizeof n->cname[i], "%s", cty->name);
        } else {
            snprintf(n->ccode[i], sizeof n->ccode[i], "9%03u%.2s", (unsigned)k % 1000u,
                     cty->code + 4);
            snprintf(n->cname[i], sizeof n->cname[i], "%s#%d", cty->name, k);
        }
    }
}

/* ---- the run ------------------------------------------------------------------ */

static int make_dirs(const char *dir, situ_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return situ_err_set(err, SITU_EIO, "cannot create %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return situ_err_set(err, SITU_EIO, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

static int check_opts(const situ_demo_opts *o, situ_err *err)
{
    if (!o || !o->out_dir || !*o->out_dir || !o->geodata_dir || !*o->geodata_dir)
        return situ_err_set(err, SITU_EINVAL, "demo: out_dir and geodata_dir are required");
    if (o->scale < 1 || o->scale > SITU_DEMO_MAX_SCALE)
        return situ_err_set(err, SITU_EINVAL, "demo: scale must be 1..%d", SITU_DEMO_MAX_SCALE);
    if (strlen(o->out_dir) > 3000)
        return situ_err_set(err, SITU_EINVAL, "demo: out_dir too long");
    return 0;
}

static int run_copies(situ__demo_gen *g, const situ_demo_opts *o, situ_err *err)
{
    copy_names names = {0};
    double *dx = malloc((size_t)o->scale * sizeof *dx);
    double *dy = malloc((size_t)o->scale * sizeof *dy);
    int rc = dx && dy ? names_alloc(&names, g->city) : SITU_ENOMEM;
    if (!rc)
        rc = copy_offsets(o->scale, dx, dy);
    if (rc)
        situ_err_set(err, rc, "out of memory");
    g->tcode = names.tcode, g->ccode = names.ccode, g->cname = names.cname;
    for (int k = 0; !rc && k < o->scale; k++) {
        names_for_copy(&names, g->city, k);
        g->copy = k, g->dx = dx[k], g->dy = dy[k];
        for (size_t i = 0; !rc && i < sizeof generators / sizeof generators[0]; i++)
            rc = generators[i].run(g, err);
        if (!rc)
            rc = situ__demo_gen_places(g, err);
    }
    situ__demo_feat_reset(&g->feat, NULL);
    free(g->pts);
    g->pts = NULL;
    names_free(&names);
    free(dx), free(dy);
    return rc;
}

/* See situ/demo.h. GDAL's messages are kept quiet for the call (the last
 * one goes into err); the base city is freed before returning. */
int situ_demo_write(const situ_demo_opts *o, situ_demo_stats *out_stats, situ_err *err)
{
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    GDALAllRegister();
    CPLPushErrorHandler(CPLQuietErrorHandler);
    situ__demo_city city;
    situ__demo_out *out = NULL;
    situ_demo_stats st = {{0}};
    rc = make_dirs(o->out_dir, err);
    if (!rc)
        rc = situ__demo_city_load(&city, o->geodata_dir, o->seed, err);
    if (rc)
        goto done;
    situ__demo_gen g = {.city = &city, .seed = o->seed, .count = st.count};
    rc = situ__demo_out_open(o->out_dir, o->scale, &out, err);
    g.out = out;
    if (!rc)
        rc = situ__demo_places_open(&g, o->out_dir, err);
    if (!rc)
        rc = run_copies(&g, o, err);
    int rc2 = situ__demo_places_close(&g, !rc, rc ? NULL : err);
    rc = rc ? rc : rc2;
    rc2 = situ__demo_out_close(out, !rc, rc ? NULL : err);
    rc = rc ? rc : rc2;
    if (!rc)
        rc = situ__demo_out_departments(o->out_dir, err);
    if (!rc)
        rc = situ__demo_out_manifest(o->out_dir, o, err);
    situ__demo_city_dispose(&city);
done:
    CPLPopErrorHandler();
    if (!rc && out_stats)
        *out_stats = st;
    return rc;
}

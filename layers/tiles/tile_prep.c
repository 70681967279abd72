/*
 * tile_prep.c: preparing a collection for tiling (situ_tilesrc_new). Owns
 * what is computed once per situ_coll so that a tile only filters and
 * copies: per-vertex Visvalingam-Whyatt importance (of the Web Mercator
 * points, which a tile projects again from the collection's as it takes them),
 * ring and feature boxes, feature ids, the property key table, the
 * aggregate rows, and whether the ids stand apart from every other text
 * of the collection (ids_apart: then a tile writes ids without a lookup).
 * The property values are not copied: a tile encodes the
 * ones it writes from the collection's (tile.c), so that a collection read
 * back from a snapshot file is not held a second time in the heap; but a
 * text key of at most 255 values (level, status, kind) is coded, a byte
 * per feature and its few values kept (build_texts), so that a tile writes
 * it without reading the collection's bytes; and a text of a key of more
 * values that equals no other text of the collection is marked apart, a
 * bit per feature (build_apart), so that a tile writes it without
 * looking it up.
 * The next version of a collection (situ_tilesrc_new_from) copies from the
 * previous one what its unchanged features had prepared, by the lineage
 * situ_coll_update records (situ_coll.base_of): a feed batch prepares the
 * features it named, not the collection. When in doubt (no lineage, other
 * keys) it builds in full.
 * Does not cut tiles (tile.c) or touch the ring pipeline (tile_geom.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "situ/admin.h"
#include "situ/mvt.h"
#include "tile_private.h"

uint64_t situ__tile_hash(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

uint64_t situ_tile_feature_id(const char *id)
{
    uint64_t h = situ__tile_hash(id, strlen(id)) & ((1ULL << 53) - 1);
    return h ? h : 1;
}

/* ---- keys ------------------------------------------------------------------ */

static const char *ftype_json(situ_ftype t)
{
    return t == SITU_FT_TEXT ? "String" : t == SITU_FT_BOOL ? "Boolean" : "Number";
}

static void add_key(tile_key *keys, int *n, int max, const char *name, const char *suffix,
                    const char *type, tile_agg agg, int arg)
{
    if (*n >= max)
        return;
    tile_key *k = &keys[(*n)++];
    snprintf(k->name, sizeof k->name, "%s%s", name, suffix);
    k->len = strlen(k->name);
    k->type = type;
    k->agg = agg;
    k->arg = arg;
    k->slot = -1;
}

/* The properties a collection's tiles carry, when not every key: a road
 * network has a hundred thousand features, and the wall styles them by
 * class, status and bridge/tunnel; speed, ferry duration, layer, closing
 * department and township are for routing and the items route, not the
 * map. A collection not listed carries every key. */
static const char *const road_tile_keys[] = {
    "id",     "name",          "ref",          "class",  "oneway",
    "status", "closed_reason", "closed_until", "bridge", "tunnel",
};
static const struct {
    situ_coll_id cid;
    const char *const *keys;
    size_t nkeys;
} tile_key_lists[] = {
    {SITU_C_ROADS, road_tile_keys, sizeof road_tile_keys / sizeof road_tile_keys[0]},
};

/* 1 when collection c's tiles leave out the key named name. */
static int key_left_out(const situ_collection *c, const char *name)
{
    for (size_t i = 0; i < sizeof tile_key_lists / sizeof tile_key_lists[0]; i++) {
        if (tile_key_lists[i].cid != c->cid)
            continue;
        for (size_t k = 0; k < tile_key_lists[i].nkeys; k++)
            if (!strcmp(tile_key_lists[i].keys[k], name))
                return 0;
        return 1;
    }
    return 0;
}

/* Per value of one field, the lowest zoom a feature is drawn at: below z9
 * the roads layer is the trunk network (expressway, national and
 * provincial roads: the city at a glance stays light), county and
 * township roads and ferries (a river crossing) join at z9, village, urban
 * and service roads at z11. Values not listed: the collection's minzoom. */
static const struct {
    situ_coll_id cid;
    const char *field, *value;
    int minzoom;
} value_minzoom[] = {
    {SITU_C_ROADS, "class", "county", 9}, {SITU_C_ROADS, "class", "township", 9},
    {SITU_C_ROADS, "class", "ferry", 9},  {SITU_C_ROADS, "class", "village", 11},
    {SITU_C_ROADS, "class", "urban", 11}, {SITU_C_ROADS, "class", "service", 11},
};
#define NVALUE_MINZOOM (sizeof value_minzoom / sizeof value_minzoom[0])

int situ__tile_feature_minzoom(const situ_coll *c, const situ_feature *f)
{
    for (size_t i = 0; i < NVALUE_MINZOOM; i++) {
        if (value_minzoom[i].cid != c->c->cid)
            continue;
        int k = situ_schema_field_index(c->c, value_minzoom[i].field);
        const situ_value *v = k >= 0 ? &f->values[k] : NULL;
        if (v && v->type == SITU_FT_TEXT && v->u.s && !strcmp(v->u.s, value_minzoom[i].value))
            return value_minzoom[i].minzoom;
    }
    return 0;
}

void situ__tile_minzoom_text(const situ_collection *c, situ_buf *b)
{
    int last = -1;
    for (size_t i = 0; i < NVALUE_MINZOOM; i++) {
        if (value_minzoom[i].cid != c->cid)
            continue;
        if (value_minzoom[i].minzoom != last)
            situ_buf_printf(
                b, "%s from zoom %d: %s=%s", last < 0 ? ". Minor features come later:" : ";",
                value_minzoom[i].minzoom, value_minzoom[i].field, value_minzoom[i].value);
        else
            situ_buf_printf(b, ", %s", value_minzoom[i].value);
        last = value_minzoom[i].minzoom;
    }
}

/* The counts by level and status that aggregates carry, as
 * `<field>_<value>` (the duty officer's "how many major, how many open"). */
static const struct {
    situ_coll_id cid;
    const char *field, *value;
} value_counts[] = {
    {SITU_C_RISK_ZONES, "risk_level", "1"},   {SITU_C_HAZARDS, "level", "major"},
    {SITU_C_HAZARDS, "status", "open"},       {SITU_C_HAZARDS, "status", "rectifying"},
    {SITU_C_HAZARD_SOURCES, "grade", "1"},    {SITU_C_HAZARD_SOURCES, "grade", "2"},
    {SITU_C_RESOURCES, "category", "team"},   {SITU_C_RESOURCES, "category", "depot"},
    {SITU_C_RESOURCES, "status", "deployed"}, {SITU_C_STATIONS, "status", "warning"},
    {SITU_C_STATIONS, "status", "alarm"},     {SITU_C_STATIONS, "status", "offline"},
};

/* The keys an urgent feature keeps among aggregates. */
static int slim_key(const char *name)
{
    return !strcmp(name, "id") || !strcmp(name, "level") || !strcmp(name, "status") ||
           !strcmp(name, "deadline");
}

int situ__tile_keys(const situ_collection *c, tile_key *keys, int max)
{
    int n = 0;
    add_key(keys, &n, max, "id", "", "String", TILE_AGG_NONE, 0);
    add_key(keys, &n, max, "township_code", "", "String", TILE_AGG_NONE, 0);
    for (int i = 0; i < c->nfields; i++)
        add_key(keys, &n, max, c->fields[i].name, "", ftype_json(c->fields[i].type), TILE_AGG_NONE,
                i);
    if (c->cid == SITU_C_RESOURCES)
        for (int i = 0; i < situ_schema_nitems(); i++)
            add_key(keys, &n, max, "item_", situ_schema_item(i)->code, "Number", TILE_AGG_ITEM, i);
    add_key(keys, &n, max, "cluster", "", "Boolean", TILE_AGG_CLUSTER, 0);
    add_key(keys, &n, max, "point_count", "", "Number", TILE_AGG_COUNT, 0);
    add_key(keys, &n, max, "ids", "", "String", TILE_AGG_IDS, 0);
    for (int i = 0; i < c->nfields; i++) {
        const situ_field *f = &c->fields[i];
        if (f->type != SITU_FT_INT)
            continue;
        int ranged = f->domain && strstr(f->domain, "..");
        add_key(keys, &n, max, f->name, ranged ? "_min" : "_sum", "Number",
                ranged ? TILE_AGG_MIN : TILE_AGG_SUM, i);
    }
    for (size_t v = 0; v < sizeof value_counts / sizeof value_counts[0]; v++) {
        int fi =
            value_counts[v].cid == c->cid ? situ_schema_field_index(c, value_counts[v].field) : -1;
        char suffix[40];
        snprintf(suffix, sizeof suffix, "_%s", value_counts[v].value);
        if (fi >= 0 && n < max) {
            add_key(keys, &n, max, value_counts[v].field, suffix, "Number", TILE_AGG_VCOUNT, fi);
            keys[n - 1].value = value_counts[v].value;
        }
    }
    if (c->cid == SITU_C_HAZARDS) {
        add_key(keys, &n, max, "overdue", "", "Number", TILE_AGG_OVERDUE,
                situ_schema_field_index(c, "status"));
        add_key(keys, &n, max, "urgent", "", "Number", TILE_AGG_URGENT, 0);
    }
    for (int k = 0, slot = 0; k < n; k++) {
        keys[k].slim = keys[k].agg == TILE_AGG_NONE && slim_key(keys[k].name);
        /* an aggregate goes with its field */
        int of_field = keys[k].agg == TILE_AGG_MIN || keys[k].agg == TILE_AGG_SUM ||
                       keys[k].agg == TILE_AGG_VCOUNT || keys[k].agg == TILE_AGG_OVERDUE;
        keys[k].skip = key_left_out(c, of_field                       ? c->fields[keys[k].arg].name
                                       : keys[k].agg == TILE_AGG_NONE ? keys[k].name
                                                                      : "");
        if (of_field || keys[k].agg == TILE_AGG_ITEM)
            keys[k].slot = slot++;
    }
    return n;
}

void situ_tile_fields(const situ_collection *c,
                      void (*fn)(void *ctx, const char *key, const char *type, int cluster_only),
                      void *ctx)
{
    tile_key keys[SITU_TILE_MAXKEYS];
    int n = situ__tile_keys(c, keys, SITU_TILE_MAXKEYS);
    for (int i = 0; i < n; i++)
        if (!keys[i].skip)
            fn(ctx, keys[i].name, keys[i].type,
               keys[i].agg != TILE_AGG_NONE && keys[i].agg != TILE_AGG_ITEM);
}

/* The key of the first item_<code> (resources), or -1. */
static int item_key0_of(const situ_tilesrc *s)
{
    for (int k = 0; k < s->nkeys; k++)
        if (s->keys[k].agg == TILE_AGG_ITEM)
            return k;
    return -1;
}

/* ---- aggregate rows ---------------------------------------------------------- */

/* The end of the run of features carried over from feature i of c (d
 * NULL: none is): features i .. end - 1 are prev's base_of[i] .. in order,
 * so what was prepared for them is copied in one piece. i when feature i
 * is not carried over. */
static size_t carried_run(const situ_coll *c, const tile_diff *d, size_t i)
{
    if (!d || c->base_of[i] == SITU_COLL_NEW)
        return i;
    size_t j = i + 1;
    while (j < c->n && c->base_of[j] == c->base_of[i] + (j - i))
        j++;
    return j;
}

/* 1 when v is value (text, or an integer written in decimal). */
static int value_is(const situ_value *v, const char *value)
{
    if (v->type == SITU_FT_TEXT)
        return !strcmp(v->u.s, value);
    return v->type == SITU_FT_INT && v->u.i == strtoll(value, NULL, 10);
}

/* A hidden danger's deadline as YYYYMMDD while it is not rectified, else NaN. */
static double due_day(const situ_coll *c, const situ_feature *f, int status)
{
    int k = situ_schema_field_index(c->c, "deadline");
    const situ_value *st = &f->values[status], *dl = k >= 0 ? &f->values[k] : NULL;
    int y, m, d;
    if (st->type != SITU_FT_TEXT || !strcmp(st->u.s, "rectified") || !dl ||
        dl->type != SITU_FT_TEXT || sscanf(dl->u.s, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return NAN;
    return (double)(y * 10000 + m * 100 + d);
}

/* One aggregate row value of feature f for key. */
static double agg_value(const situ_coll *c, const situ_feature *f, const tile_key *key)
{
    if (key->agg == TILE_AGG_ITEM)
        return situ_coll_held(c, f, key->arg);
    if (key->agg == TILE_AGG_OVERDUE)
        return due_day(c, f, key->arg);
    const situ_value *v = &f->values[key->arg];
    if (key->agg == TILE_AGG_VCOUNT)
        return value_is(v, key->value);
    return v->type == SITU_FT_INT ? (double)v->u.i : NAN;
}

/* The aggregate rows clusters fold (see situ_tilesrc); a feature carried
 * over (d, from prev) gets prev's row. */
static int build_agg_rows(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d)
{
    const situ_coll *c = s->coll;
    s->due_slot = -1;
    for (int k = 0; k < s->nkeys; k++)
        if (s->keys[k].slot >= 0) {
            s->aggop[s->keys[k].slot] = s->keys[k].agg, s->nagg++;
            if (s->keys[k].agg == TILE_AGG_OVERDUE)
                s->due_slot = s->keys[k].slot;
        }
    size_t na = (size_t)s->nagg;
    if (!(s->aggv = malloc((c->n * na + 1) * sizeof *s->aggv)))
        return -1;
    for (size_t i = 0, end; i < c->n; i = end) {
        if ((end = carried_run(c, d, i)) > i) {
            memcpy(s->aggv + i * na, prev->aggv + c->base_of[i] * na,
                   (end - i) * na * sizeof *s->aggv);
            continue;
        }
        double *row = s->aggv + i * na;
        for (int k = 0; k < s->nkeys; k++)
            if (s->keys[k].slot >= 0)
                row[s->keys[k].slot] = agg_value(c, &c->feats[i], &s->keys[k]);
        end = i + 1;
        situ_coll_drop_pages_every(c, i);
    }
    s->bytes += c->n * na * sizeof(double);
    return 0;
}

/* ---- geometry -------------------------------------------------------------- */

void situ_tile_project(double lon, double lat, double *out_x, double *out_y)
{
    tile_project(lon, lat, out_x, out_y);
}

static void project_box(const double *ll, double *out)
{
    situ_tile_project(ll[0], ll[3], &out[0], &out[1]);
    situ_tile_project(ll[2], ll[1], &out[2], &out[3]);
}

/* 1 when features fa of a and fb of b have the same polygons, rings and
 * coordinates, bit for bit. */
static int same_geometry(const situ_coll *a, const situ_feature *fa, const situ_coll *b,
                         const situ_feature *fb)
{
    if (fa->npolys != fb->npolys)
        return 0;
    for (uint32_t p = 0; p < fa->npolys; p++) {
        const situ_poly *pa = &a->polys[fa->poly0 + p], *pb = &b->polys[fb->poly0 + p];
        if (pa->nrings != pb->nrings)
            return 0;
        for (uint32_t r = 0; r < pa->nrings; r++) {
            const situ_ring *ra = &a->rings[pa->ring0 + r], *rb = &b->rings[pb->ring0 + r];
            if (ra->n != rb->n || memcmp(a->xy + 2 * (size_t)ra->off, b->xy + 2 * (size_t)rb->off,
                                         2 * (size_t)ra->n * sizeof(double)))
                return 0;
        }
    }
    return 1;
}

/* Computes ring r's importance and box from its points projected into m
 * (scratch of 2 * its points; a tile projects them again as it takes them). */
static void prepare_ring(situ_tilesrc *s, size_t r, double *m, uint32_t *work)
{
    const situ_coll *c = s->coll;
    const situ_ring *ring = &c->rings[r];
    double *b = s->rbox + 4 * r;
    b[0] = b[1] = INFINITY, b[2] = b[3] = -INFINITY;
    for (uint32_t k = 0; k < ring->n; k++) {
        const double *ll = c->xy + 2 * ((size_t)ring->off + k);
        tile_project(ll[0], ll[1], &m[2 * k], &m[2 * k + 1]);
        b[0] = fmin(b[0], m[2 * k]), b[2] = fmax(b[2], m[2 * k]);
        b[1] = fmin(b[1], m[2 * k + 1]), b[3] = fmax(b[3], m[2 * k + 1]);
    }
    situ__ring_importance(m, ring->n, s->imp + ring->off, work);
}

/* Copies ring rp of prev's prepared data as ring r of s. */
static void copy_ring(situ_tilesrc *s, size_t r, const situ_tilesrc *prev, size_t rp)
{
    const situ_ring *ring = &s->coll->rings[r], *pr = &prev->coll->rings[rp];
    memcpy(s->imp + ring->off, prev->imp + pr->off, ring->n * sizeof *s->imp);
    memcpy(s->rbox + 4 * r, prev->rbox + 4 * rp, 4 * sizeof *s->rbox);
}

/* Prepares feature i's rings, copying them from prev when it is carried
 * over (d) or prev holds a feature of the same id and the same geometry. */
static void prepare_feature(situ_tilesrc *s, size_t i, const situ_tilesrc *prev, const tile_diff *d,
                            double *m, uint32_t *work)
{
    const situ_coll *c = s->coll;
    const situ_feature *f = &c->feats[i];
    uint32_t from = d ? c->base_of[i] : SITU_COLL_NEW;
    long j = from != SITU_COLL_NEW ? (long)from
             : prev && f->npolys   ? situ_coll_find(prev->coll, f->id)
                                   : -1;
    const situ_feature *g = j >= 0 ? &prev->coll->feats[j] : NULL;
    int reuse = g && (from != SITU_COLL_NEW || same_geometry(c, f, prev->coll, g));
    for (uint32_t p = 0; p < f->npolys; p++) {
        const situ_poly *poly = &c->polys[f->poly0 + p];
        for (uint32_t r = 0; r < poly->nrings; r++)
            if (reuse)
                copy_ring(s, poly->ring0 + r, prev, prev->coll->polys[g->poly0 + p].ring0 + r);
            else
                prepare_ring(s, poly->ring0 + r, m, work);
    }
}

/* Projects every point, computes ring importance and boxes; what prev
 * (or NULL) already prepared for an unchanged feature is copied (d: those
 * carried over, without comparing them). */
static int build_rings(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d)
{
    const situ_coll *c = s->coll;
    size_t npts = 0, nrings = 0, maxring = 0;
    for (size_t i = 0; i < c->n; i++) {
        for (uint32_t p = c->feats[i].poly0; p < c->feats[i].poly0 + c->feats[i].npolys; p++)
            for (uint32_t r = 0; r < c->polys[p].nrings; r++) {
                const situ_ring *ring = &c->rings[c->polys[p].ring0 + r];
                npts = ring->off + ring->n > npts ? ring->off + ring->n : npts;
                nrings = c->polys[p].ring0 + r + 1 > nrings ? c->polys[p].ring0 + r + 1 : nrings;
                maxring = ring->n > maxring ? ring->n : maxring;
            }
        situ_coll_drop_pages_every(c, i);
    }
    s->imp = malloc((npts + 1) * sizeof *s->imp);
    s->rbox = malloc((4 * nrings + 1) * sizeof *s->rbox);
    uint32_t *work = malloc((4 * maxring + 4) * sizeof *work);
    double *m = malloc((2 * maxring + 2) * sizeof *m);
    if (!s->imp || !s->rbox || !work || !m) {
        free(work), free(m);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        prepare_feature(s, i, prev, d, m, work);
        situ_coll_drop_pages_every(c, i);
    }
    free(work), free(m);
    s->bytes += npts * sizeof(float) + nrings * 4 * sizeof(double);
    s->nrings = nrings;
    return 0;
}

/* Keeps each ring's points at the tolerance of zooms z0 <= z < z1 (the
 * default options) in s->lod; 0 or -1 (out of memory). */
static int build_lod(situ_tilesrc *s, int z0, int z1)
{
    const situ_coll *c = s->coll;
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    for (int z = z0; z < z1; z++) {
        tile_lod *l = &s->lod[z];
        l->tol2 = situ__tile_tol2(o.simplify, z, o.extent);
        size_t kept = 0;
        for (size_t r = 0; r < s->nrings; r++)
            for (uint32_t i = 0; i + 1 < c->rings[r].n; i++)
                kept += s->imp[c->rings[r].off + i] > l->tol2;
        l->off = malloc((s->nrings + 1) * sizeof *l->off);
        l->idx = malloc((kept + 1) * sizeof *l->idx); /* keep writes one past */
        if (!l->off || !l->idx)
            return -1;
        l->off[0] = 0;
        for (size_t r = 0; r < s->nrings; r++)
            l->off[r + 1] =
                l->off[r] + (uint32_t)situ__ring_keep(s->imp + c->rings[r].off, c->rings[r].n,
                                                      l->tol2, l->idx + l->off[r]);
        s->bytes += (s->nrings + 1 + kept) * sizeof(uint32_t);
    }
    return 0;
}

const tile_lod *situ__tile_lod(const situ_tilesrc *src, int z, float tol2)
{
    if (z < 0 || z >= SITU_TILE_COUNTY_BELOW)
        return NULL;
    const tile_lod *l = &src->lod[z];
    return l->idx && l->tol2 == tol2 ? l : NULL;
}

/* Feature boxes, points, ids and minimum zooms; a feature carried over
 * (d, from prev) gets prev's. */
static int build_features(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d)
{
    const situ_coll *c = s->coll;
    s->fbox = malloc((4 * c->n + 1) * sizeof *s->fbox);
    s->fpt = malloc((2 * c->n + 1) * sizeof *s->fpt);
    s->fid = malloc((c->n + 1) * sizeof *s->fid);
    s->fminz = malloc(c->n + 1);
    if (!s->fbox || !s->fpt || !s->fid || !s->fminz)
        return -1;
    for (size_t i = 0, end; i < c->n; i = end) {
        if ((end = carried_run(c, d, i)) > i) {
            size_t from = c->base_of[i], n = end - i;
            memcpy(s->fbox + 4 * i, prev->fbox + 4 * from, 4 * n * sizeof *s->fbox);
            memcpy(s->fpt + 2 * i, prev->fpt + 2 * from, 2 * n * sizeof *s->fpt);
            memcpy(s->fid + i, prev->fid + from, n * sizeof *s->fid);
            memcpy(s->fminz + i, prev->fminz + from, n);
            s->ncarried += n;
            continue;
        }
        const situ_feature *f = &c->feats[i];
        end = i + 1;
        project_box(f->bbox, s->fbox + 4 * i);
        situ_tile_project(f->x, f->y, &s->fpt[2 * i], &s->fpt[2 * i + 1]);
        s->fid[i] = situ_tile_feature_id(f->id);
        s->fminz[i] = (uint8_t)situ__tile_feature_minzoom(c, f);
        situ_coll_drop_pages_every(c, i);
    }
    s->bytes += c->n * (6 * sizeof(double) + sizeof(uint64_t) + 1);
    return 0;
}

/* ---- ids apart ----------------------------------------------------------- */

/* Sets *sh from c's ids (suspects 0): their common prefix (up to 16 bytes)
 * and lengths. 0, or -1 when two ids are equal or c has none. */
static int id_shape_of(const situ_coll *c, tile_id_shape *sh)
{
    if (!c->n || !c->by_id)
        return -1;
    const char *first = c->feats[0].id;
    size_t plen = strnlen(first, sizeof sh->prefix);
    *sh = (tile_id_shape){.min_len = SIZE_MAX};
    for (size_t i = 0; i < c->n; i++) {
        const char *id = c->feats[c->by_id[i]].id;
        size_t n = strlen(id), k = 0;
        while (k < plen && id[k] == first[k])
            k++;
        plen = k;
        sh->min_len = n < sh->min_len ? n : sh->min_len;
        sh->max_len = n > sh->max_len ? n : sh->max_len;
        if (i && !strcmp(id, c->feats[c->by_id[i - 1]].id)) /* by_id is sorted */
            return -1;
        situ_coll_drop_pages_every(c, i);
    }
    memcpy(sh->prefix, first, plen);
    sh->plen = plen;
    return 0;
}

/* 1 when text z has the shape sh of the ids. */
static int like_an_id(const tile_id_shape *sh, const char *z)
{
    if (sh->plen && z[0] != sh->prefix[0]) /* most texts: no call */
        return 0;
    if (strncmp(z, sh->prefix, sh->plen))
        return 0;
    size_t n = strlen(z);
    return n >= sh->min_len && n <= sh->max_len;
}

/* The texts of a collection like its ids looked up one by one, up to this
 * many (a binary search each); past it, ids are not known apart. */
#define ID_SUSPECTS_MAX(n) ((n) / 8 + 64)

/* 0 when no text of feature f (township code, text fields) equals an id
 * of c; -1 when one does, or when too many texts are like the ids.
 * Counts in sh->suspects those like the ids. */
static int texts_apart(const situ_coll *c, const situ_feature *f, tile_id_shape *sh)
{
    for (int i = -1; i < c->c->nfields; i++) {
        const char *z = i < 0                               ? f->township_code
                        : f->values[i].type == SITU_FT_TEXT ? f->values[i].u.s
                                                            : NULL;
        if (!z || !like_an_id(sh, z))
            continue;
        if (++sh->suspects > ID_SUSPECTS_MAX(c->n) || situ_coll_find(c, z) >= 0)
            return -1;
    }
    return 0;
}

/* s->ids_apart and s->id_shape from every feature of s's collection. */
static void ids_apart_full(situ_tilesrc *s)
{
    const situ_coll *c = s->coll;
    s->ids_apart = 0;
    if (id_shape_of(c, &s->id_shape))
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (texts_apart(c, &c->feats[i], &s->id_shape))
            return;
        situ_coll_drop_pages_every(c, i);
    }
    s->ids_apart = 1;
}

/* s->ids_apart and s->id_shape from prev's and the features that came (d):
 * when prev's ids were apart and none of its texts was like them, only
 * the features that came are checked (their ids must have prev's shape,
 * their texts must not equal an id); otherwise all of them. */
static void ids_apart_from(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d)
{
    const situ_coll *c = s->coll;
    if (!d || !prev->ids_apart || prev->id_shape.suspects || !c->by_id) {
        ids_apart_full(s);
        return;
    }
    s->id_shape = prev->id_shape;
    s->ids_apart = 0;
    for (size_t k = 0; k < d->ncame; k++) {
        const situ_feature *f = &c->feats[d->came[k]];
        if (!like_an_id(&s->id_shape, f->id)) { /* another shape: look at all */
            ids_apart_full(s);
            return;
        }
        if (situ_coll_find(c, f->id) != (long)d->came[k] || texts_apart(c, f, &s->id_shape))
            return;
    }
    s->ids_apart = 1;
}

/* ---- few-valued texts ------------------------------------------------------ */

/* The bytes a key's values may take in all, past which it is left uncoded. */
#define TILE_CODES_BYTES 65536

/* Feature f's text of key k (1: its township code, 2 + i: text field i):
 * 0 and *out_z (NULL when it has none: a NULL, no township), or -1 when
 * the value is neither text nor NULL. */
static int key_text(const situ_feature *f, int k, const char **out_z)
{
    if (k == 1) {
        *out_z = f->township_code[0] ? f->township_code : NULL;
        return 0;
    }
    const situ_value *v = &f->values[k - 2];
    *out_z = v->type == SITU_FT_TEXT ? v->u.s : NULL;
    return v->type == SITU_FT_TEXT || v->type == 0 ? 0 : -1;
}

/* 1 when key k of s is a text its tiles carry: the township code or a
 * text field. */
static int text_key(const situ_tilesrc *s, int k)
{
    const situ_collection *c = s->coll->c;
    if (s->keys[k].skip || s->keys[k].agg != TILE_AGG_NONE)
        return 0;
    return k == 1 || (k >= 2 && k < 2 + c->nfields && c->fields[k - 2].type == SITU_FT_TEXT);
}

static void codes_free(tile_codes *t)
{
    if (t)
        free(t->code), free(t->bytes), free(t);
}

/* Codes for n features: a copy of was's values (NULL: none), no feature
 * coded. NULL when out of memory. */
static tile_codes *codes_new(const tile_codes *was, size_t n)
{
    tile_codes *t = was ? malloc(sizeof *t) : calloc(1, sizeof *t);
    if (!t)
        return NULL;
    if (was)
        *t = *was;
    t->code = malloc(n + 1);
    t->bytes = t->cap ? malloc(t->cap) : NULL;
    if (!t->code || (t->cap && !t->bytes)) {
        free(t->code), free(t->bytes), free(t);
        return NULL;
    }
    if (was && was->cap)
        memcpy(t->bytes, was->bytes, was->off[was->nvals]);
    return t;
}

/* The code of text z among t's values, added when new: 1 ..
 * TILE_CODES_MAX, or 0 when it does not fit (one value too many, more
 * than TILE_CODES_BYTES in all, out of memory). */
static uint32_t code_of(tile_codes *t, const char *z)
{
    size_t n = strlen(z), used = t->off[t->nvals];
    uint64_t h = situ__tile_string_hash(z, n);
    size_t mask = sizeof t->table - 1, slot = h & mask;
    for (; t->table[slot]; slot = (slot + 1) & mask) {
        uint32_t v = t->table[slot];
        if (t->hash[v] == h && t->off[v] - t->off[v - 1] == n &&
            !memcmp(t->bytes + t->off[v - 1], z, n))
            return v;
    }
    if (t->nvals == TILE_CODES_MAX || n > TILE_CODES_BYTES - used)
        return 0;
    if (used + n > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < used + n)
            cap *= 2;
        char *b = realloc(t->bytes, cap);
        if (!b)
            return 0;
        t->bytes = b, t->cap = cap;
    }
    uint32_t v = ++t->nvals;
    memcpy(t->bytes + used, z, n);
    t->off[v] = (uint32_t)(used + n);
    t->hash[v] = h;
    t->table[slot] = (uint8_t)v;
    return v;
}

/* The keys being coded, feature by feature. */
typedef struct coding {
    uint8_t want[SITU_TILE_MAXKEYS]; /* the keys to code */
    uint8_t lost[SITU_TILE_MAXKEYS]; /* those whose texts did not fit */
    /* per key, the text last coded and its code: the next feature's is
     * often the same (a road's class, a hazard's status) */
    const char *last[SITU_TILE_MAXKEYS];
    uint8_t last_code[SITU_TILE_MAXKEYS];
} coding;

/* Codes feature i's text of every key k of s that has codes and g->want[k];
 * a key whose text does not fit (code_of, or not text) loses its codes
 * and gets g->lost[k] set. */
static void code_feature(situ_tilesrc *s, size_t i, coding *g)
{
    const situ_feature *f = &s->coll->feats[i];
    for (int k = 1; k < s->nkeys; k++) {
        tile_codes *t = s->codes[k];
        const char *z;
        uint32_t v = 0;
        if (!t || !g->want[k])
            continue;
        int fits = !key_text(f, k, &z);
        if (fits && z && g->last[k] && !strcmp(z, g->last[k]))
            v = g->last_code[k];
        else if (fits && z && (fits = (v = code_of(t, z)) != 0))
            g->last[k] = z, g->last_code[k] = (uint8_t)v;
        if (!fits) {
            codes_free(t);
            s->codes[k] = NULL;
            g->lost[k] = 1;
            continue;
        }
        t->code[i] = (uint8_t)v;
    }
}

/* Copies prev's codes of features i .. end - 1 of s (carried over, d) into s's. */
static void carry_codes(situ_tilesrc *s, const situ_tilesrc *prev, size_t i, size_t end)
{
    size_t from = s->coll->base_of[i];
    for (int k = 1; k < s->nkeys; k++)
        if (s->codes[k] && prev->codes[k]->code)
            memcpy(s->codes[k]->code + i, prev->codes[k]->code + from, end - i);
        else if (s->codes[k])
            memset(s->codes[k]->code + i, 0, end - i);
}

/* The keys of s that g lost coded again from every feature (the values no
 * feature holds any more go), then the rows and bytes of those coded. */
static void codes_finish(situ_tilesrc *s, const coding *g)
{
    const situ_coll *c = s->coll;
    coding again = {0};
    int redo = 0;
    for (int k = 1; k < s->nkeys; k++)
        if (g->lost[k])
            redo |= again.want[k] = (s->codes[k] = codes_new(NULL, c->n)) != NULL;
    for (size_t i = 0; redo && i < c->n; i++) {
        code_feature(s, i, &again);
        situ_coll_drop_pages_every(c, i);
    }
    for (int k = 1; k < s->nkeys; k++) {
        tile_codes *t = s->codes[k];
        if (!t)
            continue;
        if (!t->nvals) /* no feature has one: no code to keep */
            free(t->code), t->code = NULL;
        t->row = s->ncoded++;
        s->bytes += (t->code ? c->n : 0) + sizeof *t + t->cap;
    }
}

/* s->ids_apart and s->codes (every text key of s of few values coded, see
 * tile_codes), in one pass over the features' texts when both read them
 * all (no d). With d (what carried over from prev), ids_apart_from; the
 * keys prev coded are copied and the features that came coded, a key
 * that outgrows its codes is coded again from every feature, and a key
 * prev did not code (too many values) stays so. A key that does not fit
 * is left uncoded: its tiles read the collection's texts. */
static void build_texts(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d)
{
    const situ_coll *c = s->coll;
    coding g = {0};
    for (int k = 1; k < s->nkeys; k++)
        if (text_key(s, k) && (!d || prev->codes[k]))
            g.want[k] = (s->codes[k] = codes_new(d ? prev->codes[k] : NULL, c->n)) != NULL;
    if (d)
        ids_apart_from(s, prev, d);
    int apart = !d && !id_shape_of(c, &s->id_shape); /* as ids_apart_full */
    for (size_t i = 0, end; i < c->n; i = end) {
        if ((end = carried_run(c, d, i)) > i) {
            carry_codes(s, prev, i, end);
            continue;
        }
        end = i + 1;
        if (apart && texts_apart(c, &c->feats[i], &s->id_shape))
            apart = 0;
        code_feature(s, i, &g);
        situ_coll_drop_pages_every(c, i);
    }
    if (!d)
        s->ids_apart = apart;
    codes_finish(s, d ? &g : &(coding){0});
}

/* ---- texts apart ---------------------------------------------------------- */

/* Bits of the maps of texts seen per text of the collection: a text whose
 * slot another text shares (the same text, or one of the same slot) is
 * not apart; at 16 bits per text about one in 16 is left out so. */
#define APART_BITS_PER_TEXT 16
#define APART_MAX_BITS (1ULL << 26) /* 8 MB a map (the roads at scale 200: 13 bits a text) */
#define APART_KEYS 8                /* the keys that get a bit (uint8_t) */

/* The texts seen: once[b] when a text's slot b was seen, twice[b] when
 * it was seen again. */
typedef struct apart_map {
    uint64_t *once, *twice;
    size_t mask;
} apart_map;

static void apart_see(apart_map *m, uint64_t h)
{
    size_t b = h & m->mask;
    uint64_t bit = 1ULL << (b & 63);
    if (m->once[b >> 6] & bit)
        m->twice[b >> 6] |= bit;
    else
        m->once[b >> 6] |= bit;
}

static int apart_alone(const apart_map *m, uint64_t h)
{
    size_t b = h & m->mask;
    return !(m->twice[b >> 6] >> (b & 63) & 1);
}

static uint64_t text_hash(const char *z)
{
    return situ__tile_string_hash(z, strlen(z));
}

/* Every text of s's collection a tile may write, into m: the ids, the
 * texts of the keys not coded, the coded keys' values (once each). */
static void apart_see_all(const situ_tilesrc *s, apart_map *m)
{
    const situ_coll *c = s->coll;
    for (int k = 1; k < s->nkeys; k++)
        for (uint32_t v = 1; s->codes[k] && v <= s->codes[k]->nvals; v++)
            apart_see(m, s->codes[k]->hash[v]);
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        apart_see(m, text_hash(f->id));
        for (int k = 1; k < s->nkeys; k++) {
            const char *z;
            if (text_key(s, k) && !s->codes[k] && !key_text(f, k, &z) && z)
                apart_see(m, text_hash(z));
        }
        situ_coll_drop_pages_every(c, i);
    }
}

/* s->apart and s->apart_bit: the keys not coded (up to APART_KEYS of them)
 * get a bit, set for a feature whose text of the key m saw alone. */
static void apart_mark(situ_tilesrc *s, const apart_map *m)
{
    const situ_coll *c = s->coll;
    for (size_t i = 0; i < c->n; i++) {
        const situ_feature *f = &c->feats[i];
        for (int k = 1; k < s->nkeys; k++) {
            const char *z;
            if (s->apart_bit[k] && !key_text(f, k, &z) && z && strlen(z) < (1U << 31) &&
                apart_alone(m, text_hash(z)))
                s->apart[i] |= (uint8_t)(1U << (s->apart_bit[k] - 1));
        }
        situ_coll_drop_pages_every(c, i);
    }
}

/* s->apart from every feature (after the codes: build_texts). Nothing
 * when no key is left uncoded or out of memory (then every text is looked
 * up). */
static void build_apart(situ_tilesrc *s)
{
    const situ_coll *c = s->coll;
    size_t ntexts = c->n, bits = 4096;
    int nb = 0;
    for (int k = 1; k < s->nkeys; k++) {
        if (s->codes[k])
            ntexts += s->codes[k]->nvals;
        else if (text_key(s, k)) {
            ntexts += c->n;
            if (nb < APART_KEYS)
                s->apart_bit[k] = (uint8_t)++nb;
        }
    }
    while (bits < APART_BITS_PER_TEXT * ntexts && bits < APART_MAX_BITS)
        bits *= 2;
    apart_map m = {calloc(bits / 64, 8), calloc(bits / 64, 8), bits - 1};
    if (nb && c->n && m.once && m.twice && (s->apart = calloc(c->n, 1))) {
        apart_see_all(s, &m);
        apart_mark(s, &m);
        s->bytes += c->n;
    } else {
        memset(s->apart_bit, 0, sizeof s->apart_bit);
    }
    free(m.once), free(m.twice);
}

/* The townships' counties and provinces prepared for tiling into s->admin,
 * each dissolved from what changed since prev's (NULL: from nothing, or
 * taken as they are from the townships' known outlines). */
static int build_admin(situ_tilesrc *s, const situ_tilesrc *prev, situ_err *err)
{
    const situ_coll *parts = s->coll;
    for (int level = 0; level < SITU_ADMIN_NLEVELS; level++) {
        const situ_tilesrc *was = prev ? prev->admin[level] : NULL;
        situ_coll *areas = was ? NULL : situ_coll_retain(s->coll->outlines[level]);
        int rc = areas ? 0
                       : situ_admin_dissolve(parts, (situ_admin_level)level, was ? was->coll : NULL,
                                             SITU_ADMIN_COVERAGE, &areas, NULL, err);
        if (!rc)
            rc = situ_tilesrc_new_from(areas, was, &s->admin[level], err);
        situ_coll_release(areas);
        if (!rc &&
            (level == SITU_ADMIN_COUNTY
                 ? build_lod(s->admin[level], SITU_TILE_PROVINCE_BELOW, SITU_TILE_COUNTY_BELOW)
                 : build_lod(s->admin[level], 0, SITU_TILE_PROVINCE_BELOW)))
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory simplifying outlines");
        if (rc)
            return rc;
        s->bytes += s->admin[level]->bytes + s->admin[level]->coll->bytes;
        parts = s->admin[level]->coll;
    }
    return 0;
}

/* What changed from prev to s by s's collection's lineage (situ_coll.
 * base_of), when situ_coll_update made it from prev's collection and s has
 * prev's keys: 0 and d filled (dispose it); else -1, nothing is carried
 * over by identity (prepare_feature still compares geometries). */
static int lineage_diff(const situ_tilesrc *s, const situ_tilesrc *prev, tile_diff *d)
{
    const situ_coll *c = s->coll, *a = prev ? prev->coll : NULL;
    if (!a || !c->base_of || !c->base_uid || c->base_uid != a->uid || a->c != c->c ||
        prev->nkeys != s->nkeys || memcmp(prev->keys, s->keys, sizeof s->keys) ||
        situ__tile_diff_alloc(d, a->n, c->n))
        return -1;
    for (size_t i = 0; i < a->n; i++)
        d->remap[i] = TILE_NO_FEATURE;
    for (size_t j = 0; j < c->n; j++) {
        uint32_t from = c->base_of[j];
        if (from == SITU_COLL_NEW)
            d->came[d->ncame++] = (uint32_t)j;
        else if (from < a->n && d->remap[from] == TILE_NO_FEATURE)
            d->remap[from] = (uint32_t)j;
        else { /* not a lineage: never trust it */
            situ__tile_diff_dispose(d);
            return -1;
        }
    }
    for (size_t i = 0; i < a->n; i++)
        if (d->remap[i] == TILE_NO_FEATURE)
            d->gone[d->ngone++] = (uint32_t)i;
    return 0;
}

/* prev's pyramid for the options o, or NULL (none built for them, or not
 * for today). Borrowed from prev. */
static const tile_pyramid *pyramid_for(const situ_tilesrc *prev, const situ_tile_opts *o)
{
    situ_tilesrc *s = (situ_tilesrc *)prev; /* its pyramids are a cache */
    pthread_mutex_lock(&s->pyr_mu);
    const tile_pyramid *p = s->pyr;
    while (p && !situ__tile_pyramid_fits(p, o, 0))
        p = p->retired;
    pthread_mutex_unlock(&s->pyr_mu);
    return p;
}

int situ_tilesrc_new(situ_coll *c, situ_tilesrc **out_src, situ_err *err)
{
    return situ_tilesrc_new_from(c, NULL, out_src, err);
}

/* Prepares s (its collection and keys set) from its collection, copying
 * from prev (NULL: none) what d (NULL: nothing known) carries over, and
 * prev's geometry for a feature of the same id and coordinates. 0 or an
 * error (out of memory). */
static int prepare(situ_tilesrc *s, const situ_tilesrc *prev, const tile_diff *d, situ_err *err)
{
    const situ_coll *c = s->coll;
    if (build_rings(s, prev, d) || build_features(s, prev, d) || build_agg_rows(s, prev, d))
        return situ_err_set(err, SITU_ENOMEM, "out of memory preparing %s for tiles", c->c->id);
    build_texts(s, prev, d);
    if (!d)
        build_apart(s);
    situ_tile_opts o;
    situ_tile_opts_default(&o);
    if (o.cluster_maxzoom[c->c->cid] < 0 || o.aggregate_below <= 0)
        return 0;
    const tile_pyramid *was = prev && prev->coll->c == c->c ? pyramid_for(prev, &o) : NULL;
    s->pyr = was ? situ__tile_pyramid_update(was, prev, s, d) : NULL;
    if (!s->pyr && !(s->pyr = situ__tile_pyramid_new(s, &o)))
        return situ_err_set(err, SITU_ENOMEM, "out of memory aggregating %s", c->c->id);
    s->bytes += s->pyr->bytes;
    return 0;
}

int situ_tilesrc_new_from(situ_coll *c, const situ_tilesrc *prev, situ_tilesrc **out_src,
                          situ_err *err)
{
    situ_tilesrc *s = calloc(1, sizeof *s);
    if (!s)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    s->coll = situ_coll_retain(c);
    s->refs = 1;
    pthread_mutex_init(&s->pyr_mu, NULL);
    s->nkeys = situ__tile_keys(c->c, s->keys, SITU_TILE_MAXKEYS);
    for (s->key_cluster0 = 0; s->key_cluster0 < s->nkeys; s->key_cluster0++)
        if (s->keys[s->key_cluster0].agg == TILE_AGG_CLUSTER)
            break;
    s->item_key0 = item_key0_of(s);
    tile_diff d;
    int known = !lineage_diff(s, prev, &d);
    int rc = prepare(s, prev, known ? &d : NULL, err);
    if (known)
        situ__tile_diff_dispose(&d);
    if (!rc && c->c == situ_schema_collection(SITU_C_TOWNSHIPS) && c->n)
        rc = build_admin(s, prev, err);
    situ_coll_drop_pages(c); /* the preparation read every page of it */
    if (rc) {
        situ_tilesrc_release(s);
        return rc;
    }
    *out_src = s;
    return 0;
}

situ_tilesrc *situ_tilesrc_retain(situ_tilesrc *s)
{
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
    return s;
}

void situ_tilesrc_release(situ_tilesrc *s)
{
    if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    free(s->imp), free(s->rbox), free(s->fbox), free(s->fpt), free(s->fid);
    free(s->fminz), free(s->apart);
    for (int z = 0; z < SITU_TILE_COUNTY_BELOW; z++)
        free(s->lod[z].off), free(s->lod[z].idx);
    free(s->aggv);
    for (int k = 0; k < SITU_TILE_MAXKEYS; k++)
        codes_free(s->codes[k]);
    situ_tilesrc_release(s->admin[0]), situ_tilesrc_release(s->admin[1]);
    situ__tile_pyramid_free(s->pyr);
    pthread_mutex_destroy(&s->pyr_mu);
    situ_coll_release(s->coll);
    free(s);
}

const situ_coll *situ_tilesrc_coll(const situ_tilesrc *s)
{
    return s->coll;
}

const situ_tilesrc *situ_tilesrc_admin(const situ_tilesrc *s, int level)
{
    return level >= 0 && level < SITU_ADMIN_NLEVELS ? s->admin[level] : NULL;
}

size_t situ_tilesrc_bytes(const situ_tilesrc *s)
{
    return s->bytes;
}

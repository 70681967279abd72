/*
 * tile.c: cutting one collection's layer of one tile (situ_tile_encode_coll)
 * and tile addressing (parse, bounds, options). Owns selecting the features
 * (every feature whose box meets the buffered tile, through the collection's
 * R-tree), the feature ids and properties, and the per-thread scratch memory.
 * What a polygon becomes is tile_poly.c's (its ring steps tile_geom.c's and
 * tile_clip.c's), lines tile_line.c's, points and clusters tile_cluster.c's,
 * the preparation tile_prep.c's, the bytes mvt.c's.
 *
 * Rules (also advertised in TileJSON, see tilejson.c):
 *  - a polygon under opts.tiny units on both sides, or all of whose rings
 *    collapse (area under 1 unit^2), is written as a Point at its interior
 *    point (else at a point of its clipped rings), with its properties;
 *  - at z <= opts.cluster_maxzoom[cid], points, collapsed polygons and
 *    polygons under opts.cluster_polygon units are binned into cells of
 *    opts.cluster_cell units aligned on the tile; a cell holding more than
 *    opts.cluster_more_than points (opts.cluster_polygon_more_than polygons)
 *    becomes one Point at their mean with cluster=true, point_count, ids (the
 *    first 8) and the aggregates of tile_prep.c's key table; every other
 *    feature is written as itself. Nothing is dropped to fit a size;
 *  - a line (a road) is clipped to the buffered tile, each run inside it a
 *    LineString part; a part that snaps to one point is left out, and a
 *    feature of a minor class (tile_prep.c's value_minzoom) is drawn only
 *    from its class's zoom up: the roads layer below z9 is the trunk.
 */
#include "situ/tile.h"
#include "situ/store.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define XXH_INLINE_ALL /* a tile hashes every value it writes: inlined */
#include <xxhash.h>

#include "tile_enc.h"

/* Per collection: the highest zoom at which points cluster. Hazard sources
 * and depots never cluster from z8 up: the whole city at z8 shows each one. */
static const int cluster_maxzoom_default[SITU_NCOLLECTIONS] = {
    [SITU_C_TOWNSHIPS] = -1,     [SITU_C_RISK_ZONES] = 9, [SITU_C_HAZARDS] = 11,
    [SITU_C_HAZARD_SOURCES] = 7, [SITU_C_RESOURCES] = 7,  [SITU_C_STATIONS] = 11,
    [SITU_C_ALERTS] = -1,        [SITU_C_ROADS] = -1,
};

void situ_tile_opts_default(situ_tile_opts *o)
{
    memset(o, 0, sizeof *o);
    o->extent = 4096;
    o->buffer = 64;
    o->simplify = 1.0;
    o->tiny = 2.0;
    o->cluster_cell = 64;
    o->cluster_more_than = 4;
    o->cluster_polygon = 128;
    o->cluster_polygon_more_than = 1;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        o->minzoom[i] = situ_schema_collection((situ_coll_id)i)->minzoom;
        o->cluster_maxzoom[i] = cluster_maxzoom_default[i];
    }
    o->county_below = SITU_TILE_COUNTY_BELOW;
    o->province_below = SITU_TILE_PROVINCE_BELOW;
    o->aggregate_below = SITU_TILE_AGGREGATE_BELOW;
    o->aggregate_cell = 128;
    o->urgent_from = SITU_TILE_URGENT_FROM;
    o->urgent_mark_cell = SITU_TILE_URGENT_MARK_CELL;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (o->cluster_maxzoom[i] >= 0) /* aggregated below aggregate_below */
            o->minzoom[i] = 0;
    o->today = situ_store_today_ymd();
}

/* ---- addressing ------------------------------------------------------------ */

/* Parses one part: 1..7 digits, no leading zero. */
static int parse_part(const char *s, const char *what, uint32_t *out, situ_err *err)
{
    if (!s || !*s)
        return situ_err_set(err, SITU_EINVAL, "%s: missing", what);
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return situ_err_set(err, SITU_EINVAL, "%s: '%.24s' is not a non-negative integer", what,
                                s);
    if (n > 7)
        return situ_err_set(err, SITU_EINVAL, "%s: '%.24s' is out of range", what, s);
    if (n > 1 && s[0] == '0')
        return situ_err_set(err, SITU_EINVAL, "%s: '%s' has a leading zero", what, s);
    *out = (uint32_t)strtoul(s, NULL, 10);
    return 0;
}

int situ_tile_parse(const char *zz, const char *zx, const char *zy, situ_tile_xyz *out,
                    situ_err *err)
{
    uint32_t z = 0, x = 0, y = 0;
    int rc;
    if ((rc = parse_part(zz, "z", &z, err)) || (rc = parse_part(zx, "x", &x, err)) ||
        (rc = parse_part(zy, "y", &y, err)))
        return rc;
    if (z > SITU_TILE_MAXZOOM)
        return situ_err_set(err, SITU_EINVAL, "z: %u is above the maximum zoom %d", z,
                            SITU_TILE_MAXZOOM);
    uint32_t n = 1u << z;
    if (x >= n)
        return situ_err_set(err, SITU_EINVAL, "x: %u is outside 0..%u at zoom %u", x, n - 1, z);
    if (y >= n)
        return situ_err_set(err, SITU_EINVAL, "y: %u is outside 0..%u at zoom %u", y, n - 1, z);
    *out = (situ_tile_xyz){(int)z, x, y};
    return 0;
}

int situ_tile_parse_path(const char *path, const char *ext, situ_tile_xyz *out, situ_err *err)
{
    char part[3][32];
    const char *p = path ? path : "";
    size_t next = strlen(ext ? ext : "");
    for (int i = 0; i < 3; i++) {
        const char *end = i < 2 ? strchr(p, '/') : p + strlen(p);
        if (!end)
            return situ_err_set(err, SITU_EINVAL, "'%.64s' is not z/x/y%s", path ? path : "",
                                ext ? ext : "");
        size_t n = (size_t)(end - p);
        if (i == 2) {
            if (n < next || strcmp(end - next, ext ? ext : "") != 0)
                return situ_err_set(err, SITU_EINVAL, "'%.64s' does not end in '%s'", path, ext);
            n -= next;
        }
        if (n >= sizeof part[i])
            return situ_err_set(err, SITU_EINVAL, "%c: '%.24s' is out of range", "zxy"[i], p);
        memcpy(part[i], p, n);
        part[i][n] = '\0';
        p = end + (i < 2);
    }
    return situ_tile_parse(part[0], part[1], part[2], out, err);
}

int situ_tile_set_parse(const char *name, int *out_set, situ_err *err)
{
    if (name && strcmp(name, "all") == 0) {
        *out_set = SITU_TILESET_ALL;
        return 0;
    }
    const situ_collection *c = situ_schema_find(name);
    if (!c)
        return situ_err_set(err, SITU_ENOTFOUND, "no tile set '%.64s'", name ? name : "");
    *out_set = (int)c->cid;
    return 0;
}

void situ_tile_bounds_3857(situ_tile_xyz t, double out[4])
{
    const double half = M_PI * 6378137.0, size = 2 * half / (double)(1u << t.z);
    out[0] = -half + t.x * size;
    out[2] = -half + (t.x + 1) * size;
    out[1] = half - (t.y + 1) * size;
    out[3] = half - t.y * size;
}

static double merc_lat(double y)
{
    return atan(sinh(M_PI * (1 - 2 * y))) * 180 / M_PI;
}

void situ_tile_bounds_lonlat(situ_tile_xyz t, uint32_t extent, uint32_t buffer, double out[4])
{
    double n = (double)(1u << t.z), b = extent ? (double)buffer / extent : 0;
    out[0] = (t.x - b) / n * 360 - 180;
    out[2] = (t.x + 1 + b) / n * 360 - 180;
    out[1] = merc_lat((t.y + 1 + b) / n);
    out[3] = merc_lat((t.y - b) / n);
}

/* ---- per-thread scratch ---------------------------------------------------- */

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *p)
{
    scratch *s = p;
    if (!s)
        return;
    situ_mvt_layer_dispose(&s->layer);
    situ_mvt_geom_dispose(&s->geom);
    situ__rings_dispose(&s->in), situ__rings_dispose(&s->out), situ__rings_dispose(&s->runs);
    free(s->bits), free(s->ia), free(s->tags), free(s->kidx);
    free(s->lxy), free(s->loff), free(s->larea), free(s->hstamp), free(s->hidx);
    free(s->vlocal), free(s->cands), free(s->sorted);
    free(s->marks), free(s->mcount), free(s->msorted);
    situ_buf_dispose(&s->val);
    free(s->voff), free(s->vlen), free(s->vslots), free(s->coded);
    free(s);
}

static void scratch_key_init(void)
{
    pthread_key_create(&scratch_key, scratch_free);
}

static scratch *scratch_get(void)
{
    pthread_once(&scratch_once, scratch_key_init);
    scratch *s = pthread_getspecific(scratch_key);
    if (s || !(s = calloc(1, sizeof *s)))
        return s;
    if (pthread_setspecific(scratch_key, s)) {
        free(s);
        return NULL;
    }
    situ__ymemo_init(&s->ymemo);
    return s;
}

/* Grows *p (elem bytes each) to hold n; new memory is zeroed. 0 or -1. */
int situ__tile_grow(void **p, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < n)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    memset((char *)q + *cap * elem, 0, (c - *cap) * elem);
    *p = q;
    *cap = c;
    return 0;
}

/* ---- one tile -------------------------------------------------------------- */

uint32_t situ__tile_local_key(enc *e, int k)
{
    scratch *s = e->s;
    if (s->kstamp[k] != s->stamp) {
        s->kstamp[k] = s->stamp;
        s->klocal[k] = situ_mvt_layer_key(&s->layer, e->src->keys[k].name, e->src->keys[k].len);
    }
    return s->klocal[k];
}

/* A slot of this tile's table of values: the tile's stamp << 32 | the
 * value's number + 1; a slot of an earlier tile's stamp is empty. */
static int vslot_used(const scratch *s, uint64_t slot)
{
    return (uint32_t)(slot >> 32) == s->stamp && (uint32_t)slot;
}

/* Value i of this tile's table: its bytes in the layer's own values (a
 * string's own bytes, any other value's encoded Value). */
static const char *vbytes(const scratch *s, size_t i)
{
    return s->layer.vals.p + s->voff[i];
}

/* The hash of a value of the table by its bytes and kind (vlen). */
static uint64_t vhash(const char *p, uint32_t vlen)
{
    uint64_t h = XXH3_64bits(p, vlen & ~TILE_VSTR);
    return vlen & TILE_VSTR ? h ^ 0x9E3779B97F4A7C15ULL : h;
}

/* Doubles this tile's table of values; 0 or -1. */
static int values_grow(scratch *s)
{
    size_t cap = s->vslotcap ? 2 * s->vslotcap : 256;
    uint64_t *sl = calloc(cap, sizeof *sl);
    uint32_t *lo = sl ? realloc(s->vlocal, (cap / 2 + 1) * sizeof *lo) : NULL;
    if (lo)
        s->vlocal = lo;
    uint32_t *len = lo ? realloc(s->vlen, (cap / 2 + 1) * sizeof *len) : NULL;
    if (len)
        s->vlen = len;
    if (!len || situ__tile_grow((void **)&s->voff, &s->voffcap, cap / 2 + 1, sizeof *s->voff)) {
        free(sl);
        return -1;
    }
    for (size_t i = 0; i < s->nv; i++) {
        size_t h = vhash(vbytes(s, i), s->vlen[i]);
        for (h &= cap - 1; vslot_used(s, sl[h]); h = (h + 1) & (cap - 1))
            ;
        sl[h] = (uint64_t)s->stamp << 32 | (i + 1);
    }
    free(s->vslots);
    s->vslots = sl, s->vslotcap = cap;
    return 0;
}

/* Room in this tile's table for `more` values; 0 or -1 (s->oom set). */
static int values_room(scratch *s, size_t more)
{
    while ((s->nv + more) * 2 > s->vslotcap)
        if (values_grow(s)) {
            s->oom = 1;
            return -1;
        }
    return 0;
}

uint64_t situ__tile_string_hash(const char *p, size_t n)
{
    return vhash(p, (uint32_t)n | TILE_VSTR);
}

/* Looks value (p, vlen) of hash h (vhash's) up in this tile's table (room
 * checked): its number + 1, or 0 and *out_slot the empty slot where it goes. */
static uint32_t values_find(const scratch *s, const char *p, uint32_t vlen, uint64_t h,
                            size_t *out_slot)
{
    size_t mask = s->vslotcap - 1;
    h &= mask;
    for (; vslot_used(s, s->vslots[h]); h = (h + 1) & mask) {
        uint32_t i = (uint32_t)s->vslots[h] - 1;
        if (s->vlen[i] == vlen && !memcmp(vbytes(s, i), p, vlen & ~TILE_VSTR))
            return i + 1;
    }
    *out_slot = h;
    return 0;
}

/* Records the value just appended to the layer (its bytes at `at` in the
 * layer's values, its index local) in slot. Returns local. */
static uint32_t values_add(scratch *s, size_t slot, size_t at, uint32_t vlen, uint32_t local)
{
    if (s->layer.vals.oom)
        return local; /* the tile fails (out of memory) */
    s->voff[s->nv] = (uint32_t)at, s->vlen[s->nv] = vlen, s->vlocal[s->nv] = local;
    s->vslots[slot] = (uint64_t)s->stamp << 32 | ++s->nv;
    return local;
}

/* This tile's index of the string value of the n bytes at p, of hash h
 * (situ__tile_string_hash's), added on first use (room checked). */
static uint32_t hashed_string_value(scratch *s, const char *p, size_t n, uint64_t h)
{
    size_t slot;
    uint32_t vlen = (uint32_t)n | TILE_VSTR;
    uint32_t i = n < TILE_VSTR ? values_find(s, p, vlen, h, &slot) : 0;
    if (i)
        return s->vlocal[i - 1];
    if (n >= TILE_VSTR) { /* never in a snapshot: written, not remembered */
        s->oom = 1;
        return 0;
    }
    size_t vn = 1 + situ_mvt_varint_len(n) + n; /* the Value: tag, length, bytes */
    size_t at = s->layer.vals.n + 1 + situ_mvt_varint_len(vn) + 1 + situ_mvt_varint_len(n);
    return values_add(s, slot, at, vlen, situ_mvt_layer_value_string(&s->layer, p, n));
}

/* This tile's index of the string value of the n bytes at p, added on
 * first use (room checked). */
static uint32_t string_value(scratch *s, const char *p, size_t n)
{
    return hashed_string_value(s, p, n, n < TILE_VSTR ? vhash(p, (uint32_t)n | TILE_VSTR) : 0);
}

/* This tile's index of the Value encoded in s->val that is not a string
 * (room checked). */
static uint32_t encoded_value(scratch *s)
{
    size_t slot, n = s->val.n;
    uint32_t i = values_find(s, s->val.p, (uint32_t)n, vhash(s->val.p, (uint32_t)n), &slot);
    if (i)
        return s->vlocal[i - 1];
    /* the layer writes it as a field: its tag, its length, then the bytes */
    size_t at = s->layer.vals.n + 1 + situ_mvt_varint_len(n);
    return values_add(s, slot, at, (uint32_t)n, situ_mvt_layer_value(&s->layer, s->val.p, n));
}

uint32_t situ__tile_value(enc *e)
{
    scratch *s = e->s;
    if (values_room(s, 1))
        return 0;
    const uint8_t *v = (const uint8_t *)s->val.p;
    if (s->val.n >= 2 && v[0] == 0x0A) { /* a string: Value.string_value */
        uint64_t n = 0;
        size_t k = 1;
        for (int shift = 0; k < s->val.n; shift += 7) {
            n |= (uint64_t)(v[k] & 0x7F) << shift;
            if (!(v[k++] & 0x80))
                break;
        }
        return string_value(s, s->val.p + k, (size_t)n);
    }
    return encoded_value(s);
}

int situ__tile_tag_room(scratch *s, size_t npairs)
{
    if (npairs <= s->tagcap)
        return 0;
    size_t cap = s->tagcap ? s->tagcap : 64;
    while (cap < npairs)
        cap *= 2;
    uint32_t *t = realloc(s->tags, 2 * cap * sizeof *t);
    if (!t)
        return -1;
    s->tags = t;
    s->tagcap = cap;
    return 0;
}

void situ__tile_number_value(situ_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        situ_mvt_value_int(b, (int64_t)v);
    else
        situ_mvt_value_double(b, v);
}

/* 1 when key k of feature tags is written under e->slim. */
static int tag_kept(const enc *e, const tile_key *k)
{
    return e->slim == TILE_SLIM_ID ? k->len == 2 && !memcmp(k->name, "id", 2) : !e->slim || k->slim;
}

/* Appends the tag (key k, the value encoded in s->val) to s->tags[2 * nt]. */
static void put_tag(enc *e, int k, int nt)
{
    scratch *s = e->s;
    s->tags[2 * nt] = situ__tile_local_key(e, k);
    s->tags[2 * nt + 1] = encoded_value(s);
    s->val.n = 0;
}

/* Appends the tag (key k, feature fi's string value z) to s->tags[2 *
 * nt]: straight to the layer when z is apart (tile_prep.c's build_apart:
 * no other text of the collection equals it, so it is new to the layer),
 * else looked up. */
static void put_string_tag(enc *e, int k, int nt, uint32_t fi, const char *z)
{
    scratch *s = e->s;
    const situ_tilesrc *src = e->src;
    unsigned bit = src->apart_bit[k];
    s->tags[2 * nt] = situ__tile_local_key(e, k);
    s->tags[2 * nt + 1] = bit && src->apart[fi] >> (bit - 1) & 1
                              ? situ_mvt_layer_value_string(&s->layer, z, strlen(z))
                              : string_value(s, z, strlen(z));
}

/* Appends the tag (key k, value v of its codes t) to s->tags[2 * nt]: the
 * value's index in this tile remembered by its code from its first use on,
 * so that the collection's bytes are never read (room checked). */
static void put_coded_tag(enc *e, int k, int nt, const tile_codes *t, uint32_t v)
{
    scratch *s = e->s;
    uint64_t *m = &s->coded[(size_t)t->row << 8 | v];
    s->tags[2 * nt] = situ__tile_local_key(e, k);
    if ((uint32_t)(*m >> 32) != s->stamp) {
        const char *p = t->bytes + t->off[v - 1];
        uint32_t local = hashed_string_value(s, p, t->off[v] - t->off[v - 1], t->hash[v]);
        *m = (uint64_t)s->stamp << 32 | local;
    }
    s->tags[2 * nt + 1] = (uint32_t)*m;
}

/* Appends the tag (key k, the integer v, 0 <= v < TILE_SMALL_INTS) to
 * s->tags[2 * nt]: the value's index in this tile remembered from its
 * first use on (looked up as any value then), so that a repeated count or
 * level is neither encoded nor hashed again (room checked). */
static void put_small_int_tag(enc *e, int k, int nt, uint32_t v)
{
    scratch *s = e->s;
    uint64_t *m = &s->small_int[v];
    s->tags[2 * nt] = situ__tile_local_key(e, k);
    if ((uint32_t)(*m >> 32) != s->stamp) {
        s->val.n = 0;
        situ_mvt_value_int(&s->val, v);
        *m = (uint64_t)s->stamp << 32 | encoded_value(s);
        s->val.n = 0;
    }
    s->tags[2 * nt + 1] = (uint32_t)*m;
}

/* 1 when v is an integer put_small_int_tag takes (as
 * situ__tile_number_value would write it: an int). */
static int small_int(double v)
{
    return v >= 0 && v < TILE_SMALL_INTS && v == floor(v);
}

/* Appends the tag (key 0, feature f's id) to s->tags[2 * nt]: straight to
 * the layer when no other value of the collection equals an id (then it
 * is new to the layer: a feature is written once in a layer), else looked
 * up as any string. */
static void put_id_tag(enc *e, const situ_feature *f, int nt)
{
    scratch *s = e->s;
    s->tags[2 * nt] = situ__tile_local_key(e, 0);
    s->tags[2 * nt + 1] = e->src->ids_apart
                              ? situ_mvt_layer_value_string(&s->layer, f->id, strlen(f->id))
                              : string_value(s, f->id, strlen(f->id));
}

/* Encodes value v of a field that is not text into b; 0 when it has none
 * (NULL: MVT has no null, the key is left out). */
static int field_value(situ_buf *b, const situ_value *v)
{
    if (v->type == SITU_FT_INT)
        situ_mvt_value_int(b, v->u.i);
    else if (v->type == SITU_FT_REAL)
        situ_mvt_value_double(b, v->u.d);
    else if (v->type == SITU_FT_BOOL)
        situ_mvt_value_bool(b, v->u.i != 0);
    else
        return 0;
    return 1;
}

int situ__tile_feature_tags(enc *e, uint32_t fi, size_t more)
{
    const situ_tilesrc *src = e->src;
    const situ_coll *c = src->coll;
    const situ_feature *f = &c->feats[fi];
    const tile_key *keys = src->keys;
    scratch *s = e->s;
    int nf = c->c->nfields, item0 = src->item_key0;
    size_t most = (size_t)(2 + nf) + f->nheld;
    if (situ__tile_tag_room(s, most + more) || values_room(s, most)) {
        s->oom = 1;
        return -1;
    }
    int nt = 0;
    s->val.n = 0;
    if (tag_kept(e, &keys[0]))
        put_id_tag(e, f, nt++);
    const tile_codes *t = src->codes[1];
    uint32_t code;
    if (t && (code = tile_code(t, fi)) && tag_kept(e, &keys[1]))
        put_coded_tag(e, 1, nt++, t, code);
    else if (!t && f->township_code[0] && !keys[1].skip && tag_kept(e, &keys[1]))
        put_string_tag(e, 1, nt++, fi, f->township_code);
    for (int i = 0; i < nf; i++) {
        const situ_value *v = &f->values[i];
        if (keys[2 + i].skip || !tag_kept(e, &keys[2 + i]))
            continue;
        if ((t = src->codes[2 + i])) {
            if ((code = tile_code(t, fi)))
                put_coded_tag(e, 2 + i, nt++, t, code);
        } else if (v->type == SITU_FT_TEXT)
            put_string_tag(e, 2 + i, nt++, fi, v->u.s);
        else if (v->type == SITU_FT_INT && v->u.i >= 0 && v->u.i < TILE_SMALL_INTS)
            put_small_int_tag(e, 2 + i, nt++, (uint32_t)v->u.i);
        else if (field_value(&s->val, v))
            put_tag(e, 2 + i, nt++);
    }
    for (uint32_t h = f->held0; item0 >= 0 && h < f->held0 + f->nheld; h++)
        if (tag_kept(e, &keys[item0 + c->held[h].item])) {
            double q = c->held[h].quantity;
            if (small_int(q)) {
                put_small_int_tag(e, item0 + c->held[h].item, nt++, (uint32_t)q);
                continue;
            }
            situ__tile_number_value(&s->val, q);
            put_tag(e, item0 + c->held[h].item, nt++);
        }
    return nt;
}

/* Writes the geometry in s->geom as feature fi, with fi's properties. */
void situ__tile_emit_feature(enc *e, uint32_t fi, situ_mvt_gtype type)
{
    int nt = situ__tile_feature_tags(e, fi, 0);
    if (nt < 0)
        return;
    situ_mvt_layer_feature(&e->s->layer, 1, e->src->fid[fi], type, e->s->tags, (size_t)nt,
                           &e->s->geom);
    e->st.features++;
}

/* Queues feature fi's point (or interior point) when it lies in the
 * buffered tile; returns 0 when it does not. */
int situ__tile_add_candidate(enc *e, uint32_t fi, int kind)
{
    scratch *s = e->s;
    double x = e->src->fpt[2 * fi] * e->tf.scale - e->tf.ox;
    double y = e->src->fpt[2 * fi + 1] * e->tf.scale - e->tf.oy;
    if (e->aggregating) { /* rounded first, in [lo, hi): as the pyramid's units */
        x = (double)situ__tile_round_up(x), y = (double)situ__tile_round_up(y);
        if (x < e->tf.lo || x >= e->tf.hi || y < e->tf.lo || y >= e->tf.hi)
            return 0;
    } else if (x < e->tf.lo || x > e->tf.hi || y < e->tf.lo || y > e->tf.hi) {
        return 0;
    }
    if (s->ncands + 1 > s->candcap) {
        size_t cap = s->candcap ? 2 * s->candcap : 1024;
        cand *c = realloc(s->cands, cap * sizeof *c);
        if (c)
            s->cands = c;
        cand *d = c ? realloc(s->sorted, cap * sizeof *d) : NULL;
        if (!d) {
            s->oom = 1;
            return 0;
        }
        s->sorted = d;
        s->candcap = cap;
    }
    s->cands[s->ncands++] = (cand){tile_round(x), tile_round(y), fi, 0, (unsigned)kind & 3u};
    return 1;
}

/* ---- selection and the layer ----------------------------------------------- */

static int mark(void *ctx, uint32_t i)
{
    uint64_t *bits = ctx;
    bits[i >> 6] |= 1ULL << (i & 63);
    return 0;
}

static int select_features(enc *e)
{
    scratch *s = e->s;
    size_t nw = (e->c->n + 63) / 64;
    if (situ__tile_grow((void **)&s->bits, &s->nwords, nw, sizeof *s->bits))
        return -1;
    memset(s->bits, 0, nw * sizeof *s->bits);
    double ll[4]; /* aggregates round first: a point half a unit out may round in */
    situ_tile_bounds_lonlat(e->t, e->o->extent, e->o->buffer + (uint32_t)e->aggregating, ll);
    const double *x = e->c->extent;
    if (ll[2] < x[0] || ll[0] > x[2] || ll[3] < x[1] || ll[1] > x[3])
        return 0;
    situ_rtree_search(e->c->index, ll[0], ll[1], ll[2], ll[3], mark, s->bits);
    return 0;
}

float situ__tile_tol2(double simplify, int z, uint32_t extent)
{
    double tol = simplify / ((double)(1u << z) * extent);
    return (float)(tol * tol);
}

static int prepare(enc *e)
{
    scratch *s = e->s;
    const situ_tilesrc *src = e->src;
    double n = (double)(1u << e->t.z);
    e->tf.scale = n * e->o->extent;
    e->tf.ox = (double)e->t.x * e->o->extent;
    e->tf.oy = (double)e->t.y * e->o->extent;
    e->tf.lo = -(double)e->o->buffer;
    e->tf.hi = (double)e->o->extent + e->o->buffer;
    e->tf.ymemo = &s->ymemo;
    e->tol2 = situ__tile_tol2(e->o->simplify, e->t.z, e->o->extent);
    e->lod = situ__tile_lod(src, e->t.z, e->tol2);
    int cid = (int)e->c->c->cid;
    e->aggregating = e->t.z < e->o->aggregate_below && e->o->cluster_maxzoom[cid] >= 0 &&
                     e->o->aggregate_cell > 0 &&
                     e->o->aggregate_cell <= e->o->buffer + e->o->extent;
    e->marking = e->aggregating && e->t.z < e->o->urgent_from && src->due_slot >= 0 &&
                 e->o->urgent_mark_cell > 0 && e->o->extent % e->o->urgent_mark_cell == 0;
    e->clustering = e->aggregating ||
                    (e->o->cluster_cell > 0 && e->o->cluster_cell <= e->o->buffer + e->o->extent &&
                     e->t.z <= e->o->cluster_maxzoom[cid]);
    if (situ__tile_grow((void **)&s->coded, &s->codedcap, (size_t)src->ncoded << 8,
                        sizeof *s->coded))
        return -1;
    if (++s->stamp == 0) { /* wrapped: forget every old stamp */
        memset(s->kstamp, 0, sizeof s->kstamp);
        if (s->vslots)
            memset(s->vslots, 0, s->vslotcap * sizeof *s->vslots);
        if (s->coded)
            memset(s->coded, 0, s->codedcap * sizeof *s->coded);
        memset(s->small_int, 0, sizeof s->small_int);
        s->stamp = 1;
    }
    situ_mvt_layer_reset(&s->layer);
    s->ncands = 0;
    s->nmarks = 0;
    s->nv = 0;
    s->oom = 0;
    s->geom.oom = 0;
    return 0;
}

int situ__tile_overdue(const enc *e, uint32_t fi)
{
    const situ_tilesrc *src = e->src;
    if (src->due_slot < 0)
        return 0;
    double due = src->aggv[(size_t)fi * (size_t)src->nagg + (size_t)src->due_slot];
    return due == due && due < e->o->today;
}

/* 1 when feature fi stays itself among aggregates: an overdue hidden
 * danger, from urgent_from up. */
static int urgent(const enc *e, uint32_t fi)
{
    return e->t.z >= e->o->urgent_from && situ__tile_overdue(e, fi);
}

void situ__tile_emit_urgent(enc *e, uint32_t fi)
{
    scratch *s = e->s;
    size_t n = s->ncands;
    if (!situ__tile_add_candidate(e, fi, CAND_POINT))
        return;
    s->ncands = n;
    e->slim = 1;
    situ__tile_emit_point(e, &s->cands[n]);
    e->slim = 0;
}

/* Folds feature fi into its cell; below urgent_from an overdue one is
 * also an urgent mark's. */
static void aggregate_feature(enc *e, uint32_t fi, int polys)
{
    situ__tile_add_candidate(e, fi, polys ? CAND_COLLAPSED : CAND_POINT);
    if (e->marking && situ__tile_overdue(e, fi))
        situ__tile_mark_add(e, fi);
}

static void scan_features(enc *e)
{
    scratch *s = e->s;
    int polys = e->c->c->gtype == SITU_GT_MULTIPOLYGON;
    int lines = e->c->c->gtype == SITU_GT_MULTILINESTRING;
    size_t nw = (e->c->n + 63) / 64;
    for (size_t w = 0; w < nw && !s->oom; w++)
        for (uint64_t b = s->bits[w]; b; b &= b - 1) {
            uint32_t fi = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(b));
            if (e->src->fminz[fi] > e->t.z)
                continue; /* a minor class, not yet at this zoom */
            if (e->aggregating && urgent(e, fi))
                situ__tile_emit_urgent(e, fi);
            else if (e->aggregating)
                aggregate_feature(e, fi, polys);
            else if (lines)
                situ__tile_line_feature(e, fi);
            else if (polys)
                situ__tile_polygon_feature(e, fi);
            else
                situ__tile_add_candidate(e, fi, CAND_POINT);
        }
    situ__tile_marks_write(e); /* on top of the aggregates: first */
    if (s->ncands && e->clustering)
        situ__tile_cluster_points(e);
    else
        for (size_t i = 0; i < s->ncands; i++)
            situ__tile_emit_point(e, &s->cands[i]);
}

int situ_tile_encode_coll(const situ_tilesrc *src, situ_tile_xyz t, const situ_tile_opts *o,
                          situ_buf *out, situ_tile_stats *out_stats, situ_err *err)
{
    situ_tile_opts def;
    if (!o)
        situ_tile_opts_default(&def), o = &def;
    if (t.z < 0 || t.z > SITU_TILE_MAXZOOM || t.x >> t.z || t.y >> t.z)
        return situ_err_set(err, SITU_EINVAL, "no tile %d/%u/%u", t.z, t.x, t.y);
    if (!o->extent || o->extent > (1u << 16) || o->buffer > o->extent)
        return situ_err_set(err, SITU_EINVAL, "bad tile extent %u or buffer %u", o->extent,
                            o->buffer);
    if (src->admin[0] && t.z < o->county_below)
        src = src->admin[t.z < o->province_below];
    enc e = {.src = src, .c = src->coll, .o = o, .t = t, .s = scratch_get()};
    int cid = (int)e.c->c->cid;
    if (t.z < o->minzoom[cid] || e.c->n == 0) {
        if (out_stats)
            *out_stats = e.st;
        return 0;
    }
    if (!e.s || prepare(&e))
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    const tile_pyramid *pyr = e.aggregating ? situ__tile_pyramid_get(src, o, t.z) : NULL;
    if (pyr && e.marking && !situ__tile_pyramid_marks(pyr))
        pyr = NULL;
    if (pyr)
        situ__tile_pyramid_encode(&e, pyr);
    else if (select_features(&e))
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    else
        scan_features(&e);
    if (e.s->oom || e.s->geom.oom || situ_mvt_layer_finish(&e.s->layer, e.c->c->id, o->extent, out))
        return situ_err_set(err, SITU_ENOMEM, "out of memory encoding %s", e.c->c->id);
    if (out_stats)
        *out_stats = e.st;
    return 0;
}

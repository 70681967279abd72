/*
 * mvt.c: the MVT 2.1 protobuf wire format (see situ/mvt.h). Owns varints,
 * geometry command streams, layer assembly and a validating decoder for tests
 * and tools. Does not own what goes into a tile (tile.c) or caching
 * (tilecache.c). Hand-written instead of protobuf-c: the writer appends
 * straight into growable buffers with no intermediate message objects.
 *
 * Field numbers (vector_tile.proto 2.1): Tile.layers 3; Layer: name 1,
 * features 2, keys 3, values 4, extent 5, version 15; Feature: id 1, tags 2,
 * type 3, geometry 4; Value: string 1, float 2, double 3, int 4, uint 5,
 * sint 6, bool 7.
 */
#include "situ/mvt.h"

#include <stdlib.h>
#include <string.h>

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

#define TAG(field, wt) ((uint8_t)(((field) << 3) | (wt)))

void situ_mvt_add_varint(situ_buf *b, uint64_t v)
{
    if (situ_buf_reserve(b, 10))
        return;
    b->n += situ_mvt_put_varint((uint8_t *)b->p + b->n, v);
}

/* ---- geometry -------------------------------------------------------------- */

void situ_mvt_geom_init(situ_mvt_geom *g)
{
    memset(g, 0, sizeof *g);
}

void situ_mvt_geom_dispose(situ_mvt_geom *g)
{
    free(g->p);
    memset(g, 0, sizeof *g);
}

void situ_mvt_geom_reset(situ_mvt_geom *g)
{
    g->n = g->nints = 0;
    g->cx = g->cy = 0;
}

/* Ensures room for `more` integers (5 bytes each at most); 0 or -1 (and
 * g->oom set). */
static int geom_room(situ_mvt_geom *g, size_t more)
{
    size_t need = g->n + 5 * more;
    if (g->oom)
        return -1;
    if (need <= g->cap)
        return 0;
    size_t cap = g->cap ? g->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(g->p, cap);
    if (!p) {
        g->oom = 1;
        return -1;
    }
    g->p = p;
    g->cap = cap;
    return 0;
}

static inline uint8_t *put32(uint8_t *p, uint32_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Appends a command integer (room checked). */
static void geom_cmd(situ_mvt_geom *g, uint32_t id, uint32_t count)
{
    g->n = (size_t)(put32(g->p + g->n, situ_mvt_cmd(id, count)) - g->p);
    g->nints++;
}

/* Appends the zigzagged deltas of npts points from the cursor. */
static void geom_deltas(situ_mvt_geom *g, const int32_t *xy, size_t npts)
{
    uint8_t *p = g->p + g->n;
    int32_t cx = g->cx, cy = g->cy;
    for (size_t i = 0; i < npts; i++) {
        p = put32(p, situ_mvt_zigzag(xy[2 * i] - cx));
        p = put32(p, situ_mvt_zigzag(xy[2 * i + 1] - cy));
        cx = xy[2 * i], cy = xy[2 * i + 1];
    }
    g->n = (size_t)(p - g->p);
    g->nints += 2 * npts;
    g->cx = cx, g->cy = cy;
}

void situ_mvt_geom_points(situ_mvt_geom *g, const int32_t *xy, size_t npts)
{
    if (!npts || geom_room(g, 1 + 2 * npts))
        return;
    geom_cmd(g, SITU_MVT_MOVETO, (uint32_t)npts);
    geom_deltas(g, xy, npts);
}

void situ_mvt_geom_line(situ_mvt_geom *g, const int32_t *xy, size_t npts)
{
    if (npts < 2 || geom_room(g, 2 + 2 * npts))
        return;
    geom_cmd(g, SITU_MVT_MOVETO, 1);
    geom_deltas(g, xy, 1);
    geom_cmd(g, SITU_MVT_LINETO, (uint32_t)(npts - 1));
    geom_deltas(g, xy + 2, npts - 1);
}

void situ_mvt_geom_ring(situ_mvt_geom *g, const int32_t *xy, size_t npts)
{
    if (npts < 3 || geom_room(g, 3 + 2 * npts))
        return;
    situ_mvt_geom_line(g, xy, npts);
    geom_cmd(g, SITU_MVT_CLOSEPATH, 1);
}

/* ---- values ---------------------------------------------------------------- */

void situ_mvt_value_string(situ_buf *b, const char *s, size_t n)
{
    if (situ_buf_reserve(b, 11 + n))
        return;
    uint8_t *p = (uint8_t *)b->p + b->n;
    *p++ = TAG(1, WT_LEN);
    p += situ_mvt_put_varint(p, n);
    memcpy(p, s, n);
    b->n = (size_t)(p + n - (uint8_t *)b->p);
}

void situ_mvt_value_int(situ_buf *b, int64_t v)
{
    if (situ_buf_reserve(b, 11))
        return;
    uint8_t *p = (uint8_t *)b->p + b->n;
    if (v >= 0) {
        *p++ = TAG(4, WT_VARINT);
        p += situ_mvt_put_varint(p, (uint64_t)v);
    } else {
        *p++ = TAG(6, WT_VARINT);
        p += situ_mvt_put_varint(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
    }
    b->n = (size_t)(p - (uint8_t *)b->p);
}

void situ_mvt_value_double(situ_buf *b, double v)
{
    uint8_t p[9];
    uint64_t u;
    memcpy(&u, &v, 8);
    p[0] = TAG(3, WT_I64);
    for (int i = 0; i < 8; i++)
        p[1 + i] = (uint8_t)(u >> (8 * i));
    situ_buf_add(b, p, 9);
}

void situ_mvt_value_bool(situ_buf *b, int v)
{
    uint8_t p[2] = {TAG(7, WT_VARINT), v ? 1 : 0};
    situ_buf_add(b, p, 2);
}

/* ---- layers ---------------------------------------------------------------- */

void situ_mvt_layer_init(situ_mvt_layer *l)
{
    memset(l, 0, sizeof *l);
}

void situ_mvt_layer_dispose(situ_mvt_layer *l)
{
    situ_buf_dispose(&l->feats);
    situ_buf_dispose(&l->keys);
    situ_buf_dispose(&l->vals);
    memset(l, 0, sizeof *l);
}

void situ_mvt_layer_reset(situ_mvt_layer *l)
{
    l->feats.n = l->keys.n = l->vals.n = 0;
    l->nkeys = l->nvals = l->nfeats = 0;
}

/* Appends tag, length and n bytes to b. */
static void add_len_field(situ_buf *b, uint8_t tag, const void *p, size_t n)
{
    if (situ_buf_reserve(b, 11 + n))
        return;
    uint8_t *q = (uint8_t *)b->p + b->n;
    *q++ = tag;
    q += situ_mvt_put_varint(q, n);
    memcpy(q, p, n);
    b->n = (size_t)(q + n - (uint8_t *)b->p);
}

uint32_t situ_mvt_layer_key(situ_mvt_layer *l, const char *key, size_t n)
{
    add_len_field(&l->keys, TAG(3, WT_LEN), key, n);
    return l->nkeys++;
}

uint32_t situ_mvt_layer_value(situ_mvt_layer *l, const void *value, size_t n)
{
    add_len_field(&l->vals, TAG(4, WT_LEN), value, n);
    return l->nvals++;
}

uint32_t situ_mvt_layer_value_string(situ_mvt_layer *l, const char *s, size_t n)
{
    situ_buf *b = &l->vals;
    if (b->n + 23 + n > b->cap && situ_buf_reserve(b, 22 + n))
        return l->nvals++; /* b->oom: the layer fails */
    uint8_t *p = (uint8_t *)b->p + b->n;
    *p++ = TAG(4, WT_LEN);
    p += situ_mvt_put_varint(p, 1 + situ_mvt_varint_len(n) + n);
    *p++ = TAG(1, WT_LEN);
    p += situ_mvt_put_varint(p, n);
    memcpy(p, s, n);
    b->n = (size_t)(p + n - (uint8_t *)b->p);
    return l->nvals++;
}

static size_t packed_len(const uint32_t *v, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += 1u + (v[i] >= 1u << 7) + (v[i] >= 1u << 14) + (v[i] >= 1u << 21) + (v[i] >= 1u << 28);
    return len;
}

/* The tag indices a feature packs on the stack (5 bytes each at most)
 * before copying them after their length; more are counted first. */
#define TAGS_ON_STACK 128

void situ_mvt_layer_feature(situ_mvt_layer *l, int has_id, uint64_t id, situ_mvt_gtype type,
                            const uint32_t *tags, size_t ntags, const situ_mvt_geom *g)
{
    uint8_t packed[5 * TAGS_ON_STACK];
    const uint8_t *tp = NULL; /* the packed tags when packed on the stack */
    size_t n = 2 * ntags, tlen, glen = g->n;
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= tags[i];
    if (any < 1u << 7) { /* most features: every index a byte */
        tlen = n;
    } else if (n <= TAGS_ON_STACK) {
        uint8_t *q = packed;
        for (size_t i = 0; i < n; i++)
            q = put32(q, tags[i]);
        tp = packed, tlen = (size_t)(q - packed);
    } else {
        tlen = packed_len(tags, n);
    }
    size_t body = (has_id ? 1 + situ_mvt_varint_len(id) : 0) + 2;
    if (ntags)
        body += 1 + situ_mvt_varint_len(tlen) + tlen;
    body += 1 + situ_mvt_varint_len(glen) + glen;
    if (g->oom) {
        l->feats.oom = 1;
        return;
    }
    if (situ_buf_reserve(&l->feats, 11 + body))
        return;
    uint8_t *p = (uint8_t *)l->feats.p + l->feats.n;
    *p++ = TAG(2, WT_LEN);
    p += situ_mvt_put_varint(p, body);
    if (has_id) {
        *p++ = TAG(1, WT_VARINT);
        p += situ_mvt_put_varint(p, id);
    }
    if (ntags) {
        *p++ = TAG(2, WT_LEN);
        p += situ_mvt_put_varint(p, tlen);
        if (tp)
            memcpy(p, tp, tlen), p += tlen;
        else if (tlen == n)
            for (size_t i = 0; i < n; i++)
                *p++ = (uint8_t)tags[i];
        else
            for (size_t i = 0; i < n; i++)
                p = put32(p, tags[i]);
    }
    *p++ = TAG(3, WT_VARINT);
    *p++ = (uint8_t)type;
    *p++ = TAG(4, WT_LEN);
    p += situ_mvt_put_varint(p, glen);
    memcpy(p, g->p, glen);
    l->feats.n = (size_t)(p + glen - (uint8_t *)l->feats.p);
    l->nfeats++;
}

int situ_mvt_layer_finish(situ_mvt_layer *l, const char *name, uint32_t extent, situ_buf *out)
{
    if (l->feats.oom || l->keys.oom || l->vals.oom)
        return SITU_ENOMEM;
    if (!l->nfeats)
        return 0;
    size_t nname = strlen(name);
    size_t body = 2 + 1 + situ_mvt_varint_len(nname) + nname + l->feats.n + l->keys.n + l->vals.n +
                  1 + situ_mvt_varint_len(extent);
    if (situ_buf_reserve(out, 11 + body))
        return SITU_ENOMEM;
    uint8_t *p = (uint8_t *)out->p + out->n;
    *p++ = TAG(3, WT_LEN);
    p += situ_mvt_put_varint(p, body);
    *p++ = TAG(15, WT_VARINT);
    *p++ = 2;
    *p++ = TAG(1, WT_LEN);
    p += situ_mvt_put_varint(p, nname);
    memcpy(p, name, nname), p += nname;
    memcpy(p, l->feats.p, l->feats.n), p += l->feats.n;
    if (l->keys.n)
        memcpy(p, l->keys.p, l->keys.n), p += l->keys.n;
    if (l->vals.n)
        memcpy(p, l->vals.p, l->vals.n), p += l->vals.n;
    *p++ = TAG(5, WT_VARINT);
    p += situ_mvt_put_varint(p, extent);
    out->n = (size_t)(p - (uint8_t *)out->p);
    out->p[out->n] = '\0';
    return 0;
}

/* ---- reading --------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p, *end;
} rd;

static int rd_varint(rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* Reads one field header and, for length-delimited fields, its extent. */
static int rd_field(rd *r, uint32_t *field, int *wt, rd *sub)
{
    uint64_t key, len;
    if (rd_varint(r, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX)
        return -1;
    *field = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    if (*wt != WT_LEN)
        return 0;
    if (rd_varint(r, &len) || len > (uint64_t)(r->end - r->p))
        return -1;
    sub->p = r->p;
    sub->end = r->p + len;
    r->p += len;
    return 0;
}

static int rd_skip(rd *r, int wt)
{
    uint64_t v;
    size_t n = wt == WT_I64 ? 8 : wt == WT_I32 ? 4 : 0;
    if (wt == WT_VARINT)
        return rd_varint(r, &v);
    if (wt == WT_LEN)
        return 0; /* rd_field already skipped it */
    if (!n || (size_t)(r->end - r->p) < n)
        return -1;
    r->p += n;
    return 0;
}

static int rd_packed(rd sub, uint32_t **out, size_t *out_n)
{
    size_t cap = (size_t)(sub.end - sub.p), n = 0;
    uint32_t *v = malloc((cap ? cap : 1) * sizeof *v);
    if (!v)
        return -1;
    while (sub.p < sub.end) {
        uint64_t x;
        if (rd_varint(&sub, &x) || x > UINT32_MAX) {
            free(v);
            return -1;
        }
        v[n++] = (uint32_t)x;
    }
    *out = v;
    *out_n = n;
    return 0;
}

static int rd_value(rd r, situ_mvt_value *v)
{
    memset(v, 0, sizeof *v);
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        rd sub;
        uint64_t x;
        if (rd_field(&r, &f, &wt, &sub))
            return -1;
        if (f == 1 && wt == WT_LEN) {
            v->type = SITU_MVT_V_STRING;
            v->s = (const char *)sub.p, v->n = (size_t)(sub.end - sub.p);
        } else if ((f == 2 && wt == WT_I32) || (f == 3 && wt == WT_I64)) {
            if (r.end - r.p < (f == 2 ? 4 : 8))
                return -1;
            if (f == 2) {
                float fl;
                memcpy(&fl, r.p, 4), r.p += 4;
                v->type = SITU_MVT_V_FLOAT, v->d = fl;
            } else {
                memcpy(&v->d, r.p, 8), r.p += 8;
                v->type = SITU_MVT_V_DOUBLE;
            }
        } else if (f >= 4 && f <= 7 && wt == WT_VARINT) {
            if (rd_varint(&r, &x))
                return -1;
            v->type = f == 4   ? SITU_MVT_V_INT
                      : f == 5 ? SITU_MVT_V_UINT
                      : f == 6 ? SITU_MVT_V_SINT
                               : SITU_MVT_V_BOOL;
            v->i = f == 6 ? (int64_t)(x >> 1) ^ -(int64_t)(x & 1) : (int64_t)x;
        } else if (rd_skip(&r, wt)) {
            return -1;
        }
    }
    return v->type ? 0 : -1;
}

static int rd_feature(rd r, situ_mvt_feature *ft)
{
    memset(ft, 0, sizeof *ft);
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        rd sub;
        uint64_t x;
        if (rd_field(&r, &f, &wt, &sub))
            return -1;
        if (f == 1 && wt == WT_VARINT) {
            if (rd_varint(&r, &ft->id))
                return -1;
            ft->has_id = 1;
        } else if (f == 2 && wt == WT_LEN) {
            free(ft->tags);
            ft->tags = NULL, ft->ntags = 0;
            if (rd_packed(sub, &ft->tags, &ft->ntags) || ft->ntags % 2)
                return -1;
            ft->ntags /= 2;
        } else if (f == 3 && wt == WT_VARINT) {
            if (rd_varint(&r, &x) || x > 3)
                return -1;
            ft->type = (situ_mvt_gtype)x;
        } else if (f == 4 && wt == WT_LEN) {
            free(ft->geom);
            ft->geom = NULL, ft->ngeom = 0;
            if (rd_packed(sub, &ft->geom, &ft->ngeom))
                return -1;
        } else if (rd_skip(&r, wt)) {
            return -1;
        }
    }
    return 0;
}

/* Grows an array of elem-sized items by one; returns the new slot or NULL. */
static void *push(void **arr, size_t *n, size_t elem)
{
    if ((*n & (*n - 1)) == 0) { /* at 0, 1, 2, 4, ...: double */
        void *p = realloc(*arr, (*n ? 2 * *n : 1) * elem);
        if (!p)
            return NULL;
        *arr = p;
    }
    void *slot = (char *)*arr + (*n)++ * elem;
    memset(slot, 0, elem);
    return slot;
}

static int rd_layer_field(rd *r, situ_mvt_rlayer *l)
{
    uint32_t f;
    int wt;
    rd sub;
    uint64_t x;
    if (rd_field(r, &f, &wt, &sub))
        return -1;
    if (f == 1 && wt == WT_LEN) {
        free(l->name);
        if (!(l->name = strndup((const char *)sub.p, (size_t)(sub.end - sub.p))))
            return -1;
    } else if (f == 2 && wt == WT_LEN) {
        situ_mvt_feature *ft = push((void **)&l->feats, &l->nfeats, sizeof *ft);
        return !ft || rd_feature(sub, ft) ? -1 : 0;
    } else if (f == 3 && wt == WT_LEN) {
        char **k = push((void **)&l->keys, &l->nkeys, sizeof *k);
        return !k || !(*k = strndup((const char *)sub.p, (size_t)(sub.end - sub.p))) ? -1 : 0;
    } else if (f == 4 && wt == WT_LEN) {
        situ_mvt_value *v = push((void **)&l->vals, &l->nvals, sizeof *v);
        return !v || rd_value(sub, v) ? -1 : 0;
    } else if ((f == 5 || f == 15) && wt == WT_VARINT) {
        if (rd_varint(r, &x) || x > UINT32_MAX)
            return -1;
        *(f == 5 ? &l->extent : &l->version) = (uint32_t)x;
    } else {
        return rd_skip(r, wt);
    }
    return 0;
}

static int rd_layer(rd r, situ_mvt_rlayer *l)
{
    l->version = 1;
    l->extent = 4096;
    while (r.p < r.end)
        if (rd_layer_field(&r, l))
            return -1;
    if (!l->name)
        return -1;
    for (size_t i = 0; i < l->nfeats; i++)
        for (size_t t = 0; t < l->feats[i].ntags; t++)
            if (l->feats[i].tags[2 * t] >= l->nkeys || l->feats[i].tags[2 * t + 1] >= l->nvals)
                return -1;
    return 0;
}

int situ_mvt_decode(const void *p, size_t n, situ_mvt_tile **out_tile, situ_err *err)
{
    situ_mvt_tile *t = calloc(1, sizeof *t);
    if (!t)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    rd r = {p, (const uint8_t *)p + n};
    while (r.p < r.end) {
        uint32_t f;
        int wt;
        rd sub;
        if (rd_field(&r, &f, &wt, &sub))
            goto bad;
        if (f != 3 || wt != WT_LEN) {
            if (rd_skip(&r, wt))
                goto bad;
            continue;
        }
        situ_mvt_rlayer *l = push((void **)&t->layers, &t->nlayers, sizeof *l);
        if (!l || rd_layer(sub, l))
            goto bad;
    }
    *out_tile = t;
    return 0;
bad:
    situ_mvt_tile_free(t);
    return situ_err_set(err, SITU_EFORMAT, "not a valid vector tile (at byte %zu)",
                        (size_t)(r.p - (const uint8_t *)p));
}

void situ_mvt_tile_free(situ_mvt_tile *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nlayers; i++) {
        situ_mvt_rlayer *l = &t->layers[i];
        for (size_t j = 0; j < l->nfeats; j++)
            free(l->feats[j].tags), free(l->feats[j].geom);
        for (size_t j = 0; j < l->nkeys; j++)
            free(l->keys[j]);
        free(l->feats), free(l->keys), free(l->vals), free(l->name);
    }
    free(t->layers);
    free(t);
}

/* Appends count points read as deltas from f->geom at *i to xy. */
static int decode_run(const situ_mvt_feature *f, size_t *i, uint32_t count, int32_t *cur,
                      int32_t *xy, size_t *npts)
{
    if (count > (f->ngeom - *i) / 2)
        return -1;
    for (uint32_t k = 0; k < count; k++) {
        cur[0] += situ_mvt_unzigzag(f->geom[(*i)++]);
        cur[1] += situ_mvt_unzigzag(f->geom[(*i)++]);
        xy[2 * *npts] = cur[0], xy[2 * *npts + 1] = cur[1];
        (*npts)++;
    }
    return 0;
}

int situ_mvt_geom_decode(const situ_mvt_feature *f, int32_t **out_xy, size_t *out_npts,
                         uint32_t **out_parts, size_t *out_nparts, situ_err *err)
{
    int32_t *xy = malloc((f->ngeom + 1) * sizeof *xy);
    uint32_t *parts = malloc((f->ngeom + 1) * sizeof *parts);
    size_t npts = 0, nparts = 0, i = 0, part0 = 0;
    int32_t cur[2] = {0, 0};
    if (!xy || !parts)
        goto fail;
    while (i < f->ngeom) {
        uint32_t id = f->geom[i] & 7, count = f->geom[i] >> 3;
        i++;
        if (id == SITU_MVT_MOVETO) {
            if (npts > part0)
                parts[nparts++] = (uint32_t)(npts - part0);
            part0 = npts;
            if (!count || decode_run(f, &i, count, cur, xy, &npts))
                goto fail;
            if (f->type == SITU_MVT_POINT) {
                parts[nparts++] = (uint32_t)(npts - part0);
                part0 = npts;
            }
        } else if (id == SITU_MVT_LINETO) {
            if (npts == part0 || decode_run(f, &i, count, cur, xy, &npts))
                goto fail;
        } else if (id == SITU_MVT_CLOSEPATH && count == 1 && f->type == SITU_MVT_POLYGON) {
            if (npts - part0 < 3)
                goto fail;
            parts[nparts++] = (uint32_t)(npts - part0);
            part0 = npts;
        } else {
            goto fail;
        }
    }
    if (npts > part0) {
        if (f->type == SITU_MVT_POLYGON)
            goto fail; /* a ring without ClosePath */
        parts[nparts++] = (uint32_t)(npts - part0);
    }
    *out_xy = xy, *out_npts = npts, *out_parts = parts, *out_nparts = nparts;
    return 0;
fail:
    free(xy), free(parts);
    return situ_err_set(err, SITU_EFORMAT, "bad geometry commands at %zu", i);
}

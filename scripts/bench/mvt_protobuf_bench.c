/*
 * mvt_protobuf_bench.c: situ's hand-written MVT writer (layers/tiles/mvt.c)
 * against protobuf-c on the same tile contents (issue 21, "dependencies that
 * are used"). Built and run by mvt_protobuf_bench.sh, which compiles
 * vector_tile.proto with protoc-c; not part of the build.
 *
 * The contents: every tile of a list is cut from a store as situd cuts an
 * `all` tile, then decoded (situ_mvt_decode) into layers of keys, typed
 * values and features (id, type, tags, the points of each part). Both
 * writers encode those contents from scratch on each pass: the hand-written
 * one through situ_mvt_geom_* and situ_mvt_layer_*; protobuf-c by filling
 * its messages (the geometry as command integers) and packing them. Each
 * output is decoded again and must equal the contents. Prints per writer
 * the bytes and the time per tile; `--only hand|protobuf` runs one writer
 * (for callgrind: the encode functions are bench_hand and bench_protobuf).
 *
 * Usage: mvt_protobuf_bench --db FILE --tiles FILE [--passes N] [--only W]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/mvt.h"
#include "situ/snapshot.h"
#include "situ/store.h"
#include "situ/tile.h"
#include "vector_tile.pb-c.h"
#include "bench.h"

typedef struct part {
    int32_t *xy;
    size_t npts;
} part;

typedef struct feat {
    int has_id;
    uint64_t id;
    situ_mvt_gtype type;
    uint32_t *tags;
    size_t ntags;
    part *parts;
    size_t nparts;
} feat;

typedef struct layer {
    char *name;
    uint32_t extent;
    char **keys; /* NUL-terminated copies */
    size_t nkeys;
    situ_mvt_value *vals; /* strings point into svals */
    char **svals;         /* NUL-terminated copies of string values */
    size_t nvals;
    feat *feats;
    size_t nfeats;
} layer;

typedef struct tile {
    layer *layers;
    size_t nlayers;
    situ_mvt_tile *decoded; /* owns what the layers point into */
    situ_buf bytes;
} tile;

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- the contents -------------------------------------------------------- */

static int take_feature(const situ_mvt_feature *f, feat *out)
{
    int32_t *xy;
    uint32_t *np;
    size_t npts, nparts;
    situ_err err = {0};
    if (situ_mvt_geom_decode(f, &xy, &npts, &np, &nparts, &err))
        return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), -1;
    *out =
        (feat){f->has_id, f->id, f->type, f->tags, f->ntags, calloc(nparts, sizeof(part)), nparts};
    for (size_t i = 0, at = 0; i < nparts; at += np[i], i++) {
        out->parts[i].npts = np[i];
        out->parts[i].xy = malloc(2 * np[i] * sizeof(int32_t));
        memcpy(out->parts[i].xy, xy + 2 * at, 2 * np[i] * sizeof(int32_t));
    }
    free(xy), free(np);
    return 0;
}

static int take_layer(const situ_mvt_rlayer *r, layer *l)
{
    *l = (layer){.name = r->name,
                 .extent = r->extent,
                 .nkeys = r->nkeys,
                 .nvals = r->nvals,
                 .nfeats = r->nfeats};
    l->keys = calloc(r->nkeys + 1, sizeof(char *));
    for (size_t i = 0; i < r->nkeys; i++)
        l->keys[i] = r->keys[i];
    l->vals = r->vals;
    l->svals = calloc(r->nvals + 1, sizeof(char *));
    for (size_t i = 0; i < r->nvals; i++)
        if (r->vals[i].type == SITU_MVT_V_STRING)
            l->svals[i] = dupn(r->vals[i].s, r->vals[i].n);
    l->feats = calloc(r->nfeats + 1, sizeof(feat));
    for (size_t i = 0; i < r->nfeats; i++)
        if (take_feature(&r->feats[i], &l->feats[i]))
            return -1;
    return 0;
}

/* Cuts tile t of every collection and decodes it into out. */
static int take_tile(situ_tilesrc *const *src, situ_tile_xyz t, tile *out)
{
    situ_err err = {0};
    situ_buf_init(&out->bytes);
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (situ_tile_encode_coll(src[i], t, NULL, &out->bytes, NULL, &err))
            return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), -1;
    if (situ_mvt_decode(out->bytes.p, out->bytes.n, &out->decoded, &err))
        return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), -1;
    out->nlayers = out->decoded->nlayers;
    out->layers = calloc(out->nlayers + 1, sizeof(layer));
    for (size_t i = 0; i < out->nlayers; i++)
        if (take_layer(&out->decoded->layers[i], &out->layers[i]))
            return -1;
    return 0;
}

/* ---- the hand-written writer -------------------------------------------- */

static void hand_value(const situ_mvt_value *v, situ_buf *b)
{
    b->n = 0;
    if (v->type == SITU_MVT_V_STRING)
        situ_mvt_value_string(b, v->s, v->n);
    else if (v->type == SITU_MVT_V_DOUBLE)
        situ_mvt_value_double(b, v->d);
    else if (v->type == SITU_MVT_V_BOOL)
        situ_mvt_value_bool(b, (int)v->i);
    else
        situ_mvt_value_int(b, v->i);
}

static void hand_geom(const feat *f, situ_mvt_geom *g)
{
    situ_mvt_geom_reset(g);
    for (size_t i = 0; i < f->nparts; i++)
        if (f->type == SITU_MVT_POLYGON)
            situ_mvt_geom_ring(g, f->parts[i].xy, f->parts[i].npts);
        else if (f->type == SITU_MVT_LINESTRING)
            situ_mvt_geom_line(g, f->parts[i].xy, f->parts[i].npts);
        else
            situ_mvt_geom_points(g, f->parts[i].xy, f->parts[i].npts);
}

/* Encodes t into out (emptied first). */
__attribute__((noinline)) int bench_hand(const tile *t, situ_mvt_layer *l, situ_mvt_geom *g,
                                         situ_buf *scratch, situ_buf *out)
{
    out->n = 0;
    for (size_t i = 0; i < t->nlayers; i++) {
        const layer *y = &t->layers[i];
        situ_mvt_layer_reset(l);
        for (size_t k = 0; k < y->nkeys; k++)
            situ_mvt_layer_key(l, y->keys[k], strlen(y->keys[k]));
        for (size_t v = 0; v < y->nvals; v++) {
            hand_value(&y->vals[v], scratch);
            situ_mvt_layer_value(l, scratch->p, scratch->n);
        }
        for (size_t f = 0; f < y->nfeats; f++) {
            const feat *e = &y->feats[f];
            hand_geom(e, g);
            situ_mvt_layer_feature(l, e->has_id, e->id, e->type, e->tags, e->ntags, g);
        }
        if (situ_mvt_layer_finish(l, y->name, y->extent, out))
            return -1;
    }
    return 0;
}

/* ---- protobuf-c ---------------------------------------------------------- */

/* Memory the protobuf-c messages are filled into, grown as needed and kept
 * between tiles (as the hand-written writer keeps its buffers). */
typedef struct pb_scratch {
    VectorTile__Tile__Layer *layers, **player;
    VectorTile__Tile__Feature *feats, **pfeat;
    VectorTile__Tile__Value *vals, **pval;
    uint32_t *geom;
    size_t cap[7]; /* of the seven arrays above, in their order */
} pb_scratch;

static void *grow(void *p, size_t *cap, size_t n, size_t elem)
{
    if (n <= *cap)
        return p;
    *cap = n * 2;
    return realloc(p, *cap * elem);
}

static void pb_value(const layer *y, size_t i, VectorTile__Tile__Value *v)
{
    const situ_mvt_value *s = &y->vals[i];
    vector_tile__tile__value__init(v);
    if (s->type == SITU_MVT_V_STRING)
        v->string_value = y->svals[i];
    else if (s->type == SITU_MVT_V_DOUBLE)
        v->has_double_value = 1, v->double_value = s->d;
    else if (s->type == SITU_MVT_V_BOOL)
        v->has_bool_value = 1, v->bool_value = (protobuf_c_boolean)s->i;
    else if (s->i >= 0)
        v->has_int_value = 1, v->int_value = s->i;
    else
        v->has_sint_value = 1, v->sint_value = s->i;
}

/* Writes the command integers of f's parts at g (room for geom_ints);
 * returns how many. The same commands situ_mvt_geom_* write. */
static size_t pb_commands(const feat *f, uint32_t *g)
{
    size_t n = 0;
    int32_t cx = 0, cy = 0;
    for (size_t i = 0; i < f->nparts; i++) {
        const int32_t *xy = f->parts[i].xy;
        size_t npts = f->parts[i].npts;
        int line = f->type != SITU_MVT_POINT;
        for (size_t p = 0; p < npts; p++) {
            if (p == 0)
                g[n++] = situ_mvt_cmd(SITU_MVT_MOVETO, line ? 1 : (uint32_t)npts);
            if (p == 1 && line)
                g[n++] = situ_mvt_cmd(SITU_MVT_LINETO, (uint32_t)(npts - 1));
            g[n++] = situ_mvt_zigzag(xy[2 * p] - cx);
            g[n++] = situ_mvt_zigzag(xy[2 * p + 1] - cy);
            cx = xy[2 * p], cy = xy[2 * p + 1];
        }
        if (f->type == SITU_MVT_POLYGON)
            g[n++] = situ_mvt_cmd(SITU_MVT_CLOSEPATH, 1);
    }
    return n;
}

static size_t geom_ints(const tile *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->nlayers; i++)
        for (size_t f = 0; f < t->layers[i].nfeats; f++)
            for (size_t p = 0; p < t->layers[i].feats[f].nparts; p++)
                n += 3 + 2 * t->layers[i].feats[f].parts[p].npts;
    return n;
}

/* Sizes s for t: one array of each message type for the whole tile. */
static void pb_room(const tile *t, pb_scratch *s)
{
    size_t nf = 0, nv = 0, ng = geom_ints(t);
    for (size_t i = 0; i < t->nlayers; i++)
        nf += t->layers[i].nfeats, nv += t->layers[i].nvals;
    s->layers = grow(s->layers, &s->cap[0], t->nlayers + 1, sizeof *s->layers);
    s->player = grow(s->player, &s->cap[1], t->nlayers + 1, sizeof *s->player);
    s->feats = grow(s->feats, &s->cap[2], nf + 1, sizeof *s->feats);
    s->pfeat = grow(s->pfeat, &s->cap[3], nf + 1, sizeof *s->pfeat);
    s->vals = grow(s->vals, &s->cap[4], nv + 1, sizeof *s->vals);
    s->pval = grow(s->pval, &s->cap[5], nv + 1, sizeof *s->pval);
    s->geom = grow(s->geom, &s->cap[6], ng + 1, sizeof *s->geom);
}

/* Fills layer y's message at L from the scratch arrays at *f, *v, *g. */
static void pb_layer(const layer *y, pb_scratch *s, size_t *f, size_t *v, size_t *g,
                     VectorTile__Tile__Layer *L)
{
    vector_tile__tile__layer__init(L);
    L->version = 2;
    L->name = y->name;
    L->has_extent = 1, L->extent = y->extent;
    L->n_keys = y->nkeys, L->keys = y->keys;
    L->n_values = y->nvals, L->values = s->pval + *v;
    for (size_t i = 0; i < y->nvals; i++, (*v)++) {
        pb_value(y, i, &s->vals[*v]);
        s->pval[*v] = &s->vals[*v];
    }
    L->n_features = y->nfeats, L->features = s->pfeat + *f;
    for (size_t i = 0; i < y->nfeats; i++, (*f)++) {
        const feat *e = &y->feats[i];
        VectorTile__Tile__Feature *F = &s->feats[*f];
        vector_tile__tile__feature__init(F);
        F->has_id = e->has_id, F->id = e->id;
        F->has_type = 1, F->type = (VectorTile__Tile__GeomType)e->type;
        F->n_tags = 2 * e->ntags, F->tags = e->tags;
        F->geometry = s->geom + *g;
        F->n_geometry = pb_commands(e, F->geometry);
        *g += F->n_geometry;
        s->pfeat[*f] = F;
    }
}

__attribute__((noinline)) int bench_protobuf(const tile *t, pb_scratch *s, situ_buf *out)
{
    VectorTile__Tile T;
    size_t f = 0, v = 0, g = 0;
    pb_room(t, s);
    vector_tile__tile__init(&T);
    T.n_layers = t->nlayers, T.layers = s->player;
    for (size_t i = 0; i < t->nlayers; i++) {
        pb_layer(&t->layers[i], s, &f, &v, &g, &s->layers[i]);
        s->player[i] = &s->layers[i];
    }
    size_t n = vector_tile__tile__get_packed_size(&T);
    out->n = 0;
    if (situ_buf_reserve(out, n))
        return -1;
    out->n = vector_tile__tile__pack(&T, (uint8_t *)out->p);
    return out->n == n ? 0 : -1;
}

/* ---- checking and timing ------------------------------------------------- */

static int same_value(const situ_mvt_value *a, const situ_mvt_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SITU_MVT_V_STRING)
        return a->n == b->n && !memcmp(a->s, b->s, a->n);
    return a->type == SITU_MVT_V_DOUBLE || a->type == SITU_MVT_V_FLOAT ? a->d == b->d
                                                                       : a->i == b->i;
}

static int same_feature(const situ_mvt_feature *a, const situ_mvt_feature *b)
{
    return a->has_id == b->has_id && a->id == b->id && a->type == b->type && a->ntags == b->ntags &&
           !memcmp(a->tags, b->tags, 2 * a->ntags * sizeof *a->tags) && a->ngeom == b->ngeom &&
           !memcmp(a->geom, b->geom, a->ngeom * sizeof *a->geom);
}

static int same_layer(const situ_mvt_rlayer *a, const situ_mvt_rlayer *b)
{
    if (strcmp(a->name, b->name) || a->version != b->version || a->extent != b->extent ||
        a->nkeys != b->nkeys || a->nvals != b->nvals || a->nfeats != b->nfeats)
        return 0;
    for (size_t i = 0; i < a->nkeys; i++)
        if (strcmp(a->keys[i], b->keys[i]))
            return 0;
    for (size_t i = 0; i < a->nvals; i++)
        if (!same_value(&a->vals[i], &b->vals[i]))
            return 0;
    for (size_t i = 0; i < a->nfeats; i++)
        if (!same_feature(&a->feats[i], &b->feats[i]))
            return 0;
    return 1;
}

/* 1 when bytes decode to the tile t was cut as. */
static int decodes_equal(const tile *t, const situ_buf *bytes)
{
    situ_mvt_tile *d = NULL;
    situ_err err = {0};
    if (situ_mvt_decode(bytes->p, bytes->n, &d, &err))
        return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), 0;
    int ok = d->nlayers == t->decoded->nlayers;
    for (size_t i = 0; ok && i < d->nlayers; i++)
        ok = same_layer(&d->layers[i], &t->decoded->layers[i]);
    situ_mvt_tile_free(d);
    return ok;
}

typedef struct writers {
    situ_mvt_layer l;
    situ_mvt_geom g;
    situ_buf scratch;
    pb_scratch pb;
} writers;

static int encode(writers *w, int which, const tile *t, situ_buf *out)
{
    return which ? bench_protobuf(t, &w->pb, out) : bench_hand(t, &w->l, &w->g, &w->scratch, out);
}

/* Checks, then times writer `which` over every tile; prints its line. */
static int run(writers *w, int which, const tile *tiles, size_t n, int passes)
{
    static const char *name[] = {"hand", "protobuf-c"};
    situ_buf out;
    size_t bytes = 0, same_bytes = 0;
    situ_buf_init(&out);
    for (size_t i = 0; i < n; i++) {
        if (encode(w, which, &tiles[i], &out) || !decodes_equal(&tiles[i], &out)) {
            fprintf(stderr, "mvt_protobuf_bench: %s: tile %zu does not decode equal\n", name[which],
                    i);
            return -1;
        }
        bytes += out.n;
        same_bytes += out.n == tiles[i].bytes.n && !memcmp(out.p, tiles[i].bytes.p, out.n);
    }
    double t0 = now_ms();
    for (int p = 0; p < passes; p++)
        for (size_t i = 0; i < n; i++)
            encode(w, which, &tiles[i], &out);
    double ms = now_ms() - t0;
    printf("mvt_%s tiles=%zu passes=%d bytes=%zu byte_identical_to_situd=%zu/%zu "
           "us_per_tile=%.2f MB_per_s=%.1f\n",
           which ? "protobuf_c" : "hand", n, passes, bytes, same_bytes, n,
           ms * 1e3 / (double)(n * (size_t)passes), (double)bytes * passes / 1e6 / (ms / 1e3));
    situ_buf_dispose(&out);
    return 0;
}

static int read_list(const char *path, situ_tile_xyz **out, size_t *out_n)
{
    FILE *f = fopen(path, "r");
    char line[128];
    size_t n = 0, cap = 0;
    situ_tile_xyz *v = NULL;
    if (!f)
        return fprintf(stderr, "mvt_protobuf_bench: cannot open %s\n", path), -1;
    while (fgets(line, sizeof line, f)) {
        situ_err err = {0};
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        v = grow(v, &cap, n + 1, sizeof *v);
        if (situ_tile_parse_path(line, "", &v[n++], &err))
            return fclose(f), fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), -1;
    }
    fclose(f);
    *out = v, *out_n = n;
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = NULL, *list = NULL, *only = NULL;
    int passes = 20;
    for (int i = 1; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!strcmp(argv[i], "--tiles"))
            list = argv[i + 1];
        else if (!strcmp(argv[i], "--passes"))
            passes = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--only"))
            only = argv[i + 1];
    if (!db || !list || passes < 1) {
        fprintf(stderr, "usage: mvt_protobuf_bench --db FILE --tiles FILE [--passes N] "
                        "[--only hand|protobuf]\n");
        return 2;
    }
    situ_store *s = NULL;
    situ_snapshot *snap = NULL;
    situ_tilesrc *src[SITU_NCOLLECTIONS] = {0};
    situ_tile_xyz *xyz;
    size_t n, kept = 0;
    situ_err err = {0};
    if (read_list(list, &xyz, &n))
        return 1;
    if (situ_store_open(db, SITU_STORE_READONLY, &s, &err) || situ_snapshot_load(s, &snap, &err))
        return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), 1;
    for (int i = 0; i < SITU_NCOLLECTIONS; i++)
        if (situ_tilesrc_new(snap->colls[i], &src[i], &err))
            return fprintf(stderr, "mvt_protobuf_bench: %s\n", err.msg), 1;
    tile *tiles = calloc(n, sizeof *tiles);
    for (size_t i = 0; i < n; i++) {
        if (take_tile(src, xyz[i], &tiles[kept]))
            return 1;
        kept += tiles[kept].nlayers > 0; /* empty tiles are not encoded */
    }
    writers w = {0};
    situ_mvt_layer_init(&w.l);
    situ_mvt_geom_init(&w.g);
    situ_buf_init(&w.scratch);
    int rc = 0;
    if (!only || !strcmp(only, "hand"))
        rc |= run(&w, 0, tiles, kept, passes);
    if (!only || !strcmp(only, "protobuf"))
        rc |= run(&w, 1, tiles, kept, passes);
    return rc ? 1 : 0; /* the process ends here: the OS takes the memory */
}

/* mvt_test.c: tests layers/tiles/mvt.c: varints, zigzag, command integers, the
 * MVT 2.1 specification's own geometry examples, exact layer bytes, value
 * encodings, layer concatenation and the decoder. */
#include "testlib.h"

#include <stdlib.h>
#include <string.h>

#include "situ/mvt.h"

static void varints_and_zigzag(void **state)
{
    (void)state;
    uint8_t p[10];
    assert_int_equal(situ_mvt_put_varint(p, 0), 1);
    assert_int_equal(p[0], 0);
    assert_int_equal(situ_mvt_put_varint(p, 127), 1);
    assert_int_equal(situ_mvt_put_varint(p, 300), 2);
    assert_int_equal(p[0], 0xAC);
    assert_int_equal(p[1], 0x02);
    assert_int_equal(situ_mvt_put_varint(p, UINT64_MAX), 10);
    assert_int_equal(situ_mvt_varint_len(1ULL << 35), 6);
    assert_int_equal(situ_mvt_zigzag(0), 0);
    assert_int_equal(situ_mvt_zigzag(-1), 1);
    assert_int_equal(situ_mvt_zigzag(1), 2);
    assert_int_equal(situ_mvt_zigzag(-2), 3);
    assert_int_equal(situ_mvt_zigzag(INT32_MAX), 4294967294u);
    assert_int_equal(situ_mvt_zigzag(INT32_MIN), 4294967295u);
    for (int32_t v = -70000; v <= 70000; v += 7)
        assert_int_equal(situ_mvt_unzigzag(situ_mvt_zigzag(v)), v);
    assert_int_equal(situ_mvt_cmd(SITU_MVT_MOVETO, 1), 9);
    assert_int_equal(situ_mvt_cmd(SITU_MVT_LINETO, 3), 26);
    assert_int_equal(situ_mvt_cmd(SITU_MVT_CLOSEPATH, 1), 15);
}

/* The geometry's bytes are packed varints: they decode to exactly want. */
static void assert_commands(const situ_mvt_geom *g, const uint32_t *want, size_t n)
{
    size_t k = 0, i = 0;
    assert_int_equal(g->nints, n);
    while (i < g->n) {
        uint32_t v = 0;
        for (int shift = 0;; shift += 7) {
            v |= (uint32_t)(g->p[i] & 0x7F) << shift;
            if (!(g->p[i++] & 0x80))
                break;
        }
        assert_true(k < n);
        assert_int_equal(v, want[k++]);
    }
    assert_int_equal(k, n);
}

/* The examples of section 4.3.5 of the MVT 2.1 specification. */
static void spec_geometry_examples(void **state)
{
    (void)state;
    situ_mvt_geom g;
    situ_mvt_geom_init(&g);
    const int32_t pt[2] = {25, 17};
    situ_mvt_geom_points(&g, pt, 1);
    assert_commands(&g, (const uint32_t[]){9, 50, 34}, 3);

    situ_mvt_geom_reset(&g);
    const int32_t mpt[4] = {5, 7, 3, 2};
    situ_mvt_geom_points(&g, mpt, 2);
    assert_commands(&g, (const uint32_t[]){17, 10, 14, 3, 9}, 5);

    situ_mvt_geom_reset(&g);
    const int32_t line[6] = {2, 2, 2, 10, 10, 10};
    situ_mvt_geom_line(&g, line, 3);
    assert_commands(&g, (const uint32_t[]){9, 4, 4, 18, 0, 16, 16, 0}, 8);

    situ_mvt_geom_reset(&g);
    const int32_t ring[6] = {3, 6, 8, 12, 20, 34};
    situ_mvt_geom_ring(&g, ring, 3);
    assert_commands(&g, (const uint32_t[]){9, 6, 12, 18, 10, 12, 24, 44, 15}, 9);

    /* multipolygon: two exteriors, the second with a hole; the cursor carries */
    situ_mvt_geom_reset(&g);
    const int32_t a[8] = {0, 0, 10, 0, 10, 10, 0, 10};
    const int32_t b[8] = {11, 11, 20, 11, 20, 20, 11, 20};
    const int32_t h[8] = {13, 13, 13, 17, 17, 17, 17, 13};
    situ_mvt_geom_ring(&g, a, 4);
    situ_mvt_geom_ring(&g, b, 4);
    situ_mvt_geom_ring(&g, h, 4);
    assert_commands(&g,
                    (const uint32_t[]){9, 0,  0,  26, 20, 0, 0, 20, 19, 0, 15, 9, 22, 2, 26, 18, 0,
                                       0, 18, 17, 0,  15, 9, 4, 13, 26, 0, 8,  8, 0,  0, 7,  15},
                    33);
    situ_mvt_geom_dispose(&g);
}

static void value_encodings(void **state)
{
    (void)state;
    situ_buf b;
    situ_buf_init(&b);
    situ_mvt_value_string(&b, "hi", 2);
    situ_mvt_value_int(&b, 150);
    situ_mvt_value_int(&b, -3);
    situ_mvt_value_bool(&b, 1);
    situ_mvt_value_double(&b, 1.5);
    const uint8_t want[] = {0x0A, 2,    'h',  'i',  0x20, 0x96, 0x01, 0x30, 5,    0x38,
                            1,    0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xF8, 0x3F};
    assert_int_equal(b.n, sizeof want);
    assert_memory_equal(b.p, want, sizeof want);
    situ_buf_dispose(&b);
}

/* One point feature with id 1 and one tag, byte for byte. */
static void golden_layer_bytes(void **state)
{
    (void)state;
    situ_mvt_layer l;
    situ_mvt_layer_init(&l);
    situ_mvt_geom g;
    situ_mvt_geom_init(&g);
    const int32_t pt[2] = {25, 17};
    situ_mvt_geom_points(&g, pt, 1);
    assert_int_equal(situ_mvt_layer_key(&l, "k", 1), 0);
    situ_buf v;
    situ_buf_init(&v);
    situ_mvt_value_int(&v, 7);
    assert_int_equal(situ_mvt_layer_value(&l, v.p, v.n), 0);
    const uint32_t tags[2] = {0, 0};
    situ_mvt_layer_feature(&l, 1, 1, SITU_MVT_POINT, tags, 1, &g);
    situ_buf out;
    situ_buf_init(&out);
    assert_int_equal(situ_mvt_layer_finish(&l, "p", 4096, &out), 0);
    const uint8_t want[] = {
        0x1A, 30,                 /* Tile.layers, 30 bytes */
        0x78, 2,                  /* version 2 */
        0x0A, 1,    'p',          /* name */
        0x12, 13,   0x08, 1,      /* feature: id 1 */
        0x12, 2,    0,    0,      /* tags */
        0x18, 1,                  /* type POINT */
        0x22, 3,    9,    50, 34, /* geometry */
        0x1A, 1,    'k',          /* keys */
        0x22, 2,    0x20, 7,      /* values: int 7 */
        0x28, 0x80, 0x20,         /* extent 4096 */
    };
    assert_int_equal(out.n, sizeof want);
    assert_memory_equal(out.p, want, sizeof want);
    /* an empty layer writes nothing */
    situ_mvt_layer_reset(&l);
    size_t n0 = out.n;
    assert_int_equal(situ_mvt_layer_finish(&l, "p", 4096, &out), 0);
    assert_int_equal(out.n, n0);
    situ_buf_dispose(&out);
    situ_buf_dispose(&v);
    situ_mvt_geom_dispose(&g);
    situ_mvt_layer_dispose(&l);
}

/* The feature written at byte `at` of l's features: its tags field (after
 * the feature's tag and length, no id) is want[0 .. want_n). */
static void assert_feature_tags(const situ_mvt_layer *l, size_t at, const uint8_t *want,
                                size_t want_n)
{
    const uint8_t *p = (const uint8_t *)l->feats.p + at;
    assert_int_equal(*p++, 0x12); /* Layer.features, then the feature's length */
    while (*p++ & 0x80)
        ;
    assert_memory_equal(p, want, want_n);
}

/* The packed tags of a feature whose key and value indices are all under
 * 128 (a byte each), and of one with indices of two and three bytes: the
 * field's length counts the bytes of the varints, not the indices. */
static void tags_of_one_and_more_bytes(void **state)
{
    (void)state;
    situ_mvt_layer l;
    situ_mvt_layer_init(&l);
    situ_mvt_geom g;
    situ_mvt_geom_init(&g);
    const int32_t pt[2] = {1, 1};
    situ_mvt_geom_points(&g, pt, 1);
    const uint32_t small[4] = {0, 127, 1, 5};
    situ_mvt_layer_feature(&l, 0, 0, SITU_MVT_POINT, small, 2, &g);
    const uint8_t want_small[] = {0x12, 4, 0, 127, 1, 5, 0x18, 1};
    assert_feature_tags(&l, 0, want_small, sizeof want_small);
    size_t at = l.feats.n;
    const uint32_t two[4] = {0, 200, 2, 128}; /* under 256, not all under 128 */
    situ_mvt_layer_feature(&l, 0, 0, SITU_MVT_POINT, two, 2, &g);
    const uint8_t want_two[] = {0x12, 6, 0, 0xC8, 0x01, 2, 0x80, 0x01, 0x18, 1};
    assert_feature_tags(&l, at, want_two, sizeof want_two);
    at = l.feats.n;
    const uint32_t three[4] = {0, 128, 2, 16384};
    situ_mvt_layer_feature(&l, 0, 0, SITU_MVT_POINT, three, 2, &g);
    const uint8_t want_three[] = {0x12, 7, 0, 0x80, 0x01, 2, 0x80, 0x80, 0x01, 0x18, 1};
    assert_feature_tags(&l, at, want_three, sizeof want_three);
    at = l.feats.n;
    uint32_t many[140]; /* more than mvt.c packs on the stack: counted first */
    uint8_t want_many[3 + 280];
    want_many[0] = 0x12, want_many[1] = 0x98, want_many[2] = 0x02; /* 280 bytes */
    for (int i = 0; i < 140; i++)
        many[i] = 200, want_many[3 + 2 * i] = 0xC8, want_many[4 + 2 * i] = 0x01;
    situ_mvt_layer_feature(&l, 0, 0, SITU_MVT_POINT, many, 70, &g);
    assert_feature_tags(&l, at, want_many, sizeof want_many);
    situ_mvt_geom_dispose(&g);
    situ_mvt_layer_dispose(&l);
}

/* Writes a layer named name with one polygon and two properties into out. */
static void polygon_layer(const char *name, situ_buf *out)
{
    situ_mvt_layer l;
    situ_mvt_layer_init(&l);
    situ_mvt_geom g;
    situ_mvt_geom_init(&g);
    const int32_t ring[8] = {0, 0, 100, 0, 100, 100, 0, 100};
    situ_mvt_geom_ring(&g, ring, 4);
    situ_buf v;
    situ_buf_init(&v);
    situ_mvt_layer_key(&l, "name", 4);
    situ_mvt_layer_key(&l, "level", 5);
    situ_mvt_value_string(&v, "零陵", strlen("零陵"));
    situ_mvt_layer_value(&l, v.p, v.n);
    v.n = 0;
    situ_mvt_value_int(&v, -2);
    situ_mvt_layer_value(&l, v.p, v.n);
    const uint32_t tags[4] = {0, 0, 1, 1};
    situ_mvt_layer_feature(&l, 1, 123456789012ULL, SITU_MVT_POLYGON, tags, 2, &g);
    assert_int_equal(situ_mvt_layer_finish(&l, name, 4096, out), 0);
    situ_buf_dispose(&v);
    situ_mvt_geom_dispose(&g);
    situ_mvt_layer_dispose(&l);
}

static void layers_concatenate_and_decode(void **state)
{
    (void)state;
    situ_buf out;
    situ_buf_init(&out);
    polygon_layer("risk_zones", &out);
    polygon_layer("alerts", &out);
    situ_mvt_tile *t = NULL;
    situ_err err = {0};
    assert_int_equal(situ_mvt_decode(out.p, out.n, &t, &err), 0);
    assert_int_equal(t->nlayers, 2);
    assert_string_equal(t->layers[0].name, "risk_zones");
    assert_string_equal(t->layers[1].name, "alerts");
    const situ_mvt_rlayer *l = &t->layers[1];
    assert_int_equal(l->version, 2);
    assert_int_equal(l->extent, 4096);
    assert_int_equal(l->nfeats, 1);
    assert_int_equal(l->feats[0].id, 123456789012ULL);
    assert_int_equal(l->feats[0].type, SITU_MVT_POLYGON);
    assert_string_equal(l->keys[1], "level");
    assert_int_equal(l->vals[0].type, SITU_MVT_V_STRING);
    assert_int_equal(l->vals[0].n, strlen("零陵"));
    assert_memory_equal(l->vals[0].s, "零陵", l->vals[0].n);
    assert_int_equal(l->vals[1].type, SITU_MVT_V_SINT);
    assert_int_equal(l->vals[1].i, -2);
    int32_t *xy;
    uint32_t *parts;
    size_t npts, nparts;
    assert_int_equal(situ_mvt_geom_decode(&l->feats[0], &xy, &npts, &parts, &nparts, &err), 0);
    assert_int_equal(nparts, 1);
    assert_int_equal(parts[0], 4);
    assert_int_equal(xy[4], 100);
    assert_int_equal(xy[5], 100);
    free(xy), free(parts);
    situ_mvt_tile_free(t);
    situ_buf_dispose(&out);
}

static void decoder_rejects_bad_bytes(void **state)
{
    (void)state;
    situ_buf out;
    situ_buf_init(&out);
    polygon_layer("x", &out);
    situ_mvt_tile *t = NULL;
    situ_err err = {0};
    for (size_t cut = 1; cut < out.n; cut++) {
        int rc = situ_mvt_decode(out.p, cut, &t, &err);
        assert_int_equal(rc, SITU_EFORMAT);
    }
    /* a tag pointing past the values table */
    const uint8_t bad[] = {0x1A, 14, 0x0A, 1, 'x', 0x12, 9, 0x12, 2, 0, 5, 0x18, 1, 0x22, 1, 9};
    assert_int_equal(situ_mvt_decode(bad, sizeof bad, &t, &err), SITU_EFORMAT);
    /* no bytes: a tile without layers */
    assert_int_equal(situ_mvt_decode("", 0, &t, &err), 0);
    assert_int_equal(t->nlayers, 0);
    situ_mvt_tile_free(t);
    situ_buf_dispose(&out);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(varints_and_zigzag),
    cmocka_unit_test(spec_geometry_examples),
    cmocka_unit_test(value_encodings),
    cmocka_unit_test(golden_layer_bytes),
    cmocka_unit_test(tags_of_one_and_more_bytes),
    cmocka_unit_test(layers_concatenate_and_decode),
    cmocka_unit_test(decoder_rejects_bad_bytes),
};

SITU_TEST_MAIN("mvt", tests)

/* tilecache_test.c: tests layers/tiles/tilecache.c: cached bytes equal a direct
 * cut, gzip assembled from per-collection pieces inflates to the raw tile,
 * ETags and If-None-Match, empty tiles, the byte bound, exact invalidation,
 * snapshots moving on (told and untold), readers racing a writer, and the
 * pages of a snapshot file handed back every so many cuts. */
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "situ/tilecache.h"
#include "tile_fixture.h"

static situ_tile_xyz tile_at(int z, double lon, double lat)
{
    double x, y;
    situ_tile_project(lon, lat, &x, &y);
    return (situ_tile_xyz){z, (uint32_t)(x * (1 << z)), (uint32_t)(y * (1 << z))};
}

/* The tile cut directly, every collection of the set, in order. */
static void direct(const situ_snapshot *snap, int set, situ_tile_xyz t, situ_buf *out)
{
    situ_err err = {0};
    out->n = 0;
    for (int cid = 0; cid < SITU_NCOLLECTIONS; cid++) {
        if (set != SITU_TILESET_ALL && set != cid)
            continue;
        situ_tilesrc *src;
        assert_int_equal(situ_tilesrc_new(snap->colls[cid], &src, &err), 0);
        assert_int_equal(situ_tile_encode_coll(src, t, NULL, out, NULL, &err), 0);
        situ_tilesrc_release(src);
    }
}

static void get(situ_tilecache *tc, const situ_snapshot *snap, int set, situ_tile_xyz t,
                situ_tile_reply *r)
{
    situ_err err = {0};
    int rc = situ_tilecache_get(tc, snap, set, t, r, &err);
    if (rc)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void inflate_gzip(const situ_buf *gz, situ_buf *out)
{
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    out->n = 0;
    z.next_in = (Bytef *)gz->p, z.avail_in = (uInt)gz->n;
    int rc;
    do { /* grow until it all fits: line layers compress far better than 16:1 */
        assert_int_equal(situ_buf_reserve(out, 2 * out->n + 16 * gz->n + 1024), 0);
        z.next_out = (Bytef *)out->p + out->n, z.avail_out = (uInt)(out->cap - out->n);
        rc = inflate(&z, Z_NO_FLUSH);
        out->n = z.total_out;
    } while (rc == Z_OK);
    assert_int_equal(rc, Z_STREAM_END);
    assert_int_equal(z.avail_in, 0); /* one member, nothing after it */
    out->n = z.total_out;
    inflateEnd(&z);
}

/* The demo fixture and a tile cache over it, bounded at max_bytes (0: the
 * default bound). */
static situ_tilecache *open_cache(tile_fixture *fx, size_t max_bytes)
{
    fixture_open(fx);
    situ_tilecache_opts o = {.max_bytes = max_bytes};
    situ_tilecache *tc;
    situ_err err = {0};
    assert_int_equal(situ_tilecache_new(max_bytes ? &o : NULL, &tc, &err), 0);
    return tc;
}

static void close_cache(tile_fixture *fx, situ_tilecache *tc)
{
    situ_tilecache_free(tc);
    fixture_close(fx);
}

static void cached_bytes_equal_a_direct_cut(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_buf want, body, raw;
    situ_buf_init(&want), situ_buf_init(&body), situ_buf_init(&raw);
    situ_tile_xyz t = tile_at(12, 111.6, 26.4);
    situ_tile_reply r, r2;
    for (int set = 0; set <= SITU_TILESET_ALL; set++) {
        direct(fx.snap, set, t, &want);
        get(tc, fx.snap, set, t, &r);
        assert_int_equal(r.n_raw, want.n);
        body.n = 0;
        assert_int_equal(situ_tile_reply_body(&r, 0, &body), 0);
        assert_int_equal(body.n, want.n);
        assert_memory_equal(body.p, want.p, want.n);
        body.n = 0;
        assert_int_equal(situ_tile_reply_body(&r, 1, &body), 0);
        assert_int_equal(body.n, r.n_gz);
        inflate_gzip(&body, &raw);
        assert_int_equal(raw.n, want.n);
        assert_memory_equal(raw.p, want.p, want.n);
        assert_int_equal(r.crc, (uint32_t)crc32(0, (const Bytef *)want.p, (uInt)want.n));
        get(tc, fx.snap, set, t, &r2);
        assert_string_equal(r.etag, r2.etag);
        situ_tile_reply_dispose(&r), situ_tile_reply_dispose(&r2);
    }
    situ_tilecache_stats st;
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.misses, SITU_NCOLLECTIONS); /* `all` was made of the pieces */
    assert_int_equal(st.hits, 2 * SITU_NCOLLECTIONS + SITU_NCOLLECTIONS);
    situ_buf_dispose(&want), situ_buf_dispose(&body), situ_buf_dispose(&raw);
    close_cache(&fx, tc);
}

/* A tile first answered raw holds no deflate; the first gzip answer makes
 * it once, keeps it (the cache's bytes grow once) and inflates to the raw. */
static void gzip_is_made_on_the_first_gzip_answer(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_buf plain, gz, raw;
    situ_buf_init(&plain), situ_buf_init(&gz), situ_buf_init(&raw);
    situ_tile_xyz t = tile_at(11, 111.6, 26.4);
    situ_tile_reply r;
    situ_tilecache_stats st0, st1, st2;
    get(tc, fx.snap, SITU_TILESET_ALL, t, &r);
    assert_true(r.npieces > 1);
    assert_int_equal(situ_tile_reply_body(&r, 0, &plain), 0);
    situ_tile_reply_dispose(&r);
    situ_tilecache_stats_get(tc, &st0);
    for (int pass = 0; pass < 2; pass++) {
        get(tc, fx.snap, SITU_TILESET_ALL, t, &r);
        gz.n = 0;
        assert_int_equal(situ_tile_reply_body(&r, 1, &gz), 0);
        assert_int_equal(gz.n, r.n_gz);
        situ_tile_reply_dispose(&r);
        situ_tilecache_stats_get(tc, pass ? &st2 : &st1);
    }
    assert_true(st1.bytes > st0.bytes);     /* the deflate is kept, and counted */
    assert_int_equal(st2.bytes, st1.bytes); /* made once */
    assert_true(gz.n < plain.n);
    inflate_gzip(&gz, &raw);
    assert_int_equal(raw.n, plain.n);
    assert_memory_equal(raw.p, plain.p, plain.n);
    situ_buf_dispose(&plain), situ_buf_dispose(&gz), situ_buf_dispose(&raw);
    close_cache(&fx, tc);
}

static void etags_and_if_none_match(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_tile_reply a, b;
    get(tc, fx.snap, SITU_TILESET_ALL, tile_at(12, 111.6, 26.4), &a);
    get(tc, fx.snap, SITU_TILESET_ALL, tile_at(12, 111.52, 26.32), &b);
    assert_true(a.n_raw > 0 && b.n_raw > 0);
    assert_string_not_equal(a.etag, b.etag);
    assert_int_equal(a.etag[0], '"');
    assert_true(situ_tile_reply_matches(&a, a.etag));
    assert_true(situ_tile_reply_matches(&a, a.etag_gz));
    char list[128];
    snprintf(list, sizeof list, "\"nope\", W/%s", a.etag);
    assert_true(situ_tile_reply_matches(&a, list));
    assert_true(situ_tile_reply_matches(&a, "*"));
    assert_false(situ_tile_reply_matches(&a, b.etag));
    assert_false(situ_tile_reply_matches(&a, ""));
    assert_false(situ_tile_reply_matches(&a, NULL));
    situ_tile_reply_dispose(&a), situ_tile_reply_dispose(&b);
    close_cache(&fx, tc);
}

static void empty_tiles_are_cheap_and_cut_once(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_err err = {0};
    situ_tile_reply r;
    situ_tilecache_stats st;
    /* far away: answered without a lookup */
    get(tc, fx.snap, SITU_TILESET_ALL, tile_at(12, 10, 50), &r);
    assert_int_equal(r.n_raw, 0);
    assert_int_equal(r.npieces, 0);
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.empty_fast, SITU_NCOLLECTIONS);
    assert_int_equal(st.misses, 0);
    situ_tile_reply_dispose(&r);
    /* inside the extent but empty: cut once, then remembered */
    situ_tile_xyz t = {0};
    for (uint32_t i = 0; i < 400; i++) {
        situ_tile_xyz c = tile_at(18, FX_LON0 + 0.01 + 0.0005 * i, FX_LAT0 + 0.013 + 0.0003 * i);
        situ_tile_reply_dispose(&r);
        get(tc, fx.snap, SITU_C_HAZARDS, c, &r);
        if (r.n_raw == 0) {
            t = c;
            break;
        }
    }
    assert_int_equal(t.z, 18);
    situ_tilecache_stats_get(tc, &st);
    uint64_t misses = st.misses, hits = st.hits;
    get(tc, fx.snap, SITU_C_HAZARDS, t, &r);
    assert_int_equal(r.n_raw, 0);
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.misses, misses);
    assert_int_equal(st.hits, hits + 1);
    situ_tile_reply_dispose(&r);
    /* bad requests */
    assert_int_equal(situ_tilecache_get(tc, fx.snap, 99, t, &r, &err), SITU_ENOTFOUND);
    assert_int_equal(situ_tilecache_get(tc, fx.snap, 0, (situ_tile_xyz){23, 0, 0}, &r, &err),
                     SITU_EINVAL);
    close_cache(&fx, tc);
}

/* The tiles around the town centre: a 5x5 block at each zoom 10..16. */
static size_t block(situ_tile_xyz *out)
{
    size_t n = 0;
    for (int z = 10; z <= 16; z++) {
        situ_tile_xyz c = tile_at(z, 111.6, 26.4);
        for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++)
                out[n++] = (situ_tile_xyz){z, c.x + (uint32_t)dx, c.y + (uint32_t)dy};
    }
    return n;
}

static void bounded_in_bytes_lru(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 1 << 20);
    situ_tile_xyz tiles[200];
    size_t n = block(tiles);
    situ_tilecache_stats st;
    situ_buf gz;
    situ_buf_init(&gz);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < n; i++) {
            situ_tile_reply r;
            get(tc, fx.snap, SITU_TILESET_ALL, tiles[i], &r);
            gz.n = 0; /* the deflate made for it counts against the bound too */
            assert_int_equal(situ_tile_reply_body(&r, 1, &gz), 0);
            situ_tile_reply_dispose(&r);
            situ_tilecache_stats_get(tc, &st);
            assert_true(st.bytes <= st.max_bytes);
        }
    situ_buf_dispose(&gz);
    assert_true(st.evictions > 0);
    assert_true(st.bytes > st.max_bytes / 2);
    /* the most recent tile is still there */
    uint64_t hits = st.hits;
    situ_tile_reply r;
    get(tc, fx.snap, SITU_C_HAZARDS, tiles[n - 1], &r);
    situ_tile_reply_dispose(&r);
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.hits, hits + 1);
    close_cache(&fx, tc);
}

/* Gets tile t of set and tells whether it was a hit (1), a miss (0) or
 * empty without a lookup (-1). */
static int probe(situ_tilecache *tc, const situ_snapshot *snap, int set, situ_tile_xyz t)
{
    situ_tilecache_stats a, b;
    situ_tile_reply r;
    situ_tilecache_stats_get(tc, &a);
    get(tc, snap, set, t, &r);
    situ_tile_reply_dispose(&r);
    situ_tilecache_stats_get(tc, &b);
    return b.empty_fast > a.empty_fast ? -1 : b.hits > a.hits;
}

/* 1 when box meets tile t grown by its buffer, and below the aggregate
 * zoom by a unit more (a point there counts where it rounds to). */
static int meets(situ_tile_xyz t, const double box[4])
{
    double ll[4];
    situ_tile_bounds_lonlat(t, 4096, t.z < SITU_TILE_AGGREGATE_BELOW ? 65 : 64, ll);
    return !(ll[2] < box[0] || ll[0] > box[2] || ll[3] < box[1] || ll[1] > box[3]);
}

static void invalidate_drops_exactly_the_tiles_meeting_the_box(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_tile_xyz tiles[200];
    size_t n = block(tiles);
    int cached[200];
    for (size_t i = 0; i < n; i++) {
        cached[i] = probe(tc, fx.snap, SITU_C_HAZARDS, tiles[i]) >= 0;
        probe(tc, fx.snap, SITU_C_STATIONS, tiles[i]);
    }
    const double box[4] = {111.6001, 26.4001, 111.6022, 26.4013};
    size_t dropped = situ_tilecache_invalidate(tc, SITU_C_HAZARDS, box);
    size_t expect = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cached[i])
            continue;
        int hit = probe(tc, fx.snap, SITU_C_HAZARDS, tiles[i]);
        if (meets(tiles[i], box)) {
            expect++;
            if (hit != 0)
                fail_msg("tile %d/%u/%u meets the box but was kept", tiles[i].z, tiles[i].x,
                         tiles[i].y);
        } else {
            kept++;
            if (hit != 1)
                fail_msg("tile %d/%u/%u does not meet the box but was dropped", tiles[i].z,
                         tiles[i].x, tiles[i].y);
        }
        /* other collections are untouched */
        assert_int_not_equal(probe(tc, fx.snap, SITU_C_STATIONS, tiles[i]), 0);
    }
    assert_int_equal(dropped, expect);
    assert_true(expect >= 7 && kept > 50); /* at least one a zoom, most kept */
    close_cache(&fx, tc);
}

/* Moves hazard `id` by (dlon, dlat) in the store; returns a snapshot with the
 * new hazards collection and the old and new boxes. */
static situ_snapshot *move_hazard(tile_fixture *fx, const situ_snapshot *snap, const char *id,
                                  double dlon, double dlat, double boxes[8])
{
    const situ_coll *c = snap->colls[SITU_C_HAZARDS];
    long fi = situ_coll_find(c, id);
    assert_true(fi >= 0);
    const situ_feature *f = &c->feats[fi];
    memcpy(boxes, f->bbox, 4 * sizeof *boxes);
    situ_buf wkb;
    situ_buf_init(&wkb);
    fx_point(&wkb, f->x + dlon, f->y + dlat);
    situ_feature_in in = {.id = id,
                          .township_code = f->township_code,
                          .wkb = (const unsigned char *)wkb.p,
                          .nwkb = wkb.n,
                          .values = f->values};
    situ_err err = {0};
    assert_int_equal(situ_store_upsert(fx->store, c->c, &in, NULL, &err), 0);
    situ_buf_dispose(&wkb);
    double nb[4] = {f->x + dlon, f->y + dlat, f->x + dlon, f->y + dlat};
    memcpy(boxes + 4, nb, sizeof nb);
    situ_coll *nc;
    assert_int_equal(situ_coll_load(fx->store, SITU_C_HAZARDS, &nc, &err), 0);
    situ_snapshot *s2 = situ_snapshot_with(snap, nc);
    situ_coll_release(nc);
    return s2;
}

static int has_id(situ_tile_reply *r, const char *id)
{
    situ_buf body;
    situ_buf_init(&body);
    situ_tile_reply_body(r, 0, &body);
    int found = 0;
    for (size_t i = 0; body.n >= strlen(id) && i + strlen(id) <= body.n && !found; i++)
        found = !memcmp(body.p + i, id, strlen(id));
    situ_buf_dispose(&body);
    return found;
}

static void advance_keeps_the_tiles_a_change_does_not_touch(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_err err = {0};
    situ_tile_xyz tiles[200];
    size_t n = block(tiles);
    for (size_t i = 0; i < n; i++)
        probe(tc, fx.snap, SITU_C_HAZARDS, tiles[i]);
    const char *id = fx.snap->colls[SITU_C_HAZARDS]->feats[0].id;
    double boxes[8];
    situ_snapshot *s2 = move_hazard(&fx, fx.snap, id, 0.003, 0.002, boxes);
    assert_int_equal(situ_tilecache_advance(tc, s2, SITU_C_HAZARDS, boxes, 2, &err), 0);
    size_t kept = 0, recut = 0;
    for (size_t i = 0; i < n; i++) {
        int hit = probe(tc, s2, SITU_C_HAZARDS, tiles[i]);
        if (hit < 0)
            continue;
        int touched = meets(tiles[i], boxes) || meets(tiles[i], boxes + 4);
        assert_int_equal(hit, !touched);
        kept += hit != 0, recut += hit == 0;
    }
    assert_true(kept > 0);
    /* the moved hazard is in its new tile, out of its old one */
    situ_tile_xyz at_new = tile_at(16, boxes[4], boxes[5]),
                  at_old = tile_at(16, boxes[0], boxes[1]);
    situ_tile_reply r;
    get(tc, s2, SITU_C_HAZARDS, at_new, &r);
    assert_true(has_id(&r, id));
    situ_tile_reply_dispose(&r);
    get(tc, s2, SITU_C_HAZARDS, at_old, &r);
    assert_false(has_id(&r, id));
    situ_tile_reply_dispose(&r);
    /* a reader still on the old snapshot gets the old tile, not kept */
    situ_tilecache_stats st0, st1;
    situ_tilecache_stats_get(tc, &st0);
    get(tc, fx.snap, SITU_C_HAZARDS, at_old, &r);
    assert_true(has_id(&r, id));
    situ_tile_reply_dispose(&r);
    situ_tilecache_stats_get(tc, &st1);
    assert_int_equal(st1.uncached, st0.uncached + 1);
    /* a change nobody announced: every hazards tile goes */
    situ_snapshot *s3 = move_hazard(&fx, s2, id, 0.001, 0, boxes);
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += probe(tc, s3, SITU_C_HAZARDS, tiles[i]) == 1;
    assert_int_equal(hits, 0);
    situ_snapshot_release(s3);
    situ_snapshot_release(s2);
    close_cache(&fx, tc);
}

/* The gzip of an `all` tile (several pieces, one member) follows a change
 * of one piece: it inflates to the new raw tile, not the old one, and is
 * made once for it. */
static void gzip_of_several_pieces_follows_a_changed_piece(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_err err = {0};
    const situ_feature *f = &fx.snap->colls[SITU_C_HAZARDS]->feats[0];
    situ_tile_xyz t = tile_at(14, f->x, f->y);
    situ_buf raw1, gz1, raw2, gz2, again, out;
    situ_buf_init(&raw1), situ_buf_init(&gz1), situ_buf_init(&raw2), situ_buf_init(&gz2);
    situ_buf_init(&again), situ_buf_init(&out);
    situ_tile_reply r;
    get(tc, fx.snap, SITU_TILESET_ALL, t, &r);
    assert_true(r.npieces > 1);
    assert_int_equal(situ_tile_reply_body(&r, 0, &raw1), 0);
    assert_int_equal(situ_tile_reply_body(&r, 1, &gz1), 0);
    situ_tile_reply_dispose(&r);
    inflate_gzip(&gz1, &out);
    assert_int_equal(out.n, raw1.n);
    assert_memory_equal(out.p, raw1.p, raw1.n);

    double boxes[8];
    situ_snapshot *s2 = move_hazard(&fx, fx.snap, f->id, 0.0005, 0.0003, boxes);
    assert_int_equal(situ_tilecache_advance(tc, s2, SITU_C_HAZARDS, boxes, 2, &err), 0);
    get(tc, s2, SITU_TILESET_ALL, t, &r);
    assert_true(r.npieces > 1);
    assert_int_equal(situ_tile_reply_body(&r, 0, &raw2), 0);
    assert_int_equal(situ_tile_reply_body(&r, 1, &gz2), 0);
    situ_tile_reply_dispose(&r);
    assert_false(raw2.n == raw1.n && !memcmp(raw2.p, raw1.p, raw1.n)); /* the tile changed */
    inflate_gzip(&gz2, &out);
    assert_int_equal(out.n, raw2.n);
    assert_memory_equal(out.p, raw2.p, raw2.n);

    situ_tilecache_stats st0, st1;
    situ_tilecache_stats_get(tc, &st0);
    get(tc, s2, SITU_TILESET_ALL, t, &r);
    assert_int_equal(situ_tile_reply_body(&r, 1, &again), 0);
    situ_tile_reply_dispose(&r);
    situ_tilecache_stats_get(tc, &st1);
    assert_int_equal(st1.bytes, st0.bytes); /* kept, not made again */
    assert_int_equal(again.n, gz2.n);
    assert_memory_equal(again.p, gz2.p, gz2.n);
    situ_snapshot_release(s2);
    situ_buf_dispose(&raw1), situ_buf_dispose(&gz1), situ_buf_dispose(&raw2);
    situ_buf_dispose(&gz2), situ_buf_dispose(&again), situ_buf_dispose(&out);
    close_cache(&fx, tc);
}

/* Below the aggregate zoom a point counts in the tile its rounded position
 * falls in: one 0.3 units beyond a z4 tile's buffer is in it, and when it
 * moves away that tile is cut again, not kept. */
static void advance_drops_a_tile_a_point_reaches_by_rounding(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 0);
    situ_err err = {0};
    situ_tile_xyz t = tile_at(4, FX_LON0 + FX_SPAN / 2, FX_LAT0 + FX_SPAN / 2);
    double ll[4], boxes[8];
    situ_tile_bounds_lonlat(t, 4096, 0, ll);
    const situ_feature *f = &fx.snap->colls[SITU_C_HAZARDS]->feats[0];
    char id[32];
    snprintf(id, sizeof id, "%s", f->id);
    double lon = ll[0] - 64.3 * (ll[2] - ll[0]) / 4096, lat = (ll[1] + ll[3]) / 2;
    situ_snapshot *s2 = move_hazard(&fx, fx.snap, id, lon - f->x, lat - f->y, boxes);
    assert_int_equal(situ_tilecache_advance(tc, s2, SITU_C_HAZARDS, boxes, 2, &err), 0);
    situ_buf before, after, want;
    situ_buf_init(&before), situ_buf_init(&after), situ_buf_init(&want);
    situ_tile_reply r;
    get(tc, s2, SITU_C_HAZARDS, t, &r);
    situ_tile_reply_body(&r, 0, &before);
    situ_tile_reply_dispose(&r);
    situ_snapshot *s3 = move_hazard(&fx, s2, id, -2.0, 0, boxes); /* far west */
    assert_int_equal(situ_tilecache_advance(tc, s3, SITU_C_HAZARDS, boxes, 2, &err), 0);
    assert_int_equal(probe(tc, s3, SITU_C_HAZARDS, t), 0); /* cut again */
    get(tc, s3, SITU_C_HAZARDS, t, &r);
    situ_tile_reply_body(&r, 0, &after);
    situ_tile_reply_dispose(&r);
    direct(s3, SITU_C_HAZARDS, t, &want);
    assert_int_equal(after.n, want.n);
    assert_memory_equal(after.p, want.p, want.n);
    assert_true(before.n != after.n || memcmp(before.p, after.p, after.n)); /* it counted */
    situ_buf_dispose(&before), situ_buf_dispose(&after), situ_buf_dispose(&want);
    situ_snapshot_release(s3);
    situ_snapshot_release(s2);
    close_cache(&fx, tc);
}

typedef struct race {
    situ_tilecache *tc;
    const situ_snapshot *snap;
    const situ_tile_xyz *tiles;
    size_t ntiles;
    const uint32_t *crc; /* the direct cut's CRC per tile */
    int seed, failures, stop;
} race;

/* The bytes this process holds resident (VmRSS). */
static size_t resident_now(void)
{
    unsigned long long size = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%llu %llu", &size, &pages), 2);
    fclose(f);
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* A cache over a snapshot read back from its file (mapped at the address
 * it was written for, so its pages are the file's): with the process over
 * its resident budget, every drop_every-th cut hands the pages of the cut
 * collection's section of the file back (the process holds none of them
 * after it; what the cuts read of other sections stays, as other threads
 * may be reading it), and every tile, before and after, is the cold
 * build's, byte for byte; a process whose resident memory and file are
 * within its budget (a city's) never hands them back. */
static void cuts_hand_the_snapshot_file_back_now_and_then(void **state)
{
    (void)state;
    tile_fixture fx;
    fixture_open(&fx);
    char db[4096], snapfile[4200], note[512];
    snprintf(db, sizeof db, "%s/town.sqlite", fx.dir);
    snprintf(snapfile, sizeof snapfile, "%s.snap", db);
    situ_err err = {0};
    situ_snapshot *cold, *mapped;
    assert_int_equal(situ_snapshot_open(fx.store, db, &cold, note, sizeof note, &err), 0);
    assert_int_equal(situ_snapshot_open(fx.store, db, &mapped, note, sizeof note, &err), 0);
    assert_non_null(strstr(note, "read back"));
    assert_int_equal(situ_coll_file_bytes(cold->colls[SITU_C_HAZARDS]), 0); /* built */
    assert_true(situ_coll_file_bytes(mapped->colls[SITU_C_HAZARDS]) > 4096);
    enum { EVERY = 5 };
    situ_tilecache_opts o = {.drop_every = EVERY, .resident_budget = 1};
    situ_tilecache *tc;
    assert_int_equal(situ_tilecache_new(&o, &tc, &err), 0);
    situ_buf want, body;
    situ_buf_init(&want), situ_buf_init(&body);
    long kb[2 * EVERY];
    size_t held[2 * EVERY];
    const situ_coll *hz = mapped->colls[SITU_C_HAZARDS];
    for (int i = 0; i < 2 * EVERY; i++) {
        situ_tile_xyz t = tile_at(15, FX_LON0 + FX_SPAN * (i + 0.5) / (2 * EVERY),
                                  FX_LAT0 + FX_SPAN * (0.3 + 0.04 * i));
        situ_tile_reply r;
        get(tc, mapped, SITU_C_HAZARDS, t, &r);
        kb[i] = situ_test_mapped_rss_kb(snapfile);
        situ_test_resident_pages(hz->feats, hz->by_id + hz->n, &held[i]); /* its records */
        direct(cold, SITU_C_HAZARDS, t, &want);
        body.n = 0;
        assert_int_equal(situ_tile_reply_body(&r, 0, &body), 0);
        assert_int_equal(body.n, want.n);
        assert_memory_equal(body.p, want.p, want.n);
        situ_tile_reply_dispose(&r);
    }
    situ_tilecache_stats st;
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.misses, 2 * EVERY); /* each a cut */
    assert_int_equal(st.handbacks, 2);
    /* the cuts read the file's pages in; the fifth and tenth hand them back */
    assert_true(kb[EVERY - 2] > 0 && kb[2 * EVERY - 2] > 0);
    assert_true(kb[EVERY - 1] >= 0 && kb[EVERY - 1] < kb[EVERY - 2]);
    assert_true(kb[2 * EVERY - 1] >= 0 && kb[2 * EVERY - 1] < kb[2 * EVERY - 2]);
    assert_true(held[EVERY - 2] > 0 && held[2 * EVERY - 2] > 0);
    assert_true(held[EVERY - 1] == 0 && held[2 * EVERY - 1] == 0);
    situ_tilecache_free(tc);
    /* room for the process as it is, and then some: never handed back */
    situ_tilecache_opts roomy = {.drop_every = 1,
                                 .resident_budget = resident_now() + ((size_t)64 << 20)};
    assert_int_equal(situ_tilecache_new(&roomy, &tc, &err), 0);
    for (int i = 0; i < EVERY; i++) { /* the same tiles, cut again: pages read in, kept */
        situ_tile_xyz t = tile_at(15, FX_LON0 + FX_SPAN * (i + 0.5) / (2 * EVERY),
                                  FX_LAT0 + FX_SPAN * (0.3 + 0.04 * i));
        situ_tile_reply r;
        get(tc, mapped, SITU_C_HAZARDS, t, &r);
        kb[i] = situ_test_mapped_rss_kb(snapfile);
        assert_true(i == 0 || kb[i] >= kb[i - 1]);
        situ_tile_reply_dispose(&r);
    }
    assert_true(kb[EVERY - 1] > 8);
    situ_tilecache_stats_get(tc, &st);
    assert_int_equal(st.handbacks, 0);
    situ_buf_dispose(&want), situ_buf_dispose(&body);
    situ_tilecache_free(tc);
    situ_snapshot_release(mapped);
    situ_snapshot_release(cold);
    fixture_close(&fx);
}

static void *reader(void *p)
{
    race *r = p;
    uint32_t s = (uint32_t)r->seed;
    for (int i = 0; i < 400; i++) {
        s = s * 1103515245 + 12345;
        size_t k = (s >> 8) % r->ntiles;
        situ_tile_reply rep;
        situ_err err = {0};
        if (situ_tilecache_get(r->tc, r->snap, SITU_TILESET_ALL, r->tiles[k], &rep, &err) ||
            rep.crc != r->crc[k])
            __atomic_add_fetch(&r->failures, 1, __ATOMIC_RELAXED);
        situ_tile_reply_dispose(&rep);
    }
    return NULL;
}

static void *writer(void *p)
{
    race *r = p;
    for (int i = 0; !__atomic_load_n(&r->stop, __ATOMIC_RELAXED); i++) {
        double lon = 111.5 + 0.002 * (i % 100), lat = 26.3 + 0.002 * (i % 97);
        const double box[4] = {lon, lat, lon + 0.01, lat + 0.01};
        situ_tilecache_invalidate(r->tc, (situ_coll_id)(i % SITU_NCOLLECTIONS), box);
    }
    return NULL;
}

static void readers_race_a_writer(void **state)
{
    (void)state;
    tile_fixture fx;
    situ_tilecache *tc = open_cache(&fx, 4 << 20);
    situ_tile_xyz tiles[200];
    size_t n = block(tiles);
    uint32_t crc[200];
    situ_buf b;
    situ_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        direct(fx.snap, SITU_TILESET_ALL, tiles[i], &b);
        crc[i] = (uint32_t)crc32(0, (const Bytef *)b.p, (uInt)b.n);
    }
    situ_buf_dispose(&b);
    race rs[4];
    pthread_t th[5];
    for (int i = 0; i < 4; i++) {
        rs[i] = (race){tc, fx.snap, tiles, n, crc, 17 + i, 0, 0};
        pthread_create(&th[i], NULL, reader, &rs[i]);
    }
    race w = {tc, fx.snap, tiles, n, crc, 0, 0, 0};
    pthread_create(&th[4], NULL, writer, &w);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
    pthread_join(th[4], NULL);
    for (int i = 0; i < 4; i++)
        assert_int_equal(rs[i].failures, 0);
    situ_tilecache_stats st;
    situ_tilecache_stats_get(tc, &st);
    assert_true(st.hits > 0 && st.invalidated > 0);
    close_cache(&fx, tc);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(cached_bytes_equal_a_direct_cut),
    cmocka_unit_test(gzip_is_made_on_the_first_gzip_answer),
    cmocka_unit_test(etags_and_if_none_match),
    cmocka_unit_test(empty_tiles_are_cheap_and_cut_once),
    cmocka_unit_test(bounded_in_bytes_lru),
    cmocka_unit_test(invalidate_drops_exactly_the_tiles_meeting_the_box),
    cmocka_unit_test(advance_keeps_the_tiles_a_change_does_not_touch),
    cmocka_unit_test(advance_drops_a_tile_a_point_reaches_by_rounding),
    cmocka_unit_test(gzip_of_several_pieces_follows_a_changed_piece),
    cmocka_unit_test(readers_race_a_writer),
    cmocka_unit_test(cuts_hand_the_snapshot_file_back_now_and_then),
};

SITU_TEST_MAIN("tilecache", tests)

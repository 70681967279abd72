/*
 * fuzz_geojson.c: libFuzzer target for the GeoJSON geometry reader of the
 * feeds (layers/feeds/feed.c read_area -> read_polygon -> read_ring, and the
 * MultiPolygon builder of layers/feeds/feed_geom.c with its WKB writer). The input
 * is the value of an alert's "geometry" member; the rest of the event is
 * fixed and valid, so situ_feed_parse reaches the reader through the public
 * API and nothing private is exposed for the fuzzer. Polygon and
 * MultiPolygon are accepted; every other type must be rejected as the
 * geometry. Seeds: corpus/geojson/.
 *   scripts/fuzz.sh 60, or build-fuzz/fuzz_geojson corpus/geojson
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "situ/feed.h"

static const char head[] =
    "{\"events\":[{\"id\":\"fuzz\",\"type\":\"alert\",\"event\":\"rainstorm\","
    "\"severity\":\"red\",\"geometry\":";
static const char tail[] = "}]}";

/* 1 when the input alone is one JSON value (so it is exactly the alert's
 * geometry) whose type the reader must refuse. */
static int must_refuse(const uint8_t *data, size_t size)
{
    json_t *g = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!g)
        return 0;
    const char *t = json_string_value(json_object_get(g, "type"));
    int refuse = !t || (strcmp(t, "Polygon") && strcmp(t, "MultiPolygon"));
    json_decref(g);
    return refuse;
}

/* The answer to an accepted or rejected geometry must be well formed too. */
static void answer(const situ_feed_batch *b)
{
    situ_buf out;
    situ_buf_init(&out);
    situ_feed_batch_json(b, &out);
    situ_buf_dispose(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = sizeof head - 1 + size + sizeof tail - 1;
    char *body = malloc(n);
    if (!body)
        return 0;
    memcpy(body, head, sizeof head - 1);
    memcpy(body + sizeof head - 1, data, size);
    memcpy(body + sizeof head - 1 + size, tail, sizeof tail - 1);
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    if (situ_feed_parse("meteorology", body, n, &b, &err) == 0) {
        const situ_feed_event *ev = b->n == 1 ? &b->ev[0] : NULL;
        if (ev && ev->status == SITU_FEED_REJECTED && !ev->field[0])
            abort(); /* a rejection that names no member */
        if (ev && ev->status == SITU_FEED_PENDING && must_refuse(data, size))
            abort(); /* took a geometry that is not a Polygon or MultiPolygon */
        answer(b);
        situ_feed_batch_free(b);
    }
    free(body);
    return 0;
}

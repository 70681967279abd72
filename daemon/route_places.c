/*
 * route_places.c: GET /places, the base map's named places (county seats,
 * township seats, villages) that situd read at start from [data] places
 * (--places FILE; situ/places.h): by part of the name (q), kind and bbox,
 * as a GeoJSON FeatureCollection. Without a places file the answer is an
 * empty collection: the maps work without names. The set is read once and
 * never changes, so no lock.
 */
#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "situ/places.h"
#include "situ/query.h"

#define PLACES_DEFAULT 10
#define PLACES_Q_MAX 100 /* bytes of q */

static situ_places *places;

int situd_places_init(const situd_config *cfg, char *msg, size_t n)
{
    situ_err err = {0};
    if (!cfg->places[0])
        return 0;
    if (situ_places_open(cfg->places, &places, &err))
        return snprintf(msg, n, "%s", err.msg), -1;
    fprintf(stderr, "situd: %zu places from %s\n", situ_places_count(places), cfg->places);
    return 0;
}

void situd_places_free(void)
{
    situ_places_free(places);
    places = NULL;
}

/* The kind bits of a comma-separated list; 0 when a name is unknown. */
static unsigned parse_kinds(const char *s)
{
    unsigned kinds = 0;
    for (const char *p = s;; p++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        unsigned k = situ_places_kind(p, len);
        if (!k)
            return 0;
        kinds |= k;
        if (!e)
            return kinds;
        p = e;
    }
}

situd_result situd_route_places(situd_req *r)
{
    static const char *const allowed[] = {"q", "kind", "bbox", "limit", "f", NULL};
    situd_result res;
    situ_places_query q = {0};
    double bbox[4];
    situ_err err = {0};
    if (situd_reject_unknown_args(r, allowed, &res) || situd_reject_bad_f(r, &res) ||
        situd_read_paging(r, PLACES_DEFAULT, &q.limit, &(size_t){0}, &res))
        return res;
    const char *text = situd_arg(r, "q"), *kind = situd_arg(r, "kind"), *box = situd_arg(r, "bbox");
    if (text && (strlen(text) > PLACES_Q_MAX || !situ_utf8_valid(text)))
        return situd_problem(r, 400, "q", "q: at most %d bytes of UTF-8", PLACES_Q_MAX);
    if (kind && !(q.kinds = parse_kinds(kind)))
        return situd_problem(r, 400, "kind",
                             "kind: a comma-separated list of county_seat, township_seat, village");
    if (box && situ_query_parse_bbox(box, bbox, &err))
        return situd_problem(r, 400, "bbox", "%s", err.msg);
    q.q = text, q.bbox = box ? bbox : NULL;
    situ_buf b;
    situ_buf_init(&b);
    if (situ_places_find(places, &q, &b)) {
        situ_buf_dispose(&b);
        return situd_problem(r, 503, NULL, "out of memory");
    }
    return situd_reply_buf(r, 200, "application/geo+json", &b);
}

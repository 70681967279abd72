/*
 * summary.c: the four-map summary of a township or a county, the township
 * and county lists (see situ/summary.h). Counts walk each township's
 * contiguous range in each collection (features are sorted by township
 * code), so a summary costs the area's own features, not the city's. An
 * area is a list of townships: one for a township, its townships for a
 * county.
 */
#include "situ/summary.h"

#include <geos_c.h>
#include <stdio.h>
#include <xxhash.h>
#include <stdlib.h>
#include <string.h>

#include "situ/geojson.h"
#include "situ/query.h"
#include "situ/store.h"
#include "summary_private.h"

#define MAX_KEYS 64

/* The townships a summary covers. */
typedef struct area {
    const situ_feature *const *towns;
    size_t n;
} area;

/* The features of c in township t of area a: [*first, *end). */
static void area_range(const situ_coll *c, const area *a, size_t t, size_t *first, size_t *end)
{
    situ_coll_township_range(c, a->towns[t]->id, first, end);
}

static size_t area_count(const situ_coll *c, const area *a)
{
    size_t n = 0, first, end;
    for (size_t t = 0; t < a->n; t++) {
        area_range(c, a, t, &first, &end);
        n += end - first;
    }
    return n;
}

typedef struct tally {
    char keys[MAX_KEYS][48];
    double n[MAX_KEYS];
    double extra[MAX_KEYS];
    int nkeys;
} tally;

static void tally_add(tally *t, const char *key, double n, double extra)
{
    for (int i = 0; i < t->nkeys; i++)
        if (!strcmp(t->keys[i], key)) {
            t->n[i] += n, t->extra[i] += extra;
            return;
        }
    if (t->nkeys == MAX_KEYS)
        return;
    snprintf(t->keys[t->nkeys], sizeof t->keys[0], "%s", key);
    t->n[t->nkeys] = n, t->extra[t->nkeys] = extra;
    t->nkeys++;
}

static void tally_write(situ_buf *b, const char *name, const tally *t)
{
    situ_buf_printf(b, ",\"%s\":{", name);
    for (int i = 0; i < t->nkeys; i++) {
        if (i)
            situ_buf_addc(b, ',');
        situ_buf_add_json_str(b, t->keys[i]);
        situ_buf_addc(b, ':');
        situ_buf_add_num(b, t->n[i], 3);
    }
    situ_buf_addc(b, '}');
}

/* The text of field `name` of f as a key ("1" for integers), or NULL. */
static const char *field_key(const situ_coll *c, const situ_feature *f, const char *name, char *tmp,
                             size_t n)
{
    int i = situ_schema_field_index(c->c, name);
    if (i < 0 || !f->values[i].type)
        return NULL;
    const situ_value *v = &f->values[i];
    if (v->type == SITU_FT_TEXT)
        return v->u.s;
    if (v->type == SITU_FT_BOOL)
        return v->u.i ? "true" : "false";
    snprintf(tmp, n, "%lld", v->type == SITU_FT_INT ? v->u.i : (long long)v->u.d);
    return tmp;
}

/* Counts the area's features of c by each named field. */
static void count_by(situ_buf *b, const situ_coll *c, const area *a, const char *const *fields,
                     const char *const *labels)
{
    situ_buf_printf(b, "\"%s\":{\"total\":%zu", c->c->id, area_count(c, a));
    for (int k = 0; fields[k]; k++) {
        tally t = {0};
        char tmp[32];
        size_t first, end;
        for (size_t w = 0; w < a->n; w++) {
            area_range(c, a, w, &first, &end);
            for (size_t i = first; i < end; i++) {
                const char *key = field_key(c, &c->feats[i], fields[k], tmp, sizeof tmp);
                if (key)
                    tally_add(&t, key, 1, 0);
            }
        }
        tally_write(b, labels[k], &t);
    }
}

/* The hidden dangers of area a not yet rectified, those of them past their
 * deadline at `now` (its day in the process's time zone: judging_day), and
 * the major ones of those. */
typedef struct hazard_tally {
    size_t open, overdue, overdue_major;
} hazard_tally;

/* The day deadlines are judged at, at now (situ_store_day), remembered per
 * thread: a list asks it once for each of its townships. */
static const char *judging_day(const char *now)
{
    static _Thread_local char asked[32], day[11];
    if (strncmp(now, asked, sizeof asked)) {
        snprintf(asked, sizeof asked, "%s", now);
        situ_store_day(now, day);
    }
    return day;
}

/* Adds the hidden dangers of features [first, end) of c to *h. */
static void tally_range(const situ_coll *c, size_t first, size_t end, const char *now,
                        hazard_tally *h)
{
    char tmp[32];
    const char *day = judging_day(now);
    for (size_t i = first; i < end; i++) {
        const char *st = field_key(c, &c->feats[i], "status", tmp, sizeof tmp);
        if (!st || !strcmp(st, "rectified"))
            continue;
        h->open++;
        const char *dl = field_key(c, &c->feats[i], "deadline", tmp, sizeof tmp);
        if (dl && *dl && strncmp(dl, day, 10) < 0) {
            const char *lv = field_key(c, &c->feats[i], "level", tmp, sizeof tmp);
            h->overdue++;
            h->overdue_major += lv && !strcmp(lv, "major");
        }
    }
}

void situ__hazards_open_overdue(const situ_coll *c, size_t first, size_t end, const char *now,
                                size_t *open, size_t *overdue)
{
    hazard_tally h = {0, 0, 0};
    tally_range(c, first, end, now, &h);
    *open += h.open, *overdue += h.overdue;
}

static hazard_tally hazards_tally(const situ_coll *c, const area *a, const char *now)
{
    hazard_tally h = {0, 0, 0};
    size_t first, end;
    for (size_t w = 0; w < a->n; w++) {
        area_range(c, a, w, &first, &end);
        tally_range(c, first, end, now, &h);
    }
    return h;
}

static void hazards_part(situ_buf *b, const situ_coll *c, const area *a, const char *now)
{
    static const char *const f[] = {"category", "level", "status", NULL};
    static const char *const l[] = {"by_category", "by_level", "by_status", NULL};
    count_by(b, c, a, f, l);
    hazard_tally h = hazards_tally(c, a, now);
    situ_buf_printf(b, ",\"open\":%zu,\"overdue\":%zu,\"overdue_major\":%zu}", h.open, h.overdue,
                    h.overdue_major);
}

static void resources_part(situ_buf *b, const situ_coll *c, const area *a)
{
    static const char *const f[] = {"category", "level", "status", NULL};
    static const char *const l[] = {"by_category", "by_level", "by_status", NULL};
    count_by(b, c, a, f, l);
    size_t first, end;
    tally teams = {0}, items = {0};
    char tmp[32];
    int pi = situ_schema_field_index(c->c, "personnel");
    for (size_t w = 0; w < a->n; w++) {
        area_range(c, a, w, &first, &end);
        for (size_t i = first; i < end; i++) {
            const situ_feature *ft = &c->feats[i];
            const char *type = field_key(c, ft, "team_type", tmp, sizeof tmp);
            if (type)
                tally_add(&teams, type, 1, ft->values[pi].type ? (double)ft->values[pi].u.i : 0);
            for (uint32_t h = 0; h < ft->nheld; h++)
                tally_add(&items, situ_schema_item(c->held[ft->held0 + h].item)->code,
                          c->held[ft->held0 + h].quantity, 0);
        }
    }
    situ_buf_adds(b, ",\"teams_by_type\":{");
    for (int i = 0; i < teams.nkeys; i++)
        situ_buf_printf(b, "%s\"%s\":{\"teams\":%.0f,\"personnel\":%.0f}", i ? "," : "",
                        teams.keys[i], teams.n[i], teams.extra[i]);
    situ_buf_adds(b, "},\"items\":{");
    for (int i = 0; i < items.nkeys; i++) {
        const situ_item *it = situ_schema_item(situ_schema_item_index(items.keys[i]));
        situ_buf_printf(b, "%s\"%s\":{\"name\":", i ? "," : "", it->code);
        situ_buf_add_json_str(b, it->name_zh);
        situ_buf_adds(b, ",\"qty\":");
        situ_buf_add_num(b, items.n[i], 3);
        situ_buf_printf(b, ",\"unit\":\"%s\"}", it->unit);
    }
    situ_buf_adds(b, "}}");
}

static void stations_part(situ_buf *b, const situ_coll *c, const area *a)
{
    static const char *const f[] = {"kind", "dept", "status", NULL};
    static const char *const l[] = {"by_kind", "by_dept", "by_status", NULL};
    count_by(b, c, a, f, l);
    size_t first, end, cams = 0, online = 0;
    char tmp[32];
    for (size_t w = 0; w < a->n; w++) {
        area_range(c, a, w, &first, &end);
        for (size_t i = first; i < end; i++) {
            const char *kind = field_key(c, &c->feats[i], "kind", tmp, sizeof tmp);
            if (kind && !strcmp(kind, "camera")) {
                cams++;
                const char *on = field_key(c, &c->feats[i], "online", tmp, sizeof tmp);
                online += on && !strcmp(on, "true");
            }
        }
    }
    situ_buf_printf(b, ",\"cameras\":%zu,\"cameras_online\":%zu}", cams, online);
}

static int text_field_is(const situ_coll *c, const situ_feature *f, const char *name, const char *v)
{
    char tmp[32];
    const char *k = field_key(c, f, name, tmp, sizeof tmp);
    return k && !strcmp(k, v);
}

int situ_alert_active(const situ_coll *alerts, const situ_feature *f, const char *now)
{
    char tmp[32];
    if (text_field_is(alerts, f, "status", "cancelled"))
        return 0;
    const char *exp = field_key(alerts, f, "expires", tmp, sizeof tmp);
    if (exp && *exp && strcmp(exp, now) <= 0)
        return 0;
    const char *onset = field_key(alerts, f, "onset", tmp, sizeof tmp);
    return !(onset && *onset && strcmp(onset, now) > 0);
}

/* How many of the alerts' onsets and expiries are not after now: as now
 * passes each one, one alert's activity (situ_alert_active) may change, and
 * no other way, so for the same alerts two times with the same count give
 * the same active alerts (every term only grows with now). */
static size_t alert_times_past(const situ_coll *alerts, const char *now)
{
    size_t n = 0;
    char tmp[32];
    for (size_t i = 0; i < alerts->n; i++) {
        const situ_feature *f = &alerts->feats[i];
        const char *exp = field_key(alerts, f, "expires", tmp, sizeof tmp);
        n += exp && *exp && strcmp(exp, now) <= 0;
        const char *onset = field_key(alerts, f, "onset", tmp, sizeof tmp);
        n += onset && *onset && strcmp(onset, now) <= 0;
    }
    return n;
}

situ_digest situ_summary_lists_digest(const situ_snapshot *s, const char *now)
{
    XXH3_state_t *st = XXH3_createState();
    if (!st) /* a digest no answer has: every answer is computed afresh */
        return (situ_digest){0, 0};
    XXH3_128bits_reset(st);
    for (int c = SITU_C_TOWNSHIPS; c <= SITU_C_ALERTS; c++) {
        uint64_t part[3] = {s->colls[c]->digest.lo, s->colls[c]->digest.hi, s->colls[c]->n};
        XXH3_128bits_update(st, part, sizeof part);
    }
    uint64_t passed = alert_times_past(s->colls[SITU_C_ALERTS], now);
    XXH3_128bits_update(st, judging_day(now), 10); /* the day: what is overdue */
    XXH3_128bits_update(st, &passed, sizeof passed);
    XXH128_hash_t h = XXH3_128bits_digest(st);
    XXH3_freeState(st);
    return (situ_digest){h.low64 | 1, h.high64};
}

/* Polygon p of c as a GEOS Polygon (owned by the caller), or NULL. */
static GEOSGeometry *poly_to_geos(GEOSContextHandle_t h, const situ_coll *c, const situ_poly *poly)
{
    GEOSGeometry **rings = malloc((poly->nrings + 1) * sizeof *rings), *g = NULL;
    uint32_t nr = 0;
    for (; rings && nr < poly->nrings; nr++) {
        const situ_ring *ring = &c->rings[poly->ring0 + nr];
        GEOSCoordSequence *cs =
            GEOSCoordSeq_copyFromBuffer_r(h, c->xy + 2 * (size_t)ring->off, ring->n, 0, 0);
        if (!cs || !(rings[nr] = GEOSGeom_createLinearRing_r(h, cs)))
            break;
    }
    if (rings && nr == poly->nrings && nr)
        g = GEOSGeom_createPolygon_r(h, rings[0], rings + 1, nr - 1);
    for (uint32_t k = 0; !g && rings && k < nr; k++)
        GEOSGeom_destroy_r(h, rings[k]);
    free(rings);
    return g;
}

/* Feature f's polygons as a GEOS MultiPolygon (owned by the caller), or
 * NULL when GEOS fails. */
GEOSGeometry *situ__feature_geos(GEOSContextHandle_t h, const situ_coll *c, const situ_feature *f)
{
    GEOSGeometry **polys = malloc((f->npolys + 1) * sizeof *polys), *g = NULL;
    uint32_t np = 0;
    while (polys && np < f->npolys && (polys[np] = poly_to_geos(h, c, &c->polys[f->poly0 + np])))
        np++;
    if (polys && np == f->npolys)
        g = GEOSGeom_createCollection_r(h, GEOS_MULTIPOLYGON, polys, np);
    for (uint32_t k = 0; !g && polys && k < np; k++)
        GEOSGeom_destroy_r(h, polys[k]);
    free(polys);
    return g;
}

static void geos_quiet(const char *msg, void *ud)
{
    (void)msg, (void)ud;
}

GEOSContextHandle_t situ__geos_quiet_init(void)
{
    GEOSContextHandle_t h = GEOS_init_r();
    if (h) {
        GEOSContext_setErrorMessageHandler_r(h, geos_quiet, NULL);
        GEOSContext_setNoticeMessageHandler_r(h, geos_quiet, NULL);
    }
    return h;
}

/* Polygons meet when their boxes overlap and GEOS finds a shared point: the
 * larger prepared (its edges indexed), so an outline of n vertices against
 * a township of m costs about (n + m) log(n + m), where testing every
 * vertex of one in the other cost n * m. When GEOS cannot decide (an
 * invalid outline), the boxes decide: an alert is listed rather than lost. */
int situ_polygons_meet(const situ_coll *ca, const situ_feature *a, const situ_coll *cb,
                       const situ_feature *b)
{
    if (a->bbox[2] < b->bbox[0] || b->bbox[2] < a->bbox[0] || a->bbox[3] < b->bbox[1] ||
        b->bbox[3] < a->bbox[1])
        return 0;
    GEOSContextHandle_t h = situ__geos_quiet_init();
    if (!h)
        return 1;
    GEOSGeometry *ga = situ__feature_geos(h, ca, a), *gb = situ__feature_geos(h, cb, b);
    int meet = 1;
    if (ga && gb) {
        int a_larger = GEOSGetNumCoordinates_r(h, ga) >= GEOSGetNumCoordinates_r(h, gb);
        const GEOSPreparedGeometry *pg = GEOSPrepare_r(h, a_larger ? ga : gb);
        char r = pg ? GEOSPreparedIntersects_r(h, pg, a_larger ? gb : ga) : 2;
        meet = r != 0;
        GEOSPreparedGeom_destroy_r(h, pg);
    }
    GEOSGeom_destroy_r(h, ga);
    GEOSGeom_destroy_r(h, gb);
    GEOS_finish_r(h);
    return meet;
}

void situ__alert_object(situ_buf *b, const situ_coll *c, const situ_feature *f)
{
    situ_buf_adds(b, "{\"id\":");
    situ_buf_add_json_str(b, f->id);
    static const char *const names[] = {"dept",  "event",   "severity", "headline",
                                        "onset", "expires", NULL};
    for (int k = 0; names[k]; k++) {
        int i = situ_schema_field_index(c->c, names[k]);
        situ_buf_printf(b, ",\"%s\":", names[k]);
        situ_geojson_value(b, &c->c->fields[i], &f->values[i]);
    }
    situ_buf_addc(b, '}');
}

/* 1 when alert f (of coll a) is over a township of area ar. */
static int alert_over(const situ_snapshot *s, const situ_feature *f, const area *ar)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS], *t = s->colls[SITU_C_TOWNSHIPS];
    for (size_t w = 0; w < ar->n; w++)
        if (!strcmp(f->township_code, ar->towns[w]->id))
            return 1;
    for (size_t w = 0; w < ar->n; w++)
        if (situ_polygons_meet(a, f, t, ar->towns[w]))
            return 1;
    return 0;
}

/* 1 when alert f of s is active at now and over a township of area ar: the
 * one test behind both a summary's alert list and a list's alert count. */
static int alert_in_area(const situ_snapshot *s, const situ_feature *f, const area *ar,
                         const char *now)
{
    return situ_alert_active(s->colls[SITU_C_ALERTS], f, now) && alert_over(s, f, ar);
}

static size_t alerts_count(const situ_snapshot *s, const area *ar, const char *now)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS];
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++)
        n += (size_t)alert_in_area(s, &a->feats[i], ar, now);
    return n;
}

static void alerts_part(situ_buf *b, const situ_snapshot *s, const area *ar, const char *now)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS];
    situ_buf_adds(b, "\"alerts\":[");
    int first = 1;
    for (size_t i = 0; i < a->n; i++) {
        const situ_feature *f = &a->feats[i];
        if (!alert_in_area(s, f, ar, now))
            continue;
        if (!first)
            situ_buf_addc(b, ',');
        first = 0;
        situ__alert_object(b, a, f);
    }
    situ_buf_addc(b, ']');
}

static void township_head(situ_buf *b, const situ_coll *t, const situ_feature *f)
{
    situ_buf_adds(b, "\"code\":");
    situ_buf_add_json_str(b, f->id);
    for (int i = 0; i < t->c->nfields; i++) {
        situ_buf_printf(b, ",\"%s\":", t->c->fields[i].name);
        situ_geojson_value(b, &t->c->fields[i], &f->values[i]);
    }
}

/* Appends ,"maps":{...},"alerts":[...],"updated_at":now} of area a. */
static void area_summary(situ_buf *b, const situ_snapshot *s, const area *a, const char *now)
{
    static const char *const rz_f[] = {"hazard_type", "risk_level", NULL};
    static const char *const rz_l[] = {"by_type", "by_level", NULL};
    static const char *const hs_f[] = {"grade", "industry", NULL};
    static const char *const hs_l[] = {"by_grade", "by_industry", NULL};
    situ_buf_adds(b, ",\"maps\":{");
    count_by(b, s->colls[SITU_C_RISK_ZONES], a, rz_f, rz_l);
    situ_buf_adds(b, "},");
    hazards_part(b, s->colls[SITU_C_HAZARDS], a, now);
    situ_buf_addc(b, ',');
    count_by(b, s->colls[SITU_C_HAZARD_SOURCES], a, hs_f, hs_l);
    situ_buf_adds(b, "},");
    resources_part(b, s->colls[SITU_C_RESOURCES], a);
    situ_buf_adds(b, "},");
    stations_part(b, s->colls[SITU_C_STATIONS], a);
    situ_buf_addc(b, ',');
    alerts_part(b, s, a, now);
    situ_buf_adds(b, ",\"updated_at\":");
    situ_buf_add_json_str(b, now);
    situ_buf_adds(b, "}\n");
}

int situ_summary_township(const situ_snapshot *s, const char *code, const char *now, situ_buf *b)
{
    const situ_feature *town = situ_snapshot_township(s, code);
    if (!town)
        return SITU_ENOTFOUND;
    area a = {&town, 1};
    situ_buf_addc(b, '{');
    township_head(b, s->colls[SITU_C_TOWNSHIPS], town);
    area_summary(b, s, &a, now);
    return 0;
}

/* Appends "counts":{collection: features in area a, ...} (the four maps,
 * stations and alerts; not roads, a network rather than a map, whose
 * township is only where its middle lies). Alerts count as the area's
 * summary lists them (active at now, meeting one of its townships), not by
 * the one township an alert's code names: a red alert over five townships
 * counts in all five. */
static void counts_write(situ_buf *b, const situ_snapshot *s, const area *a, const char *now)
{
    situ_buf_adds(b, "\"counts\":{");
    for (int c = SITU_C_RISK_ZONES; c <= SITU_C_ALERTS; c++)
        situ_buf_printf(b, "%s\"%s\":%zu", c > SITU_C_RISK_ZONES ? "," : "", s->colls[c]->c->id,
                        c == SITU_C_ALERTS ? alerts_count(s, a, now) : area_count(s->colls[c], a));
    situ_buf_addc(b, '}');
}

/* The highest risk level (1 highest … 4) of the risk zones in area a, or 0
 * when it has none. */
static int top_risk_level(const situ_coll *c, const area *a)
{
    int top = 0;
    size_t first, end;
    char tmp[32];
    for (size_t w = 0; w < a->n; w++) {
        area_range(c, a, w, &first, &end);
        for (size_t i = first; i < end; i++) {
            const char *k = field_key(c, &c->feats[i], "risk_level", tmp, sizeof tmp);
            int lv = k ? atoi(k) : 0;
            if (lv >= 1 && (!top || lv < top))
                top = lv;
        }
    }
    return top;
}

/* Appends ,"glance":{"overdue","overdue_major","top_risk_level"} of area a:
 * what the wall shades a township by at city zoom (top_risk_level null when
 * the area has no risk zone). */
static void glance_write(situ_buf *b, const situ_snapshot *s, const area *a, const char *now)
{
    hazard_tally h = hazards_tally(s->colls[SITU_C_HAZARDS], a, now);
    int top = top_risk_level(s->colls[SITU_C_RISK_ZONES], a);
    situ_buf_printf(b, ",\"glance\":{\"overdue\":%zu,\"overdue_major\":%zu,\"top_risk_level\":",
                    h.overdue, h.overdue_major);
    if (top)
        situ_buf_printf(b, "%d}", top);
    else
        situ_buf_adds(b, "null}");
}

/* Township f's text field `name`, or "". */
static const char *town_text(const situ_coll *t, const situ_feature *f, const char *name)
{
    int i = situ_schema_field_index(t->c, name);
    return i >= 0 && f->values[i].type == SITU_FT_TEXT && f->values[i].u.s ? f->values[i].u.s : "";
}

size_t situ_summary_townships(const situ_snapshot *s, const char *county, const char *now,
                              size_t offset, size_t limit, situ_buf *b, size_t *out_matched)
{
    const situ_coll *t = s->colls[SITU_C_TOWNSHIPS];
    size_t matched = 0, n = 0;
    situ_buf_addc(b, '[');
    for (size_t i = 0; i < t->n; i++) {
        const situ_feature *f = &t->feats[i];
        if (county && strcmp(town_text(t, f, "county_code"), county))
            continue;
        if (matched++ < offset || n == limit)
            continue;
        situ_buf_adds(b, n++ ? ",{" : "{");
        township_head(b, t, f);
        area a = {&f, 1};
        situ_buf_addc(b, ',');
        counts_write(b, s, &a, now);
        glance_write(b, s, &a, now);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
    *out_matched = matched;
    return n;
}

typedef struct county_town {
    const char *county;
    const situ_feature *f;
} county_town;

static int by_county(const void *x, const void *y)
{
    const county_town *a = x, *b = y;
    int c = strcmp(a->county, b->county);
    return c ? c : strcmp(a->f->id, b->f->id);
}

/* The townships of s sorted by county code, then code (malloc'd, t->n of
 * them), or NULL when out of memory. */
static county_town *towns_by_county(const situ_coll *t)
{
    county_town *ct = malloc((t->n ? t->n : 1) * sizeof *ct);
    for (size_t i = 0; ct && i < t->n; i++)
        ct[i] = (county_town){town_text(t, &t->feats[i], "county_code"), &t->feats[i]};
    if (ct)
        qsort(ct, t->n, sizeof *ct, by_county);
    return ct;
}

/* The next county's townships from ct[i]: how many share its code. */
static size_t county_run(const county_town *ct, size_t n, size_t i)
{
    size_t j = i;
    while (j < n && !strcmp(ct[j].county, ct[i].county))
        j++;
    return j - i;
}

int situ_summary_counties(const situ_snapshot *s, const char *now, size_t offset, size_t limit,
                          situ_buf *b, size_t *out_returned, size_t *out_matched)
{
    const situ_coll *t = s->colls[SITU_C_TOWNSHIPS];
    county_town *ct = towns_by_county(t);
    const situ_feature **towns = malloc((t->n ? t->n : 1) * sizeof *towns);
    if (!ct || !towns) {
        free(ct), free(towns);
        return SITU_ENOMEM;
    }
    size_t matched = 0, n = 0;
    situ_buf_addc(b, '[');
    for (size_t i = 0, k; i < t->n; i += k) {
        k = county_run(ct, t->n, i);
        if (matched++ < offset || n == limit)
            continue;
        for (size_t j = 0; j < k; j++)
            towns[j] = ct[i + j].f;
        area a = {towns, k};
        situ_buf_adds(b, n++ ? ",{\"code\":" : "{\"code\":");
        situ_buf_add_json_str(b, ct[i].county);
        situ_buf_adds(b, ",\"name\":");
        situ_buf_add_json_str(b, town_text(t, ct[i].f, "county_name"));
        situ_buf_printf(b, ",\"townships\":%zu,", k);
        counts_write(b, s, &a, now);
        glance_write(b, s, &a, now);
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
    free(ct), free(towns);
    *out_returned = n;
    *out_matched = matched;
    return 0;
}

int situ_summary_county(const situ_snapshot *s, const char *code, const char *now, situ_buf *b)
{
    const situ_coll *t = s->colls[SITU_C_TOWNSHIPS];
    const situ_feature **towns = malloc((t->n ? t->n : 1) * sizeof *towns);
    if (!towns)
        return SITU_ENOMEM;
    area a = {towns, 0};
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(town_text(t, &t->feats[i], "county_code"), code))
            towns[a.n++] = &t->feats[i];
    if (!a.n) {
        free(towns);
        return SITU_ENOTFOUND;
    }
    situ_buf_adds(b, "{\"code\":");
    situ_buf_add_json_str(b, code);
    situ_buf_adds(b, ",\"name\":");
    situ_buf_add_json_str(b, town_text(t, towns[0], "county_name"));
    situ_buf_adds(b, ",\"townships\":[");
    for (size_t i = 0; i < a.n; i++) {
        situ_buf_adds(b, i ? ",{\"code\":" : "{\"code\":");
        situ_buf_add_json_str(b, towns[i]->id);
        situ_buf_adds(b, ",\"name\":");
        situ_buf_add_json_str(b, town_text(t, towns[i], "name"));
        situ_buf_addc(b, '}');
    }
    situ_buf_addc(b, ']');
    area_summary(b, s, &a, now);
    free(towns);
    return 0;
}

void situ_summary_alerts_at(const situ_snapshot *s, double lon, double lat, const char *now,
                            situ_buf *b)
{
    const situ_coll *a = s->colls[SITU_C_ALERTS];
    situ_buf_addc(b, '[');
    int first = 1;
    for (size_t i = 0; i < a->n; i++) {
        const situ_feature *f = &a->feats[i];
        if (!situ_alert_active(a, f, now) || !situ_coll_contains(a, f, lon, lat))
            continue;
        if (!first)
            situ_buf_addc(b, ',');
        first = 0;
        situ__alert_object(b, a, f);
    }
    situ_buf_addc(b, ']');
}

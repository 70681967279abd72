/*
 * feed.c: reading a department's batch. Owns the JSON envelope (with the
 * position of a syntax error), validating each event on its own through the
 * table of event types below (every member checked; unknown members are
 * rejected so a misspelt one is seen), RFC 3339 times, the batch's memory
 * and the JSON answer. Applying is feed_apply.c; the log and the counts are
 * feed_log.c; CAP is cap.c.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "feed_int.h"

/* ---- batch memory ----------------------------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk;

typedef struct batch_priv {
    json_t *root;
    chunk *arena;
    feed_item *items; /* one per event, at least one: ev[i].priv points here */
} batch_priv;

situ_feed_batch *situ__feed_batch_new(const char *dept, int n, long long now)
{
    int d = situ_schema_dept_index(dept);
    situ_feed_batch *b = calloc(1, sizeof *b);
    batch_priv *pv = calloc(1, sizeof *pv);
    if (!b || !pv || d < 0)
        goto fail;
    b->priv = pv;
    b->dept = situ_schema_dept(d)->code;
    situ_store_time(now, b->received_at);
    b->n = n;
    b->ev = calloc((size_t)(n ? n : 1), sizeof *b->ev);
    pv->items = calloc((size_t)(n ? n : 1), sizeof *pv->items);
    if (!b->ev || !pv->items)
        goto fail;
    for (int i = 0; i < n; i++)
        b->ev[i].priv = &pv->items[i];
    return b;
fail:
    if (b && !b->priv)
        free(pv);
    situ_feed_batch_free(b);
    return NULL;
}

void *situ__feed_alloc(situ_feed_batch *b, size_t n)
{
    batch_priv *pv = b->priv;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!pv->arena || pv->arena->used + n > pv->arena->cap) {
        size_t cap = n > 32768 ? n : 32768;
        chunk *k = malloc(sizeof *k + cap);
        if (!k)
            return NULL;
        *k = (chunk){pv->arena, 0, cap};
        pv->arena = k;
    }
    void *p = (char *)pv->arena->data + pv->arena->used;
    pv->arena->used += n;
    return p;
}

const char *situ__feed_memdup(situ_feed_batch *b, const void *p, size_t n)
{
    char *s = situ__feed_alloc(b, n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

const char *situ__feed_strdup(situ_feed_batch *b, const char *s)
{
    return s ? situ__feed_memdup(b, s, strlen(s)) : NULL;
}

void situ_feed_batch_free(situ_feed_batch *b)
{
    if (!b)
        return;
    batch_priv *pv = b->priv;
    for (int i = 0; b->ev && i < b->n; i++)
        free(b->ev[i].changes);
    free(b->ev);
    if (pv) {
        free(pv->items);
        json_decref(pv->root);
        for (chunk *k = pv->arena, *next; k; k = next) {
            next = k->next;
            free(k);
        }
        free(pv);
    }
    free(b);
}

/* Copies s into out[n], cut if need be at a UTF-8 character boundary. */
static void copy_utf8(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len >= n)
        for (len = n - 1; len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80; len--)
            ;
    memcpy(out, s, len);
    out[len] = '\0';
}

int situ__feed_reject(situ_feed_event *ev, const char *field, const char *fmt, ...)
{
    ev->status = SITU_FEED_REJECTED;
    copy_utf8(ev->field, sizeof ev->field, field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->reason, sizeof ev->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- RFC 3339 ------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int situ_feed_time(const char *in, char out[32], long long *out_epoch)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int Y, M, D, h, mi, s, oh = 0, om = 0, sign = 0;
    if (!in || strlen(in) < 20 || digits(in, 4, &Y) || in[4] != '-' || digits(in + 5, 2, &M) ||
        in[7] != '-' || digits(in + 8, 2, &D) || !strchr("Tt ", in[10]) || digits(in + 11, 2, &h) ||
        in[13] != ':' || digits(in + 14, 2, &mi) || in[16] != ':' || digits(in + 17, 2, &s))
        return -1;
    const char *p = in + 19;
    if (*p == '.' && isdigit((unsigned char)p[1]))
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0')
        sign = 0;
    else if ((*p == '+' || *p == '-') && strlen(p) == 6 && !digits(p + 1, 2, &oh) && p[3] == ':' &&
             !digits(p + 4, 2, &om) && oh < 24 && om < 60)
        sign = *p == '+' ? 1 : -1;
    else
        return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) || h > 23 ||
        mi > 59 || s > 60)
        return -1;
    long long t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + (s == 60 ? 59 : s);
    t -= sign * (oh * 3600 + om * 60);
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
        return -1;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (out_epoch)
        *out_epoch = t;
    return 0;
}

/* ---- member readers ------------------------------------------------------------- */

typedef struct vctx {
    situ_feed_batch *b;
    situ_feed_event *ev;
    feed_item *it;
    json_t *obj;
    long long now;
} vctx;

static int bad_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

/* A string member of 1..max bytes without control characters. */
static int get_str(vctx *v, const char *name, int required, size_t max, const char **out)
{
    json_t *j = json_object_get(v->obj, name);
    *out = NULL;
    if (!j || json_is_null(j))
        return required ? situ__feed_reject(v->ev, name, "is required") : 0;
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > max)
        return situ__feed_reject(v->ev, name, "must be a string of 1 to %zu bytes", max);
    if (bad_text(json_string_value(j)) || strlen(json_string_value(j)) != json_string_length(j))
        return situ__feed_reject(v->ev, name, "must not hold control characters");
    *out = json_string_value(j);
    return 0;
}

static int get_num(vctx *v, const char *name, int required, double *out, int *present)
{
    json_t *j = json_object_get(v->obj, name);
    *present = 0;
    if (!j || json_is_null(j))
        return required ? situ__feed_reject(v->ev, name, "is required") : 0;
    if (!json_is_number(j) || !isfinite(json_number_value(j)))
        return situ__feed_reject(v->ev, name, "must be a number");
    *out = json_number_value(j);
    *present = 1;
    return 0;
}

/* An RFC 3339 time, normalised to UTC; at most 10 minutes in the future
 * when `past` is set (a reading cannot come from the future). */
static int get_time(vctx *v, const char *name, int required, int past, char out[32])
{
    const char *s;
    long long t;
    out[0] = '\0';
    if (get_str(v, name, required, 64, &s) || !s)
        return v->ev->status == SITU_FEED_REJECTED ? -1 : 0;
    if (situ_feed_time(s, out, &t))
        return situ__feed_reject(v->ev, name,
                                 "must be an RFC 3339 time such as "
                                 "2024-06-01T08:00:00+08:00");
    if (past && t > v->now + 600)
        return situ__feed_reject(v->ev, name, "is more than 10 minutes in the future");
    return 0;
}

static int check_members(vctx *v, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(v->obj, key, val)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key))
            a++;
        if (!*a)
            return situ__feed_reject(v->ev, *key ? key : "\"\"",
                                     "is not a member of this event type");
    }
    return 0;
}

static int get_lonlat(vctx *v, feed_station *st)
{
    int hx, hy;
    if (get_num(v, "lon", 0, &st->lon, &hx) || get_num(v, "lat", 0, &st->lat, &hy))
        return -1;
    if (hx != hy)
        return situ__feed_reject(v->ev, hx ? "lat" : "lon", "lon and lat go together");
    if (hx && (fabs(st->lon) > 180 || fabs(st->lat) > 90))
        return situ__feed_reject(v->ev, fabs(st->lon) > 180 ? "lon" : "lat", "is out of range");
    st->has_loc = hx;
    return 0;
}

/* ---- event types -------------------------------------------------------------- */

static int metric_ok(const char *m)
{
    for (const char *p = m; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
            return 0;
    return 1;
}

static int read_station_common(vctx *v, feed_station *st)
{
    const situ_collection *c = situ_schema_collection(SITU_C_STATIONS);
    if (get_str(v, "station", 1, SITU_FEED_ID_MAX, &st->station) ||
        get_time(v, "observed_at", 1, 1, st->observed_at) ||
        get_str(v, "name", 0, 200, &st->name) || get_lonlat(v, st))
        return -1;
    if (get_str(v, "kind", 0, 64, &st->kind))
        return -1;
    if (st->kind &&
        !situ_schema_domain_ok(&c->fields[situ_schema_field_index(c, "kind")], st->kind))
        return situ__feed_reject(v->ev, "kind", "is not a station kind");
    return 0;
}

static int read_observation(vctx *v)
{
    static const char *const members[] = {"id",     "type",  "station", "observed_at",
                                          "metric", "value", "lon",     "lat",
                                          "name",   "kind",  NULL};
    feed_station *st = &v->it->u.st;
    st->online = -1;
    if (check_members(v, members) || read_station_common(v, st) ||
        get_str(v, "metric", 1, 64, &st->metric) ||
        get_num(v, "value", 1, &st->value, &st->has_value))
        return -1;
    if (!metric_ok(st->metric))
        return situ__feed_reject(v->ev, "metric", "may hold only letters, digits, '_' and '.'");
    return 0;
}

static int read_camera(vctx *v)
{
    static const char *const members[] = {"id",  "type", "station", "observed_at", "status",
                                          "lon", "lat",  "name",    NULL};
    feed_station *st = &v->it->u.st;
    const char *status;
    if (check_members(v, members) || read_station_common(v, st) ||
        get_str(v, "status", 1, 16, &status))
        return -1;
    if (strcmp(status, "online") && strcmp(status, "offline"))
        return situ__feed_reject(v->ev, "status", "must be \"online\" or \"offline\"");
    if (st->kind && strcmp(st->kind, "camera"))
        return situ__feed_reject(v->ev, "kind", "a camera event is about a camera");
    st->online = !strcmp(status, "online");
    st->kind = "camera";
    return 0;
}

/* "station": registers (or renames, re-kinds, moves) one of the department's
 * stations; the way past the quota of stations an observation may create. */
static int read_station_reg(vctx *v)
{
    static const char *const members[] = {"id",   "type", "station", "name",
                                          "kind", "lon",  "lat",     NULL};
    feed_station *st = &v->it->u.st;
    st->online = -1;
    st->registration = 1;
    if (check_members(v, members) || get_str(v, "station", 1, SITU_FEED_ID_MAX, &st->station) ||
        get_str(v, "name", 1, 200, &st->name) || get_str(v, "kind", 1, 64, &st->kind) ||
        get_lonlat(v, st))
        return -1;
    const situ_collection *c = situ_schema_collection(SITU_C_STATIONS);
    if (!situ_schema_domain_ok(&c->fields[situ_schema_field_index(c, "kind")], st->kind))
        return situ__feed_reject(v->ev, "kind", "is not a station kind");
    if (!st->has_loc)
        return situ__feed_reject(v->ev, "lon", "is required (with lat)");
    return 0;
}

/* Reads one property value of a feature update into s, checked against f. */
static int read_set_value(vctx *v, const situ_field *f, json_t *j, feed_set *s, char *path)
{
    if (json_is_null(j)) {
        if (f->flags & SITU_FF_REQUIRED)
            return situ__feed_reject(v->ev, path, "is required and cannot be cleared");
        s->v.type = 0;
        return 0;
    }
    s->v.type = f->type;
    switch (f->type) {
    case SITU_FT_TEXT:
        if (!json_is_string(j) || json_string_length(j) > 4000 || bad_text(json_string_value(j)))
            return situ__feed_reject(v->ev, path, "must be text of at most 4000 bytes");
        if (!situ_schema_domain_ok(f, json_string_value(j)))
            return situ__feed_reject(v->ev, path, "must be one of %s", f->domain);
        s->v.u.s = json_string_value(j);
        return 0;
    case SITU_FT_BOOL:
        if (!json_is_boolean(j))
            return situ__feed_reject(v->ev, path, "must be true or false");
        s->v.u.i = json_is_true(j);
        return 0;
    case SITU_FT_REAL:
        if (!json_is_number(j) || !isfinite(json_number_value(j)))
            return situ__feed_reject(v->ev, path, "must be a number");
        s->v.u.d = json_number_value(j);
        return 0;
    default: {
        double d = json_is_number(j) ? json_number_value(j) : NAN;
        long long lo, hi;
        if (!isfinite(d) || d != floor(d) || fabs(d) > 9e15)
            return situ__feed_reject(v->ev, path, "must be an integer");
        if (f->domain && sscanf(f->domain, "%lld..%lld", &lo, &hi) == 2 &&
            (d < (double)lo || d > (double)hi))
            return situ__feed_reject(v->ev, path, "must be within %s", f->domain);
        s->v.u.i = (long long)d;
        return 0;
    }
    }
}

/* "items": {"sandbag": 2000, "tent": null} for resources; null removes. */
static int read_items(vctx *v, json_t *j, feed_update *u)
{
    if (!json_is_object(j) || json_object_size(j) == 0 || json_object_size(j) > 64)
        return situ__feed_reject(v->ev, "set.items",
                                 "must be an object of 1 to 64 item codes and quantities");
    u->items = situ__feed_alloc(v->b, json_object_size(j) * sizeof *u->items);
    if (!u->items)
        return situ__feed_reject(v->ev, "set.items", "out of memory");
    const char *code;
    json_t *q;
    json_object_foreach(j, code, q)
    {
        char path[64];
        snprintf(path, sizeof path, "set.items.%.40s", code);
        if (situ_schema_item_index(code) < 0)
            return situ__feed_reject(v->ev, path, "is not an item of the vocabulary");
        if (!json_is_null(q) &&
            (!json_is_number(q) || !isfinite(json_number_value(q)) || json_number_value(q) < 0))
            return situ__feed_reject(v->ev, path, "must be a quantity >= 0, or null to remove");
        u->items[u->nitems++] =
            (situ_item_qty){situ_schema_item(situ_schema_item_index(code))->code,
                            json_is_null(q) ? -1 : json_number_value(q), NULL};
    }
    return 0;
}

static int read_feature_update(vctx *v)
{
    static const char *const members[] = {"id", "type", "collection", "feature_id", "set", NULL};
    static const situ_coll_id maps[] = {SITU_C_RISK_ZONES, SITU_C_HAZARDS, SITU_C_HAZARD_SOURCES,
                                        SITU_C_RESOURCES, SITU_C_ROADS};
    feed_update *u = &v->it->u.upd;
    const char *coll;
    if (check_members(v, members) || get_str(v, "collection", 1, 64, &coll) ||
        get_str(v, "feature_id", 1, SITU_FEED_ID_MAX, &u->feature_id))
        return -1;
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        if (!strcmp(situ_schema_collection(maps[i])->id, coll))
            u->c = situ_schema_collection(maps[i]);
    if (!u->c)
        return situ__feed_reject(v->ev, "collection",
                                 "must be one of the four maps (risk_zones, hazards, "
                                 "hazard_sources, resources) or roads (a department opening "
                                 "or closing a road)");
    json_t *set = json_object_get(v->obj, "set");
    if (!json_is_object(set) || json_object_size(set) == 0)
        return situ__feed_reject(v->ev, "set", "must be an object naming the properties to set");
    u->sets = situ__feed_alloc(v->b, json_object_size(set) * sizeof *u->sets);
    if (!u->sets)
        return situ__feed_reject(v->ev, "set", "out of memory");
    const char *key;
    json_t *val;
    json_object_foreach(set, key, val)
    {
        char path[96];
        snprintf(path, sizeof path, "set.%.60s", key);
        if (!strcmp(key, "items") && u->c->cid == SITU_C_RESOURCES) {
            if (read_items(v, val, u))
                return -1;
            continue;
        }
        int fi = situ_schema_field_index(u->c, key);
        if (fi < 0)
            return situ__feed_reject(v->ev, path, "is not a property of %s", u->c->id);
        feed_set *s = &u->sets[u->nsets++];
        s->field = fi;
        if (read_set_value(v, &u->c->fields[fi], val, s, path))
            return -1;
    }
    return 0;
}

const char *situ__feed_severity(const char *s)
{
    static const char *const names[][4] = {{"blue", "蓝色", "蓝", "Blue"},
                                           {"yellow", "黄色", "黄", "Yellow"},
                                           {"orange", "橙色", "橙", "Orange"},
                                           {"red", "红色", "红", "Red"}};
    for (int i = 0; s && i < 4; i++)
        for (int k = 0; k < 4; k++)
            if (!strcasecmp(s, names[i][k]))
                return names[i][0];
    return NULL;
}

/* One ring of GeoJSON positions into the builder. */
static int read_ring(vctx *v, json_t *ring, situ__mpoly *m)
{
    size_t n = json_is_array(ring) ? json_array_size(ring) : 0;
    if (n < 4 || n > SITU_FEED_MAX_POINTS)
        return situ__feed_reject(v->ev, "geometry", "a ring needs 4 to %d positions",
                                 SITU_FEED_MAX_POINTS);
    double *xy = malloc(2 * n * sizeof *xy);
    if (!xy)
        return situ__feed_reject(v->ev, "geometry", "out of memory");
    const char *why = NULL;
    for (size_t i = 0; i < n && !why; i++) {
        json_t *pos = json_array_get(ring, i);
        json_t *x = json_array_get(pos, 0), *y = json_array_get(pos, 1);
        if (!json_is_array(pos) || json_array_size(pos) < 2 || !json_is_number(x) ||
            !json_is_number(y))
            why = "a position must be [lon, lat]";
        else
            xy[2 * i] = json_number_value(x), xy[2 * i + 1] = json_number_value(y);
    }
    if (!why && (xy[0] != xy[2 * n - 2] || xy[1] != xy[2 * n - 1]))
        why = "a ring must end where it starts";
    if (!why)
        situ__mpoly_ring(m, xy, n, &why);
    free(xy);
    return why ? situ__feed_reject(v->ev, "geometry", "%s", why) : 0;
}

static int read_polygon(vctx *v, json_t *rings, situ__mpoly *m)
{
    if (!json_is_array(rings) || json_array_size(rings) == 0)
        return situ__feed_reject(v->ev, "geometry", "a polygon needs at least one ring");
    if (situ__mpoly_begin(m))
        return situ__feed_reject(v->ev, "geometry", "out of memory");
    size_t i;
    json_t *ring;
    json_array_foreach(rings, i, ring)
    {
        if (read_ring(v, ring, m))
            return -1;
    }
    return 0;
}

/* The "geometry" member, a GeoJSON Polygon or MultiPolygon, as MultiPolygon
 * WKB in batch memory, and its box. */
static int read_area(vctx *v, const unsigned char **out_wkb, size_t *out_n, double bbox[4])
{
    json_t *g = json_object_get(v->obj, "geometry");
    json_t *type = json_object_get(g, "type"), *coords = json_object_get(g, "coordinates");
    const char *t = json_string_value(type);
    if (!json_is_object(g) || !t || (strcmp(t, "Polygon") && strcmp(t, "MultiPolygon")))
        return situ__feed_reject(v->ev, "geometry", "must be a GeoJSON Polygon or MultiPolygon");
    situ__mpoly m;
    situ__mpoly_init(&m);
    int rc = 0;
    if (!strcmp(t, "Polygon")) {
        rc = read_polygon(v, coords, &m);
    } else if (!json_is_array(coords) || json_array_size(coords) == 0) {
        rc = situ__feed_reject(v->ev, "geometry", "a MultiPolygon needs polygons");
    } else {
        size_t i;
        json_t *p;
        json_array_foreach(coords, i, p)
        {
            if ((rc = read_polygon(v, p, &m)))
                break;
        }
    }
    if (!rc && situ__mpoly_wkb(&m, v->b, out_wkb, out_n))
        rc = situ__feed_reject(v->ev, "geometry", "out of memory");
    memcpy(bbox, m.bbox, 4 * sizeof *bbox);
    situ__mpoly_dispose(&m);
    return rc;
}

/* "dept:id", the id of department b->dept's alert or closure id. */
static const char *dept_feature_id(situ_feed_batch *b, const char *id)
{
    char buf[2 * SITU_FEED_ID_MAX];
    snprintf(buf, sizeof buf, "%s:%s", b->dept, id);
    return situ__feed_strdup(b, buf);
}

static int read_refs(vctx *v, feed_alert *a)
{
    json_t *refs = json_object_get(v->obj, "references");
    if (!refs)
        return a->msg == FEED_MSG_ALERT ? 0
                                        : situ__feed_reject(v->ev, "references",
                                                            "an update or cancel names the "
                                                            "alerts it replaces");
    size_t n = json_is_array(refs) ? json_array_size(refs) : 0;
    if (a->msg == FEED_MSG_ALERT)
        return situ__feed_reject(v->ev, "references", "only msg_type update or cancel has them");
    if (n < 1 || n > 16)
        return situ__feed_reject(v->ev, "references", "must be an array of 1 to 16 alert ids");
    a->refs = situ__feed_alloc(v->b, n * sizeof *a->refs);
    for (size_t i = 0; a->refs && i < n; i++) {
        const char *r = json_string_value(json_array_get(refs, i));
        if (!r || !*r || strlen(r) > SITU_FEED_ID_MAX || bad_text(r))
            return situ__feed_reject(v->ev, "references", "must be an array of alert ids");
        if (!(a->refs[a->nrefs++] = dept_feature_id(v->b, r)))
            return situ__feed_reject(v->ev, "references", "out of memory");
    }
    return a->refs ? 0 : situ__feed_reject(v->ev, "references", "out of memory");
}

static int read_alert(vctx *v)
{
    static const char *const members[] = {"id",          "type",     "event",      "severity",
                                          "onset",       "expires",  "geometry",   "headline",
                                          "description", "msg_type", "references", NULL};
    feed_alert *a = &v->it->u.alert;
    const char *msg, *sev;
    if (check_members(v, members) || get_str(v, "msg_type", 0, 16, &msg))
        return -1;
    if (msg && strcmp(msg, "alert") && strcmp(msg, "update") && strcmp(msg, "cancel"))
        return situ__feed_reject(v->ev, "msg_type", "must be alert, update or cancel");
    a->msg = !msg || !strcmp(msg, "alert") ? FEED_MSG_ALERT
             : !strcmp(msg, "update")      ? FEED_MSG_UPDATE
                                           : FEED_MSG_CANCEL;
    a->feature_id = dept_feature_id(v->b, v->ev->id);
    a->source = "json";
    if (read_refs(v, a) || a->msg == FEED_MSG_CANCEL)
        return v->ev->status == SITU_FEED_REJECTED ? -1 : 0;
    if (get_str(v, "event", 1, 200, &a->event) || get_str(v, "severity", 1, 32, &sev) ||
        get_str(v, "headline", 0, 500, &a->headline) ||
        get_str(v, "description", 0, 8000, &a->description) ||
        get_time(v, "onset", 0, 0, a->onset) || get_time(v, "expires", 0, 0, a->expires))
        return -1;
    if (!(a->severity = situ__feed_severity(sev)))
        return situ__feed_reject(v->ev, "severity", "must be blue, yellow, orange or red");
    if (a->onset[0] && a->expires[0] && strcmp(a->expires, a->onset) <= 0)
        return situ__feed_reject(v->ev, "expires", "must be after onset");
    return read_area(v, &a->wkb, &a->nwkb, a->bbox);
}

/* ---- road closures ------------------------------------------------------------ */

/* A GeoJSON Point geometry with radius_m: a circle closure. */
static int read_circle(vctx *v, json_t *coords, feed_closure *c, int has_radius)
{
    json_t *x = json_array_get(coords, 0), *y = json_array_get(coords, 1);
    if (!json_is_array(coords) || json_array_size(coords) < 2 || !json_is_number(x) ||
        !json_is_number(y))
        return situ__feed_reject(v->ev, "geometry", "a Point's coordinates must be [lon, lat]");
    c->lon = json_number_value(x), c->lat = json_number_value(y);
    if (!(fabs(c->lon) <= 180 && fabs(c->lat) <= 90))
        return situ__feed_reject(v->ev, "geometry", "the Point is not lon/lat in range");
    if (!has_radius)
        return situ__feed_reject(v->ev, "radius_m", "a Point closure needs radius_m (metres)");
    if (!(c->radius_m >= 1 && c->radius_m <= SITU_FEED_CLOSURE_RADIUS_MAX))
        return situ__feed_reject(v->ev, "radius_m", "must be 1 to %.0f metres",
                                 SITU_FEED_CLOSURE_RADIUS_MAX);
    double dlat = c->radius_m / 111132.0, coslat = cos(c->lat * M_PI / 180);
    double dlon = coslat > 1e-6 ? dlat / coslat : 180;
    c->bbox[0] = fmax(c->lon - dlon, -180), c->bbox[1] = fmax(c->lat - dlat, -90);
    c->bbox[2] = fmin(c->lon + dlon, 180), c->bbox[3] = fmin(c->lat + dlat, 90);
    return 0;
}

/* closure: closes every road segment an area touches, a (Multi)Polygon or a
 * Point with radius_m, until `until` or a closure_end. The closure's id is
 * `closure` when given (a later event replacing it), else the event's. */
static int read_closure(vctx *v)
{
    static const char *const members[] = {"id",       "type",   "closure", "geometry",
                                          "radius_m", "reason", "until",   NULL};
    feed_closure *c = &v->it->u.closure;
    const char *name;
    int has_radius;
    long long until;
    if (check_members(v, members) || get_str(v, "closure", 0, SITU_FEED_ID_MAX, &name) ||
        get_str(v, "reason", 1, 500, &c->reason) || get_time(v, "until", 0, 0, c->until) ||
        get_num(v, "radius_m", 0, &c->radius_m, &has_radius))
        return -1;
    if (c->until[0] && !situ_feed_time(c->until, c->until, &until) && until <= v->now)
        return situ__feed_reject(v->ev, "until", "has passed: a closure ends in the future");
    if (!(c->closure_id = dept_feature_id(v->b, name ? name : v->ev->id)))
        return situ__feed_reject(v->ev, "closure", "out of memory");
    json_t *g = json_object_get(v->obj, "geometry");
    const char *t = json_string_value(json_object_get(g, "type"));
    if (json_is_object(g) && t && !strcmp(t, "Point"))
        return read_circle(v, json_object_get(g, "coordinates"), c, has_radius);
    if (has_radius)
        return situ__feed_reject(v->ev, "radius_m", "goes with a Point geometry only");
    return read_area(v, &c->wkb, &c->nwkb, c->bbox);
}

/* closure_end: reopens the roads of the department's closure `closure`. */
static int read_closure_end(vctx *v)
{
    static const char *const members[] = {"id", "type", "closure", NULL};
    feed_closure *c = &v->it->u.closure;
    const char *name;
    if (check_members(v, members) || get_str(v, "closure", 1, SITU_FEED_ID_MAX, &name))
        return -1;
    if (!(c->closure_id = dept_feature_id(v->b, name)))
        return situ__feed_reject(v->ev, "closure", "out of memory");
    return 0;
}

/* The event types: name, type and reader. */
static const struct event_type {
    const char *name;
    situ_feed_type type;
    int (*read)(vctx *v);
} event_types[] = {
    {"observation", SITU_FEED_OBSERVATION, read_observation},
    {"camera", SITU_FEED_CAMERA, read_camera},
    {"feature_update", SITU_FEED_FEATURE_UPDATE, read_feature_update},
    {"alert", SITU_FEED_ALERT, read_alert},
    {"station", SITU_FEED_STATION, read_station_reg},
    {"closure", SITU_FEED_CLOSURE, read_closure},
    {"closure_end", SITU_FEED_CLOSURE_END, read_closure_end},
};

/* ---- the events' own text ---------------------------------------------------- */

/* Past the string that opens at p[i] ('"'). */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\')
            i++;
    return i + 1;
}

/* Past the JSON value that starts at p[i] (text jansson accepted). */
static size_t skip_value(const char *p, size_t n, size_t i)
{
    if (p[i] == '"')
        return skip_string(p, n, i);
    if (p[i] != '{' && p[i] != '[') {
        while (i < n && !strchr(",]} \t\r\n", p[i]))
            i++;
        return i;
    }
    for (size_t depth = 0; i < n;) {
        if (p[i] == '"') {
            i = skip_string(p, n, i);
            continue;
        }
        depth += p[i] == '{' || p[i] == '[';
        if ((p[i] == '}' || p[i] == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return i;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && strchr(" \t\r\n", p[i]) && p[i])
        i++;
    return i;
}

/* The byte spans of the nev elements of the top-level "events" array in
 * body (text jansson accepted, so valid and without duplicate keys): each
 * event is logged as it was sent, not printed again (printing 400,000
 * coordinates took longer than reading them). NULL when not found as such
 * (a key spelt with escapes): the caller prints the event. */
static size_t *event_spans(const char *p, size_t n, size_t nev)
{
    size_t i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return NULL;
    for (i = skip_ws(p, n, i + 1); i < n && p[i] == '"';) {
        size_t k = i, v = skip_ws(p, n, skip_string(p, n, i));
        v = skip_ws(p, n, v + 1); /* past ':' */
        if (v >= n)
            return NULL;
        if (v - k >= 8 && !memcmp(p + k, "\"events\"", 8) && p[v] == '[') {
            size_t *span = malloc((2 * nev + 1) * sizeof *span), e = 0;
            for (i = skip_ws(p, n, v + 1); span && i < n && p[i] != ']' && e < nev; e++) {
                span[2 * e] = i;
                span[2 * e + 1] = i = skip_value(p, n, i);
                i = skip_ws(p, n, i);
                i = i < n && p[i] == ',' ? skip_ws(p, n, i + 1) : i;
            }
            if (span && (e != nev || i >= n || p[i] != ']'))
                free(span), span = NULL;
            return span;
        }
        i = skip_ws(p, n, skip_value(p, n, v));
        i = i < n && p[i] == ',' ? skip_ws(p, n, i + 1) : i;
    }
    return NULL;
}

static void read_event(situ_feed_batch *b, int i, json_t *obj, long long now, const char *raw,
                       size_t nraw)
{
    situ_feed_event *ev = &b->ev[i];
    vctx v = {b, ev, ev->priv, obj, now};
    if (!json_is_object(obj)) {
        situ__feed_reject(ev, "", "an event must be a JSON object");
        return;
    }
    const char *type;
    if (get_str(&v, "id", 1, SITU_FEED_ID_MAX, &ev->id) || get_str(&v, "type", 1, 32, &type))
        return;
    const struct event_type *t = NULL;
    for (size_t k = 0; k < sizeof event_types / sizeof event_types[0]; k++)
        if (!strcmp(event_types[k].name, type))
            t = &event_types[k];
    if (!t) {
        situ__feed_reject(ev, "type",
                          "must be observation, camera, station, feature_update, alert, "
                          "closure or closure_end");
        return;
    }
    ev->type = t->type;
    if (t->read(&v))
        return;
    char *body = raw ? NULL : json_dumps(obj, JSON_COMPACT);
    v.it->body = raw ? situ__feed_memdup(b, raw, nraw) : body ? situ__feed_strdup(b, body) : NULL;
    free(body);
    if (!v.it->body)
        situ__feed_reject(ev, "", "out of memory");
}

int situ_feed_parse(const char *dept, const char *body, size_t n, situ_feed_batch **out_batch,
                    situ_err *err)
{
    return situ_feed_parse_at(dept, body, n, (long long)time(NULL), out_batch, err);
}

int situ_feed_parse_at(const char *dept, const char *body, size_t n, long long now,
                       situ_feed_batch **out_batch, situ_err *err)
{
    if (situ_schema_dept_index(dept) < 0)
        return situ_err_set(err, SITU_ENOTFOUND, "no department '%s'", dept ? dept : "");
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", n, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return situ_err_set(err, SITU_EFORMAT, "malformed JSON at line %d, column %d (byte %d): %s",
                            je.line, je.column, je.position, je.text);
    json_t *events = json_object_get(root, "events");
    if (!json_is_object(root) || !json_is_array(events)) {
        json_decref(root);
        return situ_err_set(err, SITU_EFORMAT, "the body must be {\"events\": [...]}");
    }
    size_t nev = json_array_size(events);
    if (nev > SITU_FEED_MAX_EVENTS) {
        json_decref(root);
        return situ_err_set(err, SITU_ELIMIT, "%zu events in one batch; the limit is %d", nev,
                            SITU_FEED_MAX_EVENTS);
    }
    situ_feed_batch *b = situ__feed_batch_new(dept, (int)nev, now);
    if (!b) {
        json_decref(root);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    ((batch_priv *)b->priv)->root = root;
    size_t *span = event_spans(body, n, nev);
    for (size_t i = 0; i < nev; i++)
        read_event(b, (int)i, json_array_get(events, i), now, span ? body + span[2 * i] : NULL,
                   span ? span[2 * i + 1] - span[2 * i] : 0);
    free(span);
    *out_batch = b;
    return 0;
}

/* ---- answers ------------------------------------------------------------------ */

const char *situ_feed_change_kind_name(situ_change_kind k)
{
    static const char *const names[] = {"",          "created", "updated",
                                        "cancelled", "expired", "removed"};
    return k >= SITU_CHANGE_CREATED && k <= SITU_CHANGE_REMOVED ? names[k] : "";
}

static void add_box(situ_buf *out, const double *b)
{
    situ_buf_addc(out, '[');
    for (int i = 0; i < 4; i++) {
        if (i)
            situ_buf_addc(out, ',');
        situ_buf_add_num(out, b[i], 7);
    }
    situ_buf_addc(out, ']');
}

const char *situ_feed_change_target(situ_coll_id cid)
{
    const situ_collection *c = situ_schema_collection(cid);
    return c ? c->id : cid == SITU_FEED_CLOSURES ? "closures" : "";
}

situ_coll_id situ_feed_change_target_of(const char *name)
{
    const situ_collection *c = situ_schema_find(name);
    if (c)
        return c->cid;
    return name && !strcmp(name, "closures") ? SITU_FEED_CLOSURES : (situ_coll_id)-1;
}

void situ_feed_change_json(const situ_feed_change *c, situ_buf *out)
{
    situ_buf_adds(out, "{");
    if (c->seq)
        situ_buf_printf(out, "\"seq\":%lld,", c->seq);
    situ_buf_printf(out, "\"collection\":\"%s\",\"id\":", situ_feed_change_target(c->cid));
    situ_buf_add_json_str(out, c->id);
    situ_buf_printf(out, ",\"kind\":\"%s\"", situ_feed_change_kind_name(c->kind));
    if (c->dept)
        situ_buf_printf(out, ",\"dept\":\"%s\"", c->dept);
    if (c->at[0])
        situ_buf_printf(out, ",\"at\":\"%s\"", c->at);
    situ_buf_adds(out, ",\"bbox\":");
    add_box(out, c->bbox);
    if (c->has_old) {
        situ_buf_adds(out, ",\"old_bbox\":");
        add_box(out, c->old_bbox);
    }
    situ_buf_addc(out, '}');
}

static void event_json(const situ_feed_event *ev, int i, situ_buf *out)
{
    static const char *const names[] = {"pending", "accepted", "duplicate", "rejected"};
    situ_buf_printf(out, "%s{\"index\":%d,\"id\":", i ? "," : "", i);
    if (ev->id)
        situ_buf_add_json_str(out, ev->id);
    else
        situ_buf_adds(out, "null");
    situ_buf_printf(out, ",\"status\":\"%s\"", names[ev->status]);
    if (ev->status == SITU_FEED_REJECTED) {
        situ_buf_adds(out, ",\"field\":");
        situ_buf_add_json_str(out, ev->field);
        situ_buf_adds(out, ",\"reason\":");
        situ_buf_add_json_str(out, ev->reason);
    }
    if (ev->status == SITU_FEED_ACCEPTED) {
        situ_buf_printf(out, ",\"seq\":%lld,\"changes\":[", ev->seq);
        for (int k = 0; k < ev->nchanges; k++) {
            const situ_feed_change *c = &ev->changes[k];
            situ_buf_printf(out, "%s{\"collection\":\"%s\",\"id\":", k ? "," : "",
                            situ_feed_change_target(c->cid));
            situ_buf_add_json_str(out, c->id);
            situ_buf_printf(out, ",\"kind\":\"%s\"}", situ_feed_change_kind_name(c->kind));
        }
        situ_buf_addc(out, ']');
    }
    situ_buf_addc(out, '}');
}

void situ_feed_batch_json(const situ_feed_batch *b, situ_buf *out)
{
    int count[4] = {0};
    for (int i = 0; i < b->n; i++)
        count[b->ev[i].status]++;
    situ_buf_printf(out,
                    "{\"dept\":\"%s\",\"received_at\":\"%s\",\"events\":%d,\"accepted\":%d,"
                    "\"duplicate\":%d,\"rejected\":%d,\"results\":[",
                    b->dept, b->received_at, b->n, count[SITU_FEED_ACCEPTED],
                    count[SITU_FEED_DUPLICATE], count[SITU_FEED_REJECTED]);
    for (int i = 0; i < b->n; i++)
        event_json(&b->ev[i], i, out);
    situ_buf_adds(out, "]}\n");
}

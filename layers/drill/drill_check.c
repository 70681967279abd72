/*
 * drill_check.c: an inject as the feed body it becomes at its time, and the
 * validation of a scenario with the feeds' own parsers (feed.c, cap.c), so a
 * drill checks exactly what the real feeds check. Owns the scenario's time
 * rules (payload times are durations from the inject; a CAP document is
 * moved so that it is sent at the inject's time), event ids unique per
 * department, and, given a snapshot, the references into the store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "situ/cap.h"

#include "drill_int.h"

/* ---- the feed body -------------------------------------------------------------- */

void situ__drill_rfc3339(long long ms, char out[40])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    long long frac = ms - (long long)t * 1000;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(out + k, 40 - k, ".%03lldZ", frac);
    else
        snprintf(out + k, 40 - k, "Z");
}

typedef struct fault {
    char field[96];
    char reason[320];
} fault;

static int fail(fault *f, const char *field, const char *reason)
{
    snprintf(f->field, sizeof f->field, "%.90s", field);
    snprintf(f->reason, sizeof f->reason, "%.310s", reason);
    return SITU_EFORMAT;
}

/* Resolves the payload's time members: durations from at_ms; absolute
 * times refused (a scenario replays on any day). */
static int resolve_times(json_t *o, long long at_ms, const char *type, fault *f)
{
    char field[96], t[40];
    for (const char *const *m = situ__drill_time_members; *m; m++) {
        json_t *j = json_object_get(o, *m);
        const char *s = json_string_value(j);
        snprintf(field, sizeof field, "payload.%s", *m);
        if (!s)
            continue;
        long long ms;
        situ_err e = {0};
        if (strchr("Pp+-", s[0])) {
            if (situ_drill_duration(s, 1, &ms, &e))
                return fail(f, field, e.msg);
            situ__drill_rfc3339(at_ms + ms, t);
            json_object_set_new(o, *m, json_string(t));
        } else if (!situ_feed_time(s, t, NULL)) {
            return fail(f, field,
                        "is an absolute time: write a duration from the inject (PT6H, -PT10M) "
                        "or leave it out, so the scenario replays on any day");
        }
    }
    if (!json_object_get(o, "observed_at") &&
        (!strcmp(type, "observation") || !strcmp(type, "camera"))) {
        situ__drill_rfc3339(at_ms, t);
        json_object_set_new(o, "observed_at", json_string(t));
    }
    return 0;
}

static int event_body(const situ_drill_inject *in, long long at, situ_buf *out, fault *f)
{
    json_t *o = json_loads(in->payload, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return fail(f, "payload", "must be a JSON object: the feed event");
    }
    json_t *type = json_object_get(o, "type");
    int rc = 0;
    char why[160];
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), in->event_type))) {
        snprintf(why, sizeof why, "must be the inject's kind, %s, or left out", in->event_type);
        rc = fail(f, "payload.type", why);
    }
    if (!rc && !json_object_get(o, "id"))
        json_object_set_new(o, "id", json_string(in->id));
    json_object_set_new(o, "type", json_string(in->event_type));
    if (!rc)
        rc = resolve_times(o, at * 1000, in->event_type, f);
    json_t *body = json_pack("{s[O]}", "events", o);
    char *text = !rc && body ? situ__drill_dump(body, JSON_COMPACT) : NULL;
    if (!rc && !text)
        rc = fail(f, "payload", "out of memory");
    if (text)
        situ_buf_adds(out, text);
    free(text);
    json_decref(body);
    json_decref(o);
    return rc;
}

static int body_of(const situ_drill_inject *in, long long at, situ_buf *out, fault *f)
{
    if (in->kind == SITU_DRILL_NOTE || !in->kind || !in->payload || !in->dept)
        return fail(f, "kind", "a note (or a faulty inject) applies nothing"), SITU_EINVAL;
    if (in->kind == SITU_DRILL_EVENT)
        return event_body(in, at, out, f);
    situ_err e = {0};
    if (situ_cap_shift_times(in->payload, strlen(in->payload), at, out, &e))
        return fail(f, "payload", e.msg);
    return 0;
}

int situ_drill_inject_body(const situ_drill_inject *in, long long at, situ_buf *out, situ_err *err)
{
    fault f;
    int rc = body_of(in, at, out, &f);
    return rc ? situ_err_set(err, rc, "inject %s: %s: %s", in->id ? in->id : "", f.field, f.reason)
              : 0;
}

/* The body parsed at scenario time at (seconds), as its feed would then. */
static int parse_body(const situ_drill_inject *in, const situ_buf *body, long long at,
                      const situ_coll *townships, situ_feed_batch **out, situ_err *err)
{
    return in->kind == SITU_DRILL_CAP
               ? situ_cap_parse_exercise_at(in->dept, body->p, body->n, townships, at, out, err)
               : situ_feed_parse_at(in->dept, body->p, body->n, at, out, err);
}

int situ_drill_inject_batch(const situ_drill_inject *in, long long at, const situ_coll *townships,
                            situ_feed_batch **out_batch, situ_err *err)
{
    situ_buf body;
    situ_buf_init(&body);
    int rc = situ_drill_inject_body(in, at, &body, err);
    if (!rc && body.oom)
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc)
        rc = parse_body(in, &body, at, townships, out_batch, err);
    situ_buf_dispose(&body);
    return rc;
}

/* ---- checking --------------------------------------------------------------------- */

typedef struct checker {
    situ_drill_scenario *s;
    const situ_snapshot *snap;
    const situ_drill_inject *in;
    char **keys; /* "dept\x1fevent id", and "dept:station" of stations made */
    size_t nkeys, capkeys;
    char **stations;
    size_t nstations, capstations;
    int oom;
} checker;

static void add_fault(checker *c, const char *field, const char *reason)
{
    c->oom |= situ__drill_fault(c->s, c->in->index, c->in->id, field, "%s", reason) != 0;
}

/* Adds "a<sep>b" to a list unless it holds it; 1 when it did already. */
static int remember(checker *c, char ***list, size_t *n, size_t *cap, const char *a, char sep,
                    const char *b)
{
    char key[3 * SITU_FEED_ID_MAX];
    snprintf(key, sizeof key, "%s%c%s", a, sep, b);
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], key))
            return 1;
    char *k = strdup(key);
    if (!k || situ_array_grow((void **)list, cap, *n, 1, sizeof **list)) {
        free(k);
        c->oom = 1;
        return 0;
    }
    (*list)[(*n)++] = k;
    return 0;
}

static int made_here(const checker *c, const char *id)
{
    char key[3 * SITU_FEED_ID_MAX];
    snprintf(key, sizeof key, "%s:%s", c->in->dept, id);
    for (size_t i = 0; i < c->nstations; i++)
        if (!strcmp(c->stations[i], key))
            return 1;
    return 0;
}

/* A CAP parser's message "<status> is Actual: ..." names its field. */
static void cap_fault(checker *c, const char *msg)
{
    char field[96] = "payload", reason[320];
    const char *gt = msg[0] == '<' ? strchr(msg, '>') : NULL;
    if (gt && gt - msg < 60)
        snprintf(field, sizeof field, "payload.%.*s", (int)(gt - msg - 1), msg + 1);
    if (c->in->payload_file)
        snprintf(reason, sizeof reason, "in %.60s: %.250s", c->in->payload_file, msg);
    else
        snprintf(reason, sizeof reason, "%.310s", msg);
    add_fault(c, field, reason);
}

static const char *text_value(const situ_coll *coll, const situ_feature *f, const char *name)
{
    int i = situ_schema_field_index(coll->c, name);
    return i >= 0 && f->values[i].type == SITU_FT_TEXT ? f->values[i].u.s : NULL;
}

/* The department's station S in the store: "D:S", or S loaded with dept D. */
static const situ_feature *store_station(const situ_snapshot *snap, const char *dept,
                                         const char *id)
{
    const situ_coll *st = snap->colls[SITU_C_STATIONS];
    char key[3 * SITU_FEED_ID_MAX];
    snprintf(key, sizeof key, "%s:%s", dept, id);
    long i = situ_coll_find(st, key);
    if (i < 0 && (i = situ_coll_find(st, id)) >= 0) {
        const char *d = text_value(st, &st->feats[i], "dept");
        i = d && !strcmp(d, dept) ? i : -1;
    }
    return i >= 0 ? &st->feats[i] : NULL;
}

static void check_station_ref(checker *c, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *id = json_string_value(json_object_get(ev, "station"));
    int located = json_object_get(ev, "lon") && json_object_get(ev, "lat");
    char msg[320];
    if (!id)
        return;
    if (located || !strcmp(type, "station")) { /* makes (or moves) it */
        remember(c, &c->stations, &c->nstations, &c->capstations, c->in->dept, ':', id);
        return;
    }
    if (made_here(c, id))
        return;
    const situ_feature *f = store_station(c->snap, c->in->dept, id);
    const char *kind = f ? text_value(c->snap->colls[SITU_C_STATIONS], f, "kind") : NULL;
    if (!f) {
        snprintf(msg, sizeof msg,
                 "%s has no station '%s' in the store (another department's is out of reach; "
                 "give lon and lat to create one)",
                 c->in->dept, id);
        add_fault(c, "payload.station", msg);
    } else if (!strcmp(type, "camera") && kind && strcmp(kind, "camera")) {
        snprintf(msg, sizeof msg, "'%s' is a %s, not a camera", id, kind);
        add_fault(c, "payload.station", msg);
    }
}

/* What the event names in the store: a feature to update, a station. */
static void check_refs(checker *c, const situ_buf *body)
{
    json_t *root = json_loadb(body->p, body->n, 0, NULL);
    json_t *ev = json_array_get(json_object_get(root, "events"), 0);
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type &&
        (!strcmp(type, "observation") || !strcmp(type, "camera") || !strcmp(type, "station")))
        check_station_ref(c, ev);
    const situ_collection *coll =
        type && !strcmp(type, "feature_update")
            ? situ_schema_find(json_string_value(json_object_get(ev, "collection")))
            : NULL;
    const char *fid = json_string_value(json_object_get(ev, "feature_id"));
    if (coll && fid && situ_coll_find(c->snap->colls[coll->cid], fid) < 0) {
        char msg[320];
        snprintf(msg, sizeof msg, "no %s feature '%s' in the store", coll->id, fid);
        add_fault(c, "payload.feature_id", msg);
    }
    json_decref(root);
}

static void check_inject(checker *c, long long now)
{
    const situ_drill_inject *in = c->in;
    situ_buf body;
    situ_buf_init(&body);
    fault f;
    situ_feed_batch *b = NULL;
    situ_err e = {0};
    const situ_coll *towns = c->snap ? c->snap->colls[SITU_C_TOWNSHIPS] : NULL;
    if (body_of(in, now, &body, &f)) {
        add_fault(c, f.field, f.reason);
    } else if (body.oom) {
        c->oom = 1;
    } else if (parse_body(in, &body, now, towns, &b, &e)) {
        if (e.code == SITU_ENOMEM)
            c->oom = 1;
        else if (in->kind == SITU_DRILL_CAP)
            cap_fault(c, e.msg);
        else
            add_fault(c, "payload", e.msg);
    } else if (b->ev[0].status == SITU_FEED_REJECTED) {
        char field[96];
        snprintf(field, sizeof field, "payload%s%.80s", b->ev[0].field[0] ? "." : "",
                 b->ev[0].field);
        add_fault(c, field, b->ev[0].reason);
    } else {
        if (remember(c, &c->keys, &c->nkeys, &c->capkeys, in->dept, '\x1f', b->ev[0].id)) {
            char msg[320];
            snprintf(msg, sizeof msg,
                     "%s sends event id '%.128s' in an earlier inject too: the feed would take "
                     "this one as a duplicate",
                     in->dept, b->ev[0].id);
            add_fault(c, in->kind == SITU_DRILL_CAP ? "payload.identifier" : "payload.id", msg);
        }
        if (c->snap && in->kind == SITU_DRILL_EVENT)
            check_refs(c, &body);
    }
    situ_feed_batch_free(b);
    situ_buf_dispose(&body);
}

static void check_area(checker *c)
{
    for (int i = 0; c->snap && i < c->s->narea; i++)
        if (strlen(c->s->area[i]) == 9 && !situ_snapshot_township(c->snap, c->s->area[i])) {
            char field[32];
            snprintf(field, sizeof field, "area[%d]", i);
            c->oom |= situ__drill_fault(c->s, -1, NULL, field,
                                        "'%s' names no township in the store", c->s->area[i]) != 0;
        }
}

int situ_drill_check(situ_drill_scenario *s, const situ_snapshot *snap, situ_err *err)
{
    checker c = {.s = s, .snap = snap};
    long long now = (long long)time(NULL);
    check_area(&c);
    for (int i = 0; i < s->n && !c.oom; i++) {
        c.in = &s->injects[i];
        if (c.in->kind && c.in->kind != SITU_DRILL_NOTE && c.in->payload && c.in->dept)
            check_inject(&c, now);
    }
    for (size_t i = 0; i < c.nkeys; i++)
        free(c.keys[i]);
    for (size_t i = 0; i < c.nstations; i++)
        free(c.stations[i]);
    free(c.keys);
    free(c.stations);
    return c.oom ? situ_err_set(err, SITU_ENOMEM, "out of memory") : 0;
}

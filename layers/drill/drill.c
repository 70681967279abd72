/*
 * drill.c: the scenario model (see situ/drill.h). Owns ISO 8601 durations,
 * the JSON scenario reader (every member checked, unknown ones refused so a
 * misspelt one is seen; faults collected, not stopped at), payload files
 * relative to the scenario, the (offset, id) order, the scenario's memory
 * and writing it back as JSON. Validating payloads is drill_check.c; the
 * CSV form is drill_csv.c; the clock is drill_sched.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "drill_int.h"

const char *const situ__drill_time_members[] = {"observed_at", "onset", "expires", "until", NULL};

/* ---- memory --------------------------------------------------------------------- */

typedef struct drill_priv {
    char **strs;
    size_t n, cap;
    size_t capfaults, capinjects;
} drill_priv;

situ_drill_scenario *situ__drill_new(void)
{
    situ_drill_scenario *s = calloc(1, sizeof *s);
    if (s && !(s->priv = calloc(1, sizeof(drill_priv))))
        free(s), s = NULL;
    return s;
}

const char *situ__drill_keep(situ_drill_scenario *s, char *p)
{
    drill_priv *pv = s->priv;
    if (!p || situ_array_grow((void **)&pv->strs, &pv->cap, pv->n, 1, sizeof *pv->strs)) {
        free(p);
        return NULL;
    }
    return pv->strs[pv->n++] = p;
}

const char *situ__drill_dup(situ_drill_scenario *s, const char *p, size_t n)
{
    char *c = p ? malloc(n + 1) : NULL;
    if (!c)
        return NULL;
    memcpy(c, p, n);
    c[n] = '\0';
    return situ__drill_keep(s, c);
}

int situ__drill_fault(situ_drill_scenario *s, int index, const char *inject, const char *field,
                      const char *fmt, ...)
{
    drill_priv *pv = s->priv;
    if (situ_array_grow((void **)&s->faults, &pv->capfaults, (size_t)s->nfaults, 1,
                        sizeof *s->faults))
        return SITU_ENOMEM;
    situ_drill_fault *f = &s->faults[s->nfaults++];
    f->index = index;
    snprintf(f->inject, sizeof f->inject, "%s", inject ? inject : "");
    snprintf(f->field, sizeof f->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
    return 0;
}

void situ_drill_free(situ_drill_scenario *s)
{
    if (!s)
        return;
    drill_priv *pv = s->priv;
    for (size_t i = 0; pv && i < pv->n; i++)
        free(pv->strs[i]);
    if (pv)
        free(pv->strs);
    free(pv);
    free(s->objectives);
    free(s->area);
    free(s->injects);
    free(s->faults);
    free(s);
}

/* ---- durations ------------------------------------------------------------------ */

/* One "n[.fff]X" component: its value in ms for unit X (ms per unit). */
static int duration_part(const char **pp, int frac_ok, long long *out_units, long long *out_frac_ms,
                         char *out_unit)
{
    const char *p = *pp;
    long long v = 0;
    int nd = 0;
    for (; isdigit((unsigned char)*p); p++, nd++)
        if ((v = v * 10 + (*p - '0')) > 1000000000LL)
            return -1;
    if (!nd)
        return -1;
    long long frac = 0;
    if (*p == '.' || *p == ',') {
        if (!frac_ok || !isdigit((unsigned char)p[1]))
            return -1;
        long long scale = 1000000000LL, ns = 0;
        for (p++; isdigit((unsigned char)*p); p++)
            if ((scale /= 10) > 0)
                ns += (*p - '0') * scale;
        frac = (ns + 500000) / 1000000; /* to the nearest millisecond */
        if (!isalpha((unsigned char)*p) || toupper((unsigned char)*p) != 'S')
            return -1;
    }
    if (!isalpha((unsigned char)*p))
        return -1;
    *out_unit = (char)toupper((unsigned char)*p);
    *out_units = v;
    *out_frac_ms = frac;
    *pp = p + 1;
    return 0;
}

int situ_drill_duration(const char *s, int signed_ok, long long *out_ms, situ_err *err)
{
    static const char date_units[] = "WD", time_units[] = "HMS";
    static const long long date_ms[] = {7 * 86400000LL, 86400000LL};
    static const long long time_ms[] = {3600000LL, 60000LL, 1000LL};
    const char *p = s ? s : "";
    int neg = 0, nparts = 0, in_time = 0, last = -1;
    long long ms = 0;
    if (*p == '-' || *p == '+') {
        if (!signed_ok)
            goto bad;
        neg = *p++ == '-';
    }
    if (toupper((unsigned char)*p++) != 'P')
        goto bad;
    while (*p) {
        if (toupper((unsigned char)*p) == 'T') {
            if (in_time || !p[1])
                goto bad;
            in_time = 1, last = -1, p++;
            continue;
        }
        long long v, frac;
        char unit;
        if (duration_part(&p, in_time, &v, &frac, &unit))
            goto bad;
        const char *units = in_time ? time_units : date_units;
        const char *u = strchr(units, unit);
        if ((unit == 'Y' || unit == 'M') && !in_time)
            return situ_err_set(err, SITU_EFORMAT,
                                "duration '%.40s': years and months vary in length; write days "
                                "(P1D) or hours (PT6H)",
                                s);
        if (!u || (int)(u - units) <= last || (frac && unit != 'S'))
            goto bad;
        if (!in_time && unit == 'W' && *p)
            goto bad; /* weeks stand alone */
        last = (int)(u - units);
        ms += v * (in_time ? time_ms[last] : date_ms[last]) + frac;
        if (ms > SITU_DRILL_MAX_OFFSET_MS)
            return situ_err_set(err, SITU_EFORMAT, "duration '%.40s' is longer than 366 days", s);
        nparts++;
    }
    if (!nparts || (in_time && last < 0))
        goto bad;
    *out_ms = neg ? -ms : ms;
    return 0;
bad:
    return situ_err_set(err, SITU_EFORMAT,
                        "'%.40s' is not an ISO 8601 duration such as PT30M, PT1H30M, P1DT2H or "
                        "PT0.5S%s",
                        s ? s : "", signed_ok ? " (a leading - for before)" : "");
}

void situ_drill_duration_format(long long ms, char out[48])
{
    char *o = out;
    if (ms < 0)
        *o++ = '-', ms = -ms;
    long long d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60, sec = ms / 1000 % 60,
              f = ms % 1000;
    o += sprintf(o, "P");
    if (d)
        o += sprintf(o, "%lldD", d);
    if (h || m || sec || f || !d)
        o += sprintf(o, "T");
    if (h)
        o += sprintf(o, "%lldH", h);
    if (m)
        o += sprintf(o, "%lldM", m);
    if (f)
        o += sprintf(o, "%lld.%03lldS", sec, f);
    else if (sec || (!d && !h && !m))
        o += sprintf(o, "%lldS", sec);
}

int situ_drill_speed_parse(const char *s, int *out_speed, situ_err *err)
{
    char *end;
    if (s && !strcmp(s, "max"))
        return *out_speed = SITU_DRILL_SPEED_MAX, 0;
    long v = s && isdigit((unsigned char)*s) ? strtol(s, &end, 10) : 0;
    if (!v || *end || v < 1 || v > 60)
        return situ_err_set(err, SITU_EINVAL, "speed '%.20s' must be 1 to 60, or max", s ? s : "");
    *out_speed = (int)v;
    return 0;
}

/* ---- JSON text ------------------------------------------------------------------- */

char *situ__drill_dump(const json_t *j, size_t flags)
{
    char *text = json_dumps(j, flags | JSON_REAL_PRECISION(15));
    json_t *back = text ? json_loads(text, 0, NULL) : NULL;
    int same = back && json_equal(back, (json_t *)j);
    json_decref(back);
    if (same)
        return text;
    free(text);
    return json_dumps(j, flags);
}

/* ---- departments ----------------------------------------------------------------- */

const char *situ__drill_dept(const char *name)
{
    for (int i = 0; name && i < situ_schema_ndepts(); i++)
        if (!strcmp(situ_schema_dept(i)->code, name) || !strcmp(situ_schema_dept(i)->name_zh, name))
            return situ_schema_dept(i)->code;
    return NULL;
}

/* ---- files ------------------------------------------------------------------------ */

char *situ__drill_slurp(const char *path, size_t *out_n, situ_err *err)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    char *p = NULL;
    if (!f)
        return situ_err_set(err, errno == ENOENT ? SITU_ENOTFOUND : SITU_EIO, "%s: %s", path,
                            strerror(errno)),
               NULL;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode))
        situ_err_set(err, SITU_EIO, "%s: not a file", path);
    else if ((unsigned long long)sb.st_size > SITU_DRILL_MAX_FILE)
        situ_err_set(err, SITU_ELIMIT, "%s: over %u bytes", path, SITU_DRILL_MAX_FILE);
    else if (!(p = malloc((size_t)sb.st_size + 1)))
        situ_err_set(err, SITU_ENOMEM, "out of memory");
    else if (fread(p, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size) {
        situ_err_set(err, SITU_EIO, "%s: cannot read", path);
        free(p), p = NULL;
    }
    fclose(f);
    if (p) {
        p[sb.st_size] = '\0';
        *out_n = (size_t)sb.st_size;
    }
    return p;
}

/* ---- the JSON reader --------------------------------------------------------------- */

typedef struct rctx {
    situ_drill_scenario *s;
    const char *base_dir;
    int index;          /* inject, or -1 */
    const char *inject; /* its id, or NULL */
    int oom;
} rctx;

/* Records a fault of the current inject (or the scenario); returns -1. */
__attribute__((format(printf, 3, 4))) static int fault(rctx *r, const char *field, const char *fmt,
                                                       ...)
{
    char reason[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    r->oom |= situ__drill_fault(r->s, r->index, r->inject, field, "%s", reason) != 0;
    return -1;
}

static int bad_text(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r') || *p == 0x7f)
            return 1;
    return 0;
}

/* A string member of 1..max bytes without control characters (lines may
 * break in a long text); NULL with a fault when it is not. */
static const char *get_str(rctx *r, json_t *obj, const char *name, int required, size_t max)
{
    json_t *j = json_object_get(obj, name);
    if (!j || json_is_null(j)) {
        if (required)
            fault(r, name, "is required");
        return NULL;
    }
    if (!json_is_string(j) || json_string_length(j) == 0 || json_string_length(j) > max ||
        strlen(json_string_value(j)) != json_string_length(j)) {
        fault(r, name, "must be a string of 1 to %zu bytes", max);
        return NULL;
    }
    if (bad_text(json_string_value(j)) || (max <= 500 && strpbrk(json_string_value(j), "\r\n"))) {
        fault(r, name, "must not hold control characters");
        return NULL;
    }
    const char *c = situ__drill_dup(r->s, json_string_value(j), json_string_length(j));
    r->oom |= !c;
    return c;
}

static int check_members(rctx *r, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key))
            a++;
        if (!*a)
            fault(r, *key ? key : "\"\"", "is not a member of %s",
                  r->index < 0 ? "a scenario" : "an inject");
    }
    return 0;
}

/* An array of 1..max strings (each as get_str) into *out, *out_n. */
static int get_list(rctx *r, json_t *obj, const char *name, int required, int max,
                    const char ***out, int *out_n)
{
    json_t *a = json_object_get(obj, name);
    if (!a || json_is_null(a))
        return required ? fault(r, name, "is required") : 0;
    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > (size_t)max)
        return fault(r, name, "must be an array of 1 to %d strings", max);
    if (!(*out = calloc(json_array_size(a), sizeof **out)))
        return r->oom = 1, -1;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        char path[64];
        snprintf(path, sizeof path, "%s[%zu]", name, i);
        json_t *wrap = json_pack("{sO}", path, v);
        const char *sv = wrap ? get_str(r, wrap, path, 1, 2000) : NULL;
        json_decref(wrap);
        if (sv)
            (*out)[(*out_n)++] = sv;
    }
    return 0;
}

static int read_area(rctx *r, json_t *root)
{
    situ_drill_scenario *s = r->s;
    if (get_list(r, root, "area", 1, 1000, &s->area, &s->narea))
        return -1;
    for (int i = 0; i < s->narea; i++) {
        const char *c = s->area[i];
        if (strlen(c) != 9 || strspn(c, "0123456789") != 9) {
            char path[32];
            snprintf(path, sizeof path, "area[%d]", i);
            fault(r, path, "'%.20s' is not a 9-digit township code", c);
        }
    }
    return 0;
}

/* The inject kinds: the feed event types, a CAP document and a note. */
static const struct kind_name {
    const char *name;
    situ_drill_kind kind;
} kinds[] = {
    {"observation", SITU_DRILL_EVENT},
    {"camera", SITU_DRILL_EVENT},
    {"feature_update", SITU_DRILL_EVENT},
    {"alert", SITU_DRILL_EVENT},
    {"station", SITU_DRILL_EVENT},
    {"closure", SITU_DRILL_EVENT},
    {"closure_end", SITU_DRILL_EVENT},
    {"cap", SITU_DRILL_CAP},
    {"note", SITU_DRILL_NOTE},
};

/* A relative path inside the scenario's folder, read. */
static char *read_payload_file(rctx *r, const char *rel, size_t *out_n)
{
    situ_err e = {0};
    if (!r->base_dir)
        return fault(r, "payload_file", "payload files are not taken here: give the payload"), NULL;
    if (rel[0] == '/' || !strcmp(rel, "..") || !strncmp(rel, "../", 3) || strstr(rel, "/../") ||
        (strlen(rel) >= 3 && !strcmp(rel + strlen(rel) - 3, "/..")))
        return fault(r, "payload_file", "'%.80s' must be a path inside the scenario's folder", rel),
               NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", r->base_dir, rel);
    char *p = situ__drill_slurp(path, out_n, &e);
    if (!p)
        fault(r, "payload_file", "%s", e.msg);
    return p;
}

/* An event payload: an object, or text holding one; kept as compact JSON. */
static const char *event_payload(rctx *r, json_t *j, const char *text, const char *field)
{
    json_error_t je;
    json_t *own = NULL;
    if (text) {
        if (!(own = json_loads(text, JSON_REJECT_DUPLICATES, &je)))
            return fault(r, field, "malformed JSON at line %d, column %d: %s", je.line, je.column,
                         je.text),
                   NULL;
        j = own;
    }
    const char *out = NULL;
    if (!json_is_object(j))
        fault(r, field, "must be a JSON object: the feed event");
    else if (!(out = situ__drill_keep(r->s, situ__drill_dump(j, JSON_COMPACT))))
        r->oom = 1;
    json_decref(own);
    return out;
}

static void read_payload(rctx *r, json_t *obj, situ_drill_inject *in)
{
    json_t *j = json_object_get(obj, "payload");
    in->payload_file = get_str(r, obj, "payload_file", 0, 1024);
    if (j && in->payload_file) {
        fault(r, "payload", "give payload or payload_file, not both");
        return;
    }
    if (!j && !in->payload_file) {
        fault(r, "payload", "is required (or payload_file)");
        return;
    }
    size_t n = 0;
    char *file = in->payload_file ? read_payload_file(r, in->payload_file, &n) : NULL;
    const char *field = in->payload_file ? "payload_file" : "payload";
    if (in->payload_file && !file)
        return;
    if (file && (strlen(file) != n || !situ_utf8_valid(file)))
        fault(r, field, "the file is not UTF-8 text");
    else if (in->kind == SITU_DRILL_EVENT)
        in->payload = event_payload(r, j, file ? file : json_string_value(j), field);
    else if (!file && (!json_is_string(j) || json_string_length(j) == 0))
        fault(r, field, "must be %s",
              in->kind == SITU_DRILL_CAP ? "the CAP 1.2 XML as a string" : "the note's text");
    else if (file)
        in->payload = situ__drill_dup(r->s, file, n);
    else
        in->payload = get_str(r, obj, "payload", 1, SITU_DRILL_MAX_FILE);
    free(file);
}

static void read_inject(rctx *r, json_t *obj, situ_drill_inject *in)
{
    static const char *const members[] = {
        "id", "offset", "dept", "kind", "payload", "payload_file", "expected_action", NULL};
    if (!json_is_object(obj)) {
        fault(r, "", "an inject must be a JSON object");
        return;
    }
    in->id = r->inject = get_str(r, obj, "id", 1, SITU_FEED_ID_MAX);
    check_members(r, obj, members);
    const char *off = get_str(r, obj, "offset", 1, 64), *dept = get_str(r, obj, "dept", 1, 64);
    const char *kind = get_str(r, obj, "kind", 1, 32);
    situ_err e = {0};
    if (off && situ_drill_duration(off, 0, &in->offset_ms, &e))
        fault(r, "offset", "%s", e.msg);
    if (dept && !(in->dept = situ__drill_dept(dept)))
        fault(r, "dept",
              "'%.40s' is not a department code (meteorology, water_resources, ...) "
              "or name (气象局, ...)",
              dept);
    for (size_t k = 0; kind && k < sizeof kinds / sizeof kinds[0]; k++)
        if (!strcmp(kinds[k].name, kind))
            in->kind = kinds[k].kind, in->event_type = kinds[k].name;
    if (kind && !in->kind)
        fault(r, "kind",
              "must be observation, camera, station, feature_update, alert, closure, "
              "closure_end, cap or note");
    in->expected = get_str(r, obj, "expected_action", 0, 4000);
    if (in->kind)
        read_payload(r, obj, in);
}

static int inject_order(const void *pa, const void *pb)
{
    const situ_drill_inject *a = pa, *b = pb;
    if (a->offset_ms != b->offset_ms)
        return a->offset_ms < b->offset_ms ? -1 : 1;
    int c = strcmp(a->id ? a->id : "", b->id ? b->id : "");
    return c ? c : a->index - b->index;
}

static int by_id(const void *pa, const void *pb)
{
    const situ_drill_inject *a = *(const situ_drill_inject *const *)pa;
    const situ_drill_inject *b = *(const situ_drill_inject *const *)pb;
    int c = strcmp(a->id, b->id);
    return c ? c : a->index - b->index;
}

/* A fault on every inject whose id an earlier one (in the file) holds. */
static void unique_ids(rctx *r)
{
    situ_drill_scenario *s = r->s;
    const situ_drill_inject **v = calloc((size_t)s->n + 1, sizeof *v);
    int n = 0;
    if (!v) {
        r->oom = 1;
        return;
    }
    for (int i = 0; i < s->n; i++)
        if (s->injects[i].id)
            v[n++] = &s->injects[i];
    qsort(v, (size_t)n, sizeof *v, by_id);
    for (int i = 1; i < n; i++)
        if (!strcmp(v[i]->id, v[i - 1]->id)) {
            r->index = v[i]->index, r->inject = v[i]->id;
            fault(r, "id", "is the id of inject %d too: ids must be unique", v[i - 1]->index);
        }
    free(v);
}

int situ__drill_from_json(json_t *root, const char *base_dir, situ_drill_scenario **out,
                          situ_err *err)
{
    static const char *const members[] = {"exercise_id", "title",   "objectives",
                                          "area",        "injects", NULL};
    json_t *injects = json_object_get(root, "injects");
    if (!json_is_object(root))
        return situ_err_set(err, SITU_EFORMAT, "a scenario must be a JSON object");
    if (json_array_size(injects) > SITU_DRILL_MAX_INJECTS)
        return situ_err_set(err, SITU_ELIMIT, "%zu injects; the limit is %d",
                            json_array_size(injects), SITU_DRILL_MAX_INJECTS);
    situ_drill_scenario *s = situ__drill_new();
    if (!s)
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    rctx r = {s, base_dir, -1, NULL, 0};
    check_members(&r, root, members);
    s->exercise_id = get_str(&r, root, "exercise_id", 1, SITU_FEED_ID_MAX);
    s->title = get_str(&r, root, "title", 1, 500);
    get_list(&r, root, "objectives", 0, 100, &s->objectives, &s->nobjectives);
    read_area(&r, root);
    if (!json_is_array(injects) || json_array_size(injects) == 0)
        fault(&r, "injects", "must be an array of 1 to %d injects", SITU_DRILL_MAX_INJECTS);
    size_t n = json_array_size(injects);
    if (n && !(s->injects = calloc(n, sizeof *s->injects)))
        r.oom = 1;
    for (size_t i = 0; s->injects && i < n; i++) {
        situ_drill_inject *in = &s->injects[s->n++];
        in->index = r.index = (int)i;
        r.inject = NULL;
        read_inject(&r, json_array_get(injects, i), in);
    }
    if (s->n)
        qsort(s->injects, (size_t)s->n, sizeof *s->injects, inject_order);
    unique_ids(&r);
    if (r.oom) {
        situ_drill_free(s);
        return situ_err_set(err, SITU_ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

int situ_drill_parse(const char *text, size_t n, const char *base_dir, situ_drill_scenario **out,
                     situ_err *err)
{
    json_error_t je;
    size_t bom = n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    json_t *root = json_loadb(text + bom, n - bom, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return situ_err_set(err, SITU_EFORMAT, "malformed JSON at line %d, column %d: %s", je.line,
                            je.column, je.text);
    int rc = situ__drill_from_json(root, base_dir, out, err);
    json_decref(root);
    return rc;
}

int situ_drill_load(const char *path, const situ_drill_csv_opts *o, situ_drill_scenario **out,
                    int *out_gbk, situ_err *err)
{
    size_t n, len = strlen(path);
    char *text = situ__drill_slurp(path, &n, err), dir[4096];
    if (!text)
        return err ? err->code : SITU_EIO;
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash == path)
        snprintf(dir, sizeof dir, "/");
    static const situ_drill_csv_opts none = {0};
    int rc = len >= 4 && !strcasecmp(path + len - 4, ".csv")
                 ? situ_drill_import_csv(text, n, dir, o ? o : &none, out, out_gbk, err)
                 : situ_drill_parse(text, n, dir, out, err);
    free(text);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------ */

static json_t *inject_json(const situ_drill_inject *in)
{
    char off[48];
    situ_drill_duration_format(in->offset_ms, off);
    json_t *o = json_pack("{ss? ss ss? ss?}", "id", in->id, "offset", off, "dept", in->dept, "kind",
                          in->event_type);
    json_t *p =
        in->kind == SITU_DRILL_EVENT ? json_loads(in->payload, 0, NULL) : json_string(in->payload);
    json_object_set_new(o, "payload", p ? p : json_null());
    if (in->expected)
        json_object_set_new(o, "expected_action", json_string(in->expected));
    return o;
}

static json_t *list_json(const char *const *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

void situ_drill_json(const situ_drill_scenario *s, situ_buf *out)
{
    json_t *root = json_pack("{ss? ss?}", "exercise_id", s->exercise_id, "title", s->title);
    json_t *injects = json_array();
    if (s->nobjectives)
        json_object_set_new(root, "objectives", list_json(s->objectives, s->nobjectives));
    json_object_set_new(root, "area", list_json(s->area, s->narea));
    for (int i = 0; i < s->n; i++)
        json_array_append_new(injects, inject_json(&s->injects[i]));
    json_object_set_new(root, "injects", injects);
    char *text = situ__drill_dump(root, JSON_INDENT(2));
    if (text) {
        situ_buf_adds(out, text);
        situ_buf_addc(out, '\n');
    } else {
        out->oom = 1;
    }
    free(text);
    json_decref(root);
}

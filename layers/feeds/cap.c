/*
 * cap.c: CAP 1.2 -> one alert event (see situ/cap.h for the mapping). Owns
 * the safe libxml2 parse (a DOCTYPE or ENTITY is refused before libxml2
 * sees the bytes; NONET; entities are never substituted and no DTD is
 * loaded), the element walk, and the area geometry: CAP writes "lat,lon",
 * GeoJSON and WKB "lon,lat", so every pair is swapped here. Applying the
 * alert, Update and Cancel is feed_apply.c's, shared with JSON alerts.
 */
#define _GNU_SOURCE /* memmem, strcasestr */
#include "situ/cap.h"

#include <ctype.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "feed_int.h"

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"

typedef struct cap_doc {
    situ_feed_batch *b;
    situ_feed_event *ev;
    feed_alert *a;
    const situ_coll *townships;
    const char *status; /* the one <status> taken: Actual, or Exercise in a drill */
    situ__mpoly area;
    situ_err *err;
} cap_doc;

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
    xmlInitParser();
}

static int is_cap(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           !strcmp((const char *)n->ns->href, CAP_NS) && !strcmp((const char *)n->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_cap(c, name))
            return c;
    return NULL;
}

static xmlNodePtr next_named(xmlNodePtr n, const char *name)
{
    for (n = n ? n->next : NULL; n; n = n->next)
        if (is_cap(n, name))
            return n;
    return NULL;
}

/* The trimmed text of element n, copied into the batch; NULL if empty. */
static const char *node_text(cap_doc *d, xmlNodePtr n)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    if (!t)
        return NULL;
    const char *s = (const char *)t, *e = s + strlen(s);
    while (isspace((unsigned char)*s))
        s++;
    while (e > s && isspace((unsigned char)e[-1]))
        e--;
    const char *out = e > s ? situ__feed_memdup(d->b, s, (size_t)(e - s)) : NULL;
    xmlFree(t);
    return out;
}

/* Text of the first child `name` of parent, at most max bytes; a missing
 * required one is an error naming it. */
static int text_of(cap_doc *d, xmlNodePtr parent, const char *name, int required, size_t max,
                   const char **out)
{
    *out = node_text(d, child(parent, name));
    if (!*out && required)
        return situ_err_set(d->err, SITU_EFORMAT, "<%s> is missing from <%s>", name,
                            (const char *)parent->name);
    if (*out && strlen(*out) > max)
        return situ_err_set(d->err, SITU_EFORMAT, "<%s> is longer than %zu bytes", name, max);
    return 0;
}

static int time_of(cap_doc *d, xmlNodePtr parent, const char *name, int required, char out[32])
{
    const char *s;
    out[0] = '\0';
    if (text_of(d, parent, name, required, 64, &s))
        return SITU_EFORMAT;
    if (s && situ_feed_time(s, out, NULL))
        return situ_err_set(d->err, SITU_EFORMAT, "<%s> '%s' is not a CAP date-time", name, s);
    return 0;
}

/* ---- the <alert> --------------------------------------------------------------- */

static int one_of(const char *v, const char *const *allowed)
{
    for (; v && *allowed; allowed++)
        if (!strcmp(v, *allowed))
            return 1;
    return 0;
}

/* references: "sender,identifier,sent" triplets separated by spaces. */
static int read_references(cap_doc *d, xmlNodePtr root)
{
    const char *refs;
    if (text_of(d, root, "references", 1, 16384, &refs))
        return SITU_EFORMAT;
    const char *ids[16];
    int n = 0;
    for (const char *p = refs; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        const char *end = p;
        while (*end && !isspace((unsigned char)*end))
            end++;
        if (end == p)
            break;
        const char *c1 = memchr(p, ',', (size_t)(end - p));
        const char *c2 = c1 ? memchr(c1 + 1, ',', (size_t)(end - c1 - 1)) : NULL;
        if (!c2 || c2 == c1 + 1 || n == 16 || c2 - c1 - 1 > SITU_FEED_ID_MAX)
            return situ_err_set(d->err, SITU_EFORMAT,
                                "<references> must be up to 16 sender,identifier,sent triplets");
        char id[2 * SITU_FEED_ID_MAX];
        snprintf(id, sizeof id, "%s:%.*s", d->b->dept, (int)(c2 - c1 - 1), c1 + 1);
        ids[n++] = situ__feed_strdup(d->b, id);
        p = end;
    }
    if (!n)
        return situ_err_set(d->err, SITU_EFORMAT, "<references> is empty");
    d->a->refs = situ__feed_alloc(d->b, (size_t)n * sizeof *d->a->refs);
    if (!d->a->refs)
        return situ_err_set(d->err, SITU_ENOMEM, "out of memory");
    memcpy(d->a->refs, ids, (size_t)n * sizeof *ids);
    d->a->nrefs = n;
    return 0;
}

static int read_header(cap_doc *d, xmlNodePtr root)
{
    static const char *const statuses[] = {"Actual", "Exercise", "System", "Test", "Draft", NULL};
    static const char *const types[] = {"Alert", "Update", "Cancel", "Ack", "Error", NULL};
    const char *id, *sender, *status, *msg;
    char sent[32];
    if (text_of(d, root, "identifier", 1, SITU_FEED_ID_MAX, &id) ||
        text_of(d, root, "sender", 1, 256, &sender) || time_of(d, root, "sent", 1, sent) ||
        text_of(d, root, "status", 1, 16, &status) || text_of(d, root, "msgType", 1, 16, &msg))
        return SITU_EFORMAT;
    if (strpbrk(id, " \t\r\n,<&"))
        return situ_err_set(d->err, SITU_EFORMAT,
                            "<identifier> must not hold spaces, commas, '<' or '&'");
    if (!one_of(status, statuses) || !one_of(msg, types))
        return situ_err_set(d->err, SITU_EFORMAT, "<%s> '%s' is not a CAP 1.2 value",
                            one_of(status, statuses) ? "msgType" : "status",
                            one_of(status, statuses) ? msg : status);
    if (strcmp(status, d->status))
        return situ_err_set(d->err, SITU_EINVAL,
                            !strcmp(d->status, "Actual")
                                ? "<status> is %s: only Actual alerts reach the map"
                                : "<status> is %s: a drill takes only Exercise alerts",
                            status);
    if (!strcmp(msg, "Ack") || !strcmp(msg, "Error"))
        return situ_err_set(d->err, SITU_EINVAL, "<msgType> %s carries no warning", msg);
    d->ev->id = id;
    d->a->cap_identifier = id;
    d->a->msg = !strcmp(msg, "Alert")    ? FEED_MSG_ALERT
                : !strcmp(msg, "Update") ? FEED_MSG_UPDATE
                                         : FEED_MSG_CANCEL;
    char fid[2 * SITU_FEED_ID_MAX];
    snprintf(fid, sizeof fid, "%s:%s", d->b->dept, id);
    d->a->feature_id = situ__feed_strdup(d->b, fid);
    snprintf(d->a->onset, sizeof d->a->onset, "%s", sent); /* until <onset> says otherwise */
    return d->a->msg == FEED_MSG_ALERT ? 0 : read_references(d, root);
}

/* ---- severity ------------------------------------------------------------------- */

static const char *level_colour(const char *v)
{
    static const char *const levels[][3] = {
        {"I", "Ⅰ", "red"}, {"II", "Ⅱ", "orange"}, {"III", "Ⅲ", "yellow"}, {"IV", "Ⅳ", "blue"}};
    const char *c = situ__feed_severity(v);
    if (c || !v)
        return c;
    char s[32];
    snprintf(s, sizeof s, "%s", v);
    char *ji = strstr(s, "级");
    if (ji)
        *ji = '\0';
    for (int i = 0; i < 4; i++)
        if (!strcasecmp(s, levels[i][0]) || !strcmp(s, levels[i][1]))
            return levels[i][2];
    return NULL;
}

static const char *param_colour(cap_doc *d, xmlNodePtr info)
{
    static const char *const names[] = {"预警级别", "预警颜色",      "color",
                                        "colour",   "warning_level", NULL};
    for (xmlNodePtr p = child(info, "parameter"); p; p = next_named(p, "parameter")) {
        const char *name = node_text(d, child(p, "valueName"));
        for (const char *const *k = names; name && *k; k++)
            if (!strcasecmp(name, *k))
                return level_colour(node_text(d, child(p, "value")));
    }
    return NULL;
}

static int read_severity(cap_doc *d, xmlNodePtr info)
{
    static const char *const map[][2] = {
        {"Extreme", "red"}, {"Severe", "orange"}, {"Moderate", "yellow"}, {"Minor", "blue"}};
    const char *sev;
    if (text_of(d, info, "severity", 1, 16, &sev))
        return SITU_EFORMAT;
    d->a->severity = param_colour(d, info);
    for (int i = 0; !d->a->severity && i < 4; i++)
        if (!strcmp(sev, map[i][0]))
            d->a->severity = map[i][1];
    if (!d->a->severity)
        return situ_err_set(d->err, SITU_EFORMAT,
                            "<severity> %s maps to no warning colour (Extreme, Severe, "
                            "Moderate or Minor, or a 预警级别 parameter)",
                            sev);
    return 0;
}

/* ---- areas ---------------------------------------------------------------------- */

/* "lat,lon lat,lon ..." -> a ring of lon/lat. */
static int read_cap_polygon(cap_doc *d, const char *s)
{
    size_t cap = 64, n = 0;
    double *xy = malloc(cap * 2 * sizeof *xy);
    const char *why = NULL;
    for (const char *p = s; xy && !why;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *end;
        double lat = strtod(p, &end);
        if (end == p || *end != ',') {
            why = "points must be \"lat,lon\" pairs separated by spaces";
            break;
        }
        p = end + 1;
        double lon = strtod(p, &end);
        if (end == p || (*end && !isspace((unsigned char)*end))) {
            why = "points must be \"lat,lon\" pairs separated by spaces";
            break;
        }
        p = end;
        if (n == cap) {
            double *q = n < SITU_FEED_MAX_POINTS ? realloc(xy, 2 * cap * 2 * sizeof *xy) : NULL;
            if (!q) {
                why = "too many points";
                break;
            }
            xy = q, cap *= 2;
        }
        xy[2 * n] = lon, xy[2 * n + 1] = lat;
        n++;
    }
    if (!xy)
        why = "out of memory";
    else if (!why && n < 4)
        why = "a polygon needs at least 4 points";
    else if (!why && situ__mpoly_begin(&d->area))
        why = "out of memory";
    else if (!why)
        situ__mpoly_ring(&d->area, xy, n, &why);
    free(xy);
    return why ? situ_err_set(d->err, SITU_EFORMAT, "<polygon>: %s", why) : 0;
}

/* "lat,lon radius_km" */
static int read_circle(cap_doc *d, const char *s)
{
    double lat, lon, km;
    char tail;
    const char *why = NULL;
    if (sscanf(s, "%lf,%lf %lf %c", &lat, &lon, &km, &tail) != 3)
        why = "must be \"lat,lon radius_km\"";
    else
        situ__mpoly_circle(&d->area, lon, lat, km * 1000, &why);
    return why ? situ_err_set(d->err, SITU_EFORMAT, "<circle> '%.60s': %s", s, why) : 0;
}

/* A geocode whose value is a township code adds that township's polygons;
 * one named as a township that names none is an error; others are ignored. */
static int read_geocode(cap_doc *d, xmlNodePtr g, int *added)
{
    const char *name = node_text(d, child(g, "valueName"));
    const char *value = node_text(d, child(g, "value"));
    if (!value)
        return 0;
    char code[16] = "";
    size_t n = strlen(value);
    if (n == 9 || (n == 12 && !strcmp(value + 9, "000")))
        snprintf(code, sizeof code, "%.9s", value);
    long i = code[0] && d->townships ? situ_coll_find(d->townships, code) : -1;
    if (i >= 0) {
        *added = 1;
        if (situ__mpoly_feature(&d->area, d->townships, &d->townships->feats[i]))
            return situ_err_set(d->err, SITU_ENOMEM, "out of memory");
        return 0;
    }
    if (name && (strcasestr(name, "township") || strstr(name, "乡镇") || strstr(name, "街道")))
        return situ_err_set(d->err, SITU_EFORMAT, "<geocode> %s names no township", value);
    return 0;
}

static int read_area(cap_doc *d, xmlNodePtr area)
{
    size_t before = d->area.nrings;
    int towns = 0;
    for (xmlNodePtr p = child(area, "polygon"); p; p = next_named(p, "polygon")) {
        const char *s = node_text(d, p);
        if (s && read_cap_polygon(d, s))
            return SITU_EFORMAT;
    }
    for (xmlNodePtr c = child(area, "circle"); c; c = next_named(c, "circle")) {
        const char *s = node_text(d, c);
        if (s && read_circle(d, s))
            return SITU_EFORMAT;
    }
    for (xmlNodePtr g = child(area, "geocode"); g; g = next_named(g, "geocode"))
        if (read_geocode(d, g, &towns))
            return d->err ? d->err->code : SITU_EFORMAT;
    if (d->area.nrings == before)
        return situ_err_set(d->err, SITU_EFORMAT,
                            "an <area> has no <polygon>, <circle> or township <geocode>");
    return 0;
}

static int read_info(cap_doc *d, xmlNodePtr root)
{
    xmlNodePtr info = child(root, "info");
    char onset[32];
    if (!info)
        return situ_err_set(d->err, SITU_EFORMAT, "<info> is missing from <alert>");
    if (text_of(d, info, "event", 1, 200, &d->a->event) ||
        text_of(d, info, "headline", 0, 500, &d->a->headline) ||
        text_of(d, info, "description", 0, 8000, &d->a->description) || read_severity(d, info) ||
        time_of(d, info, "expires", 0, d->a->expires) || time_of(d, info, "onset", 0, onset))
        return SITU_EFORMAT;
    if (!onset[0] && time_of(d, info, "effective", 0, onset))
        return SITU_EFORMAT;
    if (onset[0])
        memcpy(d->a->onset, onset, sizeof onset);
    if (d->a->expires[0] && strcmp(d->a->expires, d->a->onset) <= 0)
        return situ_err_set(d->err, SITU_EFORMAT, "<expires> is not after the onset");
    xmlNodePtr area = child(info, "area");
    if (!area)
        return situ_err_set(d->err, SITU_EFORMAT, "<area> is missing from <info>");
    for (; area; area = next_named(area, "area"))
        if (read_area(d, area))
            return d->err ? d->err->code : SITU_EFORMAT;
    if (situ__mpoly_wkb(&d->area, d->b, &d->a->wkb, &d->a->nwkb))
        return situ_err_set(d->err, SITU_ENOMEM, "out of memory");
    memcpy(d->a->bbox, d->area.bbox, sizeof d->a->bbox);
    return 0;
}

/* ---- parsing --------------------------------------------------------------------- */

static int refuse_early(const char *xml, size_t n, situ_err *err)
{
    if (n > SITU_CAP_MAX_BYTES)
        return situ_err_set(err, SITU_ELIMIT, "a CAP alert over %u bytes", SITU_CAP_MAX_BYTES);
    if (n == 0)
        return situ_err_set(err, SITU_EFORMAT, "the body is empty: expected a CAP 1.2 <alert>");
    if (memchr(xml, '\0', n))
        return situ_err_set(err, SITU_EFORMAT, "the body holds NUL bytes (CAP must be UTF-8)");
    if (memmem(xml, n, "<!DOCTYPE", 9) || memmem(xml, n, "<!ENTITY", 8))
        return situ_err_set(err, SITU_EFORMAT,
                            "DOCTYPE and ENTITY declarations are not allowed in a CAP alert");
    return 0;
}

static xmlDocPtr parse_xml(const char *xml, size_t n, situ_err *err)
{
    pthread_once(&xml_once, xml_init);
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt)
        return situ_err_set(err, SITU_ENOMEM, "out of memory"), NULL;
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int)n, NULL, NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
        char msg[200];
        snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unreadable");
        msg[strcspn(msg, "\n")] = '\0';
        situ_err_set(err, SITU_EFORMAT, "not well-formed XML at line %d, column %d: %s",
                     e ? e->line : 0, e ? e->int2 : 0, msg);
    } else if (doc->intSubset || doc->extSubset) {
        situ_err_set(err, SITU_EFORMAT, "a DTD is not allowed in a CAP alert");
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

static int read_alert(cap_doc *d, xmlDocPtr doc, const char *xml, size_t n)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!is_cap(root, "alert"))
        return situ_err_set(d->err, SITU_EFORMAT,
                            "not a CAP 1.2 alert: the root is <%s> in namespace '%s', not "
                            "<alert> in " CAP_NS,
                            root ? (const char *)root->name : "",
                            root && root->ns && root->ns->href ? (const char *)root->ns->href : "");
    d->a->source = "cap";
    ((feed_item *)d->ev->priv)->body = situ__feed_memdup(d->b, xml, n);
    if (read_header(d, root))
        return d->err ? d->err->code : SITU_EFORMAT;
    if (d->a->msg != FEED_MSG_CANCEL && read_info(d, root))
        return d->err ? d->err->code : SITU_EFORMAT;
    return ((feed_item *)d->ev->priv)->body ? 0
                                            : situ_err_set(d->err, SITU_ENOMEM, "out of memory");
}

static int cap_parse(const char *dept, const char *xml, size_t n, const situ_coll *townships,
                     const char *status, long long now, situ_feed_batch **out_batch, situ_err *err)
{
    situ_err local = {0};
    err = err ? err : &local;
    if (situ_schema_dept_index(dept) < 0)
        return situ_err_set(err, SITU_ENOTFOUND, "no department '%s'", dept ? dept : "");
    if (refuse_early(xml, n, err))
        return err->code;
    xmlDocPtr doc = parse_xml(xml, n, err);
    if (!doc)
        return err->code;
    cap_doc d = {.townships = townships, .status = status, .err = err};
    situ__mpoly_init(&d.area);
    int rc = SITU_ENOMEM;
    if (!(d.b = situ__feed_batch_new(dept, 1, now))) {
        situ_err_set(err, rc, "out of memory");
        goto fail;
    }
    d.ev = &d.b->ev[0];
    d.ev->type = SITU_FEED_CAP;
    d.a = &((feed_item *)d.ev->priv)->u.alert;
    if ((rc = read_alert(&d, doc, xml, n)))
        goto fail;
    xmlFreeDoc(doc);
    situ__mpoly_dispose(&d.area);
    *out_batch = d.b;
    return 0;
fail:
    xmlFreeDoc(doc);
    situ__mpoly_dispose(&d.area);
    situ_feed_batch_free(d.b);
    return rc;
}

int situ_cap_parse(const char *dept, const char *xml, size_t n, const situ_coll *townships,
                   situ_feed_batch **out_batch, situ_err *err)
{
    return cap_parse(dept, xml, n, townships, "Actual", (long long)time(NULL), out_batch, err);
}

int situ_cap_parse_exercise(const char *dept, const char *xml, size_t n, const situ_coll *townships,
                            situ_feed_batch **out_batch, situ_err *err)
{
    return cap_parse(dept, xml, n, townships, "Exercise", (long long)time(NULL), out_batch, err);
}

int situ_cap_parse_exercise_at(const char *dept, const char *xml, size_t n,
                               const situ_coll *townships, long long now,
                               situ_feed_batch **out_batch, situ_err *err)
{
    return cap_parse(dept, xml, n, townships, "Exercise", now, out_batch, err);
}

/* ---- moving a document's times (drills) ---------------------------------------- */

/* The UTC offset of a CAP date-time in seconds ("+08:00"; "Z" is 0). */
static long long utc_offset(const char *s)
{
    size_t n = strlen(s);
    if (n >= 6 && (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':')
        return (s[n - 6] == '-' ? -1 : 1) * (atoi(s + n - 5) * 3600LL + atoi(s + n - 2) * 60LL);
    return 0;
}

/* Writes epoch t as a CAP date-time at UTC offset off ("2024-06-01T08:00:00+08:00"). */
static void cap_time(long long t, long long off, char out[40])
{
    time_t local = (time_t)(t + off);
    struct tm tm;
    gmtime_r(&local, &tm);
    long long a = off < 0 ? -off : off;
    size_t k = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, 40 - k, "%c%02lld:%02lld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* Moves the CAP date-time elements under n by shift seconds. */
static int shift_node(xmlNodePtr n, long long shift, situ_err *err)
{
    static const char *const names[] = {"sent", "onset", "effective", "expires", NULL};
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next) {
        int is_time = 0;
        for (const char *const *k = names; *k && !is_time; k++)
            is_time = is_cap(c, *k);
        if (!is_time) {
            if (c->type == XML_ELEMENT_NODE && shift_node(c, shift, err))
                return SITU_EFORMAT;
            continue;
        }
        xmlChar *t = xmlNodeGetContent(c);
        char norm[32], buf[64], out[40];
        long long epoch;
        snprintf(buf, sizeof buf, "%s", t ? (const char *)t : "");
        xmlFree(t);
        char *s = buf + strspn(buf, " \t\r\n");
        s[strcspn(s, " \t\r\n")] = '\0';
        if (situ_feed_time(s, norm, &epoch))
            return situ_err_set(err, SITU_EFORMAT, "<%s> '%s' is not a CAP date-time",
                                (const char *)c->name, s);
        cap_time(epoch + shift, utc_offset(s), out);
        xmlNodeSetContent(c, (const xmlChar *)out);
    }
    return 0;
}

int situ_cap_shift_times(const char *xml, size_t n, long long sent_epoch, situ_buf *out,
                         situ_err *err)
{
    if (refuse_early(xml, n, err))
        return err ? err->code : SITU_EFORMAT;
    xmlDocPtr doc = parse_xml(xml, n, err);
    if (!doc)
        return err ? err->code : SITU_EFORMAT;
    xmlNodePtr root = xmlDocGetRootElement(doc), sent = child(root, "sent");
    xmlChar *t = sent ? xmlNodeGetContent(sent) : NULL;
    char norm[32];
    long long was = 0;
    int rc = !is_cap(root, "alert") || !t || situ_feed_time((const char *)t, norm, &was)
                 ? situ_err_set(err, SITU_EFORMAT, "no CAP 1.2 <alert> with a <sent> date-time")
                 : shift_node(root, sent_epoch - was, err);
    xmlFree(t);
    xmlChar *mem = NULL;
    int nmem = 0;
    if (!rc)
        xmlDocDumpMemoryEnc(doc, &mem, &nmem, "UTF-8");
    if (!rc && !mem)
        rc = situ_err_set(err, SITU_ENOMEM, "out of memory");
    if (!rc)
        situ_buf_add(out, mem, (size_t)nmem);
    xmlFree(mem);
    xmlFreeDoc(doc);
    return rc;
}

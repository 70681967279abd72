/*
 * load_fields.c: the loader's attribute side. Owns the mapping of a source's
 * fields onto a collection's schema (explicit "src=prop" pairs, then names
 * case-insensitively; the id from id/fid/code; everything unnamed into the
 * extra JSON object), the coercion of values to the field types with their
 * domains, and the resources' items lists. It knows nothing of geometry,
 * files or the store; load_source.c drives it one feature at a time.
 * Entry points: situ__fieldmap_new, situ__row_new, situ__row_read.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cpl_string.h>

#include "situ/buf.h"

#include "load_int.h"

/* ---- arena -------------------------------------------------------------- */

#define ARENA_BLOCK 65536

struct situ__arena_block {
    situ__arena_block *next;
    size_t used, cap;
    char data[];
};

char *situ__arena_strndup(situ__arena *a, const char *s, size_t n)
{
    situ__arena_block *b = a->head;
    if (!b || b->cap - b->used < n + 1) {
        size_t cap = n + 1 > ARENA_BLOCK ? n + 1 : ARENA_BLOCK;
        situ__arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb)
            return NULL;
        nb->next = b, nb->used = 0, nb->cap = cap;
        a->head = b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, n);
    p[n] = '\0';
    b->used += n + 1;
    return p;
}

void situ__arena_reset(situ__arena *a)
{
    situ__arena_block *b = a->head;
    if (!b)
        return;
    for (situ__arena_block *x = b->next, *next; x; x = next) {
        next = x->next;
        free(x);
    }
    b->next = NULL;
    b->used = 0;
}

void situ__arena_dispose(situ__arena *a)
{
    situ__arena_reset(a);
    free(a->head);
    a->head = NULL;
}

/* ---- the field map ------------------------------------------------------ */

enum role { ROLE_NONE = -1, ROLE_EXTRA, ROLE_FIELD, ROLE_ID, ROLE_TOWNSHIP, ROLE_ITEMS, ROLE_DROP };

typedef struct srcfield {
    char *name; /* UTF-8; the key in extra */
    int role, k;
    OGRFieldType type;
    OGRFieldSubType sub;
} srcfield;

struct situ__fieldmap {
    const situ_collection *c;
    srcfield *f;
    int n;
    int id, tc, items; /* source field index, or -1 */
    char recode[32];   /* source encoding of raw-bytes text, or "" */
    int recode_skips;  /* recode as GDAL's CPLRecode: bytes it cannot read are dropped */
    int strings_only;
    int generate_ids, detect_gbk;
    char gen_prefix[32];
};

/* claimed[] slots: one per common role, then one per schema field. */
enum { CLAIM_ID, CLAIM_TOWNSHIP, CLAIM_ITEMS, CLAIM_FIELDS };

/* The role name takes in c (case-insensitive), its schema index in *k; -1
 * when c has no such name. */
static int target_role(const situ_collection *c, const char *name, int *k)
{
    *k = -1;
    if (!strcasecmp(name, "id"))
        return ROLE_ID;
    if (!strcasecmp(name, "township_code"))
        return ROLE_TOWNSHIP;
    if (c->cid == SITU_C_RESOURCES && !strcasecmp(name, "items"))
        return ROLE_ITEMS;
    for (int i = 0; i < c->nfields; i++)
        if (!strcasecmp(c->fields[i].name, name))
            return *k = i, ROLE_FIELD;
    return -1;
}

static int claim_slot(int role, int k)
{
    return role == ROLE_ID         ? CLAIM_ID
           : role == ROLE_TOWNSHIP ? CLAIM_TOWNSHIP
           : role == ROLE_ITEMS    ? CLAIM_ITEMS
                                   : CLAIM_FIELDS + k;
}

static void assign(situ__fieldmap *m, int i, int role, int k)
{
    m->f[i].role = role, m->f[i].k = k;
    if (role == ROLE_ID)
        m->id = i;
    else if (role == ROLE_TOWNSHIP)
        m->tc = i;
    else if (role == ROLE_ITEMS)
        m->items = i;
}

static int find_source(const situ__fieldmap *m, const char *name, size_t n)
{
    for (int i = 0; i < m->n; i++)
        if (strlen(m->f[i].name) == n && !strncasecmp(m->f[i].name, name, n))
            return i;
    return -1;
}

/* Applies one "src=prop" pair; fails on a name either side does not have.
 * what says where the pair comes from. */
static int apply_pair(situ__fieldmap *m, const char *what, const char *pair, unsigned char *claimed,
                      situ_err *err)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair || !eq[1])
        return situ_err_set(err, SITU_EINVAL, "%s %s: expected src_field=prop", what, pair);
    int i = find_source(m, pair, (size_t)(eq - pair)), k;
    if (i < 0)
        return situ_err_set(err, SITU_ENOTFOUND, "%s %s: the source has no field %.*s", what, pair,
                            (int)(eq - pair), pair);
    int role = target_role(m->c, eq + 1, &k);
    if (role < 0)
        return situ_err_set(err, SITU_EINVAL, "%s %s: %s has no field %s", what, pair, m->c->id,
                            eq + 1);
    if (m->f[i].role != ROLE_NONE || claimed[claim_slot(role, k)])
        return situ_err_set(err, SITU_ECONFLICT, "%s %s: %s or %s is mapped twice", what, pair,
                            m->f[i].name, eq + 1);
    claimed[claim_slot(role, k)] = 1;
    assign(m, i, role, k);
    return 0;
}

/* Maps the fields no pair named: by name when the target is free, else extra;
 * then, without an id field, the first of fid or code gives the id. */
static void match_names(situ__fieldmap *m, unsigned char *claimed)
{
    for (int i = 0; i < m->n; i++) {
        int k, role;
        if (m->f[i].role != ROLE_NONE)
            continue;
        role = target_role(m->c, m->f[i].name, &k);
        if (role >= 0 && !claimed[claim_slot(role, k)]) {
            claimed[claim_slot(role, k)] = 1;
            assign(m, i, role, k);
        } else {
            assign(m, i, ROLE_EXTRA, -1);
        }
    }
    static const char *const fallback[] = {"fid", "code"};
    for (int j = 0; j < 2 && m->id < 0; j++) {
        int i = find_source(m, fallback[j], strlen(fallback[j]));
        if (i >= 0 && m->f[i].role == ROLE_EXTRA)
            assign(m, i, ROLE_ID, -1);
    }
}

/* ---- text --------------------------------------------------------------- */

/* How the text of a source becomes UTF-8: declared (recode), undeclared but
 * detected (GB18030, a superset of GBK and GB2312), or UTF-8 as it is. */
typedef struct textcodec {
    iconv_t recode, gbk;
    int recode_skips, detect_gbk;
} textcodec;

static void codec_open(textcodec *t, const situ__fieldmap *m)
{
    t->recode = m->recode[0] ? iconv_open("UTF-8", m->recode) : (iconv_t)-1;
    t->gbk = iconv_open("UTF-8", "GB18030");
    t->recode_skips = m->recode_skips;
    t->detect_gbk = m->detect_gbk;
}

static void codec_close(textcodec *t)
{
    if (t->recode != (iconv_t)-1)
        iconv_close(t->recode);
    if (t->gbk != (iconv_t)-1)
        iconv_close(t->gbk);
}

/* s recoded through cd as GDAL's CPLRecode recodes a Shapefile's text with
 * its ENCODING option (one iconv_open, a 32 KB zeroed buffer and an
 * iconv_close per string, which cost more than the rest of reading a
 * Shapefile): a sequence cd cannot read loses its first byte and the rest
 * is read on, an incomplete one at the end is dropped. Malloc'd; NULL when
 * out of memory. */
static char *recode_skipping(iconv_t cd, const char *s)
{
    size_t n = strlen(s), cap = 4 * n + 16, left = cap - 1;
    char *out = malloc(cap), *in = (char *)s, *o = out;
    iconv(cd, NULL, NULL, NULL, NULL);
    while (out && n > 0 && iconv(cd, &in, &n, &o, &left) == (size_t)-1) {
        if (errno == EILSEQ) {
            in++, n--;
        } else if (errno == E2BIG) {
            size_t used = (size_t)(o - out);
            char *grown = realloc(out, 2 * cap);
            if (!grown) {
                free(out);
                return NULL;
            }
            out = grown, o = out + used, left += cap, cap *= 2;
        } else {
            break;
        }
    }
    if (out)
        *o = '\0';
    return out;
}

/* s as UTF-8: *out_copy is NULL when s is already, else a string to free;
 * *out_gbk is set when it was read as GBK. Returns 0, or 1 when s cannot be
 * read (reason filled, naming field). */
static int to_utf8(textcodec *t, const char *s, const char *field, char **out_copy, int *out_gbk,
                   char reason[128])
{
    *out_copy = NULL;
    if (t->recode != (iconv_t)-1) {
        if ((*out_copy = t->recode_skips ? recode_skipping(t->recode, s)
                                         : situ_utf8_convert(t->recode, s, strlen(s))))
            return 0;
        snprintf(reason, 128, "%s is not text in the declared encoding", field);
        return 1;
    }
    if (situ_utf8_valid(s))
        return 0;
    char *gbk = situ_utf8_convert(t->gbk, s, strlen(s));
    if (gbk && t->detect_gbk) {
        *out_copy = gbk, *out_gbk = 1;
        return 0;
    }
    free(gbk);
    snprintf(reason, 128, "%s is not valid UTF-8%s", field,
             gbk ? " (it reads as GBK: give --encoding GBK)" : "");
    return 1;
}

/* Copies the field names, as UTF-8 the way the values are read. */
static int read_names(situ__fieldmap *m, OGRFeatureDefnH d, situ_err *err)
{
    textcodec t;
    char reason[128];
    int rc = 0;
    codec_open(&t, m);
    for (int i = 0; i < m->n && !rc; i++) {
        OGRFieldDefnH fd = OGR_FD_GetFieldDefn(d, i);
        const char *name = OGR_Fld_GetNameRef(fd);
        char *utf8 = NULL;
        int gbk = 0;
        if (to_utf8(&t, name, "a field name", &utf8, &gbk, reason)) {
            rc = situ_err_set(err, SITU_EFORMAT, "field #%d: %s", i + 1, reason);
            break;
        }
        m->f[i].name = utf8 ? utf8 : strdup(name);
        if (!m->f[i].name)
            rc = situ_err_set(err, SITU_ENOMEM, "out of memory mapping fields");
        m->f[i].role = ROLE_NONE, m->f[i].k = -1;
        m->f[i].type = OGR_Fld_GetType(fd);
        m->f[i].sub = OGR_Fld_GetSubType(fd);
    }
    codec_close(&t);
    return rc;
}

/* --id-field F: F gives the id. */
static int apply_id_field(situ__fieldmap *m, const char *field, unsigned char *claimed,
                          situ_err *err)
{
    char pair[256];
    snprintf(pair, sizeof pair, "%s=id", field);
    return apply_pair(m, "--id-field", pair, claimed, err);
}

/* A source without ids is refused unless ids are asked to be generated; one
 * with ids must not ask for generated ones (it would duplicate its features). */
static int check_ids(const situ__fieldmap *m, const situ__fieldmap_opts *o, situ_err *err)
{
    int has_id = m->id >= 0 || (m->c->cid == SITU_C_TOWNSHIPS && m->tc >= 0);
    if (has_id && o->generate_ids)
        return situ_err_set(
            err, SITU_EINVAL, "%s has an id field (%s); --generate-ids is for files without ids",
            o->path ? o->path : "the source", m->f[m->id >= 0 ? m->id : m->tc].name);
    if (!has_id && !o->generate_ids)
        return situ_err_set(err, SITU_EINVAL,
                            "%s has no id field (id, fid or code): name it with --id-field "
                            "FIELD, or give --generate-ids for ids made from the file name, "
                            "layer and feature number",
                            o->path ? o->path : "the source");
    return 0;
}

/* Drops the fields o->ignore names (before any mapping sees them). */
static void drop_ignored(situ__fieldmap *m, const char *const *ignore)
{
    for (; ignore && *ignore; ignore++) {
        int i = find_source(m, *ignore, strlen(*ignore));
        if (i >= 0)
            m->f[i].role = ROLE_DROP;
    }
}

int situ__fieldmap_new(const situ_collection *c, OGRFeatureDefnH d, const situ__fieldmap_opts *o,
                       situ__fieldmap **out_m, situ_err *err)
{
    unsigned char claimed[CLAIM_FIELDS + 64] = {0};
    situ__fieldmap *m = calloc(1, sizeof *m);
    int rc = SITU_ENOMEM;
    if (!m || c->nfields > 64)
        goto fail;
    m->c = c, m->id = m->tc = m->items = -1, m->strings_only = o->strings_only;
    m->generate_ids = o->generate_ids, m->detect_gbk = o->detect_gbk;
    snprintf(m->recode, sizeof m->recode, "%s", o->recode ? o->recode : "");
    m->recode_skips = o->recode_skips;
    snprintf(m->gen_prefix, sizeof m->gen_prefix, "%s", o->gen_prefix ? o->gen_prefix : "");
    m->n = OGR_FD_GetFieldCount(d);
    if (m->n > 0 && !(m->f = calloc((size_t)m->n, sizeof *m->f)))
        goto fail;
    if ((rc = read_names(m, d, err)))
        goto fail;
    drop_ignored(m, o->ignore);
    if (o->id_field && (rc = apply_id_field(m, o->id_field, claimed, err)))
        goto fail;
    for (int j = 0; j < o->nmap; j++)
        if ((rc = apply_pair(m, o->map_what ? o->map_what : "--map", o->map[j], claimed, err)))
            goto fail;
    match_names(m, claimed);
    if ((rc = check_ids(m, o, err)))
        goto fail;
    *out_m = m;
    return 0;
fail:
    situ__fieldmap_free(m);
    if (rc == SITU_ENOMEM)
        situ_err_set(err, rc, "out of memory mapping fields");
    return rc;
}

void situ__fieldmap_free(situ__fieldmap *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n && m->f; i++)
        free(m->f[i].name);
    free(m->f);
    free(m);
}

/* ---- one row ------------------------------------------------------------ */

struct situ__row {
    const situ__fieldmap *m;
    situ__arena arena;
    situ_value *values; /* m->c->nfields */
    json_t *extra;      /* reused; cleared per feature */
    char *extra_json;   /* this feature's, from json_dumps */
    json_t *items_json; /* keeps the item strings alive */
    situ_item_qty *items;
    int nitems, capitems;
    int oom;
    textcodec codec;
    int gbk;            /* this row had text read as GBK */
    char bad_text[128]; /* the first text of this row that cannot be read, or "" */
};

int situ__row_new(const situ__fieldmap *m, situ__row **out_r)
{
    situ__row *r = calloc(1, sizeof *r);
    if (!r)
        return SITU_ENOMEM;
    r->m = m;
    codec_open(&r->codec, m);
    r->values = calloc((size_t)m->c->nfields + 1, sizeof *r->values);
    r->extra = json_object();
    if (!r->values || !r->extra) {
        situ__row_free(r);
        return SITU_ENOMEM;
    }
    *out_r = r;
    return 0;
}

static void row_reset(situ__row *r)
{
    situ__arena_reset(&r->arena);
    free(r->extra_json);
    r->extra_json = NULL;
    json_decref(r->items_json);
    r->items_json = NULL;
    r->nitems = 0;
    r->oom = 0;
    r->gbk = 0;
    r->bad_text[0] = '\0';
}

void situ__row_free(situ__row *r)
{
    if (!r)
        return;
    row_reset(r);
    codec_close(&r->codec);
    situ__arena_dispose(&r->arena);
    json_decref(r->extra);
    free(r->values);
    free(r->items);
    free(r);
}

static const char *row_strndup(situ__row *r, const char *s, size_t n)
{
    const char *p = situ__arena_strndup(&r->arena, s, n);
    if (!p)
        r->oom = 1;
    return p;
}

/* A date, time or date-time field as ISO 8601 text. */
static const char *iso_datetime(situ__row *r, OGRFeatureH f, int i, OGRFieldType t)
{
    int y, mo, d, h, mi, tz;
    float sec;
    char buf[48];
    if (!OGR_F_GetFieldAsDateTimeEx(f, i, &y, &mo, &d, &h, &mi, &sec, &tz))
        return NULL;
    int n = 0;
    if (t != OFTTime)
        n = snprintf(buf, sizeof buf, "%04d-%02d-%02d", y, mo, d);
    if (t == OFTDate)
        return row_strndup(r, buf, (size_t)n);
    if (sec == floorf(sec))
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%02d:%02d:%02d", n ? "T" : "", h, mi,
                      (int)sec);
    else
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%02d:%02d:%06.3f", n ? "T" : "", h, mi,
                      (double)sec);
    if (tz == 100)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "Z");
    else if (tz > 1) /* 100 is UTC, each step 15 minutes */
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%c%02d:%02d", tz > 100 ? '+' : '-',
                      abs(tz - 100) / 4, abs(tz - 100) % 4 * 15);
    return row_strndup(r, buf, (size_t)n);
}

/* Field i as trimmed UTF-8 text, or NULL when unset, null or blank. The
 * string lives until the next row_reset. */
static const char *get_text(situ__row *r, OGRFeatureH f, int i)
{
    const srcfield *sf = &r->m->f[i];
    if (!OGR_F_IsFieldSetAndNotNull(f, i))
        return NULL;
    if (sf->type == OFTDate || sf->type == OFTTime || sf->type == OFTDateTime)
        return iso_datetime(r, f, i, sf->type);
    const char *s = OGR_F_GetFieldAsString(f, i);
    /* only a string field's text is the feature's own; others are scratch */
    int copy = sf->type != OFTString;
    char *utf8 = NULL, reason[128];
    if (sf->type == OFTString && to_utf8(&r->codec, s, sf->name, &utf8, &r->gbk, reason)) {
        if (!r->bad_text[0])
            snprintf(r->bad_text, sizeof r->bad_text, "%s", reason);
        return NULL;
    }
    if (utf8)
        s = utf8, copy = 1;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    copy |= s[n] != '\0';
    const char *out = n == 0 ? NULL : copy ? row_strndup(r, s, n) : s;
    free(utf8);
    return out;
}

/* Parses all of s as a finite number. */
static int parse_real(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

/* Parses all of s as an integer ("3" or "3.0"). */
static int parse_int(const char *s, long long *out)
{
    char *end;
    double d;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && !*end && !errno)
        return *out = v, 1;
    if (!parse_real(s, &d) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return 0;
    *out = (long long)d;
    return 1;
}

static int parse_bool(const char *s, long long *out)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", "on", "是"};
    static const char *const no[] = {"0", "false", "f", "no", "n", "off", "否"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 1;
        if (!strcasecmp(s, no[i]))
            return *out = 0, 1;
    }
    return 0;
}

/* Checks an integer against a "lo..hi" domain. */
static int in_range(const situ_field *fd, long long v)
{
    long long lo, hi;
    if (!fd->domain || sscanf(fd->domain, "%lld..%lld", &lo, &hi) != 2)
        return 1;
    return v >= lo && v <= hi;
}

/* Writes a rejection reason; returns 1, the "rejected" answer. */
static int reject(char reason[128], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(char reason[128], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, 128, fmt, ap);
    va_end(ap);
    return 1;
}

/* The numeric value of field i into *d (any numeric type or numeric text).
 * Returns 0 for a number, 1 when not one, 2 when null. */
static int get_number(situ__row *r, OGRFeatureH f, int i, double *d, long long *ll, int *is_int)
{
    const srcfield *sf = &r->m->f[i];
    *is_int = 0;
    if (sf->type == OFTInteger || sf->type == OFTInteger64) {
        *ll = OGR_F_GetFieldAsInteger64(f, i), *d = (double)*ll, *is_int = 1;
        return 0;
    }
    if (sf->type == OFTReal) {
        *d = OGR_F_GetFieldAsDouble(f, i);
        return isfinite(*d) ? 0 : 1;
    }
    if (sf->type != OFTString)
        return 1;
    const char *s = get_text(r, f, i);
    if (!s)
        return 2;
    if (parse_int(s, ll))
        return *d = (double)*ll, *is_int = 1, 0;
    return parse_real(s, d) ? 0 : 1;
}

static int coerce_int(situ__row *r, OGRFeatureH f, int i, const situ_field *fd, situ_value *v,
                      char reason[128])
{
    double d;
    long long ll;
    int is_int, rc = get_number(r, f, i, &d, &ll, &is_int);
    if (rc == 2)
        return 0;
    if (rc == 0 && !is_int) {
        if (d != floor(d) || fabs(d) > 9007199254740992.0)
            rc = 1;
        ll = (long long)d;
    }
    if (rc)
        return reject(reason, "bad number in %s", fd->name);
    if (!in_range(fd, ll))
        return reject(reason, "%s outside %s", fd->name, fd->domain);
    v->type = SITU_FT_INT, v->u.i = ll;
    return 0;
}

static int coerce_real(situ__row *r, OGRFeatureH f, int i, const situ_field *fd, situ_value *v,
                       char reason[128])
{
    double d;
    long long ll;
    int is_int, rc = get_number(r, f, i, &d, &ll, &is_int);
    if (rc == 2)
        return 0;
    if (rc)
        return reject(reason, "bad number in %s", fd->name);
    v->type = SITU_FT_REAL, v->u.d = d;
    return 0;
}

static int coerce_bool(situ__row *r, OGRFeatureH f, int i, const situ_field *fd, situ_value *v,
                       char reason[128])
{
    const srcfield *sf = &r->m->f[i];
    long long b;
    if (sf->type == OFTInteger || sf->type == OFTInteger64) {
        b = OGR_F_GetFieldAsInteger64(f, i);
        if (b != 0 && b != 1)
            return reject(reason, "bad boolean in %s", fd->name);
    } else {
        const char *s = get_text(r, f, i);
        if (!s)
            return 0;
        if (!parse_bool(s, &b))
            return reject(reason, "bad boolean in %s", fd->name);
    }
    v->type = SITU_FT_BOOL, v->u.i = b;
    return 0;
}

static int coerce_text(situ__row *r, OGRFeatureH f, int i, const situ_field *fd, situ_value *v,
                       char reason[128])
{
    const char *s = get_text(r, f, i);
    if (!s)
        return 0;
    if (!situ_schema_domain_ok(fd, s))
        return reject(reason, "%s not one of its allowed values", fd->name);
    v->type = SITU_FT_TEXT, v->u.s = s;
    return 0;
}

/* Source field i into the schema value of its field. Returns 0 or 1 (rejected). */
static int coerce(situ__row *r, OGRFeatureH f, int i, char reason[128])
{
    int k = r->m->f[i].k;
    const situ_field *fd = &r->m->c->fields[k];
    situ_value *v = &r->values[k];
    if (!OGR_F_IsFieldSetAndNotNull(f, i))
        return 0;
    switch (fd->type) {
    case SITU_FT_INT:
        return coerce_int(r, f, i, fd, v, reason);
    case SITU_FT_REAL:
        return coerce_real(r, f, i, fd, v, reason);
    case SITU_FT_BOOL:
        return coerce_bool(r, f, i, fd, v, reason);
    default:
        return coerce_text(r, f, i, fd, v, reason);
    }
}

/* ---- extra -------------------------------------------------------------- */

/* Text as a JSON number when it reads as one exactly as written (no leading
 * zeros: "0746" stays a phone-number string), else a JSON string. */
static json_t *sniff(const char *s)
{
    const char *p = s + (*s == '-');
    int digits = (int)strspn(p, "0123456789");
    double d;
    long long ll;
    if (digits == 0 || (p[0] == '0' && digits > 1) || !parse_real(s, &d) ||
        strspn(s, "-+.0123456789eE") != strlen(s))
        return json_string(s);
    if (!p[digits] && parse_int(s, &ll))
        return json_integer(ll);
    return json_real(d);
}

static json_t *list_json(OGRFeatureH f, int i, OGRFieldType t)
{
    json_t *a = json_array();
    int n = 0;
    if (t == OFTIntegerList) {
        const int *v = OGR_F_GetFieldAsIntegerList(f, i, &n);
        for (int j = 0; a && j < n; j++)
            json_array_append_new(a, json_integer(v[j]));
    } else if (t == OFTInteger64List) {
        const GIntBig *v = OGR_F_GetFieldAsInteger64List(f, i, &n);
        for (int j = 0; a && j < n; j++)
            json_array_append_new(a, json_integer(v[j]));
    } else if (t == OFTRealList) {
        const double *v = OGR_F_GetFieldAsDoubleList(f, i, &n);
        for (int j = 0; a && j < n; j++)
            json_array_append_new(a, isfinite(v[j]) ? json_real(v[j]) : json_null());
    } else {
        char **v = OGR_F_GetFieldAsStringList(f, i);
        for (int j = 0; a && v && v[j]; j++)
            json_array_append_new(a, json_string(v[j]));
    }
    return a;
}

/* Field i as a JSON value, or NULL to leave it out (null, blank, binary, or
 * text that is not UTF-8). */
static json_t *extra_value(situ__row *r, OGRFeatureH f, int i)
{
    const srcfield *sf = &r->m->f[i];
    if (!OGR_F_IsFieldSetAndNotNull(f, i))
        return NULL;
    switch (sf->type) {
    case OFTInteger:
        if (sf->sub == OFSTBoolean)
            return json_boolean(OGR_F_GetFieldAsInteger(f, i));
        return json_integer(OGR_F_GetFieldAsInteger(f, i));
    case OFTInteger64:
        return json_integer(OGR_F_GetFieldAsInteger64(f, i));
    case OFTReal: {
        double d = OGR_F_GetFieldAsDouble(f, i);
        return isfinite(d) ? json_real(d) : NULL;
    }
    case OFTIntegerList:
    case OFTInteger64List:
    case OFTRealList:
    case OFTStringList:
        return list_json(f, i, sf->type);
    case OFTBinary:
        return NULL;
    default: {
        const char *s = get_text(r, f, i);
        if (!s)
            return NULL;
        if (sf->sub == OFSTJSON)
            return json_loads(s, JSON_DECODE_ANY, NULL);
        return r->m->strings_only ? sniff(s) : json_string(s);
    }
    }
}

/* ---- items -------------------------------------------------------------- */

static json_t *get_either(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);
    return v ? v : json_object_get(o, b);
}

/* One {"item"|"code", "qty"|"quantity", "unit"?} element into *q. */
static int item_qty(json_t *o, situ_item_qty *q, char reason[128])
{
    json_t *code = get_either(o, "item", "code"), *qty = get_either(o, "qty", "quantity");
    json_t *unit = json_object_get(o, "unit");
    double d;
    if (!json_is_string(code))
        return reject(reason, "an element of items has no item code");
    if (situ_schema_item_index(json_string_value(code)) < 0)
        return reject(reason, "unknown item code in items");
    if (json_is_number(qty))
        d = json_number_value(qty);
    else if (!json_is_string(qty) || !parse_real(json_string_value(qty), &d))
        return reject(reason, "bad quantity in items");
    if (d < 0 || !isfinite(d))
        return reject(reason, "negative quantity in items");
    if (unit && !json_is_string(unit) && !json_is_null(unit))
        return reject(reason, "bad unit in items");
    q->item = json_string_value(code);
    q->quantity = d;
    q->unit = json_is_string(unit) ? json_string_value(unit) : NULL;
    return 0;
}

static int read_items(situ__row *r, OGRFeatureH f, int i, char reason[128])
{
    const char *s = r->m->f[i].type == OFTString ? get_text(r, f, i) : NULL;
    if (!s && OGR_F_IsFieldSetAndNotNull(f, i) && r->m->f[i].type != OFTString)
        return reject(reason, "items is not JSON text");
    if (!s)
        return 0;
    r->items_json = json_loads(s, 0, NULL);
    if (!json_is_array(r->items_json))
        return reject(reason, "items is not a JSON array");
    int n = (int)json_array_size(r->items_json);
    if (n > r->capitems) {
        situ_item_qty *v = realloc(r->items, (size_t)n * sizeof *v);
        if (!v)
            return r->oom = 1, 0;
        r->items = v, r->capitems = n;
    }
    for (int j = 0; j < n; j++) {
        if (item_qty(json_array_get(r->items_json, (size_t)j), &r->items[j], reason))
            return 1;
        for (int k = 0; k < j; k++)
            if (!strcmp(r->items[k].item, r->items[j].item))
                return reject(reason, "duplicate item code in items");
    }
    r->nitems = n;
    return 0;
}

/* ---- a feature ---------------------------------------------------------- */

/* 1 when s holds a control character (C0 or DEL). */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* The feature's id: the township code for townships, else the id (or fid or
 * code) field, else (asked for) "<collection>-<hash of file and layer>-<FID>". */
static int read_id(situ__row *r, OGRFeatureH f, const char **out_id, char reason[128])
{
    const situ__fieldmap *m = r->m;
    int i = m->c->cid == SITU_C_TOWNSHIPS && m->tc >= 0 ? m->tc : m->id;
    char buf[96];
    if (i >= 0) {
        *out_id = get_text(r, f, i);
        if (r->bad_text[0])
            return reject(reason, "%s", r->bad_text);
        if (*out_id && has_control(*out_id))
            return *out_id = NULL, reject(reason, "control character in id (%s)", m->f[i].name);
        return *out_id ? 0 : reject(reason, "missing id (%s is empty)", m->f[i].name);
    }
    int n = snprintf(buf, sizeof buf, "%s-%s-%lld", m->c->id, m->gen_prefix,
                     (long long)OGR_F_GetFID(f));
    *out_id = row_strndup(r, buf, (size_t)n);
    return 0;
}

/* Every mapped field of f: schema values, extra, items. */
static int read_fields(situ__row *r, OGRFeatureH f, char reason[128])
{
    const situ__fieldmap *m = r->m;
    for (int i = 0; i < m->n; i++) {
        int role = m->f[i].role;
        if (role == ROLE_FIELD && coerce(r, f, i, reason))
            return 1;
        if (role == ROLE_ITEMS && read_items(r, f, i, reason))
            return 1;
        json_t *v = role == ROLE_EXTRA ? extra_value(r, f, i) : NULL;
        if (v && json_object_set_new(r->extra, m->f[i].name, v))
            r->oom = 1;
    }
    if (r->bad_text[0])
        return reject(reason, "%s", r->bad_text);
    for (int k = 0; k < m->c->nfields; k++)
        if ((m->c->fields[k].flags & SITU_FF_REQUIRED) && !r->values[k].type)
            return reject(reason, "missing required field %s", m->c->fields[k].name);
    return 0;
}

int situ__row_read(situ__row *r, OGRFeatureH f, situ_feature_in *out, char reason[128])
{
    const situ__fieldmap *m = r->m;
    situ_feature_in fin = {.values = r->values};
    row_reset(r);
    memset(r->values, 0, (size_t)m->c->nfields * sizeof *r->values);
    int rc = read_id(r, f, &fin.id, reason);
    if (!rc && m->c->cid == SITU_C_TOWNSHIPS)
        fin.township_code = fin.id;
    else if (!rc && m->tc >= 0)
        fin.township_code = get_text(r, f, m->tc);
    if (!rc && r->bad_text[0])
        rc = reject(reason, "%s", r->bad_text);
    if (!rc)
        rc = read_fields(r, f, reason);
    if (!rc && json_object_size(r->extra) > 0 &&
        !(r->extra_json = json_dumps(r->extra, JSON_COMPACT)))
        r->oom = 1;
    json_object_clear(r->extra);
    fin.extra_json = r->extra_json;
    fin.items = r->items;
    fin.nitems = r->nitems;
    *out = fin;
    return r->oom ? SITU_ENOMEM : rc;
}

int situ__row_was_gbk(const situ__row *r)
{
    return r->gbk;
}

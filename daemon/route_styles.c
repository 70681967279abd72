/*
 * route_styles.c: the map wall's look as MapLibre style documents (style
 * spec v8): /styles lists them, /styles/day.json and /styles/dark.json are
 * web_dir/style.json (the one template of both themes, which the wall loads
 * through these routes too) resolved for the theme: theme values chosen,
 * colour tables expanded into match expressions, metre radii scaled at the
 * city's latitude, today's date as the `today` state, and source URLs made
 * absolute on the request's own origin, so QGIS, Maputnik or another
 * MapLibre page can load them from situd as they are.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes.h"

#define STYLE_TYPE "application/vnd.mapbox.style+json"
#define TEMPLATE_MAX (1u << 20)

static const char *const themes[] = {"day", "dark"};

typedef struct resolve_ctx {
    const char *theme;
    json_t *tables;
    double lat;
} resolve_ctx;

static json_t *resolve(json_t *v, const resolve_ctx *c);

/* ["match", ["to-string", ["get", field]], key, colour, ..., fallback] */
static json_t *table_match(json_t *args, const resolve_ctx *c)
{
    json_t *table = json_object_get(c->tables, json_string_value(json_array_get(args, 1)));
    if (!json_is_object(table) || json_array_size(args) != 3)
        return NULL;
    json_t *m = json_pack("[s[s[sO]]]", "match", "to-string", "get", json_array_get(args, 0));
    const char *key;
    json_t *colour;
    json_object_foreach(table, key, colour)
    {
        json_array_append_new(m, json_string(key));
        json_array_append(m, colour);
    }
    json_array_append(m, json_array_get(args, 2));
    return m;
}

/* A circle of `field` metres at latitude lat: pixels double per zoom (512
 * pixels span the equator at zoom 0). */
static json_t *metres_radius(json_t *field, double lat)
{
    double z0 = 40075016.686 / 512 * cos(lat * M_PI / 180);
    return json_pack("[s[si][s]i[sof]i[sof]]", "interpolate", "exponential", 2, "zoom", 0, "/",
                     json_pack("[s[sO]i]", "to-number", "get", field, 0), z0, 22, "/",
                     json_pack("[s[sO]i]", "to-number", "get", field, 0), z0 / pow(2, 22));
}

/* The resolved value of one special object, or NULL when o is not one. */
static json_t *special(json_t *o, const resolve_ctx *c)
{
    if (json_object_size(o) != 1)
        return NULL;
    json_t *a;
    if ((a = json_object_get(o, "situ:theme")))
        return resolve(json_incref(json_object_get(a, c->theme)), c);
    if ((a = json_object_get(o, "situ:match")))
        return table_match(a, c);
    if ((a = json_object_get(o, "situ:metres")))
        return metres_radius(a, c->lat);
    return NULL;
}

/* Resolves v (whose reference it takes) into a plain style value. */
static json_t *resolve(json_t *v, const resolve_ctx *c)
{
    if (json_is_object(v)) {
        json_t *s = special(v, c);
        if (s) {
            json_decref(v);
            return s;
        }
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x) json_object_set_new(v, key, resolve(json_incref(x), c));
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_set_new(v, i, resolve(json_incref(json_array_get(v, i)), c));
    }
    return v;
}

/* A source's "url" or "data" that starts with '/' gets base in front. */
static void absolute_sources(json_t *style, const char *base)
{
    const char *id;
    json_t *src;
    json_object_foreach(json_object_get(style, "sources"), id, src)
    {
        for (int i = 0; i < 2; i++) {
            const char *k = i ? "data" : "url", *u = json_string_value(json_object_get(src, k));
            if (u && u[0] == '/') {
                char abs[1024];
                snprintf(abs, sizeof abs, "%s%s", base, u);
                json_object_set_new(src, k, json_string(abs));
            }
        }
    }
}

/* The city's latitude: the middle of the townships' extent (0 when empty). */
static double city_lat(const situ_snapshot *snap)
{
    const situ_coll *t = snap->colls[SITU_C_TOWNSHIPS];
    return t && t->n ? (t->extent[1] + t->extent[3]) / 2 : 0;
}

static situd_result style_doc(situd_req *r, const char *theme)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/style.json", r->cfg->web_dir);
    json_error_t jerr;
    json_t *tpl = json_load_file(path, 0, &jerr);
    json_t *style = json_incref(json_object_get(tpl, "style"));
    if (!style) {
        json_decref(tpl);
        return situd_problem(r, 503, NULL, "the wall's style template %s: %s", path, jerr.text);
    }
    resolve_ctx c = {theme, json_object_get(tpl, "tables"), city_lat(r->snap)};
    style = resolve(style, &c);
    char base[512], today[16];
    situd_base_url(r, base, sizeof base);
    absolute_sources(style, base);
    time_t now = time(NULL);
    struct tm tm;
    strftime(today, sizeof today, "%Y-%m-%d", localtime_r(&now, &tm));
    json_object_set_new(json_object_get(json_object_get(style, "state"), "today"), "default",
                        json_string(today));
    json_object_set_new(style, "metadata", json_pack("{sO}", "situ:colors", c.tables));
    char *text = json_dumps(style, JSON_COMPACT);
    json_decref(style);
    json_decref(tpl);
    if (!text)
        return situd_problem(r, 503, NULL, "out of memory");
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, text);
    situ_buf_addc(&b, '\n');
    free(text);
    return situd_reply_buf(r, 200, STYLE_TYPE, &b);
}

static situd_result style_list(situd_req *r)
{
    char base[512], href[640];
    situd_base_url(r, base, sizeof base);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"styles\":[");
    for (int i = 0; i < 2; i++) {
        situ_buf_printf(&b, "%s{\"id\":\"%s\",\"title\":\"the map wall, %s\",\"links\":[",
                        i ? "," : "", themes[i], i ? "dark (the wall)" : "day (the desk)");
        snprintf(href, sizeof href, "%s/styles/%s.json", base, themes[i]);
        situd_add_link(&b, 1, href, "stylesheet", STYLE_TYPE, "MapLibre style (spec v8)");
        situ_buf_adds(&b, "]}");
    }
    situ_buf_adds(&b, "]}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* /styles and /styles/{day,dark}.json */
situd_result situd_route_styles(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    const char *rest = r->rest ? r->rest : "";
    if (!*rest)
        return style_list(r);
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(themes[i]);
        if (!strncmp(rest, themes[i], n) && !strcmp(rest + n, ".json"))
            return style_doc(r, themes[i]);
    }
    return situd_problem(r, 404, "styleId", "no style '%.40s': /styles/day.json or dark.json",
                         rest);
}

/*
 * route_web.c: the pages' files. Serves the map wall's index.html at /
 * (through situd_route_web_index), every file under /web/ from cfg->web_dir,
 * the township officer's phone page at /m/ (m.html, its service worker
 * m-sw.js as /m/sw.js, and the same files of web_dir under /m/, so that the
 * worker's scope /m/ holds the page, its modules and the map's own worker), and
 * /web/schema.json, the collection table's vocabulary (fields, items,
 * departments) that the page labels and pickers read, and the wall's time
 * zone ([web] timezone). Owns path validation
 * (only [A-Za-z0-9._/-], no empty or dot-led segment, so no "..", and the
 * resolved file must lie inside web_dir), content types by extension (a file
 * of another type is not served), strong ETags, If-None-Match -> 304,
 * Cache-Control, and a gzip copy of compressible files. Lists no folders.
 *
 * The cache: a file is read on its first request and kept, with its ETag and
 * gzip copy, while its size and mtime stay the same, so a rebuilt asset is
 * served by the next request without a restart.
 *
 *     absent --GET--> read, hash, gzip --> cached --stat differs--> re-read
 */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "routes.h"
#include "situ/gzip.h"
#include "situ/schema.h"

#define WEB_PATH_MAX 200            /* longest path under /web/ */
#define WEB_FILE_MAX (16u << 20)    /* largest file served */
#define WEB_CACHE_FILES 64          /* files kept at once */
#define WEB_CACHE_BYTES (64u << 20) /* bytes kept at once, gzip copies included */

/* Content types by extension; `zip` marks types worth a gzip copy. */
static const struct {
    const char *ext;
    const char *ctype;
    int zip;
} types[] = {
    {".html", "text/html; charset=utf-8", 1},
    {".js", "text/javascript; charset=utf-8", 1},
    {".mjs", "text/javascript; charset=utf-8", 1},
    {".css", "text/css; charset=utf-8", 1},
    {".json", "application/json", 1},
    {".geojson", "application/geo+json", 1},
    {".svg", "image/svg+xml", 1},
    {".png", "image/png", 0},
    {".ico", "image/x-icon", 0},
    {".woff2", "font/woff2", 0},
    {".pbf", "application/x-protobuf", 0},
};

/* What the page may load: its own origin only, whatever the markup says. */
static const char page_csp[] =
    "default-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; "
    "child-src 'self' blob:; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'";

typedef struct web_file {
    char path[WEB_PATH_MAX + 1]; /* relative to web_dir */
    const char *ctype;
    off_t size;
    struct timespec mtime;
    char *body, *gz; /* gz is NULL when not worth it */
    size_t nbody, ngz;
    char etag[20]; /* 16 hex digits of the body's FNV-1a */
} web_file;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static web_file cache[WEB_CACHE_FILES];
static int ncache;
static size_t cache_bytes;

/* ---- paths ------------------------------------------------------------------ */

/* 1 when p is a safe relative path: allowed bytes only, no empty segment, no
 * segment that starts with a dot (so no "..", no hidden file). */
static int path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > WEB_PATH_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        int seg_start = i == 0 || p[i - 1] == '/';
        if (seg_start && (c == '/' || c == '.'))
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '/' || c == '-'))
            return 0;
    }
    return p[n - 1] != '/';
}

/* The content-type row of path p, or -1 when its extension is not served. */
static int type_of(const char *p)
{
    size_t n = strlen(p);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t k = strlen(types[i].ext);
        if (n > k && !strcmp(p + n - k, types[i].ext))
            return (int)i;
    }
    return -1;
}

/* Opens dir/rel for reading when its real path lies inside dir's real path;
 * returns the descriptor or -1. */
static int open_inside(const char *dir, const char *rel)
{
    char full[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, rel) >= sizeof full ||
        !realpath(dir, real_dir) || !realpath(full, real_file))
        return -1;
    size_t n = strlen(real_dir);
    if (strncmp(real_file, real_dir, n) != 0 || real_file[n] != '/')
        return -1;
    return open(real_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* ---- the cache -------------------------------------------------------------- */

static void etag_of(const char *p, size_t n, char out[20])
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    snprintf(out, 20, "%016llx", (unsigned long long)h);
}

/* A gzip copy of p (malloc'd, *out_n bytes), or NULL when it saves under a
 * tenth or memory fails. */
static char *gzip_of(const char *p, size_t n, size_t *out_n)
{
    size_t got;
    char *out = n < 1024 ? NULL : situ_gzip(p, n, 9, &got);
    if (out && got > n - n / 10) {
        free(out);
        return NULL;
    }
    if (out)
        *out_n = got;
    return out;
}

/* Reads the open file fd of st.st_size bytes into f (body, ETag, gzip copy).
 * Returns 0, or -1 with f untouched. */
static int file_fill(web_file *f, int fd, const struct stat *st, int type)
{
    size_t n = (size_t)st->st_size;
    char *body = malloc(n ? n : 1);
    size_t got = 0;
    while (body && got < n) {
        ssize_t k = read(fd, body + got, n - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    if (!body || got != n) {
        free(body);
        return -1;
    }
    f->body = body, f->nbody = n;
    f->gz = types[type].zip ? gzip_of(body, n, &f->ngz) : NULL;
    if (!f->gz)
        f->ngz = 0;
    f->ctype = types[type].ctype;
    f->size = st->st_size;
    f->mtime = st->st_mtim;
    etag_of(body, n, f->etag);
    return 0;
}

static void file_dispose(web_file *f)
{
    free(f->body);
    free(f->gz);
    memset(f, 0, sizeof *f);
}

static void cache_clear(void)
{
    for (int i = 0; i < ncache; i++)
        file_dispose(&cache[i]);
    ncache = 0;
    cache_bytes = 0;
}

static int same_stat(const web_file *f, const struct stat *st)
{
    return f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
           f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The cached, current copy of rel (read now if absent or changed), or NULL
 * when there is no such regular file. Call with cache_lock held; the entry
 * stays valid until the lock is released. */
static web_file *cache_get(const char *dir, const char *rel, int type)
{
    int fd = open_inside(dir, rel);
    struct stat st;
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > WEB_FILE_MAX) {
        close(fd);
        return NULL;
    }
    web_file *f = NULL;
    for (int i = 0; i < ncache && !f; i++)
        if (!strcmp(cache[i].path, rel))
            f = &cache[i];
    if (f && same_stat(f, &st)) {
        close(fd);
        return f;
    }
    if (f) { /* changed on disk: the slot is refilled in place */
        cache_bytes -= f->nbody + f->ngz;
        file_dispose(f);
    } else {
        if (ncache == WEB_CACHE_FILES || cache_bytes + (size_t)st.st_size > WEB_CACHE_BYTES)
            cache_clear();
        f = &cache[ncache++];
    }
    snprintf(f->path, sizeof f->path, "%s", rel);
    int rc = file_fill(f, fd, &st, type);
    close(fd);
    if (rc) {
        *f = cache[--ncache]; /* the last slot moves into the hole */
        memset(&cache[ncache], 0, sizeof cache[ncache]);
        return NULL;
    }
    cache_bytes += f->nbody + f->ngz;
    return f;
}

/* ---- answers ----------------------------------------------------------------- */

/* 1 when the request's If-None-Match names etag (either representation) or is "*". */
static int not_modified(situd_req *r, const char *etag)
{
    const char *inm = situd_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
    char quoted[24];
    snprintf(quoted, sizeof quoted, "\"%s", etag);
    return inm && (strstr(inm, quoted) || !strcmp(inm, "*"));
}

static void add_common_headers(struct MHD_Response *resp, const char *etag, int gz, int page)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "\"%s%s\"", etag, gz ? "-gz" : "");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, quoted);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (page)
        MHD_add_response_header(resp, "Content-Security-Policy", page_csp);
}

/* Answers f (200 or 304); call with cache_lock held: the body is copied. */
static situd_result send_file(situd_req *r, const web_file *f, int page)
{
    int gz = f->gz && situd_accepts_gzip(r);
    if (not_modified(r, f->etag)) {
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        add_common_headers(resp, f->etag, gz, page);
        return situd_reply_response(r, MHD_HTTP_NOT_MODIFIED, resp);
    }
    size_t n = gz ? f->ngz : f->nbody;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(n, gz ? f->gz : f->body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return situd_problem(r, 503, NULL, "out of memory");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->ctype);
    if (gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    add_common_headers(resp, f->etag, gz, page);
    r->bytes = n;
    return situd_reply_response(r, MHD_HTTP_OK, resp);
}

/* Serves rel from web_dir; 1 and *out when it did, 0 when there is no such file. */
static int serve_file(situd_req *r, const char *rel, int page, situd_result *out)
{
    int type = type_of(rel);
    if (type < 0)
        return 0;
    pthread_mutex_lock(&cache_lock);
    web_file *f = cache_get(r->cfg->web_dir, rel, type);
    if (f)
        *out = send_file(r, f, page);
    pthread_mutex_unlock(&cache_lock);
    return f != NULL;
}

/* ---- schema.json --------------------------------------------------------------- */

static void schema_domain(situ_buf *b, const char *domain)
{
    situ_buf_adds(b, ",\"domain\":");
    if (strstr(domain, "..")) {
        situ_buf_add_json_str(b, domain);
        return;
    }
    situ_buf_addc(b, '[');
    for (const char *p = domain; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        char v[64];
        snprintf(v, sizeof v, "%.*s", (int)(n < sizeof v ? n : sizeof v - 1), p);
        situ_buf_add_json_str(b, v);
        if (!bar)
            break;
        situ_buf_addc(b, ',');
        p = bar + 1;
    }
    situ_buf_addc(b, ']');
}

static void schema_collection(situ_buf *b, const situ_collection *c)
{
    static const char *const ftypes[] = {"", "text", "int", "real", "bool"};
    situ_buf_adds(b, "{\"id\":");
    situ_buf_add_json_str(b, c->id);
    situ_buf_adds(b, ",\"title_zh\":");
    situ_buf_add_json_str(b, c->title_zh);
    situ_buf_adds(b, ",\"title_en\":");
    situ_buf_add_json_str(b, c->title_en);
    situ_buf_printf(b, ",\"geometry\":\"%s\",\"minzoom\":%d,\"fields\":[",
                    c->gtype == SITU_GT_POINT             ? "Point"
                    : c->gtype == SITU_GT_MULTILINESTRING ? "MultiLineString"
                                                          : "MultiPolygon",
                    c->minzoom);
    for (int i = 0; i < c->nfields; i++) {
        const situ_field *f = &c->fields[i];
        situ_buf_printf(b, "%s{\"name\":", i ? "," : "");
        situ_buf_add_json_str(b, f->name);
        situ_buf_printf(b, ",\"type\":\"%s\",\"title_zh\":", ftypes[f->type]);
        situ_buf_add_json_str(b, f->title_zh);
        if (f->domain)
            schema_domain(b, f->domain);
        situ_buf_addc(b, '}');
    }
    situ_buf_adds(b, "]}");
}

static void schema_items_depts(situ_buf *b)
{
    situ_buf_adds(b, "],\"items\":[");
    for (int i = 0; i < situ_schema_nitems(); i++) {
        const situ_item *it = situ_schema_item(i);
        situ_buf_printf(b, "%s{\"code\":", i ? "," : "");
        situ_buf_add_json_str(b, it->code);
        situ_buf_adds(b, ",\"name_zh\":");
        situ_buf_add_json_str(b, it->name_zh);
        situ_buf_adds(b, ",\"name_en\":");
        situ_buf_add_json_str(b, it->name_en);
        situ_buf_adds(b, ",\"unit\":");
        situ_buf_add_json_str(b, it->unit);
        situ_buf_addc(b, '}');
    }
    situ_buf_adds(b, "],\"departments\":[");
    for (int i = 0; i < situ_schema_ndepts(); i++) {
        const situ_dept *d = situ_schema_dept(i);
        situ_buf_printf(b, "%s{\"code\":", i ? "," : "");
        situ_buf_add_json_str(b, d->code);
        situ_buf_adds(b, ",\"name_zh\":");
        situ_buf_add_json_str(b, d->name_zh);
        situ_buf_adds(b, ",\"name_en\":");
        situ_buf_add_json_str(b, d->name_en);
        situ_buf_printf(b, ",\"interval_s\":%d}", d->interval_s);
    }
    situ_buf_addc(b, ']');
}

static web_file schema_file;
static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;

/* Builds schema.json; the tables are compiled in and the config is read
 * once, so it never changes. */
static void schema_build(const char *timezone)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"collections\":[");
    for (int i = 0; i < SITU_NCOLLECTIONS; i++) {
        if (i)
            situ_buf_addc(&b, ',');
        schema_collection(&b, situ_schema_collection((situ_coll_id)i));
    }
    schema_items_depts(&b);
    situ_buf_adds(&b, ",\"timezone\":");
    situ_buf_add_json_str(&b, timezone);
    situ_buf_adds(&b, "}\n");
    if (b.oom) {
        situ_buf_dispose(&b);
        return;
    }
    schema_file.body = situ_buf_steal(&b, &schema_file.nbody);
    schema_file.ctype = "application/json";
    schema_file.gz = gzip_of(schema_file.body, schema_file.nbody, &schema_file.ngz);
    etag_of(schema_file.body, schema_file.nbody, schema_file.etag);
}

static situd_result send_schema(situd_req *r)
{
    pthread_mutex_lock(&schema_lock);
    if (!schema_file.body)
        schema_build(r->cfg->web_timezone);
    pthread_mutex_unlock(&schema_lock);
    if (!schema_file.body)
        return situd_problem(r, 503, NULL, "out of memory building schema.json");
    return send_file(r, &schema_file, 0);
}

/* ---- routes -------------------------------------------------------------------- */

/* Answers rel (a path under web_dir, or schema.json); page: rel is a page,
 * sent with its Content-Security-Policy. */
static situd_result serve_rel(situd_req *r, const char *rel, int page)
{
    situd_result res;
    if (!path_ok(rel))
        return situd_problem(r, 404, NULL, "no such file: %.*s", WEB_PATH_MAX, r->path);
    if (!strcmp(rel, "schema.json"))
        return send_schema(r);
    if (serve_file(r, rel, page, &res))
        return res;
    return situd_problem(r, 404, NULL, "no such file: %.*s", WEB_PATH_MAX, r->path);
}

situd_result situd_route_web(situd_req *r)
{
    return serve_rel(r, r->rest, 0);
}

/* /m/: the phone page, its service worker, and web_dir's files under the
 * worker's scope. */
situd_result situd_route_phone(situd_req *r)
{
    if (!r->rest[0])
        return serve_rel(r, "m.html", 1);
    return serve_rel(r, !strcmp(r->rest, "sw.js") ? "m-sw.js" : r->rest, 0);
}

situd_result situd_route_web_index(situd_req *r)
{
    static const char fallback[] =
        "<!doctype html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
        "<title>situ 一网四图</title></head><body><h1>situ 一网四图</h1>"
        "<p>The map wall's files are not built (web_dir has no index.html): "
        "build the <code>web</code> target or set [web] dir.</p><ul>"
        "<li><a href=\"/collections\">collections</a></li>"
        "<li><a href=\"/townships\">townships</a></li>"
        "<li><a href=\"/api\">API</a></li></ul></body></html>\n";
    situd_result res;
    if (serve_file(r, "index.html", 1, &res))
        return res;
    return situd_reply_static(r, 200, "text/html; charset=utf-8", fallback, sizeof fallback - 1);
}

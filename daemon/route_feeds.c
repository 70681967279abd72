/*
 * route_feeds.c: the one network's routes. POST /feeds/{dept}/events and
 * /feeds/{dept}/cap (department, then bearer token, then query and media
 * type, then the body, read and validated here; then queued for the
 * writer, the connection suspended until the events are durable, and
 * answered when the handler is called again); GET /feeds (the departments'
 * state) and GET /events (SSE).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "drills.h"
#include "events.h"
#include "feedwriter.h"
#include "routes.h"
#include "situ/cap.h"

/* 401 with the WWW-Authenticate challenge RFC 6750 asks for. */
static situd_result unauthorized(situd_req *r, const char *detail)
{
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,"
                      "\"detail\":");
    situ_buf_add_json_str(&b, detail);
    situ_buf_adds(&b, ",\"parameter\":\"Authorization\",\"instance\":");
    situ_buf_add_json_str(&b, r->path);
    situ_buf_adds(&b, "}\n");
    size_t n;
    char *p = situ_buf_steal(&b, &n);
    if (!p)
        return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(p);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/problem+json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"situ feeds\"");
    r->bytes = n;
    return situd_reply_response(r, 401, resp);
}

/* The token of "Authorization: Bearer TOKEN", or NULL. */
const char *situd_bearer(situd_req *r)
{
    const char *h = situd_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7))
        return NULL;
    for (h += 7; *h == ' '; h++)
        ;
    return *h ? h : NULL;
}

int situd_check_token(situd_req *r, const char *dept, situd_result *out)
{
    int auth = situd_feedwriter_auth(dept, situd_bearer(r));
    if (auth == SITU_EAUTH)
        *out = unauthorized(r, situd_bearer(r) ? "unknown or revoked token"
                                               : "a department token is required: "
                                                 "Authorization: Bearer TOKEN");
    else if (auth == SITU_EBUSY) /* not a verdict on the token: a client keeps it */
        *out = situd_busy(r, "feeds are not being written now (situd is stopping)");
    else if (auth)
        *out = situd_problem(r, 403, "Authorization", "this token is not %s's", dept);
    return auth != 0;
}

/* "{dept}/events" or "{dept}/cap" -> dept and whether it is CAP. */
static int feed_path(const char *rest, char dept[64], int *out_cap)
{
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || slash - rest >= 64)
        return -1;
    memcpy(dept, rest, (size_t)(slash - rest));
    dept[slash - rest] = '\0';
    if (!strcmp(slash + 1, "events"))
        return *out_cap = 0, 0;
    if (!strcmp(slash + 1, "cap"))
        return *out_cap = 1, 0;
    return -1;
}

/* 1 when the body's media type (parameters such as charset aside) is one
 * this feed reads: JSON for events, XML for CAP. */
static int media_type_ok(situd_req *r, int cap)
{
    static const char *const json[] = {"application/json", NULL};
    static const char *const xml[] = {"application/cap+xml", "application/xml", "text/xml", NULL};
    const char *ct = situd_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = ct ? strcspn(ct, "; \t") : 0;
    for (const char *const *t = cap ? xml : json; ct && *t; t++)
        if (strlen(*t) == n && !strncasecmp(ct, *t, n))
            return 1;
    return 0;
}

situd_result situd_feed_answer(situd_req *r, situ_feed_batch *b)
{
    situd_result res;
    if (b->n == 1 && b->ev[0].type == SITU_FEED_CAP && b->ev[0].status == SITU_FEED_REJECTED) {
        res = situd_problem(r, 422, b->ev[0].field, "%s: %s", b->ev[0].field, b->ev[0].reason);
    } else {
        situ_buf out;
        situ_buf_init(&out);
        situ_feed_batch_json(b, &out);
        res = situd_reply_buf(r, 200, "application/json", &out);
    }
    return res;
}

static situd_result answer_job(situd_req *r, situd_feedjob *job)
{
    if (!job)
        return situd_problem(r, 503, NULL, "out of memory");
    const char *why;
    situ_feed_batch *b = situd_feedjob_batch(job, &why);
    situd_result res;
    if (!b) /* not stored (or not known to be durable): send again */
        res = situd_busy(r, "%s", why);
    else
        res = situd_feed_answer(r, b);
    situd_feedjob_free(job);
    return res;
}

static int has_pending(const situ_feed_batch *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->ev[i].status == SITU_FEED_PENDING)
            return 1;
    return 0;
}

situd_result situd_feed_read_error(situd_req *r, const situ_err *err, int cap)
{
    switch (err->code) {
    case SITU_ELIMIT:
        return situd_problem(r, 413, "body", "%s", err->msg);
    case SITU_EINVAL: /* a CAP refused for a member, "<status> is Exercise: ...": names it */
        if (cap && err->msg[0] == '<' && strchr(err->msg, '>')) {
            char member[64];
            snprintf(member, sizeof member, "%.*s", (int)(strchr(err->msg, '>') - err->msg - 1),
                     err->msg + 1);
            return situd_problem(r, 422, member, "%s", err->msg);
        }
        return situd_problem(r, 422, "body", "%s", err->msg);
    case SITU_ENOMEM:
        return situd_problem(r, 503, NULL, "%s", err->msg);
    default:
        return situd_problem(r, 400, "body", "%s%s", cap ? "CAP: " : "", err->msg);
    }
}

situd_result situd_route_feed_post(situd_req *r)
{
    situd_feedjob *job = situd_feedwriter_take(r, r->t0);
    if (job) /* called again after the writer resumed this connection */
        return answer_job(r, job);
    char dept[64];
    int cap;
    if (feed_path(r->rest, dept, &cap))
        return situd_problem(r, 404, NULL,
                             "no such feed; POST /feeds/{dept}/events or "
                             "/feeds/{dept}/cap");
    if (situ_schema_dept_index(dept) < 0)
        return situd_problem(r, 404, NULL, "no department '%s'", dept);
    char why[256]; /* a read-only store: say so before a token that could not be loaded */
    if (situd_feedwriter_health(why, sizeof why) == SITUD_WRITES_DISABLED)
        return situd_problem(r, 503, NULL, "feeds are not being written: %s", why);
    situd_result res;
    if (situd_check_token(r, dept, &res))
        return res;
    static const char *const no_args[] = {NULL};
    if (situd_reject_unknown_args(r, no_args, &res))
        return res;
    if (!media_type_ok(r, cap))
        return situd_problem(r, 415, "Content-Type", "Content-Type: this feed takes %s",
                             cap ? "application/cap+xml (or application/xml, text/xml)"
                                 : "application/json");
    if (!situd_body_read(r)) /* the head passed: now, and only now, the body */
        return situd_body_expect(r);
    if (situd_drill_child(r->cfg)) /* applied by the drill's player, at scenario time */
        return situd_drillplay_post(r, dept, cap);
    situ_feed_batch *b = NULL;
    situ_err err = {0};
    int rc = cap ? situ_cap_parse(dept, r->body, r->nbody,
                                  r->snap ? r->snap->colls[SITU_C_TOWNSHIPS] : NULL, &b, &err)
                 : situ_feed_parse(dept, r->body, r->nbody, &b, &err);
    if (rc)
        return situd_feed_read_error(r, &err, cap);
    if (!has_pending(b)) /* nothing valid: nothing to write */
        return answer_job(r, situd_feedjob_of(b));
    int suspend = situd_can_suspend(r->conn);
    if (suspend) { /* server.c takes a new snapshot when it calls us again */
        situ_snapshot_release(r->snap);
        r->snap = NULL;
    }
    rc = situd_feedwriter_submit(b, suspend ? r->conn : NULL, r, r->t0, &job);
    if (rc == SITU_EBUSY)
        return situd_busy(r, "the feeds writer is behind; send again shortly");
    if (rc)
        return situd_busy(r, "feeds are not being written (situd is starting, "
                             "stopping, or could not open the file read-write)");
    return suspend ? MHD_YES : answer_job(r, job);
}

situd_result situd_route_feeds(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    char now[32];
    situ_store_now(now);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_printf(&b, "{\"generated_at\":\"%s\",", now);
    situd_feedwriter_status(r->snap, &b);
    situ_buf_adds(&b, "}\n");
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* Last-Event-ID (or ?since=, for clients that cannot set headers): the
 * newest seq the client has (0: none yet, replay all); -1 when neither is
 * given (live only); -2 when malformed, with *out_name the one given. */
static long long resume_point(situd_req *r, const char **out_name)
{
    const char *s = situd_header(r, "Last-Event-ID");
    *out_name = "Last-Event-ID";
    if (!s || !*s)
        s = situd_arg(r, "since"), *out_name = "since";
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    return *end || errno || v < 0 || !isdigit((unsigned char)*s) ? -2 : v;
}

situd_result situd_route_events(situd_req *r)
{
    static const char *const allowed[] = {"since", NULL};
    situd_result res;
    if (situd_reject_unknown_args(r, allowed, &res))
        return res;
    const char *name;
    long long after = resume_point(r, &name);
    if (after == -2)
        return situd_problem(r, 400, name, "%s must be an event sequence number", name);
    char msg[160];
    struct MHD_Response *resp = situd_events_response(
        r->conn, after, r->cfg->max_listeners, r->cfg->max_listeners_per_address, msg, sizeof msg);
    if (!resp)
        return situd_busy(r, "%s", msg);
    situ_snapshot_release(r->snap); /* a stream lives long: pin no snapshot */
    r->snap = NULL;
    return situd_reply_response(r, 200, resp);
}

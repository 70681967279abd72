/*
 * drills.c: the drills this situd runs (issue 19), one process each (see
 * drills.h and README "Drills in situd"). POST /drills checks the token
 * (emergency_management), the speed and the scenario (situ_drill_check on
 * the current snapshot), copies the store into DB.drills/ID.sqlite, starts
 * /proc/self/exe on it (--drill ID, 127.0.0.1:0, nice 10) and waits for its
 * port on a pipe; GET /drills lists them; /drills/{id}[/...] goes to the
 * drill's process (proxy.c): its status, controls and record as they are,
 * everything else with the prefix taken off. DELETE /drills/{id} ends the
 * process (its store stays on disk). A drill process ends with situd.
 *
 *   drill: copy -> spawn -> (port) SERVING -(DELETE, situd stops)-> TERM
 *          -(5 s)-> KILL -> reaped; a process that dies on its own is reaped
 *          when next asked for and answered 404 naming id
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drills.h"
#include "feedwriter.h"
#include "routes.h"
#include "situ/db.h"
#include "situ/drill.h"

#define DRILLS_MAX 64       /* slots; [drills] max bounds those in use */
#define PORT_WAIT_MS 120000 /* a drill process has this long to serve */
#define STATUS_WAIT_MS 2000 /* a drill's status, asked for a list */
#define DRILL_NICE 10

typedef struct drill {
    char id[48];
    pid_t pid;
    int port;
} drill;

static struct {
    pthread_mutex_t lock;
    drill d[DRILLS_MAX];
    int n;
    unsigned counter;
} G = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- processes ----------------------------------------------------------------- */

/* Under G.lock: forgets drills whose process has ended. */
static void reap(void)
{
    for (int i = 0; i < G.n;) {
        if (waitpid(G.d[i].pid, NULL, WNOHANG) == G.d[i].pid) {
            fprintf(stderr, "situd: drill %s: its process %d ended\n", G.d[i].id, (int)G.d[i].pid);
            G.d[i] = G.d[--G.n];
        } else {
            i++;
        }
    }
}

/* SIGTERM, then SIGKILL when it has not ended within 5 s; reaped. */
static void end_process(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

void situd_drills_stop(void)
{
    situd_proxy_stop();
    pthread_mutex_lock(&G.lock);
    for (int i = 0; i < G.n; i++)
        kill(G.d[i].pid, SIGTERM); /* all at once, then each waited for */
    for (int i = 0; i < G.n; i++)
        end_process(G.d[i].pid);
    G.n = 0;
    pthread_mutex_unlock(&G.lock);
}

/* In the forked child: only async-signal-safe calls until exec. */
static void exec_drill(char *const argv[], int port_fd, pid_t parent)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* situd gone, however: the drill goes */
    if (getppid() != parent)
        _exit(1);
    setpriority(PRIO_PROCESS, 0, DRILL_NICE);
    if (port_fd != 3) {
        dup2(port_fd, 3);
        close(port_fd);
    }
    syscall(SYS_close_range, 4u, ~0u, 0u);
    execv("/proc/self/exe", argv);
    _exit(127);
}

/* Reads the port the drill process writes on fd once it serves: the port,
 * or 0 when it ended (or took too long) first. */
static int read_port(int fd)
{
    char buf[16] = "";
    size_t n = 0;
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    while (n < sizeof buf - 1 && poll(&pf, 1, PORT_WAIT_MS) == 1) {
        ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        if (memchr(buf, '\n', n))
            break;
    }
    buf[n] = '\0';
    return atoi(buf);
}

/* Starts the drill process on store for id; 0 with *out, or -1 with msg. */
static int spawn(const situd_config *cfg, const char *id, const char *store, const char *speed,
                 const char *start, drill *out, char *msg, size_t nmsg)
{
    int pfd[2];
    char *argv[24];
    int k = 0;
    argv[k++] = (char *)"situd";
    argv[k++] = (char *)"--db", argv[k++] = (char *)store;
    argv[k++] = (char *)"--listen", argv[k++] = (char *)"127.0.0.1:0";
    argv[k++] = (char *)"--drill", argv[k++] = (char *)id;
    argv[k++] = (char *)"--drill-speed", argv[k++] = (char *)speed;
    argv[k++] = (char *)"--port-fd", argv[k++] = (char *)"3";
    argv[k++] = (char *)"--threads", argv[k++] = (char *)"2";
    if (start[0])
        argv[k++] = (char *)"--drill-start", argv[k++] = (char *)start;
    if (cfg->config_path[0])
        argv[k++] = (char *)"--config", argv[k++] = (char *)cfg->config_path;
    if (cfg->quiet)
        argv[k++] = (char *)"--quiet";
    argv[k] = NULL;
    if (pipe2(pfd, O_CLOEXEC))
        return snprintf(msg, nmsg, "pipe: %s", strerror(errno)), -1;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        exec_drill(argv, pfd[1], parent);
    }
    close(pfd[1]);
    if (pid < 0) {
        close(pfd[0]);
        return snprintf(msg, nmsg, "fork: %s", strerror(errno)), -1;
    }
    int port = read_port(pfd[0]);
    close(pfd[0]);
    if (port <= 0) {
        end_process(pid);
        return snprintf(msg, nmsg, "the drill's process did not start (see situd's log)"), -1;
    }
    *out = (drill){.pid = pid, .port = port};
    snprintf(out->id, sizeof out->id, "%s", id);
    return 0;
}

/* ---- POST /drills ---------------------------------------------------------------- */

typedef struct start_req {
    situ_drill_scenario *s;
    char speed[8];
    char start[40];
} start_req;

/* The scenario of body o: inline, or a file of the scenarios folder. */
static situd_result read_scenario(situd_req *r, json_t *o, start_req *q, int *ok)
{
    json_t *inline_s = json_object_get(o, "scenario");
    const char *name = json_string_value(json_object_get(o, "scenario_name"));
    situ_err err = {0};
    *ok = 0;
    if (json_is_object(inline_s)) {
        char *text = json_dumps(inline_s, JSON_COMPACT);
        int rc = text ? situ_drill_parse(text, strlen(text), NULL, &q->s, &err)
                      : situ_err_set(&err, SITU_ENOMEM, "out of memory");
        free(text);
        if (rc)
            return situd_problem(r, 400, "scenario", "scenario: %s", err.msg);
    } else if (name) {
        if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(name) ||
            strlen(name) > 64)
            return situd_problem(r, 400, "scenario_name",
                                 "scenario_name: a name such as xiang_flood");
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.json", r->cfg->drills_dir, name);
        if (access(path, R_OK))
            return situd_problem(r, 404, "scenario_name", "no scenario '%s' is shipped here", name);
        if (situ_drill_load(path, NULL, &q->s, NULL, &err))
            return situd_problem(r, 400, "scenario_name", "%s: %s", name, err.msg);
    } else {
        return situd_problem(r, 400, "scenario",
                             "the body needs \"scenario\" (a scenario object) or "
                             "\"scenario_name\" (one shipped, such as xiang_flood)");
    }
    if (situ_drill_check(q->s, r->snap, &err) < 0)
        return situd_problem(r, 503, NULL, "%s", err.msg);
    if (q->s->nfaults) {
        const situ_drill_fault *f = &q->s->faults[0];
        char param[256];
        snprintf(param, sizeof param, "%s%s%s", f->inject[0] ? f->inject : "scenario",
                 f->field[0] ? "." : "", f->field);
        return situd_problem(r, 422, param, "%d fault%s; the first: inject %s (#%d) %s: %s",
                             q->s->nfaults, q->s->nfaults == 1 ? "" : "s",
                             f->inject[0] ? f->inject : "-", f->index, f->field, f->reason);
    }
    *ok = 1;
    return MHD_YES;
}

/* Speed and start of body o into q: 1, or 0 having answered 400. */
static int read_speed_start(situd_req *r, json_t *o, start_req *q, situd_result *res)
{
    json_t *v = json_object_get(o, "speed");
    situ_err err = {0};
    int speed;
    snprintf(q->speed, sizeof q->speed, "1");
    if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 60)
        snprintf(q->speed, sizeof q->speed, "%d", (int)json_integer_value(v));
    else if (json_is_string(v) && strlen(json_string_value(v)) < sizeof q->speed)
        snprintf(q->speed, sizeof q->speed, "%s", json_string_value(v));
    else if (v)
        snprintf(q->speed, sizeof q->speed, "?");
    if (situ_drill_speed_parse(q->speed, &speed, &err)) {
        *res = situd_problem(r, 400, "speed", "speed: 1 to 60, or \"max\"");
        return 0;
    }
    const char *start = json_string_value(json_object_get(o, "start"));
    char norm[32];
    long long epoch;
    if (json_object_get(o, "start") && (!start || situ_feed_time(start, norm, &epoch))) {
        *res = situd_problem(r, 400, "start",
                             "start: an RFC 3339 time such as 2026-06-18T06:00:00+08:00");
        return 0;
    }
    snprintf(q->start, sizeof q->start, "%s", start ? start : "");
    return 1;
}

/* Under G.lock: a new drill id (time and a counter) whose store does not exist. */
static void new_id(const situd_config *cfg, char id[48], char store[1200])
{
    char ts[24];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y%m%dT%H%M%S", &tm);
    do {
        snprintf(id, 48, "%s-%u", ts, ++G.counter);
        snprintf(store, 1200, "%s.drills/%s.sqlite", cfg->db, id);
    } while (access(store, F_OK) == 0);
}

/* Copies the live store and starts the drill's process; answers 201. */
static situd_result launch(situd_req *r, start_req *q)
{
    char id[48], store[1200], dir[1100], msg[512];
    situ_err err = {0};
    drill d;
    pthread_mutex_lock(&G.lock);
    reap();
    if (G.n >= r->cfg->max_drills || G.n >= DRILLS_MAX) {
        pthread_mutex_unlock(&G.lock);
        return situd_busy(r,
                          "%d drills run already, the most this situd runs at once: "
                          "DELETE /drills/{id} ends one",
                          G.n);
    }
    new_id(r->cfg, id, store);
    snprintf(dir, sizeof dir, "%s.drills", r->cfg->db);
    if (mkdir(dir, 0750) && errno != EEXIST) {
        pthread_mutex_unlock(&G.lock);
        return situd_problem(r, 503, NULL, "cannot make %s: %s", dir, strerror(errno));
    }
    int rc = situ_drill_store_create(r->cfg->db, store, q->s, 0, &err);
    if (rc) {
        pthread_mutex_unlock(&G.lock);
        return situd_problem(r, 503, NULL, "the drill's store: %s", err.msg);
    }
    if (spawn(r->cfg, id, store, q->speed, q->start, &d, msg, sizeof msg)) {
        pthread_mutex_unlock(&G.lock);
        return situd_problem(r, 503, NULL, "drill %s: %s", id, msg);
    }
    G.d[G.n++] = d;
    pthread_mutex_unlock(&G.lock);
    fprintf(stderr, "situd: drill %s (%s) started: process %d on port %d, store %s\n", id,
            q->s->exercise_id, (int)d.pid, d.port, store);
    char path[128], loc[128];
    snprintf(path, sizeof path, "/drills/%s", id);
    snprintf(loc, sizeof loc, "/drills/%s/", id);
    situ_buf b;
    situ_buf_init(&b);
    int st =
        situd_proxy_get(d.port, path, situd_header(r, MHD_HTTP_HEADER_HOST), STATUS_WAIT_MS, &b);
    if (st != 200)
        situ_buf_printf(&b, "{\"id\":\"%s\",\"state\":\"running\"}\n", id);
    size_t n;
    char *p = situ_buf_steal(&b, &n);
    struct MHD_Response *resp =
        p ? MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp)
        free(p);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, loc);
        MHD_add_response_header(resp, "X-Situ-Drill", id);
    }
    return situd_reply_response(r, 201, resp);
}

situd_result situd_route_drills_start(situd_req *r)
{
    if (situd_drill_child(r->cfg))
        return situd_problem(r, 403, NULL, "a drill does not start drills");
    situd_result res;
    if (situd_check_token(r, "emergency_management", &res))
        return res;
    static const char *const no_args[] = {NULL};
    if (situd_reject_unknown_args(r, no_args, &res))
        return res;
    if (situ_db_is_url(r->cfg->db))
        return situd_problem(r, 503, NULL,
                             "drills of a PostgreSQL store are played with `situ drill start` "
                             "(situd runs drills of a SpatiaLite store)");
    if (!situd_body_read(r))
        return situd_body_expect(r);
    json_error_t je;
    json_t *o = json_loadb(r->body, r->nbody, 0, &je);
    start_req q = {0};
    int ok = 0;
    if (!json_is_object(o))
        res = situd_problem(r, 400, "body", "the body must be a JSON object: %s", je.text);
    else if (read_speed_start(r, o, &q, &res))
        res = read_scenario(r, o, &q, &ok);
    if (ok)
        res = launch(r, &q);
    situ_drill_free(q.s);
    json_decref(o);
    return res;
}

int situd_drills_any(char id[48])
{
    pthread_mutex_lock(&G.lock);
    int any = G.n > 0;
    if (any)
        snprintf(id, 48, "%s", G.d[0].id);
    pthread_mutex_unlock(&G.lock);
    return any;
}

/* ---- GET /drills, /drills/{id}[/...] ------------------------------------------------ */

situd_result situd_route_drills(situd_req *r)
{
    situd_result res;
    if (situd_reject_args_but_f(r, &res))
        return res;
    drill all[DRILLS_MAX];
    pthread_mutex_lock(&G.lock);
    reap();
    int n = G.n;
    memcpy(all, G.d, (size_t)n * sizeof *all);
    pthread_mutex_unlock(&G.lock);
    situ_buf b;
    situ_buf_init(&b);
    situ_buf_adds(&b, "{\"drills\":[");
    for (int i = 0; i < n; i++) {
        char path[128];
        size_t mark = b.n;
        if (i)
            situ_buf_addc(&b, ',');
        snprintf(path, sizeof path, "/drills/%.47s", all[i].id);
        if (situd_proxy_get(all[i].port, path, situd_header(r, MHD_HTTP_HEADER_HOST),
                            STATUS_WAIT_MS, &b) != 200) {
            b.n = mark;
            situ_buf_printf(&b, "%s{\"id\":\"%s\",\"state\":\"unreachable\"}", i ? "," : "",
                            all[i].id);
        }
        while (b.n && (b.p[b.n - 1] == '\n'))
            b.n--;
    }
    situ_buf_printf(&b, "],\"max\":%d}\n", r->cfg->max_drills);
    return situd_reply_buf(r, 200, "application/json", &b);
}

/* Ends drill d's process (DELETE): its store stays on disk. */
static situd_result end_drill(situd_req *r, const char *id)
{
    pid_t pid = 0;
    pthread_mutex_lock(&G.lock);
    for (int i = 0; i < G.n; i++)
        if (!strcmp(G.d[i].id, id)) {
            pid = G.d[i].pid;
            G.d[i] = G.d[--G.n];
            break;
        }
    pthread_mutex_unlock(&G.lock);
    if (!pid)
        return situd_problem(r, 404, "id", "no drill '%s'", id);
    end_process(pid);
    fprintf(stderr, "situd: drill %s ended (DELETE); its store stays in %s.drills/\n", id,
            r->cfg->db);
    return situd_reply_static(r, 204, NULL, "", 0);
}

situd_result situd_route_drill(situd_req *r)
{
    char id[48];
    const char *slash = strchr(r->rest, '/');
    size_t n = slash ? (size_t)(slash - r->rest) : strlen(r->rest);
    if (!n || n >= sizeof id)
        return situd_problem(r, 404, "id", "no drill '%.*s'", (int)(n < 64 ? n : 64), r->rest);
    memcpy(id, r->rest, n);
    id[n] = '\0';
    const char *rest = slash ? slash + 1 : "";
    int own = !slash || !strcmp(rest, "control") || !strcmp(rest, "record.geojson") ||
              !strcmp(rest, "record.csv");
    if (situd_drill_child(r->cfg))
        return own ? situd_drillplay_route(r, id, slash ? rest : "")
                   : situd_problem(r, 404, "id", "a drill serves no drills");
    if (!slash && !strcmp(r->method, "DELETE")) {
        situd_result res;
        if (situd_check_token(r, "emergency_management", &res))
            return res;
        return end_drill(r, id);
    }
    situd_result res;
    if (own && !strcmp(r->method, "GET") && !r->job && situd_reject_args_but_f(r, &res))
        return res;
    int port = 0;
    pthread_mutex_lock(&G.lock);
    if (!r->job)
        reap();
    for (int i = 0; i < G.n; i++)
        if (!strcmp(G.d[i].id, id))
            port = G.d[i].port;
    pthread_mutex_unlock(&G.lock);
    if (!port)
        return situd_problem(r, 404, "id", "no drill '%s'", id);
    if (!strcmp(r->method, "POST") && !situd_body_read(r))
        return situd_body_expect(r);
    char path[1200];
    if (own)
        snprintf(path, sizeof path, "%s", r->path);
    else
        snprintf(path, sizeof path, "/%s", rest);
    return situd_proxy(r, port, path);
}

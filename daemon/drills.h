/*
 * drills.h: private to daemon/. Drills (issue 19) served under /drills/{id}/.
 *
 * Each running drill is a process of its own: this situd copies its store
 * (situ_drill_store_create) into DB.drills/ID.sqlite and starts its own
 * binary on it (--drill ID, 127.0.0.1, an ephemeral port, nice 10), then
 * proxies /drills/{id}/... to it (drills.c, proxy.c). That child plays the
 * scenario into its store (drillplay.c) and answers the drill's status,
 * controls, record and controllers' posts; everything else it serves is
 * the normal API on the drill's store, every answer marked X-Situ-Drill.
 */
#ifndef SITUD_DRILLS_H
#define SITUD_DRILLS_H

#include "http.h"

/* ---- the parent: the drills it runs (drills.c) ----------------------------- */

/* Kills every drill process (SIGTERM, then SIGKILL after 5 s) and reaps it. */
void situd_drills_stop(void);
/* The id of a drill running (the first), into id: 1, or 0 when none runs. */
int situd_drills_any(char id[48]);
/* POST /drills, GET /drills, and /drills/{id}[/...] of any method. */
situd_result situd_route_drills_start(situd_req *r);
situd_result situd_route_drills(situd_req *r);
situd_result situd_route_drill(situd_req *r);

/* ---- proxying a request to a drill process (proxy.c) ------------------------ */

/* Sends r (method, query, body, the relevant headers) to 127.0.0.1:port
 * as path over HTTP/1.0, and answers with what it answers (status,
 * headers, the body streamed as it comes: /events too). Called again
 * while the head is awaited (the connection is suspended meanwhile). */
situd_result situd_proxy(situd_req *r, int port, const char *path);
/* One GET of path from 127.0.0.1:port (Host: host, may be NULL) within
 * timeout_ms: the status (0 when it could not be asked) and the body
 * appended to out. */
int situd_proxy_get(int port, const char *path, const char *host, int timeout_ms, situ_buf *out);
/* Ends every proxied stream (situd stops). */
void situd_proxy_stop(void);

/* ---- the child: the drill this situd plays (drillplay.c) --------------------- */

/* 1 when this situd serves a drill (--drill). */
int situd_drill_child(const situd_config *cfg);
/* Opens the drill store's scenario and starts the player thread (after
 * the feeds' writer: injects are published as its commits are). 0, or -1
 * with msg. */
int situd_drillplay_start(const situd_config *cfg, char *msg, size_t nmsg);
/* Stops the player thread and closes its store. */
void situd_drillplay_stop(void);
/* In the child: /drills/{id} (status), /drills/{id}/control,
 * /drills/{id}/record.geojson|.csv of its own drill. */
situd_result situd_drillplay_route(situd_req *r, const char *id, const char *rest);
/* A controller's post into the drill, as dept (cap: one CAP alert, which
 * must be an Exercise), applied at scenario time and recorded. */
situd_result situd_drillplay_post(situd_req *r, const char *dept, int cap);
/* Appends "drill":{...} (id, exercise, state) and a comma, for /healthz. */
void situd_drillplay_health(situ_buf *b);

#endif

/*
 * drill_int.h: private to layers/drill/. The scenario's string pool, its
 * fault list, and the JSON reader the CSV importer feeds (a CSV is turned
 * into the same JSON document, so both forms are checked by one reader).
 */
#ifndef SITU_DRILL_INT_H
#define SITU_DRILL_INT_H

#include <jansson.h>

#include "situ/db.h"
#include "situ/drill.h"

/* The time members of a feed event a scenario writes as durations. */
extern const char *const situ__drill_time_members[];

situ_drill_scenario *situ__drill_new(void);
/* Takes ownership of p (freed with the scenario); returns it, or NULL
 * (and frees p) when out of memory. */
const char *situ__drill_keep(situ_drill_scenario *s, char *p);
/* A copy of p[0..n) (NUL-terminated) owned by the scenario; NULL when p
 * is NULL or out of memory. */
const char *situ__drill_dup(situ_drill_scenario *s, const char *p, size_t n);
/* Appends a fault of inject index (-1: the scenario) and id; returns 0, or
 * SITU_ENOMEM. */
int situ__drill_fault(situ_drill_scenario *s, int index, const char *inject, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Reads the scenario document root (borrowed) as situ_drill_parse does. */
int situ__drill_from_json(json_t *root, const char *base_dir, situ_drill_scenario **out,
                          situ_err *err);
/* Reads a file of at most SITU_DRILL_MAX_FILE bytes (NUL-terminated, to
 * free); NULL with err set. */
char *situ__drill_slurp(const char *path, size_t *out_n, situ_err *err);
/* j as JSON text (to free) with reals in 15 digits when that reads back
 * to the same values (75.9, not 75.900000000000006), else in 17. */
char *situ__drill_dump(const json_t *j, size_t flags);
/* ms since the epoch as RFC 3339 UTC, with milliseconds when there are. */
void situ__drill_rfc3339(long long ms, char out[40]);
/* The static code of a department given by code or Chinese name, or NULL. */
const char *situ__drill_dept(const char *name);

/* drill_meta of a drill store (drill_store.c): sets key; its value (to
 * free), NULL when absent. */
int situ__drill_meta_put(situ_db *db, const char *key, const char *value, situ_err *err);
char *situ__drill_meta_get(situ_db *db, const char *key);

/* One row of drill_record (drill_play.c); strings borrowed. */
typedef struct situ__drill_row {
    long long scen_ms, wall_ms, due_ms, delay_ms;
    int has_due, cap, has_box;
    char scen_at[32]; /* "": start + scen_ms */
    const char *actor, *action, *inject_id, *dept, *kind, *result, *field, *reason;
    const char *expected, *detail, *body;
    situ_buf features; /* JSON array of changes */
    double box[4];
} situ__drill_row;
extern const char situ__drill_row_sql[];
void situ__drill_row_init(situ__drill_row *r, const char *actor, const char *action);
/* Binds r to q (situ__drill_row_sql) and steps it; 0 or SITU_EDB. */
int situ__drill_row_write(situ_db_stmt *q, situ_db *db, const situ__drill_row *r, long long start_s,
                          situ_err *err);
/* Writes r in a transaction of its own (r->features is disposed). */
int situ__drill_play_record(situ_drill_play *p, situ__drill_row *r, situ_err *err);
/* Opens a player as situ_drill_play_open does, its start row saying detail. */
int situ__drill_play_open(situ_store *st, const situ_drill_scenario *s,
                          const situ_drill_play_opts *o, long long wall_ms, const char *detail,
                          situ_drill_play **out, situ_err *err);
/* Parses body as r->dept's (a CAP when r->cap) at scenario second at_s and
 * applies it with its record row r in one transaction (r->features is
 * disposed). The feeds' refusal of the whole body is returned (err), not
 * recorded. */
int situ__drill_play_body(situ_drill_play *p, situ__drill_row *r, const char *body, size_t n,
                          long long at_s, situ_feed_batch **out_batch, situ_err *err);

#endif

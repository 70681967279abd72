/*
 * drill_int.h: private to layers/drill/. The scenario's string pool, its
 * fault list, and the JSON reader the CSV importer feeds (a CSV is turned
 * into the same JSON document, so both forms are checked by one reader).
 */
#ifndef SITU_DRILL_INT_H
#define SITU_DRILL_INT_H

#include <jansson.h>

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
/* The static code of a department given by code or Chinese name, or NULL. */
const char *situ__drill_dept(const char *name);

#endif

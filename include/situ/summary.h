/*
 * situ/summary.h: a township's or a county's four-map summary (counts by
 * type and level, open and overdue hidden dangers, resource totals by item,
 * teams by type and personnel, stations and cameras, active alerts), pages
 * of the townships and of the counties with their counts, and "where am I"
 * (locate). JSON text into a situ_buf; `now` (RFC 3339 UTC) decides what is
 * overdue or active. A county is the townships whose county_code it is.
 */
#ifndef SITU_SUMMARY_H
#define SITU_SUMMARY_H

#include "situ/buf.h"
#include "situ/snapshot.h"

/* Appends the summary object of township `code`; SITU_ENOTFOUND if none. */
int situ_summary_township(const situ_snapshot *s, const char *code, const char *now, situ_buf *b);
/* Appends the JSON array of the townships (of county `county` when not
 * NULL), from the offset-th of them, at most limit: [{code, name,
 * county_code, ..., "counts":{collection: n}, "glance":{overdue,
 * overdue_major, top_risk_level}}], alerts counted as the
 * township's summary lists them at now. Returns how many it wrote;
 * *out_matched is how many there are in all. */
size_t situ_summary_townships(const situ_snapshot *s, const char *county, const char *now,
                              size_t offset, size_t limit, situ_buf *b, size_t *out_matched);
/* Appends the JSON array of the counties (by code), from the offset-th, at
 * most limit: [{code, name, "townships": n, "counts":{collection: n}}];
 * fills *out_returned and *out_matched. 0, or SITU_ENOMEM. */
int situ_summary_counties(const situ_snapshot *s, const char *now, size_t offset, size_t limit,
                          situ_buf *b, size_t *out_returned, size_t *out_matched);
/* Appends county `code`'s summary: {code, name, "townships":[{code, name}],
 * "maps": the four maps summed over its townships (as a township's),
 * "alerts": the active alerts over any of them, updated_at}; SITU_ENOTFOUND
 * when no township has that county code. */
int situ_summary_county(const situ_snapshot *s, const char *code, const char *now, situ_buf *b);
/* 1 when alert feature f is active at now (status not cancelled, expires
 * unset or later than now, onset unset or not after now). */
int situ_alert_active(const situ_coll *alerts, const situ_feature *f, const char *now);
/* 1 when the polygon features a (of ca) and b (of cb) share any point
 * (GEOS, prepared: O((n + m) log(n + m)) in their vertex counts); 1 as
 * well when GEOS cannot decide and their boxes overlap. */
int situ_polygons_meet(const situ_coll *ca, const situ_feature *a, const situ_coll *cb,
                       const situ_feature *b);
/* A digest of what situ_summary_townships and situ_summary_counties read
 * at now: the digests of the collections they count (every one but the
 * roads), now's day (what is overdue) and which alert onsets and expiries
 * now has passed (what is active). Equal digests: equal answers to equal
 * arguments. Never {0, 0}, which it returns when out of memory (answers
 * keyed on it are then computed afresh). */
situ_digest situ_summary_lists_digest(const situ_snapshot *s, const char *now);
/* Appends the active alerts (as a JSON array of objects) that cover lon/lat. */
void situ_summary_alerts_at(const situ_snapshot *s, double lon, double lat, const char *now,
                            situ_buf *b);

#endif

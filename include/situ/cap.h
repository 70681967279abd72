/*
 * situ/cap.h: one OASIS CAP 1.2 alert (XML) as a feed event.
 *
 * Owns parsing with libxml2 safely (no network, no DTD, no entities: a
 * document with a DOCTYPE is refused before parsing, so billion-laughs never
 * expands), checking that it is CAP 1.2, and turning its first <info> into
 * an alert: event, severity colour, onset/expires in UTC, and one
 * MultiPolygon from every area's polygons ("lat,lon" pairs), circles
 * ("lat,lon radius_km") and township geocodes. Applying is feed.h's.
 *
 * Severity: Extreme -> red, Severe -> orange, Moderate -> yellow, Minor ->
 * blue (the colours of China's four-level warning signals, as the national
 * CAP profile maps them). A <parameter> named 预警级别, 预警颜色, color,
 * colour or warning_level (value red/orange/yellow/blue, 红色.., or I..IV)
 * wins over <severity>; Unknown severity without one is refused.
 */
#ifndef SITU_CAP_H
#define SITU_CAP_H

#include <stddef.h>

#include "situ/buf.h"
#include "situ/err.h"
#include "situ/feed.h"
#include "situ/snapshot.h"

#define SITU_CAP_MAX_BYTES (1u << 20)

/* Reads one CAP 1.2 <alert> sent by department dept into a one-event batch
 * (type SITU_FEED_CAP, id = the CAP identifier, the XML kept as its body).
 * townships resolves geocodes (may be NULL: then geocodes add nothing).
 * Returns 0 with *out_batch, or SITU_EFORMAT with err naming what is wrong
 * (not XML, a DOCTYPE, not CAP 1.2, a missing or bad element), SITU_ELIMIT
 * when over SITU_CAP_MAX_BYTES, SITU_ENOTFOUND for an unknown department. */
int situ_cap_parse(const char *dept, const char *xml, size_t n, const situ_coll *townships,
                   situ_feed_batch **out_batch, situ_err *err);
/* As situ_cap_parse for a drill (situ/drill.h): only <status>Exercise</status>
 * is taken; an Actual alert (or any other status) is refused, SITU_EINVAL
 * naming the status. */
int situ_cap_parse_exercise(const char *dept, const char *xml, size_t n, const situ_coll *townships,
                            situ_feed_batch **out_batch, situ_err *err);
/* As situ_cap_parse_exercise, received at now (seconds since the epoch):
 * a drill's scenario time (situ_feed_parse_at). */
int situ_cap_parse_exercise_at(const char *dept, const char *xml, size_t n,
                               const situ_coll *townships, long long now,
                               situ_feed_batch **out_batch, situ_err *err);

/* Appends the alert with <sent> set to sent_epoch (seconds) and every other
 * CAP date-time (<onset>, <effective>, <expires>) moved by as much, each
 * keeping its UTC offset: a drill replays a document on any day. Parsed as
 * safely as situ_cap_parse. Returns 0, or SITU_EFORMAT (err) when it is not
 * XML or a time is not a CAP date-time; other checks are situ_cap_parse's. */
int situ_cap_shift_times(const char *xml, size_t n, long long sent_epoch, situ_buf *out,
                         situ_err *err);

#endif

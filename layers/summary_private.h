/*
 * summary_private.h: private to libsitu. The pieces of summary.c that the
 * impact of an alert (impact.c) shares: GEOS geometry of a polygon feature,
 * a quiet GEOS handle, the open and overdue hidden dangers of a range, an
 * alert's JSON object.
 */
#ifndef SITU_SUMMARY_PRIVATE_H
#define SITU_SUMMARY_PRIVATE_H

#include <geos_c.h>

#include "situ/buf.h"
#include "situ/snapshot.h"

/* A GEOS handle whose errors and notices print nothing (GEOS_finish_r it),
 * or NULL. */
GEOSContextHandle_t situ__geos_quiet_init(void);
/* Feature f's polygons as a GEOS MultiPolygon (owned by the caller), or
 * NULL when GEOS fails. */
GEOSGeometry *situ__feature_geos(GEOSContextHandle_t h, const situ_coll *c, const situ_feature *f);
/* Adds to *open the hidden dangers of c[first, end) not rectified, and to
 * *overdue those of them whose deadline is before now's day. */
void situ__hazards_open_overdue(const situ_coll *c, size_t first, size_t end, const char *now,
                                size_t *open, size_t *overdue);
/* Appends alert f's object {id, dept, event, severity, headline, onset,
 * expires}. */
void situ__alert_object(situ_buf *b, const situ_coll *c, const situ_feature *f);

#endif

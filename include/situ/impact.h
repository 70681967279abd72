/*
 * situ/impact.h: the impact of an alert: what lies in its area. The
 * townships it covers (population, open and overdue hidden dangers), the
 * stations inside in warning or alarm with their readings, the teams and
 * depots inside with their status, the hazard sources whose impact radius
 * reaches it, and the roads that cross it. JSON text into a situ_buf.
 */
#ifndef SITU_IMPACT_H
#define SITU_IMPACT_H

#include "situ/buf.h"
#include "situ/snapshot.h"

/* Appends the impact object of alert `id` at `now` (RFC 3339 UTC; decides
 * what is overdue):
 *   {"alert":{id, dept, event, severity, headline, onset, expires, status,
 *    active, bbox}, "townships":[{code, name, county_name, population,
 *    hazards_open, hazards_overdue}], "stations":[{id, name, kind, dept,
 *    status, metric, value, unit, threshold, observed_at, lon, lat}],
 *   "resources":[{id, name, category, team_type, status, personnel, lon,
 *    lat}], "hazard_sources":[{id, name, enterprise, grade,
 *    impact_radius_m, distance_m, lon, lat}], "roads":[{id, name, ref,
 *    class, status}], "updated_at"}
 * A point on the outline is inside; a hazard source is listed when its
 * distance to the area (0 inside, metres on the ground) is at most its
 * impact radius. SITU_ENOTFOUND when there is no such alert, SITU_EGEOM when
 * GEOS cannot read its outline; b is left as it was then. */
int situ_impact_alert(const situ_snapshot *s, const char *id, const char *now, situ_buf *b);
/* The unit of a station metric from its name's suffix ("rain_1h_mm" ->
 * "mm", "water_level_m" -> "m"), "" for an index such as "aqi". */
const char *situ_impact_metric_unit(const char *metric);

#endif

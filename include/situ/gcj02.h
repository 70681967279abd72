/*
 * situ/gcj02.h: WGS84 <-> GCJ-02, the offset coordinate system that consumer
 * maps and phones in mainland China report. The forward transform is the
 * well-known public formula (Krasovsky constants, polynomial and sine terms);
 * the inverse solves it by fixed-point iteration to well under 1 cm. Outside
 * China's rough bounding box the offset is zero in both directions.
 */
#ifndef SITU_GCJ02_H
#define SITU_GCJ02_H

/* 1 when (lon, lat) is where GCJ-02 applies an offset, else 0. */
int situ_gcj02_applies(double lon, double lat);

/* WGS84 -> GCJ-02. Pure; the outputs may alias the inputs. */
void situ_gcj02_from_wgs84(double lon, double lat, double *out_lon, double *out_lat);

/* GCJ-02 -> WGS84 by iteration: from_wgs84 of the answer is within 1e-9
 * degrees (about 0.1 mm) of the input. Pure; the outputs may alias. */
void situ_gcj02_to_wgs84(double lon, double lat, double *out_lon, double *out_lat);

#endif

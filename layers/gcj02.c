/*
 * gcj02.c: WGS84 <-> GCJ-02 (see situ/gcj02.h). The forward offset is the
 * formula published with the eviltransform and coordtransform projects: a
 * polynomial plus sine series in the offset from (105E, 35N), scaled by the
 * Krasovsky 1940 ellipsoid's radii of curvature. The offset varies slowly
 * (its derivative is below 1e-4), so the inverse converges by fixed point.
 */
#include "situ/gcj02.h"

#include <math.h>

#define KRASOVSKY_A 6378245.0
#define KRASOVSKY_EE 0.00669342162296594323

int situ_gcj02_applies(double lon, double lat)
{
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
}

static double offset_lat(double x, double y)
{
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(y * M_PI) + 40.0 * sin(y / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * M_PI) + 320.0 * sin(y * M_PI / 30.0)) * 2.0 / 3.0;
    return r;
}

static double offset_lon(double x, double y)
{
    double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(x * M_PI) + 40.0 * sin(x / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * M_PI) + 300.0 * sin(x / 30.0 * M_PI)) * 2.0 / 3.0;
    return r;
}

/* The GCJ-02 offset (degrees) at WGS84 (lon, lat), zero outside China. */
static void offset(double lon, double lat, double *dlon, double *dlat)
{
    *dlon = *dlat = 0;
    if (!situ_gcj02_applies(lon, lat))
        return;
    double rad = lat / 180.0 * M_PI, s = sin(rad);
    double magic = 1 - KRASOVSKY_EE * s * s, sq = sqrt(magic);
    *dlat = offset_lat(lon - 105.0, lat - 35.0) * 180.0 /
            ((KRASOVSKY_A * (1 - KRASOVSKY_EE)) / (magic * sq) * M_PI);
    *dlon = offset_lon(lon - 105.0, lat - 35.0) * 180.0 / (KRASOVSKY_A / sq * cos(rad) * M_PI);
}

void situ_gcj02_from_wgs84(double lon, double lat, double *out_lon, double *out_lat)
{
    double dlon, dlat;
    offset(lon, lat, &dlon, &dlat);
    *out_lon = lon + dlon;
    *out_lat = lat + dlat;
}

void situ_gcj02_to_wgs84(double lon, double lat, double *out_lon, double *out_lat)
{
    double wlon = lon, wlat = lat;
    for (int i = 0; i < 30; i++) {
        double glon, glat;
        situ_gcj02_from_wgs84(wlon, wlat, &glon, &glat);
        double elon = lon - glon, elat = lat - glat;
        wlon += elon;
        wlat += elat;
        if (fabs(elon) < 1e-10 && fabs(elat) < 1e-10)
            break;
    }
    *out_lon = wlon;
    *out_lat = wlat;
}

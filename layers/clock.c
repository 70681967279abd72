/* clock.c: the monotonic clock; see situ/clock.h. */
#include "situ/clock.h"

#include <time.h>

double situ_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double situ_backoff_next(double s, double max_s)
{
    return s * 2 < max_s ? s * 2 : max_s;
}

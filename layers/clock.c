/* clock.c: the monotonic clock; see situ/clock.h. */
#include "situ/clock.h"

#include <time.h>

double situ_clock_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

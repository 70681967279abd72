/*
 * situ/clock.h: the monotonic clock, for durations and deadlines (never
 * for timestamps shown to people: see situ_store_now for those).
 */
#ifndef SITU_CLOCK_H
#define SITU_CLOCK_H

/* Seconds on CLOCK_MONOTONIC, with nanosecond resolution. */
double situ_clock_s(void);

#endif

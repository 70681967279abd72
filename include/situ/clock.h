/*
 * situ/clock.h: the monotonic clock, for durations and deadlines (never
 * for timestamps shown to people: see situ_store_now for those).
 */
#ifndef SITU_CLOCK_H
#define SITU_CLOCK_H

/* Seconds on CLOCK_MONOTONIC, with nanosecond resolution. */
double situ_clock_s(void);

/* The wait after a retry that failed after waiting s: s doubled, at most
 * max_s (exponential backoff; start it at the first wait). */
double situ_backoff_next(double s, double max_s);

#endif

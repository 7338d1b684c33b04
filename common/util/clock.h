/* clock: the one reader of the real monotonic clock.
 *
 * Code that decides by time takes `now_ms` as a parameter so tests can give it
 * a fake clock; only the loops at the edge (the watcher's and worker's main
 * loops, a subprocess's deadline, a hook's duration) read the real clock, and
 * they read it here. */
#ifndef COXSWAIN_CLOCK_H
#define COXSWAIN_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: never goes back, unaffected by changes to
 * the wall clock, meaningful only as a difference between two readings. */
int64_t clock_monotonic_ms(void);

/* The same clock in nanoseconds (the rate limiter's unit). */
int64_t clock_monotonic_ns(void);

/* The same clock in seconds, for measuring how long something took. */
double clock_monotonic_s(void);

#endif

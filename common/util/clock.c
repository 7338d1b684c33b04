/* clock: see clock.h. */
#include "config.h"

#include "clock.h"

#include <time.h>

int64_t clock_monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t clock_monotonic_ms(void)
{
	return clock_monotonic_ns() / 1000000;
}

double clock_monotonic_s(void)
{
	return (double)clock_monotonic_ns() / 1e9;
}

/* Unit tests for common/clock: the reading never goes back and moves with
 * real time (checked against a sleep, never for an upper bound). */
#include "config.h"

#include <criterion/criterion.h>
#include <time.h>

#include "clock.h"

Test(clock, never_goes_back)
{
	int64_t prev = clock_monotonic_ms();
	for (int i = 0; i < 1000; i++) {
		int64_t now = clock_monotonic_ms();
		cr_assert_geq(now, prev);
		prev = now;
	}
}

Test(clock, moves_with_real_time)
{
	int64_t before = clock_monotonic_ms();
	struct timespec nap = { 0, 20 * 1000000L };
	nanosleep(&nap, NULL);
	cr_assert_geq(clock_monotonic_ms() - before, 20);
}

Test(clock, counts_milliseconds_of_the_monotonic_clock)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t direct = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int64_t ours = clock_monotonic_ms();
	cr_assert_geq(ours, direct);
	cr_assert_lt(ours - direct, 60 * 1000, "not milliseconds: %lld vs %lld", (long long)ours, (long long)direct);
}

Test(clock, the_three_units_read_one_clock)
{
	int64_t ns = clock_monotonic_ns();
	int64_t ms = clock_monotonic_ms();
	double s = clock_monotonic_s();
	cr_assert_geq(ms, ns / 1000000);
	cr_assert_geq(s * 1e3, (double)ms - 1);
	cr_assert_geq(clock_monotonic_ns(), ns);
}

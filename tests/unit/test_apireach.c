/* Unit tests for watcher/apireach on a fake clock: an unreachable API server
 * is logged at once, then at most once an interval, and again at once after
 * it came back and went away again. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>

#include "apireach.h"

#define T0 7000000LL

Test(apireach, first_failure_is_logged_at_once_then_once_a_minute)
{
	struct apireach a;
	apireach_init(&a, 0);
	uint64_t covers = 0;
	cr_assert(apireach_failed(&a, T0, &covers));
	cr_assert_eq(covers, 1);
	int logged = 0;
	for (int64_t t = T0 + 800; t < T0 + 60000; t += 800)
		logged += apireach_failed(&a, t, NULL);
	cr_assert_eq(logged, 0, "nothing more within the minute");
	cr_assert(apireach_failed(&a, T0 + 60000, &covers));
	cr_assert_eq(covers, 75, "the line stands for the failures it hid (74) and itself, got %llu",
		     (unsigned long long)covers);
	cr_assert_not(apireach_failed(&a, T0 + 60001, NULL));
}

Test(apireach, a_success_ends_the_outage_and_the_next_one_is_logged_at_once)
{
	struct apireach a;
	apireach_init(&a, 60000);
	cr_assert(apireach_failed(&a, T0, NULL));
	cr_assert_not(apireach_failed(&a, T0 + 1000, NULL));
	apireach_ok(&a);
	cr_assert_not(a.failing);
	cr_assert(apireach_failed(&a, T0 + 2000, NULL), "a new outage is news");
	cr_assert_eq(a.since_ms, T0 + 2000);
}

Test(apireach, only_transport_errors_mean_unreachable)
{
	cr_assert(apireach_is_transport(-ECONNREFUSED));
	cr_assert(apireach_is_transport(-ETIMEDOUT));
	cr_assert(apireach_is_transport(-EHOSTUNREACH));
	cr_assert_not(apireach_is_transport(-EACCES), "a 403 is an answer");
	cr_assert_not(apireach_is_transport(-ENOENT));
	cr_assert_not(apireach_is_transport(0));
}

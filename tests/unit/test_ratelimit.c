/* Unit tests for common/ratelimit on a fake clock: burst, steady rate,
 * the refill cap, long idle times, fractional rates, and the real sleep. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "ratelimit.h"

#define MS 1000000LL
#define S  1000000000LL

static struct ratelimit make(double qps, int burst)
{
	struct ratelimit rl;
	struct cx_err err = { 0 };
	cr_assert_eq(ratelimit_init(&rl, qps, burst, &err), 0, "%s", err.msg);
	return rl;
}

/* Takes n tokens at now, asserting that each was there. */
static void take_free(struct ratelimit *rl, int n, int64_t now)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(ratelimit_reserve(rl, now), 0, "token %d of %d at %lld ns", i + 1, n, (long long)now);
}

Test(ratelimit, burst_is_allowed_at_once)
{
	struct ratelimit rl = make(20, 30);
	take_free(&rl, 30, 7 * S);
	cr_assert_eq(ratelimit_reserve(&rl, 7 * S), 50 * MS, "the 31st waits 1/20 s");
}

Test(ratelimit, reservations_queue_up_one_interval_apart)
{
	struct ratelimit rl = make(RATELIMIT_WORKQUEUE_QPS, RATELIMIT_WORKQUEUE_BURST);
	take_free(&rl, 100, 1 * S);
	cr_assert_eq(ratelimit_reserve(&rl, 1 * S), 100 * MS);
	cr_assert_eq(ratelimit_reserve(&rl, 1 * S), 200 * MS);
	cr_assert_eq(ratelimit_reserve(&rl, 1 * S), 300 * MS);
	/* 150 ms later: the first reservation is due, two are still owed. */
	cr_assert_eq(ratelimit_reserve(&rl, 1 * S + 150 * MS), 250 * MS);
}

Test(ratelimit, then_exactly_qps_per_second)
{
	struct ratelimit rl = make(20, 30);
	int64_t t = 3 * S;
	take_free(&rl, 30, t);
	for (int second = 1; second <= 5; second++)
		take_free(&rl, 20, t + second * S);
	cr_assert_gt(ratelimit_reserve(&rl, t + 5 * S), 0, "no 21st token in any second");
}

Test(ratelimit, steady_callers_get_burst_plus_qps_times_seconds)
{
	struct ratelimit rl = make(20, 30);
	int64_t t0 = 5 * S, now = t0;
	int calls = 0;
	while (1) {
		now += ratelimit_reserve(&rl, now); /* go ahead when told */
		if (now > t0 + 10 * S)
			break;
		calls++;
	}
	cr_assert_eq(calls, 30 + 20 * 10);
}

Test(ratelimit, each_token_arrives_after_one_interval)
{
	struct ratelimit rl = make(20, 30);
	take_free(&rl, 30, 0);
	cr_assert_eq(ratelimit_reserve(&rl, 49 * MS), 1 * MS, "not yet: taken on credit, due at 50 ms");
	/* By 150 ms three tokens came (50, 100, 150 ms); one paid that credit. */
	take_free(&rl, 2, 150 * MS);
	cr_assert_eq(ratelimit_reserve(&rl, 150 * MS), 50 * MS);
}

Test(ratelimit, refill_is_capped_at_burst)
{
	struct ratelimit rl = make(20, 30);
	take_free(&rl, 30, 1 * S);
	/* 10 s earn 200 tokens; the bucket keeps 30. */
	take_free(&rl, 30, 11 * S);
	cr_assert_eq(ratelimit_reserve(&rl, 11 * S), 50 * MS);
}

Test(ratelimit, long_idle_does_not_accumulate_or_overflow)
{
	struct ratelimit rl = make(RATELIMIT_QPS_MAX, RATELIMIT_BURST_MAX);
	/* The first reading is far from 0: elapsed * rate would overflow. */
	int64_t t = INT64_MAX / 2;
	take_free(&rl, RATELIMIT_BURST_MAX, t);
	cr_assert_eq(ratelimit_reserve(&rl, t), 1000, "1/1e6 s");
	t = INT64_MAX - 1;
	take_free(&rl, RATELIMIT_BURST_MAX, t);
	cr_assert_gt(ratelimit_reserve(&rl, t), 0);
}

Test(ratelimit, fractional_qps)
{
	struct ratelimit rl = make(0.5, 1);
	int64_t t = 10 * S;
	take_free(&rl, 1, t);
	cr_assert_eq(ratelimit_reserve(&rl, t + 1 * S), 1 * S, "half a token earned, the other half owed");
	/* That reservation comes due at t + 2 s; the next token at t + 4 s. */
	cr_assert_eq(ratelimit_reserve(&rl, t + 4 * S - 1), 1);
	cr_assert_eq(ratelimit_reserve(&rl, t + 8 * S - 1), 0);
	cr_assert_eq(ratelimit_reserve(&rl, t + 8 * S - 1), 2 * S);
}

Test(ratelimit, qps_counts_to_the_thousandth)
{
	/* 1.005 * 1000 is 1004.9999999999999 in binary: it must still mean 1.005/s. */
	struct ratelimit rl = make(1.005, 1);
	take_free(&rl, 1, 0);
	cr_assert_eq(ratelimit_reserve(&rl, 0), 995024876); /* 1e9 / 1.005, rounded up */
}

Test(ratelimit, non_integral_rate_does_not_drift)
{
	/* 3/s is 333333333.3 ns a token. Callers going ahead when told must get
	 * token k at k/3 s, within a ns, however many tokens have passed. */
	struct ratelimit rl = make(3, 1);
	int64_t t = 0;
	take_free(&rl, 1, t);
	cr_assert_eq(ratelimit_reserve(&rl, t), 333333334, "rounded up: 1 ns early, the token is not there");
	rl = make(3, 1);
	for (int k = 1; k <= 3000; k++)
		t += ratelimit_reserve(&rl, t);
	int64_t exact = 2999LL * S / 3 + 1; /* 999.666666666.. s, rounded up */
	cr_assert(llabs(t - exact) <= 1, "token 3000 at %lld ns, want %lld", (long long)t, (long long)exact);
}

Test(ratelimit, clock_going_backwards_adds_nothing)
{
	struct ratelimit rl = make(20, 30);
	take_free(&rl, 30, 10 * S);
	cr_assert_eq(ratelimit_reserve(&rl, 9 * S), 50 * MS, "an earlier reading earns nothing");
	cr_assert_eq(ratelimit_reserve(&rl, 10 * S + 100 * MS), 0, "time is measured from 10 s");
	cr_assert_eq(ratelimit_reserve(&rl, 10 * S + 100 * MS), 50 * MS);
}

Test(ratelimit, debt_saturates_instead_of_overflowing)
{
	struct ratelimit rl = make(1000, 1);
	int64_t w = 0, prev = -1;
	for (int i = 0; i < 10000000; i++) {
		w = ratelimit_reserve(&rl, S);
		cr_assert_geq(w, prev);
		prev = w;
	}
	cr_assert_gt(w, 4000 * S, "about 4.6 million tokens owed at 1000/s");
	cr_assert_lt(w, 5000 * S);
}

Test(ratelimit, smallest_rate)
{
	struct ratelimit rl = make(RATELIMIT_QPS_MIN, 1);
	take_free(&rl, 1, 0);
	cr_assert_eq(ratelimit_reserve(&rl, 0), 1000 * S, "one token in 1000 s");
}

static void check_rejected(double qps, int burst, const char *what)
{
	struct ratelimit rl;
	memset(&rl, 0xff, sizeof(rl));
	struct cx_err err = { 0 };
	cr_assert_eq(ratelimit_init(&rl, qps, burst, &err), -EINVAL, "qps %g burst %d", qps, burst);
	cr_assert(strstr(err.msg, what), "message names %s: %s", what, err.msg);
	cr_assert_eq(rl.rate, 0, "left zeroed");
}

Test(ratelimit, bad_settings_are_rejected)
{
	check_rejected(0, 10, "qps 0");
	check_rejected(-1, 10, "qps -1");
	check_rejected(NAN, 10, "qps nan");
	check_rejected(2e6, 10, "qps 2e+06");
	check_rejected(0.0001, 10, "qps 0.0001");
	check_rejected(5, 0, "burst 0");
	check_rejected(5, -3, "burst -3");
	check_rejected(5, RATELIMIT_BURST_MAX + 1, "burst 1000001");
}

Test(ratelimit, qps_flag_values)
{
	struct cx_err err = { 0 };
	double q = 0;
	cr_assert_eq(ratelimit_parse_qps("50", &q, &err), 0);
	cr_assert_float_eq(q, 50, 1e-9);
	cr_assert_eq(ratelimit_parse_qps("2.5", &q, &err), 0);
	cr_assert_float_eq(q, 2.5, 1e-9);
	/* client-go: a QPS below 0 makes no limiter. */
	cr_assert_eq(ratelimit_parse_qps("-1", &q, &err), 0);
	cr_assert_float_eq(q, -1, 1e-9);
	cr_assert_eq(ratelimit_parse_qps("-5", &q, &err), 0);
	cr_assert_float_eq(q, -1, 1e-9);
	const char *bad[] = { "", "0", "abc", "5x", "nan", "inf", "0x10", "2e6", "0.0001", NULL };
	for (int i = 0; bad[i]; i++) {
		cr_assert_eq(ratelimit_parse_qps(bad[i], &q, &err), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err.msg, "or -1 for no client-side limit"), "%s", err.msg);
	}
}

Test(ratelimit, burst_flag_values)
{
	struct cx_err err = { 0 };
	int b = 0;
	cr_assert_eq(ratelimit_parse_burst("1", &b, &err), 0);
	cr_assert_eq(b, 1);
	cr_assert_eq(ratelimit_parse_burst("1000000", &b, &err), 0);
	cr_assert_eq(b, 1000000);
	const char *bad[] = { "", "0", "-1", "1.5", "1000001", "x", NULL };
	for (int i = 0; bad[i]; i++) {
		cr_assert_eq(ratelimit_parse_burst(bad[i], &b, &err), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err.msg, "expected a whole number from 1 to 1000000"), "%s", err.msg);
	}
}

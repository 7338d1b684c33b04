/* Unit tests for common/retry: which failures are retried, the delay
 * schedule with a fixed random source, Retry-After parsing and the cap, and
 * the attempt limit. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "backoff.h"
#include "retry.h"

#define NOW 1795615200 /* Wed, 25 Nov 2026 14:00:00 GMT */

static time_t fixed_now(void)
{
	return NOW;
}

static double fixed_rand(void *state)
{
	return *(double *)state;
}

static double half = 0.5;

/* The default policy with a fixed clock and jitter draw 0.5. */
static struct retry_policy policy(void)
{
	return (struct retry_policy){ .rand = fixed_rand, .rand_state = &half, .now = fixed_now };
}

/* Asserts the decision and returns the delay. */
static long decide(const struct retry_policy *p, int attempt, bool idempotent, long status, int transport,
		   const char *retry_after, bool want)
{
	long d = -1;
	bool got = retry_decide(p, attempt, idempotent, status, transport, retry_after, &d);
	cr_assert_eq(got, want, "attempt %d idempotent %d status %ld errno %d retry-after %s: %s", attempt, idempotent,
		     status, transport, retry_after ? retry_after : "(none)",
		     want ? "should retry" : "should not retry");
	if (!want)
		cr_assert_eq(d, 0, "no delay when not retrying");
	return d;
}

Test(retry, default_schedule_with_fixed_jitter)
{
	struct retry_policy p = policy();
	/* 500 ms doubling, + 0.5 * 0.5 of each: then the 5th attempt is the last. */
	long want[] = { 625, 1250, 2500, 5000 };
	for (int attempt = 1; attempt <= 4; attempt++)
		cr_assert_eq(decide(&p, attempt, true, 503, 0, NULL, true), want[attempt - 1], "after attempt %d",
			     attempt);
	decide(&p, 5, true, 503, 0, NULL, false);
	decide(&p, 6, true, 503, 0, NULL, false);
}

Test(retry, schedule_draws_from_the_given_source)
{
	uint64_t seed = 7, replay = 7;
	struct retry_policy p = { .rand = backoff_rand_seeded, .rand_state = &seed, .now = fixed_now };
	for (int attempt = 1; attempt <= 4; attempt++) {
		double r = backoff_rand_seeded(&replay);
		long base = 500L << (attempt - 1);
		long want = (long)(base + base * 0.5 * r);
		cr_assert_eq(decide(&p, attempt, true, 0, -ECONNRESET, NULL, true), want, "after attempt %d", attempt);
		cr_assert(want >= base && want < base + base / 2);
	}
}

Test(retry, custom_policy_schedule_and_limit)
{
	struct retry_policy p = { .max_attempts = 8, .backoff = { 100, 2.0, 1000, 0.0 }, .now = fixed_now };
	long want[] = { 100, 200, 400, 800, 1000, 1000, 1000 };
	for (int attempt = 1; attempt <= 7; attempt++)
		cr_assert_eq(decide(&p, attempt, true, 500, 0, NULL, true), want[attempt - 1]);
	decide(&p, 8, true, 500, 0, NULL, false);
}

Test(retry, one_attempt_means_no_retries)
{
	struct retry_policy p = policy();
	p.max_attempts = 1;
	decide(&p, 1, true, 429, 0, "1", false);
}

Test(retry, invalid_fields_take_defaults)
{
	struct retry_policy p = { .max_attempts = -3,
				  .max_retry_after_ms = -1,
				  .backoff = { 100, 0.5, 10, 0.0 },
				  .rand = fixed_rand,
				  .rand_state = &half,
				  .now = fixed_now };
	cr_assert_eq(decide(&p, 1, true, 503, 0, NULL, true), 625, "the default backoff");
	decide(&p, 5, true, 503, 0, NULL, false);
	cr_assert_eq(decide(&p, 1, true, 429, 0, "3600", true), 30000, "the default cap");
}

Test(retry, null_policy_is_the_default)
{
	long d = -1;
	cr_assert(retry_decide(NULL, 1, true, 503, 0, NULL, &d));
	cr_assert(d >= 500 && d < 750, "%ld", d);
	cr_assert(retry_decide(NULL, 4, true, 503, 0, NULL, NULL), "delay_ms may be NULL");
	cr_assert_not(retry_decide(NULL, 5, true, 503, 0, NULL, &d));
	cr_assert_eq(d, 0);
}

Test(retry, too_many_requests_is_retried_for_every_verb)
{
	struct retry_policy p = policy();
	cr_assert_eq(decide(&p, 1, false, 429, 0, NULL, true), 625, "a POST too");
	cr_assert_eq(decide(&p, 2, true, 429, 0, NULL, true), 1250);
	decide(&p, 5, false, 429, 0, "1", false);
}

Test(retry, server_errors_only_for_idempotent_requests)
{
	struct retry_policy p = policy();
	long retried[] = { 500, 502, 503, 504 };
	for (size_t i = 0; i < 4; i++) {
		decide(&p, 1, true, retried[i], 0, NULL, true);
		decide(&p, 1, false, retried[i], 0, NULL, false);
		decide(&p, 1, false, retried[i], 0, "1", false);
	}
	decide(&p, 1, true, 501, 0, NULL, false);
	decide(&p, 1, true, 505, 0, NULL, false);
	decide(&p, 1, true, 599, 0, NULL, false);
}

Test(retry, other_statuses_never)
{
	struct retry_policy p = policy();
	long never[] = { 200, 201, 204, 301, 304, 400, 401, 403, 404, 405, 408, 409, 410, 413, 415, 422, 499 };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		decide(&p, 1, true, never[i], 0, NULL, false);
		decide(&p, 1, true, never[i], 0, "1", false);
	}
}

Test(retry, connection_errors_only_for_idempotent_requests)
{
	struct retry_policy p = policy();
	int retried[] = { -ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EHOSTUNREACH };
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(decide(&p, 1, true, 0, retried[i], NULL, true), 625);
		decide(&p, 1, false, 0, retried[i], NULL, false);
		decide(&p, 1, true, 0, -retried[i], NULL, true); /* a positive errno means the same */
	}
	int never[] = { -EPROTO, -EIO, -ENOMEM, -EFBIG, -EBADMSG, -EACCES, INT_MIN };
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		decide(&p, 1, true, 0, never[i], NULL, false);
}

Test(retry, transport_error_wins_over_a_status_and_ignores_retry_after)
{
	struct retry_policy p = policy();
	decide(&p, 1, true, 200, -EPROTO, NULL, false);
	cr_assert_eq(decide(&p, 1, true, 429, -ECONNRESET, "20", true), 625, "the backoff, not 20 s");
	decide(&p, 1, false, 429, -ECONNRESET, NULL, false);
}

Test(retry, retry_after_seconds)
{
	struct retry_policy p = policy();
	cr_assert_eq(decide(&p, 1, false, 429, 0, "3", true), 3000);
	cr_assert_eq(decide(&p, 3, true, 503, 0, " 7\t", true), 7000, "not the backoff's 2500");
	cr_assert_eq(decide(&p, 1, true, 429, 0, "0", true), 0);
	cr_assert_eq(decide(&p, 1, true, 429, 0, "-5", true), 0, "negative is now");
	cr_assert_eq(decide(&p, 1, true, 429, 0, "120", true), 30000, "capped");
	cr_assert_eq(decide(&p, 1, true, 429, 0, "99999999999999999999999999", true), 30000, "capped, no overflow");
	p.max_retry_after_ms = 5000;
	cr_assert_eq(decide(&p, 1, true, 429, 0, "6", true), 5000, "the policy's cap");
}

Test(retry, retry_after_http_date)
{
	struct retry_policy p = policy();
	cr_assert_eq(decide(&p, 1, true, 429, 0, "Wed, 25 Nov 2026 14:00:10 GMT", true), 10000);
	cr_assert_eq(decide(&p, 1, true, 503, 0, "Wednesday, 25-Nov-26 14:00:20 GMT", true), 20000);
	cr_assert_eq(decide(&p, 1, true, 503, 0, "Wed Nov 25 14:00:05 2026", true), 5000);
	cr_assert_eq(decide(&p, 1, true, 429, 0, "Sun, 06 Nov 1994 08:49:37 GMT", true), 0, "past is now");
	cr_assert_eq(decide(&p, 1, true, 429, 0, "Thu, 26 Nov 2026 14:00:00 GMT", true), 30000, "capped");
}

Test(retry, garbage_retry_after_falls_back_to_backoff)
{
	struct retry_policy p = policy();
	const char *garbage[] = { "",
				  "   ",
				  "soon",
				  "1.5",
				  "5s",
				  "+5",
				  "0x10",
				  "- 5",
				  "-",
				  "-soon",
				  "Wed, 25 Nov 2026 14:00:10", /* no GMT */
				  "Wed, 25 Nov 2026 14:00:10 UTC",
				  "Wed, 31 Nov 2026 14:00:10 GMT", /* no such day */
				  "Wed, 29 Feb 2026 14:00:10 GMT", /* not a leap year */
				  "Wed, 25 Foo 2026 14:00:10 GMT",
				  "Wed, 25 Nov 2026 24:00:10 GMT",
				  "Wed, 25 Nov 26 14:00:10 GMT",
				  "Wed Nov 25 14:00:05",
				  "Wed, 25 Nov 2026 14:00:10 GMTx",
				  "Wed Nov 25 14:00:05 2026x",
				  ", 25 Nov 2026 14:00:10 GMT", /* no weekday */
				  "25 Nov 2026 14:00:10 GMT" };
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		cr_assert_eq(decide(&p, 2, true, 429, 0, garbage[i], true), 1250, "\"%s\" is ignored", garbage[i]);
}

Test(retry, parse_retry_after_directly)
{
	long d = -1;
	cr_assert_eq(retry_parse_retry_after("42", NOW, &d), 0);
	cr_assert_eq(d, 42000);
	cr_assert_eq(retry_parse_retry_after("Wed Nov 25 14:02:00 2026", NOW, &d), 0);
	cr_assert_eq(d, 120000, "not capped here");
	cr_assert_eq(retry_parse_retry_after("Sun Nov  6 08:49:37 1994", NOW, &d), 0, "asctime pads with a space");
	cr_assert_eq(d, 0);
	cr_assert_eq(retry_parse_retry_after("Sat, 29 Feb 2028 00:00:00 GMT", 1835395200 - 1, &d), 0, "leap day");
	cr_assert_eq(d, 1000);
	cr_assert_eq(retry_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 2, &d), 0);
	cr_assert_eq(d, 2000, "a two-digit 94 is 1994");
	cr_assert_eq(retry_parse_retry_after("99999999999999999999", NOW, &d), 0);
	cr_assert_eq(d, LONG_MAX);
	cr_assert_eq(retry_parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW, &d), 0);
	cr_assert_eq(d, 251606685599000L);
	d = 123;
	cr_assert_eq(retry_parse_retry_after("nope", NOW, &d), -EINVAL);
	cr_assert_eq(d, 123, "unchanged on error");
	cr_assert_eq(retry_parse_retry_after(NULL, NOW, &d), -EINVAL);
}

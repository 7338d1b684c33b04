#include "config.h"

#include "ratelimit.h"
#include "err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One token in units. With qps kept in thousandths, a second of refill is
 * qps * 1000 * 10^9 units = qps tokens, and one ns is qps * 1000 units:
 * always a whole number. */
#define UNIT 1000000000000LL
/* How far into debt reservations may go (about 4.6 million tokens), so that
 * tokens - UNIT can never overflow. Far beyond any real queue of callers. */
#define DEBT_MAX (INT64_MAX / 2)

const double ratelimit_wait_buckets[RATELIMIT_WAIT_BUCKETS_N] = {
	0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60
};

int ratelimit_init(struct ratelimit *rl, double qps, int burst, struct cx_err *err)
{
	memset(rl, 0, sizeof(*rl));
	/* The negated comparison also rejects NaN. */
	if (!(qps >= RATELIMIT_QPS_MIN && qps <= RATELIMIT_QPS_MAX))
		return cx_err_set(err, -EINVAL, "rate limit: qps %g is out of range [%g, %g]", qps, RATELIMIT_QPS_MIN,
				  RATELIMIT_QPS_MAX);
	if (burst < 1 || burst > RATELIMIT_BURST_MAX)
		return cx_err_set(err, -EINVAL, "rate limit: burst %d is out of range [1, %d]", burst,
				  RATELIMIT_BURST_MAX);
	rl->rate = (int64_t)(qps * 1000.0 + 0.5);
	rl->capacity = (int64_t)burst * UNIT;
	rl->tokens = rl->capacity;
	/* last_ns 0 with a full bucket: the first reading, whatever it is,
	 * finds the bucket full. */
	return 0;
}

/* Adds what the time since the last reading earned, up to the capacity. */
static void refill(struct ratelimit *rl, int64_t now_ns)
{
	if (now_ns <= rl->last_ns)
		return;
	int64_t elapsed = now_ns - rl->last_ns;
	rl->last_ns = now_ns;
	int64_t missing = rl->capacity - rl->tokens;
	/* Compare before multiplying: a long idle time times the rate would
	 * overflow, and it only ever means "full". */
	if (elapsed > missing / rl->rate)
		rl->tokens = rl->capacity;
	else
		rl->tokens += elapsed * rl->rate; /* <= missing: cannot pass the capacity */
}

int64_t ratelimit_reserve(struct ratelimit *rl, int64_t now_ns)
{
	refill(rl, now_ns);
	if (rl->tokens - UNIT >= -DEBT_MAX)
		rl->tokens -= UNIT;
	if (rl->tokens >= 0)
		return 0;
	/* Round up: going ahead 1 ns early would find the token not yet there. */
	int64_t deficit = -rl->tokens;
	return deficit / rl->rate + (deficit % rl->rate != 0);
}

int ratelimit_parse_qps(const char *s, double *out, struct cx_err *err)
{
	char *end;
	errno = 0;
	double v = s ? strtod(s, &end) : 0;
	/* strtod takes "nan", "inf" and hex: a plain decimal only. */
	if (!s || !*s || errno || *end || strspn(s, "-+.0123456789eE") != strlen(s) ||
	    !(v < 0 || (v >= RATELIMIT_QPS_MIN && v <= RATELIMIT_QPS_MAX)))
		return cx_err_set(
			err, -EINVAL,
			"expected requests a second from 0.001 to 1000000, or -1 for no client-side limit, got \"%s\"",
			s ? s : "");
	*out = v < 0 ? -1 : v;
	return 0;
}

int ratelimit_parse_burst(const char *s, int *out, struct cx_err *err)
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || errno || *end || v < 1 || v > RATELIMIT_BURST_MAX)
		return cx_err_set(err, -EINVAL, "expected a whole number from 1 to %d, got \"%s\"", RATELIMIT_BURST_MAX,
				  s ? s : "");
	*out = (int)v;
	return 0;
}

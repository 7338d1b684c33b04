#include "config.h"

#include "ratelimit.h"
#include "err.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* One token in units. With qps kept in thousandths, a second of refill is
 * qps * 1000 * 10^9 units = qps tokens, and one ns is qps * 1000 units:
 * always a whole number. */
#define UNIT 1000000000000LL
/* How far into debt reservations may go (about 4.6 million tokens), so that
 * tokens - UNIT can never overflow. Far beyond any real queue of callers. */
#define DEBT_MAX (INT64_MAX / 2)

int ratelimit_init(struct ratelimit *rl, double qps, int burst, struct cx_err *err)
{
	memset(rl, 0, sizeof(*rl));
	/* The negated comparison also rejects NaN. */
	if (!(qps >= RATELIMIT_QPS_MIN && qps <= RATELIMIT_QPS_MAX))
		return cx_err_set(err, -EINVAL, "rate limit: qps %g is out of range [%g, %g]", qps,
				  RATELIMIT_QPS_MIN, RATELIMIT_QPS_MAX);
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

int64_t ratelimit_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t ratelimit_wait(struct ratelimit *rl)
{
	int64_t now = ratelimit_now_ns();
	int64_t wait = ratelimit_reserve(rl, now);
	if (wait <= 0)
		return 0;
	/* An absolute deadline: a sleep cut short by a signal resumes for what is
	 * left, without the drift of re-computing a relative one. */
	int64_t due = now + wait;
	struct timespec until = {.tv_sec = due / 1000000000, .tv_nsec = due % 1000000000};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	return wait;
}

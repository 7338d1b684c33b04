#include "config.h"

#include "backoff.h"
#include "err.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int backoff_params_check(const struct backoff_params *p, struct cx_err *err)
{
	/* The negated comparisons also reject NaN. */
	if (p->initial_ms <= 0)
		return cx_err_set(err, -EINVAL, "backoff: initial delay must be > 0 ms, not %ld", p->initial_ms);
	if (!(p->factor >= 1.0) || isinf(p->factor))
		return cx_err_set(err, -EINVAL, "backoff: factor must be a finite number >= 1, not %g", p->factor);
	if (p->max_ms < p->initial_ms)
		return cx_err_set(err, -EINVAL, "backoff: maximum delay %ld ms is below the initial delay %ld ms",
				  p->max_ms, p->initial_ms);
	if (!(p->jitter >= 0.0) || isinf(p->jitter))
		return cx_err_set(err, -EINVAL, "backoff: jitter must be a finite number >= 0, not %g", p->jitter);
	return 0;
}

/* base jittered by r, clamped so that the conversion to long is defined. */
static long jittered(double base, double jitter, double r)
{
	if (r < 0.0 || !(r < 1.0))
		r = 0.0; /* a broken random source must not turn into a negative or huge delay */
	double d = base + base * jitter * r;
	if (!(d < (double)LONG_MAX))
		return LONG_MAX;
	return (long)d;
}

long backoff_delay_ms(const struct backoff_params *p, unsigned steps, double r)
{
	double base = (double)p->initial_ms, max = (double)p->max_ms;
	/* Multiply step by step rather than pow(): it stops as soon as the cap is
	 * reached, so huge step counts cost nothing and never overflow. */
	for (unsigned i = 0; i < steps && base < max && p->factor > 1.0; i++)
		base *= p->factor;
	if (base > max)
		base = max;
	return jittered(base, p->jitter, r);
}

int backoff_init(struct backoff *b, const struct backoff_params *p, struct cx_err *err)
{
	memset(b, 0, sizeof(*b));
	int r = backoff_params_check(p, err);
	if (r)
		return r;
	b->p = *p;
	b->base_ms = (double)p->initial_ms;
	b->rand = backoff_rand_default;
	return 0;
}

void backoff_set_rand(struct backoff *b, backoff_rand_fn fn, void *state)
{
	b->rand = fn ? fn : backoff_rand_default;
	b->rand_state = fn ? state : NULL;
}

long backoff_next_ms(struct backoff *b)
{
	/* A zeroed struct that never went through backoff_init has no source. */
	double r = b->rand ? b->rand(b->rand_state) : backoff_rand_default(NULL);
	long d = jittered(b->base_ms, b->p.jitter, r);
	b->base_ms *= b->p.factor;
	if (b->base_ms > (double)b->p.max_ms)
		b->base_ms = (double)b->p.max_ms;
	if (b->steps < UINT_MAX)
		b->steps++;
	return d;
}

void backoff_reset(struct backoff *b)
{
	b->base_ms = (double)b->p.initial_ms;
	b->steps = 0;
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, statistically good enough for
 * jitter, and every seed (0 included) gives a full-period sequence. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* The top 53 bits make a double in [0, 1) with every value equally likely. */
static double unit_interval(uint64_t x)
{
	return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

double backoff_rand_seeded(void *state)
{
	return unit_interval(splitmix64(state));
}

double backoff_rand_default(void *state)
{
	(void)state;
	/* Processes are single-threaded, so plain statics will do. The pid is
	 * part of the check because a forked child inherits the parent's state:
	 * without reseeding, every worker would jitter in lockstep. */
	static uint64_t seed;
	static pid_t seeded_by;
	pid_t pid = getpid();
	if (seeded_by != pid) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = ((uint64_t)pid << 32) ^ (uint64_t)ts.tv_sec * 1000000000u ^ (uint64_t)ts.tv_nsec;
		seeded_by = pid;
	}
	return unit_interval(splitmix64(&seed));
}

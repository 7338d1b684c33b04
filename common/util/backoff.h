/* backoff: exponential backoff with jitter, as client-go's wait.Backoff.
 *
 * The delay starts at initial_ms and is multiplied by factor after each use
 * until it reaches max_ms. Jitter is then added on top: a delay d becomes
 * d + d * jitter * r, r uniform in [0, 1). Like client-go, max_ms caps the
 * delay *before* jitter, so with jitter 1.0 and max 30 s the delays at the cap
 * spread over [30 s, 60 s): capping after jitter would make every client that
 * reached the cap retry in the same instant, which is what jitter is there to
 * prevent.
 *
 * The random source is a function pointer plus state so tests can fix it.
 * The built-in source is reseeded in each forked process, so workers forked
 * from one supervisor do not draw the same jitter. */
#ifndef COXSWAIN_BACKOFF_H
#define COXSWAIN_BACKOFF_H

#include <stdint.h>

struct cx_err;

/* Returns a number in [0, 1). state is the pointer given with the function. */
typedef double (*backoff_rand_fn)(void *state);

struct backoff_params {
	long initial_ms; /* > 0: the first delay */
	double factor;   /* >= 1: growth per step (1 = constant delay) */
	long max_ms;     /* >= initial_ms: cap on the delay before jitter */
	double jitter;   /* >= 0: fraction of the delay added at random (0 = none) */
};

/* The settings the design names (docs/architecture.md §6). */
/* Informer re-watch / re-list: client-go's reflector uses exactly these. */
#define BACKOFF_WATCH_RECONNECT ((struct backoff_params){ 800, 2.0, 30000, 1.0 })
/* Restarting a crashed worker slot (the first restart is immediate: the
 * supervisor's choice, not this one's). */
#define BACKOFF_WORKER_RESTART ((struct backoff_params){ 1000, 2.0, 60000, 0.0 })
/* The work queue's per-key failure backoff, client-go's
 * ItemExponentialFailureRateLimiter: 5 ms doubling to 1000 s, no jitter. */
#define BACKOFF_WORKQUEUE_ITEM ((struct backoff_params){ 5, 2.0, 1000000, 0.0 })

/* A stateful backoff for one thing that fails repeatedly (a watch, a slot).
 * Plain struct: put it anywhere, set it up with backoff_init. */
struct backoff {
	struct backoff_params p;
	double base_ms;       /* the un-jittered delay the next call returns */
	unsigned steps;       /* delays handed out since the last reset */
	backoff_rand_fn rand; /* never NULL after backoff_init */
	void *rand_state;
};

/* Checks p and makes b hand out p->initial_ms (jittered) next, drawing from
 * the built-in random source. Returns -EINVAL with err naming the bad field
 * when p is out of range (b is then left zeroed). */
int backoff_init(struct backoff *b, const struct backoff_params *p, struct cx_err *err);

/* Replaces the random source; fn NULL restores the built-in one. */
void backoff_set_rand(struct backoff *b, backoff_rand_fn fn, void *state);

/* Returns the delay to wait before the next attempt and advances b. */
long backoff_next_ms(struct backoff *b);

/* Back to initial_ms: call it once the thing has worked for a while (client-go
 * resets a reflector after 2 healthy minutes, the supervisor a slot after 10). */
void backoff_reset(struct backoff *b);

/* The stateless form, for callers that count attempts themselves (the work
 * queue per key, the request retry policy): the delay after `steps` earlier
 * delays, i.e. min(initial * factor^steps, max) jittered with r in [0, 1).
 * p must be valid (see backoff_params_check). Never overflows: the result is
 * at most LONG_MAX. */
long backoff_delay_ms(const struct backoff_params *p, unsigned steps, double r);

/* Returns 0 when p is usable, else -EINVAL with err naming the field. */
int backoff_params_check(const struct backoff_params *p, struct cx_err *err);

/* The built-in random source: a process-wide generator seeded from the pid
 * and the clock, reseeded after fork. state is ignored. */
double backoff_rand_default(void *state);

/* A seeded generator (splitmix64) for tests and reproducible runs: state
 * points to a uint64_t seed, advanced on each call. */
double backoff_rand_seeded(void *state);

#endif

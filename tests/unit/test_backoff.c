/* Unit tests for common/backoff: growth, cap, jitter, reset, the injected and
 * built-in random sources, and the settings the design names. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backoff.h"
#include "err.h"

/* A random source that always answers *state. */
static double fixed_rand(void *state)
{
	return *(double *)state;
}

static struct backoff make(long initial, double factor, long max, double jitter, double *r)
{
	struct backoff b;
	struct cx_err err = { 0 };
	struct backoff_params p = { initial, factor, max, jitter };
	cr_assert_eq(backoff_init(&b, &p, &err), 0, "%s", err.msg);
	if (r)
		backoff_set_rand(&b, fixed_rand, r);
	return b;
}

Test(backoff, first_delay_is_initial_then_grows_by_factor)
{
	double r = 0.0;
	struct backoff b = make(100, 3.0, 100000, 0.0, &r);
	cr_assert_eq(backoff_next_ms(&b), 100);
	cr_assert_eq(backoff_next_ms(&b), 300);
	cr_assert_eq(backoff_next_ms(&b), 900);
	cr_assert_eq(backoff_next_ms(&b), 2700);
	cr_assert_eq(b.steps, 4);
}

Test(backoff, capped_at_max)
{
	double r = 0.0;
	struct backoff b = make(1000, 2.0, 5000, 0.0, &r);
	long want[] = { 1000, 2000, 4000, 5000, 5000, 5000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert_eq(backoff_next_ms(&b), want[i], "step %zu", i);
}

Test(backoff, factor_one_is_constant)
{
	double r = 0.0;
	struct backoff b = make(250, 1.0, 250, 0.0, &r);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(backoff_next_ms(&b), 250);
}

Test(backoff, jitter_adds_a_fraction_of_the_delay)
{
	double r = 0.5;
	struct backoff b = make(800, 2.0, 30000, 1.0, &r);
	cr_assert_eq(backoff_next_ms(&b), 1200); /* 800 + 800 * 1.0 * 0.5 */
	r = 0.25;
	cr_assert_eq(backoff_next_ms(&b), 2000); /* 1600 + 400 */
	r = 0.0;
	cr_assert_eq(backoff_next_ms(&b), 3200);
}

Test(backoff, jitter_goes_above_the_cap_like_client_go)
{
	/* The cap applies before jitter, so capped delays still spread out. */
	double r = 0.5;
	struct backoff b = make(1000, 10.0, 2000, 0.2, &r);
	cr_assert_eq(backoff_next_ms(&b), 1100);
	cr_assert_eq(backoff_next_ms(&b), 2200);
	r = 0.999;
	cr_assert_eq(backoff_next_ms(&b), 2399);
}

Test(backoff, reset_starts_over)
{
	double r = 0.0;
	struct backoff b = make(800, 2.0, 30000, 0.0, &r);
	for (int i = 0; i < 10; i++)
		backoff_next_ms(&b);
	cr_assert_eq(backoff_next_ms(&b), 30000);
	backoff_reset(&b);
	cr_assert_eq(b.steps, 0);
	cr_assert_eq(backoff_next_ms(&b), 800);
	cr_assert_eq(backoff_next_ms(&b), 1600);
}

Test(backoff, broken_random_source_means_no_jitter)
{
	double r = 1.0; /* outside [0, 1) */
	struct backoff b = make(1000, 2.0, 8000, 1.0, &r);
	cr_assert_eq(backoff_next_ms(&b), 1000);
	r = -0.5;
	cr_assert_eq(backoff_next_ms(&b), 2000);
}

Test(backoff, null_source_restores_the_built_in_one)
{
	double r = 0.0;
	struct backoff b = make(1000, 1.0, 1000, 1.0, &r);
	cr_assert_eq(backoff_next_ms(&b), 1000);
	backoff_set_rand(&b, NULL, &r);
	cr_assert_eq(b.rand, backoff_rand_default);
	cr_assert_null(b.rand_state);
	/* 1000 draws that all hit exactly 0 would mean the source is not used. */
	int above = 0;
	for (int i = 0; i < 1000; i++) {
		long d = backoff_next_ms(&b);
		cr_assert(d >= 1000 && d < 2000, "%ld", d);
		above += d > 1000;
	}
	cr_assert_gt(above, 900);
}

Test(backoff, seeded_source_is_reproducible_and_in_range)
{
	uint64_t s1 = 42, s2 = 42, s3 = 43;
	double first[64];
	for (int i = 0; i < 64; i++) {
		first[i] = backoff_rand_seeded(&s1);
		cr_assert(first[i] >= 0.0 && first[i] < 1.0);
	}
	int differs = 0;
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(backoff_rand_seeded(&s2), first[i], "same seed, same draw %d", i);
		differs += backoff_rand_seeded(&s3) != first[i];
	}
	cr_assert_gt(differs, 60, "another seed gives another sequence");
}

Test(backoff, forked_children_draw_their_own_jitter)
{
	backoff_rand_default(NULL); /* seed in this process */
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		double d = backoff_rand_default(NULL);
		_exit(write(fds[1], &d, sizeof(d)) == sizeof(d) ? 0 : 1);
	}
	double mine = backoff_rand_default(NULL), child = -1;
	cr_assert_eq(read(fds[0], &child, sizeof(child)), (ssize_t)sizeof(child));
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[0]);
	close(fds[1]);
	cr_assert_neq(mine, child, "the child reseeded instead of repeating the parent's next draw");
}

Test(backoff, stateless_delay_matches_the_stateful_one)
{
	double r = 0.3;
	struct backoff b = make(5, 2.0, 1000000, 0.5, &r);
	struct backoff_params p = b.p;
	for (unsigned i = 0; i < 30; i++)
		cr_assert_eq(backoff_delay_ms(&p, i, 0.3), backoff_next_ms(&b), "step %u", i);
}

Test(backoff, stateless_delay_never_overflows)
{
	struct backoff_params p = { 1, 2.0, LONG_MAX, 1.0 };
	cr_assert_eq(backoff_delay_ms(&p, UINT_MAX, 0.999), LONG_MAX);
	cr_assert_eq(backoff_delay_ms(&p, 200, 0.0), LONG_MAX);
	struct backoff_params q = { 1, 2.0, 1000, 0.0 };
	cr_assert_eq(backoff_delay_ms(&q, UINT_MAX, 0.0), 1000);
}

Test(backoff, the_design_settings)
{
	long watch[] = { 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000 };
	for (unsigned i = 0; i < sizeof(watch) / sizeof(watch[0]); i++)
		cr_assert_eq(backoff_delay_ms(&BACKOFF_WATCH_RECONNECT, i, 0.0), watch[i]);
	cr_assert_eq(BACKOFF_WATCH_RECONNECT.jitter, 1.0);
	long restart[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
	for (unsigned i = 0; i < sizeof(restart) / sizeof(restart[0]); i++)
		cr_assert_eq(backoff_delay_ms(&BACKOFF_WORKER_RESTART, i, 0.0), restart[i]);
	cr_assert_eq(backoff_delay_ms(&BACKOFF_WORKQUEUE_ITEM, 0, 0.0), 5);
	cr_assert_eq(backoff_delay_ms(&BACKOFF_WORKQUEUE_ITEM, 1, 0.0), 10);
	cr_assert_eq(backoff_delay_ms(&BACKOFF_WORKQUEUE_ITEM, 50, 0.0), 1000000);
	struct cx_err err = { 0 };
	cr_assert_eq(backoff_params_check(&BACKOFF_WATCH_RECONNECT, &err), 0);
	cr_assert_eq(backoff_params_check(&BACKOFF_WORKER_RESTART, &err), 0);
	cr_assert_eq(backoff_params_check(&BACKOFF_WORKQUEUE_ITEM, &err), 0);
}

static void check_rejected(struct backoff_params p, const char *field)
{
	struct backoff b;
	memset(&b, 0xff, sizeof(b));
	struct cx_err err = { 0 };
	cr_assert_eq(backoff_init(&b, &p, &err), -EINVAL, "%s should be rejected", field);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, field), "message names %s: %s", field, err.msg);
	cr_assert_eq(b.steps, 0, "left zeroed");
	cr_assert_null(b.rand);
}

Test(backoff, bad_params_are_rejected_naming_the_field)
{
	check_rejected((struct backoff_params){ 0, 2.0, 1000, 0.0 }, "initial");
	check_rejected((struct backoff_params){ -5, 2.0, 1000, 0.0 }, "initial");
	check_rejected((struct backoff_params){ 10, 0.5, 1000, 0.0 }, "factor");
	check_rejected((struct backoff_params){ 10, NAN, 1000, 0.0 }, "factor");
	check_rejected((struct backoff_params){ 10, INFINITY, 1000, 0.0 }, "factor");
	check_rejected((struct backoff_params){ 10, 2.0, 5, 0.0 }, "maximum");
	check_rejected((struct backoff_params){ 10, 2.0, 1000, -0.1 }, "jitter");
	check_rejected((struct backoff_params){ 10, 2.0, 1000, NAN }, "jitter");
}

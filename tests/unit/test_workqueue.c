/* Unit tests for watcher/workqueue on a fake clock: dedup, dirty keys never
 * handed out twice, FIFO order, delayed adds, the rate limiter (per-key
 * backoff and the shared bucket), next_due_ms, the counters, and a randomized
 * comparison against a plain reference model. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "err.h"
#include "ratelimit.h"
#include "workqueue.h"

/* An arbitrary start for the fake clock: nothing may assume it starts at 0. */
#define T0 5000000LL

static struct workqueue *make(void)
{
	struct cx_err err = { 0 };
	struct workqueue *q = NULL;
	workqueue_new("test", NULL, &q, &err);
	cr_assert_not_null(q, "%s", err.msg);
	return q;
}

static void add(struct workqueue *q, const char *key, int64_t now)
{
	cr_assert_eq(workqueue_add(q, key, now), 0, "add %s", key);
}

static void add_after(struct workqueue *q, const char *key, int64_t delay, int64_t now)
{
	cr_assert_eq(workqueue_add_after(q, key, delay, now), 0, "add %s after %lld ms", key, (long long)delay);
}

/* Gets a key at now and asserts it is want. */
static void expect_get(struct workqueue *q, int64_t now, const char *want)
{
	const char *key = NULL;
	int rc = workqueue_get(q, now, &key);
	cr_assert_eq(rc, 0, "get at %lld: expected %s, got rc %d", (long long)(now - T0), want, rc);
	cr_assert_str_eq(key, want, "get at %lld", (long long)(now - T0));
}

static void expect_empty(struct workqueue *q, int64_t now)
{
	const char *key = NULL;
	int rc = workqueue_get(q, now, &key);
	cr_assert_eq(rc, -EAGAIN, "get at %lld: expected nothing, got %s", (long long)(now - T0), rc ? "?" : key);
}

static void done(struct workqueue *q, const char *key, int64_t now)
{
	cr_assert_eq(workqueue_done(q, key, now), 0, "done %s", key);
}

static struct workqueue_stats stats(const struct workqueue *q)
{
	struct workqueue_stats s;
	workqueue_stats(q, &s);
	return s;
}

Test(workqueue, duplicate_adds_collapse)
{
	struct workqueue *q = make();
	add(q, "c/ns/a", T0);
	add(q, "c/ns/a", T0);
	add(q, "c/ns/b", T0);
	add(q, "c/ns/a", T0 + 1);
	struct workqueue_stats s = stats(q);
	cr_assert_eq(s.depth, 2);
	cr_assert_eq(s.ready, 2);
	cr_assert_eq(s.adds_total, 2, "duplicates are not adds");
	expect_get(q, T0 + 2, "c/ns/a");
	expect_get(q, T0 + 2, "c/ns/b");
	expect_empty(q, T0 + 2);
	workqueue_free(&q);
	cr_assert_null(q);
}

Test(workqueue, key_in_flight_is_marked_dirty_and_requeued_once_on_done)
{
	struct workqueue *q = make();
	add(q, "k", T0);
	expect_get(q, T0, "k");
	for (int i = 0; i < 5; i++)
		add(q, "k", T0 + i);
	expect_empty(q, T0 + 10);
	struct workqueue_stats s = stats(q);
	cr_assert_eq(s.in_flight, 1);
	cr_assert_eq(s.ready, 0, "not handed out while in flight");
	cr_assert_eq(s.depth, 1, "but waiting (client-go counts the dirty key in depth)");
	cr_assert_eq(s.adds_total, 2);

	done(q, "k", T0 + 20);
	expect_get(q, T0 + 20, "k");
	expect_empty(q, T0 + 20);
	done(q, "k", T0 + 30);
	expect_empty(q, T0 + 30);
	s = stats(q);
	cr_assert_eq(s.depth, 0);
	cr_assert_eq(s.in_flight, 0);
	cr_assert_eq(s.keys, 0, "nothing left to remember");
	workqueue_free(&q);
}

Test(workqueue, done_without_get_is_refused)
{
	struct workqueue *q = make();
	cr_assert_eq(workqueue_done(q, "nobody", T0), -ENOENT);
	add(q, "k", T0);
	cr_assert_eq(workqueue_done(q, "k", T0), -ENOENT, "queued, not in flight");
	expect_get(q, T0, "k");
	done(q, "k", T0);
	cr_assert_eq(workqueue_done(q, "k", T0), -ENOENT, "done twice");
	cr_assert_eq(stats(q).keys, 0);
	workqueue_free(&q);
}

Test(workqueue, bad_keys_are_rejected)
{
	struct workqueue *q = make();
	cr_assert_eq(workqueue_add(q, NULL, T0), -EINVAL);
	cr_assert_eq(workqueue_add(q, "", T0), -EINVAL);
	cr_assert_eq(workqueue_add_after(q, "", 10, T0), -EINVAL);
	cr_assert_eq(workqueue_add_after(q, NULL, 0, T0), -EINVAL);
	cr_assert_eq(workqueue_add_rate_limited(q, "", T0), -EINVAL);
	cr_assert_eq(workqueue_done(q, NULL, T0), -ENOENT);
	workqueue_forget(q, NULL);
	cr_assert_eq(workqueue_retries(q, NULL), 0);
	cr_assert_eq(stats(q).keys, 0);
	cr_assert_eq(stats(q).retries_total, 0);
	workqueue_free(&q);
}

Test(workqueue, hands_out_in_fifo_order)
{
	struct workqueue *q = make();
	const char *keys[] = { "c", "a", "e", "b", "d" };
	for (int i = 0; i < 5; i++)
		add(q, keys[i], T0 + i);
	add(q, "a", T0 + 9); /* a duplicate keeps its place */
	expect_get(q, T0 + 10, "c");
	expect_get(q, T0 + 10, "a");
	/* a is added while in flight: on done it goes behind the others. */
	add(q, "a", T0 + 11);
	done(q, "a", T0 + 12);
	add(q, "f", T0 + 13);
	expect_get(q, T0 + 14, "e");
	expect_get(q, T0 + 14, "b");
	expect_get(q, T0 + 14, "d");
	expect_get(q, T0 + 14, "a");
	expect_get(q, T0 + 14, "f");
	expect_empty(q, T0 + 14);
	workqueue_free(&q);
}

Test(workqueue, delayed_add_is_due_exactly_at_its_time)
{
	struct workqueue *q = make();
	add_after(q, "k", 100, T0);
	cr_assert_eq(stats(q).delayed, 1);
	cr_assert_eq(stats(q).depth, 0, "not waiting to be handed out yet");
	expect_empty(q, T0 + 99);
	expect_get(q, T0 + 100, "k");
	cr_assert_eq(stats(q).delayed, 0);
	done(q, "k", T0 + 100);
	/* delay <= 0 is an immediate add. */
	add_after(q, "now", 0, T0 + 200);
	add_after(q, "past", -5, T0 + 200);
	expect_get(q, T0 + 200, "now");
	expect_get(q, T0 + 200, "past");
	workqueue_free(&q);
}

Test(workqueue, earliest_delayed_add_wins)
{
	struct workqueue *q = make();
	add_after(q, "k", 500, T0);
	add_after(q, "k", 200, T0);
	add_after(q, "k", 800, T0);
	add_after(q, "k", 250, T0 + 10); /* due at 260: later than 200 */
	cr_assert_eq(stats(q).delayed, 1);
	cr_assert_eq(workqueue_next_due_ms(q, T0), 200);
	expect_empty(q, T0 + 199);
	expect_get(q, T0 + 200, "k");
	done(q, "k", T0 + 201);
	expect_empty(q, T0 + 10000);
	cr_assert_eq(stats(q).adds_total, 1);
	cr_assert_eq(stats(q).keys, 0);
	workqueue_free(&q);
}

Test(workqueue, fifo_follows_when_keys_became_ready)
{
	struct workqueue *q = make();
	add_after(q, "x", 300, T0);
	add_after(q, "y", 100, T0);
	add_after(q, "w", 100, T0); /* same due time as y, set later: after y */
	add(q, "z", T0 + 200);      /* after y and w (due at 100), before x (300) */
	expect_get(q, T0 + 400, "y");
	expect_get(q, T0 + 400, "w");
	expect_get(q, T0 + 400, "z");
	expect_get(q, T0 + 400, "x");
	workqueue_free(&q);
}

Test(workqueue, delayed_entry_is_independent_of_the_queued_key)
{
	/* As client-go: a queued key with a resync pending is handed out now
	 * and again when the resync comes due. */
	struct workqueue *q = make();
	add(q, "k", T0);
	add_after(q, "k", 100, T0);
	expect_get(q, T0, "k");
	done(q, "k", T0 + 1);
	expect_empty(q, T0 + 99);
	expect_get(q, T0 + 100, "k");
	done(q, "k", T0 + 100);
	workqueue_free(&q);
}

Test(workqueue, delayed_entry_due_while_in_flight_makes_the_key_dirty)
{
	struct workqueue *q = make();
	add(q, "k", T0);
	expect_get(q, T0, "k");
	add_after(q, "k", 50, T0);
	expect_empty(q, T0 + 60);
	cr_assert_eq(stats(q).depth, 1, "dirty");
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 60), -1);
	done(q, "k", T0 + 70);
	expect_get(q, T0 + 70, "k");
	done(q, "k", T0 + 71);
	expect_empty(q, T0 + 1000);
	workqueue_free(&q);
}

Test(workqueue, next_due_ms)
{
	struct workqueue *q = make();
	cr_assert_eq(workqueue_next_due_ms(q, T0), -1, "nothing delayed");
	add(q, "ready", T0);
	cr_assert_eq(workqueue_next_due_ms(q, T0), -1, "ready keys are not delayed");
	add_after(q, "a", 250, T0);
	add_after(q, "b", 1000, T0);
	cr_assert_eq(workqueue_next_due_ms(q, T0), 250);
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 100), 150);
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 250), 0, "due now");
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 400), 0, "overdue");
	expect_get(q, T0 + 400, "ready");
	expect_get(q, T0 + 400, "a");
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 400), 600);
	expect_empty(q, T0 + 999);
	expect_get(q, T0 + 1000, "b");
	cr_assert_eq(workqueue_next_due_ms(q, T0 + 1000), -1);
	workqueue_free(&q);
}

Test(workqueue, rate_limited_backoff_doubles_to_1000s_and_forget_resets_it)
{
	struct workqueue *q = make();
	int64_t want = 5;
	/* 30 calls fit in the bucket's burst of 100: only the key's backoff counts. */
	for (unsigned i = 0; i < 30; i++) {
		cr_assert_eq(workqueue_retries(q, "k"), i);
		int64_t d = workqueue_add_rate_limited(q, "k", T0);
		cr_assert_eq(d, want, "failure %u: %lld ms, want %lld", i + 1, (long long)d, (long long)want);
		want = want * 2 > 1000000 ? 1000000 : want * 2;
	}
	cr_assert_eq(want, 1000000, "reached the cap");
	cr_assert_eq(workqueue_retries(q, "k"), 30);
	cr_assert_eq(stats(q).retries_total, 30);
	/* The first (earliest) delayed entry is the one that stays. */
	cr_assert_eq(workqueue_next_due_ms(q, T0), 5);
	expect_get(q, T0 + 5, "k");
	workqueue_forget(q, "k");
	cr_assert_eq(workqueue_retries(q, "k"), 0);
	cr_assert_eq(workqueue_add_rate_limited(q, "k", T0 + 10), 5, "back to the initial delay");
	cr_assert_eq(workqueue_retries(q, "k"), 1);
	done(q, "k", T0 + 10);
	workqueue_forget(q, "k");
	expect_get(q, T0 + 15, "k");
	done(q, "k", T0 + 15);
	cr_assert_eq(stats(q).keys, 0);
	workqueue_forget(q, "never-seen");
	cr_assert_eq(workqueue_retries(q, "never-seen"), 0);
	cr_assert_eq(stats(q).keys, 0, "forget does not create keys");
	workqueue_free(&q);
}

Test(workqueue, failure_counts_are_per_key)
{
	struct workqueue *q = make();
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 5);
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 10);
	cr_assert_eq(workqueue_add_rate_limited(q, "b", T0), 5);
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 20);
	cr_assert_eq(workqueue_retries(q, "a"), 3);
	cr_assert_eq(workqueue_retries(q, "b"), 1);
	workqueue_free(&q);
}

Test(workqueue, bucket_limits_a_burst_to_100_then_10_per_second)
{
	struct workqueue *q = make();
	char key[32];
	for (int i = 0; i < 150; i++) {
		snprintf(key, sizeof(key), "c/ns/obj-%03d", i);
		int64_t d = workqueue_add_rate_limited(q, key, T0);
		/* The first 100 wait only their own 5 ms; then one token every 100 ms. */
		int64_t want = i < 100 ? 5 : (int64_t)(i - 99) * 100;
		cr_assert_eq(d, want, "key %d: %lld ms, want %lld", i, (long long)d, (long long)want);
	}
	cr_assert_eq(stats(q).retries_total, 150);
	expect_empty(q, T0 + 4);
	const char *k;
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "c/ns/obj-%03d", i);
		expect_get(q, T0 + 5, key);
	}
	expect_empty(q, T0 + 99);
	for (int i = 100; i < 150; i++) {
		int64_t due = T0 + (int64_t)(i - 99) * 100;
		cr_assert_eq(workqueue_next_due_ms(q, due - 1), 1);
		expect_empty(q, due - 1);
		snprintf(key, sizeof(key), "c/ns/obj-%03d", i);
		expect_get(q, due, key);
		cr_assert_eq(workqueue_get(q, due, &k), -EAGAIN, "one a tick");
	}
	/* The bucket refills: 10 s later a burst is admitted again. */
	cr_assert_eq(workqueue_add_rate_limited(q, "fresh", T0 + 20000), 5);
	workqueue_free(&q);
}

Test(workqueue, custom_limits_and_bad_limits)
{
	struct cx_err err = { 0 };
	struct workqueue_limits l = WORKQUEUE_LIMITS_DEFAULT;
	l.item = (struct backoff_params){ 100, 3.0, 1000, 0.0 };
	l.qps = 1;
	l.burst = 1;
	struct workqueue *q = NULL;
	workqueue_new(NULL, &l, &q, &err);
	cr_assert_not_null(q, "%s", err.msg);
	cr_assert_str_eq(workqueue_name(q), "");
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 100);
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 1000, "the bucket owes 1 s; backoff says 300 ms");
	cr_assert_eq(workqueue_add_rate_limited(q, "a", T0), 2000);
	workqueue_free(&q);

	l = WORKQUEUE_LIMITS_DEFAULT;
	l.item.initial_ms = 0;
	cr_assert_lt(workqueue_new("x", &l, &(struct workqueue *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "work queue: per-key backoff: initial delay"), "%s", err.msg);
	l = WORKQUEUE_LIMITS_DEFAULT;
	l.burst = 0;
	cr_assert_lt(workqueue_new("x", &l, &(struct workqueue *){ NULL }, &err), 0);
	cr_assert(strstr(err.msg, "work queue: rate limit: burst 0"), "%s", err.msg);
	workqueue_free(NULL);
}

struct recorded {
	int waits, works;
	int64_t wait_sum, work_sum;
	char last_key[32];
};

static void on_wait(void *ud, const char *key, int64_t ms)
{
	struct recorded *r = ud;
	r->waits++;
	r->wait_sum += ms;
	snprintf(r->last_key, sizeof(r->last_key), "%s", key);
}

static void on_work(void *ud, const char *key, int64_t ms)
{
	struct recorded *r = ud;
	r->works++;
	r->work_sum += ms;
	snprintf(r->last_key, sizeof(r->last_key), "%s", key);
}

Test(workqueue, counters_and_durations)
{
	struct workqueue *q = make();
	cr_assert_str_eq(workqueue_name(q), "test");
	struct recorded rec = { 0 };
	workqueue_set_observer(q, &(struct workqueue_observer){ on_wait, on_work, &rec });

	add(q, "a", T0);
	add(q, "b", T0 + 10);
	add(q, "a", T0 + 20);
	expect_get(q, T0 + 100, "a"); /* waited 100 */
	cr_assert_eq(rec.waits, 1);
	cr_assert_eq(rec.wait_sum, 100);
	cr_assert_str_eq(rec.last_key, "a");
	add(q, "a", T0 + 150);  /* dirty: its wait starts now */
	done(q, "a", T0 + 400); /* worked 300 */
	cr_assert_eq(rec.works, 1);
	cr_assert_eq(rec.work_sum, 300);
	expect_get(q, T0 + 400, "b"); /* waited 390 */
	expect_get(q, T0 + 500, "a"); /* waited 350 */
	done(q, "b", T0 + 500);
	workqueue_add_rate_limited(q, "c", T0 + 500);
	expect_get(q, T0 + 505, "c"); /* waited 0 from when it became ready */

	struct workqueue_stats s = stats(q);
	cr_assert_eq(s.adds_total, 4, "a, b, a (dirty), c");
	cr_assert_eq(s.retries_total, 1);
	cr_assert_eq(s.queue_wait_count, 4);
	cr_assert_eq(s.queue_wait_sum_ms, 100 + 390 + 350 + 0);
	cr_assert_eq(s.work_count, 2);
	cr_assert_eq(s.work_sum_ms, 300 + 100);
	cr_assert_eq(rec.wait_sum, s.queue_wait_sum_ms);
	cr_assert_eq(rec.work_sum, s.work_sum_ms);
	cr_assert_eq(s.in_flight, 2);
	cr_assert_eq(s.depth, 0);
	cr_assert_eq(s.keys, 2, "a in flight, c in flight");

	workqueue_set_observer(q, NULL);
	done(q, "a", T0 + 600);
	cr_assert_eq(rec.works, 2, "no more calls");
	cr_assert_eq(stats(q).work_count, 3);
	workqueue_free(&q); /* c is still in flight and has a failure count: freed here */
}

Test(workqueue, handed_out_key_survives_table_growth)
{
	struct workqueue *q = make();
	add(q, "first", T0);
	const char *k = NULL;
	cr_assert_eq(workqueue_get(q, T0, &k), 0);
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "grow-%d", i);
		add(q, key, T0);
	}
	cr_assert_str_eq(k, "first");
	done(q, k, T0);
	workqueue_free(&q);
}

Test(workqueue, many_keys)
{
	/* 20,000 keys through every path: immediate, delayed (out of order),
	 * rate limited, removal from the table in every order. */
	enum { N = 20000 };
	struct workqueue *q = make();
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "c/ns/%d", i);
		if (i % 3 == 0)
			add(q, key, T0);
		else
			add_after(q, key, 1 + (int64_t)((i * 7919) % 5000), T0);
	}
	cr_assert_eq(stats(q).keys, N);
	int64_t now = T0, last_due = 0;
	int got = 0;
	while (got < N) {
		const char *k;
		if (workqueue_get(q, now, &k) == -EAGAIN) {
			int64_t d = workqueue_next_due_ms(q, now);
			cr_assert_gt(d, 0);
			now += d;
			continue;
		}
		int i = atoi(k + strlen("c/ns/"));
		if (i % 3) {
			int64_t due = 1 + (int64_t)((i * 7919) % 5000);
			cr_assert_geq(due, last_due, "delayed keys come out by due time");
			last_due = due;
		}
		cr_assert_eq(workqueue_done(q, k, now), 0);
		got++;
	}
	cr_assert_eq(stats(q).keys, 0);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "c/ns/%d", i);
		cr_assert_geq(workqueue_add_rate_limited(q, key, now), 5);
	}
	for (int i = N - 1; i >= 0; i -= 2) {
		snprintf(key, sizeof(key), "c/ns/%d", i);
		workqueue_forget(q, key);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "c/ns/%d", i);
		cr_assert_eq(workqueue_retries(q, key), (unsigned)(i % 2 == 0), "key %d", i);
	}
	workqueue_free(&q);
}

/* ---- randomized comparison with a reference model ------------------------ */

/* The reference: the same rules written the slow, obvious way, over a small
 * set of keys so that collisions between operations are frequent. */
enum { MK = 24 };

struct model {
	bool queued[MK], in_flight[MK], dirty[MK], delayed[MK];
	int64_t due[MK];
	uint64_t due_seq[MK], seq;
	unsigned failures[MK];
	int fifo[MK * 4];
	int fifo_len;
	struct ratelimit bucket;
	/* The properties under test, tracked from the caller's side only. */
	bool handed_out[MK]; /* between our get and our done */
	bool owed[MK];       /* added since it was last handed out */
};

static void model_add(struct model *m, int k)
{
	if (m->in_flight[k]) {
		m->dirty[k] = true;
	} else if (!m->queued[k]) {
		m->queued[k] = true;
		m->fifo[m->fifo_len++] = k;
	}
}

static void model_promote(struct model *m, int64_t now)
{
	for (;;) {
		int best = -1;
		for (int k = 0; k < MK; k++)
			if (m->delayed[k] && m->due[k] <= now &&
			    (best < 0 || m->due[k] < m->due[best] ||
			     (m->due[k] == m->due[best] && m->due_seq[k] < m->due_seq[best])))
				best = k;
		if (best < 0)
			return;
		m->delayed[best] = false;
		model_add(m, best);
	}
}

static void model_add_after(struct model *m, int k, int64_t delay, int64_t now)
{
	model_promote(m, now);
	if (delay <= 0) {
		model_add(m, k);
		return;
	}
	if (!m->delayed[k] || now + delay < m->due[k]) {
		m->delayed[k] = true;
		m->due[k] = now + delay;
		m->due_seq[k] = m->seq++;
	}
}

static void check_against_model(struct workqueue *q, const struct model *m, int64_t now, int step)
{
	struct workqueue_stats s = stats(q);
	uint64_t ready = 0, dirty = 0, inflight = 0, delayed = 0, keys = 0;
	int64_t next = -1;
	for (int k = 0; k < MK; k++) {
		ready += m->queued[k];
		dirty += m->dirty[k];
		inflight += m->in_flight[k];
		delayed += m->delayed[k];
		keys += m->queued[k] || m->in_flight[k] || m->delayed[k] || m->failures[k];
		if (m->delayed[k]) {
			int64_t d = m->due[k] <= now ? 0 : m->due[k] - now;
			if (next < 0 || d < next)
				next = d;
		}
	}
	cr_assert_eq(s.ready, ready, "step %d", step);
	cr_assert_eq(s.depth, ready + dirty, "step %d", step);
	cr_assert_eq(s.in_flight, inflight, "step %d", step);
	cr_assert_eq(s.keys, keys, "step %d", step);
	cr_assert_eq(s.delayed, delayed, "step %d: both move due entries at the same calls", step);
	cr_assert_eq(workqueue_next_due_ms(q, now), next, "step %d", step);
}

static void keyname(char *buf, size_t len, int k)
{
	snprintf(buf, len, "ctl/ns-%d/obj-%d", k % 3, k);
}

static void run_model(uint64_t seed, int steps)
{
	struct workqueue *q = make();
	struct model *m = calloc(1, sizeof(*m));
	cr_assert_not_null(m);
	cr_assert_eq(ratelimit_init(&m->bucket, RATELIMIT_WORKQUEUE_QPS, RATELIMIT_WORKQUEUE_BURST, NULL), 0);
	const struct backoff_params item = BACKOFF_WORKQUEUE_ITEM;
	int64_t now = T0;
	char key[48];

	for (int step = 0; step < steps; step++) {
		double r = backoff_rand_seeded(&seed);
		int k = (int)(backoff_rand_seeded(&seed) * MK);
		keyname(key, sizeof(key), k);
		if (r < 0.25) {
			model_add_after(m, k, 0, now);
			m->owed[k] = true;
			add(q, key, now);
		} else if (r < 0.40) {
			int64_t delay = (int64_t)(backoff_rand_seeded(&seed) * 2000) - 100;
			model_add_after(m, k, delay, now);
			m->owed[k] = true;
			add_after(q, key, delay, now);
		} else if (r < 0.47) {
			model_promote(m, now);
			int64_t want = backoff_delay_ms(&item, m->failures[k], 0.0);
			m->failures[k]++;
			int64_t wait = ratelimit_reserve(&m->bucket, now * 1000000);
			wait = (wait + 999999) / 1000000;
			if (wait > want)
				want = wait;
			model_add_after(m, k, want, now);
			m->owed[k] = true;
			cr_assert_eq(workqueue_add_rate_limited(q, key, now), want, "step %d", step);
		} else if (r < 0.52) {
			m->failures[k] = 0;
			workqueue_forget(q, key);
		} else if (r < 0.75) {
			model_promote(m, now);
			const char *got = NULL;
			int rc = workqueue_get(q, now, &got);
			if (m->fifo_len == 0) {
				cr_assert_eq(rc, -EAGAIN, "step %d: handed out %s with nothing ready", step,
					     rc ? "" : got);
				continue;
			}
			int want = m->fifo[0];
			memmove(m->fifo, m->fifo + 1, (size_t)--m->fifo_len * sizeof(m->fifo[0]));
			keyname(key, sizeof(key), want);
			cr_assert_eq(rc, 0, "step %d: %s is ready", step, key);
			cr_assert_str_eq(got, key, "step %d: FIFO order", step);
			/* The invariant, checked from the caller's side. */
			cr_assert(!m->handed_out[want], "step %d: %s handed out twice at once", step, key);
			m->handed_out[want] = true;
			m->owed[want] = false;
			m->queued[want] = false;
			m->in_flight[want] = true;
		} else if (r < 0.93) {
			/* Finish a random job in flight, if any. */
			int start = k;
			for (k = start; !m->in_flight[k];) {
				k = (k + 1) % MK;
				if (k == start)
					break;
			}
			keyname(key, sizeof(key), k);
			if (!m->in_flight[k]) {
				cr_assert_eq(workqueue_done(q, key, now), -ENOENT, "step %d", step);
				continue;
			}
			model_promote(m, now);
			m->in_flight[k] = false;
			m->handed_out[k] = false;
			if (m->dirty[k]) {
				m->dirty[k] = false;
				model_add(m, k);
			}
			done(q, key, now);
		} else {
			now += (int64_t)(backoff_rand_seeded(&seed) * 300);
		}
		check_against_model(q, m, now, step);
	}

	/* Drain: finish everything, jump to each due time, until the queue is
	 * empty. Every key owed a hand-out must get one. */
	for (int rounds = 0;; rounds++) {
		cr_assert_lt(rounds, 100000, "drain does not end");
		const char *got;
		while (workqueue_get(q, now, &got) == 0) {
			int gk = -1;
			for (int i = 0; i < MK && gk < 0; i++) {
				keyname(key, sizeof(key), i);
				if (strcmp(key, got) == 0)
					gk = i;
			}
			cr_assert_geq(gk, 0);
			cr_assert(!m->handed_out[gk], "%s handed out twice at once", got);
			m->handed_out[gk] = true;
			m->owed[gk] = false;
		}
		bool any = false;
		for (int i = 0; i < MK; i++)
			if (m->handed_out[i]) {
				keyname(key, sizeof(key), i);
				done(q, key, now);
				m->handed_out[i] = false;
				any = true;
			}
		int64_t d = workqueue_next_due_ms(q, now);
		if (!any && d < 0 && stats(q).ready == 0)
			break;
		if (d > 0)
			now += d;
	}
	for (int i = 0; i < MK; i++)
		cr_assert(!m->owed[i], "key %d was added and never handed out after", i);
	struct workqueue_stats s = stats(q);
	cr_assert_eq(s.depth, 0);
	cr_assert_eq(s.in_flight, 0);
	cr_assert_eq(s.delayed, 0);
	for (int i = 0; i < MK; i++) {
		keyname(key, sizeof(key), i);
		workqueue_forget(q, key);
	}
	cr_assert_eq(stats(q).keys, 0, "no item outlives its state");
	free(m);
	workqueue_free(&q);
}

Test(workqueue, randomized_against_a_reference_model)
{
	for (uint64_t seed = 1; seed <= 20; seed++)
		run_model(seed * 0x9e3779b97f4a7c15u, 5000);
}

/* A gate that refuses the keys of controller "held" (issue 10 §1). */
static bool not_held(void *ud, const char *key)
{
	(void)ud;
	return strncmp(key, "held/", 5) != 0;
}

Test(workqueue, filtered_get_skips_refused_keys_and_keeps_them_queued_in_order)
{
	struct workqueue *q = make();
	add(q, "held/a", T0);
	add(q, "open/b", T0 + 1);
	add(q, "held/c", T0 + 2);
	add(q, "open/d", T0 + 3);
	const char *k = NULL;
	cr_assert_eq(workqueue_get_filtered(q, T0 + 10, not_held, NULL, &k), 0);
	cr_assert_str_eq(k, "open/b");
	workqueue_done(q, "open/b", T0 + 11);
	cr_assert_eq(workqueue_get_filtered(q, T0 + 12, not_held, NULL, &k), 0);
	cr_assert_str_eq(k, "open/d");
	workqueue_done(q, "open/d", T0 + 13);
	cr_assert_eq(workqueue_get_filtered(q, T0 + 14, not_held, NULL, &k), -EAGAIN, "only refused keys left");
	struct workqueue_stats st;
	workqueue_stats(q, &st);
	cr_assert_eq(st.ready, 2, "the refused keys are still queued");
	/* An add of a held key collapses into the queued one. */
	add(q, "held/a", T0 + 15);
	workqueue_stats(q, &st);
	cr_assert_eq(st.ready, 2);
	/* Once the gate opens they come out in their original order. */
	cr_assert_eq(workqueue_get(q, T0 + 20, &k), 0);
	cr_assert_str_eq(k, "held/a");
	workqueue_done(q, "held/a", T0 + 21);
	cr_assert_eq(workqueue_get(q, T0 + 22, &k), 0);
	cr_assert_str_eq(k, "held/c");
	workqueue_done(q, "held/c", T0 + 23);
	cr_assert_eq(workqueue_get(q, T0 + 24, &k), -EAGAIN);
	workqueue_free(&q);
}

Test(workqueue, filtered_get_unlinks_the_tail_correctly)
{
	struct workqueue *q = make();
	add(q, "held/a", T0);
	add(q, "open/b", T0 + 1);
	const char *k = NULL;
	cr_assert_eq(workqueue_get_filtered(q, T0 + 2, not_held, NULL, &k), 0);
	cr_assert_str_eq(k, "open/b");
	add(q, "open/e", T0 + 3); /* pushed after the tail, which must be held/a now */
	cr_assert_eq(workqueue_get_filtered(q, T0 + 4, not_held, NULL, &k), 0);
	cr_assert_str_eq(k, "open/e");
	cr_assert_eq(workqueue_get(q, T0 + 5, &k), 0);
	cr_assert_str_eq(k, "held/a");
	workqueue_free(&q);
}

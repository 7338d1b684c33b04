/* workqueue: client-go's rate-limited work queue, single-threaded, with the
 * clock passed in.
 *
 * A key (an opaque string; coxswain uses "controller/namespace/name") is in
 * at most one of these states at a time, plus an optional delayed entry:
 *
 *   queued     waiting to be handed out, at most once in the ready FIFO
 *   in flight  handed out by workqueue_get, not yet workqueue_done
 *   dirty      in flight and added again meanwhile: queued on workqueue_done
 *
 * So duplicate adds collapse, and a key is NEVER handed out twice at once
 * (client-go's dirty/processing sets; docs/architecture.md §2.2).
 *
 * Delayed adds (workqueue_add_after: resyncAfterSeconds, requeue results,
 * rate-limited retries) wait in a min-heap; for one key only the earliest due
 * time is kept. A delayed entry is independent of the key's other state, as
 * in client-go: when it comes due it is an ordinary add (collapsing into a
 * queued key, or marking an in-flight one dirty).
 *
 * Time is int64 milliseconds on a monotonic clock, always a parameter and
 * never read here, so tests drive a fake clock. Every call that takes `now`
 * first moves the delayed entries due at `now` (due <= now) into the FIFO,
 * oldest due time first, so the FIFO is ordered by when each key became
 * ready, whichever call happens to notice it.
 *
 * Rate-limited adds use client-go's default controller rate limiter,
 * MaxOf(ItemExponentialFailureRateLimiter(5 ms, 1000 s),
 * BucketRateLimiter(10/s, burst 100)): the delay is the larger of the key's
 * exponential backoff (which grows with its failure count until
 * workqueue_forget) and the wait for a token from the shared bucket.
 *
 * Keys live in an open-addressing hash table and delayed entries in a binary
 * heap: every operation is O(1) or O(log n) in the number of keys. Nothing
 * here is thread-safe; coxswain's watcher is one event loop. */
#ifndef COXSWAIN_WORKQUEUE_H
#define COXSWAIN_WORKQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "backoff.h"
#include "ratelimit.h"

struct cx_err;
struct workqueue;

/* The rate limiter's settings. */
struct workqueue_limits {
	struct backoff_params item; /* per-key failure backoff (client-go: no jitter) */
	double qps;                 /* the shared bucket: tokens a second */
	int burst;                  /* and its size */
};

/* client-go's DefaultControllerRateLimiter (docs/architecture.md §6). */
#define WORKQUEUE_LIMITS_DEFAULT                                                                                       \
	((struct workqueue_limits){ BACKOFF_WORKQUEUE_ITEM, RATELIMIT_WORKQUEUE_QPS, RATELIMIT_WORKQUEUE_BURST })

/* Counters for the Prometheus workqueue_* metrics. Plain numbers, read with
 * workqueue_stats. */
struct workqueue_stats {
	uint64_t depth;         /* workqueue_depth: keys waiting to be handed out,
				 * i.e. queued + dirty (client-go counts both) */
	uint64_t ready;         /* of those, queued (workqueue_get would return one) */
	uint64_t in_flight;     /* handed out, not done */
	uint64_t delayed;       /* delayed entries not yet due */
	uint64_t keys;          /* keys the queue tracks (any state, or a failure count) */
	uint64_t adds_total;    /* workqueue_adds_total: adds that were not duplicates */
	uint64_t retries_total; /* workqueue_retries_total: workqueue_add_rate_limited calls */
	/* Sums and counts of the two durations, for callers that want a summary
	 * without an observer. */
	uint64_t queue_wait_count;
	int64_t queue_wait_sum_ms; /* workqueue_queue_duration_seconds */
	uint64_t work_count;
	int64_t work_sum_ms; /* workqueue_work_duration_seconds */
};

/* Called for each duration as it is measured, so a metrics module can feed
 * its histograms. key is borrowed for the call. Either function may be NULL. */
struct workqueue_observer {
	/* From the add that made key dirty to the workqueue_get handing it out. */
	void (*queue_wait)(void *ud, const char *key, int64_t ms);
	/* From workqueue_get to workqueue_done. */
	void (*work)(void *ud, const char *key, int64_t ms);
	void *ud;
};

/* Hands out an empty queue in *out. Returns 0, or with *out NULL and err
 * filled: -EINVAL naming the bad setting, -ENOMEM. limits NULL means
 * WORKQUEUE_LIMITS_DEFAULT. name (copied; NULL means "") is the metrics label
 * client-go calls the queue's name. */
int workqueue_new(const char *name, const struct workqueue_limits *limits, struct workqueue **out, struct cx_err *err);

/* Frees q and every key in it and sets *q to NULL. NULL and *q NULL are fine. */
void workqueue_free(struct workqueue **q);

/* The name given to workqueue_new (borrowed). */
const char *workqueue_name(const struct workqueue *q);

/* Replaces the observer (copied); NULL removes it. */
void workqueue_set_observer(struct workqueue *q, const struct workqueue_observer *obs);

/* Adds key now: queues it unless it is queued already; marks it dirty when
 * it is in flight. Returns 0, -EINVAL for a NULL or empty key, -ENOMEM. */
int workqueue_add(struct workqueue *q, const char *key, int64_t now);

/* Adds key once delay_ms have passed (at now + delay_ms; delay_ms <= 0 is
 * workqueue_add). When key already has a delayed entry, the earlier due time
 * wins. Errors as workqueue_add. */
int workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms, int64_t now);

/* Adds key after the rate limiter's delay: max(key's backoff, bucket wait).
 * Counts a failure for key (see workqueue_retries) and a retry. Returns the
 * delay chosen in ms (>= 0), or -EINVAL / -ENOMEM. */
int64_t workqueue_add_rate_limited(struct workqueue *q, const char *key, int64_t now);

/* Resets key's failure count: its next rate-limited add waits the initial
 * backoff again. Call it when a job succeeded. Unknown keys are fine. */
void workqueue_forget(struct workqueue *q, const char *key);

/* How many rate-limited adds key had since the last workqueue_forget
 * (client-go's NumRequeues). 0 for unknown keys. */
unsigned workqueue_retries(const struct workqueue *q, const char *key);

/* Hands out the key that has been ready longest and marks it in flight.
 * *key is borrowed: it stays valid until workqueue_done for it (or
 * workqueue_free). Returns 0, or -EAGAIN when no key is ready at now. */
int workqueue_get(struct workqueue *q, int64_t now, const char **key);

/* Decides whether key may be handed out now (borrowed for the call). */
typedef bool (*workqueue_accept_fn)(void *ud, const char *key);

/* workqueue_get for the first ready key that accept takes: the keys it
 * refuses stay queued where they are, in order, and come out once accepted
 * (the watcher holds back the keys of a controller whose caches have not
 * synced). Costs one accept call per refused key ahead of the one handed
 * out. accept NULL is workqueue_get. Returns 0, or -EAGAIN when no ready key
 * is accepted. */
int workqueue_get_filtered(struct workqueue *q, int64_t now, workqueue_accept_fn accept, void *ud, const char **key);

/* The job for key finished (whatever its outcome): key is no longer in
 * flight, and if it was added meanwhile it is queued again now. Returns 0, or
 * -ENOENT when key is not in flight (nothing is changed). */
int workqueue_done(struct workqueue *q, const char *key, int64_t now);

/* Milliseconds until the earliest delayed entry is due: 0 when one is due at
 * now already, -1 when there is none. Does not look at the ready FIFO: a
 * caller with idle workers calls workqueue_get first. Changes nothing. */
int64_t workqueue_next_due_ms(const struct workqueue *q, int64_t now);

/* Fills *out with the current counters. */
void workqueue_stats(const struct workqueue *q, struct workqueue_stats *out);

#endif

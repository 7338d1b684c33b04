#include "config.h"

#include "workqueue.h"
#include "backoff.h"
#include "err.h"
#include "ratelimit.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* heap_idx of a key without a delayed entry. */
#define NOT_DELAYED SIZE_MAX
/* The hash table starts with this many slots and doubles past 3/4 full. */
#define TABLE_MIN 64

/* Everything the queue knows about one key. One allocation holds the struct
 * and the key, so the key handed out by workqueue_get stays put while the
 * table grows. An item exists while the key is queued, in flight, delayed or
 * has a failure count; it is freed as soon as none of these holds. */
struct wq_item {
	uint64_t hash;
	bool queued;          /* in the ready FIFO */
	bool in_flight;       /* handed out, not done */
	bool dirty;           /* added while in flight */
	unsigned failures;    /* rate-limited adds since the last forget */
	struct wq_item *next; /* the ready FIFO's link */
	size_t heap_idx;      /* position in the delay heap, or NOT_DELAYED */
	int64_t due_ms;       /* when the delayed entry is due */
	uint64_t due_seq;     /* ties between equal due times: first set, first out */
	int64_t added_ms;     /* when the key became queued or dirty */
	int64_t started_ms;   /* when it was handed out */
	char key[];
};

struct workqueue {
	char *name;
	struct workqueue_limits limits;
	struct ratelimit bucket;
	struct workqueue_observer obs;

	/* Open addressing, linear probing, backward-shift deletion (no
	 * tombstones, so lookups never slow down after many deletions). */
	struct wq_item **slots;
	size_t cap; /* a power of two */
	size_t count;

	/* Ready FIFO. */
	struct wq_item *head, *tail;

	/* Binary min-heap of delayed items by (due_ms, due_seq). */
	struct wq_item **heap;
	size_t heap_len, heap_cap;
	uint64_t seq;

	size_t n_ready, n_dirty, n_in_flight;
	struct workqueue_stats totals; /* only the *_total, *_count and *_sum fields */
};

/* ---- hash table ---------------------------------------------------------- */

/* FNV-1a, then a 64-bit finalizer (murmur3's fmix64) so that keys sharing a
 * long prefix ("websites/default/...") spread over the low bits the mask
 * keeps. */
static uint64_t hash_key(const char *key)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3u;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53u;
	h ^= h >> 33;
	return h;
}

static struct wq_item *table_find(const struct workqueue *q, const char *key, uint64_t hash)
{
	size_t mask = q->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct wq_item *it = q->slots[i];
		if (!it)
			return NULL;
		if (it->hash == hash && strcmp(it->key, key) == 0)
			return it;
	}
}

/* Puts it in the first free slot of its probe sequence; there is one. */
static void table_place(struct wq_item **slots, size_t cap, struct wq_item *it)
{
	size_t mask = cap - 1, i = it->hash & mask;
	while (slots[i])
		i = (i + 1) & mask;
	slots[i] = it;
}

/* Makes room for one more item. Returns 0 or -ENOMEM (the table unchanged). */
static int table_reserve(struct workqueue *q)
{
	if ((q->count + 1) * 4 <= q->cap * 3)
		return 0;
	size_t cap = q->cap * 2;
	struct wq_item **slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < q->cap; i++)
		if (q->slots[i])
			table_place(slots, cap, q->slots[i]);
	free(q->slots);
	q->slots = slots;
	q->cap = cap;
	return 0;
}

/* Removes it and shifts back the entries of the cluster after it that may
 * move closer to their home slot, which keeps every probe sequence unbroken. */
static void table_remove(struct workqueue *q, struct wq_item *it)
{
	size_t mask = q->cap - 1, i = it->hash & mask;
	while (q->slots[i] != it)
		i = (i + 1) & mask;
	q->slots[i] = NULL;
	q->count--;
	for (size_t j = (i + 1) & mask; q->slots[j]; j = (j + 1) & mask) {
		size_t home = q->slots[j]->hash & mask;
		/* The entry at j may move to the hole at i unless its home lies
		 * cyclically in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		q->slots[i] = q->slots[j];
		q->slots[j] = NULL;
		i = j;
	}
}

/* ---- delay heap ---------------------------------------------------------- */

static bool heap_before(const struct wq_item *a, const struct wq_item *b)
{
	return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->due_seq < b->due_seq);
}

static void heap_set(struct workqueue *q, size_t i, struct wq_item *it)
{
	q->heap[i] = it;
	it->heap_idx = i;
}

static void heap_up(struct workqueue *q, size_t i)
{
	struct wq_item *it = q->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_before(it, q->heap[parent]))
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void heap_down(struct workqueue *q, size_t i)
{
	struct wq_item *it = q->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= q->heap_len)
			break;
		if (child + 1 < q->heap_len && heap_before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!heap_before(q->heap[child], it))
			break;
		heap_set(q, i, q->heap[child]);
		i = child;
	}
	heap_set(q, i, it);
}

static int heap_push(struct workqueue *q, struct wq_item *it)
{
	if (q->heap_len == q->heap_cap) {
		size_t cap = q->heap_cap ? q->heap_cap * 2 : 64;
		struct wq_item **heap = realloc(q->heap, cap * sizeof(*heap));
		if (!heap)
			return -ENOMEM;
		q->heap = heap;
		q->heap_cap = cap;
	}
	heap_set(q, q->heap_len++, it);
	heap_up(q, it->heap_idx);
	return 0;
}

static struct wq_item *heap_pop(struct workqueue *q)
{
	struct wq_item *top = q->heap[0];
	top->heap_idx = NOT_DELAYED;
	if (--q->heap_len > 0) {
		heap_set(q, 0, q->heap[q->heap_len]);
		heap_down(q, 0);
	}
	return top;
}

/* ---- items --------------------------------------------------------------- */

/* Returns key's item, creating it when create is set. NULL when the key is
 * unknown (and create is not set) or on -ENOMEM. */
static struct wq_item *item_get(struct workqueue *q, const char *key, bool create)
{
	uint64_t hash = hash_key(key);
	struct wq_item *it = table_find(q, key, hash);
	if (it || !create)
		return it;
	if (table_reserve(q))
		return NULL;
	size_t len = strlen(key);
	it = calloc(1, sizeof(*it) + len + 1);
	if (!it)
		return NULL;
	memcpy(it->key, key, len + 1);
	it->hash = hash;
	it->heap_idx = NOT_DELAYED;
	table_place(q->slots, q->cap, it);
	q->count++;
	return it;
}

/* Frees it when nothing about its key is left to remember. */
static void item_release_if_idle(struct workqueue *q, struct wq_item *it)
{
	if (it->queued || it->in_flight || it->heap_idx != NOT_DELAYED || it->failures > 0)
		return;
	table_remove(q, it);
	free(it);
}

static void fifo_push(struct workqueue *q, struct wq_item *it)
{
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
}

/* The add itself: queue it, or mark it dirty when in flight; a key already
 * queued or dirty stays as it is (it will be handed out once). at is the
 * time the key became ready, the start of its queue wait. */
static void item_add(struct workqueue *q, struct wq_item *it, int64_t at)
{
	if (it->in_flight) {
		if (it->dirty)
			return;
		it->dirty = true;
		q->n_dirty++;
	} else {
		if (it->queued)
			return;
		it->queued = true;
		q->n_ready++;
		fifo_push(q, it);
	}
	it->added_ms = at;
	q->totals.adds_total++;
}

/* Moves every delayed entry due at now into the FIFO, earliest first: called
 * at the top of every operation that is told the time, so a key that became
 * ready at t is queued ahead of one added after t. */
static void promote_due(struct workqueue *q, int64_t now)
{
	while (q->heap_len > 0 && q->heap[0]->due_ms <= now) {
		struct wq_item *it = heap_pop(q);
		item_add(q, it, it->due_ms);
	}
}

static int64_t add_saturating(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* ---- public -------------------------------------------------------------- */

int workqueue_new(const char *name, const struct workqueue_limits *limits, struct workqueue **out, struct cx_err *err)
{
	*out = NULL;
	struct workqueue_limits l = limits ? *limits : WORKQUEUE_LIMITS_DEFAULT;
	int r = backoff_params_check(&l.item, err);
	if (r) {
		cx_err_prefix(err, "work queue: per-key ");
		return r;
	}
	struct workqueue *q = calloc(1, sizeof(*q));
	if (!q)
		return cx_err_set(err, -ENOMEM, "work queue: out of memory");
	if ((r = ratelimit_init(&q->bucket, l.qps, l.burst, err))) {
		cx_err_prefix(err, "work queue: ");
		free(q);
		return r;
	}
	q->limits = l;
	q->name = strdup(name ? name : "");
	q->cap = TABLE_MIN;
	q->slots = calloc(q->cap, sizeof(*q->slots));
	if (!q->name || !q->slots) {
		workqueue_free(&q);
		return cx_err_set(err, -ENOMEM, "work queue: out of memory");
	}
	*out = q;
	return 0;
}

void workqueue_free(struct workqueue **qp)
{
	if (!qp || !*qp)
		return;
	struct workqueue *q = *qp;
	if (q->slots)
		for (size_t i = 0; i < q->cap; i++)
			free(q->slots[i]);
	free(q->slots);
	free(q->heap);
	free(q->name);
	free(q);
	*qp = NULL;
}

const char *workqueue_name(const struct workqueue *q)
{
	return q->name;
}

void workqueue_set_observer(struct workqueue *q, const struct workqueue_observer *obs)
{
	if (obs)
		q->obs = *obs;
	else
		memset(&q->obs, 0, sizeof(q->obs));
}

int workqueue_add(struct workqueue *q, const char *key, int64_t now)
{
	if (!key || !*key)
		return -EINVAL;
	promote_due(q, now);
	struct wq_item *it = item_get(q, key, true);
	if (!it)
		return -ENOMEM;
	item_add(q, it, now);
	return 0;
}

int workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_ms, int64_t now)
{
	if (delay_ms <= 0)
		return workqueue_add(q, key, now);
	if (!key || !*key)
		return -EINVAL;
	promote_due(q, now);
	struct wq_item *it = item_get(q, key, true);
	if (!it)
		return -ENOMEM;
	int64_t due = add_saturating(now, delay_ms);
	if (it->heap_idx != NOT_DELAYED) {
		/* client-go's waitingForQueue: only ever move an entry earlier. */
		if (due < it->due_ms) {
			it->due_ms = due;
			it->due_seq = q->seq++;
			heap_up(q, it->heap_idx);
		}
		return 0;
	}
	it->due_ms = due;
	it->due_seq = q->seq++;
	if (heap_push(q, it)) {
		item_release_if_idle(q, it);
		return -ENOMEM;
	}
	return 0;
}

int64_t workqueue_add_rate_limited(struct workqueue *q, const char *key, int64_t now)
{
	if (!key || !*key)
		return -EINVAL;
	promote_due(q, now);
	struct wq_item *it = item_get(q, key, true);
	if (!it)
		return -ENOMEM;
	/* client-go's MaxOfRateLimiter asks every limiter, so both the key's
	 * failure count and the bucket advance on every call. */
	double r = q->limits.item.jitter > 0 ? backoff_rand_default(NULL) : 0.0;
	int64_t delay = backoff_delay_ms(&q->limits.item, it->failures, r);
	if (it->failures < UINT_MAX)
		it->failures++;
	q->totals.retries_total++;

	/* The bucket counts in ns; a clock past ~292 years of ms would overflow. */
	int64_t now_ns = now <= 0 ? 0 : now >= INT64_MAX / 1000000 ? INT64_MAX : now * 1000000;
	int64_t wait_ns = ratelimit_reserve(&q->bucket, now_ns);
	int64_t wait_ms = wait_ns / 1000000 + (wait_ns % 1000000 != 0);
	if (wait_ms > delay)
		delay = wait_ms;

	int rc = workqueue_add_after(q, key, delay, now);
	return rc ? rc : delay;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	if (!key)
		return;
	struct wq_item *it = item_get(q, key, false);
	if (!it)
		return;
	it->failures = 0;
	item_release_if_idle(q, it);
}

unsigned workqueue_retries(const struct workqueue *q, const char *key)
{
	if (!key)
		return 0;
	const struct wq_item *it = table_find(q, key, hash_key(key));
	return it ? it->failures : 0;
}

int workqueue_get(struct workqueue *q, int64_t now, const char **key)
{
	return workqueue_get_filtered(q, now, NULL, NULL, key);
}

int workqueue_get_filtered(struct workqueue *q, int64_t now, workqueue_accept_fn accept, void *ud, const char **key)
{
	promote_due(q, now);
	struct wq_item *prev = NULL, *it = q->head;
	while (it && accept && !accept(ud, it->key)) {
		prev = it;
		it = it->next;
	}
	if (!it)
		return -EAGAIN;
	if (prev)
		prev->next = it->next;
	else
		q->head = it->next;
	if (q->tail == it)
		q->tail = prev;
	it->next = NULL;
	it->queued = false;
	q->n_ready--;
	it->in_flight = true;
	q->n_in_flight++;
	it->started_ms = now;

	int64_t waited = now > it->added_ms ? now - it->added_ms : 0;
	q->totals.queue_wait_count++;
	q->totals.queue_wait_sum_ms = add_saturating(q->totals.queue_wait_sum_ms, waited);
	if (q->obs.queue_wait)
		q->obs.queue_wait(q->obs.ud, it->key, waited);
	*key = it->key;
	return 0;
}

int workqueue_done(struct workqueue *q, const char *key, int64_t now)
{
	if (!key)
		return -ENOENT;
	struct wq_item *it = item_get(q, key, false);
	if (!it || !it->in_flight)
		return -ENOENT;
	promote_due(q, now);
	it->in_flight = false;
	q->n_in_flight--;

	int64_t worked = now > it->started_ms ? now - it->started_ms : 0;
	q->totals.work_count++;
	q->totals.work_sum_ms = add_saturating(q->totals.work_sum_ms, worked);
	/* it stays alive during the callback: it is not released before the end. */
	if (q->obs.work)
		q->obs.work(q->obs.ud, it->key, worked);

	if (it->dirty) {
		it->dirty = false;
		q->n_dirty--;
		it->queued = true;
		q->n_ready++;
		fifo_push(q, it); /* added_ms is when the add arrived */
	}
	item_release_if_idle(q, it);
	return 0;
}

int64_t workqueue_next_due_ms(const struct workqueue *q, int64_t now)
{
	if (q->heap_len == 0)
		return -1;
	int64_t due = q->heap[0]->due_ms;
	if (due <= now)
		return 0;
	if (now < 0 && due > INT64_MAX + now)
		return INT64_MAX;
	return due - now;
}

void workqueue_stats(const struct workqueue *q, struct workqueue_stats *out)
{
	*out = q->totals;
	out->ready = q->n_ready;
	out->in_flight = q->n_in_flight;
	out->depth = q->n_ready + q->n_dirty;
	out->delayed = q->heap_len;
	out->keys = q->count;
}

/* statset: cumulative counters by family and labels, in the shape the
 * STATS message carries them (common/proto.h).
 *
 * A worker counts its API requests into one and sends its families in
 * STATS; the broker keeps one per worker with the last values that worker
 * reported, and statset_raise tells it what each series grew by, so that
 * the watcher's /metrics adds only the growth (a new worker process starts
 * from zero; an older, smaller report adds nothing).
 *
 * A family is a metric name with a fixed list of label names; a series is
 * one combination of label values; a value is a whole count. Not
 * thread-safe. */
#ifndef COXSWAIN_STATSET_H
#define COXSWAIN_STATSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct statset;

/* rest_client_requests_total{code,method,host}, as client-go names it. */
#define STATSET_REST_REQUESTS "rest_client_requests_total"
extern const char *const statset_rest_labels[]; /* "code", "method", "host", NULL */

/* rest_client_rate_limiter_duration_seconds{verb,host} as whole counts:
 * the observations in each bucket alone (not cumulative; le is the bucket's
 * bound as "%g" writes it, or "+Inf"), and the sum of the waits in whole
 * microseconds. The watcher adds them to its histogram of that name. */
#define STATSET_LIMITER_BUCKET "rest_client_rate_limiter_duration_seconds_bucket"
#define STATSET_LIMITER_SUM_US "rest_client_rate_limiter_duration_seconds_sum_microseconds"
extern const char *const statset_limiter_bucket_labels[]; /* "verb", "host", "le", NULL */
extern const char *const statset_limiter_sum_labels[];    /* "verb", "host", NULL */

/* An empty set, or NULL when out of memory. */
struct statset *statset_new(void);

/* Frees *s and NULLs it; NULL is fine. */
void statset_free(struct statset **s);

/* Adds n to the series of family with the labels names[i] = values[i]
 * (names NULL-terminated, at most PROTO_STATS_MAX_LABELS; values as many),
 * created at 0 first. The caller keeps a family's label names the same
 * from call to call. Marks the set changed. Returns 0, -EINVAL for NULL
 * values or too many labels, or -ENOMEM. */
int statset_add(struct statset *s, const char *family, const char *const *names, const char *const *values, uint64_t n);

/* Raises the series to v when v is larger than its value, and sets *grew to
 * the difference (0 when v is not larger: nothing is ever taken back).
 * Returns as statset_add. */
int statset_raise(struct statset *s, const char *family, const char *const *names, const char *const *values,
		  uint64_t v, uint64_t *grew);

/* The value of a series; 0 when it does not exist. */
uint64_t statset_value(const struct statset *s, const char *family, const char *const *names,
		       const char *const *values);

/* Whether anything was added since the last statset_clean, and whether the
 * set has no series at all. */
bool statset_changed(const struct statset *s);
void statset_clean(struct statset *s);
bool statset_empty(const struct statset *s);

/* The families as STATS's "families" field: family name -> [{"labels":
 * {name: value}, "value": n}, ...]. Borrowed; changes with the set. */
struct json_object *statset_families(const struct statset *s);

/* A kclient request observer (kclient_request_fn; ud is the struct statset
 * *) counting every request in rest_client_requests_total, code written as
 * kclient_code_label does. */
void statset_count_request(void *ud, int code, const char *method, const char *host);

/* A kclient limiter observer (kclient_wait_fn; ud is the struct statset *)
 * counting one wait of waited_ns in the two families above. */
void statset_count_wait(void *ud, const char *verb, const char *host, int64_t waited_ns);

/* The le label of bucket i of ratelimit_wait_buckets (i ==
 * RATELIMIT_WAIT_BUCKETS_N: "+Inf") into buf of at least 32 bytes; returns
 * buf. */
const char *statset_le_label(size_t i, char *buf);

#endif

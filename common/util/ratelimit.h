/* ratelimit: a client-side token bucket, as client-go's flowcontrol limiter
 * (golang.org/x/time/rate underneath).
 *
 * The bucket holds up to `burst` tokens and gains `qps` tokens a second. Each
 * request takes one. ratelimit_reserve never refuses: when the bucket is
 * empty it takes the token on credit and says how long the caller must wait
 * before going ahead, so back-to-back reservations queue up one 1/qps apart
 * (x/time/rate's Reserve). The clock is a parameter, so tests drive it.
 *
 * Arithmetic is in integers (a token is 10^12 units, qps is kept in
 * thousandths), so a fractional rate such as 3/s does not drift the way
 * summing a rounded 333333333 ns interval would. */
#ifndef COXSWAIN_RATELIMIT_H
#define COXSWAIN_RATELIMIT_H

#include <stdint.h>

struct cx_err;

/* The API client's default: no client-side limit, as controller-runtime's
 * current release does (pkg/client/config/config.go, GetConfigWithContext:
 * "if cfg.QPS == 0.0 { cfg.QPS = -1 }", relying on the server's API
 * Priority and Fairness); client-go's rest.RESTClientFor then makes no
 * limiter for a QPS below 0. A QPS set without a burst gets client-go's
 * DefaultBurst (rest/config.go). */
#define RATELIMIT_CLIENT_QPS   (-1.0)
#define RATELIMIT_CLIENT_BURST 10
/* The work queue's overall bucket. */
#define RATELIMIT_WORKQUEUE_QPS   10.0
#define RATELIMIT_WORKQUEUE_BURST 100

/* Accepted ranges: qps in [0.001, 1e6], burst in [1, 1000000]. */
#define RATELIMIT_QPS_MIN   0.001
#define RATELIMIT_QPS_MAX   1e6
#define RATELIMIT_BURST_MAX 1000000

/* Plain struct: embed it, set it up with ratelimit_init. */
struct ratelimit {
	int64_t rate;     /* units gained per ns (= qps * 1000) */
	int64_t capacity; /* burst, in units */
	int64_t tokens;   /* in units; below 0 while reservations are outstanding */
	int64_t last_ns;  /* the latest clock reading seen */
};

/* Makes rl a full bucket of burst tokens refilled at qps a second. Returns
 * -EINVAL with err naming the value when qps or burst is out of range. */
int ratelimit_init(struct ratelimit *rl, double qps, int burst, struct cx_err *err);

/* Takes a token at time now_ns (CLOCK_MONOTONIC nanoseconds, or a fake clock)
 * and returns how many ns the caller must wait before going ahead: 0 when a
 * token was there. A clock that goes backwards adds no tokens. The real
 * clock is clock_monotonic_ns (common/clock.h). */
int64_t ratelimit_reserve(struct ratelimit *rl, int64_t now_ns);

/* The bounds (seconds) of rest_client_rate_limiter_duration_seconds, as
 * client-go's (k8s.io/component-base/metrics/prometheus/restclient:
 * RateLimiterLatency, labels verb and host); +Inf is implied. */
#define RATELIMIT_WAIT_BUCKETS_N 12
extern const double ratelimit_wait_buckets[RATELIMIT_WAIT_BUCKETS_N];

/* Parses a --kube-api-qps value: a decimal number, -1 (or any negative:
 * client-go's "no limit") or from RATELIMIT_QPS_MIN to RATELIMIT_QPS_MAX;
 * *out is -1 for no limit. Returns -EINVAL with err saying what was
 * expected (the caller prefixes the flag or field). */
int ratelimit_parse_qps(const char *s, double *out, struct cx_err *err);

/* Parses a --kube-api-burst value: a whole number from 1 to
 * RATELIMIT_BURST_MAX. Returns -EINVAL with err as ratelimit_parse_qps. */
int ratelimit_parse_burst(const char *s, int *out, struct cx_err *err);

#endif

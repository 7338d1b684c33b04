/* retry: when the API client tries a failed request again, and after how long.
 *
 * The rules (client-go's, with a backoff where client-go gives up):
 *   - 429 Too Many Requests: always retryable, whatever the verb: the server
 *     refused the request before doing anything.
 *   - 500, 502, 503, 504 and connection errors (-ECONNREFUSED, -ECONNRESET,
 *     -ETIMEDOUT, -EHOSTUNREACH): only for idempotent requests, since the
 *     first try may have taken effect.
 *   - Anything else, every other 4xx included: never.
 *   - At most max_attempts attempts in all.
 *   - The delay is the server's Retry-After (seconds or an HTTP-date, capped
 *     at max_retry_after_ms) when a retryable response has a usable one, else
 *     the policy's exponential backoff with jitter.
 *
 * Which requests are idempotent is the caller's call: GET, HEAD, PUT, DELETE
 * are; POST is not; a server-side apply PATCH is (applying the same
 * configuration twice gives the same object), other PATCHes are not. */
#ifndef COXSWAIN_RETRY_H
#define COXSWAIN_RETRY_H

#include <stdbool.h>
#include <time.h>

#include "backoff.h"

#define RETRY_DEFAULT_MAX_ATTEMPTS       5
#define RETRY_DEFAULT_MAX_RETRY_AFTER_MS 30000L
/* 500 ms, 1 s, 2 s, 4 s (+ up to half again): about 11 s at worst for the
 * four retries, which rides out an API server restart without blowing a
 * worker's per-job API budget. */
#define RETRY_DEFAULT_BACKOFF ((struct backoff_params){ 500, 2.0, 8000, 0.5 })

/* A zeroed policy is the default one; a field left 0 (or invalid) takes its
 * default. Plain struct, nothing to free. */
struct retry_policy {
	int max_attempts;              /* attempts in all, the first included; <= 0: 5 */
	long max_retry_after_ms;       /* cap on the server's Retry-After; <= 0: 30 s */
	struct backoff_params backoff; /* delays without Retry-After; invalid: RETRY_DEFAULT_BACKOFF */
	backoff_rand_fn rand;          /* jitter source, drawn once per backoff delay; NULL: built-in */
	void *rand_state;
	time_t (*now)(void); /* wall clock for HTTP-date Retry-After; NULL: time() */
};

/* Decides about attempt number `attempt` (1 = the first try) that just
 * failed with http_status (0 when there was no response) or transport_errno
 * (a kclient code such as -ECONNRESET, 0 when a response came; a positive
 * errno is taken as its negative). retry_after_header is the Retry-After
 * response header's value, or NULL. p NULL means the default policy.
 * Returns true when the request should be sent again after *delay_ms
 * (delay_ms may be NULL); false with *delay_ms = 0 when not. */
bool retry_decide(const struct retry_policy *p, int attempt, bool idempotent, long http_status, int transport_errno,
		  const char *retry_after_header, long *delay_ms);

/* Parses a Retry-After value (RFC 9110 10.2.3): delay-seconds, or an
 * HTTP-date in any of its three forms, the wait being from now until then.
 * Surrounding whitespace is allowed. Negative seconds and dates in the past
 * give 0; absurdly large values saturate at LONG_MAX. Returns 0 with
 * *delay_ms set, or -EINVAL when the value is neither. */
int retry_parse_retry_after(const char *value, time_t now, long *delay_ms);

#endif

/* apireach: when the watcher says that the API server cannot be reached.
 *
 * An unreachable API server (connection refused, timed out, TLS broken) is
 * an operator's first question, so it is logged at -v 0 with the server and
 * the error; but every informer and discovery retry hits it, so the line is
 * rate-limited: the first failure of an outage is logged at once, then at
 * most one line per interval (with how many failures it stands for), and a
 * success ends the outage so that the next one is logged at once again.
 *
 * The clock is a parameter (monotonic ms), so tests drive a fake one. */
#ifndef COXSWAIN_APIREACH_H
#define COXSWAIN_APIREACH_H

#include <stdbool.h>
#include <stdint.h>

#define APIREACH_LOG_INTERVAL_MS 60000

struct apireach {
	int64_t interval_ms;
	bool failing;
	int64_t since_ms; /* start of the outage, when failing */
	int64_t next_log_ms;
	uint64_t unlogged; /* failures since the last line */
};

/* interval_ms <= 0 takes APIREACH_LOG_INTERVAL_MS. */
void apireach_init(struct apireach *a, int64_t interval_ms);

/* True for the kclient codes that mean no answer came from the server (as
 * opposed to an answer that refused: 403, 404 ...). */
bool apireach_is_transport(int code);

/* An attempt failed at now_ms with no answer from the server. Returns true
 * when this failure is to be logged now; *covers (may be NULL) is then the
 * number of failures the line stands for (this one included). */
bool apireach_failed(struct apireach *a, int64_t now_ms, uint64_t *covers);

/* An answer came: the outage, if any, is over. */
void apireach_ok(struct apireach *a);

#endif

#include "config.h"

#include "retry.h"
#include "backoff.h"
#include "civil.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Reads exactly n digits (n = 0: one or more) at *s into *out. */
static bool digits(const char **s, int n, long *out)
{
	long v = 0;
	int i = 0;
	for (; is_digit((*s)[i]) && (n == 0 || i < n); i++) {
		if (v > (LONG_MAX - 9) / 10)
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	if (i == 0 || (n && i != n))
		return false;
	*s += i;
	*out = v;
	return true;
}

static bool literal(const char **s, const char *lit)
{
	size_t n = strlen(lit);
	if (strncmp(*s, lit, n))
		return false;
	*s += n;
	return true;
}

/* A three-letter month name, case-sensitive as the grammar says, to 1..12. */
static bool month(const char **s, long *out)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int m = 0; m < 12; m++)
		if (!strncmp(*s, names + 3 * m, 3)) {
			*s += 3;
			*out = m + 1;
			return true;
		}
	return false;
}

/* "08:49:37" */
static bool clock_time(const char **s, long *h, long *m, long *sec)
{
	return digits(s, 2, h) && literal(s, ":") && digits(s, 2, m) && literal(s, ":") && digits(s, 2, sec) &&
		*h <= 23 && *m <= 59 && *sec <= 60;
}

/* Parses the three HTTP-date forms RFC 9110 5.6.7 says a recipient must accept:
 *   Sun, 06 Nov 1994 08:49:37 GMT     IMF-fixdate
 *   Sunday, 06-Nov-94 08:49:37 GMT    obsolete RFC 850
 *   Sun Nov  6 08:49:37 1994          obsolete asctime
 * The weekday is skipped, not checked: the RFC lets recipients ignore it. */
static bool http_date(const char *s, time_t *out)
{
	long day, mon, year, h, m, sec;
	int weekday_len = 0;
	while (is_alpha(s[weekday_len]))
		weekday_len++;
	if (weekday_len < 3)
		return false;
	s += weekday_len;
	if (literal(&s, ", ")) {
		/* IMF-fixdate or RFC 850: the separator after the day says which. */
		if (!digits(&s, 2, &day))
			return false;
		if (literal(&s, " ")) {
			if (!month(&s, &mon) || !literal(&s, " ") || !digits(&s, 4, &year))
				return false;
		} else if (literal(&s, "-")) {
			if (!month(&s, &mon) || !literal(&s, "-") || !digits(&s, 2, &year))
				return false;
			/* RFC 9110: a two-digit year more than 50 years ahead is in the past century. */
			year += year < 70 ? 2000 : 1900;
		} else {
			return false;
		}
		if (!literal(&s, " ") || !clock_time(&s, &h, &m, &sec) || !literal(&s, " GMT"))
			return false;
	} else if (literal(&s, " ")) {
		/* asctime: the day is padded with a space, not a zero. */
		if (!month(&s, &mon) || !literal(&s, " "))
			return false;
		literal(&s, " ");
		if (!digits(&s, 0, &day) || day > 31 || !literal(&s, " ") || !clock_time(&s, &h, &m, &sec) ||
		    !literal(&s, " ") || !digits(&s, 4, &year))
			return false;
	} else {
		return false;
	}
	int64_t secs;
	if (*s || civil_to_unix(year, (int)mon, (int)day, (int)h, (int)m, (int)sec, &secs))
		return false;
	*out = (time_t)secs;
	return true;
}

int retry_parse_retry_after(const char *value, time_t now, long *delay_ms)
{
	if (!value)
		return -EINVAL;
	while (is_ows(*value))
		value++;
	size_t len = strlen(value);
	while (len > 0 && is_ows(value[len - 1]))
		len--;
	char buf[64];
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, len);
	buf[len] = '\0';

	const char *s = buf;
	bool negative = literal(&s, "-");
	if (is_digit(*s)) {
		long seconds = 0;
		bool fits = true;
		for (; is_digit(*s); s++) {
			if (seconds > (LONG_MAX / 1000 - 9) / 10)
				fits = false; /* keep scanning: "999...9x" is still garbage */
			else
				seconds = seconds * 10 + (*s - '0');
		}
		if (*s)
			return -EINVAL;
		/* Not valid per the RFC, but the only sane reading is "now". */
		*delay_ms = negative ? 0 : fits ? seconds * 1000 : LONG_MAX;
		return 0;
	}
	if (negative)
		return -EINVAL;
	time_t when;
	if (!http_date(buf, &when))
		return -EINVAL;
	if (when <= now)
		*delay_ms = 0;
	else if ((intmax_t)(when - now) > LONG_MAX / 1000)
		*delay_ms = LONG_MAX;
	else
		*delay_ms = (long)(when - now) * 1000;
	return 0;
}

/* Transport errors where the request cannot have reached the server, or the
 * connection died under it. kclient reports a connect timeout and a whole-
 * request timeout both as -ETIMEDOUT; since only idempotent requests are
 * retried on these, retrying either is safe. */
static bool connection_error(long e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ETIMEDOUT:
	case EHOSTUNREACH:
		return true;
	default:
		return false;
	}
}

static bool server_error(long status)
{
	return status == 500 || status == 502 || status == 503 || status == 504;
}

bool retry_decide(const struct retry_policy *p, int attempt, bool idempotent, long http_status, int transport_errno,
		  const char *retry_after_header, long *delay_ms)
{
	static const struct retry_policy defaults = { 0 };
	if (!p)
		p = &defaults;
	if (delay_ms)
		*delay_ms = 0;
	int max_attempts = p->max_attempts > 0 ? p->max_attempts : RETRY_DEFAULT_MAX_ATTEMPTS;
	if (attempt < 1)
		attempt = 1;
	if (attempt >= max_attempts)
		return false;

	bool retryable;
	if (transport_errno)
		retryable = idempotent && connection_error(labs((long)transport_errno)); /* long: -INT_MIN */
	else if (http_status == 429)
		retryable = true;
	else
		retryable = idempotent && server_error(http_status);
	if (!retryable)
		return false;

	long d;
	long cap = p->max_retry_after_ms > 0 ? p->max_retry_after_ms : RETRY_DEFAULT_MAX_RETRY_AFTER_MS;
	/* A Retry-After only means something on a response. */
	if (!transport_errno && retry_after_header &&
	    retry_parse_retry_after(retry_after_header, p->now ? p->now() : time(NULL), &d) == 0) {
		if (d > cap)
			d = cap;
	} else {
		struct backoff_params bp = p->backoff;
		if (backoff_params_check(&bp, NULL))
			bp = RETRY_DEFAULT_BACKOFF;
		double r = p->rand ? p->rand(p->rand_state) : backoff_rand_default(NULL);
		d = backoff_delay_ms(&bp, (unsigned)(attempt - 1), r);
	}
	if (delay_ms)
		*delay_ms = d;
	return true;
}

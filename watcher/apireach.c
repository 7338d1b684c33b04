#include "config.h"

#include "apireach.h"

#include <errno.h>

void apireach_init(struct apireach *a, int64_t interval_ms)
{
	*a = (struct apireach){ .interval_ms = interval_ms > 0 ? interval_ms : APIREACH_LOG_INTERVAL_MS };
}

bool apireach_is_transport(int code)
{
	switch (code) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EPROTO:
		return true;
	default:
		return false;
	}
}

bool apireach_failed(struct apireach *a, int64_t now_ms, uint64_t *covers)
{
	a->unlogged++;
	if (!a->failing) {
		a->failing = true;
		a->since_ms = now_ms;
	} else if (now_ms < a->next_log_ms) {
		return false;
	}
	if (covers)
		*covers = a->unlogged;
	a->unlogged = 0;
	a->next_log_ms = now_ms + a->interval_ms;
	return true;
}

void apireach_ok(struct apireach *a)
{
	a->failing = false;
	a->unlogged = 0;
}

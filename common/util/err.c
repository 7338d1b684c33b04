#include "config.h"

#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cx_err_clear(struct cx_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int cx_err_set(struct cx_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	cx_err_clear(err);
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* The body of cx_err_prefix and cx_err_wrap. */
static void prefix_v(struct cx_err *err, const char *fmt, va_list ap)
{
	char prefix[CX_ERR_MSG_MAX];
	if (vsnprintf(prefix, sizeof(prefix), fmt, ap) < 0)
		return;
	/* The prefix wins over the message's tail when both do not fit: it says
	 * which file or object the rest is about. */
	size_t plen = strlen(prefix), mlen = strlen(err->msg);
	if (plen + mlen >= sizeof(err->msg))
		mlen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, mlen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + mlen] = '\0';
}

int cx_err_prefix(struct cx_err *err, const char *fmt, ...)
{
	if (!err)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	prefix_v(err, fmt, ap);
	va_end(ap);
	return err->code;
}

int cx_err_wrap(struct cx_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		prefix_v(err, fmt, ap);
		va_end(ap);
	}
	return code;
}

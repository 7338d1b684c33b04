#include "config.h"

#include "jqhook.h"
#include "err.h"
#include "jqcompile.h"
#include "subprocess.h"

#include <errno.h>
#include <stdbool.h>
#include <jq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct jqhook {
	jq_state *jq;
	char *label;
};

int jqhook_new(const char *label, const char *program, struct jqhook **out, struct cx_err *err)
{
	*out = NULL;
	struct jqhook *h = calloc(1, sizeof(*h));
	if (!h || !(h->label = strdup(label ? label : "jq hook")) || !(h->jq = jq_init())) {
		jqhook_free(&h);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", label ? label : "jq hook");
	}
	char why[CX_ERR_MSG_MAX / 2];
	if (!jqcompile(h->jq, program, why, sizeof(why))) {
		int r = cx_err_set(err, -EINVAL, "%s: the jq program does not compile: %s", h->label, why);
		jqhook_free(&h);
		return r;
	}
	*out = h;
	return 0;
}

void jqhook_free(struct jqhook **hp)
{
	struct jqhook *h = hp ? *hp : NULL;
	if (!h)
		return;
	if (h->jq)
		jq_teardown(&h->jq);
	free(h->label);
	free(h);
	*hp = NULL;
}

/* The message of an invalid jv (consumed), into buf: a string as it is,
 * anything else as JSON; "" when it has none. */
static const char *invalid_message(jv invalid, char *buf, size_t len)
{
	buf[0] = '\0';
	if (!jv_invalid_has_msg(jv_copy(invalid))) {
		jv_free(invalid);
		return buf;
	}
	jv msg = jv_invalid_get_msg(invalid);
	if (jv_get_kind(msg) != JV_KIND_STRING)
		msg = jv_dump_string(msg, 0);
	if (jv_get_kind(msg) == JV_KIND_STRING) {
		const char *s = jv_string_value(msg);
		subprocess_one_line(s, strlen(s), buf, len);
	}
	jv_free(msg);
	return buf;
}

/* SIGALRM during a run: the program ran past its timeout and cannot be
 * stopped; the process goes (async-signal-safe calls only). */
static void on_timeout(int sig)
{
	(void)sig;
	static const char msg[] = "level=error msg=\"a jq hook ran past its timeout; libjq cannot stop it, so this "
				  "worker exits (the job is requeued as lost)\"\n";
	ssize_t unused = write(2, msg, sizeof(msg) - 1);
	(void)unused;
	_exit(JQHOOK_EXIT_TIMEOUT);
}

/* The watchdog around jq_start/jq_next: armed with the run's timeout,
 * disarmed and the old SIGALRM action put back after. */
struct watchdog {
	bool armed;
	struct sigaction old;
};

static void watchdog_arm(struct watchdog *w, int timeout_ms)
{
	w->armed = false;
	if (timeout_ms <= 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_timeout;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, &w->old) != 0)
		return;
	struct itimerval t = { .it_value = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 } };
	w->armed = setitimer(ITIMER_REAL, &t, NULL) == 0;
	if (!w->armed)
		sigaction(SIGALRM, &w->old, NULL);
}

static void watchdog_disarm(struct watchdog *w)
{
	if (!w->armed)
		return;
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &w->old, NULL);
	w->armed = false;
}

/* "a string", "a list"...: as hook.c names JSON values. */
static const char *kind_name(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		return "null";
	case JV_KIND_TRUE:
	case JV_KIND_FALSE:
		return "a boolean";
	case JV_KIND_NUMBER:
		return "a number";
	case JV_KIND_STRING:
		return "a string";
	case JV_KIND_ARRAY:
		return "a list";
	case JV_KIND_OBJECT:
		return "an object";
	default:
		return "something else";
	}
}

int jqhook_run(struct jqhook *h, const char *input, size_t len, int timeout_ms, char **out, size_t *out_len,
	       struct cx_err *err)
{
	*out = NULL;
	*out_len = 0;
	char why[CX_ERR_MSG_MAX / 2];
	if (len > (size_t)INT32_MAX)
		return cx_err_set(err, -EINVAL, "%s: the request is too big for jq", h->label);
	jv in = jv_parse_sized(input, (int)len);
	if (!jv_is_valid(in))
		return cx_err_set(err, -EINVAL, "%s: the request is not JSON for jq: %s", h->label,
				  invalid_message(in, why, sizeof(why)));
	struct watchdog dog;
	watchdog_arm(&dog, timeout_ms);
	jq_start(h->jq, in, 0);
	jv first = jq_next(h->jq);
	jv second = jv_is_valid(first) ? jq_next(h->jq) : jv_invalid();
	watchdog_disarm(&dog);
	if (!jv_is_valid(first)) {
		jv_free(second);
		invalid_message(first, why, sizeof(why));
		if (*why)
			return cx_err_set(err, -EPROTO, "%s: the jq program failed: %s", h->label, why);
		return cx_err_set(err, -EPROTO, "%s: the jq program gave no output, expected one JSON object",
				  h->label);
	}
	if (jv_is_valid(second)) {
		jv_free(second);
		jv_free(first);
		return cx_err_set(err, -EPROTO,
				  "%s: the jq program gave more than one output, expected one JSON "
				  "object",
				  h->label);
	}
	invalid_message(second, why, sizeof(why));
	if (*why) {
		jv_free(first);
		return cx_err_set(err, -EPROTO, "%s: the jq program failed after its first output: %s", h->label, why);
	}
	if (jv_get_kind(first) != JV_KIND_OBJECT) {
		int rc = cx_err_set(err, -EPROTO, "%s: the jq program's output is %s, expected a JSON object", h->label,
				    kind_name(first));
		jv_free(first);
		return rc;
	}
	jv text = jv_dump_string(first, 0);
	if (jv_get_kind(text) != JV_KIND_STRING) {
		jv_free(text);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", h->label);
	}
	size_t n = (size_t)jv_string_length_bytes(jv_copy(text));
	if ((*out = malloc(n + 1))) {
		memcpy(*out, jv_string_value(text), n);
		(*out)[n] = '\0';
		*out_len = n;
	}
	jv_free(text);
	return *out ? 0 : cx_err_set(err, -ENOMEM, "%s: out of memory", h->label);
}

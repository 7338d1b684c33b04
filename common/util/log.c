#include "config.h"

#include "log.h"
#include "err.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
	int verbosity;
	enum log_format format;
	FILE *out; /* NULL = stderr, which is not a constant initializer */
	log_clock_fn clock;
} settings;

void log_set_verbosity(int verbosity)
{
	settings.verbosity = verbosity < 0 ? 0 : verbosity;
}

int log_verbosity(void)
{
	return settings.verbosity;
}

bool log_enabled(enum log_level level, int v)
{
	return level != LOG_LEVEL_INFO || v <= settings.verbosity;
}

void log_set_format(enum log_format format)
{
	settings.format = format;
}

int log_parse_format(const char *s, enum log_format *out, struct cx_err *err)
{
	if (s && !strcmp(s, "text")) {
		*out = LOG_TEXT;
		return 0;
	}
	if (s && !strcmp(s, "json")) {
		*out = LOG_JSON;
		return 0;
	}
	return cx_err_set(err, -EINVAL, "log format \"%s\" is not known; use text or json", s ? s : "(none)");
}

int log_parse_verbosity(const char *s, int *out, struct cx_err *err)
{
	const char *p = s && *s == '=' ? s + 1 : s;
	int v = 0;
	bool ok = p && *p;
	for (const char *q = p; ok && *q; q++) {
		ok = *q >= '0' && *q <= '9' && q - p < 2;
		v = v * 10 + (*q - '0');
	}
	if (!ok || v > LOG_MAX_VERBOSITY)
		return cx_err_set(err, -EINVAL, "log verbosity \"%s\" is not a whole number from 0 to %d",
				  s ? s : "(none)", LOG_MAX_VERBOSITY);
	*out = v;
	return 0;
}

void log_set_output(FILE *out)
{
	settings.out = out;
}

void log_set_clock(log_clock_fn clock)
{
	settings.clock = clock;
}

static const char *level_name(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR:
		return "error";
	case LOG_LEVEL_WARNING:
		return "warning";
	default:
		return "info";
	}
}

/* RFC 3339 in UTC with milliseconds: 2026-11-25T14:00:00.123Z. */
static void format_time(char buf[32])
{
	struct timespec now;
	if (settings.clock)
		settings.clock(&now);
	else
		clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	if (!gmtime_r(&now.tv_sec, &tm)) {
		snprintf(buf, 32, "0000-00-00T00:00:00.000Z");
		return;
	}
	size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 32 - n, ".%03ldZ", (long)(now.tv_nsec / 1000000));
}

/* The line being built. On allocation failure it stops growing and sets oom;
 * the line is then replaced by a fixed one. */
struct line {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->oom)
		return;
	if (l->len + n + 1 > l->cap) {
		size_t cap = l->cap ? l->cap : 256;
		while (cap < l->len + n + 1)
			cap *= 2;
		char *grown = realloc(l->buf, cap);
		if (!grown) {
			l->oom = true;
			return;
		}
		l->buf = grown;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
	l->buf[l->len] = '\0';
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static bool is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* logfmt needs quotes around a value that is empty or holds a space, '=',
 * '"' or a control character; anything else reads back unambiguously bare. */
static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == ' ' || *p == '=' || *p == '"' || is_control(*p))
			return true;
	return false;
}

/* Writes s between quotes, escaping so that the line stays one line and the
 * value reads back exactly (the escapes are JSON's and Go's strconv.Quote's). */
static void put_quoted(struct line *l, const char *s)
{
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			put(l, "\\\"", 2);
			break;
		case '\\':
			put(l, "\\\\", 2);
			break;
		case '\n':
			put(l, "\\n", 2);
			break;
		case '\r':
			put(l, "\\r", 2);
			break;
		case '\t':
			put(l, "\\t", 2);
			break;
		default:
			if (is_control(*p)) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_str(l, esc);
			} else {
				put(l, (const char *)p, 1);
			}
		}
	}
	put(l, "\"", 1);
}

/* A key is written bare, so bytes that would end it or start a value
 * become '_': a careless key cannot make the line unparseable. */
static void put_key(struct line *l, const char *key)
{
	if (!*key) {
		put(l, "_", 1);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		bool bad = *p == ' ' || *p == '=' || *p == '"' || is_control(*p);
		put(l, bad ? "_" : (const char *)p, 1);
	}
}

static void build_text(struct line *l, const char *ts, enum log_level level, const char *msg, va_list ap)
{
	put_str(l, "ts=");
	put_str(l, ts);
	put_str(l, " level=");
	put_str(l, level_name(level));
	/* msg is always quoted, as klog does: it almost always has spaces and a
	 * reader's eye finds it faster that way. */
	put_str(l, " msg=");
	put_quoted(l, msg);
	const char *key;
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);
		put(l, " ", 1);
		put_key(l, key);
		put(l, "=", 1);
		if (!value)
			put_str(l, "null");
		else if (needs_quotes(value))
			put_quoted(l, value);
		else
			put_str(l, value);
	}
	put(l, "\n", 1);
}

/* Whether s is a number as a program would print one: -?(0|[1-9][0-9]*)
 * with an optional .[0-9]+, 15 digits at most (a double holds them exactly,
 * so a consumer reads back the same number), and not "-0". No exponent, no
 * '+', no leading zeros, no spaces: "007" or "1e3" was not printed as a
 * number. */
static bool canonical_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	const char *int_start = p;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return false;
	size_t digits = (size_t)(p - int_start);
	bool fraction = *p == '.';
	if (fraction) {
		const char *f = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == f)
			return false;
		digits += (size_t)(p - f);
	}
	if (*p || digits > 15)
		return false;
	return !(s[0] == '-' && !fraction && int_start[0] == '0');
}

/* A value as JSON: a canonical number (above) as a number, written as its
 * text ("1.50" stays 1.50), anything else as a string. */
static struct json_object *json_value(const char *value)
{
	if (!canonical_number(value))
		return json_object_new_string(value);
	if (!strchr(value, '.'))
		return json_object_new_int64(strtoll(value, NULL, 10));
	return json_object_new_double_s(strtod(value, NULL), value);
}

/* json-c does the escaping; the object keeps insertion order, so ts, level,
 * v and msg come first as in the text format. */
static void build_json(struct line *l, const char *ts, enum log_level level, int v, const char *msg, va_list ap)
{
	struct json_object *o = json_object_new_object();
	if (!o) {
		l->oom = true;
		return;
	}
	int bad = json_object_object_add(o, "ts", json_object_new_string(ts));
	bad |= json_object_object_add(o, "level", json_object_new_string(level_name(level)));
	if (level == LOG_LEVEL_INFO)
		bad |= json_object_object_add(o, "v", json_object_new_int(v));
	bad |= json_object_object_add(o, "msg", json_object_new_string(msg));
	const char *key;
	while ((key = va_arg(ap, const char *))) {
		const char *value = va_arg(ap, const char *);
		/* A NULL json_object is JSON null. */
		bad |= json_object_object_add(o, key, value ? json_value(value) : NULL);
	}
	size_t n = 0;
	const char *s = bad
		? NULL
		: json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (s) {
		put(l, s, n);
		put(l, "\n", 1);
	} else {
		l->oom = true;
	}
	json_object_put(o);
}

/* One write(2) for the whole line when the stream has a descriptor: stdio
 * would split a line longer than its buffer into several writes, and another
 * process's line could land between them. Whatever the caller left in the
 * stream's buffer is flushed first so the order is kept. Streams without a
 * descriptor (open_memstream in tests) get one fwrite. */
static void emit(const char *buf, size_t len)
{
	FILE *f = settings.out ? settings.out : stderr;
	int fd = fileno(f);
	if (fd < 0) {
		fwrite(buf, 1, len, f);
		fflush(f);
		return;
	}
	fflush(f);
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere to report a failure to log */
		buf += n;
		len -= (size_t)n;
	}
}

void log_vkv(enum log_level level, int v, const char *msg, va_list pairs)
{
	if (v < 0)
		v = 0;
	if (!log_enabled(level, v))
		return;
	int saved_errno = errno;
	char ts[32];
	format_time(ts);
	struct line l = { 0 };
	if (settings.format == LOG_JSON)
		build_json(&l, ts, level, v, msg ? msg : "", pairs);
	else
		build_text(&l, ts, level, msg ? msg : "", pairs);
	if (l.oom) {
		char fallback[128];
		int n = settings.format == LOG_JSON
			? snprintf(fallback, sizeof(fallback),
				   "{\"ts\":\"%s\",\"level\":\"error\",\"msg\":\"log: out of memory\"}\n", ts)
			: snprintf(fallback, sizeof(fallback), "ts=%s level=error msg=\"log: out of memory\"\n", ts);
		emit(fallback, (size_t)n);
	} else {
		emit(l.buf, l.len);
	}
	free(l.buf);
	errno = saved_errno;
}

void log_kv(enum log_level level, int v, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	log_vkv(level, v, msg, ap);
	va_end(ap);
}

/* Hands log_vkv a va_list holding only the terminating NULL key. */
static void log_plain(enum log_level level, int v, const char *msg, ...)
{
	va_list ap;
	va_start(ap, msg);
	log_vkv(level, v, msg, ap);
	va_end(ap);
}

void log_msgf(enum log_level level, int v, const char *fmt, ...)
{
	if (!log_enabled(level, v < 0 ? 0 : v))
		return;
	int saved_errno = errno;
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL; /* its contents are undefined after a failure */
	va_end(ap);
	errno = saved_errno;
	/* Out of memory: the unformatted text still says which event it was. */
	log_plain(level, v, msg ? msg : fmt, (const char *)NULL);
	free(msg);
}

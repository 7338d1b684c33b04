/* log: one line per event, logfmt (key=value) or JSON, with klog's levels.
 *
 *   ts=2026-11-25T14:00:00.123Z level=info msg="watch started" resource=configmaps
 *   {"ts":"2026-11-25T14:00:00.123Z","level":"info","v":0,"msg":"watch started","resource":"configmaps"}
 *
 * Errors and warnings are always written; an info message carries a
 * verbosity v and is written when v <= the verbosity set with `-v`, as in
 * klog/kubectl (0 = always, 2 = useful steady-state detail, 4 = debug,
 * 6+ = every request).
 *
 * Values are strings: callers format numbers themselves. In JSON a value that
 * reads as a canonical decimal number (-?(0|[1-9][0-9]*)(.[0-9]+)?, at most
 * 15 digits, as printf's %d or %.1f would write it) is written as a JSON
 * number, anything else as a string: {"took_ms":42,"name":"web"}. So a value's
 * JSON type follows its text; a value that only happens to be digits (a
 * resourceVersion, a name "123") is a number too, which JSON consumers should
 * not mind. The text format is the same either way. NEVER pass a bearer
 * token, a client key, a kubeconfig's contents or Secret data as a value or
 * in a message; nothing here can tell them from other strings.
 *
 * The settings are process-wide and not thread-safe (coxswain's processes
 * are single-threaded). Each line reaches the output in one write(2), so
 * lines from forked processes sharing stderr do not interleave (a pipe keeps
 * writes of up to PIPE_BUF, 4096 bytes, whole). */
#ifndef COXSWAIN_LOG_H
#define COXSWAIN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

struct cx_err;

/* LOG_LEVEL_ rather than LOG_: <syslog.h> defines LOG_INFO and LOG_WARNING. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
};

enum log_format {
	LOG_TEXT, /* logfmt key=value, the default */
	LOG_JSON, /* one JSON object per line (--log-format=json) */
};

/* Info messages with v <= verbosity are written; negative means 0. */
void log_set_verbosity(int verbosity);
int log_verbosity(void);

/* Whether a message at level and v would be written: lets a caller skip
 * building expensive values (klog's V(n).Enabled()). */
bool log_enabled(enum log_level level, int v);

void log_set_format(enum log_format format);

/* The highest verbosity -v takes. */
#define LOG_MAX_VERBOSITY 10

/* Parses the value of -v/--v as kubectl takes it: a whole number from 0 to
 * LOG_MAX_VERBOSITY, also after a '=' (getopt hands "-v=4" over as "=4";
 * "-v 4" and "--v=4" come as "4"). Returns -EINVAL with err naming the bad
 * value otherwise, leaving *out alone. */
int log_parse_verbosity(const char *s, int *out, struct cx_err *err);

/* Parses the value of --log-format: "text" or "json". Returns -EINVAL with
 * err naming the bad value otherwise. */
int log_parse_format(const char *s, enum log_format *out, struct cx_err *err);

/* Where lines go; NULL (the default) means stderr. The stream is borrowed. */
void log_set_output(FILE *out);

/* For tests: a clock that fills *now (CLOCK_REALTIME); NULL = the real one. */
typedef void (*log_clock_fn)(struct timespec *now);
void log_set_clock(log_clock_fn clock);

/* Writes msg with NULL-terminated pairs of `const char *key, const char *value`:
 *   log_kv(LOG_LEVEL_INFO, 2, "synced", "key", "ns/name", "took_ms", buf, NULL);
 * v is ignored for errors and warnings. A NULL value is written as null; the
 * list ends at the first NULL key. Keys should be plain words (bytes that
 * would break the line, such as spaces or '=', become '_') and must not be
 * ts, level, v or msg. errno is left as it was. */
void log_kv(enum log_level level, int v, const char *msg, ...) __attribute__((sentinel));

/* log_kv with the pairs in a va_list, for wrappers. */
void log_vkv(enum log_level level, int v, const char *msg, va_list pairs);

/* A message built printf-style, with no pairs. */
void log_msgf(enum log_level level, int v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

/* Unit tests for common/log: the logfmt and JSON lines, quoting and escaping,
 * verbosity, the --log-format flag and one write per line. */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define TS "2026-11-25T14:00:00.123Z"

static char *out_buf;
static size_t out_len;
static FILE *out;

static void fixed_clock(struct timespec *now)
{
	now->tv_sec = 1795615200; /* 2026-11-25T14:00:00Z */
	now->tv_nsec = 123999999; /* milliseconds are truncated, not rounded */
}

static void setup(void)
{
	out = open_memstream(&out_buf, &out_len);
	cr_assert_not_null(out);
	log_set_output(out);
	log_set_clock(fixed_clock);
}

static void teardown(void)
{
	log_set_output(NULL);
	log_set_clock(NULL);
	fclose(out);
	free(out_buf);
}

/* What has been logged so far. */
static const char *logged(void)
{
	fflush(out);
	return out_len ? out_buf : "";
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, text_line)
{
	log_kv(LOG_LEVEL_INFO, 0, "watch started", "resource", "configmaps", "rv", "12345", NULL);
	cr_assert_str_eq(logged(), "ts=" TS " level=info msg=\"watch started\" resource=configmaps rv=12345\n");
}

Test(log, text_levels)
{
	log_kv(LOG_LEVEL_ERROR, 0, "e", NULL);
	log_kv(LOG_LEVEL_WARNING, 0, "w", NULL);
	cr_assert_str_eq(logged(),
			 "ts=" TS " level=error msg=\"e\"\n"
			 "ts=" TS " level=warning msg=\"w\"\n");
}

Test(log, text_quotes_values_only_when_needed)
{
	log_kv(LOG_LEVEL_INFO, 0, "m", "plain", "a/b:c-d.e", "space", "a b", "eq", "a=b", "quote", "say \"hi\"",
	       "empty", "", "backslash", "C:\\x", "q", "a\"b", NULL);
	cr_assert_str_eq(logged(),
			 "ts=" TS " level=info msg=\"m\" plain=a/b:c-d.e space=\"a b\" eq=\"a=b\" "
			 "quote=\"say \\\"hi\\\"\" empty=\"\" backslash=C:\\x q=\"a\\\"b\"\n");
}

Test(log, text_escapes_keep_one_line)
{
	log_kv(LOG_LEVEL_INFO, 0, "two\nlines", "v",
	       "a\nb\r\tc\\d\x01"
	       "e\x7f",
	       NULL);
	cr_assert_str_eq(logged(),
			 "ts=" TS " level=info msg=\"two\\nlines\" "
			 "v=\"a\\nb\\r\\tc\\\\d\\u0001e\\u007f\"\n");
	cr_assert_eq(strchr(logged(), '\n'), logged() + strlen(logged()) - 1, "one newline, at the end");
}

Test(log, text_utf8_passes_through)
{
	log_kv(LOG_LEVEL_INFO, 0, "m", "name", "caf\xc3\xa9", NULL);
	cr_assert_str_eq(logged(), "ts=" TS " level=info msg=\"m\" name=caf\xc3\xa9\n");
}

Test(log, null_value_and_null_msg)
{
	log_kv(LOG_LEVEL_INFO, 0, NULL, "ns", (const char *)NULL, "name", "x", NULL);
	cr_assert_str_eq(logged(), "ts=" TS " level=info msg=\"\" ns=null name=x\n");
}

Test(log, bad_key_bytes_become_underscores)
{
	log_kv(LOG_LEVEL_INFO, 0, "m", "a b=c\"d\n", "1", "", "2", NULL);
	cr_assert_str_eq(logged(), "ts=" TS " level=info msg=\"m\" a_b_c_d_=1 _=2\n");
}

Test(log, verbosity_filters_info)
{
	cr_assert_eq(log_verbosity(), 0, "default is 0");
	log_kv(LOG_LEVEL_INFO, 0, "v0", NULL);
	log_kv(LOG_LEVEL_INFO, 1, "v1 hidden", NULL);
	log_set_verbosity(2);
	cr_assert_eq(log_verbosity(), 2);
	log_kv(LOG_LEVEL_INFO, 2, "v2", NULL);
	log_kv(LOG_LEVEL_INFO, 3, "v3 hidden", NULL);
	log_kv(LOG_LEVEL_INFO, -4, "negative is 0", NULL);
	cr_assert_str_eq(logged(),
			 "ts=" TS " level=info msg=\"v0\"\n"
			 "ts=" TS " level=info msg=\"v2\"\n"
			 "ts=" TS " level=info msg=\"negative is 0\"\n");
	log_set_verbosity(-1);
	cr_assert_eq(log_verbosity(), 0, "negative verbosity is 0");
}

Test(log, errors_and_warnings_ignore_verbosity)
{
	log_kv(LOG_LEVEL_ERROR, 9, "e", NULL);
	log_kv(LOG_LEVEL_WARNING, 9, "w", NULL);
	cr_assert(strstr(logged(), "msg=\"e\""));
	cr_assert(strstr(logged(), "msg=\"w\""));
}

Test(log, enabled)
{
	log_set_verbosity(3);
	cr_assert(log_enabled(LOG_LEVEL_INFO, 3));
	cr_assert_not(log_enabled(LOG_LEVEL_INFO, 4));
	cr_assert(log_enabled(LOG_LEVEL_ERROR, 100));
	cr_assert(log_enabled(LOG_LEVEL_WARNING, 100));
}

Test(log, msgf_formats)
{
	log_msgf(LOG_LEVEL_WARNING, 0, "retrying in %ld ms (%s)", 1500L, "503");
	log_msgf(LOG_LEVEL_INFO, 5, "hidden %d", 5);
	cr_assert_str_eq(logged(), "ts=" TS " level=warning msg=\"retrying in 1500 ms (503)\"\n");
}

Test(log, errno_is_preserved)
{
	errno = ECONNRESET;
	log_kv(LOG_LEVEL_ERROR, 0, "m", "k", "v", NULL);
	cr_assert_eq(errno, ECONNRESET);
	log_msgf(LOG_LEVEL_ERROR, 0, "m %d", 1);
	cr_assert_eq(errno, ECONNRESET);
}

Test(log, real_clock_is_utc_with_milliseconds)
{
	log_set_clock(NULL);
	log_kv(LOG_LEVEL_INFO, 0, "m", NULL);
	const char *l = logged();
	/* ts=YYYY-MM-DDTHH:MM:SS.mmmZ */
	cr_assert_eq(strncmp(l, "ts=20", 5), 0, "%s", l);
	const char *pattern = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";
	for (size_t i = 0; pattern[i]; i++) {
		if (pattern[i] == 'd')
			cr_assert(l[i] >= '0' && l[i] <= '9', "byte %zu of %s", i, l);
		else
			cr_assert_eq(l[i], pattern[i], "byte %zu of %s", i, l);
	}
}

Test(log, timestamps_are_utc_whatever_tz_says)
{
	setenv("TZ", "XYZ-5", 1); /* POSIX form, no tzdata needed: UTC+5 */
	tzset();
	log_kv(LOG_LEVEL_INFO, 0, "m", NULL);
	cr_assert(strncmp(logged(), "ts=" TS " ", strlen("ts=" TS " ")) == 0, "%s", logged());
}

/* Parses the only line logged as JSON. */
static struct json_object *json_line(void)
{
	const char *l = logged();
	size_t n = strlen(l);
	cr_assert_gt(n, 0);
	cr_assert_eq(l[n - 1], '\n');
	cr_assert_eq(strchr(l, '\n'), l + n - 1, "one object, one line: %s", l);
	struct json_object *o = json_tokener_parse(l);
	cr_assert_not_null(o, "not JSON: %s", l);
	return o;
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_string(v);
}

Test(log, json_line)
{
	log_set_format(LOG_JSON);
	log_set_verbosity(2);
	log_kv(LOG_LEVEL_INFO, 2, "watch started", "resource", "configmaps", NULL);
	cr_assert_str_eq(logged(),
			 "{\"ts\":\"" TS "\",\"level\":\"info\",\"v\":2,\"msg\":\"watch started\","
			 "\"resource\":\"configmaps\"}\n");
}

Test(log, json_negative_v_is_0)
{
	log_set_format(LOG_JSON);
	log_kv(LOG_LEVEL_INFO, -3, "m", NULL);
	cr_assert(strstr(logged(), "\"v\":0,"), "%s", logged());
}

Test(log, json_escapes_round_trip)
{
	log_set_format(LOG_JSON);
	const char *nasty = "say \"hi\"\nback\\slash\t/url\x01 caf\xc3\xa9";
	log_kv(LOG_LEVEL_ERROR, 0, "line\nbreak", "v1", nasty, "ns", (const char *)NULL, NULL);
	struct json_object *o = json_line();
	cr_assert_str_eq(field(o, "level"), "error");
	cr_assert_str_eq(field(o, "msg"), "line\nbreak");
	cr_assert_str_eq(field(o, "v1"), nasty);
	struct json_object *ns = NULL;
	cr_assert(json_object_object_get_ex(o, "ns", &ns));
	cr_assert_null(ns, "a NULL value is JSON null");
	cr_assert_not(json_object_object_get_ex(o, "v", NULL), "errors carry no verbosity");
	cr_assert_null(strstr(logged(), "\\/"), "slashes are not escaped: %s", logged());
	json_object_put(o);
}

Test(log, json_msgf)
{
	log_set_format(LOG_JSON);
	log_msgf(LOG_LEVEL_WARNING, 0, "took %d ms", 42);
	struct json_object *o = json_line();
	cr_assert_str_eq(field(o, "msg"), "took 42 ms");
	cr_assert_str_eq(field(o, "level"), "warning");
	cr_assert_str_eq(field(o, "ts"), TS);
	json_object_put(o);
}

Test(log, parse_format)
{
	enum log_format f = LOG_JSON;
	struct cx_err err = { 0 };
	cr_assert_eq(log_parse_format("text", &f, &err), 0);
	cr_assert_eq(f, LOG_TEXT);
	cr_assert_eq(log_parse_format("json", &f, &err), 0);
	cr_assert_eq(f, LOG_JSON);
	cr_assert_eq(log_parse_format("yaml", &f, &err), -EINVAL);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "\"yaml\""), "names the value: %s", err.msg);
	cr_assert(strstr(err.msg, "text") && strstr(err.msg, "json"), "says what is allowed: %s", err.msg);
	cr_assert_eq(log_parse_format("JSON", &f, &err), -EINVAL, "as klog: lower case only");
	cr_assert_eq(log_parse_format(NULL, &f, &err), -EINVAL);
	cr_assert_eq(f, LOG_JSON, "unchanged on error");
}

/* With a SOCK_SEQPACKET socket, every write(2) arrives as one message: a
 * line split over several writes would show up as several. */
Test(log, each_line_is_one_write)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int big = 256 * 1024;
	cr_assert_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	FILE *f = fdopen(sv[0], "w");
	cr_assert_not_null(f);
	log_set_output(f);

	fputs("caller's own text\n", f); /* still in f's buffer: must come first */
	char long_value[20000];
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	log_kv(LOG_LEVEL_INFO, 0, "short", NULL);
	log_kv(LOG_LEVEL_INFO, 0, "long", "v", long_value, NULL);
	log_set_format(LOG_JSON);
	log_kv(LOG_LEVEL_INFO, 0, "long json", "v", long_value, NULL);

	static char msg[65536];
	const char *want_start[] = { "caller's own text\n", "ts=" TS " level=info msg=\"short\"\n",
				     "ts=" TS " level=info msg=\"long\" v=xxx", "{\"ts\":" };
	size_t want_len[] = { 18, 0, strlen("ts=" TS " level=info msg=\"long\" v=") + sizeof(long_value), 0 };
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(sv[1], msg, sizeof(msg) - 1, MSG_DONTWAIT);
		cr_assert_gt(n, 0, "message %d", i);
		msg[n] = '\0';
		cr_assert_eq(strncmp(msg, want_start[i], strlen(want_start[i])), 0, "message %d: %.80s", i, msg);
		cr_assert_eq(msg[n - 1], '\n', "message %d ends its line", i);
		cr_assert_eq(strchr(msg, '\n'), msg + n - 1, "message %d is one whole line", i);
		if (want_len[i])
			cr_assert_eq((size_t)n, want_len[i], "message %d", i);
	}
	cr_assert_lt(recv(sv[1], msg, sizeof(msg), MSG_DONTWAIT), 0, "nothing more");
	log_set_output(out);
	fclose(f);
	close(sv[1]);
}

static void redirect(void)
{
	cr_redirect_stderr();
}

Test(log_default, goes_to_stderr_as_text, .init = redirect)
{
	log_kv(LOG_LEVEL_INFO, 0, "hello", "k", "v", NULL);
	fflush(stderr);
	char buf[256];
	FILE *e = cr_get_redirected_stderr();
	cr_assert_not_null(fgets(buf, sizeof(buf), e));
	cr_assert(strncmp(buf, "ts=", 3) == 0, "%s", buf);
	cr_assert(strstr(buf, " level=info msg=\"hello\" k=v\n"), "%s", buf);
}

/* Forgets what was logged: a fresh stream. */
static void reset_logged(void)
{
	teardown();
	setup();
}

Test(log, json_numbers_are_numbers)
{
	log_set_format(LOG_JSON);
	log_kv(LOG_LEVEL_INFO, 0, "m", "took_ms", "42", "neg", "-7", "zero", "0", "ratio", "1.50", "big",
	       "123456789012345", NULL);
	cr_assert_str_eq(logged(),
			 "{\"ts\":\"" TS "\",\"level\":\"info\",\"v\":0,\"msg\":\"m\",\"took_ms\":42,"
			 "\"neg\":-7,\"zero\":0,\"ratio\":1.50,\"big\":123456789012345}\n");
	struct json_object *o = json_line();
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, "took_ms", &v));
	cr_assert(json_object_is_type(v, json_type_int));
	cr_assert(json_object_object_get_ex(o, "ratio", &v));
	cr_assert(json_object_is_type(v, json_type_double));
	json_object_put(o);
}

Test(log, json_values_that_are_not_canonical_numbers_stay_strings)
{
	log_set_format(LOG_JSON);
	static const char *const not_numbers[] = {
		"",      "-",   "007",   "+1",
		"1.",    ".5",  "1e3",   "0x10",
		" 1",    "1 ",  "1.2.3", "--1",
		"1_000", "NaN", "inf",   "1234567890123456", /* 16 digits: past what a double holds exactly */
		"-0",
	};
	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++) {
		log_kv(LOG_LEVEL_INFO, 0, "m", "x", not_numbers[i], NULL);
		struct json_object *o = json_line();
		struct json_object *v = NULL;
		cr_assert(json_object_object_get_ex(o, "x", &v));
		cr_assert(json_object_is_type(v, json_type_string), "\"%s\" became %s", not_numbers[i],
			  json_object_to_json_string(v));
		cr_assert_str_eq(json_object_get_string(v), not_numbers[i]);
		json_object_put(o);
		reset_logged();
	}
}

Test(log, text_numbers_are_unchanged)
{
	log_kv(LOG_LEVEL_INFO, 0, "m", "took_ms", "42", NULL);
	cr_assert_str_eq(logged(), "ts=" TS " level=info msg=\"m\" took_ms=42\n");
}

Test(log, parse_verbosity_as_kubectl_takes_it)
{
	struct cx_err err = { 0 };
	int v = -1;
	cr_assert_eq(log_parse_verbosity("4", &v, &err), 0, "%s", err.msg);
	cr_assert_eq(v, 4);
	cr_assert_eq(log_parse_verbosity("=6", &v, &err), 0, "getopt leaves -v=6 as \"=6\": %s", err.msg);
	cr_assert_eq(v, 6);
	cr_assert_eq(log_parse_verbosity("0", &v, &err), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(log_parse_verbosity("10", &v, &err), 0);
	cr_assert_eq(v, 10);
	static const char *const bad[] = { "", "=", "x", "-1", "11", "4x", "==4", " 4", "4.0", NULL };
	for (size_t i = 0; bad[i]; i++) {
		v = 3;
		cr_assert_eq(log_parse_verbosity(bad[i], &v, &err), -EINVAL, "accepted \"%s\"", bad[i]);
		cr_assert_eq(v, 3, "left alone");
		cr_assert(strstr(err.msg, "verbosity") && strstr(err.msg, "0 to 10"), "%s", err.msg);
	}
	cr_assert_eq(log_parse_verbosity(NULL, &v, &err), -EINVAL);
}

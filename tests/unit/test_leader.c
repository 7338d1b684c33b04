/* Unit tests for watcher/leader's pure parts, on a fixed clock: MicroTime
 * formatting and parsing, the election record's JSON and comparison, the
 * expiry decision, the configuration rules, the default identity, a tick
 * against a server that is not there (error logged once, no crash) and one
 * against a server that never answers (a timeout error, from the bounded
 * timeout the elector gives its requests). Nothing here asserts a duration. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "leader.h"
#include "log.h"
#include "restconfig.h"

/* 2006-01-02T15:04:05Z, Go's reference time. */
#define GO_REF_S 1136214245LL

static void format_is(int64_t us, const char *want)
{
	char buf[LEADER_MICROTIME_LEN];
	cr_assert_eq(leader_microtime_format(us, buf), 0, "format %lld", (long long)us);
	cr_assert_str_eq(buf, want);
}

Test(leader_microtime, formats_utc_with_six_fraction_digits)
{
	format_is(0, "1970-01-01T00:00:00.000000Z");
	format_is(GO_REF_S * 1000000, "2006-01-02T15:04:05.000000Z");
	format_is(GO_REF_S * 1000000 + 123456, "2006-01-02T15:04:05.123456Z");
	format_is(-1, "1969-12-31T23:59:59.999999Z");
	format_is(951782400LL * 1000000, "2000-02-29T00:00:00.000000Z"); /* a leap day of a 400-year */
	format_is(1709164800LL * 1000000 + 1, "2024-02-29T00:00:00.000001Z");
	format_is(4107542399LL * 1000000, "2100-02-28T23:59:59.000000Z"); /* 2100 is not leap */
	format_is(4107542400LL * 1000000, "2100-03-01T00:00:00.000000Z");
	format_is(253402300799LL * 1000000 + 999999, "9999-12-31T23:59:59.999999Z");
	format_is(-62167219200LL * 1000000, "0000-01-01T00:00:00.000000Z");
}

Test(leader_microtime, refuses_years_outside_four_digits)
{
	char buf[LEADER_MICROTIME_LEN];
	cr_assert_eq(leader_microtime_format(253402300800LL * 1000000, buf), -ERANGE);
	cr_assert_eq(leader_microtime_format(-62167219201LL * 1000000, buf), -ERANGE);
}

static int64_t parse_ok(const char *s)
{
	int64_t us = -42;
	cr_assert_eq(leader_microtime_parse(s, &us), 0, "parse %s", s);
	return us;
}

Test(leader_microtime, parses_what_the_api_writes_and_rfc3339_variants)
{
	cr_assert_eq(parse_ok("2006-01-02T15:04:05.000000Z"), GO_REF_S * 1000000);
	cr_assert_eq(parse_ok("2006-01-02T15:04:05.123456Z"), GO_REF_S * 1000000 + 123456);
	cr_assert_eq(parse_ok("2006-01-02T15:04:05Z"), GO_REF_S * 1000000, "metav1.Time has no fraction");
	cr_assert_eq(parse_ok("2006-01-02T15:04:05.5Z"), GO_REF_S * 1000000 + 500000);
	cr_assert_eq(parse_ok("2006-01-02T15:04:05.123456789Z"), GO_REF_S * 1000000 + 123456, "ns truncated");
	cr_assert_eq(parse_ok("2006-01-02T16:04:05.000000+01:00"), GO_REF_S * 1000000);
	cr_assert_eq(parse_ok("2006-01-02T08:04:05-07:00"), GO_REF_S * 1000000);
	cr_assert_eq(parse_ok("2006-01-02t15:04:05z"), GO_REF_S * 1000000);
	cr_assert_eq(parse_ok("1969-12-31T23:59:59.999999Z"), -1);
	cr_assert_eq(parse_ok("2024-02-29T00:00:00Z"), 1709164800LL * 1000000);
}

Test(leader_microtime, rejects_malformed_times)
{
	static const char *const bad[] = {
		"",
		"2006-01-02",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05Z",
		"2006-01-02T15:04:05.Z",
		"2006-01-02T15:04:05.1234567890Z",
		"2006-13-02T15:04:05Z",
		"2006-00-02T15:04:05Z",
		"2006-02-29T15:04:05Z",
		"2006-04-31T15:04:05Z",
		"2006-01-02T24:04:05Z",
		"2006-01-02T15:60:05Z",
		"2006-01-02T15:04:60Z",
		"2006-01-02T15:04:05+0100",
		"2006-01-02T15:04:05+24:00",
		"2006-01-02T15:04:05Zx",
		"06-01-02T15:04:05Z",
		"2006-1-02T15:04:05Z",
		"+006-01-02T15:04:05Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t us = 7;
		cr_assert_eq(leader_microtime_parse(bad[i], &us), -EINVAL, "accepted \"%s\"", bad[i]);
		cr_assert_eq(us, 7, "left the output alone");
	}
	int64_t us;
	cr_assert_eq(leader_microtime_parse(NULL, &us), -EINVAL);
}

Test(leader_microtime, format_then_parse_round_trips)
{
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* Anything from 0000 to 9999. */
		int64_t us = (int64_t)(x % (uint64_t)(315569520000LL * 1000000)) - 62167219200LL * 1000000;
		char buf[LEADER_MICROTIME_LEN];
		cr_assert_eq(leader_microtime_format(us, buf), 0);
		int64_t back = 0;
		cr_assert_eq(leader_microtime_parse(buf, &back), 0, "%s", buf);
		cr_assert_eq(back, us, "%s: %lld != %lld", buf, (long long)back, (long long)us);
	}
}

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

#define FULL_LEASE                                                                                                     \
	"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","                                               \
	"\"metadata\":{\"name\":\"l\",\"namespace\":\"n\",\"resourceVersion\":\"7\"},"                                 \
	"\"spec\":{\"holderIdentity\":\"pod-a\",\"leaseDurationSeconds\":15,"                                          \
	"\"acquireTime\":\"2006-01-02T15:04:05.000000Z\",\"renewTime\":\"2006-01-02T15:04:35.250000Z\","               \
	"\"leaseTransitions\":3}}"

Test(leader_record, parses_a_lease_spec)
{
	struct json_object *l = json(FULL_LEASE);
	struct leader_record r;
	struct cx_err err = { 0 };
	cr_assert_eq(leader_record_from_lease(l, &r, &err), 0, "%s", err.msg);
	cr_assert_str_eq(r.holder, "pod-a");
	cr_assert_eq(r.lease_duration_s, 15);
	cr_assert_str_eq(r.acquire_time, "2006-01-02T15:04:05.000000Z");
	cr_assert_str_eq(r.renew_time, "2006-01-02T15:04:35.250000Z");
	cr_assert_eq(r.transitions, 3);
	leader_record_clear(&r);
	cr_assert_null(r.holder);
	json_object_put(l);
}

Test(leader_record, absent_and_null_fields_are_empty)
{
	struct leader_record r;
	struct json_object *l = json("{\"metadata\":{\"name\":\"l\"}}");
	cr_assert_eq(leader_record_from_lease(l, &r, NULL), 0);
	cr_assert_null(r.holder);
	cr_assert_eq(r.lease_duration_s, 0);
	cr_assert_null(r.renew_time);
	json_object_put(l);

	l = json("{\"spec\":{\"holderIdentity\":null,\"leaseTransitions\":null,\"renewTime\":null}}");
	cr_assert_eq(leader_record_from_lease(l, &r, NULL), 0);
	cr_assert_null(r.holder);
	cr_assert_eq(r.transitions, 0);
	leader_record_clear(&r);
	json_object_put(l);
}

Test(leader_record, wrong_types_are_errors_naming_the_field)
{
	static const char *const bad[][2] = {
		{ "{\"spec\":[]}", "spec" },
		{ "{\"spec\":{\"holderIdentity\":5}}", "spec.holderIdentity" },
		{ "{\"spec\":{\"holderIdentity\":\"a\",\"leaseDurationSeconds\":\"15\"}}",
		  "spec.leaseDurationSeconds" },
		{ "{\"spec\":{\"renewTime\":{}}}", "spec.renewTime" },
		{ "{\"spec\":{\"leaseTransitions\":4294967296}}", "spec.leaseTransitions" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *l = json(bad[i][0]);
		struct leader_record r;
		struct cx_err err = { 0 };
		cr_assert_eq(leader_record_from_lease(l, &r, &err), -EBADMSG, "%s", bad[i][0]);
		cr_assert(strstr(err.msg, bad[i][1]), "%s names %s", err.msg, bad[i][1]);
		cr_assert_null(r.holder, "nothing is left to free");
		json_object_put(l);
	}
}

Test(leader_record, spec_round_trips_and_a_released_holder_is_empty)
{
	struct leader_record r = { .holder = "me",
				   .lease_duration_s = 2,
				   .acquire_time = "2006-01-02T15:04:05.000000Z",
				   .renew_time = "2006-01-02T15:04:06.000001Z",
				   .transitions = 4 };
	struct json_object *spec = leader_record_to_spec(&r);
	cr_assert_not_null(spec);
	struct json_object *lease = json_object_new_object();
	json_object_object_add(lease, "spec", spec);
	struct leader_record back;
	cr_assert_eq(leader_record_from_lease(lease, &back, NULL), 0);
	cr_assert(leader_record_equal(&r, &back));
	leader_record_clear(&back);
	json_object_put(lease);

	struct leader_record released = { .lease_duration_s = 1, .renew_time = "2006-01-02T15:04:06.000001Z" };
	spec = leader_record_to_spec(&released);
	cr_assert_str_eq(json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN),
			 "{\"holderIdentity\":\"\",\"leaseDurationSeconds\":1,"
			 "\"renewTime\":\"2006-01-02T15:04:06.000001Z\",\"leaseTransitions\":0}");
	json_object_put(spec);
}

Test(leader_record, equality_compares_every_field)
{
	struct leader_record a = { .holder = "me",
				   .lease_duration_s = 15,
				   .acquire_time = "2006-01-02T15:04:05.000000Z",
				   .renew_time = "2006-01-02T15:04:05.000000Z",
				   .transitions = 1 };
	struct leader_record b = a;
	cr_assert(leader_record_equal(&a, &b));
	b.holder = "you";
	cr_assert_not(leader_record_equal(&a, &b));
	b = a;
	b.lease_duration_s = 16;
	cr_assert_not(leader_record_equal(&a, &b));
	b = a;
	b.renew_time = "2006-01-02T15:04:05.000001Z";
	cr_assert_not(leader_record_equal(&a, &b), "a renewal within the same second is a change");
	b = a;
	b.acquire_time = NULL;
	cr_assert_not(leader_record_equal(&a, &b));
	b = a;
	b.transitions = 2;
	cr_assert_not(leader_record_equal(&a, &b));

	struct leader_record none = { 0 }, empty = { .holder = "" };
	cr_assert(leader_record_equal(&none, &empty), "no holder either way");
}

Test(leader_expiry, free_or_ours_may_be_taken_at_once)
{
	struct leader_record none = { 0 }, empty = { .holder = "", .lease_duration_s = 15 };
	cr_assert(leader_may_acquire(&none, "me", 1000, 15000, 1000));
	cr_assert(leader_may_acquire(&empty, "me", 1000, 15000, 1000), "a released Lease");
	struct leader_record mine = { .holder = "me", .lease_duration_s = 15 };
	cr_assert(leader_may_acquire(&mine, "me", 1000, 15000, 1001));
}

Test(leader_expiry, another_holder_expires_a_lease_duration_after_we_saw_a_change)
{
	/* Measured on our clock from when we observed the record change; its
	 * renewTime is never compared with our clock. */
	struct leader_record other = { .holder = "other",
				       .lease_duration_s = 15,
				       .renew_time = "1970-01-01T00:00:00.000000Z" };
	cr_assert_not(leader_may_acquire(&other, "me", 50000, 2000, 50000));
	cr_assert_not(leader_may_acquire(&other, "me", 50000, 2000, 64999), "the record's 15 s, not our default 2 s");
	cr_assert(leader_may_acquire(&other, "me", 50000, 2000, 65000));
	cr_assert(leader_may_acquire(&other, "me", 50000, 2000, 99999));

	struct leader_record no_duration = { .holder = "other" };
	cr_assert_not(leader_may_acquire(&no_duration, "me", 50000, 2000, 51999), "ours when it has none");
	cr_assert(leader_may_acquire(&no_duration, "me", 50000, 2000, 52000));
}

static struct leader *new_or_fail(const struct leader_config *cfg, struct cx_err *err)
{
	struct leader *le = (struct leader *)1;
	int r = leader_new(NULL, cfg, &le, err); /* validation happens before the client is made */
	cr_assert_eq(r, err->code, "the code returned is the one in err");
	return le;
}

Test(leader_config, invalid_settings_are_refused_with_reasons)
{
	struct cx_err err = { 0 };
	struct leader_config c = { .namespace = "ns", .name = "lease", .identity = "me" };
	c.lease_duration_ms = 10000; /* = the default renew deadline */
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "greater than the renew deadline"), "%s", err.msg);

	c = (struct leader_config){ .namespace = "ns",
				    .name = "lease",
				    .lease_duration_ms = 2000,
				    .renew_deadline_ms = 1500,
				    .retry_period_ms = 1250 };
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert(strstr(err.msg, "1.2 x the retry period"), "%s", err.msg);

	c = (struct leader_config){ .namespace = "ns",
				    .name = "lease",
				    .lease_duration_ms = 900,
				    .renew_deadline_ms = 600,
				    .retry_period_ms = 100 };
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert(strstr(err.msg, "not a whole number of seconds"), "%s", err.msg);
	c.lease_duration_ms = 1500; /* would be written as 1 s, under the renew deadline of 1.2 s */
	c.renew_deadline_ms = 1200;
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert(strstr(err.msg, "not a whole number of seconds"), "%s", err.msg);

	c = (struct leader_config){ .namespace = "ns", .name = "a/b" };
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert(strstr(err.msg, "\"a/b\" is not a DNS name"), "%s", err.msg);
	c = (struct leader_config){ .name = "lease" };
	cr_assert_null(new_or_fail(&c, &err));
	cr_assert(strstr(err.msg, "namespace"), "%s", err.msg);
}

Test(leader_identity, pod_name_else_hostname_and_pid)
{
	char buf[512], want[512], host[256];
	struct cx_err err = { 0 };
	setenv("POD_NAME", "coxswain-7d9f-abcde", 1);
	cr_assert_eq(leader_default_identity(buf, sizeof(buf), &err), 0, "%s", err.msg);
	cr_assert_str_eq(buf, "coxswain-7d9f-abcde");
	cr_assert_eq(leader_default_identity(buf, 5, &err), -ENAMETOOLONG);

	setenv("POD_NAME", "", 1);
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(want, sizeof(want), "%s_%ld", host, (long)getpid());
	cr_assert_eq(leader_default_identity(buf, sizeof(buf), &err), 0, "%s", err.msg);
	cr_assert_str_eq(buf, want);
	unsetenv("POD_NAME");
	cr_assert_eq(leader_default_identity(buf, sizeof(buf), &err), 0, "%s", err.msg);
	cr_assert_str_eq(buf, want);
}

static int count_lines(FILE *f, const char *needle)
{
	fflush(f);
	rewind(f);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	return n;
}

static int started;

static void on_started(void *ud)
{
	(void)ud;
	started++;
}

Test(leader_tick, an_unreachable_server_is_logged_once_and_retried_each_retry_period)
{
	FILE *log = tmpfile();
	cr_assert_not_null(log);
	log_set_output(log);
	struct restconfig rc = { .server = "https://127.0.0.1:1" }; /* nothing listens on port 1 */
	/* A generous request timeout: the refusal, never a timeout, is what a
	 * loaded machine must see here. */
	struct leader_config c = { .namespace = "ns",
				   .name = "lease",
				   .identity = "me",
				   .lease_duration_ms = 2000,
				   .renew_deadline_ms = 1500,
				   .retry_period_ms = 300,
				   .request_timeout_ms = 30000,
				   .callbacks = { .on_started_leading = on_started } };
	struct cx_err err = { 0 };
	struct leader *le = NULL;
	leader_new(&rc, &c, &le, &err);
	cr_assert_not_null(le, "%s", err.msg);
	cr_assert_str_eq(leader_identity(le), "me");
	cr_assert_eq(leader_next_ms(le), 0, "the first tick is due at once");

	cr_assert_eq(leader_tick(le, 1000), -ECONNREFUSED);
	cr_assert_eq(leader_last_error(le)->code, -ECONNREFUSED);
	cr_assert_eq(leader_next_ms(le), 1300);
	cr_assert_eq(leader_tick(le, 1299), 0, "not due: nothing done");
	cr_assert_eq(leader_tick(le, 1300), -ECONNREFUSED);
	cr_assert_eq(leader_tick(le, 1600), -ECONNREFUSED);
	cr_assert_not(leader_is_leader(le));
	cr_assert_str_eq(leader_holder(le), "");
	cr_assert_eq(started, 0);
	cr_assert_eq(count_lines(log, "level=error"), 1, "one error line for one distinct message");
	cr_assert_eq(count_lines(log, "step=get"), 1);

	cr_assert_eq(leader_release(le, &err), 0, "we never held it: nothing to release");
	cr_assert_eq(leader_next_ms(le), INT64_MAX);
	cr_assert_eq(leader_tick(le, 99999), 0, "released: ticks do nothing");
	leader_free(&le);
	cr_assert_null(le);
	log_set_output(NULL);
	fclose(log);
}

Test(leader_tick, one_error_line_whatever_the_elapsed_milliseconds_in_the_message)
{
	/* libcurl's messages carry the time the attempt took. */
	cr_assert(leader_same_error("GET /x (https://127.0.0.1:1): cannot connect: Failed to connect to 127.0.0.1 "
				    "port 1 after 0 ms: Couldn't connect to server",
				    "GET /x (https://127.0.0.1:1): cannot connect: Failed to connect to 127.0.0.1 "
				    "port 1 after 1017 ms: Couldn't connect to server"));
	cr_assert(leader_same_error("", ""));
	cr_assert(leader_same_error("a 1 b", "a 22 b"));
	cr_assert_not(leader_same_error("a 1 b", "a b"), "a number is not nothing");
	cr_assert_not(leader_same_error("a 1 b", "a 1 c"));
	cr_assert_not(leader_same_error("timed out", "cannot connect"));
	cr_assert_not(leader_same_error("abc", "ab"));
	cr_assert_not(leader_same_error("ab", "abc"));
}

Test(leader_tick, requests_are_bounded_well_below_the_workers_heartbeat_liveness)
{
	struct restconfig rc = { .server = "https://127.0.0.1:1" };
	struct leader_config c = { .namespace = "ns", .name = "lease", .identity = "me" };
	struct cx_err err = { 0 };
	struct leader *le = NULL;
	leader_new(&rc, &c, &le, &err);
	cr_assert_not_null(le, "%s", err.msg);
	/* A tick makes at most two requests; the workers count a watcher lost
	 * after 3 silent heartbeats of 1 s. */
	long t = leader_request_timeout_ms(le);
	cr_assert_eq(t, LEADER_REQUEST_TIMEOUT_MS);
	cr_assert_gt(t, 0);
	cr_assert_leq(2 * t, 3000 * 2 / 3, "a tick may block the loop %ld ms", 2 * t);
	leader_free(&le);

	c.request_timeout_ms = 250;
	leader_new(&rc, &c, &le, &err);
	cr_assert_not_null(le, "%s", err.msg);
	cr_assert_eq(leader_request_timeout_ms(le), 250, "the configured timeout is the one used");
	leader_free(&le);
}

Test(leader_tick, a_server_that_never_answers_is_a_timeout_not_a_hang)
{
	/* A socket that listens and never accepts: the kernel completes the TCP
	 * handshake, then the TLS handshake waits for an answer that never
	 * comes. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(s, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(s, 8), 0);
	socklen_t len = sizeof(a);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
	char server[64];
	snprintf(server, sizeof(server), "https://127.0.0.1:%d", ntohs(a.sin_port));

	FILE *log = tmpfile();
	cr_assert_not_null(log);
	log_set_output(log);
	struct restconfig rc = { .server = server };
	struct leader_config c = { .namespace = "ns", .name = "lease", .identity = "me" }; /* the default timeout */
	struct cx_err err = { 0 };
	struct leader *le = NULL;
	leader_new(&rc, &c, &le, &err);
	cr_assert_not_null(le, "%s", err.msg);
	int rc_tick = leader_tick(le, 1000);
	cr_assert_eq(rc_tick, -ETIMEDOUT, "%d: %s", rc_tick, leader_last_error(le)->msg);
	cr_assert_not(leader_is_leader(le));
	cr_assert_eq(count_lines(log, "level=error"), 1);
	cr_assert_eq(count_lines(log, "step=get"), 1);
	leader_free(&le);
	log_set_output(NULL);
	fclose(log);
	close(s);
}

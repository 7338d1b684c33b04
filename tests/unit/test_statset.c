/* Unit tests for common/statset: counting, raising without ever going back,
 * the families in STATS's shape, and the request observer's labels. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "proto.h"
#include "statset.h"

static const char *const names[] = { "code", "method", NULL };

static void expect_families(const struct statset *s, const char *want)
{
	struct json_object *w = json_tokener_parse(want);
	cr_assert_not_null(w, "test JSON: %s", want);
	cr_assert(json_object_equal(statset_families(s), w), "got %s, want %s",
		  json_object_to_json_string(statset_families(s)), want);
	json_object_put(w);
}

Test(statset, add_counts_per_series_and_marks_changed)
{
	struct statset *s = statset_new();
	cr_assert(statset_empty(s));
	cr_assert(!statset_changed(s));
	cr_assert_eq(statset_add(s, "a_total", names, (const char *const[]){ "200", "GET" }, 1), 0);
	cr_assert_eq(statset_add(s, "a_total", names, (const char *const[]){ "200", "GET" }, 2), 0);
	cr_assert_eq(statset_add(s, "a_total", names, (const char *const[]){ "200", "GETX" }, 1), 0);
	cr_assert_eq(statset_add(s, "b_total", NULL, NULL, 4), 0);
	cr_assert(statset_changed(s));
	cr_assert(!statset_empty(s));
	cr_assert_eq(statset_value(s, "a_total", names, (const char *const[]){ "200", "GET" }), 3);
	cr_assert_eq(statset_value(s, "a_total", names, (const char *const[]){ "404", "GET" }), 0);
	expect_families(s,
			"{\"a_total\":[{\"labels\":{\"code\":\"200\",\"method\":\"GET\"},\"value\":3},"
			"{\"labels\":{\"code\":\"200\",\"method\":\"GETX\"},\"value\":1}],"
			"\"b_total\":[{\"labels\":{},\"value\":4}]}");
	statset_clean(s);
	cr_assert(!statset_changed(s));
	/* What it hands out is what STATS accepts. */
	struct proto_frame f;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_stats(&(struct proto_stats){ statset_families(s) }, &f, &err), 0, "%s", err.msg);
	proto_frame_clear(&f);
	cr_assert_eq(statset_add(s, "a_total", names, (const char *const[]){ "200", NULL }, 1), -EINVAL);
	statset_free(&s);
	cr_assert_null(s);
	statset_free(&s);
}

Test(statset, label_values_that_look_alike_are_different_series)
{
	/* Joined naively, ("a:b", "c") and ("a", "b:c") would be one key. */
	struct statset *s = statset_new();
	cr_assert_eq(statset_add(s, "x", names, (const char *const[]){ "a:b", "c" }, 1), 0);
	cr_assert_eq(statset_add(s, "x", names, (const char *const[]){ "a", "b:c" }, 5), 0);
	cr_assert_eq(statset_value(s, "x", names, (const char *const[]){ "a:b", "c" }), 1);
	cr_assert_eq(statset_value(s, "x", names, (const char *const[]){ "a", "b:c" }), 5);
	statset_free(&s);
}

Test(statset, raise_reports_growth_and_never_goes_back)
{
	struct statset *s = statset_new();
	const char *const v[] = { "200", "GET" };
	uint64_t grew = 99;
	cr_assert_eq(statset_raise(s, "a_total", names, v, 5, &grew), 0);
	cr_assert_eq(grew, 5);
	cr_assert_eq(statset_raise(s, "a_total", names, v, 5, &grew), 0);
	cr_assert_eq(grew, 0);
	cr_assert_eq(statset_raise(s, "a_total", names, v, 3, &grew), 0);
	cr_assert_eq(grew, 0, "an older, smaller value takes nothing back");
	cr_assert_eq(statset_value(s, "a_total", names, v), 5);
	cr_assert_eq(statset_raise(s, "a_total", names, v, UINT64_MAX, &grew), 0);
	cr_assert_eq(grew, UINT64_MAX - 5);
	statset_free(&s);
}

Test(statset, the_request_observer_counts_rest_client_requests)
{
	struct statset *s = statset_new();
	statset_count_request(s, 200, "GET", "10.0.0.1:6443");
	statset_count_request(s, 200, "GET", "10.0.0.1:6443");
	statset_count_request(s, 0, "PATCH", "10.0.0.1:6443");
	statset_count_request(s, 403, "POST", NULL);
	expect_families(
		s,
		"{\"rest_client_requests_total\":["
		"{\"labels\":{\"code\":\"200\",\"method\":\"GET\",\"host\":\"10.0.0.1:6443\"},\"value\":2},"
		"{\"labels\":{\"code\":\"<error>\",\"method\":\"PATCH\",\"host\":\"10.0.0.1:6443\"},\"value\":1},"
		"{\"labels\":{\"code\":\"403\",\"method\":\"POST\",\"host\":\"\"},\"value\":1}]}");
	statset_free(&s);
}

Test(statset, the_wait_observer_counts_limiter_buckets_and_microseconds)
{
	struct statset *s = statset_new();
	statset_count_wait(s, "GET", "h:6443", 0);
	statset_count_wait(s, "GET", "h:6443", 5 * 1000 * 1000LL);     /* exactly 0.005: le 0.005 */
	statset_count_wait(s, "GET", "h:6443", 5 * 1000 * 1000LL + 1); /* just above: le 0.025 */
	statset_count_wait(s, "PATCH", "h:6443", 61LL * 1000 * 1000 * 1000);
	const char *const b[] = { "GET", "h:6443", "0.005" };
	cr_assert_eq(statset_value(s, STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels, b), 2);
	cr_assert_eq(statset_value(s, STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels,
				   (const char *const[]){ "GET", "h:6443", "0.025" }),
		     1);
	cr_assert_eq(statset_value(s, STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels,
				   (const char *const[]){ "PATCH", "h:6443", "+Inf" }),
		     1);
	cr_assert_eq(statset_value(s, STATSET_LIMITER_SUM_US, statset_limiter_sum_labels,
				   (const char *const[]){ "GET", "h:6443" }),
		     10000);
	cr_assert_eq(statset_value(s, STATSET_LIMITER_SUM_US, statset_limiter_sum_labels,
				   (const char *const[]){ "PATCH", "h:6443" }),
		     61000000);
	char le[32];
	cr_assert_str_eq(statset_le_label(0, le), "0.005");
	cr_assert_str_eq(statset_le_label(11, le), "60");
	cr_assert_str_eq(statset_le_label(12, le), "+Inf");
	statset_free(&s);
}

/* Unit tests for common/watch: the event sequence of a recorded ConfigMap
 * watch (tests/unit/data/watch/configmaps.jsonl) however its bytes are cut,
 * in-stream ERROR events, malformed and oversized events, truncated streams
 * and the callback's power to stop the feed. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "watch.h"

#define DATA       TEST_DATA_DIR "/watch/"
#define MAX_EVENTS 16
/* How the tests serialize objects: compact, "/" left alone. */
#define PLAIN (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* What the callback saw of one event, kept after the parser freed it. */
struct seen {
	enum watch_event_type type;
	char *json; /* the object, serialized */
	char *rv;   /* or NULL */
	size_t index;
	bool initial_end;
};

struct recorder {
	struct seen ev[MAX_EVENTS];
	size_t n;
	int fail_at;              /* 1-based event on which the callback fails; 0 = never */
	int fail_code;            /* what it returns then */
	struct json_object *kept; /* a reference the callback took to the first object */
};

static int record(void *ud, const struct watch_event *ev, struct cx_err *err)
{
	struct recorder *r = ud;
	if (r->fail_at && (size_t)r->fail_at == r->n + 1) {
		if (r->fail_code < 0)
			return cx_err_set(err, r->fail_code, "cache full at event %zu", ev->index);
		return r->fail_code;
	}
	cr_assert_lt(r->n, MAX_EVENTS);
	struct seen *s = &r->ev[r->n++];
	s->type = ev->type;
	s->json = strdup(json_object_to_json_string_ext(ev->object, PLAIN));
	s->rv = ev->resource_version ? strdup(ev->resource_version) : NULL;
	s->index = ev->index;
	s->initial_end = ev->initial_events_end;
	if (!r->kept)
		r->kept = json_object_get(ev->object);
	return 0;
}

static void recorder_clear(struct recorder *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->ev[i].json);
		free(r->ev[i].rv);
	}
	json_object_put(r->kept);
	memset(r, 0, sizeof(*r));
}

static void assert_same_events(const struct recorder *a, const struct recorder *b, const char *how)
{
	cr_assert_eq(a->n, b->n, "%s: %zu events, want %zu", how, b->n, a->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_eq(a->ev[i].type, b->ev[i].type, "%s: event %zu type", how, i + 1);
		cr_assert_str_eq(a->ev[i].json, b->ev[i].json, "%s: event %zu object", how, i + 1);
		cr_assert_str_eq(a->ev[i].rv, b->ev[i].rv, "%s: event %zu resourceVersion", how, i + 1);
		cr_assert_eq(a->ev[i].index, b->ev[i].index, "%s: event %zu index", how, i + 1);
	}
}

static char *read_data(const char *name, size_t *len)
{
	FILE *f = fopen(name, "rb");
	cr_assert_not_null(f, "cannot open %s", name);
	static char buf[65536];
	*len = fread(buf, 1, sizeof(buf), f);
	cr_assert(feof(f), "%s is larger than the test's buffer", name);
	fclose(f);
	char *copy = malloc(*len + 1);
	memcpy(copy, buf, *len);
	copy[*len] = '\0';
	return copy;
}

static struct watch_parser *new_parser(const struct watch_parser_options *opts, struct recorder *r)
{
	struct watch_parser *p = watch_parser_new(opts, record, r);
	cr_assert_not_null(p);
	return p;
}

/* Feeds data in pieces of at most `step` bytes (0 = all at once), then
 * finishes; asserts that all of it was accepted. Returns the final RV, owned. */
static char *feed_ok(const struct watch_parser_options *opts, const char *data, size_t len, size_t step,
		     struct recorder *r)
{
	struct watch_parser *p = new_parser(opts, r);
	struct cx_err err = { 0 };
	size_t at = 0;
	do {
		size_t n = step && len - at > step ? step : len - at;
		cr_assert_eq(watch_parser_feed(p, data + at, n, &err), 0, "at byte %zu: %s", at, err.msg);
		at += n;
	} while (at < len);
	cr_assert_eq(watch_parser_finish(p, &err), 0, "%s", err.msg);
	cr_assert_eq(watch_parser_events(p), r->n);
	const char *rv = watch_parser_resource_version(p);
	char *out = rv ? strdup(rv) : NULL;
	watch_parser_free(&p);
	cr_assert_null(p);
	return out;
}

/* Feeds the whole of data in one call and returns the error. */
static struct cx_err feed_fail(const struct watch_parser_options *opts, const char *data, struct recorder *r, int want)
{
	struct watch_parser *p = new_parser(opts, r);
	struct cx_err err = { 0 };
	int code = watch_parser_feed(p, data, strlen(data), &err);
	cr_assert_eq(code, want, "feed returned %d (%s), want %d", code, err.msg, want);
	cr_assert_eq(err.code, want);
	/* sticky: the next feed and finish say the same */
	struct cx_err again = { 0 };
	cr_assert_eq(watch_parser_feed(p, "\n", 1, &again), want);
	cr_assert_str_eq(again.msg, err.msg);
	cr_assert_eq(watch_parser_finish(p, &again), want);
	cr_assert_str_eq(again.msg, err.msg);
	watch_parser_free(&p);
	return err;
}

static const char *const rvs[] = { "48211", "47902", "48230", "48305", "48311" };
static const enum watch_event_type types[] = { WATCH_ADDED, WATCH_ADDED, WATCH_MODIFIED, WATCH_BOOKMARK,
					       WATCH_DELETED };

Test(watch, recorded_stream_whole)
{
	size_t len;
	char *data = read_data(DATA "configmaps.jsonl", &len);
	struct recorder r = { 0 };
	char *rv = feed_ok(NULL, data, len, 0, &r);
	cr_assert_eq(r.n, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_eq(r.ev[i].type, types[i], "event %zu", i + 1);
		cr_assert_str_eq(r.ev[i].rv, rvs[i], "event %zu", i + 1);
		cr_assert_eq(r.ev[i].index, i + 1);
	}
	cr_assert_str_eq(rv, "48311", "the last event's resourceVersion is tracked");

	/* The escapes and the UTF-8 came through as the bytes they stand for. */
	struct json_object *obj = r.kept, *v;
	cr_assert(json_object_object_get_ex(obj, "data", &v));
	cr_assert(json_object_object_get_ex(v, "greeting", &v));
	cr_assert_str_eq(json_object_get_string(v),
			 "h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x98\x80 \xe2\x80\x94 \"quoted\"\n\ttab <b> & "
			 "C:\\path \xe2\x80\xa8"
			 "end");
	cr_assert(strstr(r.ev[0].json, "\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\""),
		  "managedFields kept by default: %s", r.ev[0].json);
	cr_assert(strstr(r.ev[3].json, "\"metadata\":{\"resourceVersion\":\"48305\""), "%s", r.ev[3].json);
	free(rv);
	recorder_clear(&r);
	free(data);
}

Test(watch, recorded_stream_byte_at_a_time)
{
	size_t len;
	char *data = read_data(DATA "configmaps.jsonl", &len);
	struct recorder whole = { 0 }, bytes = { 0 };
	char *rv1 = feed_ok(NULL, data, len, 0, &whole);
	char *rv2 = feed_ok(NULL, data, len, 1, &bytes);
	assert_same_events(&whole, &bytes, "one byte at a time");
	cr_assert_str_eq(rv1, rv2);
	free(rv1);
	free(rv2);
	recorder_clear(&whole);
	recorder_clear(&bytes);
	free(data);
}

Test(watch, recorded_stream_split_at_every_byte)
{
	size_t len;
	char *data = read_data(DATA "configmaps.jsonl", &len);
	struct recorder whole = { 0 };
	char *rv1 = feed_ok(NULL, data, len, 0, &whole);
	cr_assert_eq(whole.n, 5);
	for (size_t cut = 0; cut <= len; cut++) {
		struct recorder r = { 0 };
		struct watch_parser *p = new_parser(NULL, &r);
		struct cx_err err = { 0 };
		cr_assert_eq(watch_parser_feed(p, data, cut, &err), 0, "cut %zu, first part: %s", cut, err.msg);
		cr_assert_eq(watch_parser_feed(p, data + cut, len - cut, &err), 0, "cut %zu: %s", cut, err.msg);
		cr_assert_eq(watch_parser_finish(p, &err), 0, "cut %zu: %s", cut, err.msg);
		char how[32];
		snprintf(how, sizeof(how), "cut at byte %zu", cut);
		assert_same_events(&whole, &r, how);
		cr_assert_str_eq(watch_parser_resource_version(p), rv1, "%s", how);
		watch_parser_free(&p);
		recorder_clear(&r);
	}
	free(rv1);
	recorder_clear(&whole);
	free(data);
}

Test(watch, several_events_in_one_chunk)
{
	const char *chunk =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
		"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}"
		"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"3\"}}}"
		"\r\n \t\n"
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"4\"}}}\n"
		"{\"type\":\"MODI";
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_eq(watch_parser_feed(p, chunk, strlen(chunk), &err), 0, "%s", err.msg);
	cr_assert_eq(r.n, 4);
	cr_assert_eq(r.ev[0].type, WATCH_ADDED);
	cr_assert_eq(r.ev[1].type, WATCH_MODIFIED);
	cr_assert_eq(r.ev[2].type, WATCH_DELETED);
	cr_assert_eq(r.ev[3].type, WATCH_ADDED);
	cr_assert_str_eq(r.ev[2].rv, "3");
	cr_assert_str_eq(r.ev[3].json, "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"4\"}}");
	cr_assert_str_eq(watch_parser_resource_version(p), "4");
	const char *rest = "FIED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"5\"}}}\n";
	cr_assert_eq(watch_parser_feed(p, rest, strlen(rest), &err), 0, "%s", err.msg);
	cr_assert_eq(r.n, 5);
	cr_assert_eq(r.ev[4].type, WATCH_MODIFIED);
	cr_assert_str_eq(watch_parser_resource_version(p), "5");
	cr_assert_eq(watch_parser_finish(p, &err), 0, "%s", err.msg);
	watch_parser_free(&p);
	recorder_clear(&r);
}

/* Feeds ev split at `cut` and returns data.s of the one event's object. */
static char *value_split_at(const char *ev, size_t cut)
{
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_eq(watch_parser_feed(p, ev, cut, &err), 0, "%s", err.msg);
	cr_assert_eq(r.n, 0, "nothing delivered before the event is complete");
	cr_assert_eq(watch_parser_feed(p, ev + cut, strlen(ev) - cut, &err), 0, "%s", err.msg);
	cr_assert_eq(r.n, 1);
	struct json_object *v;
	cr_assert(json_object_object_get_ex(r.kept, "data", &v));
	cr_assert(json_object_object_get_ex(v, "s", &v));
	char *s = strdup(json_object_get_string(v));
	watch_parser_free(&p);
	recorder_clear(&r);
	return s;
}

Test(watch, event_split_inside_string_escapes)
{
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"data\":{\"s\":\"a\\\"b\\\\c\\u00e9d\\ud83d\\ude00e\\n\"}}}";
	const char *want = "a\"b\\c\xc3\xa9"
			   "d\xf0\x9f\x98\x80"
			   "e\n";
	const char *cuts[] = { "a\\",      "a\\\"b\\",   "c\\u",         "c\\u00", "c\\u00e",
			       "d\\ud83d", "d\\ud83d\\", "d\\ud83d\\ud", "e\\" };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		const char *at = strstr(ev, cuts[i]);
		cr_assert_not_null(at, "%s", cuts[i]);
		size_t cut = (size_t)(at - ev) + strlen(cuts[i]);
		char *got = value_split_at(ev, cut);
		cr_assert_str_eq(got, want, "split after \"%s\"", cuts[i]);
		free(got);
	}
}

Test(watch, event_split_inside_utf8_characters)
{
	/* é is 2 bytes, 語 3, 😀 4: split after each of their leading bytes. */
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"data\":{\"s\":\"\xc3\xa9\xe8\xaa\x9e\xf0\x9f\x98\x80\"}}}";
	const char *s = strstr(ev, "\xc3");
	size_t start = (size_t)(s - ev);
	for (size_t cut = start + 1; cut < start + 9; cut++) {
		char *got = value_split_at(ev, cut);
		cr_assert_str_eq(got, "\xc3\xa9\xe8\xaa\x9e\xf0\x9f\x98\x80", "split at byte %zu", cut);
		free(got);
	}
}

Test(watch, numbers_and_literals_split_anywhere)
{
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"data\":{\"s\":\"x\"},\"n\":-12.5e+3,\"i\":1234567890123,"
			 "\"t\":true,\"f\":false,\"z\":null}}\n";
	const char *want =
		"{\"data\":{\"s\":\"x\"},\"n\":-12.5e+3,\"i\":1234567890123,\"t\":true,\"f\":false,\"z\":null}";
	for (size_t cut = 1; cut < strlen(ev); cut++) {
		struct recorder r = { 0 };
		struct watch_parser *p = new_parser(NULL, &r);
		struct cx_err err = { 0 };
		cr_assert_eq(watch_parser_feed(p, ev, cut, &err), 0, "cut %zu: %s", cut, err.msg);
		cr_assert_eq(watch_parser_feed(p, ev + cut, strlen(ev) - cut, &err), 0, "cut %zu: %s", cut, err.msg);
		cr_assert_eq(r.n, 1);
		cr_assert_str_eq(r.ev[0].json, want, "cut %zu: %s", cut, r.ev[0].json);
		struct json_object *v;
		cr_assert(json_object_object_get_ex(r.kept, "n", &v));
		cr_assert_float_eq(json_object_get_double(v), -12500.0, 1e-9, "cut %zu", cut);
		cr_assert(json_object_object_get_ex(r.kept, "i", &v));
		cr_assert_eq(json_object_get_int64(v), 1234567890123LL, "cut %zu", cut);
		watch_parser_free(&p);
		recorder_clear(&r);
	}
}

/* json-c 0.16 parses `{"a":4` + `-9}` as {"a":4}, silently, while `{"a":4-9}`
 * is an error: the parser must not let the cut decide. */
Test(watch, bad_number_is_an_error_wherever_the_cut)
{
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"a\":4-9}}\n";
	struct recorder r = { 0 };
	struct cx_err whole = feed_fail(NULL, ev, &r, -EBADMSG);
	cr_assert(strstr(whole.msg, "at byte 31 of the stream: number expected"), "%s", whole.msg);
	recorder_clear(&r);
	for (size_t cut = 1; cut < strlen(ev); cut++) {
		struct watch_parser *p = new_parser(NULL, &r);
		struct cx_err err = { 0 };
		int code = watch_parser_feed(p, ev, cut, &err);
		if (!code)
			code = watch_parser_feed(p, ev + cut, strlen(ev) - cut, &err);
		cr_assert_eq(code, -EBADMSG, "cut %zu: %d %s", cut, code, err.msg);
		cr_assert_str_eq(err.msg, whole.msg, "cut %zu", cut);
		cr_assert_eq(r.n, 0);
		watch_parser_free(&p);
		recorder_clear(&r);
	}
}

/* A long value without separators (base64 data) is one run: held back chunk
 * after chunk until its closing quote arrives. */
Test(watch, long_unbroken_string_in_small_chunks)
{
	size_t vlen = 200000;
	const char *head =
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"},\"data\":{\"s\":\"";
	const char *tail = "\"}}}\n";
	size_t len = strlen(head) + vlen + strlen(tail);
	char *ev = malloc(len + 1);
	char *value = malloc(vlen + 1);
	for (size_t i = 0; i < vlen; i++)
		value[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i * 7) % 64];
	value[vlen] = '\0';
	snprintf(ev, len + 1, "%s%s%s", head, value, tail);
	for (size_t step = 997; step <= 16384; step *= 4) {
		struct recorder r = { 0 };
		char *rv = feed_ok(NULL, ev, len, step, &r);
		cr_assert_str_eq(rv, "9");
		cr_assert_eq(r.n, 1, "step %zu", step);
		struct json_object *v;
		cr_assert(json_object_object_get_ex(r.kept, "data", &v));
		cr_assert(json_object_object_get_ex(v, "s", &v));
		cr_assert_eq((size_t)json_object_get_string_len(v), vlen, "step %zu", step);
		cr_assert(!memcmp(json_object_get_string(v), value, vlen), "step %zu", step);
		free(rv);
		recorder_clear(&r);
	}
	free(value);
	free(ev);
}

static const char added_rv7[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}}\n";

Test(watch, error_410_expired_asks_for_a_relist)
{
	char stream[512];
	snprintf(stream, sizeof(stream), "%s%s", added_rv7,
		 "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
		 "\"status\":\"Failure\",\"message\":\"too old resource version: 7 (9001)\",\"reason\":\"Expired\","
		 "\"code\":410}}\n"
		 "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"9002\"}}}\n");
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_eq(watch_parser_feed(p, stream, strlen(stream), &err), -ESTALE, "%s", err.msg);
	cr_assert(strstr(err.msg, "relist"), "%s", err.msg);
	cr_assert(strstr(err.msg, "too old resource version: 7 (9001)"), "%s", err.msg);
	cr_assert_eq(err.http_status, 410);
	cr_assert_str_eq(err.reason, "Expired");
	cr_assert_eq(r.n, 1, "the event after the ERROR is not delivered");
	cr_assert_str_eq(watch_parser_resource_version(p), "7", "an ERROR does not move the resourceVersion");
	struct cx_err again = { 0 };
	cr_assert_eq(watch_parser_feed(p, added_rv7, strlen(added_rv7), &again), -ESTALE);
	cr_assert_str_eq(again.msg, err.msg);
	cr_assert_eq(again.http_status, 410);
	cr_assert_eq(r.n, 1);
	watch_parser_free(&p);
	recorder_clear(&r);
}

Test(watch, error_410_gone_asks_for_a_relist)
{
	struct recorder r = { 0 };
	struct cx_err err = feed_fail(NULL,
				      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
				      "\"message\":\"The resourceVersion for the provided watch is too old.\","
				      "\"reason\":\"Gone\",\"code\":410}}",
				      &r, -ESTALE);
	cr_assert(strstr(err.msg, "relist"), "%s", err.msg);
	cr_assert(strstr(err.msg, "The resourceVersion for the provided watch is too old."), "%s", err.msg);
	cr_assert_str_eq(err.reason, "Gone");
	cr_assert_eq(err.http_status, 410);
	recorder_clear(&r);
}

Test(watch, error_500_carries_the_status)
{
	struct recorder r = { 0 };
	struct cx_err err = feed_fail(NULL,
				      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\","
				      "\"message\":\"etcdserver: request timed out\",\"reason\":\"InternalError\","
				      "\"code\":500}}\n",
				      &r, -EIO);
	cr_assert_str_eq(err.msg, "watch ERROR event 1: 500 InternalError: etcdserver: request timed out");
	cr_assert_eq(err.http_status, 500);
	cr_assert_str_eq(err.reason, "InternalError");
	cr_assert_eq(r.n, 0);
	recorder_clear(&r);
}

Test(watch, error_403_maps_like_kclient)
{
	struct recorder r = { 0 };
	struct cx_err err = feed_fail(NULL,
				      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"reason\":\"Forbidden\","
				      "\"message\":\"configmaps is forbidden\",\"code\":403}}",
				      &r, -EACCES);
	cr_assert(strstr(err.msg, "403 Forbidden: configmaps is forbidden"), "%s", err.msg);
	recorder_clear(&r);
}

Test(watch, malformed_json_names_the_stream_offset)
{
	/* The bad byte is the ']' in the second event. */
	char stream[512];
	snprintf(stream, sizeof(stream), "%s\n%s", added_rv7, "{\"type\":\"ADDED\",\"object\":{]}\n");
	size_t bad = strlen(added_rv7) + 1 + strlen("{\"type\":\"ADDED\",\"object\":{");
	char want[128];
	snprintf(want, sizeof(want), "at byte %zu of the stream", bad);

	struct recorder r = { 0 };
	struct cx_err err = feed_fail(NULL, stream, &r, -EBADMSG);
	cr_assert(strstr(err.msg, want), "want \"%s\" in: %s", want, err.msg);
	cr_assert(strstr(err.msg, "event 2"), "%s", err.msg);
	cr_assert(strstr(err.msg, "quoted object property name expected"), "json-c's reason: %s", err.msg);
	cr_assert_eq(r.n, 1);
	recorder_clear(&r);

	/* Fed a byte at a time, the offset is the same. */
	struct watch_parser *p = new_parser(NULL, &r);
	int code = 0;
	for (size_t i = 0; i < strlen(stream) && !code; i++)
		code = watch_parser_feed(p, stream + i, 1, &err);
	cr_assert_eq(code, -EBADMSG);
	cr_assert(strstr(err.msg, want), "want \"%s\" in: %s", want, err.msg);
	watch_parser_free(&p);
	recorder_clear(&r);
}

Test(watch, nul_byte_is_malformed)
{
	const char stream[] = "{\"type\":\"ADDED\",\"object\":{\"a\":\"x\0y\"}}\n";
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_eq(watch_parser_feed(p, stream, sizeof(stream) - 1, &err), -EBADMSG);
	cr_assert(strstr(err.msg, "at byte 32 of the stream: NUL byte"), "%s", err.msg);
	watch_parser_free(&p);
	recorder_clear(&r);
}

Test(watch, wrong_shapes_are_named)
{
	static const struct {
		const char *event;
		const char *want;
	} cases[] = {
		{ "{\"object\":{}}", "watch event 2 (at byte 74 of the stream) has no \"type\"" },
		{ "{\"type\":\"CREATED\",\"object\":{}}",
		  "watch event 2 (at byte 74 of the stream) has unknown type "
		  "\"CREATED\"" },
		{ "{\"type\":7,\"object\":{}}", "has a \"type\" that is a int, not a string" },
		{ "{\"type\":\"ADDED\\u0000\",\"object\":{}}", "has unknown type \"ADDED\"" },
		{ "{\"type\":\"ADDED\"}", "watch event 2 (at byte 74 of the stream) of type ADDED has no \"object\"" },
		{ "{\"type\":\"MODIFIED\",\"object\":[1]}", "of type MODIFIED has an \"object\" that is a JSON array" },
		{ "{\"type\":\"ERROR\",\"object\":\"boom\"}", "of type ERROR has an \"object\" that is a JSON string" },
		{ "[\"ADDED\",{}]", "watch event 2 (at byte 74 of the stream) is a JSON array, not an object" },
		{ "null", "is a JSON null, not an object" },
		{ "\"ADDED\"", "is a JSON string, not an object" },
	};
	cr_assert_eq(strlen(added_rv7), 74);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char stream[256];
		snprintf(stream, sizeof(stream), "%s%s\n", added_rv7, cases[i].event);
		struct recorder r = { 0 };
		struct cx_err err = feed_fail(NULL, stream, &r, -EBADMSG);
		cr_assert(strstr(err.msg, cases[i].want), "%s: want \"%s\" in: %s", cases[i].event, cases[i].want,
			  err.msg);
		cr_assert_eq(r.n, 1);
		recorder_clear(&r);
	}
}

/* An event of exactly n bytes: {"type":"ADDED","object":{"s":"xxx..."}} */
static char *event_of_size(size_t n)
{
	const char *head = "{\"type\":\"ADDED\",\"object\":{\"s\":\"", *tail = "\"}}";
	size_t fixed = strlen(head) + strlen(tail);
	cr_assert_geq(n, fixed);
	char *ev = malloc(n + 1);
	memcpy(ev, head, strlen(head));
	memset(ev + strlen(head), 'x', n - fixed);
	memcpy(ev + n - strlen(tail), tail, strlen(tail) + 1);
	return ev;
}

Test(watch, event_over_the_limit_is_refused)
{
	struct watch_parser_options opts = { .max_event_bytes = 100 };
	struct recorder r = { 0 };

	/* 100 bytes is allowed, 101 is not; leading whitespace does not count. */
	char *ok = event_of_size(100);
	char *big = event_of_size(101);
	char stream[512];
	snprintf(stream, sizeof(stream), "\n\n  %s\n\n\n%s", ok, big);
	struct cx_err err = feed_fail(&opts, stream, &r, -EFBIG);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(err.msg,
			 "watch event 2 (from byte 107 of the stream) is larger than the limit of 100 bytes "
			 "(max_event_bytes)");
	recorder_clear(&r);

	/* Bytes are refused as soon as the event passes the limit, not buffered
	 * until it ends: an unterminated event fails on its 101st byte. */
	struct watch_parser *p = new_parser(&opts, &r);
	for (size_t i = 0; i < 100; i++)
		cr_assert_eq(watch_parser_feed(p, big + i, 1, &err), 0, "byte %zu: %s", i, err.msg);
	cr_assert_eq(watch_parser_feed(p, big + 100, 1, &err), -EFBIG, "%s", err.msg);
	cr_assert_eq(r.n, 0);
	watch_parser_free(&p);
	recorder_clear(&r);
	free(ok);
	free(big);
}

Test(watch, default_limit_is_16_mib)
{
	size_t limit = 16u * 1024 * 1024;
	char *big = event_of_size(limit + 1);
	struct recorder r = { 0 };
	struct cx_err err = feed_fail(NULL, big, &r, -EFBIG);
	cr_assert(strstr(err.msg, "limit of 16777216 bytes"), "%s", err.msg);
	recorder_clear(&r);
	free(big);

	char *exact = event_of_size(limit);
	free(feed_ok(NULL, exact, limit, 0, &r));
	cr_assert_eq(r.n, 1);
	recorder_clear(&r);
	free(exact);
}

Test(watch, stream_ending_mid_event)
{
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	const char *partial = "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resou";
	cr_assert_eq(watch_parser_feed(p, added_rv7, strlen(added_rv7), &err), 0);
	cr_assert_eq(watch_parser_feed(p, partial, strlen(partial), &err), 0);
	cr_assert_eq(watch_parser_finish(p, &err), -EPROTO);
	cr_assert(strstr(err.msg, "ended in the middle of event 2"), "%s", err.msg);
	cr_assert(strstr(err.msg, "58 bytes of it, from byte 74"), "%s", err.msg);
	cr_assert_str_eq(watch_parser_resource_version(p), "7");
	cr_assert_eq(r.n, 1);
	watch_parser_free(&p);
	recorder_clear(&r);
}

Test(watch, stream_ending_between_events)
{
	struct recorder r = { 0 };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_null(watch_parser_resource_version(p));
	cr_assert_eq(watch_parser_finish(p, &err), 0, "an empty stream is fine");
	cr_assert_eq(watch_parser_feed(p, added_rv7, strlen(added_rv7), &err), 0);
	cr_assert_eq(watch_parser_feed(p, "\n \r\n", 4, &err), 0);
	cr_assert_eq(watch_parser_finish(p, &err), 0, "%s", err.msg);
	cr_assert_eq(watch_parser_events(p), 1);
	watch_parser_free(&p);
	recorder_clear(&r);
}

Test(watch, callback_error_stops_the_feed)
{
	size_t len;
	char *data = read_data(DATA "configmaps.jsonl", &len);
	struct recorder r = { .fail_at = 3, .fail_code = -ENOSPC };
	struct watch_parser *p = new_parser(NULL, &r);
	struct cx_err err = { 0 };
	cr_assert_eq(watch_parser_feed(p, data, len, &err), -ENOSPC);
	cr_assert_str_eq(err.msg, "cache full at event 3", "the callback's message, verbatim");
	cr_assert_eq(r.n, 2, "no event after the failing one was delivered");
	cr_assert_str_eq(watch_parser_resource_version(p), "47902", "the refused event's resourceVersion is not taken");
	cr_assert_eq(watch_parser_events(p), 2);
	cr_assert_eq(watch_parser_feed(p, "\n", 1, &err), -ENOSPC, "sticky");
	cr_assert_str_eq(err.msg, "cache full at event 3");
	/* without an err to fill, the code still comes back */
	cr_assert_eq(watch_parser_feed(p, "\n", 1, NULL), -ENOSPC);
	watch_parser_free(&p);
	recorder_clear(&r);

	r = (struct recorder){ .fail_at = 1, .fail_code = 1 };
	p = new_parser(NULL, &r);
	cr_assert_eq(watch_parser_feed(p, data, len, &err), -ECANCELED);
	cr_assert(strstr(err.msg, "callback stopped the stream (returned 1)"), "%s", err.msg);
	cr_assert_eq(r.n, 0);
	cr_assert_null(watch_parser_resource_version(p));
	watch_parser_free(&p);
	recorder_clear(&r);
	free(data);
}

Test(watch, managed_fields_dropped_when_asked)
{
	size_t len;
	char *data = read_data(DATA "configmaps.jsonl", &len);
	struct watch_parser_options drop = { .drop_managed_fields = true };
	struct recorder kept = { 0 }, dropped = { 0 };
	free(feed_ok(NULL, data, len, 0, &kept));
	free(feed_ok(&drop, data, len, 0, &dropped));
	cr_assert_eq(dropped.n, 5);
	for (size_t i = 0; i < 5; i++) {
		cr_assert_null(strstr(dropped.ev[i].json, "managedFields"), "event %zu: %s", i + 1, dropped.ev[i].json);
		cr_assert_str_eq(dropped.ev[i].rv, rvs[i]);
	}
	for (size_t i = 0; i < 5; i++)
		if (types[i] != WATCH_BOOKMARK)
			cr_assert(strstr(kept.ev[i].json, "\"managedFields\":[{\"manager\":"), "event %zu", i + 1);
	/* the rest of metadata stays */
	cr_assert(strstr(dropped.ev[0].json, "\"labels\":{\"app.kubernetes.io/name\":\"site\"}"), "%s",
		  dropped.ev[0].json);
	recorder_clear(&kept);
	recorder_clear(&dropped);
	free(data);
}

Test(watch, deep_objects_within_max_depth)
{
	/* 100 levels: past json-c's default of 32, within ours. */
	char ev[1024];
	int n = snprintf(ev, sizeof(ev), "{\"type\":\"ADDED\",\"object\":{\"a\":");
	for (int i = 0; i < 100; i++)
		ev[n++] = '[';
	for (int i = 0; i < 100; i++)
		ev[n++] = ']';
	snprintf(ev + n, sizeof(ev) - (size_t)n, "}}\n");
	struct recorder r = { 0 };
	free(feed_ok(NULL, ev, strlen(ev), 0, &r));
	cr_assert_eq(r.n, 1);
	recorder_clear(&r);

	struct watch_parser_options shallow = { .max_depth = 50 };
	struct cx_err err = feed_fail(&shallow, ev, &r, -EBADMSG);
	cr_assert(strstr(err.msg, "nesting too deep"), "%s", err.msg);
	recorder_clear(&r);
}

Test(watch, object_outlives_the_callback_with_a_reference)
{
	struct recorder r = { 0 };
	free(feed_ok(NULL, added_rv7, strlen(added_rv7), 0, &r));
	cr_assert_not_null(r.kept);
	cr_assert_str_eq(json_object_to_json_string_ext(r.kept, PLAIN),
			 "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"7\"}}");
	recorder_clear(&r);
}

Test(watch, event_without_resource_version_keeps_the_last)
{
	const char *stream = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}"
			     "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}";
	struct recorder r = { 0 };
	char *rv = feed_ok(NULL, stream, strlen(stream), 0, &r);
	cr_assert_eq(r.n, 2);
	cr_assert_null(r.ev[1].rv);
	cr_assert_str_eq(rv, "5");
	free(rv);
	recorder_clear(&r);
}

Test(watch, free_null)
{
	struct watch_parser *p = NULL;
	watch_parser_free(&p);
	watch_parser_free(NULL);
	cr_assert_null(p);
}

/* A streaming list (sendInitialEvents=true) ends its initial events with a
 * BOOKMARK annotated k8s.io/initial-events-end: "true", as kube-apiserver
 * 1.34 sends it; only that bookmark says the store is complete. */
Test(watch, initial_events_end_bookmark_is_flagged)
{
	const char *stream =
		"{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"206\",\"annotations\":"
		"{\"k8s.io/initial-events-end\":\"true\"}}}}\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"resourceVersion\":\"207\"}}}\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"resourceVersion\":\"208\",\"annotations\":{\"k8s.io/initial-events-end\":\"false\"}}}}\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"resourceVersion\":\"209\",\"annotations\":{\"k8s.io/initial-events-end\":true}}}}\n"
		"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":"
		"{\"resourceVersion\":\"210\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n";
	struct recorder r = { 0 };
	char *rv = feed_ok(NULL, stream, strlen(stream), 0, &r);
	cr_assert_eq(r.n, 5);
	/* An object that happens to carry the annotation is no bookmark. */
	cr_assert_not(r.ev[0].initial_end);
	cr_assert_not(r.ev[1].initial_end, "a plain bookmark");
	cr_assert_not(r.ev[2].initial_end, "\"false\"");
	cr_assert_not(r.ev[3].initial_end, "a JSON true is not the string \"true\" the API sends");
	cr_assert(r.ev[4].initial_end);
	cr_assert_str_eq(r.ev[4].rv, "210", "the bookmark carries the list's resourceVersion");
	cr_assert_str_eq(rv, "210");
	free(rv);
	recorder_clear(&r);
}

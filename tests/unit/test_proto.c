/* Unit tests for common/proto: every message type round-trips, the wire
 * bytes are stable, and every malformed message is refused with an error
 * naming the type and the field. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "proto.h"

/* Encodes msg, then decodes the frames into *out. */
static void round_trip(const struct proto_msg *msg, struct proto_msg *out)
{
	struct cx_err err = { 0 };
	struct proto_frame f;
	cr_assert_eq(proto_encode(msg, &f, &err), 0, "%s", err.msg);
	cr_assert_str_eq(f.type, proto_type_name(msg->type));
	cr_assert_eq(f.len, strlen(f.payload));
	cr_assert_eq(proto_decode(f.type, strlen(f.type), f.payload, f.len, out, &err), 0, "%s: %s", f.payload,
		     err.msg);
	cr_assert_eq(out->type, msg->type);
	proto_frame_clear(&f);
	cr_assert_null(f.payload);
}

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "test JSON: %s", text);
	return o;
}

static void assert_json_eq(struct json_object *a, const char *want)
{
	struct json_object *w = json(want);
	cr_assert(json_object_equal(a, w), "got %s, want %s", json_object_to_json_string(a), want);
	json_object_put(w);
}

Test(proto, ready_round_trip)
{
	struct proto_msg in = { .type = PROTO_READY,
				.ready = { .slot = 3, .pid = 4242, .instance = "0123456789abcdef", .restarts = 7 } },
			 out;
	round_trip(&in, &out);
	cr_assert_eq(out.ready.slot, 3);
	cr_assert_eq(out.ready.pid, 4242);
	cr_assert_str_eq(out.ready.instance, "0123456789abcdef");
	cr_assert_eq(out.ready.restarts, 7);
	cr_assert_str_eq(out.ready.set, "", "no set is the local one");
	proto_msg_clear(&out);
	in.ready.set = "coxswain-worker-7d9f8-x2x.a";
	round_trip(&in, &out);
	cr_assert_str_eq(out.ready.set, "coxswain-worker-7d9f8-x2x.a");
	proto_msg_clear(&out);
	cr_assert_eq(out.type, 0);
}

Test(proto, empty_messages_round_trip)
{
	enum proto_type types[] = { PROTO_HEARTBEAT, PROTO_DISCONNECT };
	for (int i = 0; i < 2; i++) {
		struct proto_msg in = { .type = types[i] }, out;
		struct proto_frame f;
		cr_assert_eq(proto_encode(&in, &f, NULL), 0);
		cr_assert_eq(f.len, 0, "an empty payload");
		cr_assert_str_eq(f.payload, "");
		proto_frame_clear(&f);
		round_trip(&in, &out);
		cr_assert_null(out.root);
		proto_msg_clear(&out);
	}
	struct proto_frame f;
	cr_assert_eq(proto_encode_heartbeat(&f, NULL), 0);
	cr_assert_str_eq(f.type, "HEARTBEAT");
	proto_frame_clear(&f);
	cr_assert_eq(proto_encode_disconnect(&f, NULL), 0);
	cr_assert_str_eq(f.type, "DISCONNECT");
	proto_frame_clear(&f);
	proto_frame_clear(NULL);
}

Test(proto, result_round_trip_every_outcome)
{
	enum proto_outcome outcomes[] = { PROTO_OUTCOME_OK, PROTO_OUTCOME_ERROR, PROTO_OUTCOME_REQUEUE };
	for (int i = 0; i < 3; i++) {
		struct proto_msg in = { .type = PROTO_RESULT,
					.result = { .job = UINT64_MAX - (uint64_t)i,
						    .attempt = 2 + i,
						    .outcome = outcomes[i],
						    .requeue_after_ms = i == 2 ? 30000 : 0,
						    .message = i == 1 ? "hook exited with 2: \"boom\"\n\ttail é"
								      : "" } };
		struct proto_msg out;
		round_trip(&in, &out);
		cr_assert_eq(out.result.job, UINT64_MAX - (uint64_t)i, "job ids use all 64 bits");
		cr_assert_eq(out.result.attempt, 2 + i);
		cr_assert_eq(out.result.outcome, outcomes[i]);
		cr_assert_eq(out.result.requeue_after_ms, i == 2 ? 30000 : 0);
		cr_assert_str_eq(out.result.message, in.result.message);
		proto_msg_clear(&out);
	}
	struct proto_msg in = { .type = PROTO_RESULT,
				.result = { .job = 0, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .message = NULL } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_str_eq(out.result.message, "", "NULL travels as \"\"");
	proto_msg_clear(&out);
}

Test(proto, wire_bytes_are_stable)
{
	struct proto_frame f;
	struct proto_result r = {
		.job = 17, .attempt = 1, .outcome = PROTO_OUTCOME_REQUEUE, .requeue_after_ms = 500, .message = "a/b"
	};
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	cr_assert_str_eq(f.type, "RESULT");
	cr_assert_str_eq(
		f.payload,
		"{\"job\":17,\"attempt\":1,\"outcome\":\"requeue\",\"requeueAfterMs\":500,\"message\":\"a/b\"}");
	proto_frame_clear(&f);

	struct proto_ready rd = { .slot = 0, .pid = 99, .instance = "a1", .restarts = 0 };
	cr_assert_eq(proto_encode_ready(&rd, &f, NULL), 0);
	cr_assert_str_eq(f.payload, "{\"slot\":0,\"pid\":99,\"instance\":\"a1\",\"restarts\":0,\"set\":\"\"}");
	proto_frame_clear(&f);

	struct json_object *parent = json("{\"kind\":\"Website\",\"metadata\":{\"name\":\"web\"}}");
	struct proto_job j = { .job = 5,
			       .attempt = 3,
			       .kind = PROTO_JOB_POISON,
			       .controller = "websites",
			       .key = "websites/default/web",
			       .parent = parent,
			       .message = "3 workers lost" };
	cr_assert_eq(proto_encode_job(&j, &f, NULL), 0);
	cr_assert_str_eq(f.type, "JOB");
	cr_assert_str_eq(f.payload,
			 "{\"job\":5,\"attempt\":3,\"kind\":\"poison\",\"controller\":\"websites\","
			 "\"key\":\"websites/default/web\",\"parent\":{\"kind\":\"Website\",\"metadata\":"
			 "{\"name\":\"web\"}},\"message\":\"3 workers lost\"}");
	proto_frame_clear(&f);
	json_object_put(parent);
}

Test(proto, job_sync_round_trip)
{
	struct json_object *parent = json(
		"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\","
		"\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":2}}");
	struct json_object *children = json(
		"{\"ConfigMap.v1\":{\"web\":{\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"}}},"
		"\"Deployment.apps/v1\":{}}");
	struct proto_msg in = { .type = PROTO_JOB,
				.job = { .job = 1ULL << 40,
					 .attempt = 1,
					 .kind = PROTO_JOB_SYNC,
					 .controller = "websites",
					 .key = "websites/default/web",
					 .parent = parent,
					 .children = children } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_eq(out.job.job, 1ULL << 40);
	cr_assert_eq(out.job.attempt, 1);
	cr_assert_eq(out.job.kind, PROTO_JOB_SYNC);
	cr_assert_str_eq(out.job.controller, "websites");
	cr_assert_str_eq(out.job.key, "websites/default/web");
	cr_assert(json_object_equal(out.job.parent, parent));
	cr_assert(json_object_equal(out.job.children, children));
	cr_assert_null(out.job.message);
	/* The encoder only borrowed them: the caller's references still stand. */
	json_object_put(parent);
	json_object_put(children);

	/* A reference taken on the decoded parent outlives the message. */
	struct json_object *kept = json_object_get(out.job.parent);
	proto_msg_clear(&out);
	proto_msg_clear(&out); /* twice is fine */
	assert_json_eq(json_object_object_get(kept, "spec"), "{\"replicas\":2}");
	json_object_put(kept);
}

Test(proto, job_poison_round_trip)
{
	struct json_object *parent = json("{\"metadata\":{\"name\":\"web\"}}");
	struct proto_msg in = { .type = PROTO_JOB,
				.job = { .job = 9,
					 .attempt = 4,
					 .kind = PROTO_JOB_POISON,
					 .controller = "c",
					 .key = "c/ns/web",
					 .parent = parent,
					 .message = "worker crashed 3 times (signal 11)" } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_eq(out.job.kind, PROTO_JOB_POISON);
	cr_assert_null(out.job.children);
	cr_assert_str_eq(out.job.message, "worker crashed 3 times (signal 11)");
	cr_assert(json_object_equal(out.job.parent, parent));
	proto_msg_clear(&out);
	json_object_put(parent);
}

/* A metacontroller-defined controller's job carries its definition, with
 * either kind of job; a job without one decodes with NULL. */
Test(proto, job_definition_round_trip)
{
	struct json_object *parent = json("{\"metadata\":{\"name\":\"web\"}}");
	struct json_object *children = json("{}");
	struct json_object *def = json(
		"{\"apiVersion\":\"metacontroller.k8s.io/v1alpha1\",\"kind\":\"CompositeController\","
		"\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"7\"},\"spec\":{\"hooks\":"
		"{\"sync\":{\"webhook\":{\"url\":\"http://h\"}}}}}");
	struct proto_msg in = { .type = PROTO_JOB,
				.job = { .job = 2,
					 .attempt = 1,
					 .kind = PROTO_JOB_SYNC,
					 .controller = "c",
					 .key = "c/ns/web",
					 .parent = parent,
					 .children = children,
					 .definition = def } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_not_null(out.job.definition);
	cr_assert(json_object_equal(out.job.definition, def));
	proto_msg_clear(&out);
	in.job.kind = PROTO_JOB_POISON;
	in.job.children = NULL;
	in.job.message = "crashed";
	round_trip(&in, &out);
	cr_assert(json_object_equal(out.job.definition, def));
	proto_msg_clear(&out);
	in.job.definition = NULL;
	round_trip(&in, &out);
	cr_assert_null(out.job.definition);
	proto_msg_clear(&out);
	json_object_put(parent);
	json_object_put(children);
	json_object_put(def);
}

Test(proto, frames_need_not_be_nul_terminated)
{
	const char type[] = "RESULTS";
	const char payload[] =
		"{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":\"\"}GARBAGE";
	struct proto_msg m;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_decode(type, 6, payload, strlen(payload) - 7, &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m.type, PROTO_RESULT);
	proto_msg_clear(&m);
	/* NULL payload of length 0. */
	cr_assert_eq(proto_decode("HEARTBEAT", 9, NULL, 0, &m, &err), 0);
	cr_assert_eq(m.type, PROTO_HEARTBEAT);
	proto_msg_clear(&m);
}

Test(proto, empty_messages_accept_an_empty_object)
{
	struct proto_msg m;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_decode("DISCONNECT", 10, " { } ", 5, &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m.type, PROTO_DISCONNECT);
	proto_msg_clear(&m);
}

Test(proto, directions)
{
	cr_assert(proto_from_worker(PROTO_READY));
	cr_assert(proto_from_worker(PROTO_RESULT));
	cr_assert(proto_from_worker(PROTO_HEARTBEAT));
	cr_assert(!proto_from_worker(PROTO_JOB));
	cr_assert(!proto_from_worker(PROTO_DISCONNECT));
	cr_assert(proto_from_watcher(PROTO_JOB));
	cr_assert(proto_from_watcher(PROTO_DISCONNECT));
	cr_assert(proto_from_watcher(PROTO_HEARTBEAT));
	cr_assert(!proto_from_watcher(PROTO_READY));
	cr_assert(!proto_from_watcher(PROTO_RESULT));
	cr_assert_str_eq(proto_type_name(PROTO_JOB), "JOB");
	cr_assert_str_eq(proto_type_name((enum proto_type)42), "?");
	cr_assert_str_eq(proto_outcome_name(PROTO_OUTCOME_REQUEUE), "requeue");
	cr_assert_str_eq(proto_outcome_name((enum proto_outcome)0), "?");
	cr_assert_str_eq(proto_job_kind_name(PROTO_JOB_POISON), "poison");
	cr_assert_str_eq(proto_job_kind_name((enum proto_job_kind)7), "?");
}

Test(proto, deep_objects_decode)
{
	/* The informer takes objects nested 512 deep; a JOB carrying one must
	 * decode too. */
	size_t depth = 500, cap = depth * 8 + 512;
	char *p = malloc(cap);
	cr_assert_not_null(p);
	size_t n = (size_t)snprintf(p, cap,
				    "{\"job\":1,\"attempt\":1,\"kind\":\"poison\",\"controller\":\"c\","
				    "\"key\":\"k\",\"message\":\"m\",\"parent\":");
	for (size_t i = 0; i < depth; i++)
		n += (size_t)snprintf(p + n, cap - n, "{\"a\":");
	n += (size_t)snprintf(p + n, cap - n, "1");
	for (size_t i = 0; i < depth + 1; i++)
		p[n++] = '}';
	struct proto_msg m;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_decode("JOB", 3, p, n, &m, &err), 0, "%s", err.msg);
	proto_msg_clear(&m);
	free(p);
}

/* ---- malformed messages -------------------------------------------------- */

/* Decodes (type, payload) and asserts it fails with -EPROTO and exactly want. */
static void refused(const char *type, const char *payload, const char *want)
{
	struct proto_msg m;
	memset(&m, 0xa5, sizeof(m));
	struct cx_err err = { 0 };
	int rc = proto_decode(type, strlen(type), payload, strlen(payload), &m, &err);
	cr_assert_eq(rc, -EPROTO, "%s %s: rc %d, want -EPROTO", type, payload, rc);
	cr_assert_eq(err.code, -EPROTO);
	cr_assert_str_eq(err.msg, want, "%s %s: got \"%s\", want \"%s\"", type, payload, err.msg, want);
	cr_assert_eq(m.type, 0, "left zeroed");
	cr_assert_null(m.root);
	proto_msg_clear(&m);
}

#define RES_TAIL "\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":\"\""

Test(proto, result_malformed)
{
	refused("RESULT", "{\"attempt\":1," RES_TAIL "}", "RESULT: missing field \"job\"");
	refused("RESULT", "{\"job\":1," RES_TAIL "}", "RESULT: missing field \"attempt\"");
	refused("RESULT", "{\"job\":1,\"attempt\":\"1\"," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer, got a string");
	refused("RESULT", "{\"job\":1,\"attempt\":1.5," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer, got a non-integer number");
	refused("RESULT", "{\"job\":1,\"attempt\":null," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer, got null");
	refused("RESULT", "{\"job\":1,\"attempt\":-2," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer in [1, 2147483647], got -2");
	refused("RESULT", "{\"job\":1,\"attempt\":0," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer in [1, 2147483647], got 0");
	refused("RESULT", "{\"job\":1,\"attempt\":2147483648," RES_TAIL "}",
		"RESULT: field \"attempt\": expected an integer in [1, 2147483647], got 2147483648");
	refused("RESULT", "{\"job\":-1,\"attempt\":1," RES_TAIL "}",
		"RESULT: field \"job\": expected an integer >= 0, got -1");
	refused("RESULT", "{\"job\":true,\"attempt\":1," RES_TAIL "}",
		"RESULT: field \"job\": expected an integer, got a boolean");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"maybe\",\"requeueAfterMs\":0,\"message\":\"\"}",
		"RESULT: field \"outcome\": expected \"ok\", \"error\" or \"requeue\", got \"maybe\"");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"OK\",\"requeueAfterMs\":0,\"message\":\"\"}",
		"RESULT: field \"outcome\": expected \"ok\", \"error\" or \"requeue\", got \"OK\"");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":1,\"requeueAfterMs\":0,\"message\":\"\"}",
		"RESULT: field \"outcome\": expected a string, got an integer");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"message\":\"\"}",
		"RESULT: missing field \"requeueAfterMs\"");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":-1,\"message\":\"\"}",
		"RESULT: field \"requeueAfterMs\": expected an integer in [0, 9223372036854775807], got -1");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":9223372036854775808,"
		"\"message\":\"\"}",
		"RESULT: field \"requeueAfterMs\": expected an integer in [0, 9223372036854775807], "
		"got 9223372036854775808");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":1e3,\"message\":\"\"}",
		"RESULT: field \"requeueAfterMs\": expected an integer, got a non-integer number");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0}",
		"RESULT: missing field \"message\"");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":null}",
		"RESULT: field \"message\": expected a string, got null");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":[]}",
		"RESULT: field \"message\": expected a string, got an array");
	refused("RESULT", "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":\"a\\u0000b\"}",
		"RESULT: field \"message\": string contains a NUL character");
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"extra\":{}}", "RESULT: unknown field \"extra\"");
}

Test(proto, garbage_json_names_the_byte)
{
	refused("RESULT", "", "RESULT: empty payload, expected a JSON object");
	refused("RESULT", "{\"job\": 1,", "RESULT: invalid JSON at byte 10: unexpected end of data");
	refused("RESULT", "{\"job\":1}x", "RESULT: invalid JSON at byte 9: unexpected character");
	refused("RESULT", "{\"job\":1} {}", "RESULT: invalid JSON at byte 10: unexpected character");
	refused("READY", "{\"slot\":01}", "READY: invalid JSON at byte 10: number expected"); /* strict: no leading 0 */
	refused("READY", "{\"slot\":1,}", "READY: invalid JSON at byte 10: unexpected character");
	refused("READY", "{\"slot\":\"\xff\"}", "READY: invalid JSON at byte 9: invalid utf-8 string");
	refused("READY", "[1,2]", "READY: expected a JSON object, got an array");
	refused("READY", "\"x\"", "READY: expected a JSON object, got a string");
	refused("JOB", "nope", "JOB: invalid JSON at byte 1: null expected");

	/* A NUL byte inside the payload (strlen would stop there, so by hand). */
	struct proto_msg m;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_decode("READY", 5, "{\"slot\"\0:1}", 11, &m, &err), -EPROTO);
	cr_assert_str_eq(err.msg, "READY: invalid JSON at byte 7: NUL byte");
}

Test(proto, ready_malformed)
{
	refused("READY", "{\"pid\":5}", "READY: missing field \"slot\"");
	refused("READY", "{\"slot\":1}", "READY: missing field \"pid\"");
	refused("READY", "{\"slot\":-1,\"pid\":5}",
		"READY: field \"slot\": expected an integer in [0, 2147483647], got -1");
	refused("READY", "{\"slot\":1,\"pid\":0}",
		"READY: field \"pid\": expected an integer in [1, 2147483647], got 0");
	refused("READY", "{\"slot\":1,\"pid\":\"5\"}", "READY: field \"pid\": expected an integer, got a string");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\",\"restarts\":0,\"set\":\"\",\"id\":\"w1-5\"}",
		"READY: unknown field \"id\"");
}

/* The supervisor's instance id and the slot's restart count: required, so
 * that the broker can tell two worker sets apart and count restarts as the
 * supervisor does. A READY from a worker older than the watcher (no
 * instance) is refused with an error that says so. */
Test(proto, ready_instance_and_restarts)
{
	refused("READY", "{\"slot\":1,\"pid\":5}",
		"READY: missing field \"instance\" (a worker older than this watcher? run the same coxswain version "
		"on both sides)");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\"}", "READY: missing field \"restarts\"");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"\",\"restarts\":0}",
		"READY: field \"instance\": expected 1 to 64 letters, digits or '-', got \"\"");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a/b\",\"restarts\":0}",
		"READY: field \"instance\": expected 1 to 64 letters, digits or '-', got \"a/b\"");
	refused("READY",
		"{\"slot\":1,\"pid\":5,\"instance\":\""
		"0123456789012345678901234567890123456789012345678901234567890123"
		"4\",\"restarts\":0}",
		"READY: field \"instance\": expected 1 to 64 letters, digits or '-', got \""
		"0123456789012345678901234567890123456789012345678901234567890123...\"");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":7,\"restarts\":0}",
		"READY: field \"instance\": expected a string, got an integer");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\",\"restarts\":-1}",
		"READY: field \"restarts\": expected an integer in [0, 2147483647], got -1");
	struct proto_msg m;
	struct cx_err err = { 0 };
	const char *ok = "{\"slot\":1,\"pid\":5,\"instance\":\"Ab-9\",\"restarts\":2,\"set\":\"\"}";
	cr_assert_eq(proto_decode("READY", 5, ok, strlen(ok), &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.ready.instance, "Ab-9");
	cr_assert_eq(m.ready.restarts, 2);
	proto_msg_clear(&m);
}

/* The worker set: required (an empty string is the local set), and a name
 * that fits a pod's. */
Test(proto, ready_set)
{
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\",\"restarts\":0}", "READY: missing field \"set\"");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\",\"restarts\":0,\"set\":\"a/b\"}",
		"READY: field \"set\": expected up to 253 letters, digits, '-' or '.', got \"a/b\"");
	refused("READY", "{\"slot\":1,\"pid\":5,\"instance\":\"a\",\"restarts\":0,\"set\":1}",
		"READY: field \"set\": expected a string, got an integer");
	struct proto_ready rd = { .slot = 0, .pid = 9, .instance = "a", .set = "has space" };
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_ready(&rd, &f, &err), -EINVAL);
	cr_assert(strstr(err.msg, "field \"set\""), "%s", err.msg);
	cr_assert(proto_set_valid(""));
	cr_assert_not(proto_set_valid(NULL));
	char longest[PROTO_SET_MAX + 2];
	memset(longest, 'a', PROTO_SET_MAX);
	longest[PROTO_SET_MAX] = '\0';
	cr_assert(proto_set_valid(longest));
	longest[PROTO_SET_MAX] = 'a';
	longest[PROTO_SET_MAX + 1] = '\0';
	cr_assert_not(proto_set_valid(longest));
}

Test(proto, empty_messages_malformed)
{
	refused("HEARTBEAT", "{\"a\":1}", "HEARTBEAT: expected an empty payload");
	refused("DISCONNECT", "[]", "DISCONNECT: expected an empty payload");
	refused("HEARTBEAT", "{", "HEARTBEAT: invalid JSON at byte 1: unexpected end of data");
}

#define JOB_HEAD "\"job\":1,\"attempt\":1,"
#define JOB_IDS  "\"controller\":\"c\",\"key\":\"c/ns/n\",\"parent\":{}"

Test(proto, job_malformed)
{
	refused("JOB", "{" JOB_HEAD JOB_IDS ",\"children\":{}}", "JOB: missing field \"kind\"");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"resync\"," JOB_IDS ",\"children\":{}}",
		"JOB: field \"kind\": expected \"sync\" or \"poison\", got \"resync\"");
	refused("JOB", "{\"attempt\":1,\"kind\":\"sync\"," JOB_IDS ",\"children\":{}}", "JOB: missing field \"job\"");
	refused("JOB", "{\"job\":\"1\",\"attempt\":1,\"kind\":\"sync\"," JOB_IDS ",\"children\":{}}",
		"JOB: field \"job\": expected an integer, got a string");
	refused("JOB", "{\"job\":1,\"attempt\":-1,\"kind\":\"sync\"," JOB_IDS ",\"children\":{}}",
		"JOB: field \"attempt\": expected an integer in [1, 2147483647], got -1");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\",\"key\":\"k\",\"parent\":{},\"children\":{}}",
		"JOB: missing field \"controller\"");
	refused("JOB",
		"{" JOB_HEAD "\"kind\":\"sync\",\"controller\":\"\",\"key\":\"k\",\"parent\":{},\"children\":{}}",
		"JOB: field \"controller\": expected a non-empty string");
	refused("JOB",
		"{" JOB_HEAD "\"kind\":\"sync\",\"controller\":\"c\",\"key\":\"\",\"parent\":{},\"children\":{}}",
		"JOB: field \"key\": expected a non-empty string");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\",\"controller\":\"c\",\"key\":\"k\",\"children\":{}}",
		"JOB: missing field \"parent\"");
	refused("JOB",
		"{" JOB_HEAD "\"kind\":\"sync\",\"controller\":\"c\",\"key\":\"k\",\"parent\":[],\"children\":{}}",
		"JOB: field \"parent\": expected an object, got an array");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS "}", "JOB: missing field \"children\"");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":null}",
		"JOB: field \"children\": expected an object, got null");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\"ConfigMap\":{}}}",
		"JOB: field \"children\": key \"ConfigMap\" is not \"Kind.apiVersion\" (\"ConfigMap.v1\")");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\".v1\":{}}}",
		"JOB: field \"children\": key \".v1\" is not \"Kind.apiVersion\" (\"ConfigMap.v1\")");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\"ConfigMap.\":{}}}",
		"JOB: field \"children\": key \"ConfigMap.\" is not \"Kind.apiVersion\" (\"ConfigMap.v1\")");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\"ConfigMap.v1\":[]}}",
		"JOB: field \"children\" entry \"ConfigMap.v1\": expected an object, got an array");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\"ConfigMap.v1\":{\"web\":\"x\"}}}",
		"JOB: field \"children\" entry \"ConfigMap.v1\" child \"web\": expected an object, got a string");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{\"ConfigMap.v1\":{\"\":{}}}}",
		"JOB: field \"children\" entry \"ConfigMap.v1\": empty child name");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{},\"message\":\"x\"}",
		"JOB: field \"message\": not allowed for kind \"sync\"");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"poison\"," JOB_IDS ",\"children\":{},\"message\":\"x\"}",
		"JOB: field \"children\": not allowed for kind \"poison\"");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"poison\"," JOB_IDS "}", "JOB: missing field \"message\"");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"poison\"," JOB_IDS ",\"message\":\"\"}",
		"JOB: field \"message\": expected a non-empty string");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{},\"definition\":\"x\"}",
		"JOB: field \"definition\": expected an object, got a string");
	refused("JOB", "{" JOB_HEAD "\"kind\":\"sync\"," JOB_IDS ",\"children\":{},\"finalizing\":false}",
		"JOB: unknown field \"finalizing\"");
}

Test(proto, unknown_types)
{
	refused("JOBS", "{}", "unknown message type \"JOBS\"");
	refused("job", "{}", "unknown message type \"job\"");
	refused("", "", "unknown message type \"\"");
	refused("RE\"A\\DY\n", "", "unknown message type \"RE\\x22A\\x5cDY\\x0a\"");
	refused("0123456789012345678901234567890123456789", "",
		"unknown message type \"01234567890123456789012345678901...\"");
	struct proto_msg m;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_decode("READY\0", 6, "{}", 2, &m, &err), -EPROTO, "a trailing NUL is part of the type");
	cr_assert_str_eq(err.msg, "unknown message type \"READY\\x00\"");
	cr_assert_eq(proto_decode(NULL, 0, NULL, 0, &m, NULL), -EPROTO, "no err is fine too");
}

/* ---- the encoder refuses what the decoder would ---------------------------- */

static void encode_refused(const struct proto_msg *msg, const char *want)
{
	struct proto_frame f;
	memset(&f, 0xa5, sizeof(f));
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode(msg, &f, &err), -EINVAL, "want %s", want);
	cr_assert_str_eq(err.msg, want);
	cr_assert_null(f.payload, "left zeroed");
	proto_frame_clear(&f);
}

Test(proto, encoder_checks)
{
	encode_refused(&(struct proto_msg){ .type = 0 }, "unknown message type 0");
	encode_refused(&(struct proto_msg){ .type = PROTO_READY, .ready = { .slot = -1, .pid = 1, .instance = "a" } },
		       "READY: field \"slot\": expected an integer >= 0, got -1");
	encode_refused(&(struct proto_msg){ .type = PROTO_READY, .ready = { .slot = 0, .pid = 0, .instance = "a" } },
		       "READY: field \"pid\": expected an integer >= 1, got 0");
	encode_refused(&(struct proto_msg){ .type = PROTO_READY, .ready = { .slot = 0, .pid = 1 } },
		       "READY: field \"instance\": expected 1 to 64 letters, digits or '-', got nothing");
	encode_refused(&(struct proto_msg){ .type = PROTO_READY, .ready = { .slot = 0, .pid = 1, .instance = "a b" } },
		       "READY: field \"instance\": expected 1 to 64 letters, digits or '-', got \"a b\"");
	encode_refused(&(struct proto_msg){ .type = PROTO_READY,
					    .ready = { .slot = 0, .pid = 1, .instance = "a", .restarts = -1 } },
		       "READY: field \"restarts\": expected an integer >= 0, got -1");
	encode_refused(
		&(struct proto_msg){ .type = PROTO_RESULT, .result = { .attempt = 0, .outcome = PROTO_OUTCOME_OK } },
		"RESULT: field \"attempt\": expected an integer >= 1, got 0");
	encode_refused(&(struct proto_msg){ .type = PROTO_RESULT, .result = { .attempt = 1 } },
		       "RESULT: field \"outcome\": unknown outcome 0");
	encode_refused(
		&(struct proto_msg){
			.type = PROTO_RESULT,
			.result = { .attempt = 1, .outcome = PROTO_OUTCOME_REQUEUE, .requeue_after_ms = -5 } },
		"RESULT: field \"requeueAfterMs\": expected an integer >= 0, got -5");

	struct json_object *parent = json("{}"), *children = json("{\"ConfigMap.v1\":{}}"), *arr = json("[]");
	struct proto_job ok = { .job = 1,
				.attempt = 1,
				.kind = PROTO_JOB_SYNC,
				.controller = "c",
				.key = "k",
				.parent = parent,
				.children = children };
	struct proto_msg m = { .type = PROTO_JOB, .job = ok };
	m.job.attempt = 0;
	encode_refused(&m, "JOB: field \"attempt\": expected an integer >= 1, got 0");
	m.job = ok;
	m.job.kind = 0;
	encode_refused(&m, "JOB: field \"kind\": unknown kind 0");
	m.job = ok;
	m.job.controller = "";
	encode_refused(&m, "JOB: field \"controller\": expected a non-empty string");
	m.job = ok;
	m.job.key = NULL;
	encode_refused(&m, "JOB: field \"key\": expected a non-empty string");
	m.job = ok;
	m.job.parent = NULL;
	encode_refused(&m, "JOB: field \"parent\": expected an object, got nothing");
	m.job = ok;
	m.job.parent = arr;
	encode_refused(&m, "JOB: field \"parent\": expected an object, got an array");
	m.job = ok;
	m.job.children = NULL;
	encode_refused(&m, "JOB: field \"children\": required for kind \"sync\"");
	m.job = ok;
	m.job.children = arr;
	encode_refused(&m, "JOB: field \"children\": expected an object, got an array");
	m.job = ok;
	m.job.message = "x";
	encode_refused(&m, "JOB: field \"message\": not allowed for kind \"sync\"");
	m.job = ok;
	m.job.kind = PROTO_JOB_POISON;
	encode_refused(&m, "JOB: field \"children\": not allowed for kind \"poison\"");
	m.job.children = NULL;
	encode_refused(&m, "JOB: field \"message\": expected a non-empty string for kind \"poison\"");

	m.job = ok;
	struct proto_frame f;
	cr_assert_eq(proto_encode(&m, &f, NULL), 0);
	proto_frame_clear(&f);
	json_object_put(parent);
	json_object_put(children);
	json_object_put(arr);
}

/* ---- STATS: a worker's cumulative counters ---------------------------------- */

#define REST "rest_client_requests_total"

Test(proto, stats_round_trip)
{
	struct json_object *families = json("{\"" REST "\":[{\"labels\":{\"code\":\"200\",\"method\":\"GET\","
					    "\"host\":\"10.0.0.1:6443\"},\"value\":12},"
					    "{\"labels\":{\"code\":\"<error>\",\"method\":\"PATCH\",\"host\":\"h:1\"},"
					    "\"value\":18446744073709551615}],"
					    "\"other_total\":[]}");
	struct proto_msg in = { .type = PROTO_STATS, .stats = { .families = families } }, out;
	round_trip(&in, &out);
	cr_assert(json_object_equal(out.stats.families, families), "%s",
		  json_object_to_json_string(out.stats.families));
	proto_msg_clear(&out);
	json_object_put(families);
	cr_assert(proto_from_worker(PROTO_STATS));
	cr_assert(!proto_from_watcher(PROTO_STATS));
	cr_assert_str_eq(proto_type_name(PROTO_STATS), "STATS");
}

Test(proto, stats_wire_bytes_are_stable)
{
	struct json_object *families = json("{\"" REST "\":[{\"labels\":{\"code\":\"201\"},\"value\":3}]}");
	struct proto_frame f;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_stats(&(struct proto_stats){ families }, &f, &err), 0, "%s", err.msg);
	cr_assert_str_eq(f.type, "STATS");
	cr_assert_str_eq(f.payload, "{\"families\":{\"" REST "\":[{\"labels\":{\"code\":\"201\"},\"value\":3}]}}");
	proto_frame_clear(&f);
	json_object_put(families);
}

#define SERIES(labels, value) "{\"families\":{\"" REST "\":[{\"labels\":" labels ",\"value\":" value "}]}}"

Test(proto, stats_malformed)
{
	refused("STATS", "", "STATS: empty payload, expected a JSON object");
	refused("STATS", "{}", "STATS: missing field \"families\"");
	refused("STATS", "{\"families\":[]}", "STATS: field \"families\": expected an object, got an array");
	refused("STATS", "{\"families\":{},\"seq\":1}", "STATS: unknown field \"seq\"");
	refused("STATS", "{\"families\":{\"1bad\":[]}}", "STATS: field \"families\": \"1bad\" is not a metric name");
	refused("STATS", "{\"families\":{\"\":[]}}", "STATS: field \"families\": \"\" is not a metric name");
	refused("STATS", "{\"families\":{\"" REST "\":{}}}",
		"STATS: family \"" REST "\": expected an array of series, got an object");
	refused("STATS", "{\"families\":{\"" REST "\":[7]}}",
		"STATS: family \"" REST "\" series 0: expected an object, got an integer");
	refused("STATS", "{\"families\":{\"" REST "\":[{\"value\":1}]}}",
		"STATS: family \"" REST "\" series 0: missing field \"labels\"");
	refused("STATS", "{\"families\":{\"" REST "\":[{\"labels\":{}}]}}",
		"STATS: family \"" REST "\" series 0: missing field \"value\"");
	refused("STATS", "{\"families\":{\"" REST "\":[{\"labels\":{},\"value\":1,\"sum\":2}]}}",
		"STATS: family \"" REST "\" series 0: unknown field \"sum\"");
	refused("STATS", SERIES("[]", "1"),
		"STATS: family \"" REST "\" series 0: field \"labels\": expected an object, got an array");
	refused("STATS", SERIES("{\"code\":200}", "1"),
		"STATS: family \"" REST "\" series 0: label \"code\": expected a string, got an integer");
	refused("STATS", SERIES("{\"__name__\":\"x\"}", "1"),
		"STATS: family \"" REST "\" series 0: \"__name__\" is not a label name");
	refused("STATS", SERIES("{\"a-b\":\"x\"}", "1"),
		"STATS: family \"" REST "\" series 0: \"a-b\" is not a label name");
	refused("STATS", SERIES("{\"code\":\"a\\u0000b\"}", "1"),
		"STATS: family \"" REST "\" series 0: label \"code\": string contains a NUL character");
	refused("STATS", SERIES("{}", "-1"),
		"STATS: family \"" REST "\" series 0: field \"value\": expected an integer >= 0, got -1");
	refused("STATS", SERIES("{}", "1.5"),
		"STATS: family \"" REST "\" series 0: field \"value\": expected an integer, got a non-integer number");
	refused("STATS", SERIES("{}", "\"1\""),
		"STATS: family \"" REST "\" series 0: field \"value\": expected an integer, got a string");
	refused("STATS",
		"{\"families\":{\"" REST "\":[{\"labels\":{\"code\":\"200\"},\"value\":1},"
		"{\"labels\":{\"code\":\"200\"},\"value\":2}]}}",
		"STATS: family \"" REST "\" series 1: the same labels as series 0");
	refused("STATS",
		SERIES("{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\","
		       "\"h\":\"8\",\"i\":\"9\"}",
		       "1"),
		"STATS: family \"" REST "\" series 0: 9 labels, at most 8 allowed");
}

Test(proto, stats_limits_series_and_families)
{
	/* One series too many, and one family too many. */
	char *big = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&big, &size);
	fprintf(f, "{\"families\":{\"x\":[");
	for (int i = 0; i <= PROTO_STATS_MAX_SERIES; i++)
		fprintf(f, "%s{\"labels\":{\"i\":\"%d\"},\"value\":1}", i ? "," : "", i);
	fprintf(f, "]}}");
	fclose(f);
	char want[160];
	snprintf(want, sizeof(want), "STATS: family \"x\": %d series, at most %d allowed", PROTO_STATS_MAX_SERIES + 1,
		 PROTO_STATS_MAX_SERIES);
	refused("STATS", big, want);
	free(big);
	f = open_memstream(&big, &size);
	fprintf(f, "{\"families\":{");
	for (int i = 0; i <= PROTO_STATS_MAX_FAMILIES; i++)
		fprintf(f, "%s\"f%d\":[]", i ? "," : "", i);
	fprintf(f, "}}");
	fclose(f);
	snprintf(want, sizeof(want), "STATS: field \"families\": %d families, at most %d allowed",
		 PROTO_STATS_MAX_FAMILIES + 1, PROTO_STATS_MAX_FAMILIES);
	refused("STATS", big, want);
	free(big);
}

Test(proto, stats_encoder_checks)
{
	encode_refused(&(struct proto_msg){ .type = PROTO_STATS },
		       "STATS: field \"families\": expected an object, got nothing");
	struct json_object *bad = json("{\"" REST "\":[{\"labels\":{\"code\":\"200\"},\"value\":-3}]}");
	encode_refused(&(struct proto_msg){ .type = PROTO_STATS, .stats = { bad } },
		       "STATS: family \"" REST "\" series 0: field \"value\": expected an integer >= 0, got -3");
	json_object_put(bad);
}

/* RESULT's optional "related": the customize hook's rules, for the
 * watcher's related informers (watcher/relwatch.h). */
Test(proto, result_carries_related_rules)
{
	struct json_object *rules = json("[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
					 "{\"matchLabels\":{\"team\":\"a\"}}},{\"apiVersion\":\"v1\",\"resource\":"
					 "\"configmaps\",\"namespace\":\"global\",\"names\":[\"settings\"]}]");
	struct proto_msg in = { .type = PROTO_RESULT,
				.result = { .job = 3, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .related = rules } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_not_null(out.result.related);
	cr_assert(json_object_equal(out.result.related, rules));
	proto_msg_clear(&out);

	struct proto_frame f;
	struct json_object *none = json("[]");
	struct proto_result r = { .job = 1, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .related = none };
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	cr_assert_str_eq(f.payload,
			 "{\"job\":1,\"attempt\":1,\"outcome\":\"ok\",\"requeueAfterMs\":0,\"message\":\"\","
			 "\"related\":[]}",
			 "an empty list says: no rules (any old ones are dropped)");
	proto_frame_clear(&f);
	r.related = NULL;
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	cr_assert_null(strstr(f.payload, "related"), "absent: no customize hook ran, the rules stay as they are");
	struct proto_msg back;
	cr_assert_eq(proto_decode(f.type, strlen(f.type), f.payload, f.len, &back, NULL), 0);
	cr_assert_null(back.result.related);
	proto_msg_clear(&back);
	proto_frame_clear(&f);

	struct json_object *bad = json("[{\"apiVersion\":\"v1\"}, 3]");
	r.related = bad;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_result(&r, &f, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "RESULT: field \"related\": entry 1: expected an object, got an integer");
	json_object_put(bad);
	json_object_put(none);
	json_object_put(rules);
}

Test(proto, result_related_malformed)
{
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"related\":{}}",
		"RESULT: field \"related\": expected an array, got an object");
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"related\":null}",
		"RESULT: field \"related\": expected an array, got null");
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"related\":[{},\"x\"]}",
		"RESULT: field \"related\": entry 1: expected an object, got a string");
}

/* RESULT's optional "writes": what the job wrote, with the resourceVersion
 * of each write, so that the watcher drops the watch events that echo
 * them (watcher/echo.h). */
#define ONE_WRITE "{\"kind\":\"ConfigMap.v1\",\"namespace\":\"default\",\"name\":\"web\",\"resourceVersion\":\"4711\"}"

Test(proto, result_carries_writes)
{
	struct json_object *writes = json("[" ONE_WRITE ",{\"kind\":\"Website.example.com/v1\",\"namespace\":\"\","
					  "\"name\":\"w\",\"resourceVersion\":\"x/9\"}]");
	struct proto_msg in = { .type = PROTO_RESULT,
				.result = { .job = 3, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .writes = writes } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_not_null(out.result.writes);
	cr_assert(json_object_equal(out.result.writes, writes), "the entries come back as they went");
	cr_assert_null(out.result.related, "writes alone leave related absent");
	proto_msg_clear(&out);

	struct proto_frame f;
	struct proto_result r = { .job = 1, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .writes = NULL };
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	cr_assert_null(strstr(f.payload, "writes"), "NULL: the field is not sent");
	struct proto_msg back;
	cr_assert_eq(proto_decode(f.type, strlen(f.type), f.payload, f.len, &back, NULL), 0);
	cr_assert_null(back.result.writes, "absent: no writes to drop events for");
	proto_msg_clear(&back);
	proto_frame_clear(&f);

	struct json_object *bad = json("[" ONE_WRITE ",{\"kind\":\"ConfigMap.v1\",\"namespace\":\"d\",\"name\":\"\","
				       "\"resourceVersion\":\"1\"}]");
	r.writes = bad;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_result(&r, &f, &err), -EINVAL, "the encoder refuses what the decoder would");
	cr_assert_str_eq(err.msg, "RESULT: field \"writes\": entry 1: field \"name\": expected a non-empty string");
	json_object_put(bad);
	json_object_put(writes);
}

Test(proto, result_writes_malformed)
{
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":{}}",
		"RESULT: field \"writes\": expected an array, got an object");
	refused("RESULT", "{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[" ONE_WRITE ",3]}",
		"RESULT: field \"writes\": entry 1: expected an object, got an integer");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap.v1\",\"namespace\":"
		"\"d\",\"name\":\"n\"}]}",
		"RESULT: field \"writes\": entry 0: missing field \"resourceVersion\"");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap.v1\",\"namespace\":"
		"\"d\",\"name\":\"n\",\"resourceVersion\":42}]}",
		"RESULT: field \"writes\": entry 0: field \"resourceVersion\": expected a string, got an integer");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap.v1\",\"namespace\":"
		"\"d\",\"name\":\"n\",\"resourceVersion\":\"\"}]}",
		"RESULT: field \"writes\": entry 0: field \"resourceVersion\": expected a non-empty string");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap\",\"namespace\":"
		"\"d\",\"name\":\"n\",\"resourceVersion\":\"1\"}]}",
		"RESULT: field \"writes\": entry 0: field \"kind\": \"ConfigMap\" is not \"Kind.apiVersion\" "
		"(\"ConfigMap.v1\")");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap.v1\",\"namespace\":"
		"\"d\",\"name\":\"n\",\"resourceVersion\":\"1\",\"uid\":\"u\"}]}",
		"RESULT: field \"writes\": entry 0: unknown field \"uid\"");
	refused("RESULT",
		"{\"job\":1,\"attempt\":1," RES_TAIL ",\"writes\":[{\"kind\":\"ConfigMap.v1\",\"namespace\":"
		"\"d\",\"name\":\"n\\u0000x\",\"resourceVersion\":\"1\"}]}",
		"RESULT: field \"writes\": entry 0: field \"name\": string contains a NUL character");
}

/* The cap: PROTO_WRITES_MAX entries decode, one more is refused; the
 * worker's proto_writes_note stops at the cap instead. */
Test(proto, result_writes_capped)
{
	struct json_object *writes = json_object_new_array();
	struct json_object *obj = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\","
				       "\"namespace\":\"default\",\"resourceVersion\":\"4711\",\"uid\":\"u\"}}");
	for (int i = 0; i < PROTO_WRITES_MAX + 5; i++)
		cr_assert_eq(proto_writes_note(writes, obj), 0);
	cr_assert_eq(json_object_array_length(writes), PROTO_WRITES_MAX, "the note stops at the cap");
	assert_json_eq(json_object_array_get_idx(writes, 0), ONE_WRITE);
	struct proto_msg in = { .type = PROTO_RESULT,
				.result = { .job = 3, .attempt = 1, .outcome = PROTO_OUTCOME_OK, .writes = writes } };
	struct proto_msg out;
	round_trip(&in, &out);
	cr_assert_eq(json_object_array_length(out.result.writes), PROTO_WRITES_MAX);
	proto_msg_clear(&out);
	json_object_array_add(writes, json(ONE_WRITE));
	struct proto_frame f;
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_result(&in.result, &f, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "RESULT: field \"writes\": 4097 entries, at most 4096 allowed");
	json_object_put(writes);
	json_object_put(obj);
}

/* proto_writes_note takes what it needs from the API server's answer and
 * skips an answer that lacks it (a Status instead of the object, say). */
Test(proto, writes_note)
{
	struct json_object *writes = json_object_new_array();
	struct json_object *cluster = json("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
					   "\"metadata\":{\"name\":\"r\",\"resourceVersion\":\"12\"}}");
	struct json_object *status = json("{\"apiVersion\":\"v1\",\"kind\":\"Status\",\"metadata\":{},\"status\":"
					  "\"Success\"}");
	cr_assert_eq(proto_writes_note(writes, cluster), 0);
	cr_assert_eq(proto_writes_note(writes, status), 0);
	cr_assert_eq(proto_writes_note(writes, NULL), 0);
	cr_assert_eq(proto_writes_note(NULL, cluster), 0);
	cr_assert_eq(json_object_array_length(writes), 1, "only the answer with a name and resourceVersion");
	assert_json_eq(json_object_array_get_idx(writes, 0),
		       "{\"kind\":\"ClusterRole.rbac.authorization.k8s.io/v1\","
		       "\"namespace\":\"\",\"name\":\"r\",\"resourceVersion\":\"12\"}");
	json_object_put(writes);
	json_object_put(cluster);
	json_object_put(status);
}

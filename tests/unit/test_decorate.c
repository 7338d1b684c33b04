/* Unit tests for the DecoratorController side of the worker: the decorator
 * hook's request and answer (worker/hook.h's hook_decorator_*) and the
 * pure parts of worker/decorate (the metadata apply body, the removal of
 * keys the hook sets to null). The API side is
 * tests/integration/test_decorate_live.c. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "decorate.h"
#include "err.h"
#include "hook.h"

#define NAME   "/hooks/decorate"
#define PREFIX "sync hook \"" NAME "\": "

static const struct hook_child_kind KINDS[] = { { "v1", "Service" } };
static char *const ARGV[] = { NAME, NULL };
static const struct hook_def DEF = { .type = HOOK_EXEC, .argv = ARGV };
static const struct hook_def STRICT_DEF = { .type = HOOK_EXEC, .argv = ARGV, .unmarshal = HOOK_STRICT };

static struct json_object *json(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

static const char *js(struct json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN) : "(null)";
}

static void assert_json(struct json_object *got, const char *want)
{
	struct json_object *w = json(want);
	cr_assert(json_object_equal(got, w), "got %s, want %s", js(got), js(w));
	json_object_put(w);
}

/* ---- the request ---- */

Test(decorator_request, object_and_attachments_instead_of_parent_and_children)
{
	struct json_object *ctl = json("{\"kind\":\"DecoratorController\"}");
	struct json_object *obj = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
				       "\"metadata\":{\"name\":\"cm\",\"namespace\":\"ns\"}}");
	struct json_object *observed = json("{\"Service.v1\":{\"svc\":{\"metadata\":{\"name\":\"svc\"}}}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_decorator_request_new(ctl, obj, KINDS, 1, observed, true, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	assert_json(req,
		    "{\"controller\":{\"kind\":\"DecoratorController\"},"
		    "\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
		    "\"namespace\":\"ns\"}},"
		    "\"attachments\":{\"Service.v1\":{\"svc\":{\"metadata\":{\"name\":\"svc\"}}}},"
		    "\"related\":{},\"finalizing\":true}");
	json_object_put(req);
	req = NULL;
	hook_decorator_request_new(ctl, obj, KINDS, 1, NULL, false, HOOK_V2, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	assert_json(req,
		    "{\"controller\":{\"kind\":\"DecoratorController\"},"
		    "\"object\":{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
		    "\"namespace\":\"ns\"}},"
		    "\"attachments\":{\"Service.v1\":{}},\"related\":{},\"finalizing\":false}");
	json_object_put(req);
	json_object_put(ctl);
	json_object_put(obj);
	json_object_put(observed);
}

Test(decorator_request, v2_keys_attachments_by_namespace_and_name)
{
	struct json_object *obj = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
				       "\"metadata\":{\"name\":\"cm\",\"namespace\":\"ns\"}}");
	struct json_object *observed = json("{\"Service.v1\":{\"svc\":{\"metadata\":{\"name\":\"svc\","
					    "\"namespace\":\"ns\"}}}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_decorator_request_new(NULL, obj, KINDS, 1, observed, false, HOOK_V2, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	struct json_object *a = NULL, *m = NULL;
	cr_assert(json_object_object_get_ex(req, "attachments", &a));
	cr_assert(json_object_object_get_ex(a, "Service.v1", &m));
	cr_assert(json_object_object_get_ex(m, "ns/svc", NULL), "v2: %s", js(m));
	cr_assert_not(json_object_object_get_ex(req, "parent", NULL));
	cr_assert_not(json_object_object_get_ex(req, "children", NULL));
	json_object_put(req);
	json_object_put(obj);
	json_object_put(observed);
}

/* ---- the answer ---- */

static void parse_ok(const struct hook_def *def, bool finalizing, const char *body, struct hook_decorator_result *r)
{
	struct cx_err err = { 0 };
	int rc = hook_decorator_response_parse(def, finalizing, body, strlen(body), KINDS, 1, "ns", r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
}

static void parse_fail(const struct hook_def *def, bool finalizing, const char *body, const char *want)
{
	struct hook_decorator_result r = { 0 };
	struct cx_err err = { 0 };
	int rc = hook_decorator_response_parse(def, finalizing, body, strlen(body), KINDS, 1, "ns", &r, &err);
	cr_assert_eq(rc, -EPROTO, "%s: rc %d (%s)", body, rc, err.msg);
	cr_assert_str_eq(err.msg, want);
	cr_assert_null(r.labels);
	cr_assert_null(r.attachments);
	hook_decorator_result_clear(&r);
}

Test(decorator_response, full_answer)
{
	struct hook_decorator_result r = { 0 };
	parse_ok(&DEF, true,
		 "{\"labels\":{\"a\":\"1\",\"gone\":null},\"annotations\":{\"n\":\"x\"},\"status\":{\"ok\":true},"
		 "\"attachments\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"}}],"
		 "\"resyncAfterSeconds\":1.5,\"finalized\":true}",
		 &r);
	assert_json(r.labels, "{\"a\":\"1\",\"gone\":null}");
	assert_json(r.annotations, "{\"n\":\"x\"}");
	assert_json(r.status, "{\"ok\":true}");
	cr_assert_eq(json_object_array_length(r.attachments), 1);
	cr_assert(r.attachments_given);
	cr_assert_eq(r.resync_after_ms, 1500);
	cr_assert(r.finalized);
	hook_decorator_result_clear(&r);
	cr_assert_null(r.labels);
}

Test(decorator_response, absent_and_null_fields)
{
	struct hook_decorator_result r = { 0 };
	parse_ok(&DEF, false, "{}", &r);
	cr_assert_null(r.labels);
	cr_assert_null(r.annotations);
	cr_assert_null(r.status, "no status: leave it alone");
	cr_assert_not_null(r.attachments);
	cr_assert_eq(json_object_array_length(r.attachments), 0, "no attachments: none (metacontroller prunes)");
	cr_assert_not(r.attachments_given);
	hook_decorator_result_clear(&r);
	parse_ok(&DEF, false, "{\"labels\":null,\"annotations\":null,\"status\":null,\"attachments\":null}", &r);
	cr_assert_null(r.labels);
	cr_assert_null(r.status);
	cr_assert(r.attachments_given);
	cr_assert_eq(json_object_array_length(r.attachments), 0);
	hook_decorator_result_clear(&r);
	parse_ok(&DEF, false, "{\"finalized\":true,\"children\":[]}", &r);
	cr_assert_not(r.finalized, "finalized is read from finalize answers only");
	hook_decorator_result_clear(&r);
}

Test(decorator_response, bad_labels_and_annotations)
{
	parse_fail(&DEF, false, "{\"labels\":[]}", PREFIX "labels: expected an object of strings, got a list");
	parse_fail(&DEF, false, "{\"labels\":{\"a\":1}}", PREFIX "labels.a: expected a string or null, got a number");
	parse_fail(&DEF, false, "{\"annotations\":{\"a\":\"x\",\"b\":{}}}",
		   PREFIX "annotations.b: expected a string or null, got an object");
}

Test(decorator_response, bad_attachments)
{
	parse_fail(&DEF, false, "{\"attachments\":{}}", PREFIX "attachments: expected a list, got an object");
	parse_fail(&DEF, false, "{\"attachments\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\"}]}",
		   PREFIX "attachments[0].metadata.name: missing");
	parse_fail(&DEF, false,
		   "{\"attachments\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"x\"}}]}",
		   PREFIX "attachments[0]: Secret.v1 is not an attachment kind of this controller (it declares "
			  "Service.v1)");
	parse_fail(&DEF, false,
		   "{\"attachments\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"x\"}},"
		   "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"x\"}}]}",
		   PREFIX "attachments[1]: Service.v1 \"x\" is returned twice (also attachments[0])");
	parse_fail(&DEF, false,
		   "{\"attachments\":[{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"x\","
		   "\"namespace\":\"other\"}}]}",
		   PREFIX "attachments[0].metadata.namespace: \"other\" is not the object's namespace \"ns\" "
			  "(attachments live in their object's namespace)");
}

Test(decorator_response, other_checks)
{
	parse_fail(&DEF, false, "[]", PREFIX "the answer is a list, expected a JSON object");
	parse_fail(&DEF, false, "{\"status\":1}", PREFIX "status: expected an object, got a number");
	parse_fail(&DEF, false, "{\"resyncAfterSeconds\":-1}",
		   PREFIX "resyncAfterSeconds: expected a non-negative number of seconds, got -1");
	parse_fail(&DEF, true, "{\"finalized\":\"yes\"}",
		   "finalize hook \"" NAME "\": finalized: expected true or false, got a string");
}

Test(decorator_response, strict_mode)
{
	struct hook_decorator_result r = { 0 };
	parse_ok(&DEF, false, "{\"labels\":{},\"children\":[]}", &r);
	hook_decorator_result_clear(&r);
	parse_fail(&STRICT_DEF, false, "{\"labels\":{},\"children\":[]}",
		   PREFIX "children: unknown field (responseUnMarshallMode strict; expected labels, annotations, "
			  "status, attachments, resyncAfterSeconds, finalized)");
	parse_fail(&STRICT_DEF, false, "{\"labels\":{\"a\":\"1\",\"a\":\"2\"}}",
		   PREFIX "labels.a: repeated key (responseUnMarshallMode strict)");
	parse_ok(&STRICT_DEF, false, "{\"labels\":{\"a\":\"1\"},\"attachments\":[]}", &r);
	hook_decorator_result_clear(&r);
}

Test(decorator_run, an_exec_hook_answers)
{
	static char *const argv[] = { "/bin/sh", "-c", "cat >/dev/null; echo '{\"labels\":{\"a\":\"b\"}}'", NULL };
	const struct hook_def def = { .type = HOOK_EXEC, .argv = argv, .name = NAME };
	struct json_object *req = json("{\"object\":{}}");
	struct hook_decorator_result r = { 0 };
	struct cx_err err = { 0 };
	int rc = hook_decorator_run(&def, req, false, KINDS, 1, "ns", &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	assert_json(r.labels, "{\"a\":\"b\"}");
	hook_decorator_result_clear(&r);
	static char *const bad[] = { "/bin/sh", "-c", "cat >/dev/null; echo '{\"labels\":7}'", NULL };
	const struct hook_def bad_def = { .type = HOOK_EXEC, .argv = bad, .name = NAME };
	rc = hook_decorator_run(&bad_def, req, false, KINDS, 1, "ns", &r, &err);
	cr_assert_eq(rc, -EPROTO);
	cr_assert_str_eq(err.msg, PREFIX "labels: expected an object of strings, got a number");
	hook_decorator_result_clear(&r);
	json_object_put(req);
}

/* ---- decorate's pure parts ---- */

Test(decorate, the_apply_body_holds_only_the_hooks_keys)
{
	struct json_object *obj = json(
		"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"t\","
		"\"namespace\":\"ns\",\"uid\":\"u\",\"resourceVersion\":\"9\",\"labels\":{\"theirs\":\"x\"}},"
		"\"spec\":{\"a\":1}}");
	struct json_object *labels = json("{\"mine\":\"1\",\"gone\":null}"), *ann = json("{\"note\":\"n\"}");
	struct json_object *body = decorate_metadata_apply(obj, labels, ann);
	assert_json(body,
		    "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"t\","
		    "\"namespace\":\"ns\",\"labels\":{\"mine\":\"1\"},\"annotations\":{\"note\":\"n\"}}}");
	json_object_put(body);
	body = decorate_metadata_apply(obj, NULL, NULL);
	assert_json(body,
		    "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"t\","
		    "\"namespace\":\"ns\"}}");
	json_object_put(body);
	json_object_put(obj);
	json_object_put(labels);
	json_object_put(ann);
}

Test(decorate, null_removes_a_key_another_manager_set)
{
	struct json_object *obj = json("{\"metadata\":{\"name\":\"t\",\"labels\":{\"gone\":\"x\",\"keep\":\"y\"},"
				       "\"annotations\":{\"old\":\"z\"}}}");
	struct json_object *labels = json("{\"gone\":null,\"keep\":\"y\",\"never\":null}");
	struct json_object *ann = json("{\"old\":null}");
	struct json_object *patch = decorate_null_patch(obj, labels, ann);
	assert_json(patch, "{\"metadata\":{\"labels\":{\"gone\":null},\"annotations\":{\"old\":null}}}");
	json_object_put(patch);
	cr_assert_null(decorate_null_patch(obj, NULL, NULL), "nothing to remove: no patch");
	struct json_object *none = json("{\"absent\":null}");
	cr_assert_null(decorate_null_patch(obj, none, none));
	json_object_put(none);
	json_object_put(obj);
	json_object_put(labels);
	json_object_put(ann);
}

Test(decorate, whether_the_manager_owns_metadata)
{
	struct json_object *obj = json(
		"{\"metadata\":{\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\"},"
		"{\"manager\":\"coxswain/d\",\"operation\":\"Apply\",\"fieldsV1\":{}}]}}");
	cr_assert(decorate_manages(obj, "coxswain/d"));
	cr_assert_not(decorate_manages(obj, "coxswain/e"));
	json_object_put(obj);
	cr_assert_not(decorate_manages(NULL, "coxswain/d"));
}

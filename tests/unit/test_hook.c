/* Unit tests for worker/hook: building the request, checking the answer
 * (every rule, with crafted answers), exec hooks (the scripts in
 * tests/unit/data/hook) and webhooks (tests/unit/data/hook/server.py,
 * started per test on a loopback port). */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "childkey.h"
#include "clock.h"
#include "err.h"
#include "hook.h"
#include "mcdef.h"

#define HOOKS     TEST_DATA_DIR "/hook/"
#define SYNC_NAME "/hooks/website-sync"
#define PREFIX    "sync hook \"" SYNC_NAME "\": "

static const struct hook_child_kind KINDS[] = {
	{ "v1", "ConfigMap" },
	{ "apps/v1", "Deployment" },
};
#define N_KINDS (sizeof(KINDS) / sizeof(KINDS[0]))

static char *const SYNC_ARGV[] = { SYNC_NAME, NULL };
static const struct hook_def SYNC_DEF = { .type = HOOK_EXEC, .argv = SYNC_ARGV };

static struct json_object *parse(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

static const char *str_at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

static struct json_object *at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return v;
}

/* ---- the request ---- */

Test(hook_request, every_declared_kind_is_present)
{
	static const struct hook_child_kind kinds[] = {
		{ "v1", "ConfigMap" },
		{ "apps/v1", "Deployment" },
		{ "v1", "Secret" },
	};
	struct json_object *controller = parse("{\"name\": \"websites\"}");
	struct json_object *parent = parse("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Website\", "
					   "\"metadata\": {\"name\": \"web\", \"namespace\": \"default\"}}");
	struct json_object *observed = parse("{\"ConfigMap.v1\": {\"web-config\": {\"kind\": \"ConfigMap\"}}, "
					     "\"Other.v9\": {\"x\": {}}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, kinds, 3, observed, false, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);

	cr_assert_eq(at(req, "controller"), controller, "shared, not copied");
	cr_assert_eq(at(req, "parent"), parent);
	cr_assert(json_object_is_type(at(req, "finalizing"), json_type_boolean));
	cr_assert_not(json_object_get_boolean(at(req, "finalizing")));
	struct json_object *children = at(req, "children");
	cr_assert_eq(json_object_object_length(children), 3, "%s", json_object_to_json_string(children));
	cr_assert_eq(at(children, "ConfigMap.v1"), at(observed, "ConfigMap.v1"));
	cr_assert(json_object_is_type(at(children, "Deployment.apps/v1"), json_type_object));
	cr_assert_eq(json_object_object_length(at(children, "Deployment.apps/v1")), 0);
	cr_assert_eq(json_object_object_length(at(children, "Secret.v1")), 0);
	cr_assert_not(json_object_object_get_ex(children, "Other.v9", NULL), "undeclared kinds are left out");

	/* The request holds its own references. */
	json_object_put(controller);
	json_object_put(parent);
	json_object_put(observed);
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	cr_assert_str_eq(s,
			 "{\"controller\":{\"name\":\"websites\"},\"parent\":{\"apiVersion\":\"example.com/v1\","
			 "\"kind\":\"Website\",\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"}},"
			 "\"children\":{\"ConfigMap.v1\":{\"web-config\":{\"kind\":\"ConfigMap\"}},"
			 "\"Deployment.apps/v1\":{},\"Secret.v1\":{}},\"related\":{},\"finalizing\":false}");
	json_object_put(req);
}

/* The watcher keeps coxswain's own managedFields entry on cached children
 * (worker/childdiff.h); the hook sees none, as before, in v1 and v2, and
 * the job's children keep theirs. */
Test(hook_request, children_without_managed_fields)
{
	struct json_object *controller = parse("{}");
	struct json_object *parent = parse("{\"metadata\": {\"name\": \"p\", \"namespace\": \"ns\"}}");
	struct json_object *observed = parse(
		"{\"ConfigMap.v1\": {\"a\": {\"kind\": \"ConfigMap\", \"metadata\": "
		"{\"name\": \"a\", \"namespace\": \"ns\", \"managedFields\": [{\"manager\": "
		"\"coxswain/x\"}]}, \"data\": {\"k\": \"v\"}}, \"b\": {\"metadata\": {\"name\": "
		"\"b\"}}}}");
	struct cx_err err = { 0 };
	for (int v = 0; v < 2; v++) {
		struct json_object *req = NULL;
		hook_request_new(controller, parent, KINDS, N_KINDS, observed, false, v ? HOOK_V2 : HOOK_V1, &req,
				 &err);
		cr_assert_not_null(req, "%s", err.msg);
		const char *s = json_object_to_json_string_ext(at(req, "children"), JSON_C_TO_STRING_PLAIN);
		cr_assert_null(strstr(s, "managedFields"), "%s", s);
		cr_assert(strstr(s, "\"data\":{\"k\":\"v\"}"), "%s", s);
		json_object_put(req);
	}
	const char *o = json_object_to_json_string_ext(observed, JSON_C_TO_STRING_PLAIN);
	cr_assert(strstr(o, "managedFields"), "the job's children keep theirs: %s", o);
	json_object_put(observed);
	json_object_put(controller);
	json_object_put(parent);
}

Test(hook_request, no_observed_children_and_finalizing)
{
	struct json_object *controller = parse("{}"), *parent = parse("{\"metadata\": {\"name\": \"p\"}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, NULL, true, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	cr_assert(json_object_get_boolean(at(req, "finalizing")));
	struct json_object *children = at(req, "children");
	cr_assert_eq(json_object_object_length(children), 2);
	cr_assert_eq(json_object_object_length(at(children, "ConfigMap.v1")), 0);
	cr_assert_eq(json_object_object_length(at(children, "Deployment.apps/v1")), 0);
	json_object_put(req);

	/* A null entry counts as none; no kinds gives an empty map. */
	struct json_object *observed = parse("{\"ConfigMap.v1\": null}");
	req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, observed, false, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	cr_assert_eq(json_object_object_length(at(at(req, "children"), "ConfigMap.v1")), 0);
	json_object_put(req);
	req = NULL;
	hook_request_new(controller, parent, NULL, 0, observed, false, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	cr_assert_eq(json_object_object_length(at(req, "children")), 0);
	json_object_put(req);
	json_object_put(observed);
	json_object_put(controller);
	json_object_put(parent);
}

Test(hook_request, observed_entry_not_an_object)
{
	struct json_object *controller = parse("{}"), *parent = parse("{}");
	struct json_object *observed = parse("{\"Deployment.apps/v1\": [1]}");
	struct cx_err err = { 0 };
	struct json_object *none = NULL;
	cr_assert_neq(hook_request_new(controller, parent, KINDS, N_KINDS, observed, false, HOOK_V1, &none, &err), 0);
	cr_assert_null(none);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "observed children[\"Deployment.apps/v1\"] is a list"), "%s", err.msg);
	json_object_put(observed);
	json_object_put(controller);
	json_object_put(parent);
}

/* Every request carries related (metacontroller's hooks read
 * request['related'] unconditionally); without a customize hook it is {}. */
Test(hook_request, related_is_always_there_and_empty)
{
	struct json_object *controller = parse("{}"), *parent = parse("{\"metadata\": {\"name\": \"p\"}}");
	struct cx_err err = { 0 };
	for (int v = HOOK_V1; v <= HOOK_V2; v++) {
		struct json_object *req = NULL;
		hook_request_new(controller, parent, KINDS, N_KINDS, NULL, v == HOOK_V2, (enum hook_version)v, &req,
				 &err);
		cr_assert_not_null(req, "%s", err.msg);
		struct json_object *related = at(req, "related");
		cr_assert(json_object_is_type(related, json_type_object), "v%d: %s", v + 1,
			  json_object_to_json_string(req));
		cr_assert_eq(json_object_object_length(related), 0);
		json_object_put(req);
	}
	json_object_put(controller);
	json_object_put(parent);
}

/* The observed map as the watcher keys it (v1, relative names), and what
 * each version of hook sees. */
static struct json_object *request_children(const char *parent_json, const char *observed_json,
					    const struct hook_child_kind *kinds, size_t n, enum hook_version v)
{
	struct json_object *controller = parse("{}"), *parent = parse(parent_json), *observed = parse(observed_json);
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, kinds, n, observed, false, v, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	struct json_object *children = json_object_get(at(req, "children"));
	json_object_put(req);
	json_object_put(controller);
	json_object_put(parent);
	json_object_put(observed);
	return children;
}

static const struct hook_child_kind NS_AND_CLUSTER_KINDS[] = {
	{ "v1", "ConfigMap" },
	{ "v1", "Namespace" },
};

static void assert_keys(struct json_object *children, const char *kind_key, const char *want)
{
	char got[512] = "";
	json_object_object_foreach(at(children, kind_key), k, v)
	{
		(void)v;
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", *got ? " " : "", k);
	}
	cr_assert_str_eq(got, want, "%s in %s", kind_key, json_object_to_json_string(children));
}

#define CM_OBS(ns, name)                                                                                               \
	"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "                                                           \
	"\"metadata\": {\"name\": \"" name "\", \"namespace\": \"" ns "\"}}"

Test(hook_request, v1_and_v2_keys_under_a_namespaced_parent)
{
	const char *parent = "{\"metadata\": {\"name\": \"web\", \"namespace\": \"team-a\"}}";
	/* The watcher's cache: by name. An entry without metadata keeps the
	 * parent's namespace; one whose metadata has no namespace is
	 * cluster-scoped, keyed by its name (metacontroller's qualifiedName). */
	const char *observed = "{\"ConfigMap.v1\": {\"settings\": " CM_OBS(
		"team-a", "settings") ", "
				      "\"bare\": {}, \"cluster\": {\"metadata\": {\"name\": \"cluster\"}}}}";
	struct json_object *v1 = request_children(parent, observed, KINDS, N_KINDS, HOOK_V1);
	assert_keys(v1, "ConfigMap.v1", "settings bare cluster");
	assert_keys(v1, "Deployment.apps/v1", "");
	struct json_object *v2 = request_children(parent, observed, KINDS, N_KINDS, HOOK_V2);
	assert_keys(v2, "ConfigMap.v1", "team-a/settings team-a/bare cluster");
	assert_keys(v2, "Deployment.apps/v1", "");
	cr_assert_str_eq(
		json_object_get_string(at(at(at(at(v2, "ConfigMap.v1"), "team-a/settings"), "metadata"), "name")),
		"settings", "the object itself, unchanged");
	json_object_put(v1);
	json_object_put(v2);
}

Test(hook_request, v1_and_v2_keys_under_a_cluster_scoped_parent)
{
	const char *parent = "{\"metadata\": {\"name\": \"propagate\"}}";
	const char *observed = "{\"ConfigMap.v1\": {\"team-a/settings\": " CM_OBS(
		"team-a", "settings") ", "
				      "\"team-b/settings\": " CM_OBS(
					      "team-b", "settings") "}, "
								    "\"Namespace.v1\": {\"team-c\": {\"metadata\": "
								    "{\"name\": \"team-c\"}}}}";
	struct json_object *v1 = request_children(parent, observed, NS_AND_CLUSTER_KINDS, 2, HOOK_V1);
	assert_keys(v1, "ConfigMap.v1", "team-a/settings team-b/settings");
	assert_keys(v1, "Namespace.v1", "team-c");
	struct json_object *v2 = request_children(parent, observed, NS_AND_CLUSTER_KINDS, 2, HOOK_V2);
	assert_keys(v2, "ConfigMap.v1", "team-a/settings team-b/settings");
	assert_keys(v2, "Namespace.v1", "team-c");
	json_object_put(v1);
	json_object_put(v2);
}

/* ---- checking the answer ---- */

static struct hook_result parse_ok_as(const struct hook_def *def, bool finalizing, const char *body,
				      const char *parent_ns)
{
	struct hook_result r;
	memset(&r, 0xa5, sizeof(r)); /* parse must set every field it owns */
	r.stats = (struct hook_stats){ 0 };
	struct cx_err err = { 0 };
	int rc = hook_response_parse(def, finalizing, body, strlen(body), KINDS, N_KINDS, parent_ns, &r, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_not_null(r.children);
	cr_assert(json_object_is_type(r.children, json_type_array));
	return r;
}

static struct hook_result parse_ok(const char *body)
{
	return parse_ok_as(&SYNC_DEF, false, body, "default");
}

/* body must be refused with -EPROTO and a one-line message starting with
 * prefix and containing want. */
static void parse_fail_as(const struct hook_def *def, bool finalizing, const char *body, size_t len,
			  const char *parent_ns, const char *prefix, const char *want)
{
	struct hook_result r;
	memset(&r, 0xa5, sizeof(r));
	struct cx_err err = { 0 };
	int rc = hook_response_parse(def, finalizing, body, len, KINDS, N_KINDS, parent_ns, &r, &err);
	cr_assert_eq(rc, -EPROTO, "expected -EPROTO for %s, got %d: %s", body, rc, err.msg);
	cr_assert_eq(err.code, -EPROTO);
	cr_assert_null(r.status);
	cr_assert_null(r.children);
	cr_assert_eq(strncmp(err.msg, prefix, strlen(prefix)), 0, "names the hook: %s", err.msg);
	cr_assert(strstr(err.msg, want), "expected \"%s\" in: %s", want, err.msg);
	cr_assert_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
}

static void parse_fail(const char *body, const char *want)
{
	parse_fail_as(&SYNC_DEF, false, body, strlen(body), "default", PREFIX, want);
}

Test(hook_response, full_answer)
{
	struct hook_result r = parse_ok(
		"{\"status\": {\"replicas\": 2}, \"children\": ["
		"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"web\"}, \"data\": {}},"
		"{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", "
		" \"metadata\": {\"name\": \"web\", \"namespace\": \"default\"}}],"
		"\"resyncAfterSeconds\": 30, \"finalized\": \"ignored by sync hooks\"}");
	cr_assert_not_null(r.status);
	cr_assert_eq(json_object_get_int(at(r.status, "replicas")), 2);
	cr_assert_eq(json_object_array_length(r.children), 2);
	cr_assert_str_eq(str_at(json_object_array_get_idx(r.children, 1), "kind"), "Deployment");
	cr_assert_eq(r.resync_after_ms, 30000);
	cr_assert_not(r.finalized);
	hook_result_clear(&r);
	cr_assert_null(r.children);
	hook_result_clear(&r);
}

Test(hook_response, empty_children_means_nothing_to_do)
{
	struct hook_result r = parse_ok(" {\"children\": []} \n");
	cr_assert_null(r.status);
	cr_assert_eq(json_object_array_length(r.children), 0);
	cr_assert_eq(r.resync_after_ms, 0);
	cr_assert_not(r.finalized);
	hook_result_clear(&r);

	/* null is what a Go hook's nil slice marshals to: none, as metacontroller reads it. */
	r = parse_ok("{\"status\": null, \"children\": null, \"resyncAfterSeconds\": null}");
	cr_assert_null(r.status);
	cr_assert_eq(json_object_array_length(r.children), 0);
	hook_result_clear(&r);
}

/* An answer with no children key cannot be told from a broken or
 * decorator-shaped one; reading it as "no children" would prune them all. */
Test(hook_response, a_sync_answer_without_children_is_refused)
{
	parse_fail(" {} \n", "children: missing; a sync answer lists every child it wants, [] for none");
	parse_fail("{\"status\": {\"ready\": true}}", "children: missing");
	parse_fail("{\"labels\": {\"a\": \"b\"}, \"attachments\": []}", "children: missing");
}

Test(hook_response, invalid_json_names_the_byte)
{
	parse_fail("{\"status\": }", "invalid JSON at byte 11");
	parse_fail("{\"status\": {}", "invalid JSON at byte 13: unexpected end of data");
	parse_fail("{} {}", "invalid JSON at byte 3");
	parse_fail("{}x", "invalid JSON at byte 2");
	parse_fail("{\"children\": [1,]}", "invalid JSON at byte 16");
	parse_fail("{\"resyncAfterSeconds\": 01}", "invalid JSON at byte "); /* strict: no leading zeros */
	parse_fail("this is not json", "invalid JSON at byte 1");
	parse_fail_as(&SYNC_DEF, false, "{\"a\": \"\0\"}", 10, "default", PREFIX, "invalid JSON at byte 7: NUL byte");
	parse_fail("", "returned nothing (expected a JSON object)");
	parse_fail(" \n", "returned nothing");
}

Test(hook_response, deep_nesting_is_fine)
{
	char body[2048] = "{\"children\": [], \"status\": ";
	for (int i = 0; i < 100; i++)
		strcat(body, "{\"a\": ");
	strcat(body, "1");
	for (int i = 0; i < 100; i++)
		strcat(body, "}");
	strcat(body, "}");
	struct hook_result r = parse_ok(body);
	hook_result_clear(&r);
}

Test(hook_response, not_an_object)
{
	parse_fail("[1, 2]", "the answer is a list, expected a JSON object");
	parse_fail("\"ok\"", "the answer is a string, expected a JSON object");
	parse_fail("null", "the answer is null, expected a JSON object");
	parse_fail("42", "the answer is a number, expected a JSON object");
	parse_fail("true ", "the answer is a boolean, expected a JSON object");
}

Test(hook_response, status_not_an_object)
{
	parse_fail("{\"children\": [], \"status\": \"ready\"}", "status: expected an object, got a string");
	parse_fail("{\"children\": [], \"status\": [1]}", "status: expected an object, got a list");
}

Test(hook_response, children_not_a_list)
{
	parse_fail("{\"children\": {\"ConfigMap.v1\": {}}}", "children: expected a list, got an object");
	parse_fail("{\"children\": 3}", "children: expected a list, got a number");
}

#define CM(name) "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"" name "\"}}"

Test(hook_response, child_not_an_object)
{
	parse_fail("{\"children\": [" CM("a") ", 42]}", "children[1]: expected an object, got a number");
	parse_fail("{\"children\": [null]}", "children[0]: expected an object, got null");
}

Test(hook_response, child_without_api_version_or_kind)
{
	parse_fail("{\"children\": [{\"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}",
		   "children[0].apiVersion: missing");
	parse_fail("{\"children\": [{\"apiVersion\": \"\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}",
		   "children[0].apiVersion: missing");
	parse_fail("{\"children\": [" CM("a") ", {\"apiVersion\": \"v1\", \"metadata\": {\"name\": \"a\"}}]}",
		   "children[1].kind: missing");
	parse_fail("{\"children\": [{\"apiVersion\": 1, \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}]}",
		   "children[0].apiVersion: expected a string, got a number");
}

Test(hook_response, child_without_name)
{
	parse_fail("{\"children\": [" CM("a") ", " CM("b") ", {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\"}]}",
		   "children[2].metadata.name: missing");
	parse_fail("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {}}]}",
		   "children[0].metadata.name: missing");
	parse_fail(
		"{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"\"}}]}",
		"children[0].metadata.name: missing");
	parse_fail("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": 7}}]}",
		   "children[0].metadata.name: expected a string, got a number");
	parse_fail("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": \"a\"}]}",
		   "children[0].metadata: expected an object, got a string");
}

/* A name the API's URL paths cannot carry would become another path
 * ("d1-/deco" a GET of .../configmaps/d1-/deco): refused before any call. */
Test(hook_response, child_name_not_a_path_segment)
{
	parse_fail("{\"children\": [" CM("a") ", " CM("d1-/deco") "]}",
		   "children[1].metadata.name: \"d1-/deco\" cannot be a name (the API refuses '/', '%', \".\" and "
		   "\"..\")");
	parse_fail("{\"children\": [" CM("50%") "]}", "children[0].metadata.name: \"50%\" cannot be a name");
	parse_fail("{\"children\": [" CM("..") "]}", "children[0].metadata.name: \"..\" cannot be a name");
	parse_fail("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\", "
		   "\"namespace\": \"x/y\"}}]}",
		   "children[0].metadata.namespace: \"x/y\" is not a namespace name");
}

Test(hook_response, child_in_another_namespace)
{
	const char *other = "{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
			    "\"metadata\": {\"name\": \"a\", \"namespace\": \"kube-system\"}}]}";
	parse_fail(other, "children[0].metadata.namespace: \"kube-system\" is not the parent's namespace \"default\"");
	parse_fail("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
		   "\"metadata\": {\"name\": \"a\", \"namespace\": 5}}]}",
		   "children[0].metadata.namespace: expected a string, got a number");

	/* Its own namespace, none, or any under a cluster-scoped parent. */
	struct hook_result r = parse_ok("{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
					"\"metadata\": {\"name\": \"a\", \"namespace\": \"default\"}}, "
					"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
					"\"metadata\": {\"name\": \"b\", \"namespace\": \"\"}}, " CM("c") "]}");
	cr_assert_eq(json_object_array_length(r.children), 3);
	hook_result_clear(&r);
	r = parse_ok_as(&SYNC_DEF, false, other, NULL);
	hook_result_clear(&r);
	r = parse_ok_as(&SYNC_DEF, false, other, "");
	hook_result_clear(&r);
}

Test(hook_response, child_of_an_undeclared_kind)
{
	parse_fail("{\"children\": [" CM("a") ", {\"apiVersion\": \"v1\", \"kind\": \"Secret\", "
					      "\"metadata\": {\"name\": \"a\"}}]}",
		   "children[1]: Secret.v1 is not a child kind of this controller (it declares ConfigMap.v1, "
		   "Deployment.apps/v1)");
	parse_fail("{\"children\": [{\"apiVersion\": \"apps/v1beta1\", \"kind\": \"Deployment\", "
		   "\"metadata\": {\"name\": \"a\"}}]}",
		   "children[0]: Deployment.apps/v1beta1 is not a child kind");

	struct hook_result r;
	struct cx_err err = { 0 };
	const char *body = "{\"children\": [" CM("a") "]}";
	cr_assert_eq(hook_response_parse(&SYNC_DEF, false, body, strlen(body), NULL, 0, "default", &r, &err), -EPROTO);
	cr_assert(strstr(err.msg,
			 "children[0]: ConfigMap.v1 is not a child kind of this controller (it declares "
			 "none)"),
		  "%s", err.msg);
}

Test(hook_response, two_children_with_one_name)
{
	parse_fail("{\"children\": [" CM("x") ", " CM("web") ", " CM("y") ", " CM("web") ", " CM("web") "]}",
		   "children[3]: ConfigMap.v1 \"web\" is returned twice (also children[1])");
	parse_fail("{\"children\": [" CM("b") ", " CM("a") ", " CM("a") ", " CM("b") "]}",
		   "children[2]: ConfigMap.v1 \"a\" is returned twice (also children[1])");

	/* One name in two kinds is two objects. */
	struct hook_result r = parse_ok(
		"{\"children\": [" CM("web") ", {\"apiVersion\": \"apps/v1\", "
					     "\"kind\": \"Deployment\", \"metadata\": {\"name\": \"web\"}}]}");
	cr_assert_eq(json_object_array_length(r.children), 2);
	hook_result_clear(&r);

	/* Under a namespaced parent, "" and the parent's namespace are one place. */
	parse_fail("{\"children\": [" CM("a") ", {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
					      "\"metadata\": {\"name\": \"a\", \"namespace\": \"default\"}}]}",
		   "children[1]: ConfigMap.v1 \"a\" is returned twice (also children[0])");
}

#define CM_IN(ns, name)                                                                                                \
	"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"" name "\", "                    \
	"\"namespace\": \"" ns "\"}}"

/* A cluster-scoped parent's children may share a name in many namespaces:
 * they are told apart by namespace/name, the key the request uses too. */
Test(hook_response, a_cluster_scoped_parent_may_have_one_name_in_many_namespaces)
{
	const char *three = "{\"children\": [" CM_IN("team-a", "settings") ", " CM_IN("team-b", "settings") ", " CM_IN(
		"team-c", "settings") "]}";
	struct hook_result r = parse_ok_as(&SYNC_DEF, false, three, NULL);
	cr_assert_eq(json_object_array_length(r.children), 3);
	hook_result_clear(&r);
	r = parse_ok_as(&SYNC_DEF, false, three, "");
	hook_result_clear(&r);

	const char *twice = "{\"children\": [" CM_IN("team-a", "settings") ", " CM_IN("team-b", "settings") ", " CM_IN(
		"team-a", "settings") "]}";
	parse_fail_as(&SYNC_DEF, false, twice, strlen(twice), NULL, PREFIX,
		      "children[2]: ConfigMap.v1 \"team-a/settings\" is returned twice (also children[0])");
}

/* The keys a child is known by must fit (common/childkey.h): its
 * namespace/name under a cluster-scoped parent, and its Kind.apiVersion.
 * What acts on the answer (worker/apply.h) counts on it. */
Test(hook_response, names_at_the_length_limits)
{
	char ns[64], name[330], body[1024];
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 'x', 253);
	name[253] = '\0';
	snprintf(body, sizeof(body),
		 "{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
		 "\"metadata\": {\"name\": \"%s\", \"namespace\": \"%s\"}}]}",
		 name, ns);
	struct hook_result r = parse_ok_as(&SYNC_DEF, false, body, NULL);
	cr_assert_eq(json_object_array_length(r.children), 1, "the longest namespace and name fit");
	hook_result_clear(&r);

	memset(name, 'x', 320);
	name[320] = '\0';
	snprintf(body, sizeof(body),
		 "{\"children\": [" CM("a") ", {\"apiVersion\": \"v1\", \"kind\": "
					    "\"ConfigMap\", \"metadata\": {\"name\": \"%s\", \"namespace\": \"%s\"}}]}",
		 name, ns);
	parse_fail_as(&SYNC_DEF, false, body, strlen(body), NULL, PREFIX,
		      "children[1].metadata: namespace/name is too long");
}

Test(hook_response, a_kind_key_too_long_is_refused)
{
	char api[CHILDKEY_KIND_MAX], body[1024];
	memset(api, 'g', sizeof(api) - 4);
	memcpy(api + sizeof(api) - 4, "/v1", 4);
	const struct hook_child_kind kinds[] = { { "v1", "ConfigMap" }, { api, "Long" } };
	snprintf(body, sizeof(body),
		 "{\"children\": [" CM("a") ", {\"apiVersion\": \"%s\", \"kind\": "
					    "\"Long\", \"metadata\": {\"name\": \"b\"}}]}",
		 api);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(hook_response_parse(&SYNC_DEF, false, body, strlen(body), kinds, 2, "default", &r, &err), -EPROTO);
	cr_assert(strstr(err.msg, "children[1]: Long."), "%s", err.msg);
	cr_assert(strstr(err.msg, "kind and apiVersion are longer than 254 bytes"), "%s", err.msg);
}

Test(hook_response, many_children)
{
	size_t n = 3000, cap = n * 100 + 64, used = 0;
	char *body = malloc(cap);
	cr_assert_not_null(body);
	used += (size_t)snprintf(body + used, cap - used, "{\"children\": [");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(
			body + used, cap - used,
			"%s{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c%zu\"}}",
			i ? "," : "", (n - i) * 7 % n);
	snprintf(body + used, cap - used, "]}");
	struct hook_result r = parse_ok(body);
	cr_assert_eq(json_object_array_length(r.children), n);
	hook_result_clear(&r);
	free(body);
}

Test(hook_response, resync_after_seconds)
{
	struct hook_result r = parse_ok("{\"children\": [], \"resyncAfterSeconds\": 1.5}");
	cr_assert_eq(r.resync_after_ms, 1500);
	hook_result_clear(&r);
	r = parse_ok("{\"children\": [], \"resyncAfterSeconds\": 0}");
	cr_assert_eq(r.resync_after_ms, 0);
	hook_result_clear(&r);
	r = parse_ok("{\"children\": [], \"resyncAfterSeconds\": 1e300}");
	cr_assert_gt(r.resync_after_ms, 0, "huge is capped, not overflowed: %lld", r.resync_after_ms);
	hook_result_clear(&r);
	parse_fail("{\"children\": [], \"resyncAfterSeconds\": -1}",
		   "resyncAfterSeconds: expected a non-negative number of seconds, got -1");
	parse_fail("{\"children\": [], \"resyncAfterSeconds\": \"10\"}",
		   "resyncAfterSeconds: expected a non-negative number of seconds, "
		   "got a string");
	parse_fail("{\"children\": [], \"resyncAfterSeconds\": true}", "got a boolean");
}

/* A controller without child kinds has nothing to prune: an answer without
 * children (metacontroller's hooks of such controllers often leave it out)
 * is fine there. */
Test(hook_response, no_children_key_is_fine_without_child_kinds)
{
	struct hook_result r;
	struct cx_err err = { 0 };
	const char *body = "{\"status\": {\"ready\": true}}";
	cr_assert_eq(hook_response_parse(&SYNC_DEF, false, body, strlen(body), NULL, 0, "default", &r, &err), 0, "%s",
		     err.msg);
	cr_assert_not(r.children_given);
	cr_assert_eq(json_object_array_length(r.children), 0);
	cr_assert(json_object_get_boolean(at(r.status, "ready")));
	hook_result_clear(&r);
}

/* A finalize answer's children are applied like a sync answer's; one
 * without the key says nothing about them (children_given false). */
Test(hook_response, finalize_answer_children)
{
	static char *const argv[] = { "/hooks/website-finalize", NULL };
	struct hook_def fin = { .type = HOOK_EXEC, .argv = argv };
	struct hook_result r = parse_ok_as(&fin, true,
					   "{\"finalized\": false, \"status\": {\"phase\": \"draining\"}, "
					   "\"children\": [" CM("a") "]}",
					   "default");
	cr_assert(r.children_given);
	cr_assert_eq(json_object_array_length(r.children), 1);
	cr_assert_str_eq(str_at(r.status, "phase"), "draining");
	hook_result_clear(&r);
	r = parse_ok_as(&fin, true, "{\"finalized\": false}", "default");
	cr_assert_not(r.children_given);
	hook_result_clear(&r);
	r = parse_ok_as(&fin, true, "{\"finalized\": false, \"children\": null}", "default");
	cr_assert(r.children_given, "null is a Go hook's empty list: prune them all");
	hook_result_clear(&r);
	const char *prefix = "finalize hook \"/hooks/website-finalize\": ";
	const char *bad = "{\"finalized\": false, \"children\": [{\"kind\": \"ConfigMap\"}]}";
	parse_fail_as(&fin, true, bad, strlen(bad), "default", prefix, "children[0].apiVersion");
}

/* responseUnMarshallMode: loose (the default) ignores fields it does not
 * know, strict refuses them by name; a v2 hook is always strict. The
 * object-protecting checks hold in both. */
Test(hook_response, loose_and_strict)
{
	const char *body = "{\"children\": [], \"resyncAfterSecond\": 5, \"Children\": [], \"events\": []}";
	struct hook_result r = parse_ok(body);
	cr_assert_eq(r.resync_after_ms, 0, "a misspelt field is ignored in loose mode");
	hook_result_clear(&r);

	struct hook_def strict = SYNC_DEF;
	strict.unmarshal = HOOK_STRICT;
	parse_fail_as(&strict, false, body, strlen(body), "default", PREFIX,
		      "resyncAfterSecond: unknown field (responseUnMarshallMode strict; expected status, children, "
		      "resyncAfterSeconds, finalized)");
	struct hook_def v2 = SYNC_DEF;
	v2.version = HOOK_V2;
	parse_fail_as(&v2, false, body, strlen(body), "default", PREFIX, "resyncAfterSecond: unknown field");

	/* Strict also refuses a key given twice, at the top level or in status
	 * (loose keeps the last, as json-c and Go do); a child's own keys are
	 * the child's business. */
	const char *twice = "{\"children\": [], \"status\": {\"a\": {\"b\": 1, \"b\": 2}}}";
	r = parse_ok(twice);
	cr_assert_eq(json_object_get_int(at(at(r.status, "a"), "b")), 2, "loose: the last one");
	hook_result_clear(&r);
	parse_fail_as(&strict, false, twice, strlen(twice), "default", PREFIX,
		      "status.a.b: repeated key (responseUnMarshallMode strict)");
	const char *top = "{\"children\": [], \"children\": []}";
	parse_fail_as(&v2, false, top, strlen(top), "default", PREFIX, "children: repeated key");
	r = parse_ok_as(&strict, false,
			"{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", "
			"\"metadata\": {\"name\": \"a\"}, \"data\": {\"k\": \"1\", \"k\": \"2\"}}]}",
			"default");
	hook_result_clear(&r);

	/* Every known field is fine in strict mode, finalized too. */
	r = parse_ok_as(&strict, false,
			"{\"status\": {\"x\": {\"anything\": 1}}, \"children\": [" CM(
				"a") "], "
				     "\"resyncAfterSeconds\": 1, \"finalized\": false}",
			"default");
	hook_result_clear(&r);

	/* Loose does not loosen what protects objects. */
	const char *no_children = "{\"Children\": [" CM("a") "]}";
	parse_fail(no_children, "children: missing");
	const char *bad_child = "{\"children\": [{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\"}], \"extra\": 1}";
	parse_fail(bad_child, "children[0].metadata.name: missing");
	const char *bad_status = "{\"children\": [], \"status\": \"ok\", \"extra\": 1}";
	parse_fail(bad_status, "status: expected an object, got a string");
}

Test(hook_response, finalized)
{
	static char *const argv[] = { "/hooks/website-finalize", NULL };
	struct hook_def fin = { .type = HOOK_EXEC, .argv = argv };
	const char *prefix = "finalize hook \"/hooks/website-finalize\": ";
	struct hook_result r = parse_ok_as(&fin, true, "{\"finalized\": true}", "default");
	cr_assert(r.finalized);
	hook_result_clear(&r);
	r = parse_ok_as(&fin, true, "{\"finalized\": false}", "default");
	cr_assert_not(r.finalized);
	hook_result_clear(&r);
	r = parse_ok_as(&fin, true, "{}", "default");
	cr_assert_not(r.finalized, "absent is false");
	hook_result_clear(&r);
	const char *bad = "{\"finalized\": \"yes\"}";
	parse_fail_as(&fin, true, bad, strlen(bad), "default", prefix,
		      "finalized: expected true or false, got a string");
	bad = "{\"finalized\": 1}";
	parse_fail_as(&fin, true, bad, strlen(bad), "default", prefix,
		      "finalized: expected true or false, got a number");
}

Test(hook_response, webhook_name_hides_credentials)
{
	struct hook_def def = { .type = HOOK_WEBHOOK, .url = "http://hook:s3cr3t@127.0.0.1:8080/sync?token=t0k3n#x" };
	parse_fail_as(&def, false, "[]", 2, "default", "sync hook \"http://127.0.0.1:8080/sync\": ", "a list");
	struct hook_def named = { .type = HOOK_WEBHOOK, .url = "http://127.0.0.1/", .name = "websites" };
	parse_fail_as(&named, false, "[]", 2, "default", "sync hook \"websites\": ", "a list");
}

/* ---- exec hooks ---- */

static struct json_object *website_request(bool finalizing)
{
	struct json_object *controller = parse("{\"name\": \"websites\", \"parent\": {\"apiVersion\": "
					       "\"example.com/v1\", \"kind\": \"Website\"}}");
	struct json_object *parent = parse("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Website\", "
					   "\"metadata\": {\"name\": \"web\", \"namespace\": \"default\"}, "
					   "\"spec\": {\"greeting\": \"héllo \\\"world\\\"\"}}");
	struct json_object *observed = parse("{\"ConfigMap.v1\": {\"web-config\": {}, \"old\": {}}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, observed, finalizing, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	json_object_put(controller);
	json_object_put(parent);
	json_object_put(observed);
	return req;
}

static int run(const struct hook_def *def, struct json_object *req, bool finalizing, struct hook_result *r,
	       struct cx_err *err)
{
	int rc = hook_run(def, req, finalizing, KINDS, N_KINDS, "default", r, err);
	cr_assert_eq(rc, rc ? err->code : 0, "%d vs %d: %s", rc, err->code, err->msg);
	if (rc) {
		cr_assert_null(r->status);
		cr_assert_null(r->children);
		cr_assert_null(strchr(err->msg, '\n'), "one line: %s", err->msg);
	}
	return rc;
}

/* Runs script (in tests/unit/data/hook) with the website request; it must
 * fail with code. Returns the message. */
static struct cx_err exec_fail(const char *script, int timeout_ms, int code)
{
	char path[512];
	snprintf(path, sizeof(path), HOOKS "%s", script);
	char *argv[] = { path, NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = argv, .timeout_ms = timeout_ms };
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	int rc = run(&def, req, false, &r, &err);
	cr_assert_eq(rc, code, "expected %d, got %d: %s", code, rc, err.msg);
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "sync hook \"%s\": ", path);
	cr_assert_eq(strncmp(err.msg, prefix, strlen(prefix)), 0, "names the hook: %s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	return err;
}

static void check_website_answer(const struct hook_result *r, bool finalizing)
{
	cr_assert_not_null(r->status);
	cr_assert_str_eq(str_at(r->status, "controller"), "websites");
	cr_assert_eq(json_object_get_boolean(at(r->status, "finalizing")), finalizing);
	struct json_object *observed = at(r->status, "observed");
	cr_assert_str_eq(
		json_object_to_json_string_ext(observed, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
		"{\"ConfigMap.v1\":[\"old\",\"web-config\"],\"Deployment.apps/v1\":[]}");
	cr_assert_eq(json_object_array_length(r->children), 1);
	struct json_object *child = json_object_array_get_idx(r->children, 0);
	cr_assert_str_eq(str_at(at(child, "metadata"), "name"), "web-config");
	cr_assert_str_eq(str_at(at(child, "data"), "greeting"), "héllo \"world\"",
			 "the request's bytes arrived intact");
	cr_assert_eq(r->resync_after_ms, 30000);
	cr_assert_eq(r->finalized, finalizing);
}

Test(hook_exec, sync_round_trip)
{
	char *argv[] = { HOOKS "sync.py", NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = argv, .timeout_ms = 20000 };
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	check_website_answer(&r, false);
	cr_assert_gt(r.stats.duration_ms, 0);
	cr_assert_gt(r.stats.user_cpu_ms + r.stats.sys_cpu_ms, 0, "python3 starting up costs CPU");
	cr_assert_gt(r.stats.max_rss_kib, 1000, "%ld", r.stats.max_rss_kib);
	cr_assert_eq(r.stats.exit_code, 0);
	cr_assert_eq(r.stats.http_status, 0);
	hook_result_clear(&r);
	json_object_put(req);
}

Test(hook_exec, finalize_round_trip_with_command_from_path)
{
	char *argv[] = { "python3", HOOKS "sync.py", NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = argv, .timeout_ms = 20000 };
	struct json_object *req = website_request(true);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, true, &r, &err), 0, "%s", err.msg);
	check_website_answer(&r, true);
	hook_result_clear(&r);
	json_object_put(req);
}

Test(hook_exec, answer_is_checked)
{
	cr_assert_eq(setenv("HOOK_CHILD_NAMESPACE", "elsewhere", 1), 0);
	struct cx_err err = exec_fail("sync.py", 20000, -EPROTO);
	cr_assert(strstr(err.msg,
			 "\": children[0].metadata.namespace: \"elsewhere\" is not the parent's namespace "
			 "\"default\""),
		  "%s", err.msg);
}

Test(hook_exec, exit_code_with_stderr_tail)
{
	struct cx_err err = exec_fail("fail.sh", 20000, -EIO);
	cr_assert_str_eq(err.msg,
			 "sync hook \"" HOOKS "fail.sh\": exited with status 1: first line of noise error: "
			 "cannot reach the database");
}

Test(hook_exec, killed_by_signal)
{
	struct cx_err err = exec_fail("signal.sh", 20000, -EIO);
	cr_assert_str_eq(err.msg, "sync hook \"" HOOKS "signal.sh\": killed by signal 9 (Killed): about to die");
}

Test(hook_exec, garbage_output)
{
	struct cx_err err = exec_fail("garbage.sh", 20000, -EPROTO);
	cr_assert(strstr(err.msg, "\": invalid JSON at byte 1"), "%s", err.msg);
}

Test(hook_exec, empty_output_shows_stderr)
{
	struct cx_err err = exec_fail("empty.sh", 20000, -EPROTO);
	cr_assert_str_eq(err.msg,
			 "sync hook \"" HOOKS "empty.sh\": returned nothing (expected a JSON object): no "
			 "template found for this parent");
}

Test(hook_exec, command_not_found)
{
	struct cx_err err = exec_fail("no-such-hook", 20000, -ENOENT);
	cr_assert(strstr(err.msg, "\": cannot run " HOOKS "no-such-hook: No such file or directory"), "%s", err.msg);
	char *argv[] = { "coxswain-no-such-hook", NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = argv };
	struct json_object *req = website_request(false);
	struct hook_result r;
	cr_assert_eq(run(&def, req, false, &r, &err), -ENOENT);
	cr_assert_str_eq(err.msg, "sync hook \"coxswain-no-such-hook\": not found in PATH");
	cr_assert_eq(r.stats.exit_code, -1);
	hook_result_clear(&r);
	json_object_put(req);
}

Test(hook_exec, timeout_kills_the_group_fast)
{
	char pidfile[] = "/tmp/test_hook-XXXXXX";
	int fd = mkstemp(pidfile);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(setenv("HOOK_PID_FILE", pidfile, 1), 0);
	double start = clock_monotonic_s();
	struct cx_err err = exec_fail("sleep.sh", 500, -ETIMEDOUT);
	double took = clock_monotonic_s() - start;
	cr_assert_geq(took, 0.5, "%.3f s", took);
	cr_assert_lt(took, 20.0, "%.3f s", took);
	cr_assert_str_eq(err.msg,
			 "sync hook \"" HOOKS "sleep.sh\": exceeded its 0.5 s timeout and was killed: "
			 "waiting for a lock");

	FILE *f = fopen(pidfile, "r");
	cr_assert_not_null(f);
	long pid = 0;
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	unlink(pidfile);
	bool dead = false;
	for (int i = 0; i < 1000 && !dead; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		FILE *st = fopen(path, "r");
		char buf[512] = "";
		if (st) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, st);
			buf[n] = '\0';
			fclose(st);
		}
		const char *paren = strrchr(buf, ')');
		dead = !st || (paren && (paren[2] == 'Z' || paren[2] == 'X'));
		if (!dead)
			usleep(20000);
	}
	if (!dead)
		kill((pid_t)pid, SIGKILL);
	cr_assert(dead, "the hook's child %ld died with its group", pid);
}

/* A request of about 1 MiB: the parent carries a big annotation. */
static struct json_object *big_request(void)
{
	size_t len = 1024 * 1024;
	char *big = malloc(len + 1);
	cr_assert_not_null(big);
	for (size_t i = 0; i < len; i++)
		big[i] = (char)('a' + i % 26);
	big[len] = '\0';
	struct json_object *parent = parse("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Website\", "
					   "\"metadata\": {\"name\": \"big\", \"namespace\": \"default\", "
					   "\"annotations\": {}}}");
	json_object_object_add(at(at(parent, "metadata"), "annotations"), "example.com/blob",
			       json_object_new_string(big));
	free(big);
	struct json_object *controller = parse("{\"name\": \"websites\"}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, NULL, false, HOOK_V1, &req, &err);
	cr_assert_not_null(req, "%s", err.msg);
	json_object_put(controller);
	json_object_put(parent);
	return req;
}

Test(hook_exec, big_request_round_trip)
{
	char *argv[] = { HOOKS "wrap.sh", NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = argv, .timeout_ms = 20000 };
	struct json_object *req = big_request();
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert(json_object_equal(at(r.status, "echo"), req), "the 1 MiB request came back whole");
	cr_assert_eq(json_object_array_length(r.children), 0);
	hook_result_clear(&r);
	json_object_put(req);
}

Test(hook_exec, incomplete_def)
{
	struct hook_def def = { .type = HOOK_EXEC };
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -EINVAL);
	hook_result_clear(&r);
	struct hook_def web = { .type = HOOK_WEBHOOK };
	cr_assert_eq(run(&web, req, false, &r, &err), -EINVAL);
	hook_result_clear(&r);
	json_object_put(req);
}

/* ---- webhooks ---- */

struct server {
	pid_t pid;
	int port;
};

/* Starts server.py on a free loopback port; it answers n requests (HTTP/1.1
 * with connections kept open when keepalive). */
static struct server server_start_as(int n, bool keepalive)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char count[16];
		snprintf(count, sizeof(count), "%d", n);
		execlp("python3", "python3", HOOKS "server.py", "0", count, "30", keepalive ? "keepalive" : NULL,
		       (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	cr_assert_not_null(f);
	int port = 0;
	cr_assert_eq(fscanf(f, "%d", &port), 1, "the server printed its port");
	fclose(f);
	return (struct server){ pid, port };
}

static struct server server_start(int n)
{
	return server_start_as(n, false);
}

static void server_stop(struct server *s)
{
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static struct hook_def webhook(const struct server *s, const char *path, char *url, size_t len)
{
	snprintf(url, len, "http://127.0.0.1:%d%s", s->port, path);
	return (struct hook_def){ .type = HOOK_WEBHOOK, .url = url, .timeout_ms = 20000 };
}

Test(hook_webhook, ok_200)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/sync", url, sizeof(url));
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str_at(r.status, "parent"), "web");
	cr_assert_str_eq(str_at(r.status, "method"), "POST");
	cr_assert_str_eq(str_at(r.status, "contentType"), "application/json");
	cr_assert_str_eq(json_object_to_json_string_ext(at(r.status, "kinds"),
							JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			 "[\"ConfigMap.v1\",\"Deployment.apps/v1\"]");
	cr_assert_eq(json_object_array_length(r.children), 1);
	cr_assert_eq(r.resync_after_ms, 1500);
	cr_assert_eq(r.stats.http_status, 200);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

/* The client port a /conn call came from. */
static long conn_port(struct hook_def *def)
{
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(def, req, false, &r, &err), 0, "%s", err.msg);
	struct json_object *port = at(r.status, "port");
	cr_assert_not_null(port);
	long p = (long)json_object_get_int64(port);
	hook_result_clear(&r);
	json_object_put(req);
	return p;
}

/* A hook server that keeps connections open gets every call on one
 * connection (no handshake, no new server thread per call); after
 * hook_webhook_reset the next call opens a new one. */
Test(hook_webhook, calls_reuse_one_connection)
{
	struct server s = server_start_as(5, true);
	char url[128];
	struct hook_def def = webhook(&s, "/conn", url, sizeof(url));
	long first = conn_port(&def);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(conn_port(&def), first, "call %d came on another connection", i + 2);
	hook_webhook_reset();
	cr_assert_neq(conn_port(&def), first, "a reset closes the kept connection");
	server_stop(&s);
}

/* A server that closes every connection (HTTP/1.0) still answers each
 * call, on a new connection each time. */
Test(hook_webhook, a_server_that_closes_gets_a_connection_per_call)
{
	struct server s = server_start(3);
	char url[128];
	struct hook_def def = webhook(&s, "/conn", url, sizeof(url));
	long first = conn_port(&def), second = conn_port(&def), third = conn_port(&def);
	cr_assert(first != second && second != third && first != third);
	server_stop(&s);
}

Test(hook_webhook, big_request_round_trip)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/echo", url, sizeof(url));
	struct json_object *req = big_request();
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert(json_object_equal(at(r.status, "echo"), req));
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

Test(hook_webhook, error_500_with_the_head_of_the_body)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/fail", url, sizeof(url));
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -EIO);
	cr_assert_eq(r.stats.http_status, 500);
	char want[512];
	const char *text = "internal error: the database is on fire. ";
	int xs = 256 - (int)strlen(text);
	snprintf(want, sizeof(want), "sync hook \"%s\": returned HTTP 500: %s%.*s...", url, text, xs,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxx"
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		 "xxx");
	cr_assert_str_eq(err.msg, want);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

Test(hook_webhook, invalid_json_answer)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/garbage", url, sizeof(url));
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -EPROTO);
	cr_assert(strstr(err.msg, "\": invalid JSON at byte 0"), "%s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

Test(hook_webhook, timeout)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/slow", url, sizeof(url));
	def.timeout_ms = 500;
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	double start = clock_monotonic_s();
	cr_assert_eq(run(&def, req, false, &r, &err), -ETIMEDOUT);
	cr_assert_lt(clock_monotonic_s() - start, 20.0, "the answer comes after 60 s");
	cr_assert(strstr(err.msg, "\": exceeded its 0.5 s timeout"), "%s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

Test(hook_webhook, connection_refused)
{
	/* A port that was free a moment ago and has no listener. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	socklen_t sl = sizeof(sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/sync", ntohs(sa.sin_port));
	struct hook_def def = { .type = HOOK_WEBHOOK, .url = url, .timeout_ms = 5000 };
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -ECONNREFUSED, "%s", err.msg);
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "sync hook \"%s\": cannot connect: ", url);
	cr_assert_eq(strncmp(err.msg, prefix, strlen(prefix)), 0, "%s", err.msg);
	cr_assert_eq(r.stats.http_status, 0);
	hook_result_clear(&r);
	json_object_put(req);
}

/* ---- COXSWAIN_WEBHOOK_CONNECT_TO ---- */

Test(hook_connect_to, valid_lists)
{
	struct cx_err err = { 0 };
	cr_assert_eq(hook_connect_to_check(NULL, &err), 0);
	cr_assert_eq(hook_connect_to_check("", &err), 0);
	cr_assert_eq(hook_connect_to_check("svc.ns:80:127.0.0.1:8080", &err), 0, "%s", err.msg);
	cr_assert_eq(hook_connect_to_check(" a:443:b:8443 , c:80:d:8080,", &err), 0, "%s", err.msg);
	cr_assert_eq(hook_connect_to_check("::127.0.0.1:", &err), 0, "empty HOST and ports: %s", err.msg);
	cr_assert_eq(hook_connect_to_check("[::1]:443:[fd00::2]:8443", &err), 0, "%s", err.msg);
	cr_assert_eq(hook_connect_to_check("a:443::8443", &err), 0, "same host, other port: %s", err.msg);
}

Test(hook_connect_to, invalid_entries_are_named)
{
	struct cx_err err = { 0 };
	cr_assert_eq(hook_connect_to_check("a:80:b:81,svc:80:127.0.0.1", &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "COXSWAIN_WEBHOOK_CONNECT_TO: entry 2 \"svc:80:127.0.0.1\": expected "
			 "HOST:PORT:CONNECT_HOST:CONNECT_PORT");
	cr_assert_eq(hook_connect_to_check("a:80:b:c:d", &err), -EINVAL);
	cr_assert(strstr(err.msg, "more than four fields"), "%s", err.msg);
	cr_assert_eq(hook_connect_to_check("a:http:b:80", &err), -EINVAL);
	cr_assert(strstr(err.msg, "a port must be a number from 1 to 65535"), "%s", err.msg);
	cr_assert_eq(hook_connect_to_check("a:80:b:65536", &err), -EINVAL);
	cr_assert_eq(hook_connect_to_check("a:80:b:0", &err), -EINVAL);
	cr_assert_eq(hook_connect_to_check("a:80::", &err), -EINVAL);
	cr_assert(strstr(err.msg, "reroutes nothing"), "%s", err.msg);
	cr_assert_eq(hook_connect_to_check("a:80:b c:81", &err), -EINVAL);
	cr_assert(strstr(err.msg, "white space"), "%s", err.msg);
}

/* A plain-HTTP webhook rerouted: the URL names a host that does not
 * resolve, the connection goes to the test server. */
Test(hook_webhook, connect_to_reroutes_the_url)
{
	struct server s = server_start(1);
	char env[128];
	snprintf(env, sizeof(env), "hook.invalid:80:127.0.0.1:%d", s.port);
	setenv(HOOK_CONNECT_TO_ENV, env, 1);
	struct hook_def def = { .type = HOOK_WEBHOOK, .url = "http://hook.invalid/sync", .timeout_ms = 20000 };
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.stats.http_status, 200);
	hook_result_clear(&r);
	setenv(HOOK_CONNECT_TO_ENV, "hook.invalid:80", 1);
	cr_assert_eq(run(&def, req, false, &r, &err), -EINVAL);
	cr_assert(strstr(err.msg, "COXSWAIN_WEBHOOK_CONNECT_TO: entry 1"), "%s", err.msg);
	hook_result_clear(&r);
	unsetenv(HOOK_CONNECT_TO_ENV);
	json_object_put(req);
	server_stop(&s);
}

/* ---- etag (metacontroller's webhook.etag) ---- */

static int int_at(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s", key);
	return json_object_get_int(v);
}

/* The second call for the same parent carries If-None-Match and gets a
 * 304: the first answer is used again (served stays 1). The finalize hook
 * is another cache key. */
Test(hook_webhook, etag_304_reuses_the_cached_answer)
{
	struct server s = server_start(3);
	char url[128];
	struct hook_def def = webhook(&s, "/etag", url, sizeof(url));
	struct mcdef_webhook mc = {
		.url = url, .effective_url = url, .has_etag = true, .has_etag_enabled = true, .etag_enabled = true
	};
	def.mc = &mc;
	def.controller = "websites";
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.stats.http_status, 200);
	cr_assert_eq(int_at(r.status, "served"), 1);
	cr_assert_null(str_at(r.status, "ifNoneMatch"));
	hook_result_clear(&r);
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.stats.http_status, 304);
	cr_assert_eq(int_at(r.status, "served"), 1, "the cached answer");
	cr_assert_eq(json_object_array_length(r.children), 0);
	hook_result_clear(&r);
	json_object_put(req);
	req = website_request(true);
	cr_assert_eq(run(&def, req, true, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.stats.http_status, 200, "the finalize hook has its own entries");
	cr_assert_eq(int_at(r.status, "served"), 3);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

Test(hook_webhook, without_etag_enabled_no_if_none_match_is_sent)
{
	struct server s = server_start(2);
	char url[128];
	struct hook_def def = webhook(&s, "/etag", url, sizeof(url));
	struct mcdef_webhook mc = { .url = url, .effective_url = url };
	def.mc = &mc;
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	for (int i = 1; i <= 2; i++) {
		cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
		cr_assert_eq(r.stats.http_status, 200);
		cr_assert_eq(int_at(r.status, "served"), i);
		hook_result_clear(&r);
	}
	json_object_put(req);
	server_stop(&s);
}

/* As metacontroller: a 304 is an answer only to a request that asked. */
Test(hook_webhook, a_304_without_if_none_match_is_an_error)
{
	struct server s = server_start(1);
	char url[128];
	struct hook_def def = webhook(&s, "/304", url, sizeof(url));
	struct mcdef_webhook mc = { .url = url, .effective_url = url, .etag_enabled = true };
	def.mc = &mc;
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -EIO);
	cr_assert(strstr(err.msg, "returned HTTP 304"), "%s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	server_stop(&s);
}

/* ---- related and the customize hook ---- */

/* related is keyed like children: shared as the worker keyed it (v1), or
 * re-keyed by the objects' own namespace/name (v2). */
Test(hook_request, related_is_filled_and_keyed_by_version)
{
	struct json_object *controller = parse("{}"), *parent = parse("{\"metadata\": {\"name\": \"p\"}}");
	struct json_object *related = parse(
		"{\"ConfigMap.v1\": {\"global/settings\": {\"metadata\": {\"name\": "
		"\"settings\", \"namespace\": \"global\"}}}, \"Namespace.v1\": {\"team-a\": "
		"{\"metadata\": {\"name\": \"team-a\"}}}}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, NULL, false, HOOK_V1, &req, &err);
	cr_assert_eq(hook_request_set_related(req, related, HOOK_V1, &err), 0, "%s", err.msg);
	cr_assert_eq(at(at(req, "related"), "ConfigMap.v1"), at(related, "ConfigMap.v1"), "v1: shared");
	cr_assert_not_null(at(at(at(req, "related"), "Namespace.v1"), "team-a"));
	json_object_put(req);

	struct json_object *nsparent = parse("{\"metadata\": {\"name\": \"p\", \"namespace\": \"global\"}}");
	struct json_object *v1 = parse("{\"ConfigMap.v1\": {\"settings\": {\"metadata\": {\"name\": \"settings\", "
				       "\"namespace\": \"global\"}}}}");
	req = NULL;
	hook_request_new(controller, nsparent, KINDS, N_KINDS, NULL, false, HOOK_V2, &req, &err);
	cr_assert_eq(hook_request_set_related(req, v1, HOOK_V2, &err), 0, "%s", err.msg);
	cr_assert_not_null(at(at(at(req, "related"), "ConfigMap.v1"), "global/settings"), "%s",
			   json_object_to_json_string(req));
	json_object_put(req);

	req = NULL;
	hook_request_new(controller, parent, KINDS, N_KINDS, NULL, false, HOOK_V1, &req, &err);
	struct json_object *bad = parse("{\"ConfigMap.v1\": []}");
	cr_assert_eq(hook_request_set_related(req, bad, HOOK_V1, &err), -EINVAL);
	cr_assert(strstr(err.msg, "related[\"ConfigMap.v1\"] is a list"), "%s", err.msg);
	cr_assert_eq(json_object_object_length(at(req, "related")), 0, "unchanged");
	cr_assert_eq(hook_request_set_related(req, NULL, HOOK_V1, &err), 0);
	cr_assert_eq(json_object_object_length(at(req, "related")), 0);
	json_object_put(req);
	json_object_put(bad);
	json_object_put(v1);
	json_object_put(nsparent);
	json_object_put(related);
	json_object_put(controller);
	json_object_put(parent);
}

Test(hook_call, customize_answer_and_failures_are_named)
{
	static char *const echo[] = { "/bin/sh", "-c", "cat >/dev/null; echo '{\"relatedResources\": []}'", NULL };
	struct hook_def def = { .type = HOOK_EXEC, .argv = echo, .name = "/hooks/customize" };
	struct json_object *req = parse("{\"controller\": {}, \"parent\": {}}"), *answer = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(hook_call(&def, "customize", req, &answer, NULL, &err), 0, "%s", err.msg);
	cr_assert(json_object_is_type(at(answer, "relatedResources"), json_type_array));
	json_object_put(answer);

	static char *const garbage[] = { "/bin/sh", "-c", "cat >/dev/null; echo '{nope'", NULL };
	def.argv = garbage;
	cr_assert_eq(hook_call(&def, "customize", req, &answer, NULL, &err), -EPROTO);
	cr_assert_null(answer);
	cr_assert(!strncmp(err.msg, "customize hook \"/hooks/customize\": ", 35), "%s", err.msg);

	static char *const failing[] = { HOOKS "fail.sh", NULL };
	def.argv = failing;
	def.name = NULL;
	cr_assert_eq(hook_call(&def, "customize", req, &answer, NULL, &err), -EIO);
	cr_assert(strstr(err.msg, "customize hook \"" HOOKS "fail.sh\": "), "%s", err.msg);
	cr_assert(strstr(err.msg, "cannot reach the database"), "%s", err.msg);
	json_object_put(req);
}

/* A customize webhook: the transport is the sync hook's; the answer comes
 * back as JSON for the caller to read. */
Test(hook_call, customize_webhook)
{
	struct server s = server_start(2);
	char url[128];
	struct hook_def def = webhook(&s, "/echo", url, sizeof(url));
	struct json_object *req = parse(
		"{\"controller\": {\"name\": \"c\"}, \"parent\": {\"metadata\": {\"name\": \"p\"}}}");
	struct json_object *answer = NULL;
	struct hook_stats st;
	struct cx_err err = { 0 };
	cr_assert_eq(hook_call(&def, "customize", req, &answer, &st, &err), 0, "%s", err.msg);
	cr_assert(json_object_equal(at(at(answer, "status"), "echo"), req));
	cr_assert_eq(st.http_status, 200);
	json_object_put(answer);
	def = webhook(&s, "/fail", url, sizeof(url));
	cr_assert_eq(hook_call(&def, "customize", req, &answer, &st, &err), -EIO);
	char want[200];
	snprintf(want, sizeof(want), "customize hook \"%s\": returned HTTP 500", url);
	cr_assert(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
	json_object_put(req);
	server_stop(&s);
}

/* ---- persistent exec hooks and jq hooks (worker/hookproc.h, worker/jqhook.h) ---- */

Test(hook_persistent, requests_share_one_process_and_answers_are_checked)
{
	char *argv[] = { HOOKS "persistent-sync.py", NULL };
	struct hook_def def = {
		.type = HOOK_EXEC, .argv = argv, .timeout_ms = 60000, .persistent = true, .controller = "websites"
	};
	long long pid = 0;
	for (int i = 0; i < 5; i++) {
		bool finalizing = false;
		struct json_object *req = website_request(finalizing);
		struct hook_result r;
		struct cx_err err = { 0 };
		cr_assert_eq(run(&def, req, finalizing, &r, &err), 0, "%s", err.msg);
		check_website_answer(&r, finalizing);
		long long this_pid = json_object_get_int64(at(r.status, "pid"));
		cr_assert(i == 0 || this_pid == pid, "request %d went to pid %lld, not %lld", i, this_pid, pid);
		pid = this_pid;
		hook_result_clear(&r);
		json_object_put(req);
	}
	/* Another controller's hook with the same command has its own process,
	 * and so has the finalize hook (another hook of the controller). */
	struct hook_def other = def;
	other.controller = "blogs";
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&other, req, false, &r, &err), 0, "%s", err.msg);
	cr_assert_neq(json_object_get_int64(at(r.status, "pid")), pid);
	hook_result_clear(&r);
	json_object_put(req);
	req = website_request(true);
	cr_assert_eq(run(&def, req, true, &r, &err), 0, "%s", err.msg);
	check_website_answer(&r, true);
	cr_assert_neq(json_object_get_int64(at(r.status, "pid")), pid);
	hook_result_clear(&r);
	json_object_put(req);
	hook_reset();
	cr_assert_eq(kill((pid_t)pid, 0), -1, "hook_reset stops the processes");
}

Test(hook_persistent, a_process_that_dies_fails_that_request_only)
{
	char *argv[] = { "sh", "-c", "read line; echo going away >&2; exit 2", NULL };
	struct hook_def def = {
		.type = HOOK_EXEC, .argv = argv, .timeout_ms = 60000, .persistent = true, .controller = "websites"
	};
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), -EIO);
	cr_assert(strstr(err.msg, "sync hook \"sh\": "), "%s", err.msg);
	cr_assert(strstr(err.msg, "exited with status 2"), "%s", err.msg);
	cr_assert(strstr(err.msg, "going away"), "%s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	hook_reset();
}

Test(hook_jq, a_jq_hook_answers_and_is_checked_like_any_hook)
{
	struct hook_def def = {
		.type = HOOK_JQ,
		.controller = "websites",
		.jq_program = "{status: {controller: .controller.name, observed: (.children | "
			      "map_values(keys)), finalizing: .finalizing}, children: [{apiVersion: \"v1\", "
			      "kind: \"ConfigMap\", metadata: {name: (.parent.metadata.name + \"-config\")}, "
			      "data: {greeting: .parent.spec.greeting}}], resyncAfterSeconds: 30, "
			      "finalized: .finalizing}"
	};
	for (int i = 0; i < 3; i++) {
		struct json_object *req = website_request(i == 1);
		struct hook_result r;
		struct cx_err err = { 0 };
		cr_assert_eq(run(&def, req, i == 1, &r, &err), 0, "%s", err.msg);
		check_website_answer(&r, i == 1);
		hook_result_clear(&r);
		json_object_put(req);
	}
	/* Its answer goes through the same checks. */
	struct hook_def bad = {
		.type = HOOK_JQ,
		.controller = "websites",
		.jq_program = "{children: [{apiVersion: \"v1\", kind: \"Secret\", metadata: {name: \"x\"}}]}"
	};
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&bad, req, false, &r, &err), -EPROTO);
	cr_assert(strstr(err.msg, "sync hook \"jq\": children[0]: Secret.v1 is not a child kind"), "%s", err.msg);
	hook_result_clear(&r);
	/* A runtime error fails the call with jq's message. */
	struct hook_def boom = { .type = HOOK_JQ, .controller = "websites", .jq_program = "error(\"no way\")" };
	cr_assert_eq(run(&boom, req, false, &r, &err), -EPROTO);
	cr_assert(strstr(err.msg, "sync hook \"jq\": the jq program failed: no way"), "%s", err.msg);
	hook_result_clear(&r);
	json_object_put(req);
	hook_reset();
}

Test(hook_persistent, a_process_dead_between_requests_is_reaped_by_the_next_hook_call)
{
	char *argv[] = { HOOKS "persistent-sync.py", NULL };
	struct hook_def def = {
		.type = HOOK_EXEC, .argv = argv, .timeout_ms = 60000, .persistent = true, .controller = "websites"
	};
	struct json_object *req = website_request(false);
	struct hook_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(run(&def, req, false, &r, &err), 0, "%s", err.msg);
	pid_t pid = (pid_t)json_object_get_int64(at(r.status, "pid"));
	hook_result_clear(&r);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	/* Dead: a zombie until someone reaps it, which the next call of another
	 * hook (a jq one here) does. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen(path, "r");
		char stat[256] = "";
		if (f) {
			size_t n = fread(stat, 1, sizeof(stat) - 1, f);
			stat[n] = '\0';
			fclose(f);
		}
		const char *paren = strrchr(stat, ')');
		if (paren && paren[2] == 'Z')
			break;
		usleep(10000);
	}
	struct hook_def jq = { .type = HOOK_JQ, .controller = "websites", .jq_program = "{children: []}" };
	cr_assert_eq(run(&jq, req, false, &r, &err), 0, "%s", err.msg);
	hook_result_clear(&r);
	errno = 0;
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1, "pid %d was not reaped", (int)pid);
	cr_assert_eq(errno, ECHILD);
	json_object_put(req);
	hook_reset();
}

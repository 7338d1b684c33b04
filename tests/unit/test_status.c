/* Unit tests for worker/status on a fixed clock: the Synced and Ready
 * conditions for every outcome, lastTransitionTime kept or moved, the hook's
 * status and conditions merged, the skip-when-equal rule and the merge patch
 * that removes fields the hook dropped. */
#include "config.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "err.h"
#include "status.h"

#define T0      1795615200 /* 2026-11-25T14:00:00Z */
#define T1      (T0 + 3600)
#define T0_TEXT "2026-11-25T14:00:00Z"
#define T1_TEXT "2026-11-25T15:00:00Z"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static struct json_object *at(struct json_object *o, const char *dotted)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dotted);
	struct json_object *cur = o;
	for (char *save = NULL, *k = strtok_r(path, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array)) {
			cur = json_object_array_get_idx(cur, (size_t)atoi(k));
			if (!cur)
				return NULL;
		} else if (!json_object_object_get_ex(cur, k, &cur)) {
			return NULL;
		}
	}
	return cur;
}

static const char *str(struct json_object *o, const char *dotted)
{
	return json_object_get_string(at(o, dotted));
}

/* The condition of type in a status. */
static struct json_object *cond(struct json_object *status, const char *type)
{
	struct json_object *list = at(status, "conditions");
	cr_assert_not_null(list, "no conditions in %s", json_object_to_json_string(status));
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		if (!strcmp(str(c, "type"), type))
			return c;
	}
	cr_assert_fail("no %s condition in %s", type, json_object_to_json_string(status));
	return NULL;
}

static void assert_cond(struct json_object *status, const char *type, const char *value, const char *reason,
			const char *ltt)
{
	struct json_object *c = cond(status, type);
	cr_assert_str_eq(str(c, "status"), value, "%s", json_object_to_json_string(c));
	cr_assert_str_eq(str(c, "reason"), reason, "%s", json_object_to_json_string(c));
	cr_assert_str_eq(str(c, "lastTransitionTime"), ltt, "%s", json_object_to_json_string(c));
	cr_assert_eq(json_object_get_int64(at(c, "observedGeneration")), 4);
	cr_assert_not_null(at(c, "message"));
}

#define PARENT_WITH(status_json)                                                                                       \
	"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"metadata\":{\"name\":\"site\","                     \
	"\"namespace\":\"web\",\"uid\":\"u\",\"generation\":4}" status_json "}"

static struct json_object *compute(const char *parent_text, enum status_reason r, const char *message,
				   const char *hook_status, const struct apply_report *rep, time_t now)
{
	struct json_object *parent = json(parent_text);
	struct json_object *hs = hook_status ? json(hook_status) : NULL;
	struct status_outcome o = { .reason = r, .message = message, .apply = rep, .hook_status = hs };
	struct json_object *st = status_compute(parent, &o, now);
	cr_assert_not_null(st);
	json_object_put(hs);
	json_object_put(parent);
	return st;
}

Test(status, time_format)
{
	char buf[32];
	status_format_time(0, buf);
	cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
	status_format_time(T0, buf);
	cr_assert_str_eq(buf, T0_TEXT);
}

Test(status, success_merges_the_hook_status)
{
	struct json_object *st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"replicas\":2,\"observedGeneration\":1}",
					 NULL, T0);
	cr_assert_eq(json_object_get_int(at(st, "replicas")), 2);
	cr_assert_eq(json_object_get_int64(at(st, "observedGeneration")), 4, "ours, not the hook's");
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	assert_cond(st, "Ready", "True", "ReconcileSucceeded", T0_TEXT);
	cr_assert_eq(json_object_array_length(at(st, "conditions")), 2);
	json_object_put(st);

	st = compute(PARENT_WITH(""), STATUS_OK, NULL, NULL, NULL, T0);
	cr_assert_eq(json_object_object_length(st), 2, "%s", json_object_to_json_string(st));
	json_object_put(st);
}

Test(status, ready_comes_from_the_hook_when_it_says)
{
	struct json_object *st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"ready\":false}", NULL, T0);
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	assert_cond(st, "Ready", "False", "HookReportedNotReady", T0_TEXT);
	cr_assert_eq(json_object_get_boolean(at(st, "ready")), 0, "the hook's field stays");
	json_object_put(st);

	st = compute(PARENT_WITH(""), STATUS_HOOK_FAILED, "no", "{\"ready\":true}", NULL, T0);
	assert_cond(st, "Synced", "False", "HookFailed", T0_TEXT);
	assert_cond(st, "Ready", "True", "HookReportedReady", T0_TEXT);
	json_object_put(st);

	st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"ready\":\"yes\"}", NULL, T0);
	assert_cond(st, "Ready", "True", "ReconcileSucceeded", T0_TEXT); /* not a boolean: ignored */
	json_object_put(st);
}

Test(status, failures_carry_the_message_verbatim)
{
	static const struct {
		enum status_reason r;
		const char *name;
	} cases[] = {
		{ STATUS_HOOK_FAILED, "HookFailed" },         { STATUS_INVALID_HOOK_RESPONSE, "InvalidHookResponse" },
		{ STATUS_APPLY_FAILED, "ApplyFailed" },       { STATUS_WORKER_CRASHED, "WorkerCrashed" },
		{ STATUS_FINALIZE_FAILED, "FinalizeFailed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *msg = "hook /hooks/sync exited with code 1: stderr: boom";
		struct json_object *st = compute(PARENT_WITH(""), cases[i].r, msg, NULL, NULL, T0);
		assert_cond(st, "Synced", "False", cases[i].name, T0_TEXT);
		assert_cond(st, "Ready", "False", cases[i].name, T0_TEXT);
		cr_assert_str_eq(str(cond(st, "Synced"), "message"), msg);
		cr_assert_str_eq(status_reason_name(cases[i].r), cases[i].name);
		json_object_put(st);
	}
}

static char v1[] = "v1", cm[] = "ConfigMap", secret[] = "Secret", a[] = "a", b[] = "b", c_[] = "c";

Test(status, apply_failures_list_each_child)
{
	struct apply_result results[3] = {
		{ .api_version = v1, .kind = cm, .name = a, .action = APPLY_FAILED },
		{ .api_version = v1, .kind = cm, .name = c_, .action = APPLY_CREATED },
		{ .api_version = v1, .kind = secret, .name = b, .action = APPLY_FAILED },
	};
	cx_err_set(&results[0].err, -22, "422 Invalid: data.x: bad");
	cx_err_set(&results[2].err, -2, "the server has no Secret in v1");
	struct apply_report rep = { .results = results, .n = 3, .n_created = 1, .n_failed = 2 };
	/* STATUS_OK with failed children is ApplyFailed. */
	struct json_object *st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"ready\":true}", &rep, T0);
	assert_cond(st, "Synced", "False", "ApplyFailed", T0_TEXT);
	const char *m = str(cond(st, "Synced"), "message");
	cr_assert(strstr(m, "2 of 3 children failed"), "%s", m);
	cr_assert(strstr(m, "ConfigMap/a: 422 Invalid: data.x: bad"), "%s", m);
	cr_assert(strstr(m, "Secret/b: the server has no Secret in v1"), "%s", m);
	cr_assert_null(strstr(m, "ConfigMap/c"), "%s", m);
	assert_cond(st, "Ready", "True", "HookReportedReady", T0_TEXT);
	json_object_put(st);

	struct apply_report fine = { .results = results + 1, .n = 1, .n_created = 1 };
	st = compute(PARENT_WITH(""), STATUS_OK, NULL, NULL, &fine, T0);
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	json_object_put(st);
}

#define SYNCED_TRUE_AT_T0                                                                                              \
	",\"status\":{\"phase\":\"Old\",\"observedGeneration\":3,\"conditions\":["                                     \
	"{\"type\":\"Synced\",\"status\":\"True\",\"reason\":\"ReconcileSucceeded\",\"message\":\"m\","                \
	"\"lastTransitionTime\":\"" T0_TEXT "\",\"observedGeneration\":3},"                                            \
	"{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"HookReportedNotReady\",\"message\":\"m\","              \
	"\"lastTransitionTime\":\"" T0_TEXT "\",\"observedGeneration\":3}]}"

Test(status, last_transition_time_moves_only_when_the_status_flips)
{
	struct json_object *st = compute(PARENT_WITH(SYNCED_TRUE_AT_T0), STATUS_OK, NULL, "{\"ready\":true}", NULL, T1);
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	assert_cond(st, "Ready", "True", "HookReportedReady", T1_TEXT);
	cr_assert_null(at(st, "phase"), "the hook's status replaces the old one");
	json_object_put(st);

	st = compute(PARENT_WITH(SYNCED_TRUE_AT_T0), STATUS_HOOK_FAILED, "exit 1", NULL, NULL, T1);
	assert_cond(st, "Synced", "False", "HookFailed", T1_TEXT);
	/* Ready stays False (its reason changes): its time is kept. */
	assert_cond(st, "Ready", "False", "HookFailed", T0_TEXT);
	cr_assert_str_eq(str(st, "phase"), "Old", "no hook answer: the old status stays");
	cr_assert_eq(json_object_get_int64(at(st, "observedGeneration")), 4);
	json_object_put(st);
}

Test(status, the_hooks_own_conditions_are_kept)
{
	struct json_object *st = compute(
		PARENT_WITH(""), STATUS_OK, NULL,
		"{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"R\",\"message\":\"\"},"
		"{\"type\":\"Synced\",\"status\":\"False\",\"reason\":\"Hook\",\"message\":\"mine\"}]}",
		NULL, T0);
	cr_assert_eq(json_object_array_length(at(st, "conditions")), 3, "%s", json_object_to_json_string(st));
	cr_assert_str_eq(str(cond(st, "Available"), "reason"), "R");
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	json_object_put(st);
}

Test(status, unchanged_is_a_deep_compare)
{
	struct json_object *st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"n\":1,\"o\":{\"a\":[1,2]}}", NULL, T0);
	char parent_text[4096];
	snprintf(parent_text, sizeof(parent_text), PARENT_WITH(",\"status\":%s"), json_object_to_json_string(st));
	struct json_object *parent = json(parent_text);
	cr_assert_not(status_unchanged(json_object_object_get(parent, "metadata"), st), "metadata is no parent status");
	struct json_object *no_status = json(PARENT_WITH(""));
	cr_assert_not(status_unchanged(no_status, st));
	json_object_put(no_status);

	/* The same outcome an hour later computes the same status: no write. */
	struct json_object *again = compute(parent_text, STATUS_OK, NULL, "{\"n\":1.0,\"o\":{\"a\":[1,2]}}", NULL, T1);
	cr_assert(status_unchanged(parent, again), "%s", json_object_to_json_string(again));
	json_object_put(again);

	struct json_object *changed = compute(parent_text, STATUS_OK, NULL, "{\"n\":1,\"o\":{\"a\":[2,1]}}", NULL, T1);
	cr_assert_not(status_unchanged(parent, changed));
	json_object_put(changed);
	json_object_put(parent);
	json_object_put(st);
}

Test(status, merge_patch_nulls_what_the_hook_dropped)
{
	struct json_object *parent = json(
		PARENT_WITH(",\"status\":{\"a\":1,\"b\":{\"c\":1,\"d\":2},\"e\":[1],\"f\":{}}"));
	struct json_object *st = json("{\"a\":2,\"b\":{\"c\":1},\"f\":3}");
	struct json_object *patch = status_merge_patch(parent, st);
	/* b.c is the same already: only what changes is sent. */
	struct json_object *want = json("{\"status\":{\"a\":2,\"b\":{\"d\":null},\"e\":null,\"f\":3}}");
	cr_assert(json_object_equal(patch, want), "%s", json_object_to_json_string(patch));
	json_object_put(want);
	json_object_put(patch);
	json_object_put(parent);

	parent = json(PARENT_WITH(""));
	patch = status_merge_patch(parent, st);
	want = json("{\"status\":{\"a\":2,\"b\":{\"c\":1},\"f\":3}}");
	cr_assert(json_object_equal(patch, want), "%s", json_object_to_json_string(patch));
	json_object_put(want);
	json_object_put(patch);
	json_object_put(parent);
	json_object_put(st);
}

Test(status, nulls_in_the_hook_status_are_dropped)
{
	struct json_object *st = compute(PARENT_WITH(""), STATUS_OK, NULL, "{\"x\":null,\"o\":{\"y\":null,\"z\":1}}",
					 NULL, T0);
	cr_assert_not(json_object_object_get_ex(st, "x", NULL));
	cr_assert_eq(json_object_object_length(at(st, "o")), 1, "%s", json_object_to_json_string(st));
	json_object_put(st);
}

/* A Pod's status is the kubelet's: coxswain adds no condition and no
 * observedGeneration, and merges the hook's fields without removing any. */
Test(status_compute_builtin, merges_the_hooks_status_and_removes_nothing)
{
	struct json_object *pod = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"generation\":4},"
		"\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","
		"\"reason\":\"ContainersNotReady\"}],\"extra\":{\"a\":1,\"b\":2}}}");
	cr_assert_null(status_compute_builtin(pod, NULL), "no hook status: nothing to write");
	struct json_object *empty = json("{}");
	cr_assert_null(status_compute_builtin(pod, empty));
	struct json_object *hook = json("{\"extra\":{\"b\":3,\"z\":null},\"mine\":\"x\"}");
	struct json_object *st = status_compute_builtin(pod, hook);
	cr_assert_not_null(st);
	cr_assert_str_eq(str(st, "phase"), "Pending");
	cr_assert_str_eq(str(st, "conditions.0.reason"), "ContainersNotReady", "the kubelet's condition stays");
	cr_assert_eq(json_object_array_length(at(st, "conditions")), 1, "no condition of coxswain's");
	cr_assert_null(at(st, "observedGeneration"));
	cr_assert_eq(json_object_get_int(at(st, "extra.a")), 1);
	cr_assert_eq(json_object_get_int(at(st, "extra.b")), 3);
	cr_assert_null(at(st, "extra.z"));
	cr_assert_str_eq(str(st, "mine"), "x");
	struct json_object *patch = status_merge_patch(pod, st);
	cr_assert_null(at(patch, "status.phase"), "nothing of the kubelet's in the patch");
	cr_assert_not(json_object_object_get_ex(at(patch, "status"), "conditions", NULL));
	json_object_put(patch);

	/* Written once, it is unchanged: no second write. */
	json_object_object_add(pod, "status", st);
	st = status_compute_builtin(pod, hook);
	cr_assert(status_unchanged(pod, st));
	json_object_put(st);
	json_object_put(hook);
	json_object_put(empty);
	json_object_put(pod);
}

/* ---- metacontroller-defined parents (status_compute_mc) ---- */

static struct json_object *compute_mc(const char *parent_text, enum status_reason r, const char *hook_status,
				      bool conditions)
{
	struct json_object *parent = json(parent_text);
	struct json_object *hs = hook_status ? json(hook_status) : NULL;
	struct status_outcome o = { .reason = r, .message = "it broke", .hook_status = hs };
	struct json_object *st = NULL;
	cr_assert_eq(status_compute_mc(parent, &o, conditions, T0, &st), 0);
	json_object_put(hs);
	json_object_put(parent);
	return st;
}

/* metacontroller replaces the status with the hook's, plus
 * observedGeneration, and nothing of its own. */
Test(status_mc, the_hooks_status_replaces_the_old_one_with_observed_generation)
{
	struct json_object *st = compute_mc(PARENT_WITH(",\"status\":{\"old\":1,\"conditions\":[]}"), STATUS_OK,
					    "{\"replicas\":2,\"observedGeneration\":1,\"gone\":null}", false);
	cr_assert_not_null(st);
	cr_assert_eq(json_object_get_int(at(st, "replicas")), 2);
	cr_assert_eq(json_object_get_int64(at(st, "observedGeneration")), 4);
	cr_assert_null(at(st, "old"), "replaced, not merged: %s", json_object_to_json_string(st));
	cr_assert_null(at(st, "conditions"));
	cr_assert_eq(json_object_object_length(st), 2, "%s", json_object_to_json_string(st));
	json_object_put(st);

	/* No status in the answer: {observedGeneration} alone. */
	st = compute_mc(PARENT_WITH(",\"status\":{\"old\":1}"), STATUS_OK, NULL, false);
	cr_assert_not_null(st);
	cr_assert_eq(json_object_object_length(st), 1, "%s", json_object_to_json_string(st));
	cr_assert_eq(json_object_get_int64(at(st, "observedGeneration")), 4);
	json_object_put(st);

	/* The hook answered and a child failed: still the hook's status. */
	st = compute_mc(PARENT_WITH(""), STATUS_APPLY_FAILED, "{\"a\":1}", false);
	cr_assert_eq(json_object_get_int(at(st, "a")), 1);
	cr_assert_null(at(st, "conditions"));
	json_object_put(st);
}

/* A hook that did not answer leaves the status alone (metacontroller writes
 * none; the failure is an Event and a log line). */
Test(status_mc, no_answer_no_write)
{
	cr_assert_null(compute_mc(PARENT_WITH(",\"status\":{\"old\":1}"), STATUS_HOOK_FAILED, NULL, false));
	cr_assert_null(compute_mc(PARENT_WITH(""), STATUS_INVALID_HOOK_RESPONSE, NULL, false));
	cr_assert_null(compute_mc(PARENT_WITH(""), STATUS_WORKER_CRASHED, NULL, false));
	cr_assert_null(compute_mc(PARENT_WITH(""), STATUS_FINALIZE_FAILED, NULL, false));
}

/* Where the CRD declares status.conditions, coxswain's conditions go too,
 * failures included. */
Test(status_mc, conditions_where_the_schema_declares_them)
{
	struct json_object *st = compute_mc(PARENT_WITH(""), STATUS_OK, "{\"replicas\":2}", true);
	cr_assert_eq(json_object_get_int(at(st, "replicas")), 2);
	assert_cond(st, "Synced", "True", "ReconcileSucceeded", T0_TEXT);
	json_object_put(st);
	st = compute_mc(PARENT_WITH(",\"status\":{\"old\":1}"), STATUS_HOOK_FAILED, NULL, true);
	cr_assert_not_null(st);
	assert_cond(st, "Synced", "False", "HookFailed", T0_TEXT);
	cr_assert_eq(json_object_get_int(at(st, "old")), 1);
	json_object_put(st);
}

Test(status_mc, declares_conditions_only_explicitly)
{
	struct json_object *s = json("{\"type\":\"object\",\"properties\":{\"conditions\":{\"type\":\"array\"}}}");
	cr_assert(status_schema_declares_conditions(s));
	json_object_put(s);
	s = json("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}");
	cr_assert_not(status_schema_declares_conditions(s));
	json_object_put(s);
	s = json("{\"type\":\"object\",\"properties\":{\"replicas\":{\"type\":\"integer\"}}}");
	cr_assert_not(status_schema_declares_conditions(s));
	json_object_put(s);
	cr_assert_not(status_schema_declares_conditions(NULL));
}

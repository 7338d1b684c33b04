/* Unit tests for worker/rollout: one child at a time in the hook's order,
 * paused while an updated child fails its statusChecks, new children
 * created at once, RollingInPlace's observedGeneration rule, and the
 * Updated condition as metacontroller writes it. */
#include "config.h"

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "mcdef.h"
#include "rollout.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static const char *str(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, k1, &v) || (k2 && !json_object_object_get_ex(v, k2, &v)))
		return NULL;
	return json_object_get_string(v);
}

static char ready_type[] = "Ready", ready_true[] = "True", ready_reason[] = "AllGood";
static struct mcdef_condition_check ready_check = { .type = ready_type, .status = ready_true };
static struct mcdef_child ready_checks = {
	.has_status_checks = true, .has_conditions = true, .conditions = &ready_check, .n_conditions = 1
};

/* A desired Part with spec.v = v. */
static struct json_object *desired(const char *name, int v)
{
	char buf[512];
	snprintf(
		buf, sizeof(buf),
		"{\"apiVersion\":\"x.io/v1\",\"kind\":\"Part\",\"metadata\":{\"name\":\"%s\",\"labels\":{\"a\":\"b\"}},"
		"\"spec\":{\"v\":%d}}",
		name, v);
	return json(buf);
}

/* An observed Part with spec.v = v; ready: "True", "False" or NULL (no
 * condition). */
static struct json_object *observed(const char *name, int v, const char *ready)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\":\"x.io/v1\",\"kind\":\"Part\",\"metadata\":{\"name\":\"%s\",\"generation\":2,"
		 "\"labels\":{\"a\":\"b\",\"extra\":\"1\"}},\"spec\":{\"v\":%d,\"defaulted\":true}%s%s%s}",
		 name, v, ready ? ",\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" : "",
		 ready ? ready : "", ready ? "\",\"reason\":\"AllGood\"}]}" : "");
	return json(buf);
}

struct fixture {
	struct rollout_child c[3];
	struct json_object *objs[6];
};

static void setup(struct fixture *f, enum update_strategy s, int want, const int have[3], const char *const ready[3])
{
	static const char *const names[] = { "a", "b", "c" };
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++) {
		f->objs[i] = desired(names[i], want);
		f->objs[3 + i] = have[i] ? observed(names[i], have[i], ready[i]) : NULL;
		f->c[i] = (struct rollout_child){ .strategy = s,
						  .checks = &ready_checks,
						  .kind = "Part",
						  .name = names[i],
						  .desired = f->objs[i],
						  .observed = f->objs[3 + i] };
	}
}

static void teardown_fixture(struct fixture *f)
{
	for (int i = 0; i < 6; i++)
		json_object_put(f->objs[i]);
}

Test(rollout, methods)
{
	cr_assert(rollout_is_rolling(UPDATE_ROLLING_RECREATE));
	cr_assert(rollout_is_rolling(UPDATE_ROLLING_INPLACE));
	cr_assert_not(rollout_is_rolling(UPDATE_ONDELETE));
	cr_assert_not(rollout_is_rolling(UPDATE_INPLACE));
	cr_assert_eq(rollout_method(UPDATE_ROLLING_RECREATE), UPDATE_RECREATE);
	cr_assert_eq(rollout_method(UPDATE_ROLLING_INPLACE), UPDATE_INPLACE);
	cr_assert_eq(rollout_method(UPDATE_ONDELETE), UPDATE_ONDELETE);
}

Test(rollout, updated_ignores_server_defaults_but_not_labels)
{
	struct json_object *d = desired("a", 1), *o = observed("a", 1, NULL), *o2 = observed("a", 2, NULL);
	cr_assert(rollout_updated(d, o));
	cr_assert_not(rollout_updated(d, o2));
	struct json_object *labels = NULL;
	json_object_object_get_ex(json_object_object_get(d, "metadata"), "labels", &labels);
	json_object_object_add(labels, "new", json_object_new_string("x"));
	cr_assert_not(rollout_updated(d, o), "a label the hook adds is a change");
	json_object_put(d);
	json_object_put(o);
	json_object_put(o2);
}

Test(rollout, all_new_children_are_created_at_once)
{
	struct fixture f;
	static const int have[3] = { 0, 0, 0 };
	static const char *const ready[3] = { NULL, NULL, NULL };
	setup(&f, UPDATE_ROLLING_INPLACE, 1, have, ready);
	struct rollout r;
	rollout_plan(f.c, 3, &r);
	for (int i = 0; i < 3; i++)
		cr_assert_not(f.c[i].hold);
	/* New, not observed yet: metacontroller says "missing child" and waits
	 * for them; here there is nothing left to update either way. */
	cr_assert_eq(r.state, ROLLOUT_DONE, "%d %s", r.state, r.message);
	teardown_fixture(&f);
}

Test(rollout, one_at_a_time_in_the_hooks_order)
{
	struct fixture f;
	static const int have[3] = { 1, 1, 1 };
	static const char *const ready[3] = { "True", "True", "True" };
	setup(&f, UPDATE_ROLLING_RECREATE, 2, have, ready);
	struct rollout r;
	rollout_plan(f.c, 3, &r);
	cr_assert_eq(r.state, ROLLOUT_PROGRESSING);
	cr_assert_not(f.c[0].hold);
	cr_assert(f.c[1].hold);
	cr_assert(f.c[2].hold);
	cr_assert_str_eq(r.message, "updating Part a");
	teardown_fixture(&f);
}

Test(rollout, an_updated_child_failing_its_checks_pauses_the_rollout)
{
	struct fixture f;
	static const int have[3] = { 2, 1, 1 };
	static const char *const ready[3] = { "False", "True", "True" };
	setup(&f, UPDATE_ROLLING_RECREATE, 2, have, ready);
	struct rollout r;
	rollout_plan(f.c, 3, &r);
	cr_assert_eq(r.state, ROLLOUT_WAITING);
	cr_assert(f.c[1].hold && f.c[2].hold);
	cr_assert_str_eq(r.message,
			 "child Part a failed status check: \"Ready\" condition status is \"False\" (want "
			 "\"True\")");
	teardown_fixture(&f);

	/* No condition at all. */
	static const char *const none[3] = { NULL, "True", "True" };
	setup(&f, UPDATE_ROLLING_RECREATE, 2, have, none);
	rollout_plan(f.c, 3, &r);
	cr_assert_eq(r.state, ROLLOUT_WAITING);
	cr_assert_str_eq(r.message, "child Part a failed status check: required condition type missing: \"Ready\"");
	teardown_fixture(&f);

	/* Ready: b goes next. */
	static const char *const ok[3] = { "True", "True", "True" };
	setup(&f, UPDATE_ROLLING_RECREATE, 2, have, ok);
	rollout_plan(f.c, 3, &r);
	cr_assert_eq(r.state, ROLLOUT_PROGRESSING);
	cr_assert_not(f.c[0].hold);
	cr_assert_not(f.c[1].hold);
	cr_assert(f.c[2].hold);
	cr_assert_str_eq(r.message, "updating Part b");
	teardown_fixture(&f);
}

Test(rollout, a_failing_child_later_in_the_order_pauses_too)
{
	/* Every child on the latest revision counts, wherever it is. */
	struct fixture f;
	static const int have[3] = { 1, 1, 2 };
	static const char *const ready[3] = { "True", "True", "False" };
	setup(&f, UPDATE_ROLLING_INPLACE, 2, have, ready);
	struct rollout r;
	rollout_plan(f.c, 3, &r);
	cr_assert_eq(r.state, ROLLOUT_WAITING);
	cr_assert(f.c[0].hold && f.c[1].hold);
	teardown_fixture(&f);
}

Test(rollout, checks_status_and_reason)
{
	struct json_object *o = observed("a", 1, "True");
	char why[256];
	cr_assert(rollout_check(UPDATE_ROLLING_RECREATE, &ready_checks, o, why, sizeof(why)));
	cr_assert(rollout_check(UPDATE_ROLLING_RECREATE, NULL, o, why, sizeof(why)), "no checks: passes");
	struct mcdef_condition_check rc = { .type = ready_type, .reason = ready_reason };
	struct mcdef_child by_reason = { .conditions = &rc, .n_conditions = 1 };
	cr_assert(rollout_check(UPDATE_ROLLING_RECREATE, &by_reason, o, why, sizeof(why)));
	static char other[] = "Other";
	rc.reason = other;
	cr_assert_not(rollout_check(UPDATE_ROLLING_RECREATE, &by_reason, o, why, sizeof(why)));
	cr_assert_str_eq(why, "\"Ready\" condition reason is \"AllGood\" (want \"Other\")");
	json_object_put(o);
}

Test(rollout, rolling_in_place_waits_for_observed_generation)
{
	struct json_object *o = json("{\"metadata\":{\"generation\":3},\"status\":{\"observedGeneration\":2,"
				     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	char why[256];
	cr_assert_not(rollout_check(UPDATE_ROLLING_INPLACE, &ready_checks, o, why, sizeof(why)));
	cr_assert(strstr(why, "hasn't observed latest spec"), "%s", why);
	cr_assert(rollout_check(UPDATE_ROLLING_RECREATE, &ready_checks, o, why, sizeof(why)), "Recreate: not checked");
	json_object_put(o);
}

Test(rollout, the_updated_condition)
{
	struct json_object *st = json("{\"replicas\":1,\"conditions\":[{\"type\":\"Mine\",\"status\":\"True\"},"
				      "{\"type\":\"Updated\",\"status\":\"True\"}]}");
	struct rollout r = { .state = ROLLOUT_WAITING };
	snprintf(r.message, sizeof(r.message), "child Part a failed status check");
	cr_assert_eq(rollout_set_condition(st, &r), 0);
	struct json_object *list = json_object_object_get(st, "conditions");
	cr_assert_eq(json_object_array_length(list), 2);
	struct json_object *u = json_object_array_get_idx(list, 1);
	cr_assert_str_eq(str(u, "type", NULL), "Updated");
	cr_assert_str_eq(str(u, "status", NULL), "False");
	cr_assert_str_eq(str(u, "reason", NULL), "RolloutWaiting");
	cr_assert_str_eq(str(u, "message", NULL), "child Part a failed status check");
	json_object_put(st);

	st = json("{}");
	r.state = ROLLOUT_DONE;
	cr_assert_eq(rollout_set_condition(st, &r), 0);
	u = json_object_array_get_idx(json_object_object_get(st, "conditions"), 0);
	cr_assert_str_eq(str(u, "reason", NULL), "OnLatestRevision");
	cr_assert_str_eq(str(u, "status", NULL), "True");
	json_object_put(st);

	st = json("{}");
	r.state = ROLLOUT_NONE;
	cr_assert_eq(rollout_set_condition(st, &r), 0);
	cr_assert_eq(json_object_object_length(st), 0);
	json_object_put(st);
}

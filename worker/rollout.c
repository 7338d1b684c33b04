#include "config.h"

#include "rollout.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "apply.h"
#include "jsonget.h"
#include "kobj.h"
#include "mcdef.h"
#include "status.h"

bool rollout_is_rolling(enum update_strategy s)
{
	return s == UPDATE_ROLLING_RECREATE || s == UPDATE_ROLLING_INPLACE;
}

enum update_strategy rollout_method(enum update_strategy s)
{
	return s == UPDATE_ROLLING_RECREATE ? UPDATE_RECREATE : s == UPDATE_ROLLING_INPLACE ? UPDATE_INPLACE : s;
}

bool rollout_updated(struct json_object *desired, struct json_object *observed)
{
	return observed && !apply_differs(desired, observed) &&
		apply_json_subset(kobj_labels(desired), kobj_labels(observed));
}

bool rollout_check(enum update_strategy s, const struct mcdef_child *checks, struct json_object *observed, char *why,
		   size_t size)
{
	if (s == UPDATE_ROLLING_INPLACE) {
		/* Not every controller writes observedGeneration: only one that
		 * does is held to it (metacontroller's rule). */
		struct json_object *og = jsonget(jsonget(observed, "status"), "observedGeneration");
		int64_t gen = kobj_generation(observed);
		if (json_object_is_type(og, json_type_int) && json_object_get_int64(og) > 0 &&
		    json_object_get_int64(og) < gen) {
			snprintf(why, size,
				 "with RollingInPlace update strategy it hasn't observed latest spec "
				 "(status.observedGeneration %lld < metadata.generation %lld)",
				 (long long)json_object_get_int64(og), (long long)gen);
			return false;
		}
	}
	for (size_t i = 0; checks && i < checks->n_conditions; i++) {
		const struct mcdef_condition_check *want = &checks->conditions[i];
		struct json_object *c = status_condition(observed, want->type);
		const char *status = jsonget_string(c, "status"), *reason = jsonget_string(c, "reason");
		if (!c) {
			snprintf(why, size, "required condition type missing: \"%s\"", want->type);
			return false;
		}
		if (want->status && (!status || strcmp(status, want->status))) {
			snprintf(why, size, "\"%s\" condition status is \"%s\" (want \"%s\")", want->type, status ?: "",
				 want->status);
			return false;
		}
		if (want->reason && (!reason || strcmp(reason, want->reason))) {
			snprintf(why, size, "\"%s\" condition reason is \"%s\" (want \"%s\")", want->type, reason ?: "",
				 want->reason);
			return false;
		}
	}
	return true;
}

/* Whether every child on the latest state (new, or updated) is happy; else
 * out says why and is WAITING. */
static bool may_continue(struct rollout_child *children, size_t n, const bool *pending, struct rollout *out)
{
	for (size_t i = 0; i < n; i++) {
		struct rollout_child *c = &children[i];
		if (pending[i])
			continue;
		char why[ROLLOUT_MESSAGE_MAX - 128];
		if (!c->observed) {
			out->state = ROLLOUT_WAITING;
			snprintf(out->message, sizeof(out->message), "missing child %s %s", c->kind, c->name);
			return false;
		}
		if (!rollout_check(c->strategy, c->checks, c->observed, why, sizeof(why))) {
			out->state = ROLLOUT_WAITING;
			snprintf(out->message, sizeof(out->message), "child %s %s failed status check: %s", c->kind,
				 c->name, why);
			return false;
		}
	}
	return true;
}

void rollout_plan(struct rollout_child *children, size_t n, struct rollout *out)
{
	memset(out, 0, sizeof(*out));
	if (!n)
		return;
	bool pending[n];
	size_t first = n;
	for (size_t i = 0; i < n; i++) {
		children[i].hold = false;
		pending[i] = children[i].observed && !rollout_updated(children[i].desired, children[i].observed);
		if (pending[i] && first == n)
			first = i;
	}
	if (first == n) {
		out->state = ROLLOUT_DONE;
		snprintf(out->message, sizeof(out->message), "every child is updated");
		return;
	}
	bool go = may_continue(children, n, pending, out);
	for (size_t i = 0; i < n; i++)
		children[i].hold = pending[i] && (!go || i != first);
	if (go) {
		out->state = ROLLOUT_PROGRESSING;
		snprintf(out->message, sizeof(out->message), "updating %s %s", children[first].kind,
			 children[first].name);
	}
}

int rollout_set_condition(struct json_object *status, const struct rollout *r)
{
	if (r->state == ROLLOUT_NONE)
		return 0;
	struct json_object *c = json_object_new_object();
	if (!c)
		return -ENOMEM;
	const char *reason = r->state == ROLLOUT_DONE ? "OnLatestRevision"
		: r->state == ROLLOUT_PROGRESSING     ? "RolloutProgressing"
						      : "RolloutWaiting";
	json_object_object_add(c, "type", json_object_new_string("Updated"));
	json_object_object_add(c, "status", json_object_new_string(r->state == ROLLOUT_DONE ? "True" : "False"));
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(r->message));
	struct json_object *list = jsonget(status, "conditions");
	if (!json_object_is_type(list, json_type_array)) {
		if (!(list = json_object_new_array()) || json_object_object_add(status, "conditions", list)) {
			json_object_put(list);
			json_object_put(c);
			return -ENOMEM;
		}
	}
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		const char *t = jsonget_string(json_object_array_get_idx(list, i), "type");
		if (t && !strcmp(t, "Updated"))
			return json_object_array_put_idx(list, i, c) ? (json_object_put(c), -ENOMEM) : 0;
	}
	return json_object_array_add(list, c) ? (json_object_put(c), -ENOMEM) : 0;
}

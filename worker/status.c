#include "config.h"

#include "status.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "jsonget.h"
#include "kobj.h"
#include "log.h"

/* metav1.Condition allows 32768; a shorter cap keeps objects readable. */
#define MESSAGE_MAX 8192

const char *status_reason_name(enum status_reason r)
{
	switch (r) {
	case STATUS_OK:
		return "ReconcileSucceeded";
	case STATUS_HOOK_FAILED:
		return "HookFailed";
	case STATUS_INVALID_HOOK_RESPONSE:
		return "InvalidHookResponse";
	case STATUS_APPLY_FAILED:
		return "ApplyFailed";
	case STATUS_WORKER_CRASHED:
		return "WorkerCrashed";
	case STATUS_FINALIZE_FAILED:
		return "FinalizeFailed";
	case STATUS_CHILD_CONFLICT:
		return "ChildConflict";
	case STATUS_FINALIZING:
		return "Finalizing";
	}
	return "Unknown";
}

void status_format_time(time_t t, char buf[static 32])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

/* A copy of v without null members in its objects (at any depth): the API
 * stores none, so a status holding them would never compare equal. */
static struct json_object *copy_without_nulls(struct json_object *v)
{
	if (json_object_is_type(v, json_type_object)) {
		struct json_object *out = json_object_new_object();
		if (!out)
			return NULL;
		json_object_object_foreach(v, key, val)
		{
			if (!val)
				continue;
			struct json_object *c = copy_without_nulls(val);
			if (!c || json_object_object_add(out, key, c)) {
				json_object_put(c);
				json_object_put(out);
				return NULL;
			}
		}
		return out;
	}
	if (json_object_is_type(v, json_type_array)) {
		struct json_object *out = json_object_new_array();
		if (!out)
			return NULL;
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			struct json_object *c = e ? copy_without_nulls(e) : NULL;
			if ((e && !c) || json_object_array_add(out, c)) {
				json_object_put(c);
				json_object_put(out);
				return NULL;
			}
		}
		return out;
	}
	struct json_object *out = NULL;
	return json_object_deep_copy(v, &out, NULL) ? NULL : out;
}

/* Appends printf-style text to buf (cap bytes) at *len, marking a cut with "...". */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	if (*len >= cap - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= cap - *len) {
		*len = cap - 1;
		memcpy(buf + cap - 4, "...", 4);
	} else {
		*len += (size_t)n;
	}
}

/* The Synced message for reason r. */
static void synced_message(const struct status_outcome *o, enum status_reason r, char *buf, size_t cap)
{
	size_t len = 0;
	buf[0] = '\0';
	const struct apply_report *a = o->apply;
	if (r == STATUS_OK) {
		size_t applied = 0;
		for (size_t i = 0; a && i < a->n; i++)
			applied += a->results[i].action != APPLY_DELETED;
		append(buf, cap, &len, "the hook ran and all %zu of its children are applied", applied);
	} else if ((r == STATUS_APPLY_FAILED || r == STATUS_CHILD_CONFLICT) && a && (a->n_failed || a->n_conflicts)) {
		if (a->n_conflicts)
			append(buf, cap, &len, "%zu of %zu children are not this parent's%s", a->n_conflicts, a->n,
			       a->n_failed ? "" : ": ");
		if (a->n_failed)
			append(buf, cap, &len, "%s%zu of %zu children failed: ", a->n_conflicts ? ", " : "",
			       a->n_failed, a->n);
		const char *sep = "";
		for (size_t i = 0; i < a->n; i++) {
			const struct apply_result *res = &a->results[i];
			if (res->action != APPLY_FAILED && res->action != APPLY_CONFLICT)
				continue;
			if (res->action == APPLY_CONFLICT)
				append(buf, cap, &len, "%s%s", sep, res->err.msg); /* it names the child */
			else
				append(buf, cap, &len, "%s%s/%s: %s", sep, res->kind, res->name, res->err.msg);
			sep = "; ";
		}
	} else if (o->message && *o->message) {
		append(buf, cap, &len, "%s", o->message);
	} else {
		append(buf, cap, &len, "%s (no details)", status_reason_name(r));
	}
}

/* The condition of type in list (an array), or NULL. */
static struct json_object *find_condition(struct json_object *list, const char *type)
{
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		const char *t = jsonget_string(c, "type");
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

struct json_object *status_condition(struct json_object *o, const char *type)
{
	return find_condition(jsonget(jsonget(o, "status"), "conditions"), type);
}

/* A condition; lastTransitionTime kept from the same type in old when its
 * status is the same, else now. */
static struct json_object *condition(const char *type, bool value, const char *reason, const char *message,
				     struct json_object *old_list, struct json_object *generation, time_t now)
{
	const char *status = value ? "True" : "False";
	struct json_object *old = find_condition(old_list, type);
	const char *old_status = jsonget_string(old, "status"), *old_time = jsonget_string(old, "lastTransitionTime");
	char when[32];
	if (old_status && old_time && !strcmp(old_status, status))
		snprintf(when, sizeof(when), "%s", old_time);
	else
		status_format_time(now, when);
	struct json_object *c = json_object_new_object();
	if (!c)
		return NULL;
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string(status));
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(message));
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(when));
	if (generation)
		json_object_object_add(c, "observedGeneration", json_object_get(generation));
	return c;
}

struct json_object *status_compute(struct json_object *parent, const struct status_outcome *o, time_t now)
{
	struct json_object *current = jsonget(parent, "status");
	struct json_object *generation = jsonget(jsonget(parent, "metadata"), "generation");
	if (!json_object_is_type(generation, json_type_int))
		generation = NULL;
	/* The hook's status when it answered, else what the parent shows. */
	struct json_object *base = json_object_is_type(o->hook_status, json_type_object) ? o->hook_status
		: json_object_is_type(current, json_type_object)                         ? current
											 : NULL;
	struct json_object *st = base ? copy_without_nulls(base) : json_object_new_object();
	if (!st)
		return NULL;
	struct json_object *others = jsonget(st, "conditions");
	json_object_get(others);
	json_object_object_del(st, "conditions");
	json_object_object_del(st, "observedGeneration");
	if (generation)
		json_object_object_add(st, "observedGeneration", json_object_get(generation));

	enum status_reason r = o->reason;
	if (r == STATUS_OK && o->apply && o->apply->n_conflicts)
		r = STATUS_CHILD_CONFLICT;
	else if (r == STATUS_OK && o->apply && o->apply->n_failed)
		r = STATUS_APPLY_FAILED;
	char *msg = malloc(MESSAGE_MAX);
	struct json_object *list = json_object_new_array();
	if (!msg || !list)
		goto oom;
	synced_message(o, r, msg, MESSAGE_MAX);
	struct json_object *old = jsonget(current, "conditions");
	struct json_object *synced = condition("Synced", r == STATUS_OK, status_reason_name(r), msg, old, generation,
					       now);
	struct json_object *ready_flag = jsonget(o->hook_status, "ready");
	struct json_object *ready;
	if (json_object_is_type(ready_flag, json_type_boolean)) {
		bool yes = json_object_get_boolean(ready_flag);
		/* The hook's own words, when it gives them, say best why. */
		struct json_object *said = jsonget(o->hook_status, "message");
		const char *why = json_object_is_type(said, json_type_string) ? json_object_get_string(said)
			: yes                                                 ? "the hook reports the object ready"
									      : "the hook reports the object not ready";
		ready = condition("Ready", yes, yes ? "HookReportedReady" : "HookReportedNotReady", why, old,
				  generation, now);
	} else {
		ready = condition("Ready", r == STATUS_OK, status_reason_name(r), msg, old, generation, now);
	}
	if (!synced || !ready || json_object_array_add(list, synced)) {
		json_object_put(synced);
		json_object_put(ready);
		goto oom;
	}
	if (json_object_array_add(list, ready)) {
		json_object_put(ready);
		goto oom;
	}
	/* The hook's own condition types stay, after ours. */
	size_t n = json_object_is_type(others, json_type_array) ? json_object_array_length(others) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(others, i);
		const char *t = jsonget_string(c, "type");
		if (t && (!strcmp(t, "Synced") || !strcmp(t, "Ready")))
			continue;
		if (json_object_array_add(list, json_object_get(c))) {
			json_object_put(c);
			goto oom;
		}
	}
	json_object_object_add(st, "conditions", list);
	json_object_put(others);
	free(msg);
	return st;
oom:
	json_object_put(list);
	json_object_put(others);
	json_object_put(st);
	free(msg);
	return NULL;
}

/* Whether the hook answered in an outcome of reason r (its status, maybe
 * none, is then the one to write). */
static bool hook_answered(enum status_reason r)
{
	return r == STATUS_OK || r == STATUS_APPLY_FAILED || r == STATUS_CHILD_CONFLICT || r == STATUS_FINALIZING;
}

int status_compute_mc(struct json_object *parent, const struct status_outcome *o, bool conditions, time_t now,
		      struct json_object **out)
{
	*out = NULL;
	if (conditions)
		return (*out = status_compute(parent, o, now)) ? 0 : -ENOMEM;
	if (!hook_answered(o->reason))
		return 0;
	struct json_object *st = json_object_is_type(o->hook_status, json_type_object)
		? copy_without_nulls(o->hook_status)
		: json_object_new_object();
	if (!st)
		return -ENOMEM;
	struct json_object *generation = jsonget(jsonget(parent, "metadata"), "generation");
	json_object_object_del(st, "observedGeneration");
	if (json_object_is_type(generation, json_type_int) &&
	    json_object_object_add(st, "observedGeneration", json_object_get(generation))) {
		json_object_put(generation);
		json_object_put(st);
		return -ENOMEM;
	}
	*out = st;
	return 0;
}

bool status_schema_declares_conditions(struct json_object *status_schema)
{
	return jsonget(jsonget(status_schema, "properties"), "conditions") != NULL;
}

/* Merges src into dst (both objects; dst changed): objects key by key,
 * other values (copied) replace. 0, or -ENOMEM. */
static int merge_into(struct json_object *dst, struct json_object *src)
{
	json_object_object_foreach(src, key, val)
	{
		struct json_object *have = jsonget(dst, key);
		if (json_object_is_type(val, json_type_object) && json_object_is_type(have, json_type_object)) {
			if (merge_into(have, val))
				return -ENOMEM;
			continue;
		}
		struct json_object *copy = val ? copy_without_nulls(val) : NULL;
		if (!val)
			continue; /* a null from the hook removes nothing of others' */
		if (!copy || json_object_object_add(dst, key, copy)) {
			json_object_put(copy);
			return -ENOMEM;
		}
	}
	return 0;
}

struct json_object *status_compute_builtin(struct json_object *parent, struct json_object *hook_status)
{
	if (!json_object_is_type(hook_status, json_type_object) || !json_object_object_length(hook_status))
		return NULL;
	struct json_object *current = jsonget(parent, "status");
	struct json_object *st = json_object_is_type(current, json_type_object) ? copy_without_nulls(current)
										: json_object_new_object();
	if (st && merge_into(st, hook_status)) {
		json_object_put(st);
		return NULL;
	}
	return st;
}

static bool is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Deep equality with numbers by value (a hook's 1.0 is the API's 1). */
static bool same(struct json_object *a, struct json_object *b)
{
	if (is_number(a) && is_number(b)) {
		if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
			return json_object_equal(a, b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return false;
	if (json_object_is_type(a, json_type_object)) {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, val)
		{
			struct json_object *other = NULL;
			if (!json_object_object_get_ex(b, key, &other) || !same(val, other))
				return false;
		}
		return true;
	}
	if (json_object_is_type(a, json_type_array)) {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!same(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	return json_object_equal(a, b);
}

bool status_unchanged(struct json_object *parent, struct json_object *status)
{
	struct json_object *current = jsonget(parent, "status");
	return current && status && same(current, status);
}

/* The merge patch turning object cur into object want. */
static struct json_object *diff(struct json_object *cur, struct json_object *want)
{
	struct json_object *out = json_object_new_object();
	if (!out)
		return NULL;
	json_object_object_foreach(want, key, val)
	{
		struct json_object *was = jsonget(cur, key), *v = NULL;
		/* Only what changes: a field someone else keeps current is not
		 * written back with the value this worker happened to read. */
		if (val && was && same(val, was))
			continue;
		if (json_object_is_type(val, json_type_object) && json_object_is_type(was, json_type_object))
			v = diff(was, val);
		else if (json_object_deep_copy(val, &v, NULL))
			v = NULL;
		if ((val && !v) || json_object_object_add(out, key, v)) {
			json_object_put(v);
			json_object_put(out);
			return NULL;
		}
	}
	if (json_object_is_type(cur, json_type_object)) {
		json_object_object_foreach(cur, ckey, cval)
		{
			(void)cval;
			if (!json_object_object_get_ex(want, ckey, NULL) && json_object_object_add(out, ckey, NULL)) {
				json_object_put(out);
				return NULL;
			}
		}
	}
	return out;
}

struct json_object *status_merge_patch(struct json_object *parent, struct json_object *status)
{
	struct json_object *patch = json_object_new_object();
	struct json_object *d = patch ? diff(jsonget(parent, "status"), status) : NULL;
	if (!d || json_object_object_add(patch, "status", d)) {
		json_object_put(d);
		json_object_put(patch);
		return NULL;
	}
	return patch;
}

/* In status (owned, changed in place), the observedGeneration fields that
 * say gen, at the top and in the conditions, made gen + 1. */
static void bump_observed(struct json_object *status, int64_t gen)
{
	struct json_object *og = jsonget(status, "observedGeneration");
	if (json_object_is_type(og, json_type_int) && json_object_get_int64(og) == gen)
		json_object_object_add(status, "observedGeneration", json_object_new_int64(gen + 1));
	struct json_object *conds = jsonget(status, "conditions");
	size_t n = json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		og = jsonget(c, "observedGeneration");
		if (json_object_is_type(og, json_type_int) && json_object_get_int64(og) == gen)
			json_object_object_add(c, "observedGeneration", json_object_new_int64(gen + 1));
	}
}

int status_write(struct kclient *c, struct discovery *d, struct json_object *parent, struct json_object *status,
		 bool *written, bool *main_resource, struct json_object **out, struct cx_err *err)
{
	bool ignored, ignored2;
	if (!written)
		written = &ignored;
	if (!main_resource)
		main_resource = &ignored2;
	*written = *main_resource = false;
	if (out)
		*out = NULL;
	if (status_unchanged(parent, status))
		return 0;
	const char *api_version = jsonget_string(parent, "apiVersion"), *kind = jsonget_string(parent, "kind");
	const char *name = kobj_name(parent), *ns = kobj_namespace(parent);
	const char *rv = kobj_resource_version(parent);
	struct json_object *gen = jsonget(kobj_meta(parent), "generation");
	if (!api_version || !kind || !name)
		return cx_err_set(err, -EINVAL, "status: the parent has no %s",
				  !api_version    ? "apiVersion"
					  : !kind ? "kind"
						  : "metadata.name");
	const struct kresource *r = NULL;
	int rc = discovery_resolve(d, api_version, kind, &r, err);
	if (rc)
		return rc;
	*main_resource = !r->has_status;
	struct json_object *want = NULL;
	if (json_object_deep_copy(status, &want, NULL) || !want)
		return cx_err_set(err, -ENOMEM, "out of memory");
	if (*main_resource && json_object_is_type(gen, json_type_int))
		bump_observed(want, json_object_get_int64(gen));
	char *path = kresource_path(r, r->namespaced ? ns : NULL, name, r->has_status ? "status" : NULL);
	struct json_object *patch = status_merge_patch(parent, want);
	if (patch && *main_resource && rv) {
		struct json_object *pmeta = json_object_new_object();
		if (!pmeta || json_object_object_add(patch, "metadata", pmeta) ||
		    json_object_object_add(pmeta, "resourceVersion", json_object_new_string(rv))) {
			json_object_put(patch);
			patch = NULL;
		}
	}
	json_object_put(want);
	if (!path || !patch) {
		free(path);
		json_object_put(patch);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	rc = kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, out, err);
	if (rc == 0) {
		*written = true;
		log_kv(LOG_LEVEL_INFO, 4, "status written", "path", path, NULL);
	}
	free(path);
	json_object_put(patch);
	return rc;
}

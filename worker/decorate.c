#include "config.h"

#include "decorate.h"
#include "apply.h"
#include "crdschema.h"
#include "cxconfig.h"
#include "discovery.h"
#include "events.h"
#include "finalizer.h"
#include "hook.h"
#include "related.h"
#include "jsonget.h"
#include "kobj.h"
#include "kclient.h"
#include "log.h"
#include "mcdef.h"
#include "selector.h"
#include "status.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A finalize hook that is not done yet is asked again this soon, unless it
 * says when (resyncAfterSeconds); reconcile.c's pace. */
#define FINALIZE_POLL_MS 5000

/* ---- the pure parts ---- */

/* The non-null members of m (NULL: none) as a new object, or NULL when
 * there are none. *oom set when out of memory. */
static struct json_object *non_null(struct json_object *m, bool *oom)
{
	struct json_object *out = NULL;
	if (!m || !json_object_is_type(m, json_type_object))
		return NULL;
	json_object_object_foreach(m, k, v)
	{
		if (!v)
			continue;
		if ((!out && !(out = json_object_new_object())) || json_object_object_add(out, k, json_object_get(v))) {
			*oom = true;
			return out;
		}
	}
	return out;
}

struct json_object *decorate_metadata_apply(struct json_object *object, struct json_object *labels,
					    struct json_object *annotations)
{
	struct json_object *meta = jsonget(object, "metadata");
	struct json_object *body = json_object_new_object(), *m = json_object_new_object();
	bool oom = !body || !m;
	const char *ns = jsonget_nonempty(meta, "namespace");
	oom = oom ||
		json_object_object_add(body, "apiVersion",
				       json_object_new_string(jsonget_string(object, "apiVersion") ?: ""));
	oom = oom || json_object_object_add(body, "kind", json_object_new_string(jsonget_string(object, "kind") ?: ""));
	oom = oom || json_object_object_add(m, "name", json_object_new_string(jsonget_string(meta, "name") ?: ""));
	oom = oom || (ns && json_object_object_add(m, "namespace", json_object_new_string(ns)));
	struct json_object *l = oom ? NULL : non_null(labels, &oom);
	if (l && json_object_object_add(m, "labels", l)) {
		json_object_put(l);
		oom = true;
	}
	struct json_object *a = oom ? NULL : non_null(annotations, &oom);
	if (a && json_object_object_add(m, "annotations", a)) {
		json_object_put(a);
		oom = true;
	}
	if (!oom && !json_object_object_add(body, "metadata", m))
		return body;
	json_object_put(m);
	json_object_put(body);
	return NULL;
}

/* {k: null} for each k set to null in want that have still has; added to
 * patch_meta under name. Returns false when out of memory. */
static bool removals(struct json_object *have, struct json_object *want, const char *name,
		     struct json_object *patch_meta)
{
	if (!want || !json_object_is_type(want, json_type_object))
		return true;
	struct json_object *gone = NULL;
	json_object_object_foreach(want, k, v)
	{
		if (v || !jsonget(have, k))
			continue;
		if (!gone && (!(gone = json_object_new_object()) || json_object_object_add(patch_meta, name, gone)))
			return false;
		if (json_object_object_add(gone, k, NULL))
			return false;
	}
	return true;
}

struct json_object *decorate_null_patch(struct json_object *object, struct json_object *labels,
					struct json_object *annotations)
{
	struct json_object *meta = jsonget(object, "metadata");
	struct json_object *patch = json_object_new_object(), *pm = json_object_new_object();
	if (!patch || !pm || json_object_object_add(patch, "metadata", pm)) {
		json_object_put(pm);
		json_object_put(patch);
		return NULL;
	}
	if (!removals(jsonget(meta, "labels"), labels, "labels", pm) ||
	    !removals(jsonget(meta, "annotations"), annotations, "annotations", pm) || !json_object_object_length(pm)) {
		json_object_put(patch);
		return NULL;
	}
	return patch;
}

bool decorate_manages(struct json_object *object, const char *field_manager)
{
	struct json_object *mf = jsonget(jsonget(object, "metadata"), "managedFields");
	size_t n = mf && json_object_is_type(mf, json_type_array) ? json_object_array_length(mf) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		const char *m = jsonget_string(e, "manager"), *op = jsonget_string(e, "operation");
		if (m && op && field_manager && !strcmp(m, field_manager) && !strcmp(op, "Apply"))
			return true;
	}
	return false;
}

/* ---- talking to the API server ---- */

static void set_outcome(struct reconcile_outcome *out, enum proto_outcome o, int64_t after_ms, const char *msg)
{
	out->outcome = o;
	out->requeue_after_ms = after_ms;
	snprintf(out->message, sizeof(out->message), "%s", msg ? msg : "");
}

static void warn(const struct decorate_env *env, struct json_object *object, const char *reason, const char *msg)
{
	struct cx_err err = { 0 };
	log_kv(LOG_LEVEL_WARNING, 0, msg, "controller", env->cc->name, "reason", reason, NULL);
	if (env->events && events_post(env->events, object, EVENT_WARNING, reason, msg, NULL, &err))
		log_kv(LOG_LEVEL_WARNING, 0, "cannot post an Event", "controller", env->cc->name, "error", err.msg,
		       NULL);
}

/* The object's path (owned) into *path, its kind's resource into *res. */
static int object_path(const struct decorate_env *env, struct json_object *object, const struct kresource **res,
		       const char *sub, char **path, struct cx_err *err)
{
	int rc = discovery_resolve(env->d, jsonget_string(object, "apiVersion") ?: "",
				   jsonget_string(object, "kind") ?: "", res, err);
	if (rc)
		return rc;
	*path = kresource_path(*res, (*res)->namespaced ? kobj_namespace(object) : NULL, kobj_name(object), sub);
	return *path ? 0 : cx_err_set(err, -ENOMEM, "out of memory");
}

/* The hook's labels and annotations onto *object (a reference the caller
 * owns, replaced by the object as the server now has it). */
static int write_metadata(const struct decorate_env *env, struct json_object **object, struct json_object *labels,
			  struct json_object *annotations, struct cx_err *err)
{
	const char *fm = env->cc->field_manager;
	if (!fm || !*fm)
		return cx_err_set(err, -EINVAL, "controller %s has no field manager", env->cc->name);
	struct json_object *body = decorate_metadata_apply(*object, labels, annotations);
	if (!body)
		return cx_err_set(err, -ENOMEM, "out of memory");
	const struct kresource *res = NULL;
	char *path = NULL;
	int rc = 0;
	struct json_object *m = jsonget(body, "metadata"), *now = NULL;
	/* Nothing to set and nothing of ours to take away: no request (an empty
	 * apply would still leave an empty managedFields entry behind). */
	bool needed = jsonget(m, "labels") || jsonget(m, "annotations") || decorate_manages(*object, fm);
	if (needed && !(rc = object_path(env, *object, &res, NULL, &path, err))) {
		rc = kclient_apply(env->c, path, body, fm, true, &now, err);
		if (rc)
			cx_err_prefix(err, "cannot apply the labels and annotations: ");
		else if (now) {
			proto_writes_note(env->writes, now);
			json_object_put(*object);
			*object = now;
		}
	}
	json_object_put(body);
	struct json_object *patch = rc ? NULL : decorate_null_patch(*object, labels, annotations);
	if (patch) {
		now = NULL;
		if (!path)
			rc = object_path(env, *object, &res, NULL, &path, err);
		if (!rc && (rc = kclient_patch(env->c, path, KCLIENT_PATCH_MERGE, patch, &now, err)))
			cx_err_prefix(err, "cannot remove the labels and annotations the hook set to null: ");
		else if (!rc && now) {
			proto_writes_note(env->writes, now);
			json_object_put(*object);
			*object = now;
		}
		json_object_put(patch);
	}
	free(path);
	return rc;
}

/* The hook's status onto *object: replaced on a custom resource, merged
 * into a built-in kind's (see decorate.h). */
static int write_status(const struct decorate_env *env, struct json_object **object, struct json_object *hook_status,
			struct cx_err *err)
{
	const struct kresource *res = NULL;
	struct crdschema_info info;
	int rc = discovery_resolve(env->d, jsonget_string(*object, "apiVersion") ?: "",
				   jsonget_string(*object, "kind") ?: "", &res, err);
	if (!rc)
		rc = crdschema_lookup(env->schemas, res, (int64_t)time(NULL) * 1000, &info, err);
	if (rc)
		return rc;
	struct json_object *status = info.is_crd ? json_object_get(hook_status)
						 : status_compute_builtin(*object, hook_status);
	if (!status)
		return 0; /* a built-in kind's merge with nothing in it */
	struct json_object *stored = NULL;
	bool written = false;
	rc = status_write(env->c, env->d, *object, status, &written, NULL, &stored, err);
	json_object_put(status);
	if (rc)
		cx_err_prefix(err, "cannot write the status: ");
	else if (written)
		proto_writes_note(env->writes, stored);
	if (stored) {
		json_object_put(*object);
		*object = stored;
	}
	return rc;
}

/* The attachments as apply_children is to write them: copies marked with
 * metacontroller's annotation. Owned; NULL when out of memory. */
static struct json_object *marked(const struct decorate_env *env, struct json_object *attachments)
{
	const char *name = env->cc->mc && env->cc->mc->name ? env->cc->mc->name : env->cc->name;
	struct json_object *out = NULL;
	if (json_object_deep_copy(attachments, &out, NULL))
		return NULL;
	size_t n = json_object_array_length(out);
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(out, i), *meta = jsonget(a, "metadata"), *ann = NULL;
		if (!json_object_object_get_ex(meta, "annotations", &ann) ||
		    !json_object_is_type(ann, json_type_object)) {
			if (!(ann = json_object_new_object()) || json_object_object_add(meta, "annotations", ann)) {
				json_object_put(ann);
				json_object_put(out);
				return NULL;
			}
		}
		if (json_object_object_add(ann, DECORATE_ATTACHMENT_ANNOTATION, json_object_new_string(name))) {
			json_object_put(out);
			return NULL;
		}
	}
	return out;
}

/* Applies and prunes the attachments; Events per created/deleted/failed one. */
static int write_attachments(const struct decorate_env *env, struct json_object *object, struct json_object *observed,
			     struct json_object *attachments, struct cx_err *err)
{
	struct json_object *desired = marked(env, attachments);
	if (!desired)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct apply_report applied = { 0 };
	struct cx_err aerr = { 0 }, ev_err = { 0 };
	int rc = apply_children(env->c, env->d, env->cc, object, observed, desired, &applied, &aerr);
	proto_writes_append(env->writes, applied.writes);
	if (env->events && events_post_apply(env->events, object, &applied, &ev_err))
		log_kv(LOG_LEVEL_WARNING, 0, "cannot post an Event", "controller", env->cc->name, "error", ev_err.msg,
		       NULL);
	const struct apply_result *first = NULL;
	for (size_t i = 0; i < applied.n && !first; i++)
		if (applied.results[i].action == APPLY_FAILED || applied.results[i].action == APPLY_CONFLICT)
			first = &applied.results[i];
	if (first)
		rc = cx_err_set(err, -EIO, "%zu of %zu attachments failed or are not this object's; first: %s/%s: %s",
				applied.n_failed + applied.n_conflicts, applied.n, first->kind, first->name,
				first->err.msg);
	else if (rc)
		rc = cx_err_set(err, rc, "applying the attachments failed: %s", aerr.msg);
	apply_report_clear(&applied);
	json_object_put(desired);
	return rc;
}

/* Applies an answer: metadata, status, then the attachments (when
 * attachments). Each part is tried even when one before failed; the first
 * failure is returned. */
static int apply_answer(const struct decorate_env *env, struct json_object *object, struct json_object *observed,
			const struct hook_decorator_result *res, bool attachments, struct cx_err *err)
{
	struct json_object *cur = json_object_get(object);
	struct cx_err e1 = { 0 }, e2 = { 0 }, e3 = { 0 };
	int rc1 = write_metadata(env, &cur, res->labels, res->annotations, &e1);
	int rc2 = res->status ? write_status(env, &cur, res->status, &e2) : 0;
	/* The attachments' ownerReference needs only the uid, which no write
	 * above changes. */
	int rc3 = attachments ? write_attachments(env, object, observed, res->attachments, &e3) : 0;
	json_object_put(cur);
	const struct cx_err *first = rc1 ? &e1 : rc2 ? &e2 : rc3 ? &e3 : NULL;
	if (!first)
		return 0;
	*err = *first;
	return first->code;
}

/* ---- the job ---- */

/* The customize hook first, when there is one (worker/related.h): its
 * related objects go into the request, its rules into out for RESULT, and
 * its failure is the hook's. */
static int run_hook(const struct decorate_env *env, const struct config_hook *h, bool finalizing,
		    struct json_object *object, struct json_object *observed, struct hook_decorator_result *res,
		    struct reconcile_outcome *out, struct cx_err *err)
{
	struct hook_def def = hook_def_from_config(env->c, env->cc, h);
	struct json_object *related = NULL;
	int rc = env->rel ? related_get(env->rel, env->cc, env->controller, object, &related, &out->related_rules, err)
			  : 0;
	if (rc)
		return rc;
	struct json_object *request = NULL;
	rc = hook_decorator_request_new(env->controller, object, env->kinds, env->cc->n_children, observed, finalizing,
					def.version, &request, err);
	if (!rc && related && (rc = hook_request_set_related(request, related, def.version, err))) {
		json_object_put(request);
		request = NULL;
	}
	json_object_put(related);
	if (rc)
		return rc;
	rc = hook_decorator_run(&def, request, finalizing, env->kinds, env->cc->n_children, kobj_namespace(object), res,
				err);
	json_object_put(request);
	return rc;
}

static const char *hook_reason(int code)
{
	return code == -EPROTO || code == -EBADMSG ? "InvalidHookResponse" : "HookFailed";
}

static bool being_deleted(struct json_object *object)
{
	return kobj_deleting(object);
}

static void fail(const struct decorate_env *env, struct json_object *object, const char *reason,
		 const struct cx_err *err, struct reconcile_outcome *out)
{
	warn(env, object, events_failure_reason(env->cc, reason), err->msg);
	set_outcome(out, PROTO_OUTCOME_ERROR, 0, err->msg);
}

/* Being deleted, with our finalizer: see decorate.h. */
static void finalize(const struct decorate_env *env, const struct proto_job *job, struct reconcile_outcome *out)
{
	struct json_object *object = job->parent;
	struct cx_err err = { 0 };
	struct hook_decorator_result res = { 0 };
	int rc = env->cc->finalize.set ? run_hook(env, &env->cc->finalize, true, object, job->children, &res, out, &err)
				       : 0;
	if (!env->cc->finalize.set)
		res.finalized = true; /* a finalizer a config with a finalize hook left */
	if (rc) {
		fail(env, object, "FinalizeFailed", &err, out);
	} else if (!res.finalized) {
		bool gc = finalizer_has(object, "foregroundDeletion") || finalizer_has(object, "orphan");
		if (apply_answer(env, object, job->children, &res, res.attachments_given && !gc, &err))
			fail(env, object, "FinalizeFailed", &err, out);
		else
			set_outcome(out, PROTO_OUTCOME_REQUEUE,
				    res.resync_after_ms > 0 ? res.resync_after_ms : FINALIZE_POLL_MS, NULL);
	} else if (finalizer_remove(env->c, env->d, env->cc, object, NULL, NULL, &err)) {
		fail(env, object, "FinalizeFailed", &err, out);
	} else {
		set_outcome(out, PROTO_OUTCOME_OK, 0, NULL);
	}
	hook_decorator_result_clear(&res);
}

static void sync_object(const struct decorate_env *env, const struct proto_job *job, struct reconcile_outcome *out)
{
	struct json_object *object = job->parent, *updated = NULL;
	struct cx_err err = { 0 };
	bool changed = false;
	if (finalizer_ensure(env->c, env->d, env->cc, object, &changed, &updated, &err)) {
		fail(env, object, "HookFailed", &err, out);
		return;
	}
	if (updated)
		object = updated;
	if (changed)
		proto_writes_note(env->writes, updated); /* its echo must not sync the object again */
	struct hook_decorator_result res = { 0 };
	int rc = run_hook(env, &env->cc->sync, false, object, job->children, &res, out, &err);
	if (rc)
		fail(env, object, hook_reason(rc), &err, out);
	else if (apply_answer(env, object, job->children, &res, true, &err))
		fail(env, object, "ApplyFailed", &err, out);
	else
		set_outcome(out, PROTO_OUTCOME_OK, res.resync_after_ms, NULL);
	hook_decorator_result_clear(&res);
	json_object_put(updated);
}

void decorate_job(const struct decorate_env *env, const struct proto_job *job, struct reconcile_outcome *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *object = job->parent;
	if (job->kind == PROTO_JOB_POISON) {
		warn(env, object, events_failure_reason(env->cc, "WorkerCrashed"),
		     job->message ? job->message : "the worker crashed on this object");
		set_outcome(out, PROTO_OUTCOME_OK, 0, NULL);
		return;
	}
	const char *fin = env->cc->finalizer;
	bool ours = fin && *fin && finalizer_has(object, fin);
	struct cx_err err = { 0 };
	if (being_deleted(object)) {
		if (ours)
			finalize(env, job, out);
		else
			set_outcome(out, PROTO_OUTCOME_OK, 0, NULL); /* the garbage collector takes the attachments */
		return;
	}
	if (!selector_matches_annotations(env->cc->annotation_selector, object)) {
		/* No longer selected: no longer decorated. */
		if (ours && finalizer_remove(env->c, env->d, env->cc, object, NULL, NULL, &err))
			fail(env, object, "HookFailed", &err, out);
		else
			set_outcome(out, PROTO_OUTCOME_OK, 0, NULL);
		return;
	}
	sync_object(env, job, out);
}

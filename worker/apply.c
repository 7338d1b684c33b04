#include "config.h"

#include "apply.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "jsonget.h"
#include "log.h"

/* ---- small json-c helpers ---- */

static const char *meta_string(struct json_object *o, const char *key)
{
	return jsonget_nonempty(jsonget(o, "metadata"), key);
}

/* o[key] as an object, added when missing or not an object. NULL: no memory. */
static struct json_object *object_member(struct json_object *o, const char *key)
{
	struct json_object *v = jsonget(o, key);
	if (json_object_is_type(v, json_type_object))
		return v;
	v = json_object_new_object();
	if (v && json_object_object_add(o, key, v)) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

static bool is_true(struct json_object *v)
{
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* ---- stamping ---- */

/* Metadata the server owns: echoing it back (a hook that copies the observed
 * child) would make the apply a precondition or be refused outright. */
static const char *const server_fields[] = {
	"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink",
	"deletionTimestamp", "deletionGracePeriodSeconds",
};

int apply_stamp(const struct config_controller *cc, struct json_object *parent, bool child_namespaced,
		struct json_object *child, struct cx_err *err)
{
	const char *p_api = jsonget_nonempty(parent, "apiVersion"), *p_kind = jsonget_nonempty(parent, "kind");
	const char *p_name = meta_string(parent, "name"), *p_uid = meta_string(parent, "uid");
	const char *p_ns = meta_string(parent, "namespace");
	if (!p_api || !p_kind || !p_name || !p_uid)
		return cx_err_set(err, -EINVAL, "the parent lacks %s",
				  !p_api ? "apiVersion" : !p_kind ? "kind" : !p_name ? "metadata.name" : "metadata.uid");
	const char *kind = jsonget_nonempty(child, "kind");
	struct json_object *meta = jsonget(child, "metadata");
	const char *name = jsonget_nonempty(meta, "name");
	if (!kind || !name || !json_object_is_type(meta, json_type_object))
		return cx_err_set(err, -EINVAL, "a child of %s/%s has no %s", p_kind, p_name,
				  !kind ? "kind" : "metadata.name");

	if (p_ns) {
		if (!child_namespaced)
			return cx_err_set(err, -EINVAL,
					  "%s/%s is cluster-scoped and cannot be a child of the namespaced %s %s/%s "
					  "(an ownerReference cannot point from a cluster-scoped object to a namespaced one)",
					  kind, name, p_kind, p_ns, p_name);
		json_object_object_add(meta, "namespace", json_object_new_string(p_ns));
	} else if (child_namespaced && !jsonget_nonempty(meta, "namespace")) {
		return cx_err_set(err, -EINVAL, "%s/%s needs metadata.namespace: its parent %s/%s is cluster-scoped", kind,
				  name, p_kind, p_name);
	}

	/* Our controller reference replaces any the hook wrote for the parent;
	 * any other controller reference is a contradiction. */
	struct json_object *old = jsonget(meta, "ownerReferences");
	struct json_object *refs = json_object_new_array();
	if (!refs)
		return cx_err_set(err, -ENOMEM, "out of memory");
	size_t n = json_object_is_type(old, json_type_array) ? json_object_array_length(old) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(old, i);
		const char *uid = jsonget_nonempty(ref, "uid");
		if (uid && !strcmp(uid, p_uid))
			continue;
		if (is_true(jsonget(ref, "controller"))) {
			json_object_put(refs);
			return cx_err_set(err, -EINVAL,
					  "%s/%s: the hook gave it a controller ownerReference to %s/%s; its controller "
					  "is its parent %s/%s",
					  kind, name, jsonget_nonempty(ref, "kind") ?: "?", jsonget_nonempty(ref, "name") ?: "?",
					  p_kind, p_name);
		}
		json_object_array_add(refs, json_object_get(ref));
	}
	struct json_object *ours = json_object_new_object();
	if (!ours) {
		json_object_put(refs);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	json_object_object_add(ours, "apiVersion", json_object_new_string(p_api));
	json_object_object_add(ours, "kind", json_object_new_string(p_kind));
	json_object_object_add(ours, "name", json_object_new_string(p_name));
	json_object_object_add(ours, "uid", json_object_new_string(p_uid));
	json_object_object_add(ours, "controller", json_object_new_boolean(1));
	json_object_object_add(ours, "blockOwnerDeletion", json_object_new_boolean(1));
	json_object_array_add(refs, ours);
	json_object_object_add(meta, "ownerReferences", refs);

	struct json_object *labels = object_member(meta, "labels");
	if (!labels)
		return cx_err_set(err, -ENOMEM, "out of memory");
	json_object_object_add(labels, APPLY_CONTROLLER_LABEL, json_object_new_string(cc->name));

	for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
		json_object_object_del(meta, server_fields[i]);
	json_object_object_del(child, "status");
	return 0;
}

/* ---- the Recreate rule ---- */

static bool is_zero(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return true;
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0 && json_object_get_uint64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0.0;
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	}
	return false;
}

static bool is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

bool apply_json_subset(struct json_object *want, struct json_object *have)
{
	if (!have || json_object_is_type(have, json_type_null))
		return is_zero(want);
	enum json_type wt = json_object_get_type(want);
	if (is_number(want) && is_number(have)) {
		if (wt == json_type_int && json_object_is_type(have, json_type_int))
			return json_object_equal(want, have);
		return json_object_get_double(want) == json_object_get_double(have);
	}
	if (wt != json_object_get_type(have))
		return false;
	switch (wt) {
	case json_type_object: {
		json_object_object_foreach(want, key, val) {
			if (!apply_json_subset(val, jsonget(have, key)))
				return false;
		}
		return true;
	}
	case json_type_array: {
		size_t n = json_object_array_length(want);
		if (n != json_object_array_length(have))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!apply_json_subset(json_object_array_get_idx(want, i), json_object_array_get_idx(have, i)))
				return false;
		return true;
	}
	default:
		return json_object_equal(want, have);
	}
}

bool apply_differs(struct json_object *desired, struct json_object *observed)
{
	if (!json_object_is_type(desired, json_type_object))
		return false;
	json_object_object_foreach(desired, key, val) {
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata") ||
		    !strcmp(key, "status"))
			continue;
		if (!apply_json_subset(val, jsonget(observed, key)))
			return true;
	}
	return false;
}

/* ---- the prune rule ---- */

bool apply_should_prune(const char *controller, const char *parent_uid, struct json_object *observed,
			struct json_object *desired_names)
{
	struct json_object *meta = jsonget(observed, "metadata");
	const char *name = jsonget_nonempty(meta, "name");
	if (!name || jsonget(meta, "deletionTimestamp"))
		return false;
	const char *label = jsonget_nonempty(jsonget(meta, "labels"), APPLY_CONTROLLER_LABEL);
	if (!label || strcmp(label, controller))
		return false;
	struct json_object *refs = jsonget(meta, "ownerReferences");
	size_t n = json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
	bool owned = false;
	for (size_t i = 0; i < n && !owned; i++) {
		struct json_object *ref = json_object_array_get_idx(refs, i);
		const char *uid = jsonget_nonempty(ref, "uid");
		owned = uid && !strcmp(uid, parent_uid) && is_true(jsonget(ref, "controller"));
	}
	return owned && !jsonget(desired_names, name);
}

/* ---- the report ---- */

const char *apply_action_name(enum apply_action a)
{
	switch (a) {
	case APPLY_CREATED:
		return "created";
	case APPLY_UPDATED:
		return "updated";
	case APPLY_UNCHANGED:
		return "unchanged";
	case APPLY_RECREATED:
		return "recreated";
	case APPLY_DELETED:
		return "deleted";
	case APPLY_FAILED:
		return "failed";
	}
	return "?";
}

void apply_report_clear(struct apply_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->results[i].api_version);
		free(r->results[i].kind);
		free(r->results[i].name);
		free(r->results[i].namespace);
	}
	free(r->results);
	memset(r, 0, sizeof(*r));
}

/* A new result (action unchanged so far) at the end of r, or NULL. */
static struct apply_result *add_result(struct apply_report *r, const char *api_version, const char *kind,
				       const char *name, const char *ns)
{
	struct apply_result *grown = realloc(r->results, (r->n + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	r->results = grown;
	struct apply_result *res = &grown[r->n];
	memset(res, 0, sizeof(*res));
	res->api_version = strdup(api_version ? api_version : "?");
	res->kind = strdup(kind ? kind : "?");
	res->name = strdup(name ? name : "?");
	res->namespace = ns ? strdup(ns) : NULL;
	if (!res->api_version || !res->kind || !res->name || (ns && !res->namespace)) {
		free(res->api_version);
		free(res->kind);
		free(res->name);
		free(res->namespace);
		return NULL;
	}
	res->action = APPLY_UNCHANGED;
	r->n++;
	return res;
}

/* Records the outcome of res: the counters and a log line. */
static void finish(struct apply_report *r, struct apply_result *res, const struct config_controller *cc,
		   const char *parent_key)
{
	switch (res->action) {
	case APPLY_CREATED:
		r->n_created++;
		break;
	case APPLY_RECREATED:
		r->n_created++;
		r->n_deleted++;
		break;
	case APPLY_DELETED:
		r->n_deleted++;
		break;
	case APPLY_FAILED:
		r->n_failed++;
		break;
	default:
		break;
	}
	char child[512];
	snprintf(child, sizeof(child), "%s/%s", res->kind, res->name);
	if (res->action == APPLY_FAILED)
		log_kv(LOG_LEVEL_WARNING, 0, "child failed", "controller", cc->name, "parent", parent_key, "child", child,
		       "error", res->err.msg, NULL);
	else
		log_kv(LOG_LEVEL_INFO, res->action == APPLY_UNCHANGED ? 4 : 2, "child reconciled", "controller",
		       cc->name, "parent", parent_key, "child", child, "action", apply_action_name(res->action), NULL);
}

/* ---- one desired child ---- */

struct run {
	struct kclient *c;
	struct discovery *d;
	const struct config_controller *cc;
	struct json_object *parent;
	struct json_object *observed;
	char manager[128];
	const char *parent_uid;
};

static const struct config_child *declared(const struct config_controller *cc, const char *api_version,
					   const char *kind)
{
	for (size_t i = 0; i < cc->n_children; i++)
		if (!strcmp(cc->children[i].api_version, api_version) && !strcmp(cc->children[i].kind, kind))
			return &cc->children[i];
	return NULL;
}

/* "Kind.apiVersion", the key of the observed and desired maps. Owned. */
static char *kind_key(const char *kind, const char *api_version)
{
	char *k = NULL;
	return asprintf(&k, "%s.%s", kind, api_version) < 0 ? NULL : k;
}

/* created / recreated / updated / unchanged from the server's answer. */
static enum apply_action classify(struct json_object *obs, struct json_object *out)
{
	const char *obs_uid = meta_string(obs, "uid"), *out_uid = meta_string(out, "uid");
	if (!obs || !obs_uid || !out_uid || strcmp(obs_uid, out_uid))
		return APPLY_CREATED;
	const char *a = meta_string(obs, "resourceVersion"), *b = meta_string(out, "resourceVersion");
	return a && b && !strcmp(a, b) ? APPLY_UNCHANGED : APPLY_UPDATED;
}

static int server_side_apply(struct run *run, const char *path, struct json_object *obj, struct json_object **out,
			     struct cx_err *err)
{
	return kclient_apply(run->c, path, obj, run->manager, true, out, err);
}

/* Recreate: the observed child differs. Deletes that incarnation, then
 * applies (which creates). A child still there after the delete is being
 * held by finalizers: applying would write to the dying object, so this
 * sync reports it and a later one creates it. */
static void recreate(struct run *run, const struct kresource *r, const char *path, struct json_object *obj,
		     struct json_object *obs, struct apply_result *res)
{
	struct kclient_delete_opts o = {.propagation_policy = "Background", .precondition_uid = meta_string(obs, "uid")};
	int rc = kclient_delete(run->c, path, &o, NULL, &res->err);
	if (rc && rc != -ENOENT && rc != -EAGAIN) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, "recreate: ");
		return;
	}
	cx_err_clear(&res->err);
	struct json_object *now = NULL;
	rc = kclient_get(run->c, path, &now, &res->err);
	if (rc == 0 && jsonget(jsonget(now, "metadata"), "deletionTimestamp")) {
		struct json_object *fins = jsonget(jsonget(now, "metadata"), "finalizers");
		cx_err_set(&res->err, -EBUSY, "recreate: the old %s/%s is still being deleted (finalizers: %s); it is "
			   "created again once it is gone", r->kind, res->name,
			   fins ? json_object_to_json_string_ext(fins, JSON_C_TO_STRING_PLAIN) : "none");
		res->action = APPLY_FAILED;
		json_object_put(now);
		return;
	}
	if (rc && rc != -ENOENT) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, "recreate: ");
		return;
	}
	cx_err_clear(&res->err);
	struct json_object *out = NULL;
	if (server_side_apply(run, path, obj, &out, &res->err)) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, "recreate: deleted, then: ");
	} else {
		/* Someone else may have made it between our delete and apply. */
		res->action = now ? classify(now, out) : APPLY_RECREATED;
	}
	json_object_put(now);
	json_object_put(out);
}

/* Writes one stamped child as its updateStrategy says; fills res. */
static void write_child(struct run *run, const struct kresource *r, enum update_strategy strategy,
			struct json_object *obj, struct json_object *obs, struct apply_result *res)
{
	const char *ns = r->namespaced ? meta_string(obj, "namespace") : NULL;
	char *path = kresource_path(r, ns, res->name, NULL);
	char *collection = kresource_path(r, ns, NULL, NULL);
	struct json_object *out = NULL;
	if (!path || !collection) {
		res->action = APPLY_FAILED;
		cx_err_set(&res->err, -ENOMEM, "out of memory");
	} else if (strategy == UPDATE_ONDELETE) {
		/* Never an update: POST, which cannot touch an existing object. */
		if (obs) {
			res->action = APPLY_UNCHANGED;
		} else {
			int rc = kclient_create(run->c, collection, obj, NULL, &res->err);
			res->action = rc == 0 ? APPLY_CREATED : rc == -EEXIST ? APPLY_UNCHANGED : APPLY_FAILED;
			if (rc == -EEXIST)
				cx_err_clear(&res->err);
		}
	} else if (strategy == UPDATE_RECREATE && obs && apply_differs(obj, obs)) {
		recreate(run, r, path, obj, obs, res);
	} else if (server_side_apply(run, path, obj, &out, &res->err)) {
		res->action = APPLY_FAILED;
	} else {
		res->action = classify(obs, out);
	}
	json_object_put(out);
	free(path);
	free(collection);
}

/* Handles desired child i: checks, notes its name in wanted, stamps, writes.
 * Returns -ENOMEM when the report could not grow, else 0 (a failed child is
 * a result, not an error of the call). */
static int desired_child(struct run *run, struct json_object *child, size_t i, struct json_object *wanted,
			 struct apply_report *report)
{
	const char *api_version = jsonget_nonempty(child, "apiVersion"), *kind = jsonget_nonempty(child, "kind");
	const char *name = meta_string(child, "name");
	struct apply_result *res = add_result(report, api_version, kind, name, meta_string(run->parent, "namespace"));
	if (!res)
		return -ENOMEM;
	char *key = NULL;
	struct json_object *obj = NULL;
	const struct config_child *decl = NULL;
	const struct kresource *r = NULL;
	if (!json_object_is_type(child, json_type_object) || !api_version || !kind || !name) {
		cx_err_set(&res->err, -EINVAL, "children[%zu] has no %s", i,
			   !api_version ? "apiVersion" : !kind ? "kind" : "metadata.name");
		goto failed;
	}
	if (!(decl = declared(run->cc, api_version, kind))) {
		cx_err_set(&res->err, -EINVAL, "children[%zu]: %s.%s is not among the child kinds of controller %s", i,
			   kind, api_version, run->cc->name);
		goto failed;
	}
	if (!(key = kind_key(kind, api_version))) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	/* Noted before anything can fail: a child that fails to apply is
	 * still wanted, and must not be pruned. */
	struct json_object *names = object_member(wanted, key);
	if (!names) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	if (jsonget(names, name)) {
		cx_err_set(&res->err, -EINVAL, "children[%zu]: %s/%s is returned twice", i, kind, name);
		goto failed;
	}
	json_object_object_add(names, name, json_object_new_boolean(1));
	if (discovery_resolve(run->d, api_version, kind, &r, &res->err))
		goto failed;
	if (json_object_deep_copy(child, &obj, NULL) || !obj) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	if (apply_stamp(run->cc, run->parent, r->namespaced, obj, &res->err))
		goto failed;
	if (r->namespaced) {
		free(res->namespace);
		res->namespace = strdup(meta_string(obj, "namespace"));
	}
	write_child(run, r, decl->update_strategy, obj, jsonget(jsonget(run->observed, key), name), res);
	json_object_put(obj);
	free(key);
	return 0;
failed:
	res->action = APPLY_FAILED;
	json_object_put(obj);
	free(key);
	return 0;
}

/* Deletes the observed children of declared kind decl that prune selects. */
static int prune_kind(struct run *run, const struct config_child *decl, struct json_object *wanted,
		      struct apply_report *report, const char *parent_key)
{
	char *key = kind_key(decl->kind, decl->api_version);
	if (!key)
		return -ENOMEM;
	struct json_object *obs = jsonget(run->observed, key), *names = jsonget(wanted, key);
	const struct kresource *r = NULL;
	struct cx_err resolve_err = {0};
	int resolved = 1; /* not yet tried */
	int ret = 0;
	if (!json_object_is_type(obs, json_type_object)) {
		free(key);
		return 0;
	}
	json_object_object_foreach(obs, name, o) {
		if (!apply_should_prune(run->cc->name, run->parent_uid, o, names))
			continue;
		const char *ns = meta_string(o, "namespace");
		struct apply_result *res = add_result(report, decl->api_version, decl->kind, name, ns);
		if (!res) {
			ret = -ENOMEM;
			break;
		}
		if (resolved == 1)
			resolved = discovery_resolve(run->d, decl->api_version, decl->kind, &r, &resolve_err);
		char *path = NULL;
		if (resolved) {
			res->err = resolve_err;
			res->action = APPLY_FAILED;
		} else if (!(path = kresource_path(r, r->namespaced ? ns : NULL, name, NULL))) {
			cx_err_set(&res->err, -ENOMEM, "out of memory");
			res->action = APPLY_FAILED;
		} else {
			/* The uid precondition: an object re-created under the same
			 * name since the cache saw this one is not ours to delete. */
			struct kclient_delete_opts opts = {.propagation_policy = "Background",
							   .precondition_uid = meta_string(o, "uid")};
			int rc = kclient_delete(run->c, path, &opts, NULL, &res->err);
			if (rc == 0) {
				res->action = APPLY_DELETED;
			} else if (rc == -ENOENT || rc == -EAGAIN) {
				/* Already gone, or a new incarnation the next sync sees. */
				res->action = APPLY_UNCHANGED;
				cx_err_clear(&res->err);
			} else {
				res->action = APPLY_FAILED;
				cx_err_prefix(&res->err, "prune: ");
			}
		}
		free(path);
		finish(report, res, run->cc, parent_key);
	}
	free(key);
	return ret;
}

int apply_children(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		   struct json_object *parent, struct json_object *observed, struct json_object *desired,
		   struct apply_report *report, struct cx_err *err)
{
	memset(report, 0, sizeof(*report));
	struct run run = {.c = c, .d = d, .cc = cc, .parent = parent, .observed = observed,
			  .parent_uid = meta_string(parent, "uid")};
	if (!run.parent_uid || !meta_string(parent, "name"))
		return cx_err_set(err, -EINVAL, "apply: the parent has no metadata.%s",
				  run.parent_uid ? "name" : "uid");
	if (desired && !json_object_is_type(desired, json_type_array))
		return cx_err_set(err, -EINVAL, "apply: the desired children are not an array");
	if ((size_t)snprintf(run.manager, sizeof(run.manager), "coxswain/%s", cc->name) >= sizeof(run.manager))
		return cx_err_set(err, -ENAMETOOLONG, "apply: controller name too long");
	char parent_key[512];
	const char *pns = meta_string(parent, "namespace");
	snprintf(parent_key, sizeof(parent_key), "%s%s%s", pns ? pns : "", pns ? "/" : "", meta_string(parent, "name"));

	struct json_object *wanted = json_object_new_object();
	if (!wanted)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r = 0;
	size_t n = desired ? json_object_array_length(desired) : 0;
	for (size_t i = 0; i < n && !r; i++) {
		r = desired_child(&run, json_object_array_get_idx(desired, i), i, wanted, report);
		if (!r)
			finish(report, &report->results[report->n - 1], cc, parent_key);
	}
	for (size_t i = 0; i < cc->n_children && !r; i++)
		r = prune_kind(&run, &cc->children[i], wanted, report, parent_key);
	json_object_put(wanted);
	if (r)
		return cx_err_set(err, r, "apply: out of memory");
	if (report->n_failed)
		return cx_err_set(err, -EIO, "%zu of %zu children failed", report->n_failed, report->n);
	return 0;
}

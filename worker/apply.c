#include "config.h"

#include "apply.h"

#include <assert.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "childdiff.h"
#include "childkey.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "jsonget.h"
#include "jsonhash.h"
#include "kobj.h"
#include "log.h"
#include "proto.h"
#include "selector.h"
#include "strmap.h"

/* ---- small json-c helpers ---- */

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

static void free_strmap(void *map)
{
	struct strmap *m = map;
	strmap_free(&m);
}

static bool is_true(struct json_object *v)
{
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* ---- stamping ---- */

/* Metadata the server owns: echoing it back (a hook that copies the observed
 * child) would make the apply a precondition or be refused outright. */
static const char *const server_fields[] = {
	"resourceVersion", "uid",      "creationTimestamp", "generation",
	"managedFields",   "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
};

int apply_stamp(const struct config_controller *cc, struct json_object *parent, bool child_namespaced,
		struct json_object *child, struct cx_err *err)
{
	const char *p_api = jsonget_nonempty(parent, "apiVersion"), *p_kind = jsonget_nonempty(parent, "kind");
	const char *p_name = kobj_name(parent), *p_uid = kobj_uid(parent);
	const char *p_ns = kobj_namespace(parent);
	if (!p_api || !p_kind || !p_name || !p_uid)
		return cx_err_set(err, -EINVAL, "the parent lacks %s",
				  !p_api            ? "apiVersion"
					  : !p_kind ? "kind"
					  : !p_name ? "metadata.name"
						    : "metadata.uid");
	/* A child of a checked hook answer (worker/hook.h) has them. */
	const char *kind = jsonget_nonempty(child, "kind");
	struct json_object *meta = jsonget(child, "metadata");
	const char *name = kobj_name(child);
	assert(kind && name && json_object_is_type(meta, json_type_object));

	if (p_ns) {
		if (!child_namespaced)
			return cx_err_set(
				err, -EINVAL,
				"%s/%s is cluster-scoped and cannot be a child of the namespaced %s %s/%s "
				"(an ownerReference cannot point from a cluster-scoped object to a namespaced one)",
				kind, name, p_kind, p_ns, p_name);
		json_object_object_add(meta, "namespace", json_object_new_string(p_ns));
	} else if (child_namespaced && !kobj_namespace(child)) {
		return cx_err_set(err, -EINVAL, "%s/%s needs metadata.namespace: its parent %s/%s is cluster-scoped",
				  kind, name, p_kind, p_name);
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
			return cx_err_set(
				err, -EINVAL,
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
	if (cc->generate_selector && !jsonget(labels, "controller-uid"))
		json_object_object_add(labels, "controller-uid", json_object_new_string(p_uid));

	for (size_t i = 0; i < sizeof(server_fields) / sizeof(server_fields[0]); i++)
		json_object_object_del(meta, server_fields[i]);
	json_object_object_del(child, "status");

	struct json_object *annotations = object_member(meta, "annotations");
	if (!annotations)
		return cx_err_set(err, -ENOMEM, "out of memory");
	json_object_object_del(annotations, APPLY_HASH_ANNOTATION);
	if (json_object_object_length(annotations) == 0)
		json_object_object_del(meta, "annotations");
	char hash[JSONHASH_MAX];
	if (jsonhash(child, hash, sizeof(hash)) || !(annotations = object_member(meta, "annotations")))
		return cx_err_set(err, -ENOMEM, "out of memory");
	json_object_object_add(annotations, APPLY_HASH_ANNOTATION, json_object_new_string(hash));
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
		json_object_object_foreach(want, key, val)
		{
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
	json_object_object_foreach(desired, key, val)
	{
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata") ||
		    !strcmp(key, "status"))
			continue;
		if (!apply_json_subset(val, jsonget(observed, key)))
			return true;
	}
	return false;
}

bool apply_in_sync(struct json_object *desired, struct json_object *observed)
{
	const char *hash = kobj_annotation(desired, APPLY_HASH_ANNOTATION);
	const char *seen = kobj_annotation(observed, APPLY_HASH_ANNOTATION);
	return hash && seen && !strcmp(hash, seen) && !apply_differs(desired, observed) &&
		apply_json_subset(kobj_labels(desired), kobj_labels(observed)) &&
		apply_json_subset(kobj_annotations(desired), kobj_annotations(observed));
}

/* base64 of a string, owned; NULL when out of memory. */
static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

struct json_object *apply_normalise(struct json_object *child)
{
	struct json_object *copy = NULL;
	if (json_object_deep_copy(child, &copy, NULL) || !copy)
		return NULL;
	const char *kind = jsonget_string(copy, "kind"), *api = jsonget_string(copy, "apiVersion");
	struct json_object *string_data = jsonget(copy, "stringData");
	if (!kind || !api || strcmp(kind, "Secret") || strcmp(api, "v1") ||
	    !json_object_is_type(string_data, json_type_object))
		return copy;
	struct json_object *data = object_member(copy, "data");
	if (!data)
		goto oom;
	json_object_object_foreach(string_data, key, val)
	{
		char *enc = base64(json_object_is_type(val, json_type_string) ? json_object_get_string(val) : "");
		if (!enc)
			goto oom;
		json_object_object_add(data, key, json_object_new_string(enc));
		free(enc);
	}
	json_object_object_del(copy, "stringData");
	return copy;
oom:
	json_object_put(copy);
	return NULL;
}

/* ---- ownership ---- */

enum apply_claim apply_claim_of(const char *parent_uid, struct json_object *live, struct json_object **owner)
{
	struct json_object *ref = kobj_controller_ref(live);
	const char *uid = kobj_ref_uid(ref);
	if (owner)
		*owner = NULL;
	if (!ref)
		return APPLY_CLAIM_ORPHAN;
	if (uid && *uid && parent_uid && !strcmp(uid, parent_uid))
		return APPLY_CLAIM_OURS;
	if (owner)
		*owner = ref;
	return APPLY_CLAIM_OTHER;
}

/* ---- metacontroller's selectors ---- */

int apply_mc_selector(const struct config_controller *cc, struct json_object *parent, struct json_object **out,
		      struct cx_err *err)
{
	*out = NULL;
	const char *uid = kobj_uid(parent), *name = kobj_name(parent) ?: "?";
	const char *kind = jsonget_string(parent, "kind") ?: "?", *ns = kobj_namespace(parent);
	if (cc->generate_selector) {
		struct json_object *sel = json_object_new_object(), *ml = json_object_new_object();
		if (!sel || !ml || !uid) {
			json_object_put(sel);
			json_object_put(ml);
			return uid ? cx_err_set(err, -ENOMEM, "out of memory")
				   : cx_err_set(err, -EINVAL, "%s %s has no metadata.uid", kind, name);
		}
		json_object_object_add(ml, "controller-uid", json_object_new_string(uid));
		json_object_object_add(sel, "matchLabels", ml);
		*out = sel;
		return 0;
	}
	struct json_object *sel = jsonget(jsonget(parent, "spec"), "selector");
	struct json_object *ml = jsonget(sel, "matchLabels"), *exprs = jsonget(sel, "matchExpressions");
	bool has_ml = json_object_is_type(ml, json_type_object) && json_object_object_length(ml);
	bool has_exprs = json_object_is_type(exprs, json_type_array) && json_object_array_length(exprs);
	if (!has_ml && !has_exprs)
		return cx_err_set(err, -EINVAL,
				  "%s %s%s%s: .spec.selector must have either matchLabels, matchExpressions, or both "
				  "(or set generateSelector: true on controller %s)",
				  kind, ns ? ns : "", ns ? "/" : "", name, cc->name);
	struct json_object *probe = json_object_new_object();
	int r = probe ? selector_json_matches(sel, probe, err) : cx_err_set(err, -ENOMEM, "out of memory");
	json_object_put(probe);
	if (r < 0) {
		cx_err_prefix(err, "%s %s%s%s: .spec.", kind, ns ? ns : "", ns ? "/" : "", name);
		return r;
	}
	*out = json_object_get(sel);
	return 0;
}

/* ---- metacontroller's adoption ---- */

/* Adopts one orphan o (observed, borrowed) at its incarnation and version:
 * a server-side apply of nothing but the parent's controller
 * ownerReference, as field manager, with o's uid and resourceVersion as
 * preconditions (the server refuses it, 409, when the object changed or
 * went meanwhile: someone may have claimed it). *out: the adopted object. */
static int adopt_one(struct kclient *c, const struct kresource *r, const struct config_controller *cc,
		     const struct config_child *decl, struct json_object *parent, struct json_object *o,
		     struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	const char *uid = kobj_uid(o), *rv = kobj_resource_version(o);
	const char *name = kobj_name(o), *ns = r->namespaced ? kobj_namespace(o) : NULL;
	if (!uid || !rv || !name)
		return cx_err_set(err, -EPROTO, "it has no metadata.%s",
				  !uid          ? "uid"
					  : !rv ? "resourceVersion"
						: "name");
	struct json_object *obj = json_object_new_object(), *meta = json_object_new_object();
	struct json_object *refs = json_object_new_array(), *ref = json_object_new_object();
	char *path = kresource_path(r, ns, name, NULL);
	int rc = -ENOMEM;
	if (obj && meta && refs && ref && path) {
		json_object_object_add(obj, "apiVersion", json_object_new_string(decl->api_version));
		json_object_object_add(obj, "kind", json_object_new_string(decl->kind));
		json_object_object_add(meta, "name", json_object_new_string(name));
		if (ns)
			json_object_object_add(meta, "namespace", json_object_new_string(ns));
		json_object_object_add(meta, "uid", json_object_new_string(uid));
		json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
		json_object_object_add(ref, "apiVersion",
				       json_object_new_string(jsonget_string(parent, "apiVersion") ?: ""));
		json_object_object_add(ref, "kind", json_object_new_string(jsonget_string(parent, "kind") ?: ""));
		json_object_object_add(ref, "name", json_object_new_string(kobj_name(parent) ?: ""));
		json_object_object_add(ref, "uid", json_object_new_string(kobj_uid(parent) ?: ""));
		json_object_object_add(ref, "controller", json_object_new_boolean(1));
		json_object_object_add(ref, "blockOwnerDeletion", json_object_new_boolean(1));
		json_object_array_add(refs, ref);
		ref = NULL;
		json_object_object_add(meta, "ownerReferences", refs);
		refs = NULL;
		json_object_object_add(obj, "metadata", meta);
		meta = NULL;
		rc = kclient_apply(c, path, obj, cc->field_manager, true, out, err);
	} else {
		cx_err_set(err, rc, "out of memory");
	}
	json_object_put(obj);
	json_object_put(meta);
	json_object_put(refs);
	json_object_put(ref);
	free(path);
	return rc;
}

int apply_adopt_orphans(struct kclient *c, struct discovery *d, const struct config_controller *cc,
			struct json_object *parent, struct json_object *observed, struct cx_err *err)
{
	if (cc->origin != CONFIG_ORIGIN_METACONTROLLER || cc->kind != CONFIG_KIND_COMPOSITE || !observed)
		return 0;
	const char *parent_uid = kobj_uid(parent), *pname = kobj_name(parent) ?: "?";
	const char *pns = kobj_namespace(parent);
	bool deleting = kobj_deleting(parent);
	struct json_object *selector = NULL;
	struct cx_err sel_err = { 0 };
	/* No selector (an empty spec.selector): nothing is adopted; the apply
	 * reports why. */
	if (!deleting && parent_uid && cc->n_children)
		apply_mc_selector(cc, parent, &selector, &sel_err);
	char parent_key[512];
	snprintf(parent_key, sizeof(parent_key), "%s%s%s", pns ? pns : "", pns ? "/" : "", pname);
	int rc = 0;
	for (size_t i = 0; i < cc->n_children && !rc; i++) {
		const struct config_child *decl = &cc->children[i];
		char key[CHILDKEY_KIND_MAX];
		struct json_object *of_kind = childkey_kind(decl->kind, decl->api_version, key, sizeof(key))
			? jsonget(observed, key)
			: NULL;
		if (!json_object_is_type(of_kind, json_type_object))
			continue;
		/* Names first: the map changes under the walk. */
		struct json_object *names = json_object_new_array();
		if (!names) {
			rc = -ENOMEM;
			break;
		}
		json_object_object_foreach(of_kind, relname,
					   o) if (apply_claim_of(parent_uid, o, NULL) != APPLY_CLAIM_OURS)
			json_object_array_add(names, json_object_new_string(relname));
		const struct kresource *r = NULL;
		struct cx_err resolve_err = { 0 };
		int resolved = 1; /* not yet tried */
		for (size_t k = 0; k < json_object_array_length(names); k++) {
			const char *rel = json_object_get_string(json_object_array_get_idx(names, k));
			struct json_object *obj = jsonget(of_kind, rel), *adopted = NULL;
			struct cx_err one = { 0 }, serr = { 0 };
			char child[CHILDKEY_MAX + 64];
			snprintf(child, sizeof(child), "%s %s", decl->kind, rel);
			bool wanted = selector && !kobj_deleting(obj) &&
				apply_claim_of(parent_uid, obj, NULL) == APPLY_CLAIM_ORPHAN &&
				selector_json_matches(selector, kobj_labels(obj), &serr) == 1;
			int arc = 0;
			if (wanted && resolved == 1)
				resolved = discovery_resolve(d, decl->api_version, decl->kind, &r, &resolve_err);
			if (wanted && resolved) {
				one = resolve_err;
				arc = resolved;
			} else if (wanted) {
				arc = adopt_one(c, r, cc, decl, parent, obj, &adopted, &one);
			}
			if (wanted && !arc && adopted) {
				log_kv(LOG_LEVEL_INFO, 2, "child adopted", "controller", cc->name, "parent", parent_key,
				       "child", child, NULL);
				json_object_object_add(of_kind, rel, adopted);
				continue;
			}
			if (wanted)
				log_kv(LOG_LEVEL_WARNING, 0, "cannot adopt an orphan; the next sync tries again",
				       "controller", cc->name, "parent", parent_key, "child", child, "error", one.msg,
				       NULL);
			json_object_put(adopted);
			/* Not this parent's: the hook does not see it. */
			json_object_object_del(of_kind, rel);
			if (arc == -ENOMEM)
				rc = arc;
		}
		json_object_put(names);
	}
	json_object_put(selector);
	return rc ? cx_err_set(err, rc, "adopting orphans: out of memory") : 0;
}

/* ---- the prune rule ---- */

bool apply_should_prune(const char *controller, const char *parent_uid, struct json_object *observed,
			const char *relname, const struct strmap *desired_names)
{
	if (!kobj_name(observed) || kobj_deleting(observed))
		return false;
	const char *label = kobj_label(observed, APPLY_CONTROLLER_LABEL);
	if (!label || strcmp(label, controller))
		return false;
	return apply_claim_of(parent_uid, observed, NULL) == APPLY_CLAIM_OURS &&
		!(desired_names && strmap_has(desired_names, relname));
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
	case APPLY_ADOPTED:
		return "adopted";
	case APPLY_CONFLICT:
		return "conflict";
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
	json_object_put(r->writes);
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
	case APPLY_CONFLICT:
		r->n_conflicts++;
		break;
	case APPLY_FAILED:
		r->n_failed++;
		break;
	default:
		break;
	}
	char child[512];
	snprintf(child, sizeof(child), "%s/%s", res->kind, res->name);
	if (res->action == APPLY_FAILED || res->action == APPLY_CONFLICT)
		log_kv(LOG_LEVEL_WARNING, 0, res->action == APPLY_FAILED ? "child failed" : "child not ours",
		       "controller", cc->name, "parent", parent_key, "child", child, "error", res->err.msg, NULL);
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
	char manager[320];
	const char *parent_uid;
	const char *parent_ns;        /* NULL for a cluster-scoped parent */
	struct json_object *selector; /* a metacontroller definition's (apply_mc_selector), owned; else NULL */
	struct json_object *writes;   /* the report's writes (borrowed) */
};

/* Whether a live object's labels match run's metacontroller selector. */
static bool selected(struct run *run, struct json_object *live)
{
	struct cx_err err = { 0 };
	return run->selector && selector_json_matches(run->selector, kobj_labels(live), &err) == 1;
}

/* One child being written: where it lives and what the hook wants. */
struct target {
	const struct kresource *r;
	enum update_strategy strategy;
	struct json_object *obj;         /* stamped and normalised; borrowed */
	struct json_object *obs;         /* the cached child (ours), or NULL */
	const struct config_child *decl; /* its declared kind */
	char *path, *collection;         /* owned */
	char where[CHILDKEY_MAX + 64];   /* "ConfigMap team-a/settings", for messages */
};

static const struct config_child *declared(const struct config_controller *cc, const char *api_version,
					   const char *kind)
{
	for (size_t i = 0; i < cc->n_children; i++)
		if (!strcmp(cc->children[i].api_version, api_version) && !strcmp(cc->children[i].kind, kind))
			return &cc->children[i];
	return NULL;
}

/* created / recreated / updated / unchanged from the server's answer. */
static enum apply_action classify(struct json_object *obs, struct json_object *out)
{
	const char *obs_uid = kobj_uid(obs), *out_uid = kobj_uid(out);
	if (!obs || !obs_uid || !out_uid || strcmp(obs_uid, out_uid))
		return APPLY_CREATED;
	const char *a = kobj_resource_version(obs), *b = kobj_resource_version(out);
	return a && b && !strcmp(a, b) ? APPLY_UNCHANGED : APPLY_UPDATED;
}

/* Server-side apply of t->obj to the live incarnation uid (and, when rv is
 * set, that version of it), for real or as a dry run: the server refuses it
 * when the object is gone (409) or is another incarnation (422: uid is
 * immutable). */
static int apply_to(struct run *run, struct target *t, const char *uid, const char *rv, bool dry_run,
		    struct json_object **out, struct cx_err *err)
{
	struct json_object *meta = jsonget(t->obj, "metadata");
	json_object_object_add(meta, "uid", json_object_new_string(uid));
	if (rv)
		json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
	int rc = dry_run ? kclient_apply_dry_run(run->c, t->path, t->obj, run->manager, out, err)
			 : kclient_apply(run->c, t->path, t->obj, run->manager, true, out, err);
	json_object_object_del(meta, "uid");
	json_object_object_del(meta, "resourceVersion");
	return rc;
}

/* After a create (POST, operation Update), our managedFields entry is made an
 * Apply one, so that a field the hook later drops is removed by the next
 * apply. The test ops pin the entry: nothing else is touched. A failure is
 * logged, not reported: the child itself is right. */
static void adopt_fields(struct run *run, struct target *t, struct json_object *created)
{
	struct json_object *mf = jsonget(jsonget(created, "metadata"), "managedFields");
	size_t n = json_object_is_type(mf, json_type_array) ? json_object_array_length(mf) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		const char *m = jsonget_string(e, "manager"), *op = jsonget_string(e, "operation");
		if (!m || !op || strcmp(m, run->manager) || strcmp(op, "Update"))
			continue;
		char ops[1024];
		snprintf(ops, sizeof(ops),
			 "[{\"op\":\"test\",\"path\":\"/metadata/managedFields/%zu/manager\",\"value\":\"%s\"},"
			 "{\"op\":\"test\",\"path\":\"/metadata/managedFields/%zu/operation\",\"value\":\"Update\"},"
			 "{\"op\":\"replace\",\"path\":\"/metadata/managedFields/%zu/operation\",\"value\":\"Apply\"}]",
			 i, run->manager, i, i);
		struct json_object *patch = json_tokener_parse(ops), *patched = NULL;
		struct cx_err err = { 0 };
		if (patch && !kclient_patch(run->c, t->path, KCLIENT_PATCH_JSON, patch, &patched, &err))
			proto_writes_note(run->writes, patched);
		else
			log_kv(LOG_LEVEL_WARNING, 0,
			       "cannot hand a created child's fields to server-side apply; a field "
			       "the hook drops later stays on it",
			       "child", t->where, "error", patch ? err.msg : "out of memory", NULL);
		json_object_put(patch);
		json_object_put(patched);
		return;
	}
}

/* The message of a child that is not this parent's. */
static void conflict(struct run *run, struct target *t, struct apply_result *res, enum apply_claim claim,
		     struct json_object *owner)
{
	res->action = APPLY_CONFLICT;
	if (claim == APPLY_CLAIM_OTHER)
		cx_err_set(&res->err, -EEXIST,
			   "%s already exists and is controlled by %s %s (uid %s); coxswain writes only children "
			   "that this parent controls",
			   t->where, jsonget_nonempty(owner, "kind") ?: "?", jsonget_nonempty(owner, "name") ?: "?",
			   jsonget_nonempty(owner, "uid") ?: "?");
	else if (run->selector)
		cx_err_set(&res->err, -EEXIST,
			   "%s already exists, has no controller and its labels do not match the parent's selector %s: "
			   "it is not adopted",
			   t->where, json_object_to_json_string_ext(run->selector, JSON_C_TO_STRING_PLAIN));
	else
		cx_err_set(&res->err, -EEXIST,
			   "%s already exists and has no controller; coxswain does not take over an object it did not "
			   "create: delete it, or set adoptOrphans: true on controller %s to adopt it",
			   t->where, run->cc->name);
}

/* POSTs the child (create-only); a taken name goes to claim(). */
static void claim(struct run *run, struct target *t, struct apply_result *res, bool after_create);

/* A create-only server-side apply: resourceVersion "1" as a precondition,
 * which no stored object meets (etcd's first write is revision 2). Where the
 * name is free the server creates the object (an apply that creates ignores
 * the resourceVersion); where it is taken it refuses, 409 Conflict (-EAGAIN),
 * and nothing is written. One request, whose managedFields entry is
 * already an Apply one: no second request to hand the fields over, as after
 * a POST. */
static int create_by_apply(struct run *run, struct target *t, struct json_object **out, struct cx_err *err)
{
	struct json_object *meta = jsonget(t->obj, "metadata");
	json_object_object_add(meta, "resourceVersion", json_object_new_string("1"));
	int rc = kclient_apply(run->c, t->path, t->obj, run->manager, true, out, err);
	json_object_object_del(meta, "resourceVersion");
	return rc;
}

static void create(struct run *run, struct target *t, struct apply_result *res, enum apply_action done)
{
	struct json_object *out = NULL;
	int rc = create_by_apply(run, t, &out, &res->err);
	if ((rc == -EIO || rc == -EINVAL) && strstr(res->err.msg, "resourceVersion")) {
		/* A server that refuses the precondition on a create: POST, then
		 * hand the fields to server-side apply. */
		log_kv(LOG_LEVEL_INFO, 2, "create-only apply refused; creating with POST", "child", t->where, "error",
		       res->err.msg, NULL);
		cx_err_clear(&res->err);
		if (!(rc = kclient_create_as(run->c, t->collection, t->obj, run->manager, &out, &res->err)))
			adopt_fields(run, t, out);
	}
	if (rc == -EAGAIN)
		rc = -EEXIST; /* the name is taken */
	if (rc == 0) {
		res->action = done; /* not in report->writes: see apply.h */
	} else if (rc == -EEXIST) {
		cx_err_clear(&res->err);
		claim(run, t, res, true);
	} else {
		res->action = APPLY_FAILED;
	}
	json_object_put(out);
}

/* The name is taken (or the cached incarnation is gone): reads the live
 * object and writes it only if it is this parent's, or an orphan that
 * adoptOrphans lets us adopt. */
static void claim(struct run *run, struct target *t, struct apply_result *res, bool after_create)
{
	struct json_object *live = NULL, *owner = NULL, *out = NULL;
	int rc = kclient_get(run->c, t->path, &live, &res->err);
	if (rc == -ENOENT && after_create) {
		/* Taken a moment ago, gone now: the next sync creates it. */
		res->action = APPLY_FAILED;
		cx_err_set(&res->err, -EAGAIN, "%s appeared and went while it was being created; retrying", t->where);
		return;
	}
	if (rc == -ENOENT) {
		cx_err_clear(&res->err);
		create(run, t, res, APPLY_CREATED);
		return;
	}
	if (rc) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, "reading the existing %s: ", t->where);
		return;
	}
	enum apply_claim who = apply_claim_of(run->parent_uid, live, &owner);
	const char *uid = kobj_uid(live), *rv = kobj_resource_version(live);
	/* metacontroller adopts the orphans its selector matches, unless the
	 * parent is going away. */
	bool adopt = run->cc->adopt_orphans || (selected(run, live) && !kobj_deleting(run->parent));
	if (who == APPLY_CLAIM_OTHER || (who == APPLY_CLAIM_ORPHAN && !adopt)) {
		conflict(run, t, res, who, owner);
	} else if (kobj_deleting(live)) {
		res->action = APPLY_FAILED;
		struct json_object *fins = jsonget(jsonget(live, "metadata"), "finalizers");
		cx_err_set(&res->err, -EBUSY,
			   "%s is being deleted (finalizers: %s); it is created again once it is gone", t->where,
			   fins ? json_object_to_json_string_ext(fins, JSON_C_TO_STRING_PLAIN) : "none");
	} else if (who == APPLY_CLAIM_OURS && (t->strategy == UPDATE_ONDELETE || apply_in_sync(t->obj, live))) {
		res->action = APPLY_UNCHANGED; /* the cache had not seen it: nothing to write after all */
	} else if (!uid || !rv) {
		res->action = APPLY_FAILED;
		cx_err_set(&res->err, -EPROTO, "the existing %s has no uid or resourceVersion", t->where);
	} else if (apply_to(run, t, uid, who == APPLY_CLAIM_ORPHAN ? rv : NULL, false, &out, &res->err)) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, who == APPLY_CLAIM_ORPHAN ? "adopting %s: " : "%s: ", t->where);
	} else {
		res->action = who == APPLY_CLAIM_ORPHAN ? APPLY_ADOPTED : classify(live, out);
	}
	json_object_put(live);
	json_object_put(out);
}

/* Whether a dry-run apply of t->obj says the server would store what it
 * already has: the hook's fields, labels, annotations and ownerReferences
 * as the server would normalise them, equal to the observed ones. A failed
 * dry run (e.g. an immutable field) says it would not. */
static bool server_would_keep(struct run *run, struct target *t)
{
	struct json_object *dry = NULL;
	struct cx_err err = { 0 };
	if (apply_to(run, t, kobj_uid(t->obs), NULL, true, &dry, &err)) {
		log_kv(LOG_LEVEL_INFO, 4, "dry-run apply refused", "child", t->where, "error", err.msg, NULL);
		return false;
	}
	bool same = true;
	json_object_object_foreach(t->obj, key, val)
	{
		(void)val;
		if (strcmp(key, "apiVersion") && strcmp(key, "kind") && strcmp(key, "metadata") &&
		    strcmp(key, "status"))
			same = same && json_object_equal(jsonget(dry, key), jsonget(t->obs, key));
	}
	static const char *const meta_keys[] = { "labels", "annotations", "ownerReferences" };
	for (size_t i = 0; i < sizeof(meta_keys) / sizeof(*meta_keys); i++)
		same = same &&
			json_object_equal(jsonget(jsonget(dry, "metadata"), meta_keys[i]),
					  jsonget(jsonget(t->obs, "metadata"), meta_keys[i]));
	json_object_put(dry);
	return same;
}

/* Whether the observed child was written from this very intent (its hash):
 * then only drift or a value the server normalises can make it look
 * different. */
static bool same_intent(const struct target *t)
{
	const char *want = kobj_annotation(t->obj, APPLY_HASH_ANNOTATION);
	const char *have = kobj_annotation(t->obs, APPLY_HASH_ANNOTATION);
	return want && have && !strcmp(want, have);
}

/* Recreate: the observed child differs. Deletes that incarnation, then
 * creates the child afresh (create-only). */
static void recreate(struct run *run, struct target *t, struct apply_result *res)
{
	struct kclient_delete_opts o = { .propagation_policy = "Background", .precondition_uid = kobj_uid(t->obs) };
	int rc = kclient_delete(run->c, t->path, &o, NULL, &res->err);
	if (rc && rc != -ENOENT && rc != -EAGAIN) {
		res->action = APPLY_FAILED;
		cx_err_prefix(&res->err, "recreate: ");
		return;
	}
	cx_err_clear(&res->err);
	create(run, t, res, APPLY_RECREATED);
}

/* Whether the live object at t->path is still the incarnation uid (a
 * failed read says yes: the write's own error is then the one to report). */
static bool is_incarnation(struct run *run, struct target *t, const char *uid)
{
	struct json_object *live = NULL;
	struct cx_err err = { 0 };
	int rc = kclient_get(run->c, t->path, &live, &err);
	const char *now = kobj_uid(live);
	bool same = rc ? rc != -ENOENT : now && !strcmp(now, uid);
	json_object_put(live);
	return same;
}

/* Writes one stamped child as its updateStrategy says; fills res. */
static void write_child(struct run *run, struct target *t, struct apply_result *res)
{
	struct json_object *out = NULL;
	const char *uid = kobj_uid(t->obs);
	if (!t->obs && !jsonget(jsonget(run->parent, "status"), "observedGeneration")) {
		/* Not cached, and the parent never synced (its first sync, as at
		 * a cold start): create it without reading first. A name someone
		 * holds is refused with nothing written (create-only), and only
		 * then read (claim). One request per new child instead of two. */
		create(run, t, res, APPLY_CREATED);
	} else if (!t->obs || apply_claim_of(run->parent_uid, t->obs, NULL) != APPLY_CLAIM_OURS || !uid) {
		/* Read first: a name someone else holds is then a conflict without
		 * a refused create request on every retry. */
		claim(run, t, res, false);
	} else if (t->strategy == UPDATE_ONDELETE) {
		res->action = APPLY_UNCHANGED;
	} else if (t->strategy == UPDATE_RECREATE && apply_differs(t->obj, t->obs) && !server_would_keep(run, t)) {
		recreate(run, t, res);
	} else if (childdiff_judge(t->obj, t->obs, run->manager, run->parent_uid) == CHILDDIFF_SAME ||
		   (same_intent(t) && server_would_keep(run, t))) {
		res->action = APPLY_UNCHANGED;
	} else {
		int rc = apply_to(run, t, uid, NULL, false, &out, &res->err);
		if (rc && !is_incarnation(run, t, uid)) {
			/* Gone, or another incarnation (the server says 409 for the
			 * one, 422 "uid is immutable" for the other): ownership
			 * decides afresh. */
			cx_err_clear(&res->err);
			claim(run, t, res, false);
		} else if (rc) {
			res->action = APPLY_FAILED;
		} else {
			res->action = classify(t->obs, out);
			if (res->action != APPLY_UNCHANGED)
				proto_writes_note(run->writes, out);
		}
	}
	json_object_put(out);
}

/* Prepares a desired child: notes its relative name in wanted (kind key →
 * the set of relative names the hook returned), stamps, and
 * fills t (t->obj stays NULL when the child failed: its result, the last in
 * report, says why). The child comes from a checked hook answer
 * (hook_response_parse, hook_decorator_response_parse: the only check of
 * an answer), so it has an apiVersion, a kind among cc's, a name, keys
 * that fit, and no twin. Returns -ENOMEM when the report could not grow,
 * else 0 (a failed child is a result, not an error of the call). */
static int prepare_child(struct run *run, struct json_object *child, struct strmap *wanted, struct apply_report *report,
			 struct target *t)
{
	const char *api_version = jsonget_nonempty(child, "apiVersion"), *kind = jsonget_nonempty(child, "kind");
	const char *name = kobj_name(child);
	/* Under a namespaced parent the child lands in its namespace whatever the
	 * hook wrote; under a cluster-scoped one it names its own. */
	const char *ns = run->parent_ns ? run->parent_ns : kobj_namespace(child);
	struct apply_result *res = add_result(report, api_version, kind, name, ns);
	if (!res)
		return -ENOMEM;
	struct json_object *stamped = NULL;
	const struct config_child *decl = declared(run->cc, api_version, kind);
	char key[CHILDKEY_KIND_MAX], relname[CHILDKEY_MAX];
	bool keyed = decl && childkey_kind(kind, api_version, key, sizeof(key)) &&
		childkey_name(run->parent_ns, ns, name, relname, sizeof(relname));
	assert(keyed && "desired holds only children of a checked hook answer");
	(void)keyed;
	snprintf(t->where, sizeof(t->where), "%s %s", kind, relname);
	/* Noted before anything can fail: a child that fails to apply is
	 * still wanted, and must not be pruned. */
	struct strmap *names = strmap_get(wanted, key);
	if (!names && (!(names = strmap_new(NULL)) || strmap_put(wanted, key, names)))
		strmap_free(&names);
	if (!names || strmap_put(names, relname, NULL)) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	if (discovery_resolve(run->d, api_version, kind, &t->r, &res->err))
		goto failed;
	if (json_object_deep_copy(child, &stamped, NULL) || !stamped) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	if (apply_stamp(run->cc, run->parent, t->r->namespaced, stamped, &res->err))
		goto failed;
	if (run->selector && !selected(run, stamped)) {
		/* It would be orphaned as soon as it is written. */
		cx_err_set(&res->err, -EINVAL, "labels on desired child %s don't match parent selector %s", t->where,
			   json_object_to_json_string_ext(run->selector, JSON_C_TO_STRING_PLAIN));
		goto failed;
	}
	if (!(t->obj = apply_normalise(stamped))) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	const char *child_ns = t->r->namespaced ? kobj_namespace(t->obj) : NULL;
	free(res->namespace);
	res->namespace = child_ns ? strdup(child_ns) : NULL;
	t->strategy = decl->update_strategy;
	t->decl = decl;
	t->obs = jsonget(jsonget(run->observed, key), relname);
	t->path = kresource_path(t->r, child_ns, name, NULL);
	t->collection = kresource_path(t->r, child_ns, NULL, NULL);
	if (!t->path || !t->collection || (child_ns && !res->namespace)) {
		cx_err_set(&res->err, -ENOMEM, "out of memory");
		goto failed;
	}
	json_object_put(stamped);
	return 0;
failed:
	res->action = APPLY_FAILED;
	json_object_put(stamped);
	json_object_put(t->obj);
	t->obj = NULL;
	return 0;
}

/* The rolling kinds' children among the n prepared targets go through
 * rollout_plan; those it holds get held[i] = true. */
static int plan_rollout(struct target *targets, size_t n, bool *held, struct rollout *out)
{
	memset(out, 0, sizeof(*out));
	struct rollout_child *rc = calloc(n ? n : 1, sizeof(*rc));
	size_t *idx = calloc(n ? n : 1, sizeof(*idx)), m = 0;
	if (!rc || !idx) {
		free(rc);
		free(idx);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct target *t = &targets[i];
		if (!t->obj || !rollout_is_rolling(t->strategy))
			continue;
		rc[m] = (struct rollout_child){ .strategy = t->strategy,
						.checks = t->decl->mc,
						.kind = jsonget_string(t->obj, "kind"),
						.name = kobj_name(t->obj),
						.desired = t->obj,
						.observed = t->obs };
		idx[m++] = i;
	}
	rollout_plan(rc, m, out);
	for (size_t k = 0; k < m; k++)
		held[idx[k]] = rc[k].hold;
	free(rc);
	free(idx);
	return 0;
}

/* metacontroller's prune rule: a child this parent controls and its
 * selector matches (claimed, in metacontroller's words) that the hook no
 * longer returns; coxswain's label is not needed. */
static bool prune_mc(struct run *run, struct json_object *o, const char *relname, const struct strmap *desired_names)
{
	return kobj_name(o) && !kobj_deleting(o) && apply_claim_of(run->parent_uid, o, NULL) == APPLY_CLAIM_OURS &&
		selected(run, o) && !(desired_names && strmap_has(desired_names, relname));
}

/* Deletes the observed children of declared kind decl that prune selects. */
static int prune_kind(struct run *run, const struct config_child *decl, const struct strmap *wanted,
		      struct apply_report *report, const char *parent_key)
{
	char key[CHILDKEY_KIND_MAX];
	if (!childkey_kind(decl->kind, decl->api_version, key, sizeof(key)))
		return 0; /* no such key in observed either */
	struct json_object *obs = jsonget(run->observed, key);
	const struct strmap *names = strmap_get(wanted, key);
	const struct kresource *r = NULL;
	struct cx_err resolve_err = { 0 };
	int resolved = 1; /* not yet tried */
	if (!json_object_is_type(obs, json_type_object))
		return 0;
	json_object_object_foreach(obs, relname, o)
	{
		if (run->selector ? !prune_mc(run, o, relname, names)
				  : !apply_should_prune(run->cc->name, run->parent_uid, o, relname, names))
			continue;
		const char *ns = kobj_namespace(o), *name = kobj_name(o);
		struct apply_result *res = add_result(report, decl->api_version, decl->kind, name, ns);
		if (!res)
			return -ENOMEM;
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
			struct kclient_delete_opts opts = { .propagation_policy = "Background",
							    .precondition_uid = kobj_uid(o) };
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
	return 0;
}

int apply_children(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		   struct json_object *parent, struct json_object *observed, struct json_object *desired,
		   struct apply_report *report, struct cx_err *err)
{
	memset(report, 0, sizeof(*report));
	struct run run = { .c = c,
			   .d = d,
			   .cc = cc,
			   .parent = parent,
			   .observed = observed,
			   .parent_uid = kobj_uid(parent),
			   .parent_ns = kobj_namespace(parent) };
	if (!run.parent_uid || !kobj_name(parent))
		return cx_err_set(err, -EINVAL, "apply: the parent has no metadata.%s",
				  run.parent_uid ? "name" : "uid");
	if (desired && !json_object_is_type(desired, json_type_array))
		return cx_err_set(err, -EINVAL, "apply: the desired children are not an array");
	if (!cc->field_manager || !*cc->field_manager)
		return cx_err_set(err, -EINVAL, "apply: controller %s has no field manager", cc->name);
	if ((size_t)snprintf(run.manager, sizeof(run.manager), "%s", cc->field_manager) >= sizeof(run.manager))
		return cx_err_set(err, -ENAMETOOLONG, "apply: field manager %s too long", cc->field_manager);
	int r = 0;
	/* A DecoratorController's attachments are not claimed by a selector. */
	bool composite = cc->kind == CONFIG_KIND_COMPOSITE;
	if (cc->origin == CONFIG_ORIGIN_METACONTROLLER && composite && cc->n_children &&
	    (r = apply_mc_selector(cc, parent, &run.selector, err)))
		return r;
	char parent_key[512];
	snprintf(parent_key, sizeof(parent_key), "%s%s%s", run.parent_ns ? run.parent_ns : "", run.parent_ns ? "/" : "",
		 kobj_name(parent));

	run.writes = report->writes = json_object_new_array();
	size_t n = desired ? json_object_array_length(desired) : 0;
	struct strmap *wanted = strmap_new(free_strmap);
	struct target *targets = calloc(n ? n : 1, sizeof(*targets));
	size_t *at = calloc(n ? n : 1, sizeof(*at));
	bool *held = calloc(n ? n : 1, sizeof(*held));
	if (!wanted || !targets || !at || !held)
		r = -ENOMEM;
	/* Every child is checked and stamped before any is written: the
	 * rollout decides over all of them. */
	for (size_t i = 0; i < n && !r; i++) {
		r = prepare_child(&run, json_object_array_get_idx(desired, i), wanted, report, &targets[i]);
		at[i] = report->n - 1;
	}
	/* A decorator has no rollout: metacontroller writes its rolling
	 * attachments as Recreate and InPlace at once. */
	if (!r && composite)
		r = plan_rollout(targets, n, held, &report->rollout);
	for (size_t i = 0; i < n && !r; i++) {
		struct apply_result *res = &report->results[at[i]];
		struct target *t = &targets[i];
		if (t->obj && held[i]) {
			res->action = APPLY_UNCHANGED; /* its turn in the rollout has not come */
		} else if (t->obj) {
			t->strategy = rollout_method(t->strategy);
			write_child(&run, t, res);
		}
		finish(report, res, cc, parent_key);
	}
	for (size_t i = 0; i < cc->n_children && !r; i++)
		r = prune_kind(&run, &cc->children[i], wanted, report, parent_key);
	for (size_t i = 0; targets && i < n; i++) {
		json_object_put(targets[i].obj);
		free(targets[i].path);
		free(targets[i].collection);
	}
	free(targets);
	free(at);
	free(held);
	strmap_free(&wanted);
	json_object_put(run.selector);
	if (r)
		return cx_err_set(err, r, "apply: out of memory");
	if (report->n_failed || report->n_conflicts)
		return cx_err_set(err, -EIO, "%zu of %zu children failed, %zu are not this parent's", report->n_failed,
				  report->n, report->n_conflicts);
	return 0;
}

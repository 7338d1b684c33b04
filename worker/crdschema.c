#include "config.h"

#include "crdschema.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "err.h"
#include "kobj.h"
#include "jsonget.h"
#include "kclient.h"
#include "log.h"
#include "pathlist.h"

/* One kind's answer. */
struct entry {
	char *key; /* "plural.group/version" */
	bool fetched;
	int64_t fetched_ms;
	struct json_object *crd; /* owned; NULL when the kind has none */
	struct entry *next;
};

struct crdschema {
	struct kclient *c;
	int64_t ttl_ms;
	struct entry *entries;        /* a few kinds per worker: a list is enough */
	struct json_object *keep_all; /* {"x-kubernetes-preserve-unknown-fields": true} */
};

struct crdschema *crdschema_new(struct kclient *c, int64_t ttl_ms)
{
	struct crdschema *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->keep_all = json_tokener_parse("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}");
	if (!s->keep_all) {
		free(s);
		return NULL;
	}
	s->c = c;
	s->ttl_ms = ttl_ms > 0 ? ttl_ms : CRDSCHEMA_DEFAULT_TTL_MS;
	return s;
}

void crdschema_free(struct crdschema **sp)
{
	if (!sp || !*sp)
		return;
	for (struct entry *e = (*sp)->entries, *next; e; e = next) {
		next = e->next;
		free(e->key);
		json_object_put(e->crd);
		free(e);
	}
	json_object_put((*sp)->keep_all);
	free(*sp);
	*sp = NULL;
}

static struct entry *find(struct crdschema *s, const char *key)
{
	for (struct entry *e = s->entries; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

/* Reads the CRD of r into e (NULL when there is none). */
static int fetch(struct crdschema *s, const struct kresource *r, struct entry *e, int64_t now_ms, struct cx_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s.%s", r->resource,
		 r->group);
	struct json_object *crd = NULL;
	int rc = kclient_get(s->c, path, &crd, err);
	if (rc && rc != -ENOENT)
		return cx_err_wrap(err, rc, "reading the CRD of %s to learn its status schema: ", r->kind);
	cx_err_clear(err);
	json_object_put(e->crd);
	e->crd = crd;
	e->fetched = true;
	e->fetched_ms = now_ms;
	return 0;
}

static bool is_true(struct json_object *v)
{
	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

int crdschema_lookup(struct crdschema *s, const struct kresource *r, int64_t now_ms, struct crdschema_info *out,
		     struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	/* A CRD's group has a dot: "", "apps", "batch", "policy" are built in. */
	if (!r->group || !strchr(r->group, '.'))
		return 0;
	char key[512];
	snprintf(key, sizeof(key), "%s.%s/%s", r->resource, r->group, r->version);
	struct entry *e = find(s, key);
	if (!e) {
		if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
			free(e);
			return cx_err_set(err, -ENOMEM, "out of memory");
		}
		e->next = s->entries;
		s->entries = e;
	}
	if (!e->fetched || now_ms - e->fetched_ms >= s->ttl_ms) {
		int rc = fetch(s, r, e, now_ms, err);
		if (rc)
			return rc;
	}
	if (!e->crd)
		return 0;
	out->is_crd = true;
	struct json_object *versions = jsonget(jsonget(e->crd, "spec"), "versions"), *version = NULL;
	for (size_t i = 0; json_object_is_type(versions, json_type_array) && i < json_object_array_length(versions);
	     i++) {
		struct json_object *v = json_object_array_get_idx(versions, i);
		const char *name = jsonget_string(v, "name");
		if (name && !strcmp(name, r->version))
			version = v;
	}
	if (!version) {
		/* Discovery serves the version and the CRD does not list it: the
		 * cached CRD is stale. Read it again next time. */
		e->fetched = false;
		out->is_crd = false;
		return cx_err_set(err, -ESTALE,
				  "the CRD %s.%s has no version %s in spec.versions (changed since "
				  "discovery?)",
				  r->resource, r->group, r->version);
	}
	out->has_status_subresource = jsonget(jsonget(version, "subresources"), "status") != NULL;
	struct json_object *root = jsonget(jsonget(version, "schema"), "openAPIV3Schema");
	struct json_object *status = jsonget(jsonget(root, "properties"), "status");
	if (status) {
		out->status_schema = status;
		out->keep_all = is_true(jsonget(status, "x-kubernetes-preserve-unknown-fields")) &&
			!jsonget(status, "properties") && !jsonget(status, "additionalProperties");
	} else if (!root || is_true(jsonget(root, "x-kubernetes-preserve-unknown-fields"))) {
		/* No schema at all is what a CRD could have before v1: keep all. */
		out->status_schema = s->keep_all;
		out->keep_all = true;
	}
	return 0;
}

void crdschema_invalidate(struct crdschema *s, const struct kresource *r)
{
	if (!s || !r || !r->group)
		return;
	char key[512];
	snprintf(key, sizeof(key), "%s.%s/%s", r->resource, r->group, r->version);
	struct entry *e = find(s, key);
	if (e)
		e->fetched = false;
}

/* ---- pruning ---- */

static struct json_object *copy(struct json_object *v)
{
	struct json_object *out = NULL;
	if (!v)
		return NULL;
	return json_object_deep_copy(v, &out, NULL) ? NULL : out;
}

static bool is_meta_field(const char *key)
{
	return !strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata");
}

struct walk {
	struct pathlist *d;
	bool oom;
};

static struct json_object *prune(struct json_object *schema, struct json_object *value, const char *path,
				 struct walk *w, int depth, bool skip);

static void sub_path(char *sub, size_t len, const char *path, const char *key)
{
	if (snprintf(sub, len, "%s.%s", path, key) >= (int)len && len > 4)
		strcpy(sub + len - 4, "...");
}

/* An embedded resource's metadata: its ObjectMeta fields, nothing else. */
static struct json_object *embedded_metadata(struct json_object *meta, const char *path, struct walk *w)
{
	if (!json_object_is_type(meta, json_type_object))
		return copy(meta);
	struct json_object *out = json_object_new_object();
	if (!out) {
		w->oom = true;
		return NULL;
	}
	json_object_object_foreach(meta, key, val)
	{
		bool known = false;
		for (const char *const *f = kobj_meta_fields; *f && !known; f++)
			known = !strcmp(*f, key);
		if (!known) {
			char sub[512];
			sub_path(sub, sizeof(sub), path, key);
			pathlist_add(w->d, sub);
			continue;
		}
		struct json_object *kept = copy(val);
		if ((val && !kept) || json_object_object_add(out, key, kept))
			w->oom = true;
	}
	return out;
}

/* One field of an object under schema: its pruned copy in *kept, or false
 * when the server drops it. preserving: the object's schema preserves
 * unknown fields (the server's skipPrune). */
static bool field(struct json_object *schema, const char *key, struct json_object *val, const char *path,
		  bool preserving, struct walk *w, int depth, struct json_object **kept)
{
	char sub[512];
	sub_path(sub, sizeof(sub), path, key);
	struct json_object *props = jsonget(schema, "properties"), *prop = jsonget(props, key);
	struct json_object *addl = NULL;
	bool has_addl = schema && json_object_object_get_ex(schema, "additionalProperties", &addl);
	*kept = NULL;
	if (is_true(jsonget(schema, "x-kubernetes-embedded-resource")) && is_meta_field(key)) {
		*kept = !strcmp(key, "metadata") ? embedded_metadata(val, sub, w) : copy(val);
	} else if (prop) {
		*kept = prune(prop, val, sub, w, depth + 1, false);
	} else if (has_addl) {
		/* additionalProperties: true is a schema that declares nothing:
		 * the key stays, an object under it loses its fields. */
		*kept = prune(json_object_is_type(addl, json_type_object) ? addl : NULL, val, sub, w, depth + 1, false);
	} else if (preserving) {
		*kept = copy(val);
	} else {
		pathlist_add(w->d, sub);
		return false;
	}
	if (val && !*kept)
		w->oom = true;
	return true;
}

/* The server's pruning of value under schema (NULL: a schema that declares
 * nothing, as below an object that has neither properties nor
 * additionalProperties). Mirrors apiextensions-apiserver's
 * pkg/apiserver/schema/pruning: a preserving level keeps unknown keys but
 * still prunes the declared ones; an array's elements follow `items`, and
 * below a preserving array they are preserving too (kept whole without
 * `items`). skip: value's level preserves whatever its schema says. */
static struct json_object *prune(struct json_object *schema, struct json_object *value, const char *path,
				 struct walk *w, int depth, bool skip)
{
	bool preserving = skip || is_true(jsonget(schema, "x-kubernetes-preserve-unknown-fields"));
	if (depth > CRDSCHEMA_MAX_DEPTH) { /* never blow the stack */
		w->oom = true;
		return NULL;
	}
	if (json_object_is_type(value, json_type_array)) {
		struct json_object *items = jsonget(schema, "items"), *out = json_object_new_array();
		if (!out) {
			w->oom = true;
			return NULL;
		}
		for (size_t i = 0; i < json_object_array_length(value); i++) {
			char sub[512];
			if (snprintf(sub, sizeof(sub), "%s[%zu]", path, i) >= (int)sizeof(sub))
				strcpy(sub + sizeof(sub) - 4, "...");
			struct json_object *e = json_object_array_get_idx(value, i);
			struct json_object *p = preserving && !items ? copy(e)
								     : prune(items, e, sub, w, depth + 1, preserving);
			if ((e && !p) || json_object_array_add(out, p)) {
				json_object_put(p);
				w->oom = true;
			}
		}
		return out;
	}
	if (!json_object_is_type(value, json_type_object)) {
		struct json_object *out = copy(value);
		if (value && !out)
			w->oom = true;
		return out;
	}
	struct json_object *out = json_object_new_object();
	if (!out) {
		w->oom = true;
		return NULL;
	}
	json_object_object_foreach(value, key, val)
	{
		struct json_object *kept = NULL;
		if (!field(schema, key, val, path, preserving, w, depth, &kept))
			continue;
		if (json_object_object_add(out, key, kept)) {
			json_object_put(kept);
			w->oom = true;
		}
	}
	return out;
}

struct json_object *crdschema_prune(struct json_object *schema, struct json_object *value, const char *prefix,
				    char *dropped, size_t len, size_t *n_dropped)
{
	struct pathlist d;
	pathlist_init(&d, dropped, len);
	struct walk w = { .d = &d };
	struct json_object *out = prune(schema, value, prefix ? prefix : "", &w, 0, false);
	if (n_dropped)
		*n_dropped = d.n;
	if (w.oom) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

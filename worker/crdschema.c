#include "config.h"

#include "crdschema.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discovery.h"
#include "err.h"
#include "jsonget.h"
#include "kclient.h"
#include "log.h"
#include "pathlist.h"

/* One kind's answer. */
struct entry {
	char *key;                   /* "plural.group/version" */
	bool fetched;
	int64_t fetched_ms;
	struct json_object *crd;     /* owned; NULL when the kind has none */
	struct entry *next;
};

struct crdschema {
	struct kclient *c;
	int64_t ttl_ms;
	struct entry *entries;       /* a few kinds per worker: a list is enough */
};

struct crdschema *crdschema_new(struct kclient *c, int64_t ttl_ms)
{
	struct crdschema *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
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
		return cx_err_prefix(err, "reading the CRD of %s to learn its status schema: ", r->kind);
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
	struct json_object *versions = jsonget(jsonget(e->crd, "spec"), "versions");
	struct json_object *root = NULL;
	for (size_t i = 0; json_object_is_type(versions, json_type_array) && i < json_object_array_length(versions);
	     i++) {
		struct json_object *v = json_object_array_get_idx(versions, i);
		const char *name = jsonget_string(v, "name");
		if (name && !strcmp(name, r->version))
			root = jsonget(jsonget(v, "schema"), "openAPIV3Schema");
	}
	struct json_object *status = jsonget(jsonget(root, "properties"), "status");
	if (status) {
		out->status_schema = status;
	} else if (is_true(jsonget(root, "x-kubernetes-preserve-unknown-fields")) || !root) {
		/* No schema at all is what a CRD could have before v1: keep all. */
		out->keep_all = true;
	}
	return 0;
}

/* ---- pruning ---- */

static struct json_object *copy(struct json_object *v)
{
	struct json_object *out = NULL;
	if (!v)
		return NULL;
	return json_object_deep_copy(v, &out, NULL) ? NULL : out;
}

static struct json_object *prune(struct json_object *schema, struct json_object *value, const char *path,
				 struct pathlist *d, bool *oom)
{
	if (json_object_is_type(value, json_type_array)) {
		struct json_object *items = jsonget(schema, "items"), *out = json_object_new_array();
		if (!out) {
			*oom = true;
			return NULL;
		}
		for (size_t i = 0; i < json_object_array_length(value); i++) {
			char sub[512];
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			struct json_object *e = json_object_array_get_idx(value, i);
			struct json_object *p = items ? prune(items, e, sub, d, oom) : copy(e);
			if ((e && !p) || json_object_array_add(out, p))
				*oom = true;
		}
		return out;
	}
	if (!json_object_is_type(value, json_type_object))
		return copy(value);
	struct json_object *props = jsonget(schema, "properties"), *addl = jsonget(schema, "additionalProperties");
	bool preserve = is_true(jsonget(schema, "x-kubernetes-preserve-unknown-fields"));
	bool embedded = is_true(jsonget(schema, "x-kubernetes-embedded-resource"));
	struct json_object *out = json_object_new_object();
	if (!out) {
		*oom = true;
		return NULL;
	}
	json_object_object_foreach(value, key, val) {
		char sub[512];
		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		struct json_object *field = jsonget(props, key), *kept = NULL;
		bool keep = true;
		if (field)
			kept = prune(field, val, sub, d, oom);
		else if (json_object_is_type(addl, json_type_object))
			kept = prune(addl, val, sub, d, oom);
		else if (is_true(addl) || preserve ||
			 (embedded && (!strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata"))))
			kept = copy(val);
		else
			keep = false;
		if (!keep) {
			pathlist_add(d, sub);
			continue;
		}
		if ((val && !kept) || json_object_object_add(out, key, kept))
			*oom = true;
	}
	return out;
}

struct json_object *crdschema_prune(struct json_object *schema, struct json_object *value, const char *prefix,
				    char *dropped, size_t len, size_t *n_dropped)
{
	struct pathlist d;
	pathlist_init(&d, dropped, len);
	bool oom = false;
	struct json_object *out = prune(schema, value, prefix, &d, &oom);
	if (n_dropped)
		*n_dropped = d.n;
	if (oom) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

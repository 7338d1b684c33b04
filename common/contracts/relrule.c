#include "config.h"

#include "relrule.h"
#include "err.h"
#include "jsonget.h"
#include "kobj.h"
#include "selector.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rule_clear(struct relrule *r)
{
	free(r->api_version);
	free(r->resource);
	json_object_put(r->label_selector);
	selector_clear(&r->selector);
	free(r->namespace);
	free_strings(r->names, r->n_names);
	memset(r, 0, sizeof(*r));
}

void relrule_set_clear(struct relrule_set *s)
{
	for (size_t i = 0; s && i < s->n; i++)
		rule_clear(&s->rules[i]);
	if (s) {
		free(s->rules);
		s->rules = NULL;
		s->n = 0;
	}
}

static int oom(struct cx_err *err)
{
	return cx_err_set(err, -ENOMEM, "out of memory");
}

/* A list of strings at path (NULL or absent: none) into *out. */
static int parse_strings(const char *label, const char *path, struct json_object *list, char ***out, size_t *n,
			 struct cx_err *err)
{
	*out = NULL;
	*n = 0;
	if (!list)
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return cx_err_set(err, -EPROTO, "%s: %s: expected a list of strings, got %s", label, path,
				  jsonget_kind(list));
	size_t len = json_object_array_length(list);
	if (!len)
		return 0;
	if (!(*out = calloc(len, sizeof(**out))))
		return oom(err);
	for (size_t i = 0; i < len; i++) {
		struct json_object *v = json_object_array_get_idx(list, i);
		if (!json_object_is_type(v, json_type_string))
			return cx_err_set(err, -EPROTO, "%s: %s[%zu]: expected a string, got %s", label, path, i,
					  jsonget_kind(v));
		if (!((*out)[i] = strdup(json_object_get_string(v))))
			return oom(err);
		*n = i + 1;
	}
	return 0;
}

/* A non-empty string field of rule i; required. */
static int rule_string(const char *label, size_t i, struct json_object *rule, const char *key, char **out,
		       struct cx_err *err)
{
	struct json_object *v = jsonget(rule, key);
	if (!v)
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu].%s: missing", label, i, key);
	if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu].%s: expected a non-empty string", label, i,
				  key);
	return (*out = strdup(json_object_get_string(v))) ? 0 : oom(err);
}

static int parse_rule(const char *label, size_t i, struct json_object *rule, const char *parent_ns, struct relrule *r,
		      struct cx_err *err)
{
	if (!json_object_is_type(rule, json_type_object))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu]: expected an object, got %s", label, i,
				  jsonget_kind(rule));
	int rc;
	if ((rc = rule_string(label, i, rule, "apiVersion", &r->api_version, err)) ||
	    (rc = rule_string(label, i, rule, "resource", &r->resource, err)))
		return rc;
	char path[64];
	struct json_object *ns = jsonget(rule, "namespace"), *sel = jsonget(rule, "labelSelector");
	if (ns && !json_object_is_type(ns, json_type_string))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu].namespace: expected a string, got %s", label,
				  i, jsonget_kind(ns));
	if (ns && *json_object_get_string(ns) && !(r->namespace = strdup(json_object_get_string(ns))))
		return oom(err);
	snprintf(path, sizeof(path), "relatedResources[%zu].names", i);
	if ((rc = parse_strings(label, path, jsonget(rule, "names"), &r->names, &r->n_names, err)))
		return rc;
	if (sel && (r->namespace || r->n_names))
		return cx_err_set(err, -EPROTO,
				  "%s: relatedResources[%zu]: labelSelector and namespace/names cannot both "
				  "be given (select by labels or by namespace and names)",
				  label, i);
	if (r->namespace && parent_ns && *parent_ns && strcmp(r->namespace, parent_ns))
		return cx_err_set(err, -EPROTO,
				  "%s: relatedResources[%zu].namespace: \"%.63s\" is not the parent's "
				  "namespace \"%s\" (a namespaced parent sees related objects of its own namespace "
				  "only)",
				  label, i, r->namespace, parent_ns);
	r->by_labels = !r->namespace && !r->n_names;
	if (sel) {
		snprintf(path, sizeof(path), "relatedResources[%zu].labelSelector", i);
		if ((rc = selector_from_json(sel, path, &r->selector, err))) {
			cx_err_prefix(err, "%s: ", label);
			if (rc != -EINVAL)
				return rc;
			/* An invalid selector is a bad answer (-EPROTO), as a bad field anywhere else in it. */
			if (err)
				err->code = -EPROTO;
			return -EPROTO;
		}
		r->label_selector = json_object_get(sel);
	}
	return 0;
}

static int parse_rules(const char *label, struct json_object *list, const char *parent_ns, struct relrule_set *out,
		       struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!list)
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return cx_err_set(err, -EPROTO, "%s: relatedResources: expected a list, got %s", label,
				  jsonget_kind(list));
	size_t n = json_object_array_length(list);
	if (!n)
		return 0;
	if (!(out->rules = calloc(n, sizeof(*out->rules))))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		out->n = i + 1;
		int rc = parse_rule(label, i, json_object_array_get_idx(list, i), parent_ns, &out->rules[i], err);
		if (rc) {
			relrule_set_clear(out);
			return rc;
		}
	}
	return 0;
}

int relrule_parse_answer(const char *label, bool strict, struct json_object *root, const char *parent_ns,
			 struct relrule_set *out, struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_object_is_type(root, json_type_object))
		return cx_err_set(err, -EPROTO, "%s: the answer is %s, expected a JSON object", label,
				  json_object_is_type(root, json_type_array) ? "an array" : jsonget_kind(root));
	if (strict) {
		json_object_object_foreach(root, key, v)
		{
			(void)v;
			if (strcmp(key, "relatedResources"))
				return cx_err_set(err, -EPROTO,
						  "%s: %.100s: unknown field (responseUnMarshallMode strict; "
						  "expected relatedResources)",
						  label, key);
		}
	}
	return parse_rules(label, jsonget(root, "relatedResources"), parent_ns, out, err);
}

int relrule_set_from_json(const char *label, struct json_object *rules, const char *parent_ns, struct relrule_set *out,
			  struct cx_err *err)
{
	return parse_rules(label, rules, parent_ns, out, err);
}

static bool add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(o, key, v)) {
		json_object_put(v);
		return false;
	}
	return true;
}

static struct json_object *strings_json(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++) {
		struct json_object *s = json_object_new_string(v[i]);
		if (!s || json_object_array_add(a, s)) {
			json_object_put(s);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

struct json_object *relrule_set_json(const struct relrule_set *s)
{
	struct json_object *list = json_object_new_array();
	for (size_t i = 0; list && i < s->n; i++) {
		const struct relrule *r = &s->rules[i];
		struct json_object *o = json_object_new_object();
		bool ok = o && add(o, "apiVersion", json_object_new_string(r->api_version)) &&
			add(o, "resource", json_object_new_string(r->resource));
		if (ok && r->label_selector)
			ok = add(o, "labelSelector", json_object_get(r->label_selector));
		if (ok && r->namespace)
			ok = add(o, "namespace", json_object_new_string(r->namespace));
		if (ok && r->n_names)
			ok = add(o, "names", strings_json(r->names, r->n_names));
		if (!ok || json_object_array_add(list, o)) {
			json_object_put(o);
			json_object_put(list);
			return NULL;
		}
	}
	return list;
}

char *relrule_selector_string(const struct relrule *rule)
{
	return selector_string(&rule->selector);
}

const char *relrule_list_namespace(const struct relrule *rule, const char *parent_ns)
{
	if (parent_ns && *parent_ns)
		return parent_ns;
	return rule->namespace;
}

bool relrule_match(const struct relrule *rule, const char *parent_ns, struct json_object *obj)
{
	const char *ns = kobj_namespace(obj), *name = kobj_name(obj);
	const char *want_ns = relrule_list_namespace(rule, parent_ns);
	if (ns && want_ns && strcmp(ns, want_ns))
		return false;
	if (rule->n_names) {
		bool named = false;
		for (size_t i = 0; name && i < rule->n_names && !named; i++)
			named = !strcmp(rule->names[i], name);
		if (!named)
			return false;
	}
	return selector_matches(&rule->selector, kobj_labels(obj));
}

#include "config.h"

#include "relrule.h"
#include "err.h"
#include "jsonget.h"
#include "kclient.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OP_NAMES[] = {[RELRULE_IN] = "In", [RELRULE_NOT_IN] = "NotIn",
				       [RELRULE_EXISTS] = "Exists", [RELRULE_DOES_NOT_EXIST] = "DoesNotExist"};

static const char *kind_of(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "a boolean";
	case json_type_double: return "a number";
	case json_type_int: return "an integer";
	case json_type_object: return "an object";
	case json_type_array: return "a list";
	case json_type_string: return "a string";
	}
	return "an unknown JSON value";
}

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
	for (size_t i = 0; i < r->n_reqs; i++) {
		free(r->reqs[i].key);
		free_strings(r->reqs[i].values, r->reqs[i].n_values);
	}
	free(r->reqs);
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
		return cx_err_set(err, -EPROTO, "%s: %s: expected a list of strings, got %s", label, path, kind_of(list));
	size_t len = json_object_array_length(list);
	if (!len)
		return 0;
	if (!(*out = calloc(len, sizeof(**out))))
		return oom(err);
	for (size_t i = 0; i < len; i++) {
		struct json_object *v = json_object_array_get_idx(list, i);
		if (!json_object_is_type(v, json_type_string))
			return cx_err_set(err, -EPROTO, "%s: %s[%zu]: expected a string, got %s", label, path, i,
					  kind_of(v));
		if (!((*out)[i] = strdup(json_object_get_string(v))))
			return oom(err);
		*n = i + 1;
	}
	return 0;
}

static struct relrule_req *grow_reqs(struct relrule *r)
{
	struct relrule_req *g = realloc(r->reqs, (r->n_reqs + 1) * sizeof(*g));
	if (!g)
		return NULL;
	r->reqs = g;
	memset(&g[r->n_reqs], 0, sizeof(*g));
	return &g[r->n_reqs++];
}

/* A metav1.LabelSelector at path into r->reqs. */
static int parse_selector(const char *label, const char *path, struct json_object *sel, struct relrule *r,
			  struct cx_err *err)
{
	if (!json_object_is_type(sel, json_type_object))
		return cx_err_set(err, -EPROTO, "%s: %s: expected a label selector object, got %s", label, path,
				  kind_of(sel));
	struct json_object *labels = jsonget(sel, "matchLabels"), *exprs = jsonget(sel, "matchExpressions");
	if (labels && !json_object_is_type(labels, json_type_object))
		return cx_err_set(err, -EPROTO, "%s: %s.matchLabels: expected an object of label values, got %s", label,
				  path, kind_of(labels));
	if (labels) {
		json_object_object_foreach(labels, k, v) {
			if (!json_object_is_type(v, json_type_string))
				return cx_err_set(err, -EPROTO, "%s: %s.matchLabels.%s: expected a string, got %s", label,
						  path, k, kind_of(v));
			struct relrule_req *q = grow_reqs(r);
			if (!q || !(q->key = strdup(k)) || !(q->values = calloc(1, sizeof(*q->values))) ||
			    !(q->values[0] = strdup(json_object_get_string(v))))
				return oom(err);
			q->n_values = 1;
			q->op = RELRULE_IN;
		}
	}
	if (exprs && !json_object_is_type(exprs, json_type_array))
		return cx_err_set(err, -EPROTO, "%s: %s.matchExpressions: expected a list, got %s", label, path,
				  kind_of(exprs));
	for (size_t i = 0; exprs && i < json_object_array_length(exprs); i++) {
		struct json_object *e = json_object_array_get_idx(exprs, i);
		char where[256];
		snprintf(where, sizeof(where), "%s.matchExpressions[%zu]", path, i);
		if (!json_object_is_type(e, json_type_object))
			return cx_err_set(err, -EPROTO, "%s: %s: expected an object, got %s", label, where, kind_of(e));
		struct json_object *key = jsonget(e, "key"), *op = jsonget(e, "operator");
		if (!key)
			return cx_err_set(err, -EPROTO, "%s: %s.key: missing", label, where);
		if (!json_object_is_type(key, json_type_string) || !*json_object_get_string(key))
			return cx_err_set(err, -EPROTO, "%s: %s.key: expected a non-empty string", label, where);
		if (!op)
			return cx_err_set(err, -EPROTO, "%s: %s.operator: missing", label, where);
		const char *ops = json_object_is_type(op, json_type_string) ? json_object_get_string(op) : "";
		enum relrule_op which = 0;
		for (int o = RELRULE_IN; o <= RELRULE_DOES_NOT_EXIST; o++)
			if (!strcmp(OP_NAMES[o], ops))
				which = o;
		if (!which)
			return cx_err_set(err, -EPROTO, "%s: %s.operator: expected In, NotIn, Exists or DoesNotExist, got "
					  "\"%.64s\"", label, where, ops);
		struct relrule_req *q = grow_reqs(r);
		if (!q || !(q->key = strdup(json_object_get_string(key))))
			return oom(err);
		q->op = which;
		char vpath[300];
		snprintf(vpath, sizeof(vpath), "%s.values", where);
		int rc = parse_strings(label, vpath, jsonget(e, "values"), &q->values, &q->n_values, err);
		if (rc)
			return rc;
		bool set_op = which == RELRULE_IN || which == RELRULE_NOT_IN;
		if (set_op && !q->n_values)
			return cx_err_set(err, -EPROTO, "%s: %s: %s needs at least one value", label, vpath, OP_NAMES[which]);
		if (!set_op && q->n_values)
			return cx_err_set(err, -EPROTO, "%s: %s: %s takes no values", label, vpath, OP_NAMES[which]);
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
				  kind_of(rule));
	int rc;
	if ((rc = rule_string(label, i, rule, "apiVersion", &r->api_version, err)) ||
	    (rc = rule_string(label, i, rule, "resource", &r->resource, err)))
		return rc;
	char path[64];
	struct json_object *ns = jsonget(rule, "namespace"), *sel = jsonget(rule, "labelSelector");
	if (ns && !json_object_is_type(ns, json_type_string))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu].namespace: expected a string, got %s", label, i,
				  kind_of(ns));
	if (ns && *json_object_get_string(ns) && !(r->namespace = strdup(json_object_get_string(ns))))
		return oom(err);
	snprintf(path, sizeof(path), "relatedResources[%zu].names", i);
	if ((rc = parse_strings(label, path, jsonget(rule, "names"), &r->names, &r->n_names, err)))
		return rc;
	if (sel && (r->namespace || r->n_names))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu]: labelSelector and namespace/names cannot both "
				  "be given (select by labels or by namespace and names)", label, i);
	if (r->namespace && parent_ns && *parent_ns && strcmp(r->namespace, parent_ns))
		return cx_err_set(err, -EPROTO, "%s: relatedResources[%zu].namespace: \"%.63s\" is not the parent's "
				  "namespace \"%s\" (a namespaced parent sees related objects of its own namespace "
				  "only)", label, i, r->namespace, parent_ns);
	r->by_labels = !r->namespace && !r->n_names;
	if (sel) {
		snprintf(path, sizeof(path), "relatedResources[%zu].labelSelector", i);
		if ((rc = parse_selector(label, path, sel, r, err)))
			return rc;
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
		return cx_err_set(err, -EPROTO, "%s: relatedResources: expected a list, got %s", label, kind_of(list));
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
				  json_object_is_type(root, json_type_array) ? "an array" : kind_of(root));
	if (strict) {
		json_object_object_foreach(root, key, v) {
			(void)v;
			if (strcmp(key, "relatedResources"))
				return cx_err_set(err, -EPROTO, "%s: %.100s: unknown field (responseUnMarshallMode strict; "
						  "expected relatedResources)", label, key);
		}
	}
	return parse_rules(label, jsonget(root, "relatedResources"), parent_ns, out, err);
}

int relrule_set_from_json(const char *label, struct json_object *rules, const char *parent_ns,
			  struct relrule_set *out, struct cx_err *err)
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

/* Appends text to *buf (grown as needed). */
static bool append(char **buf, size_t *len, size_t *cap, const char *text)
{
	size_t n = strlen(text);
	if (*len + n + 1 > *cap) {
		size_t c = (*len + n + 1) * 2;
		char *g = realloc(*buf, c);
		if (!g)
			return false;
		*buf = g;
		*cap = c;
	}
	memcpy(*buf + *len, text, n + 1);
	*len += n;
	return true;
}

char *relrule_selector_string(const struct relrule *rule)
{
	size_t len = 0, cap = 64;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	buf[0] = '\0';
	bool ok = true;
	for (size_t i = 0; ok && i < rule->n_reqs; i++) {
		const struct relrule_req *q = &rule->reqs[i];
		if (i)
			ok = append(&buf, &len, &cap, ",");
		if (ok && q->op == RELRULE_DOES_NOT_EXIST)
			ok = append(&buf, &len, &cap, "!");
		ok = ok && append(&buf, &len, &cap, q->key);
		/* A matchLabels pair (In with one value) reads key=value, as kubectl writes it. */
		if (ok && q->op == RELRULE_IN && q->n_values == 1) {
			ok = append(&buf, &len, &cap, "=") && append(&buf, &len, &cap, q->values[0]);
		} else if (ok && (q->op == RELRULE_IN || q->op == RELRULE_NOT_IN)) {
			ok = append(&buf, &len, &cap, q->op == RELRULE_IN ? " in (" : " notin (");
			for (size_t v = 0; ok && v < q->n_values; v++)
				ok = (!v || append(&buf, &len, &cap, ",")) && append(&buf, &len, &cap, q->values[v]);
			ok = ok && append(&buf, &len, &cap, ")");
		}
	}
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

const char *relrule_list_namespace(const struct relrule *rule, const char *parent_ns)
{
	if (parent_ns && *parent_ns)
		return parent_ns;
	return rule->namespace;
}

static bool has_value(const struct relrule_req *q, const char *v)
{
	for (size_t i = 0; i < q->n_values; i++)
		if (!strcmp(q->values[i], v))
			return true;
	return false;
}

bool relrule_match(const struct relrule *rule, const char *parent_ns, struct json_object *obj)
{
	struct json_object *meta = jsonget(obj, "metadata");
	const char *ns = jsonget_nonempty(meta, "namespace"), *name = jsonget_string(meta, "name");
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
	struct json_object *labels = jsonget(meta, "labels");
	for (size_t i = 0; i < rule->n_reqs; i++) {
		const struct relrule_req *q = &rule->reqs[i];
		const char *v = jsonget_string(labels, q->key);
		bool ok = q->op == RELRULE_IN ? v && has_value(q, v) : q->op == RELRULE_NOT_IN ? !v || !has_value(q, v)
			: q->op == RELRULE_EXISTS ? v != NULL : v == NULL;
		if (!ok)
			return false;
	}
	return true;
}

int relrule_kind_of(struct kclient *c, const char *api_version, const char *resource, char *kind, size_t len,
		    struct cx_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "%s%s", strchr(api_version, '/') ? "/apis/" : "/api/", api_version);
	struct json_object *doc = NULL;
	int rc = kclient_get(c, path, &doc, err);
	if (rc == -ENOENT)
		return cx_err_set(err, -ENOENT, "the API server does not serve %s (is its CRD installed and "
				  "established?)", api_version);
	if (rc)
		return rc;
	struct json_object *list = jsonget(doc, "resources");
	for (size_t i = 0; list && json_object_is_type(list, json_type_array) && i < json_object_array_length(list);
	     i++) {
		struct json_object *r = json_object_array_get_idx(list, i);
		const char *name = jsonget_string(r, "name"), *k = jsonget_string(r, "kind");
		if (name && k && !strcmp(name, resource)) {
			snprintf(kind, len, "%s", k);
			json_object_put(doc);
			return 0;
		}
	}
	json_object_put(doc);
	return cx_err_set(err, -ENOENT, "the API server serves %s but no resource \"%.100s\" in it (resource is the "
			  "lower-case plural: \"configmaps\")", api_version, resource);
}

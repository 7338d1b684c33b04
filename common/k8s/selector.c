#include "config.h"

#include "selector.h"
#include "err.h"
#include "jsonget.h"
#include "kobj.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const OP_NAMES[] = { [SELECTOR_OP_IN] = "In",
					[SELECTOR_OP_NOT_IN] = "NotIn",
					[SELECTOR_OP_EXISTS] = "Exists",
					[SELECTOR_OP_DOES_NOT_EXIST] = "DoesNotExist" };
#define N_OPS (sizeof(OP_NAMES) / sizeof(*OP_NAMES))

/* ---- reading JSON ---- */

static int oom(struct cx_err *err)
{
	return cx_err_set(err, -ENOMEM, "out of memory");
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void selector_clear(struct selector *sel)
{
	if (!sel)
		return;
	free_strings(sel->match_keys, sel->n_match);
	free_strings(sel->match_values, sel->n_match);
	for (size_t i = 0; i < sel->n_exprs; i++) {
		free(sel->exprs[i].key);
		free_strings(sel->exprs[i].values, sel->exprs[i].n_values);
	}
	free(sel->exprs);
	memset(sel, 0, sizeof(*sel));
}

/* matchLabels (an object of strings) at where into sel's match pairs, in
 * the document's order. */
static int parse_match(struct json_object *labels, const char *where, struct selector *sel, struct cx_err *err)
{
	if (!json_object_is_type(labels, json_type_object))
		return cx_err_set(err, -EINVAL, "%s.matchLabels: expected an object of label values, got %s", where,
				  jsonget_kind(labels));
	sel->has_match = true;
	size_t n = (size_t)json_object_object_length(labels);
	if (!n)
		return 0;
	if (!(sel->match_keys = calloc(n, sizeof(char *))) || !(sel->match_values = calloc(n, sizeof(char *))))
		return oom(err);
	json_object_object_foreach(labels, k, v)
	{
		if (!json_object_is_type(v, json_type_string))
			return cx_err_set(err, -EINVAL, "%s.matchLabels.%s: expected a string, got %s", where, k,
					  jsonget_kind(v));
		size_t i = sel->n_match++;
		if (!(sel->match_keys[i] = strdup(k)) || !(sel->match_values[i] = strdup(json_object_get_string(v))))
			return oom(err);
	}
	return 0;
}

/* One requirement's values (absent: none) at where. */
static int parse_values(struct json_object *list, const char *where, struct selector_requirement *r, struct cx_err *err)
{
	if (!list)
		return 0;
	if (!json_object_is_type(list, json_type_array))
		return cx_err_set(err, -EINVAL, "%s.values: expected a list of strings, got %s", where,
				  jsonget_kind(list));
	r->has_values = true;
	size_t n = json_object_array_length(list);
	if (n && !(r->values = calloc(n, sizeof(*r->values))))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(list, i);
		if (!json_object_is_type(v, json_type_string))
			return cx_err_set(err, -EINVAL, "%s.values[%zu]: expected a string, got %s", where, i,
					  jsonget_kind(v));
		if (!(r->values[i] = strdup(json_object_get_string(v))))
			return oom(err);
		r->n_values = i + 1;
	}
	return 0;
}

/* A metav1.LabelSelectorRequirement e at where into r (zeroed), checked as
 * the API server's LabelSelectorAsSelector checks it. */
static int parse_requirement(struct json_object *e, const char *where, struct selector_requirement *r,
			     struct cx_err *err)
{
	if (!json_object_is_type(e, json_type_object))
		return cx_err_set(err, -EINVAL, "%s: expected an object, got %s", where, jsonget_kind(e));
	struct json_object *key = jsonget(e, "key"), *op = jsonget(e, "operator");
	if (!key)
		return cx_err_set(err, -EINVAL, "%s.key: missing", where);
	if (!json_object_is_type(key, json_type_string) || !json_object_get_string_len(key))
		return cx_err_set(err, -EINVAL, "%s.key: expected a non-empty string", where);
	if (!op)
		return cx_err_set(err, -EINVAL, "%s.operator: missing", where);
	size_t which = N_OPS;
	if (json_object_is_type(op, json_type_string))
		for (which = 0; which < N_OPS && strcmp(OP_NAMES[which], json_object_get_string(op)); which++)
			;
	if (which == N_OPS) {
		if (!json_object_is_type(op, json_type_string))
			return cx_err_set(err, -EINVAL,
					  "%s.operator: expected In, NotIn, Exists or DoesNotExist, got %s", where,
					  jsonget_kind(op));
		return cx_err_set(err, -EINVAL,
				  "%s.operator: expected In, NotIn, Exists or DoesNotExist, got \"%.64s\"", where,
				  json_object_get_string(op));
	}
	r->op = (enum selector_op)which;
	if (!(r->key = strdup(json_object_get_string(key))))
		return oom(err);
	int rc = parse_values(jsonget(e, "values"), where, r, err);
	if (rc)
		return rc;
	bool set_op = r->op == SELECTOR_OP_IN || r->op == SELECTOR_OP_NOT_IN;
	if (set_op && !r->n_values)
		return cx_err_set(err, -EINVAL, "%s.values: %s needs at least one value", where, OP_NAMES[r->op]);
	if (!set_op && r->n_values)
		return cx_err_set(err, -EINVAL, "%s.values: %s takes no values", where, OP_NAMES[r->op]);
	return 0;
}

static int parse_exprs(struct json_object *exprs, const char *where, struct selector *sel, struct cx_err *err)
{
	if (!json_object_is_type(exprs, json_type_array))
		return cx_err_set(err, -EINVAL, "%s.matchExpressions: expected a list, got %s", where,
				  jsonget_kind(exprs));
	sel->has_exprs = true;
	size_t n = json_object_array_length(exprs);
	if (n && !(sel->exprs = calloc(n, sizeof(*sel->exprs))))
		return oom(err);
	for (size_t i = 0; i < n; i++) {
		char at[512];
		snprintf(at, sizeof(at), "%s.matchExpressions[%zu]", where, i);
		sel->n_exprs = i + 1; /* counted before it is filled, so selector_clear frees a half-read one */
		int rc = parse_requirement(json_object_array_get_idx(exprs, i), at, &sel->exprs[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

int selector_from_json(struct json_object *j, const char *where, struct selector *out, struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!j)
		return 0;
	if (!where)
		where = "labelSelector";
	if (!json_object_is_type(j, json_type_object))
		return cx_err_set(err, -EINVAL, "%s: expected a label selector object, got %s", where, jsonget_kind(j));
	out->set = true;
	struct json_object *labels = jsonget(j, "matchLabels"), *exprs = jsonget(j, "matchExpressions");
	int rc = 0;
	if (labels)
		rc = parse_match(labels, where, out, err);
	if (!rc && exprs)
		rc = parse_exprs(exprs, where, out, err);
	if (rc)
		selector_clear(out);
	return rc;
}

/* ---- the API's labelSelector syntax ---- */

char *selector_string(const struct selector *sel)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	const char *sep = "";
	for (size_t i = 0; sel && sel->set && i < sel->n_match; i++, sep = ",")
		fprintf(f, "%s%s=%s", sep, sel->match_keys[i], sel->match_values[i]);
	for (size_t i = 0; sel && sel->set && i < sel->n_exprs; i++, sep = ",") {
		const struct selector_requirement *r = &sel->exprs[i];
		switch (r->op) {
		case SELECTOR_OP_IN:
		case SELECTOR_OP_NOT_IN:
			fprintf(f, "%s%s %s (", sep, r->key, r->op == SELECTOR_OP_IN ? "in" : "notin");
			for (size_t v = 0; v < r->n_values; v++)
				fprintf(f, "%s%s", v ? "," : "", r->values[v]);
			fputs(")", f);
			break;
		case SELECTOR_OP_EXISTS:
			fprintf(f, "%s%s", sep, r->key);
			break;
		case SELECTOR_OP_DOES_NOT_EXIST:
			fprintf(f, "%s!%s", sep, r->key);
			break;
		}
	}
	bool failed = ferror(f) != 0;
	if (fclose(f) || failed) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- evaluation ---- */

static bool one_of(const char *v, char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (values[i] && !strcmp(v, values[i]))
			return true;
	return false;
}

static bool requirement_matches(const struct selector_requirement *r, struct json_object *m)
{
	const char *v = jsonget_string(m, r->key);
	switch (r->op) {
	case SELECTOR_OP_IN:
		return v && one_of(v, r->values, r->n_values);
	case SELECTOR_OP_NOT_IN:
		return !v || !one_of(v, r->values, r->n_values);
	case SELECTOR_OP_EXISTS:
		return v != NULL;
	case SELECTOR_OP_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false; /* an operator no parser produces: select nothing rather than everything */
}

bool selector_matches(const struct selector *sel, struct json_object *m)
{
	if (!sel || !sel->set)
		return true;
	for (size_t i = 0; i < sel->n_match; i++) {
		const char *v = jsonget_string(m, sel->match_keys[i]);
		if (!v || strcmp(v, sel->match_values[i]))
			return false;
	}
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!requirement_matches(&sel->exprs[i], m))
			return false;
	return true;
}

bool selector_matches_annotations(const struct selector *sel, struct json_object *obj)
{
	return selector_matches(sel, kobj_annotations(obj));
}

bool selector_matches_labels(const struct selector *sel, struct json_object *obj)
{
	return selector_matches(sel, kobj_labels(obj));
}

int selector_json_matches(struct json_object *selector, struct json_object *labels, struct cx_err *err)
{
	struct selector sel;
	int rc = selector_from_json(selector, "selector", &sel, err);
	if (rc)
		return rc;
	rc = selector_matches(&sel, labels) ? 1 : 0;
	selector_clear(&sel);
	return rc;
}

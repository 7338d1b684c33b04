#include "config.h"

#include "selector.h"
#include "err.h"
#include "jsonget.h"
#include "mcdef.h"

#include <errno.h>
#include <json-c/json.h>
#include <string.h>

/* m[key] when it is a string, else NULL (absent). */
static const char *value_of(struct json_object *m, const char *key)
{
	struct json_object *v = NULL;
	if (!m || !json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool one_of(const char *v, char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (values[i] && !strcmp(v, values[i]))
			return true;
	return false;
}

static bool requirement_matches(const struct mcdef_requirement *r, struct json_object *m)
{
	const char *v = value_of(m, r->key);
	switch (r->op) {
	case MCDEF_OP_IN:
		return v && one_of(v, r->values, r->n_values);
	case MCDEF_OP_NOT_IN:
		return !v || !one_of(v, r->values, r->n_values);
	case MCDEF_OP_EXISTS:
		return v != NULL;
	case MCDEF_OP_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false; /* an operator mcdef never produces: select nothing rather than everything */
}

bool selector_matches(const struct mcdef_selector *sel, struct json_object *m)
{
	if (!sel || !sel->set)
		return true;
	for (size_t i = 0; i < sel->n_match; i++) {
		const char *v = value_of(m, sel->match_keys[i]);
		if (!v || strcmp(v, sel->match_values[i]))
			return false;
	}
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!requirement_matches(&sel->exprs[i], m))
			return false;
	return true;
}

bool selector_matches_annotations(const struct mcdef_selector *sel, struct json_object *obj)
{
	return selector_matches(sel, jsonget(jsonget(obj, "metadata"), "annotations"));
}

bool selector_matches_labels(const struct mcdef_selector *sel, struct json_object *obj)
{
	return selector_matches(sel, jsonget(jsonget(obj, "metadata"), "labels"));
}

/* Whether the string v is among values (a JSON array). */
static bool among(struct json_object *values, const char *v)
{
	size_t n = json_object_array_length(values);
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(values, i));
		if (s && v && !strcmp(s, v))
			return true;
	}
	return false;
}

int selector_json_matches(struct json_object *selector, struct json_object *labels, struct cx_err *err)
{
	struct json_object *ml = jsonget(selector, "matchLabels"), *exprs = jsonget(selector, "matchExpressions");
	if (ml && !json_object_is_type(ml, json_type_object))
		return cx_err_set(err, -EINVAL, "selector: matchLabels is not an object");
	if (exprs && !json_object_is_type(exprs, json_type_array))
		return cx_err_set(err, -EINVAL, "selector: matchExpressions is not a list");
	int match = 1;
	if (ml) {
		json_object_object_foreach(ml, key, val) {
			const char *have = jsonget_string(labels, key);
			if (!have || strcmp(have, json_object_get_string(val) ?: ""))
				match = 0;
		}
	}
	size_t n = exprs ? json_object_array_length(exprs) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(exprs, i), *values = jsonget(e, "values");
		const char *key = jsonget_nonempty(e, "key"), *op = jsonget_string(e, "operator");
		size_t nv = json_object_is_type(values, json_type_array) ? json_object_array_length(values) : 0;
		if (!key || !op)
			return cx_err_set(err, -EINVAL, "selector: matchExpressions[%zu] has no %s", i,
					  !key ? "key" : "operator");
		bool in = !strcmp(op, "In"), not_in = !strcmp(op, "NotIn");
		bool exists = !strcmp(op, "Exists"), absent = !strcmp(op, "DoesNotExist");
		if (!in && !not_in && !exists && !absent)
			return cx_err_set(err, -EINVAL, "selector: matchExpressions[%zu]: unknown operator \"%s\"", i, op);
		if ((in || not_in) && !nv)
			return cx_err_set(err, -EINVAL, "selector: matchExpressions[%zu]: %s needs values", i, op);
		if ((exists || absent) && nv)
			return cx_err_set(err, -EINVAL, "selector: matchExpressions[%zu]: %s takes no values", i, op);
		const char *have = jsonget_string(labels, key);
		if ((in && !(have && among(values, have))) || (not_in && have && among(values, have)) ||
		    (exists && !have) || (absent && have))
			match = 0;
	}
	return match;
}

#include "config.h"

#include "selector.h"
#include "jsonget.h"
#include "mcdef.h"

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

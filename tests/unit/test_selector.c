/* selector: label and annotation selectors evaluated on the client side
 * (Kubernetes' labels.Selector rules). */
#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>

#include "err.h"
#include "mcdef.h"
#include "selector.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* A selector with one matchAnnotations pair (key NULL: none) and up to two
 * expressions. */
struct fixture {
	struct selector sel;
	char *keys[1], *values[1];
	struct selector_requirement exprs[2];
};

static void expr(struct fixture *f, const char *key, enum selector_op op, char **values, size_t n)
{
	struct selector_requirement *r = &f->exprs[f->sel.n_exprs++];
	*r = (struct selector_requirement){
		.key = (char *)key, .op = op, .values = values, .n_values = n, .has_values = n > 0
	};
	f->sel.exprs = f->exprs;
	f->sel.has_exprs = true;
	f->sel.set = true;
}

static void match(struct fixture *f, const char *key, const char *value)
{
	f->keys[0] = (char *)key;
	f->values[0] = (char *)value;
	f->sel.match_keys = f->keys;
	f->sel.match_values = f->values;
	f->sel.n_match = 1;
	f->sel.has_match = true;
	f->sel.set = true;
}

static bool on(const struct selector *sel, const char *map)
{
	struct json_object *m = json(map);
	bool r = selector_matches(sel, m);
	json_object_put(m);
	return r;
}

Test(selector, absent_or_empty_selects_everything)
{
	struct selector none = { 0 }, empty = { .set = true, .has_match = true };
	cr_assert(selector_matches(NULL, NULL));
	cr_assert(selector_matches(&none, NULL));
	cr_assert(on(&none, "{\"a\":\"b\"}"));
	cr_assert(selector_matches(&empty, NULL));
	cr_assert(on(&empty, "{}"));
}

Test(selector, match_needs_the_key_with_that_value)
{
	struct fixture f = { 0 };
	match(&f, "decorate", "yes");
	cr_assert(on(&f.sel, "{\"decorate\":\"yes\",\"other\":\"x\"}"));
	cr_assert_not(on(&f.sel, "{\"decorate\":\"no\"}"));
	cr_assert_not(on(&f.sel, "{\"other\":\"yes\"}"));
	cr_assert_not(selector_matches(&f.sel, NULL), "no map at all is an empty map");
	cr_assert_not(on(&f.sel, "{\"decorate\":true}"), "a value that is not a string is absent");
}

Test(selector, in_and_not_in)
{
	char *vals[] = { "a", "b" };
	struct fixture in = { 0 }, notin = { 0 };
	expr(&in, "tier", SELECTOR_OP_IN, vals, 2);
	expr(&notin, "tier", SELECTOR_OP_NOT_IN, vals, 2);
	cr_assert(on(&in.sel, "{\"tier\":\"b\"}"));
	cr_assert_not(on(&in.sel, "{\"tier\":\"c\"}"));
	cr_assert_not(on(&in.sel, "{}"), "In needs the key");
	cr_assert_not(on(&notin.sel, "{\"tier\":\"a\"}"));
	cr_assert(on(&notin.sel, "{\"tier\":\"c\"}"));
	cr_assert(on(&notin.sel, "{}"), "NotIn selects an object without the key");
}

Test(selector, exists_and_does_not_exist)
{
	struct fixture ex = { 0 }, dne = { 0 };
	expr(&ex, "service-per-pod-label", SELECTOR_OP_EXISTS, NULL, 0);
	expr(&dne, "legacy", SELECTOR_OP_DOES_NOT_EXIST, NULL, 0);
	cr_assert(on(&ex.sel, "{\"service-per-pod-label\":\"\"}"), "an empty value exists");
	cr_assert_not(on(&ex.sel, "{\"other\":\"x\"}"));
	cr_assert(on(&dne.sel, "{\"other\":\"x\"}"));
	cr_assert_not(on(&dne.sel, "{\"legacy\":\"1\"}"));
}

Test(selector, everything_must_hold)
{
	char *vals[] = { "on" };
	struct fixture f = { 0 };
	match(&f, "team", "a");
	expr(&f, "ports", SELECTOR_OP_EXISTS, NULL, 0);
	expr(&f, "mode", SELECTOR_OP_IN, vals, 1);
	cr_assert(on(&f.sel, "{\"team\":\"a\",\"ports\":\"80\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"a\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"b\",\"ports\":\"80\",\"mode\":\"on\"}"));
	cr_assert_not(on(&f.sel, "{\"team\":\"a\",\"ports\":\"80\",\"mode\":\"off\"}"));
}

Test(selector, reads_an_objects_annotations_or_labels)
{
	struct fixture f = { 0 };
	match(&f, "k", "v");
	struct json_object *o = json("{\"metadata\":{\"labels\":{\"k\":\"v\"},\"annotations\":{\"k\":\"w\"}}}");
	cr_assert(selector_matches_labels(&f.sel, o));
	cr_assert_not(selector_matches_annotations(&f.sel, o));
	json_object_put(o);
	cr_assert_not(selector_matches_annotations(&f.sel, NULL));
}

/* ---- a metav1.LabelSelector from JSON, rendered as the API's labelSelector ---- */

/* Parses text (where "spec.selector"), expecting success. */
static void parsed(const char *text, struct selector *out)
{
	struct json_object *j = json(text);
	struct cx_err err = { 0 };
	cr_assert_eq(selector_from_json(j, "spec.selector", out, &err), 0, "%s: %s", text, err.msg);
	json_object_put(j);
}

/* Parses text, expecting -EINVAL with exactly want as the message. */
static void refused(const char *text, const char *want)
{
	struct json_object *j = json(text);
	struct cx_err err = { 0 };
	struct selector s = { 0 };
	cr_assert_eq(selector_from_json(j, "spec.selector", &s, &err), -EINVAL, "accepted: %s", text);
	cr_assert_str_eq(err.msg, want);
	cr_assert_not(s.set, "a refused selector is left empty");
	cr_assert_null(s.match_keys);
	cr_assert_null(s.exprs);
	json_object_put(j);
}

static void renders(const char *text, const char *want)
{
	struct selector s = { 0 };
	parsed(text, &s);
	char *got = selector_string(&s);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want, "%s", text);
	free(got);
	selector_clear(&s);
	cr_assert_not(s.set);
	cr_assert_null(s.exprs);
}

Test(selector_json, parses_labels_then_expressions)
{
	struct selector s = { 0 };
	parsed("{\"matchLabels\":{\"team\":\"a\",\"app\":\"x\"},\"matchExpressions\":[{\"key\":\"tier\","
	       "\"operator\":\"In\",\"values\":[\"x\",\"y\"]},{\"key\":\"old\",\"operator\":\"DoesNotExist\"}]}",
	       &s);
	cr_assert(s.set && s.has_match && s.has_exprs);
	cr_assert_eq(s.n_match, 2);
	cr_assert_str_eq(s.match_keys[0], "team", "the document's order");
	cr_assert_str_eq(s.match_values[1], "x");
	cr_assert_eq(s.n_exprs, 2);
	cr_assert_str_eq(s.exprs[0].key, "tier");
	cr_assert_eq(s.exprs[0].op, SELECTOR_OP_IN);
	cr_assert_eq(s.exprs[0].n_values, 2);
	cr_assert_str_eq(s.exprs[0].values[1], "y");
	cr_assert_eq(s.exprs[1].op, SELECTOR_OP_DOES_NOT_EXIST);
	cr_assert_eq(s.exprs[1].n_values, 0);
	cr_assert_not(on(&s, "{}"), "In needs tier");
	selector_clear(&s);

	/* Absent (NULL) is no selector; {} is a selector of nothing: both select everything. */
	struct cx_err err = { 0 };
	cr_assert_eq(selector_from_json(NULL, "spec.selector", &s, &err), 0);
	cr_assert_not(s.set);
	parsed("{}", &s);
	cr_assert(s.set && !s.has_match && !s.has_exprs);
	cr_assert(selector_matches(&s, NULL));
	selector_clear(&s);
}

Test(selector_json, bad_fields_are_named_by_path)
{
	refused("[]", "spec.selector: expected a label selector object, got a list");
	refused("{\"matchLabels\":[]}", "spec.selector.matchLabels: expected an object of label values, got a list");
	refused("{\"matchLabels\":{\"a\":1}}", "spec.selector.matchLabels.a: expected a string, got an integer");
	refused("{\"matchExpressions\":{}}", "spec.selector.matchExpressions: expected a list, got an object");
	refused("{\"matchExpressions\":[3]}", "spec.selector.matchExpressions[0]: expected an object, got an integer");
	refused("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", "spec.selector.matchExpressions[0].key: missing");
	refused("{\"matchExpressions\":[{\"key\":\"\",\"operator\":\"Exists\"}]}",
		"spec.selector.matchExpressions[0].key: expected a non-empty string");
	refused("{\"matchExpressions\":[{\"key\":\"a\"}]}", "spec.selector.matchExpressions[0].operator: missing");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"a\",\"operator\":"
		"\"Like\",\"values\":[\"x\"]}]}",
		"spec.selector.matchExpressions[1].operator: expected In, NotIn, Exists or DoesNotExist, got \"Like\"");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}",
		"spec.selector.matchExpressions[0].values: In needs at least one value");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\"}]}",
		"spec.selector.matchExpressions[0].values: NotIn needs at least one value");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
		"spec.selector.matchExpressions[0].values: Exists takes no values");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"DoesNotExist\",\"values\":[\"x\"]}]}",
		"spec.selector.matchExpressions[0].values: DoesNotExist takes no values");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":\"x\"}]}",
		"spec.selector.matchExpressions[0].values: expected a list of strings, got a string");
	refused("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"x\",2]}]}",
		"spec.selector.matchExpressions[0].values[1]: expected a string, got an integer");
}

/* The API's labelSelector syntax (what kubectl -l takes), the cases relrule
 * and mcbridge rendered before selector owned it. */
Test(selector_json, renders_the_api_syntax)
{
	renders("{\"matchLabels\":{\"team\":\"a\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\","
		"\"values\":[\"x\",\"y\"]},{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]},"
		"{\"key\":\"owned\",\"operator\":\"Exists\"},{\"key\":\"old\",\"operator\":\"DoesNotExist\"}]}",
		"team=a,tier in (x,y),env notin (prod),owned,!old");
	renders("{\"matchLabels\":{\"a\":\"b\"}}", "a=b");
	renders("{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"Exists\"}]}", "k");
	renders("{\"matchLabels\":{\"app\":\"x\"},\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\","
		"\"values\":[\"a\",\"b\"]},{\"key\":\"old\",\"operator\":\"DoesNotExist\"},{\"key\":\"k\","
		"\"operator\":\"Exists\"},{\"key\":\"z\",\"operator\":\"NotIn\",\"values\":[\"q\"]}]}",
		"app=x,tier in (a,b),!old,k,z notin (q)");
	renders("{}", "");
	char *all = selector_string(NULL);
	cr_assert_str_eq(all, "", "no selector selects everything");
	free(all);
	struct selector none = { 0 };
	all = selector_string(&none);
	cr_assert_str_eq(all, "");
	free(all);
}

/* selector_json_matches: parse, evaluate and drop in one call, for callers
 * holding the selector as JSON (the worker's spec.selector). */
static int json_matches(const char *selector, const char *labels)
{
	struct json_object *s = selector ? json(selector) : NULL, *l = labels ? json(labels) : NULL;
	struct cx_err err = { 0 };
	int r = selector_json_matches(s, l, &err);
	json_object_put(s);
	json_object_put(l);
	return r;
}

Test(selector_json, matches_in_one_call)
{
	cr_assert_eq(json_matches("{\"matchLabels\":{\"app\":\"x\"}}", "{\"app\":\"x\",\"more\":\"1\"}"), 1);
	cr_assert_eq(json_matches("{\"matchLabels\":{\"app\":\"x\"}}", "{\"app\":\"y\"}"), 0);
	cr_assert_eq(json_matches("{\"matchLabels\":{\"app\":\"x\"}}", NULL), 0);
	const char *exprs = "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},"
			    "{\"key\":\"legacy\",\"operator\":\"DoesNotExist\"},"
			    "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]},"
			    "{\"key\":\"team\",\"operator\":\"Exists\"}]}";
	cr_assert_eq(json_matches(exprs, "{\"tier\":\"a\",\"team\":\"t\"}"), 1);
	cr_assert_eq(json_matches(exprs, "{\"tier\":\"c\",\"team\":\"t\"}"), 0);
	cr_assert_eq(json_matches(exprs, "{\"tier\":\"a\",\"team\":\"t\",\"legacy\":\"\"}"), 0);
	cr_assert_eq(json_matches(exprs, "{\"tier\":\"a\",\"team\":\"t\",\"env\":\"prod\"}"), 0);
	cr_assert_eq(json_matches(exprs, "{\"tier\":\"a\"}"), 0);
	cr_assert_eq(json_matches(NULL, "{\"a\":\"b\"}"), 1, "no selector selects everything");
	cr_assert_eq(json_matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}", "{}"), -EINVAL);
	cr_assert_eq(json_matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", "{}"),
		     -EINVAL);
	struct json_object *s = json("{\"matchLabels\":{\"a\":false}}");
	struct cx_err err = { 0 };
	cr_assert_eq(selector_json_matches(s, NULL, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "selector.matchLabels.a: expected a string, got a boolean");
	json_object_put(s);
}

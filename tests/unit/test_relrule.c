/* Unit tests for common/relrule: the customize hook's rules parsed and
 * checked (every bad field named with its path), turned into the API's
 * labelSelector parameter, matched against objects with metacontroller's
 * namespace rules, and carried through JSON unchanged. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "relrule.h"

#define LABEL "customize hook \"/hooks/c\""

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "test JSON: %s", text);
	return o;
}

static void parse_ok(const char *answer, const char *parent_ns, struct relrule_set *out)
{
	struct json_object *root = json(answer);
	struct cx_err err = { 0 };
	cr_assert_eq(relrule_parse_answer(LABEL, false, root, parent_ns, out, &err), 0, "%s", err.msg);
	json_object_put(root);
}

static void refused(const char *answer, const char *parent_ns, bool strict, const char *want)
{
	struct json_object *root = json(answer);
	struct cx_err err = { 0 };
	struct relrule_set s = { 0 };
	cr_assert_eq(relrule_parse_answer(LABEL, strict, root, parent_ns, &s, &err), -EPROTO, "accepted: %s", answer);
	cr_assert_str_eq(err.msg, want);
	cr_assert_eq(s.n, 0);
	cr_assert_null(s.rules);
	json_object_put(root);
}

static struct json_object *obj(const char *ns, const char *name, const char *labels)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"metadata\":{%s%s%s\"name\":\"%s\",\"labels\":%s}}", ns ? "\"namespace\":\"" : "",
		 ns ? ns : "", ns ? "\"," : "", name, labels ? labels : "{}");
	return json(buf);
}

Test(relrule, the_documented_example_parses)
{
	struct relrule_set s = { 0 };
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"namespace\":\"global\","
		 "\"names\":[\"globalsettings\"]},{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
		 "{}}]}",
		 NULL, &s);
	cr_assert_eq(s.n, 2);
	cr_assert_str_eq(s.rules[0].api_version, "v1");
	cr_assert_str_eq(s.rules[0].resource, "configmaps");
	cr_assert_not(s.rules[0].by_labels);
	cr_assert_str_eq(s.rules[0].namespace, "global");
	cr_assert_eq(s.rules[0].n_names, 1);
	cr_assert_str_eq(s.rules[0].names[0], "globalsettings");
	cr_assert(s.rules[1].by_labels);
	cr_assert(s.rules[1].selector.set, "{} is a selector...");
	cr_assert_eq(s.rules[1].selector.n_match + s.rules[1].selector.n_exprs, 0, "... of nothing");
	cr_assert_null(s.rules[1].namespace);
	relrule_set_clear(&s);
	cr_assert_null(s.rules);
}

Test(relrule, no_rules)
{
	const char *none[] = { "{}", "{\"relatedResources\":null}", "{\"relatedResources\":[]}",
			       "{\"relatedResources\":[],\"other\":1}" };
	for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++) {
		struct relrule_set s = { 0 };
		parse_ok(none[i], "default", &s);
		cr_assert_eq(s.n, 0, "%s", none[i]);
		relrule_set_clear(&s);
	}
}

Test(relrule, bad_rules_are_named_by_path)
{
	refused("[]", NULL, false, LABEL ": the answer is an array, expected a JSON object");
	refused("{\"relatedResources\":{}}", NULL, false, LABEL ": relatedResources: expected a list, got an object");
	refused("{\"relatedResources\":[3]}", NULL, false,
		LABEL ": relatedResources[0]: expected an object, got an integer");
	refused("{\"relatedResources\":[{\"resource\":\"pods\"}]}", NULL, false,
		LABEL ": relatedResources[0].apiVersion: missing");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\"},{\"apiVersion\":\"v1\","
		"\"resource\":\"\"}]}",
		NULL, false, LABEL ": relatedResources[1].resource: expected a non-empty string");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"names\":\"a\"}]}", NULL, false,
		LABEL ": relatedResources[0].names: expected a list of strings, got a string");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"names\":[\"a\",1]}]}", NULL,
		false, LABEL ": relatedResources[0].names[1]: expected a string, got an integer");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"labelSelector\":{},"
		"\"namespace\":\"x\"}]}",
		NULL, false,
		LABEL ": relatedResources[0]: labelSelector and namespace/names cannot both be given (select by "
		      "labels or by namespace and names)");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"namespace\":\"other\"}]}",
		"mine", false,
		LABEL ": relatedResources[0].namespace: \"other\" is not the parent's namespace \"mine\" (a namespaced "
		      "parent sees related objects of its own namespace only)");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"labelSelector\":"
		"{\"matchLabels\":{\"a\":1}}}]}",
		NULL, false,
		LABEL ": relatedResources[0].labelSelector.matchLabels.a: expected a string, got an integer");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"labelSelector\":"
		"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Like\",\"values\":[\"x\"]}]}}]}",
		NULL, false,
		LABEL ": relatedResources[0].labelSelector.matchExpressions[0].operator: expected In, NotIn, Exists or "
		      "DoesNotExist, got \"Like\"");
	refused("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"pods\",\"labelSelector\":[]}]}", NULL,
		false, LABEL ": relatedResources[0].labelSelector: expected a label selector object, got a list");
	/* The rest of a selector's checks: test_selector (common/selector reads it). */
	refused("{\"relatedResources\":[],\"extra\":1}", NULL, true,
		LABEL ": extra: unknown field (responseUnMarshallMode strict; expected relatedResources)");
}

/* The syntax itself is test_selector's (common/selector renders it); here:
 * a rule's selector is the one it was given, and a rule without one selects
 * everything. */
Test(relrule, selector_strings)
{
	struct relrule_set s = { 0 };
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
		 "{\"matchLabels\":{\"team\":\"a\"},\"matchExpressions\":[{\"key\":\"old\",\"operator\":"
		 "\"DoesNotExist\"}]}},{\"apiVersion\":\"v1\",\"resource\":\"namespaces\"}]}",
		 NULL, &s);
	char *sel = relrule_selector_string(&s.rules[0]);
	cr_assert_str_eq(sel, "team=a,!old");
	free(sel);
	sel = relrule_selector_string(&s.rules[1]);
	cr_assert_str_eq(sel, "", "neither selector nor names: everything");
	free(sel);
	relrule_set_clear(&s);
}

Test(relrule, matching_by_labels)
{
	struct relrule_set s = { 0 };
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
		 "{\"matchLabels\":{\"propagate\":\"yes\"},\"matchExpressions\":[{\"key\":\"env\",\"operator\":"
		 "\"NotIn\",\"values\":[\"prod\"]}]}}]}",
		 NULL, &s);
	const struct relrule *r = &s.rules[0];
	struct json_object *yes = obj(NULL, "a", "{\"propagate\":\"yes\"}");
	struct json_object *no = obj(NULL, "b", "{\"propagate\":\"no\"}");
	struct json_object *bare = obj(NULL, "c", NULL);
	struct json_object *prod = obj(NULL, "d", "{\"propagate\":\"yes\",\"env\":\"prod\"}");
	cr_assert(relrule_match(r, NULL, yes));
	cr_assert_not(relrule_match(r, NULL, no));
	cr_assert_not(relrule_match(r, NULL, bare));
	cr_assert_not(relrule_match(r, NULL, prod));
	cr_assert(relrule_match(r, "ns1", yes), "a cluster-scoped related object has no namespace to differ");
	json_object_put(yes);
	json_object_put(no);
	json_object_put(bare);
	json_object_put(prod);
	relrule_set_clear(&s);
}

Test(relrule, matching_by_namespace_and_names)
{
	struct relrule_set s = { 0 };
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"namespace\":\"global\","
		 "\"names\":[\"settings\",\"extra\"]},{\"apiVersion\":\"v1\",\"resource\":\"configmaps\","
		 "\"labelSelector\":{}}]}",
		 NULL, &s);
	struct json_object *hit = obj("global", "settings", NULL), *other_ns = obj("team-a", "settings", NULL),
			   *other_name = obj("global", "nope", NULL);
	cr_assert(relrule_match(&s.rules[0], NULL, hit));
	cr_assert_not(relrule_match(&s.rules[0], NULL, other_ns));
	cr_assert_not(relrule_match(&s.rules[0], NULL, other_name));
	cr_assert_str_eq(relrule_list_namespace(&s.rules[0], NULL), "global");
	cr_assert_null(relrule_list_namespace(&s.rules[1], NULL), "a cluster-scoped parent: every namespace");
	cr_assert(relrule_match(&s.rules[1], NULL, other_ns));
	relrule_set_clear(&s);

	/* A namespaced parent sees its own namespace only. */
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"labelSelector\":{}},"
		 "{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"names\":[\"settings\"]}]}",
		 "team-a", &s);
	cr_assert_str_eq(relrule_list_namespace(&s.rules[0], "team-a"), "team-a");
	cr_assert_str_eq(relrule_list_namespace(&s.rules[1], "team-a"), "team-a");
	cr_assert(relrule_match(&s.rules[0], "team-a", other_ns));
	cr_assert_not(relrule_match(&s.rules[0], "team-a", hit));
	cr_assert(relrule_match(&s.rules[1], "team-a", other_ns));
	cr_assert_not(relrule_match(&s.rules[1], "team-a", hit));
	relrule_set_clear(&s);
	json_object_put(hit);
	json_object_put(other_ns);
	json_object_put(other_name);
}

Test(relrule, json_round_trip)
{
	struct relrule_set s = { 0 }, back = { 0 };
	parse_ok("{\"relatedResources\":[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
		 "{\"matchLabels\":{\"a\":\"b\"}}},{\"apiVersion\":\"v1\",\"resource\":\"configmaps\","
		 "\"namespace\":\"global\",\"names\":[\"s\"]}]}",
		 NULL, &s);
	struct json_object *j = relrule_set_json(&s);
	cr_assert_not_null(j);
	struct json_object *want = json("[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":"
					"{\"matchLabels\":{\"a\":\"b\"}}},{\"apiVersion\":\"v1\",\"resource\":"
					"\"configmaps\",\"namespace\":\"global\",\"names\":[\"s\"]}]");
	cr_assert(json_object_equal(j, want), "%s", json_object_to_json_string(j));
	struct cx_err err = { 0 };
	cr_assert_eq(relrule_set_from_json("RESULT related", j, NULL, &back, &err), 0, "%s", err.msg);
	cr_assert_eq(back.n, 2);
	char *sel = relrule_selector_string(&back.rules[0]);
	cr_assert_str_eq(sel, "a=b");
	free(sel);
	cr_assert_str_eq(back.rules[1].names[0], "s");
	json_object_put(want);
	json_object_put(j);
	relrule_set_clear(&s);
	relrule_set_clear(&back);
}

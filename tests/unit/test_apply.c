/* Unit tests for worker/apply's pure parts: stamping a desired child
 * (namespace, controller ownerReference, label, the hook's own labels and
 * ownerReferences kept, server-managed fields dropped), the Recreate
 * "differs" rule, and which observed children prune selects. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cxconfig.h"
#include "err.h"
#include "selector.h"
#include "strmap.h"

static char name[] = "websites", papi[] = "example.com/v1", pkind[] = "Website";
static char fin[] = "coxswain.io/websites", manager[] = "coxswain/websites";
static char v1[] = "v1", cm[] = "ConfigMap";
static struct config_child kids[] = { { .api_version = v1, .kind = cm, .update_strategy = UPDATE_INPLACE } };
static const struct config_controller cc = {
	.name = name,
	.parent_api_version = papi,
	.parent_kind = pkind,
	.children = kids,
	.n_children = 1,
	.finalizer = fin,
	.field_manager = manager,
};

#define PARENT                                                                                                         \
	"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"metadata\":{\"name\":\"site\","                     \
	"\"namespace\":\"web\",\"uid\":\"u-parent\",\"generation\":3}}"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* The value at a dotted path ("metadata.labels.a"); numbers index arrays. */
static struct json_object *at(struct json_object *o, const char *dotted)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dotted);
	struct json_object *cur = o;
	for (char *save = NULL, *k = strtok_r(path, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array)) {
			cur = json_object_array_get_idx(cur, (size_t)atoi(k));
			if (!cur)
				return NULL;
		} else if (!json_object_object_get_ex(cur, k, &cur)) {
			return NULL;
		}
	}
	return cur;
}

static const char *str(struct json_object *o, const char *dotted)
{
	return json_object_get_string(at(o, dotted));
}

static struct json_object *stamp_ok(const char *parent_text, bool namespaced, const char *child_text)
{
	struct json_object *parent = json(parent_text), *child = json(child_text);
	struct cx_err err = { 0 };
	cr_assert_eq(apply_stamp(&cc, parent, namespaced, child, &err), 0, "%s", err.msg);
	json_object_put(parent);
	return child;
}

Test(apply_stamp, sets_namespace_owner_and_label)
{
	struct json_object *child = stamp_ok(
		PARENT, true, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
	cr_assert_str_eq(str(child, "metadata.namespace"), "web");
	struct json_object *labels = at(child, "metadata.labels"), *v = NULL;
	cr_assert(json_object_object_get_ex(labels, "coxswain.io/controller", &v));
	cr_assert_str_eq(json_object_get_string(v), "websites");
	struct json_object *refs = at(child, "metadata.ownerReferences");
	cr_assert_eq(json_object_array_length(refs), 1);
	cr_assert_str_eq(str(refs, "0.apiVersion"), "example.com/v1");
	cr_assert_str_eq(str(refs, "0.kind"), "Website");
	cr_assert_str_eq(str(refs, "0.name"), "site");
	cr_assert_str_eq(str(refs, "0.uid"), "u-parent");
	cr_assert(json_object_get_boolean(at(refs, "0.controller")));
	cr_assert(json_object_get_boolean(at(refs, "0.blockOwnerDeletion")));
	json_object_put(child);
}

Test(apply_stamp, keeps_the_hooks_labels_and_other_owner_references)
{
	struct json_object *child = stamp_ok(
		PARENT, true,
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":"
		"\"elsewhere\","
		"\"labels\":{\"app\":\"site\",\"coxswain.io/controller\":\"someone\"},"
		"\"annotations\":{\"note\":\"kept\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"name\":\"s\",\"uid\":\"u-s\"},"
		"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"name\":\"site\",\"uid\":\"u-parent\"}]},"
		"\"data\":{\"k\":\"v\"}}");
	cr_assert_str_eq(str(child, "metadata.namespace"), "web", "children live with their parent");
	struct json_object *labels = at(child, "metadata.labels"), *v = NULL;
	cr_assert_eq(json_object_object_length(labels), 2);
	cr_assert(json_object_object_get_ex(labels, "coxswain.io/controller", &v));
	cr_assert_str_eq(json_object_get_string(v), "websites", "ours wins");
	cr_assert_str_eq(str(child, "metadata.labels.app"), "site");
	cr_assert_str_eq(str(child, "metadata.annotations.note"), "kept");
	struct json_object *refs = at(child, "metadata.ownerReferences");
	cr_assert_eq(json_object_array_length(refs), 2, "the hook's reference to the parent is replaced, not doubled");
	cr_assert_str_eq(str(refs, "0.uid"), "u-s");
	cr_assert_null(at(refs, "0.controller"));
	cr_assert_str_eq(str(refs, "1.uid"), "u-parent");
	cr_assert(json_object_get_boolean(at(refs, "1.controller")));
	cr_assert_str_eq(str(child, "data.k"), "v");
	json_object_put(child);
}

Test(apply_stamp, drops_server_managed_fields)
{
	struct json_object *child = stamp_ok(
		PARENT, true,
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"12\","
		"\"uid\":\"u-old\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"generation\":2,"
		"\"managedFields\":[],\"selfLink\":\"/x\"},\"status\":{\"x\":1}}");
	struct json_object *meta = at(child, "metadata");
	cr_assert_eq(json_object_object_length(meta), 5, "name, namespace, ownerReferences, labels, annotations: %s",
		     json_object_to_json_string(meta));
	cr_assert_null(at(child, "metadata.resourceVersion"));
	cr_assert_null(at(child, "metadata.uid"));
	cr_assert_null(at(child, "metadata.managedFields"));
	cr_assert_null(at(child, "status"));
	json_object_put(child);
}

Test(apply_stamp, refuses_a_second_controller)
{
	struct json_object *parent = json(PARENT);
	struct json_object *child = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"ownerReferences\":"
		"[{\"apiVersion\":\"apps/"
		"v1\",\"kind\":\"Deployment\",\"name\":\"d\",\"uid\":\"u-d\",\"controller\":true}]}}");
	struct cx_err err = { 0 };
	cr_assert_eq(apply_stamp(&cc, parent, true, child, &err), -EINVAL);
	cr_assert(strstr(err.msg, "Deployment/d"), "%s", err.msg);
	json_object_put(child);
	json_object_put(parent);
}

Test(apply_stamp, scope_rules)
{
	struct json_object *parent = json(PARENT);
	struct json_object *child = json("{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\","
					 "\"metadata\":{\"name\":\"r\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(apply_stamp(&cc, parent, false, child, &err), -EINVAL);
	cr_assert(strstr(err.msg, "cluster-scoped"), "%s", err.msg);
	json_object_put(child);
	json_object_put(parent);

	/* A cluster-scoped parent: the hook says where a namespaced child goes. */
	const char *cluster_parent = "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"metadata\":"
				     "{\"name\":\"site\",\"uid\":\"u-parent\"}}";
	child = stamp_ok(
		cluster_parent, true,
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"}}");
	cr_assert_str_eq(str(child, "metadata.namespace"), "x");
	json_object_put(child);
	child = stamp_ok(cluster_parent, false,
			 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"n\"}}");
	cr_assert_null(at(child, "metadata.namespace"));
	cr_assert_str_eq(str(child, "metadata.ownerReferences.0.uid"), "u-parent");
	json_object_put(child);

	parent = json(cluster_parent);
	child = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
	cr_assert_eq(apply_stamp(&cc, parent, true, child, &err), -EINVAL);
	cr_assert(strstr(err.msg, "namespace"), "%s", err.msg);
	json_object_put(child);
	json_object_put(parent);
}

/* A child without a name is refused by the hook answer's check
 * (test_hook.c: hook_response.child_without_name), never stamped. */
Test(apply_stamp, needs_a_parent_uid)
{
	struct json_object *parent = json("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\","
					  "\"metadata\":{\"name\":\"site\",\"namespace\":\"web\"}}");
	struct json_object *child = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(apply_stamp(&cc, parent, true, child, &err), -EINVAL);
	cr_assert(strstr(err.msg, "uid"), "%s", err.msg);
	json_object_put(child);
	json_object_put(parent);
}

static bool differs(const char *desired, const char *observed)
{
	struct json_object *d = json(desired), *o = json(observed);
	bool r = apply_differs(d, o);
	json_object_put(d);
	json_object_put(o);
	return r;
}

Test(apply_differs, compares_only_what_the_hook_sets)
{
	/* Server defaults and metadata do not count. */
	cr_assert_not(
		differs("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
			"\"labels\":{\"a\":\"1\"}},\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":"
			"[{\"name\":\"c\",\"image\":\"x\"}]}}}}",
			"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
			"\"resourceVersion\":\"9\"},\"spec\":{\"replicas\":2,\"revisionHistoryLimit\":10,"
			"\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\","
			"\"imagePullPolicy\":\"Always\"}],\"restartPolicy\":\"Always\"}}},\"status\":{\"r\":1}}"));
	cr_assert(differs("{\"spec\":{\"replicas\":3}}", "{\"spec\":{\"replicas\":2}}"));
	cr_assert(differs("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"y\"}]}}}}",
			  "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}"));
	cr_assert(differs("{\"spec\":{\"ports\":[1,2]}}", "{\"spec\":{\"ports\":[1,2,3]}}"), "arrays: same length");
	cr_assert(differs("{\"spec\":{\"new\":true}}", "{\"spec\":{}}"));
	cr_assert(differs("{\"spec\":{\"a\":1}}", "{}"), "a field the object lacks");
	/* Zero values match absent fields: Go's omitempty drops them from the object the server returns. */
	cr_assert_not(differs("{\"spec\":{\"paused\":false,\"n\":0,\"s\":\"\",\"l\":[],\"o\":{},\"z\":null}}",
			      "{\"spec\":{}}"));
	cr_assert_not(differs("{\"spec\":{}}", "{}"));
	cr_assert(differs("{\"spec\":{\"paused\":false}}", "{\"spec\":{\"paused\":true}}"));
	cr_assert_not(differs("{\"spec\":{\"n\":1}}", "{\"spec\":{\"n\":1.0}}"), "numbers by value");
	cr_assert_not(differs("{\"metadata\":{\"labels\":{\"new\":\"label\"}},\"status\":{\"x\":2}}",
			      "{\"metadata\":{},\"status\":{\"x\":1}}"),
		      "metadata and status are not compared");
}

Test(apply_differs, configmaps_and_secrets_compare_their_data)
{
	cr_assert(differs("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"k\":\"2\"}}",
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"k\":\"1\"}}"));
	cr_assert_not(differs("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"k\":\"1\"}}",
			      "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"k\":\"1\"}}"));
	cr_assert(differs("{\"kind\":\"Secret\",\"type\":\"Opaque\",\"data\":{\"k\":\"MQ==\"}}",
			  "{\"kind\":\"Secret\",\"type\":\"kubernetes.io/tls\",\"data\":{\"k\":\"MQ==\"}}"));
	cr_assert(differs("{\"kind\":\"ConfigMap\",\"immutable\":true}", "{\"kind\":\"ConfigMap\"}"));
}

Test(apply_json_subset, scalars_and_nesting)
{
	struct json_object *a = json("{\"s\":\"x\",\"b\":true,\"n\":null,\"o\":{\"i\":[{\"k\":1}]}}");
	struct json_object *b = json(
		"{\"s\":\"x\",\"b\":true,\"n\":null,\"o\":{\"i\":[{\"k\":1,\"extra\":2}],\"e\":3}}");
	cr_assert(apply_json_subset(a, b));
	cr_assert_not(apply_json_subset(b, a));
	cr_assert(apply_json_subset(NULL, NULL));
	cr_assert_not(apply_json_subset(a, NULL));
	json_object_put(a);
	json_object_put(b);
}

/* An observed child: controlled by uid, labelled with label (NULL = none). */
static struct json_object *observed(const char *name_, const char *uid, bool controller, const char *label,
				    bool deleting)
{
	char text[1024];
	char labels[128] = "";
	if (label)
		snprintf(labels, sizeof(labels), ",\"labels\":{\"coxswain.io/controller\":\"%s\",\"x\":\"y\"}", label);
	snprintf(text, sizeof(text),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"web\",\"uid\":\"u-%s\"%s%s,\"ownerReferences\":"
		 "[{\"apiVersion\":\"v1\",\"kind\":\"Other\",\"name\":\"o\",\"uid\":\"u-other\"},"
		 "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"name\":\"site\",\"uid\":\"%s\"%s}]}}",
		 name_, name_, labels, deleting ? ",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"" : "", uid,
		 controller ? ",\"controller\":true" : "");
	return json(text);
}

/* The set of the keys of the JSON object text, NULL for NULL. */
static struct strmap *names_of(const char *text)
{
	if (!text)
		return NULL;
	struct json_object *o = json(text);
	struct strmap *names = strmap_new(NULL);
	cr_assert_not_null(names);
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		cr_assert_eq(strmap_put(names, key, NULL), 0);
	}
	json_object_put(o);
	return names;
}

static bool prune(struct json_object *o, const char *desired_names)
{
	struct strmap *names = names_of(desired_names);
	const char *relname = str(o, "metadata.name");
	bool r = apply_should_prune("websites", "u-parent", o, relname ? relname : "?", names);
	strmap_free(&names);
	json_object_put(o);
	return r;
}

Test(apply_should_prune, owned_labelled_and_not_desired_only)
{
	cr_assert(prune(observed("gone", "u-parent", true, "websites", false), "{\"kept\":true}"));
	cr_assert(prune(observed("gone", "u-parent", true, "websites", false), NULL), "no desired children at all");
	cr_assert_not(prune(observed("kept", "u-parent", true, "websites", false), "{\"kept\":true}"), "still desired");
	cr_assert_not(prune(observed("gone", "u-another", true, "websites", false), "{}"), "another parent's");
	cr_assert_not(prune(observed("gone", "u-parent", true, NULL, false), "{}"), "unlabelled lookalike");
	cr_assert_not(prune(observed("gone", "u-parent", true, "other-controller", false), "{}"),
		      "labelled for another controller");
	cr_assert_not(prune(observed("gone", "u-parent", false, "websites", false), "{}"),
		      "a non-controller reference to the parent");
	cr_assert_not(prune(observed("gone", "u-parent", true, "websites", true), "{}"), "already being deleted");
	cr_assert_not(prune(json("{\"metadata\":{\"name\":\"bare\"}}"), "{}"), "no metadata to go by");
}

/* Under a cluster-scoped parent the observed and desired maps are keyed
 * namespace/name: one name in two namespaces is two children. */
Test(apply_should_prune, keys_are_relative_names)
{
	struct json_object *o = observed("settings", "u-parent", true, "websites", false);
	struct strmap *other_ns = names_of("{\"web/other\":true,\"team-b/settings\":true}");
	struct strmap *same = names_of("{\"web/settings\":true}");
	cr_assert(apply_should_prune("websites", "u-parent", o, "web/settings", other_ns));
	cr_assert_not(apply_should_prune("websites", "u-parent", o, "web/settings", same));
	strmap_free(&other_ns);
	strmap_free(&same);
	json_object_put(o);
}

/* The annotation key has dots: read it directly. */
static const char *applied_hash(struct json_object *child)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(at(child, "metadata.annotations"), APPLY_HASH_ANNOTATION, &v))
		return NULL;
	return json_object_get_string(v);
}

Test(apply_stamp, annotates_the_intents_hash)
{
	struct json_object *a = stamp_ok(PARENT, true,
					 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
					 "\"metadata\":{\"name\":\"a\"},\"data\":{\"x\":\"1\",\"y\":\"2\"}}");
	struct json_object *b = stamp_ok(PARENT, true,
					 "{\"data\":{\"y\":\"2\",\"x\":\"1\"},\"kind\":\"ConfigMap\","
					 "\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"a\"}}");
	struct json_object *c = stamp_ok(PARENT, true,
					 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
					 "\"metadata\":{\"name\":\"a\"},\"data\":{\"x\":\"1\",\"y\":\"3\"}}");
	/* A hook echoing the observed child's annotation does not change the hash. */
	struct json_object *d = stamp_ok(PARENT, true,
					 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
					 "\"metadata\":{\"name\":\"a\",\"annotations\":{\"coxswain.io/applied-hash\":"
					 "\"sha256:stale\"}},\"data\":{\"x\":\"1\",\"y\":\"2\"}}");
	const char *ha = applied_hash(a);
	cr_assert_not_null(ha);
	cr_assert_eq(strncmp(ha, "sha256:", 7), 0, "%s", ha);
	cr_assert_eq(strlen(ha), 7 + 64, "%s", ha);
	cr_assert_str_eq(ha, applied_hash(b), "key order does not matter");
	cr_assert_str_neq(ha, applied_hash(c), "content does");
	cr_assert_str_eq(ha, applied_hash(d));
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
	json_object_put(d);
}

Test(apply_normalise, folds_a_secrets_string_data_into_data)
{
	struct json_object *s = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
		"\"data\":{\"a\":\"eA==\",\"b\":\"eA==\"},\"stringData\":{\"b\":\"hello\",\"c\":\"\"}}");
	struct json_object *n = apply_normalise(s);
	cr_assert_not_null(n);
	cr_assert_null(at(n, "stringData"));
	cr_assert_str_eq(str(n, "data.a"), "eA==");
	cr_assert_str_eq(str(n, "data.b"), "aGVsbG8=", "stringData wins, as the server has it");
	cr_assert_str_eq(str(n, "data.c"), "");
	cr_assert_not_null(at(s, "stringData"), "the input is untouched");
	json_object_put(n);
	json_object_put(s);

	struct json_object *map = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"stringData\":{\"b\":\"x\"}}");
	n = apply_normalise(map);
	cr_assert(json_object_equal(n, map), "only Secrets have stringData");
	json_object_put(n);
	json_object_put(map);
}

Test(apply_in_sync, needs_the_same_intent_and_every_field)
{
	struct json_object *want = stamp_ok(PARENT, true,
					    "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
					    "\"metadata\":{\"name\":\"a\",\"labels\":{\"l\":\"1\"}},"
					    "\"data\":{\"x\":\"1\"}}");
	struct json_object *have = NULL;
	json_object_deep_copy(want, &have, NULL);
	json_object_object_add(at(have, "metadata"), "resourceVersion", json_object_new_string("7"));
	json_object_object_add(at(have, "metadata.labels"), "someone-else", json_object_new_string("x"));
	cr_assert(apply_in_sync(want, have), "server and other managers may add");

	json_object_object_add(at(have, "data"), "x", json_object_new_string("drifted"));
	cr_assert_not(apply_in_sync(want, have), "a field we set was changed");
	json_object_object_add(at(have, "data"), "x", json_object_new_string("1"));
	json_object_object_del(at(have, "metadata.labels"), "l");
	cr_assert_not(apply_in_sync(want, have), "a label we set is gone");
	json_object_object_add(at(have, "metadata.labels"), "l", json_object_new_string("1"));
	cr_assert(apply_in_sync(want, have));
	json_object_object_add(at(have, "metadata.annotations"), APPLY_HASH_ANNOTATION,
			       json_object_new_string("sha256:older"));
	cr_assert_not(apply_in_sync(want, have), "written from another intent (the hook dropped a field)");
	json_object_put(want);
	json_object_put(have);
}

Test(apply_claim_of, the_controller_reference_decides)
{
	struct json_object *owner = NULL;
	struct json_object *o = observed("a", "u-parent", true, "websites", false);
	cr_assert_eq(apply_claim_of("u-parent", o, &owner), APPLY_CLAIM_OURS);
	json_object_put(o);
	o = observed("a", "u-another", true, "websites", false);
	cr_assert_eq(apply_claim_of("u-parent", o, &owner), APPLY_CLAIM_OTHER);
	cr_assert_str_eq(str(owner, "uid"), "u-another");
	json_object_put(o);
	o = observed("a", "u-parent", false, "websites", false);
	cr_assert_eq(apply_claim_of("u-parent", o, &owner), APPLY_CLAIM_ORPHAN, "a reference without controller");
	cr_assert_null(owner);
	json_object_put(o);
	o = json("{\"metadata\":{\"name\":\"bare\"}}");
	cr_assert_eq(apply_claim_of("u-parent", o, NULL), APPLY_CLAIM_ORPHAN);
	json_object_put(o);
}

/* ---- metacontroller's selectors (issue 11) ---- */

static int matches(const char *selector, const char *labels)
{
	struct json_object *s = json(selector), *l = labels ? json(labels) : NULL;
	struct cx_err err = { 0 };
	int r = selector_json_matches(s, l, &err);
	json_object_put(s);
	json_object_put(l);
	return r;
}

Test(selector_json_matches, labels_and_expressions)
{
	cr_assert_eq(matches("{\"matchLabels\":{\"app\":\"x\"}}", "{\"app\":\"x\",\"more\":\"1\"}"), 1);
	cr_assert_eq(matches("{\"matchLabels\":{\"app\":\"x\"}}", "{\"app\":\"y\"}"), 0);
	cr_assert_eq(matches("{\"matchLabels\":{\"app\":\"x\"}}", NULL), 0);
	const char *exprs = "{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"a\",\"b\"]},"
			    "{\"key\":\"legacy\",\"operator\":\"DoesNotExist\"},"
			    "{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"prod\"]},"
			    "{\"key\":\"team\",\"operator\":\"Exists\"}]}";
	cr_assert_eq(matches(exprs, "{\"tier\":\"a\",\"team\":\"t\"}"), 1);
	cr_assert_eq(matches(exprs, "{\"tier\":\"c\",\"team\":\"t\"}"), 0);
	cr_assert_eq(matches(exprs, "{\"tier\":\"a\",\"team\":\"t\",\"legacy\":\"\"}"), 0);
	cr_assert_eq(matches(exprs, "{\"tier\":\"a\",\"team\":\"t\",\"env\":\"prod\"}"), 0);
	cr_assert_eq(matches(exprs, "{\"tier\":\"a\"}"), 0);
	cr_assert_eq(matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Near\"}]}", "{}"), -EINVAL);
	cr_assert_eq(matches("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", "{}"),
		     -EINVAL);
}

static char mc_name[] = "catset", mc_fin[] = "metacontroller.io/compositecontroller-catset";

static struct config_controller mc_controller(bool generate)
{
	struct config_controller m = cc;
	m.name = mc_name;
	m.finalizer = mc_fin;
	m.origin = CONFIG_ORIGIN_METACONTROLLER;
	m.generate_selector = generate;
	return m;
}

/* generateSelector: children are selected by controller-uid=<parent uid>,
 * the parent's own spec.selector is ignored, and every desired child gets
 * that label unless the hook set it. */
Test(apply_mc_selector, generated_or_the_parents)
{
	struct config_controller m = mc_controller(true);
	struct json_object *parent = json(PARENT), *sel = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(apply_mc_selector(&m, parent, &sel, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(sel, "matchLabels.controller-uid"), "u-parent");
	json_object_put(sel);

	m.generate_selector = false;
	cr_assert_eq(apply_mc_selector(&m, parent, &sel, &err), -EINVAL);
	cr_assert(strstr(err.msg, ".spec.selector must have either matchLabels, matchExpressions, or both"), "%s",
		  err.msg);
	json_object_put(parent);

	parent = json("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"metadata\":{\"name\":\"site\","
		      "\"namespace\":\"web\",\"uid\":\"u-parent\"},\"spec\":{\"selector\":{\"matchLabels\":"
		      "{\"app\":\"site\"}}}}");
	cr_assert_eq(apply_mc_selector(&m, parent, &sel, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(sel, "matchLabels.app"), "site");
	json_object_put(sel);
	json_object_put(parent);
}

Test(apply_stamp, generate_selector_labels_children_with_the_parents_uid)
{
	struct config_controller m = mc_controller(true);
	struct json_object *parent = json(PARENT);
	struct json_object *child = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(apply_stamp(&m, parent, true, child, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(child, "metadata.labels.controller-uid"), "u-parent");
	json_object_put(child);
	/* The hook's own value stays (metacontroller's rule). */
	child = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"labels\":"
		     "{\"controller-uid\":\"mine\"}}}");
	cr_assert_eq(apply_stamp(&m, parent, true, child, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(child, "metadata.labels.controller-uid"), "mine");
	json_object_put(child);
	/* Not without generateSelector. */
	m.generate_selector = false;
	child = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"}}");
	cr_assert_eq(apply_stamp(&m, parent, true, child, &err), 0, "%s", err.msg);
	cr_assert_null(at(child, "metadata.labels.controller-uid"));
	json_object_put(child);
	json_object_put(parent);
}

#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "childdiff.h"

#define FM   "coxswain/websites"
#define PUID "11111111-2222-3333-4444-555555555555"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* What coxswain applies for a ConfigMap child: stamped (namespace,
 * ownerReference, label, hash annotation). */
#define DESIRED_META                                                                                                   \
	"\"metadata\": {\"name\": \"site\", \"namespace\": \"ns\", "                                                   \
	"\"labels\": {\"app\": \"web\", \"coxswain.io/controller\": \"websites\"}, "                                   \
	"\"annotations\": {\"coxswain.io/applied-hash\": \"sha256:aa\"}, "                                             \
	"\"ownerReferences\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Website\", \"name\": \"w\", "          \
	"\"uid\": \"" PUID "\", \"controller\": true, \"blockOwnerDeletion\": true}]}"

#define OWNER_FIELDS                                                                                                   \
	"\"f:ownerReferences\": {\"k:{\\\"uid\\\":\\\"" PUID "\\\"}\": {\".\": {}, \"f:apiVersion\": {}, "             \
	"\"f:blockOwnerDeletion\": {}, \"f:controller\": {}, \"f:kind\": {}, \"f:name\": {}, \"f:uid\": {}}}"

/* Our Apply entry for DESIRED_META plus data.a and data.b. */
#define ENTRY_AB                                                                                                       \
	"{\"manager\": \"" FM "\", \"operation\": \"Apply\", \"apiVersion\": \"v1\", \"fieldsType\": \"FieldsV1\", "   \
	"\"fieldsV1\": {\"f:data\": {\"f:a\": {}, \"f:b\": {}}, \"f:metadata\": {"                                     \
	"\"f:annotations\": {\"f:coxswain.io/applied-hash\": {}}, "                                                    \
	"\"f:labels\": {\"f:app\": {}, \"f:coxswain.io/controller\": {}}, " OWNER_FIELDS "}}}"

#define LIVE_META_NO_MF                                                                                                \
	"\"name\": \"site\", \"namespace\": \"ns\", \"uid\": \"c-uid\", \"resourceVersion\": \"42\", "                 \
	"\"creationTimestamp\": \"2026-12-04T12:00:00Z\", "                                                            \
	"\"labels\": {\"app\": \"web\", \"coxswain.io/controller\": \"websites\"}, "                                   \
	"\"annotations\": {\"coxswain.io/applied-hash\": \"sha256:aa\"}, "                                             \
	"\"ownerReferences\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Website\", \"name\": \"w\", "          \
	"\"uid\": \"" PUID "\", \"controller\": true, \"blockOwnerDeletion\": true}]"

static struct json_object *desired_ab(const char *a, const char *b)
{
	char text[4096];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", " DESIRED_META
		 ", \"data\": {\"a\": %s, \"b\": %s}}",
		 a, b);
	return json(text);
}

static struct json_object *live_with(const char *data, const char *entries)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {" LIVE_META_NO_MF
		 "%s%s%s}, \"data\": %s}",
		 entries ? ", \"managedFields\": [" : "", entries ? entries : "", entries ? "]" : "", data);
	return json(text);
}

static enum childdiff_verdict judge(struct json_object *d, struct json_object *l)
{
	enum childdiff_verdict v = childdiff_judge(d, l, FM, PUID);
	json_object_put(d);
	json_object_put(l);
	return v;
}

#define ASSERT_VERDICT(d, l, want)                                                                                     \
	do {                                                                                                           \
		enum childdiff_verdict got_ = judge(d, l);                                                             \
		cr_assert_eq(got_, want, "verdict %s, expected %s", childdiff_verdict_name(got_),                      \
			     childdiff_verdict_name(want));                                                            \
	} while (0)

Test(childdiff, equal_is_same)
{
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB),
		       CHILDDIFF_SAME);
}

/* Fields only the live object has (server-set metadata, another manager's
 * label) do not make a write. */
Test(childdiff, server_added_fields_are_same)
{
	struct json_object *l = live_with("{\"a\": \"1\", \"b\": \"2\", \"c\": \"someone else's\"}",
					  ENTRY_AB ", {\"manager\": \"kubectl\", \"operation\": \"Update\"}");
	json_object_object_add(json_object_object_get(json_object_object_get(l, "metadata"), "labels"), "team",
			       json_object_new_string("a"));
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), l, CHILDDIFF_SAME);
}

Test(childdiff, changed_value_differs)
{
	ASSERT_VERDICT(desired_ab("\"1\"", "\"3\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB),
		       CHILDDIFF_DIFFERS);
}

Test(childdiff, missing_live_field_differs)
{
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\"}", ENTRY_AB), CHILDDIFF_DIFFERS);
}

Test(childdiff, number_and_string_differ)
{
	ASSERT_VERDICT(desired_ab("1", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB),
		       CHILDDIFF_DIFFERS);
	ASSERT_VERDICT(desired_ab("1", "\"2\""), live_with("{\"a\": 1.0, \"b\": \"2\"}", ENTRY_AB), CHILDDIFF_SAME);
}

Test(childdiff, null_is_never_same)
{
	cr_assert_neq(judge(desired_ab("null", "\"2\""), live_with("{\"a\": null, \"b\": \"2\"}", ENTRY_AB)),
		      CHILDDIFF_SAME);
}

/* The hook stopped returning data.b: coxswain's entry still owns it, the
 * apply removes it. A subset test alone would skip. */
Test(childdiff, removed_field_we_own_would_remove)
{
	struct json_object *d = desired_ab("\"1\"", "\"2\"");
	json_object_object_del(json_object_object_get(d, "data"), "b");
	ASSERT_VERDICT(d, live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB), CHILDDIFF_WOULD_REMOVE);
}

Test(childdiff, removed_label_we_own_would_remove)
{
	struct json_object *d = desired_ab("\"1\"", "\"2\"");
	json_object_object_del(json_object_object_get(json_object_object_get(d, "metadata"), "labels"), "app");
	ASSERT_VERDICT(d, live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB), CHILDDIFF_WOULD_REMOVE);
}

/* A field the hook now sets that someone else already set to the same
 * value: the apply would make it ours (so that dropping it later removes
 * it). That is a write. */
Test(childdiff, desired_field_not_in_our_entry_differs)
{
	struct json_object *d = desired_ab("\"1\"", "\"2\"");
	json_object_object_add(json_object_object_get(d, "data"), "c", json_object_new_string("3"));
	ASSERT_VERDICT(d, live_with("{\"a\": \"1\", \"b\": \"2\", \"c\": \"3\"}", ENTRY_AB), CHILDDIFF_DIFFERS);
}

Test(childdiff, no_entry_of_ours_is_no_entry)
{
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", NULL),
		       CHILDDIFF_NO_ENTRY);
	/* Another manager's Apply entry, or ours as an Update (a POST), is not it. */
	char other[4096];
	snprintf(other, sizeof(other), "%s", ENTRY_AB);
	memcpy(strstr(other, FM), "coxswain/othersit", strlen(FM));
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", other),
		       CHILDDIFF_NO_ENTRY);
	snprintf(other, sizeof(other), "%s", ENTRY_AB);
	memcpy(strstr(other, "\"Apply\""), "\"Updat\"", 7);
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", other),
		       CHILDDIFF_NO_ENTRY);
	/* An entry for a status subresource is not the object's. */
	struct json_object *l = live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB);
	struct json_object *e = json_object_array_get_idx(
		json_object_object_get(json_object_object_get(l, "metadata"), "managedFields"), 0);
	json_object_object_add(e, "subresource", json_object_new_string("status"));
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), l, CHILDDIFF_NO_ENTRY);
	/* Another apiVersion's entry: its paths are another schema's. */
	l = live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB);
	e = json_object_array_get_idx(json_object_object_get(json_object_object_get(l, "metadata"), "managedFields"),
				      0);
	json_object_object_add(e, "apiVersion", json_object_new_string("v2"));
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), l, CHILDDIFF_NO_ENTRY);
}

Test(childdiff, foreign_owner_is_not_ours)
{
	struct json_object *l = live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB);
	struct json_object *ref = json_object_array_get_idx(
		json_object_object_get(json_object_object_get(l, "metadata"), "ownerReferences"), 0);
	json_object_object_add(ref, "uid", json_object_new_string("someone-else"));
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), l, CHILDDIFF_NOT_OURS);
	l = live_with("{\"a\": \"1\", \"b\": \"2\"}", ENTRY_AB);
	json_object_object_del(json_object_object_get(l, "metadata"), "ownerReferences");
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), l, CHILDDIFF_NOT_OURS);
	cr_assert_eq(childdiff_judge(NULL, NULL, FM, PUID), CHILDDIFF_NOT_OURS);
}

Test(childdiff, unparseable_entry_path_would_remove)
{
	char entry[4096];
	snprintf(entry, sizeof(entry), "%s", ENTRY_AB);
	char *p = strstr(entry, "\"f:b\"");
	memcpy(p, "\"x:b\"", 5);
	ASSERT_VERDICT(desired_ab("\"1\"", "\"2\""), live_with("{\"a\": \"1\", \"b\": \"2\"}", entry),
		       CHILDDIFF_WOULD_REMOVE);
}

/* ---- lists: a Deployment-like child ---- */

#define DEP_DESIRED(containers)                                                                                        \
	"{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", " DESIRED_META ", \"spec\": {\"containers\": " containers   \
	"}}"

static struct json_object *dep_live(const char *containers, const char *container_fields)
{
	char text[8192];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {" LIVE_META_NO_MF
		 ", \"managedFields\": [{\"manager\": \"" FM "\", \"operation\": \"Apply\", \"apiVersion\": \"v1\", "
		 "\"fieldsType\": \"FieldsV1\", \"fieldsV1\": {\"f:metadata\": {"
		 "\"f:annotations\": {\"f:coxswain.io/applied-hash\": {}}, "
		 "\"f:labels\": {\"f:app\": {}, \"f:coxswain.io/controller\": {}}, " OWNER_FIELDS "}, "
		 "\"f:spec\": {\"f:containers\": %s}}}]}, \"spec\": {\"containers\": %s}}",
		 container_fields, containers);
	return json(text);
}

#define KEYED_FIELDS                                                                                                   \
	"{\"k:{\\\"name\\\":\\\"web\\\"}\": {\".\": {}, \"f:name\": {}, \"f:image\": {}, \"f:args\": {}}, "            \
	"\"k:{\\\"name\\\":\\\"side\\\"}\": {\".\": {}, \"f:name\": {}, \"f:image\": {}}}"

/* An associative list: server defaults inside the elements stay. */
Test(childdiff, keyed_list_with_server_defaults_is_same)
{
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
					"{\"name\": \"side\", \"image\": \"busybox\"}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"], "
				"\"terminationMessagePath\": \"/dev/termination-log\"}, "
				"{\"name\": \"side\", \"image\": \"busybox\", \"imagePullPolicy\": \"Always\"}]",
				KEYED_FIELDS),
		       CHILDDIFF_SAME);
}

Test(childdiff, keyed_list_changes_differ)
{
	/* a changed image */
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\", \"image\": \"nginx:2\", \"args\": [\"-g\"]}, "
					"{\"name\": \"side\", \"image\": \"busybox\"}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
				"{\"name\": \"side\", \"image\": \"busybox\"}]",
				KEYED_FIELDS),
		       CHILDDIFF_DIFFERS);
	/* the order changed */
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"side\", \"image\": \"busybox\"}, "
					"{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
				"{\"name\": \"side\", \"image\": \"busybox\"}]",
				KEYED_FIELDS),
		       CHILDDIFF_DIFFERS);
	/* an atomic list inside (args) with an extra element in the live one */
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
					"{\"name\": \"side\", \"image\": \"busybox\"}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\", \"x\"]}, "
				"{\"name\": \"side\", \"image\": \"busybox\"}]",
				KEYED_FIELDS),
		       CHILDDIFF_DIFFERS);
	/* the live element is missing */
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
					"{\"name\": \"side\", \"image\": \"busybox\"}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}]", KEYED_FIELDS),
		       CHILDDIFF_DIFFERS);
}

/* The hook dropped an element coxswain applied: the apply removes it. */
Test(childdiff, keyed_list_dropped_element_would_remove)
{
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"nginx\", \"args\": [\"-g\"]}, "
				"{\"name\": \"side\", \"image\": \"busybox\"}]",
				KEYED_FIELDS),
		       CHILDDIFF_WOULD_REMOVE);
}

/* An atomic list of objects (a leaf of the entry): SSA replaces it whole,
 * so a field someone else put inside an element is dropped by the apply.
 * Element-wise subset would wrongly skip. */
Test(childdiff, atomic_list_must_equal)
{
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\"}]")), dep_live("[{\"name\": \"web\"}]", "{}"),
		       CHILDDIFF_SAME);
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\"}]")),
		       dep_live("[{\"name\": \"web\", \"image\": \"x\"}]", "{}"), CHILDDIFF_DIFFERS);
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"name\": \"web\"}]")),
		       dep_live("[{\"name\": \"web\"}, {\"name\": \"more\"}]", "{}"), CHILDDIFF_DIFFERS);
}

/* A set: others' members stay; ours must be there in order. */
Test(childdiff, set_list)
{
	const char *set_fields = "{\"v:\\\"a\\\"\": {}, \"v:\\\"b\\\"\": {}}";
	ASSERT_VERDICT(json(DEP_DESIRED("[\"a\", \"b\"]")), dep_live("[\"a\", \"x\", \"b\"]", set_fields),
		       CHILDDIFF_SAME);
	ASSERT_VERDICT(json(DEP_DESIRED("[\"a\", \"b\"]")), dep_live("[\"b\", \"a\"]", set_fields), CHILDDIFF_DIFFERS);
	ASSERT_VERDICT(json(DEP_DESIRED("[\"a\"]")), dep_live("[\"a\", \"b\"]", set_fields), CHILDDIFF_WOULD_REMOVE);
	ASSERT_VERDICT(json(DEP_DESIRED("[\"a\", \"b\", \"c\"]")), dep_live("[\"a\", \"b\", \"c\"]", set_fields),
		       CHILDDIFF_DIFFERS);
}

/* A key field the desired element lacks (the server defaults a port's
 * protocol, and keys it by it): no match, so apply. */
Test(childdiff, keyed_list_with_defaulted_key_differs)
{
	const char *port_fields = "{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\": "
				  "{\".\": {}, \"f:containerPort\": {}}}";
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"containerPort\": 80}]")),
		       dep_live("[{\"containerPort\": 80, \"protocol\": \"TCP\"}]", port_fields),
		       CHILDDIFF_WOULD_REMOVE);
	ASSERT_VERDICT(json(DEP_DESIRED("[{\"containerPort\": 80, \"protocol\": \"TCP\"}]")),
		       dep_live("[{\"containerPort\": 80, \"protocol\": \"TCP\"}]",
				"{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\": "
				"{\".\": {}, \"f:containerPort\": {}, \"f:protocol\": {}}}"),
		       CHILDDIFF_SAME);
}

Test(childdiff, entry_lookup)
{
	struct json_object *l = live_with("{}", ENTRY_AB);
	cr_assert_not_null(childdiff_entry(l, FM));
	cr_assert_null(childdiff_entry(l, "coxswain/other"));
	json_object_put(l);
	/* Two Apply entries of ours: which one is it? Neither. */
	l = live_with("{}", ENTRY_AB ", " ENTRY_AB);
	cr_assert_null(childdiff_entry(l, FM));
	json_object_put(l);
}

/* Odd shapes are a write, never a crash. */
Test(childdiff, odd_shapes_are_not_same)
{
	const char *entry_no_meta = "{\"manager\": \"" FM "\", \"operation\": \"Apply\", \"apiVersion\": \"v1\", "
				    "\"fieldsType\": \"FieldsV1\", \"fieldsV1\": {\"f:data\": {\"f:a\": {}}}}";
	struct json_object *d = json("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"data\": {\"a\": \"1\"}}");
	cr_assert_neq(judge(d, live_with("{\"a\": \"1\"}", entry_no_meta)), CHILDDIFF_SAME);
	cr_assert_neq(judge(json("[1]"), live_with("{\"a\": \"1\"}", ENTRY_AB)), CHILDDIFF_SAME);
	cr_assert_neq(judge(json("{\"apiVersion\": \"v1\", \"metadata\": 7}"), live_with("{}", entry_no_meta)),
		      CHILDDIFF_SAME);
}

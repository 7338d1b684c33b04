/* Unit tests for worker/crdschema's pruning: a status projected through a
 * CRD's structural schema as the API server prunes it. (The CRD lookup is
 * tested against the real API server in tests/integration.) */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "crdschema.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* prune(schema, value) must give want and drop exactly dropped_want. */
static void expect(const char *schema_text, const char *value_text, const char *want_text, const char *dropped_want)
{
	struct json_object *schema = schema_text ? json(schema_text) : NULL, *value = json(value_text);
	struct json_object *want = json(want_text);
	char dropped[512];
	size_t n = 99;
	struct json_object *got = crdschema_prune(schema, value, "status", dropped, sizeof(dropped), &n);
	cr_assert(json_object_equal(got, want), "got %s, want %s", json_object_to_json_string(got), want_text);
	cr_assert_str_eq(dropped, dropped_want);
	cr_assert_eq(n == 0, !*dropped_want);
	struct json_object *again = json(value_text);
	cr_assert(json_object_equal(value, again), "the input is untouched");
	json_object_put(again);
	json_object_put(got);
	json_object_put(want);
	json_object_put(value);
	json_object_put(schema);
}

#define STATUS_READY "{\"type\":\"object\",\"properties\":{\"ready\":{\"type\":\"boolean\"}}}"

Test(crdschema_prune, undeclared_conditions_are_dropped)
{
	expect(STATUS_READY, "{\"ready\":true,\"observedGeneration\":2,\"conditions\":[{\"type\":\"Synced\"}]}",
	       "{\"ready\":true}", "status.observedGeneration; status.conditions");
}

Test(crdschema_prune, declared_conditions_are_kept_with_their_declared_fields)
{
	expect("{\"type\":\"object\",\"properties\":{\"conditions\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	       "\"properties\":{\"type\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"}}}}}}",
	       "{\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\",\"reason\":\"Ok\"},{\"type\":\"Ready\"}]}",
	       "{\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\"},{\"type\":\"Ready\"}]}",
	       "status.conditions[0].reason");
}

Test(crdschema_prune, preserve_unknown_fields_keeps_them_at_its_level)
{
	expect("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}",
	       "{\"a\":{\"b\":[1,{\"c\":2}]},\"d\":\"x\"}", "{\"a\":{\"b\":[1,{\"c\":2}]},\"d\":\"x\"}", "");
	/* Declared fields still follow their own schema below a preserving level. */
	expect("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,\"properties\":{\"n\":"
	       "{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"string\"}}}}}",
	       "{\"other\":1,\"n\":{\"k\":\"v\",\"z\":1}}", "{\"other\":1,\"n\":{\"k\":\"v\"}}", "status.n.z");
	/* And a nested preserving level keeps what is under it only. */
	expect("{\"type\":\"object\",\"properties\":{\"free\":{\"type\":\"object\","
	       "\"x-kubernetes-preserve-unknown-fields\":true}}}",
	       "{\"free\":{\"any\":{\"thing\":1}},\"top\":1}", "{\"free\":{\"any\":{\"thing\":1}}}", "status.top");
}

Test(crdschema_prune, additional_properties)
{
	expect("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\",\"properties\":{\"x\":"
	       "{\"type\":\"integer\"}}}}",
	       "{\"a\":{\"x\":1,\"y\":2},\"b\":{\"x\":3}}", "{\"a\":{\"x\":1},\"b\":{\"x\":3}}", "status.a.y");
	/* true declares nothing below: the key stays, an object under it is
	 * emptied (what kube-apiserver 1.34 stores, see the live test). */
	expect("{\"type\":\"object\",\"additionalProperties\":true}",
	       "{\"a\":{\"deep\":1},\"s\":\"v\",\"l\":[{\"x\":1},2]}", "{\"a\":{},\"s\":\"v\",\"l\":[{},2]}",
	       "status.a.deep; status.l[0].x");
}

Test(crdschema_prune, embedded_resources_keep_their_type_and_metadata)
{
	expect("{\"type\":\"object\",\"properties\":{\"ref\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":"
	       "true,"
	       "\"properties\":{\"spec\":{\"type\":\"object\"}}}}}",
	       "{\"ref\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{},\"junk\":1}"
	       "}",
	       "{\"ref\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{}}}",
	       "status.ref.junk");
}

Test(crdschema_prune, embedded_metadata_keeps_only_object_meta_fields)
{
	expect("{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,\"x-kubernetes-preserve-unknown-fields\":"
	       "true}",
	       "{\"kind\":\"X\",\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"b\"},\"junk\":1},\"other\":{\"y\":1}}",
	       "{\"kind\":\"X\",\"metadata\":{\"name\":\"n\",\"labels\":{\"a\":\"b\"}},\"other\":{\"y\":1}}",
	       "status.metadata.junk");
}

Test(crdschema_prune, nested_arrays_of_objects)
{
	expect("{\"type\":\"object\",\"properties\":{\"m\":{\"type\":\"array\",\"items\":{\"type\":\"array\",\"items\":"
	       "{\"type\":\"object\",\"properties\":{\"k\":{\"type\":\"integer\"}}}}}}}",
	       "{\"m\":[[{\"k\":1,\"x\":2}],[],[{\"k\":3},{\"y\":4}]]}", "{\"m\":[[{\"k\":1}],[],[{\"k\":3},{}]]}",
	       "status.m[0][0].x; status.m[2][1].y");
}

Test(crdschema_prune, an_array_without_items_empties_its_objects)
{
	expect("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\"}}}", "{\"l\":[{\"a\":1},\"s\",3]}",
	       "{\"l\":[{},\"s\",3]}", "status.l[0].a");
}

Test(crdschema_prune, a_preserving_array_preserves_its_elements)
{
	expect("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\",\"x-kubernetes-preserve-unknown-"
	       "fields\":true,"
	       "\"items\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"properties\":{\"x\":"
	       "{\"type\":\"string\"}}}}}}}}",
	       "{\"l\":[{\"a\":{\"x\":\"1\",\"y\":2},\"b\":{\"c\":1}}]}",
	       "{\"l\":[{\"a\":{\"x\":\"1\"},\"b\":{\"c\":1}}]}", "status.l[0].a.y");
}

Test(crdschema_prune, scalars_are_kept_whatever_their_declared_type)
{
	expect("{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\"},\"o\":{\"type\":\"object\"}}}",
	       "{\"n\":\"not a number\",\"o\":7,\"z\":null}", "{\"n\":\"not a number\",\"o\":7}", "status.z");
}

Test(crdschema_prune, no_status_schema_drops_everything)
{
	expect(NULL, "{\"a\":1,\"b\":{\"c\":2}}", "{}", "status.a; status.b");
}

Test(crdschema_prune, the_list_of_drops_is_cut_not_overflowed)
{
	struct json_object *value = json_object_new_object();
	for (int i = 0; i < 100; i++) {
		char key[32];
		snprintf(key, sizeof(key), "field_number_%d", i);
		json_object_object_add(value, key, json_object_new_int(i));
	}
	char dropped[64];
	size_t n = 0;
	struct json_object *got = crdschema_prune(NULL, value, "status", dropped, sizeof(dropped), &n);
	cr_assert_eq(n, 100);
	cr_assert_eq(strlen(dropped), sizeof(dropped) - 1);
	cr_assert_str_eq(dropped + sizeof(dropped) - 4, "...");
	json_object_put(got);
	json_object_put(value);
}

Test(crdschema_prune, deep_values_are_fine)
{
	char text[4096] = "";
	for (int i = 0; i < 200; i++)
		strcat(text, "{\"a\":");
	strcat(text, "1");
	for (int i = 0; i < 200; i++)
		strcat(text, "}");
	struct json_object *schema = json("{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}");
	struct json_tokener *tok = json_tokener_new_ex(512); /* json-c's default depth is 32 */
	struct json_object *value = json_tokener_parse_ex(tok, text, (int)strlen(text));
	json_tokener_free(tok);
	cr_assert_not_null(value);
	struct json_object *got = crdschema_prune(schema, value, "status", NULL, 0, NULL);
	cr_assert(json_object_equal(got, value));
	json_object_put(got);
	json_object_put(value);
	json_object_put(schema);
}

/* 100 levels of objects under a schema that declares only the first, and
 * a value deeper than CRDSCHEMA_MAX_DEPTH, refused rather than crashing. */
Test(crdschema_prune, deep_objects_under_a_declaring_schema)
{
	struct json_object *value = json_object_new_int(1);
	for (int i = 0; i < 100; i++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "a", value);
		value = o;
	}
	struct json_object *schema = json("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\"}}}");
	char dropped[64];
	size_t n = 0;
	struct json_object *got = crdschema_prune(schema, value, "status", dropped, sizeof(dropped), &n);
	struct json_object *want = json("{\"a\":{}}");
	cr_assert(json_object_equal(got, want), "got %s", json_object_to_json_string(got));
	cr_assert_eq(n, 1);
	cr_assert_str_eq(dropped, "status.a.a");
	json_object_put(got);
	json_object_put(want);
	/* Nested arrays are walked whatever the schema (elements without
	 * `items` are pruned as undeclared): the depth bound is what stops
	 * them. */
	struct json_object *arrays = json_object_new_int(1);
	for (int i = 0; i <= CRDSCHEMA_MAX_DEPTH + 1; i++) {
		struct json_object *a = json_object_new_array();
		json_object_array_add(a, arrays);
		arrays = a;
	}
	cr_assert_null(crdschema_prune(NULL, arrays, "status", NULL, 0, NULL), "too deep: refused");
	json_object_put(arrays);
	json_object_put(value);
	json_object_put(schema);
}

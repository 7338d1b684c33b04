/* common/k8s/kobj: typed, NULL-tolerant reading of an object's metadata. */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "kobj.h"

static struct json_object *json(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

static const char *FULL =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
	"\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"generation\":7,\"deletionTimestamp\":\"2026-01-01T00:00:00Z\","
	"\"labels\":{\"app\":\"web\",\"n\":3},\"annotations\":{\"a/b\":\"c\"},"
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"o-1\"},"
	"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"name\":\"site\",\"uid\":\"o-2\","
	"\"controller\":true},"
	"{\"apiVersion\":\"v1\",\"kind\":\"Other\",\"name\":\"x\",\"uid\":\"o-3\",\"controller\":true}]}}";

Test(kobj, every_field_of_a_full_object)
{
	struct json_object *o = json(FULL);
	cr_assert_str_eq(kobj_name(o), "web");
	cr_assert_str_eq(kobj_namespace(o), "shop");
	cr_assert_str_eq(kobj_uid(o), "u-1");
	cr_assert_str_eq(kobj_resource_version(o), "42");
	cr_assert_eq(kobj_generation(o), 7);
	cr_assert(kobj_deleting(o));
	cr_assert_str_eq(kobj_label(o, "app"), "web");
	cr_assert_null(kobj_label(o, "n"), "a label that is not a string");
	cr_assert_null(kobj_label(o, "none"));
	cr_assert_str_eq(kobj_annotation(o, "a/b"), "c");
	cr_assert(json_object_is_type(kobj_labels(o), json_type_object));
	cr_assert(json_object_is_type(kobj_annotations(o), json_type_object));
	cr_assert_eq(kobj_meta(o), json_object_object_get(o, "metadata"));
	json_object_put(o);
}

Test(kobj, the_controller_ref_is_the_first_with_controller_true)
{
	struct json_object *o = json(FULL);
	struct json_object *ref = kobj_controller_ref(o);
	cr_assert_not_null(ref, "the second reference is the controller");
	cr_assert_str_eq(kobj_ref_uid(ref), "o-2");
	cr_assert_str_eq(kobj_ref_kind(ref), "Website");
	cr_assert_str_eq(kobj_ref_api_version(ref), "example.com/v1");
	cr_assert_str_eq(kobj_ref_name(ref), "site");
	json_object_put(o);
}

Test(kobj, no_controller_ref)
{
	const char *cases[] = {
		"{\"metadata\":{\"ownerReferences\":[{\"uid\":\"a\"},{\"uid\":\"b\",\"controller\":false}]}}",
		"{\"metadata\":{\"ownerReferences\":[]}}",
		"{\"metadata\":{\"ownerReferences\":{\"controller\":true}}}", /* not a list */
		"{\"metadata\":{\"ownerReferences\":[\"x\",7,null]}}",        /* entries not objects */
		"{\"metadata\":{\"ownerReferences\":[{\"uid\":\"a\",\"controller\":null}]}}",
		"{\"metadata\":{\"ownerReferences\":[{\"uid\":\"a\",\"controller\":\"true\"},{\"controller\":1}]}}",
		"{\"metadata\":{}}",
		"{}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct json_object *o = json(cases[i]);
		cr_assert_null(kobj_controller_ref(o), "%s", cases[i]);
		json_object_put(o);
	}
	cr_assert_null(kobj_controller_ref(NULL));
	cr_assert_null(kobj_ref_uid(NULL));
	cr_assert_null(kobj_ref_kind(NULL));
	cr_assert_null(kobj_ref_api_version(NULL));
	cr_assert_null(kobj_ref_name(NULL));
}

Test(kobj, ref_fields_of_the_wrong_type_are_absent)
{
	struct json_object *o = json("{\"metadata\":{\"ownerReferences\":[{\"uid\":1,\"kind\":[],\"apiVersion\":{},"
				     "\"name\":false,\"controller\":true}]}}");
	struct json_object *ref = kobj_controller_ref(o);
	cr_assert_not_null(ref);
	cr_assert_null(kobj_ref_uid(ref));
	cr_assert_null(kobj_ref_kind(ref));
	cr_assert_null(kobj_ref_api_version(ref));
	cr_assert_null(kobj_ref_name(ref));
	json_object_put(o);
}

Test(kobj, missing_fields_and_wrong_types_are_absent)
{
	const char *cases[] = {
		"{}",
		"{\"metadata\":null}",
		"{\"metadata\":\"web\"}",
		"{\"metadata\":[]}",
		"{\"metadata\":{}}",
		"{\"metadata\":{\"name\":7,\"namespace\":true,\"uid\":[],\"resourceVersion\":42,\"generation\":\"7\","
		"\"deletionTimestamp\":null,\"labels\":null,\"annotations\":null}}",
		"{\"metadata\":{\"name\":\"\",\"namespace\":\"\",\"uid\":\"\",\"resourceVersion\":\"\","
		"\"generation\":1.5}}",
		"[]",
		"\"metadata\"",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct json_object *o = json(cases[i]);
		char buf[64];
		cr_assert_null(kobj_name(o), "%s", cases[i]);
		cr_assert_null(kobj_namespace(o), "%s", cases[i]);
		cr_assert_null(kobj_uid(o), "%s", cases[i]);
		cr_assert_null(kobj_resource_version(o), "%s", cases[i]);
		cr_assert_eq(kobj_generation(o), 0, "%s", cases[i]);
		cr_assert_not(kobj_deleting(o), "%s", cases[i]);
		cr_assert_null(kobj_labels(o), "%s", cases[i]);
		cr_assert_null(kobj_annotations(o), "%s", cases[i]);
		cr_assert_null(kobj_label(o, "app"), "%s", cases[i]);
		cr_assert_null(kobj_annotation(o, "app"), "%s", cases[i]);
		cr_assert_not(kobj_key(o, buf, sizeof(buf)), "%s", cases[i]);
		json_object_put(o);
	}
}

Test(kobj, null_object)
{
	char buf[8];
	cr_assert_null(kobj_meta(NULL));
	cr_assert_null(kobj_name(NULL));
	cr_assert_null(kobj_namespace(NULL));
	cr_assert_null(kobj_uid(NULL));
	cr_assert_null(kobj_resource_version(NULL));
	cr_assert_eq(kobj_generation(NULL), 0);
	cr_assert_not(kobj_deleting(NULL));
	cr_assert_null(kobj_labels(NULL));
	cr_assert_null(kobj_label(NULL, "a"));
	cr_assert_null(kobj_annotation(NULL, "a"));
	cr_assert_not(kobj_key(NULL, buf, sizeof(buf)));
}

Test(kobj, labels_of_another_type_are_handed_to_the_selector)
{
	/* A selector says why a list is not a label map; kobj only finds it. */
	struct json_object *o = json("{\"metadata\":{\"labels\":[\"a\"],\"annotations\":\"x\"}}");
	cr_assert(json_object_is_type(kobj_labels(o), json_type_array));
	cr_assert(json_object_is_type(kobj_annotations(o), json_type_string));
	cr_assert_null(kobj_label(o, "a"));
	cr_assert_null(kobj_annotation(o, "x"));
	json_object_put(o);
}

Test(kobj, namespaced_key)
{
	struct json_object *o = json(FULL);
	char buf[16];
	cr_assert(kobj_key(o, buf, sizeof(buf)));
	cr_assert_str_eq(buf, "shop/web");
	json_object_put(o);
}

Test(kobj, cluster_scoped_keys)
{
	const char *cases[] = {
		"{\"metadata\":{\"name\":\"node-1\"}}",
		"{\"metadata\":{\"name\":\"node-1\",\"namespace\":\"\"}}",
		"{\"metadata\":{\"name\":\"node-1\",\"namespace\":null}}",
		"{\"metadata\":{\"name\":\"node-1\",\"namespace\":3}}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct json_object *o = json(cases[i]);
		char buf[16];
		cr_assert(kobj_key(o, buf, sizeof(buf)), "%s", cases[i]);
		cr_assert_str_eq(buf, "node-1", "%s", cases[i]);
		json_object_put(o);
	}
}

Test(kobj, key_buffer_too_small)
{
	struct json_object *o = json("{\"metadata\":{\"name\":\"n\",\"namespace\":\"s\"}}");
	char buf[8];
	cr_assert(kobj_key(o, buf, 4), "\"s/n\" fits in 4 bytes");
	cr_assert_str_eq(buf, "s/n");
	cr_assert_not(kobj_key(o, buf, 3), "\"s/n\" needs 4 bytes");
	cr_assert_not(kobj_key(o, buf, 0));
	json_object_put(o);
	o = json("{\"metadata\":{\"name\":\"node\"}}");
	cr_assert(kobj_key(o, buf, 5));
	cr_assert_not(kobj_key(o, buf, 4));
	json_object_put(o);
}

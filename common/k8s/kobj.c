#include "config.h"

#include "kobj.h"

#include <json-c/json.h>
#include <stdio.h>

/* o[key] when o is an object holding it (borrowed), else NULL. jsonget's
 * rule, for a const object. */
static struct json_object *member(const struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *string_member(const struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *nonempty_member(const struct json_object *o, const char *key)
{
	const char *s = string_member(o, key);
	return s && *s ? s : NULL;
}

struct json_object *kobj_meta(const struct json_object *o)
{
	struct json_object *m = member(o, "metadata");
	return json_object_is_type(m, json_type_object) ? m : NULL;
}

const char *kobj_name(const struct json_object *o)
{
	return nonempty_member(kobj_meta(o), "name");
}

const char *kobj_namespace(const struct json_object *o)
{
	return nonempty_member(kobj_meta(o), "namespace");
}

const char *kobj_uid(const struct json_object *o)
{
	return nonempty_member(kobj_meta(o), "uid");
}

const char *kobj_resource_version(const struct json_object *o)
{
	return nonempty_member(kobj_meta(o), "resourceVersion");
}

int64_t kobj_generation(const struct json_object *o)
{
	struct json_object *g = member(kobj_meta(o), "generation");
	return json_object_is_type(g, json_type_int) ? json_object_get_int64(g) : 0;
}

bool kobj_deleting(const struct json_object *o)
{
	return member(kobj_meta(o), "deletionTimestamp") != NULL;
}

struct json_object *kobj_controller_ref(const struct json_object *o)
{
	struct json_object *refs = member(kobj_meta(o), "ownerReferences");
	size_t n = json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(refs, i), *c = member(ref, "controller");
		if (json_object_is_type(c, json_type_boolean) && json_object_get_boolean(c))
			return ref;
	}
	return NULL;
}

const char *kobj_ref_uid(const struct json_object *ref)
{
	return string_member(ref, "uid");
}

const char *kobj_ref_kind(const struct json_object *ref)
{
	return string_member(ref, "kind");
}

const char *kobj_ref_api_version(const struct json_object *ref)
{
	return string_member(ref, "apiVersion");
}

const char *kobj_ref_name(const struct json_object *ref)
{
	return string_member(ref, "name");
}

struct json_object *kobj_labels(const struct json_object *o)
{
	return member(kobj_meta(o), "labels");
}

struct json_object *kobj_annotations(const struct json_object *o)
{
	return member(kobj_meta(o), "annotations");
}

const char *kobj_label(const struct json_object *o, const char *key)
{
	return string_member(kobj_labels(o), key);
}

const char *kobj_annotation(const struct json_object *o, const char *key)
{
	return string_member(kobj_annotations(o), key);
}

bool kobj_key(const struct json_object *o, char *buf, size_t len)
{
	const char *name = kobj_name(o), *ns = kobj_namespace(o);
	if (!name || !buf || !len)
		return false;
	int n = ns ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);
	return n > 0 && (size_t)n < len;
}

const char *const kobj_meta_fields[] = {
	"name",
	"generateName",
	"namespace",
	"selfLink",
	"uid",
	"resourceVersion",
	"generation",
	"creationTimestamp",
	"deletionTimestamp",
	"deletionGracePeriodSeconds",
	"labels",
	"annotations",
	"ownerReferences",
	"finalizers",
	"managedFields",
	NULL,
};

#include "config.h"

#include "jsonget.h"

#include <json-c/json.h>

struct json_object *jsonget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *jsonget_string(struct json_object *o, const char *key)
{
	struct json_object *v = jsonget(o, key);
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *jsonget_nonempty(struct json_object *o, const char *key)
{
	struct json_object *v = jsonget(o, key);
	return json_object_is_type(v, json_type_string) && json_object_get_string_len(v) ? json_object_get_string(v)
											 : NULL;
}

const char *jsonget_kind(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "a list";
	case json_type_string:
		return "a string";
	}
	return "an unknown JSON value";
}

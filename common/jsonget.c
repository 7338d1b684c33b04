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

/* jsonget: reading a member of a json-c object that may not be there, or not
 * be an object at all, without a NULL check at every step:
 * jsonget_string(jsonget(obj, "metadata"), "name"). */
#ifndef COXSWAIN_JSONGET_H
#define COXSWAIN_JSONGET_H

struct json_object;

/* o[key] (borrowed), or NULL when o is not an object or has no such member. */
struct json_object *jsonget(struct json_object *o, const char *key);

/* o[key] when it is a string (borrowed), else NULL. */
const char *jsonget_string(struct json_object *o, const char *key);

/* o[key] when it is a non-empty string (borrowed), else NULL. */
const char *jsonget_nonempty(struct json_object *o, const char *key);

/* What v is, for a message saying what was expected instead: "a string",
 * "an integer", "a number", "a boolean", "an object", "a list", "null"
 * (also for v NULL). Static. */
const char *jsonget_kind(struct json_object *v);

#endif

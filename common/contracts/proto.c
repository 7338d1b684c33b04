#include "config.h"

#include "proto.h"
#include "childkey.h"
#include "jsondoc.h"
#include "err.h"
#include "kobj.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The informer accepts objects nested 512 deep (common/watch.c); a JOB puts
 * them at most 3 levels further in (children -> kind -> name). */
#define PROTO_MAX_DEPTH 520

/* ---- names --------------------------------------------------------------- */

static const struct {
	enum proto_type type;
	const char *word;
} types[] = {
	{ PROTO_READY, PROTO_TYPE_READY },           { PROTO_HEARTBEAT, PROTO_TYPE_HEARTBEAT },
	{ PROTO_RESULT, PROTO_TYPE_RESULT },         { PROTO_JOB, PROTO_TYPE_JOB },
	{ PROTO_DISCONNECT, PROTO_TYPE_DISCONNECT }, { PROTO_STATS, PROTO_TYPE_STATS },
};

static const char *const outcomes[] = {
	[PROTO_OUTCOME_OK] = "ok", [PROTO_OUTCOME_ERROR] = "error", [PROTO_OUTCOME_REQUEUE] = "requeue"
};
static const char *const job_kinds[] = { [PROTO_JOB_SYNC] = "sync", [PROTO_JOB_POISON] = "poison" };

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *proto_type_name(enum proto_type t)
{
	for (size_t i = 0; i < COUNT(types); i++)
		if (types[i].type == t)
			return types[i].word;
	return "?";
}

bool proto_from_worker(enum proto_type t)
{
	return t == PROTO_READY || t == PROTO_HEARTBEAT || t == PROTO_RESULT || t == PROTO_STATS;
}

bool proto_from_watcher(enum proto_type t)
{
	return t == PROTO_JOB || t == PROTO_HEARTBEAT || t == PROTO_DISCONNECT;
}

const char *proto_outcome_name(enum proto_outcome o)
{
	return o >= PROTO_OUTCOME_OK && o <= PROTO_OUTCOME_REQUEUE ? outcomes[o] : "?";
}

const char *proto_job_kind_name(enum proto_job_kind k)
{
	return k >= PROTO_JOB_SYNC && k <= PROTO_JOB_POISON ? job_kinds[k] : "?";
}

/* "an integer", "a string": what a JSON value is, for error messages. */
static const char *json_kind(const struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a non-integer number";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "an unknown JSON value";
}

/* ---- checks shared by encoder and decoder -------------------------------- */

static int check_stats(const char *what, struct json_object *families, int code, struct cx_err *err);

/* RESULT's related: a list of objects (relrule parses what is in them). */
static int check_related(const char *what, struct json_object *related, int code, struct cx_err *err)
{
	if (!json_object_is_type(related, json_type_array))
		return cx_err_set(err, code, "%s: field \"related\": expected an array, got %s", what,
				  json_kind(related));
	for (size_t i = 0; i < json_object_array_length(related); i++) {
		struct json_object *rule = json_object_array_get_idx(related, i);
		if (!json_object_is_type(rule, json_type_object))
			return cx_err_set(err, code, "%s: field \"related\": entry %zu: expected an object, got %s",
					  what, i, json_kind(rule));
	}
	return 0;
}

static int put(struct json_object *obj, const char *key, struct json_object *val);

static const char *const write_fields[] = { "kind", "namespace", "name", "resourceVersion", NULL };

/* RESULT's writes: at most PROTO_WRITES_MAX objects of exactly the four
 * strings of write_fields, kind "Kind.apiVersion", name and resourceVersion
 * non-empty. */
static int check_writes(const char *what, struct json_object *writes, int code, struct cx_err *err)
{
	if (!json_object_is_type(writes, json_type_array))
		return cx_err_set(err, code, "%s: field \"writes\": expected an array, got %s", what,
				  json_kind(writes));
	size_t n = json_object_array_length(writes);
	if (n > PROTO_WRITES_MAX)
		return cx_err_set(err, code, "%s: field \"writes\": %zu entries, at most %d allowed", what, n,
				  PROTO_WRITES_MAX);
	for (size_t i = 0; i < n; i++) {
		struct json_object *w = json_object_array_get_idx(writes, i);
		if (!json_object_is_type(w, json_type_object))
			return cx_err_set(err, code, "%s: field \"writes\": entry %zu: expected an object, got %s",
					  what, i, json_kind(w));
		for (size_t f = 0; write_fields[f]; f++) {
			struct json_object *v = NULL;
			if (!json_object_object_get_ex(w, write_fields[f], &v))
				return cx_err_set(err, code, "%s: field \"writes\": entry %zu: missing field \"%s\"",
						  what, i, write_fields[f]);
			if (!json_object_is_type(v, json_type_string))
				return cx_err_set(err, code,
						  "%s: field \"writes\": entry %zu: field \"%s\": expected a "
						  "string, got %s",
						  what, i, write_fields[f], json_kind(v));
			const char *s = json_object_get_string(v);
			if (strlen(s) != (size_t)json_object_get_string_len(v))
				return cx_err_set(err, code,
						  "%s: field \"writes\": entry %zu: field \"%s\": string "
						  "contains a NUL character",
						  what, i, write_fields[f]);
			if (!*s && strcmp(write_fields[f], "namespace"))
				return cx_err_set(err, code,
						  "%s: field \"writes\": entry %zu: field \"%s\": expected a "
						  "non-empty string",
						  what, i, write_fields[f]);
		}
		const char *kind = json_object_get_string(json_object_object_get(w, "kind"));
		size_t kind_len = 0;
		if (!childkey_kind_split(kind, &kind_len))
			return cx_err_set(err, code,
					  "%s: field \"writes\": entry %zu: field \"kind\": \"%.64s\" is not "
					  "\"Kind.apiVersion\" (\"ConfigMap.v1\")",
					  what, i, kind);
		if (json_object_object_length(w) != 4) {
			json_object_object_foreach(w, name, unused)
			{
				(void)unused;
				size_t f = 0;
				while (write_fields[f] && strcmp(write_fields[f], name))
					f++;
				if (!write_fields[f])
					return cx_err_set(err, code,
							  "%s: field \"writes\": entry %zu: unknown field "
							  "\"%.64s\"",
							  what, i, name);
			}
		}
	}
	return 0;
}

int proto_writes_note(struct json_object *writes, struct json_object *obj)
{
	struct json_object *v = NULL;
	const char *api_version = NULL, *kind = NULL;
	if (!writes || !obj || !json_object_is_type(writes, json_type_array) ||
	    json_object_array_length(writes) >= PROTO_WRITES_MAX)
		return 0;
	if (json_object_object_get_ex(obj, "apiVersion", &v) && json_object_is_type(v, json_type_string))
		api_version = json_object_get_string(v);
	if (json_object_object_get_ex(obj, "kind", &v) && json_object_is_type(v, json_type_string))
		kind = json_object_get_string(v);
	const char *name = kobj_name(obj), *ns = kobj_namespace(obj) ?: "", *rv = kobj_resource_version(obj);
	if (!api_version || !*api_version || !kind || !*kind || !name || !rv)
		return 0;
	size_t len = strlen(kind) + 1 + strlen(api_version) + 1;
	char *kindkey = malloc(len);
	struct json_object *w = json_object_new_object();
	int rc = 0;
	if (!kindkey || !w || !childkey_kind(kind, api_version, kindkey, len)) {
		rc = -ENOMEM;
		goto out;
	}
	if (put(w, "kind", json_object_new_string(kindkey)) || put(w, "namespace", json_object_new_string(ns)) ||
	    put(w, "name", json_object_new_string(name)) || put(w, "resourceVersion", json_object_new_string(rv)) ||
	    json_object_array_add(writes, w)) {
		rc = -ENOMEM;
		goto out;
	}
	w = NULL;
out:
	json_object_put(w);
	free(kindkey);
	return rc;
}

int proto_writes_append(struct json_object *writes, struct json_object *more)
{
	if (!writes || !more || !json_object_is_type(writes, json_type_array) ||
	    !json_object_is_type(more, json_type_array))
		return 0;
	size_t n = json_object_array_length(more);
	for (size_t i = 0; i < n && json_object_array_length(writes) < PROTO_WRITES_MAX; i++) {
		struct json_object *w = json_object_get(json_object_array_get_idx(more, i));
		if (json_object_array_add(writes, w)) {
			json_object_put(w);
			return -ENOMEM;
		}
	}
	return 0;
}

/* children is "Kind.apiVersion" -> name -> object. Both sides check it: the
 * watcher so that it never sends what the worker refuses. */
static int check_children(const char *what, struct json_object *children, int code, struct cx_err *err)
{
	if (!json_object_is_type(children, json_type_object))
		return cx_err_set(err, code, "%s: field \"children\": expected an object, got %s", what,
				  json_kind(children));
	json_object_object_foreach(children, kind_version, by_name)
	{
		size_t kind_len = 0;
		if (!childkey_kind_split(kind_version, &kind_len))
			return cx_err_set(
				err, code,
				"%s: field \"children\": key \"%.64s\" is not \"Kind.apiVersion\" (\"ConfigMap.v1\")",
				what, kind_version);
		if (!json_object_is_type(by_name, json_type_object))
			return cx_err_set(err, code,
					  "%s: field \"children\" entry \"%.64s\": expected an object, got %s", what,
					  kind_version, json_kind(by_name));
		json_object_object_foreach(by_name, name, child)
		{
			if (!*name)
				return cx_err_set(err, code, "%s: field \"children\" entry \"%.64s\": empty child name",
						  what, kind_version);
			if (!json_object_is_type(child, json_type_object))
				return cx_err_set(err, code,
						  "%s: field \"children\" entry \"%.64s\" child \"%.64s\": expected an "
						  "object, got %s",
						  what, kind_version, name, json_kind(child));
		}
	}
	return 0;
}

/* The rules on a job's fields that the types alone do not carry. */
static int check_job(const struct proto_job *j, struct cx_err *err)
{
	const char *what = PROTO_TYPE_JOB;
	if (j->attempt < 1)
		return cx_err_set(err, -EINVAL, "%s: field \"attempt\": expected an integer >= 1, got %d", what,
				  j->attempt);
	if (j->kind != PROTO_JOB_SYNC && j->kind != PROTO_JOB_POISON)
		return cx_err_set(err, -EINVAL, "%s: field \"kind\": unknown kind %d", what, (int)j->kind);
	if (!j->controller || !*j->controller)
		return cx_err_set(err, -EINVAL, "%s: field \"controller\": expected a non-empty string", what);
	if (!j->key || !*j->key)
		return cx_err_set(err, -EINVAL, "%s: field \"key\": expected a non-empty string", what);
	if (!json_object_is_type(j->parent, json_type_object))
		return cx_err_set(err, -EINVAL, "%s: field \"parent\": expected an object, got %s", what,
				  j->parent ? json_kind(j->parent) : "nothing");
	if (j->definition && !json_object_is_type(j->definition, json_type_object))
		return cx_err_set(err, -EINVAL, "%s: field \"definition\": expected an object, got %s", what,
				  json_kind(j->definition));
	if (j->kind == PROTO_JOB_SYNC) {
		if (j->message)
			return cx_err_set(err, -EINVAL, "%s: field \"message\": not allowed for kind \"sync\"", what);
		if (!j->children)
			return cx_err_set(err, -EINVAL, "%s: field \"children\": required for kind \"sync\"", what);
		int rc = check_children(what, j->children, -EINVAL, err);
		if (rc)
			return rc;
	} else {
		if (j->children)
			return cx_err_set(err, -EINVAL, "%s: field \"children\": not allowed for kind \"poison\"",
					  what);
		if (!j->message || !*j->message)
			return cx_err_set(err, -EINVAL,
					  "%s: field \"message\": expected a non-empty string for kind "
					  "\"poison\"",
					  what);
	}
	return 0;
}

/* ---- encoding ------------------------------------------------------------ */

/* Adds val (owned) to obj as key. Returns -ENOMEM when val is NULL (its
 * constructor failed) or the add fails; val is released either way. */
static int put(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* Serializes obj (consumed) into out under type. */
static int finish(struct json_object *obj, const char *type, struct proto_frame *out, struct cx_err *err)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *copy = s ? strdup(s) : NULL;
	json_object_put(obj);
	if (!copy)
		return cx_err_set(err, -ENOMEM, "%s: out of memory", type);
	out->type = type;
	out->payload = copy;
	out->len = strlen(copy);
	return 0;
}

static int empty_payload(const char *type, struct proto_frame *out, struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	out->payload = strdup("");
	if (!out->payload)
		return cx_err_set(err, -ENOMEM, "%s: out of memory", type);
	out->type = type;
	return 0;
}

int proto_encode_heartbeat(struct proto_frame *out, struct cx_err *err)
{
	return empty_payload(PROTO_TYPE_HEARTBEAT, out, err);
}

int proto_encode_disconnect(struct proto_frame *out, struct cx_err *err)
{
	return empty_payload(PROTO_TYPE_DISCONNECT, out, err);
}

bool proto_instance_valid(const char *s)
{
	size_t n = 0;
	for (; s && s[n]; n++)
		if (n >= PROTO_INSTANCE_MAX || !(isalnum((unsigned char)s[n]) || s[n] == '-'))
			return false;
	return n > 0;
}

bool proto_set_valid(const char *s)
{
	size_t n = 0;
	for (; s && s[n]; n++)
		if (n >= PROTO_SET_MAX || !(isalnum((unsigned char)s[n]) || s[n] == '-' || s[n] == '.'))
			return false;
	return s != NULL;
}

static int bad_set(const char *what, const char *s, int code, struct cx_err *err)
{
	return cx_err_set(err, code,
			  "%s: field \"set\": expected up to %d letters, digits, '-' or '.', got \"%.64s%s\"", what,
			  PROTO_SET_MAX, s, strlen(s) > 64 ? "..." : "");
}

/* The error for a bad instance id, quoting (the start of) it. */
static int bad_instance(const char *what, const char *s, int code, struct cx_err *err)
{
	if (!s)
		return cx_err_set(err, code,
				  "%s: field \"instance\": expected 1 to %d letters, digits or '-', got nothing", what,
				  PROTO_INSTANCE_MAX);
	return cx_err_set(err, code, "%s: field \"instance\": expected 1 to %d letters, digits or '-', got \"%.*s%s\"",
			  what, PROTO_INSTANCE_MAX, PROTO_INSTANCE_MAX, s, strlen(s) > PROTO_INSTANCE_MAX ? "..." : "");
}

int proto_encode_ready(const struct proto_ready *r, struct proto_frame *out, struct cx_err *err)
{
	const char *what = PROTO_TYPE_READY;
	memset(out, 0, sizeof(*out));
	if (r->slot < 0)
		return cx_err_set(err, -EINVAL, "%s: field \"slot\": expected an integer >= 0, got %d", what, r->slot);
	if (r->pid < 1)
		return cx_err_set(err, -EINVAL, "%s: field \"pid\": expected an integer >= 1, got %d", what, r->pid);
	if (!proto_instance_valid(r->instance))
		return bad_instance(what, r->instance, -EINVAL, err);
	if (r->restarts < 0)
		return cx_err_set(err, -EINVAL, "%s: field \"restarts\": expected an integer >= 0, got %d", what,
				  r->restarts);
	const char *set = r->set ? r->set : "";
	if (!proto_set_valid(set))
		return bad_set(what, set, -EINVAL, err);
	struct json_object *o = json_object_new_object();
	if (!o || put(o, "slot", json_object_new_int(r->slot)) || put(o, "pid", json_object_new_int(r->pid)) ||
	    put(o, "instance", json_object_new_string(r->instance)) ||
	    put(o, "restarts", json_object_new_int(r->restarts)) || put(o, "set", json_object_new_string(set))) {
		json_object_put(o);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	}
	return finish(o, what, out, err);
}

int proto_encode_result(const struct proto_result *r, struct proto_frame *out, struct cx_err *err)
{
	const char *what = PROTO_TYPE_RESULT;
	memset(out, 0, sizeof(*out));
	if (r->attempt < 1)
		return cx_err_set(err, -EINVAL, "%s: field \"attempt\": expected an integer >= 1, got %d", what,
				  r->attempt);
	if (r->outcome < PROTO_OUTCOME_OK || r->outcome > PROTO_OUTCOME_REQUEUE)
		return cx_err_set(err, -EINVAL, "%s: field \"outcome\": unknown outcome %d", what, (int)r->outcome);
	if (r->requeue_after_ms < 0)
		return cx_err_set(err, -EINVAL, "%s: field \"requeueAfterMs\": expected an integer >= 0, got %" PRId64,
				  what, r->requeue_after_ms);
	int rc = r->related ? check_related(what, r->related, -EINVAL, err) : 0;
	if (!rc && r->writes)
		rc = check_writes(what, r->writes, -EINVAL, err);
	if (rc)
		return rc;
	struct json_object *o = json_object_new_object();
	if (!o || put(o, "job", json_object_new_uint64(r->job)) || put(o, "attempt", json_object_new_int(r->attempt)) ||
	    put(o, "outcome", json_object_new_string(outcomes[r->outcome])) ||
	    put(o, "requeueAfterMs", json_object_new_int64(r->requeue_after_ms)) ||
	    put(o, "message", json_object_new_string(r->message ? r->message : "")) ||
	    (r->related && put(o, "related", json_object_get(r->related))) ||
	    (r->writes && put(o, "writes", json_object_get(r->writes)))) {
		json_object_put(o);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	}
	return finish(o, what, out, err);
}

int proto_encode_job(const struct proto_job *j, struct proto_frame *out, struct cx_err *err)
{
	const char *what = PROTO_TYPE_JOB;
	memset(out, 0, sizeof(*out));
	int rc = check_job(j, err);
	if (rc)
		return rc;
	/* parent and children are the caller's: the payload object takes a
	 * reference, and drops it again when it is released in finish(). */
	struct json_object *o = json_object_new_object();
	if (!o || put(o, "job", json_object_new_uint64(j->job)) || put(o, "attempt", json_object_new_int(j->attempt)) ||
	    put(o, "kind", json_object_new_string(job_kinds[j->kind])) ||
	    put(o, "controller", json_object_new_string(j->controller)) ||
	    put(o, "key", json_object_new_string(j->key)) || put(o, "parent", json_object_get(j->parent)) ||
	    (j->children && put(o, "children", json_object_get(j->children))) ||
	    (j->message && put(o, "message", json_object_new_string(j->message))) ||
	    (j->definition && put(o, "definition", json_object_get(j->definition)))) {
		json_object_put(o);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	}
	return finish(o, what, out, err);
}

int proto_encode(const struct proto_msg *msg, struct proto_frame *out, struct cx_err *err)
{
	switch (msg->type) {
	case PROTO_READY:
		return proto_encode_ready(&msg->ready, out, err);
	case PROTO_HEARTBEAT:
		return proto_encode_heartbeat(out, err);
	case PROTO_RESULT:
		return proto_encode_result(&msg->result, out, err);
	case PROTO_JOB:
		return proto_encode_job(&msg->job, out, err);
	case PROTO_DISCONNECT:
		return proto_encode_disconnect(out, err);
	case PROTO_STATS:
		return proto_encode_stats(&msg->stats, out, err);
	}
	memset(out, 0, sizeof(*out));
	return cx_err_set(err, -EINVAL, "unknown message type %d", (int)msg->type);
}

void proto_frame_clear(struct proto_frame *out)
{
	if (!out)
		return;
	free(out->payload);
	memset(out, 0, sizeof(*out));
}

/* ---- decoding ------------------------------------------------------------ */

/* A field lookup: the payload object and the message type for messages. */
struct reader {
	const char *what;
	struct json_object *obj;
	struct cx_err *err;
};

static int field(const struct reader *r, const char *name, enum json_type type, struct json_object **out)
{
	if (!json_object_object_get_ex(r->obj, name, out))
		return cx_err_set(r->err, -EPROTO, "%s: missing field \"%s\"", r->what, name);
	if (!json_object_is_type(*out, type)) {
		const char *want = type == json_type_int ? "an integer"
			: type == json_type_string       ? "a string"
							 : "an object";
		return cx_err_set(r->err, -EPROTO, "%s: field \"%s\": expected %s, got %s", r->what, name, want,
				  json_kind(*out));
	}
	return 0;
}

/* An integer field in [min, max]. json-c keeps integers above INT64_MAX as
 * unsigned, and they read as INT64_MAX signed: those are out of range for
 * every caller. */
static int field_int(const struct reader *r, const char *name, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	int rc = field(r, name, json_type_int, &v);
	if (rc)
		return rc;
	int64_t n = json_object_get_int64(v);
	if (n == INT64_MAX && json_object_get_uint64(v) > (uint64_t)INT64_MAX)
		return cx_err_set(r->err, -EPROTO,
				  "%s: field \"%s\": expected an integer in [%" PRId64 ", %" PRId64 "], got %" PRIu64,
				  r->what, name, min, max, json_object_get_uint64(v));
	if (n < min || n > max)
		return cx_err_set(r->err, -EPROTO,
				  "%s: field \"%s\": expected an integer in [%" PRId64 ", %" PRId64 "], got %" PRId64,
				  r->what, name, min, max, n);
	*out = n;
	return 0;
}

static int field_uint64(const struct reader *r, const char *name, uint64_t *out)
{
	struct json_object *v;
	int rc = field(r, name, json_type_int, &v);
	if (rc)
		return rc;
	/* A negative number is stored signed and reads as 0 unsigned. */
	if (json_object_get_int64(v) < 0)
		return cx_err_set(r->err, -EPROTO, "%s: field \"%s\": expected an integer >= 0, got %" PRId64, r->what,
				  name, json_object_get_int64(v));
	*out = json_object_get_uint64(v);
	return 0;
}

/* A string field; NUL bytes (\u0000) are refused since C strings would cut
 * them short. */
static int field_string(const struct reader *r, const char *name, bool nonempty, const char **out)
{
	struct json_object *v;
	int rc = field(r, name, json_type_string, &v);
	if (rc)
		return rc;
	const char *s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return cx_err_set(r->err, -EPROTO, "%s: field \"%s\": string contains a NUL character", r->what, name);
	if (nonempty && !*s)
		return cx_err_set(r->err, -EPROTO, "%s: field \"%s\": expected a non-empty string", r->what, name);
	*out = s;
	return 0;
}

/* Refuses fields not in allowed (NULL-terminated). */
static int no_unknown_fields(const struct reader *r, const char *const *allowed)
{
	json_object_object_foreach(r->obj, name, value)
	{
		(void)value;
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], name) != 0)
			i++;
		if (!allowed[i])
			return cx_err_set(r->err, -EPROTO, "%s: unknown field \"%.64s\"", r->what, name);
	}
	return 0;
}

static int decode_ready(const struct reader *r, struct proto_ready *out)
{
	static const char *const allowed[] = { "slot", "pid", "instance", "restarts", "set", NULL };
	int64_t slot, pid, restarts;
	struct json_object *unused;
	int rc;
	if ((rc = field_int(r, "slot", 0, INT_MAX, &slot)) || (rc = field_int(r, "pid", 1, INT_MAX, &pid)))
		return rc;
	if (!json_object_object_get_ex(r->obj, "instance", &unused))
		return cx_err_set(r->err, -EPROTO,
				  "%s: missing field \"instance\" (a worker older than this watcher? "
				  "run the same coxswain version on both sides)",
				  r->what);
	if ((rc = field_string(r, "instance", false, &out->instance)))
		return rc;
	if (!proto_instance_valid(out->instance))
		return bad_instance(r->what, out->instance, -EPROTO, r->err);
	if ((rc = field_int(r, "restarts", 0, INT_MAX, &restarts)) || (rc = field_string(r, "set", false, &out->set)) ||
	    (rc = no_unknown_fields(r, allowed)))
		return rc;
	if (!proto_set_valid(out->set))
		return bad_set(r->what, out->set, -EPROTO, r->err);
	out->slot = (int)slot;
	out->pid = (int)pid;
	out->restarts = (int)restarts;
	return 0;
}

/* Looks word up in names[lo..hi]; returns its index or 0. */
static int lookup(const char *const *names, int lo, int hi, const char *word)
{
	for (int i = lo; i <= hi; i++)
		if (strcmp(names[i], word) == 0)
			return i;
	return 0;
}

static int decode_result(const struct reader *r, struct proto_result *out)
{
	static const char *const allowed[] = { "job",     "attempt", "outcome", "requeueAfterMs",
					       "message", "related", "writes",  NULL };
	int64_t attempt;
	const char *outcome;
	int rc;
	if ((rc = field_uint64(r, "job", &out->job)) || (rc = field_int(r, "attempt", 1, INT_MAX, &attempt)) ||
	    (rc = field_string(r, "outcome", false, &outcome)))
		return rc;
	out->attempt = (int)attempt;
	out->outcome = lookup(outcomes, PROTO_OUTCOME_OK, PROTO_OUTCOME_REQUEUE, outcome);
	if (!out->outcome)
		return cx_err_set(r->err, -EPROTO,
				  "%s: field \"outcome\": expected \"ok\", \"error\" or \"requeue\", got "
				  "\"%.64s\"",
				  r->what, outcome);
	if ((rc = field_int(r, "requeueAfterMs", 0, INT64_MAX, &out->requeue_after_ms)) ||
	    (rc = field_string(r, "message", false, &out->message)) || (rc = no_unknown_fields(r, allowed)))
		return rc;
	struct json_object *related = NULL;
	if (json_object_object_get_ex(r->obj, "related", &related)) {
		if ((rc = check_related(r->what, related, -EPROTO, r->err)))
			return rc;
		out->related = related;
	}
	struct json_object *writes = NULL;
	if (json_object_object_get_ex(r->obj, "writes", &writes)) {
		if ((rc = check_writes(r->what, writes, -EPROTO, r->err)))
			return rc;
		out->writes = writes;
	}
	return 0;
}

static int decode_job(const struct reader *r, struct proto_job *out)
{
	static const char *const allowed[] = { "job",    "attempt",  "kind",    "controller", "key",
					       "parent", "children", "message", "definition", NULL };
	int64_t attempt;
	const char *kind;
	int rc;
	if ((rc = field_uint64(r, "job", &out->job)) || (rc = field_int(r, "attempt", 1, INT_MAX, &attempt)) ||
	    (rc = field_string(r, "kind", false, &kind)))
		return rc;
	out->attempt = (int)attempt;
	out->kind = lookup(job_kinds, PROTO_JOB_SYNC, PROTO_JOB_POISON, kind);
	if (!out->kind)
		return cx_err_set(r->err, -EPROTO, "%s: field \"kind\": expected \"sync\" or \"poison\", got \"%.64s\"",
				  r->what, kind);
	if ((rc = field_string(r, "controller", true, &out->controller)) ||
	    (rc = field_string(r, "key", true, &out->key)) || (rc = field(r, "parent", json_type_object, &out->parent)))
		return rc;
	struct json_object *unused;
	if (json_object_object_get_ex(r->obj, "definition", &unused) &&
	    (rc = field(r, "definition", json_type_object, &out->definition)))
		return rc;
	if (out->kind == PROTO_JOB_SYNC) {
		if ((rc = field(r, "children", json_type_object, &out->children)) ||
		    (rc = check_children(r->what, out->children, -EPROTO, r->err)))
			return rc;
		if (json_object_object_get_ex(r->obj, "message", &unused))
			return cx_err_set(r->err, -EPROTO, "%s: field \"message\": not allowed for kind \"sync\"",
					  r->what);
	} else {
		if (json_object_object_get_ex(r->obj, "children", &unused))
			return cx_err_set(r->err, -EPROTO, "%s: field \"children\": not allowed for kind \"poison\"",
					  r->what);
		if ((rc = field_string(r, "message", true, &out->message)))
			return rc;
	}
	return no_unknown_fields(r, allowed);
}

static int decode_stats(const struct reader *r, struct proto_stats *out)
{
	static const char *const allowed[] = { "families", NULL };
	int rc;
	if ((rc = field(r, "families", json_type_object, &out->families)) ||
	    (rc = check_stats(r->what, out->families, -EPROTO, r->err)))
		return rc;
	return no_unknown_fields(r, allowed);
}

/* The type frame as text for an error message: printable ASCII kept, other
 * bytes as \xNN, cut at 32 bytes. */
static void quote_type(const unsigned char *t, size_t len, char *buf, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && i < 32 && o + 5 < size; i++) {
		if (t[i] >= 0x20 && t[i] < 0x7f && t[i] != '"' && t[i] != '\\')
			buf[o++] = (char)t[i];
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", t[i]);
	}
	if (len > 32 && o + 4 < size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

/* Parses the whole payload as one JSON value, as kclient does; an error says
 * at which byte it went wrong. */
static int parse(const char *what, const char *data, size_t len, struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	if (len > INT_MAX)
		return cx_err_set(err, -EPROTO, "%s: payload of %zu bytes is too large", what, len);
	struct json_object *obj = NULL;
	char why[160];
	struct jsondoc_options o = { .max_depth = PROTO_MAX_DEPTH, .strict = true, .validate_utf8 = true };
	int rc = jsondoc_parse(data, len, &o, &obj, why, sizeof(why));
	if (rc)
		return cx_err_set(err, rc == -ENOMEM ? -ENOMEM : -EPROTO, "%s: %s", what, why);
	*out = obj;
	return 0;
}

int proto_decode(const void *type, size_t type_len, const void *payload, size_t len, struct proto_msg *msg,
		 struct cx_err *err)
{
	memset(msg, 0, sizeof(*msg));
	const char *what = NULL;
	enum proto_type t = 0;
	for (size_t i = 0; i < COUNT(types) && !what; i++)
		if (strlen(types[i].word) == type_len && memcmp(types[i].word, type, type_len) == 0) {
			what = types[i].word;
			t = types[i].type;
		}
	if (!what) {
		char quoted[32 * 4 + 8];
		quote_type(type, type_len, quoted, sizeof(quoted));
		return cx_err_set(err, -EPROTO, "unknown message type \"%s\"", quoted);
	}

	if (t == PROTO_HEARTBEAT || t == PROTO_DISCONNECT) {
		msg->type = t;
		if (len == 0)
			return 0;
		struct json_object *obj;
		int rc = parse(what, payload, len, &obj, err);
		if (rc) {
			memset(msg, 0, sizeof(*msg));
			return rc;
		}
		bool empty = json_object_is_type(obj, json_type_object) && json_object_object_length(obj) == 0;
		json_object_put(obj);
		if (!empty) {
			memset(msg, 0, sizeof(*msg));
			return cx_err_set(err, -EPROTO, "%s: expected an empty payload", what);
		}
		return 0;
	}

	if (len == 0)
		return cx_err_set(err, -EPROTO, "%s: empty payload, expected a JSON object", what);
	struct json_object *root;
	int rc = parse(what, payload, len, &root, err);
	if (rc)
		return rc;
	if (!json_object_is_type(root, json_type_object)) {
		rc = cx_err_set(err, -EPROTO, "%s: expected a JSON object, got %s", what, json_kind(root));
		json_object_put(root);
		return rc;
	}
	struct reader r = { .what = what, .obj = root, .err = err };
	msg->type = t;
	msg->root = root;
	rc = t == PROTO_READY       ? decode_ready(&r, &msg->ready)
		: t == PROTO_RESULT ? decode_result(&r, &msg->result)
		: t == PROTO_STATS  ? decode_stats(&r, &msg->stats)
				    : decode_job(&r, &msg->job);
	if (rc)
		proto_msg_clear(msg);
	return rc;
}

void proto_msg_clear(struct proto_msg *msg)
{
	if (!msg)
		return;
	json_object_put(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* ---- STATS ---------------------------------------------------------------- */

/* Prometheus's metric names (colon) and label names (no colon, no "__"). */
static bool stats_name_valid(const char *s, bool colon)
{
	if (!*s || (!colon && s[0] == '_' && s[1] == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalpha((unsigned char)*p) || *p == '_' || (colon && *p == ':') ||
		      (p != s && isdigit((unsigned char)*p))))
			return false;
	return true;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One series: {"labels": {name: value}, "value": n}. Adds its labels, as
 * one string whatever their order, to seen (the family's series so far)
 * and refuses a repeat. */
static int check_series(const char *what, const char *family, size_t i, struct json_object *series,
			struct json_object *seen, int code, struct cx_err *err)
{
	struct json_object *labels = NULL, *value = NULL;
	if (!json_object_is_type(series, json_type_object))
		return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: expected an object, got %s", what,
				  family, i, json_kind(series));
	if (!json_object_object_get_ex(series, "labels", &labels))
		return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: missing field \"labels\"", what, family,
				  i);
	if (!json_object_is_type(labels, json_type_object))
		return cx_err_set(err, code,
				  "%s: family \"%.64s\" series %zu: field \"labels\": expected an object, got %s", what,
				  family, i, json_kind(labels));
	int n = json_object_object_length(labels);
	if (n > PROTO_STATS_MAX_LABELS)
		return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: %d labels, at most %d allowed", what,
				  family, i, n, PROTO_STATS_MAX_LABELS);
	const char *pairs[PROTO_STATS_MAX_LABELS];
	size_t np = 0;
	json_object_object_foreach(labels, name, v)
	{
		if (!stats_name_valid(name, false))
			return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: \"%.64s\" is not a label name",
					  what, family, i, name);
		if (!json_object_is_type(v, json_type_string))
			return cx_err_set(err, code,
					  "%s: family \"%.64s\" series %zu: label \"%.64s\": expected a string, "
					  "got %s",
					  what, family, i, name, json_kind(v));
		if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
			return cx_err_set(err, code,
					  "%s: family \"%.64s\" series %zu: label \"%.64s\": string contains a "
					  "NUL character",
					  what, family, i, name);
		pairs[np++] = name;
	}
	if (!json_object_object_get_ex(series, "value", &value))
		return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: missing field \"value\"", what, family,
				  i);
	if (!json_object_is_type(value, json_type_int))
		return cx_err_set(err, code,
				  "%s: family \"%.64s\" series %zu: field \"value\": expected an integer, got %s", what,
				  family, i, json_kind(value));
	if (json_object_get_int64(value) < 0)
		return cx_err_set(err, code,
				  "%s: family \"%.64s\" series %zu: field \"value\": expected an integer >= 0, "
				  "got %" PRId64,
				  what, family, i, json_object_get_int64(value));
	json_object_object_foreach(series, field_name, unused)
	{
		(void)unused;
		if (strcmp(field_name, "labels") && strcmp(field_name, "value"))
			return cx_err_set(err, code, "%s: family \"%.64s\" series %zu: unknown field \"%.64s\"", what,
					  family, i, field_name);
	}
	/* The labels in name order, each name and value with its length: the
	 * same string for the same labels, and only for them. */
	qsort(pairs, np, sizeof(*pairs), compare_strings);
	char *key = NULL;
	size_t key_len = 0;
	FILE *f = open_memstream(&key, &key_len);
	if (!f)
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	for (size_t k = 0; k < np; k++) {
		struct json_object *lv = json_object_object_get(labels, pairs[k]);
		fprintf(f, "%zu:%s%d:%s", strlen(pairs[k]), pairs[k], json_object_get_string_len(lv),
			json_object_get_string(lv));
	}
	fputc('.', f); /* json-c refuses an empty key on some versions */
	if (fclose(f) != 0) {
		free(key);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	}
	struct json_object *before = NULL;
	int rc = 0;
	if (json_object_object_get_ex(seen, key, &before))
		rc = cx_err_set(err, code, "%s: family \"%.64s\" series %zu: the same labels as series %" PRId64, what,
				family, i, json_object_get_int64(before));
	else if (json_object_object_add(seen, key, json_object_new_int64((int64_t)i)))
		rc = cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	free(key);
	return rc;
}

/* families: family name -> array of series. Both sides check it: the
 * worker so that it never sends what the watcher refuses. */
static int check_stats(const char *what, struct json_object *families, int code, struct cx_err *err)
{
	if (!json_object_is_type(families, json_type_object))
		return cx_err_set(err, code, "%s: field \"families\": expected an object, got %s", what,
				  families ? json_kind(families) : "nothing");
	int n = json_object_object_length(families);
	if (n > PROTO_STATS_MAX_FAMILIES)
		return cx_err_set(err, code, "%s: field \"families\": %d families, at most %d allowed", what, n,
				  PROTO_STATS_MAX_FAMILIES);
	json_object_object_foreach(families, name, series)
	{
		if (!stats_name_valid(name, true))
			return cx_err_set(err, code, "%s: field \"families\": \"%.64s\" is not a metric name", what,
					  name);
		if (!json_object_is_type(series, json_type_array))
			return cx_err_set(err, code, "%s: family \"%.64s\": expected an array of series, got %s", what,
					  name, json_kind(series));
		size_t len = json_object_array_length(series);
		if (len > PROTO_STATS_MAX_SERIES)
			return cx_err_set(err, code, "%s: family \"%.64s\": %zu series, at most %d allowed", what, name,
					  len, PROTO_STATS_MAX_SERIES);
		struct json_object *seen = json_object_new_object();
		if (!seen)
			return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
		int rc = 0;
		for (size_t i = 0; i < len && !rc; i++)
			rc = check_series(what, name, i, json_object_array_get_idx(series, i), seen, code, err);
		json_object_put(seen);
		if (rc)
			return rc;
	}
	return 0;
}

int proto_encode_stats(const struct proto_stats *s, struct proto_frame *out, struct cx_err *err)
{
	const char *what = PROTO_TYPE_STATS;
	memset(out, 0, sizeof(*out));
	int rc = check_stats(what, s->families, -EINVAL, err);
	if (rc)
		return rc;
	struct json_object *o = json_object_new_object();
	if (!o || put(o, "families", json_object_get(s->families))) {
		json_object_put(o);
		return cx_err_set(err, -ENOMEM, "%s: out of memory", what);
	}
	return finish(o, what, out, err);
}

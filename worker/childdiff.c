#include "config.h"

#include "childdiff.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "jsonget.h"

/* ---- values ---- */

static bool is_number(struct json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* Equal JSON values: the same type (a number is not a string), numbers by
 * value, objects with the same keys, arrays element by element. null is
 * never equal to anything: in an applied configuration it means "remove",
 * which is not a no-op to judge here. */
static bool same_value(struct json_object *a, struct json_object *b)
{
	if (!a || !b || json_object_is_type(a, json_type_null) || json_object_is_type(b, json_type_null))
		return false;
	if (is_number(a) && is_number(b)) {
		if (json_object_is_type(a, json_type_int) && json_object_is_type(b, json_type_int))
			return json_object_get_int64(a) == json_object_get_int64(b) &&
				json_object_get_uint64(a) == json_object_get_uint64(b);
		return json_object_get_double(a) == json_object_get_double(b);
	}
	enum json_type t = json_object_get_type(a);
	if (t != json_object_get_type(b))
		return false;
	switch (t) {
	case json_type_object: {
		if (json_object_object_length(a) != json_object_object_length(b))
			return false;
		json_object_object_foreach(a, key, val)
		{
			struct json_object *other = NULL;
			if (!json_object_object_get_ex(b, key, &other) || !same_value(val, other))
				return false;
		}
		return true;
	}
	case json_type_array: {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return false;
		for (size_t i = 0; i < n; i++)
			if (!same_value(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
				return false;
		return true;
	}
	default:
		return json_object_equal(a, b);
	}
}

/* ---- fieldsV1 ---- */

/* Whether a fieldsV1 node has children besides "." (the node itself): a
 * node without is a leaf, owned whole (a scalar, or an atomic map or list). */
static bool is_leaf(struct json_object *node)
{
	json_object_object_foreach(node, key, val)
	{
		(void)val;
		if (strcmp(key, "."))
			return false;
	}
	return true;
}

/* The JSON after a two-character prefix ("k:", "v:"), parsed; owned. */
static struct json_object *parse_suffix(const char *key)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return NULL;
	const char *s = key + 2;
	struct json_object *v = json_tokener_parse_ex(tok, s, (int)strlen(s) + 1);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(v);
		v = NULL;
	}
	json_tokener_free(tok);
	return v;
}

/* Whether elem has every field of a "k:" key with an equal value. */
static bool key_matches(struct json_object *keyobj, struct json_object *elem)
{
	if (!json_object_is_type(elem, json_type_object))
		return false;
	json_object_object_foreach(keyobj, field, want)
	{
		struct json_object *have = NULL;
		if (!json_object_object_get_ex(elem, field, &have) || !same_value(want, have))
			return false;
	}
	return true;
}

/* The index of the one element of list that keyobj matches; -1 when none
 * or several. */
static long find_keyed(struct json_object *list, struct json_object *keyobj)
{
	long at = -1;
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		if (!key_matches(keyobj, json_object_array_get_idx(list, i)))
			continue;
		if (at >= 0)
			return -1;
		at = (long)i;
	}
	return at;
}

/* The same for a set member. */
static long find_member(struct json_object *list, struct json_object *value)
{
	long at = -1;
	size_t n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		if (!same_value(value, json_object_array_get_idx(list, i)))
			continue;
		if (at >= 0)
			return -1;
		at = (long)i;
	}
	return at;
}

/* "i:N" → N, or -1. */
static long parse_index(const char *key)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(key + 2, &end, 10);
	return errno || end == key + 2 || *end || n < 0 ? -1 : n;
}

/* Removal: whether every path of the fieldsV1 node resolves in d (the
 * desired value at the node's place). A path that does not, or that cannot
 * be read, is a field the apply would take away. */
static bool resolves(struct json_object *node, struct json_object *d)
{
	if (!json_object_is_type(node, json_type_object))
		return false;
	json_object_object_foreach(node, key, sub)
	{
		struct json_object *next = NULL;
		if (!strcmp(key, "."))
			continue;
		if (!strncmp(key, "f:", 2)) {
			if (!json_object_is_type(d, json_type_object) ||
			    !json_object_object_get_ex(d, key + 2, &next) || !next)
				return false;
		} else if (!strncmp(key, "k:", 2) || !strncmp(key, "v:", 2)) {
			struct json_object *v = parse_suffix(key);
			bool keyed = key[0] == 'k';
			long at = -1;
			if (v && json_object_is_type(d, json_type_array) &&
			    (!keyed || (json_object_is_type(v, json_type_object) && json_object_object_length(v))))
				at = keyed ? find_keyed(d, v) : find_member(d, v);
			json_object_put(v);
			if (at < 0)
				return false;
			next = json_object_array_get_idx(d, (size_t)at);
		} else if (!strncmp(key, "i:", 2)) {
			long at = parse_index(key);
			if (at < 0 || !json_object_is_type(d, json_type_array) ||
			    (size_t)at >= json_object_array_length(d))
				return false;
			next = json_object_array_get_idx(d, (size_t)at);
		} else {
			return false;
		}
		if (!resolves(sub, next))
			return false;
	}
	return true;
}

/* ---- values against the live object ---- */

static bool holds(struct json_object *d, struct json_object *l, struct json_object *node);

/* A granular map: every key of d (but those in skip) owned by node and
 * held by l. */
static bool holds_map(struct json_object *d, struct json_object *l, struct json_object *node, const char *const *skip)
{
	if (!json_object_is_type(l, json_type_object))
		return false;
	json_object_object_foreach(d, key, val)
	{
		bool skipped = false;
		for (size_t i = 0; skip && skip[i] && !skipped; i++)
			skipped = !strcmp(skip[i], key);
		if (skipped)
			continue;
		char fkey[512];
		struct json_object *sub = NULL, *have = NULL;
		if (snprintf(fkey, sizeof(fkey), "f:%s", key) >= (int)sizeof(fkey) ||
		    !json_object_object_get_ex(node, fkey, &sub) || !json_object_object_get_ex(l, key, &have) ||
		    !holds(val, have, sub))
			return false;
	}
	return true;
}

/* An associative list: each desired element matched by its key in node
 * and in l, the live ones in the same relative order. */
static bool holds_keyed(struct json_object *d, struct json_object *l, struct json_object *node)
{
	long prev = -1;
	for (size_t i = 0; i < json_object_array_length(d); i++) {
		struct json_object *elem = json_object_array_get_idx(d, i), *sub = NULL, *keyobj = NULL;
		json_object_object_foreach(node, key, val)
		{
			if (strncmp(key, "k:", 2))
				continue;
			struct json_object *k = parse_suffix(key);
			if (k && json_object_is_type(k, json_type_object) && json_object_object_length(k) &&
			    key_matches(k, elem)) {
				if (sub) { /* two keys fit: no telling which */
					json_object_put(k);
					json_object_put(keyobj);
					return false;
				}
				sub = val;
				keyobj = k;
			} else {
				json_object_put(k);
			}
		}
		long at = keyobj ? find_keyed(l, keyobj) : -1;
		json_object_put(keyobj);
		if (at <= prev || !holds(elem, json_object_array_get_idx(l, (size_t)at), sub))
			return false;
		prev = at;
	}
	return true;
}

/* A set: each desired scalar owned (a v: child of node) and in l, in the
 * same relative order. */
static bool holds_set(struct json_object *d, struct json_object *l, struct json_object *node)
{
	long prev = -1;
	for (size_t i = 0; i < json_object_array_length(d); i++) {
		struct json_object *elem = json_object_array_get_idx(d, i);
		if (json_object_is_type(elem, json_type_object) || json_object_is_type(elem, json_type_array))
			return false;
		bool owned = false;
		json_object_object_foreach(node, key, val)
		{
			(void)val;
			if (owned || strncmp(key, "v:", 2))
				continue;
			struct json_object *v = parse_suffix(key);
			owned = v && same_value(v, elem);
			json_object_put(v);
		}
		long at = owned ? find_member(l, elem) : -1;
		if (at <= prev)
			return false;
		prev = at;
	}
	return true;
}

/* Whether applying d (owned as node says) over l changes nothing in l. */
static bool holds(struct json_object *d, struct json_object *l, struct json_object *node)
{
	if (!json_object_is_type(node, json_type_object) || !l)
		return false;
	bool leaf = is_leaf(node);
	if (json_object_is_type(d, json_type_object))
		return leaf ? same_value(d, l) : holds_map(d, l, node, NULL);
	if (!json_object_is_type(d, json_type_array))
		return leaf && same_value(d, l);
	if (leaf)
		return same_value(d, l); /* atomic: replaced whole */
	if (!json_object_is_type(l, json_type_array))
		return false;
	/* Granular: one kind of child tells which list this is. */
	bool keyed = false, set = false, positional = false;
	json_object_object_foreach(node, key, val)
	{
		(void)val;
		keyed = keyed || !strncmp(key, "k:", 2);
		set = set || !strncmp(key, "v:", 2);
		positional = positional || !strncmp(key, "i:", 2);
	}
	if (keyed + set + positional != 1)
		return false;
	if (keyed)
		return holds_keyed(d, l, node);
	if (set)
		return holds_set(d, l, node);
	size_t n = json_object_array_length(d);
	if (n != json_object_array_length(l))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ikey[32];
		struct json_object *sub = NULL;
		snprintf(ikey, sizeof(ikey), "i:%zu", i);
		if (!json_object_object_get_ex(node, ikey, &sub) ||
		    !holds(json_object_array_get_idx(d, i), json_object_array_get_idx(l, i), sub))
			return false;
	}
	return true;
}

/* ---- the entry and the verdict ---- */

struct json_object *childdiff_entry(struct json_object *live, const char *field_manager)
{
	struct json_object *mf = jsonget(jsonget(live, "metadata"), "managedFields"), *found = NULL;
	size_t n = json_object_is_type(mf, json_type_array) ? json_object_array_length(mf) : 0;
	for (size_t i = 0; field_manager && i < n; i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		const char *m = jsonget_string(e, "manager"), *op = jsonget_string(e, "operation");
		const char *sub = jsonget_string(e, "subresource");
		if (!m || !op || strcmp(m, field_manager) || strcmp(op, "Apply") || (sub && *sub))
			continue;
		if (found)
			return NULL;
		found = e;
	}
	return found;
}

/* Not tracked by the server's field manager (its strip set), so never in an
 * entry; the apply does not change them either (they name the object). */
static const char *const top_skip[] = { "apiVersion", "kind", "metadata", NULL };
static const char *const meta_skip[] = { "name", "namespace", NULL };

enum childdiff_verdict childdiff_judge(struct json_object *desired, struct json_object *live, const char *field_manager,
				       const char *parent_uid)
{
	if (!live || !parent_uid || apply_claim_of(parent_uid, live, NULL) != APPLY_CLAIM_OURS)
		return CHILDDIFF_NOT_OURS;
	struct json_object *e = childdiff_entry(live, field_manager);
	const char *type = jsonget_string(e, "fieldsType"), *version = jsonget_string(e, "apiVersion");
	const char *want_version = jsonget_string(desired, "apiVersion");
	struct json_object *fields = jsonget(e, "fieldsV1");
	if (!e || !type || strcmp(type, "FieldsV1") || !version || !want_version || strcmp(version, want_version) ||
	    !json_object_is_type(fields, json_type_object))
		return CHILDDIFF_NO_ENTRY;
	if (!json_object_is_type(desired, json_type_object) || !resolves(fields, desired))
		return CHILDDIFF_WOULD_REMOVE;
	struct json_object *dmeta = jsonget(desired, "metadata");
	if (!json_object_is_type(dmeta, json_type_object) || !holds_map(desired, live, fields, top_skip))
		return CHILDDIFF_DIFFERS;
	/* Metadata: the names aside, as any map. */
	bool only_names = true;
	json_object_object_foreach(dmeta, key, val)
	{
		(void)val;
		only_names = only_names && (!strcmp(key, "name") || !strcmp(key, "namespace"));
	}
	if (!only_names && !holds_map(dmeta, jsonget(live, "metadata"), jsonget(fields, "f:metadata"), meta_skip))
		return CHILDDIFF_DIFFERS;
	return CHILDDIFF_SAME;
}

const char *childdiff_verdict_name(enum childdiff_verdict v)
{
	switch (v) {
	case CHILDDIFF_SAME:
		return "same";
	case CHILDDIFF_NOT_OURS:
		return "not ours";
	case CHILDDIFF_NO_ENTRY:
		return "no managedFields entry of ours";
	case CHILDDIFF_WOULD_REMOVE:
		return "would remove a field";
	case CHILDDIFF_DIFFERS:
		return "differs";
	}
	return "?";
}

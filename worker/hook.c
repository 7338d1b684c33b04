#include "config.h"

#include "hook.h"
#include "childkey.h"
#include "clock.h"
#include "cxconfig.h"
#include "jsondoc.h"
#include "k8sname.h"
#include "jsondup.h"
#include "curlbuf.h"
#include "err.h"
#include "log.h"
#include "subprocess.h"
#include "etagcache.h"
#include "hookproc.h"
#include "jqhook.h"
#include "mcdef.h"
#include "webhookauth.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Nesting allowed in an answer. Kubernetes objects stay far below this
 * (json-c's default of 32 is too tight for a CRD or a deep Helm value tree). */
#define JSON_DEPTH 128
/* Of a webhook's error body, this much goes into the message. */
#define ERROR_BODY_HEAD 256
/* "sync hook "NAME"" is cut to this many bytes of NAME. */
#define NAME_MAX_SHOWN 200
/* resyncAfterSeconds beyond this (about 31 years) is taken as this. */
#define RESYNC_MAX_MS 1e12

/* ---- messages ---- */

/* The hook's name for messages: def->name, argv[0], or the URL without
 * what could be a secret (user, password, query, fragment). One line. */
static void hook_name(const struct hook_def *def, char *buf, size_t len)
{
	char raw[1024] = "";
	if (def->name) {
		snprintf(raw, sizeof(raw), "%s", def->name);
	} else if (def->type == HOOK_EXEC) {
		snprintf(raw, sizeof(raw), "%s", def->argv && def->argv[0] ? def->argv[0] : "");
	} else if (def->type == HOOK_JQ) {
		snprintf(raw, sizeof(raw), "jq");
	} else if (def->url) {
		const char *url = def->url, *sep = strstr(url, "://");
		const char *auth = sep ? sep + 3 : url;
		size_t auth_len = strcspn(auth, "/?#");
		const char *host = auth;
		for (const char *p = auth; p < auth + auth_len; p++)
			if (*p == '@')
				host = p + 1;
		snprintf(raw, sizeof(raw), "%.*s%.*s", (int)(auth - url), url, (int)strcspn(host, "?#"), host);
	}
	subprocess_one_line(raw, strlen(raw), buf, len);
}

/* `sync hook "NAME"` or `finalize hook "NAME"`: how every message starts. */
static void hook_label(const struct hook_def *def, bool finalizing, char *buf, size_t len)
{
	char name[NAME_MAX_SHOWN + 1];
	hook_name(def, name, sizeof(name));
	snprintf(buf, len, "%s hook \"%s\"", finalizing ? "finalize" : "sync", name);
}

static int fail(struct cx_err *err, int code, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "LABEL: what". Returns code. */
static int fail(struct cx_err *err, int code, const char *label, const char *fmt, ...)
{
	if (!err)
		return code;
	char what[CX_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cx_err_set(err, code, "%s: %s", label, what);
}

/* Appends printf-style text to err's message, as far as it fits. */
static void append(struct cx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct cx_err *err, const char *fmt, ...)
{
	if (!err)
		return;
	size_t used = strlen(err->msg);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	va_end(ap);
}

/* "a string", "a list"...: what a JSON value is, for "expected X, got Y". */
static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_int:
	case json_type_double:
		return "a number";
	case json_type_string:
		return "a string";
	case json_type_array:
		return "a list";
	case json_type_object:
		return "an object";
	}
	return "something else";
}

/* A hook-chosen string for a message: one line, at most 100 bytes. */
static const char *clip(const char *s, char *buf, size_t len)
{
	subprocess_one_line(s, strlen(s), buf, len);
	return buf;
}

/* "10 s", "0.5 s". */
static const char *seconds(int ms, char *buf, size_t len)
{
	snprintf(buf, len, "%g s", ms / 1000.0);
	return buf;
}

/* ---- the request ---- */

/* The key of a declared kind in the request's children map
 * (common/childkey.h), into buf; "" (matching nothing) when it does not
 * fit. Returns buf. */
static const char *kind_key(const struct hook_child_kind *kind, char *buf, size_t len)
{
	(void)childkey_kind(kind->kind, kind->api_version, buf, len);
	return buf;
}

/* Adds v to obj under key, taking v's reference; v NULL is out of memory. */
static bool add(struct json_object *obj, const char *key, struct json_object *v)
{
	if (!v)
		return false;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* A child as its hook sees it: without the managedFields entry the watcher
 * keeps on cached children for the worker (worker/childdiff.h), so the
 * request holds none, as it always has. A new reference; NULL when out of
 * memory. */
static struct json_object *hook_view(struct json_object *obj)
{
	struct json_object *meta = NULL, *copy = NULL;
	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "managedFields", NULL))
		return json_object_get(obj);
	if (json_object_deep_copy(obj, &copy, NULL) || !copy)
		return NULL;
	json_object_object_del(json_object_object_get(copy, "metadata"), "managedFields");
	return copy;
}

/* have ({name: child}) with every child through hook_view: have itself
 * (a new reference) when no child has managedFields. */
static struct json_object *map_view(struct json_object *have)
{
	bool any = false;
	json_object_object_foreach(have, name, child)
	{
		(void)name;
		struct json_object *meta = NULL;
		any = any ||
			(json_object_object_get_ex(child, "metadata", &meta) &&
			 json_object_object_get_ex(meta, "managedFields", NULL));
	}
	if (!any)
		return json_object_get(have);
	struct json_object *map = json_object_new_object();
	json_object_object_foreach(have, relname, obj)
	{
		if (map && !add(map, relname, hook_view(obj))) {
			json_object_put(map);
			map = NULL;
		}
	}
	return map;
}

/* observed's map of one kind re-keyed for a v2 hook, by the object alone
 * (metacontroller's qualifiedName): "namespace/name" when it has a
 * metadata.namespace, "name" when not (a cluster-scoped object). An entry
 * without metadata keeps its v1 key, qualified by the parent's namespace.
 * The objects are shared (through hook_view). The map in *out; -ENOMEM, or
 * -EINVAL when a key does not fit (err says which), with *out NULL. */
static int uniform_map(struct json_object *have, const char *parent_ns, const char *kind_key, struct json_object **out,
		       struct cx_err *err)
{
	*out = NULL;
	struct json_object *map = json_object_new_object();
	if (!map)
		return cx_err_set(err, -ENOMEM, "hook request: out of memory");
	json_object_object_foreach(have, relname, obj)
	{
		struct json_object *meta = NULL, *v = NULL;
		const char *ns = parent_ns, *name = relname;
		if (json_object_object_get_ex(obj, "metadata", &meta)) {
			ns = json_object_object_get_ex(meta, "namespace", &v) &&
					json_object_is_type(v, json_type_string)
				? json_object_get_string(v)
				: NULL;
			if (json_object_object_get_ex(meta, "name", &v) && json_object_is_type(v, json_type_string))
				name = json_object_get_string(v);
		}
		char key[CHILDKEY_MAX];
		if (!childkey_uniform_name(ns, name, key, sizeof(key))) {
			json_object_put(map);
			return cx_err_set(err, -EINVAL,
					  "hook request: children[\"%s\"]: namespace/name of \"%.100s\" is "
					  "too long",
					  kind_key, relname);
		}
		if (!add(map, key, hook_view(obj))) {
			json_object_put(map);
			return cx_err_set(err, -ENOMEM, "hook request: out of memory");
		}
	}
	*out = map;
	return 0;
}

int hook_request_new(struct json_object *controller, struct json_object *parent, const struct hook_child_kind *kinds,
		     size_t n_kinds, struct json_object *observed, bool finalizing, enum hook_version version,
		     struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	int rc = -ENOMEM;
	struct json_object *req = json_object_new_object(), *children = json_object_new_object();
	struct json_object *meta = NULL, *pns = NULL;
	const char *parent_ns = parent && json_object_object_get_ex(parent, "metadata", &meta) &&
			json_object_object_get_ex(meta, "namespace", &pns)
		? json_object_get_string(pns)
		: NULL;
	bool ok = req && children;
	for (size_t i = 0; ok && i < n_kinds; i++) {
		char key[CHILDKEY_KIND_MAX];
		if (!childkey_kind(kinds[i].kind, kinds[i].api_version, key, sizeof(key))) {
			rc = cx_err_set(err, -EINVAL,
					"hook request: child kind %.100s.%.100s has no key of at most %d bytes",
					kinds[i].kind ? kinds[i].kind : "?",
					kinds[i].api_version ? kinds[i].api_version : "?", CHILDKEY_KIND_MAX - 1);
			goto fail;
		}
		struct json_object *have = NULL, *map = NULL;
		if (observed && json_object_object_get_ex(observed, key, &have) && have) {
			if (!json_object_is_type(have, json_type_object)) {
				rc = cx_err_set(err, -EINVAL,
						"hook request: observed children[\"%s\"] is %s, expected an "
						"object of children by name",
						key, type_name(have));
				goto fail;
			}
			if (version == HOOK_V2 && (rc = uniform_map(have, parent_ns, key, &map, err)))
				goto fail;
			ok = add(children, key, map ? map : map_view(have));
		} else {
			ok = add(children, key, json_object_new_object());
		}
	}
	ok = ok && add(req, "controller", controller ? json_object_get(controller) : json_object_new_object());
	ok = ok && add(req, "parent", parent ? json_object_get(parent) : json_object_new_object());
	if (ok) {
		ok = add(req, "children", children);
		children = NULL;
	}
	/* metacontroller sends related always, keyed like children; without a
	 * customize hook it selects nothing. */
	ok = ok && add(req, "related", json_object_new_object());
	ok = ok && add(req, "finalizing", json_object_new_boolean(finalizing));
	if (!ok) {
		rc = cx_err_set(err, -ENOMEM, "hook request: out of memory");
		goto fail;
	}
	*out = req;
	return 0;
fail:
	json_object_put(children);
	json_object_put(req);
	return rc;
}

int hook_request_set_related(struct json_object *request, struct json_object *related, enum hook_version version,
			     struct cx_err *err)
{
	struct json_object *meta = NULL, *pns = NULL, *parent = NULL;
	/* A composite's request has a parent, a decorator's an object. */
	const char *parent_ns = (json_object_object_get_ex(request, "parent", &parent) ||
				 json_object_object_get_ex(request, "object", &parent)) &&
			json_object_object_get_ex(parent, "metadata", &meta) &&
			json_object_object_get_ex(meta, "namespace", &pns)
		? json_object_get_string(pns)
		: NULL;
	struct json_object *map = json_object_new_object();
	if (!map)
		return cx_err_set(err, -ENOMEM, "hook request: out of memory");
	if (related) {
		json_object_object_foreach(related, key, have)
		{
			struct json_object *m = NULL;
			if (!json_object_is_type(have, json_type_object)) {
				json_object_put(map);
				return cx_err_set(err, -EINVAL,
						  "hook request: related[\"%s\"] is %s, expected an "
						  "object of objects by name",
						  key, type_name(have));
			}
			int r = version == HOOK_V2 ? uniform_map(have, parent_ns, key, &m, err) : 0;
			if (r) {
				json_object_put(map);
				return r;
			}
			if (!add(map, key, m ? m : json_object_get(have))) {
				json_object_put(map);
				return cx_err_set(err, -ENOMEM, "hook request: out of memory");
			}
		}
	}
	if (!add(request, "related", map))
		return cx_err_set(err, -ENOMEM, "hook request: out of memory");
	return 0;
}

/* ---- checking the answer ---- */

/* A child's identity, for finding two of the same. */
struct child_id {
	size_t kind;             /* index in kinds[] */
	char name[CHILDKEY_MAX]; /* the relative name (childkey): "ns/name" under a cluster-scoped parent */
	size_t pos;              /* index in children */
};

static int child_id_cmp(const void *a, const void *b)
{
	const struct child_id *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* obj.key as a non-empty string in *out. Absent, null or "" is "missing";
 * another type is an error. path names obj for the message. */
static int child_string(const char *label, struct json_object *obj, const char *key, const char *path, const char **out,
			struct cx_err *err)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !v ||
	    (json_object_is_type(v, json_type_string) && !json_object_get_string_len(v)))
		return fail(err, -EPROTO, label, "%s.%s: missing", path, key);
	if (!json_object_is_type(v, json_type_string))
		return fail(err, -EPROTO, label, "%s.%s: expected a string, got %s", path, key, type_name(v));
	*out = json_object_get_string(v);
	return 0;
}

/* The declared kinds, "ConfigMap.v1, Deployment.apps/v1", for a message. */
static void declared_kinds(const struct hook_child_kind *kinds, size_t n_kinds, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n_kinds && used + 1 < len; i++) {
		char key[CHILDKEY_KIND_MAX];
		int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", kind_key(&kinds[i], key, sizeof(key)));
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Checks one child (children[i]); its kind's index in kinds[] goes to *kind. */
static int check_child(const char *label, struct json_object *child, size_t i, const struct hook_child_kind *kinds,
		       size_t n_kinds, const char *parent_namespace, struct child_id *id, struct cx_err *err)
{
	size_t *kind = &id->kind;
	const char *name_s = NULL, **name = &name_s;
	char path[64], buf[128], buf2[128];
	snprintf(path, sizeof(path), "children[%zu]", i);
	if (!json_object_is_type(child, json_type_object))
		return fail(err, -EPROTO, label, "%s: expected an object, got %s", path, type_name(child));
	const char *api_version = NULL, *kind_name = NULL, *ns = NULL;
	int rc;
	if ((rc = child_string(label, child, "apiVersion", path, &api_version, err)) ||
	    (rc = child_string(label, child, "kind", path, &kind_name, err)))
		return rc;
	struct json_object *meta = NULL, *v = NULL;
	if (!json_object_object_get_ex(child, "metadata", &meta) || !meta)
		return fail(err, -EPROTO, label, "%s.metadata.name: missing", path);
	if (!json_object_is_type(meta, json_type_object))
		return fail(err, -EPROTO, label, "%s.metadata: expected an object, got %s", path, type_name(meta));
	char meta_path[80];
	snprintf(meta_path, sizeof(meta_path), "%s.metadata", path);
	if ((rc = child_string(label, meta, "name", meta_path, name, err)))
		return rc;
	if (!k8sname_path_segment(*name))
		return fail(err, -EPROTO, label,
			    "%s.metadata.name: \"%s\" cannot be a name (the API refuses '/', "
			    "'%%', \".\" and \"..\")",
			    path, *name);
	if (json_object_object_get_ex(meta, "namespace", &v) && v) {
		if (!json_object_is_type(v, json_type_string))
			return fail(err, -EPROTO, label, "%s.metadata.namespace: expected a string, got %s", path,
				    type_name(v));
		ns = json_object_get_string(v);
		if (*ns && !k8sname_dns_label(ns))
			return fail(err, -EPROTO, label, "%s.metadata.namespace: \"%s\" is not a namespace name", path,
				    ns);
		if (*ns && parent_namespace && *parent_namespace && strcmp(ns, parent_namespace))
			return fail(err, -EPROTO, label,
				    "%s.metadata.namespace: \"%s\" is not the parent's namespace "
				    "\"%s\" (children live in their parent's namespace)",
				    path, clip(ns, buf, 100), clip(parent_namespace, buf2, 100));
	}
	/* Under a namespaced parent every child lands in its namespace, whatever
	 * the hook wrote; under a cluster-scoped one each names its own. */
	const char *effective_ns = parent_namespace && *parent_namespace ? parent_namespace : ns;
	if (!childkey_name(parent_namespace, effective_ns, *name, id->name, sizeof(id->name)))
		return fail(err, -EPROTO, label, "%s.metadata: namespace/name is too long", path);
	for (size_t k = 0; k < n_kinds; k++)
		if (kinds[k].api_version && kinds[k].kind && !strcmp(kinds[k].api_version, api_version) &&
		    !strcmp(kinds[k].kind, kind_name)) {
			/* What acts on the answer keys the child by its kind
			 * (worker/apply.h) and may count on the key fitting. */
			char whole[CHILDKEY_KIND_MAX];
			if (!childkey_kind(kind_name, api_version, whole, sizeof(whole)))
				return fail(err, -EPROTO, label,
					    "%s: %.100s.%.100s: kind and apiVersion are longer than "
					    "%d bytes",
					    path, kind_name, api_version, CHILDKEY_KIND_MAX - 2);
			*kind = k;
			return 0;
		}
	char declared[512], key[256];
	declared_kinds(kinds, n_kinds, declared, sizeof(declared));
	snprintf(key, sizeof(key), "%.100s.%.100s", kind_name, api_version);
	if (!n_kinds)
		return fail(err, -EPROTO, label, "%s: %s is not a child kind of this controller (it declares none)",
			    path, clip(key, buf, 100));
	return fail(err, -EPROTO, label, "%s: %s is not a child kind of this controller (it declares %s)", path,
		    clip(key, buf, 100), declared);
}

/* Two children of one kind with one name: the first such pair by the
 * position of the second. */
static int check_duplicates(const char *label, struct child_id *ids, size_t n, const struct hook_child_kind *kinds,
			    struct cx_err *err)
{
	if (n < 2)
		return 0;
	qsort(ids, n, sizeof(*ids), child_id_cmp);
	const struct child_id *first = NULL, *second = NULL;
	for (size_t i = 1; i < n; i++) {
		/* Sorted by position within a run of equals: ids[i-1] is the
		 * earliest when ids[i] starts a duplicate. */
		if (ids[i].kind != ids[i - 1].kind || strcmp(ids[i].name, ids[i - 1].name))
			continue;
		if (i >= 2 && ids[i - 2].kind == ids[i].kind && !strcmp(ids[i - 2].name, ids[i].name))
			continue;
		if (!second || ids[i].pos < second->pos) {
			first = &ids[i - 1];
			second = &ids[i];
		}
	}
	if (!second)
		return 0;
	char key[CHILDKEY_KIND_MAX], buf[128];
	return fail(err, -EPROTO, label, "children[%zu]: %s \"%s\" is returned twice (also children[%zu])", second->pos,
		    kind_key(&kinds[second->kind], key, sizeof(key)), clip(second->name, buf, 100), first->pos);
}

/* Parses body as exactly one JSON value; *root owned on success. Errors
 * give the byte offset, never the content. */
static int parse_json(const char *label, const char *body, size_t len, struct json_object **root, struct cx_err *err)
{
	*root = NULL;
	size_t start = 0;
	while (start < len && isspace((unsigned char)body[start]))
		start++;
	if (start == len)
		return fail(err, -EPROTO, label, "returned nothing (expected a JSON object)");
	if (len > (size_t)HOOK_RESPONSE_MAX)
		return fail(err, -EFBIG, label, "returned more than %d bytes", HOOK_RESPONSE_MAX);
	struct json_object *obj = NULL;
	char why[160];
	/* Strict: no trailing commas, leading zeros or trailing data. */
	struct jsondoc_options o = { .max_depth = JSON_DEPTH, .strict = true };
	int rc = jsondoc_parse(body, len, &o, &obj, why, sizeof(why));
	if (rc)
		return fail(err, rc == -ENOMEM ? -ENOMEM : -EPROTO, label, "%s", why);
	*root = obj;
	return 0;
}

/* The top-level fields of an answer (metacontroller's CompositeHookResponse). */
static const char *const ANSWER_FIELDS[] = { "status", "children", "resyncAfterSeconds", "finalized", NULL };

/* Strict mode: the first top-level field that is not one of ANSWER_FIELDS.
 * Names match exactly, as in metacontroller's decoder ("Children" is not
 * "children"). */
static int check_unknown_fields(const char *label, struct json_object *root, struct cx_err *err)
{
	json_object_object_foreach(root, key, v)
	{
		(void)v;
		size_t i = 0;
		while (ANSWER_FIELDS[i] && strcmp(ANSWER_FIELDS[i], key))
			i++;
		if (!ANSWER_FIELDS[i]) {
			char buf[128];
			return fail(err, -EPROTO, label,
				    "%s: unknown field (responseUnMarshallMode strict; expected "
				    "status, children, resyncAfterSeconds, finalized)",
				    clip(key, buf, 100));
		}
	}
	return 0;
}

/* Strict mode: a key repeated within one object of the answer (json-c
 * keeps the last one silently), at the top level or anywhere in status.
 * The children are objects of their own, read as metacontroller reads them
 * (it decodes them without the strict checks). */
static int check_repeated_keys(const char *label, const char *body, size_t len, struct cx_err *err)
{
	static const char *const skip[] = { "children", NULL };
	char path[256], key[128], buf[128];
	int rc = jsondup_find(body, len, skip, path, sizeof(path), key, sizeof(key));
	if (rc == -ENOMEM)
		return fail(err, -ENOMEM, label, "out of memory");
	if (rc != 1)
		return 0; /* invalid JSON was refused before */
	return fail(err, -EPROTO, label, "%s%s%s: repeated key (responseUnMarshallMode strict)", path, *path ? "." : "",
		    clip(key, buf, 100));
}

/* Whether answers of def are read strictly: responseUnMarshallMode strict,
 * or a v2 hook (metacontroller refuses unknown fields of a v2 answer
 * whatever the mode). */
static bool strict_of(const struct hook_def *def)
{
	return def->unmarshal == HOOK_STRICT || def->version == HOOK_V2;
}

static int parse_response(const char *label, bool strict, bool finalizing, const char *body, size_t len,
			  const struct hook_child_kind *kinds, size_t n_kinds, const char *parent_namespace,
			  struct hook_result *out, struct cx_err *err)
{
	out->status = out->children = NULL;
	out->children_given = false;
	out->resync_after_ms = 0;
	out->finalized = false;
	struct json_object *root = NULL, *status = NULL, *children = NULL, *v = NULL;
	int rc = parse_json(label, body, len, &root, err);
	if (rc)
		return rc;
	struct child_id *ids = NULL;
	if (!json_object_is_type(root, json_type_object)) {
		rc = fail(err, -EPROTO, label, "the answer is %s, expected a JSON object", type_name(root));
		goto out;
	}
	if (strict &&
	    ((rc = check_unknown_fields(label, root, err)) || (rc = check_repeated_keys(label, body, len, err))))
		goto out;
	/* No children key at all (a decorator-shaped answer, a hook that forgot
	 * it) is not "no children": pruning on it would delete everything. An
	 * explicit null is a Go hook's empty slice, and means none. A controller
	 * without child kinds has nothing to prune, and a finalize answer
	 * without it leaves the children alone. */
	bool given = json_object_object_get_ex(root, "children", NULL);
	if (!finalizing && n_kinds && !given) {
		rc = fail(err, -EPROTO, label,
			  "children: missing; a sync answer lists every child it wants, [] for "
			  "none (nothing is applied or pruned on an answer without it)");
		goto out;
	}
	if (json_object_object_get_ex(root, "status", &status) && status &&
	    !json_object_is_type(status, json_type_object)) {
		rc = fail(err, -EPROTO, label, "status: expected an object, got %s", type_name(status));
		goto out;
	}
	if (json_object_object_get_ex(root, "children", &children) && children &&
	    !json_object_is_type(children, json_type_array)) {
		rc = fail(err, -EPROTO, label, "children: expected a list, got %s", type_name(children));
		goto out;
	}
	size_t n = children ? json_object_array_length(children) : 0;
	if (n && !(ids = calloc(n, sizeof(*ids)))) {
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ids[i].pos = i;
		if ((rc = check_child(label, json_object_array_get_idx(children, i), i, kinds, n_kinds,
				      parent_namespace, &ids[i], err)))
			goto out;
	}
	if ((rc = check_duplicates(label, ids, n, kinds, err)))
		goto out;

	double resync = 0;
	if (json_object_object_get_ex(root, "resyncAfterSeconds", &v) && v) {
		bool number = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
		resync = number ? json_object_get_double(v) : -1;
		if (!number || !isfinite(resync) || resync < 0) {
			char buf[128];
			if (number)
				rc = fail(err, -EPROTO, label,
					  "resyncAfterSeconds: expected a non-negative number of "
					  "seconds, got %s",
					  clip(json_object_to_json_string(v), buf, 100));
			else
				rc = fail(err, -EPROTO, label,
					  "resyncAfterSeconds: expected a non-negative number of "
					  "seconds, got %s",
					  type_name(v));
			goto out;
		}
	}
	bool finalized = false;
	if (finalizing && json_object_object_get_ex(root, "finalized", &v) && v) {
		if (!json_object_is_type(v, json_type_boolean)) {
			rc = fail(err, -EPROTO, label, "finalized: expected true or false, got %s", type_name(v));
			goto out;
		}
		finalized = json_object_get_boolean(v);
	}

	out->children = children ? json_object_get(children) : json_object_new_array();
	if (!out->children) {
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	out->children_given = given;
	out->status = status ? json_object_get(status) : NULL;
	double ms = resync * 1000.0;
	out->resync_after_ms = (long long)(ms > RESYNC_MAX_MS ? RESYNC_MAX_MS : ms);
	out->finalized = finalized;
out:
	free(ids);
	json_object_put(root);
	return rc;
}

int hook_response_parse(const struct hook_def *def, bool finalizing, const char *body, size_t len,
			const struct hook_child_kind *kinds, size_t n_kinds, const char *parent_namespace,
			struct hook_result *out, struct cx_err *err)
{
	char label[NAME_MAX_SHOWN + 32];
	hook_label(def, finalizing, label, sizeof(label));
	return parse_response(label, strict_of(def), finalizing, body, len, kinds, n_kinds, parent_namespace, out, err);
}

void hook_result_clear(struct hook_result *r)
{
	json_object_put(r->status);
	json_object_put(r->children);
	memset(r, 0, sizeof(*r));
}

/* ---- exec hooks ---- */

/* Runs the command with the request on stdin; its stdout in r. Any
 * failure to run, exit code or signal is an error here; the answer is
 * checked by the caller. */
static int run_exec(const struct hook_def *def, const char *label, int timeout_ms, const char *req, size_t req_len,
		    struct subprocess_result *r, struct hook_stats *st, struct cx_err *err)
{
	st->exit_code = -1;
	if (!def->argv || !def->argv[0] || !*def->argv[0])
		return fail(err, -EINVAL, label, "exec hook without a command");
	char *program = NULL;
	int rc = subprocess_find_program(def->argv[0], &program, err);
	if (rc)
		return cx_err_wrap(err, rc, "%s: ", label);
	struct subprocess_spec spec = {
		.path = program,
		.argv = def->argv,
		.stdin_data = req,
		.stdin_len = req_len,
		.stdout_max = HOOK_RESPONSE_MAX,
		.stderr_tail = HOOK_STDERR_TAIL,
		.timeout_ms = timeout_ms,
	};
	rc = subprocess_run(&spec, r, err);
	free(program);
	if (rc)
		return cx_err_wrap(err, rc, "%s: ", label);
	st->duration_ms = r->duration_ms;
	st->user_cpu_ms = r->user_cpu_ms;
	st->sys_cpu_ms = r->sys_cpu_ms;
	st->max_rss_kib = r->max_rss_kib;
	st->exit_code = r->exited ? r->exit_code : -1;
	st->term_signal = r->signaled ? r->term_signal : 0;

	char buf[128];
	if (r->timed_out) {
		fail(err, -ETIMEDOUT, label, "exceeded its %s timeout and was killed",
		     seconds(timeout_ms, buf, sizeof(buf)));
		subprocess_err_add_stderr(err, r);
		return -ETIMEDOUT;
	}
	if (r->stdout_overflow)
		return fail(err, -EFBIG, label, "wrote more than %d bytes on stdout%s", HOOK_RESPONSE_MAX,
			    r->killed ? "; killed it" : "");
	if (r->signaled || r->exit_code != 0) {
		fail(err, -EIO, label, "%s", subprocess_describe_exit(r, buf, sizeof(buf)));
		if (!subprocess_err_add_stderr(err, r))
			append(err, " (nothing on stderr)");
		return -EIO;
	}
	return 0;
}

/* ---- persistent exec hooks and jq hooks: state kept per worker process ---- */

/* One hook's process or compiled program, by key (see state_key). */
struct hook_state {
	char *key;
	struct hookproc *proc;
	struct jqhook *jq;
};

static struct hook_state *states;
static size_t n_states;

/* What identifies a hook's state: controller, role, and the command (each
 * argument) or the program, joined with a byte no YAML string of a config
 * holds alone as a separator. Owned; NULL when out of memory. */
static char *state_key(const struct hook_def *def, const char *role)
{
	size_t len = strlen(def->controller ? def->controller : "") + strlen(role) + 8;
	if (def->type == HOOK_JQ)
		len += strlen(def->jq_program);
	for (size_t i = 0; def->type == HOOK_EXEC && def->argv[i]; i++)
		len += strlen(def->argv[i]) + 1;
	char *key = malloc(len);
	if (!key)
		return NULL;
	int n = snprintf(key, len, "%s\x1f%s\x1f%s", def->controller ? def->controller : "", role,
			 def->type == HOOK_JQ ? def->jq_program : "");
	for (size_t i = 0; def->type == HOOK_EXEC && def->argv[i] && n >= 0 && (size_t)n < len; i++)
		n += snprintf(key + n, len - (size_t)n, "%s\x1f", def->argv[i]);
	return key;
}

/* The state for key, made (empty) when there is none. NULL when out of memory. */
static struct hook_state *state_get(const struct hook_def *def, const char *role)
{
	char *key = state_key(def, role);
	if (!key)
		return NULL;
	for (size_t i = 0; i < n_states; i++) {
		if (!strcmp(states[i].key, key)) {
			free(key);
			return &states[i];
		}
	}
	/* At exit the processes are stopped and the programs freed: libjq's
	 * state holds its allocations through pointers LeakSanitizer does not
	 * follow, and a hook process is better stopped than orphaned. */
	static bool at_exit;
	if (!at_exit)
		at_exit = atexit(hook_reset) == 0;
	struct hook_state *grown = realloc(states, (n_states + 1) * sizeof(*states));
	if (!grown) {
		free(key);
		return NULL;
	}
	states = grown;
	states[n_states] = (struct hook_state){ .key = key };
	return &states[n_states++];
}

void hook_reset(void)
{
	for (size_t i = 0; i < n_states; i++) {
		hookproc_free(&states[i].proc);
		jqhook_free(&states[i].jq);
		free(states[i].key);
	}
	free(states);
	states = NULL;
	n_states = 0;
}

/* A persistent exec hook's call: the answer line in *body (owned). */
static int run_persistent(const struct hook_def *def, const char *role, const char *label, int timeout_ms,
			  const char *req, size_t req_len, char **body, size_t *len, struct hook_stats *st,
			  struct cx_err *err)
{
	st->exit_code = -1;
	if (!def->argv || !def->argv[0] || !*def->argv[0])
		return fail(err, -EINVAL, label, "exec hook without a command");
	struct hook_state *state = state_get(def, role);
	if (!state)
		return fail(err, -ENOMEM, label, "out of memory");
	if (!state->proc) {
		struct hookproc_options o = { .argv = def->argv,
					      .label = label,
					      .line_max = HOOK_RESPONSE_MAX,
					      .stderr_tail = HOOK_STDERR_TAIL };
		int r = hookproc_new(&o, &state->proc, err);
		if (r)
			return r;
	}
	struct hookproc_stats ps;
	int rc = hookproc_call(state->proc, req, req_len, timeout_ms, clock_monotonic_ms(), body, len, &ps, err);
	st->duration_ms = ps.duration_ms;
	st->exit_code = rc ? ps.exit_code : 0;
	st->term_signal = ps.term_signal;
	return rc;
}

/* A jq hook's call: its output in *body (owned). */
static int run_jq(const struct hook_def *def, const char *role, const char *label, int timeout_ms, const char *req,
		  size_t req_len, char **body, size_t *len, struct hook_stats *st, struct cx_err *err)
{
	if (!def->jq_program || !*def->jq_program)
		return fail(err, -EINVAL, label, "jq hook without a program");
	struct hook_state *state = state_get(def, role);
	if (!state)
		return fail(err, -ENOMEM, label, "out of memory");
	int r = state->jq ? 0 : jqhook_new(label, def->jq_program, &state->jq, err);
	if (r)
		return r;
	long long t0 = clock_monotonic_ms();
	int rc = jqhook_run(state->jq, req, req_len, timeout_ms, body, len, err);
	st->duration_ms = clock_monotonic_ms() - t0;
	return rc;
}

/* ---- webhooks ---- */

/* NO_PROXY as the environment has it, plus loopback: like Go's http
 * client (metacontroller's), a hook on this host is never reached through
 * a proxy. Owned. */
static char *no_proxy(void)
{
	const char *env = getenv("no_proxy");
	if (!env || !*env)
		env = getenv("NO_PROXY");
	char *s = NULL;
	if (asprintf(&s, "%s%slocalhost,127.0.0.1,::1", env && *env ? env : "", env && *env ? "," : "") < 0)
		return NULL;
	return s;
}

/* Up to ERROR_BODY_HEAD bytes of an error body, one line, not ending
 * inside a UTF-8 character, with "..." when there was more. */
static void body_head(const struct curlbuf *b, char *buf, size_t len)
{
	size_t n = b->len;
	bool more = n > ERROR_BODY_HEAD;
	if (more) {
		n = ERROR_BODY_HEAD;
		while (n > 0 && ((unsigned char)b->data[n] & 0xc0) == 0x80)
			n--;
	}
	size_t w = subprocess_one_line(b->data ? b->data : "", n, buf, len);
	if (more && w + 4 <= len)
		memcpy(buf + w, "...", 4);
}

/* ETag header values longer than this are not kept (no cache entry). */
#define ETAG_MAX 1024

/* The webhooks' open connections, TLS sessions and resolved names, kept
 * between calls: a call on a kept connection saves a TCP (and TLS)
 * handshake, and the hook server a new connection (often a new thread).
 * libcurl only reuses a connection whose host, port, CONNECT_TO and TLS
 * material all match. */
static CURLSH *conn_share;

/* The share every webhook call uses; NULL when out of memory (the call
 * then opens its own connection, as if none were kept). */
static CURLSH *webhook_share(void)
{
	if (conn_share)
		return conn_share;
	CURLSH *sh = curl_share_init();
	if (sh &&
	    (curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	     curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	     curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)) {
		curl_share_cleanup(sh);
		sh = NULL;
	}
	return conn_share = sh;
}

/* What one POST carries besides the request, and what it tells back. */
struct webhook_call {
	const struct webhookauth_material *mat; /* caBundle, client certificate, Authorization; or NULL */
	const char *if_none_match;              /* the ETag to send, or NULL */
	struct curl_slist *connect_to;          /* HOOK_CONNECT_TO_ENV's entries, or NULL */
	char etag[ETAG_MAX];                    /* out: the answer's ETag header, "" when none */
	bool auth_failed;                       /* out: TLS failed, or HTTP 401/403 */
};

/* Keeps the ETag header of the last response (a new status line starts
 * over, so an interim response's headers are not mixed in). */
static size_t header_cb(char *data, size_t size, size_t n, void *ud)
{
	struct webhook_call *call = ud;
	size_t len = size * n;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		call->etag[0] = '\0';
	} else if (len > 5 && !strncasecmp(data, "etag:", 5)) {
		const char *v = data + 5, *end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && isspace((unsigned char)end[-1]))
			end--;
		size_t vl = (size_t)(end - v);
		if (vl < sizeof(call->etag)) {
			memcpy(call->etag, v, vl);
			call->etag[vl] = '\0';
		} else {
			call->etag[0] = '\0';
		}
	}
	return len;
}

/* POSTs the request; the response body in b (2xx only, or 304 when
 * If-None-Match was sent: any other status is an error here). */
static int run_webhook(const struct hook_def *def, const char *label, int timeout_ms, const char *req, size_t req_len,
		       struct webhook_call *call, struct curlbuf *b, struct hook_stats *st, struct cx_err *err)
{
	if (!def->url || !*def->url)
		return fail(err, -EINVAL, label, "webhook without a url");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return fail(err, -ENOMEM, label, "cannot initialize libcurl");
	CURL *h = curl_easy_init();
	struct curl_slist *headers = NULL, *more;
	char errbuf[CURL_ERROR_SIZE] = "";
	char *np = no_proxy();
	char *hdr = NULL;
	int rc = 0;
	bool ok = h && np;
	const struct webhookauth_material *mat = call->mat;
	call->etag[0] = '\0';
	call->auth_failed = false;
#define ADD_HEADER(s) (ok = ok && (more = curl_slist_append(headers, s)) && (headers = more))
	ADD_HEADER("Content-Type: application/json");
	ADD_HEADER("Accept: application/json");
	ADD_HEADER("Expect:"); /* no 100-continue round trip for big requests */
	if (ok && call->if_none_match) {
		if (asprintf(&hdr, "If-None-Match: %s", call->if_none_match) < 0)
			hdr = NULL, ok = false;
		ADD_HEADER(hdr);
		free(hdr);
		hdr = NULL;
	}
	if (ok && mat && mat->authorization) {
		if (asprintf(&hdr, "Authorization: %s", mat->authorization) < 0)
			hdr = NULL, ok = false;
		ADD_HEADER(hdr);
		if (hdr) {
			explicit_bzero(hdr, strlen(hdr));
			free(hdr);
		}
		hdr = NULL;
	}
#undef ADD_HEADER
	CURLcode cc = ok ? CURLE_OK : CURLE_OUT_OF_MEMORY;
	CURLSH *share = webhook_share();
	if (!cc && share)
		cc = curl_easy_setopt(h, CURLOPT_SHARE, share);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, call);
	if (!cc && call->connect_to)
		cc = curl_easy_setopt(h, CURLOPT_CONNECT_TO, call->connect_to);
	if (!cc && mat && mat->ca) {
		/* The bundle is the only trust: no system roots besides it. */
		struct curl_blob blob = { .data = mat->ca, .len = mat->ca_len, .flags = CURL_BLOB_COPY };
		cc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}
	if (!cc && mat && mat->cert) {
		struct curl_blob cert = { .data = mat->cert, .len = mat->cert_len, .flags = CURL_BLOB_COPY };
		struct curl_blob key = { .data = mat->key, .len = mat->key_len, .flags = CURL_BLOB_COPY };
		cc = curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_URL, def->url);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_NOPROXY, np);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_POST, 1L);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req_len);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curlbuf_write);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	if (cc) {
		rc = fail(err, cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL, label, "cannot set up the request: %s",
			  curl_easy_strerror(cc));
		goto out;
	}

	int64_t t0 = clock_monotonic_ms();
	cc = curl_easy_perform(h);
	st->duration_ms = clock_monotonic_ms() - t0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st->http_status);
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	char buf[ERROR_BODY_HEAD + 8];
	enum curlbuf_failure f = curlbuf_failure_of(cc, b);
	int code = curlbuf_failure_errno(f);
	switch (f) {
	case CURLBUF_OK:
		break;
	case CURLBUF_TIMEOUT:
		rc = fail(err, code, label, "exceeded its %s timeout: %s", seconds(timeout_ms, buf, sizeof(buf)),
			  detail);
		goto out;
	case CURLBUF_CONNECT:
		rc = fail(err, code, label, "cannot connect: %s", detail);
		goto out;
	case CURLBUF_RESOLVE:
		rc = fail(err, code, label, "cannot resolve: %s", detail);
		goto out;
	case CURLBUF_TLS:
	case CURLBUF_SEVERED:
		/* A server that refuses the client certificate ends the TLS
		 * session, which libcurl may only see as a failed send or
		 * receive. */
		call->auth_failed = true;
		rc = fail(err, code, label, "%s: %s", f == CURLBUF_SEVERED ? "POST failed" : "TLS failed", detail);
		goto out;
	case CURLBUF_TOO_LARGE:
		rc = fail(err, code, label, "answered with more than %d bytes", HOOK_RESPONSE_MAX);
		goto out;
	case CURLBUF_NOMEM:
		rc = fail(err, code, label, "out of memory reading the answer");
		goto out;
	default: /* CURLBUF_OTHER; CURLBUF_INTERRUPTED needs a progress callback, which a hook call has none of */
		rc = fail(err, -EIO, label, "POST failed: %s", detail);
		goto out;
	}
	if (st->http_status == 401 || st->http_status == 403)
		call->auth_failed = true;
	if (st->http_status == 304 && call->if_none_match)
		goto out;
	if (st->http_status < 200 || st->http_status > 299) {
		if (b->len) {
			body_head(b, buf, sizeof(buf));
			rc = fail(err, -EIO, label, "returned HTTP %ld: %s", st->http_status, buf);
		} else {
			rc = fail(err, -EIO, label, "returned HTTP %ld (empty body)", st->http_status);
		}
	}
out:
	curl_slist_free_all(headers);
	if (h)
		curl_easy_cleanup(h);
	free(np);
	curl_global_cleanup();
	return rc;
}

/* ---- COXSWAIN_WEBHOOK_CONNECT_TO ---- */

/* A port field: empty, or 1..65535 in decimal. */
static bool port_ok(const char *s, size_t len)
{
	if (!len)
		return true;
	if (len > 5)
		return false;
	long v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* Checks one entry (len bytes at e): four fields split by ':' outside
 * brackets. */
static bool entry_ok(const char *e, size_t len, const char **why)
{
	const char *field[4];
	size_t flen[4], nf = 0;
	const char *start = e;
	bool bracket = false;
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? e[i] : ':';
		if (i < len && ch == '[')
			bracket = true;
		else if (i < len && ch == ']')
			bracket = false;
		else if (ch == ':' && !bracket) {
			if (nf == 4) {
				*why = "more than four fields";
				return false;
			}
			field[nf] = start;
			flen[nf++] = (size_t)(e + i - start);
			start = e + i + 1;
		}
	}
	if (nf != 4) {
		*why = "expected HOST:PORT:CONNECT_HOST:CONNECT_PORT";
		return false;
	}
	if (!port_ok(field[1], flen[1]) || !port_ok(field[3], flen[3])) {
		*why = "a port must be a number from 1 to 65535, or empty";
		return false;
	}
	if (!flen[2] && !flen[3]) {
		*why = "CONNECT_HOST and CONNECT_PORT are both empty (it reroutes nothing)";
		return false;
	}
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)e[i]) || iscntrl((unsigned char)e[i])) {
			*why = "white space inside an entry";
			return false;
		}
	return true;
}

/* Parses value into *out (a list for CURLOPT_CONNECT_TO; NULL for none). */
static int connect_to_parse(const char *value, struct curl_slist **out, struct cx_err *err)
{
	*out = NULL;
	if (!value)
		return 0;
	size_t idx = 0;
	for (const char *p = value; *p;) {
		size_t len = strcspn(p, ",");
		const char *e = p;
		size_t elen = len;
		while (elen && isspace((unsigned char)*e)) {
			e++;
			elen--;
		}
		while (elen && isspace((unsigned char)e[elen - 1]))
			elen--;
		idx++;
		if (elen) {
			const char *why = NULL;
			char buf[128];
			if (!entry_ok(e, elen, &why)) {
				curl_slist_free_all(*out);
				*out = NULL;
				subprocess_one_line(e, elen < 100 ? elen : 100, buf, sizeof(buf));
				return cx_err_set(err, -EINVAL, "%s: entry %zu \"%s\": %s", HOOK_CONNECT_TO_ENV, idx,
						  buf, why);
			}
			char *copy = strndup(e, elen);
			struct curl_slist *more = copy ? curl_slist_append(*out, copy) : NULL;
			free(copy);
			if (!more) {
				curl_slist_free_all(*out);
				*out = NULL;
				return cx_err_set(err, -ENOMEM, "%s: out of memory", HOOK_CONNECT_TO_ENV);
			}
			*out = more;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

int hook_connect_to_check(const char *value, struct cx_err *err)
{
	struct curl_slist *l = NULL;
	int rc = connect_to_parse(value, &l, err);
	curl_slist_free_all(l);
	return rc;
}

/* ---- metacontroller's webhook options ---- */

/* The worker's caches: one thread, one set. */
static struct webhookauth *auth_cache;
static struct etagcache *etag_cache;

void hook_webhook_reset(void)
{
	webhookauth_free(&auth_cache);
	etagcache_free(&etag_cache);
	if (conn_share)
		curl_share_cleanup(conn_share);
	conn_share = NULL;
}

/* Reads through def->kc; none is an error naming what was wanted. */
static int fetch_object(void *ud, const char *resource, const char *ns, const char *name, struct json_object **out,
			struct cx_err *err)
{
	if (!ud)
		return cx_err_set(err, -EINVAL, "no API client to read %s \"%s/%s\" with", resource, ns, name);
	return webhookauth_kclient_fetch(ud, resource, ns, name, out, err);
}

/* The TLS and authorization material of def (m zeroed when it has none).
 * *settings gets the settings used (to forget them on a failure). */
static int webhook_material(const struct hook_def *def, const char *label, struct webhookauth_material *m,
			    const struct mcdef_tls_auth **settings, struct cx_err *err)
{
	memset(m, 0, sizeof(*m));
	char where[64];
	*settings = webhookauth_select(def->mc, def->connections, def->n_connections, def->url, where, sizeof(where));
	if (!*settings)
		return 0;
	if (!auth_cache && !(auth_cache = webhookauth_new()))
		return fail(err, -ENOMEM, label, "out of memory");
	int rc = webhookauth_resolve(auth_cache, *settings, where, fetch_object, def->kc, clock_monotonic_ms(), m, err);
	if (rc)
		cx_err_prefix(err, "%s: controller \"%s\": ", label, def->controller ? def->controller : "?");
	return rc;
}

/* A metacontroller webhook's POST: its TLS and authorization material,
 * If-None-Match and the etag cache, and one retry with freshly read
 * Secrets when TLS or authorization failed and they changed (a rotated
 * Secret). The answer's body (the cached one on a 304) in *body and *len,
 * owned. */
static int call_webhook(const struct hook_def *def, const char *label, int timeout_ms, struct json_object *request,
			const char *req, size_t req_len, struct curl_slist *connect_to, char **body, size_t *len,
			struct hook_stats *st, struct cx_err *err)
{
	*body = NULL;
	*len = 0;
	struct webhookauth_material mat;
	const struct mcdef_tls_auth *settings = NULL;
	int rc = webhook_material(def, label, &mat, &settings, err);
	if (rc)
		return rc;
	const struct mcdef_webhook *mc = def->mc;
	bool etag_on = mc && mc->etag_enabled;
	char *key = NULL, inm[ETAG_MAX] = "";
	int64_t ttl_ms = etag_on ? (int64_t)mc->etag_cache_timeout_seconds * 1000 : 0;
	if (etag_on) {
		char scope[NAME_MAX_SHOWN + 300];
		snprintf(scope, sizeof(scope), "%s %s", def->controller ? def->controller : "", label);
		if (!(key = etagcache_key(scope, request, err))) {
			rc = cx_err_prefix(err, "%s: ", label);
			goto out;
		}
		if (!etag_cache && !(etag_cache = etagcache_new(0))) {
			rc = fail(err, -ENOMEM, label, "out of memory");
			goto out;
		}
		etagcache_sweep(etag_cache, (int64_t)mc->etag_cache_cleanup_seconds * 1000, clock_monotonic_ms());
		const struct etagcache_entry *e = etagcache_get(etag_cache, key, clock_monotonic_ms());
		if (e)
			snprintf(inm, sizeof(inm), "%s", e->etag);
	}
	struct webhook_call call = { .mat = &mat, .if_none_match = *inm ? inm : NULL, .connect_to = connect_to };
	struct curlbuf b = { .max = HOOK_RESPONSE_MAX };
	rc = run_webhook(def, label, timeout_ms, req, req_len, &call, &b, st, err);
	if (rc && call.auth_failed && mat.from_objects) {
		/* Read the Secrets again: when they changed, try once more. */
		struct webhookauth_material fresh;
		struct cx_err err2 = { 0 };
		webhookauth_forget(auth_cache, settings);
		if (!webhook_material(def, label, &fresh, &settings, &err2) &&
		    !webhookauth_material_equal(&mat, &fresh)) {
			webhookauth_material_clear(&mat);
			mat = fresh;
			free(b.data);
			b = (struct curlbuf){ .max = HOOK_RESPONSE_MAX };
			if (err)
				*err = (struct cx_err){ 0 };
			call.mat = &mat;
			rc = run_webhook(def, label, timeout_ms, req, req_len, &call, &b, st, err);
		} else {
			webhookauth_material_clear(&fresh);
		}
	}
	if (rc) {
		free(b.data);
		goto out;
	}
	if (st->http_status == 304) {
		/* Only with If-None-Match (run_webhook refuses it otherwise). */
		const struct etagcache_entry *e = etagcache_get(etag_cache, key, clock_monotonic_ms());
		free(b.data);
		if (!e) {
			rc = fail(err, -EIO, label, "returned HTTP 304 Not Modified but its cached answer expired");
			goto out;
		}
		if (!(*body = malloc(e->len + 1))) {
			rc = fail(err, -ENOMEM, label, "out of memory");
			goto out;
		}
		memcpy(*body, e->body, e->len + 1);
		*len = e->len;
		goto out;
	}
	if (etag_on && call.etag[0] &&
	    etagcache_put(etag_cache, key, call.etag, b.data ? b.data : "", b.len, ttl_ms, clock_monotonic_ms())) {
		free(b.data);
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	*body = b.data;
	*len = b.len;
out:
	webhookauth_material_clear(&mat);
	free(key);
	return rc;
}

/* ---- the call ---- */

static void log_run(const struct hook_def *def, const char *role, const struct hook_stats *st, int rc,
		    const struct cx_err *err)
{
	if (!log_enabled(LOG_LEVEL_INFO, 4))
		return;
	char name[NAME_MAX_SHOWN + 1], dur[32], user[32], sys[32], rss[32], code[32];
	hook_name(def, name, sizeof(name));
	snprintf(dur, sizeof(dur), "%lld", st->duration_ms);
	if (def->type == HOOK_EXEC) {
		snprintf(user, sizeof(user), "%lld", st->user_cpu_ms);
		snprintf(sys, sizeof(sys), "%lld", st->sys_cpu_ms);
		snprintf(rss, sizeof(rss), "%ld", st->max_rss_kib);
		snprintf(code, sizeof(code), "%d", st->exit_code);
		log_kv(LOG_LEVEL_INFO, 4, "hook called", "hook", name, "type", role, "duration_ms", dur, "cpu_user_ms",
		       user, "cpu_sys_ms", sys, "max_rss_kib", rss, "exit_code", code, "error",
		       rc && err ? err->msg : NULL, NULL);
	} else {
		snprintf(code, sizeof(code), "%ld", st->http_status);
		log_kv(LOG_LEVEL_INFO, 4, "hook called", "hook", name, "type", role, "duration_ms", dur, "http_status",
		       code, "error", rc && err ? err->msg : NULL, NULL);
	}
}

struct hook_def hook_def_from_config(struct kclient *c, const struct config_controller *cc, const struct config_hook *h)
{
	const struct mcdef_controller *mc = h->mc ? cc->mc : NULL;
	return (struct hook_def){ .type = h->jq_program ? HOOK_JQ
					  : h->url      ? HOOK_WEBHOOK
							: HOOK_EXEC,
				  .argv = h->command,
				  .url = h->url,
				  .persistent = h->persistent,
				  .jq_program = h->jq_program,
				  .timeout_ms = h->timeout_ms > 0 && h->timeout_ms <= INT_MAX
					  ? (int)h->timeout_ms
					  : h->timeout_seconds * 1000,
				  .name = NULL,
				  .version = h->version == CONFIG_HOOK_V2 ? HOOK_V2 : HOOK_V1,
				  .unmarshal = h->unmarshal == CONFIG_UNMARSHAL_STRICT ? HOOK_STRICT : HOOK_LOOSE,
				  .mc = h->mc,
				  .connections = mc ? mc->connections : NULL,
				  .n_connections = mc ? mc->n_connections : 0,
				  .kc = c,
				  .controller = cc->name };
}

/* How an answer's bytes become a result: parse_response or parse_decorator
 * with their arguments. */
struct answer_parser {
	int (*parse)(const struct answer_parser *p, const char *label, const char *body, size_t len,
		     struct cx_err *err);
	bool strict, finalizing;
	const struct hook_child_kind *kinds;
	size_t n_kinds;
	const char *ns;
	void *out;
	const char *role; /* for messages and logs; NULL: "sync" or "finalize" by finalizing */
};

/* Sends request to the hook of def (a process or a webhook), hands its
 * answer to p and logs the run. Both hook kinds, composite and decorator,
 * go through here, so every transport setting holds for both. */
static int exchange(const struct hook_def *def, bool finalizing, struct json_object *request,
		    const struct answer_parser *p, struct hook_stats *st, struct cx_err *err)
{
	char label[NAME_MAX_SHOWN + 32];
	const char *role = p->role ? p->role : finalizing ? "finalize" : "sync";
	hook_describe(def, role, label, sizeof(label));
	int timeout_ms = def->timeout_ms > 0 ? def->timeout_ms : HOOK_DEFAULT_TIMEOUT_MS;
	size_t req_len = 0;
	const char *req = request ? json_object_to_json_string_length(
					    request, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &req_len)
				  : NULL;
	if (!req)
		return fail(err, request ? -ENOMEM : -EINVAL, label, "no request to send");

	/* A persistent hook that exited between requests is reaped at the next
	 * hook call of any kind, not at its own next use. */
	for (size_t i = 0; i < n_states; i++)
		hookproc_reap(states[i].proc);
	int rc;
	if ((def->type == HOOK_EXEC && def->persistent) || def->type == HOOK_JQ) {
		char *body = NULL;
		size_t len = 0;
		rc = def->type == HOOK_JQ
			? run_jq(def, role, label, timeout_ms, req, req_len, &body, &len, st, err)
			: run_persistent(def, role, label, timeout_ms, req, req_len, &body, &len, st, err);
		if (!rc)
			rc = p->parse(p, label, body, len, err);
		free(body);
	} else if (def->type == HOOK_EXEC) {
		struct subprocess_result r;
		memset(&r, 0, sizeof(r));
		rc = run_exec(def, label, timeout_ms, req, req_len, &r, st, err);
		if (!rc) {
			rc = p->parse(p, label, r.out, r.out_len, err);
			/* Nothing on stdout: its stderr may say why. */
			size_t i = 0;
			while (i < r.out_len && isspace((unsigned char)r.out[i]))
				i++;
			if (rc == -EPROTO && i == r.out_len)
				subprocess_err_add_stderr(err, &r);
		}
		subprocess_result_clear(&r);
	} else if (def->type == HOOK_WEBHOOK) {
		struct curl_slist *connect_to = NULL;
		char *body = NULL;
		size_t len = 0;
		rc = connect_to_parse(getenv(HOOK_CONNECT_TO_ENV), &connect_to, err);
		if (rc)
			cx_err_prefix(err, "%s: ", label);
		else
			rc = call_webhook(def, label, timeout_ms, request, req, req_len, connect_to, &body, &len, st,
					  err);
		if (!rc)
			rc = p->parse(p, label, body ? body : "", len, err);
		free(body);
		curl_slist_free_all(connect_to);
	} else {
		rc = fail(err, -EINVAL, label, "unknown hook type %d", (int)def->type);
	}
	log_run(def, role, st, rc, err);
	return rc;
}

static int parse_composite(const struct answer_parser *p, const char *label, const char *body, size_t len,
			   struct cx_err *err)
{
	return parse_response(label, p->strict, p->finalizing, body, len, p->kinds, p->n_kinds, p->ns, p->out, err);
}

int hook_run(const struct hook_def *def, struct json_object *request, bool finalizing,
	     const struct hook_child_kind *kinds, size_t n_kinds, const char *parent_namespace, struct hook_result *out,
	     struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	struct answer_parser p = { .parse = parse_composite,
				   .strict = strict_of(def),
				   .finalizing = finalizing,
				   .kinds = kinds,
				   .n_kinds = n_kinds,
				   .ns = parent_namespace,
				   .out = out };
	return exchange(def, finalizing, request, &p, &out->stats, err);
}

/* ---- DecoratorController hooks ---- */

int hook_decorator_request_new(struct json_object *controller, struct json_object *object,
			       const struct hook_child_kind *kinds, size_t n_kinds, struct json_object *observed,
			       bool finalizing, enum hook_version version, struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	/* The composite request, renamed: whatever hook_request_new puts in
	 * children and related (keys, v1/v2, customize) holds for a decorator's
	 * attachments and related alike. */
	struct json_object *req = NULL;
	int rc = hook_request_new(controller, object, kinds, n_kinds, observed, finalizing, version, &req, err);
	if (rc)
		return rc;
	struct json_object *parent = NULL, *children = NULL;
	json_object_object_get_ex(req, "parent", &parent);
	json_object_object_get_ex(req, "children", &children);
	if (!add(req, "object", json_object_get(parent)) || !add(req, "attachments", json_object_get(children))) {
		json_object_put(req);
		return cx_err_set(err, -ENOMEM, "hook request: out of memory");
	}
	json_object_object_del(req, "parent");
	json_object_object_del(req, "children");
	*out = req;
	return 0;
}

/* The top-level fields of a decorator's answer (metacontroller's
 * DecoratorHookResponse). */
static const char *const DECORATOR_FIELDS[] = { "labels",      "annotations",        "status",
						"attachments", "resyncAfterSeconds", "finalized",
						NULL };

/* check_child's messages speak of children; a decorator's hook wrote
 * attachments. Rewrites the message in place. */
static void say_attachments(struct cx_err *err)
{
	static const struct {
		const char *from, *to;
	} words[] = {
		{ "children[", "attachments[" },
		{ "not a child kind", "not an attachment kind" },
		{ "not the parent's namespace", "not the object's namespace" },
		{ "children live in their parent's namespace", "attachments live in their object's namespace" },
	};
	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		char *at;
		while ((at = strstr(err->msg, words[w].from))) {
			char rest[sizeof(err->msg)];
			snprintf(rest, sizeof(rest), "%s", at + strlen(words[w].from));
			size_t head = (size_t)(at - err->msg);
			snprintf(at, sizeof(err->msg) - head, "%s%s", words[w].to, rest);
		}
	}
}

/* labels or annotations: absent or null (*out NULL), or an object whose
 * values are strings or null (*out a new reference). */
static int string_map(const char *label, struct json_object *root, const char *key, struct json_object **out,
		      struct cx_err *err)
{
	struct json_object *m = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(root, key, &m) || !m)
		return 0;
	if (!json_object_is_type(m, json_type_object))
		return fail(err, -EPROTO, label, "%s: expected an object of strings, got %s", key, type_name(m));
	json_object_object_foreach(m, k, v)
	{
		if (v && !json_object_is_type(v, json_type_string)) {
			char buf[128];
			return fail(err, -EPROTO, label, "%s.%s: expected a string or null, got %s", key,
				    clip(k, buf, 100), type_name(v));
		}
	}
	*out = json_object_get(m);
	return 0;
}

static int parse_decorator(const char *label, bool strict, bool finalizing, const char *body, size_t len,
			   const struct hook_child_kind *kinds, size_t n_kinds, const char *object_namespace,
			   struct hook_decorator_result *out, struct cx_err *err)
{
	struct hook_stats stats = out->stats;
	memset(out, 0, sizeof(*out));
	out->stats = stats;
	struct json_object *root = NULL, *status = NULL, *attachments = NULL, *labels = NULL, *annotations = NULL;
	int rc = parse_json(label, body, len, &root, err);
	if (rc)
		return rc;
	struct child_id *ids = NULL;
	if (!json_object_is_type(root, json_type_object)) {
		rc = fail(err, -EPROTO, label, "the answer is %s, expected a JSON object", type_name(root));
		goto out;
	}
	if (strict) {
		json_object_object_foreach(root, field, fv)
		{
			(void)fv;
			size_t i = 0;
			while (DECORATOR_FIELDS[i] && strcmp(DECORATOR_FIELDS[i], field))
				i++;
			if (!DECORATOR_FIELDS[i]) {
				char buf[128];
				rc = fail(err, -EPROTO, label,
					  "%s: unknown field (responseUnMarshallMode strict; "
					  "expected labels, annotations, status, attachments, resyncAfterSeconds, "
					  "finalized)",
					  clip(field, buf, 100));
				goto out;
			}
		}
		static const char *const skip[] = { "attachments", NULL };
		char path[256], key[128], buf[128];
		int dup = jsondup_find(body, len, skip, path, sizeof(path), key, sizeof(key));
		if (dup == -ENOMEM) {
			rc = fail(err, -ENOMEM, label, "out of memory");
			goto out;
		}
		if (dup == 1) {
			rc = fail(err, -EPROTO, label, "%s%s%s: repeated key (responseUnMarshallMode strict)", path,
				  *path ? "." : "", clip(key, buf, 100));
			goto out;
		}
	}
	if ((rc = string_map(label, root, "labels", &labels, err)) ||
	    (rc = string_map(label, root, "annotations", &annotations, err)))
		goto out;
	if (json_object_object_get_ex(root, "status", &status) && status &&
	    !json_object_is_type(status, json_type_object)) {
		rc = fail(err, -EPROTO, label, "status: expected an object, got %s", type_name(status));
		goto out;
	}
	bool given = json_object_object_get_ex(root, "attachments", &attachments);
	if (attachments && !json_object_is_type(attachments, json_type_array)) {
		rc = fail(err, -EPROTO, label, "attachments: expected a list, got %s", type_name(attachments));
		goto out;
	}
	size_t n = attachments ? json_object_array_length(attachments) : 0;
	if (n && !(ids = calloc(n, sizeof(*ids)))) {
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		ids[i].pos = i;
		rc = check_child(label, json_object_array_get_idx(attachments, i), i, kinds, n_kinds, object_namespace,
				 &ids[i], err);
	}
	if (rc || (rc = check_duplicates(label, ids, n, kinds, err))) {
		say_attachments(err);
		goto out;
	}
	/* resyncAfterSeconds and finalized: the composite's rules, read by the
	 * composite's parser on an answer holding just those two. */
	struct json_object *rest = json_object_new_object(), *v = NULL;
	if (!rest) {
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	if (json_object_object_get_ex(root, "resyncAfterSeconds", &v))
		json_object_object_add(rest, "resyncAfterSeconds", json_object_get(v));
	if (json_object_object_get_ex(root, "finalized", &v))
		json_object_object_add(rest, "finalized", json_object_get(v));
	size_t rest_len = 0;
	const char *rest_s = json_object_to_json_string_length(rest, JSON_C_TO_STRING_PLAIN, &rest_len);
	struct hook_result r = { 0 };
	rc = rest_s ? parse_response(label, false, finalizing, rest_s, rest_len, NULL, 0, NULL, &r, err)
		    : fail(err, -ENOMEM, label, "out of memory");
	json_object_put(rest);
	if (rc)
		goto out;
	out->resync_after_ms = r.resync_after_ms;
	out->finalized = r.finalized;
	hook_result_clear(&r);
	if (!(out->attachments = attachments ? json_object_get(attachments) : json_object_new_array())) {
		rc = fail(err, -ENOMEM, label, "out of memory");
		goto out;
	}
	out->attachments_given = given;
	out->status = status ? json_object_get(status) : NULL;
	out->labels = labels;
	out->annotations = annotations;
	labels = annotations = NULL;
out:
	json_object_put(labels);
	json_object_put(annotations);
	free(ids);
	json_object_put(root);
	return rc;
}

int hook_decorator_response_parse(const struct hook_def *def, bool finalizing, const char *body, size_t len,
				  const struct hook_child_kind *kinds, size_t n_kinds, const char *object_namespace,
				  struct hook_decorator_result *out, struct cx_err *err)
{
	char label[NAME_MAX_SHOWN + 32];
	hook_label(def, finalizing, label, sizeof(label));
	memset(out, 0, sizeof(*out));
	return parse_decorator(label, strict_of(def), finalizing, body, len, kinds, n_kinds, object_namespace, out,
			       err);
}

static int parse_decorator_answer(const struct answer_parser *p, const char *label, const char *body, size_t len,
				  struct cx_err *err)
{
	return parse_decorator(label, p->strict, p->finalizing, body, len, p->kinds, p->n_kinds, p->ns, p->out, err);
}

int hook_decorator_run(const struct hook_def *def, struct json_object *request, bool finalizing,
		       const struct hook_child_kind *kinds, size_t n_kinds, const char *object_namespace,
		       struct hook_decorator_result *out, struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	struct answer_parser p = { .parse = parse_decorator_answer,
				   .strict = strict_of(def),
				   .finalizing = finalizing,
				   .kinds = kinds,
				   .n_kinds = n_kinds,
				   .ns = object_namespace,
				   .out = out };
	return exchange(def, finalizing, request, &p, &out->stats, err);
}

void hook_decorator_result_clear(struct hook_decorator_result *r)
{
	json_object_put(r->labels);
	json_object_put(r->annotations);
	json_object_put(r->status);
	json_object_put(r->attachments);
	memset(r, 0, sizeof(*r));
}

void hook_describe(const struct hook_def *def, const char *role, char *buf, size_t len)
{
	char name[NAME_MAX_SHOWN + 1];
	hook_name(def, name, sizeof(name));
	snprintf(buf, len, "%s hook \"%s\"", role, name);
}

/* hook_call's parser: the answer as strict JSON, nothing more. */
static int parse_any(const struct answer_parser *p, const char *label, const char *body, size_t len, struct cx_err *err)
{
	return parse_json(label, body, len, (struct json_object **)p->out, err);
}

int hook_call(const struct hook_def *def, const char *role, struct json_object *request, struct json_object **answer,
	      struct hook_stats *stats, struct cx_err *err)
{
	struct hook_stats own;
	struct hook_stats *st = stats ? stats : &own;
	memset(st, 0, sizeof(*st));
	*answer = NULL;
	struct answer_parser p = { .parse = parse_any, .out = answer, .role = role };
	return exchange(def, false, request, &p, st, err);
}

#include "config.h"

#include "mcdef.h"
#include "err.h"
#include "k8sname.h"
#include "kobj.h"
#include "selector.h"
#include "yamlnode.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define KIND     "metacontroller manifest"
#define PATH_LEN 300

/* ---- Go durations ----------------------------------------------------------- */

/* The units of Go's time.ParseDuration, in nanoseconds. "µs" is U+00B5 (the
 * micro sign), "μs" U+03BC (the Greek letter); Go takes both. */
static const struct {
	const char *name;
	int64_t ns;
} duration_units[] = {
	{ "ns", 1 },       { "us", 1000 },        { "\xc2\xb5s", 1000 },        { "\xce\xbcs", 1000 },
	{ "ms", 1000000 }, { "s", 1000000000LL }, { "m", 60LL * 1000000000LL }, { "h", 3600LL * 1000000000LL },
};

/* Like Go: a sequence of decimal numbers, each with an optional fraction and
 * a unit ("1h2m3.5s"); "0" alone needs no unit. A leading '+' is allowed; a
 * '-' is refused, as a negative timeout means nothing here. */
int mcdef_parse_duration(const char *s, int64_t *ns)
{
	if (!s)
		return -EINVAL;
	if (*s == '+')
		s++;
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	uint64_t total = 0;
	while (*s) {
		uint64_t whole = 0;
		bool digits = false, overflow = false;
		for (; *s >= '0' && *s <= '9'; s++, digits = true) {
			if (whole > (UINT64_MAX - 9) / 10)
				overflow = true;
			else
				whole = whole * 10 + (uint64_t)(*s - '0');
		}
		double frac = 0, scale = 1;
		if (*s == '.') {
			for (s++; *s >= '0' && *s <= '9'; s++, digits = true) {
				if (scale < 1e18) {
					frac = frac * 10 + (*s - '0');
					scale *= 10;
				}
			}
		}
		if (!digits)
			return -EINVAL;
		size_t ulen = strcspn(s, "0123456789.");
		int64_t unit = 0;
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(*duration_units); i++)
			if (strlen(duration_units[i].name) == ulen && !strncmp(s, duration_units[i].name, ulen))
				unit = duration_units[i].ns;
		if (!unit)
			return -EINVAL;
		s += ulen;
		if (overflow || whole > (uint64_t)INT64_MAX / (uint64_t)unit)
			return -ERANGE;
		uint64_t part = whole * (uint64_t)unit;
		if (frac > 0) {
			double extra = frac * ((double)unit / scale);
			if (extra >= 9.3e18)
				return -ERANGE;
			part += (uint64_t)extra;
		}
		if (part > (uint64_t)INT64_MAX - total)
			return -ERANGE;
		total += part;
	}
	*ns = (int64_t)total;
	return 0;
}

/* ---- what valid values look like ------------------------------------------ */

/* A key of a Secret's or ConfigMap's data. */
static bool data_key(const char *s)
{
	size_t len = strlen(s);
	static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
	return len && len <= 253 && strspn(s, ok) == len && strcmp(s, ".") && strcmp(s, "..");
}

static bool no_space(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool http_url(const char *s)
{
	size_t skip = !strncmp(s, "http://", 7) ? 7 : !strncmp(s, "https://", 8) ? 8 : 0;
	return skip && s[skip] && s[skip] != '/' && no_space(s);
}

static bool url_path(const char *s)
{
	return s[0] == '/' && no_space(s);
}

/* "host" or "host:port", as spec.connections[].host matches a URL's. */
static bool host_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	if (!hlen || !no_space(s) || memchr(s, '/', strlen(s)) || memchr(s, '@', strlen(s)))
		return false;
	if (colon && s[0] != '[') {
		if (memchr(s, ':', hlen))
			return false;
	}
	if (!colon || (s[0] == '[' && s[strlen(s) - 1] == ']'))
		return true;
	size_t plen = strlen(colon + 1);
	if (!plen || plen > 5 || strspn(colon + 1, "0123456789") != plen)
		return false;
	long port = strtol(colon + 1, NULL, 10);
	return port >= 1 && port <= 65535;
}

/* "spec.template": dot-separated non-empty names. */
static bool field_path(const char *s)
{
	if (!*s || *s == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..") || !no_space(s))
		return false;
	return true;
}

static bool non_empty(const char *s)
{
	return *s != '\0';
}

static bool auth_type(const char *s)
{
	return *s && no_space(s);
}

static bool any_string(const char *s)
{
	(void)s;
	return true;
}

/* ---- scalars, typed as kubectl's YAML reader types them --------------------- */

enum stype { S_NULL, S_BOOL, S_INT, S_FLOAT, S_STRING };

/* The YAML 1.1 booleans that sigs.k8s.io/yaml (go-yaml v2) resolves. */
static const char *const yaml_true[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y" };
static const char *const yaml_false[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N" };

static bool one_of(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static bool is_int_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	size_t len = strlen(s);
	return len && strspn(s, "0123456789") == len && (s[0] != '0' || len == 1);
}

static bool is_float_text(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	size_t a = strspn(s, "0123456789");
	s += a;
	size_t b = 0;
	if (*s == '.') {
		s++;
		b = strspn(s, "0123456789");
		s += b;
	}
	if (!a && !b)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		size_t e = strspn(s, "0123456789");
		if (!e)
			return false;
		s += e;
	}
	return !*s;
}

static enum stype scalar_type(const yaml_node_t *n, bool *truth)
{
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return S_STRING;
	const char *s = yamlnode_scalar(n);
	if (yamlnode_is_null(n))
		return S_NULL;
	if (one_of(s, yaml_true, sizeof(yaml_true) / sizeof(*yaml_true))) {
		*truth = true;
		return S_BOOL;
	}
	if (one_of(s, yaml_false, sizeof(yaml_false) / sizeof(*yaml_false))) {
		*truth = false;
		return S_BOOL;
	}
	if (is_int_text(s))
		return S_INT;
	return is_float_text(s) ? S_FLOAT : S_STRING;
}

/* ---- messages ---------------------------------------------------------------- */

/* A user's text for a message: at most 60 bytes (cut before a UTF-8
 * continuation byte), control characters as '?'. */
static const char *show(char buf[80], const char *s)
{
	size_t n = 0;
	for (; s[n] && n < 60; n++)
		buf[n] = (unsigned char)s[n] < ' ' || s[n] == 0x7f ? '?' : s[n];
	if (s[n]) {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* What a node is, for "expected X, got Y": the quoted text of a string, the
 * text of a plain scalar, or the node's type. want is the type of scalar the
 * field takes: where it takes a string, a plain scalar YAML typed otherwise
 * gets a hint to quote it; where it takes a number or a boolean, a quoted one
 * gets a hint that quoting made it a string. */
static int fail_got_as(const struct yamlnode_src *y, const yaml_node_t *n, const char *where, const char *expect,
		       enum stype want)
{
	if (n->type != YAML_SCALAR_NODE)
		return yamlnode_fail(y, n, where, "expected %s, got %s", expect, yamlnode_type_name(n));
	char text[80];
	bool truth;
	enum stype got = scalar_type(n, &truth);
	show(text, yamlnode_scalar(n));
	if (got == S_NULL)
		return yamlnode_fail(y, n, where, "expected %s, got null", expect);
	if (got == S_STRING)
		return yamlnode_fail(y, n, where, "expected %s, got \"%s\"%s", expect, text,
				     want != S_STRING && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
					     ? " (quoted, so a string)"
					     : "");
	if (want != S_STRING)
		return yamlnode_fail(y, n, where, "expected %s, got %s", expect, text);
	return yamlnode_fail(y, n, where, "expected %s, got %s (a %s; quote it if it is meant as text)", expect, text,
			     got == S_BOOL ? "boolean" : "number");
}

static int fail_got(const struct yamlnode_src *y, const yaml_node_t *n, const char *where, const char *expect)
{
	return fail_got_as(y, n, where, expect, S_STRING);
}

static void join(char *buf, const char *where, const char *key)
{
	snprintf(buf, PATH_LEN, "%.200s%s%.64s", where, *where ? "." : "", key);
}

static void index_path(char *buf, const char *where, size_t i)
{
	snprintf(buf, PATH_LEN, "%.200s[%zu]", where, i);
}

/* ---- the document as JSON ------------------------------------------------------ */

/* Adds v to the object parent under key, or to the array parent when key is
 * NULL; consumes v. */
static int attach(const struct yamlnode_src *y, struct json_object *parent, const char *key, struct json_object *v)
{
	if (!(key ? json_object_object_add(parent, key, v) : json_object_array_add(parent, v)))
		return 0;
	json_object_put(v);
	return yamlnode_oom(y);
}

/* Converts node (at where) into *out, typing scalars as kubectl would. A
 * repeated key or a key that is not a scalar is an error here, for the whole
 * document: metadata and labels included. */
static int node_json(const struct yamlnode_src *y, const yaml_node_t *n, const char *where, struct json_object **out)
{
	char path[PATH_LEN];
	*out = NULL;
	if (n->type == YAML_MAPPING_NODE) {
		struct json_object *obj = json_object_new_object();
		if (!obj)
			return yamlnode_oom(y);
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
			int rc = 0;
			if (k->type != YAML_SCALAR_NODE) {
				rc = yamlnode_fail(y, k, *where ? where : "the document",
						   "expected a field name, got %s as a key", yamlnode_type_name(k));
			} else {
				char text[80];
				join(path, where, show(text, yamlnode_scalar(k)));
				const yaml_node_t *first = yamlnode_repeated(y, n, p);
				struct json_object *v = NULL;
				if (first)
					rc = yamlnode_fail(y, k, path,
							   "repeated key (first at line %zu); expected it once",
							   first->start_mark.line + 1);
				if (!rc)
					rc = node_json(y, yaml_document_get_node(y->doc, p->value), path, &v);
				if (!rc)
					rc = attach(y, obj, yamlnode_scalar(k), v);
			}
			if (rc) {
				json_object_put(obj);
				return rc;
			}
		}
		*out = obj;
		return 0;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		struct json_object *arr = json_object_new_array();
		if (!arr)
			return yamlnode_oom(y);
		int rc = 0;
		for (size_t i = 0; !rc && i < yamlnode_count(n); i++) {
			struct json_object *v = NULL;
			index_path(path, where, i);
			rc = node_json(y, yamlnode_item(y, n, i), path, &v);
			if (!rc)
				rc = attach(y, arr, NULL, v);
		}
		if (rc)
			json_object_put(arr);
		else
			*out = arr;
		return rc;
	}
	const char *s = yamlnode_scalar(n);
	bool truth = false;
	switch (scalar_type(n, &truth)) {
	case S_NULL:
		return 0; /* json-c's null is NULL */
	case S_BOOL:
		*out = json_object_new_boolean(truth);
		break;
	case S_INT: {
		errno = 0;
		long long v = strtoll(s, NULL, 10);
		*out = errno == ERANGE ? json_object_new_double(strtod(s, NULL)) : json_object_new_int64(v);
		break;
	}
	case S_FLOAT:
		*out = json_object_new_double(strtod(s, NULL));
		break;
	default:
		*out = json_object_new_string(s);
		break;
	}
	return *out ? 0 : yamlnode_oom(y);
}

/* ---- reading fields -------------------------------------------------------------- */

/* n must be a mapping whose keys are all in allowed (NULL-ended). */
static int check_keys(const struct yamlnode_src *y, const yaml_node_t *n, const char *where, const char *const *allowed,
		      const char *expect)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail_got(y, n, *where ? where : "the document", expect);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], yamlnode_scalar(k)))
			i++;
		if (allowed[i])
			continue;
		char list[400] = "", path[PATH_LEN], text[80];
		for (i = 0; allowed[i]; i++) {
			size_t used = strlen(list);
			snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", allowed[i]);
		}
		join(path, where, show(text, yamlnode_scalar(k)));
		return yamlnode_fail(y, k, path, "unknown field; expected one of: %s", list);
	}
	return 0;
}

/* The value of key in map, or NULL when absent or null (kubectl sends null,
 * metacontroller's Go types read it as absent). */
static yaml_node_t *field(const struct yamlnode_src *y, const yaml_node_t *map, const char *key)
{
	yaml_node_t *v = yamlnode_get(y, map, key);
	return v && !yamlnode_is_null(v) ? v : NULL;
}

static int missing(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key,
		   const char *expect)
{
	char path[PATH_LEN];
	join(path, where, key);
	return yamlnode_fail(y, map, path, "missing; expected %s", expect);
}

/* map.key as a string accepted by valid, into *slot (left NULL when absent
 * and not required). */
static int get_string(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key,
		      bool required, bool (*valid)(const char *), const char *expect, char **slot)
{
	yaml_node_t *v = field(y, map, key);
	if (!v)
		return required ? missing(y, map, where, key, expect) : 0;
	char path[PATH_LEN];
	join(path, where, key);
	bool truth;
	if (v->type != YAML_SCALAR_NODE || scalar_type(v, &truth) != S_STRING || !valid(yamlnode_scalar(v)))
		return fail_got(y, v, path, expect);
	return yamlnode_strdup(y, yamlnode_scalar(v), slot);
}

static int get_bool(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key, bool *has,
		    bool *slot)
{
	yaml_node_t *v = field(y, map, key);
	if (!v)
		return 0;
	char path[PATH_LEN];
	join(path, where, key);
	if (v->type != YAML_SCALAR_NODE || scalar_type(v, slot) != S_BOOL)
		return fail_got_as(y, v, path, "true or false", S_BOOL);
	*has = true;
	return 0;
}

static int get_int(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key, long min,
		   long max, const char *expect, bool *has, int *slot)
{
	yaml_node_t *v = field(y, map, key);
	if (!v)
		return 0;
	char path[PATH_LEN];
	join(path, where, key);
	bool truth;
	errno = 0;
	if (v->type != YAML_SCALAR_NODE || scalar_type(v, &truth) != S_INT)
		return fail_got_as(y, v, path, expect, S_INT);
	long long x = strtoll(yamlnode_scalar(v), NULL, 10);
	if (errno || x < min || x > max)
		return fail_got_as(y, v, path, expect, S_INT);
	*slot = (int)x;
	*has = true;
	return 0;
}

/* map.key as a list (NULL when absent); *n its length. */
static int get_list(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key,
		    const char *expect, yaml_node_t **list)
{
	*list = field(y, map, key);
	if (!*list || (*list)->type == YAML_SEQUENCE_NODE)
		return 0;
	char path[PATH_LEN];
	join(path, where, key);
	return fail_got(y, *list, path, expect);
}

/* A list of strings each accepted by valid. */
static int get_strings(const struct yamlnode_src *y, const yaml_node_t *list, const char *where,
		       bool (*valid)(const char *), const char *expect, char ***out, size_t *n)
{
	for (size_t i = 0; i < yamlnode_count(list); i++) {
		yaml_node_t *item = yamlnode_item(y, list, i);
		char path[PATH_LEN];
		index_path(path, where, i);
		bool truth;
		if (item->type != YAML_SCALAR_NODE || scalar_type(item, &truth) != S_STRING ||
		    !valid(yamlnode_scalar(item)))
			return fail_got(y, item, path, expect);
		int rc = yamlnode_push_string(y, out, n, yamlnode_scalar(item));
		if (rc)
			return rc;
	}
	return 0;
}

/* Grows *array (of *n entries of size bytes) by one zeroed entry. */
static void *grow(const struct yamlnode_src *y, void *array_ptr, size_t *n, size_t size, int *rc)
{
	void **array = array_ptr;
	char *bigger = realloc(*array, (*n + 1) * size);
	if (!bigger) {
		*rc = yamlnode_oom(y);
		return NULL;
	}
	memset(bigger + *n * size, 0, size);
	*array = bigger;
	return bigger + (*n)++ * size;
}

/* ---- the parts of a spec --------------------------------------------------------- */

#define EXPECT_API_VERSION "an apiVersion such as v1 or example.com/v1"
#define EXPECT_RESOURCE    "a resource name, lowercase and plural, such as pods or catsets"
#define EXPECT_LABEL_KEY   "a label key ([prefix/]name, name at most 63 letters, digits, '-', '_', '.')"
#define EXPECT_LABEL_VALUE "a label value (at most 63 letters, digits, '-', '_', '.'), as a string"
#define EXPECT_NAME        "a name (a DNS subdomain: lowercase letters, digits, '-' and '.')"
#define EXPECT_NAMESPACE   "a namespace name (a DNS label)"
#define EXPECT_DATA_KEY    "a key of the object's data (letters, digits, '-', '_', '.')"
#define EXPECT_METHOD      "OnDelete, Recreate, InPlace, RollingRecreate or RollingInPlace"
#define EXPECT_DURATION    "a positive Go duration such as 10s, 1m30s or 500ms"

static int parse_resource_rule(const struct yamlnode_src *y, const yaml_node_t *n, const char *where,
			       char **api_version_out, char **resource)
{
	int rc = get_string(y, n, where, "apiVersion", true, k8sname_api_version, EXPECT_API_VERSION, api_version_out);
	return rc ? rc : get_string(y, n, where, "resource", true, k8sname_dns_subdomain, EXPECT_RESOURCE, resource);
}

static const char *const op_names[] = {
	[SELECTOR_OP_IN] = "In",
	[SELECTOR_OP_NOT_IN] = "NotIn",
	[SELECTOR_OP_EXISTS] = "Exists",
	[SELECTOR_OP_DOES_NOT_EXIST] = "DoesNotExist",
};

/* A metav1.LabelSelectorRequirement, as LabelSelectorAsSelector checks it. */
static int parse_requirement(const struct yamlnode_src *y, const yaml_node_t *n, const char *where,
			     struct selector_requirement *r)
{
	static const char *const keys[] = { "key", "operator", "values", NULL };
	char *op = NULL;
	yaml_node_t *values;
	int rc = check_keys(y, n, where, keys, "a requirement {key, operator, values}");
	if (!rc)
		rc = get_string(y, n, where, "key", true, k8sname_label_key, EXPECT_LABEL_KEY, &r->key);
	if (!rc)
		rc = get_string(y, n, where, "operator", true, non_empty, "In, NotIn, Exists or DoesNotExist", &op);
	if (rc)
		return rc;
	size_t i = 0;
	while (i < 4 && strcmp(op, op_names[i]))
		i++;
	free(op);
	char path[PATH_LEN];
	if (i == 4) {
		join(path, where, "operator");
		return fail_got(y, field(y, n, "operator"), path, "In, NotIn, Exists or DoesNotExist");
	}
	r->op = (enum selector_op)i;
	join(path, where, "values");
	rc = get_list(y, n, where, "values", "a list of label values", &values);
	if (!rc && values) {
		r->has_values = true;
		rc = get_strings(y, values, path, k8sname_label_value, EXPECT_LABEL_VALUE, &r->values, &r->n_values);
	}
	if (rc)
		return rc;
	bool set_op = r->op == SELECTOR_OP_IN || r->op == SELECTOR_OP_NOT_IN;
	if (set_op && !r->n_values)
		return yamlnode_fail(y, values ? values : n, path, "expected at least one value for operator %s",
				     op_names[r->op]);
	if (!set_op && r->n_values)
		return yamlnode_fail(y, values, path, "expected no values for operator %s", op_names[r->op]);
	return 0;
}

/* labelSelector {matchLabels, matchExpressions}, or annotationSelector
 * {matchAnnotations, matchExpressions} when match_key says so. */
static int parse_selector(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key,
			  const char *match_key, struct selector *sel)
{
	yaml_node_t *n = field(y, map, key);
	if (!n)
		return 0;
	char at[PATH_LEN], path[PATH_LEN];
	join(at, where, key);
	const char *const keys[] = { match_key, "matchExpressions", NULL };
	char expect[80];
	snprintf(expect, sizeof(expect), "a selector {%s, matchExpressions}", match_key);
	int rc = check_keys(y, n, at, keys, expect);
	if (rc)
		return rc;
	sel->set = true;
	yaml_node_t *match = field(y, n, match_key);
	join(path, at, match_key);
	if (match && match->type != YAML_MAPPING_NODE)
		return fail_got(y, match, path, "a mapping of keys to values");
	for (yaml_node_pair_t *p = match ? match->data.mapping.pairs.start : NULL;
	     match && p < match->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, p->key), *v = yaml_document_get_node(y->doc, p->value);
		char kpath[PATH_LEN], text[80];
		join(kpath, path, show(text, yamlnode_scalar(k)));
		if (!k8sname_label_key(yamlnode_scalar(k)))
			return yamlnode_fail(y, k, kpath, "expected %s", EXPECT_LABEL_KEY);
		bool truth;
		if (v->type != YAML_SCALAR_NODE || scalar_type(v, &truth) != S_STRING ||
		    !k8sname_label_value(yamlnode_scalar(v)))
			return fail_got(y, v, kpath, EXPECT_LABEL_VALUE);
		size_t nv = sel->n_match;
		rc = yamlnode_push_string(y, &sel->match_keys, &sel->n_match, yamlnode_scalar(k));
		if (!rc)
			rc = yamlnode_push_string(y, &sel->match_values, &nv, yamlnode_scalar(v));
		if (rc)
			return rc;
	}
	sel->has_match = match != NULL;
	yaml_node_t *exprs;
	rc = get_list(y, n, at, "matchExpressions", "a list of requirements {key, operator, values}", &exprs);
	sel->has_exprs = exprs != NULL;
	join(path, at, "matchExpressions");
	for (size_t i = 0; !rc && exprs && i < yamlnode_count(exprs); i++) {
		char ipath[PATH_LEN];
		index_path(ipath, path, i);
		struct selector_requirement *r = grow(y, &sel->exprs, &sel->n_exprs, sizeof(*r), &rc);
		if (r)
			rc = parse_requirement(y, yamlnode_item(y, exprs, i), ipath, r);
	}
	return rc;
}

/* secretRef / configMapRef: name and namespace required; key as the type has
 * it (with_key: allowed; key_required: must be there). */
static int parse_ref(const struct yamlnode_src *y, const yaml_node_t *map, const char *where, const char *key,
		     bool required, bool with_key, bool key_required, struct mcdef_ref *ref, bool *present)
{
	yaml_node_t *n = field(y, map, key);
	if (!n)
		return required ? missing(y, map, where, key, "{name, namespace}") : 0;
	char at[PATH_LEN];
	join(at, where, key);
	static const char *const with[] = { "name", "namespace", "key", NULL };
	static const char *const without[] = { "name", "namespace", NULL };
	int rc = check_keys(y, n, at, with_key ? with : without,
			    with_key ? "a reference {name, namespace, key}" : "a reference {name, namespace}");
	if (!rc)
		rc = get_string(y, n, at, "name", true, k8sname_dns_subdomain, EXPECT_NAME, &ref->name);
	if (!rc)
		rc = get_string(y, n, at, "namespace", true, k8sname_dns_label, EXPECT_NAMESPACE, &ref->namespace);
	if (!rc && with_key)
		rc = get_string(y, n, at, "key", key_required, data_key, EXPECT_DATA_KEY, &ref->key);
	if (!rc && present)
		*present = true;
	return rc;
}

/* caBundle, clientTLS, authorization, basicAuth of a webhook or a
 * connection, checked as metacontroller resolves them. */
static int parse_tls_auth(const struct yamlnode_src *y, const yaml_node_t *map, const char *where,
			  struct mcdef_tls_auth *a)
{
	char at[PATH_LEN];
	int rc = 0;
	yaml_node_t *ca = field(y, map, "caBundle");
	if (ca) {
		static const char *const keys[] = { "inline", "secretRef", "configMapRef", NULL };
		join(at, where, "caBundle");
		rc = check_keys(y, ca, at, keys, "{inline} or {secretRef} or {configMapRef}");
		int sources = !!field(y, ca, "inline") + !!field(y, ca, "secretRef") + !!field(y, ca, "configMapRef");
		if (!rc && sources != 1)
			rc = yamlnode_fail(y, ca, at, "%s; expected exactly one of inline, secretRef and configMapRef",
					   sources ? "more than one source" : "no source");
		if (!rc && field(y, ca, "inline")) {
			a->ca = MCDEF_CA_INLINE;
			rc = get_string(y, ca, at, "inline", true, non_empty, "PEM-encoded CA certificates",
					&a->ca_inline);
			if (!rc && !strstr(a->ca_inline, "-----BEGIN CERTIFICATE-----")) {
				char path[PATH_LEN];
				join(path, at, "inline");
				rc = yamlnode_fail(y, field(y, ca, "inline"), path,
						   "expected PEM-encoded CA "
						   "certificates (-----BEGIN CERTIFICATE-----)");
			}
		} else if (!rc) {
			bool secret = field(y, ca, "secretRef") != NULL;
			a->ca = secret ? MCDEF_CA_SECRET : MCDEF_CA_CONFIGMAP;
			rc = parse_ref(y, ca, at, secret ? "secretRef" : "configMapRef", true, true, false, &a->ca_ref,
				       NULL);
		}
	}
	yaml_node_t *tls = rc ? NULL : field(y, map, "clientTLS");
	if (tls) {
		static const char *const keys[] = { "secretRef", "certKey", "privateKeyKey", NULL };
		join(at, where, "clientTLS");
		rc = check_keys(y, tls, at, keys, "{secretRef, certKey, privateKeyKey}");
		if (!rc)
			rc = parse_ref(y, tls, at, "secretRef", true, false, false, &a->client_tls_secret,
				       &a->has_client_tls);
		if (!rc)
			rc = get_string(y, tls, at, "certKey", false, data_key, EXPECT_DATA_KEY, &a->cert_key);
		if (!rc)
			rc = get_string(y, tls, at, "privateKeyKey", false, data_key, EXPECT_DATA_KEY,
					&a->private_key_key);
	}
	yaml_node_t *authz = rc ? NULL : field(y, map, "authorization");
	if (authz) {
		static const char *const keys[] = { "type", "secretRef", NULL };
		join(at, where, "authorization");
		rc = check_keys(y, authz, at, keys, "{type, secretRef}");
		if (!rc)
			rc = get_string(y, authz, at, "type", false, auth_type, "a scheme such as Bearer or Token",
					&a->auth_type);
		if (!rc && a->auth_type && !strcasecmp(a->auth_type, "Basic")) {
			char path[PATH_LEN];
			join(path, at, "type");
			rc = yamlnode_fail(y, field(y, authz, "type"), path,
					   "Basic is not supported here (as in metacontroller); use basicAuth instead");
		}
		if (!rc)
			rc = parse_ref(y, authz, at, "secretRef", true, true, true, &a->auth_secret,
				       &a->has_authorization);
	}
	yaml_node_t *basic = rc ? NULL : field(y, map, "basicAuth");
	if (basic) {
		static const char *const keys[] = { "secretRef", "usernameKey", "passwordKey", NULL };
		join(at, where, "basicAuth");
		rc = check_keys(y, basic, at, keys, "{secretRef, usernameKey, passwordKey}");
		if (!rc && authz)
			rc = yamlnode_fail(y, basic, at, "authorization is set too; expected at most one of them");
		if (!rc)
			rc = parse_ref(y, basic, at, "secretRef", true, false, false, &a->basic_secret,
				       &a->has_basic_auth);
		if (!rc)
			rc = get_string(y, basic, at, "usernameKey", false, data_key, EXPECT_DATA_KEY,
					&a->username_key);
		if (!rc)
			rc = get_string(y, basic, at, "passwordKey", false, data_key, EXPECT_DATA_KEY,
					&a->password_key);
	}
	return rc;
}

static int parse_webhook(const struct yamlnode_src *y, const yaml_node_t *n, const char *where, struct mcdef_webhook *w,
			 int version)
{
	static const char *const keys[] = { "url",       "timeout",   "etag",
					    "path",      "service",   "responseUnMarshallMode",
					    "caBundle",  "clientTLS", "authorization",
					    "basicAuth", NULL };
	char at[PATH_LEN];
	int rc = check_keys(y, n, where, keys, "a webhook {url, ...} or {service, path, ...}");
	if (!rc)
		rc = get_string(y, n, where, "url", false, http_url, "an http:// or https:// URL", &w->url);
	if (!rc)
		rc = get_string(y, n, where, "path", false, url_path, "a URL path starting with /", &w->path);
	yaml_node_t *svc = rc ? NULL : field(y, n, "service");
	if (svc) {
		static const char *const skeys[] = { "name", "namespace", "port", "protocol", NULL };
		join(at, where, "service");
		rc = check_keys(y, svc, at, skeys, "a service {name, namespace, port, protocol}");
		if (!rc)
			rc = get_string(y, svc, at, "name", true, k8sname_dns_label, "a Service name (a DNS label)",
					&w->service_name);
		if (!rc)
			rc = get_string(y, svc, at, "namespace", true, k8sname_dns_label, EXPECT_NAMESPACE,
					&w->service_namespace);
		if (!rc)
			rc = get_int(y, svc, at, "port", 1, 65535, "a port from 1 to 65535", &w->has_service_port,
				     &w->service_port);
		if (!rc)
			rc = get_string(y, svc, at, "protocol", false, non_empty, "http or https",
					&w->service_protocol);
		if (!rc && w->service_protocol && strcmp(w->service_protocol, "http") &&
		    strcmp(w->service_protocol, "https")) {
			char path[PATH_LEN];
			join(path, at, "protocol");
			rc = fail_got(y, field(y, svc, "protocol"), path, "http or https");
		}
		w->has_service = true;
	}
	if (!rc && !w->url && !(svc && w->path)) {
		if (svc)
			rc = missing(y, n, where, "path", "a URL path starting with / (service needs one)");
		else
			rc = yamlnode_fail(y, n, where,
					   "neither url nor service and path; expected {url: http(s)://...} "
					   "or {service: {name, namespace}, path: /...}");
	}
	if (!rc)
		rc = get_string(y, n, where, "timeout", false, non_empty, EXPECT_DURATION, &w->timeout);
	w->timeout_ns = MCDEF_DEFAULT_TIMEOUT_NS;
	if (!rc && w->timeout) {
		int d = mcdef_parse_duration(w->timeout, &w->timeout_ns);
		if (d || w->timeout_ns <= 0) {
			join(at, where, "timeout");
			rc = fail_got(y, field(y, n, "timeout"), at,
				      d == -ERANGE ? "a Go duration below 2562047h" : EXPECT_DURATION);
		}
	}
	yaml_node_t *etag = rc ? NULL : field(y, n, "etag");
	if (etag) {
		static const char *const ekeys[] = { "enabled", "cacheTimeoutSeconds", "cacheCleanupSeconds", NULL };
		join(at, where, "etag");
		w->has_etag = true;
		rc = check_keys(y, etag, at, ekeys, "{enabled, cacheTimeoutSeconds, cacheCleanupSeconds}");
		if (!rc)
			rc = get_bool(y, etag, at, "enabled", &w->has_etag_enabled, &w->etag_enabled);
		if (!rc)
			rc = get_int(y, etag, at, "cacheTimeoutSeconds", 0, INT32_MAX, "an integer >= 0 (seconds)",
				     &w->has_etag_cache_timeout, &w->etag_cache_timeout_seconds);
		if (!rc)
			rc = get_int(y, etag, at, "cacheCleanupSeconds", 0, INT32_MAX, "an integer >= 0 (seconds)",
				     &w->has_etag_cache_cleanup, &w->etag_cache_cleanup_seconds);
	}
	char *mode = NULL;
	if (!rc)
		rc = get_string(y, n, where, "responseUnMarshallMode", false, non_empty, "loose or strict", &mode);
	w->strict = version == 2;
	if (!rc && mode) {
		w->has_unmarshal_mode = true;
		w->strict = !strcmp(mode, "strict");
		if (!w->strict && strcmp(mode, "loose")) {
			join(at, where, "responseUnMarshallMode");
			rc = fail_got(y, field(y, n, "responseUnMarshallMode"), at, "loose or strict");
		}
	}
	free(mode);
	if (!rc)
		rc = parse_tls_auth(y, n, where, &w->auth);
	if (rc)
		return rc;
	char url[1024];
	if (w->url)
		snprintf(url, sizeof(url), "%s", w->url);
	else
		snprintf(url, sizeof(url), "%s://%s.%s:%d%s", w->service_protocol ? w->service_protocol : "http",
			 w->service_name, w->service_namespace,
			 w->has_service_port ? w->service_port : MCDEF_DEFAULT_SERVICE_PORT, w->path);
	return yamlnode_strdup(y, url, &w->effective_url);
}

static int parse_hook(const struct yamlnode_src *y, const yaml_node_t *hooks, const char *where, const char *key,
		      bool required, struct mcdef_hook *h)
{
	yaml_node_t *n = field(y, hooks, key);
	if (!n)
		return required ? missing(y, hooks, where, key, "a hook {version, webhook}") : 0;
	static const char *const keys[] = { "version", "webhook", NULL };
	char at[PATH_LEN], path[PATH_LEN];
	join(at, where, key);
	char *version = NULL;
	int rc = check_keys(y, n, at, keys, "a hook {version, webhook}");
	if (!rc)
		rc = get_string(y, n, at, "version", false, non_empty, "v1 or v2", &version);
	h->version = 1;
	if (!rc && version) {
		h->has_version = true;
		h->version = !strcmp(version, "v2") ? 2 : 1;
		if (strcmp(version, "v1") && strcmp(version, "v2")) {
			join(path, at, "version");
			rc = fail_got(y, field(y, n, "version"), path, "v1 or v2");
		}
	}
	free(version);
	yaml_node_t *webhook = rc ? NULL : field(y, n, "webhook");
	if (!rc && !webhook)
		rc = missing(y, n, at, "webhook",
			     "a webhook {url, ...} or {service, path, ...} (the only kind of hook "
			     "metacontroller has)");
	join(path, at, "webhook");
	if (!rc)
		rc = parse_webhook(y, webhook, path, &h->webhook, h->version);
	h->set = true;
	return rc;
}

static int parse_hooks(const struct yamlnode_src *y, const yaml_node_t *spec, bool composite, struct mcdef_hooks *h)
{
	static const char *const ckeys[] = {
		"sync", "finalize", "customize", "preUpdateChild", "postUpdateChild", NULL
	};
	static const char *const dkeys[] = { "sync", "finalize", "customize", NULL };
	yaml_node_t *n = field(y, spec, "hooks");
	if (!n)
		return missing(y, spec, "spec", "hooks",
			       "{sync, finalize, customize} (metacontroller fails every sync "
			       "without a sync hook)");
	int rc = check_keys(y, n, "spec.hooks", composite ? ckeys : dkeys, "{sync, finalize, customize}");
	if (!rc)
		rc = parse_hook(y, n, "spec.hooks", "sync", true, &h->sync);
	if (!rc)
		rc = parse_hook(y, n, "spec.hooks", "finalize", false, &h->finalize);
	if (!rc)
		rc = parse_hook(y, n, "spec.hooks", "customize", false, &h->customize);
	if (!rc && composite)
		rc = parse_hook(y, n, "spec.hooks", "preUpdateChild", false, &h->pre_update_child);
	if (!rc && composite)
		rc = parse_hook(y, n, "spec.hooks", "postUpdateChild", false, &h->post_update_child);
	return rc;
}

static int parse_connections(const struct yamlnode_src *y, const yaml_node_t *spec, struct mcdef_controller *c)
{
	yaml_node_t *list;
	int rc = get_list(y, spec, "spec", "connections", "a list of connections {host, ...}", &list);
	c->has_connections = list != NULL;
	for (size_t i = 0; !rc && list && i < yamlnode_count(list); i++) {
		static const char *const keys[] = {
			"host", "caBundle", "clientTLS", "authorization", "basicAuth", NULL
		};
		yaml_node_t *item = yamlnode_item(y, list, i);
		char at[PATH_LEN];
		index_path(at, "spec.connections", i);
		struct mcdef_connection *conn = grow(y, &c->connections, &c->n_connections, sizeof(*conn), &rc);
		if (conn)
			rc = check_keys(y, item, at, keys,
					"a connection {host, caBundle, clientTLS, authorization, basicAuth}");
		if (!rc)
			rc = get_string(y, item, at, "host", true, host_port, "a host or host:port", &conn->host);
		for (size_t j = 0; !rc && j < i; j++) {
			if (!strcasecmp(c->connections[j].host, conn->host)) {
				char path[PATH_LEN];
				join(path, at, "host");
				rc = yamlnode_fail(y, field(y, item, "host"), path,
						   "host %s is listed twice (also "
						   "spec.connections[%zu]); expected each host once",
						   conn->host, j);
			}
		}
		if (!rc)
			rc = parse_tls_auth(y, item, at, &conn->auth);
	}
	return rc;
}

static const char *const method_names[] = {
	[MCDEF_ONDELETE] = "OnDelete",
	[MCDEF_RECREATE] = "Recreate",
	[MCDEF_INPLACE] = "InPlace",
	[MCDEF_ROLLING_RECREATE] = "RollingRecreate",
	[MCDEF_ROLLING_INPLACE] = "RollingInPlace",
};

const char *mcdef_method_name(enum mcdef_method m)
{
	return (size_t)m < sizeof(method_names) / sizeof(*method_names) ? method_names[m] : "unknown";
}

/* childResources[] (with_checks) or attachments[]: a resource rule and an
 * updateStrategy; no two entries with the same apiVersion and resource
 * (metacontroller keys them by group and kind, so one would hide the other). */
static int parse_children(const struct yamlnode_src *y, const yaml_node_t *spec, const char *key, bool with_checks,
			  struct mcdef_child **out, size_t *n, bool *has)
{
	char where[PATH_LEN];
	join(where, "spec", key);
	yaml_node_t *list;
	int rc = get_list(y, spec, "spec", key, "a list of resource rules {apiVersion, resource, updateStrategy}",
			  &list);
	*has = list != NULL;
	static const char *const keys[] = { "apiVersion", "resource", "updateStrategy", NULL };
	static const char *const ckeys[] = { "method", "statusChecks", NULL };
	static const char *const akeys[] = { "method", NULL };
	for (size_t i = 0; !rc && list && i < yamlnode_count(list); i++) {
		yaml_node_t *item = yamlnode_item(y, list, i);
		char at[PATH_LEN], us[PATH_LEN], path[PATH_LEN];
		index_path(at, where, i);
		struct mcdef_child *ch = grow(y, out, n, sizeof(*ch), &rc);
		if (ch)
			rc = check_keys(y, item, at, keys, "a resource rule {apiVersion, resource, updateStrategy}");
		if (!rc)
			rc = parse_resource_rule(y, item, at, &ch->api_version, &ch->resource);
		for (size_t j = 0; !rc && j < i; j++) {
			const struct mcdef_child *prev = &(*out)[j];
			if (!strcmp(prev->api_version, ch->api_version) && !strcmp(prev->resource, ch->resource))
				rc = yamlnode_fail(y, item, at,
						   "apiVersion %s, resource %s is listed twice (also "
						   "%s[%zu]); expected each resource once",
						   ch->api_version, ch->resource, where, j);
		}
		yaml_node_t *strategy = rc ? NULL : field(y, item, "updateStrategy");
		if (!strategy)
			continue;
		ch->has_update_strategy = true;
		join(us, at, "updateStrategy");
		rc = check_keys(y, strategy, us, with_checks ? ckeys : akeys,
				with_checks ? "{method, statusChecks}" : "{method}");
		char *method = NULL;
		if (!rc)
			rc = get_string(y, strategy, us, "method", false, non_empty, EXPECT_METHOD, &method);
		if (!rc && method) {
			size_t m = 0;
			while (m < 5 && strcmp(method, method_names[m]))
				m++;
			join(path, us, "method");
			if (m == 5)
				rc = fail_got(y, field(y, strategy, "method"), path, EXPECT_METHOD);
			else
				ch->method = (enum mcdef_method)m;
			ch->has_method = true;
		}
		free(method);
		yaml_node_t *checks = rc || !with_checks ? NULL : field(y, strategy, "statusChecks");
		if (!checks)
			continue;
		static const char *const skeys[] = { "conditions", NULL };
		static const char *const condkeys[] = { "type", "status", "reason", NULL };
		join(path, us, "statusChecks");
		ch->has_status_checks = true;
		rc = check_keys(y, checks, path, skeys, "{conditions}");
		yaml_node_t *conds = NULL;
		if (!rc)
			rc = get_list(y, checks, path, "conditions",
				      "a list of condition checks {type, status, reason}", &conds);
		ch->has_conditions = conds != NULL;
		join(path, us, "statusChecks.conditions");
		for (size_t k = 0; !rc && conds && k < yamlnode_count(conds); k++) {
			yaml_node_t *cond = yamlnode_item(y, conds, k);
			char cpath[PATH_LEN];
			index_path(cpath, path, k);
			struct mcdef_condition_check *cc = grow(y, &ch->conditions, &ch->n_conditions, sizeof(*cc),
								&rc);
			if (cc)
				rc = check_keys(y, cond, cpath, condkeys, "a condition check {type, status, reason}");
			if (!rc)
				rc = get_string(y, cond, cpath, "type", true, non_empty,
						"a condition type such as Ready", &cc->type);
			if (!rc)
				rc = get_string(y, cond, cpath, "status", false, any_string,
						"a condition status as a string, such as \"True\"", &cc->status);
			if (!rc)
				rc = get_string(y, cond, cpath, "reason", false, any_string,
						"a condition reason as a string", &cc->reason);
		}
	}
	return rc;
}

static int parse_composite(const struct yamlnode_src *y, const yaml_node_t *spec, struct mcdef_controller *c)
{
	static const char *const keys[] = { "parentResource",      "childResources",   "hooks", "connections",
					    "resyncPeriodSeconds", "generateSelector", NULL };
	static const char *const pkeys[] = { "apiVersion",          "resource", "revisionHistory", "labelSelector",
					     "ignoreStatusChanges", NULL };
	int rc = check_keys(y, spec, "spec", keys, "a CompositeController spec");
	yaml_node_t *parent = rc ? NULL : field(y, spec, "parentResource");
	if (!rc && !parent)
		rc = missing(y, spec, "spec", "parentResource", "{apiVersion, resource}");
	const char *at = "spec.parentResource";
	if (!rc)
		rc = check_keys(y, parent, at, pkeys,
				"{apiVersion, resource, revisionHistory, labelSelector, "
				"ignoreStatusChanges}");
	if (!rc)
		rc = parse_resource_rule(y, parent, at, &c->parent_api_version, &c->parent_resource);
	yaml_node_t *history = rc ? NULL : field(y, parent, "revisionHistory");
	if (history) {
		static const char *const hkeys[] = { "fieldPaths", NULL };
		yaml_node_t *paths;
		c->has_revision_history = true;
		rc = check_keys(y, history, "spec.parentResource.revisionHistory", hkeys, "{fieldPaths}");
		if (!rc)
			rc = get_list(y, history, "spec.parentResource.revisionHistory", "fieldPaths",
				      "a list of field paths such as spec.template", &paths);
		c->has_field_paths = !rc && paths;
		if (c->has_field_paths)
			rc = get_strings(y, paths, "spec.parentResource.revisionHistory.fieldPaths", field_path,
					 "a field path such as spec.template", &c->field_paths, &c->n_field_paths);
	}
	if (!rc)
		rc = parse_selector(y, parent, at, "labelSelector", "matchLabels", &c->parent_selector);
	if (!rc)
		rc = get_bool(y, parent, at, "ignoreStatusChanges", &c->has_parent_ignore_status_changes,
			      &c->parent_ignore_status_changes);
	if (!rc)
		rc = parse_children(y, spec, "childResources", true, &c->children, &c->n_children, &c->has_children);
	if (!rc)
		rc = get_bool(y, spec, "spec", "generateSelector", &c->has_generate_selector, &c->generate_selector);
	return rc;
}

static int parse_decorator(const struct yamlnode_src *y, const yaml_node_t *spec, struct mcdef_controller *c)
{
	static const char *const keys[] = { "resources",   "attachments",         "hooks",
					    "connections", "resyncPeriodSeconds", NULL };
	static const char *const rkeys[] = { "apiVersion",          "resource", "labelSelector", "annotationSelector",
					     "ignoreStatusChanges", NULL };
	yaml_node_t *list = NULL;
	int rc = check_keys(y, spec, "spec", keys, "a DecoratorController spec");
	if (!rc)
		rc = get_list(y, spec, "spec", "resources", "a non-empty list of resource rules", &list);
	if (!rc && (!list || !yamlnode_count(list)))
		rc = list ? yamlnode_fail(y, list, "spec.resources",
					  "expected a non-empty list of resource rules, got "
					  "an empty list")
			  : missing(y, spec, "spec", "resources",
				    "a non-empty list of resource rules {apiVersion, resource}");
	for (size_t i = 0; !rc && i < yamlnode_count(list); i++) {
		yaml_node_t *item = yamlnode_item(y, list, i);
		char at[PATH_LEN];
		index_path(at, "spec.resources", i);
		struct mcdef_resource *r = grow(y, &c->resources, &c->n_resources, sizeof(*r), &rc);
		if (r)
			rc = check_keys(y, item, at, rkeys,
					"a resource rule {apiVersion, resource, labelSelector, "
					"annotationSelector, ignoreStatusChanges}");
		if (!rc)
			rc = parse_resource_rule(y, item, at, &r->api_version, &r->resource);
		for (size_t j = 0; !rc && j < i; j++)
			if (!strcmp(c->resources[j].api_version, r->api_version) &&
			    !strcmp(c->resources[j].resource, r->resource))
				rc = yamlnode_fail(y, item, at,
						   "apiVersion %s, resource %s is listed twice (also "
						   "spec.resources[%zu]); expected each resource once",
						   r->api_version, r->resource, j);
		if (!rc)
			rc = parse_selector(y, item, at, "labelSelector", "matchLabels", &r->label_selector);
		if (!rc)
			rc = parse_selector(y, item, at, "annotationSelector", "matchAnnotations",
					    &r->annotation_selector);
		if (!rc)
			rc = get_bool(y, item, at, "ignoreStatusChanges", &r->has_ignore_status_changes,
				      &r->ignore_status_changes);
	}
	if (!rc)
		rc = parse_children(y, spec, "attachments", false, &c->attachments, &c->n_attachments,
				    &c->has_attachments);
	return rc;
}

static int parse_metadata(const struct yamlnode_src *y, const yaml_node_t *root, struct mcdef_controller *c)
{
	yaml_node_t *meta = field(y, root, "metadata");
	if (!meta)
		return missing(y, root, "", "metadata", "{name: ...}");
	int rc = check_keys(y, meta, "metadata", kobj_meta_fields, "{name, labels, annotations, ...}");
	if (!rc)
		rc = get_string(y, meta, "metadata", "name", true, k8sname_dns_subdomain, EXPECT_NAME, &c->name);
	static const char *const maps[] = { "labels", "annotations" };
	for (size_t m = 0; !rc && m < 2; m++) {
		yaml_node_t *map = field(y, meta, maps[m]);
		char at[PATH_LEN];
		join(at, "metadata", maps[m]);
		if (map && map->type != YAML_MAPPING_NODE)
			return fail_got(y, map, at, "a mapping of keys to strings");
		for (yaml_node_pair_t *p = map ? map->data.mapping.pairs.start : NULL;
		     map && p < map->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(y->doc, p->key),
				    *v = yaml_document_get_node(y->doc, p->value);
			char path[PATH_LEN], text[80];
			bool truth;
			join(path, at, show(text, yamlnode_scalar(k)));
			if (!k8sname_label_key(yamlnode_scalar(k)))
				return yamlnode_fail(y, k, path, "expected %s", EXPECT_LABEL_KEY);
			if (v->type != YAML_SCALAR_NODE || scalar_type(v, &truth) != S_STRING ||
			    (m == 0 && !k8sname_label_value(yamlnode_scalar(v))))
				return fail_got(y, v, path, m == 0 ? EXPECT_LABEL_VALUE : "a string");
		}
	}
	return rc;
}

/* ---- loading ------------------------------------------------------------------------ */

struct load {
	struct mcdef_set *set;
	const char *file;
	struct cx_err *err;
	bool live; /* an object read from the API: any status */
};

static void free_strings(char **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

static void free_ref(struct mcdef_ref *r)
{
	free(r->name);
	free(r->namespace);
	free(r->key);
}

static void free_tls_auth(struct mcdef_tls_auth *a)
{
	free(a->ca_inline);
	free_ref(&a->ca_ref);
	free_ref(&a->client_tls_secret);
	free(a->cert_key);
	free(a->private_key_key);
	free(a->auth_type);
	free_ref(&a->auth_secret);
	free_ref(&a->basic_secret);
	free(a->username_key);
	free(a->password_key);
}

static void free_hook(struct mcdef_hook *h)
{
	struct mcdef_webhook *w = &h->webhook;
	free(w->url);
	free(w->path);
	free(w->service_name);
	free(w->service_namespace);
	free(w->service_protocol);
	free(w->timeout);
	free(w->effective_url);
	free_tls_auth(&w->auth);
}

static void free_children(struct mcdef_child *ch, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ch[i].api_version);
		free(ch[i].resource);
		for (size_t k = 0; k < ch[i].n_conditions; k++) {
			free(ch[i].conditions[k].type);
			free(ch[i].conditions[k].status);
			free(ch[i].conditions[k].reason);
		}
		free(ch[i].conditions);
	}
	free(ch);
}

static void free_controller(struct mcdef_controller *c)
{
	free(c->name);
	json_object_put(c->metadata);
	free(c->parent_api_version);
	free(c->parent_resource);
	free_strings(c->field_paths, c->n_field_paths);
	selector_clear(&c->parent_selector);
	free_children(c->children, c->n_children);
	for (size_t i = 0; i < c->n_resources; i++) {
		free(c->resources[i].api_version);
		free(c->resources[i].resource);
		selector_clear(&c->resources[i].label_selector);
		selector_clear(&c->resources[i].annotation_selector);
	}
	free(c->resources);
	free_children(c->attachments, c->n_attachments);
	struct mcdef_hook *hooks[] = { &c->hooks.sync, &c->hooks.finalize, &c->hooks.customize,
				       &c->hooks.pre_update_child, &c->hooks.post_update_child };
	for (size_t i = 0; i < sizeof(hooks) / sizeof(*hooks); i++)
		free_hook(hooks[i]);
	for (size_t i = 0; i < c->n_connections; i++) {
		free(c->connections[i].host);
		free_tls_auth(&c->connections[i].auth);
	}
	free(c->connections);
	json_object_put(c->object);
	free(c->source);
}

void mcdef_set_free(struct mcdef_set **s)
{
	if (!s || !*s)
		return;
	for (size_t i = 0; i < (*s)->n; i++)
		free_controller(&(*s)->items[i]);
	free((*s)->items);
	free(*s);
	*s = NULL;
}

const struct mcdef_controller *mcdef_find(const struct mcdef_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].name, name))
			return &s->items[i];
	return NULL;
}

/* The string at root.key when it is one, for naming the document before it
 * is checked. */
static const char *peek(const struct yamlnode_src *y, const yaml_node_t *map, const char *key)
{
	yaml_node_t *v = map && map->type == YAML_MAPPING_NODE ? yamlnode_get(y, map, key) : NULL;
	return v && v->type == YAML_SCALAR_NODE && !yamlnode_is_null(v) ? yamlnode_scalar(v) : NULL;
}

static int parse_controller(const struct yamlnode_src *y, const yaml_node_t *root, bool live,
			    struct mcdef_controller *c)
{
	static const char *const keys[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	if (root->type != YAML_MAPPING_NODE)
		return fail_got(y, root, "the document", "a mapping (a CompositeController or DecoratorController)");
	char *kind = NULL, *version = NULL;
	int rc = get_string(y, root, "", "kind", true, non_empty, "CompositeController or DecoratorController", &kind);
	if (!rc && strcmp(kind, "CompositeController") && strcmp(kind, "DecoratorController"))
		rc = fail_got(y, field(y, root, "kind"), "kind", "a CompositeController or DecoratorController");
	if (!rc)
		rc = get_string(y, root, "", "apiVersion", true, non_empty, MCDEF_API_VERSION, &version);
	if (!rc && strcmp(version, MCDEF_API_VERSION))
		rc = fail_got(y, field(y, root, "apiVersion"), "apiVersion", MCDEF_API_VERSION);
	if (!rc)
		c->kind = strcmp(kind, "CompositeController") ? MCDEF_DECORATOR : MCDEF_COMPOSITE;
	free(kind);
	free(version);
	if (!rc)
		rc = check_keys(y, root, "", keys, "a controller {apiVersion, kind, metadata, spec}");
	if (!rc)
		rc = parse_metadata(y, root, c);
	/* A manifest's status must be empty; the API's copy of the object may
	 * carry whatever a status writer (metacontroller has none) put there. */
	yaml_node_t *status = rc || live ? NULL : field(y, root, "status");
	if (status &&
	    (status->type != YAML_MAPPING_NODE || status->data.mapping.pairs.top != status->data.mapping.pairs.start))
		return fail_got(y, status, "status", "an empty mapping {} (a controller has no status fields)");
	c->has_status = status != NULL;
	yaml_node_t *spec = rc ? NULL : field(y, root, "spec");
	if (!rc && !spec)
		rc = missing(y, root, "", "spec", "a spec");
	if (!rc)
		rc = c->kind == MCDEF_COMPOSITE ? parse_composite(y, spec, c) : parse_decorator(y, spec, c);
	if (!rc)
		rc = parse_hooks(y, spec, c->kind == MCDEF_COMPOSITE, &c->hooks);
	if (!rc)
		rc = parse_connections(y, spec, c);
	if (!rc)
		rc = get_int(y, spec, "spec", "resyncPeriodSeconds", 0, INT32_MAX,
			     "an integer >= 0 (seconds; metacontroller resyncs at most once a second)", &c->has_resync,
			     &c->resync_period_seconds);
	return rc;
}

static int load_document(void *ctx, yaml_document_t *doc, size_t index)
{
	struct load *l = ctx;
	struct yamlnode_src y = { .doc = doc, .kind = KIND, .err = l->err };
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (yamlnode_is_null(root))
		return 0;
	yaml_node_t *meta = root->type == YAML_MAPPING_NODE ? yamlnode_get(&y, root, "metadata") : NULL;
	const char *kind = peek(&y, root, "kind"), *name = peek(&y, meta, "name");
	char label[PATH_MAX + 200], k[80], nm[80];
	if (kind && name)
		snprintf(label, sizeof(label), "%s: document %zu (%s \"%s\")", l->file, index, show(k, kind),
			 show(nm, name));
	else if (kind)
		snprintf(label, sizeof(label), "%s: document %zu (%s)", l->file, index, show(k, kind));
	else
		snprintf(label, sizeof(label), "%s: document %zu", l->file, index);
	y.path = label;

	struct mcdef_set *s = l->set;
	int rc = 0;
	struct mcdef_controller *c = grow(&y, &s->items, &s->n, sizeof(*c), &rc);
	if (!c)
		return rc;
	rc = node_json(&y, root, "", &c->object);
	if (!rc)
		rc = parse_controller(&y, root, l->live, c);
	if (!rc) {
		char source[PATH_MAX + 40];
		snprintf(source, sizeof(source), "%s: document %zu", l->file, index);
		c->source = strdup(source);
		c->metadata = json_object_get(json_object_object_get(c->object, "metadata"));
		yaml_node_t *name_node = field(&y, meta, "name");
		c->name_line = name_node->start_mark.line + 1;
		if (!c->source)
			rc = yamlnode_oom(&y);
		for (size_t i = 0; !rc && i + 1 < s->n; i++)
			if (!strcmp(s->items[i].name, c->name))
				rc = yamlnode_fail(&y, name_node, "metadata.name",
						   "duplicate controller name \"%s\" (also %s, "
						   "line %zu); expected one controller of each name, whatever its kind",
						   c->name, s->items[i].source, s->items[i].name_line);
	}
	if (rc) {
		free_controller(c);
		s->n--;
	}
	return rc;
}

static bool manifest_name(const char *name)
{
	size_t len = strlen(name);
	if (name[0] == '.')
		return false;
	static const char *const ext[] = { ".yaml", ".yml", ".json" };
	for (size_t i = 0; i < 3; i++) {
		size_t e = strlen(ext[i]);
		if (len > e && !strcmp(name + len - e, ext[i]))
			return true;
	}
	return false;
}

static int manifest_entry(const struct dirent *d)
{
	return manifest_name(d->d_name);
}

static int byte_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int load_file(struct mcdef_set *s, const char *file, struct cx_err *err)
{
	struct load l = { .set = s, .file = file, .err = err };
	return yamlnode_each(KIND, file, load_document, &l, err);
}

int mcdef_load(const char *path, struct mcdef_set **out, struct cx_err *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return cx_err_set(err, -ENOMEM, KIND " %s: out of memory", path);
	struct stat st;
	int rc = 0;
	if (stat(path, &st)) {
		rc = cx_err_set(err, -errno, KIND " %s: cannot open: %s", path, strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		struct dirent **names = NULL;
		int n = scandir(path, &names, manifest_entry, byte_order);
		if (n < 0)
			rc = cx_err_set(err, -errno, KIND " %s: cannot read the directory: %s", path, strerror(errno));
		for (int i = 0; i < n; i++) {
			char file[PATH_MAX];
			snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
			/* stat, not lstat: a ConfigMap volume's files are links. */
			if (!rc && !stat(file, &st) && S_ISREG(st.st_mode))
				rc = load_file(*out, file, err);
			free(names[i]);
		}
		free(names);
	} else {
		rc = load_file(*out, path, err);
	}
	if (!rc && !(*out)->n)
		rc = cx_err_set(err, -EINVAL, KIND " %s: no CompositeController or DecoratorController found%s", path,
				S_ISDIR(st.st_mode) ? " in its *.yaml, *.yml and *.json files" : "");
	if (rc)
		mcdef_set_free(out);
	return rc;
}

int mcdef_parse_json(const char *json_text, const char *source, struct mcdef_set **out, struct cx_err *err)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return cx_err_set(err, -ENOMEM, KIND " %s: out of memory", source);
	struct load l = { .set = *out, .file = source, .err = err, .live = true };
	int rc = yamlnode_each_text(KIND, source, json_text, strlen(json_text), load_document, &l, err);
	if (!rc && (*out)->n != 1)
		rc = cx_err_set(err, -EINVAL,
				KIND " %s: expected one CompositeController or DecoratorController, got %zu", source,
				(*out)->n);
	if (rc)
		mcdef_set_free(out);
	return rc;
}

/* ---- back to JSON ------------------------------------------------------------------- */

/* Adds val under key; consumes val. A NULL val (out of memory) fails. */
static bool put(struct json_object *o, const char *key, struct json_object *val)
{
	if (o && val && !json_object_object_add(o, key, val))
		return true;
	json_object_put(val);
	return false;
}

static bool put_str(struct json_object *o, const char *key, const char *s)
{
	return !s || put(o, key, json_object_new_string(s));
}

static bool append(struct json_object *a, struct json_object *val)
{
	if (a && val && !json_object_array_add(a, val))
		return true;
	json_object_put(val);
	return false;
}

static struct json_object *strings_json(char **s, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++)
		if (!append(a, json_object_new_string(s[i]))) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

/* Returns o, or NULL (and frees o) when ok is false. */
static struct json_object *done(struct json_object *o, bool ok)
{
	if (ok)
		return o;
	json_object_put(o);
	return NULL;
}

static struct json_object *selector_json(const struct selector *s, const char *match_key)
{
	struct json_object *o = json_object_new_object();
	bool ok = o != NULL;
	if (ok && s->has_match) {
		struct json_object *m = json_object_new_object();
		for (size_t i = 0; m && i < s->n_match; i++)
			if (!put(m, s->match_keys[i], json_object_new_string(s->match_values[i])))
				m = done(m, false);
		ok = put(o, match_key, m);
	}
	if (ok && s->has_exprs) {
		struct json_object *a = json_object_new_array();
		for (size_t i = 0; a && i < s->n_exprs; i++) {
			const struct selector_requirement *r = &s->exprs[i];
			struct json_object *e = json_object_new_object();
			bool eok = put_str(e, "key", r->key) && put_str(e, "operator", op_names[r->op]) &&
				(!r->has_values || put(e, "values", strings_json(r->values, r->n_values)));
			if (!append(a, done(e, eok)))
				a = done(a, false);
		}
		ok = put(o, "matchExpressions", a);
	}
	return done(o, ok);
}

static struct json_object *ref_json(const struct mcdef_ref *r)
{
	struct json_object *o = json_object_new_object();
	return done(o,
		    put_str(o, "name", r->name) && put_str(o, "namespace", r->namespace) && put_str(o, "key", r->key));
}

static bool tls_auth_json(struct json_object *o, const struct mcdef_tls_auth *a)
{
	bool ok = true;
	if (a->ca != MCDEF_CA_NONE) {
		struct json_object *ca = json_object_new_object();
		bool cok = a->ca == MCDEF_CA_INLINE
			? put_str(ca, "inline", a->ca_inline)
			: put(ca, a->ca == MCDEF_CA_SECRET ? "secretRef" : "configMapRef", ref_json(&a->ca_ref));
		ok = put(o, "caBundle", done(ca, cok));
	}
	if (ok && a->has_client_tls) {
		struct json_object *t = json_object_new_object();
		bool tok = put(t, "secretRef", ref_json(&a->client_tls_secret)) && put_str(t, "certKey", a->cert_key) &&
			put_str(t, "privateKeyKey", a->private_key_key);
		ok = put(o, "clientTLS", done(t, tok));
	}
	if (ok && a->has_authorization) {
		struct json_object *t = json_object_new_object();
		bool tok = put_str(t, "type", a->auth_type) && put(t, "secretRef", ref_json(&a->auth_secret));
		ok = put(o, "authorization", done(t, tok));
	}
	if (ok && a->has_basic_auth) {
		struct json_object *t = json_object_new_object();
		bool tok = put(t, "secretRef", ref_json(&a->basic_secret)) &&
			put_str(t, "usernameKey", a->username_key) && put_str(t, "passwordKey", a->password_key);
		ok = put(o, "basicAuth", done(t, tok));
	}
	return ok;
}

static struct json_object *webhook_json(const struct mcdef_webhook *w)
{
	struct json_object *o = json_object_new_object();
	bool ok = put_str(o, "url", w->url) && put_str(o, "path", w->path) && put_str(o, "timeout", w->timeout);
	if (ok && w->has_service) {
		struct json_object *s = json_object_new_object();
		bool sok = put_str(s, "name", w->service_name) && put_str(s, "namespace", w->service_namespace) &&
			(!w->has_service_port || put(s, "port", json_object_new_int(w->service_port))) &&
			put_str(s, "protocol", w->service_protocol);
		ok = put(o, "service", done(s, sok));
	}
	if (ok && w->has_etag) {
		struct json_object *e = json_object_new_object();
		bool eok = (!w->has_etag_enabled || put(e, "enabled", json_object_new_boolean(w->etag_enabled))) &&
			(!w->has_etag_cache_timeout ||
			 put(e, "cacheTimeoutSeconds", json_object_new_int(w->etag_cache_timeout_seconds))) &&
			(!w->has_etag_cache_cleanup ||
			 put(e, "cacheCleanupSeconds", json_object_new_int(w->etag_cache_cleanup_seconds)));
		ok = put(o, "etag", done(e, eok));
	}
	if (ok && w->has_unmarshal_mode)
		ok = put_str(o, "responseUnMarshallMode", w->strict ? "strict" : "loose");
	return done(o, ok && tls_auth_json(o, &w->auth));
}

static bool hook_json(struct json_object *hooks, const char *key, const struct mcdef_hook *h)
{
	if (!h->set)
		return true;
	struct json_object *o = json_object_new_object();
	bool ok = (!h->has_version || put_str(o, "version", h->version == 2 ? "v2" : "v1")) &&
		put(o, "webhook", webhook_json(&h->webhook));
	return put(hooks, key, done(o, ok));
}

static struct json_object *children_json(const struct mcdef_child *ch, size_t n)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < n; i++) {
		struct json_object *o = json_object_new_object();
		bool ok = put_str(o, "apiVersion", ch[i].api_version) && put_str(o, "resource", ch[i].resource);
		if (ok && ch[i].has_update_strategy) {
			struct json_object *us = json_object_new_object();
			bool uok = !ch[i].has_method || put_str(us, "method", method_names[ch[i].method]);
			if (uok && ch[i].has_status_checks) {
				struct json_object *sc = json_object_new_object();
				bool sok = true;
				if (ch[i].has_conditions) {
					struct json_object *conds = json_object_new_array();
					for (size_t k = 0; conds && k < ch[i].n_conditions; k++) {
						const struct mcdef_condition_check *cc = &ch[i].conditions[k];
						struct json_object *c = json_object_new_object();
						bool cok = put_str(c, "type", cc->type) &&
							put_str(c, "status", cc->status) &&
							put_str(c, "reason", cc->reason);
						if (!append(conds, done(c, cok)))
							conds = done(conds, false);
					}
					sok = put(sc, "conditions", conds);
				}
				uok = put(us, "statusChecks", done(sc, sok));
			}
			ok = put(o, "updateStrategy", done(us, uok));
		}
		if (!append(a, done(o, ok)))
			a = done(a, false);
	}
	return a;
}

static bool composite_json(struct json_object *spec, const struct mcdef_controller *c)
{
	struct json_object *p = json_object_new_object();
	bool pok = put_str(p, "apiVersion", c->parent_api_version) && put_str(p, "resource", c->parent_resource);
	if (pok && c->has_revision_history) {
		struct json_object *h = json_object_new_object();
		bool hok = !c->has_field_paths || put(h, "fieldPaths", strings_json(c->field_paths, c->n_field_paths));
		pok = put(p, "revisionHistory", done(h, hok));
	}
	if (pok && c->parent_selector.set)
		pok = put(p, "labelSelector", selector_json(&c->parent_selector, "matchLabels"));
	if (pok && c->has_parent_ignore_status_changes)
		pok = put(p, "ignoreStatusChanges", json_object_new_boolean(c->parent_ignore_status_changes));
	return put(spec, "parentResource", done(p, pok)) &&
		(!c->has_children || put(spec, "childResources", children_json(c->children, c->n_children))) &&
		(!c->has_generate_selector ||
		 put(spec, "generateSelector", json_object_new_boolean(c->generate_selector)));
}

static bool decorator_json(struct json_object *spec, const struct mcdef_controller *c)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; a && i < c->n_resources; i++) {
		const struct mcdef_resource *r = &c->resources[i];
		struct json_object *o = json_object_new_object();
		bool ok = put_str(o, "apiVersion", r->api_version) && put_str(o, "resource", r->resource) &&
			(!r->label_selector.set ||
			 put(o, "labelSelector", selector_json(&r->label_selector, "matchLabels"))) &&
			(!r->annotation_selector.set ||
			 put(o, "annotationSelector", selector_json(&r->annotation_selector, "matchAnnotations"))) &&
			(!r->has_ignore_status_changes ||
			 put(o, "ignoreStatusChanges", json_object_new_boolean(r->ignore_status_changes)));
		if (!append(a, done(o, ok)))
			a = done(a, false);
	}
	return put(spec, "resources", a) &&
		(!c->has_attachments || put(spec, "attachments", children_json(c->attachments, c->n_attachments)));
}

struct json_object *mcdef_to_json(const struct mcdef_controller *c)
{
	struct json_object *o = json_object_new_object(), *spec = json_object_new_object(),
			   *hooks = json_object_new_object(), *meta = NULL;
	bool composite = c->kind == MCDEF_COMPOSITE;
	bool ok = o && spec && hooks && !json_object_deep_copy(c->metadata, &meta, NULL);
	ok = ok && (composite ? composite_json(spec, c) : decorator_json(spec, c));
	ok = ok && hook_json(hooks, "sync", &c->hooks.sync) && hook_json(hooks, "finalize", &c->hooks.finalize) &&
		hook_json(hooks, "customize", &c->hooks.customize) &&
		hook_json(hooks, "preUpdateChild", &c->hooks.pre_update_child) &&
		hook_json(hooks, "postUpdateChild", &c->hooks.post_update_child);
	if (ok && c->has_connections) {
		struct json_object *a = json_object_new_array();
		for (size_t i = 0; a && i < c->n_connections; i++) {
			struct json_object *e = json_object_new_object();
			bool eok = put_str(e, "host", c->connections[i].host) &&
				tls_auth_json(e, &c->connections[i].auth);
			if (!append(a, done(e, eok)))
				a = done(a, false);
		}
		ok = put(spec, "connections", a);
	}
	if (ok && c->has_resync)
		ok = put(spec, "resyncPeriodSeconds", json_object_new_int(c->resync_period_seconds));
	ok = ok && put_str(o, "apiVersion", MCDEF_API_VERSION) &&
		put_str(o, "kind", composite ? "CompositeController" : "DecoratorController");
	if (ok) {
		ok = put(spec, "hooks", hooks);
		hooks = NULL;
	}
	if (ok) {
		ok = put(o, "metadata", meta);
		meta = NULL;
	}
	if (ok) {
		ok = put(o, "spec", spec);
		spec = NULL;
	}
	if (ok && c->has_status)
		ok = put(o, "status", json_object_new_object());
	json_object_put(hooks);
	json_object_put(meta);
	json_object_put(spec);
	return done(o, ok);
}

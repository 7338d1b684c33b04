#include "config.h"

#include "queuekey.h"

#include <stdio.h>
#include <string.h>

/* Whether s[0..n) is a usable part: non-empty, at most max bytes, no '/'. */
static bool part_ok(const char *s, size_t n, size_t max)
{
	return s && n && n <= max && !memchr(s, '/', n);
}

bool queuekey_make(const char *controller, const char *ns, const char *name, char *buf, size_t len)
{
	if (!controller || !name || !part_ok(controller, strlen(controller), QUEUEKEY_CONTROLLER_MAX) ||
	    !part_ok(name, strlen(name), QUEUEKEY_NAME_MAX) ||
	    (ns && *ns && !part_ok(ns, strlen(ns), QUEUEKEY_NAMESPACE_MAX)))
		return false;
	int n = ns && *ns ? snprintf(buf, len, "%s/%s/%s", controller, ns, name)
			  : snprintf(buf, len, "%s/%s", controller, name);
	return n > 0 && (size_t)n < len;
}

bool queuekey_join(const char *controller, const char *object_key, char *buf, size_t len)
{
	if (!object_key)
		return false;
	const char *slash = strchr(object_key, '/');
	if (!slash)
		return queuekey_make(controller, NULL, object_key, buf, len);
	/* The namespace is copied out to check it as queuekey_make does. */
	char ns[QUEUEKEY_NAMESPACE_MAX + 1];
	size_t ns_len = (size_t)(slash - object_key);
	if (!part_ok(object_key, ns_len, QUEUEKEY_NAMESPACE_MAX))
		return false;
	memcpy(ns, object_key, ns_len);
	ns[ns_len] = '\0';
	return queuekey_make(controller, ns, slash + 1, buf, len);
}

bool queuekey_parse(const char *key, struct queuekey *out)
{
	if (!key)
		return false;
	const char *first = strchr(key, '/');
	if (!first)
		return false;
	const char *rest = first + 1, *second = strchr(rest, '/');
	size_t c_len = (size_t)(first - key);
	const char *ns = second ? rest : "", *name = second ? second + 1 : rest;
	size_t ns_len = second ? (size_t)(second - rest) : 0, name_len = strlen(name);
	if (!part_ok(key, c_len, QUEUEKEY_CONTROLLER_MAX) || !part_ok(name, name_len, QUEUEKEY_NAME_MAX) ||
	    (second && !part_ok(ns, ns_len, QUEUEKEY_NAMESPACE_MAX)))
		return false;
	memcpy(out->controller, key, c_len);
	out->controller[c_len] = '\0';
	memcpy(out->namespace, ns, ns_len);
	out->namespace[ns_len] = '\0';
	memcpy(out->name, name, name_len + 1);
	out->object_key = rest;
	return true;
}

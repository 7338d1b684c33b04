#include "config.h"

#include "childkey.h"

#include <stdio.h>
#include <string.h>

static bool fits(int n, size_t len)
{
	return n >= 0 && (size_t)n < len;
}

bool childkey_kind(const char *kind, const char *api_version, char *buf, size_t len)
{
	if (kind && *kind && api_version && *api_version && fits(snprintf(buf, len, "%s.%s", kind, api_version), len))
		return true;
	if (len)
		buf[0] = '\0'; /* matches no key */
	return false;
}

bool childkey_kind_split(const char *key, size_t *kind_len)
{
	const char *dot = key ? strchr(key, '.') : NULL;
	if (!dot || dot == key || !dot[1])
		return false;
	*kind_len = (size_t)(dot - key);
	return true;
}

bool childkey_name(const char *parent_ns, const char *child_ns, const char *name, char *buf, size_t len)
{
	bool qualified = (!parent_ns || !*parent_ns) && child_ns && *child_ns;
	return fits(qualified ? snprintf(buf, len, "%s/%s", child_ns, name) : snprintf(buf, len, "%s", name), len);
}

bool childkey_uniform_name(const char *ns, const char *name, char *buf, size_t len)
{
	/* Relative to a cluster-scoped parent, every object is named uniformly. */
	return childkey_name(NULL, ns, name, buf, len);
}

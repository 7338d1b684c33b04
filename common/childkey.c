#include "config.h"

#include "childkey.h"

#include <stdio.h>

static bool fits(int n, size_t len)
{
	return n >= 0 && (size_t)n < len;
}

bool childkey_kind(const char *kind, const char *api_version, char *buf, size_t len)
{
	return fits(snprintf(buf, len, "%s.%s", kind, api_version), len);
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

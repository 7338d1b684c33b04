#include "config.h"

#include "k8sname.h"

#include <string.h>

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool label_n(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !lower_alnum(s[0]) || !lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool subdomain_n(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t start = 0; start <= len;) {
		const char *dot = memchr(s + start, '.', len - start);
		size_t end = dot ? (size_t)(dot - s) : len;
		if (!label_n(s + start, end - start))
			return false;
		start = end + 1;
	}
	return true;
}

/* The name part of a qualified name, or a label value (empty_ok). */
static bool name_part(const char *s, size_t len, bool empty_ok)
{
	if (!len)
		return empty_ok;
	if (len > 63 || !alnum(s[0]) || !alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool k8sname_dns_label(const char *s)
{
	return label_n(s, strlen(s));
}

bool k8sname_dns_subdomain(const char *s)
{
	return subdomain_n(s, strlen(s));
}

bool k8sname_api_version(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return k8sname_dns_label(s);
	return subdomain_n(s, (size_t)(slash - s)) && k8sname_dns_label(slash + 1);
}

bool k8sname_label_key(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash)
		return name_part(s, strlen(s), false);
	return subdomain_n(s, (size_t)(slash - s)) && name_part(slash + 1, strlen(slash + 1), false);
}

bool k8sname_label_value(const char *s)
{
	return name_part(s, strlen(s), true);
}

bool k8sname_path_segment(const char *s)
{
	return s && *s && strcmp(s, ".") && strcmp(s, "..") && !strpbrk(s, "/%");
}

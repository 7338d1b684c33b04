/* queuekey: the work queue's "controller/namespace/name" key, built and
 * split in one place. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "queuekey.h"

/* n copies of c in buf (at least n + 1 bytes). */
static const char *repeat(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

Test(queuekey, namespaced_parent)
{
	char key[QUEUEKEY_MAX];
	cr_assert(queuekey_make("web", "team-a", "site", key, sizeof(key)));
	cr_assert_str_eq(key, "web/team-a/site");
	struct queuekey k;
	cr_assert(queuekey_parse(key, &k));
	cr_assert_str_eq(k.controller, "web");
	cr_assert_str_eq(k.namespace, "team-a");
	cr_assert_str_eq(k.name, "site");
	cr_assert_str_eq(k.object_key, "team-a/site", "the parent's cache key");
	cr_assert_eq(k.object_key, key + 4, "borrowed from the key");
}

Test(queuekey, cluster_scoped_parent)
{
	char key[QUEUEKEY_MAX];
	cr_assert(queuekey_make("tenants", NULL, "acme", key, sizeof(key)));
	cr_assert_str_eq(key, "tenants/acme");
	cr_assert(queuekey_make("tenants", "", "acme", key, sizeof(key)));
	cr_assert_str_eq(key, "tenants/acme", "an empty namespace is none");
	struct queuekey k;
	cr_assert(queuekey_parse(key, &k));
	cr_assert_str_eq(k.controller, "tenants");
	cr_assert_str_eq(k.namespace, "");
	cr_assert_str_eq(k.name, "acme");
	cr_assert_str_eq(k.object_key, "acme");
}

Test(queuekey, a_decorator_resource_controller_name)
{
	char key[QUEUEKEY_MAX];
	cr_assert(queuekey_make("labeller.r2", "ns", "svc", key, sizeof(key)));
	struct queuekey k;
	cr_assert(queuekey_parse(key, &k));
	cr_assert_str_eq(k.controller, "labeller.r2");
}

Test(queuekey, join_takes_the_parents_cache_key)
{
	char key[QUEUEKEY_MAX];
	cr_assert(queuekey_join("web", "team-a/site", key, sizeof(key)));
	cr_assert_str_eq(key, "web/team-a/site");
	cr_assert(queuekey_join("tenants", "acme", key, sizeof(key)));
	cr_assert_str_eq(key, "tenants/acme");
	cr_assert_not(queuekey_join("web", "a/b/c", key, sizeof(key)), "a cache key has at most one '/'");
	cr_assert_not(queuekey_join("web", "/site", key, sizeof(key)));
	cr_assert_not(queuekey_join("web", "team-a/", key, sizeof(key)));
	cr_assert_not(queuekey_join("web", "", key, sizeof(key)));
	cr_assert_not(queuekey_join("web", NULL, key, sizeof(key)));
}

Test(queuekey, parts_at_their_length_limits)
{
	char c[512], ns[512], name[512], key[QUEUEKEY_MAX];
	repeat(c, 'c', QUEUEKEY_CONTROLLER_MAX);
	repeat(ns, 'n', QUEUEKEY_NAMESPACE_MAX);
	repeat(name, 'x', QUEUEKEY_NAME_MAX);
	cr_assert(queuekey_make(c, ns, name, key, sizeof(key)), "the longest key fits QUEUEKEY_MAX");
	cr_assert_eq(strlen(key) + 1, QUEUEKEY_MAX);
	struct queuekey k;
	cr_assert(queuekey_parse(key, &k));
	cr_assert_str_eq(k.controller, c);
	cr_assert_str_eq(k.namespace, ns);
	cr_assert_str_eq(k.name, name);
	cr_assert_not(queuekey_make(c, ns, name, key, sizeof(key) - 1), "a cut key is refused, not used");

	/* One byte past a limit, in make and in parse. */
	char over[2048];
	repeat(c, 'c', QUEUEKEY_CONTROLLER_MAX + 1);
	cr_assert_not(queuekey_make(c, ns, "x", over, sizeof(over)));
	snprintf(over, sizeof(over), "%s/x", c);
	cr_assert_not(queuekey_parse(over, &k));
	repeat(c, 'c', 3);
	repeat(ns, 'n', QUEUEKEY_NAMESPACE_MAX + 1);
	cr_assert_not(queuekey_make(c, ns, "x", over, sizeof(over)));
	snprintf(over, sizeof(over), "%s/%s/x", c, ns);
	cr_assert_not(queuekey_parse(over, &k));
	repeat(name, 'x', QUEUEKEY_NAME_MAX + 1);
	cr_assert_not(queuekey_make(c, NULL, name, over, sizeof(over)));
	snprintf(over, sizeof(over), "%s/%s", c, name);
	cr_assert_not(queuekey_parse(over, &k));
}

Test(queuekey, malformed_keys_are_refused)
{
	static const char *const bad[] = {
		"",         /* nothing */
		"web",      /* no '/' */
		"/ns/name", /* no controller */
		"/name",
		"web/", /* no name */
		"web/ns/",
		"web//name", /* an empty namespace is written as none */
		"web/a/b/c", /* a part with '/' */
		"web/ns/name/",
	};
	struct queuekey k;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(queuekey_parse(bad[i], &k), "\"%s\" is not a key", bad[i]);
	cr_assert_not(queuekey_parse(NULL, &k));
}

Test(queuekey, make_refuses_missing_parts_and_slashes)
{
	char key[QUEUEKEY_MAX];
	cr_assert_not(queuekey_make(NULL, "ns", "name", key, sizeof(key)));
	cr_assert_not(queuekey_make("", "ns", "name", key, sizeof(key)));
	cr_assert_not(queuekey_make("web", "ns", NULL, key, sizeof(key)));
	cr_assert_not(queuekey_make("web", "ns", "", key, sizeof(key)));
	cr_assert_not(queuekey_make("a/b", "ns", "name", key, sizeof(key)));
	cr_assert_not(queuekey_make("web", "n/s", "name", key, sizeof(key)));
	cr_assert_not(queuekey_make("web", "ns", "na/me", key, sizeof(key)));
}

Test(queuekey, every_key_made_parses_back)
{
	static const char *const parts[][3] = {
		{ "web", "team-a", "site" },
		{ "web", NULL, "site" },
		{ "mc.r10", "x", "y.z" },
		{ "a", "b", "c" },
	};
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		char key[QUEUEKEY_MAX], again[QUEUEKEY_MAX];
		struct queuekey k;
		cr_assert(queuekey_make(parts[i][0], parts[i][1], parts[i][2], key, sizeof(key)));
		cr_assert(queuekey_parse(key, &k), "%s", key);
		cr_assert(queuekey_make(k.controller, k.namespace, k.name, again, sizeof(again)));
		cr_assert_str_eq(again, key);
		cr_assert(queuekey_join(k.controller, k.object_key, again, sizeof(again)));
		cr_assert_str_eq(again, key);
	}
}

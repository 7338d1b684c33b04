#include <criterion/criterion.h>
#include <string.h>

#include "childkey.h"

Test(childkey, kind_key_is_kind_dot_api_version)
{
	char buf[CHILDKEY_MAX];
	cr_assert(childkey_kind("ConfigMap", "v1", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "ConfigMap.v1");
	cr_assert(childkey_kind("Deployment", "apps/v1", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "Deployment.apps/v1");
	cr_assert_not(childkey_kind("Deployment", "apps/v1", buf, 8), "a cut key is refused, not used");
	cr_assert_str_eq(buf, "", "and matches no key");
}

Test(childkey, kind_key_needs_both_parts)
{
	char buf[CHILDKEY_KIND_MAX];
	cr_assert_not(childkey_kind("", "v1", buf, sizeof(buf)));
	cr_assert_not(childkey_kind("ConfigMap", "", buf, sizeof(buf)));
	cr_assert_not(childkey_kind(NULL, "v1", buf, sizeof(buf)));
	cr_assert_not(childkey_kind("ConfigMap", NULL, buf, sizeof(buf)));
}

Test(childkey, kind_key_at_its_limit)
{
	/* CHILDKEY_KIND_MAX - 1 bytes: a 63-byte kind, '.', the rest a group
	 * and version. */
	char kind[64], api[CHILDKEY_KIND_MAX], buf[CHILDKEY_KIND_MAX];
	memset(kind, 'K', 63);
	kind[63] = '\0';
	size_t n = CHILDKEY_KIND_MAX - 1 - 63 - 1;
	memset(api, 'g', n);
	api[n - 3] = '/';
	api[n] = '\0';
	cr_assert(childkey_kind(kind, api, buf, sizeof(buf)));
	cr_assert_eq(strlen(buf), CHILDKEY_KIND_MAX - 1);
	api[n] = 'g';
	api[n + 1] = '\0';
	cr_assert_not(childkey_kind(kind, api, buf, sizeof(buf)), "one byte more does not fit");
}

Test(childkey, kind_key_splits_at_the_first_dot)
{
	size_t n = 0;
	cr_assert(childkey_kind_split("ConfigMap.v1", &n));
	cr_assert_eq(n, 9);
	cr_assert(childkey_kind_split("Website.example.com/v1", &n));
	cr_assert_eq(n, 7, "the group's dots belong to the apiVersion");
	char buf[CHILDKEY_KIND_MAX];
	cr_assert(childkey_kind("Deployment", "apps/v1", buf, sizeof(buf)));
	cr_assert(childkey_kind_split(buf, &n));
	cr_assert_eq(n, strlen("Deployment"));
	cr_assert_str_eq(buf + n + 1, "apps/v1", "what childkey_kind writes splits back");

	static const char *const bad[] = { "ConfigMap", ".v1", "ConfigMap.", "", "." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = 42;
		cr_assert_not(childkey_kind_split(bad[i], &n), "\"%s\"", bad[i]);
		cr_assert_eq(n, 42);
	}
	cr_assert_not(childkey_kind_split(NULL, &n));
}

Test(childkey, namespaced_parent_keys_by_name)
{
	char buf[CHILDKEY_MAX];
	cr_assert(childkey_name("team-a", "team-a", "settings", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "settings");
}

Test(childkey, cluster_scoped_parent_keys_namespaced_children_by_namespace_and_name)
{
	char buf[CHILDKEY_MAX];
	cr_assert(childkey_name(NULL, "team-a", "settings", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "team-a/settings");
	cr_assert(childkey_name("", "team-b", "settings", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "team-b/settings");
}

Test(childkey, cluster_scoped_children_key_by_name)
{
	char buf[CHILDKEY_MAX];
	cr_assert(childkey_name(NULL, NULL, "a-namespace", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "a-namespace");
	cr_assert(childkey_name(NULL, "", "a-role", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "a-role");
}

Test(childkey, longest_names_fit)
{
	char ns[64], name[254], buf[CHILDKEY_MAX];
	memset(ns, 'n', 63);
	ns[63] = '\0';
	memset(name, 'x', 253);
	name[253] = '\0';
	cr_assert(childkey_name(NULL, ns, name, buf, sizeof(buf)));
	cr_assert_eq(strlen(buf), 63 + 1 + 253);
	cr_assert_not(childkey_name(NULL, ns, name, buf, 100));
}

Test(childkey, uniform_key_is_namespace_slash_name_whatever_the_parent)
{
	char buf[CHILDKEY_MAX];
	cr_assert(childkey_uniform_name("team-a", "settings", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "team-a/settings");
	cr_assert(childkey_uniform_name(NULL, "team-a", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "team-a", "a cluster-scoped object is keyed by its name");
	cr_assert(childkey_uniform_name("", "a-role", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "a-role");
	cr_assert_not(childkey_uniform_name("team-a", "settings", buf, 8), "a cut key is refused, not used");
}

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

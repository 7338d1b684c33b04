/* kresource_path: every shape of API path the client builds. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdlib.h>

#include "discovery.h"

static struct kresource configmaps = { .group = "",
				       .version = "v1",
				       .api_version = "v1",
				       .kind = "ConfigMap",
				       .resource = "configmaps",
				       .namespaced = true };
static struct kresource deployments = { .group = "apps",
					.version = "v1",
					.api_version = "apps/v1",
					.kind = "Deployment",
					.resource = "deployments",
					.namespaced = true };
static struct kresource crds = { .group = "apiextensions.k8s.io",
				 .version = "v1",
				 .api_version = "apiextensions.k8s.io/v1",
				 .kind = "CustomResourceDefinition",
				 .resource = "customresourcedefinitions",
				 .namespaced = false };

static void check(const struct kresource *r, const char *ns, const char *name, const char *sub, const char *want)
{
	char *got = kresource_path(r, ns, name, sub);
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(kresource_path, core_group)
{
	check(&configmaps, "team-a", "page", NULL, "/api/v1/namespaces/team-a/configmaps/page");
	check(&configmaps, "team-a", NULL, NULL, "/api/v1/namespaces/team-a/configmaps");
	check(&configmaps, NULL, NULL, NULL, "/api/v1/configmaps");
	check(&configmaps, "", NULL, NULL, "/api/v1/configmaps");
}

Test(kresource_path, named_group_and_subresource)
{
	check(&deployments, "web", "site", "status", "/apis/apps/v1/namespaces/web/deployments/site/status");
	check(&deployments, "web", NULL, "status", "/apis/apps/v1/namespaces/web/deployments");
}

Test(kresource_path, cluster_scoped_ignores_namespace)
{
	check(&crds, "ignored", "websites.example.com", NULL,
	      "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/websites.example.com");
}

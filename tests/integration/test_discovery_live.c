/* discovery against the real kube-apiserver: built-in kinds, and a CRD that
 * appears after the client started becomes resolvable without a restart. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "live.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *client;
static struct discovery *disco;

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &client, &err);
	cr_assert_not_null(client, "%s", err.msg);
	disco = discovery_new(client);
	cr_assert_not_null(disco);
}

static void teardown(void)
{
	discovery_free(&disco);
	kclient_free(&client);
	restconfig_free(&rc);
}

TestSuite(discovery_live, .init = setup, .fini = teardown);

static const struct kresource *resolve_ok(const char *api_version, const char *kind)
{
	const struct kresource *r = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(discovery_resolve(disco, api_version, kind, &r, &err), 0, "%s", err.msg);
	return r;
}

Test(discovery_live, built_in_kinds)
{
	const struct kresource *cm = resolve_ok("v1", "ConfigMap");
	cr_assert_str_eq(cm->resource, "configmaps");
	cr_assert_str_eq(cm->group, "");
	cr_assert(cm->namespaced);
	unsigned want = KVERB_GET | KVERB_LIST | KVERB_WATCH | KVERB_CREATE | KVERB_PATCH | KVERB_DELETE;
	cr_assert_eq(cm->verbs & want, want);
	cr_assert_not(cm->has_status);

	const struct kresource *deploy = resolve_ok("apps/v1", "Deployment");
	cr_assert_str_eq(deploy->resource, "deployments");
	cr_assert(deploy->has_status);

	const struct kresource *ns = resolve_ok("v1", "Namespace");
	cr_assert_not(ns->namespaced);
	cr_assert_eq(resolve_ok("v1", "ConfigMap"), cm, "cached entries keep their address");
}

Test(discovery_live, unknown_group_and_kind_are_not_found)
{
	const struct kresource *r = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(discovery_resolve(disco, "nothing.coxswain.io/v1", "Thing", &r, &err), -ENOENT);
	cr_assert(strstr(err.msg, "does not serve nothing.coxswain.io/v1"), "%s", err.msg);
	cr_assert_eq(discovery_resolve(disco, "v1", "NoSuchKind", &r, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no kind NoSuchKind"), "%s", err.msg);
}

Test(discovery_live, a_kind_in_the_wrong_case_or_a_resource_name_suggests_the_kind)
{
	static const char *const cases[][3] = {
		{ "v1", "configmap", "ConfigMap" },         { "v1", "CONFIGMAP", "ConfigMap" },
		{ "v1", "configmaps", "ConfigMap" },        { "apps/v1", "deployment", "Deployment" },
		{ "apps/v1", "Deployments", "Deployment" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct kresource *r = NULL;
		struct cx_err err = { 0 };
		cr_assert_eq(discovery_resolve(disco, cases[i][0], cases[i][1], &r, &err), -ENOENT, "%s", cases[i][1]);
		char want[128];
		snprintf(want, sizeof(want), "no kind %s in it; did you mean kind %s?", cases[i][1], cases[i][2]);
		cr_assert(strstr(err.msg, want), "%s", err.msg);
	}
	const struct kresource *r = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(discovery_resolve(disco, "v1", "ConfigMapz", &r, &err), -ENOENT);
	cr_assert_null(strstr(err.msg, "did you mean"), "nothing close: %s", err.msg);
}

#define GADGET_CRD                                                                                                     \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: gadgets.discovery.coxswain.io}\n"                                                            \
	"spec:\n"                                                                                                      \
	"  group: discovery.coxswain.io\n"                                                                             \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: gadgets, singular: gadget, kind: Gadget}\n"                                                 \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n"

Test(discovery_live, crd_created_after_start_becomes_resolvable, .timeout = 60)
{
	cr_assert_eq(live_kubectl(NULL, "delete crd gadgets.discovery.coxswain.io --ignore-not-found --wait"), 0);
	const struct kresource *r = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(discovery_resolve(disco, "discovery.coxswain.io/v1", "Gadget", &r, &err), -ENOENT, "%s", err.msg);

	cr_assert_eq(live_kubectl(GADGET_CRD, "apply -f -"), 0);
	int rc_code = -ENOENT;
	for (int i = 0; i < 300 && rc_code == -ENOENT; i++) {
		usleep(100 * 1000);
		rc_code = discovery_resolve(disco, "discovery.coxswain.io/v1", "Gadget", &r, &err);
	}
	cr_assert_eq(rc_code, 0, "%s", err.msg);
	cr_assert_str_eq(r->resource, "gadgets");
	cr_assert(r->namespaced);
	cr_assert(r->has_status);
	cr_assert_eq(live_kubectl(NULL, "delete crd gadgets.discovery.coxswain.io --wait"), 0);
}

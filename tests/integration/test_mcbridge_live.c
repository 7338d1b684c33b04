/* mcbridge against the real kube-apiserver: a metacontroller definition
 * becomes config_controllers whose kinds discovery found from the plural
 * resources; a resource nobody serves is an error naming the controller and
 * the field. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "ctltable.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "live.h"
#include "mcbridge.h"
#include "mcdef.h"
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

TestSuite(mcbridge_live, .init = setup, .fini = teardown);

static struct mcdef_set *parse(const char *yaml)
{
	struct cx_err err = { 0 };
	struct mcdef_set *s = NULL;
	cr_assert_eq(mcdef_parse_json(yaml, "test", &s, &err), 0, "%s", err.msg);
	return s;
}

Test(mcbridge_live, composite)
{
	struct mcdef_set *s = parse(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\nmetadata: {name: cms}\n"
		"spec:\n"
		"  parentResource:\n    apiVersion: v1\n    resource: configmaps\n"
		"    labelSelector: {matchLabels: {app: x}, matchExpressions: [{key: tier, operator: In, values: [a, "
		"b]},"
		" {key: old, operator: DoesNotExist}, {key: k, operator: Exists}, {key: z, operator: NotIn, values: "
		"[q]}]}\n"
		"    ignoreStatusChanges: true\n"
		"  childResources:\n  - {apiVersion: v1, resource: secrets}\n"
		"  - {apiVersion: apps/v1, resource: deployments, updateStrategy: {method: RollingRecreate}}\n"
		"  generateSelector: true\n  resyncPeriodSeconds: 0\n"
		"  hooks:\n    sync: {webhook: {url: 'http://127.0.0.1:1/sync', timeout: 1500ms}}\n"
		"    finalize: {version: v2, webhook: {url: 'http://127.0.0.1:1/fin'}}\n");
	struct config_controller *ccs = NULL;
	size_t n = 0;
	struct cx_err err = { 0 };
	cr_assert_eq(mcbridge_controllers(&s->items[0], disco, &ccs, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(n, 1);
	struct config_controller *cc = &ccs[0];
	cr_assert_str_eq(cc->name, "cms");
	cr_assert_eq(cc->origin, CONFIG_ORIGIN_METACONTROLLER);
	cr_assert_eq(cc->kind, CONFIG_KIND_COMPOSITE);
	cr_assert_eq(cc->mc, &s->items[0]);
	cr_assert_eq(cc->object, s->items[0].object);
	cr_assert_str_eq(cc->parent_api_version, "v1");
	cr_assert_str_eq(cc->parent_kind, "ConfigMap");
	cr_assert_str_eq(cc->parent_resource, "configmaps");
	cr_assert_str_eq(cc->label_selector, "app=x,tier in (a,b),!old,k,z notin (q)");
	cr_assert(cc->ignore_status_changes);
	cr_assert(cc->generate_selector);
	cr_assert_eq(cc->resync_period_seconds, 1, "a resync written as 0 is metacontroller's minimum, 1 s");
	cr_assert_eq(cc->n_children, 2);
	cr_assert_str_eq(cc->children[0].kind, "Secret");
	cr_assert_str_eq(cc->children[0].resource, "secrets");
	cr_assert_eq(cc->children[0].update_strategy, UPDATE_ONDELETE, "metacontroller's default");
	cr_assert_str_eq(cc->children[1].kind, "Deployment");
	cr_assert_str_eq(cc->children[1].api_version, "apps/v1");
	cr_assert_eq(cc->children[1].update_strategy, UPDATE_ROLLING_RECREATE);
	cr_assert_eq(cc->children[1].mc, &s->items[0].children[1]);
	cr_assert(cc->sync.set);
	cr_assert_str_eq(cc->sync.url, "http://127.0.0.1:1/sync");
	cr_assert_eq(cc->sync.timeout_ms, 1500);
	cr_assert_eq(cc->sync.timeout_seconds, 2);
	cr_assert_eq(cc->sync.version, CONFIG_HOOK_V1);
	cr_assert_eq(cc->sync.unmarshal, CONFIG_UNMARSHAL_LOOSE);
	cr_assert_eq(cc->sync.mc, &s->items[0].hooks.sync.webhook);
	cr_assert(cc->finalize.set);
	cr_assert_eq(cc->finalize.version, CONFIG_HOOK_V2);
	cr_assert_eq(cc->finalize.unmarshal, CONFIG_UNMARSHAL_STRICT);
	cr_assert_eq(cc->finalize.timeout_ms, 10000);
	cr_assert_not(cc->customize.set);
	cr_assert_str_eq(cc->finalizer, "metacontroller.io/compositecontroller-cms");
	cr_assert_str_eq(cc->field_manager, "coxswain/cms");
	cr_assert_str_eq(cc->namespace, "");
	mcbridge_free(&ccs, n);
	cr_assert_null(ccs);
	mcdef_set_free(&s);
}

Test(mcbridge_live, decorator_one_controller_per_resource)
{
	struct mcdef_set *s = parse(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: DecoratorController\nmetadata: {name: deco}\n"
		"spec:\n  resources:\n  - {apiVersion: v1, resource: pods, annotationSelector: {matchAnnotations: {a: "
		"b}}}\n"
		"  - {apiVersion: apps/v1, resource: statefulsets, labelSelector: {matchLabels: {x: yes1}}}\n"
		"  attachments: [{apiVersion: v1, resource: services, updateStrategy: {method: RollingInPlace}}]\n"
		"  resyncPeriodSeconds: 30\n"
		"  hooks: {sync: {webhook: {url: 'http://127.0.0.1:1/sync'}}}\n");
	struct config_controller *ccs = NULL;
	size_t n = 0;
	struct cx_err err = { 0 };
	cr_assert_eq(mcbridge_controllers(&s->items[0], disco, &ccs, &n, &err), 0, "%s", err.msg);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(ccs[0].name, "deco");
	cr_assert_str_eq(ccs[1].name, "deco.r1");
	cr_assert_eq(ccs[0].kind, CONFIG_KIND_DECORATOR);
	cr_assert_str_eq(ccs[0].parent_kind, "Pod");
	cr_assert_str_eq(ccs[1].parent_kind, "StatefulSet");
	cr_assert_null(ccs[0].label_selector);
	cr_assert_str_eq(ccs[1].label_selector, "x=yes1");
	cr_assert_eq(ccs[0].annotation_selector, &s->items[0].resources[0].annotation_selector);
	cr_assert_eq(ccs[1].annotation_selector, &s->items[0].resources[1].annotation_selector);
	for (size_t i = 0; i < 2; i++) {
		cr_assert_eq(ccs[i].n_children, 1);
		cr_assert_str_eq(ccs[i].children[0].kind, "Service");
		cr_assert_eq(ccs[i].children[0].update_strategy, UPDATE_INPLACE, "no rollout in a decorator");
		cr_assert_str_eq(ccs[i].finalizer, "metacontroller.io/decoratorcontroller-deco");
		cr_assert_str_eq(ccs[i].field_manager, "coxswain/deco");
		cr_assert_eq(ccs[i].resync_period_seconds, 30);
	}
	mcbridge_free(&ccs, n);
	mcdef_set_free(&s);
}

static void expect_not_found(const char *yaml, const char *want)
{
	struct mcdef_set *s = parse(yaml);
	struct config_controller *ccs = (struct config_controller *)1;
	size_t n = 7;
	struct cx_err err = { 0 };
	cr_assert_eq(mcbridge_controllers(&s->items[0], disco, &ccs, &n, &err), -ENOENT);
	cr_assert_null(ccs);
	cr_assert_eq(n, 0);
	cr_assert(strstr(err.msg, want), "got: %s\nwant: %s", err.msg, want);
	mcdef_set_free(&s);
}

Test(mcbridge_live, unknown_resource_names_the_controller_and_field)
{
	expect_not_found(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\nmetadata: {name: nope}\n"
		"spec:\n  parentResource: {apiVersion: nothing.coxswain.io/v1, resource: things}\n"
		"  hooks: {sync: {webhook: {url: 'http://127.0.0.1:1/sync'}}}\n",
		"CompositeController \"nope\": spec.parentResource.resource: things nothing.coxswain.io/v1: the "
		"API server does not serve nothing.coxswain.io/v1");
	expect_not_found(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\nmetadata: {name: nope2}\n"
		"spec:\n  parentResource: {apiVersion: v1, resource: configmaps}\n"
		"  childResources: [{apiVersion: v1, resource: secrets}, {apiVersion: v1, resource: secretz}]\n"
		"  hooks: {sync: {webhook: {url: 'http://127.0.0.1:1/sync'}}}\n",
		"CompositeController \"nope2\": spec.childResources[1].resource: secretz v1: the API "
		"server serves v1 but no resource secretz in it");
}

/* ---- worker/ctltable: the worker's controllers built from job definitions */

static struct json_object *definition(const char *rv, const char *url)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"metacontroller.k8s.io/v1alpha1\",\"kind\":\"CompositeController\","
		 "\"metadata\":{\"name\":\"cms\"%s%s%s},\"spec\":{\"parentResource\":{\"apiVersion\":\"v1\","
		 "\"resource\":\"configmaps\"},\"hooks\":{\"sync\":{\"webhook\":{\"url\":\"%s\"}}}}}",
		 rv ? ",\"uid\":\"u1\",\"resourceVersion\":\"" : "", rv ? rv : "", rv ? "\"" : "", url);
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "%s", text);
	return o;
}

Test(mcbridge_live, ctltable_builds_once_per_version)
{
	struct ctltable *t = ctltable_new(disco);
	cr_assert_not_null(t);
	const struct config_controller *cc = NULL;
	uint64_t g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0;
	struct cx_err err = { 0 };
	struct json_object *d1 = definition("10", "http://h/a"), *d1b = definition("10", "http://h/other"),
			   *d2 = definition("11", "http://h/b");
	cr_assert_eq(ctltable_get(t, "cms", d1, &cc, &g1, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cc->sync.url, "http://h/a");
	cr_assert_str_eq(cc->parent_kind, "ConfigMap");
	cr_assert_eq(ctltable_get(t, "cms", d1b, &cc, &g2, &err), 0, "%s", err.msg);
	cr_assert_eq(g2, g1, "the same uid and resourceVersion: the cached controller");
	cr_assert_str_eq(cc->sync.url, "http://h/a");
	cr_assert_eq(ctltable_get(t, "cms", d2, &cc, &g3, &err), 0, "%s", err.msg);
	cr_assert_neq(g3, g1, "a new resourceVersion: built again");
	cr_assert_str_eq(cc->sync.url, "http://h/b");

	/* Without uid and resourceVersion (a manifest file): by its text. */
	struct json_object *f1 = definition(NULL, "http://h/f1"), *f2 = definition(NULL, "http://h/f2");
	cr_assert_eq(ctltable_get(t, "cms", f1, &cc, &g4, &err), 0, "%s", err.msg);
	cr_assert_eq(ctltable_get(t, "cms", f1, &cc, &g5, &err), 0, "%s", err.msg);
	cr_assert_eq(g4, g5);
	cr_assert_eq(ctltable_get(t, "cms", f2, &cc, &g5, &err), 0, "%s", err.msg);
	cr_assert_neq(g4, g5);
	cr_assert_str_eq(cc->sync.url, "http://h/f2");

	/* A definition of another name, or one mcdef refuses. */
	cr_assert_eq(ctltable_get(t, "other", f1, &cc, &g5, &err), -ENOENT);
	cr_assert(strstr(err.msg, "does not define a controller \"other\""), "%s", err.msg);
	json_object_object_add(json_object_object_get(f1, "spec"), "bogus", json_object_new_int(1));
	cr_assert_eq(ctltable_get(t, "cms", f1, &cc, &g5, &err), -EINVAL);
	cr_assert(strstr(err.msg, "spec.bogus: unknown field"), "%s", err.msg);
	cr_assert_null(cc);
	json_object_put(d1);
	json_object_put(d1b);
	json_object_put(d2);
	json_object_put(f1);
	json_object_put(f2);
	ctltable_free(&t);
	cr_assert_null(t);
}

/* worker/crdschema against the real API server: a built-in kind is not a
 * CRD, a custom resource's status schema is found, and the projection
 * predicts exactly what the server stores for a status with fields its
 * schema does not declare. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crdschema.h"
#include "discovery.h"
#include "err.h"
#include "jsonget.h"
#include "kclient.h"
#include "live.h"
#include "restconfig.h"

#define GROUP "crdschema.coxswain.io"

#define NARROW_CRD                                                                                           \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                              \
	"kind: CustomResourceDefinition\n"                                                                   \
	"metadata: {name: narrows." GROUP "}\n"                                                              \
	"spec:\n"                                                                                            \
	"  group: " GROUP "\n"                                                                               \
	"  scope: Namespaced\n"                                                                              \
	"  names: {plural: narrows, singular: narrow, kind: Narrow}\n"                                       \
	"  versions:\n"                                                                                      \
	"  - name: v1\n"                                                                                     \
	"    served: true\n"                                                                                 \
	"    storage: true\n"                                                                                \
	"    subresources: {status: {}}\n"                                                                   \
	"    schema:\n"                                                                                      \
	"      openAPIV3Schema:\n"                                                                           \
	"        type: object\n"                                                                             \
	"        properties:\n"                                                                              \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                       \
	"          status:\n"                                                                                \
	"            type: object\n"                                                                         \
	"            properties:\n"                                                                          \
	"              ready: {type: boolean}\n"                                                             \
	"              items:\n"                                                                             \
	"                type: array\n"                                                                      \
	"                items: {type: object, properties: {name: {type: string}}}\n"                       \
	"              labels: {type: object, additionalProperties: {type: string}}\n"                       \
	"              free: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"

static struct restconfig *rc;
static struct kclient *c;
static struct discovery *d;

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = {0};
	c = kclient_new(rc, NULL, &err);
	cr_assert_not_null(c, "%s", err.msg);
	d = discovery_new(c);
}

static void teardown(void)
{
	discovery_free(&d);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(crdschema_live, .init = setup, .fini = teardown, .timeout = 120);

static const struct kresource *resolve(const char *api_version, const char *kind)
{
	const struct kresource *r = NULL;
	struct cx_err err = {0};
	for (int i = 0; i < 100; i++) {
		if (!discovery_resolve(d, api_version, kind, &r, &err))
			return r;
		usleep(100 * 1000); /* a new CRD: discovery refreshes at most once a second */
	}
	cr_assert_fail("%s", err.msg);
	return NULL;
}

Test(crdschema_live, built_in_kinds_are_not_crds)
{
	struct crdschema *s = crdschema_new(c, 0);
	struct crdschema_info info;
	struct cx_err err = {0};
	cr_assert_eq(crdschema_lookup(s, resolve("v1", "Pod"), 0, &info, &err), 0, "%s", err.msg);
	cr_assert_not(info.is_crd);
	cr_assert_eq(crdschema_lookup(s, resolve("apps/v1", "StatefulSet"), 0, &info, &err), 0, "%s", err.msg);
	cr_assert_not(info.is_crd);
	cr_assert_eq(crdschema_lookup(s, resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition"), 0, &info,
				      &err), 0, "%s", err.msg);
	cr_assert_not(info.is_crd, "a dotted group without a CRD: built in");
	crdschema_free(&s);
}

Test(crdschema_live, the_projection_is_what_the_server_stores)
{
	cr_assert_eq(live_kubectl(NARROW_CRD, "apply -f -"), 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/narrows." GROUP), 0);
	const struct kresource *r = resolve(GROUP "/v1", "Narrow");
	struct crdschema *s = crdschema_new(c, 0);
	struct crdschema_info info;
	struct cx_err err = {0};
	cr_assert_eq(crdschema_lookup(s, r, 0, &info, &err), 0, "%s", err.msg);
	cr_assert(info.is_crd);
	cr_assert_not(info.keep_all);
	cr_assert_not_null(info.status_schema);

	char name[64], path[256];
	snprintf(name, sizeof(name), "n-%d", (int)getpid());
	struct json_object *obj = json_tokener_parse("{\"apiVersion\":\"" GROUP "/v1\",\"kind\":\"Narrow\","
						     "\"metadata\":{\"name\":\"placeholder\"},\"spec\":{}}");
	json_object_object_add(json_object_object_get(obj, "metadata"), "name", json_object_new_string(name));
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/narrows");
	cr_assert_eq(kclient_create(c, path, obj, NULL, &err), 0, "%s", err.msg);
	json_object_put(obj);

	const char *statuses[] = {
		"{\"ready\":true,\"observedGeneration\":1,\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\"}]}",
		"{\"items\":[{\"name\":\"a\",\"extra\":1},{\"name\":\"b\"}],\"labels\":{\"x\":\"y\"}}",
		"{\"free\":{\"any\":{\"deep\":[1,2]}},\"unknown\":{\"a\":1}}",
	};
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/narrows/%s/status", name);
	for (size_t i = 0; i < sizeof(statuses) / sizeof(*statuses); i++) {
		/* A merge patch that first clears what the previous round left. */
		struct json_object *status = json_tokener_parse(statuses[i]);
		struct json_object *clear = json_tokener_parse("{\"status\":null}"), *out = NULL;
		cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, clear, NULL, &err), 0, "%s", err.msg);
		struct json_object *patch = json_object_new_object();
		json_object_object_add(patch, "status", json_object_get(status));
		cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, &out, &err), 0, "%s", err.msg);
		char dropped[256];
		size_t n = 0;
		struct json_object *predicted = crdschema_prune(info.status_schema, status, "status", dropped,
								sizeof(dropped), &n);
		struct json_object *stored = jsonget(out, "status");
		cr_assert(json_object_equal(predicted, stored), "round %zu: predicted %s, stored %s", i,
			  json_object_to_json_string(predicted), json_object_to_json_string(stored));
		cr_assert_gt(n, 0, "round %zu drops something", i);
		json_object_put(predicted);
		json_object_put(out);
		json_object_put(patch);
		json_object_put(clear);
		json_object_put(status);
	}
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/narrows/%s", name);
	kclient_delete(c, path, NULL, NULL, &err);
	crdschema_free(&s);
}

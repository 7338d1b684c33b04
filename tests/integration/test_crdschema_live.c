/* worker/crdschema against the real API server: a built-in kind is not a
 * CRD; each kind of CRD (with and without the status subresource, with and
 * without conditions in its status schema, preserving unknown fields, with
 * no status at all) is read as the operator identity reads it; the cache
 * expires and can be invalidated (fake clock); an unreadable CRD is an
 * error; and the projection predicts exactly what the server stores for
 * statuses with fields their schema does not declare. */
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
#include "blob.h"
#include "live.h"
#include "restconfig.h"

#define GROUP "crdschema.coxswain.io"
/* Every kind here is Schema...: kubectl resolves a bare kind name ("get
 * narrow") across groups, so a kind that an end-to-end test also defines
 * would make that test read this test's objects on a shared fixture. */

#define NARROW_CRD                                                                                                     \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: schemanarrows." GROUP "}\n"                                                                  \
	"spec:\n"                                                                                                      \
	"  group: " GROUP "\n"                                                                                         \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: schemanarrows, singular: schemanarrow, kind: SchemaNarrow}\n"                               \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status:\n"                                                                                          \
	"            type: object\n"                                                                                   \
	"            properties:\n"                                                                                    \
	"              ready: {type: boolean}\n"                                                                       \
	"              items:\n"                                                                                       \
	"                type: array\n"                                                                                \
	"                items: {type: object, properties: {name: {type: string}}}\n"                                  \
	"              labels: {type: object, additionalProperties: {type: string}}\n"                                 \
	"              free: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"

static struct restconfig *rc;
static struct kclient *c;
static struct discovery *d;

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
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
	struct cx_err err = { 0 };
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
	struct cx_err err = { 0 };
	cr_assert_eq(crdschema_lookup(s, resolve("v1", "Pod"), 0, &info, &err), 0, "%s", err.msg);
	cr_assert_not(info.is_crd);
	cr_assert_eq(crdschema_lookup(s, resolve("apps/v1", "StatefulSet"), 0, &info, &err), 0, "%s", err.msg);
	cr_assert_not(info.is_crd);
	cr_assert_eq(
		crdschema_lookup(s, resolve("apiextensions.k8s.io/v1", "CustomResourceDefinition"), 0, &info, &err), 0,
		"%s", err.msg);
	cr_assert_not(info.is_crd, "a dotted group without a CRD: built in");
	crdschema_free(&s);
}

Test(crdschema_live, the_projection_is_what_the_server_stores)
{
	cr_assert_eq(live_kubectl(NARROW_CRD, "apply -f -"), 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/schemanarrows." GROUP), 0);
	const struct kresource *r = resolve(GROUP "/v1", "SchemaNarrow");
	struct crdschema *s = crdschema_new(c, 0);
	struct crdschema_info info;
	struct cx_err err = { 0 };
	cr_assert_eq(crdschema_lookup(s, r, 0, &info, &err), 0, "%s", err.msg);
	cr_assert(info.is_crd);
	cr_assert_not(info.keep_all);
	cr_assert_not_null(info.status_schema);

	char name[64], path[256];
	snprintf(name, sizeof(name), "n-%d", (int)getpid());
	struct json_object *obj = json_tokener_parse("{\"apiVersion\":\"" GROUP "/v1\",\"kind\":\"SchemaNarrow\","
						     "\"metadata\":{\"name\":\"placeholder\"},\"spec\":{}}");
	json_object_object_add(json_object_object_get(obj, "metadata"), "name", json_object_new_string(name));
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/schemanarrows");
	cr_assert_eq(kclient_create(c, path, obj, NULL, &err), 0, "%s", err.msg);
	json_object_put(obj);

	const char *statuses[] = {
		"{\"ready\":true,\"observedGeneration\":1,\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\"}]}",
		"{\"items\":[{\"name\":\"a\",\"extra\":1},{\"name\":\"b\"}],\"labels\":{\"x\":\"y\"}}",
		"{\"free\":{\"any\":{\"deep\":[1,2]}},\"unknown\":{\"a\":1}}",
	};
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/schemanarrows/%s/status", name);
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
	snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/schemanarrows/%s", name);
	kclient_delete(c, path, NULL, NULL, &err);
	crdschema_free(&s);
}

/* ---- the kinds of CRD a parent can have ---- */

/* A CRD named <plural>.GROUP, kind K, version v1, whose version block
 * (subresources, schema) is `version` (indented 4). */
static void make_crd(const char *plural, const char *kind, const char *version)
{
	char yaml[4096];
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: apiextensions.k8s.io/v1\n"
		 "kind: CustomResourceDefinition\n"
		 "metadata: {name: %s." GROUP "}\n"
		 "spec:\n"
		 "  group: " GROUP "\n"
		 "  scope: Namespaced\n"
		 "  names: {plural: %s, kind: %s}\n"
		 "  versions:\n"
		 "  - name: v1\n"
		 "    served: true\n"
		 "    storage: true\n"
		 "%s",
		 plural, plural, kind, version);
	cr_assert_eq(live_kubectl(yaml, "apply -f -"), 0, "%s", yaml);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/%s." GROUP, plural), 0);
}

#define WIDE_VERSION                                                                                                   \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status:\n"                                                                                          \
	"            type: object\n"                                                                                   \
	"            properties:\n"                                                                                    \
	"              observedGeneration: {type: integer}\n"                                                          \
	"              conditions:\n"                                                                                  \
	"                type: array\n"                                                                                \
	"                items:\n"                                                                                     \
	"                  type: object\n"                                                                             \
	"                  properties:\n"                                                                              \
	"                    type: {type: string}\n"                                                                   \
	"                    status: {type: string}\n"                                                                 \
	"                    reason: {type: string}\n"                                                                 \
	"                    message: {type: string}\n"                                                                \
	"                    lastTransitionTime: {type: string}\n"                                                     \
	"                    observedGeneration: {type: integer}\n"

#define NO_CONDITIONS_VERSION                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status: {type: object, properties: {ready: {type: boolean}}}\n"

#define CONDITIONS                                                                                                     \
	"{\"observedGeneration\":1,\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\",\"reason\":"               \
	"\"ReconcileSucceeded\",\"message\":\"\",\"lastTransitionTime\":\"2026-12-04T12:00:00Z\","                     \
	"\"observedGeneration\":1}]}"

static void lookup(struct crdschema *s, const char *kind, int64_t now_ms, struct crdschema_info *info)
{
	struct cx_err err = { 0 };
	cr_assert_eq(crdschema_lookup(s, resolve(GROUP "/v1", kind), now_ms, info, &err), 0, "%s", err.msg);
}

/* Drops (count) when projecting coxswain's own status through info. */
static size_t drops(const struct crdschema_info *info, const char *status_text)
{
	struct json_object *status = json_tokener_parse(status_text);
	size_t n = 0;
	struct json_object *p = crdschema_prune(info->status_schema, status, "status", NULL, 0, &n);
	cr_assert_not_null(p);
	json_object_put(p);
	json_object_put(status);
	return n;
}

#define CRD_READER                                                                                                     \
	"apiVersion: rbac.authorization.k8s.io/v1\n"                                                                   \
	"kind: ClusterRole\n"                                                                                          \
	"metadata: {name: coxswain-test-crdschema}\n"                                                                  \
	"rules:\n"                                                                                                     \
	"- {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get]}\n"                \
	"---\n"                                                                                                        \
	"apiVersion: rbac.authorization.k8s.io/v1\n"                                                                   \
	"kind: ClusterRoleBinding\n"                                                                                   \
	"metadata: {name: coxswain-test-crdschema}\n"                                                                  \
	"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: coxswain-test-crdschema}\n"           \
	"subjects: [{kind: ServiceAccount, name: coxswain, namespace: coxswain-system}]\n"

Test(crdschema_live, each_kind_of_crd_as_the_operator_sees_it)
{
	make_crd("schemawides", "SchemaWide", WIDE_VERSION);
	make_crd("schemaplains", "SchemaPlain",
		 "    schema:\n"
		 "      openAPIV3Schema:\n"
		 "        type: object\n"
		 "        properties:\n"
		 "          status: {type: object, properties: {conditions: {type: array, items: {type: object, "
		 "x-kubernetes-preserve-unknown-fields: true}}}}\n");
	make_crd("schemalooses", "SchemaLoose",
		 "    subresources: {status: {}}\n"
		 "    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n");
	make_crd("schemabares", "SchemaBare",
		 "    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}\n");
	make_crd("schemanocons", "SchemaNoCon", NO_CONDITIONS_VERSION);

	/* The restricted identity coxswain runs as reads CRDs: deploy/rbac.yaml
	 * grants get, list, watch; crdschema needs get, granted here alone. */
	cr_assert_eq(live_kubectl(CRD_READER, "apply -f -"), 0);
	struct restconfig *orc = live_restconfig("operator");
	struct cx_err err = { 0 };
	struct kclient *oc = NULL;
	kclient_new(orc, NULL, &oc, &err);
	cr_assert_not_null(oc, "%s", err.msg);
	struct crdschema *s = crdschema_new(oc, 0);
	struct crdschema_info info;

	/* RBAC reaches the API server's authorizer soon, not at once. */
	for (int i = 0; i < 100 && crdschema_lookup(s, resolve(GROUP "/v1", "SchemaWide"), 0, &info, &err) == -EACCES;
	     i++)
		usleep(100 * 1000);
	lookup(s, "SchemaWide", 0, &info);
	cr_assert(info.is_crd && info.has_status_subresource && !info.keep_all);
	cr_assert_not_null(info.status_schema);
	cr_assert_eq(drops(&info, CONDITIONS), 0, "declared conditions are held");

	lookup(s, "SchemaPlain", 0, &info);
	cr_assert(info.is_crd && !info.has_status_subresource && !info.keep_all);
	cr_assert_eq(drops(&info, "{\"conditions\":[{\"type\":\"Synced\"}]}"), 0);
	cr_assert_eq(drops(&info, CONDITIONS), 1, "observedGeneration is not declared");

	lookup(s, "SchemaLoose", 0, &info);
	cr_assert(info.is_crd && info.has_status_subresource && info.keep_all);
	cr_assert_eq(drops(&info, CONDITIONS), 0);

	lookup(s, "SchemaBare", 0, &info);
	cr_assert(info.is_crd && !info.has_status_subresource && !info.keep_all);
	cr_assert_null(info.status_schema, "no status in the schema");
	cr_assert_eq(drops(&info, CONDITIONS), 2);

	lookup(s, "SchemaNoCon", 0, &info);
	cr_assert(info.is_crd && info.has_status_subresource && !info.keep_all);
	cr_assert_eq(drops(&info, CONDITIONS), 2, "conditions and observedGeneration");

	crdschema_free(&s);
	kclient_free(&oc);
	restconfig_free(&orc);
}

/* A changed CRD is seen after the time-to-live, or at once after
 * crdschema_invalidate; before that the cache answers (fake clock). */
Test(crdschema_live, the_cache_expires_and_can_be_invalidated)
{
	make_crd("schemachangings", "SchemaChanging", NO_CONDITIONS_VERSION);
	struct crdschema *s = crdschema_new(c, 1000);
	struct crdschema_info info;
	lookup(s, "SchemaChanging", 0, &info);
	cr_assert_eq(drops(&info, CONDITIONS), 2);

	make_crd("schemachangings", "SchemaChanging", WIDE_VERSION);
	lookup(s, "SchemaChanging", 999, &info);
	cr_assert_eq(drops(&info, CONDITIONS), 2, "cached within the time-to-live");
	lookup(s, "SchemaChanging", 1000, &info);
	cr_assert_eq(drops(&info, CONDITIONS), 0, "read again once it expired");

	make_crd("schemachangings", "SchemaChanging", NO_CONDITIONS_VERSION);
	lookup(s, "SchemaChanging", 1001, &info);
	cr_assert_eq(drops(&info, CONDITIONS), 0, "cached");
	crdschema_invalidate(s, resolve(GROUP "/v1", "SchemaChanging"));
	lookup(s, "SchemaChanging", 1002, &info);
	cr_assert_eq(drops(&info, CONDITIONS), 2, "read again after invalidate");
	crdschema_free(&s);
}

/* An error other than a 404 is an error, never "not a CRD": a client the
 * API server does not authenticate gets a 401, and the error names the
 * CRD. (A 404 would have been cached as a built-in kind.) */
Test(crdschema_live, an_unreadable_crd_is_an_error)
{
	make_crd("schemawides", "SchemaWide", WIDE_VERSION);
	const struct kresource *r = resolve(GROUP "/v1", "SchemaWide");
	struct restconfig *brc = live_restconfig("operator");
	blob_clear(&brc->client_cert);
	blob_clear(&brc->client_key);
	free(brc->token);
	free(brc->token_file);
	brc->token_file = NULL;
	brc->token = strdup("not-a-valid-token");
	struct cx_err err = { 0 };
	struct kclient *bc = NULL;
	kclient_new(brc, NULL, &bc, &err);
	cr_assert_not_null(bc, "%s", err.msg);
	struct crdschema *s = crdschema_new(bc, 0);
	struct crdschema_info info = { .is_crd = true };
	int got = crdschema_lookup(s, r, 0, &info, &err);
	cr_assert_lt(got, 0, "an unauthenticated read is an error");
	cr_assert_neq(got, -ENOENT);
	cr_assert(strstr(err.msg, "SchemaWide"), "names the kind: %s", err.msg);
	cr_assert_not(info.is_crd);
	crdschema_free(&s);
	kclient_free(&bc);
	restconfig_free(&brc);
}

#define SHAPES_VERSION                                                                                                 \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object}\n"                                                                             \
	"          status:\n"                                                                                          \
	"            type: object\n"                                                                                   \
	"            properties:\n"                                                                                    \
	"              ap: {type: object, additionalProperties: true}\n"                                               \
	"              emb: {type: object, x-kubernetes-embedded-resource: true, "                                     \
	"x-kubernetes-preserve-unknown-fields: true}\n"                                                                \
	"              emb2: {type: object, x-kubernetes-embedded-resource: true, "                                    \
	"properties: {spec: {type: object}}}\n"                                                                        \
	"              parr: {type: array, x-kubernetes-preserve-unknown-fields: true, items: {type: object, "         \
	"properties: {a: {type: object, properties: {x: {type: string}}}}}}\n"                                         \
	"              nested: {type: array, items: {type: array, items: {type: object, "                              \
	"properties: {k: {type: integer}}}}}\n"

/* Writes each status (through /status, or the main resource without the
 * subresource) onto a fresh object of plural, and checks that what the
 * server stored is crdschema_prune's prediction, and that each drops
 * something. */
static void check_projection(const char *plural, const char *kind, const char *const *statuses, size_t n_statuses)
{
	struct crdschema *s = crdschema_new(c, 0);
	struct crdschema_info info;
	lookup(s, kind, 0, &info);
	struct cx_err err = { 0 };
	for (size_t i = 0; i < n_statuses; i++) {
		char name[64], path[256];
		snprintf(name, sizeof(name), "p-%d-%zu", (int)getpid(), i);
		struct json_object *obj = json_object_new_object();
		json_object_object_add(obj, "apiVersion", json_object_new_string(GROUP "/v1"));
		json_object_object_add(obj, "kind", json_object_new_string(kind));
		struct json_object *meta = json_object_new_object();
		json_object_object_add(meta, "name", json_object_new_string(name));
		json_object_object_add(obj, "metadata", meta);
		snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/%s", plural);
		cr_assert_eq(kclient_create(c, path, obj, NULL, &err), 0, "%s", err.msg);
		json_object_put(obj);

		snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/%s/%s%s", plural, name,
			 info.has_status_subresource ? "/status" : "");
		struct json_object *status = json_tokener_parse(statuses[i]), *out = NULL;
		cr_assert_not_null(status, "bad test JSON %s", statuses[i]);
		struct json_object *patch = json_object_new_object();
		json_object_object_add(patch, "status", json_object_get(status));
		cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, &out, &err), 0, "%s", err.msg);
		char dropped[512];
		size_t n = 0;
		struct json_object *predicted = crdschema_prune(info.status_schema, status, "status", dropped,
								sizeof(dropped), &n);
		struct json_object *stored = jsonget(out, "status"), *empty = json_object_new_object();
		cr_assert(json_object_equal(predicted, stored ? stored : empty),
			  "%s %zu: predicted %s (dropping %s), "
			  "stored %s",
			  kind, i, json_object_to_json_string(predicted), dropped, json_object_to_json_string(stored));
		cr_assert_gt(n, 0, "%s %zu drops something", kind, i);
		json_object_put(empty);
		json_object_put(predicted);
		json_object_put(out);
		json_object_put(patch);
		json_object_put(status);
		snprintf(path, sizeof(path), "/apis/" GROUP "/v1/namespaces/default/%s/%s", plural, name);
		kclient_delete(c, path, NULL, NULL, &err);
	}
	crdschema_free(&s);
}

Test(crdschema_live, the_projection_is_what_the_server_stores_for_each_shape)
{
	make_crd("schemashapes", "SchemaShape", SHAPES_VERSION);
	const char *const schemashapes[] = {
		"{\"ap\":{\"k\":{\"deep\":1},\"s\":\"v\",\"arr\":[{\"x\":1},2]}}",
		"{\"emb\":{\"apiVersion\":\"v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\",\"junk\":1,"
		"\"labels\":{\"a\":\"b\"}},\"other\":{\"y\":1}},"
		"\"emb2\":{\"apiVersion\":\"v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"n\",\"junk\":1},"
		"\"spec\":{\"q\":1},\"z\":1}}",
		"{\"parr\":[{\"a\":{\"x\":\"1\",\"y\":2},\"b\":{\"c\":1}}],"
		"\"nested\":[[{\"k\":1,\"x\":2}],[],[{\"k\":3},{\"y\":4}]],\"conditions\":[{\"type\":\"Synced\"}]}",
	};
	check_projection("schemashapes", "SchemaShape", schemashapes, sizeof(schemashapes) / sizeof(*schemashapes));

	make_crd("schemanocons", "SchemaNoCon", NO_CONDITIONS_VERSION);
	const char *const coxswain[] = { CONDITIONS };
	check_projection("schemanocons", "SchemaNoCon", coxswain, 1);

	/* Without the status subresource, status is written with the object. */
	make_crd("schemabares", "SchemaBare",
		 "    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object}}}}\n");
	check_projection("schemabares", "SchemaBare", coxswain, 1);
}

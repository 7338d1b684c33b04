/* worker/related against the real kube-apiserver: what customize rules
 * select is listed from the API (label selectors, namespace and names,
 * namespaced and cluster-scoped parents) and keyed like children; a rule
 * naming a resource the server does not serve is an error naming it. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "discovery.h"
#include "err.h"
#include "jsonget.h"
#include "kclient.h"
#include "live.h"
#include "related.h"
#include "relrule.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *client;
static struct discovery *disco;
static struct related *rel;
/* Per test (each runs in its own process): names of its own, so that one
 * test's namespaces being deleted never meet the next test's. */
static char NS_A[64], NS_B[64], NS_G[64];

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &client, &err);
	cr_assert_not_null(client, "%s", err.msg);
	disco = discovery_new(client);
	rel = related_new(client, disco);
	cr_assert_not_null(rel);
	/* Three namespaces, one labelled; a source ConfigMap and a decoy. */
	snprintf(NS_A, sizeof(NS_A), "rel-live-a-%d", (int)getpid());
	snprintf(NS_B, sizeof(NS_B), "rel-live-b-%d", (int)getpid());
	snprintf(NS_G, sizeof(NS_G), "rel-live-global-%d", (int)getpid());
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: {rel-live: '%d'}}\n"
		 "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n---\napiVersion: v1\nkind: Namespace\n"
		 "metadata: {name: %s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "
		 "%s}\n"
		 "data: {color: blue}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: decoy, namespace: %s}\n",
		 NS_A, (int)getpid(), NS_B, NS_G, NS_G, NS_G);
	cr_assert_eq(live_kubectl(yaml, "apply -f -"), 0);
}

static void teardown(void)
{
	live_kubectl(NULL, "delete namespace %s %s %s --ignore-not-found --wait=false", NS_A, NS_B, NS_G);
	related_free(&rel);
	discovery_free(&disco);
	kclient_free(&client);
	restconfig_free(&rc);
}

TestSuite(related_live, .init = setup, .fini = teardown, .timeout = 120);

static void rules_of(const char *answer, const char *parent_ns, struct relrule_set *s)
{
	struct json_object *root = json_tokener_parse(answer);
	cr_assert_not_null(root);
	struct cx_err err = { 0 };
	cr_assert_eq(relrule_parse_answer("customize", false, root, parent_ns, s, &err), 0, "%s", err.msg);
	json_object_put(root);
}

Test(related_live, cluster_scoped_parent_sees_labelled_namespaces_and_a_named_configmap)
{
	struct relrule_set s = { 0 };
	char answer[1024];
	snprintf(answer, sizeof(answer),
		 "{\"relatedResources\": [{\"apiVersion\": \"v1\", \"resource\": \"configmaps\", "
		 "\"namespace\": \"%s\", \"names\": [\"settings\"]}, {\"apiVersion\": \"v1\", \"resource\": "
		 "\"namespaces\", \"labelSelector\": {\"matchLabels\": {\"rel-live\": \"%d\"}}}]}",
		 NS_G, (int)getpid());
	rules_of(answer, NULL, &s);
	struct json_object *parent = json_tokener_parse("{\"apiVersion\": \"example.com/v1\", \"kind\": \"Global\", "
							"\"metadata\": {\"name\": \"g\"}}");
	struct json_object *map = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(related_objects(rel, &s, parent, &map, &err), 0, "%s", err.msg);
	struct json_object *cms = jsonget(map, "ConfigMap.v1"), *nss = jsonget(map, "Namespace.v1");
	cr_assert_eq(json_object_object_length(cms), 1, "%s", json_object_to_json_string(map));
	char key[128];
	snprintf(key, sizeof(key), "%s/settings", NS_G);
	struct json_object *cm = jsonget(cms, key);
	cr_assert_not_null(cm, "a namespaced object under a cluster-scoped parent: namespace/name");
	cr_assert_str_eq(jsonget_string(cm, "kind"), "ConfigMap");
	cr_assert_str_eq(jsonget_string(cm, "apiVersion"), "v1");
	cr_assert_str_eq(jsonget_string(jsonget(cm, "data"), "color"), "blue");
	cr_assert_null(jsonget(jsonget(cm, "metadata"), "managedFields"));
	cr_assert_eq(json_object_object_length(nss), 1, "%s", json_object_to_json_string(nss));
	cr_assert_not_null(jsonget(nss, NS_A));
	json_object_put(map);
	json_object_put(parent);
	relrule_set_clear(&s);
}

Test(related_live, namespaced_parent_sees_its_own_namespace_only)
{
	struct relrule_set s = { 0 };
	rules_of("{\"relatedResources\": [{\"apiVersion\": \"v1\", \"resource\": \"configmaps\", \"labelSelector\": "
		 "{}}]}",
		 NS_G, &s);
	char pj[256];
	snprintf(pj, sizeof(pj), "{\"metadata\": {\"name\": \"p\", \"namespace\": \"%s\"}}", NS_G);
	struct json_object *parent = json_tokener_parse(pj);
	struct json_object *map = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(related_objects(rel, &s, parent, &map, &err), 0, "%s", err.msg);
	struct json_object *cms = jsonget(map, "ConfigMap.v1");
	cr_assert_not_null(jsonget(cms, "settings"), "%s", json_object_to_json_string(map));
	cr_assert_not_null(jsonget(cms, "decoy"));
	json_object_object_foreach(cms, k, v)
	{
		(void)k;
		cr_assert_str_eq(jsonget_string(jsonget(v, "metadata"), "namespace"), NS_G);
	}
	json_object_put(map);
	json_object_put(parent);
	relrule_set_clear(&s);
}

Test(related_live, an_unknown_resource_is_named)
{
	struct relrule_set s = { 0 };
	rules_of("{\"relatedResources\": [{\"apiVersion\": \"v1\", \"resource\": \"namespaces\"}, {\"apiVersion\": "
		 "\"v1\", \"resource\": \"confgmaps\"}]}",
		 NULL, &s);
	struct json_object *parent = json_tokener_parse("{\"metadata\": {\"name\": \"g\"}}");
	struct json_object *map = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(related_objects(rel, &s, parent, &map, &err), -ENOENT);
	cr_assert_null(map);
	cr_assert(strstr(err.msg,
			 "relatedResources[1].resource: confgmaps v1: the API server serves v1 but no "
			 "resource confgmaps in it"),
		  "%s", err.msg);
	relrule_set_clear(&s);
	rules_of("{\"relatedResources\": [{\"apiVersion\": \"nothing.coxswain.io/v1\", \"resource\": \"things\"}]}",
		 NULL, &s);
	cr_assert_eq(related_objects(rel, &s, parent, &map, &err), -ENOENT);
	cr_assert(strstr(err.msg,
			 "relatedResources[0].resource: things nothing.coxswain.io/v1: the API server "
			 "does not serve nothing.coxswain.io/v1"),
		  "%s", err.msg);
	json_object_put(parent);
	relrule_set_clear(&s);
}

/* watcher/controller against the real kube-apiserver, on the paths that read
 * the compact cache: a metacontroller CompositeController without
 * generateSelector (parents: Deployments, whose spec.selector picks the
 * orphan ConfigMaps they adopt). An orphan that appears enqueues exactly the
 * parents whose selector matches it (found from the cache's indexed fields
 * and the selectors the parent handlers keep, no parent parsed), and the
 * job's objects are the caller's: the parent, and the orphans it would
 * adopt as children. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "controller.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "jsonget.h"
#include "kclient.h"
#include "kwatch.h"
#include "live.h"
#include "restconfig.h"
#include "workqueue.h"

static struct restconfig *rc;
static struct kclient *c;
static struct kwatch_mux *mux;
static struct discovery *disco;
static struct workqueue *queue;
static struct informer *crds;
static char ns[64];
static struct kresource crd_resource = { .group = "apiextensions.k8s.io",
					 .version = "v1",
					 .api_version = "apiextensions.k8s.io/v1",
					 .kind = "CustomResourceDefinition",
					 .resource = "customresourcedefinitions",
					 .namespaced = false };

/* One turn of a watcher's loop for ctl (NULL: only the CRD informer). */
static void turn(struct controller *ctl)
{
	struct cx_err err = { 0 };
	informer_tick(crds, clock_monotonic_ms(), &err);
	if (ctl)
		controller_tick(ctl, informer_synced(crds) ? crds : NULL, clock_monotonic_ms());
	struct pollfd fds[16];
	long timeout_ms;
	size_t n = kwatch_mux_pollfds(mux, fds, 16, &timeout_ms);
	if (timeout_ms < 0 || timeout_ms > 100)
		timeout_ms = 100;
	poll(fds, n, (int)timeout_ms);
	cr_assert_eq(kwatch_mux_dispatch(mux, fds, n), 0);
}

/* Takes every ready key off the queue: " key1 key2 ..." into buf. */
static void drain(char *buf, size_t len)
{
	const char *key = NULL;
	buf[0] = '\0';
	while (!workqueue_get(queue, clock_monotonic_ms(), &key)) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, " %s", key);
		workqueue_done(queue, key, clock_monotonic_ms());
	}
}

/* Turns the loop until key is queued (at most 30 s); what was queued. */
static void wait_for_key(struct controller *ctl, const char *key, char *buf, size_t len)
{
	char want[256];
	snprintf(want, sizeof(want), " %s", key);
	char all[4096] = "";
	for (int64_t start = clock_monotonic_ms(); clock_monotonic_ms() - start < 30000;) {
		turn(ctl);
		char got[1024];
		drain(got, sizeof(got));
		size_t used = strlen(all);
		snprintf(all + used, sizeof(all) - used, "%s", got);
		if (strstr(all, want))
			break;
	}
	snprintf(buf, len, "%s", all);
}

static void create(const char *path, const char *body)
{
	struct json_object *o = json_tokener_parse(body);
	cr_assert_not_null(o, "%s", body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, path, o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

static void deployment(const char *name)
{
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"%s\"},"
		 "\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}},"
		 "\"template\":{\"metadata\":{\"labels\":{\"app\":\"%s\"}},"
		 "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"example.invalid/none\"}]}}}}",
		 name, name, name);
	create(path, body);
}

static void configmap(const char *name, const char *app)
{
	char path[256], body[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\",\"labels\":{\"app\":\"%"
		 "s\"}}}",
		 name, app);
	create(path, body);
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	disco = discovery_new(c);
	workqueue_new("test", NULL, &queue, &err);
	cr_assert_not_null(queue, "%s", err.msg);
	struct informer_options o = { .resource = &crd_resource };
	informer_new(c, mux, &o, &crds, &err);
	cr_assert_not_null(crds, "%s", err.msg);
	snprintf(ns, sizeof(ns), "ctl-%d", (int)getpid());
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	create("/api/v1/namespaces", body);
}

static void teardown(void)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	kclient_delete(c, path, NULL, NULL, NULL);
	informer_free(&crds);
	workqueue_free(&queue);
	discovery_free(&disco);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(controller_live, .init = setup, .fini = teardown, .timeout = 120);

Test(controller_live, an_orphan_enqueues_the_parents_whose_selector_matches_it)
{
	char name[] = "adopt", pav[] = "apps/v1", pkind[] = "Deployment", cav[] = "v1", ckind[] = "ConfigMap";
	struct config_child child = { .api_version = cav, .kind = ckind };
	struct config_controller cc = { .name = name,
					.parent_api_version = pav,
					.parent_kind = pkind,
					.children = &child,
					.n_children = 1,
					.namespace = ns,
					.origin = CONFIG_ORIGIN_METACONTROLLER,
					.kind = CONFIG_KIND_COMPOSITE,
					/* no Deployment controller runs in the fixture; were one to write
				        * status, it would queue nothing */
					.ignore_status_changes = true };
	struct controller_env env = { .client = c, .mux = mux, .discovery = disco, .queue = queue };
	struct cx_err err = { 0 };
	struct controller *ctl = NULL;
	controller_new(&cc, &env, &ctl, &err);
	cr_assert_not_null(ctl, "%s", err.msg);

	deployment("web");
	deployment("api");
	for (int64_t start = clock_monotonic_ms(); !controller_ready(ctl) && clock_monotonic_ms() - start < 30000;)
		turn(ctl);
	cr_assert(controller_ready(ctl), "%s", controller_waiting_for(ctl));
	cr_assert_eq(controller_parents(ctl), 2);

	char got[4096], key[256];
	snprintf(key, sizeof(key), "adopt/%s/api", ns);
	wait_for_key(ctl, key, got, sizeof(got));
	cr_assert(strstr(got, key), "the parents' adds queue them: %s", got);

	/* An orphan labelled app=web: web's selector matches, api's does not. */
	configmap("stray", "web");
	snprintf(key, sizeof(key), "adopt/%s/web", ns);
	wait_for_key(ctl, key, got, sizeof(got));
	cr_assert(strstr(got, key), "the orphan queues the parent that would adopt it: \"%s\"", got);
	snprintf(key, sizeof(key), "adopt/%s/api", ns);
	cr_assert_null(strstr(got, key), "and not the other one: \"%s\"", got);

	/* The job: the parent and, as a child, the orphan it would adopt; each
	 * tree the caller's. */
	struct json_object *parent = NULL, *children = NULL;
	char ns_name[128];
	snprintf(ns_name, sizeof(ns_name), "%s/web", ns);
	cr_assert_eq(controller_job_objects(ctl, ns_name, &parent, &children), 0);
	cr_assert_str_eq(jsonget_string(jsonget(parent, "metadata"), "name"), "web");
	cr_assert_str_eq(jsonget_string(parent, "kind"), "Deployment");
	struct json_object *stray = jsonget(jsonget(children, "ConfigMap.v1"), "stray");
	cr_assert_not_null(stray, "the orphan is among web's children: %s", json_object_to_json_string(children));
	cr_assert_str_eq(jsonget_string(jsonget(jsonget(stray, "metadata"), "labels"), "app"), "web");
	json_object_put(parent);
	json_object_put(children);
	snprintf(ns_name, sizeof(ns_name), "%s/api", ns);
	cr_assert_eq(controller_job_objects(ctl, ns_name, &parent, &children), 0);
	cr_assert_eq(json_object_object_length(jsonget(children, "ConfigMap.v1")), 0, "api adopts nothing: %s",
		     json_object_to_json_string(children));
	json_object_put(parent);
	json_object_put(children);
	snprintf(ns_name, sizeof(ns_name), "%s/nothing", ns);
	cr_assert_eq(controller_job_objects(ctl, ns_name, &parent, &children), -ENOENT);

	/* A parent deleted: an orphan it would have adopted queues nobody. */
	char path[256];
	snprintf(path, sizeof(path), "/apis/apps/v1/namespaces/%s/deployments/api", ns);
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	for (int64_t start = clock_monotonic_ms();
	     controller_parents(ctl) != 1 && clock_monotonic_ms() - start < 30000;)
		turn(ctl);
	cr_assert_eq(controller_parents(ctl), 1);
	drain(got, sizeof(got));
	configmap("stray-api", "api");
	configmap("stray-web", "web");
	snprintf(key, sizeof(key), "adopt/%s/web", ns);
	wait_for_key(ctl, key, got, sizeof(got));
	cr_assert(strstr(got, key), "\"%s\"", got);
	snprintf(key, sizeof(key), "adopt/%s/api", ns);
	cr_assert_null(strstr(got, key), "a deleted parent is not queued: \"%s\"", got);
	controller_free(&ctl);
}

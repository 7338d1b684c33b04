/* watcher/informer against the real kube-apiserver: its compact store
 * (objstore) after the LIST and through WATCH events, the trees it hands out
 * (owned by the caller, without managedFields, with apiVersion/kind), and
 * the parsed objects its handlers get, old and new. */
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
#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "jsonget.h"
#include "kobj.h"
#include "kclient.h"
#include "kwatch.h"
#include "live.h"
#include "objstore.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static struct kwatch_mux *mux;
static char ns[64];
static char cms[256]; /* the configmaps of ns */
static struct kresource configmaps = { .group = "",
				       .version = "v1",
				       .api_version = "v1",
				       .kind = "ConfigMap",
				       .resource = "configmaps",
				       .namespaced = true };

/* What the handlers saw. */
struct seen {
	struct informer *inf; /* to look at the store from a handler */
	int adds, updates, deletes;
	char old_data[64], new_data[64], deleted_data[64];
	bool store_had_new;  /* in on_update, the store held the new version already */
	bool trees_complete; /* every object had apiVersion, kind, and no managedFields */
};

static const char *data_of(struct json_object *obj)
{
	return jsonget_string(jsonget(obj, "data"), "v") ?: "";
}

static void check_tree(struct seen *s, struct json_object *obj)
{
	if (!jsonget_string(obj, "apiVersion") || !jsonget_string(obj, "kind") ||
	    jsonget(jsonget(obj, "metadata"), "managedFields"))
		s->trees_complete = false;
}

static void on_add(void *ud, struct json_object *obj)
{
	struct seen *s = ud;
	check_tree(s, obj);
	s->adds++;
}

static void on_update(void *ud, struct json_object *old_obj, struct json_object *new_obj)
{
	struct seen *s = ud;
	check_tree(s, old_obj);
	check_tree(s, new_obj);
	snprintf(s->old_data, sizeof(s->old_data), "%s", data_of(old_obj));
	snprintf(s->new_data, sizeof(s->new_data), "%s", data_of(new_obj));
	char key[256];
	kobj_key(new_obj, key, sizeof(key));
	const struct objstore_entry *e = objstore_find(informer_objects(s->inf), key);
	const char *rv = jsonget_string(jsonget(new_obj, "metadata"), "resourceVersion");
	s->store_had_new = e && rv && e->resource_version && !strcmp(e->resource_version, rv);
	s->updates++;
}

static void on_delete(void *ud, struct json_object *obj)
{
	struct seen *s = ud;
	check_tree(s, obj);
	snprintf(s->deleted_data, sizeof(s->deleted_data), "%s", data_of(obj));
	s->deletes++;
}

/* Ticks the informer and runs the poll loop until *counter reaches want, at
 * most max_ms. */
static void pump(struct informer *inf, const int *counter, int want, int max_ms)
{
	int64_t start = clock_monotonic_ms();
	while (clock_monotonic_ms() - start < max_ms && (*counter < want || !informer_synced(inf))) {
		struct cx_err err = { 0 };
		informer_tick(inf, clock_monotonic_ms(), &err);
		struct pollfd fds[16];
		long timeout_ms;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &timeout_ms);
		if (timeout_ms < 0 || timeout_ms > 100)
			timeout_ms = 100;
		poll(fds, n, (int)timeout_ms);
		cr_assert_eq(kwatch_mux_dispatch(mux, fds, n), 0);
	}
}

/* POSTs (or PUTs, with put) body to path; the object written, owned. */
static struct json_object *write_obj(const char *path, const char *body, bool put)
{
	struct json_object *o = json_tokener_parse(body), *out = NULL;
	cr_assert_not_null(o, "%s", body);
	struct cx_err err = { 0 };
	int r = put ? kclient_update(c, path, o, &out, &err) : kclient_create(c, path, o, &out, &err);
	cr_assert_eq(r, 0, "%s", err.msg);
	json_object_put(o);
	return out;
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	snprintf(ns, sizeof(ns), "inf-%d", (int)getpid());
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	json_object_put(write_obj("/api/v1/namespaces", body, false));
}

static void teardown(void)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	kclient_delete(c, path, NULL, NULL, NULL);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(informer_live, .init = setup, .fini = teardown, .timeout = 90);

Test(informer_live, the_store_is_compact_and_trees_are_the_callers)
{
	char body[1024], path[512];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"parent\"},"
		 "\"data\":{\"v\":\"p\"}}");
	struct json_object *parent = write_obj(cms, body, false);
	const char *puid = jsonget_string(jsonget(parent, "metadata"), "uid");
	snprintf(
		body, sizeof(body),
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"child\",\"labels\":{\"a\":"
		"\"b\"},"
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"parent\",\"uid\":\"%s\","
		"\"controller\":true}]},\"data\":{\"v\":\"one\"}}",
		puid);
	struct json_object *child = write_obj(cms, body, false);

	struct seen seen = { .trees_complete = true };
	struct informer_options o = {
		.resource = &configmaps, .namespace = ns, .handlers = { on_add, on_update, on_delete }, .ud = &seen
	};
	struct cx_err err = { 0 };
	struct informer *inf = NULL;
	informer_new(c, mux, &o, &inf, &err);
	cr_assert_not_null(inf, "%s", err.msg);
	seen.inf = inf;
	pump(inf, &seen.adds, 2, 30000);
	cr_assert(informer_synced(inf));
	cr_assert_eq(seen.adds, 2, "the LIST told on_add of both");

	/* The indexed fields, read without parsing. */
	const struct objstore *store = informer_objects(inf);
	cr_assert_eq(objstore_count(store), 2);
	char key[256];
	snprintf(key, sizeof(key), "%s/child", ns);
	const struct objstore_entry *e = objstore_find(store, key);
	cr_assert_not_null(e, "%s is cached", key);
	cr_assert_str_eq(e->name, "child");
	cr_assert_str_eq(e->namespace, ns);
	cr_assert_str_eq(e->uid, jsonget_string(jsonget(child, "metadata"), "uid"));
	cr_assert_str_eq(e->resource_version, jsonget_string(jsonget(child, "metadata"), "resourceVersion"));
	cr_assert_str_eq(e->owner_uid, puid);
	cr_assert_str_eq(e->owner_kind, "ConfigMap");
	cr_assert_str_eq(e->owner_api_version, "v1");
	cr_assert_str_eq(e->owner_name, "parent");
	cr_assert_null(objstore_find(store, "child"), "namespaced: the key has the namespace");

	/* A tree of the caller's own, as a LIST's item made whole. */
	struct json_object *a = informer_get_new(inf, key), *b = informer_get_new(inf, key);
	cr_assert_not_null(a);
	cr_assert_neq(a, b, "a new tree each time");
	cr_assert_str_eq(jsonget_string(a, "apiVersion"), "v1");
	cr_assert_str_eq(jsonget_string(a, "kind"), "ConfigMap");
	cr_assert_null(jsonget(jsonget(a, "metadata"), "managedFields"), "the cache drops managedFields");
	cr_assert_not_null(jsonget(jsonget(child, "metadata"), "managedFields"), "the server did send some");
	cr_assert_str_eq(jsonget_string(jsonget(jsonget(a, "metadata"), "labels"), "a"), "b");
	json_object_object_del(jsonget(a, "metadata"), "labels");
	json_object_put(a);
	struct json_object *c2 = informer_get_new(inf, key);
	cr_assert(json_object_equal(b, c2), "changing a caller's tree changes nothing cached");
	json_object_put(c2);
	json_object_put(b);
	snprintf(path, sizeof(path), "%s/nothing", ns);
	cr_assert_null(informer_get_new(inf, path));

	/* A change: on_update gets the old object and the new one, parsed, and
	 * the store has the new one already. */
	json_object_object_add(jsonget(child, "data"), "v", json_object_new_string("two"));
	json_object_object_del(jsonget(child, "metadata"), "managedFields");
	snprintf(path, sizeof(path), "%s/child", cms);
	struct json_object *updated = write_obj(path, json_object_to_json_string(child), true);
	pump(inf, &seen.updates, 1, 30000);
	cr_assert_eq(seen.updates, 1);
	cr_assert_str_eq(seen.old_data, "one");
	cr_assert_str_eq(seen.new_data, "two");
	cr_assert(seen.store_had_new, "the store holds the change when on_update runs");
	e = objstore_find(store, key);
	cr_assert_str_eq(e->resource_version, jsonget_string(jsonget(updated, "metadata"), "resourceVersion"));

	/* A delete: on_delete gets the cached object; the store forgets it. */
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	pump(inf, &seen.deletes, 1, 30000);
	cr_assert_eq(seen.deletes, 1);
	cr_assert_str_eq(seen.deleted_data, "two");
	cr_assert_eq(objstore_count(store), 1);
	cr_assert_null(objstore_find(store, key));
	cr_assert(seen.trees_complete, "every tree a handler got had apiVersion and kind, and no managedFields");

	informer_free(&inf);
	cr_assert_null(inf);
	json_object_put(updated);
	json_object_put(child);
	json_object_put(parent);
}

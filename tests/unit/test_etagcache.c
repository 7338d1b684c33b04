/* etagcache: metacontroller's key (the root object's kind, namespace and
 * name, per hook), expiry on a fake clock, sweeping, the bound. */
#include "config.h"

#include <errno.h>
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "etagcache.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static char *key_of(const char *scope, const char *request_json)
{
	struct json_object *r = json(request_json);
	struct cx_err err = { 0 };
	char *k = etagcache_key(scope, r, &err);
	json_object_put(r);
	cr_assert_not_null(k, "%s", err.msg);
	return k;
}

/* The key is the parent's kind, namespace and name: children, the
 * controller and the parent's content do not change it. */
Test(etagcache, the_key_is_the_root_objects_kind_namespace_and_name)
{
	char *a = key_of("web/sync",
			 "{\"controller\": {}, \"parent\": {\"kind\": \"Site\", \"metadata\": "
			 "{\"name\": \"x\", \"namespace\": \"ns1\", \"generation\": 1}}, \"children\": {}}");
	char *b = key_of("web/sync",
			 "{\"controller\": {\"a\": 1}, \"parent\": {\"kind\": \"Site\", \"metadata\": "
			 "{\"name\": \"x\", \"namespace\": \"ns1\", \"generation\": 7}, \"spec\": {}}, \"children\": "
			 "{\"ConfigMap.v1\": {\"c\": {}}}}");
	cr_assert_str_eq(a, b);
	cr_assert_str_eq(a, "web/sync\nSite\nns1\nx");
	char *other_ns = key_of("web/sync",
				"{\"parent\": {\"kind\": \"Site\", \"metadata\": {\"name\": \"x\", "
				"\"namespace\": \"ns2\"}}}");
	char *other_kind = key_of("web/sync",
				  "{\"parent\": {\"kind\": \"Page\", \"metadata\": {\"name\": \"x\", "
				  "\"namespace\": \"ns1\"}}}");
	char *other_hook = key_of("web/finalize",
				  "{\"parent\": {\"kind\": \"Site\", \"metadata\": {\"name\": "
				  "\"x\", \"namespace\": \"ns1\"}}}");
	char *cluster = key_of("web/sync", "{\"parent\": {\"kind\": \"Site\", \"metadata\": {\"name\": \"x\"}}}");
	cr_assert_str_neq(a, other_ns);
	cr_assert_str_neq(a, other_kind);
	cr_assert_str_neq(a, other_hook);
	cr_assert_str_eq(cluster, "web/sync\nSite\n\nx");
	/* A decorator's request names its object. */
	char *deco = key_of("d/sync",
			    "{\"object\": {\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", "
			    "\"namespace\": \"n\"}}, \"attachments\": {}}");
	cr_assert_str_eq(deco, "d/sync\nPod\nn\np");
	free(a);
	free(b);
	free(other_ns);
	free(other_kind);
	free(other_hook);
	free(cluster);
	free(deco);
}

Test(etagcache, a_request_without_a_root_object_has_no_key)
{
	struct json_object *r = json("{\"parent\": {\"metadata\": {\"name\": \"x\"}}}");
	struct cx_err err = { 0 };
	cr_assert_null(etagcache_key("s", r, &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "kind"), "%s", err.msg);
	json_object_put(r);
}

Test(etagcache, an_entry_is_returned_until_it_expires)
{
	struct etagcache *c = etagcache_new(0);
	cr_assert_null(etagcache_get(c, "k", 0));
	cr_assert_eq(etagcache_put(c, "k", "\"v1\"", "{\"a\":1}", 7, 30000, 1000), 0);
	const struct etagcache_entry *e = etagcache_get(c, "k", 1000);
	cr_assert_not_null(e);
	cr_assert_str_eq(e->etag, "\"v1\"");
	cr_assert_eq(e->len, 7);
	cr_assert_str_eq(e->body, "{\"a\":1}");
	cr_assert_not_null(etagcache_get(c, "k", 30999));
	cr_assert_null(etagcache_get(c, "k", 31000), "expired 30 s after it was stored");
	/* Stored again: fresh again, with the new answer. */
	cr_assert_eq(etagcache_put(c, "k", "W/\"v2\"", "{}", 2, 30000, 40000), 0);
	e = etagcache_get(c, "k", 69999);
	cr_assert_not_null(e);
	cr_assert_str_eq(e->etag, "W/\"v2\"");
	cr_assert_eq(etagcache_size(c), 1);
	etagcache_free(&c);
	cr_assert_null(c);
}

Test(etagcache, no_timeout_means_never_expires)
{
	struct etagcache *c = etagcache_new(0);
	cr_assert_eq(etagcache_put(c, "k", "e", "b", 1, 0, 5), 0);
	cr_assert_not_null(etagcache_get(c, "k", INT64_MAX / 2));
	etagcache_forget(c, "k");
	cr_assert_null(etagcache_get(c, "k", 5));
	cr_assert_eq(etagcache_size(c), 0);
	etagcache_free(&c);
}

Test(etagcache, sweeping_removes_expired_entries_once_per_cleanup_interval)
{
	struct etagcache *c = etagcache_new(0);
	cr_assert_eq(etagcache_put(c, "short", "e", "b", 1, 1000, 0), 0);
	cr_assert_eq(etagcache_put(c, "long", "e", "b", 1, 100000, 0), 0);
	cr_assert_eq(etagcache_sweep(c, 5000, 0), 0, "the first call starts the interval");
	cr_assert_eq(etagcache_sweep(c, 5000, 4999), 0, "not due yet");
	cr_assert_eq(etagcache_size(c), 2, "an expired entry stays until swept");
	cr_assert_eq(etagcache_sweep(c, 5000, 5000), 1);
	cr_assert_eq(etagcache_size(c), 1);
	cr_assert_not_null(etagcache_get(c, "long", 5000));
	cr_assert_eq(etagcache_sweep(c, 0, 1000000), 0, "no cleanup interval: no sweeping");
	etagcache_free(&c);
}

Test(etagcache, a_full_cache_drops_the_entry_stored_longest_ago)
{
	struct etagcache *c = etagcache_new(3);
	char key[16];
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(etagcache_put(c, key, "e", "b", 1, 0, i), 0);
	}
	cr_assert_eq(etagcache_put(c, "k0", "e2", "b", 1, 0, 10), 0, "k0 stored again: now the newest");
	cr_assert_eq(etagcache_put(c, "k3", "e", "b", 1, 0, 11), 0);
	cr_assert_eq(etagcache_size(c), 3);
	cr_assert_null(etagcache_get(c, "k1", 11), "k1 was the oldest");
	cr_assert_not_null(etagcache_get(c, "k0", 11));
	cr_assert_not_null(etagcache_get(c, "k2", 11));
	cr_assert_not_null(etagcache_get(c, "k3", 11));
	/* An expired entry goes before any live one. */
	cr_assert_eq(etagcache_put(c, "k2", "e", "b", 1, 5, 20), 0);
	cr_assert_eq(etagcache_put(c, "k4", "e", "b", 1, 0, 30), 0);
	cr_assert_null(etagcache_get(c, "k2", 30));
	cr_assert_not_null(etagcache_get(c, "k0", 30));
	cr_assert_not_null(etagcache_get(c, "k3", 30));
	cr_assert_not_null(etagcache_get(c, "k4", 30));
	etagcache_free(&c);
}

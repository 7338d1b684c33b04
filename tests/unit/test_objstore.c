/* watcher/objstore: the informer's compact cache (serialized JSON plus the
 * indexed fields, keyed "ns/name"). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "objstore.h"

static struct json_object *json(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	cr_assert_not_null(o, "test JSON: %s", s);
	return o;
}

static void put(struct objstore *s, const char *text)
{
	struct json_object *o = json(text);
	struct cx_err err = { 0 };
	cr_assert_eq(objstore_put(s, o, &err), 0, "put %s: %s", text, err.msg);
	json_object_put(o);
}

static const char *CHILD =
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\","
	"\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"generation\":3,\"labels\":{\"a\":\"b\"},"
	"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"name\":\"other\",\"uid\":\"o-0\"},"
	"{\"apiVersion\":\"example.com/v1\",\"kind\":\"Website\",\"name\":\"site\",\"uid\":\"p-1\","
	"\"controller\":true,\"blockOwnerDeletion\":true}]},"
	"\"data\":{\"x\":\"a/b \\\"quoted\\\" \\u00e9\",\"n\":1.50,\"big\":9007199254740993}}";

Test(objstore, put_then_find_has_the_indexed_fields)
{
	struct objstore *s = objstore_new();
	cr_assert_not_null(s);
	put(s, CHILD);
	cr_assert_eq(objstore_count(s), 1);
	const struct objstore_entry *e = objstore_find(s, "shop/web");
	cr_assert_not_null(e);
	cr_assert_str_eq(e->key, "shop/web");
	cr_assert_str_eq(e->name, "web");
	cr_assert_str_eq(e->namespace, "shop");
	cr_assert_str_eq(e->uid, "u-1");
	cr_assert_str_eq(e->resource_version, "42");
	cr_assert_eq(e->generation, 3);
	cr_assert_not(e->deleting);
	cr_assert_str_eq(e->owner_uid, "p-1", "the controller reference, not the first one");
	cr_assert_str_eq(e->owner_kind, "Website");
	cr_assert_str_eq(e->owner_api_version, "example.com/v1");
	cr_assert_str_eq(e->owner_name, "site");
	char *text = objstore_entry_json_new(s, e);
	cr_assert_not_null(text);
	cr_assert_eq(e->json_len, strlen(text));
	free(text);
	cr_assert_null(objstore_find(s, "web"));
	cr_assert_null(objstore_find(s, "shop/we"));
	objstore_free(&s);
	cr_assert_null(s);
}

/* The namespace and the owner's kind and apiVersion are shared by the
 * entries that have them; each entry's stay right while others come and
 * go (ASan sees a string freed too early), and the name is its key's end. */
Test(objstore, shared_strings_outlive_the_entries_that_go)
{
	struct objstore *s = objstore_new();
	cr_assert_not_null(s);
	char text[1024];
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"c%d\",\"namespace\":\"%s\",\"ownerReferences\":[{\"apiVersion\":"
			 "\"example.com/"
			 "v1\",\"kind\":\"Website\",\"name\":\"p\",\"uid\":\"p-1\",\"controller\":true}]}}",
			 i, i < 2 ? "shop" : "blog");
		put(s, text);
	}
	const struct objstore_entry *a = objstore_find(s, "shop/c0"), *b = objstore_find(s, "shop/c1");
	cr_assert(a && b);
	cr_assert_eq(a->namespace, b->namespace, "one copy of a namespace");
	cr_assert_eq(a->owner_kind, b->owner_kind);
	cr_assert_eq(a->name, a->key + strlen("shop/"), "the name is the end of the key");
	cr_assert_eq(objstore_delete(s, "shop/c0"), 0);
	put(s, "{\"metadata\":{\"name\":\"c1\",\"namespace\":\"shop\"}}"); /* no owner any more */
	b = objstore_find(s, "shop/c1");
	cr_assert_str_eq(b->namespace, "shop");
	cr_assert_null(b->owner_kind);
	const struct objstore_entry *c = objstore_find(s, "blog/c2");
	cr_assert_str_eq(c->namespace, "blog");
	cr_assert_str_eq(c->owner_kind, "Website", "still there: another entry let it go");
	cr_assert_str_eq(c->owner_api_version, "example.com/v1");
	cr_assert_eq(objstore_delete(s, "shop/c1"), 0);
	put(s, "{\"metadata\":{\"name\":\"c3\",\"namespace\":\"shop\"}}"); /* shop again, after its last went */
	cr_assert_str_eq(objstore_find(s, "shop/c3")->namespace, "shop");
	objstore_free(&s);
}

Test(objstore, get_new_is_an_owned_copy_equal_to_what_was_put)
{
	struct objstore *s = objstore_new();
	put(s, CHILD);
	struct json_object *want = json(CHILD);
	struct json_object *a = objstore_get_new(s, "shop/web"), *b = objstore_get_new(s, "shop/web");
	cr_assert_not_null(a);
	cr_assert_neq(a, b, "each call builds a new tree");
	cr_assert(json_object_equal(a, want), "got %s", json_object_to_json_string(a));
	/* Numbers keep their text (1.50, an integer past 2^53). */
	cr_assert_str_eq(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
			 json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN));
	json_object_object_add(a, "spoiled", json_object_new_int(1));
	json_object_put(a);
	cr_assert(json_object_equal(b, want), "changing a copy does not change the store");
	json_object_put(b);
	struct json_object *c = objstore_get_new(s, "shop/web");
	cr_assert(json_object_equal(c, want));
	json_object_put(c);
	cr_assert_null(objstore_get_new(s, "shop/nothing"));
	const struct objstore_entry *e = objstore_find(s, "shop/web");
	struct json_object *d = objstore_entry_parse_new(s, e);
	cr_assert(json_object_equal(d, want));
	json_object_put(d);
	json_object_put(want);
	objstore_free(&s);
}

Test(objstore, put_replaces_and_delete_removes)
{
	struct objstore *s = objstore_new();
	uint64_t r0 = objstore_revision(s);
	put(s, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"1\"}}");
	uint64_t r1 = objstore_revision(s);
	cr_assert_neq(r0, r1, "a put changes the revision");
	put(s, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"2\"},\"data\":{\"k\":\"v\"}}");
	cr_assert_neq(objstore_revision(s), r1);
	cr_assert_eq(objstore_count(s), 1);
	cr_assert_str_eq(objstore_find(s, "n/a")->resource_version, "2");
	struct json_object *o = objstore_get_new(s, "n/a");
	struct json_object *data = NULL;
	cr_assert(json_object_object_get_ex(o, "data", &data), "the new version replaced the old");
	json_object_put(o);
	uint64_t r2 = objstore_revision(s);
	cr_assert_eq(objstore_delete(s, "n/a"), 0);
	cr_assert_neq(objstore_revision(s), r2);
	cr_assert_eq(objstore_delete(s, "n/a"), -ENOENT);
	cr_assert_null(objstore_find(s, "n/a"));
	cr_assert_eq(objstore_count(s), 0);
	objstore_free(&s);
}

Test(objstore, keys_of_namespaced_and_cluster_scoped_objects_do_not_collide)
{
	struct objstore *s = objstore_new();
	put(s, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"a\",\"uid\":\"1\"}}");
	put(s, "{\"metadata\":{\"name\":\"a/b\",\"uid\":\"2\"}}"); /* not a valid name, but a key all the same */
	put(s, "{\"metadata\":{\"name\":\"b\",\"uid\":\"3\"}}");
	put(s, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"\",\"uid\":\"4\"}}"); /* "" is no namespace */
	put(s, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"c\",\"uid\":\"5\"}}");
	cr_assert_eq(objstore_count(s), 3, "a/b twice, b twice, c/b");
	cr_assert_str_eq(objstore_find(s, "a/b")->uid, "2");
	cr_assert_str_eq(objstore_find(s, "b")->uid, "4");
	cr_assert_null(objstore_find(s, "b")->namespace, "\"\" is kept as no namespace");
	cr_assert_str_eq(objstore_find(s, "c/b")->uid, "5");
	cr_assert_str_eq(objstore_find(s, "c/b")->namespace, "c");
	objstore_free(&s);
}

/* Enough keys that buckets are shared and the table grows several times;
 * deleting every other one must leave every other one reachable. */
Test(objstore, many_keys_grow_and_shrink)
{
	struct objstore *s = objstore_new();
	char text[256], key[64];
	const int n = 5000;
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text),
			 "{\"metadata\":{\"name\":\"o-%d\",\"namespace\":\"ns-%d\",\"uid\":\"u%d\"}}", i, i % 7, i);
		put(s, text);
	}
	cr_assert_eq(objstore_count(s), (size_t)n);
	for (int i = 0; i < n; i += 2) {
		snprintf(key, sizeof(key), "ns-%d/o-%d", i % 7, i);
		cr_assert_eq(objstore_delete(s, key), 0, "%s", key);
	}
	cr_assert_eq(objstore_count(s), (size_t)n / 2);
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "ns-%d/o-%d", i % 7, i);
		const struct objstore_entry *e = objstore_find(s, key);
		if (i % 2 == 0) {
			cr_assert_null(e, "%s was deleted", key);
			continue;
		}
		cr_assert_not_null(e, "%s", key);
		char uid[32];
		snprintf(uid, sizeof(uid), "u%d", i);
		cr_assert_str_eq(e->uid, uid);
	}
	objstore_free(&s);
}

Test(objstore, iteration_sees_every_entry_once)
{
	struct objstore *s = objstore_new();
	size_t it = 0;
	cr_assert_null(objstore_next(s, &it), "an empty store has nothing");
	char text[256];
	const int n = 300;
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "{\"metadata\":{\"name\":\"o-%d\",\"namespace\":\"n\",\"generation\":%d}}",
			 i, i);
		put(s, text);
	}
	for (int i = 0; i < n; i += 3) {
		snprintf(text, sizeof(text), "n/o-%d", i);
		objstore_delete(s, text);
	}
	int *seen = calloc(n, sizeof(*seen));
	size_t count = 0;
	it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(s, &it));) {
		int i = atoi(e->name + 2);
		cr_assert_eq(e->generation, i, "%s's fields go with it", e->key);
		seen[i]++;
		count++;
	}
	cr_assert_eq(count, objstore_count(s));
	for (int i = 0; i < n; i++)
		cr_assert_eq(seen[i], i % 3 ? 1 : 0, "o-%d seen %d times", i, seen[i]);
	cr_assert_null(objstore_next(s, &it), "the end stays the end");
	free(seen);
	objstore_free(&s);
}

Test(objstore, a_big_object_round_trips)
{
	size_t len = 2 * 1024 * 1024;
	char *big = malloc(len + 1);
	memset(big, 'q', len);
	big[len] = '\0';
	struct json_object *o = json("{\"metadata\":{\"name\":\"big\",\"namespace\":\"n\"},\"data\":{}}"), *data = NULL;
	json_object_object_get_ex(o, "data", &data);
	json_object_object_add(data, "blob", json_object_new_string(big));
	struct objstore *s = objstore_new();
	struct cx_err err = { 0 };
	cr_assert_eq(objstore_put(s, o, &err), 0, "%s", err.msg);
	const struct objstore_entry *e = objstore_find(s, "n/big");
	cr_assert_gt(e->json_len, len);
	struct json_object *back = objstore_get_new(s, "n/big");
	cr_assert(json_object_equal(back, o));
	json_object_put(back);
	json_object_put(o);
	free(big);
	objstore_free(&s);
}

Test(objstore, missing_fields_are_null_and_no_name_is_refused)
{
	struct objstore *s = objstore_new();
	put(s, "{\"metadata\":{\"name\":\"bare\",\"uid\":7,\"ownerReferences\":[{\"uid\":\"x\",\"kind\":\"K\"}]}}");
	const struct objstore_entry *e = objstore_find(s, "bare");
	cr_assert_not_null(e);
	cr_assert_null(e->namespace);
	cr_assert_null(e->uid, "a uid that is not a string is not one");
	cr_assert_null(e->resource_version);
	cr_assert_eq(e->generation, 0);
	cr_assert_not(e->deleting);
	cr_assert_null(e->owner_uid, "an owner that is not the controller is not indexed");
	cr_assert_null(e->owner_kind);
	cr_assert_null(e->owner_api_version);
	cr_assert_null(e->owner_name);
	put(s, "{\"metadata\":{\"name\":\"going\",\"deletionTimestamp\":\"2026-12-04T00:00:00Z\"}}");
	cr_assert(objstore_find(s, "going")->deleting);

	static const char *const bad[] = { "{}", "{\"metadata\":{}}", "{\"metadata\":{\"name\":3}}", "[]",
					   "{\"metadata\":\"x\"}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct json_object *o = json(bad[i]);
		struct cx_err err = { 0 };
		uint64_t rev = objstore_revision(s);
		cr_assert_eq(objstore_put(s, o, &err), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(err.msg, "metadata.name"), "the error names the field: %s", err.msg);
		cr_assert_eq(objstore_count(s), 2, "a refused put changes nothing");
		cr_assert_eq(objstore_revision(s), rev);
		json_object_put(o);
	}
	objstore_free(&s);
}

Test(objstore, put_entry_copies_between_stores)
{
	struct objstore *a = objstore_new(), *b = objstore_new();
	cr_assert_neq(objstore_revision(a), objstore_revision(b), "revisions are not shared between stores");
	put(a, CHILD);
	put(b, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"resourceVersion\":\"1\"}}");
	cr_assert_eq(objstore_put_entry(b, a, objstore_find(a, "shop/web")), 0);
	objstore_free(&a);
	const struct objstore_entry *e = objstore_find(b, "shop/web");
	cr_assert_eq(objstore_count(b), 1);
	cr_assert_str_eq(e->resource_version, "42");
	cr_assert_str_eq(e->owner_name, "site");
	cr_assert_eq(e->generation, 3);
	struct json_object *want = json(CHILD), *got = objstore_get_new(b, "shop/web");
	cr_assert(json_object_equal(got, want));
	json_object_put(got);
	json_object_put(want);
	objstore_free(&b);
}

/* A CRD's schema nests far deeper than json-c's default parse depth (32). */
Test(objstore, a_deeply_nested_object_round_trips)
{
	struct json_object *o = json("{\"metadata\":{\"name\":\"deep\"}}"), *at = o;
	for (int i = 0; i < 100; i++) {
		struct json_object *next = json_object_new_object();
		json_object_object_add(at, "properties", next);
		at = next;
	}
	struct objstore *s = objstore_new();
	struct cx_err err = { 0 };
	cr_assert_eq(objstore_put(s, o, &err), 0, "%s", err.msg);
	struct json_object *back = objstore_get_new(s, "deep");
	cr_assert_not_null(back, "parsed back at depth 100");
	cr_assert(json_object_equal(back, o));
	json_object_put(back);
	json_object_put(o);
	objstore_free(&s);
}

/* A ConfigMap child as the watcher caches them: the same shape, with the
 * parts that differ between objects (names, uids, resourceVersions) made
 * from i. With status, a parent after its first sync. */
static struct json_object *like_a_child(int i, bool status)
{
	char text[2048];
	snprintf(text, sizeof(text),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"p-%05d\","
		 "\"namespace\":\"shop\",\"uid\":\"%08x-3d4b-4c1c-88ae-%012x\",\"resourceVersion\":\"%d\","
		 "\"creationTimestamp\":\"2026-12-04T23:15:28Z\",\"labels\":{\"coxswain.io/controller\":\"compare\"},"
		 "\"ownerReferences\":[{\"apiVersion\":\"compare.coxswain.io/v1\",\"blockOwnerDeletion\":true,"
		 "\"controller\":true,\"kind\":\"Parent\",\"name\":\"p-%05d\",\"uid\":\"%08x-ec78-4d8c-9f10-%012x\"}]},"
		 "\"data\":{\"value\":\"v%d\"}%s}",
		 i, (unsigned)(i * 2654435761u), (unsigned)(i * 40503u), 1000 + i, i, (unsigned)(i * 97u + 13u),
		 (unsigned)(i * 7919u), i % 7,
		 status ? ",\"status\":{\"conditions\":[{\"lastTransitionTime\":\"2026-12-04T23:15:28Z\","
			  "\"message\":\"the hook ran and all 1 of its children are applied\",\"observedGeneration\":1,"
			  "\"reason\":\"ReconcileSucceeded\",\"status\":\"True\",\"type\":\"Synced\"}],"
			  "\"observedGeneration\":1,\"ready\":true}"
			: "");
	return json(text);
}

static size_t raw_bytes(const struct objstore *s)
{
	size_t total = 0, it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(s, &it));)
		total += e->json_len;
	return total;
}

static void put_many(struct objstore *s, int n, bool status)
{
	for (int i = 0; i < n; i++) {
		struct json_object *o = like_a_child(i, status);
		struct cx_err err = { 0 };
		cr_assert_eq(objstore_put(s, o, &err), 0, "%s", err.msg);
		json_object_put(o);
	}
}

static void all_round_trip(const struct objstore *s, int n, bool status)
{
	for (int i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "shop/p-%05d", i);
		struct json_object *want = like_a_child(i, status), *got = objstore_get_new(s, key);
		cr_assert_not_null(got, "%s", key);
		cr_assert(json_object_equal(got, want), "%s comes back as it went in", key);
		json_object_put(got);
		json_object_put(want);
	}
}

/* The point of compressing with a dictionary learnt from the store's own
 * objects: objects of one kind share most of their text. */
Test(objstore, many_objects_of_one_shape_are_kept_compressed)
{
	struct objstore *s = objstore_new();
	put_many(s, 3000, false);
	size_t raw = raw_bytes(s), stored = objstore_stored_bytes(s);
	cr_assert_lt(stored * 3, raw, "stored %zu bytes for %zu of JSON", stored, raw);
	all_round_trip(s, 3000, false);
	objstore_free(&s);
}

/* Parents change shape after their first sync (a status appears): the
 * dictionary learnt before does not know it, and is learnt again. */
Test(objstore, a_new_shape_is_learnt_again)
{
	struct objstore *s = objstore_new();
	put_many(s, 3000, false);
	put_many(s, 3000, true);
	size_t raw = raw_bytes(s), stored = objstore_stored_bytes(s);
	cr_assert_lt(stored * 3, raw, "stored %zu bytes for %zu of JSON", stored, raw);
	all_round_trip(s, 3000, true);
	objstore_free(&s);
}

/* Entries move between stores with dictionaries of their own (a fresh
 * list's store into the informer's), and deletes keep the rest readable. */
Test(objstore, compressed_entries_move_between_stores)
{
	struct objstore *a = objstore_new(), *b = objstore_new();
	put_many(a, 1000, true);
	put_many(b, 2000, false);
	size_t it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(a, &it));)
		cr_assert_eq(objstore_put_entry(b, a, e), 0);
	objstore_free(&a);
	for (int i = 1000; i < 2000; i += 2) {
		char key[32];
		snprintf(key, sizeof(key), "shop/p-%05d", i);
		cr_assert_eq(objstore_delete(b, key), 0);
	}
	cr_assert_eq(objstore_count(b), 1500);
	all_round_trip(b, 1000, true);
	char *text = objstore_entry_json_new(b, objstore_find(b, "shop/p-01001"));
	struct json_object *want = like_a_child(1001, false), *got = json(text);
	cr_assert(json_object_equal(got, want));
	json_object_put(got);
	json_object_put(want);
	free(text);
	objstore_free(&b);
}

#include "config.h"
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

static int freed;

static void count_free(void *v)
{
	freed++;
	free(v);
}

Test(strmap, put_get_replace_delete)
{
	freed = 0;
	struct strmap *m = strmap_new(count_free);
	cr_assert_not_null(m);
	cr_assert_null(strmap_get(m, "a"));
	cr_assert_not(strmap_has(m, "a"));
	cr_assert_eq(strmap_put(m, "a", strdup("1")), 0);
	cr_assert_eq(strmap_put(m, "b", strdup("2")), 0);
	cr_assert_str_eq(strmap_get(m, "a"), "1");
	cr_assert_str_eq(strmap_get(m, "b"), "2");
	cr_assert_eq(strmap_count(m), 2);
	/* Replacing frees the old value. */
	cr_assert_eq(strmap_put(m, "a", strdup("3")), 0);
	cr_assert_eq(freed, 1);
	cr_assert_str_eq(strmap_get(m, "a"), "3");
	cr_assert_eq(strmap_count(m), 2);
	cr_assert_eq(strmap_del(m, "a"), 0);
	cr_assert_eq(freed, 2);
	cr_assert_eq(strmap_del(m, "a"), -ENOENT);
	cr_assert_null(strmap_get(m, "a"));
	cr_assert_eq(strmap_count(m), 1);
	strmap_free(&m);
	cr_assert_null(m);
	cr_assert_eq(freed, 3, "freeing the map frees what it still holds");
	strmap_free(&m); /* NULL is fine */
}

Test(strmap, a_set_holds_null_values)
{
	struct strmap *m = strmap_new(NULL);
	cr_assert_eq(strmap_put(m, "x", NULL), 0);
	cr_assert(strmap_has(m, "x"));
	cr_assert_null(strmap_get(m, "x"));
	cr_assert_not(strmap_has(m, "y"));
	cr_assert_eq(strmap_put(m, "", NULL), 0, "the empty string is a key like any other");
	cr_assert(strmap_has(m, ""));
	cr_assert_eq(strmap_count(m), 2);
	strmap_free(&m);
}

Test(strmap, take_hands_the_value_back)
{
	freed = 0;
	struct strmap *m = strmap_new(count_free);
	char *v = strdup("v");
	cr_assert_eq(strmap_put(m, "k", v), 0);
	cr_assert_eq(strmap_take(m, "k"), v);
	cr_assert_eq(freed, 0);
	cr_assert_null(strmap_take(m, "k"));
	cr_assert_eq(strmap_count(m), 0);
	free(v);
	strmap_free(&m);
	cr_assert_eq(freed, 0);
}

/* Many keys, deleted in an order that exercises the shifts after a
 * deletion, with every survivor found each time. */
Test(strmap, many_keys_survive_growth_and_deletes)
{
	struct strmap *m = strmap_new(free);
	enum { N = 5000 };
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "ns-%d/name-%d", i % 7, i);
		char *v = malloc(sizeof(int));
		*(int *)v = i;
		cr_assert_eq(strmap_put(m, key, v), 0);
	}
	cr_assert_eq(strmap_count(m), N);
	for (int i = 0; i < N; i += 3) {
		snprintf(key, sizeof(key), "ns-%d/name-%d", i % 7, i);
		cr_assert_eq(strmap_del(m, key), 0, "%s", key);
	}
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "ns-%d/name-%d", i % 7, i);
		int *v = strmap_get(m, key);
		if (i % 3 == 0) {
			cr_assert_null(v, "%s was deleted", key);
		} else {
			cr_assert_not_null(v, "%s", key);
			cr_assert_eq(*v, i);
		}
	}
	cr_assert_eq(strmap_count(m), N - (N + 2) / 3);
	strmap_free(&m);
}

Test(strmap, next_visits_each_entry_once)
{
	struct strmap *m = strmap_new(NULL);
	const char *keys[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
	for (size_t i = 0; i < 9; i++)
		cr_assert_eq(strmap_put(m, keys[i], (void *)keys[i]), 0);
	int seen[9] = { 0 };
	size_t cursor = 0, n = 0;
	void *v;
	for (const char *k; (k = strmap_next(m, &cursor, &v)); n++) {
		cr_assert_str_eq(k, v);
		seen[k[0] - 'a']++;
	}
	cr_assert_eq(n, 9);
	for (size_t i = 0; i < 9; i++)
		cr_assert_eq(seen[i], 1, "%s seen %d times", keys[i], seen[i]);
	/* value may be NULL when the caller wants keys only */
	cursor = 0;
	cr_assert_not_null(strmap_next(m, &cursor, NULL));
	strmap_free(&m);
}

Test(strmap, clear_keeps_the_map_usable)
{
	freed = 0;
	struct strmap *m = strmap_new(count_free);
	for (int i = 0; i < 20; i++) {
		char k[8];
		snprintf(k, sizeof(k), "%d", i);
		cr_assert_eq(strmap_put(m, k, strdup(k)), 0);
	}
	strmap_clear(m);
	cr_assert_eq(freed, 20);
	cr_assert_eq(strmap_count(m), 0);
	cr_assert_null(strmap_get(m, "3"));
	cr_assert_eq(strmap_put(m, "3", strdup("3")), 0);
	cr_assert_str_eq(strmap_get(m, "3"), "3");
	strmap_free(&m);
	cr_assert_eq(freed, 21);
}

/* The point of the module: a small map costs little. An empty map holds no
 * table, and a map of one key stays far below a json-c object's ~700 bytes. */
Test(strmap, small_maps_are_small)
{
	struct strmap *m = strmap_new(NULL);
	size_t empty = strmap_bytes(m);
	cr_assert_eq(strmap_put(m, "default/p-00001", NULL), 0);
	cr_assert_lt(strmap_bytes(m), empty + 160, "one key costs %zu bytes", strmap_bytes(m) - empty);
	strmap_free(&m);
}

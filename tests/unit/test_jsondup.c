/* Unit tests for common/jsondup: the first key repeated within one object,
 * where it is, keys compared unescaped, and the top-level members whose
 * values are not looked into. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "jsondup.h"

static int find(const char *json, const char *const *skip, char *path, char *key)
{
	return jsondup_find(json, strlen(json), skip, path, 128, key, 64);
}

Test(jsondup, none)
{
	char path[128], key[64];
	cr_assert_eq(find("{\"a\": 1, \"b\": {\"a\": 2}, \"c\": [{\"a\": 1}, {\"a\": 2}]}", NULL, path, key), 0);
	cr_assert_str_eq(path, "");
	cr_assert_eq(find("[1, \"x\", true, null, -1.5e3, {}]", NULL, path, key), 0);
	cr_assert_eq(find(" \"a\" ", NULL, path, key), 0);
}

Test(jsondup, top_level)
{
	char path[128], key[64];
	cr_assert_eq(find("{\"children\": [], \"status\": {}, \"children\": null}", NULL, path, key), 1);
	cr_assert_str_eq(key, "children");
	cr_assert_str_eq(path, "", "the top-level object");
}

Test(jsondup, nested_with_its_path)
{
	char path[128], key[64];
	cr_assert_eq(find("{\"status\": {\"conditions\": [{\"type\": \"A\"}, {\"type\": \"B\", \"x\": 1, \"type\": "
			  "\"C\"}]}}",
			  NULL, path, key),
		     1);
	cr_assert_str_eq(path, "status.conditions[1]");
	cr_assert_str_eq(key, "type");
}

Test(jsondup, keys_compare_unescaped)
{
	char path[128], key[64];
	cr_assert_eq(find("{\"a\": 1, \"\\u0061\": 2}", NULL, path, key), 1);
	cr_assert_str_eq(key, "a");
	cr_assert_eq(find("{\"\\ud83d\\ude00\": 1, \"\xf0\x9f\x98\x80\": 2}", NULL, path, key), 1,
		     "a surrogate pair is the code point it encodes");
	cr_assert_eq(find("{\"a\\\"b\": 1, \"a\\\\\\\"b\": 2, \"a/b\": 3, \"a\\/b\": 4}", NULL, path, key), 1);
	cr_assert_str_eq(key, "a/b");
	cr_assert_eq(find("{\"A\": 1, \"a\": 2}", NULL, path, key), 0, "case matters");
}

Test(jsondup, skipped_members_are_not_looked_into)
{
	static const char *const skip[] = { "children", NULL };
	char path[128], key[64];
	const char *json = "{\"children\": [{\"metadata\": {\"name\": \"a\", \"name\": \"b\"}}], \"status\": {}}";
	cr_assert_eq(find(json, skip, path, key), 0);
	cr_assert_eq(find(json, NULL, path, key), 1);
	cr_assert_str_eq(path, "children[0].metadata");
	/* Only at the top level. */
	cr_assert_eq(find("{\"status\": {\"children\": {\"a\": 1, \"a\": 2}}}", skip, path, key), 1);
	cr_assert_str_eq(path, "status.children");
}

Test(jsondup, invalid_json)
{
	char path[128], key[64];
	cr_assert_eq(find("{\"a\": 1", NULL, path, key), -EBADMSG);
	cr_assert_eq(find("{\"a\" 1}", NULL, path, key), -EBADMSG);
	cr_assert_eq(find("{\"a\\q\": 1}", NULL, path, key), -EBADMSG);
}

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "jsonhash.h"

static void hash_of(const char *text, char out[JSONHASH_MAX])
{
	struct json_object *v = json_tokener_parse(text);
	cr_assert_not_null(v, "bad test JSON: %s", text);
	cr_assert_eq(jsonhash(v, out, JSONHASH_MAX), 0);
	json_object_put(v);
}

Test(jsonhash, is_sha256_of_the_canonical_form)
{
	char h[JSONHASH_MAX];
	/* sha256 of the 2 bytes "{}". */
	hash_of("{ }", h);
	cr_assert_str_eq(h, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	cr_assert_eq(strlen(h), JSONHASH_MAX - 1);
}

Test(jsonhash, ignores_key_order_at_every_level)
{
	char a[JSONHASH_MAX], b[JSONHASH_MAX];
	hash_of("{\"a\": 1, \"b\": {\"x\": [1, {\"p\": 1, \"q\": 2}], \"y\": \"s\"}}", a);
	hash_of("{\"b\": {\"y\": \"s\", \"x\": [1, {\"q\": 2, \"p\": 1}]}, \"a\": 1}", b);
	cr_assert_str_eq(a, b);
}

Test(jsonhash, tells_content_apart)
{
	char a[JSONHASH_MAX], b[JSONHASH_MAX];
	hash_of("{\"x\": [1, 2]}", a);
	hash_of("{\"x\": [2, 1]}", b);
	cr_assert_str_neq(a, b, "array order is content");
	hash_of("{\"x\": \"1\"}", b);
	hash_of("{\"x\": 1}", a);
	cr_assert_str_neq(a, b, "a string is not a number");
	hash_of("{\"a\": {\"b\": 1}}", a);
	hash_of("{\"a.b\": 1}", b);
	cr_assert_str_neq(a, b);
}

Test(jsonhash, refuses_a_short_buffer)
{
	struct json_object *v = json_object_new_object();
	char small[16];
	cr_assert_eq(jsonhash(v, small, sizeof(small)), -ENOSPC);
	json_object_put(v);
}

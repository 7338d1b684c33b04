#include "config.h"

#include "jsonhash.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"

static int by_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Feeds v's canonical JSON (object keys sorted at every level, no spaces)
 * to md. 0, or -ENOMEM. */
static int digest_canonical(EVP_MD_CTX *md, struct json_object *v)
{
	if (json_object_is_type(v, json_type_object)) {
		size_t n = (size_t)json_object_object_length(v), i = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		json_object_object_foreach(v, key, val)
		{
			(void)val;
			keys[i++] = key;
		}
		qsort(keys, n, sizeof(*keys), by_key);
		int r = EVP_DigestUpdate(md, "{", 1) ? 0 : -ENOMEM;
		for (i = 0; i < n && !r; i++) {
			struct json_object *k = json_object_new_string(keys[i]);
			const char *quoted = k ? json_object_to_json_string_ext(k, JSON_C_TO_STRING_PLAIN) : NULL;
			r = quoted && (!i || EVP_DigestUpdate(md, ",", 1)) &&
					EVP_DigestUpdate(md, quoted, strlen(quoted)) && EVP_DigestUpdate(md, ":", 1)
				? digest_canonical(md, jsonget(v, keys[i]))
				: -ENOMEM;
			json_object_put(k);
		}
		free(keys);
		return r || !EVP_DigestUpdate(md, "}", 1) ? -ENOMEM : 0;
	}
	if (json_object_is_type(v, json_type_array)) {
		int r = EVP_DigestUpdate(md, "[", 1) ? 0 : -ENOMEM;
		for (size_t i = 0; i < json_object_array_length(v) && !r; i++)
			r = !i || EVP_DigestUpdate(md, ",", 1) ? digest_canonical(md, json_object_array_get_idx(v, i))
							       : -ENOMEM;
		return r || !EVP_DigestUpdate(md, "]", 1) ? -ENOMEM : 0;
	}
	const char *text = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null";
	return EVP_DigestUpdate(md, text, strlen(text)) ? 0 : -ENOMEM;
}

int jsonhash(struct json_object *v, char *buf, size_t len)
{
	unsigned char sum[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int r = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) ? digest_canonical(md, v) : -ENOMEM;
	if (!r && !EVP_DigestFinal_ex(md, sum, &n))
		r = -ENOMEM;
	EVP_MD_CTX_free(md);
	if (r || len < 7 + 2 * (size_t)n + 1)
		return r ? r : -ENOSPC;
	memcpy(buf, "sha256:", 8);
	for (unsigned int i = 0; i < n; i++)
		snprintf(buf + 7 + 2 * i, 3, "%02x", sum[i]);
	return 0;
}

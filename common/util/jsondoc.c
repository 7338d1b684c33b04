#include "config.h"

#include "jsondoc.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_DEPTH 512

int jsondoc_parse(const char *data, size_t len, const struct jsondoc_options *opts, struct json_object **out, char *why,
		  size_t why_len)
{
	*out = NULL;
	if (len >= INT_MAX) {
		snprintf(why, why_len, "%zu bytes is more than the JSON parser takes", len);
		return -EFBIG;
	}
	/* json-c stops at a NUL as if the text ended there. */
	const char *nul = memchr(data, '\0', len);
	if (nul) {
		snprintf(why, why_len, "invalid JSON at byte %zu: NUL byte", (size_t)(nul - data));
		return -EBADMSG;
	}
	struct json_tokener *tok = json_tokener_new_ex(opts && opts->max_depth > 0 ? opts->max_depth : DEFAULT_DEPTH);
	if (!tok) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	if (opts)
		json_tokener_set_flags(tok,
				       (opts->strict ? JSON_TOKENER_STRICT : 0) |
					       (opts->validate_utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0));
	struct json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue && end == len) {
		/* A bare number or literal ("42", "null") is complete only once the
		 * tokener sees the text end: a NUL byte tells it so. */
		obj = json_tokener_parse_ex(tok, "", 1);
		if ((jerr = json_tokener_get_error(tok)) == json_tokener_success)
			end = len;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_success)
		while (end < len && isspace((unsigned char)data[end]))
			end++;
	if (jerr != json_tokener_success || end != len) {
		json_object_put(obj);
		snprintf(why, why_len, "invalid JSON at byte %zu: %s", end,
			 jerr == json_tokener_success            ? "trailing data"
				 : jerr == json_tokener_continue ? "unexpected end of data"
								 : json_tokener_error_desc(jerr));
		return -EBADMSG;
	}
	*out = obj;
	return 0;
}

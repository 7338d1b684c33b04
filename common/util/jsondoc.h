/* jsondoc: one whole JSON document parsed from a buffer (json-c), or the
 * byte where it went wrong. Every reader of JSON we did not write ourselves
 * (API responses, exec credentials, hook answers, watcher↔worker messages)
 * goes through here, so they reject the same things the same way. */
#ifndef COXSWAIN_JSONDOC_H
#define COXSWAIN_JSONDOC_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;

struct jsondoc_options {
	int max_depth; /* nesting allowed; 0 = 512 (CRDs with deep schemas nest far) */
	bool strict;   /* no trailing commas, leading zeros, single quotes ... */
	bool validate_utf8;
};

/* Parses data[0..len) as exactly one JSON value (whitespace around it
 * allowed). Returns 0 with *out owned by the caller; -EBADMSG with why set to
 * "invalid JSON at byte N: <reason>" (a NUL byte, trailing data, an
 * unexpected end, json-c's description); -EFBIG when len does not fit json-c;
 * -ENOMEM. opts may be NULL for the defaults. */
int jsondoc_parse(const char *data, size_t len, const struct jsondoc_options *opts, struct json_object **out, char *why,
		  size_t why_len);

#endif

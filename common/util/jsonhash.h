/* jsonhash: a digest of a JSON value that does not depend on the order of
 * its object keys (json-c keeps insertion order, and hooks write keys in any
 * order), for telling "the same content" without keeping the content. */
#ifndef COXSWAIN_JSONHASH_H
#define COXSWAIN_JSONHASH_H

#include <stddef.h>

struct json_object;

/* "sha256:" + 64 hex digits + NUL. */
#define JSONHASH_MAX 72

/* "sha256:<hex>" of v's canonical JSON (object keys sorted at every level,
 * no spaces; NULL hashes as null) into buf (JSONHASH_MAX bytes). Returns 0,
 * -ENOSPC when buf is too small, or -ENOMEM. */
int jsonhash(struct json_object *v, char *buf, size_t len);

#endif

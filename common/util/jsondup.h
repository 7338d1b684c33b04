/* jsondup: the first key repeated within one JSON object of a document.
 *
 * json-c keeps the last of two members with one name and says nothing, as
 * Go's encoding/json does; metacontroller's strict answer decoding
 * (responseUnMarshallMode strict, and every v2 hook) refuses them instead.
 * This scans the text itself, so it sees what the parsed tree has lost.
 * Keys are compared after unescaping ("a" and "\u0061" are the same key). */
#ifndef COXSWAIN_JSONDUP_H
#define COXSWAIN_JSONDUP_H

#include <stdbool.h>
#include <stddef.h>

/* Looks for a repeated key in data[0..len), which must be valid JSON (check
 * it with jsondoc_parse first). The values of the top-level members named
 * in skip (NULL-terminated; skip may be NULL) are not looked into. Returns
 * 1 with key set to the repeated key and path to the object that holds it
 * twice ("status.conditions[0]"; "" for the top-level object), 0 when there
 * is none, -EBADMSG when data is not valid JSON, -ENOMEM. path and key are
 * cut to their sizes (key at a NUL it holds). */
int jsondup_find(const char *data, size_t len, const char *const *skip, char *path, size_t path_len, char *key,
		 size_t key_len);

#endif

/* blob: an owned run of bytes (PEM data, file contents), kept in memory so
 * that credentials never pass through temporary files. */
#ifndef COXSWAIN_BLOB_H
#define COXSWAIN_BLOB_H

#include <stddef.h>

struct cx_err;

struct blob {
	unsigned char *data; /* owned; NUL-terminated for convenience, NULL when empty */
	size_t len;          /* bytes, without the terminating NUL */
};

/* Reads the whole file at path into *out (which must be empty). Files larger
 * than max_len are refused. The message names the path. */
int blob_read_file(const char *path, size_t max_len, struct blob *out, struct cx_err *err);

/* Copies len bytes into *out (which must be empty). */
int blob_set(struct blob *out, const void *data, size_t len, struct cx_err *err);

/* Frees the bytes (wiping them first: they may be a private key) and empties b. */
void blob_clear(struct blob *b);

#endif

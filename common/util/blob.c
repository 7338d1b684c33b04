#include "config.h"

#include "blob.h"
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int blob_set(struct blob *out, const void *data, size_t len, struct cx_err *err)
{
	unsigned char *copy = malloc(len + 1);
	if (!copy)
		return cx_err_set(err, -ENOMEM, "out of memory copying %zu bytes", len);
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	out->data = copy;
	out->len = len;
	return 0;
}

int blob_read_file(const char *path, size_t max_len, struct blob *out, struct cx_err *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return cx_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));

	size_t cap = 4096, len = 0;
	unsigned char *data = malloc(cap + 1);
	int rc = 0;
	if (!data) {
		rc = cx_err_set(err, -ENOMEM, "out of memory reading %s", path);
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= max_len) {
				rc = cx_err_set(err, -EFBIG, "%s is larger than %zu bytes", path, max_len);
				goto out;
			}
			cap *= 2;
			unsigned char *grown = realloc(data, cap + 1);
			if (!grown) {
				rc = cx_err_set(err, -ENOMEM, "out of memory reading %s", path);
				goto out;
			}
			data = grown;
		}
		size_t n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		rc = cx_err_set(err, -EIO, "cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	if (len > max_len) {
		rc = cx_err_set(err, -EFBIG, "%s is larger than %zu bytes", path, max_len);
		goto out;
	}
	data[len] = '\0';
	out->data = data;
	out->len = len;
	data = NULL;
out:
	if (data) {
		explicit_bzero(data, cap);
		free(data);
	}
	fclose(f);
	return rc;
}

void blob_clear(struct blob *b)
{
	if (!b->data)
		return;
	explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

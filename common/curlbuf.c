#include "config.h"

#include "curlbuf.h"

#include <stdlib.h>
#include <string.h>

size_t curlbuf_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct curlbuf *b = userdata;
	size_t n = size * nmemb;
	if (b->len + n > b->max) {
		b->too_large = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 16384;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return 0;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

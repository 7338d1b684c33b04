#include "config.h"

#include "curlbuf.h"

#include <errno.h>
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

enum curlbuf_failure curlbuf_failure_of(CURLcode cc, const struct curlbuf *b)
{
	switch (cc) {
	case CURLE_OK:
		return CURLBUF_OK;
	case CURLE_ABORTED_BY_CALLBACK:
		return CURLBUF_INTERRUPTED;
	case CURLE_OPERATION_TIMEDOUT:
		return CURLBUF_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
		return CURLBUF_CONNECT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return CURLBUF_RESOLVE;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CLIENTCERT:
		return CURLBUF_TLS;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		return CURLBUF_SEVERED;
	case CURLE_WRITE_ERROR:
		return b && b->too_large ? CURLBUF_TOO_LARGE : CURLBUF_NOMEM;
	default:
		return CURLBUF_OTHER;
	}
}

int curlbuf_failure_errno(enum curlbuf_failure f)
{
	switch (f) {
	case CURLBUF_OK:
		return 0;
	case CURLBUF_INTERRUPTED:
		return -EINTR;
	case CURLBUF_TIMEOUT:
		return -ETIMEDOUT;
	case CURLBUF_CONNECT:
		return -ECONNREFUSED;
	case CURLBUF_RESOLVE:
		return -EHOSTUNREACH;
	case CURLBUF_TLS:
		return -EPROTO;
	case CURLBUF_TOO_LARGE:
		return -EFBIG;
	case CURLBUF_NOMEM:
		return -ENOMEM;
	case CURLBUF_SEVERED:
	case CURLBUF_OTHER:
	default:
		return -EIO;
	}
}

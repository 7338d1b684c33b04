/* curlbuf: a response body collected by libcurl's write callback, growing
 * as bytes come and refusing more than a cap (a runaway answer fails the
 * transfer instead of eating memory). */
#ifndef COXSWAIN_CURLBUF_H
#define COXSWAIN_CURLBUF_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

struct curlbuf {
	char *data; /* owned (free() it); NUL-terminated once anything came; NULL before */
	size_t len, cap;
	size_t max;     /* set by the caller: the most bytes accepted */
	bool too_large; /* the answer passed max: the transfer was failed */
};

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = a struct curlbuf. Returning
 * less than it was given makes libcurl fail the transfer (CURLE_WRITE_ERROR):
 * past max, or out of memory. */
size_t curlbuf_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* How a transfer into a curlbuf failed: the one mapping of libcurl's codes
 * that the API client and the webhook caller word their errors from. */
enum curlbuf_failure {
	CURLBUF_OK,          /* CURLE_OK */
	CURLBUF_INTERRUPTED, /* a callback aborted it (-EINTR) */
	CURLBUF_TIMEOUT,     /* -ETIMEDOUT */
	CURLBUF_CONNECT,     /* no connection (-ECONNREFUSED) */
	CURLBUF_RESOLVE,     /* the host or proxy name did not resolve (-EHOSTUNREACH) */
	CURLBUF_TLS,         /* the TLS handshake or a certificate failed (-EPROTO) */
	CURLBUF_SEVERED,     /* a send or receive failed mid-way (-EIO); a server refusing a client
			       * certificate may show only as this */
	CURLBUF_TOO_LARGE,   /* the answer passed b->max (-EFBIG) */
	CURLBUF_NOMEM,       /* out of memory for the answer (-ENOMEM) */
	CURLBUF_OTHER,       /* anything else (-EIO) */
};

/* The failure cc means for a transfer written into b (b may be NULL when
 * there was none). */
enum curlbuf_failure curlbuf_failure_of(CURLcode cc, const struct curlbuf *b);

/* The negative errno code of a failure (0 for CURLBUF_OK). */
int curlbuf_failure_errno(enum curlbuf_failure f);

#endif

/* curlbuf: a response body collected by libcurl's write callback, growing
 * as bytes come and refusing more than a cap (a runaway answer fails the
 * transfer instead of eating memory). */
#ifndef COXSWAIN_CURLBUF_H
#define COXSWAIN_CURLBUF_H

#include <stdbool.h>
#include <stddef.h>

struct curlbuf {
	char *data;          /* owned (free() it); NUL-terminated once anything came; NULL before */
	size_t len, cap;
	size_t max;          /* set by the caller: the most bytes accepted */
	bool too_large;      /* the answer passed max: the transfer was failed */
};

/* CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = a struct curlbuf. Returning
 * less than it was given makes libcurl fail the transfer (CURLE_WRITE_ERROR):
 * past max, or out of memory. */
size_t curlbuf_write(char *ptr, size_t size, size_t nmemb, void *userdata);

#endif

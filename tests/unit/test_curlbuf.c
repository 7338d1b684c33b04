/* Unit tests for common/curlbuf: the cap on an answer, and the one mapping of
 * libcurl's codes to the failures the API client and the webhook caller
 * report. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "curlbuf.h"

Test(curlbuf, refuses_past_the_cap)
{
	struct curlbuf b = { .max = 4 };
	char data[] = "abcdef";
	cr_assert_eq(curlbuf_write(data, 1, 3, &b), 3);
	cr_assert_str_eq(b.data, "abc");
	cr_assert_eq(curlbuf_write(data, 1, 2, &b), 0);
	cr_assert(b.too_large);
	free(b.data);
}

Test(curlbuf, failures_and_their_codes)
{
	struct curlbuf big = { .too_large = true }, small = { 0 };
	struct {
		CURLcode cc;
		const struct curlbuf *b;
		enum curlbuf_failure f;
		int code;
	} cases[] = {
		{ CURLE_OK, NULL, CURLBUF_OK, 0 },
		{ CURLE_ABORTED_BY_CALLBACK, NULL, CURLBUF_INTERRUPTED, -EINTR },
		{ CURLE_OPERATION_TIMEDOUT, NULL, CURLBUF_TIMEOUT, -ETIMEDOUT },
		{ CURLE_COULDNT_CONNECT, NULL, CURLBUF_CONNECT, -ECONNREFUSED },
		{ CURLE_COULDNT_RESOLVE_HOST, NULL, CURLBUF_RESOLVE, -EHOSTUNREACH },
		{ CURLE_COULDNT_RESOLVE_PROXY, NULL, CURLBUF_RESOLVE, -EHOSTUNREACH },
		{ CURLE_PEER_FAILED_VERIFICATION, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_CONNECT_ERROR, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_CERTPROBLEM, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_CIPHER, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_CACERT_BADFILE, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_ISSUER_ERROR, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SSL_CLIENTCERT, NULL, CURLBUF_TLS, -EPROTO },
		{ CURLE_SEND_ERROR, NULL, CURLBUF_SEVERED, -EIO },
		{ CURLE_RECV_ERROR, NULL, CURLBUF_SEVERED, -EIO },
		{ CURLE_WRITE_ERROR, &big, CURLBUF_TOO_LARGE, -EFBIG },
		{ CURLE_WRITE_ERROR, &small, CURLBUF_NOMEM, -ENOMEM },
		{ CURLE_WRITE_ERROR, NULL, CURLBUF_NOMEM, -ENOMEM },
		{ CURLE_GOT_NOTHING, NULL, CURLBUF_OTHER, -EIO },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum curlbuf_failure f = curlbuf_failure_of(cases[i].cc, cases[i].b);
		cr_assert_eq(f, cases[i].f, "case %zu (CURLcode %d)", i, (int)cases[i].cc);
		cr_assert_eq(curlbuf_failure_errno(f), cases[i].code, "case %zu", i);
	}
}

#include "config.h"

#include "kclient.h"
#include "err.h"
#include "restconfig.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS 30000
/* A LIST of thousands of objects can be tens of MiB; beyond this something is wrong. */
#define RESPONSE_MAX (256u * 1024 * 1024)
/* The token file is rotated by the kubelet; client-go re-reads it each minute. */
#define TOKEN_FILE_REREAD_S 60
#define TOKEN_FILE_MAX 65536

struct kclient {
	const struct restconfig *rc;   /* borrowed */
	CURL *curl;
	struct curl_slist *headers;
	char *token;                   /* the bearer token in use, or NULL */
	time_t token_read_at;          /* when token_file was last read */
	char errbuf[CURL_ERROR_SIZE];
};

/* The body of the response being received. */
struct body {
	char *data;
	size_t len, cap;
	int too_large;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;
	if (b->len + n > RESPONSE_MAX) {
		b->too_large = 1;
		return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
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

static void free_token(struct kclient *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
}

/* Sets the bearer token from the token file, re-reading it once a minute
 * because it rotates. A failed re-read keeps the token we have (it may still
 * be valid); only a first read that fails is an error. */
static int refresh_token(struct kclient *c, struct cx_err *err)
{
	const struct restconfig *rc = c->rc;
	if (!rc->token_file)
		return 0;
	time_t now = time(NULL);
	if (c->token && now - c->token_read_at < TOKEN_FILE_REREAD_S)
		return 0;
	struct blob b = {0};
	int r = blob_read_file(rc->token_file, TOKEN_FILE_MAX, &b, err);
	if (r) {
		if (c->token)
			return 0;
		return cx_err_prefix(err, "%s: token file: ", rc->source ? rc->source : "client");
	}
	while (b.len > 0 && isspace(b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (!b.len) {
		blob_clear(&b);
		if (c->token)
			return 0;
		return cx_err_set(err, -EINVAL, "%s: token file %s is empty", rc->source ? rc->source : "client",
				  rc->token_file);
	}
	free_token(c);
	c->token = (char *)b.data; /* the blob's bytes are NUL-terminated: take them over */
	c->token_read_at = now;
	return curl_easy_setopt(c->curl, CURLOPT_XOAUTH2_BEARER, c->token) == CURLE_OK
		       ? 0
		       : cx_err_set(err, -ENOMEM, "cannot set the bearer token");
}

static int configure_tls(struct kclient *c, struct cx_err *err)
{
	const struct restconfig *rc = c->rc;
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;
	if (rc->ca.len) {
		struct curl_blob ca = {.data = rc->ca.data, .len = rc->ca.len, .flags = CURL_BLOB_COPY};
		cc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (!cc && rc->insecure) {
		fprintf(stderr, "level=warning msg=\"TLS verification is off for %s (insecure-skip-tls-verify); "
				"anyone on the path can impersonate the API server\"\n", rc->server);
		cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!cc && rc->client_cert.len) {
		struct curl_blob cert = {.data = rc->client_cert.data, .len = rc->client_cert.len,
					 .flags = CURL_BLOB_COPY};
		struct curl_blob key = {.data = rc->client_key.data, .len = rc->client_key.len,
					.flags = CURL_BLOB_COPY};
		if (!(cc = curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert)) &&
		    !(cc = curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM")) &&
		    !(cc = curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key)))
			cc = curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (cc)
		return cx_err_set(err, -ENOTSUP, "%s: libcurl refused the TLS settings: %s", rc->source,
				  curl_easy_strerror(cc));
	return 0;
}

struct kclient *kclient_new(const struct restconfig *rc, const struct kclient_options *opts, struct cx_err *err)
{
	if (rc->tls_server_name) {
		cx_err_set(err, -ENOTSUP, "%s: tls-server-name is not supported by coxswain yet", rc->source);
		return NULL;
	}
	struct kclient *c = calloc(1, sizeof(*c));
	if (!c) {
		cx_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	c->rc = rc;
	/* Reference-counted by libcurl, so every client may call it. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
		cx_err_set(err, -ENOMEM, "cannot initialise libcurl");
		free(c);
		return NULL;
	}
	long connect_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	long timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	CURL *h = c->curl;
	c->headers = curl_slist_append(NULL, "Accept: application/json");
	CURLcode cc = c->headers ? CURLE_OK : CURLE_OUT_OF_MEMORY;
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (!cc) cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	if (!cc && rc->proxy_url) cc = curl_easy_setopt(h, CURLOPT_PROXY, rc->proxy_url);
	/* HTTP/2 multiplexes the watcher's many watches over one connection;
	 * libcurl falls back to HTTP/1.1 when it or the server lacks it. */
	if (!cc) curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (cc) {
		cx_err_set(err, -ENOMEM, "%s: cannot set up libcurl: %s", rc->source, curl_easy_strerror(cc));
		kclient_free(&c);
		return NULL;
	}
	if (configure_tls(c, err) || refresh_token(c, err)) {
		kclient_free(&c);
		return NULL;
	}
	if (rc->token && !c->token) {
		if (!(c->token = strdup(rc->token)) ||
		    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, c->token) != CURLE_OK) {
			cx_err_set(err, -ENOMEM, "out of memory");
			kclient_free(&c);
			return NULL;
		}
	}
	if (c->token)
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
	return c;
}

void kclient_free(struct kclient **cp)
{
	struct kclient *c = *cp;
	if (!c)
		return;
	if (c->curl) {
		curl_easy_cleanup(c->curl);
		curl_global_cleanup();
	}
	curl_slist_free_all(c->headers);
	free_token(c);
	free(c);
	*cp = NULL;
}

static int transport_error(struct kclient *c, const char *method, const char *path, CURLcode cc,
			   const struct body *b, struct cx_err *err)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
	const char *server = c->rc->server;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return cx_err_set(err, -ETIMEDOUT, "%s %s (%s): timed out: %s", method, path, server, detail);
	case CURLE_COULDNT_CONNECT:
		return cx_err_set(err, -ECONNREFUSED, "%s %s (%s): cannot connect: %s", method, path, server,
				  detail);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return cx_err_set(err, -EHOSTUNREACH, "%s %s (%s): cannot resolve: %s", method, path, server,
				  detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CLIENTCERT:
		return cx_err_set(err, -EPROTO,
				  "%s %s (%s): TLS failed: %s; check the certificate-authority and client "
				  "certificate of %s",
				  method, path, server, detail, c->rc->source ? c->rc->source : "the client");
	case CURLE_WRITE_ERROR:
		if (b->too_large)
			return cx_err_set(err, -EFBIG, "%s %s (%s): response larger than %u bytes", method, path,
					  server, RESPONSE_MAX);
		return cx_err_set(err, -ENOMEM, "%s %s (%s): out of memory reading the response", method, path,
				  server);
	default:
		return cx_err_set(err, -EIO, "%s %s (%s): %s", method, path, server, detail);
	}
}

static int status_to_errno(long status)
{
	switch (status) {
	case 400:
	case 422:
		return -EINVAL;
	case 401:
		return -EPERM;
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 409:
		return -EEXIST;
	case 410:
		return -ESTALE;
	case 429:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* Parses the whole of data as one JSON value. */
static struct json_object *parse_json(const char *data, size_t len, char *why, size_t why_len)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	struct json_object *obj = json_tokener_parse_ex(tok, data, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_success && end < len)
		while (end < len && isspace((unsigned char)data[end]))
			end++;
	if (jerr != json_tokener_success || end != len) {
		snprintf(why, why_len, "invalid JSON at byte %zu: %s", end,
			 jerr == json_tokener_success ? "trailing data" :
			 jerr == json_tokener_continue ? "unexpected end of data" : json_tokener_error_desc(jerr));
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* Turns a non-2xx response into err: the API's Status object when the body
 * is one, else the head of the body. */
static int api_error(const char *method, const char *path, long status, const struct body *b, struct cx_err *err)
{
	int code = status_to_errno(status);
	char why[128];
	struct json_object *st = b->len ? parse_json(b->data, b->len, why, sizeof(why)) : NULL;
	struct json_object *kind = NULL, *message = NULL, *reason = NULL;
	if (st && json_object_object_get_ex(st, "kind", &kind) &&
	    !strcmp(json_object_get_string(kind), "Status") && json_object_object_get_ex(st, "message", &message)) {
		json_object_object_get_ex(st, "reason", &reason);
		const char *r = reason ? json_object_get_string(reason) : "";
		cx_err_set(err, code, "%s %s: %ld %s: %s", method, path, status, r, json_object_get_string(message));
		if (err)
			snprintf(err->reason, sizeof(err->reason), "%s", r);
	} else {
		cx_err_set(err, code, "%s %s: HTTP %ld: %.200s", method, path, status,
			   b->len ? b->data : "(empty body)");
	}
	if (err)
		err->http_status = (int)status;
	json_object_put(st);
	return code;
}

int kclient_get(struct kclient *c, const char *path, struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	int r = refresh_token(c, err);
	if (r)
		return r;
	char *url = NULL;
	if (asprintf(&url, "%s%s", c->rc->server, path) < 0)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct body b = {0};
	CURL *h = c->curl;
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	CURLcode cc = curl_easy_perform(h);
	free(url);

	long status = 0;
	if (cc != CURLE_OK) {
		r = transport_error(c, "GET", path, cc, &b, err);
	} else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status), status < 200 || status > 299) {
		r = api_error("GET", path, status, &b, err);
	} else {
		char why[128];
		*out = parse_json(b.data ? b.data : "", b.len, why, sizeof(why));
		if (!*out)
			r = cx_err_set(err, -EBADMSG, "GET %s: %s", path, why);
	}
	free(b.data);
	return r;
}

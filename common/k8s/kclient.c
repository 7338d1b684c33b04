#include "config.h"

#include "kclient.h"
#include "clock.h"
#include "curlbuf.h"
#include "err.h"
#include "execcred.h"
#include "jsondoc.h"
#include "log.h"
#include "ratelimit.h"
#include "restconfig.h"
#include "retry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_TIMEOUT_MS         30000
/* A LIST of thousands of objects can be tens of MiB; beyond this something is wrong. */
#define RESPONSE_MAX (256u * 1024 * 1024)
/* The token file is rotated by the kubelet; client-go re-reads it each minute. */
#define TOKEN_FILE_REREAD_S 60
#define TOKEN_FILE_MAX      65536

struct kclient {
	const struct restconfig *rc; /* borrowed */
	char *base;                  /* the server URL requests go to (see use_tls_server_name) */
	struct curl_slist *connect_to;
	CURL *curl;
	char *token;          /* the bearer token in use, or NULL */
	time_t token_read_at; /* when token_file was last read */
	struct ratelimit limiter;
	bool unlimited; /* no client-side limit: limiter unused */
	struct retry_policy retry;
	char retry_after[64]; /* the last response's Retry-After header, or "" */
	char host[256];       /* "host:port" of the server, for the observer */
	kclient_request_fn observer;
	void *observer_ud;
	kclient_wait_fn wait_observer;
	void *wait_observer_ud;
	int interrupt_fd; /* -1, or: readable = give up (kclient_set_interrupt_fd) */
	char errbuf[CURL_ERROR_SIZE];
};

/* One request as the verbs describe it. */
struct request {
	const char *method;
	const char *path;         /* with its query, if any */
	const char *content_type; /* of body; NULL when there is none */
	const char *body;
	bool idempotent; /* may be sent again after a 5xx or a lost connection */
};

/* Keeps the Retry-After header (429 and 503 carry it) for the retry policy. */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct kclient *c = userdata;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";
	if (n > sizeof(name) - 1 && !strncasecmp(buf, name, sizeof(name) - 1)) {
		size_t len = n - (sizeof(name) - 1);
		if (len >= sizeof(c->retry_after))
			len = sizeof(c->retry_after) - 1;
		memcpy(c->retry_after, buf + sizeof(name) - 1, len);
		c->retry_after[len] = '\0';
		c->retry_after[strcspn(c->retry_after, "\r\n")] = '\0';
	}
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

/* Makes token the bearer token of c's requests (taking ownership). */
static int use_token(struct kclient *c, char *token, struct cx_err *err)
{
	free_token(c);
	c->token = token;
	if (curl_easy_setopt(c->curl, CURLOPT_XOAUTH2_BEARER, c->token) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER) != CURLE_OK)
		return cx_err_set(err, -ENOMEM, "cannot set the bearer token");
	return 0;
}

/* Takes the exec plugin's current credential (running it when it has none
 * or it expired; force after a 401). */
static int refresh_exec(struct kclient *c, bool force, struct cx_err *err)
{
	const char *token = NULL;
	const struct blob *cert = NULL, *key = NULL;
	int r = execcred_get(c->rc->exec, force, &token, &cert, &key, err);
	if (r)
		return r;
	if (token && (!c->token || strcmp(token, c->token))) {
		char *copy = strdup(token);
		if (!copy || (r = use_token(c, copy, err)))
			return r ? r : cx_err_set(err, -ENOMEM, "out of memory");
	}
	if (cert && cert->len && key && key->len) {
		/* Same bytes as before keep the connection: libcurl compares blobs by content. */
		struct curl_blob cb = { .data = cert->data, .len = cert->len, .flags = CURL_BLOB_COPY };
		struct curl_blob kb = { .data = key->data, .len = key->len, .flags = CURL_BLOB_COPY };
		if (curl_easy_setopt(c->curl, CURLOPT_SSLCERT_BLOB, &cb) != CURLE_OK ||
		    curl_easy_setopt(c->curl, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
		    curl_easy_setopt(c->curl, CURLOPT_SSLKEY_BLOB, &kb) != CURLE_OK ||
		    curl_easy_setopt(c->curl, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK)
			return cx_err_set(err, -ENOTSUP, "%s: libcurl refused the exec plugin's client certificate",
					  c->rc->source);
	}
	return 0;
}

/* Brings the credentials of c up to date before a request: the exec
 * plugin's, or the token file's, re-read once a minute because it rotates. A
 * failed re-read keeps the token we have (it may still be valid); only a
 * first read that fails is an error. force: the server just answered 401. */
static int refresh_credentials(struct kclient *c, bool force, struct cx_err *err)
{
	const struct restconfig *rc = c->rc;
	if (rc->exec)
		return refresh_exec(c, force, err);
	if (!rc->token_file)
		return 0;
	time_t now = time(NULL);
	if (c->token && !force && now - c->token_read_at < TOKEN_FILE_REREAD_S)
		return 0;
	struct blob b = { 0 };
	int r = blob_read_file(rc->token_file, TOKEN_FILE_MAX, &b, err);
	if (r) {
		if (c->token)
			return 0;
		return cx_err_wrap(err, r, "%s: token file: ", rc->source ? rc->source : "client");
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
	c->token_read_at = now;
	return use_token(c, (char *)b.data, err); /* the blob's bytes are NUL-terminated: take them over */
}

static int configure_tls(struct kclient *c, struct cx_err *err)
{
	const struct restconfig *rc = c->rc;
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;
	if (rc->ca.len) {
		struct curl_blob ca = { .data = rc->ca.data, .len = rc->ca.len, .flags = CURL_BLOB_COPY };
		cc = curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (!cc && rc->insecure) {
		log_kv(LOG_LEVEL_WARNING, 0,
		       "TLS verification is off (insecure-skip-tls-verify): anyone on the path can "
		       "impersonate the API server",
		       "server", rc->server, "source", rc->source, NULL);
		cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		if (!cc)
			cc = curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (!cc && rc->client_cert.len) {
		struct curl_blob cert = { .data = rc->client_cert.data,
					  .len = rc->client_cert.len,
					  .flags = CURL_BLOB_COPY };
		struct curl_blob key = { .data = rc->client_key.data,
					 .len = rc->client_key.len,
					 .flags = CURL_BLOB_COPY };
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

/* tls-server-name: verify the server's certificate against a name other
 * than the host we connect to. libcurl checks the certificate against the
 * URL's host, so requests go to https://<tls-server-name>:<port> and
 * CURLOPT_CONNECT_TO sends the connection to the real host. */
static int use_tls_server_name(struct kclient *c, struct cx_err *err)
{
	const struct restconfig *rc = c->rc;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *with_name = NULL, *route = NULL;
	int r = 0;
	if (!u || curl_url_set(u, CURLUPART_URL, rc->server, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		r = cx_err_set(err, -EINVAL, "%s: server %s is not a URL", rc->source, rc->server);
		goto out;
	}
	if (curl_url_set(u, CURLUPART_HOST, rc->tls_server_name, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PORT, port, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &with_name, 0) != CURLUE_OK) {
		r = cx_err_set(err, -EINVAL, "%s: tls-server-name \"%s\" is not a host name", rc->source,
			       rc->tls_server_name);
		goto out;
	}
	size_t len = strlen(with_name);
	while (len && with_name[len - 1] == '/')
		with_name[--len] = '\0';
	char *base = strdup(with_name);
	if (!base || asprintf(&route, "%s:%s:%s:%s", rc->tls_server_name, port, host, port) < 0 ||
	    !(c->connect_to = curl_slist_append(NULL, route)) ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECT_TO, c->connect_to) != CURLE_OK) {
		free(base);
		r = cx_err_set(err, -ENOMEM, "%s: cannot route to %s for tls-server-name %s", rc->source, host,
			       rc->tls_server_name);
		goto out;
	}
	free(c->base);
	c->base = base;
out:
	free(route);
	curl_free(with_name);
	curl_free(port);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

int kclient_new(const struct restconfig *rc, const struct kclient_options *opts, struct kclient **out,
		struct cx_err *err)
{
	*out = NULL;
	int r;
	struct kclient *c = calloc(1, sizeof(*c));
	if (!c)
		return cx_err_set(err, -ENOMEM, "out of memory");
	c->rc = rc;
	c->interrupt_fd = -1;
	const char *authority = strstr(rc->server, "://");
	authority = authority ? authority + 3 : rc->server;
	snprintf(c->host, sizeof(c->host), "%.*s", (int)strcspn(authority, "/"), authority);
	if (!(c->base = strdup(rc->server))) {
		free(c);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	/* Reference-counted by libcurl, so every client may call it. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
		free(c->base);
		free(c);
		return cx_err_set(err, -ENOMEM, "cannot initialise libcurl");
	}
	long connect_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	long timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	CURL *h = c->curl;
	double qps = opts && opts->qps != 0 ? opts->qps : RATELIMIT_CLIENT_QPS;
	c->unlimited = qps < 0;
	if (!c->unlimited &&
	    (r = ratelimit_init(&c->limiter, qps, opts && opts->burst > 0 ? opts->burst : RATELIMIT_CLIENT_BURST,
				err))) {
		kclient_free(&c);
		return r;
	}
	c->retry.max_attempts = opts ? opts->max_attempts : 0;
	CURLcode cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curlbuf_write);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	if (!cc)
		cc = curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	if (!cc && rc->proxy_url)
		cc = curl_easy_setopt(h, CURLOPT_PROXY, rc->proxy_url);
	/* HTTP/2 multiplexes the watcher's many watches over one connection;
	 * libcurl falls back to HTTP/1.1 when it or the server lacks it. */
	if (!cc)
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (cc) {
		kclient_free(&c);
		return cx_err_set(err, -ENOMEM, "%s: cannot set up libcurl: %s", rc->source, curl_easy_strerror(cc));
	}
	/* A credential plugin runs at the first request, not here: it may take
	 * long, and a request can be interrupted (kclient_set_interrupt_fd). */
	if ((r = configure_tls(c, err)) || (rc->tls_server_name && (r = use_tls_server_name(c, err))) ||
	    (!rc->exec && (r = refresh_credentials(c, false, err)))) {
		kclient_free(&c);
		return r;
	}
	if (rc->token && !c->token) {
		char *copy = strdup(rc->token); /* use_token owns it even when it fails */
		if (!copy || use_token(c, copy, err)) {
			kclient_free(&c);
			return cx_err_set(err, -ENOMEM, "out of memory");
		}
	}
	*out = c;
	return 0;
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
	free_token(c);
	curl_slist_free_all(c->connect_to);
	free(c->base);
	free(c);
	*cp = NULL;
}

/* Whether the caller asked every call to give up (its interrupt fd is
 * readable). */
static bool stop_requested(const struct kclient *c)
{
	struct pollfd p = { .fd = c->interrupt_fd, .events = POLLIN };
	return c->interrupt_fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Sleeps ms, or less when a stop is requested meanwhile (-EINTR). */
static int nap(const struct kclient *c, int64_t ms)
{
	if (c->interrupt_fd < 0) {
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return 0;
	}
	struct pollfd p = { .fd = c->interrupt_fd, .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, (int)(ms > INT32_MAX ? INT32_MAX : ms))) < 0 && errno == EINTR)
		;
	return n > 0 ? -EINTR : 0;
}

/* libcurl's progress callback, about once a second and on every read or
 * write: non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return stop_requested(ud);
}

static int interrupted(const char *method, const char *path, struct cx_err *err)
{
	return cx_err_set(err, -EINTR, "%s %s: interrupted (coxswain is stopping)", method, path);
}

static int transport_error(struct kclient *c, const char *method, const char *path, CURLcode cc,
			   const struct curlbuf *b, struct cx_err *err)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
	const char *server = c->rc->server;
	enum curlbuf_failure f = curlbuf_failure_of(cc, b);
	int code = curlbuf_failure_errno(f);
	switch (f) {
	case CURLBUF_INTERRUPTED:
		return interrupted(method, path, err);
	case CURLBUF_TIMEOUT:
		return cx_err_set(err, code, "%s %s (%s): timed out: %s", method, path, server, detail);
	case CURLBUF_CONNECT:
		return cx_err_set(err, code, "%s %s (%s): cannot connect: %s", method, path, server, detail);
	case CURLBUF_RESOLVE:
		return cx_err_set(err, code, "%s %s (%s): cannot resolve: %s", method, path, server, detail);
	case CURLBUF_TLS:
		return cx_err_set(err, code,
				  "%s %s (%s): TLS failed: %s; check the certificate-authority and client "
				  "certificate of %s",
				  method, path, server, detail, c->rc->source ? c->rc->source : "the client");
	case CURLBUF_TOO_LARGE:
		return cx_err_set(err, code, "%s %s (%s): response larger than %u bytes", method, path, server,
				  RESPONSE_MAX);
	case CURLBUF_NOMEM:
		return cx_err_set(err, code, "%s %s (%s): out of memory reading the response", method, path, server);
	default: /* CURLBUF_SEVERED, CURLBUF_OTHER; CURLBUF_OK never comes here */
		return cx_err_set(err, code ? code : -EIO, "%s %s (%s): %s", method, path, server, detail);
	}
}

/* The whole of data as one JSON value, or NULL with why filled. */
static struct json_object *parse_json(const char *data, size_t len, char *why, size_t why_len)
{
	struct json_object *obj = NULL;
	jsondoc_parse(data, len, NULL, &obj, why, why_len);
	return obj;
}

int kclient_status_errno(long status)
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
	case 409: /* AlreadyExists; kclient_status_error tells Conflict apart */
		return -EEXIST;
	case 410:
		return -ESTALE;
	case 429:
		return -EBUSY;
	default:
		return -EIO;
	}
}

/* Turns a non-2xx response into err: the API's Status object when the body
 * is one, else the head of the body. */
int kclient_status_error(const char *method, const char *path, long status, const char *body, size_t len,
			 struct cx_err *err)
{
	int code = kclient_status_errno(status);
	char why[128];
	struct json_object *st = len ? parse_json(body, len, why, sizeof(why)) : NULL;
	struct json_object *kind = NULL, *message = NULL, *reason = NULL;
	if (st && json_object_object_get_ex(st, "kind", &kind) && !strcmp(json_object_get_string(kind), "Status") &&
	    json_object_object_get_ex(st, "message", &message)) {
		json_object_object_get_ex(st, "reason", &reason);
		const char *r = reason ? json_object_get_string(reason) : "";
		if (status == 409 && !strcmp(r, "Conflict"))
			code = -EAGAIN;
		cx_err_set(err, code, "%s %s: %ld %s: %s", method, path, status, r, json_object_get_string(message));
		if (err)
			snprintf(err->reason, sizeof(err->reason), "%s", r);
	} else {
		cx_err_set(err, code, "%s %s: HTTP %ld: %.200s", method, path, status, len ? body : "(empty body)");
	}
	if (err)
		err->http_status = (int)status;
	json_object_put(st);
	return code;
}

/* Sends req once. Returns 0 when a response came (its status in *status,
 * its body in b), or the transport error. */
static int send_once(struct kclient *c, const struct request *req, struct curlbuf *b, long *status, struct cx_err *err)
{
	char *url = NULL;
	if (asprintf(&url, "%s%s", c->base, req->path) < 0)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
	char content_type[128];
	if (headers && req->content_type) {
		snprintf(content_type, sizeof(content_type), "Content-Type: %s", req->content_type);
		struct curl_slist *more = curl_slist_append(headers, content_type);
		if (!more) {
			curl_slist_free_all(headers);
			headers = NULL;
		} else {
			headers = more;
		}
	}
	if (!headers) {
		free(url);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	CURL *h = c->curl;
	c->errbuf[0] = '\0';
	c->retry_after[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	/* A body makes curl POST; another method then only renames the request. */
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req->body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	bool plain = !strcmp(req->method, req->body ? "POST" : "GET");
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, plain ? NULL : req->method);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	free(url);
	if (cc != CURLE_OK)
		return transport_error(c, req->method, req->path, cc, b, err);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return 0;
}

/* Sends req until it succeeds or the retry policy gives up, and parses the
 * answer into *out (when out is not NULL). */
static int do_request(struct kclient *c, const struct request *req, struct json_object **out, struct cx_err *err)
{
	if (out)
		*out = NULL;
	bool renewed = false, renew_now = false; /* credentials are renewed once, after a 401 */
	for (int attempt = 1;; attempt++) {
		if (stop_requested(c))
			return interrupted(req->method, req->path, err);
		int r = refresh_credentials(c, renew_now, err);
		renew_now = false;
		if (r) {
			/* client-go gets credentials inside its transport: a plugin
			 * that fails makes a request with no response, "<error>". */
			kclient_observe(c, 0, req->method);
			return r;
		}
		int64_t throttled_ns = c->unlimited ? 0 : ratelimit_reserve(&c->limiter, clock_monotonic_ns());
		if (throttled_ns > 0 && nap(c, (throttled_ns + 999999) / 1000000))
			return interrupted(req->method, req->path, err);
		if (!c->unlimited && c->wait_observer)
			c->wait_observer(c->wait_observer_ud, req->method, c->host, throttled_ns);
		if (throttled_ns > 1000 * 1000 * 1000LL)
			log_msgf(LOG_LEVEL_INFO, 1, "waited %.1fs due to client-side throttling: %s %s",
				 (double)throttled_ns / 1e9, req->method, req->path);

		struct curlbuf b = { .max = RESPONSE_MAX };
		long status = 0;
		int64_t start_ns = clock_monotonic_ns();
		r = send_once(c, req, &b, &status, err);
		if (c->observer)
			c->observer(c->observer_ud, r ? 0 : (int)status, req->method, c->host);
		if (log_enabled(LOG_LEVEL_INFO, 6)) {
			char code[16], ms[32], try[16];
			snprintf(code, sizeof(code), "%ld", status);
			snprintf(ms, sizeof(ms), "%.1f", (double)(clock_monotonic_ns() - start_ns) / 1e6);
			snprintf(try, sizeof(try), "%d", attempt);
			log_kv(LOG_LEVEL_INFO, 6, "request", "verb", req->method, "path", req->path, "code",
			       r ? "none" : code, "ms", ms, "attempt", try, NULL);
		}
		if (!r && status == 401 && (c->rc->token_file || c->rc->exec) && !renewed) {
			/* The token may have rotated, or the plugin's credential expired early. */
			renewed = renew_now = true;
			free(b.data);
			continue;
		}
		if (!r && status >= 200 && status <= 299) {
			if (out) {
				char why[128];
				*out = parse_json(b.data ? b.data : "", b.len, why, sizeof(why));
				if (!*out)
					r = cx_err_set(err, -EBADMSG, "%s %s: %s", req->method, req->path, why);
			}
			free(b.data);
			return r;
		}
		if (!r)
			r = kclient_status_error(req->method, req->path, status, b.data, b.len, err);
		free(b.data);
		long delay_ms = 0;
		if (r == -EINTR ||
		    !retry_decide(&c->retry, attempt, req->idempotent, r ? status : 0, status ? 0 : r,
				  c->retry_after[0] ? c->retry_after : NULL, &delay_ms))
			return r;
		char delay[32], try[16];
		snprintf(delay, sizeof(delay), "%ld", delay_ms);
		snprintf(try, sizeof(try), "%d", attempt);
		log_kv(LOG_LEVEL_INFO, 2, "retrying request", "verb", req->method, "path", req->path, "attempt", try,
		       "delay_ms", delay, "error", err ? err->msg : "", NULL);
		if (nap(c, delay_ms))
			return interrupted(req->method, req->path, err);
	}
}

/* Serialises obj for a request body; the string is owned by obj. */
static const char *to_json(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int kclient_get(struct kclient *c, const char *path, struct json_object **out, struct cx_err *err)
{
	struct request req = { .method = "GET", .path = path, .idempotent = true };
	return do_request(c, &req, out, err);
}

int kclient_create(struct kclient *c, const char *path, struct json_object *obj, struct json_object **out,
		   struct cx_err *err)
{
	struct request req = {
		.method = "POST", .path = path, .content_type = "application/json", .body = to_json(obj)
	};
	return do_request(c, &req, out, err);
}

int kclient_update(struct kclient *c, const char *path, struct json_object *obj, struct json_object **out,
		   struct cx_err *err)
{
	/* Idempotent: a resourceVersion makes a repeated PUT fail rather than apply twice. */
	struct request req = { .method = "PUT",
			       .path = path,
			       .content_type = "application/json",
			       .body = to_json(obj),
			       .idempotent = true };
	return do_request(c, &req, out, err);
}

int kclient_patch(struct kclient *c, const char *path, enum kclient_patch_type type, struct json_object *patch,
		  struct json_object **out, struct cx_err *err)
{
	static const char *const types[] = {
		[KCLIENT_PATCH_MERGE] = "application/merge-patch+json",
		[KCLIENT_PATCH_JSON] = "application/json-patch+json",
		[KCLIENT_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
	};
	struct request req = { .method = "PATCH", .path = path, .content_type = types[type], .body = to_json(patch) };
	return do_request(c, &req, out, err);
}

/* path + "?" + query, owned. */
static char *with_query(const char *path, const char *query)
{
	char *full = NULL;
	return asprintf(&full, "%s%s%s", path, *query ? "?" : "", query) < 0 ? NULL : full;
}

/* Appends "&key=escaped(value)" (or without "&" first) to q. */
static int add_param(struct kclient *c, char *q, size_t cap, const char *key, const char *value)
{
	char *escaped = curl_easy_escape(c->curl, value, 0);
	if (!escaped)
		return -ENOMEM;
	size_t len = strlen(q);
	int n = snprintf(q + len, cap - len, "%s%s=%s", len ? "&" : "", key, escaped);
	curl_free(escaped);
	return n < 0 || (size_t)n >= cap - len ? -E2BIG : 0;
}

/* PATCH path?query with an apply patch of obj. */
static int apply_with(struct kclient *c, const char *path, const char *query, struct json_object *obj,
		      struct json_object **out, struct cx_err *err)
{
	char *full = with_query(path, query);
	if (!full)
		return cx_err_set(err, -ENOMEM, "out of memory");
	/* Applying the same intent twice gives the same object: safe to retry. */
	struct request req = { .method = "PATCH",
			       .path = full,
			       .content_type = "application/apply-patch+yaml",
			       .body = to_json(obj),
			       .idempotent = true };
	int r = do_request(c, &req, out, err);
	free(full);
	return r;
}

int kclient_apply(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager, bool force,
		  struct json_object **out, struct cx_err *err)
{
	char query[512] = "";
	if (add_param(c, query, sizeof(query), "fieldManager", field_manager) ||
	    (force && add_param(c, query, sizeof(query), "force", "true")))
		return cx_err_set(err, -E2BIG, "PATCH %s: field manager \"%s\" too long", path, field_manager);
	return apply_with(c, path, query, obj, out, err);
}

int kclient_apply_dry_run(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager,
			  struct json_object **out, struct cx_err *err)
{
	char query[512] = "";
	if (add_param(c, query, sizeof(query), "fieldManager", field_manager) ||
	    add_param(c, query, sizeof(query), "force", "true") || add_param(c, query, sizeof(query), "dryRun", "All"))
		return cx_err_set(err, -E2BIG, "PATCH %s: field manager \"%s\" too long", path, field_manager);
	return apply_with(c, path, query, obj, out, err);
}

int kclient_create_as(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager,
		      struct json_object **out, struct cx_err *err)
{
	char query[512] = "";
	if (add_param(c, query, sizeof(query), "fieldManager", field_manager))
		return cx_err_set(err, -E2BIG, "POST %s: field manager \"%s\" too long", path, field_manager);
	char *full = with_query(path, query);
	if (!full)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct request req = {
		.method = "POST", .path = full, .content_type = "application/json", .body = to_json(obj)
	};
	int r = do_request(c, &req, out, err);
	free(full);
	return r;
}

int kclient_delete(struct kclient *c, const char *path, const struct kclient_delete_opts *o, struct json_object **out,
		   struct cx_err *err)
{
	struct json_object *opts = json_object_new_object();
	if (!opts)
		return cx_err_set(err, -ENOMEM, "out of memory");
	json_object_object_add(opts, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(opts, "kind", json_object_new_string("DeleteOptions"));
	if (o && o->propagation_policy)
		json_object_object_add(opts, "propagationPolicy", json_object_new_string(o->propagation_policy));
	if (o && (o->precondition_uid || o->precondition_resource_version)) {
		struct json_object *pre = json_object_new_object();
		if (o->precondition_uid)
			json_object_object_add(pre, "uid", json_object_new_string(o->precondition_uid));
		if (o->precondition_resource_version)
			json_object_object_add(pre, "resourceVersion",
					       json_object_new_string(o->precondition_resource_version));
		json_object_object_add(opts, "preconditions", pre);
	}
	struct request req = { .method = "DELETE",
			       .path = path,
			       .content_type = "application/json",
			       .body = to_json(opts),
			       .idempotent = true };
	int r = do_request(c, &req, out, err);
	json_object_put(opts);
	return r;
}

static const char *string_at(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = NULL, *y = NULL;
	if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y) ||
	    !json_object_is_type(y, json_type_string))
		return NULL;
	return json_object_get_string(y);
}

int kclient_list(struct kclient *c, const char *path, const struct kclient_list_opts *o, kclient_item_fn fn, void *ud,
		 char **resource_version, struct cx_err *err)
{
	if (resource_version)
		*resource_version = NULL;
	char limit[24];
	snprintf(limit, sizeof(limit), "%ld", o && o->limit > 0 ? o->limit : 500);
	char *cont = NULL, *rv = NULL;
	int r = 0;
	do {
		/* The continue token is opaque and can be long. */
		size_t cap = 1024 + (cont ? strlen(cont) * 3 : 0);
		char *query = calloc(1, cap);
		char *full = NULL;
		if (!query) {
			r = cx_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		if (add_param(c, query, cap, "limit", limit) ||
		    (o && o->label_selector && add_param(c, query, cap, "labelSelector", o->label_selector)) ||
		    (o && o->field_selector && add_param(c, query, cap, "fieldSelector", o->field_selector)) ||
		    (cont && add_param(c, query, cap, "continue", cont)) || !(full = with_query(path, query))) {
			free(query);
			r = cx_err_set(err, -E2BIG, "LIST %s: selectors too long", path);
			break;
		}
		free(query);
		struct json_object *page = NULL;
		r = kclient_get(c, full, &page, err);
		free(full);
		free(cont);
		cont = NULL;
		if (r)
			break;
		const char *page_rv = string_at(page, "metadata", "resourceVersion");
		const char *next = string_at(page, "metadata", "continue");
		if (!rv && page_rv && !(rv = strdup(page_rv)))
			r = cx_err_set(err, -ENOMEM, "out of memory");
		if (!r && next && *next && !(cont = strdup(next)))
			r = cx_err_set(err, -ENOMEM, "out of memory");
		struct json_object *items = NULL;
		if (!r && json_object_object_get_ex(page, "items", &items) &&
		    json_object_is_type(items, json_type_array))
			for (size_t i = 0; i < json_object_array_length(items) && !r; i++)
				r = fn(ud, json_object_array_get_idx(items, i), err);
		json_object_put(page);
	} while (!r && cont);
	free(cont);
	if (!r && resource_version)
		*resource_version = rv;
	else
		free(rv);
	return r;
}

int kclient_stream_handle(struct kclient *c, CURL **out, struct cx_err *err)
{
	*out = NULL;
	int r = refresh_credentials(c, false, err);
	if (r)
		return r;
	CURL *h = curl_easy_duphandle(c->curl);
	if (!h)
		return cx_err_set(err, -ENOMEM, "cannot copy the libcurl handle");
	/* The copy shares nothing that belongs to c's own requests. */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
	/* A stream is driven by the caller's poll loop, which decides when to stop. */
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, NULL);
	*out = h;
	return 0;
}

const char *kclient_server(const struct kclient *c)
{
	return c->base;
}

void kclient_set_wait_observer(struct kclient *c, kclient_wait_fn fn, void *ud)
{
	c->wait_observer = fn;
	c->wait_observer_ud = ud;
}

void kclient_set_interrupt_fd(struct kclient *c, int fd)
{
	c->interrupt_fd = fd;
	if (c->rc->exec)
		execcred_set_interrupt_fd(c->rc->exec, fd);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, fd >= 0 ? on_progress : NULL);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, fd >= 0 ? 0L : 1L);
}

void kclient_set_request_observer(struct kclient *c, kclient_request_fn fn, void *ud)
{
	c->observer = fn;
	c->observer_ud = ud;
}

void kclient_observe(struct kclient *c, int code, const char *method)
{
	if (c->observer)
		c->observer(c->observer_ud, code, method, c->host);
}

const char *kclient_code_label(int code, char buf[static 16])
{
	if (code > 0)
		snprintf(buf, 16, "%d", code);
	else
		snprintf(buf, 16, "<error>");
	return buf;
}

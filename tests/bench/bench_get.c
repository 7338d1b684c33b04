/* Requests per second of kclient_get on one warm connection against the
 * fixture's kube-apiserver, and the same count of GETs made with a bare
 * libcurl handle in the same run as the baseline: the ratio is what our
 * client layer (rate limiter bookkeeping, retries, JSON parsing, logging
 * checks) costs. Prints figures; asserts only that every request succeeded. */
#include "config.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "kubeconfig.h"
#include "kclient.h"
#include "restconfig.h"

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
	(void)p;
	*(size_t *)ud += s * n;
	return s * n;
}

/* The baseline: one reused easy handle, same TLS identity, body discarded. */
static double bare_curl(const struct restconfig *rc, const char *path, int n)
{
	CURL *h = curl_easy_init();
	char url[512];
	snprintf(url, sizeof(url), "%s%s", rc->server, path);
	struct curl_blob ca = { rc->ca.data, rc->ca.len, CURL_BLOB_COPY };
	struct curl_blob cert = { rc->client_cert.data, rc->client_cert.len, CURL_BLOB_COPY };
	struct curl_blob key = { rc->client_key.data, rc->client_key.len, CURL_BLOB_COPY };
	size_t bytes = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
	double start = clock_monotonic_s();
	for (int i = 0; i < n; i++) {
		long code = 0;
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code), code != 200)) {
			fprintf(stderr, "bench_get: bare libcurl GET %s failed\n", url);
			exit(1);
		}
	}
	double took = clock_monotonic_s() - start;
	curl_easy_cleanup(h);
	return n / took;
}

static double ours(const struct restconfig *rc, const char *path, int n)
{
	struct cx_err err = { 0 };
	/* No client-side throttling: this measures the client, not the limiter's 20/s. */
	struct kclient_options o = { .qps = 1e6, .burst = 1000000 };
	struct kclient *c = NULL;
	kclient_new(rc, &o, &c, &err);
	if (!c) {
		fprintf(stderr, "bench_get: %s\n", err.msg);
		exit(1);
	}
	double start = clock_monotonic_s();
	for (int i = 0; i < n; i++) {
		struct json_object *body = NULL;
		if (kclient_get(c, path, &body, &err)) {
			fprintf(stderr, "bench_get: %s\n", err.msg);
			exit(1);
		}
		json_object_put(body);
	}
	double took = clock_monotonic_s() - start;
	kclient_free(&c);
	return n / took;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("COXSWAIN_CLUSTER_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	if (!dir || n <= 0) {
		fprintf(stderr, "usage: COXSWAIN_CLUSTER_DIR=.cluster bench_get [requests]\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", dir);
	struct cx_err err = { 0 };
	struct kubeconfig *kc = NULL;
	kubeconfig_load(path, &kc, &err);
	struct restconfig *rc = NULL;
	if (!kc || kubeconfig_restconfig(kc, NULL, &rc, &err)) {
		fprintf(stderr, "bench_get: %s\n", err.msg);
		return 1;
	}
	kubeconfig_free(&kc);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	const char *paths[] = { "/version", "/api/v1/namespaces/default" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ours(rc, paths[i], n / 10); /* warm both: connections, server caches */
		bare_curl(rc, paths[i], n / 10);
		double base = bare_curl(rc, paths[i], n);
		double mine = ours(rc, paths[i], n);
		printf("bench_get: GET %-28s kclient %7.0f req/s   bare libcurl %7.0f req/s   ratio %.2f  (%d requests "
		       "each)\n",
		       paths[i], mine, base, mine / base, n);
	}
	curl_global_cleanup();
	restconfig_free(&rc);
	return 0;
}

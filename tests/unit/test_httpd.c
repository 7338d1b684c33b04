/* Unit tests for watcher/httpd: the daemon on 127.0.0.1:0, driven by the
 * test's own poll loop in one thread, exactly as the watcher drives it; the
 * requests come from libcurl's multi interface on the same loop
 * (curl_multi_poll with the httpd's fd as an extra fd). Covers the three
 * paths, 503 with the reason, 404, 405 with Allow, HEAD, per-daemon subsets
 * of paths, concurrent clients, address parsing and listen errors. */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "httpd.h"
#include "metrics.h"

/* What the callbacks answer; each test sets it up. */
struct state {
	bool healthy, ready;
	const char *health_why, *ready_why;
	const char *metrics_text;
	int metrics_rc;
	int calls;
};

static bool cb_healthy(void *ud, char *why, size_t cap)
{
	struct state *st = ud;
	st->calls++;
	if (!st->healthy && st->health_why)
		snprintf(why, cap, "%s", st->health_why);
	return st->healthy;
}

static bool cb_ready(void *ud, char *why, size_t cap)
{
	struct state *st = ud;
	st->calls++;
	if (!st->ready && st->ready_why)
		snprintf(why, cap, "%s", st->ready_why);
	return st->ready;
}

static int cb_metrics(void *ud, char **text, size_t *len)
{
	struct state *st = ud;
	st->calls++;
	if (st->metrics_rc < 0)
		return st->metrics_rc;
	*text = strdup(st->metrics_text);
	*len = strlen(*text);
	return 0;
}

static const struct httpd_handlers all = { cb_healthy, cb_ready, cb_metrics };

struct reply {
	long status;
	char body[8192];
	size_t len;
	char content_type[128];
	char allow[64];
	long content_length; /* from the header; -1 if none */
	CURLcode result;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = size * n;
	size_t room = sizeof(r->body) - 1 - r->len;
	size_t take = len < room ? len : room;
	memcpy(r->body + r->len, p, take);
	r->len += take;
	r->body[r->len] = '\0';
	return len;
}

/* Copies the value of header name (without CRLF) into out when line is it. */
static void header_value(const char *line, size_t len, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	const char *v = line + nl + 1;
	while (*v == ' ')
		v++;
	size_t vl = (size_t)(line + len - v);
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
		vl--;
	if (vl >= cap)
		vl = cap - 1;
	memcpy(out, v, vl);
	out[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = size * n;
	char cl[32] = "";
	header_value(p, len, "Allow", r->allow, sizeof(r->allow));
	header_value(p, len, "Content-Length", cl, sizeof(cl));
	if (cl[0])
		r->content_length = strtol(cl, NULL, 10);
	return len;
}

static CURL *request(struct httpd *h, const char *host, const char *method, const char *path, struct reply *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->result = CURLE_AGAIN;
	char url[256];
	snprintf(url, sizeof(url), "http://%s:%d%s", host, httpd_port(h), path);
	CURL *e = curl_easy_init();
	cr_assert_not_null(e);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "a=1&b=2");
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}
	return e;
}

/* Runs the poll loop the watcher runs until every request on multi is done
 * (or 5 s passed), then fills each reply and frees the handles. */
static void run(struct httpd *h, CURLM *multi, CURL **easy, size_t n)
{
	int running = (int)n;
	int64_t start = clock_monotonic_ms();
	curl_multi_perform(multi, &running);
	while (running > 0) {
		struct pollfd pfd;
		long t;
		httpd_pollfd(h, &pfd, &t);
		cr_assert_geq(pfd.fd, 0);
		cr_assert_eq(pfd.events, POLLIN);
		struct curl_waitfd wfd = { .fd = pfd.fd, .events = CURL_WAIT_POLLIN };
		int timeout = (t < 0 || t > 100) ? 100 : (int)t;
		cr_assert_eq(curl_multi_poll(multi, &wfd, 1, timeout, NULL), CURLM_OK);
		cr_assert_eq(httpd_dispatch(h), 0);
		curl_multi_perform(multi, &running);
		cr_assert_lt(clock_monotonic_ms() - start, 30000, "requests did not finish");
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct reply *r;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		r->result = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r->status);
		char *ct = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_CONTENT_TYPE, &ct);
		snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
	}
	for (size_t i = 0; i < n; i++) {
		curl_multi_remove_handle(multi, easy[i]);
		curl_easy_cleanup(easy[i]);
	}
}

/* One request, start to end, on 127.0.0.1. */
static void fetch(struct httpd *h, const char *method, const char *path, struct reply *r)
{
	CURLM *multi = curl_multi_init();
	CURL *e = request(h, "127.0.0.1", method, path, r);
	curl_multi_add_handle(multi, e);
	run(h, multi, &e, 1);
	curl_multi_cleanup(multi);
	cr_assert_eq(r->result, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(r->result));
}

static struct httpd *start(const char *address, const struct httpd_handlers *handlers, struct state *st)
{
	struct cx_err err = { 0 };
	struct httpd *h = NULL;
	httpd_new(address, handlers, st, &h, &err);
	cr_assert_not_null(h, "httpd_new(%s): %s", address, err.msg);
	cr_assert_gt(httpd_port(h), 0);
	return h;
}

static void init(void)
{
	cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
}

static void fini(void)
{
	curl_global_cleanup();
}

TestSuite(httpd, .init = init, .fini = fini);

Test(httpd, three_paths_when_all_is_well)
{
	struct state st = { .healthy = true, .ready = true, .metrics_text = "# TYPE x counter\nx 1\n" };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;

	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok");
	cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");

	fetch(h, "GET", "/readyz", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "ok");

	fetch(h, "GET", "/metrics", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "# TYPE x counter\nx 1\n");
	cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	cr_assert_eq(r.content_length, (long)strlen(st.metrics_text));

	fetch(h, "GET", "/healthz?verbose=1", &r);
	cr_assert_eq(r.status, 200, "a query string does not change the path");
	cr_assert_eq(st.calls, 4);
	httpd_free(&h);
	cr_assert_null(h);
	httpd_free(&h);
	httpd_free(NULL);
}

Test(httpd, failing_checks_answer_503_with_the_reason)
{
	struct state st = { .healthy = false,
			    .ready = false,
			    .ready_why = "waiting for CRD websites.example.com (not found)" };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;

	fetch(h, "GET", "/readyz", &r);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(r.body, "waiting for CRD websites.example.com (not found)");
	cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");

	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 503);
	cr_assert_str_eq(r.body, "not healthy", "an empty reason gets a default");

	st.healthy = true;
	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 200, "the callback is asked on every request");
	httpd_free(&h);
}

Test(httpd, long_reasons_are_cut_not_overrun)
{
	char why[HTTPD_WHY_MAX + 2000];
	memset(why, 'x', sizeof(why) - 1);
	why[sizeof(why) - 1] = '\0';
	struct state st = { .healthy = false, .health_why = why };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;
	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 503);
	cr_assert_eq(r.len, HTTPD_WHY_MAX - 1);
	httpd_free(&h);
}

Test(httpd, unknown_paths_are_404)
{
	struct state st = { .healthy = true, .ready = true, .metrics_text = "" };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	static const char *const paths[] = { "/", "/nope", "/healthz/", "/metricsx", "/HEALTHZ", "/healthz/ping" };
	struct reply r;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		fetch(h, "GET", paths[i], &r);
		cr_assert_eq(r.status, 404, "%s", paths[i]);
		cr_assert_str_eq(r.body, "404 page not found\n");
	}
	fetch(h, "POST", "/nope", &r);
	cr_assert_eq(r.status, 404, "an unknown path is 404 whatever the method");
	cr_assert_eq(st.calls, 0);
	httpd_free(&h);
}

Test(httpd, other_methods_are_405_with_allow)
{
	struct state st = { .healthy = true, .ready = true, .metrics_text = "x 1\n" };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	static const char *const methods[] = { "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };
	struct reply r;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		fetch(h, methods[i], "/metrics", &r);
		cr_assert_eq(r.status, 405, "%s", methods[i]);
		cr_assert_str_eq(r.allow, "GET, HEAD", "%s", methods[i]);
	}
	fetch(h, "POST", "/healthz", &r);
	cr_assert_eq(r.status, 405);
	cr_assert_eq(st.calls, 0, "no callback ran for a refused method");
	/* The daemon still serves after refusing requests with bodies. */
	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 200);
	httpd_free(&h);
}

Test(httpd, head_has_headers_and_no_body)
{
	struct state st = { .healthy = true,
			    .ready = false,
			    .ready_why = "caches not synced",
			    .metrics_text = "# TYPE x counter\nx 12345\n" };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;
	fetch(h, "HEAD", "/metrics", &r);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.len, 0);
	cr_assert_str_eq(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	cr_assert_eq(r.content_length, (long)strlen(st.metrics_text));
	fetch(h, "HEAD", "/readyz", &r);
	cr_assert_eq(r.status, 503);
	cr_assert_eq(r.len, 0);
	cr_assert_eq(r.content_length, (long)strlen("caches not synced"));
	fetch(h, "HEAD", "/healthz", &r);
	cr_assert_eq(r.status, 200);
	httpd_free(&h);
}

Test(httpd, metrics_failure_is_500)
{
	struct state st = { .metrics_rc = -ENOMEM };
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;
	fetch(h, "GET", "/metrics", &r);
	cr_assert_eq(r.status, 500);
	cr_assert(strstr(r.body, "cannot render metrics"), "%s", r.body);
	httpd_free(&h);
}

Test(httpd, each_daemon_serves_its_subset)
{
	struct state st = { .healthy = true, .ready = true, .metrics_text = "x 1\n" };
	struct httpd *health = start("127.0.0.1:0", &(struct httpd_handlers){ cb_healthy, cb_ready, NULL }, &st);
	struct httpd *metrics = start("127.0.0.1:0", &(struct httpd_handlers){ NULL, NULL, cb_metrics }, &st);
	cr_assert_neq(httpd_port(health), httpd_port(metrics));
	struct reply r;
	fetch(health, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 200);
	fetch(health, "GET", "/readyz", &r);
	cr_assert_eq(r.status, 200);
	fetch(health, "GET", "/metrics", &r);
	cr_assert_eq(r.status, 404);
	fetch(metrics, "GET", "/metrics", &r);
	cr_assert_eq(r.status, 200);
	fetch(metrics, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 404);
	fetch(metrics, "GET", "/readyz", &r);
	cr_assert_eq(r.status, 404);
	httpd_free(&health);
	httpd_free(&metrics);

	struct httpd *none = start("127.0.0.1:0", NULL, NULL);
	fetch(none, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 404, "no handlers: nothing is served");
	httpd_free(&none);
}

Test(httpd, serves_a_real_registry_and_concurrent_clients)
{
	struct metrics *m = metrics_new();
	struct metrics_std std;
	struct cx_err err = { 0 };
	cr_assert_eq(metrics_std_register(m, &std, &err), 0, "%s", err.msg);
	struct metrics_controller mc;
	cr_assert_eq(metrics_controller_bind(&std, "websites", &mc), 0);
	metrics_controller_reconciled(&mc, METRICS_RESULT_SUCCESS, 0.2);

	struct httpd *h = NULL;
	httpd_new("127.0.0.1:0", &(struct httpd_handlers){ .metrics = metrics_render_cb }, m, &h, &err);
	cr_assert_not_null(h, "%s", err.msg);

	enum { N = 8 };
	struct reply replies[N];
	CURL *easy[N];
	CURLM *multi = curl_multi_init();
	for (int i = 0; i < N; i++) {
		easy[i] = request(h, "127.0.0.1", "GET", "/metrics", &replies[i]);
		curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
		curl_multi_add_handle(multi, easy[i]);
	}
	run(h, multi, easy, N);
	curl_multi_cleanup(multi);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(replies[i].result, CURLE_OK, "client %d: %s", i, curl_easy_strerror(replies[i].result));
		cr_assert_eq(replies[i].status, 200);
		cr_assert(strstr(replies[i].body,
				 "controller_runtime_reconcile_total{controller=\"websites\","
				 "result=\"success\"} 1\n"),
			  "%s", replies[i].body);
		cr_assert(strstr(replies[i].body, "# TYPE workqueue_depth gauge\n") == NULL,
			  "families without series are left out");
	}
	httpd_free(&h);
	metrics_free(&m);
}

Test(httpd, idle_daemon_has_no_deadline)
{
	struct httpd *h = start("127.0.0.1:0", &all, NULL);
	struct pollfd pfd;
	long t = 123;
	httpd_pollfd(h, &pfd, &t);
	cr_assert_eq(t, -1);
	cr_assert_eq(httpd_dispatch(h), 0);
	httpd_free(&h);
}

Test(httpd, free_closes_the_listening_socket)
{
	struct httpd *h = start("127.0.0.1:0", &all, NULL);
	int port = httpd_port(h);
	httpd_free(&h);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_lt(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(errno, ECONNREFUSED);
	close(fd);
	/* And the port can be taken again at once. */
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	struct cx_err err = { 0 };
	httpd_new(addr, &all, NULL, &h, &err);
	cr_assert_not_null(h, "%s", err.msg);
	cr_assert_eq(httpd_port(h), port);
	httpd_free(&h);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

Test(httpd, no_fd_is_left_behind)
{
	struct state st = { .healthy = true, .ready = true, .metrics_text = "x 1\n" };
	/* One round first: curl and the resolver open what they keep for good. */
	struct httpd *h = start("127.0.0.1:0", &all, &st);
	struct reply r;
	fetch(h, "GET", "/healthz", &r);
	httpd_free(&h);
	int before = open_fds();
	for (int i = 0; i < 5; i++) {
		h = start(i % 2 ? ":0" : "127.0.0.1:0", &all, &st);
		fetch(h, "GET", "/metrics", &r);
		fetch(h, "POST", "/metrics", &r);
		httpd_free(&h);
	}
	cr_assert_eq(open_fds(), before);
}

Test(httpd, port_in_use_names_the_address)
{
	struct httpd *a = start("127.0.0.1:0", &all, NULL);
	char addr[32];
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(a));
	struct cx_err err = { 0 };
	struct httpd *b = NULL;
	httpd_new(addr, &all, NULL, &b, &err);
	cr_assert_null(b);
	cr_assert_eq(err.code, -EADDRINUSE);
	char want[128];
	snprintf(want, sizeof(want), "cannot listen on \"%s\": Address already in use", addr);
	cr_assert_str_eq(err.msg, want);
	httpd_free(&a);
}

static bool have_ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok = bind(fd, (struct sockaddr *)&s6, sizeof(s6)) == 0;
	close(fd);
	return ok;
}

Test(httpd, every_interface_and_ipv6)
{
	struct state st = { .healthy = true };
	struct httpd *h = start(":0", &all, &st);
	struct reply r;
	fetch(h, "GET", "/healthz", &r);
	cr_assert_eq(r.status, 200, "\":port\" takes IPv4 clients");
	httpd_free(&h);

	if (!have_ipv6_loopback())
		cr_skip_test("no IPv6 loopback here");
	h = start("[::1]:0", &all, &st);
	CURLM *multi = curl_multi_init();
	CURL *e = request(h, "[::1]", "GET", "/healthz", &r);
	curl_multi_add_handle(multi, e);
	run(h, multi, &e, 1);
	curl_multi_cleanup(multi);
	cr_assert_eq(r.result, CURLE_OK, "%s", curl_easy_strerror(r.result));
	cr_assert_eq(r.status, 200);
	httpd_free(&h);
}

/* ---- address parsing ---- */

static void parse_ok(const char *address, int family, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct cx_err err = { 0 };
	cr_assert_eq(httpd_parse_address(address, &ss, &len, &err), 0, "%s: %s", address, err.msg);
	cr_assert_eq(ss.ss_family, family, "%s", address);
	char buf[INET6_ADDRSTRLEN];
	if (family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		cr_assert_eq(len, sizeof(*s4));
		inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
		cr_assert_eq(ntohs(s4->sin_port), port, "%s", address);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		cr_assert_eq(len, sizeof(*s6));
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
		cr_assert_eq(ntohs(s6->sin6_port), port, "%s", address);
	}
	cr_assert_str_eq(buf, ip, "%s", address);
}

Test(httpd, addresses_that_parse)
{
	parse_ok(":8081", AF_INET6, "::", 8081);
	parse_ok(":0", AF_INET6, "::", 0);
	parse_ok("127.0.0.1:8081", AF_INET, "127.0.0.1", 8081);
	parse_ok("0.0.0.0:65535", AF_INET, "0.0.0.0", 65535);
	parse_ok("[::1]:8081", AF_INET6, "::1", 8081);
	parse_ok("[::]:80", AF_INET6, "::", 80);
	parse_ok("localhost:9000", AF_INET, "127.0.0.1", 9000);
}

static void parse_bad(const char *address, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct cx_err err = { 0 };
	cr_assert_eq(httpd_parse_address(address, &ss, &len, &err), -EINVAL, "%s", address ? address : "NULL");
	cr_assert(strstr(err.msg, want), "%s: message \"%s\" lacks \"%s\"", address, err.msg, want);
	/* httpd_new says the same. */
	struct httpd *h = NULL;
	httpd_new(address, &all, NULL, &h, &err);
	cr_assert_null(h);
	cr_assert(strstr(err.msg, want), "%s: %s", address, err.msg);
}

Test(httpd, bad_addresses_name_the_value)
{
	parse_bad(NULL, "empty listen address");
	parse_bad("", "empty listen address");
	parse_bad("8081", "address \"8081\": no port: expected [host]:port");
	parse_bad("127.0.0.1", "address \"127.0.0.1\": no port");
	parse_bad("127.0.0.1:", "address \"127.0.0.1:\": port \"\" is not a number from 0 to 65535");
	parse_bad(":http", "port \"http\" is not a number");
	parse_bad(":65536", "port \"65536\"");
	parse_bad(":-1", "port \"-1\"");
	parse_bad(": 80", "port \" 80\"");
	parse_bad("::1:8081", "an IPv6 address goes in brackets");
	parse_bad("[::1]", "address \"[::1]\": expected [host]:port");
	parse_bad("[::1]8081", "address \"[::1]8081\"");
	parse_bad("[::1:8081", "address \"[::1:8081\"");
	parse_bad("[]:8081", "empty IPv6 address");
	parse_bad("[127.0.0.1]:8081", "invalid IPv6 address \"127.0.0.1\"");
}

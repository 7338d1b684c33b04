/* kclient against the real kube-apiserver of tests/cluster/up: the admin
 * identity (client certificate) and the operator identity (bearer token, no
 * permissions yet), TLS verification, and bounded failure when the server is
 * not there or does not answer. */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "execcred.h"
#include "kclient.h"
#include "live.h"
#include "restconfig.h"

#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
/* Something the operator identity is never granted, whatever RBAC other
 * tests apply (deploy/rbac.yaml lets it read CRDs). */
/* A resource no test grants the operator (Secrets are a child kind some
 * end-to-end tests grant while these tests run beside them). */
#define NEVER_GRANTED "/apis/scheduling.k8s.io/v1/priorityclasses"
#define OPERATOR_USER "system:serviceaccount:coxswain-system:coxswain"

static struct kclient *client_for(const struct restconfig *rc, const struct kclient_options *opts)
{
	struct cx_err err = { 0 };
	struct kclient *c = NULL;
	kclient_new(rc, opts, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	return c;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

Test(kclient_live, version_reports_the_pinned_release)
{
	struct restconfig *rc = live_restconfig("admin");
	struct kclient *c = client_for(rc, NULL);
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, "/version", &body, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str_field(body, "gitVersion"), live_pinned_version());
	json_object_put(body);
	kclient_free(&c);
	cr_assert_null(c);
	restconfig_free(&rc);
}

Test(kclient_live, admin_certificate_lists_crds_on_a_reused_connection)
{
	struct restconfig *rc = live_restconfig("admin");
	struct kclient *c = client_for(rc, NULL);
	for (int i = 0; i < 3; i++) {
		struct json_object *body = NULL;
		struct cx_err err = { 0 };
		cr_assert_eq(kclient_get(c, CRDS, &body, &err), 0, "%s", err.msg);
		cr_assert_str_eq(str_field(body, "kind"), "CustomResourceDefinitionList");
		json_object_put(body);
	}
	kclient_free(&c);
	restconfig_free(&rc);
}

static void assert_operator_forbidden(struct kclient *c)
{
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, NEVER_GRANTED, &body, &err), -EACCES, "%s", err.msg);
	cr_assert_null(body);
	cr_assert_eq(err.http_status, 403);
	cr_assert_str_eq(err.reason, "Forbidden");
	cr_assert(strstr(err.msg, "forbidden"), "%s", err.msg);
	cr_assert(strstr(err.msg, "User \"" OPERATOR_USER "\""), "names the user: %s", err.msg);
	cr_assert(strstr(err.msg, "GET " NEVER_GRANTED), "names the request: %s", err.msg);
}

Test(kclient_live, operator_token_is_forbidden_what_rbac_does_not_grant)
{
	struct restconfig *rc = live_restconfig("operator");
	cr_assert_not_null(rc->token, "the operator kubeconfig uses a bearer token");
	struct kclient *c = client_for(rc, NULL);
	assert_operator_forbidden(c);
	kclient_free(&c);
	restconfig_free(&rc);
}

Test(kclient_live, token_file_is_read_for_the_bearer_token)
{
	struct restconfig *rc = live_restconfig("operator");
	char path[] = "/tmp/coxswain-token-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	dprintf(fd, "%s\n", rc->token); /* a trailing newline, as files usually have */
	close(fd);
	free(rc->token);
	rc->token = NULL;
	rc->token_file = strdup(path);

	struct kclient *c = client_for(rc, NULL);
	assert_operator_forbidden(c);
	kclient_free(&c);
	unlink(path);
	restconfig_free(&rc);
}

Test(kclient_live, missing_object_is_not_found)
{
	struct restconfig *rc = live_restconfig("admin");
	struct kclient *c = client_for(rc, NULL);
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, "/api/v1/namespaces/default/configmaps/coxswain-no-such", &body, &err), -ENOENT,
		     "%s", err.msg);
	cr_assert_eq(err.http_status, 404);
	cr_assert_str_eq(err.reason, "NotFound");
	cr_assert(strstr(err.msg, "\"coxswain-no-such\" not found"), "%s", err.msg);
	kclient_free(&c);
	restconfig_free(&rc);
}

Test(kclient_live, wrong_ca_fails_tls_verification)
{
	struct restconfig *rc = live_restconfig("admin");
	blob_clear(&rc->ca);
	struct cx_err err = { 0 };
	cr_assert_eq(blob_read_file(TEST_DATA_DIR "/other-ca.pem", 1 << 20, &rc->ca, &err), 0, "%s", err.msg);
	struct kclient *c = client_for(rc, NULL);
	struct json_object *body = NULL;
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -EPROTO, "%s", err.msg);
	cr_assert_null(body);
	cr_assert(strstr(err.msg, "certificate"), "%s", err.msg);
	cr_assert(strstr(err.msg, rc->server), "names the server: %s", err.msg);
	cr_assert(strstr(err.msg, "certificate-authority"), "says what to check: %s", err.msg);
	kclient_free(&c);
	restconfig_free(&rc);
}

/* A loopback port with a listener that never accepts: connects complete in the
 * kernel's backlog, but the TLS handshake never gets an answer. */
static int silent_listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(fd, 8), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(kclient_live, unresponsive_server_fails_within_the_timeout)
{
	struct restconfig *rc = live_restconfig("admin");
	int port;
	int fd = silent_listener(&port);
	free(rc->server);
	cr_assert_geq(asprintf(&rc->server, "https://127.0.0.1:%d", port), 0);
	struct kclient_options opts = { .connect_timeout_ms = 500, .timeout_ms = 1000, .max_attempts = 1 };
	struct kclient *c = client_for(rc, &opts);

	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	double start = clock_monotonic_s();
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -ETIMEDOUT, "%s", err.msg);
	double took = clock_monotonic_s() - start;
	cr_assert_lt(took, 20.0, "gave up after %.1f s: no timeout applied (the server never answers)", took);
	cr_assert(strstr(err.msg, rc->server), "%s", err.msg);
	cr_assert(strstr(err.msg, "timed out"), "%s", err.msg);
	close(fd);
	kclient_free(&c);
	restconfig_free(&rc);
}

/* Writes to a pipe after a while, as a stop signal reaches the watcher
 * while a call hangs. */
static void *stop_later(void *arg)
{
	usleep(300 * 1000);
	if (write(*(int *)arg, "x", 1) != 1)
		abort();
	return NULL;
}

/* A server that never answers, and a timeout of 60 s with retries: without
 * the interrupt the call would end in -ETIMEDOUT. With it, the call gives up
 * with -EINTR once the interrupt fd is readable, and the next call does not
 * even start. */
Test(kclient_live, an_interrupt_fd_cuts_a_hanging_call_short)
{
	struct restconfig *rc = live_restconfig("admin");
	int port;
	int fd = silent_listener(&port);
	free(rc->server);
	cr_assert_geq(asprintf(&rc->server, "https://127.0.0.1:%d", port), 0);
	struct kclient_options opts = { .connect_timeout_ms = 60000, .timeout_ms = 60000, .max_attempts = 5 };
	struct kclient *c = client_for(rc, &opts);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	kclient_set_interrupt_fd(c, p[0]);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, stop_later, &p[1]), 0);
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -EINTR, "%s", err.msg);
	cr_assert(strstr(err.msg, "GET /version: interrupted"), "%s", err.msg);
	pthread_join(t, NULL);
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -EINTR, "%s", err.msg);
	close(fd);
	close(p[0]);
	close(p[1]);
	kclient_free(&c);
	restconfig_free(&rc);
}

Test(kclient_live, closed_port_is_refused)
{
	struct restconfig *rc = live_restconfig("admin");
	int port;
	close(silent_listener(&port)); /* a port that was free a moment ago */
	free(rc->server);
	cr_assert_geq(asprintf(&rc->server, "https://127.0.0.1:%d", port), 0);
	struct kclient_options no_retries = { .max_attempts = 1 };
	struct kclient *c = client_for(rc, &no_retries);
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -ECONNREFUSED, "%s", err.msg);
	cr_assert(strstr(err.msg, "cannot connect"), "%s", err.msg);
	kclient_free(&c);
	restconfig_free(&rc);
}

static int get_version_as(const char *tls_server_name, struct cx_err *err)
{
	struct restconfig *rc = live_restconfig("admin");
	rc->tls_server_name = strdup(tls_server_name);
	struct kclient_options no_retries = { .max_attempts = 1 };
	struct kclient *c = client_for(rc, &no_retries);
	struct json_object *body = NULL;
	int r = kclient_get(c, "/version", &body, err);
	json_object_put(body);
	kclient_free(&c);
	restconfig_free(&rc);
	return r;
}

Test(kclient_live, tls_server_name_is_what_the_certificate_is_checked_against)
{
	struct cx_err err = { 0 };
	/* The fixture's serving certificate names kubernetes.default, not 127.0.0.1's reverse. */
	cr_assert_eq(get_version_as("kubernetes.default", &err), 0, "%s", err.msg);
	cr_assert_eq(get_version_as("not-in-the-cert.example", &err), -EPROTO, "%s", err.msg);
	cr_assert(strstr(err.msg, "not-in-the-cert.example"), "%s", err.msg);
}

static int runs_counted(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0;
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* The admin's server and CA, authenticated by the exec plugin script
 * (tests/integration/data/) with COUNT_FILE (a fresh name, in count_file)
 * and GOOD_TOKEN (when not NULL) in its environment. */
static struct restconfig *exec_restconfig(const char *script, char *count_file, char *good_token)
{
	struct restconfig *rc = live_restconfig("admin");
	blob_clear(&rc->client_cert);
	blob_clear(&rc->client_key);
	close(mkstemp(count_file));
	unlink(count_file);
	char *env_names[] = { "COUNT_FILE", "GOOD_TOKEN" };
	char *env_values[] = { count_file, good_token };
	char command[512];
	snprintf(command, sizeof(command), TEST_SRC_DIR "/tests/integration/data/%s", script);
	struct execcred_spec spec = { .api_version = EXECCRED_V1,
				      .command = command,
				      .env_names = env_names,
				      .env_values = env_values,
				      .n_env = good_token ? 2 : 1,
				      .interactive_mode = "Never" };
	struct execcred_cluster cluster = { .server = rc->server, .ca = &rc->ca };
	struct cx_err err = { 0 };
	execcred_new(&spec, "operator", &cluster, &rc->exec, &err);
	cr_assert_not_null(rc->exec, "%s", err.msg);
	return rc;
}

Test(kclient_live, a_401_reruns_the_exec_plugin_once)
{
	struct restconfig *op = live_restconfig("operator");
	char count_file[] = "/tmp/coxswain-exec-count-XXXXXX";
	struct restconfig *rc = exec_restconfig("exec-rotating.sh", count_file, op->token);
	struct cx_err err = { 0 };

	struct kclient *c = client_for(rc, NULL);
	struct json_object *body = NULL;
	cr_assert_eq(kclient_get(c, "/apis", &body, &err), 0, "%s", err.msg);
	cr_assert_eq(runs_counted(count_file), 2, "the rejected token made it run once more");
	json_object_put(body);
	cr_assert_eq(kclient_get(c, "/apis", &body, &err), 0, "%s", err.msg);
	cr_assert_eq(runs_counted(count_file), 2, "a good token is cached until it expires");
	/* It authenticated as the operator: PriorityClasses are forbidden to that user. */
	assert_operator_forbidden(c);
	json_object_put(body);
	unlink(count_file);
	kclient_free(&c);
	restconfig_free(&rc);
	restconfig_free(&op);
}

/* What a request observer was told, as "401 GET,<error> GET". */
static char observed[256];

static void observe(void *ud, int code, const char *method, const char *host)
{
	(void)ud;
	cr_assert_not_null(host);
	char label[16];
	size_t len = strlen(observed);
	snprintf(observed + len, sizeof(observed) - len, "%s%s %s", len ? "," : "", kclient_code_label(code, label),
		 method);
}

Test(kclient_live, a_failing_exec_plugin_is_counted_as_a_request_without_answer)
{
	char count_file[] = "/tmp/coxswain-exec-count-XXXXXX";
	struct restconfig *rc = exec_restconfig("exec-once.sh", count_file, NULL);
	struct cx_err err = { 0 };
	struct kclient *c = client_for(rc, NULL);
	observed[0] = '\0';
	kclient_set_request_observer(c, observe, NULL);
	/* The token is refused (401); running the plugin again fails: client-go
	 * gets credentials inside its transport, so that is a request that got
	 * no answer. */
	struct json_object *body = NULL;
	cr_assert_neq(kclient_get(c, "/version", &body, &err), 0);
	cr_assert(strstr(err.msg, "the credential backend is gone"), "%s", err.msg);
	cr_assert_str_eq(observed, "401 GET,<error> GET");
	unlink(count_file);
	kclient_free(&c);
	restconfig_free(&rc);
}

Test(kclient_live, every_attempt_is_counted_connection_failures_too)
{
	struct restconfig *rc = live_restconfig("admin");
	int port;
	close(silent_listener(&port));
	free(rc->server);
	cr_assert_geq(asprintf(&rc->server, "https://127.0.0.1:%d", port), 0);
	struct kclient_options two = { .max_attempts = 2 };
	struct kclient *c = client_for(rc, &two);
	observed[0] = '\0';
	kclient_set_request_observer(c, observe, NULL);
	struct json_object *body = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, "/version", &body, &err), -ECONNREFUSED, "%s", err.msg);
	cr_assert_str_eq(observed, "<error> GET,<error> GET", "both attempts");
	kclient_free(&c);
	restconfig_free(&rc);
}

struct waits {
	int n;
	int64_t ns[8];
	char verb[16], host[256];
};

static void record_wait(void *ud, const char *verb, const char *host, int64_t waited_ns)
{
	struct waits *w = ud;
	if (w->n < 8)
		w->ns[w->n] = waited_ns;
	w->n++;
	snprintf(w->verb, sizeof(w->verb), "%s", verb);
	snprintf(w->host, sizeof(w->host), "%s", host);
}

/* qps 2, burst 1: the first request finds its token, the next two wait for
 * theirs (each at most 0.5 s; how much less depends on how long the
 * previous request took, so only "more than 0" is asserted), and the wait
 * observer sees every attempt. */
Test(kclient_live, a_limit_makes_requests_wait_and_the_waits_are_observed)
{
	struct restconfig *rc = live_restconfig("admin");
	struct kclient *c = client_for(rc, &(struct kclient_options){ .qps = 2, .burst = 1 });
	struct waits w = { 0 };
	kclient_set_wait_observer(c, record_wait, &w);
	struct cx_err err = { 0 };
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kclient_get(c, "/version", NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w.n, 3);
	cr_assert_eq(w.ns[0], 0, "the burst's token was there");
	cr_assert(w.ns[1] > 0 && w.ns[1] <= 500000000, "waited %lld ns", (long long)w.ns[1]);
	cr_assert(w.ns[2] > 0 && w.ns[2] <= 500000000, "waited %lld ns", (long long)w.ns[2]);
	cr_assert_str_eq(w.verb, "GET");
	cr_assert(strchr(w.host, ':'), "host:port, got %s", w.host);
	kclient_free(&c);
	restconfig_free(&rc);
}

/* No limit (the default, as controller-runtime): nothing waits, and, as
 * client-go without a limiter, nothing is observed. */
Test(kclient_live, no_limit_by_default_and_nothing_observed)
{
	struct restconfig *rc = live_restconfig("admin");
	struct kclient *c = client_for(rc, NULL);
	struct waits w = { 0 };
	kclient_set_wait_observer(c, record_wait, &w);
	struct cx_err err = { 0 };
	for (int i = 0; i < 40; i++)
		cr_assert_eq(kclient_get(c, "/version", NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(w.n, 0);
	kclient_free(&c);
	restconfig_free(&rc);
}

/* metacontroller's webhook options, end to end through hook_run: real
 * Secrets and ConfigMaps in the real kube-apiserver, read with a kclient,
 * and two local HTTPS servers (tests/integration/data/tls-hook-server.py)
 * with certificates made here with openssl: one plain TLS, one that
 * requires a client certificate. The definitions are metacontroller
 * manifests loaded with mcdef_load; their URLs name "hook.test", which
 * COXSWAIN_WEBHOOK_CONNECT_TO reroutes to the servers (the certificates
 * name hook.test, so that is also checked to be the name verified). */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "hook.h"
#include "jsonget.h"
#include "kclient.h"
#include "live.h"
#include "mcdef.h"
#include "restconfig.h"

#define SERVER TEST_SRC_DIR "/tests/integration/data/tls-hook-server.py"

static struct restconfig *rc;
static struct kclient *kc;
static char ns[64];
static char dir[64];
static pid_t servers[2];
static int tls_port, mtls_port;
static struct mcdef_set *defs;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	cr_assert(st == 0, "command failed (%d): %s", st, cmd);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	char *buf = calloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* A CA, a server certificate for hook.test and 127.0.0.1, a client
 * certificate (CN coxswain-client), all signed by the CA. */
static void make_certs(void)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca 2>/dev/null", dir, ec);
	sh("cd %s && printf 'subjectAltName=DNS:hook.test,IP:127.0.0.1\\n' > server.ext && "
	   "openssl req %s -keyout server.key -out server.csr -subj /CN=hook.test 2>/dev/null && "
	   "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
	   "-extfile server.ext 2>/dev/null",
	   dir, ec);
	sh("cd %s && openssl req %s -keyout client.key -out client.csr -subj /CN=coxswain-client 2>/dev/null && "
	   "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 "
	   "2>/dev/null",
	   dir, ec);
}

static pid_t start_server(const char *client_ca, int *port)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char crt[128], key[128];
		snprintf(crt, sizeof(crt), "%s/server.crt", dir);
		snprintf(key, sizeof(key), "%s/server.key", dir);
		execlp("python3", "python3", SERVER, crt, key, client_ca, "110", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	FILE *f = fdopen(p[0], "r");
	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", port), 1, "the server printed its port");
	fclose(f);
	return pid;
}

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

/* Creates (or replaces) a Secret or ConfigMap in ns from {"k": "plain value"}. */
static void put(const char *resource, const char *name, struct json_object *values)
{
	bool secret = !strcmp(resource, "secrets");
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(o, "kind", json_object_new_string(secret ? "Secret" : "ConfigMap"));
	struct json_object *meta = json_object_new_object();
	json_object_object_add(meta, "name", json_object_new_string(name));
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, secret ? "stringData" : "data", values);
	char path[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ns, resource, name);
	struct cx_err err = { 0 };
	int r = kclient_apply(kc, path, o, "test-webhook-live", true, NULL, &err);
	cr_assert_eq(r, 0, "%s", err.msg);
	json_object_put(o);
}

static struct json_object *values(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, k1, json_object_new_string(v1));
	if (k2)
		json_object_object_add(o, k2, json_object_new_string(v2));
	return o;
}

static const char *MANIFEST =
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: plain}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks: {sync: {webhook: {url: \"https://hook.test/sync\"}}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: inline-ca}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/sync\"\n"
	"        caBundle:\n"
	"          inline: |\n"
	"%s"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: secret-ca}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks: {sync: {webhook: {url: \"https://hook.test/sync\", caBundle: {secretRef: {name: ca, namespace: "
	"%s}}}}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: cm-ca}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks: {sync: {webhook: {url: \"https://hook.test/sync\", caBundle: {configMapRef: {name: ca, namespace: "
	"%s, "
	"key: bundle}}}}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: mtls-no-cert}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks: {sync: {webhook: {url: \"https://hook.test:8443/sync\", caBundle: {secretRef: {name: ca, namespace: "
	"%s}}}}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: mtls}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test:8443/sync\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        clientTLS: {secretRef: {name: client, namespace: %s}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: bearer}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/sync\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        authorization: {secretRef: {name: token, namespace: %s, key: token}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: basic}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/sync\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        basicAuth: {secretRef: {name: login, namespace: %s}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: conn}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  connections:\n"
	"    - host: other.test\n"
	"      authorization: {type: Other, secretRef: {name: token, namespace: %s, key: token}}\n"
	"    - host: HOOK.test:443\n"
	"      caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"      authorization: {type: Token, secretRef: {name: token, namespace: %s, key: token}}\n"
	"  hooks: {sync: {webhook: {url: \"https://hook.test/sync\"}}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: etag}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/etag\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        etag: {enabled: true, cacheTimeoutSeconds: 600, cacheCleanupSeconds: 60}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: rotate}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/token/second\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        authorization: {secretRef: {name: rotating, namespace: %s, key: token}}\n"
	"---\n"
	"apiVersion: metacontroller.k8s.io/v1alpha1\n"
	"kind: CompositeController\n"
	"metadata: {name: missing}\n"
	"spec:\n"
	"  parentResource: {apiVersion: v1, resource: configmaps}\n"
	"  hooks:\n"
	"    sync:\n"
	"      webhook:\n"
	"        url: \"https://hook.test/sync\"\n"
	"        caBundle: {secretRef: {name: ca, namespace: %s}}\n"
	"        basicAuth: {secretRef: {name: login, namespace: %s}, passwordKey: nope}\n";

static void load_defs(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	char *ca = slurp(path), indented[8192] = "";
	for (char *line = strtok(ca, "\n"); line; line = strtok(NULL, "\n")) {
		strcat(indented, "            ");
		strcat(indented, line);
		strcat(indented, "\n");
	}
	free(ca);
	char *yaml = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	cr_assert_geq(
		asprintf(&yaml, MANIFEST, indented, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns, ns),
		0);
#pragma GCC diagnostic pop
	snprintf(path, sizeof(path), "%s/controllers.yaml", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(yaml, f);
	fclose(f);
	free(yaml);
	struct cx_err err = { 0 };
	cr_assert_eq(mcdef_load(path, &defs, &err), 0, "%s", err.msg);
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &kc, &err);
	cr_assert_not_null(kc, "%s", err.msg);
	snprintf(ns, sizeof(ns), "webhook-live-%d", (int)getpid());
	struct json_object *nsobj = json_object_new_object();
	json_object_object_add(nsobj, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(nsobj, "kind", json_object_new_string("Namespace"));
	struct json_object *meta = json_object_new_object();
	json_object_object_add(meta, "name", json_object_new_string(ns));
	json_object_object_add(nsobj, "metadata", meta);
	cr_assert_eq(kclient_create(kc, "/api/v1/namespaces", nsobj, NULL, &err), 0, "%s", err.msg);
	json_object_put(nsobj);

	strcpy(dir, "/tmp/test_webhook_live-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	make_certs();
	char client_ca[128], path[128];
	snprintf(client_ca, sizeof(client_ca), "%s/ca.crt", dir);
	servers[0] = start_server("-", &tls_port);
	servers[1] = start_server(client_ca, &mtls_port);
	char env[256];
	snprintf(env, sizeof(env), "hook.test:443:127.0.0.1:%d,hook.test:8443:127.0.0.1:%d", tls_port, mtls_port);
	setenv(HOOK_CONNECT_TO_ENV, env, 1);

	char *ca = slurp(client_ca);
	put("secrets", "ca", values("ca.crt", ca, NULL, NULL));
	put("configmaps", "ca", values("bundle", ca, NULL, NULL));
	free(ca);
	snprintf(path, sizeof(path), "%s/client.crt", dir);
	char *crt = slurp(path);
	snprintf(path, sizeof(path), "%s/client.key", dir);
	char *key = slurp(path);
	put("secrets", "client", values("tls.crt", crt, "tls.key", key));
	free(crt);
	free(key);
	put("secrets", "token", values("token", "t0ken-value\n", NULL, NULL));
	put("secrets", "login", values("username", "alice", "password", "hunter2"));
	load_defs();
}

static void teardown(void)
{
	for (int i = 0; i < 2; i++)
		if (servers[i] > 0) {
			kill(servers[i], SIGTERM);
			waitpid(servers[i], NULL, 0);
		}
	if (dir[0])
		sh("rm -rf %s", dir);
	if (ns[0]) {
		char path[256];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(kc, path, NULL, NULL, NULL);
	}
	hook_webhook_reset();
	mcdef_set_free(&defs);
	kclient_free(&kc);
	restconfig_free(&rc);
}

TestSuite(webhook_live, .init = setup, .fini = teardown, .timeout = 100);

/* Runs the sync hook of controller name for a parent named parent_name;
 * returns hook_run's code, res filled. */
static int call(const char *name, const char *parent_name, struct hook_result *res, struct cx_err *err)
{
	const struct mcdef_controller *c = mcdef_find(defs, name);
	cr_assert_not_null(c, "no controller %s", name);
	const struct mcdef_webhook *w = &c->hooks.sync.webhook;
	struct hook_def def = { .type = HOOK_WEBHOOK,
				.url = w->effective_url,
				.timeout_ms = 20000,
				.mc = w,
				.connections = c->connections,
				.n_connections = c->n_connections,
				.kc = kc,
				.controller = c->name };
	char parent[512];
	snprintf(parent, sizeof(parent),
		 "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": "
		 "{\"name\": \"%s\", \"namespace\": \"%s\"}}",
		 parent_name, ns);
	struct json_object *p = json(parent);
	struct json_object *req = NULL;
	hook_request_new(c->object, p, NULL, 0, NULL, false, HOOK_V1, &req, err);
	cr_assert_not_null(req, "%s", err->msg);
	int r = hook_run(&def, req, false, NULL, 0, ns, res, err);
	json_object_put(req);
	json_object_put(p);
	return r;
}

static const char *said(const struct hook_result *res, const char *field)
{
	return jsonget_string(res->status, field);
}

Test(webhook_live, the_server_is_verified_with_the_ca_bundle_only)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("plain", "p", &res, &err), -EPROTO, "the system roots do not know the test CA: %s", err.msg);
	cr_assert(strstr(err.msg, "TLS failed"), "%s", err.msg);
	hook_result_clear(&res);
	const char *ok[] = { "inline-ca", "secret-ca", "cm-ca" };
	for (size_t i = 0; i < 3; i++) {
		err = (struct cx_err){ 0 };
		cr_assert_eq(call(ok[i], "p", &res, &err), 0, "%s: %s", ok[i], err.msg);
		cr_assert_str_eq(said(&res, "path"), "/sync");
		cr_assert_str_eq(said(&res, "host"), "hook.test", "connect-to keeps the URL's host");
		cr_assert_null(said(&res, "authorization"));
		hook_result_clear(&res);
	}
}

Test(webhook_live, mutual_tls_presents_the_client_certificate)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	int r = call("mtls-no-cert", "p", &res, &err);
	cr_assert(r == -EPROTO || r == -EIO, "the server wants a client certificate: %d %s", r, err.msg);
	hook_result_clear(&res);
	err = (struct cx_err){ 0 };
	cr_assert_eq(call("mtls", "p", &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(said(&res, "clientCN"), "coxswain-client");
	cr_assert_str_eq(said(&res, "host"), "hook.test:8443");
	hook_result_clear(&res);
}

Test(webhook_live, bearer_and_basic_headers_arrive)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("bearer", "p", &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(said(&res, "authorization"), "Bearer t0ken-value", "trimmed, as metacontroller does");
	hook_result_clear(&res);
	cr_assert_eq(call("basic", "p", &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(said(&res, "authorization"), "Basic YWxpY2U6aHVudGVyMg=="); /* alice:hunter2 */
	hook_result_clear(&res);
}

Test(webhook_live, a_matching_connection_gives_the_settings)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("conn", "p", &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(said(&res, "authorization"), "Token t0ken-value", "connections[1], not [0]");
	hook_result_clear(&res);
}

/* metacontroller's etag: the second call sends If-None-Match, gets a 304
 * and reuses the first answer (served: 1); another parent is its own key. */
Test(webhook_live, a_304_reuses_the_previous_answer)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("etag", "p1", &res, &err), 0, "%s", err.msg);
	cr_assert_null(said(&res, "ifNoneMatch"));
	cr_assert_eq(json_object_get_int(jsonget(res.status, "served")), 1);
	hook_result_clear(&res);
	cr_assert_eq(call("etag", "p1", &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.stats.http_status, 304);
	cr_assert_eq(json_object_get_int(jsonget(res.status, "served")), 1, "the cached answer");
	hook_result_clear(&res);
	cr_assert_eq(call("etag", "p2", &res, &err), 0, "%s", err.msg);
	cr_assert_eq(res.stats.http_status, 200);
	cr_assert_null(said(&res, "ifNoneMatch"), "p2 has no entry yet");
	cr_assert_eq(json_object_get_int(jsonget(res.status, "served")), 3, "the server saw three requests");
	hook_result_clear(&res);
}

/* A 401 drops the cached Secret: the rotated one is used on the next call,
 * well before the 60 s the copy would otherwise be kept. */
Test(webhook_live, a_rotated_secret_is_picked_up_after_a_401)
{
	put("secrets", "rotating", values("token", "first", NULL, NULL));
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("rotate", "p", &res, &err), -EIO, "%s", err.msg);
	cr_assert(strstr(err.msg, "HTTP 401"), "%s", err.msg);
	cr_assert_null(strstr(err.msg, "first"), "no credential in messages: %s", err.msg);
	hook_result_clear(&res);
	put("secrets", "rotating", values("token", "second", NULL, NULL));
	err = (struct cx_err){ 0 };
	cr_assert_eq(call("rotate", "p", &res, &err), 0, "%s", err.msg);
	cr_assert_str_eq(said(&res, "authorization"), "Bearer second");
	hook_result_clear(&res);
}

Test(webhook_live, a_missing_key_names_the_controller_hook_secret_and_field)
{
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("missing", "p", &res, &err), -EINVAL, "%s", err.msg);
	char want[512];
	snprintf(want, sizeof(want),
		 "sync hook \"https://hook.test/sync\": controller \"missing\": "
		 "webhook.basicAuth: Secret \"%s/login\" has no key \"nope\"",
		 ns);
	cr_assert_str_eq(err.msg, want);
	cr_assert_null(strstr(err.msg, "hunter2"));
	hook_result_clear(&res);
}

Test(webhook_live, bad_connect_to_syntax_is_an_error_naming_the_variable)
{
	setenv(HOOK_CONNECT_TO_ENV, "hook.test:443:127.0.0.1", 1);
	struct hook_result res;
	struct cx_err err = { 0 };
	cr_assert_eq(call("secret-ca", "p", &res, &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "sync hook \"https://hook.test/sync\": COXSWAIN_WEBHOOK_CONNECT_TO: entry 1 "
			 "\"hook.test:443:127.0.0.1\": expected HOST:PORT:CONNECT_HOST:CONNECT_PORT");
	hook_result_clear(&res);
}

/* Unit tests for common/kubeconfig: parsing, context resolution and every
 * bad input the issue names, over the files in tests/unit/data/kubeconfig. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "kubeconfig.h"
#include "restconfig.h"

#define DATA TEST_DATA_DIR "/kubeconfig/"

static struct kubeconfig *load_ok(const char *name)
{
	struct cx_err err = { 0 };
	struct kubeconfig *kc = NULL;
	cr_assert_eq(kubeconfig_load(name, &kc, &err), 0, "loading %s: %s", name, err.msg);
	cr_assert_not_null(kc);
	return kc;
}

static struct cx_err load_fail(const char *name)
{
	struct cx_err err = { 0 };
	struct kubeconfig *kc = (struct kubeconfig *)1;
	int r = kubeconfig_load(name, &kc, &err);
	cr_assert_null(kc, "%s should not load", name);
	cr_assert_lt(err.code, 0);
	cr_assert_eq(r, err.code, "the code returned is the one in err");
	cr_assert(strstr(err.msg, name), "message names the file: %s", err.msg);
	return err;
}

static struct cx_err resolve_fail(const char *context)
{
	struct kubeconfig *kc = load_ok(DATA "good.yaml");
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	int rc_code = kubeconfig_restconfig(kc, context, &rc, &err);
	cr_assert_lt(rc_code, 0, "context %s should not resolve", context);
	cr_assert_eq(rc_code, err.code);
	cr_assert_null(rc);
	cr_assert(strstr(err.msg, DATA "good.yaml"), "message names the file: %s", err.msg);
	kubeconfig_free(&kc);
	return err;
}

static struct restconfig *resolve_ok(struct kubeconfig *kc, const char *context)
{
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kubeconfig_restconfig(kc, context, &rc, &err), 0, "%s", err.msg);
	cr_assert_not_null(rc);
	return rc;
}

Test(kubeconfig, parses_every_entry)
{
	struct kubeconfig *kc = load_ok(DATA "good.yaml");
	cr_assert_str_eq(kc->path, DATA "good.yaml");
	cr_assert_str_eq(kc->current_context, "admin@local");
	cr_assert_eq(kc->n_clusters, 4);
	cr_assert_eq(kc->n_users, 6);
	cr_assert_eq(kc->n_contexts, 10);

	struct kubeconfig_cluster *local = &kc->clusters[0];
	cr_assert_str_eq(local->name, "local");
	cr_assert_str_eq(local->server, "https://127.0.0.1:6443/");
	cr_assert_eq(local->certificate_authority_data.len, strlen("CA PEM BYTES\n"));
	cr_assert_str_eq((char *)local->certificate_authority_data.data, "CA PEM BYTES\n");
	cr_assert_str_eq(local->tls_server_name, "kubernetes");
	cr_assert_not(local->insecure_skip_tls_verify);

	struct kubeconfig_cluster *files = &kc->clusters[1];
	cr_assert_str_eq(files->proxy_url, "http://127.0.0.1:3128");
	cr_assert_eq(files->certificate_authority[0], '/', "relative paths become absolute");
	cr_assert(strstr(files->certificate_authority, "/kubeconfig/certs/ca.pem"));
	cr_assert(kc->clusters[2].insecure_skip_tls_verify);

	cr_assert_str_eq(kc->users[1].token, "op-token-123");
	cr_assert(strstr(kc->users[2].token_file, "/kubeconfig/certs/token"));
	struct kubeconfig_user *plugin = &kc->users[4];
	cr_assert(plugin->has_exec);
	cr_assert_null(plugin->unsupported);
	cr_assert_str_eq(plugin->exec.api_version, "client.authentication.k8s.io/v1");
	cr_assert(strstr(plugin->exec.command, "/kubeconfig/./plugins/get-token"), "%s", plugin->exec.command);
	cr_assert_eq(plugin->exec.command[0], '/', "a command with a '/' is relative to the file");
	cr_assert_eq(plugin->exec.n_args, 2);
	cr_assert_str_eq(plugin->exec.args[1], "local");
	cr_assert_eq(plugin->exec.n_env, 1);
	cr_assert_str_eq(plugin->exec.env_names[0], "PLUGIN_MODE");
	cr_assert_str_eq(plugin->exec.env_values[0], "test");
	cr_assert(plugin->exec.provide_cluster_info);
	cr_assert_str_eq(plugin->exec.interactive_mode, "Never");
	cr_assert_str_eq(kc->users[5].unsupported, "username");

	struct kubeconfig_context *ctx = &kc->contexts[0];
	cr_assert_str_eq(ctx->cluster, "local");
	cr_assert_str_eq(ctx->user, "admin");
	cr_assert_str_eq(ctx->namespace, "team-a");
	kubeconfig_free(&kc);
	cr_assert_null(kc);
}

Test(kubeconfig, resolves_current_context_with_inline_data)
{
	struct kubeconfig *kc = load_ok(DATA "good.yaml");
	struct restconfig *rc = resolve_ok(kc, NULL);
	cr_assert_str_eq(rc->server, "https://127.0.0.1:6443", "trailing slash dropped");
	cr_assert_str_eq((char *)rc->ca.data, "CA PEM BYTES\n");
	cr_assert_str_eq((char *)rc->client_cert.data, "CERT PEM BYTES\n");
	cr_assert_str_eq((char *)rc->client_key.data, "KEY PEM BYTES\n");
	cr_assert_null(rc->token);
	cr_assert_str_eq(rc->namespace, "team-a");
	cr_assert_str_eq(rc->tls_server_name, "kubernetes");
	cr_assert(strstr(rc->source, "admin@local"));
	restconfig_free(&rc);
	cr_assert_null(rc);
	kubeconfig_free(&kc);
}

Test(kubeconfig, resolves_named_context_reading_files)
{
	struct kubeconfig *kc = load_ok(DATA "good.yaml");
	struct restconfig *rc = resolve_ok(kc, "files");
	cr_assert_str_eq((char *)rc->ca.data, "CA FROM FILE\n");
	cr_assert_str_eq((char *)rc->client_cert.data, "CLIENT CERT FROM FILE\n");
	cr_assert_str_eq((char *)rc->client_key.data, "CLIENT KEY FROM FILE\n");
	cr_assert(strstr(rc->token_file, "/kubeconfig/certs/token"));
	cr_assert_str_eq(rc->proxy_url, "http://127.0.0.1:3128");
	cr_assert_null(rc->namespace);
	restconfig_free(&rc);

	rc = resolve_ok(kc, "op@local");
	cr_assert_str_eq(rc->token, "op-token-123");
	cr_assert_eq(rc->client_cert.len, 0);
	restconfig_free(&rc);

	rc = resolve_ok(kc, "insecure");
	cr_assert(rc->insecure);
	cr_assert_eq(rc->ca.len, 0);
	restconfig_free(&rc);
	kubeconfig_free(&kc);
}

Test(kubeconfig, missing_file)
{
	struct cx_err err = load_fail(DATA "does-not-exist.yaml");
	cr_assert_eq(err.code, -ENOENT);
	cr_assert(strstr(err.msg, "No such file"), "%s", err.msg);
}

Test(kubeconfig, bad_yaml_names_line_and_column)
{
	struct cx_err err = load_fail(DATA "bad-yaml.yaml");
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "line 6"), "%s", err.msg);
	cr_assert(strstr(err.msg, "column"), "%s", err.msg);
}

Test(kubeconfig, bad_base64_names_user_and_field)
{
	struct cx_err err = load_fail(DATA "bad-base64.yaml");
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "users[0]"), "%s", err.msg);
	cr_assert(strstr(err.msg, "\"admin\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "client-key-data"), "%s", err.msg);
	cr_assert(strstr(err.msg, "base64"), "%s", err.msg);
}

Test(kubeconfig, wrong_type_names_field)
{
	struct cx_err err = load_fail(DATA "wrong-type.yaml");
	cr_assert(strstr(err.msg, "clusters"), "%s", err.msg);
	cr_assert(strstr(err.msg, "expected a list"), "%s", err.msg);
	cr_assert(strstr(err.msg, "line 2"), "%s", err.msg);
}

Test(kubeconfig, bad_bool_names_field)
{
	struct cx_err err = load_fail(DATA "bad-bool.yaml");
	cr_assert(strstr(err.msg, "clusters[0]"), "%s", err.msg);
	cr_assert(strstr(err.msg, "insecure-skip-tls-verify"), "%s", err.msg);
	cr_assert(strstr(err.msg, "maybe"), "%s", err.msg);
}

Test(kubeconfig, duplicate_name)
{
	struct cx_err err = load_fail(DATA "duplicate.yaml");
	cr_assert(strstr(err.msg, "users[1]"), "%s", err.msg);
	cr_assert(strstr(err.msg, "duplicate"), "%s", err.msg);
	cr_assert(strstr(err.msg, "users[0]"), "%s", err.msg);
}

Test(kubeconfig, entry_without_name)
{
	struct cx_err err = load_fail(DATA "nameless.yaml");
	cr_assert(strstr(err.msg, "contexts[0].name"), "%s", err.msg);
}

Test(kubeconfig, empty_file_loads_but_has_no_context)
{
	struct kubeconfig *kc = load_ok(DATA "empty.yaml");
	cr_assert_eq(kc->n_clusters + kc->n_users + kc->n_contexts, 0);
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kubeconfig_restconfig(kc, NULL, &rc, &err), -ENOENT);
	cr_assert(strstr(err.msg, "current-context"), "%s", err.msg);
	kubeconfig_free(&kc);
}

Test(kubeconfig, no_current_context)
{
	struct kubeconfig *kc = load_ok(DATA "no-current.yaml");
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kubeconfig_restconfig(kc, NULL, &rc, &err), -ENOENT);
	cr_assert(strstr(err.msg, "no current-context"), "%s", err.msg);
	cr_assert(strstr(err.msg, "no-current.yaml"), "%s", err.msg);
	kubeconfig_free(&kc);
}

Test(kubeconfig, unknown_context)
{
	struct cx_err err = resolve_fail("staging");
	cr_assert_eq(err.code, -ENOENT);
	cr_assert(strstr(err.msg, "context \"staging\" not found"), "%s", err.msg);
}

Test(kubeconfig, missing_cluster)
{
	struct cx_err err = resolve_fail("no-such-cluster");
	cr_assert_eq(err.code, -ENOENT);
	cr_assert(strstr(err.msg, "context \"no-such-cluster\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "cluster \"nowhere\" not found"), "%s", err.msg);
}

Test(kubeconfig, missing_user)
{
	struct cx_err err = resolve_fail("no-such-user");
	cr_assert(strstr(err.msg, "user \"nobody\" not found"), "%s", err.msg);
}

Test(kubeconfig, cluster_without_server)
{
	struct cx_err err = resolve_fail("serverless");
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "cluster \"serverless\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "server"), "%s", err.msg);
}

Test(kubeconfig, referenced_file_missing)
{
	struct cx_err err = resolve_fail("missing-files");
	cr_assert_eq(err.code, -ENOENT);
	cr_assert(strstr(err.msg, "user \"missing-files\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "client-certificate"), "%s", err.msg);
	cr_assert(strstr(err.msg, "certs/absent.pem"), "%s", err.msg);
}

Test(kubeconfig, exec_plugin_user_resolves_to_a_plugin)
{
	struct kubeconfig *kc = load_ok(DATA "good.yaml");
	struct restconfig *rc = resolve_ok(kc, "plugin");
	cr_assert_not_null(rc->exec);
	cr_assert_null(rc->token);
	restconfig_free(&rc);
	kubeconfig_free(&kc);
}

Test(kubeconfig, bad_exec_stanza_names_the_field)
{
	struct cx_err err = load_fail(DATA "bad-exec.yaml");
	cr_assert(strstr(err.msg, "users[0] (\"plugin\").user.exec.env[0]"), "%s", err.msg);
	cr_assert(strstr(err.msg, "{name: string, value: string}"), "%s", err.msg);
}

Test(kubeconfig, unsupported_auth_is_refused_not_ignored)
{
	struct cx_err err = resolve_fail("basic");
	cr_assert_eq(err.code, -ENOTSUP);
	cr_assert(strstr(err.msg, "user \"basic\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "username"), "%s", err.msg);
}

Test(kubeconfig, repeated_key_is_an_error_not_a_leak)
{
	struct cx_err err = load_fail(DATA "repeated-key.yaml");
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "line 6"), "%s", err.msg);
	cr_assert(strstr(err.msg, "certificate-authority-data"), "%s", err.msg);
	cr_assert(strstr(err.msg, "first at line 5"), "%s", err.msg);
}

/* Writes a kubeconfig with one context "c" of cluster "k" at server and
 * user "u" with the given user fields (YAML flow mapping body) to a
 * temporary file named in path. */
static void write_kubeconfig(char *path, size_t len, const char *server, const char *user_fields)
{
	snprintf(path, len, "/tmp/test_kubeconfig-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		"clusters:\n- name: k\n  cluster: {server: \"%s\", insecure-skip-tls-verify: true}\n"
		"contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
		"users:\n- name: u\n  user: {%s}\n",
		server, user_fields);
	cr_assert_eq(fclose(f), 0);
}

static struct cx_err resolve_file_fail(const char *path)
{
	struct kubeconfig *kc = load_ok(path);
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_lt(kubeconfig_restconfig(kc, NULL, &rc, &err), 0, "%s should not resolve", path);
	cr_assert_null(rc);
	cr_assert(strstr(err.msg, path), "message names the file: %s", err.msg);
	kubeconfig_free(&kc);
	return err;
}

Test(kubeconfig, an_unparsable_server_url_is_refused_naming_the_field)
{
	static const char *const bad[] = { "https://[::1",         "https://",      "not a url", "ftp://example.com",
					   "https://exa mple.com", "127.0.0.1:6443" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[64];
		write_kubeconfig(path, sizeof(path), bad[i], "token: t");
		struct cx_err err = resolve_file_fail(path);
		unlink(path);
		cr_assert_eq(err.code, -EINVAL, "%s: %s", bad[i], err.msg);
		cr_assert(strstr(err.msg, "cluster \"k\": server: "), "%s", err.msg);
		cr_assert(strstr(err.msg, bad[i]), "quotes the value: %s", err.msg);
	}
	static const char *const good[] = { "https://[::1]:6443", "https://127.0.0.1:6443/", "http://localhost:8080",
					    "https://api.example.com/prefix" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char path[64];
		write_kubeconfig(path, sizeof(path), good[i], "token: t");
		struct kubeconfig *kc = load_ok(path);
		struct restconfig *rc = resolve_ok(kc, NULL);
		restconfig_free(&rc);
		kubeconfig_free(&kc);
		unlink(path);
	}
}

Test(kubeconfig, a_huge_token_is_refused_naming_the_file_and_field)
{
	size_t n = 8u << 20;
	char *fields = malloc(n + 16);
	cr_assert_not_null(fields);
	strcpy(fields, "token: ");
	memset(fields + 7, 'a', n);
	fields[7 + n] = '\0';
	char path[64];
	write_kubeconfig(path, sizeof(path), "https://127.0.0.1:6443", fields);
	free(fields);
	struct cx_err err = resolve_file_fail(path);
	unlink(path);
	cr_assert_eq(err.code, -EFBIG, "%d %s", err.code, err.msg);
	cr_assert(strstr(err.msg, "user \"u\": token: "), "%s", err.msg);
	cr_assert(strstr(err.msg, "65536"), "says the limit: %s", err.msg);

	/* The same as a tokenFile. */
	char token[64];
	snprintf(token, sizeof(token), "/tmp/test_kubeconfig-token-XXXXXX");
	int fd = mkstemp(token);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)n), 0);
	close(fd);
	char tf[128];
	snprintf(tf, sizeof(tf), "tokenFile: %s", token);
	write_kubeconfig(path, sizeof(path), "https://127.0.0.1:6443", tf);
	err = resolve_file_fail(path);
	unlink(path);
	unlink(token);
	cr_assert_eq(err.code, -EFBIG, "%d %s", err.code, err.msg);
	cr_assert(strstr(err.msg, "user \"u\": tokenFile: "), "%s", err.msg);
	cr_assert(strstr(err.msg, token), "names the token file: %s", err.msg);
	cr_assert(strstr(err.msg, "65536"), "says the limit: %s", err.msg);
}

/* Unit tests for common/execcred: running exec credential plugins (the
 * /bin/sh scripts in tests/unit/data/execcred), caching what they return, and
 * every way a plugin or its kubeconfig stanza can be wrong. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blob.h"
#include "clock.h"
#include "err.h"
#include "execcred.h"

#define PLUGINS TEST_DATA_DIR "/execcred/"
#define USER    "alice"

/* 2026-11-25T15:04:05Z, worked out independently (Python's calendar.timegm). */
#define T_2026_11_25_150405 ((time_t)1795619045)

/* ---- building specs the way the kubeconfig parser will: all owned ---- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	cr_assert_not_null(d);
	return d;
}

static struct execcred_spec spec_make(const char *api_version, const char *command)
{
	struct execcred_spec s = { 0 };
	if (api_version)
		s.api_version = xstrdup(api_version);
	if (command)
		s.command = xstrdup(command);
	if (api_version && !strcmp(api_version, EXECCRED_V1))
		s.interactive_mode = xstrdup("Never");
	return s;
}

static struct execcred_spec plugin_spec(const char *script)
{
	char path[512];
	snprintf(path, sizeof(path), PLUGINS "%s", script);
	return spec_make(EXECCRED_V1, path);
}

static void spec_arg(struct execcred_spec *s, const char *arg)
{
	s->args = realloc(s->args, (s->n_args + 1) * sizeof(*s->args));
	cr_assert_not_null(s->args);
	s->args[s->n_args++] = xstrdup(arg);
}

static void spec_env(struct execcred_spec *s, const char *name, const char *value)
{
	s->env_names = realloc(s->env_names, (s->n_env + 1) * sizeof(*s->env_names));
	s->env_values = realloc(s->env_values, (s->n_env + 1) * sizeof(*s->env_values));
	cr_assert(s->env_names && s->env_values);
	s->env_names[s->n_env] = xstrdup(name);
	s->env_values[s->n_env] = xstrdup(value);
	s->n_env++;
}

/* The runner copies the spec: it is cleared right away, so a runner that
 * kept pointers into it would be caught by ASan. */
static struct execcred *new_ok(struct execcred_spec *s, const struct execcred_cluster *cluster)
{
	struct cx_err err = { 0 };
	struct execcred *ec = NULL;
	execcred_new(s, USER, cluster, &ec, &err);
	cr_assert_not_null(ec, "%s", err.msg);
	execcred_spec_clear(s);
	cr_assert_null(s->command);
	execcred_set_timeout(ec, 10000);
	return ec;
}

static const char *get_token(struct execcred *ec, bool force)
{
	const char *token = NULL;
	const struct blob *cert = NULL, *key = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(execcred_get(ec, force, &token, &cert, &key, &err), 0, "%s", err.msg);
	cr_assert_not_null(token);
	cr_assert_null(cert);
	cr_assert_null(key);
	return token;
}

/* Runs the plugin of spec s, which must fail with code; checks the message
 * names the plugin and the user and returns it. */
static struct cx_err get_fail(struct execcred_spec *s, int timeout_ms, int code)
{
	char prefix[600];
	snprintf(prefix, sizeof(prefix), "exec plugin \"%s\" for user \"" USER "\": ", s->command);
	struct execcred *ec = new_ok(s, NULL);
	if (timeout_ms)
		execcred_set_timeout(ec, timeout_ms);
	const char *token = "x";
	const struct blob *cert = (const struct blob *)1, *key = (const struct blob *)1;
	struct cx_err err = { 0 };
	int rc = execcred_get(ec, false, &token, &cert, &key, &err);
	cr_assert_eq(rc, code, "expected %d (%s), got %d: %s", code, strerror(-code), rc, err.msg);
	cr_assert_eq(err.code, rc);
	cr_assert_null(token);
	cr_assert_null(cert);
	cr_assert_null(key);
	cr_assert_eq(strncmp(err.msg, prefix, strlen(prefix)), 0, "message names plugin and user: %s", err.msg);
	cr_assert_null(strchr(err.msg, '\n'), "one line: %s", err.msg);
	execcred_free(&ec);
	cr_assert_null(ec);
	return err;
}

/* A plugin that prints out (and exits 0) must be refused with -EPROTO. */
static struct cx_err output_fail(const char *out)
{
	struct execcred_spec s = plugin_spec("output.sh");
	spec_env(&s, "EXECCRED_OUTPUT", out);
	return get_fail(&s, 0, -EPROTO);
}

/* execcred_new must refuse s; the message names the user and contains what. */
static void new_fail(struct execcred_spec *s, const struct execcred_cluster *cluster, const char *what)
{
	struct cx_err err = { 0 };
	struct execcred *ec = NULL;
	execcred_new(s, USER, cluster, &ec, &err);
	cr_assert_null(ec, "spec should be refused (%s)", what);
	cr_assert_eq(err.code, -EINVAL, "%d: %s", err.code, err.msg);
	cr_assert(strstr(err.msg, "for user \"" USER "\""), "names the user: %s", err.msg);
	cr_assert(strstr(err.msg, what), "expected \"%s\" in: %s", what, err.msg);
	execcred_spec_clear(s);
}

/* ---- a scratch directory per test ---- */

static char scratch[64];

static void scratch_make(void)
{
	strcpy(scratch, "/tmp/test_execcred-XXXXXX");
	cr_assert_not_null(mkdtemp(scratch));
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static void scratch_remove(void)
{
	if (scratch[0])
		nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static const char *scratch_path(const char *name)
{
	static char paths[4][256];
	static int next;
	char *p = paths[next++ % 4];
	snprintf(p, sizeof(paths[0]), "%s/%s", scratch, name);
	return p;
}

static int count_runs(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int n = 0, c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static pid_t read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "the plugin wrote %s", path);
	long pid = 0;
	cr_assert_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

/* Gone or a zombie waiting for whoever inherited it: either way, killed. */
static bool process_dead(pid_t pid)
{
	char path[64], stat[512] = "";
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')');
	return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

TestSuite(execcred, .init = scratch_make, .fini = scratch_remove);

/* ---- credentials ---- */

Test(execcred, returns_v1_token)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_eq(execcred_expiry(ec), 0, "no expirationTimestamp, no expiry");
	execcred_free(&ec);
	cr_assert_null(ec);
	execcred_free(&ec);
}

Test(execcred, returns_v1beta1_token_without_interactive_mode)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	free(s.api_version);
	s.api_version = xstrdup(EXECCRED_V1BETA1);
	free(s.interactive_mode);
	s.interactive_mode = NULL; /* optional in v1beta1: IfAvailable */
	spec_env(&s, "EXECCRED_API", EXECCRED_V1BETA1);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	execcred_free(&ec);
}

Test(execcred, returns_client_certificate_and_key)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	spec_env(&s, "EXECCRED_CERT", "1");
	struct execcred *ec = new_ok(&s, NULL);
	const char *token = "x";
	const struct blob *cert = NULL, *key = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(execcred_get(ec, false, &token, &cert, &key, &err), 0, "%s", err.msg);
	cr_assert_null(token);
	cr_assert_str_eq((char *)cert->data, "-----BEGIN CERTIFICATE-----\nCERT 1\n-----END CERTIFICATE-----\n");
	cr_assert_eq(cert->len, strlen((char *)cert->data));
	cr_assert_str_eq((char *)key->data, "-----BEGIN PRIVATE KEY-----\nKEY 1\n-----END PRIVATE KEY-----\n");
	cr_assert_eq(key->len, strlen((char *)key->data));
	execcred_free(&ec);
}

Test(execcred, returns_token_and_certificate_together)
{
	struct execcred_spec s = plugin_spec("output.sh");
	spec_env(&s, "EXECCRED_OUTPUT",
		 "{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
		 "\"status\": {\"token\": \"both\", \"clientCertificateData\": \"C\", \"clientKeyData\": \"K\"}}");
	struct execcred *ec = new_ok(&s, NULL);
	const char *token = NULL;
	const struct blob *cert = NULL, *key = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(execcred_get(ec, false, &token, &cert, &key, &err), 0, "%s", err.msg);
	cr_assert_str_eq(token, "both");
	cr_assert_str_eq((char *)cert->data, "C");
	cr_assert_str_eq((char *)key->data, "K");
	cr_assert_eq(execcred_get(ec, false, NULL, NULL, NULL, &err), 0, "outputs may be NULL: %s", err.msg);
	execcred_free(&ec);
}

/* ---- caching ---- */

Test(execcred, caches_credential_without_expiry_until_forced)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	const char *count = scratch_path("count");
	spec_env(&s, "EXECCRED_COUNT_FILE", count);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_eq(count_runs(count), 1, "the second get came from the cache");
	cr_assert_str_eq(get_token(ec, true), "token-2", "force runs the plugin again");
	cr_assert_eq(count_runs(count), 2);
	cr_assert_str_eq(get_token(ec, false), "token-2");
	cr_assert_eq(count_runs(count), 2);
	execcred_free(&ec);
}

Test(execcred, caches_until_expiration_timestamp)
{
	char expiry[64];
	time_t when = time(NULL) + 3600;
	rfc3339(when, expiry, sizeof(expiry));
	struct execcred_spec s = plugin_spec("credential.sh");
	const char *count = scratch_path("count");
	spec_env(&s, "EXECCRED_COUNT_FILE", count);
	spec_env(&s, "EXECCRED_EXPIRY", expiry);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_eq(execcred_expiry(ec), when);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_eq(count_runs(count), 1);
	execcred_free(&ec);
}

Test(execcred, reruns_when_expired)
{
	char expiry[64];
	rfc3339(time(NULL) - 60, expiry, sizeof(expiry));
	struct execcred_spec s = plugin_spec("credential.sh");
	const char *count = scratch_path("count");
	spec_env(&s, "EXECCRED_COUNT_FILE", count);
	spec_env(&s, "EXECCRED_EXPIRY", expiry);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1", "an expired credential is still handed out once");
	cr_assert_str_eq(get_token(ec, false), "token-2");
	cr_assert_eq(count_runs(count), 2);
	execcred_free(&ec);
}

Test(execcred, reruns_when_about_to_expire)
{
	char expiry[64];
	rfc3339(time(NULL) + EXECCRED_EXPIRY_MARGIN_S - 3, expiry, sizeof(expiry));
	struct execcred_spec s = plugin_spec("credential.sh");
	const char *count = scratch_path("count");
	spec_env(&s, "EXECCRED_COUNT_FILE", count);
	spec_env(&s, "EXECCRED_EXPIRY", expiry);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	cr_assert_str_eq(get_token(ec, false), "token-2", "within the margin counts as expired");
	cr_assert_eq(count_runs(count), 2);
	execcred_free(&ec);
}

Test(execcred, failure_leaves_nothing_cached)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	const char *count = scratch_path("count"), *fail = scratch_path("fail");
	spec_env(&s, "EXECCRED_COUNT_FILE", count);
	spec_env(&s, "EXECCRED_FAIL_FILE", fail);
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");

	FILE *f = fopen(fail, "w");
	cr_assert_not_null(f);
	fclose(f);
	const char *token = "x";
	struct cx_err err = { 0 };
	cr_assert_lt(execcred_get(ec, true, &token, NULL, NULL, &err), 0);
	cr_assert_null(token);
	cr_assert(strstr(err.msg, "exited with status 1: identity provider unavailable"), "%s", err.msg);

	unlink(fail);
	cr_assert_str_eq(get_token(ec, false), "token-3", "the token the 401 condemned is not handed back");
	cr_assert_eq(count_runs(count), 3);
	execcred_free(&ec);
}

/* ---- expirationTimestamp ---- */

static time_t expiry_of(const char *timestamp)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	spec_env(&s, "EXECCRED_EXPIRY", timestamp);
	struct execcred *ec = new_ok(&s, NULL);
	get_token(ec, false);
	time_t t = execcred_expiry(ec);
	execcred_free(&ec);
	return t;
}

Test(execcred, parses_rfc3339_timestamps)
{
	cr_assert_eq(expiry_of("2026-11-25T15:04:05Z"), T_2026_11_25_150405);
	cr_assert_eq(expiry_of("2026-11-25T15:04:05.999999999Z"), T_2026_11_25_150405, "fractions dropped");
	cr_assert_eq(expiry_of("2026-11-25T17:04:05+02:00"), T_2026_11_25_150405);
	cr_assert_eq(expiry_of("2026-11-25T09:34:05-05:30"), T_2026_11_25_150405);
	cr_assert_eq(expiry_of("2026-11-26T00:04:05+09:00"), T_2026_11_25_150405, "offset crosses midnight");
	cr_assert_eq(expiry_of("2024-02-29T00:00:00Z"), (time_t)1709164800, "leap day");
	cr_assert_eq(expiry_of("2000-02-29T00:00:00Z"), (time_t)951782400, "leap day of a 400th year");
	cr_assert_eq(expiry_of("1999-12-31T23:59:59Z"), (time_t)946684799);
}

Test(execcred, rejects_bad_timestamps)
{
	static const char *const bad[] = {
		"tomorrow",
		"",
		"2026-11-25",
		"2026-11-25T15:04:05",
		"2026-11-25 15:04:05Z",
		"2026-11-25T15:04:05Zjunk",
		"+2026-11-25T15:04:05Z",
		"2026-1-25T15:04:05Z",
		"2026-13-01T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-04-31T00:00:00Z",
		"2026-02-30T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z",
		"2026-11-25T24:00:00Z",
		"2026-11-25T15:60:00Z",
		"2026-11-25T15:04:60Z",
		"2026-11-25T15:04:05.Z",
		"2026-11-25T15:04:05+2:00",
		"2026-11-25T15:04:05+24:00",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char out[512];
		snprintf(out, sizeof(out),
			 "{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"ExecCredential\", "
			 "\"status\": {\"token\": \"s3cr3t\", \"expirationTimestamp\": \"%s\"}}",
			 bad[i]);
		struct cx_err err = output_fail(out);
		cr_assert(strstr(err.msg, "status.expirationTimestamp"), "%s: %s", bad[i], err.msg);
		cr_assert(strstr(err.msg, "RFC 3339"), "%s", err.msg);
		cr_assert_null(strstr(err.msg, "s3cr3t"), "never the token: %s", err.msg);
	}
	struct cx_err err = output_fail(
		"{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
		"\"ExecCredential\", \"status\": {\"token\": \"t\", \"expirationTimestamp\": 5}}");
	cr_assert(strstr(err.msg, "status.expirationTimestamp: expected a string"), "%s", err.msg);
}

/* ---- what the plugin is given ---- */

Test(execcred, passes_args_verbatim_without_a_shell)
{
	struct execcred_spec s = plugin_spec("args.sh");
	spec_arg(&s, "one");
	spec_arg(&s, "two words");
	spec_arg(&s, "$HOME");
	spec_arg(&s, "*");
	spec_arg(&s, "");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "5|one|two words|$HOME|*|");
	execcred_free(&ec);
}

Test(execcred, passes_env_without_touching_ours)
{
	cr_assert_eq(setenv("EXECCRED_OVERRIDE", "outer", 1), 0);
	cr_assert_eq(setenv("EXECCRED_INHERITED", "inherited", 1), 0);
	unsetenv("EXECCRED_SPEC_ONLY");
	unsetenv("EXECCRED_DUP");
	struct execcred_spec s = plugin_spec("env.sh");
	spec_env(&s, "EXECCRED_OVERRIDE", "inner");
	spec_env(&s, "EXECCRED_SPEC_ONLY", "spec");
	spec_env(&s, "EXECCRED_DUP", "first");
	spec_env(&s, "EXECCRED_DUP", "second");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "inner,spec,inherited,second,1,1");
	cr_assert_str_eq(getenv("EXECCRED_OVERRIDE"), "outer");
	cr_assert_null(getenv("EXECCRED_SPEC_ONLY"));
	cr_assert_null(getenv("EXECCRED_DUP"));
	cr_assert_null(getenv("KUBERNETES_EXEC_INFO"));

	/* Our environment is read again at each run, as client-go does. */
	cr_assert_eq(setenv("EXECCRED_INHERITED", "changed", 1), 0);
	cr_assert_str_eq(get_token(ec, true), "inner,spec,changed,second,1,1");
	execcred_free(&ec);
}

/* The plugin's KUBERNETES_EXEC_INFO, parsed; checks the parts every run has. */
static struct json_object *exec_info(struct execcred *ec, const char *api_version)
{
	struct json_object *info = json_tokener_parse(get_token(ec, false));
	cr_assert_not_null(info, "KUBERNETES_EXEC_INFO is JSON");
	struct json_object *v, *spec;
	cr_assert(json_object_object_get_ex(info, "apiVersion", &v));
	cr_assert_str_eq(json_object_get_string(v), api_version);
	cr_assert(json_object_object_get_ex(info, "kind", &v));
	cr_assert_str_eq(json_object_get_string(v), "ExecCredential");
	cr_assert(json_object_object_get_ex(info, "spec", &spec));
	cr_assert(json_object_object_get_ex(spec, "interactive", &v));
	cr_assert(json_object_is_type(v, json_type_boolean));
	cr_assert_not(json_object_get_boolean(v), "we never have a terminal");
	cr_assert_not(json_object_object_get_ex(info, "status", NULL));
	return info;
}

Test(execcred, exec_info_without_cluster)
{
	struct execcred_spec s = plugin_spec("exec-info.sh");
	struct blob ca = { (unsigned char *)"CA PEM\n", 7 };
	struct execcred_cluster cluster = { .server = "https://127.0.0.1:6443", .ca = &ca };
	struct execcred *ec = new_ok(&s, &cluster);
	struct json_object *info = exec_info(ec, EXECCRED_V1);
	struct json_object *spec;
	json_object_object_get_ex(info, "spec", &spec);
	cr_assert_not(json_object_object_get_ex(spec, "cluster", NULL), "provideClusterInfo is off");
	json_object_put(info);
	execcred_free(&ec);
}

Test(execcred, exec_info_with_cluster)
{
	struct execcred_spec s = plugin_spec("exec-info.sh");
	free(s.api_version);
	s.api_version = xstrdup(EXECCRED_V1BETA1);
	s.provide_cluster_info = true;
	struct blob ca = { (unsigned char *)"CA PEM\n", 7 };
	struct execcred_cluster cluster = {
		.server = "https://127.0.0.1:6443",
		.tls_server_name = "kubernetes",
		.ca = &ca,
		.proxy_url = "http://proxy:3128",
	};
	struct execcred *ec = new_ok(&s, &cluster);
	struct json_object *info = exec_info(ec, EXECCRED_V1BETA1);
	struct json_object *spec, *c, *v;
	json_object_object_get_ex(info, "spec", &spec);
	cr_assert(json_object_object_get_ex(spec, "cluster", &c));
	cr_assert(json_object_object_get_ex(c, "server", &v));
	cr_assert_str_eq(json_object_get_string(v), "https://127.0.0.1:6443");
	cr_assert(json_object_object_get_ex(c, "certificate-authority-data", &v));
	cr_assert_str_eq(json_object_get_string(v), "Q0EgUEVNCg==", "base64 of the CA PEM");
	cr_assert(json_object_object_get_ex(c, "tls-server-name", &v));
	cr_assert_str_eq(json_object_get_string(v), "kubernetes");
	cr_assert(json_object_object_get_ex(c, "proxy-url", &v));
	cr_assert_str_eq(json_object_get_string(v), "http://proxy:3128");
	cr_assert_not(json_object_object_get_ex(c, "insecure-skip-tls-verify", NULL), "omitted when false");
	json_object_put(info);
	execcred_free(&ec);
}

Test(execcred, exec_info_with_insecure_cluster_without_ca)
{
	struct execcred_spec s = plugin_spec("exec-info.sh");
	s.provide_cluster_info = true;
	struct execcred_cluster cluster = { .server = "https://10.0.0.1", .insecure_skip_tls_verify = true };
	struct execcred *ec = new_ok(&s, &cluster);
	struct json_object *info = exec_info(ec, EXECCRED_V1);
	struct json_object *spec, *c, *v;
	json_object_object_get_ex(info, "spec", &spec);
	cr_assert(json_object_object_get_ex(spec, "cluster", &c));
	cr_assert(json_object_object_get_ex(c, "insecure-skip-tls-verify", &v));
	cr_assert(json_object_get_boolean(v));
	cr_assert_not(json_object_object_get_ex(c, "certificate-authority-data", NULL));
	json_object_put(info);
	execcred_free(&ec);
}

Test(execcred, stdin_is_dev_null)
{
	struct execcred_spec s = plugin_spec("stdin.sh");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "/dev/null:0");
	execcred_free(&ec);
}

Test(execcred, finds_command_in_path)
{
	const char *old = getenv("PATH");
	char path[4096];
	snprintf(path, sizeof(path), "/nonexistent-dir:%s:%s", TEST_DATA_DIR "/execcred", old ? old : "/bin:/usr/bin");
	cr_assert_eq(setenv("PATH", path, 1), 0);
	struct execcred_spec s = spec_make(EXECCRED_V1, "credential.sh");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1");
	execcred_free(&ec);
}

Test(execcred, reads_stderr_while_waiting_for_stdout)
{
	struct execcred_spec s = plugin_spec("noisy.sh");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "after-noise");
	execcred_free(&ec);
}

Test(execcred, does_not_wait_for_children_the_plugin_leaves_behind)
{
	struct execcred_spec s = plugin_spec("daemon.sh");
	const char *pidfile = scratch_path("pid");
	spec_env(&s, "EXECCRED_PID_FILE", pidfile);
	struct execcred *ec = new_ok(&s, NULL);
	double start = clock_monotonic_s();
	cr_assert_str_eq(get_token(ec, false), "from-daemon");
	cr_assert_lt(clock_monotonic_s() - start, 20.0, "returned when the plugin exited, not when its child did");
	kill(read_pid(pidfile), SIGKILL);
	execcred_free(&ec);
}

/* ---- the plugin fails ---- */

Test(execcred, command_not_found_in_path_shows_install_hint)
{
	struct execcred_spec s = spec_make(EXECCRED_V1, "coxswain-no-such-plugin");
	s.install_hint = xstrdup("Install it with:\n  apt-get install coxswain-plugin\n");
	struct cx_err err = get_fail(&s, 0, -ENOENT);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"coxswain-no-such-plugin\" for user \"alice\": not found in PATH; "
			 "Install it with: apt-get install coxswain-plugin");
}

Test(execcred, command_not_found_without_hint)
{
	struct execcred_spec s = spec_make(EXECCRED_V1, "/nonexistent-dir/get-token");
	struct cx_err err = get_fail(&s, 0, -ENOENT);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"/nonexistent-dir/get-token\" for user \"alice\": "
			 "cannot run /nonexistent-dir/get-token: No such file or directory");
}

Test(execcred, command_not_executable)
{
	const char *path = scratch_path("not-executable");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\necho hi\n", f);
	fclose(f);
	chmod(path, 0644);
	struct execcred_spec s = spec_make(EXECCRED_V1, path);
	struct cx_err err = get_fail(&s, 0, -EACCES);
	cr_assert(strstr(err.msg, "cannot run "), "%s", err.msg);
	cr_assert(strstr(err.msg, "Permission denied"), "%s", err.msg);
}

Test(execcred, command_is_a_directory)
{
	struct execcred_spec s = spec_make(EXECCRED_V1, TEST_DATA_DIR "/execcred");
	struct cx_err err = get_fail(&s, 0, -EACCES);
	cr_assert(strstr(err.msg, "is a directory"), "%s", err.msg);
}

Test(execcred, command_not_a_program)
{
	/* Executable but neither ELF nor #!: a shell would run it, execve does not. */
	const char *path = scratch_path("garbage");
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("echo this is no program\n", f);
	fclose(f);
	chmod(path, 0755);
	struct execcred_spec s = spec_make(EXECCRED_V1, path);
	struct cx_err err = get_fail(&s, 0, -ENOEXEC);
	cr_assert(strstr(err.msg, "Exec format error"), "%s", err.msg);
}

Test(execcred, nonzero_exit_names_status_and_stderr)
{
	struct execcred_spec s = plugin_spec("fail.sh");
	struct cx_err err = get_fail(&s, 0, -EIO);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"" PLUGINS "fail.sh\" for user \"alice\": exited with status 3: "
			 "first line of noise error: could not reach the identity provider");
}

Test(execcred, nonzero_exit_without_stderr)
{
	struct execcred_spec s = plugin_spec("output.sh");
	spec_env(&s, "EXECCRED_EXIT", "42");
	struct cx_err err = get_fail(&s, 0, -EIO);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"" PLUGINS "output.sh\" for user \"alice\": exited with status 42 "
			 "(nothing on stderr)");
}

Test(execcred, long_stderr_keeps_its_tail)
{
	struct execcred_spec s = plugin_spec("fail.sh");
	spec_env(&s, "EXECCRED_NOISE", "1");
	struct cx_err err = get_fail(&s, 0, -EIO);
	const char *end = "noise noise 149 error: could not reach the identity provider";
	size_t len = strlen(err.msg);
	cr_assert_lt(len, CX_ERR_MSG_MAX);
	cr_assert_gt(len, CX_ERR_MSG_MAX - 100, "the message is filled: %zu", len);
	cr_assert_str_eq(err.msg + len - strlen(end), end, "%s", err.msg);
	cr_assert(strstr(err.msg, "exited with status 3: ..."), "%s", err.msg);
	cr_assert_null(strstr(err.msg, "first line"), "%s", err.msg);
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int n = *p < 0x80             ? 0
			: (*p & 0xe0) == 0xc0 ? 1
			: (*p & 0xf0) == 0xe0 ? 2
			: (*p & 0xf8) == 0xf0 ? 3
					      : -1;
		if (n < 0)
			return false;
		p++;
		for (; n > 0; n--, p++)
			if ((*p & 0xc0) != 0x80)
				return false;
	}
	return true;
}

Test(execcred, long_stderr_is_cut_between_characters)
{
	/* Two-byte characters, ending on an even and on an odd byte count:
	 * wherever the cut falls, one of the two would split a character. */
	for (int odd = 0; odd < 2; odd++) {
		char noise[3200] = "";
		for (int i = 0; i < 1500; i++)
			strcat(noise, "\xc3\xa9");
		if (odd)
			strcat(noise, "x");
		struct execcred_spec s = plugin_spec("output.sh");
		spec_env(&s, "EXECCRED_STDERR", noise);
		spec_env(&s, "EXECCRED_EXIT", "1");
		struct cx_err err = get_fail(&s, 0, -EIO);
		cr_assert(strstr(err.msg, "exited with status 1: ..."), "%s", err.msg);
		cr_assert(valid_utf8(err.msg), "valid UTF-8 (odd=%d): %s", odd, err.msg);
	}
}

Test(execcred, starts_with_default_signals_and_no_inherited_fds)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	/* High numbers: the shell running the plugin has low ones of its own. */
	int fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, 50), 50, "a descriptor without close-on-exec");
	cr_assert_eq(fcntl(fd, F_DUPFD_CLOEXEC, 60), 60, "and one with it");
	struct execcred_spec s = plugin_spec("fds.sh");
	struct execcred *ec = new_ok(&s, NULL);
	const char *token = get_token(ec, false);
	char *end = NULL;
	unsigned long long blocked = strtoull(token, &end, 16);
	cr_assert_eq(*end, '|', "%s", token);
	unsigned long long ignored = strtoull(end + 1, &end, 16);
	cr_assert_eq(*end, '|', "%s", token);
	cr_assert_eq(blocked, 0, "no blocked signals: %s", token);
	/* Only the ones we ignored: whoever started this test may have left
	 * glibc's internal signals (32, 33) ignored, which glibc does not let
	 * a program reset. */
	unsigned long long ours = 1ULL << (SIGPIPE - 1) | 1ULL << (SIGUSR2 - 1);
	cr_assert_eq(ignored & ours, 0, "SIGPIPE and SIGUSR2 back to default: %s", token);
	cr_assert_eq(strncmp(end, "|0 1 2 ", 7), 0, "stdin, stdout, stderr first: %s", token);
	cr_assert_null(strstr(token, " 50 "), "fd 50 leaked: %s", token);
	cr_assert_null(strstr(token, " 60 "), "fd 60 leaked: %s", token);
	execcred_free(&ec);
	close(fd);
	close(50);
	close(60);
}

Test(execcred, killed_by_signal)
{
	struct execcred_spec s = plugin_spec("signal.sh");
	struct cx_err err = get_fail(&s, 0, -EIO);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"" PLUGINS "signal.sh\" for user \"alice\": killed by signal 9 "
			 "(Killed): about to die");
}

Test(execcred, timeout_kills_the_process_group)
{
	struct execcred_spec s = plugin_spec("sleep.sh");
	const char *pidfile = scratch_path("pid");
	spec_env(&s, "EXECCRED_PID_FILE", pidfile);
	double start = clock_monotonic_s();
	struct cx_err err = get_fail(&s, 500, -ETIMEDOUT);
	double took = clock_monotonic_s() - start;
	cr_assert_lt(took, 20.0, "took %.1f s", took);
	cr_assert_geq(took, 0.5, "took %.3f s", took);
	cr_assert(strstr(err.msg, "\": timed out after 500 ms; killed it: waiting for the browser login"), "%s",
		  err.msg);
	pid_t sleeper = read_pid(pidfile);
	bool dead = false;
	for (int i = 0; i < 1000 && !(dead = process_dead(sleeper)); i++) /* 20 s at most */
		usleep(20000);
	if (!dead)
		kill(sleeper, SIGKILL);
	cr_assert(dead, "the plugin's child %ld was killed with it", (long)sleeper);
}

/* A process asked to stop (its interrupt fd readable) is never held up by
 * a plugin that hangs: without the interrupt this plugin would run into
 * its 30 s timeout and fail with -ETIMEDOUT. */
Test(execcred, an_interrupt_fd_stops_a_hanging_plugin)
{
	struct execcred_spec s = plugin_spec("sleep.sh");
	const char *pidfile = scratch_path("pid");
	spec_env(&s, "EXECCRED_PID_FILE", pidfile);
	struct execcred *ec = new_ok(&s, NULL);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	execcred_set_interrupt_fd(ec, p[0]);
	struct cx_err err = { 0 };
	cr_assert_eq(execcred_get(ec, false, NULL, NULL, NULL, &err), -EINTR, "%s", err.msg);
	cr_assert(strstr(err.msg, "interrupted (coxswain is stopping); killed it"), "%s", err.msg);
	/* Without a stop pending it runs as before (and times out here). */
	char c;
	cr_assert_eq(read(p[0], &c, 1), 1);
	execcred_set_timeout(ec, 300);
	cr_assert_eq(execcred_get(ec, false, NULL, NULL, NULL, &err), -ETIMEDOUT, "%s", err.msg);
	execcred_free(&ec);
	close(p[0]);
	close(p[1]);
	execcred_spec_clear(&s);
}

Test(execcred, stdout_too_large)
{
	struct execcred_spec s = plugin_spec("big.sh");
	struct cx_err err = get_fail(&s, 0, -EFBIG);
	cr_assert(strstr(err.msg, "wrote more than 1048576 bytes on stdout; killed it"), "%s", err.msg);
}

/* ---- the plugin's output is wrong ---- */

Test(execcred, invalid_json_names_byte)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", oops}");
	cr_assert(strstr(err.msg, "stdout: invalid JSON at byte 50"), "%s", err.msg);
	err = output_fail("not json");
	cr_assert(strstr(err.msg, "stdout: invalid JSON at byte 1"), "%s", err.msg);
	err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\"");
	cr_assert(strstr(err.msg, "stdout: invalid JSON at byte 48: unexpected end"), "%s", err.msg);
}

Test(execcred, trailing_data_after_json)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
					"\"ExecCredential\", \"status\": {\"token\": \"t\"}}\n{}");
	cr_assert(strstr(err.msg, "stdout: invalid JSON at byte 102: trailing data"), "%s", err.msg);
}

Test(execcred, nul_byte_in_output)
{
	struct execcred_spec s = plugin_spec("output.sh");
	free(s.command);
	s.command = xstrdup("/bin/sh");
	spec_arg(&s, "-c");
	spec_arg(&s, "printf '{\"a\": \"\\000\"}'");
	struct cx_err err = get_fail(&s, 0, -EPROTO);
	cr_assert(strstr(err.msg, "stdout: invalid JSON at byte 7: NUL byte"), "%s", err.msg);
}

Test(execcred, empty_output_shows_stderr)
{
	struct execcred_spec s = plugin_spec("output.sh");
	spec_env(&s, "EXECCRED_STDERR", "please run login first");
	struct cx_err err = get_fail(&s, 0, -EPROTO);
	cr_assert_str_eq(err.msg,
			 "exec plugin \"" PLUGINS "output.sh\" for user \"alice\": printed nothing on "
			 "stdout (expected an ExecCredential): please run login first");
}

Test(execcred, output_not_an_object)
{
	struct cx_err err = output_fail("[1, 2]");
	cr_assert(strstr(err.msg, "stdout is not a JSON object"), "%s", err.msg);
}

Test(execcred, wrong_api_version)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1beta1\", \"kind\": "
					"\"ExecCredential\", \"status\": {\"token\": \"s3cr3t\"}}");
	cr_assert(strstr(err.msg,
			 "returned apiVersion \"client.authentication.k8s.io/v1beta1\", expected "
			 "\"client.authentication.k8s.io/v1\""),
		  "%s", err.msg);
	cr_assert_null(strstr(err.msg, "s3cr3t"), "never the token: %s", err.msg);
	err = output_fail("{\"kind\": \"ExecCredential\", \"status\": {\"token\": \"t\"}}");
	cr_assert(strstr(err.msg, "returned no apiVersion"), "%s", err.msg);
}

Test(execcred, wrong_kind)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": \"Status\", "
					"\"status\": {\"token\": \"t\"}}");
	cr_assert(strstr(err.msg, "returned kind \"Status\", expected \"ExecCredential\""), "%s", err.msg);
}

Test(execcred, missing_status)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
					"\"ExecCredential\"}");
	cr_assert(strstr(err.msg, "returned no status"), "%s", err.msg);
	err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
			  "\"ExecCredential\", \"status\": \"ok\"}");
	cr_assert(strstr(err.msg, "status: expected an object"), "%s", err.msg);
}

Test(execcred, neither_token_nor_certificate)
{
	const char *want = "returned neither status.token nor status.clientCertificateData and status.clientKeyData";
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
					"\"ExecCredential\", \"status\": {}}");
	cr_assert(strstr(err.msg, want), "%s", err.msg);
	err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
			  "\"ExecCredential\", \"status\": {\"token\": \"\", \"expirationTimestamp\": null}}");
	cr_assert(strstr(err.msg, want), "an empty token is no token: %s", err.msg);
}

Test(execcred, certificate_without_key)
{
	struct cx_err err = output_fail(
		"{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
		"\"ExecCredential\", \"status\": {\"token\": \"t\", \"clientCertificateData\": \"C\"}}");
	cr_assert(strstr(err.msg, "returned status.clientCertificateData without status.clientKeyData"), "%s", err.msg);
	err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
			  "\"ExecCredential\", \"status\": {\"clientKeyData\": \"s3cr3t-key\"}}");
	cr_assert(strstr(err.msg, "returned status.clientKeyData without status.clientCertificateData"), "%s", err.msg);
	cr_assert_null(strstr(err.msg, "s3cr3t"), "never the key: %s", err.msg);
}

Test(execcred, token_of_wrong_type)
{
	struct cx_err err = output_fail("{\"apiVersion\": \"client.authentication.k8s.io/v1\", \"kind\": "
					"\"ExecCredential\", \"status\": {\"token\": 12345}}");
	cr_assert(strstr(err.msg, "status.token: expected a string"), "%s", err.msg);
	cr_assert_null(strstr(err.msg, "12345"), "%s", err.msg);
}

/* ---- the kubeconfig stanza is wrong ---- */

Test(execcred, spec_api_version)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	free(s.api_version);
	s.api_version = NULL;
	new_fail(&s, NULL, "apiVersion: missing");
	s = plugin_spec("credential.sh");
	free(s.api_version);
	s.api_version = xstrdup("client.authentication.k8s.io/v1alpha1");
	new_fail(&s, NULL, "apiVersion \"client.authentication.k8s.io/v1alpha1\" is not supported");
}

Test(execcred, spec_command)
{
	struct execcred_spec s = spec_make(EXECCRED_V1, NULL);
	new_fail(&s, NULL, "command: missing");
	s = spec_make(EXECCRED_V1, "");
	new_fail(&s, NULL, "command: missing");
}

Test(execcred, spec_interactive_mode)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	free(s.interactive_mode);
	s.interactive_mode = NULL;
	new_fail(&s, NULL, "interactiveMode: missing (client.authentication.k8s.io/v1 requires it");
	s = plugin_spec("credential.sh");
	free(s.interactive_mode);
	s.interactive_mode = xstrdup("Always");
	new_fail(&s, NULL, "interactiveMode Always needs a terminal");
	s = plugin_spec("credential.sh");
	free(s.interactive_mode);
	s.interactive_mode = xstrdup("Sometimes");
	new_fail(&s, NULL, "interactiveMode \"Sometimes\" is not one of Never, IfAvailable, Always");

	s = plugin_spec("credential.sh");
	free(s.interactive_mode);
	s.interactive_mode = xstrdup("IfAvailable");
	struct execcred *ec = new_ok(&s, NULL);
	cr_assert_str_eq(get_token(ec, false), "token-1", "IfAvailable runs without a terminal");
	execcred_free(&ec);
}

Test(execcred, spec_env_names)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	spec_env(&s, "A=B", "c");
	new_fail(&s, NULL, "env[0].name \"A=B\"");
	s = plugin_spec("credential.sh");
	spec_env(&s, "OK", "c");
	spec_env(&s, "", "c");
	new_fail(&s, NULL, "env[1].name: missing");
}

Test(execcred, spec_cluster_info_needs_a_cluster)
{
	struct execcred_spec s = plugin_spec("credential.sh");
	s.provide_cluster_info = true;
	new_fail(&s, NULL, "provideClusterInfo");
	s = plugin_spec("credential.sh");
	s.provide_cluster_info = true;
	struct execcred_cluster cluster = { 0 };
	new_fail(&s, &cluster, "provideClusterInfo");
}

Test(execcred, spec_clear_takes_an_empty_spec)
{
	struct execcred_spec s = { 0 };
	execcred_spec_clear(&s);
	s = plugin_spec("args.sh");
	spec_arg(&s, "a");
	spec_env(&s, "N", "v");
	s.install_hint = xstrdup("hint");
	execcred_spec_clear(&s);
	cr_assert_null(s.args);
	cr_assert_eq(s.n_args, 0);
	cr_assert_eq(s.n_env, 0);
	cr_assert_null(s.install_hint);
}

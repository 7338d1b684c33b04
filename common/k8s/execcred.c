#include "config.h"

#include "execcred.h"
#include "jsondoc.h"
#include "err.h"
#include "subprocess.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A credential is a few KiB at most (a token, or a certificate and key);
 * anything far beyond that is a plugin gone wrong. */
#define STDOUT_MAX (1024 * 1024)
/* Enough of stderr to explain a failure; the message holds about 1 KiB of it. */
#define STDERR_TAIL    2048
#define EXEC_INFO_NAME "KUBERNETES_EXEC_INFO"

struct execcred {
	char *user;
	char *command; /* as the kubeconfig spells it: argv[0] and messages */
	char *api_version;
	char *install_hint; /* one line, or NULL */
	char **argv;        /* command, args..., NULL */
	char **env;         /* "NAME=value": the spec's env (names unique), then KUBERNETES_EXEC_INFO */
	size_t n_env;
	int timeout_ms;
	int interrupt_fd; /* -1, or stops a run when readable (execcred_set_interrupt_fd) */

	/* The cached credential. */
	bool cached;
	char *token;           /* NULL when the plugin returned none */
	struct blob cert, key; /* both empty when the plugin returned none */
	bool has_expiry;
	time_t expiry;
};

/* ---- messages ---- */

static int failv(struct cx_err *err, int code, const char *command, const char *user, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static int failv(struct cx_err *err, int code, const char *command, const char *user, const char *fmt, va_list ap)
{
	if (!err)
		return code;
	char what[CX_ERR_MSG_MAX];
	vsnprintf(what, sizeof(what), fmt, ap);
	if (command && *command)
		return cx_err_set(err, code, "exec plugin \"%s\" for user \"%s\": %s", command, user, what);
	return cx_err_set(err, code, "exec plugin for user \"%s\": %s", user, what);
}

static int fail_spec(struct cx_err *err, int code, const struct execcred_spec *spec, const char *user, const char *fmt,
		     ...) __attribute__((format(printf, 5, 6)));

/* Like fail(), before there is an execcred: the stanza is wrong (-EINVAL)
 * or we ran out of memory copying it. */
static int fail_spec(struct cx_err *err, int code, const struct execcred_spec *spec, const char *user, const char *fmt,
		     ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = failv(err, code, spec->command, user, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail(const struct execcred *ec, struct cx_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "exec plugin "CMD" for user "U": what". Returns code. */
static int fail(const struct execcred *ec, struct cx_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = failv(err, code, ec->command, ec->user, fmt, ap);
	va_end(ap);
	return rc;
}

static int fail_tail(const struct execcred *ec, struct cx_err *err, int code, const struct subprocess_result *r,
		     const char *if_empty, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Like fail(), followed by ": " and the plugin's stderr tail, or by if_empty
 * when it wrote nothing there (see subprocess_err_add_stderr). */
static int fail_tail(const struct execcred *ec, struct cx_err *err, int code, const struct subprocess_result *r,
		     const char *if_empty, const char *fmt, ...)
{
	if (!err)
		return code;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fail(ec, err, code, "%s", what);
	if (!subprocess_err_add_stderr(err, r) && if_empty) {
		size_t used = strlen(err->msg);
		snprintf(err->msg + used, sizeof(err->msg) - used, "%s", if_empty);
	}
	return code;
}

/* Puts "exec plugin "CMD" for user "U": " in front of a message that
 * common/subprocess wrote. Returns code, the one subprocess returned. */
static int fail_prefix(const struct execcred *ec, int code, struct cx_err *err)
{
	return cx_err_wrap(err, code, "exec plugin \"%s\" for user \"%s\": ", ec->command, ec->user);
}

/* ---- the spec ---- */

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void execcred_spec_clear(struct execcred_spec *s)
{
	free(s->api_version);
	free(s->command);
	for (size_t i = 0; i < s->n_args; i++)
		free(s->args[i]);
	free(s->args);
	/* env values are often where a plugin's password or API key goes. */
	for (size_t i = 0; i < s->n_env; i++) {
		free(s->env_names[i]);
		free_secret(s->env_values[i]);
	}
	free(s->env_names);
	free(s->env_values);
	free(s->install_hint);
	free(s->interactive_mode);
	memset(s, 0, sizeof(*s));
}

static int check_spec(const struct execcred_spec *spec, const char *user, const struct execcred_cluster *cluster,
		      struct cx_err *err)
{
	if (!spec->command || !*spec->command)
		return fail_spec(err, -EINVAL, spec, user, "command: missing");
	if (!spec->api_version || !*spec->api_version)
		return fail_spec(err, -EINVAL, spec, user, "apiVersion: missing (expected %s or %s)", EXECCRED_V1,
				 EXECCRED_V1BETA1);
	bool v1 = !strcmp(spec->api_version, EXECCRED_V1);
	if (!v1 && strcmp(spec->api_version, EXECCRED_V1BETA1))
		return fail_spec(err, -EINVAL, spec, user, "apiVersion \"%.100s\" is not supported (use %s or %s)",
				 spec->api_version, EXECCRED_V1, EXECCRED_V1BETA1);

	/* client-go: v1 makes interactiveMode required, v1beta1 defaults it to
	 * IfAvailable. We never have a terminal, so only Always cannot work. */
	const char *mode = spec->interactive_mode;
	if (!mode || !*mode) {
		if (v1)
			return fail_spec(err, -EINVAL, spec, user,
					 "interactiveMode: missing (%s requires it; "
					 "use Never or IfAvailable)",
					 EXECCRED_V1);
	} else if (!strcmp(mode, "Always")) {
		return fail_spec(err, -EINVAL, spec, user,
				 "interactiveMode Always needs a terminal, and coxswain runs "
				 "without one; use Never or IfAvailable");
	} else if (strcmp(mode, "Never") && strcmp(mode, "IfAvailable")) {
		return fail_spec(err, -EINVAL, spec, user,
				 "interactiveMode \"%.100s\" is not one of Never, IfAvailable, "
				 "Always",
				 mode);
	}

	for (size_t i = 0; i < spec->n_env; i++) {
		const char *name = spec->env_names[i];
		if (!name || !*name)
			return fail_spec(err, -EINVAL, spec, user, "env[%zu].name: missing", i);
		if (strchr(name, '='))
			return fail_spec(err, -EINVAL, spec, user, "env[%zu].name \"%.100s\" cannot contain '='", i,
					 name);
	}
	if (spec->provide_cluster_info && (!cluster || !cluster->server || !*cluster->server))
		return fail_spec(err, -EINVAL, spec, user,
				 "provideClusterInfo is set but there is no cluster server to "
				 "provide");
	return 0;
}

/* ---- KUBERNETES_EXEC_INFO ---- */

static bool add_string(struct json_object *obj, const char *key, const char *value)
{
	struct json_object *v = json_object_new_string(value);
	return v && json_object_object_add(obj, key, v) == 0;
}

/* The cluster as client-go puts it in spec.cluster: empty fields omitted. */
static struct json_object *cluster_json(const struct execcred_cluster *c)
{
	struct json_object *obj = json_object_new_object();
	bool ok = obj && add_string(obj, "server", c->server);
	if (ok && c->tls_server_name && *c->tls_server_name)
		ok = add_string(obj, "tls-server-name", c->tls_server_name);
	if (ok && c->insecure_skip_tls_verify)
		ok = json_object_object_add(obj, "insecure-skip-tls-verify", json_object_new_boolean(1)) == 0;
	if (ok && c->ca && c->ca->len) {
		if (c->ca->len > (size_t)INT_MAX / 2) {
			ok = false;
		} else {
			char *b64 = malloc(4 * ((c->ca->len + 2) / 3) + 1);
			ok = b64 != NULL;
			if (ok) {
				EVP_EncodeBlock((unsigned char *)b64, c->ca->data, (int)c->ca->len);
				ok = add_string(obj, "certificate-authority-data", b64);
				free(b64);
			}
		}
	}
	if (ok && c->proxy_url && *c->proxy_url)
		ok = add_string(obj, "proxy-url", c->proxy_url);
	if (!ok) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* "KUBERNETES_EXEC_INFO=<ExecCredential JSON>": the plugin's input, the same
 * for every run, so built once. interactive is false: no terminal. */
static char *exec_info_env(const struct execcred_spec *spec, const struct execcred_cluster *cluster)
{
	struct json_object *root = json_object_new_object(), *inner = json_object_new_object();
	char *env = NULL;
	bool ok = root && inner && add_string(root, "apiVersion", spec->api_version) &&
		add_string(root, "kind", "ExecCredential");
	if (ok && spec->provide_cluster_info) {
		struct json_object *c = cluster_json(cluster);
		ok = c && json_object_object_add(inner, "cluster", c) == 0;
	}
	ok = ok && json_object_object_add(inner, "interactive", json_object_new_boolean(0)) == 0;
	if (ok && json_object_object_add(root, "spec", inner) == 0) {
		inner = NULL; /* root owns it now */
		const char *s = json_object_to_json_string_ext(root,
							       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (s && asprintf(&env, EXEC_INFO_NAME "=%s", s) < 0)
			env = NULL;
	}
	json_object_put(inner);
	json_object_put(root);
	return env;
}

/* ---- the runner ---- */

static size_t name_len(const char *entry)
{
	return strcspn(entry, "=");
}

/* The spec's env as "NAME=value" strings plus KUBERNETES_EXEC_INFO. Where a
 * name repeats, the last entry wins, as in client-go (Go's os/exec keeps the
 * last of duplicate names); KUBERNETES_EXEC_INFO is ours to set. */
static int build_env(struct execcred *ec, const struct execcred_spec *spec, const struct execcred_cluster *cluster)
{
	ec->env = calloc(spec->n_env + 1, sizeof(*ec->env));
	if (!ec->env)
		return -ENOMEM;
	for (size_t i = 0; i < spec->n_env; i++) {
		const char *name = spec->env_names[i];
		bool later = !strcmp(name, EXEC_INFO_NAME);
		for (size_t j = i + 1; j < spec->n_env && !later; j++)
			later = !strcmp(name, spec->env_names[j]);
		if (later)
			continue;
		const char *value = spec->env_values[i] ? spec->env_values[i] : "";
		if (asprintf(&ec->env[ec->n_env], "%s=%s", name, value) < 0)
			return -ENOMEM;
		ec->n_env++;
	}
	if (!(ec->env[ec->n_env] = exec_info_env(spec, cluster)))
		return -ENOMEM;
	ec->n_env++;
	return 0;
}

int execcred_new(const struct execcred_spec *spec, const char *user_name, const struct execcred_cluster *cluster,
		 struct execcred **out, struct cx_err *err)
{
	*out = NULL;
	const char *user = user_name ? user_name : "";
	int r = check_spec(spec, user, cluster, err);
	if (r)
		return r;
	struct execcred *ec = calloc(1, sizeof(*ec));
	if (!ec)
		return fail_spec(err, -ENOMEM, spec, user, "out of memory");
	ec->timeout_ms = EXECCRED_DEFAULT_TIMEOUT_MS;
	ec->interrupt_fd = -1;
	bool ok = (ec->user = strdup(user)) && (ec->command = strdup(spec->command)) &&
		(ec->api_version = strdup(spec->api_version)) &&
		(ec->argv = calloc(spec->n_args + 2, sizeof(*ec->argv))) && (ec->argv[0] = strdup(spec->command));
	for (size_t i = 0; ok && i < spec->n_args; i++)
		ok = (ec->argv[i + 1] = strdup(spec->args[i] ? spec->args[i] : "")) != NULL;
	if (ok && spec->install_hint) {
		size_t len = strlen(spec->install_hint);
		ok = (ec->install_hint = malloc(len + 1)) != NULL;
		if (ok)
			subprocess_one_line(spec->install_hint, len, ec->install_hint, len + 1);
	}
	if (!ok || build_env(ec, spec, cluster)) {
		execcred_free(&ec);
		return fail_spec(err, -ENOMEM, spec, user, "out of memory");
	}
	*out = ec;
	return 0;
}

void execcred_set_timeout(struct execcred *ec, int timeout_ms)
{
	if (timeout_ms > 0)
		ec->timeout_ms = timeout_ms;
}

void execcred_set_interrupt_fd(struct execcred *ec, int fd)
{
	ec->interrupt_fd = fd;
}

/* Wipes and forgets the cached credential. */
static void drop_credential(struct execcred *ec)
{
	free_secret(ec->token);
	ec->token = NULL;
	blob_clear(&ec->cert);
	blob_clear(&ec->key);
	ec->cached = false;
	ec->has_expiry = false;
	ec->expiry = 0;
}

void execcred_free(struct execcred **ecp)
{
	struct execcred *ec = *ecp;
	if (!ec)
		return;
	drop_credential(ec);
	if (ec->argv)
		for (char **a = ec->argv; *a; a++)
			free(*a);
	free(ec->argv);
	for (size_t i = 0; i < ec->n_env; i++)
		free_secret(ec->env[i]);
	free(ec->env);
	free(ec->user);
	free(ec->command);
	free(ec->api_version);
	free(ec->install_hint);
	free(ec);
	*ecp = NULL;
}

time_t execcred_expiry(const struct execcred *ec)
{
	return ec->cached && ec->has_expiry ? ec->expiry : 0;
}

/* ---- starting the plugin ---- */

/* Our environment as it is now (client-go reads os.Environ() at each run),
 * minus the names the spec sets, plus the spec's entries. The strings are
 * borrowed from environ and ec; only the array is allocated. */
static char **build_envp(const struct execcred *ec)
{
	size_t n = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	char **envp = malloc((n + ec->n_env + 1) * sizeof(*envp));
	if (!envp)
		return NULL;
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		size_t len = name_len(*e);
		bool replaced = false;
		for (size_t i = 0; i < ec->n_env && !replaced; i++)
			replaced = name_len(ec->env[i]) == len && !memcmp(ec->env[i], *e, len);
		if (!replaced)
			envp[k++] = *e;
	}
	for (size_t i = 0; i < ec->n_env; i++)
		envp[k++] = ec->env[i];
	envp[k] = NULL;
	return envp;
}

/* ---- reading the credential ---- */

/* Reads n digits at *p into *out, advancing *p only on success. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool literal(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* Parses an RFC 3339 date-time as Go's time.RFC3339 layout does (which is
 * how metav1.Time reads expirationTimestamp): 2026-11-25T15:04:05Z, with an
 * optional fraction (ignored: we work in seconds) and Z or a ±hh:mm offset.
 * By hand rather than strptime(), which depends on the locale and accepts
 * more than RFC 3339. */
static bool parse_rfc3339(const char *s, time_t *out)
{
	const char *p = s;
	int year, month, day, hour, min, sec;
	if (!digits(&p, 4, &year) || !literal(&p, '-') || !digits(&p, 2, &month) || !literal(&p, '-') ||
	    !digits(&p, 2, &day) || !literal(&p, 'T') || !digits(&p, 2, &hour) || !literal(&p, ':') ||
	    !digits(&p, 2, &min) || !literal(&p, ':') || !digits(&p, 2, &sec))
		return false;
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 59)
		return false;
	if (literal(&p, '.')) {
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	long offset = 0;
	if (!literal(&p, 'Z')) {
		int sign = *p == '+' ? 1 : *p == '-' ? -1 : 0, oh, om;
		if (!sign)
			return false;
		p++;
		if (!digits(&p, 2, &oh) || !literal(&p, ':') || !digits(&p, 2, &om) || oh > 23 || om > 59)
			return false;
		offset = sign * (oh * 3600L + om * 60L);
	}
	if (*p)
		return false;
	struct tm tm = {
		.tm_year = year - 1900,
		.tm_mon = month - 1,
		.tm_mday = day,
		.tm_hour = hour,
		.tm_min = min,
		.tm_sec = sec,
	};
	time_t t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && month == 12 && day == 31))
		return false;
	*out = t - offset;
	return true;
}

/* A plugin-chosen string for a message: one line, clipped. */
static const char *clip(const char *s, char *buf, size_t len)
{
	subprocess_one_line(s, strlen(s), buf, len);
	return buf;
}

/* status.<key>: a string in *out, or NULL when absent (missing or null);
 * anything else is an error. An empty token or certificate counts as
 * absent, as for client-go; an empty timestamp does not parse, as there. */
static int status_string(const struct execcred *ec, struct json_object *status, const char *key, bool empty_is_absent,
			 struct json_object **out, struct cx_err *err)
{
	struct json_object *v = NULL;
	*out = NULL;
	if (!json_object_object_get_ex(status, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return fail(ec, err, -EPROTO, "status.%s: expected a string", key);
	if (json_object_get_string_len(v) > 0 || !empty_is_absent)
		*out = v;
	return 0;
}

/* The value of a json-c string, wiped in place before json-c frees it
 * unwiped: tokens and keys must not linger in freed heap. json-c hands out
 * a const pointer, but the bytes are its own heap copy of the value. */
static void wipe_json_string(struct json_object *v)
{
	if (v)
		explicit_bzero((char *)json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

/* Checks the ExecCredential object and caches its credential. */
static int take_credential(struct execcred *ec, struct json_object *root, struct cx_err *err)
{
	char buf[128];
	struct json_object *v = NULL, *status = NULL;
	if (!json_object_is_type(root, json_type_object))
		return fail(ec, err, -EPROTO, "stdout is not a JSON object (expected an ExecCredential)");
	if (!json_object_object_get_ex(root, "apiVersion", &v) || !json_object_is_type(v, json_type_string))
		return fail(ec, err, -EPROTO, "returned no apiVersion (expected \"%s\")", ec->api_version);
	if (strcmp(json_object_get_string(v), ec->api_version))
		return fail(ec, err, -EPROTO,
			    "returned apiVersion \"%s\", expected \"%s\" (the kubeconfig's "
			    "exec.apiVersion)",
			    clip(json_object_get_string(v), buf, 100), ec->api_version);
	if (!json_object_object_get_ex(root, "kind", &v) || !json_object_is_type(v, json_type_string))
		return fail(ec, err, -EPROTO, "returned no kind (expected \"ExecCredential\")");
	if (strcmp(json_object_get_string(v), "ExecCredential"))
		return fail(ec, err, -EPROTO, "returned kind \"%s\", expected \"ExecCredential\"",
			    clip(json_object_get_string(v), buf, 100));
	if (!json_object_object_get_ex(root, "status", &status) || !status)
		return fail(ec, err, -EPROTO, "returned no status");
	if (!json_object_is_type(status, json_type_object))
		return fail(ec, err, -EPROTO, "status: expected an object");

	struct json_object *token, *cert, *key, *expiry;
	int rc;
	if ((rc = status_string(ec, status, "token", true, &token, err)) ||
	    (rc = status_string(ec, status, "clientCertificateData", true, &cert, err)) ||
	    (rc = status_string(ec, status, "clientKeyData", true, &key, err)) ||
	    (rc = status_string(ec, status, "expirationTimestamp", false, &expiry, err)))
		return rc;
	if (cert && !key)
		return fail(ec, err, -EPROTO, "returned status.clientCertificateData without status.clientKeyData");
	if (key && !cert)
		return fail(ec, err, -EPROTO, "returned status.clientKeyData without status.clientCertificateData");
	if (!token && !cert)
		return fail(ec, err, -EPROTO,
			    "returned neither status.token nor status.clientCertificateData "
			    "and status.clientKeyData");
	time_t when = 0;
	if (expiry && !parse_rfc3339(json_object_get_string(expiry), &when))
		return fail(ec, err, -EPROTO,
			    "status.expirationTimestamp \"%s\" is not an RFC 3339 time (like "
			    "2026-11-25T15:04:05Z)",
			    clip(json_object_get_string(expiry), buf, 100));
	if (token && !(ec->token = strdup(json_object_get_string(token))))
		return fail(ec, err, -ENOMEM, "out of memory");
	if (cert &&
	    ((rc = blob_set(&ec->cert, json_object_get_string(cert), (size_t)json_object_get_string_len(cert), err)) ||
	     (rc = blob_set(&ec->key, json_object_get_string(key), (size_t)json_object_get_string_len(key), err)))) {
		drop_credential(ec);
		return fail(ec, err, rc, "out of memory");
	}
	ec->cached = true;
	ec->has_expiry = expiry != NULL;
	ec->expiry = when;
	return 0;
}

/* Parses stdout (all of it: one JSON value, nothing after) and takes the
 * credential. Messages give byte offsets, never the content: it may hold
 * the credential. */
static int parse_output(struct execcred *ec, const struct subprocess_result *r, struct cx_err *err)
{
	const char *data = r->out;
	size_t len = r->out_len, start = 0;
	while (start < len && isspace((unsigned char)data[start]))
		start++;
	if (start == len)
		return fail_tail(ec, err, -EPROTO, r, NULL, "printed nothing on stdout (expected an ExecCredential)");
	struct json_object *root = NULL;
	char why[160];
	int rc = jsondoc_parse(data, len, NULL, &root, why, sizeof(why));
	if (rc)
		rc = fail(ec, err, rc == -ENOMEM ? -ENOMEM : -EPROTO, "stdout: %s", why);
	else
		rc = take_credential(ec, root, err);
	if (root && json_object_is_type(root, json_type_object)) {
		struct json_object *status = NULL, *v = NULL;
		if (json_object_object_get_ex(root, "status", &status) &&
		    json_object_is_type(status, json_type_object)) {
			static const char *const secrets[] = { "token", "clientCertificateData", "clientKeyData" };
			for (size_t i = 0; i < 3; i++)
				if (json_object_object_get_ex(status, secrets[i], &v) &&
				    json_object_is_type(v, json_type_string))
					wipe_json_string(v);
		}
	}
	json_object_put(root);
	return rc;
}

/* One run of the plugin, caching its credential. */
static int run(struct execcred *ec, struct cx_err *err)
{
	char *program = NULL;
	int rc = subprocess_find_program(ec->command, &program, err);
	if (rc) {
		if (rc == -ENOENT && ec->install_hint && err) {
			size_t used = strlen(err->msg);
			snprintf(err->msg + used, sizeof(err->msg) - used, "; %s", ec->install_hint);
		}
		return fail_prefix(ec, rc, err);
	}
	char **envp = build_envp(ec);
	if (!envp) {
		free(program);
		return fail(ec, err, -ENOMEM, "out of memory");
	}
	struct subprocess_spec spec = {
		.path = program,
		.argv = ec->argv,
		.envp = envp,
		.stdout_max = STDOUT_MAX,
		.stderr_tail = STDERR_TAIL,
		.timeout_ms = ec->timeout_ms,
		.interrupt_fd = ec->interrupt_fd >= 0 ? &ec->interrupt_fd : NULL,
	};
	struct subprocess_result r;
	rc = subprocess_run(&spec, &r, err);
	free(envp);
	free(program);
	char how[128];
	if (rc)
		rc = fail_prefix(ec, rc, err);
	else if (r.interrupted)
		rc = fail(ec, err, -EINTR, "interrupted (coxswain is stopping); killed it");
	else if (r.timed_out)
		rc = fail_tail(ec, err, -ETIMEDOUT, &r, NULL, "timed out after %d ms; killed it", ec->timeout_ms);
	else if (r.stdout_overflow)
		rc = fail(ec, err, -EFBIG, "wrote more than %d bytes on stdout%s", STDOUT_MAX,
			  r.killed ? "; killed it" : "");
	else if (r.signaled || r.exit_code != 0)
		rc = fail_tail(ec, err, -EIO, &r, r.signaled ? NULL : " (nothing on stderr)", "%s",
			       subprocess_describe_exit(&r, how, sizeof(how)));
	else
		rc = parse_output(ec, &r, err);
	subprocess_result_clear(&r);
	return rc;
}

int execcred_get(struct execcred *ec, bool force, const char **token, const struct blob **client_cert,
		 const struct blob **client_key, struct cx_err *err)
{
	if (token)
		*token = NULL;
	if (client_cert)
		*client_cert = NULL;
	if (client_key)
		*client_key = NULL;
	bool expired = ec->has_expiry && time(NULL) >= ec->expiry - EXECCRED_EXPIRY_MARGIN_S;
	if (force || !ec->cached || expired) {
		/* Dropped first: after a 401 or expiry the old one is no good, and
		 * when the run fails the next call must try again. */
		drop_credential(ec);
		int rc = run(ec, err);
		if (rc) {
			drop_credential(ec);
			return rc;
		}
	}
	if (token)
		*token = ec->token;
	if (ec->cert.len) {
		if (client_cert)
			*client_cert = &ec->cert;
		if (client_key)
			*client_key = &ec->key;
	}
	return 0;
}

/* execcred: Kubernetes exec credential plugins (a kubeconfig user's `exec`
 * stanza, API group client.authentication.k8s.io, versions v1 and v1beta1),
 * run the way kubectl / client-go run them, with the credential cached until
 * it expires.
 *
 * The plugin is run without a shell: `command` is looked up in our PATH
 * (used as given when it contains a '/'), argv is command + args, stdin is
 * /dev/null, and its environment is a copy of ours plus the spec's `env`
 * entries plus KUBERNETES_EXEC_INFO. Our own environment is never changed.
 * It runs in its own process group, which is killed when it overruns the
 * timeout. Its stdout must be one ExecCredential object; its stderr is kept
 * (the last 2 KiB) for the error message when it fails.
 *
 * The plugin is reaped with waitpid() on its own pid, so a caller must not
 * reap with waitpid(-1, ...) from a SIGCHLD handler while a plugin runs.
 * An execcred is not thread-safe: one per thread, or serialize calls. */
#ifndef COXSWAIN_EXECCRED_H
#define COXSWAIN_EXECCRED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "blob.h"

struct cx_err;

#define EXECCRED_V1      "client.authentication.k8s.io/v1"
#define EXECCRED_V1BETA1 "client.authentication.k8s.io/v1beta1"

/* Default limit on one plugin run; cloud CLIs can be slow, but not this slow. */
#define EXECCRED_DEFAULT_TIMEOUT_MS 30000

/* A credential is refreshed this many seconds before its expirationTimestamp,
 * so a request does not set out with a token that expires on the way. */
#define EXECCRED_EXPIRY_MARGIN_S 10

/* The `exec` stanza of a kubeconfig user, as the kubeconfig parser fills it.
 * Every pointer is owned by the struct (execcred_spec_clear frees them);
 * NULL means absent. */
struct execcred_spec {
	char *api_version; /* required: EXECCRED_V1 or EXECCRED_V1BETA1 */
	char *command;     /* required */
	char **args;
	size_t n_args;
	char **env_names; /* env[i].name / env[i].value, n_env of each */
	char **env_values;
	size_t n_env;
	char *install_hint;        /* shown when the command is not found */
	bool provide_cluster_info; /* put the cluster in KUBERNETES_EXEC_INFO */
	char *interactive_mode;    /* "Never" | "IfAvailable" | "Always"; required by v1 */
};

/* Frees everything s owns and zeroes it; s itself is the caller's. */
void execcred_spec_clear(struct execcred_spec *s);

/* The cluster a plugin with provideClusterInfo is told about, in
 * KUBERNETES_EXEC_INFO's spec.cluster. Borrowed by execcred_new (copied). */
struct execcred_cluster {
	const char *server;          /* required */
	const char *tls_server_name; /* or NULL */
	bool insecure_skip_tls_verify;
	const struct blob *ca; /* PEM; NULL or empty = none */
	const char *proxy_url; /* or NULL */
};

struct execcred;

/* Validates spec (apiVersion, command, interactiveMode, env names) and hands
 * out an owned runner in *out. Returns 0, or a negative errno with *out NULL
 * and err naming the user and the field.
 * spec and cluster are copied, so the kubeconfig may be freed afterwards.
 * cluster may be NULL unless spec->provide_cluster_info is set.
 * interactiveMode Always is refused here: coxswain never has a terminal. */
int execcred_new(const struct execcred_spec *spec, const char *user_name, const struct execcred_cluster *cluster,
		 struct execcred **out, struct cx_err *err);

/* Sets the limit on one plugin run (milliseconds, > 0). */
void execcred_set_timeout(struct execcred *ec, int timeout_ms);

/* fd (a signalfd, say; -1 = none, the default) stops a plugin run as soon
 * as it becomes readable: the plugin's group is killed and execcred_get
 * fails with -EINTR. It is polled, never read: the caller reads it. A
 * plugin that hangs then never holds up a process asked to stop. */
void execcred_set_interrupt_fd(struct execcred *ec, int fd);

/* Hands back the current credential: runs the plugin when none is cached or
 * the cached one is within EXECCRED_EXPIRY_MARGIN_S of expiring. force drops
 * the cached one and runs the plugin (after the server answered 401).
 * *token is the bearer token or NULL; *client_cert and *client_key are both
 * set (PEM) or both NULL; as with client-go a plugin may return both kinds,
 * and returns at least one. The pointers are borrowed and valid until the
 * next execcred_get or execcred_free. Any output pointer may be NULL.
 * On failure nothing stays cached, and err says
 * `exec plugin "CMD" for user "U": what went wrong` (with the tail of the
 * plugin's stderr when it failed); it never contains the credential.
 * Codes: -ENOENT, -EACCES, -ENOEXEC (cannot run it), -EIO (non-zero exit or
 * killed by a signal), -ETIMEDOUT, -EFBIG (stdout over 1 MiB), -EPROTO (not
 * a valid ExecCredential), -ENOMEM. */
int execcred_get(struct execcred *ec, bool force, const char **token, const struct blob **client_cert,
		 const struct blob **client_key, struct cx_err *err);

/* The cached credential's expirationTimestamp (seconds since the epoch), or
 * 0 when nothing is cached or the credential does not expire. */
time_t execcred_expiry(const struct execcred *ec);

/* Wipes the cached credential, frees ec and NULLs *ec. */
void execcred_free(struct execcred **ec);

#endif

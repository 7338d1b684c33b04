/* kubeconfig: one kubeconfig file, parsed (libyaml document API), and the
 * resolution of one of its contexts into the identity a client connects with.
 *
 * Paths inside the file (certificate-authority, client-certificate,
 * client-key, tokenFile) are made absolute against the file's directory, as
 * kubectl does (and so is an exec plugin's command when it has a '/').
 * `-data` fields are base64-decoded at load time and kept in memory only.
 * Fields kubectl knows but that would change who we are and that coxswain
 * does not implement (auth-provider, username/password, impersonation) are
 * refused with an error rather than ignored; other unknown fields
 * (extensions, preferences) are ignored as kubectl does. */
#ifndef COXSWAIN_KUBECONFIG_H
#define COXSWAIN_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "blob.h"
#include "execcred.h"

struct cx_err;
struct restconfig;

/* The longest bearer token a user's token or tokenFile may hold (the
 * kclient reads token files with the same cap); a longer one is refused
 * with -EFBIG naming the file and field. */
#define KUBECONFIG_TOKEN_MAX 65536

struct kubeconfig_cluster {
	char *name;
	char *file; /* the kubeconfig file it came from */
	char *server;
	char *certificate_authority; /* absolute path, or NULL */
	struct blob certificate_authority_data;
	bool insecure_skip_tls_verify;
	char *tls_server_name;
	char *proxy_url;
};

struct kubeconfig_user {
	char *name;
	char *file;               /* the kubeconfig file it came from */
	char *client_certificate; /* absolute path, or NULL */
	struct blob client_certificate_data;
	char *client_key; /* absolute path, or NULL */
	struct blob client_key_data;
	char *token;
	char *token_file; /* absolute path, or NULL */
	bool has_exec;    /* exec holds a credential plugin's stanza */
	struct execcred_spec exec;
	char *unsupported; /* first auth field present that coxswain does not
					       implement ("auth-provider", "username", ...), or NULL */
};

struct kubeconfig_context {
	char *name;
	char *file; /* the kubeconfig file it came from */
	char *cluster;
	char *user;
	char *namespace;
};

struct kubeconfig {
	char *path;            /* as given to kubeconfig_load; "a:b" once merged */
	char *current_context; /* NULL when unset */
	struct kubeconfig_cluster *clusters;
	size_t n_clusters;
	struct kubeconfig_user *users;
	size_t n_users;
	struct kubeconfig_context *contexts;
	size_t n_contexts;
};

/* Loads and validates the kubeconfig at path into *out (owned). Returns 0, or
 * a negative errno with *out NULL and err naming the file, the entry and the
 * field. */
int kubeconfig_load(const char *path, struct kubeconfig **out, struct cx_err *err);

void kubeconfig_free(struct kubeconfig **kc);

/* Merges *from into into by kubectl's rules for a KUBECONFIG list: an entry
 * (cluster, user, context) whose name into already has is dropped, the first
 * current-context set wins. Consumes *from (freed and NULLed). */
int kubeconfig_merge(struct kubeconfig *into, struct kubeconfig **from, struct cx_err *err);

/* Resolves context (NULL = current-context) into an owned restconfig in *out:
 * reads the files the context's cluster and user refer to. Errors name the
 * file, the context, cluster or user, and the field. */
int kubeconfig_restconfig(const struct kubeconfig *kc, const char *context, struct restconfig **out,
			  struct cx_err *err);

#endif

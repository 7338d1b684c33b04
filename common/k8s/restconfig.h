/* restconfig: everything a kclient needs to reach one API server as one
 * identity, already read into memory, and the one a pod gets from its
 * service account (in-cluster). kubectl's loading rules, which find it
 * through kubeconfig files, are common/k8s/loadrules. */
#ifndef COXSWAIN_RESTCONFIG_H
#define COXSWAIN_RESTCONFIG_H

#include <stdbool.h>

#include "blob.h"

struct execcred;

struct restconfig {
	char *server;            /* scheme://host[:port][/prefix], no trailing slash */
	struct blob ca;          /* PEM bundle to verify the server; empty = system store */
	struct blob client_cert; /* PEM; empty = no client certificate */
	struct blob client_key;  /* PEM */
	char *token;             /* bearer token, or NULL */
	char *token_file;        /* re-read periodically because it rotates; or NULL */
	struct execcred *exec;   /* the user's credential plugin (owned), or NULL */
	bool insecure;           /* skip TLS verification (warned about) */
	char *tls_server_name;
	char *proxy_url;
	char *namespace; /* the context's namespace, or NULL */
	char *source;    /* "kubeconfig F, context C" for messages */
};

struct cx_err;

/* The configuration of a pod: KUBERNETES_SERVICE_HOST/_PORT and the service
 * account's token (re-read as it rotates), ca.crt and namespace files in
 * sa_dir (NULL = /var/run/secrets/kubernetes.io/serviceaccount). */
int restconfig_in_cluster(const char *sa_dir, struct restconfig **out, struct cx_err *err);

void restconfig_free(struct restconfig **rc);

#endif

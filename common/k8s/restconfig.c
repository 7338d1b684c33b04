#include "config.h"

#include "restconfig.h"
#include "err.h"
#include "execcred.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define SMALL_FILE_MAX     (1024 * 1024)

int restconfig_in_cluster(const char *sa_dir, struct restconfig **out, struct cx_err *err)
{
	*out = NULL;
	if (!sa_dir)
		sa_dir = SERVICEACCOUNT_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return cx_err_set(err, -ENOENT,
				  "not running in a pod: KUBERNETES_SERVICE_HOST and "
				  "KUBERNETES_SERVICE_PORT are not set");
	struct restconfig *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r = 0;
	const char *open_bracket = strchr(host, ':') ? "[" : "", *close_bracket = *open_bracket ? "]" : "";
	char path[4096];
	struct blob ns = { 0 };
	if (asprintf(&rc->server, "https://%s%s%s:%s", open_bracket, host, close_bracket, port) < 0 ||
	    asprintf(&rc->source, "in-cluster service account (%s)", sa_dir) < 0) {
		r = cx_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	if (access(path, R_OK) != 0) {
		r = cx_err_set(err, -errno, "in-cluster config: cannot read the service account token %s: %s", path,
			       strerror(errno));
		goto out;
	}
	if (!(rc->token_file = strdup(path))) {
		r = cx_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	if ((r = blob_read_file(path, SMALL_FILE_MAX, &rc->ca, err))) {
		cx_err_prefix(err, "in-cluster config: ");
		goto out;
	}
	/* The namespace file is optional: a missing one leaves the default. */
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	if (blob_read_file(path, SMALL_FILE_MAX, &ns, NULL) == 0) {
		while (ns.len && isspace(ns.data[ns.len - 1]))
			ns.data[--ns.len] = '\0';
		if (ns.len && !(rc->namespace = strdup((char *)ns.data)))
			r = cx_err_set(err, -ENOMEM, "out of memory");
		blob_clear(&ns);
	}
out:
	if (r)
		restconfig_free(&rc);
	*out = rc;
	return r;
}

void restconfig_free(struct restconfig **rcp)
{
	struct restconfig *rc = *rcp;
	if (!rc)
		return;
	free(rc->server);
	blob_clear(&rc->ca);
	blob_clear(&rc->client_cert);
	blob_clear(&rc->client_key);
	if (rc->token) {
		explicit_bzero(rc->token, strlen(rc->token));
		free(rc->token);
	}
	free(rc->token_file);
	execcred_free(&rc->exec);
	free(rc->tls_server_name);
	free(rc->proxy_url);
	free(rc->namespace);
	free(rc->source);
	free(rc);
	*rcp = NULL;
}

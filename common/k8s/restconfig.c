#include "config.h"

#include "restconfig.h"
#include "err.h"
#include "execcred.h"
#include "kubeconfig.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define SMALL_FILE_MAX (1024 * 1024)

int restconfig_in_cluster(const char *sa_dir, struct restconfig **out, struct cx_err *err)
{
	*out = NULL;
	if (!sa_dir)
		sa_dir = SERVICEACCOUNT_DIR;
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	if (!host || !*host || !port || !*port)
		return cx_err_set(err, -ENOENT, "not running in a pod: KUBERNETES_SERVICE_HOST and "
				  "KUBERNETES_SERVICE_PORT are not set");
	struct restconfig *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r = 0;
	const char *open_bracket = strchr(host, ':') ? "[" : "", *close_bracket = *open_bracket ? "]" : "";
	char path[4096];
	struct blob ns = {0};
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

/* Loads each existing file of the KUBECONFIG list in order and merges them.
 * Missing files are passed over, as kubectl does; none at all is an error. */
static int load_kubeconfig_list(const char *list, struct kubeconfig **out, struct cx_err *err)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct kubeconfig *merged = NULL;
	int r = 0;
	for (char *path = strtok_r(copy, ":", &save); path && !r; path = strtok_r(NULL, ":", &save)) {
		if (access(path, F_OK) != 0)
			continue;
		struct kubeconfig *kc;
		if ((r = kubeconfig_load(path, &kc, err))) {
			break;
		} else if (!merged) {
			merged = kc;
		} else {
			r = kubeconfig_merge(merged, &kc, err);
			kubeconfig_free(&kc); /* merge consumed it unless it failed */
		}
	}
	free(copy);
	if (!r && !merged)
		r = cx_err_set(err, -ENOENT, "none of the files in KUBECONFIG exist: %s", list);
	if (r)
		kubeconfig_free(&merged);
	*out = merged;
	return r;
}

static int from_kubeconfig(struct kubeconfig *kc, const struct restconfig_load_opts *o, struct restconfig **out,
			   struct cx_err *err)
{
	int r = kubeconfig_restconfig(kc, o->context, out, err);
	kubeconfig_free(&kc);
	return r;
}

int restconfig_load(const struct restconfig_load_opts *o, struct restconfig **out, struct cx_err *err)
{
	*out = NULL;
	struct kubeconfig *kc = NULL;
	int r;
	const char *list = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char home_config[4096] = "";
	if (home && *home)
		snprintf(home_config, sizeof(home_config), "%s/.kube/config", home);

	if (o->kubeconfig) {
		if ((r = kubeconfig_load(o->kubeconfig, &kc, err)))
			return r;
		r = from_kubeconfig(kc, o, out, err);
	} else if (list && *list) {
		if ((r = load_kubeconfig_list(list, &kc, err)) == 0)
			r = from_kubeconfig(kc, o, out, err);
	} else if (*home_config && access(home_config, F_OK) == 0) {
		if ((r = kubeconfig_load(home_config, &kc, err)))
			return r;
		r = from_kubeconfig(kc, o, out, err);
	} else if (getenv("KUBERNETES_SERVICE_HOST")) {
		r = restconfig_in_cluster(o->serviceaccount_dir, out, err);
	} else {
		return cx_err_set(err, -ENOENT,
				  "no Kubernetes configuration: give --kubeconfig, set KUBECONFIG, create %s, or run "
				  "in a pod (KUBERNETES_SERVICE_HOST is not set)",
				  *home_config ? home_config : "~/.kube/config");
	}
	if (!r && o->namespace) {
		free((*out)->namespace);
		if (!((*out)->namespace = strdup(o->namespace)))
			r = cx_err_set(err, -ENOMEM, "out of memory");
	}
	if (r)
		restconfig_free(out);
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

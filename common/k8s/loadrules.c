#include "config.h"

#include "loadrules.h"
#include "err.h"
#include "kubeconfig.h"
#include "restconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static int from_kubeconfig(struct kubeconfig *kc, const struct loadrules_opts *o, struct restconfig **out,
			   struct cx_err *err)
{
	int r = kubeconfig_restconfig(kc, o->context, out, err);
	kubeconfig_free(&kc);
	return r;
}

int loadrules_restconfig(const struct loadrules_opts *o, struct restconfig **out, struct cx_err *err)
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

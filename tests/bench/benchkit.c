#include "config.h"

#include "benchkit.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "kclient.h"
#include "kubeconfig.h"
#include "restconfig.h"

static const char *name = "bench";

void benchkit_die(const char *what, const struct cx_err *err)
{
	fprintf(stderr, "%s: %s: %s\n", name, what, err ? err->msg : "");
	exit(1);
}

struct restconfig *benchkit_restconfig(const char *prog, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/admin.kubeconfig", dir);
	return benchkit_restconfig_file(prog, path);
}

struct restconfig *benchkit_restconfig_file(const char *prog, const char *path)
{
	name = prog;
	struct cx_err err = { 0 };
	struct restconfig *rc = NULL;
	struct kubeconfig *kc = NULL;
	kubeconfig_load(path, &kc, &err);
	if (!kc || kubeconfig_restconfig(kc, NULL, &rc, &err))
		benchkit_die("connection", &err);
	kubeconfig_free(&kc);
	return rc;
}

struct kclient *benchkit_client(const struct restconfig *rc)
{
	struct cx_err err = { 0 };
	struct kclient_options o = { .qps = -1 };
	struct kclient *c = NULL;
	kclient_new(rc, &o, &c, &err);
	if (!c)
		benchkit_die("client", &err);
	return c;
}

/* The floor of tests/bench/compare's cold start: the least any controller of
 * its workload must do once the Parents exist, with next to no CPU of its
 * own. It LISTs the namespace's Parents once, then P processes (one
 * connection each, like P workers) make for each Parent exactly the two
 * writes coxswain and the controller-runtime peer both make before a Parent
 * is ready, with the peer's bodies: the server-side apply of its ConfigMap
 * (data.value = spec.value, the Parent as controller owner) and the merge
 * patch of its status (ready, observedGeneration, a Ready condition).
 * No cache, no watch, no hook, no queue; bodies are built from the list.
 * It exits 0 when every Parent is written, 1 on the first failed request.
 *
 *   bench_write_floor --kubeconfig FILE --namespace NS [--procs P]
 *
 * Its cold start against the peer's in the same run bounds what the API
 * server and etcd allow on the machine: no controller doing this work can
 * be faster than the floor by more than the floor's own CPU. */
#include "config.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchkit.h"
#include "err.h"
#include "kclient.h"
#include "restconfig.h"

#define GROUP_VERSION "compare.coxswain.io/v1"
#define FIELD_MANAGER "bench-floor"

struct parent {
	char *name, *uid, *value;
	int64_t generation;
};

struct parents {
	struct parent *v;
	size_t n, cap;
};

static const char *str_at(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x = NULL, *y = NULL;
	if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
		return "";
	return json_object_get_string(y);
}

static int collect(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)err;
	struct parents *ps = ud;
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? 2 * ps->cap : 1024;
		ps->v = realloc(ps->v, ps->cap * sizeof(*ps->v));
		if (!ps->v)
			benchkit_die("out of memory", NULL);
	}
	struct json_object *meta = NULL, *gen = NULL;
	json_object_object_get_ex(item, "metadata", &meta);
	json_object_object_get_ex(meta, "generation", &gen);
	ps->v[ps->n++] = (struct parent){
		.name = strdup(str_at(item, "metadata", "name")),
		.uid = strdup(str_at(item, "metadata", "uid")),
		.value = strdup(str_at(item, "spec", "value")),
		.generation = json_object_get_int64(gen),
	};
	return 0;
}

static struct json_object *child_of(const struct parent *p, const char *ns)
{
	struct json_object *owner = json_object_new_object();
	json_object_object_add(owner, "apiVersion", json_object_new_string(GROUP_VERSION));
	json_object_object_add(owner, "kind", json_object_new_string("Parent"));
	json_object_object_add(owner, "name", json_object_new_string(p->name));
	json_object_object_add(owner, "uid", json_object_new_string(p->uid));
	json_object_object_add(owner, "controller", json_object_new_boolean(1));
	json_object_object_add(owner, "blockOwnerDeletion", json_object_new_boolean(1));
	struct json_object *owners = json_object_new_array();
	json_object_array_add(owners, owner);
	struct json_object *meta = json_object_new_object();
	json_object_object_add(meta, "name", json_object_new_string(p->name));
	json_object_object_add(meta, "namespace", json_object_new_string(ns));
	json_object_object_add(meta, "ownerReferences", owners);
	struct json_object *data = json_object_new_object();
	json_object_object_add(data, "value", json_object_new_string(p->value));
	struct json_object *cm = json_object_new_object();
	json_object_object_add(cm, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(cm, "kind", json_object_new_string("ConfigMap"));
	json_object_object_add(cm, "metadata", meta);
	json_object_object_add(cm, "data", data);
	return cm;
}

static struct json_object *status_of(const struct parent *p, const char *now)
{
	struct json_object *cond = json_object_new_object();
	json_object_object_add(cond, "type", json_object_new_string("Ready"));
	json_object_object_add(cond, "status", json_object_new_string("True"));
	json_object_object_add(cond, "reason", json_object_new_string("Synced"));
	json_object_object_add(cond, "message", json_object_new_string("the ConfigMap is applied"));
	json_object_object_add(cond, "lastTransitionTime", json_object_new_string(now));
	json_object_object_add(cond, "observedGeneration", json_object_new_int64(p->generation));
	struct json_object *conds = json_object_new_array();
	json_object_array_add(conds, cond);
	struct json_object *st = json_object_new_object();
	json_object_object_add(st, "ready", json_object_new_boolean(1));
	json_object_object_add(st, "observedGeneration", json_object_new_int64(p->generation));
	json_object_object_add(st, "conditions", conds);
	struct json_object *patch = json_object_new_object();
	json_object_object_add(patch, "status", st);
	return patch;
}

/* One process's share: the Parents at k, k+procs, k+2*procs, ... */
static int write_share(const struct restconfig *rc, const struct parents *ps, const char *ns, int k, int procs)
{
	struct kclient *c = benchkit_client(rc);
	struct cx_err err = { 0 };
	char now[32];
	time_t t = time(NULL);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	for (size_t i = (size_t)k; i < ps->n; i += (size_t)procs) {
		const struct parent *p = &ps->v[i];
		char path[1024];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, p->name);
		struct json_object *cm = child_of(p, ns);
		int rc_apply = kclient_apply(c, path, cm, FIELD_MANAGER, true, NULL, &err);
		json_object_put(cm);
		if (rc_apply)
			benchkit_die(path, &err);
		snprintf(path, sizeof(path), "/apis/" GROUP_VERSION "/namespaces/%s/parents/%s/status", ns, p->name);
		struct json_object *patch = status_of(p, now);
		int rc_patch = kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, NULL, &err);
		json_object_put(patch);
		if (rc_patch)
			benchkit_die(path, &err);
	}
	kclient_free(&c);
	return 0;
}

int main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *ns = NULL;
	int procs = 2;
	static const struct option longopts[] = {
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "procs", required_argument, NULL, 'p' },
		{ 0 },
	};
	for (int o; (o = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
		if (o == 'k')
			kubeconfig = optarg;
		else if (o == 'n')
			ns = optarg;
		else if (o == 'p')
			procs = atoi(optarg);
		else
			return 2;
	}
	if (!kubeconfig || !ns || procs < 1) {
		fprintf(stderr, "usage: bench_write_floor --kubeconfig FILE --namespace NS [--procs P]\n");
		return 2;
	}
	struct cx_err err = { 0 };
	struct restconfig *rc = benchkit_restconfig_file("bench_write_floor", kubeconfig);

	struct parents ps = { 0 };
	char path[512];
	snprintf(path, sizeof(path), "/apis/" GROUP_VERSION "/namespaces/%s/parents", ns);
	struct kclient *c = benchkit_client(rc);
	if (kclient_list(c, path, NULL, collect, &ps, NULL, &err))
		benchkit_die(path, &err);
	kclient_free(&c);

	for (int k = 0; k < procs; k++) {
		pid_t pid = fork();
		if (pid < 0)
			benchkit_die("fork", NULL);
		if (pid == 0)
			_exit(write_share(rc, &ps, ns, k, procs));
	}
	int failed = 0;
	for (int k = 0; k < procs; k++) {
		int status = 0;
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	}
	printf("bench_write_floor: %zu Parents written by %d processes%s\n", ps.n, procs,
	       failed ? ", some FAILED" : "");
	for (size_t i = 0; i < ps.n; i++) {
		free(ps.v[i].name);
		free(ps.v[i].uid);
		free(ps.v[i].value);
	}
	free(ps.v);
	restconfig_free(&rc);
	return failed;
}

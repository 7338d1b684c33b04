/* Bytes per object of the watcher's cache (issue 12 item 5): the watcher's
 * own informers (watcher/informer.c) over N parents and N children, against
 * the fixture. Parents and children are ConfigMaps the benchmark makes in a
 * namespace of its own (kept for the next run): N labelled
 * bench-role=parent with ~400 bytes of data, N labelled bench-role=child,
 * each with a controller ownerReference to its parent, as a controller's
 * children carry. Two informers (one per label, as the controller's parent
 * and child informers) LIST and WATCH until both are synced and their
 * handlers have seen all 2N objects.
 *
 * Each measurement runs in a fresh child process so peaks do not mix: the
 * baseline (client and watch multiplexer set up, no informer), then the
 * informers. Prints peak RSS (VmHWM, which includes the LIST's transient
 * memory) and RSS once synced (VmRSS: malloc rarely gives memory back, so
 * it stays near the peak), each minus the baseline and divided by 2N; the
 * heap in use once synced (mallinfo2: what the cache itself keeps), the same
 * way; and the CPU time and wall time the informers
 * took to sync (LIST, decode, store, handlers). Run it from a build without sanitizers
 * (ASan's shadow memory would swamp the RSS). Fails only when the informers
 * do not deliver all 2N objects. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "discovery.h"
#include "benchkit.h"
#include "err.h"
#include "informer.h"
#include "kclient.h"
#include "kwatch.h"
#include "restconfig.h"

static struct restconfig *rc;
static char ns[64], cms[256];

/* Creates body at path; the created object's uid into uid (or, when it
 * exists from an earlier run, read back). */
static void create(struct kclient *c, const char *path, const char *name, const char *body, char *uid, size_t len)
{
	struct json_object *o = json_tokener_parse(body), *out = NULL, *meta = NULL, *u = NULL;
	struct cx_err err = { 0 };
	int r = kclient_create(c, path, o, &out, &err);
	json_object_put(o);
	if (r == -EEXIST) {
		char one[512];
		snprintf(one, sizeof(one), "%s/%s", path, name);
		memset(&err, 0, sizeof(err));
		r = kclient_get(c, one, &out, &err);
	}
	if (r)
		benchkit_die("create", &err);
	if (uid && json_object_object_get_ex(out, "metadata", &meta) && json_object_object_get_ex(meta, "uid", &u))
		snprintf(uid, len, "%s", json_object_get_string(u));
	json_object_put(out);
}

static void populate(int n)
{
	struct kclient *c = benchkit_client(rc);
	char body[2048], name[512], uid[64];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	create(c, "/api/v1/namespaces", ns, body, NULL, 0);
	char data[401];
	memset(data, 'x', 400);
	data[400] = '\0';
	/* Already there from an earlier run: the last child exists. */
	snprintf(name, sizeof(name), "%s/c-%05d", cms, n - 1);
	struct json_object *last = NULL;
	struct cx_err err = { 0 };
	if (!kclient_get(c, name, &last, &err)) {
		json_object_put(last);
		kclient_free(&c);
		return;
	}
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "p-%05d", i);
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
			 "\"labels\":{\"bench-role\":\"parent\",\"index\":\"%d\"}},\"data\":{\"page\":\"%s\"}}",
			 name, i, data);
		create(c, cms, name, body, uid, sizeof(uid));
		snprintf(name, sizeof(name), "c-%05d", i);
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
			 "\"labels\":{\"bench-role\":\"child\",\"coxswain.io/controller\":\"bench\"},"
			 "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"p-%05d\","
			 "\"uid\":\"%s\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
			 "\"data\":{\"greeting\":\"hello from p-%05d\"}}",
			 name, i, uid, i);
		create(c, cms, name, body, NULL, 0);
	}
	kclient_free(&c);
}

static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t len = strlen(field);
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':')
			v = atol(line + len + 1);
	if (f)
		fclose(f);
	return v;
}

static size_t seen;

static void on_add(void *ud, struct json_object *obj)
{
	(void)ud;
	(void)obj;
	seen++;
}

static long cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000L + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* In a child: run the two informers until synced with all 2n objects seen;
 * reports "VmHWM VmRSS heap cpu_ms wall_ms" (KiB, KiB, bytes in use, and
 * the milliseconds from the informers' start to synced). */
static void measure(int n, bool informers)
{
	struct kclient *c = benchkit_client(rc);
	struct cx_err err = { 0 };
	struct kwatch_mux *mux = NULL;
	kwatch_mux_new(&mux, &err);
	if (!mux)
		benchkit_die("mux", &err);
	struct kresource res = { .group = "",
				 .version = "v1",
				 .api_version = "v1",
				 .kind = "ConfigMap",
				 .resource = "configmaps",
				 .namespaced = true };
	struct informer *infs[2] = { 0 };
	const char *selectors[2] = { "bench-role=parent", "bench-role=child" };
	for (int i = 0; informers && i < 2; i++) {
		struct informer_options o = { .resource = &res,
					      .namespace = ns,
					      .label_selector = selectors[i],
					      .handlers = { .on_add = on_add } };
		if (informer_new(c, mux, &o, &infs[i], &err))
			benchkit_die("informer", &err);
	}
	long cpu0 = cpu_ms();
	int64_t t0 = clock_monotonic_ms();
	time_t last_progress = time(NULL);
	while (informers && (seen < 2 * (size_t)n || !informer_synced(infs[0]) || !informer_synced(infs[1])) &&
	       time(NULL) - last_progress < 120) {
		int64_t now = clock_monotonic_ms();
		size_t before = seen;
		for (int i = 0; i < 2; i++)
			if (informer_tick(infs[i], now, &err))
				fprintf(stderr, "bench_informer_rss: %s\n", err.msg);
		struct pollfd fds[8];
		long timeout_ms;
		size_t k = kwatch_mux_pollfds(mux, fds, 8, &timeout_ms);
		poll(fds, k, timeout_ms < 0 || timeout_ms > 100 ? 100 : (int)timeout_ms);
		kwatch_mux_dispatch(mux, fds, k);
		if (seen != before)
			last_progress = time(NULL);
	}
	if (informers && seen != 2 * (size_t)n) {
		fprintf(stderr, "bench_informer_rss: the informers saw %zu objects, expected %d\n", seen, 2 * n);
		exit(1);
	}
	long cpu = cpu_ms() - cpu0, wall = (long)(clock_monotonic_ms() - t0);
	printf("%ld %ld %zu %ld %ld\n", status_kib("VmHWM"), status_kib("VmRSS"), mallinfo2().uordblks, cpu, wall);
	fflush(stdout);
	for (int i = 0; i < 2; i++)
		informer_free(&infs[i]);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	exit(0);
}

static void in_child(int n, bool informers, long *hwm, long *rss, long *heap, long *cpu, long *wall)
{
	int fds[2];
	if (pipe(fds))
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		measure(n, informers);
	}
	close(fds[1]);
	char buf[128] = "";
	ssize_t got = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    sscanf(buf, "%ld %ld %ld %ld %ld", hwm, rss, heap, cpu, wall) != 5)
		exit(1);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("COXSWAIN_CLUSTER_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	if (!dir || n <= 0 || n > 99999) {
		fprintf(stderr,
			"usage: COXSWAIN_CLUSTER_DIR=.cluster bench_informer_rss [parents (children as many)]\n");
		return 2;
	}
	rc = benchkit_restconfig("bench_informer_rss", dir);
	snprintf(ns, sizeof(ns), "bench-informer-%d", n);
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	populate(n);
	long base_hwm, base_rss, base_heap, hwm, rss, heap, cpu, wall;
	in_child(n, false, &base_hwm, &base_rss, &base_heap, &cpu, &wall);
	in_child(n, true, &hwm, &rss, &heap, &cpu, &wall);
	int objects = 2 * n;
	printf("bench_informer_rss: %d parents + %d children cached by two informers: peak RSS %ld KiB, RSS synced "
	       "%ld KiB; baseline %ld KiB peak, %ld KiB RSS\n",
	       n, n, hwm, rss, base_hwm, base_rss);
	printf("bench_informer_rss: per cached object: %.0f bytes at peak, %.0f bytes of RSS once synced, %.0f bytes "
	       "of heap in use once synced\n",
	       1024.0 * (double)(hwm - base_hwm) / objects, 1024.0 * (double)(rss - base_rss) / objects,
	       (double)(heap - base_heap) / objects);
	printf("bench_informer_rss: synced in %ld ms, %ld ms of CPU (%.1f us per object)\n", wall, cpu,
	       1000.0 * (double)cpu / objects);
	restconfig_free(&rc);
	return 0;
}

/* Peak RSS of a process that watches N objects (ConfigMaps the benchmark
 * makes in a namespace of its own) and keeps them all, as the watcher's cache
 * will: the stream's initial ADDED events for everything, parsed by
 * common/watch over common/kwatch. Each measurement runs in a fresh child
 * process so peaks do not mix: baseline (the client set up, no watch), the
 * watch keeping objects as parsed, and the same with managedFields dropped.
 * Prints figures; fails only if the watch does not deliver all N objects. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "benchkit.h"
#include "err.h"
#include "kclient.h"
#include "kwatch.h"
#include "restconfig.h"

static struct restconfig *rc;
static char ns[64], cms[256];

static void create(struct kclient *c, const char *path, const char *body)
{
	struct json_object *o = json_tokener_parse(body);
	struct cx_err err = { 0 };
	int r = kclient_create(c, path, o, NULL, &err);
	if (r && r != -EEXIST)
		benchkit_die("create", &err);
	json_object_put(o);
}

/* N ConfigMaps of ~500 bytes of data, each written by server-side apply
 * semantics' bookkeeping too (managedFields), as real objects are. */
static void populate(int n)
{
	struct kclient *c = benchkit_client(rc);
	char body[1024];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	create(c, "/api/v1/namespaces", body);
	char data[401];
	memset(data, 'x', 400);
	data[400] = '\0';
	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%05d\","
			 "\"labels\":{\"app\":\"bench\",\"index\":\"%d\"}},\"data\":{\"page\":\"%s\"}}",
			 i, i, data);
		create(c, cms, body);
	}
	kclient_free(&c);
}

struct cache {
	struct json_object **objects;
	size_t n, cap;
};

static int keep(void *ud, const struct watch_event *ev, struct cx_err *err)
{
	(void)err;
	struct cache *cache = ud;
	if (ev->type != WATCH_ADDED)
		return 0;
	if (cache->n == cache->cap) {
		cache->cap = cache->cap ? cache->cap * 2 : 1024;
		cache->objects = realloc(cache->objects, cache->cap * sizeof(*cache->objects));
	}
	cache->objects[cache->n++] = json_object_get(ev->object);
	return 0;
}

static void ended(void *ud, struct kwatch *w, int code, const struct cx_err *err)
{
	(void)ud;
	(void)w;
	if (code)
		benchkit_die("watch ended", err);
}

/* In a child: watch the namespace until n objects are cached; report KiB. */
static void measure(int n, int mode)
{
	struct kclient *c = benchkit_client(rc);
	if (mode > 0) {
		struct cx_err err = { 0 };
		struct kwatch_mux *mux = NULL;
		kwatch_mux_new(&mux, &err);
		struct cache cache = { 0 };
		struct kwatch_options o = { .path = cms, .timeout_seconds = 600, .drop_managed_fields = mode == 2 };
		struct kwatch *w = NULL;
		kwatch_start(mux, c, &o, keep, ended, &cache, &w, &err);
		if (!w)
			benchkit_die("watch", &err);
		time_t last_progress = time(NULL);
		while (cache.n < (size_t)n && time(NULL) - last_progress < 60) {
			struct pollfd fds[8];
			long timeout_ms;
			size_t k = kwatch_mux_pollfds(mux, fds, 8, &timeout_ms);
			size_t before = cache.n;
			poll(fds, k, timeout_ms < 0 || timeout_ms > 200 ? 200 : (int)timeout_ms);
			kwatch_mux_dispatch(mux, fds, k);
			if (cache.n != before)
				last_progress = time(NULL);
		}
		if (cache.n != (size_t)n) {
			fprintf(stderr, "bench_watch_rss: watched %zu objects, expected %d\n", cache.n, n);
			exit(1);
		}
		kwatch_free(&w);
		kwatch_mux_free(&mux);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld\n", ru.ru_maxrss);
	fflush(stdout);
	exit(0);
}

static long in_child(int n, int mode)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		measure(n, mode);
	}
	close(fds[1]);
	char buf[64] = "";
	ssize_t got = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		exit(1);
	return atol(buf);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("COXSWAIN_CLUSTER_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	if (!dir || n <= 0) {
		fprintf(stderr, "usage: COXSWAIN_CLUSTER_DIR=.cluster bench_watch_rss [objects]\n");
		return 2;
	}
	rc = benchkit_restconfig("bench_watch_rss", dir);
	snprintf(ns, sizeof(ns), "bench-watch-%d", n);
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	populate(n);
	long base = in_child(n, 0), kept = in_child(n, 1), dropped = in_child(n, 2);
	printf("bench_watch_rss: %d ConfigMaps watched and cached: peak RSS %ld KiB with managedFields, %ld KiB "
	       "without;"
	       " baseline (client only) %ld KiB\n",
	       n, kept, dropped, base);
	printf("bench_watch_rss: per object %.2f KiB with managedFields, %.2f KiB without; dropping them saves "
	       "%.0f%%\n",
	       (double)(kept - base) / n, (double)(dropped - base) / n,
	       100.0 * (double)(kept - dropped) / (double)(kept - base));
	restconfig_free(&rc);
	return 0;
}

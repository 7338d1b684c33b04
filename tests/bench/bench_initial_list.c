/* How an informer (watcher/informer) fills its cache of N objects (default
 * 10,000 ConfigMaps of ~500 bytes, in the namespace bench-initial-N, made
 * here and kept for the next run) both ways: a streaming list (a WATCH with
 * sendInitialEvents=true, synced at its initial-events-end bookmark) and a
 * paginated LIST (500 a page). Each measurement runs in a fresh child
 * process, the modes interleaved for ROUNDS rounds (default 3): the seconds
 * from the informer's first tick to informer_synced, and the child's peak
 * RSS (getrusage ru_maxrss) with the informer's cache still held, beside a
 * baseline child that sets up the same client and stops there.
 *
 * Prints figures; fails only when an informer does not sync with exactly N
 * objects. Run it from a build without sanitizers (ASan's shadow memory
 * would swamp the RSS), against tests/cluster/up's API server:
 *   COXSWAIN_CLUSTER_DIR=.cluster tests/bench/bench_initial_list [N [ROUNDS]] */
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

#include "clock.h"
#include "discovery.h"
#include "benchkit.h"
#include "err.h"
#include "informer.h"
#include "objstore.h"
#include "kclient.h"
#include "kwatch.h"
#include "restconfig.h"

static struct restconfig *rc;
static char ns[64], cms[256];

static char group[] = "", version[] = "v1", kind[] = "ConfigMap", resource[] = "configmaps";
static struct kresource cm_res = { .group = group,
				   .version = version,
				   .api_version = version,
				   .kind = kind,
				   .resource = resource,
				   .namespaced = true };

enum mode { BASELINE, STREAM, LIST, N_MODES };
static const char *const mode_names[N_MODES] = { "baseline", "stream", "list" };

static int count(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)item;
	(void)err;
	(*(int *)ud)++;
	return 0;
}

/* Makes the namespace and its N ConfigMaps, unless a former run did. */
static void populate(int n)
{
	struct kclient *c = benchkit_client(rc);
	struct cx_err err = { 0 };
	int have = 0;
	char *rv = NULL;
	struct kclient_list_opts lo = { 0 };
	if (kclient_list(c, cms, &lo, count, &have, &rv, &err) == 0 && have == n) {
		free(rv);
		kclient_free(&c);
		return;
	}
	free(rv);
	char body[1024];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json_tokener_parse(body);
	int r = kclient_create(c, "/api/v1/namespaces", o, NULL, &err);
	json_object_put(o);
	if (r && r != -EEXIST)
		benchkit_die("create the namespace", &err);
	char data[401];
	memset(data, 'x', 400);
	data[400] = '\0';
	fprintf(stderr, "bench_initial_list: creating %d ConfigMaps in %s\n", n, ns);
	for (int i = 0; i < n; i++) {
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%05d\","
			 "\"labels\":{\"app\":\"bench\",\"index\":\"%d\"}},\"data\":{\"page\":\"%s\"}}",
			 i, i, data);
		o = json_tokener_parse(body);
		r = kclient_create(c, cms, o, NULL, &err);
		json_object_put(o);
		if (r && r != -EEXIST)
			benchkit_die("create a ConfigMap", &err);
	}
	kclient_free(&c);
}

/* In a child: fill an informer's cache the mode's way; print the peak RSS
 * in KiB and the milliseconds to synced. */
static void measure(int n, enum mode mode)
{
	struct kclient *c = benchkit_client(rc);
	struct cx_err err = { 0 };
	struct kwatch_mux *mux = NULL;
	kwatch_mux_new(&mux, &err);
	if (!mux)
		benchkit_die("mux", &err);
	int64_t ms = 0;
	struct informer *inf = NULL;
	if (mode != BASELINE) {
		struct informer_options o = { .resource = &cm_res,
					      .namespace = ns,
					      .initial_list = mode == STREAM ? INFORMER_INITIAL_STREAM
									     : INFORMER_INITIAL_LIST };
		if (informer_new(c, mux, &o, &inf, &err))
			benchkit_die("informer", &err);
		int64_t start = clock_monotonic_ms();
		while (!informer_synced(inf) && clock_monotonic_ms() - start < 300000) {
			if (informer_tick(inf, clock_monotonic_ms(), &err))
				fprintf(stderr, "bench_initial_list: %s: %s\n", mode_names[mode], err.msg);
			if (informer_synced(inf))
				break;
			struct pollfd fds[8];
			long timeout_ms;
			size_t k = kwatch_mux_pollfds(mux, fds, 8, &timeout_ms);
			poll(fds, k, timeout_ms < 0 || timeout_ms > 100 ? 100 : (int)timeout_ms);
			kwatch_mux_dispatch(mux, fds, k);
		}
		ms = clock_monotonic_ms() - start;
		int have = (int)objstore_count(informer_objects(inf));
		if (!informer_synced(inf) || have != n) {
			fprintf(stderr, "bench_initial_list: %s: synced=%d with %d objects, expected %d\n",
				mode_names[mode], informer_synced(inf), have, n);
			exit(1);
		}
		if ((mode == STREAM) != (informer_streams(inf) == 1 && informer_lists(inf) == 0)) {
			fprintf(stderr, "bench_initial_list: %s: %llu streams, %llu lists\n", mode_names[mode],
				(unsigned long long)informer_streams(inf), (unsigned long long)informer_lists(inf));
			exit(1);
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %lld\n", ru.ru_maxrss, (long long)ms);
	fflush(stdout);
	informer_free(&inf);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	exit(0);
}

static void in_child(int n, enum mode mode, long *kib, double *secs)
{
	int fds[2];
	if (pipe(fds))
		exit(1);
	fflush(stdout);
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
	long long ms = 0;
	if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) || sscanf(buf, "%ld %lld", kib, &ms) != 2)
		exit(1);
	*secs = (double)ms / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int k)
{
	qsort(v, (size_t)k, sizeof(*v), cmp_double);
	return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("COXSWAIN_CLUSTER_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 3;
	if (!dir || n <= 0 || rounds <= 0 || rounds > 20) {
		fprintf(stderr, "usage: COXSWAIN_CLUSTER_DIR=.cluster bench_initial_list [objects [rounds]]\n");
		return 2;
	}
	rc = benchkit_restconfig("bench_initial_list", dir);
	snprintf(ns, sizeof(ns), "bench-initial-%d", n);
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	/* In a child too, so that the parent's heap (which every measuring
	 * child starts from) stays the same whether it made the objects. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		populate(n);
		exit(0);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		benchkit_die("populate", NULL);
	double kib[N_MODES][20], secs[N_MODES][20];
	for (int r = 0; r < rounds; r++)
		for (int m = 0; m < N_MODES; m++) {
			/* Interleaved, and the order turned each round. */
			enum mode mode = (enum mode)(r % 2 ? N_MODES - 1 - m : m);
			long k;
			in_child(n, mode, &k, &secs[mode][r]);
			kib[mode][r] = (double)k;
			if (mode != BASELINE)
				printf("bench_initial_list: round %d %-6s peak RSS %6ld KiB, synced in %.2f s\n", r + 1,
				       mode_names[mode], k, secs[mode][r]);
		}
	double base = median(kib[BASELINE], rounds);
	printf("bench_initial_list: %d ConfigMaps, %d rounds, medians; baseline (client only) %.0f KiB\n", n, rounds,
	       base);
	printf("%-8s %14s %16s %16s\n", "how", "peak RSS KiB", "KiB per object", "s to synced");
	for (int m = STREAM; m < N_MODES; m++) {
		double k = median(kib[m], rounds), s = median(secs[m], rounds);
		printf("%-8s %14.0f %16.2f %16.2f\n", mode_names[m], k, (k - base) / n, s);
	}
	restconfig_free(&rc);
	return 0;
}

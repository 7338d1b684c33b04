/* Figures for the watcher (issue 4's note), against the fixture:
 *
 *   - time from creating a parent's CRD to the first job dispatched: the
 *     watcher is started before the CRD exists, with this program as its
 *     only worker (a DEALER speaking the worker protocol); the CRD is
 *     created, then one parent as soon as the API server accepts it; the
 *     clock stops when the JOB for that parent arrives;
 *   - the watcher's memory with N parents (default 10,000) in its cache:
 *     VmHWM and VmRSS from /proc/<pid>/status once /metrics shows every
 *     parent queued (no worker is connected by then, so none is handed out),
 *     against the same figures before the CRD existed; then the same for a
 *     watcher started with the N parents in place (its first LIST).
 *
 * The watcher runs as the admin (RBAC is not what is measured), without
 * leader election, from ../../watcher/coxswain-watcher next to this binary.
 * Its parents are BenchParents (bench.coxswain.io, a CRD made and deleted
 * here; the namespace bench-watcher is kept). Prints figures; fails only when
 * something does not happen at all. Run it from a build without sanitizers
 * (tests/run's build-bench/): ASan's shadow memory would swamp the RSS.
 * BENCH_WATCHER_V=N runs the watcher with -v N, BENCH_KEEP=1 keeps its log. */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "err.h"
#include "kclient.h"
#include "kubeconfig.h"
#include "log.h"
#include "proto.h"
#include "restconfig.h"

#define GROUP    "bench.coxswain.io"
#define CRD_NAME "benchparents." GROUP
#define CRD_PATH "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define NS       "bench-watcher"
#define PARENTS  "/apis/" GROUP "/v1/namespaces/" NS "/benchparents"

static struct restconfig *rc;
static char tmpdir[64], metrics_url[128], readyz_url[128];
static pid_t watcher_pid;

static void cleanup(void);

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "bench_watcher: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	cleanup();
	exit(1);
}

static struct kclient *client(void)
{
	struct cx_err err = { 0 };
	struct kclient_options o = { .qps = 1e6, .burst = 1000000 };
	struct kclient *c = NULL;
	kclient_new(rc, &o, &c, &err);
	if (!c)
		die("client: %s", err.msg);
	return c;
}

static int create(struct kclient *c, const char *path, const char *body, struct cx_err *err)
{
	struct json_object *o = json_tokener_parse(body);
	if (!o)
		die("bad JSON: %s", body);
	int r = kclient_create(c, path, o, NULL, err);
	json_object_put(o);
	return r;
}

/* ---------------------------------------------------------------- HTTP to the watcher */

struct buf {
	char *p;
	size_t len;
};

static size_t grow(char *data, size_t size, size_t n, void *ud)
{
	struct buf *b = ud;
	char *p = realloc(b->p, b->len + size * n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, data, size * n);
	b->p = p;
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

/* The body at url (owned), or NULL when the request failed. */
static char *http_get(const char *url)
{
	CURL *h = curl_easy_init();
	struct buf b = { 0 };
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	CURLcode rc_ = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (rc_ != CURLE_OK) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

/* The value of a metrics series (the whole "name{labels}"), -1 if absent. */
static double metric(const char *series)
{
	char *text = http_get(metrics_url);
	double v = -1;
	size_t len = strlen(series);
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (!strncmp(line, series, len) && line[len] == ' ')
			v = atof(line + len + 1);
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return v;
}

/* ---------------------------------------------------------------- the watcher process */

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &len))
		die("no free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

/* VmHWM and VmRSS of the watcher in KiB. */
static void watcher_memory(long *hwm, long *rss)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)watcher_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	*hwm = *rss = -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmHWM:", 6))
			*hwm = atol(line + 6);
		else if (!strncmp(line, "VmRSS:", 6))
			*rss = atol(line + 6);
	}
	fclose(f);
}

static void start_watcher(const char *endpoint, const char *kubeconfig)
{
	char self[PATH_MAX], binary[PATH_MAX + 64], config[128], log[128];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		die("/proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	snprintf(binary, sizeof(binary), "%s/../../watcher/coxswain-watcher", dirname(self));
	if (access(binary, X_OK))
		die("%s: %s (build it: make watcher/coxswain-watcher)", binary, strerror(errno));
	int health = free_port(), metrics = free_port();
	snprintf(readyz_url, sizeof(readyz_url), "http://127.0.0.1:%d/readyz", health);
	snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%d/metrics", metrics);
	snprintf(config, sizeof(config), "%s/coxswain.yaml", tmpdir);
	snprintf(log, sizeof(log), "%s/watcher.log", tmpdir);
	FILE *f = fopen(config, "w");
	if (!f)
		die("%s: %s", config, strerror(errno));
	fprintf(f,
		"controllers:\n"
		"  - name: bench\n"
		"    parent: {apiVersion: " GROUP "/v1, kind: BenchParent}\n"
		"    hooks: {sync: {exec: {command: [\"/bin/true\"]}}}\n"
		"    resyncPeriodSeconds: 0\n"
		"watcher:\n"
		"  endpoint: \"%s\"\n"
		"  healthAddress: \"127.0.0.1:%d\"\n"
		"  metricsAddress: \"127.0.0.1:%d\"\n"
		"  leaderElection: {enabled: false}\n",
		endpoint, health, metrics);
	fclose(f);
	fflush(NULL);
	watcher_pid = fork();
	if (watcher_pid < 0)
		die("fork: %s", strerror(errno));
	if (watcher_pid == 0) {
		FILE *out = freopen(log, "a", stdout);
		(void)out;
		dup2(STDOUT_FILENO, STDERR_FILENO);
		const char *v = getenv("BENCH_WATCHER_V");
		execl(binary, binary, "--config", config, "--kubeconfig", kubeconfig, "--leader-elect", "false", "-v",
		      v ? v : "0", (char *)NULL);
		_exit(127);
	}
}

static void cleanup(void)
{
	if (watcher_pid > 0) {
		kill(watcher_pid, SIGTERM);
		waitpid(watcher_pid, NULL, 0);
		watcher_pid = 0;
	}
	if (rc) {
		struct kclient *c = client();
		kclient_delete(c, CRD_PATH "/" CRD_NAME, NULL, NULL, NULL); /* and its parents */
		kclient_free(&c);
	}
	if (tmpdir[0] && getenv("BENCH_KEEP")) {
		fprintf(stderr, "bench_watcher: kept %s\n", tmpdir);
	} else if (tmpdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench_watcher: could not remove %s\n", tmpdir);
		tmpdir[0] = '\0';
	}
}

/* ---------------------------------------------------------------- a worker */

static void *zctx, *dealer;

static void dealer_send(const struct proto_frame *f)
{
	zmq_send(dealer, f->type, strlen(f->type), ZMQ_SNDMORE);
	zmq_send(dealer, f->payload, f->len, 0);
}

static void worker_connect(const char *endpoint)
{
	char id[64];
	int zero = 0;
	snprintf(id, sizeof(id), "w0-%d", (int)getpid());
	zctx = zmq_ctx_new();
	dealer = zmq_socket(zctx, ZMQ_DEALER);
	zmq_setsockopt(dealer, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(dealer, endpoint))
		die("connect %s: %s", endpoint, zmq_strerror(errno));
	struct proto_ready r = { .slot = 0, .pid = (int)getpid(), .instance = "bench", .restarts = 0 };
	struct proto_frame f = { 0 };
	proto_encode_ready(&r, &f, NULL);
	dealer_send(&f);
	proto_frame_clear(&f);
}

static void worker_close(void)
{
	zmq_close(dealer);
	zmq_ctx_term(zctx);
	dealer = zctx = NULL;
}

/* Heartbeats until a JOB for key arrives (answered ok); false after ms. */
static bool worker_wait_job(const char *key, int64_t ms)
{
	int64_t until = clock_monotonic_ms() + ms, next_hb = 0;
	while (clock_monotonic_ms() < until) {
		if (clock_monotonic_ms() >= next_hb) {
			struct proto_frame f = { 0 };
			proto_encode_heartbeat(&f, NULL);
			dealer_send(&f);
			proto_frame_clear(&f);
			next_hb = clock_monotonic_ms() + 1000;
		}
		zmq_pollitem_t it = { .socket = dealer, .events = ZMQ_POLLIN };
		if (zmq_poll(&it, 1, 2) <= 0)
			continue;
		zmq_msg_t type, payload;
		zmq_msg_init(&type);
		zmq_msg_init(&payload);
		zmq_msg_recv(&type, dealer, 0);
		if (zmq_msg_more(&type))
			zmq_msg_recv(&payload, dealer, 0);
		struct proto_msg m = { 0 };
		struct cx_err err = { 0 };
		bool found = false;
		if (proto_decode(zmq_msg_data(&type), zmq_msg_size(&type), zmq_msg_data(&payload),
				 zmq_msg_size(&payload), &m, &err))
			die("undecodable message from the watcher: %s", err.msg);
		if (m.type == PROTO_JOB) {
			found = !strcmp(m.job.key, key);
			struct proto_result r = {
				.job = m.job.job, .attempt = m.job.attempt, .outcome = PROTO_OUTCOME_OK, .message = ""
			};
			struct proto_frame f = { 0 };
			proto_encode_result(&r, &f, NULL);
			dealer_send(&f);
			proto_frame_clear(&f);
		}
		proto_msg_clear(&m);
		zmq_msg_close(&type);
		zmq_msg_close(&payload);
		if (found)
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- main */

static bool crd_established(struct kclient *c)
{
	struct json_object *crd = NULL, *status, *conds;
	bool yes = false;
	if (kclient_get(c, CRD_PATH "/" CRD_NAME, &crd, NULL))
		return false;
	if (json_object_object_get_ex(crd, "status", &status) &&
	    json_object_object_get_ex(status, "conditions", &conds) && json_object_is_type(conds, json_type_array))
		for (size_t i = 0; i < json_object_array_length(conds); i++) {
			struct json_object *cnd = json_object_array_get_idx(conds, i), *t, *s;
			if (json_object_object_get_ex(cnd, "type", &t) &&
			    json_object_object_get_ex(cnd, "status", &s) &&
			    !strcmp(json_object_get_string(t), "Established") &&
			    !strcmp(json_object_get_string(s), "True"))
				yes = true;
		}
	json_object_put(crd);
	return yes;
}

static void parent_body(char *buf, size_t len, int i)
{
	snprintf(buf, len,
		 "{\"apiVersion\":\"" GROUP "/v1\",\"kind\":\"BenchParent\",\"metadata\":{\"name\":\"p-%05d\","
		 "\"labels\":{\"app\":\"bench\"}},\"spec\":{\"title\":\"parent number %d\",\"replicas\":1}}",
		 i, i);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("COXSWAIN_CLUSTER_DIR");
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	if (!dir || n <= 0) {
		fprintf(stderr, "usage: COXSWAIN_CLUSTER_DIR=.cluster bench_watcher [parents]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getenv("BENCH_V"))
		log_set_verbosity(atoi(getenv("BENCH_V")));
	curl_global_init(CURL_GLOBAL_DEFAULT);
	char kubeconfig[4096], endpoint[128];
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/admin.kubeconfig", dir);
	struct cx_err err = { 0 };
	struct kubeconfig *kc = NULL;
	kubeconfig_load(kubeconfig, &kc, &err);
	if (!kc || kubeconfig_restconfig(kc, NULL, &rc, &err))
		die("kubeconfig: %s", err.msg);
	kubeconfig_free(&kc);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/bench_watcher.XXXXXX");
	if (!mkdtemp(tmpdir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/jobs.sock", tmpdir);

	struct kclient *c = client();
	/* A CRD left by an earlier run goes first (and its parents with it). */
	kclient_delete(c, CRD_PATH "/" CRD_NAME, NULL, NULL, NULL);
	for (int64_t until = clock_monotonic_ms() + 120000;
	     kclient_get(c, CRD_PATH "/" CRD_NAME, NULL, NULL) != -ENOENT;) {
		if (clock_monotonic_ms() > until)
			die("the CRD %s left by an earlier run is not going away", CRD_NAME);
		usleep(200 * 1000);
	}
	/* The namespace is kept between runs; one still terminating is waited for. */
	for (int64_t until = clock_monotonic_ms() + 120000;;) {
		err = (struct cx_err){ 0 };
		int r = create(c, "/api/v1/namespaces",
			       "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" NS "\"}}",
			       &err);
		if (r && r != -EEXIST)
			die("namespace: %s", err.msg);
		struct json_object *ns = NULL, *status, *phase;
		bool active = !kclient_get(c, "/api/v1/namespaces/" NS, &ns, NULL) &&
			json_object_object_get_ex(ns, "status", &status) &&
			json_object_object_get_ex(status, "phase", &phase) &&
			!strcmp(json_object_get_string(phase), "Active");
		json_object_put(ns);
		if (active)
			break;
		if (clock_monotonic_ms() > until)
			die("the namespace " NS " is not Active");
		usleep(500 * 1000);
	}

	start_watcher(endpoint, kubeconfig);
	worker_connect(endpoint);
	char *why = NULL;
	for (int64_t until = clock_monotonic_ms() + 30000;
	     !why || !strstr(why, "waiting for the CRD of BenchParent");) {
		free(why);
		if (clock_monotonic_ms() > until)
			die("the watcher does not say it waits for the CRD (see %s/watcher.log)", tmpdir);
		usleep(100 * 1000);
		why = http_get(readyz_url);
	}
	free(why);
	usleep(500 * 1000);
	long base_hwm, base_rss;
	watcher_memory(&base_hwm, &base_rss);

	/* CRD → first job. */
	int64_t t0 = clock_monotonic_ms();
	err = (struct cx_err){ 0 };
	if (create(c, CRD_PATH,
		   "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		   "\"metadata\":{\"name\":\"" CRD_NAME "\"},\"spec\":{\"group\":\"" GROUP
		   "\",\"scope\":\"Namespaced\","
		   "\"names\":{\"plural\":\"benchparents\",\"singular\":\"benchparent\",\"kind\":\"BenchParent\"},"
		   "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":"
		   "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}",
		   &err))
		die("CRD: %s", err.msg);
	while (!crd_established(c)) {
		if (clock_monotonic_ms() - t0 > 30000)
			die("the CRD is not Established after 30 s");
		usleep(5 * 1000);
	}
	int64_t t_established = clock_monotonic_ms();
	for (char *ready = NULL; !ready || strcmp(ready, "ok"); usleep(5 * 1000)) {
		free(ready);
		if (clock_monotonic_ms() - t0 > 30000)
			die("the watcher is not ready 30 s after the CRD was created (see %s/watcher.log)", tmpdir);
		ready = http_get(readyz_url);
		if (ready && !strcmp(ready, "ok")) {
			free(ready);
			break;
		}
	}
	int64_t t_ready = clock_monotonic_ms();
	char body[512];
	parent_body(body, sizeof(body), 0);
	for (int tries = 1;; tries++) {
		err = (struct cx_err){ 0 };
		if (!create(c, PARENTS, body, &err))
			break;
		if (getenv("BENCH_DEBUG"))
			fprintf(stderr, "try %d at %lld ms: %s\n", tries, (long long)(clock_monotonic_ms() - t0),
				err.msg);
		if (clock_monotonic_ms() - t0 > 30000)
			die("cannot create the first parent: %s", err.msg);
		usleep(5 * 1000);
	}
	int64_t t_parent = clock_monotonic_ms();
	if (!worker_wait_job("bench/" NS "/p-00000", 30000))
		die("no job for the first parent within 30 s (see %s/watcher.log)", tmpdir);
	int64_t t_job = clock_monotonic_ms();
	printf("bench_watcher: CRD created -> Established %lld ms -> watcher ready (CRD gate passed, cache synced) "
	       "%lld ms -> first parent created %lld ms -> its job at the worker %lld ms; CRD creation to first job: "
	       "%lld ms\n",
	       (long long)(t_established - t0), (long long)(t_ready - t_established), (long long)(t_parent - t_ready),
	       (long long)(t_job - t_parent), (long long)(t_job - t0));
	worker_close();
	for (int64_t until = clock_monotonic_ms() + 20000; metric("coxswain_workers") != 0;) {
		if (clock_monotonic_ms() > until)
			die("the watcher does not notice the worker left");
		usleep(100 * 1000);
	}

	/* n parents cached. */
	int64_t t_fill = clock_monotonic_ms();
	for (int i = 1; i < n; i++) {
		parent_body(body, sizeof(body), i);
		err = (struct cx_err){ 0 };
		if (create(c, PARENTS, body, &err))
			die("parent %d: %s", i, err.msg);
	}
	int64_t t_created = clock_monotonic_ms();
	double depth = 0;
	for (int64_t until = clock_monotonic_ms() + 120000;
	     (depth = metric("workqueue_depth{name=\"coxswain\"}")) < n - 1;) {
		if (clock_monotonic_ms() > until)
			die("the watcher queued %.0f of %d parents within 120 s", depth, n - 1);
		usleep(100 * 1000);
	}
	int64_t t_cached = clock_monotonic_ms();
	usleep(1000 * 1000);
	long hwm, rss;
	watcher_memory(&hwm, &rss);
	printf("bench_watcher: %d parents created in %.1f s, all queued by the watcher %.1f s after the last one\n", n,
	       (double)(t_created - t_fill) / 1000.0, (double)(t_cached - t_created) / 1000.0);
	printf("bench_watcher: watcher with %d parents cached: VmHWM %ld KiB, VmRSS %ld KiB; before the CRD existed: "
	       "VmHWM %ld KiB, VmRSS %ld KiB; %.2f KiB per parent (HWM)\n",
	       n, hwm, rss, base_hwm, base_rss, (double)(hwm - base_hwm) / n);

	/* The same parents, from a start-up LIST (pages of 500) instead of
	 * watch events one by one. */
	kill(watcher_pid, SIGTERM);
	waitpid(watcher_pid, NULL, 0);
	int64_t t_start = clock_monotonic_ms();
	start_watcher(endpoint, kubeconfig);
	for (int64_t until = clock_monotonic_ms() + 120000;
	     (depth = metric("workqueue_depth{name=\"coxswain\"}")) < n;) {
		if (clock_monotonic_ms() > until)
			die("the restarted watcher queued %.0f of %d parents within 120 s", depth, n);
		usleep(50 * 1000);
	}
	int64_t t_listed = clock_monotonic_ms();
	usleep(1000 * 1000);
	watcher_memory(&hwm, &rss);
	printf("bench_watcher: watcher started with %d parents in place: all cached and queued %.1f s after start; "
	       "VmHWM %ld KiB, VmRSS %ld KiB\n",
	       n, (double)(t_listed - t_start) / 1000.0, hwm, rss);
	kclient_free(&c);
	cleanup();
	restconfig_free(&rc);
	curl_global_cleanup();
	return 0;
}

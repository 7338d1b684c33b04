/* Hook latency per call: the same sync logic (the Widget test hook,
 * tests/e2e/data/worker/widget_hook.py) as an exec hook (a python3 per
 * call), a persistent exec hook (widget_persistent.py: one python3, one
 * line per request), a webhook (widget_webhook.py, the Python webhook
 * fixture: one HTTP POST per call) and a jq hook (the same answer from a jq
 * program, in-process), each called through hook_run as a worker calls it.
 * Prints per hook: calls, mean, p50 and p99 latency in ms, calls/s, and the
 * ratio of the persistent hook's throughput to the webhook's.
 *
 *   tests/bench/bench_hooks [CALLS]        (default 300; run from anywhere)
 *
 * PYTHON (default python3) is the interpreter of all three Python hooks
 * (a pyenv shim adds a few hundred ms to every exec call: give a real one).
 *
 * A figure, not a test: nothing is asserted on time. Build without
 * sanitizers for figures worth quoting. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "hook.h"

#define DATA TEST_SRC_DIR "/tests/e2e/data/worker/"

extern char **environ;

static const struct hook_child_kind KINDS[] = { { "v1", "ConfigMap" } };

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static struct json_object *request(int i)
{
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"apiVersion\": \"e2e.coxswain.io/v1\", \"kind\": \"Widget\", \"metadata\": {\"name\": \"w%d\", "
		 "\"namespace\": \"default\", \"uid\": \"0000-%d\", \"generation\": 1}, "
		 "\"spec\": {\"behavior\": \"ok\", \"value\": \"value %d\"}}",
		 i, i, i);
	struct json_object *parent = json_tokener_parse(buf);
	struct json_object *controller = json_tokener_parse("{\"name\": \"widgets\"}");
	struct cx_err err = { 0 };
	struct json_object *req = NULL;
	hook_request_new(controller, parent, KINDS, 1, NULL, false, HOOK_V1, &req, &err);
	json_object_put(parent);
	json_object_put(controller);
	if (!req) {
		fprintf(stderr, "bench_hooks: %s\n", err.msg);
		exit(1);
	}
	return req;
}

/* Calls def n times (after 3 warm-up calls); fills *mean, *p50, *p99. */
static int measure(const char *what, const struct hook_def *def, int n, double *per_s)
{
	double *ms = calloc((size_t)n, sizeof(*ms));
	if (!ms)
		return -ENOMEM;
	for (int i = -3; i < n; i++) {
		struct json_object *req = request(i < 0 ? 1000 + i : i);
		struct hook_result r;
		struct cx_err err = { 0 };
		double t0 = clock_monotonic_s() * 1e3;
		int rc = hook_run(def, req, false, KINDS, 1, "default", &r, &err);
		double t = clock_monotonic_s() * 1e3 - t0;
		hook_result_clear(&r);
		json_object_put(req);
		if (rc) {
			fprintf(stderr, "bench_hooks: %s: call %d: %s\n", what, i, err.msg);
			free(ms);
			return rc;
		}
		if (i >= 0)
			ms[i] = t;
	}
	double sum = 0;
	for (int i = 0; i < n; i++)
		sum += ms[i];
	qsort(ms, (size_t)n, sizeof(*ms), cmp);
	*per_s = 1000.0 * n / sum;
	printf("%-20s %6d %9.2f %9.2f %9.2f %10.1f\n", what, n, sum / n, ms[n / 2], ms[(n * 99) / 100], *per_s);
	fflush(stdout);
	free(ms);
	return 0;
}

static char *python(void)
{
	char *p = getenv("PYTHON");
	return p && *p ? p : "python3";
}

/* Starts the webhook fixture; its URL into url. Returns its pid, or -1. */
static pid_t start_webhook(char *url, size_t len)
{
	char port_file[] = "/tmp/bench-hooks-port.XXXXXX";
	int fd = mkstemp(port_file);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(port_file);
	char *argv[] = { python(), DATA "widget_webhook.py", "--port-file", port_file, NULL };
	pid_t pid;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ))
		return -1;
	for (int i = 0; i < 3000; i++) {
		FILE *f = fopen(port_file, "r");
		int port = 0;
		if (f) {
			int got = fscanf(f, "%d", &port);
			fclose(f);
			if (got == 1 && port > 0) {
				unlink(port_file);
				snprintf(url, len, "http://127.0.0.1:%d/sync", port);
				return pid;
			}
		}
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 300;
	if (n < 10) {
		fprintf(stderr, "usage: bench_hooks [CALLS >= 10]\n");
		return 2;
	}
	char *exec_argv[] = { python(), DATA "widget_hook.py", NULL };
	char *persistent_argv[] = { python(), DATA "widget_persistent.py", NULL };
	char url[128];
	pid_t web = start_webhook(url, sizeof(url));
	if (web < 0) {
		fprintf(stderr, "bench_hooks: cannot start the webhook fixture\n");
		return 1;
	}
	struct hook_def exec_def = { .type = HOOK_EXEC, .argv = exec_argv, .timeout_ms = 30000 };
	struct hook_def persistent_def = { .type = HOOK_EXEC,
					   .argv = persistent_argv,
					   .timeout_ms = 30000,
					   .persistent = true,
					   .controller = "widgets" };
	struct hook_def web_def = { .type = HOOK_WEBHOOK, .url = url, .timeout_ms = 30000, .controller = "widgets" };
	struct hook_def jq_def = { .type = HOOK_JQ,
				   .controller = "widgets",
				   .jq_program = "{status: {value: .parent.spec.value, children: 1}, children: "
						 "[{apiVersion: \"v1\", kind: \"ConfigMap\", "
						 "metadata: {name: .parent.metadata.name}, data: {value: "
						 ".parent.spec.value, behavior: \"ok\"}}], "
						 "resyncAfterSeconds: 0}" };
	printf("%-20s %6s %9s %9s %9s %10s\n", "hook", "calls", "mean_ms", "p50_ms", "p99_ms", "calls/s");
	double exec_s = 0, persistent_s = 0, web_s = 0, jq_s = 0;
	int rc = measure("exec (python3)", &exec_def, n / 5 > 10 ? n / 5 : 10, &exec_s) ||
		measure("persistent (python3)", &persistent_def, n, &persistent_s) ||
		measure("webhook (python3)", &web_def, n, &web_s) || measure("jq (in-process)", &jq_def, n, &jq_s);
	kill(web, SIGTERM);
	waitpid(web, NULL, 0);
	hook_reset();
	hook_webhook_reset();
	if (rc)
		return 1;
	printf("persistent/webhook throughput: %.2f; persistent/exec: %.1f; jq/webhook: %.1f\n", persistent_s / web_s,
	       persistent_s / exec_s, jq_s / web_s);
	return 0;
}

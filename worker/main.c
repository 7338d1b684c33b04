/* coxswain-worker: the worker supervisor. It forks --workers worker
 * processes (one per slot) and keeps them running; each worker runs
 * worker_run. The supervisor itself has no ZeroMQ context, curl handle or
 * thread: only the configuration, parsed before the first fork. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliflags.h"
#include "cxconfig.h"
#include "err.h"
#include "hook.h"
#include "log.h"
#include "proto.h"
#include "supervisor.h"
#include "worker.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coxswain-worker --config FILE [flags]\n"
		"\n"
		"  --config FILE          coxswain.yaml (the same file the watcher reads)\n"
		"  --workers N            worker processes (default: $COXSWAIN_WORKERS, else the config's "
		"worker.count,\n"
		"                         else one per CPU)\n"
		"  --endpoint URL         the watcher's endpoint instead of the config's\n"
		"  --worker-set NAME      this supervisor's worker set, when several supervisors serve one watcher\n"
		"                         (one per pod: give each its pod's name); default: the local set\n"
		"  --drain-timeout SECS   on SIGTERM, SIGINT or SIGHUP, let workers finish their job this long, then\n"
		"                         SIGKILL them (default 25)\n"
		"  --kube-api-qps QPS     each worker's API requests a second, or -1 for no client-side limit\n"
		"                         (default: the config's worker.kubeApiQPS, else no limit)\n"
		"  --kube-api-burst N     requests allowed at once above the QPS (default: worker.kubeApiBurst, else "
		"10)\n"
		"  --kubeconfig FILE      instead of KUBECONFIG, ~/.kube/config or in-cluster\n"
		"  --context NAME         kubeconfig context instead of current-context\n"
		"  --namespace NS         instead of the context's namespace\n"
		"  -v, --v N              log verbosity (0 default, 2 every reconcile, 4 hooks, 6 every request);\n"
		"                         -v 4, -v=4 and --v=4 alike\n"
		"  --log-format FMT       text (default) or json\n"
		"  --version              print the version and exit\n"
		"  -h, --help             this text\n");
}

/* --workers and $COXSWAIN_WORKERS: 1 to CONFIG_MAX_WORKERS. */
static int parse_workers(const char *what, const char *s, int *out)
{
	struct cx_err err = { 0 };
	int r = cliflags_parse_int(what, s, 1, CONFIG_MAX_WORKERS, NULL, out, &err);
	if (r)
		fprintf(stderr, "coxswain-worker: %s\n", err.msg);
	return r;
}

/* The job channel's rules and keys, checked before the first fork: a
 * missing or bad key file is one clear error, not a restart loop. */
static int load_channel(const struct config *cfg, const char *endpoint, struct worker_curve *curve, struct cx_err *err)
{
	int r = config_channel_check(cfg, endpoint, false, err);
	if (r || !cfg->worker_curve_secret_key_file)
		return r;
	if ((r = curvekey_load_secret(cfg->worker_curve_secret_key_file, &curve->secret, &curve->public, err)) ||
	    (r = curvekey_load_public(cfg->worker_curve_server_key_file, &curve->server, err)))
		return cx_err_wrap(err, r, "config %s: worker.curve: ", cfg->path);
	return 0;
}

static int run_worker(void *ud, const struct supervisor_child *c)
{
	struct worker_options o = *(const struct worker_options *)ud;
	o.slot = c->slot;
	o.parent_pipe_fd = c->parent_pipe_fd;
	o.instance = c->instance;
	o.restarts = c->restarts;
	return worker_run(&o);
}

int main(int argc, char **argv)
{
	enum { O_WORKERS = CLIFLAG_END, O_VERSION, O_SET };
	static const struct option opts[] = {
		CLIFLAGS_OPTIONS,
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "worker-set", required_argument, NULL, O_SET },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct worker_options wo = { .parent_pipe_fd = -1 };
	struct cliflags fl;
	struct cx_err err = { 0 };
	int workers = 0;
	cliflags_init(&fl);
	for (int c; (c = cliflags_next(&fl, "coxswain-worker", argc, argv, "h" CLIFLAGS_SHORT, opts, stderr)) != -1;) {
		switch (c) {
		case CLIFLAGS_BAD:
			return 2;
		case O_WORKERS:
			if (parse_workers("--workers", optarg, &workers))
				return 2;
			break;
		case O_SET:
			if (!proto_set_valid(optarg)) {
				fprintf(stderr,
					"coxswain-worker: --worker-set: expected up to %d letters, digits, '-' or '.' "
					"(a pod's name), got \"%s\"\n",
					PROTO_SET_MAX, optarg);
				return 2;
			}
			wo.set = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("coxswain-worker %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	const char *config_path = fl.config;
	int drain_s = fl.drain_s;
	wo.endpoint = fl.endpoint;
	wo.conn = fl.conn;
	wo.qps = fl.qps;
	wo.burst = fl.burst;
	cliflags_apply_log(&fl);
	/* Checked here so that a typo stops the worker at once, not every hook call. */
	if (hook_connect_to_check(getenv(HOOK_CONNECT_TO_ENV), &err)) {
		fprintf(stderr, "coxswain-worker: %s\n", err.msg);
		return 2;
	}
	if (!config_path) {
		fprintf(stderr, "coxswain-worker: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	struct config *cfg;
	if (config_load_opts(config_path, true, &cfg, &err)) {
		log_kv(LOG_LEVEL_ERROR, 0, "invalid configuration", "error", err.msg, NULL);
		return 1;
	}
	struct worker_curve curve;
	if (load_channel(cfg, wo.endpoint ? wo.endpoint : cfg->endpoint, &curve, &err)) {
		log_kv(LOG_LEVEL_ERROR, 0, "cannot connect to the watcher", "error", err.msg, NULL);
		config_free(&cfg);
		return 1;
	}
	if (cfg->worker_curve_secret_key_file)
		wo.curve = &curve;
	const char *env = getenv("COXSWAIN_WORKERS");
	if (!workers && env && *env && parse_workers("COXSWAIN_WORKERS", env, &workers)) {
		config_free(&cfg);
		return 2;
	}
	if (!workers)
		workers = cfg->worker_count;
	if (!workers) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		workers = cpus > 0 ? (int)cpus : 1;
	}
	wo.config = cfg;
	struct supervisor_options so;
	supervisor_options_init(&so);
	so.workers = workers;
	so.child = run_worker;
	so.ud = &wo;
	if (drain_s >= 0)
		so.drain_timeout_ms = (long)drain_s * 1000;
	struct supervisor *s;
	int r = supervisor_new(&so, &s, &err);
	if (!r)
		r = supervisor_run(s, &err);
	if (r)
		log_kv(LOG_LEVEL_ERROR, 0, "coxswain-worker failed", "error", err.msg, NULL);
	supervisor_free(&s);
	config_free(&cfg);
	explicit_bzero(&curve, sizeof(curve));
	return r ? 1 : 0;
}

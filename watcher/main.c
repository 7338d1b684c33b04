/* coxswain-watcher: flags, configuration, then watcher_run. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cliflags.h"
#include "curvekey.h"
#include "cxconfig.h"
#include "err.h"
#include "informer.h"
#include "log.h"
#include "watcher.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: coxswain-watcher --config FILE [flags]\n"
		"       coxswain-watcher --check-config FILE\n"
		"       coxswain-watcher --curve-keygen PREFIX\n"
		"\n"
		"  --config FILE          coxswain.yaml (controllers, hooks, endpoints)\n"
		"  --check-config FILE    validate FILE, print what is wrong, exit 0 or 1\n"
		"  --curve-keygen PREFIX  write a new CURVE key pair for the job channel as PREFIX.key (secret, 0600)\n"
		"                         and PREFIX.pub; never overwrites a file\n"
		"  --kubeconfig FILE      instead of KUBECONFIG, ~/.kube/config or in-cluster\n"
		"  --context NAME         kubeconfig context instead of current-context\n"
		"  --namespace NS         instead of the context's namespace\n"
		"  --endpoint URL         worker endpoint (ipc://... or tcp://host:port) instead of the config's\n"
		"  --leader-elect BOOL    take part in leader election (default: the config's, true)\n"
		"  --drain-timeout SECS   on SIGTERM, SIGINT or SIGHUP, wait this long for jobs in flight (default "
		"25);\n"
		"                         a supervisor started by --spawn-workers gets it too\n"
		"  --kube-api-qps QPS     the API client's requests a second, or -1 for no client-side limit\n"
		"                         (default: the config's watcher.kubeApiQPS, else no limit);\n"
		"                         a supervisor started by --spawn-workers gets it too\n"
		"  --kube-api-burst N     requests allowed at once above the QPS (default: watcher.kubeApiBurst,\n"
		"                         else 10); a supervisor started by --spawn-workers gets it too\n"
		"  --initial-list HOW     how the caches are filled: stream (a streaming list, LIST where the API\n"
		"                         server refuses it) or list (paginated LIST); default: the config's\n"
		"                         watcher.initialList, else list\n"
		"  --spawn-workers N      also run the worker supervisor with N workers, as a child process\n"
		"  --metacontroller-manifests FILE|DIR\n"
		"                         also run the CompositeController and DecoratorController definitions there\n"
		"                         (multi-document YAML; a directory's *.yaml, *.yml, *.json); the config's\n"
		"                         controllers list may then be empty\n"
		"  --metacontroller-live  also run the CompositeControllers and DecoratorControllers of the cluster\n"
		"                         (metacontroller.k8s.io/v1alpha1), started, changed and stopped as they are\n"
		"  --metacontroller-selector SELECTOR\n"
		"                         with --metacontroller-live, only the controller objects whose labels match\n"
		"                         SELECTOR (a label selector: \"coxswain.io/runtime=coxswain\"), so that\n"
		"                         metacontroller runs the others\n"
		"  -v, --v N              log verbosity (0 default, 2 steady-state detail, 4 debug, 6 every request);\n"
		"                         -v 4, -v=4 and --v=4 alike\n"
		"  --log-format FMT       text (default) or json\n"
		"  --version              print the version and exit\n"
		"  -h, --help             this text\n");
}

static int parse_bool(const char *flag, const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(s, "false") || !strcmp(s, "0")) {
		*out = false;
		return 0;
	}
	fprintf(stderr, "coxswain-watcher: %s: expected true or false, got \"%s\"\n", flag, s);
	return -EINVAL;
}

/* coxswain-worker is installed next to coxswain-watcher; in the build tree
 * it is in ../worker/. */
static int worker_binary(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -errno;
	self[n] = '\0';
	const char *dir = dirname(self);
	const char *places[] = { "", "/../worker" };
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		int w = snprintf(buf, len, "%s%s/coxswain-worker", dir, places[i]);
		if (w > 0 && (size_t)w < len && access(buf, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

int main(int argc, char **argv)
{
	enum {
		O_CHECK = CLIFLAG_END,
		O_LEADER,
		O_SPAWN,
		O_VERSION,
		O_KEYGEN,
		O_MC_MANIFESTS,
		O_MC_LIVE,
		O_MC_SELECTOR,
		O_INITIAL_LIST
	};
	static const struct option opts[] = {
		CLIFLAGS_OPTIONS,
		{ "check-config", required_argument, NULL, O_CHECK },
		{ "curve-keygen", required_argument, NULL, O_KEYGEN },
		{ "leader-elect", required_argument, NULL, O_LEADER },
		{ "spawn-workers", required_argument, NULL, O_SPAWN },
		{ "initial-list", required_argument, NULL, O_INITIAL_LIST },
		{ "metacontroller-manifests", required_argument, NULL, O_MC_MANIFESTS },
		{ "metacontroller-live", no_argument, NULL, O_MC_LIVE },
		{ "metacontroller-selector", required_argument, NULL, O_MC_SELECTOR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	const char *check = NULL;
	enum informer_initial_list initial_list = INFORMER_INITIAL_DEFAULT;
	struct watcher_options o = { 0 };
	struct cliflags fl;
	struct cx_err err = { 0 };
	int spawn = -1;
	bool leader_set = false, leader = true;
	cliflags_init(&fl);
	for (int c; (c = cliflags_next(&fl, "coxswain-watcher", argc, argv, "h" CLIFLAGS_SHORT, opts, stderr)) != -1;) {
		switch (c) {
		case CLIFLAGS_BAD:
			return 2;
		case O_CHECK:
			check = optarg;
			break;
		case O_KEYGEN: {
			struct cx_err kerr = { 0 };
			if (curvekey_generate(optarg, &kerr)) {
				fprintf(stderr, "coxswain-watcher: --curve-keygen: %s\n", kerr.msg);
				return 1;
			}
			printf("wrote %s.key (secret) and %s.pub\n", optarg, optarg);
			return 0;
		}
		case O_LEADER:
			if (parse_bool("--leader-elect", optarg, &leader))
				return 2;
			leader_set = true;
			break;
		case O_SPAWN:
			if (cliflags_parse_int("--spawn-workers", optarg, 0, 1024, NULL, &spawn, &err)) {
				fprintf(stderr, "coxswain-watcher: %s\n", err.msg);
				return 2;
			}
			break;
		case O_INITIAL_LIST:
			if (!strcmp(optarg, "stream") || !strcmp(optarg, "list")) {
				initial_list = optarg[0] == 's' ? INFORMER_INITIAL_STREAM : INFORMER_INITIAL_LIST;
				break;
			}
			fprintf(stderr, "coxswain-watcher: --initial-list: expected stream or list, got \"%s\"\n",
				optarg);
			return 2;
		case O_MC_MANIFESTS:
			o.mc_manifests = optarg;
			break;
		case O_MC_LIVE:
			o.mc_live = true;
			break;
		case O_MC_SELECTOR:
			o.mc_selector = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			printf("coxswain-watcher %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	const char *config_path = fl.config, *log_format = fl.log_format, *qps_arg = fl.qps_arg,
		   *burst_arg = fl.burst_arg;
	int verbosity = fl.verbosity;
	o.conn = fl.conn;
	o.endpoint = fl.endpoint;
	o.drain_timeout_s = fl.drain_s < 0 ? 0 : fl.drain_s;
	o.qps = fl.qps;
	o.burst = fl.burst;
	if (o.mc_selector && (!o.mc_live || !*o.mc_selector)) {
		fprintf(stderr, "coxswain-watcher: --metacontroller-selector: %s\n",
			o.mc_live ? "expected a label selector, got \"\""
				  : "needs --metacontroller-live (it selects "
				    "the controller objects of the cluster)");
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "coxswain-watcher: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	cliflags_apply_log(&fl);
	if (check) {
		struct config *cfg;
		if (config_load(check, &cfg, &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		printf("%s: ok (%zu controller%s)\n", check, cfg->n_controllers, cfg->n_controllers == 1 ? "" : "s");
		config_free(&cfg);
		return 0;
	}
	if (!config_path) {
		fprintf(stderr, "coxswain-watcher: --config FILE is required\n");
		usage(stderr);
		return 2;
	}
	/* With metacontroller definitions, they may bring every controller. */
	struct config *cfg;
	if (config_load_opts(config_path, o.mc_manifests || o.mc_live, &cfg, &err)) {
		log_kv(LOG_LEVEL_ERROR, 0, "invalid configuration", "error", err.msg, NULL);
		return 1;
	}
	o.config = cfg;
	if (initial_list == INFORMER_INITIAL_DEFAULT)
		initial_list = cfg->initial_list == CONFIG_INITIAL_LIST_STREAM ? INFORMER_INITIAL_STREAM
									       : INFORMER_INITIAL_LIST;
	informer_set_initial_list(initial_list);
	o.leader_elect = leader_set ? leader : cfg->leader_election;

	char worker[PATH_MAX], count[16], vbuf[16], drain[16];
	char *wargv[28];
	if (spawn >= 0) {
		if (worker_binary(worker, sizeof(worker))) {
			log_kv(LOG_LEVEL_ERROR, 0, "cannot find coxswain-worker next to coxswain-watcher", NULL);
			config_free(&cfg);
			return 1;
		}
		int n = 0;
		snprintf(count, sizeof(count), "%d", spawn);
		snprintf(vbuf, sizeof(vbuf), "%d", verbosity);
		wargv[n++] = worker;
		wargv[n++] = "--config";
		wargv[n++] = (char *)config_path;
		wargv[n++] = "-v";
		wargv[n++] = vbuf;
		if (spawn > 0) {
			wargv[n++] = "--workers";
			wargv[n++] = count;
		}
		if (o.endpoint) {
			wargv[n++] = "--endpoint";
			wargv[n++] = (char *)o.endpoint;
		}
		if (o.conn.kubeconfig) {
			wargv[n++] = "--kubeconfig";
			wargv[n++] = (char *)o.conn.kubeconfig;
		}
		if (o.conn.context) {
			wargv[n++] = "--context";
			wargv[n++] = (char *)o.conn.context;
		}
		if (o.conn.namespace) {
			wargv[n++] = "--namespace";
			wargv[n++] = (char *)o.conn.namespace;
		}
		if (log_format) {
			wargv[n++] = "--log-format";
			wargv[n++] = (char *)log_format;
		}
		if (o.drain_timeout_s > 0) { /* else the supervisor's default, the same 25 s */
			snprintf(drain, sizeof(drain), "%d", o.drain_timeout_s);
			wargv[n++] = "--drain-timeout";
			wargv[n++] = drain;
		}
		if (qps_arg) {
			wargv[n++] = "--kube-api-qps";
			wargv[n++] = (char *)qps_arg;
		}
		if (burst_arg) {
			wargv[n++] = "--kube-api-burst";
			wargv[n++] = (char *)burst_arg;
		}
		wargv[n] = NULL;
		o.worker_argv = wargv;
	}
	int r = watcher_run(&o, &err);
	if (r)
		log_kv(LOG_LEVEL_ERROR, 0, "coxswain-watcher failed", "error", err.msg, NULL);
	config_free(&cfg);
	return r ? 1 : 0;
}

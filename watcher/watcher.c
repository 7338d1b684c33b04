#include "config.h"

#include "watcher.h"
#include "apireach.h"
#include "backoff.h"
#include "broker.h"
#include "clock.h"
#include "controller.h"
#include "curvekey.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "httpd.h"
#include "informer.h"
#include "kclient.h"
#include "kwatch.h"
#include "leader.h"
#include "log.h"
#include "mcdef.h"
#include "mcwatch.h"
#include "metrics.h"
#include "procmetrics.h"
#include "queuekey.h"
#include "relwatch.h"
#include "workqueue.h"

#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_DRAIN_TIMEOUT_S 25
/* The API calls around a hook (GET, applies, status, Events) get this much
 * time on top of the hook's own timeout before a job counts as lost. */
#define JOB_API_BUDGET_MS 60000
#define MAX_POLL          512
/* A controller past its CRD gate with no watch running for this long is
 * stuck (its reconnects keep failing): /healthz says so. */
#define STUCK_WATCHES_MS 120000
/* Readiness during an API server outage (controller-runtime's rule: ready =
 * able to do work): a controller whose list/watch attempts have all failed
 * for this long is not ready, nor is the watcher when the CRD cache's have. */
#define OUTAGE_NOT_READY_MS 10000

struct watcher {
	const struct watcher_options *o;
	const struct config *cfg;
	struct restconfig *rc;
	struct kclient *client;
	struct kwatch_mux *mux;
	struct discovery *disco;
	struct workqueue *queue;
	struct broker *broker;
	struct leader *leader;
	struct informer *crds;
	/* The running controllers: coxswain.yaml's, then metacontroller's as
	 * mcwatch starts and stops them. ctls[i] runs ccs[i] (borrowed from
	 * the config or from mcwatch) with metrics mcs[i]. */
	struct controller **ctls;
	const struct config_controller **ccs;
	struct metrics_controller *mcs;
	size_t n_ctls, cap_ctls;
	struct mcwatch *mcw;  /* NULL without --metacontroller-* */
	struct relwatch *rel; /* related objects of customize hooks */
	struct metrics *metrics;
	struct metrics_std std;
	struct metrics_workqueue mq;
	bool metrics_bound; /* setup_metrics ran: new controllers bind at once */
	struct httpd *health, *metrics_httpd;
	int sigfd;
	int stopfd; /* SIGTERM, SIGINT, SIGHUP only: polled by API calls, never read */
	pid_t supervisor;
	bool supervisor_died; /* it exited while we were not stopping: a failure */
	bool draining;
	int64_t drain_deadline_ms;
	int64_t watches_seen_ms; /* last time a watch was running (or none was needed) */
	char crd_error[CX_ERR_MSG_MAX];
	int crd_code;               /* of crd_error; 0 when none */
	struct backoff crd_backoff; /* between discovery attempts for the CRD kind */
	int64_t crd_next_ms;
	struct apireach reach; /* rate-limits "cannot reach the API server" */
};

static long min_ms(long a, long b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* ---------------------------------------------------------------- jobs */

/* The running controller a queue key names (watcher/queuekey.h), with the
 * parent's cache key in *rest (borrowed from key) and its index in *index
 * (may be NULL). NULL for a malformed key or a controller not running. */
static struct controller *controller_for_key(struct watcher *w, const char *key, const char **rest, size_t *index)
{
	struct queuekey k;
	if (!queuekey_parse(key, &k))
		return NULL;
	for (size_t i = 0; i < w->n_ctls; i++) {
		if (!strcmp(controller_name(w->ctls[i]), k.controller)) {
			*rest = k.object_key;
			if (index)
				*index = i;
			return w->ctls[i];
		}
	}
	return NULL;
}

static int job_for(void *ud, const char *key, struct json_object **parent, struct json_object **children,
		   int64_t *budget_ms)
{
	struct watcher *w = ud;
	const char *rest = NULL;
	size_t i = 0;
	struct controller *ctl = controller_for_key(w, key, &rest, &i);
	if (!ctl)
		return -ENOENT;
	const struct config_controller *cc = w->ccs[i];
	int hook_s = cc->sync.timeout_seconds;
	if (cc->finalize.set && cc->finalize.timeout_seconds > hook_s)
		hook_s = cc->finalize.timeout_seconds;
	*budget_ms = (int64_t)(hook_s + (cc->customize.set ? cc->customize.timeout_seconds : 0)) * 1000 +
		JOB_API_BUDGET_MS;
	int rc = controller_job_objects(ctl, rest, parent, children);
	if (rc == -ENOENT)
		relwatch_drop(w->rel, key); /* the parent is gone: so are its related rules */
	return rc;
}

/* A metacontroller-defined controller's jobs carry its definition: the
 * workers build the controller from it (worker/ctltable.h). */
static struct json_object *definition_for(void *ud, const char *key)
{
	struct watcher *w = ud;
	const char *rest = NULL;
	size_t i = 0;
	if (!controller_for_key(w, key, &rest, &i))
		return NULL;
	const struct config_controller *cc = w->ccs[i];
	return cc->origin == CONFIG_ORIGIN_METACONTROLLER ? json_object_get(cc->object) : NULL;
}

/* ---------------------------------------------------------------- controllers */

/* Starts a controller for cc (borrowed until stop_controller). -EEXIST when
 * a running controller has its name. */
static int start_controller(void *ud, const struct config_controller *cc, struct cx_err *err)
{
	struct watcher *w = ud;
	for (size_t i = 0; i < w->n_ctls; i++)
		if (!strcmp(w->ccs[i]->name, cc->name))
			return cx_err_set(err, -EEXIST,
					  "controller name \"%s\" is already used by %s; expected each "
					  "name once",
					  cc->name,
					  w->ccs[i]->origin == CONFIG_ORIGIN_FILE ? "a controller of the config file"
						  : w->ccs[i]->mc                 ? w->ccs[i]->mc->source
										  : "another definition");
	if (w->n_ctls == w->cap_ctls) {
		size_t cap = w->cap_ctls ? w->cap_ctls * 2 : 8;
		struct controller **c = realloc(w->ctls, cap * sizeof(*c));
		if (c)
			w->ctls = c;
		const struct config_controller **cc2 = c ? realloc(w->ccs, cap * sizeof(*cc2)) : NULL;
		if (cc2)
			w->ccs = cc2;
		struct metrics_controller *m = cc2 ? realloc(w->mcs, cap * sizeof(*m)) : NULL;
		if (!m)
			return cx_err_set(err, -ENOMEM, "out of memory");
		w->mcs = m;
		w->cap_ctls = cap;
	}
	struct controller_env env = { w->client, w->mux, w->disco, w->queue };
	struct controller *ctl;
	int r = controller_new(cc, &env, &ctl, err);
	if (r)
		return r;
	memset(&w->mcs[w->n_ctls], 0, sizeof(w->mcs[0]));
	if (w->metrics_bound && (r = metrics_controller_bind(&w->std, cc->name, &w->mcs[w->n_ctls]))) {
		controller_free(&ctl);
		return cx_err_set(err, r, "cannot set up metrics");
	}
	w->ctls[w->n_ctls] = ctl;
	w->ccs[w->n_ctls] = cc;
	w->n_ctls++;
	return 0;
}

/* Stops the controller named name: its informers go, and its queued keys
 * are dropped when they come up (job_for no longer knows them). */
static void stop_controller(void *ud, const char *name)
{
	struct watcher *w = ud;
	for (size_t i = 0; i < w->n_ctls; i++) {
		if (strcmp(w->ccs[i]->name, name))
			continue;
		controller_free(&w->ctls[i]);
		metrics_set(w->mcs[i].ready, 0);
		metrics_set(w->mcs[i].active, 0);
		size_t rest = w->n_ctls - i - 1;
		memmove(&w->ctls[i], &w->ctls[i + 1], rest * sizeof(*w->ctls));
		memmove(&w->ccs[i], &w->ccs[i + 1], rest * sizeof(*w->ccs));
		memmove(&w->mcs[i], &w->mcs[i + 1], rest * sizeof(*w->mcs));
		w->n_ctls--;
		return;
	}
}

/* The broker's gate: no job for a controller before its parent and child
 * caches have synced, lest a hook see an existing child as missing. */
static bool may_dispatch(void *ud, const char *key)
{
	struct watcher *w = ud;
	const char *rest = NULL;
	struct controller *ctl = controller_for_key(w, key, &rest, NULL);
	return !ctl || controller_ready(ctl); /* an unknown key is dropped by job_for */
}

static void on_result(void *ud, const char *controller, const char *outcome, double seconds)
{
	struct watcher *w = ud;
	for (size_t i = 0; i < w->n_ctls; i++) {
		if (strcmp(controller_name(w->ctls[i]), controller))
			continue;
		enum metrics_result r = !strcmp(outcome, "success") ? METRICS_RESULT_SUCCESS
			: !strcmp(outcome, "requeue")               ? METRICS_RESULT_REQUEUE
			: !strcmp(outcome, "requeue_after")         ? METRICS_RESULT_REQUEUE_AFTER
								    : METRICS_RESULT_ERROR;
		metrics_controller_reconciled(&w->mcs[i], r, seconds);
	}
}

/* The broker's job observer: a controller holds its parents' watch events
 * while their jobs run, and drops those that echo the jobs' own writes
 * (watcher/echo.h). */
static void job_started(void *ud, const char *key)
{
	struct watcher *w = ud;
	const char *rest = NULL;
	struct controller *ctl = controller_for_key(w, key, &rest, NULL);
	if (ctl)
		controller_job_started(ctl, rest);
}

static void job_finished(void *ud, const char *key, struct json_object *writes)
{
	struct watcher *w = ud;
	const char *rest = NULL;
	struct controller *ctl = controller_for_key(w, key, &rest, NULL);
	if (ctl)
		controller_job_finished(ctl, rest, writes);
}

static void on_related(void *ud, const char *key, struct json_object *rules)
{
	struct watcher *w = ud;
	struct cx_err err = { 0 };
	if (relwatch_set(w->rel, key, rules, &err))
		log_kv(LOG_LEVEL_WARNING, 0, "ignoring a worker's related rules", "key", key, "error", err.msg, NULL);
}

/* A worker's counts (its STATS) added to the watcher's own series of the
 * same family and labels: /metrics is the sum over every process. */
static void on_worker_counter(void *ud, const char *family, const char *const *labels, const char *const *values,
			      uint64_t delta)
{
	struct watcher *w = ud;
	int r = metrics_rest_wait_from_worker(&w->std, family, values, delta);
	if (r == -ENOENT)
		r = metrics_add_by_name(w->metrics, family, labels, values, (double)delta);
	if (r == -EINVAL)
		log_kv(LOG_LEVEL_WARNING, 2, "a worker's counter does not fit the watcher's family", "family", family,
		       NULL);
}

/* ---------------------------------------------------------------- leader */

static void started_leading(void *ud)
{
	struct watcher *w = ud;
	log_kv(LOG_LEVEL_INFO, 0, "became the leader", "identity", leader_identity(w->leader), NULL);
	if (!w->draining)
		broker_set_dispatching(w->broker, true);
}

static void stopped_leading(void *ud)
{
	struct watcher *w = ud;
	log_kv(LOG_LEVEL_WARNING, 0, "no longer the leader: dispatching stops", NULL);
	broker_set_dispatching(w->broker, false);
}

static void new_leader(void *ud, const char *identity)
{
	(void)ud;
	log_kv(LOG_LEVEL_INFO, 0, "leader observed", "identity", identity, NULL);
}

/* ---------------------------------------------------------------- health */

static bool crds_synced(const struct watcher *w)
{
	return w->crds && informer_synced(w->crds);
}

/* Appends "; " (after the first) and text to why (cap bytes), truncating. */
static void why_append(char *why, size_t cap, const char *text)
{
	size_t len = strlen(why);
	if (len + 1 < cap)
		snprintf(why + len, cap - len, "%s%s", len ? "; " : "", text);
}

/* Ready = able to do work: the CRD cache and every controller's caches have
 * synced, and none has seen only failed API calls for OUTAGE_NOT_READY_MS.
 * why names every controller that is not ready, with the API error. */
static bool is_ready(void *ud, char *why, size_t cap)
{
	struct watcher *w = ud;
	char one[CX_ERR_MSG_MAX + 600];
	int64_t now = clock_monotonic_ms();
	why[0] = '\0';
	if (!crds_synced(w)) {
		snprintf(why, cap, "waiting for the CRD cache%s%s", w->crd_error[0] ? ": " : "", w->crd_error);
		return false;
	}
	if (w->mcw && !mcwatch_ready(w->mcw, one, sizeof(one)))
		why_append(why, cap, one);
	int64_t since = informer_failing_since(w->crds);
	if (since >= 0 && now - since >= OUTAGE_NOT_READY_MS) {
		snprintf(one, sizeof(one), "the CRD cache: every API call failed for %lld s: %s",
			 (long long)((now - since) / 1000), informer_last_error(w->crds));
		why_append(why, cap, one);
	}
	for (size_t i = 0; w->ctls && i < w->n_ctls; i++) {
		char failing[CX_ERR_MSG_MAX + 300];
		if (!w->ctls[i])
			continue;
		if (!controller_ready(w->ctls[i]))
			snprintf(one, sizeof(one), "controller %s: %s", controller_name(w->ctls[i]),
				 controller_waiting_for(w->ctls[i]));
		else if (controller_failing(w->ctls[i], now, OUTAGE_NOT_READY_MS, failing, sizeof(failing)))
			snprintf(one, sizeof(one), "controller %s: %s", controller_name(w->ctls[i]), failing);
		else
			continue;
		why_append(why, cap, one);
	}
	return why[0] == '\0';
}

static bool is_healthy(void *ud, char *why, size_t cap)
{
	struct watcher *w = ud;
	if (clock_monotonic_ms() - w->watches_seen_ms > STUCK_WATCHES_MS) {
		snprintf(why, cap, "no watch has been running for %d s although controllers need them",
			 STUCK_WATCHES_MS / 1000);
		return false;
	}
	return true;
}

static void collect(void *ud)
{
	struct watcher *w = ud;
	struct workqueue_stats st;
	workqueue_stats(w->queue, &st);
	metrics_set(w->mq.depth, (double)st.depth);
	metrics_set(w->mq.adds, (double)st.adds_total);
	metrics_set(w->mq.retries, (double)st.retries_total);
	metrics_set(metrics_labels(w->std.workers, NULL), (double)broker_workers(w->broker));
	metrics_set(metrics_labels(w->std.worker_restarts_total, NULL), (double)broker_worker_restarts(w->broker));
	metrics_set(metrics_labels(w->std.poisoned_objects, NULL), (double)broker_poisoned(w->broker));
	metrics_set(metrics_labels(w->std.worker_refusals_total, NULL), (double)broker_refusals(w->broker));
	metrics_set(metrics_labels(w->std.auth_failures_total, NULL), (double)broker_auth_refusals(w->broker));
	for (int r = 0; r < BROKER_JOB_LOSS_N; r++)
		metrics_set(metrics_labels(w->std.jobs_lost_total, broker_loss_name(r), NULL),
			    (double)broker_losses_by(w->broker, r));
	if (w->leader)
		metrics_set(metrics_labels(w->std.leader, w->cfg->lease_name, NULL), leader_is_leader(w->leader));
	for (size_t i = 0; i < w->n_ctls; i++) {
		metrics_set(w->mcs[i].ready, controller_ready(w->ctls[i]));
		metrics_set(w->mcs[i].active, (double)broker_busy_for(w->broker, controller_name(w->ctls[i])));
		metrics_set(w->mcs[i].echo_dropped, (double)controller_echo_dropped(w->ctls[i]));
		metrics_set(w->mcs[i].echo_pending, (double)controller_echo_pending(w->ctls[i]));
	}
}

/* ---------------------------------------------------------------- set-up */

/* The supervisor must die with us, also when we are SIGKILLed: a
 * supervisor left behind keeps its workers connected to the endpoint, where
 * the next watcher's own workers would meet them. PR_SET_PDEATHSIG(SIGTERM)
 * survives exec and makes it drain when we die; getppid() afterwards
 * catches a death before prctl took effect. */
static int start_supervisor(struct watcher *w, struct cx_err *err)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return cx_err_set(err, -errno, "cannot fork the worker supervisor: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(w->o->worker_argv[0], w->o->worker_argv);
		fprintf(stderr, "coxswain-watcher: cannot run %s: %s\n", w->o->worker_argv[0], strerror(errno));
		_exit(127);
	}
	w->supervisor = pid;
	log_kv(LOG_LEVEL_INFO, 0, "started the worker supervisor", "command", w->o->worker_argv[0], NULL);
	return 0;
}

static void stop_supervisor(struct watcher *w)
{
	if (w->supervisor <= 0)
		return;
	kill(w->supervisor, SIGTERM);
	/* It was given our drain timeout (--drain-timeout): a little more than
	 * that, then SIGKILL. */
	int timeout_s = w->o->drain_timeout_s > 0 ? w->o->drain_timeout_s : DEFAULT_DRAIN_TIMEOUT_S;
	for (int i = 0; i < (timeout_s + 5) * 10; i++) {
		if (waitpid(w->supervisor, NULL, WNOHANG) == w->supervisor) {
			w->supervisor = 0;
			return;
		}
		usleep(100 * 1000);
	}
	kill(w->supervisor, SIGKILL);
	waitpid(w->supervisor, NULL, 0);
	w->supervisor = 0;
}

/* The informers' relists and watch restarts, by collection path. */
static void count_restart(void *ud, const char *path, enum informer_restart what)
{
	struct watcher *w = ud;
	metrics_inc(metrics_labels(what == INFORMER_RELIST ? w->std.relists_total : w->std.watch_restarts_total, path,
				   NULL));
}

static int setup_metrics(struct watcher *w, struct cx_err *err)
{
	int r;
	if (!(w->metrics = metrics_new()))
		return cx_err_set(err, -ENOMEM, "cannot set up metrics");
	if ((r = metrics_std_register(w->metrics, &w->std, err)) || (r = procmetrics_register(w->metrics, err)))
		return cx_err_wrap(err, r, "cannot set up metrics: ");
	if ((r = metrics_workqueue_bind(&w->std, workqueue_name(w->queue), &w->mq)))
		return cx_err_set(err, r, "cannot set up metrics");
	for (size_t i = 0; i < w->n_ctls; i++)
		if ((r = metrics_controller_bind(&w->std, w->ccs[i]->name, &w->mcs[i])))
			return cx_err_set(err, r, "cannot set up metrics");
	w->metrics_bound = true;
	workqueue_set_observer(
		w->queue, &(struct workqueue_observer){ metrics_workqueue_queue_wait, metrics_workqueue_work, &w->mq });
	kclient_set_request_observer(w->client, metrics_rest_request, &w->std);
	kclient_set_wait_observer(w->client, metrics_rest_wait, &w->std);
	informer_set_observer(count_restart, w);
	return metrics_add_collector(w->metrics, collect, w);
}

/* The ud of metrics_render_cb is the registry; httpd passes w. */
static int render_metrics(void *ud, char **text, size_t *len)
{
	struct watcher *w = ud;
	if (!w->metrics || !w->broker)
		return -EAGAIN; /* still setting up */
	return metrics_render(w->metrics, text, len);
}

/* The HTTP daemons come first, before anything that may wait on the API
 * server: /healthz and /readyz must answer from the first second. */
static int setup_httpd(struct watcher *w, struct cx_err *err)
{
	const struct config *cfg = w->cfg;
	struct httpd_handlers h = { is_healthy, is_ready, render_metrics };
	bool shared = !strcmp(cfg->health_address, cfg->metrics_address);
	struct httpd_handlers health_only = { is_healthy, is_ready, NULL },
			      metrics_only = { NULL, NULL, render_metrics };
	int r = httpd_new(cfg->health_address, shared ? &h : &health_only, w, &w->health, err);
	if (!r && !shared)
		r = httpd_new(cfg->metrics_address, &metrics_only, w, &w->metrics_httpd, err);
	return r;
}

static int setup(struct watcher *w, struct cx_err *err)
{
	const struct config *cfg = w->cfg;
	int r;
	struct backoff_params crd_retry = BACKOFF_WATCH_RECONNECT;
	apireach_init(&w->reach, 0);
	if ((r = backoff_init(&w->crd_backoff, &crd_retry, err)) || (r = setup_httpd(w, err)))
		return r;
	if (w->o->worker_argv && (r = start_supervisor(w, err)))
		return r;
	if ((r = loadrules_restconfig(&w->o->conn, &w->rc, err)))
		return r;
	/* One attempt a call: the loop retries (informers and discovery back
	 * off on their own), and a call that sleeps between retries would keep
	 * the loop, /healthz and the workers' heartbeats waiting. */
	struct kclient_options ko = { .max_attempts = 1,
				      .qps = w->o->qps ? w->o->qps : w->o->config->watcher_qps,
				      .burst = w->o->burst ? w->o->burst : w->o->config->watcher_burst };
	if ((r = kclient_new(w->rc, &ko, &w->client, err)) || (r = kwatch_mux_new(&w->mux, err)))
		return r;
	/* Also reaches the credential plugin, which the Lease's client shares. */
	kclient_set_interrupt_fd(w->client, w->stopfd);
	if (!(w->disco = discovery_new(w->client)))
		return cx_err_set(err, -ENOMEM, "out of memory");
	if ((r = workqueue_new("coxswain", NULL, &w->queue, err)))
		return r;
	for (size_t i = 0; i < cfg->n_controllers; i++)
		if ((r = start_controller(w, &cfg->controllers[i], err)))
			return r;
	if (w->o->mc_manifests || w->o->mc_live) {
		struct mcwatch_options mo = { .manifests = w->o->mc_manifests,
					      .live = w->o->mc_live,
					      .selector = w->o->mc_selector,
					      .config = cfg,
					      .client = w->client,
					      .mux = w->mux,
					      .discovery = w->disco,
					      .cb = { start_controller, stop_controller, w } };
		if ((r = mcwatch_new(&mo, &w->mcw, err)))
			return r;
	}
	if (!(w->rel = relwatch_new(&(struct controller_env){ w->client, w->mux, w->disco, w->queue })))
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct broker_options bo = { .endpoint = w->o->endpoint ? w->o->endpoint : cfg->endpoint };
	struct curvekey secret;
	if ((r = config_channel_check(cfg, bo.endpoint, true, err)))
		return r;
	if (cfg->curve_secret_key_file) {
		if ((r = curvekey_load_secret(cfg->curve_secret_key_file, &secret, NULL, err)))
			return cx_err_wrap(err, r, "config %s: watcher.curve: ", cfg->path);
		bo.curve_secret = &secret;
		bo.authorized_keys = cfg->curve_authorized_keys;
	}
	struct broker_source src = { job_for, on_result, w, may_dispatch, on_worker_counter, definition_for };
	r = broker_new(&bo, w->queue, &src, &w->broker, err);
	explicit_bzero(&secret, sizeof(secret));
	if (r)
		return r;
	broker_set_related_observer(w->broker, on_related, w);
	broker_set_job_observer(w->broker, &(struct broker_job_observer){ job_started, job_finished, w });
	if ((r = setup_metrics(w, err)))
		return r;
	if (w->o->leader_elect) {
		struct leader_config lc = { .namespace = cfg->lease_namespace,
					    .name = cfg->lease_name,
					    .callbacks = { started_leading, stopped_leading, new_leader, w },
					    .on_request = metrics_rest_request,
					    .request_ud = &w->std };
		if ((r = leader_new(w->rc, &lc, &w->leader, err)))
			return r;
	} else {
		broker_set_dispatching(w->broker, true);
	}
	return 0;
}

/* The informer over every CRD, once discovery can name its resource. */
static void tick_crds(struct watcher *w, int64_t now_ms)
{
	struct cx_err err = { 0 };
	if (!w->crds) {
		const struct kresource *res = NULL;
		if (now_ms < w->crd_next_ms)
			return;
		if (discovery_resolve(w->disco, "apiextensions.k8s.io/v1", "CustomResourceDefinition", &res, &err)) {
			snprintf(w->crd_error, sizeof(w->crd_error), "%s", err.msg);
			w->crd_code = err.code ? err.code : -EIO;
			w->crd_next_ms = now_ms + backoff_next_ms(&w->crd_backoff);
			return;
		}
		w->crd_code = 0;
		struct informer_options o = { .resource = res };
		if (informer_new(w->client, w->mux, &o, &w->crds, &err)) {
			snprintf(w->crd_error, sizeof(w->crd_error), "%s", err.msg);
			return;
		}
	}
	if (informer_tick(w->crds, now_ms, &err))
		snprintf(w->crd_error, sizeof(w->crd_error), "%s", err.msg);
	else if (informer_synced(w->crds))
		w->crd_error[0] = '\0';
}

/* Logs at -v 0, rate-limited, that the API server cannot be reached, when
 * the CRD discovery or the CRD cache (always running) get no answer; an
 * answer ends the outage. */
static void watch_reachability(struct watcher *w, int64_t now_ms)
{
	int code = w->crds ? informer_last_error_code(w->crds) : w->crd_code;
	const char *msg = w->crds ? informer_last_error(w->crds) : w->crd_error;
	if (!apireach_is_transport(code)) {
		if (code || (w->crds && informer_synced(w->crds)))
			apireach_ok(&w->reach);
		return;
	}
	uint64_t covers = 0;
	if (!apireach_failed(&w->reach, now_ms, &covers))
		return;
	char secs[24];
	snprintf(secs, sizeof(secs), "%lld", (long long)((now_ms - w->reach.since_ms) / 1000));
	log_kv(LOG_LEVEL_ERROR, 0, "cannot reach the API server; retrying", "server", kclient_server(w->client),
	       "error", msg, "failing_for_s", secs, NULL);
}

static void teardown(struct watcher *w)
{
	if (w->leader) {
		struct cx_err err = { 0 };
		if (leader_release(w->leader, &err))
			log_kv(LOG_LEVEL_WARNING, 0, "cannot release the Lease", "error", err.msg, NULL);
	}
	stop_supervisor(w);
	leader_free(&w->leader);
	httpd_free(&w->health);
	httpd_free(&w->metrics_httpd);
	broker_free(&w->broker);
	relwatch_free(&w->rel);
	for (size_t i = 0; i < w->n_ctls; i++)
		controller_free(&w->ctls[i]);
	free(w->ctls);
	free(w->ccs);
	mcwatch_free(&w->mcw); /* after the controllers, which borrow its definitions */
	informer_free(&w->crds);
	workqueue_free(&w->queue);
	discovery_free(&w->disco);
	kwatch_mux_free(&w->mux);
	kclient_free(&w->client);
	informer_set_observer(NULL, NULL);
	metrics_free(&w->metrics);
	free(w->mcs);
	restconfig_free(&w->rc);
	if (w->sigfd >= 0)
		close(w->sigfd);
	if (w->stopfd >= 0)
		close(w->stopfd);
}

/* ---------------------------------------------------------------- the loop */

static void on_signal(struct watcher *w, int64_t now_ms)
{
	struct signalfd_siginfo si;
	while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			int status;
			if (w->supervisor > 0 && waitpid(w->supervisor, &status, WNOHANG) == w->supervisor) {
				log_kv(LOG_LEVEL_ERROR, 0, "the worker supervisor exited; stopping", NULL);
				w->supervisor = 0;
				w->supervisor_died = !w->draining;
				if (!w->draining) {
					w->draining = true;
					w->drain_deadline_ms = now_ms; /* nobody left to finish the jobs */
				}
			}
			continue;
		}
		if (!w->draining) {
			int timeout_s = w->o->drain_timeout_s > 0 ? w->o->drain_timeout_s : DEFAULT_DRAIN_TIMEOUT_S;
			log_kv(LOG_LEVEL_INFO, 0, "draining: no new jobs, waiting for those in flight", "signal",
			       strsignal((int)si.ssi_signo), NULL);
			w->draining = true;
			w->drain_deadline_ms = now_ms + (int64_t)timeout_s * 1000;
			broker_set_dispatching(w->broker, false);
		}
	}
}

static long next_timeout(struct watcher *w, int64_t now_ms)
{
	long t = broker_next_ms(w->broker, now_ms);
	int64_t due = workqueue_next_due_ms(w->queue, now_ms);
	t = min_ms(t, due < 0 ? -1 : (long)due);
	if (w->leader)
		t = min_ms(t, (long)leader_next_ms(w->leader));
	if (w->crds)
		t = min_ms(t, informer_next_ms(w->crds, now_ms));
	else
		t = min_ms(t, w->crd_next_ms > now_ms ? (long)(w->crd_next_ms - now_ms) : 0);
	for (size_t i = 0; i < w->n_ctls; i++)
		t = min_ms(t, controller_next_ms(w->ctls[i], now_ms));
	if (w->mcw)
		t = min_ms(t, mcwatch_next_ms(w->mcw, now_ms));
	t = min_ms(t, relwatch_next_ms(w->rel, now_ms));
	if (w->draining)
		t = min_ms(t, 100);
	/* Cap the sleep: the CRD gate also reacts to cache changes. */
	return min_ms(t, 1000);
}

static void turn(struct watcher *w, int64_t now_ms)
{
	tick_crds(w, now_ms);
	watch_reachability(w, now_ms);
	if (w->mcw && !w->draining)
		mcwatch_tick(w->mcw, now_ms);
	bool any_running = false;
	for (size_t i = 0; i < w->n_ctls; i++) {
		controller_tick(w->ctls[i], crds_synced(w) ? w->crds : NULL, now_ms);
		any_running |= controller_ready(w->ctls[i]);
	}
	relwatch_tick(w->rel, now_ms);
	if (!any_running || kwatch_mux_running(w->mux) > 0)
		w->watches_seen_ms = now_ms;
	if (w->leader && !w->draining)
		leader_tick(w->leader, now_ms);
	broker_dispatch(w->broker, now_ms);
}

static int poll_once(struct watcher *w, long timeout_ms)
{
	zmq_pollitem_t items[MAX_POLL];
	struct pollfd fds[MAX_POLL];
	size_t n = 0;
	items[n++] = (zmq_pollitem_t){ .socket = broker_socket(w->broker), .events = ZMQ_POLLIN };
	items[n++] = (zmq_pollitem_t){ .fd = w->sigfd, .events = ZMQ_POLLIN };
	struct httpd *daemons[2] = { w->health, w->metrics_httpd };
	for (int d = 0; d < 2; d++) {
		if (!daemons[d])
			continue;
		struct pollfd pfd;
		long t;
		httpd_pollfd(daemons[d], &pfd, &t);
		timeout_ms = min_ms(timeout_ms, t);
		items[n++] = (zmq_pollitem_t){ .fd = pfd.fd, .events = ZMQ_POLLIN };
	}
	if (broker_auth_socket(w->broker))
		items[n++] = (zmq_pollitem_t){ .socket = broker_auth_socket(w->broker), .events = ZMQ_POLLIN };
	size_t first_watch = n;
	long curl_t;
	size_t nw = kwatch_mux_pollfds(w->mux, fds, MAX_POLL - n, &curl_t);
	timeout_ms = min_ms(timeout_ms, curl_t);
	for (size_t i = 0; i < nw; i++)
		items[n++] = (zmq_pollitem_t){ .fd = fds[i].fd,
					       .events = (short)(((fds[i].events & POLLIN) ? ZMQ_POLLIN : 0) |
								 ((fds[i].events & POLLOUT) ? ZMQ_POLLOUT : 0)) };
	if (zmq_poll(items, (int)n, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	for (size_t i = 0; i < nw; i++)
		fds[i].revents = (short)(((items[first_watch + i].revents & ZMQ_POLLIN) ? POLLIN : 0) |
					 ((items[first_watch + i].revents & ZMQ_POLLOUT) ? POLLOUT : 0) |
					 ((items[first_watch + i].revents & ZMQ_POLLERR) ? POLLERR : 0));
	kwatch_mux_dispatch(w->mux, fds, nw);
	for (size_t d = 0; d < 2; d++)
		if (daemons[d])
			httpd_dispatch(daemons[d]);
	if (items[1].revents & ZMQ_POLLIN)
		on_signal(w, clock_monotonic_ms());
	return 0;
}

int watcher_run(const struct watcher_options *o, struct cx_err *err)
{
	struct watcher w = { .o = o, .cfg = o->config, .sigfd = -1, .stopfd = -1 };
	/* Blocked before any thread exists (ZeroMQ's), so they reach the signalfd. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP); /* drains too: a closed terminal, or a process manager's stop signal */
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		int r = cx_err_set(err, -errno, "signalfd: %s", strerror(errno));
		return r;
	}
	/* The stop signals alone (not SIGCHLD, which a credential plugin's exit
	 * raises), for API calls to poll: a call that blocks gives up when one
	 * is pending. The loop's read of sigfd consumes it, so the calls of the
	 * drain (the Lease's release) run normally. */
	sigdelset(&mask, SIGCHLD);
	if ((w.stopfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		int r = cx_err_set(err, -errno, "signalfd: %s", strerror(errno));
		close(w.sigfd);
		return r;
	}
	w.watches_seen_ms = clock_monotonic_ms();
	int r = setup(&w, err);
	w.watches_seen_ms = clock_monotonic_ms();
	while (!r) {
		int64_t now = clock_monotonic_ms();
		turn(&w, now);
		if (w.draining && (broker_busy(w.broker) == 0 || now >= w.drain_deadline_ms)) {
			if (broker_busy(w.broker))
				log_kv(LOG_LEVEL_WARNING, 0, "drain deadline passed with jobs in flight", NULL);
			break;
		}
		r = poll_once(&w, next_timeout(&w, now));
		if (r)
			cx_err_set(err, r, "poll: %s", zmq_strerror(-r));
	}
	if (!r && w.supervisor_died)
		r = cx_err_set(err, -ECHILD, "the worker supervisor exited unexpectedly; see its log lines above");
	teardown(&w);
	log_kv(LOG_LEVEL_INFO, 0, r ? "stopped on an error" : "stopped", NULL);
	return r;
}

/* watcher: the watcher process's event loop, which ties the units together:
 *
 *   CRD informer ─▶ controllers (CRD gate, informers, caches) ─▶ work queue
 *        ─▶ broker (ZeroMQ ROUTER) ─▶ workers;  leader election decides
 *   whether the broker dispatches; httpd serves /healthz, /readyz, /metrics.
 *
 * One thread: zmq_poll over the broker's socket, every watch's socket, the
 * HTTP daemons and a signalfd. SIGTERM, SIGINT or SIGHUP drains: stop
 * dispatching, wait for the jobs in flight up to the drain timeout, release
 * the Lease, stop the worker supervisor when we started it (it was given the
 * same drain timeout), exit 0. A supervisor we started dies with us even when
 * we are SIGKILLed (PR_SET_PDEATHSIG: it drains). */
#ifndef COXSWAIN_WATCHER_H
#define COXSWAIN_WATCHER_H

#include <stdbool.h>

#include "loadrules.h"
#include "restconfig.h"

struct config;
struct cx_err;

struct watcher_options {
	const struct config *config; /* borrowed */
	struct loadrules_opts conn;  /* --kubeconfig, --context, --namespace */
	const char *endpoint;        /* --endpoint, else the config's */
	bool leader_elect;           /* the config's, unless --leader-elect=false */
	int drain_timeout_s;         /* 0 = 25 */
	double qps;                  /* --kube-api-qps; 0 = the config's watcher.kubeApiQPS */
	int burst;                   /* --kube-api-burst; 0 = the config's watcher.kubeApiBurst */
	/* --spawn-workers N: the worker supervisor is started as our child
	 * (fork+exec of worker_argv) and stopped when we stop. */
	char *const *worker_argv; /* NULL = none */
	/* Metacontroller definitions (watcher/mcwatch.h): a file or directory
	 * of CompositeController / DecoratorController manifests, and/or the
	 * objects of those kinds in the cluster. */
	const char *mc_manifests; /* --metacontroller-manifests, or NULL */
	bool mc_live;             /* --metacontroller-live */
	const char *mc_selector;  /* --metacontroller-selector: only the live objects whose
						 labels match it (a label selector), or NULL: all */
};

/* Runs until SIGTERM/SIGINT/SIGHUP (then 0) or a fatal error (negative, err filled). */
int watcher_run(const struct watcher_options *o, struct cx_err *err);

#endif

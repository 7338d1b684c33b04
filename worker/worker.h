/* worker: one worker process (a supervisor slot): its own API client and
 * DEALER socket, created after the fork; READY, then jobs in, RESULTs out,
 * HEARTBEATs while idle (docs/architecture.md §1.3 and §5.5).
 *
 * Every request of its API client is counted (rest_client_requests_total)
 * and reported to the watcher in STATS (common/proto.h): at most once per
 * heartbeat interval when a count changed, before each RESULT, and after
 * each READY, so that the watcher's /metrics sums every process.
 *
 * Its routing id is "w<slot>-<pid>-<instance>", and READY carries the
 * supervisor's instance id, the slot's restart count and the worker set
 * (common/proto.h). With CURVE keys the DEALER is a CURVE client that
 * knows the watcher's public key: a watcher without the matching secret key
 * cannot complete the handshake, so no one else can hand it jobs.
 * It says READY again when the watcher has been silent for 3 heartbeats (the
 * watcher restarted and does not know it). SIGTERM: it finishes the job at
 * hand and exits 0; EOF on the supervisor's pipe: it exits at once.
 *
 * Test-only fault switch: when COXSWAIN_TEST_CRASH_ON_KEY is set (read at
 * start-up) a worker given a sync job for that key calls abort(), so tests
 * can watch the supervisor restart it and the watcher re-queue and finally
 * poison the key (the "poison" job that reports it does not crash: the
 * WorkerCrashed condition gets written). Never set it outside tests. */
#ifndef COXSWAIN_WORKER_H
#define COXSWAIN_WORKER_H

#include "curvekey.h"
#include "loadrules.h"
#include "restconfig.h"

struct config;

/* The job channel's CURVE keys, as read from the files worker.curve names
 * (README "Workers in other pods"). */
struct worker_curve {
	struct curvekey secret, public; /* this worker set's pair */
	struct curvekey server;         /* the watcher's public key */
};

struct worker_options {
	const struct config *config; /* borrowed */
	struct loadrules_opts conn;
	const char *endpoint; /* NULL = the config's */
	int slot;
	int parent_pipe_fd;               /* from the supervisor; -1 = none */
	const char *instance;             /* the supervisor's instance id, for READY */
	int restarts;                     /* forks of this slot before this worker, for READY */
	const char *set;                  /* the worker set (--worker-set), for READY; NULL = "" */
	const struct worker_curve *curve; /* NULL: no CURVE; borrowed */
	double qps;                       /* --kube-api-qps; 0 = the config's worker.kubeApiQPS */
	int burst;                        /* --kube-api-burst; 0 = the config's worker.kubeApiBurst */
};

/* Runs until SIGTERM (0) or a fatal error (1); the exit code for the slot. */
int worker_run(const struct worker_options *o);

#endif

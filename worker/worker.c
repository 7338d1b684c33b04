#include "config.h"

#include "worker.h"
#include "clock.h"
#include "cxconfig.h"
#include "err.h"
#include "kclient.h"
#include "log.h"
#include "proto.h"
#include "reconcile.h"
#include "statset.h"
#include "supervisor.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define HEARTBEAT_MS      1000
#define WATCHER_SILENT_MS (3 * HEARTBEAT_MS)
#define SEND_TIMEOUT_MS   2000

struct worker {
	void *ctx, *sock;
	struct restconfig *rc;
	struct kclient *client;
	struct reconciler *reconciler;
	int sigfd;
	const char *crash_key; /* the test-only fault switch */
	char id[96];
	int slot;
	const char *instance;
	int restarts;
	const char *set;
	int64_t last_sent_ms, last_heard_ms;
	struct statset *stats; /* this process's counters, sent in STATS */
	int64_t last_stats_ms;
};

static int send_frame(struct worker *w, const struct proto_frame *f)
{
	if (zmq_send(w->sock, f->type, strlen(f->type), ZMQ_SNDMORE) < 0 ||
	    zmq_send(w->sock, f->payload, f->len, 0) < 0)
		return -errno;
	w->last_sent_ms = clock_monotonic_ms();
	return 0;
}

static void send_ready(struct worker *w)
{
	struct proto_ready ready = {
		.slot = w->slot, .pid = (int)getpid(), .instance = w->instance, .restarts = w->restarts, .set = w->set
	};
	struct proto_frame f = { 0 };
	if (!proto_encode_ready(&ready, &f, NULL))
		send_frame(w, &f);
	proto_frame_clear(&f);
}

static void send_heartbeat(struct worker *w)
{
	struct proto_frame f = { 0 };
	if (!proto_encode_heartbeat(&f, NULL))
		send_frame(w, &f);
	proto_frame_clear(&f);
}

/* Sends this process's counters (cumulative) when they changed since the
 * last STATS, or with force when there are any (after READY: a watcher
 * that did not know us dropped what we sent before). */
static void send_stats(struct worker *w, bool force)
{
	if (!(statset_changed(w->stats) || (force && !statset_empty(w->stats))))
		return;
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	if (proto_encode_stats(&(struct proto_stats){ statset_families(w->stats) }, &f, &err) || send_frame(w, &f))
		log_kv(LOG_LEVEL_WARNING, 1, "cannot send stats", "error", err.msg, NULL);
	else
		statset_clean(w->stats);
	proto_frame_clear(&f);
	w->last_stats_ms = clock_monotonic_ms();
}

static void run_job(struct worker *w, const struct proto_job *job)
{
	/* Sync jobs only: the poison report for that key must get written. */
	if (w->crash_key && job->kind == PROTO_JOB_SYNC && !strcmp(w->crash_key, job->key)) {
		log_kv(LOG_LEVEL_ERROR, 0, "COXSWAIN_TEST_CRASH_ON_KEY: crashing on purpose", "key", job->key, NULL);
		abort();
	}
	int64_t start = clock_monotonic_ms();
	struct reconcile_outcome out;
	reconcile_job(w->reconciler, job, &out);
	char ms[32];
	snprintf(ms, sizeof(ms), "%lld", (long long)(clock_monotonic_ms() - start));
	log_kv(out.outcome == PROTO_OUTCOME_ERROR ? LOG_LEVEL_WARNING : LOG_LEVEL_INFO, 2, "reconciled", "key",
	       job->key, "kind", proto_job_kind_name(job->kind), "outcome", proto_outcome_name(out.outcome), "ms", ms,
	       "error", out.message, NULL);
	struct proto_result result = { .job = job->job,
				       .attempt = job->attempt,
				       .outcome = out.outcome,
				       .requeue_after_ms = out.requeue_after_ms,
				       .message = out.message,
				       .related = out.related_rules,
				       .writes = out.writes };
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	send_stats(w, false); /* first, so the job's requests are counted when its result is */
	if (proto_encode_result(&result, &f, &err) || send_frame(w, &f))
		log_kv(LOG_LEVEL_ERROR, 0, "cannot send a result", "key", job->key, "error", err.msg, NULL);
	proto_frame_clear(&f);
	json_object_put(out.related_rules);
	json_object_put(out.writes);
}

/* Reads one message from the watcher, if one is waiting. */
static void receive(struct worker *w)
{
	zmq_msg_t type, payload;
	zmq_msg_init(&type);
	zmq_msg_init(&payload);
	if (zmq_msg_recv(&type, w->sock, ZMQ_DONTWAIT) < 0)
		goto out;
	if (zmq_msg_more(&type) && zmq_msg_recv(&payload, w->sock, 0) < 0)
		goto out;
	w->last_heard_ms = clock_monotonic_ms();
	struct proto_msg msg = { 0 };
	struct cx_err err = { 0 };
	if (proto_decode(zmq_msg_data(&type), zmq_msg_size(&type), zmq_msg_data(&payload), zmq_msg_size(&payload), &msg,
			 &err) ||
	    !proto_from_watcher(msg.type)) {
		log_kv(LOG_LEVEL_WARNING, 0, "bad message from the watcher", "error",
		       err.msg[0] ? err.msg : "wrong direction", NULL);
	} else if (msg.type == PROTO_JOB) {
		run_job(w, &msg.job);
	} else if (msg.type == PROTO_DISCONNECT) {
		log_kv(LOG_LEVEL_INFO, 1, "the watcher is going away; waiting for it to come back", NULL);
	}
	proto_msg_clear(&msg);
out:
	zmq_msg_close(&type);
	zmq_msg_close(&payload);
}

static int setup(struct worker *w, const struct worker_options *o, struct cx_err *err)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP); /* a closed terminal reaches the whole process group: stop as on SIGTERM */
	/* Before ZeroMQ starts its threads, so they do not take the signal. */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return cx_err_set(err, -errno, "signalfd: %s", strerror(errno));
	int r;
	if ((r = loadrules_restconfig(&o->conn, &w->rc, err)))
		return r;
	if (!(w->stats = statset_new()))
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct kclient_options ko = { .qps = o->qps ? o->qps : o->config->worker_qps,
				      .burst = o->burst ? o->burst : o->config->worker_burst };
	if ((r = kclient_new(w->rc, &ko, &w->client, err)))
		return r;
	/* Before anything else uses the client: every request is counted. */
	kclient_set_request_observer(w->client, statset_count_request, w->stats);
	kclient_set_wait_observer(w->client, statset_count_wait, w->stats);
	if ((r = reconciler_new(w->client, o->config, &w->reconciler, err)))
		return r;
	const char *endpoint = o->endpoint ? o->endpoint : o->config->endpoint;
	/* The instance in the id too: workers of two supervisors in two pods
	 * may share slot and pid, and ROUTER_HANDOVER would give one's route to
	 * the other. */
	snprintf(w->id, sizeof(w->id), "w%d-%d-%s", o->slot, (int)getpid(), w->instance);
	int zero = 0;
	if (!(w->ctx = zmq_ctx_new()) || !(w->sock = zmq_socket(w->ctx, ZMQ_DEALER)))
		return cx_err_set(err, -ENOMEM, "cannot create the ZeroMQ socket");
	zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
	zmq_setsockopt(w->sock, ZMQ_LINGER, &zero, sizeof(zero));
	/* With the watcher gone long enough the send queue fills: a send then
	 * gives up instead of blocking, so SIGTERM and the supervisor's death
	 * are still noticed. A RESULT lost that way is the watcher's to redo. */
	int send_timeout_ms = SEND_TIMEOUT_MS;
	zmq_setsockopt(w->sock, ZMQ_SNDTIMEO, &send_timeout_ms, sizeof(send_timeout_ms));
	if (o->curve &&
	    (zmq_setsockopt(w->sock, ZMQ_CURVE_SERVERKEY, o->curve->server.z85, CURVEKEY_Z85_LEN) ||
	     zmq_setsockopt(w->sock, ZMQ_CURVE_PUBLICKEY, o->curve->public.z85, CURVEKEY_Z85_LEN) ||
	     zmq_setsockopt(w->sock, ZMQ_CURVE_SECRETKEY, o->curve->secret.z85, CURVEKEY_Z85_LEN)))
		return cx_err_set(err, -errno, "cannot set the job channel's CURVE keys: %s", zmq_strerror(errno));
	if (zmq_connect(w->sock, endpoint) != 0)
		return cx_err_set(err, -errno, "cannot connect to the watcher at %s: %s", endpoint,
				  zmq_strerror(errno));
	w->crash_key = getenv("COXSWAIN_TEST_CRASH_ON_KEY");
	return 0;
}

static void teardown(struct worker *w)
{
	if (w->sock)
		zmq_close(w->sock);
	if (w->ctx)
		zmq_ctx_term(w->ctx);
	reconciler_free(&w->reconciler);
	kclient_free(&w->client);
	statset_free(&w->stats);
	restconfig_free(&w->rc);
	if (w->sigfd >= 0)
		close(w->sigfd);
}

int worker_run(const struct worker_options *o)
{
	struct worker w = { .sigfd = -1,
			    .slot = o->slot,
			    .instance = o->instance,
			    .restarts = o->restarts,
			    .set = o->set ? o->set : "" };
	struct cx_err err = { 0 };
	if (setup(&w, o, &err)) {
		char slot[16];
		snprintf(slot, sizeof(slot), "%d", o->slot);
		log_kv(LOG_LEVEL_ERROR, 0, "worker cannot start", "slot", slot, "error", err.msg, NULL);
		teardown(&w);
		return 1;
	}
	log_kv(LOG_LEVEL_INFO, 1, "worker started", "id", w.id, NULL);
	send_ready(&w);
	send_stats(&w, true);
	w.last_heard_ms = clock_monotonic_ms();
	for (;;) {
		zmq_pollitem_t items[3] = {
			{ .socket = w.sock, .events = ZMQ_POLLIN },
			{ .fd = w.sigfd, .events = ZMQ_POLLIN },
			{ .fd = o->parent_pipe_fd, .events = ZMQ_POLLIN },
		};
		int n = o->parent_pipe_fd >= 0 ? 3 : 2;
		if (zmq_poll(items, n, HEARTBEAT_MS) < 0 && errno != EINTR)
			break;
		if (items[1].revents) {
			log_kv(LOG_LEVEL_INFO, 1, "worker stopping", "id", w.id, NULL);
			break;
		}
		if (n == 3 && items[2].revents && supervisor_parent_gone(o->parent_pipe_fd)) {
			log_kv(LOG_LEVEL_WARNING, 0, "the supervisor is gone; worker exits", "id", w.id, NULL);
			break;
		}
		if (items[0].revents & ZMQ_POLLIN)
			receive(&w);
		int64_t now = clock_monotonic_ms();
		if (now - w.last_heard_ms > WATCHER_SILENT_MS) {
			send_ready(&w); /* a restarted watcher does not know us */
			send_stats(&w, true);
			w.last_heard_ms = now;
		} else if (now - w.last_stats_ms >= HEARTBEAT_MS && statset_changed(w.stats)) {
			send_stats(&w, false); /* at most one a heartbeat interval; it is one too */
		} else if (now - w.last_sent_ms >= HEARTBEAT_MS) {
			send_heartbeat(&w);
		}
	}
	teardown(&w);
	return 0;
}

#include "config.h"

#include "broker.h"
#include "err.h"
#include "kobj.h"
#include "log.h"
#include "proto.h"
#include "queuekey.h"
#include "statset.h"
#include "strmap.h"
#include "workqueue.h"
#include "curvekey.h"
#include "zapauth.h"

#include <errno.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_HEARTBEAT_MS    1000
#define DEFAULT_LIVENESS        3
#define DEFAULT_MAX_LOSSES      3
#define DEFAULT_POISON_RETRY_MS (10 * 60 * 1000)
#define ID_MAX                  64
#define REFUSED_MAX             1024

struct worker_rec {
	char id[ID_MAX]; /* the routing id: "w<slot>-<pid>" */
	size_t id_len;
	int slot, pid;
	char instance[PROTO_INSTANCE_MAX + 1]; /* its supervisor's */
	char set[PROTO_SET_MAX + 1];           /* its worker set: "" is the local one */
	bool busy;
	bool poison_job; /* the job held is a poison report */
	uint64_t job;
	int attempt;
	char key[QUEUEKEY_MAX];
	int64_t started_ms, deadline_ms, last_seen_ms;
	int restarts;         /* its READY's: another on the same id is another process */
	struct statset *seen; /* the last values its STATS reported (owned) */
};

/* What the broker remembers of a key between jobs. */
struct key_state {
	int attempt; /* of the last job handed out */
	int losses;  /* jobs lost in a row */
	bool poisoned;
	int64_t poisoned_generation;
	int64_t poisoned_until_ms;
};

struct broker {
	void *ctx, *sock;
	struct zapauth *zap; /* NULL without CURVE */
	struct workqueue *q; /* borrowed */
	struct broker_source src;
	void (*on_related)(void *ud, const char *key, struct json_object *rules); /* or NULL */
	void *related_ud;
	struct broker_job_observer jobs; /* all NULL: not told */
	int heartbeat_ms, liveness, max_losses;
	int64_t poison_retry_ms;
	bool dispatching;
	struct worker_rec *workers;
	size_t n_workers, cap_workers;
	struct strmap *keys; /* key → its struct key_state (owned) */
	/* key → message (owned): a poison report to send, kept until a worker
	 * has written it. The report goes through the work queue like any job
	 * of that key, so it never runs beside a sync of the same key. */
	struct strmap *poison_reports;
	uint64_t next_job;
	int64_t next_heartbeat_ms;
	/* "instance/slot" -> the highest restart count a READY reported for it
	 * (an owned int64_t): coxswain_worker_restarts_total is the sum of what
	 * they grew by. */
	struct strmap *slot_restarts;
	/* the set of "instance/slot" whose READY was refused and logged already
	 * (one line per instance and slot, not one per retry). Emptied when it
	 * grows past REFUSED_MAX entries. */
	struct strmap *refused;
	/* the set of family names of STATS the broker does not take, logged
	 * once each (NULL until the first) */
	struct strmap *stats_ignored;
	uint64_t restarts, losses, refusals;
	uint64_t losses_by[BROKER_LOSS_N];
	size_t poisoned;
	char endpoint[512];
};

/* ---------------------------------------------------------------- per-key state */

/* The state of key, created on first use; NULL when out of memory. */
static struct key_state *key_state(struct broker *b, const char *key)
{
	struct key_state *ks = strmap_get(b->keys, key);
	if (ks)
		return ks;
	if (!(ks = calloc(1, sizeof(*ks))) || strmap_put(b->keys, key, ks)) {
		free(ks);
		return NULL;
	}
	return ks;
}

static void forget_key(struct broker *b, const char *key)
{
	struct key_state *ks = strmap_get(b->keys, key);
	if (ks && ks->poisoned)
		b->poisoned--;
	strmap_del(b->keys, key);
	strmap_del(b->poison_reports, key);
}

/* ---------------------------------------------------------------- sockets */

static int send_frames(struct broker *b, const struct worker_rec *w, const struct proto_frame *f)
{
	if (zmq_send(b->sock, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->sock, f->type, strlen(f->type), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->sock, f->payload, f->len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* 0, or the send's negative errno: -EHOSTUNREACH when the worker's
 * connection is gone (ZMQ_ROUTER_MANDATORY). */
static int send_simple(struct broker *b, const struct worker_rec *w,
		       int (*encode)(struct proto_frame *, struct cx_err *))
{
	struct proto_frame f = { 0 };
	int r = encode(&f, NULL);
	if (!r)
		r = send_frames(b, w, &f);
	proto_frame_clear(&f);
	return r;
}

/* The directory of an ipc:// endpoint's socket file: made 0700 when it is
 * missing; an existing one must be this user's and closed to others (it is
 * never chmod'ed: it may be /run or a home directory). */
static int private_dir(const char *endpoint, struct cx_err *err)
{
	char dir[4096];
	const char *path = endpoint + 6, *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	struct stat st;
	if (lstat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0700) != 0)
			return cx_err_set(err, -errno,
					  "the worker endpoint %s: cannot make its directory %s (mode 0700): %s",
					  endpoint, dir, strerror(errno));
		/* mkdir's mode went through the umask, which only narrows it. */
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return cx_err_set(err, -ENOTDIR,
				  "the worker endpoint %s: %s is not a directory (a symbolic link is "
				  "refused too: the socket's directory must be the watcher's own)",
				  endpoint, dir);
	if (st.st_uid != geteuid())
		return cx_err_set(
			err, -EPERM,
			"the worker endpoint %s: the directory %s belongs to uid %u, not to this "
			"process (uid %u); put the socket in a directory of its own, such as %s/coxswain/jobs.sock, "
			"which the watcher makes with mode 0700",
			endpoint, dir, (unsigned)st.st_uid, (unsigned)geteuid(), strcmp(dir, "/") ? dir : "");
	if (st.st_mode & 077)
		return cx_err_set(
			err, -EPERM,
			"the worker endpoint %s: the directory %s has mode %04o, so other users "
			"could reach or replace the socket; chmod 0700 %s, or use a directory of its own, which the "
			"watcher makes with mode 0700",
			endpoint, dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

/* The ROUTER as a CURVE server, with the ZAP handler that picks who may
 * connect bound first (libzmq asks it from the first handshake on). */
static int setup_curve(struct broker *b, const struct broker_options *o, struct cx_err *err)
{
	int one = 1;
	if (!o->authorized_keys)
		return cx_err_set(err, -EINVAL, "CURVE needs the authorized client keys");
	int r = zapauth_new(b->ctx, o->authorized_keys, 0, &b->zap, err);
	if (r)
		return r;
	if (zmq_setsockopt(b->sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	    zmq_setsockopt(b->sock, ZMQ_CURVE_SECRETKEY, o->curve_secret->z85, CURVEKEY_Z85_LEN) ||
	    zmq_setsockopt(b->sock, ZMQ_ZAP_DOMAIN, "coxswain", strlen("coxswain")))
		return cx_err_set(err, -errno, "cannot make the worker endpoint a CURVE server: %s",
				  zmq_strerror(errno));
	return 0;
}

int broker_new(const struct broker_options *o, struct workqueue *q, const struct broker_source *src,
	       struct broker **out, struct cx_err *err)
{
	*out = NULL;
	struct broker *b = calloc(1, sizeof(*b));
	if (!b)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r;
	b->q = q;
	b->src = *src;
	b->heartbeat_ms = o->heartbeat_ms > 0 ? o->heartbeat_ms : DEFAULT_HEARTBEAT_MS;
	b->liveness = o->liveness > 0 ? o->liveness : DEFAULT_LIVENESS;
	b->max_losses = o->max_losses > 0 ? o->max_losses : DEFAULT_MAX_LOSSES;
	b->poison_retry_ms = o->poison_retry_ms > 0 ? o->poison_retry_ms : DEFAULT_POISON_RETRY_MS;
	b->next_job = 1;
	snprintf(b->endpoint, sizeof(b->endpoint), "%s", o->endpoint);
	int one = 1, zero = 0;
	if (!(b->keys = strmap_new(free)) || !(b->poison_reports = strmap_new(free)) ||
	    !(b->slot_restarts = strmap_new(free)) || !(b->refused = strmap_new(NULL)) || !(b->ctx = zmq_ctx_new()) ||
	    !(b->sock = zmq_socket(b->ctx, ZMQ_ROUTER))) {
		broker_free(&b);
		return cx_err_set(err, -ENOMEM, "cannot create the ZeroMQ socket");
	}
	zmq_setsockopt(b->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	/* A worker that reconnects with its id takes its place over. */
	zmq_setsockopt(b->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
	zmq_setsockopt(b->sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (o->curve_secret && (r = setup_curve(b, o, err))) {
		broker_free(&b);
		return r;
	}
	bool ipc = !strncmp(o->endpoint, "ipc://", 6);
	if (ipc && (r = private_dir(o->endpoint, err))) {
		broker_free(&b);
		return r;
	}
	/* An ipc:// file left by a watcher that died is in the way of bind. */
	if (ipc)
		unlink(o->endpoint + 6);
	/* The socket file is made by bind: 0600 from the start, not after. */
	mode_t old_mask = ipc ? umask(0177) : 0;
	int bound = zmq_bind(b->sock, o->endpoint), bind_errno = errno;
	if (ipc)
		umask(old_mask);
	if (bound != 0) {
		broker_free(&b);
		return cx_err_set(err, -bind_errno, "cannot bind the worker endpoint %s: %s", o->endpoint,
				  zmq_strerror(bind_errno));
	}
	*out = b;
	return 0;
}

void broker_free(struct broker **bp)
{
	struct broker *b = *bp;
	if (!b)
		return;
	if (b->sock) {
		for (size_t i = 0; i < b->n_workers; i++)
			send_simple(b, &b->workers[i], proto_encode_disconnect);
		zmq_close(b->sock);
	}
	zapauth_free(&b->zap);
	if (b->ctx)
		zmq_ctx_term(b->ctx);
	if (!strncmp(b->endpoint, "ipc://", 6))
		unlink(b->endpoint + 6);
	strmap_free(&b->keys);
	strmap_free(&b->poison_reports);
	strmap_free(&b->slot_restarts);
	strmap_free(&b->refused);
	strmap_free(&b->stats_ignored);
	for (size_t i = 0; i < b->n_workers; i++)
		statset_free(&b->workers[i].seen);
	free(b->workers);
	free(b);
	*bp = NULL;
}

void *broker_socket(struct broker *b)
{
	return b->sock;
}

void *broker_auth_socket(struct broker *b)
{
	return b->zap ? zapauth_socket(b->zap) : NULL;
}

uint64_t broker_auth_refusals(const struct broker *b)
{
	return zapauth_refusals(b->zap);
}

void broker_set_related_observer(struct broker *b, void (*fn)(void *ud, const char *key, struct json_object *rules),
				 void *ud)
{
	b->on_related = fn;
	b->related_ud = ud;
}

void broker_set_dispatching(struct broker *b, bool on)
{
	if (b->dispatching != on)
		log_kv(LOG_LEVEL_INFO, 0, on ? "dispatching jobs" : "not dispatching jobs", NULL);
	b->dispatching = on;
}

/* ---------------------------------------------------------------- workers */

static struct worker_rec *find_worker(struct broker *b, const char *id, size_t len)
{
	for (size_t i = 0; i < b->n_workers; i++)
		if (b->workers[i].id_len == len && !memcmp(b->workers[i].id, id, len))
			return &b->workers[i];
	return NULL;
}

/* The controller of key (watcher/queuekey.h) into k; k->controller is ""
 * for a malformed key, which dispatch_key never hands out. */
static const char *controller_of(const char *key, struct queuekey *k)
{
	if (!queuekey_parse(key, k))
		k->controller[0] = '\0';
	return k->controller;
}

/* Tells the job observer that key's job ended (before its workqueue_done). */
static void job_finished(struct broker *b, const char *key, struct json_object *writes)
{
	if (b->jobs.finished)
		b->jobs.finished(b->jobs.ud, key, writes);
}

/* The worker lost its job (it died, hung or was replaced): the key goes back
 * on the queue with backoff, and is poisoned after max_losses in a row. */
static void lose_job(struct broker *b, struct worker_rec *w, enum broker_loss reason, const char *why, int64_t now_ms)
{
	if (!w->busy)
		return;
	w->busy = false;
	b->losses++;
	b->losses_by[reason]++;
	job_finished(b, w->key, NULL);
	workqueue_done(b->q, w->key, now_ms);
	if (w->poison_job) { /* the report itself was lost: its message stays, send it again */
		log_kv(LOG_LEVEL_WARNING, 0, "poison report lost", "key", w->key, "worker", w->id, "why", why, NULL);
		workqueue_add_rate_limited(b->q, w->key, now_ms);
		return;
	}
	struct key_state *ks = key_state(b, w->key);
	log_kv(LOG_LEVEL_WARNING, 0, "job lost", "key", w->key, "worker", w->id, "why", why, NULL);
	if (ks && ++ks->losses >= b->max_losses && !ks->poisoned) {
		struct json_object *parent = NULL, *children = NULL;
		int64_t budget = 0;
		ks->poisoned = true;
		ks->poisoned_generation = 0;
		if (b->src.job_for(b->src.ud, w->key, &parent, &children, &budget) == 0)
			ks->poisoned_generation = kobj_generation(parent);
		json_object_put(parent);
		json_object_put(children);
		ks->poisoned_until_ms = now_ms + b->poison_retry_ms;
		b->poisoned++;
		char msg[600];
		snprintf(msg, sizeof(msg),
			 "the worker reconciling this object was lost %d times in a row (last: %s); coxswain retries "
			 "when the object's spec changes or in %lld minutes",
			 ks->losses, why, (long long)(b->poison_retry_ms / 60000));
		char *report = strdup(msg);
		if (report && strmap_put(b->poison_reports, w->key, report))
			free(report);
		log_kv(LOG_LEVEL_ERROR, 0, "object poisoned", "key", w->key, "why", msg, NULL);
		workqueue_add(b->q, w->key, now_ms); /* for the report */
		workqueue_add_after(b->q, w->key, b->poison_retry_ms, now_ms);
		return;
	}
	workqueue_add_rate_limited(b->q, w->key, now_ms);
}

static void remove_worker(struct broker *b, struct worker_rec *w, enum broker_loss reason, const char *why,
			  int64_t now_ms)
{
	lose_job(b, w, reason, why, now_ms);
	log_kv(LOG_LEVEL_INFO, 1, "worker gone", "worker", w->id, "why", why, NULL);
	statset_free(&w->seen);
	*w = b->workers[--b->n_workers];
}

/* Whether w is lost by now: busy past its job's deadline, or idle with no
 * heartbeat for liveness intervals (check_workers removes it then). A busy
 * worker sends no heartbeats: its deadline is its liveness. */
static bool worker_expired(const struct broker *b, const struct worker_rec *w, int64_t now_ms)
{
	if (w->busy)
		return now_ms > w->deadline_ms;
	return now_ms - w->last_seen_ms > (int64_t)b->heartbeat_ms * b->liveness;
}

/* Adds what a READY's restart count grew by since the last READY of its
 * instance and slot: the broker's count is then the supervisors' own
 * (forks of a slot after its first), also for workers that died before
 * they said READY and for restarts before this watcher started. */
static void count_restarts(struct broker *b, const struct proto_ready *r)
{
	char k[PROTO_INSTANCE_MAX + 16];
	snprintf(k, sizeof(k), "%s/%d", r->instance, r->slot);
	int64_t *known = strmap_get(b->slot_restarts, k);
	if (known && r->restarts <= *known)
		return;
	if (r->restarts > (known ? *known : 0))
		b->restarts += (uint64_t)(r->restarts - (known ? *known : 0));
	if (!known && (!(known = malloc(sizeof(*known))) || strmap_put(b->slot_restarts, k, known))) {
		free(known);
		return;
	}
	*known = r->restarts;
}

/* A READY for a slot a live worker of another supervisor instance holds:
 * two worker sets (a supervisor left behind by a watcher that died, a
 * second deployment) must not evict each other. The one holding the slot
 * keeps it and its job; the newcomer gets nothing (it says READY again
 * every few seconds, and takes the slot once the holder is lost). One log
 * line per instance and slot. */
static void refuse(struct broker *b, const char *id, size_t id_len, const struct proto_ready *r,
		   const struct worker_rec *held)
{
	b->refusals++;
	char k[PROTO_INSTANCE_MAX + 16];
	snprintf(k, sizeof(k), "%s/%d", r->instance, r->slot);
	if (strmap_has(b->refused, k))
		return;
	if (strmap_count(b->refused) >= REFUSED_MAX)
		strmap_clear(b->refused);
	strmap_put(b->refused, k, NULL);
	char who[ID_MAX], slot_s[16], pid_s[16];
	snprintf(who, sizeof(who), "%.*s", (int)(id_len < ID_MAX ? id_len : ID_MAX - 1), id);
	snprintf(slot_s, sizeof(slot_s), "%d", r->slot);
	snprintf(pid_s, sizeof(pid_s), "%d", r->pid);
	log_kv(LOG_LEVEL_ERROR, 0,
	       "READY refused: a live worker of another supervisor instance holds this slot (two worker sets share "
	       "the endpoint; logged once per instance and slot)",
	       "slot", slot_s, "set", r->set, "instance", r->instance, "pid", pid_s, "worker", who, "held_by_instance",
	       held->instance, "held_by_worker", held->id, NULL);
}

/* The same routing id with another restart count is another process (its
 * supervisor forked it again and the pid came round): its counters start
 * from zero, so the old process's last values must not hold them back. */
static void forget_stats_of_old_process(struct worker_rec *w, const struct proto_ready *r)
{
	if (w->restarts == r->restarts)
		return;
	w->restarts = r->restarts;
	statset_free(&w->seen);
	w->seen = statset_new();
}

static void on_ready(struct broker *b, const char *id, size_t id_len, const struct proto_ready *r, int64_t now_ms)
{
	struct worker_rec *w = find_worker(b, id, id_len);
	if (w) { /* it re-announced itself (the watcher was away): keep what we know */
		w->last_seen_ms = now_ms;
		count_restarts(b, r);
		forget_stats_of_old_process(w, r);
		return;
	}
	for (size_t i = 0; i < b->n_workers; i++) {
		struct worker_rec *held = &b->workers[i];
		if (held->slot != r->slot || strcmp(held->set, r->set))
			continue;
		char why[160];
		if (!strcmp(held->instance, r->instance)) {
			/* A new process in a known slot: its supervisor restarted it. */
			snprintf(why, sizeof(why), "slot %d restarted (pid %d replaced by %d)", r->slot, held->pid,
				 r->pid);
		} else if (!worker_expired(b, held, now_ms) &&
			   send_simple(b, held, proto_encode_heartbeat) != -EHOSTUNREACH) {
			/* Live, and its connection is still there (a busy worker
			 * whose process died is gone from the socket at once,
			 * long before its job's deadline). */
			refuse(b, id, id_len, r, held);
			return;
		} else {
			snprintf(why, sizeof(why), "slot %d taken over by supervisor instance %.64s", r->slot,
				 r->instance);
		}
		remove_worker(b, held, BROKER_LOSS_RESTART, why, now_ms);
		break;
	}
	if (b->n_workers == b->cap_workers) {
		size_t cap = b->cap_workers ? b->cap_workers * 2 : 8;
		struct worker_rec *grown = realloc(b->workers, cap * sizeof(*grown));
		if (!grown)
			return;
		b->workers = grown;
		b->cap_workers = cap;
	}
	w = &b->workers[b->n_workers++];
	memset(w, 0, sizeof(*w));
	memcpy(w->id, id, id_len < ID_MAX ? id_len : ID_MAX - 1);
	w->id_len = id_len < ID_MAX ? id_len : ID_MAX - 1;
	w->slot = r->slot;
	w->pid = r->pid;
	snprintf(w->instance, sizeof(w->instance), "%s", r->instance);
	snprintf(w->set, sizeof(w->set), "%s", r->set);
	w->last_seen_ms = now_ms;
	w->restarts = r->restarts;
	w->seen = statset_new(); /* NULL when out of memory: its STATS are then ignored */
	count_restarts(b, r);
	char k[PROTO_INSTANCE_MAX + 16];
	snprintf(k, sizeof(k), "%s/%d", r->instance, r->slot);
	strmap_del(b->refused, k);
	log_kv(LOG_LEVEL_INFO, 1, "worker ready", "worker", w->id, "instance", w->instance, "set", w->set, NULL);
}

static void on_result(struct broker *b, struct worker_rec *w, const struct proto_result *r, int64_t now_ms)
{
	if (!w->busy || r->job != w->job || r->attempt != w->attempt) {
		log_kv(LOG_LEVEL_INFO, 2, "dropping a stale result", "worker", w->id, NULL);
		return;
	}
	w->busy = false;
	if (w->poison_job) {
		job_finished(b, w->key, NULL);
		workqueue_done(b->q, w->key, now_ms);
		if (r->outcome == PROTO_OUTCOME_ERROR) /* not written: again, later */
			workqueue_add_rate_limited(b->q, w->key, now_ms);
		else
			strmap_del(b->poison_reports, w->key);
		return;
	}
	struct queuekey qk;
	const char *controller = controller_of(w->key, &qk);
	double seconds = (double)(now_ms - w->started_ms) / 1000.0;
	struct key_state *ks = key_state(b, w->key);
	const char *outcome = "success";
	job_finished(b, w->key, r->outcome == PROTO_OUTCOME_ERROR ? NULL : r->writes);
	workqueue_done(b->q, w->key, now_ms);
	switch (r->outcome) {
	case PROTO_OUTCOME_OK:
		workqueue_forget(b->q, w->key);
		if (ks && ks->poisoned)
			b->poisoned--;
		strmap_del(b->keys, w->key);
		if (r->requeue_after_ms > 0) {
			outcome = "requeue_after"; /* resyncAfterSeconds, as controller-runtime counts RequeueAfter */
			workqueue_add_after(b->q, w->key, r->requeue_after_ms, now_ms);
		}
		break;
	case PROTO_OUTCOME_REQUEUE:
		outcome = r->requeue_after_ms > 0 ? "requeue_after" : "requeue";
		if (ks)
			ks->losses = 0;
		workqueue_add_after(b->q, w->key, r->requeue_after_ms, now_ms);
		break;
	case PROTO_OUTCOME_ERROR:
	default:
		outcome = "error";
		if (ks)
			ks->losses = 0;
		workqueue_add_rate_limited(b->q, w->key, now_ms);
		log_kv(LOG_LEVEL_INFO, 1, "reconcile failed", "key", w->key, "error", r->message, NULL);
		break;
	}
	if (r->related && b->on_related)
		b->on_related(b->related_ud, w->key, r->related);
	if (b->src.on_result)
		b->src.on_result(b->src.ud, controller, outcome, seconds);
}

/* ---------------------------------------------------------------- worker stats */

/* The families the broker takes from workers' STATS, with their label
 * names in the order on_worker_counter gets the values. */
static const struct {
	const char *name;
	const char *const *labels;
} worker_families[] = {
	{ STATSET_REST_REQUESTS, statset_rest_labels },
	{ STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels },
	{ STATSET_LIMITER_SUM_US, statset_limiter_sum_labels },
};

static const char *const *known_family(const char *name)
{
	for (size_t i = 0; i < sizeof(worker_families) / sizeof(worker_families[0]); i++)
		if (!strcmp(worker_families[i].name, name))
			return worker_families[i].labels;
	return NULL;
}

/* One warning per family name the broker does not take (a newer worker,
 * say), not one per STATS. */
static void ignore_family(struct broker *b, const struct worker_rec *w, const char *family, const char *why)
{
	if (!b->stats_ignored && !(b->stats_ignored = strmap_new(NULL)))
		return;
	if (strmap_count(b->stats_ignored) >= REFUSED_MAX)
		strmap_clear(b->stats_ignored);
	if (strmap_has(b->stats_ignored, family))
		return;
	strmap_put(b->stats_ignored, family, NULL);
	log_kv(LOG_LEVEL_WARNING, 0, "ignoring a metric family in a worker's STATS (logged once per family)", "worker",
	       w->id, "family", family, "why", why, NULL);
}

/* labels (a decoded series' object) in the order of names, into values;
 * false unless it has exactly those names. */
static bool label_values(struct json_object *labels, const char *const *names, const char **values)
{
	size_t n = 0;
	for (; names[n]; n++) {
		struct json_object *v = NULL;
		if (!json_object_object_get_ex(labels, names[n], &v))
			return false;
		values[n] = json_object_get_string(v);
	}
	return (size_t)json_object_object_length(labels) == n;
}

/* A worker's cumulative counters: the growth of each series since its last
 * STATS goes to on_worker_counter. */
static void on_stats(struct broker *b, struct worker_rec *w, const struct proto_stats *s)
{
	if (!w->seen)
		return;
	json_object_object_foreach(s->families, family, series)
	{
		const char *const *names = known_family(family);
		if (!names) {
			ignore_family(b, w, family, "not a family the watcher takes from workers");
			continue;
		}
		size_t n = json_object_array_length(series);
		for (size_t i = 0; i < n; i++) {
			struct json_object *one = json_object_array_get_idx(series, i), *labels = NULL, *value = NULL;
			const char *values[PROTO_STATS_MAX_LABELS];
			json_object_object_get_ex(one, "labels", &labels);
			json_object_object_get_ex(one, "value", &value);
			if (!label_values(labels, names, values)) {
				ignore_family(b, w, family, "its series do not have the family's label names");
				break;
			}
			uint64_t grew = 0;
			if (!statset_raise(w->seen, family, names, values, json_object_get_uint64(value), &grew) &&
			    grew && b->src.on_worker_counter)
				b->src.on_worker_counter(b->src.ud, family, names, values, grew);
		}
	}
}

/* Reads every message waiting on the socket. */
static void receive(struct broker *b, int64_t now_ms)
{
	for (;;) {
		zmq_msg_t parts[3];
		int n = 0, more = 1;
		for (; more && n < 3; n++) {
			zmq_msg_init(&parts[n]);
			if (zmq_msg_recv(&parts[n], b->sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&parts[n]);
				for (int i = 0; i < n; i++)
					zmq_msg_close(&parts[i]);
				return; /* EAGAIN: nothing more */
			}
			more = zmq_msg_more(&parts[n]);
		}
		while (more) { /* too many frames: drain the rest */
			zmq_msg_t extra;
			zmq_msg_init(&extra);
			zmq_msg_recv(&extra, b->sock, 0);
			more = zmq_msg_more(&extra);
			zmq_msg_close(&extra);
		}
		const char *id = zmq_msg_data(&parts[0]);
		size_t id_len = zmq_msg_size(&parts[0]);
		struct proto_msg msg = { 0 };
		struct cx_err err = { 0 };
		if (n < 2 ||
		    proto_decode(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]),
				 n > 2 ? zmq_msg_data(&parts[2]) : NULL, n > 2 ? zmq_msg_size(&parts[2]) : 0, &msg,
				 &err) != 0 ||
		    !proto_from_worker(msg.type)) {
			char who[ID_MAX];
			snprintf(who, sizeof(who), "%.*s", (int)(id_len < ID_MAX ? id_len : ID_MAX - 1), id);
			log_kv(LOG_LEVEL_WARNING, 0, "bad message from a worker", "worker", who, "error",
			       n < 2                ? "too few frames"
				       : err.msg[0] ? err.msg
						    : "wrong direction",
			       NULL);
		} else if (msg.type == PROTO_READY) {
			on_ready(b, id, id_len, &msg.ready, now_ms);
		} else {
			struct worker_rec *w = find_worker(b, id, id_len);
			if (w) {
				w->last_seen_ms = now_ms;
				if (msg.type == PROTO_RESULT)
					on_result(b, w, &msg.result, now_ms);
				else if (msg.type == PROTO_STATS)
					on_stats(b, w, &msg.stats);
			}
		}
		proto_msg_clear(&msg);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&parts[i]);
	}
}

/* ---------------------------------------------------------------- jobs */

static struct worker_rec *idle_worker(struct broker *b)
{
	for (size_t i = 0; i < b->n_workers; i++)
		if (!b->workers[i].busy)
			return &b->workers[i];
	return NULL;
}

static int send_job(struct broker *b, struct worker_rec *w, const struct proto_job *job, int64_t budget_ms,
		    int64_t now_ms)
{
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	int r = proto_encode_job(job, &f, &err);
	if (!r)
		r = send_frames(b, w, &f);
	proto_frame_clear(&f);
	if (r) {
		log_kv(LOG_LEVEL_WARNING, 0, "cannot send a job", "worker", w->id, "error",
		       err.msg[0] ? err.msg : strerror(-r), NULL);
		return r;
	}
	w->busy = true;
	w->poison_job = job->kind == PROTO_JOB_POISON;
	w->job = job->job;
	w->attempt = job->attempt;
	snprintf(w->key, sizeof(w->key), "%s", job->key);
	w->started_ms = now_ms;
	w->deadline_ms = now_ms + budget_ms;
	return 0;
}

/* Hands the next ready key to w. False when there is none. */
static bool dispatch_key(struct broker *b, struct worker_rec *w, int64_t now_ms)
{
	for (;;) {
		const char *queued = NULL;
		if (workqueue_get_filtered(b->q, now_ms, b->src.may_dispatch, b->src.ud, &queued) != 0)
			return false;
		char key[QUEUEKEY_MAX];
		snprintf(key, sizeof(key), "%s", queued);
		struct json_object *parent = NULL, *children = NULL;
		int64_t budget = 0;
		struct queuekey qk;
		if (!*controller_of(key, &qk) || b->src.job_for(b->src.ud, key, &parent, &children, &budget) != 0) {
			/* Deleted meanwhile (or no parent's key): nothing to do,
			 * nothing to remember. */
			workqueue_done(b->q, key, now_ms);
			workqueue_forget(b->q, key);
			forget_key(b, key);
			continue;
		}
		const char *controller = qk.controller;
		const char *why = strmap_get(b->poison_reports, key);
		struct key_state *ks = key_state(b, key);
		struct proto_job job = { .job = b->next_job++, .controller = controller, .key = key, .parent = parent };
		if (why) {
			job.attempt = 1;
			job.kind = PROTO_JOB_POISON;
			job.message = why;
		} else if (ks && ks->poisoned) {
			if (kobj_generation(parent) == ks->poisoned_generation && now_ms < ks->poisoned_until_ms) {
				workqueue_done(b->q, key, now_ms);
				json_object_put(parent);
				json_object_put(children);
				continue;
			}
			ks->poisoned = false; /* changed, or waited long enough: try again */
			ks->losses = 0;
			b->poisoned--;
		}
		if (job.kind != PROTO_JOB_POISON) {
			job.attempt = ks ? ++ks->attempt : 1;
			job.kind = PROTO_JOB_SYNC;
			job.children = children;
		}
		job.definition = b->src.definition_for ? b->src.definition_for(b->src.ud, key) : NULL;
		int r = send_job(b, w, &job, budget, now_ms);
		json_object_put(job.definition);
		json_object_put(parent);
		json_object_put(children);
		if (r) {
			/* Sent to nobody: lost, though not the object's fault
			 * (no step towards poisoning it). */
			b->losses++;
			b->losses_by[BROKER_LOSS_UNREACHABLE]++;
			log_kv(LOG_LEVEL_WARNING, 0, "job lost", "key", key, "worker", w->id, "why", "unreachable",
			       NULL);
			workqueue_done(b->q, key, now_ms);
			workqueue_add_rate_limited(b->q, key, now_ms);
			remove_worker(b, w, BROKER_LOSS_UNREACHABLE, "unreachable", now_ms);
			return false;
		}
		if (b->jobs.started)
			b->jobs.started(b->jobs.ud, key);
		return true;
	}
}

static void check_workers(struct broker *b, int64_t now_ms)
{
	for (size_t i = 0; i < b->n_workers;) {
		struct worker_rec *w = &b->workers[i];
		if (w->busy && worker_expired(b, w, now_ms)) {
			char why[128];
			snprintf(why, sizeof(why), "job %llu passed its deadline (%lld ms)", (unsigned long long)w->job,
				 (long long)(w->deadline_ms - w->started_ms));
			remove_worker(b, w, BROKER_LOSS_DEADLINE, why, now_ms);
			continue;
		}
		if (!w->busy && worker_expired(b, w, now_ms)) {
			remove_worker(b, w, BROKER_LOSS_HEARTBEAT, "no heartbeat", now_ms);
			continue;
		}
		i++;
	}
}

void broker_dispatch(struct broker *b, int64_t now_ms)
{
	if (b->zap)
		zapauth_dispatch(b->zap, now_ms);
	receive(b, now_ms);
	check_workers(b, now_ms);
	if (now_ms >= b->next_heartbeat_ms) {
		for (size_t i = 0; i < b->n_workers; i++)
			send_simple(b, &b->workers[i], proto_encode_heartbeat);
		b->next_heartbeat_ms = now_ms + b->heartbeat_ms;
	}
	if (!b->dispatching)
		return;
	struct worker_rec *w;
	while ((w = idle_worker(b)) && dispatch_key(b, w, now_ms))
		;
}

long broker_next_ms(const struct broker *b, int64_t now_ms)
{
	int64_t next = b->next_heartbeat_ms;
	for (size_t i = 0; i < b->n_workers; i++) {
		const struct worker_rec *w = &b->workers[i];
		int64_t due = w->busy ? w->deadline_ms : w->last_seen_ms + (int64_t)b->heartbeat_ms * b->liveness;
		if (due < next)
			next = due;
	}
	return next > now_ms ? (long)(next - now_ms) : 0;
}

void broker_set_job_observer(struct broker *b, const struct broker_job_observer *obs)
{
	if (obs)
		b->jobs = *obs;
	else
		memset(&b->jobs, 0, sizeof(b->jobs));
}

size_t broker_workers(const struct broker *b)
{
	return b->n_workers;
}

size_t broker_busy(const struct broker *b)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n_workers; i++)
		n += b->workers[i].busy;
	return n;
}

size_t broker_busy_for(const struct broker *b, const char *controller)
{
	size_t n = 0, len = strlen(controller);
	for (size_t i = 0; i < b->n_workers; i++) {
		const struct worker_rec *w = &b->workers[i];
		n += w->busy && !strncmp(w->key, controller, len) && w->key[len] == '/';
	}
	return n;
}

uint64_t broker_worker_restarts(const struct broker *b)
{
	return b->restarts;
}

uint64_t broker_refusals(const struct broker *b)
{
	return b->refusals;
}

uint64_t broker_losses(const struct broker *b)
{
	return b->losses;
}

uint64_t broker_losses_by(const struct broker *b, enum broker_loss reason)
{
	return (unsigned)reason < BROKER_LOSS_N ? b->losses_by[reason] : 0;
}

const char *broker_loss_name(enum broker_loss reason)
{
	static const char *const names[BROKER_LOSS_N] = { "restart", "deadline", "unreachable", "heartbeat" };
	return (unsigned)reason < BROKER_LOSS_N ? names[reason] : "?";
}

size_t broker_poisoned(const struct broker *b)
{
	return b->poisoned;
}

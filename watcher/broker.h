/* broker: hands work-queue keys to workers over ZeroMQ and keeps track of
 * who holds what (docs/architecture.md §5.4-§5.6).
 *
 * A ROUTER socket (ZMQ_ROUTER_MANDATORY, ZMQ_ROUTER_HANDOVER) at the
 * configured endpoint; each worker connects a DEALER whose routing id is
 * "w<slot>-<pid>-<instance>" and says READY with its supervisor's instance
 * id, its slot's restart count and its worker set. The broker's table maps
 * each worker to the job it holds (id + attempt). A slot is a worker set
 * and a number: slot 0 of the local set ("") and slot 0 of the set of a
 * worker pod are two slots. A slot is held by one worker at a time:
 *   - a READY from a new pid of the same instance in the slot is a restart:
 *     the old worker is replaced;
 *   - a READY from another instance while the holder is live (idle and
 *     heartbeating, or busy within its job's deadline, and its connection
 *     still open: a heartbeat can be routed to it) is refused, with one
 *     error line per instance and slot: the holder keeps the slot and its
 *     job, the newcomer gets nothing until it says READY again after the
 *     holder was lost (then it takes the slot over).
 * A job is lost, and its key goes back on the queue with backoff, when its
 * worker
 *   - is replaced (a restart, above) re-queues at once;
 *   - falls silent while idle: no HEARTBEAT for 3 intervals (1 s each);
 *   - is busy past the job's deadline (hook timeout + API budget).
 * A RESULT whose job and attempt are not the ones on record is dropped.
 * After 3 losses on the same key the object is poisoned: a worker is sent a
 * "poison" job so that it records Synced=False reason=WorkerCrashed and an
 * Event (the watcher never writes objects), and the key is tried again only
 * when the parent's generation changes or after a long backoff. The poison
 * job goes through the work queue like any job of its key, so it never runs
 * beside a sync of the same object; a lost or failed one is sent again with
 * backoff.
 *
 * Workers report their own counters in STATS, cumulative since each worker
 * process started. The broker keeps, per connected worker (routing id),
 * the last value of each series, and hands only the growth to
 * on_worker_counter: a series reported smaller than before (an older
 * report) adds nothing, a new worker process (a new routing id, or a READY
 * with a new restart count on the same one) starts from zero, and a worker
 * that is removed takes its record with it. Only known families are taken,
 * with exactly their label names: rest_client_requests_total{code,method,
 * host} (common/statset.h); others are ignored with one warning per family
 * name.
 *
 * Who may connect. With CURVE keys the ROUTER is a CURVE server, and a ZAP
 * handler (watcher/zapauth.h) lets in only the authorized client keys:
 * whoever else reaches the port completes no handshake, so it reads no job,
 * answers none and claims no slot. An ipc:// endpoint is a socket file of
 * mode 0600 in a directory of mode 0700: the broker makes the directory
 * when it is missing; an existing one must be the watcher's user's and
 * closed to others, else the start-up stops with an error that names it.
 * It never changes an existing directory's mode (it may be /run or a home
 * directory), and a shared one such as /tmp is refused, since the socket
 * file's mode alone does not stop a peer from replacing it.
 *
 * Single-threaded: the caller polls broker_socket() and, when it is not
 * NULL, broker_auth_socket() (ZMQ_POLLIN) with its other fds and calls
 * broker_dispatch() after every poll. */
#ifndef COXSWAIN_BROKER_H
#define COXSWAIN_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct curvekey;
struct cx_err;
struct json_object;
struct workqueue;

/* Where jobs come from: the caches. */
struct broker_source {
	/* The parent and children of key ("controller/ns/name"), owned by the
	 * broker afterwards, and the job's deadline budget (hook timeout plus
	 * the API calls around it). -ENOENT when the parent is gone. */
	int (*job_for)(void *ud, const char *key, struct json_object **parent, struct json_object **children,
		       int64_t *budget_ms);
	/* Told about every finished job, for metrics; may be NULL. outcome is
	 * "success", "error", "requeue" or "requeue_after" (a time was asked
	 * for: resyncAfterSeconds, or a finalize hook not done yet). */
	void (*on_result)(void *ud, const char *controller, const char *outcome, double seconds);
	void *ud;
	/* Whether key's controller may have jobs now (client-go's HasSynced
	 * rule: not before its parent and child caches have synced). A key it
	 * refuses stays queued and is handed out later. NULL: always. Last, so
	 * positional initialisers of the fields above stay valid. */
	bool (*may_dispatch)(void *ud, const char *key);
	/* Told what a worker's counter grew by, from its STATS messages
	 * (common/proto.h), so that /metrics sums the counts of every process:
	 * family is one the broker takes from workers (below), labels its
	 * label names (NULL-terminated) and values theirs in that order, delta
	 * > 0. NULL: not told. Last, for the same reason as may_dispatch. */
	void (*on_worker_counter)(void *ud, const char *family, const char *const *labels, const char *const *values,
				  uint64_t delta);
	/* The definition a job of key carries (common/proto.h: the controller
	 * object of a metacontroller-defined controller), a new reference, or
	 * NULL for none. NULL: never. Last, as above. */
	struct json_object *(*definition_for)(void *ud, const char *key);
};

struct broker_options {
	const char *endpoint;    /* "ipc://..." or "tcp://host:port" */
	int heartbeat_ms;        /* 0 = 1000 */
	int liveness;            /* missed heartbeats before an idle worker is lost; 0 = 3 */
	int max_losses;          /* losses before a key is poisoned; 0 = 3 */
	int64_t poison_retry_ms; /* a poisoned key is tried again after this; 0 = 10 minutes */
	/* CURVE: the watcher's secret key and the path of the authorized
	 * client keys (common/curvekey.h), both or neither. Borrowed. */
	const struct curvekey *curve_secret;
	const char *authorized_keys;
};

/* q and src are borrowed. Binds the endpoint (an ipc:// file left by a
 * previous run is replaced) and hands out the broker in *out. Returns 0, or a
 * negative errno with *out NULL and err filled. */
int broker_new(const struct broker_options *o, struct workqueue *q, const struct broker_source *src,
	       struct broker **out, struct cx_err *err);

/* Sends DISCONNECT to every worker, closes the socket (linger 0) and frees. */
void broker_free(struct broker **b);

/* The ZeroMQ socket to poll for ZMQ_POLLIN. Borrowed. */
void *broker_socket(struct broker *b);

/* The ZAP handler's socket to poll too, or NULL without CURVE. Borrowed. */
void *broker_auth_socket(struct broker *b);

/* Tells fn the related rules a RESULT carries for its key (the RESULT's
 * related field, common/proto.h: a list, borrowed for the call), for the
 * related informers (watcher/relwatch.h); fn NULL: not told (the default).
 * A setter rather than a broker_source field, so that the positional
 * initialisers of broker_source stay complete. */
void broker_set_related_observer(struct broker *b, void (*fn)(void *ud, const char *key, struct json_object *rules),
				 void *ud);

/* Told when a job of a key is handed out and when it ends, for the echoes
 * of a job's own writes (watcher/echo.h). started: the job (sync or
 * poison) was sent to a worker. finished: it ended, called BEFORE the
 * broker's workqueue_done for key, so that a key added meanwhile is
 * queued again by it; writes is the RESULT's writes (common/proto.h,
 * borrowed for the call; NULL when it had none) when the job was a sync
 * whose outcome is ok or requeue, and NULL when it failed (outcome
 * error), was lost (its worker died, hung or was replaced) or was a
 * poison report. Either function may be NULL. */
struct broker_job_observer {
	void (*started)(void *ud, const char *key);
	void (*finished)(void *ud, const char *key, struct json_object *writes);
	void *ud;
};

/* Replaces the job observer (copied); NULL removes it. A setter, as
 * broker_set_related_observer, so that broker_source's positional
 * initialisers stay complete. */
void broker_set_job_observer(struct broker *b, const struct broker_job_observer *obs);

/* Only the leader hands out jobs; a follower's broker still answers
 * workers (heartbeats) so they stay connected. */
void broker_set_dispatching(struct broker *b, bool on);

/* Reads what workers sent, handles lost workers, sends heartbeats and hands
 * ready keys to idle workers. Call after every poll. */
void broker_dispatch(struct broker *b, int64_t now_ms);

/* Milliseconds until broker_dispatch has timed work (heartbeats, deadlines). */
long broker_next_ms(const struct broker *b, int64_t now_ms);

/* For metrics and tests. */
size_t broker_workers(const struct broker *b);                          /* connected */
size_t broker_busy(const struct broker *b);                             /* holding a job */
size_t broker_busy_for(const struct broker *b, const char *controller); /* holding one of its keys */
/* Worker restarts as the supervisors count them (forks of a slot after its
 * first): each READY carries its slot's restart count, and this is the sum
 * of what those counts grew by per instance and slot. It includes restarts
 * from before this watcher started (the first READY of a running worker
 * reports its slot's count) and workers that died before they said READY
 * (counted when the next worker in the slot says READY). */
uint64_t broker_worker_restarts(const struct broker *b);
/* READYs refused because another instance's live worker held the slot. */
uint64_t broker_refusals(const struct broker *b);
uint64_t broker_losses(const struct broker *b);
/* How a worker was lost; the first BROKER_JOB_LOSS_N reasons can lose a
 * job (coxswain_jobs_lost_total{reason}). */
enum broker_loss {
	BROKER_LOSS_RESTART,     /* "restart": replaced in its slot (its supervisor, or another instance) */
	BROKER_LOSS_DEADLINE,    /* "deadline": busy past the job's deadline */
	BROKER_LOSS_UNREACHABLE, /* "unreachable": its connection was gone when its job was sent */
	BROKER_JOB_LOSS_N,
	BROKER_LOSS_HEARTBEAT = BROKER_JOB_LOSS_N, /* silent while idle: it held no job */
	BROKER_LOSS_N,
};
/* The losses of one reason; they sum to broker_losses. */
uint64_t broker_losses_by(const struct broker *b, enum broker_loss reason);
const char *broker_loss_name(enum broker_loss reason);
/* Connections the ZAP handler refused (0 without CURVE). */
uint64_t broker_auth_refusals(const struct broker *b);
size_t broker_poisoned(const struct broker *b);

#endif

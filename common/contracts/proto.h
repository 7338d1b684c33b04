/* proto: the watcher <-> worker messages (docs/architecture.md §5), encoded and
 * decoded; no ZeroMQ here.
 *
 * A message is two frames, [type][payload]: the type a short ASCII word, the
 * payload a JSON object (empty for HEARTBEAT and DISCONNECT).
 *
 *   worker -> watcher  READY      {"slot": 0, "pid": 4242, "instance": "9f2c4e01a7b3d865",
 *                                  "restarts": 0, "set": ""}
 *                      HEARTBEAT  (empty)
 *                      RESULT     {"job": 17, "attempt": 1, "outcome": "ok"|"error"|"requeue",
 *                                  "requeueAfterMs": 0, "message": "",
 *                                  "related": [{"apiVersion": "v1", "resource": "namespaces",
 *                                               "labelSelector": {...}}, ...],     (optional)
 *                                  "writes": [{"kind": "ConfigMap.v1", "namespace": "default",
 *                                              "name": "web", "resourceVersion": "4711"}, ...]}  (optional)
 *                      STATS      {"families": {"rest_client_requests_total": [
 *                                      {"labels": {"code": "200", "method": "GET", "host": "10.96.0.1:443"},
 *                                       "value": 12}, ...]}}
 *   watcher -> worker  JOB        {"job": 17, "attempt": 1, "kind": "sync", "controller": "websites",
 *                                  "key": "websites/default/web", "parent": {...},
 *                                  "children": {"ConfigMap.v1": {"web": {...}}}}
 *                      JOB        {..., "kind": "poison", "parent": {...}, "message": "why"}
 *                      JOB        {..., "definition": {"kind": "CompositeController", ...}}
 *                      HEARTBEAT  (empty)
 *                      DISCONNECT (empty)
 *
 * The job id is a JSON integer in [0, 2^64); attempt an integer >= 1 that the
 * watcher raises each time it hands the same job out again. children has the
 * shape of the hook request's (docs/architecture.md §4.2): "Kind.apiVersion" ->
 * child name -> object. A "sync" JOB carries children and no message; a
 * "poison" JOB (the key lost 3 workers: the worker writes the WorkerCrashed
 * condition and Event) carries the message and no children.
 *
 * A job of a metacontroller-defined controller (common/mcbridge.h) carries
 * its "definition", the controller object, whatever the kind: the worker
 * builds the controller from it (no config file of its own names it), and
 * builds it again when the object changes.
 *
 * READY's instance is the worker's supervisor's id (random, made once when
 * the supervisor starts: 1 to 64 letters, digits or '-'): the watcher tells
 * two worker sets apart by it. restarts is how many times the supervisor had
 * forked that slot before this worker (0 for its first worker): the
 * watcher's coxswain_worker_restarts_total sums it. set names the worker
 * set whose slots these are: "" for the supervisor beside the watcher (or
 * spawned by it), a name of its own (the pod's, --worker-set) for each
 * supervisor of a scaled-out worker Deployment, so that slot 0 of two pods
 * are two slots (0 to PROTO_SET_MAX letters, digits, '-' or '.'). All
 * three are required: a READY from an older worker, without them, is
 * refused ("missing field \"instance\"") and that worker never gets a job.
 *
 * STATS carries the worker process's own metrics, cumulative since it
 * started: family name -> series, each series its labels (name -> value)
 * and its value, a whole count >= 0 (a counter). A worker sends it at most
 * once per heartbeat interval when a count changed, before each RESULT
 * (so that a job's requests are counted when its result is) and after
 * each READY. The watcher adds what each series grew by since that
 * worker's last STATS to its own /metrics, for the families it knows
 * (watcher/broker.h); a new worker process starts from zero. Family names
 * are metric names ([a-zA-Z_:][a-zA-Z0-9_:]*), label names Prometheus's
 * ([a-zA-Z_][a-zA-Z0-9_]*, not "__..."); at most PROTO_STATS_MAX_FAMILIES
 * families, PROTO_STATS_MAX_SERIES series a family, PROTO_STATS_MAX_LABELS
 * labels a series, no two series of a family with the same labels.
 *
 * Decoding is strict, since the other end is the same program: every field
 * is required and type-checked, unknown fields and unknown types are
 * rejected, and the error names the message type and field:
 *   RESULT: field "attempt": expected an integer >= 1, got -2
 * All decoding errors are -EPROTO.
 *
 * RESULT's related, the one optional field, carries the rules the
 * controller's customize hook answered for the job's parent
 * (common/relrule.h), for the watcher's related informers
 * (watcher/relwatch.h): a list of objects, [] for no rules. Absent when no
 * customize hook ran (none configured, or it failed before answering): the
 * watcher then keeps the rules it had for that parent. proto checks only
 * that it is a list of objects; relrule parses the rules. */
#ifndef COXSWAIN_PROTO_H
#define COXSWAIN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;

/* The frame type words. */
#define PROTO_TYPE_READY      "READY"
#define PROTO_TYPE_HEARTBEAT  "HEARTBEAT"
#define PROTO_TYPE_RESULT     "RESULT"
#define PROTO_TYPE_JOB        "JOB"
#define PROTO_TYPE_DISCONNECT "DISCONNECT"
#define PROTO_TYPE_STATS      "STATS"

enum proto_type {
	PROTO_READY = 1,  /* worker -> watcher */
	PROTO_HEARTBEAT,  /* both ways */
	PROTO_RESULT,     /* worker -> watcher */
	PROTO_JOB,        /* watcher -> worker */
	PROTO_DISCONNECT, /* watcher -> worker */
	PROTO_STATS,      /* worker -> watcher */
};

enum proto_outcome {
	PROTO_OUTCOME_OK = 1,  /* "ok": synced; forget the key's failures */
	PROTO_OUTCOME_ERROR,   /* "error": retry with backoff */
	PROTO_OUTCOME_REQUEUE, /* "requeue": add again after requeue_after_ms */
};

enum proto_job_kind {
	PROTO_JOB_SYNC = 1, /* "sync": run the sync (or finalize) hook */
	PROTO_JOB_POISON,   /* "poison": record WorkerCrashed on the parent */
};

#define PROTO_INSTANCE_MAX 64
#define PROTO_SET_MAX      253

struct proto_ready {
	int slot;             /* >= 0 */
	int pid;              /* > 0 */
	const char *instance; /* the supervisor's id: 1..PROTO_INSTANCE_MAX of [A-Za-z0-9-] */
	int restarts;         /* >= 0: forks of this slot before this worker */
	const char *set;      /* the worker set: "" or 1..PROTO_SET_MAX of [A-Za-z0-9.-]; NULL encodes as "" */
};

/* Whether s is a valid instance id (see above). */
bool proto_instance_valid(const char *s);

/* Whether s is a valid worker set name (see above; "" is). */
bool proto_set_valid(const char *s);

struct proto_result {
	uint64_t job;
	int attempt; /* >= 1 */
	enum proto_outcome outcome;
	/* >= 0. requeue: when to run the key again; ok: the resync the hook
	 * asked for (resyncAfterSeconds), 0 for none; error: 0 (the queue's
	 * backoff decides). */
	int64_t requeue_after_ms;
	const char *message;         /* what went wrong, for conditions and Events; "" for none.
				  * NULL is encoded as "". */
	struct json_object *related; /* a list of rule objects, or NULL: not sent (see above) */
	struct json_object *writes;  /* a list of write entries (see above), or NULL: not sent */
};

#define PROTO_WRITES_MAX 4096

/* Appends to writes (a JSON array, RESULT's writes) the entry for obj, the
 * API server's answer to a write (borrowed: its apiVersion, kind and
 * metadata namespace, name and resourceVersion). Does nothing, returning
 * 0, when writes or obj is NULL, obj lacks one of those fields, or writes
 * holds PROTO_WRITES_MAX entries already (the event of a write not
 * reported syncs the parent again: only a wasted sync). Returns -ENOMEM
 * when out of memory. */
int proto_writes_note(struct json_object *writes, struct json_object *obj);

/* Appends the entries of more (a writes list, borrowed; NULL is fine) to
 * writes, up to PROTO_WRITES_MAX in all. Returns 0 or -ENOMEM. */
int proto_writes_append(struct json_object *writes, struct json_object *more);

struct proto_job {
	uint64_t job;
	int attempt; /* >= 1 */
	enum proto_job_kind kind;
	const char *controller;         /* non-empty */
	const char *key;                /* non-empty: "controller/namespace/name" */
	struct json_object *parent;     /* an object */
	struct json_object *children;   /* sync: an object as above; poison: NULL */
	const char *message;            /* poison: why (non-empty); sync: NULL */
	struct json_object *definition; /* optional (either kind): the CompositeController or
					   DecoratorController object a metacontroller-defined
					   controller was made from; NULL for a coxswain.yaml one */
};

#define PROTO_STATS_MAX_FAMILIES 32
#define PROTO_STATS_MAX_SERIES   4096
#define PROTO_STATS_MAX_LABELS   8

struct proto_stats {
	/* family name -> [{"labels": {name: value}, "value": n}, ...], as above */
	struct json_object *families;
};

/* One message. For encoding, the caller fills it and keeps ownership of
 * everything it points to. From proto_decode, everything it points to
 * (strings, parent, children) belongs to the message and lives until
 * proto_msg_clear; take a reference (json_object_get) to keep parent,
 * children or families longer. */
struct proto_msg {
	enum proto_type type;
	union {
		struct proto_ready ready;
		struct proto_result result;
		struct proto_job job;
		struct proto_stats stats;
	};
	struct json_object *root; /* private: the decoded payload */
};

/* An encoded message: the two frames. */
struct proto_frame {
	const char *type; /* static: one of PROTO_TYPE_* */
	char *payload;    /* malloc'd, NUL-terminated; "" for empty payloads */
	size_t len;       /* strlen(payload) */
};

/* The type word for t ("READY", ...), or "?" for values outside the enum. */
const char *proto_type_name(enum proto_type t);

/* Whether t is sent by workers (READY, HEARTBEAT, RESULT, STATS) or by the watcher
 * (JOB, HEARTBEAT, DISCONNECT): a receiver rejects messages that travel
 * the wrong way. */
bool proto_from_worker(enum proto_type t);
bool proto_from_watcher(enum proto_type t);

const char *proto_outcome_name(enum proto_outcome o);
const char *proto_job_kind_name(enum proto_job_kind k);

/* Encodes msg into *out (which the caller later passes to
 * proto_frame_clear). Checks msg as proto_decode would check the result, so
 * nothing is sent that the other end refuses. Returns 0, -EINVAL with err
 * naming the message type and field, or -ENOMEM. *out is zeroed on error. */
int proto_encode(const struct proto_msg *msg, struct proto_frame *out, struct cx_err *err);

/* The same for each message type. */
int proto_encode_ready(const struct proto_ready *ready, struct proto_frame *out, struct cx_err *err);
int proto_encode_heartbeat(struct proto_frame *out, struct cx_err *err);
int proto_encode_result(const struct proto_result *result, struct proto_frame *out, struct cx_err *err);
int proto_encode_job(const struct proto_job *job, struct proto_frame *out, struct cx_err *err);
int proto_encode_disconnect(struct proto_frame *out, struct cx_err *err);
int proto_encode_stats(const struct proto_stats *stats, struct proto_frame *out, struct cx_err *err);

/* Frees out->payload and zeroes *out. NULL is fine. */
void proto_frame_clear(struct proto_frame *out);

/* Decodes the frames [type (type_len bytes)][payload (len bytes)] into *msg,
 * which the caller passes to proto_msg_clear once done with it (neither
 * frame need be NUL-terminated; payload may be NULL when len is 0). Returns
 * 0, or -EPROTO with err naming the type and field, or -ENOMEM; on error
 * *msg is left zeroed (clearing it is harmless). The payload must be UTF-8.
 * HEARTBEAT and DISCONNECT take an empty payload or an empty JSON object. */
int proto_decode(const void *type, size_t type_len, const void *payload, size_t len, struct proto_msg *msg,
		 struct cx_err *err);

/* Releases what a decoded msg owns and zeroes it. Safe on a zeroed msg, on
 * one proto_decode failed on, and twice. On a msg filled for encoding it
 * only zeroes it: the caller's objects are not touched. */
void proto_msg_clear(struct proto_msg *msg);

#endif

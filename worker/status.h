/* status: the parent's .status after a reconcile, and writing it.
 *
 * The new status is the hook's status object with two fields of coxswain's:
 *
 *   observedGeneration  the parent's metadata.generation
 *   conditions          Synced and Ready (any other condition types the hook
 *                       returns are kept), each {type, status "True"|"False",
 *                       reason, message, lastTransitionTime, observedGeneration}
 *
 * Synced=True (reason ReconcileSucceeded) when the hook ran and every child
 * applied; else False with reason HookFailed, InvalidHookResponse,
 * ApplyFailed, ChildConflict (a child exists and another object, or nobody,
 * controls it: it was not written), WorkerCrashed, FinalizeFailed or
 * Finalizing (deletion waits for the finalize hook) and the message verbatim
 * (for ApplyFailed and ChildConflict, each such child with its error).
 * Ready is the hook's own status.ready when it is a JSON boolean (reason
 * HookReportedReady / HookReportedNotReady, message the hook's status.message
 * when it is a string), else a copy of Synced.
 * lastTransitionTime (RFC 3339, UTC, seconds) keeps the parent's current value
 * while a condition's status stays the same, and is `now` when it flips.
 *
 * When the hook did not answer (it failed, or the worker crashed) the
 * parent's current status fields are kept and only observedGeneration and
 * the conditions change: a failing hook does not wipe what users see.
 *
 * That is for coxswain.yaml controllers. A metacontroller definition's
 * parent gets what metacontroller writes (status_compute_mc): the hook's
 * status and observedGeneration, coxswain's conditions only where the CRD's
 * status schema declares them.
 *
 * Computing (status_compute, status_merge_patch, status_unchanged) is pure
 * and takes the clock as an argument; status_write is the one API call. */
#ifndef COXSWAIN_STATUS_H
#define COXSWAIN_STATUS_H

#include <stdbool.h>
#include <time.h>

struct apply_report;
struct cx_err;
struct discovery;
struct json_object;
struct kclient;

enum status_reason {
	STATUS_OK,                    /* Synced=True, reason ReconcileSucceeded */
	STATUS_HOOK_FAILED,           /* HookFailed: exit code, timeout, HTTP error */
	STATUS_INVALID_HOOK_RESPONSE, /* InvalidHookResponse: bad JSON, wrong types, bad child */
	STATUS_APPLY_FAILED,          /* ApplyFailed: some child did not apply */
	STATUS_WORKER_CRASHED,        /* WorkerCrashed: the object is poisoned */
	STATUS_FINALIZE_FAILED,       /* FinalizeFailed: the finalize hook or the finalizer removal failed */
	STATUS_CHILD_CONFLICT,        /* ChildConflict: a child exists and is not this parent's */
	STATUS_FINALIZING,            /* Finalizing: the finalize hook answered finalized: false */
};

/* What happened in one reconcile; everything borrowed. */
struct status_outcome {
	enum status_reason reason;        /* STATUS_OK with failed children in apply becomes ApplyFailed */
	const char *message;              /* the failure (a cx_err message), shown verbatim; may be NULL */
	const struct apply_report *apply; /* the children's results, or NULL */
	struct json_object *hook_status;  /* the hook response's "status", or NULL when there is none */
};

/* The CamelCase reason of r ("HookFailed"); "ReconcileSucceeded" for STATUS_OK. */
const char *status_reason_name(enum status_reason r);

/* Formats t as RFC 3339 UTC with second precision ("2026-11-25T14:00:00Z"). */
void status_format_time(time_t t, char buf[static 32]);

/* The parent's new .status (owned by the caller) for outcome o at time now:
 * see the top of this file. parent is borrowed (metadata.generation and the
 * current status.conditions are read). NULL only when out of memory. */
struct json_object *status_compute(struct json_object *parent, const struct status_outcome *o, time_t now);

/* The status of a parent whose kind is not a custom resource (a Pod, a
 * StatefulSet, a kind served by an aggregated API): coxswain's conditions
 * and observedGeneration never go there (a Pod's Ready condition is the
 * kubelet's), so it is the current status with the hook's status merged in
 * (objects key by key, at any depth; other values replaced), which never
 * removes a field another controller wrote. Owned by the caller; NULL when
 * the hook returned no status (nothing to write) or out of memory. */
struct json_object *status_compute_builtin(struct json_object *parent, struct json_object *hook_status);

/* The status of a parent whose controller is a metacontroller definition
 * (cc->origin == CONFIG_ORIGIN_METACONTROLLER), as metacontroller writes
 * it: the hook's status object (none: {}) with observedGeneration set to
 * the parent's metadata.generation, replacing the old status wholesale
 * (status_write's merge patch removes every field the hook no longer
 * returns). A hook that gave no answer (HookFailed, InvalidHookResponse,
 * WorkerCrashed, FinalizeFailed) writes nothing (*out = NULL): the
 * failure shows as a Warning Event and in the log, and the status users see
 * stays as the last answer left it.
 * With conditions (the CRD's status schema declares a `conditions`
 * property explicitly: status_schema_declares_conditions), it is
 * status_compute's instead: the same, plus Synced and Ready, on failures
 * too. Returns 0 (*out owned by the caller, or NULL: nothing to write) or
 * -ENOMEM. */
int status_compute_mc(struct json_object *parent, const struct status_outcome *o, bool conditions, time_t now,
		      struct json_object **out);

/* The item of status.conditions of type in o (any object), or NULL;
 * borrowed from o. */
struct json_object *status_condition(struct json_object *o, const char *type);

/* Whether a CRD's status schema (crdschema_info.status_schema, may be
 * NULL) declares status.conditions in its properties: a status kept whole
 * by x-kubernetes-preserve-unknown-fields does not count, since the CRD's
 * author did not ask for conditions there. */
bool status_schema_declares_conditions(struct json_object *status_schema);

/* Whether the parent's current .status already equals status (deep, numbers
 * by value; a missing current status equals nothing): nothing to write. */
bool status_unchanged(struct json_object *parent, struct json_object *status);

/* The RFC 7386 merge patch {"status": ...} that turns the parent's current
 * status into status: status itself, plus null for every key (at any depth
 * of nested objects) that is in the current status but not in the new one.
 * Owned by the caller; NULL when out of memory. */
struct json_object *status_merge_patch(struct json_object *parent, struct json_object *status);

/* Writes status to the parent unless status_unchanged says it is already
 * there (*written = false, no request; written may be NULL). The write is a
 * merge patch (status_merge_patch) to the status subresource; it carries no
 * resourceVersion, so a spec change racing the write does not fail it: only
 * workers write status, and the watcher never gives one key to two workers
 * at once.
 * A kind without the status subresource (*main_resource = true; may be
 * NULL) is written through the object itself. There every change to status
 * bumps metadata.generation by one, so the observedGeneration fields equal
 * to the current generation are written as generation + 1: the generation
 * this very write makes, which has the same spec. The patch then carries the
 * parent's resourceVersion, so that a spec change in between fails it
 * (-EAGAIN) instead of being claimed as observed. The next sync finds
 * nothing to write: no loop.
 * *out (when out is not NULL) receives the updated parent, or NULL when
 * nothing was written. Returns 0 or a kclient/discovery code with err filled. */
int status_write(struct kclient *c, struct discovery *d, struct json_object *parent, struct json_object *status,
		 bool *written, bool *main_resource, struct json_object **out, struct cx_err *err);

#endif

/* reconcile: what a worker does with one job (docs/architecture.md §2.3).
 *
 * sync job, parent alive: make sure the finalizer is there when the
 * controller has a finalize hook, and not there when it has none (a config
 * that had one left it), run the sync hook with {controller,
 * parent, children}, apply the children it returns and prune the rest,
 * write the parent's status (the hook's status, observedGeneration,
 * conditions Synced and Ready) and post Events.
 * sync job, parent being deleted: run the finalize hook until it answers
 * finalized, then remove our finalizer (at once when the controller has no
 * finalize hook any more).
 * poison job: record Synced=False reason=WorkerCrashed and a Warning Event.
 *
 * Every failure ends up in three places with the same words: the RESULT's
 * message (logs), the parent's conditions and a Warning Event. */
#ifndef COXSWAIN_RECONCILE_H
#define COXSWAIN_RECONCILE_H

#include <stdint.h>

#include "err.h"
#include "proto.h"

struct config;
struct json_object;
struct kclient;
struct reconciler;

/* c and cfg are borrowed and must outlive the reconciler, handed out in
 * *out. Returns 0, or -ENOMEM with *out NULL and err filled. */
int reconciler_new(struct kclient *c, const struct config *cfg, struct reconciler **out, struct cx_err *err);

void reconciler_free(struct reconciler **r);

struct reconcile_outcome {
	enum proto_outcome outcome;
	int64_t requeue_after_ms;          /* ok: the hook's resyncAfterSeconds; requeue: when to look again */
	char message[CX_ERR_MSG_MAX];      /* what went wrong; "" when nothing did */
	struct json_object *related_rules; /* owned (json_object_put): the customize hook's rules for
					       RESULT's related (common/proto.h); NULL when none ran */
	struct json_object *writes;        /* owned (json_object_put): RESULT's writes (common/proto.h),
					       what the job wrote; NULL when out of memory */
};

/* Does job and says how it went. The caller releases out->related_rules
 * and out->writes. */
void reconcile_job(struct reconciler *r, const struct proto_job *job, struct reconcile_outcome *out);

#endif

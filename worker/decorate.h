/* decorate: what a worker does with a job of a DecoratorController
 * (config_controller.kind == CONFIG_KIND_DECORATOR): metacontroller's
 * decorator, whose "parent" is the decorated object and whose children are
 * its attachments.
 *
 * The decorated object is not owned. coxswain changes on it only:
 *   - the labels and annotations the hook returns, by server-side apply as
 *     cc->field_manager (force: the hook's value wins a conflict, as
 *     metacontroller's update does). A key the hook stops returning is
 *     removed when coxswain's manager was its only owner (what apply does);
 *     a key it returns as null is removed whoever set it (metacontroller's
 *     null: a merge patch after the apply);
 *   - the status, only when the answer has one (absent or null: left
 *     alone). On a custom resource the hook's status replaces the whole
 *     status, as metacontroller's update does; on a built-in kind (a Pod's
 *     status is the kubelet's) it is merged in key by key and never removes
 *     a field (status_compute_builtin). Through the status subresource when
 *     the kind has one, else through the object (worker/status.h);
 *   - cc->finalizer, while the controller has a finalize hook.
 * Everything else on it (spec, other managers' labels, other finalizers,
 * ownerReferences) is never written.
 *
 * The attachments are owned like a composite's children: applied and pruned
 * with worker/apply.h (controller ownerReference to the object, each kind's
 * updateStrategy), and annotated metacontroller.k8s.io/decorator-controller
 * = <DecoratorController name> as metacontroller marks them.
 *
 * Selection: an object cc->annotation_selector does not select (it changed
 * since the job was queued) is not synced; its finalizer comes off if it
 * has ours (it is no longer decorated). Being deleted with our finalizer,
 * it is finalized all the same.
 *
 * Deletion: as worker/reconcile.h's composite: the finalize hook is asked
 * until it answers finalized: true, each answer applied like a sync answer
 * (its attachments only when it lists them and the garbage collector is not
 * at work already), then the finalizer comes off.
 *
 * Failures go to the job's RESULT message and a Warning Event on the object
 * (coxswain writes no conditions on an object it does not own). */
#ifndef COXSWAIN_DECORATE_H
#define COXSWAIN_DECORATE_H

#include <stdbool.h>
#include <stddef.h>

#include "hook.h"
#include "proto.h"
#include "reconcile.h"

struct config_controller;
struct config_hook;
struct crdschema;
struct discovery;
struct events;
struct json_object;
struct kclient;
struct related;

/* The metacontroller annotation on every attachment. */
#define DECORATE_ATTACHMENT_ANNOTATION "metacontroller.k8s.io/decorator-controller"

/* What decorate_job needs from the reconciler; all borrowed. */
struct decorate_env {
	struct kclient *c;
	struct discovery *d;
	struct crdschema *schemas;
	struct events *events;               /* Events about the decorated object */
	const struct config_controller *cc;  /* kind CONFIG_KIND_DECORATOR; children = attachments */
	struct json_object *controller;      /* the request's "controller" */
	const struct hook_child_kind *kinds; /* cc->n_children of them: the attachment kinds */
	struct related *rel;                 /* the customize hook's related objects (worker/related.h);
						    NULL: related stays {} */
	struct json_object *writes;          /* RESULT's writes (common/proto.h): every write is noted
						    in it; NULL: not noted */
};

/* Does job (sync or poison) for a decorator and says how it went: ok (with
 * the hook's resyncAfterSeconds), requeue (a finalize hook not done yet) or
 * error (message filled). */
void decorate_job(const struct decorate_env *env, const struct proto_job *job, struct reconcile_outcome *out);

/* ---- exposed for the unit tests ---- */

/* The server-side apply body for the hook's labels and annotations on
 * object (borrowed): {apiVersion, kind, metadata: {name, namespace,
 * labels, annotations}} with only the non-null members of labels and
 * annotations (borrowed; NULL = none), each map left out when it has none.
 * Owned; NULL when out of memory. */
struct json_object *decorate_metadata_apply(struct json_object *object, struct json_object *labels,
					    struct json_object *annotations);

/* The merge patch that removes from object the keys labels and
 * annotations set to null and that object still has (another manager's:
 * the apply removed its own): {"metadata": {"labels": {"k": null}, ...}}.
 * Owned; NULL when there is nothing to remove (or out of memory). */
struct json_object *decorate_null_patch(struct json_object *object, struct json_object *labels,
					struct json_object *annotations);

/* Whether object's managedFields has an Apply entry of field_manager (it
 * owns something there that an empty apply would take away). */
bool decorate_manages(struct json_object *object, const char *field_manager);

#endif

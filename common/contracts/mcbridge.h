/* mcbridge: a metacontroller definition (common/mcdef.h) as the
 * config_controllers the watcher and the worker run (common/cxconfig.h).
 *
 * metacontroller names resources by their plural ("resource: configmaps");
 * coxswain's controllers name kinds. Discovery turns one into the other, so
 * a resource the API server does not serve (yet: a CRD installed later) is
 * an -ENOENT the caller retries; the message names the controller and the
 * field ("CompositeController \"x\": spec.parentResource.resource: ...").
 *
 * A CompositeController is one config_controller named metadata.name. A
 * DecoratorController is one per spec.resources[] entry, named
 * metadata.name for entry 0 and "<name>.r<i>" for entry i >= 1 (each has
 * its own parents: queue keys and metrics stay apart), children = the
 * attachments, annotation_selector = that entry's. What each gets:
 *
 *   origin METACONTROLLER, kind, mc (borrowed: the caller keeps the mcdef
 *   alive), object (the controller object: the hook request's "controller"),
 *   parent/children api_version + kind (resolved) + resource, update
 *   strategies (OnDelete the default; a decorator's RollingRecreate /
 *   RollingInPlace are Recreate / InPlace, as metacontroller does), hooks
 *   (webhook url = the effective URL, timeout_ms = the Go duration rounded
 *   up to a millisecond, timeout_seconds rounded up to a second, version,
 *   unmarshal, mc), label_selector (the API's labelSelector syntax,
 *   common/selector.h; NULL for a selector of everything),
 *   ignore_status_changes, generate_selector, resync (max(1, v) when set, 0
 *   when absent), namespace "" (all), finalizer metacontroller's own
 *   ("metacontroller.io/compositecontroller-<name>",
 *   "metacontroller.io/decoratorcontroller-<name>"), field_manager
 *   "coxswain/<name>". hooks.preUpdateChild / postUpdateChild are never
 *   called, as in metacontroller. */
#ifndef COXSWAIN_MCBRIDGE_H
#define COXSWAIN_MCBRIDGE_H

#include <stddef.h>

struct config_controller;
struct cx_err;
struct discovery;
struct mcdef_controller;

/* Fills *out with *n_out new config_controllers (an owned array: call
 * mcbridge_free) for mc. Returns 0, or a negative code with err filled
 * (-ENOENT: a resource not served; -ENOMEM; the kclient's codes), *out NULL. */
int mcbridge_controllers(const struct mcdef_controller *mc, struct discovery *d, struct config_controller **out,
			 size_t *n_out, struct cx_err *err);

/* config_controller_clear on each of the n, then free(*ccs); *ccs = NULL. */
void mcbridge_free(struct config_controller **ccs, size_t n);

/* What coxswain refuses in a definition that metacontroller would run
 * (mcdef already refused what metacontroller itself cannot run): -EINVAL
 * with err naming the controller and the field, 0 otherwise. No API call,
 * so a manifest is checked when it is loaded. Today one field:
 * spec.parentResource.revisionHistory.fieldPaths other than ["spec"] (the
 * default): coxswain keeps no ControllerRevisions, so it cannot hold back
 * children at the revision of the other parent fields; a rollout (worker/
 * rollout.h) takes every change of the parent. */
int mcbridge_check(const struct mcdef_controller *mc, struct cx_err *err);

/* The name of a DecoratorController's i-th resources[] entry's controller
 * into buf: name for 0, "name.r<i>" otherwise. */
void mcbridge_decorator_name(const char *name, size_t i, char *buf, size_t len);

#endif

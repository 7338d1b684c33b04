/* finalizer: a controller's finalizer on a parent: cc->finalizer, which is
 * "coxswain.io/<controller>" for a coxswain.yaml controller and
 * metacontroller's own ("metacontroller.io/compositecontroller-<name>",
 * "metacontroller.io/decoratorcontroller-<name>") for a metacontroller
 * definition, so that a parent moves between the two without getting stuck.
 *
 * A controller with a finalize hook puts its finalizer on every parent, so
 * that deleting a parent waits for the finalize hook; once the hook answers
 * finalized=true the finalizer comes off and the API server deletes the
 * parent. A controller without a finalize hook never adds one (but removes
 * one left from a config that had the hook: finalizer_ensure).
 *
 * Concurrent writers: other controllers add and remove their own finalizers
 * on the same object. Each change is a merge patch that sets the whole
 * metadata.finalizers list (the current list with ours added at the end or
 * taken out: the others are kept) together with metadata.resourceVersion as
 * a precondition, so a list someone changed since we read it is a 409
 * Conflict, never a lost update. On a conflict the parent is read again and
 * the change recomputed, up to FINALIZER_ATTEMPTS times. (A JSON patch with
 * `test` of the list would do the same but fails with 422, which cannot be
 * told from other invalid requests; `add` to the end of a list needs the list
 * to exist already.) */
#ifndef COXSWAIN_FINALIZER_H
#define COXSWAIN_FINALIZER_H

#include <stdbool.h>
#include <stddef.h>

struct config_controller;
struct cx_err;
struct discovery;
struct json_object;
struct kclient;

#define FINALIZER_ATTEMPTS 5

/* Whether parent's metadata.finalizers holds name. */
bool finalizer_has(struct json_object *parent, const char *name);

/* Brings parent to the wanted state for cc (cc->finalizer must be set:
 * -EINVAL otherwise): the finalizer present when cc
 * has a finalize hook and the parent is not being deleted (the API refuses
 * new finalizers then), absent when cc has no finalize hook. A no-op (no
 * request) when parent already is so. *changed (changed may be NULL) says
 * whether a write was made; *out (when out is not NULL) receives the parent as it now is (owned;
 * a new reference to parent when nothing changed). Returns 0 or a
 * kclient/discovery code with err filled (-ENOENT: the parent is gone). */
int finalizer_ensure(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		     struct json_object *parent, bool *changed, struct json_object **out, struct cx_err *err);

/* Takes cc's finalizer off parent: after the finalize hook said finalized.
 * Other finalizers stay. A no-op when it is not there; a parent already gone
 * (404) is success too. *changed and *out as for finalizer_ensure (*out is
 * NULL when the parent was already gone). */
int finalizer_remove(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		     struct json_object *parent, bool *changed, struct json_object **out, struct cx_err *err);

#endif

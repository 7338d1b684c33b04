/* controller: the watch side of one configured controller.
 *
 * It waits until the parent's CRD exists and is Established (the operator
 * never creates it: it only reads CRDs), then runs an informer for the
 * parents and one per child kind, maps every child event to its parent
 * through the controller ownerReference, and puts parent keys on the work
 * queue: on any change of a parent or of one of its children, and for
 * everything every resyncPeriodSeconds. A watch event that merely echoes a
 * write its workers reported (RESULT's writes) queues nothing
 * (watcher/echo.h). When the CRD goes away it stops its
 * informers and waits again; other controllers are not affected.
 *
 * Queue keys are "<controller>/<namespace>/<name>" ("<controller>/<name>"
 * for cluster-scoped parents). */
#ifndef COXSWAIN_CONTROLLER_H
#define COXSWAIN_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_controller;
struct controller;
struct cx_err;
struct discovery;
struct informer;
struct json_object;
struct kclient;
struct kwatch_mux;
struct workqueue;

/* What every controller of the watcher shares; all borrowed. */
struct controller_env {
	struct kclient *client;
	struct kwatch_mux *mux;
	struct discovery *discovery;
	struct workqueue *queue;
};

/* cc and env are borrowed and must outlive the controller, handed out in
 * *out. Returns 0, or a negative errno with *out NULL and err filled. */
int controller_new(const struct config_controller *cc, const struct controller_env *env, struct controller **out,
		   struct cx_err *err);

void controller_free(struct controller **ctl);

/* Moves the controller on at now_ms: the CRD gate (crds: the CRD informer,
 * borrowed, or NULL while it is not synced), its informers, the periodic
 * resync. */
void controller_tick(struct controller *ctl, const struct informer *crds, int64_t now_ms);

/* Milliseconds until controller_tick has something to do; -1 if nothing is
 * scheduled (it still wants a tick when the CRDs change). */
long controller_next_ms(const struct controller *ctl, int64_t now_ms);

/* True when its CRD is Established and every cache has synced. */
bool controller_ready(const struct controller *ctl);

/* Why it is not ready ("waiting for CRD websites.example.com (not
 * Established)"; "waiting for the caches to sync: /api/v1/secrets (list
 * /api/v1/secrets: 403 Forbidden ...)", naming every cache not synced and
 * its last API error), or "" when ready. Borrowed. */
const char *controller_waiting_for(const struct controller *ctl);

/* When one of its informers (parent or child) has failed every LIST and
 * WATCH attempt for at least for_ms at now_ms (an API server outage, or an
 * identity that lost its rights): true, with why naming the resource and
 * the API error. Else false. */
bool controller_failing(const struct controller *ctl, int64_t now_ms, int64_t for_ms, char *why, size_t cap);

const char *controller_name(const struct controller *ctl);

/* The parent under ns_name ("ns/name" or "name") and its children as the
 * hook request wants them: {"Kind.apiVersion": {"name": object}}, with an
 * entry for every declared kind. Both owned by the caller. Returns -ENOENT
 * when the parent is not in the cache (deleted meanwhile). */
int controller_job_objects(const struct controller *ctl, const char *ns_name, struct json_object **parent,
			   struct json_object **children);

/* Number of parents cached. */
size_t controller_parents(const struct controller *ctl);

/* Whether cc's informers hand obj (a parent, borrowed) to the queue: always,
 * except for an object cc->annotation_selector (a DecoratorController's
 * resources[].annotationSelector, evaluated here on its annotations: the
 * API server cannot filter by them) does not select and that does not
 * carry cc->finalizer (with it, the worker must still take it off or run
 * the finalize hook). An object that stops being selected thus stops
 * being synced. */
bool controller_selects(const struct config_controller *cc, struct json_object *obj);

/* The job of the parent ns_name ("ns/name" or "name") was handed to a
 * worker: until controller_job_finished, the watch events of the parent
 * and its children are held, to be judged by the job's RESULT
 * (watcher/echo.h). */
void controller_job_started(struct controller *ctl, const char *ns_name);

/* That job ended: writes is its RESULT's writes (common/proto.h; borrowed)
 * when it succeeded, NULL when it failed, was lost or was a poison report.
 * The events held meanwhile that echo a reported write are dropped; if any
 * other was held, the parent's key is added to the work queue (call this
 * before workqueue_done, so that the key is queued again as an event in
 * flight always makes it). The writes are remembered, so that their
 * echoes arriving later are dropped too. */
void controller_job_finished(struct controller *ctl, const char *ns_name, struct json_object *writes);

/* Watch events dropped as echoes of its workers' own writes, so far
 * (coxswain_watch_events_echo_dropped_total). */
uint64_t controller_echo_dropped(const struct controller *ctl);

/* Parents the echo record keeps something of: a job in flight, or writes
 * whose events have not come back yet (coxswain_echo_pending_parents). */
size_t controller_echo_pending(const struct controller *ctl);

#endif

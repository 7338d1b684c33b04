/* rollout: metacontroller's rolling update methods, RollingRecreate and
 * RollingInPlace, for the children of one parent in one sync.
 *
 * What metacontroller documents: "Delete (RollingRecreate) / update
 * (RollingInPlace) each child that differs from the desired state, one at
 * a time ... Pause the rollout if at any time one of the children that
 * have already been updated fails one or more status checks." Its code
 * (pkg/controller/composite/rolling_update.go) goes one child at a time in
 * the order the sync hook returned them, and moves the next one only when
 * every child already on the latest revision passes; per sync it moves at
 * most one.
 *
 * coxswain keeps no ControllerRevisions, so "on the latest revision" is read
 * off the children themselves. For the desired children of a rolling kind,
 * in the hook's order:
 *   - a child not observed yet is new: it is created at once (as in
 *     metacontroller, where an unclaimed child goes to the latest
 *     revision), and counts as updated;
 *   - a child whose observed object already has what the hook asks
 *     (rollout_updated) is updated;
 *   - a child that differs is pending.
 * The first pending child is written (Recreate or InPlace as the method
 * says) when every updated child passes rollout_check; otherwise the
 * rollout waits and no pending child is written. Every other pending child
 * is held: not written this sync (metacontroller would keep it at the
 * desired state of the parent's older revision; coxswain leaves it as it
 * is, so a change to a parent field outside revisionHistory.fieldPaths also
 * waits for the rollout). The next sync (a child's change, or the parent's
 * resync) continues. Children of other kinds are written as their method
 * says, untouched by the rollout; pruning is not held either (metacontroller
 * deletes undesired children at once).
 *
 * The outcome goes into the parent's status as metacontroller puts it
 * there, a condition {type: Updated, status, reason, message}:
 *   RolloutWaiting     False  why it waits ("child Pod web-1 failed status
 *                             check: \"Ready\" condition status is \"False\"
 *                             (want \"True\")")
 *   RolloutProgressing False  "updating Pod web-2"
 *   OnLatestRevision   True   every child of a rolling kind is updated
 * (rollout_set_condition; none when the controller has no rolling kind).
 *
 * Pure: no API calls; apply.c calls rollout_plan and writes what it says. */
#ifndef COXSWAIN_ROLLOUT_H
#define COXSWAIN_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "cxconfig.h"

struct json_object;
struct mcdef_child;

/* One desired child of a rolling kind. */
struct rollout_child {
	enum update_strategy strategy;    /* UPDATE_ROLLING_RECREATE or UPDATE_ROLLING_INPLACE */
	const struct mcdef_child *checks; /* its kind's statusChecks (config_child.mc), NULL: none */
	const char *kind, *name;          /* for messages */
	struct json_object *desired;      /* stamped and normalised (apply.h); borrowed */
	struct json_object *observed;     /* the observed child, this parent's; NULL: none yet */
	bool hold;                        /* out: not to be written in this sync */
};

enum rollout_state {
	ROLLOUT_NONE,        /* no child of a rolling kind: no condition */
	ROLLOUT_DONE,        /* every one is updated */
	ROLLOUT_PROGRESSING, /* one is being updated now */
	ROLLOUT_WAITING,     /* an updated child fails its checks: nothing more is updated */
};

#define ROLLOUT_MESSAGE_MAX 512

struct rollout {
	enum rollout_state state;
	char message[ROLLOUT_MESSAGE_MAX];
};

/* Whether s is RollingRecreate or RollingInPlace. */
bool rollout_is_rolling(enum update_strategy s);

/* The method a rolling strategy writes a child with (Recreate, InPlace);
 * any other strategy is returned as it is. */
enum update_strategy rollout_method(enum update_strategy s);

/* Whether observed already has what desired (stamped, normalised) asks for:
 * apply_differs finds nothing, and desired's labels are on observed. (The
 * applied-hash annotation is not compared: a child written by
 * metacontroller before the switch has none.) */
bool rollout_updated(struct json_object *desired, struct json_object *observed);

/* Whether an updated child passes its kind's checks: for RollingInPlace,
 * status.observedGeneration (when the child has one > 0) is at least
 * metadata.generation; then every statusChecks.conditions entry: a
 * status.conditions item of that type exists, with that status and that
 * reason when the check names them. Returns true, or false with why
 * (metacontroller's words) in why. */
bool rollout_check(enum update_strategy s, const struct mcdef_child *checks, struct json_object *observed, char *why,
		   size_t size);

/* Decides this sync's rollout over children (n of them, in the hook's
 * order, all of rolling kinds): sets each one's hold and fills out. */
void rollout_plan(struct rollout_child *children, size_t n, struct rollout *out);

/* Puts r's Updated condition into status (an object, changed in place):
 * status.conditions gets it, replacing one of the same type, added at the
 * end otherwise; a status.conditions that is not a list is replaced. A
 * no-op for ROLLOUT_NONE. Returns 0 or -ENOMEM. */
int rollout_set_condition(struct json_object *status, const struct rollout *r);

#endif

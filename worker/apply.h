/* apply: bring a parent's children to what its sync hook asked for, and
 * delete the ones it no longer asks for.
 *
 * One call handles one reconcile's children:
 *
 *   1. every desired child (a full object from the hook) is copied and
 *      stamped (apply_stamp): the parent's namespace, the controller
 *      ownerReference, the label coxswain.io/controller=<controller>;
 *   2. it is written as its kind's updateStrategy says:
 *        InPlace  - server-side apply, field manager coxswain/<controller>,
 *                   force (coxswain owns whatever the hook says);
 *        OnDelete - POST when the watcher's cache has no such child (never
 *                   an update; AlreadyExists counts as unchanged);
 *        Recreate - when the child exists and apply_differs() says the hook
 *                   asks for something else: DELETE (background, precondition
 *                   the observed uid), then server-side apply, which creates
 *                   it again (when finalizers still hold the old object, the
 *                   child fails with -EBUSY and a later sync creates it);
 *                   otherwise as InPlace;
 *   3. observed children that apply_should_prune() selects (owned by this
 *      parent as controller, labelled for this controller, not desired) are
 *      deleted (background propagation, precondition uid: a child re-created
 *      since the cache saw it is left alone).
 *
 * One failing child does not stop the others: every child gets a result in
 * the report (created / updated / unchanged / recreated / deleted / failed
 * with the cx_err message), which status (the ApplyFailed message) and events
 * (Normal Created/Deleted, Warning per failure) read.
 *
 * "created" vs "updated" vs "unchanged" comes from the observed children and
 * the server's answer: no observed child = created; a different uid =
 * recreated; the same resourceVersion = unchanged; else updated. A stale
 * cache can thus call an update "created": the next sync corrects it. */
#ifndef COXSWAIN_APPLY_H
#define COXSWAIN_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct config_controller;
struct discovery;
struct json_object;
struct kclient;

/* The label every child carries; its value is the controller's name. */
#define APPLY_CONTROLLER_LABEL "coxswain.io/controller"

enum apply_action {
	APPLY_CREATED,
	APPLY_UPDATED,
	APPLY_UNCHANGED,
	APPLY_RECREATED,   /* Recreate: deleted, then created again */
	APPLY_DELETED,     /* pruned: the hook no longer returns it */
	APPLY_FAILED,      /* err says why */
};

struct apply_result {
	char *api_version;          /* as the hook (or the cache key) gave it; "?" when missing */
	char *kind;
	char *name;
	char *namespace;            /* NULL for cluster-scoped children */
	enum apply_action action;
	struct cx_err err;          /* filled when action == APPLY_FAILED */
};

struct apply_report {
	struct apply_result *results;   /* n of them: desired children in the hook's order, then prunes */
	size_t n;
	size_t n_created;               /* created + recreated */
	size_t n_deleted;               /* pruned + recreated */
	size_t n_failed;
};

/* Applies desired (a JSON array of full objects, borrowed, not modified) for
 * parent (borrowed: apiVersion, kind, metadata.name, .uid, and .namespace
 * when namespaced) under controller cc, and prunes from observed (borrowed:
 * {"Kind.apiVersion": {name: object}}, may be NULL) what the hook dropped.
 * report is cleared and filled; free it with apply_report_clear.
 *
 * Returns 0 when every child went through, -EIO when some failed (each one's
 * error is in report), or another negative code with err filled when the call
 * itself could not run (bad arguments, out of memory): then report may hold
 * the results so far. */
int apply_children(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		   struct json_object *parent, struct json_object *observed, struct json_object *desired,
		   struct apply_report *report, struct cx_err *err);

/* Frees what r holds and zeroes it. */
void apply_report_clear(struct apply_report *r);

/* "created", "updated", ... */
const char *apply_action_name(enum apply_action a);

/* Stamps child (modified in place) for parent under cc:
 *   - metadata.namespace = the parent's when the parent is namespaced (the
 *     hook's own namespace is overwritten: children live with their parent);
 *     a cluster-scoped child of a namespaced parent is refused (-EINVAL: an
 *     ownerReference cannot cross that way), as is a namespaced child of a
 *     cluster-scoped parent that does not name its namespace;
 *   - the controller ownerReference {apiVersion, kind, name, uid,
 *     controller: true, blockOwnerDeletion: true}; the hook's other
 *     ownerReferences stay, another controller reference is an error
 *     (-EINVAL: only one controller may own an object), one for this same
 *     parent is replaced;
 *   - label coxswain.io/controller=<cc->name>, next to the hook's labels;
 *   - the server-managed metadata a hook may echo from the observed child
 *     (resourceVersion, uid, creationTimestamp, generation, managedFields,
 *     selfLink, deletionTimestamp, deletionGracePeriodSeconds) and status
 *     are dropped: they would turn the apply into a precondition or be
 *     refused.
 * child_namespaced: whether the child's kind is namespaced (discovery).
 * Returns 0, or -EINVAL with err filled. */
int apply_stamp(const struct config_controller *cc, struct json_object *parent, bool child_namespaced,
		struct json_object *child, struct cx_err *err);

/* The Recreate rule: whether the desired child asks for something the
 * observed one does not have. Compared are the fields the hook sets: every
 * top-level field of desired except apiVersion, kind, metadata and status
 * (so spec, or data/binaryData/stringData/type for ConfigMaps and Secrets),
 * each with apply_json_subset against the observed field. Fields the server
 * defaults (present only in observed) do not count; a field the hook stops
 * setting does not count either (the InPlace apply that follows removes it). */
bool apply_differs(struct json_object *desired, struct json_object *observed);

/* Whether every value set in want is in have: objects key by key
 * (recursively; extra keys in have are fine), arrays element by element with
 * the same length, numbers by value (1 == 1.0), other scalars equal. A zero
 * value in want (null, false, 0, "", {} or []) also matches an absent one in
 * have: the server drops them (Go's omitempty), and a Recreate child must not
 * be recreated over and over for it. Values the server normalises (a
 * quantity "1000m" stored as "1") do count: hooks should write canonical
 * forms for Recreate children. */
bool apply_json_subset(struct json_object *want, struct json_object *have);

/* The prune rule: whether observed (a child in the cache) is to be deleted.
 * Yes only when all hold: its controller ownerReference (controller: true)
 * has parent_uid; it carries label coxswain.io/controller=<controller>; it
 * is not being deleted already; and desired_names (a JSON object whose keys
 * are the names the hook returned for this kind; NULL = none) does not have
 * its name.
 * Objects of another parent, unlabelled lookalikes and objects some other
 * controller owns are never touched. */
bool apply_should_prune(const char *controller, const char *parent_uid, struct json_object *observed,
			struct json_object *desired_names);

#endif

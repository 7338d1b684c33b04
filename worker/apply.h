/* apply: bring a parent's children to what its sync hook asked for, and
 * delete the ones it no longer asks for, never touching an object this
 * parent does not control.
 *
 * One call handles one reconcile's children:
 *
 *   1. every desired child (a full object from the hook) is copied and
 *      stamped (apply_stamp): the parent's namespace, the controller
 *      ownerReference, the label coxswain.io/controller=<controller>, and
 *      the annotation coxswain.io/applied-hash (a digest of the stamped
 *      intent, so that a later sync can tell "nothing changed" without
 *      writing);
 *   2. ownership decides whether it may be written at all (the ControllerRef
 *      rule of controller-runtime and metacontroller). The watcher's cache
 *      (observed) holds only children whose controller ownerReference is
 *      this parent. A child missing from it is read from the API server; when
 *      it is absent it is *created* (a create-only server-side apply, with
 *      resourceVersion "1" as a precondition no stored object meets, so an
 *      object that appears meanwhile is never overwritten; one request, and
 *      the child's managedFields entry is an Apply one from the start; a
 *      server that refuses it gets a POST). When the name is taken:
 *        - controlled by this parent (the cache lagged): written as below;
 *        - controlled by anything else: never written, the child is a
 *          conflict (APPLY_CONFLICT, err names the owner's kind, name, uid);
 *        - controlled by nobody: a conflict too, unless the controller sets
 *          adoptOrphans, which adopts it (server-side apply with the live
 *          uid and resourceVersion as preconditions), and from then on it
 *          is this parent's like any child it created;
 *      Every write to an existing child carries its uid as a precondition:
 *      a child deleted and re-created by someone else since the cache saw it
 *      is not taken over;
 *   3. it is written as its kind's updateStrategy says:
 *        InPlace  - server-side apply, field manager cc->field_manager,
 *                   force; skipped (no request) when the observed child
 *                   already holds every field of the stamped child and
 *                   coxswain's own managedFields entry owns nothing the
 *                   stamped child lacks (worker/childdiff.h); when that
 *                   fails but the child carries this intent's hash, a
 *                   dry-run apply decides (a value the server normalises);
 *        OnDelete - created when absent, never updated;
 *        Recreate - when the observed child differs from what the hook asks
 *                   (apply_differs on apply_normalise'd values, confirmed
 *                   by a dry-run apply): DELETE with the observed uid as
 *                   precondition, then create; otherwise as InPlace;
 *      A child created with POST (the fallback above) has its managedFields
 *      entry turned from Update into Apply, so a field the hook later drops
 *      is removed by the next apply, as if the child had been created by one;
 *   4. observed children that apply_should_prune() selects (controlled by
 *      this parent, labelled for this controller, not desired) are deleted
 *      (background propagation, precondition uid).
 *
 * A CompositeController (cc->origin == CONFIG_ORIGIN_METACONTROLLER, cc->kind
 * == CONFIG_KIND_COMPOSITE) adds metacontroller's ControllerRef rules, by the selector of
 * apply_mc_selector (generateSelector's controller-uid, or the parent's
 * spec.selector; a parent without one fails the whole call, -EINVAL, as
 * metacontroller's sync does):
 *   - with generateSelector every desired child gets the label
 *     controller-uid=<parent uid> unless the hook set one (apply_stamp);
 *   - a desired child whose labels the selector does not match fails
 *     alone ("labels on desired child ... don't match parent selector"; it
 *     would be orphaned at once; metacontroller fails the whole sync);
 *   - an orphan the selector matches is adopted (without adoptOrphans),
 *     unless the parent is being deleted;
 *   - pruned are the observed children this parent controls that the
 *     selector matches and the hook no longer returns, with or without
 *     coxswain's label (children metacontroller created before the switch
 *     have none); ones it controls but does not match are left alone
 *     (metacontroller releases them);
 *   - RollingRecreate and RollingInPlace children go through rollout_plan
 *     (worker/rollout.h): a held child is not written (APPLY_UNCHANGED) and
 *     report->rollout says where the rollout is (a DecoratorController has
 *     no rollout: its rolling attachments are written as Recreate and
 *     InPlace at once, as metacontroller does);
 *   - OnDelete (metacontroller's default) creates a missing child and never
 *     updates an existing one.
 *
 * One failing child does not stop the others: every child gets a result in
 * the report (created / updated / unchanged / recreated / adopted / deleted
 * / conflict / failed with the cx_err message), which status and events
 * read. */
#ifndef COXSWAIN_APPLY_H
#define COXSWAIN_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "rollout.h"

struct config_controller;
struct discovery;
struct json_object;
struct kclient;
struct strmap;

/* The label every child carries; its value is the controller's name. */
#define APPLY_CONTROLLER_LABEL "coxswain.io/controller"
/* The annotation every child carries: "sha256:<hex>" of the stamped intent. */
#define APPLY_HASH_ANNOTATION "coxswain.io/applied-hash"

enum apply_action {
	APPLY_CREATED,
	APPLY_UPDATED,
	APPLY_UNCHANGED,
	APPLY_RECREATED, /* Recreate: deleted, then created again */
	APPLY_DELETED,   /* pruned: the hook no longer returns it */
	APPLY_ADOPTED,   /* it existed with no controller; adoptOrphans made it this parent's */
	APPLY_CONFLICT,  /* it exists and is not this parent's: not written; err says whose */
	APPLY_FAILED,    /* err says why */
};

struct apply_result {
	char *api_version; /* as the hook (or the cache key) gave it; "?" when missing */
	char *kind;
	char *name;
	char *namespace; /* NULL for cluster-scoped children */
	enum apply_action action;
	struct cx_err err; /* filled when action == APPLY_FAILED */
};

struct apply_report {
	struct apply_result *results; /* n of them: desired children in the hook's order, then prunes */
	size_t n;
	size_t n_created;       /* created + recreated */
	size_t n_deleted;       /* pruned + recreated */
	size_t n_conflicts;     /* APPLY_CONFLICT */
	size_t n_failed;        /* APPLY_FAILED */
	struct rollout rollout; /* the rolling methods' progress (ROLLOUT_NONE: no rolling kind) */
	/* What was written, for RESULT's writes (common/proto.h): the API
	 * server's answer to each apply that changed a child the hook had
	 * observed, and to the managedFields patch after a create
	 * (proto_writes_note), so that their echoes do not sync the parent
	 * again. A child the hook had not observed (created, or found by
	 * claim) is left out: the event of its creation syncs the parent, so
	 * that the hook sees the children it made (its status may count on
	 * them, as metacontroller's hooks do). Owned; NULL when none could be
	 * kept. */
	struct json_object *writes;
};

/* Applies desired (a JSON array of full objects, borrowed, not modified) for
 * parent (borrowed: apiVersion, kind, metadata.name, .uid, and .namespace
 * when namespaced) under controller cc, and prunes from observed (borrowed:
 * {"Kind.apiVersion": {name: object}}, may be NULL) what the hook dropped.
 * desired is the children (or attachments) of an answer that
 * hook_response_parse (hook_decorator_response_parse) accepted for cc's
 * kinds and this parent's namespace: that check is the only one, and this
 * call trusts it (a child it would have refused aborts the process).
 * report is cleared and filled; free it with apply_report_clear.
 *
 * Returns 0 when every child went through, -EIO when some failed or
 * conflicted (each one's error is in report), or another negative code with
 * err filled when the call itself could not run (bad arguments, out of
 * memory): then report may hold the results so far. */
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
 *     with generateSelector (a metacontroller definition) also
 *     controller-uid=<parent uid> unless the hook set that label;
 *   - the server-managed metadata a hook may echo from the observed child
 *     (resourceVersion, uid, creationTimestamp, generation, managedFields,
 *     selfLink, deletionTimestamp, deletionGracePeriodSeconds) and status
 *     are dropped: they would turn the apply into a precondition or be
 *     refused;
 *   - last, annotation coxswain.io/applied-hash = "sha256:" and the hex
 *     SHA-256 of the stamped child's canonical JSON (keys sorted at every
 *     level), computed without that annotation.
 * child_namespaced: whether the child's kind is namespaced (discovery).
 * child is a child of a checked hook answer (worker/hook.h): it has a kind
 * and a metadata.name (else the process aborts).
 * Returns 0, or -EINVAL with err filled. */
int apply_stamp(const struct config_controller *cc, struct json_object *parent, bool child_namespaced,
		struct json_object *child, struct cx_err *err);

/* A copy (owned; NULL when out of memory) of a child with the values the
 * API server would rewrite put as it stores them: a Secret's stringData is
 * base64-encoded into data (stringData wins over data for one key, as the
 * server has it) and removed. Everything else is copied as it is. */
struct json_object *apply_normalise(struct json_object *child);

/* The Recreate rule: whether the desired child asks for something the
 * observed one does not have. Compared are the fields the hook sets: every
 * top-level field of desired except apiVersion, kind, metadata and status
 * (so spec, or data/binaryData/type for ConfigMaps and Secrets), each with
 * apply_json_subset against the observed field. Fields the server defaults
 * (present only in observed) do not count; a field the hook stops setting
 * does not count either (the InPlace apply that follows removes it). Pass
 * desired through apply_normalise first. */
bool apply_differs(struct json_object *desired, struct json_object *observed);

/* Whether writing desired (stamped, normalised) over observed would change
 * nothing: observed carries desired's applied-hash annotation, and every
 * field desired sets is in observed (apply_differs is false and desired's
 * labels and annotations are in observed's). A child that fails this only
 * through a value the server normalises ("1000m" for "1") is left to a
 * dry-run apply to decide. */
bool apply_in_sync(struct json_object *desired, struct json_object *observed);

/* Whether every value set in want is in have: objects key by key
 * (recursively; extra keys in have are fine), arrays element by element with
 * the same length, numbers by value (1 == 1.0), other scalars equal. A zero
 * value in want (null, false, 0, "", {} or []) also matches an absent one in
 * have: the server drops them (Go's omitempty), and a Recreate child must not
 * be recreated over and over for it. */
bool apply_json_subset(struct json_object *want, struct json_object *have);

/* Who controls a live object, as the ControllerRef rule reads it. */
enum apply_claim {
	APPLY_CLAIM_OURS,   /* its controller ownerReference has the parent's uid */
	APPLY_CLAIM_OTHER,  /* another object controls it (*owner: that ownerReference, borrowed) */
	APPLY_CLAIM_ORPHAN, /* no ownerReference has controller: true */
};

enum apply_claim apply_claim_of(const char *parent_uid, struct json_object *live, struct json_object **owner);

/* metacontroller's label selector for parent's children under cc (a
 * metacontroller definition): with generateSelector (cc->generate_selector)
 * {"matchLabels": {"controller-uid": <parent uid>}}, the parent's own
 * selector ignored (as the Job API does); otherwise the parent's
 * spec.selector, which must have matchLabels, matchExpressions or both (an
 * empty one would select everything: metacontroller refuses it too).
 * Returns 0 with *out owned by the caller, or -EINVAL with err naming the
 * parent. */
int apply_mc_selector(const struct config_controller *cc, struct json_object *parent, struct json_object **out,
		      struct cx_err *err);

/* metacontroller's claim, before a CompositeController's hook runs: every
 * child in observed (the job's children, borrowed and changed in place:
 * {"Kind.apiVersion": {relname: object}}) that parent does not control is an
 * orphan the watcher found matching its selector. Each one that is still
 * an orphan, not being deleted, and matched by apply_mc_selector is adopted
 * (adopt_one: the controller ownerReference, with uid and resourceVersion
 * preconditions, so one changed or claimed meanwhile is skipped) and its
 * entry replaced by the adopted object; every other one is removed from
 * observed (logged when an adoption failed). A parent being deleted adopts
 * nothing. Any other controller (coxswain.yaml, a DecoratorController) is
 * left alone. Returns 0, or -ENOMEM. */
int apply_adopt_orphans(struct kclient *c, struct discovery *d, const struct config_controller *cc,
			struct json_object *parent, struct json_object *observed, struct cx_err *err);

/* The prune rule: whether observed (a child in the cache, under key relname
 * in the observed map) is to be deleted. Yes only when all hold: its
 * controller ownerReference (controller: true) has parent_uid; it carries
 * label coxswain.io/controller=<controller>; it is not being deleted
 * already; and desired_names (the set of relative names (childkey) the
 * hook returned for this kind; NULL = none) does not have relname.
 * Objects of another parent, unlabelled lookalikes and objects some other
 * controller owns are never touched. */
bool apply_should_prune(const char *controller, const char *parent_uid, struct json_object *observed,
			const char *relname, const struct strmap *desired_names);

#endif

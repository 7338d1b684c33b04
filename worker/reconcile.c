#include "config.h"

#include "reconcile.h"
#include "related.h"
#include "apply.h"
#include "crdschema.h"
#include "ctltable.h"
#include "cxconfig.h"
#include "decorate.h"
#include "discovery.h"
#include "events.h"
#include "finalizer.h"
#include "hook.h"
#include "jsonget.h"
#include "kobj.h"
#include "kclient.h"
#include "log.h"
#include "status.h"
#include "statusmemo.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A finalize hook that is not done yet is asked again this soon, unless it
 * says when (resyncAfterSeconds). */
#define FINALIZE_POLL_MS 5000

/* What the reconciler keeps per configured controller. */
struct per_controller {
	const struct config_controller *cc;
	struct json_object *json; /* the hook request's "controller" */
	struct hook_child_kind *kinds;
	struct events *events;
	/* Said once per process, and once in all per parent (events_post_once):
	 * its kind writes status through the object; the status fields last
	 * said to be dropped. */
	bool told_no_subresource;
	char told_dropped[512];
	/* Learnt from jobs (worker/ctltable.h): the name, and the table's
	 * generation cc was built at; NULL / 0 for a configured one. */
	char *dyn_name;
	uint64_t generation;
};

struct reconciler {
	struct kclient *c; /* borrowed */
	struct discovery *d;
	struct statusmemo *memo;
	struct crdschema *schemas;
	struct related *rel;      /* the customize hook's related objects */
	const struct config *cfg; /* borrowed */
	struct per_controller *ctls;
	size_t n;
	struct ctltable *table;      /* controllers defined by their jobs */
	struct per_controller **dyn; /* n_dyn, each owned */
	size_t n_dyn;
	struct json_object *writes; /* the running job's RESULT writes (its outcome's; borrowed) */
};

/* Fills pc for cc (pc->cc set): the request's "controller" is the
 * controller object when the definition has one (metacontroller's), else
 * coxswain.yaml's shape. */
static int pc_init(struct kclient *c, struct per_controller *pc, bool normal_events)
{
	const struct config_controller *cc = pc->cc;
	if (!(pc->json = cc->object ? json_object_get(cc->object) : config_controller_json(cc)) ||
	    !(pc->kinds = calloc(cc->n_children ? cc->n_children : 1, sizeof(*pc->kinds))) ||
	    !(pc->events = events_new(c, cc->name, EVENTS_DEFAULT_CAPACITY)))
		return -ENOMEM;
	for (size_t k = 0; k < cc->n_children; k++)
		pc->kinds[k] = (struct hook_child_kind){ cc->children[k].api_version, cc->children[k].kind };
	events_set_normal(pc->events, normal_events);
	return 0;
}

static void pc_clear(struct per_controller *pc)
{
	json_object_put(pc->json);
	free(pc->kinds);
	events_free(&pc->events);
	pc->json = NULL;
	pc->kinds = NULL;
}

int reconciler_new(struct kclient *c, const struct config *cfg, struct reconciler **out, struct cx_err *err)
{
	*out = NULL;
	struct reconciler *r = calloc(1, sizeof(*r));
	if (!r || !(r->ctls = calloc(cfg->n_controllers ? cfg->n_controllers : 1, sizeof(*r->ctls))) ||
	    !(r->d = discovery_new(c)) || !(r->memo = statusmemo_new(0)) || !(r->schemas = crdschema_new(c, 0)) ||
	    !(r->table = ctltable_new(r->d)) || !(r->rel = related_new(c, r->d)))
		goto oom;
	r->c = c;
	r->cfg = cfg;
	r->n = cfg->n_controllers;
	for (size_t i = 0; i < r->n; i++) {
		r->ctls[i].cc = &cfg->controllers[i];
		if (pc_init(c, &r->ctls[i], cfg->worker_events_normal))
			goto oom;
	}
	*out = r;
	return 0;
oom:
	reconciler_free(&r);
	return cx_err_set(err, -ENOMEM, "out of memory");
}

void reconciler_free(struct reconciler **rp)
{
	struct reconciler *r = *rp;
	if (!r)
		return;
	for (size_t i = 0; r->ctls && i < r->n; i++)
		pc_clear(&r->ctls[i]);
	free(r->ctls);
	for (size_t i = 0; i < r->n_dyn; i++) {
		pc_clear(r->dyn[i]);
		free(r->dyn[i]->dyn_name);
		free(r->dyn[i]);
	}
	free(r->dyn);
	ctltable_free(&r->table);
	discovery_free(&r->d);
	statusmemo_free(&r->memo);
	crdschema_free(&r->schemas);
	related_free(&r->rel);
	free(r);
	*rp = NULL;
}

static struct per_controller *find(struct reconciler *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->ctls[i].cc->name, name))
			return &r->ctls[i];
	return NULL;
}

/* The controller a job defines (its "definition"), built or rebuilt by the
 * table; NULL with err filled when the definition is refused or a
 * resource is not served. */
static struct per_controller *learnt(struct reconciler *r, const struct proto_job *job, struct cx_err *err)
{
	const struct config_controller *cc = NULL;
	uint64_t generation = 0;
	if (ctltable_get(r->table, job->controller, job->definition, &cc, &generation, err))
		return NULL;
	struct per_controller *pc = NULL;
	for (size_t i = 0; i < r->n_dyn && !pc; i++)
		if (!strcmp(r->dyn[i]->dyn_name, job->controller))
			pc = r->dyn[i];
	if (pc && pc->generation == generation)
		return pc;
	if (!pc) {
		struct per_controller **grown = realloc(r->dyn, (r->n_dyn + 1) * sizeof(*grown));
		if (!grown || !(pc = calloc(1, sizeof(*pc))) || !(pc->dyn_name = strdup(job->controller))) {
			if (grown)
				r->dyn = grown;
			free(pc);
			cx_err_set(err, -ENOMEM, "out of memory");
			return NULL;
		}
		r->dyn = grown;
		r->dyn[r->n_dyn++] = pc;
	}
	pc_clear(pc);
	pc->cc = cc;
	pc->generation = generation;
	pc->told_no_subresource = false;
	pc->told_dropped[0] = '\0';
	if (pc_init(r->c, pc, r->cfg->worker_events_normal)) {
		pc_clear(pc);
		pc->generation = 0;
		cx_err_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	return pc;
}

static void set_outcome(struct reconcile_outcome *out, enum proto_outcome o, int64_t after_ms, const char *msg)
{
	out->outcome = o;
	out->requeue_after_ms = after_ms;
	snprintf(out->message, sizeof(out->message), "%s", msg ? msg : "");
}

/* once: a lasting state, said once across every worker (events_post_once);
 * otherwise every occurrence counts into the Event. */
static void warn_event(struct per_controller *pc, struct json_object *parent, const char *reason, const char *msg,
		       bool once)
{
	struct cx_err err = { 0 };
	if (once ? events_post_once(pc->events, parent, EVENT_WARNING, reason, msg, &err)
		 : events_post(pc->events, parent, EVENT_WARNING, reason, msg, NULL, &err))
		log_kv(LOG_LEVEL_WARNING, 0, "cannot post an Event", "controller", pc->cc->name, "error", err.msg,
		       NULL);
}

/* After a write: when the server did not store fields coxswain wrote (the
 * CRD's status schema prunes them), says so once, and remembers it so that
 * the same status is not written again on every sync. */
static void read_back(struct reconciler *r, struct per_controller *pc, struct json_object *parent,
		      struct json_object *want, struct json_object *stored_parent)
{
	struct json_object *stored = jsonget(stored_parent, "status");
	const char *uid = kobj_uid(parent);
	if (statusmemo_put(r->memo, uid, want, stored))
		return;
	char dropped[sizeof(pc->told_dropped)];
	if (!statusmemo_dropped(want, stored, "status", dropped, sizeof(dropped)) || !strcmp(dropped, pc->told_dropped))
		return;
	snprintf(pc->told_dropped, sizeof(pc->told_dropped), "%s", dropped);
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "the API server did not store %s of the status coxswain wrote (the status schema of "
		 "%s does not hold them); coxswain does not write them again until the hook's answer changes",
		 dropped, jsonget_string(parent, "kind") ?: "?");
	log_kv(LOG_LEVEL_WARNING, 0, msg, "controller", pc->cc->name, NULL);
	warn_event(pc, parent, "StatusFieldsDropped", msg, true);
}

/* The status coxswain writes for o into *out (owned; NULL: nothing to
 * write). A built-in kind gets the hook's status merged into its own and
 * nothing of coxswain's; a custom resource gets status_compute's, projected
 * through its CRD's status schema: what the schema does not hold (say,
 * conditions) is not written, and that is said once per process and, across
 * workers, once per parent. */
static int wanted_status(struct reconciler *r, struct per_controller *pc, struct json_object *parent,
			 const struct status_outcome *o, struct json_object **out, struct cx_err *err)
{
	*out = NULL;
	const struct kresource *res = NULL;
	struct crdschema_info info;
	int rc = discovery_resolve(r->d, jsonget_string(parent, "apiVersion") ?: "",
				   jsonget_string(parent, "kind") ?: "", &res, err);
	if (!rc)
		rc = crdschema_lookup(r->schemas, res, (int64_t)time(NULL) * 1000, &info, err);
	if (rc)
		return rc;
	if (!info.is_crd) {
		*out = status_compute_builtin(parent, o->hook_status);
		return 0;
	}
	/* A metacontroller definition's parent gets what metacontroller writes
	 * (status_compute_mc); coxswain's conditions only where its CRD asks. */
	struct json_object *full = NULL;
	if (pc->cc->origin == CONFIG_ORIGIN_METACONTROLLER) {
		if (status_compute_mc(parent, o, status_schema_declares_conditions(info.status_schema), time(NULL),
				      &full))
			return cx_err_set(err, -ENOMEM, "out of memory");
		if (!full)
			return 0;
	} else if (!(full = status_compute(parent, o, time(NULL)))) {
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	if (info.keep_all) {
		*out = full;
		return 0;
	}
	char dropped[sizeof(pc->told_dropped)];
	size_t n = 0;
	*out = crdschema_prune(info.status_schema, full, "status", dropped, sizeof(dropped), &n);
	json_object_put(full);
	if (!*out)
		return cx_err_set(err, -ENOMEM, "out of memory");
	if (n && strcmp(dropped, pc->told_dropped)) {
		snprintf(pc->told_dropped, sizeof(pc->told_dropped), "%s", dropped);
		char msg[1024];
		snprintf(msg, sizeof(msg),
			 "the status schema of the %s CRD does not hold %s: coxswain does not write "
			 "them (add them to the schema, or mark status x-kubernetes-preserve-unknown-fields, to see "
			 "them)",
			 res->kind, dropped);
		log_kv(LOG_LEVEL_WARNING, 0, msg, "controller", pc->cc->name, NULL);
		warn_event(pc, parent, "StatusFieldsDropped", msg, true);
	}
	return 0;
}

/* Writes the conditions for o, and a Warning Event when reason says it
 * failed. Returns 0, or the status write's error (in err): a status that
 * could not be written is a failed reconcile, reported as a Warning Event
 * StatusWriteFailed with the API server's message. */
static int report(struct reconciler *r, struct per_controller *pc, struct json_object *parent,
		  const struct status_outcome *o, struct cx_err *err)
{
	struct json_object *status = NULL, *stored = NULL;
	const char *uid = kobj_uid(parent);
	bool written = false, main_resource = false;
	int rc = wanted_status(r, pc, parent, o, &status, err);
	if (rc || !status)
		; /* an error, or a built-in kind's status with nothing of the hook's */
	else if (!statusmemo_settled(r->memo, uid, status, jsonget(parent, "status")))
		rc = status_write(r->c, r->d, parent, status, &written, &main_resource, &stored, err);
	if (rc) {
		cx_err_prefix(err, "cannot write the status: ");
		log_kv(LOG_LEVEL_WARNING, 0, "cannot write the status", "controller", pc->cc->name, "error", err->msg,
		       NULL);
		warn_event(pc, parent, "StatusWriteFailed", err->msg, false);
	} else if (written) {
		proto_writes_note(r->writes, stored); /* its echo must not sync the parent again */
		read_back(r, pc, parent, status, stored);
	}
	json_object_put(status);
	json_object_put(stored);
	if (written && main_resource && !pc->told_no_subresource) {
		/* Once per process: every write of its status bumps the generation. */
		pc->told_no_subresource = true;
		char msg[512];
		snprintf(msg, sizeof(msg),
			 "the CRD of %s has no status subresource: coxswain writes the status through "
			 "the object itself, which bumps metadata.generation; observedGeneration names the generation "
			 "that write makes. Add subresources: {status: {}} to the CRD version to avoid it",
			 jsonget_string(parent, "kind") ?: "?");
		log_kv(LOG_LEVEL_WARNING, 0, msg, "controller", pc->cc->name, NULL);
		warn_event(pc, parent, "NoStatusSubresource", msg, true);
	}
	/* Finalizing is a wait, not a failure; ChildConflict and ApplyFailed get
	 * an Event per child from events_post_apply. */
	if (o->reason != STATUS_OK && o->reason != STATUS_FINALIZING && o->message)
		warn_event(pc, parent, events_failure_reason(pc->cc, status_reason_name(o->reason)), o->message, false);
	return rc;
}

/* Runs the hook of h for parent. Returns its result code; err says why. */
static int run_hook(struct reconciler *r, struct per_controller *pc, const struct config_hook *h, bool finalizing,
		    struct json_object *parent, struct json_object *children, struct json_object *related,
		    struct hook_result *res, struct cx_err *err)
{
	struct hook_def def = hook_def_from_config(r->c, pc->cc, h);
	struct json_object *request = NULL;
	int rc = hook_request_new(pc->json, parent, pc->kinds, pc->cc->n_children, children, finalizing, def.version,
				  &request, err);
	if (rc)
		return rc;
	if (related && (rc = hook_request_set_related(request, related, def.version, err))) {
		json_object_put(request);
		return rc;
	}
	rc = hook_run(&def, request, finalizing, pc->kinds, pc->cc->n_children, kobj_namespace(parent), res, err);
	json_object_put(request);
	char ms[32];
	snprintf(ms, sizeof(ms), "%lld", res->stats.duration_ms);
	log_kv(LOG_LEVEL_INFO, 4, "hook ran", "controller", pc->cc->name, "hook", finalizing ? "finalize" : "sync",
	       "ms", ms, "error", rc ? err->msg : "", NULL);
	return rc;
}

static enum status_reason hook_failure(int code)
{
	return code == -EPROTO || code == -EBADMSG ? STATUS_INVALID_HOOK_RESPONSE : STATUS_HOOK_FAILED;
}

/* The Finalizing message: the finalize hook's own status.message when it
 * gives one. */
static const char *finalizing_message(const struct hook_result *res)
{
	const char *said = jsonget_nonempty(res->status, "message");
	return said ? said : "deletion waits for the finalize hook: it answered finalized: false";
}

/* Whether the garbage collector is already at the parent's children
 * (foreground deletion or orphaning): applying them then would fight it,
 * so a finalize answer's children are left alone (metacontroller's rule). */
static bool gc_finalizing(struct json_object *parent)
{
	return finalizer_has(parent, "foregroundDeletion") || finalizer_has(parent, "orphan");
}

/* Applies a hook's answer (res) to parent: its children when apply (applied
 * and pruned against the observed ones), then the status, with reason as
 * the outcome when all went well (STATUS_OK for a sync, STATUS_FINALIZING
 * while a finalize hook is not done) and an Event per failed child. out
 * becomes ok (with ok_after_ms) or an error saying what failed first. */
static void apply_answer(struct reconciler *r, struct per_controller *pc, struct json_object *parent,
			 struct json_object *observed, const struct hook_result *res, bool apply,
			 enum status_reason reason, const char *message, enum proto_outcome ok, int64_t ok_after_ms,
			 struct reconcile_outcome *out)
{
	struct apply_report applied = { 0 };
	struct cx_err err = { 0 }, st_err = { 0 };
	int rc = apply ? apply_children(r->c, r->d, pc->cc, parent, observed, res->children, &applied, &err) : 0;
	proto_writes_append(r->writes, applied.writes);
	/* A rolling update says where it is in the status, as metacontroller
	 * does: the Updated condition next to the hook's (worker/rollout.h). */
	struct json_object *with_rollout = NULL;
	if (apply && applied.rollout.state != ROLLOUT_NONE) {
		if (json_object_is_type(res->status, json_type_object))
			json_object_deep_copy(res->status, &with_rollout, NULL);
		else
			with_rollout = json_object_new_object();
		if (with_rollout && rollout_set_condition(with_rollout, &applied.rollout)) {
			json_object_put(with_rollout);
			with_rollout = NULL;
		}
	}
	struct status_outcome o = { .reason = reason,
				    .message = rc ? err.msg : message,
				    .apply = apply ? &applied : NULL,
				    .hook_status = with_rollout ? with_rollout : res->status };
	if (rc && !applied.n_failed && !applied.n_conflicts)
		o.reason = STATUS_APPLY_FAILED;
	int st_rc = report(r, pc, parent, &o, &st_err);
	/* A rollout that moved one child goes on at the next sync, which the
	 * echo of that very write brings when nothing else changes (a child
	 * kind without status): this job reports no writes, so that none of
	 * its echoes is dropped (watcher/echo.h). */
	if (applied.rollout.state == ROLLOUT_PROGRESSING && r->writes)
		json_object_array_del_idx(r->writes, 0, json_object_array_length(r->writes));
	struct cx_err ev_err = { 0 };
	if (apply && events_post_apply(pc->events, parent, &applied, &ev_err))
		log_kv(LOG_LEVEL_WARNING, 0, "cannot post an Event", "controller", pc->cc->name, "error", ev_err.msg,
		       NULL);
	if (rc || applied.n_failed || applied.n_conflicts) {
		struct cx_err why = { 0 };
		const struct apply_result *first = NULL;
		for (size_t i = 0; i < applied.n && !first; i++)
			if (applied.results[i].action == APPLY_FAILED || applied.results[i].action == APPLY_CONFLICT)
				first = &applied.results[i];
		if (first)
			cx_err_set(&why, -EIO, "%zu of %zu children failed or are not this parent's; first: %s/%s: %s",
				   applied.n_failed + applied.n_conflicts, applied.n, first->kind, first->name,
				   first->err.msg);
		else
			cx_err_set(&why, rc, "applying the children failed: %s", err.msg);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, why.msg);
	} else if (st_rc) {
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, st_err.msg);
	} else {
		set_outcome(out, ok, ok_after_ms, NULL);
	}
	json_object_put(with_rollout);
	apply_report_clear(&applied);
}

/* The parent is being deleted. Until the finalize hook answers finalized:
 * true, each answer is applied like a sync answer (its children applied and
 * pruned, when it lists them; its status written) and the hook is asked
 * again; then the finalizer comes off and the garbage collector takes the
 * children (metacontroller removes its finalizer first and manages no
 * children once it is gone, so the last answer's children are not
 * applied). */
static void finalize(struct reconciler *r, struct per_controller *pc, const struct proto_job *job,
		     struct reconcile_outcome *out)
{
	struct json_object *parent = job->parent;
	if (!pc->cc->finalizer || !finalizer_has(parent, pc->cc->finalizer)) {
		set_outcome(out, PROTO_OUTCOME_OK, 0, NULL); /* the garbage collector takes the children */
		return;
	}
	struct hook_result res = { 0 };
	struct cx_err err = { 0 }, st_err = { 0 };
	/* Our finalizer without a finalize hook: a config that had one put it
	 * there. Nothing is left to run; it must come off, or the parent is
	 * never deleted. */
	/* The customize hook's related objects (worker/related.h); its failure
	 * is the finalize's. */
	struct json_object *related = NULL;
	int rc = pc->cc->finalize.set
		? related_get(r->rel, pc->cc, pc->json, parent, &related, &out->related_rules, &err)
		: 0;
	/* Being deleted, it adopts nothing: orphans leave the request. */
	if (!rc && pc->cc->finalize.set)
		rc = apply_adopt_orphans(r->c, r->d, pc->cc, parent, job->children, &err);
	if (!rc && pc->cc->finalize.set)
		rc = run_hook(r, pc, &pc->cc->finalize, true, parent, job->children, related, &res, &err);
	json_object_put(related);
	if (!pc->cc->finalize.set)
		res.finalized = true;
	if (rc) {
		struct status_outcome o = { .reason = STATUS_FINALIZE_FAILED, .message = err.msg };
		report(r, pc, parent, &o, &st_err);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, err.msg);
	} else if (!res.finalized) {
		/* An answer without children says nothing about them: they stay. */
		apply_answer(r, pc, parent, job->children, &res, res.children_given && !gc_finalizing(parent),
			     STATUS_FINALIZING, finalizing_message(&res), PROTO_OUTCOME_REQUEUE,
			     res.resync_after_ms > 0 ? res.resync_after_ms : FINALIZE_POLL_MS, out);
	} else if (finalizer_remove(r->c, r->d, pc->cc, parent, NULL, NULL, &err)) {
		struct status_outcome o = { .reason = STATUS_FINALIZE_FAILED, .message = err.msg };
		report(r, pc, parent, &o, &st_err);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, err.msg);
	} else {
		set_outcome(out, PROTO_OUTCOME_OK, 0, NULL);
	}
	hook_result_clear(&res);
}

static void sync_parent(struct reconciler *r, struct per_controller *pc, const struct proto_job *job,
			struct reconcile_outcome *out)
{
	struct json_object *parent = job->parent, *updated = NULL;
	struct cx_err err = { 0 }, st_err = { 0 };
	/* Also without a finalize hook: then it takes off a finalizer that a
	 * config with one left (no request when there is nothing to change). */
	bool changed = false;
	if (finalizer_ensure(r->c, r->d, pc->cc, parent, &changed, &updated, &err)) {
		struct status_outcome o = { .reason = STATUS_HOOK_FAILED, .message = err.msg };
		report(r, pc, parent, &o, &st_err);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, err.msg);
		return;
	}
	if (updated)
		parent = updated; /* the newer resourceVersion, for the writes below */
	/* Only a write made: updated is the parent itself when the finalizer was
	 * already as wanted, and an echo that never comes would be waited for. */
	if (changed)
		proto_writes_note(r->writes, updated);
	struct hook_result res = { 0 };
	/* The customize hook first (worker/related.h): its failure is the sync's. */
	struct json_object *related = NULL;
	int rc = related_get(r->rel, pc->cc, pc->json, parent, &related, &out->related_rules, &err);
	/* metacontroller adopts the orphans its selector matches: the hook
	 * sees them, and the prune deletes those it does not return. */
	if (!rc)
		rc = apply_adopt_orphans(r->c, r->d, pc->cc, parent, job->children, &err);
	if (!rc)
		rc = run_hook(r, pc, &pc->cc->sync, false, parent, job->children, related, &res, &err);
	json_object_put(related);
	if (rc) {
		struct status_outcome o = { .reason = hook_failure(rc), .message = err.msg };
		report(r, pc, parent, &o, &st_err);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, err.msg);
	} else {
		apply_answer(r, pc, parent, job->children, &res, true, STATUS_OK, NULL, PROTO_OUTCOME_OK,
			     res.resync_after_ms, out);
	}
	hook_result_clear(&res);
	json_object_put(updated);
}

static void job(struct reconciler *r, const struct proto_job *job, struct reconcile_outcome *out);

/* The job, with what it writes collected in out->writes. */
void reconcile_job(struct reconciler *r, const struct proto_job *j, struct reconcile_outcome *out)
{
	memset(out, 0, sizeof(*out));
	struct json_object *writes = json_object_new_array();
	r->writes = writes;
	job(r, j, out); /* a decorator's job clears out: the writes are put in after */
	out->writes = writes;
	r->writes = NULL;
}

static void job(struct reconciler *r, const struct proto_job *job, struct reconcile_outcome *out)
{
	struct per_controller *pc = NULL;
	if (job->definition) {
		struct cx_err why = { 0 };
		if (!(pc = learnt(r, job, &why))) {
			cx_err_prefix(&why, "cannot build controller \"%s\" from its definition: ", job->controller);
			log_kv(LOG_LEVEL_WARNING, 0, why.msg, "controller", job->controller, NULL);
			set_outcome(out, PROTO_OUTCOME_ERROR, 0, why.msg);
			return;
		}
	} else {
		pc = find(r, job->controller);
	}
	if (!pc) {
		struct cx_err why = { 0 };
		cx_err_set(&why, -ENOENT,
			   "the worker has no controller \"%s\" (are the watcher and worker configs the same?)",
			   job->controller);
		set_outcome(out, PROTO_OUTCOME_ERROR, 0, why.msg);
		return;
	}
	if (pc->cc->kind == CONFIG_KIND_DECORATOR) {
		struct decorate_env env = { .c = r->c,
					    .d = r->d,
					    .schemas = r->schemas,
					    .events = pc->events,
					    .cc = pc->cc,
					    .controller = pc->json,
					    .kinds = pc->kinds,
					    .rel = r->rel,
					    .writes = r->writes };
		decorate_job(&env, job, out);
		return;
	}
	if (job->kind == PROTO_JOB_POISON) {
		struct status_outcome o = { .reason = STATUS_WORKER_CRASHED, .message = job->message };
		struct cx_err st_err = { 0 };
		report(r, pc, job->parent, &o, &st_err);
		set_outcome(out, PROTO_OUTCOME_OK, 0, NULL);
		return;
	}
	if (kobj_deleting(job->parent))
		finalize(r, pc, job, out);
	else
		sync_parent(r, pc, job, out);
}

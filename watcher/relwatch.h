/* relwatch: the watcher's side of metacontroller's related objects
 * (common/relrule.h). A worker reports, in each RESULT of a controller with
 * a customize hook, the rules the hook answered for that parent
 * (common/proto.h); relwatch keeps them per parent (queue key), runs one
 * informer per related resource (apiVersion + resource, all namespaces,
 * resolved by discovery; watcher/informer.h), and when an object of that
 * resource is added, changed or deleted, requeues every parent one of
 * whose rules selects it (before or after the change). metacontroller does
 * the same with its related informers.
 *
 * Rules of a parent that is gone are dropped (relwatch_drop, when its key
 * finds no parent); an informer no rule refers to any more is stopped. An
 * informer's resource that discovery cannot resolve is tried again every
 * RELWATCH_RETRY_MS, and said once at -v 0. */
#ifndef COXSWAIN_RELWATCH_H
#define COXSWAIN_RELWATCH_H

#include <stddef.h>
#include <stdint.h>

struct controller_env;
struct cx_err;
struct json_object;
struct relwatch;

#define RELWATCH_RETRY_MS 5000

/* env (and what it points to) is borrowed and must outlive it; only its
 * queue is used until relwatch_tick. NULL when out of memory. */
struct relwatch *relwatch_new(const struct controller_env *env);

void relwatch_free(struct relwatch **rw);

/* Replaces the rules of the parent under key ("controller/ns/name", or
 * "controller/name" for a cluster-scoped parent) with rules (RESULT's
 * related: a list of rule objects; [] drops them). New resources get their
 * informer at the next relwatch_tick. Returns 0, or -EPROTO with err
 * naming key and the rule's field (the old rules then stay), -ENOMEM. */
int relwatch_set(struct relwatch *rw, const char *key, struct json_object *rules, struct cx_err *err);

/* Forgets the rules of key (its parent is gone). Unknown keys are fine. */
void relwatch_drop(struct relwatch *rw, const char *key);

/* Requeues (at now_ms) every parent with a rule on api_version/resource
 * that selects obj. Returns how many. The informers' handlers call it. */
size_t relwatch_requeue_for(struct relwatch *rw, const char *api_version, const char *resource, struct json_object *obj,
			    int64_t now_ms);

/* Starts and stops informers as the rules need them and moves them on. */
void relwatch_tick(struct relwatch *rw, int64_t now_ms);

/* Milliseconds until relwatch_tick has something to do; -1 for nothing. */
long relwatch_next_ms(const struct relwatch *rw, int64_t now_ms);

/* How many parents have rules, and how many informers run (for tests and logs). */
size_t relwatch_parents(const struct relwatch *rw);
size_t relwatch_informers(const struct relwatch *rw);

#endif

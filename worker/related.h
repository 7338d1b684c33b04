/* related: metacontroller's customize hook and the related objects it
 * selects, for the sync and finalize requests' "related"
 * (docs/architecture.md §4.5; the rules are common/relrule.h's).
 *
 * Before a sync or finalize hook runs, the worker asks the controller's
 * customize hook (when it has one) which objects its parent relates to:
 * request {"controller": ..., "parent": ...}, answer {"relatedResources":
 * [rule, ...]}. It then lists what each rule selects from the API server
 * (the rule's resource resolved by discovery; a label selector goes to the
 * server as labelSelector, names are filtered here) and keys the objects
 * like children: "Kind.apiVersion" -> relative name ("name", or
 * "namespace/name" for a namespaced object under a cluster-scoped parent;
 * common/childkey.h) -> object, which hook_request_set_related re-keys for
 * a v2 hook. Two rules of one resource share its map. The rules go back to
 * the watcher in the job's RESULT (common/proto.h), whose related informers
 * requeue the parent when a selected object changes (watcher/relwatch.h).
 *
 * The customize hook is asked on every sync (it may depend only on the
 * parent, as metacontroller says, so asking again is harmless). */
#ifndef COXSWAIN_RELATED_H
#define COXSWAIN_RELATED_H

struct config_controller;
struct cx_err;
struct discovery;
struct json_object;
struct kclient;
struct related;
struct relrule_set;

/* c and d are borrowed and must outlive it. NULL when out of memory. */
struct related *related_new(struct kclient *c, struct discovery *d);

void related_free(struct related **r);

/* Runs cc's customize hook (its hook_def_from_config: a metacontroller
 * webhook's caBundle, auth and etag hold) for parent with controller as the request's
 * "controller", and parses its answer into *rules (relrule_set_clear it).
 * Returns 0, or the hook's error (err starts `customize hook "NAME"`;
 * -EPROTO for a wrong answer, naming the rule index and field). */
int related_customize(struct related *r, const struct config_controller *cc, struct json_object *controller,
		      struct json_object *parent, struct relrule_set *rules, struct cx_err *err);

/* Lists what rules select for parent into *map (owned), keyed as above.
 * Returns 0, or an error naming the rule
 * ("relatedResources[1].resource: the API server serves v1 but no resource
 * \"confgmaps\" in it"; "relatedResources[0]: list /api/v1/secrets: 403
 * Forbidden ..."). */
int related_objects(struct related *r, const struct relrule_set *rules, struct json_object *parent,
		    struct json_object **map, struct cx_err *err);

/* Both, for a job: when cc has a customize hook, *related is the map and
 * *rules_json the rules as RESULT carries them (relrule_set_json); without
 * one both are NULL (the request's related stays {}, RESULT carries none).
 * Both owned. An error names the controller:
 *   controller propagate: customize hook "/hooks/c": relatedResources[1].resource: ...
 * and leaves both NULL. */
int related_get(struct related *r, const struct config_controller *cc, struct json_object *controller,
		struct json_object *parent, struct json_object **related, struct json_object **rules_json,
		struct cx_err *err);

#endif

/* crdschema: what a parent's kind lets coxswain write into its status.
 *
 * coxswain's own conditions and observedGeneration go only into custom
 * resources, and only where their CRD's status schema holds them: the API
 * server prunes every field a structural schema does not declare, so a
 * status written with such a field would never read back equal, and be
 * written again on every sync. And a built-in kind's status belongs to its
 * own controllers (a Pod's Ready condition is the kubelet's): coxswain
 * never adds its conditions there (see status_compute_builtin).
 *
 * crdschema_lookup tells the two apart by reading the kind's CRD
 * (apiextensions.k8s.io/v1, name <plural>.<group>; get is all the RBAC it
 * needs): none (404, or a core or dotless group, which a CRD cannot have)
 * means a built-in or aggregated kind. Answers are cached per kind for a
 * time-to-live, so a changed CRD is seen within it. crdschema_prune then
 * projects a status through the CRD's status schema as the API server's
 * structural pruning does. */
#ifndef COXSWAIN_CRDSCHEMA_H
#define COXSWAIN_CRDSCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;
struct kclient;
struct kresource;
struct crdschema;

#define CRDSCHEMA_DEFAULT_TTL_MS 60000

/* Deeper values than this make crdschema_prune fail (NULL) rather than
 * risk the stack; the API server refuses far shallower JSON anyway. */
#define CRDSCHEMA_MAX_DEPTH 1000

/* What a kind's CRD says about its status. All false/NULL when !is_crd. */
struct crdschema_info {
	bool is_crd; /* false: built-in or aggregated: never write coxswain's conditions */
	/* spec.versions[name=version].subresources.status is set: status is
	 * written through <plural>/status, and a write of the main resource
	 * ignores .status. Without it, .status is part of the main resource. */
	bool has_status_subresource;
	/* The schema to project .status through with crdschema_prune
	 * (borrowed from the cache; valid until the next lookup, invalidate or
	 * free): spec.versions[name=version].schema.openAPIV3Schema
	 * .properties.status; a "preserve everything" schema when the root
	 * preserves unknown fields and declares no status; NULL when the
	 * schema has no status at all (everything under status is dropped:
	 * crdschema_prune(NULL, ...) gives {}). */
	struct json_object *status_schema;
	/* status is kept whole (preserve-unknown-fields at the root, or on a
	 * status declaring neither properties nor additionalProperties):
	 * pruning would drop nothing, so a caller may skip it. */
	bool keep_all;
};

/* A cache reading CRDs through c (borrowed), keeping answers ttl_ms (0 =
 * CRDSCHEMA_DEFAULT_TTL_MS). NULL when out of memory. */
struct crdschema *crdschema_new(struct kclient *c, int64_t ttl_ms);

void crdschema_free(struct crdschema **s);

/* Fills *out for the kind r (borrowed, from discovery_resolve: its group,
 * version, plural) at time now_ms (any monotonic-enough clock in ms; tests
 * pass a fake one). A core or dotless group ("", "apps", "batch") is never a
 * CRD and costs no request. Otherwise the CRD
 * /apis/apiextensions.k8s.io/v1/customresourcedefinitions/<plural>.<group>
 * is read once per ttl_ms (a 404 is cached too: a built-in or aggregated
 * kind). Returns 0; or the error of reading the CRD (a 403, a 5xx, with err
 * naming it), never taken for "not a CRD"; or -ESTALE when the CRD does not
 * list r's version (it is read again at the next lookup). */
int crdschema_lookup(struct crdschema *s, const struct kresource *r, int64_t now_ms, struct crdschema_info *out,
		     struct cx_err *err);

/* Forgets the cached answer for r's kind: the next lookup reads the CRD
 * again. For a caller that saw the server store a status other than the
 * projection predicted (the CRD changed under the cache). */
void crdschema_invalidate(struct crdschema *s, const struct kresource *r);

/* A copy (owned) of value as the API server's structural pruning stores it
 * under schema (a structural OpenAPI v3 schema, borrowed; NULL is a schema
 * that declares nothing). Pure: no I/O, value and schema are untouched.
 * The rules, as apiextensions-apiserver's pruning applies them:
 * - an object keeps the keys `properties` lists (each pruned by its own
 *   schema); with `additionalProperties` every other key too, pruned by
 *   that schema (`true` is a schema that declares nothing: the key stays,
 *   an object under it is emptied); any other key is dropped;
 * - x-kubernetes-preserve-unknown-fields: true keeps the undeclared keys
 *   at that level as they are (declared ones are still pruned), and the
 *   elements of a preserving array likewise;
 * - x-kubernetes-embedded-resource: true keeps apiVersion and kind, and
 *   metadata with only its ObjectMeta fields;
 * - array elements follow `items` (none: an object element is emptied);
 * - scalars are kept as they are (validation is not pruning).
 * The dropped fields' paths, from prefix ("status" gives
 * "status.conditions", "status.a[0].b"), go "; "-separated into dropped
 * (len bytes, may be NULL/0; cut with "..." when full); *n_dropped (may be
 * NULL) counts them all. "Can this status hold coxswain's conditions?" is
 * answered by pruning the status it would write and looking at what was
 * dropped. NULL when out of memory or deeper than CRDSCHEMA_MAX_DEPTH. */
struct json_object *crdschema_prune(struct json_object *schema, struct json_object *value, const char *prefix,
				    char *dropped, size_t len, size_t *n_dropped);

#endif

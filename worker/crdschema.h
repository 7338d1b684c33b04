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

/* What a kind's CRD says about its status. */
struct crdschema_info {
	bool is_crd;                  /* false: built-in or aggregated */
	/* The schema of .status (borrowed from the cache; valid until the next
	 * lookup): NULL when the CRD's schema has no status at all (everything
	 * under it is pruned); the root schema itself when the root preserves
	 * unknown fields and declares no status. */
	struct json_object *status_schema;
	bool keep_all;                /* status is kept whole (preserve-unknown-fields at the root) */
};

/* A cache reading CRDs through c (borrowed), keeping answers ttl_ms (0 =
 * CRDSCHEMA_DEFAULT_TTL_MS). NULL when out of memory. */
struct crdschema *crdschema_new(struct kclient *c, int64_t ttl_ms);

void crdschema_free(struct crdschema **s);

/* Fills *out for the kind r (its group, version, plural) at time now_ms.
 * Returns 0, or the error of reading the CRD (a 403, a 5xx) with err naming
 * it: an unknown kind is never taken for a CRD or for a built-in. */
int crdschema_lookup(struct crdschema *s, const struct kresource *r, int64_t now_ms, struct crdschema_info *out,
		     struct cx_err *err);

/* A copy (owned) of value as the API server stores it under schema (a
 * structural OpenAPI v3 schema; NULL prunes everything but a scalar): object
 * fields that neither `properties` nor `additionalProperties` declare are
 * dropped unless x-kubernetes-preserve-unknown-fields is true there;
 * x-kubernetes-embedded-resource keeps apiVersion, kind and metadata; array
 * items follow `items`; scalars are kept (validation is not pruning). The
 * dropped fields' paths, from prefix ("status.conditions"), go "; "-separated
 * into dropped (cut with "..."); *n_dropped (may be NULL) counts them. NULL
 * when out of memory. */
struct json_object *crdschema_prune(struct json_object *schema, struct json_object *value, const char *prefix,
				    char *dropped, size_t len, size_t *n_dropped);

#endif

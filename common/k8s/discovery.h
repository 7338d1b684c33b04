/* discovery: which resource serves a kind (apiVersion + kind → plural name,
 * namespaced or not, verbs), from the API server's discovery documents.
 *
 * One group/version is fetched when first asked for and cached. A kind the
 * cache does not know makes it fetch that group/version again (at most once a
 * second), so a CRD created after start-up becomes usable without a restart.
 * Entries handed out stay valid until discovery_free, even across refreshes. */
#ifndef COXSWAIN_DISCOVERY_H
#define COXSWAIN_DISCOVERY_H

#include <stdbool.h>

struct cx_err;
struct discovery;
struct kclient;

enum kverb {
	KVERB_GET = 1 << 0,
	KVERB_LIST = 1 << 1,
	KVERB_WATCH = 1 << 2,
	KVERB_CREATE = 1 << 3,
	KVERB_UPDATE = 1 << 4,
	KVERB_PATCH = 1 << 5,
	KVERB_DELETE = 1 << 6,
};

struct kresource {
	char *group; /* "" for the core group */
	char *version;
	char *api_version; /* "v1", "apps/v1" */
	char *kind;
	char *resource; /* the plural: "configmaps" */
	bool namespaced;
	unsigned verbs;  /* enum kverb bits */
	bool has_status; /* serves the status subresource */
};

/* c is borrowed and must outlive the discovery. */
struct discovery *discovery_new(struct kclient *c);

void discovery_free(struct discovery **d);

/* Finds the resource of kind in api_version. *out is borrowed from d.
 * -ENOENT when the API server does not serve it (the message says whether the
 * group/version or the kind is missing, e.g. a CRD not installed yet); other
 * codes are the kclient's. */
int discovery_resolve(struct discovery *d, const char *api_version, const char *kind, const struct kresource **out,
		      struct cx_err *err);

/* The same for a resource named by its plural (metacontroller's
 * "resource: configmaps"), with the same caching and refresh. */
int discovery_resolve_resource(struct discovery *d, const char *api_version, const char *resource,
			       const struct kresource **out, struct cx_err *err);

/* The API path of a resource: the collection when name is NULL, all
 * namespaces when ns is NULL (or a cluster-scoped resource), with
 * "/subresource" when given. Returns an owned string or NULL (out of memory). */
char *kresource_path(const struct kresource *r, const char *ns, const char *name, const char *subresource);

#endif

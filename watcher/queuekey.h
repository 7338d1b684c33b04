/* queuekey: the work queue's key for one parent, built and split in this
 * one place (docs/architecture.md §2.1):
 *
 *   "<controller>/<namespace>/<name>"    a namespaced parent
 *   "<controller>/<name>"                a cluster-scoped parent
 *
 * The controller queues it (watcher/controller), the broker hands it out
 * and names the job's controller by it (watcher/broker), the event loop
 * finds the controller and the parent's cache entry by it (watcher.c), and
 * relwatch reads the parent's namespace from it. Everything after the
 * first '/' is the parent's cache key ("namespace/name" or "name",
 * kobj_key). No part holds a '/': a controller's name is a DNS label
 * (coxswain.yaml) or a DNS subdomain with an optional ".r<i>"
 * (metacontroller definitions, common/mcbridge.h), and the API server
 * refuses '/' in namespaces and names. So a key has one or two '/' and is
 * split at the first; anything else is malformed.
 *
 * The workers never split a key: they get the controller in the JOB's own
 * field (common/proto.h) and only log or compare the key. */
#ifndef COXSWAIN_QUEUEKEY_H
#define COXSWAIN_QUEUEKEY_H

#include <stdbool.h>
#include <stddef.h>

/* The longest parts, without a NUL: a controller name (a DNS subdomain,
 * 253, with room for a decorator's ".r<i>"), a namespace (a DNS label) and
 * a name (a DNS subdomain). */
#define QUEUEKEY_CONTROLLER_MAX 272
#define QUEUEKEY_NAMESPACE_MAX  63
#define QUEUEKEY_NAME_MAX       253
/* The longest key, with its NUL: every key of parts within those limits
 * fits a buffer this long. */
#define QUEUEKEY_MAX (QUEUEKEY_CONTROLLER_MAX + 1 + QUEUEKEY_NAMESPACE_MAX + 1 + QUEUEKEY_NAME_MAX + 1)

/* The key of the parent ns/name (ns NULL or "" for a cluster-scoped parent)
 * of controller, into buf. Returns false, with buf unusable, when a part is
 * missing (controller or name NULL or ""), holds a '/', is longer than its
 * limit above, or the key does not fit len. */
bool queuekey_make(const char *controller, const char *ns, const char *name, char *buf, size_t len);

/* The same key from the parent's cache key object_key ("namespace/name"
 * or "name", kobj_key), with the same rules. */
bool queuekey_join(const char *controller, const char *object_key, char *buf, size_t len);

/* A key split into its parts (copies), plus where the parent's cache key
 * starts in it. */
struct queuekey {
	char controller[QUEUEKEY_CONTROLLER_MAX + 1];
	char namespace[QUEUEKEY_NAMESPACE_MAX + 1]; /* "" for a cluster-scoped parent */
	char name[QUEUEKEY_NAME_MAX + 1];
	const char *object_key; /* borrowed from the key given to queuekey_parse */
};

/* Splits key (borrowed; out->object_key points into it). Returns false,
 * with out unusable, when key is NULL or malformed: no '/', more than two,
 * an empty part, or a part longer than its limit. */
bool queuekey_parse(const char *key, struct queuekey *out);

#endif

/* kobj: typed reading of a Kubernetes object's metadata (name, namespace,
 * uid, resourceVersion, generation, deletionTimestamp, the controller
 * ownerReference, labels, annotations) and its cache key "ns/name", over the
 * object as json-c parsed it. One owner for these walks, so that every layer
 * reads metadata the same way.
 *
 * NULL-tolerant like common/jsonget: the object may be NULL, not an object,
 * have no metadata or a field of the wrong type; a getter then says "absent"
 * (NULL, 0 or false). A string getter returns the field only when it is a
 * non-empty string: an empty name, uid or resourceVersion is no value (the
 * API server never sends one), and an empty namespace is none (cluster-scoped).
 *
 * Every pointer returned is borrowed from o (or from the ownerReference
 * given): it lives as long as o is neither freed nor changed. */
#ifndef COXSWAIN_KOBJ_H
#define COXSWAIN_KOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* metadata (borrowed) when it is an object, else NULL: for a caller that
 * edits it. */
struct json_object *kobj_meta(const struct json_object *o);

const char *kobj_name(const struct json_object *o);
/* NULL for a cluster-scoped object (no namespace, or ""). */
const char *kobj_namespace(const struct json_object *o);
const char *kobj_uid(const struct json_object *o);
const char *kobj_resource_version(const struct json_object *o);

/* metadata.generation when it is an integer, else 0 (the API server sets it
 * from 1 on for every kind that has one). */
int64_t kobj_generation(const struct json_object *o);

/* Whether metadata.deletionTimestamp is set (to anything but null). */
bool kobj_deleting(const struct json_object *o);

/* The first metadata.ownerReferences entry whose "controller" is the
 * boolean true, borrowed; NULL when there is none. The API server lets at
 * most one be, and takes nothing but a boolean there. */
struct json_object *kobj_controller_ref(const struct json_object *o);

/* An ownerReference's fields (ref as kobj_controller_ref gives it; NULL is
 * fine): a string when it is one, else NULL. */
const char *kobj_ref_uid(const struct json_object *ref);
const char *kobj_ref_kind(const struct json_object *ref);
const char *kobj_ref_api_version(const struct json_object *ref);
const char *kobj_ref_name(const struct json_object *ref);

/* metadata.labels / metadata.annotations (borrowed) when present, whatever
 * their type (a selector judges them), else NULL. */
struct json_object *kobj_labels(const struct json_object *o);
struct json_object *kobj_annotations(const struct json_object *o);

/* One label's or annotation's value when it is a string, else NULL. */
const char *kobj_label(const struct json_object *o, const char *key);
const char *kobj_annotation(const struct json_object *o, const char *key);

/* o's cache key into buf: "namespace/name", or "name" for a cluster-scoped
 * object, as client-go's MetaNamespaceKeyFunc. false (buf undefined) when o
 * has no name or the key does not fit in len bytes with its NUL. */
bool kobj_key(const struct json_object *o, char *buf, size_t len);

/* The fields of an ObjectMeta, NULL-terminated: a manifest carries name,
 * labels and annotations, an object read back carries the rest, and the API
 * server drops any other key of an embedded resource's metadata. */
extern const char *const kobj_meta_fields[];

#endif

/* childkey: the two keys of the hook request's children map, in one place
 * (the watcher builds the map, the worker reads it back and keys the hook's
 * answer the same way to find what to prune):
 *
 *   {"ConfigMap.v1": {"settings": {...}},                 a namespaced parent
 *    "ConfigMap.v1": {"team-a/settings": {...}}}          a cluster-scoped parent
 *
 * The outer key is "Kind.apiVersion", written and split only here
 * (childkey_kind, childkey_kind_split): RESULT's writes (common/proto.h)
 * and the echo filter (watcher/echo.h) use it too. The inner key is metacontroller's
 * relative name (its hook version v1): the child's name, or
 * "namespace/name" when the parent is cluster-scoped and the child is
 * namespaced (such a parent's children may live in many namespaces, and two
 * of them may share a name).
 *
 * A hook with version: v2 gets metacontroller's UniformObjectMap instead:
 * the same outer key, and an inner key that depends on the object alone,
 * never on its parent: "namespace/name" for a namespaced object, "name" for
 * a cluster-scoped one.
 *
 *   {"ConfigMap.v1": {"team-a/settings": {...}},          any parent
 *    "Namespace.v1": {"team-a": {...}}} */
#ifndef COXSWAIN_CHILDKEY_H
#define COXSWAIN_CHILDKEY_H

#include <stdbool.h>
#include <stddef.h>

/* Longest key either function writes, with its NUL: a namespace (63), '/',
 * a name (253). */
#define CHILDKEY_MAX 320

/* The longest "Kind.apiVersion" key, with its NUL. The watcher refuses a
 * controller whose kinds' keys are longer (controller_new), and the
 * hook answer's check refuses such a child (worker/hook.h), so a buffer
 * this long holds every key the worker builds. */
#define CHILDKEY_KIND_MAX 256

/* "Kind.apiVersion" into buf. Returns false, with buf "" (len > 0), when it
 * does not fit, or kind or api_version is NULL or "". */
bool childkey_kind(const char *kind, const char *api_version, char *buf, size_t len);

/* Splits a "Kind.apiVersion" key at its first '.' (a kind has none): the
 * kind is key[0 .. *kind_len), the apiVersion key + *kind_len + 1. Returns
 * false (and leaves *kind_len alone) when key is NULL or not such a key: no
 * '.', or an empty kind or apiVersion. */
bool childkey_kind_split(const char *key, size_t *kind_len);

/* The relative name of a child called name in child_ns (NULL or "" for a
 * cluster-scoped child) under a parent in parent_ns (NULL or "" for a
 * cluster-scoped parent), into buf. Returns false when it does not fit. */
bool childkey_name(const char *parent_ns, const char *child_ns, const char *name, char *buf, size_t len);

/* The v2 (uniform) key of an object called name in ns (NULL or "" for a
 * cluster-scoped object), into buf. Returns false when it does not fit. */
bool childkey_uniform_name(const char *ns, const char *name, char *buf, size_t len);

#endif

/* etagcache: the answers of webhooks with etag.enabled, for If-None-Match.
 *
 * What metacontroller does (pkg/hooks/webhook_etag.go): each hook of each
 * controller has a cache keyed by the request's root object (the parent of
 * a CompositeController, the object of a DecoratorController) as (kind,
 * namespace, name); the request carries If-None-Match with the ETag last
 * answered for that object; a 304 reuses the body stored with it; any
 * answer with an ETag header replaces the entry. The key does not depend
 * on the children or on anything else in the request: the webhook decides
 * from the request whether its answer changed. Entries expire
 * cacheTimeoutSeconds after they were stored (absent or 0: never, as with
 * metacontroller's zcache), and expired entries are removed every
 * cacheCleanupSeconds (absent or 0: only when their key is stored again or
 * the cache is full). An expired entry is never used.
 *
 * Here one cache serves every hook of a worker process: the key starts with
 * a scope naming the controller and the hook (etagcache_key). Unlike
 * metacontroller's, it is bounded (ETAGCACHE_MAX_ENTRIES; the entry stored
 * longest ago goes first), since a parent deleted long ago would otherwise
 * stay forever.
 *
 * Pure: time is a parameter (ms on any monotonic clock), so expiry is
 * tested with a fake clock. Not thread-safe (a worker is one thread). */
#ifndef COXSWAIN_ETAGCACHE_H
#define COXSWAIN_ETAGCACHE_H

#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;
struct etagcache;

#define ETAGCACHE_MAX_ENTRIES 65536

struct etagcache_entry {
	const char *etag; /* as the webhook sent it, quotes and W/ included */
	const char *body; /* the answer it came with; len bytes, NUL-terminated */
	size_t len;
};

/* max_entries 0 = ETAGCACHE_MAX_ENTRIES. NULL when out of memory. */
struct etagcache *etagcache_new(size_t max_entries);

void etagcache_free(struct etagcache **c);

/* The key of request (a hook request: its "parent", or "object" for a
 * decorator) under scope (controller and hook: any string without NUL):
 * "SCOPE\nKIND\nNAMESPACE\nNAME" (namespace "" when cluster-scoped).
 * Owned; NULL with err filled when the request has no root object with a
 * kind and a metadata.name (-EINVAL) or out of memory (-ENOMEM). */
char *etagcache_key(const char *scope, struct json_object *request, struct cx_err *err);

/* The entry stored under key that has not expired at now_ms, borrowed
 * until the next etagcache_put, etagcache_forget or etagcache_sweep; NULL
 * when there is none. */
const struct etagcache_entry *etagcache_get(struct etagcache *c, const char *key, int64_t now_ms);

/* Stores (copies) etag and body under key, replacing what was there, to
 * expire ttl_ms after now_ms (ttl_ms <= 0: never). Returns 0 or -ENOMEM. */
int etagcache_put(struct etagcache *c, const char *key, const char *etag, const char *body, size_t len, int64_t ttl_ms,
		  int64_t now_ms);

/* Removes key's entry, if any. */
void etagcache_forget(struct etagcache *c, const char *key);

/* Removes every entry expired at now_ms when cleanup_ms (> 0) has passed
 * since the last sweep (the first call only starts the interval). Returns
 * how many went. */
size_t etagcache_sweep(struct etagcache *c, int64_t cleanup_ms, int64_t now_ms);

/* How many entries are stored (expired ones included until swept). */
size_t etagcache_size(const struct etagcache *c);

#endif

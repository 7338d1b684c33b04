#include "config.h"

#include "etagcache.h"
#include "err.h"
#include "jsonget.h"
#include "kobj.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item {
	struct item *next; /* in its bucket */
	char *key;
	struct etagcache_entry e;
	int64_t expires_ms; /* 0: never */
	uint64_t seq;       /* when it was stored, for eviction */
};

struct etagcache {
	struct item **buckets;
	size_t n_buckets;
	size_t n;
	size_t max;
	uint64_t seq;
	bool swept_once;
	int64_t last_sweep_ms;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct etagcache *etagcache_new(size_t max_entries)
{
	struct etagcache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->n_buckets = 1024;
	if (!(c->buckets = calloc(c->n_buckets, sizeof(*c->buckets)))) {
		free(c);
		return NULL;
	}
	c->max = max_entries ? max_entries : ETAGCACHE_MAX_ENTRIES;
	return c;
}

static void item_free(struct item *it)
{
	free(it->key);
	free((char *)it->e.etag);
	free((char *)it->e.body);
	free(it);
}

void etagcache_free(struct etagcache **cp)
{
	struct etagcache *c = cp ? *cp : NULL;
	if (!c)
		return;
	for (size_t b = 0; b < c->n_buckets; b++)
		for (struct item *it = c->buckets[b], *next; it; it = next) {
			next = it->next;
			item_free(it);
		}
	free(c->buckets);
	free(c);
	*cp = NULL;
}

char *etagcache_key(const char *scope, struct json_object *request, struct cx_err *err)
{
	struct json_object *root = jsonget(request, "parent");
	if (!root)
		root = jsonget(request, "object");
	const char *kind = jsonget_string(root, "kind"), *name = kobj_name(root);
	const char *ns = kobj_namespace(root);
	if (!kind || !name) {
		cx_err_set(err, -EINVAL,
			   "etag cache: the request has no parent (or object) with a kind and a "
			   "metadata.name");
		return NULL;
	}
	char *key = NULL;
	if (asprintf(&key, "%s\n%s\n%s\n%s", scope ? scope : "", kind, ns ? ns : "", name) < 0) {
		cx_err_set(err, -ENOMEM, "etag cache: out of memory");
		return NULL;
	}
	return key;
}

static struct item **slot_of(struct etagcache *c, const char *key)
{
	struct item **p = &c->buckets[hash(key) % c->n_buckets];
	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	return p;
}

static bool expired(const struct item *it, int64_t now_ms)
{
	return it->expires_ms && now_ms >= it->expires_ms;
}

const struct etagcache_entry *etagcache_get(struct etagcache *c, const char *key, int64_t now_ms)
{
	struct item *it = *slot_of(c, key);
	return it && !expired(it, now_ms) ? &it->e : NULL;
}

static void unlink_at(struct etagcache *c, struct item **p)
{
	struct item *it = *p;
	*p = it->next;
	item_free(it);
	c->n--;
}

void etagcache_forget(struct etagcache *c, const char *key)
{
	struct item **p = slot_of(c, key);
	if (*p)
		unlink_at(c, p);
}

/* Removes the expired entries; returns how many. */
static size_t drop_expired(struct etagcache *c, int64_t now_ms)
{
	size_t gone = 0;
	for (size_t b = 0; b < c->n_buckets; b++)
		for (struct item **p = &c->buckets[b]; *p;) {
			if (expired(*p, now_ms)) {
				unlink_at(c, p);
				gone++;
			} else {
				p = &(*p)->next;
			}
		}
	return gone;
}

/* Full: expired entries go first, else the one stored longest ago. */
static void make_room(struct etagcache *c, int64_t now_ms)
{
	if (c->n < c->max || drop_expired(c, now_ms))
		return;
	struct item **oldest = NULL;
	for (size_t b = 0; b < c->n_buckets; b++)
		for (struct item **p = &c->buckets[b]; *p; p = &(*p)->next)
			if (!oldest || (*p)->seq < (*oldest)->seq)
				oldest = p;
	if (oldest)
		unlink_at(c, oldest);
}

int etagcache_put(struct etagcache *c, const char *key, const char *etag, const char *body, size_t len, int64_t ttl_ms,
		  int64_t now_ms)
{
	struct item *it = calloc(1, sizeof(*it));
	char *b = malloc(len + 1);
	if (!it || !b || !(it->key = strdup(key)) || !(it->e.etag = strdup(etag))) {
		if (it)
			free(it->key);
		free(it);
		free(b);
		return -ENOMEM;
	}
	if (len)
		memcpy(b, body, len);
	b[len] = '\0';
	it->e.body = b;
	it->e.len = len;
	it->expires_ms = ttl_ms > 0 ? now_ms + ttl_ms : 0;
	if (it->expires_ms == 0 && ttl_ms > 0)
		it->expires_ms = 1;
	it->seq = ++c->seq;
	etagcache_forget(c, key);
	make_room(c, now_ms);
	struct item **p = slot_of(c, key);
	*p = it;
	c->n++;
	return 0;
}

size_t etagcache_sweep(struct etagcache *c, int64_t cleanup_ms, int64_t now_ms)
{
	if (cleanup_ms <= 0)
		return 0;
	if (!c->swept_once) {
		c->swept_once = true;
		c->last_sweep_ms = now_ms;
		return 0;
	}
	if (now_ms - c->last_sweep_ms < cleanup_ms)
		return 0;
	c->last_sweep_ms = now_ms;
	return drop_expired(c, now_ms);
}

size_t etagcache_size(const struct etagcache *c)
{
	return c->n;
}

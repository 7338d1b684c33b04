#include "config.h"

#include "events.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply.h"
#include "cxconfig.h"
#include "err.h"
#include "kclient.h"
#include "jsonget.h"
#include "kobj.h"
#include "jsonhash.h"
#include "log.h"

/* ---- the LRU cache: a chained hash table threaded on a recency list ---- */

struct node {
	char *key;
	uint64_t hash;
	struct event_entry e;
	struct node *prev, *next; /* recency: head.next is the most recent, head.prev the least */
	struct node *chain;       /* the next node in the same bucket */
};

struct event_cache {
	size_t cap, n, nbuckets;
	struct node **buckets;
	struct node head;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct event_cache *event_cache_new(size_t capacity)
{
	if (capacity == 0)
		capacity = 1;
	struct event_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cap = capacity;
	c->nbuckets = 16;
	while (c->nbuckets < capacity)
		c->nbuckets *= 2;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->head.next = c->head.prev = &c->head;
	return c;
}

static void node_free(struct node *n)
{
	free(n->key);
	free(n->e.name);
	free(n);
}

void event_cache_free(struct event_cache **cp)
{
	if (!cp || !*cp)
		return;
	struct event_cache *c = *cp;
	for (struct node *n = c->head.next, *next; n != &c->head; n = next) {
		next = n->next;
		node_free(n);
	}
	free(c->buckets);
	free(c);
	*cp = NULL;
}

static void unlink_recency(struct node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static void push_front(struct event_cache *c, struct node *n)
{
	n->next = c->head.next;
	n->prev = &c->head;
	c->head.next->prev = n;
	c->head.next = n;
}

/* The slot pointing at key's node (or at the NULL ending its chain). */
static struct node **slot(struct event_cache *c, const char *key, uint64_t h)
{
	struct node **s = &c->buckets[h & (c->nbuckets - 1)];
	while (*s && ((*s)->hash != h || strcmp((*s)->key, key)))
		s = &(*s)->chain;
	return s;
}

/* Unlinks *s's node from everything and frees it. */
static void drop(struct event_cache *c, struct node **s)
{
	struct node *n = *s;
	*s = n->chain;
	unlink_recency(n);
	node_free(n);
	c->n--;
}

struct event_entry *event_cache_find(struct event_cache *c, const char *key)
{
	struct node *n = *slot(c, key, fnv1a(key));
	if (!n)
		return NULL;
	unlink_recency(n);
	push_front(c, n);
	return &n->e;
}

void event_cache_remove(struct event_cache *c, const char *key)
{
	struct node **s = slot(c, key, fnv1a(key));
	if (*s)
		drop(c, s);
}

struct event_entry *event_cache_put(struct event_cache *c, const char *key, const char *name, time_t now)
{
	uint64_t h = fnv1a(key);
	struct node **s = slot(c, key, h);
	if (*s)
		drop(c, s);
	else if (c->n >= c->cap) {
		struct node *lru = c->head.prev;
		drop(c, slot(c, lru->key, lru->hash));
	}
	struct node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->key = strdup(key);
	n->e.name = strdup(name);
	if (!n->key || !n->e.name) {
		node_free(n);
		return NULL;
	}
	n->hash = h;
	n->e.count = 1;
	n->e.last = now;
	/* Dropping may have changed the chain: look the slot up again. */
	s = slot(c, key, h);
	*s = n;
	push_front(c, n);
	c->n++;
	return &n->e;
}

size_t event_cache_size(const struct event_cache *c)
{
	return c->n;
}

/* ---- keys and names ---- */

char *events_key(const char *uid, const char *type, const char *reason, const char *message)
{
	char *k = NULL;
	return asprintf(&k, "%s\x1f%s\x1f%s\x1f%s", uid, type, reason, message) < 0 ? NULL : k;
}

char *events_name(const char *parent_name, const char *uid, const char *type, const char *reason, const char *message)
{
	struct json_object *parts = json_object_new_array();
	char hash[JSONHASH_MAX];
	if (!parts)
		return NULL;
	json_object_array_add(parts, json_object_new_string(uid));
	json_object_array_add(parts, json_object_new_string(type));
	json_object_array_add(parts, json_object_new_string(reason));
	json_object_array_add(parts, json_object_new_string(message));
	int r = jsonhash(parts, hash, sizeof(hash));
	json_object_put(parts);
	if (r)
		return NULL;
	/* 253 in all, less "." and 16 digits; a cut must not end in '.' or '-'. */
	size_t len = strlen(parent_name);
	if (len > 236) {
		len = 236;
		while (len > 1 && (parent_name[len - 1] == '.' || parent_name[len - 1] == '-'))
			len--;
	}
	char *name = NULL;
	return asprintf(&name, "%.*s.%.16s", (int)len, parent_name, hash + strlen("sha256:")) < 0 ? NULL : name;
}

void events_cut_message(const char *message, char out[static EVENTS_MESSAGE_MAX + 1])
{
	size_t len = strlen(message);
	if (len <= EVENTS_MESSAGE_MAX) {
		memcpy(out, message, len + 1);
		return;
	}
	/* Back off UTF-8 continuation bytes (10xxxxxx): the cut falls before the
	 * character it would have split. */
	size_t keep = EVENTS_MESSAGE_MAX - 3;
	while (keep > 0 && ((unsigned char)message[keep] & 0xc0) == 0x80)
		keep--;
	memcpy(out, message, keep);
	memcpy(out + keep, "...", 4);
}

/* ---- posting ---- */

struct events {
	struct kclient *c;
	char *controller;
	char reporting[256]; /* coxswain.io/<controller> */
	char host[256];
	struct event_cache *cache;
	time_t (*now)(void);
	unsigned seed; /* for bump_live's jitter */
	bool normal;   /* events_post_apply posts Normal Events too */
};

#define BUMP_ATTEMPTS 6

static time_t real_now(void)
{
	return time(NULL);
}

struct events *events_new(struct kclient *c, const char *controller, size_t capacity)
{
	struct events *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->c = c;
	e->now = real_now;
	e->seed = (unsigned)getpid() ^ (unsigned)time(NULL) ^ (unsigned)(uintptr_t)e;
	e->controller = strdup(controller);
	e->cache = event_cache_new(capacity ? capacity : EVENTS_DEFAULT_CAPACITY);
	if (!e->controller || !e->cache) {
		events_free(&e);
		return NULL;
	}
	snprintf(e->reporting, sizeof(e->reporting), "coxswain.io/%s", controller);
	if (gethostname(e->host, sizeof(e->host)) != 0 || !e->host[0])
		snprintf(e->host, sizeof(e->host), "unknown");
	e->host[sizeof(e->host) - 1] = '\0';
	return e;
}

void events_free(struct events **ep)
{
	if (!ep || !*ep)
		return;
	event_cache_free(&(*ep)->cache);
	free((*ep)->controller);
	free(*ep);
	*ep = NULL;
}

void events_set_clock(struct events *e, time_t (*now)(void))
{
	e->now = now ? now : real_now;
}

static void format_time(time_t t, char buf[static 32])
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
	if (value)
		json_object_object_add(o, key, json_object_new_string(value));
}

/* The Event object for a first occurrence. */
static struct json_object *new_event(struct events *e, struct json_object *parent, const char *name, const char *ns,
				     const char *type, const char *reason, const char *message, const char *when)
{
	struct json_object *ev = json_object_new_object(), *meta = json_object_new_object(),
			   *ref = json_object_new_object(), *src = json_object_new_object();
	if (!ev || !meta || !ref || !src) {
		json_object_put(ev);
		json_object_put(meta);
		json_object_put(ref);
		json_object_put(src);
		return NULL;
	}
	add_string(ev, "apiVersion", "v1");
	add_string(ev, "kind", "Event");
	add_string(meta, "name", name);
	add_string(meta, "namespace", ns);
	json_object_object_add(ev, "metadata", meta);
	add_string(ref, "apiVersion", jsonget_nonempty(parent, "apiVersion"));
	add_string(ref, "kind", jsonget_nonempty(parent, "kind"));
	add_string(ref, "name", kobj_name(parent));
	add_string(ref, "namespace", kobj_namespace(parent));
	add_string(ref, "uid", kobj_uid(parent));
	add_string(ref, "resourceVersion", kobj_resource_version(parent));
	json_object_object_add(ev, "involvedObject", ref);
	add_string(ev, "type", type);
	add_string(ev, "reason", reason);
	add_string(ev, "message", message);
	add_string(src, "component", EVENTS_COMPONENT);
	add_string(src, "host", e->host);
	json_object_object_add(ev, "source", src);
	add_string(ev, "firstTimestamp", when);
	add_string(ev, "lastTimestamp", when);
	json_object_object_add(ev, "count", json_object_new_int(1));
	add_string(ev, "reportingComponent", e->reporting);
	add_string(ev, "reportingInstance", e->host);
	return ev;
}

/* PATCHes Event name to count, lastTimestamp when, under resourceVersion rv
 * (a precondition, when not ""): -EAGAIN when someone else wrote it since. */
static int bump(struct events *e, const char *ns, const char *name, long count, const char *rv, const char *when,
		struct json_object **out, struct cx_err *err)
{
	char path[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, name);
	struct json_object *patch = json_object_new_object(), *meta = json_object_new_object();
	if (!patch || !meta) {
		json_object_put(patch);
		json_object_put(meta);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	if (*rv) {
		add_string(meta, "resourceVersion", rv);
		json_object_object_add(patch, "metadata", meta);
	} else {
		json_object_put(meta);
	}
	json_object_object_add(patch, "count", json_object_new_int64(count));
	add_string(patch, "lastTimestamp", when);
	int r = kclient_patch(e->c, path, KCLIENT_PATCH_MERGE, patch, out, err);
	json_object_put(patch);
	return r;
}

/* An Event's count as the server holds it (1 when absent or not a number). */
static long count_of(struct json_object *ev)
{
	struct json_object *c = jsonget(ev, "count");
	return json_object_is_type(c, json_type_int) ? (long)json_object_get_int64(c) : 1;
}

/* Bumps Event name from what the server has (another worker wrote it):
 * reads it, then PATCHes its count + 1 under its resourceVersion, again
 * when a third writer slips in between. Between attempts it waits a random
 * few milliseconds (more each time, BUMP_ATTEMPTS of them at most: under
 * 0.2 s in all): a worker that knows the resourceVersion writes with one
 * request, and without the jitter a worker that must read first can lose
 * every round to it. Fills *count and rv (64 bytes) with the result.
 * -ENOENT when it is gone; -EAGAIN when every attempt lost. */
static int bump_live(struct events *e, const char *ns, const char *name, const char *when, long *count, char *rv,
		     struct json_object **out, struct cx_err *err)
{
	char path[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, name);
	int r = -EAGAIN;
	for (int attempt = 0; attempt < BUMP_ATTEMPTS && r == -EAGAIN; attempt++) {
		struct json_object *live = NULL, *bumped = NULL;
		if (attempt)
			usleep((useconds_t)(rand_r(&e->seed) % (10000u * (unsigned)attempt)));
		cx_err_clear(err);
		if ((r = kclient_get(e->c, path, &live, err)))
			return r;
		long now_count = count_of(live);
		const char *live_rv = kobj_resource_version(live);
		snprintf(rv, 64, "%s", live_rv ? live_rv : "");
		json_object_put(live);
		r = bump(e, ns, name, now_count + 1, rv, when, &bumped, err);
		if (r == 0) {
			*count = now_count + 1;
			live_rv = kobj_resource_version(bumped);
			snprintf(rv, 64, "%s", live_rv ? live_rv : "");
			if (out)
				*out = bumped;
			else
				json_object_put(bumped);
		}
	}
	return r;
}

/* The series of (type, reason, message) about a parent: the message as
 * stored, the Event's namespace and the dedup key. */
struct series {
	char msg[EVENTS_MESSAGE_MAX + 1];
	const char *ns; /* borrowed from the parent, or static */
	char *key;      /* owned; its type is part of it */
};

static int identify(struct json_object *parent, const char *type, const char *reason, const char *message,
		    struct series *s, struct cx_err *err)
{
	const char *uid = kobj_uid(parent);
	s->key = NULL;
	if (!uid || !kobj_name(parent))
		return cx_err_set(err, -EINVAL, "event %s: the parent has no metadata.%s", reason,
				  uid ? "name" : "uid");
	s->ns = kobj_namespace(parent) ?: "default"; /* where Events about cluster-scoped objects go */
	events_cut_message(message, s->msg);
	if (!(s->key = events_key(uid, type, reason, s->msg)))
		return cx_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int events_post(struct events *e, struct json_object *parent, const char *type, const char *reason, const char *message,
		struct json_object **out, struct cx_err *err)
{
	if (out)
		*out = NULL;
	struct series ser;
	int r = identify(parent, type, reason, message, &ser, err);
	if (r)
		return r;
	const char *ns = ser.ns, *msg = ser.msg;
	char *key = ser.key;
	const char *uid = kobj_uid(parent), *pname = kobj_name(parent);
	time_t now = e->now();
	char when[32];
	format_time(now, when);

	struct event_entry *entry = event_cache_find(e->cache, key);
	char *name = entry ? strdup(entry->name) : events_name(pname, uid, type, reason, msg);
	char rv[64] = "";
	long count = 0;
	struct json_object *written = NULL;
	if (!name) {
		free(key);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	r = -ENOENT;
	if (entry && now - entry->last < EVENTS_REUSE_SECONDS) {
		/* Known: one PATCH, unless another worker wrote it since. */
		snprintf(rv, sizeof(rv), "%s", entry->resource_version);
		count = entry->count + 1;
		r = bump(e, ns, name, count, rv, when, &written, err);
		if (r == -EAGAIN)
			r = bump_live(e, ns, name, when, &count, rv, &written, err);
	}
	if (r == -ENOENT) {
		/* Unknown here, or expired on the server: create it, or count
		 * into the one another worker made. */
		cx_err_clear(err);
		char path[512];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
		struct json_object *ev = new_event(e, parent, name, ns, type, reason, msg, when);
		count = 1;
		r = ev ? kclient_create(e->c, path, ev, &written, err) : cx_err_set(err, -ENOMEM, "out of memory");
		json_object_put(ev);
		if (r == -EEXIST) {
			cx_err_clear(err);
			r = bump_live(e, ns, name, when, &count, rv, &written, err);
		} else if (r == 0) {
			const char *v = kobj_resource_version(written);
			snprintf(rv, sizeof(rv), "%s", v ? v : "");
		}
	} else if (r == 0 && written) {
		const char *v = kobj_resource_version(written);
		snprintf(rv, sizeof(rv), "%s", v ? v : "");
	}
	if (r == 0) {
		struct event_entry *fresh = event_cache_put(e->cache, key, name, now);
		if (fresh) {
			fresh->count = count;
			snprintf(fresh->resource_version, sizeof(fresh->resource_version), "%s", rv);
		} else {
			log_kv(LOG_LEVEL_WARNING, 0, "event not cached: out of memory", "event", name, NULL);
		}
		log_kv(LOG_LEVEL_INFO, 4, count > 1 ? "event repeated" : "event posted", "event", name, "type", type,
		       "reason", reason, NULL);
		if (out)
			*out = written;
		else
			json_object_put(written);
	} else {
		event_cache_remove(e->cache, key);
		json_object_put(written);
	}
	free(name);
	free(key);
	return r;
}

int events_post_once(struct events *e, struct json_object *parent, const char *type, const char *reason,
		     const char *message, struct cx_err *err)
{
	struct series ser;
	int r = identify(parent, type, reason, message, &ser, err);
	if (r)
		return r;
	char *key = ser.key;
	time_t now = e->now();
	struct event_entry *entry = event_cache_find(e->cache, key);
	if (entry && now - entry->last < EVENTS_REUSE_SECONDS) {
		free(key);
		return 0;
	}
	char *name = events_name(kobj_name(parent), kobj_uid(parent), type, reason, ser.msg);
	if (!name) {
		free(key);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	struct json_object *live = NULL;
	char path[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ser.ns, name);
	r = kclient_get(e->c, path, &live, err);
	if (r == 0) {
		/* Said already, by another worker or before a restart. */
		struct event_entry *known = event_cache_put(e->cache, key, name, now);
		if (known) {
			known->count = count_of(live);
			snprintf(known->resource_version, sizeof(known->resource_version), "%s",
				 kobj_resource_version(live) ?: "");
		}
	} else if (r == -ENOENT) {
		cx_err_clear(err);
		r = events_post(e, parent, type, reason, message, NULL, err);
	}
	json_object_put(live);
	free(name);
	free(key);
	return r;
}

void events_set_normal(struct events *e, bool on)
{
	e->normal = on;
}

int events_post_apply(struct events *e, struct json_object *parent, const struct apply_report *r, struct cx_err *err)
{
	int first = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct apply_result *res = &r->results[i];
		const char *type = EVENT_NORMAL, *reason;
		char msg[2 * CX_ERR_MSG_MAX]; /* events_post cuts it to EVENTS_MESSAGE_MAX */
		switch (res->action) {
		case APPLY_CREATED:
			reason = "Created";
			snprintf(msg, sizeof(msg), "created %s/%s", res->kind, res->name);
			break;
		case APPLY_RECREATED:
			reason = "Recreated";
			snprintf(msg, sizeof(msg),
				 "recreated %s/%s: the hook changed it and its updateStrategy is Recreate", res->kind,
				 res->name);
			break;
		case APPLY_DELETED:
			reason = "Deleted";
			snprintf(msg, sizeof(msg), "deleted %s/%s: the hook no longer returns it", res->kind,
				 res->name);
			break;
		case APPLY_ADOPTED:
			reason = "Adopted";
			snprintf(msg, sizeof(msg), "adopted %s/%s: it had no controller and adoptOrphans is set",
				 res->kind, res->name);
			break;
		case APPLY_CONFLICT:
			type = EVENT_WARNING;
			reason = "ChildConflict";
			snprintf(msg, sizeof(msg), "%s", res->err.msg); /* it names the child and its owner */
			break;
		case APPLY_FAILED:
			type = EVENT_WARNING;
			reason = "ApplyFailed";
			snprintf(msg, sizeof(msg), "%s/%s: %s", res->kind, res->name, res->err.msg);
			break;
		default:
			continue;
		}
		if (!strcmp(type, EVENT_NORMAL) && !e->normal)
			continue;
		struct cx_err one = { 0 };
		int rc = events_post(e, parent, type, reason, msg, NULL, &one);
		if (rc && !first) {
			first = rc;
			if (err)
				*err = one;
		}
	}
	return first;
}

const char *events_failure_reason(const struct config_controller *cc, const char *reason)
{
	return cc->origin == CONFIG_ORIGIN_METACONTROLLER ? "SyncError" : reason;
}

/* events: core/v1 Events about a parent, deduplicated so that a failing
 * loop does not flood the API.
 *
 * Each Event names the parent (involvedObject: apiVersion, kind, name,
 * namespace, uid, resourceVersion), has a type (Normal, Warning), a reason,
 * a message, source.component coxswain-worker, reportingComponent
 * coxswain.io/<controller> and reportingInstance and source.host the
 * hostname. Events live in the parent's namespace ("default" for a
 * cluster-scoped parent).
 *
 * One series per (parent, type, reason, message) across every worker and
 * every restart, as client-go's EventCorrelator aggregates within one
 * process: the Event's name is "<parent name>.<16 hex digits>", the digits
 * from a SHA-256 of (parent uid, type, reason, message), so every worker
 * names it the same. The first to post creates it; a repeat PATCHes it
 * (count + 1, lastTimestamp) with the resourceVersion it knows as a
 * precondition. When another worker bumped it meanwhile (409), or created it
 * first (AlreadyExists), the Event is read and bumped from what the server
 * has (a few attempts, a random pause of a few milliseconds between them),
 * so no count is lost and no second series starts. The API server keeps
 * an Event for an hour after its last write: a PATCH answered 404 creates
 * it anew.
 *
 * An in-process cache keyed by (parent uid, type, reason, message) remembers
 * the count and resourceVersion last seen, so that a repeat costs one PATCH;
 * it holds at most `capacity` keys and forgets the least recently used one
 * first, and an entry older than EVENTS_REUSE_SECONDS is not trusted. */
#ifndef COXSWAIN_EVENTS_H
#define COXSWAIN_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct apply_report;
struct cx_err;
struct json_object;
struct kclient;

#define EVENTS_DEFAULT_CAPACITY 4096
#define EVENTS_REUSE_SECONDS    (50 * 60) /* the API server's Event TTL is 1 h after the last write */
#define EVENTS_MESSAGE_MAX      1024      /* longer messages are cut (with "...") */
#define EVENTS_COMPONENT        "coxswain-worker"

#define EVENT_NORMAL  "Normal"
#define EVENT_WARNING "Warning"

struct config_controller;
struct events;

/* A poster for controller (copied) through c (borrowed; must outlive the
 * poster). capacity 0 = EVENTS_DEFAULT_CAPACITY. NULL when out of memory. */
struct events *events_new(struct kclient *c, const char *controller, size_t capacity);

void events_free(struct events **e);

/* For tests: the clock events_post reads (NULL = time()). */
void events_set_clock(struct events *e, time_t (*now)(void));

/* The reason of the Warning Event for a failed sync: reason, coxswain's
 * own (HookFailed, ApplyFailed, ...), for a coxswain.yaml controller;
 * "SyncError" for a metacontroller definition, whatever failed, as
 * metacontroller posts it (its users' scripts and alerts wait for that
 * reason; the message still says what failed). */
const char *events_failure_reason(const struct config_controller *cc, const char *reason);

/* Posts (or bumps) the Event (type, reason, message) about parent
 * (borrowed). *out, when out is not NULL, receives the Event as the server
 * now has it (owned). Returns 0 or a kclient code with err filled; a failed
 * post forgets the key, so the next one creates afresh. */
int events_post(struct events *e, struct json_object *parent, const char *type, const char *reason, const char *message,
		struct json_object **out, struct cx_err *err);

/* Says (type, reason, message) about parent once across every worker and
 * restart: posts it as events_post does unless this poster posted it within
 * EVENTS_REUSE_SECONDS or the server already holds its Event (one GET, so a
 * second worker writes nothing). For a state that lasts, like a status
 * schema that drops fields, where a count of syncs says nothing. Returns 0
 * or a kclient code with err filled. */
int events_post_once(struct events *e, struct json_object *parent, const char *type, const char *reason,
		     const char *message, struct cx_err *err);

/* Whether events_post_apply posts its Normal Events (coxswain.yaml's
 * worker.events.normal; off by default: each costs one write per child per
 * change, as much as the child's own apply). Warning Events are always
 * posted. */
void events_set_normal(struct events *e, bool on);

/* The Events one apply report calls for: Normal Created, Recreated,
 * Deleted and Adopted for each such child ("created ConfigMap/x"), when
 * events_set_normal turned them on, and always Warning ChildConflict and
 * ApplyFailed for each child that is not this parent's or failed
 * ("ConfigMap/x: <error>"). Every one is attempted; returns 0 or the first
 * failure's code with err filled. */
int events_post_apply(struct events *e, struct json_object *parent, const struct apply_report *r, struct cx_err *err);

/* ---- the parts below are exposed for the unit tests ---- */

/* The dedup key of (uid, type, reason, message): their concatenation with
 * 0x1f separators (uid, type and reason never hold one). Owned; NULL when
 * out of memory. */
char *events_key(const char *uid, const char *type, const char *reason, const char *message);

/* The Event name of (uid, type, reason, message): "<parent name>.<16 hex>"
 * (a SHA-256 of the four), the parent's name shortened when needed to keep
 * it within 253 characters. Owned; NULL when out of memory. */
char *events_name(const char *parent_name, const char *uid, const char *type, const char *reason, const char *message);

/* message as the Event holds it, into out: whole when it fits in
 * EVENTS_MESSAGE_MAX bytes, otherwise cut on a UTF-8 character boundary and
 * ended with "...". Names and keys are made from this, the stored message. */
void events_cut_message(const char *message, char out[static EVENTS_MESSAGE_MAX + 1]);

/* An LRU map from dedup keys to the Event last written for them. */
struct event_cache;

struct event_entry {
	char *name;                /* the Event's metadata.name */
	long count;                /* its count on the server */
	time_t last;               /* when it was last written */
	char resource_version[64]; /* as last seen; "" when unknown */
};

/* capacity >= 1. NULL when out of memory. */
struct event_cache *event_cache_new(size_t capacity);
void event_cache_free(struct event_cache **c);

/* The entry of key, borrowed until the next change to the cache, made the
 * most recently used; NULL when absent. */
struct event_entry *event_cache_find(struct event_cache *c, const char *key);

/* Adds (or replaces) key's entry with Event name, count 1 and time now,
 * evicting the least recently used key when full. Returns the entry
 * (borrowed as above) or NULL when out of memory. */
struct event_entry *event_cache_put(struct event_cache *c, const char *key, const char *name, time_t now);

/* Forgets key (absent is fine). */
void event_cache_remove(struct event_cache *c, const char *key);

size_t event_cache_size(const struct event_cache *c);

#endif

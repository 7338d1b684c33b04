#include "config.h"

#include "informer.h"
#include "backoff.h"
#include "clock.h"
#include "discovery.h"
#include "err.h"
#include "kobj.h"
#include "kclient.h"
#include "kwatch.h"
#include "log.h"
#include "objstore.h"

#include <errno.h>
#include <malloc.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct informer {
	struct kclient *c;           /* borrowed */
	struct kwatch_mux *mux;      /* borrowed */
	const struct kresource *res; /* borrowed */
	char *path;                  /* the collection */
	char *label_selector;
	struct informer_handlers h;
	void *ud;
	const char *const *keep_managers; /* borrowed; NULL: drop managedFields */
	struct objstore *store;
	struct kwatch *w;
	char *rv; /* where the next watch starts */
	bool synced;
	bool need_list, need_watch;
	int64_t due_ms; /* not before this (monotonic ms) */
	struct backoff backoff;
	uint64_t lists, watches, streams;
	bool stream;              /* the next list is a streaming list */
	char *stream_match;       /* test_stream_match, or NULL */
	long watch_timeout_s;     /* test_watch_timeout_seconds */
	struct objstore *fresh;   /* a streaming list's objects until its bookmark, else NULL */
	int stream_error;         /* a failed streaming list's code, for the next informer_tick */
	int64_t failing_since_ms; /* -1: the last attempt succeeded */
	int last_code;
	char last_error[CX_ERR_MSG_MAX + 64];
};

static void (*observer)(void *ud, const char *path, enum informer_restart what);
static void *observer_ud;

void informer_set_observer(void (*fn)(void *ud, const char *path, enum informer_restart what), void *ud)
{
	observer = fn;
	observer_ud = ud;
}

static void tell_observer(const struct informer *inf, enum informer_restart what)
{
	if (observer)
		observer(observer_ud, inf->path, what);
}

/* INFORMER_INITIAL_STREAM or _LIST, for informers made with _DEFAULT. */
static enum informer_initial_list default_initial_list = INFORMER_INITIAL_LIST;

void informer_set_initial_list(enum informer_initial_list how)
{
	default_initial_list = how == INFORMER_INITIAL_STREAM ? INFORMER_INITIAL_STREAM : INFORMER_INITIAL_LIST;
}

bool informer_stream_refused(int code, int http_status, bool answered)
{
	switch (http_status) {
	case 400:
	case 403:
	case 405:
	case 422:
		return true;
	default:
		return code == 0 && answered;
	}
}

int informer_new(struct kclient *c, struct kwatch_mux *mux, const struct informer_options *o, struct informer **out,
		 struct cx_err *err)
{
	*out = NULL;
	struct informer *inf = calloc(1, sizeof(*inf));
	if (!inf)
		return cx_err_set(err, -ENOMEM, "out of memory");
	inf->c = c;
	inf->mux = mux;
	inf->res = o->resource;
	inf->h = o->handlers;
	inf->ud = o->ud;
	inf->keep_managers = o->keep_managers;
	inf->watch_timeout_s = o->test_watch_timeout_seconds;
	inf->need_list = true;
	inf->failing_since_ms = -1;
	enum informer_initial_list how = o->initial_list ? o->initial_list : default_initial_list;
	inf->stream = how != INFORMER_INITIAL_LIST;
	inf->path = kresource_path(o->resource, o->namespace, NULL, NULL);
	inf->store = objstore_new();
	struct backoff_params reconnect = BACKOFF_WATCH_RECONNECT;
	if (!inf->path || !inf->store || (o->label_selector && !(inf->label_selector = strdup(o->label_selector))) ||
	    (o->test_stream_match && !(inf->stream_match = strdup(o->test_stream_match)))) {
		informer_free(&inf);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	int r = backoff_init(&inf->backoff, &reconnect, err);
	if (r) {
		informer_free(&inf);
		return r;
	}
	*out = inf;
	return 0;
}

void informer_free(struct informer **infp)
{
	struct informer *inf = *infp;
	if (!inf)
		return;
	kwatch_free(&inf->w);
	objstore_free(&inf->store);
	objstore_free(&inf->fresh);
	free(inf->stream_match);
	free(inf->rv);
	free(inf->label_selector);
	free(inf->path);
	free(inf);
	*infp = NULL;
}

static void set_rv(struct informer *inf, const char *rv)
{
	char *copy = rv ? strdup(rv) : NULL;
	free(inf->rv);
	inf->rv = copy;
}

static void attempt_failed(struct informer *inf, const char *verb, int code, const struct cx_err *err, int64_t now_ms)
{
	if (inf->failing_since_ms < 0)
		inf->failing_since_ms = now_ms;
	inf->last_code = code ? code : -EIO;
	snprintf(inf->last_error, sizeof(inf->last_error), "%s %s: %s", verb, inf->path,
		 err && err->msg[0] ? err->msg : strerror(-inf->last_code));
}

static void attempt_succeeded(struct informer *inf)
{
	inf->failing_since_ms = -1;
	inf->last_code = 0;
	inf->last_error[0] = '\0';
}

/* What of an object the cache leaves out: metadata.managedFields, but the
 * entries of keep_managers (all of them without). The cache holds what its
 * readers need, no more. Every object passes here before it is stored. */
static void trim(struct informer *inf, struct json_object *obj)
{
	struct json_object *meta = kobj_meta(obj), *mf = NULL;
	if (!json_object_object_get_ex(meta, "managedFields", &mf))
		return;
	size_t n = inf->keep_managers && json_object_is_type(mf, json_type_array) ? json_object_array_length(mf) : 0;
	for (size_t i = n; i-- > 0;) {
		struct json_object *m = NULL;
		const char *name = json_object_object_get_ex(json_object_array_get_idx(mf, i), "manager", &m)
			? json_object_get_string(m)
			: NULL;
		bool keep = false;
		for (size_t k = 0; name && inf->keep_managers[k] && !keep; k++)
			keep = !strcmp(name, inf->keep_managers[k]);
		if (!keep)
			json_object_array_del_idx(mf, i, 1);
	}
	if (!n || !json_object_array_length(mf))
		json_object_object_del(meta, "managedFields");
}

/* The tree of key's cached object for on_update, parsed before the store
 * replaces it; NULL when nobody would read it. */
static struct json_object *old_for_update(struct informer *inf, const struct objstore_entry *old)
{
	return old && inf->h.on_update ? objstore_entry_parse_new(inf->store, old) : NULL;
}

static void tell(struct informer *inf, bool was_cached, struct json_object *old, struct json_object *obj)
{
	if (was_cached && inf->h.on_update)
		inf->h.on_update(inf->ud, old, obj);
	else if (!was_cached && inf->h.on_add)
		inf->h.on_add(inf->ud, obj);
}

static void put_failed(struct informer *inf, const char *key, const struct cx_err *err)
{
	log_kv(LOG_LEVEL_ERROR, 0, "cannot cache an object", "resource", inf->path, "key", key ? key : "", "error",
	       err->msg, NULL);
}

/* Stores obj (borrowed: a watch event's tree) under its key and tells the
 * handlers, giving them obj itself and the old object parsed once. */
static void store_put(struct informer *inf, struct json_object *obj)
{
	char key[512];
	if (!kobj_key(obj, key, sizeof(key)))
		return;
	trim(inf, obj);
	const struct objstore_entry *was = objstore_find(inf->store, key);
	bool was_cached = was != NULL;
	struct json_object *old = old_for_update(inf, was);
	struct cx_err err = { 0 };
	if (objstore_put(inf->store, obj, &err))
		put_failed(inf, key, &err);
	else
		tell(inf, was_cached, old, obj);
	json_object_put(old);
}

/* Stores a copy of e (a LIST's item in the store from, compact already)
 * and tells the handlers, parsing it only when one of them wants it. */
static void store_put_entry(struct informer *inf, const struct objstore *from, const struct objstore_entry *e)
{
	const struct objstore_entry *was = objstore_find(inf->store, e->key);
	bool was_cached = was != NULL;
	bool wanted = was_cached ? inf->h.on_update != NULL : inf->h.on_add != NULL;
	struct json_object *old = old_for_update(inf, was), *obj = wanted ? objstore_entry_parse_new(from, e) : NULL;
	int r = objstore_put_entry(inf->store, from, e);
	if (r || (wanted && !obj)) {
		struct cx_err err = { 0 };
		cx_err_set(&err, r ? r : -ENOMEM, r ? "out of memory" : "out of memory: the handlers were not told");
		put_failed(inf, e->key, &err);
	} else if (obj) {
		tell(inf, was_cached, old, obj);
	}
	json_object_put(old);
	json_object_put(obj);
}

static void store_del(struct informer *inf, const char *key)
{
	const struct objstore_entry *was = objstore_find(inf->store, key);
	if (!was)
		return;
	struct json_object *old = inf->h.on_delete ? objstore_entry_parse_new(inf->store, was) : NULL;
	objstore_delete(inf->store, key);
	if (old)
		inf->h.on_delete(inf->ud, old);
	json_object_put(old);
}

static int stream_event(struct informer *inf, const struct watch_event *ev);
static void stream_ended(struct informer *inf, struct kwatch *w, int code, const struct cx_err *err);

static int on_event(void *ud, const struct watch_event *ev, struct cx_err *err)
{
	(void)err;
	struct informer *inf = ud;
	char key[512];
	attempt_succeeded(inf);
	if (inf->fresh)
		return stream_event(inf, ev);
	switch (ev->type) {
	case WATCH_ADDED:
	case WATCH_MODIFIED:
		store_put(inf, ev->object);
		break;
	case WATCH_DELETED:
		if (kobj_key(ev->object, key, sizeof(key)))
			store_del(inf, key);
		break;
	case WATCH_BOOKMARK:
		break;
	}
	return 0;
}

static void on_watch_end(void *ud, struct kwatch *w, int code, const struct cx_err *werr)
{
	struct informer *inf = ud;
	/* werr lives in the watch, which is freed below. */
	struct cx_err copy = werr ? *werr : (struct cx_err){ 0 };
	const struct cx_err *err = &copy;
	if (inf->fresh) {
		stream_ended(inf, w, code, err);
		return;
	}
	set_rv(inf, kwatch_resource_version(w));
	bool progressed = kwatch_events(w) > 0;
	kwatch_free(&inf->w);
	int64_t now = clock_monotonic_ms();
	if (code == -ESTALE || !inf->rv) {
		log_kv(LOG_LEVEL_INFO, 2, "relisting", "resource", inf->path, "reason", err->msg, NULL);
		inf->need_list = true;
		inf->due_ms = now;
		tell_observer(inf, INFORMER_RELIST);
		return;
	}
	inf->need_watch = true;
	tell_observer(inf, INFORMER_WATCH_RESTART);
	if (code == 0) {
		/* The server's timeoutSeconds: re-open at once. */
		attempt_succeeded(inf);
		backoff_reset(&inf->backoff);
		inf->due_ms = now;
		return;
	}
	if (progressed)
		backoff_reset(&inf->backoff);
	attempt_failed(inf, "watch", code, err, now);
	long delay = backoff_next_ms(&inf->backoff);
	char ms[24];
	snprintf(ms, sizeof(ms), "%ld", delay);
	log_kv(LOG_LEVEL_WARNING, 0, "watch failed; retrying", "resource", inf->path, "error", err->msg, "retry_in_ms",
	       ms, NULL);
	inf->due_ms = now + delay;
}

/* What a LIST collects (compact, as the store) before it replaces the
 * store. */
struct fresh {
	struct informer *inf;
	struct objstore *objects;
};

/* Puts item (borrowed) into objects, as the store keeps it. */
static int collect_into(struct informer *inf, struct objstore *objects, struct json_object *item, struct cx_err *err)
{
	if (!kobj_name(item))
		return 0;
	trim(inf, item);
	/* Items of a list carry no apiVersion/kind; the cache's objects do. */
	json_object_object_add(item, "apiVersion", json_object_new_string(inf->res->api_version));
	json_object_object_add(item, "kind", json_object_new_string(inf->res->kind));
	int r = objstore_put(objects, item, err);
	if (r)
		cx_err_prefix(err, "list %s: ", inf->path);
	return r;
}

static int collect(void *ud, struct json_object *item, struct cx_err *err)
{
	struct fresh *fresh = ud;
	return collect_into(fresh->inf, fresh->objects, item, err);
}

/* Replaces the store with a LIST's result (*fresh, taken: NULL after),
 * telling the handlers what the difference is: adds, changed objects (by
 * resourceVersion) and deletes. An empty store (the first list) is swapped
 * for the result rather than filled from it, so that the objects are never
 * held twice. */
static void replace_store(struct informer *inf, struct objstore **freshp)
{
	struct objstore *fresh = *freshp;
	size_t it = 0;
	if (objstore_count(inf->store) == 0) {
		objstore_free(&inf->store);
		inf->store = fresh;
		*freshp = NULL;
		for (const struct objstore_entry *e; inf->h.on_add && (e = objstore_next(fresh, &it));) {
			struct json_object *obj = objstore_entry_parse_new(fresh, e);
			if (obj)
				inf->h.on_add(inf->ud, obj);
			else
				log_kv(LOG_LEVEL_ERROR, 0, "out of memory: the handlers were not told of an object",
				       "resource", inf->path, "key", e->key, NULL);
			json_object_put(obj);
		}
		return;
	}
	for (const struct objstore_entry *e; (e = objstore_next(fresh, &it));) {
		const struct objstore_entry *old = objstore_find(inf->store, e->key);
		const char *a = old ? old->resource_version : NULL, *b = e->resource_version;
		if (!old || !a || !b || strcmp(a, b))
			store_put_entry(inf, fresh, e);
	}
	/* Collect first: deleting while iterating the store is not allowed. */
	struct json_object *gone = json_object_new_array();
	it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(inf->store, &it));)
		if (!objstore_find(fresh, e->key))
			json_object_array_add(gone, json_object_new_string(e->key));
	for (size_t i = 0; i < json_object_array_length(gone); i++)
		store_del(inf, json_object_get_string(json_object_array_get_idx(gone, i)));
	json_object_put(gone);
	objstore_free(freshp);
}

/* Objects per LIST page. A page is parsed whole, at several times its
 * JSON's size, so this bounds the LIST's transient memory: at 10,000
 * objects, 100 instead of client-go's 500 took the watcher's peak from
 * about 1,140 to 790 bytes per cached object (tests/bench/bench_informer_rss),
 * for a few more requests. */
#define LIST_PAGE 100

static int do_list(struct informer *inf, struct cx_err *err)
{
	struct fresh fresh = { .inf = inf, .objects = objstore_new() };
	struct kclient_list_opts o = { .label_selector = inf->label_selector, .limit = LIST_PAGE };
	char *rv = NULL;
	inf->lists++;
	int r = fresh.objects ? kclient_list(inf->c, inf->path, &o, collect, &fresh, &rv, err) : -ENOMEM;
	if (!r) {
		replace_store(inf, &fresh.objects);
		free(inf->rv);
		inf->rv = rv;
		inf->synced = true;
		inf->need_list = false;
		inf->need_watch = true;
		log_kv(LOG_LEVEL_INFO, 2, "listed", "resource", inf->path, "resourceVersion", inf->rv ? inf->rv : "",
		       NULL);
	}
	objstore_free(&fresh.objects);
#ifdef __GLIBC__
	/* The pages' trees are gone: give their memory back now instead of
	 * keeping it for a next LIST that may never come. */
	malloc_trim(0);
#endif
	return r;
}

/* A streaming list's initial events are all in: they replace the store as
 * a LIST's result does (the same differences told to the handlers), and
 * the store is synced. The watch goes on from here. */
static void stream_synced(struct informer *inf, const char *rv)
{
	struct objstore *fresh = inf->fresh;
	inf->fresh = NULL;
	replace_store(inf, &fresh);
	set_rv(inf, rv);
	inf->synced = true;
	backoff_reset(&inf->backoff);
	log_kv(LOG_LEVEL_INFO, 2, "listed", "resource", inf->path, "resourceVersion", rv ? rv : "", "how", "stream",
	       NULL);
}

/* One event of a streaming list before its initial-events-end bookmark:
 * objects are collected as a LIST's items are (ADDED is all a server sends
 * then; the others are taken as client-go takes them). */
static int stream_event(struct informer *inf, const struct watch_event *ev)
{
	char key[512];
	switch (ev->type) {
	case WATCH_ADDED:
	case WATCH_MODIFIED:
		return collect_into(inf, inf->fresh, ev->object, NULL);
	case WATCH_DELETED:
		if (kobj_key(ev->object, key, sizeof(key)))
			objstore_delete(inf->fresh, key);
		break;
	case WATCH_BOOKMARK:
		if (ev->initial_events_end)
			stream_synced(inf, ev->resource_version);
		break;
	}
	return 0;
}

/* A streaming list ended before its bookmark: the collected objects are
 * dropped and it starts over, as a stream again after backoff when the
 * failure was transient, or right away as a LIST, for good, when the server
 * refused it (informer_stream_refused). The failure is kept for the next
 * informer_tick to return, as a failed LIST's is. */
static void stream_ended(struct informer *inf, struct kwatch *w, int code, const struct cx_err *err)
{
	bool answered = kwatch_established(w);
	objstore_free(&inf->fresh);
	kwatch_free(&inf->w);
	int64_t now = clock_monotonic_ms();
	inf->need_list = true;
	inf->need_watch = false;
	if (informer_stream_refused(code, err->http_status, answered)) {
		inf->stream = false;
		log_kv(LOG_LEVEL_WARNING, 0, "the API server refused a streaming list; using LIST for this resource",
		       "resource", inf->path, "error",
		       code ? err->msg : "the watch ended before its initial-events-end bookmark", NULL);
		inf->due_ms = now;
		return;
	}
	struct cx_err why = *err;
	if (!code)
		code = cx_err_set(&why, -EIO, "the watch ended before its initial-events-end bookmark");
	attempt_failed(inf, "streaming list", code, &why, now);
	inf->stream_error = inf->last_code;
	long delay = backoff_next_ms(&inf->backoff);
	char ms[24];
	snprintf(ms, sizeof(ms), "%ld", delay);
	log_kv(LOG_LEVEL_WARNING, 0, "streaming list failed; retrying", "resource", inf->path, "error", why.msg,
	       "retry_in_ms", ms, NULL);
	inf->due_ms = now + delay;
}

/* Starts a streaming list: a watch with sendInitialEvents=true from a
 * consistent read (no resourceVersion), whose events fill inf->fresh until
 * the bookmark. */
static int do_stream(struct informer *inf, struct cx_err *err)
{
	struct kwatch_options o = { .path = inf->path,
				    .label_selector = inf->label_selector,
				    .drop_managed_fields = !inf->keep_managers,
				    .send_initial_events = true,
				    .resource_version_match = inf->stream_match };
	if (!(inf->fresh = objstore_new()))
		return cx_err_set(err, -ENOMEM, "out of memory");
	inf->streams++;
	int r = kwatch_start(inf->mux, inf->c, &o, on_event, on_watch_end, inf, &inf->w, err);
	if (r) {
		objstore_free(&inf->fresh);
		return r;
	}
	inf->need_list = false;
	inf->need_watch = false;
	log_kv(LOG_LEVEL_INFO, 4, "streaming list started", "resource", inf->path, NULL);
	return 0;
}

static int do_watch(struct informer *inf, struct cx_err *err)
{
	struct kwatch_options o = { .path = inf->path,
				    .resource_version = inf->rv,
				    .label_selector = inf->label_selector,
				    .drop_managed_fields = !inf->keep_managers,
				    .timeout_seconds = inf->watch_timeout_s };
	inf->watches++;
	int r = kwatch_start(inf->mux, inf->c, &o, on_event, on_watch_end, inf, &inf->w, err);
	if (r)
		return r;
	inf->need_watch = false;
	return 0;
}

int informer_tick(struct informer *inf, int64_t now_ms, struct cx_err *err)
{
	if (inf->w && inf->failing_since_ms >= 0 && kwatch_established(inf->w))
		attempt_succeeded(inf);
	/* A streaming list fails in kwatch_mux_dispatch; its retry is due
	 * later, so the next call tells the caller. */
	int failed_stream = inf->stream_error;
	inf->stream_error = 0;
	if ((!inf->need_list && !inf->need_watch) || now_ms < inf->due_ms)
		return failed_stream ? cx_err_set(err, failed_stream, "%s", inf->last_error) : 0;
	bool listing = inf->need_list;
	struct cx_err local = { 0 };
	if (!err)
		err = &local;
	int r;
	if (inf->need_list && inf->stream) {
		r = do_stream(inf, err);
	} else {
		r = inf->need_list ? do_list(inf, err) : 0;
		if (!r && listing)
			attempt_succeeded(inf);
		if (!r && inf->need_watch)
			r = do_watch(inf, err);
	}
	if (r) {
		attempt_failed(inf, inf->need_list ? "list" : "watch", r, err, now_ms);
		long delay = backoff_next_ms(&inf->backoff);
		char ms[24];
		snprintf(ms, sizeof(ms), "%ld", delay);
		log_kv(LOG_LEVEL_WARNING, 0, inf->need_list ? "list failed; retrying" : "watch failed; retrying",
		       "resource", inf->path, "error", err ? err->msg : "", "retry_in_ms", ms, NULL);
		inf->due_ms = now_ms + delay;
	} else if (!inf->need_list) {
		inf->due_ms = 0;
	}
	return r;
}

long informer_next_ms(const struct informer *inf, int64_t now_ms)
{
	if (!inf->need_list && !inf->need_watch)
		return -1;
	return inf->due_ms > now_ms ? (long)(inf->due_ms - now_ms) : 0;
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

void informer_relist(struct informer *inf)
{
	if (inf->synced)
		tell_observer(inf, INFORMER_RELIST);
	kwatch_free(&inf->w);
	objstore_free(&inf->fresh);
	inf->need_list = true;
	inf->need_watch = false;
	inf->due_ms = 0;
}

bool informer_streaming(const struct informer *inf)
{
	return inf->stream;
}

uint64_t informer_streams(const struct informer *inf)
{
	return inf->streams;
}

const struct objstore *informer_objects(const struct informer *inf)
{
	return inf->store;
}

struct json_object *informer_get_new(const struct informer *inf, const char *key)
{
	return objstore_get_new(inf->store, key);
}

uint64_t informer_lists(const struct informer *inf)
{
	return inf->lists;
}

uint64_t informer_watches(const struct informer *inf)
{
	return inf->watches;
}

const char *informer_last_error(const struct informer *inf)
{
	return inf->last_error;
}

int informer_last_error_code(const struct informer *inf)
{
	return inf->last_code;
}

int64_t informer_failing_since(const struct informer *inf)
{
	return inf->failing_since_ms;
}

const char *informer_path(const struct informer *inf)
{
	return inf->path;
}

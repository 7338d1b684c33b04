/* informer: one resource's objects, kept in memory and up to date, as
 * client-go's reflector + store: a paginated LIST, then a WATCH from the
 * list's resourceVersion; a watch that ends cleanly is re-opened from the
 * last resourceVersion; 410 Gone means LIST again; other failures back off
 * (800 ms doubling to 30 s, with jitter) and retry. Objects are stored
 * without metadata.managedFields (but the entries of the managers named in
 * keep_managers), keyed "namespace/name" ("name" for cluster-scoped ones),
 * compactly (objstore.h: serialized, with a few indexed fields): a caller
 * gets a tree of its own when it asks for one.
 *
 * The initial list (and every relist) is by default a streaming list, as
 * client-go's WatchList: a WATCH with sendInitialEvents=true and
 * resourceVersionMatch=NotOlderThan whose ADDED events are collected until
 * the BOOKMARK annotated k8s.io/initial-events-end: "true"; there the
 * collected objects replace the store exactly as a LIST's do, the informer
 * counts as synced, and the same watch goes on with the changes. It asks
 * for no resourceVersion, i.e. a consistent read: at start there is none,
 * and a relist follows a 410 that made the last one useless. When the
 * server refuses it (informer_stream_refused) the informer says so once in
 * the log and LISTs, as it always did, from then on.
 *
 * Single-threaded: a LIST is a blocking kclient_list inside informer_tick;
 * a streaming list and the WATCH run on the caller's kwatch_mux, whose
 * events are dispatched from the caller's poll loop, so a streaming list
 * never blocks and the store syncs during kwatch_mux_dispatch. Handlers are
 * called for every change the store sees, including the differences a
 * relist finds. */
#ifndef COXSWAIN_INFORMER_H
#define COXSWAIN_INFORMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct informer;
struct json_object;
struct kclient;
struct kresource;
struct kwatch_mux;
struct objstore;

/* Each handler may be NULL. Objects are parsed trees borrowed for the call
 * (json_object_get to keep one); the store holds none. on_update's old_obj
 * is NULL when it could not be rebuilt (out of memory). When a handler runs,
 * the store already holds the change. */
struct informer_handlers {
	void (*on_add)(void *ud, struct json_object *obj);
	void (*on_update)(void *ud, struct json_object *old_obj, struct json_object *new_obj);
	void (*on_delete)(void *ud, struct json_object *obj);
};

/* How the store is filled. */
enum informer_initial_list {
	INFORMER_INITIAL_DEFAULT, /* the process's (informer_set_initial_list), at first stream */
	INFORMER_INITIAL_STREAM,  /* a streaming list; LIST once the server refused one */
	INFORMER_INITIAL_LIST,    /* paginated LIST always */
};

struct informer_options {
	const struct kresource *resource; /* borrowed; outlives the informer */
	const char *namespace;            /* NULL or "" = all namespaces */
	const char *label_selector;       /* or NULL */
	struct informer_handlers handlers;
	void *ud;
	enum informer_initial_list initial_list;
	/* For tests only: the resourceVersionMatch a streaming list sends
	 * (NULL = NotOlderThan). Another value makes a real server refuse the
	 * stream with 422, as a server without streaming lists does. Borrowed
	 * until informer_new returns. */
	const char *test_stream_match;
	/* For tests only: the timeoutSeconds its watches ask of the server
	 * (0 = kwatch's default, 5 to 10 minutes), to see them end. */
	long test_watch_timeout_seconds;
	/* NULL: managedFields are dropped. Else a NULL-terminated list (borrowed;
	 * outlives the informer) of field managers whose managedFields entries
	 * are kept, every other entry dropped: coxswain's own, for children, so
	 * a worker can tell an apply that would change nothing (worker/childdiff.h). */
	const char *const *keep_managers;
};

/* The initial_list of informers whose options say INFORMER_INITIAL_DEFAULT,
 * for the whole process (--initial-list, watcher.initialList); STREAM until
 * set. Informers made before keep theirs. */
void informer_set_initial_list(enum informer_initial_list how);

/* What an informer tells its process-wide observer. */
enum informer_restart {
	INFORMER_RELIST,        /* it lists again after its store was filled (410 Gone, informer_relist) */
	INFORMER_WATCH_RESTART, /* a watch that ended (the server's timeout, a failure) is to be opened again */
};

/* Sets the observer every informer of the process tells of its relists and
 * watch restarts (NULL: none), with the collection's path (borrowed for the
 * call): coxswain_relists_total and coxswain_watch_restarts_total. */
void informer_set_observer(void (*fn)(void *ud, const char *path, enum informer_restart what), void *ud);

/* Whether a streaming list that ended before its initial-events-end
 * bookmark means the server does not do streaming lists, so that LIST is
 * used from then on: it answered the watch with 400 or 422 (the parameters
 * are invalid there: an older server, or the WatchList feature gate off),
 * 403 (a role that may list but not watch: LIST still fills the store, as
 * before streaming lists), or 405 (no watch on that resource); or it
 * answered 200 and closed the watch cleanly (code 0) without the bookmark
 * (a server that ignores sendInitialEvents). http_status is the server's
 * (cx_err.http_status, 0 for none), answered whether it answered 200.
 * Anything else (no connection, 5xx, 429, a cut stream) is transient: the
 * stream is tried again with backoff. */
bool informer_stream_refused(int code, int http_status, bool answered);

/* c and mux are borrowed and must outlive the informer, handed out in *out.
 * Nothing happens until the first informer_tick. Returns 0, or a negative
 * errno with *out NULL and err filled. */
int informer_new(struct kclient *c, struct kwatch_mux *mux, const struct informer_options *o, struct informer **out,
		 struct cx_err *err);

/* Stops the watch, drops the store and frees. */
void informer_free(struct informer **inf);

/* Does what is due at now_ms (monotonic): the first list, a relist, a
 * re-watch after backoff. Returns 0, or the error of a LIST that failed, or
 * of a streaming list that failed since the last call (either is retried
 * with backoff; the informer stays usable). */
int informer_tick(struct informer *inf, int64_t now_ms, struct cx_err *err);

/* Milliseconds from now_ms until informer_tick has something to do; -1 when
 * it waits only on the watch. */
long informer_next_ms(const struct informer *inf, int64_t now_ms);

/* True once a LIST, or a streaming list at its initial-events-end
 * bookmark, has filled the store (client-go's HasSynced); it stays true
 * through relists. */
bool informer_synced(const struct informer *inf);

/* Drops the watch (and a streaming list in progress) and lists again at the
 * next informer_tick, as after 410 Gone: objects no longer there are
 * deleted from the store (on_delete) when the new list is complete. */
void informer_relist(struct informer *inf);

/* Whether the next list will be a streaming list (false with
 * INFORMER_INITIAL_LIST and once the server refused one). */
bool informer_streaming(const struct informer *inf);

/* The store (objstore.h: iterate it, count it, read the indexed fields of
 * an entry without parsing). Borrowed, read-only; lives as long as inf. */
const struct objstore *informer_objects(const struct informer *inf);

/* The object with key ("ns/name" or "name") as a new tree the caller owns
 * (json_object_put), or NULL when it is not cached. Parses: a loop over
 * many objects reads the indexed fields of informer_objects instead. */
struct json_object *informer_get_new(const struct informer *inf, const char *key);

/* The error of the last LIST or WATCH attempt when it failed ("list
 * /api/v1/secrets: 403 Forbidden: ..."), else "". Borrowed. */
const char *informer_last_error(const struct informer *inf);

/* Its negative code (a kclient code: -EACCES, -ECONNREFUSED ...), 0 when
 * the last attempt did not fail. */
int informer_last_error_code(const struct informer *inf);

/* Since when (monotonic ms, as told to informer_tick or read when a watch
 * ended) every LIST and WATCH attempt has failed; -1 while the last one
 * succeeded (a LIST that filled the store, a watch the server answered with
 * 200 or ended cleanly). For readiness during an API server outage. */
int64_t informer_failing_since(const struct informer *inf);

/* The collection's path ("/api/v1/namespaces/x/secrets"). Borrowed. */
const char *informer_path(const struct informer *inf);

/* Counters for metrics and tests. */
uint64_t informer_lists(const struct informer *inf);   /* LISTs */
uint64_t informer_streams(const struct informer *inf); /* streaming lists started */
uint64_t informer_watches(const struct informer *inf);

#endif

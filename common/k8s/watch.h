/* watch: the incremental parser of a Kubernetes watch response.
 *
 * `GET ...?watch=1` answers with one JSON object per event,
 * `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`, one a line,
 * for as long as the watch lasts. The bytes come in chunks of any size (a
 * libcurl write callback); the caller hands each chunk to watch_parser_feed,
 * which calls back once per complete event, in order. Nothing here does I/O:
 * the parser never sees libcurl, so the watcher can drive it from any loop
 * and the tests and the fuzzer from memory.
 *
 * The parser also keeps what a reflector needs to resume: the resourceVersion
 * of the last event delivered (bookmarks included), and turns the apiserver's
 * in-stream ERROR events into errors, with 410 Gone / Expired as -ESTALE ("your
 * resourceVersion is too old: list again").
 *
 * Errors are sticky: once feed or finish failed, every later call returns the
 * same code and message. A watch stream that went wrong is abandoned and
 * re-opened from watch_parser_resource_version(), never patched up. */
#ifndef COXSWAIN_WATCH_H
#define COXSWAIN_WATCH_H

#include <stdbool.h>
#include <stddef.h>

struct cx_err;
struct json_object;
struct watch_parser;

enum watch_event_type {
	WATCH_ADDED,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK, /* object carries only apiVersion, kind and metadata.resourceVersion
			     (and maybe annotations): a progress mark, not a change */
};

struct watch_event {
	enum watch_event_type type;
	/* The event's "object", borrowed: it is freed when the callback returns.
	 * Take a reference (json_object_get) to keep it. */
	struct json_object *object;
	/* object.metadata.resourceVersion, borrowed like object; NULL when the
	 * object has none (then the tracked resourceVersion does not move). */
	const char *resource_version;
	/* 1 for the first event of the stream, 2 for the next, ... (ERROR and
	 * malformed events count too): the number the error messages use. */
	size_t index;
	/* A BOOKMARK whose object has the annotation
	 * k8s.io/initial-events-end: "true": the end of the initial events of a
	 * streaming list (a watch with sendInitialEvents=true), where
	 * resource_version is the list's. */
	bool initial_events_end;
};

/* The annotation a streaming list's last initial bookmark carries. */
#define WATCH_INITIAL_EVENTS_END "k8s.io/initial-events-end"

/* Called once per ADDED, MODIFIED, DELETED or BOOKMARK event. Returns 0 to go
 * on; a negative errno-style code (with err filled) stops the feed, which
 * returns that code and err as they are. A positive return also stops it; it
 * is reported as -ECANCELED. The tracked resourceVersion moves to the event's
 * only when the callback returned 0, so a resumed watch replays the event the
 * caller could not take. */
typedef int (*watch_event_fn)(void *ud, const struct watch_event *ev, struct cx_err *err);

struct watch_parser_options {
	/* An event (its JSON text, from its first byte) longer than this is
	 * refused with -EFBIG before more of it is buffered. 0 = 16 MiB; at
	 * most 1 GiB (json-c counts in int). The bound is on JSON text: json-c's
	 * objects for it take several times as much memory. */
	size_t max_event_bytes;
	/* Nesting depth of JSON an event may have. json-c's own default (32) is
	 * too shallow for CustomResourceDefinitions with deep schemas.
	 * 0 = 512. */
	int max_depth;
	/* Removes object.metadata.managedFields before the callback: server-side
	 * apply bookkeeping, often half an object's size, that a cache never
	 * reads. */
	bool drop_managed_fields;
};

/* Makes a parser that calls fn(ud, ...) for every event (fn may be NULL:
 * then events are only counted and their resourceVersion tracked). opts may
 * be NULL for the defaults. Returns NULL when out of memory. */
struct watch_parser *watch_parser_new(const struct watch_parser_options *opts, watch_event_fn fn, void *ud);

/* Frees p (NULL and *p == NULL are allowed) and sets *p to NULL. An event
 * that was cut mid-way is dropped silently: call watch_parser_finish first
 * to learn about it. */
void watch_parser_free(struct watch_parser **p);

/* Parses the next len bytes of the stream, calling back for each event they
 * complete. Whitespace between events (blank keep-alive lines) is skipped.
 * The part of an event that is not complete yet is kept for the next call.
 * Where the stream is cut into chunks changes nothing: the same bytes give
 * the same events and the same error, whole or one byte at a time.
 * Returns 0, or a negative code with err filled (and then sticky):
 *   -ESTALE   an ERROR event whose Status has code 410 or reason Expired or
 *             Gone: the resourceVersion is too old, the caller must LIST again;
 *             err->http_status and err->reason come from the Status
 *   -EACCES, -EPERM, -ENOENT, -EINVAL, -EEXIST, -EBUSY, -EIO
 *             any other ERROR event, mapped from its Status code as
 *             kclient_get maps HTTP statuses; the message has the Status's
 *             code, reason and message
 *   -EBADMSG  malformed JSON (the message has the stream offset where the
 *             JSON went wrong, counted from 0 over everything fed, and
 *             json-c's reason), a NUL byte,
 *             or an event of the wrong shape (not an object, no or unknown
 *             "type", "object" not an object), named with its index
 *   -EFBIG    an event longer than max_event_bytes
 *   -ENOMEM   out of memory
 *   whatever the callback returned (-ECANCELED for a positive value). */
int watch_parser_feed(struct watch_parser *p, const char *data, size_t len, struct cx_err *err);

/* Tells the parser the stream has ended (the response is complete or the
 * connection dropped). Returns 0 when it ended between events, -EPROTO when
 * an event was cut mid-way (the events before it were delivered; resume from
 * watch_parser_resource_version()), or the sticky error of an earlier call.
 * It does not change the parser otherwise. */
int watch_parser_finish(struct watch_parser *p, struct cx_err *err);

/* The resourceVersion of the last event the callback accepted, bookmarks
 * included; NULL before any. Borrowed: valid until the next feed or free. */
const char *watch_parser_resource_version(const struct watch_parser *p);

/* Number of events delivered to the callback and accepted by it. */
size_t watch_parser_events(const struct watch_parser *p);

#endif

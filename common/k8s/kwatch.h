/* kwatch: streaming watches over libcurl's multi interface, driven by the
 * caller's poll loop.
 *
 * The watcher runs many watches and a ZeroMQ socket in one thread, so no
 * call here blocks. A kwatch_mux owns one curl multi handle; each kwatch is
 * one `GET <collection>?watch=1` on it, parsed by common/watch as bytes come.
 * HTTP/2, when libcurl and the server have it, multiplexes the watches on one
 * connection.
 *
 * How to drive it (see tests/integration/test_kwatch_live.c):
 *
 *     struct pollfd fds[64];
 *     for (;;) {
 *             long timeout_ms;
 *             size_t n = kwatch_mux_pollfds(mux, fds, 64, &timeout_ms);
 *             // add the caller's own fds (a ZeroMQ socket's ZMQ_FD, a
 *             // signalfd...) after the first n, or translate the n entries
 *             // into zmq_pollitem_t {.fd, .events} for zmq_poll
 *             poll(fds, n, timeout_ms);
 *             kwatch_mux_dispatch(mux, fds, n);   // events and ends are called back here
 *     }
 *
 * A watch ends for good reasons (the server closes it after timeoutSeconds:
 * code 0) and bad ones; either way on_end is called once, and the caller
 * starts a new watch from kwatch_resource_version(), or LISTs again on
 * -ESTALE (410 Gone: the resourceVersion was compacted away). */
#ifndef COXSWAIN_KWATCH_H
#define COXSWAIN_KWATCH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "watch.h"

struct cx_err;
struct kclient;
struct kwatch;
struct kwatch_mux;

/* Makes a multiplexer for watches into *out (owned). Returns 0, or a negative
 * errno with *out NULL and err filled. */
int kwatch_mux_new(struct kwatch_mux **out, struct cx_err *err);

/* Frees the mux; every watch on it must have been freed first. */
void kwatch_mux_free(struct kwatch_mux **m);

/* Fills fds[0..n) with the sockets the mux waits on (fd and events), returns
 * n (at most cap), and sets *timeout_ms to how long the caller may wait
 * before calling kwatch_mux_dispatch even when no fd is ready (-1: no
 * deadline). */
size_t kwatch_mux_pollfds(struct kwatch_mux *m, struct pollfd *fds, size_t cap, long *timeout_ms);

/* Lets libcurl work on the fds whose revents are set (fds as filled by
 * kwatch_mux_pollfds, revents by poll) and on its timers. Events and ends of
 * watches are called back from here. Returns 0 or -ENOMEM/-EIO when the multi
 * handle itself failed. */
int kwatch_mux_dispatch(struct kwatch_mux *m, const struct pollfd *fds, size_t n);

/* The number of watches running on m. */
size_t kwatch_mux_running(const struct kwatch_mux *m);

struct kwatch_options {
	const char *path;             /* the collection, e.g. "/api/v1/namespaces/x/configmaps" */
	const char *resource_version; /* where to start (from a LIST); NULL: "now", with synthetic ADDEDs */
	const char *label_selector;   /* or NULL */
	long timeout_seconds;         /* asked of the server; 0: drawn from [300, 600) as client-go does */
	long inactivity_seconds;      /* no byte for this long = a dead stream; 0: 70 (bookmarks come each minute) */
	bool drop_managed_fields;
	/* A streaming list: sendInitialEvents=true with
	 * resourceVersionMatch=NotOlderThan (allowWatchBookmarks is always
	 * asked). The server sends an ADDED for every object, then a BOOKMARK
	 * flagged initial_events_end (common/watch.h) carrying the list's
	 * resourceVersion, then the changes after it. resource_version NULL or
	 * "": a consistent read (the state when the request came); else state
	 * at least that new. */
	bool send_initial_events;
	/* With send_initial_events: the resourceVersionMatch sent; NULL =
	 * "NotOlderThan" (the only value servers accept: tests give another
	 * to see a real refusal). */
	const char *resource_version_match;
};

/* Called for each event; see watch_event_fn. A non-zero return stops the
 * watch (on_end follows with that code). */
typedef watch_event_fn kwatch_event_fn;

/* Called once when the watch has ended, after it left the mux: code 0 when
 * the server ended it cleanly; -ESTALE when a relist is needed; -EPROTO when
 * the stream was cut mid-event; a kclient code (-EACCES, -ETIMEDOUT for the
 * inactivity timeout, -EIO ...) otherwise, with err saying why. The watch may
 * be freed inside the callback. */
typedef void (*kwatch_end_fn)(void *ud, struct kwatch *w, int code, const struct cx_err *err);

/* Starts a watch on m with the identity, TLS settings and token of c
 * (borrowed; it must outlive the watch), handed out owned in *out. Returns 0,
 * or a negative errno with *out NULL and err filled. The watch request is told once to c's request observer, as
 * client-go counts a watch: method "GET", the response's status when its
 * headers come, or code 0 when no response came (the connection failed, the
 * credentials could not be had, or the watch was freed before). */
int kwatch_start(struct kwatch_mux *m, struct kclient *c, const struct kwatch_options *o, kwatch_event_fn on_event,
		 kwatch_end_fn on_end, void *ud, struct kwatch **out, struct cx_err *err);

/* Stops the watch if it is still running (no on_end then) and frees it. */
void kwatch_free(struct kwatch **w);

/* The resourceVersion of the last event delivered (bookmarks included), else
 * the one the watch started from; NULL if neither. Borrowed. */
const char *kwatch_resource_version(const struct kwatch *w);

/* Events delivered so far. */
size_t kwatch_events(const struct kwatch *w);

/* True once the server answered the watch with 200 (its headers came), even
 * before any event: the informer's sign that the API server is back. */
bool kwatch_established(struct kwatch *w);

#endif

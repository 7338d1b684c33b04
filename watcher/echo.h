/* echo: the writes a parent's last job reported, and the watch events seen
 * while its job was in flight; it tells the watch events that merely echo
 * coxswain's own writes from everyone else's (issue 12, item 2).
 *
 * A worker's RESULT lists what its job wrote (common/proto.h, RESULT's
 * writes): each object as "Kind.apiVersion", namespace, name and the
 * resourceVersion the API server answered the write with. The watch event
 * of such a write comes back to the watcher, and without this module it
 * would sync the parent once more, to find nothing to do.
 *
 * The rules, per queue key (a parent):
 *   - an event is dropped ONLY when its object and resourceVersion equal
 *     exactly one the key's jobs reported writing (resourceVersions are
 *     opaque: compared for equality, never ordered). Anything else syncs
 *     the parent as before;
 *   - while a job of the key is in flight (echo_job_started until
 *     echo_job_finished), its events are held: the job may have written
 *     them, but that is only known from its RESULT. When it arrives, the
 *     held events that echo a reported write are dropped, and if any other
 *     was held the key is synced again (the caller adds it to the work
 *     queue, as an event in flight always did);
 *   - a job that failed, was lost (worker crash, deadline, reassigned) or
 *     was a poison report finishes with no writes: every event held syncs
 *     the key again;
 *   - a reported write whose event never comes (an apply that changed
 *     nothing makes none) does not stay: the writes of a job are matched
 *     until the end of the second job of the key after it (an echo may
 *     lag behind a short job), then forgotten; a job that failed or was
 *     lost forgets them all at once, and echo_forget drops the key (its
 *     parent is gone);
 *   - an event with no resourceVersion, or that cannot be held (out of
 *     memory, or more than ECHO_HELD_MAX held for the key), syncs the key;
 *     a DELETE event is never passed here: the caller syncs the parent for
 *     it (a deletion's resourceVersion is not the one the delete call
 *     answered with, so it cannot be proven an echo).
 * Each write matches at most one event: after the match it is gone.
 *
 * No clock: bounds are in jobs and entries. Single-threaded, like the
 * watcher's loop. */
#ifndef COXSWAIN_ECHO_H
#define COXSWAIN_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct echo;
struct json_object;

/* Events held for one key at most; past it, events sync the key. */
#define ECHO_HELD_MAX 4096

/* An empty record, or NULL when out of memory. */
struct echo *echo_new(void);

/* Frees e and sets *e to NULL. NULL and *e NULL are fine. */
void echo_free(struct echo **e);

/* A job of key was handed to a worker: key's events are held from now on. */
void echo_job_started(struct echo *e, const char *key);

enum echo_verdict {
	ECHO_SYNC = 1, /* not an echo: sync the parent (add key to the queue) */
	ECHO_DROP,     /* an echo of a reported write: nothing to do */
	ECHO_HELD,     /* key's job is in flight: judged when it finishes */
};

/* A watch event (ADDED or MODIFIED) for the object kind ("Kind.apiVersion",
 * as in RESULT's writes), ns ("" or NULL for cluster-scoped), name, at
 * resourceVersion rv (NULL or "": unknown), which concerns key. */
enum echo_verdict echo_event(struct echo *e, const char *key, const char *kind, const char *ns, const char *name,
			     const char *rv);

/* What echo_job_finished decided about the events held meanwhile. */
struct echo_settled {
	size_t dropped; /* held events that echoed a reported write */
	bool sync;      /* another was held: add key to the queue */
};

/* key's job ended. writes: its RESULT's writes (a list as common/proto.h
 * says, borrowed) when it succeeded (outcome ok or requeue); NULL when it
 * failed, was lost or was a poison report. Fills *out. A key not in
 * flight (forgotten meanwhile) keeps nothing. */
void echo_job_finished(struct echo *e, const char *key, struct json_object *writes, struct echo_settled *out);

/* Forgets everything about key (its parent is gone). */
void echo_forget(struct echo *e, const char *key);

/* Keys with something remembered (in flight, writes or held events): for
 * tests and to see that nothing piles up. */
size_t echo_keys(const struct echo *e);

/* Events dropped as echoes so far (at echo_event or echo_job_finished). */
uint64_t echo_dropped(const struct echo *e);

#endif

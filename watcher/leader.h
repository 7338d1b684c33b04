/* leader: leader election with a coordination.k8s.io/v1 Lease, with
 * client-go's tools/leaderelection semantics, driven by the event loop.
 *
 * Several watchers run; the one holding the Lease dispatches jobs, the
 * others keep their caches warm and wait. The Lease's spec is the election
 * record: holderIdentity, leaseDurationSeconds, acquireTime, renewTime
 * (MicroTime, "2006-01-02T15:04:05.000000Z") and leaseTransitions.
 *
 * No threads and no sleeping: the loop calls leader_tick(le, now) when
 * leader_next_ms(le) comes (calling it earlier does nothing). Each due tick
 * is one client-go tryAcquireOrRenew, every retry period:
 *   - No Lease: create it with us as holder (leaseTransitions 0).
 *   - We lead: PUT the renewed record over our own last write (its
 *     resourceVersion makes the PUT a compare-and-swap, so a success proves
 *     nobody wrote in between and a GET first would add nothing). -EAGAIN
 *     means someone else wrote it: the next tick GETs it afresh.
 *   - Otherwise GET it. The holder is trusted while its record keeps changing:
 *     like client-go we never compare its timestamps with our clock (clocks
 *     skew); we note on OUR monotonic clock when we last saw the record change
 *     and take the Lease over (PUT with that resourceVersion, holder = us,
 *     leaseTransitions + 1) once it has not changed for the record's own
 *     leaseDurationSeconds (ours when it has none), or at once when it has no
 *     holder (released), or when the holder is us (a restart with the same
 *     identity).
 *   - A leader that has not renewed successfully for the renew deadline, or
 *     that finds another holder in the Lease, stops leading. It stays a
 *     candidate and may lead again later (client-go's Run returns instead;
 *     the caller may exit on on_stopped_leading if it prefers that).
 * A follower can take over at the earliest lease duration after the holder's
 * last renewal was first observed, so a leader that stops renewing is
 * replaced within lease duration + about two retry periods of its last
 * renewal; renew deadline < lease duration leaves the old leader time to
 * stop dispatching first.
 *
 * The API requests block the loop (kclient has no asynchronous verbs), so
 * the elector has a kclient of its own with a short timeout
 * (LEADER_REQUEST_TIMEOUT_MS, 1 s, unless configured; client-go's is
 * max(1 s, renew deadline / 2), 5 s by default, which a hung API server would
 * turn into a 10 s stall of the loop), no retries (the next tick is the
 * retry) and a rate limit it never reaches. A tick makes at most two
 * requests, so it blocks the loop for at most 2 s, under the workers'
 * heartbeat liveness (3 heartbeats of 1 s). API errors (a 403 when the
 * identity lacks get/create/update on leases in the Lease's namespace, a
 * server that is down) never abort anything: each distinct message is logged
 * once as an error with the server's full reason, and the tick retries at the
 * retry period. Differences from client-go, on purpose: no jitter on the
 * followers' retry period (there are two or three of us, not hundreds), the
 * record is compared with microsecond timestamps (client-go's comparison
 * truncates them to seconds), and release retries once after a conflict.
 *
 * Not thread-safe; coxswain's watcher is one event loop. */
#ifndef COXSWAIN_LEADER_H
#define COXSWAIN_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;
struct leader;
struct restconfig;

/* The settings docs/architecture.md §6 names: client-go's defaults. */
#define LEADER_LEASE_DURATION_MS 15000
#define LEADER_RENEW_DEADLINE_MS 10000
#define LEADER_RETRY_PERIOD_MS   2000
/* Each Lease request's timeout (connect included); see above. */
#define LEADER_REQUEST_TIMEOUT_MS 1000

/* "2006-01-02T15:04:05.000000Z" and its NUL. */
#define LEADER_MICROTIME_LEN 28

/* Called from inside leader_tick and leader_release, never re-entrantly.
 * A callback may call leader_is_leader, leader_holder and leader_identity,
 * but not leader_tick, leader_release or leader_free. Any may be NULL. */
struct leader_callbacks {
	/* We hold the Lease now: start dispatching. */
	void (*on_started_leading)(void *ud);
	/* We no longer hold it (lost it, could not renew in time, or released
	 * it): stop dispatching at once. */
	void (*on_stopped_leading)(void *ud);
	/* The holder we observe changed to identity (borrowed for the call; ours
	 * included, a released Lease's empty holder not). Also called for the
	 * first holder observed. */
	void (*on_new_leader)(void *ud, const char *identity);
	void *ud;
};

/* Zero durations take the defaults above. The durations must satisfy
 * client-go's rules, lease duration > renew deadline > 1.2 x retry period,
 * and the lease duration must be whole seconds, since the Lease holds seconds
 * and followers wait what it says (client-go truncates, which can let them
 * take over before the leader's renew deadline). Tests use 2000 / 1500 / 300. */
struct leader_config {
	const char *namespace; /* the Lease's namespace; required */
	const char *name;      /* the Lease's name; required */
	const char *identity;  /* unique per process; NULL = leader_default_identity */
	long lease_duration_ms;
	long renew_deadline_ms;
	long retry_period_ms;
	/* Each API request's timeout (connect included), so at most twice
	 * this per tick; 0 = LEADER_REQUEST_TIMEOUT_MS. */
	long request_timeout_ms;
	struct leader_callbacks callbacks;
	/* Told about each Lease request the elector sends, with the signature
	 * and meaning of kclient_request_fn (common/kclient.h): for
	 * rest_client_requests_total. NULL: not told. */
	void (*on_request)(void *ud, int code, const char *method, const char *host);
	void *request_ud;
};

/* Makes an elector for the Lease cfg names, with its own kclient for rc (rc
 * is borrowed and must outlive it; cfg's strings are copied). It does nothing
 * until its first tick, which is due at once. Hands it out in *out; returns
 * 0, or a negative errno with *out NULL and err filled when cfg is invalid or
 * the client cannot be made. */
int leader_new(const struct restconfig *rc, const struct leader_config *cfg, struct leader **out, struct cx_err *err);

/* Frees le and NULLs *le; no requests, no callbacks: release first to hand
 * the Lease over at once. */
void leader_free(struct leader **le);

/* Does one election step when one is due (now_ms >= leader_next_ms), on a
 * monotonic millisecond clock (the same one for every call), and calls the
 * callbacks it leads to. Returns 0 when nothing was due or the step ended
 * without an API error, whether or not we lead; else the kclient code of the
 * failed request (-EAGAIN for a conflict, -EACCES for a 403, ...), which is
 * also in leader_last_error and was logged. After leader_release it does
 * nothing. */
int leader_tick(struct leader *le, int64_t now_ms);

/* When the next tick is due, on the clock of leader_tick; INT64_MAX once
 * released. */
int64_t leader_next_ms(const struct leader *le);

/* Whether we lead: between on_started_leading and on_stopped_leading. */
bool leader_is_leader(const struct leader *le);

/* The holder of the Lease as last observed ("" for none or not yet seen),
 * client-go's GetLeader; borrowed until the next tick or release. */
const char *leader_holder(const struct leader *le);

/* Our identity; borrowed. */
const char *leader_identity(const struct leader *le);

/* The error of the last step that failed, code 0 when the last step had none. */
const struct cx_err *leader_last_error(const struct leader *le);

/* The timeout of each of le's API requests, connect included: the
 * configured one or LEADER_REQUEST_TIMEOUT_MS. */
long leader_request_timeout_ms(const struct leader *le);

/* Gives the Lease up so another candidate takes it at its next tick, as
 * client-go's ReleaseOnCancel does: when we are the observed holder, PUT the
 * record with holderIdentity "", leaseDurationSeconds 1 and acquireTime =
 * renewTime = now, leaseTransitions unchanged (a conflict is re-read and
 * retried once while the holder is still us). Call it after dispatching has
 * stopped and in-flight work is done (SIGTERM), never while anything guarded
 * by the Lease still runs. Ends the election for le: later ticks do nothing.
 * Calls on_stopped_leading when we were leading. Returns 0 (also when we did
 * not hold it), or the failed request's code with err filled. */
int leader_release(struct leader *le, struct cx_err *err);

/* $POD_NAME when set and not empty, else "<hostname>_<pid>" (client-go uses
 * hostname_<uuid>; ours only has to be unique among running processes), in
 * buf of size n. Returns 0, or -ENAMETOOLONG / -errno with err filled. */
int leader_default_identity(char *buf, size_t n, struct cx_err *err);

/* --- The pure parts, public for the unit tests. --- */

/* The election record, parsed from a Lease's spec. Absent fields are NULL or
 * 0. Owns its strings. */
struct leader_record {
	char *holder;          /* holderIdentity; NULL or "" = nobody */
	long lease_duration_s; /* leaseDurationSeconds */
	char *acquire_time;    /* acquireTime, MicroTime text as the API returned it */
	char *renew_time;      /* renewTime */
	long transitions;      /* leaseTransitions */
};

/* Fills r (which must be zeroed or cleared) from lease, a whole Lease object.
 * A missing spec is an empty record; fields of the wrong JSON type are
 * -EBADMSG with err naming them. */
int leader_record_from_lease(struct json_object *lease, struct leader_record *r, struct cx_err *err);

/* The Lease spec for r (a new object, owned by the caller); NULL fields and
 * a zero lease duration are left out, holder NULL is written as "". NULL
 * when out of memory. */
struct json_object *leader_record_to_spec(const struct leader_record *r);

/* Whether two records are the same election state: every field compared,
 * the times as text (the API hands back what it stored). */
bool leader_record_equal(const struct leader_record *a, const struct leader_record *b);

/* Frees r's strings and zeroes it. */
void leader_record_clear(struct leader_record *r);

/* client-go's test in tryAcquireOrRenew: whether identity may write the
 * record r, last seen to change at observed_ms, at now_ms. True when r has no
 * holder, when the holder is identity, or when r has not changed for its
 * leaseDurationSeconds (default_lease_ms when it has none):
 * observed_ms + duration <= now_ms. */
bool leader_may_acquire(const struct leader_record *r, const char *identity, int64_t observed_ms, long default_lease_ms,
			int64_t now_ms);

/* Whether two error messages are the same for logging once: equal once
 * every run of digits counts as one (libcurl's messages carry the elapsed
 * milliseconds, "after 0 ms" or "after 1 ms" as timing goes). */
bool leader_same_error(const char *a, const char *b);

/* Formats unix_us (microseconds since the epoch, UTC) as a MicroTime,
 * "2006-01-02T15:04:05.000000Z". Returns 0, or -ERANGE outside years
 * 0000-9999. */
int leader_microtime_format(int64_t unix_us, char buf[static LEADER_MICROTIME_LEN]);

/* Parses an RFC 3339 time as the API writes MicroTime and Time:
 * "YYYY-MM-DDTHH:MM:SS", optional fraction (1 to 9 digits, truncated to
 * microseconds), then "Z" or "+HH:MM"/"-HH:MM". Returns 0 with *unix_us, or
 * -EINVAL for anything else. */
int leader_microtime_parse(const char *s, int64_t *unix_us);

#endif

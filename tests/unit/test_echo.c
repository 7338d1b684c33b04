/* Unit tests for watcher/echo: which watch events echo a job's own writes.
 * Fake data only; echo has no clock. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <json-c/json.h>
#include <string.h>

#include "echo.h"

#define KEY  "websites/default/web"
#define CM   "ConfigMap.v1"
#define SITE "Website.example.com/v1"

/* A RESULT's writes: triples of kind, name, resourceVersion in namespace
 * "default", ended by NULL. */
static struct json_object *writes(const char *first, ...)
{
	struct json_object *list = json_object_new_array();
	va_list ap;
	va_start(ap, first);
	for (const char *kind = first; kind; kind = va_arg(ap, const char *)) {
		const char *name = va_arg(ap, const char *), *rv = va_arg(ap, const char *);
		struct json_object *w = json_object_new_object();
		json_object_object_add(w, "kind", json_object_new_string(kind));
		json_object_object_add(w, "namespace", json_object_new_string("default"));
		json_object_object_add(w, "name", json_object_new_string(name));
		json_object_object_add(w, "resourceVersion", json_object_new_string(rv));
		json_object_array_add(list, w);
	}
	va_end(ap);
	return list;
}

static enum echo_verdict event(struct echo *e, const char *kind, const char *name, const char *rv)
{
	return echo_event(e, KEY, kind, "default", name, rv);
}

static void finish(struct echo *e, struct json_object *w, struct echo_settled *out)
{
	echo_job_finished(e, KEY, w, out);
	json_object_put(w);
}

/* Nothing reported: every event syncs, as before echo existed. */
Test(echo, unknown_key_syncs)
{
	struct echo *e = echo_new();
	cr_assert_eq(event(e, CM, "web", "10"), ECHO_SYNC);
	cr_assert_eq(echo_keys(e), 0);
	echo_free(&e);
	cr_assert_null(e);
	echo_free(&e);
}

/* The cold-start case: the child's ADDED and the parent's status MODIFIED
 * arrive while the job is still in flight; the RESULT says they are its
 * own writes: dropped, and the key is not synced again. */
Test(echo, held_echoes_are_dropped)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_HELD);
	cr_assert_eq(event(e, SITE, "web", "12"), ECHO_HELD);
	finish(e, writes(CM, "web", "11", SITE, "web", "12", NULL), &s);
	cr_assert_eq(s.dropped, 2);
	cr_assert(!s.sync, "nothing but echoes: no second sync");
	cr_assert_eq(echo_dropped(e), 2);
	cr_assert_eq(echo_keys(e), 0, "every write matched: nothing remembered");
	echo_free(&e);
}

/* The events arrive after the RESULT: each matching one is dropped, once. */
Test(echo, late_echoes_are_dropped_once)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "11", SITE, "web", "12", NULL), &s);
	cr_assert_eq(s.dropped, 0);
	cr_assert(!s.sync);
	cr_assert_eq(echo_keys(e), 1);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_DROP);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_SYNC, "a write matches one event, not two");
	cr_assert_eq(event(e, SITE, "web", "12"), ECHO_DROP);
	cr_assert_eq(echo_keys(e), 0);
	cr_assert_eq(echo_dropped(e), 2);
	echo_free(&e);
}

/* Only exact equality of object and resourceVersion drops an event. */
Test(echo, anything_else_syncs)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "11", NULL), &s);
	cr_assert_eq(event(e, CM, "web", "12"), ECHO_SYNC, "a later version: someone else's write");
	cr_assert_eq(event(e, CM, "web", "1"), ECHO_SYNC, "an earlier one (opaque: no ordering)");
	cr_assert_eq(event(e, CM, "web", "011"), ECHO_SYNC, "equality of strings, not numbers");
	cr_assert_eq(event(e, CM, "other", "11"), ECHO_SYNC, "another object at the same version");
	cr_assert_eq(event(e, "Secret.v1", "web", "11"), ECHO_SYNC, "another kind");
	cr_assert_eq(echo_event(e, KEY, CM, "prod", "web", "11"), ECHO_SYNC, "another namespace");
	cr_assert_eq(echo_event(e, "websites/default/other", CM, "default", "web", "11"), ECHO_SYNC, "another key");
	cr_assert_eq(event(e, CM, "web", ""), ECHO_SYNC, "no resourceVersion");
	cr_assert_eq(event(e, CM, "web", NULL), ECHO_SYNC);
	cr_assert_eq(echo_dropped(e), 0);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_DROP, "the write itself still matches");
	echo_free(&e);
}

/* Names cannot be made to collide by moving characters between fields. */
Test(echo, fields_do_not_run_together)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	finish(e, writes(CM, "a1", "2", NULL), &s);
	cr_assert_eq(event(e, CM, "a", "12"), ECHO_SYNC);
	cr_assert_eq(event(e, CM, "a12", "2"), ECHO_SYNC);
	echo_free(&e);
}

/* The outside change right after coxswain's own write, while the job is in
 * flight: held, then it syncs the key when the RESULT arrives, even though
 * the echo beside it is dropped. */
Test(echo, outside_change_in_flight_syncs)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_HELD);
	cr_assert_eq(event(e, CM, "web", "13"), ECHO_HELD);
	finish(e, writes(CM, "web", "11", NULL), &s);
	cr_assert_eq(s.dropped, 1);
	cr_assert(s.sync, "the other write is not lost");
	echo_free(&e);
}

/* The same after the RESULT: the echo is dropped, the change syncs. */
Test(echo, outside_change_after_result_syncs)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "11", NULL), &s);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_DROP);
	cr_assert_eq(event(e, CM, "web", "13"), ECHO_SYNC);
	echo_free(&e);
}

/* A failed, lost or poison job reports no writes: everything held syncs,
 * and an event it may have caused later syncs too. */
Test(echo, failed_job_syncs_everything_held)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_HELD);
	echo_job_finished(e, KEY, NULL, &s);
	cr_assert_eq(s.dropped, 0);
	cr_assert(s.sync);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_SYNC);
	cr_assert_eq(echo_keys(e), 0);

	/* a failure also ends what the job before reported */
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "20", NULL), &s);
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, CM, "web", "20"), ECHO_HELD);
	echo_job_finished(e, KEY, NULL, &s);
	cr_assert(s.sync, "a failed job's held events all sync");
	cr_assert_eq(s.dropped, 0);
	cr_assert_eq(echo_keys(e), 0);
	echo_free(&e);
}

/* A nothing-held job syncs nothing. */
Test(echo, quiet_job)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	echo_job_finished(e, KEY, NULL, &s);
	cr_assert(!s.sync);
	cr_assert_eq(echo_keys(e), 0);
	echo_free(&e);
}

/* A reported write whose event never comes (an apply that changed nothing)
 * is matched until the end of the second job after it, then forgotten; its
 * late echo meanwhile is still dropped, held or not. */
Test(echo, unmatched_writes_end_two_jobs_later)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "11", SITE, "web", "12", NULL), &s);
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, SITE, "web", "12"), ECHO_HELD, "the echo of the job before, late");
	finish(e, writes(SITE, "web", "14", NULL), &s);
	cr_assert_eq(s.dropped, 1);
	cr_assert(!s.sync);
	echo_job_started(e, KEY);
	finish(e, writes(NULL), &s);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_SYNC, "two jobs later: forgotten");
	cr_assert_eq(event(e, SITE, "web", "14"), ECHO_DROP, "one job later: still matched");
	cr_assert_eq(echo_keys(e), 0);

	/* a short job between a write and its echo */
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "30", NULL), &s);
	echo_job_started(e, KEY);
	finish(e, writes(NULL), &s);
	cr_assert(!s.sync);
	cr_assert_eq(event(e, CM, "web", "30"), ECHO_DROP);

	/* and nothing piles up */
	echo_job_started(e, KEY);
	finish(e, writes(CM, "web", "40", NULL), &s);
	echo_job_started(e, KEY);
	finish(e, writes(NULL), &s);
	echo_job_started(e, KEY);
	finish(e, writes(NULL), &s);
	cr_assert_eq(echo_keys(e), 0);
	cr_assert_eq(event(e, CM, "web", "40"), ECHO_SYNC);
	echo_free(&e);
}

/* A result for a key not in flight (forgotten: its parent went) keeps
 * nothing; forget drops what was held. */
Test(echo, forget)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_HELD);
	echo_forget(e, KEY);
	cr_assert_eq(echo_keys(e), 0);
	finish(e, writes(CM, "web", "11", NULL), &s);
	cr_assert(!s.sync);
	cr_assert_eq(s.dropped, 0);
	cr_assert_eq(echo_keys(e), 0, "a finished job of a forgotten key leaves nothing");
	cr_assert_eq(event(e, CM, "web", "11"), ECHO_SYNC);
	echo_forget(e, KEY);
	echo_free(&e);
}

/* Past ECHO_HELD_MAX held events, the next syncs at once (as every event
 * did before): nothing is lost and memory is bounded. */
Test(echo, held_is_bounded)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	char rv[32];
	echo_job_started(e, KEY);
	for (int i = 0; i < ECHO_HELD_MAX; i++) {
		snprintf(rv, sizeof(rv), "%d", i);
		cr_assert_eq(event(e, CM, "web", rv), ECHO_HELD);
	}
	cr_assert_eq(event(e, CM, "web", "x"), ECHO_SYNC);
	finish(e, writes(CM, "web", "0", NULL), &s);
	cr_assert_eq(s.dropped, 1);
	cr_assert(s.sync);
	echo_free(&e);
}

/* Two keys do not see each other's writes. */
Test(echo, keys_are_apart)
{
	struct echo *e = echo_new();
	struct echo_settled s;
	echo_job_started(e, KEY);
	echo_job_started(e, "websites/default/b");
	cr_assert_eq(echo_event(e, "websites/default/b", CM, "default", "web", "11"), ECHO_HELD);
	finish(e, writes(CM, "web", "11", NULL), &s);
	cr_assert_eq(echo_event(e, "websites/default/b", CM, "default", "web", "11"), ECHO_HELD, "still in flight");
	echo_job_finished(e, "websites/default/b", NULL, &s);
	cr_assert(s.sync);
	cr_assert_eq(echo_keys(e), 1);
	echo_free(&e);
}

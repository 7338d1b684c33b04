#include <criterion/criterion.h>
#include <json-c/json.h>
#include <string.h>

#include "statusmemo.h"

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

#define UID "8b2f63d4-6a0e-4b8e-9d7c-1f1f1f1f1f1f"

/* The status schema drops conditions: what was written is not what is
 * stored, and writing again would store the same again. */
Test(statusmemo, a_status_the_server_rewrote_is_settled)
{
	struct statusmemo *m = statusmemo_new(0);
	struct json_object *want = json("{\"ready\": true, \"conditions\": [{\"type\": \"Synced\"}]}");
	struct json_object *stored = json("{\"ready\": true}");
	cr_assert_not(statusmemo_settled(m, UID, want, stored), "nothing written yet");
	cr_assert_eq(statusmemo_put(m, UID, want, stored), 0);
	cr_assert(statusmemo_settled(m, UID, want, stored));

	struct json_object *later = json("{\"ready\": true, \"conditions\": [{\"type\": \"Synced\", "
					 "\"lastTransitionTime\": \"2026-12-04T12:00:00Z\"}]}");
	struct json_object *earlier = json("{\"ready\": true, \"conditions\": [{\"type\": \"Synced\", "
					   "\"lastTransitionTime\": \"2026-12-04T11:00:00Z\"}]}");
	cr_assert_eq(statusmemo_put(m, "uid-t", earlier, stored), 0);
	cr_assert(statusmemo_settled(m, "uid-t", later, stored), "a dropped condition is new at every sync");
	json_object_put(later);
	json_object_put(earlier);

	struct json_object *other_want = json("{\"ready\": false, \"conditions\": [{\"type\": \"Synced\"}]}");
	cr_assert_not(statusmemo_settled(m, UID, other_want, stored), "the hook's answer changed: write");
	struct json_object *changed = json("{\"ready\": false}");
	cr_assert_not(statusmemo_settled(m, UID, want, changed), "someone changed the status: write");
	cr_assert_not(statusmemo_settled(m, "another-uid", want, stored));

	/* Stored as written: nothing to remember, and the old memo goes. */
	cr_assert_eq(statusmemo_put(m, UID, stored, stored), 0);
	cr_assert_not(statusmemo_settled(m, UID, want, stored));
	json_object_put(want);
	json_object_put(stored);
	json_object_put(other_want);
	json_object_put(changed);
	statusmemo_free(&m);
	cr_assert_null(m);
}

Test(statusmemo, a_slot_holds_the_newest_uid)
{
	struct statusmemo *m = statusmemo_new(1);
	struct json_object *want = json("{\"a\": 1}"), *stored = json("{}");
	statusmemo_put(m, "uid-one", want, stored);
	statusmemo_put(m, "uid-two", want, stored);
	cr_assert(statusmemo_settled(m, "uid-two", want, stored));
	cr_assert_not(statusmemo_settled(m, "uid-one", want, stored), "forgotten: costs one more write, no more");
	json_object_put(want);
	json_object_put(stored);
	statusmemo_free(&m);
}

Test(statusmemo, dropped_names_each_field_the_server_did_not_keep)
{
	struct json_object *want = json("{\"ready\": true, \"conditions\": [], \"observedGeneration\": 3, "
					"\"nested\": {\"kept\": 1, \"gone\": {\"x\": 1}}}");
	struct json_object *stored = json("{\"ready\": true, \"observedGeneration\": 4, \"nested\": {\"kept\": 2}}");
	char buf[256];
	cr_assert_eq(statusmemo_dropped(want, stored, "status", buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf, "status.conditions; status.nested.gone");
	cr_assert_eq(statusmemo_dropped(want, NULL, "status", buf, 24), 4);
	cr_assert_eq(strlen(buf), 23, "cut: %s", buf);
	cr_assert_str_eq(buf + 20, "...");
	json_object_put(want);
	json_object_put(stored);
}

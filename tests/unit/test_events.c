/* Unit tests for worker/events' pure parts: the dedup key, Event names, and
 * the bounded LRU cache that remembers which Event a key was written to. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "events.h"

Test(events, keys_differ_in_every_part)
{
	const char *parts[][4] = {
		{ "uid-1", "Warning", "HookFailed", "exit 1" }, { "uid-2", "Warning", "HookFailed", "exit 1" },
		{ "uid-1", "Normal", "HookFailed", "exit 1" },  { "uid-1", "Warning", "ApplyFailed", "exit 1" },
		{ "uid-1", "Warning", "HookFailed", "exit 2" }, { "uid-1", "Warning", "HookFailedexit", " 1" },
	};
	size_t n = sizeof(parts) / sizeof(parts[0]);
	char *keys[sizeof(parts) / sizeof(parts[0])];
	for (size_t i = 0; i < n; i++) {
		keys[i] = events_key(parts[i][0], parts[i][1], parts[i][2], parts[i][3]);
		cr_assert_not_null(keys[i]);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_str_neq(keys[i], keys[j], "%zu and %zu", i, j);
	char *same = events_key("uid-1", "Warning", "HookFailed", "exit 1");
	cr_assert_str_eq(same, keys[0]);
	free(same);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
}

/* Every worker names the Event of one (object, type, reason, message) the
 * same: they all count into one series. */
Test(events, names_are_deterministic_and_valid)
{
	char *a = events_name("site", "uid-1", "Warning", "HookFailed", "exit 1");
	char *b = events_name("site", "uid-1", "Warning", "HookFailed", "exit 1");
	cr_assert_not_null(a);
	cr_assert_str_eq(a, b, "the same for the same Event");
	cr_assert_eq(strlen(a), strlen("site.") + 16);
	cr_assert_eq(strncmp(a, "site.", 5), 0);
	for (const char *p = a + 5; *p; p++)
		cr_assert(strchr("0123456789abcdef", *p), "%s", a);
	const char *other[][4] = { { "uid-2", "Warning", "HookFailed", "exit 1" },
				   { "uid-1", "Normal", "HookFailed", "exit 1" },
				   { "uid-1", "Warning", "ApplyFailed", "exit 1" },
				   { "uid-1", "Warning", "HookFailed", "exit 2" } };
	for (size_t i = 0; i < sizeof(other) / sizeof(*other); i++) {
		char *c = events_name("site", other[i][0], other[i][1], other[i][2], other[i][3]);
		cr_assert_str_neq(a, c, "differs with part %zu", i);
		free(c);
	}
	free(a);
	free(b);

	char longname[254];
	memset(longname, 'x', 253);
	longname[253] = '\0';
	char *l = events_name(longname, "u", "Normal", "Created", "created ConfigMap/x");
	cr_assert_eq(strlen(l), 253);
	cr_assert_eq(l[253 - 17], '.');
	free(l);
}

Test(event_cache, find_put_remove)
{
	struct event_cache *c = event_cache_new(4);
	cr_assert_null(event_cache_find(c, "k"));
	struct event_entry *e = event_cache_put(c, "k", "site.0001", 100);
	cr_assert_str_eq(e->name, "site.0001");
	cr_assert_eq(e->count, 1);
	cr_assert_eq(e->last, 100);
	e->count = 5;
	e = event_cache_find(c, "k");
	cr_assert_not_null(e);
	cr_assert_eq(e->count, 5);
	e = event_cache_put(c, "k", "site.0002", 200);
	cr_assert_str_eq(e->name, "site.0002");
	cr_assert_eq(e->count, 1, "put replaces");
	cr_assert_eq(event_cache_size(c), 1);
	event_cache_remove(c, "k");
	event_cache_remove(c, "absent");
	cr_assert_null(event_cache_find(c, "k"));
	cr_assert_eq(event_cache_size(c), 0);
	event_cache_free(&c);
	cr_assert_null(c);
	event_cache_free(&c);
}

Test(event_cache, evicts_the_least_recently_used)
{
	struct event_cache *c = event_cache_new(3);
	event_cache_put(c, "a", "A", 1);
	event_cache_put(c, "b", "B", 2);
	event_cache_put(c, "c", "C", 3);
	cr_assert_not_null(event_cache_find(c, "a")); /* a is now the most recent; b the least */
	event_cache_put(c, "d", "D", 4);
	cr_assert_eq(event_cache_size(c), 3);
	cr_assert_null(event_cache_find(c, "b"));
	cr_assert_not_null(event_cache_find(c, "a"));
	cr_assert_not_null(event_cache_find(c, "c"));
	cr_assert_not_null(event_cache_find(c, "d"));
	event_cache_free(&c);
}

/* Many keys through a small cache, against a plain model of LRU order. */
Test(event_cache, stays_bounded_under_churn)
{
	enum { CAP = 64, KEYS = 300, STEPS = 20000 };
	struct event_cache *c = event_cache_new(CAP);
	long last_use[KEYS];
	for (int i = 0; i < KEYS; i++)
		last_use[i] = -1;
	unsigned seed = 7;
	for (long step = 0; step < STEPS; step++) {
		int k = (int)(rand_r(&seed) % KEYS);
		char key[16];
		snprintf(key, sizeof(key), "k%d", k);
		/* In the model, key k is cached when fewer than CAP keys were used since. */
		int newer = 0;
		for (int j = 0; j < KEYS; j++)
			if (last_use[j] > last_use[k])
				newer++;
		bool cached = last_use[k] >= 0 && newer < CAP;
		struct event_entry *e = event_cache_find(c, key);
		cr_assert_eq(e != NULL, cached, "step %ld key %s", step, key);
		if (!e)
			cr_assert_not_null(event_cache_put(c, key, key, step));
		else
			cr_assert_str_eq(e->name, key);
		last_use[k] = step;
		cr_assert_leq(event_cache_size(c), CAP);
	}
	event_cache_free(&c);
}

/* A DNS subdomain (RFC 1123), as the API server checks metadata.name:
 * at most 253 characters, labels of [a-z0-9-] joined by '.', each starting
 * and ending with a letter or digit. */
static bool dns_subdomain(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		bool edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';
		if (ch == '.' ? edge : !alnum && (ch != '-' || edge))
			return false;
	}
	return true;
}

/* The longest parent names, whatever the cut falls on ('.', '-', "--"),
 * give a valid name of at most 253 characters, one per Event. */
Test(events, names_of_the_longest_parents_are_dns_subdomains)
{
	/* The parent's characters 234 and 235 (its name is cut to 236). */
	const char *cuts[] = { "qq", "q.", "q-", "--", ".q", "-q" };
	for (size_t k = 0; k < sizeof(cuts) / sizeof(*cuts); k++) {
		char parent[254];
		for (size_t i = 0; i < 253; i++)
			parent[i] = i % 50 == 49 ? '.' : 'a' + (char)(i % 26);
		parent[233] = parent[236] = 'q';
		memcpy(parent + 234, cuts[k], 2);
		parent[253] = '\0';
		cr_assert(dns_subdomain(parent), "the test's parent %s", parent);
		char *a = events_name(parent, "u", "Warning", "HookFailed", "exit 1");
		char *b = events_name(parent, "u", "Warning", "HookFailed", "exit 2");
		cr_assert_not_null(a);
		cr_assert(dns_subdomain(a), "cut %s: %s", cuts[k], a);
		cr_assert_str_neq(a, b);
		free(a);
		free(b);
	}
	cr_assert_not(dns_subdomain("a-.b"));
	cr_assert_not(dns_subdomain("a..b"));
	cr_assert_not(dns_subdomain("a.b-"));
}

/* A message longer than EVENTS_MESSAGE_MAX is cut, with "...", on a UTF-8
 * character's boundary (the API server would store a broken character as
 * U+FFFD); shorter ones are kept whole. */
Test(events, long_messages_are_cut_on_a_character)
{
	char out[EVENTS_MESSAGE_MAX + 1];
	events_cut_message("exit 1", out);
	cr_assert_str_eq(out, "exit 1");

	char exact[EVENTS_MESSAGE_MAX + 1];
	memset(exact, 'm', EVENTS_MESSAGE_MAX);
	exact[EVENTS_MESSAGE_MAX] = '\0';
	events_cut_message(exact, out);
	cr_assert_str_eq(out, exact, "exactly EVENTS_MESSAGE_MAX bytes are kept");

	for (size_t shift = 0; shift < 4; shift++) {
		/* "é" is 2 bytes, "€" 3, "𝄞" 4; shift moves the boundaries. */
		const char *chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e" };
		for (size_t c = 0; c < 3; c++) {
			char msg[3 * EVENTS_MESSAGE_MAX];
			size_t n = shift;
			memset(msg, 'a', shift);
			while (n + strlen(chars[c]) < sizeof(msg) - 1) {
				memcpy(msg + n, chars[c], strlen(chars[c]));
				n += strlen(chars[c]);
			}
			msg[n] = '\0';
			events_cut_message(msg, out);
			size_t len = strlen(out);
			cr_assert_leq(len, EVENTS_MESSAGE_MAX);
			cr_assert_geq(len, EVENTS_MESSAGE_MAX - 3);
			cr_assert_str_eq(out + len - 3, "...");
			cr_assert_eq(strncmp(out, msg, len - 3), 0, "a prefix of the message");
			/* The prefix ends where a character starts in the message. */
			cr_assert_neq((unsigned char)msg[len - 3] & 0xc0, 0x80,
				      "shift %zu char %zu: cut inside a character", shift, c);
		}
	}
}

/* Normal Events are off by default (worker.events.normal): a report of
 * created, recreated, deleted and adopted children posts nothing, so no
 * request is even tried (the poster has no client here). */
Test(events, normal_events_are_off_by_default)
{
	struct events *e = events_new(NULL, "ctl", 0);
	cr_assert_not_null(e);
	static char v1[] = "v1", cm[] = "ConfigMap", a[] = "a", b[] = "b", x[] = "x", y[] = "y";
	struct apply_result results[4] = {
		{ .api_version = v1, .kind = cm, .name = a, .action = APPLY_CREATED },
		{ .api_version = v1, .kind = cm, .name = b, .action = APPLY_DELETED },
		{ .api_version = v1, .kind = cm, .name = x, .action = APPLY_RECREATED },
		{ .api_version = v1, .kind = cm, .name = y, .action = APPLY_ADOPTED },
	};
	struct apply_report rep = { .results = results, .n = 4 };
	struct cx_err err = { 0 };
	cr_assert_eq(events_post_apply(e, NULL, &rep, &err), 0, "%s", err.msg);
	events_free(&e);
}

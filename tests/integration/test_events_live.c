/* Events across workers, against the real kube-apiserver: every worker
 * process has its own kclient and its own struct events (its own cache), and
 * still one (object, type, reason, message) is one Event object whose count
 * is every post, whoever posted it, across restarts (a fresh struct events),
 * when two workers post at the same moment, and after the Event expired on
 * the server. The name stays valid for the longest parent names, and a long
 * message is stored as it was cut. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "events.h"
#include "kclient.h"
#include "live.h"
#include "restconfig.h"

#define PATH_LEN 1024
#define WORKERS  3

static struct restconfig *rc;
static struct kclient *kc[WORKERS]; /* one per worker process */
static char ns[64];

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	struct kclient_options o = { .qps = 500, .burst = 500 };
	for (int i = 0; i < WORKERS; i++) {
		kclient_new(rc, &o, &kc[i], &err);
		cr_assert_not_null(kc[i], "%s", err.msg);
	}
}

static void teardown(void)
{
	if (ns[0]) {
		char path[PATH_LEN];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(kc[0], path, NULL, NULL, NULL);
	}
	for (int i = 0; i < WORKERS; i++)
		kclient_free(&kc[i]);
	restconfig_free(&rc);
}

TestSuite(events_live, .init = setup, .fini = teardown, .timeout = 120);

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static const char *str(struct json_object *o, const char *k1, const char *k2)
{
	struct json_object *v = NULL;
	if (!json_object_object_get_ex(o, k1, &v))
		return NULL;
	if (k2 && !json_object_object_get_ex(v, k2, &v))
		return NULL;
	return json_object_get_string(v);
}

static long count_of(struct json_object *ev)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(ev, "count", &v) ? (long)json_object_get_int64(v) : -1;
}

/* A namespace of its own and a ConfigMap in it (name) that the Events are
 * about; the ConfigMap as the server has it (owned). */
static struct json_object *prepare(const char *base, const char *name)
{
	snprintf(ns, sizeof(ns), "%s-%d", base, (int)getpid());
	char body[1024];
	struct cx_err err = { 0 };
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json(body);
	cr_assert_eq(kclient_create(kc[0], "/api/v1/namespaces", o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"}}",
		 name);
	o = json(body);
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	struct json_object *parent = NULL;
	cr_assert_eq(kclient_create(kc[0], path, o, &parent, &err), 0, "%s", err.msg);
	json_object_put(o);
	return parent;
}

struct found {
	const char *uid, *reason, *message;
	int objects;
	long count;
	char name[256];
};

static int match(void *ud, struct json_object *it, struct cx_err *err)
{
	(void)err;
	struct found *f = ud;
	const char *uid = str(it, "involvedObject", "uid"), *reason = str(it, "reason", NULL),
		   *msg = str(it, "message", NULL);
	if (uid && reason && msg && !strcmp(uid, f->uid) && !strcmp(reason, f->reason) && !strcmp(msg, f->message)) {
		f->objects++;
		f->count = count_of(it);
		snprintf(f->name, sizeof(f->name), "%s", str(it, "metadata", "name"));
	}
	return 0;
}

/* The Event objects the server holds about parent with reason and message:
 * how many, and the count (and name) of the last one. */
static struct found series(struct json_object *parent, const char *reason, const char *message)
{
	struct found f = { .uid = str(parent, "metadata", "uid"), .reason = reason, .message = message };
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_list(kc[0], path, NULL, match, &f, NULL, &err), 0, "%s", err.msg);
	return f;
}

static void post(struct events *e, struct json_object *parent, const char *message, long want_count)
{
	struct cx_err err = { 0 };
	struct json_object *out = NULL;
	cr_assert_eq(events_post(e, parent, EVENT_WARNING, "HookFailed", message, &out, &err), 0, "%s", err.msg);
	if (want_count > 0)
		cr_assert_eq(count_of(out), want_count, "%s", json_object_to_json_string(out));
	json_object_put(out);
}

/* Two workers post the same Warning three times each, interleaved (so each
 * one's cached resourceVersion is stale every time but the first); then a
 * restarted worker (an empty cache); then another message. */
Test(events_live, one_series_across_workers_and_restarts)
{
	struct json_object *parent = prepare("ev-workers", "cm");
	struct events *w1 = events_new(kc[0], "ctl", 0), *w2 = events_new(kc[1], "ctl", 0);
	cr_assert(w1 && w2);
	long n = 0;
	for (int i = 0; i < 3; i++) {
		post(w1, parent, "exit 1", ++n);
		post(w2, parent, "exit 1", ++n);
	}
	struct found f = series(parent, "HookFailed", "exit 1");
	cr_assert_eq(f.objects, 1, "one Event object for two workers, got %d", f.objects);
	cr_assert_eq(f.count, 6);

	struct events *restarted = events_new(kc[2], "ctl", 0);
	post(restarted, parent, "exit 1", 7);
	f = series(parent, "HookFailed", "exit 1");
	cr_assert_eq(f.objects, 1, "a restarted worker counts into the same series, got %d objects", f.objects);
	cr_assert_eq(f.count, 7);

	post(w1, parent, "exit 2", 1);
	struct found g = series(parent, "HookFailed", "exit 2");
	cr_assert_eq(g.objects, 1);
	cr_assert_eq(g.count, 1);
	cr_assert_str_neq(g.name, f.name, "another message is another series");
	cr_assert_eq(series(parent, "HookFailed", "exit 1").count, 7, "the first series is untouched");

	events_free(&w1);
	events_free(&w2);
	events_free(&restarted);
	json_object_put(parent);
}

struct poster {
	struct events *e;
	struct json_object *parent;
	int posts, failed, first_rc;
	struct cx_err first; /* the first failure's */
};

static void *post_many(void *arg)
{
	struct poster *p = arg;
	for (int i = 0; i < p->posts; i++) {
		struct cx_err err = { 0 };
		int r = events_post(p->e, p->parent, EVENT_WARNING, "HookFailed", "racing", NULL, &err);
		if (r && !p->failed++) {
			p->first_rc = r;
			p->first = err;
		}
	}
	return NULL;
}

/* Two workers posting at the same moment: no post is lost, none doubles. */
Test(events_live, concurrent_workers_lose_no_count)
{
	struct json_object *parent = prepare("ev-race", "cm");
	enum { POSTS = 10 };
	struct poster p[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		p[i] = (struct poster){ .e = events_new(kc[i], "ctl", 0), .parent = parent, .posts = POSTS };
		cr_assert_not_null(p[i].e);
	}
	for (int i = 0; i < 2; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, post_many, &p[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(p[i].failed, 0, "worker %d: %d failed, the first with %d: %s", i, p[i].failed,
			     p[i].first_rc, p[i].first.msg);
		events_free(&p[i].e);
	}
	struct found f = series(parent, "HookFailed", "racing");
	cr_assert_eq(f.objects, 1);
	cr_assert_eq(f.count, 2 * POSTS);
	json_object_put(parent);
}

/* The server dropped the Event (its TTL ran out; here it is deleted): the
 * worker that still caches it starts the series anew, under the same name. */
Test(events_live, an_expired_event_is_created_anew)
{
	struct json_object *parent = prepare("ev-expired", "cm");
	struct events *w = events_new(kc[0], "ctl", 0);
	post(w, parent, "exit 1", 1);
	post(w, parent, "exit 1", 2);
	struct found f = series(parent, "HookFailed", "exit 1");
	cr_assert_eq(f.objects, 1);
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, f.name);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_delete(kc[1], path, NULL, NULL, &err), 0, "%s", err.msg);
	post(w, parent, "exit 1", 1);
	struct found g = series(parent, "HookFailed", "exit 1");
	cr_assert_eq(g.objects, 1);
	cr_assert_eq(g.count, 1);
	cr_assert_str_eq(g.name, f.name);
	events_free(&w);
	json_object_put(parent);
}

/* A Warning said once (the status schema drops fields): the first worker
 * to say it creates the Event, and another worker, or a restarted one, that
 * says it again writes nothing (the Event's resourceVersion stays), while
 * another message is still said. */
Test(events_live, said_once_across_workers_writes_once)
{
	struct json_object *parent = prepare("ev-once", "cm");
	struct events *w1 = events_new(kc[0], "ctl", 0), *w2 = events_new(kc[1], "ctl", 0),
		      *restarted = events_new(kc[2], "ctl", 0);
	cr_assert(w1 && w2 && restarted);
	struct cx_err err = { 0 };
	cr_assert_eq(events_post_once(w1, parent, EVENT_WARNING, "StatusFieldsDropped", "dropped", &err), 0, "%s",
		     err.msg);
	struct found f = series(parent, "StatusFieldsDropped", "dropped");
	cr_assert_eq(f.objects, 1);
	cr_assert_eq(f.count, 1);
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, f.name);
	struct json_object *before = NULL, *after = NULL;
	cr_assert_eq(kclient_get(kc[0], path, &before, &err), 0, "%s", err.msg);
	struct events *all[] = { w2, restarted, w1, w2 };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		cr_assert_eq(events_post_once(all[i], parent, EVENT_WARNING, "StatusFieldsDropped", "dropped", &err), 0,
			     "%s", err.msg);
	cr_assert_eq(kclient_get(kc[0], path, &after, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(after, "metadata", "resourceVersion"), str(before, "metadata", "resourceVersion"),
			 "said once: no worker wrote the Event again");
	cr_assert_eq(count_of(after), 1);
	cr_assert_eq(events_post_once(w2, parent, EVENT_WARNING, "StatusFieldsDropped", "other", &err), 0, "%s",
		     err.msg);
	cr_assert_eq(series(parent, "StatusFieldsDropped", "other").objects, 1, "another message is said");
	json_object_put(before);
	json_object_put(after);
	events_free(&w1);
	events_free(&w2);
	events_free(&restarted);
	json_object_put(parent);
}

/* A parent with the longest name (253 characters, the cut falling after a
 * '.'), and a message longer than EVENTS_MESSAGE_MAX: the server accepts
 * the Event's name, and two workers still share it. */
Test(events_live, the_longest_names_and_messages_work)
{
	char name[254];
	/* Segments "aaaa...a." so that character 236 (the cut) follows a '.'. */
	for (int i = 0; i < 253; i++)
		name[i] = (i % 59 == 58) ? '.' : 'a';
	name[235] = '.';
	name[252] = 'z';
	name[253] = '\0';
	struct json_object *parent = prepare("ev-long", name);
	char message[EVENTS_MESSAGE_MAX * 2];
	memset(message, 'm', sizeof(message) - 1);
	message[sizeof(message) - 1] = '\0';
	struct events *w1 = events_new(kc[0], "ctl", 0), *w2 = events_new(kc[1], "ctl", 0);
	post(w1, parent, message, 1);
	post(w2, parent, message, 2);
	char stored[EVENTS_MESSAGE_MAX + 1];
	memcpy(stored, message, EVENTS_MESSAGE_MAX - 3);
	memcpy(stored + EVENTS_MESSAGE_MAX - 3, "...", 4);
	struct found f = series(parent, "HookFailed", stored);
	cr_assert_eq(f.objects, 1);
	cr_assert_eq(f.count, 2);
	cr_assert_leq(strlen(f.name), 253);

	/* Cut on a character: the server stores exactly the message hashed. */
	char wide[EVENTS_MESSAGE_MAX * 2];
	size_t n = 0; /* characters at even offsets: byte EVENTS_MESSAGE_MAX - 3 is inside one */
	while (n + 2 < sizeof(wide)) {
		memcpy(wide + n, "\xc3\xa9", 2);
		n += 2;
	}
	wide[n] = '\0';
	post(w1, parent, wide, 1);
	post(w2, parent, wide, 2);
	events_cut_message(wide, stored);
	f = series(parent, "HookFailed", stored);
	cr_assert_eq(f.objects, 1, "the server stores the message as cut");
	cr_assert_eq(f.count, 2);
	events_free(&w1);
	events_free(&w2);
	json_object_put(parent);
}

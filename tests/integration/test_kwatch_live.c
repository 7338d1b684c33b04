/* kwatch against the real kube-apiserver, driven by a poll loop as the
 * watcher drives it: events in order, resuming after the transfer is cut,
 * 410 for a compacted resourceVersion, clean ends, silence, and RBAC. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "kclient.h"
#include "kwatch.h"
#include "live.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static struct kwatch_mux *mux;
static char ns[64];
static char cms[256]; /* the configmaps of ns */

/* What a watch saw: "ADDED a", "MODIFIED a", ... and how it ended. */
struct seen {
	char log[64][96];
	size_t n;
	int bookmarks;
	bool ended;
	int end_code;
	char end_msg[CX_ERR_MSG_MAX];
};

static int on_event(void *ud, const struct watch_event *ev, struct cx_err *err)
{
	(void)err;
	struct seen *s = ud;
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK" };
	if (ev->type == WATCH_BOOKMARK) {
		s->bookmarks++;
		return 0;
	}
	struct json_object *meta = NULL, *name = NULL;
	json_object_object_get_ex(ev->object, "metadata", &meta);
	json_object_object_get_ex(meta, "name", &name);
	if (s->n < 64)
		snprintf(s->log[s->n++], sizeof(s->log[0]), "%s %s", names[ev->type], json_object_get_string(name));
	return 0;
}

static void on_end(void *ud, struct kwatch *w, int code, const struct cx_err *err)
{
	(void)w;
	struct seen *s = ud;
	s->ended = true;
	s->end_code = code;
	snprintf(s->end_msg, sizeof(s->end_msg), "%s", err->msg);
}

/* Runs the poll loop until want events were seen or the watch ended, at
 * most max_ms. */
static void pump(struct seen *s, size_t want, int max_ms)
{
	int64_t start = clock_monotonic_ms();
	for (long waited = 0; waited < max_ms && !s->ended && s->n < want;) {
		struct pollfd fds[16];
		long timeout_ms;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &timeout_ms);
		if (timeout_ms < 0 || timeout_ms > 100)
			timeout_ms = 100;
		poll(fds, n, (int)timeout_ms);
		cr_assert_eq(kwatch_mux_dispatch(mux, fds, n), 0);
		/* Real time: poll returns early whenever a socket is ready. */
		waited = (long)(clock_monotonic_ms() - start);
	}
}

static void json_call(int (*verb)(struct kclient *, const char *, struct json_object *, struct json_object **,
				  struct cx_err *),
		      const char *path, const char *body)
{
	struct json_object *o = json_tokener_parse(body);
	cr_assert_not_null(o, "%s", body);
	struct cx_err err = { 0 };
	cr_assert_eq(verb(c, path, o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

static void create_cm(const char *name)
{
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"}}",
		 name);
	json_call(kclient_create, cms, body);
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	snprintf(ns, sizeof(ns), "kw-%d", (int)getpid());
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	json_call(kclient_create, "/api/v1/namespaces", body);
}

static void teardown(void)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	kclient_delete(c, path, NULL, NULL, NULL);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(kwatch_live, .init = setup, .fini = teardown, .timeout = 60);

/* The list's resourceVersion, from which a watch continues. */
static char *list_rv(void)
{
	char *rv = NULL;
	struct cx_err err = { 0 };
	struct json_object *list = NULL;
	cr_assert_eq(kclient_get(c, cms, &list, &err), 0, "%s", err.msg);
	struct json_object *meta = NULL, *v = NULL;
	json_object_object_get_ex(list, "metadata", &meta);
	json_object_object_get_ex(meta, "resourceVersion", &v);
	rv = strdup(json_object_get_string(v));
	json_object_put(list);
	return rv;
}

static struct kwatch *start(struct seen *s, const char *rv, long timeout_s, long silent_s)
{
	struct kwatch_options o = { .path = cms,
				    .resource_version = rv,
				    .timeout_seconds = timeout_s,
				    .inactivity_seconds = silent_s,
				    .drop_managed_fields = true };
	struct cx_err err = { 0 };
	struct kwatch *w = NULL;
	kwatch_start(mux, c, &o, on_event, on_end, s, &w, &err);
	cr_assert_not_null(w, "%s", err.msg);
	return w;
}

/* What a client's request observer was told: "200 GET", "<error> GET"... */
struct requests {
	char log[16][64];
	size_t n;
};

static void on_request(void *ud, int code, const char *method, const char *host)
{
	struct requests *r = ud;
	cr_assert_not_null(host);
	cr_assert_neq(host[0], '\0');
	char label[16];
	if (r->n < 16)
		snprintf(r->log[r->n++], sizeof(r->log[0]), "%s %s", kclient_code_label(code, label), method);
}

Test(kwatch_live, added_modified_deleted_in_order)
{
	char *rv = list_rv();
	struct seen s = { 0 };
	struct kwatch *w = start(&s, rv, 0, 0);
	create_cm("a");
	char a[512];
	snprintf(a, sizeof(a), "%s/a", cms);
	struct json_object *patch = json_tokener_parse("{\"data\":{\"k\":\"v\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, a, KCLIENT_PATCH_MERGE, patch, NULL, &err), 0, "%s", err.msg);
	json_object_put(patch);
	cr_assert_eq(kclient_delete(c, a, NULL, NULL, &err), 0, "%s", err.msg);

	pump(&s, 3, 10000);
	cr_assert_eq(s.n, 3, "saw %zu events; ended=%d %s", s.n, s.ended, s.end_msg);
	cr_assert_str_eq(s.log[0], "ADDED a");
	cr_assert_str_eq(s.log[1], "MODIFIED a");
	cr_assert_str_eq(s.log[2], "DELETED a");
	cr_assert_not(s.ended);
	cr_assert_gt(strtoull(kwatch_resource_version(w), NULL, 10), strtoull(rv, NULL, 10));
	cr_assert_eq(kwatch_mux_running(mux), 1);
	kwatch_free(&w);
	cr_assert_eq(kwatch_mux_running(mux), 0);
	free(rv);
}

Test(kwatch_live, resumes_from_the_last_resource_version_after_a_cut)
{
	char *rv = list_rv();
	struct seen first = { 0 };
	struct kwatch *w = start(&first, rv, 0, 0);
	create_cm("before");
	pump(&first, 1, 10000);
	cr_assert_eq(first.n, 1, "%s", first.end_msg);
	char *resume = strdup(kwatch_resource_version(w));
	kwatch_free(&w); /* the transfer is cut mid-stream */

	create_cm("during-1");
	create_cm("during-2");
	struct seen second = { 0 };
	w = start(&second, resume, 0, 0);
	pump(&second, 2, 10000);
	cr_assert_eq(second.n, 2, "%s", second.end_msg);
	cr_assert_str_eq(second.log[0], "ADDED during-1", "nothing lost, nothing repeated");
	cr_assert_str_eq(second.log[1], "ADDED during-2");
	kwatch_free(&w);
	free(resume);
	free(rv);
}

Test(kwatch_live, compacted_resource_version_needs_a_relist)
{
	/* PodTemplates bypass the fixture's watch cache (tests/cluster/up), so
	 * etcd's compaction shows through at once. */
	char templates[256];
	snprintf(templates, sizeof(templates), "/api/v1/namespaces/%s/podtemplates", ns);
	create_cm("before-the-compaction"); /* etcd's revision moves on */
	live_etcd_compact();

	/* From the first revision there is: older than any compaction, the API
	 * server's own (every 30 s in the fixture) or the one just forced. */
	struct seen s = { 0 };
	struct cx_err err = { 0 };
	struct kwatch_options wo = { .path = templates, .resource_version = "1" };
	struct kwatch *w = NULL;
	kwatch_start(mux, c, &wo, on_event, on_end, &s, &w, &err);
	cr_assert_not_null(w, "%s", err.msg);
	pump(&s, 1000, 10000);
	cr_assert(s.ended, "the watch from a compacted resourceVersion went on (%zu events: %s)", s.n,
		  s.n ? s.log[0] : "");
	cr_assert_eq(s.end_code, -ESTALE, "%d: %s", s.end_code, s.end_msg);
	cr_assert(strstr(s.end_msg, "relist") || strstr(s.end_msg, "too old"), "%s", s.end_msg);
	kwatch_free(&w);
}

Test(kwatch_live, server_timeout_ends_the_watch_cleanly)
{
	char *rv = list_rv();
	struct seen s = { 0 };
	struct kwatch *w = start(&s, rv, 1, 0);
	pump(&s, 1000, 10000);
	cr_assert(s.ended);
	cr_assert_eq(s.end_code, 0, "%s", s.end_msg);
	cr_assert_eq(kwatch_mux_running(mux), 0);
	kwatch_free(&w);
	free(rv);
}

Test(kwatch_live, silent_stream_is_declared_dead)
{
	char *rv = list_rv();
	struct seen s = { 0 };
	struct kwatch *w = start(&s, rv, 600, 2);
	pump(&s, 1000, 15000);
	cr_assert(s.ended);
	cr_assert_eq(s.end_code, -ETIMEDOUT, "%d: %s", s.end_code, s.end_msg);
	cr_assert(strstr(s.end_msg, "silent"), "%s", s.end_msg);
	kwatch_free(&w);
	free(rv);
}

Test(kwatch_live, forbidden_watch_ends_with_the_reason)
{
	struct restconfig *op = live_restconfig("operator");
	struct cx_err err = { 0 };
	struct kclient *oc = NULL;
	kclient_new(op, NULL, &oc, &err);
	cr_assert_not_null(oc, "%s", err.msg);
	struct requests r = { 0 };
	kclient_set_request_observer(oc, on_request, &r);
	struct seen s = { 0 };
	/* PriorityClasses: never granted to the operator, whatever RBAC other
	 * tests apply (Secrets are a child kind some of them grant). */
	struct kwatch_options o = { .path = "/apis/scheduling.k8s.io/v1/priorityclasses" };
	struct kwatch *w = NULL;
	kwatch_start(mux, oc, &o, on_event, on_end, &s, &w, &err);
	cr_assert_not_null(w, "%s", err.msg);
	pump(&s, 1000, 10000);
	cr_assert(s.ended);
	cr_assert_eq(s.end_code, -EACCES, "%s", s.end_msg);
	cr_assert(strstr(s.end_msg, "system:serviceaccount:coxswain-system:coxswain"), "%s", s.end_msg);
	kwatch_free(&w);
	/* Counted once, with its status (rest_client_requests_total). */
	cr_assert_eq(r.n, 1, "told %zu times", r.n);
	cr_assert_str_eq(r.log[0], "403 GET");
	kclient_free(&oc);
	restconfig_free(&op);
}

Test(kwatch_live, a_watch_is_counted_once_as_a_get_when_its_answer_comes)
{
	struct requests r = { 0 };
	char *rv = list_rv();
	kclient_set_request_observer(c, on_request, &r);
	struct seen s = { 0 };
	struct kwatch *w = start(&s, rv, 2, 0);
	/* Counted when the headers come, before any event and long before
	 * the watch ends. */
	for (int i = 0; i < 100 && r.n == 0; i++)
		pump(&s, 1, 50);
	cr_assert_eq(r.n, 1, "told %zu times", r.n);
	cr_assert_str_eq(r.log[0], "200 GET");
	cr_assert_not(s.ended);
	pump(&s, 1000, 15000); /* the server ends it (timeoutSeconds 2) */
	cr_assert(s.ended);
	cr_assert_eq(r.n, 1, "counted again when it ended: %s", r.log[r.n - 1]);
	kwatch_free(&w);
	/* One freed before its answer came got none: "<error>". */
	w = start(&s, rv, 0, 0);
	kwatch_free(&w);
	cr_assert_eq(r.n, 2);
	cr_assert_str_eq(r.log[1], "<error> GET");
	kclient_set_request_observer(c, NULL, NULL);
	free(rv);
}

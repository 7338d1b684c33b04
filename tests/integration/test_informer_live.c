/* watcher/informer against the real kube-apiserver (1.34: streaming lists
 * are on): a streaming list fills the store with exactly the objects and
 * counts as synced only at its initial-events-end bookmark, then goes on as
 * the watch; a relist deletes the objects that went away; forcing LIST
 * works; and a server that refuses the stream makes the informer LIST from
 * then on.
 *
 * The refusal is real: the test option test_stream_match sends
 * resourceVersionMatch=Exact, which kube-apiserver rejects with 422 Invalid
 * ("sendInitialEvents requires setting resourceVersionMatch to
 * NotOlderThan"), the same answer an older server, or one with the WatchList
 * feature gate off, gives to a streaming list. */
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
#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "objstore.h"
#include "kclient.h"
#include "kwatch.h"
#include "live.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static struct kwatch_mux *mux;
static char ns[64];
static char cms[256];

static char group[] = "", version[] = "v1", kind[] = "ConfigMap", resource[] = "configmaps";
static struct kresource cm_res = { .group = group,
				   .version = version,
				   .api_version = version,
				   .kind = kind,
				   .resource = resource,
				   .namespaced = true };

static char pt_kind[] = "PodTemplate", pt_resource[] = "podtemplates";
static struct kresource pt_res = { .group = group,
				   .version = version,
				   .api_version = version,
				   .kind = pt_kind,
				   .resource = pt_resource,
				   .namespaced = true };
#define OPERATOR "system:serviceaccount:coxswain-system:coxswain"

/* What the handlers saw. */
struct seen {
	struct informer *inf;
	int adds, updates, deletes;
	int adds_while_synced; /* on_add calls when informer_synced was already true */
	char deleted[8][64];
};

static void on_add(void *ud, struct json_object *obj)
{
	(void)obj;
	struct seen *s = ud;
	s->adds++;
	if (informer_synced(s->inf))
		s->adds_while_synced++;
}

static void on_update(void *ud, struct json_object *a, struct json_object *b)
{
	(void)a;
	(void)b;
	((struct seen *)ud)->updates++;
}

static void on_delete(void *ud, struct json_object *obj)
{
	struct seen *s = ud;
	struct json_object *meta = NULL, *name = NULL;
	json_object_object_get_ex(obj, "metadata", &meta);
	json_object_object_get_ex(meta, "name", &name);
	if (s->deletes < 8)
		snprintf(s->deleted[s->deletes], sizeof(s->deleted[0]), "%s", json_object_get_string(name));
	s->deletes++;
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

static void delete_cm(const char *name)
{
	char path[512];
	struct cx_err err = { 0 };
	snprintf(path, sizeof(path), "%s/%s", cms, name);
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	snprintf(ns, sizeof(ns), "inf-%d", (int)getpid());
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

TestSuite(informer_live, .init = setup, .fini = teardown, .timeout = 90);

static struct informer *start_with(struct seen *s, enum informer_initial_list how, const char *match,
				   long watch_timeout_s)
{
	struct informer_options o = { .resource = &cm_res,
				      .namespace = ns,
				      .handlers = { on_add, on_update, on_delete },
				      .ud = s,
				      .initial_list = how,
				      .test_stream_match = match,
				      .test_watch_timeout_seconds = watch_timeout_s };
	struct cx_err err = { 0 };
	informer_new(c, mux, &o, &s->inf, &err);
	cr_assert_not_null(s->inf, "%s", err.msg);
	return s->inf;
}

static struct informer *start(struct seen *s, enum informer_initial_list how, const char *match)
{
	return start_with(s, how, match, 0);
}

/* What the informers told the process-wide observer, for this test's
 * collection only. */
static int relists_told, restarts_told;

static void observe(void *ud, const char *path, enum informer_restart what)
{
	(void)ud;
	if (strcmp(path, cms))
		return;
	if (what == INFORMER_RELIST)
		relists_told++;
	else
		restarts_told++;
}

/* Runs the informer as the watcher's loop does (tick, poll, dispatch) until
 * done(s) or max_ms have passed; returns done(s). */
static bool pump(struct seen *s, bool (*done)(const struct seen *), int max_ms)
{
	int64_t start_ms = clock_monotonic_ms();
	for (;;) {
		informer_tick(s->inf, clock_monotonic_ms(), NULL);
		if (done(s))
			return true;
		if (clock_monotonic_ms() - start_ms > max_ms)
			return false;
		struct pollfd fds[16];
		long timeout_ms;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &timeout_ms);
		long next = informer_next_ms(s->inf, clock_monotonic_ms());
		if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
			timeout_ms = next;
		if (timeout_ms < 0 || timeout_ms > 100)
			timeout_ms = 100;
		poll(fds, n, (int)timeout_ms);
		cr_assert_eq(kwatch_mux_dispatch(mux, fds, n), 0);
	}
}

static bool synced(const struct seen *s)
{
	return informer_synced(s->inf);
}

/* The store's keys, sorted, joined by spaces. */
static const char *keys(const struct seen *s)
{
	static char buf[1024];
	const char *all[64];
	size_t n = 0;
	size_t it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(informer_objects(s->inf), &it));)
		if (n < 64)
			all[n++] = e->key;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(all[j - 1], all[j]) > 0; j--) {
			const char *t = all[j];
			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const char *slash = strchr(all[i], '/');
		cr_assert_not_null(slash, "key %s has no namespace", all[i]);
		cr_assert_eq(strncmp(all[i], ns, (size_t)(slash - all[i])), 0, "key %s", all[i]);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "", slash + 1);
	}
	return buf;
}

static bool four_adds(const struct seen *s)
{
	return s->adds >= 4;
}

static bool one_delete(const struct seen *s)
{
	return s->deletes >= 1;
}

static bool two_lists(const struct seen *s)
{
	return informer_lists(s->inf) >= 2 && informer_synced(s->inf);
}

Test(informer_live, a_streaming_list_syncs_at_its_bookmark_with_exactly_the_objects)
{
	create_cm("a");
	create_cm("b");
	create_cm("c");
	struct seen s = { 0 };
	struct informer *inf = start(&s, INFORMER_INITIAL_STREAM, NULL);
	struct cx_err err = { 0 };
	cr_assert_eq(informer_tick(inf, clock_monotonic_ms(), &err), 0, "%s", err.msg);
	/* Nothing blocked: the objects come through the mux. */
	cr_assert_not(informer_synced(inf), "synced before the stream's bookmark");
	cr_assert_eq(s.adds, 0);
	cr_assert_eq(informer_streams(inf), 1);
	cr_assert(pump(&s, synced, 30000), "not synced after 30 s: %s", informer_last_error(inf));
	cr_assert_str_eq(keys(&s), "a b c");
	cr_assert_eq(s.adds, 3);
	cr_assert_eq(s.adds_while_synced, 0, "the store counts as synced only after its objects are in");
	cr_assert_eq(s.updates + s.deletes, 0);
	cr_assert_eq(informer_lists(inf), 0, "no LIST");
	cr_assert(informer_streaming(inf));
	cr_assert_str_eq(informer_last_error(inf), "");
	char key[128];
	snprintf(key, sizeof(key), "%s/a", ns);
	struct json_object *a = informer_get_new(inf, key), *meta = NULL, *mf = NULL, *k = NULL;
	cr_assert_not_null(a);
	json_object_object_get_ex(a, "metadata", &meta);
	cr_assert_not(json_object_object_get_ex(meta, "managedFields", &mf), "managedFields are dropped");
	cr_assert(json_object_object_get_ex(a, "kind", &k));
	cr_assert_str_eq(json_object_get_string(k), "ConfigMap");
	json_object_put(a);

	/* The same watch goes on with the changes after the list. */
	create_cm("d");
	cr_assert(pump(&s, four_adds, 20000), "the change after the list never came");
	cr_assert_str_eq(keys(&s), "a b c d");
	cr_assert_eq(informer_streams(inf), 1, "no second stream");
	cr_assert_eq(informer_lists(inf), 0);
	informer_free(&inf);
}

Test(informer_live, a_relist_deletes_the_objects_that_went_away)
{
	create_cm("a");
	create_cm("b");
	create_cm("c");
	struct seen s = { 0 };
	struct informer *inf = start(&s, INFORMER_INITIAL_STREAM, NULL);
	informer_set_observer(observe, NULL);
	cr_assert(pump(&s, synced, 30000), "not synced after 30 s: %s", informer_last_error(inf));
	cr_assert_str_eq(keys(&s), "a b c");
	cr_assert_eq(relists_told, 0);
	/* The watch is dropped: what happens now is seen only by the relist. */
	informer_relist(inf);
	cr_assert_eq(relists_told, 1, "the relist was not told (coxswain_relists_total)");
	delete_cm("b");
	create_cm("d");
	cr_assert(pump(&s, one_delete, 30000), "b was never deleted: %s", informer_last_error(inf));
	cr_assert_str_eq(keys(&s), "a c d");
	cr_assert_str_eq(s.deleted[0], "b");
	cr_assert_eq(s.deletes, 1);
	cr_assert_eq(s.adds, 4, "a, b, c, then d");
	cr_assert_eq(s.updates, 0, "a and c did not change");
	cr_assert_eq(informer_streams(inf), 2, "the relist streamed too");
	cr_assert_eq(informer_lists(inf), 0);
	cr_assert(informer_synced(inf));
	informer_free(&inf);
}

static bool two_adds(const struct seen *s)
{
	return s->adds >= 2;
}

static bool a_restart_told(const struct seen *s)
{
	(void)s;
	return restarts_told >= 1;
}

/* A watch the server ends (its timeoutSeconds, here 1 s) is opened again
 * from where it was, told to the observer (coxswain_watch_restarts_total),
 * and what changes after it still arrives. */
Test(informer_live, a_watch_the_server_ends_is_opened_again_and_told)
{
	create_cm("a");
	struct seen s = { 0 };
	struct informer *inf = start_with(&s, INFORMER_INITIAL_LIST, NULL, 1);
	informer_set_observer(observe, NULL);
	cr_assert(pump(&s, synced, 30000), "not synced after 30 s: %s", informer_last_error(inf));
	cr_assert(pump(&s, a_restart_told, 30000), "no watch restart told in 30 s: %s", informer_last_error(inf));
	cr_assert_eq(relists_told, 0, "a clean end is no relist");
	create_cm("b");
	cr_assert(pump(&s, two_adds, 30000), "b never came after the restart: %s", informer_last_error(inf));
	cr_assert_str_eq(keys(&s), "a b");
	cr_assert_eq(informer_lists(inf), 1, "one LIST: the watch went on from its resourceVersion");
	informer_set_observer(NULL, NULL);
	informer_free(&inf);
}

/* ConfigMap i's data: a value of its own, a shared boilerplate the
 * dictionary learns, and now and then long or non-ASCII text. */
static void many_body(int i, const char *tag, char *buf, size_t len)
{
	snprintf(buf, len,
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"m%03d\",\"labels\":{\"app\":"
		 "\"many\",\"shard\":\"%d\"}},\"data\":{\"value\":\"%s-%d\",\"config.yaml\":\"replicas: %d\\nimage: "
		 "registry.example/app:%d\\n\",\"note\":\"%s\"}}",
		 i, i % 7, tag, i * 7919, i % 5, i,
		 i % 13 == 0 ? "caf\u00e9 \u00fcber \u65e5\u672c"
			     : (i % 11 ? "" : "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

/* The object as both sides should hold it: no managedFields, no kind or
 * apiVersion (LIST items lack them). */
static void strip(struct json_object *o)
{
	struct json_object *meta = NULL;
	json_object_object_del(o, "kind");
	json_object_object_del(o, "apiVersion");
	if (json_object_object_get_ex(o, "metadata", &meta))
		json_object_object_del(meta, "managedFields");
}

struct compare_ctx {
	struct informer *inf;
	int compared, differed;
	char first_diff[256];
};

static int compare_item(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)err;
	struct compare_ctx *cc = ud;
	struct json_object *meta = NULL, *name = NULL;
	json_object_object_get_ex(item, "metadata", &meta);
	json_object_object_get_ex(meta, "name", &name);
	char key[192];
	snprintf(key, sizeof(key), "%s/%s", ns, json_object_get_string(name));
	struct json_object *mine = informer_get_new(cc->inf, key), *theirs = json_object_get(item);
	cc->compared++;
	if (mine)
		strip(mine);
	strip(theirs);
	if (!mine || !json_object_equal(mine, theirs)) {
		if (!cc->differed++)
			snprintf(cc->first_diff, sizeof(cc->first_diff), "%s%s", key, mine ? "" : " (not cached)");
	}
	json_object_put(mine);
	json_object_put(theirs);
	return 0;
}

/* Every object the server lists is cached exactly (managedFields aside),
 * and the cache holds no other. */
static void assert_cache_is_the_server(struct informer *inf, int want)
{
	struct compare_ctx cc = { .inf = inf };
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_list(c, cms, NULL, compare_item, &cc, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(cc.compared, want);
	cr_assert_eq(cc.differed, 0, "%d of %d cached objects differ from the server's, the first %s", cc.differed,
		     cc.compared, cc.first_diff);
	cr_assert_eq(objstore_count(informer_objects(inf)), (size_t)want);
}

static bool all_updated(const struct seen *s)
{
	return s->updates >= 100 && s->deletes >= 50;
}

/* Past OBJSTORE_TRAIN_AT objects the store keeps them compressed with a
 * dictionary it learnt: what a LIST filled, and what watch events changed
 * and deleted after that, reads back as the server has it. */
Test(informer_live, a_compressed_store_reads_back_what_the_server_has)
{
	enum { MANY = 400 };
	char body[1024];
	size_t json_bytes = 0;
	for (int i = 0; i < MANY; i++) {
		many_body(i, "first", body, sizeof(body));
		json_bytes += strlen(body);
		json_call(kclient_create, cms, body);
	}
	struct seen s = { 0 };
	struct informer *inf = start(&s, INFORMER_INITIAL_LIST, NULL);
	cr_assert(pump(&s, synced, 60000), "not synced after 60 s: %s", informer_last_error(inf));
	cr_assert_eq(s.adds, MANY);
	size_t stored = objstore_stored_bytes(informer_objects(inf));
	cr_assert_lt(stored, json_bytes / 2, "the store is not compressed: %zu bytes for %zu bytes of JSON", stored,
		     json_bytes);
	assert_cache_is_the_server(inf, MANY);

	/* Changes through the watch: 100 updated, 50 deleted. */
	for (int i = 0; i < 100; i++) {
		many_body(i, "second", body, sizeof(body));
		char path[512];
		snprintf(path, sizeof(path), "%s/m%03d", cms, i);
		json_call(kclient_update, path, body);
	}
	for (int i = MANY - 50; i < MANY; i++) {
		char name[16];
		snprintf(name, sizeof(name), "m%03d", i);
		delete_cm(name);
	}
	cr_assert(pump(&s, all_updated, 60000), "%d updates and %d deletes seen: %s", s.updates, s.deletes,
		  informer_last_error(inf));
	assert_cache_is_the_server(inf, MANY - 50);
	informer_free(&inf);
}

Test(informer_live, forcing_list_lists)
{
	create_cm("a");
	create_cm("b");
	struct seen s = { 0 };
	struct informer *inf = start(&s, INFORMER_INITIAL_LIST, NULL);
	struct cx_err err = { 0 };
	cr_assert_eq(informer_tick(inf, clock_monotonic_ms(), &err), 0, "%s", err.msg);
	cr_assert(informer_synced(inf), "a LIST fills the store inside informer_tick");
	cr_assert_str_eq(keys(&s), "a b");
	cr_assert_eq(informer_lists(inf), 1);
	cr_assert_eq(informer_streams(inf), 0);
	cr_assert_not(informer_streaming(inf));
	/* A relist LISTs too, and deletes what went away. */
	informer_relist(inf);
	delete_cm("a");
	cr_assert(pump(&s, two_lists, 20000));
	cr_assert_str_eq(keys(&s), "b");
	cr_assert_eq(s.deletes, 1);
	cr_assert_eq(informer_streams(inf), 0);
	informer_free(&inf);
}

Test(informer_live, a_refused_stream_falls_back_to_list_for_good)
{
	create_cm("a");
	create_cm("b");
	struct seen s = { 0 };
	struct informer *inf = start(&s, INFORMER_INITIAL_STREAM, "Exact");
	struct cx_err err = { 0 };
	cr_assert_eq(informer_tick(inf, clock_monotonic_ms(), &err), 0, "%s", err.msg);
	cr_assert_not(informer_synced(inf));
	cr_assert(pump(&s, synced, 30000), "not synced after 30 s: %s", informer_last_error(inf));
	cr_assert_str_eq(keys(&s), "a b");
	cr_assert_eq(informer_streams(inf), 1);
	cr_assert_eq(informer_lists(inf), 1, "the refusal made it LIST");
	cr_assert_not(informer_streaming(inf), "and remembers it");
	cr_assert_str_eq(informer_last_error(inf), "", "a refusal is no failure");
	informer_relist(inf);
	delete_cm("b");
	cr_assert(pump(&s, two_lists, 20000));
	cr_assert_str_eq(keys(&s), "a");
	cr_assert_eq(informer_streams(inf), 1, "no stream tried again");
	informer_free(&inf);
}

/* A transient failure is no refusal: the stream is tried again. An
 * identity that may neither list nor watch gets 403 on the stream, which
 * is a refusal (LIST might be allowed); its LIST then fails with 403 too,
 * and informer_tick reports it. */
Test(informer_live, a_forbidden_stream_falls_back_and_reports_the_list_error)
{
	/* PodTemplates: a kind no test grants the operator identity (other
	 * tests grant it ConfigMaps and Secrets for a while). */
	cr_assert_neq(live_kubectl(NULL, "auth can-i list podtemplates -n %s --as=%s", ns, OPERATOR), 0,
		      "the operator identity may list PodTemplates: this test needs it not to");
	cr_assert_neq(live_kubectl(NULL, "auth can-i watch podtemplates -n %s --as=%s", ns, OPERATOR), 0);
	struct restconfig *op = live_restconfig("operator");
	struct cx_err err = { 0 };
	struct kclient *opc = NULL;
	kclient_new(op, NULL, &opc, &err);
	cr_assert_not_null(opc, "%s", err.msg);
	struct seen s = { 0 };
	struct informer_options o = { .resource = &pt_res,
				      .namespace = ns,
				      .handlers = { on_add, on_update, on_delete },
				      .ud = &s,
				      .initial_list = INFORMER_INITIAL_STREAM };
	informer_new(opc, mux, &o, &s.inf, &err);
	cr_assert_not_null(s.inf);
	int64_t until = clock_monotonic_ms() + 20000;
	int r = 0;
	while (!r && clock_monotonic_ms() < until) {
		r = informer_tick(s.inf, clock_monotonic_ms(), &err);
		struct pollfd fds[16];
		long t;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &t);
		poll(fds, n, 50);
		kwatch_mux_dispatch(mux, fds, n);
	}
	cr_assert_eq(r, -EACCES, "%d %s", r, err.msg);
	cr_assert_not(informer_synced(s.inf));
	cr_assert_eq(informer_streams(s.inf), 1);
	cr_assert_geq(informer_lists(s.inf), 1, "the 403 on the stream made it LIST");
	cr_assert_not(informer_streaming(s.inf));
	cr_assert_eq(informer_last_error_code(s.inf), -EACCES);
	informer_free(&s.inf);
	kclient_free(&opc);
	restconfig_free(&op);
}

/* No server at all is a transient failure, not a refusal: the informer
 * keeps streaming, retries with backoff, and informer_tick reports it. */
Test(informer_live, no_server_is_no_refusal_the_stream_is_tried_again)
{
	struct restconfig *gone = live_restconfig("admin");
	free(gone->server);
	gone->server = strdup("https://127.0.0.1:1");
	struct cx_err err = { 0 };
	struct kclient *gc = NULL;
	kclient_new(gone, NULL, &gc, &err);
	cr_assert_not_null(gc, "%s", err.msg);
	struct seen s = { 0 };
	struct informer_options o = {
		.resource = &cm_res, .namespace = ns, .ud = &s, .initial_list = INFORMER_INITIAL_STREAM
	};
	informer_new(gc, mux, &o, &s.inf, &err);
	cr_assert_not_null(s.inf);
	int64_t until = clock_monotonic_ms() + 20000;
	int first_error = 0;
	while (informer_streams(s.inf) < 2 && clock_monotonic_ms() < until) {
		int r = informer_tick(s.inf, clock_monotonic_ms(), &err);
		if (r && !first_error)
			first_error = r;
		struct pollfd fds[16];
		long t;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &t);
		poll(fds, n, 50);
		kwatch_mux_dispatch(mux, fds, n);
	}
	cr_assert_eq(first_error, -ECONNREFUSED, "%d %s", first_error, err.msg);
	cr_assert_eq(informer_streams(s.inf), 2, "the stream was tried again");
	cr_assert_eq(informer_lists(s.inf), 0, "no LIST: the server did not refuse anything");
	cr_assert(informer_streaming(s.inf));
	cr_assert_not(informer_synced(s.inf));
	cr_assert_geq(informer_failing_since(s.inf), 0);
	informer_free(&s.inf);
	kclient_free(&gc);
	restconfig_free(&gone);
}

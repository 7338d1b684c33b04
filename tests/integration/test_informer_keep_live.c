/* watcher/informer against the real kube-apiserver: what it keeps of
 * managedFields. With keep_managers, the entries of those managers and no
 * other, for what the initial list brought (a streaming list, or a LIST)
 * and for what the WATCH brings; without, none. */
#include "config.h"

#include <criterion/criterion.h>
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
#include "jsonget.h"
#include "kclient.h"
#include "kwatch.h"
#include "live.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static struct kwatch_mux *mux;
static char ns[64];
static char cms[256];
static char *resource_strings[5];
static struct kresource configmaps;

static void apply_as(const char *manager, const char *name, const char *data)
{
	char body[512], path[512];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},\"data\":%s}", name,
		 data);
	snprintf(path, sizeof(path), "%s/%s", cms, name);
	struct json_object *o = json_tokener_parse(body);
	cr_assert_not_null(o, "%s", body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_apply(c, path, o, manager, true, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	kwatch_mux_new(&mux, &err);
	cr_assert_not_null(mux, "%s", err.msg);
	snprintf(ns, sizeof(ns), "infkeep-%d", (int)getpid());
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json_tokener_parse(body);
	cr_assert_eq(kclient_create(c, "/api/v1/namespaces", o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
	const char *s[5] = { "", "v1", "v1", "ConfigMap", "configmaps" };
	for (int i = 0; i < 5; i++)
		resource_strings[i] = strdup(s[i]);
	configmaps = (struct kresource){ .group = resource_strings[0],
					 .version = resource_strings[1],
					 .api_version = resource_strings[2],
					 .kind = resource_strings[3],
					 .resource = resource_strings[4],
					 .namespaced = true };
}

static void teardown(void)
{
	char path[256];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
	kclient_delete(c, path, NULL, NULL, NULL);
	for (int i = 0; i < 5; i++)
		free(resource_strings[i]);
	kwatch_mux_free(&mux);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(informer_keep_live, .init = setup, .fini = teardown, .timeout = 60);

/* Ticks both informers and runs the poll loop until done(ud) or 30 s. */
static void pump(struct informer *a, struct informer *b, bool (*done)(void), const char *what)
{
	int64_t start = clock_monotonic_ms();
	while (!done()) {
		cr_assert_lt(clock_monotonic_ms() - start, 30000, "%s: not within 30 s", what);
		struct cx_err err = { 0 };
		cr_assert_eq(informer_tick(a, clock_monotonic_ms(), &err), 0, "%s", err.msg);
		cr_assert_eq(informer_tick(b, clock_monotonic_ms(), &err), 0, "%s", err.msg);
		struct pollfd fds[16];
		long timeout_ms;
		size_t n = kwatch_mux_pollfds(mux, fds, 16, &timeout_ms);
		if (timeout_ms < 0 || timeout_ms > 100)
			timeout_ms = 100;
		poll(fds, n, (int)timeout_ms);
		cr_assert_eq(kwatch_mux_dispatch(mux, fds, n), 0);
	}
}

static struct informer *keeping, *dropping;

/* "manager,manager" of the cached object's managedFields; "" for none. */
static const char *managers(struct informer *inf, const char *name, char *buf, size_t len)
{
	char key[256];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	struct json_object *obj = informer_get_new(inf, key);
	struct json_object *mf = jsonget(jsonget(obj, "metadata"), "managedFields");
	buf[0] = '\0';
	for (size_t i = 0; mf && i < json_object_array_length(mf); i++) {
		size_t at = strlen(buf);
		snprintf(buf + at, len - at, "%s%s", at ? "," : "",
			 jsonget_string(json_object_array_get_idx(mf, i), "manager") ?: "?");
	}
	json_object_put(obj);
	return buf;
}

static bool both_synced(void)
{
	return informer_synced(keeping) && informer_synced(dropping);
}

/* Whether both informers hold name with data.y (its second apply). */
static bool both_have_y(const char *name)
{
	char key[256];
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	struct json_object *k = informer_get_new(keeping, key), *d = informer_get_new(dropping, key);
	bool both = jsonget(jsonget(k, "data"), "y") && jsonget(jsonget(d, "data"), "y");
	json_object_put(k);
	json_object_put(d);
	return both;
}

static bool b_applied_twice(void)
{
	return both_have_y("b");
}

static bool c_seen(void)
{
	return both_have_y("c");
}

static void keeps_only_those_entries(enum informer_initial_list how)
{
	apply_as("coxswain/one", "a", "{\"x\":\"1\"}");
	apply_as("someone-else", "a", "{\"y\":\"2\"}");
	static const char *const keep[] = { "coxswain/one", NULL };
	struct cx_err err = { 0 };
	struct informer_options o = {
		.resource = &configmaps, .namespace = ns, .keep_managers = keep, .initial_list = how
	};
	informer_new(c, mux, &o, &keeping, &err);
	cr_assert_not_null(keeping, "%s", err.msg);
	o.keep_managers = NULL;
	informer_new(c, mux, &o, &dropping, &err);
	cr_assert_not_null(dropping, "%s", err.msg);

	pump(keeping, dropping, both_synced, "synced");
	char buf[256];
	cr_assert_str_eq(managers(keeping, "a", buf, sizeof(buf)), "coxswain/one", "from the initial list");
	cr_assert_str_eq(managers(dropping, "a", buf, sizeof(buf)), "", "from the initial list");

	/* From the WATCH: a new object, with both managers again. */
	apply_as("coxswain/one", "b", "{\"x\":\"1\"}");
	apply_as("someone-else", "b", "{\"y\":\"2\"}");
	pump(keeping, dropping, b_applied_twice, "both applies of b");
	cr_assert_str_eq(managers(keeping, "b", buf, sizeof(buf)), "coxswain/one", "from the WATCH");
	cr_assert_str_eq(managers(dropping, "b", buf, sizeof(buf)), "", "from the WATCH");

	/* An object no kept manager touched has no managedFields at all. */
	apply_as("someone-else", "c", "{\"y\":\"2\"}");
	pump(keeping, dropping, c_seen, "c");
	cr_assert_str_eq(managers(keeping, "c", buf, sizeof(buf)), "");
	informer_free(&keeping);
	informer_free(&dropping);
}

Test(informer_keep_live, a_streaming_list_keeps_only_those_entries)
{
	keeps_only_those_entries(INFORMER_INITIAL_STREAM);
}

Test(informer_keep_live, a_list_keeps_only_those_entries)
{
	keeps_only_those_entries(INFORMER_INITIAL_LIST);
}

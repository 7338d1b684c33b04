/* Unit tests for watcher/relwatch without an API server: the rules a
 * worker reports are kept per parent, an object event requeues exactly the
 * parents whose rules select it (namespace rules included), bad rules are
 * refused by key and field, and dropped or emptied rules requeue nothing. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "controller.h"
#include "err.h"
#include "relwatch.h"
#include "workqueue.h"

static struct workqueue *q;
static struct relwatch *rw;
static struct controller_env env;

static void setup(void)
{
	struct cx_err err = { 0 };
	workqueue_new("test", NULL, &q, &err);
	cr_assert_not_null(q, "%s", err.msg);
	env = (struct controller_env){ .queue = q };
	rw = relwatch_new(&env);
	cr_assert_not_null(rw);
}

static void teardown(void)
{
	relwatch_free(&rw);
	workqueue_free(&q);
}

TestSuite(relwatch, .init = setup, .fini = teardown);

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "test JSON: %s", text);
	return o;
}

static void set_ok(const char *key, const char *rules)
{
	struct json_object *r = json(rules);
	struct cx_err err = { 0 };
	cr_assert_eq(relwatch_set(rw, key, r, &err), 0, "%s", err.msg);
	json_object_put(r);
}

/* The keys queued now, in order, joined by spaces; the queue is emptied. */
static const char *drain(void)
{
	static char out[1024];
	out[0] = '\0';
	const char *key;
	while (workqueue_get(q, 0, &key) == 0) {
		size_t len = strlen(out);
		snprintf(out + len, sizeof(out) - len, "%s%s", len ? " " : "", key);
		workqueue_done(q, key, 0);
	}
	return out;
}

static size_t event(const char *api_version, const char *resource, const char *object)
{
	struct json_object *o = json(object);
	size_t n = relwatch_requeue_for(rw, api_version, resource, o, 0);
	json_object_put(o);
	return n;
}

#define NS_RULE                                                                                                        \
	"[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\",\"labelSelector\":{\"matchLabels\":{\"p\":\"yes\"}}},"    \
	"{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"namespace\":\"global\",\"names\":[\"settings\"]}]"

Test(relwatch, an_object_requeues_the_parents_whose_rules_select_it)
{
	set_ok("propagate/g1", NS_RULE);
	set_ok("propagate/g2", "[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\"}]");
	set_ok("other/team-a/x", "[{\"apiVersion\":\"v1\",\"resource\":\"configmaps\",\"labelSelector\":{}}]");
	cr_assert_eq(relwatch_parents(rw), 3);
	cr_assert_eq(relwatch_informers(rw), 0, "informers start at the next tick, not here");

	cr_assert_eq(event("v1", "namespaces", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"p\":\"yes\"}}}"), 2);
	cr_assert_str_eq(drain(), "propagate/g1 propagate/g2");
	cr_assert_eq(event("v1", "namespaces", "{\"metadata\":{\"name\":\"n\"}}"), 1);
	cr_assert_str_eq(drain(), "propagate/g2");
	cr_assert_eq(event("v1", "configmaps", "{\"metadata\":{\"name\":\"settings\",\"namespace\":\"global\"}}"), 1);
	cr_assert_str_eq(drain(), "propagate/g1", "a namespaced parent sees only its own namespace");
	cr_assert_eq(event("v1", "configmaps", "{\"metadata\":{\"name\":\"any\",\"namespace\":\"team-a\"}}"), 1);
	cr_assert_str_eq(drain(), "other/team-a/x");
	cr_assert_eq(event("apps/v1", "configmaps", "{\"metadata\":{\"name\":\"any\",\"namespace\":\"team-a\"}}"), 0,
		     "another apiVersion is another resource");
	cr_assert_str_eq(drain(), "");
}

Test(relwatch, rules_replaced_emptied_and_dropped)
{
	set_ok("propagate/g1", NS_RULE);
	set_ok("propagate/g1", "[{\"apiVersion\":\"v1\",\"resource\":\"secrets\"}]");
	cr_assert_eq(relwatch_parents(rw), 1);
	cr_assert_eq(event("v1", "namespaces", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"p\":\"yes\"}}}"), 0);
	cr_assert_eq(event("v1", "secrets", "{\"metadata\":{\"name\":\"s\",\"namespace\":\"x\"}}"), 1);
	drain();
	set_ok("propagate/g1", "[]");
	cr_assert_eq(relwatch_parents(rw), 0, "[] drops the rules");
	cr_assert_eq(event("v1", "secrets", "{\"metadata\":{\"name\":\"s\",\"namespace\":\"x\"}}"), 0);
	set_ok("propagate/g1", NS_RULE);
	relwatch_drop(rw, "propagate/g1");
	relwatch_drop(rw, "propagate/never");
	cr_assert_eq(relwatch_parents(rw), 0);
	cr_assert_eq(event("v1", "namespaces", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"p\":\"yes\"}}}"), 0);
	cr_assert_str_eq(drain(), "");
}

Test(relwatch, bad_rules_are_refused_and_the_old_ones_stay)
{
	set_ok("propagate/g1", NS_RULE);
	struct json_object *bad = json("[{\"apiVersion\":\"v1\",\"resource\":\"namespaces\"},{\"apiVersion\":\"v1\"}]");
	struct cx_err err = { 0 };
	cr_assert_eq(relwatch_set(rw, "propagate/g1", bad, &err), -EPROTO);
	cr_assert_str_eq(err.msg, "related rules of propagate/g1: relatedResources[1].resource: missing");
	json_object_put(bad);
	cr_assert_eq(event("v1", "configmaps", "{\"metadata\":{\"name\":\"settings\",\"namespace\":\"global\"}}"), 1);
	cr_assert_str_eq(drain(), "propagate/g1");
}

/* Every kclient verb against the real kube-apiserver: create, get, update
 * with optimistic concurrency, merge and JSON patches, server-side apply and
 * its conflicts, the status subresource, delete with preconditions, paginated
 * and filtered lists, and the API's own validation errors. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "kclient.h"
#include "live.h"
#include "log.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static char ns[64]; /* the test's own namespace, made by use_namespace */

#define PATH_LEN 512

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	/* Generous limits: the pagination test creates 1,000 objects. */
	struct kclient_options o = { .qps = 2000, .burst = 2000 };
	kclient_new(rc, &o, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
}

static void teardown(void)
{
	if (ns[0]) {
		char path[PATH_LEN];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(c, path, NULL, NULL, NULL);
	}
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(kclient_verbs, .init = setup, .fini = teardown, .timeout = 120);

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static const char *at(struct json_object *o, const char *dotted)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dotted);
	struct json_object *cur = o;
	for (char *save = NULL, *k = strtok_r(path, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(cur, k, &cur))
			return NULL;
	return json_object_get_string(cur);
}

/* A namespace of the test's own (tests run in parallel, and again on a warm
 * fixture), deleted with everything in it when the test ends. */
static void use_namespace(const char *base)
{
	snprintf(ns, sizeof(ns), "%s-%d", base, (int)getpid());
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json(body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, "/api/v1/namespaces", o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

/* buf = /api/v1/namespaces/<ns>/<rest> */
static const char *in_ns(char buf[static PATH_LEN], const char *rest)
{
	snprintf(buf, PATH_LEN, "/api/v1/namespaces/%s/%s", ns, rest);
	return buf;
}

static struct json_object *create_ok(const char *path, const char *body)
{
	struct json_object *o = json(body), *out = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, path, o, &out, &err), 0, "%s", err.msg);
	json_object_put(o);
	return out;
}

Test(kclient_verbs, create_get_update_with_conflicts)
{
	use_namespace("kv-crud");
	char cms[PATH_LEN], cm[PATH_LEN];
	in_ns(cms, "configmaps");
	in_ns(cm, "configmaps/cm");
	struct json_object *made = create_ok(cms,
					     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
					     "\"metadata\":{\"name\":\"cm\"},\"data\":{\"a\":\"1\"}}");
	cr_assert_str_eq(at(made, "data.a"), "1");

	struct json_object *again = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, cms, again, NULL, &err), -EEXIST, "%s", err.msg);
	cr_assert_str_eq(err.reason, "AlreadyExists");
	json_object_put(again);

	/* An update from a stale copy is a conflict the caller can retry. */
	struct json_object *fresh = NULL;
	cr_assert_eq(kclient_get(c, cm, &fresh, &err), 0, "%s", err.msg);
	struct json_object *data = NULL;
	json_object_object_get_ex(fresh, "data", &data);
	json_object_object_add(data, "a", json_object_new_string("2"));
	struct json_object *updated = NULL;
	cr_assert_eq(kclient_update(c, cm, fresh, &updated, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(updated, "data.a"), "2");
	cr_assert_str_neq(at(updated, "metadata.resourceVersion"), at(made, "metadata.resourceVersion"));

	json_object_object_add(data, "a", json_object_new_string("3")); /* fresh still has the old version */
	cr_assert_eq(kclient_update(c, cm, fresh, NULL, &err), -EAGAIN, "%s", err.msg);
	cr_assert_str_eq(err.reason, "Conflict");
	cr_assert_eq(err.http_status, 409);
	cr_assert(strstr(err.msg, "the object has been modified"), "%s", err.msg);
	json_object_put(fresh);
	json_object_put(updated);
	json_object_put(made);
}

Test(kclient_verbs, merge_and_json_patch)
{
	use_namespace("kv-patch");
	char cms[PATH_LEN];
	json_object_put(create_ok(in_ns(cms, "configmaps"),
				  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"p\"},"
				  "\"data\":{\"keep\":\"k\",\"drop\":\"d\"}}"));
	char p[PATH_LEN];
	in_ns(p, "configmaps/p");
	struct json_object *merge = json("{\"data\":{\"drop\":null,\"added\":\"x\"}}"), *out = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, p, KCLIENT_PATCH_MERGE, merge, &out, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(out, "data.added"), "x");
	cr_assert_str_eq(at(out, "data.keep"), "k");
	cr_assert_null(at(out, "data.drop"));
	json_object_put(out);
	json_object_put(merge);

	struct json_object *ops = json("[{\"op\":\"replace\",\"path\":\"/data/keep\",\"value\":\"K\"}]");
	cr_assert_eq(kclient_patch(c, p, KCLIENT_PATCH_JSON, ops, &out, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(out, "data.keep"), "K");
	json_object_put(out);
	json_object_put(ops);

	struct json_object *bad = json("[{\"op\":\"test\",\"path\":\"/data/keep\",\"value\":\"nope\"}]");
	cr_assert_eq(kclient_patch(c, p, KCLIENT_PATCH_JSON, bad, NULL, &err), -EINVAL, "%s", err.msg);
	json_object_put(bad);
}

#define APPLY_BODY(value)                                                                                              \
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"applied\"},\"data\":{\"k\":\"" value   \
	"\"}}"

Test(kclient_verbs, server_side_apply_is_idempotent_and_conflicts_unless_forced)
{
	use_namespace("kv-apply");
	char applied[PATH_LEN];
	in_ns(applied, "configmaps/applied");
	struct json_object *intent = json(APPLY_BODY("one")), *first = NULL, *second = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_apply(c, applied, intent, "coxswain/test", false, &first, &err), 0, "%s", err.msg);
	cr_assert_eq(kclient_apply(c, applied, intent, "coxswain/test", false, &second, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(first, "metadata.resourceVersion"), at(second, "metadata.resourceVersion"),
			 "the same intent applied twice changes nothing");
	json_object_put(first);
	json_object_put(second);
	json_object_put(intent);

	struct json_object *other = json(APPLY_BODY("two")), *out = NULL;
	cr_assert_eq(kclient_apply(c, applied, other, "someone-else", false, NULL, &err), -EAGAIN, "%s", err.msg);
	cr_assert_str_eq(err.reason, "Conflict");
	cr_assert(strstr(err.msg, "conflict with \"coxswain/test\""), "%s", err.msg);
	cr_assert(strstr(err.msg, ".data.k"), "names the field: %s", err.msg);

	cr_assert_eq(kclient_apply(c, applied, other, "someone-else", true, &out, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(out, "data.k"), "two");
	json_object_put(out);
	json_object_put(other);
}

#define WIDGET_CRD                                                                                                     \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: widgets.verbs.coxswain.io}\n"                                                                \
	"spec:\n"                                                                                                      \
	"  group: verbs.coxswain.io\n"                                                                                 \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: widgets, singular: widget, kind: Widget}\n"                                                 \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec:\n"                                                                                            \
	"            type: object\n"                                                                                   \
	"            properties: {replicas: {type: integer, minimum: 0}}\n"                                            \
	"          status:\n"                                                                                          \
	"            type: object\n"                                                                                   \
	"            x-kubernetes-preserve-unknown-fields: true\n"

static void widget_crd(void)
{
	cr_assert_eq(live_kubectl(WIDGET_CRD, "apply -f -"), 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/widgets.verbs.coxswain.io"),
		     0);
	use_namespace("kv-status");
}

Test(kclient_verbs, status_subresource_and_schema_errors)
{
	widget_crd();
	char widgets[PATH_LEN], w_path[PATH_LEN + 8], w_status[PATH_LEN + 16];
	snprintf(widgets, sizeof(widgets), "/apis/verbs.coxswain.io/v1/namespaces/%s/widgets", ns);
	snprintf(w_path, sizeof(w_path), "%s/w", widgets);
	snprintf(w_status, sizeof(w_status), "%s/w/status", widgets);
	struct json_object *w = NULL;
	struct cx_err err = { 0 };
	/* The CRD may be Established a moment before its endpoint serves. */
	for (int i = 0; i < 50; i++) {
		struct json_object *o = json("{\"apiVersion\":\"verbs.coxswain.io/v1\",\"kind\":\"Widget\","
					     "\"metadata\":{\"name\":\"w\"},\"spec\":{\"replicas\":1}}");
		int r = kclient_create(c, widgets, o, &w, &err);
		json_object_put(o);
		if (r != -ENOENT) {
			cr_assert(r == 0 || r == -EEXIST, "%s", err.msg);
			break;
		}
		usleep(100 * 1000);
	}
	json_object_put(w);

	struct json_object *st = json("{\"status\":{\"phase\":\"Ready\"},\"spec\":{\"replicas\":5}}"), *out = NULL;
	cr_assert_eq(kclient_patch(c, w_status, KCLIENT_PATCH_MERGE, st, &out, &err), 0, "%s", err.msg);
	cr_assert_str_eq(at(out, "status.phase"), "Ready");
	cr_assert_str_eq(at(out, "spec.replicas"), "1", "the status subresource ignores spec");
	json_object_put(out);
	json_object_put(st);

	struct json_object *bad = json("{\"spec\":{\"replicas\":-1}}");
	cr_assert_eq(kclient_patch(c, w_path, KCLIENT_PATCH_MERGE, bad, NULL, &err), -EINVAL, "%s", err.msg);
	cr_assert_str_eq(err.reason, "Invalid");
	cr_assert(strstr(err.msg, "spec.replicas"), "%s", err.msg);
	cr_assert(strstr(err.msg, "-1"), "%s", err.msg);
	json_object_put(bad);
}

Test(kclient_verbs, delete_with_preconditions)
{
	use_namespace("kv-delete");
	char cms[PATH_LEN];
	struct json_object *made = create_ok(
		in_ns(cms, "configmaps"),
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"d\"}}");
	struct kclient_delete_opts wrong = { .precondition_uid = "00000000-0000-0000-0000-000000000000" };
	struct cx_err err = { 0 };
	char d[PATH_LEN];
	in_ns(d, "configmaps/d");
	cr_assert_eq(kclient_delete(c, d, &wrong, NULL, &err), -EAGAIN, "%s", err.msg);
	cr_assert(strstr(err.msg, "recondition"), "%s", err.msg);

	struct kclient_delete_opts right = { .precondition_uid = at(made, "metadata.uid"),
					     .propagation_policy = "Background" };
	cr_assert_eq(kclient_delete(c, d, &right, NULL, &err), 0, "%s", err.msg);
	struct json_object *gone = NULL;
	cr_assert_eq(kclient_get(c, d, &gone, &err), -ENOENT);
	cr_assert_eq(kclient_delete(c, d, NULL, NULL, &err), -ENOENT);
	json_object_put(made);
}

Test(kclient_verbs, invalid_name_is_reported_with_the_field)
{
	use_namespace("kv-invalid");
	char cms[PATH_LEN];
	struct json_object *o = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"Bad_Name\"}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, in_ns(cms, "configmaps"), o, NULL, &err), -EINVAL);
	cr_assert_eq(err.http_status, 422);
	cr_assert(strstr(err.msg, "metadata.name"), "%s", err.msg);
	cr_assert(strstr(err.msg, "Bad_Name"), "%s", err.msg);
	json_object_put(o);
}

struct counter {
	int items;
	int labelled;
};

static int count_item(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)err;
	struct counter *n = ud;
	n->items++;
	if (at(item, "metadata.labels.half"))
		n->labelled++;
	return 0;
}

Test(kclient_verbs, paginated_list_over_a_thousand_objects)
{
	use_namespace("kv-list");
	char cms[PATH_LEN];
	in_ns(cms, "configmaps");
	struct cx_err err = { 0 };
	for (int i = 0; i < 1000; i++) {
		char body[256];
		snprintf(body, sizeof(body),
			 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%04d\"%s}}", i,
			 i % 2 ? "" : ",\"labels\":{\"half\":\"yes\"}");
		struct json_object *o = json(body);
		cr_assert_eq(kclient_create(c, cms, o, NULL, &err), 0, "%s", err.msg);
		json_object_put(o);
	}
	struct counter n = { 0 };
	char *rv = NULL;
	struct kclient_list_opts o = { .limit = 100 };
	cr_assert_eq(kclient_list(c, cms, &o, count_item, &n, &rv, &err), 0, "%s", err.msg);
	cr_assert_eq(n.items, 1000);
	cr_assert_not_null(rv);
	cr_assert_gt(strtoull(rv, NULL, 10), 0);
	free(rv);

	struct counter half = { 0 };
	struct kclient_list_opts sel = { .label_selector = "half=yes", .limit = 77 };
	cr_assert_eq(kclient_list(c, cms, &sel, count_item, &half, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(half.items, 500);
	cr_assert_eq(half.labelled, 500);
}

static int stop_at_three(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)item;
	int *seen = ud;
	return ++*seen == 3 ? cx_err_set(err, -ECANCELED, "enough") : 0;
}

Test(kclient_verbs, list_callback_can_stop_it)
{
	int seen = 0;
	struct cx_err err = { 0 };
	struct kclient_list_opts o = { .limit = 2 };
	cr_assert_eq(kclient_list(c, "/api/v1/namespaces", &o, stop_at_three, &seen, NULL, &err), -ECANCELED);
	cr_assert_eq(seen, 3);
	cr_assert_str_eq(err.msg, "enough");
}

Test(kclient_verbs, connection_errors_are_retried_for_idempotent_verbs)
{
	FILE *log = tmpfile();
	log_set_output(log);
	log_set_verbosity(2);
	struct restconfig *dead = live_restconfig("admin");
	free(dead->server);
	dead->server = strdup("https://127.0.0.1:1"); /* nothing listens on port 1 */
	struct kclient_options o = { .max_attempts = 3 };
	struct cx_err err = { 0 };
	struct kclient *dc = NULL;
	kclient_new(dead, &o, &dc, &err);
	cr_assert_not_null(dc, "%s", err.msg);
	struct json_object *out = NULL;
	cr_assert_eq(kclient_get(dc, "/version", &out, &err), -ECONNREFUSED, "%s", err.msg);

	struct json_object *cm = json("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
	cr_assert_eq(kclient_create(dc, "/api/v1/namespaces/default/configmaps", cm, NULL, &err), -ECONNREFUSED);
	json_object_put(cm);

	fflush(log);
	rewind(log);
	char line[2048];
	int get_retries = 0, post_retries = 0;
	while (fgets(line, sizeof(line), log)) {
		if (strstr(line, "retrying request") && strstr(line, "verb=GET"))
			get_retries++;
		if (strstr(line, "retrying request") && strstr(line, "verb=POST"))
			post_retries++;
	}
	cr_assert_eq(get_retries, 2, "3 attempts = 2 retries for GET");
	cr_assert_eq(post_retries, 0, "POST is not idempotent");
	fclose(log);
	kclient_free(&dc);
	restconfig_free(&dead);
}

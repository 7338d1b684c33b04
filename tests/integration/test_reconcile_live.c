/* The API side of one reconcile against the real kube-apiserver: children
 * applied with the controller ownerReference and label, idempotently; pruning
 * that spares lookalikes; the OnDelete and Recreate strategies; a kind the
 * server does not serve failing alone; the parent's status conditions written
 * through the status subresource, skipped when unchanged; Events deduplicated;
 * the finalizer added, kept off a dying object, and removed under a
 * concurrent writer until the parent goes away. For metacontroller
 * definitions (issue 11): the controller's own finalizer and field manager,
 * generateSelector and spec.selector claiming, OnDelete, RollingInPlace and
 * RollingRecreate pausing on statusChecks, and the status metacontroller
 * writes (through reconcile_job with an exec hook). */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "events.h"
#include "finalizer.h"
#include "kclient.h"
#include "live.h"
#include "mcdef.h"
#include "proto.h"
#include "reconcile.h"
#include "restconfig.h"
#include "status.h"

static struct restconfig *rc;
static struct kclient *c;
static struct discovery *d;
static char ns[64];

#define PATH_LEN    512
#define GROUP       "reconcile.coxswain.io"
#define API_VERSION GROUP "/v1"

#define GADGET_CRD                                                                                                     \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: gadgets." GROUP "}\n"                                                                        \
	"spec:\n"                                                                                                      \
	"  group: " GROUP "\n"                                                                                         \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: gadgets, singular: gadget, kind: Gadget}\n"                                                 \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	struct kclient_options o = { .qps = 500, .burst = 500 };
	kclient_new(rc, &o, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	d = discovery_new(c);
	cr_assert_not_null(d);
}

static void teardown(void)
{
	if (ns[0]) {
		char path[PATH_LEN];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(c, path, NULL, NULL, NULL);
	}
	discovery_free(&d);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(reconcile, .init = setup, .fini = teardown, .timeout = 120);

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);
	cr_assert_not_null(o, "bad test JSON: %s", text);
	return o;
}

static struct json_object *at(struct json_object *o, const char *dotted)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dotted);
	struct json_object *cur = o;
	for (char *save = NULL, *k = strtok_r(path, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array)) {
			cur = json_object_array_get_idx(cur, (size_t)atoi(k));
			if (!cur)
				return NULL;
		} else if (!json_object_object_get_ex(cur, k, &cur)) {
			return NULL;
		}
	}
	return cur;
}

static const char *str(struct json_object *o, const char *dotted)
{
	return json_object_get_string(at(o, dotted));
}

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

/* The CRD (idempotent across the tests running in parallel) and a namespace. */
static void prepare(const char *base)
{
	/* Tests run in parallel: two first applies race, and one loses with AlreadyExists. */
	int r = 1;
	for (int i = 0; i < 5 && r; i++)
		if ((r = live_kubectl(GADGET_CRD, "apply -f -")))
			usleep(200 * 1000);
	cr_assert_eq(r, 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/gadgets." GROUP), 0);
	use_namespace(base);
}

/* Creates Gadget name (extra: more metadata members, e.g. ",\"finalizers\":[...]"). */
static struct json_object *make_parent(const char *name, const char *extra_meta)
{
	char path[PATH_LEN], body[1024];
	snprintf(path, sizeof(path), "/apis/" API_VERSION "/namespaces/%s/gadgets", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"%s\"%s},"
		 "\"spec\":{\"size\":1}}",
		 name, extra_meta ? extra_meta : "");
	struct cx_err err = { 0 };
	/* The CRD may be Established a moment before its endpoint serves. */
	for (int i = 0; i < 100; i++) {
		struct json_object *o = json(body), *out = NULL;
		int r = kclient_create(c, path, o, &out, &err);
		json_object_put(o);
		if (r == 0)
			return out;
		cr_assert_eq(r, -ENOENT, "%s", err.msg);
		usleep(100 * 1000);
	}
	cr_assert_fail("Gadgets are not served: %s", err.msg);
	return NULL;
}

static char *parent_path(const char *name)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "/apis/" API_VERSION "/namespaces/%s/gadgets/%s", ns, name), 0);
	return p;
}

static struct json_object *get(const char *path)
{
	struct json_object *o = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, path, &o, &err), 0, "%s", err.msg);
	return o;
}

static struct json_object *get_cm(const char *name)
{
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	return get(path);
}

static bool cm_exists(const char *name)
{
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	struct json_object *o = NULL;
	struct cx_err err = { 0 };
	int r = kclient_get(c, path, &o, &err);
	json_object_put(o);
	cr_assert(r == 0 || r == -ENOENT, "%s", err.msg);
	return r == 0;
}

/* A controller named recon whose ConfigMaps follow strategy; with a second
 * declared kind when extra_kind is set. */
static struct config_child kids[2];
static struct config_controller ctl;

static const struct config_controller *controller(enum update_strategy strategy, const char *extra_api_version,
						  const char *extra_kind)
{
	static char name[] = "recon", papi[] = API_VERSION, pkind[] = "Gadget", v1[] = "v1", cm[] = "ConfigMap";
	static char fin[] = "coxswain.io/recon", manager[] = "coxswain/recon", all_namespaces[] = "";
	static char xapi[128], xkind[64];
	kids[0] = (struct config_child){ .api_version = v1, .kind = cm, .update_strategy = strategy };
	ctl = (struct config_controller){ .name = name,
					  .parent_api_version = papi,
					  .parent_kind = pkind,
					  .children = kids,
					  .n_children = 1,
					  .finalizer = fin,
					  .field_manager = manager,
					  .namespace = all_namespaces };
	if (extra_kind) {
		snprintf(xapi, sizeof(xapi), "%s", extra_api_version);
		snprintf(xkind, sizeof(xkind), "%s", extra_kind);
		kids[1] = (struct config_child){ .api_version = xapi,
						 .kind = xkind,
						 .update_strategy = UPDATE_INPLACE };
		ctl.n_children = 2;
	}
	return &ctl;
}

static int collect(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)err;
	json_object_object_add(ud, str(item, "metadata.name"), json_object_get(item));
	return 0;
}

/* What the watcher's cache would hand over: every ConfigMap of the namespace. */
static struct json_object *observe(void)
{
	struct json_object *cms = json_object_new_object(), *all = json_object_new_object();
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_list(c, path, NULL, collect, cms, NULL, &err), 0, "%s", err.msg);
	json_object_object_add(all, "ConfigMap.v1", cms);
	return all;
}

/* A desired ConfigMap. */
static char *cm_json(const char *name, const char *value)
{
	char *s = NULL;
	cr_assert_geq(asprintf(&s,
			       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
			       "\"labels\":{\"app\":\"gadget\"}},\"data\":{\"value\":\"%s\"}}",
			       name, value),
		      0);
	return s;
}

/* Applies desired (a JSON array text) for parent with a fresh observation. */
static int apply(const struct config_controller *cc, struct json_object *parent, const char *desired_text,
		 struct apply_report *rep)
{
	struct json_object *observed = observe(), *desired = json(desired_text);
	struct cx_err err = { 0 };
	int r = apply_children(c, d, cc, parent, observed, desired, rep, &err);
	cr_assert(r == 0 || r == -EIO, "%s", err.msg);
	json_object_put(observed);
	json_object_put(desired);
	return r;
}

static const struct apply_result *result(const struct apply_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->n; i++)
		if (!strcmp(rep->results[i].name, name))
			return &rep->results[i];
	cr_assert_fail("no result for %s", name);
	return NULL;
}

static void assert_action(const struct apply_report *rep, const char *name, enum apply_action want)
{
	const struct apply_result *r = result(rep, name);
	cr_assert_eq(r->action, want, "%s: %s, not %s (%s)", name, apply_action_name(r->action),
		     apply_action_name(want), r->err.msg);
}

Test(reconcile, apply_creates_owned_children_and_is_idempotent)
{
	prepare("rc-apply");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	char *a = cm_json("a", "1"), *b = cm_json("b", "1"), *b2 = cm_json("b", "2"), desired[2048];
	snprintf(desired, sizeof(desired), "[%s,%s]", a, b);

	struct apply_report rep;
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	cr_assert_eq(rep.n, 2);
	assert_action(&rep, "a", APPLY_CREATED);
	assert_action(&rep, "b", APPLY_CREATED);
	cr_assert_eq(rep.n_created, 2);
	cr_assert_str_eq(result(&rep, "a")->namespace, ns);
	apply_report_clear(&rep);

	struct json_object *cm = get_cm("a");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), str(parent, "metadata.uid"));
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.kind"), "Gadget");
	cr_assert(json_object_get_boolean(at(cm, "metadata.ownerReferences.0.controller")));
	cr_assert(json_object_get_boolean(at(cm, "metadata.ownerReferences.0.blockOwnerDeletion")));
	struct json_object *label = NULL;
	cr_assert(json_object_object_get_ex(at(cm, "metadata.labels"), APPLY_CONTROLLER_LABEL, &label));
	cr_assert_str_eq(json_object_get_string(label), "recon");
	cr_assert_str_eq(str(cm, "metadata.labels.app"), "gadget");
	char rv_a[64];
	snprintf(rv_a, sizeof(rv_a), "%s", str(cm, "metadata.resourceVersion"));
	struct json_object *managers = at(cm, "metadata.managedFields");
	bool ours = false;
	for (size_t i = 0; i < json_object_array_length(managers); i++)
		ours |= !strcmp(str(json_object_array_get_idx(managers, i), "manager"), "coxswain/recon");
	cr_assert(ours, "field manager coxswain/recon: %s", json_object_to_json_string(managers));
	json_object_put(cm);

	/* The same intent again: nothing changes on the server. */
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_UNCHANGED);
	assert_action(&rep, "b", APPLY_UNCHANGED);
	cr_assert_eq(rep.n_created + rep.n_deleted, 0);
	apply_report_clear(&rep);
	cm = get_cm("a");
	cr_assert_str_eq(str(cm, "metadata.resourceVersion"), rv_a);
	json_object_put(cm);

	snprintf(desired, sizeof(desired), "[%s,%s]", a, b2);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_UNCHANGED);
	assert_action(&rep, "b", APPLY_UPDATED);
	apply_report_clear(&rep);
	cm = get_cm("b");
	cr_assert_str_eq(str(cm, "data.value"), "2");
	json_object_put(cm);
	free(a);
	free(b);
	free(b2);
	json_object_put(parent);
}

Test(reconcile, prune_deletes_dropped_children_and_spares_lookalikes)
{
	prepare("rc-prune");
	struct json_object *parent = make_parent("g", NULL), *other = make_parent("other", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	char *a = cm_json("a", "1"), *b = cm_json("b", "1"), desired[2048];
	snprintf(desired, sizeof(desired), "[%s,%s]", a, b);
	struct apply_report rep;
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	apply_report_clear(&rep);
	/* The other parent's child, with the same label. */
	char *e = cm_json("e", "1");
	snprintf(desired, sizeof(desired), "[%s]", e);
	cr_assert_eq(apply(cc, other, desired, &rep), 0);
	apply_report_clear(&rep);
	/* A labelled lookalike nobody owns. */
	char cms[PATH_LEN];
	snprintf(cms, sizeof(cms), "/api/v1/namespaces/%s/configmaps", ns);
	struct json_object *lookalike = json(
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
		"\"labels\":{\"coxswain.io/controller\":\"recon\"}}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, cms, lookalike, NULL, &err), 0, "%s", err.msg);
	json_object_put(lookalike);

	snprintf(desired, sizeof(desired), "[%s]", a);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	cr_assert_eq(rep.n, 2, "a, and the prune of b only");
	assert_action(&rep, "a", APPLY_UNCHANGED);
	assert_action(&rep, "b", APPLY_DELETED);
	cr_assert_eq(rep.n_deleted, 1);
	apply_report_clear(&rep);
	cr_assert(cm_exists("a"));
	cr_assert_not(cm_exists("b"));
	cr_assert(cm_exists("c"), "an unowned lookalike is not pruned");
	cr_assert(cm_exists("e"), "another parent's child is not pruned");

	/* No children at all: a goes too. */
	cr_assert_eq(apply(cc, parent, "[]", &rep), 0);
	cr_assert_eq(rep.n, 1);
	assert_action(&rep, "a", APPLY_DELETED);
	apply_report_clear(&rep);
	cr_assert_not(cm_exists("a"));
	free(a);
	free(b);
	free(e);
	json_object_put(parent);
	json_object_put(other);
}

Test(reconcile, on_delete_creates_but_never_updates)
{
	prepare("rc-ondelete");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_ONDELETE, NULL, NULL);
	char *v1 = cm_json("x", "1"), *v2 = cm_json("x", "2"), desired[2048];
	struct apply_report rep;
	snprintf(desired, sizeof(desired), "[%s]", v1);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "x", APPLY_CREATED);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("x");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), str(parent, "metadata.uid"));
	json_object_put(cm);

	snprintf(desired, sizeof(desired), "[%s]", v2);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "x", APPLY_UNCHANGED);
	apply_report_clear(&rep);
	cm = get_cm("x");
	cr_assert_str_eq(str(cm, "data.value"), "1", "OnDelete: the old one stays");
	json_object_put(cm);

	/* Even when the cache has not seen it yet: a POST cannot overwrite. */
	struct json_object *desired_obj = json(desired), *empty = json("{}");
	struct cx_err err = { 0 };
	cr_assert_eq(apply_children(c, d, cc, parent, empty, desired_obj, &rep, &err), 0, "%s", err.msg);
	assert_action(&rep, "x", APPLY_UNCHANGED);
	apply_report_clear(&rep);
	json_object_put(desired_obj);
	json_object_put(empty);

	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/x", ns);
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "x", APPLY_CREATED);
	apply_report_clear(&rep);
	cm = get_cm("x");
	cr_assert_str_eq(str(cm, "data.value"), "2");
	json_object_put(cm);
	free(v1);
	free(v2);
	json_object_put(parent);
}

Test(reconcile, recreate_replaces_when_the_hook_changes_it)
{
	prepare("rc-recreate");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_RECREATE, NULL, NULL);
	char *v1 = cm_json("r", "1"), *v2 = cm_json("r", "2"), desired[2048];
	struct apply_report rep;
	snprintf(desired, sizeof(desired), "[%s]", v1);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "r", APPLY_CREATED);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("r");
	char uid1[64], rv1[64];
	snprintf(uid1, sizeof(uid1), "%s", str(cm, "metadata.uid"));
	snprintf(rv1, sizeof(rv1), "%s", str(cm, "metadata.resourceVersion"));
	json_object_put(cm);

	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "r", APPLY_UNCHANGED);
	apply_report_clear(&rep);
	cm = get_cm("r");
	cr_assert_str_eq(str(cm, "metadata.uid"), uid1);
	cr_assert_str_eq(str(cm, "metadata.resourceVersion"), rv1);
	json_object_put(cm);

	snprintf(desired, sizeof(desired), "[%s]", v2);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "r", APPLY_RECREATED);
	cr_assert_eq(rep.n_created, 1);
	cr_assert_eq(rep.n_deleted, 1);
	apply_report_clear(&rep);
	cm = get_cm("r");
	cr_assert_str_neq(str(cm, "metadata.uid"), uid1, "a new object");
	cr_assert_str_eq(str(cm, "data.value"), "2");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), str(parent, "metadata.uid"));
	json_object_put(cm);
	free(v1);
	free(v2);
	json_object_put(parent);
}

Test(reconcile, a_kind_not_served_fails_alone)
{
	prepare("rc-unserved");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, "nothere.coxswain.io/v1", "Ghost");
	char *a = cm_json("a", "1"), desired[2048];
	snprintf(desired, sizeof(desired),
		 "[{\"apiVersion\":\"nothere.coxswain.io/v1\",\"kind\":\"Ghost\",\"metadata\":{\"name\":\"boo\"}},%s,"
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"Bad_Name\"}}]",
		 a);
	struct apply_report rep;
	cr_assert_eq(apply(cc, parent, desired, &rep), -EIO);
	cr_assert_eq(rep.n, 3);
	cr_assert_eq(rep.n_failed, 2);
	assert_action(&rep, "a", APPLY_CREATED);
	const struct apply_result *ghost = result(&rep, "boo");
	cr_assert_eq(ghost->action, APPLY_FAILED);
	cr_assert_eq(ghost->err.code, -ENOENT, "%s", ghost->err.msg);
	cr_assert(strstr(ghost->err.msg, "nothere.coxswain.io"), "%s", ghost->err.msg);
	/* A child of an undeclared kind never gets here: the hook answer's
	 * check refuses it (test_hook.c: hook_response.child_of_an_undeclared_kind). */
	const struct apply_result *bad = result(&rep, "Bad_Name");
	cr_assert_eq(bad->action, APPLY_FAILED);
	cr_assert(strstr(bad->err.msg, "metadata.name"), "the API's field error: %s", bad->err.msg);
	cr_assert(cm_exists("a"));

	/* ApplyFailed lists every failed child. */
	struct status_outcome o = { .reason = STATUS_OK, .apply = &rep };
	struct json_object *st = status_compute(parent, &o, time(NULL));
	const char *m = str(st, "conditions.0.message");
	cr_assert_str_eq(str(st, "conditions.0.reason"), "ApplyFailed");
	cr_assert(strstr(m, "2 of 3 children failed: Ghost/boo: "), "%s", m);
	cr_assert(strstr(m, "ConfigMap/Bad_Name: "), "%s", m);
	json_object_put(st);
	apply_report_clear(&rep);
	free(a);
	json_object_put(parent);
}

static const char *condition_field(struct json_object *parent, const char *type, const char *field)
{
	struct json_object *list = at(parent, "status.conditions");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *cond = json_object_array_get_idx(list, i);
		if (!strcmp(str(cond, "type"), type))
			return str(cond, field);
	}
	cr_assert_fail("no %s condition: %s", type, json_object_to_json_string(parent));
	return NULL;
}

/* Computes and writes the status for outcome at now; returns the parent as
 * the server has it afterwards. */
static struct json_object *write_status(struct json_object *parent, enum status_reason reason, const char *message,
					const char *hook_status, time_t now, bool want_written)
{
	struct json_object *hs = hook_status ? json(hook_status) : NULL;
	struct status_outcome o = { .reason = reason, .message = message, .hook_status = hs };
	struct json_object *st = status_compute(parent, &o, now), *out = NULL;
	bool written = !want_written;
	struct cx_err err = { 0 };
	cr_assert_eq(status_write(c, d, parent, st, &written, NULL, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(written, want_written);
	json_object_put(st);
	json_object_put(hs);
	char *path = parent_path(str(parent, "metadata.name"));
	struct json_object *now_there = get(path);
	free(path);
	if (out)
		cr_assert_str_eq(str(out, "metadata.resourceVersion"), str(now_there, "metadata.resourceVersion"));
	json_object_put(out);
	return now_there;
}

Test(reconcile, status_conditions_written_and_skipped_when_unchanged)
{
	prepare("rc-status");
	struct json_object *parent = make_parent("g", NULL);
	time_t t0 = time(NULL);
	char t0_text[32], t1_text[32];
	status_format_time(t0, t0_text);
	status_format_time(t0 + 200, t1_text);

	struct json_object *p1 = write_status(parent, STATUS_OK, NULL, "{\"ready\":true,\"phase\":\"Up\"}", t0, true);
	cr_assert_eq(json_object_get_int64(at(p1, "status.observedGeneration")),
		     json_object_get_int64(at(p1, "metadata.generation")));
	cr_assert_str_eq(str(p1, "status.phase"), "Up");
	cr_assert_str_eq(condition_field(p1, "Synced", "status"), "True");
	cr_assert_str_eq(condition_field(p1, "Synced", "reason"), "ReconcileSucceeded");
	cr_assert_str_eq(condition_field(p1, "Synced", "lastTransitionTime"), t0_text);
	cr_assert_str_eq(condition_field(p1, "Synced", "observedGeneration"), "1");
	cr_assert_str_eq(condition_field(p1, "Ready", "reason"), "HookReportedReady");
	cr_assert_eq(json_object_get_int64(at(p1, "spec.size")), 1, "spec untouched");

	/* The same outcome later: nothing to write, resourceVersion unchanged. */
	struct json_object *p2 = write_status(p1, STATUS_OK, NULL, "{\"ready\":true,\"phase\":\"Up\"}", t0 + 100,
					      false);
	cr_assert_str_eq(str(p2, "metadata.resourceVersion"), str(p1, "metadata.resourceVersion"));
	cr_assert_str_eq(condition_field(p2, "Synced", "lastTransitionTime"), t0_text);

	/* The hook fails: Synced flips (new time), the old status fields stay. */
	struct json_object *p3 = write_status(p2, STATUS_HOOK_FAILED, "hook /bin/false exited with code 1", NULL,
					      t0 + 200, true);
	cr_assert_str_eq(condition_field(p3, "Synced", "status"), "False");
	cr_assert_str_eq(condition_field(p3, "Synced", "reason"), "HookFailed");
	cr_assert_str_eq(condition_field(p3, "Synced", "message"), "hook /bin/false exited with code 1");
	cr_assert_str_eq(condition_field(p3, "Synced", "lastTransitionTime"), t1_text);
	cr_assert_str_eq(condition_field(p3, "Ready", "status"), "False");
	cr_assert_str_eq(str(p3, "status.phase"), "Up");

	/* It recovers without phase: phase goes, Synced flips back. */
	struct json_object *p4 = write_status(p3, STATUS_OK, NULL, "{\"ready\":true}", t0 + 300, true);
	cr_assert_null(at(p4, "status.phase"), "%s", json_object_to_json_string(at(p4, "status")));
	cr_assert_str_eq(condition_field(p4, "Synced", "status"), "True");

	/* A spec change: observedGeneration follows the generation. */
	char *path = parent_path("g");
	struct json_object *spec = json("{\"spec\":{\"size\":2}}"), *p5 = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, spec, &p5, &err), 0, "%s", err.msg);
	struct json_object *p6 = write_status(p5, STATUS_OK, NULL, "{\"ready\":true}", t0 + 400, true);
	cr_assert_eq(json_object_get_int64(at(p6, "status.observedGeneration")), 2);
	cr_assert_str_eq(condition_field(p6, "Synced", "observedGeneration"), "2");
	free(path);
	json_object_put(spec);
	json_object_put(parent);
	json_object_put(p1);
	json_object_put(p2);
	json_object_put(p3);
	json_object_put(p4);
	json_object_put(p5);
	json_object_put(p6);
}

Test(reconcile, events_are_deduplicated)
{
	prepare("rc-events");
	struct json_object *parent = make_parent("g", NULL);
	struct events *ev = events_new(c, "recon", 0);
	cr_assert_not_null(ev);
	struct json_object *first = NULL, *second = NULL, *third = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(events_post(ev, parent, EVENT_WARNING, "HookFailed", "exit 1", &first, &err), 0, "%s", err.msg);
	cr_assert_eq(json_object_get_int(at(first, "count")), 1);
	cr_assert_eq(events_post(ev, parent, EVENT_WARNING, "HookFailed", "exit 1", &second, &err), 0, "%s", err.msg);
	cr_assert_str_eq(str(second, "metadata.name"), str(first, "metadata.name"), "the same Event");
	cr_assert_eq(json_object_get_int(at(second, "count")), 2);
	cr_assert_eq(events_post(ev, parent, EVENT_WARNING, "HookFailed", "exit 2", &third, &err), 0, "%s", err.msg);
	cr_assert_str_neq(str(third, "metadata.name"), str(first, "metadata.name"), "another message, another Event");

	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", ns, str(first, "metadata.name"));
	struct json_object *e = get(path);
	cr_assert_eq(json_object_get_int(at(e, "count")), 2);
	cr_assert_str_eq(str(e, "type"), "Warning");
	cr_assert_str_eq(str(e, "reason"), "HookFailed");
	cr_assert_str_eq(str(e, "message"), "exit 1");
	cr_assert_str_eq(str(e, "involvedObject.uid"), str(parent, "metadata.uid"));
	cr_assert_str_eq(str(e, "involvedObject.kind"), "Gadget");
	cr_assert_str_eq(str(e, "involvedObject.resourceVersion"), str(parent, "metadata.resourceVersion"));
	cr_assert_str_eq(str(e, "source.component"), "coxswain-worker");
	cr_assert_str_eq(str(e, "reportingComponent"), "coxswain.io/recon");
	cr_assert_not_null(str(e, "reportingInstance"));
	cr_assert_not_null(str(e, "lastTimestamp"));
	char prefix[8];
	snprintf(prefix, sizeof(prefix), "g.");
	cr_assert_eq(strncmp(str(e, "metadata.name"), prefix, 2), 0);
	json_object_put(e);

	/* An Event that expired on the server is made again. */
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	struct json_object *fourth = NULL;
	cr_assert_eq(events_post(ev, parent, EVENT_WARNING, "HookFailed", "exit 1", &fourth, &err), 0, "%s", err.msg);
	cr_assert_eq(json_object_get_int(at(fourth, "count")), 1);
	cr_assert_str_eq(str(fourth, "metadata.name"), str(first, "metadata.name"), "its name is the series'");

	/* The Events of an apply report. */
	static char v1[] = "v1", cmk[] = "ConfigMap", a[] = "a", b[] = "b", x[] = "x";
	struct apply_result results[3] = {
		{ .api_version = v1, .kind = cmk, .name = a, .action = APPLY_CREATED },
		{ .api_version = v1, .kind = cmk, .name = b, .action = APPLY_DELETED },
		{ .api_version = v1, .kind = cmk, .name = x, .action = APPLY_UNCHANGED },
	};
	struct apply_report rep = { .results = results, .n = 3, .n_created = 1, .n_deleted = 1 };
	/* Off by default (worker.events.normal): nothing is posted. */
	cr_assert_eq(events_post_apply(ev, parent, &rep, &err), 0, "%s", err.msg);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	struct json_object *before = get(path), *before_items = at(before, "items");
	for (size_t i = 0; i < json_object_array_length(before_items); i++)
		cr_assert_str_neq(str(json_object_array_get_idx(before_items, i), "type"), "Normal", "%s",
				  json_object_to_json_string(before));
	json_object_put(before);
	events_set_normal(ev, true);
	cr_assert_eq(events_post_apply(ev, parent, &rep, &err), 0, "%s", err.msg);
	int created = 0, deleted = 0, total = 0;
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	struct json_object *list = get(path);
	struct json_object *items = at(list, "items");
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *it = json_object_array_get_idx(items, i);
		if (strcmp(str(it, "source.component"), "coxswain-worker"))
			continue;
		total++;
		created += !strcmp(str(it, "reason"), "Created") &&
			!strcmp(str(it, "message"), "created ConfigMap/a") && !strcmp(str(it, "type"), "Normal");
		deleted += !strcmp(str(it, "reason"), "Deleted") && strstr(str(it, "message"), "ConfigMap/b");
	}
	cr_assert_eq(created, 1);
	cr_assert_eq(deleted, 1);
	cr_assert_eq(total, 4, "exit 2, exit 1 again, Created, Deleted");
	json_object_put(list);
	json_object_put(first);
	json_object_put(second);
	json_object_put(third);
	json_object_put(fourth);
	events_free(&ev);
	json_object_put(parent);
}

Test(reconcile, finalizer_added_then_removed_until_the_parent_is_gone)
{
	prepare("rc-finalizer");
	struct json_object *parent = make_parent("g", ",\"finalizers\":[\"example.com/keep\"]");
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	struct cx_err err = { 0 };
	bool changed = true;
	struct json_object *out = NULL;

	/* No finalize hook: no finalizer, no write. */
	cr_assert_eq(finalizer_ensure(c, d, &cc, parent, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert_not(changed);
	cr_assert_not(finalizer_has(out, "coxswain.io/recon"));
	json_object_put(out);

	cc.finalize.set = true;
	cr_assert_eq(finalizer_ensure(c, d, &cc, parent, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert(changed);
	cr_assert_str_eq(str(out, "metadata.finalizers.0"), "example.com/keep");
	cr_assert_str_eq(str(out, "metadata.finalizers.1"), "coxswain.io/recon");
	struct json_object *with = out;
	cr_assert_eq(finalizer_ensure(c, d, &cc, with, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert_not(changed, "already there");
	cr_assert_eq(out, with);
	json_object_put(out);

	/* Ensure from a stale copy: the conflict is resolved by reading again. */
	cr_assert_eq(finalizer_ensure(c, d, &cc, parent, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert_not(changed, "the fresh copy already has it");
	json_object_put(out);

	char *path = parent_path("g");
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	struct json_object *dying = get(path);
	cr_assert_not_null(at(dying, "metadata.deletionTimestamp"));

	/* Someone else takes their finalizer off: our copy is now stale. */
	struct json_object *theirs = json(
		"[{\"op\":\"test\",\"path\":\"/metadata/finalizers/0\",\"value\":\"example.com/keep\"},"
		"{\"op\":\"remove\",\"path\":\"/metadata/finalizers/0\"}]");
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_JSON, theirs, NULL, &err), 0, "%s", err.msg);
	json_object_put(theirs);

	cr_assert_eq(finalizer_remove(c, d, &cc, dying, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert(changed);
	json_object_put(out);
	struct json_object *gone = NULL;
	cr_assert_eq(kclient_get(c, path, &gone, &err), -ENOENT, "the last finalizer is off: the parent is gone");

	/* Removing again: the parent is gone, nothing to do. */
	cr_assert_eq(finalizer_remove(c, d, &cc, dying, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert_not(changed);
	cr_assert_null(out);
	json_object_put(dying);
	json_object_put(with);
	free(path);
	json_object_put(parent);
}

Test(reconcile, no_new_finalizer_on_a_dying_parent)
{
	prepare("rc-dying");
	struct json_object *parent = make_parent("g", ",\"finalizers\":[\"example.com/keep\"]");
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	cc.finalize.set = true;
	char *path = parent_path("g");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	struct json_object *dying = get(path), *out = NULL;
	bool changed = true;
	cr_assert_eq(finalizer_ensure(c, d, &cc, dying, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert_not(changed);
	cr_assert_not(finalizer_has(out, "coxswain.io/recon"));
	json_object_put(out);

	/* Let it go. */
	struct json_object *clear = json("{\"metadata\":{\"finalizers\":null}}");
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, clear, NULL, &err), 0, "%s", err.msg);
	json_object_put(clear);
	json_object_put(dying);
	free(path);
	json_object_put(parent);
}

/* Creates ConfigMap name with value and no owner, as an admin would. */
static void admin_cm(const char *name, const char *value)
{
	char path[PATH_LEN], body[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"},"
		 "\"data\":{\"value\":\"%s\"}}",
		 name, value);
	struct json_object *o = json(body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, path, o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

static void delete_cm(const char *name)
{
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
}

Test(reconcile, a_child_another_parent_controls_is_never_written)
{
	prepare("rc-fight");
	struct json_object *first = make_parent("first", NULL), *second = make_parent("second", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	char *mine = cm_json("shared", "first's"), *theirs = cm_json("shared", "second's"),
	     *other = cm_json("own", "x");
	char desired[2048];
	struct apply_report rep;
	snprintf(desired, sizeof(desired), "[%s]", mine);
	cr_assert_eq(apply(cc, first, desired, &rep), 0);
	assert_action(&rep, "shared", APPLY_CREATED);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("shared");
	char rv[64];
	snprintf(rv, sizeof(rv), "%s", str(cm, "metadata.resourceVersion"));
	json_object_put(cm);

	/* The second parent wants it too, with another child beside it. */
	snprintf(desired, sizeof(desired), "[%s,%s]", theirs, other);
	for (int round = 0; round < 3; round++) {
		cr_assert_eq(apply(cc, second, desired, &rep), -EIO);
		assert_action(&rep, "shared", APPLY_CONFLICT);
		assert_action(&rep, "own", round ? APPLY_UNCHANGED : APPLY_CREATED);
		cr_assert_eq(rep.n_conflicts, 1);
		const char *msg = result(&rep, "shared")->err.msg;
		cr_assert(strstr(msg, "ConfigMap shared"), "%s", msg);
		cr_assert(strstr(msg, "controlled by Gadget first"), "%s", msg);
		cr_assert(strstr(msg, str(first, "metadata.uid")), "names the owner's uid: %s", msg);
		apply_report_clear(&rep);
	}
	cm = get_cm("shared");
	cr_assert_str_eq(str(cm, "data.value"), "first's", "the first owner's data stays");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), str(first, "metadata.uid"));
	cr_assert_eq(json_object_array_length(at(cm, "metadata.ownerReferences")), 1);
	cr_assert_str_eq(str(cm, "metadata.resourceVersion"), rv, "not written at all");
	json_object_put(cm);

	/* The second parent never prunes what is not its own. */
	cr_assert_eq(apply(cc, second, "[]", &rep), 0);
	cr_assert_eq(rep.n_deleted, 1, "only its own child");
	apply_report_clear(&rep);
	cr_assert(cm_exists("shared"));
	cr_assert_not(cm_exists("own"));
	free(mine);
	free(theirs);
	free(other);
	json_object_put(first);
	json_object_put(second);
}

Test(reconcile, an_orphan_is_adopted_only_with_adopt_orphans)
{
	prepare("rc-orphan");
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	admin_cm("made-by-hand", "admin's");
	char *want = cm_json("made-by-hand", "hook's"), desired[2048];
	snprintf(desired, sizeof(desired), "[%s]", want);
	struct apply_report rep;
	cr_assert_eq(apply(&cc, parent, desired, &rep), -EIO);
	assert_action(&rep, "made-by-hand", APPLY_CONFLICT);
	cr_assert(strstr(result(&rep, "made-by-hand")->err.msg, "adoptOrphans: true"), "says how to opt in: %s",
		  result(&rep, "made-by-hand")->err.msg);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("made-by-hand");
	cr_assert_str_eq(str(cm, "data.value"), "admin's");
	cr_assert_null(at(cm, "metadata.ownerReferences"), "not adopted");
	json_object_put(cm);

	cc.adopt_orphans = true;
	cr_assert_eq(apply(&cc, parent, desired, &rep), 0);
	assert_action(&rep, "made-by-hand", APPLY_ADOPTED);
	apply_report_clear(&rep);
	cm = get_cm("made-by-hand");
	cr_assert_str_eq(str(cm, "data.value"), "hook's");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), str(parent, "metadata.uid"));
	json_object_put(cm);

	/* Ours from now on: dropped, it is pruned. */
	cr_assert_eq(apply(&cc, parent, "[]", &rep), 0);
	assert_action(&rep, "made-by-hand", APPLY_DELETED);
	apply_report_clear(&rep);
	cr_assert_not(cm_exists("made-by-hand"));
	free(want);
	json_object_put(parent);
}

/* The cache still shows our child, but someone deleted it and made another
 * under the same name: the uid precondition keeps that one safe. */
Test(reconcile, a_child_recreated_by_someone_else_is_not_taken_over)
{
	prepare("rc-race");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	char *v1 = cm_json("c", "1"), *v2 = cm_json("c", "2"), desired[2048];
	struct apply_report rep;
	snprintf(desired, sizeof(desired), "[%s]", v1);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	apply_report_clear(&rep);
	struct json_object *stale = observe();
	delete_cm("c");
	admin_cm("c", "someone else's");

	snprintf(desired, sizeof(desired), "[%s]", v2);
	struct json_object *desired_obj = json(desired);
	struct cx_err err = { 0 };
	cr_assert_eq(apply_children(c, d, cc, parent, stale, desired_obj, &rep, &err), -EIO, "%s", err.msg);
	assert_action(&rep, "c", APPLY_CONFLICT);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("c");
	cr_assert_str_eq(str(cm, "data.value"), "someone else's");
	cr_assert_null(at(cm, "metadata.ownerReferences"));
	json_object_put(cm);
	json_object_put(desired_obj);
	json_object_put(stale);
	free(v1);
	free(v2);
	json_object_put(parent);
}

/* A child created with POST has its fields handed to server-side apply: a
 * field the hook drops later goes, as it would after an apply-create. */
Test(reconcile, a_field_the_hook_drops_is_removed)
{
	prepare("rc-drop");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	struct apply_report rep;
	cr_assert_eq(apply(cc, parent,
			   "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"f\","
			   "\"labels\":{\"keep\":\"1\",\"drop\":\"1\"}},\"data\":{\"keep\":\"1\",\"drop\":\"1\"}}]",
			   &rep),
		     0);
	assert_action(&rep, "f", APPLY_CREATED);
	apply_report_clear(&rep);
	cr_assert_eq(apply(cc, parent,
			   "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"f\","
			   "\"labels\":{\"keep\":\"1\"}},\"data\":{\"keep\":\"1\"}}]",
			   &rep),
		     0);
	assert_action(&rep, "f", APPLY_UPDATED);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("f");
	cr_assert_null(at(cm, "data.drop"), "%s", json_object_to_json_string(cm));
	cr_assert_null(at(cm, "metadata.labels.drop"));
	cr_assert_str_eq(str(cm, "data.keep"), "1");
	json_object_put(cm);
	json_object_put(parent);
}

static int collect_secrets(void *ud, struct json_object *item, struct cx_err *err)
{
	return collect(ud, item, err);
}

/* A Recreate Secret written with stringData: the server stores data, and
 * the next sync must see no difference (it used to re-create it forever). */
Test(reconcile, a_recreate_secret_with_string_data_settles)
{
	prepare("rc-secret");
	struct json_object *parent = make_parent("g", NULL);
	static char v1[] = "v1", secret[] = "Secret", name[] = "recon", papi[] = API_VERSION, pkind[] = "Gadget";
	static char fin[] = "coxswain.io/recon", manager[] = "coxswain/recon";
	static struct config_child skids[1];
	skids[0] = (struct config_child){ .api_version = v1, .kind = secret, .update_strategy = UPDATE_RECREATE };
	struct config_controller cc = { .name = name,
					.parent_api_version = papi,
					.parent_kind = pkind,
					.children = skids,
					.n_children = 1,
					.finalizer = fin,
					.field_manager = manager };
	const char *desired_text = "[{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\"},"
				   "\"stringData\":{\"password\":\"hunter2\"}}]";
	char uid[64] = "";
	for (int round = 0; round < 3; round++) {
		struct json_object *secrets = json_object_new_object(), *observed = json_object_new_object();
		char path[PATH_LEN];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", ns);
		struct cx_err err = { 0 };
		cr_assert_eq(kclient_list(c, path, NULL, collect_secrets, secrets, NULL, &err), 0, "%s", err.msg);
		json_object_object_add(observed, "Secret.v1", secrets);
		struct json_object *desired = json(desired_text);
		struct apply_report rep;
		cr_assert_eq(apply_children(c, d, &cc, parent, observed, desired, &rep, &err), 0, "%s", err.msg);
		assert_action(&rep, "s", round ? APPLY_UNCHANGED : APPLY_CREATED);
		apply_report_clear(&rep);
		json_object_put(desired);
		json_object_put(observed);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/s", ns);
		struct json_object *s = get(path);
		if (round)
			cr_assert_str_eq(str(s, "metadata.uid"), uid, "not re-created");
		snprintf(uid, sizeof(uid), "%s", str(s, "metadata.uid"));
		cr_assert_str_eq(str(s, "data.password"), "aHVudGVyMg==");
		json_object_put(s);
	}
	json_object_put(parent);
}

/* ---- metacontroller-defined controllers (issue 11) ---- */

/* The finalizer and the field manager are the controller's own
 * (cc->finalizer, cc->field_manager), not names built from cc->name: a
 * metacontroller definition carries metacontroller's finalizer, so that a
 * parent moves between the two without getting stuck. */
Test(reconcile, finalizer_and_field_manager_come_from_the_controller)
{
	prepare("rc-mcnames");
	struct json_object *parent = make_parent("g", NULL), *out = NULL;
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	static char fin[] = "metacontroller.io/compositecontroller-recon", manager[] = "coxswain/mc-recon";
	cc.finalizer = fin;
	cc.field_manager = manager;
	cc.finalize.set = true;
	struct cx_err err = { 0 };
	bool changed = false;
	cr_assert_eq(finalizer_ensure(c, d, &cc, parent, &changed, &out, &err), 0, "%s", err.msg);
	cr_assert(changed);
	cr_assert(finalizer_has(out, fin), "%s", json_object_to_json_string(out));
	cr_assert_not(finalizer_has(out, "coxswain.io/recon"));

	char *a = cm_json("a", "1"), desired[1024];
	snprintf(desired, sizeof(desired), "[%s]", a);
	struct apply_report rep;
	cr_assert_eq(apply(&cc, out, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_CREATED);
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("a"), *managers = at(cm, "metadata.managedFields");
	bool ours = false;
	for (size_t i = 0; i < json_object_array_length(managers); i++)
		ours |= !strcmp(str(json_object_array_get_idx(managers, i), "manager"), manager);
	cr_assert(ours, "field manager %s: %s", manager, json_object_to_json_string(managers));
	json_object_put(cm);

	cr_assert_eq(finalizer_remove(c, d, &cc, out, &changed, NULL, &err), 0, "%s", err.msg);
	cr_assert(changed);
	free(a);
	json_object_put(out);
	json_object_put(parent);
}

#define PART_CRD                                                                                                       \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: parts." GROUP "}\n"                                                                          \
	"spec:\n"                                                                                                      \
	"  group: " GROUP "\n"                                                                                         \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: parts, singular: part, kind: Part}\n"                                                       \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"

/* A metacontroller-defined controller (generateSelector, so that the
 * Gadget needs no spec.selector) whose children are Parts updated with
 * strategy, checked for Ready=True. */
static char part_kind[] = "Part", part_api[] = API_VERSION, ready_type[] = "Ready", ready_true[] = "True";
static struct mcdef_condition_check ready_check = { .type = ready_type, .status = ready_true };
static struct mcdef_child part_checks = {
	.has_status_checks = true, .has_conditions = true, .conditions = &ready_check, .n_conditions = 1
};

static struct config_controller mc_parts(enum update_strategy strategy)
{
	static struct config_child parts[1];
	static char fin[] = "metacontroller.io/compositecontroller-recon";
	parts[0] = (struct config_child){
		.api_version = part_api, .kind = part_kind, .update_strategy = strategy, .mc = &part_checks
	};
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	cc.children = parts;
	cc.origin = CONFIG_ORIGIN_METACONTROLLER;
	cc.generate_selector = true;
	cc.finalizer = fin;
	return cc;
}

static void prepare_parts(void)
{
	int r = 1;
	for (int i = 0; i < 5 && r; i++)
		if ((r = live_kubectl(PART_CRD, "apply -f -")))
			usleep(200 * 1000);
	cr_assert_eq(r, 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/parts." GROUP), 0);
}

static char *part_path(const char *name, const char *sub)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "/apis/" API_VERSION "/namespaces/%s/parts%s%s%s", ns, name ? "/" : "",
			       name ? name : "", sub ? sub : ""),
		      0);
	return p;
}

/* The Parts of the namespace as the watcher's cache would hand them over. */
static struct json_object *observe_parts(void)
{
	struct json_object *parts = json_object_new_object(), *all = json_object_new_object();
	char *path = part_path(NULL, NULL);
	struct cx_err err = { 0 };
	int r = 1;
	/* The CRD may be Established a moment before its endpoint serves. */
	for (int i = 0; i < 100 && r; i++)
		if ((r = kclient_list(c, path, NULL, collect, parts, NULL, &err)) == -ENOENT)
			usleep(100 * 1000);
	cr_assert_eq(r, 0, "%s", err.msg);
	json_object_object_add(all, "Part." API_VERSION, parts);
	free(path);
	return all;
}

static int apply_parts(const struct config_controller *cc, struct json_object *parent, int v, struct apply_report *rep)
{
	char desired[2048];
	snprintf(desired, sizeof(desired),
		 "[{\"apiVersion\":\"" API_VERSION
		 "\",\"kind\":\"Part\",\"metadata\":{\"name\":\"a\"},\"spec\":{\"v\":%d}},"
		 "{\"apiVersion\":\"" API_VERSION
		 "\",\"kind\":\"Part\",\"metadata\":{\"name\":\"b\"},\"spec\":{\"v\":%d}},"
		 "{\"apiVersion\":\"" API_VERSION
		 "\",\"kind\":\"Part\",\"metadata\":{\"name\":\"c\"},\"spec\":{\"v\":%d}}]",
		 v, v, v);
	struct json_object *observed = observe_parts(), *want = json(desired);
	struct cx_err err = { 0 };
	int r = apply_children(c, d, cc, parent, observed, want, rep, &err);
	cr_assert(r == 0, "%s", err.msg);
	json_object_put(observed);
	json_object_put(want);
	return r;
}

static struct json_object *get_part(const char *name)
{
	char *p = part_path(name, NULL);
	struct json_object *o = get(p);
	free(p);
	return o;
}

static void set_ready(const char *name)
{
	char *p = part_path(name, "/status");
	struct json_object *patch = json("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, p, KCLIENT_PATCH_MERGE, patch, NULL, &err), 0, "%s", err.msg);
	json_object_put(patch);
	free(p);
}

static void assert_v(const char *name, int v)
{
	struct json_object *o = get_part(name);
	cr_assert_eq(json_object_get_int(at(o, "spec.v")), v, "%s: %s", name, json_object_to_json_string(o));
	json_object_put(o);
}

/* The rollout metacontroller documents: children updated one at a time in
 * the hook's order, paused while an updated one fails statusChecks, going
 * on once its condition is set. */
static void rollout(enum update_strategy strategy, const char *base)
{
	prepare(base);
	prepare_parts();
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_parts(strategy);
	enum apply_action updated = strategy == UPDATE_ROLLING_RECREATE ? APPLY_RECREATED : APPLY_UPDATED;
	struct apply_report rep;

	apply_parts(&cc, parent, 1, &rep);
	assert_action(&rep, "a", APPLY_CREATED);
	assert_action(&rep, "c", APPLY_CREATED);
	cr_assert_eq(rep.rollout.state, ROLLOUT_DONE, "%s", rep.rollout.message);
	apply_report_clear(&rep);
	struct json_object *a0 = get_part("a");
	cr_assert_str_eq(str(a0, "metadata.labels.controller-uid"), str(parent, "metadata.uid"));
	char uid_a[64];
	snprintf(uid_a, sizeof(uid_a), "%s", str(a0, "metadata.uid"));
	json_object_put(a0);

	const char *names[] = { "a", "b", "c" };
	for (int k = 0; k < 3; k++) {
		/* Child k goes; the ones after it wait. */
		apply_parts(&cc, parent, 2, &rep);
		cr_assert_eq(rep.rollout.state, ROLLOUT_PROGRESSING, "%d: %s", k, rep.rollout.message);
		char msg[64];
		snprintf(msg, sizeof(msg), "updating Part %s", names[k]);
		cr_assert_str_eq(rep.rollout.message, msg);
		assert_action(&rep, names[k], updated);
		for (int j = k + 1; j < 3; j++)
			assert_action(&rep, names[j], APPLY_UNCHANGED);
		apply_report_clear(&rep);
		assert_v(names[k], 2);
		for (int j = k + 1; j < 3; j++)
			assert_v(names[j], 1);

		/* Not Ready: the rollout pauses, however often it syncs. After
		 * the last one nothing is left to move: metacontroller then says
		 * OnLatestRevision without checking. */
		for (int again = 0; again < 2; again++) {
			apply_parts(&cc, parent, 2, &rep);
			cr_assert_eq(rep.rollout.state, k < 2 ? ROLLOUT_WAITING : ROLLOUT_DONE, "%d: %s", k,
				     rep.rollout.message);
			snprintf(msg, sizeof(msg), "child Part %s failed status check", names[k]);
			cr_assert(k == 2 || strstr(rep.rollout.message, msg), "%s", rep.rollout.message);
			for (int j = 0; j < 3; j++)
				assert_action(&rep, names[j], APPLY_UNCHANGED);
			apply_report_clear(&rep);
		}
		for (int j = k + 1; j < 3; j++)
			assert_v(names[j], 1);
		set_ready(names[k]);
	}
	apply_parts(&cc, parent, 2, &rep);
	cr_assert_eq(rep.rollout.state, ROLLOUT_DONE, "%s", rep.rollout.message);
	apply_report_clear(&rep);
	struct json_object *a1 = get_part("a");
	if (strategy == UPDATE_ROLLING_RECREATE)
		cr_assert_str_neq(str(a1, "metadata.uid"), uid_a, "RollingRecreate re-creates");
	else
		cr_assert_str_eq(str(a1, "metadata.uid"), uid_a, "RollingInPlace updates in place");
	json_object_put(a1);
	json_object_put(parent);
}

Test(reconcile, rolling_in_place_pauses_on_status_checks)
{
	rollout(UPDATE_ROLLING_INPLACE, "rc-rollinplace");
}

Test(reconcile, rolling_recreate_pauses_on_status_checks)
{
	rollout(UPDATE_ROLLING_RECREATE, "rc-rollrecreate");
}

/* The controller of the ConfigMap tests as a metacontroller definition. */
static struct config_controller mc_cms(enum update_strategy strategy, bool generate)
{
	static char fin[] = "metacontroller.io/compositecontroller-recon";
	struct config_controller cc = *controller(strategy, NULL, NULL);
	cc.origin = CONFIG_ORIGIN_METACONTROLLER;
	cc.generate_selector = generate;
	cc.finalizer = fin;
	return cc;
}

/* Creates ConfigMap name with labels (JSON object text) and, when
 * owner_uid is set, a controller ownerReference to Gadget g of that uid. */
static void make_cm(const char *name, const char *labels, const char *owner_uid)
{
	char path[PATH_LEN], body[1024], owner[512] = "";
	if (owner_uid)
		snprintf(owner, sizeof(owner),
			 ",\"ownerReferences\":[{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Gadget\",\"name\":\"g\","
			 "\"uid\":\"%s\",\"controller\":true}]",
			 owner_uid);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\",\"labels\":%s%s},"
		 "\"data\":{\"value\":\"0\"}}",
		 name, labels, owner);
	struct json_object *o = json(body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, path, o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

/* generateSelector (metacontroller): children are claimed by the label
 * controller-uid=<parent uid>, which every desired child gets; an orphan
 * with it is adopted, one without it is not; a child the hook labels
 * otherwise fails; a claimed child the hook no longer returns is deleted
 * even without coxswain's label (metacontroller created it), one this
 * parent controls that the selector does not match is left alone. */
Test(reconcile, generate_selector_claims_by_controller_uid)
{
	prepare("rc-gensel");
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_cms(UPDATE_INPLACE, true);
	const char *uid = str(parent, "metadata.uid");
	char labels[256];
	snprintf(labels, sizeof(labels), "{\"controller-uid\":\"%s\"}", uid);
	make_cm("orphan", labels, NULL);
	make_cm("stranger", "{\"app\":\"gadget\"}", NULL);
	make_cm("legacy", labels, uid);
	make_cm("unselected", "{\"app\":\"gadget\"}", uid);

	char *a = cm_json("a", "1"), *orphan = cm_json("orphan", "1"), *stranger = cm_json("stranger", "1");
	char desired[4096];
	snprintf(desired, sizeof(desired), "[%s,%s,%s]", a, orphan, stranger);
	struct apply_report rep;
	cr_assert_eq(apply(&cc, parent, desired, &rep), -EIO);
	assert_action(&rep, "a", APPLY_CREATED);
	assert_action(&rep, "orphan", APPLY_ADOPTED);
	assert_action(&rep, "stranger", APPLY_CONFLICT);
	cr_assert(strstr(result(&rep, "stranger")->err.msg, "selector"), "%s", result(&rep, "stranger")->err.msg);
	assert_action(&rep, "legacy", APPLY_DELETED);
	for (size_t i = 0; i < rep.n; i++)
		cr_assert_str_neq(rep.results[i].name, "unselected", "not claimed: not pruned");
	apply_report_clear(&rep);
	struct json_object *cm = get_cm("a");
	cr_assert_str_eq(str(cm, "metadata.labels.controller-uid"), uid);
	cr_assert_str_eq(str(cm, "metadata.labels.app"), "gadget");
	json_object_put(cm);
	cm = get_cm("orphan");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), uid);
	json_object_put(cm);
	cr_assert(cm_exists("unselected"));

	/* A hook that labels a child for another parent. */
	const char *other = "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\",\"labels\":"
			    "{\"controller-uid\":\"someone-else\"}},\"data\":{\"value\":\"1\"}}]";
	cr_assert_eq(apply(&cc, parent, other, &rep), -EIO);
	assert_action(&rep, "x", APPLY_FAILED);
	cr_assert(strstr(result(&rep, "x")->err.msg, "don't match parent selector"), "%s", result(&rep, "x")->err.msg);
	apply_report_clear(&rep);
	cr_assert_not(cm_exists("x"));
	free(a);
	free(orphan);
	free(stranger);
	json_object_put(parent);
}

/* Without generateSelector a metacontroller parent needs spec.selector,
 * and its children must match it. */
Test(reconcile, metacontroller_parents_need_a_selector)
{
	prepare("rc-specsel");
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_cms(UPDATE_INPLACE, false);
	char *a = cm_json("a", "1"), desired[1024];
	snprintf(desired, sizeof(desired), "[%s]", a);
	struct json_object *observed = observe(), *want = json(desired);
	struct apply_report rep;
	struct cx_err err = { 0 };
	cr_assert_eq(apply_children(c, d, &cc, parent, observed, want, &rep, &err), -EINVAL);
	cr_assert(strstr(err.msg, ".spec.selector must have either matchLabels, matchExpressions, or both"), "%s",
		  err.msg);
	apply_report_clear(&rep);
	cr_assert_not(cm_exists("a"));

	/* With one: a child it matches is written, one it does not fails. */
	struct json_object *patch = json("{\"spec\":{\"selector\":{\"matchExpressions\":[{\"key\":\"app\","
					 "\"operator\":\"In\",\"values\":[\"gadget\"]}]}}}"),
			   *with = NULL;
	char *path = parent_path("g");
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, &with, &err), 0, "%s", err.msg);
	const char *two = "[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"labels\":"
			  "{\"app\":\"gadget\"}}},{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
			  "{\"name\":\"b\",\"labels\":{\"app\":\"other\"}}}]";
	cr_assert_eq(apply(&cc, with, two, &rep), -EIO);
	assert_action(&rep, "a", APPLY_CREATED);
	assert_action(&rep, "b", APPLY_FAILED);
	apply_report_clear(&rep);
	free(path);
	free(a);
	json_object_put(patch);
	json_object_put(with);
	json_object_put(observed);
	json_object_put(want);
	json_object_put(parent);
}

/* OnDelete, metacontroller's default method: a missing child is created,
 * an existing one is never updated, a deleted one comes back as desired. */
Test(reconcile, metacontroller_on_delete_creates_and_never_updates)
{
	prepare("rc-mcondelete");
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_cms(UPDATE_ONDELETE, true);
	char *a1 = cm_json("a", "1"), *a2 = cm_json("a", "2"), desired[1024];
	struct apply_report rep;
	snprintf(desired, sizeof(desired), "[%s]", a1);
	cr_assert_eq(apply(&cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_CREATED);
	apply_report_clear(&rep);
	snprintf(desired, sizeof(desired), "[%s]", a2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(apply(&cc, parent, desired, &rep), 0);
		assert_action(&rep, "a", APPLY_UNCHANGED);
		apply_report_clear(&rep);
	}
	struct json_object *cm = get_cm("a");
	cr_assert_str_eq(str(cm, "data.value"), "1");
	json_object_put(cm);
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/a", ns);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(apply(&cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_CREATED);
	apply_report_clear(&rep);
	cm = get_cm("a");
	cr_assert_str_eq(str(cm, "data.value"), "2");
	json_object_put(cm);
	free(a1);
	free(a2);
	json_object_put(parent);
}

#define SPROCKET_CRD                                                                                                   \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: sprockets." GROUP "}\n"                                                                      \
	"spec:\n"                                                                                                      \
	"  group: " GROUP "\n"                                                                                         \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: sprockets, singular: sprocket, kind: Sprocket}\n"                                           \
	"  versions:\n"                                                                                                \
	"  - name: v1\n"                                                                                               \
	"    served: true\n"                                                                                           \
	"    storage: true\n"                                                                                          \
	"    subresources: {status: {}}\n"                                                                             \
	"    schema:\n"                                                                                                \
	"      openAPIV3Schema:\n"                                                                                     \
	"        type: object\n"                                                                                       \
	"        properties:\n"                                                                                        \
	"          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"                                 \
	"          status:\n"                                                                                          \
	"            type: object\n"                                                                                   \
	"            properties:\n"                                                                                    \
	"              replicas: {type: integer}\n"                                                                    \
	"              observedGeneration: {type: integer}\n"                                                          \
	"              conditions:\n"                                                                                  \
	"                type: array\n"                                                                                \
	"                items: {type: object, x-kubernetes-preserve-unknown-fields: true}\n"

/* Runs one sync job of controller cc (a config of its own) for parent
 * through the reconciler, as a worker does; its RESULT's writes into
 * *writes (owned) when writes is not NULL. */
static enum proto_outcome sync_job_writes(struct config_controller *cc, struct json_object *parent,
					  struct json_object *children, struct json_object **writes)
{
	struct config cfg = { .controllers = cc, .n_controllers = 1 };
	struct cx_err err = { 0 };
	struct reconciler *r = NULL;
	reconciler_new(c, &cfg, &r, &err);
	cr_assert_not_null(r, "%s", err.msg);
	char key[256];
	snprintf(key, sizeof(key), "%s/%s/%s", cc->name, ns, str(parent, "metadata.name"));
	struct proto_job job = { .job = 1,
				 .attempt = 1,
				 .kind = PROTO_JOB_SYNC,
				 .controller = cc->name,
				 .key = key,
				 .parent = parent,
				 .children = children };
	struct reconcile_outcome out;
	reconcile_job(r, &job, &out);
	json_object_put(out.related_rules);
	if (writes)
		*writes = out.writes;
	else
		json_object_put(out.writes);
	json_object_put(children);
	reconciler_free(&r);
	return out.outcome;
}

static enum proto_outcome sync_job_with(struct config_controller *cc, struct json_object *parent,
					struct json_object *children)
{
	return sync_job_writes(cc, parent, children, NULL);
}

static enum proto_outcome sync_job(struct config_controller *cc, struct json_object *parent)
{
	return sync_job_with(cc, parent, json("{\"ConfigMap.v1\":{}}"));
}

static void hook_says(struct config_controller *cc, const char *script)
{
	static char sh[] = "/bin/sh", dash_c[] = "-c", body[1024];
	static char *argv[4];
	snprintf(body, sizeof(body), "%s", script);
	argv[0] = sh;
	argv[1] = dash_c;
	argv[2] = body;
	argv[3] = NULL;
	cc->sync = (struct config_hook){
		.set = true, .command = argv, .n_command = 3, .timeout_seconds = 10, .timeout_ms = 10000
	};
}

/* A metacontroller definition's parent gets what metacontroller writes:
 * the hook's status replacing the old one, plus observedGeneration, and
 * coxswain's conditions only where the CRD's status schema declares
 * status.conditions; a failing hook leaves the status alone. */
Test(reconcile, metacontroller_status_is_the_hooks_plus_observed_generation)
{
	prepare("rc-mcstatus");
	struct json_object *parent = make_parent("g", NULL);
	char *path = parent_path("g"), *status_path = NULL;
	cr_assert_geq(asprintf(&status_path, "%s/status", path), 0);
	struct json_object *old = json("{\"status\":{\"old\":1}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, status_path, KCLIENT_PATCH_MERGE, old, NULL, &err), 0, "%s", err.msg);
	json_object_put(old);
	json_object_put(parent);
	parent = get(path); /* as the watcher would hand it over */

	struct config_controller cc = mc_cms(UPDATE_INPLACE, true);
	hook_says(&cc, "cat >/dev/null; echo '{\"status\":{\"replicas\":3},\"children\":[]}'");
	cr_assert_eq(sync_job(&cc, parent), PROTO_OUTCOME_OK);
	struct json_object *now = get(path);
	cr_assert_eq(json_object_get_int(at(now, "status.replicas")), 3, "%s", json_object_to_json_string(now));
	cr_assert_eq(json_object_get_int64(at(now, "status.observedGeneration")),
		     json_object_get_int64(at(now, "metadata.generation")));
	cr_assert_null(at(now, "status.old"), "replaced: %s", json_object_to_json_string(now));
	cr_assert_null(at(now, "status.conditions"), "Gadget's schema declares no conditions");
	json_object_put(now);

	/* A failing hook: the status stays as the last answer left it. */
	hook_says(&cc, "cat >/dev/null; exit 3");
	cr_assert_eq(sync_job(&cc, parent), PROTO_OUTCOME_ERROR);
	now = get(path);
	cr_assert_eq(json_object_get_int(at(now, "status.replicas")), 3, "%s", json_object_to_json_string(now));
	cr_assert_null(at(now, "status.conditions"));
	json_object_put(now);

	/* A coxswain.yaml controller over the same parent writes its conditions. */
	struct config_controller file = *controller(UPDATE_INPLACE, NULL, NULL);
	hook_says(&file, "cat >/dev/null; echo '{\"status\":{\"replicas\":4},\"children\":[]}'");
	cr_assert_eq(sync_job(&file, parent), PROTO_OUTCOME_OK);
	now = get(path);
	cr_assert_not_null(at(now, "status.conditions"), "%s", json_object_to_json_string(now));
	json_object_put(now);
	free(status_path);
	free(path);
	json_object_put(parent);
}

/* Where the CRD declares status.conditions, a metacontroller parent gets
 * Synced and Ready next to the hook's status. */
Test(reconcile, metacontroller_status_has_conditions_where_the_schema_declares_them)
{
	prepare("rc-mcconds");
	int r = 1;
	for (int i = 0; i < 5 && r; i++)
		if ((r = live_kubectl(SPROCKET_CRD, "apply -f -")))
			usleep(200 * 1000);
	cr_assert_eq(r, 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/sprockets." GROUP), 0);
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/apis/" API_VERSION "/namespaces/%s/sprockets", ns);
	struct json_object *body = json("{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Sprocket\",\"metadata\":"
					"{\"name\":\"s\"},\"spec\":{}}"),
			   *parent = NULL;
	struct cx_err err = { 0 };
	for (int i = 0; i < 100; i++) {
		if (!(r = kclient_create(c, path, body, &parent, &err)))
			break;
		cr_assert_eq(r, -ENOENT, "%s", err.msg);
		usleep(100 * 1000);
	}
	cr_assert_eq(r, 0, "%s", err.msg);
	json_object_put(body);
	struct config_controller cc = mc_cms(UPDATE_INPLACE, true);
	static char skind[] = "Sprocket";
	cc.parent_kind = skind;
	hook_says(&cc, "cat >/dev/null; echo '{\"status\":{\"replicas\":3},\"children\":[]}'");
	cr_assert_eq(sync_job(&cc, parent), PROTO_OUTCOME_OK);
	snprintf(path, sizeof(path), "/apis/" API_VERSION "/namespaces/%s/sprockets/s", ns);
	struct json_object *now = get(path);
	cr_assert_eq(json_object_get_int(at(now, "status.replicas")), 3, "%s", json_object_to_json_string(now));
	cr_assert_str_eq(str(now, "status.conditions.0.type"), "Synced", "%s", json_object_to_json_string(now));
	cr_assert_str_eq(str(now, "status.conditions.0.status"), "True");
	json_object_put(now);
	json_object_put(parent);
}

/* A DecoratorController has no rollout: its rolling attachments are written
 * at once (RollingInPlace as InPlace), and no selector is needed. */
Test(reconcile, a_decorator_has_no_rollout)
{
	prepare("rc-decoroll");
	prepare_parts();
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_parts(UPDATE_ROLLING_INPLACE);
	cc.kind = CONFIG_KIND_DECORATOR;
	cc.generate_selector = false;
	struct apply_report rep;
	apply_parts(&cc, parent, 1, &rep);
	apply_report_clear(&rep);
	apply_parts(&cc, parent, 2, &rep);
	cr_assert_eq(rep.rollout.state, ROLLOUT_NONE);
	assert_action(&rep, "a", APPLY_UPDATED);
	assert_action(&rep, "b", APPLY_UPDATED);
	assert_action(&rep, "c", APPLY_UPDATED);
	apply_report_clear(&rep);
	json_object_put(parent);
}

/* The rollout's progress shows in the parent's status as metacontroller
 * writes it: condition Updated (RolloutProgressing, RolloutWaiting,
 * OnLatestRevision) next to the hook's status. */
Test(reconcile, the_rollout_shows_in_the_parents_status)
{
	prepare("rc-rollstatus");
	prepare_parts();
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller cc = mc_parts(UPDATE_ROLLING_INPLACE);
	char *path = parent_path("g");
#define ROLL_HOOK                                                                                                      \
	"cat >/dev/null; echo '{\"status\":{\"replicas\":2},\"children\":["                                            \
	"{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Part\",\"metadata\":{\"name\":\"a\"},"                         \
	"\"spec\":{\"v\":%d}},"                                                                                        \
	"{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Part\",\"metadata\":{\"name\":\"b\"},"                         \
	"\"spec\":{\"v\":%d}}]}'"
	char script[1024];
	const struct {
		int v;
		const char *status, *reason;
	} steps[] = { { 1, "True", "OnLatestRevision" },
		      { 2, "False", "RolloutProgressing" },
		      { 2, "False", "RolloutWaiting" } };
	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++) {
		snprintf(script, sizeof(script), ROLL_HOOK, steps[i].v, steps[i].v);
		hook_says(&cc, script);
		struct json_object *now = get(path);
		cr_assert_eq(sync_job_with(&cc, now, observe_parts()), PROTO_OUTCOME_OK);
		json_object_put(now);
		now = get(path);
		cr_assert_eq(json_object_get_int(at(now, "status.replicas")), 2, "%s", json_object_to_json_string(now));
		cr_assert_str_eq(str(now, "status.conditions.0.type"), "Updated", "%s",
				 json_object_to_json_string(now));
		cr_assert_str_eq(str(now, "status.conditions.0.status"), steps[i].status, "%zu: %s", i,
				 json_object_to_json_string(now));
		cr_assert_str_eq(str(now, "status.conditions.0.reason"), steps[i].reason, "%zu: %s", i,
				 json_object_to_json_string(now));
		json_object_put(now);
	}
	free(path);
	json_object_put(parent);
}

/* The ConfigMap entry rel of observed (NULL when absent). */
static struct json_object *observed_cm(struct json_object *observed, const char *rel)
{
	struct json_object *of_kind = NULL, *o = NULL;
	if (!json_object_object_get_ex(observed, "ConfigMap.v1", &of_kind) || !of_kind ||
	    !json_object_object_get_ex(of_kind, rel, &o))
		return NULL;
	return o;
}

/* metacontroller's claim before the hook (apply_adopt_orphans): an orphan
 * the parent's selector matches is adopted (controller ownerReference,
 * blockOwnerDeletion) and stays in the observed children, so the hook sees
 * it and the prune deletes it when the hook does not return it; an orphan
 * the selector does not match, or one changed since it was observed (the
 * resourceVersion precondition), leaves the observed children untouched on
 * the server; a coxswain.yaml controller and a parent being deleted adopt
 * nothing. */
Test(reconcile, metacontroller_adopts_matching_orphans_before_the_hook)
{
	prepare("rc-adopt");
	struct json_object *parent = make_parent("g", NULL);
	struct config_controller mc = mc_cms(UPDATE_INPLACE, true);
	const char *uid = str(parent, "metadata.uid");
	char labels[256];
	snprintf(labels, sizeof(labels), "{\"controller-uid\":\"%s\"}", uid);
	make_cm("stray", labels, NULL);
	make_cm("stale", labels, NULL);
	make_cm("other", "{\"controller-uid\":\"00000000-0000-0000-0000-000000000000\"}", NULL);
	struct cx_err err = { 0 };

	/* A coxswain.yaml controller: only adoptOrphans adopts, at apply time. */
	struct json_object *observed = observe();
	cr_assert_eq(apply_adopt_orphans(c, d, controller(UPDATE_INPLACE, NULL, NULL), parent, observed, &err), 0, "%s",
		     err.msg);
	cr_assert_not_null(observed_cm(observed, "stray"));
	cr_assert_null(at(observed_cm(observed, "stray"), "metadata.ownerReferences"));
	json_object_put(observed);

	/* Being deleted: nothing adopted, the orphans leave the request. */
	observed = observe();
	struct json_object *dying = NULL;
	cr_assert_eq(json_object_deep_copy(parent, &dying, NULL), 0);
	json_object_object_add(at(dying, "metadata"), "deletionTimestamp",
			       json_object_new_string("2026-01-01T00:00:00Z"));
	cr_assert_eq(apply_adopt_orphans(c, d, &mc, dying, observed, &err), 0, "%s", err.msg);
	cr_assert_null(observed_cm(observed, "stray"));
	json_object_put(dying);
	json_object_put(observed);
	struct json_object *cm = get_cm("stray");
	cr_assert_null(at(cm, "metadata.ownerReferences"), "a dying parent adopts nothing");
	json_object_put(cm);

	/* "stale" changes after it was observed: someone else's turn. */
	observed = observe();
	struct json_object *relabel = json("{\"metadata\":{\"annotations\":{\"touched\":\"yes\"}}}");
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/stale", ns);
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, relabel, NULL, &err), 0, "%s", err.msg);
	json_object_put(relabel);
	cr_assert_eq(apply_adopt_orphans(c, d, &mc, parent, observed, &err), 0, "%s", err.msg);
	struct json_object *stray = observed_cm(observed, "stray");
	cr_assert_not_null(stray, "adopted, the hook sees it");
	cr_assert_str_eq(str(stray, "metadata.ownerReferences.0.uid"), uid);
	cr_assert_null(observed_cm(observed, "other"), "not matched: not in the request");
	cr_assert_null(observed_cm(observed, "stale"), "changed meanwhile: not adopted");
	cm = get_cm("stray");
	cr_assert_str_eq(str(cm, "metadata.ownerReferences.0.uid"), uid);
	cr_assert(json_object_get_boolean(at(cm, "metadata.ownerReferences.0.controller")));
	cr_assert(json_object_get_boolean(at(cm, "metadata.ownerReferences.0.blockOwnerDeletion")));
	cr_assert_str_eq(str(cm, "data.value"), "0", "only the ownerReference is written");
	json_object_put(cm);
	cm = get_cm("stale");
	cr_assert_null(at(cm, "metadata.ownerReferences"));
	json_object_put(cm);
	cm = get_cm("other");
	cr_assert_null(at(cm, "metadata.ownerReferences"));
	json_object_put(cm);

	/* Not returned by the hook: pruned like any other child. */
	struct json_object *none = json("[]");
	struct apply_report rep;
	cr_assert_eq(apply_children(c, d, &mc, parent, observed, none, &rep, &err), 0, "%s", err.msg);
	assert_action(&rep, "stray", APPLY_DELETED);
	apply_report_clear(&rep);
	cr_assert_not(cm_exists("stray"));
	cr_assert(cm_exists("stale"));
	cr_assert(cm_exists("other"));
	json_object_put(none);
	json_object_put(observed);
	json_object_put(parent);
}

/* A job's RESULT lists only what it wrote: the status it changed, at the
 * version the server answered with; a job that changed nothing lists
 * nothing. The parent as the job received it was not written (a finalizer
 * already as wanted makes no request): listing it would keep the watcher
 * waiting for an echo that never comes. */
Test(reconcile, a_job_reports_only_the_writes_it_made)
{
	prepare("rc-jobwrites");
	struct json_object *parent = make_parent("w", NULL);
	char *path = parent_path("w");
	struct config_controller cc = *controller(UPDATE_INPLACE, NULL, NULL);
	hook_says(&cc, "cat >/dev/null; echo '{\"status\":{\"replicas\":3},\"children\":[]}'");

	struct json_object *writes = NULL;
	cr_assert_eq(sync_job_writes(&cc, parent, json("{\"ConfigMap.v1\":{}}"), &writes), PROTO_OUTCOME_OK);
	struct json_object *now = get(path);
	cr_assert_eq(json_object_array_length(writes), 1, "the status only: %s", json_object_to_json_string(writes));
	struct json_object *w = json_object_array_get_idx(writes, 0);
	cr_assert_str_eq(str(w, "name"), "w");
	cr_assert_str_eq(str(w, "resourceVersion"), str(now, "metadata.resourceVersion"), "%s",
			 json_object_to_json_string(writes));
	json_object_put(writes);

	/* Again, from the parent as it now is: nothing to write, nothing listed. */
	writes = NULL;
	cr_assert_eq(sync_job_writes(&cc, now, json("{\"ConfigMap.v1\":{}}"), &writes), PROTO_OUTCOME_OK);
	struct json_object *after = get(path);
	cr_assert_str_eq(str(after, "metadata.resourceVersion"), str(now, "metadata.resourceVersion"),
			 "the second job wrote the parent");
	cr_assert_eq(json_object_array_length(writes), 0, "nothing written, yet listed: %s",
		     json_object_to_json_string(writes));
	json_object_put(writes);
	json_object_put(after);
	json_object_put(now);
	free(path);
	json_object_put(parent);
}

/* RESULT's writes (common/proto.h), as apply collects them: the update of a
 * child the hook had observed is there with the resourceVersion the server
 * now has; a create is not (its event must sync the parent, so that the hook
 * sees its new child), only the managedFields patch after a POST is; an
 * unchanged child adds nothing. */
Test(reconcile, apply_reports_its_writes_with_their_resource_versions)
{
	prepare("rc-writes");
	struct json_object *parent = make_parent("g", NULL);
	const struct config_controller *cc = controller(UPDATE_INPLACE, NULL, NULL);
	char *a = cm_json("a", "1"), *a2 = cm_json("a", "2"), desired[2048];
	snprintf(desired, sizeof(desired), "[%s]", a);

	struct apply_report rep;
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_CREATED);
	struct json_object *cm = get_cm("a");
	char want[512];
	snprintf(want, sizeof(want),
		 "[{\"kind\":\"ConfigMap.v1\",\"namespace\":\"%s\",\"name\":\"a\",\"resourceVersion\":"
		 "\"%s\"}]",
		 ns, str(cm, "metadata.resourceVersion"));
	struct json_object *w = json(want);
	/* The create-only apply is not reported; after a POST (a server that
	 * refuses it) only the managedFields patch is, at the live version. */
	cr_assert(json_object_array_length(rep.writes) == 0 || json_object_equal(rep.writes, w),
		  "created: got %s, want [] or %s", json_object_to_json_string(rep.writes), want);
	json_object_put(w);
	json_object_put(cm);
	apply_report_clear(&rep);

	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_UNCHANGED);
	cr_assert_eq(json_object_array_length(rep.writes), 0, "nothing written: %s",
		     json_object_to_json_string(rep.writes));
	apply_report_clear(&rep);

	snprintf(desired, sizeof(desired), "[%s]", a2);
	cr_assert_eq(apply(cc, parent, desired, &rep), 0);
	assert_action(&rep, "a", APPLY_UPDATED);
	cm = get_cm("a");
	snprintf(want, sizeof(want),
		 "[{\"kind\":\"ConfigMap.v1\",\"namespace\":\"%s\",\"name\":\"a\",\"resourceVersion\":"
		 "\"%s\"}]",
		 ns, str(cm, "metadata.resourceVersion"));
	w = json(want);
	cr_assert(json_object_equal(rep.writes, w), "updated: got %s, want %s", json_object_to_json_string(rep.writes),
		  want);
	json_object_put(w);
	json_object_put(cm);
	apply_report_clear(&rep);
	free(a);
	free(a2);
	json_object_put(parent);
}

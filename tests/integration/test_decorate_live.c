/* A DecoratorController's reconcile (worker/decorate) against the real
 * kube-apiserver: the hook's labels and annotations set by server-side
 * apply and removed when dropped or null, another manager's labels left
 * alone, the status written only when returned, an attachment Service
 * created with the controller ownerReference and pruned, the finalize flow,
 * and an object the annotation selector no longer selects left alone. The
 * decorator's controller is built by hand, as mcwire builds it from a
 * DecoratorController; the hook is a shell that prints a file the test
 * writes. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crdschema.h"
#include "cxconfig.h"
#include "decorate.h"
#include "discovery.h"
#include "err.h"
#include "events.h"
#include "hook.h"
#include "kclient.h"
#include "live.h"
#include "mcdef.h"
#include "proto.h"
#include "reconcile.h"
#include "restconfig.h"

static struct restconfig *rc;
static struct kclient *c;
static struct discovery *d;
static struct crdschema *schemas;
static struct events *events;
static char ns[64], answer_file[128];

#define PATH_LEN    512
#define GROUP       "decorate.coxswain.io"
#define API_VERSION GROUP "/v1"

#define THING_CRD                                                                                                      \
	"apiVersion: apiextensions.k8s.io/v1\n"                                                                        \
	"kind: CustomResourceDefinition\n"                                                                             \
	"metadata: {name: things." GROUP "}\n"                                                                         \
	"spec:\n"                                                                                                      \
	"  group: " GROUP "\n"                                                                                         \
	"  scope: Namespaced\n"                                                                                        \
	"  names: {plural: things, singular: thing, kind: Thing}\n"                                                    \
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
	schemas = crdschema_new(c, 0);
	events = events_new(c, "deco", 64);
	cr_assert(d && schemas && events);
}

static void teardown(void)
{
	if (ns[0]) {
		char path[PATH_LEN];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(c, path, NULL, NULL, NULL);
	}
	if (answer_file[0])
		unlink(answer_file);
	events_free(&events);
	crdschema_free(&schemas);
	discovery_free(&d);
	kclient_free(&c);
	restconfig_free(&rc);
}

TestSuite(decorate, .init = setup, .fini = teardown, .timeout = 120);

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
	for (char *save = NULL, *k = strtok_r(path, "|", &save); k; k = strtok_r(NULL, "|", &save)) {
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

/* Paths are "|"-separated: label keys hold dots. */
static const char *str(struct json_object *o, const char *path)
{
	return json_object_get_string(at(o, path));
}

static void prepare(const char *base)
{
	int r = 1;
	for (int i = 0; i < 5 && r; i++)
		if ((r = live_kubectl(THING_CRD, "apply -f -")))
			usleep(200 * 1000);
	cr_assert_eq(r, 0);
	cr_assert_eq(live_kubectl(NULL, "wait --for=condition=Established --timeout=30s crd/things." GROUP), 0);
	snprintf(ns, sizeof(ns), "%s-%d", base, (int)getpid());
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json(body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(c, "/api/v1/namespaces", o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
	snprintf(answer_file, sizeof(answer_file), "/tmp/coxswain-decorate-%s.json", ns);
}

static char *thing_path(const char *name)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "/apis/" API_VERSION "/namespaces/%s/things/%s", ns, name), 0);
	return p;
}

static struct json_object *get(const char *path)
{
	struct json_object *o = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(c, path, &o, &err), 0, "%s: %s", path, err.msg);
	return o;
}

static bool exists(const char *path)
{
	struct json_object *o = NULL;
	struct cx_err err = { 0 };
	int r = kclient_get(c, path, &o, &err);
	json_object_put(o);
	cr_assert(r == 0 || r == -ENOENT, "%s", err.msg);
	return r == 0;
}

/* Creates Thing name with labels (a JSON object text) written by another
 * manager ("someone-else", by server-side apply). */
static struct json_object *make_thing(const char *name, const char *labels, const char *annotations)
{
	char body[1024];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"" API_VERSION "\",\"kind\":\"Thing\",\"metadata\":{\"name\":\"%s\",\"labels\":%s,"
		 "\"annotations\":%s},\"spec\":{\"size\":1}}",
		 name, labels, annotations);
	char *path = thing_path(name);
	struct cx_err err = { 0 };
	for (int i = 0; i < 100; i++) {
		struct json_object *o = json(body), *out = NULL;
		int r = kclient_apply(c, path, o, "someone-else", true, &out, &err);
		json_object_put(o);
		if (r == 0) {
			free(path);
			return out;
		}
		cr_assert_eq(r, -ENOENT, "%s", err.msg);
		usleep(100 * 1000); /* Established a moment before it is served */
	}
	cr_assert_fail("Things are not served: %s", err.msg);
	return NULL;
}

/* The decorator "deco": Service attachments, exec hooks printing
 * answer_file, a finalize hook when finalize, the annotation selector sel. */
static struct config_child kids[1];
static struct config_controller ctl;
static char *argv_buf[4];
static char cmd[256];

static const struct config_controller *controller(bool finalize, const struct selector *sel)
{
	static char name[] = "deco", papi[] = API_VERSION, pkind[] = "Thing", v1[] = "v1", svc[] = "Service";
	static char fm[] = "coxswain/deco", fin[] = "coxswain.io/deco", sh[] = "/bin/sh", dash_c[] = "-c", all[] = "";
	snprintf(cmd, sizeof(cmd), "cat >/dev/null; cat %s", answer_file);
	argv_buf[0] = sh;
	argv_buf[1] = dash_c;
	argv_buf[2] = cmd;
	argv_buf[3] = NULL;
	kids[0] = (struct config_child){ .api_version = v1, .kind = svc, .update_strategy = UPDATE_INPLACE };
	struct config_hook hook = {
		.set = true, .command = argv_buf, .n_command = 3, .timeout_seconds = 10, .timeout_ms = 10000
	};
	ctl = (struct config_controller){ .name = name,
					  .parent_api_version = papi,
					  .parent_kind = pkind,
					  .children = kids,
					  .n_children = 1,
					  .sync = hook,
					  .namespace = all,
					  .origin = CONFIG_ORIGIN_METACONTROLLER,
					  .kind = CONFIG_KIND_DECORATOR,
					  .annotation_selector = sel,
					  .finalizer = fin,
					  .field_manager = fm };
	if (finalize)
		ctl.finalize = hook;
	return &ctl;
}

static void answer(const char *text)
{
	FILE *f = fopen(answer_file, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static int collect(void *ud, struct json_object *item, struct cx_err *err)
{
	(void)err;
	json_object_object_add(ud, str(item, "metadata|name"), json_object_get(item));
	return 0;
}

/* What the watcher's cache would hand over: the namespace's Services. */
static struct json_object *observe(void)
{
	struct json_object *svcs = json_object_new_object(), *all = json_object_new_object();
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/services", ns);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_list(c, path, NULL, collect, svcs, NULL, &err), 0, "%s", err.msg);
	json_object_object_add(all, "Service.v1", svcs);
	return all;
}

/* One job for Thing name, as it is now. */
static struct reconcile_outcome run(const struct config_controller *cc, const char *name)
{
	static const struct hook_child_kind kinds[] = { { "v1", "Service" } };
	char *path = thing_path(name);
	struct json_object *obj = get(path), *observed = observe();
	struct json_object *controller_obj = json("{\"apiVersion\":\"metacontroller.k8s.io/v1alpha1\","
						  "\"kind\":\"DecoratorController\",\"metadata\":{\"name\":\"deco\"}}");
	char key[256];
	snprintf(key, sizeof(key), "deco/%s/%s", ns, name);
	struct proto_job job = { .job = 1,
				 .attempt = 1,
				 .kind = PROTO_JOB_SYNC,
				 .controller = "deco",
				 .key = key,
				 .parent = obj,
				 .children = observed };
	struct decorate_env env = { .c = c,
				    .d = d,
				    .schemas = schemas,
				    .events = events,
				    .cc = cc,
				    .controller = controller_obj,
				    .kinds = kinds };
	struct reconcile_outcome out;
	decorate_job(&env, &job, &out);
	json_object_put(obj);
	json_object_put(observed);
	json_object_put(controller_obj);
	free(path);
	return out;
}

#define SERVICE(name)                                                                                                  \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" name "\"},"                            \
	"\"spec\":{\"ports\":[{\"port\":80}],\"selector\":{\"app\":\"x\"}}}"

/* Whether manager owns label key on o (its managedFields). */
static bool owns_label(struct json_object *o, const char *manager, const char *key)
{
	struct json_object *mf = at(o, "metadata|managedFields");
	char fkey[256];
	snprintf(fkey, sizeof(fkey), "f:%s", key);
	for (size_t i = 0; mf && i < json_object_array_length(mf); i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		if (strcmp(str(e, "manager") ?: "", manager))
			continue;
		if (at(e, "fieldsV1|f:metadata|f:labels") && at(at(e, "fieldsV1|f:metadata|f:labels"), fkey))
			return true;
	}
	return false;
}

Test(decorate, labels_annotations_status_and_attachments)
{
	prepare("decorate-sync");
	json_object_put(make_thing("t1", "{\"theirs\":\"x\",\"doomed\":\"y\"}", "{\"kept\":\"k\"}"));
	const struct config_controller *cc = controller(false, NULL);
	answer("{\"labels\":{\"mine\":\"1\",\"doomed\":null},\"annotations\":{\"note\":\"hello\"},"
	       "\"status\":{\"phase\":\"Decorated\",\"extra\":\"e\"},\"attachments\":[" SERVICE("t1-svc") "]}");
	struct reconcile_outcome out = run(cc, "t1");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);

	char *path = thing_path("t1");
	struct json_object *o = get(path);
	cr_assert_str_eq(str(o, "metadata|labels|mine"), "1");
	cr_assert_str_eq(str(o, "metadata|labels|theirs"), "x", "another manager's label stays");
	cr_assert_null(at(o, "metadata|labels|doomed"), "null removes a label another manager set");
	cr_assert_str_eq(str(o, "metadata|annotations|note"), "hello");
	cr_assert_str_eq(str(o, "metadata|annotations|kept"), "k");
	cr_assert_str_eq(str(o, "status|phase"), "Decorated");
	cr_assert_eq(json_object_get_int(at(o, "spec|size")), 1, "the spec is not touched");
	cr_assert(owns_label(o, "coxswain/deco", "mine"));
	cr_assert_not(owns_label(o, "coxswain/deco", "theirs"));
	cr_assert_null(at(o, "metadata|finalizers"), "no finalize hook: no finalizer");
	cr_assert_null(at(o, "metadata|ownerReferences"), "the decorated object is not owned");
	const char *uid = str(o, "metadata|uid");

	char svc_path[PATH_LEN];
	snprintf(svc_path, sizeof(svc_path), "/api/v1/namespaces/%s/services/t1-svc", ns);
	struct json_object *svc = get(svc_path);
	cr_assert_str_eq(str(svc, "metadata|ownerReferences|0|uid"), uid);
	cr_assert_str_eq(str(svc, "metadata|ownerReferences|0|kind"), "Thing");
	cr_assert(json_object_get_boolean(at(svc, "metadata|ownerReferences|0|controller")));
	cr_assert_str_eq(str(svc, "metadata|annotations|" DECORATE_ATTACHMENT_ANNOTATION), "deco");
	json_object_put(svc);
	json_object_put(o);

	/* Same answer again: nothing changes (no new resourceVersion). */
	o = get(path);
	char rv[64];
	snprintf(rv, sizeof(rv), "%s", str(o, "metadata|resourceVersion"));
	json_object_put(o);
	out = run(cc, "t1");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	o = get(path);
	cr_assert_str_eq(str(o, "metadata|resourceVersion"), rv, "a repeated answer writes nothing");
	json_object_put(o);

	/* The hook drops its label, changes its annotation, returns no status
	 * and no attachment. */
	answer("{\"labels\":{},\"annotations\":{\"note\":\"again\"},\"attachments\":[],\"resyncAfterSeconds\":2}");
	out = run(cc, "t1");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	cr_assert_eq(out.requeue_after_ms, 2000);
	o = get(path);
	cr_assert_null(at(o, "metadata|labels|mine"), "a label the hook stops returning is removed");
	cr_assert_str_eq(str(o, "metadata|labels|theirs"), "x");
	cr_assert_str_eq(str(o, "metadata|annotations|note"), "again");
	cr_assert_str_eq(str(o, "status|phase"), "Decorated", "no status in the answer: left alone");
	cr_assert_str_eq(str(o, "status|extra"), "e");
	json_object_put(o);

	/* A status in the answer replaces a custom resource's whole status. */
	answer("{\"labels\":{},\"annotations\":{\"note\":\"again\"},\"status\":{\"phase\":\"Again\"}}");
	out = run(cc, "t1");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	o = get(path);
	cr_assert_str_eq(str(o, "status|phase"), "Again");
	cr_assert_null(at(o, "status|extra"), "the hook's status is the whole status");
	json_object_put(o);
	/* Pruned: deleted with background propagation; gone at once for a Service. */
	bool gone = false;
	for (int i = 0; i < 100 && !(gone = !exists(svc_path)); i++)
		usleep(100 * 1000);
	cr_assert(gone, "the attachment the hook dropped is pruned");
	free(path);
}

Test(decorate, a_bad_answer_changes_nothing)
{
	prepare("decorate-bad");
	json_object_put(make_thing("t2", "{\"theirs\":\"x\"}", "{}"));
	answer("{\"labels\":{\"mine\":1}}");
	struct reconcile_outcome out = run(controller(false, NULL), "t2");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_ERROR);
	cr_assert(strstr(out.message, "labels.mine: expected a string or null, got a number"), "%s", out.message);
	char *path = thing_path("t2");
	struct json_object *o = get(path);
	cr_assert_null(at(o, "metadata|labels|mine"));
	json_object_put(o);
	free(path);
}

Test(decorate, finalize_until_finalized)
{
	prepare("decorate-fin");
	json_object_put(make_thing("t3", "{}", "{}"));
	const struct config_controller *cc = controller(true, NULL);
	answer("{\"labels\":{\"mine\":\"1\"},\"attachments\":[" SERVICE("t3-svc") "]}");
	struct reconcile_outcome out = run(cc, "t3");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	char *path = thing_path("t3");
	struct json_object *o = get(path);
	cr_assert_str_eq(str(o, "metadata|finalizers|0"), "coxswain.io/deco");
	json_object_put(o);

	struct cx_err err = { 0 };
	cr_assert_eq(kclient_delete(c, path, NULL, NULL, &err), 0, "%s", err.msg);
	answer("{\"labels\":{\"mine\":\"cleaning\"},\"status\":{\"phase\":\"Finalizing\"},\"finalized\":false}");
	out = run(cc, "t3");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_REQUEUE, "%s", out.message);
	o = get(path);
	cr_assert_str_eq(str(o, "metadata|labels|mine"), "cleaning", "a finalize answer is applied");
	cr_assert_str_eq(str(o, "status|phase"), "Finalizing");
	json_object_put(o);
	char svc_path[PATH_LEN];
	snprintf(svc_path, sizeof(svc_path), "/api/v1/namespaces/%s/services/t3-svc", ns);
	cr_assert(exists(svc_path), "a finalize answer without attachments leaves them alone");

	answer("{\"finalized\":true}");
	out = run(cc, "t3");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	bool gone = false;
	for (int i = 0; i < 100 && !(gone = !exists(path)); i++)
		usleep(100 * 1000);
	cr_assert(gone, "finalized: the finalizer comes off and the object goes");
	free(path);
}

Test(decorate, an_unselected_object_is_left_alone)
{
	prepare("decorate-sel");
	json_object_put(make_thing("t4", "{}", "{\"decorate\":\"no\"}"));
	static char key[] = "decorate", yes[] = "yes";
	static char *keys[] = { key }, *values[] = { yes };
	static const struct selector sel = {
		.set = true, .has_match = true, .match_keys = keys, .match_values = values, .n_match = 1
	};
	const struct config_controller *cc = controller(true, &sel);
	answer("{\"labels\":{\"mine\":\"1\"}}");
	struct reconcile_outcome out = run(cc, "t4");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	char *path = thing_path("t4");
	struct json_object *o = get(path);
	cr_assert_null(at(o, "metadata|labels|mine"), "not selected: the hook is not applied");
	cr_assert_null(at(o, "metadata|finalizers"));
	json_object_put(o);

	/* Selected: decorated, with the finalizer; unselected again: the
	 * finalizer comes off, the labels stay as they were. */
	struct json_object *patch = json("{\"metadata\":{\"annotations\":{\"decorate\":\"yes\"}}}");
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, NULL, &err), 0, "%s", err.msg);
	json_object_put(patch);
	out = run(cc, "t4");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	o = get(path);
	cr_assert_str_eq(str(o, "metadata|labels|mine"), "1");
	cr_assert_str_eq(str(o, "metadata|finalizers|0"), "coxswain.io/deco");
	json_object_put(o);
	patch = json("{\"metadata\":{\"annotations\":{\"decorate\":null}}}");
	cr_assert_eq(kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, NULL, &err), 0, "%s", err.msg);
	json_object_put(patch);
	out = run(cc, "t4");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	o = get(path);
	cr_assert_null(at(o, "metadata|finalizers"), "no longer selected: our finalizer comes off");
	json_object_put(o);
	free(path);
}

/* A built-in kind: a ConfigMap, decorated the same way; the Thing-typed
 * helpers above are not used. */
Test(decorate, a_configmap_is_decorated_too)
{
	prepare("decorate-cm");
	char path[PATH_LEN], body[512];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/cm", ns);
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\","
		 "\"namespace\":\"%s\",\"labels\":{\"theirs\":\"x\"}},\"data\":{\"k\":\"v\"}}",
		 ns);
	struct json_object *o = json(body), *cm = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_apply(c, path, o, "someone-else", true, &cm, &err), 0, "%s", err.msg);
	json_object_put(o);
	static char v1[] = "v1", kind[] = "ConfigMap";
	struct config_controller cc = *controller(false, NULL);
	cc.parent_api_version = v1;
	cc.parent_kind = kind;
	answer("{\"labels\":{\"mine\":\"1\"},\"attachments\":[" SERVICE("cm-svc") "]}");

	static const struct hook_child_kind kinds[] = { { "v1", "Service" } };
	struct json_object *observed = observe();
	struct json_object *controller_obj = json("{\"kind\":\"DecoratorController\"}");
	struct proto_job job = { .job = 1,
				 .attempt = 1,
				 .kind = PROTO_JOB_SYNC,
				 .controller = "deco",
				 .key = "deco/x/cm",
				 .parent = cm,
				 .children = observed };
	struct decorate_env env = { .c = c,
				    .d = d,
				    .schemas = schemas,
				    .events = events,
				    .cc = &cc,
				    .controller = controller_obj,
				    .kinds = kinds };
	struct reconcile_outcome out;
	decorate_job(&env, &job, &out);
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	json_object_put(observed);
	json_object_put(controller_obj);
	json_object_put(cm);

	o = get(path);
	cr_assert_str_eq(str(o, "metadata|labels|mine"), "1");
	cr_assert_str_eq(str(o, "metadata|labels|theirs"), "x");
	cr_assert_str_eq(str(o, "data|k"), "v");
	const char *uid = str(o, "metadata|uid");
	char svc_path[PATH_LEN];
	snprintf(svc_path, sizeof(svc_path), "/api/v1/namespaces/%s/services/cm-svc", ns);
	struct json_object *svc = get(svc_path);
	cr_assert_str_eq(str(svc, "metadata|ownerReferences|0|uid"), uid);
	cr_assert_str_eq(str(svc, "metadata|ownerReferences|0|kind"), "ConfigMap");
	json_object_put(svc);
	json_object_put(o);
}

/* One job for Thing name through the reconciler, as a worker runs it (a
 * reconciler of its own, for controller(finalize, NULL)). The outcome's
 * related_rules and writes are the caller's. */
static struct reconcile_outcome reconcile_thing(bool finalize, const char *name)
{
	struct config cfg = { .controllers = (struct config_controller *)controller(finalize, NULL),
			      .n_controllers = 1 };
	struct cx_err err = { 0 };
	struct reconciler *r = NULL;
	reconciler_new(c, &cfg, &r, &err);
	cr_assert_not_null(r, "%s", err.msg);
	char *path = thing_path(name), key[256];
	snprintf(key, sizeof(key), "deco/x/%s", name);
	struct json_object *obj = get(path), *observed = observe();
	struct proto_job job = { .job = 1,
				 .attempt = 1,
				 .kind = PROTO_JOB_SYNC,
				 .controller = "deco",
				 .key = key,
				 .parent = obj,
				 .children = observed };
	struct reconcile_outcome out;
	reconcile_job(r, &job, &out);
	json_object_put(obj);
	json_object_put(observed);
	reconciler_free(&r);
	free(path);
	return out;
}

/* The finalizer a job adds is one of its RESULT's writes, so that its echo
 * does not sync the object again; with nothing else to write, the only one. */
Test(decorate, the_finalizer_it_adds_is_reported_as_its_write)
{
	prepare("decorate-finw");
	json_object_put(make_thing("t6", "{}", "{}"));
	answer("{}");
	struct reconcile_outcome out = reconcile_thing(true, "t6");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	char *path = thing_path("t6");
	struct json_object *now = get(path);
	cr_assert_str_eq(str(now, "metadata|finalizers|0"), "coxswain.io/deco");
	cr_assert_eq(json_object_array_length(out.writes), 1, "the finalizer only: %s",
		     json_object_to_json_string(out.writes));
	struct json_object *w = json_object_array_get_idx(out.writes, 0);
	cr_assert_str_eq(str(w, "name"), "t6");
	cr_assert_str_eq(str(w, "resourceVersion"), str(now, "metadata|resourceVersion"));
	json_object_put(now);
	json_object_put(out.related_rules);
	json_object_put(out.writes);
	free(path);
}

/* Through the reconciler, as a worker runs a job: a decorator's job goes to
 * decorate_job, not to the composite's reconcile (which would write
 * coxswain's conditions into the status and want a children key). */
Test(decorate, the_reconciler_dispatches_a_decorators_job)
{
	prepare("decorate-rec");
	json_object_put(make_thing("t5", "{}", "{}"));
	answer("{\"labels\":{\"mine\":\"1\"},\"status\":{\"phase\":\"Decorated\"}}");
	struct reconcile_outcome out = reconcile_thing(false, "t5");
	cr_assert_eq(out.outcome, PROTO_OUTCOME_OK, "%s", out.message);
	json_object_put(out.related_rules);
	json_object_put(out.writes);
	char *path = thing_path("t5");
	struct json_object *obj = get(path);
	cr_assert_str_eq(str(obj, "metadata|labels|mine"), "1");
	cr_assert_str_eq(str(obj, "status|phase"), "Decorated");
	cr_assert_null(at(obj, "status|conditions"), "no coxswain conditions on a decorated object");
	cr_assert_null(at(obj, "status|observedGeneration"));
	json_object_put(obj);
	free(path);
}

/* Unit tests for common/cxconfig: coxswain.yaml loaded into structs, its
 * defaults, one bad file per validation rule (each error must name the file,
 * the line and column, the path and what was expected), and the controller's
 * JSON for the hook request, over the files in tests/unit/data/cxconfig. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxconfig.h"
#include "err.h"
#include "yamlnode.h"

#define DATA TEST_DATA_DIR "/cxconfig/"

static struct config *load_ok(const char *name)
{
	struct cx_err err = { 0 };
	struct config *c = NULL;
	config_load(name, &c, &err);
	cr_assert_not_null(c, "loading %s: %s", name, err.msg);
	cr_assert_str_eq(c->path, name);
	return c;
}

/* Loads DATA file, which must fail with -EINVAL and a message
 *   config DATA/file: line L, column C: PATH: ...EXPECTED...
 * Returns the error for further checks. */
static struct cx_err expect_error(const char *file, int line, int column, const char *path, const char *expected)
{
	char full[512], at[1200];
	snprintf(full, sizeof(full), DATA "%s", file);
	struct cx_err err = { 0 };
	struct config *c = NULL;
	config_load(full, &c, &err);
	cr_assert_null(c, "%s should not load", file);
	cr_assert_eq(err.code, -EINVAL, "%s: code %d: %s", file, err.code, err.msg);
	snprintf(at, sizeof(at), "config %s: line %d, column %d: %s: ", full, line, column, path);
	cr_assert(!strncmp(err.msg, at, strlen(at)), "%s:\n  message  %s\n  expected %s...", file, err.msg, at);
	cr_assert(strstr(err.msg + strlen(at), expected), "%s: message lacks \"%s\": %s", file, expected, err.msg);
	return err;
}

static void assert_hook_exec(const struct config_hook *h, int timeout, size_t n, const char *const *argv)
{
	cr_assert(h->set);
	cr_assert_null(h->url);
	cr_assert_eq(h->timeout_seconds, timeout);
	cr_assert_eq(h->n_command, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_str_eq(h->command[i], argv[i]);
	cr_assert_null(h->command[n], "command is NULL-terminated");
}

static void assert_hook_webhook(const struct config_hook *h, int timeout, const char *url)
{
	cr_assert(h->set);
	cr_assert_null(h->command);
	cr_assert_eq(h->n_command, 0);
	cr_assert_str_eq(h->url, url);
	cr_assert_eq(h->timeout_seconds, timeout);
}

Test(cxconfig, loads_every_field)
{
	struct config *c = load_ok(DATA "good.yaml");
	cr_assert_eq(c->n_controllers, 2);

	const struct config_controller *w = &c->controllers[0];
	cr_assert_str_eq(w->name, "websites");
	cr_assert_str_eq(w->parent_api_version, "example.com/v1");
	cr_assert_str_eq(w->parent_kind, "Website");
	cr_assert_eq(w->n_children, 3);
	cr_assert_str_eq(w->children[0].api_version, "v1");
	cr_assert_str_eq(w->children[0].kind, "ConfigMap");
	cr_assert_eq(w->children[0].update_strategy, UPDATE_INPLACE);
	cr_assert_str_eq(w->children[1].api_version, "apps/v1");
	cr_assert_str_eq(w->children[1].kind, "Deployment");
	cr_assert_eq(w->children[1].update_strategy, UPDATE_RECREATE);
	cr_assert_str_eq(w->children[2].api_version, "batch/v1");
	cr_assert_str_eq(w->children[2].kind, "Job");
	cr_assert_eq(w->children[2].update_strategy, UPDATE_ONDELETE);
	assert_hook_exec(&w->sync, 30, 3, (const char *const[]){ "/hooks/website-sync", "--flag", "" });
	assert_hook_webhook(&w->finalize, 3600, "https://hooks.example.com:8443/finalize");
	cr_assert_eq(w->sync.version, CONFIG_HOOK_V2);
	cr_assert_eq(w->sync.unmarshal, CONFIG_UNMARSHAL_STRICT, "a v2 hook is read strictly");
	cr_assert_eq(w->finalize.version, CONFIG_HOOK_V1);
	cr_assert_eq(w->finalize.unmarshal, CONFIG_UNMARSHAL_STRICT);
	cr_assert_eq(w->resync_period_seconds, 0, "0 is kept: no periodic resync");
	cr_assert_str_eq(w->namespace, "team-a");
	cr_assert(w->adopt_orphans);

	const struct config_controller *d = &c->controllers[1];
	cr_assert_str_eq(d->name, "databases");
	cr_assert_str_eq(d->parent_api_version, "db.example.com/v1alpha1");
	cr_assert_str_eq(d->parent_kind, "Database");
	cr_assert_eq(d->n_children, 0);
	cr_assert_null(d->children);
	assert_hook_webhook(&d->sync, 1, "http://127.0.0.1:8080/sync");
	assert_hook_exec(&d->finalize, 10, 1, (const char *const[]){ "/hooks/db-finalize" });
	cr_assert_eq(d->sync.version, CONFIG_HOOK_V1);
	cr_assert_eq(d->sync.unmarshal, CONFIG_UNMARSHAL_LOOSE);
	cr_assert_eq(d->resync_period_seconds, 2147483647);
	cr_assert_str_eq(d->namespace, "", "namespace: ~ means all namespaces");
	cr_assert_not(d->adopt_orphans, "orphans are not adopted unless asked");

	cr_assert_str_eq(c->endpoint, "tcp://127.0.0.1:5555");
	cr_assert_str_eq(c->health_address, "0.0.0.0:9081");
	cr_assert_str_eq(c->metrics_address, "[::1]:9080");
	cr_assert_not(c->leader_election);
	cr_assert_str_eq(c->lease_namespace, "ops");
	cr_assert_str_eq(c->lease_name, "coxswain.leader");
	cr_assert_eq(c->worker_count, 8);
	config_free(&c);
	cr_assert_null(c);
	config_free(&c); /* freeing twice through the same pointer is harmless */
}

static void assert_defaults(const struct config *c)
{
	cr_assert_eq(c->n_controllers, 1);
	const struct config_controller *cc = &c->controllers[0];
	cr_assert_str_eq(cc->name, "websites");
	cr_assert_eq(cc->n_children, 0);
	cr_assert_null(cc->children);
	assert_hook_exec(&cc->sync, 10, 1, (const char *const[]){ "/hooks/website-sync" });
	cr_assert_eq(cc->sync.version, CONFIG_HOOK_V1, "v1 unless asked");
	cr_assert_eq(cc->sync.unmarshal, CONFIG_UNMARSHAL_LOOSE, "loose unless asked (metacontroller's default)");
	cr_assert_not(cc->finalize.set, "no finalize hook, no finalizer");
	cr_assert_null(cc->finalize.command);
	cr_assert_null(cc->finalize.url);
	cr_assert_eq(cc->resync_period_seconds, 300);
	cr_assert_str_eq(cc->namespace, "");
	cr_assert_not(cc->adopt_orphans);
	cr_assert_str_eq(c->endpoint, "ipc:///run/coxswain/ipc/jobs.sock");
	cr_assert_null(c->curve_secret_key_file);
	cr_assert_null(c->worker_curve_secret_key_file);
	cr_assert_not(c->channel_insecure);
	cr_assert_str_eq(c->health_address, ":8081");
	cr_assert_str_eq(c->metrics_address, ":8080");
	cr_assert(c->leader_election);
	cr_assert_str_eq(c->lease_namespace, "coxswain-system");
	cr_assert_str_eq(c->lease_name, "coxswain");
	cr_assert_eq(c->worker_count, 0, "0 = one worker per CPU, decided by the worker");
	cr_assert_eq(c->watcher_qps, 0, "absent: the client's default");
	cr_assert_eq(c->watcher_burst, 0);
	cr_assert_eq(c->worker_qps, 0);
	cr_assert_eq(c->worker_burst, 0);
	cr_assert_not(c->worker_events_normal, "no Normal Events unless asked");
}

Test(cxconfig, minimal_gets_every_default)
{
	struct config *c = load_ok(DATA "minimal.yaml");
	assert_defaults(c);
	config_free(&c);
}

Test(cxconfig, plain_nulls_mean_absent)
{
	struct config *c = load_ok(DATA "nulls.yaml");
	assert_defaults(c);
	config_free(&c);
}

Test(cxconfig, the_design_example_loads)
{
	struct config *c = load_ok(DATA "design.yaml");
	cr_assert_eq(c->n_controllers, 1);
	const struct config_controller *cc = &c->controllers[0];
	cr_assert_eq(cc->n_children, 2);
	cr_assert_str_eq(cc->children[1].kind, "Deployment");
	assert_hook_exec(&cc->finalize, 10, 1, (const char *const[]){ "/hooks/website-finalize" });
	cr_assert_str_eq(c->endpoint, CONFIG_DEFAULT_ENDPOINT);
	cr_assert_eq(c->worker_count, 4);
	config_free(&c);
}

Test(cxconfig, controller_by_name)
{
	struct config *c = load_ok(DATA "good.yaml");
	cr_assert_eq(config_controller(c, "databases"), &c->controllers[1]);
	cr_assert_eq(config_controller(c, "websites"), &c->controllers[0]);
	cr_assert_null(config_controller(c, "website"));
	cr_assert_null(config_controller(c, ""));
	config_free(&c);
}

Test(cxconfig, strategy_names)
{
	cr_assert_str_eq(config_update_strategy_name(UPDATE_INPLACE), "InPlace");
	cr_assert_str_eq(config_update_strategy_name(UPDATE_RECREATE), "Recreate");
	cr_assert_str_eq(config_update_strategy_name(UPDATE_ONDELETE), "OnDelete");
}

/* ---- JSON ---------------------------------------------------------------- */

static struct json_object *get(struct json_object *obj, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(obj, key, &v), "no \"%s\" in %s", key, json_object_to_json_string(obj));
	return v;
}

static const char *get_str(struct json_object *obj, const char *key)
{
	struct json_object *v = get(obj, key);
	cr_assert(json_object_is_type(v, json_type_string), "\"%s\" is not a string", key);
	return json_object_get_string(v);
}

static int get_int(struct json_object *obj, const char *key)
{
	struct json_object *v = get(obj, key);
	cr_assert(json_object_is_type(v, json_type_int), "\"%s\" is not an integer", key);
	return json_object_get_int(v);
}

Test(cxconfig, controller_json_shows_every_field)
{
	struct config *c = load_ok(DATA "good.yaml");
	struct json_object *j = config_controller_json(&c->controllers[0]);
	cr_assert_not_null(j);
	cr_assert_str_eq(get_str(j, "name"), "websites");
	struct json_object *parent = get(j, "parent");
	cr_assert_str_eq(get_str(parent, "apiVersion"), "example.com/v1");
	cr_assert_str_eq(get_str(parent, "kind"), "Website");
	struct json_object *children = get(j, "children");
	cr_assert_eq(json_object_array_length(children), 3);
	struct json_object *job = json_object_array_get_idx(children, 2);
	cr_assert_str_eq(get_str(job, "apiVersion"), "batch/v1");
	cr_assert_str_eq(get_str(job, "kind"), "Job");
	cr_assert_str_eq(get_str(job, "updateStrategy"), "OnDelete");
	cr_assert_str_eq(get_str(json_object_array_get_idx(children, 1), "updateStrategy"), "Recreate");
	struct json_object *hooks = get(j, "hooks");
	struct json_object *exec = get(get(hooks, "sync"), "exec");
	struct json_object *command = get(exec, "command");
	cr_assert_eq(json_object_array_length(command), 3);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(command, 0)), "/hooks/website-sync");
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(command, 2)), "");
	cr_assert_eq(get_int(exec, "timeoutSeconds"), 30);
	cr_assert_str_eq(get_str(get(hooks, "sync"), "version"), "v2");
	cr_assert_str_eq(get_str(get(hooks, "sync"), "responseUnMarshallMode"), "strict");
	cr_assert_str_eq(get_str(get(hooks, "finalize"), "version"), "v1");
	cr_assert_str_eq(get_str(get(hooks, "finalize"), "responseUnMarshallMode"), "strict");
	cr_assert_eq(json_object_object_length(get(hooks, "sync")), 3, "%s", json_object_to_json_string(hooks));
	struct json_object *webhook = get(get(hooks, "finalize"), "webhook");
	cr_assert_str_eq(get_str(webhook, "url"), "https://hooks.example.com:8443/finalize");
	cr_assert_eq(get_int(webhook, "timeoutSeconds"), 3600);
	cr_assert_eq(get_int(j, "resyncPeriodSeconds"), 0);
	cr_assert_str_eq(get_str(j, "namespace"), "team-a");
	cr_assert(json_object_get_boolean(get(j, "adoptOrphans")));
	cr_assert_eq(json_object_object_length(j), 7, "%s", json_object_to_json_string(j));
	json_object_put(j);
	config_free(&c);
}

Test(cxconfig, controller_json_has_defaults_and_no_unset_finalize)
{
	struct config *c = load_ok(DATA "minimal.yaml");
	struct json_object *j = config_controller_json(&c->controllers[0]);
	cr_assert_not_null(j);
	cr_assert_eq(json_object_array_length(get(j, "children")), 0, "children is there, empty");
	struct json_object *hooks = get(j, "hooks");
	cr_assert_not(json_object_object_get_ex(hooks, "finalize", NULL));
	cr_assert_eq(get_int(get(get(hooks, "sync"), "exec"), "timeoutSeconds"), 10);
	cr_assert_str_eq(get_str(get(hooks, "sync"), "version"), "v1");
	cr_assert_str_eq(get_str(get(hooks, "sync"), "responseUnMarshallMode"), "loose");
	cr_assert_eq(get_int(j, "resyncPeriodSeconds"), 300);
	cr_assert_str_eq(get_str(j, "namespace"), "");
	json_object_put(j);
	config_free(&c);
}

static void assert_same_hook(const struct config_hook *a, const struct config_hook *b)
{
	cr_assert_eq(a->set, b->set);
	cr_assert_eq(a->timeout_seconds, b->timeout_seconds);
	cr_assert_eq(a->version, b->version);
	cr_assert_eq(a->unmarshal, b->unmarshal);
	cr_assert_eq(a->n_command, b->n_command);
	for (size_t i = 0; i < a->n_command; i++)
		cr_assert_str_eq(a->command[i], b->command[i]);
	cr_assert_eq(!a->url, !b->url);
	if (a->url)
		cr_assert_str_eq(a->url, b->url);
}

static void assert_same_controller(const struct config_controller *a, const struct config_controller *b)
{
	cr_assert_str_eq(a->name, b->name);
	cr_assert_str_eq(a->parent_api_version, b->parent_api_version);
	cr_assert_str_eq(a->parent_kind, b->parent_kind);
	cr_assert_eq(a->n_children, b->n_children);
	for (size_t i = 0; i < a->n_children; i++) {
		cr_assert_str_eq(a->children[i].api_version, b->children[i].api_version);
		cr_assert_str_eq(a->children[i].kind, b->children[i].kind);
		cr_assert_eq(a->children[i].update_strategy, b->children[i].update_strategy);
	}
	assert_same_hook(&a->sync, &b->sync);
	assert_same_hook(&a->finalize, &b->finalize);
	cr_assert_eq(a->resync_period_seconds, b->resync_period_seconds);
	cr_assert_str_eq(a->namespace, b->namespace);
}

/* The JSON is the controller's config: written back as a coxswain.yaml (JSON
 * is YAML), it loads into the same controllers. */
Test(cxconfig, controller_json_round_trips)
{
	struct config *c = load_ok(DATA "good.yaml");
	struct json_object *root = json_object_new_object(), *list = json_object_new_array();
	for (size_t i = 0; i < c->n_controllers; i++) {
		struct json_object *j = config_controller_json(&c->controllers[i]);
		cr_assert_not_null(j);
		cr_assert_eq(json_object_array_add(list, j), 0);
	}
	cr_assert_eq(json_object_object_add(root, "controllers", list), 0);

	char tmp[] = "/tmp/test_cxconfig-XXXXXX";
	int fd = mkstemp(tmp);
	cr_assert_geq(fd, 0);
	const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct cx_err err = { 0 };
	struct config *back = NULL;
	config_load(tmp, &back, &err);
	unlink(tmp);
	cr_assert_not_null(back, "%s\n%s", err.msg, text);
	cr_assert_eq(back->n_controllers, c->n_controllers);
	for (size_t i = 0; i < c->n_controllers; i++)
		assert_same_controller(&back->controllers[i], &c->controllers[i]);
	json_object_put(root);
	config_free(&back);
	config_free(&c);
}

/* ---- files that cannot be read ------------------------------------------- */

Test(cxconfig, missing_file)
{
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(DATA "does-not-exist.yaml", &(struct config *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -ENOENT);
	cr_assert(strstr(err.msg, DATA "does-not-exist.yaml"), "%s", err.msg);
	cr_assert(strstr(err.msg, "cannot open"), "%s", err.msg);
}

Test(cxconfig, a_directory_cannot_be_read)
{
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(DATA, &(struct config *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EISDIR, "%d %s", err.code, err.msg);
	cr_assert(strstr(err.msg, "cannot read"), "%s", err.msg);
}

Test(cxconfig, null_err_is_allowed)
{
	cr_assert_lt(config_load(DATA "bad-name.yaml", &(struct config *){ NULL }, NULL), 0);
}

/* ---- the document ---------------------------------------------------------- */

Test(cxconfig, invalid_yaml)
{
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(DATA "bad-yaml.yaml", &(struct config *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "config " DATA "bad-yaml.yaml: line 4, column "), "%s", err.msg);
	cr_assert(strstr(err.msg, "invalid YAML"), "%s", err.msg);
}

Test(cxconfig, empty_file)
{
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(DATA "empty.yaml", &(struct config *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg,
			 "config " DATA "empty.yaml: the file is empty; expected a mapping with "
			 "controllers"),
		  "%s", err.msg);
}

Test(cxconfig, document_not_a_mapping)
{
	expect_error("not-a-mapping.yaml", 1, 1, "the document", "expected a mapping with controllers");
}

Test(cxconfig, second_document)
{
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(DATA "two-documents.yaml", &(struct config *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg,
			 "config " DATA "two-documents.yaml: line 7, column 1: a second YAML document; "
			 "expected exactly one"),
		  "%s", err.msg);
}

/* ---- unknown and repeated keys -------------------------------------------- */

Test(cxconfig, unknown_top_level_field)
{
	struct cx_err err = expect_error("unknown-top.yaml", 1, 1, "controller",
					 "unknown field; expected one of: controllers, watcher, worker");
	cr_assert(strstr(err.msg, "(did you mean \"controllers\"?)"), "%s", err.msg);
}

Test(cxconfig, unknown_nested_field)
{
	struct cx_err err = expect_error("unknown-nested.yaml", 5, 45, "controllers[0].hooks.sync.exec.timeout",
					 "unknown field; expected one of: command, timeoutSeconds");
	cr_assert(strstr(err.msg, "(did you mean \"timeoutSeconds\"?)"), "%s", err.msg);
}

Test(cxconfig, unknown_field_without_a_guess)
{
	struct cx_err err = expect_error("unknown-lease.yaml", 9, 5, "watcher.leaderElection.leaseDuration",
					 "unknown field; expected one of: enabled, namespace, name");
	cr_assert_null(strstr(err.msg, "did you mean"), "%s", err.msg);
}

Test(cxconfig, repeated_key)
{
	expect_error("repeated-key.yaml", 4, 5, "controllers[0].name", "repeated key (first at line 2)");
}

Test(cxconfig, key_that_is_not_a_string)
{
	expect_error("nonscalar-key.yaml", 6, 7, "controllers[0]", "expected a field name, got a list as a key");
}

/* ---- controllers ------------------------------------------------------------ */

Test(cxconfig, controllers_missing)
{
	expect_error("missing-controllers.yaml", 1, 1, "controllers",
		     "missing; expected a non-empty list of controllers");
}

Test(cxconfig, controllers_empty)
{
	expect_error("empty-controllers.yaml", 1, 14, "controllers",
		     "expected a non-empty list of controllers, got an empty list");
}

Test(cxconfig, controllers_not_a_list)
{
	expect_error("controllers-mapping.yaml", 2, 3, "controllers",
		     "expected a non-empty list of controllers, got a mapping");
}

Test(cxconfig, name_missing)
{
	expect_error("missing-name.yaml", 2, 5, "controllers[0].name", "missing; expected a DNS label");
}

Test(cxconfig, name_null_is_missing)
{
	expect_error("null-name.yaml", 2, 11, "controllers[0].name", "missing; expected a DNS label");
}

Test(cxconfig, name_not_a_dns_label)
{
	expect_error("bad-name.yaml", 2, 11, "controllers[0].name",
		     "expected a DNS label (at most 63 lowercase letters, digits and '-', starting and ending with "
		     "a letter or digit), got \"Web_Sites\"");
}

Test(cxconfig, name_longer_than_63)
{
	expect_error("long-name.yaml", 2, 11, "controllers[0].name", "expected a DNS label");
}

Test(cxconfig, duplicate_name_names_both)
{
	expect_error("duplicate-name.yaml", 10, 11, "controllers[2].name",
		     "duplicate controller name \"websites\" (also controllers[0].name)");
}

Test(cxconfig, parent_missing)
{
	expect_error("missing-parent.yaml", 2, 5, "controllers[0].parent",
		     "missing; expected {apiVersion: ..., kind: ...}");
}

Test(cxconfig, parent_not_a_mapping)
{
	expect_error("parent-string.yaml", 3, 13, "controllers[0].parent",
		     "expected {apiVersion: ..., kind: ...}, got \"example.com/v1\"");
}

Test(cxconfig, parent_kind_missing)
{
	expect_error("missing-parent-kind.yaml", 3, 13, "controllers[0].parent.kind", "missing; expected a kind");
}

Test(cxconfig, bad_api_version)
{
	expect_error("bad-api-version.yaml", 3, 26, "controllers[0].parent.apiVersion",
		     "expected an apiVersion such as v1 or example.com/v1, got \"example.com/v1/extra\"");
}

Test(cxconfig, bad_kind)
{
	expect_error("bad-kind.yaml", 3, 48, "controllers[0].parent.kind", "expected a kind such as");
}

/* ---- children --------------------------------------------------------------- */

Test(cxconfig, children_not_a_list)
{
	expect_error("children-mapping.yaml", 4, 15, "controllers[0].children",
		     "expected a list of children {apiVersion, kind, updateStrategy}, got a mapping");
}

Test(cxconfig, child_kind_missing)
{
	expect_error("missing-child-kind.yaml", 6, 9, "controllers[0].children[1].kind", "missing; expected a kind");
}

Test(cxconfig, bad_update_strategy)
{
	expect_error("bad-strategy.yaml", 6, 65, "controllers[0].children[1].updateStrategy",
		     "expected one of OnDelete, Recreate, InPlace, got \"RollingUpdate\"");
}

Test(cxconfig, duplicate_child_names_both)
{
	expect_error("duplicate-child.yaml", 7, 9, "controllers[0].children[2]",
		     "apiVersion v1, kind ConfigMap is listed twice (also controllers[0].children[0])");
}

Test(cxconfig, child_of_the_parents_kind)
{
	expect_error("child-is-parent.yaml", 5, 44, "controllers[0].children[1].kind",
		     "\"Website\" is the parent's kind");
}

/* ---- hooks -------------------------------------------------------------------- */

Test(cxconfig, hooks_missing)
{
	expect_error("missing-hooks.yaml", 2, 5, "controllers[0].hooks",
		     "missing; expected {sync: HOOK, finalize: HOOK, customize: HOOK}");
}

Test(cxconfig, sync_missing)
{
	expect_error("missing-sync.yaml", 5, 7, "controllers[0].hooks.sync",
		     "missing; expected {exec: {command: [...], timeoutSeconds: N}} or {webhook: {url: ..., "
		     "timeoutSeconds: N}}");
}

Test(cxconfig, hook_with_neither_exec_nor_webhook)
{
	expect_error("hook-neither.yaml", 9, 13, "controllers[1].hooks.sync",
		     "neither exec nor webhook is set; expected {exec:");
}

Test(cxconfig, hook_with_both_exec_and_webhook)
{
	expect_error("hook-both.yaml", 10, 9, "controllers[1].hooks.sync",
		     "both exec and webhook are set; expected exactly one of them");
}

Test(cxconfig, hook_version_unknown)
{
	expect_error("hook-version.yaml", 5, 55, "controllers[0].hooks.sync.version",
		     "expected v1 or v2 (how the request keys children: metacontroller's hook versions), got \"v3\"");
}

Test(cxconfig, unmarshal_mode_unknown)
{
	expect_error("hook-unmarshal.yaml", 8, 33, "controllers[0].hooks.finalize.responseUnMarshallMode",
		     "expected loose or strict (whether an answer's unknown fields are ignored or refused), got "
		     "\"Strict\"");
}

Test(cxconfig, v2_with_loose_is_a_contradiction)
{
	expect_error("hook-v2-loose.yaml", 6, 9, "controllers[0].hooks.sync.responseUnMarshallMode",
		     "loose does not go with version: v2");
}

Test(cxconfig, command_a_string_not_a_list)
{
	expect_error("command-string.yaml", 5, 30, "controllers[0].hooks.sync.exec.command",
		     "expected a non-empty list of strings (the program, then its arguments), got \"/hooks/sync\"");
}

Test(cxconfig, command_empty)
{
	expect_error("command-empty.yaml", 5, 30, "controllers[0].hooks.sync.exec.command",
		     "expected a non-empty list of strings (the program, then its arguments), got an empty list");
}

Test(cxconfig, command_item_not_a_string)
{
	expect_error("command-item.yaml", 5, 44, "controllers[0].hooks.sync.exec.command[1]",
		     "expected a string, got a list");
}

Test(cxconfig, command_program_empty)
{
	expect_error("command-program-empty.yaml", 5, 31, "controllers[0].hooks.sync.exec.command[0]",
		     "expected the program to run, got an empty string");
}

Test(cxconfig, command_missing)
{
	expect_error("missing-command.yaml", 5, 20, "controllers[0].hooks.sync.exec.command",
		     "missing; expected a non-empty list of strings");
}

Test(cxconfig, url_missing)
{
	expect_error("missing-url.yaml", 5, 23, "controllers[0].hooks.sync.webhook.url",
		     "missing; expected an http:// or https:// URL");
}

Test(cxconfig, url_not_http)
{
	expect_error("bad-url.yaml", 5, 29, "controllers[0].hooks.sync.webhook.url",
		     "expected an http:// or https:// URL, got \"ftp://127.0.0.1/sync\"");
}

Test(cxconfig, timeout_a_word)
{
	expect_error("timeout-word.yaml", 5, 61, "controllers[0].hooks.sync.exec.timeoutSeconds",
		     "expected an integer from 1 to 3600 (seconds), got \"ten\"");
}

Test(cxconfig, timeout_not_an_integer)
{
	expect_error("timeout-float.yaml", 6, 83, "controllers[0].hooks.finalize.webhook.timeoutSeconds",
		     "expected an integer from 1 to 3600 (seconds), got \"1.5\"");
}

Test(cxconfig, timeout_zero)
{
	expect_error("timeout-zero.yaml", 5, 61, "controllers[0].hooks.sync.exec.timeoutSeconds",
		     "expected an integer from 1 to 3600 (seconds), got \"0\"");
}

Test(cxconfig, timeout_over_an_hour)
{
	expect_error("timeout-too-long.yaml", 5, 61, "controllers[0].hooks.sync.exec.timeoutSeconds",
		     "expected an integer from 1 to 3600 (seconds), got \"3601\"");
}

Test(cxconfig, timeout_quoted_is_a_string)
{
	expect_error("timeout-quoted.yaml", 5, 61, "controllers[0].hooks.sync.exec.timeoutSeconds",
		     "got \"10\" (quoted, so a string)");
}

/* ---- the rest of a controller ------------------------------------------------- */

Test(cxconfig, resync_negative)
{
	expect_error("resync-negative.yaml", 6, 26, "controllers[0].resyncPeriodSeconds",
		     "expected an integer >= 0 (seconds; 0 = no periodic resync), got \"-1\"");
}

Test(cxconfig, bad_namespace)
{
	expect_error("bad-namespace.yaml", 6, 16, "controllers[0].namespace",
		     "expected \"\" (all namespaces) or a namespace name, a DNS label");
}

/* ---- watcher and worker --------------------------------------------------------- */

Test(cxconfig, endpoint_neither_ipc_nor_tcp)
{
	expect_error("bad-endpoint.yaml", 7, 13, "watcher.endpoint",
		     "expected a ZeroMQ endpoint ipc://PATH or tcp://HOST:PORT, got \"inproc://jobs\"");
}

Test(cxconfig, tcp_endpoint_without_port)
{
	expect_error("endpoint-no-port.yaml", 6, 21, "watcher.endpoint", "tcp://HOST:PORT, got \"tcp://127.0.0.1\"");
}

Test(cxconfig, address_port_out_of_range)
{
	expect_error("bad-address.yaml", 8, 19, "watcher.metricsAddress",
		     "expected an address [HOST]:PORT with PORT from 1 to 65535, got \":70000\"");
}

Test(cxconfig, address_without_port)
{
	expect_error("address-no-port.yaml", 7, 18, "watcher.healthAddress", "[HOST]:PORT");
}

Test(cxconfig, bool_yes_is_not_a_boolean)
{
	expect_error("bad-bool.yaml", 7, 29, "watcher.leaderElection.enabled", "expected true or false, got \"yes\"");
}

Test(cxconfig, bool_quoted_is_a_string)
{
	expect_error("bool-quoted.yaml", 7, 29, "watcher.leaderElection.enabled",
		     "expected true or false, got \"true\" (quoted, so a string)");
}

Test(cxconfig, lease_namespace_empty)
{
	expect_error("lease-namespace-empty.yaml", 7, 31, "watcher.leaderElection.namespace",
		     "expected a namespace name, a DNS label");
}

Test(cxconfig, worker_count_negative)
{
	expect_error("worker-negative.yaml", 7, 10, "worker.count",
		     "expected an integer from 1 to 1024 (leave it out for one worker per CPU), got \"-2\"");
}

Test(cxconfig, worker_count_zero)
{
	expect_error("worker-zero.yaml", 6, 17, "worker.count", "expected an integer from 1 to 1024");
}

Test(cxconfig, worker_not_a_mapping)
{
	expect_error("worker-list.yaml", 6, 9, "worker",
		     "expected {count, curve, kubeApiQPS, kubeApiBurst, events}, got a list");
}

/* ---- the first error wins ---------------------------------------------------------- */

Test(cxconfig, first_error_wins)
{
	struct cx_err err = expect_error("first-error-wins.yaml", 5, 61,
					 "controllers[0].hooks.sync.exec.timeoutSeconds", "got \"ten\"");
	cr_assert_null(strstr(err.msg, "namespace"), "%s", err.msg);
	cr_assert_null(strstr(err.msg, "worker"), "%s", err.msg);
}

/* Writes a coxswain.yaml whose `controllers` is depth nested lists, in flow
 * style ("[[[...]]]") or block style ("- - - ..."), to a temporary file. */
static void write_deep(char *path, size_t len, int depth, bool flow)
{
	snprintf(path, len, "/tmp/test_cxconfig-deep-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	fputs("controllers: ", f);
	if (flow) {
		for (int i = 0; i < depth; i++)
			fputc('[', f);
		for (int i = 0; i < depth; i++)
			fputc(']', f);
	} else {
		fputc('\n', f);
		for (int i = 0; i < depth; i++)
			fputs("- ", f);
		fputs("x", f);
	}
	fputc('\n', f);
	cr_assert_eq(fclose(f), 0);
}

Test(cxconfig, a_deeply_nested_file_is_refused_naming_the_depth)
{
	/* The 100,000 levels took 46 s to refuse: libyaml's time grows
	 * with the square of the depth. Refused at the cap, it is quick; what
	 * is asserted is the error. */
	for (int flow = 0; flow < 2; flow++) {
		char path[64];
		write_deep(path, sizeof(path), 100000, flow);
		struct cx_err err = { 0 };
		cr_assert_lt(config_load(path, &(struct config *){ NULL }, &err), 0);
		unlink(path);
		cr_assert_eq(err.code, -EINVAL, "%d %s", err.code, err.msg);
		char want[128];
		snprintf(want, sizeof(want), "config %s: line ", path);
		cr_assert(!strncmp(err.msg, want, strlen(want)), "%s", err.msg);
		snprintf(want, sizeof(want), "nested deeper than %d levels", YAMLNODE_MAX_DEPTH);
		cr_assert(strstr(err.msg, want), "%s", err.msg);
	}
}

Test(cxconfig, nesting_up_to_the_cap_is_the_schema_s_business)
{
	/* controllers is then a list of lists: a schema error, not a depth one.
	 * The root mapping is one level, controllers' lists the others. */
	char path[64];
	write_deep(path, sizeof(path), YAMLNODE_MAX_DEPTH - 1, true);
	struct cx_err err = { 0 };
	cr_assert_lt(config_load(path, &(struct config *){ NULL }, &err), 0);
	unlink(path);
	cr_assert_null(strstr(err.msg, "nested deeper"), "%s", err.msg);
	cr_assert(strstr(err.msg, "controllers[0]"), "%s", err.msg);

	write_deep(path, sizeof(path), YAMLNODE_MAX_DEPTH, true);
	cr_assert_lt(config_load(path, &(struct config *){ NULL }, &err), 0);
	unlink(path);
	cr_assert(strstr(err.msg, "nested deeper"), "one more level is refused: %s", err.msg);
}

/* ---- the job channel's keys ------------------------------------------------------ */

Test(cxconfig, curve_blocks_load)
{
	struct config *c = load_ok(DATA "curve.yaml");
	cr_assert_str_eq(c->curve_secret_key_file, "/keys/watcher.key");
	cr_assert_str_eq(c->curve_authorized_keys, "/worker-keys");
	cr_assert_str_eq(c->worker_curve_secret_key_file, "/keys/worker.key");
	cr_assert_str_eq(c->worker_curve_server_key_file, "/keys/watcher.pub");
	cr_assert_not(c->channel_insecure);
	struct cx_err err = { 0 };
	cr_assert_eq(config_channel_check(c, c->endpoint, true, &err), 0, "%s", err.msg);
	cr_assert_eq(config_channel_check(c, c->endpoint, false, &err), 0, "%s", err.msg);
	config_free(&c);
}

Test(cxconfig, a_curve_block_needs_both_paths)
{
	expect_error("curve-half.yaml", 7, 10, "worker.curve.serverPublicKeyFile", "missing");
	expect_error("curve-empty-path.yaml", 7, 26, "watcher.curve.secretKeyFile", "CURVE secret key file");
}

Test(cxconfig, tcp_without_keys_is_refused_at_start_up_for_each_side)
{
	/* good.yaml: tcp://127.0.0.1:5555 and no curve block. */
	struct config *c = load_ok(DATA "good.yaml");
	struct cx_err err = { 0 };
	cr_assert_eq(config_channel_check(c, c->endpoint, true, &err), -EINVAL);
	cr_assert(strstr(err.msg, DATA "good.yaml") && strstr(err.msg, "watcher.curve: missing") &&
			  strstr(err.msg, "tcp://127.0.0.1:5555") && strstr(err.msg, "insecure: true"),
		  "%s", err.msg);
	cr_assert_eq(config_channel_check(c, c->endpoint, false, &err), -EINVAL);
	cr_assert(strstr(err.msg, "worker.curve: missing"), "%s", err.msg);
	/* ipc:// needs no keys; a tcp:// --endpoint flag over an ipc config does. */
	cr_assert_eq(config_channel_check(c, "ipc:///tmp/x/jobs.sock", true, &err), 0);
	config_free(&c);
	c = load_ok(DATA "minimal.yaml");
	cr_assert_eq(config_channel_check(c, "tcp://10.0.0.1:5555", false, &err), -EINVAL);
	config_free(&c);
}

Test(cxconfig, insecure_allows_tcp_without_keys)
{
	struct config *c = load_ok(DATA "tcp-insecure.yaml");
	cr_assert(c->channel_insecure);
	struct cx_err err = { 0 };
	cr_assert_eq(config_channel_check(c, c->endpoint, true, &err), 0, "%s", err.msg);
	cr_assert_eq(config_channel_check(c, c->endpoint, false, &err), 0, "%s", err.msg);
	config_free(&c);
}

/* With metacontroller definitions (the watcher's --metacontroller-* flags,
 * and every worker) the controllers list may be empty, absent, or the file
 * empty; the rest is checked as always. */
Test(cxconfig, controllers_optional)
{
	static const char *const files[] = { "missing-controllers.yaml", "empty-controllers.yaml", "empty.yaml" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char full[512];
		snprintf(full, sizeof(full), DATA "%s", files[i]);
		struct cx_err err = { 0 };
		struct config *c = NULL;
		config_load_opts(full, true, &c, &err);
		cr_assert_not_null(c, "%s: %s", files[i], err.msg);
		cr_assert_eq(c->n_controllers, 0);
		cr_assert_not_null(c->endpoint, "defaults filled");
		config_free(&c);
		cr_assert_lt(config_load_opts(full, false, &(struct config *){ NULL }, &err), 0, "%s", files[i]);
	}
	struct cx_err err = { 0 };
	struct config *c = NULL;
	config_load_opts(DATA "good.yaml", true, &c, &err);
	cr_assert_not_null(c, "%s", err.msg);
	cr_assert_gt(c->n_controllers, 0);
	config_free(&c);
}

Test(cxconfig, customize_hook_has_the_shape_of_sync)
{
	struct config *c = load_ok(DATA "customize.yaml");
	const struct config_controller *cc = &c->controllers[0];
	cr_assert(cc->customize.set);
	assert_hook_webhook(&cc->customize, 7, "http://127.0.0.1:8080/customize");
	cr_assert_eq(cc->customize.timeout_ms, 7000);
	cr_assert_eq(cc->customize.version, CONFIG_HOOK_V2);
	struct json_object *j = config_controller_json(cc);
	cr_assert_str_eq(get_str(get(get(get(j, "hooks"), "customize"), "webhook"), "url"),
			 "http://127.0.0.1:8080/customize");
	json_object_put(j);
	config_free(&c);
}

Test(cxconfig, no_customize_hook_by_default)
{
	struct config *c = load_ok(DATA "minimal.yaml");
	cr_assert_not(c->controllers[0].customize.set);
	struct json_object *j = config_controller_json(&c->controllers[0]);
	cr_assert_not(json_object_object_get_ex(get(j, "hooks"), "customize", NULL));
	json_object_put(j);
	config_free(&c);
}

Test(cxconfig, kube_api_limits_per_side)
{
	struct config *c = load_ok(DATA "kube-api-limits.yaml");
	cr_assert_float_eq(c->watcher_qps, 2.5, 1e-9);
	cr_assert_eq(c->watcher_burst, 7);
	cr_assert_float_eq(c->worker_qps, -1, 1e-9, "-1: no client-side limit");
	cr_assert_eq(c->worker_burst, 1000000);
	config_free(&c);
}

Test(cxconfig, kube_api_qps_zero)
{
	expect_error("kube-api-qps-zero.yaml", 6, 22, "worker.kubeApiQPS",
		     "expected requests a second from 0.001 to 1000000, or -1 for no client-side limit");
}

Test(cxconfig, kube_api_qps_quoted)
{
	expect_error("kube-api-qps-quoted.yaml", 6, 23, "watcher.kubeApiQPS", "(quoted, so a string)");
}

Test(cxconfig, kube_api_burst_zero)
{
	expect_error("kube-api-burst-zero.yaml", 6, 25, "watcher.kubeApiBurst",
		     "expected an integer from 1 to 1000000");
}

Test(cxconfig, initial_list)
{
	struct config *c = load_ok(DATA "minimal.yaml");
	cr_assert_eq(c->initial_list, CONFIG_INITIAL_LIST_LIST, "absent: paginated LIST");
	config_free(&c);
	c = load_ok(DATA "initial-list.yaml");
	cr_assert_eq(c->initial_list, CONFIG_INITIAL_LIST_STREAM);
	config_free(&c);
}

Test(cxconfig, initial_list_unknown)
{
	expect_error("initial-list-bad.yaml", 6, 24, "watcher.initialList", "expected stream or list");
}

/* ---- persistent exec hooks and jq hooks (issue 12 item 4) ---- */

Test(cxconfig, persistent_exec_and_jq_hooks_load)
{
	struct config *c = load_ok(DATA "hook-persistent.yaml");
	const struct config_controller *w = &c->controllers[0], *b = &c->controllers[1];
	assert_hook_exec(&w->sync, 5, 2, (const char *const[]){ "/hooks/sync", "--serve" });
	cr_assert(w->sync.persistent);
	cr_assert_null(w->sync.jq_program);
	assert_hook_exec(&w->finalize, 10, 1, (const char *const[]){ "/hooks/finalize" });
	cr_assert_not(w->finalize.persistent);
	cr_assert(w->customize.set);
	cr_assert_null(w->customize.command);
	cr_assert_null(w->customize.url);
	cr_assert_str_eq(w->customize.jq_program, "{relatedResources: []}");
	cr_assert(b->sync.set);
	cr_assert_str_eq(b->sync.jq_program, "{status: {ready: true}, children: []}");
	cr_assert_not(b->sync.persistent);
	cr_assert_eq(b->sync.timeout_seconds, 3);
	cr_assert_eq(b->sync.timeout_ms, 3000);
	cr_assert_eq(w->customize.timeout_seconds, 10, "the default");

	/* The request's "controller" shows them as written. */
	struct json_object *j = config_controller_json(w), *v = NULL;
	cr_assert_not_null(j);
	cr_assert(json_object_object_get_ex(j, "hooks", &v));
	struct json_object *hooks = v;
	cr_assert(json_object_object_get_ex(hooks, "sync", &v) && json_object_object_get_ex(v, "exec", &v));
	cr_assert(json_object_object_get_ex(v, "persistent", &v) && json_object_get_boolean(v));
	cr_assert(json_object_object_get_ex(hooks, "customize", &v) && json_object_object_get_ex(v, "jq", &v));
	cr_assert(json_object_object_get_ex(v, "program", &v));
	cr_assert_str_eq(json_object_get_string(v), "{relatedResources: []}");
	json_object_put(j);
	config_free(&c);
}

Test(cxconfig, persistent_must_be_a_boolean)
{
	expect_error("hook-persistent-not-bool.yaml", 5, 57, "controllers[0].hooks.sync.exec.persistent",
		     "expected true or false");
}

Test(cxconfig, persistent_is_for_exec_hooks_only)
{
	expect_error("hook-persistent-webhook.yaml", 5, 59, "controllers[0].hooks.sync.webhook.persistent",
		     "unknown field");
}

Test(cxconfig, jq_program_must_be_a_string)
{
	expect_error("hook-jq-not-string.yaml", 5, 28, "controllers[0].hooks.sync.jq.program", "expected a jq program");
}

Test(cxconfig, jq_program_is_required)
{
	expect_error("hook-jq-missing-program.yaml", 5, 18, "controllers[0].hooks.sync.jq.program", "missing");
}

Test(cxconfig, jq_program_that_does_not_compile_is_a_config_error)
{
	struct cx_err err = expect_error("hook-jq-compile-error.yaml", 5, 28, "controllers[0].hooks.sync.jq.program",
					 "does not compile");
	/* jq's own words say what is wrong. */
	cr_assert(strstr(err.msg, "syntax error"), "%s", err.msg);
}

Test(cxconfig, exec_and_jq_are_exclusive)
{
	expect_error("hook-jq-and-exec.yaml", 6, 9, "controllers[0].hooks.sync",
		     "exec and jq are both set; expected exactly one of exec, webhook and jq");
}

Test(cxconfig, webhook_and_jq_are_exclusive)
{
	expect_error("hook-jq-and-webhook.yaml", 6, 9, "controllers[0].hooks.finalize",
		     "webhook and jq are both set; expected exactly one of exec, webhook and jq");
}

Test(cxconfig, worker_events_normal)
{
	struct config *c = load_ok(DATA "worker-events.yaml");
	cr_assert(c->worker_events_normal);
	config_free(&c);
	expect_error("worker-events-bad.yaml", 6, 27, "worker.events.normal", "expected true or false");
}

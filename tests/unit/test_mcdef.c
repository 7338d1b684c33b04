/* Unit tests for common/mcdef: metacontroller's CompositeController and
 * DecoratorController read into structs. A full manifest of each kind (every
 * field of metacontroller's API) must come back from the structs as the same
 * JSON object (composite-full.json / decorator-full.json, written from the
 * YAML by another YAML reader); every kind of error names the file, the
 * document, the line, the path and what was expected; multi-document files,
 * directories and duplicate names across files; and the Go duration parser. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "mcdef.h"

#define DATA TEST_DATA_DIR "/mcdef/"

static struct mcdef_set *load_ok(const char *path)
{
	struct cx_err err = { 0 };
	struct mcdef_set *s = NULL;
	int rc = mcdef_load(path, &s, &err);
	cr_assert_eq(rc, 0, "loading %s: %s", path, err.msg);
	cr_assert_not_null(s);
	return s;
}

/* Writes yaml to a new file under /tmp, its name into file (32 bytes). */
static void write_temp(const char *yaml, char file[32])
{
	strcpy(file, "/tmp/test_mcdef-XXXXXX");
	int fd = mkstemp(file);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
}

/* Loads yaml, which must load, from a file written for it. */
static struct mcdef_set *load_text(const char *yaml)
{
	char file[32];
	write_temp(yaml, file);
	struct mcdef_set *s = load_ok(file);
	unlink(file);
	return s;
}

static void assert_json_file_eq(struct json_object *got, const char *file, const char *what)
{
	struct json_object *want = json_object_from_file(file);
	cr_assert_not_null(want, "%s: %s", file, json_util_get_last_err());
	cr_assert(json_object_equal(got, want), "%s differs from %s:\n%s", what, file,
		  json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY));
	json_object_put(want);
}

/* ---- Go durations ---- */

static int64_t duration(const char *s)
{
	int64_t ns = -1;
	int rc = mcdef_parse_duration(s, &ns);
	cr_assert_eq(rc, 0, "\"%s\": %d", s, rc);
	return ns;
}

Test(mcdef_duration, parses_go_durations)
{
	cr_assert_eq(duration("10s"), 10000000000LL);
	cr_assert_eq(duration("1.5h"), 5400000000000LL);
	cr_assert_eq(duration("1m30s"), 90000000000LL);
	cr_assert_eq(duration("500ms"), 500000000LL);
	cr_assert_eq(duration("2us"), 2000);
	cr_assert_eq(duration("2\xc2\xb5s"), 2000); /* micro sign */
	cr_assert_eq(duration("2\xce\xbcs"), 2000); /* Greek mu */
	cr_assert_eq(duration("7ns"), 7);
	cr_assert_eq(duration("0"), 0);
	cr_assert_eq(duration("0s"), 0);
	cr_assert_eq(duration("+3s"), 3000000000LL);
	cr_assert_eq(duration(".5s"), 500000000LL);
	cr_assert_eq(duration("1.s"), 1000000000LL);
	cr_assert_eq(duration("1h2m3.25s"), 3723250000000LL);
	cr_assert_eq(duration("2562047h47m16.854775807s"), INT64_MAX);
}

Test(mcdef_duration, refuses_the_rest)
{
	const char *bad[] = {
		"", "s", "10", "1.5", "-1s", "-0", "1x", "1 s", "s10", ".s", "1h-2m", "1sec", "10S", "+"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int64_t ns = 42;
		cr_assert_eq(mcdef_parse_duration(bad[i], &ns), -EINVAL, "\"%s\" should be refused", bad[i]);
		cr_assert_eq(ns, 42, "\"%s\": *ns untouched", bad[i]);
	}
	int64_t ns;
	cr_assert_eq(mcdef_parse_duration("2562048h", &ns), -ERANGE);
	cr_assert_eq(mcdef_parse_duration("9223372036854775808ns", &ns), -ERANGE);
	cr_assert_eq(mcdef_parse_duration("2562047h47m16.854775808s", &ns), -ERANGE);
	cr_assert_eq(mcdef_parse_duration("99999999999999999999999s", &ns), -ERANGE);
	cr_assert_eq(mcdef_parse_duration("2562047h2562047h", &ns), -ERANGE);
}

/* ---- full manifests ---- */

static void assert_ref(const struct mcdef_ref *r, const char *name, const char *ns, const char *key)
{
	cr_assert_str_eq(r->name, name);
	cr_assert_str_eq(r->namespace, ns);
	if (key)
		cr_assert_str_eq(r->key, key);
	else
		cr_assert_null(r->key);
}

static void check_composite_full(const struct mcdef_controller *c)
{
	cr_assert_eq(c->kind, MCDEF_COMPOSITE);
	cr_assert_str_eq(c->name, "rollouts.example.com");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(
				 json_object_object_get(c->metadata, "annotations"), "example.com/owner")),
			 "team blue");
	cr_assert(c->has_status);

	cr_assert_str_eq(c->parent_api_version, "example.com/v1");
	cr_assert_str_eq(c->parent_resource, "rollouts");
	cr_assert(c->has_revision_history && c->has_field_paths);
	cr_assert_eq(c->n_field_paths, 2);
	cr_assert_str_eq(c->field_paths[0], "spec.template");
	cr_assert_str_eq(c->field_paths[1], "spec.strategy");
	const struct selector *sel = &c->parent_selector;
	cr_assert(sel->set && sel->has_match && sel->has_exprs);
	cr_assert_eq(sel->n_match, 1);
	cr_assert_str_eq(sel->match_keys[0], "tier");
	cr_assert_str_eq(sel->match_values[0], "web");
	cr_assert_eq(sel->n_exprs, 2);
	cr_assert_str_eq(sel->exprs[0].key, "example.com/stage");
	cr_assert_eq(sel->exprs[0].op, SELECTOR_OP_IN);
	cr_assert_eq(sel->exprs[0].n_values, 2);
	cr_assert_str_eq(sel->exprs[0].values[1], "stable");
	cr_assert_eq(sel->exprs[1].op, SELECTOR_OP_DOES_NOT_EXIST);
	cr_assert_eq(sel->exprs[1].n_values, 0);
	cr_assert(c->has_parent_ignore_status_changes && c->parent_ignore_status_changes);

	cr_assert_eq(c->n_children, 6);
	cr_assert_str_eq(c->children[0].resource, "pods");
	cr_assert_eq(c->children[0].method, MCDEF_ROLLING_RECREATE);
	cr_assert_eq(c->children[0].n_conditions, 2);
	cr_assert_str_eq(c->children[0].conditions[0].type, "Ready");
	cr_assert_str_eq(c->children[0].conditions[0].status, "True");
	cr_assert_null(c->children[0].conditions[0].reason);
	cr_assert_str_eq(c->children[0].conditions[1].reason, "Started");
	cr_assert_eq(c->children[1].method, MCDEF_INPLACE);
	cr_assert(!c->children[1].has_status_checks);
	cr_assert_str_eq(c->children[2].api_version, "apps/v1");
	cr_assert_eq(c->children[2].method, MCDEF_ROLLING_INPLACE);
	cr_assert_eq(c->children[2].n_conditions, 1);
	cr_assert_null(c->children[2].conditions[0].status);
	cr_assert_eq(c->children[3].method, MCDEF_RECREATE);
	cr_assert_eq(c->children[4].method, MCDEF_ONDELETE);
	cr_assert(c->children[4].has_method);
	cr_assert_eq(c->children[5].method, MCDEF_ONDELETE, "no updateStrategy: OnDelete, as in metacontroller");
	cr_assert(!c->children[5].has_update_strategy && !c->children[5].has_method);
	cr_assert(c->has_generate_selector && c->generate_selector);
	cr_assert(c->has_resync);
	cr_assert_eq(c->resync_period_seconds, 45);

	cr_assert_eq(c->n_connections, 2);
	cr_assert_str_eq(c->connections[0].host, "hooks.rollouts.svc:8443");
	cr_assert_eq(c->connections[0].auth.ca, MCDEF_CA_CONFIGMAP);
	assert_ref(&c->connections[0].auth.ca_ref, "rollouts-ca", "rollouts", "bundle.pem");
	cr_assert(c->connections[0].auth.has_authorization);
	cr_assert_null(c->connections[0].auth.auth_type, "not written: Bearer applies");
	assert_ref(&c->connections[0].auth.auth_secret, "hook-token", "rollouts", "token");
	cr_assert(c->connections[1].auth.has_client_tls && c->connections[1].auth.has_basic_auth);
	cr_assert_null(c->connections[1].auth.username_key);

	const struct mcdef_hook *sync = &c->hooks.sync;
	cr_assert(sync->set && sync->has_version);
	cr_assert_eq(sync->version, 2);
	cr_assert_str_eq(sync->webhook.url, "https://hooks.rollouts.svc:8443/sync");
	cr_assert_str_eq(sync->webhook.effective_url, "https://hooks.rollouts.svc:8443/sync");
	cr_assert_str_eq(sync->webhook.timeout, "1m30s");
	cr_assert_eq(sync->webhook.timeout_ns, 90000000000LL);
	cr_assert(sync->webhook.has_etag && sync->webhook.etag_enabled);
	cr_assert_eq(sync->webhook.etag_cache_timeout_seconds, 600);
	cr_assert_eq(sync->webhook.etag_cache_cleanup_seconds, 60);
	cr_assert(sync->webhook.has_unmarshal_mode);
	cr_assert(!sync->webhook.strict, "loose as written, although v2 defaults to strict");
	cr_assert_eq(sync->webhook.auth.ca, MCDEF_CA_INLINE);
	cr_assert(strstr(sync->webhook.auth.ca_inline, "MIIBnotarealcertificate\n"));
	assert_ref(&sync->webhook.auth.client_tls_secret, "client-cert", "rollouts", NULL);
	cr_assert_str_eq(sync->webhook.auth.cert_key, "cert.pem");
	cr_assert_str_eq(sync->webhook.auth.private_key_key, "key.pem");
	cr_assert_str_eq(sync->webhook.auth.auth_type, "Token");

	const struct mcdef_hook *fin = &c->hooks.finalize;
	cr_assert_eq(fin->version, 1);
	cr_assert_null(fin->webhook.url);
	cr_assert_str_eq(fin->webhook.service_name, "rollouts-hooks");
	cr_assert_eq(fin->webhook.service_port, 8080);
	cr_assert_str_eq(fin->webhook.service_protocol, "http");
	cr_assert_str_eq(fin->webhook.path, "/finalize");
	cr_assert_str_eq(fin->webhook.effective_url, "http://rollouts-hooks.rollouts:8080/finalize");
	cr_assert_eq(fin->webhook.timeout_ns, 500000000LL);
	cr_assert(fin->webhook.strict);
	cr_assert(fin->webhook.auth.has_basic_auth && !fin->webhook.auth.has_authorization);
	cr_assert_str_eq(fin->webhook.auth.username_key, "user");
	cr_assert_str_eq(fin->webhook.auth.password_key, "pass");

	const struct mcdef_hook *cust = &c->hooks.customize;
	cr_assert(cust->set && !cust->has_version);
	cr_assert_eq(cust->version, 1);
	cr_assert(!cust->webhook.strict, "v1 defaults to loose");
	cr_assert_str_eq(cust->webhook.effective_url, "http://rollouts-hooks.rollouts:80/customize");
	cr_assert_eq(cust->webhook.timeout_ns, MCDEF_DEFAULT_TIMEOUT_NS);
	cr_assert_eq(cust->webhook.auth.ca, MCDEF_CA_SECRET);
	assert_ref(&cust->webhook.auth.ca_ref, "rollouts-ca", "rollouts", NULL);
	cr_assert_str_eq(c->hooks.pre_update_child.webhook.url, "http://rollouts-hooks.rollouts/pre");
	cr_assert_str_eq(c->hooks.post_update_child.webhook.url, "http://rollouts-hooks.rollouts/post");
}

Test(mcdef, composite_every_field_round_trips)
{
	struct mcdef_set *s = load_ok(DATA "composite-full.yaml");
	cr_assert_eq(s->n, 1);
	const struct mcdef_controller *c = &s->items[0];
	check_composite_full(c);
	cr_assert_str_eq(c->source, DATA "composite-full.yaml: document 1");
	cr_assert_eq(c->name_line, 6);
	assert_json_file_eq(c->object, DATA "composite-full.json", "the object as written");
	struct json_object *back = mcdef_to_json(c);
	cr_assert_not_null(back);
	assert_json_file_eq(back, DATA "composite-full.json", "the object rebuilt from the structs");
	json_object_put(back);
	mcdef_set_free(&s);
	cr_assert_null(s);

	/* The same object written as JSON loads into the same structs. */
	s = load_ok(DATA "composite-full.json");
	check_composite_full(&s->items[0]);
	back = mcdef_to_json(&s->items[0]);
	assert_json_file_eq(back, DATA "composite-full.json", "the JSON file's object rebuilt");
	json_object_put(back);
	mcdef_set_free(&s);
}

static void check_decorator_full(const struct mcdef_controller *c)
{
	cr_assert_eq(c->kind, MCDEF_DECORATOR);
	cr_assert_str_eq(c->name, "service-per-pod");
	cr_assert(!c->has_status);
	cr_assert_eq(c->n_resources, 2);
	const struct mcdef_resource *r = &c->resources[0];
	cr_assert_str_eq(r->api_version, "apps/v1");
	cr_assert_str_eq(r->resource, "statefulsets");
	cr_assert(r->label_selector.set);
	cr_assert_str_eq(r->label_selector.match_keys[0], "app");
	cr_assert_str_eq(r->label_selector.match_values[0], "db");
	cr_assert_eq(r->label_selector.exprs[0].op, SELECTOR_OP_NOT_IN);
	cr_assert(r->annotation_selector.set);
	cr_assert_str_eq(r->annotation_selector.match_keys[0], "example.com/expose");
	cr_assert_str_eq(r->annotation_selector.match_values[0], "true");
	cr_assert_eq(r->annotation_selector.exprs[0].op, SELECTOR_OP_EXISTS);
	cr_assert(r->has_ignore_status_changes && !r->ignore_status_changes);
	cr_assert(!c->resources[1].label_selector.set && !c->resources[1].annotation_selector.set);

	cr_assert_eq(c->n_attachments, 3);
	cr_assert_eq(c->attachments[0].method, MCDEF_INPLACE);
	cr_assert_eq(c->attachments[1].method, MCDEF_ROLLING_RECREATE);
	cr_assert_eq(c->attachments[2].method, MCDEF_ONDELETE);
	cr_assert(c->has_resync);
	cr_assert_eq(c->resync_period_seconds, 0);
	cr_assert_eq(c->n_connections, 1);
	cr_assert_eq(c->connections[0].auth.ca, MCDEF_CA_SECRET);
	assert_ref(&c->connections[0].auth.ca_ref, "hooks-ca", "metacontroller", "ca.pem");

	cr_assert(c->hooks.sync.webhook.has_etag && c->hooks.sync.webhook.has_etag_enabled);
	cr_assert(!c->hooks.sync.webhook.etag_enabled);
	cr_assert_eq(c->hooks.finalize.version, 2);
	cr_assert(c->hooks.finalize.webhook.strict, "v2 defaults to strict");
	cr_assert(!c->hooks.finalize.webhook.has_unmarshal_mode);
	cr_assert_eq(c->hooks.finalize.webhook.timeout_ns, 2000);
	cr_assert_str_eq(c->hooks.customize.webhook.effective_url,
			 "https://decorator-hooks.metacontroller:8443/customize");
	cr_assert(c->hooks.customize.webhook.auth.has_client_tls);
	cr_assert(!c->hooks.pre_update_child.set && !c->hooks.post_update_child.set);
}

Test(mcdef, decorator_every_field_round_trips)
{
	struct mcdef_set *s = load_ok(DATA "decorator-full.yaml");
	cr_assert_eq(s->n, 1);
	check_decorator_full(&s->items[0]);
	assert_json_file_eq(s->items[0].object, DATA "decorator-full.json", "the object as written");
	struct json_object *back = mcdef_to_json(&s->items[0]);
	assert_json_file_eq(back, DATA "decorator-full.json", "the object rebuilt from the structs");
	json_object_put(back);
	mcdef_set_free(&s);

	s = load_ok(DATA "decorator-full.json");
	check_decorator_full(&s->items[0]);
	mcdef_set_free(&s);
}

Test(mcdef, multi_document_file)
{
	struct mcdef_set *s = load_ok(DATA "multi.yaml");
	cr_assert_eq(s->n, 2);
	cr_assert_str_eq(s->items[0].name, "first");
	cr_assert_eq(s->items[0].kind, MCDEF_COMPOSITE);
	cr_assert_str_eq(s->items[0].source, DATA "multi.yaml: document 1");
	cr_assert_str_eq(s->items[1].name, "second");
	cr_assert_eq(s->items[1].kind, MCDEF_DECORATOR);
	cr_assert_str_eq(s->items[1].source, DATA "multi.yaml: document 3", "the empty document 2 counts");
	cr_assert_eq(mcdef_find(s, "second"), &s->items[1]);
	cr_assert_null(mcdef_find(s, "third"));

	/* Defaults of a minimal controller: what metacontroller uses. */
	const struct mcdef_controller *c = &s->items[0];
	cr_assert(!c->has_children && !c->has_resync && !c->has_generate_selector && !c->generate_selector);
	cr_assert(!c->has_revision_history && !c->parent_selector.set);
	cr_assert_eq(c->hooks.sync.version, 1);
	cr_assert(!c->hooks.sync.webhook.strict);
	cr_assert_eq(c->hooks.sync.webhook.timeout_ns, MCDEF_DEFAULT_TIMEOUT_NS);
	cr_assert(!c->hooks.finalize.set && !c->hooks.customize.set);
	struct json_object *back = mcdef_to_json(c);
	cr_assert(json_object_equal(back, c->object), "%s", json_object_to_json_string(back));
	json_object_put(back);
	mcdef_set_free(&s);
}

Test(mcdef, yaml_booleans_as_kubectl_reads_them)
{
	struct mcdef_set *s = load_text(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\n"
		"metadata: {name: b}\nspec:\n  parentResource: {apiVersion: v1, resource: pods, "
		"ignoreStatusChanges: off}\n  generateSelector: yes\n"
		"  hooks: {sync: {webhook: {url: \"http://h/s\"}}}\n");
	cr_assert(s->items[0].has_generate_selector && s->items[0].generate_selector);
	cr_assert(s->items[0].has_parent_ignore_status_changes && !s->items[0].parent_ignore_status_changes);
	struct json_object *spec = json_object_object_get(s->items[0].object, "spec");
	cr_assert(json_object_is_type(json_object_object_get(spec, "generateSelector"), json_type_boolean));
	mcdef_set_free(&s);
}

/* An object as the API server returns it (kubectl get -o json): server-set
 * metadata and defaulted fields are part of the API and load. */
Test(mcdef, object_read_back_from_the_api)
{
	struct mcdef_set *s = load_ok(DATA "live.json");
	const struct mcdef_controller *c = &s->items[0];
	cr_assert_str_eq(c->name, "webapps");
	cr_assert(c->hooks.sync.has_version);
	cr_assert_eq(json_object_get_int(json_object_object_get(c->metadata, "generation")), 3);
	assert_json_file_eq(c->object, DATA "live.json", "the object as written");
	struct json_object *back = mcdef_to_json(c);
	assert_json_file_eq(back, DATA "live.json", "the object rebuilt from the structs");
	json_object_put(back);
	mcdef_set_free(&s);
}

/* A null is absent, as for metacontroller's Go types. */
Test(mcdef, null_is_absent)
{
	struct mcdef_set *s = load_text(
		"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\n"
		"metadata: {name: nulls}\nspec:\n  parentResource: {apiVersion: v1, resource: pods, "
		"labelSelector: null}\n  childResources: ~\n  resyncPeriodSeconds:\n"
		"  hooks: {sync: {version: null, webhook: {url: \"http://h/s\", timeout: ~}}, "
		"finalize: null}\n");
	const struct mcdef_controller *c = &s->items[0];
	cr_assert(!c->parent_selector.set && !c->has_children && !c->has_resync && !c->hooks.finalize.set);
	cr_assert(!c->hooks.sync.has_version && !c->hooks.sync.webhook.timeout);
	cr_assert_eq(c->hooks.sync.webhook.timeout_ns, MCDEF_DEFAULT_TIMEOUT_NS);
	cr_assert(json_object_object_get_ex(json_object_object_get(c->object, "spec"), "childResources", NULL),
		  "the object keeps what was written, null included");
	mcdef_set_free(&s);
}

Test(mcdef, directory_in_name_order)
{
	struct mcdef_set *s = load_ok(DATA "dir");
	cr_assert_eq(s->n, 3, "a.json, b.yml, c.yaml; notes.txt and .hidden.yaml skipped");
	cr_assert_str_eq(s->items[0].name, "from-a");
	cr_assert_str_eq(s->items[0].source, DATA "dir/a.json: document 1");
	cr_assert_eq(s->items[0].resync_period_seconds, 30);
	cr_assert_eq(s->items[0].hooks.sync.webhook.timeout_ns, 5000000000LL);
	cr_assert_str_eq(s->items[1].name, "from-b");
	cr_assert_str_eq(s->items[2].name, "from-c");
	mcdef_set_free(&s);
}

static void expect_load_error(const char *path, int code, const char *msg)
{
	struct cx_err err = { 0 };
	struct mcdef_set *s = (struct mcdef_set *)1;
	cr_assert_eq(mcdef_load(path, &s, &err), code, "%s: %s", path, err.msg);
	cr_assert_null(s);
	cr_assert_str_eq(err.msg, msg);
}

Test(mcdef, duplicate_names_across_files_and_kinds)
{
	expect_load_error(
		DATA "dupdir", -EINVAL,
		"metacontroller manifest " DATA "dupdir/2.yaml: document 1 (DecoratorController \"same\"): "
		"line 5, column 9: metadata.name: duplicate controller name \"same\" (also " DATA
		"dupdir/1.yaml: document 1, line 3); expected one controller of each name, whatever its kind");
}

Test(mcdef, nothing_to_load)
{
	expect_load_error(DATA "nope.yaml", -ENOENT,
			  "metacontroller manifest " DATA "nope.yaml: cannot open: No such file or directory");
	char dir[] = "/tmp/test_mcdef-empty-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char msg[1024];
	snprintf(msg, sizeof(msg),
		 "metacontroller manifest %s: no CompositeController or DecoratorController found "
		 "in its *.yaml, *.yml and *.json files",
		 dir);
	expect_load_error(dir, -EINVAL, msg);
	char file[600];
	snprintf(file, sizeof(file), "%s/empty.yaml", dir);
	FILE *f = fopen(file, "w");
	fputs("# nothing\n---\n---\n", f);
	fclose(f);
	snprintf(msg, sizeof(msg), "metacontroller manifest %s: no CompositeController or DecoratorController found",
		 file);
	expect_load_error(file, -EINVAL, msg);
	unlink(file);
	rmdir(dir);
}

/* ---- one message per kind of error ---- */

/* Writes yaml to a file, loads it, and checks the whole message: "metacontroller
 * manifest FILE: " then want. */
static void expect_error(const char *yaml, const char *want)
{
	char file[32];
	write_temp(yaml, file);
	char msg[CX_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "metacontroller manifest %s: %s", file, want);
	expect_load_error(file, -EINVAL, msg);
	unlink(file);
}

#define HEAD   "apiVersion: metacontroller.k8s.io/v1alpha1\n"
#define CC     HEAD "kind: CompositeController\nmetadata: {name: bluegreen}\n"
#define DC     HEAD "kind: DecoratorController\nmetadata: {name: deco}\n"
#define PARENT "  parentResource: {apiVersion: ctl.example.com/v1, resource: bluegreens}\n"
#define SYNC   "  hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"
#define RES    "  resources: [{apiVersion: v1, resource: pods}]\n"
#define DOC1   HEAD "kind: DecoratorController\nmetadata: {name: first}\nspec:\n" RES SYNC "---\n"

Test(mcdef_errors, update_method_in_document_2)
{
	expect_error(
		DOC1 CC
		"spec:\n" PARENT "  childResources:\n"
		"    - apiVersion: apps/v1\n      resource: replicasets\n      updateStrategy: {method: Foo}\n" SYNC,
		"document 2 (CompositeController \"bluegreen\"): line 16, column 32: "
		"spec.childResources[0].updateStrategy.method: expected OnDelete, Recreate, InPlace, RollingRecreate "
		"or RollingInPlace, got \"Foo\"");
}

Test(mcdef_errors, unknown_fields_are_refused_with_their_path)
{
	expect_error(CC "spec:\n  parentResource: {apiVersion: v1, resource: pods, selector: {}}\n" SYNC,
		     "document 1 (CompositeController \"bluegreen\"): line 5, column 52: spec.parentResource.selector: "
		     "unknown field; expected one of: apiVersion, resource, revisionHistory, labelSelector, "
		     "ignoreStatusChanges");
	expect_error(CC "spec:\n" PARENT SYNC "  resync: 10\n",
		     "document 1 (CompositeController \"bluegreen\"): line 7, column 3: spec.resync: unknown field; "
		     "expected one of: parentResource, childResources, hooks, connections, resyncPeriodSeconds, "
		     "generateSelector");
	expect_error(DC "spec:\n" RES "  attachments:\n    - {apiVersion: v1, resource: services, updateStrategy: "
			"{method: InPlace, statusChecks: {}}}\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 7, column 78: "
		     "spec.attachments[0].updateStrategy.statusChecks: unknown field; expected one of: method");
	expect_error(DC "spec:\n" RES "  hooks: {sync: {webhook: {url: \"http://h/s\"}}, preUpdateChild: {}}\n",
		     "document 1 (DecoratorController \"deco\"): line 6, column 49: spec.hooks.preUpdateChild: unknown "
		     "field; expected one of: sync, finalize, customize");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"http://h/s\", timeoutSeconds: 10}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 47: "
		"spec.hooks.sync.webhook.timeoutSeconds: unknown field; expected one of: url, timeout, etag, path, "
		"service, responseUnMarshallMode, caBundle, clientTLS, authorization, basicAuth");
	expect_error(
		HEAD "kind: CompositeController\nmetadata: {name: x, labelz: {}}\nspec:\n" PARENT SYNC,
		"document 1 (CompositeController \"x\"): line 3, column 21: metadata.labelz: unknown field; expected "
		"one of: name, generateName, namespace, selfLink, uid, resourceVersion, generation, "
		"creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, labels, annotations, "
		"ownerReferences, finalizers, managedFields");
	expect_error(CC "spec:\n" PARENT SYNC "status: {ready: true}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 7, column 9: status: expected an empty "
		     "mapping {} (a controller has no status fields), got a mapping");
	expect_error(CC "spec:\n" PARENT SYNC "extra: 1\n",
		     "document 1 (CompositeController \"bluegreen\"): line 7, column 1: extra: unknown field; expected "
		     "one of: apiVersion, kind, metadata, spec, status");
}

Test(mcdef_errors, other_documents)
{
	expect_error("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n",
		     "document 1 (ConfigMap \"settings\"): line 2, column 7: kind: expected a CompositeController or "
		     "DecoratorController, got \"ConfigMap\"");
	expect_error("apiVersion: metacontroller.k8s.io/v1\nkind: CompositeController\nmetadata: {name: x}\n",
		     "document 1 (CompositeController \"x\"): line 1, column 13: apiVersion: expected "
		     "metacontroller.k8s.io/v1alpha1, got \"metacontroller.k8s.io/v1\"");
	expect_error("- a\n- b\n",
		     "document 1: line 1, column 1: the document: expected a mapping (a "
		     "CompositeController or DecoratorController), got a list");
	expect_error("metadata: {name: x}\n",
		     "document 1: line 1, column 1: kind: missing; expected "
		     "CompositeController or DecoratorController");
	expect_error(CC,
		     "document 1 (CompositeController \"bluegreen\"): line 1, column 1: spec: missing; expected a "
		     "spec");
	expect_error(CC "spec: {parentResource: [}\n",
		     "line 4, column 25: invalid YAML: did not find expected node content while parsing a flow node");
	/* After a good first document: nothing of the file is kept. */
	expect_error(DOC1 "kind: [\n",
		     "line 9, column 1: invalid YAML: did not find expected node content while parsing a flow node");
	char deep[300] = "";
	for (int i = 0; i < 70; i++)
		strcat(deep, "[");
	expect_error(deep, "line 1, column 65: nested deeper than 64 levels");
}

Test(mcdef_errors, repeated_keys_anywhere)
{
	expect_error(CC "spec:\n" PARENT SYNC "  resyncPeriodSeconds: 1\n  resyncPeriodSeconds: 2\n",
		     "document 1 (CompositeController \"bluegreen\"): line 8, column 3: spec.resyncPeriodSeconds: "
		     "repeated key (first at line 7); expected it once");
	expect_error(
		HEAD "kind: DecoratorController\nmetadata: {name: d, labels: {a: b, a: c}}\nspec:\n" RES SYNC,
		"document 1 (DecoratorController \"d\"): line 3, column 36: metadata.labels.a: repeated key (first "
		"at line 3); expected it once");
}

Test(mcdef_errors, types_as_kubectl_reads_them)
{
	expect_error(CC "spec:\n" PARENT "  childResources:\n    - apiVersion: v1\n      resource: pods\n"
			"      updateStrategy:\n        method: RollingRecreate\n        statusChecks:\n"
			"          conditions: [{type: Ready, status: True}]\n" SYNC,
		     "document 1 (CompositeController \"bluegreen\"): line 12, column 46: "
		     "spec.childResources[0].updateStrategy.statusChecks.conditions[0].status: expected a condition "
		     "status as a string, such as \"True\", got True (a boolean; quote it if it is meant as text)");
	expect_error(
		CC "spec:\n" PARENT SYNC "  resyncPeriodSeconds: \"30\"\n",
		"document 1 (CompositeController \"bluegreen\"): line 7, column 24: spec.resyncPeriodSeconds: "
		"expected an integer >= 0 (seconds; metacontroller resyncs at most once a second), got \"30\" (quoted, "
		"so a string)");
	expect_error(CC "spec:\n" PARENT SYNC "  resyncPeriodSeconds: -1\n",
		     "document 1 (CompositeController \"bluegreen\"): line 7, column 24: spec.resyncPeriodSeconds: "
		     "expected an integer >= 0 (seconds; metacontroller resyncs at most once a second), got -1");
	/* YAML 1.1, as kubectl reads it: a plain n is false, so not a namespace. */
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {service: {name: h, namespace: n}, path: /s}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 58: "
		     "spec.hooks.sync.webhook.service.namespace: expected a namespace name (a DNS label), got n (a "
		     "boolean; quote it if it is meant as text)");
	expect_error(
		CC "spec:\n" PARENT SYNC "  generateSelector: 1\n",
		"document 1 (CompositeController \"bluegreen\"): line 7, column 21: spec.generateSelector: expected "
		"true or false, got 1");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"http://h/s\", etag: {enabled: \"true\"}}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 63: "
		"spec.hooks.sync.webhook.etag.enabled: expected true or false, got \"true\" (quoted, so a string)");
	expect_error(
		CC "spec:\n" PARENT SYNC "  generateSelector: maybe\n",
		"document 1 (CompositeController \"bluegreen\"): line 7, column 21: spec.generateSelector: expected "
		"true or false, got \"maybe\"");
	expect_error(
		HEAD "kind: CompositeController\nmetadata: {name: x, labels: {version: 2}}\nspec:\n" PARENT SYNC,
		"document 1 (CompositeController \"x\"): line 3, column 39: metadata.labels.version: expected a label "
		"value (at most 63 letters, digits, '-', '_', '.'), as a string, got 2 (a number; quote it if it is "
		"meant as text)");
	expect_error(
		HEAD "kind: CompositeController\nmetadata: {name: Blue_Green}\nspec:\n" PARENT SYNC,
		"document 1 (CompositeController \"Blue_Green\"): line 3, column 18: metadata.name: expected a name "
		"(a DNS subdomain: lowercase letters, digits, '-' and '.'), got \"Blue_Green\"");
	expect_error(CC "spec:\n  parentResource: {apiVersion: ctl.example.com/v1, resource: BlueGreen}\n" SYNC,
		     "document 1 (CompositeController \"bluegreen\"): line 5, column 62: spec.parentResource.resource: "
		     "expected a resource name, lowercase and plural, such as pods or catsets, got \"BlueGreen\"");
}

Test(mcdef_errors, hooks)
{
	expect_error(CC "spec:\n" PARENT,
		     "document 1 (CompositeController \"bluegreen\"): line 5, column 3: spec.hooks: missing; expected "
		     "{sync, finalize, customize} (metacontroller fails every sync without a sync hook)");
	expect_error(CC "spec:\n" PARENT "  hooks: {finalize: {webhook: {url: \"http://h/f\"}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 10: spec.hooks.sync: missing; "
		     "expected a hook {version, webhook}");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {version: v1}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 17: spec.hooks.sync.webhook: missing; "
		"expected a webhook {url, ...} or {service, path, ...} (the only kind of hook metacontroller has)");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {version: v3, webhook: {url: \"http://h/s\"}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 27: spec.hooks.sync.version: "
		     "expected v1 or v2, got \"v3\"");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"http://h/s\", responseUnMarshallMode: "
			"Strict}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 71: "
		     "spec.hooks.sync.webhook.responseUnMarshallMode: expected loose or strict, got \"Strict\"");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {path: /sync}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 27: spec.hooks.sync.webhook: neither "
		"url nor service and path; expected {url: http(s)://...} or {service: {name, namespace}, path: /...}");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {service: {name: h, namespace: ns}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 27: spec.hooks.sync.webhook.path: "
		     "missing; expected a URL path starting with / (service needs one)");
	expect_error(CC "spec:\n" PARENT
			"  hooks: {sync: {webhook: {service: {name: h, namespace: ns}, path: sync}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 69: spec.hooks.sync.webhook.path: "
		     "expected a URL path starting with /, got \"sync\"");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {service: {name: h, namespace: ns, port: 0}, "
			"path: /s}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 68: "
		     "spec.hooks.sync.webhook.service.port: expected a port from 1 to 65535, got 0");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {service: {name: h, namespace: ns, protocol: "
			"ftp}, path: /s}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 72: "
		     "spec.hooks.sync.webhook.service.protocol: expected http or https, got \"ftp\"");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"ftp://h/s\"}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 33: spec.hooks.sync.webhook.url: "
		     "expected an http:// or https:// URL, got \"ftp://h/s\"");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"http://h/s\", etag: {cacheTimeoutSeconds: "
			"-1}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 75: "
		     "spec.hooks.sync.webhook.etag.cacheTimeoutSeconds: expected an integer >= 0 (seconds), got -1");
}

Test(mcdef_errors, timeouts)
{
	const struct {
		const char *value, *got;
	} bad[] = {
		{ "10 seconds", "\"10 seconds\"" },
		{ "-5s", "\"-5s\"" },
		{ "0s", "\"0s\"" },
		{ "\"0\"", "\"0\"" },
		{ "10", "10 (a number; quote it if it is meant as text)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char yaml[512], want[512];
		snprintf(yaml, sizeof(yaml),
			 CC "spec:\n" PARENT "  hooks:\n    sync:\n      webhook:\n"
			    "        url: http://h/s\n        timeout: %s\n",
			 bad[i].value);
		snprintf(
			want, sizeof(want),
			"document 1 (CompositeController \"bluegreen\"): line 10, column 18: "
			"spec.hooks.sync.webhook.timeout: expected a positive Go duration such as 10s, 1m30s or 500ms, "
			"got %s",
			bad[i].got);
		expect_error(yaml, want);
	}
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"http://h/s\", timeout: 9999999h}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 56: spec.hooks.sync.webhook.timeout: "
		"expected a Go duration below 2562047h, got \"9999999h\"");
}

Test(mcdef_errors, tls_and_auth)
{
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", caBundle: {inline: x, "
		   "secretRef: {name: a, namespace: b}}}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 58: "
		"spec.hooks.sync.webhook.caBundle: more than one source; expected exactly one of inline, secretRef "
		"and configMapRef");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", caBundle: {}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 58: "
		     "spec.hooks.sync.webhook.caBundle: no source; expected exactly one of inline, secretRef and "
		     "configMapRef");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", caBundle: {inline: "
			"notpem}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 67: "
		     "spec.hooks.sync.webhook.caBundle.inline: expected PEM-encoded CA certificates "
		     "(-----BEGIN CERTIFICATE-----)");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", authorization: {type: basic, "
		   "secretRef: {name: a, namespace: b, key: c}}}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 70: "
		"spec.hooks.sync.webhook.authorization.type: Basic is not supported here (as in metacontroller); use "
		"basicAuth instead");
	expect_error(
		CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", authorization: {secretRef: "
		   "{name: a, namespace: b}}}}}\n",
		"document 1 (CompositeController \"bluegreen\"): line 6, column 75: "
		"spec.hooks.sync.webhook.authorization.secretRef.key: missing; expected a key of the object's data "
		"(letters, digits, '-', '_', '.')");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", authorization: {secretRef: "
			"{name: a, namespace: b, key: c}}, basicAuth: {secretRef: {name: a, namespace: b}}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 120: "
		     "spec.hooks.sync.webhook.basicAuth: authorization is set too; expected at most one of them");
	expect_error(CC "spec:\n" PARENT "  hooks: {sync: {webhook: {url: \"https://h/s\", clientTLS: {certKey: "
			"tls.crt}}}}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 6, column 59: "
		     "spec.hooks.sync.webhook.clientTLS.secretRef: missing; expected {name, namespace}");
	expect_error(
		CC "spec:\n" PARENT SYNC "  connections:\n    - {host: h.example}\n    - {host: H.example}\n",
		"document 1 (CompositeController \"bluegreen\"): line 9, column 14: spec.connections[1].host: host "
		"H.example is listed twice (also spec.connections[0]); expected each host once");
	expect_error(CC "spec:\n" PARENT SYNC "  connections:\n    - {host: \"https://h.example\"}\n",
		     "document 1 (CompositeController \"bluegreen\"): line 8, column 14: spec.connections[0].host: "
		     "expected a host or host:port, got \"https://h.example\"");
}

Test(mcdef_errors, selectors)
{
	expect_error(DC "spec:\n  resources:\n    - apiVersion: v1\n      resource: pods\n      labelSelector:\n"
			"        matchExpressions: [{key: app, operator: in, values: [a]}]\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 9, column 49: "
		     "spec.resources[0].labelSelector.matchExpressions[0].operator: expected In, NotIn, Exists or "
		     "DoesNotExist, got \"in\"");
	expect_error(DC "spec:\n  resources:\n    - apiVersion: v1\n      resource: pods\n      labelSelector:\n"
			"        matchExpressions: [{key: app, operator: In}]\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 9, column 28: "
		     "spec.resources[0].labelSelector.matchExpressions[0].values: expected at least one value for "
		     "operator In");
	expect_error(DC "spec:\n  resources:\n    - apiVersion: v1\n      resource: pods\n      annotationSelector:\n"
			"        matchExpressions: [{key: app, operator: Exists, values: [a]}]\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 9, column 65: "
		     "spec.resources[0].annotationSelector.matchExpressions[0].values: expected no values for operator "
		     "Exists");
	expect_error(
		DC "spec:\n  resources:\n    - apiVersion: v1\n      resource: pods\n      annotationSelector:\n"
		   "        matchAnnotations: {example.com/pod-name: statefulset.kubernetes.io/pod-name}\n" SYNC,
		"document 1 (DecoratorController \"deco\"): line 9, column 50: "
		"spec.resources[0].annotationSelector.matchAnnotations.example.com/pod-name: expected a label value "
		"(at most 63 letters, digits, '-', '_', '.'), as a string, got "
		"\"statefulset.kubernetes.io/pod-name\"");
	expect_error(DC "spec:\n  resources:\n    - apiVersion: v1\n      resource: pods\n      labelSelector:\n"
			"        matchLabels: {app: web}\n        matchAnnotations: {a: b}\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 10, column 9: "
		     "spec.resources[0].labelSelector.matchAnnotations: unknown field; expected one of: matchLabels, "
		     "matchExpressions");
}

Test(mcdef_errors, lists)
{
	expect_error(
		DC "spec:\n  resources: []\n" SYNC,
		"document 1 (DecoratorController \"deco\"): line 5, column 14: spec.resources: expected a non-empty "
		"list of resource rules, got an empty list");
	expect_error(DC "spec:\n" SYNC,
		     "document 1 (DecoratorController \"deco\"): line 5, column 3: spec.resources: missing; expected a "
		     "non-empty list of resource rules {apiVersion, resource}");
	expect_error(
		CC "spec:\n" PARENT "  childResources:\n    - {apiVersion: v1, resource: pods}\n"
		   "    - {apiVersion: v1, resource: pods, updateStrategy: {method: InPlace}}\n" SYNC,
		"document 1 (CompositeController \"bluegreen\"): line 8, column 7: spec.childResources[1]: "
		"apiVersion v1, resource pods is listed twice (also spec.childResources[0]); expected each resource "
		"once");
	expect_error(
		CC "spec:\n" PARENT "  childResources: {apiVersion: v1, resource: pods}\n" SYNC,
		"document 1 (CompositeController \"bluegreen\"): line 6, column 19: spec.childResources: expected a "
		"list of resource rules {apiVersion, resource, updateStrategy}, got a mapping");
	expect_error(
		CC "spec:\n  parentResource: {apiVersion: v1, resource: pods, revisionHistory: {fieldPaths: "
		   "[spec..template]}}\n" SYNC,
		"document 1 (CompositeController \"bluegreen\"): line 5, column 83: "
		"spec.parentResource.revisionHistory.fieldPaths[0]: expected a field path such as spec.template, got "
		"\"spec..template\"");
	expect_error(
		CC "spec:\n  parentResource: {resource: pods}\n" SYNC,
		"document 1 (CompositeController \"bluegreen\"): line 5, column 19: spec.parentResource.apiVersion: "
		"missing; expected an apiVersion such as v1 or example.com/v1");
}

/* ---- one object from the API (mcdef_parse_json) ---- */

/* The object as the API serves it: every ObjectMeta field, kubectl's
 * last-applied annotation, and a status, which a manifest may not have. */
Test(mcdef_json, object_from_the_api)
{
	const char *json =
		"{\"apiVersion\":\"metacontroller.k8s.io/v1alpha1\",\"kind\":\"CompositeController\","
		"\"metadata\":{\"name\":\"webapps\",\"uid\":\"0d6f\",\"resourceVersion\":\"812\","
		"\"generation\":2,\"creationTimestamp\":\"2026-12-04T17:00:00Z\",\"annotations\":"
		"{\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"a\\\":1}\\n\"},"
		"\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\"}]},"
		"\"spec\":{\"parentResource\":{\"apiVersion\":\"ctl.example.com/v1\",\"resource\":\"webapps\"},"
		"\"hooks\":{\"sync\":{\"webhook\":{\"url\":\"http://h/sync\",\"timeout\":\"1500us\"}}}},"
		"\"status\":{\"observed\":1}}";
	struct cx_err err = { 0 };
	struct mcdef_set *s = NULL;
	int rc = mcdef_parse_json(json, "CompositeController \"webapps\"", &s, &err);
	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_eq(s->n, 1);
	cr_assert_str_eq(s->items[0].name, "webapps");
	cr_assert_eq(s->items[0].hooks.sync.webhook.timeout_ns, 1500000);
	cr_assert_str_eq(json_object_get_string(json_object_object_get(
				 json_object_object_get(s->items[0].object, "metadata"), "resourceVersion")),
			 "812");
	mcdef_set_free(&s);
}

/* The spec is checked as strictly as a file's. */
Test(mcdef_json, unknown_spec_field_names_its_path)
{
	const char *json =
		"{\"apiVersion\":\"metacontroller.k8s.io/v1alpha1\",\"kind\":\"CompositeController\","
		"\"metadata\":{\"name\":\"webapps\"},\"spec\":{\"parentResource\":{\"apiVersion\":\"v1\","
		"\"resource\":\"pods\"},\"bogus\":1,\"hooks\":{\"sync\":{\"webhook\":{\"url\":\"http://h\"}}}}}";
	struct cx_err err = { 0 };
	struct mcdef_set *s = (struct mcdef_set *)1;
	int rc = mcdef_parse_json(json, "CompositeController \"webapps\"", &s, &err);
	cr_assert_eq(rc, -EINVAL);
	cr_assert_null(s);
	cr_assert(strstr(err.msg, "metacontroller manifest CompositeController \"webapps\": document 1") &&
			  strstr(err.msg, "spec.bogus: unknown field"),
		  "%s", err.msg);
}

Test(mcdef_json, not_json_nor_yaml)
{
	struct cx_err err = { 0 };
	struct mcdef_set *s = NULL;
	cr_assert_eq(mcdef_parse_json("{\"a\": [", "x", &s, &err), -EINVAL);
	cr_assert(strstr(err.msg, "invalid YAML"), "%s", err.msg);
	cr_assert_eq(mcdef_parse_json("", "x", &s, &err), -EINVAL);
	cr_assert(strstr(err.msg, "expected one"), "%s", err.msg);
}

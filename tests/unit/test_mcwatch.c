/* Unit tests for watcher/mcwatch's start-up checks (no API server needed:
 * nothing talks to it before the first tick): the manifests are loaded and
 * checked, and a name a coxswain.yaml controller also has stops the start
 * with a message naming both. The run-time behaviour is
 * tests/e2e/test_mc_live.sh's. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxconfig.h"
#include "err.h"
#include "mcwatch.h"

static void write_file(const char *text, char name[64])
{
	strcpy(name, "/tmp/test_mcwatch-XXXXXX");
	int fd = mkstemp(name);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int start(const struct config_controller *cc, struct cx_err *err)
{
	(void)cc;
	(void)err;
	return 0;
}

static void stop(void *ud, const char *name)
{
	(void)ud;
	(void)name;
}

static int start_cb(void *ud, const struct config_controller *cc, struct cx_err *err)
{
	(void)ud;
	return start(cc, err);
}

#define CONFIG                                                                                                         \
	"controllers:\n  - name: %s\n    parent: {apiVersion: example.com/v1, kind: Website}\n"                        \
	"    hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"
#define COMPOSITE                                                                                                      \
	"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\nmetadata: {name: cms}\n"               \
	"spec:\n  parentResource: {apiVersion: v1, resource: configmaps}\n"                                            \
	"  hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"
#define DECORATOR                                                                                                      \
	"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: DecoratorController\nmetadata: {name: deco}\n"              \
	"spec:\n  resources: [{apiVersion: v1, resource: pods}, {apiVersion: v1, resource: services}]\n"               \
	"  hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"

#define COMPOSITE_DECO_R1                                                                                              \
	"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\n"                                      \
	"metadata: {name: deco.r1}\nspec:\n  parentResource: {apiVersion: v1, resource: configmaps}\n"                 \
	"  hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"

/* Loads a config whose one controller is named config_name and the
 * manifests text; returns mcwatch_new's result, err filled. */
static struct mcwatch *try_new(const char *config_name, const char *manifests, char cfg_file[64], char mc_file[64],
			       struct cx_err *err)
{
	char text[1024];
	snprintf(text, sizeof(text), CONFIG, config_name);
	write_file(text, cfg_file);
	write_file(manifests, mc_file);
	struct config *cfg = NULL;
	config_load(cfg_file, &cfg, err);
	cr_assert_not_null(cfg, "%s", err->msg);
	struct mcwatch_options o = { .manifests = mc_file, .config = cfg, .cb = { start_cb, stop, NULL } };
	struct mcwatch *m = NULL;
	mcwatch_new(&o, &m, err);
	config_free(&cfg);
	unlink(cfg_file);
	unlink(mc_file);
	return m;
}

Test(mcwatch, manifests_load)
{
	char cfg[64], mc[64];
	struct cx_err err = { 0 };
	struct mcwatch *m = try_new("websites", COMPOSITE, cfg, mc, &err);
	cr_assert_not_null(m, "%s", err.msg);
	cr_assert_eq(mcwatch_running(m), 0, "nothing starts before the first tick");
	char why[256];
	cr_assert(mcwatch_ready(m, why, sizeof(why)), "%s", why);
	mcwatch_free(&m);
	cr_assert_null(m);
}

Test(mcwatch, a_name_the_config_has_stops_the_start)
{
	char cfg[64], mc[64];
	struct cx_err err = { 0 };
	cr_assert_null(try_new("cms", COMPOSITE, cfg, mc, &err));
	char want[512];
	snprintf(want, sizeof(want),
		 "%s: document 1: CompositeController \"cms\": controller name \"cms\" is also the "
		 "name of a controller in %s (controllers[].name)",
		 mc, cfg);
	cr_assert(strstr(err.msg, want), "got: %s\nwant: %s", err.msg, want);
}

/* A DecoratorController's second resource runs as "<name>.r1": a
 * CompositeController of that name collides with it. */
Test(mcwatch, a_decorators_resource_names_collide_too)
{
	char cfg[64], mc[64];
	struct cx_err err = { 0 };
	cr_assert_null(try_new("websites", DECORATOR "---\n" COMPOSITE_DECO_R1, cfg, mc, &err));
	char want[512];
	snprintf(want, sizeof(want),
		 "%s: document 2: CompositeController \"deco.r1\": controller name \"deco.r1\" is "
		 "also the name of DecoratorController \"deco\"'s spec.resources[1] (%s: document 1)",
		 mc, mc);
	cr_assert(strstr(err.msg, want), "got: %s\nwant: %s", err.msg, want);
}

Test(mcwatch, an_invalid_manifest_stops_the_start)
{
	char cfg[64], mc[64];
	struct cx_err err = { 0 };
	cr_assert_null(try_new("websites", COMPOSITE "  bogus: 1\n", cfg, mc, &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "spec.bogus: unknown field"), "%s", err.msg);
}

/* coxswain keeps no ControllerRevisions: fieldPaths other than the default
 * would be ignored, so they are refused with their path. */
#define WITH_HISTORY(paths)                                                                                            \
	"apiVersion: metacontroller.k8s.io/v1alpha1\nkind: CompositeController\n"                                      \
	"metadata: {name: cms}\nspec:\n  parentResource: {apiVersion: v1, resource: configmaps, "                      \
	"revisionHistory: {fieldPaths: " paths "}}\n  hooks: {sync: {webhook: {url: \"http://h/sync\"}}}\n"

Test(mcwatch, revision_history_field_paths_are_refused)
{
	char cfg[64], mc[64];
	struct cx_err err = { 0 };
	cr_assert_null(try_new("websites", WITH_HISTORY("[spec.version]"), cfg, mc, &err));
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg,
			 "CompositeController \"cms\": spec.parentResource.revisionHistory.fieldPaths: "
			 "coxswain keeps no ControllerRevisions"),
		  "%s", err.msg);
	struct mcwatch *m = try_new("websites", WITH_HISTORY("[spec]"), cfg, mc, &err);
	cr_assert_not_null(m, "the default is accepted: %s", err.msg);
	mcwatch_free(&m);
}

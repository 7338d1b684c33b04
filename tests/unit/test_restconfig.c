/* Unit tests for common/k8s/loadrules, kubectl's loading rules
 * (--kubeconfig, else the KUBECONFIG list merged, else ~/.kube/config, else
 * in-cluster), and for common/k8s/restconfig's in-cluster configuration. Each
 * Criterion test runs in its own process, so setting the environment here
 * touches no other test. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kubeconfig.h"
#include "loadrules.h"
#include "restconfig.h"

#define RULES  TEST_DATA_DIR "/loadrules/"
#define SA_DIR TEST_DATA_DIR "/serviceaccount"

/* A clean slate: no KUBECONFIG, a HOME without .kube, not in a pod. */
static void no_config_anywhere(void)
{
	unsetenv("KUBECONFIG");
	setenv("HOME", TEST_DATA_DIR "/loadrules/empty-home", 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static struct restconfig *load_ok(const struct loadrules_opts *o)
{
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(loadrules_restconfig(o, &rc, &err), 0, "%s", err.msg);
	cr_assert_not_null(rc);
	return rc;
}

TestSuite(restconfig, .init = no_config_anywhere);

Test(restconfig, kubeconfig_list_merges_first_wins)
{
	setenv("KUBECONFIG", RULES "a.yaml::" RULES "not-there.yaml:" RULES "b.yaml", 1);
	struct loadrules_opts o = { 0 };
	struct restconfig *rc = load_ok(&o);
	cr_assert_str_eq(rc->server, "https://a.example.invalid:6443", "current-context and cluster from a.yaml");
	cr_assert_str_eq(rc->token, "alice-token", "a.yaml's alice wins over b.yaml's");
	cr_assert_str_eq(rc->namespace, "ns-a");
	cr_assert(strstr(rc->source, "a.yaml"), "%s", rc->source);
	restconfig_free(&rc);

	o.context = "ctx-shared-bob"; /* a context of b.yaml over a cluster a.yaml defined first */
	rc = load_ok(&o);
	cr_assert_str_eq(rc->server, "https://a.example.invalid:6443");
	cr_assert_str_eq(rc->token, "bob-token");
	cr_assert_str_eq(rc->namespace, "ns-b");
	restconfig_free(&rc);
}

Test(restconfig, errors_name_the_file_an_entry_came_from)
{
	setenv("KUBECONFIG", RULES "a.yaml:" RULES "b.yaml", 1);
	struct loadrules_opts o = { .context = "ctx-b" };
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(loadrules_restconfig(&o, &rc, &err), -ENOENT, "%s", err.msg);
	cr_assert(strstr(err.msg, "b.yaml: cluster \"only-b\": certificate-authority"), "%s", err.msg);
}

Test(restconfig, flag_beats_environment_and_overrides_apply)
{
	setenv("KUBECONFIG", RULES "a.yaml", 1);
	struct loadrules_opts o = { .kubeconfig = RULES "b.yaml",
				    .context = "ctx-shared-bob",
				    .namespace = "override" };
	struct restconfig *rc = load_ok(&o);
	cr_assert_str_eq(rc->server, "https://b.example.invalid:6443", "only the --kubeconfig file is read");
	cr_assert_str_eq(rc->namespace, "override");
	restconfig_free(&rc);
}

Test(restconfig, flag_file_must_exist)
{
	struct loadrules_opts o = { .kubeconfig = RULES "not-there.yaml" };
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(loadrules_restconfig(&o, &rc, &err), -ENOENT);
	cr_assert(strstr(err.msg, "not-there.yaml"), "%s", err.msg);
}

/* The callee's code, not a stand-in, when the caller keeps no message. */
Test(restconfig, a_failing_files_code_survives_a_null_err)
{
	struct restconfig *rc = NULL;
	struct loadrules_opts o = { .kubeconfig = RULES "not-there.yaml" };
	cr_assert_eq(loadrules_restconfig(&o, &rc, NULL), -ENOENT);
	cr_assert_null(rc);
	o.kubeconfig = NULL;
	setenv("KUBECONFIG", RULES, 1); /* a directory: there, but no file to read */
	struct cx_err err = { 0 };
	int code = loadrules_restconfig(&o, &rc, &err);
	cr_assert_neq(code, -EINVAL, "%s", err.msg);
	cr_assert_lt(code, 0);
	cr_assert_eq(loadrules_restconfig(&o, &rc, NULL), code);
}

Test(restconfig, kubeconfig_list_of_missing_files_is_an_error)
{
	setenv("KUBECONFIG", RULES "x.yaml:" RULES "y.yaml", 1);
	struct loadrules_opts o = { 0 };
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(loadrules_restconfig(&o, &rc, &err), -ENOENT);
	cr_assert(strstr(err.msg, "KUBECONFIG"), "%s", err.msg);
	cr_assert(strstr(err.msg, "y.yaml"), "%s", err.msg);
}

Test(restconfig, home_kube_config_when_nothing_else)
{
	setenv("HOME", RULES "home", 1);
	struct loadrules_opts o = { 0 };
	struct restconfig *rc = load_ok(&o);
	cr_assert_str_eq(rc->server, "https://home.example.invalid");
	cr_assert_null(rc->token, "a context without a user is anonymous");
	restconfig_free(&rc);
}

Test(restconfig, in_cluster_when_no_kubeconfig)
{
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct loadrules_opts o = { .serviceaccount_dir = SA_DIR };
	struct restconfig *rc = load_ok(&o);
	cr_assert_str_eq(rc->server, "https://10.0.0.1:443");
	cr_assert_str_eq(rc->token_file, SA_DIR "/token", "the token is re-read, not copied once");
	cr_assert_null(rc->token);
	cr_assert_str_eq((char *)rc->ca.data, "SA CA PEM\n");
	cr_assert_str_eq(rc->namespace, "coxswain-system");
	cr_assert(strstr(rc->source, "in-cluster"), "%s", rc->source);
	restconfig_free(&rc);
}

Test(restconfig, in_cluster_ipv6_host_is_bracketed)
{
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(restconfig_in_cluster(SA_DIR, &rc, &err), 0, "%s", err.msg);
	cr_assert_str_eq(rc->server, "https://[fd00::1]:6443");
	restconfig_free(&rc);
}

Test(restconfig, in_cluster_without_token_names_the_file)
{
	setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_lt(restconfig_in_cluster(RULES, &rc, &err), 0);
	cr_assert(strstr(err.msg, "loadrules//token") || strstr(err.msg, "loadrules/token"), "%s", err.msg);
}

Test(restconfig, nothing_configured_says_what_was_tried)
{
	struct loadrules_opts o = { 0 };
	struct restconfig *rc = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(loadrules_restconfig(&o, &rc, &err), -ENOENT);
	cr_assert(strstr(err.msg, "--kubeconfig"), "%s", err.msg);
	cr_assert(strstr(err.msg, "KUBECONFIG"), "%s", err.msg);
	cr_assert(strstr(err.msg, ".kube/config"), "%s", err.msg);
	cr_assert(strstr(err.msg, "KUBERNETES_SERVICE_HOST"), "%s", err.msg);
}

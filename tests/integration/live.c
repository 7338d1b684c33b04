#include "config.h"

#include "live.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kubeconfig.h"
#include "restconfig.h"

static const char *env_or_fail(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		cr_assert_fail("%s is not set: run these tests through tests/run, or bring the fixture up with "
			       "tests/cluster/up and export %s",
			       name, name);
	return v;
}

struct restconfig *live_restconfig(const char *who)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.kubeconfig", env_or_fail("COXSWAIN_CLUSTER_DIR"), who);
	struct cx_err err = { 0 };
	struct kubeconfig *kc = NULL;
	kubeconfig_load(path, &kc, &err);
	if (!kc)
		cr_assert_fail("the fixture is not up (tests/cluster/up writes it): %s", err.msg);
	struct restconfig *rc = NULL;
	if (kubeconfig_restconfig(kc, NULL, &rc, &err))
		cr_assert_fail("%s", err.msg);
	kubeconfig_free(&kc);
	return rc;
}

const char *live_pinned_version(void)
{
	static char version[64];
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/cluster/fixture/go.mod", env_or_fail("COXSWAIN_SRCDIR"));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	char line[512];
	version[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " k8s.io/kubernetes v%62s", version + 1) == 1 && strchr(version + 1, '.')) {
			version[0] = 'v';
			break;
		}
	fclose(f);
	cr_assert_neq(version[0], '\0', "no k8s.io/kubernetes requirement in %s", path);
	return version;
}

int live_kubectl(const char *stdin_text, const char *args_fmt, ...)
{
	char args[2048], cmd[4096];
	va_list ap;
	va_start(ap, args_fmt);
	vsnprintf(args, sizeof(args), args_fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "kubectl --kubeconfig '%s/admin.kubeconfig' %s 1>&2",
		 env_or_fail("COXSWAIN_CLUSTER_DIR"), args);
	FILE *p = popen(cmd, "w");
	cr_assert_not_null(p, "cannot run %s", cmd);
	if (stdin_text)
		fputs(stdin_text, p);
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void live_etcd_compact(void)
{
	const char *etcd = env_or_fail("COXSWAIN_ETCD_ENDPOINT");
	char cmd[1024], out[4096] = "";
	snprintf(cmd, sizeof(cmd), "curl -fsS -X POST %s/v3/kv/range -d '{\"key\":\"AA==\"}'", etcd);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	pclose(p);
	const char *rev = strstr(out, "\"revision\":\"");
	cr_assert_not_null(rev, "no revision from etcd: %s", out);
	long long revision = strtoll(rev + strlen("\"revision\":\""), NULL, 10);
	snprintf(cmd, sizeof(cmd),
		 "curl -fsS -X POST %s/v3/kv/compaction -d '{\"revision\":\"%lld\",\"physical\":true}' >/dev/null",
		 etcd, revision);
	cr_assert_eq(system(cmd), 0, "etcd compaction failed: %s", cmd);
}

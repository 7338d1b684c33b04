/* Unit tests for common/cliflags: the flags both programs share, taken as
 * getopt_long hands them over, with their values checked and bad values
 * named in the message. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "cliflags.h"
#include "err.h"
#include "log.h"

static struct cliflags f;
static struct cx_err err;

static void setup(void)
{
	cliflags_init(&f);
	memset(&err, 0, sizeof(err));
}

TestSuite(cliflags, .init = setup);

Test(cliflags, nothing_given)
{
	cr_assert_null(f.config);
	cr_assert_null(f.endpoint);
	cr_assert_null(f.conn.kubeconfig);
	cr_assert_eq(f.drain_s, -1);
	cr_assert_eq(f.verbosity, 0);
	cr_assert_null(f.log_format);
	cr_assert_eq(f.qps, 0);
	cr_assert_eq(f.burst, 0);
}

Test(cliflags, takes_the_strings)
{
	cr_assert_eq(cliflags_take(&f, CLIFLAG_CONFIG, "c.yaml", &err), 1);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_KUBECONFIG, "k", &err), 1);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_CONTEXT, "ctx", &err), 1);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_NAMESPACE, "ns", &err), 1);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_ENDPOINT, "ipc:///x", &err), 1);
	cr_assert_str_eq(f.config, "c.yaml");
	cr_assert_str_eq(f.conn.kubeconfig, "k");
	cr_assert_str_eq(f.conn.context, "ctx");
	cr_assert_str_eq(f.conn.namespace, "ns");
	cr_assert_str_eq(f.endpoint, "ipc:///x");
}

Test(cliflags, leaves_a_programs_own_flags)
{
	cr_assert_eq(cliflags_take(&f, CLIFLAG_END, "x", &err), 0);
	cr_assert_eq(cliflags_take(&f, 'h', NULL, &err), 0);
	cr_assert_eq(err.code, 0);
}

Test(cliflags, drain_timeout)
{
	cr_assert_eq(cliflags_take(&f, CLIFLAG_DRAIN, "0", &err), 1);
	cr_assert_eq(f.drain_s, 0);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_DRAIN, "3600", &err), 1);
	cr_assert_eq(f.drain_s, 3600);
	const char *bad[] = { "", "-1", "3601", "2s", "x", " ", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(cliflags_take(&f, CLIFLAG_DRAIN, bad[i], &err), -EINVAL, "\"%s\"", bad[i]);
		char want[128];
		snprintf(want, sizeof(want),
			 "--drain-timeout: expected a whole number of seconds from 0 to 3600, got \"%s\"", bad[i]);
		cr_assert_str_eq(err.msg, want);
	}
	cr_assert_eq(f.drain_s, 3600, "a bad value changes nothing");
}

Test(cliflags, qps_and_burst)
{
	cr_assert_eq(cliflags_take(&f, CLIFLAG_QPS, "2.5", &err), 1);
	cr_assert_float_eq(f.qps, 2.5, 1e-9);
	cr_assert_str_eq(f.qps_arg, "2.5");
	cr_assert_eq(cliflags_take(&f, CLIFLAG_QPS, "-1", &err), 1);
	cr_assert_lt(f.qps, 0);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_BURST, "7", &err), 1);
	cr_assert_eq(f.burst, 7);
	cr_assert_str_eq(f.burst_arg, "7");

	cr_assert_eq(cliflags_take(&f, CLIFLAG_QPS, "0", &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "--kube-api-qps: expected requests a second from 0.001 to 1000000, or -1 for no "
			 "client-side limit, got \"0\"");
	cr_assert_str_eq(f.qps_arg, "-1");
	cr_assert_eq(cliflags_take(&f, CLIFLAG_BURST, "0", &err), -EINVAL);
	cr_assert_str_eq(err.msg, "--kube-api-burst: expected a whole number from 1 to 1000000, got \"0\"");
	cr_assert_eq(f.burst, 7);
}

Test(cliflags, verbosity)
{
	cr_assert_eq(cliflags_take(&f, 'v', "4", &err), 1);
	cr_assert_eq(f.verbosity, 4);
	cr_assert_eq(cliflags_take(&f, 'v', "x", &err), -EINVAL);
	cr_assert(!strncmp(err.msg, "-v: ", 4), "%s", err.msg);
	cr_assert(strstr(err.msg, "\"x\""), "%s", err.msg);
}

Test(cliflags, log_format)
{
	cr_assert_eq(cliflags_take(&f, CLIFLAG_LOG_FORMAT, "json", &err), 1);
	cr_assert_str_eq(f.log_format, "json");
	cr_assert_eq(f.format, LOG_JSON);
	cr_assert_eq(cliflags_take(&f, CLIFLAG_LOG_FORMAT, "xml", &err), -EINVAL);
	cr_assert_str_eq(err.msg, "--log-format: log format \"xml\" is not known; use text or json");
	cr_assert_str_eq(f.log_format, "json");
}

Test(cliflags, parse_int)
{
	int n = -5;
	cr_assert_eq(cliflags_parse_int("--workers", "1", 1, 64, NULL, &n, &err), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(cliflags_parse_int("--workers", "0", 1, 64, NULL, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "--workers: expected a whole number from 1 to 64, got \"0\"");
	cr_assert_eq(cliflags_parse_int("COXSWAIN_WORKERS", "65", 1, 64, NULL, &n, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "COXSWAIN_WORKERS: expected a whole number from 1 to 64, got \"65\"");
	cr_assert_eq(cliflags_parse_int("--spawn-workers", "", 0, 1024, NULL, &n, &err), -EINVAL);
	cr_assert_eq(n, 1);
}

/* The table goes into getopt_long as the programs use it: the shared flags
 * are taken, the program's own come back. */
Test(cliflags, next_hands_back_only_a_programs_own_flags)
{
	enum { O_OWN = CLIFLAG_END };
	static const struct option opts[] = { CLIFLAGS_OPTIONS,
					      { "own", no_argument, NULL, O_OWN },
					      { NULL, 0, NULL, 0 } };
	char *argv[] = { "prog", "-v=3", "--kubeconfig", "kc", "--own", "--drain-timeout=5", "--v", "2", "rest", NULL };
	int argc = 9, own = 0;
	optind = 0;
	for (int c; (c = cliflags_next(&f, "prog", argc, argv, "h" CLIFLAGS_SHORT, opts, stderr)) != -1;) {
		cr_assert_eq(c, O_OWN);
		own++;
	}
	cr_assert_eq(own, 1);
	cr_assert_eq(f.verbosity, 2);
	cr_assert_str_eq(f.conn.kubeconfig, "kc");
	cr_assert_eq(f.drain_s, 5);
	cr_assert_str_eq(argv[optind], "rest");
}

Test(cliflags, next_names_the_program_and_the_flag_of_a_bad_value)
{
	static const struct option opts[] = { CLIFLAGS_OPTIONS, { NULL, 0, NULL, 0 } };
	char *argv[] = { "prog", "--config", "c.yaml", "--kube-api-burst", "0", "--namespace", "ns", NULL };
	char buf[512] = "";
	FILE *out = fmemopen(buf, sizeof(buf), "w");
	cr_assert_not_null(out);
	optind = 0;
	cr_assert_eq(cliflags_next(&f, "coxswain-x", 7, argv, CLIFLAGS_SHORT, opts, out), CLIFLAGS_BAD);
	fclose(out);
	cr_assert_str_eq(buf, "coxswain-x: --kube-api-burst: expected a whole number from 1 to 1000000, got \"0\"\n");
	cr_assert_str_eq(f.config, "c.yaml");
	cr_assert_null(f.conn.namespace, "stops at the bad value");
}

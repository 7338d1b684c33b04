/* cliflags: see cliflags.h. */
#include "config.h"

#include "cliflags.h"
#include "err.h"
#include "ratelimit.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void cliflags_init(struct cliflags *f)
{
	memset(f, 0, sizeof(*f));
	f->drain_s = -1;
}

int cliflags_parse_int(const char *flag, const char *s, int min, int max, const char *unit, int *out,
		       struct cx_err *err)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return cx_err_set(err, -EINVAL, "%s: expected a whole number%s%s from %d to %d, got \"%s\"", flag,
				  unit ? " of " : "", unit ? unit : "", min, max, s);
	*out = (int)v;
	return 0;
}

int cliflags_take(struct cliflags *f, int c, const char *value, struct cx_err *err)
{
	int r = 0;
	switch (c) {
	case CLIFLAG_CONFIG:
		f->config = value;
		break;
	case CLIFLAG_KUBECONFIG:
		f->conn.kubeconfig = value;
		break;
	case CLIFLAG_CONTEXT:
		f->conn.context = value;
		break;
	case CLIFLAG_NAMESPACE:
		f->conn.namespace = value;
		break;
	case CLIFLAG_ENDPOINT:
		f->endpoint = value;
		break;
	case CLIFLAG_DRAIN:
		r = cliflags_parse_int("--drain-timeout", value, 0, CLIFLAGS_DRAIN_MAX, "seconds", &f->drain_s, err);
		break;
	case CLIFLAG_QPS:
		if ((r = ratelimit_parse_qps(value, &f->qps, err)))
			return cx_err_wrap(err, r, "--kube-api-qps: ");
		f->qps_arg = value;
		break;
	case CLIFLAG_BURST:
		if ((r = ratelimit_parse_burst(value, &f->burst, err)))
			return cx_err_wrap(err, r, "--kube-api-burst: ");
		f->burst_arg = value;
		break;
	case 'v':
		if ((r = log_parse_verbosity(value, &f->verbosity, err)))
			return cx_err_wrap(err, r, "-v: ");
		break;
	case CLIFLAG_LOG_FORMAT:
		if ((r = log_parse_format(value, &f->format, err)))
			return cx_err_wrap(err, r, "--log-format: ");
		f->log_format = value;
		break;
	default:
		return 0;
	}
	return r ? r : 1;
}

int cliflags_next(struct cliflags *f, const char *prog, int argc, char **argv, const char *shortopts,
		  const struct option *opts, FILE *errout)
{
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, opts, NULL);
		if (c == -1)
			return -1;
		struct cx_err err = { 0 };
		int taken = cliflags_take(f, c, optarg, &err);
		if (taken < 0) {
			fprintf(errout, "%s: %s\n", prog, err.msg);
			return CLIFLAGS_BAD;
		}
		if (!taken)
			return c;
	}
}

void cliflags_apply_log(const struct cliflags *f)
{
	log_set_verbosity(f->verbosity);
	if (f->log_format)
		log_set_format(f->format);
}

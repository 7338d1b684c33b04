/* cliflags: see cliflags.h. */
#include "config.h"

#include "cliflags.h"
#include "err.h"
#include "ratelimit.h"

#include <errno.h>
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
	case CLIFLAG_CONFIG: f->config = value; break;
	case CLIFLAG_KUBECONFIG: f->conn.kubeconfig = value; break;
	case CLIFLAG_CONTEXT: f->conn.context = value; break;
	case CLIFLAG_NAMESPACE: f->conn.namespace = value; break;
	case CLIFLAG_ENDPOINT: f->endpoint = value; break;
	case CLIFLAG_DRAIN:
		r = cliflags_parse_int("--drain-timeout", value, 0, CLIFLAGS_DRAIN_MAX, "seconds", &f->drain_s, err);
		break;
	case CLIFLAG_QPS:
		if (!(r = ratelimit_parse_qps(value, &f->qps, err)))
			f->qps_arg = value;
		else
			cx_err_prefix(err, "--kube-api-qps: ");
		break;
	case CLIFLAG_BURST:
		if (!(r = ratelimit_parse_burst(value, &f->burst, err)))
			f->burst_arg = value;
		else
			cx_err_prefix(err, "--kube-api-burst: ");
		break;
	case 'v':
		if ((r = log_parse_verbosity(value, &f->verbosity, err)))
			cx_err_prefix(err, "-v: ");
		break;
	case CLIFLAG_LOG_FORMAT:
		if (!(r = log_parse_format(value, &f->format, err)))
			f->log_format = value;
		else
			cx_err_prefix(err, "--log-format: ");
		break;
	default:
		return 0;
	}
	return r ? r : 1;
}

void cliflags_apply_log(const struct cliflags *f)
{
	log_set_verbosity(f->verbosity);
	if (f->log_format)
		log_set_format(f->format);
}

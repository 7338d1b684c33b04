/* cliflags: the command-line flags coxswain-watcher and coxswain-worker share.
 *
 * Both programs take the connection flags (--kubeconfig, --context,
 * --namespace), --config, --endpoint, --drain-timeout, --kube-api-qps,
 * --kube-api-burst, -v/--v and --log-format with the same syntax and the same
 * messages. Each program keeps its own getopt_long loop and table for its own
 * flags, puts CLIFLAGS_OPTIONS in that table, numbers its own flags from
 * CLIFLAG_END, and hands every flag to cliflags_take first. */
#ifndef COXSWAIN_CLIFLAGS_H
#define COXSWAIN_CLIFLAGS_H

#include <stdbool.h>
#include <stdio.h>

#include "loadrules.h"
#include "log.h"

struct cx_err;
struct option;

enum {
	CLIFLAG_CONFIG = 256,
	CLIFLAG_KUBECONFIG,
	CLIFLAG_CONTEXT,
	CLIFLAG_NAMESPACE,
	CLIFLAG_ENDPOINT,
	CLIFLAG_DRAIN,
	CLIFLAG_QPS,
	CLIFLAG_BURST,
	CLIFLAG_LOG_FORMAT,
	CLIFLAG_END /* a program's own flags are numbered from here */
};

/* The getopt_long entries of the shared flags (needs <getopt.h>); with
 * CLIFLAGS_SHORT as the short options. */
#define CLIFLAGS_OPTIONS                                                                                               \
	{ "config", required_argument, NULL, CLIFLAG_CONFIG },                                                         \
		{ "kubeconfig", required_argument, NULL, CLIFLAG_KUBECONFIG },                                         \
		{ "context", required_argument, NULL, CLIFLAG_CONTEXT },                                               \
		{ "namespace", required_argument, NULL, CLIFLAG_NAMESPACE },                                           \
		{ "endpoint", required_argument, NULL, CLIFLAG_ENDPOINT },                                             \
		{ "drain-timeout", required_argument, NULL, CLIFLAG_DRAIN },                                           \
		{ "kube-api-qps", required_argument, NULL, CLIFLAG_QPS },                                              \
		{ "kube-api-burst", required_argument, NULL, CLIFLAG_BURST }, { "v", required_argument, NULL, 'v' },   \
	{                                                                                                              \
		"log-format", required_argument, NULL, CLIFLAG_LOG_FORMAT                                              \
	}
#define CLIFLAGS_SHORT "v:"

#define CLIFLAGS_DRAIN_MAX 3600

/* What the shared flags said. The strings are borrowed from argv. */
struct cliflags {
	const char *config;              /* --config, or NULL */
	const char *endpoint;            /* --endpoint, or NULL */
	struct loadrules_opts conn;      /* --kubeconfig, --context, --namespace */
	int verbosity;                   /* -v; 0 when not given */
	const char *log_format;          /* --log-format as given, or NULL */
	enum log_format format;          /* ... parsed */
	int drain_s;                     /* --drain-timeout in seconds; -1 when not given */
	double qps;                      /* --kube-api-qps; 0 when not given */
	int burst;                       /* --kube-api-burst; 0 when not given */
	const char *qps_arg, *burst_arg; /* as given (to hand on to a child), or NULL */
};

/* Nothing given yet. */
void cliflags_init(struct cliflags *f);

/* Takes flag c (a getopt_long answer) with its value. Returns 1 when c is a
 * shared flag and value is good, 0 when c is not a shared flag (the
 * program's own: nothing is changed), or -EINVAL with err naming the flag
 * ("--drain-timeout: expected ..."): the program prefixes its name and exits 2. */
int cliflags_take(struct cliflags *f, int c, const char *value, struct cx_err *err);

/* Parses a flag's whole-number value from min to max. unit, when not NULL,
 * is what the number counts ("seconds") and is named in the message.
 * Returns 0, or -EINVAL with err naming flag and the value. */
int cliflags_parse_int(const char *flag, const char *s, int min, int max, const char *unit, int *out,
		       struct cx_err *err);

/* What cliflags_next answers for a shared flag with a bad value. */
#define CLIFLAGS_BAD (-2)

/* getopt_long over argv that takes the shared flags itself: returns the next
 * flag that is the program's own (optarg as getopt_long sets it, '?' for an
 * unknown one), -1 at the end, or CLIFLAGS_BAD once it has written
 * "PROG: --flag: why" to errout for a shared flag's bad value (the program
 * exits 2). */
int cliflags_next(struct cliflags *f, const char *prog, int argc, char **argv, const char *shortopts,
		  const struct option *opts, FILE *errout);

/* Sets the log's verbosity and, when given, its format, as the flags said. */
void cliflags_apply_log(const struct cliflags *f);

#endif

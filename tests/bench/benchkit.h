/* benchkit: what the benchmarks that run against the fixture's API server
 * (tests/cluster/up) share: how they fail, their connection and their
 * client. Benchmarks print figures; a failure ends the program with 1. */
#ifndef COXSWAIN_BENCHKIT_H
#define COXSWAIN_BENCHKIT_H

struct cx_err;
struct kclient;
struct restconfig;

/* Prints "PROG: what: err->msg" (err may be NULL) and exits with 1. PROG is
 * the name given to benchkit_restconfig. */
_Noreturn void benchkit_die(const char *what, const struct cx_err *err);

/* The fixture's admin connection, from dir/admin.kubeconfig (dir: what
 * $COXSWAIN_CLUSTER_DIR names); owned (restconfig_free). prog names the
 * benchmark in benchkit_die's messages. Dies when it cannot be loaded. */
struct restconfig *benchkit_restconfig(const char *prog, const char *dir);

/* The same from the kubeconfig at path (another identity than admin's). */
struct restconfig *benchkit_restconfig_file(const char *prog, const char *path);

/* A client of rc without a client-side limit, the benchmarks measure the
 * code under test rather than a limiter. Owned (kclient_free); dies when
 * it cannot be made. */
struct kclient *benchkit_client(const struct restconfig *rc);

#endif

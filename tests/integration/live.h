/* live: helpers for tests that talk to the real kube-apiserver started by
 * tests/cluster/up. A test that cannot reach it fails: it never skips. */
#ifndef COXSWAIN_TEST_LIVE_H
#define COXSWAIN_TEST_LIVE_H

struct restconfig;

/* The restconfig of .cluster/<who>.kubeconfig ("admin" or "operator");
 * aborts the test with a message when the fixture is not up. */
struct restconfig *live_restconfig(const char *who);

/* The Kubernetes release the fixture pins (from tests/cluster/fixture/go.mod),
 * e.g. "v1.34.4", in a static buffer. */
const char *live_pinned_version(void);

/* Runs `kubectl --kubeconfig <admin> ARGS` (args printf-style, split by the
 * shell) with stdin_text on its standard input (NULL for none). Returns its
 * exit status; its output goes to the test's log. */
int live_kubectl(const char *stdin_text, const char *args_fmt, ...) __attribute__((format(printf, 2, 3)));

/* Compacts the fixture's etcd up to its current revision (through etcd's
 * HTTP gateway): every older resourceVersion is gone from then on. */
void live_etcd_compact(void);

#endif

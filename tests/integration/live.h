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

#endif

/* watcher/leader against the real kube-apiserver, with short durations
 * (lease 2 s, renew deadline 1.5 s, retry 0.3 s): acquiring creates the
 * Lease; a second candidate stays a follower while the first renews and takes
 * over once it stops; release hands over at the other's next tick; a renewal
 * conflict is survived; a Lease taken behind the leader's back makes it step
 * down; and an identity without RBAC for leases is refused (logged once),
 * then leads once granted, and loses leadership after the renew deadline once
 * the grant is revoked. Each test has a namespace of its own. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "kclient.h"
#include "leader.h"
#include "live.h"
#include "log.h"
#include "restconfig.h"

#define LEASE_MS   2000
#define RENEW_MS   1500
#define RETRY_MS   300
#define LEASE_NAME "coxswain-leader"

static struct restconfig *rc;
static struct kclient *admin;
static char ns[64];
static char lease_path[256];

static void setup(void)
{
	rc = live_restconfig("admin");
	struct cx_err err = { 0 };
	kclient_new(rc, NULL, &admin, &err);
	cr_assert_not_null(admin, "%s", err.msg);
}

static void teardown(void)
{
	if (ns[0]) {
		char path[256];
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
		kclient_delete(admin, path, NULL, NULL, NULL);
	}
	kclient_free(&admin);
	restconfig_free(&rc);
}

TestSuite(leader_live, .init = setup, .fini = teardown, .timeout = 60);

static void use_namespace(const char *base)
{
	snprintf(ns, sizeof(ns), "%s-%d", base, (int)getpid());
	snprintf(lease_path, sizeof(lease_path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/" LEASE_NAME, ns);
	char body[256];
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
		 ns);
	struct json_object *o = json_tokener_parse(body);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_create(admin, "/api/v1/namespaces", o, NULL, &err), 0, "%s", err.msg);
	json_object_put(o);
}

/* One candidate and what its callbacks saw. */
struct cand {
	struct leader *le;
	int started, stopped, new_leaders;
	char last_new[256];
	char requests[1024]; /* what on_request was told: "404 GET,201 POST,..." (the first ones) */
};

static void on_request(void *ud, int code, const char *method, const char *host)
{
	struct cand *c = ud;
	cr_assert_not_null(host);
	size_t len = strlen(c->requests);
	snprintf(c->requests + len, sizeof(c->requests) - len, "%s%d %s", len ? "," : "", code, method);
}

static void on_started(void *ud)
{
	struct cand *c = ud;
	c->started++;
	cr_assert(leader_is_leader(c->le), "leading already inside on_started_leading");
}

static void on_stopped(void *ud)
{
	struct cand *c = ud;
	c->stopped++;
	cr_assert_not(leader_is_leader(c->le));
}

static void on_new_leader(void *ud, const char *identity)
{
	struct cand *c = ud;
	c->new_leaders++;
	snprintf(c->last_new, sizeof(c->last_new), "%s", identity);
}

static void cand_init(struct cand *c, const struct restconfig *with, const char *identity)
{
	memset(c, 0, sizeof(*c));
	struct leader_config cfg = {
		.namespace = ns,
		.name = LEASE_NAME,
		.identity = identity,
		.lease_duration_ms = LEASE_MS,
		.renew_deadline_ms = RENEW_MS,
		.retry_period_ms = RETRY_MS,
		.callbacks = { on_started, on_stopped, on_new_leader, c },
		.on_request = on_request,
		.request_ud = c,
	};
	struct cx_err err = { 0 };
	leader_new(with, &cfg, &c->le, &err);
	cr_assert_not_null(c->le, "%s", err.msg);
}

/* Waits until c's next tick is due and does it. */
static int tick_when_due(struct cand *c)
{
	int64_t due = leader_next_ms(c->le), now = clock_monotonic_ms();
	if (due > now)
		usleep((useconds_t)(due - now) * 1000);
	return leader_tick(c->le, clock_monotonic_ms());
}

/* Ticks the candidates in cs (NULL entries skipped) as the event loop would
 * until done(arg) holds or timeout_ms passes; returns whether it held. */
static bool run_until(struct cand *const *cs, int n, bool (*done)(void *), void *arg, long timeout_ms)
{
	int64_t end = clock_monotonic_ms() + timeout_ms;
	while (!done(arg)) {
		int64_t now = clock_monotonic_ms(), next = end;
		if (now >= end)
			return false;
		for (int i = 0; i < n; i++) {
			if (!cs[i])
				continue;
			leader_tick(cs[i]->le, now);
			if (leader_next_ms(cs[i]->le) < next)
				next = leader_next_ms(cs[i]->le);
		}
		now = clock_monotonic_ms();
		if (next > now && !done(arg))
			usleep((useconds_t)(next - now) * 1000);
	}
	return true;
}

static bool is_leader(void *arg)
{
	return leader_is_leader(((struct cand *)arg)->le);
}

static bool is_not_leader(void *arg)
{
	return !leader_is_leader(((struct cand *)arg)->le);
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static struct json_object *get_lease(void)
{
	struct json_object *l = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_get(admin, lease_path, &l, &err), 0, "%s", err.msg);
	return l;
}

static const char *at(struct json_object *o, const char *dotted)
{
	char path[256];
	snprintf(path, sizeof(path), "%s", dotted);
	struct json_object *cur = o;
	for (char *save = NULL, *k = strtok_r(path, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(cur, k, &cur))
			return NULL;
	return json_object_get_string(cur);
}

/* A copy of the Lease's spec field (static buffer per call site is enough). */
static void lease_field(const char *field, char *buf, size_t n)
{
	struct json_object *l = get_lease();
	char dotted[64];
	snprintf(dotted, sizeof(dotted), "spec.%s", field);
	const char *v = at(l, dotted);
	snprintf(buf, n, "%s", v ? v : "(absent)");
	json_object_put(l);
}

static void assert_microtime(const char *s)
{
	int64_t us;
	cr_assert_eq(strlen(s), LEADER_MICROTIME_LEN - 1, "MicroTime with 6 digits: %s", s);
	cr_assert_eq(leader_microtime_parse(s, &us), 0, "%s", s);
}

Test(leader_live, acquires_then_the_other_takes_over_when_it_stops_renewing)
{
	use_namespace("le-takeover");
	struct cand a, b;
	cand_init(&a, rc, "candidate-a");
	cand_init(&b, rc, "candidate-b");

	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	cr_assert(leader_is_leader(a.le));
	cr_assert_eq(a.started, 1);
	/* Every Lease request is told to the observer (rest_client_requests_total). */
	cr_assert_str_eq(a.requests, "404 GET,201 POST");
	cr_assert_str_eq(a.last_new, "candidate-a");
	struct json_object *l = get_lease();
	cr_assert_str_eq(at(l, "spec.holderIdentity"), "candidate-a");
	cr_assert_str_eq(at(l, "spec.leaseDurationSeconds"), "2");
	cr_assert_str_eq(at(l, "spec.leaseTransitions"), "0");
	assert_microtime(at(l, "spec.renewTime"));
	assert_microtime(at(l, "spec.acquireTime"));
	char first_renew[64], acquired[64];
	snprintf(first_renew, sizeof(first_renew), "%s", at(l, "spec.renewTime"));
	snprintf(acquired, sizeof(acquired), "%s", at(l, "spec.acquireTime"));
	json_object_put(l);

	cr_assert_eq(tick_when_due(&b), 0, "%s", leader_last_error(b.le)->msg);
	cr_assert_not(leader_is_leader(b.le));
	cr_assert_str_eq(b.requests, "200 GET");
	cr_assert_str_eq(leader_holder(b.le), "candidate-a");
	cr_assert_eq(b.new_leaders, 1);
	cr_assert_str_eq(b.last_new, "candidate-a");

	/* Both turn for twice the lease duration: a renews, b waits. */
	struct cand *both[] = { &a, &b };
	run_until(both, 2, never, NULL, 2 * LEASE_MS);
	cr_assert(strstr(a.requests, "201 POST,200 PUT"), "renewals are counted: %s", a.requests);
	cr_assert(leader_is_leader(a.le));
	cr_assert_not(leader_is_leader(b.le));
	cr_assert_eq(b.started, 0);
	cr_assert_eq(a.stopped, 0);
	char renew[64];
	lease_field("renewTime", renew, sizeof(renew));
	cr_assert_str_neq(renew, first_renew, "a renewed");
	lease_field("acquireTime", renew, sizeof(renew));
	cr_assert_str_eq(renew, acquired, "a renewal keeps acquireTime");

	/* a stops ticking (hung or killed): b takes over a lease duration after
	 * it last saw the record change, give or take its retry period. Never
	 * before (load can only make it later); how much later is load's
	 * business, so the limit only tells a takeover from none. */
	int64_t stopped_at = clock_monotonic_ms();
	struct cand *only_b[] = { &b };
	cr_assert(run_until(only_b, 1, is_leader, &b, 10 * LEASE_MS), "b never took over");
	int64_t took = clock_monotonic_ms() - stopped_at;
	cr_log_info("b took over %lld ms after a stopped ticking", (long long)took);
	cr_assert_geq(took, LEASE_MS - 2 * RETRY_MS, "took over after %lld ms: too early", (long long)took);
	cr_assert_eq(b.started, 1);
	cr_assert_str_eq(b.last_new, "candidate-b");
	char v[64];
	lease_field("holderIdentity", v, sizeof(v));
	cr_assert_str_eq(v, "candidate-b");
	lease_field("leaseTransitions", v, sizeof(v));
	cr_assert_str_eq(v, "1");

	/* a comes back: its renewal fails (b wrote the Lease), it is past its
	 * renew deadline, so it stops leading; then it follows b. */
	struct cand *only_a[] = { &a };
	cr_assert(run_until(only_a, 1, is_not_leader, &a, 2 * LEASE_MS));
	cr_assert_eq(a.stopped, 1);
	run_until(both, 2, never, NULL, 3 * RETRY_MS);
	cr_assert_str_eq(leader_holder(a.le), "candidate-b");
	cr_assert_str_eq(a.last_new, "candidate-b");
	cr_assert(leader_is_leader(b.le));
	cr_assert_not(leader_is_leader(a.le));
	leader_free(&a.le);
	leader_free(&b.le);
}

Test(leader_live, release_hands_the_lease_over_at_the_next_tick)
{
	use_namespace("le-release");
	struct cand a, b;
	cand_init(&a, rc, "candidate-a");
	cand_init(&b, rc, "candidate-b");
	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	cr_assert_eq(tick_when_due(&b), 0, "%s", leader_last_error(b.le)->msg);
	cr_assert(leader_is_leader(a.le));
	cr_assert_not(leader_is_leader(b.le));

	struct cx_err err = { 0 };
	cr_assert_eq(leader_release(a.le, &err), 0, "%s", err.msg);
	cr_assert_not(leader_is_leader(a.le));
	cr_assert_eq(a.stopped, 1);
	struct json_object *l = get_lease();
	cr_assert_str_eq(at(l, "spec.holderIdentity"), "", "client-go's release: no holder");
	cr_assert_str_eq(at(l, "spec.leaseDurationSeconds"), "1");
	cr_assert_str_eq(at(l, "spec.leaseTransitions"), "0");
	assert_microtime(at(l, "spec.renewTime"));
	json_object_put(l);

	/* b's very next tick takes it, with no lease duration to wait. */
	cr_assert_eq(tick_when_due(&b), 0, "%s", leader_last_error(b.le)->msg);
	cr_assert(leader_is_leader(b.le), "b leads at its first tick after the release");
	char v[64];
	lease_field("holderIdentity", v, sizeof(v));
	cr_assert_str_eq(v, "candidate-b");
	lease_field("leaseTransitions", v, sizeof(v));
	cr_assert_str_eq(v, "1");
	lease_field("leaseDurationSeconds", v, sizeof(v));
	cr_assert_str_eq(v, "2");

	/* The released elector is done: it never competes again. */
	cr_assert_eq(leader_next_ms(a.le), INT64_MAX);
	cr_assert_eq(leader_tick(a.le, clock_monotonic_ms() + 100000), 0);
	cr_assert_not(leader_is_leader(a.le));
	cr_assert_eq(leader_release(a.le, &err), 0, "releasing twice is harmless");
	cr_assert_eq(a.stopped, 1);

	/* A follower's release writes nothing. */
	struct cand c;
	cand_init(&c, rc, "candidate-c");
	cr_assert_eq(tick_when_due(&c), 0);
	char rv_before[64], rv_after[64];
	l = get_lease();
	snprintf(rv_before, sizeof(rv_before), "%s", at(l, "metadata.resourceVersion"));
	json_object_put(l);
	cr_assert_eq(leader_release(c.le, &err), 0, "%s", err.msg);
	l = get_lease();
	snprintf(rv_after, sizeof(rv_after), "%s", at(l, "metadata.resourceVersion"));
	json_object_put(l);
	cr_assert_str_eq(rv_before, rv_after);
	cr_assert_eq(c.stopped, 0);
	leader_free(&a.le);
	leader_free(&b.le);
	leader_free(&c.le);
}

/* GETs the Lease, applies change to it and PUTs it back as the admin. */
static void modify_lease(void (*change)(struct json_object *lease))
{
	struct json_object *l = get_lease(), *out = NULL;
	change(l);
	struct cx_err err = { 0 };
	cr_assert_eq(kclient_update(admin, lease_path, l, &out, &err), 0, "%s", err.msg);
	json_object_put(out);
	json_object_put(l);
}

static void add_label(struct json_object *lease)
{
	struct json_object *meta = NULL, *labels = json_object_new_object();
	json_object_object_get_ex(lease, "metadata", &meta);
	json_object_object_add(labels, "touched", json_object_new_string("yes"));
	json_object_object_add(meta, "labels", labels);
}

static void set_intruder(struct json_object *lease)
{
	struct json_object *spec = NULL;
	json_object_object_get_ex(lease, "spec", &spec);
	json_object_object_add(spec, "holderIdentity", json_object_new_string("intruder"));
}

Test(leader_live, a_renewal_conflict_is_survived)
{
	use_namespace("le-conflict");
	struct cand a;
	cand_init(&a, rc, "candidate-a");
	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	cr_assert(leader_is_leader(a.le));

	modify_lease(add_label); /* someone else writes the Lease */
	cr_assert_eq(tick_when_due(&a), -EAGAIN, "the renewal over our stale copy conflicts");
	cr_assert_str_eq(leader_last_error(a.le)->reason, "Conflict");
	cr_assert(leader_is_leader(a.le), "one conflict is not a lost lease");
	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	cr_assert(leader_is_leader(a.le));
	cr_assert_eq(a.stopped, 0);
	cr_assert_eq(a.started, 1);
	struct json_object *l = get_lease();
	cr_assert_str_eq(at(l, "spec.holderIdentity"), "candidate-a");
	cr_assert_str_eq(at(l, "metadata.labels.touched"), "yes", "renewed over the fresh copy, label kept");
	cr_assert_str_eq(at(l, "spec.leaseTransitions"), "0");
	json_object_put(l);
	leader_free(&a.le);
}

Test(leader_live, a_lease_taken_behind_the_leaders_back_makes_it_step_down)
{
	use_namespace("le-intruder");
	struct cand a;
	cand_init(&a, rc, "candidate-a");
	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	modify_lease(set_intruder);
	cr_assert_eq(tick_when_due(&a), -EAGAIN);
	cr_assert(leader_is_leader(a.le));
	cr_assert_eq(tick_when_due(&a), 0, "%s", leader_last_error(a.le)->msg);
	cr_assert_not(leader_is_leader(a.le), "stepped down at the tick that saw another holder");
	cr_assert_eq(a.stopped, 1);
	cr_assert_str_eq(a.last_new, "intruder");
	cr_assert_str_eq(leader_holder(a.le), "intruder");
	struct cx_err err = { 0 };
	cr_assert_eq(leader_release(a.le, &err), 0);
	char v[64];
	lease_field("holderIdentity", v, sizeof(v));
	cr_assert_str_eq(v, "intruder", "release does not touch a Lease that is not ours");
	leader_free(&a.le);
}

static int count_lines(FILE *f, const char *a, const char *b)
{
	fflush(f);
	rewind(f);
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, a) && (!b || strstr(line, b)))
			n++;
	fseek(f, 0, SEEK_END);
	return n;
}

#define OPERATOR_RBAC                                                                                                  \
	"apiVersion: rbac.authorization.k8s.io/v1\n"                                                                   \
	"kind: Role\n"                                                                                                 \
	"metadata: {name: coxswain-leader-election, namespace: %s}\n"                                                  \
	"rules:\n"                                                                                                     \
	"- apiGroups: [coordination.k8s.io]\n"                                                                         \
	"  resources: [leases]\n"                                                                                      \
	"  verbs: [get, create, update]\n"                                                                             \
	"---\n"                                                                                                        \
	"apiVersion: rbac.authorization.k8s.io/v1\n"                                                                   \
	"kind: RoleBinding\n"                                                                                          \
	"metadata: {name: coxswain-leader-election, namespace: %s}\n"                                                  \
	"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: coxswain-leader-election}\n"                 \
	"subjects:\n"                                                                                                  \
	"- {kind: ServiceAccount, name: coxswain, namespace: coxswain-system}\n"

Test(leader_live, without_rbac_it_is_refused_logged_once_and_retried_then_loses_on_revoke)
{
	use_namespace("le-rbac");
	FILE *log = tmpfile();
	cr_assert_not_null(log);
	log_set_output(log);
	struct restconfig *op = live_restconfig("operator");
	struct cand o;
	cand_init(&o, op, "operator-a");

	for (int i = 0; i < 4; i++) {
		cr_assert_eq(tick_when_due(&o), -EACCES, "%s", leader_last_error(o.le)->msg);
		cr_assert_not(leader_is_leader(o.le));
	}
	cr_assert_eq(leader_last_error(o.le)->http_status, 403);
	cr_assert(strstr(leader_last_error(o.le)->msg, "cannot get resource \"leases\""), "%s",
		  leader_last_error(o.le)->msg);
	cr_assert_eq(count_lines(log, "level=error", "Forbidden"), 1, "one line for four identical refusals");
	cr_assert_eq(count_lines(log, "level=error", "hint="), 1, "with a hint about the RBAC it needs");

	char rbac[2048];
	snprintf(rbac, sizeof(rbac), OPERATOR_RBAC, ns, ns);
	cr_assert_eq(live_kubectl(rbac, "apply -f -"), 0);
	struct cand *only_o[] = { &o };
	cr_assert(run_until(only_o, 1, is_leader, &o, 15000), "never led once granted: %s",
		  leader_last_error(o.le)->msg);
	cr_assert_eq(o.started, 1);
	cr_assert_eq(count_lines(log, "requests succeed again", NULL), 1);

	/* Revoked: the renewals are refused and the renew deadline passes. */
	int64_t revoked = clock_monotonic_ms(); /* no tick runs while kubectl does */
	cr_assert_eq(live_kubectl(NULL, "-n %s delete rolebinding coxswain-leader-election", ns), 0);
	cr_assert(run_until(only_o, 1, is_not_leader, &o, 15000), "still leading without RBAC");
	cr_assert_geq(clock_monotonic_ms() - revoked, RENEW_MS - RETRY_MS, "not before the renew deadline");
	cr_assert_eq(o.stopped, 1);
	cr_assert_eq(leader_last_error(o.le)->code, -EACCES);
	cr_assert_eq(count_lines(log, "level=error", "cannot update resource"), 1, "the new refusal, once");
	cr_assert_eq(count_lines(log, "stopped leading", "renew deadline"), 1);

	leader_free(&o.le);
	restconfig_free(&op);
	log_set_output(NULL);
	fclose(log);
}

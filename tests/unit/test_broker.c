/* Unit tests for watcher/broker: its bookkeeping, driven through a real
 * ROUTER (the broker's) and DEALERs made here over ipc:// in a temporary
 * directory, with a fake job source over a real work queue and a fake clock
 * (the broker and the queue are told the time; ZeroMQ delivery is real).
 *
 * What is checked: READY registers; a JOB goes only to an idle worker; a key
 * is never held by two workers at once; a RESULT with the wrong job id or
 * attempt is dropped; a READY from a new pid in the same slot re-queues the
 * old worker's job and counts a restart; an idle worker that stops
 * heartbeating is removed after 3 intervals; a busy worker past its deadline
 * loses the job; 3 losses poison the key (a "poison" JOB goes to a worker,
 * the key waits for a new generation or poison_retry_ms); a follower sends
 * no jobs but heartbeats; ok / error / requeue reach the queue; a READY from
 * another supervisor instance for a slot a live worker holds is refused
 * (logged once), and takes the slot over once the holder is lost; the
 * restart count is the supervisors' own, from READY's restart counts. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "broker.h"
#include "clock.h"
#include "curvekey.h"
#include "err.h"
#include "log.h"
#include "proto.h"
#include "queuekey.h"
#include "statset.h"
#include "workqueue.h"

#define T0       7000000LL /* the fake clock's start: nothing may assume 0 */
#define HB       100       /* heartbeat_ms for the broker_hb suite */
#define SLOW_HB  100000    /* for the others, so that the fake clock can jump */
#define BUDGET   2000      /* job deadline budget the fake source hands out */
#define RETRY    60000     /* poison_retry_ms */
#define WAIT_MS  20000     /* real time allowed for a message to arrive: generous, only a lost message reaches it */
#define QUIET_MS 150       /* real time of silence that counts as "nothing sent" */
#define MAX_KEYS 16

/* ---------------------------------------------------------------- the fake source */

struct fake_key {
	char key[128];
	int64_t generation;
	bool gone;
};

static struct fake_key keys[MAX_KEYS];
static size_t n_keys;
static char results[64][16]; /* outcomes told to on_result, in order */
static size_t n_results;

static struct fake_key *fake(const char *key)
{
	for (size_t i = 0; i < n_keys; i++)
		if (!strcmp(keys[i].key, key))
			return &keys[i];
	cr_assert_lt(n_keys, MAX_KEYS);
	struct fake_key *k = &keys[n_keys++];
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->generation = 1;
	return k;
}

static int job_for(void *ud, const char *key, struct json_object **parent, struct json_object **children,
		   int64_t *budget_ms)
{
	(void)ud;
	struct fake_key *k = fake(key);
	if (k->gone)
		return -ENOENT;
	*parent = json_object_new_object();
	struct json_object *meta = json_object_new_object();
	struct queuekey qk;
	cr_assert(queuekey_parse(key, &qk), "%s", key);
	json_object_object_add(meta, "name", json_object_new_string(qk.name));
	json_object_object_add(meta, "generation", json_object_new_int64(k->generation));
	json_object_object_add(*parent, "metadata", meta);
	*children = json_object_new_object();
	*budget_ms = BUDGET;
	return 0;
}

static void on_result(void *ud, const char *controller, const char *outcome, double seconds)
{
	(void)ud;
	(void)seconds;
	cr_assert_str_eq(controller, "ctl");
	if (n_results < 64)
		snprintf(results[n_results++], sizeof(results[0]), "%s", outcome);
}

/* What on_worker_counter was told, summed per series (NULL outside tests
 * that look). */
static struct statset *counted;
static uint64_t counter_calls;

static void on_counter(void *ud, const char *family, const char *const *labels, const char *const *values,
		       uint64_t delta)
{
	(void)ud;
	cr_assert_gt(delta, 0, "a zero delta was handed on");
	counter_calls++;
	if (counted)
		cr_assert_eq(statset_add(counted, family, labels, values, delta), 0);
}

/* ---------------------------------------------------------------- fixture */

static char dir[64], endpoint[128];
static void *zctx;
static struct workqueue *q;
static struct broker *b;
static int64_t now;

/* Forks of each slot so far, per test: connect_worker plays the supervisor
 * of instance "ia" and tells each worker its slot's restart count. */
static int slot_forks[64];

/* The broker_curve suite: the watcher's keys, a client key pair listed in
 * the authorized keys file and one that is not. */
static bool with_curve;
static struct curvekey server_secret, server_public;
static char authorized_path[128];
static char ka_sec[41], ka_pub[41], kc_sec[41], kc_pub[41];

static void write_curve_keys(void)
{
	char pub[41];
	cr_assert_eq(zmq_curve_keypair(pub, server_secret.z85), 0);
	cr_assert_eq(zmq_curve_public(server_public.z85, server_secret.z85), 0);
	cr_assert_eq(zmq_curve_keypair(ka_pub, ka_sec), 0);
	cr_assert_eq(zmq_curve_keypair(kc_pub, kc_sec), 0);
	snprintf(authorized_path, sizeof(authorized_path), "%s/authorized", dir);
	FILE *f = fopen(authorized_path, "w");
	cr_assert_not_null(f);
	fprintf(f, "# the one worker set let in\n%s pool-a\n", ka_pub);
	fclose(f);
}

static void setup_with(int64_t poison_retry_ms, int heartbeat_ms)
{
	memset(slot_forks, 0, sizeof(slot_forks));
	snprintf(dir, sizeof(dir), "/tmp/test_broker.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(endpoint, sizeof(endpoint), "ipc://%s/jobs.sock", dir);
	n_keys = n_results = 0;
	counter_calls = 0;
	statset_free(&counted);
	counted = statset_new();
	now = T0;
	struct cx_err err = { 0 };
	workqueue_new("test", NULL, &q, &err);
	cr_assert_not_null(q, "%s", err.msg);
	struct broker_options o = { .endpoint = endpoint,
				    .heartbeat_ms = heartbeat_ms,
				    .poison_retry_ms = poison_retry_ms };
	if (with_curve) {
		write_curve_keys();
		o.curve_secret = &server_secret;
		o.authorized_keys = authorized_path;
	}
	struct broker_source src = { job_for, on_result, NULL, NULL, on_counter, NULL };
	broker_new(&o, q, &src, &b, &err);
	cr_assert_not_null(b, "%s", err.msg);
	broker_set_dispatching(b, true);
	zctx = zmq_ctx_new();
	cr_assert_not_null(zctx);
}

static void setup(void)
{
	setup_with(RETRY, SLOW_HB);
}

static void setup_hb(void)
{
	setup_with(RETRY, HB);
}

/* Every test socket still open, so that teardown can close them after a
 * failed assertion (zmq_ctx_term waits for every socket). */
static void *open_socks[32];

static void teardown(void)
{
	for (size_t i = 0; i < sizeof(open_socks) / sizeof(open_socks[0]); i++)
		if (open_socks[i])
			zmq_close(open_socks[i]);
	memset(open_socks, 0, sizeof(open_socks));
	broker_free(&b);
	workqueue_free(&q);
	if (zctx)
		zmq_ctx_term(zctx);
	zctx = NULL;
	if (with_curve)
		unlink(authorized_path);
	statset_free(&counted);
	rmdir(dir);
}

static void setup_curve(void)
{
	with_curve = true;
	setup_with(RETRY, SLOW_HB);
}

TestSuite(broker, .init = setup, .fini = teardown, .timeout = 60);
/* Heartbeats every HB ms of fake time. */
TestSuite(broker_hb, .init = setup_hb, .fini = teardown, .timeout = 60);
/* The ROUTER as a CURVE server with a ZAP handler. */
TestSuite(broker_curve, .init = setup_curve, .fini = teardown, .timeout = 60);

/* Lets the broker read and act at the fake time now: polls its socket for up
 * to ms of real time, dispatching after each poll. */
static void pump(int ms)
{
	int64_t until = clock_monotonic_ms() + ms;
	do {
		zmq_pollitem_t it[2] = { { .socket = broker_socket(b), .events = ZMQ_POLLIN },
					 { .socket = broker_auth_socket(b), .events = ZMQ_POLLIN } };
		zmq_poll(it, it[1].socket ? 2 : 1, 5);
		broker_dispatch(b, now);
	} while (clock_monotonic_ms() < until);
}

/* Pumps until cond holds (or fails the test after WAIT_MS). */
#define PUMP_UNTIL(cond)                                                                                               \
	do {                                                                                                           \
		int64_t until_ = clock_monotonic_ms() + WAIT_MS;                                                       \
		while (!(cond)) {                                                                                      \
			cr_assert_lt(clock_monotonic_ms(), until_, "not within %d ms: %s", WAIT_MS, #cond);            \
			pump(5);                                                                                       \
		}                                                                                                      \
	} while (0)

/* ---------------------------------------------------------------- test workers */

struct tw {
	void *sock;
	int slot, pid;
	const char *instance;
	int restarts;
	const char *set;
	/* Connects where it may not be let in: its sends may find no
	 * connection and must not block the test (they try, nothing more). */
	bool stranger;
};

static void tw_send(struct tw *w, const struct proto_frame *f)
{
	if (w->stranger) {
		if (zmq_send(w->sock, f->type, strlen(f->type), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
			zmq_send(w->sock, f->payload, f->len, ZMQ_DONTWAIT);
		return;
	}
	cr_assert_geq(zmq_send(w->sock, f->type, strlen(f->type), ZMQ_SNDMORE), 0);
	cr_assert_geq(zmq_send(w->sock, f->payload, f->len, 0), 0);
}

static void tw_ready(struct tw *w)
{
	struct proto_frame f = { 0 };
	struct proto_ready r = {
		.slot = w->slot, .pid = w->pid, .instance = w->instance, .restarts = w->restarts, .set = w->set
	};
	cr_assert_eq(proto_encode_ready(&r, &f, NULL), 0);
	tw_send(w, &f);
	proto_frame_clear(&f);
}

static void tw_heartbeat(struct tw *w)
{
	struct proto_frame f = { 0 };
	cr_assert_eq(proto_encode_heartbeat(&f, NULL), 0);
	tw_send(w, &f);
	proto_frame_clear(&f);
}

/* CURVE client keys for a test worker: its secret and public key and the
 * server's public key (Z85); NULL fields = plain. */
struct tw_curve {
	const char *secret, *public, *server;
	bool stranger; /* not to be let in: see struct tw */
};

/* A DEALER "w<slot>-<pid>-<instance>" of worker set set that said READY
 * with the given instance and restart count, with CURVE when c is given. */
static struct tw connect_worker_full(const char *instance, const char *set, int slot, int pid, int restarts,
				     const struct tw_curve *c)
{
	struct tw w = { .slot = slot,
			.pid = pid,
			.instance = instance,
			.restarts = restarts,
			.set = set,
			.stranger = c && c->stranger };
	char id[64];
	int zero = 0;
	snprintf(id, sizeof(id), "w%d-%d-%s", slot, pid, instance);
	w.sock = zmq_socket(zctx, ZMQ_DEALER);
	cr_assert_not_null(w.sock);
	zmq_setsockopt(w.sock, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(w.sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (c && c->secret) {
		cr_assert_eq(zmq_setsockopt(w.sock, ZMQ_CURVE_SERVERKEY, c->server, 40), 0);
		cr_assert_eq(zmq_setsockopt(w.sock, ZMQ_CURVE_PUBLICKEY, c->public, 40), 0);
		cr_assert_eq(zmq_setsockopt(w.sock, ZMQ_CURVE_SECRETKEY, c->secret, 40), 0);
	}
	cr_assert_eq(zmq_connect(w.sock, endpoint), 0);
	for (size_t i = 0; i < sizeof(open_socks) / sizeof(open_socks[0]); i++)
		if (!open_socks[i]) {
			open_socks[i] = w.sock;
			break;
		}
	tw_ready(&w);
	return w;
}

static struct tw connect_worker_as(const char *instance, int slot, int pid, int restarts)
{
	return connect_worker_full(instance, "", slot, pid, restarts, NULL);
}

/* A worker of instance "ia" that said READY, its slot's next fork. */
static struct tw connect_worker(int slot, int pid)
{
	cr_assert_lt(slot, 64);
	return connect_worker_as("ia", slot, pid, slot_forks[slot]++);
}

static void tw_close(struct tw *w)
{
	for (size_t i = 0; i < sizeof(open_socks) / sizeof(open_socks[0]); i++)
		if (open_socks[i] == w->sock)
			open_socks[i] = NULL;
	if (w->sock)
		zmq_close(w->sock);
	w->sock = NULL;
}

/* The next message for w that is not a HEARTBEAT (unless heartbeats is
 * set), within ms of real time while the broker is pumped; false if none. */
static bool tw_recv(struct tw *w, struct proto_msg *msg, int ms, bool heartbeats)
{
	int64_t until = clock_monotonic_ms() + ms;
	memset(msg, 0, sizeof(*msg));
	while (clock_monotonic_ms() < until) {
		pump(2);
		zmq_pollitem_t it = { .socket = w->sock, .events = ZMQ_POLLIN };
		if (zmq_poll(&it, 1, 3) <= 0)
			continue;
		zmq_msg_t type, payload;
		zmq_msg_init(&type);
		zmq_msg_init(&payload);
		cr_assert_geq(zmq_msg_recv(&type, w->sock, 0), 0);
		if (zmq_msg_more(&type))
			cr_assert_geq(zmq_msg_recv(&payload, w->sock, 0), 0);
		struct cx_err err = { 0 };
		int r = proto_decode(zmq_msg_data(&type), zmq_msg_size(&type), zmq_msg_data(&payload),
				     zmq_msg_size(&payload), msg, &err);
		zmq_msg_close(&type);
		zmq_msg_close(&payload);
		cr_assert_eq(r, 0, "the broker sent something undecodable: %s", err.msg);
		cr_assert(proto_from_watcher(msg->type), "the broker sent a %s", proto_type_name(msg->type));
		if (msg->type == PROTO_HEARTBEAT && !heartbeats) {
			proto_msg_clear(msg);
			continue;
		}
		return true;
	}
	return false;
}

/* Asserts w gets a JOB for key (of kind) and returns its id and attempt. */
static void expect_job(struct tw *w, const char *key, enum proto_job_kind kind, uint64_t *job, int *attempt)
{
	struct proto_msg m;
	cr_assert(tw_recv(w, &m, WAIT_MS, false), "w%d-%d: no JOB for %s", w->slot, w->pid, key);
	cr_assert_eq(m.type, PROTO_JOB, "w%d-%d: expected a JOB, got %s", w->slot, w->pid, proto_type_name(m.type));
	cr_assert_str_eq(m.job.key, key);
	cr_assert_eq(m.job.kind, kind, "job for %s: kind %s", key, proto_job_kind_name(m.job.kind));
	cr_assert_str_eq(m.job.controller, "ctl");
	if (kind == PROTO_JOB_POISON) {
		cr_assert_not_null(m.job.message);
		cr_assert(strstr(m.job.message, "lost 3 times"), "poison message: %s", m.job.message);
	}
	if (job)
		*job = m.job.job;
	if (attempt)
		*attempt = m.job.attempt;
	proto_msg_clear(&m);
}

/* Asserts w gets nothing but heartbeats for QUIET_MS. */
static void expect_no_job(struct tw *w)
{
	struct proto_msg m;
	bool got = tw_recv(w, &m, QUIET_MS, false);
	cr_assert(!got, "w%d-%d: unexpected %s%s%s", w->slot, w->pid, proto_type_name(m.type),
		  m.type == PROTO_JOB ? " for " : "", m.type == PROTO_JOB ? m.job.key : "");
}

static void send_result(struct tw *w, uint64_t job, int attempt, enum proto_outcome outcome, int64_t after_ms)
{
	struct proto_frame f = { 0 };
	struct proto_result r = { .job = job,
				  .attempt = attempt,
				  .outcome = outcome,
				  .requeue_after_ms = after_ms,
				  .message = outcome == PROTO_OUTCOME_ERROR ? "hook failed" : "" };
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	tw_send(w, &f);
	proto_frame_clear(&f);
}

static void add(const char *key)
{
	cr_assert_eq(workqueue_add(q, key, now), 0);
}

/* ---------------------------------------------------------------- tests */

Test(broker, ready_registers_a_worker)
{
	cr_assert_eq(broker_workers(b), 0);
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	cr_assert_eq(broker_busy(b), 0);
	/* A second READY from the same process changes nothing. */
	tw_ready(&w);
	pump(50);
	cr_assert_eq(broker_workers(b), 1);
	cr_assert_eq(broker_worker_restarts(b), 0);
	tw_close(&w);
}

Test(broker, a_job_goes_only_to_an_idle_worker)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	add("ctl/ns/b");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	cr_assert_eq(attempt, 1);
	cr_assert_eq(broker_busy(b), 1);
	expect_no_job(&w); /* b waits: w is busy */
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	expect_job(&w, "ctl/ns/b", PROTO_JOB_SYNC, NULL, NULL);
	tw_close(&w);
}

Test(broker, a_job_carries_parent_and_children)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	fake("ctl/ns/a")->generation = 7;
	add("ctl/ns/a");
	struct proto_msg m;
	cr_assert(tw_recv(&w, &m, WAIT_MS, false));
	cr_assert_eq(m.type, PROTO_JOB);
	struct json_object *meta = NULL, *gen = NULL;
	cr_assert(json_object_object_get_ex(m.job.parent, "metadata", &meta));
	cr_assert(json_object_object_get_ex(meta, "generation", &gen));
	cr_assert_eq(json_object_get_int64(gen), 7);
	cr_assert_not_null(m.job.children);
	proto_msg_clear(&m);
	tw_close(&w);
}

Test(broker, a_key_is_never_held_by_two_workers)
{
	struct tw w1 = connect_worker(0, 100), w2 = connect_worker(1, 101);
	PUMP_UNTIL(broker_workers(b) == 2);
	add("ctl/ns/a");
	/* Whichever gets it, the other must not get it too. */
	struct proto_msg m;
	struct tw *holder = NULL, *other = NULL;
	int64_t until = clock_monotonic_ms() + WAIT_MS;
	while (!holder) {
		cr_assert_lt(clock_monotonic_ms(), until, "nobody got the job");
		if (tw_recv(&w1, &m, 20, false)) {
			holder = &w1;
			other = &w2;
		} else if (tw_recv(&w2, &m, 20, false)) {
			holder = &w2;
			other = &w1;
		}
	}
	cr_assert_eq(m.type, PROTO_JOB);
	uint64_t job = m.job.job;
	int attempt = m.job.attempt;
	proto_msg_clear(&m);
	add("ctl/ns/a"); /* changed while in flight */
	expect_no_job(other);
	expect_no_job(holder);
	send_result(holder, job, attempt, PROTO_OUTCOME_OK, 0);
	/* Now it goes out again, once, to either. */
	struct tw *next = NULL;
	until = clock_monotonic_ms() + WAIT_MS;
	while (!next) {
		cr_assert_lt(clock_monotonic_ms(), until, "the dirty key was not dispatched again");
		if (tw_recv(&w1, &m, 20, false))
			next = &w1;
		else if (tw_recv(&w2, &m, 20, false))
			next = &w2;
	}
	cr_assert_eq(m.type, PROTO_JOB);
	cr_assert_str_eq(m.job.key, "ctl/ns/a");
	cr_assert_neq(m.job.job, job, "a new job id");
	proto_msg_clear(&m);
	expect_no_job(next == &w1 ? &w2 : &w1);
	tw_close(&w1);
	tw_close(&w2);
}

Test(broker, a_result_with_the_wrong_job_or_attempt_is_dropped)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	add("ctl/ns/b");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result(&w, job + 1, attempt, PROTO_OUTCOME_OK, 0);
	send_result(&w, job, attempt + 1, PROTO_OUTCOME_OK, 0);
	pump(50);
	cr_assert_eq(broker_busy(b), 1, "a stale result freed the worker");
	cr_assert_eq(n_results, 0);
	expect_no_job(&w);
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	expect_job(&w, "ctl/ns/b", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(n_results, 1);
	cr_assert_str_eq(results[0], "success");
	/* The same result again (a duplicate) is dropped too. */
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	pump(50);
	cr_assert_eq(broker_busy(b), 1);
	cr_assert_eq(n_results, 1);
	tw_close(&w);
}

Test(broker, a_new_pid_in_a_slot_requeues_the_old_job_at_once)
{
	struct tw old = connect_worker(3, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&old, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	tw_close(&old); /* it died holding the job */
	struct tw fresh = connect_worker(3, 200);
	PUMP_UNTIL(broker_worker_restarts(b) == 1);
	cr_assert_eq(broker_workers(b), 1);
	cr_assert_eq(broker_losses(b), 1);
	cr_assert_eq(broker_losses_by(b, BROKER_LOSS_RESTART), 1);
	cr_assert_eq(broker_losses_by(b, BROKER_LOSS_DEADLINE), 0);
	/* Back on the queue with the first backoff step only (5 ms), not after
	 * a heartbeat expiry or the job's deadline. */
	now += 5;
	uint64_t job2;
	int attempt2;
	expect_job(&fresh, "ctl/ns/a", PROTO_JOB_SYNC, &job2, &attempt2);
	cr_assert_eq(attempt2, attempt + 1);
	cr_assert_neq(job2, job);
	tw_close(&fresh);
}

Test(broker, a_restart_of_an_idle_slot_is_counted)
{
	struct tw old = connect_worker(2, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_close(&old);
	struct tw fresh = connect_worker(2, 200);
	PUMP_UNTIL(broker_worker_restarts(b) == 1);
	cr_assert_eq(broker_workers(b), 1);
	cr_assert_eq(broker_losses(b), 0, "nothing was held, nothing lost");
	tw_close(&fresh);
}

Test(broker_hb, an_idle_worker_that_stops_heartbeating_is_removed_after_three_intervals)
{
	struct tw live = connect_worker(0, 100), silent = connect_worker(1, 101);
	PUMP_UNTIL(broker_workers(b) == 2);
	for (int i = 0; i < 3; i++) {
		now += HB;
		tw_heartbeat(&live);
		pump(30);
	}
	cr_assert_eq(broker_workers(b), 2, "removed before 3 intervals passed");
	now += 1;
	tw_heartbeat(&live);
	pump(30);
	cr_assert_eq(broker_workers(b), 1, "the silent worker is still there");
	/* The one left is the live one: it gets the work. */
	add("ctl/ns/a");
	expect_job(&live, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	expect_no_job(&silent);
	tw_close(&live);
	tw_close(&silent);
}

Test(broker_hb, the_broker_heartbeats_every_interval)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	struct proto_msg m;
	for (int i = 0; i < 3; i++) {
		now += HB;
		cr_assert(tw_recv(&w, &m, WAIT_MS, true), "no heartbeat in interval %d", i);
		cr_assert_eq(m.type, PROTO_HEARTBEAT);
		proto_msg_clear(&m);
		tw_heartbeat(&w);
	}
	cr_assert(broker_next_ms(b, now) <= HB);
	tw_close(&w);
}

Test(broker, a_busy_worker_past_its_deadline_loses_the_job)
{
	struct tw slow = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&slow, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	struct tw other = connect_worker(1, 101);
	PUMP_UNTIL(broker_workers(b) == 2);
	/* Busy: silence is fine until the deadline. */
	now += BUDGET;
	tw_heartbeat(&other);
	pump(30);
	cr_assert_eq(broker_busy(b), 1, "the job was taken before its deadline");
	now += 1;
	tw_heartbeat(&other);
	pump(30);
	cr_assert_eq(broker_losses(b), 1);
	cr_assert_eq(broker_losses_by(b, BROKER_LOSS_DEADLINE), 1);
	cr_assert_eq(broker_losses_by(b, BROKER_LOSS_RESTART), 0);
	cr_assert_eq(broker_busy(b), 0);
	now += 5; /* the first backoff step */
	uint64_t job2;
	int attempt2;
	expect_job(&other, "ctl/ns/a", PROTO_JOB_SYNC, &job2, &attempt2);
	cr_assert_eq(attempt2, attempt + 1);
	/* The slow worker's late result is dropped. */
	send_result(&slow, job, attempt, PROTO_OUTCOME_OK, 0);
	pump(50);
	cr_assert_eq(n_results, 0);
	cr_assert_eq(broker_busy(b), 1);
	tw_close(&slow);
	tw_close(&other);
}

/* Loses key three times in a row through slot restarts; returns the worker
 * connected last (idle, registered). pid grows from *pid. */
static struct tw lose_three_times(const char *key, int slot, int *pid)
{
	struct tw w = connect_worker(slot, (*pid)++);
	PUMP_UNTIL(broker_workers(b) >= 1);
	add(key);
	for (int i = 0; i < 3; i++) {
		int attempt;
		expect_job(&w, key, PROTO_JOB_SYNC, NULL, &attempt);
		cr_assert_eq(attempt, i + 1);
		tw_close(&w);
		uint64_t restarts = broker_worker_restarts(b);
		w = connect_worker(slot, (*pid)++);
		PUMP_UNTIL(broker_worker_restarts(b) == restarts + 1);
		if (i < 2)
			now += 5000; /* past any backoff step */
	}
	return w;
}

Test(broker, three_losses_poison_the_key_and_a_poison_job_reports_it)
{
	int pid = 100;
	struct tw w = lose_three_times("ctl/ns/a", 0, &pid);
	cr_assert_eq(broker_poisoned(b), 1);
	cr_assert_eq(broker_losses(b), 3);
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_POISON, &job, &attempt);
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	pump(30);
	cr_assert_eq(broker_busy(b), 0);
	cr_assert_eq(broker_poisoned(b), 1, "the report's result does not unpoison");
	/* Not tried again while nothing changed. */
	now += 10000;
	add("ctl/ns/a");
	expect_no_job(&w);
	cr_assert_eq(broker_poisoned(b), 1);
	/* A new generation: tried again. */
	fake("ctl/ns/a")->generation = 2;
	add("ctl/ns/a");
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(broker_poisoned(b), 0);
	tw_close(&w);
}

Test(broker, a_poisoned_key_is_tried_again_after_poison_retry_ms)
{
	int pid = 100;
	struct tw w = lose_three_times("ctl/ns/a", 0, &pid);
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_POISON, &job, &attempt);
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	now += RETRY - 1;
	add("ctl/ns/a");
	expect_no_job(&w);
	now += 1;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(broker_poisoned(b), 0);
	tw_close(&w);
}

Test(broker, a_poisoned_key_is_not_synced_while_its_report_is_in_flight)
{
	int pid = 100;
	struct tw w = lose_three_times("ctl/ns/a", 0, &pid);
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_POISON, &job, &attempt);
	/* While the report is being written, the object changes and a second
	 * worker is idle: the key must still not be held twice. */
	struct tw other = connect_worker(1, 999);
	PUMP_UNTIL(broker_workers(b) == 2);
	fake("ctl/ns/a")->generation = 2;
	add("ctl/ns/a");
	expect_no_job(&other);
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	/* Once the report is done, the change is synced. */
	struct proto_msg m;
	struct tw *next = NULL;
	int64_t until = clock_monotonic_ms() + WAIT_MS;
	while (!next) {
		cr_assert_lt(clock_monotonic_ms(), until, "the changed key was not synced after the report");
		if (tw_recv(&other, &m, 20, false))
			next = &other;
		else if (tw_recv(&w, &m, 20, false))
			next = &w;
	}
	cr_assert_eq(m.type, PROTO_JOB);
	cr_assert_eq(m.job.kind, PROTO_JOB_SYNC);
	cr_assert_str_eq(m.job.key, "ctl/ns/a");
	proto_msg_clear(&m);
	tw_close(&w);
	tw_close(&other);
}

Test(broker, a_lost_poison_report_is_sent_again)
{
	int pid = 100;
	struct tw w = lose_three_times("ctl/ns/a", 0, &pid);
	expect_job(&w, "ctl/ns/a", PROTO_JOB_POISON, NULL, NULL);
	tw_close(&w);
	struct tw fresh = connect_worker(0, pid++);
	PUMP_UNTIL(broker_worker_restarts(b) == 4);
	now += 5000;
	expect_job(&fresh, "ctl/ns/a", PROTO_JOB_POISON, NULL, NULL);
	cr_assert_eq(broker_poisoned(b), 1);
	tw_close(&fresh);
}

Test(broker_hb, a_follower_sends_no_jobs_but_heartbeats)
{
	broker_set_dispatching(b, false);
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	struct proto_msg m;
	for (int i = 0; i < 3; i++) {
		now += HB;
		cr_assert(tw_recv(&w, &m, WAIT_MS, true), "no heartbeat from a follower");
		cr_assert_eq(m.type, PROTO_HEARTBEAT, "a follower sent a %s", proto_type_name(m.type));
		proto_msg_clear(&m);
		tw_heartbeat(&w);
	}
	expect_no_job(&w);
	cr_assert_eq(broker_workers(b), 1, "the follower dropped a heartbeating worker");
	broker_set_dispatching(b, true);
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	tw_close(&w);
}

Test(broker, an_error_is_retried_with_the_rate_limiter)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result(&w, job, attempt, PROTO_OUTCOME_ERROR, 0);
	PUMP_UNTIL(n_results == 1);
	cr_assert_str_eq(results[0], "error");
	cr_assert_eq(workqueue_retries(q, "ctl/ns/a"), 1);
	expect_no_job(&w); /* backoff: 5 ms */
	now += 5;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result(&w, job, attempt, PROTO_OUTCOME_ERROR, 0);
	PUMP_UNTIL(n_results == 2);
	cr_assert_eq(workqueue_retries(q, "ctl/ns/a"), 2);
	now += 9;
	expect_no_job(&w); /* 10 ms the second time */
	now += 1;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	/* Success forgets the failures. */
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	PUMP_UNTIL(n_results == 3);
	cr_assert_str_eq(results[2], "success");
	cr_assert_eq(workqueue_retries(q, "ctl/ns/a"), 0);
	expect_no_job(&w);
	tw_close(&w);
}

Test(broker, requeue_and_resync_after_come_back_when_asked)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result(&w, job, attempt, PROTO_OUTCOME_REQUEUE, 500);
	PUMP_UNTIL(n_results == 1);
	cr_assert_str_eq(results[0], "requeue_after");
	cr_assert_eq(workqueue_retries(q, "ctl/ns/a"), 0, "a requeue is not a failure");
	now += 499;
	expect_no_job(&w);
	now += 1;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	/* ok with a resync time: forgotten, then added after it. */
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 3000);
	PUMP_UNTIL(n_results == 2);
	cr_assert_str_eq(results[1], "requeue_after", "resyncAfterSeconds counts as requeue_after");
	now += 2999;
	expect_no_job(&w);
	now += 1;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	tw_close(&w);
}

Test(broker, a_deleted_parent_is_skipped)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	fake("ctl/ns/gone")->gone = true;
	add("ctl/ns/gone");
	add("ctl/ns/b");
	expect_job(&w, "ctl/ns/b", PROTO_JOB_SYNC, NULL, NULL);
	struct workqueue_stats st;
	workqueue_stats(q, &st);
	cr_assert_eq(st.in_flight, 1, "only b is in flight");
	tw_close(&w);
}

Test(broker, bind_replaces_a_stale_socket_file_and_reports_errors)
{
	struct cx_err err = { 0 };
	struct broker_source src = { job_for, on_result, NULL, NULL, on_counter, NULL };
	struct broker_options bad = { .endpoint = "nonsense://x" };
	struct broker *b2 = NULL;
	broker_new(&bad, q, &src, &b2, &err);
	cr_assert_null(b2);
	cr_assert(strstr(err.msg, "nonsense://x"), "%s", err.msg);
}

/* ---------------------------------------------------------------- two worker sets */

static char log_path[96];
static FILE *log_file;

/* Broker log lines go to a file the test reads. */
static void capture_log(void)
{
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	log_file = fopen(log_path, "w+");
	cr_assert_not_null(log_file);
	log_set_output(log_file);
	log_set_verbosity(1); /* "worker ready", "worker gone" */
}

/* How many lines of the captured log contain needle. */
static int log_lines_with(const char *needle)
{
	fflush(log_file);
	FILE *f = fopen(log_path, "r");
	cr_assert_not_null(f);
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static void release_log(void)
{
	log_set_output(stderr);
	log_set_verbosity(0);
	fclose(log_file);
	unlink(log_path);
}

Test(broker, a_ready_from_another_instance_for_a_busy_slot_is_refused_and_the_job_kept)
{
	capture_log();
	struct tw holder = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&holder, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	/* A second supervisor's worker claims slot 0, and says READY again and
	 * again (as a refused worker does while nobody answers it). */
	struct tw intruder = connect_worker_as("ib", 0, 200, 0);
	PUMP_UNTIL(broker_refusals(b) == 1);
	for (int i = 0; i < 3; i++) {
		now += 10;
		tw_ready(&intruder);
		PUMP_UNTIL(broker_refusals(b) == (uint64_t)i + 2);
	}
	cr_assert_eq(broker_workers(b), 1, "the intruder was registered");
	cr_assert_eq(broker_busy(b), 1, "the holder lost its job");
	cr_assert_eq(broker_losses(b), 0, "a job was re-queued");
	cr_assert_eq(broker_worker_restarts(b), 0, "a refusal counted as a restart");
	cr_assert_eq(log_lines_with("READY refused"), 1, "one line per instance and slot, not one per retry");
	cr_assert_eq(log_lines_with("instance=ib"), 1);
	cr_assert_eq(log_lines_with("held_by_instance=ia"), 1);
	/* The holder's result still counts, and new work goes to it, not to
	 * the intruder. */
	add("ctl/ns/b");
	send_result(&holder, job, attempt, PROTO_OUTCOME_OK, 0);
	expect_job(&holder, "ctl/ns/b", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(n_results, 1);
	expect_no_job(&intruder);
	/* The same instance in another slot is a different claim: logged too. */
	struct tw intruder1 = connect_worker_as("ib", 1, 201, 0);
	PUMP_UNTIL(broker_workers(b) == 2);
	cr_assert_eq(log_lines_with("READY refused"), 1, "slot 1 was free: no refusal");
	tw_close(&intruder1);
	tw_close(&intruder);
	tw_close(&holder);
	release_log();
}

Test(broker_hb, an_idle_heartbeating_holder_keeps_its_slot_until_it_is_lost)
{
	capture_log();
	struct tw holder = connect_worker(2, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	struct tw intruder = connect_worker_as("ib", 2, 200, 0);
	PUMP_UNTIL(broker_refusals(b) == 1);
	/* While the holder heartbeats, retries are refused (and not logged again). */
	for (int i = 0; i < 5; i++) {
		now += HB;
		tw_heartbeat(&holder);
		tw_ready(&intruder);
		PUMP_UNTIL(broker_refusals(b) == (uint64_t)i + 2);
	}
	cr_assert_eq(broker_workers(b), 1);
	cr_assert_eq(log_lines_with("READY refused"), 1);
	add("ctl/ns/a");
	expect_job(&holder, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	expect_no_job(&intruder);
	tw_close(&holder);
	tw_close(&intruder);
	release_log();
}

Test(broker, another_instance_takes_a_slot_over_once_its_holder_is_lost)
{
	capture_log();
	struct tw holder = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	struct tw intruder = connect_worker_as("ib", 0, 200, 0);
	PUMP_UNTIL(broker_refusals(b) == 1);
	/* The holder falls silent past its liveness (3 heartbeats); the
	 * intruder's next READY takes the slot over. */
	tw_close(&holder);
	now += 3 * SLOW_HB + 1;
	tw_ready(&intruder);
	PUMP_UNTIL(log_lines_with("taken over by supervisor instance ib") == 1);
	cr_assert_eq(broker_workers(b), 1);
	cr_assert_eq(broker_refusals(b), 1);
	add("ctl/ns/a");
	expect_job(&intruder, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(broker_worker_restarts(b), 0, "another instance taking over is no restart");
	tw_close(&intruder);
	release_log();
}

Test(broker, a_busy_holder_keeps_its_slot_until_its_deadline)
{
	struct tw holder = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	expect_job(&holder, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	/* Busy workers send no heartbeats: silence within the deadline is fine. */
	now += BUDGET;
	struct tw intruder = connect_worker_as("ib", 0, 200, 0);
	PUMP_UNTIL(broker_refusals(b) == 1);
	cr_assert_eq(broker_busy(b), 1);
	cr_assert_eq(broker_losses(b), 0);
	tw_close(&holder);
	tw_close(&intruder);
}

/* ---------------------------------------------------------------- restart counting */

Test(broker, restarts_are_the_supervisors_count_from_ready)
{
	/* Slot 0's first worker, then its third fork: the second died before
	 * it said READY. The supervisor counted 2 restarts; so does the broker. */
	struct tw w = connect_worker_as("ia", 0, 100, 0);
	PUMP_UNTIL(broker_workers(b) == 1);
	cr_assert_eq(broker_worker_restarts(b), 0);
	tw_close(&w);
	w = connect_worker_as("ia", 0, 102, 2);
	PUMP_UNTIL(broker_worker_restarts(b) == 2);
	/* Saying READY again (after a watcher outage) counts nothing. */
	tw_ready(&w);
	pump(50);
	cr_assert_eq(broker_worker_restarts(b), 2);
	/* Another supervisor's slot adds its own count. */
	struct tw other = connect_worker_as("ib", 1, 300, 3);
	PUMP_UNTIL(broker_worker_restarts(b) == 5);
	cr_assert_eq(broker_workers(b), 2);
	tw_close(&w);
	tw_close(&other);
}

Test(broker, a_new_watcher_counts_the_restarts_of_workers_already_running)
{
	/* The watcher restarted while the supervisor kept running: the first
	 * READY of its slot-1 worker reports 4 earlier restarts. The metric
	 * then says what the supervisor logged, not 0. */
	struct tw w = connect_worker_as("ia", 1, 100, 4);
	PUMP_UNTIL(broker_workers(b) == 1);
	cr_assert_eq(broker_worker_restarts(b), 4);
	tw_close(&w);
}

Test(broker, a_refused_ready_counts_no_restart)
{
	struct tw holder = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	struct tw intruder = connect_worker_as("ib", 0, 200, 6);
	PUMP_UNTIL(broker_refusals(b) == 1);
	cr_assert_eq(broker_worker_restarts(b), 0);
	tw_close(&holder);
	tw_close(&intruder);
}

Test(broker, a_busy_holder_whose_connection_is_gone_is_taken_over_at_once)
{
	capture_log();
	struct tw holder = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&holder, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	/* Its process died (its supervisor's pod restarted, say): the
	 * connection goes, long before the job's deadline. A new instance's
	 * READY for the slot takes it over, and the job is re-queued. */
	tw_close(&holder);
	struct tw fresh = connect_worker_as("ib", 0, 200, 0);
	int64_t until = clock_monotonic_ms() + WAIT_MS;
	while (log_lines_with("taken over by supervisor instance ib") == 0) {
		cr_assert_lt(clock_monotonic_ms(), until, "the slot was not taken over");
		pump(20);
		tw_ready(&fresh); /* as a refused worker does, while the disconnect is noticed */
	}
	cr_assert_eq(broker_losses(b), 1);
	cr_assert_eq(broker_worker_restarts(b), 0);
	now += 5; /* the first backoff step */
	uint64_t job2;
	int attempt2;
	expect_job(&fresh, "ctl/ns/a", PROTO_JOB_SYNC, &job2, &attempt2);
	cr_assert_eq(attempt2, attempt + 1);
	tw_close(&fresh);
	release_log();
}

/* A job sent to a worker whose connection is gone (it died between its
 * READY and the job) is lost as "unreachable" and re-queued, and the next
 * worker gets it. The probe below waits, without touching the broker's
 * state, until its ROUTER has seen the disconnect; before that a send would
 * still be queued to the dying connection. */
Test(broker, a_job_for_a_worker_that_is_gone_is_lost_as_unreachable)
{
	capture_log();
	struct tw gone = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_close(&gone);
	const char *id = "w0-100-ia";
	int64_t until = clock_monotonic_ms() + WAIT_MS;
	while (zmq_send(broker_socket(b), id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int)strlen(id)) {
		zmq_send(broker_socket(b), "", 0, ZMQ_DONTWAIT); /* ends the probe: the DEALER is gone */
		cr_assert_lt(clock_monotonic_ms(), until, "the broker never saw the worker go");
		pump(20);
	}
	add("ctl/ns/a");
	PUMP_UNTIL(broker_workers(b) == 0);
	cr_assert_eq(broker_losses_by(b, BROKER_LOSS_UNREACHABLE), 1);
	cr_assert_eq(broker_losses(b), 1);
	struct tw next = connect_worker(1, 101);
	PUMP_UNTIL(broker_workers(b) == 1);
	now += 5; /* the first backoff step */
	expect_job(&next, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	tw_close(&next);
	release_log();
}

/* ---------------------------------------------------------------- worker sets */

/* Each pod of a scaled-out worker Deployment numbers its slots from 0: its
 * set tells them apart, and a claim within one set is still refused. */
Test(broker, slot_0_of_two_worker_sets_are_two_slots)
{
	capture_log();
	struct tw local = connect_worker_full("ia", "", 0, 100, 0, NULL);
	struct tw pod = connect_worker_full("ic", "coxswain-worker-7d9f-x2x", 0, 100, 0, NULL);
	PUMP_UNTIL(broker_workers(b) == 2);
	cr_assert_eq(broker_refusals(b), 0);
	add("ctl/ns/a");
	add("ctl/ns/b");
	struct proto_msg m1, m2;
	cr_assert(tw_recv(&local, &m1, WAIT_MS, false));
	cr_assert(tw_recv(&pod, &m2, WAIT_MS, false));
	cr_assert_eq(m1.type, PROTO_JOB);
	cr_assert_eq(m2.type, PROTO_JOB);
	cr_assert_str_neq(m1.job.key, m2.job.key, "one key, two workers");
	proto_msg_clear(&m1);
	proto_msg_clear(&m2);
	/* Another supervisor claiming the pod's slot 0 while it is live. */
	struct tw intruder = connect_worker_full("id", "coxswain-worker-7d9f-x2x", 0, 101, 0, NULL);
	PUMP_UNTIL(broker_refusals(b) == 1);
	cr_assert_eq(broker_workers(b), 2);
	cr_assert_eq(log_lines_with("slot=0 set=coxswain-worker-7d9f-x2x"), 1, "the refusal names the set");
	tw_close(&intruder);
	tw_close(&pod);
	tw_close(&local);
	release_log();
}

/* ---------------------------------------------------------------- ipc:// rights */

Test(broker, the_ipc_socket_and_its_directory_are_the_watchers_alone)
{
	struct stat st;
	cr_assert_eq(stat(endpoint + 6, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode & 0777);

	struct broker_source src = { job_for, on_result, NULL, NULL, on_counter, NULL };
	struct cx_err err = { 0 };
	struct workqueue *q2 = NULL;
	workqueue_new("t2", NULL, &q2, &err);
	cr_assert_not_null(q2);
	char sub[128], ep[192];
	snprintf(sub, sizeof(sub), "%s/made", dir);
	snprintf(ep, sizeof(ep), "ipc://%s/jobs.sock", sub);
	struct broker_options o = { .endpoint = ep };
	/* A missing directory is made, 0700. */
	struct broker *b2 = NULL;
	broker_new(&o, q2, &src, &b2, &err);
	cr_assert_not_null(b2, "%s", err.msg);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "directory mode %o", st.st_mode & 0777);
	broker_free(&b2);
	cr_assert_eq(rmdir(sub), 0);

	/* One that others may enter is refused, and left as it is. */
	cr_assert_eq(mkdir(sub, 0700), 0);
	cr_assert_eq(chmod(sub, 0755), 0);
	broker_new(&o, q2, &src, &b2, &err);
	cr_assert_null(b2);
	cr_assert_eq(err.code, -EPERM);
	cr_assert(strstr(err.msg, sub) && strstr(err.msg, "0755"), "%s", err.msg);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0755, "the directory was changed");
	cr_assert_eq(rmdir(sub), 0);

	/* A shared directory such as /tmp: refused whoever runs the test (not
	 * ours, or ours but open to all). */
	o.endpoint = "ipc:///tmp/cx-test-broker.sock";
	broker_new(&o, q2, &src, &b2, &err);
	cr_assert_null(b2);
	cr_assert_eq(err.code, -EPERM, "%s", err.msg);
	cr_assert(strstr(err.msg, "/tmp"), "%s", err.msg);
	cr_assert_eq(access("/tmp/cx-test-broker.sock", F_OK), -1, "no socket was made");
	workqueue_free(&q2);
}

/* ---------------------------------------------------------------- CURVE */

/* Asserts w gets no message at all, heartbeats included, for QUIET_MS. */
static void expect_silence(struct tw *w)
{
	struct proto_msg m;
	bool got = tw_recv(w, &m, QUIET_MS, true);
	cr_assert(!got, "w%d-%d: got a %s", w->slot, w->pid, proto_type_name(m.type));
}

Test(broker_curve, only_an_authorized_key_gets_or_answers_jobs)
{
	capture_log();
	struct tw_curve good = { ka_sec, ka_pub, server_public.z85, false };
	struct tw_curve stranger = { kc_sec, kc_pub, server_public.z85, true };
	struct tw_curve no_keys = { .stranger = true };
	struct tw w = connect_worker_full("ia", "", 0, 100, 0, &good);
	PUMP_UNTIL(broker_workers(b) == 1);
	cr_assert_eq(log_lines_with("key_name=pool-a"), 1, "the key's name from the authorized keys");
	/* Without CURVE, and with a key that is not listed. */
	struct tw plain = connect_worker_full("ix", "", 1, 300, 0, &no_keys);
	struct tw wrong = connect_worker_full("iy", "", 2, 301, 0, &stranger);
	PUMP_UNTIL(broker_auth_refusals(b) >= 1);
	add("ctl/ns/a");
	add("ctl/ns/b");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	/* Both try to answer the job in flight and to take a slot. */
	send_result(&plain, job, attempt, PROTO_OUTCOME_OK, 0);
	send_result(&wrong, job, attempt, PROTO_OUTCOME_OK, 0);
	tw_ready(&plain);
	tw_ready(&wrong);
	expect_silence(&plain);
	expect_silence(&wrong);
	cr_assert_eq(n_results, 0, "a stranger's RESULT counted");
	cr_assert_eq(broker_busy(b), 1);
	cr_assert_eq(broker_workers(b), 1, "a stranger took a slot");
	/* The real answer still counts, and the next job goes to the real worker. */
	send_result(&w, job, attempt, PROTO_OUTCOME_OK, 0);
	expect_job(&w, "ctl/ns/b", PROTO_JOB_SYNC, NULL, NULL);
	cr_assert_eq(n_results, 1);
	/* The stranger is logged once with its public key, however often it
	 * tries; the plain one never reaches the handler (no CURVE, no
	 * handshake). */
	cr_assert_eq(log_lines_with("not among the authorized keys"), 1);
	cr_assert_eq(log_lines_with(kc_pub), 1);
	cr_assert_eq(log_lines_with(ka_sec), 0);
	tw_close(&plain);
	tw_close(&wrong);
	tw_close(&w);
	release_log();
}

/* A worker that has the wrong idea of the watcher's key gets nothing
 * either: the handshake fails before any message. */
Test(broker_curve, a_worker_with_the_wrong_server_key_gets_nothing)
{
	char other_pub[41], other_sec[41];
	cr_assert_eq(zmq_curve_keypair(other_pub, other_sec), 0);
	struct tw_curve mistaken = { ka_sec, ka_pub, other_pub, true };
	struct tw w = connect_worker_full("ia", "", 0, 100, 0, &mistaken);
	add("ctl/ns/a");
	expect_silence(&w);
	cr_assert_eq(broker_workers(b), 0);
	tw_close(&w);
}

/* ---------------------------------------------------------------- worker stats */

#define REST STATSET_REST_REQUESTS

/* Sends a STATS whose "families" is the JSON text families. */
static void tw_stats(struct tw *w, const char *families)
{
	struct json_object *f = json_tokener_parse(families);
	cr_assert_not_null(f, "test JSON: %s", families);
	struct proto_frame fr = { 0 };
	struct cx_err err = { 0 };
	cr_assert_eq(proto_encode_stats(&(struct proto_stats){ f }, &fr, &err), 0, "%s", err.msg);
	tw_send(w, &fr);
	proto_frame_clear(&fr);
	json_object_put(f);
}

/* A rest_client_requests_total series as a worker sends it. */
#define RQ(code, method, value)                                                                                        \
	"{\"labels\":{\"code\":\"" code "\",\"method\":\"" method "\",\"host\":\"h:6443\"},\"value\":" #value "}"
#define RQS(series) "{\"" REST "\":[" series "]}"

/* What the broker handed on for code/method, summed. */
static uint64_t got(const char *code, const char *method)
{
	return statset_value(counted, REST, statset_rest_labels, (const char *const[]){ code, method, "h:6443" });
}

/* A HEARTBEAT after the STATS: once the broker has seen it (the worker's
 * messages arrive in order), the STATS before it has been handled. */
static void settle(struct tw *w)
{
	tw_heartbeat(w);
	pump(60);
}

Test(broker, stats_add_only_what_each_series_grew_by)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_stats(&w, RQS(RQ("200", "GET", 5)));
	PUMP_UNTIL(got("200", "GET") == 5);
	tw_stats(&w, RQS(RQ("200", "GET", 7) "," RQ("201", "POST", 1) "," RQ("<error>", "PATCH", 2)));
	PUMP_UNTIL(got("201", "POST") == 1 && got("<error>", "PATCH") == 2);
	cr_assert_eq(got("200", "GET"), 7);
	/* The same report again adds nothing. */
	uint64_t calls = counter_calls;
	tw_stats(&w, RQS(RQ("200", "GET", 7) "," RQ("201", "POST", 1) "," RQ("<error>", "PATCH", 2)));
	settle(&w);
	cr_assert_eq(counter_calls, calls);
	cr_assert_eq(got("200", "GET"), 7);
	tw_close(&w);
}

Test(broker, stats_in_another_order_or_older_take_nothing_back)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_stats(&w, RQS(RQ("200", "GET", 4) "," RQ("409", "PATCH", 1)));
	PUMP_UNTIL(got("200", "GET") == 4 && got("409", "PATCH") == 1);
	/* Series in another order, labels in another order: matched by labels. */
	tw_stats(&w,
		 "{\"" REST
		 "\":[{\"value\":3,\"labels\":{\"host\":\"h:6443\",\"method\":\"PATCH\",\"code\":\"409\"}}," RQ(
			 "200", "GET", 6) "]}");
	PUMP_UNTIL(got("200", "GET") == 6 && got("409", "PATCH") == 3);
	/* An older report (smaller values) adds nothing and takes nothing back... */
	tw_stats(&w, RQS(RQ("200", "GET", 5) "," RQ("409", "PATCH", 2)));
	settle(&w);
	cr_assert_eq(got("200", "GET"), 6);
	cr_assert_eq(got("409", "PATCH"), 3);
	/* ...and the next one adds what it grew by since the largest seen. */
	tw_stats(&w, RQS(RQ("200", "GET", 9) "," RQ("409", "PATCH", 3)));
	PUMP_UNTIL(got("200", "GET") == 9);
	cr_assert_eq(got("409", "PATCH"), 3);
	tw_close(&w);
}

Test(broker, a_restarted_worker_starts_from_zero)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_stats(&w, RQS(RQ("200", "GET", 10)));
	PUMP_UNTIL(got("200", "GET") == 10);
	/* Its supervisor forked a new process: counting starts again from 0,
	 * and every one of its requests is added. */
	tw_close(&w);
	struct tw again = connect_worker(0, 101);
	tw_stats(&again, RQS(RQ("200", "GET", 3)));
	PUMP_UNTIL(got("200", "GET") == 13);
	/* Saying READY again (a watcher outage) is the same process: its next
	 * report adds only its growth. */
	tw_ready(&again);
	tw_stats(&again, RQS(RQ("200", "GET", 4)));
	PUMP_UNTIL(got("200", "GET") == 14);
	settle(&again);
	cr_assert_eq(got("200", "GET"), 14);
	tw_close(&again);
}

Test(broker, a_new_process_on_a_reused_routing_id_starts_from_zero)
{
	struct tw w = connect_worker_as("ia", 0, 100, 0);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_stats(&w, RQS(RQ("200", "GET", 10)));
	PUMP_UNTIL(got("200", "GET") == 10);
	/* The pid came round: the same id, but the READY's restart count says
	 * another process. */
	w.restarts = 1;
	tw_ready(&w);
	tw_stats(&w, RQS(RQ("200", "GET", 2)));
	PUMP_UNTIL(got("200", "GET") == 12);
	tw_close(&w);
}

Test(broker, stats_of_unknown_families_or_labels_are_ignored_and_logged_once)
{
	capture_log();
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	const char *mixed = "{\"rest_client_rate_limiter_duration_seconds_total\":[{\"labels\":{},\"value\":3}],"
			    "\"" REST "\":[" RQ("200", "GET", 2) "]}";
	tw_stats(&w, mixed);
	PUMP_UNTIL(got("200", "GET") == 2);
	cr_assert_eq(counter_calls, 1, "only the known family");
	tw_stats(&w,
		 "{\"" REST "\":[{\"labels\":{\"code\":\"200\",\"verb\":\"GET\",\"host\":\"h:6443\"},\"value\":9}]}");
	tw_stats(&w, "{\"" REST "\":[{\"labels\":{\"code\":\"200\",\"method\":\"GET\"},\"value\":9}]}");
	tw_stats(&w,
		 "{\"" REST "\":[{\"labels\":{\"code\":\"200\",\"method\":\"GET\",\"host\":\"h:6443\",\"x\":\"y\"},"
		 "\"value\":9}]}");
	tw_stats(&w, mixed);
	settle(&w);
	cr_assert_eq(counter_calls, 1);
	cr_assert_eq(got("200", "GET"), 2);
	cr_assert_eq(log_lines_with("rest_client_rate_limiter_duration_seconds_total"), 1);
	cr_assert_eq(log_lines_with("do not have the family's label names"), 1);
	release_log();
	tw_close(&w);
}

Test(broker, bad_stats_are_refused_and_stats_of_strangers_ignored)
{
	capture_log();
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	/* Not what proto accepts: logged, nothing counted, the worker stays. */
	const char *bad = "{\"families\":{\"" REST "\":[{\"labels\":{},\"value\":-1}]}}";
	cr_assert_geq(zmq_send(w.sock, "STATS", 5, ZMQ_SNDMORE), 0);
	cr_assert_geq(zmq_send(w.sock, bad, strlen(bad), 0), 0);
	int64_t until = clock_monotonic_ms() + WAIT_MS;
	while (log_lines_with("STATS: family \\\"" REST "\\\" series 0: field \\\"value\\\"") == 0) {
		cr_assert_lt(clock_monotonic_ms(), until, "the bad STATS was not logged");
		pump(10);
	}
	cr_assert_eq(counter_calls, 0);
	cr_assert_eq(broker_workers(b), 1);
	/* A socket that never said READY is nobody: its STATS count nothing. */
	struct tw stranger = { .slot = 5, .pid = 500, .instance = "ia" };
	stranger.sock = zmq_socket(zctx, ZMQ_DEALER);
	int zero = 0;
	zmq_setsockopt(stranger.sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(stranger.sock, ZMQ_ROUTING_ID, "w5-500-ia", 9);
	for (size_t i = 0; i < sizeof(open_socks) / sizeof(open_socks[0]); i++)
		if (!open_socks[i]) {
			open_socks[i] = stranger.sock;
			break;
		}
	cr_assert_eq(zmq_connect(stranger.sock, endpoint), 0);
	tw_stats(&stranger, RQS(RQ("200", "GET", 50)));
	tw_heartbeat(&stranger);
	pump(200);
	cr_assert_eq(counter_calls, 0);
	release_log();
	tw_close(&stranger);
	tw_close(&w);
}

/* A worker's waits on its client-side limiter travel as the two counter
 * families of statset and are handed on, not ignored. */
Test(broker, stats_carry_the_rate_limiter_families)
{
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	tw_stats(&w,
		 "{\"" STATSET_LIMITER_BUCKET "\":[{\"labels\":{\"verb\":\"GET\",\"host\":\"h:6443\",\"le\":\"0.005\"},"
		 "\"value\":4}],\"" STATSET_LIMITER_SUM_US "\":[{\"labels\":{\"verb\":\"GET\",\"host\":\"h:6443\"},"
		 "\"value\":1500}]}");
	const char *const bucket[] = { "GET", "h:6443", "0.005" };
	const char *const sum[] = { "GET", "h:6443" };
	PUMP_UNTIL(statset_value(counted, STATSET_LIMITER_BUCKET, statset_limiter_bucket_labels, bucket) == 4 &&
		   statset_value(counted, STATSET_LIMITER_SUM_US, statset_limiter_sum_labels, sum) == 1500);
	tw_close(&w);
}

/* ---------------------------------------------------------------- the job observer (watcher/echo.h) */

static char observed[16][160]; /* "started key" / "finished key writes" */
static size_t n_observed;
static bool add_on_finish; /* the observer adds the key again, as a held event that is not an echo does */

static void obs_started(void *ud, const char *key)
{
	(void)ud;
	if (n_observed < 16)
		snprintf(observed[n_observed++], sizeof(observed[0]), "started %s", key);
}

static void obs_finished(void *ud, const char *key, struct json_object *writes)
{
	(void)ud;
	if (n_observed < 16)
		snprintf(observed[n_observed++], sizeof(observed[0]), "finished %s %s", key,
			 writes ? json_object_to_json_string_ext(writes, JSON_C_TO_STRING_PLAIN) : "NULL");
	if (add_on_finish)
		cr_assert_eq(workqueue_add(q, key, now), 0);
}

static void send_result_writes(struct tw *w, uint64_t job, int attempt, enum proto_outcome outcome,
			       struct json_object *writes)
{
	struct proto_frame f = { 0 };
	struct proto_result r = { .job = job,
				  .attempt = attempt,
				  .outcome = outcome,
				  .writes = writes,
				  .message = outcome == PROTO_OUTCOME_ERROR ? "hook failed" : "" };
	cr_assert_eq(proto_encode_result(&r, &f, NULL), 0);
	tw_send(w, &f);
	proto_frame_clear(&f);
}

#define WRITES "[{\"kind\":\"ConfigMap.v1\",\"namespace\":\"ns\",\"name\":\"a\",\"resourceVersion\":\"7\"}]"

/* Told at handout and at the end, with the RESULT's writes for a sync that
 * succeeded and NULL for one that failed. */
Test(broker, the_job_observer_is_told_of_each_job_and_its_writes)
{
	n_observed = 0;
	add_on_finish = false;
	broker_set_job_observer(b, &(struct broker_job_observer){ obs_started, obs_finished, NULL });
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job;
	int attempt;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	cr_assert_eq(n_observed, 1);
	cr_assert_str_eq(observed[0], "started ctl/ns/a");
	struct json_object *writes = json_tokener_parse(WRITES);
	send_result_writes(&w, job, attempt, PROTO_OUTCOME_OK, writes);
	PUMP_UNTIL(n_observed == 2);
	cr_assert_str_eq(observed[1], "finished ctl/ns/a " WRITES);

	add("ctl/ns/a");
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result_writes(&w, job, attempt, PROTO_OUTCOME_ERROR, writes);
	PUMP_UNTIL(n_observed == 4);
	cr_assert_str_eq(observed[3], "finished ctl/ns/a NULL", "a failed job's writes are not echoes to drop");
	json_object_put(writes);
	broker_set_job_observer(b, NULL);
	tw_close(&w);
}

/* finished comes while the key is still in flight: a key the observer adds
 * then is dirty, and handed out again once the job is done (the work
 * queue's rule for an event in flight), exactly once. */
Test(broker, a_key_added_when_its_job_finishes_runs_again)
{
	n_observed = 0;
	add_on_finish = true;
	broker_set_job_observer(b, &(struct broker_job_observer){ obs_started, obs_finished, NULL });
	struct tw w = connect_worker(0, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	uint64_t job, job2;
	int attempt, attempt2;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job, &attempt);
	send_result_writes(&w, job, attempt, PROTO_OUTCOME_OK, NULL);
	PUMP_UNTIL(n_observed >= 2);
	add_on_finish = false;
	expect_job(&w, "ctl/ns/a", PROTO_JOB_SYNC, &job2, &attempt2);
	cr_assert_neq(job2, job);
	send_result(&w, job2, attempt2, PROTO_OUTCOME_OK, 0);
	expect_no_job(&w);
	broker_set_job_observer(b, NULL);
	tw_close(&w);
}

/* A lost job (its worker died) finishes with no writes. */
Test(broker, a_lost_job_finishes_without_writes)
{
	n_observed = 0;
	add_on_finish = false;
	broker_set_job_observer(b, &(struct broker_job_observer){ obs_started, obs_finished, NULL });
	struct tw old = connect_worker(3, 100);
	PUMP_UNTIL(broker_workers(b) == 1);
	add("ctl/ns/a");
	expect_job(&old, "ctl/ns/a", PROTO_JOB_SYNC, NULL, NULL);
	tw_close(&old);
	struct tw fresh = connect_worker(3, 200);
	PUMP_UNTIL(n_observed >= 2);
	cr_assert_str_eq(observed[1], "finished ctl/ns/a NULL");
	broker_set_job_observer(b, NULL);
	tw_close(&fresh);
}

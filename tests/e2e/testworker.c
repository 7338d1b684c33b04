/* testworker: a stand-in for coxswain-worker that speaks the worker protocol
 * (common/proto, docs/architecture.md §5) and runs no hooks, for the watcher's
 * end-to-end tests (tests/e2e/test_watcher.sh).
 *
 * It connects a DEALER with routing id "w<slot>-<pid>" to the watcher's
 * endpoint, says READY, heartbeats every second (and says READY again when
 * the watcher has been silent for 3 s, as the real worker does), and for
 * each JOB holds it for a random 0..--hold-ms ms, then answers RESULT ok and
 * appends one line to --log:
 *
 *   <unix ms start> <unix ms end> <key> <job id> <attempt> <pid> <generation> <kind>
 *
 * (start: the JOB arrived; end: just before the RESULT is sent; generation:
 * the parent's metadata.generation as the job carried it; kind: sync or
 * poison). Each line is one write(2) on an O_APPEND file.
 *
 * READY carries --instance ID (default "testworker": all test workers look
 * like one supervisor's) and --restarts N (default 0), as the real worker
 * carries its supervisor's instance id and its slot's restart count.
 *
 * --curve-secret-key FILE and --curve-server-key FILE make it a CURVE
 * client (common/curvekey.h files), as the real worker with worker.curve.
 * --set NAME is READY's worker set. --forge-results N plays an intruder:
 * every second it also sends RESULT ok for job ids 1..N, attempts 1 and 2,
 * as if it had done them; its sends never block (a watcher that does not
 * let it in leaves it no connection to send on).
 *
 * --exit-after-jobs N simulates a crash: on receiving its Nth job it prints
 * "testworker: exiting while holding job <id> key <key>" to stderr and exits
 * at once, without a RESULT.
 *
 * Protocol errors are loud: anything undecodable, a message that travels
 * the wrong way, or a JOB while one is held (the watcher must only hand jobs
 * to idle workers) is printed as "testworker: PROTOCOL ERROR: ..." on stderr,
 * and the exit status is then 2. SIGTERM/SIGINT end it (status 0 when there
 * was no protocol error). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "curvekey.h"
#include "err.h"
#include "proto.h"

#define HEARTBEAT_MS 1000
#define SILENT_MS    (3 * HEARTBEAT_MS)

static volatile sig_atomic_t stopping;
static int protocol_errors;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static int64_t unix_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void protocol_error(const char *what, const char *detail)
{
	fprintf(stderr, "testworker: PROTOCOL ERROR: %s%s\n", what, detail);
	fflush(stderr);
	protocol_errors++;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: testworker --endpoint URL --slot N --log FILE [--hold-ms N] [--exit-after-jobs N]\n"
		"                  [--instance ID] [--restarts N] [--set NAME] [--forge-results N]\n"
		"                  [--curve-secret-key FILE --curve-server-key FILE]\n");
}

static int send_msg(void *sock, const struct proto_frame *f)
{
	if (zmq_send(sock, f->type, strlen(f->type), ZMQ_SNDMORE) < 0 || zmq_send(sock, f->payload, f->len, 0) < 0) {
		fprintf(stderr, "testworker: cannot send %s: %s\n", f->type, zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static const char *instance = "testworker";
static const char *set = "";
static int restarts;

static void send_ready(void *sock, int slot)
{
	struct proto_ready r = {
		.slot = slot, .pid = (int)getpid(), .instance = instance, .restarts = restarts, .set = set
	};
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	if (proto_encode_ready(&r, &f, &err) == 0)
		send_msg(sock, &f);
	else
		fprintf(stderr, "testworker: cannot encode READY: %s\n", err.msg);
	proto_frame_clear(&f);
}

static void send_heartbeat(void *sock)
{
	struct proto_frame f = { 0 };
	if (proto_encode_heartbeat(&f, NULL) == 0)
		send_msg(sock, &f);
	proto_frame_clear(&f);
}

/* The intruder's RESULTs for jobs it never had. */
static void forge_results(void *sock, int n)
{
	for (int job = 1; job <= n; job++)
		for (int attempt = 1; attempt <= 2; attempt++) {
			struct proto_result r = {
				.job = (uint64_t)job, .attempt = attempt, .outcome = PROTO_OUTCOME_OK, .message = ""
			};
			struct proto_frame f = { 0 };
			if (proto_encode_result(&r, &f, NULL) == 0 &&
			    zmq_send(sock, f.type, strlen(f.type), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
				zmq_send(sock, f.payload, f.len, ZMQ_DONTWAIT);
			proto_frame_clear(&f);
		}
}

/* The job being held. */
struct held {
	int on;
	uint64_t job;
	int attempt;
	char key[512];
	char kind[16];
	long long generation;
	int64_t start_unix_ms, release_mono_ms;
};

static long long generation_of(struct json_object *parent)
{
	struct json_object *meta = NULL, *gen = NULL;
	if (parent && json_object_object_get_ex(parent, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "generation", &gen))
		return (long long)json_object_get_int64(gen);
	return 0;
}

static void finish(void *sock, int log_fd, struct held *h)
{
	char line[700];
	int n = snprintf(line, sizeof(line), "%lld %lld %s %llu %d %d %lld %s\n", (long long)h->start_unix_ms,
			 (long long)unix_ms(), h->key, (unsigned long long)h->job, h->attempt, (int)getpid(),
			 h->generation, h->kind);
	if (n > 0 && write(log_fd, line, (size_t)n) != n)
		fprintf(stderr, "testworker: cannot write the log: %s\n", strerror(errno));
	struct proto_result r = { .job = h->job, .attempt = h->attempt, .outcome = PROTO_OUTCOME_OK, .message = "" };
	struct proto_frame f = { 0 };
	struct cx_err err = { 0 };
	if (proto_encode_result(&r, &f, &err) == 0)
		send_msg(sock, &f);
	else
		fprintf(stderr, "testworker: cannot encode RESULT: %s\n", err.msg);
	proto_frame_clear(&f);
	h->on = 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "slot", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'l' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "exit-after-jobs", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ "instance", required_argument, NULL, 'i' },
		{ "restarts", required_argument, NULL, 'r' },
		{ "set", required_argument, NULL, 'S' },
		{ "forge-results", required_argument, NULL, 'F' },
		{ "curve-secret-key", required_argument, NULL, 'K' },
		{ "curve-server-key", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *endpoint = NULL, *log_path = NULL, *secret_file = NULL, *server_file = NULL;
	int slot = -1, hold_ms = 0, exit_after = 0, forge = 0;
	for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 's':
			slot = atoi(optarg);
			break;
		case 'i':
			instance = optarg;
			break;
		case 'r':
			restarts = atoi(optarg);
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'H':
			hold_ms = atoi(optarg);
			break;
		case 'x':
			exit_after = atoi(optarg);
			break;
		case 'S':
			set = optarg;
			break;
		case 'F':
			forge = atoi(optarg);
			break;
		case 'K':
			secret_file = optarg;
			break;
		case 'P':
			server_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (!endpoint || slot < 0 || !log_path || hold_ms < 0 || exit_after < 0 || restarts < 0 ||
	    !proto_instance_valid(instance) || !proto_set_valid(set) || forge < 0 || !secret_file != !server_file ||
	    optind < argc) {
		usage(stderr);
		return 64;
	}
	int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		fprintf(stderr, "testworker: %s: %s\n", log_path, strerror(errno));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	srand((unsigned)(getpid() ^ unix_ms()));

	char id[64];
	snprintf(id, sizeof(id), "w%d-%d", slot, (int)getpid());
	void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
	int zero = 0;
	if (!sock) {
		fprintf(stderr, "testworker: cannot create a ZeroMQ socket\n");
		return 1;
	}
	zmq_setsockopt(sock, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (secret_file) {
		struct curvekey secret, public, server;
		struct cx_err err = { 0 };
		if (curvekey_load_secret(secret_file, &secret, &public, &err) ||
		    curvekey_load_public(server_file, &server, &err)) {
			fprintf(stderr, "testworker: %s\n", err.msg);
			return 1;
		}
		zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server.z85, CURVEKEY_Z85_LEN);
		zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, public.z85, CURVEKEY_Z85_LEN);
		zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret.z85, CURVEKEY_Z85_LEN);
	}
	if (forge) {
		int timeout = 500;
		zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	}
	if (zmq_connect(sock, endpoint) != 0) {
		fprintf(stderr, "testworker: cannot connect to %s: %s\n", endpoint, zmq_strerror(errno));
		return 1;
	}
	fprintf(stderr, "testworker: %s connected to %s\n", id, endpoint);
	send_ready(sock, slot);
	int64_t last_sent = clock_monotonic_ms(), last_heard = clock_monotonic_ms();
	struct held h = { 0 };
	int jobs = 0;
	while (!stopping) {
		int64_t now = clock_monotonic_ms();
		long timeout = 200;
		if (h.on)
			timeout = h.release_mono_ms > now ? (long)(h.release_mono_ms - now) : 0;
		if (timeout > 200)
			timeout = 200;
		zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
		if (zmq_poll(&it, 1, timeout) < 0 && errno != EINTR)
			break;
		while (it.revents & ZMQ_POLLIN) {
			zmq_msg_t type, payload;
			zmq_msg_init(&type);
			zmq_msg_init(&payload);
			if (zmq_msg_recv(&type, sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&type);
				zmq_msg_close(&payload);
				break;
			}
			if (zmq_msg_more(&type))
				zmq_msg_recv(&payload, sock, 0);
			while (zmq_msg_more(&payload)) { /* more than two frames */
				protocol_error("a message of more than two frames", "");
				zmq_msg_close(&payload);
				zmq_msg_init(&payload);
				zmq_msg_recv(&payload, sock, 0);
			}
			last_heard = clock_monotonic_ms();
			struct proto_msg m = { 0 };
			struct cx_err err = { 0 };
			if (proto_decode(zmq_msg_data(&type), zmq_msg_size(&type), zmq_msg_data(&payload),
					 zmq_msg_size(&payload), &m, &err) != 0) {
				protocol_error("undecodable message: ", err.msg);
			} else if (!proto_from_watcher(m.type)) {
				protocol_error("the watcher sent a ", proto_type_name(m.type));
			} else if (m.type == PROTO_JOB) {
				if (h.on) {
					char what[1100];
					snprintf(what, sizeof(what), "a JOB for %s while holding one for ", m.job.key);
					protocol_error(what, h.key);
				} else {
					jobs++;
					h.on = 1;
					h.job = m.job.job;
					h.attempt = m.job.attempt;
					snprintf(h.key, sizeof(h.key), "%s", m.job.key);
					snprintf(h.kind, sizeof(h.kind), "%s", proto_job_kind_name(m.job.kind));
					h.generation = generation_of(m.job.parent);
					h.start_unix_ms = unix_ms();
					h.release_mono_ms = clock_monotonic_ms() +
						(hold_ms > 0 ? rand() % (hold_ms + 1) : 0);
					if (exit_after > 0 && jobs == exit_after) {
						fprintf(stderr, "testworker: exiting while holding job %llu key %s\n",
							(unsigned long long)h.job, h.key);
						fflush(stderr);
						_exit(0);
					}
				}
			} else if (m.type == PROTO_DISCONNECT) {
				fprintf(stderr, "testworker: %s: the watcher said DISCONNECT\n", id);
			}
			proto_msg_clear(&m);
			zmq_msg_close(&type);
			zmq_msg_close(&payload);
		}
		now = clock_monotonic_ms();
		if (h.on && now >= h.release_mono_ms) {
			finish(sock, log_fd, &h);
			last_sent = now;
		}
		if (now - last_heard > SILENT_MS) {
			send_ready(sock, slot); /* a restarted watcher does not know us */
			last_heard = last_sent = now;
		} else if (now - last_sent >= HEARTBEAT_MS) {
			send_heartbeat(sock);
			if (forge)
				forge_results(sock, forge);
			last_sent = now;
		}
	}
	fprintf(stderr, "testworker: %s stopping after %d jobs, %d protocol errors\n", id, jobs, protocol_errors);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	close(log_fd);
	return protocol_errors ? 2 : 0;
}

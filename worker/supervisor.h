/* supervisor: forks one worker process per slot, reaps them and restarts
 * them (docs/architecture.md §1.2 and §7).
 *
 * The supervisor process has no ZeroMQ context, no curl handle and no
 * threads: forking a process that has them is unsafe. Each worker creates
 * its own after the fork, inside the child function.
 *
 * supervisor_run blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP and reads them from a
 * signalfd; it sleeps in poll() until a signal arrives or the next restart
 * (or the drain deadline) is due, so it never spins. It reaps with
 * waitpid(-1, WNOHANG) in a loop: while it runs it owns every child of the
 * process, so nothing else in the process may fork children it expects to
 * wait for itself.
 *
 * A dead slot is restarted: the first time at once, then after the restart
 * backoff (BACKOFF_WORKER_RESTART: 1 s doubling to 60 s) for each further
 * death of that slot; a slot whose worker stayed up healthy_reset_ms starts
 * over (the next death restarts it at once again). More than storm_threshold
 * deaths across all slots within storm_window_ms is a restart storm: logged
 * at error level once per window while it lasts; backing off goes on as
 * before.
 *
 * Each worker gets the read end of a pipe whose write end only the
 * supervisor holds (siblings do not): EOF on it means the supervisor died.
 * Before the child function runs, the child has default signal handlers
 * (see supervisor_child_init for the one exception), an empty signal mask,
 * no signalfd and no other worker's pipe, PR_SET_PDEATHSIG(SIGTERM) set, and
 * has checked that its parent did not die before that took effect. When the
 * child function returns, its value is the worker's exit code (exit(), so
 * atexit handlers and stdio flushing happen as when main returns).
 *
 * SIGTERM, SIGINT or SIGHUP to the supervisor starts a drain (SIGTERM is
 * also what it gets when the watcher that spawned it dies): SIGTERM goes to every
 * worker (they finish their current job and exit), nothing is restarted any
 * more, and workers still running after drain_timeout_ms are SIGKILLed. A
 * second one during a drain SIGKILLs them at once (Ctrl-C
 * twice).
 *
 * Logs (one line per event): "worker started" (info, v=2), "worker crashed"
 * (error: killed by a signal or exit code != 0, with signal and signal_name
 * from strsignal, or exit_code), "worker exited" (warning: exit 0 while not
 * draining, which is unexpected too and restarted), "worker stopped" (info:
 * exit 0, SIGTERM or SIGINT while draining; "worker stopped uncleanly",
 * warning, for anything else then), "worker restart storm" (error, with
 * deaths, window_s, threshold), "worker killed at drain deadline" (warning).
 * Each worker line names slot and pid; deaths add uptime_ms and, outside a
 * drain, restart_in_ms.
 *
 * Metrics: the supervisor has no HTTP server. notify (below) is called on
 * every change with the supervisor, whose counters supervisor_get_stats
 * reads; coxswain-worker can write them where the watcher's /metrics picks
 * them up. */
#ifndef COXSWAIN_SUPERVISOR_H
#define COXSWAIN_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backoff.h"

struct cx_err;
struct supervisor;

/* What a worker process is told about itself. */
struct supervisor_child {
	int slot; /* 0 .. workers-1 */
	/* The read end of the supervisor's pipe, non-blocking and
	 * close-on-exec: poll it with the worker's other descriptors, and exit
	 * when it reports POLLHUP/POLLIN with supervisor_parent_gone() true. */
	int parent_pipe_fd;
	/* The supervisor's instance id (supervisor_instance), for READY. */
	const char *instance;
	/* How many times the slot had been forked before this worker: 0 for
	 * its first; the supervisor's restart count for the slot otherwise. */
	int restarts;
};

/* Runs in the worker process; c lives as long as the process. The return
 * value is the exit code (0-255). */
typedef int (*supervisor_child_fn)(void *ud, const struct supervisor_child *c);

/* Called in the supervisor after each start, death and drain step, for
 * exporting the counters (e.g. writing a metrics file the watcher serves).
 * It must be quick and must not fork, wait for children or create threads. */
typedef void (*supervisor_notify_fn)(void *ud, const struct supervisor *s);

struct supervisor_options {
	int workers;                           /* >= 1: number of slots */
	supervisor_child_fn child;             /* required */
	void *ud;                              /* handed to child and notify */
	supervisor_notify_fn notify;           /* optional */
	struct backoff_params restart_backoff; /* BACKOFF_WORKER_RESTART */
	long healthy_reset_ms;                 /* >= 0; 600000 (10 minutes) */
	int storm_threshold;                   /* >= 1; 10 deaths ... */
	long storm_window_ms;                  /* > 0; ... within 60000 ms */
	long drain_timeout_ms;                 /* >= 0; 25000 (under Kubernetes' 30 s grace period) */
};

/* Fills o with the defaults above; workers = the number of online CPUs
 * (at least 1), child and ud NULL. */
void supervisor_options_init(struct supervisor_options *o);

/* A copy of o, checked, handed out in *out. Returns 0, or with *out NULL and
 * err filled: -EINVAL naming the bad field, -ENOMEM. Nothing is forked yet. */
int supervisor_new(const struct supervisor_options *o, struct supervisor **out, struct cx_err *err);

/* Starts the workers and supervises them until a SIGTERM or SIGINT and the
 * end of the drain that follows. Returns 0 when every worker exited within
 * the drain timeout; -ETIMEDOUT when some had to be SIGKILLed (all are
 * reaped either way: no zombie is left); another negative code, with
 * nothing forked, when the signalfd cannot be set up. Runs once per
 * supervisor (-EINVAL after). The signal mask and the SIGCHLD disposition
 * are restored on return. */
int supervisor_run(struct supervisor *s, struct cx_err *err);

/* The supervisor's instance id: 16 random hex digits made by
 * supervisor_new, which its workers send in READY (common/proto.h) so that
 * the watcher can tell this set of workers from another one using the same
 * slots. Borrowed; lives as long as s. */
const char *supervisor_instance(const struct supervisor *s);

/* Frees *s and sets it to NULL; NULL and *s NULL are fine. */
void supervisor_free(struct supervisor **s);

/* Counters, for logs and metrics. */
struct supervisor_stats {
	size_t starts;   /* forks of workers, first starts included */
	size_t restarts; /* forks after a slot's first */
	size_t deaths;   /* workers reaped while not draining */
	size_t crashes;  /* of those, killed by a signal or exit code != 0 */
	size_t storms;   /* "worker restart storm" lines logged */
	size_t killed;   /* workers SIGKILLed at the end of a drain */
	size_t fork_failures;
	int running;   /* workers alive now */
	bool storming; /* more than storm_threshold deaths in the last window */
	bool draining;
};
void supervisor_get_stats(const struct supervisor *s, struct supervisor_stats *out);
size_t supervisor_restarts(const struct supervisor *s);

/* The pid running in slot, or 0 when it has none (dead, waiting for its
 * restart) or slot is out of range. */
pid_t supervisor_slot_pid(const struct supervisor *s, int slot);

/* What a worker runs first; supervisor_run's fork path already did it
 * before calling the child function, so only a worker started some other
 * way (fork + exec) needs it. Sets PR_SET_PDEATHSIG(SIGTERM), then checks
 * that getppid() is still expected_parent (the parent may have died before
 * prctl took effect: no signal would ever come), and makes parent_pipe_fd
 * non-blocking (-1 = no pipe). Returns 0, -ESRCH when the parent is already
 * gone, or another negative errno.
 *
 * The fork path also resets every signal handler to SIG_DFL and empties the
 * mask, except that a handler *function* for SIGSEGV, SIGBUS, SIGFPE or
 * SIGILL is kept: only crash reporters (AddressSanitizer's) install those,
 * and a worker that crashes should still get its report. */
int supervisor_child_init(int parent_pipe_fd, pid_t expected_parent);

/* For a worker: whether the supervisor is gone, i.e. parent_pipe_fd (non-
 * blocking) reads EOF or fails. Never blocks. */
bool supervisor_parent_gone(int parent_pipe_fd);

#endif

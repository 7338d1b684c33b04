/* hookproc: one long-lived hook process speaking newline-delimited JSON
 * (`exec: {command: [...], persistent: true}`, README "Persistent exec
 * hooks").
 *
 * A request is one line on the process's stdin (JSON without newlines, then
 * '\n'); its answer is the next line on its stdout. Its stderr is read while
 * a request is out, each line logged (log_kv, v=2, "hook stderr"), and its
 * tail kept for the message when the process dies.
 *
 * The process is started on the first call, in its own process group, with
 * PR_SET_PDEATHSIG (SIGKILL), default signal handling and no descriptor of
 * ours but 0, 1 and 2 (our pipe ends are close-on-exec). Then:
 * - it dies while a request is out (EOF on its stdout, EPIPE on its stdin):
 *   that call fails (-EIO, saying how it ended and its stderr tail); the
 *   next call starts a new one;
 * - it does not answer within the call's timeout: its group gets SIGKILL,
 *   it is reaped, the call fails (-ETIMEDOUT); the next call starts anew;
 * - its answer is not a JSON object's line (it does not start with '{' after
 *   blanks), or is longer than line_max: the call fails (-EPROTO, -EFBIG) and
 *   the process is killed, since its stdout is no longer known to be in step
 *   with our requests (a stray print would make every later answer belong
 *   to the request before);
 * - it writes anything while no request is out, or more than one line for
 *   one request: it is killed and started afresh before the next request
 *   (same reason). That is seen when the extra output has reached us by the
 *   time the answer is read or the next request is sent; a line written
 *   later still is taken for the next answer (the protocol has no request
 *   ids), so a hook must write exactly one line per request.
 * Restarts back off: the first start after a failure is at once, the next
 * ones wait HOOKPROC_RESTART (1 s doubling to 30 s) from the last failure,
 * and a call that comes sooner fails at once (-EAGAIN) without starting
 * anything, so a hook that crashes on every request cannot make the worker
 * spin. An answer read in full resets the backoff.
 *
 * A process that died between calls is reaped by the next call (or by
 * hookproc_reap, which hook.c runs over its processes on every hook call),
 * and by hookproc_free, which also kills it: no zombie outlives the next
 * hook call. SIGPIPE is blocked around our writes and the one they raise is
 * taken back, so it never reaches this process.
 *
 * Not thread-safe; like subprocess.h, it needs this process not to reap
 * children behind its back (no waitpid(-1), SIGCHLD not ignored). */
#ifndef COXSWAIN_HOOKPROC_H
#define COXSWAIN_HOOKPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backoff.h"

struct cx_err;
struct hookproc;

/* Restarts after a failure: 1 s doubling to 30 s (the first one is at once). */
#define HOOKPROC_RESTART ((struct backoff_params){ 1000, 2.0, 30000, 0.0 })

struct hookproc_options {
	char *const *argv;  /* command, args..., NULL (copied); argv[0] without '/' is searched in PATH */
	const char *label;  /* for messages and logs: `sync hook "NAME"` (copied) */
	size_t line_max;    /* an answer longer than this is refused (-EFBIG); 0 = no limit */
	size_t stderr_tail; /* bytes of stderr kept for messages */
	const struct backoff_params *restart; /* NULL = HOOKPROC_RESTART */
};

/* What a call cost. */
struct hookproc_stats {
	long long duration_ms; /* the call, start included */
	pid_t pid;             /* the process that got the request; 0 when none did */
	bool started;          /* the call started it (first call, or after a death or kill) */
	int exit_code;         /* when it died in the call: its exit code, else -1 */
	int term_signal;       /* when it died in the call of a signal (ours too), else 0 */
};

/* A stopped process-to-be, nothing started, handed out in *out. Returns 0,
 * or with *out NULL and err filled: -EINVAL (no argv), -ENOMEM. */
int hookproc_new(const struct hookproc_options *o, struct hookproc **out, struct cx_err *err);

/* Kills the process (SIGKILL to its group) if there is one, reaps it, frees
 * everything, sets *p to NULL. NULL and *p NULL are fine. */
void hookproc_free(struct hookproc **p);

/* Sends req (req_len bytes, one line: no '\n' in it) and waits up to
 * timeout_ms (> 0) for the answer line, which goes to *answer (owned,
 * NUL-terminated, without its '\n'; *answer_len its length). now_ms is the
 * caller's monotonic clock, for the restart backoff only (timeouts use the
 * real clock). Returns 0, or with err (messages start with the label):
 *   -ENOENT, -EACCES, -ENOEXEC  the command cannot be started
 *   -EAGAIN     it failed lately and its restart is not due (says when)
 *   -EIO        it died before answering (how, and its stderr tail)
 *   -ETIMEDOUT  no answer in time: killed
 *   -EFBIG      an answer over line_max: killed
 *   -EPROTO     an answer that is not a JSON object's line: killed
 *   -EINVAL     req holds a newline; -ENOMEM
 * stats may be NULL. */
int hookproc_call(struct hookproc *p, const char *req, size_t req_len, int timeout_ms, long long now_ms, char **answer,
		  size_t *answer_len, struct hookproc_stats *stats, struct cx_err *err);

/* Reaps the process if it exited on its own since the last call (logs how).
 * Never blocks. */
void hookproc_reap(struct hookproc *p);

/* The running process's pid, or 0 when none runs (not yet started, or dead
 * and reaped). */
pid_t hookproc_pid(const struct hookproc *p);

/* How many processes were started so far. */
unsigned hookproc_starts(const struct hookproc *p);

#endif

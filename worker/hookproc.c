#include "config.h"

#include "hookproc.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Of stdout read while no request was out, or of stderr after a death,
 * at most this much is taken: a writer that never stops must not hold us. */
#define DRAIN_MAX (1024 * 1024)
/* A stderr line longer than this is logged in pieces. */
#define STDERR_LINE_MAX 4096
/* What is said about a failure, kept for the -EAGAIN message. */
#define WHY_MAX 512

struct hookproc {
	char **argv;
	char *label;
	size_t line_max;
	struct backoff_params restart;

	pid_t pid;                 /* 0: none running */
	int in_fd, out_fd, err_fd; /* our ends, -1 when closed */
	long long started_ms;

	/* stdout read and not yet handed out: the answer being read. */
	char *out;
	size_t out_len, out_cap;

	/* The last stderr_cap bytes of its stderr, for messages. */
	char *tail;
	size_t tail_len, tail_cap;
	bool tail_truncated;
	/* The stderr line being read, logged when its '\n' comes. */
	char line[STDERR_LINE_MAX];
	size_t line_len;

	/* How it ended, once reaped (for messages and stats). */
	int status;

	unsigned starts;
	unsigned failures;       /* calls failed in a row */
	long long next_start_ms; /* no start before this (when failures >= 2) */
	char why[WHY_MAX];       /* the last failure's message */
};

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* ---- stderr: logged a line at a time, its tail kept ---- */

static void log_line(struct hookproc *p)
{
	if (!p->line_len)
		return;
	char pid[32], flat[STDERR_LINE_MAX + 1];
	snprintf(pid, sizeof(pid), "%ld", (long)p->pid);
	subprocess_one_line(p->line, p->line_len, flat, sizeof(flat));
	log_kv(LOG_LEVEL_INFO, 2, "hook stderr", "hook", p->label, "pid", pid, "line", flat, NULL);
	p->line_len = 0;
}

static void stderr_add(struct hookproc *p, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || p->line_len == sizeof(p->line)) {
			log_line(p);
			if (buf[i] == '\n')
				continue;
		}
		p->line[p->line_len++] = buf[i];
	}
	if (p->tail_cap)
		subprocess_tail_add(p->tail, &p->tail_len, p->tail_cap, &p->tail_truncated, buf, n);
}

/* Reads what its stderr holds now, up to limit bytes. EOF closes it. */
static void stderr_read(struct hookproc *p, size_t limit)
{
	char buf[4096];
	size_t taken = 0;
	while (p->err_fd >= 0 && taken < limit) {
		ssize_t n = read(p->err_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			close_fd(&p->err_fd);
			break;
		}
		if (n < 0)
			break;
		stderr_add(p, buf, (size_t)n);
		taken += (size_t)n;
	}
}

/* Appends ": <stderr tail>" to err, through subprocess's own formatting. */
static void add_stderr(const struct hookproc *p, struct cx_err *err)
{
	struct subprocess_result r = { .err = p->tail, .err_len = p->tail_len, .err_truncated = p->tail_truncated };
	subprocess_err_add_stderr(err, &r);
}

/* "exited with status 3", "killed by signal 9 (Killed)". */
static const char *describe(const struct hookproc *p, char *buf, size_t len)
{
	struct subprocess_result r = {
		.exited = WIFEXITED(p->status),
		.exit_code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : 0,
		.signaled = WIFSIGNALED(p->status),
		.term_signal = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0,
		.core_dumped = WIFSIGNALED(p->status) && WCOREDUMP(p->status),
	};
	return subprocess_describe_exit(&r, buf, len);
}

/* ---- the process ---- */

/* After it was reaped: our ends closed, what it left on stderr logged. */
static void forget(struct hookproc *p)
{
	stderr_read(p, DRAIN_MAX);
	log_line(p);
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	p->out_len = 0;
	p->pid = 0;
}

/* SIGKILL to its group (whatever it started dies too), then reaped. */
static void kill_and_reap(struct hookproc *p)
{
	if (!p->pid)
		return;
	if (kill(-p->pid, SIGKILL) != 0)
		kill(p->pid, SIGKILL);
	int status = 0;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->status = status;
	forget(p);
}

void hookproc_reap(struct hookproc *p)
{
	if (!p || !p->pid)
		return;
	int status = 0;
	pid_t w;
	do
		w = waitpid(p->pid, &status, WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w != p->pid)
		return;
	p->status = status;
	char how[128], pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)p->pid);
	forget(p);
	log_kv(LOG_LEVEL_WARNING, 0, "persistent hook ended between requests; the next request starts it again", "hook",
	       p->label, "pid", pid, "how", describe(p, how, sizeof(how)), NULL);
}

static int start(struct hookproc *p, struct cx_err *err)
{
	char *path = NULL;
	int rc = subprocess_find_program(p->argv[0], &path, err);
	if (rc)
		return cx_err_wrap(err, rc, "%s: ", p->label);
	struct subprocess_child child;
	if ((rc = subprocess_start(path, p->argv, NULL, true, &child, err))) {
		cx_err_prefix(err, "%s: ", p->label);
		goto out;
	}
	p->starts++;
	int fds[] = { child.in_fd, child.out_fd, child.err_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	pid_t pid = child.pid;
	p->pid = pid;
	p->in_fd = child.in_fd;
	p->out_fd = child.out_fd;
	p->err_fd = child.err_fd;
	p->out_len = 0;
	p->tail_len = 0;
	p->tail_truncated = false;
	p->line_len = 0;
	p->status = 0;
	p->started_ms = clock_monotonic_ms();
	char pid_s[32];
	snprintf(pid_s, sizeof(pid_s), "%ld", (long)pid);
	log_kv(LOG_LEVEL_INFO, 2, "persistent hook started", "hook", p->label, "pid", pid_s, NULL);
out:
	free(path);
	return rc;
}

/* Before a request: anything it wrote on stdout since its last answer, or
 * its stdout closed, means it is out of step or going: it is replaced. */
static void check_idle(struct hookproc *p)
{
	hookproc_reap(p);
	if (!p->pid)
		return;
	stderr_read(p, DRAIN_MAX);
	char buf[4096];
	ssize_t n;
	do
		n = read(p->out_fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (p->out_len == 0 && n < 0 && errno == EAGAIN)
		return;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)p->pid);
	log_kv(LOG_LEVEL_WARNING, 0,
	       n == 0 ? "persistent hook closed its stdout; starting it again"
		      : "persistent hook wrote outside an answer (one line per request); starting it again",
	       "hook", p->label, "pid", pid, NULL);
	kill_and_reap(p);
}

/* ---- a call ---- */

/* Makes room for 4 KiB more stdout. */
static int out_reserve(struct hookproc *p)
{
	if (p->out_cap - p->out_len >= 4096)
		return 0;
	size_t cap = p->out_cap ? p->out_cap * 2 : 16384;
	char *grown = realloc(p->out, cap + 1);
	if (!grown)
		return -ENOMEM;
	p->out = grown;
	p->out_cap = cap;
	return 0;
}

/* After its stdout or stdin closed in a call: it is going. Waits for it to
 * exit until the deadline (reading stderr meanwhile), then kills it. */
static void await_exit(struct hookproc *p, long long deadline)
{
	close_fd(&p->in_fd);
	for (;;) {
		int status = 0;
		pid_t w = waitpid(p->pid, &status, WNOHANG);
		if (w == p->pid) {
			p->status = status;
			forget(p);
			return;
		}
		if (w < 0 && errno != EINTR)
			break;
		long long left = deadline - clock_monotonic_ms();
		if (left <= 0)
			break;
		struct pollfd fd = { .fd = p->err_fd, .events = POLLIN };
		if (poll(&fd, p->err_fd >= 0 ? 1 : 0, left < 10 ? (int)left : 10) > 0)
			stderr_read(p, DRAIN_MAX);
	}
	kill_and_reap(p);
}

enum outcome { GOT_LINE, EARLY, DIED, TIMED_OUT, TOO_LONG, FAILED };

/* Writes req and '\n', reads up to the first '\n' of stdout. */
static enum outcome exchange(struct hookproc *p, const char *req, size_t req_len, long long deadline, size_t *nl,
			     int *sys_errno)
{
	size_t sent = 0, total = req_len + 1;
	size_t scanned = 0;
	for (;;) {
		const char *at = p->out_len > scanned ? memchr(p->out + scanned, '\n', p->out_len - scanned) : NULL;
		if (at) {
			*nl = (size_t)(at - p->out);
			if (*nl > p->line_max && p->line_max)
				return TOO_LONG;
			/* An answer before the whole request was read: the rest
			 * of it would run into the next request. */
			return sent < total ? EARLY : GOT_LINE;
		}
		scanned = p->out_len;
		if (p->line_max && p->out_len > p->line_max)
			return TOO_LONG;
		long long left = deadline - clock_monotonic_ms();
		if (left <= 0)
			return TIMED_OUT;
		struct pollfd fds[3];
		int nfds = 0, at_in = -1, at_out, at_err = -1;
		if (sent < total && p->in_fd >= 0) {
			at_in = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->in_fd, .events = POLLOUT };
		}
		at_out = nfds;
		fds[nfds++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
		if (p->err_fd >= 0) {
			at_err = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
		}
		int n = poll(fds, (nfds_t)nfds, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno != EINTR) {
			*sys_errno = errno;
			return FAILED;
		}
		if (n <= 0)
			continue;
		if (at_err >= 0 && fds[at_err].revents)
			stderr_read(p, 65536);
		if (at_in >= 0 && fds[at_in].revents) {
			struct iovec iov[2];
			int iovcnt = 0;
			if (sent < req_len)
				iov[iovcnt++] = (struct iovec){ .iov_base = (char *)req + sent,
								.iov_len = req_len - sent };
			iov[iovcnt++] = (struct iovec){ .iov_base = "\n", .iov_len = 1 };
			ssize_t w = writev(p->in_fd, iov, iovcnt);
			if (w > 0)
				sent += (size_t)w;
			else if (w < 0 && errno != EAGAIN && errno != EINTR)
				return DIED; /* EPIPE: it closed its stdin or exited */
		}
		if (fds[at_out].revents) {
			if (out_reserve(p)) {
				*sys_errno = ENOMEM;
				return FAILED;
			}
			ssize_t r = read(p->out_fd, p->out + p->out_len, p->out_cap - p->out_len);
			if (r == 0)
				return DIED;
			if (r > 0)
				p->out_len += (size_t)r;
			else if (errno != EAGAIN && errno != EINTR) {
				*sys_errno = errno;
				return FAILED;
			}
		}
	}
}

/* Counts a failed call for the restart backoff and keeps its message. */
static int failed(struct hookproc *p, int rc, long long now_ms, const struct cx_err *err)
{
	p->failures++;
	if (p->failures >= 2)
		p->next_start_ms = now_ms + backoff_delay_ms(&p->restart, p->failures - 2, 0.0);
	if (err)
		snprintf(p->why, sizeof(p->why), "%.*s", (int)sizeof(p->why) - 1, err->msg);
	return rc;
}

int hookproc_call(struct hookproc *p, const char *req, size_t req_len, int timeout_ms, long long now_ms, char **answer,
		  size_t *answer_len, struct hookproc_stats *stats, struct cx_err *err)
{
	struct hookproc_stats own;
	struct hookproc_stats *st = stats ? stats : &own;
	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	*answer = NULL;
	*answer_len = 0;
	if (memchr(req, '\n', req_len))
		return cx_err_set(err, -EINVAL, "%s: the request holds a newline (it must be one line)", p->label);
	long long t0 = clock_monotonic_ms();
	long long deadline = t0 + (timeout_ms > 0 ? timeout_ms : 10000);
	char buf[128];

	check_idle(p);
	if (!p->pid) {
		if (p->failures >= 2 && now_ms < p->next_start_ms) {
			long long wait = p->next_start_ms - now_ms;
			return cx_err_set(err, -EAGAIN,
					  "%s: not started again yet (next start in %.1f s, after %u "
					  "failures in a row); last failure: %s",
					  p->label, wait / 1000.0, p->failures, p->why);
		}
		int rc = start(p, err);
		if (rc)
			return failed(p, rc, now_ms, err);
		st->started = true;
	}
	st->pid = p->pid;

	/* A hook that exits or closes its stdin makes our write raise SIGPIPE,
	 * whose default kills us: blocked here, and the one we cause is taken
	 * back (not one that was already pending). */
	sigset_t pipe_set, old_mask, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
	sigemptyset(&pending);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE) == 1;

	size_t nl = 0;
	int sys_errno = 0;
	enum outcome o = exchange(p, req, req_len, deadline, &nl, &sys_errno);

	if (!was_pending) {
		sigemptyset(&pending);
		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
			struct timespec zero = { 0, 0 };
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);

	int rc = 0;
	switch (o) {
	case GOT_LINE: {
		size_t len = nl, i = 0;
		if (len && p->out[len - 1] == '\r')
			len--;
		while (i < len && (p->out[i] == ' ' || p->out[i] == '\t'))
			i++;
		if (i == len || p->out[i] != '{') {
			char head[120];
			subprocess_one_line(p->out, len < 100 ? len : 100, head, sizeof(head));
			rc = cx_err_set(err, -EPROTO,
					"%s: answered a line that is not a JSON object (\"%s%s\"); "
					"killed it, its next answers could be out of step",
					p->label, head, len > 100 ? "..." : "");
			kill_and_reap(p);
			break;
		}
		if (!(*answer = malloc(len + 1))) {
			rc = cx_err_set(err, -ENOMEM, "%s: out of memory", p->label);
			break;
		}
		memcpy(*answer, p->out, len);
		(*answer)[len] = '\0';
		*answer_len = len;
		size_t rest = p->out_len - nl - 1;
		memmove(p->out, p->out + nl + 1, rest);
		p->out_len = rest;
		/* More than one line: replaced before the next request. */
		if (rest)
			check_idle(p);
		break;
	}
	case EARLY:
		kill_and_reap(p);
		rc = cx_err_set(err, -EPROTO, "%s: answered before reading the whole request line; killed it",
				p->label);
		break;
	case DIED:
		await_exit(p, deadline);
		st->exit_code = WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
		st->term_signal = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
		rc = cx_err_set(err, -EIO, "%s: the persistent process %s before answering", p->label,
				describe(p, buf, sizeof(buf)));
		if (!p->tail_len && err)
			snprintf(err->msg + strlen(err->msg), sizeof(err->msg) - strlen(err->msg),
				 " (nothing on stderr)");
		else
			add_stderr(p, err);
		break;
	case TIMED_OUT:
		kill_and_reap(p);
		st->term_signal = SIGKILL;
		rc = cx_err_set(err, -ETIMEDOUT, "%s: no answer within its %g s timeout; killed it", p->label,
				(timeout_ms > 0 ? timeout_ms : 10000) / 1000.0);
		add_stderr(p, err);
		break;
	case TOO_LONG:
		kill_and_reap(p);
		rc = cx_err_set(err, -EFBIG, "%s: answered a line longer than %zu bytes; killed it", p->label,
				p->line_max);
		break;
	case FAILED:
		kill_and_reap(p);
		rc = cx_err_set(err, -sys_errno, "%s: talking to the persistent process: %s", p->label,
				strerror(sys_errno));
		break;
	}
	st->duration_ms = clock_monotonic_ms() - t0;
	/* One big answer does not keep its buffer for the process's life. */
	if (p->out_cap > 1024 * 1024 && !p->out_len) {
		free(p->out);
		p->out = NULL;
		p->out_cap = 0;
	}
	if (rc)
		return failed(p, rc, now_ms, err);
	p->failures = 0;
	return 0;
}

/* ---- the object ---- */

int hookproc_new(const struct hookproc_options *o, struct hookproc **out, struct cx_err *err)
{
	*out = NULL;
	if (!o->argv || !o->argv[0] || !*o->argv[0])
		return cx_err_set(err, -EINVAL, "%s: exec hook without a command", o->label ? o->label : "hook");
	struct hookproc *p = calloc(1, sizeof(*p));
	size_t n = 0;
	while (o->argv[n])
		n++;
	if (!p)
		goto oom;
	p->in_fd = p->out_fd = p->err_fd = -1;
	p->line_max = o->line_max;
	p->restart = o->restart ? *o->restart : HOOKPROC_RESTART;
	p->tail_cap = o->stderr_tail;
	if (!(p->argv = calloc(n + 1, sizeof(*p->argv))) || !(p->label = strdup(o->label ? o->label : o->argv[0])) ||
	    !(p->tail = malloc(p->tail_cap + 1)))
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (!(p->argv[i] = strdup(o->argv[i])))
			goto oom;
	int r = backoff_params_check(&p->restart, err);
	if (r) {
		hookproc_free(&p);
		return r;
	}
	*out = p;
	return 0;
oom:
	hookproc_free(&p);
	return cx_err_set(err, -ENOMEM, "out of memory");
}

void hookproc_free(struct hookproc **pp)
{
	struct hookproc *p = pp ? *pp : NULL;
	if (!p)
		return;
	kill_and_reap(p);
	for (size_t i = 0; p->argv && p->argv[i]; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->label);
	free(p->out);
	free(p->tail);
	free(p);
	*pp = NULL;
}

pid_t hookproc_pid(const struct hookproc *p)
{
	return p->pid;
}

unsigned hookproc_starts(const struct hookproc *p)
{
	return p->starts;
}

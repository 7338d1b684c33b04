#include "config.h"

#include "subprocess.h"
#include "clock.h"
#include "err.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One write to its stdin: bounded so a poll round also gets to its output. */
#define WRITE_CHUNK 65536
/* After it exited, at most this much more is taken from each pipe: a
 * background child it left writing must not keep us reading forever. */
#define DRAIN_MAX (4 * 1024 * 1024)

/* ---- messages ---- */

size_t subprocess_one_line(const char *src, size_t len, char *dst, size_t dst_len)
{
	size_t n = 0;
	bool space = false;
	if (!dst_len)
		return 0;
	for (size_t i = 0; i < len && n + 1 < dst_len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = n > 0;
			continue;
		}
		if (space && n + 2 < dst_len)
			dst[n++] = ' ';
		space = false;
		dst[n++] = (char)c;
	}
	dst[n] = '\0';
	return n;
}

/* Skips UTF-8 continuation bytes, so a cut never starts inside a character. */
static const char *utf8_start(const char *s, size_t *len)
{
	while (*len && ((unsigned char)*s & 0xc0) == 0x80)
		s++, (*len)--;
	return s;
}

bool subprocess_err_add_stderr(struct cx_err *err, const struct subprocess_result *r)
{
	if (!err || !r->err || !r->err_len)
		return false;
	char *flat = malloc(r->err_len + 1);
	if (!flat)
		return false;
	size_t len = subprocess_one_line(r->err, r->err_len, flat, r->err_len + 1);
	if (!len) {
		free(flat);
		return false;
	}
	size_t used = strlen(err->msg);
	if (used + 2 < sizeof(err->msg)) {
		memcpy(err->msg + used, ": ", 3);
		used += 2;
	}
	size_t room = sizeof(err->msg) - 1 - used;
	const char *shown = flat;
	/* Either cut may start inside a character (the tail is cut in bytes):
	 * the partial one is dropped. */
	if (r->err_truncated || len > room) {
		if (room < 4) {
			free(flat);
			return true;
		}
		size_t keep = len > room - 3 ? room - 3 : len;
		shown = utf8_start(flat + len - keep, &keep);
		len = keep;
		memcpy(err->msg + used, "...", 3);
		used += 3;
	}
	memcpy(err->msg + used, shown, len);
	err->msg[used + len] = '\0';
	free(flat);
	return true;
}

const char *subprocess_describe_exit(const struct subprocess_result *r, char *buf, size_t len)
{
	if (r->signaled)
		snprintf(buf, len, "killed by signal %d (%s)%s", r->term_signal, strsignal(r->term_signal),
			 r->core_dumped ? ", core dumped" : "");
	else
		snprintf(buf, len, "exited with status %d", r->exit_code);
	return buf;
}

/* ---- finding the program ---- */

static bool is_program(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int subprocess_find_program(const char *command, char **out, struct cx_err *err)
{
	*out = NULL;
	if (!command || !*command)
		return cx_err_set(err, -ENOENT, "no command to run");
	if (strchr(command, '/')) {
		struct stat st;
		if (stat(command, &st) != 0) {
			int e = errno;
			return cx_err_set(err, -e, "cannot run %s: %s", command, strerror(e));
		}
		if (S_ISDIR(st.st_mode))
			return cx_err_set(err, -EACCES, "cannot run %s: it is a directory", command);
		if (!S_ISREG(st.st_mode) || access(command, X_OK) != 0)
			return cx_err_set(err, -EACCES, "cannot run %s: %s", command, strerror(EACCES));
		if (!(*out = strdup(command)))
			return cx_err_set(err, -ENOMEM, "out of memory");
		return 0;
	}

	const char *path = getenv("PATH");
	char fallback[256];
	if (!path) {
		size_t n = confstr(_CS_PATH, fallback, sizeof(fallback));
		path = n > 0 && n <= sizeof(fallback) ? fallback : "/bin:/usr/bin";
	}
	for (const char *dir = path;; dir++) {
		size_t len = strcspn(dir, ":");
		char *candidate = NULL;
		if (asprintf(&candidate, "%.*s/%s", len ? (int)len : 1, len ? dir : ".", command) < 0)
			return cx_err_set(err, -ENOMEM, "out of memory");
		if (is_program(candidate)) {
			*out = candidate;
			return 0;
		}
		free(candidate);
		dir += len;
		if (!*dir)
			break;
	}
	return cx_err_set(err, -ENOENT, "not found in PATH");
}

/* ---- starting it ---- */

/* Moves fd above the standard descriptors, so the child's dup2() onto 0-2
 * can never overwrite a descriptor it still has to copy. */
static int above_std(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int e = errno;
	close(fd);
	errno = e;
	return moved;
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Closes every descriptor from `from` up, so the program inherits none of
 * ours (sockets, the API connection). Async-signal-safe: runs after fork. */
static void close_from(int from, int max_fd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)from, ~0U, 0) == 0)
		return;
#endif
	for (int fd = from; fd < max_fd; fd++)
		close(fd);
}

/* The child between fork and exec: only async-signal-safe calls, since the
 * parent may have threads. Any failure is reported as an errno on report_fd
 * (close-on-exec, so a successful exec reports by closing it). */
static void child_exec(const char *program, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
		       int report_fd, int max_fd, pid_t parent)
{
	/* Its own process group, so a timeout kills whatever it started too. */
	setpgid(0, 0);
	/* It dies with us: nobody would read its output or reap it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() != parent)
		_exit(127);
	/* A program starts with default signal handling, not with what we
	 * block or ignore (a SIGPIPE ignored here would be ignored there too,
	 * and subprocess_run blocks SIGPIPE while it runs). */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);

	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	if (report_fd != 3) {
		if (dup3(report_fd, 3, O_CLOEXEC) < 0)
			goto fail;
		report_fd = 3;
	}
	close_from(4, max_fd);
	execve(program, argv, envp);
fail:;
	int e = errno;
	ssize_t unused = write(report_fd, &e, sizeof(e));
	(void)unused;
	_exit(127);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/* A run in progress. */
struct run {
	const struct subprocess_spec *spec;
	struct subprocess_result *res;
	const char *program;
	pid_t pid;
	int in_fd;          /* write end of its stdin, -1 once done feeding it */
	int out_fd, err_fd; /* read ends of its stdout and stderr, -1 once at EOF */
	int pidfd;          /* readable when it exits, or -1 (old kernels): then we poll */
	size_t out_cap;     /* bytes allocated for res->out, without the NUL */
	size_t err_cap;     /* spec->stderr_tail */
	long long start_ms;
};

int subprocess_start(const char *program, char *const argv[], char *const envp[], bool stdin_pipe,
		     struct subprocess_child *child, struct cx_err *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, report[2] = { -1, -1 };
	int rc = 0, e = 0;
	if (stdin_pipe) {
		if (pipe2(in, O_CLOEXEC))
			goto sys_fail;
	} else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		goto sys_fail;
	}
	if (pipe2(out, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || pipe2(report, O_CLOEXEC))
		goto sys_fail;
	int *fds[] = { &in[0], &in[1], &out[0], &out[1], &errp[0], &errp[1], &report[0], &report[1] };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0 && (*fds[i] = above_std(*fds[i])) < 0)
			goto sys_fail;
	/* Only for close_from's fallback, which may not call getrlimit itself
	 * after the fork. */
	struct rlimit nofile = { 0 };
	int max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536 ? (int)nofile.rlim_cur : 65536;

	pid_t self = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		rc = cx_err_set(err, -e, "cannot run %s: fork: %s", program, strerror(e));
		goto out;
	}
	if (pid == 0)
		child_exec(program, argv, envp ? envp : environ, in[0], out[1], errp[1], report[1], max_fd, self);

	/* Also here, so the group exists before we could need to kill it. */
	setpgid(pid, pid);
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&report[1]);
	int child_errno = 0;
	ssize_t n;
	do
		n = read(report[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_errno)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		rc = cx_err_set(err, -child_errno, "cannot run %s: %s", program, strerror(child_errno));
		goto out;
	}
	*child = (struct subprocess_child){ .pid = pid, .in_fd = in[1], .out_fd = out[0], .err_fd = errp[0] };
	in[1] = out[0] = errp[0] = -1;
	goto out;
sys_fail:
	e = errno;
	rc = cx_err_set(err, -e, "cannot run %s: %s", program, strerror(e));
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&report[0]);
	close_fd(&report[1]);
	return rc;
}

static int spawn(struct run *r, struct cx_err *err)
{
	const struct subprocess_spec *spec = r->spec;
	struct subprocess_child child;
	r->start_ms = clock_monotonic_ms();
	int rc = subprocess_start(r->program, spec->argv, spec->envp, spec->stdin_data != NULL, &child, err);
	if (rc)
		return rc;
	/* Fed without blocking: a program that does not read its stdin must not
	 * stop us from reading its stdout or from killing it on time. */
	if (child.in_fd >= 0)
		fcntl(child.in_fd, F_SETFL, fcntl(child.in_fd, F_GETFL) | O_NONBLOCK);
	r->pid = child.pid;
	r->in_fd = child.in_fd;
	r->out_fd = child.out_fd;
	r->err_fd = child.err_fd;
	r->pidfd = open_pidfd(child.pid);
	return 0;
}

/* ---- feeding it and collecting its output ---- */

/* Makes room for at least 4 KiB more stdout. Never realloc(): that would
 * leave an unwiped copy of what may be a credential in freed memory. */
static int out_reserve(struct run *r)
{
	struct subprocess_result *res = r->res;
	if (r->out_cap - res->out_len >= 4096)
		return 0;
	size_t cap = r->out_cap ? r->out_cap * 2 : 16384;
	char *grown = malloc(cap + 1);
	if (!grown)
		return -ENOMEM;
	if (res->out) {
		memcpy(grown, res->out, res->out_len);
		explicit_bzero(res->out, r->out_cap + 1);
		free(res->out);
	}
	res->out = grown;
	r->out_cap = cap;
	return 0;
}

void subprocess_tail_add(char *tail, size_t *len, size_t cap, bool *truncated, const char *buf, size_t n)
{
	if (n >= cap) {
		*truncated = *truncated || *len > 0 || n > cap;
		memcpy(tail, buf + n - cap, cap);
		*len = cap;
		return;
	}
	if (*len + n > cap) {
		size_t drop = *len + n - cap;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
		*truncated = true;
	}
	memcpy(tail + *len, buf, n);
	*len += n;
}

/* Reads once from its stdout (is_out) or stderr. Returns the bytes read; 0
 * at EOF, having closed the descriptor; -EAGAIN when nothing is there yet;
 * -EFBIG when stdout outgrew stdout_max; another -errno. */
static ssize_t read_some(struct run *r, bool is_out)
{
	int *fd = is_out ? &r->out_fd : &r->err_fd;
	char buf[4096];
	char *dst = buf;
	size_t room = sizeof(buf);
	if (is_out) {
		if (out_reserve(r))
			return -ENOMEM;
		dst = r->res->out + r->res->out_len;
		room = r->out_cap - r->res->out_len;
	}
	ssize_t n;
	do
		n = read(*fd, dst, room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0) {
		close_fd(fd);
		return 0;
	}
	if (!is_out) {
		subprocess_tail_add(r->res->err, &r->res->err_len, r->err_cap, &r->res->err_truncated, buf, (size_t)n);
		return n;
	}
	r->res->out_len += (size_t)n;
	if (r->spec->stdout_max && r->res->out_len > r->spec->stdout_max) {
		r->res->stdout_overflow = true;
		return -EFBIG;
	}
	return n;
}

/* Writes the next chunk of its stdin; closes the pipe when all of it went,
 * or when the program will read no more (EPIPE: it exited or closed its
 * stdin, which is its business, not an error). */
static void write_some(struct run *r)
{
	const struct subprocess_spec *spec = r->spec;
	size_t left = spec->stdin_len - r->res->stdin_written;
	if (left) {
		ssize_t n;
		do
			n = write(r->in_fd, spec->stdin_data + r->res->stdin_written,
				  left > WRITE_CHUNK ? WRITE_CHUNK : left);
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n > 0)
			r->res->stdin_written += (size_t)n;
		else
			left = 0; /* EPIPE or worse: stop feeding it */
	}
	if (!left || r->res->stdin_written == spec->stdin_len)
		close_fd(&r->in_fd);
}

/* After it exited or was killed: takes what is left in the pipes without
 * waiting for EOF, which a child it left running could hold off forever. */
static int drain(struct run *r)
{
	close_fd(&r->in_fd);
	for (int i = 0; i < 2; i++) {
		int *fd = i == 0 ? &r->out_fd : &r->err_fd;
		if (*fd < 0)
			continue;
		fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
		ssize_t n = 0;
		size_t taken = 0;
		while (taken < DRAIN_MAX && (n = read_some(r, i == 0)) > 0)
			taken += (size_t)n;
		close_fd(fd);
		if (taken < DRAIN_MAX && n < 0 && n != -EAGAIN && n != -EFBIG)
			return (int)n;
	}
	return 0;
}

static void set_status(struct run *r, int status, const struct rusage *ru)
{
	struct subprocess_result *res = r->res;
	res->duration_ms = clock_monotonic_ms() - r->start_ms;
	if (WIFEXITED(status)) {
		res->exited = true;
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->signaled = true;
		res->term_signal = WTERMSIG(status);
		res->core_dumped = WCOREDUMP(status);
	}
	res->user_cpu_ms = (long long)ru->ru_utime.tv_sec * 1000 + ru->ru_utime.tv_usec / 1000;
	res->sys_cpu_ms = (long long)ru->ru_stime.tv_sec * 1000 + ru->ru_stime.tv_usec / 1000;
	res->max_rss_kib = ru->ru_maxrss;
}

/* Kills its process group and reaps it. */
static void kill_and_reap(struct run *r)
{
	int status = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	if (kill(-r->pid, SIGKILL) != 0)
		kill(r->pid, SIGKILL);
	r->res->killed = true;
	while (wait4(r->pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	set_status(r, status, &ru);
}

/* Runs it to its end, its timeout or its stdout limit, reaping it in every
 * case (unless someone else reaped it first). Its pipes are served as they
 * become ready: stdin fed, stdout and stderr read (stderr too: a program
 * blocked on a full stderr pipe would never finish its stdout). */
static int collect(struct run *r, struct cx_err *err)
{
	const struct subprocess_spec *spec = r->spec;
	long long deadline = spec->timeout_ms > 0 ? r->start_ms + spec->timeout_ms : 0;
	int rc = 0;
	for (;;) {
		int status = 0;
		struct rusage ru;
		pid_t w;
		do
			w = wait4(r->pid, &status, WNOHANG, &ru);
		while (w < 0 && errno == EINTR);
		if (w < 0) {
			/* ECHILD: something else in this process reaps with waitpid(-1). */
			int e = errno;
			return cx_err_set(err, -e, "waiting for %s: %s", r->program, strerror(e));
		}
		if (w == r->pid) {
			set_status(r, status, &ru);
			break;
		}
		long long left = deadline ? deadline - clock_monotonic_ms() : 60000;
		if (left <= 0) {
			r->res->timed_out = true;
			kill_and_reap(r);
			break;
		}
		struct pollfd fds[5];
		int nfds = 0, at_in = -1, at_out = -1, at_err = -1, at_stop = -1;
		if (spec->interrupt_fd) {
			at_stop = nfds;
			fds[nfds++] = (struct pollfd){ .fd = *spec->interrupt_fd, .events = POLLIN };
		}
		if (r->in_fd >= 0) {
			at_in = nfds;
			fds[nfds++] = (struct pollfd){ .fd = r->in_fd, .events = POLLOUT };
		}
		if (r->out_fd >= 0) {
			at_out = nfds;
			fds[nfds++] = (struct pollfd){ .fd = r->out_fd, .events = POLLIN };
		}
		if (r->err_fd >= 0) {
			at_err = nfds;
			fds[nfds++] = (struct pollfd){ .fd = r->err_fd, .events = POLLIN };
		}
		if (r->pidfd >= 0)
			fds[nfds++] = (struct pollfd){ .fd = r->pidfd, .events = POLLIN };
		/* Without a pidfd nothing wakes us when it exits: look every 10 ms. */
		int wait_ms = (int)(left > 60000 ? 60000 : left);
		if (r->pidfd < 0 && wait_ms > 10)
			wait_ms = 10;
		int n = poll(fds, (nfds_t)nfds, wait_ms);
		if (n < 0 && errno != EINTR) {
			int e = errno;
			kill_and_reap(r);
			return cx_err_set(err, -e, "waiting for %s: poll: %s", r->program, strerror(e));
		}
		if (n <= 0)
			continue;
		if (at_stop >= 0 && fds[at_stop].revents) {
			r->res->interrupted = true;
			kill_and_reap(r);
			break;
		}
		if (at_in >= 0 && fds[at_in].revents)
			write_some(r);
		ssize_t got = 0;
		if (at_out >= 0 && fds[at_out].revents)
			got = read_some(r, true);
		if ((got >= 0 || got == -EAGAIN) && at_err >= 0 && fds[at_err].revents)
			got = read_some(r, false);
		if (got < 0 && got != -EAGAIN) {
			/* -EFBIG is a result (stdout_overflow), not a failure. */
			kill_and_reap(r);
			if (got != -EFBIG)
				rc = (int)got;
			break;
		}
	}
	int drained = drain(r);
	if (!rc)
		rc = drained;
	if (rc)
		return cx_err_set(err, rc, "reading the output of %s: %s", r->program, strerror(-rc));
	return 0;
}

/* ---- the run ---- */

void subprocess_result_clear(struct subprocess_result *r)
{
	if (r->out) {
		explicit_bzero(r->out, r->out_len);
		free(r->out);
	}
	if (r->err) {
		explicit_bzero(r->err, r->err_len);
		free(r->err);
	}
	memset(r, 0, sizeof(*r));
}

int subprocess_run(const struct subprocess_spec *spec, struct subprocess_result *out, struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!spec->argv || !spec->argv[0])
		return cx_err_set(err, -EINVAL, "no program to run (argv is empty)");
	struct run r = {
		.spec = spec,
		.res = out,
		.program = spec->path ? spec->path : spec->argv[0],
		.pid = -1,
		.in_fd = -1,
		.out_fd = -1,
		.err_fd = -1,
		.pidfd = -1,
		.err_cap = spec->stderr_tail,
	};
	if (!(out->err = calloc(1, spec->stderr_tail + 1)) || !(out->out = calloc(1, 1)))
		return cx_err_set(err, -ENOMEM, "out of memory");

	/* A program that exits or closes its stdin before reading it all makes
	 * our write fail with EPIPE and raise SIGPIPE, whose default action
	 * would kill us: block it while we feed it, then take back the one we
	 * caused (not one that was already pending). */
	sigset_t pipe_set, old_mask, pending;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old_mask);
	sigemptyset(&pending);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE) == 1;

	int rc = spawn(&r, err);
	if (!rc)
		rc = collect(&r, err);

	if (!was_pending) {
		sigemptyset(&pending);
		if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
			struct timespec zero = { 0, 0 };
			while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
				;
		}
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);

	close_fd(&r.in_fd);
	close_fd(&r.out_fd);
	close_fd(&r.err_fd);
	close_fd(&r.pidfd);
	if (out->out)
		out->out[out->out_len] = '\0';
	if (out->err)
		out->err[out->err_len] = '\0';
	return rc;
}

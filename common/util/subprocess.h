/* subprocess: run a program to completion, feeding its stdin and collecting
 * its stdout and stderr, with a time limit. What exec credential plugins
 * (execcred) and exec hooks (worker/hook) both need.
 *
 * The program is started with fork + execve, never through a shell, in a
 * process group of its own (a timeout kills the whole group, so whatever it
 * started dies with it), with default signal dispositions, an empty signal
 * mask and no descriptors of ours but 0, 1 and 2. stdin is fed, and stdout
 * and stderr are read, all in one poll() loop, so a program that writes
 * before it has read all its input cannot deadlock with us. Once the program
 * has exited we take what is already in its pipes and return: a background
 * child it left holding them open does not hold us up.
 *
 * The program gets PR_SET_PDEATHSIG (SIGKILL): it does not outlive us.
 *
 * A run needs this process not to reap children behind its back: no
 * waitpid(-1) elsewhere (the worker supervisor does that; workers, which
 * run hooks, do not) and SIGCHLD not set to SIG_IGN (the kernel would reap
 * for us). */
#ifndef COXSWAIN_SUBPROCESS_H
#define COXSWAIN_SUBPROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cx_err;

struct subprocess_spec {
	const char *path;       /* the file to execute; NULL = argv[0] (not searched in PATH) */
	char *const *argv;      /* argv[0], args..., NULL; required */
	char *const *envp;      /* "NAME=value"..., NULL; NULL = our environ as it is now */
	const char *stdin_data; /* NULL = stdin is /dev/null; else stdin_len bytes, then EOF */
	size_t stdin_len;
	size_t stdout_max;  /* more than this on stdout kills it (stdout_overflow); 0 = no limit */
	size_t stderr_tail; /* keep the last this many bytes of stderr; 0 = keep none */
	int timeout_ms;     /* kill its group after this long; <= 0 = no limit */
	/* NULL, or a descriptor (a signalfd, say) whose becoming readable
	 * stops the run: its group is killed and the result says interrupted.
	 * It is polled, never read. Borrowed. */
	const int *interrupt_fd;
};

struct subprocess_result {
	/* How it ended: exactly one of exited and signaled is true. */
	bool exited;
	int exit_code; /* when exited */
	bool signaled;
	int term_signal; /* when signaled (SIGKILL after timed_out / stdout_overflow) */
	bool core_dumped;

	bool timed_out;       /* ran past timeout_ms: we killed its group */
	bool stdout_overflow; /* wrote more than stdout_max bytes on stdout */
	bool interrupted;     /* interrupt_fd became readable: we killed its group */
	bool killed;          /* we SIGKILLed its group (timed_out, interrupted, or stdout_overflow while running) */
	size_t stdin_written; /* < stdin_len when it exited or closed stdin before reading it all */

	/* stdout: owned, NUL-terminated (never NULL after a run), wiped when
	 * freed, since a credential plugin prints its credential there. Holds
	 * more than stdout_max bytes when stdout_overflow. */
	char *out;
	size_t out_len;
	/* The last stderr_tail bytes of stderr: owned, NUL-terminated, raw (may
	 * end inside a character and hold newlines). */
	char *err;
	size_t err_len;
	bool err_truncated; /* earlier stderr bytes were dropped */

	/* What the run cost, for metrics and logs. CPU and RSS come from
	 * wait4(), so they include the descendants it waited for. */
	long long duration_ms; /* fork to reap */
	long long user_cpu_ms;
	long long sys_cpu_ms;
	long max_rss_kib; /* peak resident set of the largest of them */
};

/* Runs spec's program to completion (or to its timeout or stdout limit) and
 * fills *out, which the caller clears with subprocess_result_clear even on
 * failure. Returns 0 when the program ran and was reaped, whatever its exit
 * status: the caller judges exit code, signal, timed_out and stdout_overflow.
 * Returns a negative code with err filled when it could not be run or
 * waited for: the errno of a failed execve (-ENOENT, -EACCES, -ENOEXEC ...)
 * as "cannot run PATH: strerror", or of pipe/fork/poll/wait, or -ENOMEM.
 * Messages name the program; callers put their own context in front
 * (cx_err_prefix).
 *
 * The program exiting or closing its stdin before reading all of it is not
 * an error: the rest is dropped (stdin_written says how much went). SIGPIPE
 * is blocked for the call and the one a broken pipe raises is consumed, so
 * it never reaches this process. */
int subprocess_run(const struct subprocess_spec *spec, struct subprocess_result *out, struct cx_err *err);

/* A program started by subprocess_start, for a caller that talks to it
 * while it runs (worker/hookproc: a persistent hook). The descriptors are
 * the caller's, close-on-exec and blocking. */
struct subprocess_child {
	pid_t pid;
	int in_fd;  /* write end of its stdin; -1 when it reads /dev/null */
	int out_fd; /* read end of its stdout */
	int err_fd; /* read end of its stderr */
};

/* Starts program (a path, as subprocess_find_program finds it) with argv
 * and envp (NULL: ours) as subprocess_run starts its programs: in a process
 * group of its own, killed when this process dies (PR_SET_PDEATHSIG),
 * with default signal handling and none of our descriptors but its three
 * pipes; stdin a pipe when stdin_pipe, else /dev/null. Returns 0, or the
 * errno of a failed pipe, fork or execve as "cannot run PATH: strerror"
 * with nothing left open; the caller reaps out->pid. */
int subprocess_start(const char *program, char *const argv[], char *const envp[], bool stdin_pipe,
		     struct subprocess_child *out, struct cx_err *err);

/* Appends buf (n bytes) to the tail *len bytes long at tail, keeping its
 * last cap bytes (tail holds cap); *truncated becomes true once bytes were
 * dropped. For stderr, whose last lines say why a program stopped. */
void subprocess_tail_add(char *tail, size_t *len, size_t cap, bool *truncated, const char *buf, size_t n);

/* Wipes and frees what r owns and zeroes it. */
void subprocess_result_clear(struct subprocess_result *r);

/* The file to execute for command, owned in *out. Like Go's exec.LookPath
 * (which client-go and metacontroller use): a command with a '/' is used as
 * given; anything else is searched in our PATH, where an empty entry means
 * the working directory. Fails with -ENOENT ("cannot run CMD: No such file
 * or directory", or "not found in PATH"), -EACCES ("cannot run CMD: it is a
 * directory", "... Permission denied") or -ENOMEM. */
int subprocess_find_program(const char *command, char **out, struct cx_err *err);

/* "exited with status 3", "killed by signal 9 (Killed)" or with ", core
 * dumped": how r ended, into buf. Returns buf. */
const char *subprocess_describe_exit(const struct subprocess_result *r, char *buf, size_t len);

/* Copies src (len bytes) into dst as one line, for logs, conditions and
 * Events: control characters become spaces, runs of spaces collapse, both
 * ends are trimmed. Returns the length written (dst_len must be at least
 * 1; the copy is cut to fit). */
size_t subprocess_one_line(const char *src, size_t len, char *dst, size_t dst_len);

/* Appends ": " and r's stderr tail, as one line, to err->msg. When it does
 * not fit (or earlier stderr was dropped) the tail is cut at its front,
 * shown as "...", never inside a UTF-8 character: the last lines a program
 * writes say why it stopped. Returns false, appending nothing, when there is
 * no stderr to show. */
bool subprocess_err_add_stderr(struct cx_err *err, const struct subprocess_result *r);

#endif

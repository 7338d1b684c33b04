/* Unit tests for common/subprocess: running a program with its stdin fed and
 * its stdout and stderr collected, time limits that kill the whole process
 * group, exit codes and signals, exec failures and resource usage. The
 * programs are /bin/sh one-liners, cat and python3. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "subprocess.h"

/* Gone or a zombie waiting for whoever inherited it: either way, killed. */
static bool process_dead(pid_t pid)
{
	char path[64], stat[512] = "";
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return true;
	size_t n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	const char *paren = strrchr(stat, ')');
	return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool wait_dead(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		if (process_dead(pid))
			return true;
		usleep(20000);
	}
	return false;
}

/* Runs `/bin/sh -c script` with stdin (NULL = /dev/null); must succeed. */
static struct subprocess_result sh_run(const char *script, const char *in, size_t in_len, int timeout_ms)
{
	char *argv[] = { "sh", "-c", (char *)script, NULL };
	struct subprocess_spec spec = {
		.path = "/bin/sh",
		.argv = argv,
		.stdin_data = in,
		.stdin_len = in_len,
		.stdout_max = 64 * 1024 * 1024,
		.stderr_tail = 2048,
		.timeout_ms = timeout_ms ? timeout_ms : 20000,
	};
	struct subprocess_result r;
	struct cx_err err = { 0 };
	int rc = subprocess_run(&spec, &r, &err);
	cr_assert_eq(rc, 0, "%d: %s", rc, err.msg);
	cr_assert_not_null(r.out);
	cr_assert_not_null(r.err);
	return r;
}

/* Bytes that differ from position to position, so a reordering or a lost
 * chunk shows. */
static char *pattern(size_t len)
{
	char *p = malloc(len);
	cr_assert_not_null(p);
	unsigned x = 12345;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (char)(x >> 16);
	}
	return p;
}

static bool sigpipe_pending(void)
{
	sigset_t pending;
	sigemptyset(&pending);
	sigpending(&pending);
	return sigismember(&pending, SIGPIPE) == 1;
}

static bool sigpipe_blocked(void)
{
	sigset_t mask;
	sigprocmask(SIG_BLOCK, NULL, &mask);
	return sigismember(&mask, SIGPIPE) == 1;
}

TestSuite(subprocess, .timeout = 60);

/* ---- how it ended ---- */

Test(subprocess, exit_code_zero_and_output)
{
	struct subprocess_result r = sh_run("echo out; echo err >&2", NULL, 0, 0);
	cr_assert(r.exited);
	cr_assert_not(r.signaled);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out, "out\n");
	cr_assert_eq(r.out_len, 4);
	cr_assert_str_eq(r.err, "err\n");
	cr_assert_eq(r.err_len, 4);
	cr_assert_not(r.err_truncated);
	cr_assert_not(r.timed_out);
	cr_assert_not(r.killed);
	cr_assert_not(r.stdout_overflow);
	char how[64];
	cr_assert_str_eq(subprocess_describe_exit(&r, how, sizeof(how)), "exited with status 0");
	subprocess_result_clear(&r);
	cr_assert_null(r.out);
	cr_assert_null(r.err);
	subprocess_result_clear(&r);
}

Test(subprocess, nonzero_exit_codes)
{
	static const int codes[] = { 1, 7, 42, 255 };
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char script[64];
		snprintf(script, sizeof(script), "exit %d", codes[i]);
		struct subprocess_result r = sh_run(script, NULL, 0, 0);
		cr_assert(r.exited);
		cr_assert_eq(r.exit_code, codes[i]);
		cr_assert_eq(r.out_len, 0);
		cr_assert_str_eq(r.out, "", "stdout is \"\", not NULL, when empty");
		char how[64], want[64];
		snprintf(want, sizeof(want), "exited with status %d", codes[i]);
		cr_assert_str_eq(subprocess_describe_exit(&r, how, sizeof(how)), want);
		subprocess_result_clear(&r);
	}
}

Test(subprocess, killed_by_signal)
{
	struct subprocess_result r = sh_run("echo dying >&2; kill -TERM $$", NULL, 0, 0);
	cr_assert_not(r.exited);
	cr_assert(r.signaled);
	cr_assert_eq(r.term_signal, SIGTERM);
	cr_assert_not(r.killed, "the program killed itself; we did not");
	char how[64];
	cr_assert_str_eq(subprocess_describe_exit(&r, how, sizeof(how)), "killed by signal 15 (Terminated)");
	cr_assert_str_eq(r.err, "dying\n");
	subprocess_result_clear(&r);

	r = sh_run("kill -KILL $$", NULL, 0, 0);
	cr_assert(r.signaled);
	cr_assert_eq(r.term_signal, SIGKILL);
	subprocess_result_clear(&r);
}

/* ---- stdin and stdout ---- */

Test(subprocess, big_stdin_and_big_stdout_at_once)
{
	/* cat writes as it reads: 8 MiB each way, far beyond what a pipe holds.
	 * Feeding stdin to the end before reading stdout would deadlock. */
	size_t len = 8 * 1024 * 1024;
	char *in = pattern(len);
	struct subprocess_result r = sh_run("exec cat", in, len, 0);
	cr_assert(r.exited);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_eq(r.stdin_written, len);
	cr_assert_eq(r.out_len, len);
	cr_assert_eq(memcmp(r.out, in, len), 0, "stdout is stdin, byte for byte");
	cr_assert_eq(r.out[len], '\0', "NUL-terminated");
	subprocess_result_clear(&r);
	free(in);
}

Test(subprocess, writes_stdout_before_reading_stdin)
{
	/* 1 MiB out before it reads a byte of its 4 MiB in. */
	size_t len = 4 * 1024 * 1024;
	char *in = pattern(len);
	struct subprocess_result r = sh_run("head -c 1048576 /dev/zero; wc -c", in, len, 0);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_eq(r.out_len, 1048576 + strlen("4194304\n"), "%zu", r.out_len);
	cr_assert_str_eq(r.out + 1048576, "4194304\n");
	subprocess_result_clear(&r);
	free(in);
}

Test(subprocess, stdin_is_dev_null_without_data)
{
	struct subprocess_result r = sh_run("readlink /proc/$$/fd/0; cat | wc -c", NULL, 0, 0);
	cr_assert_str_eq(r.out, "/dev/null\n0\n");
	subprocess_result_clear(&r);
}

Test(subprocess, empty_stdin_is_a_pipe_at_eof)
{
	struct subprocess_result r = sh_run("readlink /proc/$$/fd/0 | cut -c1-5; cat | wc -c", "", 0, 0);
	cr_assert_str_eq(r.out, "pipe:\n0\n");
	subprocess_result_clear(&r);
}

Test(subprocess, stdin_closed_early_is_no_sigpipe_for_us)
{
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE reaching us would kill the test */
	size_t len = 8 * 1024 * 1024;
	char *in = pattern(len);
	/* It lives on after closing stdin, so our next write meets EPIPE. */
	struct subprocess_result r = sh_run("exec 0<&-; sleep 0.3; echo closed", in, len, 0);
	cr_assert(r.exited);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out, "closed\n");
	cr_assert_lt(r.stdin_written, len, "the rest was dropped");
	subprocess_result_clear(&r);

	/* Reads a little, then exits with the pipe still full. */
	r = sh_run("head -c 10 >/dev/null; exec 0<&-; sleep 0.3; echo read-ten", in, len, 0);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out, "read-ten\n");
	cr_assert_lt(r.stdin_written, len);
	subprocess_result_clear(&r);

	cr_assert_not(sigpipe_pending(), "the SIGPIPE we caused was taken back");
	cr_assert_not(sigpipe_blocked(), "the signal mask is restored");
	free(in);
}

Test(subprocess, keeps_a_caller_blocked_sigpipe_blocked_and_pending)
{
	sigset_t pipe_set;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &pipe_set, NULL), 0);
	cr_assert_eq(raise(SIGPIPE), 0);
	cr_assert(sigpipe_pending());
	size_t len = 1024 * 1024;
	char *in = pattern(len);
	struct subprocess_result r = sh_run("exec 0<&-; sleep 0.2", in, len, 0);
	cr_assert_eq(r.exit_code, 0);
	subprocess_result_clear(&r);
	cr_assert(sigpipe_blocked());
	cr_assert(sigpipe_pending(), "a SIGPIPE that was not ours is left alone");
	free(in);
}

Test(subprocess, stdout_limit_kills_it)
{
	char *argv[] = { "yes", NULL };
	struct subprocess_spec spec = {
		.path = "/usr/bin/yes",
		.argv = argv,
		.stdout_max = 65536,
		.stderr_tail = 64,
		.timeout_ms = 20000,
	};
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert(r.stdout_overflow);
	cr_assert(r.killed);
	cr_assert_not(r.timed_out);
	cr_assert(r.signaled);
	cr_assert_eq(r.term_signal, SIGKILL);
	cr_assert_gt(r.out_len, 65536);
	subprocess_result_clear(&r);
}

Test(subprocess, stdout_limit_after_exit_is_not_a_kill)
{
	/* 40 KiB fits in the pipe: it has exited before we see it is too much. */
	char *argv[] = { "sh", "-c", "head -c 40000 /dev/zero", NULL };
	struct subprocess_spec spec = {
		.path = "/bin/sh",
		.argv = argv,
		.stdout_max = 1000,
		.stderr_tail = 64,
		.timeout_ms = 20000,
	};
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert(r.stdout_overflow);
	cr_assert_gt(r.out_len, 1000);
	if (!r.killed) {
		cr_assert(r.exited);
		cr_assert_eq(r.exit_code, 0);
	}
	subprocess_result_clear(&r);
}

/* ---- stderr ---- */

Test(subprocess, stderr_keeps_its_tail)
{
	struct subprocess_result r = sh_run(
		"i=0; while [ $i -lt 2000 ]; do echo \"line $i\" >&2; i=$((i + 1)); done; echo last >&2", NULL, 0, 0);
	cr_assert_eq(r.err_len, 2048);
	cr_assert(r.err_truncated);
	cr_assert_str_eq(r.err + r.err_len - strlen("line 1999\nlast\n"), "line 1999\nlast\n");
	struct cx_err err = { 0 };
	cx_err_set(&err, -EIO, "hook failed");
	cr_assert(subprocess_err_add_stderr(&err, &r));
	cr_assert_eq(strncmp(err.msg, "hook failed: ...", 16), 0, "%s", err.msg);
	cr_assert_str_eq(err.msg + strlen(err.msg) - strlen("line 1999 last"), "line 1999 last");
	cr_assert_null(strchr(err.msg, '\n'));
	subprocess_result_clear(&r);
}

Test(subprocess, stderr_tail_zero_keeps_none)
{
	char *argv[] = { "sh", "-c", "head -c 300000 /dev/zero >&2; echo ok", NULL };
	struct subprocess_spec spec = { .path = "/bin/sh", .argv = argv, .timeout_ms = 20000 };
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert_str_eq(r.out, "ok\n", "stderr was read (300 KiB would block a writer) but not kept");
	cr_assert_eq(r.err_len, 0);
	cr_assert_str_eq(r.err, "");
	subprocess_result_clear(&r);
}

Test(subprocess, err_add_stderr)
{
	struct subprocess_result r = { 0 };
	struct cx_err err = { 0 };
	cx_err_set(&err, -EIO, "failed");
	cr_assert_not(subprocess_err_add_stderr(&err, &r), "no stderr");
	char blank[] = " \n\t \n";
	r.err = blank;
	r.err_len = strlen(blank);
	cr_assert_not(subprocess_err_add_stderr(&err, &r), "blank stderr is none");
	cr_assert_str_eq(err.msg, "failed");
	char text[] = "\nerror: one\n  two\n";
	r.err = text;
	r.err_len = strlen(text);
	cr_assert(subprocess_err_add_stderr(&err, &r));
	cr_assert_str_eq(err.msg, "failed: error: one two");
	cr_assert_not(subprocess_err_add_stderr(NULL, &r));

	/* Two-byte characters cut at an odd byte: the partial one is dropped. */
	char utf[2049];
	utf[0] = 'x';
	for (int i = 1; i < 2048; i += 2)
		utf[i] = '\xc3', utf[i + 1] = '\xa9';
	r.err = utf;
	r.err_len = 2047;
	r.err_truncated = true;
	cx_err_set(&err, -EIO, "failed");
	cr_assert(subprocess_err_add_stderr(&err, &r));
	cr_assert_eq(strncmp(err.msg, "failed: ...\xc3\xa9", 13), 0, "%.20s", err.msg);
	cr_assert_lt(strlen(err.msg), sizeof(err.msg));
}

Test(subprocess, one_line)
{
	char out[64];
	cr_assert_eq(subprocess_one_line("  a\n\tb  c\r\n", 11, out, sizeof(out)), 5);
	cr_assert_str_eq(out, "a b c");
	cr_assert_eq(subprocess_one_line("abcdef", 6, out, 4), 3);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(subprocess_one_line("", 0, out, sizeof(out)), 0);
	cr_assert_str_eq(out, "");
}

/* ---- time limits ---- */

Test(subprocess, timeout_kills_the_whole_process_group)
{
	char pidfile[] = "/tmp/test_subprocess-XXXXXX";
	int fd = mkstemp(pidfile);
	cr_assert_geq(fd, 0);
	close(fd);
	char script[256];
	/* A grandchild too (sh -> sh -> sleep): killing the program alone
	 * would leave both sleeps behind. */
	snprintf(script, sizeof(script), "echo started >&2; sh -c 'sleep 60 & echo $! >%s; wait' & sleep 60; wait",
		 pidfile);
	double start = clock_monotonic_s();
	struct subprocess_result r = sh_run(script, NULL, 0, 400);
	double took = clock_monotonic_s() - start;
	cr_assert(r.timed_out);
	cr_assert(r.killed);
	cr_assert(r.signaled);
	cr_assert_eq(r.term_signal, SIGKILL);
	cr_assert_geq(took, 0.4, "took %.3f s", took);
	cr_assert_lt(took, 20.0, "took %.3f s", took);
	cr_assert_geq(r.duration_ms, 400);
	cr_assert_str_eq(r.err, "started\n");
	subprocess_result_clear(&r);

	FILE *f = fopen(pidfile, "r");
	cr_assert_not_null(f);
	long pid = 0;
	cr_assert_eq(fscanf(f, "%ld", &pid), 1, "the grandchild wrote its pid");
	fclose(f);
	unlink(pidfile);
	bool dead = wait_dead((pid_t)pid);
	if (!dead)
		kill((pid_t)pid, SIGKILL);
	cr_assert(dead, "the grandchild %ld was killed with its group", pid);
}

Test(subprocess, timeout_while_it_does_not_read_stdin)
{
	size_t len = 4 * 1024 * 1024;
	char *in = pattern(len);
	double start = clock_monotonic_s();
	struct subprocess_result r = sh_run("sleep 60", in, len, 300);
	cr_assert(r.timed_out);
	cr_assert_lt(clock_monotonic_s() - start, 20.0, "a full stdin pipe does not stop the clock");
	cr_assert_lt(r.stdin_written, len);
	subprocess_result_clear(&r);
	free(in);
}

Test(subprocess, does_not_wait_for_children_left_behind)
{
	double start = clock_monotonic_s();
	struct subprocess_result r = sh_run("sleep 30 & echo $!", NULL, 0, 20000);
	cr_assert_lt(clock_monotonic_s() - start, 20.0, "returned when the program exited, not when its child did");
	cr_assert_eq(r.exit_code, 0);
	cr_assert_not(r.killed);
	long pid = strtol(r.out, NULL, 10);
	cr_assert_gt(pid, 0, "%s", r.out);
	kill((pid_t)pid, SIGKILL);
	subprocess_result_clear(&r);
}

Test(subprocess, program_dies_with_us)
{
	char pidfile[] = "/tmp/test_subprocess-XXXXXX";
	int fd = mkstemp(pidfile);
	cr_assert_geq(fd, 0);
	close(fd);
	char script[256];
	snprintf(script, sizeof(script), "echo $$ >%s.tmp && mv %s.tmp %s && exec sleep 60", pidfile, pidfile, pidfile);
	pid_t runner = fork();
	cr_assert_geq(runner, 0);
	if (runner == 0) {
		char *argv[] = { "sh", "-c", script, NULL };
		struct subprocess_spec spec = { .path = "/bin/sh", .argv = argv, .timeout_ms = 60000 };
		struct subprocess_result r;
		subprocess_run(&spec, &r, NULL);
		_exit(0);
	}
	long pid = 0;
	for (int i = 0; i < 1000 && pid <= 0; i++) {
		FILE *f = fopen(pidfile, "r");
		if (!f || fscanf(f, "%ld", &pid) != 1)
			usleep(20000);
		if (f)
			fclose(f);
	}
	cr_assert_gt(pid, 0, "the program started");
	kill(runner, SIGKILL);
	waitpid(runner, NULL, 0);
	unlink(pidfile);
	bool dead = wait_dead((pid_t)pid);
	if (!dead)
		kill((pid_t)pid, SIGKILL);
	cr_assert(dead, "the program %ld died with the process that ran it", pid);
}

/* ---- resource usage ---- */

Test(subprocess, rusage_of_a_cpu_burning_child)
{
	char *argv[] = { "python3", "-c",
			 "import time\nx = bytearray(32 * 1024 * 1024)\n"
			 "while time.process_time() < 0.3:\n    pass\n",
			 NULL };
	char *program = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_find_program("python3", &program, &err), 0, "%s", err.msg);
	struct subprocess_spec spec = { .path = program, .argv = argv, .stderr_tail = 1024, .timeout_ms = 20000 };
	struct subprocess_result r;
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_geq(r.user_cpu_ms + r.sys_cpu_ms, 250, "user %lld ms sys %lld ms", r.user_cpu_ms, r.sys_cpu_ms);
	cr_assert_gt(r.user_cpu_ms, 100, "%lld", r.user_cpu_ms);
	cr_assert_gt(r.max_rss_kib, 32 * 1024, "the 32 MiB it touched: %ld KiB", r.max_rss_kib);
	cr_assert_geq(r.duration_ms, 250);
	subprocess_result_clear(&r);
	free(program);
}

Test(subprocess, rusage_includes_what_it_waited_for)
{
	struct subprocess_result r = sh_run("python3 -c 'import time\nwhile time.process_time() < 0.2:\n    pass\n'",
					    NULL, 0, 0);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_geq(r.user_cpu_ms + r.sys_cpu_ms, 150, "user %lld sys %lld", r.user_cpu_ms, r.sys_cpu_ms);
	subprocess_result_clear(&r);
}

Test(subprocess, rusage_of_an_idle_child_is_small)
{
	struct subprocess_result r = sh_run("sleep 0.2", NULL, 0, 0);
	cr_assert_geq(r.duration_ms, 200);
	cr_assert_lt(r.user_cpu_ms + r.sys_cpu_ms, 150);
	cr_assert_gt(r.max_rss_kib, 0);
	subprocess_result_clear(&r);
}

/* ---- what it is given ---- */

Test(subprocess, env_given_or_inherited)
{
	char *argv[] = { "env", NULL };
	char *envp[] = { "ONLY=this", NULL };
	struct subprocess_spec spec = { .path = "/usr/bin/env", .argv = argv, .envp = envp, .timeout_ms = 20000 };
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert_str_eq(r.out, "ONLY=this\n");
	subprocess_result_clear(&r);

	cr_assert_eq(setenv("SUBPROCESS_TEST_VAR", "inherited", 1), 0);
	r = sh_run("echo \"$SUBPROCESS_TEST_VAR\"", NULL, 0, 0);
	cr_assert_str_eq(r.out, "inherited\n");
	subprocess_result_clear(&r);
}

Test(subprocess, argv_is_passed_verbatim)
{
	char *argv[] = { "my-name",
			 "-c",
			 "printf '%s|' \"$@\"; tr '\\0' '\\n' </proc/$$/cmdline | head -n 2 | tr '\\n' '|'",
			 "zero",
			 "two words",
			 "$HOME",
			 "*",
			 "",
			 NULL };
	struct subprocess_spec spec = { .path = "/bin/sh", .argv = argv, .timeout_ms = 20000 };
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert_str_eq(r.out, "two words|$HOME|*||my-name|-c|");
	subprocess_result_clear(&r);
}

Test(subprocess, no_inherited_descriptors)
{
	int fd = dup2(2, 50);
	cr_assert_eq(fd, 50);
	struct subprocess_result r = sh_run("ls /proc/$$/fd | sort -n | tr '\\n' ' '", NULL, 0, 0);
	cr_assert_eq(strncmp(r.out, "0 1 2 ", 6), 0, "%s", r.out);
	cr_assert_null(strstr(r.out, " 50 "), "%s", r.out);
	subprocess_result_clear(&r);
	close(50);
}

/* ---- it cannot be run ---- */

static int run_fail(const char *path, struct cx_err *err)
{
	char *argv[] = { (char *)path, NULL };
	struct subprocess_spec spec = { .argv = argv, .timeout_ms = 20000 };
	struct subprocess_result r;
	int rc = subprocess_run(&spec, &r, err);
	cr_assert_eq(rc, err->code);
	subprocess_result_clear(&r);
	return rc;
}

Test(subprocess, exec_failure_reports_errno)
{
	struct cx_err err = { 0 };
	cr_assert_eq(run_fail("/nonexistent-dir/prog", &err), -ENOENT);
	cr_assert_str_eq(err.msg, "cannot run /nonexistent-dir/prog: No such file or directory");
	cr_assert_eq(run_fail("/tmp", &err), -EACCES, "%s", err.msg);
	cr_assert(strstr(err.msg, "Permission denied"), "%s", err.msg);

	char path[] = "/tmp/test_subprocess-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "echo not a program\n", 19), 19);
	close(fd);
	cr_assert_eq(chmod(path, 0644), 0);
	cr_assert_eq(run_fail(path, &err), -EACCES, "not executable: %s", err.msg);
	cr_assert_eq(chmod(path, 0755), 0);
	cr_assert_eq(run_fail(path, &err), -ENOEXEC, "neither ELF nor #!: %s", err.msg);
	cr_assert(strstr(err.msg, "Exec format error"), "%s", err.msg);
	unlink(path);
}

Test(subprocess, empty_argv_is_refused)
{
	char *argv[] = { NULL };
	struct subprocess_spec spec = { .argv = argv };
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), -EINVAL);
	subprocess_result_clear(&r);
}

Test(subprocess, find_program)
{
	char *p = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_find_program("sh", &p, &err), 0, "%s", err.msg);
	size_t len = strlen(p);
	cr_assert(len > 3 && !strcmp(p + len - 3, "/sh"), "%s", p);
	free(p);
	cr_assert_eq(subprocess_find_program("/bin/sh", &p, &err), 0);
	cr_assert_str_eq(p, "/bin/sh", "a command with a slash is used as given");
	free(p);
	cr_assert_eq(subprocess_find_program("coxswain-no-such-program", &p, &err), -ENOENT);
	cr_assert_null(p);
	cr_assert_str_eq(err.msg, "not found in PATH");
	cr_assert_eq(subprocess_find_program("/nonexistent/x", &p, &err), -ENOENT);
	cr_assert_str_eq(err.msg, "cannot run /nonexistent/x: No such file or directory");
	cr_assert_eq(subprocess_find_program("/tmp", &p, &err), -EACCES);
	cr_assert_str_eq(err.msg, "cannot run /tmp: it is a directory");
	cr_assert_eq(subprocess_find_program("", &p, &err), -ENOENT);
}

/* A readable interrupt fd (a pending stop signal in the watcher) ends the
 * run at once: its group is killed. Without it the program would run its
 * 60 s and exit 0, and interrupted would be false. */
Test(subprocess, an_interrupt_fd_kills_it)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	char *argv[] = { "/bin/sh", "-c", "echo started >&2; sleep 60; exit 0", NULL };
	struct subprocess_spec spec = { .argv = argv, .stderr_tail = 64, .interrupt_fd = &p[0] };
	struct subprocess_result r;
	struct cx_err err = { 0 };
	cr_assert_eq(subprocess_run(&spec, &r, &err), 0, "%s", err.msg);
	cr_assert(r.interrupted);
	cr_assert(r.killed);
	cr_assert_not(r.timed_out);
	cr_assert(r.signaled);
	cr_assert_eq(r.term_signal, SIGKILL);
	char c;
	cr_assert_eq(read(p[0], &c, 1), 1, "the interrupt fd is polled, never read");
	subprocess_result_clear(&r);
	close(p[0]);
	close(p[1]);
}

Test(subprocess, a_quiet_interrupt_fd_changes_nothing)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	char *argv[] = { "/bin/sh", "-c", "printf ok", NULL };
	struct subprocess_spec spec = { .argv = argv, .interrupt_fd = &p[0] };
	struct subprocess_result r;
	cr_assert_eq(subprocess_run(&spec, &r, NULL), 0);
	cr_assert_not(r.interrupted);
	cr_assert(r.exited);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out, "ok");
	subprocess_result_clear(&r);
	close(p[0]);
	close(p[1]);
}

/* Unit tests for worker/hookproc: a persistent hook process speaking
 * newline-delimited JSON. The hook is tests/unit/data/hookproc/hook.py,
 * which echoes a request per line and, when a request asks, dies, hangs,
 * answers garbage or two lines, or an over-long line. Every test checks
 * that the failing call fails alone: the next one works. No assertion on
 * time: timeouts are short only where the hook hangs for an hour. */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "hookproc.h"

#define HOOK TEST_DATA_DIR "/hookproc/hook.py"
/* Generous: python3 starts slowly on a loaded machine. */
#define LONG_MS 60000

static struct hookproc *new_proc(size_t line_max)
{
	static char *const argv[] = { "python3", HOOK, NULL };
	struct hookproc_options o = {
		.argv = argv, .label = "sync hook \"hook.py\"", .line_max = line_max, .stderr_tail = 2048
	};
	struct cx_err err = { 0 };
	struct hookproc *p = NULL;
	hookproc_new(&o, &p, &err);
	cr_assert_not_null(p, "%s", err.msg);
	return p;
}

/* One call; returns its code, the parsed answer in *out (NULL on failure). */
static int call(struct hookproc *p, const char *req, int timeout_ms, long long now_ms, struct json_object **out,
		struct hookproc_stats *st, struct cx_err *err)
{
	char *answer = NULL;
	size_t len = 0;
	memset(err, 0, sizeof(*err));
	int rc = hookproc_call(p, req, strlen(req), timeout_ms, now_ms, &answer, &len, st, err);
	if (out)
		*out = NULL;
	if (!rc) {
		cr_assert_not_null(answer);
		cr_assert_eq(strlen(answer), len);
		if (out) {
			*out = json_tokener_parse(answer);
			cr_assert_not_null(*out, "answer %s", answer);
		}
	} else {
		cr_assert_null(answer);
	}
	free(answer);
	return rc;
}

static long long get_int(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, key, &v), "no %s in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

/* An echo call that must work; returns the pid that answered. */
static pid_t echo(struct hookproc *p, int n, long long now_ms)
{
	char req[64];
	snprintf(req, sizeof(req), "{\"n\": %d}", n);
	struct json_object *a = NULL;
	struct hookproc_stats st;
	struct cx_err err;
	int rc = call(p, req, LONG_MS, now_ms, &a, &st, &err);
	cr_assert_eq(rc, 0, "call %d: %d %s", n, rc, err.msg);
	cr_assert_eq(get_int(a, "n"), n);
	pid_t pid = (pid_t)get_int(a, "pid");
	cr_assert_eq(pid, st.pid);
	cr_assert_eq(pid, hookproc_pid(p));
	json_object_put(a);
	return pid;
}

/* Not our child any more: reaped (no zombie left). */
static void assert_reaped(pid_t pid)
{
	errno = 0;
	cr_assert_eq(waitpid(pid, NULL, WNOHANG), -1, "pid %d is still our child", (int)pid);
	cr_assert_eq(errno, ECHILD);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	cr_assert_not_null(d);
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

Test(hookproc, many_sequential_requests_use_one_process)
{
	struct hookproc *p = new_proc(0);
	cr_assert_eq(hookproc_pid(p), 0, "started lazily");
	cr_assert_eq(hookproc_starts(p), 0);
	pid_t first = echo(p, 0, 0);
	for (int i = 1; i < 50; i++)
		cr_assert_eq(echo(p, i, i), first, "request %d went to another process", i);
	cr_assert_eq(hookproc_starts(p), 1);
	hookproc_free(&p);
	cr_assert_null(p);
	assert_reaped(first);
}

Test(hookproc, a_request_is_one_line)
{
	struct hookproc *p = new_proc(0);
	struct cx_err err;
	cr_assert_eq(call(p, "{\"n\":\n1}", LONG_MS, 0, NULL, NULL, &err), -EINVAL);
	cr_assert_eq(hookproc_starts(p), 0);
	/* The line the hook read is the request plus its newline. */
	struct json_object *a = NULL;
	cr_assert_eq(call(p, "{\"n\": 7}", LONG_MS, 0, &a, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(get_int(a, "len"), (long long)strlen("{\"n\": 7}") + 1);
	json_object_put(a);
	hookproc_free(&p);
}

Test(hookproc, death_fails_the_request_in_flight_only)
{
	struct hookproc *p = new_proc(0);
	pid_t first = echo(p, 1, 0);
	struct hookproc_stats st;
	struct cx_err err;
	int rc = call(p, "{\"die\": true}", LONG_MS, 1, NULL, &st, &err);
	cr_assert_eq(rc, -EIO, "%d %s", rc, err.msg);
	cr_assert(strstr(err.msg, "sync hook \"hook.py\""), "%s", err.msg);
	cr_assert(strstr(err.msg, "exited with status 3"), "%s", err.msg);
	cr_assert(strstr(err.msg, "dying as asked"), "stderr tail in %s", err.msg);
	cr_assert_eq(st.exit_code, 3);
	cr_assert_eq(hookproc_pid(p), 0);
	assert_reaped(first);
	/* The next request starts a new process at once. */
	pid_t second = echo(p, 2, 2);
	cr_assert_neq(second, first);
	cr_assert_eq(hookproc_starts(p), 2);
	hookproc_free(&p);
	assert_reaped(second);
}

Test(hookproc, timeout_kills_it_and_the_next_request_works)
{
	struct hookproc *p = new_proc(0);
	pid_t first = echo(p, 1, 0);
	struct hookproc_stats st;
	struct cx_err err;
	int rc = call(p, "{\"hang\": true}", 300, 1, NULL, &st, &err);
	cr_assert_eq(rc, -ETIMEDOUT, "%d %s", rc, err.msg);
	cr_assert(strstr(err.msg, "0.3 s"), "%s", err.msg);
	cr_assert_eq(st.term_signal, SIGKILL);
	assert_reaped(first);
	cr_assert_eq(kill(first, 0), -1, "killed");
	pid_t second = echo(p, 2, 2);
	cr_assert_neq(second, first);
	hookproc_free(&p);
}

Test(hookproc, garbage_is_an_error_and_restarts_it)
{
	struct hookproc *p = new_proc(0);
	pid_t first = echo(p, 1, 0);
	struct cx_err err;
	int rc = call(p, "{\"garbage\": true}", LONG_MS, 1, NULL, NULL, &err);
	cr_assert_eq(rc, -EPROTO, "%d %s", rc, err.msg);
	cr_assert(strstr(err.msg, "this is not json"), "%s", err.msg);
	assert_reaped(first);
	cr_assert_neq(echo(p, 2, 2), first);
	hookproc_free(&p);
}

Test(hookproc, two_lines_for_one_request_restart_it_before_the_next)
{
	struct hookproc *p = new_proc(0);
	pid_t first = echo(p, 1, 0);
	struct json_object *a = NULL;
	struct cx_err err;
	cr_assert_eq(call(p, "{\"twice\": true, \"n\": 5}", LONG_MS, 1, &a, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(get_int(a, "n"), 5);
	json_object_put(a);
	/* The stray line never answers the next request. */
	pid_t second = echo(p, 6, 2);
	cr_assert_neq(second, first);
	hookproc_free(&p);
}

Test(hookproc, an_answer_over_the_limit_is_an_error)
{
	struct hookproc *p = new_proc(1000);
	pid_t first = echo(p, 1, 0);
	struct cx_err err;
	int rc = call(p, "{\"big\": 100000}", LONG_MS, 1, NULL, NULL, &err);
	cr_assert_eq(rc, -EFBIG, "%d %s", rc, err.msg);
	cr_assert(strstr(err.msg, "1000 bytes"), "%s", err.msg);
	assert_reaped(first);
	echo(p, 2, 2);
	hookproc_free(&p);
}

Test(hookproc, a_crashing_hook_backs_off)
{
	static char *const argv[] = { "sh", "-c", "read line; echo crashed >&2; exit 1", NULL };
	struct hookproc_options o = { .argv = argv, .label = "sync hook \"sh\"", .stderr_tail = 2048 };
	struct cx_err err = { 0 };
	struct hookproc *p = NULL;
	hookproc_new(&o, &p, &err);
	cr_assert_not_null(p);
	cr_assert_eq(call(p, "{}", LONG_MS, 0, NULL, NULL, &err), -EIO, "%s", err.msg);
	/* The first restart is at once. */
	cr_assert_eq(call(p, "{}", LONG_MS, 0, NULL, NULL, &err), -EIO, "%s", err.msg);
	cr_assert_eq(hookproc_starts(p), 2);
	/* The second one waits 1 s (our clock): nothing is started before. */
	cr_assert_eq(call(p, "{}", LONG_MS, 999, NULL, NULL, &err), -EAGAIN, "%s", err.msg);
	cr_assert(strstr(err.msg, "crashed"), "says why: %s", err.msg);
	cr_assert_eq(hookproc_starts(p), 2);
	cr_assert_eq(call(p, "{}", LONG_MS, 1000, NULL, NULL, &err), -EIO, "%s", err.msg);
	cr_assert_eq(hookproc_starts(p), 3);
	/* Then 2 s. */
	cr_assert_eq(call(p, "{}", LONG_MS, 2999, NULL, NULL, &err), -EAGAIN, "%s", err.msg);
	cr_assert_eq(call(p, "{}", LONG_MS, 3000, NULL, NULL, &err), -EIO, "%s", err.msg);
	cr_assert_eq(hookproc_starts(p), 4);
	hookproc_free(&p);
}

Test(hookproc, a_command_that_cannot_run)
{
	static char *const argv[] = { "/nonexistent/hook", NULL };
	struct hookproc_options o = { .argv = argv, .label = "sync hook \"/nonexistent/hook\"" };
	struct cx_err err = { 0 };
	struct hookproc *p = NULL;
	hookproc_new(&o, &p, &err);
	cr_assert_not_null(p);
	cr_assert_eq(call(p, "{}", LONG_MS, 0, NULL, NULL, &err), -ENOENT, "%s", err.msg);
	cr_assert(strstr(err.msg, "/nonexistent/hook"), "%s", err.msg);
	hookproc_free(&p);
}

Test(hookproc, no_descriptor_leaks_either_way)
{
	/* A descriptor of ours without close-on-exec must not reach the hook. */
	int fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, 50), 50);
	close(fd);
	int before = count_fds();
	struct hookproc *p = new_proc(0);
	struct json_object *a = NULL;
	struct cx_err err;
	cr_assert_eq(call(p, "{\"fd\": 50}", LONG_MS, 0, &a, NULL, &err), 0, "%s", err.msg);
	struct json_object *open_v = NULL;
	cr_assert(json_object_object_get_ex(a, "open", &open_v));
	cr_assert_not(json_object_get_boolean(open_v), "fd 50 leaked into the hook");
	json_object_put(a);
	/* Deaths and restarts leave no descriptor behind. */
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(call(p, "{\"die\": true}", LONG_MS, 10 + i * 100000, NULL, NULL, &err), -EIO);
		echo(p, i, 20 + i * 100000);
	}
	hookproc_free(&p);
	cr_assert_eq(count_fds(), before);
	close(50);
}

Test(hookproc, a_hook_that_never_reads_does_not_kill_us_with_sigpipe)
{
	static char *const argv[] = { "sh", "-c", "exec 0<&-; echo closed stdin >&2; sleep 0.2; exit 4", NULL };
	struct hookproc_options o = { .argv = argv, .label = "sync hook \"sh\"", .stderr_tail = 2048 };
	struct cx_err err = { 0 };
	struct hookproc *p = NULL;
	hookproc_new(&o, &p, &err);
	cr_assert_not_null(p);
	/* Bigger than a pipe's buffer: the write hits EPIPE. */
	size_t n = 1 << 20;
	char *req = malloc(n + 1);
	cr_assert_not_null(req);
	memset(req, ' ', n);
	req[0] = '{';
	req[n - 1] = '}';
	req[n] = '\0';
	char *answer = NULL;
	size_t len = 0;
	int rc = hookproc_call(p, req, n, LONG_MS, 0, &answer, &len, NULL, &err);
	cr_assert_eq(rc, -EIO, "%d %s", rc, err.msg);
	cr_assert_null(answer);
	free(req);
	sigset_t pending;
	sigemptyset(&pending);
	sigpending(&pending);
	cr_assert_not(sigismember(&pending, SIGPIPE), "no SIGPIPE left pending");
	hookproc_free(&p);
}

Test(hookproc, a_process_that_exits_between_requests_is_reaped_and_replaced)
{
	struct hookproc *p = new_proc(0);
	pid_t first = echo(p, 1, 0);
	kill(first, SIGTERM);
	/* Reaped by hookproc_reap once it is gone (it never blocks). */
	for (int i = 0; i < 3000 && hookproc_pid(p); i++) {
		usleep(10000);
		hookproc_reap(p);
	}
	cr_assert_eq(hookproc_pid(p), 0);
	assert_reaped(first);
	cr_assert_neq(echo(p, 2, 1), first);
	hookproc_free(&p);
}

Test(hookproc, an_answer_before_the_whole_request_was_read_is_an_error)
{
	/* Answers at once, then reads: a request bigger than a pipe cannot
	 * have been read when the answer comes. */
	static char *const argv[] = { "sh", "-c", "echo '{\"early\": true}'; cat >/dev/null", NULL };
	struct hookproc_options o = { .argv = argv, .label = "sync hook \"sh\"", .stderr_tail = 2048 };
	struct cx_err err = { 0 };
	struct hookproc *p = NULL;
	hookproc_new(&o, &p, &err);
	cr_assert_not_null(p);
	size_t n = 4 << 20;
	char *req = malloc(n);
	cr_assert_not_null(req);
	memset(req, ' ', n);
	req[0] = '{';
	req[n - 1] = '}';
	char *answer = NULL;
	size_t len = 0;
	int rc = hookproc_call(p, req, n, LONG_MS, 0, &answer, &len, NULL, &err);
	free(req);
	cr_assert_eq(rc, -EPROTO, "%d %s", rc, err.msg);
	cr_assert(strstr(err.msg, "before reading the whole request"), "%s", err.msg);
	cr_assert_eq(hookproc_pid(p), 0, "killed");
	hookproc_free(&p);
}

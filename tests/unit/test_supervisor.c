/* Unit tests for worker/supervisor: restarts (pid changes, slot stays), the
 * restart backoff (immediate, then growing, reset after a healthy stretch),
 * crash logging, the restart storm line, the drain on SIGTERM (clean, and
 * with a worker that ignores SIGTERM), workers dying with a SIGKILLed
 * supervisor (PDEATHSIG, and the pipe alone), the child's signal state, and
 * no busy loop.
 *
 * Each test runs its supervisor in a "host" process (this binary, forked
 * and executed again), so that its signals and children stay away from
 * Criterion. Workers are small functions
 * below; each writes a record (slot, pid, time, what it saw at start) to a
 * pipe the test reads. The host writes its result (return code, counters,
 * poll calls) to another pipe and its log to a file. The machine may be
 * loaded: nothing asserts an upper bound on a duration or on CPU time. Delays
 * are checked from below (never early) and, from above, through what the
 * supervisor logged it would wait; "no busy loop" counts the supervisor's
 * poll calls; waits for something that must happen are generous deadlines
 * (GENEROUS_MS) that only a hang reaches. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "supervisor.h"

/* How long a test waits for something that must happen (a worker starting,
 * the host returning, workers exiting) before calling it a hang. Far above
 * any time the machine's load can cause, and below the drain timeout that
 * opts() sets, so that a drain waiting for its timeout is still a failure. */
#define GENEROUS_MS 30000

/* ---- what workers report ---- */

struct rec {
	int slot;
	pid_t pid, ppid;
	int64_t t_ms;
	bool mask_empty;   /* nothing blocked (SIGTERM, SIGINT, SIGCHLD checked) */
	bool handlers_dfl; /* SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGHUP, SIGUSR1 at SIG_DFL */
	bool pipe_ok;      /* parent pipe: non-blocking, parent not gone */
	int pdeathsig;
	int stray_writers; /* pipe write ends open but ours (0-2, records, result) */
	bool has_signalfd; /* the supervisor's signalfd leaked into it */
	char instance[24]; /* supervisor_child.instance */
	int restarts;      /* supervisor_child.restarts */
};

enum mode {
	EXIT_3,          /* exit at once with code 3 */
	ABORT,           /* abort() */
	UNTIL_TERM,      /* run until SIGTERM, then exit 0 */
	MIXED,           /* slot 0: UNTIL_TERM; others: IGNORE_TERM */
	IGNORE_TERM,     /* ignore SIGTERM; exit 7 when the parent pipe reports EOF */
	LIVE_150_EXIT_3, /* run 150 ms, then exit 3 */
};

struct cfg {
	enum mode mode;
	int rec_fd;       /* write end of the record pipe */
	int res_fd;       /* write end of the result pipe (the host's) */
	int base_writers; /* pipe write ends the host had before the supervisor ran */
	int notified;     /* notify calls, counted in the host */
};

static bool is_dfl(int sig)
{
	struct sigaction sa;
	sigaction(sig, NULL, &sa);
	return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL;
}

/* Looks through the process's descriptors for pipe write ends (but 0-2
 * and the record and result pipes) and a signalfd. In a worker, more
 * writers than the host had before the supervisor ran means it inherited
 * the write end of a worker's parent pipe, which would hide the
 * supervisor's death from that worker. */
static void check_fds(const struct cfg *c, struct rec *r)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		r->stray_writers = -1;
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd <= 2 || fd == c->rec_fd || fd == c->res_fd || fd == dirfd(d))
			continue;
		char path[64], target[256];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "signalfd"))
			r->has_signalfd = true;
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY)
			r->stray_writers++;
	}
	closedir(d);
}

static struct rec make_rec(const struct cfg *c, const struct supervisor_child *sc)
{
	int parent_fd = sc->parent_pipe_fd;
	struct rec r = { .slot = sc->slot,
			 .pid = getpid(),
			 .ppid = getppid(),
			 .t_ms = clock_monotonic_ms(),
			 .restarts = sc->restarts };
	snprintf(r.instance, sizeof(r.instance), "%s", sc->instance ? sc->instance : "(null)");
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	r.mask_empty = !sigismember(&cur, SIGTERM) && !sigismember(&cur, SIGINT) && !sigismember(&cur, SIGCHLD);
	r.handlers_dfl = is_dfl(SIGTERM) && is_dfl(SIGINT) && is_dfl(SIGCHLD) && is_dfl(SIGPIPE) && is_dfl(SIGHUP) &&
		is_dfl(SIGUSR1);
	int fl = fcntl(parent_fd, F_GETFL);
	r.pipe_ok = fl >= 0 && (fl & O_NONBLOCK) && !supervisor_parent_gone(parent_fd);
	prctl(PR_GET_PDEATHSIG, &r.pdeathsig);
	check_fds(c, &r);
	r.stray_writers -= c->base_writers;
	return r;
}

static void send_rec(const struct cfg *c, const struct rec *r)
{
	ssize_t n = write(c->rec_fd, r, sizeof(*r));
	(void)n;
}

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* Signal set-up happens before the record is sent: the test may signal as
 * soon as it has the record. */
static void prepare_until_term(sigset_t *old)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, old);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
}

static int until_term(const sigset_t *old)
{
	while (!got_term)
		sigsuspend(old);
	return 0;
}

static int ignore_term(int parent_fd)
{
	for (;;) {
		struct pollfd p = { .fd = parent_fd, .events = POLLIN };
		if (poll(&p, 1, -1) > 0 && supervisor_parent_gone(parent_fd))
			return 7;
	}
}

static int worker(void *ud, const struct supervisor_child *sc)
{
	struct cfg *c = ud;
	int slot = sc->slot, parent_fd = sc->parent_pipe_fd;
	bool obey = c->mode == UNTIL_TERM || (c->mode == MIXED && slot == 0);
	bool ignore = c->mode == IGNORE_TERM || (c->mode == MIXED && slot != 0);
	struct rec r = make_rec(c, sc); /* the state the supervisor left */
	sigset_t old;
	if (obey)
		prepare_until_term(&old);
	if (ignore)
		signal(SIGTERM, SIG_IGN);
	send_rec(c, &r); /* the test may signal from now on */
	switch (c->mode) {
	case EXIT_3:
		return 3;
	case ABORT:
		abort();
	case UNTIL_TERM:
	case MIXED:
		return obey ? until_term(&old) : ignore_term(parent_fd);
	case IGNORE_TERM:
		return ignore_term(parent_fd);
	case LIVE_150_EXIT_3:
		usleep(150 * 1000);
		return 3;
	}
	return 99;
}

static void count_notify(void *ud, const struct supervisor *s)
{
	(void)s;
	((struct cfg *)ud)->notified++;
}

/* ---- the host process ---- */

/* The supervisor's loop turns, counted by interposing poll(2): this
 * executable's definition is the one the linked-in supervisor calls. A loop
 * that sleeps polls a few times per event; a busy loop polls thousands of
 * times, however loaded the machine. Counted in every process, reported by
 * the host only. */
static long poll_calls;

int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	poll_calls++;
	struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000 };
	return ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, NULL);
}

struct result {
	int rc;
	int rc_again;     /* a second supervisor_run */
	bool no_children; /* waitpid(-1) said ECHILD after the run */
	long polls;       /* poll calls in the host, i.e. turns of the supervisor's loop */
	int notified;
	struct supervisor_stats st;
	char msg[256];
};

struct host {
	pid_t pid;
	int rec_fd;
	int res_fd;
	char log_path[64];
	int64_t term_sent_ms;
};

static struct supervisor_options opts(int workers, long initial_ms, double factor, long max_ms)
{
	struct supervisor_options o;
	supervisor_options_init(&o);
	o.workers = workers;
	o.child = worker;
	o.restart_backoff = (struct backoff_params){ initial_ms, factor, max_ms, 0.0 };
	o.drain_timeout_ms = 2 * GENEROUS_MS;
	return o;
}

static void host_main(struct supervisor_options o, enum mode mode, int rec_fd, int res_fd, const char *log_path)
{
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core); /* abort() must not write cores */
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	/* What workers must not inherit: an ignored signal, a handler, and
	 * SIGCHLD ignored, which would also hide deaths from waitpid. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, on_term);
	signal(SIGCHLD, SIG_IGN);
	FILE *lf = fopen(log_path, "a");
	if (!lf)
		_exit(90);
	log_set_output(lf);
	log_set_verbosity(2);

	struct cfg c = { .mode = mode, .rec_fd = rec_fd, .res_fd = res_fd };
	struct rec base = { 0 };
	check_fds(&c, &base);
	c.base_writers = base.stray_writers;
	o.ud = &c;
	o.child = worker;
	o.notify = count_notify;
	struct result res;
	memset(&res, 0, sizeof(res));
	struct cx_err err = { 0 };
	struct supervisor *s = NULL;
	supervisor_new(&o, &s, &err);
	if (!s)
		_exit(91);
	res.rc = supervisor_run(s, &err);
	snprintf(res.msg, sizeof(res.msg), "%.200s", err.msg);
	res.rc_again = supervisor_run(s, NULL);
	res.no_children = waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
	supervisor_get_stats(s, &res.st);
	res.notified = c.notified;
	res.polls = poll_calls;
	supervisor_free(&s);
	ssize_t n = write(res_fd, &res, sizeof(res));
	fclose(lf);
	/* exit, not _exit: LeakSanitizer checks the supervisor here. */
	exit(n == (ssize_t)sizeof(res) ? 0 : 92);
}

#define HOST_ENV "TEST_SUPERVISOR_HOST"

/* The host is this test binary, executed again with HOST_ENV set: a fresh
 * single-threaded process, as the supervisor is in production. (Criterion's
 * test process has a helper thread; a worker forked from a fork of it would
 * make LeakSanitizer warn at every exit.) This runs before Criterion's main
 * and never returns to it. */
__attribute__((constructor)) static void host_entry(void)
{
	const char *spec = getenv(HOST_ENV);
	if (!spec)
		return;
	struct supervisor_options o;
	supervisor_options_init(&o);
	int mode, rec_fd, res_fd;
	char log_path[64];
	if (sscanf(spec, "%d %d %ld %lf %ld %ld %d %ld %ld %d %d %63s", &mode, &o.workers,
		   &o.restart_backoff.initial_ms, &o.restart_backoff.factor, &o.restart_backoff.max_ms,
		   &o.healthy_reset_ms, &o.storm_threshold, &o.storm_window_ms, &o.drain_timeout_ms, &rec_fd, &res_fd,
		   log_path) != 12)
		_exit(89);
	unsetenv(HOST_ENV);
	host_main(o, (enum mode)mode, rec_fd, res_fd, log_path);
}

static struct host start(struct supervisor_options o, enum mode mode)
{
	struct host h;
	memset(&h, 0, sizeof(h));
	int rec[2], res[2];
	cr_assert_eq(pipe(rec), 0);
	cr_assert_eq(pipe(res), 0);
	snprintf(h.log_path, sizeof(h.log_path), "/tmp/test_supervisor.XXXXXX");
	int lfd = mkstemp(h.log_path);
	cr_assert_geq(lfd, 0);
	close(lfd);
	char spec[256];
	snprintf(spec, sizeof(spec), "%d %d %ld %.17g %ld %ld %d %ld %ld %d %d %s", (int)mode, o.workers,
		 o.restart_backoff.initial_ms, o.restart_backoff.factor, o.restart_backoff.max_ms, o.healthy_reset_ms,
		 o.storm_threshold, o.storm_window_ms, o.drain_timeout_ms, rec[1], res[1], h.log_path);
	fflush(NULL);
	pid_t test_pid = getpid();
	h.pid = fork();
	cr_assert_geq(h.pid, 0);
	if (h.pid == 0) {
		close(rec[0]);
		close(res[0]);
		/* A test that fails half-way must leave nothing running: the host
		 * dies with the test process (and its workers with it), and none
		 * of them holds the TAP pipe on stdout. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != test_pid)
			_exit(87);
		int null_fd = open("/dev/null", O_WRONLY);
		if (null_fd < 0 || dup2(null_fd, 1) < 0)
			_exit(86);
		close(null_fd);
		setenv(HOST_ENV, spec, 1);
		char *argv[] = { "test_supervisor_host", NULL };
		execv("/proc/self/exe", argv);
		_exit(88);
	}
	close(rec[1]);
	close(res[1]);
	h.rec_fd = rec[0];
	h.res_fd = res[0];
	return h;
}

/* Reads the next worker record; false after timeout_ms without one (or at
 * EOF, when *eof is set). */
static bool next_rec(struct host *h, struct rec *r, int timeout_ms, bool *eof)
{
	if (eof)
		*eof = false;
	struct pollfd p = { .fd = h->rec_fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	ssize_t n = read(h->rec_fd, r, sizeof(*r));
	if (n == 0 && eof)
		*eof = true;
	if (n == 0)
		return false;
	cr_assert_eq(n, (ssize_t)sizeof(*r), "short record: %zd", n);
	return true;
}

static struct rec must_rec(struct host *h)
{
	struct rec r;
	cr_assert(next_rec(h, &r, GENEROUS_MS, NULL), "no worker started within %d ms", GENEROUS_MS);
	return r;
}

static void term(struct host *h, int sig)
{
	h->term_sent_ms = clock_monotonic_ms();
	cr_assert_eq(kill(h->pid, sig), 0);
}

/* Waits for the host to exit and returns its result. */
static struct result finish(struct host *h, int timeout_ms)
{
	int64_t deadline = clock_monotonic_ms() + timeout_ms;
	int status;
	pid_t r;
	while ((r = waitpid(h->pid, &status, WNOHANG)) == 0 && clock_monotonic_ms() < deadline)
		usleep(5000);
	if (r == 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
		cr_assert_fail("the supervisor did not return within %d ms", timeout_ms);
	}
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "host status %#x", status);
	struct result res;
	cr_assert_eq(read(h->res_fd, &res, sizeof(res)), (ssize_t)sizeof(res));
	cr_assert_eq(res.rc_again, -EINVAL, "a second run must be refused");
	cr_assert(res.no_children, "the supervisor left a child behind");
	return res;
}

/* Reads records until EOF on the record pipe, i.e. until no process that
 * could write one (host or worker) is left. Returns the number of records
 * read; fails after timeout_ms. */
static int until_eof(struct host *h, int timeout_ms)
{
	int64_t deadline = clock_monotonic_ms() + timeout_ms;
	int n = 0;
	for (;;) {
		struct rec r;
		bool eof;
		int left = (int)(deadline - clock_monotonic_ms());
		cr_assert_gt(left, 0, "worker processes still alive %d ms later", timeout_ms);
		if (next_rec(h, &r, left, &eof))
			n++;
		else if (eof)
			return n;
	}
}

static char *read_log(const struct host *h)
{
	FILE *f = fopen(h->log_path, "r");
	cr_assert_not_null(f);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* Whether one log line holds every one of the (NULL-terminated) strings. */
static bool line_with(const char *log, const char *first, ...)
{
	for (const char *line = log; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[2048];
		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		bool all = true;
		va_list ap;
		va_start(ap, first);
		for (const char *s = first; s && all; s = va_arg(ap, const char *))
			all = strstr(buf, s) != NULL;
		va_end(ap);
		if (all)
			return true;
		line += len + (end ? 1 : 0);
	}
	return false;
}

static void cleanup(struct host *h)
{
	close(h->rec_fd);
	close(h->res_fd);
	unlink(h->log_path);
}

/* ---- options ---- */

Test(supervisor, defaults_are_the_design_settings)
{
	struct supervisor_options o;
	supervisor_options_init(&o);
	cr_assert_geq(o.workers, 1);
	cr_assert_eq(o.restart_backoff.initial_ms, 1000);
	cr_assert_eq(o.restart_backoff.factor, 2.0);
	cr_assert_eq(o.restart_backoff.max_ms, 60000);
	cr_assert_eq(o.healthy_reset_ms, 600000);
	cr_assert_eq(o.storm_threshold, 10);
	cr_assert_eq(o.storm_window_ms, 60000);
	cr_assert_gt(o.drain_timeout_ms, 0);
	cr_assert_lt(o.drain_timeout_ms, 30000, "must fit in Kubernetes' default grace period");
}

Test(supervisor, new_rejects_bad_options)
{
	struct cx_err err = { 0 };
	struct supervisor_options o = opts(0, 50, 2.0, 400);
	cr_assert_lt(supervisor_new(&o, &(struct supervisor *){ NULL }, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "workers"), "%s", err.msg);

	o = opts(1, 50, 2.0, 400);
	o.child = NULL;
	cr_assert_lt(supervisor_new(&o, &(struct supervisor *){ NULL }, &err), 0);
	cr_assert(strstr(err.msg, "child"), "%s", err.msg);

	o = opts(1, 50, 2.0, 10);
	cr_assert_lt(supervisor_new(&o, &(struct supervisor *){ NULL }, &err), 0);
	cr_assert(strstr(err.msg, "supervisor: restart backoff: maximum delay"), "%s", err.msg);

	o = opts(1, 50, 2.0, 400);
	o.storm_threshold = 0;
	cr_assert_lt(supervisor_new(&o, &(struct supervisor *){ NULL }, &err), 0);
	cr_assert(strstr(err.msg, "storm_threshold"), "%s", err.msg);

	o = opts(2, 50, 2.0, 400);
	struct supervisor *s = NULL;
	supervisor_new(&o, &s, &err);
	cr_assert_not_null(s, "%s", err.msg);
	cr_assert_eq(supervisor_slot_pid(s, 0), 0);
	cr_assert_eq(supervisor_slot_pid(s, 2), 0);
	cr_assert_eq(supervisor_restarts(s), 0);
	supervisor_free(&s);
	cr_assert_null(s);
	supervisor_free(&s);
	supervisor_free(NULL);
}

/* ---- the child side ---- */

Test(supervisor, child_init_sets_pdeathsig_and_notices_a_dead_parent)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int code = 0;
		if (supervisor_child_init(p[0], getppid()) != 0)
			code |= 1;
		int sig = 0;
		prctl(PR_GET_PDEATHSIG, &sig);
		if (sig != SIGTERM)
			code |= 2;
		if (!(fcntl(p[0], F_GETFL) & O_NONBLOCK))
			code |= 4;
		if (supervisor_child_init(-1, getppid() + 1) != -ESRCH)
			code |= 8;
		_exit(code);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "failed checks: %#x", WEXITSTATUS(status));

	/* The pipe: open means alive, EOF means gone; never blocks. */
	int fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	cr_assert_not(supervisor_parent_gone(p[0]));
	close(p[1]);
	cr_assert(supervisor_parent_gone(p[0]));
	close(p[0]);
}

/* ---- restarts ---- */

Test(supervisor, restarts_keep_the_slot_and_change_the_pid)
{
	struct host h = start(opts(2, 20, 2.0, 80), EXIT_3);
	pid_t seen[64];
	int n = 0, per_slot[2] = { 0, 0 };
	char instance[24] = "";
	while (per_slot[0] < 3 || per_slot[1] < 3) {
		struct rec r = must_rec(&h);
		cr_assert(r.slot == 0 || r.slot == 1, "slot %d", r.slot);
		cr_assert_eq(r.ppid, h.pid, "a worker is the supervisor's child");
		/* Each worker knows how often its slot was forked before it (what
		 * it reports in READY), and its supervisor's one instance id. */
		cr_assert_eq(r.restarts, per_slot[r.slot], "slot %d: worker %d told restarts=%d", r.slot,
			     per_slot[r.slot] + 1, r.restarts);
		cr_assert_eq(strlen(r.instance), 16, "instance \"%s\"", r.instance);
		cr_assert_eq(strspn(r.instance, "0123456789abcdef"), 16, "instance \"%s\"", r.instance);
		if (!instance[0])
			snprintf(instance, sizeof(instance), "%s", r.instance);
		cr_assert_str_eq(r.instance, instance, "one instance id for the supervisor's life");
		for (int i = 0; i < n; i++)
			cr_assert_neq(seen[i], r.pid, "pid %d started twice", (int)r.pid);
		cr_assert_lt(n, 64);
		seen[n++] = r.pid;
		per_slot[r.slot]++;
	}
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_geq(res.st.restarts, 4);
	cr_assert_eq(res.st.starts, res.st.restarts + 2, "2 first starts, the rest restarts");
	cr_assert_geq(res.st.deaths, 4);
	cr_assert_eq(res.st.crashes, res.st.deaths, "exit code 3 is a crash");
	cr_assert_eq(res.st.running, 0);
	cr_assert_gt(res.notified, 0);
	until_eof(&h, GENEROUS_MS);

	const char *log = read_log(&h);
	cr_assert(line_with(log, "level=error", "msg=\"worker crashed\"", "slot=0", "exit_code=3", NULL), "%s", log);
	cr_assert(line_with(log, "level=error", "msg=\"worker crashed\"", "slot=1", "exit_code=3", NULL), "%s", log);
	char pid_kv[32], instance_kv[40];
	snprintf(pid_kv, sizeof(pid_kv), "pid=%d ", (int)seen[0]);
	cr_assert(line_with(log, "worker crashed", pid_kv, NULL), "no crash line for %s:\n%s", pid_kv, log);
	snprintf(instance_kv, sizeof(instance_kv), "instance=%s", instance);
	cr_assert(line_with(log, "supervisor starting workers", instance_kv, NULL), "%s", log);
	cleanup(&h);
}

Test(supervisor, first_restart_is_immediate_then_backoff_grows_to_its_cap)
{
	struct host h = start(opts(1, 50, 2.0, 400), EXIT_3);
	int64_t t[8];
	for (int i = 0; i < 8; i++)
		t[i] = must_rec(&h).t_ms;
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);

	/* gap i is between start i-1 and start i: 0, 50, 100, 200, 400, 400, 400 ms plus fork time. */
	long want[8] = { 0, 0, 50, 100, 200, 400, 400, 400 };
	for (int i = 1; i < 8; i++) {
		long gap = (long)(t[i] - t[i - 1]);
		cr_assert_geq(gap, want[i], "gap %d: %ld ms, want >= %ld", i, gap, want[i]);
	}
	/* Never early (above); not late either, as far as the supervisor goes:
	 * each delay it logged is the backoff's, in order. */

	const char *log = read_log(&h);
	const char *delays[] = { "restart_in_ms=0", "restart_in_ms=50", "restart_in_ms=100", "restart_in_ms=200",
				 "restart_in_ms=400" };
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++)
		cr_assert(line_with(log, "worker crashed", delays[i], NULL), "no %s in\n%s", delays[i], log);
	cr_assert_not(line_with(log, "restart_in_ms=800", NULL), "the cap is 400 ms:\n%s", log);
	cr_assert_eq(count(log, "restart_in_ms=0\n"), 1, "only the first restart is immediate:\n%s", log);
	const char *p = log;
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		p = strstr(p, delays[i]);
		cr_assert_not_null(p, "%s not after %s in\n%s", delays[i], i ? delays[i - 1] : "the start", log);
	}
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, a_slot_that_stayed_up_long_enough_restarts_at_once_again)
{
	/* Workers live 150 ms; healthy after 100 ms: every death is the first
	 * after a healthy stretch, so restarts stay immediate. */
	struct supervisor_options o = opts(1, 300, 2.0, 5000);
	o.healthy_reset_ms = 100;
	struct host h = start(o, LIVE_150_EXIT_3);
	int64_t t[5];
	for (int i = 0; i < 5; i++)
		t[i] = must_rec(&h).t_ms;
	term(&h, SIGTERM);
	cr_assert_eq(finish(&h, GENEROUS_MS).rc, 0);
	for (int i = 1; i < 5; i++)
		cr_assert_geq(t[i] - t[i - 1], 150, "gap %d: %lld ms", i, (long long)(t[i] - t[i - 1]));
	/* Immediate: the supervisor logged no wait for any of them. */
	const char *log = read_log(&h);
	cr_assert_eq(count(log, "restart_in_ms=0\n"), count(log, "restart_in_ms="), "%s", log);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);

	/* The same workers without the reset: 150 ms, then 150 + 300, 150 + 600. */
	o.healthy_reset_ms = 10000;
	h = start(o, LIVE_150_EXIT_3);
	for (int i = 0; i < 4; i++)
		t[i] = must_rec(&h).t_ms;
	term(&h, SIGTERM);
	cr_assert_eq(finish(&h, GENEROUS_MS).rc, 0);
	cr_assert_geq(t[2] - t[1], 150 + 300);
	cr_assert_geq(t[3] - t[2], 150 + 600);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, abort_is_logged_as_a_crash_with_the_signal_name)
{
	struct host h = start(opts(1, 20, 2.0, 80), ABORT);
	must_rec(&h);
	must_rec(&h);
	must_rec(&h);
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_geq(res.st.crashes, 2);
	const char *log = read_log(&h);
	char name[64];
	snprintf(name, sizeof(name), "signal_name=%s", strsignal(SIGABRT));
	cr_assert(line_with(log, "level=error", "msg=\"worker crashed\"", "slot=0", "signal=6", name, NULL), "%s", log);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

/* ---- storms ---- */

Test(supervisor, a_restart_storm_is_logged_loudly_once_a_window)
{
	/* 4 slots dying at once, restarted within 5..20 ms: well over 10
	 * deaths a minute, in a window of a minute: one storm line. */
	struct host h = start(opts(4, 5, 2.0, 20), EXIT_3);
	for (int i = 0; i < 40; i++)
		must_rec(&h);
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_eq(res.st.storms, 1);
	cr_assert(res.st.storming);
	const char *log = read_log(&h);
	cr_assert_eq(count(log, "worker restart storm"), 1, "%s", log);
	cr_assert(
		line_with(log, "level=error", "worker restart storm", "deaths=11", "window_s=60", "threshold=10", NULL),
		"%s", log);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, a_lasting_storm_is_logged_again_each_window)
{
	/* 2 slots restarted every 10 ms: a storm (more than 3 deaths in
	 * 300 ms) for as long as it runs. Waits for the second storm line
	 * rather than sleeping a fixed time, so a slow machine only takes
	 * longer; then checks there was at most one line per window. */
	struct supervisor_options o = opts(2, 10, 1.0, 10);
	o.storm_threshold = 3;
	o.storm_window_ms = 300;
	int64_t t0 = clock_monotonic_ms();
	struct host h = start(o, EXIT_3);
	while (count(read_log(&h), "worker restart storm") < 2) {
		cr_assert_lt(clock_monotonic_ms() - t0, GENEROUS_MS, "no second storm line after %d ms:\n%s",
			     GENEROUS_MS, read_log(&h));
		struct rec r;
		while (next_rec(&h, &r, 0, NULL))
			; /* keep the record pipe from filling up */
		usleep(20 * 1000);
	}
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	long ran = (long)(clock_monotonic_ms() - t0);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_geq(res.st.storms, 2);
	cr_assert_leq(res.st.storms, (size_t)(ran / 300 + 1), "%zu storm lines in %ld ms", res.st.storms, ran);
	cr_assert_eq(count(read_log(&h), "worker restart storm"), (int)res.st.storms);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, slow_deaths_are_no_storm)
{
	struct supervisor_options o = opts(1, 100, 1.0, 100);
	o.storm_threshold = 5;
	o.storm_window_ms = 300;
	struct host h = start(o, EXIT_3);
	for (int i = 0; i < 8; i++)
		must_rec(&h);
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.st.storms, 0);
	cr_assert_not(res.st.storming);
	cr_assert_eq(count(read_log(&h), "storm"), 0);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

/* ---- drain ---- */

Test(supervisor, sigterm_drains_cleanly_returns_0_and_leaves_no_child)
{
	struct host h = start(opts(3, 50, 2.0, 400), UNTIL_TERM);
	bool slots[3] = { false, false, false };
	for (int i = 0; i < 3; i++) {
		struct rec r = must_rec(&h);
		slots[r.slot] = true;
		cr_assert(r.mask_empty, "slot %d started with signals blocked", r.slot);
		cr_assert(r.handlers_dfl, "slot %d started with non-default handlers", r.slot);
		cr_assert(r.pipe_ok, "slot %d: parent pipe not usable", r.slot);
		cr_assert_eq(r.pdeathsig, SIGTERM);
		cr_assert_eq(r.ppid, h.pid);
		cr_assert_eq(r.stray_writers, 0, "slot %d holds %d pipe write ends", r.slot, r.stray_writers);
		cr_assert_not(r.has_signalfd, "slot %d inherited the signalfd", r.slot);
	}
	cr_assert(slots[0] && slots[1] && slots[2]);
	usleep(300 * 1000); /* idle: the supervisor must sleep, not spin */
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	/* finish() waits less than the drain timeout: the drain waited for nothing. */
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_eq(res.st.running, 0);
	cr_assert_eq(res.st.restarts, 0, "nothing restarts during a drain");
	cr_assert_eq(res.st.deaths, 0, "a drain's exits are not deaths");
	cr_assert_eq(res.st.killed, 0);
	cr_assert(res.st.draining);
	/* 3 starts, the signal, 3 exits: a few turns each, not a spin. */
	cr_assert_gt(res.polls, 0, "poll is interposed");
	cr_assert_leq(res.polls, 40, "the supervisor polled %ld times", res.polls);
	cr_assert_geq(res.notified, 3 + 1 + 3, "starts, the drain, the stops: %d", res.notified);
	cr_assert_eq(until_eof(&h, GENEROUS_MS), 0, "no worker started after SIGTERM");

	const char *log = read_log(&h);
	cr_assert_eq(count(log, "msg=\"worker stopped\""), 3, "%s", log);
	cr_assert(line_with(log, "level=info", "draining", "signal=15", "workers=3", NULL), "%s", log);
	cr_assert(line_with(log, "worker stopped", "exit_code=0", NULL), "%s", log);
	cr_assert_eq(count(log, "level=error"), 0, "%s", log);
	cr_assert_eq(count(log, "level=warning"), 0, "%s", log);
	cleanup(&h);
}

Test(supervisor, sigint_drains_too)
{
	struct host h = start(opts(1, 50, 2.0, 400), UNTIL_TERM);
	must_rec(&h);
	term(&h, SIGINT);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert(line_with(read_log(&h), "draining", "signal=2", NULL));
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

/* SIGHUP too (a closed terminal, a process manager's stop signal), even
 * with SIGHUP ignored in the process that runs the supervisor. */
Test(supervisor, sighup_drains_too)
{
	struct host h = start(opts(1, 50, 2.0, 400), UNTIL_TERM);
	must_rec(&h);
	term(&h, SIGHUP);
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert(line_with(read_log(&h), "draining", "signal=1", NULL));
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, a_worker_ignoring_sigterm_is_killed_at_the_drain_deadline)
{
	struct supervisor_options o = opts(2, 50, 2.0, 400);
	o.drain_timeout_ms = 300;
	struct host h = start(o, MIXED);
	must_rec(&h);
	must_rec(&h);
	term(&h, SIGTERM);
	struct result res = finish(&h, GENEROUS_MS);
	long took = (long)(clock_monotonic_ms() - h.term_sent_ms);
	cr_assert_geq(took, 300, "killed before the deadline (%ld ms)", took);
	cr_assert_lt(took, GENEROUS_MS, "killed long after the deadline (%ld ms)", took);
	cr_assert_eq(res.rc, -ETIMEDOUT);
	cr_assert(strstr(res.msg, "1 worker(s) had to be killed"), "%s", res.msg);
	cr_assert_eq(res.st.killed, 1);
	cr_assert_eq(res.st.running, 0);
	const char *log = read_log(&h);
	cr_assert(line_with(log, "level=warning", "worker killed at drain deadline", "slot=1", NULL), "%s", log);
	cr_assert(line_with(log, "level=info", "msg=\"worker stopped\"", "slot=0", "exit_code=0", NULL), "%s", log);
	cr_assert(line_with(log, "worker stopped uncleanly", "slot=1", "signal=9", NULL), "%s", log);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, a_second_signal_kills_at_once)
{
	struct supervisor_options o = opts(1, 50, 2.0, 400);
	o.drain_timeout_ms = 4 * GENEROUS_MS;
	struct host h = start(o, IGNORE_TERM);
	must_rec(&h);
	term(&h, SIGTERM);
	usleep(100 * 1000);
	term(&h, SIGINT);
	struct result res = finish(&h, GENEROUS_MS);
	/* Killed at once: finish() waits far less than the drain timeout. */
	cr_assert_eq(res.rc, -ETIMEDOUT);
	cr_assert_eq(res.st.killed, 1);
	until_eof(&h, GENEROUS_MS);
	cleanup(&h);
}

Test(supervisor, no_busy_loop_while_a_restart_waits_and_the_drain_cancels_it)
{
	/* The second restart waits longer than finish() waits for the drain. */
	struct host h = start(opts(1, 2 * GENEROUS_MS, 2.0, 4 * GENEROUS_MS), EXIT_3);
	must_rec(&h);
	must_rec(&h);
	struct rec r;
	cr_assert_not(next_rec(&h, &r, 600, NULL), "restarted at once a second time");
	term(&h, SIGTERM);
	/* finish() fails if the pending restart held up the drain. */
	struct result res = finish(&h, GENEROUS_MS);
	cr_assert_eq(res.rc, 0, "%s", res.msg);
	cr_assert_eq(res.st.restarts, 1);
	/* Two starts, two exits, the signal: a few turns each, not a spin. */
	cr_assert_gt(res.polls, 0, "poll is interposed");
	cr_assert_leq(res.polls, 40, "the supervisor polled %ld times", res.polls);
	const char *log = read_log(&h);
	cr_assert(line_with(log, "worker crashed", "restart_in_ms=0", NULL), "the first restart is immediate:\n%s",
		  log);
	char want[64];
	snprintf(want, sizeof(want), "restart_in_ms=%d", 2 * GENEROUS_MS);
	cr_assert(line_with(log, "worker crashed", want, NULL), "%s", log);
	cr_assert_eq(until_eof(&h, GENEROUS_MS), 0);
	cleanup(&h);
}

/* ---- the supervisor dying ---- */

/* SIGKILLs the host, then reaps the orphaned workers (this test process is
 * their subreaper) and returns how many exited with want_code, failing if
 * any is still alive GENEROUS_MS later. */
static int kill_host_and_reap_workers(struct host *h, int workers, int want_code)
{
	int64_t killed_at = clock_monotonic_ms();
	cr_assert_eq(kill(h->pid, SIGKILL), 0);
	int status;
	cr_assert_eq(waitpid(h->pid, &status, 0), h->pid);
	int good = 0, reaped = 0;
	while (reaped < workers) {
		cr_assert_lt(clock_monotonic_ms() - killed_at, GENEROUS_MS,
			     "workers alive %d ms after the supervisor died", GENEROUS_MS);
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			usleep(5000);
			continue;
		}
		reaped++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == want_code)
			good++;
	}
	until_eof(h, GENEROUS_MS);
	return good;
}

Test(supervisor, workers_exit_when_the_supervisor_is_killed_pdeathsig)
{
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	struct host h = start(opts(2, 50, 2.0, 400), UNTIL_TERM);
	must_rec(&h);
	must_rec(&h);
	/* UNTIL_TERM workers watch no pipe: only PDEATHSIG's SIGTERM ends them. */
	cr_assert_eq(kill_host_and_reap_workers(&h, 2, 0), 2);
	cleanup(&h);
}

Test(supervisor, workers_exit_when_the_supervisor_is_killed_pipe_eof)
{
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	struct host h = start(opts(2, 50, 2.0, 400), IGNORE_TERM);
	must_rec(&h);
	must_rec(&h);
	/* These ignore SIGTERM: they exit 7 on EOF, which comes only if no
	 * sibling holds the supervisor's end of their pipe. */
	cr_assert_eq(kill_host_and_reap_workers(&h, 2, 7), 2);
	cleanup(&h);
}

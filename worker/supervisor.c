#include "config.h"

#include "supervisor.h"
#include "clock.h"
#include "err.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One worker slot. pid 0 = no worker: waiting for restart_at (or draining). */
struct slot {
	pid_t pid;
	int pipe_wr;           /* our end of the worker's parent pipe, -1 when none */
	int64_t started_ms;    /* when the running worker was forked */
	int64_t restart_at_ms; /* when pid is 0: when to fork again */
	unsigned fails;        /* deaths since the slot was last healthy */
	size_t starts;
	struct backoff backoff;
};

struct supervisor {
	struct supervisor_options o;
	struct slot *slots;
	int sigfd;
	bool ran;

	bool draining;
	bool killed_at_deadline;
	int64_t drain_deadline_ms;

	/* The times of the last storm_threshold + 1 deaths, a ring. */
	int64_t *death_ring;
	size_t ring_len, ring_head, ring_count;
	int64_t storm_logged_ms; /* when the storm line was last written; -1 = never */

	struct supervisor_stats st;
	char instance[17];
};

void supervisor_options_init(struct supervisor_options *o)
{
	memset(o, 0, sizeof(*o));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	o->workers = cpus < 1 ? 1 : cpus > INT_MAX ? INT_MAX : (int)cpus;
	o->restart_backoff = BACKOFF_WORKER_RESTART;
	o->healthy_reset_ms = 600000;
	o->storm_threshold = 10;
	o->storm_window_ms = 60000;
	o->drain_timeout_ms = 25000;
}

/* 16 hex digits from the kernel's random pool: two supervisors (on one
 * machine or not) never share one in practice. */
static int make_instance(char *buf, size_t len)
{
	unsigned char raw[8];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

const char *supervisor_instance(const struct supervisor *s)
{
	return s->instance;
}

int supervisor_new(const struct supervisor_options *o, struct supervisor **out, struct cx_err *err)
{
	*out = NULL;
	if (o->workers < 1)
		return cx_err_set(err, -EINVAL, "supervisor: workers must be >= 1, not %d", o->workers);
	if (!o->child)
		return cx_err_set(err, -EINVAL, "supervisor: no child function");
	if (o->healthy_reset_ms < 0 || o->storm_threshold < 1 || o->storm_window_ms <= 0 || o->drain_timeout_ms < 0)
		return cx_err_set(err, -EINVAL,
				  "supervisor: healthy_reset_ms (%ld) and drain_timeout_ms (%ld) must be >= 0, "
				  "storm_threshold (%d) >= 1 and storm_window_ms (%ld) > 0",
				  o->healthy_reset_ms, o->drain_timeout_ms, o->storm_threshold, o->storm_window_ms);
	int r = backoff_params_check(&o->restart_backoff, err);
	if (r < 0)
		return cx_err_wrap(err, r, "supervisor: restart ");

	struct supervisor *s = calloc(1, sizeof(*s));
	if (!s)
		goto oom;
	s->o = *o;
	s->sigfd = -1;
	s->storm_logged_ms = -1;
	s->ring_len = (size_t)o->storm_threshold + 1;
	s->slots = calloc((size_t)o->workers, sizeof(*s->slots));
	s->death_ring = calloc(s->ring_len, sizeof(*s->death_ring));
	if (!s->slots || !s->death_ring)
		goto oom;
	if (make_instance(s->instance, sizeof(s->instance)) < 0) {
		int e = errno;
		supervisor_free(&s);
		return cx_err_set(err, -e, "supervisor: cannot read random bytes for the instance id: %s", strerror(e));
	}
	for (int i = 0; i < o->workers; i++) {
		s->slots[i].pipe_wr = -1;
		/* Cannot fail: the parameters were checked above. */
		backoff_init(&s->slots[i].backoff, &o->restart_backoff, NULL);
	}
	*out = s;
	return 0;
oom:
	supervisor_free(&s);
	return cx_err_set(err, -ENOMEM, "supervisor: out of memory for %d slots", o->workers);
}

void supervisor_free(struct supervisor **sp)
{
	if (!sp || !*sp)
		return;
	struct supervisor *s = *sp;
	if (s->slots)
		for (int i = 0; i < s->o.workers; i++)
			if (s->slots[i].pipe_wr >= 0)
				close(s->slots[i].pipe_wr);
	if (s->sigfd >= 0)
		close(s->sigfd);
	free(s->slots);
	free(s->death_ring);
	free(s);
	*sp = NULL;
}

/* Whether the last storm_threshold + 1 deaths all fell within the window. */
static bool storming_at(const struct supervisor *s, int64_t now)
{
	if (s->ring_count < s->ring_len)
		return false;
	/* ring_head is the oldest entry once the ring is full. */
	return now - s->death_ring[s->ring_head] < s->o.storm_window_ms;
}

void supervisor_get_stats(const struct supervisor *s, struct supervisor_stats *out)
{
	*out = s->st;
	out->storming = storming_at(s, clock_monotonic_ms());
	out->draining = s->draining;
}

size_t supervisor_restarts(const struct supervisor *s)
{
	return s->st.restarts;
}

pid_t supervisor_slot_pid(const struct supervisor *s, int slot)
{
	if (slot < 0 || slot >= s->o.workers)
		return 0;
	return s->slots[slot].pid;
}

static void notify(struct supervisor *s)
{
	if (s->o.notify)
		s->o.notify(s->o.ud, s);
}

/* ---- the child side ---- */

int supervisor_child_init(int parent_pipe_fd, pid_t expected_parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		return -errno;
	/* The parent may have died between fork and prctl: then no signal will
	 * come, and we have been reparented already. */
	if (getppid() != expected_parent)
		return -ESRCH;
	if (parent_pipe_fd >= 0) {
		int fl = fcntl(parent_pipe_fd, F_GETFL);
		if (fl < 0 || fcntl(parent_pipe_fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
	}
	return 0;
}

bool supervisor_parent_gone(int parent_pipe_fd)
{
	char c;
	for (;;) {
		ssize_t n = read(parent_pipe_fd, &c, 1);
		if (n > 0)
			return false; /* the supervisor writes nothing today; data is not death */
		if (n == 0)
			return true;
		if (errno == EINTR)
			continue;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static bool is_fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
}

/* Every disposition back to SIG_DFL, except crash reporters (see the
 * header). The mask stays as it is: the caller empties it last. */
static void child_reset_handlers(void)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		struct sigaction old;
		if (sigaction(sig, NULL, &old) < 0)
			continue; /* signals the C library reserves for itself */
		bool is_dfl = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
		bool is_ign = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN;
		if (is_dfl || (is_fault_signal(sig) && !is_ign))
			continue;
		sigaction(sig, &dfl, NULL);
	}
}

/* The worker process between fork and the child function. Never returns. */
static void child_main(struct supervisor *s, int slot, int pipe_rd, int pipe_wr, pid_t parent)
{
	/* Nothing of the supervisor's may stay open here: a sibling's write end
	 * would hide the supervisor's death from that sibling, our own from us. */
	close(s->sigfd);
	close(pipe_wr);
	for (int i = 0; i < s->o.workers; i++)
		if (s->slots[i].pipe_wr >= 0)
			close(s->slots[i].pipe_wr);

	child_reset_handlers();
	/* Still blocked: a SIGTERM from PDEATHSIG or a drain stays pending
	 * until the mask is emptied below, then acts as it should. */
	if (supervisor_child_init(pipe_rd, parent) < 0)
		_exit(1); /* the supervisor is gone; nobody will look at the code */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	struct supervisor_child c = { .slot = slot,
				      .parent_pipe_fd = pipe_rd,
				      .instance = s->instance,
				      .restarts = s->slots[slot].starts > INT_MAX ? INT_MAX
										  : (int)s->slots[slot].starts };
	int rc = s->o.child(s->o.ud, &c);
	exit(rc & 0xff);
}

/* ---- the supervisor side ---- */

/* Forks the worker for slot i. On failure the slot is rescheduled with its
 * backoff, as if the worker had died. */
static void spawn(struct supervisor *s, int i, int64_t now)
{
	struct slot *sl = &s->slots[i];
	char slot_s[16], pid_s[16], n_s[24];
	snprintf(slot_s, sizeof(slot_s), "%d", i);

	int fds[2] = { -1, -1 };
	pid_t pid = -1;
	int e = 0;
	if (pipe2(fds, O_CLOEXEC) < 0) {
		e = errno;
	} else {
		/* What sits in stdio buffers would be written twice otherwise. */
		fflush(NULL);
		pid_t parent = getpid();
		pid = fork();
		if (pid == 0)
			child_main(s, i, fds[0], fds[1], parent);
		e = errno;
		close(fds[0]);
	}
	if (pid < 0) {
		if (fds[1] >= 0)
			close(fds[1]);
		s->st.fork_failures++;
		long delay = backoff_next_ms(&sl->backoff);
		sl->fails++;
		sl->restart_at_ms = now + delay;
		snprintf(n_s, sizeof(n_s), "%ld", delay);
		log_kv(LOG_LEVEL_ERROR, 0, "cannot start worker", "slot", slot_s, "error", strerror(e), "retry_in_ms",
		       n_s, NULL);
		notify(s);
		return;
	}

	sl->pid = pid;
	sl->pipe_wr = fds[1];
	sl->started_ms = now;
	if (sl->starts++ > 0)
		s->st.restarts++;
	s->st.starts++;
	s->st.running++;
	snprintf(pid_s, sizeof(pid_s), "%ld", (long)pid);
	snprintf(n_s, sizeof(n_s), "%zu", sl->starts - 1);
	log_kv(LOG_LEVEL_INFO, 2, "worker started", "slot", slot_s, "pid", pid_s, "restarts", n_s, NULL);
	notify(s);
}

/* Counts a death outside a drain and writes the storm line when deaths come
 * too fast, at most once per window. */
static void count_death(struct supervisor *s, int64_t now)
{
	s->death_ring[s->ring_head] = now;
	s->ring_head = (s->ring_head + 1) % s->ring_len;
	if (s->ring_count < s->ring_len)
		s->ring_count++;
	if (!storming_at(s, now))
		return;
	if (s->storm_logged_ms >= 0 && now - s->storm_logged_ms < s->o.storm_window_ms)
		return;
	s->storm_logged_ms = now;
	s->st.storms++;
	char n_s[24], win_s[24], thr_s[24];
	snprintf(n_s, sizeof(n_s), "%zu", s->ring_len);
	snprintf(win_s, sizeof(win_s), "%ld", s->o.storm_window_ms / 1000);
	snprintf(thr_s, sizeof(thr_s), "%d", s->o.storm_threshold);
	log_kv(LOG_LEVEL_ERROR, 0, "worker restart storm: workers keep dying, still restarting them with backoff",
	       "deaths", n_s, "window_s", win_s, "threshold", thr_s, NULL);
}

static struct slot *slot_of(struct supervisor *s, pid_t pid, int *index)
{
	for (int i = 0; i < s->o.workers; i++)
		if (s->slots[i].pid == pid) {
			*index = i;
			return &s->slots[i];
		}
	return NULL;
}

/* One reaped worker: log it, and schedule its restart unless draining. */
static void on_death(struct supervisor *s, pid_t pid, int status, int64_t now)
{
	char slot_s[16], pid_s[16], code_s[16], up_s[24], delay_s[24];
	int i;
	snprintf(pid_s, sizeof(pid_s), "%ld", (long)pid);
	struct slot *sl = slot_of(s, pid, &i);
	if (!sl) {
		/* A child of the process that is not ours: reaped all the same. */
		log_kv(LOG_LEVEL_INFO, 2, "reaped a process that is not a worker", "pid", pid_s, NULL);
		return;
	}
	snprintf(slot_s, sizeof(slot_s), "%d", i);
	int64_t uptime = now - sl->started_ms;
	snprintf(up_s, sizeof(up_s), "%lld", (long long)uptime);
	sl->pid = 0;
	if (sl->pipe_wr >= 0) {
		close(sl->pipe_wr);
		sl->pipe_wr = -1;
	}
	s->st.running--;

	bool signaled = WIFSIGNALED(status);
	int sig = signaled ? WTERMSIG(status) : 0;
	int code = signaled ? -1 : WEXITSTATUS(status);
	char sig_s[16];
	snprintf(sig_s, sizeof(sig_s), "%d", sig);
	snprintf(code_s, sizeof(code_s), "%d", code);
	const char *core = signaled && WCOREDUMP(status) ? "true" : "false";

	if (s->draining) {
		bool clean = code == 0 || sig == SIGTERM || sig == SIGINT;
		enum log_level lvl = clean ? LOG_LEVEL_INFO : LOG_LEVEL_WARNING;
		const char *msg = clean ? "worker stopped" : "worker stopped uncleanly";
		if (signaled)
			log_kv(lvl, 0, msg, "slot", slot_s, "pid", pid_s, "signal", sig_s, "signal_name",
			       strsignal(sig), "uptime_ms", up_s, NULL);
		else
			log_kv(lvl, 0, msg, "slot", slot_s, "pid", pid_s, "exit_code", code_s, "uptime_ms", up_s, NULL);
		notify(s);
		return;
	}

	s->st.deaths++;
	if (signaled || code != 0)
		s->st.crashes++;
	/* The first death after a healthy stretch restarts at once; each
	 * further one waits the next backoff step. */
	if (uptime >= s->o.healthy_reset_ms) {
		backoff_reset(&sl->backoff);
		sl->fails = 0;
	}
	long delay = sl->fails == 0 ? 0 : backoff_next_ms(&sl->backoff);
	sl->fails++;
	sl->restart_at_ms = now + delay;
	snprintf(delay_s, sizeof(delay_s), "%ld", delay);

	if (signaled)
		log_kv(LOG_LEVEL_ERROR, 0, "worker crashed", "slot", slot_s, "pid", pid_s, "signal", sig_s,
		       "signal_name", strsignal(sig), "core_dumped", core, "uptime_ms", up_s, "restart_in_ms", delay_s,
		       NULL);
	else if (code != 0)
		log_kv(LOG_LEVEL_ERROR, 0, "worker crashed", "slot", slot_s, "pid", pid_s, "exit_code", code_s,
		       "uptime_ms", up_s, "restart_in_ms", delay_s, NULL);
	else
		log_kv(LOG_LEVEL_WARNING, 0, "worker exited", "slot", slot_s, "pid", pid_s, "exit_code", code_s,
		       "uptime_ms", up_s, "restart_in_ms", delay_s, NULL);
	count_death(s, now);
	notify(s);
}

static void reap(struct supervisor *s)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			on_death(s, pid, status, clock_monotonic_ms());
			continue;
		}
		if (pid < 0 && errno == EINTR)
			continue;
		return; /* 0: none exited yet; ECHILD: no children left */
	}
}

static void kill_all(struct supervisor *s, int sig)
{
	for (int i = 0; i < s->o.workers; i++)
		if (s->slots[i].pid > 0)
			kill(s->slots[i].pid, sig);
}

static void start_drain(struct supervisor *s, int signo, int64_t now)
{
	char sig_s[16], n_s[16], t_s[24];
	snprintf(sig_s, sizeof(sig_s), "%d", signo);
	if (s->draining) {
		if (s->killed_at_deadline)
			return;
		log_kv(LOG_LEVEL_WARNING, 0, "signal during drain: killing the workers now", "signal", sig_s,
		       "signal_name", strsignal(signo), NULL);
		s->drain_deadline_ms = now; /* the deadline path below does the killing */
		return;
	}
	s->draining = true;
	s->drain_deadline_ms = now + s->o.drain_timeout_ms;
	snprintf(n_s, sizeof(n_s), "%d", s->st.running);
	snprintf(t_s, sizeof(t_s), "%ld", s->o.drain_timeout_ms);
	log_kv(LOG_LEVEL_INFO, 0, "draining: asking workers to finish their job and exit", "signal", sig_s,
	       "signal_name", strsignal(signo), "workers", n_s, "timeout_ms", t_s, NULL);
	kill_all(s, SIGTERM);
	notify(s);
}

static void drain_deadline(struct supervisor *s)
{
	s->killed_at_deadline = true;
	for (int i = 0; i < s->o.workers; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->pid <= 0)
			continue;
		char slot_s[16], pid_s[16];
		snprintf(slot_s, sizeof(slot_s), "%d", i);
		snprintf(pid_s, sizeof(pid_s), "%ld", (long)sl->pid);
		log_kv(LOG_LEVEL_WARNING, 0, "worker killed at drain deadline", "slot", slot_s, "pid", pid_s, NULL);
		kill(sl->pid, SIGKILL);
		s->st.killed++;
	}
	notify(s);
}

/* Reads every pending signal: SIGCHLD is handled by the reap that follows
 * each wake-up, SIGTERM and SIGINT start (or hurry) the drain when act. */
static void read_signals(struct supervisor *s, bool act)
{
	struct signalfd_siginfo si[8];
	for (;;) {
		ssize_t n = read(s->sigfd, si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (size_t k = 0; act && k < (size_t)n / sizeof(si[0]); k++)
			if (si[k].ssi_signo == SIGTERM || si[k].ssi_signo == SIGINT || si[k].ssi_signo == SIGHUP)
				start_drain(s, (int)si[k].ssi_signo, clock_monotonic_ms());
	}
}

/* How long poll may sleep: until the next restart, or the drain deadline;
 * -1 (for ever) when only a signal can change anything. */
static int next_timeout(const struct supervisor *s, int64_t now)
{
	int64_t next = -1;
	if (s->draining) {
		if (!s->killed_at_deadline)
			next = s->drain_deadline_ms;
	} else {
		for (int i = 0; i < s->o.workers; i++)
			if (s->slots[i].pid == 0 && (next < 0 || s->slots[i].restart_at_ms < next))
				next = s->slots[i].restart_at_ms;
	}
	if (next < 0)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

int supervisor_run(struct supervisor *s, struct cx_err *err)
{
	if (s->ran)
		return cx_err_set(err, -EINVAL, "supervisor: already ran");
	s->ran = true;

	sigset_t mask, old_mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &old_mask) < 0)
		return cx_err_set(err, -errno, "supervisor: blocking signals: %s", strerror(errno));
	/* With SIGCHLD ignored (or SA_NOCLDWAIT) the kernel would reap the
	 * workers itself and waitpid would never report them. */
	struct sigaction dfl, old_chld;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGCHLD, &dfl, &old_chld);
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sigfd < 0) {
		int e = errno;
		sigaction(SIGCHLD, &old_chld, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		return cx_err_set(err, -e, "supervisor: signalfd: %s", strerror(e));
	}

	char n_s[16];
	snprintf(n_s, sizeof(n_s), "%d", s->o.workers);
	log_kv(LOG_LEVEL_INFO, 0, "supervisor starting workers", "workers", n_s, "instance", s->instance, NULL);
	int64_t start = clock_monotonic_ms();
	for (int i = 0; i < s->o.workers; i++)
		s->slots[i].restart_at_ms = start;

	for (;;) {
		int64_t now = clock_monotonic_ms();
		if (!s->draining)
			for (int i = 0; i < s->o.workers; i++)
				if (s->slots[i].pid == 0 && s->slots[i].restart_at_ms <= now)
					spawn(s, i, now);
		if (s->draining && s->st.running == 0)
			break;
		if (s->draining && !s->killed_at_deadline && now >= s->drain_deadline_ms) {
			drain_deadline(s);
			continue;
		}

		struct pollfd pfd = { .fd = s->sigfd, .events = POLLIN };
		int r = poll(&pfd, 1, next_timeout(s, now));
		if (r < 0 && errno != EINTR) {
			/* Cannot happen with one valid descriptor; do not spin if it does. */
			log_kv(LOG_LEVEL_ERROR, 0, "supervisor: poll failed", "error", strerror(errno), NULL);
			sleep(1);
		}
		read_signals(s, true);
		reap(s);
	}

	/* Take what arrived meanwhile, so that unblocking does not act on it. */
	read_signals(s, false);
	close(s->sigfd);
	s->sigfd = -1;
	sigaction(SIGCHLD, &old_chld, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);

	if (s->killed_at_deadline) {
		return cx_err_set(err, -ETIMEDOUT,
				  "supervisor: %zu worker(s) had to be killed: they did not exit within the %ld ms "
				  "drain timeout (or a second signal came)",
				  s->st.killed, s->o.drain_timeout_ms);
	}
	log_kv(LOG_LEVEL_INFO, 0, "supervisor: all workers exited", NULL);
	return 0;
}

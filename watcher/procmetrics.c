#include "config.h"

#include "procmetrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "err.h"
#include "metrics.h"

int procmetrics_parse_stat(const char *text, long ticks, long page_size, double boot_time,
			   struct procmetrics_sample *out)
{
	const char *p = text ? strrchr(text, ')') : NULL;
	if (!p || ticks <= 0)
		return -EINVAL;
	/* After ")": field 3 (state) on. utime and stime are fields 14 and 15,
	 * starttime 22, vsize 23, rss 24. */
	unsigned long long utime, stime, start, vsize;
	long long rss;
	int n = sscanf(p + 1,
		       " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
		       &utime, &stime, &start, &vsize, &rss);
	if (n != 5)
		return -EINVAL;
	out->cpu_seconds = (double)(utime + stime) / (double)ticks;
	out->start_time_seconds = boot_time + (double)start / (double)ticks;
	out->virtual_bytes = (double)vsize;
	out->resident_bytes = (double)(rss < 0 ? 0 : rss) * (double)page_size;
	return 0;
}

struct proc {
	struct metrics_series *cpu, *resident, *virt, *fds, *max_fds, *start;
	double boot_time;
};

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = calloc(1, 8192);
	size_t n = buf ? fread(buf, 1, 8191, f) : 0;
	fclose(f);
	if (buf && !n) {
		free(buf);
		return NULL;
	}
	return buf;
}

static double boot_time(void)
{
	char *text = read_text("/proc/stat");
	const char *line = text ? strstr(text, "\nbtime ") : NULL;
	double t = line ? strtod(line + 7, NULL) : 0;
	free(text);
	return t;
}

static double open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	double n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory being read */
}

static void collect(void *ud)
{
	struct proc *p = ud;
	char *text = read_text("/proc/self/stat");
	struct procmetrics_sample s;
	if (text && !procmetrics_parse_stat(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), p->boot_time, &s)) {
		metrics_set(p->cpu, s.cpu_seconds);
		metrics_set(p->resident, s.resident_bytes);
		metrics_set(p->virt, s.virtual_bytes);
		metrics_set(p->start, s.start_time_seconds);
	}
	free(text);
	metrics_set(p->fds, open_fds());
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl))
		metrics_set(p->max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

int procmetrics_register(struct metrics *m, struct cx_err *err)
{
	/* Lives as long as the process: the registry has no hook to free it. */
	static struct proc p;
	struct metrics_family *f;
	int r;
#define FAMILY(field, fn, name, help)                                                                                  \
	do {                                                                                                           \
		if ((r = fn(m, name, help, NULL, &f, err)))                                                            \
			return r;                                                                                      \
		p.field = metrics_labels(f, NULL);                                                                     \
	} while (0)
	FAMILY(cpu, metrics_counter, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
	FAMILY(resident, metrics_gauge, "process_resident_memory_bytes", "Resident memory size in bytes.");
	FAMILY(virt, metrics_gauge, "process_virtual_memory_bytes", "Virtual memory size in bytes.");
	FAMILY(fds, metrics_gauge, "process_open_fds", "Number of open file descriptors.");
	FAMILY(max_fds, metrics_gauge, "process_max_fds", "Maximum number of open file descriptors.");
	FAMILY(start, metrics_gauge, "process_start_time_seconds",
	       "Start time of the process since unix epoch in seconds.");
#undef FAMILY
	p.boot_time = boot_time();
	r = metrics_add_collector(m, collect, &p);
	return r ? cx_err_set(err, r, "out of memory") : 0;
}

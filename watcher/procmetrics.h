/* procmetrics: the process metrics every Prometheus client exposes, so that
 * dashboards and alerts written for client_golang work on coxswain:
 *
 *   process_cpu_seconds_total        user + system CPU time
 *   process_resident_memory_bytes    resident set size
 *   process_virtual_memory_bytes     virtual memory size
 *   process_open_fds                 open file descriptors
 *   process_max_fds                  the soft limit on them
 *   process_start_time_seconds       start time, seconds since the epoch
 *
 * read from /proc/self when /metrics is rendered (a metrics collector), for
 * the watcher process itself. */
#ifndef COXSWAIN_PROCMETRICS_H
#define COXSWAIN_PROCMETRICS_H

struct cx_err;
struct metrics;

/* One reading of the process. */
struct procmetrics_sample {
	double cpu_seconds;
	double resident_bytes;
	double virtual_bytes;
	double start_time_seconds;
};

/* Parses /proc/<pid>/stat's text: utime, stime and starttime (in ticks per
 * second), vsize (bytes) and rss (pages of page_size bytes); boot_time is
 * /proc/stat's btime. The command name (field 2) may hold spaces and
 * parentheses: fields are counted from its last ')'. Returns 0, or -EINVAL
 * for text that is not a stat line. */
int procmetrics_parse_stat(const char *text, long ticks, long page_size, double boot_time,
			   struct procmetrics_sample *out);

/* Registers the families above in m with a collector that refreshes them
 * from /proc/self at every render. Returns 0, or a negative code with err
 * filled. */
int procmetrics_register(struct metrics *m, struct cx_err *err);

#endif

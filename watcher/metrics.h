/* metrics: a small Prometheus registry and its text exposition format 0.0.4.
 *
 * Three metric types (counter, gauge, histogram), each in a *family* with a
 * name, a help text and a fixed list of at most METRICS_MAX_LABELS label
 * names. A family holds one *series* per combination of label values.
 *
 * Families are registered at start-up and kept as handles. A series is
 * resolved from its label values once (metrics_series, a binary search that
 * creates it on first use) and then updated through its handle, so hot paths
 * do no string work:
 *
 *     struct metrics_family *reconciles = metrics_counter(m, "controller_runtime_reconcile_total",
 *             "Total number of reconciliations per controller", (const char *[]){"controller", "result", NULL}, err);
 *     struct metrics_series *ok = metrics_labels(reconciles, "websites", "success", NULL);
 *     ...
 *     metrics_inc(ok);
 *
 * Every update function accepts a NULL handle and does nothing, so code can
 * feed metrics that were never registered (metrics off, or a test without a
 * registry) without checks.
 *
 * State kept elsewhere (a queue's depth, a broker's worker table) is copied
 * in by a *collector*: a callback that metrics_render calls first, in the
 * order they were added, and that sets gauges (or counters) from it.
 *
 * This module knows nothing of HTTP: the httpd asks for metrics_render's text
 * through a callback, and the other modules see only handles. The families
 * coxswain exposes (docs/architecture.md §6) are registered together by
 * metrics_std_register, with small adapters for the work queue, the
 * controllers and the REST client at the end of this header.
 *
 * Output is stable: families sorted by name, series by label values (byte
 * order, first label first), as client_golang does. Families without series
 * are left out. Values are written as integers when they are whole (below
 * 2^53), else in the shortest form that reads back as the same double; NaN,
 * +Inf and -Inf as Prometheus spells them.
 *
 * Not thread-safe: the watcher is one event loop. */
#ifndef COXSWAIN_METRICS_H
#define COXSWAIN_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct metrics;
struct metrics_family;
struct metrics_series;

#define METRICS_MAX_LABELS 4
/* Bounds per histogram family (+Inf is implicit and not counted). */
#define METRICS_MAX_BUCKETS 64

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Returns an empty registry, or NULL when out of memory. */
struct metrics *metrics_new(void);

/* Frees the registry, its families and series (every handle dies with it),
 * and sets *m to NULL. NULL and *m NULL are fine. */
void metrics_free(struct metrics **m);

/* Registers a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new in
 * m; labels is a NULL-terminated list of label names matching
 * [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (NULL: no labels);
 * help is any text (newlines and backslashes are escaped). All are copied.
 * A family without labels gets its one series at once, so it is written
 * (as 0) before its first update. Hands out a handle owned by m in *out.
 * Returns 0, or with *out NULL and err filled: -EINVAL naming what is wrong,
 * -EEXIST for a duplicate name, -ENOMEM. */
int metrics_counter(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    struct metrics_family **out, struct cx_err *err);
int metrics_gauge(struct metrics *m, const char *name, const char *help, const char *const *labels,
		  struct metrics_family **out, struct cx_err *err);

/* As metrics_counter, for a histogram with the given upper bounds: finite,
 * strictly increasing, 1 to METRICS_MAX_BUCKETS of them (copied; +Inf is
 * added). "le" is not allowed as a label name. */
int metrics_histogram(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      const double *bounds, size_t nbounds, struct metrics_family **out, struct cx_err *err);

/* client-go's and controller-runtime's bucket sets. */
extern const double metrics_buckets_reconcile[]; /* 0.005 ... 60 s: controller_runtime_reconcile_time_seconds */
extern const size_t metrics_buckets_reconcile_n;
extern const double metrics_buckets_workqueue[]; /* 1e-8 * 10^i, i = 0..9: workqueue_*_duration_seconds */
extern const size_t metrics_buckets_workqueue_n;

/* The series of f for values[0..nlabels) (copied), created with value 0 if
 * it is new. values may be NULL for a family without labels. Returns a handle
 * owned by f, or NULL if f is NULL, a value is NULL, or memory ran out. */
struct metrics_series *metrics_series(struct metrics_family *f, const char *const *values);

/* metrics_series with the values as arguments, ending with NULL:
 *     metrics_labels(f, "websites", "success", NULL)
 * NULL also when the number of values is not the family's number of labels. */
struct metrics_series *metrics_labels(struct metrics_family *f, ...) __attribute__((sentinel));

/* Counter or gauge: adds 1. */
void metrics_inc(struct metrics_series *s);

/* Counter or gauge: adds v. A counter ignores a negative or NaN v (counters
 * only go up). */
void metrics_add(struct metrics_series *s, double v);

/* Gauge: sets the value. Also allowed on a counter, for a collector copying a
 * total counted elsewhere (workqueue_stats' adds_total). */
void metrics_set(struct metrics_series *s, double v);

/* Histogram: counts v in the first bucket whose bound is >= v, and adds it to
 * the sum. NaN is counted in +Inf only, as client_golang does. */
void metrics_observe(struct metrics_series *s, double v);

/* The value of a counter or gauge; a histogram's sum. 0 for NULL. */
double metrics_value(const struct metrics_series *s);

/* A histogram's number of observations; 0 for NULL or another type. */
uint64_t metrics_count(const struct metrics_series *s);

/* Adds a collector: fn(ud) is called at the start of every metrics_render.
 * Returns 0 or -ENOMEM. */
typedef void (*metrics_collect_fn)(void *ud);
int metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *ud);

/* Writes every family in the text format into a new NUL-terminated buffer:
 * *text (the caller frees it with free()) of *len bytes, the NUL not counted.
 * Calls the collectors first. Returns 0 or -ENOMEM (*text is then NULL). */
int metrics_render(struct metrics *m, char **text, size_t *len);

/* metrics_render with the signature of httpd_handlers.metrics (ud is the
 * struct metrics *). */
int metrics_render_cb(void *ud, char **text, size_t *len);

/* ---- coxswain's families (docs/architecture.md §6) ---- */

/* Handles to every family coxswain exposes. Names and labels:
 *   controller_runtime_reconcile_total{controller,result}   result: success|error|requeue|requeue_after
 *   controller_runtime_reconcile_errors_total{controller}
 *   controller_runtime_reconcile_time_seconds{controller}   histogram, metrics_buckets_reconcile
 *   controller_runtime_active_workers{controller}           gauge: jobs of the controller in flight
 *   workqueue_depth{name}, workqueue_adds_total{name}, workqueue_retries_total{name}
 *   workqueue_queue_duration_seconds{name}, workqueue_work_duration_seconds{name}   metrics_buckets_workqueue
 *   rest_client_requests_total{code,method,host}          every process's: the workers' come by name (STATS)
 *   leader_election_master_status{name}                     gauge 1 when leading, else 0
 *   coxswain_workers                                       gauge: connected workers
 *   coxswain_worker_restarts_total                         restarts the supervisors counted (from READY)
 *   coxswain_jobs_lost_total{reason}                       reason: restart|deadline|unreachable
 *   coxswain_worker_refusals_total                         READYs refused: another worker set's live worker held the slot
 *   coxswain_job_channel_auth_failures_total               connections the job channel's ZAP handler refused
 *   coxswain_poisoned_objects                              gauge
 *   coxswain_watch_restarts_total{resource}                watches that ended and were opened again
 *   coxswain_relists_total{resource}                       lists made again after 410 Gone
 *                                                          (resource: the collection's path)
 *   coxswain_controller_ready{controller}                  gauge 1 when its CRD is established and caches synced
 *   coxswain_watch_events_echo_dropped_total{controller}   watch events dropped as echoes of the
 *                                                          workers' own writes (watcher/echo.h)
 *   coxswain_echo_pending_parents{controller}              gauge: parents whose job is in flight or
 *                                                          whose writes' echoes are still awaited */
struct metrics_std {
	struct metrics_family *reconcile_total;
	struct metrics_family *reconcile_errors_total;
	struct metrics_family *reconcile_time_seconds;
	struct metrics_family *active_workers;
	struct metrics_family *workqueue_depth;
	struct metrics_family *workqueue_adds_total;
	struct metrics_family *workqueue_retries_total;
	struct metrics_family *workqueue_queue_duration_seconds;
	struct metrics_family *workqueue_work_duration_seconds;
	struct metrics_family *rest_client_requests_total;
	struct metrics_family *rest_client_rate_limiter_duration_seconds;
	struct metrics_family *leader;
	struct metrics_family *workers;
	struct metrics_family *worker_restarts_total;
	struct metrics_family *jobs_lost_total;
	struct metrics_family *worker_refusals_total;
	struct metrics_family *auth_failures_total;
	struct metrics_family *poisoned_objects;
	struct metrics_family *watch_restarts_total;
	struct metrics_family *relists_total;
	struct metrics_family *controller_ready;
	struct metrics_family *echo_dropped_total;
	struct metrics_family *echo_pending_parents;
};

/* Registers all of them in m and fills *std. Returns 0, or a negative code
 * with err filled (only -ENOMEM can happen on a fresh registry). */
int metrics_std_register(struct metrics *m, struct metrics_std *std, struct cx_err *err);

/* A reconcile's outcome, for controller_runtime_reconcile_total's result. */
enum metrics_result {
	METRICS_RESULT_SUCCESS,
	METRICS_RESULT_ERROR,
	METRICS_RESULT_REQUEUE,
	METRICS_RESULT_REQUEUE_AFTER,
};
#define METRICS_RESULT_N 4

/* One controller's series, resolved once by metrics_controller_bind. */
struct metrics_controller {
	struct metrics_series *result[METRICS_RESULT_N];
	struct metrics_series *errors;
	struct metrics_series *time;
	struct metrics_series *active;
	struct metrics_series *ready;
	struct metrics_series *echo_dropped;
	struct metrics_series *echo_pending;
};

/* Resolves (creating at 0, as controller-runtime does at start-up) the series
 * of controller name. std NULL leaves every handle NULL. Returns 0 or -ENOMEM. */
int metrics_controller_bind(const struct metrics_std *std, const char *name, struct metrics_controller *mc);

/* Counts one reconcile: its result, an error when result is
 * METRICS_RESULT_ERROR, and its duration in seconds. mc NULL is fine. */
void metrics_controller_reconciled(const struct metrics_controller *mc, enum metrics_result result, double seconds);

/* One work queue's series (label name = the queue's name). */
struct metrics_workqueue {
	struct metrics_series *depth;
	struct metrics_series *adds;
	struct metrics_series *retries;
	struct metrics_series *queue_duration;
	struct metrics_series *work_duration;
};

/* Resolves the series of the queue called name. Returns 0 or -ENOMEM. */
int metrics_workqueue_bind(const struct metrics_std *std, const char *name, struct metrics_workqueue *mq);

/* With the signature of struct workqueue_observer's functions (ud is the
 * struct metrics_workqueue *): observe a duration in ms as seconds.
 *     workqueue_set_observer(q, &(struct workqueue_observer){
 *             metrics_workqueue_queue_wait, metrics_workqueue_work, &mq});
 * Depth, adds and retries are copied from workqueue_stats by a collector
 * with metrics_set. */
void metrics_workqueue_queue_wait(void *ud, const char *key, int64_t ms);
void metrics_workqueue_work(void *ud, const char *key, int64_t ms);

/* Counts one REST request in rest_client_requests_total (ud is the
 * struct metrics_std *): code is the HTTP status, or 0 when no response came
 * (written "<error>", as client-go does); method upper case ("GET"); host as
 * in the URL ("10.96.0.1:443"). For a kclient request hook. */
void metrics_rest_request(void *ud, int code, const char *method, const char *host);

/* Observes one wait on the client-side limiter in
 * rest_client_rate_limiter_duration_seconds{verb,host} (ud is the struct
 * metrics_std *). For kclient_set_wait_observer. */
void metrics_rest_wait(void *ud, const char *verb, const char *host, int64_t waited_ns);

/* Adds a worker's growth of one of statset's limiter families
 * (STATSET_LIMITER_BUCKET: delta observations in the bucket of values' le;
 * STATSET_LIMITER_SUM_US: delta microseconds to the sum) to
 * rest_client_rate_limiter_duration_seconds. Returns 0, -ENOENT when family
 * is neither, -EINVAL for an le that is not one of the bounds, -ENOMEM. */
int metrics_rest_wait_from_worker(const struct metrics_std *std, const char *family, const char *const *values,
				  uint64_t delta);

/* Histogram: adds n observations to bucket i (0..nbounds, nbounds = +Inf)
 * and to the count, and v to the sum: for observations counted elsewhere
 * (a worker's). Ignored for another type or an i out of range. */
void metrics_histogram_add(struct metrics_series *s, size_t i, uint64_t n, double v);

/* Adds v to the series values (in the order of labels, NULL-terminated) of
 * the counter family called name, for counts that come by name (a worker's
 * STATS through the broker's on_worker_counter). Returns 0, -ENOENT when m
 * has no such family, -EINVAL when it is not a counter or its label names
 * are not labels, -ENOMEM. */
int metrics_add_by_name(struct metrics *m, const char *name, const char *const *labels, const char *const *values,
			double v);

#endif

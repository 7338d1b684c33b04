#include "config.h"

#include "metrics.h"
#include "statset.h"
#include "ratelimit.h"
#include "err.h"
#include "kclient.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics_series {
	const struct metrics_family *family;
	char *values[METRICS_MAX_LABELS];
	double value;      /* counter, gauge; a histogram's sum */
	uint64_t count;    /* histogram: observations */
	uint64_t *buckets; /* histogram: per bucket, NOT cumulative; nbounds + 1 (+Inf) */
};

struct metrics_family {
	char *name;
	char *help;
	enum metrics_type type;
	size_t nlabels;
	char *labels[METRICS_MAX_LABELS];
	double *bounds;
	size_t nbounds;
	struct metrics_series **series; /* sorted by label values */
	size_t nseries, capseries;
};

struct collector {
	metrics_collect_fn fn;
	void *ud;
};

struct metrics {
	struct metrics_family **families; /* sorted by name */
	size_t nfamilies, capfamilies;
	struct collector *collectors;
	size_t ncollectors, capcollectors;
};

const double metrics_buckets_reconcile[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1,  1.25, 1.5,
	1.75,  2,    2.5,   3,    3.5, 4,    4.5, 5,    6,   7,    8,   9,    10,  15,  20,  25,  30,  40, 50,   60,
};
const size_t metrics_buckets_reconcile_n = sizeof(metrics_buckets_reconcile) / sizeof(double);

/* client-go computes these as ExponentialBuckets(10e-9, 10, 10), whose
 * repeated multiplication drifts by an ulp ("9.999999999999999e-06"); the
 * literals are the values it means. */
const double metrics_buckets_workqueue[] = { 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10 };
const size_t metrics_buckets_workqueue_n = sizeof(metrics_buckets_workqueue) / sizeof(double);

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void series_free(struct metrics_series *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

static void family_free(struct metrics_family *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i]);
	free(f->series);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->labels[i]);
	free(f->bounds);
	free(f->help);
	free(f->name);
	free(f);
}

void metrics_free(struct metrics **m)
{
	if (!m || !*m)
		return;
	for (size_t i = 0; i < (*m)->nfamilies; i++)
		family_free((*m)->families[i]);
	free((*m)->families);
	free((*m)->collectors);
	free(*m);
	*m = NULL;
}

/* Grows *arr (of elements of size elem) so that one more fits. */
static int grow(void *arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*(void **)arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*(void **)arr = p;
	*cap = ncap;
	return 0;
}

static bool valid_name(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
			(p != s && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* Index where a family called name is or would go in m->families. */
static size_t family_slot(const struct metrics *m, const char *name, bool *found)
{
	size_t lo = 0, hi = m->nfamilies;
	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->families[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Checks and copies everything, then inserts the family in name order. */
static int family_new(struct metrics *m, enum metrics_type type, const char *name, const char *help,
		      const char *const *labels, const double *bounds, size_t nbounds, struct metrics_family **out,
		      struct cx_err *err)
{
	*out = NULL;
	if (!m)
		return cx_err_set(err, -EINVAL, "metrics: no registry for %s", name ? name : "(null)");
	if (!valid_name(name, true))
		return cx_err_set(err, -EINVAL,
				  "metrics: invalid metric name \"%s\": expected [a-zA-Z_:][a-zA-Z0-9_:]*",
				  name ? name : "(null)");
	bool found;
	size_t slot = family_slot(m, name, &found);
	if (found)
		return cx_err_set(err, -EEXIST, "metrics: %s is registered twice", name);
	size_t nlabels = 0;
	for (; labels && labels[nlabels]; nlabels++) {
		const char *l = labels[nlabels];
		if (nlabels == METRICS_MAX_LABELS)
			return cx_err_set(err, -EINVAL, "metrics: %s has more than %d labels", name,
					  METRICS_MAX_LABELS);
		if (!valid_name(l, false) || strncmp(l, "__", 2) == 0)
			return cx_err_set(err, -EINVAL,
					  "metrics: %s: invalid label name \"%s\": expected [a-zA-Z_][a-zA-Z0-9_]* not "
					  "starting with __",
					  name, l);
		if (type == METRICS_HISTOGRAM && strcmp(l, "le") == 0)
			return cx_err_set(err, -EINVAL, "metrics: %s: a histogram cannot have a label \"le\"", name);
		for (size_t j = 0; j < nlabels; j++)
			if (strcmp(labels[j], l) == 0)
				return cx_err_set(err, -EINVAL, "metrics: %s: label \"%s\" is listed twice", name, l);
	}
	if (type == METRICS_HISTOGRAM) {
		if (!bounds || nbounds == 0 || nbounds > METRICS_MAX_BUCKETS)
			return cx_err_set(err, -EINVAL, "metrics: %s: a histogram needs 1 to %d bucket bounds, got %zu",
					  name, METRICS_MAX_BUCKETS, bounds ? nbounds : 0);
		for (size_t i = 0; i < nbounds; i++) {
			if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
				return cx_err_set(
					err, -EINVAL,
					"metrics: %s: bucket bound %zu (%g) is not finite and greater than the one "
					"before",
					name, i, bounds[i]);
		}
	}

	struct metrics_family *f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	if (!f->name || !f->help)
		goto nomem;
	for (; f->nlabels < nlabels; f->nlabels++) {
		f->labels[f->nlabels] = strdup(labels[f->nlabels]);
		if (!f->labels[f->nlabels])
			goto nomem;
	}
	if (type == METRICS_HISTOGRAM) {
		f->bounds = malloc(nbounds * sizeof(double));
		if (!f->bounds)
			goto nomem;
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = nbounds;
	}
	if (grow(&m->families, &m->capfamilies, m->nfamilies, sizeof(*m->families)) < 0)
		goto nomem;
	/* A family without labels has exactly one series: make it now, so the
	 * family is written from the start. */
	if (nlabels == 0 && !metrics_series(f, NULL))
		goto nomem;
	memmove(&m->families[slot + 1], &m->families[slot], (m->nfamilies - slot) * sizeof(*m->families));
	m->families[slot] = f;
	m->nfamilies++;
	*out = f;
	return 0;
nomem:
	family_free(f);
	return cx_err_set(err, -ENOMEM, "metrics: out of memory registering %s", name);
}

int metrics_counter(struct metrics *m, const char *name, const char *help, const char *const *labels,
		    struct metrics_family **out, struct cx_err *err)
{
	return family_new(m, METRICS_COUNTER, name, help, labels, NULL, 0, out, err);
}

int metrics_gauge(struct metrics *m, const char *name, const char *help, const char *const *labels,
		  struct metrics_family **out, struct cx_err *err)
{
	return family_new(m, METRICS_GAUGE, name, help, labels, NULL, 0, out, err);
}

int metrics_histogram(struct metrics *m, const char *name, const char *help, const char *const *labels,
		      const double *bounds, size_t nbounds, struct metrics_family **out, struct cx_err *err)
{
	return family_new(m, METRICS_HISTOGRAM, name, help, labels, bounds, nbounds, out, err);
}

/* Orders series by their label values, first label first. */
static int values_cmp(const struct metrics_family *f, char *const *a, const char *const *b)
{
	for (size_t i = 0; i < f->nlabels; i++) {
		int c = strcmp(a[i], b[i]);
		if (c)
			return c;
	}
	return 0;
}

/* Finds the series of values by binary search, or creates it in order. */
struct metrics_series *metrics_series(struct metrics_family *f, const char *const *values)
{
	if (!f || (f->nlabels > 0 && !values))
		return NULL;
	for (size_t i = 0; i < f->nlabels; i++)
		if (!values[i])
			return NULL;
	size_t lo = 0, hi = f->nseries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = values_cmp(f, f->series[mid]->values, values);
		if (c == 0)
			return f->series[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (grow(&f->series, &f->capseries, f->nseries, sizeof(*f->series)) < 0)
		return NULL;
	struct metrics_series *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->family = f;
	for (size_t i = 0; i < f->nlabels; i++) {
		s->values[i] = strdup(values[i]);
		if (!s->values[i]) {
			series_free(s);
			return NULL;
		}
	}
	if (f->type == METRICS_HISTOGRAM) {
		s->buckets = calloc(f->nbounds + 1, sizeof(uint64_t));
		if (!s->buckets) {
			series_free(s);
			return NULL;
		}
	}
	memmove(&f->series[lo + 1], &f->series[lo], (f->nseries - lo) * sizeof(*f->series));
	f->series[lo] = s;
	f->nseries++;
	return s;
}

struct metrics_series *metrics_labels(struct metrics_family *f, ...)
{
	if (!f)
		return NULL;
	const char *values[METRICS_MAX_LABELS + 1];
	size_t n = 0;
	va_list ap;
	va_start(ap, f);
	for (const char *v; (v = va_arg(ap, const char *)) != NULL;) {
		if (n > f->nlabels)
			break;
		values[n++] = v;
	}
	va_end(ap);
	if (n != f->nlabels)
		return NULL;
	return metrics_series(f, values);
}

void metrics_inc(struct metrics_series *s)
{
	metrics_add(s, 1);
}

void metrics_add(struct metrics_series *s, double v)
{
	if (!s || s->family->type == METRICS_HISTOGRAM)
		return;
	if (s->family->type == METRICS_COUNTER && !(v >= 0))
		return;
	s->value += v;
}

void metrics_set(struct metrics_series *s, double v)
{
	if (!s || s->family->type == METRICS_HISTOGRAM)
		return;
	s->value = v;
}

void metrics_observe(struct metrics_series *s, double v)
{
	if (!s || s->family->type != METRICS_HISTOGRAM)
		return;
	const struct metrics_family *f = s->family;
	/* The first bound >= v; NaN compares false everywhere and lands in +Inf. */
	size_t lo = 0, hi = f->nbounds;
	if (isnan(v)) {
		lo = f->nbounds;
	} else {
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (f->bounds[mid] >= v)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	s->buckets[lo]++;
	s->count++;
	s->value += v;
}

void metrics_histogram_add(struct metrics_series *s, size_t i, uint64_t n, double v)
{
	if (!s || s->family->type != METRICS_HISTOGRAM || i > s->family->nbounds)
		return;
	s->buckets[i] += n;
	s->count += n;
	s->value += v;
}

double metrics_value(const struct metrics_series *s)
{
	return s ? s->value : 0;
}

uint64_t metrics_count(const struct metrics_series *s)
{
	return s && s->family->type == METRICS_HISTOGRAM ? s->count : 0;
}

int metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *ud)
{
	if (!m || !fn)
		return -EINVAL;
	if (grow(&m->collectors, &m->capcollectors, m->ncollectors, sizeof(*m->collectors)) < 0)
		return -ENOMEM;
	m->collectors[m->ncollectors++] = (struct collector){ fn, ud };
	return 0;
}

/* ---- rendering ---- */

/* A growing output buffer; once an allocation failed, it stays failed and
 * every append is a no-op, so the caller checks once at the end. */
struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->failed || b->len + more + 1 <= b->cap)
		return;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < b->len + more + 1)
		ncap *= 2;
	char *p = realloc(b->p, ncap);
	if (!p) {
		b->failed = true;
		return;
	}
	b->p = p;
	b->cap = ncap;
}

static void buf_putn(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	if (b->failed)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_putn(b, s, strlen(s));
}

static void buf_putc(struct buf *b, char c)
{
	buf_putn(b, &c, 1);
}

/* HELP text escapes backslash and newline; label values also the quote. */
static void buf_escaped(struct buf *b, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(b, "\\\\");
		else if (*s == '\n')
			buf_puts(b, "\\n");
		else if (quote && *s == '"')
			buf_puts(b, "\\\"");
		else
			buf_putc(b, *s);
	}
}

/* Formats v as Prometheus reads it: whole numbers as integers, otherwise
 * the shortest %g that reads back exactly (Go's 'g', -1). */
static void format_value(char out[40], double v)
{
	if (isnan(v)) {
		strcpy(out, "NaN");
	} else if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
	} else if (v == 0) {
		strcpy(out, "0"); /* also -0 */
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(out, 40, "%.0f", v);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(out, 40, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
}

static void buf_value(struct buf *b, double v)
{
	char tmp[40];
	format_value(tmp, v);
	buf_puts(b, tmp);
}

/* Writes `name{l1="v1",...,extra_name="extra_value"}`; the braces only when
 * there is a label. extra_name may be NULL. */
static void buf_sample_name(struct buf *b, const struct metrics_family *f, const char *suffix,
			    const struct metrics_series *s, const char *extra_name, const char *extra_value)
{
	buf_puts(b, f->name);
	buf_puts(b, suffix);
	if (f->nlabels == 0 && !extra_name)
		return;
	buf_putc(b, '{');
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			buf_putc(b, ',');
		buf_puts(b, f->labels[i]);
		buf_puts(b, "=\"");
		buf_escaped(b, s->values[i], true);
		buf_putc(b, '"');
	}
	if (extra_name) {
		if (f->nlabels)
			buf_putc(b, ',');
		buf_puts(b, extra_name);
		buf_puts(b, "=\"");
		buf_puts(b, extra_value);
		buf_putc(b, '"');
	}
	buf_putc(b, '}');
}

static void render_family(struct buf *b, const struct metrics_family *f)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };
	if (f->nseries == 0)
		return;
	buf_puts(b, "# HELP ");
	buf_puts(b, f->name);
	buf_putc(b, ' ');
	buf_escaped(b, f->help, false);
	buf_puts(b, "\n# TYPE ");
	buf_puts(b, f->name);
	buf_putc(b, ' ');
	buf_puts(b, type_names[f->type]);
	buf_putc(b, '\n');
	for (size_t i = 0; i < f->nseries; i++) {
		const struct metrics_series *s = f->series[i];
		if (f->type != METRICS_HISTOGRAM) {
			buf_sample_name(b, f, "", s, NULL, NULL);
			buf_putc(b, ' ');
			buf_value(b, s->value);
			buf_putc(b, '\n');
			continue;
		}
		uint64_t cumulative = 0;
		char le[40];
		for (size_t k = 0; k <= f->nbounds; k++) {
			cumulative += s->buckets[k];
			if (k < f->nbounds)
				format_value(le, f->bounds[k]);
			else
				strcpy(le, "+Inf");
			buf_sample_name(b, f, "_bucket", s, "le", le);
			buf_putc(b, ' ');
			buf_value(b, (double)cumulative);
			buf_putc(b, '\n');
		}
		buf_sample_name(b, f, "_sum", s, NULL, NULL);
		buf_putc(b, ' ');
		buf_value(b, s->value);
		buf_putc(b, '\n');
		buf_sample_name(b, f, "_count", s, NULL, NULL);
		buf_putc(b, ' ');
		buf_value(b, (double)s->count);
		buf_putc(b, '\n');
	}
}

int metrics_render(struct metrics *m, char **text, size_t *len)
{
	*text = NULL;
	*len = 0;
	if (!m)
		return -EINVAL;
	for (size_t i = 0; i < m->ncollectors; i++)
		m->collectors[i].fn(m->collectors[i].ud);
	struct buf b = { 0 };
	buf_reserve(&b, 0); /* an empty registry still gives "" rather than NULL */
	if (!b.failed)
		b.p[0] = '\0';
	for (size_t i = 0; i < m->nfamilies; i++)
		render_family(&b, m->families[i]);
	if (b.failed) {
		free(b.p);
		return -ENOMEM;
	}
	*text = b.p;
	*len = b.len;
	return 0;
}

int metrics_render_cb(void *ud, char **text, size_t *len)
{
	return metrics_render(ud, text, len);
}

/* ---- coxswain's families ---- */

int metrics_std_register(struct metrics *m, struct metrics_std *std, struct cx_err *err)
{
	static const char *const controller[] = { "controller", NULL };
	static const char *const controller_result[] = { "controller", "result", NULL };
	static const char *const name[] = { "name", NULL };
	static const char *const rest[] = { "code", "method", "host", NULL };
	static const char *const verb_host[] = { "verb", "host", NULL };
	static const char *const reason[] = { "reason", NULL };
	static const char *const resource[] = { "resource", NULL };

	cx_err_clear(err);
	memset(std, 0, sizeof(*std));
	int r;
	/* Each registration either fills its handle or fails with its code. */
#define REG(field, fn, ...)                                                                                            \
	do {                                                                                                           \
		if ((r = fn(m, __VA_ARGS__, &std->field, err)))                                                        \
			return r;                                                                                      \
	} while (0)
	REG(reconcile_total, metrics_counter, "controller_runtime_reconcile_total",
	    "Total number of reconciliations per controller", controller_result);
	REG(reconcile_errors_total, metrics_counter, "controller_runtime_reconcile_errors_total",
	    "Total number of reconciliation errors per controller", controller);
	REG(reconcile_time_seconds, metrics_histogram, "controller_runtime_reconcile_time_seconds",
	    "Length of time per reconciliation per controller", controller, metrics_buckets_reconcile,
	    metrics_buckets_reconcile_n);
	REG(active_workers, metrics_gauge, "controller_runtime_active_workers",
	    "Number of jobs of the controller in flight on workers", controller);
	REG(workqueue_depth, metrics_gauge, "workqueue_depth", "Current depth of workqueue", name);
	REG(workqueue_adds_total, metrics_counter, "workqueue_adds_total", "Total number of adds handled by workqueue",
	    name);
	REG(workqueue_retries_total, metrics_counter, "workqueue_retries_total",
	    "Total number of retries handled by workqueue", name);
	REG(workqueue_queue_duration_seconds, metrics_histogram, "workqueue_queue_duration_seconds",
	    "How long in seconds an item stays in workqueue before being requested", name, metrics_buckets_workqueue,
	    metrics_buckets_workqueue_n);
	REG(workqueue_work_duration_seconds, metrics_histogram, "workqueue_work_duration_seconds",
	    "How long in seconds processing an item from workqueue takes", name, metrics_buckets_workqueue,
	    metrics_buckets_workqueue_n);
	REG(rest_client_requests_total, metrics_counter, "rest_client_requests_total",
	    "Number of HTTP requests, partitioned by status code, method, and host", rest);
	REG(rest_client_rate_limiter_duration_seconds, metrics_histogram, "rest_client_rate_limiter_duration_seconds",
	    "Client side rate limiter latency in seconds. Broken down by verb, and host.", verb_host,
	    ratelimit_wait_buckets, RATELIMIT_WAIT_BUCKETS_N);
	REG(leader, metrics_gauge, "leader_election_master_status",
	    "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, "
	    "1 indicates master. 'name' is the string used to identify the lease.",
	    name);
	REG(workers, metrics_gauge, "coxswain_workers", "Number of workers connected to the broker", NULL);
	REG(worker_restarts_total, metrics_counter, "coxswain_worker_restarts_total",
	    "Worker restarts as the worker supervisors count them (forks of a slot after its first), "
	    "from the restart count each worker reports when it connects",
	    NULL);
	REG(jobs_lost_total, metrics_counter, "coxswain_jobs_lost_total",
	    "Jobs re-queued because their worker was lost, by how the loss was noticed "
	    "(restart, deadline, unreachable)",
	    reason);
	REG(worker_refusals_total, metrics_counter, "coxswain_worker_refusals_total",
	    "READY messages refused because a live worker of another supervisor instance held the slot", NULL);
	REG(auth_failures_total, metrics_counter, "coxswain_job_channel_auth_failures_total",
	    "Connections to the job channel refused by its CURVE authentication (ZAP)", NULL);
	REG(poisoned_objects, metrics_gauge, "coxswain_poisoned_objects",
	    "Objects not retried after repeated worker crashes", NULL);
	REG(watch_restarts_total, metrics_counter, "coxswain_watch_restarts_total",
	    "Watches that ended (the server's timeout, or a failure) and were opened again, per collection path",
	    resource);
	REG(relists_total, metrics_counter, "coxswain_relists_total",
	    "Lists made again after 410 Gone (the watch's resourceVersion was too old), per collection path", resource);
	REG(controller_ready, metrics_gauge, "coxswain_controller_ready",
	    "1 when the controller's CRD is established and its caches are synced, else 0", controller);
	REG(echo_dropped_total, metrics_counter, "coxswain_watch_events_echo_dropped_total",
	    "Watch events dropped because they echoed the workers' own writes (the parent is not synced "
	    "again for them)",
	    controller);
	REG(echo_pending_parents, metrics_gauge, "coxswain_echo_pending_parents",
	    "Parents whose job is in flight or whose writes' watch events are still awaited as echoes; it falls back "
	    "to 0 once the workers are idle and their writes have come back",
	    controller);
#undef REG
	return 0;
}

int metrics_controller_bind(const struct metrics_std *std, const char *name, struct metrics_controller *mc)
{
	static const char *const results[METRICS_RESULT_N] = { "success", "error", "requeue", "requeue_after" };
	memset(mc, 0, sizeof(*mc));
	if (!std)
		return 0;
	for (int r = 0; r < METRICS_RESULT_N; r++)
		if (!(mc->result[r] = metrics_labels(std->reconcile_total, name, results[r], NULL)))
			return -ENOMEM;
	mc->errors = metrics_labels(std->reconcile_errors_total, name, NULL);
	mc->time = metrics_labels(std->reconcile_time_seconds, name, NULL);
	mc->active = metrics_labels(std->active_workers, name, NULL);
	mc->ready = metrics_labels(std->controller_ready, name, NULL);
	mc->echo_dropped = metrics_labels(std->echo_dropped_total, name, NULL);
	mc->echo_pending = metrics_labels(std->echo_pending_parents, name, NULL);
	if (!mc->errors || !mc->time || !mc->active || !mc->ready || !mc->echo_dropped || !mc->echo_pending)
		return -ENOMEM;
	return 0;
}

void metrics_controller_reconciled(const struct metrics_controller *mc, enum metrics_result result, double seconds)
{
	if (!mc || (unsigned)result >= METRICS_RESULT_N)
		return;
	metrics_inc(mc->result[result]);
	if (result == METRICS_RESULT_ERROR)
		metrics_inc(mc->errors);
	metrics_observe(mc->time, seconds);
}

int metrics_workqueue_bind(const struct metrics_std *std, const char *name, struct metrics_workqueue *mq)
{
	memset(mq, 0, sizeof(*mq));
	if (!std)
		return 0;
	mq->depth = metrics_labels(std->workqueue_depth, name, NULL);
	mq->adds = metrics_labels(std->workqueue_adds_total, name, NULL);
	mq->retries = metrics_labels(std->workqueue_retries_total, name, NULL);
	mq->queue_duration = metrics_labels(std->workqueue_queue_duration_seconds, name, NULL);
	mq->work_duration = metrics_labels(std->workqueue_work_duration_seconds, name, NULL);
	if (!mq->depth || !mq->adds || !mq->retries || !mq->queue_duration || !mq->work_duration)
		return -ENOMEM;
	return 0;
}

void metrics_workqueue_queue_wait(void *ud, const char *key, int64_t ms)
{
	(void)key;
	struct metrics_workqueue *mq = ud;
	if (mq)
		metrics_observe(mq->queue_duration, (double)ms / 1000.0);
}

void metrics_workqueue_work(void *ud, const char *key, int64_t ms)
{
	(void)key;
	struct metrics_workqueue *mq = ud;
	if (mq)
		metrics_observe(mq->work_duration, (double)ms / 1000.0);
}

void metrics_rest_request(void *ud, int code, const char *method, const char *host)
{
	const struct metrics_std *std = ud;
	if (!std)
		return;
	char codebuf[16];
	metrics_inc(metrics_labels(std->rest_client_requests_total, kclient_code_label(code, codebuf),
				   method ? method : "", host ? host : "", NULL));
}

int metrics_add_by_name(struct metrics *m, const char *name, const char *const *labels, const char *const *values,
			double v)
{
	bool found;
	size_t i = m ? family_slot(m, name, &found) : 0;
	if (!m || !found)
		return -ENOENT;
	struct metrics_family *f = m->families[i];
	if (f->type != METRICS_COUNTER)
		return -EINVAL;
	for (size_t k = 0; k < f->nlabels; k++)
		if (!labels[k] || strcmp(labels[k], f->labels[k]))
			return -EINVAL;
	if (labels[f->nlabels])
		return -EINVAL;
	struct metrics_series *s = metrics_series(f, values);
	if (!s)
		return -ENOMEM;
	metrics_add(s, v);
	return 0;
}

void metrics_rest_wait(void *ud, const char *verb, const char *host, int64_t waited_ns)
{
	const struct metrics_std *std = ud;
	if (std)
		metrics_observe(metrics_labels(std->rest_client_rate_limiter_duration_seconds, verb ? verb : "",
					       host ? host : "", NULL),
				(double)waited_ns / 1e9);
}

int metrics_rest_wait_from_worker(const struct metrics_std *std, const char *family, const char *const *values,
				  uint64_t delta)
{
	bool bucket = !strcmp(family, STATSET_LIMITER_BUCKET);
	if (!bucket && strcmp(family, STATSET_LIMITER_SUM_US))
		return -ENOENT;
	struct metrics_series *s = metrics_series(std->rest_client_rate_limiter_duration_seconds, values);
	if (!s)
		return -ENOMEM;
	if (!bucket) {
		metrics_histogram_add(s, 0, 0, (double)delta / 1e6);
		return 0;
	}
	char le[32];
	for (size_t i = 0; i <= RATELIMIT_WAIT_BUCKETS_N; i++) {
		if (!strcmp(values[2], statset_le_label(i, le))) {
			metrics_histogram_add(s, i, delta, 0);
			return 0;
		}
	}
	return -EINVAL;
}

/* Unit tests for watcher/metrics: registration rules, updates through
 * handles, and the text exposition format byte for byte (ordering, escaping,
 * number formatting, cumulative histogram buckets), plus a checker of the
 * format's grammar run over coxswain's whole family set (Debian's
 * prometheus package, which has promtool, is ~100 MB: too much to install
 * for one check). */
#include "config.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics.h"
#include "statset.h"

static struct metrics *m;
static struct metrics_family *unused; /* the handle of a family a test does not use */

static void setup(void)
{
	m = metrics_new();
	cr_assert_not_null(m);
}

static void teardown(void)
{
	metrics_free(&m);
	cr_assert_null(m);
}

TestSuite(metrics, .init = setup, .fini = teardown);

/* Renders m and compares it with want, showing both on a mismatch. */
static void expect_render(const char *want)
{
	char *text = NULL;
	size_t len = 0;
	cr_assert_eq(metrics_render(m, &text, &len), 0);
	cr_assert_not_null(text);
	cr_assert_eq(len, strlen(text));
	cr_expect_str_eq(text, want, "rendered:\n%s\nwanted:\n%s", text, want);
	free(text);
}

static const char *const L_CONTROLLER[] = { "controller", NULL };
static const char *const L_CONTROLLER_RESULT[] = { "controller", "result", NULL };

Test(metrics, empty_registry_renders_nothing)
{
	expect_render("");
}

Test(metrics, counter_without_labels_is_written_from_the_start)
{
	struct cx_err err = { 0 };
	struct metrics_family *f = NULL;
	metrics_counter(m, "coxswain_worker_restarts_total", "Restarts.", NULL, &f, &err);
	cr_assert_not_null(f, "%s", err.msg);
	expect_render("# HELP coxswain_worker_restarts_total Restarts.\n"
		      "# TYPE coxswain_worker_restarts_total counter\n"
		      "coxswain_worker_restarts_total 0\n");
	struct metrics_series *s = metrics_series(f, NULL);
	metrics_inc(s);
	metrics_add(s, 2);
	metrics_add(s, -5); /* counters never go down */
	metrics_add(s, NAN);
	cr_assert_eq(metrics_value(s), 3);
	cr_assert_eq(metrics_labels(f, NULL), s, "the same series through either call");
	expect_render("# HELP coxswain_worker_restarts_total Restarts.\n"
		      "# TYPE coxswain_worker_restarts_total counter\n"
		      "coxswain_worker_restarts_total 3\n");
}

Test(metrics, families_by_name_series_by_label_values)
{
	struct cx_err err = { 0 };
	struct metrics_family *total = NULL;
	metrics_counter(m, "controller_runtime_reconcile_total", "Total reconciles.", L_CONTROLLER_RESULT, &total,
			&err);
	struct metrics_family *depth = NULL;
	metrics_gauge(m, "b_depth", "Depth.", (const char *[]){ "name", NULL }, &depth, &err);
	cr_assert(total && depth, "%s", err.msg);
	expect_render(""); /* no series yet: labelled families are left out */

	metrics_inc(metrics_labels(total, "websites", "success", NULL));
	metrics_inc(metrics_labels(total, "websites", "success", NULL));
	metrics_inc(metrics_labels(total, "websites", "error", NULL));
	metrics_inc(metrics_labels(total, "apps", "success", NULL));
	metrics_set(metrics_labels(depth, "q", NULL), 7);
	metrics_set(metrics_labels(depth, "q", NULL), -2.5);
	expect_render("# HELP b_depth Depth.\n"
		      "# TYPE b_depth gauge\n"
		      "b_depth{name=\"q\"} -2.5\n"
		      "# HELP controller_runtime_reconcile_total Total reconciles.\n"
		      "# TYPE controller_runtime_reconcile_total counter\n"
		      "controller_runtime_reconcile_total{controller=\"apps\",result=\"success\"} 1\n"
		      "controller_runtime_reconcile_total{controller=\"websites\",result=\"error\"} 1\n"
		      "controller_runtime_reconcile_total{controller=\"websites\",result=\"success\"} 2\n");
}

Test(metrics, handles_are_stable_and_shared)
{
	struct metrics_family *f = NULL;
	metrics_gauge(m, "g", "", L_CONTROLLER, &f, NULL);
	struct metrics_series *a = metrics_labels(f, "a", NULL);
	/* Enough inserts in front of a to move the series array many times. */
	char name[16];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "0%03d", i);
		metrics_inc(metrics_labels(f, name, NULL));
	}
	cr_assert_eq(metrics_labels(f, "a", NULL), a);
	metrics_add(a, 1.5);
	metrics_add(a, -0.5);
	cr_assert_eq(metrics_value(metrics_labels(f, "a", NULL)), 1);
}

Test(metrics, wrong_label_count_gives_null_and_null_is_harmless)
{
	struct metrics_family *f = NULL;
	metrics_counter(m, "c_total", "", L_CONTROLLER_RESULT, &f, NULL);
	cr_assert_null(metrics_labels(f, "only-one", NULL));
	cr_assert_null(metrics_labels(f, "a", "b", "c", NULL));
	cr_assert_null(metrics_series(f, NULL));
	cr_assert_null(metrics_series(f, (const char *[]){ "a", NULL }), "a NULL value");
	cr_assert_null(metrics_labels(NULL, "x", NULL));
	metrics_inc(NULL);
	metrics_add(NULL, 1);
	metrics_set(NULL, 1);
	metrics_observe(NULL, 1);
	cr_assert_eq(metrics_value(NULL), 0);
	cr_assert_eq(metrics_count(NULL), 0);
	expect_render("");
}

Test(metrics, escaping_of_help_and_label_values)
{
	struct metrics_family *f = NULL;
	metrics_counter(m, "esc_total", "Back\\slash and \"quotes\"\nnew line.", (const char *[]){ "v", NULL }, &f,
			NULL);
	cr_assert_not_null(f);
	metrics_inc(metrics_labels(f, "a\\b\"c\nd", NULL));
	metrics_inc(metrics_labels(f, "ünïcode", NULL));
	/* HELP escapes backslash and newline only; label values also quotes. */
	expect_render("# HELP esc_total Back\\\\slash and \"quotes\"\\nnew line.\n"
		      "# TYPE esc_total counter\n"
		      "esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"
		      "esc_total{v=\"ünïcode\"} 1\n");
}

Test(metrics, number_formatting)
{
	struct metrics_family *f = NULL;
	metrics_gauge(m, "n", "", (const char *[]){ "k", NULL }, &f, NULL);
	metrics_set(metrics_labels(f, "a_int", NULL), 42);
	metrics_set(metrics_labels(f, "b_frac", NULL), 0.1);
	metrics_set(metrics_labels(f, "c_third", NULL), 1.0 / 3);
	metrics_set(metrics_labels(f, "d_small", NULL), 1e-9);
	metrics_set(metrics_labels(f, "e_big", NULL), 1e300);
	metrics_set(metrics_labels(f, "f_2p53", NULL), 18014398509481984.0); /* 2^54: %g keeps 17 digits */
	metrics_set(metrics_labels(f, "g_nan", NULL), NAN);
	metrics_set(metrics_labels(f, "h_inf", NULL), INFINITY);
	metrics_set(metrics_labels(f, "i_ninf", NULL), -INFINITY);
	metrics_set(metrics_labels(f, "j_negzero", NULL), -0.0);
	metrics_set(metrics_labels(f, "k_neg", NULL), -1234567);
	expect_render("# HELP n \n"
		      "# TYPE n gauge\n"
		      "n{k=\"a_int\"} 42\n"
		      "n{k=\"b_frac\"} 0.1\n"
		      "n{k=\"c_third\"} 0.3333333333333333\n"
		      "n{k=\"d_small\"} 1e-09\n"
		      "n{k=\"e_big\"} 1e+300\n"
		      "n{k=\"f_2p53\"} 18014398509481984\n"
		      "n{k=\"g_nan\"} NaN\n"
		      "n{k=\"h_inf\"} +Inf\n"
		      "n{k=\"i_ninf\"} -Inf\n"
		      "n{k=\"j_negzero\"} 0\n"
		      "n{k=\"k_neg\"} -1234567\n");
}

Test(metrics, histogram_buckets_are_cumulative_with_inf_sum_count)
{
	static const double bounds[] = { 0.1, 0.5, 1 };
	struct cx_err err = { 0 };
	struct metrics_family *f = NULL;
	metrics_histogram(m, "h_seconds", "A histogram.", L_CONTROLLER, bounds, 3, &f, &err);
	cr_assert_not_null(f, "%s", err.msg);
	struct metrics_series *s = metrics_labels(f, "w", NULL);
	metrics_observe(s, 0.05); /* bucket 0.1 */
	metrics_observe(s, 0.1);  /* le is inclusive: bucket 0.1 */
	metrics_observe(s, 0.3);  /* 0.5 */
	metrics_observe(s, 2);    /* +Inf only */
	metrics_observe(s, 3);    /* +Inf only */
	cr_assert_eq(metrics_count(s), 5);
	cr_assert_float_eq(metrics_value(s), 5.45, 1e-12);
	metrics_inc(s); /* not a counter: ignored */
	struct metrics_series *empty = metrics_labels(f, "a", NULL);
	(void)empty;
	expect_render("# HELP h_seconds A histogram.\n"
		      "# TYPE h_seconds histogram\n"
		      "h_seconds_bucket{controller=\"a\",le=\"0.1\"} 0\n"
		      "h_seconds_bucket{controller=\"a\",le=\"0.5\"} 0\n"
		      "h_seconds_bucket{controller=\"a\",le=\"1\"} 0\n"
		      "h_seconds_bucket{controller=\"a\",le=\"+Inf\"} 0\n"
		      "h_seconds_sum{controller=\"a\"} 0\n"
		      "h_seconds_count{controller=\"a\"} 0\n"
		      "h_seconds_bucket{controller=\"w\",le=\"0.1\"} 2\n"
		      "h_seconds_bucket{controller=\"w\",le=\"0.5\"} 3\n"
		      "h_seconds_bucket{controller=\"w\",le=\"1\"} 3\n"
		      "h_seconds_bucket{controller=\"w\",le=\"+Inf\"} 5\n"
		      "h_seconds_sum{controller=\"w\"} 5.45\n"
		      "h_seconds_count{controller=\"w\"} 5\n");
}

Test(metrics, histogram_without_labels_and_nan)
{
	static const double bounds[] = { 1 };
	struct metrics_family *f = NULL;
	metrics_histogram(m, "h", "", NULL, bounds, 1, &f, NULL);
	struct metrics_series *s = metrics_series(f, NULL);
	metrics_observe(s, NAN);
	metrics_observe(s, 1);
	metrics_observe(s, -1);
	expect_render("# HELP h \n"
		      "# TYPE h histogram\n"
		      "h_bucket{le=\"1\"} 2\n"
		      "h_bucket{le=\"+Inf\"} 3\n"
		      "h_sum NaN\n"
		      "h_count 3\n");
}

Test(metrics, client_go_bucket_bounds)
{
	cr_assert_eq(metrics_buckets_reconcile_n, 40);
	cr_assert_eq(metrics_buckets_reconcile[0], 0.005);
	cr_assert_eq(metrics_buckets_reconcile[39], 60);
	cr_assert_eq(metrics_buckets_workqueue_n, 10);
	struct metrics_family *f = NULL;
	metrics_histogram(m, "wq", "", NULL, metrics_buckets_workqueue, metrics_buckets_workqueue_n, &f, NULL);
	metrics_observe(metrics_series(f, NULL), 0.002);
	expect_render("# HELP wq \n"
		      "# TYPE wq histogram\n"
		      "wq_bucket{le=\"1e-08\"} 0\n"
		      "wq_bucket{le=\"1e-07\"} 0\n"
		      "wq_bucket{le=\"1e-06\"} 0\n"
		      "wq_bucket{le=\"1e-05\"} 0\n"
		      "wq_bucket{le=\"0.0001\"} 0\n"
		      "wq_bucket{le=\"0.001\"} 0\n"
		      "wq_bucket{le=\"0.01\"} 1\n"
		      "wq_bucket{le=\"0.1\"} 1\n"
		      "wq_bucket{le=\"1\"} 1\n"
		      "wq_bucket{le=\"10\"} 1\n"
		      "wq_bucket{le=\"+Inf\"} 1\n"
		      "wq_sum 0.002\n"
		      "wq_count 1\n");
}

Test(metrics, registration_errors_name_the_problem)
{
	struct cx_err err = { 0 };
	static const double ok[] = { 1, 2 };
	static const double unsorted[] = { 1, 1 };
	static const double inf[] = { 1, INFINITY };

	cr_assert_lt(metrics_counter(m, "9lives", "", NULL, &unused, &err), 0);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "\"9lives\""), "%s", err.msg);
	cr_assert_lt(metrics_counter(m, "a-b", "", NULL, &unused, &err), 0);
	cr_assert_lt(metrics_counter(m, "", "", NULL, &unused, &err), 0);
	cr_assert_lt(metrics_counter(m, NULL, "", NULL, &unused, &err), 0);
	cr_assert_lt(metrics_counter(m, "ok", "", (const char *[]){ "a:b", NULL }, &unused, &err), 0);
	cr_assert(strstr(err.msg, "\"a:b\""), "%s", err.msg);
	cr_assert_lt(metrics_counter(m, "ok", "", (const char *[]){ "__reserved", NULL }, &unused, &err), 0);
	cr_assert_lt(metrics_counter(m, "ok", "", (const char *[]){ "a", "a", NULL }, &unused, &err), 0);
	cr_assert(strstr(err.msg, "twice"), "%s", err.msg);
	cr_assert_lt(metrics_counter(m, "ok", "", (const char *[]){ "a", "b", "c", "d", "e", NULL }, &unused, &err), 0);
	cr_assert_lt(metrics_histogram(m, "h", "", (const char *[]){ "le", NULL }, ok, 2, &unused, &err), 0);
	cr_assert_lt(metrics_histogram(m, "h", "", NULL, unsorted, 2, &unused, &err), 0);
	cr_assert(strstr(err.msg, "bucket bound 1"), "%s", err.msg);
	cr_assert_lt(metrics_histogram(m, "h", "", NULL, inf, 2, &unused, &err), 0);
	cr_assert_lt(metrics_histogram(m, "h", "", NULL, ok, 0, &unused, &err), 0);
	cr_assert_lt(metrics_histogram(m, "h", "", NULL, NULL, 2, &unused, &err), 0);

	cr_assert_eq(
		metrics_counter(m, "ok:colons_total", "", (const char *[]){ "a", "b", "c", "d", NULL }, &unused, &err),
		0, "%s", err.msg);
	cr_assert_lt(metrics_gauge(m, "ok:colons_total", "", NULL, &unused, &err), 0);
	cr_assert_eq(err.code, -EEXIST);
	cr_assert(strstr(err.msg, "ok:colons_total"), "%s", err.msg);
	expect_render(""); /* failed registrations left nothing behind */
}

static int collected;

static void collect(void *ud)
{
	struct metrics_series *depth = ud;
	collected++;
	metrics_set(depth, 10 + collected);
}

Test(metrics, collectors_run_before_each_render)
{
	struct metrics_family *f = NULL;
	metrics_gauge(m, "workqueue_depth", "Depth.", (const char *[]){ "name", NULL }, &f, NULL);
	struct metrics_series *s = metrics_labels(f, "websites", NULL);
	collected = 0;
	cr_assert_eq(metrics_add_collector(m, collect, s), 0);
	expect_render("# HELP workqueue_depth Depth.\n"
		      "# TYPE workqueue_depth gauge\n"
		      "workqueue_depth{name=\"websites\"} 11\n");
	expect_render("# HELP workqueue_depth Depth.\n"
		      "# TYPE workqueue_depth gauge\n"
		      "workqueue_depth{name=\"websites\"} 12\n");
	cr_assert_eq(metrics_add_collector(m, NULL, NULL), -EINVAL);
}

/* ---- the standard families and their adapters ---- */

/* The value of the sample line that starts with prefix + ' ', or NAN. */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return NAN;
}

/* A checker for the text format's grammar (what promtool's lint looks at):
 * every line a HELP, a TYPE (once per family, before its samples, one of the
 * known types), or `name{labels} value` with a valid name belonging to the
 * family last TYPEd, quoted and escaped label values, a parseable value;
 * histogram buckets non-decreasing and ending in +Inf equal to _count. */
static void check_exposition(const char *text)
{
	char family[256] = "", type[32] = "";
	double last_bucket = -1, inf_bucket = -1;
	const char *line = text;
	int lineno = 0;
	cr_assert(*text == '\0' || text[strlen(text) - 1] == '\n', "output ends with a newline");
	while (*line) {
		lineno++;
		const char *end = strchr(line, '\n');
		cr_assert_not_null(end);
		char buf[1024];
		size_t len = (size_t)(end - line);
		cr_assert_lt(len, sizeof(buf));
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = end + 1;
		if (strncmp(buf, "# HELP ", 7) == 0) {
			char name[256];
			cr_assert_eq(sscanf(buf + 7, "%255s", name), 1, "line %d", lineno);
			cr_assert_str_neq(name, family, "line %d: HELP twice for %s", lineno, name);
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			char name[256], t[32];
			cr_assert_eq(sscanf(buf + 7, "%255s %31s", name, t), 2, "line %d: %s", lineno, buf);
			cr_assert(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 || strcmp(t, "histogram") == 0,
				  "line %d: type %s", lineno, t);
			cr_assert(strcmp(name, family) > 0, "line %d: families sorted and once: %s after %s", lineno,
				  name, family);
			strcpy(family, name);
			strcpy(type, t);
			last_bucket = -1;
			continue;
		}
		cr_assert_neq(buf[0], '#', "line %d: unknown comment %s", lineno, buf);
		/* name */
		const char *p = buf;
		cr_assert(isalpha((unsigned char)*p) || *p == '_' || *p == ':', "line %d: %s", lineno, buf);
		while (isalnum((unsigned char)*p) || *p == '_' || *p == ':')
			p++;
		char name[256];
		memcpy(name, buf, (size_t)(p - buf));
		name[p - buf] = '\0';
		size_t fl = strlen(family);
		cr_assert(strncmp(name, family, fl) == 0, "line %d: sample %s outside family %s", lineno, name, family);
		const char *suffix = name + fl;
		if (strcmp(type, "histogram") == 0)
			cr_assert(strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
					  strcmp(suffix, "_count") == 0,
				  "line %d: %s", lineno, name);
		else
			cr_assert_str_empty(suffix, "line %d: %s", lineno, name);
		/* labels */
		bool has_le = false, le_inf = false;
		if (*p == '{') {
			p++;
			while (*p != '}') {
				const char *ls = p;
				cr_assert(isalpha((unsigned char)*p) || *p == '_', "line %d: label at %s", lineno, p);
				while (isalnum((unsigned char)*p) || *p == '_')
					p++;
				bool is_le = (p - ls == 2 && strncmp(ls, "le", 2) == 0);
				cr_assert(p[0] == '=' && p[1] == '"', "line %d: %s", lineno, buf);
				p += 2;
				const char *vs = p;
				while (*p != '"') {
					cr_assert(*p != '\0', "line %d: unterminated value", lineno);
					if (*p == '\\') {
						cr_assert(p[1] == '\\' || p[1] == '"' || p[1] == 'n',
							  "line %d: bad escape", lineno);
						p++;
					}
					p++;
				}
				if (is_le) {
					has_le = true;
					le_inf = (p - vs == 4 && strncmp(vs, "+Inf", 4) == 0);
				}
				p++;
				if (*p == ',')
					p++;
				else
					cr_assert_eq(*p, '}', "line %d: %s", lineno, buf);
			}
			p++;
		}
		cr_assert_eq(has_le, strcmp(suffix, "_bucket") == 0, "line %d: le only on buckets", lineno);
		/* value */
		cr_assert_eq(*p, ' ', "line %d: %s", lineno, buf);
		p++;
		char *vend;
		double v = strtod(p, &vend);
		cr_assert(vend != p && *vend == '\0', "line %d: value \"%s\"", lineno, p);
		if (strcmp(suffix, "_bucket") == 0) {
			cr_assert_geq(v, last_bucket < 0 ? 0 : last_bucket, "line %d: buckets are cumulative", lineno);
			last_bucket = le_inf ? -1 : v;
			if (le_inf)
				inf_bucket = v;
		}
		if (strcmp(type, "histogram") == 0 && strcmp(suffix, "_count") == 0)
			cr_assert_eq(v, inf_bucket, "line %d: _count equals the +Inf bucket", lineno);
		if (strcmp(type, "counter") == 0)
			cr_assert_geq(v, 0, "line %d: counter below 0", lineno);
	}
}

Test(metrics, std_families_render_in_the_text_format)
{
	struct metrics_std std;
	struct cx_err err = { 0 };
	cr_assert_eq(metrics_std_register(m, &std, &err), 0, "%s", err.msg);
	cr_assert_neq(metrics_std_register(m, &std, &err), 0, "registering twice fails");
	cr_assert_eq(err.code, -EEXIST);
	cr_assert_eq(metrics_std_register(m, &std, NULL), -EEXIST);
	/* std was cleared by the failed call: register again into a fresh registry. */
	metrics_free(&m);
	m = metrics_new();
	cr_assert_eq(metrics_std_register(m, &std, &err), 0, "%s", err.msg);

	struct metrics_controller websites, apps;
	cr_assert_eq(metrics_controller_bind(&std, "websites", &websites), 0);
	cr_assert_eq(metrics_controller_bind(&std, "apps", &apps), 0);
	metrics_controller_reconciled(&websites, METRICS_RESULT_SUCCESS, 0.02);
	metrics_controller_reconciled(&websites, METRICS_RESULT_ERROR, 1.1);
	metrics_controller_reconciled(&websites, METRICS_RESULT_REQUEUE_AFTER, 0.001);
	metrics_controller_reconciled(&websites, (enum metrics_result)99, 1); /* ignored */
	metrics_controller_reconciled(NULL, METRICS_RESULT_ERROR, 1);
	metrics_set(websites.ready, 1);
	metrics_set(websites.echo_dropped, 5);
	metrics_set(websites.echo_pending, 2);

	struct metrics_workqueue wq;
	cr_assert_eq(metrics_workqueue_bind(&std, "websites", &wq), 0);
	metrics_workqueue_queue_wait(&wq, "websites/ns/a", 3);
	metrics_workqueue_work(&wq, "websites/ns/a", 250);
	metrics_set(wq.depth, 4);
	metrics_set(wq.adds, 17);

	metrics_rest_request(&std, 200, "GET", "10.96.0.1:443");
	metrics_rest_request(&std, 200, "GET", "10.96.0.1:443");
	metrics_rest_request(&std, 0, "PATCH", "10.96.0.1:443");
	metrics_rest_request(NULL, 200, "GET", "x");
	metrics_set(metrics_series(std.workers, NULL), 4);
	metrics_inc(metrics_series(std.worker_restarts_total, NULL));
	metrics_inc(metrics_labels(std.watch_restarts_total, "example.com/v1/websites", NULL));
	metrics_inc(metrics_labels(std.jobs_lost_total, "heartbeat", NULL));
	metrics_set(metrics_labels(std.leader, "coxswain", NULL), 1);

	char *text = NULL;
	size_t len;
	cr_assert_eq(metrics_render(m, &text, &len), 0);
	check_exposition(text);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_total{controller=\"websites\",result=\"success\"}"), 1);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_total{controller=\"websites\",result=\"error\"}"), 1);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_total{controller=\"websites\",result=\"requeue\"}"), 0);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_total{controller=\"apps\",result=\"requeue_after\"}"),
		     0, "bound controllers start at 0");
	cr_assert_eq(sample(text, "controller_runtime_reconcile_errors_total{controller=\"websites\"}"), 1);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_errors_total{controller=\"apps\"}"), 0);
	cr_assert_eq(
		sample(text, "controller_runtime_reconcile_time_seconds_bucket{controller=\"websites\",le=\"0.005\"}"),
		1);
	cr_assert_eq(
		sample(text, "controller_runtime_reconcile_time_seconds_bucket{controller=\"websites\",le=\"1.25\"}"),
		3);
	cr_assert_eq(sample(text, "controller_runtime_reconcile_time_seconds_count{controller=\"websites\"}"), 3);
	cr_assert_eq(sample(text, "coxswain_controller_ready{controller=\"websites\"}"), 1);
	cr_assert_eq(sample(text, "coxswain_controller_ready{controller=\"apps\"}"), 0);
	cr_assert_eq(sample(text, "coxswain_watch_events_echo_dropped_total{controller=\"websites\"}"), 5);
	cr_assert_eq(sample(text, "coxswain_watch_events_echo_dropped_total{controller=\"apps\"}"), 0,
		     "bound controllers start at 0");
	cr_assert_eq(sample(text, "coxswain_echo_pending_parents{controller=\"websites\"}"), 2);
	cr_assert_eq(sample(text, "coxswain_echo_pending_parents{controller=\"apps\"}"), 0);
	cr_assert_eq(sample(text, "workqueue_depth{name=\"websites\"}"), 4);
	cr_assert_eq(sample(text, "workqueue_adds_total{name=\"websites\"}"), 17);
	cr_assert_eq(sample(text, "workqueue_retries_total{name=\"websites\"}"), 0);
	cr_assert_eq(sample(text, "workqueue_queue_duration_seconds_bucket{name=\"websites\",le=\"0.001\"}"), 0);
	cr_assert_eq(sample(text, "workqueue_queue_duration_seconds_bucket{name=\"websites\",le=\"0.01\"}"), 1);
	cr_assert_eq(sample(text, "workqueue_queue_duration_seconds_sum{name=\"websites\"}"), 0.003);
	cr_assert_eq(sample(text, "workqueue_work_duration_seconds_sum{name=\"websites\"}"), 0.25);
	cr_assert_eq(sample(text, "rest_client_requests_total{code=\"200\",method=\"GET\",host=\"10.96.0.1:443\"}"), 2);
	cr_assert_eq(
		sample(text, "rest_client_requests_total{code=\"<error>\",method=\"PATCH\",host=\"10.96.0.1:443\"}"),
		1);
	cr_assert_eq(sample(text, "coxswain_workers"), 4);
	cr_assert_eq(sample(text, "coxswain_worker_restarts_total"), 1);
	cr_assert_eq(sample(text, "coxswain_poisoned_objects"), 0);
	cr_assert_eq(sample(text, "coxswain_watch_restarts_total{resource=\"example.com/v1/websites\"}"), 1);
	cr_assert_eq(sample(text, "coxswain_jobs_lost_total{reason=\"heartbeat\"}"), 1);
	cr_assert_eq(sample(text, "leader_election_master_status{name=\"coxswain\"}"), 1);
	cr_assert(strstr(text, "# TYPE controller_runtime_reconcile_time_seconds histogram\n"));
	cr_assert(strstr(text, "# TYPE workqueue_depth gauge\n"));
	cr_assert(strstr(text, "# TYPE rest_client_requests_total counter\n"));
	free(text);
}

Test(metrics, bind_without_registry_gives_null_handles)
{
	struct metrics_controller mc;
	struct metrics_workqueue mq;
	cr_assert_eq(metrics_controller_bind(NULL, "x", &mc), 0);
	cr_assert_eq(metrics_workqueue_bind(NULL, "x", &mq), 0);
	cr_assert_null(mc.time);
	cr_assert_null(mq.depth);
	metrics_controller_reconciled(&mc, METRICS_RESULT_SUCCESS, 1);
	metrics_workqueue_work(&mq, "k", 1);
	metrics_workqueue_work(NULL, "k", 1);
}

Test(metrics, render_cb_matches_render)
{
	metrics_counter(m, "x_total", "X.", NULL, &unused, NULL);
	char *a, *b;
	size_t la, lb;
	cr_assert_eq(metrics_render(m, &a, &la), 0);
	cr_assert_eq(metrics_render_cb(m, &b, &lb), 0);
	cr_assert_eq(la, lb);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	cr_assert_eq(metrics_render(NULL, &a, &la), -EINVAL);
	cr_assert_null(a);
}

Test(metrics, add_by_name_adds_to_a_counter_with_those_labels)
{
	struct cx_err err = { 0 };
	static const char *const labels[] = { "code", "method", "host", NULL };
	cr_assert_eq(metrics_counter(m, "rest_client_requests_total", "h", labels, &unused, &err), 0, "%s", err.msg);
	cr_assert_eq(metrics_gauge(m, "g", "h", NULL, &unused, &err), 0, "%s", err.msg);
	const char *const values[] = { "201", "POST", "h:1" };
	cr_assert_eq(metrics_add_by_name(m, "rest_client_requests_total", labels, values, 2), 0);
	cr_assert_eq(metrics_add_by_name(m, "rest_client_requests_total", labels, values, 3), 0);
	cr_assert_eq(metrics_add_by_name(m, "nope_total", labels, values, 1), -ENOENT);
	cr_assert_eq(metrics_add_by_name(m, "g", (const char *const[]){ NULL }, values, 1), -EINVAL, "not a counter");
	cr_assert_eq(metrics_add_by_name(m, "rest_client_requests_total",
					 (const char *const[]){ "code", "verb", "host", NULL }, values, 1),
		     -EINVAL);
	cr_assert_eq(metrics_add_by_name(m, "rest_client_requests_total",
					 (const char *const[]){ "code", "method", NULL }, values, 1),
		     -EINVAL);
	cr_assert_eq(metrics_add_by_name(m, "rest_client_requests_total",
					 (const char *const[]){ "code", "method", "host", "x", NULL }, values, 1),
		     -EINVAL);
	cr_assert_eq(metrics_add_by_name(NULL, "g", labels, values, 1), -ENOENT);
	expect_render("# HELP g h\n# TYPE g gauge\ng 0\n"
		      "# HELP rest_client_requests_total h\n# TYPE rest_client_requests_total counter\n"
		      "rest_client_requests_total{code=\"201\",method=\"POST\",host=\"h:1\"} 5\n");
}

/* The watcher's own waits and a worker's STATS growth land in one
 * rest_client_rate_limiter_duration_seconds{verb,host}, as client-go's. */
Test(metrics, rate_limiter_waits_local_and_from_workers)
{
	struct metrics_std std;
	struct cx_err err = { 0 };
	cr_assert_eq(metrics_std_register(m, &std, &err), 0, "%s", err.msg);
	metrics_rest_wait(&std, "GET", "h:6443", 0);
	metrics_rest_wait(&std, "GET", "h:6443", 200 * 1000 * 1000LL); /* 0.2 s: le 0.25 */
	metrics_rest_wait(NULL, "GET", "h:6443", 1);
	/* A worker: 3 waits in le 0.005, 1 in +Inf, 100.5 s summed. */
	const char *const bucket_small[] = { "GET", "h:6443", "0.005" };
	const char *const bucket_inf[] = { "GET", "h:6443", "+Inf" };
	const char *const sum[] = { "GET", "h:6443" };
	cr_assert_eq(metrics_rest_wait_from_worker(&std, STATSET_LIMITER_BUCKET, bucket_small, 3), 0);
	cr_assert_eq(metrics_rest_wait_from_worker(&std, STATSET_LIMITER_BUCKET, bucket_inf, 1), 0);
	cr_assert_eq(metrics_rest_wait_from_worker(&std, STATSET_LIMITER_SUM_US, sum, 100500000), 0);
	cr_assert_eq(metrics_rest_wait_from_worker(&std, STATSET_LIMITER_BUCKET,
						   (const char *const[]){ "GET", "h:6443", "0.3" }, 1),
		     -EINVAL);
	cr_assert_eq(metrics_rest_wait_from_worker(&std, STATSET_REST_REQUESTS, sum, 1), -ENOENT);

	char *text = NULL;
	size_t len;
	cr_assert_eq(metrics_render(m, &text, &len), 0);
	check_exposition(text);
	cr_assert(strstr(text, "# TYPE rest_client_rate_limiter_duration_seconds histogram\n"));
#define RL "rest_client_rate_limiter_duration_seconds"
	cr_assert_eq(sample(text, RL "_bucket{verb=\"GET\",host=\"h:6443\",le=\"0.005\"}"), 4);
	cr_assert_eq(sample(text, RL "_bucket{verb=\"GET\",host=\"h:6443\",le=\"0.1\"}"), 4);
	cr_assert_eq(sample(text, RL "_bucket{verb=\"GET\",host=\"h:6443\",le=\"0.25\"}"), 5);
	cr_assert_eq(sample(text, RL "_bucket{verb=\"GET\",host=\"h:6443\",le=\"60\"}"), 5);
	cr_assert_eq(sample(text, RL "_bucket{verb=\"GET\",host=\"h:6443\",le=\"+Inf\"}"), 6);
	cr_assert_eq(sample(text, RL "_count{verb=\"GET\",host=\"h:6443\"}"), 6);
	cr_assert_float_eq(sample(text, RL "_sum{verb=\"GET\",host=\"h:6443\"}"), 100.7, 1e-9);
#undef RL
	free(text);
}

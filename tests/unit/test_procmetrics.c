#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "procmetrics.h"

/* A real line's shape; the command name has a space and a ')' in it. */
#define STAT                                                                                                           \
	"4242 (cox) swain) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 3 0 1000 "                            \
	"104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"

Test(procmetrics, parses_a_stat_line)
{
	struct procmetrics_sample s;
	cr_assert_eq(procmetrics_parse_stat(STAT, 100, 4096, 1700000000.0, &s), 0);
	cr_assert_float_eq(s.cpu_seconds, 3.0, 1e-9, "(250 + 50) ticks at 100 a second");
	cr_assert_float_eq(s.start_time_seconds, 1700000010.0, 1e-6, "boot + 1000 ticks");
	cr_assert_float_eq(s.virtual_bytes, 104857600.0, 1e-6);
	cr_assert_float_eq(s.resident_bytes, 2560.0 * 4096, 1e-6);
}

Test(procmetrics, refuses_what_is_not_a_stat_line)
{
	struct procmetrics_sample s;
	cr_assert_eq(procmetrics_parse_stat("no parenthesis", 100, 4096, 0, &s), -EINVAL);
	cr_assert_eq(procmetrics_parse_stat("1 (x) S 1 2", 100, 4096, 0, &s), -EINVAL);
	cr_assert_eq(procmetrics_parse_stat(NULL, 100, 4096, 0, &s), -EINVAL);
	cr_assert_eq(procmetrics_parse_stat(STAT, 0, 4096, 0, &s), -EINVAL);
}

/* This very process, through a registry: the figures are there and sane. */
Test(procmetrics, renders_this_process)
{
	struct metrics *m = metrics_new();
	cr_assert_eq(procmetrics_register(m, NULL), 0);
	char *text = NULL;
	size_t len = 0;
	cr_assert_eq(metrics_render(m, &text, &len), 0);
	/* Sample lines, not the # HELP and # TYPE lines above them. */
	const char *names[] = { "\nprocess_cpu_seconds_total ",
				"\nprocess_resident_memory_bytes ",
				"\nprocess_virtual_memory_bytes ",
				"\nprocess_open_fds ",
				"\nprocess_max_fds ",
				"\nprocess_start_time_seconds " };
	for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
		const char *line = strstr(text, names[i]);
		cr_assert_not_null(line, "%s missing in:\n%s", names[i], text);
		double v = strtod(line + strlen(names[i]), NULL);
		/* A test process may not have used one clock tick of CPU yet. */
		if (i == 0)
			cr_assert_geq(v, 0, "%s%g", names[i], v);
		else
			cr_assert_gt(v, 0, "%s%g", names[i], v);
	}
	const char *start = strstr(text, names[5]);
	cr_assert_gt(strtod(start + strlen(names[5]), NULL), 1.5e9, "seconds since the epoch");
	free(text);
	metrics_free(&m);
}

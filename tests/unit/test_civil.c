/* Unit tests for common/civil: the calendar arithmetic under the Retry-After
 * and MicroTime parsers, against dates whose epoch seconds are known, and the
 * field checks that refuse a date that does not exist. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>

#include "civil.h"

Test(civil, known_instants)
{
	int64_t t = -1;
	cr_assert_eq(civil_to_unix(1970, 1, 1, 0, 0, 0, &t), 0);
	cr_assert_eq(t, 0);
	cr_assert_eq(civil_to_unix(1994, 11, 6, 8, 49, 37, &t), 0); /* RFC 9110's example */
	cr_assert_eq(t, 784111777);
	cr_assert_eq(civil_to_unix(2000, 2, 29, 12, 0, 0, &t), 0);
	cr_assert_eq(t, 951825600);
	cr_assert_eq(civil_to_unix(2038, 1, 19, 3, 14, 8, &t), 0);
	cr_assert_eq(t, 2147483648LL);
	cr_assert_eq(civil_to_unix(1969, 12, 31, 23, 59, 59, &t), 0);
	cr_assert_eq(t, -1);
	cr_assert_eq(civil_to_unix(0, 1, 1, 0, 0, 0, &t), 0);
	cr_assert_eq(t, -62167219200LL);
	cr_assert_eq(civil_to_unix(9999, 12, 31, 23, 59, 59, &t), 0);
	cr_assert_eq(t, 253402300799LL);
}

Test(civil, a_leap_second_is_the_next_minutes_first)
{
	int64_t a, b;
	cr_assert_eq(civil_to_unix(2016, 12, 31, 23, 59, 60, &a), 0);
	cr_assert_eq(civil_to_unix(2017, 1, 1, 0, 0, 0, &b), 0);
	cr_assert_eq(a, b);
}

Test(civil, days_in_month)
{
	cr_assert_eq(civil_days_in_month(2023, 2), 28);
	cr_assert_eq(civil_days_in_month(2024, 2), 29);
	cr_assert_eq(civil_days_in_month(1900, 2), 28, "a century is not a leap year");
	cr_assert_eq(civil_days_in_month(2000, 2), 29, "every fourth century is");
	cr_assert_eq(civil_days_in_month(2023, 4), 30);
	cr_assert_eq(civil_days_in_month(2023, 12), 31);
	cr_assert_eq(civil_days_in_month(2023, 0), 0);
	cr_assert_eq(civil_days_in_month(2023, 13), 0);
}

Test(civil, refuses_what_does_not_exist)
{
	struct {
		int64_t y;
		int m, d, h, min, sec;
	} bad[] = {
		{ 2023, 0, 1, 0, 0, 0 },  { 2023, 13, 1, 0, 0, 0 }, { 2023, 1, 0, 0, 0, 0 },  { 2023, 1, 32, 0, 0, 0 },
		{ 2023, 2, 29, 0, 0, 0 }, { 1900, 2, 29, 0, 0, 0 }, { 2023, 4, 31, 0, 0, 0 }, { 2023, 1, 1, 24, 0, 0 },
		{ 2023, 1, 1, 0, 60, 0 }, { 2023, 1, 1, 0, 0, 61 }, { 2023, 1, 1, -1, 0, 0 }, { 2023, 1, 1, 0, -1, 0 },
		{ 2023, 1, 1, 0, 0, -1 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 42;
		cr_assert_eq(civil_to_unix(bad[i].y, bad[i].m, bad[i].d, bad[i].h, bad[i].min, bad[i].sec, &t), -EINVAL,
			     "case %zu", i);
		cr_assert_eq(t, 42, "case %zu: nothing written", i);
	}
}

/* Every day from year 0 to 9999 goes to its count and back. */
Test(civil, date_from_days_inverts_days_from_date)
{
	int64_t first = civil_days_from_date(0, 1, 1), last = civil_days_from_date(9999, 12, 31);
	int64_t prev_y = 0;
	for (int64_t n = first; n <= last; n++) {
		int64_t y;
		int m, d;
		civil_date_from_days(n, &y, &m, &d);
		cr_assert_geq(y, prev_y);
		cr_assert(m >= 1 && m <= 12 && d >= 1 && d <= civil_days_in_month(y, m), "%lld: %lld-%d-%d",
			  (long long)n, (long long)y, m, d);
		if (civil_days_from_date(y, m, d) != n)
			cr_assert_fail("%lld -> %lld-%d-%d -> %lld", (long long)n, (long long)y, m, d,
				       (long long)civil_days_from_date(y, m, d));
		prev_y = y;
	}
}

/* civil: dates of the proleptic Gregorian calendar in UTC, to and from
 * seconds since the epoch, without timegm(), gmtime() or the TZ variable.
 *
 * The one owner of the calendar arithmetic that the Retry-After parser
 * (common/retry.c) and the Lease MicroTime format (watcher/leader.c) need. */
#ifndef COXSWAIN_CIVIL_H
#define COXSWAIN_CIVIL_H

#include <stdint.h>

/* The days of month m (1 to 12) of year y; 0 when m is out of range. */
int civil_days_in_month(int64_t y, int m);

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). The
 * date is not checked: m and d out of range give a meaningless number. */
int64_t civil_days_from_date(int64_t y, int m, int d);

/* The inverse: the date of a day counted from 1970-01-01. */
void civil_date_from_days(int64_t days, int64_t *y, int *m, int *d);

/* Seconds since the epoch of y-m-d h:min:sec UTC, after checking each field:
 * m 1-12, d within the month, h 0-23, min 0-59, sec 0-60 (60: a leap second,
 * which counts as the next minute's first). Returns 0, or -EINVAL (nothing
 * written) when a field is out of range. */
int civil_to_unix(int64_t y, int m, int d, int h, int min, int sec, int64_t *out);

#endif

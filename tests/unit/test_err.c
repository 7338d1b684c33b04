/* Unit tests for common/err: a caller adds context in front of a callee's
 * error and keeps its code, with or without an err to write to. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "err.h"

Test(err, set_returns_the_code_even_without_err)
{
	struct cx_err err = { 0 };
	cr_assert_eq(cx_err_set(&err, -EINVAL, "bad %s", "field"), -EINVAL);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert_str_eq(err.msg, "bad field");
	cr_assert_eq(cx_err_set(NULL, -ENOENT, "gone"), -ENOENT);
}

Test(err, prefix_keeps_code_status_and_reason)
{
	struct cx_err err = { 0 };
	cx_err_set(&err, -EACCES, "forbidden");
	err.http_status = 403;
	strcpy(err.reason, "Forbidden");
	cr_assert_eq(cx_err_prefix(&err, "config %s: ", "/x"), -EACCES);
	cr_assert_str_eq(err.msg, "config /x: forbidden");
	cr_assert_eq(err.code, -EACCES);
	cr_assert_eq(err.http_status, 403);
	cr_assert_str_eq(err.reason, "Forbidden");
}

Test(err, wrap_hands_on_the_callees_code)
{
	struct cx_err err = { 0 };
	int r = cx_err_set(&err, -ETIMEDOUT, "timed out");
	cr_assert_eq(cx_err_wrap(&err, r, "GET %s: ", "/api"), -ETIMEDOUT);
	cr_assert_str_eq(err.msg, "GET /api: timed out");
	cr_assert_eq(err.code, -ETIMEDOUT);
	/* With no err, cx_err_prefix can only answer 0; cx_err_wrap keeps the code. */
	cr_assert_eq(cx_err_prefix(NULL, "x: "), 0);
	cr_assert_eq(cx_err_wrap(NULL, -ETIMEDOUT, "x: "), -ETIMEDOUT);
}

Test(err, the_prefix_wins_when_both_do_not_fit)
{
	struct cx_err err = { 0 };
	char long_msg[CX_ERR_MSG_MAX];
	memset(long_msg, 'm', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	cx_err_set(&err, -EIO, "%s", long_msg);
	cx_err_wrap(&err, -EIO, "context: ");
	cr_assert_eq(strlen(err.msg), CX_ERR_MSG_MAX - 1);
	cr_assert(!strncmp(err.msg, "context: mmm", 12), "%.20s", err.msg);
}

/* kclient_status_error: how an API error response becomes the code, reason
 * and message that callers branch on and users read. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "err.h"
#include "kclient.h"

static struct cx_err decode(long status, const char *body, int want_code)
{
	struct cx_err err = { 0 };
	int code = kclient_status_error("PATCH", "/apis/example.com/v1/namespaces/default/websites/foo", status, body,
					body ? strlen(body) : 0, &err);
	cr_assert_eq(code, want_code, "%ld gave %d: %s", status, code, err.msg);
	cr_assert_eq(err.code, code);
	cr_assert_eq(err.http_status, status);
	cr_assert(strstr(err.msg, "PATCH /apis/example.com/v1/namespaces/default/websites/foo"), "%s", err.msg);
	return err;
}

Test(status_error, invalid_keeps_the_field_causes)
{
	struct cx_err err = decode(
		422,
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":"
		"\"Website.example.com \\\"foo\\\" is invalid: spec.replicas: Invalid value: -1: "
		"spec.replicas in body should be greater than or equal to 0\",\"reason\":\"Invalid\","
		"\"details\":{\"causes\":[{\"reason\":\"FieldValueInvalid\",\"field\":\"spec.replicas\"}]},"
		"\"code\":422}",
		-EINVAL);
	cr_assert_str_eq(err.reason, "Invalid");
	cr_assert(strstr(err.msg,
			 "422 Invalid: Website.example.com \"foo\" is invalid: spec.replicas: Invalid value: -1"),
		  "%s", err.msg);
}

Test(status_error, conflict_and_already_exists_differ)
{
	struct cx_err conflict = decode(409,
					"{\"kind\":\"Status\",\"reason\":\"Conflict\",\"message\":\"Operation "
					"cannot be fulfilled: the object has been modified\"}",
					-EAGAIN);
	cr_assert_str_eq(conflict.reason, "Conflict");
	struct cx_err exists = decode(409,
				      "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"message\":"
				      "\"websites \\\"foo\\\" already exists\"}",
				      -EEXIST);
	cr_assert_str_eq(exists.reason, "AlreadyExists");
}

Test(status_error, codes_by_status)
{
	decode(400, "{\"kind\":\"Status\",\"reason\":\"BadRequest\",\"message\":\"m\"}", -EINVAL);
	decode(401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"message\":\"Unauthorized\"}", -EPERM);
	decode(403, "{\"kind\":\"Status\",\"reason\":\"Forbidden\",\"message\":\"m\"}", -EACCES);
	decode(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"message\":\"m\"}", -ENOENT);
	decode(410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old resource version\"}", -ESTALE);
	decode(429, "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"message\":\"m\"}", -EBUSY);
	decode(503, "{\"kind\":\"Status\",\"reason\":\"ServiceUnavailable\",\"message\":\"m\"}", -EIO);
}

Test(status_error, a_body_that_is_not_a_status_is_quoted)
{
	struct cx_err err = decode(502, "<html>bad gateway</html>", -EIO);
	cr_assert(strstr(err.msg, "HTTP 502: <html>bad gateway</html>"), "%s", err.msg);
	cr_assert_str_eq(err.reason, "");
	err = decode(500, NULL, -EIO);
	cr_assert(strstr(err.msg, "(empty body)"), "%s", err.msg);
	err = decode(500, "{\"kind\":\"Pod\"}", -EIO);
	cr_assert(strstr(err.msg, "HTTP 500"), "%s", err.msg);
}

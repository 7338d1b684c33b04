/* Unit tests for worker/jqhook: a jq program compiled once and run on hook
 * requests in-process. Run under ASan: libjq's jv ownership is easy to get
 * wrong, and a leak or double free shows here. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/time.h>

#include "err.h"
#include "jqhook.h"

#define REQUEST                                                                                                        \
	"{\"controller\": {\"name\": \"w\"}, \"parent\": {\"metadata\": {\"name\": \"p1\"}, "                          \
	"\"spec\": {\"greeting\": \"hi\"}}, \"children\": {\"ConfigMap.v1\": {}}, \"finalizing\": false}"

static struct jqhook *compile_ok(const char *program)
{
	struct cx_err err = { 0 };
	struct jqhook *h = NULL;
	jqhook_new("sync hook \"jq\"", program, &h, &err);
	cr_assert_not_null(h, "%s: %s", program, err.msg);
	return h;
}

static int run(struct jqhook *h, const char *input, char **out, struct cx_err *err)
{
	size_t len = 0;
	memset(err, 0, sizeof(*err));
	*out = NULL;
	int rc = jqhook_run(h, input, strlen(input), 20000, out, &len, err);
	if (!rc) {
		cr_assert_not_null(*out);
		cr_assert_eq(strlen(*out), len);
	} else {
		cr_assert_null(*out);
	}
	return rc;
}

Test(jqhook, a_valid_program_answers_with_one_object)
{
	struct jqhook *h = compile_ok(
		"{status: {ready: true, said: .parent.spec.greeting}, children: "
		"[{apiVersion: \"v1\", kind: \"ConfigMap\", metadata: {name: .parent.metadata.name}, "
		"data: {greeting: .parent.spec.greeting}}]}");
	/* Compiled once, run many times. */
	for (int i = 0; i < 20; i++) {
		char *out = NULL;
		struct cx_err err;
		cr_assert_eq(run(h, REQUEST, &out, &err), 0, "%s", err.msg);
		struct json_object *a = json_tokener_parse(out);
		cr_assert_not_null(a, "%s", out);
		struct json_object *v = NULL;
		cr_assert(json_object_object_get_ex(a, "status", &v));
		cr_assert(json_object_object_get_ex(v, "said", &v));
		cr_assert_str_eq(json_object_get_string(v), "hi");
		cr_assert(json_object_object_get_ex(a, "children", &v));
		cr_assert_eq(json_object_array_length(v), 1);
		json_object_put(a);
		free(out);
	}
	jqhook_free(&h);
	cr_assert_null(h);
}

Test(jqhook, a_compile_error_names_the_hook_in_jqs_words)
{
	struct cx_err err = { 0 };
	struct jqhook *h = NULL;
	jqhook_new("sync hook \"jq\"", "{status: .parent | }", &h, &err);
	cr_assert_null(h);
	cr_assert_eq(err.code, -EINVAL);
	cr_assert(strstr(err.msg, "sync hook \"jq\": the jq program does not compile: "), "%s", err.msg);
	cr_assert(strstr(err.msg, "syntax error"), "%s", err.msg);
	cr_assert_null(strchr(err.msg, '\n'), "one line: %s", err.msg);

	jqhook_new("sync hook \"jq\"", "nosuchfunction(1)", &h, &err);
	cr_assert_null(h);
	cr_assert(strstr(err.msg, "nosuchfunction/1 is not defined"), "%s", err.msg);
}

Test(jqhook, an_output_that_is_not_an_object_fails)
{
	struct jqhook *h = compile_ok(".parent.metadata.name");
	char *out = NULL;
	struct cx_err err;
	cr_assert_eq(run(h, REQUEST, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "sync hook \"jq\": "), "%s", err.msg);
	cr_assert(strstr(err.msg, "output is a string, expected a JSON object"), "%s", err.msg);
	jqhook_free(&h);
}

Test(jqhook, two_outputs_fail)
{
	struct jqhook *h = compile_ok("{status: {}}, {status: {}}");
	char *out = NULL;
	struct cx_err err;
	cr_assert_eq(run(h, REQUEST, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "more than one output"), "%s", err.msg);
	jqhook_free(&h);
}

Test(jqhook, no_output_fails)
{
	struct jqhook *h = compile_ok("empty");
	char *out = NULL;
	struct cx_err err;
	cr_assert_eq(run(h, REQUEST, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "no output"), "%s", err.msg);
	jqhook_free(&h);
}

Test(jqhook, a_runtime_error_fails_with_jqs_message_and_the_next_run_works)
{
	struct jqhook *h = compile_ok("if .parent.spec.greeting == \"boom\" then error(\"asked to fail\") "
				      "else {status: {ok: (.parent.spec.greeting | ascii_upcase)}} end");
	char *out = NULL;
	struct cx_err err;
	const char *boom = "{\"parent\": {\"spec\": {\"greeting\": \"boom\"}}}";
	cr_assert_eq(run(h, boom, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "asked to fail"), "%s", err.msg);
	/* A type error, in jq's words. */
	cr_assert_eq(run(h, "{\"parent\": {\"spec\": {\"greeting\": 5}}}", &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "explode input must be a string"), "%s", err.msg);
	cr_assert_eq(run(h, REQUEST, &out, &err), 0, "%s", err.msg);
	cr_assert(strstr(out, "\"HI\""), "%s", out);
	free(out);
	/* An error value that is not a string is shown as JSON. */
	jqhook_free(&h);
	h = compile_ok("error({reason: \"x\"})");
	cr_assert_eq(run(h, REQUEST, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "{\"reason\":\"x\"}"), "%s", err.msg);
	jqhook_free(&h);
}

Test(jqhook, input_that_is_not_json)
{
	struct jqhook *h = compile_ok(".");
	char *out = NULL;
	struct cx_err err;
	cr_assert_eq(run(h, "{\"a\": ", &out, &err), -EINVAL);
	cr_assert(strstr(err.msg, "sync hook \"jq\""), "%s", err.msg);
	jqhook_free(&h);
}

Test(jqhook, an_error_after_a_first_output_fails)
{
	struct jqhook *h = compile_ok("{status: {}}, error(\"late\")");
	char *out = NULL;
	struct cx_err err;
	cr_assert_eq(run(h, REQUEST, &out, &err), -EPROTO);
	cr_assert(strstr(err.msg, "late"), "%s", err.msg);
	jqhook_free(&h);
}

/* libjq cannot stop a program: past its timeout the process exits with
 * JQHOOK_EXIT_TIMEOUT (Criterion runs each test in a process of its own). */
Test(jqhook, a_program_that_never_ends_makes_the_process_exit, .exit_code = JQHOOK_EXIT_TIMEOUT)
{
	struct jqhook *h = compile_ok("def f: f; f");
	char *out = NULL;
	size_t len = 0;
	struct cx_err err = { 0 };
	jqhook_run(h, REQUEST, strlen(REQUEST), 200, &out, &len, &err);
	cr_assert_fail("the run returned: %s", err.msg);
}

Test(jqhook, the_watchdog_is_off_after_a_run)
{
	struct jqhook *h = compile_ok("{status: {}}");
	char *out = NULL;
	size_t len = 0;
	struct cx_err err = { 0 };
	cr_assert_eq(jqhook_run(h, REQUEST, strlen(REQUEST), 100, &out, &len, &err), 0, "%s", err.msg);
	free(out);
	struct itimerval t;
	cr_assert_eq(getitimer(ITIMER_REAL, &t), 0);
	cr_assert(t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0, "timer disarmed");
	struct sigaction sa;
	cr_assert_eq(sigaction(SIGALRM, NULL, &sa), 0);
	cr_assert(sa.sa_handler == SIG_DFL, "SIGALRM's action is put back");
	jqhook_free(&h);
}

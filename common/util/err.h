/* err: the error a failing call hands back to its caller.
 *
 * Every fallible function returns 0 or a negative errno-style code and, when
 * given a non-NULL `struct cx_err *`, fills it with a message meant for a
 * person. The message ends up verbatim in logs, status conditions and Events,
 * so it names the file, object and field that is wrong. */
#ifndef COXSWAIN_ERR_H
#define COXSWAIN_ERR_H

#include <stddef.h>

#define CX_ERR_MSG_MAX 1024

struct cx_err {
	int code;        /* negative errno-style; 0 while unset */
	int http_status; /* the API's HTTP status, 0 when there was no response */
	char reason[64]; /* the API Status reason ("Forbidden", "NotFound"), or "" */
	char msg[CX_ERR_MSG_MAX];
};

/* Clears err (NULL is allowed). */
void cx_err_clear(struct cx_err *err);

/* Fills err with code and a printf-style message, replacing what was there.
 * Returns code, so a caller can `return cx_err_set(err, -EINVAL, ...)`.
 * err may be NULL. */
int cx_err_set(struct cx_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Puts printf-style context in front of the message already in err
 * ("kubeconfig /x: " + "line 3: ..."). Keeps code, http_status and reason.
 * Returns err->code (0 when err is NULL). */
int cx_err_prefix(struct cx_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cx_err_prefix for a caller that holds the callee's code: puts the context
 * in front of err's message (err may be NULL) and returns code, so that
 * `return cx_err_wrap(err, r, "config %s: ", path);` hands the callee's code
 * on even when there is no err to read it from. */
int cx_err_wrap(struct cx_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

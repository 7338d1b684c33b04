/* kclient: an HTTP client for one API server as one identity (libcurl).
 *
 * One curl easy handle per client, reused across requests so the TLS
 * connection stays open (keep-alive; HTTP/2 when libcurl has it). A kclient
 * is not thread-safe: the watcher and each worker own their own. Responses
 * are parsed with json-c; an API error response (a `Status` object) becomes
 * a cx_err with the HTTP status, the Status reason and the server's message,
 * which already names the user, resource and field. */
#ifndef COXSWAIN_KCLIENT_H
#define COXSWAIN_KCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>

struct cx_err;
struct json_object;
struct kclient;
struct restconfig;
typedef void CURL; /* as <curl/curl.h> has it */

/* Zero fields take their defaults. */
struct kclient_options {
	long connect_timeout_ms; /* TCP + TLS connect; 0 = 5000 */
	long timeout_ms;         /* a whole request; 0 = 30000 */
	double qps;              /* client-side limit, requests a second; < 0 = none; 0 = the default:
				      none, as controller-runtime (RATELIMIT_CLIENT_QPS) */
	int burst;               /* with qps > 0; 0 = 10 (client-go's DefaultBurst) */
	int max_attempts;        /* tries of one request in all (see retry.h); 0 = 5, 1 = no retries */
};

/* Makes a client for rc into *out (owned). rc is borrowed: it must outlive
 * the client. opts may be NULL for the defaults. Returns 0, or a negative
 * errno with *out NULL and err filled. */
int kclient_new(const struct restconfig *rc, const struct kclient_options *opts, struct kclient **out,
		struct cx_err *err);

void kclient_free(struct kclient **c);

/* Every request below: path is an API path without a query ("/api/v1/...",
 * see kresource_path). Requests wait for the client-side rate limiter, are
 * retried as common/retry decides (429 always; 5xx and connection errors for
 * idempotent verbs), re-read a token file once on a 401, and are logged at
 * -v=6 (method, path, code, duration; never credentials). When out is not
 * NULL it receives the parsed response body, owned by the caller.
 * Returns 0, or a negative code with err filled:
 *   -EACCES (403), -EPERM (401), -ENOENT (404), -EINVAL (400, 422),
 *   -EEXIST (409 AlreadyExists), -EAGAIN (409 Conflict: a stale
 *   resourceVersion, or an apply conflict; err->reason is "Conflict" and the
 *   message names the conflicting fields), -ESTALE (410 Gone: relist),
 *   -EBUSY (429 after the retries), -EIO (5xx, other),
 *   -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -EPROTO (TLS), -EBADMSG (not JSON). */
int kclient_get(struct kclient *c, const char *path, struct json_object **out, struct cx_err *err);

/* POSTs obj to the collection at path. */
int kclient_create(struct kclient *c, const char *path, struct json_object *obj, struct json_object **out,
		   struct cx_err *err);

/* PUTs obj (carrying metadata.resourceVersion for optimistic concurrency)
 * to path; -EAGAIN when someone else changed it first. */
int kclient_update(struct kclient *c, const char *path, struct json_object *obj, struct json_object **out,
		   struct cx_err *err);

enum kclient_patch_type {
	KCLIENT_PATCH_MERGE,     /* application/merge-patch+json */
	KCLIENT_PATCH_JSON,      /* application/json-patch+json */
	KCLIENT_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
};

int kclient_patch(struct kclient *c, const char *path, enum kclient_patch_type type, struct json_object *patch,
		  struct json_object **out, struct cx_err *err);

/* Server-side apply of obj (a full intent: apiVersion, kind, metadata.name)
 * as field_manager; force takes over fields other managers own instead of
 * failing with -EAGAIN. */
int kclient_apply(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager, bool force,
		  struct json_object **out, struct cx_err *err);

/* kclient_apply with force and dryRun=All: *out is the object as the server
 * would store it (defaults, normalised values, admission), nothing is stored. */
int kclient_apply_dry_run(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager,
			  struct json_object **out, struct cx_err *err);

/* kclient_create as field_manager (the object's managedFields name it, with
 * operation Update). Create-only: -EEXIST when the name is taken. */
int kclient_create_as(struct kclient *c, const char *path, struct json_object *obj, const char *field_manager,
		      struct json_object **out, struct cx_err *err);

struct kclient_delete_opts {
	const char *propagation_policy; /* "Background", "Foreground", "Orphan" or NULL */
	const char *precondition_uid;   /* delete only this incarnation; or NULL */
	const char *precondition_resource_version;
};

/* DELETEs path; o may be NULL. A failed precondition is -EAGAIN. */
int kclient_delete(struct kclient *c, const char *path, const struct kclient_delete_opts *o, struct json_object **out,
		   struct cx_err *err);

struct kclient_list_opts {
	const char *label_selector; /* or NULL */
	const char *field_selector; /* or NULL */
	long limit;                 /* page size; 0 = 500 */
};

/* Called for each item of a list, item borrowed for the call (take a
 * reference with json_object_get to keep it). Items of a list carry no
 * apiVersion/kind. Returning non-zero stops the list with that code. */
typedef int (*kclient_item_fn)(void *ud, struct json_object *item, struct cx_err *err);

/* Lists the collection at path page by page (limit/continue), calling fn for
 * each item, and hands back in *resource_version (owned; may be NULL) the
 * list's resourceVersion, from which a watch continues. o may be NULL. An
 * expired continue token is -ESTALE: list again from the start. */
int kclient_list(struct kclient *c, const char *path, const struct kclient_list_opts *o, kclient_item_fn fn, void *ud,
		 char **resource_version, struct cx_err *err);

/* Told about every request c sends (each attempt): the HTTP status, or 0 when
 * no response came; the method; the server's "host:port". For metrics
 * (rest_client_requests_total). */
typedef void (*kclient_request_fn)(void *ud, int code, const char *method, const char *host);

/* fd (-1 = none, the default) makes every call of c give up as soon as it
 * becomes readable: a request in flight is aborted, a wait on the rate
 * limiter or before a retry is cut short, a credential plugin is killed
 * (execcred_set_interrupt_fd on the restconfig's plugin), and the call fails
 * with -EINTR. It is polled, never read. The watcher gives it a signalfd of
 * its stop signals, so that SIGTERM is never held up by an API server or a
 * plugin that hangs. Streaming handles (kclient_stream_handle) are not
 * covered: they are driven by the caller's poll loop. */
void kclient_set_interrupt_fd(struct kclient *c, int fd);

/* Sets (or with fn NULL, clears) c's request observer. */
void kclient_set_request_observer(struct kclient *c, kclient_request_fn fn, void *ud);

/* Called once per attempt that went through the client-side limiter, with
 * the ns it waited there (0 when a token was ready): for
 * rest_client_rate_limiter_duration_seconds{verb,host}. Not called without
 * a limit (qps < 0), as client-go observes nothing without a limiter, nor
 * for a wait cut short by the interrupt fd. */
typedef void (*kclient_wait_fn)(void *ud, const char *verb, const char *host, int64_t waited_ns);

/* Sets (or with fn NULL, clears) c's limiter observer. */
void kclient_set_wait_observer(struct kclient *c, kclient_wait_fn fn, void *ud);

/* A new curl easy handle set up as c's own (server, TLS, current bearer
 * token, User-Agent, connect timeout), for a streaming request that c's own
 * handle cannot carry (kwatch), in *out: owned by the caller
 * (curl_easy_cleanup). Returns 0, or a negative errno with *out NULL and err
 * filled. */
int kclient_stream_handle(struct kclient *c, CURL **out, struct cx_err *err);

/* The errno code of an API answer's HTTP status: 400 and 422 -EINVAL, 401
 * -EPERM, 403 -EACCES, 404 -ENOENT, 409 -EEXIST (kclient_status_error tells
 * a Conflict apart), 410 -ESTALE, 429 -EBUSY, any other -EIO. The one
 * mapping, for whole answers and for a watch stream's ERROR events alike. */
int kclient_status_errno(long status);

/* Turns a non-2xx response (status and body) to `method path` into err the
 * way every verb above reports it, and returns the code. For kwatch, whose
 * responses do not go through the verbs. */
int kclient_status_error(const char *method, const char *path, long status, const char *body, size_t len,
			 struct cx_err *err);

/* The base URL of c's requests ("https://host:port"; the tls-server-name in
 * place of the host when one is set); borrowed. */
const char *kclient_server(const struct kclient *c);

/* Tells c's request observer (when it has one) about a request sent on a
 * handle from kclient_stream_handle: code as for kclient_request_fn. Once
 * per request, as the verbs above do for each attempt. */
void kclient_observe(struct kclient *c, int code, const char *method);

/* The code label of rest_client_requests_total for an observer's code, in
 * buf: the HTTP status ("200"), or "<error>" for 0 (no response), as
 * client-go writes it. Returns buf. */
const char *kclient_code_label(int code, char buf[static 16]);

#endif

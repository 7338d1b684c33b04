/* hook: calls a controller's sync or finalize hook and checks its answer.
 *
 * The contract is metacontroller's (docs/architecture.md §4). The request is
 *
 *   {"controller": {...}, "parent": {...},
 *    "children": {"ConfigMap.v1": {"<name>": {...}}, "Deployment.apps/v1": {}},
 *    "related": {},
 *    "finalizing": false}
 *
 * with an entry in children for every child kind the controller declares
 * (empty when it has none of that kind). related is keyed like children;
 * without a customize hook it is empty, as metacontroller sends it. The
 * inner keys follow the hook's version (common/childkey.h): v1 (the
 * default) keys by the name relative to the parent, v2 (metacontroller's
 * UniformObjectMap) by "namespace/name" for every namespaced object. The
 * answer is read the same way in both versions. It goes to an exec hook on stdin
 * (the program runs without a shell, in its own process group, killed as a
 * group at its timeout; common/subprocess), as one line to a persistent
 * exec hook's process (worker/hookproc.h), to a jq program as its input
 * (worker/jqhook.h), or to a webhook as the body of an HTTP POST (libcurl).
 * The answer is
 *
 *   {"status": {...}, "children": [{...}, ...], "resyncAfterSeconds": 0,
 *    "finalized": true}                                  (finalize hooks)
 *
 * and is checked before anything acts on it: every error names
 * the hook (`sync hook "/hooks/website-sync"`) and the JSON path at fault
 * (`children[2].metadata.name`), since it ends up verbatim in the parent's
 * Synced condition and in an Event.
 *
 * A webhook of a metacontroller definition (hook_def.mc) also gets what
 * metacontroller's transport does:
 * - caBundle, clientTLS, authorization, basicAuth, from the webhook or else
 *   from the first spec.connections entry matching the URL's host
 *   (worker/webhookauth.h): the bundle is then the only trust for the
 *   server's certificate, the client certificate is presented (mutual TLS),
 *   and an Authorization header is sent. The Secrets and ConfigMaps are read
 *   with the worker's kclient and kept 60 s; a TLS failure or a 401/403
 *   drops them, and the call is made once more at once when reading them
 *   again changed them (a rotated Secret). One that cannot be read, or a
 *   missing key, fails the hook with `sync hook "URL": controller "NAME":
 *   webhook.basicAuth: Secret "ns/name" has no key "password"`; no
 *   credential ever appears in a message, a log line, a condition or an
 *   Event;
 * - etag.enabled: the answer and its ETag header are kept per controller,
 *   hook and parent (kind, namespace, name; the object of a decorator), as
 *   metacontroller keys them (worker/etagcache.h); the next request for
 *   that parent carries If-None-Match, and a 304 answer reuses the kept
 *   answer (a 304 to a request without If-None-Match is an error). Entries
 *   expire after etag.cacheTimeoutSeconds (absent or 0: never) and are
 *   swept every etag.cacheCleanupSeconds. The caches live in the worker
 *   process (each worker its own; a parent synced by another worker just
 *   misses);
 * - its timeout (hook_def.timeout_ms, from webhook.timeout).
 * Every webhook, from coxswain.yaml too, follows HOOK_CONNECT_TO_ENV.
 *
 * Request building and answer checking are pure functions (no process, no
 * network), so most of this is testable without running anything. */
#ifndef COXSWAIN_HOOK_H
#define COXSWAIN_HOOK_H

#include <stdbool.h>
#include <stddef.h>

struct cx_err;
struct json_object;

/* A hook without timeoutSeconds gets this (metacontroller's default). */
#define HOOK_DEFAULT_TIMEOUT_MS 10000
/* Refused beyond this: an exec hook's stdout, or a webhook's response body. */
#define HOOK_RESPONSE_MAX (16 * 1024 * 1024)
/* How much of an exec hook's stderr is kept for messages. */
#define HOOK_STDERR_TAIL 2048

enum hook_type {
	HOOK_EXEC,
	HOOK_WEBHOOK,
	HOOK_JQ, /* a jq program run in-process (worker/jqhook.h) */
};

/* How the request's children and related maps are keyed (hooks.X.version). */
enum hook_version {
	HOOK_V1, /* metacontroller's RelativeObjectMap: the default */
	HOOK_V2, /* metacontroller's UniformObjectMap */
};

/* responseUnMarshallMode: what an answer may carry besides what coxswain
 * reads. Loose (metacontroller's default) ignores unknown fields; strict
 * refuses them. Checks that protect objects hold in both. A v2 hook is
 * always read strictly, as metacontroller does. */
enum hook_unmarshal {
	HOOK_LOOSE,
	HOOK_STRICT,
};

struct kclient;
struct config_controller;
struct config_hook;
struct mcdef_connection;
struct mcdef_webhook;

/* One hook as the config describes it. Borrowed by every call. */
struct hook_def {
	enum hook_type type;
	enum hook_version version;
	enum hook_unmarshal unmarshal;
	char *const *argv;      /* HOOK_EXEC: command, args..., NULL; a command without '/' is searched in PATH */
	const char *url;        /* HOOK_WEBHOOK: http:// or https:// */
	int timeout_ms;         /* <= 0: HOOK_DEFAULT_TIMEOUT_MS */
	const char *name;       /* for messages; NULL = argv[0], "jq", or the URL without user, password and query */
	bool persistent;        /* HOOK_EXEC: one long-lived process per worker, controller, role and command,
				   speaking newline-delimited JSON (worker/hookproc.h) */
	const char *jq_program; /* HOOK_JQ: the program, compiled once per worker, controller, role and text */

	/* A webhook of a metacontroller definition (NULL/0 otherwise): its
	 * etag, caBundle, clientTLS, authorization and basicAuth, and the
	 * controller's spec.connections (used when the webhook sets none of
	 * those four; common/mcdef.h, worker/webhookauth.h). */
	const struct mcdef_webhook *mc;
	const struct mcdef_connection *connections;
	size_t n_connections;
	struct kclient *kc;     /* reads the Secrets and ConfigMaps they name (the worker's client) */
	const char *controller; /* the controller's name: messages, and the etag cache's scope */
};

/* A child kind the controller declares. */
struct hook_child_kind {
	const char *api_version; /* "v1", "apps/v1" */
	const char *kind;        /* "ConfigMap" */
};

/* What one run cost, for metrics and logs; filled by hook_run whether the
 * hook succeeded or not. */
struct hook_stats {
	long long duration_ms;
	long long user_cpu_ms; /* exec: CPU of the hook and what it waited for */
	long long sys_cpu_ms;
	long max_rss_kib; /* exec: its peak resident set */
	int exit_code;    /* exec: its exit code; -1 when it died of a signal or never ran */
	int term_signal;  /* exec: the signal that ended it, or 0 */
	long http_status; /* webhook: the response status, 0 when there was none */
};

/* A hook's checked answer. */
struct hook_result {
	struct json_object *status;   /* owned; NULL when it returned none (absent or null) */
	struct json_object *children; /* owned array of child objects (empty when it returned none) */
	bool children_given;          /* the answer had a children key (null counts) */
	long long resync_after_ms;    /* resyncAfterSeconds in ms; 0 = not asked */
	bool finalized;               /* finalize hooks: true once cleanup is done */
	struct hook_stats stats;
};

/* Builds a request for a hook of the given version. controller and parent
 * are shared, not copied (a reference is taken; do not change them while
 * the request lives). observed maps "Kind.apiVersion" keys to {relative
 * name: object} maps, keyed as a v1 request is (the watcher's cache; NULL =
 * no children at all); for a v1 hook its maps are shared, for a v2 hook
 * they are re-keyed by the object's metadata ("namespace/name", or "name"
 * for a cluster-scoped object) into new maps sharing the objects. Kinds
 * missing from it
 * get an empty map; keys of kinds not in kinds[] are left out. related is
 * {} (hook_request_set_related fills it). Returns 0 and the request in *out
 * (owned), or a negative errno with err filled and *out NULL (-ENOMEM, or
 * -EINVAL when an entry of observed is not an object). */
int hook_request_new(struct json_object *controller, struct json_object *parent, const struct hook_child_kind *kinds,
		     size_t n_kinds, struct json_object *observed, bool finalizing, enum hook_version version,
		     struct json_object **out, struct cx_err *err);

/* Puts related (a "Kind.apiVersion" -> {relative name: object} map keyed as
 * a v1 request is, worker/related.h; NULL = {}) into request (from
 * hook_request_new or hook_decorator_request_new) as its "related", re-keyed for a v2 hook as children
 * are. The maps' objects are shared. Returns 0, or -ENOMEM / -EINVAL (an
 * entry of related is not an object) with err filled; request is then
 * unchanged. */
int hook_request_set_related(struct json_object *request, struct json_object *related, enum hook_version version,
			     struct cx_err *err);

/* `ROLE hook "NAME"` into buf, as every message of a hook starts (NAME as
 * in sync messages: argv[0], or the URL without user, password and query). */
void hook_describe(const struct hook_def *def, const char *role, char *buf, size_t len);

/* Calls a hook whose answer is not a sync answer (role "customize": the
 * customize hook, request {controller, parent}) and hands back the answer
 * parsed as strict JSON in *answer (owned), for the caller to check. The
 * transport, timeouts and errors are hook_run's, the messages start with
 * `ROLE hook "NAME"`. stats may be NULL. */
int hook_call(const struct hook_def *def, const char *role, struct json_object *request, struct json_object **answer,
	      struct hook_stats *stats, struct cx_err *err);

/* Checks a hook's answer (body, len bytes: all of it must be one JSON
 * value) and fills out's status, children, resync_after_ms and finalized
 * (not its stats). finalizing says it came from the finalize hook: only
 * then is `finalized` read. parent_namespace is the parent's namespace, or
 * NULL/"" for a cluster-scoped parent (whose children may be anywhere).
 * Returns 0, or -EPROTO with err saying `sync hook "NAME": what, where`
 * (out's fields then NULL/0), -EFBIG (len over HOOK_RESPONSE_MAX) or
 * -ENOMEM. The JSON must be strict (no trailing commas, leading zeros or
 * trailing data); nesting up to 128 levels. Refused: invalid JSON (at which
 * byte), an answer that is not an object, status not an object, children
 * not a list, a child that is not an object or lacks apiVersion, kind or
 * metadata.name, a child in another namespace than its parent, a child of
 * a kind not in kinds[], keys that do not fit (its "Kind.apiVersion" in
 * CHILDKEY_KIND_MAX, its relative name in CHILDKEY_MAX: common/childkey.h),
 * two children of one kind with the same namespace and name,
 * resyncAfterSeconds not a non-negative number, finalized not a boolean,
 * and a sync answer (not a finalize one) without a children key
 * when kinds[] is not empty: pruning on it would delete every child, so
 * coxswain never guesses (a finalize answer without it leaves the children
 * alone). In strict mode (def->unmarshal, or def->version v2) a top-level
 * field other than status, children, resyncAfterSeconds and finalized is
 * refused too; loose mode ignores it. Absent or null status,
 * resyncAfterSeconds and finalized are fine (none, 0, false); children null
 * is a Go hook's empty slice: none. This is the only check of an answer:
 * what acts on it (worker/apply.h, worker/status.h) trusts it. */
int hook_response_parse(const struct hook_def *def, bool finalizing, const char *body, size_t len,
			const struct hook_child_kind *kinds, size_t n_kinds, const char *parent_namespace,
			struct hook_result *out, struct cx_err *err);

/* The hook_def of a configured hook h of cc: its command or URL, timeout,
 * version and unmarshal mode; for a metacontroller definition's webhook
 * also its options (etag, caBundle, auth) and the controller's
 * spec.connections, with c (borrowed) to read the Secrets they name. No
 * name: hook.c names the hook itself in every message ("sync hook
 * \"NAME\""), NAME being argv[0] or the URL without user, password and
 * query (a webhook URL may carry credentials; they must not reach
 * conditions, Events or logs). The result borrows from h and cc. */
struct hook_def hook_def_from_config(struct kclient *c, const struct config_controller *cc,
				     const struct config_hook *h);

/* Calls the hook with request (from hook_request_new) and checks its
 * answer as hook_response_parse does. out is filled on success; its stats
 * are filled in every case, and out must be cleared with hook_result_clear
 * either way. Logs the run at -v=4 (hook, duration, CPU, RSS, outcome).
 * Returns 0, or a negative code with err naming the hook:
 *   -ENOENT, -EACCES, -ENOEXEC  the command cannot be run
 *   -ETIMEDOUT                  it ran past its timeout (an exec hook's group is killed)
 *   -EIO                        exit code != 0 or killed by a signal (with the stderr tail),
 *                               or a webhook's non-2xx status (with the head of the body)
 *   -ECONNREFUSED, -EHOSTUNREACH, -EPROTO (TLS)  the webhook cannot be reached
 *   -EFBIG                      an answer over HOOK_RESPONSE_MAX (a persistent hook's line: it is killed)
 *   -EAGAIN                     a persistent hook's process is not started again yet (its backoff)
 *   -EPROTO                     the answer is wrong (see hook_response_parse)
 *   -EINVAL                     def is incomplete; -ENOMEM */
int hook_run(const struct hook_def *def, struct json_object *request, bool finalizing,
	     const struct hook_child_kind *kinds, size_t n_kinds, const char *parent_namespace, struct hook_result *out,
	     struct cx_err *err);

/* The environment variable that reroutes webhook connections, like curl's
 * --connect-to: a comma-separated list of HOST:PORT:CONNECT_HOST:CONNECT_PORT.
 * A webhook whose URL names HOST and PORT (an empty one matches any) is
 * connected to CONNECT_HOST:CONNECT_PORT instead (empty: the URL's), while
 * the request (Host header, TLS server name and certificate check) still
 * names the URL's host. It lets coxswain run outside the cluster with
 * definitions whose URLs name in-cluster Services, e.g.
 *   COXSWAIN_WEBHOOK_CONNECT_TO=my-hook.my-ns:80:127.0.0.1:8080
 * An IPv6 address is written in brackets ([::1]). It applies to every
 * webhook call (coxswain.yaml and metacontroller definitions alike). */
#define HOOK_CONNECT_TO_ENV "COXSWAIN_WEBHOOK_CONNECT_TO"

/* Checks value (HOOK_CONNECT_TO_ENV's syntax; NULL or "" is fine: no
 * rerouting). Returns 0, or -EINVAL with err naming the variable, the
 * entry and what is wrong. hook_run checks the variable before every
 * webhook call and fails the call with this error; the worker may call it
 * at start to fail early. */
int hook_connect_to_check(const char *value, struct cx_err *err);

/* Frees the worker's webhook caches (Secrets read, etag answers, kept
 * connections): for tests and before exit. Calls after it start empty
 * ones. */
void hook_webhook_reset(void);

/* Persistent exec hooks and jq hooks keep state in the worker process: a
 * hook process (worker/hookproc.h) or a compiled program (worker/jqhook.h)
 * per controller (hook_def.controller), role (sync, finalize, customize)
 * and command or program text, made on first use. A persistent hook's call
 * fails as hook_run says, plus -EAGAIN when its process failed lately and
 * is not started again yet (hookproc's restart backoff); the process that
 * failed is replaced, the others are not touched. Every hook call (of any
 * kind) first reaps the processes that exited between requests.
 * hook_reset stops every process (SIGKILL to its group, reaped) and frees
 * every program: for tests, and registered with atexit() when the first
 * such hook is used. */
void hook_reset(void);

/* Frees what r owns and zeroes it (stats too). */
void hook_result_clear(struct hook_result *r);

/* ---- DecoratorController hooks (metacontroller's decorator contract) ----
 *
 * A decorator's hook sees the decorated object and its attachments:
 *
 *   {"controller": {...}, "object": {...},
 *    "attachments": {"Service.v1": {"<name>": {...}}},
 *    "related": {}, "finalizing": false}
 *
 * (attachments and related keyed as a composite's children, v1 or v2) and
 * answers
 *
 *   {"labels": {"k": "v", "gone": null}, "annotations": {...},
 *    "status": {...}, "attachments": [{...}], "resyncAfterSeconds": 0,
 *    "finalized": true}
 *
 * labels and annotations: the keys coxswain sets on the object; null
 * removes a key (metacontroller's map[string]*string). status, when
 * present and not null, replaces the object's status; absent or null leaves
 * it alone. attachments: every attachment the object should have; an
 * absent or null attachments is none (metacontroller prunes them all), but
 * a finalize answer without the key leaves the attachments alone, as a
 * composite's finalize answer without children does. */

/* A decorator hook's checked answer. */
struct hook_decorator_result {
	struct json_object *labels;      /* owned {key: string or null}; NULL when absent or null */
	struct json_object *annotations; /* likewise */
	struct json_object *status;      /* owned; NULL when absent or null (leave the status alone) */
	struct json_object *attachments; /* owned array (empty when none) */
	bool attachments_given;          /* the answer had an attachments key (null counts) */
	long long resync_after_ms;       /* resyncAfterSeconds in ms; 0 = not asked */
	bool finalized;                  /* finalize hooks: true once cleanup is done */
	struct hook_stats stats;
};

/* The request for a decorator hook: hook_request_new's with parent as
 * "object" and children as "attachments" (same arguments, same sharing and
 * errors; object is the decorated object, observed its attachments). */
int hook_decorator_request_new(struct json_object *controller, struct json_object *object,
			       const struct hook_child_kind *kinds, size_t n_kinds, struct json_object *observed,
			       bool finalizing, enum hook_version version, struct json_object **out,
			       struct cx_err *err);

/* Checks a decorator hook's answer as hook_response_parse checks a
 * composite's (same JSON rules, messages naming the hook and the path).
 * Refused besides: labels or annotations not an object, or one of their
 * values neither a string nor null; attachments not a list; an attachment
 * as a child is refused there (attachments[i]...: its kind not in kinds[],
 * another namespace than the object's, the same one twice); in strict mode
 * a top-level field other than labels, annotations, status, attachments,
 * resyncAfterSeconds and finalized, or a key repeated outside attachments.
 * Returns 0, -EPROTO, -EFBIG or -ENOMEM; out is filled only on success and
 * must be cleared with hook_decorator_result_clear either way. */
int hook_decorator_response_parse(const struct hook_def *def, bool finalizing, const char *body, size_t len,
				  const struct hook_child_kind *kinds, size_t n_kinds, const char *object_namespace,
				  struct hook_decorator_result *out, struct cx_err *err);

/* hook_run for a decorator hook: calls it with request (from
 * hook_decorator_request_new) and checks the answer with
 * hook_decorator_response_parse. Same transports, timeouts, stats, logs
 * and error codes as hook_run. */
int hook_decorator_run(const struct hook_def *def, struct json_object *request, bool finalizing,
		       const struct hook_child_kind *kinds, size_t n_kinds, const char *object_namespace,
		       struct hook_decorator_result *out, struct cx_err *err);

/* Frees what r owns and zeroes it (stats too). */
void hook_decorator_result_clear(struct hook_decorator_result *r);

#endif

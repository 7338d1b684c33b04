/* cxconfig: coxswain.yaml, the file a user writes (docs/architecture.md §3),
 * loaded with libyaml's document API and validated whole at start-up into
 * plain structs that the watcher and the worker share.
 *
 * (The module is cxconfig, not config: "config.h" is autoconf's header that
 * every .c includes first, and a common/config.h would shadow it for the
 * files in common/. Its symbols keep the short config_ prefix.)
 *
 *   controllers:                         required, a non-empty list
 *     - name: websites                   required, unique, a DNS label
 *       parent: {apiVersion: example.com/v1, kind: Website}        both required
 *       children:                        optional; apiVersion + kind unique, kind not the parent's
 *         - {apiVersion: v1, kind: ConfigMap, updateStrategy: InPlace}   OnDelete|Recreate|InPlace
 *       hooks:
 *         sync:     {exec: {command: ["/hooks/sync", "--flag"], timeoutSeconds: 10}}   required
 *         #         {exec: {command: [...], persistent: true}}   one process per worker, NDJSON
 *         #         {webhook: {url: "http://127.0.0.1:8080/sync", timeoutSeconds: 10}}
 *         #         {jq: {program: "{status: {ready: true}, children: []}", timeoutSeconds: 10}}  libjq
 *         finalize: {exec: {command: ["/hooks/finalize"]}}      optional, same shape
 *         customize: {exec: {command: ["/hooks/customize"]}}    optional, same shape: metacontroller's
 *                                        customize hook ({controller, parent} in, {relatedResources}
 *                                        out; worker/related.h); the sync and finalize requests'
 *                                        "related" then holds what its rules select
 *       resyncPeriodSeconds: 300         >= 0, 0 = no periodic resync
 *       namespace: ""                    "" = all namespaces
 *       adoptOrphans: false              true: a child that exists with no controller is adopted
 *   watcher: {endpoint: "ipc:///run/coxswain/ipc/jobs.sock", healthAddress: ":8081",
 *             metricsAddress: ":8080",
 *             leaderElection: {enabled: true, namespace: coxswain-system, name: coxswain},
 *             curve: {secretKeyFile: /keys/watcher.key,        the job channel's CURVE keys
 *                     authorizedKeys: /worker-keys},           (common/curvekey.h); optional
 *             insecure: false,           true: a tcp:// endpoint without CURVE is allowed
 *             kubeApiQPS: 50,            the API client's limit, requests a second (0.001 to
 *                                        1000000), or -1: none; absent: none, as controller-runtime
 *                                        (common/ratelimit.h); --kube-api-qps overrides it
 *             kubeApiBurst: 100,         1 to 1000000; absent: 10 (client-go's); --kube-api-burst
 *             initialList: list}         how informers fill their caches: list (the default:
 *                                        paginated LIST, then WATCH) or stream (a streaming list,
 *                                        LIST where the server refuses it: opt-in, since a stream
 *                                        opened on a CRD just established can miss its first
 *                                        objects' events for 30 s and more); --initial-list
 *                                        overrides it
 *   worker: {count: 4,                   >= 1; absent = 0 = one per CPU (the worker decides)
 *            curve: {secretKeyFile: /keys/worker.key, serverPublicKeyFile: /keys/watcher.pub},
 *            kubeApiQPS: 50,             each worker process's API client, as the watcher's
 *            kubeApiBurst: 100,
 *            events: {normal: false}}    true: Normal Events (Created, Recreated, Deleted, Adopted)
 *                                        about each child written; absent or false: none, as each
 *                                        costs one API write per child per change. Warning Events
 *                                        (failures, conflicts) are always posted
 *
 * Every field is checked at load. Unknown keys, repeated keys, wrong types,
 * out-of-range values and broken cross-field rules are errors; the first one
 * found stops the load with a message
 *
 *   config FILE: line L, column C: PATH: what was expected
 *
 * whose PATH is the node's place in the document (controllers[1].hooks.sync,
 * controllers[0].children[1].kind). Unknown keys also list the keys allowed
 * there. Scalars are typed as YAML writes them: an integer or a boolean is a
 * plain (unquoted) scalar, booleans are exactly true or false, integers are
 * decimal. A plain null (`~`, `null`, nothing) means the key is absent.
 *
 * Ownership: a struct config owns everything it points to; config_free
 * releases it all. Pointers into it (config_controller) are borrowed and live
 * as long as the config. After a successful load every string below is
 * non-NULL except where a comment says otherwise. */
#ifndef COXSWAIN_CXCONFIG_H
#define COXSWAIN_CXCONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct cx_err;
struct json_object;

/* In a directory of its own, which the watcher makes 0700 (watcher/broker.h):
 * /run/coxswain is a volume both containers mount, not the watcher's. */
/* watcher.initialList, in the order of its names ("list", "stream"). */
enum config_initial_list {
	CONFIG_INITIAL_LIST_LIST,
	CONFIG_INITIAL_LIST_STREAM,
};

#define CONFIG_DEFAULT_ENDPOINT             "ipc:///run/coxswain/ipc/jobs.sock"
#define CONFIG_DEFAULT_HEALTH_ADDRESS       ":8081"
#define CONFIG_DEFAULT_METRICS_ADDRESS      ":8080"
#define CONFIG_DEFAULT_LEASE_NAMESPACE      "coxswain-system"
#define CONFIG_DEFAULT_LEASE_NAME           "coxswain"
#define CONFIG_DEFAULT_RESYNC_SECONDS       300
#define CONFIG_DEFAULT_HOOK_TIMEOUT_SECONDS 10
#define CONFIG_MAX_HOOK_TIMEOUT_SECONDS     3600
#define CONFIG_MAX_WORKERS                  1024

/* How a child whose desired state changed is brought there. */
enum update_strategy {
	UPDATE_INPLACE,  /* "InPlace", the default: server-side apply */
	UPDATE_RECREATE, /* "Recreate": delete, then create */
	UPDATE_ONDELETE, /* "OnDelete": leave it until someone deletes it */
	/* metacontroller's rolling methods (worker/rollout.h): children are
	 * updated one at a time, each only after the ones before it pass the
	 * child kind's statusChecks; Recreate or InPlace per child. */
	UPDATE_ROLLING_RECREATE, /* "RollingRecreate" */
	UPDATE_ROLLING_INPLACE,  /* "RollingInPlace" */
};

/* Where a controller's definition comes from. */
enum config_origin {
	CONFIG_ORIGIN_FILE,           /* coxswain.yaml */
	CONFIG_ORIGIN_METACONTROLLER, /* a CompositeController or DecoratorController (common/mcbridge.h) */
};

/* What a controller manages. */
enum config_kind {
	CONFIG_KIND_COMPOSITE, /* it owns its parents' children (coxswain.yaml; CompositeController) */
	CONFIG_KIND_DECORATOR, /* DecoratorController: it owns the attachments (children) only, and
				   changes only the labels, annotations and status its hook returns on
				   the decorated object (the "parent"), which it does not own */
};

struct mcdef_controller;
struct mcdef_webhook;
struct mcdef_child;
struct selector;

/* hooks.X.version: how the request keys children and related (metacontroller's
 * hook versions; worker/hook.h). */
enum config_hook_version {
	CONFIG_HOOK_V1, /* "v1", the default */
	CONFIG_HOOK_V2, /* "v2": UniformObjectMap keys */
};

/* hooks.X.responseUnMarshallMode. */
enum config_unmarshal {
	CONFIG_UNMARSHAL_UNSET = -1, /* only while parsing */
	CONFIG_UNMARSHAL_LOOSE,      /* "loose", the default: unknown answer fields are ignored */
	CONFIG_UNMARSHAL_STRICT,     /* "strict": refused (always so for a v2 hook) */
};

/* A hook: exec (command != NULL), webhook (url != NULL) or jq (jq_program
 * != NULL), exactly one of them. */
struct config_hook {
	bool set;       /* false: not configured (only finalize may be) */
	char **command; /* exec: the program then its arguments, n_command >= 1
				       entries followed by a NULL (execv-ready); else NULL */
	size_t n_command;
	bool persistent;                /* exec.persistent: one long-lived process per worker speaking
				       newline-delimited JSON (worker/hookproc.h); default false */
	char *url;                      /* webhook: http:// or https://; else NULL */
	char *jq_program;               /* jq.program: a jq program run in-process (worker/jqhook.h),
				       checked to compile at load; else NULL */
	int timeout_seconds;            /* 1..3600, default 10 (coxswain.yaml) */
	long timeout_ms;                /* effective, > 0: timeout_seconds * 1000, or a metacontroller
				       webhook.timeout (a Go duration, rounded up to a millisecond) */
	const struct mcdef_webhook *mc; /* borrowed from config_controller.mc: etag, caBundle,
					    authorization, basicAuth, clientTLS, connections;
					    NULL for coxswain.yaml hooks */
	enum config_hook_version version;
	enum config_unmarshal unmarshal; /* LOOSE or STRICT once loaded; STRICT when version is v2 */
};

struct config_child {
	char *api_version; /* "v1", "apps/v1" */
	char *kind;
	enum update_strategy update_strategy;
	char *resource;               /* the plural ("configmaps") when the definition names resources
				       (metacontroller), else NULL: discovery finds it from kind */
	const struct mcdef_child *mc; /* borrowed: statusChecks for the rolling methods; NULL for
					    coxswain.yaml */
};

struct config_controller {
	char *name; /* a DNS label: metrics labels, field manager coxswain/<name>,
				       finalizer coxswain.io/<name> */
	char *parent_api_version;
	char *parent_kind;
	struct config_child *children; /* n_children of them, NULL when none */
	size_t n_children;
	struct config_hook sync;     /* always set */
	struct config_hook finalize; /* set: the controller adds a finalizer */
	int resync_period_seconds;   /* >= 0, default 300; 0 = no periodic resync */
	char *namespace;             /* "" (the default) = all namespaces */
	bool adopt_orphans;          /* adopt an existing child that has no controller (default false) */

	/* What coxswain.yaml cannot say (yet); set by common/mcbridge.h for a
	 * metacontroller definition, the defaults noted here otherwise. */
	enum config_origin origin;                  /* CONFIG_ORIGIN_FILE */
	enum config_kind kind;                      /* CONFIG_KIND_COMPOSITE */
	const struct mcdef_controller *mc;          /* borrowed: the definition it was made from; NULL for a
						coxswain.yaml controller */
	struct json_object *object;                 /* owned: the hook request's "controller" (the
					    CompositeController or DecoratorController object as
					    written); NULL: config_controller_json's shape */
	char *parent_resource;                      /* the parent's plural when the definition names it, else NULL */
	char *label_selector;                       /* the parents' labelSelector as the API's labelSelector
					    parameter ("app=x,tier in (a,b),!legacy"): only parents it
					    selects are watched and synced; NULL: every object */
	const struct selector *annotation_selector; /* DecoratorController resources[]
							      .annotationSelector; NULL: none */
	bool ignore_status_changes;                 /* a parent whose status alone changed is not synced again */
	bool generate_selector;                     /* metacontroller's generateSelector */
	struct config_hook customize;               /* metacontroller's customize hook; set == false: none */
	char *finalizer;                            /* the finalizer put on parents when there is a finalize hook:
					    "coxswain.io/<name>", or metacontroller's own
					    ("metacontroller.io/compositecontroller-<name>",
					    "metacontroller.io/decoratorcontroller-<name>") so that a
					    controller moves between the two without a stuck parent */
	char *field_manager;                        /* server-side apply's field manager: "coxswain/<name>" */
};

struct config {
	char *path;                            /* the file, as given to config_load */
	struct config_controller *controllers; /* n_controllers >= 1 of them (>= 0: config_load_opts) */
	size_t n_controllers;
	char *endpoint;        /* "ipc://..." or "tcp://host:port" */
	char *health_address;  /* "[host]:port" */
	char *metrics_address; /* "[host]:port" */
	bool leader_election;  /* default true */
	char *lease_namespace; /* default "coxswain-system" */
	char *lease_name;      /* default "coxswain" */
	int worker_count;      /* >= 1, or 0 (the default) = one per CPU, decided by the worker */
	/* The job channel's CURVE keys (paths; the files are read by the
	 * process that uses them). NULL when not configured; a curve block
	 * has both of its paths. */
	char *curve_secret_key_file;        /* watcher.curve.secretKeyFile */
	char *curve_authorized_keys;        /* watcher.curve.authorizedKeys: a file or a directory */
	char *worker_curve_secret_key_file; /* worker.curve.secretKeyFile */
	char *worker_curve_server_key_file; /* worker.curve.serverPublicKeyFile */
	bool channel_insecure;              /* watcher.insecure: tcp:// without CURVE allowed */
	/* API client limits (kclient_options): qps 0 = absent (the default),
	 * -1 = no limit; burst 0 = absent. */
	double watcher_qps;        /* watcher.kubeApiQPS */
	int watcher_burst;         /* watcher.kubeApiBurst */
	double worker_qps;         /* worker.kubeApiQPS */
	int worker_burst;          /* worker.kubeApiBurst */
	int initial_list;          /* watcher.initialList: enum config_initial_list */
	bool worker_events_normal; /* worker.events.normal; default false */
};

/* Loads and validates the coxswain.yaml at path into *out (owned). Returns 0,
 * or with *out NULL and err filled: -errno when the file cannot be read,
 * -EINVAL for any invalid content, -ENOMEM. */
int config_load(const char *path, struct config **out, struct cx_err *err);

/* config_load, with controllers_optional: the file may be empty and its
 * controllers list empty or absent (n_controllers 0), for a watcher given
 * metacontroller definitions (--metacontroller-manifests,
 * --metacontroller-live) and for workers, which learn those controllers
 * from their jobs. */
int config_load_opts(const char *path, bool controllers_optional, struct config **out, struct cx_err *err);

/* Frees *c and everything it owns, and sets *c to NULL. NULL and *c == NULL
 * are fine. */
void config_free(struct config **c);

/* Whether one side of the job channel may use endpoint (the config's or a
 * flag's) with c: a tcp:// endpoint needs that side's curve block
 * (watcher.curve for the watcher, worker.curve for a worker) unless
 * watcher.insecure is true. -EINVAL with a message naming the file and
 * field otherwise. ipc:// is always allowed (its rights are the broker's). */
int config_channel_check(const struct config *c, const char *endpoint, bool watcher_side, struct cx_err *err);

/* Frees what cc owns (not cc itself) and zeroes it; for controllers built
 * outside config_load (common/mcbridge.h). */
void config_controller_clear(struct config_controller *cc);

/* The controller named name, borrowed from c, or NULL. */
const struct config_controller *config_controller(const struct config *c, const char *name);

/* "InPlace", "Recreate", "OnDelete", "RollingRecreate", "RollingInPlace". */
const char *config_update_strategy_name(enum update_strategy s);

/* The controller as the hook request's "controller" field shows it
 * (docs/architecture.md §3 and §4.1): the shape it has in coxswain.yaml,
 * defaults filled in:
 *
 *   {"name": "websites", "parent": {"apiVersion": "example.com/v1", "kind": "Website"},
 *    "children": [{"apiVersion": "v1", "kind": "ConfigMap", "updateStrategy": "InPlace"}],
 *    "hooks": {"sync": {"exec": {"command": ["/hooks/sync"], "timeoutSeconds": 10},
 *                       "version": "v1", "responseUnMarshallMode": "loose"},
 *              "finalize": {"webhook": {"url": "http://...", "timeoutSeconds": 10},
 *                           "version": "v2", "responseUnMarshallMode": "strict"}},
 *    "resyncPeriodSeconds": 300, "namespace": "", "adoptOrphans": false}
 *
 * ("children" is always there, possibly empty; "finalize" only when set.)
 * Returns a new json-c object owned by the caller (json_object_put), or NULL
 * when out of memory. */
struct json_object *config_controller_json(const struct config_controller *cc);

#endif

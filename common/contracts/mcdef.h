/* mcdef: metacontroller's controller definitions, CompositeController and
 * DecoratorController of metacontroller.k8s.io/v1alpha1, read from
 * multi-document YAML (or JSON) into validated structs.
 *
 * What it is for (issue 11): the loader behind `--metacontroller-manifests
 * FILE|DIR`, and later the parser for the same objects watched live from the
 * API, so that teams running metacontroller switch without changing a
 * controller definition. Nothing calls it yet; the programs do not have the
 * flag.
 *
 * A path is a file, or a directory whose *.yaml, *.yml and *.json files
 * (hidden ones skipped, no recursion) are read in byte order of their names.
 * Each file may hold several documents; an empty document is skipped, every
 * other one must be a CompositeController or a DecoratorController. Every
 * field of metacontroller's API (its Go types, pkg/apis/metacontroller/
 * v1alpha1/types.go, as of the caBundle/auth/connections addition) is parsed
 * and checked; a key that is not in that API, a repeated key, a wrong type or
 * value, and a name already used (by either kind, in any file) stops the load
 * with
 *
 *   metacontroller manifest FILE: document N (Kind "name"): line L, column C: PATH: what was expected
 *
 * Scalars are typed the way kubectl's YAML reader types them before the API
 * server sees them: a plain true/false/yes/no/on/off/y/n is a boolean, a plain
 * number a number, a plain ~/null/nothing a null, so `status: True` where a
 * string is expected is refused ("quote it"), as the API server would.
 *
 * Refused here although metacontroller would start the controller, each
 * because metacontroller then fails, misbehaves or silently drops something:
 * no hooks.sync or a hook without a webhook (every sync fails), a webhook
 * timeout <= 0 (metacontroller logs and uses 10s), a service protocol other
 * than http/https or a path not starting with '/' (a broken URL), the same
 * apiVersion+resource twice in childResources/attachments/resources or the
 * same host twice in connections (one hides the other), a selector
 * metav1.LabelSelectorAsSelector rejects (metacontroller fails to start the
 * controller later), authorization type Basic and authorization together with
 * basicAuth (metacontroller fails to build the hook).
 *
 * Each definition is kept twice: as structs (below, with what the user wrote
 * and the effective value metacontroller would use), and as the document
 * itself converted to JSON (`object`), because the hook request's
 * `controller` field is the controller object exactly as the user wrote it.
 * mcdef_to_json rebuilds that object from the structs alone (metadata is
 * kept as JSON); the two are equal for any document without explicit nulls
 * (a null is absent, as for metacontroller's Go types), which the unit tests
 * check on a manifest of each kind writing every field: that is how the
 * structs are known to miss no field.
 *
 * What coxswain has to implement for these definitions (the wiring, issue 11
 * items 2-5): parentResource (resource resolved by discovery, labelSelector
 * filtering parents, revisionHistory.fieldPaths for rolling updates,
 * ignoreStatusChanges), childResources (the five update methods, OnDelete
 * the default, and statusChecks.conditions pausing a rollout; metacontroller
 * reads statusChecks only for the two rolling methods),
 * generateSelector (the controller-uid label), resyncPeriodSeconds (at least
 * one second, absent = none), hooks sync/finalize/customize with version
 * v1|v2, webhook url or service+path, timeout, etag, responseUnMarshallMode,
 * caBundle, authorization, basicAuth, clientTLS and spec.connections; for a
 * DecoratorController resources (label and annotation selectors,
 * ignoreStatusChanges) and attachments (update methods; a decorator has no
 * rollout, so metacontroller applies RollingRecreate and RollingInPlace to
 * attachments as Recreate and InPlace). Two hooks exist in
 * metacontroller's types but metacontroller itself never calls them,
 * hooks.preUpdateChild and hooks.postUpdateChild: they are parsed and kept,
 * and the wiring must document that they are never called, as in
 * metacontroller.
 *
 * Ownership: a struct mcdef_set owns every controller, string and JSON object
 * below it; mcdef_set_free releases all. */
#ifndef COXSWAIN_MCDEF_H
#define COXSWAIN_MCDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "selector.h"

struct cx_err;
struct json_object;

#define MCDEF_API_VERSION              "metacontroller.k8s.io/v1alpha1"
#define MCDEF_DEFAULT_TIMEOUT_NS       (10LL * 1000 * 1000 * 1000) /* webhook.timeout absent: 10s */
#define MCDEF_DEFAULT_SERVICE_PORT     80
#define MCDEF_DEFAULT_SERVICE_PROTOCOL "http"
#define MCDEF_DEFAULT_CA_KEY           "ca.crt"
#define MCDEF_DEFAULT_AUTH_TYPE        "Bearer"
#define MCDEF_DEFAULT_USERNAME_KEY     "username"
#define MCDEF_DEFAULT_PASSWORD_KEY     "password"
#define MCDEF_DEFAULT_CERT_KEY         "tls.crt"
#define MCDEF_DEFAULT_PRIVATE_KEY_KEY  "tls.key"

enum mcdef_kind {
	MCDEF_COMPOSITE,
	MCDEF_DECORATOR,
};

/* updateStrategy.method; absent (or an absent updateStrategy) is OnDelete. */
enum mcdef_method {
	MCDEF_ONDELETE,
	MCDEF_RECREATE,
	MCDEF_INPLACE,
	MCDEF_ROLLING_RECREATE,
	MCDEF_ROLLING_INPLACE,
};

/* A reference to a Secret or ConfigMap (name and namespace required) and,
 * where the type has one, a key in its data. */
struct mcdef_ref {
	char *name;
	char *namespace;
	char *key; /* NULL when not written */
};

enum mcdef_ca_source {
	MCDEF_CA_NONE, /* no caBundle: the system's trust roots */
	MCDEF_CA_INLINE,
	MCDEF_CA_SECRET,
	MCDEF_CA_CONFIGMAP,
};

/* caBundle, clientTLS, authorization, basicAuth: what a webhook and a
 * spec.connections entry both carry. authorization and basicAuth are never
 * both set. Keys not written are NULL; the MCDEF_DEFAULT_* names apply. */
struct mcdef_tls_auth {
	enum mcdef_ca_source ca;
	char *ca_inline;         /* MCDEF_CA_INLINE: the PEM */
	struct mcdef_ref ca_ref; /* MCDEF_CA_SECRET / _CONFIGMAP; key default "ca.crt" */
	bool has_client_tls;
	struct mcdef_ref client_tls_secret; /* key unused */
	char *cert_key;                     /* default "tls.crt" */
	char *private_key_key;              /* default "tls.key" */
	bool has_authorization;
	char *auth_type;              /* default "Bearer"; never "Basic" */
	struct mcdef_ref auth_secret; /* key required */
	bool has_basic_auth;
	struct mcdef_ref basic_secret; /* key unused */
	char *username_key;            /* default "username" */
	char *password_key;            /* default "password" */
};

struct mcdef_webhook {
	char *url;  /* NULL when not written; wins over service + path */
	char *path; /* starts with '/'; NULL when not written */
	bool has_service;
	char *service_name;
	char *service_namespace;
	bool has_service_port;
	int service_port;       /* 1..65535; effective 80 when not written */
	char *service_protocol; /* "http" or "https"; NULL = http */
	char *timeout;          /* the Go duration as written, or NULL */
	int64_t timeout_ns;     /* effective: > 0, 10s when not written */
	bool has_etag;
	bool has_etag_enabled;
	bool etag_enabled; /* default false */
	bool has_etag_cache_timeout;
	int etag_cache_timeout_seconds; /* >= 0 */
	bool has_etag_cache_cleanup;
	int etag_cache_cleanup_seconds; /* >= 0 */
	bool has_unmarshal_mode;
	bool strict; /* effective responseUnMarshallMode: strict, else loose;
				       default loose for v1 hooks, strict for v2 */
	struct mcdef_tls_auth auth;
	char *effective_url; /* url, or PROTOCOL://NAME.NAMESPACE:PORT PATH */
};

struct mcdef_hook {
	bool set; /* false: the hook is not configured */
	bool has_version;
	int version; /* effective 1 or 2; default 1 */
	struct mcdef_webhook webhook;
};

struct mcdef_hooks {
	struct mcdef_hook sync; /* always set after a load */
	struct mcdef_hook finalize;
	struct mcdef_hook customize;
	struct mcdef_hook pre_update_child;  /* CompositeController only; never called */
	struct mcdef_hook post_update_child; /* CompositeController only; never called */
};

/* A spec.connections entry: settings for webhooks whose URL's host matches
 * (case-insensitively; :443 / :80 equal to no port for https / http), used
 * when the webhook sets none of caBundle, clientTLS, authorization and
 * basicAuth itself. Hosts are unique (metacontroller would use the first). */
struct mcdef_connection {
	char *host; /* "host" or "host:port" */
	struct mcdef_tls_auth auth;
};

struct mcdef_condition_check {
	char *type;   /* required */
	char *status; /* NULL: not checked */
	char *reason; /* NULL: not checked */
};

/* A child resource (CompositeController) or an attachment (Decorator-
 * Controller; no status checks). */
struct mcdef_child {
	char *api_version;
	char *resource; /* lowercase plural, resolved by discovery */
	bool has_update_strategy;
	bool has_method;
	enum mcdef_method method; /* effective; OnDelete when not written */
	bool has_status_checks;   /* CompositeController only */
	bool has_conditions;
	struct mcdef_condition_check *conditions; /* n_conditions; used by rolling methods */
	size_t n_conditions;
};

/* A DecoratorController's resources[] entry. */
struct mcdef_resource {
	char *api_version;
	char *resource;
	struct selector label_selector;
	struct selector annotation_selector;
	bool has_ignore_status_changes;
	bool ignore_status_changes; /* default false */
};

struct mcdef_controller {
	enum mcdef_kind kind;
	char *name;                   /* metadata.name, a DNS subdomain */
	struct json_object *metadata; /* metadata as written (labels, annotations, ...) */
	bool has_status;              /* "status: {}" was written */

	/* CompositeController */
	char *parent_api_version;
	char *parent_resource;
	bool has_revision_history;
	bool has_field_paths;
	char **field_paths; /* n_field_paths; effective ["spec"] when none written */
	size_t n_field_paths;
	struct selector parent_selector;
	bool has_parent_ignore_status_changes;
	bool parent_ignore_status_changes; /* default false */
	struct mcdef_child *children;      /* childResources, n_children; NULL when none */
	size_t n_children;
	bool has_children;
	bool has_generate_selector;
	bool generate_selector; /* default false */

	/* DecoratorController */
	struct mcdef_resource *resources; /* n_resources >= 1 */
	size_t n_resources;
	struct mcdef_child *attachments; /* n_attachments; NULL when none */
	size_t n_attachments;
	bool has_attachments;

	/* both */
	struct mcdef_hooks hooks;
	struct mcdef_connection *connections; /* n_connections */
	size_t n_connections;
	bool has_connections;
	bool has_resync;
	int resync_period_seconds; /* >= 0 as written; effective max(1, it) when has_resync,
				       no periodic resync otherwise */

	struct json_object *object; /* the whole document as JSON, exactly as written */
	char *source;               /* "FILE: document N", for messages */
	size_t name_line;           /* line of metadata.name in source */
};

struct mcdef_set {
	struct mcdef_controller *items; /* n >= 1 after a successful load */
	size_t n;
};

/* Loads every definition under path (a file or a directory, see above).
 * Returns 0 with *out owned by the caller, or a negative code with err
 * filled and *out NULL: -errno when a file cannot be read, -EINVAL for
 * invalid content (including no definition at all), -ENOMEM. */
int mcdef_load(const char *path, struct mcdef_set **out, struct cx_err *err);

/* Parses one controller object already in memory (JSON text as the API
 * serves it, or YAML), named source in messages ("CompositeController
 * \"x\""). The same checks as mcdef_load, except that the status may be
 * anything (the API's copy of an object may carry one) and metadata may
 * carry every ObjectMeta field. Returns 0 with *out (one controller) owned
 * by the caller, or -EINVAL / -ENOMEM with err filled and *out NULL. */
int mcdef_parse_json(const char *json_text, const char *source, struct mcdef_set **out, struct cx_err *err);

/* Frees *s and everything it owns; *s = NULL. NULL and *s == NULL are fine. */
void mcdef_set_free(struct mcdef_set **s);

/* The controller named name (either kind), borrowed from s, or NULL. */
const struct mcdef_controller *mcdef_find(const struct mcdef_set *s, const char *name);

/* "OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace". */
const char *mcdef_method_name(enum mcdef_method m);

/* The controller object rebuilt from the structs: what was written, no
 * defaults added. A new object owned by the caller, or NULL when out of
 * memory. */
struct json_object *mcdef_to_json(const struct mcdef_controller *c);

/* Parses a Go duration (time.ParseDuration) that is not negative: "10s",
 * "1.5h", "1m30s", "500ms", "2us", "2µs", "0". Returns 0 with *ns set,
 * -EINVAL for anything else (a sign '-', a missing or unknown unit, no
 * digits), -ERANGE beyond 2^63-1 nanoseconds. */
int mcdef_parse_duration(const char *s, int64_t *ns);

#endif

/* webhookauth: what a metacontroller webhook needs to reach its server:
 * caBundle, clientTLS, authorization and basicAuth, from the webhook itself
 * or from the controller's spec.connections.
 *
 * As metacontroller resolves them (pkg/hooks/connection.go, cabundle.go,
 * auth.go):
 * - a webhook that sets any of the four uses its own settings only;
 *   otherwise the first spec.connections entry whose host matches the
 *   URL's host (case-insensitively; "h" and "h:443" are one for https,
 *   "h" and "h:80" for http) gives them; otherwise there are none;
 * - caBundle: the inline PEM, or the key (default ca.crt) of a Secret or a
 *   ConfigMap's data; the only roots trusted for that webhook; an empty
 *   value is an error;
 * - clientTLS: a Secret's tls.crt and tls.key (keys configurable), the
 *   client certificate presented (mutual TLS);
 * - authorization: the header "TYPE CREDENTIALS", TYPE default Bearer,
 *   CREDENTIALS a Secret key's value with surrounding white space trimmed;
 * - basicAuth: "Basic base64(USERNAME:PASSWORD)", each a Secret key's value
 *   (default username / password), trimmed.
 *
 * Secrets and ConfigMaps are read with the worker's own API identity (it
 * needs get on them; deploy/ grants it) when first needed and kept
 * WEBHOOKAUTH_TTL_MS, so a rotated Secret is picked up within that time;
 * webhookauth_forget drops them sooner (hook.c does on a TLS failure or a
 * 401/403, then retries once when the material changed). A missing object,
 * key or value is an error naming the setting, the object and the key,
 * never a value: no credential reaches a message, a log, a condition or an
 * Event.
 *
 * Reading goes through a fetch function so that everything but the API
 * call is testable with fake objects and a fake clock. Not thread-safe. */
#ifndef COXSWAIN_WEBHOOKAUTH_H
#define COXSWAIN_WEBHOOKAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;
struct kclient;
struct mcdef_connection;
struct mcdef_tls_auth;
struct mcdef_webhook;
struct webhookauth;

/* How long a Secret or ConfigMap read is used before it is read again. */
#define WEBHOOKAUTH_TTL_MS 60000

/* Reads the object (resource "secrets" or "configmaps") into *out (owned
 * by the caller). Returns 0 or a negative code with err filled (-ENOENT
 * when it does not exist). */
typedef int (*webhookauth_fetch_fn)(void *ud, const char *resource, const char *ns, const char *name,
				    struct json_object **out, struct cx_err *err);

/* The fetch function of the API: ud is a struct kclient *. */
int webhookauth_kclient_fetch(void *ud, const char *resource, const char *ns, const char *name,
			      struct json_object **out, struct cx_err *err);

/* What a call uses; every field owned, NULL when not configured. */
struct webhookauth_material {
	char *ca; /* PEM of the trusted roots; NULL: the system's */
	size_t ca_len;
	char *cert; /* the client certificate, PEM */
	size_t cert_len;
	char *key; /* its private key, PEM */
	size_t key_len;
	char *authorization; /* the Authorization header's value ("Bearer x", "Basic eDp5") */
	bool from_objects;   /* something came from a Secret or ConfigMap (re-reading may change it) */
};

/* Frees what m owns, clearing secret bytes first, and zeroes m. */
void webhookauth_material_clear(struct webhookauth_material *m);

/* Whether a and b are the same material. */
bool webhookauth_material_equal(const struct webhookauth_material *a, const struct webhookauth_material *b);

/* Whether a sets any of caBundle, clientTLS, authorization, basicAuth. */
bool webhookauth_any(const struct mcdef_tls_auth *a);

/* The index of the first of conns[n] whose host matches url's, or -1. */
int webhookauth_match_connection(const char *url, const struct mcdef_connection *conns, size_t n);

/* The settings a webhook w calling url uses: its own when it sets any,
 * else a matching connection's, else NULL. *where gets "webhook" or
 * "spec.connections[I]" (for messages; a static or buf). */
const struct mcdef_tls_auth *webhookauth_select(const struct mcdef_webhook *w, const struct mcdef_connection *conns,
						size_t n, const char *url, char *where, size_t where_len);

/* "Basic " + base64(user ":" password) into *out (owned). 0 or -ENOMEM. */
int webhookauth_basic(const char *user, size_t user_len, const char *password, size_t password_len, char **out);

/* A cache of the Secrets and ConfigMaps read. NULL when out of memory. */
struct webhookauth *webhookauth_new(void);

void webhookauth_free(struct webhookauth **c);

/* Resolves a (not NULL) into out, reading what it names through fetch (or
 * c's copy younger than WEBHOOKAUTH_TTL_MS at now_ms). where prefixes
 * messages ("webhook", "spec.connections[0]"). Returns 0, or a negative
 * code with err saying `caBundle: Secret "ns/name": no key "ca.crt"`,
 * `basicAuth: cannot read Secret "ns/name": ...` and out cleared:
 * the fetch's code when an object cannot be read, -EINVAL for a missing
 * key, an empty or invalid value, -ENOMEM. */
int webhookauth_resolve(struct webhookauth *c, const struct mcdef_tls_auth *a, const char *where,
			webhookauth_fetch_fn fetch, void *ud, int64_t now_ms, struct webhookauth_material *out,
			struct cx_err *err);

/* Drops c's copies of the objects a names: the next resolve reads them. */
void webhookauth_forget(struct webhookauth *c, const struct mcdef_tls_auth *a);

#endif

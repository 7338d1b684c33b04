#include "config.h"

#include "webhookauth.h"
#include "err.h"
#include "jsonget.h"
#include "kclient.h"
#include "mcdef.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the cache of objects read ---- */

struct cached {
	struct cached *next;
	char *resource, *ns, *name;
	struct json_object *obj;
	int64_t fetched_ms;
};

struct webhookauth {
	struct cached *head;
};

struct webhookauth *webhookauth_new(void)
{
	return calloc(1, sizeof(struct webhookauth));
}

static void cached_free(struct cached *e)
{
	free(e->resource);
	free(e->ns);
	free(e->name);
	json_object_put(e->obj);
	free(e);
}

void webhookauth_free(struct webhookauth **cp)
{
	struct webhookauth *c = cp ? *cp : NULL;
	if (!c)
		return;
	for (struct cached *e = c->head, *next; e; e = next) {
		next = e->next;
		cached_free(e);
	}
	free(c);
	*cp = NULL;
}

static struct cached **find(struct webhookauth *c, const char *resource, const char *ns, const char *name)
{
	struct cached **p = &c->head;
	while (*p && (strcmp((*p)->resource, resource) || strcmp((*p)->ns, ns) || strcmp((*p)->name, name)))
		p = &(*p)->next;
	return p;
}

static void forget_one(struct webhookauth *c, const char *resource, const struct mcdef_ref *ref)
{
	if (!c || !ref->name || !ref->namespace)
		return;
	struct cached **p = find(c, resource, ref->namespace, ref->name);
	if (*p) {
		struct cached *e = *p;
		*p = e->next;
		cached_free(e);
	}
}

void webhookauth_forget(struct webhookauth *c, const struct mcdef_tls_auth *a)
{
	if (!a)
		return;
	if (a->ca == MCDEF_CA_SECRET)
		forget_one(c, "secrets", &a->ca_ref);
	if (a->ca == MCDEF_CA_CONFIGMAP)
		forget_one(c, "configmaps", &a->ca_ref);
	if (a->has_client_tls)
		forget_one(c, "secrets", &a->client_tls_secret);
	if (a->has_authorization)
		forget_one(c, "secrets", &a->auth_secret);
	if (a->has_basic_auth)
		forget_one(c, "secrets", &a->basic_secret);
}

int webhookauth_kclient_fetch(void *ud, const char *resource, const char *ns, const char *name,
			      struct json_object **out, struct cx_err *err)
{
	char path[1024];
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ns, resource, name);
	return kclient_get(ud, path, out, err);
}

/* The object (borrowed from c) named by ref, read through fetch when c has
 * no copy younger than the TTL. */
static int object_of(struct webhookauth *c, const char *resource, const struct mcdef_ref *ref,
		     webhookauth_fetch_fn fetch, void *ud, int64_t now_ms, struct json_object **obj, struct cx_err *err)
{
	struct cached **p = find(c, resource, ref->namespace, ref->name);
	if (*p && now_ms - (*p)->fetched_ms < WEBHOOKAUTH_TTL_MS && now_ms >= (*p)->fetched_ms) {
		*obj = (*p)->obj;
		return 0;
	}
	struct json_object *got = NULL;
	int rc = fetch(ud, resource, ref->namespace, ref->name, &got, err);
	if (rc)
		return rc;
	struct cached *e = *p;
	if (!e) {
		if (!(e = calloc(1, sizeof(*e))) || !(e->resource = strdup(resource)) ||
		    !(e->ns = strdup(ref->namespace)) || !(e->name = strdup(ref->name))) {
			if (e)
				cached_free(e);
			json_object_put(got);
			return cx_err_set(err, -ENOMEM, "out of memory");
		}
		*p = e;
	}
	json_object_put(e->obj);
	e->obj = got;
	e->fetched_ms = now_ms;
	*obj = got;
	return 0;
}

/* ---- values ---- */

static int decode_base64(const char *in, size_t in_len, char **out, size_t *out_len)
{
	unsigned char *buf = malloc(in_len / 4 * 3 + 4);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int len = 0, tail = 0;
	bool ok = buf && ctx;
	if (ok) {
		EVP_DecodeInit(ctx);
		ok = EVP_DecodeUpdate(ctx, buf, &len, (const unsigned char *)in, (int)in_len) >= 0 &&
			EVP_DecodeFinal(ctx, buf + len, &tail) == 1;
	}
	EVP_ENCODE_CTX_free(ctx);
	if (!ok) {
		free(buf);
		return buf ? -EINVAL : -ENOMEM;
	}
	buf[len + tail] = '\0';
	*out = (char *)buf;
	*out_len = (size_t)(len + tail);
	return 0;
}

/* The value of key in obj's data (a Secret's is base64, a ConfigMap's
 * plain), owned and NUL-terminated, in *out. what/kind name it for
 * messages. */
static int value_of(struct json_object *obj, const char *kind, const struct mcdef_ref *ref, const char *key,
		    const char *what, char **out, size_t *len, struct cx_err *err)
{
	struct json_object *v = jsonget(jsonget(obj, "data"), key);
	if (!v || !json_object_is_type(v, json_type_string))
		return cx_err_set(err, -EINVAL, "%s: %s \"%s/%s\" has no key \"%s\"", what, kind, ref->namespace,
				  ref->name, key);
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (!strcmp(kind, "Secret")) {
		int rc = decode_base64(s, n, out, len);
		if (rc == -ENOMEM)
			return cx_err_set(err, rc, "out of memory");
		if (rc)
			return cx_err_set(err, rc, "%s: %s \"%s/%s\": key \"%s\" is not base64", what, kind,
					  ref->namespace, ref->name, key);
	} else {
		if (!(*out = strndup(s, n)))
			return cx_err_set(err, -ENOMEM, "out of memory");
		*len = n;
	}
	return 0;
}

/* Go's strings.TrimSpace on s (len bytes), in place. */
static void trim(char *s, size_t *len)
{
	size_t a = 0, b = *len;
	while (a < b && isspace((unsigned char)s[a]))
		a++;
	while (b > a && isspace((unsigned char)s[b - 1]))
		b--;
	memmove(s, s + a, b - a);
	s[b - a] = '\0';
	*len = b - a;
}

/* Whether s (len bytes) has a byte a header value cannot carry. */
static bool has_control(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 ? s[i] != '\t' : s[i] == 0x7f)
			return true;
	return false;
}

static void wipe_free(char *s, size_t len)
{
	if (!s)
		return;
	volatile char *p = s;
	for (size_t i = 0; i < len; i++)
		p[i] = 0;
	free(s);
}

void webhookauth_material_clear(struct webhookauth_material *m)
{
	wipe_free(m->ca, m->ca_len);
	wipe_free(m->cert, m->cert_len);
	wipe_free(m->key, m->key_len);
	if (m->authorization)
		wipe_free(m->authorization, strlen(m->authorization));
	memset(m, 0, sizeof(*m));
}

static bool same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (!alen || (a && b && !memcmp(a, b, alen))) && !a == !b;
}

bool webhookauth_material_equal(const struct webhookauth_material *a, const struct webhookauth_material *b)
{
	return same(a->ca, a->ca_len, b->ca, b->ca_len) && same(a->cert, a->cert_len, b->cert, b->cert_len) &&
		same(a->key, a->key_len, b->key, b->key_len) && !a->authorization == !b->authorization &&
		(!a->authorization || !strcmp(a->authorization, b->authorization));
}

int webhookauth_basic(const char *user, size_t user_len, const char *password, size_t password_len, char **out)
{
	size_t n = user_len + 1 + password_len;
	char *plain = malloc(n + 1), *hdr = malloc(6 + 4 * ((n + 2) / 3) + 1);
	if (!plain || !hdr) {
		free(plain);
		free(hdr);
		return -ENOMEM;
	}
	memcpy(plain, user, user_len);
	plain[user_len] = ':';
	memcpy(plain + user_len + 1, password, password_len);
	memcpy(hdr, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)hdr + 6, (const unsigned char *)plain, (int)n);
	wipe_free(plain, n);
	*out = hdr;
	return 0;
}

/* Whether pem holds at least one certificate. */
static bool has_certificate(const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	bool ok = x != NULL;
	X509_free(x);
	BIO_free(b);
	return ok;
}

/* Whether cert and key are PEM and belong together. */
static bool key_pair_ok(const char *cert, size_t cert_len, const char *key, size_t key_len)
{
	BIO *cb = BIO_new_mem_buf(cert, (int)cert_len), *kb = BIO_new_mem_buf(key, (int)key_len);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	bool ok = x && k && X509_check_private_key(x, k) == 1;
	EVP_PKEY_free(k);
	X509_free(x);
	BIO_free(cb);
	BIO_free(kb);
	return ok;
}

static int resolve(struct webhookauth *c, const struct mcdef_tls_auth *a, webhookauth_fetch_fn fetch, void *ud,
		   int64_t now_ms, struct webhookauth_material *m, struct cx_err *err)
{
	struct json_object *obj = NULL;
	int rc;
	if (a->ca == MCDEF_CA_INLINE) {
		if (!(m->ca = strdup(a->ca_inline ? a->ca_inline : "")))
			return cx_err_set(err, -ENOMEM, "out of memory");
		m->ca_len = strlen(m->ca);
	} else if (a->ca == MCDEF_CA_SECRET || a->ca == MCDEF_CA_CONFIGMAP) {
		bool secret = a->ca == MCDEF_CA_SECRET;
		const char *kind = secret ? "Secret" : "ConfigMap";
		const char *key = a->ca_ref.key ? a->ca_ref.key : MCDEF_DEFAULT_CA_KEY;
		if ((rc = object_of(c, secret ? "secrets" : "configmaps", &a->ca_ref, fetch, ud, now_ms, &obj, err)))
			return cx_err_wrap(err, rc, "caBundle: cannot read %s \"%s/%s\": ", kind, a->ca_ref.namespace,
					   a->ca_ref.name);
		if ((rc = value_of(obj, kind, &a->ca_ref, key, "caBundle", &m->ca, &m->ca_len, err)))
			return rc;
		if (!m->ca_len)
			return cx_err_set(err, -EINVAL, "caBundle: %s \"%s/%s\": key \"%s\" is empty", kind,
					  a->ca_ref.namespace, a->ca_ref.name, key);
		m->from_objects = true;
	}
	if (m->ca && !has_certificate(m->ca, m->ca_len))
		return cx_err_set(err, -EINVAL, "caBundle: no PEM certificate in %s",
				  a->ca == MCDEF_CA_INLINE ? "caBundle.inline" : "the key it names");

	if (a->has_client_tls) {
		const struct mcdef_ref *ref = &a->client_tls_secret;
		const char *ck = a->cert_key ? a->cert_key : MCDEF_DEFAULT_CERT_KEY;
		const char *kk = a->private_key_key ? a->private_key_key : MCDEF_DEFAULT_PRIVATE_KEY_KEY;
		if ((rc = object_of(c, "secrets", ref, fetch, ud, now_ms, &obj, err)))
			return cx_err_wrap(err, rc, "clientTLS: cannot read Secret \"%s/%s\": ", ref->namespace,
					   ref->name);
		if ((rc = value_of(obj, "Secret", ref, ck, "clientTLS", &m->cert, &m->cert_len, err)) ||
		    (rc = value_of(obj, "Secret", ref, kk, "clientTLS", &m->key, &m->key_len, err)))
			return rc;
		if (!key_pair_ok(m->cert, m->cert_len, m->key, m->key_len))
			return cx_err_set(err, -EINVAL,
					  "clientTLS: Secret \"%s/%s\": keys \"%s\" and \"%s\" are not a "
					  "PEM certificate and its private key",
					  ref->namespace, ref->name, ck, kk);
		m->from_objects = true;
	}

	if (a->has_authorization) {
		const struct mcdef_ref *ref = &a->auth_secret;
		char *cred = NULL;
		size_t len = 0;
		if ((rc = object_of(c, "secrets", ref, fetch, ud, now_ms, &obj, err)))
			return cx_err_wrap(err, rc, "authorization: cannot read Secret \"%s/%s\": ", ref->namespace,
					   ref->name);
		if ((rc = value_of(obj, "Secret", ref, ref->key ? ref->key : "", "authorization", &cred, &len, err)))
			return rc;
		trim(cred, &len);
		const char *type = a->auth_type && *a->auth_type ? a->auth_type : MCDEF_DEFAULT_AUTH_TYPE;
		if (has_control(cred, len)) {
			wipe_free(cred, len);
			return cx_err_set(err, -EINVAL,
					  "authorization: Secret \"%s/%s\": key \"%s\" holds a control "
					  "character (not allowed in a header)",
					  ref->namespace, ref->name, ref->key);
		}
		if (has_control(type, strlen(type))) {
			wipe_free(cred, len);
			return cx_err_set(err, -EINVAL,
					  "authorization.type holds a control character (not allowed in a "
					  "header)");
		}
		rc = asprintf(&m->authorization, "%s %s", type, cred) < 0 ? -ENOMEM : 0;
		wipe_free(cred, len);
		if (rc) {
			m->authorization = NULL;
			return cx_err_set(err, rc, "out of memory");
		}
		m->from_objects = true;
	} else if (a->has_basic_auth) {
		const struct mcdef_ref *ref = &a->basic_secret;
		const char *uk = a->username_key ? a->username_key : MCDEF_DEFAULT_USERNAME_KEY;
		const char *pk = a->password_key ? a->password_key : MCDEF_DEFAULT_PASSWORD_KEY;
		char *user = NULL, *pass = NULL;
		size_t ul = 0, pl = 0;
		if ((rc = object_of(c, "secrets", ref, fetch, ud, now_ms, &obj, err)))
			return cx_err_wrap(err, rc, "basicAuth: cannot read Secret \"%s/%s\": ", ref->namespace,
					   ref->name);
		if (!(rc = value_of(obj, "Secret", ref, uk, "basicAuth", &user, &ul, err)) &&
		    !(rc = value_of(obj, "Secret", ref, pk, "basicAuth", &pass, &pl, err))) {
			trim(user, &ul);
			trim(pass, &pl);
			if (webhookauth_basic(user, ul, pass, pl, &m->authorization))
				rc = cx_err_set(err, -ENOMEM, "out of memory");
		}
		wipe_free(user, ul);
		wipe_free(pass, pl);
		if (rc)
			return rc;
		m->from_objects = true;
	}
	return 0;
}

int webhookauth_resolve(struct webhookauth *c, const struct mcdef_tls_auth *a, const char *where,
			webhookauth_fetch_fn fetch, void *ud, int64_t now_ms, struct webhookauth_material *out,
			struct cx_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = resolve(c, a, fetch, ud, now_ms, out, err);
	if (rc) {
		webhookauth_material_clear(out);
		if (where && *where)
			cx_err_prefix(err, "%s.", where);
	}
	return rc;
}

/* ---- which settings ---- */

bool webhookauth_any(const struct mcdef_tls_auth *a)
{
	return a->ca != MCDEF_CA_NONE || a->has_client_tls || a->has_authorization || a->has_basic_auth;
}

static bool eqfold(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && !strncasecmp(a, b, alen);
}

int webhookauth_match_connection(const char *url, const struct mcdef_connection *conns, size_t n)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	if (!sep)
		return -1;
	size_t scheme_len = (size_t)(sep - url);
	bool https = scheme_len == 5 && !strncasecmp(url, "https", 5);
	bool http = scheme_len == 4 && !strncasecmp(url, "http", 4);
	const char *auth = sep + 3;
	size_t auth_len = strcspn(auth, "/?#");
	const char *host = auth;
	for (const char *p = auth; p < auth + auth_len; p++)
		if (*p == '@')
			host = p + 1;
	size_t host_len = (size_t)(auth + auth_len - host); /* Go's u.Host: "name" or "name:port" */
	/* Hostname and port: a bracketed IPv6 address keeps its colons. */
	const char *name = host, *port = NULL;
	size_t name_len = host_len;
	const char *close = memchr(host, ']', host_len);
	const char *colon = NULL;
	for (const char *p = close ? close : host; p < host + host_len; p++)
		if (*p == ':')
			colon = p;
	if (colon) {
		name_len = (size_t)(colon - host);
		port = colon + 1;
	}
	size_t port_len = port ? (size_t)(host + host_len - port) : 0;
	if (name_len >= 2 && name[0] == '[' && name[name_len - 1] == ']') {
		name++;
		name_len -= 2;
	}
	char canonical[512];
	if (!port_len && (https || http))
		snprintf(canonical, sizeof(canonical), "%.*s:%s", (int)name_len, name, https ? "443" : "80");
	else
		snprintf(canonical, sizeof(canonical), "%.*s", (int)host_len, host);
	bool default_port = port_len &&
		((https && port_len == 3 && !memcmp(port, "443", 3)) ||
		 (http && port_len == 2 && !memcmp(port, "80", 2)));
	for (size_t i = 0; i < n; i++) {
		const char *h = conns[i].host ? conns[i].host : "";
		if (eqfold(host, host_len, h) || !strcasecmp(canonical, h) ||
		    (default_port && eqfold(name, name_len, h)))
			return (int)i;
	}
	return -1;
}

const struct mcdef_tls_auth *webhookauth_select(const struct mcdef_webhook *w, const struct mcdef_connection *conns,
						size_t n, const char *url, char *where, size_t where_len)
{
	if (where_len)
		where[0] = '\0';
	if (!w)
		return NULL;
	if (webhookauth_any(&w->auth)) {
		snprintf(where, where_len, "webhook");
		return &w->auth;
	}
	int i = webhookauth_match_connection(url, conns, n);
	if (i < 0)
		return NULL;
	snprintf(where, where_len, "spec.connections[%d]", i);
	return &conns[i].auth;
}

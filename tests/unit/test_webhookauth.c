/* webhookauth: which settings a webhook uses (its own, or a matching
 * spec.connections entry), the headers built from Secrets, the cache of
 * Secrets on a fake clock, and messages that name the Secret and the key
 * but never a value. The API is replaced by a fetch function over objects
 * held here. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mcdef.h"
#include "webhookauth.h"

#define DATA TEST_DATA_DIR "/webhookauth/"

/* "resource/ns/name" -> object */
static struct json_object *objects;
static int fetches;

static int fake_fetch(void *ud, const char *resource, const char *ns, const char *name, struct json_object **out,
		      struct cx_err *err)
{
	(void)ud;
	fetches++;
	char key[512];
	snprintf(key, sizeof(key), "%s/%s/%s", resource, ns, name);
	struct json_object *o = NULL;
	if (!json_object_object_get_ex(objects, key, &o))
		return cx_err_set(err, -ENOENT, "%s \"%s\" not found", resource, name);
	*out = json_object_get(o);
	return 0;
}

static void setup(void)
{
	objects = json_object_new_object();
	fetches = 0;
}

static void teardown(void)
{
	json_object_put(objects);
}

TestSuite(webhookauth, .init = setup, .fini = teardown);

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	static char buf[16384];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* Puts a Secret (plain values, base64-encoded here) or a ConfigMap. */
static void put_object(const char *resource, const char *ns, const char *name, const char *const *kv)
{
	struct json_object *data = json_object_new_object();
	for (; kv[0]; kv += 2) {
		char *v = !strcmp(resource, "secrets") ? b64(kv[1]) : strdup(kv[1]);
		json_object_object_add(data, kv[0], json_object_new_string(v));
		free(v);
	}
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "data", data);
	char key[512];
	snprintf(key, sizeof(key), "%s/%s/%s", resource, ns, name);
	json_object_object_add(objects, key, o);
}

static struct mcdef_ref ref(const char *ns, const char *name, const char *key)
{
	return (struct mcdef_ref){ .name = (char *)name, .namespace = (char *)ns, .key = (char *)key };
}

static int resolve(struct webhookauth *c, const struct mcdef_tls_auth *a, int64_t now, struct webhookauth_material *m,
		   struct cx_err *err)
{
	return webhookauth_resolve(c, a, "webhook", fake_fetch, NULL, now, m, err);
}

Test(webhookauth, bearer_is_type_and_trimmed_credentials)
{
	put_object("secrets", "ns", "tok", (const char *const[]){ "token", "  s3cr3t\n", NULL });
	struct mcdef_tls_auth a = { .has_authorization = true, .auth_secret = ref("ns", "tok", "token") };
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.authorization, "Bearer s3cr3t");
	cr_assert(m.from_objects);
	cr_assert_null(m.ca);
	cr_assert_null(m.cert);
	webhookauth_material_clear(&m);
	a.auth_type = "Token";
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.authorization, "Token s3cr3t");
	webhookauth_material_clear(&m);
	webhookauth_free(&c);
}

Test(webhookauth, basic_is_base64_of_trimmed_user_and_password)
{
	put_object("secrets", "ns", "creds",
		   (const char *const[]){ "username", "alice\n", "password", "p:w d", "u2", "bob", "p2", "x", NULL });
	struct mcdef_tls_auth a = { .has_basic_auth = true, .basic_secret = ref("ns", "creds", NULL) };
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	char *want = b64("alice:p:w d");
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "Basic %s", want);
	cr_assert_str_eq(m.authorization, hdr);
	free(want);
	webhookauth_material_clear(&m);
	a.username_key = "u2";
	a.password_key = "p2";
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.authorization, "Basic Ym9iOng=");
	webhookauth_material_clear(&m);
	webhookauth_free(&c);
}

Test(webhookauth, a_missing_key_or_secret_names_them_and_no_value)
{
	put_object("secrets", "ns", "creds", (const char *const[]){ "username", "alice", "other", "hunter2", NULL });
	struct mcdef_tls_auth a = { .has_basic_auth = true, .basic_secret = ref("ns", "creds", NULL) };
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "webhook.basicAuth: Secret \"ns/creds\" has no key \"password\"");
	cr_assert_null(m.authorization);
	cr_assert_null(strstr(err.msg, "alice"));

	struct mcdef_tls_auth b = { .has_authorization = true, .auth_secret = ref("ns", "gone", "token") };
	err = (struct cx_err){ 0 };
	cr_assert_eq(resolve(c, &b, 0, &m, &err), -ENOENT);
	cr_assert(strstr(err.msg, "webhook.authorization: cannot read Secret \"ns/gone\": "), "%s", err.msg);

	struct mcdef_tls_auth d = { .ca = MCDEF_CA_CONFIGMAP, .ca_ref = ref("ns", "cm", NULL) };
	put_object("configmaps", "ns", "cm", (const char *const[]){ "ca.crt", "", NULL });
	err = (struct cx_err){ 0 };
	cr_assert_eq(resolve(c, &d, 0, &m, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "webhook.caBundle: ConfigMap \"ns/cm\": key \"ca.crt\" is empty");
	webhookauth_free(&c);
}

Test(webhookauth, ca_from_inline_secret_or_configmap_must_hold_a_certificate)
{
	char *pem = slurp(DATA "client.crt");
	put_object("configmaps", "ns", "ca", (const char *const[]){ "ca.crt", pem, NULL });
	put_object("secrets", "ns", "ca", (const char *const[]){ "bundle", pem, NULL });
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };

	struct mcdef_tls_auth a = { .ca = MCDEF_CA_INLINE, .ca_inline = pem };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_eq(m.ca_len, strlen(pem));
	cr_assert_not(m.from_objects, "inline: re-reading changes nothing");
	webhookauth_material_clear(&m);

	struct mcdef_tls_auth b = { .ca = MCDEF_CA_CONFIGMAP, .ca_ref = ref("ns", "ca", NULL) };
	cr_assert_eq(resolve(c, &b, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.ca, pem);
	webhookauth_material_clear(&m);

	struct mcdef_tls_auth s = { .ca = MCDEF_CA_SECRET, .ca_ref = ref("ns", "ca", "bundle") };
	cr_assert_eq(resolve(c, &s, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.ca, pem);
	webhookauth_material_clear(&m);

	struct mcdef_tls_auth bad = { .ca = MCDEF_CA_INLINE, .ca_inline = "not a certificate" };
	cr_assert_eq(resolve(c, &bad, 0, &m, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "webhook.caBundle: no PEM certificate in caBundle.inline");
	free(pem);
	webhookauth_free(&c);
}

Test(webhookauth, client_tls_needs_a_matching_certificate_and_key)
{
	char *crt = slurp(DATA "client.crt"), *key = slurp(DATA "client.key"), *other = slurp(DATA "other.key");
	put_object("secrets", "ns", "tls", (const char *const[]){ "tls.crt", crt, "tls.key", key, NULL });
	put_object("secrets", "ns", "mixed", (const char *const[]){ "c", crt, "k", other, NULL });
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	struct mcdef_tls_auth a = { .has_client_tls = true, .client_tls_secret = ref("ns", "tls", NULL) };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), 0, "%s", err.msg);
	cr_assert_str_eq(m.cert, crt);
	cr_assert_str_eq(m.key, key);
	webhookauth_material_clear(&m);
	struct mcdef_tls_auth b = { .has_client_tls = true,
				    .client_tls_secret = ref("ns", "mixed", NULL),
				    .cert_key = "c",
				    .private_key_key = "k" };
	cr_assert_eq(resolve(c, &b, 0, &m, &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "webhook.clientTLS: Secret \"ns/mixed\": keys \"c\" and \"k\" are not a PEM "
			 "certificate and its private key");
	free(crt);
	free(key);
	free(other);
	webhookauth_free(&c);
}

/* A rotated Secret is read again after the TTL, or at once after forget. */
Test(webhookauth, secrets_are_cached_for_the_ttl_then_read_again)
{
	put_object("secrets", "ns", "tok", (const char *const[]){ "token", "one", NULL });
	struct mcdef_tls_auth a = { .has_authorization = true, .auth_secret = ref("ns", "tok", "token") };
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	cr_assert_eq(resolve(c, &a, 1000, &m, &err), 0, "%s", err.msg);
	webhookauth_material_clear(&m);
	cr_assert_eq(fetches, 1);
	put_object("secrets", "ns", "tok", (const char *const[]){ "token", "two", NULL });
	cr_assert_eq(resolve(c, &a, 1000 + WEBHOOKAUTH_TTL_MS - 1, &m, &err), 0);
	cr_assert_str_eq(m.authorization, "Bearer one", "still the copy read at 1000");
	webhookauth_material_clear(&m);
	cr_assert_eq(fetches, 1);
	cr_assert_eq(resolve(c, &a, 1000 + WEBHOOKAUTH_TTL_MS, &m, &err), 0);
	cr_assert_str_eq(m.authorization, "Bearer two");
	webhookauth_material_clear(&m);
	cr_assert_eq(fetches, 2);

	put_object("secrets", "ns", "tok", (const char *const[]){ "token", "three", NULL });
	webhookauth_forget(c, &a);
	cr_assert_eq(resolve(c, &a, 1000 + WEBHOOKAUTH_TTL_MS, &m, &err), 0);
	cr_assert_str_eq(m.authorization, "Bearer three");
	struct webhookauth_material m2;
	cr_assert_eq(resolve(c, &a, 1000 + WEBHOOKAUTH_TTL_MS, &m2, &err), 0);
	cr_assert(webhookauth_material_equal(&m, &m2));
	webhookauth_material_clear(&m2);
	webhookauth_material_clear(&m);
	webhookauth_free(&c);
}

static struct mcdef_connection conn(const char *host)
{
	struct mcdef_connection c = { .host = (char *)host };
	c.auth.has_authorization = true;
	return c;
}

/* metacontroller's matchConnection: case-insensitive; the scheme's default
 * port may be written or not on either side. */
Test(webhookauth, connections_match_by_host)
{
	struct mcdef_connection cs[] = { conn("Hooks.Example.com"), conn("other:8443"), conn("plain"),
					 conn("secure.svc:443") };
	cr_assert_eq(webhookauth_match_connection("https://hooks.example.com/sync", cs, 4), 0);
	cr_assert_eq(webhookauth_match_connection("https://hooks.example.com:443/sync", cs, 4), 0);
	cr_assert_eq(webhookauth_match_connection("https://user@hooks.example.com:443/sync", cs, 4), 0);
	cr_assert_eq(webhookauth_match_connection("https://hooks.example.com:8443/sync", cs, 4), -1);
	cr_assert_eq(webhookauth_match_connection("https://other:8443/x", cs, 4), 1);
	cr_assert_eq(webhookauth_match_connection("https://other/x", cs, 4), -1);
	cr_assert_eq(webhookauth_match_connection("http://plain:80/x", cs, 4), 2);
	cr_assert_eq(webhookauth_match_connection("http://plain/x", cs, 4), 2);
	cr_assert_eq(webhookauth_match_connection("https://plain:80/x", cs, 4), -1);
	cr_assert_eq(webhookauth_match_connection("https://secure.svc/x", cs, 4), 3);
	cr_assert_eq(webhookauth_match_connection("http://secure.svc/x", cs, 4), -1);
	cr_assert_eq(webhookauth_match_connection("not a url", cs, 4), -1);
}

/* A webhook with any setting of its own ignores connections entirely. */
Test(webhookauth, own_settings_win_over_connections)
{
	struct mcdef_connection cs[] = { conn("a.svc") };
	struct mcdef_webhook w = { .effective_url = "http://a.svc/x" };
	char where[64];
	cr_assert_eq(webhookauth_select(&w, cs, 1, w.effective_url, where, sizeof(where)), &cs[0].auth);
	cr_assert_str_eq(where, "spec.connections[0]");
	w.auth.ca = MCDEF_CA_INLINE;
	cr_assert_eq(webhookauth_select(&w, cs, 1, w.effective_url, where, sizeof(where)), &w.auth);
	cr_assert_str_eq(where, "webhook");
	struct mcdef_webhook none = { .effective_url = "http://b.svc/x" };
	cr_assert_null(webhookauth_select(&none, cs, 1, none.effective_url, where, sizeof(where)));
	cr_assert_null(webhookauth_select(NULL, cs, 1, "http://a.svc/x", where, sizeof(where)));
}

/* A token with a line break inside would split the request's headers. */
Test(webhookauth, a_token_with_a_control_character_is_refused)
{
	put_object("secrets", "ns", "tok", (const char *const[]){ "token", "abc\r\nX-Injected: 1", NULL });
	struct mcdef_tls_auth a = { .has_authorization = true, .auth_secret = ref("ns", "tok", "token") };
	struct webhookauth *c = webhookauth_new();
	struct webhookauth_material m;
	struct cx_err err = { 0 };
	cr_assert_eq(resolve(c, &a, 0, &m, &err), -EINVAL);
	cr_assert_str_eq(err.msg,
			 "webhook.authorization: Secret \"ns/tok\": key \"token\" holds a control character "
			 "(not allowed in a header)");
	cr_assert_null(m.authorization);
	webhookauth_free(&c);
}

#include "config.h"

#include "kubeconfig.h"
#include "err.h"
#include "restconfig.h"
#include "yamlnode.h"

#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/* Files a kubeconfig points at are certificates, keys and tokens. */
#define REFERENCED_FILE_MAX (1024 * 1024)

/* What one parse needs to report where it is. */
struct parse {
	struct yamlnode_src y; /* the document, the kubeconfig as given, the error to fill */
	const char *dir;       /* its directory, absolute: relative paths are resolved here */
};

static int decode_base64(struct parse *p, const yaml_node_t *n, const char *where, struct blob *out)
{
	const unsigned char *in = n->data.scalar.value;
	int in_len = (int)n->data.scalar.length;
	unsigned char *buf = malloc((size_t)in_len / 4 * 3 + 4);
	if (!buf)
		return cx_err_set(p->y.err, -ENOMEM, "kubeconfig %s: %s: out of memory", p->y.path, where);

	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int len = 0, tail = 0, ok = ctx != NULL;
	if (ok) {
		EVP_DecodeInit(ctx);
		ok = EVP_DecodeUpdate(ctx, buf, &len, in, in_len) >= 0 && EVP_DecodeFinal(ctx, buf + len, &tail) == 1;
		EVP_ENCODE_CTX_free(ctx);
	}
	if (!ok) {
		free(buf);
		return yamlnode_fail(&p->y, n, where, "invalid base64");
	}
	int rc = blob_set(out, buf, (size_t)(len + tail), p->y.err);
	explicit_bzero(buf, (size_t)(len + tail));
	free(buf);
	return rc;
}

enum field_kind {
	F_STRING,
	F_PATH,    /* made absolute against the file's directory */
	F_COMMAND, /* as F_PATH when it has a '/', else looked up in PATH when run */
	F_BASE64,
	F_BOOL,
	F_EXEC, /* users[].user.exec: the mapping of exec_fields */
	F_ARGS, /* exec.args: a list of strings */
	F_ENV,  /* exec.env: a list of {name, value} */
	F_UNSUPPORTED,
};

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset; /* into the entry struct; for F_UNSUPPORTED, of the char * that records it */
};

static const struct field cluster_fields[] = {
	{ "server", F_STRING, offsetof(struct kubeconfig_cluster, server) },
	{ "certificate-authority", F_PATH, offsetof(struct kubeconfig_cluster, certificate_authority) },
	{ "certificate-authority-data", F_BASE64, offsetof(struct kubeconfig_cluster, certificate_authority_data) },
	{ "insecure-skip-tls-verify", F_BOOL, offsetof(struct kubeconfig_cluster, insecure_skip_tls_verify) },
	{ "tls-server-name", F_STRING, offsetof(struct kubeconfig_cluster, tls_server_name) },
	{ "proxy-url", F_STRING, offsetof(struct kubeconfig_cluster, proxy_url) },
	{ NULL, 0, 0 },
};

static const struct field exec_fields[] = {
	{ "apiVersion", F_STRING, offsetof(struct execcred_spec, api_version) },
	{ "command", F_COMMAND, offsetof(struct execcred_spec, command) },
	{ "args", F_ARGS, 0 },
	{ "env", F_ENV, 0 },
	{ "installHint", F_STRING, offsetof(struct execcred_spec, install_hint) },
	{ "provideClusterInfo", F_BOOL, offsetof(struct execcred_spec, provide_cluster_info) },
	{ "interactiveMode", F_STRING, offsetof(struct execcred_spec, interactive_mode) },
	{ NULL, 0, 0 },
};

static const struct field user_fields[] = {
	{ "client-certificate", F_PATH, offsetof(struct kubeconfig_user, client_certificate) },
	{ "client-certificate-data", F_BASE64, offsetof(struct kubeconfig_user, client_certificate_data) },
	{ "client-key", F_PATH, offsetof(struct kubeconfig_user, client_key) },
	{ "client-key-data", F_BASE64, offsetof(struct kubeconfig_user, client_key_data) },
	{ "token", F_STRING, offsetof(struct kubeconfig_user, token) },
	{ "tokenFile", F_PATH, offsetof(struct kubeconfig_user, token_file) },
	{ "exec", F_EXEC, offsetof(struct kubeconfig_user, exec) },
	{ "auth-provider", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "username", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "password", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "as", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "as-uid", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "as-groups", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ "as-user-extra", F_UNSUPPORTED, offsetof(struct kubeconfig_user, unsupported) },
	{ NULL, 0, 0 },
};

static const struct field context_fields[] = {
	{ "cluster", F_STRING, offsetof(struct kubeconfig_context, cluster) },
	{ "user", F_STRING, offsetof(struct kubeconfig_context, user) },
	{ "namespace", F_STRING, offsetof(struct kubeconfig_context, namespace) },
	{ NULL, 0, 0 },
};

static int parse_fields(struct parse *p, const yaml_node_t *n, const struct field *fields, const char *where,
			void *entry);

static int parse_args(struct parse *p, const yaml_node_t *v, const char *where, struct execcred_spec *spec)
{
	int rc = yamlnode_expect(&p->y, v, YAML_SEQUENCE_NODE, where);
	for (yaml_node_item_t *it = v->data.sequence.items.start; !rc && it < v->data.sequence.items.top; it++) {
		yaml_node_t *arg = yaml_document_get_node(p->y.doc, *it);
		char arg_where[300];
		snprintf(arg_where, sizeof(arg_where), "%s[%zu]", where, spec->n_args);
		if (!(rc = yamlnode_expect(&p->y, arg, YAML_SCALAR_NODE, arg_where)))
			rc = yamlnode_push_string(&p->y, &spec->args, &spec->n_args, yamlnode_scalar(arg));
	}
	return rc;
}

static int parse_env(struct parse *p, const yaml_node_t *v, const char *where, struct execcred_spec *spec)
{
	int rc = yamlnode_expect(&p->y, v, YAML_SEQUENCE_NODE, where);
	for (yaml_node_item_t *it = v->data.sequence.items.start; !rc && it < v->data.sequence.items.top; it++) {
		yaml_node_t *item = yaml_document_get_node(p->y.doc, *it);
		char item_where[300];
		snprintf(item_where, sizeof(item_where), "%s[%zu]", where, spec->n_env);
		if ((rc = yamlnode_expect(&p->y, item, YAML_MAPPING_NODE, item_where)))
			break;
		yaml_node_t *name = yamlnode_get(&p->y, item, "name"), *value = yamlnode_get(&p->y, item, "value");
		if (!name || name->type != YAML_SCALAR_NODE || !value || value->type != YAML_SCALAR_NODE)
			return yamlnode_fail(&p->y, item, item_where, "expected {name: string, value: string}");
		size_t n_values = spec->n_env;
		if (!(rc = yamlnode_push_string(&p->y, &spec->env_names, &spec->n_env, yamlnode_scalar(name))) &&
		    (rc = yamlnode_push_string(&p->y, &spec->env_values, &n_values, yamlnode_scalar(value)))) {
			/* keep names and values paired for execcred_spec_clear */
			free(spec->env_names[--spec->n_env]);
			spec->env_names[spec->n_env] = NULL;
		}
	}
	return rc;
}

static int set_field(struct parse *p, const struct field *f, const yaml_node_t *v, const char *where, void *entry)
{
	char *slot = (char *)entry + f->offset;
	if (f->kind == F_UNSUPPORTED) {
		char **rec = (char **)slot;
		return *rec ? 0 : yamlnode_strdup(&p->y, f->key, rec);
	}
	if (yamlnode_is_null(v))
		return 0;
	switch (f->kind) {
	case F_EXEC:
		((struct kubeconfig_user *)entry)->has_exec = true;
		return parse_fields(p, v, exec_fields, where, slot);
	case F_ARGS:
		return parse_args(p, v, where, entry);
	case F_ENV:
		return parse_env(p, v, where, entry);
	default:
		break;
	}
	int rc = yamlnode_expect(&p->y, v, YAML_SCALAR_NODE, where);
	if (rc)
		return rc;
	const char *s = yamlnode_scalar(v);
	switch (f->kind) {
	case F_STRING:
		return yamlnode_strdup(&p->y, s, (char **)slot);
	case F_COMMAND:
		if (!strchr(s, '/'))
			return yamlnode_strdup(&p->y, s, (char **)slot);
		/* A relative path to the plugin, resolved as kubectl does. */
		__attribute__((fallthrough));
	case F_PATH: {
		if (s[0] == '/')
			return yamlnode_strdup(&p->y, s, (char **)slot);
		char *abs = NULL;
		if (asprintf(&abs, "%s/%s", p->dir, s) < 0)
			return yamlnode_oom(&p->y);
		*(char **)slot = abs;
		return 0;
	}
	case F_BASE64:
		return decode_base64(p, v, where, (struct blob *)slot);
	case F_BOOL:
		if (!strcmp(s, "true"))
			*(bool *)slot = true;
		else if (!strcmp(s, "false"))
			*(bool *)slot = false;
		else
			return yamlnode_fail(&p->y, v, where, "expected true or false, got \"%s\"", s);
		return 0;
	default:
		break;
	}
	return 0;
}

/* Fills entry from the mapping n by the field table; keys not in the table
 * (extensions, fields of newer kubectl versions) are ignored as kubectl does. */
static int parse_fields(struct parse *p, const yaml_node_t *n, const struct field *fields, const char *where,
			void *entry)
{
	int rc = yamlnode_expect(&p->y, n, YAML_MAPPING_NODE, where);
	if (rc)
		return rc;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->y.doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->y.doc, pair->value);
		if (k->type != YAML_SCALAR_NODE)
			continue;
		for (const struct field *f = fields; f->key; f++) {
			if (strcmp(f->key, yamlnode_scalar(k)))
				continue;
			char field_where[256];
			snprintf(field_where, sizeof(field_where), "%s.%s", where, f->key);
			const yaml_node_t *first = yamlnode_repeated(&p->y, n, pair);
			if (first)
				return yamlnode_fail(&p->y, k, field_where,
						     "repeated key (first at line %zu); expected it once",
						     first->start_mark.line + 1);
			rc = set_field(p, f, v, field_where, entry);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* One of the three lists (clusters, users, contexts): each item is
 * {name: N, <inner>: {fields}}. Names must be present and unique. */
struct section {
	const char *list;  /* "clusters" */
	const char *inner; /* "cluster" */
	const struct field *fields;
	size_t entry_size;
	size_t name_offset;
	size_t file_offset;
	void (*clear)(void *entry); /* frees what the entry owns */
};

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void cluster_clear(void *entry)
{
	struct kubeconfig_cluster *c = entry;
	free(c->name);
	free(c->file);
	free(c->server);
	free(c->certificate_authority);
	blob_clear(&c->certificate_authority_data);
	free(c->tls_server_name);
	free(c->proxy_url);
}

static void user_clear(void *entry)
{
	struct kubeconfig_user *u = entry;
	free(u->name);
	free(u->file);
	free(u->client_certificate);
	blob_clear(&u->client_certificate_data);
	free(u->client_key);
	blob_clear(&u->client_key_data);
	free_secret(u->token);
	free(u->token_file);
	execcred_spec_clear(&u->exec);
	free(u->unsupported);
}

static void context_clear(void *entry)
{
	struct kubeconfig_context *c = entry;
	free(c->name);
	free(c->file);
	free(c->cluster);
	free(c->user);
	free(c->namespace);
}

enum { SEC_CLUSTERS, SEC_USERS, SEC_CONTEXTS, SEC_COUNT };

static const struct section sections[] = {
	[SEC_CLUSTERS] = { "clusters", "cluster", cluster_fields, sizeof(struct kubeconfig_cluster),
			   offsetof(struct kubeconfig_cluster, name), offsetof(struct kubeconfig_cluster, file),
			   cluster_clear },
	[SEC_USERS] = { "users", "user", user_fields, sizeof(struct kubeconfig_user),
			offsetof(struct kubeconfig_user, name), offsetof(struct kubeconfig_user, file), user_clear },
	[SEC_CONTEXTS] = { "contexts", "context", context_fields, sizeof(struct kubeconfig_context),
			   offsetof(struct kubeconfig_context, name), offsetof(struct kubeconfig_context, file),
			   context_clear },
};

/* The three lists of kc, by section, for code that treats them alike. */
static void **section_array(struct kubeconfig *kc, int sec)
{
	return sec == SEC_CLUSTERS ? (void **)&kc->clusters
		: sec == SEC_USERS ? (void **)&kc->users
				   : (void **)&kc->contexts;
}

static size_t *section_count(struct kubeconfig *kc, int sec)
{
	return sec == SEC_CLUSTERS ? &kc->n_clusters : sec == SEC_USERS ? &kc->n_users : &kc->n_contexts;
}

static char *entry_name(const struct section *s, void *array, size_t i)
{
	return *(char **)((char *)array + i * s->entry_size + s->name_offset);
}

static int parse_section(struct parse *p, const struct section *s, const yaml_node_t *list, void **array, size_t *count)
{
	if (yamlnode_is_null(list))
		return 0;
	int rc = yamlnode_expect(&p->y, list, YAML_SEQUENCE_NODE, s->list);
	if (rc)
		return rc;
	size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	*array = calloc(n ? n : 1, s->entry_size);
	if (!*array)
		return yamlnode_oom(&p->y);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yaml_document_get_node(p->y.doc, list->data.sequence.items.start[i]);
		void *entry = (char *)*array + i * s->entry_size;
		*count = i + 1; /* so kubeconfig_free releases what this entry got */
		char where[128];
		snprintf(where, sizeof(where), "%s[%zu]", s->list, i);
		if ((rc = yamlnode_expect(&p->y, item, YAML_MAPPING_NODE, where)))
			return rc;
		yaml_node_t *name = yamlnode_get(&p->y, item, "name");
		if (!name || yamlnode_is_null(name) || name->type != YAML_SCALAR_NODE) {
			snprintf(where, sizeof(where), "%s[%zu].name", s->list, i);
			return yamlnode_fail(&p->y, name ? name : item, where, "missing (expected a string)");
		}
		if ((rc = yamlnode_strdup(&p->y, yamlnode_scalar(name), (char **)((char *)entry + s->name_offset))) ||
		    (rc = yamlnode_strdup(&p->y, p->y.path, (char **)((char *)entry + s->file_offset))))
			return rc;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(entry_name(s, *array, j), yamlnode_scalar(name)))
				return yamlnode_fail(&p->y, name, where, "duplicate name \"%s\" (first at %s[%zu])",
						     yamlnode_scalar(name), s->list, j);

		snprintf(where, sizeof(where), "%s[%zu] (\"%s\").%s", s->list, i, yamlnode_scalar(name), s->inner);
		yaml_node_t *inner = yamlnode_get(&p->y, item, s->inner);
		if (inner && !yamlnode_is_null(inner) && (rc = parse_fields(p, inner, s->fields, where, entry)))
			return rc;
	}
	return 0;
}

static int parse_document(struct parse *p, struct kubeconfig *kc)
{
	yaml_node_t *root = yaml_document_get_root_node(p->y.doc);
	if (!root || yamlnode_is_null(root))
		return 0; /* an empty file is an empty config, as for kubectl */
	int rc = yamlnode_expect(&p->y, root, YAML_MAPPING_NODE, "the document");
	if (rc)
		return rc;

	yaml_node_t *cur = yamlnode_get(&p->y, root, "current-context");
	if (cur && !yamlnode_is_null(cur)) {
		if ((rc = yamlnode_expect(&p->y, cur, YAML_SCALAR_NODE, "current-context")) ||
		    (rc = yamlnode_strdup(&p->y, yamlnode_scalar(cur), &kc->current_context)))
			return rc;
	}
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		yaml_node_t *list = yamlnode_get(&p->y, root, sections[sec].list);
		if (list &&
		    (rc = parse_section(p, &sections[sec], list, section_array(kc, sec), section_count(kc, sec))))
			return rc;
	}
	return 0;
}

/* The directory of path, absolute, so relative references keep working
 * whatever the process's working directory becomes later. */
static char *absolute_dir(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return NULL;
	char *resolved = realpath(dirname(copy), NULL);
	free(copy);
	return resolved;
}

int kubeconfig_load(const char *path, struct kubeconfig **out, struct cx_err *err)
{
	*out = NULL;
	struct kubeconfig *kc = calloc(1, sizeof(*kc));
	if (!kc || !(kc->path = strdup(path))) {
		free(kc);
		return cx_err_set(err, -ENOMEM, "kubeconfig %s: out of memory", path);
	}
	yaml_document_t doc;
	int rc = yamlnode_load("kubeconfig", path, false, &doc, err);
	if (rc) {
		kubeconfig_free(&kc);
		return rc;
	}
	char *dir = absolute_dir(path);
	if (!dir) {
		rc = cx_err_set(err, -errno, "kubeconfig %s: cannot resolve its directory: %s", path, strerror(errno));
	} else {
		struct parse p = { .y = { .doc = &doc, .kind = "kubeconfig", .path = path, .err = err }, .dir = dir };
		rc = parse_document(&p, kc);
	}
	yaml_document_delete(&doc);
	free(dir);
	if (rc) {
		kubeconfig_free(&kc);
		return rc;
	}
	*out = kc;
	return 0;
}

void kubeconfig_free(struct kubeconfig **kcp)
{
	struct kubeconfig *kc = *kcp;
	if (!kc)
		return;
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		char *array = *section_array(kc, sec);
		for (size_t i = 0; i < *section_count(kc, sec); i++)
			sections[sec].clear(array + i * sections[sec].entry_size);
		free(array);
	}
	free(kc->current_context);
	free(kc->path);
	free(kc);
	*kcp = NULL;
}

/* The entry of section s named wanted, or NULL. */
static void *find_named(const struct section *s, void *array, size_t count, const char *wanted)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(entry_name(s, array, i), wanted))
			return (char *)array + i * s->entry_size;
	return NULL;
}

int kubeconfig_merge(struct kubeconfig *into, struct kubeconfig **fromp, struct cx_err *err)
{
	struct kubeconfig *from = *fromp;
	char *path = NULL;
	if (asprintf(&path, "%s:%s", into->path, from->path) < 0)
		return cx_err_set(err, -ENOMEM, "out of memory merging kubeconfig %s", from->path);
	free(into->path);
	into->path = path;
	if (!into->current_context) {
		into->current_context = from->current_context;
		from->current_context = NULL;
	}
	for (int sec = 0; sec < SEC_COUNT; sec++) {
		const struct section *s = &sections[sec];
		char **dst = (char **)section_array(into, sec), *src = *section_array(from, sec);
		size_t *dst_n = section_count(into, sec), *src_n = section_count(from, sec);
		char *grown = realloc(*dst, (*dst_n + *src_n + 1) * s->entry_size);
		if (!grown)
			return cx_err_set(err, -ENOMEM, "out of memory merging kubeconfig %s", from->path);
		*dst = grown;
		for (size_t i = 0; i < *src_n; i++) {
			char *entry = src + i * s->entry_size;
			if (find_named(s, *dst, *dst_n, entry_name(s, src, i))) {
				s->clear(entry); /* the first file to name it wins */
			} else {
				memcpy(*dst + *dst_n * s->entry_size, entry, s->entry_size);
				(*dst_n)++;
			}
		}
		*src_n = 0; /* every entry was moved or cleared */
	}
	kubeconfig_free(fromp);
	return 0;
}

/* Takes inline data if present, else the file: the two together are an
 * error, as in kubectl. `what` names the entry ("cluster \"x\""). */
static int load_pem(const char *file_of_entry, const char *what, const char *field, const struct blob *data,
		    const char *file, struct blob *out, struct cx_err *err)
{
	if (data->len && file)
		return cx_err_set(err, -EINVAL, "kubeconfig %s: %s: both %s and %s-data are set; keep one",
				  file_of_entry, what, field, field);
	if (data->len)
		return blob_set(out, data->data, data->len, err);
	if (!file)
		return 0;
	int rc = blob_read_file(file, REFERENCED_FILE_MAX, out, err);
	if (rc)
		cx_err_prefix(err, "kubeconfig %s: %s: %s: ", file_of_entry, what, field);
	return rc;
}

static int resolve_user(const struct kubeconfig_user *u, const struct kubeconfig_cluster *cluster,
			struct restconfig *rc, struct cx_err *err)
{
	char what[300];
	snprintf(what, sizeof(what), "user \"%s\"", u->name);
	if (u->unsupported)
		return cx_err_set(err, -ENOTSUP,
				  "kubeconfig %s: %s: %s: not supported by coxswain; use client-certificate "
				  "and client-key, token, tokenFile or exec",
				  u->file, what, u->unsupported);
	int r;
	if ((r = load_pem(u->file, what, "client-certificate", &u->client_certificate_data, u->client_certificate,
			  &rc->client_cert, err)) ||
	    (r = load_pem(u->file, what, "client-key", &u->client_key_data, u->client_key, &rc->client_key, err)))
		return r;
	if (!rc->client_cert.len != !rc->client_key.len)
		return cx_err_set(err, -EINVAL,
				  "kubeconfig %s: %s: client-certificate and client-key go together; "
				  "only %s is set",
				  u->file, what, rc->client_cert.len ? "client-certificate" : "client-key");
	/* A token goes into every request's header, which libcurl caps (at
	 * 1 MiB, as "out of memory"): refused here, where the field is known. */
	size_t token_len = u->token ? strlen(u->token) : 0;
	if (token_len > KUBECONFIG_TOKEN_MAX)
		return cx_err_set(err, -EFBIG,
				  "kubeconfig %s: %s: token: %zu bytes; a bearer token is at most %d "
				  "bytes",
				  u->file, what, token_len, KUBECONFIG_TOKEN_MAX);
	if (u->token && !(rc->token = strdup(u->token)))
		return cx_err_set(err, -ENOMEM, "out of memory");
	if (u->has_exec) {
		struct execcred_cluster ec = { .server = rc->server,
					       .tls_server_name = cluster->tls_server_name,
					       .insecure_skip_tls_verify = cluster->insecure_skip_tls_verify,
					       .ca = &rc->ca,
					       .proxy_url = cluster->proxy_url };
		r = execcred_new(&u->exec, u->name, &ec, &rc->exec, err);
		if (r) {
			cx_err_prefix(err, "kubeconfig %s: %s: exec: ", u->file, what);
			return r;
		}
	}
	if (u->token_file) {
		struct stat st;
		if (access(u->token_file, R_OK) != 0 || stat(u->token_file, &st) != 0)
			return cx_err_set(err, -errno, "kubeconfig %s: %s: tokenFile: cannot read %s: %s", u->file,
					  what, u->token_file, strerror(errno));
		if (S_ISREG(st.st_mode) && st.st_size > KUBECONFIG_TOKEN_MAX)
			return cx_err_set(err, -EFBIG,
					  "kubeconfig %s: %s: tokenFile: %s is %lld bytes; a bearer token "
					  "is at most %d bytes",
					  u->file, what, u->token_file, (long long)st.st_size, KUBECONFIG_TOKEN_MAX);
		if (!(rc->token_file = strdup(u->token_file)))
			return cx_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Refuses a server that is not an http(s) URL with a host, as libcurl's URL
 * parser reads it: "https://[::1" would otherwise be accepted at start-up
 * and fail at every request. */
static int check_server(const char *file, const char *what, const char *server, struct cx_err *err)
{
	CURLU *u = curl_url();
	if (!u)
		return cx_err_set(err, -ENOMEM, "out of memory");
	char *scheme = NULL, *host = NULL;
	CURLUcode uc = curl_url_set(u, CURLUPART_URL, server, 0);
	if (!uc)
		uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (!uc)
		uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	int r = 0;
	if (uc)
		r = cx_err_set(err, -EINVAL,
			       "kubeconfig %s: %s: server: \"%s\" is not a URL (%s); expected "
			       "https://host:port",
			       file, what, server, curl_url_strerror(uc));
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		r = cx_err_set(err, -EINVAL,
			       "kubeconfig %s: %s: server: \"%s\": scheme %s is not http or https; "
			       "expected https://host:port",
			       file, what, server, scheme);
	else if (!*host)
		r = cx_err_set(err, -EINVAL,
			       "kubeconfig %s: %s: server: \"%s\" has no host; expected "
			       "https://host:port",
			       file, what, server);
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}

static int resolve_cluster(const struct kubeconfig_cluster *c, struct restconfig *rc, struct cx_err *err)
{
	char what[300];
	snprintf(what, sizeof(what), "cluster \"%s\"", c->name);
	if (!c->server || !*c->server)
		return cx_err_set(err, -EINVAL, "kubeconfig %s: %s: server: missing (expected https://host:port)",
				  c->file, what);
	int r = check_server(c->file, what, c->server, err);
	if (r)
		return r;
	r = load_pem(c->file, what, "certificate-authority", &c->certificate_authority_data, c->certificate_authority,
		     &rc->ca, err);
	if (r)
		return r;
	if (c->insecure_skip_tls_verify && rc->ca.len)
		return cx_err_set(err, -EINVAL,
				  "kubeconfig %s: %s: insecure-skip-tls-verify cannot be combined with a "
				  "certificate-authority",
				  c->file, what);
	size_t len = strlen(c->server);
	while (len > 0 && c->server[len - 1] == '/')
		len--;
	rc->insecure = c->insecure_skip_tls_verify;
	if (!(rc->server = strndup(c->server, len)) ||
	    (c->tls_server_name && !(rc->tls_server_name = strdup(c->tls_server_name))) ||
	    (c->proxy_url && !(rc->proxy_url = strdup(c->proxy_url))))
		return cx_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int kubeconfig_restconfig(const struct kubeconfig *kc, const char *context, struct restconfig **out, struct cx_err *err)
{
	*out = NULL;
	const char *name = context ? context : kc->current_context;
	if (!name)
		return cx_err_set(err, -ENOENT, "kubeconfig %s: no current-context is set and no context was given",
				  kc->path);
	const struct kubeconfig_context *ctx = find_named(&sections[SEC_CONTEXTS], kc->contexts, kc->n_contexts, name);
	if (!ctx)
		return cx_err_set(err, -ENOENT, "kubeconfig %s: context \"%s\" not found", kc->path, name);
	if (!ctx->cluster)
		return cx_err_set(err, -EINVAL, "kubeconfig %s: context \"%s\": cluster: missing", ctx->file, name);
	const struct kubeconfig_cluster *cluster = find_named(&sections[SEC_CLUSTERS], kc->clusters, kc->n_clusters,
							      ctx->cluster);
	if (!cluster)
		return cx_err_set(err, -ENOENT, "kubeconfig %s: context \"%s\": cluster \"%s\" not found", ctx->file,
				  name, ctx->cluster);
	const struct kubeconfig_user *user = NULL;
	if (ctx->user && !(user = find_named(&sections[SEC_USERS], kc->users, kc->n_users, ctx->user)))
		return cx_err_set(err, -ENOENT, "kubeconfig %s: context \"%s\": user \"%s\" not found", ctx->file, name,
				  ctx->user);

	struct restconfig *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int r = resolve_cluster(cluster, rc, err);
	if (!r && user)
		r = resolve_user(user, cluster, rc, err);
	if (!r &&
	    ((ctx->namespace && !(rc->namespace = strdup(ctx->namespace))) ||
	     asprintf(&rc->source, "kubeconfig %s, context \"%s\"", ctx->file, name) < 0))
		r = cx_err_set(err, -ENOMEM, "out of memory");
	if (r) {
		restconfig_free(&rc);
		return r;
	}
	*out = rc;
	return 0;
}

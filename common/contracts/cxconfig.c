#include "config.h"

#include "cxconfig.h"
#include "jqcompile.h"
#include "err.h"
#include "k8sname.h"
#include "ratelimit.h"
#include "yamlnode.h"

#include <errno.h>
#include <jq.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- what valid values look like ---------------------------------------- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool valid_namespace(const char *s)
{
	return !*s || k8sname_dns_label(s);
}

static bool valid_kind(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 63 || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alpha(s[i]) && !(s[i] >= '0' && s[i] <= '9'))
			return false;
	return true;
}

/* No spaces or control characters: nothing that could split a URL or an
 * address in two, or hide in a log line. */
static bool printable_no_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static bool valid_port(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 5 || strspn(s, "0123456789") != len)
		return false;
	long port = strtol(s, NULL, 10);
	return port >= 1 && port <= 65535;
}

/* "host:port", "[v6]:port", or ":port" when the host is optional. */
static bool valid_host_port(const char *s, bool host_required)
{
	const char *colon = strrchr(s, ':');
	if (!colon || !valid_port(colon + 1))
		return false;
	size_t hlen = (size_t)(colon - s);
	if (hlen == 0)
		return !host_required;
	if (!printable_no_space(s, hlen))
		return false;
	if (s[0] == '[')
		return hlen > 2 && s[hlen - 1] == ']' && !memchr(s + 1, '[', hlen - 2) && !memchr(s + 1, ']', hlen - 2);
	return !memchr(s, ':', hlen) && !memchr(s, '[', hlen) && !memchr(s, ']', hlen) && !memchr(s, '/', hlen);
}

static bool valid_address(const char *s)
{
	return valid_host_port(s, false);
}

static bool valid_endpoint(const char *s)
{
	if (!strncmp(s, "ipc://", 6))
		return s[6] && printable_no_space(s + 6, strlen(s + 6));
	if (!strncmp(s, "tcp://", 6))
		return valid_host_port(s + 6, true);
	return false;
}

/* A file path: not empty, no control characters. */
static bool valid_path(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

static bool valid_url(const char *s)
{
	size_t skip = !strncmp(s, "http://", 7) ? 7 : !strncmp(s, "https://", 8) ? 8 : 0;
	return skip && s[skip] && s[skip] != '/' && printable_no_space(s + skip, strlen(s + skip));
}

/* A jq program is any non-empty text; whether it compiles is check_jq's. */
static bool valid_jq_text(const char *s)
{
	return *s != '\0';
}

/* Decimal only, as YAML writes an integer (no sign but '-', no leading
 * zeros, no 0x or 1_000); fails on anything else, and on values beyond
 * twelve digits (out of every range here anyway). */
static bool parse_decimal(const char *s, long long *out)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	size_t len = strlen(digits);
	if (len == 0 || len > 12 || strspn(digits, "0123456789") != len || (digits[0] == '0' && len > 1))
		return false;
	*out = strtoll(s, NULL, 10);
	return true;
}

static const char *const strategy_names[] = {
	[UPDATE_INPLACE] = "InPlace",
	[UPDATE_RECREATE] = "Recreate",
	[UPDATE_ONDELETE] = "OnDelete",
	[UPDATE_ROLLING_RECREATE] = "RollingRecreate",
	[UPDATE_ROLLING_INPLACE] = "RollingInPlace",
};
/* coxswain.yaml has no statusChecks, so no rolling methods. */
#define FILE_STRATEGIES (UPDATE_ONDELETE + 1)

const char *config_update_strategy_name(enum update_strategy s)
{
	return (size_t)s < sizeof(strategy_names) / sizeof(*strategy_names) ? strategy_names[s] : "unknown";
}

/* ---- the schema ----------------------------------------------------------- */

enum field_kind {
	F_STRING, /* char *, valid when f->valid says so */
	F_INT,    /* int in f->min..f->max */
	F_QPS,    /* double: a client QPS as ratelimit_parse_qps takes it (-1 = no limit) */
	F_BOOL,
	F_STRATEGY, /* enum update_strategy */
	F_ENUM,     /* an enum whose values are the indexes of f->names */
	F_COMMAND,  /* the command of the struct config_hook being filled */
	F_MAP,      /* a nested mapping whose keys (f->sub) fill the same struct */
	F_HOOK,     /* a struct config_hook: exactly one of exec / webhook */
	F_LIST,     /* an array of entries, as f->list says */
};

struct list_spec;

/* One key of a mapping: where its value goes in the struct being filled (the
 * "entry") and what it must look like. A table (ended by a NULL key) has
 * fewer than 32 keys: parse_mapping tracks the ones it saw in a bitmask. */
struct field {
	const char *key;
	enum field_kind kind;
	size_t offset; /* of the value in the entry */
	bool required;
	const char *expect;           /* what a valid value looks like, for messages */
	bool (*valid)(const char *s); /* F_STRING */
	long long min, max;           /* F_INT */
	const struct field *sub;      /* F_MAP, F_HOOK */
	const struct list_spec *list; /* F_LIST */
	const char *const *names;     /* F_ENUM: the value names, NULL-terminated */
};

/* A list of mappings, each filling one entry of an array whose pointer is at
 * the field's offset and whose count is at count_offset. */
struct list_spec {
	size_t entry_size;
	size_t count_offset;
	bool non_empty;
	const struct field *fields;
	const char *item_expect;
	void (*init)(void *entry);
	/* Runs after entry i is parsed from item: the rules that span entries,
	 * and defaults. list_where is the list's path ("controllers"). */
	int (*finish)(const struct yamlnode_src *y, void *array, size_t i, const yaml_node_t *item,
		      const char *list_where);
};

#define EXPECT_HOOK                                                                                                    \
	"{exec: {command: [...], timeoutSeconds: N}} or {webhook: {url: ..., timeoutSeconds: N}}"                      \
	" or {jq: {program: ...}}, with optional version: v1|v2 and responseUnMarshallMode: loose|strict"
#define EXPECT_TIMEOUT "an integer from 1 to 3600 (seconds)"
#define EXPECT_LABEL                                                                                                   \
	"a DNS label (at most 63 lowercase letters, digits and '-', starting and ending "                              \
	"with a letter or digit)"

static int child_finish(const struct yamlnode_src *y, void *array, size_t i, const yaml_node_t *item,
			const char *list_where);
static int controller_finish(const struct yamlnode_src *y, void *array, size_t i, const yaml_node_t *item,
			     const char *list_where);
static void controller_init(void *entry);

static const struct field child_fields[] = {
	{ .key = "apiVersion",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_child, api_version),
	  .required = true,
	  .expect = "an apiVersion such as v1 or example.com/v1",
	  .valid = k8sname_api_version },
	{ .key = "kind",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_child, kind),
	  .required = true,
	  .expect = "a kind such as ConfigMap (a letter, then letters and digits)",
	  .valid = valid_kind },
	{ .key = "updateStrategy",
	  .kind = F_STRATEGY,
	  .offset = offsetof(struct config_child, update_strategy),
	  .expect = "one of OnDelete, Recreate, InPlace" },
	{ .key = NULL },
};

static const struct list_spec children_list = {
	.entry_size = sizeof(struct config_child),
	.count_offset = offsetof(struct config_controller, n_children),
	.fields = child_fields,
	.item_expect = "a child {apiVersion, kind, updateStrategy}",
	.finish = child_finish,
};

static const struct field parent_fields[] = {
	{ .key = "apiVersion",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_controller, parent_api_version),
	  .required = true,
	  .expect = "an apiVersion such as v1 or example.com/v1",
	  .valid = k8sname_api_version },
	{ .key = "kind",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_controller, parent_kind),
	  .required = true,
	  .expect = "a kind such as Website (a letter, then letters and digits)",
	  .valid = valid_kind },
	{ .key = NULL },
};

static const struct field exec_fields[] = {
	{ .key = "command",
	  .kind = F_COMMAND,
	  .required = true,
	  .expect = "a non-empty list of strings (the program, then its arguments)" },
	{ .key = "timeoutSeconds",
	  .kind = F_INT,
	  .offset = offsetof(struct config_hook, timeout_seconds),
	  .expect = EXPECT_TIMEOUT,
	  .min = 1,
	  .max = CONFIG_MAX_HOOK_TIMEOUT_SECONDS },
	{ .key = "persistent",
	  .kind = F_BOOL,
	  .offset = offsetof(struct config_hook, persistent),
	  .expect = "true or false (true: one long-lived process per worker, newline-delimited JSON)" },
	{ .key = NULL },
};

/* jq.program: any string here; parse_hook compiles it. */
static const struct field jq_fields[] = {
	{ .key = "program",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_hook, jq_program),
	  .required = true,
	  .expect = "a jq program (a string) whose output is the hook's answer",
	  .valid = valid_jq_text },
	{ .key = "timeoutSeconds",
	  .kind = F_INT,
	  .offset = offsetof(struct config_hook, timeout_seconds),
	  .expect = EXPECT_TIMEOUT,
	  .min = 1,
	  .max = CONFIG_MAX_HOOK_TIMEOUT_SECONDS },
	{ .key = NULL },
};

static const struct field webhook_fields[] = {
	{ .key = "url",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_hook, url),
	  .required = true,
	  .expect = "an http:// or https:// URL",
	  .valid = valid_url },
	{ .key = "timeoutSeconds",
	  .kind = F_INT,
	  .offset = offsetof(struct config_hook, timeout_seconds),
	  .expect = EXPECT_TIMEOUT,
	  .min = 1,
	  .max = CONFIG_MAX_HOOK_TIMEOUT_SECONDS },
	{ .key = NULL },
};

/* In enum config_hook_version's and enum config_unmarshal's order. */
static const char *const hook_version_names[] = { "v1", "v2", NULL };
static const char *const unmarshal_names[] = { "loose", "strict", NULL };

static const struct field hook_fields[] = {
	{ .key = "exec", .kind = F_MAP, .expect = "{command: [...], timeoutSeconds: N}", .sub = exec_fields },
	{ .key = "webhook", .kind = F_MAP, .expect = "{url: ..., timeoutSeconds: N}", .sub = webhook_fields },
	{ .key = "jq", .kind = F_MAP, .expect = "{program: ..., timeoutSeconds: N}", .sub = jq_fields },
	{ .key = "version",
	  .kind = F_ENUM,
	  .offset = offsetof(struct config_hook, version),
	  .expect = "v1 or v2 (how the request keys children: metacontroller's hook versions)",
	  .names = hook_version_names },
	{ .key = "responseUnMarshallMode",
	  .kind = F_ENUM,
	  .offset = offsetof(struct config_hook, unmarshal),
	  .expect = "loose or strict (whether an answer's unknown fields are ignored or refused)",
	  .names = unmarshal_names },
	{ .key = NULL },
};

static const struct field hooks_fields[] = {
	{ .key = "sync",
	  .kind = F_HOOK,
	  .offset = offsetof(struct config_controller, sync),
	  .required = true,
	  .expect = EXPECT_HOOK,
	  .sub = hook_fields },
	{ .key = "finalize",
	  .kind = F_HOOK,
	  .offset = offsetof(struct config_controller, finalize),
	  .expect = EXPECT_HOOK,
	  .sub = hook_fields },
	{ .key = "customize",
	  .kind = F_HOOK,
	  .offset = offsetof(struct config_controller, customize),
	  .expect = EXPECT_HOOK,
	  .sub = hook_fields },
	{ .key = NULL },
};

static const struct field controller_fields[] = {
	{ .key = "name",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_controller, name),
	  .required = true,
	  .expect = EXPECT_LABEL,
	  .valid = k8sname_dns_label },
	{ .key = "parent",
	  .kind = F_MAP,
	  .required = true,
	  .expect = "{apiVersion: ..., kind: ...}",
	  .sub = parent_fields },
	{ .key = "children",
	  .kind = F_LIST,
	  .offset = offsetof(struct config_controller, children),
	  .expect = "a list of children {apiVersion, kind, updateStrategy}",
	  .list = &children_list },
	{ .key = "hooks",
	  .kind = F_MAP,
	  .required = true,
	  .expect = "{sync: HOOK, finalize: HOOK, customize: HOOK}",
	  .sub = hooks_fields },
	{ .key = "resyncPeriodSeconds",
	  .kind = F_INT,
	  .offset = offsetof(struct config_controller, resync_period_seconds),
	  .expect = "an integer >= 0 (seconds; 0 = no periodic resync)",
	  .min = 0,
	  .max = INT32_MAX },
	{ .key = "namespace",
	  .kind = F_STRING,
	  .offset = offsetof(struct config_controller, namespace),
	  .expect = "\"\" (all namespaces) or a namespace name, " EXPECT_LABEL,
	  .valid = valid_namespace },
	{ .key = "adoptOrphans",
	  .kind = F_BOOL,
	  .offset = offsetof(struct config_controller, adopt_orphans),
	  .expect = "true or false" },
	{ .key = NULL },
};

static const struct list_spec controllers_list = {
	.entry_size = sizeof(struct config_controller),
	.count_offset = offsetof(struct config, n_controllers),
	.non_empty = true,
	.fields = controller_fields,
	.item_expect = "a controller {name, parent, children, hooks, resyncPeriodSeconds, namespace, adoptOrphans}",
	.init = controller_init,
	.finish = controller_finish,
};

/* The same when other sources (metacontroller definitions) may bring every
 * controller: the list may be empty or absent. */
static const struct list_spec controllers_list_optional = {
	.entry_size = sizeof(struct config_controller),
	.count_offset = offsetof(struct config, n_controllers),
	.non_empty = false,
	.fields = controller_fields,
	.item_expect = "a controller {name, parent, children, hooks, resyncPeriodSeconds, namespace, adoptOrphans}",
	.init = controller_init,
	.finish = controller_finish,
};

static const struct field lease_fields[] = {
	{ .key = "enabled",
	  .kind = F_BOOL,
	  .offset = offsetof(struct config, leader_election),
	  .expect = "true or false" },
	{ .key = "namespace",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, lease_namespace),
	  .expect = "a namespace name, " EXPECT_LABEL,
	  .valid = k8sname_dns_label },
	{ .key = "name",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, lease_name),
	  .expect = "a Lease name (a DNS subdomain: lowercase letters, digits, '-' and '.')",
	  .valid = k8sname_dns_subdomain },
	{ .key = NULL },
};

static const struct field watcher_curve_fields[] = {
	{ .key = "secretKeyFile",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, curve_secret_key_file),
	  .required = true,
	  .expect = "the path of the watcher's CURVE secret key file",
	  .valid = valid_path },
	{ .key = "authorizedKeys",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, curve_authorized_keys),
	  .required = true,
	  .expect = "the path of a file or directory of the workers' CURVE public keys",
	  .valid = valid_path },
	{ .key = NULL },
};

/* In enum config_initial_list's order. */
static const char *const initial_list_names[] = { "list", "stream", NULL };

static const struct field watcher_fields[] = {
	{ .key = "endpoint",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, endpoint),
	  .expect = "a ZeroMQ endpoint ipc://PATH or tcp://HOST:PORT",
	  .valid = valid_endpoint },
	{ .key = "healthAddress",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, health_address),
	  .expect = "an address [HOST]:PORT with PORT from 1 to 65535",
	  .valid = valid_address },
	{ .key = "metricsAddress",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, metrics_address),
	  .expect = "an address [HOST]:PORT with PORT from 1 to 65535",
	  .valid = valid_address },
	{ .key = "leaderElection", .kind = F_MAP, .expect = "{enabled, namespace, name}", .sub = lease_fields },
	{ .key = "curve", .kind = F_MAP, .expect = "{secretKeyFile, authorizedKeys}", .sub = watcher_curve_fields },
	{ .key = "insecure",
	  .kind = F_BOOL,
	  .offset = offsetof(struct config, channel_insecure),
	  .expect = "true or false" },
	{ .key = "kubeApiQPS",
	  .kind = F_QPS,
	  .offset = offsetof(struct config, watcher_qps),
	  .expect = "requests a second from 0.001 to 1000000, or -1 for no client-side limit" },
	{ .key = "kubeApiBurst",
	  .kind = F_INT,
	  .offset = offsetof(struct config, watcher_burst),
	  .expect = "an integer from 1 to 1000000",
	  .min = 1,
	  .max = RATELIMIT_BURST_MAX },
	{ .key = "initialList",
	  .kind = F_ENUM,
	  .offset = offsetof(struct config, initial_list),
	  .expect = "stream or list (how the caches are filled: a streaming list, or paginated LIST)",
	  .names = initial_list_names },
	{ .key = NULL },
};

static const struct field worker_curve_fields[] = {
	{ .key = "secretKeyFile",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, worker_curve_secret_key_file),
	  .required = true,
	  .expect = "the path of the workers' CURVE secret key file",
	  .valid = valid_path },
	{ .key = "serverPublicKeyFile",
	  .kind = F_STRING,
	  .offset = offsetof(struct config, worker_curve_server_key_file),
	  .required = true,
	  .expect = "the path of the watcher's CURVE public key file",
	  .valid = valid_path },
	{ .key = NULL },
};

static const struct field worker_events_fields[] = {
	{ .key = "normal",
	  .kind = F_BOOL,
	  .offset = offsetof(struct config, worker_events_normal),
	  .expect = "true or false" },
	{ .key = NULL },
};

static const struct field worker_fields[] = {
	{ .key = "count",
	  .kind = F_INT,
	  .offset = offsetof(struct config, worker_count),
	  .expect = "an integer from 1 to 1024 (leave it out for one worker per CPU)",
	  .min = 1,
	  .max = CONFIG_MAX_WORKERS },
	{ .key = "curve", .kind = F_MAP, .expect = "{secretKeyFile, serverPublicKeyFile}", .sub = worker_curve_fields },
	{ .key = "kubeApiQPS",
	  .kind = F_QPS,
	  .offset = offsetof(struct config, worker_qps),
	  .expect = "requests a second from 0.001 to 1000000, or -1 for no client-side limit" },
	{ .key = "kubeApiBurst",
	  .kind = F_INT,
	  .offset = offsetof(struct config, worker_burst),
	  .expect = "an integer from 1 to 1000000",
	  .min = 1,
	  .max = RATELIMIT_BURST_MAX },
	{ .key = "events", .kind = F_MAP, .expect = "{normal}", .sub = worker_events_fields },
	{ .key = NULL },
};

#define EXPECT_ROOT "a mapping with controllers and optionally watcher and worker"

static const struct field root_fields[] = {
	{ .key = "controllers",
	  .kind = F_LIST,
	  .offset = offsetof(struct config, controllers),
	  .required = true,
	  .expect = "a non-empty list of controllers",
	  .list = &controllers_list },
	{ .key = "watcher",
	  .kind = F_MAP,
	  .expect = "{endpoint, healthAddress, metricsAddress, leaderElection, curve, insecure, kubeApiQPS, "
		    "kubeApiBurst, "
		    "initialList}",
	  .sub = watcher_fields },
	{ .key = "worker",
	  .kind = F_MAP,
	  .expect = "{count, curve, kubeApiQPS, kubeApiBurst, events}",
	  .sub = worker_fields },
	{ .key = NULL },
};

static const struct field root_fields_optional[] = {
	{ .key = "controllers",
	  .kind = F_LIST,
	  .offset = offsetof(struct config, controllers),
	  .expect = "a list of controllers",
	  .list = &controllers_list_optional },
	{ .key = "watcher",
	  .kind = F_MAP,
	  .expect = "{endpoint, healthAddress, metricsAddress, leaderElection, curve, insecure, kubeApiQPS, "
		    "kubeApiBurst, "
		    "initialList}",
	  .sub = watcher_fields },
	{ .key = "worker",
	  .kind = F_MAP,
	  .expect = "{count, curve, kubeApiQPS, kubeApiBurst, events}",
	  .sub = worker_fields },
	{ .key = NULL },
};

/* ---- walking the document by the schema ---------------------------------- */

/* Room for a node's path in messages; a longer one is cut short. */
#define PATH_LEN 300

/* The path of key under where ("controllers[0]" + "name"). */
static void join(char *buf, size_t len, const char *where, const char *key)
{
	snprintf(buf, len, "%s%s%.64s", where, *where ? "." : "", key);
}

/* A user's text for a message: at most 60 characters, control characters
 * shown as '?', so a bad value cannot make the message unreadable. */
static void show(char *buf, size_t len, const char *s)
{
	size_t n = 0;
	for (; s[n] && n < 60 && n + 4 < len; n++)
		buf[n] = (unsigned char)s[n] < ' ' || s[n] == 0x7f ? '?' : s[n];
	if (s[n]) {
		/* Cut at a character boundary: the message must stay UTF-8. */
		size_t cont = 0;
		while (cont < n && cont < 3 && ((unsigned char)buf[n - 1 - cont] & 0xc0) == 0x80)
			cont++;
		unsigned char lead = cont < n ? (unsigned char)buf[n - 1 - cont] : 0;
		if ((lead & 0xc0) == 0xc0 && cont < (lead >= 0xf0 ? 3u : lead >= 0xe0 ? 2u : 1u))
			n -= cont + 1;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

/* "expected EXPECT, got WHAT": WHAT is the value quoted, or its type. A
 * quoted scalar where a number or a boolean was expected gets a hint: YAML
 * made it a string. */
static int fail_value(const struct yamlnode_src *y, const yaml_node_t *v, const char *where, const char *expect,
		      bool typed)
{
	if (v->type != YAML_SCALAR_NODE)
		return yamlnode_fail(y, v, where, "expected %s, got %s", expect, yamlnode_type_name(v));
	char text[80];
	show(text, sizeof(text), yamlnode_scalar(v));
	bool quoted = v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return yamlnode_fail(y, v, where, "expected %s, got \"%s\"%s", expect, text,
			     typed && quoted ? " (quoted, so a string)" : "");
}

/* The classic edit distance, for "did you mean": keys are short. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t ca = (size_t)(a[i - 1] | 0x20), cb = (size_t)(b[j - 1] | 0x20); /* ASCII case folded */
			size_t best = diag + (ca != cb);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Whether the shorter of a and b (four characters at least) starts the
 * other, ignoring ASCII case: "timeout" for "timeoutSeconds". */
static bool is_prefix(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
	return n >= 4 && !strncasecmp(a, b, n);
}

/* An unknown key: says which keys are allowed there, and the likely one. */
static int fail_unknown(const struct yamlnode_src *y, const yaml_node_t *k, const char *where,
			const struct field *fields)
{
	char allowed[400] = "", shown[80], path[PATH_LEN];
	const char *guess = NULL;
	size_t best = 3; /* a guess must be within two edits, or a prefix */
	for (const struct field *f = fields; f->key; f++) {
		size_t used = strlen(allowed);
		snprintf(allowed + used, sizeof(allowed) - used, "%s%s", used ? ", " : "", f->key);
		size_t d = is_prefix(yamlnode_scalar(k), f->key) ? 2 : edit_distance(yamlnode_scalar(k), f->key);
		if (d < best) {
			best = d;
			guess = f->key;
		}
	}
	show(shown, sizeof(shown), yamlnode_scalar(k));
	join(path, sizeof(path), where, shown);
	return yamlnode_fail(y, k, path, "unknown field; expected one of: %s%s%s%s", allowed,
			     guess ? " (did you mean \"" : "", guess ? guess : "", guess ? "\"?)" : "");
}

static int parse_mapping(const struct yamlnode_src *y, const yaml_node_t *n, const char *where,
			 const struct field *fields, const char *expect, void *entry);

/* exec.command: a non-empty list of strings whose first, the program, is not
 * empty. Kept NULL-terminated. */
static int parse_command(const struct yamlnode_src *y, const struct field *f, const yaml_node_t *v, const char *where,
			 struct config_hook *hook)
{
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_value(y, v, where, f->expect, false);
	size_t n = yamlnode_count(v);
	if (n == 0)
		return yamlnode_fail(y, v, where, "expected %s, got an empty list", f->expect);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yamlnode_item(y, v, i);
		char item_where[PATH_LEN];
		snprintf(item_where, sizeof(item_where), "%.200s[%zu]", where, i);
		if (item->type != YAML_SCALAR_NODE || yamlnode_is_null(item))
			return yamlnode_fail(y, item, item_where, "expected a string, got %s",
					     item->type == YAML_SCALAR_NODE ? "null (quote it if it is meant as text)"
									    : yamlnode_type_name(item));
		if (i == 0 && !*yamlnode_scalar(item))
			return yamlnode_fail(y, item, item_where, "expected the program to run, got an empty string");
		int rc = yamlnode_push_string(y, &hook->command, &hook->n_command, yamlnode_scalar(item));
		if (rc)
			return rc;
	}
	return 0;
}

/* jq.program must compile: a mistake is a config error at load (and so
 * with --check-config), naming the field, in jq's own words, not a failure
 * of every sync. The worker compiles it again for itself (worker/jqhook.h). */
static int check_jq(const struct yamlnode_src *y, const yaml_node_t *hook, const char *where, const char *program)
{
	const yaml_node_t *at = yamlnode_get(y, hook, "jq");
	const yaml_node_t *prog = at ? yamlnode_get(y, at, "program") : NULL;
	char path[PATH_LEN + 64];
	join(path, sizeof(path), where, "jq.program");
	jq_state *jq = jq_init();
	if (!jq)
		return yamlnode_oom(y);
	char why[CX_ERR_MSG_MAX / 2];
	bool ok = jqcompile(jq, program, why, sizeof(why));
	jq_teardown(&jq);
	if (ok)
		return 0;
	return yamlnode_fail(y, prog ? prog : hook, path, "the jq program does not compile: %s", why);
}

/* A hook is a mapping with exactly one of exec, webhook and jq. A v2 hook's
 * answers are read strictly (metacontroller refuses unknown fields of a v2
 * answer whatever its mode), so v2 with an explicit loose is a
 * contradiction, refused rather than half-obeyed. */
static int parse_hook(const struct yamlnode_src *y, const struct field *f, const yaml_node_t *v, const char *where,
		      struct config_hook *hook)
{
	hook->unmarshal = CONFIG_UNMARSHAL_UNSET;
	int rc = parse_mapping(y, v, where, f->sub, f->expect, hook);
	if (rc)
		return rc;
	if (hook->version == CONFIG_HOOK_V2 && hook->unmarshal == CONFIG_UNMARSHAL_LOOSE) {
		char path[PATH_LEN + 64]; /* where fills at most PATH_LEN */
		join(path, sizeof(path), where, "responseUnMarshallMode");
		return yamlnode_fail(y, v, path,
				     "loose does not go with version: v2 (a v2 hook's answers are always "
				     "read strictly, as metacontroller reads them); expected strict or no "
				     "responseUnMarshallMode");
	}
	if (hook->unmarshal == CONFIG_UNMARSHAL_UNSET)
		hook->unmarshal = hook->version == CONFIG_HOOK_V2 ? CONFIG_UNMARSHAL_STRICT : CONFIG_UNMARSHAL_LOOSE;
	if (hook->command && hook->url)
		return yamlnode_fail(y, v, where, "both exec and webhook are set; expected exactly one of them");
	if (hook->jq_program && (hook->command || hook->url))
		return yamlnode_fail(y, v, where,
				     "%s and jq are both set; expected exactly one of exec, webhook and "
				     "jq",
				     hook->command ? "exec" : "webhook");
	if (!hook->command && !hook->url && !hook->jq_program)
		return yamlnode_fail(y, v, where, "neither exec nor webhook is set; expected %s", f->expect);
	if (hook->jq_program && (rc = check_jq(y, v, where, hook->jq_program)))
		return rc;
	hook->set = true;
	if (!hook->timeout_seconds)
		hook->timeout_seconds = CONFIG_DEFAULT_HOOK_TIMEOUT_SECONDS;
	hook->timeout_ms = hook->timeout_seconds * 1000L;
	return 0;
}

static int parse_list(const struct yamlnode_src *y, const struct field *f, const yaml_node_t *v, const char *where,
		      void *entry)
{
	const struct list_spec *ls = f->list;
	if (v->type != YAML_SEQUENCE_NODE)
		return fail_value(y, v, where, f->expect, false);
	size_t n = yamlnode_count(v);
	if (n == 0)
		return ls->non_empty ? yamlnode_fail(y, v, where, "expected %s, got an empty list", f->expect) : 0;
	char *array = calloc(n, ls->entry_size);
	if (!array)
		return yamlnode_oom(y);
	/* Handed to the entry at once, so that the config's free releases what
	 * the entries got whatever fails below. */
	memcpy((char *)entry + f->offset, &array, sizeof(array));
	size_t *count = (size_t *)((char *)entry + ls->count_offset);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yamlnode_item(y, v, i);
		void *e = array + i * ls->entry_size;
		*count = i + 1;
		if (ls->init)
			ls->init(e);
		char item_where[PATH_LEN];
		snprintf(item_where, sizeof(item_where), "%.200s[%zu]", where, i);
		int rc = parse_mapping(y, item, item_where, ls->fields, ls->item_expect, e);
		if (!rc && ls->finish)
			rc = ls->finish(y, array, i, item, where);
		if (rc)
			return rc;
	}
	return 0;
}

static int parse_scalar(const struct yamlnode_src *y, const struct field *f, const yaml_node_t *v, const char *where,
			void *slot)
{
	bool typed = f->kind == F_INT || f->kind == F_QPS || f->kind == F_BOOL;
	if (v->type != YAML_SCALAR_NODE)
		return fail_value(y, v, where, f->expect, typed);
	const char *s = yamlnode_scalar(v);
	bool plain = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	switch (f->kind) {
	case F_STRING:
		if (!f->valid(s))
			return fail_value(y, v, where, f->expect, false);
		free(*(char **)slot);
		return yamlnode_strdup(y, s, (char **)slot);
	case F_INT: {
		long long x;
		if (!plain || !parse_decimal(s, &x) || x < f->min || x > f->max)
			return fail_value(y, v, where, f->expect, true);
		*(int *)slot = (int)x;
		return 0;
	}
	case F_QPS: {
		struct cx_err ignored = { 0 };
		if (!plain || ratelimit_parse_qps(s, (double *)slot, &ignored))
			return fail_value(y, v, where, f->expect, true);
		return 0;
	}
	case F_BOOL:
		if (plain && (!strcmp(s, "true") || !strcmp(s, "false"))) {
			*(bool *)slot = s[0] == 't';
			return 0;
		}
		return fail_value(y, v, where, f->expect, true);
	case F_STRATEGY:
		for (size_t i = 0; i < FILE_STRATEGIES; i++) {
			if (!strcmp(s, strategy_names[i])) {
				*(enum update_strategy *)slot = (enum update_strategy)i;
				return 0;
			}
		}
		return fail_value(y, v, where, f->expect, false);
	case F_ENUM:
		for (int i = 0; f->names[i]; i++) {
			if (!strcmp(s, f->names[i])) {
				*(int *)slot = i;
				return 0;
			}
		}
		return fail_value(y, v, where, f->expect, false);
	default:
		return yamlnode_fail(y, v, where, "internal error: field kind %d", (int)f->kind);
	}
}

/* One value: a null means the key is absent (an error when it is required). */
static int parse_value(const struct yamlnode_src *y, const struct field *f, const yaml_node_t *v, const char *where,
		       void *entry)
{
	if (yamlnode_is_null(v))
		return f->required ? yamlnode_fail(y, v, where, "missing; expected %s", f->expect) : 0;
	void *slot = (char *)entry + f->offset;
	switch (f->kind) {
	case F_MAP:
		return parse_mapping(y, v, where, f->sub, f->expect, slot);
	case F_HOOK:
		return parse_hook(y, f, v, where, slot);
	case F_LIST:
		return parse_list(y, f, v, where, entry);
	case F_COMMAND:
		return parse_command(y, f, v, where, entry);
	default:
		return parse_scalar(y, f, v, where, slot);
	}
}

/* Fills entry from the mapping n by the table fields, in the document's
 * order: an unknown or repeated key is an error, and so is a required key
 * that is absent. */
static int parse_mapping(const struct yamlnode_src *y, const yaml_node_t *n, const char *where,
			 const struct field *fields, const char *expect, void *entry)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail_value(y, n, where, expect, false);
	unsigned long seen = 0;
	for (yaml_node_pair_t *pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(y->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(y->doc, pair->value);
		if (k->type != YAML_SCALAR_NODE)
			return yamlnode_fail(y, k, *where ? where : "the document",
					     "expected a field name, got %s as a key", yamlnode_type_name(k));
		const struct field *f = fields;
		while (f->key && strcmp(f->key, yamlnode_scalar(k)))
			f++;
		if (!f->key)
			return fail_unknown(y, k, where, fields);
		char path[PATH_LEN];
		join(path, sizeof(path), where, f->key);
		unsigned long bit = 1UL << (f - fields);
		if (seen & bit) {
			const yaml_node_t *first = yamlnode_repeated(y, n, pair);
			return yamlnode_fail(y, k, path, "repeated key (first at line %zu); expected it once",
					     first ? first->start_mark.line + 1 : 0);
		}
		seen |= bit;
		int rc = parse_value(y, f, v, path, entry);
		if (rc)
			return rc;
	}
	for (const struct field *f = fields; f->key; f++) {
		if (f->required && !(seen & (1UL << (f - fields)))) {
			char path[PATH_LEN];
			join(path, sizeof(path), where, f->key);
			return yamlnode_fail(y, n, path, "missing; expected %s", f->expect);
		}
	}
	return 0;
}

/* ---- rules that span entries, and defaults ------------------------------- */

static void controller_init(void *entry)
{
	struct config_controller *cc = entry;
	cc->resync_period_seconds = CONFIG_DEFAULT_RESYNC_SECONDS;
}

/* No two children of a controller share apiVersion and kind: the hook's
 * request keys them by "Kind.apiVersion". */
static int child_finish(const struct yamlnode_src *y, void *array, size_t i, const yaml_node_t *item,
			const char *list_where)
{
	struct config_child *children = array;
	for (size_t j = 0; j < i; j++) {
		if (!strcmp(children[j].api_version, children[i].api_version) &&
		    !strcmp(children[j].kind, children[i].kind)) {
			char where[PATH_LEN];
			snprintf(where, sizeof(where), "%.200s[%zu]", list_where, i);
			return yamlnode_fail(y, item, where,
					     "apiVersion %s, kind %s is listed twice (also %s[%zu]); "
					     "expected each child kind once",
					     children[i].api_version, children[i].kind, list_where, j);
		}
	}
	return 0;
}

/* Controller names are unique (they name metrics, the field manager and the
 * finalizer), and a controller cannot have children of its parent's kind. */
static int controller_finish(const struct yamlnode_src *y, void *array, size_t i, const yaml_node_t *item,
			     const char *list_where)
{
	struct config_controller *all = array, *cc = &all[i];
	char where[PATH_LEN];
	for (size_t j = 0; j < i; j++) {
		if (!strcmp(all[j].name, cc->name)) {
			snprintf(where, sizeof(where), "%.200s[%zu].name", list_where, i);
			return yamlnode_fail(
				y, yamlnode_get(y, item, "name"), where,
				"duplicate controller name \"%s\" (also %s[%zu].name); expected unique names", cc->name,
				list_where, j);
		}
	}
	for (size_t k = 0; k < cc->n_children; k++) {
		if (strcmp(cc->children[k].kind, cc->parent_kind))
			continue;
		yaml_node_t *child = yamlnode_item(y, yamlnode_get(y, item, "children"), k);
		snprintf(where, sizeof(where), "%.200s[%zu].children[%zu].kind", list_where, i, k);
		return yamlnode_fail(y, yamlnode_get(y, child, "kind"), where,
				     "\"%s\" is the parent's kind; expected a child kind other than the parent's",
				     cc->parent_kind);
	}
	char buf[512];
	snprintf(buf, sizeof(buf), "coxswain.io/%s", cc->name);
	int rc = yamlnode_strdup(y, buf, &cc->finalizer);
	snprintf(buf, sizeof(buf), "coxswain/%s", cc->name);
	if (!rc)
		rc = yamlnode_strdup(y, buf, &cc->field_manager);
	if (!rc && !cc->namespace)
		rc = yamlnode_strdup(y, "", &cc->namespace);
	return rc;
}

static int set_default(const struct yamlnode_src *y, char **slot, const char *value)
{
	return *slot ? 0 : yamlnode_strdup(y, value, slot);
}

static int parse_document(const struct yamlnode_src *y, bool controllers_optional, struct config *c)
{
	yaml_node_t *root = yaml_document_get_root_node(y->doc);
	int rc = 0;
	if ((!root || yamlnode_is_null(root)) && !controllers_optional)
		return cx_err_set(y->err, -EINVAL, "%s %s: the file is empty; expected %s", y->kind, y->path,
				  EXPECT_ROOT);
	if (root && !yamlnode_is_null(root) && root->type != YAML_MAPPING_NODE)
		return fail_value(y, root, "the document", EXPECT_ROOT, false);
	if (root && !yamlnode_is_null(root))
		rc = parse_mapping(y, root, "", controllers_optional ? root_fields_optional : root_fields, EXPECT_ROOT,
				   c);
	if (!rc)
		rc = set_default(y, &c->endpoint, CONFIG_DEFAULT_ENDPOINT);
	if (!rc)
		rc = set_default(y, &c->health_address, CONFIG_DEFAULT_HEALTH_ADDRESS);
	if (!rc)
		rc = set_default(y, &c->metrics_address, CONFIG_DEFAULT_METRICS_ADDRESS);
	if (!rc)
		rc = set_default(y, &c->lease_namespace, CONFIG_DEFAULT_LEASE_NAMESPACE);
	if (!rc)
		rc = set_default(y, &c->lease_name, CONFIG_DEFAULT_LEASE_NAME);
	return rc;
}

int config_load(const char *path, struct config **out, struct cx_err *err)
{
	return config_load_opts(path, false, out, err);
}

int config_load_opts(const char *path, bool controllers_optional, struct config **out, struct cx_err *err)
{
	*out = NULL;
	struct config *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return cx_err_set(err, -ENOMEM, "config %s: out of memory", path);
	}
	c->leader_election = true;
	yaml_document_t doc;
	int rc = yamlnode_load("config", path, true, &doc, err);
	if (!rc) {
		struct yamlnode_src y = { .doc = &doc, .kind = "config", .path = path, .err = err };
		rc = parse_document(&y, controllers_optional, c);
		yaml_document_delete(&doc);
	}
	if (rc) {
		config_free(&c);
		return rc;
	}
	*out = c;
	return 0;
}

static void hook_clear(struct config_hook *h)
{
	for (size_t i = 0; i < h->n_command; i++)
		free(h->command[i]);
	free(h->command);
	free(h->url);
	free(h->jq_program);
}

void config_controller_clear(struct config_controller *cc)
{
	free(cc->name);
	free(cc->parent_api_version);
	free(cc->parent_kind);
	for (size_t k = 0; k < cc->n_children; k++) {
		free(cc->children[k].api_version);
		free(cc->children[k].kind);
		free(cc->children[k].resource);
	}
	free(cc->children);
	hook_clear(&cc->sync);
	hook_clear(&cc->finalize);
	hook_clear(&cc->customize);
	free(cc->namespace);
	json_object_put(cc->object);
	free(cc->parent_resource);
	free(cc->label_selector);
	free(cc->finalizer);
	free(cc->field_manager);
	memset(cc, 0, sizeof(*cc));
}

void config_free(struct config **cp)
{
	struct config *c = cp ? *cp : NULL;
	if (!c)
		return;
	for (size_t i = 0; i < c->n_controllers; i++)
		config_controller_clear(&c->controllers[i]);
	free(c->controllers);
	free(c->path);
	free(c->endpoint);
	free(c->health_address);
	free(c->metrics_address);
	free(c->lease_namespace);
	free(c->lease_name);
	free(c->curve_secret_key_file);
	free(c->curve_authorized_keys);
	free(c->worker_curve_secret_key_file);
	free(c->worker_curve_server_key_file);
	free(c);
	*cp = NULL;
}

int config_channel_check(const struct config *c, const char *endpoint, bool watcher_side, struct cx_err *err)
{
	if (strncmp(endpoint, "tcp://", 6) || c->channel_insecure)
		return 0;
	if (watcher_side && !c->curve_secret_key_file)
		return cx_err_set(
			err, -EINVAL,
			"config %s: watcher.curve: missing; the job channel %s is reachable over the network, so "
			"it needs CURVE keys {secretKeyFile, authorizedKeys} (README \"Workers in other pods\"), "
			"or watcher.insecure: true on a network where every process may take and answer jobs",
			c->path, endpoint);
	if (!watcher_side && !c->worker_curve_secret_key_file)
		return cx_err_set(
			err, -EINVAL,
			"config %s: worker.curve: missing; the job channel %s is reachable over the network, so "
			"it needs CURVE keys {secretKeyFile, serverPublicKeyFile} (README \"Workers in other "
			"pods\"), or watcher.insecure: true to connect without them",
			c->path, endpoint);
	return 0;
}

const struct config_controller *config_controller(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_controllers; i++)
		if (!strcmp(c->controllers[i].name, name))
			return &c->controllers[i];
	return NULL;
}

/* ---- the controller as JSON ------------------------------------------------ */

/* Adds val to obj under key; consumes val whatever happens. */
static bool put(struct json_object *obj, const char *key, struct json_object *val)
{
	if (obj && val && json_object_object_add(obj, key, val) == 0)
		return true;
	json_object_put(val);
	return false;
}

static bool append(struct json_object *array, struct json_object *val)
{
	if (array && val && json_object_array_add(array, val) == 0)
		return true;
	json_object_put(val);
	return false;
}

static struct json_object *hook_json(const struct config_hook *h)
{
	struct json_object *inner = json_object_new_object();
	bool ok = put(inner, "timeoutSeconds", json_object_new_int(h->timeout_seconds));
	if (ok && h->jq_program) {
		json_object_put(inner);
		inner = json_object_new_object();
		ok = put(inner, "program", json_object_new_string(h->jq_program)) &&
			put(inner, "timeoutSeconds", json_object_new_int(h->timeout_seconds));
	} else if (ok && h->command) {
		struct json_object *command = json_object_new_array();
		for (size_t i = 0; command && i < h->n_command; i++) {
			if (!append(command, json_object_new_string(h->command[i]))) {
				json_object_put(command);
				command = NULL;
			}
		}
		ok = put(inner, "command", command);
		if (ok && h->persistent)
			ok = put(inner, "persistent", json_object_new_boolean(true));
	} else if (ok) {
		ok = put(inner, "url", json_object_new_string(h->url));
	}
	if (!ok) {
		json_object_put(inner);
		return NULL;
	}
	struct json_object *hook = json_object_new_object();
	if (!put(hook,
		 h->jq_program        ? "jq"
			 : h->command ? "exec"
				      : "webhook",
		 inner) ||
	    !put(hook, "version", json_object_new_string(hook_version_names[h->version == CONFIG_HOOK_V2])) ||
	    !put(hook, "responseUnMarshallMode",
		 json_object_new_string(unmarshal_names[h->unmarshal == CONFIG_UNMARSHAL_STRICT]))) {
		json_object_put(hook);
		return NULL;
	}
	return hook;
}

struct json_object *config_controller_json(const struct config_controller *cc)
{
	struct json_object *obj = json_object_new_object(), *parent = json_object_new_object(),
			   *children = json_object_new_array(), *hooks = json_object_new_object();
	bool ok = put(parent, "apiVersion", json_object_new_string(cc->parent_api_version)) &&
		put(parent, "kind", json_object_new_string(cc->parent_kind));
	for (size_t i = 0; ok && i < cc->n_children; i++) {
		const struct config_child *ch = &cc->children[i];
		struct json_object *child = json_object_new_object();
		const char *strategy = config_update_strategy_name(ch->update_strategy);
		if (put(child, "apiVersion", json_object_new_string(ch->api_version)) &&
		    put(child, "kind", json_object_new_string(ch->kind)) &&
		    put(child, "updateStrategy", json_object_new_string(strategy))) {
			ok = append(children, child);
		} else {
			json_object_put(child);
			ok = false;
		}
	}
	ok = ok && put(hooks, "sync", hook_json(&cc->sync));
	if (ok && cc->finalize.set)
		ok = put(hooks, "finalize", hook_json(&cc->finalize));
	if (ok && cc->customize.set)
		ok = put(hooks, "customize", hook_json(&cc->customize));
	ok = ok && put(obj, "name", json_object_new_string(cc->name));
	/* put consumes what it is given, added or not. */
	if (ok)
		ok = put(obj, "parent", parent);
	else
		json_object_put(parent);
	if (ok)
		ok = put(obj, "children", children);
	else
		json_object_put(children);
	if (ok)
		ok = put(obj, "hooks", hooks);
	else
		json_object_put(hooks);
	ok = ok && put(obj, "resyncPeriodSeconds", json_object_new_int(cc->resync_period_seconds)) &&
		put(obj, "namespace", json_object_new_string(cc->namespace)) &&
		put(obj, "adoptOrphans", json_object_new_boolean(cc->adopt_orphans));
	if (!ok) {
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

#include "config.h"

#include "relwatch.h"
#include "clock.h"
#include "controller.h"
#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "kobj.h"
#include "log.h"
#include "queuekey.h"
#include "relrule.h"
#include "workqueue.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One parent's rules. */
struct parent_rules {
	char *key; /* the queue key */
	char *ns;  /* the parent's namespace, NULL when cluster-scoped */
	struct relrule_set rules;
};

/* One related resource's informer. */
struct rel_informer {
	struct relwatch *rw; /* back pointer, for the handlers */
	char *api_version;
	char *resource;
	struct informer *inf; /* NULL until started */
	int64_t retry_at_ms;  /* when resolving failed: try again then */
	bool told;            /* the failure was said (once) */
};

struct relwatch {
	struct controller_env env;
	struct parent_rules *parents;
	size_t n_parents;
	struct rel_informer **infs;
	size_t n_infs;
	bool dirty; /* rules changed: which informers are needed is to be looked at */
};

struct relwatch *relwatch_new(const struct controller_env *env)
{
	struct relwatch *rw = calloc(1, sizeof(*rw));
	if (rw)
		rw->env = *env;
	return rw;
}

static void parent_clear(struct parent_rules *p)
{
	free(p->key);
	free(p->ns);
	relrule_set_clear(&p->rules);
}

static void rel_informer_free(struct rel_informer *ri)
{
	informer_free(&ri->inf);
	free(ri->api_version);
	free(ri->resource);
	free(ri);
}

void relwatch_free(struct relwatch **rwp)
{
	struct relwatch *rw = *rwp;
	if (!rw)
		return;
	for (size_t i = 0; i < rw->n_parents; i++)
		parent_clear(&rw->parents[i]);
	free(rw->parents);
	for (size_t i = 0; i < rw->n_infs; i++)
		rel_informer_free(rw->infs[i]);
	free(rw->infs);
	free(rw);
	*rwp = NULL;
}

static struct parent_rules *find_parent(struct relwatch *rw, const char *key)
{
	for (size_t i = 0; i < rw->n_parents; i++)
		if (!strcmp(rw->parents[i].key, key))
			return &rw->parents[i];
	return NULL;
}

void relwatch_drop(struct relwatch *rw, const char *key)
{
	struct parent_rules *p = find_parent(rw, key);
	if (!p)
		return;
	parent_clear(p);
	*p = rw->parents[--rw->n_parents];
	rw->dirty = true;
}

/* The parent's namespace from its queue key (watcher/queuekey.h). Owned
 * (NULL for a cluster-scoped parent, a malformed key, or out of memory). */
static char *namespace_of_key(const char *key)
{
	struct queuekey k;
	return queuekey_parse(key, &k) && *k.namespace ? strdup(k.namespace) : NULL;
}

int relwatch_set(struct relwatch *rw, const char *key, struct json_object *rules, struct cx_err *err)
{
	char *ns = namespace_of_key(key);
	char label[512];
	snprintf(label, sizeof(label), "related rules of %s", key);
	struct relrule_set set = { 0 };
	int rc = relrule_set_from_json(label, rules, ns, &set, err);
	if (rc) {
		free(ns);
		return rc;
	}
	if (!set.n) {
		free(ns);
		relwatch_drop(rw, key);
		return 0;
	}
	struct parent_rules *p = find_parent(rw, key);
	if (!p) {
		struct parent_rules *g = realloc(rw->parents, (rw->n_parents + 1) * sizeof(*g));
		char *k = strdup(key);
		if (!g || !k) {
			if (g)
				rw->parents = g;
			free(k);
			free(ns);
			relrule_set_clear(&set);
			return cx_err_set(err, -ENOMEM, "out of memory");
		}
		rw->parents = g;
		p = &g[rw->n_parents++];
		memset(p, 0, sizeof(*p));
		p->key = k;
	}
	relrule_set_clear(&p->rules);
	free(p->ns);
	p->ns = ns;
	p->rules = set;
	rw->dirty = true;
	return 0;
}

size_t relwatch_requeue_for(struct relwatch *rw, const char *api_version, const char *resource, struct json_object *obj,
			    int64_t now_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < rw->n_parents; i++) {
		struct parent_rules *p = &rw->parents[i];
		for (size_t r = 0; r < p->rules.n; r++) {
			const struct relrule *rule = &p->rules.rules[r];
			if (strcmp(rule->api_version, api_version) || strcmp(rule->resource, resource) ||
			    !relrule_match(rule, p->ns, obj))
				continue;
			workqueue_add(rw->env.queue, p->key, now_ms);
			n++;
			break;
		}
	}
	return n;
}

/* ---------------------------------------------------------------- informers */

static void on_add(void *ud, struct json_object *obj)
{
	struct rel_informer *ri = ud;
	relwatch_requeue_for(ri->rw, ri->api_version, ri->resource, obj, clock_monotonic_ms());
}

/* Parents interested in the old state or the new one. */
static void on_update(void *ud, struct json_object *old_obj, struct json_object *new_obj)
{
	struct rel_informer *ri = ud;
	const char *a = kobj_resource_version(old_obj), *b = kobj_resource_version(new_obj);
	if (a && b && !strcmp(a, b))
		return; /* a relist's no-op */
	int64_t now = clock_monotonic_ms();
	relwatch_requeue_for(ri->rw, ri->api_version, ri->resource, old_obj, now);
	relwatch_requeue_for(ri->rw, ri->api_version, ri->resource, new_obj, now);
}

static bool needed(const struct relwatch *rw, const char *api_version, const char *resource)
{
	for (size_t i = 0; i < rw->n_parents; i++)
		for (size_t r = 0; r < rw->parents[i].rules.n; r++) {
			const struct relrule *rule = &rw->parents[i].rules.rules[r];
			if (!strcmp(rule->api_version, api_version) && !strcmp(rule->resource, resource))
				return true;
		}
	return false;
}

static struct rel_informer *find_informer(struct relwatch *rw, const char *api_version, const char *resource)
{
	for (size_t i = 0; i < rw->n_infs; i++)
		if (!strcmp(rw->infs[i]->api_version, api_version) && !strcmp(rw->infs[i]->resource, resource))
			return rw->infs[i];
	return NULL;
}

/* An entry for every resource the rules name (started by start()). */
static void add_missing(struct relwatch *rw)
{
	for (size_t i = 0; i < rw->n_parents; i++)
		for (size_t r = 0; r < rw->parents[i].rules.n; r++) {
			const struct relrule *rule = &rw->parents[i].rules.rules[r];
			if (find_informer(rw, rule->api_version, rule->resource))
				continue;
			struct rel_informer **g = realloc(rw->infs, (rw->n_infs + 1) * sizeof(*g));
			struct rel_informer *ri = calloc(1, sizeof(*ri));
			if (g)
				rw->infs = g;
			if (!g || !ri || !(ri->api_version = strdup(rule->api_version)) ||
			    !(ri->resource = strdup(rule->resource))) {
				if (ri)
					rel_informer_free(ri);
				log_kv(LOG_LEVEL_ERROR, 0, "out of memory starting a related informer", NULL);
				return;
			}
			ri->rw = rw;
			rw->infs[rw->n_infs++] = ri;
		}
}

/* Resolves ri's resource and starts its informer (all namespaces). */
static void start(struct relwatch *rw, struct rel_informer *ri, int64_t now_ms)
{
	struct cx_err err = { 0 };
	const struct kresource *res = NULL;
	int rc = discovery_resolve_resource(rw->env.discovery, ri->api_version, ri->resource, &res, &err);
	if (!rc) {
		struct informer_options o = { .resource = res, .handlers = { on_add, on_update, on_add }, .ud = ri };
		rc = informer_new(rw->env.client, rw->env.mux, &o, &ri->inf, &err);
	}
	if (rc) {
		ri->retry_at_ms = now_ms + RELWATCH_RETRY_MS;
		if (!ri->told)
			log_kv(LOG_LEVEL_WARNING, 0, "cannot watch a related resource; retrying", "apiVersion",
			       ri->api_version, "resource", ri->resource, "error", err.msg, NULL);
		ri->told = true;
		return;
	}
	log_kv(LOG_LEVEL_INFO, 1, "watching a related resource", "apiVersion", ri->api_version, "resource",
	       ri->resource, NULL);
}

void relwatch_tick(struct relwatch *rw, int64_t now_ms)
{
	/* Only when the rules changed: with many parents, looking through them
	 * all on every turn of the loop would cost more than the watching. */
	bool dirty = rw->dirty;
	if (dirty)
		add_missing(rw);
	rw->dirty = false;
	for (size_t i = 0; i < rw->n_infs;) {
		struct rel_informer *ri = rw->infs[i];
		if (dirty && !needed(rw, ri->api_version, ri->resource)) {
			rel_informer_free(ri);
			rw->infs[i] = rw->infs[--rw->n_infs];
			continue;
		}
		if (!ri->inf && now_ms >= ri->retry_at_ms)
			start(rw, ri, now_ms);
		struct cx_err err = { 0 };
		if (ri->inf && informer_tick(ri->inf, now_ms, &err))
			log_kv(LOG_LEVEL_WARNING, 2, "a related informer's list failed", "error", err.msg, NULL);
		i++;
	}
}

long relwatch_next_ms(const struct relwatch *rw, int64_t now_ms)
{
	long t = -1;
	for (size_t i = 0; i < rw->n_infs; i++) {
		const struct rel_informer *ri = rw->infs[i];
		long n = ri->inf                   ? informer_next_ms(ri->inf, now_ms)
			: ri->retry_at_ms > now_ms ? (long)(ri->retry_at_ms - now_ms)
						   : 0;
		if (n >= 0 && (t < 0 || n < t))
			t = n;
	}
	return t;
}

size_t relwatch_parents(const struct relwatch *rw)
{
	return rw->n_parents;
}

size_t relwatch_informers(const struct relwatch *rw)
{
	size_t n = 0;
	for (size_t i = 0; i < rw->n_infs; i++)
		n += rw->infs[i]->inf != NULL;
	return n;
}

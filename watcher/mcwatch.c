#include "config.h"

#include "mcwatch.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "informer.h"
#include "jsonget.h"
#include "kclient.h"
#include "log.h"
#include "mcbridge.h"
#include "mcdef.h"
#include "objstore.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A definition whose resources are not served yet is tried again this often
 * (discovery itself asks the API server at most once a second). */
#define RETRY_MS          2000
#define EVENT_MESSAGE_MAX 1024

enum def_state {
	DEF_PENDING, /* not running: waiting to be built (retry_ms) */
	DEF_RUNNING, /* its controllers run */
	DEF_REFUSED, /* invalid, or its name is taken: waits for a new version */
};

struct def {
	char *name;                        /* metadata.name */
	const char *kind;                  /* static: "CompositeController" or "DecoratorController" */
	bool live;                         /* from the API; else from a manifest file */
	char *version;                     /* live: "uid/resourceVersion" */
	struct mcdef_set *own;             /* live: the parsed object */
	const struct mcdef_controller *mc; /* NULL when refused by mcdef */
	struct json_object *obj;           /* live: the object as listed, for Events */
	struct config_controller *ccs;     /* n_ccs built, n_started of them started */
	size_t n_ccs, n_started;
	enum def_state state;
	int64_t retry_ms;
	char error[CX_ERR_MSG_MAX]; /* why it is pending or refused */
	bool seen;
};

struct live_kind {
	const char *resource; /* "compositecontrollers" */
	const char *kind;
	struct informer *inf;
	int64_t next_ms; /* next discovery attempt while inf is NULL */
	char error[CX_ERR_MSG_MAX];
};

struct mcwatch {
	struct mcwatch_options o;
	struct mcdef_set *files;
	struct def **defs;
	size_t n_defs;
	struct live_kind kinds[2];
	bool dirty; /* a live object changed since the last diff */
};

static const char *kind_word(enum mcdef_kind k)
{
	return k == MCDEF_COMPOSITE ? "CompositeController" : "DecoratorController";
}

static struct def *def_new(struct mcwatch *m, const char *name, const char *kind, bool live)
{
	struct def **grown = realloc(m->defs, (m->n_defs + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	m->defs = grown;
	struct def *d = calloc(1, sizeof(*d));
	if (!d || !(d->name = strdup(name))) {
		free(d);
		return NULL;
	}
	d->kind = kind;
	d->live = live;
	m->defs[m->n_defs++] = d;
	return d;
}

static void def_free(struct def *d)
{
	mcbridge_free(&d->ccs, d->n_ccs);
	mcdef_set_free(&d->own);
	json_object_put(d->obj);
	free(d->version);
	free(d->name);
	free(d);
}

/* Stops what runs of d and frees its controllers. */
static void def_stop(struct mcwatch *m, struct def *d)
{
	for (size_t i = 0; i < d->n_started; i++)
		m->o.cb.stop(m->o.cb.ud, d->ccs[i].name);
	if (d->n_started)
		log_kv(LOG_LEVEL_INFO, 0, "stopped a metacontroller controller", "controller", d->name, "kind", d->kind,
		       NULL);
	d->n_started = 0;
	mcbridge_free(&d->ccs, d->n_ccs);
	d->n_ccs = 0;
	d->state = DEF_PENDING;
}

/* A Warning Event about the live controller object obj (cluster-scoped: in
 * "default", as client-go's recorder puts them). Best effort: a failure is
 * logged. */
static void post_event(struct mcwatch *m, struct json_object *obj, const char *reason, const char *message)
{
	struct json_object *meta = jsonget(obj, "metadata");
	const char *name = jsonget_string(meta, "name");
	if (!name)
		return;
	char gen[300], host[256] = "", msg[EVENT_MESSAGE_MAX + 4], ts[32];
	snprintf(gen, sizeof(gen), "%.240s.", name);
	snprintf(msg, sizeof(msg), "%.*s%s", EVENT_MESSAGE_MAX, message,
		 strlen(message) > EVENT_MESSAGE_MAX ? "..." : "");
	gethostname(host, sizeof(host) - 1);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	struct json_object *ev = json_object_new_object(), *md = json_object_new_object(),
			   *inv = json_object_new_object(), *src = json_object_new_object();
	json_object_object_add(md, "generateName", json_object_new_string(gen));
	json_object_object_add(md, "namespace", json_object_new_string("default"));
	json_object_object_add(ev, "metadata", md);
	static const char *const inv_keys[] = { "apiVersion", "kind" };
	for (size_t i = 0; i < 2; i++)
		if (jsonget_string(obj, inv_keys[i]))
			json_object_object_add(inv, inv_keys[i],
					       json_object_new_string(jsonget_string(obj, inv_keys[i])));
	static const char *const meta_keys[] = { "name", "uid", "resourceVersion" };
	for (size_t i = 0; i < 3; i++)
		if (jsonget_string(meta, meta_keys[i]))
			json_object_object_add(inv, meta_keys[i],
					       json_object_new_string(jsonget_string(meta, meta_keys[i])));
	json_object_object_add(ev, "involvedObject", inv);
	json_object_object_add(ev, "type", json_object_new_string("Warning"));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	json_object_object_add(ev, "message", json_object_new_string(msg));
	json_object_object_add(src, "component", json_object_new_string("coxswain-watcher"));
	json_object_object_add(src, "host", json_object_new_string(host));
	json_object_object_add(ev, "source", src);
	json_object_object_add(ev, "reportingComponent", json_object_new_string("coxswain.io/watcher"));
	json_object_object_add(ev, "reportingInstance", json_object_new_string(host));
	json_object_object_add(ev, "firstTimestamp", json_object_new_string(ts));
	json_object_object_add(ev, "lastTimestamp", json_object_new_string(ts));
	json_object_object_add(ev, "count", json_object_new_int(1));
	struct cx_err err = { 0 };
	if (kclient_create(m->o.client, "/api/v1/namespaces/default/events", ev, NULL, &err))
		log_kv(LOG_LEVEL_WARNING, 0, "cannot post an Event", "controller", name, "error", err.msg, NULL);
	json_object_put(ev);
}

/* d cannot run: says why (log, and an Event for a live object). */
static void refuse(struct mcwatch *m, struct def *d, const char *reason, const char *why)
{
	snprintf(d->error, sizeof(d->error), "%s", why);
	d->state = DEF_REFUSED;
	log_kv(LOG_LEVEL_ERROR, 0, "metacontroller controller refused; it does not run", "controller", d->name, "kind",
	       d->kind, "reason", reason, "error", why, NULL);
	if (d->live)
		post_event(m, d->obj, reason, why);
}

/* Builds d's controllers and starts them; a resource not served leaves it
 * pending (retried), a name taken refuses it. */
static void try_start(struct mcwatch *m, struct def *d, int64_t now_ms)
{
	struct cx_err err = { 0 };
	int rc = mcbridge_controllers(d->mc, m->o.discovery, &d->ccs, &d->n_ccs, &err);
	if (rc) {
		if (strcmp(d->error, err.msg))
			log_kv(LOG_LEVEL_WARNING, 0, "metacontroller controller waits", "controller", d->name, "error",
			       err.msg, NULL);
		snprintf(d->error, sizeof(d->error), "%s", err.msg);
		d->state = DEF_PENDING;
		d->retry_ms = now_ms + RETRY_MS;
		return;
	}
	for (size_t i = 0; i < d->n_ccs; i++) {
		if ((rc = m->o.cb.start(m->o.cb.ud, &d->ccs[i], &err))) {
			cx_err_prefix(&err, "%s \"%s\": ", d->kind, d->name);
			def_stop(m, d);
			refuse(m, d, "NameInUse", err.msg);
			return;
		}
		d->n_started++;
	}
	d->error[0] = '\0';
	d->state = DEF_RUNNING;
	log_kv(LOG_LEVEL_INFO, 0, "started a metacontroller controller", "controller", d->name, "kind", d->kind,
	       "source", d->live ? "live" : d->mc->source, NULL);
}

/* ---------------------------------------------------------------- live objects */

static void on_change(void *ud, struct json_object *obj)
{
	(void)obj;
	((struct mcwatch *)ud)->dirty = true;
}

static void on_update(void *ud, struct json_object *old_obj, struct json_object *new_obj)
{
	(void)old_obj;
	on_change(ud, new_obj);
}

static char *version_of(const struct objstore_entry *e)
{
	char *v = NULL;
	if (asprintf(&v, "%s/%s", e->uid ?: "", e->resource_version ?: "") < 0)
		return NULL;
	return v;
}

static struct def *find_def(struct mcwatch *m, const char *kind, const char *name, bool live, size_t *index)
{
	for (size_t i = 0; i < m->n_defs; i++)
		if (m->defs[i]->live == live && !strcmp(m->defs[i]->kind, kind) && !strcmp(m->defs[i]->name, name)) {
			if (index)
				*index = i;
			return m->defs[i];
		}
	return NULL;
}

/* A live object, new or of a new version: parsed, then started at once.
 * One of an unchanged version is not parsed. */
static void take_object(struct mcwatch *m, const struct live_kind *lk, const struct objstore *objects,
			const struct objstore_entry *e, int64_t now_ms)
{
	const char *name = e->name;
	char *version = version_of(e);
	if (!version)
		return;
	struct def *d = find_def(m, lk->kind, name, true, NULL);
	if (d) {
		d->seen = true;
		if (!strcmp(d->version, version)) {
			free(version);
			return;
		}
		def_stop(m, d); /* never run a definition the user replaced */
		mcdef_set_free(&d->own);
		json_object_put(d->obj);
		free(d->version);
		d->mc = NULL;
	} else if (!(d = def_new(m, name, lk->kind, true))) {
		free(version);
		log_kv(LOG_LEVEL_ERROR, 0, "out of memory", "controller", name, NULL);
		return;
	}
	d->seen = true;
	d->version = version;
	d->obj = objstore_entry_parse_new(objects, e);
	d->error[0] = '\0';
	char source[400];
	snprintf(source, sizeof(source), "%s \"%s\"", lk->kind, name);
	struct cx_err err = { 0 };
	char *text = objstore_entry_json_new(objects, e);
	int rc = text ? mcdef_parse_json(text, source, &d->own, &err) : cx_err_set(&err, -ENOMEM, "out of memory");
	free(text);
	if (rc) {
		refuse(m, d, "InvalidDefinition", err.msg);
		return;
	}
	if (strcmp(kind_word(d->own->items[0].kind), lk->kind)) {
		refuse(m, d, "InvalidDefinition", "kind does not match its resource");
		return;
	}
	if (mcbridge_check(&d->own->items[0], &err)) {
		refuse(m, d, "InvalidDefinition", err.msg);
		return;
	}
	d->mc = &d->own->items[0];
	try_start(m, d, now_ms);
}

/* Compares each synced kind's objects with the definitions taken from it:
 * new and changed ones are taken, vanished ones stopped. */
static void diff_live(struct mcwatch *m, int64_t now_ms)
{
	for (size_t k = 0; k < 2; k++) {
		struct live_kind *lk = &m->kinds[k];
		if (!lk->inf || !informer_synced(lk->inf))
			continue;
		for (size_t i = 0; i < m->n_defs; i++)
			if (m->defs[i]->live && !strcmp(m->defs[i]->kind, lk->kind))
				m->defs[i]->seen = false;
		const struct objstore *objects = informer_objects(lk->inf);
		size_t it = 0;
		for (const struct objstore_entry *e; (e = objstore_next(objects, &it));)
			take_object(m, lk, objects, e, now_ms);
		for (size_t i = 0; i < m->n_defs;) {
			struct def *d = m->defs[i];
			if (!d->live || strcmp(d->kind, lk->kind) || d->seen) {
				i++;
				continue;
			}
			log_kv(LOG_LEVEL_INFO, 0, "metacontroller controller deleted", "controller", d->name, "kind",
			       d->kind, NULL);
			def_stop(m, d);
			def_free(d);
			memmove(&m->defs[i], &m->defs[i + 1], (m->n_defs - i - 1) * sizeof(*m->defs));
			m->n_defs--;
		}
	}
}

static void tick_live(struct mcwatch *m, int64_t now_ms)
{
	for (size_t k = 0; k < 2; k++) {
		struct live_kind *lk = &m->kinds[k];
		struct cx_err err = { 0 };
		if (!lk->inf) {
			if (now_ms < lk->next_ms)
				continue;
			const struct kresource *res = NULL;
			if (discovery_resolve_resource(m->o.discovery, MCDEF_API_VERSION, lk->resource, &res, &err)) {
				snprintf(lk->error, sizeof(lk->error), "%s", err.msg);
				lk->next_ms = now_ms + RETRY_MS;
				continue;
			}
			struct informer_options io = { .resource = res,
						       .label_selector = m->o.selector,
						       .handlers = { on_change, on_update, on_change },
						       .ud = m };
			if (informer_new(m->o.client, m->o.mux, &io, &lk->inf, &err)) {
				snprintf(lk->error, sizeof(lk->error), "%s", err.msg);
				lk->next_ms = now_ms + RETRY_MS;
				continue;
			}
			log_kv(LOG_LEVEL_INFO, 0, "watching metacontroller controllers", "resource", lk->resource,
			       NULL);
			m->dirty = true;
		}
		if (informer_tick(lk->inf, now_ms, &err))
			snprintf(lk->error, sizeof(lk->error), "%s", err.msg);
		else if (informer_synced(lk->inf))
			lk->error[0] = '\0';
	}
}

/* ---------------------------------------------------------------- the module */

/* Whether a definition before the i-th of files runs a controller named
 * name (a DecoratorController's resources[r] runs as "<name>.r<r>");
 * err says which ("DecoratorController \"x\"'s spec.resources[1] (FILE:
 * document N); expected each name once"). */
static bool file_name_taken(const struct mcdef_set *files, size_t i, const char *name, struct cx_err *err)
{
	for (size_t j = 0; j < i; j++) {
		const struct mcdef_controller *mc = &files->items[j];
		size_t n_names = mc->kind == MCDEF_DECORATOR ? mc->n_resources : 1;
		for (size_t r = 0; r < n_names; r++) {
			char other[300];
			mcbridge_decorator_name(mc->name, r, other, sizeof(other));
			if (strcmp(other, name))
				continue;
			if (mc->kind == MCDEF_DECORATOR)
				cx_err_set(err, -EINVAL,
					   "DecoratorController \"%s\"'s spec.resources[%zu] (%s); expected "
					   "each name once",
					   mc->name, r, mc->source);
			else
				cx_err_set(err, -EINVAL, "CompositeController \"%s\" (%s); expected each name once",
					   mc->name, mc->source);
			return true;
		}
	}
	return false;
}

int mcwatch_new(const struct mcwatch_options *o, struct mcwatch **out, struct cx_err *err)
{
	*out = NULL;
	struct mcwatch *m = calloc(1, sizeof(*m));
	if (!m)
		return cx_err_set(err, -ENOMEM, "out of memory");
	int rc = 0;
	m->o = *o;
	m->kinds[0] = (struct live_kind){ .resource = "compositecontrollers", .kind = "CompositeController" };
	m->kinds[1] = (struct live_kind){ .resource = "decoratorcontrollers", .kind = "DecoratorController" };
	if (o->manifests) {
		if ((rc = mcdef_load(o->manifests, &m->files, err)))
			goto fail;
		for (size_t i = 0; i < m->files->n; i++) {
			const struct mcdef_controller *mc = &m->files->items[i];
			if ((rc = mcbridge_check(mc, err)))
				goto fail;
			size_t n_names = mc->kind == MCDEF_DECORATOR ? mc->n_resources : 1;
			for (size_t r = 0; r < n_names; r++) {
				char name[300];
				mcbridge_decorator_name(mc->name, r, name, sizeof(name));
				const struct config_controller *other = o->config ? config_controller(o->config, name)
										  : NULL;
				if (other) {
					rc = cx_err_set(
						err, -EINVAL,
						"%s: %s \"%s\": controller name \"%s\" is also the name of a "
						"controller in %s (controllers[].name); expected each name once",
						mc->source, kind_word(mc->kind), mc->name, name, o->config->path);
					goto fail;
				}
				if (file_name_taken(m->files, i, name, err)) {
					rc = -EINVAL;
					cx_err_prefix(err, "%s: %s \"%s\": controller name \"%s\" is also the name of ",
						      mc->source, kind_word(mc->kind), mc->name, name);
					goto fail;
				}
			}
			struct def *d = def_new(m, mc->name, kind_word(mc->kind), false);
			if (!d) {
				rc = cx_err_set(err, -ENOMEM, "out of memory");
				goto fail;
			}
			d->mc = mc;
		}
	}
	m->dirty = o->live;
	*out = m;
	return 0;
fail:
	mcwatch_free(&m);
	return rc;
}

void mcwatch_free(struct mcwatch **mp)
{
	struct mcwatch *m = *mp;
	if (!m)
		return;
	for (size_t k = 0; k < 2; k++)
		informer_free(&m->kinds[k].inf);
	for (size_t i = 0; i < m->n_defs; i++)
		def_free(m->defs[i]);
	free(m->defs);
	mcdef_set_free(&m->files);
	free(m);
	*mp = NULL;
}

void mcwatch_tick(struct mcwatch *m, int64_t now_ms)
{
	if (m->o.live) {
		tick_live(m, now_ms);
		if (m->dirty) {
			m->dirty = false;
			diff_live(m, now_ms);
		}
	}
	for (size_t i = 0; i < m->n_defs; i++) {
		struct def *d = m->defs[i];
		if (d->state == DEF_PENDING && d->mc && now_ms >= d->retry_ms)
			try_start(m, d, now_ms);
	}
}

static long min_ms(long a, long b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

long mcwatch_next_ms(const struct mcwatch *m, int64_t now_ms)
{
	long t = -1;
	for (size_t k = 0; m->o.live && k < 2; k++) {
		const struct live_kind *lk = &m->kinds[k];
		t = min_ms(t,
			   lk->inf ? informer_next_ms(lk->inf, now_ms)
				   : (lk->next_ms > now_ms ? (long)(lk->next_ms - now_ms) : 0));
	}
	if (m->dirty)
		t = 0;
	for (size_t i = 0; i < m->n_defs; i++)
		if (m->defs[i]->state == DEF_PENDING && m->defs[i]->mc)
			t = min_ms(t, m->defs[i]->retry_ms > now_ms ? (long)(m->defs[i]->retry_ms - now_ms) : 0);
	return t;
}

static void append(char *why, size_t cap, const char *text)
{
	size_t len = strlen(why);
	if (len + 1 < cap)
		snprintf(why + len, cap - len, "%s%s", len ? "; " : "", text);
}

bool mcwatch_ready(const struct mcwatch *m, char *why, size_t cap)
{
	char one[CX_ERR_MSG_MAX + 200];
	why[0] = '\0';
	for (size_t k = 0; m->o.live && k < 2; k++) {
		const struct live_kind *lk = &m->kinds[k];
		if (lk->inf && informer_synced(lk->inf))
			continue;
		snprintf(one, sizeof(one),
			 "--metacontroller-live: waiting for the CRD of %s (%s.metacontroller.k8s.io)%s%s", lk->kind,
			 lk->resource, lk->error[0] ? ": " : "", lk->error);
		append(why, cap, one);
	}
	for (size_t i = 0; i < m->n_defs; i++)
		if (m->defs[i]->state == DEF_PENDING && m->defs[i]->mc && m->defs[i]->error[0])
			append(why, cap, m->defs[i]->error);
	return why[0] == '\0';
}

size_t mcwatch_running(const struct mcwatch *m)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n_defs; i++)
		n += m->defs[i]->state == DEF_RUNNING;
	return n;
}

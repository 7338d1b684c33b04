#include "config.h"

#include "controller.h"
#include "childkey.h"
#include "clock.h"
#include "cxconfig.h"
#include "discovery.h"
#include "echo.h"
#include "err.h"
#include "informer.h"
#include "jsonget.h"
#include "kobj.h"
#include "log.h"
#include "objstore.h"
#include "queuekey.h"
#include "selector.h"
#include "strmap.h"
#include "workqueue.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define WAIT_LOG_INTERVAL_MS 60000
/* While no CRD names the parent kind, discovery is asked now and then in
 * case the kind is built in or served by an aggregated API. */
#define DISCOVERY_RETRY_MS 10000
#define KEY_MAX            512

struct child_kind {
	const struct config_child *cc;   /* borrowed from the config */
	char kindkey[CHILDKEY_KIND_MAX]; /* "ConfigMap.v1", the hook request's key */
	struct informer *inf;
	struct controller *ctl; /* back pointer for the handlers */
	/* parent uid → strmap {child key → the child's relative name (childkey)};
	 * NULL until a child of this kind has a controller owner */
	struct strmap *index;
};

struct controller {
	const struct config_controller *cc; /* borrowed */
	struct controller_env env;
	char group[256]; /* of the parent; "" for the core group */
	struct informer *parents;
	struct child_kind *kids;
	const char *keep_managers[2]; /* the children's informers keep cc->field_manager's entries */
	bool running;                 /* past the gate: informers exist */
	bool parent_namespaced;       /* known once past the gate */
	bool parent_is_crd;
	/* The parent kind was a CRD's once: discovery's cached answer for it
	 * outlives the CRD, so only the CRD cache can say it is back. */
	bool crd_seen;
	char waiting[4096];
	int64_t next_discovery_ms, next_wait_log_ms, next_resync_ms;
	/* A metacontroller composite's orphans (no controller ownerReference,
	 * not being deleted): kindkey → strmap {namespace ("" if none) → the
	 * set (strmap, NULL values) of its child keys}, so that a namespaced
	 * parent looks only at its namespace's. Its parents adopt those their
	 * selector matches (mc_adopts). */
	struct strmap *orphans;
	/* A metacontroller composite without generateSelector: parent key →
	 * its spec.selector (a json-c reference the map holds), kept by the
	 * parent handlers so that looking for an orphan's adopters parses no
	 * parent. */
	struct strmap *selectors;
	/* The CRD naming the parent kind (owned; NULL when none), as found in
	 * the CRD cache at revision crd_rev (0: not looked yet). */
	struct json_object *crd;
	uint64_t crd_rev;
	/* The writes its parents' jobs reported and the events held while a
	 * job is in flight, keyed by "ns/name" (watcher/echo.h): the events
	 * that echo them do not sync the parent again. */
	struct echo *echo;
	char parent_kindkey[CHILDKEY_KIND_MAX]; /* "Website.example.com/v1"; "" when unknown: no echo */
};

/* Whether cc is a metacontroller CompositeController: it adopts the orphans
 * its parents' selectors match, so it watches every object of its child
 * kinds, not only those coxswain labelled. */
static bool mc_adopts(const struct config_controller *cc)
{
	return cc->origin == CONFIG_ORIGIN_METACONTROLLER && cc->kind == CONFIG_KIND_COMPOSITE;
}

/* The group of an apiVersion ("apps/v1" → "apps", "v1" → ""). */
static void group_of(const char *api_version, char *buf, size_t len)
{
	const char *slash = strchr(api_version, '/');
	snprintf(buf, len, "%.*s", slash ? (int)(slash - api_version) : 0, api_version);
}

static void free_strmap(void *map)
{
	struct strmap *m = map;
	strmap_free(&m);
}

static void put_json(void *json)
{
	json_object_put(json);
}

int controller_new(const struct config_controller *cc, const struct controller_env *env, struct controller **out,
		   struct cx_err *err)
{
	*out = NULL;
	struct controller *ctl = calloc(1, sizeof(*ctl));
	if (!ctl || !(ctl->orphans = strmap_new(free_strmap)) || !(ctl->selectors = strmap_new(put_json)) ||
	    !(ctl->echo = echo_new()) ||
	    !(ctl->kids = calloc(cc->n_children ? cc->n_children : 1, sizeof(*ctl->kids)))) {
		if (ctl) {
			strmap_free(&ctl->orphans);
			strmap_free(&ctl->selectors);
			echo_free(&ctl->echo);
		}
		free(ctl);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	ctl->cc = cc;
	ctl->env = *env;
	group_of(cc->parent_api_version, ctl->group, sizeof(ctl->group));
	for (size_t i = 0; i < cc->n_children; i++) {
		ctl->kids[i].cc = &cc->children[i];
		ctl->kids[i].ctl = ctl;
	}
	snprintf(ctl->waiting, sizeof(ctl->waiting), "waiting for the CRD cache");
	if (!cc->parent_kind ||
	    !childkey_kind(cc->parent_kind, cc->parent_api_version, ctl->parent_kindkey, sizeof(ctl->parent_kindkey)))
		ctl->parent_kindkey[0] = '\0';
	for (size_t i = 0; i < cc->n_children; i++)
		if (!childkey_kind(cc->children[i].kind, cc->children[i].api_version, ctl->kids[i].kindkey,
				   sizeof(ctl->kids[i].kindkey))) {
			controller_free(&ctl);
			return cx_err_set(err, -ENAMETOOLONG, "controller %s: child kind %s.%s is too long", cc->name,
					  cc->children[i].kind, cc->children[i].api_version);
		}
	*out = ctl;
	return 0;
}

static void stop_informers(struct controller *ctl)
{
	informer_free(&ctl->parents);
	for (size_t i = 0; i < ctl->cc->n_children; i++) {
		informer_free(&ctl->kids[i].inf);
		strmap_free(&ctl->kids[i].index);
	}
	strmap_clear(ctl->orphans);
	strmap_clear(ctl->selectors);
	ctl->running = false;
}

void controller_free(struct controller **ctlp)
{
	struct controller *ctl = *ctlp;
	if (!ctl)
		return;
	stop_informers(ctl);
	strmap_free(&ctl->orphans);
	strmap_free(&ctl->selectors);
	json_object_put(ctl->crd);
	echo_free(&ctl->echo);
	free(ctl->kids);
	free(ctl);
	*ctlp = NULL;
}

const char *controller_name(const struct controller *ctl)
{
	return ctl->cc->name;
}

/* ---------------------------------------------------------------- queue */

static void enqueue(struct controller *ctl, const char *ns, const char *name)
{
	char key[QUEUEKEY_MAX];
	if (!queuekey_make(ctl->cc->name, ns, name, key, sizeof(key))) {
		/* Only a name the API server would refuse (an ownerReference
		 * without one, a '/' in it) gets here: no parent has it. */
		log_kv(LOG_LEVEL_WARNING, 2, "no queue key for this parent", "controller", ctl->cc->name, "namespace",
		       ns ? ns : "", "name", name ? name : "", NULL);
		return;
	}
	workqueue_add(ctl->env.queue, key, clock_monotonic_ms());
}

/* A watch event of obj (an ADDED or MODIFIED one; kindkey its
 * "Kind.apiVersion") for the parent ns/name: the parent is queued unless
 * obj at its resourceVersion echoes a write the parent's job reported, or
 * the parent's job is in flight: then echo holds the event until the
 * job's RESULT says (controller_job_finished). */
static void enqueue_unless_echo(struct controller *ctl, const char *ns, const char *name, const char *kindkey,
				struct json_object *obj)
{
	char ns_name[KEY_MAX];
	if (name && *kindkey) {
		snprintf(ns_name, sizeof(ns_name), "%s%s%s", ns && *ns ? ns : "", ns && *ns ? "/" : "", name);
		const char *rv = kobj_resource_version(obj);
		enum echo_verdict v = echo_event(ctl->echo, ns_name, kindkey, kobj_namespace(obj), kobj_name(obj), rv);
		if (v == ECHO_DROP)
			log_kv(LOG_LEVEL_INFO, 4, "dropped the echo of a write", "controller", ctl->cc->name, "parent",
			       ns_name, "kind", kindkey, "name", kobj_name(obj), "resourceVersion", rv, NULL);
		if (v == ECHO_DROP || v == ECHO_HELD)
			return;
	}
	enqueue(ctl, ns, name);
}

bool controller_selects(const struct config_controller *cc, struct json_object *obj)
{
	if (!cc->annotation_selector || selector_matches_annotations(cc->annotation_selector, obj))
		return true;
	struct json_object *fins = jsonget(kobj_meta(obj), "finalizers");
	size_t n = cc->finalizer && fins && json_object_is_type(fins, json_type_array) ? json_object_array_length(fins)
										       : 0;
	for (size_t i = 0; i < n; i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(fins, i));
		if (f && !strcmp(f, cc->finalizer))
			return true;
	}
	return false;
}

static void enqueue_parent(struct controller *ctl, struct json_object *parent)
{
	const char *name = kobj_name(parent);
	if (name && controller_selects(ctl->cc, parent))
		enqueue(ctl, kobj_namespace(parent), name);
}

/* enqueue_parent for a cached parent, parsing it only when the annotation
 * selector has to look at it. */
static void enqueue_cached(struct controller *ctl, const struct objstore *parents, const struct objstore_entry *e)
{
	if (!ctl->cc->annotation_selector) {
		enqueue(ctl, e->namespace, e->name);
		return;
	}
	struct json_object *parent = objstore_entry_parse_new(parents, e);
	if (parent)
		enqueue_parent(ctl, parent);
	json_object_put(parent);
}

/* Keeps ctl->selectors in step with one parent event (only a metacontroller
 * composite without generateSelector needs them: see parent_would_adopt). */
static void remember_selector(struct controller *ctl, struct json_object *parent, bool gone)
{
	char key[KEY_MAX];
	if (!mc_adopts(ctl->cc) || ctl->cc->generate_selector || !kobj_key(parent, key, sizeof(key)))
		return;
	struct json_object *sel = gone ? NULL : jsonget(jsonget(parent, "spec"), "selector");
	if (!sel)
		strmap_del(ctl->selectors, key);
	else if (strmap_put(ctl->selectors, key, json_object_get(sel)))
		json_object_put(sel);
}

static void on_parent_change(void *ud, struct json_object *obj)
{
	remember_selector(ud, obj, false);
	enqueue_parent(ud, obj);
}

static void on_parent_delete(void *ud, struct json_object *obj)
{
	remember_selector(ud, obj, true);
}

/* Whether old and new differ in nothing but their status (and the
 * resourceVersion every write bumps). */
static bool only_status_changed(struct json_object *old_obj, struct json_object *new_obj)
{
	struct json_object *a = NULL, *b = NULL;
	if (json_object_deep_copy(old_obj, &a, NULL) || json_object_deep_copy(new_obj, &b, NULL)) {
		json_object_put(a);
		json_object_put(b);
		return false;
	}
	struct json_object *both[2] = { a, b };
	for (int i = 0; i < 2; i++) {
		json_object_object_del(both[i], "status");
		struct json_object *meta = kobj_meta(both[i]);
		if (meta) {
			json_object_object_del(meta, "resourceVersion");
			json_object_object_del(meta, "managedFields");
		}
	}
	bool same = json_object_equal(a, b);
	json_object_put(a);
	json_object_put(b);
	return same;
}

static void on_parent_update(void *ud, struct json_object *old_obj, struct json_object *new_obj)
{
	struct controller *ctl = ud;
	/* metacontroller's ignoreStatusChanges: a status write alone (the
	 * controller's own, or anyone's) does not sync the parent again. */
	remember_selector(ctl, new_obj, false);
	if (ctl->cc->ignore_status_changes && old_obj && only_status_changed(old_obj, new_obj))
		return;
	/* Not our own writes (the status, a decorator's labels): their echoes
	 * are dropped (watcher/echo.h). */
	const char *name = kobj_name(new_obj);
	if (name && controller_selects(ctl->cc, new_obj))
		enqueue_unless_echo(ctl, kobj_namespace(new_obj), name, ctl->parent_kindkey, new_obj);
}

/* ---------------------------------------------------------------- children → parents */

/* The controller ownerReference of child when it points at a parent of this
 * controller's kind, else NULL. */
static struct json_object *owner_ref(const struct controller *ctl, struct json_object *child)
{
	struct json_object *ref = kobj_controller_ref(child);
	const char *kind = kobj_ref_kind(ref), *api_version = kobj_ref_api_version(ref);
	char group[256];
	if (!kind || !api_version)
		return NULL;
	group_of(api_version, group, sizeof(group));
	return !strcmp(kind, ctl->cc->parent_kind) && !strcmp(group, ctl->group) ? ref : NULL;
}

/* Out of memory is logged and leaves the child out of its parent's jobs
 * until its next event. */
static void index_set(struct child_kind *kid, const char *uid, const char *key, const char *name)
{
	struct strmap *names;
	char *copy = strdup(name);
	if (!copy || (!kid->index && !(kid->index = strmap_new(free_strmap))))
		goto oom;
	if (!(names = strmap_get(kid->index, uid))) {
		if (!(names = strmap_new(free)) || strmap_put(kid->index, uid, names)) {
			strmap_free(&names);
			goto oom;
		}
	}
	if (strmap_put(names, key, copy))
		goto oom;
	return;
oom:
	free(copy);
	log_kv(LOG_LEVEL_ERROR, 0, "out of memory: a child is left out of its parent's index", "controller",
	       kid->ctl->cc->name, "child", key, NULL);
}

static void index_unset(struct child_kind *kid, const char *uid, const char *key)
{
	struct strmap *names = kid->index ? strmap_get(kid->index, uid) : NULL;
	if (!names)
		return;
	strmap_del(names, key);
	if (strmap_count(names) == 0)
		strmap_del(kid->index, uid);
}

/* Whether obj has no controller ownerReference at all (to any kind) and is
 * not being deleted: an orphan a metacontroller parent may adopt. */
static bool is_orphan(struct json_object *obj)
{
	return obj && !kobj_deleting(obj) && !kobj_controller_ref(obj);
}

/* metacontroller's claim rule, on the watch side: whether parent (not being
 * deleted) would adopt the orphan child. Its selector is generateSelector's
 * controller-uid=<parent uid>, else its spec.selector, which must have
 * matchLabels or matchExpressions (the worker refuses an empty one: it
 * would select everything); a namespaced parent adopts only in its own
 * namespace. The worker checks all of it again before it adopts. */
static bool would_adopt(const struct controller *ctl, const char *uid, const char *pns, bool deleting,
			struct json_object *sel, struct json_object *child)
{
	if (!uid || deleting)
		return false;
	if (ctl->parent_namespaced) {
		const char *cns = kobj_namespace(child);
		if (!pns || !cns || strcmp(pns, cns))
			return false;
	}
	if (ctl->cc->generate_selector) {
		const char *have = kobj_label(child, "controller-uid");
		return have && !strcmp(have, uid);
	}
	struct json_object *ml = jsonget(sel, "matchLabels"), *exprs = jsonget(sel, "matchExpressions");
	if (!(json_object_is_type(ml, json_type_object) && json_object_object_length(ml)) &&
	    !(json_object_is_type(exprs, json_type_array) && json_object_array_length(exprs)))
		return false;
	struct cx_err err = { 0 };
	return selector_json_matches(sel, kobj_labels(child), &err) == 1;
}

static bool parent_would_adopt(const struct controller *ctl, struct json_object *parent, struct json_object *child)
{
	return would_adopt(ctl, kobj_uid(parent), kobj_namespace(parent), kobj_deleting(parent),
			   jsonget(jsonget(parent, "spec"), "selector"), child);
}

/* An orphan appeared, changed or went: enqueue every parent that would
 * adopt it (the sync adopts it, or, when it went, sees it gone). From the
 * cache's indexed fields and ctl->selectors: no parent is parsed. */
static void enqueue_adopters(struct controller *ctl, struct json_object *orphan)
{
	if (!ctl->parents)
		return;
	const struct objstore *parents = informer_objects(ctl->parents);
	size_t it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(parents, &it));) {
		struct json_object *sel = ctl->cc->generate_selector ? NULL : strmap_get(ctl->selectors, e->key);
		if (would_adopt(ctl, e->uid, e->namespace, e->deleting, sel, orphan))
			enqueue_cached(ctl, parents, e);
	}
}

/* Keeps ctl->orphans of kid's kind in step with one child event. */
static void orphan_moved(struct child_kind *kid, const char *key, struct json_object *old_obj,
			 struct json_object *new_obj)
{
	struct controller *ctl = kid->ctl;
	bool was = old_obj && is_orphan(old_obj), is = new_obj && is_orphan(new_obj);
	const char *ns = kobj_namespace(new_obj ? new_obj : old_obj) ?: "";
	struct strmap *of_kind = strmap_get(ctl->orphans, kid->kindkey);
	struct strmap *in_ns = of_kind ? strmap_get(of_kind, ns) : NULL;
	if (is && !of_kind && (of_kind = strmap_new(free_strmap)) && strmap_put(ctl->orphans, kid->kindkey, of_kind))
		strmap_free(&of_kind);
	if (is && of_kind && !in_ns && (in_ns = strmap_new(NULL)) && strmap_put(of_kind, ns, in_ns))
		strmap_free(&in_ns);
	if (is && in_ns) {
		strmap_put(in_ns, key, NULL);
	} else if (was && in_ns) {
		strmap_del(in_ns, key);
		if (!strmap_count(in_ns))
			strmap_del(of_kind, ns);
	}
	if (was)
		enqueue_adopters(ctl, old_obj);
	if (is)
		enqueue_adopters(ctl, new_obj);
}

/* A child appeared, changed or went: fix the index and enqueue the parents
 * it belonged to and belongs to now. A namespaced parent lives in its
 * children's namespace; a cluster-scoped one has none, whatever namespace
 * the child is in (its key has no namespace). The index keeps the child's
 * relative name (childkey), which the job's children map is keyed by. */
static void child_moved(struct child_kind *kid, struct json_object *old_obj, struct json_object *new_obj)
{
	struct controller *ctl = kid->ctl;
	struct json_object *any = new_obj ? new_obj : old_obj;
	char key[KEY_MAX];
	if (!kobj_key(any, key, sizeof(key)))
		return;
	const char *child_ns = kobj_namespace(any);
	const char *parent_ns = ctl->parent_namespaced ? child_ns : NULL;
	char relname[CHILDKEY_MAX];
	if (!childkey_name(parent_ns, child_ns, kobj_name(any), relname, sizeof(relname)))
		return;
	struct json_object *old_ref = old_obj ? owner_ref(ctl, old_obj) : NULL;
	struct json_object *new_ref = new_obj ? owner_ref(ctl, new_obj) : NULL;
	const char *old_uid = kobj_ref_uid(old_ref), *new_uid = kobj_ref_uid(new_ref);
	if (old_uid && (!new_uid || strcmp(old_uid, new_uid))) {
		index_unset(kid, old_uid, key);
		enqueue(ctl, parent_ns, kobj_ref_name(old_ref));
	}
	if (new_uid) {
		/* A deletion is never an echo: new_obj is not NULL here. */
		index_set(kid, new_uid, key, relname);
		enqueue_unless_echo(ctl, parent_ns, kobj_ref_name(new_ref), kid->kindkey, new_obj);
	}
	if (mc_adopts(ctl->cc))
		orphan_moved(kid, key, old_obj, new_obj);
}

static void on_child_add(void *ud, struct json_object *obj)
{
	child_moved(ud, NULL, obj);
}

static void on_child_update(void *ud, struct json_object *old_obj, struct json_object *new_obj)
{
	child_moved(ud, old_obj, new_obj);
}

static void on_child_delete(void *ud, struct json_object *obj)
{
	child_moved(ud, obj, NULL);
}

/* ---------------------------------------------------------------- the CRD gate */

/* Whether crd_name may be a CRD of group: the API server makes every CRD's
 * name "<plural>.<group>", so only those need parsing. */
static bool named_in_group(const char *crd_name, const char *group)
{
	size_t n = strlen(crd_name), g = strlen(group);
	return n > g + 1 && crd_name[n - g - 1] == '.' && !strcmp(crd_name + n - g, group);
}

/* The next CRD of ctl's group in crds from *it on, parsed (owned), or NULL
 * at the end. Its key into *name (borrowed from the cache). */
static struct json_object *next_crd_of_group(const struct controller *ctl, const struct objstore *crds, size_t *it,
					     const char **name)
{
	for (const struct objstore_entry *e; (e = objstore_next(crds, it));) {
		struct json_object *crd = named_in_group(e->key, ctl->group) ? objstore_entry_parse_new(crds, e) : NULL;
		if (crd) {
			*name = e->key;
			return crd;
		}
	}
	return NULL;
}

/* The CRD naming the parent kind (borrowed: ctl keeps it), or NULL. The
 * controller ticks on every turn of the watcher's loop, so the CRDs are
 * looked through again only when the CRD cache changed. */
static struct json_object *find_crd(struct controller *ctl, const struct informer *crds)
{
	const struct objstore *store = informer_objects(crds);
	if (ctl->crd_rev == objstore_revision(store))
		return ctl->crd;
	json_object_put(ctl->crd);
	ctl->crd = NULL;
	size_t it = 0;
	const char *name = NULL;
	for (struct json_object *crd; !ctl->crd && (crd = next_crd_of_group(ctl, store, &it, &name));) {
		struct json_object *spec = jsonget(crd, "spec");
		const char *group = jsonget_string(spec, "group"),
			   *kind = jsonget_string(jsonget(spec, "names"), "kind");
		if (group && kind && !strcmp(group, ctl->group) && !strcmp(kind, ctl->cc->parent_kind))
			ctl->crd = json_object_get(crd);
		json_object_put(crd);
	}
	ctl->crd_rev = objstore_revision(store);
	return ctl->crd;
}

/* The waiting message when no CRD of the group names the parent kind. When
 * one names it in another case ("website" for Website: kinds are case-
 * sensitive), or by its plural or singular name, the message says which CRD
 * and kind were probably meant rather than only "not found". */
static void crd_not_found(const struct controller *ctl, const struct informer *crds, char *buf, size_t len)
{
	const char *want = ctl->cc->parent_kind, *crd_name = NULL;
	size_t it = 0;
	for (struct json_object *crd; (crd = next_crd_of_group(ctl, informer_objects(crds), &it, &crd_name));) {
		struct json_object *spec = jsonget(crd, "spec"), *names = jsonget(spec, "names");
		const char *group = jsonget_string(spec, "group"), *kind = jsonget_string(names, "kind");
		const char *plural = jsonget_string(names, "plural"), *singular = jsonget_string(names, "singular");
		bool near = group && kind && !strcmp(group, ctl->group) &&
			(!strcasecmp(kind, want) || (plural && !strcasecmp(plural, want)) ||
			 (singular && !strcasecmp(singular, want)));
		if (near)
			snprintf(buf, len,
				 "waiting for the CRD of %s.%s (not found; CRD %s has kind %s: did you mean "
				 "kind: %s? kinds are case-sensitive)",
				 want, ctl->group, crd_name, kind, kind);
		json_object_put(crd);
		if (near)
			return;
	}
	snprintf(buf, len, "waiting for the CRD of %s%s%s (not found)", want, *ctl->group ? "." : "", ctl->group);
}

/* Established and serving the configured version; else why not in why. */
static bool crd_usable(const struct controller *ctl, struct json_object *crd, char *why, size_t len)
{
	const char *version = strchr(ctl->cc->parent_api_version, '/') + 1;
	struct json_object *versions = jsonget(jsonget(crd, "spec"), "versions");
	bool served = false;
	for (size_t i = 0; versions && i < json_object_array_length(versions); i++) {
		struct json_object *v = json_object_array_get_idx(versions, i);
		const char *name = jsonget_string(v, "name");
		if (name && !strcmp(name, version) && jsonget(v, "served") &&
		    json_object_get_boolean(jsonget(v, "served")))
			served = true;
	}
	if (!served) {
		snprintf(why, len, "version %s is not served", version);
		return false;
	}
	struct json_object *conds = jsonget(jsonget(crd, "status"), "conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *type = jsonget_string(c, "type"), *status = jsonget_string(c, "status");
		if (type && status && !strcmp(type, "Established") && !strcmp(status, "True"))
			return true;
	}
	snprintf(why, len, "not Established");
	return false;
}

static int start_informer(struct controller *ctl, const struct kresource *res, const char *selector,
			  struct informer_handlers h, void *ud, const char *const *keep, struct informer **out,
			  struct cx_err *err)
{
	struct informer_options o = { .resource = res,
				      .namespace = ctl->cc->namespace,
				      .label_selector = selector,
				      .handlers = h,
				      .ud = ud,
				      .keep_managers = keep };
	return informer_new(ctl->env.client, ctl->env.mux, &o, out, err);
}

/* Resolves the parent and child kinds and starts the informers. */
static int pass_gate(struct controller *ctl, int64_t now_ms)
{
	struct cx_err err = { 0 };
	const struct kresource *parent = NULL;
	const struct kresource *kids[64] = { 0 };
	if (ctl->cc->n_children > 64)
		return -E2BIG;
	/* A metacontroller definition names resources (common/mcbridge.h). */
	int rc = ctl->cc->parent_resource ? discovery_resolve_resource(ctl->env.discovery, ctl->cc->parent_api_version,
								       ctl->cc->parent_resource, &parent, &err)
					  : discovery_resolve(ctl->env.discovery, ctl->cc->parent_api_version,
							      ctl->cc->parent_kind, &parent, &err);
	if (rc) {
		snprintf(ctl->waiting, sizeof(ctl->waiting), "waiting for %s", err.msg);
		return err.code;
	}
	for (size_t i = 0; i < ctl->cc->n_children; i++)
		if (ctl->cc->children[i].resource
			    ? discovery_resolve_resource(ctl->env.discovery, ctl->cc->children[i].api_version,
							 ctl->cc->children[i].resource, &kids[i], &err)
			    : discovery_resolve(ctl->env.discovery, ctl->cc->children[i].api_version,
						ctl->cc->children[i].kind, &kids[i], &err)) {
			snprintf(ctl->waiting, sizeof(ctl->waiting), "waiting for child kind %s", err.msg);
			return err.code;
		}
	char selector[300];
	snprintf(selector, sizeof(selector), "coxswain.io/controller=%s", ctl->cc->name);
	/* Deleted parents matter only to ctl->selectors (remember_selector). */
	bool keeps_selectors = mc_adopts(ctl->cc) && !ctl->cc->generate_selector;
	struct informer_handlers ph = { on_parent_change, on_parent_update, keeps_selectors ? on_parent_delete : NULL };
	struct informer_handlers kh = { on_child_add, on_child_update, on_child_delete };
	/* metacontroller's parentResource.labelSelector: only the parents it
	 * selects are listed, watched and synced. */
	if ((rc = start_informer(ctl, parent, ctl->cc->label_selector, ph, ctl, NULL, &ctl->parents, &err)))
		goto fail;
	/* A metacontroller composite sees every object of its child kinds: its
	 * parents adopt the orphans their selectors match, and the children
	 * metacontroller itself made carry no coxswain label. */
	/* A child's entry of coxswain's own field manager tells the worker
	 * whether an apply would change anything (worker/childdiff.h). */
	ctl->keep_managers[0] = ctl->cc->field_manager;
	ctl->keep_managers[1] = NULL;
	for (size_t i = 0; i < ctl->cc->n_children; i++)
		if ((rc = start_informer(ctl, kids[i], mc_adopts(ctl->cc) ? NULL : selector, kh, &ctl->kids[i],
					 ctl->cc->field_manager ? ctl->keep_managers : NULL, &ctl->kids[i].inf, &err)))
			goto fail;
	ctl->parent_namespaced = parent->namespaced;
	ctl->running = true;
	ctl->next_resync_ms = now_ms + (int64_t)ctl->cc->resync_period_seconds * 1000;
	log_kv(LOG_LEVEL_INFO, 0, "starting informers", "controller", ctl->cc->name, "parent", parent->resource, NULL);
	return 0;
fail:
	stop_informers(ctl);
	snprintf(ctl->waiting, sizeof(ctl->waiting), "cannot start informers: %s", err.msg);
	return rc;
}

static void gate(struct controller *ctl, const struct informer *crds, int64_t now_ms)
{
	if (!crds)
		return; /* the CRD informer has not listed yet */
	struct json_object *crd = *ctl->group ? find_crd(ctl, crds) : NULL;
	char why[128];
	if (crd) {
		const char *name = kobj_name(crd);
		ctl->parent_is_crd = true;
		ctl->crd_seen = true;
		if (!crd_usable(ctl, crd, why, sizeof(why)))
			snprintf(ctl->waiting, sizeof(ctl->waiting), "waiting for CRD %s (%s)", name, why);
		else
			pass_gate(ctl, now_ms);
	} else {
		ctl->parent_is_crd = false;
		if (!ctl->crd_seen && now_ms >= ctl->next_discovery_ms) {
			/* A built-in or aggregated kind needs no CRD. */
			ctl->next_discovery_ms = now_ms + DISCOVERY_RETRY_MS;
			pass_gate(ctl, now_ms);
		}
		if (!ctl->running)
			crd_not_found(ctl, crds, ctl->waiting, sizeof(ctl->waiting));
	}
	if (!ctl->running && now_ms >= ctl->next_wait_log_ms) {
		log_kv(LOG_LEVEL_INFO, 0, ctl->waiting, "controller", ctl->cc->name, NULL);
		ctl->next_wait_log_ms = now_ms + WAIT_LOG_INTERVAL_MS;
	}
}

/* ---------------------------------------------------------------- running */

static void resync(struct controller *ctl)
{
	const struct objstore *parents = informer_objects(ctl->parents);
	size_t it = 0;
	for (const struct objstore_entry *e; (e = objstore_next(parents, &it));)
		enqueue_cached(ctl, parents, e);
}

/* Appends "; " (" " after a colon) and text to buf of cap bytes, truncating. */
static const char *len_sep(const char *buf)
{
	size_t len = strlen(buf);
	return !len ? "" : buf[len - 1] == ':' ? " " : "; ";
}

static void append(char *buf, size_t cap, const char *text)
{
	const char *sep = len_sep(buf);
	size_t len = strlen(buf);
	for (const char *p = sep; *p && len + 1 < cap; p++)
		buf[len++] = *p;
	for (const char *p = text; *p && len + 1 < cap; p++)
		buf[len++] = *p;
	buf[len] = '\0';
}

/* Names every informer not synced yet and its last API error (a 403 on a
 * child LIST must reach /readyz, not only the log). */
static void describe_unsynced(struct controller *ctl)
{
	char one[CX_ERR_MSG_MAX + 600];
	struct informer *all[65];
	size_t n = 0;
	snprintf(ctl->waiting, sizeof(ctl->waiting), "waiting for the caches to sync:");
	all[n++] = ctl->parents;
	for (size_t i = 0; i < ctl->cc->n_children && n < 65; i++)
		all[n++] = ctl->kids[i].inf;
	for (size_t i = 0; i < n; i++) {
		if (!all[i] || informer_synced(all[i]))
			continue;
		const char *e = informer_last_error(all[i]);
		snprintf(one, sizeof(one), "%s (%s)", informer_path(all[i]), *e ? e : "listing");
		append(ctl->waiting, sizeof(ctl->waiting), one);
	}
}

void controller_tick(struct controller *ctl, const struct informer *crds, int64_t now_ms)
{
	if (!ctl->running) {
		gate(ctl, crds, now_ms);
		if (!ctl->running)
			return;
	} else if (ctl->parent_is_crd && crds) {
		struct json_object *crd = find_crd(ctl, crds);
		char why[128] = "deleted";
		if (!crd || !crd_usable(ctl, crd, why, sizeof(why))) {
			log_kv(LOG_LEVEL_WARNING, 0, "the parent's CRD went away; waiting for it again", "controller",
			       ctl->cc->name, "why", why, NULL);
			stop_informers(ctl);
			ctl->next_wait_log_ms = 0;
			gate(ctl, crds, now_ms);
			return;
		}
	}
	struct cx_err err = { 0 };
	informer_tick(ctl->parents, now_ms, &err);
	for (size_t i = 0; i < ctl->cc->n_children; i++)
		informer_tick(ctl->kids[i].inf, now_ms, &err);
	if (ctl->cc->resync_period_seconds > 0 && now_ms >= ctl->next_resync_ms && controller_ready(ctl)) {
		resync(ctl);
		ctl->next_resync_ms = now_ms + (int64_t)ctl->cc->resync_period_seconds * 1000;
	}
	if (controller_ready(ctl))
		ctl->waiting[0] = '\0';
	else
		describe_unsynced(ctl);
}

static long min_ms(long a, long b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

long controller_next_ms(const struct controller *ctl, int64_t now_ms)
{
	if (!ctl->running) {
		long d = ctl->next_discovery_ms > now_ms ? (long)(ctl->next_discovery_ms - now_ms) : 0;
		return min_ms(d, ctl->next_wait_log_ms > now_ms ? (long)(ctl->next_wait_log_ms - now_ms) : 0);
	}
	long next = informer_next_ms(ctl->parents, now_ms);
	for (size_t i = 0; i < ctl->cc->n_children; i++)
		next = min_ms(next, informer_next_ms(ctl->kids[i].inf, now_ms));
	if (ctl->cc->resync_period_seconds > 0)
		next = min_ms(next, ctl->next_resync_ms > now_ms ? (long)(ctl->next_resync_ms - now_ms) : 0);
	return next;
}

bool controller_ready(const struct controller *ctl)
{
	if (!ctl->running || !informer_synced(ctl->parents))
		return false;
	for (size_t i = 0; i < ctl->cc->n_children; i++)
		if (!informer_synced(ctl->kids[i].inf))
			return false;
	return true;
}

const char *controller_waiting_for(const struct controller *ctl)
{
	return ctl->waiting;
}

size_t controller_parents(const struct controller *ctl)
{
	return ctl->parents ? objstore_count(informer_objects(ctl->parents)) : 0;
}

/* metacontroller's claim: the orphans of kid's kind that parent p would
 * adopt go into its children (of_kind), keyed by their relative name; the
 * worker adopts them before it runs the hook. */
static void add_orphans_in(const struct controller *ctl, const struct child_kind *kid, struct json_object *p,
			   const char *pns, const struct strmap *keys, struct json_object *of_kind)
{
	size_t it = 0;
	for (const char *key; (key = strmap_next(keys, &it, NULL));) {
		struct json_object *child = informer_get_new(kid->inf, key);
		char relname[CHILDKEY_MAX];
		if (child && parent_would_adopt(ctl, p, child) &&
		    childkey_name(pns, kobj_namespace(child), kobj_name(child), relname, sizeof(relname)))
			json_object_object_add(of_kind, relname, json_object_get(child));
		json_object_put(child);
	}
}

/* A namespaced parent looks only at its own namespace's orphans. */
static void add_orphans(const struct controller *ctl, const struct child_kind *kid, struct json_object *p,
			struct json_object *of_kind)
{
	const struct strmap *orphans = strmap_get(ctl->orphans, kid->kindkey);
	if (!orphans)
		return;
	if (ctl->parent_namespaced) {
		const char *pns = kobj_namespace(p);
		const struct strmap *keys = pns ? strmap_get(orphans, pns) : NULL;
		if (keys)
			add_orphans_in(ctl, kid, p, pns, keys, of_kind);
		return;
	}
	size_t it = 0;
	void *keys;
	while (strmap_next(orphans, &it, &keys))
		add_orphans_in(ctl, kid, p, NULL, keys, of_kind);
}

int controller_job_objects(const struct controller *ctl, const char *ns_name, struct json_object **parent,
			   struct json_object **children)
{
	*parent = *children = NULL;
	if (!ctl->parents || !objstore_find(informer_objects(ctl->parents), ns_name)) {
		echo_forget(ctl->echo, ns_name); /* gone: nothing of it to remember */
		return -ENOENT;
	}
	struct json_object *p = informer_get_new(ctl->parents, ns_name);
	if (!p)
		return -ENOMEM;
	const char *uid = kobj_uid(p);
	struct json_object *out = json_object_new_object();
	if (!out) {
		json_object_put(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < ctl->cc->n_children; i++) {
		const struct child_kind *kid = &ctl->kids[i];
		struct json_object *of_kind = json_object_new_object();
		struct strmap *names = uid && kid->index ? strmap_get(kid->index, uid) : NULL;
		if (!of_kind) {
			json_object_put(out);
			json_object_put(p);
			return -ENOMEM;
		}
		size_t it = 0;
		void *name;
		for (const char *key; names && (key = strmap_next(names, &it, &name));) {
			struct json_object *child = informer_get_new(kid->inf, key);
			if (child)
				json_object_object_add(of_kind, name, child);
		}
		if (mc_adopts(ctl->cc))
			add_orphans(ctl, kid, p, of_kind);
		json_object_object_add(out, kid->kindkey, of_kind);
	}
	*parent = p;
	*children = out;
	return 0;
}

bool controller_failing(const struct controller *ctl, int64_t now_ms, int64_t for_ms, char *why, size_t cap)
{
	if (!ctl->running)
		return false;
	for (size_t i = 0; i <= ctl->cc->n_children; i++) {
		const struct informer *inf = i == 0 ? ctl->parents : ctl->kids[i - 1].inf;
		int64_t since = inf ? informer_failing_since(inf) : -1;
		if (since >= 0 && now_ms - since >= for_ms) {
			snprintf(why, cap, "every API call for %s failed for %lld s: %s", informer_path(inf),
				 (long long)((now_ms - since) / 1000), informer_last_error(inf));
			return true;
		}
	}
	return false;
}

/* ---------------------------------------------------------------- echoes */

void controller_job_started(struct controller *ctl, const char *ns_name)
{
	echo_job_started(ctl->echo, ns_name);
}

void controller_job_finished(struct controller *ctl, const char *ns_name, struct json_object *writes)
{
	struct echo_settled s;
	echo_job_finished(ctl->echo, ns_name, writes, &s);
	if (!s.sync)
		return;
	/* As an event in flight always did: the key is dirty, queued again
	 * when the job is done. */
	char key[QUEUEKEY_MAX];
	if (queuekey_join(ctl->cc->name, ns_name, key, sizeof(key)))
		workqueue_add(ctl->env.queue, key, clock_monotonic_ms());
}

uint64_t controller_echo_dropped(const struct controller *ctl)
{
	return echo_dropped(ctl->echo);
}

size_t controller_echo_pending(const struct controller *ctl)
{
	return echo_keys(ctl->echo);
}

#include "config.h"

#include "finalizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "kclient.h"
#include "jsonget.h"
#include "kobj.h"
#include "log.h"

bool finalizer_has(struct json_object *parent, const char *name)
{
	struct json_object *list = jsonget(jsonget(parent, "metadata"), "finalizers");
	size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(list, i));
		if (f && !strcmp(f, name))
			return true;
	}
	return false;
}

/* {"metadata": {"finalizers": [cur's, with name added at the end or taken
 * out], "resourceVersion": rv}}, or NULL when out of memory. */
static struct json_object *finalizers_patch(struct json_object *cur, const char *name, bool add, const char *rv)
{
	struct json_object *patch = json_object_new_object(), *meta = json_object_new_object(),
			   *list = json_object_new_array();
	if (!patch || !meta || !list) {
		json_object_put(patch);
		json_object_put(meta);
		json_object_put(list);
		return NULL;
	}
	json_object_object_add(patch, "metadata", meta);
	json_object_object_add(meta, "finalizers", list);
	json_object_object_add(meta, "resourceVersion", json_object_new_string(rv));
	struct json_object *old = jsonget(jsonget(cur, "metadata"), "finalizers");
	size_t n = json_object_is_type(old, json_type_array) ? json_object_array_length(old) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *f = json_object_array_get_idx(old, i);
		const char *s = json_object_get_string(f);
		if (s && !strcmp(s, name))
			continue;
		json_object_array_add(list, json_object_get(f));
	}
	if (add)
		json_object_array_add(list, json_object_new_string(name));
	return patch;
}

/* Whether cc wants its finalizer on cur: a finalize hook, and not being
 * deleted when it is not there yet (the API refuses a new finalizer then). */
static bool wanted(const struct config_controller *cc, struct json_object *cur, bool has)
{
	if (!cc->finalize.set)
		return false;
	return has || !kobj_deleting(cur);
}

/* Moves parent towards want(cc, parent) (ensure) or absence (remove), with
 * resourceVersion as the precondition, re-reading on conflicts. */
static int change(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		  struct json_object *parent, bool ensure, bool *changed_out, struct json_object **out,
		  struct cx_err *err)
{
	bool ignored, *changed = changed_out ? changed_out : &ignored;
	*changed = false;
	if (out)
		*out = NULL;
	const char *name = cc->finalizer;
	if (!name || !*name)
		return cx_err_set(err, -EINVAL, "finalizer: controller %s has no finalizer name", cc->name);
	const char *api_version = jsonget_nonempty(parent, "apiVersion"), *kind = jsonget_nonempty(parent, "kind");
	const char *pname = kobj_name(parent), *ns = kobj_namespace(parent);
	if (!api_version || !kind || !pname)
		return cx_err_set(err, -EINVAL, "finalizer: the parent has no %s",
				  !api_version    ? "apiVersion"
					  : !kind ? "kind"
						  : "metadata.name");

	struct json_object *cur = json_object_get(parent);
	char *path = NULL;
	int r = 0;
	for (int attempt = 0;; attempt++) {
		bool has = finalizer_has(cur, name);
		bool want = ensure && wanted(cc, cur, has);
		if (has == want)
			break;
		if (attempt == FINALIZER_ATTEMPTS) {
			r = cx_err_set(err, -EAGAIN, "finalizer %s on %s/%s: still conflicting after %d attempts", name,
				       kind, pname, FINALIZER_ATTEMPTS);
			break;
		}
		if (!path) {
			const struct kresource *res = NULL;
			if ((r = discovery_resolve(d, api_version, kind, &res, err)))
				break;
			if (!(path = kresource_path(res, res->namespaced ? ns : NULL, pname, NULL))) {
				r = cx_err_set(err, -ENOMEM, "out of memory");
				break;
			}
		}
		const char *rv = kobj_resource_version(cur);
		struct json_object *patch = rv ? finalizers_patch(cur, name, want, rv) : NULL, *next = NULL;
		if (rv && !patch) {
			r = cx_err_set(err, -ENOMEM, "out of memory");
			break;
		}
		/* Without a resourceVersion to go by, read one first. */
		r = patch ? kclient_patch(c, path, KCLIENT_PATCH_MERGE, patch, &next, err) : -EAGAIN;
		json_object_put(patch);
		if (r == 0) {
			*changed = true;
			json_object_put(cur);
			cur = next;
			log_kv(LOG_LEVEL_INFO, 2, want ? "finalizer added" : "finalizer removed", "finalizer", name,
			       "path", path, NULL);
			break;
		}
		if (r != -EAGAIN)
			break;
		/* Someone wrote the object since we read it: read it again. */
		json_object_put(cur);
		cur = NULL;
		if ((r = kclient_get(c, path, &cur, err)))
			break;
	}
	if (r == -ENOENT && !ensure) {
		/* Gone already: nothing of ours is left on it. */
		cx_err_clear(err);
		r = 0;
		json_object_put(cur);
		cur = NULL;
	}
	if (r == 0 && out)
		*out = cur;
	else
		json_object_put(cur);
	free(path);
	return r;
}

int finalizer_ensure(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		     struct json_object *parent, bool *changed, struct json_object **out, struct cx_err *err)
{
	return change(c, d, cc, parent, true, changed, out, err);
}

int finalizer_remove(struct kclient *c, struct discovery *d, const struct config_controller *cc,
		     struct json_object *parent, bool *changed, struct json_object **out, struct cx_err *err)
{
	return change(c, d, cc, parent, false, changed, out, err);
}

#include "config.h"

#include "discovery.h"
#include "clock.h"
#include "err.h"
#include "kclient.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A miss re-fetches the group/version, but not more often than this: a
 * caller polling for a CRD must not turn into a stream of discovery GETs. */
#define REFRESH_MIN_INTERVAL_S 1.0

struct group_version {
	char *api_version;
	bool served;            /* false when the last fetch answered 404 */
	double fetched_at;      /* CLOCK_MONOTONIC seconds */
	struct kresource **res; /* owned; entries are never freed before discovery_free */
	size_t n_res;
};

struct discovery {
	struct kclient *c; /* borrowed */
	struct group_version *gvs;
	size_t n_gvs;
};

struct discovery *discovery_new(struct kclient *c)
{
	struct discovery *d = calloc(1, sizeof(*d));
	if (d)
		d->c = c;
	return d;
}

static void kresource_free(struct kresource *r)
{
	free(r->group);
	free(r->version);
	free(r->api_version);
	free(r->kind);
	free(r->resource);
	free(r);
}

void discovery_free(struct discovery **dp)
{
	struct discovery *d = *dp;
	if (!d)
		return;
	for (size_t i = 0; i < d->n_gvs; i++) {
		for (size_t j = 0; j < d->gvs[i].n_res; j++)
			kresource_free(d->gvs[i].res[j]);
		free(d->gvs[i].res);
		free(d->gvs[i].api_version);
	}
	free(d->gvs);
	free(d);
	*dp = NULL;
}

static struct group_version *find_gv(struct discovery *d, const char *api_version)
{
	for (size_t i = 0; i < d->n_gvs; i++)
		if (!strcmp(d->gvs[i].api_version, api_version))
			return &d->gvs[i];
	return NULL;
}

static struct kresource *find_by(struct group_version *gv, const char *kind, const char *resource)
{
	for (size_t i = 0; i < gv->n_res; i++) {
		struct kresource *r = gv->res[i];
		if ((kind && !strcmp(r->kind, kind)) || (resource && !strcmp(r->resource, resource)))
			return r;
	}
	return NULL;
}

static const char *str_of(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: NULL;
}

static unsigned verbs_of(struct json_object *o)
{
	static const struct {
		const char *name;
		unsigned bit;
	} names[] = {
		{ "get", KVERB_GET },       { "list", KVERB_LIST },     { "watch", KVERB_WATCH },
		{ "create", KVERB_CREATE }, { "update", KVERB_UPDATE }, { "patch", KVERB_PATCH },
		{ "delete", KVERB_DELETE },
	};
	struct json_object *verbs = NULL;
	unsigned bits = 0;
	if (!json_object_object_get_ex(o, "verbs", &verbs) || !json_object_is_type(verbs, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(verbs); i++) {
		const char *v = json_object_get_string(json_object_array_get_idx(verbs, i));
		for (size_t k = 0; v && k < sizeof(names) / sizeof(names[0]); k++)
			if (!strcmp(v, names[k].name))
				bits |= names[k].bit;
	}
	return bits;
}

/* Adds or updates the entry for one top-level resource of gv, keeping an
 * existing entry's address so pointers handed out stay valid. */
static int upsert(struct group_version *gv, struct json_object *item, struct cx_err *err)
{
	const char *name = str_of(item, "name"), *kind = str_of(item, "kind");
	if (!name || !kind)
		return 0;
	struct json_object *ns = NULL;
	bool namespaced = json_object_object_get_ex(item, "namespaced", &ns) && json_object_get_boolean(ns);
	struct kresource *r = find_by(gv, NULL, name);
	if (!r) {
		struct kresource **grown = realloc(gv->res, (gv->n_res + 1) * sizeof(*grown));
		if (!grown || !(r = calloc(1, sizeof(*r))))
			goto oom;
		gv->res = grown;
		const char *slash = strchr(gv->api_version, '/');
		r->group = slash ? strndup(gv->api_version, (size_t)(slash - gv->api_version)) : strdup("");
		r->version = strdup(slash ? slash + 1 : gv->api_version);
		r->api_version = strdup(gv->api_version);
		r->resource = strdup(name);
		r->kind = strdup(kind);
		if (!r->group || !r->version || !r->api_version || !r->resource || !r->kind) {
			kresource_free(r);
			goto oom;
		}
		gv->res[gv->n_res++] = r;
	}
	r->namespaced = namespaced;
	r->verbs = verbs_of(item);
	return 0;
oom:
	return cx_err_set(err, -ENOMEM, "out of memory reading discovery for %s", gv->api_version);
}

static int fetch(struct discovery *d, struct group_version *gv, struct cx_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), strchr(gv->api_version, '/') ? "/apis/%s" : "/api/%s", gv->api_version);
	struct json_object *list = NULL;
	gv->fetched_at = clock_monotonic_s();
	int r = kclient_get(d->c, path, &list, err);
	if (r == -ENOENT) {
		gv->served = false;
		return 0;
	}
	if (r)
		return r;
	gv->served = true;
	struct json_object *resources = NULL;
	if (json_object_object_get_ex(list, "resources", &resources) &&
	    json_object_is_type(resources, json_type_array)) {
		size_t n = json_object_array_length(resources);
		/* Top-level resources first, then mark which have a status subresource. */
		for (size_t i = 0; i < n && !r; i++) {
			struct json_object *item = json_object_array_get_idx(resources, i);
			const char *name = str_of(item, "name");
			if (name && !strchr(name, '/'))
				r = upsert(gv, item, err);
		}
		for (size_t i = 0; i < n && !r; i++) {
			const char *name = str_of(json_object_array_get_idx(resources, i), "name");
			const char *slash = name ? strchr(name, '/') : NULL;
			if (!slash || strcmp(slash + 1, "status"))
				continue;
			char *parent = strndup(name, (size_t)(slash - name));
			struct kresource *pr = parent ? find_by(gv, NULL, parent) : NULL;
			if (pr)
				pr->has_status = true;
			free(parent);
		}
	}
	json_object_put(list);
	return r;
}

/* The kind gv serves that the user probably meant by kind, or NULL: one
 * that differs only in case ("website" for Website: kinds are case-
 * sensitive), or whose plural or singular resource name kind is in any case
 * ("websites"). For the not-found message only. */
static const char *kind_meant(const struct group_version *gv, const char *kind)
{
	for (size_t i = 0; i < gv->n_res; i++) {
		const struct kresource *r = gv->res[i];
		size_t plural_len = strlen(r->resource);
		bool singular = plural_len > 1 && strlen(kind) == plural_len - 1 &&
			r->resource[plural_len - 1] == 's' && !strncasecmp(r->resource, kind, plural_len - 1);
		if (!strcasecmp(r->kind, kind) || !strcasecmp(r->resource, kind) || singular)
			return r->kind;
	}
	return NULL;
}

static int resolve(struct discovery *d, const char *api_version, const char *kind, const char *resource,
		   const struct kresource **out, struct cx_err *err);

int discovery_resolve(struct discovery *d, const char *api_version, const char *kind, const struct kresource **out,
		      struct cx_err *err)
{
	return resolve(d, api_version, kind, NULL, out, err);
}

int discovery_resolve_resource(struct discovery *d, const char *api_version, const char *resource,
			       const struct kresource **out, struct cx_err *err)
{
	return resolve(d, api_version, NULL, resource, out, err);
}

/* The resource of kind, or named resource (exactly one of them non-NULL). */
static int resolve(struct discovery *d, const char *api_version, const char *kind, const char *resource,
		   const struct kresource **out, struct cx_err *err)
{
	*out = NULL;
	struct group_version *gv = find_gv(d, api_version);
	bool fresh = false;
	if (!gv) {
		struct group_version *grown = realloc(d->gvs, (d->n_gvs + 1) * sizeof(*grown));
		if (!grown)
			return cx_err_set(err, -ENOMEM, "out of memory");
		d->gvs = grown;
		gv = &d->gvs[d->n_gvs];
		memset(gv, 0, sizeof(*gv));
		if (!(gv->api_version = strdup(api_version)))
			return cx_err_set(err, -ENOMEM, "out of memory");
		d->n_gvs++;
		int r = fetch(d, gv, err);
		if (r) { /* not knowing is not "not served": forget it, ask again next time */
			free(gv->res);
			free(gv->api_version);
			d->n_gvs--;
			return r;
		}
		fresh = true;
	}
	struct kresource *res = gv->served ? find_by(gv, kind, resource) : NULL;
	if (!res && !fresh && clock_monotonic_s() - gv->fetched_at >= REFRESH_MIN_INTERVAL_S) {
		int r = fetch(d, gv, err);
		if (r)
			return r;
		res = gv->served ? find_by(gv, kind, resource) : NULL;
	}
	if (!gv->served)
		return cx_err_set(err, -ENOENT,
				  "%s %s: the API server does not serve %s (is its CRD installed and "
				  "established?)",
				  kind ? kind : resource, api_version, api_version);
	if (resource) {
		if (!res)
			return cx_err_set(err, -ENOENT,
					  "%s %s: the API server serves %s but no resource %s "
					  "in it (a lowercase plural such as \"configmaps\"; is its CRD installed and "
					  "established?)",
					  resource, api_version, api_version, resource);
		*out = res;
		return 0;
	}
	const char *meant = res ? NULL : kind_meant(gv, kind);
	if (meant)
		return cx_err_set(err, -ENOENT,
				  "%s %s: the API server serves %s but no kind %s in it; did you mean "
				  "kind %s? (kinds are case-sensitive)",
				  kind, api_version, api_version, kind, meant);
	if (!res)
		return cx_err_set(err, -ENOENT,
				  "%s %s: the API server serves %s but no kind %s in it (is its CRD "
				  "installed and established?)",
				  kind, api_version, api_version, kind);
	*out = res;
	return 0;
}

char *kresource_path(const struct kresource *r, const char *ns, const char *name, const char *subresource)
{
	char *path = NULL;
	const char *root = *r->group ? "/apis/" : "/api/";
	bool in_ns = r->namespaced && ns && *ns;
	if (asprintf(&path, "%s%s%s%s/%s%s%s%s%s", root, r->api_version, in_ns ? "/namespaces/" : "", in_ns ? ns : "",
		     r->resource, name ? "/" : "", name ? name : "", name && subresource ? "/" : "",
		     name && subresource ? subresource : "") < 0)
		return NULL;
	return path;
}

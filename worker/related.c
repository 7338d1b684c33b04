#include "config.h"

#include "related.h"
#include "childkey.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "hook.h"
#include "jsonget.h"
#include "kobj.h"
#include "kclient.h"
#include "relrule.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct related {
	struct kclient *c;   /* borrowed */
	struct discovery *d; /* borrowed */
};

struct related *related_new(struct kclient *c, struct discovery *d)
{
	struct related *r = calloc(1, sizeof(*r));
	if (r) {
		r->c = c;
		r->d = d;
	}
	return r;
}

void related_free(struct related **rp)
{
	struct related *r = *rp;
	if (!r)
		return;
	free(r);
	*rp = NULL;
}

int related_customize(struct related *r, const struct config_controller *cc, struct json_object *controller,
		      struct json_object *parent, struct relrule_set *rules, struct cx_err *err)
{
	memset(rules, 0, sizeof(*rules));
	/* A metacontroller definition's webhook with its caBundle, auth, etag. */
	struct hook_def def = hook_def_from_config(r->c, cc, &cc->customize);
	struct json_object *req = json_object_new_object(), *answer = NULL;
	if (!req ||
	    json_object_object_add(req, "controller",
				   controller ? json_object_get(controller) : json_object_new_object()) ||
	    json_object_object_add(req, "parent", json_object_get(parent))) {
		json_object_put(req);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	int rc = hook_call(&def, "customize", req, &answer, NULL, err);
	json_object_put(req);
	if (rc)
		return rc;
	char label[300];
	hook_describe(&def, "customize", label, sizeof(label));
	bool strict = def.unmarshal == HOOK_STRICT || def.version == HOOK_V2;
	rc = relrule_parse_answer(label, strict, answer, kobj_namespace(parent), rules, err);
	json_object_put(answer);
	return rc;
}

struct collect {
	const struct relrule *rule;
	const struct kresource *res;
	const char *parent_ns;
	struct json_object *into; /* relative name -> object */
};

/* One listed item: selected (names, namespace) and keyed as a child is. */
static int collect_item(void *ud, struct json_object *item, struct cx_err *err)
{
	struct collect *c = ud;
	if (!relrule_match(c->rule, c->parent_ns, item))
		return 0;
	const char *name = kobj_name(item);
	char key[CHILDKEY_MAX];
	if (!name || !childkey_name(c->parent_ns, kobj_namespace(item), name, key, sizeof(key)))
		return 0;
	struct json_object *copy = NULL;
	if (json_object_deep_copy(item, &copy, NULL))
		return cx_err_set(err, -ENOMEM, "out of memory");
	/* List items carry no apiVersion and kind; hooks read them. */
	json_object_object_add(copy, "apiVersion", json_object_new_string(c->res->api_version));
	json_object_object_add(copy, "kind", json_object_new_string(c->res->kind));
	json_object_object_del(kobj_meta(copy), "managedFields");
	if (json_object_object_add(c->into, key, copy)) {
		json_object_put(copy);
		return cx_err_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int related_objects(struct related *r, const struct relrule_set *rules, struct json_object *parent,
		    struct json_object **map, struct cx_err *err)
{
	const char *parent_ns = kobj_namespace(parent);
	struct json_object *out = json_object_new_object();
	if (!out)
		return cx_err_set(err, -ENOMEM, "out of memory");
	*map = NULL;
	int rc = 0;
	for (size_t i = 0; !rc && i < rules->n; i++) {
		const struct relrule *rule = &rules->rules[i];
		const struct kresource *res = NULL;
		if ((rc = discovery_resolve_resource(r->d, rule->api_version, rule->resource, &res, err))) {
			cx_err_prefix(err, "relatedResources[%zu].resource: ", i);
			break;
		}
		char kind_key[CHILDKEY_MAX];
		childkey_kind(res->kind, rule->api_version, kind_key, sizeof(kind_key));
		struct json_object *by_name = jsonget(out, kind_key);
		if (!by_name) {
			if (!(by_name = json_object_new_object()) || json_object_object_add(out, kind_key, by_name)) {
				json_object_put(by_name);
				rc = cx_err_set(err, -ENOMEM, "out of memory");
				break;
			}
		}
		const char *ns = res->namespaced ? relrule_list_namespace(rule, parent_ns) : NULL;
		char *path = kresource_path(res, ns, NULL, NULL);
		char *selector = rule->by_labels ? relrule_selector_string(rule) : NULL;
		if (!path || (rule->by_labels && !selector)) {
			rc = cx_err_set(err, -ENOMEM, "out of memory");
		} else {
			struct kclient_list_opts lo = { .label_selector = selector && *selector ? selector : NULL };
			struct collect c = { rule, res, parent_ns, by_name };
			if ((rc = kclient_list(r->c, path, &lo, collect_item, &c, NULL, err)))
				cx_err_prefix(err, "relatedResources[%zu]: ", i);
		}
		free(path);
		free(selector);
	}
	if (rc) {
		json_object_put(out);
		return rc;
	}
	*map = out;
	return 0;
}

int related_get(struct related *r, const struct config_controller *cc, struct json_object *controller,
		struct json_object *parent, struct json_object **related, struct json_object **rules_json,
		struct cx_err *err)
{
	*related = *rules_json = NULL;
	if (!cc->customize.set)
		return 0;
	struct relrule_set rules = { 0 };
	int rc = related_customize(r, cc, controller, parent, &rules, err);
	if (!rc && (rc = related_objects(r, &rules, parent, related, err))) {
		char label[300];
		struct hook_def def = hook_def_from_config(r->c, cc, &cc->customize);
		hook_describe(&def, "customize", label, sizeof(label));
		cx_err_prefix(err, "%s: ", label);
	}
	if (!rc && !(*rules_json = relrule_set_json(&rules)))
		rc = cx_err_set(err, -ENOMEM, "out of memory");
	if (rc) {
		json_object_put(*related);
		*related = NULL;
		cx_err_prefix(err, "controller %s: ", cc->name);
	}
	relrule_set_clear(&rules);
	return rc;
}

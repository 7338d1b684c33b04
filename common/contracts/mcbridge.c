#include "config.h"

#include "mcbridge.h"
#include "cxconfig.h"
#include "discovery.h"
#include "err.h"
#include "mcdef.h"
#include "selector.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mcbridge_decorator_name(const char *name, size_t i, char *buf, size_t len)
{
	if (i == 0)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "%s.r%zu", name, i);
}

void mcbridge_free(struct config_controller **ccs, size_t n)
{
	if (!*ccs)
		return;
	for (size_t i = 0; i < n; i++)
		config_controller_clear(&(*ccs)[i]);
	free(*ccs);
	*ccs = NULL;
}

static const char *kind_word(const struct mcdef_controller *mc)
{
	return mc->kind == MCDEF_COMPOSITE ? "CompositeController" : "DecoratorController";
}

static int oom(struct cx_err *err)
{
	return cx_err_set(err, -ENOMEM, "out of memory");
}

/* One hook: a webhook, as config_hook wants it. */
static int bridge_hook(const struct mcdef_hook *h, struct config_hook *out, struct cx_err *err)
{
	if (!h->set)
		return 0;
	out->set = true;
	if (!(out->url = strdup(h->webhook.effective_url)))
		return oom(err);
	int64_t ms = (h->webhook.timeout_ns + 999999) / 1000000;
	int64_t s = (h->webhook.timeout_ns + 999999999LL) / 1000000000LL;
	out->timeout_ms = ms > 0 ? (long)ms : 1;
	out->timeout_seconds = s < 1                  ? 1
		: s > CONFIG_MAX_HOOK_TIMEOUT_SECONDS ? CONFIG_MAX_HOOK_TIMEOUT_SECONDS
						      : (int)s;
	out->mc = &h->webhook;
	out->version = h->version == 2 ? CONFIG_HOOK_V2 : CONFIG_HOOK_V1;
	out->unmarshal = h->webhook.strict ? CONFIG_UNMARSHAL_STRICT : CONFIG_UNMARSHAL_LOOSE;
	return 0;
}

static enum update_strategy strategy_of(enum mcdef_method m, bool decorator)
{
	switch (m) {
	case MCDEF_RECREATE:
		return UPDATE_RECREATE;
	case MCDEF_INPLACE:
		return UPDATE_INPLACE;
	case MCDEF_ROLLING_RECREATE:
		return decorator ? UPDATE_RECREATE : UPDATE_ROLLING_RECREATE;
	case MCDEF_ROLLING_INPLACE:
		return decorator ? UPDATE_INPLACE : UPDATE_ROLLING_INPLACE;
	case MCDEF_ONDELETE:
	default:
		return UPDATE_ONDELETE;
	}
}

/* Resolves api_version + resource; the error names the controller and field. */
static int resolve(const struct mcdef_controller *mc, struct discovery *d, const char *field, const char *api_version,
		   const char *resource, const struct kresource **res, struct cx_err *err)
{
	int r = discovery_resolve_resource(d, api_version, resource, res, err);
	if (r)
		cx_err_prefix(err, "%s \"%s\": %s: ", kind_word(mc), mc->name, field);
	return r;
}

/* The parts every controller of mc shares; the parent is filled by the
 * caller. */
static int bridge_one(const struct mcdef_controller *mc, struct discovery *d, const char *name,
		      const char *parent_field, const char *parent_api_version, const char *parent_resource,
		      const struct selector *labels, bool ignore_status, struct config_controller *cc,
		      struct cx_err *err)
{
	bool decorator = mc->kind == MCDEF_DECORATOR;
	const struct mcdef_child *kids = decorator ? mc->attachments : mc->children;
	size_t n_kids = decorator ? mc->n_attachments : mc->n_children;
	const struct kresource *pres = NULL;
	int r = resolve(mc, d, parent_field, parent_api_version, parent_resource, &pres, err);
	if (r)
		return r;
	cc->origin = CONFIG_ORIGIN_METACONTROLLER;
	cc->kind = decorator ? CONFIG_KIND_DECORATOR : CONFIG_KIND_COMPOSITE;
	cc->mc = mc;
	cc->object = json_object_get(mc->object);
	cc->ignore_status_changes = ignore_status;
	cc->generate_selector = !decorator && mc->generate_selector;
	cc->resync_period_seconds = mc->has_resync ? (mc->resync_period_seconds < 1 ? 1 : mc->resync_period_seconds)
						   : 0;
	/* NULL, not "": no labelSelector parameter for a selector of everything. */
	if (!(cc->label_selector = selector_string(labels)))
		return oom(err);
	if (!*cc->label_selector) {
		free(cc->label_selector);
		cc->label_selector = NULL;
	}
	if (!(cc->name = strdup(name)) || !(cc->parent_api_version = strdup(pres->api_version)) ||
	    !(cc->parent_kind = strdup(pres->kind)) || !(cc->parent_resource = strdup(pres->resource)) ||
	    !(cc->namespace = strdup("")) ||
	    asprintf(&cc->finalizer, "metacontroller.io/%s-%s",
		     decorator ? "decoratorcontroller" : "compositecontroller", mc->name) < 0 ||
	    asprintf(&cc->field_manager, "coxswain/%s", mc->name) < 0) {
		cc->finalizer = cc->field_manager = NULL;
		return oom(err);
	}
	if (n_kids && !(cc->children = calloc(n_kids, sizeof(*cc->children))))
		return oom(err);
	for (size_t i = 0; i < n_kids; i++) {
		char field[96];
		snprintf(field, sizeof(field), "spec.%s[%zu].resource", decorator ? "attachments" : "childResources",
			 i);
		const struct kresource *kres = NULL;
		if ((r = resolve(mc, d, field, kids[i].api_version, kids[i].resource, &kres, err)))
			return r;
		struct config_child *ch = &cc->children[cc->n_children++];
		ch->update_strategy = strategy_of(kids[i].method, decorator);
		ch->mc = &kids[i];
		if (!(ch->api_version = strdup(kres->api_version)) || !(ch->kind = strdup(kres->kind)) ||
		    !(ch->resource = strdup(kres->resource)))
			return oom(err);
	}
	if ((r = bridge_hook(&mc->hooks.sync, &cc->sync, err)) ||
	    (r = bridge_hook(&mc->hooks.finalize, &cc->finalize, err)) ||
	    (r = bridge_hook(&mc->hooks.customize, &cc->customize, err)))
		return r;
	return 0;
}

int mcbridge_check(const struct mcdef_controller *mc, struct cx_err *err)
{
	if (mc->kind == MCDEF_COMPOSITE && mc->has_field_paths &&
	    (mc->n_field_paths != 1 || strcmp(mc->field_paths[0], "spec")))
		return cx_err_set(err, -EINVAL,
				  "%s: CompositeController \"%s\": spec.parentResource.revisionHistory."
				  "fieldPaths: coxswain keeps no ControllerRevisions and rolls out every change of the "
				  "parent, so only [\"spec\"] (the default) is accepted; remove revisionHistory",
				  mc->source, mc->name);
	return 0;
}

int mcbridge_controllers(const struct mcdef_controller *mc, struct discovery *d, struct config_controller **out,
			 size_t *n_out, struct cx_err *err)
{
	*out = NULL;
	*n_out = 0;
	int rc = mcbridge_check(mc, err);
	if (rc)
		return rc;
	size_t n = mc->kind == MCDEF_COMPOSITE ? 1 : mc->n_resources;
	struct config_controller *ccs = calloc(n ? n : 1, sizeof(*ccs));
	if (!ccs)
		return oom(err);
	int r = 0;
	size_t done = 0;
	if (mc->kind == MCDEF_COMPOSITE) {
		r = bridge_one(mc, d, mc->name, "spec.parentResource.resource", mc->parent_api_version,
			       mc->parent_resource, &mc->parent_selector, mc->parent_ignore_status_changes, &ccs[0],
			       err);
		done = 1;
	} else {
		for (size_t i = 0; i < n && !r; i++, done++) {
			const struct mcdef_resource *res = &mc->resources[i];
			char name[300], field[64];
			mcbridge_decorator_name(mc->name, i, name, sizeof(name));
			snprintf(field, sizeof(field), "spec.resources[%zu].resource", i);
			r = bridge_one(mc, d, name, field, res->api_version, res->resource, &res->label_selector,
				       res->ignore_status_changes, &ccs[i], err);
			if (!r)
				ccs[i].annotation_selector = &res->annotation_selector;
		}
	}
	if (r) {
		mcbridge_free(&ccs, n);
		return r;
	}
	*out = ccs;
	*n_out = n;
	return 0;
}

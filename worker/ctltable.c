#include "config.h"

#include "ctltable.h"
#include "cxconfig.h"
#include "err.h"
#include "jsonget.h"
#include "kobj.h"
#include "mcbridge.h"
#include "mcdef.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *name;            /* the job's controller */
	char *version;         /* what identifies the definition's version */
	struct mcdef_set *set; /* owns the definition the controllers borrow */
	struct config_controller *ccs;
	size_t n_ccs;
	const struct config_controller *cc; /* the one named name, in ccs */
	uint64_t generation;
};

struct ctltable {
	struct discovery *d; /* borrowed */
	struct entry *entries;
	size_t n;
	uint64_t next_generation;
};

struct ctltable *ctltable_new(struct discovery *d)
{
	struct ctltable *t = calloc(1, sizeof(*t));
	if (t) {
		t->d = d;
		t->next_generation = 1;
	}
	return t;
}

static void entry_clear(struct entry *e)
{
	free(e->name);
	free(e->version);
	mcbridge_free(&e->ccs, e->n_ccs);
	mcdef_set_free(&e->set);
	memset(e, 0, sizeof(*e));
}

void ctltable_free(struct ctltable **tp)
{
	struct ctltable *t = *tp;
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		entry_clear(&t->entries[i]);
	free(t->entries);
	free(t);
	*tp = NULL;
}

/* "uid/resourceVersion" when the object has both, else its JSON text. */
static char *version_of(struct json_object *definition)
{
	const char *uid = kobj_uid(definition), *rv = kobj_resource_version(definition);
	char *v = NULL;
	if (uid && rv)
		return asprintf(&v, "%s/%s", uid, rv) < 0 ? NULL : v;
	return strdup(json_object_to_json_string_ext(definition, JSON_C_TO_STRING_PLAIN));
}

int ctltable_get(struct ctltable *t, const char *name, struct json_object *definition,
		 const struct config_controller **cc, uint64_t *generation, struct cx_err *err)
{
	*cc = NULL;
	*generation = 0;
	char *version = version_of(definition);
	if (!version)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct entry *e = NULL;
	for (size_t i = 0; i < t->n && !e; i++)
		if (!strcmp(t->entries[i].name, name))
			e = &t->entries[i];
	if (e && !strcmp(e->version, version)) {
		free(version);
		*cc = e->cc;
		*generation = e->generation;
		return 0;
	}
	/* Build the new one before dropping the old one. */
	struct entry fresh = { .version = version };
	const char *kind = jsonget_string(definition, "kind");
	char source[400];
	snprintf(source, sizeof(source), "%s \"%s\" (from the job)", kind ? kind : "definition", name);
	int rc = mcdef_parse_json(json_object_to_json_string_ext(definition, JSON_C_TO_STRING_PLAIN), source,
				  &fresh.set, err);
	if (!rc)
		rc = mcbridge_controllers(&fresh.set->items[0], t->d, &fresh.ccs, &fresh.n_ccs, err);
	for (size_t i = 0; !rc && i < fresh.n_ccs && !fresh.cc; i++)
		if (!strcmp(fresh.ccs[i].name, name))
			fresh.cc = &fresh.ccs[i];
	if (!rc && !fresh.cc)
		rc = cx_err_set(err, -ENOENT, "%s does not define a controller \"%s\"", source, name);
	if (!rc && !(fresh.name = strdup(name)))
		rc = cx_err_set(err, -ENOMEM, "out of memory");
	if (!rc && !e) {
		struct entry *grown = realloc(t->entries, (t->n + 1) * sizeof(*grown));
		if (!grown)
			rc = cx_err_set(err, -ENOMEM, "out of memory");
		else {
			t->entries = grown;
			e = &t->entries[t->n++];
			memset(e, 0, sizeof(*e));
		}
	}
	if (rc) {
		entry_clear(&fresh);
		return rc;
	}
	entry_clear(e);
	*e = fresh;
	e->generation = t->next_generation++;
	*cc = e->cc;
	*generation = e->generation;
	return 0;
}

#include "config.h"

#include "objstore.h"
#include "err.h"
#include "jsondoc.h"
#include "jsonget.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One object in one allocation: the entry, then its strings (key, the
 * indexed fields, the JSON text) one after the other, NUL-terminated. */
struct item {
	uint64_t hash;
	struct objstore_entry e;
	char data[];
};

/* The items are kept dense (items[0..n)), so that iteration is a walk of an
 * array and an entry costs one pointer there; the hash table maps a key to
 * its item's index (slot value index + 1, 0 = empty), with linear probing
 * and backward-shift deletion, so there are no tombstones to clean up. */
struct objstore {
	struct item **items;
	size_t n, cap;
	uint32_t *slots;
	size_t mask;                 /* slots has mask + 1 (a power of two) */
	uint64_t revision;
};

/* Revisions are drawn from one counter so that two stores (say, a store
 * freed and another allocated at the same address) never share one. */
static atomic_uint_fast64_t revisions = 1;

static uint64_t next_revision(void)
{
	return atomic_fetch_add(&revisions, 1);
}

/* FNV-1a, 64 bits. */
static uint64_t hash_key(const char *key)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

struct objstore *objstore_new(void)
{
	struct objstore *s = calloc(1, sizeof(*s));
	if (!s || !(s->slots = calloc(16, sizeof(*s->slots)))) {
		free(s);
		return NULL;
	}
	s->mask = 15;
	s->revision = next_revision();
	return s;
}

void objstore_free(struct objstore **sp)
{
	struct objstore *s = *sp;
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	free(s->slots);
	free(s);
	*sp = NULL;
}

bool objstore_key(struct json_object *obj, char *buf, size_t len)
{
	struct json_object *meta = jsonget(obj, "metadata");
	const char *name = jsonget_string(meta, "name"), *ns = jsonget_string(meta, "namespace");
	if (!name)
		return false;
	int n = ns && *ns ? snprintf(buf, len, "%s/%s", ns, name) : snprintf(buf, len, "%s", name);
	return n > 0 && (size_t)n < len;
}

/* The slot holding key (hash h), or the empty slot where it would go. */
static size_t probe(const struct objstore *s, const char *key, uint64_t h)
{
	size_t i = (size_t)h & s->mask;
	for (; s->slots[i]; i = (i + 1) & s->mask) {
		const struct item *it = s->items[s->slots[i] - 1];
		if (it->hash == h && !strcmp(it->e.key, key))
			break;
	}
	return i;
}

/* Doubles the table when it is 3/4 full (counting the entry to come). */
static int grow_slots(struct objstore *s)
{
	if ((s->n + 1) * 4 <= (s->mask + 1) * 3)
		return 0;
	size_t cap = (s->mask + 1) * 2;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots || cap > UINT32_MAX)
		return free(slots), -ENOMEM;
	free(s->slots);
	s->slots = slots;
	s->mask = cap - 1;
	for (size_t k = 0; k < s->n; k++) {
		size_t i = (size_t)s->items[k]->hash & s->mask;
		while (s->slots[i])
			i = (i + 1) & s->mask;
		s->slots[i] = (uint32_t)(k + 1);
	}
	return 0;
}

/* The fields an item is made of; the strings are copied. */
struct fields {
	const char *key, *name, *namespace, *uid, *resource_version;
	const char *owner_uid, *owner_kind, *owner_api_version, *owner_name;
	const char *json;
	size_t json_len;
	int64_t generation;
	bool deleting;
};

static size_t size_of(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* Copies src (may be NULL) to *at, advancing it; the copy, or NULL. */
static const char *lay(char **at, const char *src, size_t len)
{
	if (!src)
		return NULL;
	char *dst = *at;
	memcpy(dst, src, len);
	dst[len] = '\0';
	*at += len + 1;
	return dst;
}

static struct item *item_new(const struct fields *f)
{
	const char *const strs[] = {f->key, f->name, f->namespace, f->uid, f->resource_version, f->owner_uid,
				    f->owner_kind, f->owner_api_version, f->owner_name};
	size_t size = sizeof(struct item) + f->json_len + 1;
	for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++)
		size += size_of(strs[i]);
	struct item *it = malloc(size);
	if (!it)
		return NULL;
	char *at = it->data;
	it->hash = hash_key(f->key);
	it->e = (struct objstore_entry){
		.key = lay(&at, f->key, strlen(f->key)),
		.name = lay(&at, f->name, strlen(f->name)),
		.namespace = f->namespace ? lay(&at, f->namespace, strlen(f->namespace)) : NULL,
		.uid = f->uid ? lay(&at, f->uid, strlen(f->uid)) : NULL,
		.resource_version = f->resource_version ? lay(&at, f->resource_version, strlen(f->resource_version))
							: NULL,
		.generation = f->generation,
		.deleting = f->deleting,
		.owner_uid = f->owner_uid ? lay(&at, f->owner_uid, strlen(f->owner_uid)) : NULL,
		.owner_kind = f->owner_kind ? lay(&at, f->owner_kind, strlen(f->owner_kind)) : NULL,
		.owner_api_version = f->owner_api_version ? lay(&at, f->owner_api_version,
								strlen(f->owner_api_version)) : NULL,
		.owner_name = f->owner_name ? lay(&at, f->owner_name, strlen(f->owner_name)) : NULL,
		.json_len = f->json_len,
	};
	it->e.json = lay(&at, f->json, f->json_len);
	return it;
}

/* Puts it under its key, freeing what it replaces; takes it even on
 * failure (then frees it). */
static int insert(struct objstore *s, struct item *it)
{
	size_t i = probe(s, it->e.key, it->hash);
	if (s->slots[i]) {
		struct item **at = &s->items[s->slots[i] - 1];
		free(*at);
		*at = it;
		s->revision = next_revision();
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct item **items = realloc(s->items, cap * sizeof(*items));
		if (!items)
			return free(it), -ENOMEM;
		s->items = items;
		s->cap = cap;
	}
	if (grow_slots(s))
		return free(it), -ENOMEM;
	i = probe(s, it->e.key, it->hash); /* the table may have grown */
	s->items[s->n++] = it;
	s->slots[i] = (uint32_t)s->n;
	s->revision = next_revision();
	return 0;
}

/* The first ownerReference with controller: true into f. */
static void controller_ref(struct json_object *meta, struct fields *f)
{
	struct json_object *refs = jsonget(meta, "ownerReferences");
	size_t n = json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(refs, i), *c = jsonget(ref, "controller");
		if (!c || !json_object_get_boolean(c))
			continue;
		f->owner_uid = jsonget_string(ref, "uid");
		f->owner_kind = jsonget_string(ref, "kind");
		f->owner_api_version = jsonget_string(ref, "apiVersion");
		f->owner_name = jsonget_string(ref, "name");
		return;
	}
}

int objstore_put(struct objstore *s, struct json_object *obj, struct cx_err *err)
{
	struct json_object *meta = jsonget(obj, "metadata");
	struct fields f = {.name = jsonget_string(meta, "name"), .namespace = jsonget_string(meta, "namespace"),
			   .uid = jsonget_string(meta, "uid"),
			   .resource_version = jsonget_string(meta, "resourceVersion")};
	if (!f.name)
		return cx_err_set(err, -EINVAL, "object without metadata.name: not cached");
	if (f.namespace && !*f.namespace)
		f.namespace = NULL;
	struct json_object *gen = jsonget(meta, "generation");
	if (json_object_is_type(gen, json_type_int))
		f.generation = json_object_get_int64(gen);
	f.deleting = jsonget(meta, "deletionTimestamp") != NULL;
	controller_ref(meta, &f);
	char *key = NULL;
	if ((f.namespace ? asprintf(&key, "%s/%s", f.namespace, f.name) : asprintf(&key, "%s", f.name)) < 0)
		return cx_err_set(err, -ENOMEM, "out of memory");
	f.key = key;
	/* The text is kept in json-c's buffer of obj until obj is freed. */
	f.json = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						   &f.json_len);
	struct item *it = f.json ? item_new(&f) : NULL;
	free(key);
	if (!it || insert(s, it))
		return cx_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int objstore_put_entry(struct objstore *s, const struct objstore_entry *e)
{
	struct fields f = {.key = e->key, .name = e->name, .namespace = e->namespace, .uid = e->uid,
			   .resource_version = e->resource_version, .owner_uid = e->owner_uid,
			   .owner_kind = e->owner_kind, .owner_api_version = e->owner_api_version,
			   .owner_name = e->owner_name, .json = e->json, .json_len = e->json_len,
			   .generation = e->generation, .deleting = e->deleting};
	struct item *it = item_new(&f);
	return it ? insert(s, it) : -ENOMEM;
}

/* Empties slot i, moving later entries of its probe run back so that every
 * entry stays reachable from its home slot. */
static void clear_slot(struct objstore *s, size_t i)
{
	for (size_t j = (i + 1) & s->mask; s->slots[j]; j = (j + 1) & s->mask) {
		size_t home = (size_t)s->items[s->slots[j] - 1]->hash & s->mask;
		/* Movable when home is not in the cyclic range (i, j]. */
		bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (in_range)
			continue;
		s->slots[i] = s->slots[j];
		i = j;
	}
	s->slots[i] = 0;
}

int objstore_delete(struct objstore *s, const char *key)
{
	uint64_t h = hash_key(key);
	size_t i = probe(s, key, h);
	if (!s->slots[i])
		return -ENOENT;
	size_t k = s->slots[i] - 1;
	free(s->items[k]);
	clear_slot(s, i);
	/* The last item fills the hole in the dense array. */
	size_t last = --s->n;
	if (k != last) {
		struct item *moved = s->items[last];
		s->items[k] = moved;
		s->slots[probe(s, moved->e.key, moved->hash)] = (uint32_t)(k + 1);
	}
	s->revision = next_revision();
	return 0;
}

const struct objstore_entry *objstore_find(const struct objstore *s, const char *key)
{
	size_t i = probe(s, key, hash_key(key));
	return s->slots[i] ? &s->items[s->slots[i] - 1]->e : NULL;
}

/* Through jsondoc for its depth limit (CRDs with deep schemas nest far
 * past json-c's default of 32). The text is json-c's own output, so the
 * only failure is memory. */
struct json_object *objstore_entry_parse_new(const struct objstore_entry *e)
{
	struct json_object *obj = NULL;
	char why[128];
	return jsondoc_parse(e->json, e->json_len, NULL, &obj, why, sizeof(why)) ? NULL : obj;
}

struct json_object *objstore_get_new(const struct objstore *s, const char *key)
{
	const struct objstore_entry *e = objstore_find(s, key);
	return e ? objstore_entry_parse_new(e) : NULL;
}

size_t objstore_count(const struct objstore *s)
{
	return s->n;
}

const struct objstore_entry *objstore_next(const struct objstore *s, size_t *cursor)
{
	return *cursor < s->n ? &s->items[(*cursor)++]->e : NULL;
}

uint64_t objstore_revision(const struct objstore *s)
{
	return s->revision;
}

#include "config.h"

#include "objstore.h"
#include "err.h"
#include "jsondoc.h"
#include "kobj.h"
#include "strmap.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_trainFromBuffer_fastCover: exported, its parameters marked experimental */
#include <zdict.h>
#include <zstd.h>

/* One object: the entry and its own strings (key, uid, resourceVersion,
 * the owner's uid and name) one after the other, NUL-terminated, in one
 * allocation; the JSON text apart, so that learning a new dictionary
 * replaces only the texts and entries handed out stay where they are. The
 * name is the end of the key, and the strings that many objects share
 * (namespace, the owner's kind and apiVersion) are the store's, interned:
 * at 10,000 children of one kind in one namespace they would be some
 * 60 bytes an object. */
struct item {
	uint64_t hash;
	unsigned char *text; /* a zstd frame under the store's dictionary when packed, else the JSON */
	size_t text_len;
	bool packed;
	struct objstore_entry e;
	char data[];
};

/* Level 1: with a dictionary the ratio is nearly that of higher levels, and
 * its tables are small (a dictionary's compression tables are kept per
 * store). */
#define ZLEVEL      1
#define DICT_MAX    (8 * 1024)
#define SAMPLES_MAX 256
/* Bigger objects are not taken as samples (they would crowd out the rest). */
#define SAMPLE_LEN_MAX (64 * 1024)

/* The items are kept dense (items[0..n)), so that iteration is a walk of an
 * array and an entry costs one pointer there; the hash table maps a key to
 * its item's index (slot value index + 1, 0 = empty), with linear probing
 * and backward-shift deletion, so there are no tombstones to clean up. */
struct objstore {
	struct item **items;
	size_t n, cap;
	uint32_t *slots;
	size_t mask; /* slots has mask + 1 (a power of two) */
	uint64_t revision;
	/* Compression: all packed texts are under cdict/ddict (NULL: none
	 * learnt yet). Learnt at trained_n objects, when the texts took
	 * trained_permille of their plain size; puts_since counts the puts
	 * since it was learnt or tried. */
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	ZSTD_CDict *cdict;
	ZSTD_DDict *ddict;
	size_t raw_total, stored_total;
	size_t trained_n, trained_permille, puts_since;
	struct strmap *shared; /* interned string -> its struct shared */
};

/* An interned string and the number of entries that point to it. */
struct shared {
	size_t refs;
	char s[];
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

/* str as the store's interned copy (one more entry points to it), NULL
 * for NULL; *oom is set when it cannot be made. */
static const char *intern(struct objstore *s, const char *str, bool *oom)
{
	if (!str)
		return NULL;
	struct shared *sh = strmap_get(s->shared, str);
	if (!sh) {
		size_t len = strlen(str);
		if (!(sh = malloc(sizeof(*sh) + len + 1))) {
			*oom = true;
			return NULL;
		}
		sh->refs = 0;
		memcpy(sh->s, str, len + 1);
		if (strmap_put(s->shared, str, sh)) {
			free(sh);
			*oom = true;
			return NULL;
		}
	}
	sh->refs++;
	return sh->s;
}

/* An entry no longer points to str (an interned string, or NULL); the last
 * one lets it go, so that a namespace long deleted is not kept. */
static void release(struct objstore *s, const char *str)
{
	struct shared *sh = str ? strmap_get(s->shared, str) : NULL;
	if (sh && --sh->refs == 0)
		strmap_del(s->shared, str);
}

static void free_item(struct objstore *s, struct item *it)
{
	if (!it)
		return;
	release(s, it->e.namespace);
	release(s, it->e.owner_kind);
	release(s, it->e.owner_api_version);
	free(it->text);
	free(it);
}

struct objstore *objstore_new(void)
{
	struct objstore *s = calloc(1, sizeof(*s));
	if (!s || !(s->slots = calloc(16, sizeof(*s->slots))) || !(s->shared = strmap_new(free))) {
		if (s)
			free(s->slots);
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
		free_item(s, s->items[i]);
	free(s->items);
	free(s->slots);
	strmap_free(&s->shared);
	ZSTD_freeCCtx(s->cctx);
	ZSTD_freeDCtx(s->dctx);
	ZSTD_freeCDict(s->cdict);
	ZSTD_freeDDict(s->ddict);
	free(s);
	*sp = NULL;
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

/* text (len bytes) as the store keeps it, into a new allocation: packed
 * under its dictionary when it has one and that is smaller, else plain.
 * -ENOMEM. */
static int pack(struct objstore *s, const ZSTD_CDict *cdict, const char *text, size_t len, unsigned char **out,
		size_t *out_len, bool *packed)
{
	*packed = false;
	if (cdict) {
		size_t cap = ZSTD_compressBound(len);
		unsigned char *z = malloc(cap);
		if (!z)
			return -ENOMEM;
		size_t zlen = ZSTD_compress_usingCDict(s->cctx, z, cap, text, len, cdict);
		if (!ZSTD_isError(zlen) && zlen < len) {
			unsigned char *fit = realloc(z, zlen);
			*out = fit ? fit : z;
			*out_len = zlen;
			*packed = true;
			return 0;
		}
		free(z);
	}
	if (!(*out = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(*out, text, len);
	*out_len = len;
	return 0;
}

/* it's JSON text (it is s's, so packed under s's dictionary),
 * NUL-terminated, owned by the caller; NULL when out of memory (or, which
 * would be a bug, when a frame does not decode). */
static char *unpack(const struct objstore *s, const struct item *it)
{
	char *text = malloc(it->e.json_len + 1);
	if (!text)
		return NULL;
	if (!it->packed) {
		memcpy(text, it->text, it->e.json_len);
	} else if (ZSTD_decompress_usingDDict(s->dctx, text, it->e.json_len, it->text, it->text_len, s->ddict) !=
		   it->e.json_len) {
		free(text);
		return NULL;
	}
	text[it->e.json_len] = '\0';
	return text;
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

static struct item *item_new(struct objstore *s, const struct fields *f)
{
	/* The key ends with the name ("ns/name" or "name"): no copy of it. */
	size_t key_len = strlen(f->key), name_len = strlen(f->name);
	bool name_in_key = key_len >= name_len && !strcmp(f->key + key_len - name_len, f->name);
	const char *const strs[] = { f->key,       name_in_key ? NULL : f->name,
				     f->uid,       f->resource_version,
				     f->owner_uid, f->owner_name };
	size_t size = sizeof(struct item);
	for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++)
		size += size_of(strs[i]);
	struct item *it = malloc(size);
	if (!it || pack(s, s->cdict, f->json, f->json_len, &it->text, &it->text_len, &it->packed)) {
		free(it);
		return NULL;
	}
	char *at = it->data;
	it->hash = hash_key(f->key);
	const char *key = lay(&at, f->key, key_len);
	bool oom = false;
	it->e = (struct objstore_entry){
		.key = key,
		.name = name_in_key ? key + key_len - name_len : lay(&at, f->name, name_len),
		.namespace = intern(s, f->namespace, &oom),
		.uid = f->uid ? lay(&at, f->uid, strlen(f->uid)) : NULL,
		.resource_version = f->resource_version ? lay(&at, f->resource_version, strlen(f->resource_version))
							: NULL,
		.generation = f->generation,
		.deleting = f->deleting,
		.owner_uid = f->owner_uid ? lay(&at, f->owner_uid, strlen(f->owner_uid)) : NULL,
		.owner_kind = intern(s, f->owner_kind, &oom),
		.owner_api_version = intern(s, f->owner_api_version, &oom),
		.owner_name = f->owner_name ? lay(&at, f->owner_name, strlen(f->owner_name)) : NULL,
		.json_len = f->json_len,
	};
	if (oom) {
		free_item(s, it);
		return NULL;
	}
	return it;
}

static void account(struct objstore *s, const struct item *it, int sign)
{
	if (sign > 0) {
		s->raw_total += it->e.json_len;
		s->stored_total += it->text_len;
	} else {
		s->raw_total -= it->e.json_len;
		s->stored_total -= it->text_len;
	}
}

/* Learns a dictionary from up to SAMPLES_MAX of the store's objects and
 * packs every text under it. All or nothing: on any failure the store stays
 * as it was (under the old dictionary, or plain), and is tried again after
 * as many puts. */
static void train(struct objstore *s)
{
	s->puts_since = 0;
	size_t k = s->n < SAMPLES_MAX ? s->n : SAMPLES_MAX, total = 0, m = 0;
	size_t *sizes = calloc(k, sizeof(*sizes));
	char *samples = NULL, *dict = malloc(DICT_MAX);
	unsigned char **texts = calloc(s->n, sizeof(*texts));
	size_t *lens = calloc(s->n, sizeof(*lens));
	bool *packed = calloc(s->n, sizeof(*packed));
	ZSTD_CDict *cdict = NULL;
	ZSTD_DDict *ddict = NULL;
	if (!sizes || !dict || !texts || !lens || !packed || (!s->cctx && !(s->cctx = ZSTD_createCCtx())) ||
	    (!s->dctx && !(s->dctx = ZSTD_createDCtx())))
		goto out;
	for (size_t j = 0; j < k; j++) {
		const struct item *it = s->items[j * s->n / k];
		if (it->e.json_len > SAMPLE_LEN_MAX)
			continue;
		char *text = unpack(s, it), *grown = text ? realloc(samples, total + it->e.json_len) : NULL;
		if (!grown) {
			free(text);
			goto out;
		}
		samples = grown;
		memcpy(samples + total, text, it->e.json_len);
		free(text);
		total += it->e.json_len;
		sizes[m++] = it->e.json_len;
	}
	/* One pass with fixed parameters and a 2^14-entry table: the default
	 * trainer tries many and takes about 10 MiB while it does (at 10,000
	 * objects a store's whole cache is some 4 MiB), which malloc then
	 * keeps. */
	ZDICT_fastCover_params_t params = { .k = 200, .d = 8, .f = 14, .splitPoint = 1.0, .accel = 1 };
	size_t dsize = m ? ZDICT_trainFromBuffer_fastCover(dict, DICT_MAX, samples, sizes, (unsigned)m, params) : 0;
	if (!m || ZDICT_isError(dsize) || !(cdict = ZSTD_createCDict(dict, dsize, ZLEVEL)) ||
	    !(ddict = ZSTD_createDDict(dict, dsize)))
		goto out;
	size_t stored = 0;
	for (size_t i = 0; i < s->n; i++) {
		char *text = unpack(s, s->items[i]);
		int rc = text ? pack(s, cdict, text, s->items[i]->e.json_len, &texts[i], &lens[i], &packed[i])
			      : -ENOMEM;
		free(text);
		if (rc)
			goto out;
		stored += lens[i];
	}
	for (size_t i = 0; i < s->n; i++) {
		struct item *it = s->items[i];
		free(it->text);
		it->text = texts[i];
		it->text_len = lens[i];
		it->packed = packed[i];
		texts[i] = NULL;
	}
	ZSTD_freeCDict(s->cdict);
	ZSTD_freeDDict(s->ddict);
	s->cdict = cdict;
	s->ddict = ddict;
	cdict = NULL;
	ddict = NULL;
	s->stored_total = stored;
	s->trained_n = s->n;
	s->trained_permille = s->raw_total ? stored * 1000 / s->raw_total : 1000;
out:
	for (size_t i = 0; texts && i < s->n; i++)
		free(texts[i]);
	ZSTD_freeCDict(cdict);
	ZSTD_freeDDict(ddict);
	free(texts);
	free(lens);
	free(packed);
	free(samples);
	free(dict);
	free(sizes);
}

/* After a put: learns the first dictionary at OBJSTORE_TRAIN_AT objects,
 * and a new one once a quarter of the store has been put since, when the
 * store has grown fourfold or its texts pack half as well again as they
 * did (a new shape, such as a status). */
static void maybe_train(struct objstore *s)
{
	s->puts_since++;
	if (s->n < OBJSTORE_TRAIN_AT || s->puts_since < OBJSTORE_TRAIN_AT || s->puts_since * 4 < s->n)
		return;
	if (s->cdict && s->n < 4 * s->trained_n && s->stored_total * 1000 <= s->raw_total * s->trained_permille * 3 / 2)
		return;
	train(s);
}

/* Puts it under its key, freeing what it replaces; takes it even on
 * failure (then frees it). */
static int insert(struct objstore *s, struct item *it)
{
	size_t i = probe(s, it->e.key, it->hash);
	if (s->slots[i]) {
		struct item **at = &s->items[s->slots[i] - 1];
		account(s, *at, -1);
		free_item(s, *at);
		*at = it;
		account(s, it, 1);
		s->revision = next_revision();
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct item **items = realloc(s->items, cap * sizeof(*items));
		if (!items)
			return free_item(s, it), -ENOMEM;
		s->items = items;
		s->cap = cap;
	}
	if (grow_slots(s))
		return free_item(s, it), -ENOMEM;
	i = probe(s, it->e.key, it->hash); /* the table may have grown */
	s->items[s->n++] = it;
	s->slots[i] = (uint32_t)s->n;
	account(s, it, 1);
	s->revision = next_revision();
	return 0;
}

int objstore_put(struct objstore *s, struct json_object *obj, struct cx_err *err)
{
	struct json_object *ref = kobj_controller_ref(obj);
	struct fields f = { .name = kobj_name(obj),
			    .namespace = kobj_namespace(obj),
			    .uid = kobj_uid(obj),
			    .resource_version = kobj_resource_version(obj),
			    .generation = kobj_generation(obj),
			    .deleting = kobj_deleting(obj),
			    .owner_uid = kobj_ref_uid(ref),
			    .owner_kind = kobj_ref_kind(ref),
			    .owner_api_version = kobj_ref_api_version(ref),
			    .owner_name = kobj_ref_name(ref) };
	if (!f.name)
		return cx_err_set(err, -EINVAL, "object without metadata.name: not cached");
	char *key = NULL;
	if ((f.namespace ? asprintf(&key, "%s/%s", f.namespace, f.name) : asprintf(&key, "%s", f.name)) < 0)
		return cx_err_set(err, -ENOMEM, "out of memory");
	f.key = key;
	/* The text is kept in json-c's buffer of obj until obj is freed. */
	f.json = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
						   &f.json_len);
	struct item *it = f.json ? item_new(s, &f) : NULL;
	free(key);
	if (!it || insert(s, it))
		return cx_err_set(err, -ENOMEM, "out of memory");
	maybe_train(s);
	return 0;
}

/* The item an entry handed out belongs to. */
static const struct item *item_of(const struct objstore_entry *e)
{
	return (const struct item *)((const char *)e - offsetof(struct item, e));
}

int objstore_put_entry(struct objstore *s, const struct objstore *from, const struct objstore_entry *e)
{
	char *text = unpack(from, item_of(e));
	if (!text)
		return -ENOMEM;
	struct fields f = { .key = e->key,
			    .name = e->name,
			    .namespace = e->namespace,
			    .uid = e->uid,
			    .resource_version = e->resource_version,
			    .owner_uid = e->owner_uid,
			    .owner_kind = e->owner_kind,
			    .owner_api_version = e->owner_api_version,
			    .owner_name = e->owner_name,
			    .json = text,
			    .json_len = e->json_len,
			    .generation = e->generation,
			    .deleting = e->deleting };
	struct item *it = item_new(s, &f);
	free(text);
	int rc = it ? insert(s, it) : -ENOMEM;
	if (!rc)
		maybe_train(s);
	return rc;
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
	account(s, s->items[k], -1);
	free_item(s, s->items[k]);
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
struct json_object *objstore_entry_parse_new(const struct objstore *s, const struct objstore_entry *e)
{
	struct json_object *obj = NULL;
	char why[128];
	char *text = objstore_entry_json_new(s, e);
	if (!text || jsondoc_parse(text, e->json_len, NULL, &obj, why, sizeof(why)))
		obj = NULL;
	free(text);
	return obj;
}

char *objstore_entry_json_new(const struct objstore *s, const struct objstore_entry *e)
{
	return unpack(s, item_of(e));
}

struct json_object *objstore_get_new(const struct objstore *s, const char *key)
{
	const struct objstore_entry *e = objstore_find(s, key);
	return e ? objstore_entry_parse_new(s, e) : NULL;
}

size_t objstore_stored_bytes(const struct objstore *s)
{
	return s->stored_total;
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

/* objstore: the informer's cache kept compact. Each object is held as its
 * serialized JSON text beside its key and indexed fields, in a hash table
 * keyed "namespace/name" ("name" for cluster-scoped objects). A json-c tree
 * of a ~1 KiB object costs several times its text; a tree is built only when
 * a caller asks for one (objstore_get_new, objstore_entry_parse_new) and is
 * the caller's.
 *
 * The texts of a store with many objects are compressed (zstd) with a
 * dictionary learnt from the store's own objects: objects of one kind share
 * most of their text, so a ~900-byte ConfigMap keeps ~150 bytes. The
 * dictionary is learnt when the store first holds OBJSTORE_TRAIN_AT objects,
 * and again when the store has grown fourfold or its objects have changed
 * shape (parents gain a status after their first sync). A store below that
 * size keeps plain text.
 *
 * The indexed fields are those the watcher's scans need without parsing:
 * identity (name, namespace, uid, resourceVersion, generation), whether it
 * is being deleted, and its controller ownerReference. Labels are not kept:
 * selector matching happens in the watch handlers, which get parsed objects.
 *
 * What is stored is the tree as given: the caller decides what to leave out
 * (the informer drops metadata.managedFields before it stores).
 *
 * Single-threaded, as the watcher's loop. */
#ifndef COXSWAIN_OBJSTORE_H
#define COXSWAIN_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;
struct json_object;
struct objstore;

/* One stored object. Every pointer is borrowed from the store and valid
 * until the key is put again or deleted, or the store freed. A string field
 * is NULL when the object lacks it (or it is not a string). */
struct objstore_entry {
	const char *key;       /* "ns/name" or "name" */
	const char *name;      /* metadata.name (never NULL) */
	const char *namespace; /* metadata.namespace; NULL when none or "" */
	const char *uid;
	const char *resource_version;
	int64_t generation; /* metadata.generation; 0 when absent */
	bool deleting;      /* metadata.deletionTimestamp is set */
	/* The first ownerReference with controller: true, of any kind; all NULL
	 * when there is none. */
	const char *owner_uid, *owner_kind, *owner_api_version, *owner_name;
	size_t json_len; /* the length of the object's JSON text */
};

/* Objects a store holds before it compresses them. */
#define OBJSTORE_TRAIN_AT 256

struct objstore *objstore_new(void);

/* Frees every entry and the store, and NULLs *s. */
void objstore_free(struct objstore **s);

/* Stores obj (borrowed; serialized now, not kept) under its key, replacing
 * what was there. -EINVAL (err names the missing field) when obj has no
 * metadata.name; -ENOMEM. On failure the store is unchanged. */
int objstore_put(struct objstore *s, struct json_object *obj, struct cx_err *err);

/* Stores a copy of e, an entry of the store from (which may be s itself;
 * it is stored under e->key), without parsing its JSON. -ENOMEM leaves the
 * store unchanged. */
int objstore_put_entry(struct objstore *s, const struct objstore *from, const struct objstore_entry *e);

/* Removes key's entry: 0, or -ENOENT when there is none. */
int objstore_delete(struct objstore *s, const char *key);

/* key's entry (borrowed, see struct objstore_entry), or NULL. */
const struct objstore_entry *objstore_find(const struct objstore *s, const char *key);

/* key's object as a new tree the caller owns (json_object_put), or NULL
 * when key is not stored (or out of memory). */
struct json_object *objstore_get_new(const struct objstore *s, const char *key);

/* e (an entry of s) as a new tree the caller owns, or NULL when out of
 * memory. */
struct json_object *objstore_entry_parse_new(const struct objstore *s, const struct objstore_entry *e);

/* e's (an entry of s) JSON text, NUL-terminated, e->json_len bytes, owned
 * by the caller (free); NULL when out of memory. */
char *objstore_entry_json_new(const struct objstore *s, const struct objstore_entry *e);

/* Bytes the objects' texts take as stored (compressed or not), without the
 * dictionary: for the tests. */
size_t objstore_stored_bytes(const struct objstore *s);

size_t objstore_count(const struct objstore *s);

/* Iteration, in no particular order, over a store that does not change
 * meanwhile (no put or delete between the first and the last call):
 *
 *   size_t it = 0;
 *   for (const struct objstore_entry *e; (e = objstore_next(s, &it));) ...
 *
 * Returns NULL after the last entry. */
const struct objstore_entry *objstore_next(const struct objstore *s, size_t *cursor);

/* A number that changes whenever the store does (every put and delete), and
 * that no other store of the process has had: a caller that derived
 * something from the store may keep it while this stays the same. */
uint64_t objstore_revision(const struct objstore *s);

#endif

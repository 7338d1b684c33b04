/* strmap: a map from C strings to pointers, for the watcher's per-key
 * bookkeeping (one entry per parent or child, tens of thousands at once).
 * A json-c object used as a map costs about 700 bytes even when it holds a
 * single key (its hash table starts at 16 entries); an entry here costs its
 * slot (24 bytes) and a copy of its key, and an empty map holds no table.
 *
 * Keys are copied in. Values are the map's when it was made with a
 * free_value function (freed on replace, delete, clear and free), else
 * borrowed. A NULL value is allowed, so a map with NULL values is a set:
 * use strmap_has to test membership there.
 *
 * Not thread-safe; no put or delete while an iteration is in progress. */
#ifndef COXSWAIN_STRMAP_H
#define COXSWAIN_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

/* An empty map, or NULL when out of memory. free_value (may be NULL) is
 * called on every value the map lets go of. */
struct strmap *strmap_new(void (*free_value)(void *value));

/* Frees every entry and the map, and NULLs *m. NULL or *m NULL is fine. */
void strmap_free(struct strmap **m);

/* Maps key to value, replacing (and freeing) what key had. 0, or -ENOMEM,
 * in which case the map is unchanged and value is still the caller's. */
int strmap_put(struct strmap *m, const char *key, void *value);

/* key's value (borrowed), or NULL when key is absent (or its value is NULL). */
void *strmap_get(const struct strmap *m, const char *key);

bool strmap_has(const struct strmap *m, const char *key);

/* Removes key and frees its value: 0, or -ENOENT when key is absent. */
int strmap_del(struct strmap *m, const char *key);

/* Removes key and hands its value to the caller (not freed); NULL when key
 * is absent. */
void *strmap_take(struct strmap *m, const char *key);

/* Removes every entry (values freed); the map stays usable. */
void strmap_clear(struct strmap *m);

size_t strmap_count(const struct strmap *m);

/* Iteration in no particular order:
 *
 *   size_t it = 0; void *v;
 *   for (const char *k; (k = strmap_next(m, &it, &v));) ...
 *
 * Returns each key (borrowed) once, and its value through *value when value
 * is not NULL; NULL after the last. */
const char *strmap_next(const struct strmap *m, size_t *cursor, void **value);

/* Bytes the map has allocated for itself (struct, table and key copies;
 * not the values, not malloc's own overhead). */
size_t strmap_bytes(const struct strmap *m);

#endif

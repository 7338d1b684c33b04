/* Open addressing with linear probing and backward-shift deletion: no
 * tombstones, so a map that sees many puts and deletes (a work queue's keys
 * coming and going) never degrades and never needs a rebuild. The table
 * grows at 3/4 full and never shrinks while it holds entries; it is freed
 * when the last entry goes, since most of the watcher's maps are per-key
 * and empty most of the time. */
#include "config.h"

#include "strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	char *key; /* NULL: free */
	void *value;
	uint32_t hash;
};

struct strmap {
	struct slot *slots;
	size_t mask; /* slots has mask + 1 entries (a power of two), when slots is not NULL */
	size_t n;
	size_t key_bytes;
	void (*free_value)(void *value);
};

/* A first table of 2 slots holds one entry (the load stays under 3/4).
 * Most of the watcher's maps are per parent and hold one child, so at
 * 10,000 parents this is about 1 MiB less than 4 slots. */
#define MIN_SLOTS 2

/* FNV-1a: short keys, no adversary (keys come from the API server's own
 * names, which the server has already validated). */
static uint32_t hash_of(const char *key)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

struct strmap *strmap_new(void (*free_value)(void *value))
{
	struct strmap *m = calloc(1, sizeof(*m));
	if (m)
		m->free_value = free_value;
	return m;
}

static void release(struct strmap *m, struct slot *s)
{
	if (m->free_value && s->value)
		m->free_value(s->value);
	m->key_bytes -= strlen(s->key) + 1;
	free(s->key);
}

void strmap_clear(struct strmap *m)
{
	if (!m || !m->slots)
		return;
	for (size_t i = 0; i <= m->mask; i++)
		if (m->slots[i].key)
			release(m, &m->slots[i]);
	free(m->slots);
	m->slots = NULL;
	m->mask = 0;
	m->n = 0;
}

void strmap_free(struct strmap **mp)
{
	if (!mp || !*mp)
		return;
	strmap_clear(*mp);
	free(*mp);
	*mp = NULL;
}

/* key's slot, or NULL. */
static struct slot *find(const struct strmap *m, const char *key, uint32_t hash)
{
	if (!m->slots)
		return NULL;
	for (size_t i = hash & m->mask;; i = (i + 1) & m->mask) {
		struct slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->hash == hash && !strcmp(s->key, key))
			return s;
	}
}

/* Moves the entries into a table of want slots. */
static int resize(struct strmap *m, size_t want)
{
	struct slot *slots = calloc(want, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	size_t mask = want - 1;
	for (size_t i = 0; m->slots && i <= m->mask; i++) {
		struct slot *s = &m->slots[i];
		if (!s->key)
			continue;
		size_t j = s->hash & mask;
		while (slots[j].key)
			j = (j + 1) & mask;
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->mask = mask;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, void *value)
{
	uint32_t hash = hash_of(key);
	struct slot *s = find(m, key, hash);
	if (s) {
		if (m->free_value && s->value && s->value != value)
			m->free_value(s->value);
		s->value = value;
		return 0;
	}
	size_t cap = m->slots ? m->mask + 1 : 0;
	if ((m->n + 1) * 4 > cap * 3) {
		int rc = resize(m, cap ? cap * 2 : MIN_SLOTS);
		if (rc)
			return rc;
	}
	size_t len = strlen(key) + 1;
	char *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, key, len);
	size_t i = hash & m->mask;
	while (m->slots[i].key)
		i = (i + 1) & m->mask;
	m->slots[i] = (struct slot){ .key = copy, .value = value, .hash = hash };
	m->n++;
	m->key_bytes += len;
	return 0;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash_of(key));
	return s ? s->value : NULL;
}

bool strmap_has(const struct strmap *m, const char *key)
{
	return find(m, key, hash_of(key)) != NULL;
}

/* Empties slot s, then moves back each entry of the run after it that its
 * home slot no longer reaches past the hole (backward-shift deletion). */
static void vacate(struct strmap *m, struct slot *s)
{
	size_t hole = (size_t)(s - m->slots);
	m->slots[hole].key = NULL;
	for (size_t i = (hole + 1) & m->mask; m->slots[i].key; i = (i + 1) & m->mask) {
		size_t home = m->slots[i].hash & m->mask;
		/* distance from home to i, and from home to the hole, both
		 * walking forward around the table */
		if (((i - home) & m->mask) >= ((hole - home) & m->mask)) {
			m->slots[hole] = m->slots[i];
			m->slots[i].key = NULL;
			hole = i;
		}
	}
	if (--m->n == 0) {
		free(m->slots);
		m->slots = NULL;
		m->mask = 0;
	}
}

int strmap_del(struct strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash_of(key));
	if (!s)
		return -ENOENT;
	release(m, s);
	vacate(m, s);
	return 0;
}

void *strmap_take(struct strmap *m, const char *key)
{
	struct slot *s = find(m, key, hash_of(key));
	if (!s)
		return NULL;
	void *value = s->value;
	m->key_bytes -= strlen(s->key) + 1;
	free(s->key);
	vacate(m, s);
	return value;
}

size_t strmap_count(const struct strmap *m)
{
	return m->n;
}

const char *strmap_next(const struct strmap *m, size_t *cursor, void **value)
{
	for (; m->slots && *cursor <= m->mask; (*cursor)++) {
		const struct slot *s = &m->slots[*cursor];
		if (s->key) {
			(*cursor)++;
			if (value)
				*value = s->value;
			return s->key;
		}
	}
	return NULL;
}

size_t strmap_bytes(const struct strmap *m)
{
	return sizeof(*m) + (m->slots ? (m->mask + 1) * sizeof(struct slot) : 0) + m->key_bytes;
}

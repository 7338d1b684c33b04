#include "config.h"

#include "statusmemo.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonget.h"
#include "jsonhash.h"
#include "pathlist.h"

struct slot {
	char uid[64]; /* "" = empty; uids are 36 characters */
	char want[JSONHASH_MAX];
	char stored[JSONHASH_MAX];
};

struct statusmemo {
	struct slot *slots;
	size_t n;
};

struct statusmemo *statusmemo_new(size_t slots)
{
	struct statusmemo *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n = slots ? slots : STATUSMEMO_DEFAULT_SLOTS;
	if (!(m->slots = calloc(m->n, sizeof(*m->slots)))) {
		free(m);
		return NULL;
	}
	return m;
}

void statusmemo_free(struct statusmemo **m)
{
	if (!m || !*m)
		return;
	free((*m)->slots);
	free(*m);
	*m = NULL;
}

/* want's digest, without its conditions' lastTransitionTime: that is "now"
 * for a condition the parent does not show, so a condition the server
 * drops would look new on every sync. */
static int want_hash(struct json_object *want, char *buf, size_t len)
{
	struct json_object *conds = jsonget(want, "conditions"), *copy = NULL;
	if (!json_object_is_type(conds, json_type_array))
		return jsonhash(want, buf, len);
	if (json_object_deep_copy(want, &copy, NULL) || !copy)
		return -ENOMEM;
	conds = jsonget(copy, "conditions");
	for (size_t i = 0; i < json_object_array_length(conds); i++)
		json_object_object_del(json_object_array_get_idx(conds, i), "lastTransitionTime");
	int r = jsonhash(copy, buf, len);
	json_object_put(copy);
	return r;
}

static struct slot *slot_of(struct statusmemo *m, const char *uid)
{
	uint64_t h = 14695981039346656037ULL;
	for (const char *p = uid; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return &m->slots[h % m->n];
}

int statusmemo_put(struct statusmemo *m, const char *uid, struct json_object *want, struct json_object *stored)
{
	if (!uid || strlen(uid) >= sizeof(m->slots[0].uid))
		return 0; /* not a uid the API server makes: nothing to remember it by */
	struct slot *s = slot_of(m, uid), fresh = { 0 };
	char as_stored[JSONHASH_MAX];
	if (want_hash(want, fresh.want, sizeof(fresh.want)) || jsonhash(want, as_stored, sizeof(as_stored)) ||
	    jsonhash(stored, fresh.stored, sizeof(fresh.stored)))
		return -ENOMEM;
	if (!strcmp(as_stored, fresh.stored)) {
		if (!strcmp(s->uid, uid))
			memset(s, 0, sizeof(*s));
		return 0;
	}
	snprintf(fresh.uid, sizeof(fresh.uid), "%s", uid);
	*s = fresh;
	return 0;
}

bool statusmemo_settled(struct statusmemo *m, const char *uid, struct json_object *want, struct json_object *current)
{
	if (!uid)
		return false;
	struct slot *s = slot_of(m, uid);
	char w[JSONHASH_MAX], c[JSONHASH_MAX];
	return !strcmp(s->uid, uid) && !want_hash(want, w, sizeof(w)) && !jsonhash(current, c, sizeof(c)) &&
		!strcmp(s->want, w) && !strcmp(s->stored, c);
}

static void walk(struct json_object *want, struct json_object *stored, const char *prefix, struct pathlist *p)
{
	json_object_object_foreach(want, key, val)
	{
		char path[512];
		snprintf(path, sizeof(path), "%s.%s", prefix, key);
		struct json_object *have = NULL;
		if (!val)
			continue;
		if (!json_object_object_get_ex(stored, key, &have) || !have)
			pathlist_add(p, path);
		else if (json_object_is_type(val, json_type_object) && json_object_is_type(have, json_type_object))
			walk(val, have, path, p);
	}
}

size_t statusmemo_dropped(struct json_object *want, struct json_object *stored, const char *prefix, char *buf,
			  size_t len)
{
	struct pathlist p;
	pathlist_init(&p, buf, len);
	if (json_object_is_type(want, json_type_object))
		walk(want, json_object_is_type(stored, json_type_object) ? stored : NULL, prefix, &p);
	return p.n;
}

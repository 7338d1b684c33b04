#include "config.h"

#include "echo.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What is remembered of one key; it lives as the userdata of an empty JSON
 * object in e->keys, so that json-c's hash table finds it. */
struct key_rec {
	bool in_flight;
	/* object version id (see version_id) -> true: the writes the last
	 * finished job reported, not yet matched by an event; older: those of
	 * the job before it (echoes may lag behind a short job) */
	struct json_object *writes, *older;
	/* ids of the events held while the job is in flight, in arrival order */
	struct json_object *held;
};

struct echo {
	struct json_object *keys;   /* queue key -> box whose userdata is its struct key_rec */
	uint64_t dropped;
};

static void free_rec(struct json_object *box, void *userdata)
{
	(void)box;
	struct key_rec *rec = userdata;
	json_object_put(rec->writes);
	json_object_put(rec->older);
	json_object_put(rec->held);
	free(rec);
}

struct echo *echo_new(void)
{
	struct echo *e = calloc(1, sizeof(*e));
	if (!e || !(e->keys = json_object_new_object())) {
		free(e);
		return NULL;
	}
	return e;
}

void echo_free(struct echo **ep)
{
	if (!ep || !*ep)
		return;
	json_object_put((*ep)->keys);
	free(*ep);
	*ep = NULL;
}

static struct key_rec *find(const struct echo *e, const char *key)
{
	struct json_object *box = NULL;
	return key && json_object_object_get_ex(e->keys, key, &box) ? json_object_get_userdata(box) : NULL;
}

/* key's record, made when missing; NULL when out of memory. */
static struct key_rec *get(struct echo *e, const char *key)
{
	struct key_rec *rec = find(e, key);
	if (rec)
		return rec;
	struct json_object *box = json_object_new_object();
	if (!box || !(rec = calloc(1, sizeof(*rec)))) {
		json_object_put(box);
		return NULL;
	}
	json_object_set_userdata(box, rec, free_rec);
	if (json_object_object_add(e->keys, key, box)) {
		json_object_put(box);
		return NULL;
	}
	return rec;
}

/* Drops key's record when it holds nothing any more. */
static void release_if_idle(struct echo *e, const char *key, struct key_rec *rec)
{
	if (rec->in_flight || (rec->writes && json_object_object_length(rec->writes) > 0) ||
	    (rec->older && json_object_object_length(rec->older) > 0) ||
	    (rec->held && json_object_array_length(rec->held) > 0))
		return;
	json_object_object_del(e->keys, key);
}

/* One object version as one string: each part with its length in front, so
 * that no name or resourceVersion can make two versions look alike.
 * Owned; NULL when out of memory. */
static char *version_id(const char *kind, const char *ns, const char *name, const char *rv)
{
	char *id = NULL;
	ns = ns ? ns : "";
	if (asprintf(&id, "%zu:%s%zu:%s%zu:%s%zu:%s", strlen(kind), kind, strlen(ns), ns, strlen(name), name,
		     strlen(rv), rv) < 0)
		return NULL;
	return id;
}

/* Whether the write id is in writes; then it is taken out: one write,
 * one event. */
static bool take(struct json_object *writes, const char *id)
{
	if (!writes || !json_object_object_get_ex(writes, id, NULL))
		return false;
	json_object_object_del(writes, id);
	return true;
}

void echo_job_started(struct echo *e, const char *key)
{
	struct key_rec *rec = get(e, key);
	if (!rec)
		return; /* out of memory: its events are not held, they sync the key as before */
	rec->in_flight = true;
	json_object_put(rec->held);
	rec->held = NULL;
}

enum echo_verdict echo_event(struct echo *e, const char *key, const char *kind, const char *ns, const char *name,
			     const char *rv)
{
	struct key_rec *rec = find(e, key);
	if (!rec || !kind || !name || !rv || !*rv)
		return ECHO_SYNC;
	char *id = version_id(kind, ns, name, rv);
	if (!id)
		return ECHO_SYNC;
	enum echo_verdict v = ECHO_SYNC;
	if (rec->in_flight) {
		if (!rec->held)
			rec->held = json_object_new_array();
		if (rec->held && json_object_array_length(rec->held) < ECHO_HELD_MAX &&
		    !json_object_array_add(rec->held, json_object_new_string(id)))
			v = ECHO_HELD;
	} else if (take(rec->writes, id) || take(rec->older, id)) {
		e->dropped++;
		v = ECHO_DROP;
		release_if_idle(e, key, rec);
	}
	free(id);
	return v;
}

/* The version ids of a RESULT's writes, as an object id -> true; NULL when
 * out of memory. */
static struct json_object *ids_of(struct json_object *writes)
{
	struct json_object *ids = json_object_new_object();
	size_t n = json_object_is_type(writes, json_type_array) ? json_object_array_length(writes) : 0;
	for (size_t i = 0; ids && i < n; i++) {
		struct json_object *w = json_object_array_get_idx(writes, i), *k, *ns, *name, *rv;
		if (!json_object_object_get_ex(w, "kind", &k) || !json_object_object_get_ex(w, "namespace", &ns) ||
		    !json_object_object_get_ex(w, "name", &name) || !json_object_object_get_ex(w, "resourceVersion", &rv))
			continue;
		char *id = version_id(json_object_get_string(k), json_object_get_string(ns), json_object_get_string(name),
				      json_object_get_string(rv));
		if (!id || json_object_object_add(ids, id, json_object_new_boolean(1))) {
			free(id);
			json_object_put(ids);
			return NULL;
		}
		free(id);
	}
	return ids;
}

void echo_job_finished(struct echo *e, const char *key, struct json_object *writes, struct echo_settled *out)
{
	memset(out, 0, sizeof(*out));
	struct key_rec *rec = find(e, key);
	if (!rec || !rec->in_flight)
		return;
	struct json_object *now = writes ? ids_of(writes) : NULL;
	size_t n = rec->held ? json_object_array_length(rec->held) : 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = json_object_get_string(json_object_array_get_idx(rec->held, i));
		if (now && (take(now, id) || take(rec->writes, id) || take(rec->older, id))) {
			out->dropped++; /* this job's, or a late echo of one before */
		} else {
			out->sync = true; /* someone else's, or the job failed: as before */
		}
	}
	e->dropped += out->dropped;
	json_object_put(rec->held);
	rec->held = NULL;
	/* The writes of two jobs ago end here: their events had two whole
	 * jobs to arrive. */
	json_object_put(rec->older);
	rec->older = now ? rec->writes : NULL;
	if (!now)
		json_object_put(rec->writes);
	rec->writes = now;
	rec->in_flight = false;
	release_if_idle(e, key, rec);
}

void echo_forget(struct echo *e, const char *key)
{
	if (key)
		json_object_object_del(e->keys, key);
}

size_t echo_keys(const struct echo *e)
{
	return (size_t)json_object_object_length(e->keys);
}

uint64_t echo_dropped(const struct echo *e)
{
	return e->dropped;
}

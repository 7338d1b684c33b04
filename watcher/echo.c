#include "config.h"

#include "echo.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* What is remembered of one key. There is one per parent whose job is in
 * flight or whose writes have not all come back yet, so at a cold start one
 * per parent: it is kept small (strmap, not json-c objects). */
struct key_rec {
	bool in_flight;
	/* sets of object version ids (see version_id): the writes the last
	 * finished job reported, not yet matched by an event; older: those of
	 * the job before it (echoes may lag behind a short job). NULL: none */
	struct strmap *writes, *older;
	/* ids of the events held while the job is in flight, in arrival order */
	struct json_object *held;
};

struct echo {
	struct strmap *keys; /* queue key -> its struct key_rec */
	uint64_t dropped;
};

static void free_rec(void *userdata)
{
	struct key_rec *rec = userdata;
	strmap_free(&rec->writes);
	strmap_free(&rec->older);
	json_object_put(rec->held);
	free(rec);
}

struct echo *echo_new(void)
{
	struct echo *e = calloc(1, sizeof(*e));
	if (!e || !(e->keys = strmap_new(free_rec))) {
		free(e);
		return NULL;
	}
	return e;
}

void echo_free(struct echo **ep)
{
	if (!ep || !*ep)
		return;
	strmap_free(&(*ep)->keys);
	free(*ep);
	*ep = NULL;
}

static struct key_rec *find(const struct echo *e, const char *key)
{
	return key ? strmap_get(e->keys, key) : NULL;
}

/* key's record, made when missing; NULL when out of memory. */
static struct key_rec *get(struct echo *e, const char *key)
{
	struct key_rec *rec = find(e, key);
	if (rec)
		return rec;
	if (!(rec = calloc(1, sizeof(*rec))))
		return NULL;
	if (strmap_put(e->keys, key, rec)) {
		free(rec);
		return NULL;
	}
	return rec;
}

/* Drops key's record when it holds nothing any more. */
static void release_if_idle(struct echo *e, const char *key, struct key_rec *rec)
{
	if (rec->in_flight || (rec->writes && strmap_count(rec->writes) > 0) ||
	    (rec->older && strmap_count(rec->older) > 0) || (rec->held && json_object_array_length(rec->held) > 0))
		return;
	strmap_del(e->keys, key);
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
static bool take(struct strmap *writes, const char *id)
{
	return writes && strmap_del(writes, id) == 0;
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

/* The set of version ids of a RESULT's writes; NULL when out of memory. */
static struct strmap *ids_of(struct json_object *writes)
{
	struct strmap *ids = strmap_new(NULL);
	size_t n = json_object_is_type(writes, json_type_array) ? json_object_array_length(writes) : 0;
	for (size_t i = 0; ids && i < n; i++) {
		struct json_object *w = json_object_array_get_idx(writes, i), *k, *ns, *name, *rv;
		if (!json_object_object_get_ex(w, "kind", &k) || !json_object_object_get_ex(w, "namespace", &ns) ||
		    !json_object_object_get_ex(w, "name", &name) ||
		    !json_object_object_get_ex(w, "resourceVersion", &rv))
			continue;
		char *id = version_id(json_object_get_string(k), json_object_get_string(ns),
				      json_object_get_string(name), json_object_get_string(rv));
		if (!id || strmap_put(ids, id, NULL)) {
			free(id);
			strmap_free(&ids);
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
	struct strmap *now = writes ? ids_of(writes) : NULL;
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
	strmap_free(&rec->older);
	if (now)
		rec->older = rec->writes;
	else
		strmap_free(&rec->writes);
	rec->writes = now;
	rec->in_flight = false;
	release_if_idle(e, key, rec);
}

void echo_forget(struct echo *e, const char *key)
{
	if (key)
		strmap_del(e->keys, key);
}

size_t echo_keys(const struct echo *e)
{
	return strmap_count(e->keys);
}

uint64_t echo_dropped(const struct echo *e)
{
	return e->dropped;
}

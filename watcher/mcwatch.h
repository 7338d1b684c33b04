/* mcwatch: the watcher's metacontroller controllers (issue 11): the
 * CompositeController and DecoratorController definitions of
 * `--metacontroller-manifests FILE|DIR` and, with `--metacontroller-live`,
 * the objects of those kinds in the cluster, each turned into running
 * controllers (common/mcbridge.h) through the watcher's callbacks.
 *
 * Files are read once, at start: an invalid one, or a name that a
 * coxswain.yaml controller also has, stops the start (mcwatch_new fails
 * naming both). Live objects are listed and watched (get, list and watch
 * only) once their CRDs are served; until then /readyz says it waits for
 * them. A live object that is created or changed starts or replaces its
 * controllers at run time; a deleted one stops them. A definition mcdef
 * refuses (an unknown field, ...) is logged with its path, gets a Warning
 * Event InvalidDefinition, and whatever ran from its previous version is
 * stopped: a definition the user replaced never keeps running. A name
 * already in use (coxswain.yaml, a manifest file, another object) is
 * refused the same way (NameInUse).
 *
 * A definition whose resources discovery cannot find (a CRD installed
 * later) waits: it is tried again every few seconds, and /readyz names it
 * ("CompositeController \"x\": spec.parentResource.resource: ...").
 *
 * Single-threaded, driven by the watcher's loop: the informers' handlers
 * only note that something changed; mcwatch_tick starts and stops
 * controllers. */
#ifndef COXSWAIN_MCWATCH_H
#define COXSWAIN_MCWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct config_controller;
struct cx_err;
struct discovery;
struct json_object;
struct kclient;
struct kwatch_mux;
struct mcwatch;

struct mcwatch_callbacks {
	/* Start cc (borrowed until stop is called for its name). -EEXIST with
	 * err filled when its name is taken. */
	int (*start)(void *ud, const struct config_controller *cc, struct cx_err *err);
	/* Stop the controller named name: its cc is freed afterwards. */
	void (*stop)(void *ud, const char *name);
	void *ud;
};

struct mcwatch_options {
	const char *manifests;       /* --metacontroller-manifests, or NULL */
	bool live;                   /* --metacontroller-live */
	const char *selector;        /* --metacontroller-selector: the API's labelSelector for the live
					     objects (one that stops matching is stopped, as if deleted), or
					     NULL: all of them */
	const struct config *config; /* borrowed: its controllers' names are taken */
	struct kclient *client;      /* borrowed, as the rest */
	struct kwatch_mux *mux;
	struct discovery *discovery;
	struct mcwatch_callbacks cb;
};

/* Loads the manifests (nothing is started before the first tick) and hands
 * out the watch in *out. Returns 0, or a negative errno with *out NULL and
 * err filled when they are invalid or a name collides. */
int mcwatch_new(const struct mcwatch_options *o, struct mcwatch **out, struct cx_err *err);

/* Frees without calling stop: the caller has stopped every controller. */
void mcwatch_free(struct mcwatch **m);

/* Starts, replaces and stops controllers as the definitions say at now_ms. */
void mcwatch_tick(struct mcwatch *m, int64_t now_ms);

/* Milliseconds until mcwatch_tick has something to do, -1 for nothing. */
long mcwatch_next_ms(const struct mcwatch *m, int64_t now_ms);

/* False with why (cap bytes) while the live CRDs are not served or their
 * caches not synced, or a definition waits for a resource. */
bool mcwatch_ready(const struct mcwatch *m, char *why, size_t cap);

/* How many definitions run now (for tests and logs). */
size_t mcwatch_running(const struct mcwatch *m);

#endif

/* ctltable: the controllers a worker learns from its jobs (issue 11).
 *
 * A metacontroller-defined controller is in no config file of the worker's:
 * each job carries its definition (common/proto.h), the CompositeController
 * or DecoratorController object. The table parses it (mcdef_parse_json),
 * builds the config_controllers (common/mcbridge.h, with the worker's own
 * discovery) and keeps them under the job's controller name, so that the
 * next job of the same definition reuses them. It builds them again when
 * the definition changes: its metadata.uid or metadata.resourceVersion
 * (an object from the API), or its text when it has neither (a manifest
 * file the watcher read). */
#ifndef COXSWAIN_CTLTABLE_H
#define COXSWAIN_CTLTABLE_H

#include <stdint.h>

struct config_controller;
struct ctltable;
struct cx_err;
struct discovery;
struct json_object;

/* d is borrowed and must outlive the table. NULL when out of memory. */
struct ctltable *ctltable_new(struct discovery *d);

void ctltable_free(struct ctltable **t);

/* The controller name (a job's "controller") as definition defines it:
 * *cc borrowed from the table until a later call for name builds it again;
 * *generation a number that changes each time that happens (a caller's
 * state derived from *cc is stale when it differs). Returns 0, or the
 * parser's / mcbridge's error (-EINVAL for a definition refused, -ENOENT
 * for a resource not served, naming the controller and field), or -ENOENT
 * when the definition does not define name. Nothing is cached on error. */
int ctltable_get(struct ctltable *t, const char *name, struct json_object *definition,
		 const struct config_controller **cc, uint64_t *generation, struct cx_err *err);

#endif

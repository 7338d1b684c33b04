/* statusmemo: what the API server made of the statuses this worker wrote,
 * so that a status the server keeps rewriting (a field its schema prunes or
 * defaults) is written once, not on every sync.
 *
 * After a write, the status coxswain wanted and the one the server stored
 * are remembered for the parent's uid when they differ (as digests: a
 * memo is small and holds no object data). Before the next write, a parent
 * whose current status is that stored one, and whose wanted status is that
 * same wanted one, needs nothing: writing it again would store the same
 * thing again. Anything else (the hook's answer changed, someone else
 * changed the status) writes as usual. The conditions' lastTransitionTime
 * does not count as a change of the wanted status: it is "now" for every
 * condition the parent does not show, as a dropped one never is.
 *
 * The memo is per worker process and bounded: a fixed table of slots chosen
 * by the uid's hash, a newer entry replacing an older one in its slot. A
 * forgotten entry only costs one more write. */
#ifndef COXSWAIN_STATUSMEMO_H
#define COXSWAIN_STATUSMEMO_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct statusmemo;

#define STATUSMEMO_DEFAULT_SLOTS 4096

/* A memo of slots entries (0 = STATUSMEMO_DEFAULT_SLOTS); NULL when out of memory. */
struct statusmemo *statusmemo_new(size_t slots);

void statusmemo_free(struct statusmemo **m);

/* Notes that writing want (borrowed) to the status of the parent with uid
 * left stored (borrowed) on the server. Equal ones forget the uid instead.
 * Returns 0 or -ENOMEM. */
int statusmemo_put(struct statusmemo *m, const char *uid, struct json_object *want, struct json_object *stored);

/* Whether want has been written to uid before and the server stored what
 * the parent's status, current, is now. */
bool statusmemo_settled(struct statusmemo *m, const char *uid, struct json_object *want, struct json_object *current);

/* The paths ("status.conditions", "status.a.b") of fields set in want that
 * stored lacks, "; "-separated into buf (cut with "..." when long); prefix
 * names want's own place. Returns how many there are. */
size_t statusmemo_dropped(struct json_object *want, struct json_object *stored, const char *prefix, char *buf,
			  size_t len);

#endif

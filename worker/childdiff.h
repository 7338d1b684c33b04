/* childdiff: whether a server-side apply of a child would change nothing,
 * decided from the live child the job carries (the watcher's cache), so
 * that a write that changes nothing is not sent.
 *
 * The apply is skipped only when all of these hold (anything else: apply):
 *   - the live child is this parent's (its controller ownerReference has
 *     the parent's uid): a foreign or ownerless object is never judged;
 *   - it has exactly one managedFields entry of the controller's field
 *     manager with operation Apply, fieldsType FieldsV1, no subresource,
 *     and the desired object's apiVersion (the watcher keeps only these
 *     entries: watcher/informer.h, keep_managers);
 *   - removal: every path of that entry (f:name, k:{key}, v:value, i:index,
 *     ".") resolves in the desired object. A path that does not is a field
 *     coxswain applied before and the hook no longer returns: the apply
 *     would remove it. A path that cannot be parsed counts the same;
 *   - values: every field of the desired object (apiVersion, kind,
 *     metadata.name and .namespace aside: the server does not track them)
 *     is owned by that entry and present in the live object with an equal
 *     value. Equal means the same JSON type (a number is never equal to a
 *     string; 1 equals 1.0) and value; null is never equal (SSA treats it
 *     specially). The entry also tells how to compare what the desired
 *     object holds, since the JSON alone does not say whether a list is
 *     atomic or keyed:
 *       - a map or list that is a leaf of the entry (atomic) must equal
 *         the live value exactly: SSA replaces it whole, so a field someone
 *         else added inside it would be dropped;
 *       - a granular map: each desired key is compared recursively; keys
 *         only the live object has (server defaults, other managers) stay;
 *       - an associative list (k:{...} children): each desired element is
 *         matched to its key in the entry and to the one live element with
 *         that key, in the same relative order, and compared recursively;
 *         an element whose key fields are not all in the desired element
 *         (a defaulted key field, e.g. a port's protocol) cannot be matched
 *         and counts as a change;
 *       - a set (v:... children): each desired scalar must be owned and be
 *         in the live list, in the same relative order;
 *       - a positional list (i:N): same length, element by element.
 * A value the server normalises ("1000m" for "1") therefore counts as a
 * change: the caller may confirm with a dry run (worker/apply.h).
 *
 * Pure functions over json-c objects; nothing is kept. */
#ifndef COXSWAIN_CHILDDIFF_H
#define COXSWAIN_CHILDDIFF_H

#include <stdbool.h>

struct json_object;

enum childdiff_verdict {
	CHILDDIFF_SAME,         /* the apply would change nothing: skip it */
	CHILDDIFF_NOT_OURS,     /* not controlled by this parent (or no live object) */
	CHILDDIFF_NO_ENTRY,     /* no single Apply entry of our field manager in its version */
	CHILDDIFF_WOULD_REMOVE, /* the entry owns a field the desired object no longer has */
	CHILDDIFF_DIFFERS,      /* a desired field is missing, different, or not ours in the live one */
};

/* The verdict for applying desired (the child as it would really be
 * applied: stamped and normalised, worker/apply.h; borrowed) over live (the
 * cached child with its managedFields, borrowed; NULL = none) as
 * field_manager on behalf of the parent with uid parent_uid. */
enum childdiff_verdict childdiff_judge(struct json_object *desired, struct json_object *live, const char *field_manager,
				       const char *parent_uid);

/* "same", "not ours", ... for logs. */
const char *childdiff_verdict_name(enum childdiff_verdict v);

/* The managedFields entry of field_manager with operation Apply (and no
 * subresource) in live, borrowed; NULL when there is none or more than one. */
struct json_object *childdiff_entry(struct json_object *live, const char *field_manager);

#endif

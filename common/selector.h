/* selector: evaluates a metav1.LabelSelector or metacontroller's
 * AnnotationSelector (common/mcdef.h's struct mcdef_selector) on the client
 * side, against one object's metadata.labels or metadata.annotations.
 *
 * The API server can filter a list or watch by labels, never by
 * annotations: a DecoratorController's resources[].annotationSelector is
 * evaluated here, on every object the informer sees (watcher) and again
 * on the job's object (worker), since the object may have changed while
 * the job waited. The rules are Kubernetes' (labels.Selector):
 *
 *   matchLabels / matchAnnotations {k: v}   k is there with value v
 *   {key: k, operator: In, values: [...]}     k is there, its value one of values
 *   {key: k, operator: NotIn, values: [...]}  k is absent, or its value none of values
 *   {key: k, operator: Exists}                k is there (any value)
 *   {key: k, operator: DoesNotExist}          k is absent
 *
 * all of them at once (AND). A selector that is absent (set == false), or
 * present with nothing in it, selects every object, as metacontroller's
 * does. Pure: no I/O, nothing is kept. */
#ifndef COXSWAIN_SELECTOR_H
#define COXSWAIN_SELECTOR_H

#include <stdbool.h>

struct cx_err;
struct json_object;
struct mcdef_selector;

/* Whether sel (borrowed; NULL = no selector) selects an object whose map
 * is m (borrowed: its metadata.labels or metadata.annotations, a JSON
 * object of strings; NULL, or anything that is not an object, is an empty
 * map; a member whose value is not a string counts as absent). */
bool selector_matches(const struct mcdef_selector *sel, struct json_object *m);

/* selector_matches on obj's (a Kubernetes object, borrowed; NULL is an
 * object without metadata) metadata.annotations. */
bool selector_matches_annotations(const struct mcdef_selector *sel, struct json_object *obj);

/* selector_matches on obj's metadata.labels. */
bool selector_matches_labels(const struct mcdef_selector *sel, struct json_object *obj);

/* Whether labels (a JSON object of strings, borrowed; NULL = none) satisfy
 * selector (a metav1.LabelSelector as JSON, borrowed: matchLabels, and
 * matchExpressions with In, NotIn, Exists, DoesNotExist; all must hold; an
 * empty one selects everything). Returns 1, 0, or -EINVAL with err filled
 * for a malformed selector (matchLabels not an object, matchExpressions not
 * a list, an expression without key or operator, an unknown operator,
 * In/NotIn without values, Exists/DoesNotExist with values). */
int selector_json_matches(struct json_object *selector, struct json_object *labels, struct cx_err *err);

#endif

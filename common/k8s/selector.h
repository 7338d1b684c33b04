/* selector: the one owner of label selectors. A metav1.LabelSelector (or
 * metacontroller's AnnotationSelector) in its parsed form, struct selector
 * below, is
 *   - read from JSON here (selector_from_json: a customize hook's
 *     relatedResources[].labelSelector, a parent's spec.selector) or from
 *     YAML by common/mcdef (a controller's labelSelector/annotationSelector),
 *   - evaluated here on the client side, against one object's
 *     metadata.labels or metadata.annotations (selector_matches),
 *   - rendered here as the API's labelSelector parameter (selector_string),
 *     for a list or watch the API server filters.
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
 * does. No I/O, nothing is kept. */
#ifndef COXSWAIN_SELECTOR_H
#define COXSWAIN_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

struct cx_err;
struct json_object;

enum selector_op {
	SELECTOR_OP_IN,
	SELECTOR_OP_NOT_IN,
	SELECTOR_OP_EXISTS,
	SELECTOR_OP_DOES_NOT_EXIST,
};

struct selector_requirement {
	char *key; /* a qualified name, as a label key */
	enum selector_op op;
	char **values; /* n_values label values: >= 1 for In/NotIn, 0 otherwise */
	size_t n_values;
	bool has_values; /* "values" was written (possibly as []) */
};

/* A metav1.LabelSelector (labelSelector) or metacontroller's
 * AnnotationSelector (matchAnnotations instead of matchLabels). Absent:
 * set == false, which selects everything, as an empty selector does. */
struct selector {
	bool set;
	bool has_match;    /* matchLabels / matchAnnotations was written */
	char **match_keys; /* n_match pairs, in the document's order */
	char **match_values;
	size_t n_match;
	bool has_exprs; /* matchExpressions was written */
	struct selector_requirement *exprs;
	size_t n_exprs;
};

/* Parses j (borrowed), a metav1.LabelSelector {matchLabels,
 * matchExpressions} as JSON, into *out (owned by the caller: selector_clear;
 * it need not be cleared before). j NULL is no selector (out->set false);
 * {} is a selector of nothing. Both select everything. Unknown members are
 * ignored, as the API's decoder does. where names j in messages
 * ("spec.selector"; NULL: "labelSelector"). Returns 0, -ENOMEM, or
 * -EINVAL with err saying
 *   WHERE.matchExpressions[0].operator: expected In, NotIn, Exists or DoesNotExist, got "Like"
 * (a member of the wrong type, a matchLabels value or a values[] item that
 * is not a string, a key missing or empty, an operator missing or unknown,
 * In/NotIn without values, Exists/DoesNotExist with values); *out is empty
 * on error. */
int selector_from_json(struct json_object *j, const char *where, struct selector *out, struct cx_err *err);

/* Frees what sel (NULL: nothing) holds and empties it (set false). */
void selector_clear(struct selector *sel);

/* sel (borrowed; NULL = no selector) in the API's labelSelector syntax, as
 * kubectl -l takes it: matchLabels pairs then matchExpressions, comma
 * separated, "k=v", "k in (a,b)", "k notin (a)", "k", "!k". Owned; "" for
 * a selector that selects everything; NULL when out of memory. */
char *selector_string(const struct selector *sel);

/* Whether sel (borrowed; NULL = no selector) selects an object whose map
 * is m (borrowed: its metadata.labels or metadata.annotations, a JSON
 * object of strings; NULL, or anything that is not an object, is an empty
 * map; a member whose value is not a string counts as absent). */
bool selector_matches(const struct selector *sel, struct json_object *m);

/* selector_matches on obj's (a Kubernetes object, borrowed; NULL is an
 * object without metadata) metadata.annotations. */
bool selector_matches_annotations(const struct selector *sel, struct json_object *obj);

/* selector_matches on obj's metadata.labels. */
bool selector_matches_labels(const struct selector *sel, struct json_object *obj);

/* For a caller holding the selector as JSON only (the worker's parent
 * spec.selector): selector_from_json(selector, "selector") then
 * selector_matches(labels). Returns 1 (selects), 0 (does not), or
 * selector_from_json's -EINVAL/-ENOMEM with err filled
 * ("selector.matchExpressions[0]...": a caller prefixes "... .spec."). */
int selector_json_matches(struct json_object *selector, struct json_object *labels, struct cx_err *err);

#endif

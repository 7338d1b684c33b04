/* relrule: metacontroller's related-resource rules, the customize hook's
 * answer, in one place for the worker (which fetches what they select for
 * the sync and finalize requests' "related"; worker/related.h) and the
 * watcher (which requeues a parent when an object its rules select
 * changes; watcher/relwatch.h).
 *
 * The customize hook answers
 *
 *   {"relatedResources": [
 *      {"apiVersion": "v1", "resource": "namespaces",
 *       "labelSelector": {"matchLabels": {"team": "a"},
 *                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["x"]}]}},
 *      {"apiVersion": "v1", "resource": "configmaps", "namespace": "global", "names": ["settings"]}]}
 *
 * A rule selects by labelSelector (a metav1.LabelSelector; {} selects
 * everything, as does a rule with neither a selector nor namespace/names),
 * or by namespace and/or names, never both. Which objects a rule selects
 * for a parent (metacontroller's rules):
 *   - a namespaced parent sees only related objects in its own namespace; a
 *     rule's namespace, when given, must be the parent's;
 *   - a cluster-scoped parent sees every namespace, or the rule's namespace
 *     when given;
 *   - names, when given, keeps only objects with one of those names.
 * The namespace restrictions apply to namespaced objects only: a
 * cluster-scoped related object (a Namespace) has none.
 *
 * Rules travel from the worker to the watcher in RESULT's related field
 * (common/proto.h) as relrule_set_json writes them. */
#ifndef COXSWAIN_RELRULE_H
#define COXSWAIN_RELRULE_H

#include "selector.h"

#include <stdbool.h>
#include <stddef.h>

struct cx_err;
struct json_object;

struct relrule {
	char *api_version;                  /* "v1", "apps/v1" */
	char *resource;                     /* the plural: "configmaps" */
	bool by_labels;                     /* labelSelector given, or neither it nor namespace/names */
	struct json_object *label_selector; /* owned: as the hook wrote it; NULL when not given */
	struct selector selector;           /* label_selector parsed (common/selector.h); set false
				     * when not given */
	char *namespace;                    /* NULL when not given (or "") */
	char **names;                       /* n_names; NULL/0 when not given (or []) */
	size_t n_names;
};

struct relrule_set {
	struct relrule *rules;
	size_t n;
};

/* Parses a customize hook's answer (root, the parsed JSON) into *out for a
 * parent in parent_ns (NULL or "" for a cluster-scoped parent). label
 * starts every message (`customize hook "NAME"`); strict refuses top-level
 * fields other than relatedResources. relatedResources absent or null is no
 * rules. Returns 0, or -EPROTO with err saying
 *   LABEL: relatedResources[1].labelSelector.matchExpressions[0].operator: ...
 * (a field of the wrong type, apiVersion or resource missing or empty, an
 * unknown operator, values given to Exists, none to In, both labelSelector
 * and namespace/names, a namespace other than a namespaced parent's), or
 * -ENOMEM. *out is empty (and need not be cleared) on error. */
int relrule_parse_answer(const char *label, bool strict, struct json_object *root, const char *parent_ns,
			 struct relrule_set *out, struct cx_err *err);

/* Parses rules as relrule_set_json wrote them (RESULT's related). Messages
 * start with label. Same errors. */
int relrule_set_from_json(const char *label, struct json_object *rules, const char *parent_ns, struct relrule_set *out,
			  struct cx_err *err);

/* The rules as a JSON list of rule objects (owned), NULL when out of memory. */
struct json_object *relrule_set_json(const struct relrule_set *s);

void relrule_set_clear(struct relrule_set *s);

/* The API's labelSelector parameter for rule ("team=a,tier in (x,y),!old"),
 * owned; "" selects everything; NULL when out of memory. selector_string on
 * rule->selector: common/selector owns the syntax. */
char *relrule_selector_string(const struct relrule *rule);

/* Where rule lists for a parent in parent_ns (NULL/"" = cluster-scoped):
 * the namespace to list in, or NULL for every namespace. Borrowed from rule
 * or parent_ns. */
const char *relrule_list_namespace(const struct relrule *rule, const char *parent_ns);

/* Whether rule selects obj (an object with metadata) for a parent in
 * parent_ns. The caller has checked that obj is of the rule's resource. */
bool relrule_match(const struct relrule *rule, const char *parent_ns, struct json_object *obj);

#endif

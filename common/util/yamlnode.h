/* yamlnode: what the YAML files coxswain reads (kubeconfig, coxswain.yaml)
 * share on top of libyaml's document API: loading one file into a document,
 * reading nodes, and errors that point into the file.
 *
 * Every message has the shape
 *
 *   KIND FILE: line L, column C: WHERE: WHAT
 *
 * where KIND names the sort of file ("kubeconfig", "config"), WHERE is the
 * path of the node inside the document ("controllers[0].hooks.sync") and WHAT
 * says what was expected. Lines and columns count from 1.
 *
 * The helpers interpret nothing: schemas (which keys exist, which are
 * required, whether unknown keys are errors) belong to the callers. */
#ifndef COXSWAIN_YAMLNODE_H
#define COXSWAIN_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

struct cx_err;

/* A loaded document and what messages about it name. Borrows everything. */
struct yamlnode_src {
	yaml_document_t *doc;
	const char *kind; /* "kubeconfig", "config": the first word of every message */
	const char *path; /* the file, as given */
	struct cx_err *err;
};

/* The deepest nesting of lists and mappings a file may have (the root
 * mapping counts as one level). Ours need fewer than 10; libyaml's time
 * grows with the square of the depth. */
#define YAMLNODE_MAX_DEPTH 64

/* Loads the first YAML document of the file at path into *doc, which the
 * caller then owns (yaml_document_delete). A file without a document loads
 * as a document without a root node. With only_one, a second document in the
 * file is an error. Returns 0, or a negative code with err filled: -errno
 * when the file cannot be opened or read, -EINVAL for invalid YAML (naming
 * the line and column) or for nesting deeper than YAMLNODE_MAX_DEPTH
 * anywhere in the file ("...: nested deeper than 64 levels"), -ENOMEM. *doc
 * is untouched on error. */
int yamlnode_load(const char *kind, const char *path, bool only_one, yaml_document_t *doc, struct cx_err *err);

/* Calls fn(ctx, doc, index) for each document of the multi-document YAML
 * file at path, in order (index counts from 1, empty documents included, so
 * that messages can name them), after the same depth check as
 * yamlnode_load; doc is deleted when fn returns. Stops at the first non-zero
 * return of fn and returns it; else 0, or yamlnode_load's errors. */
typedef int yamlnode_each_fn(void *ctx, yaml_document_t *doc, size_t index);
int yamlnode_each(const char *kind, const char *path, yamlnode_each_fn *fn, void *ctx, struct cx_err *err);

/* yamlnode_each on the len bytes at text (JSON is YAML: an object read from
 * the API), with label in place of the file's name in messages. */
int yamlnode_each_text(const char *kind, const char *label, const char *text, size_t len, yamlnode_each_fn *fn,
		       void *ctx, struct cx_err *err);

/* Fills s->err with "KIND FILE: line L, column C: where: what" (the line and
 * column where node starts) and returns -EINVAL. */
int yamlnode_fail(const struct yamlnode_src *s, const yaml_node_t *node, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fills s->err with "KIND FILE: out of memory" and returns -ENOMEM. */
int yamlnode_oom(const struct yamlnode_src *s);

/* 0 when n is of type, else yamlnode_fail with "expected a string|a list|a
 * mapping, got ...". */
int yamlnode_expect(const struct yamlnode_src *s, const yaml_node_t *n, yaml_node_type_t type, const char *where);

/* "a scalar", "a list", "a mapping": for messages. */
const char *yamlnode_type_name(const yaml_node_t *n);

/* The text of a scalar node (NUL-terminated; borrowed from the document). */
const char *yamlnode_scalar(const yaml_node_t *n);

/* Whether n is a plain `null`, `~` or empty scalar: "absent", as in YAML 1.1.
 * Quoted scalars ("", 'null') are strings, never null. */
bool yamlnode_is_null(const yaml_node_t *n);

/* The value of key in the mapping map, or NULL; the first one when the key
 * is repeated. */
yaml_node_t *yamlnode_get(const struct yamlnode_src *s, const yaml_node_t *map, const char *key);

/* The key node of an earlier pair of map with the same scalar key as pair,
 * or NULL when pair's key is the first of its kind: YAML allows repeated
 * keys, our files do not (the second value would silently win or leak). */
const yaml_node_t *yamlnode_repeated(const struct yamlnode_src *s, const yaml_node_t *map,
				     const yaml_node_pair_t *pair);

/* The number of items of the sequence seq, and its i-th item (i < count). */
size_t yamlnode_count(const yaml_node_t *seq);
yaml_node_t *yamlnode_item(const struct yamlnode_src *s, const yaml_node_t *seq, size_t i);

/* *out = a copy of str; -ENOMEM through yamlnode_oom when out of memory. */
int yamlnode_strdup(const struct yamlnode_src *s, const char *str, char **out);

/* Appends a copy of str to the string array *array of *n entries, keeping it
 * NULL-terminated (so an argv built with it can go to execv as is). *array
 * and *n are updated only on success. */
int yamlnode_push_string(const struct yamlnode_src *s, char ***array, size_t *n, const char *str);

#endif

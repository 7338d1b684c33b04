#include "config.h"

#include "yamlnode.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reports libyaml's complaint about the file: a read error as the system's
 * error, anything else as invalid YAML where the parser stopped. */
static int parser_error(const char *kind, const char *path, yaml_parser_t *parser, FILE *f, struct cx_err *err)
{
	if (parser->error == YAML_MEMORY_ERROR)
		return cx_err_set(err, -ENOMEM, "%s %s: out of memory", kind, path);
	if (parser->error == YAML_READER_ERROR && ferror(f)) {
		int e = errno ? errno : EIO;
		return cx_err_set(err, -e, "%s %s: cannot read: %s", kind, path, strerror(e));
	}
	return cx_err_set(err, -EINVAL, "%s %s: line %zu, column %zu: invalid YAML: %s%s%s", kind, path,
			  parser->problem_mark.line + 1, parser->problem_mark.column + 1,
			  parser->problem ? parser->problem : "unknown error", parser->context ? " " : "",
			  parser->context ? parser->context : "");
}

/* Reads the stream's events, before any document is built, and refuses one
 * nested deeper than YAMLNODE_MAX_DEPTH: libyaml's scanner walks its stack of
 * possible simple keys (one per level) at every token, so its time grows with
 * the square of the depth, and 100,000 levels take most of a minute. Stopping
 * at the cap bounds that. Invalid YAML ends the pass quietly: the load that
 * follows reports it. Returns 0 or -EINVAL / -ENOMEM with err filled; f is
 * rewound. */
static int check_depth(const char *kind, const char *path, FILE *f, struct cx_err *err)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return cx_err_set(err, -ENOMEM, "%s %s: out of memory", kind, path);
	yaml_parser_set_input_file(&parser, f);
	int rc = 0, depth = 0;
	for (bool done = false; !done && !rc;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev))
			break;
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > YAMLNODE_MAX_DEPTH)
				rc = cx_err_set(err, -EINVAL,
						"%s %s: line %zu, column %zu: nested deeper than %d "
						"levels",
						kind, path, ev.start_mark.line + 1, ev.start_mark.column + 1,
						YAMLNODE_MAX_DEPTH);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	rewind(f);
	return rc;
}

/* Opens path and readies a parser on it after the depth check: the start
 * that yamlnode_load and yamlnode_each share. On success the caller owns *f
 * and *parser (yaml_parser_delete, fclose). */
static int open_parser_on(const char *kind, const char *path, FILE **f, yaml_parser_t *parser, struct cx_err *err);

static int open_parser(const char *kind, const char *path, FILE **f, yaml_parser_t *parser, struct cx_err *err)
{
	*f = fopen(path, "rb");
	if (!*f)
		return cx_err_set(err, -errno, "%s %s: cannot open: %s", kind, path, strerror(errno));
	return open_parser_on(kind, path, f, parser, err);
}

/* The rest of open_parser, on a stream already open (closed on error). */
static int open_parser_on(const char *kind, const char *path, FILE **f, yaml_parser_t *parser, struct cx_err *err)
{
	int rc = check_depth(kind, path, *f, err);
	if (!rc && !yaml_parser_initialize(parser))
		rc = cx_err_set(err, -ENOMEM, "%s %s: out of memory", kind, path);
	if (rc) {
		fclose(*f);
		return rc;
	}
	yaml_parser_set_input_file(parser, *f);
	return 0;
}

int yamlnode_load(const char *kind, const char *path, bool only_one, yaml_document_t *doc, struct cx_err *err)
{
	FILE *f;
	yaml_parser_t parser;
	int rc = open_parser(kind, path, &f, &parser, err);
	if (rc)
		return rc;
	if (!yaml_parser_load(&parser, doc)) {
		rc = parser_error(kind, path, &parser, f, err);
	} else if (only_one && yaml_document_get_root_node(doc)) {
		/* The rest of the stream must be empty: a second document would
		 * otherwise be silently ignored. */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			rc = parser_error(kind, path, &parser, f, err);
		} else {
			yaml_node_t *root = yaml_document_get_root_node(&next);
			if (root)
				rc = cx_err_set(err, -EINVAL,
						"%s %s: line %zu, column %zu: a second YAML document; "
						"expected exactly one",
						kind, path, root->start_mark.line + 1, root->start_mark.column + 1);
			yaml_document_delete(&next);
		}
		if (rc)
			yaml_document_delete(doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

static int each_on(const char *kind, const char *path, FILE *f, yaml_parser_t *parser, yamlnode_each_fn *fn, void *ctx,
		   struct cx_err *err);

int yamlnode_each(const char *kind, const char *path, yamlnode_each_fn *fn, void *ctx, struct cx_err *err)
{
	FILE *f;
	yaml_parser_t parser;
	int rc = open_parser(kind, path, &f, &parser, err);
	if (rc)
		return rc;
	return each_on(kind, path, f, &parser, fn, ctx, err);
}

int yamlnode_each_text(const char *kind, const char *label, const char *text, size_t len, yamlnode_each_fn *fn,
		       void *ctx, struct cx_err *err)
{
	if (!len)
		return 0;
	/* fmemopen: the same reader, depth check and messages as for a file. */
	FILE *f = fmemopen((void *)text, len, "rb");
	yaml_parser_t parser;
	if (!f)
		return cx_err_set(err, -errno, "%s %s: cannot read: %s", kind, label, strerror(errno));
	int rc = open_parser_on(kind, label, &f, &parser, err);
	if (rc)
		return rc;
	return each_on(kind, label, f, &parser, fn, ctx, err);
}

/* Calls fn for each document of the stream f that parser reads; closes both. */
static int each_on(const char *kind, const char *path, FILE *f, yaml_parser_t *parser, yamlnode_each_fn *fn, void *ctx,
		   struct cx_err *err)
{
	int rc = 0;
	for (size_t index = 1; !rc; index++) {
		yaml_document_t doc;
		if (!yaml_parser_load(parser, &doc)) {
			rc = parser_error(kind, path, parser, f, err);
			break;
		}
		/* libyaml ends the stream with a document without a root; an
		 * empty document in the stream has a null scalar as its root. */
		bool end = !yaml_document_get_root_node(&doc);
		if (!end)
			rc = fn(ctx, &doc, index);
		yaml_document_delete(&doc);
		if (end)
			break;
	}
	yaml_parser_delete(parser);
	fclose(f);
	return rc;
}

int yamlnode_fail(const struct yamlnode_src *s, const yaml_node_t *node, const char *where, const char *fmt, ...)
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return cx_err_set(s->err, -EINVAL, "%s %s: line %zu, column %zu: %s: %s", s->kind, s->path,
			  node->start_mark.line + 1, node->start_mark.column + 1, where, what);
}

int yamlnode_oom(const struct yamlnode_src *s)
{
	return cx_err_set(s->err, -ENOMEM, "%s %s: out of memory", s->kind, s->path);
}

const char *yamlnode_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

int yamlnode_expect(const struct yamlnode_src *s, const yaml_node_t *n, yaml_node_type_t type, const char *where)
{
	if (n->type == type)
		return 0;
	const char *want = type == YAML_SCALAR_NODE ? "a string" : type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
	return yamlnode_fail(s, n, where, "expected %s, got %s", want, yamlnode_type_name(n));
}

const char *yamlnode_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

bool yamlnode_is_null(const yaml_node_t *n)
{
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = yamlnode_scalar(n);
	return !*v || !strcmp(v, "null") || !strcmp(v, "~") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

yaml_node_t *yamlnode_get(const struct yamlnode_src *s, const yaml_node_t *map, const char *key)
{
	if (map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(s->doc, pair->key);
		if (k->type == YAML_SCALAR_NODE && !strcmp(yamlnode_scalar(k), key))
			return yaml_document_get_node(s->doc, pair->value);
	}
	return NULL;
}

const yaml_node_t *yamlnode_repeated(const struct yamlnode_src *s, const yaml_node_t *map, const yaml_node_pair_t *pair)
{
	const yaml_node_t *k = yaml_document_get_node(s->doc, pair->key);
	if (k->type != YAML_SCALAR_NODE)
		return NULL;
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
		const yaml_node_t *earlier = yaml_document_get_node(s->doc, q->key);
		if (earlier->type == YAML_SCALAR_NODE && !strcmp(yamlnode_scalar(earlier), yamlnode_scalar(k)))
			return earlier;
	}
	return NULL;
}

size_t yamlnode_count(const yaml_node_t *seq)
{
	if (seq->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *yamlnode_item(const struct yamlnode_src *s, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(s->doc, seq->data.sequence.items.start[i]);
}

int yamlnode_strdup(const struct yamlnode_src *s, const char *str, char **out)
{
	*out = strdup(str);
	return *out ? 0 : yamlnode_oom(s);
}

int yamlnode_push_string(const struct yamlnode_src *s, char ***array, size_t *n, const char *str)
{
	char *copy = strdup(str);
	char **grown = copy ? realloc(*array, (*n + 2) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		return yamlnode_oom(s);
	}
	grown[(*n)++] = copy;
	grown[*n] = NULL;
	*array = grown;
	return 0;
}

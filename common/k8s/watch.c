#include "config.h"

#include "watch.h"
#include "err.h"
#include "kclient.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_EVENT_BYTES (16u * 1024 * 1024)
/* json_tokener_parse_ex takes an int length: an event is never longer. */
#define MAX_EVENT_BYTES_CAP (1u << 30)
#define DEFAULT_MAX_DEPTH   512
/* A held-back run is a few bytes, unless it is a long string without
 * separators (base64 data); do not keep a buffer that size around. */
#define RUN_KEEP_MAX 65536

struct watch_parser {
	struct json_tokener *tok;
	watch_event_fn fn;
	void *ud;
	size_t max_event_bytes;
	bool drop_managed_fields;

	bool in_event;                  /* the tokener holds the first part of an event */
	size_t event_bytes;             /* bytes of that event given to the tokener so far */
	unsigned long long event_start; /* stream offset of its first byte */
	unsigned long long offset;      /* bytes of the stream consumed so far */
	size_t n_seen;                  /* events whose JSON was complete, good or bad */
	size_t n_delivered;             /* events the callback accepted */
	char *rv;                       /* resourceVersion of the last accepted event, or NULL */
	char *run;                      /* a run (see is_run_byte) held back at the end of a chunk */
	size_t run_len, run_cap;
	struct cx_err fail; /* the sticky error once fail.code != 0 */
};

struct watch_parser *watch_parser_new(const struct watch_parser_options *opts, watch_event_fn fn, void *ud)
{
	struct watch_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->fn = fn;
	p->ud = ud;
	p->max_event_bytes = opts && opts->max_event_bytes ? opts->max_event_bytes : DEFAULT_MAX_EVENT_BYTES;
	if (p->max_event_bytes > MAX_EVENT_BYTES_CAP)
		p->max_event_bytes = MAX_EVENT_BYTES_CAP;
	p->drop_managed_fields = opts && opts->drop_managed_fields;
	int depth = opts && opts->max_depth > 0 ? opts->max_depth : DEFAULT_MAX_DEPTH;
	p->tok = json_tokener_new_ex(depth);
	if (!p->tok) {
		free(p);
		return NULL;
	}
	/* Strict: the apiserver writes standard JSON, anything else is a broken
	 * stream. Trailing characters are allowed because the next event may
	 * follow in the same chunk: we continue after the parse end ourselves. */
	json_tokener_set_flags(p->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return p;
}

void watch_parser_free(struct watch_parser **pp)
{
	if (!pp || !*pp)
		return;
	struct watch_parser *p = *pp;
	json_tokener_free(p->tok);
	free(p->rv);
	free(p->run);
	free(p);
	*pp = NULL;
}

const char *watch_parser_resource_version(const struct watch_parser *p)
{
	return p->rv;
}

size_t watch_parser_events(const struct watch_parser *p)
{
	return p->n_delivered;
}

/* Hands the sticky error to the caller. */
static int report(const struct watch_parser *p, struct cx_err *err)
{
	if (err)
		*err = p->fail;
	return p->fail.code;
}

static int fail(struct watch_parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Makes code and the message the parser's sticky error. Returns code. */
static int fail(struct watch_parser *p, int code, const char *fmt, ...)
{
	char msg[CX_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cx_err_set(&p->fail, code, "%s", msg);
}

static bool is_json_ws(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const char *type_name(struct json_object *o)
{
	return json_type_to_name(json_object_get_type(o));
}

/* A string member of o, or NULL when o is not an object, or the member is
 * absent or not a string. */
static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The same mapping as kclient's for HTTP statuses, so that an error is the
 * same code whether the apiserver said it in the response status or in an
 * ERROR event mid-stream. */
/* An ERROR event: its object is a metav1.Status. 410 (reason Expired, or
 * Gone from older servers) means the resourceVersion we watch from has been
 * compacted away; client-go's reflector relists on it, and so must our
 * caller, which is why it gets its own code. */
static int status_error(struct watch_parser *p, struct json_object *status)
{
	struct json_object *jcode;
	long code = 0;
	if (json_object_object_get_ex(status, "code", &jcode) && json_object_is_type(jcode, json_type_int))
		code = (long)json_object_get_int64(jcode);
	const char *reason = get_string(status, "reason");
	const char *message = get_string(status, "message");
	bool stale = code == 410 || (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")));
	int r;
	if (stale)
		r = fail(p, -ESTALE,
			 "watch expired (%ld %s: %.600s): the resourceVersion is too old, a relist is needed "
			 "(LIST again, then watch from the list's resourceVersion)",
			 code, reason ? reason : "", message ? message : "no message");
	else
		r = fail(p, kclient_status_errno(code), "watch ERROR event %zu: %ld %s: %.700s", p->n_seen, code,
			 reason ? reason : "", message ? message : "(the Status has no message)");
	p->fail.http_status = (int)(code > 0 && code < 1000 ? code : 0);
	snprintf(p->fail.reason, sizeof(p->fail.reason), "%s", reason ? reason : "");
	return r;
}

static int bad_event(struct watch_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An event whose JSON is fine but whose shape is not a watch event's. */
static int bad_event(struct watch_parser *p, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(p, -EBADMSG, "watch event %zu (at byte %llu of the stream) %s", p->n_seen, p->event_start, what);
}

static const struct {
	const char *name;
	int type; /* enum watch_event_type, or -1 for ERROR */
} event_types[] = {
	{ "ADDED", WATCH_ADDED },
	{ "MODIFIED", WATCH_MODIFIED },
	{ "DELETED", WATCH_DELETED },
	{ "BOOKMARK", WATCH_BOOKMARK },
	{ "ERROR", -1 },
};

/* Checks one complete event, and calls back with it or turns it into the
 * parser's error. Does not take ownership of ev. */
static int deliver(struct watch_parser *p, struct json_object *ev)
{
	if (!json_object_is_type(ev, json_type_object))
		return bad_event(p, "is a JSON %s, not an object", type_name(ev));
	struct json_object *jtype, *obj;
	if (!json_object_object_get_ex(ev, "type", &jtype))
		return bad_event(p, "has no \"type\"");
	if (!json_object_is_type(jtype, json_type_string))
		return bad_event(p, "has a \"type\" that is a %s, not a string", type_name(jtype));
	const char *tname = json_object_get_string(jtype);
	size_t tlen = (size_t)json_object_get_string_len(jtype);
	int type = -2;
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (tlen == strlen(event_types[i].name) && !memcmp(tname, event_types[i].name, tlen)) {
			type = event_types[i].type;
			break;
		}
	if (type == -2)
		return bad_event(p, "has unknown type \"%.64s\" (expected ADDED, MODIFIED, DELETED, BOOKMARK or ERROR)",
				 tname);
	if (!json_object_object_get_ex(ev, "object", &obj))
		return bad_event(p, "of type %s has no \"object\"", tname);
	if (!json_object_is_type(obj, json_type_object))
		return bad_event(p, "of type %s has an \"object\" that is a JSON %s, not an object", tname,
				 type_name(obj));
	if (type == -1)
		return status_error(p, obj);

	struct json_object *meta = NULL;
	if (json_object_object_get_ex(obj, "metadata", &meta) && json_object_is_type(meta, json_type_object) &&
	    p->drop_managed_fields)
		json_object_object_del(meta, "managedFields");
	struct json_object *annotations = NULL;
	const char *end_mark = NULL;
	if (type == WATCH_BOOKMARK && json_object_is_type(meta, json_type_object) &&
	    json_object_object_get_ex(meta, "annotations", &annotations))
		end_mark = get_string(annotations, WATCH_INITIAL_EVENTS_END);
	struct watch_event we = {
		.type = (enum watch_event_type)type,
		.object = obj,
		.resource_version = get_string(meta, "resourceVersion"),
		.index = p->n_seen,
		.initial_events_end = end_mark && !strcmp(end_mark, "true"),
	};
	/* Our own error for the callback, so that its message survives when the
	 * caller of feed passed no err. */
	struct cx_err cb_err = { 0 };
	int r = p->fn ? p->fn(p->ud, &we, &cb_err) : 0;
	if (r > 0)
		return fail(p, -ECANCELED, "watch event %zu: the event callback stopped the stream (returned %d)",
			    p->n_seen, r);
	if (r < 0) {
		if (!cb_err.msg[0])
			return fail(p, r, "watch event %zu: the event callback failed: %s", p->n_seen, strerror(-r));
		p->fail = cb_err;
		p->fail.code = r;
		return r;
	}
	if (we.resource_version) {
		char *rv = strdup(we.resource_version);
		if (!rv)
			return fail(p, -ENOMEM, "out of memory");
		free(p->rv);
		p->rv = rv;
	}
	p->n_delivered++;
	return 0;
}

/* The tokener's reasons are terse ("unexpected character"); this says where. */
static int malformed(struct watch_parser *p, unsigned long long at, const char *why)
{
	return fail(p, -EBADMSG, "malformed JSON in watch event %zu at byte %llu of the stream: %s", p->n_seen + 1, at,
		    why);
}

static int too_big(struct watch_parser *p)
{
	return fail(p, -EFBIG,
		    "watch event %zu (from byte %llu of the stream) is larger than the limit of %zu bytes "
		    "(max_event_bytes)",
		    p->n_seen + 1, p->event_start, p->max_event_bytes);
}

static void start_event(struct watch_parser *p)
{
	p->in_event = true;
	p->event_bytes = 0;
	p->event_start = p->offset;
}

/* Whether c can be part of a number or a literal (true, false, null): all
 * bytes but whitespace, the structural characters, quotes and NUL. Inside a
 * string the same bytes are string contents.
 *
 * json-c mishandles a number cut between two json_tokener_parse_ex calls: it
 * rebuilds the number's state from what it saved and gets it wrong, so
 * `{"a":4` then `-9}` parses as {"a":4} while `{"a":4-9}` is an error. So the
 * tokener is never handed input that ends in the middle of such a run: a run
 * at the end of a chunk is held back until the byte after it arrives. (The
 * run may be string contents, e.g. base64 without spaces; holding that back
 * too is harmless.) This makes the outcome independent of where the stream
 * was cut, which tests/fuzz/fuzz_watch.c checks. */
static bool is_run_byte(char c)
{
	switch (c) {
	case ' ':
	case '\t':
	case '\n':
	case '\r':
	case '{':
	case '}':
	case '[':
	case ']':
	case ',':
	case ':':
	case '"':
	case '\0':
		return false;
	default:
		return true;
	}
}

/* Gives the tokener the next n bytes of the current event; delivers the
 * event if they complete it. *used is how many it took: all n, or fewer when
 * the event ended before them. Returns 0 or the (sticky) error. */
static int tokenize(struct watch_parser *p, const char *data, size_t n, size_t *used)
{
	*used = 0;
	/* json-c takes a NUL byte for the end of its input. JSON has no place
	 * for a raw one (inside strings it is written \u0000), so it is an error
	 * wherever it appears; stop the tokener in front of it. */
	const char *nul = memchr(data, '\0', n);
	if (nul == data)
		return malformed(p, p->offset, "NUL byte");
	if (nul)
		n = (size_t)(nul - data);

	struct json_object *ev = json_tokener_parse_ex(p->tok, data, (int)n);
	enum json_tokener_error jerr = json_tokener_get_error(p->tok);
	size_t end = json_tokener_get_parse_end(p->tok);
	if (jerr != json_tokener_success && jerr != json_tokener_continue)
		return malformed(p, p->offset + end, json_tokener_error_desc(jerr));
	if (jerr == json_tokener_continue && end != n)
		return malformed(p, p->offset + end, "the JSON parser stopped without saying why");
	p->offset += end;
	p->event_bytes += end;
	*used = end;
	if (jerr == json_tokener_continue)
		return 0;

	/* ev is NULL when the event was the JSON literal null. */
	p->in_event = false;
	json_tokener_reset(p->tok);
	p->n_seen++;
	int r = deliver(p, ev);
	json_object_put(ev);
	return r;
}

/* Runs all of data through the tokener, skipping whitespace between events.
 * The caller makes sure data does not end in the middle of a run (its last
 * byte is no run byte, or the byte after it is none). Returns 0 or the error. */
static int consume(struct watch_parser *p, const char *data, size_t len)
{
	while (len > 0) {
		if (!p->in_event) {
			size_t ws = 0;
			while (ws < len && is_json_ws(data[ws]))
				ws++;
			data += ws;
			len -= ws;
			p->offset += ws;
			if (!len)
				break;
			start_event(p);
		}
		/* Never more than the limit allows, so an endless event is refused
		 * before it is buffered; and never cut inside a run. */
		size_t room = p->max_event_bytes - p->event_bytes;
		if (room == 0)
			return too_big(p);
		size_t n = len < room ? len : room;
		if (n < len && is_run_byte(data[n - 1]) && is_run_byte(data[n])) {
			while (n > 0 && is_run_byte(data[n - 1]))
				n--;
			if (n == 0)
				return too_big(p); /* the run alone goes past the limit */
		}
		size_t used;
		int r = tokenize(p, data, n, &used);
		if (r)
			return r;
		data += used;
		len -= used;
	}
	return 0;
}

/* Adds n bytes to the held-back run, refusing them when the event they are
 * part of would pass the limit. */
static int hold(struct watch_parser *p, const char *data, size_t n)
{
	if (!n)
		return 0;
	if (!p->in_event)
		start_event(p); /* a run is not whitespace: it starts an event */
	if (n > p->max_event_bytes - p->event_bytes - p->run_len)
		return too_big(p);
	if (p->run_len + n > p->run_cap) {
		size_t cap = p->run_cap ? p->run_cap : 64;
		while (cap < p->run_len + n)
			cap *= 2;
		char *grown = realloc(p->run, cap);
		if (!grown)
			return fail(p, -ENOMEM, "out of memory holding %zu bytes of watch event %zu", p->run_len + n,
				    p->n_seen + 1);
		p->run = grown;
		p->run_cap = cap;
	}
	memcpy(p->run + p->run_len, data, n);
	p->run_len += n;
	return 0;
}

int watch_parser_feed(struct watch_parser *p, const char *data, size_t len, struct cx_err *err)
{
	if (p->fail.code)
		return report(p, err);
	if (p->run_len) {
		/* The run held back last time goes on into this chunk, or ends. */
		size_t k = 0;
		while (k < len && is_run_byte(data[k]))
			k++;
		if (hold(p, data, k))
			return report(p, err);
		data += k;
		len -= k;
		if (!len)
			return 0;
		size_t n = p->run_len;
		p->run_len = 0;
		if (consume(p, p->run, n))
			return report(p, err);
		if (p->run_cap > RUN_KEEP_MAX) {
			free(p->run);
			p->run = NULL;
			p->run_cap = 0;
		}
	}
	size_t keep = len;
	while (keep > 0 && is_run_byte(data[keep - 1]))
		keep--;
	if (consume(p, data, keep) || hold(p, data + keep, len - keep))
		return report(p, err);
	return 0;
}

int watch_parser_finish(struct watch_parser *p, struct cx_err *err)
{
	if (p->fail.code)
		return report(p, err);
	if (p->in_event) {
		fail(p, -EPROTO,
		     "watch stream ended in the middle of event %zu (%zu bytes of it, from byte %llu of the stream); "
		     "the events before it were delivered",
		     p->n_seen + 1, p->event_bytes + p->run_len, p->event_start);
		return report(p, err);
	}
	return 0;
}

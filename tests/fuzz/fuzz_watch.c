/* libFuzzer target for common/watch: arbitrary bytes as a watch stream.
 *
 * Input layout (the seeds in tests/fuzz/corpus/watch/ follow it):
 *   byte 0      options: bit 0 drop_managed_fields; bit 1 max_depth 8 instead
 *               of the default; bits 2-7, when not 0, max_event_bytes = v * 32
 *   byte 1      the callback refuses the n-th event it sees (0 = never)
 *   bytes 2-9   chunk sizes, used in turn (0 = an empty feed, then 1 byte)
 *   the rest    the stream
 *
 * The stream is parsed twice, once in those chunks and once whole, and the
 * two runs must agree on everything the caller can observe: the events (type,
 * object, resourceVersion, index), the error code and message, the tracked
 * resourceVersion and the event count. Each run also checks the contract on
 * its own: the returned code is err.code, errors are sticky, and the codes
 * are those watch.h documents. ASan and UBSan catch the rest. */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "watch.h"

#define HEADER  10
#define N_SIZES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run observed. */
struct run {
	int refuse_at; /* 1-based callback call that fails, 0 = none */
	size_t calls;
	uint64_t hash; /* FNV-1a over every event seen */
	int code;      /* first error of feed or finish, 0 when none */
	struct cx_err err;
	char rv[256]; /* the final tracked resourceVersion, "(null)" when none */
	size_t events;
};

#define CHECK(cond, ...)                                                                                               \
	do {                                                                                                           \
		if (!(cond)) {                                                                                         \
			fprintf(stderr, "fuzz_watch: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);           \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fputc('\n', stderr);                                                                           \
			abort();                                                                                       \
		}                                                                                                      \
	} while (0)

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int on_event(void *ud, const struct watch_event *ev, struct cx_err *err)
{
	struct run *r = ud;
	r->calls++;
	CHECK(ev->object && json_object_is_type(ev->object, json_type_object), "the object is an object");
	CHECK(ev->type >= WATCH_ADDED && ev->type <= WATCH_BOOKMARK, "type %d", (int)ev->type);
	if (r->refuse_at && r->calls == (size_t)r->refuse_at)
		return cx_err_set(err, -ENOSPC, "refused event %zu", ev->index);
	size_t len;
	const char *json = json_object_to_json_string_length(ev->object, JSON_C_TO_STRING_PLAIN, &len);
	CHECK(json, "serializes");
	int type = (int)ev->type;
	r->hash = fnv(r->hash, &type, sizeof(type));
	r->hash = fnv(r->hash, &ev->index, sizeof(ev->index));
	r->hash = fnv(r->hash, json, len);
	if (ev->resource_version)
		r->hash = fnv(r->hash, ev->resource_version, strlen(ev->resource_version) + 1);
	return 0;
}

static bool documented(int code)
{
	switch (code) {
	case 0:
	case -ESTALE:
	case -EACCES:
	case -EPERM:
	case -ENOENT:
	case -EINVAL:
	case -EEXIST:
	case -EBUSY:
	case -EIO:
	case -EBADMSG:
	case -EFBIG:
	case -ENOMEM:
	case -EPROTO:
	case -ENOSPC: /* ours, from on_event */
		return true;
	default:
		return false;
	}
}

/* Parses stream fed in the given chunk sizes (NULL: all at once). */
static void parse(const struct watch_parser_options *opts, const uint8_t *sizes, const char *stream, size_t len,
		  struct run *r)
{
	r->hash = 1469598103934665603ull;
	struct watch_parser *p = watch_parser_new(opts, on_event, r);
	CHECK(p, "watch_parser_new");
	struct cx_err err = { 0 };
	size_t at = 0, turn = 0;
	int code = 0;
	while (at < len && !code) {
		size_t n = sizes ? sizes[turn++ % N_SIZES] : len;
		if (n == 0) {
			CHECK(watch_parser_feed(p, stream + at, 0, &err) == 0, "an empty feed: %s", err.msg);
			n = 1;
		}
		if (n > len - at)
			n = len - at;
		code = watch_parser_feed(p, stream + at, n, &err);
		at += n;
	}
	if (!code)
		code = watch_parser_finish(p, &err);
	CHECK(code == err.code, "returned %d, err.code %d", code, err.code);
	CHECK(documented(code), "undocumented code %d: %s", code, err.msg);
	CHECK(!code || err.msg[0], "an error has a message");
	if (code) {
		struct cx_err again = { 0 };
		CHECK(watch_parser_feed(p, "{}", 2, &again) == code, "feed after an error is sticky");
		CHECK(!strcmp(again.msg, err.msg), "the same message: %s / %s", again.msg, err.msg);
		CHECK(watch_parser_finish(p, &again) == code, "finish after an error is sticky");
	}
	r->code = code;
	r->err = err;
	const char *rv = watch_parser_resource_version(p);
	snprintf(r->rv, sizeof(r->rv), "%s", rv ? rv : "(null)");
	r->events = watch_parser_events(p);
	CHECK(r->events == r->calls - (code == -ENOSPC), "events %zu, calls %zu", r->events, r->calls);
	watch_parser_free(&p);
	CHECK(!p, "free NULLs");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	struct watch_parser_options opts = {
		.drop_managed_fields = data[0] & 1,
		.max_depth = data[0] & 2 ? 8 : 0,
		.max_event_bytes = (size_t)(data[0] >> 2) * 32,
	};
	int refuse_at = data[1];
	const uint8_t *sizes = data + 2;
	const char *stream = (const char *)data + HEADER;
	size_t len = size - HEADER;

	struct run chunked = { .refuse_at = refuse_at }, whole = { .refuse_at = refuse_at };
	parse(&opts, sizes, stream, len, &chunked);
	parse(&opts, NULL, stream, len, &whole);
	CHECK(chunked.calls == whole.calls, "callback calls: chunked %zu, whole %zu", chunked.calls, whole.calls);
	CHECK(chunked.hash == whole.hash, "the same events chunked and whole");
	CHECK(chunked.code == whole.code, "code: chunked %d (%s), whole %d (%s)", chunked.code, chunked.err.msg,
	      whole.code, whole.err.msg);
	CHECK(!strcmp(chunked.err.msg, whole.err.msg), "message: chunked \"%s\", whole \"%s\"", chunked.err.msg,
	      whole.err.msg);
	CHECK(chunked.err.http_status == whole.err.http_status, "http_status");
	CHECK(!strcmp(chunked.err.reason, whole.err.reason), "reason");
	CHECK(!strcmp(chunked.rv, whole.rv), "resourceVersion: chunked %s, whole %s", chunked.rv, whole.rv);
	CHECK(chunked.events == whole.events, "events");
	return 0;
}

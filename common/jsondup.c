#include "config.h"

#include "jsondup.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than jsondoc lets through is refused there already; this bounds
 * the recursion for a caller that did not check. */
#define MAX_DEPTH 512

struct scan {
	const char *p, *end;
	const char *const *skip;
	char *path;             /* the current path, NUL-terminated */
	size_t path_len;
	char *key;
	size_t key_len;
	int depth;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hex4(const char *p, const char *end)
{
	if (end - p < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v * 16 + (c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			      c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1000);
	}
	return v < 0 ? -1 : v;
}

/* A growing byte buffer, always NUL-terminated once it has room. */
struct buf {
	char *b;
	size_t n, cap;
};

static int put(struct buf *o, const char *bytes, size_t k)
{
	if (o->n + k + 1 > o->cap) {
		size_t ncap = o->cap ? o->cap : 64;
		while (ncap < o->n + k + 1)
			ncap *= 2;
		char *b = realloc(o->b, ncap);
		if (!b)
			return -ENOMEM;
		o->b = b;
		o->cap = ncap;
	}
	memcpy(o->b + o->n, bytes, k);
	o->n += k;
	o->b[o->n] = '\0';
	return 0;
}

/* Code point cp as UTF-8. */
static int put_utf8(struct buf *o, uint32_t cp)
{
	char u[4];
	if (cp < 0x80)
		return put(o, (char[]){(char)cp}, 1);
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return put(o, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return put(o, u, 3);
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return put(o, u, 4);
}

/* A string at s->p (its opening quote), unescaped into *out (owned, NUL-
 * terminated; *n bytes: it may hold NULs). */
static int string(struct scan *s, char **out, size_t *n)
{
	static const char escapes[] = "\"\\/bfnrt", meanings[] = "\"\\/\b\f\n\r\t";
	struct buf o = {0};
	*out = NULL;
	*n = 0;
	if (s->p >= s->end || *s->p != '"')
		return -EBADMSG;
	s->p++;
	int rc = put(&o, "", 0);
	while (!rc && s->p < s->end && *s->p != '"') {
		const char *run = s->p;
		while (s->p < s->end && *s->p != '"' && *s->p != '\\')
			s->p++;
		/* Raw bytes (UTF-8 included) are kept as they are. */
		if ((rc = put(&o, run, (size_t)(s->p - run))) || s->p >= s->end || *s->p == '"')
			break;
		s->p++; /* the backslash */
		char e = s->p < s->end ? *s->p++ : '\0';
		const char *simple = e ? strchr(escapes, e) : NULL;
		if (simple) {
			rc = put(&o, &meanings[simple - escapes], 1);
			continue;
		}
		int hi = e == 'u' ? hex4(s->p, s->end) : -1;
		if (hi < 0) {
			rc = -EBADMSG;
			break;
		}
		s->p += 4;
		uint32_t cp = (uint32_t)hi;
		if (hi >= 0xd800 && hi < 0xdc00 && s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
			int lo = hex4(s->p + 2, s->end);
			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
				s->p += 6;
			}
		}
		rc = put_utf8(&o, cp);
	}
	if (!rc && (s->p >= s->end || *s->p != '"'))
		rc = -EBADMSG;
	if (rc) {
		free(o.b);
		return rc;
	}
	s->p++;
	*out = o.b;
	*n = o.n;
	return 0;
}

static int value(struct scan *s, bool look);

/* Appends ".key" to the path; returns its length before, to cut it back. */
static size_t push_key(struct scan *s, const char *key)
{
	size_t used = strlen(s->path);
	snprintf(s->path + used, s->path_len - used, "%s%s", used ? "." : "", key);
	return used;
}

/* Appends "[i]" to the path, likewise. */
static size_t push_index(struct scan *s, size_t i)
{
	size_t used = strlen(s->path);
	snprintf(s->path + used, s->path_len - used, "[%zu]", i);
	return used;
}

static bool skipped(const struct scan *s, const char *key)
{
	for (size_t i = 0; s->depth == 1 && s->skip && s->skip[i]; i++)
		if (!strcmp(s->skip[i], key))
			return true;
	return false;
}

static int object(struct scan *s, bool look)
{
	char **keys = NULL;
	size_t *lens = NULL, n = 0;
	int rc = 0;
	s->p++; /* { */
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		char *k = NULL;
		size_t klen = 0;
		ws(s);
		if ((rc = string(s, &k, &klen)))
			break;
		if (look) {
			for (size_t i = 0; i < n; i++) {
				if (lens[i] == klen && !memcmp(keys[i], k, klen)) {
					snprintf(s->key, s->key_len, "%s", k);
					free(k);
					rc = 1;
					goto out;
				}
			}
			char **nk = realloc(keys, (n + 1) * sizeof(*keys));
			size_t *nl = nk ? realloc(lens, (n + 1) * sizeof(*lens)) : NULL;
			if (nk)
				keys = nk;
			if (nl)
				lens = nl;
			if (!nk || !nl) {
				free(k);
				rc = -ENOMEM;
				break;
			}
			keys[n] = k;
			lens[n++] = klen;
		}
		ws(s);
		if (s->p >= s->end || *s->p != ':') {
			if (!look)
				free(k);
			rc = -EBADMSG;
			break;
		}
		s->p++;
		size_t used = push_key(s, k);
		rc = value(s, look && !skipped(s, k));
		if (!look)
			free(k);
		if (rc)
			break; /* a duplicate below keeps its path */
		s->path[used] = '\0';
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			break;
		}
		rc = -EBADMSG;
		break;
	}
out:
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(lens);
	return rc;
}

static int array(struct scan *s, bool look)
{
	s->p++; /* [ */
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (size_t i = 0;; i++) {
		size_t used = push_index(s, i);
		int rc = value(s, look);
		if (rc)
			return rc;
		s->path[used] = '\0';
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return -EBADMSG;
	}
}

static int value(struct scan *s, bool look)
{
	ws(s);
	if (s->p >= s->end)
		return -EBADMSG;
	if (++s->depth > MAX_DEPTH)
		return -EBADMSG;
	int rc = 0;
	if (*s->p == '{') {
		rc = object(s, look);
	} else if (*s->p == '[') {
		rc = array(s, look);
	} else if (*s->p == '"') {
		char *str = NULL;
		size_t n = 0;
		rc = string(s, &str, &n);
		free(str);
	} else {
		/* A number, true, false or null: up to the next delimiter. */
		while (s->p < s->end && !strchr(",]} \t\r\n", *s->p))
			s->p++;
	}
	s->depth--;
	return rc;
}

int jsondup_find(const char *data, size_t len, const char *const *skip, char *path, size_t path_len, char *key,
		 size_t key_len)
{
	char pbuf[1], kbuf[1];
	struct scan s = {.p = data, .end = data + len, .skip = skip, .path = path_len ? path : pbuf,
			 .path_len = path_len ? path_len : sizeof(pbuf), .key = key_len ? key : kbuf,
			 .key_len = key_len ? key_len : sizeof(kbuf)};
	s.path[0] = '\0';
	s.key[0] = '\0';
	int rc = value(&s, true);
	if (rc == 1)
		return 1;
	s.path[0] = '\0';
	return rc;
}

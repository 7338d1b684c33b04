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
	char *path; /* the current path, NUL-terminated */
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
		v = v * 16 +
			(c >= '0' && c <= '9'           ? c - '0'
				 : c >= 'a' && c <= 'f' ? c - 'a' + 10
				 : c >= 'A' && c <= 'F' ? c - 'A' + 10
							: -1000);
	}
	return v < 0 ? -1 : v;
}

/* Code point cp as UTF-8 at o; returns the bytes written (1 to 4). */
static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at s->p (its opening quote), unescaped into *out (owned, NUL-
 * terminated; *n bytes: it may hold NULs). Unescaping never makes a string
 * longer (\uXXXX is 6 bytes for at most 3, a surrogate pair 12 for 4), so
 * the escaped length is room enough. */
static int string(struct scan *s, char **out, size_t *n)
{
	static const char escapes[] = "\"\\/bfnrt", meanings[] = "\"\\/\b\f\n\r\t";
	*out = NULL;
	*n = 0;
	if (s->p >= s->end || *s->p != '"')
		return -EBADMSG;
	const char *q = ++s->p;
	while (q < s->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= s->end)
		return -EBADMSG;
	char *o = malloc((size_t)(q - s->p) + 1);
	if (!o)
		return -ENOMEM;
	size_t w = 0;
	while (s->p < q) {
		if (*s->p != '\\') {
			o[w++] = *s->p++; /* raw bytes, UTF-8 included, are kept as they are */
			continue;
		}
		char e = s->p[1];
		s->p += 2;
		const char *simple = e ? strchr(escapes, e) : NULL;
		if (simple) {
			o[w++] = meanings[simple - escapes];
			continue;
		}
		int hi = e == 'u' ? hex4(s->p, q) : -1;
		if (hi < 0) {
			free(o);
			return -EBADMSG;
		}
		s->p += 4;
		uint32_t cp = (uint32_t)hi;
		if (hi >= 0xd800 && hi < 0xdc00 && q - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
			int lo = hex4(s->p + 2, q);
			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((uint32_t)(hi - 0xd800) << 10) + (uint32_t)(lo - 0xdc00);
				s->p += 6;
			}
		}
		w += put_utf8(o + w, cp);
	}
	o[w] = '\0';
	s->p = q + 1;
	*out = o;
	*n = w;
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
	struct scan s = { .p = data,
			  .end = data + len,
			  .skip = skip,
			  .path = path_len ? path : pbuf,
			  .path_len = path_len ? path_len : sizeof(pbuf),
			  .key = key_len ? key : kbuf,
			  .key_len = key_len ? key_len : sizeof(kbuf) };
	s.path[0] = '\0';
	s.key[0] = '\0';
	int rc = value(&s, true);
	if (rc == 1)
		return 1;
	s.path[0] = '\0';
	return rc;
}

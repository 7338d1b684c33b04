#include "config.h"

#include "curvekey.h"
#include "blob.h"
#include "err.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* Key files are a line or two; an authorized list a few thousand keys. */
#define KEYFILE_MAX  (1 << 20)
#define NAME_MAX_LEN 128

struct entry {
	uint8_t key[32];
	char name[NAME_MAX_LEN];
};

struct curvekey_set {
	struct entry *entries;
	size_t n, cap;
};

/* Called for each key line: key is the 40 checked characters (not
 * NUL-terminated), rest what follows it on the line, trimmed ("" for none). */
typedef int (*line_fn)(void *ud, const char *key, const char *rest, int line, struct cx_err *err);

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Walks the key lines of text (a file's bytes, path for errors). A key line
 * starts with 40 Z85 characters, then the end of the line or blanks. */
static int each_key_line(const char *path, char *text, line_fn fn, void *ud, struct cx_err *err)
{
	int line = 0;
	for (char *p = text, *next; p && *p; p = next) {
		line++;
		char *nl = strchr(p, '\n');
		next = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		while (is_blank(*p))
			p++;
		char *end = p + strlen(p);
		while (end > p && is_blank(end[-1]))
			*--end = '\0';
		if (!*p || *p == '#')
			continue;
		size_t klen = strcspn(p, " \t");
		uint8_t raw[32];
		char key[CURVEKEY_Z85_LEN + 1];
		if (klen != CURVEKEY_Z85_LEN)
			return cx_err_set(err, -EINVAL,
					  "%s: line %d: expected a %d-character Z85 key, got %zu characters", path,
					  line, CURVEKEY_Z85_LEN, klen);
		memcpy(key, p, klen);
		key[klen] = '\0';
		if (!zmq_z85_decode(raw, key))
			return cx_err_set(err, -EINVAL,
					  "%s: line %d: not a Z85 key (a character outside Z85's alphabet)", path,
					  line);
		char *rest = p + klen;
		while (is_blank(*rest))
			rest++;
		int r = fn(ud, key, rest, line, err);
		if (r)
			return r;
	}
	return 0;
}

struct one_key {
	const char *path;
	struct curvekey *out;
	int found;
};

static int take_one(void *ud, const char *key, const char *rest, int line, struct cx_err *err)
{
	struct one_key *o = ud;
	if (*rest)
		return cx_err_set(err, -EINVAL, "%s: line %d: a key file holds a key and nothing else on its line",
				  o->path, line);
	if (o->found++)
		return cx_err_set(err, -EINVAL, "%s: line %d: a second key; a key file holds one", o->path, line);
	memcpy(o->out->z85, key, CURVEKEY_Z85_LEN + 1);
	return 0;
}

static int load_one(const char *path, struct curvekey *out, struct cx_err *err)
{
	struct blob b = { 0 };
	int r = blob_read_file(path, KEYFILE_MAX, &b, err);
	if (r)
		return r;
	struct one_key o = { .path = path, .out = out };
	r = each_key_line(path, b.data ? (char *)b.data : "", take_one, &o, err);
	if (!r && !o.found)
		r = cx_err_set(err, -EINVAL, "%s: no key in the file (expected one %d-character Z85 key)", path,
			       CURVEKEY_Z85_LEN);
	blob_clear(&b);
	return r;
}

int curvekey_load_secret(const char *path, struct curvekey *secret, struct curvekey *public, struct cx_err *err)
{
	int r = load_one(path, secret, err);
	if (r)
		return r;
	if (public && zmq_curve_public(public->z85, secret->z85) != 0)
		return cx_err_set(err, -EINVAL, "%s: cannot derive the public key: %s", path, zmq_strerror(errno));
	struct stat st;
	if (!stat(path, &st) && (st.st_mode & S_IROTH))
		log_kv(LOG_LEVEL_WARNING, 0,
		       "a secret key file is readable by every user; make it 0600 (or 0440 with fsGroup)", "file", path,
		       NULL);
	return 0;
}

int curvekey_load_public(const char *path, struct curvekey *public, struct cx_err *err)
{
	return load_one(path, public, err);
}

/* ---------------------------------------------------------------- authorized keys */

struct set_load {
	struct curvekey_set *set;
	const char *default_name;
};

static int add_entry(void *ud, const char *key, const char *rest, int line, struct cx_err *err)
{
	(void)line;
	struct set_load *l = ud;
	struct curvekey_set *s = l->set;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct entry *e = realloc(s->entries, cap * sizeof(*e));
		if (!e)
			return cx_err_set(err, -ENOMEM, "out of memory");
		s->entries = e;
		s->cap = cap;
	}
	struct entry *e = &s->entries[s->n++];
	zmq_z85_decode(e->key, key);
	snprintf(e->name, sizeof(e->name), "%s", *rest ? rest : l->default_name);
	return 0;
}

static int load_list_file(struct curvekey_set *s, const char *path, const char *name, struct cx_err *err)
{
	struct blob b = { 0 };
	int r = blob_read_file(path, KEYFILE_MAX, &b, err);
	if (r)
		return r;
	struct set_load l = { .set = s, .default_name = name };
	r = each_key_line(path, b.data ? (char *)b.data : "", add_entry, &l, err);
	blob_clear(&b);
	return r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static int load_list_dir(struct curvekey_set *s, const char *path, struct cx_err *err)
{
	struct dirent **names = NULL;
	int n = scandir(path, &names, not_hidden, by_name);
	if (n < 0)
		return cx_err_set(err, -errno, "%s: %s", path, strerror(errno));
	int r = 0;
	for (int i = 0; i < n; i++) {
		char file[4096];
		struct stat st;
		snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
		/* stat, not lstat: a Secret volume's items are links. */
		if (!r && !stat(file, &st) && S_ISREG(st.st_mode))
			r = load_list_file(s, file, names[i]->d_name, err);
		free(names[i]);
	}
	free(names);
	return r;
}

int curvekey_set_load(const char *path, struct curvekey_set **out, struct cx_err *err)
{
	*out = NULL;
	struct curvekey_set *s = calloc(1, sizeof(*s));
	if (!s)
		return cx_err_set(err, -ENOMEM, "out of memory");
	struct stat st;
	const char *base = strrchr(path, '/');
	int r;
	if (stat(path, &st))
		r = cx_err_set(err, -errno, "%s: %s", path, strerror(errno));
	else if (S_ISDIR(st.st_mode))
		r = load_list_dir(s, path, err);
	else
		r = load_list_file(s, path, base ? base + 1 : path, err);
	if (!r && !s->n)
		r = cx_err_set(err, -EINVAL,
			       "%s: no key in the authorized keys (expected %d-character Z85 public keys)", path,
			       CURVEKEY_Z85_LEN);
	if (r) {
		curvekey_set_free(&s);
		return r;
	}
	*out = s;
	return 0;
}

void curvekey_set_free(struct curvekey_set **s)
{
	if (!s || !*s)
		return;
	free((*s)->entries);
	free(*s);
	*s = NULL;
}

size_t curvekey_set_size(const struct curvekey_set *s)
{
	return s ? s->n : 0;
}

const char *curvekey_set_find(const struct curvekey_set *s, const uint8_t key[32])
{
	for (size_t i = 0; s && i < s->n; i++)
		if (!memcmp(s->entries[i].key, key, 32))
			return s->entries[i].name;
	return NULL;
}

/* ---------------------------------------------------------------- generating */

static int write_new(const char *path, mode_t mode, const char *what, const char *key, struct cx_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return cx_err_set(err, -errno, "%s: %s", path,
				  errno == EEXIST ? "exists already; keys are never overwritten" : strerror(errno));
	char text[256];
	int len = snprintf(text, sizeof(text), "# coxswain job channel: %s (CURVE, Z85)\n%s\n", what, key);
	/* O_CREAT's mode goes through the umask; the key's mode must not. */
	int r = 0;
	errno = 0;
	if (fchmod(fd, mode) || write(fd, text, (size_t)len) != len || fsync(fd))
		r = errno ? -errno : -EIO;
	close(fd);
	explicit_bzero(text, sizeof(text));
	if (r) {
		unlink(path);
		return cx_err_set(err, r, "%s: cannot write: %s", path, strerror(-r));
	}
	return 0;
}

int curvekey_generate(const char *prefix, struct cx_err *err)
{
	char pub[CURVEKEY_Z85_LEN + 1], sec[CURVEKEY_Z85_LEN + 1];
	char pub_path[4096], sec_path[4096];
	if (snprintf(pub_path, sizeof(pub_path), "%s.pub", prefix) >= (int)sizeof(pub_path) ||
	    snprintf(sec_path, sizeof(sec_path), "%s.key", prefix) >= (int)sizeof(sec_path))
		return cx_err_set(err, -ENAMETOOLONG, "%s: path too long", prefix);
	if (zmq_curve_keypair(pub, sec) != 0)
		return cx_err_set(err, -errno, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
	/* Both names first, so that an existing one leaves nothing half made. */
	if (!access(pub_path, F_OK) || !access(sec_path, F_OK))
		return cx_err_set(err, -EEXIST, "%s: exists already; keys are never overwritten",
				  !access(pub_path, F_OK) ? pub_path : sec_path);
	int r = write_new(sec_path, 0600, "secret key, keep it private", sec, err);
	if (!r && (r = write_new(pub_path, 0644, "public key", pub, err)))
		unlink(sec_path);
	explicit_bzero(sec, sizeof(sec));
	return r;
}

/* curvekey: the CURVE key files of the job channel (README "Workers in
 * other pods"), read, checked and generated; the one owner of their format.
 *
 * Keys are ZeroMQ's Z85 text: 40 characters for 32 bytes. A key file holds
 * one key on a line of its own; blank lines and lines starting with '#'
 * are ignored, so a generated file can say what it is:
 *
 *   watcher.key   the watcher's secret key (mode 0600)
 *   watcher.pub   its public key, which workers are given
 *   worker.key    a worker set's secret key
 *   worker.pub    its public key, which the watcher lists as authorized
 *
 * The authorized keys, which the watcher accepts, are a file or a directory.
 * A file has one entry per line: a public key, then optionally blanks and a
 * name for the logs (default: the file's name). A directory is read as every
 * regular file in it whose name does not start with '.', in name order, so
 * a Kubernetes Secret mounted as a volume (one key per item) is a directory
 * of authorized keys as it is, and its "..data" link is skipped.
 *
 * A secret key is never printed; errors name the file and the line. */
#ifndef COXSWAIN_CURVEKEY_H
#define COXSWAIN_CURVEKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cx_err;

#define CURVEKEY_Z85_LEN 40

/* A key as text, NUL-terminated. */
struct curvekey {
	char z85[CURVEKEY_Z85_LEN + 1];
};

/* Reads the secret key at path into *secret and derives its public key into
 * *public (may be NULL). -ENOENT/-EACCES/... when the file cannot be read,
 * -EINVAL when it holds no valid key or more than one. A file that others
 * may read is accepted (a Secret volume's files are 0644 unless its
 * defaultMode says otherwise) but logged as a warning, once per load. */
int curvekey_load_secret(const char *path, struct curvekey *secret, struct curvekey *public, struct cx_err *err);

/* Reads the public key at path into *public. Errors as above. */
int curvekey_load_public(const char *path, struct curvekey *public, struct cx_err *err);

/* The authorized public keys. */
struct curvekey_set;

/* Reads the authorized keys at path (a file or a directory, above) into
 * *out (owned: curvekey_set_free). A set with no key at all is -EINVAL: a
 * watcher that accepts nobody is a mistake, not a policy. */
int curvekey_set_load(const char *path, struct curvekey_set **out, struct cx_err *err);

void curvekey_set_free(struct curvekey_set **s);

size_t curvekey_set_size(const struct curvekey_set *s);

/* The name of the entry whose key is the 32 bytes at key (as the ZAP
 * request carries it), borrowed from s; NULL when the key is not in s. */
const char *curvekey_set_find(const struct curvekey_set *s, const uint8_t key[32]);

/* Makes a new key pair and writes it as prefix.key (mode 0600) and
 * prefix.pub (mode 0644). Neither file may exist already (-EEXIST): keys
 * are never overwritten. On failure neither file is left behind. */
int curvekey_generate(const char *prefix, struct cx_err *err);

#endif

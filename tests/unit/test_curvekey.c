/* curvekey: key files written here in a temporary directory. */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "curvekey.h"
#include "err.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/cx-curvekey-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(curvekey, .init = setup, .fini = teardown);

static const char *path_of(const char *name)
{
	static char p[4][256];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path_of(name), "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(curvekey, generated_pair_loads_and_matches)
{
	struct cx_err err = { 0 };
	cr_assert_eq(curvekey_generate(path_of("w"), &err), 0, "%s", err.msg);
	struct stat st;
	cr_assert_eq(stat(path_of("w.key"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "the secret key is the owner's only: %o", st.st_mode & 0777);
	cr_assert_eq(stat(path_of("w.pub"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644);

	struct curvekey secret, derived, public;
	cr_assert_eq(curvekey_load_secret(path_of("w.key"), &secret, &derived, &err), 0, "%s", err.msg);
	cr_assert_eq(curvekey_load_public(path_of("w.pub"), &public, &err), 0, "%s", err.msg);
	cr_assert_str_eq(derived.z85, public.z85);
	cr_assert_str_neq(secret.z85, public.z85);

	/* The public key file is what the watcher lists. */
	struct curvekey_set *set = NULL;
	cr_assert_eq(curvekey_set_load(path_of("w.pub"), &set, &err), 0, "%s", err.msg);
	uint8_t raw[32];
	cr_assert_not_null(zmq_z85_decode(raw, public.z85));
	cr_assert_str_eq(curvekey_set_find(set, raw), "w.pub");
	curvekey_set_free(&set);
	cr_assert_null(set);
}

Test(curvekey, never_overwrites_a_key)
{
	struct cx_err err = { 0 };
	write_file("w.pub", "keep me\n");
	cr_assert_eq(curvekey_generate(path_of("w"), &err), -EEXIST);
	cr_assert(strstr(err.msg, "w.pub"), "%s", err.msg);
	cr_assert_eq(access(path_of("w.key"), F_OK), -1, "no half pair is left behind");

	cr_assert_eq(curvekey_generate(path_of("v"), &err), 0, "%s", err.msg);
	struct curvekey before, after;
	cr_assert_eq(curvekey_load_public(path_of("v.pub"), &before, &err), 0);
	cr_assert_eq(curvekey_generate(path_of("v"), &err), -EEXIST);
	cr_assert_eq(curvekey_load_public(path_of("v.pub"), &after, &err), 0);
	cr_assert_str_eq(before.z85, after.z85);
}

Test(curvekey, errors_name_the_file_and_line)
{
	struct cx_err err = { 0 };
	struct curvekey k;
	cr_assert_eq(curvekey_load_public(path_of("missing.pub"), &k, &err), -ENOENT);
	cr_assert(strstr(err.msg, "missing.pub"), "%s", err.msg);

	write_file("short.pub", "# a comment\n\nabc\n");
	cr_assert_eq(curvekey_load_public(path_of("short.pub"), &k, &err), -EINVAL);
	cr_assert(strstr(err.msg, "short.pub") && strstr(err.msg, "line 3"), "%s", err.msg);

	write_file("empty.key", "# nothing\n");
	cr_assert_eq(curvekey_load_secret(path_of("empty.key"), &k, NULL, &err), -EINVAL);
	cr_assert(strstr(err.msg, "empty.key") && strstr(err.msg, "no key"), "%s", err.msg);

	char pub[41], sec[41];
	cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
	char two[128];
	snprintf(two, sizeof(two), "%s\n%s\n", sec, sec);
	write_file("two.key", two);
	cr_assert_eq(curvekey_load_secret(path_of("two.key"), &k, NULL, &err), -EINVAL);
	cr_assert(strstr(err.msg, "line 2"), "%s", err.msg);
	cr_assert_null(strstr(err.msg, sec), "a secret key is never printed: %s", err.msg);

	/* 40 characters, but not Z85 ('"' is outside its alphabet). */
	write_file("bad.pub", "\"0123456789012345678901234567890123456789\n");
	cr_assert_eq(curvekey_load_public(path_of("bad.pub"), &k, &err), -EINVAL);
	cr_assert(strstr(err.msg, "Z85"), "%s", err.msg);
}

Test(curvekey, trims_blanks_and_crlf)
{
	char pub[41], sec[41];
	cr_assert_eq(zmq_curve_keypair(pub, sec), 0);
	char text[128];
	snprintf(text, sizeof(text), "  %s \r\n", pub);
	write_file("k.pub", text);
	struct curvekey k;
	struct cx_err err = { 0 };
	cr_assert_eq(curvekey_load_public(path_of("k.pub"), &k, &err), 0, "%s", err.msg);
	cr_assert_str_eq(k.z85, pub);
}

Test(curvekey, authorized_file_names_its_entries)
{
	char a[41], b[41], c[41], sec[41];
	cr_assert_eq(zmq_curve_keypair(a, sec), 0);
	cr_assert_eq(zmq_curve_keypair(b, sec), 0);
	cr_assert_eq(zmq_curve_keypair(c, sec), 0);
	char text[256];
	snprintf(text, sizeof(text), "# workers\n%s pool-a\n%s\tpool-b extra words\n\n", a, b);
	write_file("authorized", text);
	struct curvekey_set *set = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(curvekey_set_load(path_of("authorized"), &set, &err), 0, "%s", err.msg);
	cr_assert_eq(curvekey_set_size(set), 2);
	uint8_t raw[32];
	zmq_z85_decode(raw, a);
	cr_assert_str_eq(curvekey_set_find(set, raw), "pool-a");
	zmq_z85_decode(raw, b);
	cr_assert_str_eq(curvekey_set_find(set, raw), "pool-b extra words");
	zmq_z85_decode(raw, c);
	cr_assert_null(curvekey_set_find(set, raw));
	curvekey_set_free(&set);
}

Test(curvekey, authorized_directory_as_a_secret_volume_mounts_it)
{
	char a[41], b[41], sec[41];
	cr_assert_eq(zmq_curve_keypair(a, sec), 0);
	cr_assert_eq(zmq_curve_keypair(b, sec), 0);
	/* What the kubelet makes: ..data -> a timestamped directory, and one
	 * link per item through ..data. */
	cr_assert_eq(mkdir(path_of("keys"), 0755), 0);
	cr_assert_eq(mkdir(path_of("keys/..2026_12_04"), 0755), 0);
	char text[64];
	snprintf(text, sizeof(text), "%s\n", a);
	write_file("keys/..2026_12_04/pool-a", text);
	snprintf(text, sizeof(text), "%s\n", b);
	write_file("keys/..2026_12_04/pool-b", text);
	cr_assert_eq(symlink("..2026_12_04", path_of("keys/..data")), 0);
	cr_assert_eq(symlink("..data/pool-a", path_of("keys/pool-a")), 0);
	cr_assert_eq(symlink("..data/pool-b", path_of("keys/pool-b")), 0);

	struct curvekey_set *set = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(curvekey_set_load(path_of("keys"), &set, &err), 0, "%s", err.msg);
	cr_assert_eq(curvekey_set_size(set), 2, "each key once, none through ..data");
	uint8_t raw[32];
	zmq_z85_decode(raw, b);
	cr_assert_str_eq(curvekey_set_find(set, raw), "pool-b");
	curvekey_set_free(&set);
}

Test(curvekey, an_empty_or_broken_authorized_list_is_refused)
{
	struct curvekey_set *set = NULL;
	struct cx_err err = { 0 };
	cr_assert_eq(mkdir(path_of("none"), 0755), 0);
	cr_assert_eq(curvekey_set_load(path_of("none"), &set, &err), -EINVAL);
	cr_assert(strstr(err.msg, "none") && strstr(err.msg, "no key"), "%s", err.msg);
	cr_assert_null(set);

	cr_assert_eq(mkdir(path_of("bad"), 0755), 0);
	write_file("bad/x", "# fine\nnot-a-key\n");
	cr_assert_eq(curvekey_set_load(path_of("bad"), &set, &err), -EINVAL);
	cr_assert(strstr(err.msg, "bad/x") && strstr(err.msg, "line 2"), "%s", err.msg);
	cr_assert_null(set);

	cr_assert_eq(curvekey_set_load(path_of("nothing-here"), &set, &err), -ENOENT);
	cr_assert(strstr(err.msg, "nothing-here"), "%s", err.msg);
}
